//! Metrics and assessment on the real binary over a hand-built month of one county: every
//! metric equals the value worked out by hand below, and the county's veto policy takes the
//! best-scoring department out of the excellence ranking, naming the fact that triggered it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use hcp_e2e::{
    Roles, Seeded, Session, beijing, department, november_rating, november_service, start_november,
};
use serde_json::{Value, json};

struct Month {
    county: Seeded,
    handler: Session,
    supervisor: Session,
    reviewer: Session,
    agent: Session,
}

/// The first rating of [`november_service`] `project`, by `channel`; a 差评 names 等候时间 (510).
fn rating(
    project: &str,
    window: &str,
    dept: &str,
    task: &str,
    level: &str,
    channel: &str,
    real_name: bool,
) -> Value {
    let mut rating = november_rating(project, (window, dept, task), level, real_name);
    rating["channel"] = json!(channel);
    if level.contains("dissatisfied") {
        rating["indicators"] = json!(["510"]);
    }
    rating
}

impl Month {
    async fn start() -> Month {
        let county = start_november("部门", |_| json!({"has_device": true}))
            .await
            .unwrap();
        let admin = &county.admin;
        let Roles {
            handler,
            supervisor,
            reviewer,
            agent,
        } = Roles::create(admin, "handler-a", "410421").await.unwrap();
        Month {
            handler,
            supervisor,
            reviewer,
            agent,
            county,
        }
    }

    async fn ingest(&self, kind: &str, items: Vec<Value>) {
        self.county.ingest_all(kind, items).await.unwrap();
    }

    async fn at(&self, at: DateTime<Utc>) {
        self.county.admin.set_clock(at).await.unwrap();
    }

    async fn order_of(&self, project: &str) -> u64 {
        self.county.admin.order_of(project).await.unwrap()
    }

    async fn steps(&self, who: &Session, order: u64, steps: &[Value]) {
        who.steps(order, steps).await.unwrap();
    }
}

fn rate(stats: &Value, name: &str) -> (u64, u64, Value) {
    let rate = &stats["metrics"]["rates"][name];
    (
        rate["numerator"].as_u64().unwrap(),
        rate["denominator"].as_u64().unwrap(),
        rate["value"].clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_built_month_every_metric_and_a_veto() {
    let month = Month::start().await;
    let a = month.county.fixture.department.clone();
    let (b, c) = (department('B'), department('C'));

    // Department A (window W-BF-01): 10 services, 8 rated: 非常满意, 满意, 基本满意, a default
    // 非常满意, then 不满意 (real name), 非常不满意 (real name), 不满意 (anonymous) and 不满意
    // (real name, later found mistaken on appeal).
    let a_projects: Vec<String> = (1..=10).map(|n| format!("A{n:02}")).collect();
    month
        .ingest(
            "service-events",
            a_projects
                .iter()
                .map(|p| november_service(p, ("W-BF-01", &a, "T-QYSL")))
                .collect(),
        )
        .await;
    let a_ratings = [
        ("very_satisfied", "hall_device", false),
        ("satisfied", "qr_code", false),
        ("basically_satisfied", "pc", false),
        ("very_satisfied", "system_default", false),
        ("dissatisfied", "hall_device", true),
        ("very_dissatisfied", "hall_device", true),
        ("dissatisfied", "qr_code", false),
        ("dissatisfied", "hall_device", true),
    ];
    month
        .ingest(
            "ratings",
            a_ratings
                .iter()
                .zip(&a_projects)
                .map(|((level, channel, real), p)| {
                    rating(p, "W-BF-01", &a, "T-QYSL", level, channel, *real)
                })
                .collect(),
        )
        .await;
    // Department B: 8 services, 4 rated 非常满意. Department C: 100 services, all rated, 90
    // 非常满意 and 10 real-name 不满意.
    let b_projects: Vec<String> = (1..=8).map(|n| format!("B{n:02}")).collect();
    let c_projects: Vec<String> = (1..=100).map(|n| format!("C{n:03}")).collect();
    month
        .ingest(
            "service-events",
            b_projects
                .iter()
                .map(|p| november_service(p, ("W-BF-0B", &b, "T-B")))
                .chain(
                    c_projects
                        .iter()
                        .map(|p| november_service(p, ("W-BF-0C", &c, "T-C"))),
                )
                .collect(),
        )
        .await;
    month
        .ingest(
            "ratings",
            b_projects[..4]
                .iter()
                .map(|p| {
                    rating(
                        p,
                        "W-BF-0B",
                        &b,
                        "T-B",
                        "very_satisfied",
                        "hall_device",
                        false,
                    )
                })
                .chain(c_projects.iter().enumerate().map(|(i, p)| {
                    let level = if i < 90 {
                        "very_satisfied"
                    } else {
                        "dissatisfied"
                    };
                    rating(p, "W-BF-0C", &c, "T-C", level, "hall_device", i >= 90)
                }))
                .collect(),
        )
        .await;

    // The work orders. 宝丰县: real-name 差评 rectified within 5 working days (from Monday
    // 11-02: due at the start of 11-10), anonymous within 15 (due at the start of 11-24).
    let verify = [
        json!({"type": "accept"}),
        json!({"type": "verify", "finding": "属实"}),
    ];
    let handler = &month.handler;
    month.at(beijing(11, 3, 9)).await;
    // A05: fixed at once, fed back, called back 满意, closed.
    let a05 = month.order_of("A05").await;
    month.steps(handler, a05, &verify).await;
    month
        .steps(
            handler,
            a05,
            &[
                json!({"type": "dispose", "disposition": {"type": "immediate", "action": "增开窗口"}}),
                json!({"type": "feedback", "message": "已增开窗口"}),
            ],
        )
        .await;
    month
        .agent
        .post(
            &format!("/api/v1/calls/orders/{a05}"),
            &json!({"outcome": "satisfied"}),
        )
        .await
        .unwrap();
    month
        .steps(
            handler,
            a05,
            &[json!({"type": "close", "root_cause": "process", "action_taken": "增开窗口"})],
        )
        .await;
    // A06: a 限期整改 finished late (11-12), fed back, rated 基本满意 on the tracking link.
    let a06 = month.order_of("A06").await;
    month.steps(handler, a06, &verify).await;
    month
        .steps(
            handler,
            a06,
            &[json!({"type": "dispose", "disposition": {"type": "scheduled", "plan": "改造叫号系统", "committed_date": "2026-11-12"}})],
        )
        .await;
    // A07: accepted, then left: past its deadline at the end of the month.
    let a07 = month.order_of("A07").await;
    month
        .steps(handler, a07, &[json!({"type": "accept"})])
        .await;
    // A08: appeal upheld.
    let a08 = month.order_of("A08").await;
    month
        .steps(
            handler,
            a08,
            &[json!({"type": "appeal", "reason": "误评", "evidence": ["录像"]})],
        )
        .await;
    month
        .steps(
            &month.reviewer,
            a08,
            &[json!({"type": "decide_appeal", "upheld": true, "note": "录像证实误评，申诉成立"})],
        )
        .await;
    // C: nine real-name orders fixed on 11-03, the tenth only on 11-12 (late).
    for project in &c_projects[90..99] {
        let order = month.order_of(project).await;
        month.steps(handler, order, &verify).await;
        month
            .steps(handler, order, &[json!({"type": "dispose", "disposition": {"type": "immediate", "action": "整改"}})])
            .await;
    }
    month.at(beijing(11, 12, 9)).await;
    month
        .steps(
            handler,
            a06,
            &[
                json!({"type": "rectified", "action": "叫号系统已改造"}),
                json!({"type": "feedback", "message": "已改造"}),
            ],
        )
        .await;
    let a06_view = month
        .agent
        .get(&format!("/api/v1/orders/{a06}"))
        .await
        .unwrap();
    let token = a06_view["tracking_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let evaluated = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/track/{token}/evaluation",
            month.county.server.url
        ))
        .json(&json!({"level": "basically_satisfied"}))
        .send()
        .await
        .unwrap();
    assert_eq!(evaluated.status().as_u16(), 200);
    let c100 = month.order_of(&c_projects[99]).await;
    month.steps(handler, c100, &verify).await;
    month
        .steps(
            handler,
            c100,
            &[json!({"type": "dispose", "disposition": {"type": "immediate", "action": "整改"}})],
        )
        .await;

    // As of 11-30: A07's rectification is overdue.
    month.at(beijing(11, 30, 12)).await;
    let stats = month
        .supervisor
        .get(&format!(
            "/api/v1/stats?dim=department&unit={a}&from=2026-11-01&to=2026-11-30"
        ))
        .await
        .unwrap();
    let m = &stats["metrics"];
    // Coverage: A's one window has a device; no device is registered, so no online rate.
    let coverage = &stats["coverage"];
    assert_eq!(coverage["windows"], 1, "{coverage}");
    assert_eq!(
        (
            &coverage["covered"]["numerator"],
            &coverage["covered"]["denominator"]
        ),
        (&json!(1), &json!(1))
    );
    assert_eq!(coverage["devices_online"]["value"], Value::Null);
    // By hand: 10 services, 8 ratings (1 default, so 7 active), 1 invalid → 7 valid: 非常满意
    // 2 (one default), 满意 1, 基本满意 1, 不满意 2, 非常不满意 1.
    for (field, value) in [
        ("services", 10),
        ("ratings", 8),
        ("active_ratings", 7),
        ("default_ratings", 1),
        ("invalid", 1),
        ("valid_ratings", 7),
        ("good", 4),
        ("bad", 3),
        ("real_name_bad", 2),
    ] {
        assert_eq!(m[field], value, "{field}: {m}");
    }
    assert_eq!(
        m["by_level"],
        json!({"very_satisfied": 2, "satisfied": 1, "basically_satisfied": 1, "dissatisfied": 2, "very_dissatisfied": 1})
    );
    assert_eq!(m["by_channel"]["system_default"], 1);
    // Average of 100/80/60/30/0 over the valid ratings: (2·100 + 80 + 60 + 2·30 + 0) / 7 = 57.142…
    assert_eq!(m["average_score"], "57.14");
    // 3 valid 差评 per 10 services.
    assert_eq!(m["bad_per_thousand_services"], "300");
    // Orders: 4 opened, 1 upheld → 3 valid; rectified A05 (on time) and A06 (late); A07 open
    // and overdue → 3 due; real name: A05, A06 rectified, 1 on time.
    for (name, expected) in [
        ("active_rate", (7, 10, json!("0.7"))),
        ("rating_rate", (8, 10, json!("0.8"))),
        ("good_rate", (4, 7, json!("0.571429"))),
        ("bad_rate", (3, 7, json!("0.428571"))),
        ("rectify_rate", (2, 3, json!("0.666667"))),
        ("on_time_rectify_rate", (1, 3, json!("0.333333"))),
        ("real_name_on_time_rectify_rate", (1, 2, json!("0.5"))),
        ("feedback_rate", (2, 3, json!("0.666667"))),
        ("callback_rate", (1, 2, json!("0.5"))),
        ("rectify_satisfaction_rate", (2, 2, json!("1"))),
    ] {
        assert_eq!(rate(&stats, name), expected, "{name}");
    }
    assert_eq!(m["orders"]["orders"], 4);
    assert_eq!(m["orders"]["appeal_upheld"], 1);
    assert_eq!(m["overdue"]["orders"], 1);
    // The drill-down lists exactly the orders behind the numbers.
    let orders = month
        .supervisor
        .get(&format!(
            "{}&limit=500",
            stats["orders_url"].as_str().unwrap()
        ))
        .await
        .unwrap();
    let mut ids: Vec<u64> = orders["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = vec![a05, a06, a07, a08];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    // B has no order: its order rates have no value (not 0, not 1).
    let b_stats = month
        .supervisor
        .get(&format!(
            "/api/v1/stats?dim=department&unit={b}&from=2026-11-01&to=2026-11-30"
        ))
        .await
        .unwrap();
    assert_eq!(rate(&b_stats, "active_rate"), (4, 8, json!("0.5")));
    assert_eq!(rate(&b_stats, "on_time_rectify_rate"), (0, 0, Value::Null));

    // Assessment of the county's departments for November (default rules: 主动评价率 30,
    // 好评率 30, 按期整改率 30, 回访率 10; veto: 实名差评按期整改率 < 100%).
    //   C: 30·1 + 30·0.9 + 30·0.9 + 10 (no call-back due) = 94, vetoed (9 of 10 on time)
    //   B: 30·0.5 + 30 + 30 + 10 = 85
    //   A: 30·0.7 + 30·0.571429 (17.14) + 30·0.333333 (10) + 10·0.5 = 53.14, vetoed
    // Published once November has ended: a running period is never frozen.
    month.at(beijing(12, 1, 9)).await;
    let run = month
        .supervisor
        .post(
            "/api/v1/assessments",
            &json!({"period": "2026-11", "unit_kind": "department", "freeze": true}),
        )
        .await
        .unwrap();
    let units = run["units"].as_array().unwrap();
    let summary: Vec<(String, String, bool, Value, Value)> = units
        .iter()
        .map(|unit| {
            (
                unit["unit"].as_str().unwrap().to_string(),
                unit["score"]["total"].as_str().unwrap().to_string(),
                unit["vetoed"].as_bool().unwrap(),
                unit["position"].clone(),
                unit["rank"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (c.clone(), "94".into(), true, json!(1), Value::Null),
            (b.clone(), "85".into(), false, json!(2), json!(1)),
            (a.clone(), "53.14".into(), true, json!(3), Value::Null),
        ]
    );
    let seq = run["frozen"].as_u64().unwrap();
    let explained = month
        .supervisor
        .get(&format!("/api/v1/assessments/{seq}/units/{c}"))
        .await
        .unwrap();
    assert_eq!(explained["vetoes"][0]["code"], "real_name_rectify_overdue");
    let reason = explained["vetoes"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("实名差评按期整改率") && reason.contains("90"),
        "{reason}"
    );
    assert!(
        explained["ranking"].as_str().unwrap().contains("一票否决"),
        "{explained}"
    );
    let item = explained["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["item"] == "按期整改率")
        .unwrap();
    assert_eq!(item["rate"]["numerator"], 9);
    assert_eq!(item["rate"]["denominator"], 10);
    // Frozen: a later change does not rewrite the published run.
    month
        .steps(
            handler,
            a07,
            &[json!({"type": "verify", "finding": "属实"})],
        )
        .await;
    let again = month
        .supervisor
        .get(&format!("/api/v1/assessments/{seq}"))
        .await
        .unwrap();
    assert_eq!(again["units"], run["units"]);
}
