//! Receivers: selectors such as `tv.watch` or `css.background-image$#top` call typed members,
//! like ServiceStack's `ServerEventReceiver` classes, without runtime reflection.
//!
//! `cargo run --example receivers`

use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use servicestack_events::{Receiver, ServerEventsClient};
use servicestack_events_server::{ServerConfig, TestServer};

const WAIT: Duration = Duration::from_secs(10);

/// Remote control of a "TV" (ServiceStack's Chat demo has the same one).
#[derive(Default)]
struct Tv {
    watching: Option<String>,
}

/// Style changes sent with `css.{property}${selector}`.
#[derive(Default)]
struct Styles {
    applied: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let server = TestServer::start(ServerConfig::default()).await?;
    let tv = Arc::new(Mutex::new(Tv::default()));
    let styles = Arc::new(Mutex::new(Styles::default()));

    let client = ServerEventsClient::builder(server.base_url())
        .channels(["home"])
        // A receiver kept as one instance: members change its state.
        .named_receiver(
            "tv",
            Receiver::shared(tv.clone())
                .method("watch", |tv: &mut Tv, url: String, _| {
                    tv.watching = Some(url)
                })
                .action("off", |tv: &mut Tv, _| tv.watching = None),
        )
        // The target is matched ignoring case and dashes: `background-image` reaches
        // `BackgroundImage`; the css selector after `$` is on the message.
        .named_receiver(
            "css",
            Receiver::shared(styles.clone())
                .method("BackgroundImage", |s: &mut Styles, value: String, ctx| {
                    let target = ctx.message.css_selector().unwrap_or("body");
                    s.applied
                        .push(format!("{target} {{ background-image: {value} }}"));
                })
                .no_such_method(|s: &mut Styles, property, ctx| {
                    s.applied.push(format!(
                        "unsupported property {property}: {}",
                        ctx.message.json()
                    ));
                }),
        )
        .build()?;
    client.connect().await?;

    let events = server.events();
    for (selector, body) in [
        ("tv.watch", "\"https://youtu.be/dQw4w9WgXcQ\""),
        ("css.background-image$#top", "\"url(/img/sky.png)\""),
        ("css.unknown-thing$#x", "\"1px\""),
    ] {
        let next = client.wait_for_next_message(WAIT);
        events.notify_channel_json("home", selector, body)?;
        println!("sent {selector} {body}");
        next.await?;
    }
    println!("tv is watching {:?}", tv.lock().unwrap().watching);
    for rule in &styles.lock().unwrap().applied {
        println!("css: {rule}");
    }

    let next = client.wait_for_next_message(WAIT);
    events.notify_channel_json("home", "tv.off", "")?;
    next.await?;
    println!("after tv.off: {:?}", tv.lock().unwrap().watching);

    client.stop().await;
    server.shutdown().await;
    Ok(())
}
