//! A 差评 whose deadlines run into a year without a holiday table opens its order untimed and
//! says why; once the table is added and the platform restarted, the next sweep times it from
//! the moment the 差评 was received, keeping the steps already taken.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use hcp_e2e::{Server, Session, binary, manual_clock_config, rating, rules_copy, start_seeded_in};
use serde_json::{Value, json};

fn beijing(year: i32, month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(year, month, day, hour, 0, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// A stand-in 2027 table for the test (the official one is not published yet): weekdays work,
/// 2027-01-01 is off; 261 weekdays less one.
const TABLE_2027: &str = "year = 2027\nsource = \"test table\"\noff = [\"2027-01-01\"]\nmakeup = []\nworking_days = 260\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_past_the_last_holiday_table_is_timed_when_the_table_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, config) = rules_copy(dir.path()).unwrap();
    let received = beijing(2026, 12, 21, 10);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&manual_clock_config(received));
    std::fs::write(&config, text).unwrap();
    let county = start_seeded_in(dir, &config).await.unwrap();
    let password = county.server.admin_password().unwrap();

    // An anonymous 差评 in 宝丰县: rectify within 15 working days, well into January 2027.
    let mut body = rating(&county.fixture, "gap-1", "GAP-0001", "13812341234");
    body["level"] = json!("dissatisfied");
    body["text"] = json!("材料反复要求补交");
    body["evaluator"] = json!({"real_name": false});
    body["rated_at"] = json!(received - chrono::Duration::minutes(10));
    let (status, stored) = county
        .fixture
        .ingest(&county.server.url, "ratings", &body)
        .await
        .unwrap();
    assert_eq!(status, 201, "{stored}");
    let orders = county
        .admin
        .get("/api/v1/orders?kind=bad_review")
        .await
        .unwrap();
    let order = orders["items"][0].clone();
    let id = order["id"].as_u64().unwrap();
    assert!(
        order["deadline_error"].as_str().unwrap().contains("2027"),
        "{order}"
    );
    assert_eq!(order["deadlines"], json!([]));
    let metrics = county.server.metrics().await.unwrap();
    assert!(
        metrics.contains("hcp_orders_without_deadlines 1"),
        "{metrics}"
    );
    // Work goes on meanwhile; a sweep cannot time it yet.
    county
        .admin
        .post(
            &format!("/api/v1/orders/{id}/actions"),
            &json!({"type": "accept"}),
        )
        .await
        .unwrap();
    let report = county
        .admin
        .post("/api/v1/admin/sweep", &json!({"as_of": received}))
        .await
        .unwrap();
    assert_eq!(report["retimed"], 0, "{report}");

    // The table arrives; the calendar is read at start-up.
    std::fs::write(rules.join("calendar/2027.toml"), TABLE_2027).unwrap();
    let data = county.data.clone();
    county.server.stop().unwrap();
    let server = Server::start(&binary("debug").unwrap(), "serve", &data, Some(&config)).unwrap();
    let admin = Session::login(&server.url, "admin", &password)
        .await
        .unwrap();
    let report = admin
        .post("/api/v1/admin/sweep", &json!({"as_of": received}))
        .await
        .unwrap();
    assert_eq!(report["retimed"], 1, "{report}");
    let order: Value = admin.get(&format!("/api/v1/orders/{id}")).await.unwrap();
    assert_eq!(order["deadline_error"], Value::Null, "{order}");
    let due = |phase: &str| {
        order["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["phase"] == phase)
            .map(|d| d["due"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap())
            .unwrap()
    };
    // From Monday 12-21: 15 working days are 12-22..=12-31 (8), then 2027-01-04..=01-08 (5),
    // 01-11 and 01-12 (1 January is off in the test table): due at the start of 01-13.
    assert_eq!(due("rectify"), beijing(2027, 1, 13, 0));
    // Counted from receipt, not from the restart; nothing done yet but the acceptance.
    assert_eq!(due("contact"), beijing(2026, 12, 23, 0));
    // Timed once: a second sweep leaves it.
    let again = admin
        .post("/api/v1/admin/sweep", &json!({"as_of": received}))
        .await
        .unwrap();
    assert_eq!(again["retimed"], 0);
    server.stop().unwrap();
}
