//! `client.messages()`: every application message from now on, as an async iterator
//! (`for await (const message of client.messages()) { ... }`). Messages the loop has not taken
//! yet are buffered up to the `messageBuffer` option (default 1024); past it the oldest are
//! dropped and a `messagesDropped` error goes to `onException` once per overflow. `break` (or
//! `return()`) ends the iteration and releases the buffer.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_channel::oneshot;
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use futures_util::lock::Mutex;
use futures_util::stream::LocalBoxStream;
use js_sys::{Object, Promise};
use servicestack_events::ServerEventMessage;
use wasm_bindgen::prelude::*;

use crate::{convert, js};

struct Inner {
    stream: Mutex<Option<LocalBoxStream<'static, ServerEventMessage>>>,
    closed: Cell<bool>,
    /// Wakes pending `next()` calls when the iteration is ended.
    closers: RefCell<Vec<oneshot::Sender<()>>>,
}

/// An async iterator over a client's application messages (see `ServerEventsClient.messages()`).
#[wasm_bindgen]
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

/// `{ value, done }`.
fn iterator_result(message: Option<&ServerEventMessage>) -> JsValue {
    let result = Object::new();
    match message {
        Some(message) => {
            js::put(&result, "value", convert::message(message));
            js::put(&result, "done", false);
        }
        None => {
            js::put(&result, "value", JsValue::UNDEFINED);
            js::put(&result, "done", true);
        }
    }
    result.into()
}

#[wasm_bindgen]
impl MessageStream {
    /// The next message, as an async iterator's `next()`: `{ value, done: false }`, or
    /// `{ done: true }` once the iteration was ended or the client disposed.
    #[wasm_bindgen(
        unchecked_return_type = "Promise<IteratorResult<ServerEventMessage, undefined>>"
    )]
    pub fn next(&self) -> Promise {
        if self.inner.closed.get() {
            return Promise::resolve(&iterator_result(None));
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
                return Ok(iterator_result(None));
            }
            let Some(messages) = stream.as_mut() else {
                return Ok(iterator_result(None));
            };
            match select(messages.next(), closed).await {
                Either::Left((Some(message), _)) => Ok(iterator_result(Some(&message))),
                Either::Left((None, _)) => {
                    *stream = None;
                    Ok(iterator_result(None))
                }
                Either::Right(_) => Ok(iterator_result(None)),
            }
        })
    }

    /// Ends the iteration (`for await` calls it on `break`): pending and later `next()` calls
    /// resolve `{ done: true }` and buffered messages are released.
    #[wasm_bindgen(
        js_name = "return",
        unchecked_return_type = "Promise<IteratorResult<ServerEventMessage, undefined>>"
    )]
    pub fn finish(&self) -> Promise {
        self.inner.closed.set(true);
        for closer in self.inner.closers.borrow_mut().drain(..) {
            let _ = closer.send(());
        }
        let inner = self.inner.clone();
        js::promise(async move {
            inner.stream.lock().await.take();
            Ok(iterator_result(None))
        })
    }
}
