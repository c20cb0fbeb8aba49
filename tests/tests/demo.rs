//! `hcp demo` as a new user meets it, at today's date on the system clock (issue 10): the city
//! lives through enough history to cover last month on a moving clock, so every open work order
//! has its deadlines, the history has been worked (on time, late, escalated, appealed, called
//! back, a systemic problem), last month's bulletin was generated on the 1st and every rate of
//! last month has a value, and the log stays quiet. A smaller city than `make demo`'s, so that
//! the debug build seeds it quickly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Utc};
use hcp_e2e::{Server, Session, binary, write_config};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_has_lived_through_last_month() {
    let today = hcp_core::calendar::local_date(Utc::now());
    let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    let last_month = (this_month - chrono::Days::new(1)).with_day(1).unwrap();
    let days = (today - last_month).num_days() + 1;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[demo]\nhistory_days = {days}\nservices_per_day = 1200\nlive_per_second = 0\n[workflow]\nsweep_secs = 0\n"
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&binary("debug").unwrap(), "demo", &data, Some(&config)).unwrap();
    assert!(
        server
            .banner
            .iter()
            .any(|line| line.starts_with("lived through")),
        "{:?}",
        server.banner
    );
    let admin = Session::login(&server.url, "admin", "demo-2026")
        .await
        .unwrap();

    // Every order, newest first.
    let orders: Vec<Value> = admin
        .get_list("/api/v1/orders?limit=500")
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    assert!(orders.len() > 100, "{} orders", orders.len());
    let open: Vec<&Value> = orders.iter().filter(|o| o["state"] != "closed").collect();
    assert!(!open.is_empty());
    for order in &open {
        assert_eq!(order["deadline_error"], Value::Null, "{order}");
        let timed = order["deadlines"].as_array().is_some_and(|d| !d.is_empty());
        let waiting = order["awaiting"].as_array().is_some_and(|a| !a.is_empty());
        assert!(timed || waiting, "an open order without deadlines: {order}");
    }
    // The history was worked: received at their own instants, most closed, some late and
    // escalated, appeals either way, call-backs reached and completed by SMS.
    let received: std::collections::BTreeSet<&str> = orders
        .iter()
        .map(|o| &o["received_at"].as_str().unwrap()[..10])
        .collect();
    assert!(received.len() > 15, "received on {} days", received.len());
    let count = |check: &dyn Fn(&Value) -> bool| orders.iter().filter(|o| check(o)).count();
    let closed = count(&|o| o["state"] == "closed");
    assert!(
        closed * 2 > orders.len(),
        "{closed} of {} closed",
        orders.len()
    );
    let flagged = |kind: &'static str| {
        move |o: &Value| {
            o["deadlines"].as_array().unwrap().iter().any(|d| {
                d["flags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|flag| flag["kind"] == kind)
            })
        }
    };
    assert!(count(&flagged("supervision")) > 0);
    assert!(count(&flagged("notice")) > 0);
    let late = count(&|o| {
        o["deadlines"].as_array().unwrap().iter().any(|d| {
            d["phase"] == "rectify"
                && d["done_at"]
                    .as_str()
                    .is_some_and(|done| done > d["due"].as_str().unwrap())
        })
    });
    let rectified = count(&|o| {
        o["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["phase"] == "rectify" && !d["done_at"].is_null())
    });
    assert!(
        late > 0 && late * 4 < rectified,
        "{late} of {rectified} late"
    );
    let appeal = |upheld: bool| count(&|o| o["appeal"]["decision"]["upheld"] == upheld);
    assert!(appeal(true) > 0 && appeal(false) > 0);
    assert!(count(&|o| o["callback"] == "reached") > 0);
    let problems = admin.get_list("/api/v1/problems").await.unwrap();
    assert!(!problems.as_array().unwrap().is_empty(), "{problems}");

    // Last month: every rate has a value, and its bulletin was generated on the 1st.
    let stats = admin
        .get(&format!(
            "/api/v1/stats?dim=region&unit=410400&from={last_month}&to={}",
            this_month - chrono::Days::new(1)
        ))
        .await
        .unwrap();
    let rates: BTreeMap<String, Value> = stats["rates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rate| {
            (
                rate["name"].as_str().unwrap().to_string(),
                rate["value"].clone(),
            )
        })
        .collect();
    assert!(rates.len() >= 10, "{rates:?}");
    for (name, value) in &rates {
        assert!(!value.is_null(), "{name} has no value last month: {stats}");
    }
    // Quiet: a sweep now logs at most the calendar alarm, never a line per order.
    let before_sweep = server.log().len();
    admin
        .post("/api/v1/admin/sweep", &serde_json::json!({}))
        .await
        .unwrap();
    let warnings: Vec<String> = server
        .log()
        .into_iter()
        .skip(before_sweep)
        .filter(|line| line.contains("WARN"))
        .collect();
    assert!(warnings.len() <= 2, "{warnings:#?}");
    let period = format!("{}-{:02}", last_month.year(), last_month.month());
    let reports = admin.get_list("/api/v1/reports").await.unwrap();
    let name = format!("bulletin-{period}-410400.xlsx");
    assert!(
        reports
            .as_array()
            .unwrap()
            .iter()
            .any(|file| file["name"] == name.as_str()),
        "{reports}"
    );

    let all_warnings = server
        .log()
        .iter()
        .filter(|line| line.contains("WARN"))
        .count();
    assert!(all_warnings <= 5, "{:#?}", server.log());
}
