//! Through the year end (issue 10): every phase of a 差评 is timed on its own. Phases inside the
//! official holiday tables are exact; phases that run into a year without one are timed on a
//! provisional calendar (预警 only, never 督办 or 通报) or, with provisional timing off, wait
//! untimed — and both are timed exactly, without a restart, the moment the table is added to
//! the watched rules folder. Also run once on the system clock at today's date.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use hcp_e2e::{
    Seeded, TABLE_2027, credit_code, manual_clock_config, rating, rules_copy, start_seeded_in,
    wait_until,
};
use serde_json::{Value, json};

fn beijing(year: i32, month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(year, month, day, hour, 0, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// A server on a copy of the rules and the manual clock at `start`, with `extra` config.
async fn start(start: DateTime<Utc>, extra: &str) -> (Seeded, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (rules, config) = rules_copy(dir.path()).unwrap();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&manual_clock_config(start));
    text.push_str(extra);
    std::fs::write(&config, text).unwrap();
    (start_seeded_in(dir, &config).await.unwrap(), rules)
}

/// An anonymous 差评 at 宝丰县's window, received at `at`: rectify within 15 working days.
async fn anonymous_bad_review(seeded: &Seeded, event: &str, at: DateTime<Utc>) -> u64 {
    let mut body = rating(&seeded.fixture, event, &event.to_uppercase(), "13812341234");
    body["level"] = json!("dissatisfied");
    body["text"] = json!("材料反复要求补交");
    body["evaluator"] = json!({"real_name": false});
    body["rated_at"] = json!(at - chrono::Duration::minutes(10));
    let (status, stored) = seeded
        .fixture
        .ingest(&seeded.server.url, "ratings", &body)
        .await
        .unwrap();
    assert_eq!(status, 201, "{stored}");
    seeded
        .admin
        .bad_review_order(stored["id"].as_u64().unwrap())
        .await
        .unwrap()["id"]
        .as_u64()
        .unwrap()
}

/// A real-name 差评 in 新华区, which has no rules of its own: the city's default deadlines.
async fn city_bad_review(seeded: &Seeded, at: DateTime<Utc>) -> u64 {
    let department = credit_code("11410402MB0000001");
    for record in [
        json!({"kind": "org_unit", "record": {"id": "410402", "kind": "county", "name": "新华区", "parent": "410400"}}),
        json!({"kind": "org_unit", "record": {"id": department, "kind": "department", "name": "新华区人力资源和社会保障局", "parent": "410402"}}),
        json!({"kind": "org_unit", "record": {"id": "H-XH", "kind": "hall", "name": "新华区政务服务中心", "parent": "410402"}}),
        json!({"kind": "org_unit", "record": {"id": "W-XH-01", "kind": "window", "name": "社保窗口", "parent": "H-XH", "department": department, "has_device": true}}),
        json!({"kind": "item", "record": {"task_code": "T-SBDJ", "name": "社会保险登记", "department": department, "task_type": "公共服务"}}),
    ] {
        seeded
            .admin
            .post("/api/v1/admin/master", &record)
            .await
            .unwrap();
    }
    let issued = seeded
        .admin
        .post(
            "/api/v1/admin/sources",
            &json!({"id": "xh-devices", "name": "新华区评价器", "scope": "410402"}),
        )
        .await
        .unwrap();
    let body = json!({
        "event_id": "xh-1", "project_no": "XH-0001", "service_number": 1,
        "task_code": "T-SBDJ", "department": department, "area_code": "410402",
        "window": "W-XH-01", "level": "dissatisfied", "channel": "hall_device",
        "indicators": ["510"], "text": "等候时间太长",
        "evaluator": {"real_name": true, "phone": "13812341234"},
        "rated_at": at - chrono::Duration::minutes(5),
    });
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/sources/xh-devices/ratings",
            seeded.server.url
        ))
        .header("x-api-key", issued["api_key"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let stored: Value = response.json().await.unwrap();
    seeded
        .admin
        .bad_review_order(stored["id"].as_u64().unwrap())
        .await
        .unwrap()["id"]
        .as_u64()
        .unwrap()
}

/// (due, provisional) of a phase of an order as the API shows it.
fn phase(order: &Value, name: &str) -> Option<(DateTime<Utc>, bool)> {
    order["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["phase"] == name)
        .map(|d| {
            (
                d["due"].as_str().unwrap().parse().unwrap(),
                d["provisional"].as_bool().unwrap_or(false),
            )
        })
}

fn flags(order: &Value, name: &str) -> Vec<String> {
    order["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["phase"] == name)
        .map(|d| {
            d["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|flag| flag["kind"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn december_bad_reviews_are_timed_provisionally_and_exactly_once_the_table_arrives() {
    let (seeded, rules) = start(beijing(2026, 12, 4, 10), "").await;
    let admin = &seeded.admin;

    // Received Friday 2026-12-04 under the city's rules: contact (1), verify (2), rectify (15)
    // and feedback (17 working days) fall in December, exact; the call-back (20) reaches 4
    // January on the provisional 2027 (1 January is 元旦).
    let city = city_bad_review(&seeded, beijing(2026, 12, 4, 10)).await;
    let order = admin.get(&format!("/api/v1/orders/{city}")).await.unwrap();
    assert_eq!(order["deadline_error"], Value::Null, "{order}");
    assert_eq!(
        phase(&order, "contact"),
        Some((beijing(2026, 12, 8, 0), false))
    );
    assert_eq!(
        phase(&order, "verify"),
        Some((beijing(2026, 12, 9, 0), false))
    );
    assert_eq!(
        phase(&order, "rectify"),
        Some((beijing(2026, 12, 26, 0), false))
    );
    assert_eq!(
        phase(&order, "feedback"),
        Some((beijing(2026, 12, 30, 0), false))
    );
    assert_eq!(
        phase(&order, "callback"),
        Some((beijing(2027, 1, 5, 0), true))
    );
    // The decision says it was counted on a provisional year.
    let rating = order["rating_id"].as_u64().unwrap();
    let decisions = admin
        .get_list(&format!("/api/v1/ratings/{rating}/decisions"))
        .await
        .unwrap();
    let deadline = decisions
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["hook"] == "deadline")
        .unwrap()
        .clone();
    assert_eq!(deadline["provisional_year"], 2027, "{deadline}");

    // Mid-December in 宝丰县, anonymous: contact, verify and the appeal window are exact and
    // flagged on time in December; rectify, feedback and the call-back run into 2027.
    let received = beijing(2026, 12, 14, 10);
    admin.set_clock(received).await.unwrap();
    let id = anonymous_bad_review(&seeded, "ye-1", received).await;
    let order = admin.get(&format!("/api/v1/orders/{id}")).await.unwrap();
    assert_eq!(
        phase(&order, "contact"),
        Some((beijing(2026, 12, 16, 0), false))
    );
    assert_eq!(
        phase(&order, "appeal"),
        Some((beijing(2026, 12, 18, 0), false))
    );
    // 15 working days: 12-15..=12-31 are 13, then 01-04 and 01-05 → start of 01-06.
    assert_eq!(
        phase(&order, "rectify"),
        Some((beijing(2027, 1, 6, 0), true))
    );
    assert!(phase(&order, "feedback").unwrap().1 && phase(&order, "callback").unwrap().1);

    let report = admin.sweep_at(beijing(2026, 12, 15, 9)).await.unwrap();
    assert!(report["warnings"].as_u64().unwrap() >= 1, "{report}");
    let report = admin.sweep_at(beijing(2026, 12, 16, 1)).await.unwrap();
    assert!(report["supervisions"].as_u64().unwrap() >= 1, "{report}");
    let order = admin.get(&format!("/api/v1/orders/{id}")).await.unwrap();
    assert_eq!(flags(&order, "contact"), vec!["warning", "supervision"]);
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");

    // Said once, loudly: the readiness detail, the metrics and the rules status.
    let (_, ready) = seeded.server.readyz().await.unwrap();
    assert!(
        ready.contains("warning: the official 2027 holiday table is not loaded"),
        "{ready}"
    );
    let metrics = seeded.server.metrics().await.unwrap();
    assert!(
        metrics.contains("hcp_calendar_table_missing 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hcp_calendar_missing_year 2027"),
        "{metrics}"
    );
    // The city order's call-back, and 宝丰's rectify, feedback and call-back.
    assert!(
        metrics.contains("hcp_order_phases_provisional 4"),
        "{metrics}"
    );
    let status = admin.get("/api/v1/rules/status").await.unwrap();
    assert_eq!(status["calendar"]["missing_table"], 2027, "{status}");
    assert_eq!(status["calendar"]["provisional_years"][0], 2027);
    assert_eq!(
        status["calendar"]["provisional_rest_days"][1]["date"],
        "2027-02-05"
    );

    // On the provisional last day of rectify its 预警 is raised; after it, the 督办 is held.
    let order_id = id;
    admin
        .steps(
            order_id,
            &[
                json!({"type": "accept"}),
                json!({"type": "contact"}),
                json!({"type": "verify", "finding": "属实"}),
            ],
        )
        .await
        .unwrap();
    let report = admin.sweep_at(beijing(2027, 1, 5, 9)).await.unwrap();
    assert!(report["warnings"].as_u64().unwrap() >= 1, "{report}");
    let report = admin.sweep_at(beijing(2027, 1, 6, 9)).await.unwrap();
    assert!(
        report["held_escalations"].as_u64().unwrap() >= 1,
        "{report}"
    );
    let order = admin
        .get(&format!("/api/v1/orders/{order_id}"))
        .await
        .unwrap();
    assert_eq!(flags(&order, "rectify"), vec!["warning"]);

    // The official table arrives in the watched folder: no restart. Every provisional phase is
    // timed exactly (4 January is off in it: one day later each), recorded with the calendar
    // version, and the status names what moved.
    std::fs::write(rules.join("calendar/2027.toml"), TABLE_2027).unwrap();
    wait_until(Duration::from_secs(30), || async {
        admin.get("/api/v1/rules/status").await.unwrap()["calendar"]["last_retime"]["orders"]
            .as_u64()
            .is_some_and(|orders| orders >= 2)
    })
    .await
    .unwrap();
    let status = admin.get("/api/v1/rules/status").await.unwrap();
    let retime = &status["calendar"]["last_retime"];
    assert_eq!(retime["phases"], 4, "{retime}");
    assert!(
        retime["calendar_version"]
            .as_str()
            .unwrap()
            .starts_with("2025-2027")
    );
    let ids: Vec<u64> = retime["order_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_u64().unwrap())
        .collect();
    assert!(ids.contains(&city) && ids.contains(&order_id), "{retime}");
    assert_eq!(status["calendar"]["missing_table"], Value::Null);

    let order = admin
        .get(&format!("/api/v1/orders/{order_id}"))
        .await
        .unwrap();
    assert_eq!(
        phase(&order, "rectify"),
        Some((beijing(2027, 1, 7, 0), false))
    );
    assert!(!phase(&order, "callback").unwrap().1);
    // Exact phases did not move; the step is on the timeline.
    assert_eq!(
        phase(&order, "contact"),
        Some((beijing(2026, 12, 16, 0), false))
    );
    let step = order["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["action"] == "retimed")
        .unwrap()
        .clone();
    assert!(
        step["note"]
            .as_str()
            .unwrap()
            .contains("整改 2027-01-05（暂定） → 2027-01-06"),
        "{step}"
    );
    let city_order = admin.get(&format!("/api/v1/orders/{city}")).await.unwrap();
    assert_eq!(
        phase(&city_order, "callback"),
        Some((beijing(2027, 1, 6, 0), false))
    );

    // Now exact, the 督办 is raised at its due; it was never raised on the provisional one.
    let report = admin.sweep_at(beijing(2027, 1, 7, 9)).await.unwrap();
    assert!(report["supervisions"].as_u64().unwrap() >= 1, "{report}");
    let order = admin
        .get(&format!("/api/v1/orders/{order_id}"))
        .await
        .unwrap();
    let rectify = order["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["phase"] == "rectify")
        .unwrap()
        .clone();
    let supervised_at: DateTime<Utc> = rectify["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|flag| flag["kind"] == "supervision")
        .unwrap()["at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(supervised_at >= beijing(2027, 1, 7, 0), "{rectify}");
    let metrics = seeded.server.metrics().await.unwrap();
    assert!(
        metrics.contains("hcp_calendar_table_missing 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hcp_order_phases_provisional 0"),
        "{metrics}"
    );
    // Timed once: a further sweep changes nothing.
    let again = admin.sweep_at(beijing(2027, 1, 7, 10)).await.unwrap();
    assert_eq!(again["retimed_provisional"], 0, "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_provisional_timing_off_the_phases_wait_and_the_rest_are_exact() {
    let received = beijing(2026, 12, 14, 10);
    let (seeded, rules) = start(received, "[calendar]\nprovisional = false\n").await;
    let admin = &seeded.admin;
    let id = anonymous_bad_review(&seeded, "off-1", received).await;
    let order = admin.get(&format!("/api/v1/orders/{id}")).await.unwrap();
    assert_eq!(order["deadline_error"], Value::Null, "{order}");
    assert_eq!(
        phase(&order, "contact"),
        Some((beijing(2026, 12, 16, 0), false))
    );
    assert_eq!(
        phase(&order, "verify"),
        Some((beijing(2026, 12, 17, 0), false))
    );
    assert_eq!(
        phase(&order, "appeal"),
        Some((beijing(2026, 12, 18, 0), false))
    );
    assert_eq!(phase(&order, "rectify"), None);
    let awaiting: Vec<(String, i64)> = order["awaiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["phase"].as_str().unwrap().to_string(),
                a["year"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        awaiting,
        vec![
            ("rectify".into(), 2027),
            ("feedback".into(), 2027),
            ("callback".into(), 2027)
        ]
    );
    let metrics = seeded.server.metrics().await.unwrap();
    assert!(
        metrics.contains("hcp_order_phases_awaiting_table 0"),
        "not swept yet: {metrics}"
    );
    let report = admin.sweep_at(beijing(2026, 12, 16, 1)).await.unwrap();
    assert!(report["supervisions"].as_u64().unwrap() >= 1, "{report}");
    let metrics = seeded.server.metrics().await.unwrap();
    assert!(
        metrics.contains("hcp_order_phases_awaiting_table 3"),
        "{metrics}"
    );
    let status = admin.get("/api/v1/rules/status").await.unwrap();
    assert_eq!(status["calendar"]["provisional_timing"], false);
    assert!(
        status["calendar"]["alarm"]
            .as_str()
            .unwrap()
            .contains("wait untimed"),
        "{status}"
    );

    // The unit rectifies at once while the phase waits: that is kept for when it is timed.
    let done = beijing(2026, 12, 17, 10);
    admin.set_clock(done).await.unwrap();
    admin
        .steps(
            id,
            &[
                json!({"type": "accept"}),
                json!({"type": "verify", "finding": "属实"}),
                json!({"type": "dispose", "disposition": {"type": "immediate", "action": "当场补正"}}),
            ],
        )
        .await
        .unwrap();

    std::fs::write(rules.join("calendar/2027.toml"), TABLE_2027).unwrap();
    wait_until(Duration::from_secs(30), || async {
        admin.get(&format!("/api/v1/orders/{id}")).await.unwrap()["awaiting"].is_null()
    })
    .await
    .unwrap();
    let order = admin.get(&format!("/api/v1/orders/{id}")).await.unwrap();
    // 12-15..=12-31 are 13 working days, then 01-05 and 01-06 (01-04 is off in the table).
    assert_eq!(
        phase(&order, "rectify"),
        Some((beijing(2027, 1, 7, 0), false))
    );
    let rectify = order["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["phase"] == "rectify")
        .unwrap()
        .clone();
    assert_eq!(
        rectify["done_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        done
    );
    assert_eq!(
        phase(&order, "contact"),
        Some((beijing(2026, 12, 16, 0), false))
    );
}

/// The same paths at today's date, on the system clock: whatever the day, a 差评 received now
/// gets every phase timed — exact inside the official tables, provisional past them — and the
/// alarm is up exactly when a table that should be loaded by now is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_review_received_today_has_every_phase_timed() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, config) = rules_copy(dir.path()).unwrap();
    let seeded = start_seeded_in(dir, &config).await.unwrap();
    let now = Utc::now();
    let mut body = rating(&seeded.fixture, "today-1", "TODAY-0001", "13812341234");
    body["level"] = json!("very_dissatisfied");
    body["indicators"] = json!(["510"]);
    let (status, stored) = seeded
        .fixture
        .ingest(&seeded.server.url, "ratings", &body)
        .await
        .unwrap();
    assert_eq!(status, 201, "{stored}");
    let order = seeded
        .admin
        .bad_review_order(stored["id"].as_u64().unwrap())
        .await
        .unwrap();
    assert_eq!(order["deadline_error"], Value::Null, "{order}");
    assert!(order["awaiting"].is_null(), "{order}");
    let calendar = hcp_core::calendar::Calendar::load_dir(&rules.join("calendar")).unwrap();
    let deadlines = order["deadlines"].as_array().unwrap();
    assert!(deadlines.len() >= 5, "{order}");
    for deadline in deadlines {
        let due: DateTime<Utc> = deadline["due"].as_str().unwrap().parse().unwrap();
        assert!(due > now - chrono::Duration::hours(1), "{deadline}");
        let last_day = hcp_core::calendar::local_date(due - chrono::Duration::seconds(1));
        let provisional = deadline["provisional"].as_bool().unwrap_or(false);
        use chrono::Datelike as _;
        assert_eq!(
            provisional,
            last_day.year() > calendar.last_year() && deadline["unit"] == "working_days",
            "{deadline}"
        );
    }
    let (_, ready) = seeded.server.readyz().await.unwrap();
    let today = hcp_core::calendar::local_date(now);
    assert_eq!(
        ready.contains("warning:"),
        calendar.missing_table(today).is_some(),
        "{ready}"
    );
}
