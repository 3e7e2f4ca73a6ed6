//! Credentialed CORS with preflight, and the global headers on every response.

mod common;

use common::*;
use reqwest::Method;

const ORIGIN: &str = "http://localhost:9999";

#[tokio::test]
async fn preflight_allows_any_method_and_headers_with_credentials() {
    let server = server().await;
    for path in [
        "/event-subscribers/abc",
        "/api/UpdateEventSubscriber",
        "/channels/A/chat",
        "/event-heartbeat?id=x",
        "/auth/credentials",
        "/test/faults",
    ] {
        let resp = client()
            .request(Method::OPTIONS, format!("{}{path}", server.base_url()))
            .header("origin", ORIGIN)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization,x-custom",
            )
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        let h = resp.headers();
        assert_eq!(h["access-control-allow-origin"], ORIGIN, "{path}");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert!(
            h["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("POST")
        );
        let allowed = h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        for header in ["content-type", "authorization", "x-custom"] {
            assert!(allowed.contains(header), "{header} in {allowed}");
        }
        assert!(h.get_all("vary").iter().any(|v| v == "Accept"));
        assert!(h.contains_key("x-powered-by"));
    }
}

#[tokio::test]
async fn actual_requests_echo_the_origin_on_every_route() {
    let server = server().await;
    let mut sse = Sse::send(
        client()
            .get(stream_url(&server, "channels=A"))
            .header("origin", ORIGIN),
    )
    .await;
    let h = sse.resp.headers().clone();
    assert_eq!(h["access-control-allow-origin"], ORIGIN);
    assert_eq!(h["access-control-allow-credentials"], "true");
    let exposed = h["access-control-expose-headers"].to_str().unwrap();
    assert!(exposed.contains("content-type"));
    let args = sse.frame().await.map();

    let hb = client()
        .post(s(&args["heartbeatUrl"]))
        .header("origin", ORIGIN)
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(hb.status(), 200);
    assert_eq!(hb.headers()["access-control-allow-origin"], ORIGIN);

    for (method, path) in [
        (Method::GET, "/event-subscribers".to_string()),
        (Method::GET, "/nope".to_string()),
        (Method::POST, "/event-heartbeat?id=missing".to_string()),
        (Method::GET, "/test/stats".to_string()),
    ] {
        let resp = client()
            .request(method, format!("{}{path}", server.base_url()))
            .header("origin", ORIGIN)
            .send()
            .await
            .unwrap();
        let h = resp.headers();
        assert_eq!(h["access-control-allow-origin"], ORIGIN, "{path}");
        assert_eq!(h["access-control-allow-credentials"], "true", "{path}");
        assert!(h.get_all("vary").iter().any(|v| v == "Accept"), "{path}");
        assert!(
            h["x-powered-by"]
                .to_str()
                .unwrap()
                .starts_with("ServiceStack/"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn no_origin_no_cors_headers() {
    let server = server().await;
    let resp = client()
        .get(format!("{}/event-subscribers", server.base_url()))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    assert!(resp.headers().get_all("vary").iter().any(|v| v == "Accept"));
}
