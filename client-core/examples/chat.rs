//! Two clients chat on a channel while you watch the joins, messages, heartbeats and leaves.
//!
//! ```text
//! cargo run --example chat                          # starts the embedded reference server
//! cargo run --example chat -- http://localhost:5000  # or talks to a ServiceStack host
//! ```
//!
//! Against a real host the chat is posted through the host's `PostChatToChannel` service
//! (ServiceStack's Chat demo and test hosts have it).

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
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PostChatToChannel<'a> {
    from: &'a str,
    channel: &'a str,
    message: &'a str,
    selector: &'a str,
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

async fn say(client: &ServerEventsClient, message: &str) -> Result<(), servicestack_events::Error> {
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
    // Waiters are registered when created, so nothing can slip past between the calls.
    let alice_joined = alice.wait_for_next_command(WAIT);
    alice.connect().await?;
    alice_joined.await?;
    let bob_joined = alice.wait_for_next_command(WAIT);
    bob.connect().await?;
    bob_joined.await?;

    let delivered = bob.wait_for_next_message(WAIT);
    say(&alice, "Hi Bob, are you there?").await?;
    delivered.await?;
    let delivered = alice.wait_for_next_message(WAIT);
    say(&bob, "Hello Alice! Loud and clear.").await?;
    delivered.await?;

    // Heartbeats keep the subscriptions alive; show one round for each.
    tokio::try_join!(
        alice.wait_for_next_heartbeat(WAIT),
        bob.wait_for_next_heartbeat(WAIT)
    )?;

    let bob_left = alice.wait_for_next_command(WAIT);
    bob.stop().await;
    bob_left.await?;
    alice.stop().await;
    println!("done: both clients unregistered");
    if let Some(server) = server {
        server.shutdown().await;
    }
    Ok(())
}
