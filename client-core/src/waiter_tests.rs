//! `wait_for_next_*` against the scripted transport: a wait is for an event dispatched after it
//! began, even when it begins inside a callback of the event being dispatched.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::fake_transport::{FakeTransport, Opening, connect_frame, fed_stream};
use crate::{Error, ServerEventCommand, ServerEventMessage, ServerEventsClient};

const WAIT: Duration = Duration::from_secs(5);

type Pending<T> = Arc<Mutex<Option<BoxFuture<'static, Result<T, Error>>>>>;

#[tokio::test(start_paused = true)]
async fn a_wait_begun_by_a_handler_gets_the_next_message_not_the_current_one() {
    let fake = FakeTransport::new();
    let (feed, stream) = fed_stream();
    fake.push(Opening::Stream(stream));
    let pending: Pending<ServerEventMessage> = Arc::default();
    let slot = pending.clone();
    let client = ServerEventsClient::builder("http://h")
        .channels(["home"])
        .handler("first", move |client, _| {
            *slot.lock().unwrap() = Some(client.wait_for_next_message(WAIT).boxed());
        })
        .build_with(fake.clone())
        .unwrap();
    let before = client.wait_for_next_message(WAIT);
    feed.send(&connect_frame("s1", 600_000, 600_000));
    client.connect().await.unwrap();
    feed.send("data: cmd.first {}\n\n");
    assert_eq!(before.await.unwrap().selector(), Some("cmd.first"));
    let begun_in_handler = pending.lock().unwrap().take().expect("the handler ran");
    feed.send("data: cmd.second {}\n\n");
    let next = begun_in_handler.await.unwrap();
    assert_eq!(next.selector(), Some("cmd.second"));
    client.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_wait_begun_by_on_join_gets_the_next_command_not_the_join() {
    let fake = FakeTransport::new();
    let (feed, stream) = fed_stream();
    fake.push(Opening::Stream(stream));
    let pending: Pending<ServerEventCommand> = Arc::default();
    let slot = pending.clone();
    let this: Arc<OnceLock<ServerEventsClient>> = Arc::default();
    let handle = this.clone();
    let client = ServerEventsClient::builder("http://h")
        .channels(["home"])
        .on_join(move |_| {
            let client = handle.get().expect("built before connecting");
            *slot.lock().unwrap() = Some(client.wait_for_next_command(WAIT).boxed());
        })
        .build_with(fake.clone())
        .unwrap();
    let _ = this.set(client.clone());
    feed.send(&connect_frame("s1", 600_000, 600_000));
    client.connect().await.unwrap();
    let joined = client.wait_for_next_command(WAIT);
    feed.send("data: home@cmd.onJoin {\"userId\":\"-2\",\"displayName\":\"user2\",\"channels\":\"home\"}\n\n");
    joined.await.unwrap();
    let begun_in_on_join = pending.lock().unwrap().take().expect("on_join ran");
    feed.send("data: home@cmd.onLeave {\"userId\":\"-2\",\"displayName\":\"user2\",\"channels\":\"home\"}\n\n");
    let next = begun_in_on_join.await.unwrap();
    assert_eq!(next.kind, crate::CommandKind::Leave);
    client.stop().await;
}
