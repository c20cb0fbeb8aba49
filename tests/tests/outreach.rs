//! Invitations, call list, default ratings and message delivery on the real binary, with a real
//! SMS gateway: a local HTTP receiver that keeps what it is sent and can be told to fail. The
//! platform runs on a manual clock; each step moves it and runs a sweep as of that instant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use hcp_e2e::{Fixture, Seeded, Server, Session, SmsGateway, rules_dir, start_seeded};
use serde_json::{Value, json};

/// 2026-03-02 09:00 China time, a Monday with no holiday in the following weeks.
const START: &str = "2026-03-02T01:00:00Z";
const PUBLIC_URL: &str = "https://hcp.example.gov.cn";
const GATEWAY_TOKEN: &str = "gw-secret";

struct Platform {
    server: Server,
    admin: Session,
    fixture: Fixture,
    gateway: SmsGateway,
    _dir: tempfile::TempDir,
}

fn start_time() -> DateTime<Utc> {
    START.parse().unwrap()
}

fn hours(count: i64) -> DateTime<Utc> {
    start_time() + Duration::hours(count)
}

async fn start() -> Platform {
    start_with(SmsGateway::start().unwrap()).await
}

async fn start_with(gateway: SmsGateway) -> Platform {
    let Seeded {
        server,
        admin,
        fixture,
        dir,
        ..
    } = start_seeded(&format!(
        "rules_dir = {rules:?}\n\n[security]\n# The clock moves weeks ahead; sessions must outlive it.\ntoken_hours = 8760\nidle_minutes = 525600\n\n[clock]\nmanual_start = {START:?}\n\n[workflow]\nsweep_secs = 0\n\n\
         [messages]\ngateway_url = {gateway:?}\ngateway_token = {GATEWAY_TOKEN:?}\n\
         public_url = \"{PUBLIC_URL}/\"\nmax_attempts = 5\nretry_secs = 60\ntimeout_ms = 5000\n",
        rules = rules_dir().display().to_string(),
        gateway = gateway.url(),
    ))
    .await
    .unwrap();
    Platform {
        server,
        admin,
        fixture,
        gateway,
        _dir: dir,
    }
}

impl Platform {
    /// A completed service act `project_no`#1 at window W-BF-01, at the start.
    async fn completed_service(&self, project_no: &str, phone: Option<&str>) {
        self.completed_service_online(project_no, phone, false)
            .await;
    }

    /// The same, handled online (一事一评) or not.
    async fn completed_service_online(&self, project_no: &str, phone: Option<&str>, online: bool) {
        let mut event = json!({
            "event_id": format!("svc-{project_no}"),
            "project_no": project_no,
            "project_name": "企业设立登记申请",
            "task_code": "T-QYSL",
            "department": self.fixture.department,
            "area_code": "410421",
            "service_number": 1,
            "service_name": "申报",
            "status": "completed",
            "occurred_at": START,
            "window": "W-BF-01",
            "online": online,
        });
        if let Some(phone) = phone {
            event["applicant_phone"] = json!(phone);
        }
        assert_eq!(self.ingest("service-events", &event).await, 201);
    }

    /// Posts to the fixture's source (`ratings`, `service-events`) with its key; the status.
    async fn ingest(&self, kind: &str, body: &Value) -> u16 {
        self.fixture
            .ingest(&self.server.url, kind, body)
            .await
            .unwrap()
            .0
    }

    /// Moves the clock to `at` and sweeps as of it; the sweep reports no error.
    async fn sweep(&self, at: DateTime<Utc>) -> Value {
        let report = self.sweep_reporting(at).await;
        assert_eq!(report["errors"], json!([]), "sweep as of {at}: {report}");
        report
    }

    /// Moves the clock to `at` and sweeps as of it.
    async fn sweep_reporting(&self, at: DateTime<Utc>) -> Value {
        self.admin.sweep_at(at).await.unwrap()
    }

    async fn plan(&self, project_no: &str) -> Value {
        self.admin
            .get(&format!("/api/v1/services/{project_no}/1/plan"))
            .await
            .unwrap()
    }

    async fn messages(&self, query: &str) -> Vec<Value> {
        self.admin
            .get_list(&format!("/api/v1/messages?{query}"))
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    async fn ratings_of(&self, project_no: &str) -> Vec<Value> {
        self.admin
            .all_ratings("unit=410421")
            .await
            .unwrap()
            .into_iter()
            .filter(|rating| rating["project_no"] == project_no)
            .collect()
    }

    async fn listed_calls(&self) -> Vec<Value> {
        self.admin.get("/api/v1/calls").await.unwrap()["services"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Creates a user and signs them in.
    async fn user(&self, username: &str, role: &str, scope: &str) -> Session {
        self.admin.create_user(username, role, scope).await.unwrap()
    }
}

fn counter(report: &Value, name: &str) -> u64 {
    report[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no {name}: {report}"))
}

/// The rating link in a message text, and its token.
fn link(text: &str) -> (String, String) {
    let start = text
        .find(&format!("{PUBLIC_URL}/r/"))
        .unwrap_or_else(|| panic!("no rating link in {text:?}"));
    let url: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_graphic())
        .collect();
    let token = url.rsplit('/').next().unwrap().to_string();
    (url, token)
}

/// A POST of the rating page's form.
async fn post_form(url: &str, token: &str, form: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{url}/api/v1/public/rate/{token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_invitation_is_retried_until_the_gateway_takes_it_and_its_link_rates_the_service() {
    let platform = start().await;
    platform.gateway.fail_next(2);
    platform
        .completed_service("BF-SMS-1", Some("13912345678"))
        .await;

    let plan = platform.plan("BF-SMS-1").await;
    assert_eq!(plan["contact"], "139****5678", "{plan}");
    let planned: Vec<(String, String)> = plan["planned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| {
            (
                task["action"]["type"].as_str().unwrap().to_string(),
                task["at"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(planned.len(), 3, "{plan}");
    assert_eq!(planned[0].0, "invite_sms");
    assert_eq!(planned[0].1.parse::<DateTime<Utc>>().unwrap(), hours(24));
    assert_eq!(planned[1].0, "invite_phone");
    assert_eq!(planned[1].1.parse::<DateTime<Utc>>().unwrap(), hours(72));
    assert_eq!(planned[2].0, "default_rating");
    let hooks: Vec<&str> = plan["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|decision| decision["hook"].as_str().unwrap())
        .collect();
    assert!(
        hooks.contains(&"invitation") && hooks.contains(&"default_rating"),
        "{plan}"
    );

    // Not due an hour before; due at +24 h, where the gateway fails twice.
    let report = platform.sweep(hours(23)).await;
    assert_eq!(counter(&report, "invitations"), 0, "{report}");
    assert!(platform.gateway.received().is_empty());
    let first = hours(24);
    let report = platform.sweep(first).await;
    assert_eq!(counter(&report, "invitations"), 1, "{report}");
    assert_eq!(counter(&report, "messages_failed"), 1, "{report}");
    assert_eq!(counter(&report, "messages_sent"), 0, "{report}");
    assert_eq!(platform.gateway.received().len(), 1);
    // Retried after 60 s, then after 120 s more; nothing in between.
    for (at, sent, failed, received) in [
        (first + Duration::seconds(59), 0, 0, 1),
        (first + Duration::seconds(60), 0, 1, 2),
        (first + Duration::seconds(179), 0, 0, 2),
        (first + Duration::seconds(180), 1, 0, 3),
        (first + Duration::seconds(900), 0, 0, 3),
    ] {
        let report = platform.sweep(at).await;
        assert_eq!(counter(&report, "messages_sent"), sent, "{at}: {report}");
        assert_eq!(
            counter(&report, "messages_failed"),
            failed,
            "{at}: {report}"
        );
        assert_eq!(counter(&report, "invitations"), 0, "{at}: {report}");
        assert_eq!(platform.gateway.received().len(), received, "{at}");
    }

    let received = platform.gateway.received();
    let body = &received[0].body;
    for request in &received {
        assert_eq!(request.body, *body, "every attempt sends the same message");
        assert_eq!(
            request.authorization.as_deref(),
            Some(format!("Bearer {GATEWAY_TOKEN}").as_str())
        );
    }
    assert_eq!(body["channel"], "sms");
    assert_eq!(body["purpose"], "invitation");
    assert_eq!(body["to"], "13912345678");
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("企业设立登记"), "{text}");
    let (url, token) = link(text);
    // The number, whole or masked, is nowhere in the link. (Shorter runs of its digits are not
    // checked: the link's random hex token holds any three digits now and then.)
    for personal in ["13912345678", "139****5678", "139%2A%2A%2A%2A5678"] {
        assert!(!url.contains(personal), "{personal} in the link {url}");
    }

    let sent = platform.messages("state=sent").await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let message = &sent[0];
    assert_eq!(message["id"], body["id"]);
    assert_eq!(message["subject"], "service:BF-SMS-1/1");
    assert_eq!(message["to_masked"], "139****5678");
    let attempts: Vec<(bool, DateTime<Utc>)> = message["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| {
            (
                attempt["ok"].as_bool().unwrap(),
                attempt["at"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (false, first),
            (false, first + Duration::seconds(60)),
            (true, first + Duration::seconds(180)),
        ]
    );
    assert_eq!(message["attempts"][2]["gateway_id"], "gw-3");
    let shown = message.to_string();
    assert!(!shown.contains("13912345678"), "{shown}");
    assert!(
        !shown.contains(&token),
        "a view never shows the link's token: {shown}"
    );
    assert!(platform.messages("state=queued").await.is_empty());

    // The citizen opens the link: the service, the five levels, nothing personal.
    let page = reqwest::get(format!("{}/r/{token}", platform.server.url))
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(
        page.headers()["cache-control"].to_str().unwrap(),
        "no-store"
    );
    let html = page.text().await.unwrap();
    for expected in [
        "非常满意",
        "基本满意",
        "不满意",
        "非常不满意",
        "企业设立登记",
        "申报",
        "宝丰县市场监督管理局",
    ] {
        assert!(html.contains(expected), "{expected} missing: {html}");
    }
    for personal in ["13912345678", "139****5678", "企业设立登记申请"] {
        assert!(!html.contains(personal), "{personal} on the page");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    let mut forged = token.clone().into_bytes();
    forged[5] = if forged[5] == b'a' { b'b' } else { b'a' };
    let forged = String::from_utf8(forged).unwrap();
    let response = reqwest::get(format!("{}/r/{forged}", platform.server.url))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let (status, _) = post_form(&platform.server.url, &forged, "level=satisfied&text=").await;
    assert_eq!(status, 404);

    // A 差评 needs a reason; then the rating is taken once.
    let (status, html) = post_form(&platform.server.url, &token, "level=dissatisfied&text=").await;
    assert_eq!(status, 422);
    assert!(html.contains("请填写不满意的原因"), "{html}");
    assert!(platform.ratings_of("BF-SMS-1").await.is_empty());
    let (status, html) = post_form(
        &platform.server.url,
        &token,
        "level=satisfied&text=%E5%BE%88%E5%A5%BD",
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("感谢您的评价"), "{html}");
    let (status, html) =
        post_form(&platform.server.url, &token, "level=very_satisfied&text=").await;
    assert_eq!(status, 409);
    assert!(html.contains("已评价"), "{html}");
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/public/rate/{token}",
            platform.server.url
        ))
        .json(&json!({"level": "very_satisfied"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 409);
    let openapi = platform.admin.get("/api/v1/openapi.json").await.unwrap();
    for path in [
        "/r/{token}",
        "/api/v1/public/rate/{token}",
        "/api/v1/calls/services/{project_no}/{service_number}",
        "/api/v1/calls/services/{project_no}/{service_number}/reveal",
        "/api/v1/messages",
        "/api/v1/services/{project_no}/{service_number}/plan",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} not documented");
    }

    let ratings = platform.ratings_of("BF-SMS-1").await;
    assert_eq!(ratings.len(), 1, "{ratings:?}");
    let rating = &ratings[0];
    assert_eq!(rating["channel"], "sms");
    assert_eq!(rating["source"], "system");
    assert_eq!(rating["level"], "satisfied");
    assert_eq!(rating["text"], "很好");
    assert_eq!(rating["is_default"], false);
    assert_eq!(rating["attribution"]["window"], "W-BF-01");
    assert_eq!(rating["evaluator"]["phone"], "139****5678");
    let plan = platform.plan("BF-SMS-1").await;
    assert_eq!(plan["planned"], json!([]), "{plan}");
    assert_eq!(plan["ratings"], json!([rating["id"]]));

    // Rated: no phone invitation, no default rating.
    let report = platform.sweep(hours(72)).await;
    assert_eq!(counter(&report, "invitations"), 0, "{report}");
    assert!(platform.listed_calls().await.is_empty());
    let report = platform.sweep(hours(24 * 14)).await;
    assert_eq!(counter(&report, "default_ratings"), 0, "{report}");
    assert_eq!(platform.ratings_of("BF-SMS-1").await.len(), 1);
    assert_eq!(platform.gateway.received().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_invitation_lists_a_call_and_three_unreachable_calls_send_the_sms_again() {
    let platform = start().await;
    platform
        .completed_service("BF-CALL-1", Some("13800001111"))
        .await;
    platform
        .completed_service("BF-CALL-2", Some("13800002222"))
        .await;
    let report = platform.sweep(hours(24)).await;
    assert_eq!(counter(&report, "invitations"), 2, "{report}");
    assert_eq!(counter(&report, "messages_sent"), 2, "{report}");
    assert!(platform.listed_calls().await.is_empty());

    let report = platform.sweep(hours(72)).await;
    assert_eq!(counter(&report, "invitations"), 2, "{report}");
    let calls = platform.listed_calls().await;
    assert_eq!(calls.len(), 2, "{calls:?}");
    for call in &calls {
        assert_eq!(call["state"], "open");
        assert_eq!(call["task_code"], "T-QYSL");
        assert_eq!(call["regions"], json!(["410421", "410400"]));
        assert_eq!(
            call["listed_at"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap(),
            hours(72)
        );
    }
    assert_eq!(platform.plan("BF-CALL-1").await["call"]["state"], "open");
    // The same sweep again lists nothing twice.
    let report = platform.sweep(hours(72)).await;
    assert_eq!(counter(&report, "invitations"), 0, "{report}");

    platform
        .admin
        .post(
            "/api/v1/admin/master",
            &json!({"kind": "org_unit", "record": {"id": "410422", "kind": "county", "name": "叶县", "parent": "410400"}}),
        )
        .await
        .unwrap();
    let agent = platform.user("agent-bf", "callback_agent", "410421").await;
    let elsewhere = platform.user("agent-yx", "callback_agent", "410422").await;
    let supervisor = platform.user("sup-bf", "supervisor", "410421").await;
    let unreachable = json!({"outcome": "unreachable", "note": "无人接听"});
    let path = "/api/v1/calls/services/BF-CALL-1/1";
    let error = elsewhere.post(path, &unreachable).await.unwrap_err();
    assert!(error.to_string().contains("404"), "{error}");
    let error = supervisor.post(path, &unreachable).await.unwrap_err();
    assert!(error.to_string().contains("403"), "{error}");

    // The agent reveals the number to call (audited), then fails to reach it three times.
    let revealed = agent
        .post(&format!("{path}/reveal"), &json!({"reason": "电话邀评"}))
        .await
        .unwrap();
    assert_eq!(revealed["phone"], "13800001111");
    assert!(revealed["audit_seq"].as_u64().unwrap() > 0);
    for attempt in 1..=2 {
        let result = agent.post(path, &unreachable).await.unwrap();
        assert_eq!(result["state"], "open", "{result}");
        assert_eq!(result["attempts"], attempt);
        assert_eq!(result["message_id"], Value::Null);
    }
    let result = agent.post(path, &unreachable).await.unwrap();
    assert_eq!(result["state"], "unreachable", "{result}");
    let message_id = result["message_id"].as_u64().unwrap();
    let error = agent.post(path, &unreachable).await.unwrap_err();
    assert!(error.to_string().contains("409"), "{error}");
    let error = agent
        .post(&format!("{path}/reveal"), &json!({"reason": "电话邀评"}))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("409"), "{error}");

    let report = platform.sweep(hours(73)).await;
    assert_eq!(counter(&report, "messages_sent"), 1, "{report}");
    let received = platform.gateway.received();
    assert_eq!(received.len(), 3);
    let again = &received[2].body;
    assert_eq!(again["id"], message_id);
    assert_eq!(again["to"], "13800001111");
    assert_eq!(again["purpose"], "invitation");
    let (_, token) = link(again["text"].as_str().unwrap());
    let first_invitation = received
        .iter()
        .find(|request| request.body["to"] == "13800001111")
        .unwrap();
    assert_eq!(
        link(first_invitation.body["text"].as_str().unwrap()).1,
        token,
        "one act, one link"
    );

    // The other applicant answers: a 差评 needs their reason, then it is the act's rating.
    let path = "/api/v1/calls/services/BF-CALL-2/1";
    let error = agent
        .post(path, &json!({"outcome": "dissatisfied"}))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("422"), "{error}");
    let result = agent
        .post(
            path,
            &json!({"outcome": "dissatisfied", "note": "窗口排队时间太长"}),
        )
        .await
        .unwrap();
    assert_eq!(result["state"], "rated", "{result}");
    let rating_id = result["rating_id"].as_u64().unwrap();
    let ratings = platform.ratings_of("BF-CALL-2").await;
    assert_eq!(ratings.len(), 1, "{ratings:?}");
    assert_eq!(ratings[0]["id"], rating_id);
    assert_eq!(ratings[0]["channel"], "phone");
    assert_eq!(ratings[0]["level"], "dissatisfied");
    assert_eq!(ratings[0]["text"], "窗口排队时间太长");
    assert_eq!(ratings[0]["evaluator"]["real_name"], true);
    assert_eq!(ratings[0]["evaluator"]["phone"], "138****2222");
    assert_eq!(
        platform.plan("BF-CALL-1").await["call"]["state"],
        "unreachable"
    );
    let call = platform.plan("BF-CALL-2").await["call"].clone();
    assert_eq!(call["state"], "rated", "{call}");
    assert_eq!(call["attempts"][0]["agent"], "agent-bf");

    // The supervisor of the county sees the county's messages, masked.
    let messages: Vec<Value> = supervisor
        .get_list("/api/v1/messages")
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(
        messages
            .iter()
            .all(|message| message["to_masked"].as_str().unwrap().contains("****"))
    );
    let yexian = platform.user("sup-yx", "supervisor", "410422").await;
    assert_eq!(
        yexian.get_list("/api/v1/messages").await.unwrap(),
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrated_services_get_their_default_rating_and_a_rated_one_is_never_invited() {
    let platform = start().await;
    platform.completed_service("BF-DEF-1", None).await;
    // Handled online without a number: an in-app invitation is planned, with nobody to send it to.
    platform
        .completed_service_online("BF-APP-1", None, true)
        .await;
    platform
        .completed_service("BF-RATED-1", Some("13700002222"))
        .await;
    // Rated at the window an hour after completion, before any invitation fell due.
    platform.admin.set_clock(hours(1)).await.unwrap();
    let mut rating = hcp_e2e::rating(&platform.fixture, "dev-1", "BF-RATED-1", "13700002222");
    rating["rated_at"] = json!(hours(1));
    assert_eq!(platform.ingest("ratings", &rating).await, 201);
    assert_eq!(platform.plan("BF-RATED-1").await["planned"], json!([]));

    let plan = platform.plan("BF-DEF-1").await;
    let planned = plan["planned"].as_array().unwrap();
    assert_eq!(
        planned.len(),
        1,
        "no number, not online: no invitation: {plan}"
    );
    assert_eq!(planned[0]["action"]["type"], "default_rating");
    assert_eq!(planned[0]["action"]["level"], "satisfied");
    let due: DateTime<Utc> = planned[0]["at"].as_str().unwrap().parse().unwrap();
    // Completed on Monday 2 March: 7 working days end with Wednesday 11 March, China time.
    assert_eq!(
        due,
        "2026-03-11T16:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    let plan = platform.plan("BF-APP-1").await;
    let actions: Vec<&str> = plan["planned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["action"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["invite_app", "default_rating"], "{plan}");

    for (at, skipped) in [
        (hours(24), 1),
        (hours(72), 0),
        (due - Duration::seconds(1), 0),
    ] {
        let report = platform.sweep(at).await;
        assert_eq!(counter(&report, "invitations"), 0, "{at}: {report}");
        assert_eq!(counter(&report, "skipped"), skipped, "{at}: {report}");
        assert_eq!(counter(&report, "default_ratings"), 0, "{at}: {report}");
    }
    let report = platform.sweep(due).await;
    assert_eq!(counter(&report, "default_ratings"), 2, "{report}");
    let report = platform.sweep(due).await;
    assert_eq!(counter(&report, "default_ratings"), 0, "{report}");
    assert_eq!(counter(&report, "skipped"), 0, "{report}");

    let defaults = platform
        .admin
        .all_ratings("unit=410421&channel=system_default")
        .await
        .unwrap();
    assert_eq!(defaults.len(), 2, "{defaults:?}");
    let rating = defaults
        .iter()
        .find(|rating| rating["project_no"] == "BF-DEF-1")
        .unwrap();
    assert_eq!(rating["source"], "system");
    assert_eq!(rating["event_id"], "default:BF-DEF-1/1");
    assert_eq!(rating["level"], "satisfied");
    assert_eq!(rating["is_default"], true);
    assert_eq!(rating["assess_number"], 1);
    assert_eq!(rating["evaluator"]["real_name"], false);
    assert_eq!(rating["attribution"]["window"], "W-BF-01");
    assert_eq!(
        rating["attribution"]["department"],
        platform.fixture.department
    );
    assert_eq!(
        rating["rated_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        due
    );
    assert_eq!(platform.plan("BF-DEF-1").await["planned"], json!([]));
    assert_eq!(platform.plan("BF-APP-1").await["planned"], json!([]));

    let rated = platform.ratings_of("BF-RATED-1").await;
    assert_eq!(rated.len(), 1, "{rated:?}");
    assert_eq!(rated[0]["channel"], "hall_device");
    assert!(platform.gateway.received().is_empty(), "nobody was invited");
    assert!(platform.messages("").await.is_empty());
    assert!(platform.listed_calls().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_found_too_late_is_skipped_and_the_next_one_still_goes() {
    let platform = start().await;
    platform
        .completed_service("BF-LATE-1", Some("13600003333"))
        .await;
    // The platform was down: the first sweep after completion comes 25 hours after the SMS
    // fell due (the limit is 24).
    let report = platform.sweep(hours(49)).await;
    assert_eq!(counter(&report, "skipped"), 1, "{report}");
    assert_eq!(counter(&report, "invitations"), 0, "{report}");
    assert!(platform.gateway.received().is_empty());
    assert!(platform.messages("").await.is_empty());
    let plan = platform.plan("BF-LATE-1").await;
    assert_eq!(
        plan["planned"][0]["action"]["type"], "invite_phone",
        "{plan}"
    );
    // The phone invitation, due at +72 h, is found a day late, still within the limit.
    let report = platform.sweep(hours(96)).await;
    assert_eq!(counter(&report, "invitations"), 1, "{report}");
    let calls = platform.listed_calls().await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["project_no"], "BF-LATE-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_gateway_stops_the_delivery_until_the_next_sweep() {
    let platform = start_with(SmsGateway::closed().unwrap()).await;
    for number in 1..=4 {
        platform
            .completed_service(&format!("BF-GW-{number}"), Some("13500004444"))
            .await;
    }
    let report = platform.sweep_reporting(hours(24)).await;
    assert_eq!(counter(&report, "invitations"), 4, "{report}");
    assert_eq!(counter(&report, "messages_failed"), 3, "{report}");
    let errors = report["errors"].to_string();
    assert!(
        errors.contains("did not answer 3 calls in a row; messages left for the next sweep: 1"),
        "{report}"
    );
    let queued = platform.messages("state=queued").await;
    let mut attempts: Vec<usize> = queued
        .iter()
        .map(|message| message["attempts"].as_array().unwrap().len())
        .collect();
    attempts.sort_unstable();
    assert_eq!(attempts, [0, 1, 1, 1], "{queued:?}");
    for message in queued
        .iter()
        .filter(|message| message["attempts"] != json!([]))
    {
        assert_eq!(message["attempts"][0]["ok"], false);
        assert_eq!(
            message["next_at"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap(),
            hours(24) + Duration::seconds(60)
        );
    }
}
