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
