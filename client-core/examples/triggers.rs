//! Trigger listeners: `trigger.{event}` messages raise every listener of that event.
//!
//! `cargo run --example triggers`

use std::error::Error;
use std::time::Duration;

use servicestack_events::ServerEventsClient;
use servicestack_events_server::{ServerConfig, TestServer};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let server = TestServer::start(ServerConfig::default()).await?;
    let client = ServerEventsClient::new(server.base_url(), ["home"])?;
    let first = client.add_listener("customEvent", |_, msg| {
        println!("first listener got {}", msg.json())
    });
    client.add_listener("customEvent", |_, msg| {
        let text: String = msg.parse_json().unwrap_or_default();
        println!("second listener got the string {text:?}");
    });
    client.connect().await?;

    let next = client.wait_for_next_message(WAIT);
    server
        .events()
        .notify_channel("home", "trigger.customEvent", "arg")?;
    next.await?;

    client.remove(first);
    println!("removed the first listener");
    let next = client.wait_for_next_message(WAIT);
    server
        .events()
        .notify_channel("home", "trigger.customEvent", "again")?;
    next.await?;

    client.stop().await;
    server.shutdown().await;
    Ok(())
}
