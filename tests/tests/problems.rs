//! Systemic problems (批处理) on the real binary: real-name bad reviews that share an indicator
//! at two windows are proposed as one cluster; a county supervisor confirms it, and the orders
//! follow the problem in 整改中; resolving it feeds every evaluator back by SMS in the same
//! transaction and puts the orders on the call list; a second resolution is refused. A problem
//! of policy does not blame staff, and the owner department's handler may resolve it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use hcp_e2e::{Fixture, Seeded, Server, Session, SmsGateway, rating, start_seeded};
use serde_json::{Value, json};

struct County {
    server: Server,
    admin: Session,
    supervisor: Session,
    fixture: Fixture,
    _dir: tempfile::TempDir,
}

/// The due date `days` ahead, China time.
fn due_in(days: u64) -> String {
    ((chrono::Utc::now() + chrono::Duration::hours(8)).date_naive() + chrono::Days::new(days))
        .to_string()
}

impl County {
    /// 宝丰县 with a second window of the same department, a county supervisor, and the
    /// background sweep off (nothing is delivered or flagged behind the test's back);
    /// `messages` is the config's `[messages]` table.
    async fn start(messages: &str) -> County {
        let Seeded {
            server,
            admin,
            fixture,
            dir,
            ..
        } = start_seeded(&format!(
            "[workflow]\nsweep_secs = 0\n[messages]\n{messages}"
        ))
        .await
        .unwrap();
        admin
            .post(
                "/api/v1/admin/master",
                &json!({"kind": "org_unit", "record": {"id": "W-BF-02", "kind": "window", "name": "综合窗口2", "parent": "H-BF", "department": fixture.department, "has_device": true}}),
            )
            .await
            .unwrap();
        let supervisor = admin
            .create_user("bf-jd", "supervisor", "410421")
            .await
            .unwrap();
        County {
            server,
            admin,
            supervisor,
            fixture,
            _dir: dir,
        }
    }

    /// Records a real-name 差评 at `window` with `indicator`; returns the rating id.
    async fn bad_review(&self, event: &str, window: &str, indicator: &str, phone: &str) -> u64 {
        let mut body = rating(&self.fixture, event, &format!("P-{event}"), phone);
        body["level"] = json!("dissatisfied");
        body["window"] = json!(window);
        body["indicators"] = json!([indicator]);
        body["text"] = json!("排队等候时间太长");
        let (status, recorded) = self
            .fixture
            .ingest(&self.server.url, "ratings", &body)
            .await
            .unwrap();
        assert_eq!(status, 201, "{recorded}");
        recorded["id"].as_u64().unwrap()
    }

    /// Three real-name 差评 on waiting time (510) at two windows, and one on attitude (501)
    /// that shares nothing but the item; returns the ids of the three.
    async fn waiting_reviews(&self) -> BTreeSet<u64> {
        let mut ratings = BTreeSet::new();
        for (event, window, phone) in [
            ("wait-1", "W-BF-01", "13900000001"),
            ("wait-2", "W-BF-02", "13900000002"),
            ("wait-3", "W-BF-01", "13900000003"),
        ] {
            ratings.insert(self.bad_review(event, window, "510", phone).await);
        }
        ratings
    }

    /// The proposal that holds the waiting-time cluster.
    async fn waiting_proposal(&self) -> Value {
        let (status, list) = self
            .supervisor
            .try_get("/api/v1/problems/proposals")
            .await
            .unwrap();
        assert_eq!(status, 200, "{list}");
        let proposals = list["proposals"].as_array().unwrap();
        proposals
            .iter()
            .find(|proposal| {
                proposal["basis"] == "indicator:510"
                    || proposal["also"]
                        .as_array()
                        .unwrap()
                        .contains(&json!("indicator:510"))
            })
            .unwrap_or_else(|| panic!("no cluster on indicator 510: {list}"))
            .clone()
    }

    /// Confirms the proposal as a problem of `cause`; returns the problem.
    async fn confirm(&self, proposal: &Value, cause: &str) -> Value {
        let (status, problem) = self
            .supervisor
            .try_post(
                "/api/v1/problems",
                &json!({
                    "title": "企业设立登记等候时间过长",
                    "cause": cause,
                    "owner": self.fixture.department,
                    "plan": "高峰时段增开综合窗口，推行预约办理",
                    "due": due_in(10),
                    "region": "410421",
                    "basis": proposal["basis"],
                    "orders": proposal["orders"],
                }),
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{problem}");
        problem
    }

    /// Confirms and resolves the waiting-time cluster; returns the resolution report.
    async fn resolved(&self) -> Value {
        self.waiting_reviews().await;
        let proposal = self.waiting_proposal().await;
        let problem = self.confirm(&proposal, "process").await;
        let id = problem["id"].as_u64().unwrap();
        let (status, report) = self
            .supervisor
            .try_post(
                &format!("/api/v1/problems/{id}/resolve"),
                &json!({"action": "增开两个综合窗口，上线预约取号", "message": "已增开窗口并推行预约办理，高峰等候时间明显缩短"}),
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{report}");
        report
    }
}

fn ids(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmed_cluster_is_rectified_together_and_every_evaluator_fed_back() {
    let county = County::start("").await;
    let ratings = county.waiting_reviews().await;
    county
        .bad_review("attitude-1", "W-BF-02", "501", "13900000009")
        .await;

    // The proposal: the three waiting-time orders, both windows, every one real-name.
    let proposal = county.waiting_proposal().await;
    let orders = ids(&proposal["orders"]);
    assert_eq!(orders.len(), 3, "{proposal}");
    assert_eq!(
        proposal["windows"],
        json!(["W-BF-01", "W-BF-02"]),
        "{proposal}"
    );
    assert_eq!(proposal["real_name"], 3, "{proposal}");
    assert_eq!(proposal["suggested_cause"], "process", "{proposal}");
    assert_eq!(
        proposal["suggested_owner"],
        json!(county.fixture.department)
    );
    assert_eq!(proposal["names"]["W-BF-02"], "综合窗口2", "{proposal}");
    assert_eq!(
        proposal["names"][county.fixture.department.as_str()],
        "宝丰县市场监督管理局"
    );
    // The attitude review shares only the item with them: the item cluster holds all four
    // and ranks first, named.
    let (_, list) = county
        .supervisor
        .try_get("/api/v1/problems/proposals")
        .await
        .unwrap();
    let item = &list["proposals"][0];
    assert_eq!(item["basis"], "item:T-QYSL", "{list}");
    assert_eq!(ids(&item["orders"]).len(), 4, "{list}");
    assert_eq!(item["item_name"], "企业设立登记", "{list}");
    // Asking for more orders than there are proposes nothing; the city is outside the county
    // supervisor's scope.
    let (_, none) = county
        .supervisor
        .try_get("/api/v1/problems/proposals?min_orders=5")
        .await
        .unwrap();
    assert_eq!(none["proposals"], json!([]), "{none}");
    let (status, _) = county
        .supervisor
        .try_get("/api/v1/problems/proposals?region=410400")
        .await
        .unwrap();
    assert_eq!(status, 403);

    // Confirmed: every order follows the problem, 整改中.
    let problem = county.confirm(&proposal, "process").await;
    let id = problem["id"].as_u64().unwrap();
    assert_eq!(problem["state"], "open");
    assert_eq!(problem["basis"], proposal["basis"]);
    assert_eq!(ids(&problem["orders"]), orders);
    let (status, detail) = county
        .supervisor
        .try_get(&format!("/api/v1/problems/{id}"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["counts"]["rectifying"], 3, "{detail}");
    assert_eq!(detail["counts"]["real_name"], 3, "{detail}");
    assert_eq!(
        detail["blames_staff"], true,
        "a process problem may be staff's: {detail}"
    );
    let linked = detail["orders"].as_array().unwrap();
    assert!(
        linked
            .iter()
            .all(|order| order["state"] == "rectifying" && order["follows"] == true),
        "{detail}"
    );
    let behind: BTreeSet<u64> = linked
        .iter()
        .map(|order| order["rating_id"].as_u64().unwrap())
        .collect();
    assert_eq!(behind, ratings, "the orders are those of the three 差评");
    // Linked orders are no longer proposed, and cannot join a second problem.
    let (_, after) = county
        .supervisor
        .try_get("/api/v1/problems/proposals")
        .await
        .unwrap();
    assert_eq!(after["proposals"], json!([]), "{after}");
    let (status, refused) = county
        .supervisor
        .try_post(
            "/api/v1/problems",
            &json!({"title": "重复", "cause": "process", "owner": county.fixture.department, "plan": "同上", "due": due_in(10), "region": "410421", "orders": orders}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already follows a problem"),
        "{refused}"
    );

    // Resolved: every order 已反馈, one feedback SMS per evaluator.
    let (status, report) = county
        .supervisor
        .try_post(
            &format!("/api/v1/problems/{id}/resolve"),
            &json!({"action": "增开两个综合窗口，上线预约取号", "message": "已增开窗口并推行预约办理"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["orders_fed_back"], 3, "{report}");
    assert_eq!(report["messages_queued"], 3, "{report}");
    assert_eq!(ids(&report["message_ids"]).len(), 3, "{report}");
    assert_eq!(report["without_phone"], json!([]), "{report}");
    assert_eq!(report["problem"]["state"], "done", "{report}");
    assert_eq!(report["problem"]["done_by"], "bf-jd", "{report}");
    let (_, detail) = county
        .supervisor
        .try_get(&format!("/api/v1/problems/{id}"))
        .await
        .unwrap();
    assert_eq!(detail["counts"]["feedback_given"], 3, "{detail}");
    assert_eq!(detail["counts"]["rectifying"], 0, "{detail}");
    assert!(
        detail["orders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|order| order["state"] == "feedback_given"),
        "{detail}"
    );

    // Resolving again is refused, and the refusal queues nothing.
    let (status, again) = county
        .supervisor
        .try_post(
            &format!("/api/v1/problems/{id}/resolve"),
            &json!({"action": "再次整改", "message": "再次反馈"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{again}");
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already done"),
        "{again}"
    );

    // The list shows it, done; only supervisors, administrators and the owner resolve.
    let done = county
        .supervisor
        .get_list("/api/v1/problems?state=done")
        .await
        .unwrap();
    let listed: Vec<u64> = done
        .as_array()
        .unwrap()
        .iter()
        .map(|problem| problem["id"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, vec![id], "{done}");
    let open = county
        .supervisor
        .get_list("/api/v1/problems?state=open")
        .await
        .unwrap();
    assert_eq!(open, json!([]));
    let agent = county
        .admin
        .create_user("bf-hf", "callback_agent", "410421")
        .await
        .unwrap();
    let (status, _) = agent
        .try_post(
            &format!("/api/v1/problems/{id}/resolve"),
            &json!({"action": "x", "message": "y"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 403, "a call-back agent resolves nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_problem_does_not_blame_staff_and_its_owner_resolves_it() {
    let county = County::start("").await;
    county.waiting_reviews().await;
    let proposal = county.waiting_proposal().await;
    // The waiting comes from a rule (every original verified on site): the supervisor calls
    // it policy.
    let problem = county.confirm(&proposal, "policy").await;
    let id = problem["id"].as_u64().unwrap();
    assert_eq!(problem["cause"], "policy");
    let (_, detail) = county
        .supervisor
        .try_get(&format!("/api/v1/problems/{id}"))
        .await
        .unwrap();
    assert_eq!(detail["blames_staff"], false, "{detail}");

    // A handler of another department may not resolve it; the owner's handler may.
    let other = hcp_e2e::credit_code("11410421MB0000002");
    county
        .admin
        .post(
            "/api/v1/admin/master",
            &json!({"kind": "org_unit", "record": {"id": other, "kind": "department", "name": "宝丰县人力资源和社会保障局", "parent": "410421"}}),
        )
        .await
        .unwrap();
    let stranger = county
        .admin
        .create_user("rs-bl", "department_handler", &other)
        .await
        .unwrap();
    let resolve = json!({"action": "报请市局调整材料清单", "message": "材料清单已按新规精简"});
    let (status, _) = stranger
        .try_post(&format!("/api/v1/problems/{id}/resolve"), &resolve)
        .await
        .unwrap();
    assert_eq!(status, 404, "the problem lies outside the stranger's scope");
    let owner = county
        .admin
        .create_user("sj-bl", "department_handler", &county.fixture.department)
        .await
        .unwrap();
    let (status, report) = owner
        .try_post(&format!("/api/v1/problems/{id}/resolve"), &resolve)
        .await
        .unwrap();
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["orders_fed_back"], 3, "{report}");
    assert_eq!(report["messages_queued"], 3, "{report}");
    assert_eq!(report["problem"]["done_by"], "sj-bl");
}

/// Needs the work-order endpoints (`GET /api/v1/orders/{id}`, `GET /api/v1/calls`) and the
/// sweep (`POST /api/v1/admin/sweep`), which hands queued messages to the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_evaluator_gets_one_feedback_sms_and_every_order_waits_for_its_call_back() {
    let gateway = SmsGateway::start().unwrap();
    let county = County::start(&format!(
        "gateway_url = \"{}\"\npublic_url = \"http://hcp.example\"\n",
        gateway.url()
    ))
    .await;
    let report = county.resolved().await;
    let problem_id = report["problem"]["id"].as_u64().unwrap();
    let orders = ids(&report["problem"]["orders"]);
    assert_eq!(report["messages_queued"], 3, "{report}");

    // Delivered: one feedback SMS per evaluator, with the message and their tracking link.
    let (status, swept) = county
        .admin
        .try_post("/api/v1/admin/sweep", &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 200, "POST /api/v1/admin/sweep: {swept}");
    let feedback = gateway.of_purpose("feedback");
    let phones: BTreeSet<&str> = feedback
        .iter()
        .map(|message| message["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        phones,
        BTreeSet::from(["13900000001", "13900000002", "13900000003"]),
        "{feedback:?}"
    );
    assert_eq!(feedback.len(), 3, "{feedback:?}");
    for message in &feedback {
        let text = message["text"].as_str().unwrap();
        assert!(text.contains("已增开窗口并推行预约办理"), "{text}");
        assert!(text.contains("http://hcp.example/t/"), "{text}");
    }
    for id in &orders {
        assert!(
            feedback.iter().any(|message| message["text"]
                .as_str()
                .unwrap()
                .contains(&format!("工单{id}"))),
            "order {id} fed back: {feedback:?}"
        );
    }

    // A refused second resolution sends nobody anything.
    let (status, _) = county
        .supervisor
        .try_post(
            &format!("/api/v1/problems/{problem_id}/resolve"),
            &json!({"action": "再次整改", "message": "再次反馈"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422);
    let (status, _) = county
        .admin
        .try_post("/api/v1/admin/sweep", &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(gateway.of_purpose("feedback").len(), 3);

    // Each order stands 已反馈 with the problem, and on the call list once.
    for id in &orders {
        let (status, order) = county
            .supervisor
            .try_get(&format!("/api/v1/orders/{id}"))
            .await
            .unwrap();
        assert_eq!(status, 200, "GET /api/v1/orders/{id}: {order}");
        assert_eq!(order["state"], "feedback_given", "{order}");
        assert_eq!(order["problem"], problem_id, "{order}");
    }
    let (status, calls) = county.admin.try_get("/api/v1/calls").await.unwrap();
    assert_eq!(status, 200, "GET /api/v1/calls: {calls}");
    let listed: Vec<u64> = calls["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|call| call["order_id"].as_u64().unwrap())
        .collect();
    for id in &orders {
        assert_eq!(
            listed.iter().filter(|listed| *listed == id).count(),
            1,
            "order {id} on the call list once: {calls}"
        );
    }
}
