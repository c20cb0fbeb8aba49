//! 应接尽接 (issue 10): the business systems and device fleets a county expects to report are
//! registered as expected sources; what each delivers and has refused is counted by day; a
//! source silent for more than `[coverage] silent_after_working_days` working days is not
//! connected, and the county's ratio, the silent list and each source's activity show in
//! `/api/v1/stats`, `/api/v1/coverage/sources`, `/metrics` and the monthly bulletin.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hcp_e2e::{Seeded, beijing, manual_clock_config, start_seeded};
use serde_json::{Value, json};

/// Registers an expected source of 宝丰县; its API key.
async fn expected(seeded: &Seeded, id: &str, name: &str, kind: &str) -> String {
    let issued = seeded
        .admin
        .post(
            "/api/v1/admin/sources",
            &json!({"id": id, "name": name, "scope": "410421", "kind": kind, "expected": true}),
        )
        .await
        .unwrap();
    assert_eq!(issued["source"]["expected"], true, "{issued}");
    issued["api_key"].as_str().unwrap().to_string()
}

async fn post(seeded: &Seeded, source: &str, key: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/sources/{source}/service-events",
            seeded.server.url
        ))
        .header("x-api-key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn service(project: &str, department: &str, at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "event_id": format!("svc-{project}"), "project_no": project, "task_code": "T-QYSL",
        "department": department, "area_code": "410421", "service_number": 1,
        "service_name": "受理", "status": "accepted", "occurred_at": at, "window": "W-BF-01",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_systems_are_listed_and_the_county_ratio_says_how_many_are_connected() {
    let monday = beijing(11, 2, 10);
    let seeded = start_seeded(&manual_clock_config(monday)).await.unwrap();
    let admin = &seeded.admin;
    let department = seeded.fixture.department.clone();
    let yth = expected(
        &seeded,
        "bf-yth",
        "宝丰县一体化政务服务平台",
        "business_system",
    )
    .await;
    expected(&seeded, "bf-bdc", "宝丰县不动产登记系统", "business_system").await;

    // The platform delivers two service acts; a third is refused (kept for replay).
    for project in ["COV-1", "COV-2"] {
        let (status, body) = post(
            &seeded,
            "bf-yth",
            &yth,
            &service(project, &department, monday),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let mut broken = service("COV-3", &department, monday);
    broken["area_code"] = json!("999999");
    let (status, body) = post(&seeded, "bf-yth", &yth, &broken).await;
    assert!((400..500).contains(&status), "{status} {body}");

    let stats = admin
        .get("/api/v1/stats?dim=region&unit=410421")
        .await
        .unwrap();
    let systems = &stats["coverage"]["systems"];
    assert_eq!(systems["connected"]["numerator"], 1, "{stats}");
    assert_eq!(systems["connected"]["denominator"], 2, "{stats}");
    assert_eq!(systems["silent"], json!(["bf-bdc"]));
    let coverage = admin
        .get(systems["sources_url"].as_str().unwrap())
        .await
        .unwrap();
    let source = |id: &str| {
        coverage["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone()
    };
    let platform = source("bf-yth");
    assert_eq!(platform["service_events"], 2, "{platform}");
    assert_eq!(platform["refused"], 1, "{platform}");
    assert_eq!(platform["error_rate"]["value"], "0.333333", "{platform}");
    assert_eq!(platform["silent_working_days"], 0);
    assert_eq!(platform["connected"], true);
    assert_eq!(platform["by_day"][0]["day"], "2026-11-02");
    let never = source("bf-bdc");
    assert_eq!(never["silent_working_days"], Value::Null);
    assert_eq!(never["connected"], false);
    // The fixture's own source is not expected: listed, not counted.
    assert_eq!(source("bf-devices")["expected"], false);

    // Thursday: three working days of silence are still allowed; Friday's fourth is not.
    admin.set_clock(beijing(11, 5, 18)).await.unwrap();
    let stats = admin
        .get("/api/v1/stats?dim=region&unit=410421")
        .await
        .unwrap();
    assert_eq!(stats["coverage"]["systems"]["connected"]["numerator"], 1);
    admin.set_clock(beijing(11, 6, 10)).await.unwrap();
    let stats = admin
        .get("/api/v1/stats?dim=region&unit=410421")
        .await
        .unwrap();
    assert_eq!(stats["coverage"]["systems"]["connected"]["numerator"], 0);
    assert_eq!(
        stats["coverage"]["systems"]["silent"],
        json!(["bf-bdc", "bf-yth"])
    );
    let metrics = seeded.server.metrics().await.unwrap();
    assert!(
        metrics.contains("hcp_sources_expected{region=\"410421\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hcp_sources_connected{region=\"410421\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hcp_source_silent{source=\"bf-yth\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hcp_sources_expected{region=\"410400\"} 2"),
        "{metrics}"
    );

    // It comes back: connected again.
    let (status, body) = post(
        &seeded,
        "bf-yth",
        &yth,
        &service("COV-4", &department, beijing(11, 6, 9)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let stats = admin
        .get("/api/v1/stats?dim=region&unit=410421")
        .await
        .unwrap();
    assert_eq!(stats["coverage"]["systems"]["silent"], json!(["bf-bdc"]));

    // The month's bulletin names the ratio and the system never connected.
    let page = admin
        .get_text("/api/v1/reports/bulletin?period=2026-11&scope=410421&format=html")
        .await
        .unwrap();
    assert!(page.contains("应接尽接率"), "{page}");
    assert!(
        page.contains("未接入或中断：宝丰县不动产登记系统"),
        "{page}"
    );
    assert!(page.contains("从未接入"));
    // Window staff and handlers do not see it.
    let handler = admin
        .create_user("bf-handler", "department_handler", "410421")
        .await
        .unwrap();
    let (status, _) = handler
        .try_get("/api/v1/coverage/sources?unit=410421")
        .await
        .unwrap();
    assert_eq!(status, 403);
}
