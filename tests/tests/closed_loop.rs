//! The closed loop on the real binary, on a manual clock: a real-name 差评 pressed on a hall
//! device goes through every phase of its work order across the 2026 National Day holiday and
//! its 调休 Saturday, with every due instant, warning and escalation checked against the
//! official calendar; an upheld appeal takes a rating out of assessment but not out of the raw
//! totals; the citizen follows and rates through the tracking link; the audit chain holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use hcp_e2e::{
    Fixture, Roles, Seeded, Server, Session, adapter, beijing_at, binary, hx_rating_frame,
    start_seeded_in, write_config,
};
use serde_json::{Value, json};

fn second_department() -> String {
    hcp_e2e::credit_code("11410421MB0000004")
}

fn instant(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not an instant: {value}"))
        .parse()
        .unwrap()
}

struct Loop {
    server: Server,
    admin: Session,
    fixture: Fixture,
    device_key: String,
    handler: Session,
    supervisor: Session,
    reviewer: Session,
    agent: Session,
    /// The server's data folder, for `hcp audit verify`.
    data: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// 宝丰县 seeded, device D-HX (HX-PJ200 adapter installed) at window W-BF-01, and one user of
/// each role the loop needs. The manual clock starts at `start`; no background sweep.
async fn start(start: DateTime<Utc>) -> Loop {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("data/plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(adapter("hx-pj200").unwrap(), plugins.join("hx-pj200.wasm")).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[clock]\nmanual_start = \"{}\"\n[workflow]\nsweep_secs = 0\n[security]\ntoken_hours = 100000\nidle_minutes = 6000000\n[messages]\npublic_url = \"http://hcp.example\"\n",
            start.to_rfc3339()
        ),
    )
    .unwrap();
    let Seeded {
        server,
        admin,
        fixture,
        data,
        dir,
    } = start_seeded_in(dir, &config).await.unwrap();
    for record in [
        json!({"kind": "device_model", "record": {"model": "HX-PJ200", "vendor": "华信智能", "min_press_interval_secs": 0}}),
        json!({"kind": "device", "record": {"id": "D-HX", "model": "HX-PJ200", "window": "W-BF-01"}}),
        json!({"kind": "org_unit", "record": {"id": second_department(), "kind": "department", "name": "宝丰县人力资源和社会保障局", "parent": "410421"}}),
    ] {
        admin.post("/api/v1/admin/master", &record).await.unwrap();
    }
    let issued = admin
        .post(
            "/api/v1/admin/sources",
            &json!({"id": "hx-pj200", "name": "华信评价器", "adapter": "hx-pj200", "scope": "410421"}),
        )
        .await
        .unwrap();
    let Roles {
        handler,
        supervisor,
        reviewer,
        agent,
    } = Roles::create(&admin, "handler", &fixture.department)
        .await
        .unwrap();
    Loop {
        handler,
        supervisor,
        reviewer,
        agent,
        device_key: issued["api_key"].as_str().unwrap().to_string(),
        server,
        admin,
        fixture,
        data,
        _dir: dir,
    }
}

impl Loop {
    async fn at(&self, at: DateTime<Utc>) {
        self.admin.set_clock(at).await.unwrap();
    }

    async fn sweep(&self, at: DateTime<Utc>) -> Value {
        let report = self.admin.sweep_at(at).await.unwrap();
        assert_eq!(report["errors"], json!([]), "{report}");
        report
    }

    /// A step by `who`; returns the status and the body.
    async fn step(&self, who: &Session, order: u64, step: Value) -> (u16, Value) {
        who.try_post(&format!("/api/v1/orders/{order}/actions"), &step)
            .await
            .unwrap()
    }

    async fn ok(&self, who: &Session, order: u64, step: Value) -> Value {
        let (status, body) = self.step(who, order, step.clone()).await;
        assert_eq!(status, 200, "{step} → {body}");
        body
    }

    async fn order(&self, id: u64) -> Value {
        self.admin
            .get(&format!("/api/v1/orders/{id}"))
            .await
            .unwrap()
    }

    async fn press(&self, sequence: u32, at: DateTime<Utc>, level: u8, project: &str) -> u64 {
        let frame = hx_rating_frame(
            sequence,
            "D-HX",
            u32::try_from(at.timestamp()).unwrap(),
            level,
            project,
            "T-QYSL",
            "排队两个小时没有人叫号",
        );
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/ingest/hx-pj200", self.server.url))
            .header("x-api-key", &self.device_key)
            .header("content-type", "application/vnd.hx-pj200")
            .body(frame)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert!(status == 200 || status == 201, "{status} {body}");
        body["results"][0]["id"]
            .as_u64()
            .or_else(|| body["id"].as_u64())
            .unwrap_or_else(|| panic!("no rating id in {body}"))
    }

    async fn order_of_rating(&self, rating: u64) -> Value {
        self.admin.bad_review_order(rating).await.unwrap()
    }
}

fn deadline(order: &Value, phase: &str) -> Value {
    order["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["phase"] == phase)
        .cloned()
        .unwrap_or_else(|| panic!("no {phase} in {order}"))
}

fn flags(order: &Value, phase: &str) -> Vec<String> {
    deadline(order, phase)["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|flag| flag["kind"].as_str().unwrap().to_string())
        .collect()
}

fn token_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_name_bad_review_through_every_phase_across_national_day() {
    // Tuesday 2026-09-29, 16:00. National Day runs 10-01..=10-07; Saturday 10-10 is a working
    // day (调休). 宝丰县's rules: 非常不满意 → contact within 4 hours; real-name → verify 2,
    // rectify 5, feedback 7, call-back 9 working days; appeal window 3 working days.
    let lp = start(beijing_at(9, 29, 16, 0)).await;
    let rating = lp
        .press(1, beijing_at(9, 29, 15, 55), 5, "BF-2026-0929-001")
        .await;
    let order = lp.order_of_rating(rating).await;
    let id = order["id"].as_u64().unwrap();
    assert_eq!(order["state"], "dispatched");
    assert_eq!(order["real_name"], true);
    assert_eq!(order["unit"], lp.fixture.department);
    assert_eq!(order["priority"], "high");
    for (phase, due) in [
        ("contact", beijing_at(9, 29, 20, 0)),
        ("verify", beijing_at(10, 9, 0, 0)),
        ("rectify", beijing_at(10, 13, 0, 0)),
        ("feedback", beijing_at(10, 15, 0, 0)),
        ("callback", beijing_at(10, 17, 0, 0)),
        ("appeal", beijing_at(10, 10, 0, 0)),
    ] {
        assert_eq!(instant(&deadline(&order, phase)["due"]), due, "{phase}");
    }

    // 19:30: the last quarter of the 4-hour contact phase → 预警 on contact only; the evaluator
    // is sent the tracking link (queued: no gateway in this test).
    let report = lp.sweep(beijing_at(9, 29, 19, 30)).await;
    assert_eq!(report["warnings"], 1, "{report}");
    assert_eq!(report["tracking_messages"], 1, "{report}");
    assert_eq!(flags(&lp.order(id).await, "contact"), ["warning"]);
    // Sweeping again as of the same instant changes nothing.
    let again = lp.sweep(beijing_at(9, 29, 19, 30)).await;
    assert_eq!(
        (
            again["warnings"].as_u64(),
            again["tracking_messages"].as_u64()
        ),
        (Some(0), Some(0))
    );

    // 初审: the handler says it is not theirs; the supervisor disagrees. The clock runs on.
    let (status, _) = lp.step(&lp.supervisor, id, json!({"type": "accept"})).await;
    assert_eq!(status, 403, "a supervisor does not do the unit's work");
    lp.ok(
        &lp.handler,
        id,
        json!({"type": "request_transfer", "reason": "排队叫号属于大厅管理，非本局事项", "to_unit": second_department()}),
    )
    .await;
    let (status, body) = lp.step(&lp.handler, id, json!({"type": "accept"})).await;
    assert_eq!(status, 422, "a pending transfer blocks acceptance: {body}");
    let (status, _) = lp
        .step(
            &lp.handler,
            id,
            json!({"type": "decide_transfer", "approve": false, "note": "窗口归口本局"}),
        )
        .await;
    assert_eq!(status, 403, "the unit cannot decide its own transfer");
    lp.ok(
        &lp.supervisor,
        id,
        json!({"type": "decide_transfer", "approve": false, "note": "窗口由本局派驻，仍由本局办理"}),
    )
    .await;
    lp.at(beijing_at(9, 29, 19, 40)).await;
    lp.ok(&lp.handler, id, json!({"type": "accept", "note": "受理"}))
        .await;
    lp.at(beijing_at(9, 29, 19, 50)).await;
    let order = lp
        .ok(
            &lp.handler,
            id,
            json!({"type": "contact", "note": "已电话联系评价人，致歉并说明将核实"}),
        )
        .await;
    assert_eq!(
        instant(&deadline(&order, "contact")["done_at"]),
        beijing_at(9, 29, 19, 50)
    );

    // The holiday counts for nothing: on 10-03 verification is not even due for a warning.
    let report = lp.sweep(beijing_at(10, 3, 12, 0)).await;
    assert_eq!(
        (report["warnings"].as_u64(), report["supervisions"].as_u64()),
        (Some(0), Some(0)),
        "{report}"
    );
    // 10-08 is verification's last working day: 预警.
    let report = lp.sweep(beijing_at(10, 8, 9, 0)).await;
    assert_eq!(report["warnings"], 1, "{report}");
    assert_eq!(flags(&lp.order(id).await, "verify"), ["warning"]);
    // 10-09: overdue → 督办, and the supervisor's list of supervised orders shows it.
    let report = lp.sweep(beijing_at(10, 9, 9, 0)).await;
    assert_eq!(report["supervisions"], 1, "{report}");
    let supervised = lp
        .supervisor
        .get("/api/v1/orders?flag=supervision")
        .await
        .unwrap();
    assert!(
        supervised["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|order| order["id"] == id && order["overdue"] == json!(["verify"])),
        "{supervised}"
    );
    // Saturday 10-10 is a working day (调休): one working day after the due date, so no 通报
    // yet; and the appeal window closed at its start.
    let report = lp.sweep(beijing_at(10, 10, 9, 0)).await;
    assert_eq!(report["notices"], 0, "{report}");
    let (status, body) = lp
        .step(
            &lp.handler,
            id,
            json!({"type": "appeal", "reason": "评价人未实际办理业务", "evidence": ["叫号记录"]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("appeal window closed"), "{body}");
    // Sunday 10-11 starts the second working day after the due date was missed: 通报.
    let report = lp.sweep(beijing_at(10, 11, 9, 0)).await;
    assert_eq!(report["notices"], 1, "{report}");
    assert_eq!(
        flags(&lp.order(id).await, "verify"),
        ["warning", "supervision", "notice"]
    );
    // The rectification's last working day (10-12) brings its 预警 — the verification is late,
    // the rectification still has the day.
    lp.at(beijing_at(10, 12, 9, 0)).await;
    lp.ok(
        &lp.handler,
        id,
        json!({"type": "verify", "finding": "当日叫号系统故障，评价属实"}),
    )
    .await;
    let (status, _) = lp
        .step(
            &lp.handler,
            id,
            json!({"type": "dispose", "disposition": {"type": "scheduled", "plan": "更换叫号系统主机", "committed_date": "2026-10-01"}}),
        )
        .await;
    assert_eq!(status, 422, "a committed date in the past is refused");
    lp.ok(
        &lp.handler,
        id,
        json!({"type": "dispose", "disposition": {"type": "scheduled", "plan": "更换叫号系统主机", "committed_date": "2026-10-12"}}),
    )
    .await;
    let report = lp.sweep(beijing_at(10, 12, 10, 0)).await;
    assert_eq!(report["warnings"], 1, "{report}");
    let order = lp.order(id).await;
    assert_eq!(flags(&order, "rectify"), ["warning"]);
    assert_eq!(order["state"], "rectifying");
    lp.at(beijing_at(10, 12, 15, 0)).await;
    lp.ok(
        &lp.handler,
        id,
        json!({"type": "rectified", "action": "已更换叫号主机并增设人工引导"}),
    )
    .await;
    let (status, _) = lp
        .step(
            &lp.handler,
            id,
            json!({"type": "close", "root_cause": "system", "action_taken": "x"}),
        )
        .await;
    assert_eq!(status, 422, "no closing before feedback and call-back");
    lp.at(beijing_at(10, 12, 16, 0)).await;
    let order = lp
        .ok(
            &lp.handler,
            id,
            json!({"type": "feedback", "message": "叫号系统已更换，并在高峰时段增设人工引导，感谢您的监督。"}),
        )
        .await;
    assert_eq!(order["state"], "feedback_given");
    assert_eq!(
        deadline(&order, "rectify")["flags"],
        json!([{"kind": "warning", "at": beijing_at(10, 12, 10, 0)}])
    );

    // The citizen follows the link: no personal data, the answer, and the rating form.
    let order = lp.agent.get(&format!("/api/v1/orders/{id}")).await.unwrap();
    let link = order["tracking_url"].as_str().unwrap().to_string();
    assert!(link.starts_with("http://hcp.example/t/"), "{link}");
    let token = token_of(&link).to_string();
    let tracked: Value = reqwest::get(format!("{}/api/v1/track/{token}", lp.server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tracked["can_rate"], true, "{tracked}");
    assert!(
        tracked["answer"]
            .as_str()
            .unwrap()
            .contains("叫号系统已更换")
    );
    let page = reqwest::get(format!("{}/t/{token}", lp.server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("请您评价整改情况"), "{page}");
    for secret in ["13812341234", "138****", "handler"] {
        assert!(!page.contains(secret), "the page shows {secret}");
        assert!(
            !tracked.to_string().contains(secret),
            "the view shows {secret}"
        );
    }
    let wrong = reqwest::get(format!("{}/api/v1/track/{}", lp.server.url, "0".repeat(32)))
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 404);

    // 10-13 10:00: 不满意 through the link reopens the order with fresh deadlines from now:
    // rectify 5 working days → 10-14, 15, 16, 19, 20; feedback 7 → 10-22; call-back 9 → 10-26.
    lp.at(beijing_at(10, 13, 10, 0)).await;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/api/v1/track/{token}/evaluation", lp.server.url))
        .json(&json!({"level": "dissatisfied"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let order = lp.order(id).await;
    assert_eq!(order["state"], "verified");
    assert_eq!(order["reopened"], 1);
    assert_eq!(
        instant(&deadline(&order, "rectify")["due"]),
        beijing_at(10, 21, 0, 0)
    );
    assert_eq!(
        instant(&deadline(&order, "feedback")["due"]),
        beijing_at(10, 23, 0, 0)
    );
    assert_eq!(
        instant(&deadline(&order, "callback")["due"]),
        beijing_at(10, 27, 0, 0)
    );
    assert_eq!(deadline(&order, "rectify")["done_at"], Value::Null);
    let again = client
        .post(format!("{}/api/v1/track/{token}/evaluation", lp.server.url))
        .json(&json!({"level": "satisfied"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 409, "one rating per round");

    // Second round: fixed at once, fed back, called back (two unreachable attempts first).
    lp.at(beijing_at(10, 14, 9, 0)).await;
    lp.ok(
        &lp.handler,
        id,
        json!({"type": "dispose", "disposition": {"type": "immediate", "action": "高峰时段由科长现场值守叫号"}}),
    )
    .await;
    lp.ok(
        &lp.handler,
        id,
        json!({"type": "feedback", "message": "高峰时段已安排专人现场值守叫号。"}),
    )
    .await;
    let calls = lp.agent.get("/api/v1/calls").await.unwrap();
    assert_eq!(calls["real_name_waiting"], 1, "{calls}");
    assert_eq!(calls["orders"][0]["order_id"], id);
    assert_eq!(
        instant(&calls["orders"][0]["callback_due"]),
        beijing_at(10, 27, 0, 0)
    );
    lp.at(beijing_at(10, 15, 10, 0)).await;
    for _ in 0..2 {
        lp.agent
            .post(
                &format!("/api/v1/calls/orders/{id}"),
                &json!({"outcome": "unreachable", "note": "无人接听"}),
            )
            .await
            .unwrap();
    }
    let order = lp
        .agent
        .post(
            &format!("/api/v1/calls/orders/{id}"),
            &json!({"outcome": "satisfied", "note": "评价人表示满意"}),
        )
        .await
        .unwrap();
    assert_eq!(order["state"], "called_back");
    assert_eq!(order["calls"].as_array().unwrap().len(), 3);
    let calls = lp.agent.get("/api/v1/calls").await.unwrap();
    assert_eq!(calls["real_name_waiting"], 0, "{calls}");

    // 结案 needs a root cause and the action.
    let (status, _) = lp
        .step(
            &lp.handler,
            id,
            json!({"type": "close", "root_cause": "system", "action_taken": " "}),
        )
        .await;
    assert_eq!(status, 422);
    lp.at(beijing_at(10, 16, 9, 0)).await;
    let order = lp
        .ok(
            &lp.handler,
            id,
            json!({"type": "close", "root_cause": "system", "action_taken": "更换叫号主机，高峰专人值守"}),
        )
        .await;
    assert_eq!(order["state"], "closed");
    assert_eq!(order["closure"]["root_cause"], "system");
    for (phase, done) in [
        ("contact", beijing_at(9, 29, 19, 50)),
        ("verify", beijing_at(10, 12, 9, 0)),
        ("rectify", beijing_at(10, 14, 9, 0)),
        ("feedback", beijing_at(10, 14, 9, 0)),
        ("callback", beijing_at(10, 15, 10, 0)),
    ] {
        assert_eq!(
            instant(&deadline(&order, phase)["done_at"]),
            done,
            "{phase}"
        );
    }
    // Closed orders raise nothing more.
    let report = lp.sweep(beijing_at(11, 30, 9, 0)).await;
    assert_eq!(
        (
            report["warnings"].as_u64(),
            report["supervisions"].as_u64(),
            report["notices"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    let tracked: Value = reqwest::get(format!("{}/api/v1/track/{token}", lp.server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tracked["state"], "closed");

    // Every step is in the chained log: the audit trail verifies.
    let data = lp.data.clone();
    lp.server.stop().unwrap();
    let output = std::process::Command::new(binary("debug").unwrap())
        .args(["audit", "verify", "--data"])
        .arg(&data)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upheld_appeal_leaves_assessment_but_stays_in_raw_totals() {
    let lp = start(beijing_at(11, 2, 10, 0)).await;
    let rating = lp
        .press(1, beijing_at(11, 2, 9, 30), 4, "BF-2026-1102-001")
        .await;
    lp.press(2, beijing_at(11, 2, 9, 40), 1, "BF-2026-1102-002")
        .await;
    let id = lp.order_of_rating(rating).await["id"].as_u64().unwrap();
    lp.ok(&lp.handler, id, json!({"type": "accept"})).await;
    let (status, body) = lp
        .step(
            &lp.handler,
            id,
            json!({"type": "appeal", "reason": "评价人误操作", "evidence": []}),
        )
        .await;
    assert_eq!(status, 422, "evidence is required: {body}");
    lp.ok(
        &lp.handler,
        id,
        json!({"type": "appeal", "reason": "评价人当场误按，已书面说明", "evidence": ["评价人说明书.pdf", "窗口录像 09:28-09:31"]}),
    )
    .await;
    // A supervisor is not a reviewer, and a reviewer inside the unit may not decide.
    let (status, _) = lp
        .step(
            &lp.supervisor,
            id,
            json!({"type": "decide_appeal", "upheld": true, "note": "同意"}),
        )
        .await;
    assert_eq!(status, 403);
    let inside = lp
        .admin
        .create_user("inside", "reviewer", &lp.fixture.department)
        .await
        .unwrap();
    let (status, _) = lp
        .step(
            &inside,
            id,
            json!({"type": "decide_appeal", "upheld": true, "note": "同意"}),
        )
        .await;
    assert_eq!(status, 403);
    let order = lp
        .ok(
            &lp.reviewer,
            id,
            json!({"type": "decide_appeal", "upheld": true, "note": "录像显示评价人误按，申诉成立"}),
        )
        .await;
    assert_eq!(order["state"], "closed");
    assert_eq!(order["closure"]["outcome"], "appeal_upheld");

    // Raw totals keep it; assessment subtracts it.
    let rows = lp
        .admin
        .get("/api/v1/rollups?dim=region&unit=410421&from=2026-11-02&to=2026-11-02")
        .await
        .unwrap();
    let total = &rows.as_array().unwrap()[0];
    assert_eq!(total["ratings"], 2, "{total}");
    assert_eq!(total["bad"], 1, "{total}");
    assert_eq!(total["real_name_bad"], 1, "{total}");
    assert_eq!(total["invalid"], 1, "{total}");
    assert_eq!(total["invalid_bad"], 1, "{total}");
    assert_eq!(total["invalid_real_name_bad"], 1, "{total}");
    let stored = lp
        .admin
        .get(&format!("/api/v1/ratings/{rating}"))
        .await
        .unwrap();
    assert_eq!(stored["level"], "dissatisfied");
    assert!(
        stored["invalid"]["reason"]
            .as_str()
            .unwrap()
            .contains("申诉成立"),
        "{stored}"
    );
    // Moderation: a reviewer decides the comment stays internal.
    let moderated = lp
        .reviewer
        .post(
            &format!("/api/v1/ratings/{rating}/moderation"),
            &json!({"publish": false, "note": "误评，不予公开"}),
        )
        .await
        .unwrap();
    assert!(moderated["seq"].as_u64().is_some());
    let stored = lp
        .admin
        .get(&format!("/api/v1/ratings/{rating}"))
        .await
        .unwrap();
    assert_eq!(stored["moderation"]["publish"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suggestion_is_routed_timed_and_answered() {
    let lp = start(beijing_at(11, 2, 10, 0)).await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/intake", lp.server.url))
        .json(&json!({
            "kind": "suggestion",
            "area_code": "410421",
            "department": lp.fixture.department,
            "text": "建议周六上午增开企业登记窗口，联系电话13912345678",
            "phone": "13912345678",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let receipt: Value = response.json().await.unwrap();
    let id = receipt["order_id"].as_u64().unwrap();
    assert_eq!(receipt["unit"], lp.fixture.department);
    // Suggestions: contact 1 working day, answer within 10 (from Monday 11-02 → 11-16).
    let due: Vec<_> = receipt["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["phase"].as_str().unwrap().to_string(), instant(&d["due"])))
        .collect();
    assert_eq!(
        due,
        [
            ("contact".to_string(), beijing_at(11, 4, 0, 0)),
            ("feedback".to_string(), beijing_at(11, 17, 0, 0)),
        ]
    );
    let order = lp.order(id).await;
    assert_eq!(order["kind"], "suggestion");
    assert_eq!(order["category"], "suggestion");
    assert_eq!(order["priority"], "low");
    assert!(!order.to_string().contains("13912345678"), "{order}");
    assert!(order["text"].as_str().unwrap().contains("***********"));
    let (status, _) = lp
        .step(&lp.handler, id, json!({"type": "verify", "finding": "x"}))
        .await;
    assert_eq!(status, 422);
    lp.ok(&lp.handler, id, json!({"type": "accept"})).await;
    let order = lp
        .ok(
            &lp.handler,
            id,
            json!({"type": "answer", "reply": "自11月7日起周六上午开放企业登记窗口。"}),
        )
        .await;
    assert_eq!(order["state"], "closed");
    assert_eq!(order["closure"]["outcome"], "answered");
    let tracked: Value = reqwest::get(format!(
        "{}/api/v1/track/{}",
        lp.server.url,
        token_of(receipt["tracking_url"].as_str().unwrap())
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(tracked["answer"].as_str().unwrap().contains("周六上午"));
    // The one intake refuses what is not an intake.
    let refused = reqwest::Client::new()
        .post(format!("{}/api/v1/intake", lp.server.url))
        .json(&json!({"kind": "bad_review", "area_code": "410421", "text": "差"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 422);
}
