//! The provincial uplink on the real binary, with the real 河南 adapter and the real simulated
//! provincial platform (`hcp province-sim`, its own process), on a manual clock: ratings go up
//! in numbered batches; a refused record is listed and replayed; the province is stopped, then
//! failing, for an hour of simulated time while ratings keep coming, and the platform is
//! restarted in the middle — the in-flight batch keeps its number and bytes, retries follow the
//! backoff, and once the province is back everything arrives exactly once; a rectification
//! goes up when its order closes; an answer lost after the province took a batch costs nothing;
//! and the day's reconciliation, which showed the gaps during the outage, ends clean.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use hcp_e2e::{
    Fixture, Province, Seeded, Server, Session, beijing_at, binary, manual_clock_config,
    start_seeded_in, write_config,
};
use serde_json::{Value, json};

/// 2026-03-10 (a Tuesday) at 09:00 China time, plus `minutes`.
fn t(minutes: i64) -> DateTime<Utc> {
    beijing_at(3, 10, 9, 0) + chrono::Duration::minutes(minutes)
}

struct Platform {
    server: Server,
    admin: Session,
    fixture: Fixture,
    data: PathBuf,
    config: PathBuf,
}

impl Platform {
    /// Records a canonical rating at W-BF-01, rated at `at`; its id.
    async fn rate(&self, at: DateTime<Utc>, project: &str, level: &str, channel: &str) -> u64 {
        self.admin.set_clock(at).await.unwrap();
        let bad = matches!(level, "dissatisfied" | "very_dissatisfied");
        let body = json!({
            "event_id": format!("e-{project}"),
            "project_no": project,
            "service_number": 1,
            "task_code": "T-QYSL",
            "department": self.fixture.department,
            "area_code": "410421",
            "window": "W-BF-01",
            "level": level,
            "channel": channel,
            "indicators": if bad { json!(["510"]) } else { json!([]) },
            "text": if bad { json!("排队时间过长，请回电13812341234") } else { Value::Null },
            "evaluator": {"real_name": true, "phone": "13812341234"},
            "rated_at": at,
        });
        let (status, answer) = self
            .fixture
            .ingest(&self.server.url, "ratings", &body)
            .await
            .unwrap();
        assert_eq!(status, 201, "{answer}");
        answer["id"].as_u64().unwrap()
    }

    /// Runs the uplink as of `at` (the clock moves there first); the steps taken.
    async fn run(&self, at: DateTime<Utc>) -> Vec<Value> {
        self.admin.set_clock(at).await.unwrap();
        let report = self
            .admin
            .post("/api/v1/admin/uplink/run", &json!({"as_of": at}))
            .await
            .unwrap();
        report["steps"].as_array().unwrap().clone()
    }

    async fn status(&self) -> Value {
        self.admin.get("/api/v1/admin/uplink").await.unwrap()
    }

    async fn reconcile(&self) -> (u16, Value) {
        self.admin
            .try_post(
                "/api/v1/admin/uplink/reconcile",
                &json!({"day": "2026-03-10"}),
            )
            .await
            .unwrap()
    }

    /// SIGTERM, then the same data and configuration again; the administrator's token still
    /// signs in (the token key lives in the data folder).
    fn restart(self) -> Platform {
        let Platform {
            server,
            admin,
            fixture,
            data,
            config,
        } = self;
        assert!(server.stop().unwrap().success());
        let server =
            Server::start(&binary("debug").unwrap(), "serve", &data, Some(&config)).unwrap();
        let admin = Session {
            client: reqwest::Client::new(),
            url: server.url.clone(),
            token: admin.token,
        };
        Platform {
            server,
            admin,
            fixture,
            data,
            config,
        }
    }
}

/// The kinds of steps, in order: `prepared:1`, `acknowledged:1`, `failed:4`, `idle` …
fn kinds(steps: &[Value]) -> Vec<String> {
    steps
        .iter()
        .map(|step| match step["number"].as_u64() {
            Some(number) => format!("{}:{number}", step["step"].as_str().unwrap()),
            None => step["step"].as_str().unwrap().to_string(),
        })
        .collect()
}

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hour_without_the_province_loses_nothing_and_reconciles_clean() {
    let dir = tempfile::tempdir().unwrap();
    let mut province = Province::start(&dir.path().join("province"), "127.0.0.1:0");
    hcp_e2e::install_adapter(dir.path(), "henan-uplink").unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "{clock}[uplink]\nenabled = true\nendpoint = \"{url}/api/haocp/batch\"\nreconcile_endpoint = \"{url}/api/haocp/counts\"\n\
             batch_size = 5\ninterval_secs = 0\nretry_base_secs = 60\nretry_max_secs = 600\ntimeout_ms = 2000\nreconcile_at = \"\"\n",
            clock = manual_clock_config(t(0)),
            url = province.url,
        ),
    )
    .unwrap();
    let Seeded {
        server,
        admin,
        fixture,
        data,
        dir: _dir,
    } = start_seeded_in(dir, &config).await.unwrap();
    let handler = admin
        .create_user("handler", "department_handler", &fixture.department)
        .await
        .unwrap();
    let agent = admin
        .create_user("agent", "callback_agent", "410421")
        .await
        .unwrap();
    let mut platform = Platform {
        server,
        admin,
        fixture,
        data,
        config,
    };
    let status = platform.status().await;
    assert_eq!(status["adapter"]["contract"], "1.1.0", "{status}");
    assert_eq!(status["adapter"]["reports_rectifications"], true);

    // Six ratings go up in two batches of at most five.
    let mut ratings = Vec::new();
    for (project, level, channel) in [
        ("P-01", "very_satisfied", "hall_device"),
        ("P-02", "satisfied", "qr_code"),
        ("P-03", "basically_satisfied", "sms"),
        ("P-04", "very_dissatisfied", "hall_device"),
        ("P-05", "satisfied", "pc"),
        ("P-06", "very_satisfied", "mobile"),
    ] {
        ratings.push(platform.rate(t(0), project, level, channel).await);
    }
    let bad_review = ratings[3];
    assert_eq!(
        kinds(&platform.run(t(0)).await),
        [
            "prepared:1",
            "acknowledged:1",
            "prepared:2",
            "acknowledged:2",
            "idle"
        ]
    );
    let state = province.state().await;
    assert_eq!(state["records"], 6, "{state}");
    // Without personal data, a comment leaves masked as on the public pages.
    let comments = state["comments"].as_array().unwrap();
    assert!(!comments.is_empty(), "{state}");
    for comment in comments {
        let comment = comment.as_str().unwrap();
        assert!(comment.starts_with("排队时间过长"), "{comment}");
        assert!(!comment.contains("13812341234"), "{comment}");
    }

    // The province refuses one record: it is listed with the province's reason.
    let refused = platform.rate(t(2), "P-07", "satisfied", "qr_code").await;
    ratings.push(refused);
    province
        .control(json!({"refuse": {refused.to_string(): "事项编码未在省平台登记"}}))
        .await;
    assert_eq!(
        kinds(&platform.run(t(2)).await),
        ["prepared:3", "acknowledged:3", "idle"]
    );
    province.control(json!({"refuse": {}})).await;
    let status = platform.status().await;
    assert_eq!(status["refused"][0]["record"]["id"], refused, "{status}");
    assert_eq!(status["refused"][0]["reason"], "事项编码未在省平台登记");
    assert_eq!(status["refused"][0]["batch"], 3);

    // The province is stopped. Ratings keep coming; batch 4 is numbered and kept, and sent
    // again on the backoff: 1, 2, 4, 8 minutes, then every 10 (the cap).
    province.kill();
    for (project, level) in [("P-08", "satisfied"), ("P-09", "dissatisfied")] {
        ratings.push(platform.rate(t(5), project, level, "hall_device").await);
    }
    assert_eq!(kinds(&platform.run(t(5)).await), ["prepared:4", "failed:4"]);
    let mut failed_at = vec![5];
    let mut body_sha256 = None;
    for minute in 6..=70 {
        if minute % 10 == 0 && minute <= 60 {
            let project = format!("P-{minute}");
            ratings.push(
                platform
                    .rate(t(minute), &project, "very_satisfied", "qr_code")
                    .await,
            );
        }
        if minute == 30 {
            // The province comes back, but failing. First a reconciliation: it shows the gap.
            province.restart();
            let (code, result) = platform.reconcile().await;
            assert_eq!(code, 200, "{result}");
            assert_eq!(result["clean"], false);
            assert_eq!(result["ratings"]["province"], 6);
            assert_eq!(
                result["ratings"]["platform"].as_u64(),
                Some(ratings.len() as u64)
            );
            assert_eq!(result["ratings"]["refused"], 1);
            assert_eq!(
                result["ratings"]["pending"].as_u64(),
                Some(ratings.len() as u64 - 7)
            );
            assert!(
                result["differences"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|row| row["platform"].as_u64() > row["province"].as_u64()),
                "{result}"
            );
            province.control(json!({"mode": "fail"})).await;
        }
        if minute == 35 {
            // The platform restarts in the middle of the outage and picks up where it stood.
            let before = platform.status().await;
            platform = platform.restart();
            let after = platform.status().await;
            assert_eq!(after["in_flight"], before["in_flight"]);
            assert_eq!(after["in_flight"]["number"], 4);
            assert_eq!(after["last_number"], 4);
            body_sha256 = Some(after["in_flight"]["body_sha256"].clone());
        }
        if minute == 65 {
            province.control(json!({"mode": "ok"})).await;
        }
        let steps = platform.run(t(minute)).await;
        let first = kinds(&steps[..1]);
        match first[0].as_str() {
            "failed:4" => failed_at.push(minute),
            "waiting:4" => {}
            "acknowledged:4" => {
                assert_eq!(minute, 70, "{steps:?}");
                // Everything that came in meanwhile follows in new batches.
                assert_eq!(
                    kinds(&steps),
                    [
                        "acknowledged:4",
                        "prepared:5",
                        "acknowledged:5",
                        "prepared:6",
                        "acknowledged:6",
                        "idle"
                    ]
                );
            }
            other => panic!("minute {minute}: unexpected step {other}: {steps:?}"),
        }
    }
    assert_eq!(failed_at, [5, 6, 8, 12, 20, 30, 40, 50, 60]);
    let batch = platform
        .admin
        .get("/api/v1/admin/uplink/batches/4")
        .await
        .unwrap();
    assert_eq!(batch["failures"], 9);
    assert_eq!(batch["accepted"], 2);
    let errors: Vec<&str> = batch["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| attempt["error"].as_str().unwrap())
        .collect();
    assert!(
        errors[..5]
            .iter()
            .all(|error| error.starts_with("省级平台无应答")),
        "{errors:?}"
    );
    assert!(
        errors[5..]
            .iter()
            .all(|error| error.contains("province answered http status 500")),
        "{errors:?}"
    );
    let next: Vec<i64> = batch["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| (instant(&attempt["next_at"]) - instant(&attempt["at"])).num_seconds())
        .collect();
    assert_eq!(next, [60, 120, 240, 480, 600, 600, 600, 600, 600]);
    // Every send of batch 4 that reached the province carried the same bytes.
    let state = province.state().await;
    let sends: Vec<&Value> = state["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|request| request["batch_no"] == "4")
        .collect();
    assert_eq!(
        sends
            .iter()
            .map(|request| request["status"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [500, 500, 500, 500, 200]
    );
    assert!(
        sends
            .iter()
            .all(|request| Some(&request["sha256"]) == body_sha256.as_ref())
    );

    // The refused record is replayed once its cause is fixed.
    platform
        .admin
        .post(
            &format!("/api/v1/admin/uplink/refused/{refused}"),
            &json!({"action": "replay", "note": "省平台已登记事项编码"}),
        )
        .await
        .unwrap();
    assert_eq!(
        kinds(&platform.run(t(72)).await),
        ["prepared:7", "acknowledged:7", "idle"]
    );
    assert_eq!(platform.status().await["refused"], json!([]));

    // The bad review's order is handled and closed: its rectification goes up.
    let order = platform.admin.bad_review_order(bad_review).await.unwrap()["id"]
        .as_u64()
        .unwrap();
    platform.admin.set_clock(t(80)).await.unwrap();
    let act = |who: &Session, step: Value| {
        let path = format!("/api/v1/orders/{order}/actions");
        let who = Session {
            client: reqwest::Client::new(),
            url: platform.server.url.clone(),
            token: who.token.clone(),
        };
        async move { who.post(&path, &step).await.unwrap() }
    };
    act(&handler, json!({"type": "accept", "note": "受理"})).await;
    act(&handler, json!({"type": "contact", "note": "已联系评价人"})).await;
    act(
        &handler,
        json!({"type": "verify", "finding": "高峰排队属实"}),
    )
    .await;
    act(
        &handler,
        json!({"type": "dispose", "disposition": {"type": "immediate", "action": "增开临时窗口"}}),
    )
    .await;
    act(
        &handler,
        json!({"type": "feedback", "message": "已增开临时窗口"}),
    )
    .await;
    let agent = Session {
        client: reqwest::Client::new(),
        url: platform.server.url.clone(),
        token: agent.token.clone(),
    };
    agent
        .post(
            &format!("/api/v1/calls/orders/{order}"),
            &json!({"outcome": "satisfied", "note": "满意"}),
        )
        .await
        .unwrap();
    let closed = act(
        &handler,
        json!({"type": "close", "root_cause": "process", "action_taken": "高峰时段增开临时窗口"}),
    )
    .await;
    assert_eq!(closed["state"], "closed");
    assert_eq!(
        kinds(&platform.run(t(85)).await),
        ["prepared:8", "acknowledged:8", "idle"]
    );
    let state = province.state().await;
    assert_eq!(
        state["records"].as_u64(),
        Some(ratings.len() as u64 + 1),
        "every rating and the rectification, once"
    );

    // The province takes a batch but its answer comes too late: the batch goes again under
    // its number and is answered the same, counted once.
    ratings.push(platform.rate(t(90), "P-90", "satisfied", "pc").await);
    province
        .control(json!({"mode": "late", "hang_ms": 4000}))
        .await;
    assert_eq!(
        kinds(&platform.run(t(90)).await),
        ["prepared:9", "failed:9"]
    );
    province.control(json!({"mode": "ok"})).await;
    assert_eq!(
        kinds(&platform.run(t(91)).await),
        ["acknowledged:9", "idle"]
    );
    assert_eq!(platform.status().await["lag_entries"], 0);
    let state = province.state().await;
    let ninth = state["batches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|batch| batch["batchNo"] == "9")
        .unwrap();
    assert_eq!(ninth["received"], 2);
    assert_eq!(ninth["accepted"], 1);
    assert_eq!(state["records"].as_u64(), Some(ratings.len() as u64 + 1));
    assert_eq!(state["platform_ids"], state["records"]);

    // Nothing lost, nothing twice: the day reconciles clean, by channel, level and region.
    let (code, result) = platform.reconcile().await;
    assert_eq!(code, 200, "{result}");
    assert_eq!(result["clean"], true, "{result}");
    assert_eq!(result["differences"], json!([]));
    assert_eq!(
        result["ratings"]["province"].as_u64(),
        Some(ratings.len() as u64)
    );
    assert_eq!(result["ratings"]["accepted"], result["ratings"]["platform"]);
    assert_eq!(result["rectifications"]["province"], 1);
    let status = platform.status().await;
    assert_eq!(status["batches_acked"], 9);
    assert_eq!(status["last_number"], 9);
    assert_eq!(status["in_flight"], Value::Null);
    assert_eq!(
        platform
            .admin
            .get("/api/v1/admin/uplink/reconciliations/2026-03-10")
            .await
            .unwrap(),
        result
    );
    let metrics = platform.server.metrics().await.unwrap();
    assert!(
        metrics.contains("hcp_uplink_refused_records 0"),
        "{metrics}"
    );
}
