//! The stream behind `client.messages()`: every application message from now on, as the fields
//! of `crate::fields::message` (the package's JavaScript makes the async iterator). Messages not
//! taken yet are buffered up to the `messageBuffer` option (default 1024); past it the oldest are
//! dropped and a `messagesDropped` error goes to `onException` once per overflow. `close()` ends
//! it and releases the buffer.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_channel::oneshot;
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use futures_util::lock::Mutex;
use futures_util::stream::LocalBoxStream;
use js_sys::Promise;
use servicestack_events::ServerEventMessage;
use wasm_bindgen::prelude::*;

use crate::{fields, js};

struct Inner {
    stream: Mutex<Option<LocalBoxStream<'static, ServerEventMessage>>>,
    closed: Cell<bool>,
    /// Wakes pending `next()` calls when the iteration is ended.
    closers: RefCell<Vec<oneshot::Sender<()>>>,
}

/// A client's application messages, one `next()` at a time.
#[wasm_bindgen(skip_typescript)]
pub struct MessageStream {
    inner: Rc<Inner>,
}

impl MessageStream {
    pub(crate) fn new(stream: LocalBoxStream<'static, ServerEventMessage>) -> Self {
        MessageStream {
            inner: Rc::new(Inner {
                stream: Mutex::new(Some(stream)),
                closed: Cell::new(false),
                closers: RefCell::default(),
            }),
        }
    }
}

/// The message's fields, or `undefined` at the end.
fn item(message: Option<&ServerEventMessage>) -> JsValue {
    message.map_or(JsValue::UNDEFINED, |message| {
        fields::message(message).into()
    })
}

#[wasm_bindgen]
impl MessageStream {
    /// The next message's fields, or `undefined` once the stream was closed or the client
    /// disposed.
    pub fn next(&self) -> Promise {
        if self.inner.closed.get() {
            return Promise::resolve(&item(None));
        }
        let (closer, closed) = oneshot::channel();
        {
            let mut closers = self.inner.closers.borrow_mut();
            closers.retain(|closer| !closer.is_canceled());
            closers.push(closer);
        }
        let inner = self.inner.clone();
        js::promise(async move {
            let mut stream = inner.stream.lock().await;
            if inner.closed.get() {
                return Ok(item(None));
            }
            let Some(messages) = stream.as_mut() else {
                return Ok(item(None));
            };
            match select(messages.next(), closed).await {
                Either::Left((Some(message), _)) => Ok(item(Some(&message))),
                Either::Left((None, _)) => {
                    *stream = None;
                    Ok(item(None))
                }
                Either::Right(_) => Ok(item(None)),
            }
        })
    }

    /// Ends the stream: pending and later `next()` calls resolve `undefined` and buffered
    /// messages are released.
    pub fn close(&self) -> Promise {
        self.inner.closed.set(true);
        for closer in self.inner.closers.borrow_mut().drain(..) {
            let _ = closer.send(());
        }
        let inner = self.inner.clone();
        js::promise(async move {
            inner.stream.lock().await.take();
            Ok(item(None))
        })
    }
}
