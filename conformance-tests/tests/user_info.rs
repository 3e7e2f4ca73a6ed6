//! A base URL with user-info (`http://user:pass@host`): the client sends it as
//! `Authorization: Basic …` on the stream request and on every heartbeat (not on the stream
//! only, as reqwest would), checked on the wire with a raw TCP listener that plays the server;
//! the password shows nowhere in the client's output.

use std::time::Duration;

use serde_json::json;
use servicestack_events::{Error, ServerEventsClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// base64("alice:p@ss w0rd")
const BASIC: &str = "authorization: basic ywxpy2u6cebzcyb3mhjk";

async fn read_head(socket: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Some(String::from_utf8_lossy(&head).to_ascii_lowercase())
}

/// Serves one stream (its `cmd.onConnect` names a heartbeat URL on this listener) and answers
/// every heartbeat; every request head goes to `heads`.
async fn play_server(listener: TcpListener, heads: mpsc::UnboundedSender<String>) {
    let addr = listener.local_addr().unwrap();
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let heads = heads.clone();
        tokio::spawn(async move {
            while let Some(head) = read_head(&mut socket).await {
                let _ = heads.send(head.clone());
                if head.starts_with("get /event-stream") {
                    let connect = json!({
                        "id": "sub1", "userId": "-1", "displayName": "alice", "channels": "A",
                        "heartbeatUrl": format!("http://{addr}/event-heartbeat?id=sub1"),
                        "heartbeatIntervalMs": "100", "idleTimeoutMs": "30000",
                    });
                    let body = format!("id: 1\ndata: cmd.onConnect {connect}\n\n");
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n{body}"
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let mut rest = [0u8; 64];
                    let _ = socket.read(&mut rest).await;
                    return;
                }
                let reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
                if socket.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_info_goes_to_the_stream_and_every_heartbeat() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (heads_tx, mut heads) = mpsc::unbounded_channel();
    let server = tokio::spawn(play_server(listener, heads_tx));
    let client =
        ServerEventsClient::new(format!("http://alice:p%40ss%20w0rd@{addr}/"), ["A"]).unwrap();
    assert_eq!(client.base_url(), format!("http://{addr}"));
    for shown in [format!("{client:?}"), client.event_stream_url()] {
        assert!(
            !shown.contains("w0rd") && !shown.contains("alice"),
            "{shown}"
        );
    }
    client.connect().await.unwrap();
    let mut stream = None;
    let mut heartbeats = 0;
    while heartbeats < 2 {
        let head = tokio::time::timeout(Duration::from_secs(5), heads.recv())
            .await
            .expect("the client keeps sending heartbeats")
            .unwrap();
        assert!(
            head.lines().any(|line| line == BASIC),
            "no Basic credentials in\n{head}"
        );
        if head.starts_with("get /event-stream") {
            stream = Some(head);
        } else if head.starts_with("post /event-heartbeat") {
            heartbeats += 1;
        }
    }
    assert!(stream.is_some(), "the stream request was seen");
    client.stop().await;
    server.abort();
}

#[test]
fn user_info_with_another_authorization_is_refused() {
    let refused = ServerEventsClient::builder("http://alice:secret@127.0.0.1:1")
        .bearer_token("token")
        .build()
        .unwrap_err();
    assert!(
        matches!(&refused, Error::InvalidArgument { reason } if reason.contains("user-info")),
        "{refused}"
    );
    assert!(!refused.to_string().contains("secret"), "{refused}");
}
