//! `POST /test/servers` and `POST /test/shutdown`: instances on demand for the browser leg.

mod common;

use std::time::Duration;

use common::{T, client, server};
use serde_json::Value;

async fn start_instance(base: &str, profile: &str) -> reqwest::Response {
    tokio::time::timeout(
        T,
        client()
            .post(format!("{base}/test/servers"))
            .json(&serde_json::json!({ "profile": profile }))
            .send(),
    )
    .await
    .expect("answers in time")
    .expect("request")
}

async fn connect_payload(base: &str) -> Value {
    let mut response = client()
        .get(format!("{base}/event-stream?channels=A"))
        .send()
        .await
        .expect("stream");
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(T, response.chunk())
            .await
            .expect("frame in time")
            .expect("read")
            .expect("stream open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: cmd.onConnect "))
        .expect("onConnect");
    serde_json::from_str(data).expect("json")
}

#[tokio::test]
async fn instances_have_their_profile_and_their_own_port() {
    let control = server().await;
    let default = start_instance(control.base_url(), "default").await;
    assert_eq!(default.status(), 200);
    let default: Value = default.json().await.unwrap();
    let default_url = default["baseUrl"].as_str().unwrap().to_owned();
    assert_ne!(default_url, control.base_url());
    assert_eq!(
        connect_payload(&default_url).await["heartbeatIntervalMs"],
        "200"
    );

    let slow: Value = start_instance(control.base_url(), "slow_heartbeat")
        .await
        .json()
        .await
        .unwrap();
    let slow_url = slow["baseUrl"].as_str().unwrap();
    assert_eq!(
        connect_payload(slow_url).await["heartbeatIntervalMs"],
        "10000"
    );

    let auth: Value = start_instance(control.base_url(), "auth")
        .await
        .json()
        .await
        .unwrap();
    let anonymous = client()
        .get(format!(
            "{}/event-stream",
            auth["baseUrl"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn unknown_profiles_are_rejected() {
    let control = server().await;
    let response = start_instance(control.base_url(), "turbo").await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("unknown profile"));
    // One instance is one node: the cluster profile is the binary's (`--profile cluster`).
    let response = start_instance(control.base_url(), "cluster").await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("--profile cluster"));
}

#[tokio::test]
async fn shutdown_stops_only_that_instance() {
    let control = server().await;
    let started: Value = start_instance(control.base_url(), "default")
        .await
        .json()
        .await
        .unwrap();
    let url = started["baseUrl"].as_str().unwrap().to_owned();
    let stopped = client()
        .post(format!("{url}/test/shutdown"))
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status(), 202);
    // The port closes within the shutdown grace; poll until a request is refused.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match client().get(format!("{url}/test/stats")).send().await {
            Err(_) => break,
            Ok(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Ok(_) => panic!("instance still answering after shutdown"),
        }
    }
    let control_alive = client()
        .get(format!("{}/test/stats", control.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(control_alive.status(), 200);
}
