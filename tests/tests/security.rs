//! The API as a hostile or careless caller would use it: what such a request must be refused,
//! against the real binary on the system clock (the platform as a city deploys it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hcp_e2e::{Seeded, start_seeded};
use serde_json::json;

/// `as_of` moves a sweep or an uplink run in time: on the system clock it would flag orders and
/// generate reports for periods that have not ended, for good. Only the manual clock takes it.
#[tokio::test]
async fn time_travel_is_refused_on_the_system_clock() {
    let Seeded { admin, server, .. } = start_seeded("").await.unwrap();
    let (status, body) = admin
        .try_post(
            "/api/v1/admin/sweep",
            &json!({"as_of": "2026-12-30T00:00:00Z"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "clock_not_manual", "{body}");
    let (status, body) = admin
        .try_post(
            "/api/v1/admin/uplink/run",
            &json!({"as_of": "2030-01-01T00:00:00Z"}),
        )
        .await
        .unwrap();
    // The uplink is not enabled here: refused for that first, never run as of 2030.
    assert_eq!(status, 409, "{body}");
    // A sweep as of now is what the background loop does anyway.
    let (status, body) = admin
        .try_post("/api/v1/admin/sweep", &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        !server.log().iter().any(|line| line.contains("2026-12-30")),
        "the refused sweep left a trace of its instant"
    );
}

/// A label of `/metrics` lives as long as the process: a method a caller made up must not
/// become one.
#[tokio::test]
async fn made_up_methods_are_no_metrics_labels() {
    let Seeded { server, .. } = start_seeded("").await.unwrap();
    let made_up = format!("FROBNICATE{}", "X".repeat(2000));
    let method = reqwest::Method::from_bytes(made_up.as_bytes()).unwrap();
    let answer = reqwest::Client::new()
        .request(method, format!("{}/api/v1/me", server.url))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_client_error(), "{}", answer.status());
    let metrics = server.metrics().await.unwrap();
    assert!(
        !metrics.contains("FROBNICATE"),
        "a made-up method became a label"
    );
    assert!(metrics.contains("method=\"other\""), "{metrics}");
}

/// An anonymous intake with a 500 KB code is refused with the field named, before any lookup;
/// nothing is opened.
#[tokio::test]
async fn an_intake_with_an_oversized_code_is_refused() {
    let Seeded {
        server, fixture, ..
    } = start_seeded("").await.unwrap();
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/intake", server.url))
        .json(&json!({
            "kind": "complaint",
            "area_code": "410421",
            "department": fixture.department,
            "task_code": "T".repeat(500 * 1024),
            "text": "窗口人员态度不好",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 422);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_field", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("task_code:"),
        "{body}"
    );
}

/// Ingest takes bodies up to its documented 4 MiB (axum's 2 MB default no longer cuts it short);
/// beyond, 413 before the body is read. A refused payload too large to keep for replay is
/// refused with a reason saying it was not kept, and the platform goes on serving (a kept value
/// of ~100 KB failed its batch and left the write path stuck).
#[tokio::test]
async fn ingest_bodies_are_limited_where_documented() {
    let Seeded {
        server, fixture, ..
    } = start_seeded("").await.unwrap();
    let padded = |bytes: usize| json!({"padding": "x".repeat(bytes)});
    let (status, body) = fixture
        .ingest(&server.url, "ratings", &padded(3 * 1024 * 1024))
        .await
        .unwrap();
    assert_eq!(status, 422, "{body}");
    let message = body["reason"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("not kept"), "{body}");
    let (status, body) = fixture
        .ingest(&server.url, "ratings", &padded(5 * 1024 * 1024))
        .await
        .unwrap();
    assert_eq!(status, 413, "{body}");
    assert!(body["error"]["code"].is_string(), "{body}");
    // Still serving, and a small refused item is kept as before.
    let (status, body) = fixture
        .ingest(&server.url, "ratings", &padded(10))
        .await
        .unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(
        !body["reason"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not kept"),
        "{body}"
    );
}
