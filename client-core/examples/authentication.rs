//! Authentication: a host that only accepts signed-in subscribers.
//!
//! 1. An anonymous client is refused with a typed `Unauthorized` error (no retry loop).
//! 2. Credentials sign-in sets session cookies that the stream shares.
//! 3. A bearer-token provider is asked for a token before every request, and once more to
//!    refresh it when the server rejects an expired one.
//!
//! `cargo run --example authentication`

use std::collections::BTreeMap;
use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use servicestack_events::{Credentials, ServerEventsClient};
use servicestack_events_server::{ServerConfig, TestServer};

/// Signs in and returns the bearer token the host issues.
async fn sign_in(base_url: &str) -> Result<String, servicestack_events::Error> {
    let helper = ServerEventsClient::new(base_url, ["home"])?;
    let response: BTreeMap<String, serde_json::Value> = helper.authenticate("user", "pass").await?;
    Ok(response
        .get("bearerToken")
        .and_then(|token| token.as_str())
        .unwrap_or_default()
        .to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let config = ServerConfig {
        limit_to_authenticated_users: true,
        ..ServerConfig::default()
    };
    let server = TestServer::start(config).await?;
    let base_url = server.base_url().to_owned();

    let anonymous = ServerEventsClient::new(&base_url, ["home"])?;
    match anonymous.connect().await {
        Err(error) if error.is_unauthorized() => {
            println!("anonymous: refused as expected ({error})")
        }
        other => println!("anonymous: unexpected {other:?}"),
    }

    let with_cookies = ServerEventsClient::new(&base_url, ["home"])?;
    with_cookies.authenticate("user", "pass").await?;
    let info = with_cookies.connect().await?;
    println!(
        "cookie session: connected, authenticated = {}",
        info.is_authenticated
    );
    with_cookies.stop().await;

    let asked = Arc::new(AtomicUsize::new(0));
    let asked_in_provider = asked.clone();
    let provider_url = base_url.clone();
    let with_tokens = ServerEventsClient::builder(&base_url)
        .channels(["home"])
        .credentials_fn(move |refresh| {
            let asked = asked_in_provider.clone();
            let url = provider_url.clone();
            async move {
                asked.fetch_add(1, Ordering::SeqCst);
                if refresh {
                    println!("provider: refreshing the token");
                }
                let token = sign_in(&url).await.map_err(|e| e.to_string())?;
                Ok(Credentials::bearer(token))
            }
        })
        .build()?;
    let info = with_tokens.connect().await?;
    println!(
        "bearer token: connected, authenticated = {}",
        info.is_authenticated
    );
    with_tokens
        .wait_for_next_heartbeat(Duration::from_secs(15))
        .await?;
    println!(
        "provider was asked {} times (once per request)",
        asked.load(Ordering::SeqCst)
    );
    with_tokens.stop().await;

    server.shutdown().await;
    Ok(())
}
