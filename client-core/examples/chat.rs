//! Three clients chat on a channel while you watch the joins, messages, heartbeats and leaves;
//! Alice also sends Bob a private message, which Carol never sees.
//!
//! ```text
//! cargo run --example chat                          # starts the embedded reference server
//! cargo run --example chat -- http://localhost:5000  # or talks to a ServiceStack host
//! ```
//!
//! Against a real host the chat is posted through the host's `PostChatToChannel` service
//! (ServiceStack's Chat demo and test hosts have it); a private message is the same service
//! with `toUserId`, which also sends the sender a copy.

use std::error::Error;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use servicestack_events::{ServerEventMessage, ServerEventsClient};
use servicestack_events_server::{ServerConfig, TestServer};

const CHANNEL: &str = "home";
const WAIT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatMessage {
    from_name: String,
    message: String,
    #[serde(default)]
    private: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PostChatToChannel<'a> {
    from: &'a str,
    channel: &'a str,
    message: &'a str,
    selector: &'a str,
    /// Only this user gets the message (and the sender a copy).
    #[serde(skip_serializing_if = "Option::is_none")]
    to_user_id: Option<&'a str>,
}

fn chatter(
    base_url: &str,
    name: &'static str,
) -> Result<ServerEventsClient, servicestack_events::Error> {
    ServerEventsClient::builder(base_url)
        .channels([CHANNEL])
        .on_connect(move |info| {
            println!(
                "[{name}] connected as {} (subscription {})",
                info.display_name, info.id
            )
        })
        .on_join(move |join| {
            println!(
                "[{name}] {} joined #{}",
                join.display_name,
                join.channel().unwrap_or("?")
            )
        })
        .on_leave(move |leave| {
            println!(
                "[{name}] {} left #{}",
                leave.display_name,
                leave.channel().unwrap_or("?")
            )
        })
        .on_heartbeat(move |_| println!("[{name}] heartbeat"))
        .handler("chat", move |_client, msg: &ServerEventMessage| {
            match msg.parse_json::<ChatMessage>() {
                // A private message is sent to the user, outside any channel.
                Ok(chat) if chat.private => {
                    println!("[{name}] (private) {}: {}", chat.from_name, chat.message)
                }
                Ok(chat) => println!(
                    "[{name}] #{} {}: {}",
                    msg.channel().unwrap_or("?"),
                    chat.from_name,
                    chat.message
                ),
                Err(error) => println!("[{name}] unreadable chat: {error}"),
            }
        })
        .on_exception(move |error| println!("[{name}] error: {error}"))
        .build()
}

/// Posts `message` to the channel, or only to the user `to_user_id`.
async fn say(
    client: &ServerEventsClient,
    message: &str,
    to_user_id: Option<&str>,
) -> Result<(), servicestack_events::Error> {
    let from = client.subscription_id().unwrap_or_default();
    let _echo: serde_json::Value = client
        .service_client()
        .post(
            &format!("/channels/{CHANNEL}/chat"),
            &PostChatToChannel {
                from: &from,
                channel: CHANNEL,
                message,
                selector: "cmd.chat",
                to_user_id,
            },
        )
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (server, base_url) = match std::env::args().nth(1) {
        Some(url) => (None, url),
        None => {
            let config = ServerConfig {
                heartbeat_interval: Duration::from_millis(500),
                ..ServerConfig::default()
            };
            let server = TestServer::start(config).await?;
            let url = server.base_url().to_owned();
            println!("reference server listening on {url}");
            (Some(server), url)
        }
    };

    let alice = chatter(&base_url, "alice")?;
    let bob = chatter(&base_url, "bob")?;
    let carol = chatter(&base_url, "carol")?;
    // Waiters are registered when created, so nothing can slip past between the calls.
    let alice_joined = alice.wait_for_next_command(WAIT);
    alice.connect().await?;
    alice_joined.await?;
    for other in [&bob, &carol] {
        let joined = alice.wait_for_next_command(WAIT);
        other.connect().await?;
        joined.await?;
    }

    let (to_bob, to_carol) = (
        bob.wait_for_next_message(WAIT),
        carol.wait_for_next_message(WAIT),
    );
    say(&alice, "Hi Bob and Carol, are you there?", None).await?;
    tokio::try_join!(to_bob, to_carol)?;
    let delivered = alice.wait_for_next_message(WAIT);
    say(&bob, "Hello Alice! Loud and clear.", None).await?;
    delivered.await?;

    // A private message: Bob gets it and Alice her copy; Carol sees only the message after it.
    let bob_user = bob.connection_info().map(|info| info.user_id.clone());
    let (to_bob, copy) = (
        bob.wait_for_next_message(WAIT),
        alice.wait_for_next_message(WAIT),
    );
    say(
        &alice,
        "Psst, Bob: this one is just for you.",
        bob_user.as_deref(),
    )
    .await?;
    tokio::try_join!(to_bob, copy)?;
    let next_for_carol = carol.wait_for_next_message(WAIT);
    say(&alice, "(Carol, that was between Bob and me.)", None).await?;
    let seen = next_for_carol.await?;
    let carol_saw_private = seen
        .parse_json::<ChatMessage>()
        .is_ok_and(|chat| chat.private);
    println!("[carol] the private message reached carol: {carol_saw_private}");

    // Heartbeats keep the subscriptions alive; show one round for each.
    tokio::try_join!(
        alice.wait_for_next_heartbeat(WAIT),
        bob.wait_for_next_heartbeat(WAIT),
        carol.wait_for_next_heartbeat(WAIT)
    )?;

    for leaving in [&bob, &carol] {
        let left = alice.wait_for_next_command(WAIT);
        leaving.stop().await;
        left.await?;
    }
    alice.stop().await;
    println!("done: all three clients unregistered");
    if let Some(server) = server {
        server.shutdown().await;
    }
    Ok(())
}
