//! The HTTP API driven through `router().oneshot(request)`: real sled files in a temporary
//! folder, a manual clock, no socket.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, TimeZone, Utc};
use hcp_core::auth::{self, Role, User};
use hcp_core::clock::ManualClock;
use hcp_core::model::{Device, OrgKind, OrgUnit, ServiceItem, Staff};
use hcp_core::store::{Command, MasterChange, Outcome};
use hcp_core::validate::credit_check_char;
use hcp_server::app::Platform;
use hcp_server::app::config::Config;
use hcp_server::http::router;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const PASSWORD: &str = "correct-horse";

fn credit(body17: &str) -> String {
    format!("{body17}{}", credit_check_char(body17).unwrap())
}

struct Harness {
    platform: Platform,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
    dept: String,
    key: String,
}

fn unit(id: &str, kind: OrgKind, name: &str, parent: Option<&str>) -> OrgUnit {
    OrgUnit {
        id: id.into(),
        kind,
        name: name.into(),
        parent: parent.map(String::from),
        department: None,
        has_device: false,
        has_qr_code: false,
    }
}

fn now() -> DateTime<Utc> {
    // 2026-03-10 10:00 China time.
    Utc.with_ymd_and_hms(2026, 3, 10, 2, 0, 0).unwrap()
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            rules_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../rules").into(),
            // The roll-up test stands a default rating in for the platform's own.
            ingest: hcp_server::app::config::IngestConfig {
                channel_owners: [(
                    "bf-devices".to_string(),
                    vec![hcp_core::model::Channel::SystemDefault],
                )]
                .into(),
                ..Default::default()
            },
            ..Config::default()
        };
        let clock = Arc::new(ManualClock::new(now()));
        let platform = Platform::open(&config, clock.clone()).unwrap();
        let dept = credit("11410421MB0000001");
        let other_dept = credit("11410402MB0000002");
        let mut window = unit("W-BF-01", OrgKind::Window, "综合窗口1", Some("H-BF"));
        window.department = Some(dept.clone());
        window.has_device = true;
        let mut other_window = unit("W-XH-01", OrgKind::Window, "综合窗口1", Some("H-XH"));
        other_window.department = Some(other_dept.clone());
        let master = vec![
            MasterChange::OrgUnit(unit("410400", OrgKind::City, "平顶山市", None)),
            MasterChange::OrgUnit(unit("410421", OrgKind::County, "宝丰县", Some("410400"))),
            MasterChange::OrgUnit(unit("410402", OrgKind::County, "新华区", Some("410400"))),
            MasterChange::OrgUnit(unit(
                &dept,
                OrgKind::Department,
                "宝丰县市场监督管理局",
                Some("410421"),
            )),
            MasterChange::OrgUnit(unit(
                &other_dept,
                OrgKind::Department,
                "新华区市场监督管理局",
                Some("410402"),
            )),
            MasterChange::OrgUnit(unit(
                "H-BF",
                OrgKind::Hall,
                "宝丰县政务服务中心",
                Some("410421"),
            )),
            MasterChange::OrgUnit(unit(
                "H-XH",
                OrgKind::Hall,
                "新华区政务服务中心",
                Some("410402"),
            )),
            MasterChange::OrgUnit(window),
            MasterChange::OrgUnit(other_window),
            MasterChange::Staff(Staff {
                id: "S-1".into(),
                name: "王芳".into(),
                department: dept.clone(),
                window: Some("W-BF-01".into()),
            }),
            MasterChange::Item(ServiceItem {
                task_code: "T-QYSL".into(),
                name: "企业设立登记".into(),
                department: dept.clone(),
                task_type: "行政许可".into(),
            }),
            MasterChange::Item(ServiceItem {
                task_code: "T-XH".into(),
                name: "个体工商户注册登记".into(),
                department: other_dept.clone(),
                task_type: "行政许可".into(),
            }),
            MasterChange::Device(Device {
                id: "D-1".into(),
                model: "HX-PJ200".into(),
                window: "W-BF-01".into(),
            }),
        ];
        let hash = auth::hash_password(PASSWORD).unwrap();
        let user = |name: &str, role, scope: &str, staff: Option<&str>| {
            MasterChange::User(User {
                username: name.into(),
                display_name: name.into(),
                role,
                scope: scope.into(),
                staff_id: staff.map(String::from),
                password_hash: hash.clone(),
                disabled: false,
            })
        };
        let users = vec![
            user("admin", Role::Admin, "410400", None),
            user("city", Role::Supervisor, "410400", None),
            user("baofeng", Role::Supervisor, "410421", None),
            user("xinhua", Role::Supervisor, "410402", None),
            user("callback", Role::CallbackAgent, "410421", None),
            user("clerk", Role::WindowStaff, "W-BF-01", Some("S-1")),
        ];
        let commands = master
            .into_iter()
            .chain(users)
            .map(|change| Command::Master {
                actor: "test".into(),
                change,
            })
            .collect();
        for outcome in platform.store.submit(commands).unwrap() {
            assert!(matches!(outcome, Outcome::Recorded { .. }), "{outcome:?}");
        }
        let (_, key) = hcp_server::app::admin::issue_source(
            &platform,
            "test",
            hcp_server::app::admin::SourceRequest {
                id: "bf-devices".into(),
                name: "宝丰评价器".into(),
                adapter: None,
                scope: "410421".into(),
                kind: hcp_core::auth::SourceKind::Devices,
                expected: true,
            },
        )
        .unwrap();
        Harness {
            platform,
            clock,
            _dir: dir,
            dept,
            key,
        }
    }

    fn app(&self) -> Router {
        router(self.platform.clone(), axum::Router::new())
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        auth: Option<(&str, &str)>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some((header, value)) = auth {
            builder = builder.header(header, value);
        }
        let body = match body {
            Some(body) => {
                builder = builder.header("content-type", "application/json");
                Body::from(serde_json::to_vec(&body).unwrap())
            }
            None => Body::empty(),
        };
        let response = self
            .app()
            .oneshot(builder.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    async fn login(&self, username: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"username": username, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        format!("Bearer {}", body["token"].as_str().unwrap())
    }

    async fn ingest(&self, body: Value) -> (StatusCode, Value) {
        self.call(
            "POST",
            "/api/v1/sources/bf-devices/ratings",
            Some(("x-api-key", &self.key)),
            Some(body),
        )
        .await
    }

    fn rating(&self, event: &str, project: &str, level: &str) -> Value {
        json!({
            "event_id": event,
            "project_no": project,
            "service_number": 1,
            "task_code": "T-QYSL",
            "department": self.dept,
            "area_code": "410421",
            "window": "W-BF-01",
            "staff": "S-1",
            "device": "D-1",
            "level": level,
            "channel": "hall_device",
            "indicators": if level == "dissatisfied" { json!(["501"]) } else { json!([]) },
            "text": if level == "dissatisfied" { json!("排队时间太长") } else { json!(null) },
            "evaluator": {"real_name": true, "name": "张三", "phone": "13812341234", "id_number": "41042119900101123X"},
            "rated_at": (now() - Duration::minutes(5)).to_rfc3339(),
        })
    }
}

#[tokio::test]
async fn a_rating_ingested_with_a_key_is_returned_to_a_supervisor_masked() {
    let harness = Harness::new();
    let (status, body) = harness
        .ingest(harness.rating("e1", "P1", "dissatisfied"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_u64().unwrap();

    let token = harness.login("baofeng").await;
    let (status, page) = harness
        .call(
            "GET",
            "/api/v1/ratings?unit=410421",
            Some(("authorization", &token)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let rating = &items[0];
    assert_eq!(rating["id"].as_u64(), Some(id));
    assert_eq!(rating["evaluator"]["phone"], "138****1234");
    assert_eq!(rating["evaluator"]["name"], "张*");
    assert_eq!(rating["evaluator"]["id_number"], "410421********123X");
    assert_eq!(rating["level_label"], "不满意");
    assert_eq!(rating["attribution"]["hall"], "H-BF");
    assert_eq!(
        rating["attribution"]["regions"],
        json!(["410421", "410400"])
    );
    let text = page.to_string();
    assert!(
        !text.contains("13812341234") && !text.contains("19900101"),
        "{text}"
    );

    // The city sees it too; the neighbouring county does not.
    let city = harness.login("city").await;
    let (_, page) = harness
        .call(
            "GET",
            "/api/v1/ratings?unit=410421",
            Some(("authorization", &city)),
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let xinhua = harness.login("xinhua").await;
    let (status, _) = harness
        .call(
            "GET",
            "/api/v1/ratings?unit=410421",
            Some(("authorization", &xinhua)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = harness
        .call(
            "GET",
            &format!("/api/v1/ratings/{id}"),
            Some(("authorization", &xinhua)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn revealing_an_evaluator_is_audited_and_role_bound() {
    let harness = Harness::new();
    let (_, body) = harness
        .ingest(harness.rating("e1", "P1", "dissatisfied"))
        .await;
    let id = body["id"].as_u64().unwrap();
    let uri = format!("/api/v1/ratings/{id}/reveal");

    let supervisor = harness.login("baofeng").await;
    let (status, _) = harness
        .call(
            "POST",
            &uri,
            Some(("authorization", &supervisor)),
            Some(json!({"reason": "回访核实"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let agent = harness.login("callback").await;
    let (status, body) = harness
        .call(
            "POST",
            &uri,
            Some(("authorization", &agent)),
            Some(json!({"reason": "差评回访核实"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["phone"], "13812341234");
    assert_eq!(body["name"], "张三");

    let admin = harness.login("admin").await;
    let (_, audit) = harness
        .call(
            "GET",
            "/api/v1/audit",
            Some(("authorization", &admin)),
            None,
        )
        .await;
    // The newest entries are the sign-ins; the reveal is the one before.
    let entry = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["action"] == "reveal_evaluator")
        .unwrap();
    assert_eq!(entry["actor"], "callback");
    assert_eq!(entry["action"], "reveal_evaluator");
    assert_eq!(entry["target"], format!("rating:{id}"));
    assert_eq!(entry["detail"], "差评回访核实");
    assert_eq!(entry["seq"], body["audit_seq"]);
}

#[tokio::test]
async fn repeats_duplicates_and_refusals() {
    let harness = Harness::new();
    let first = harness.rating("e1", "P1", "satisfied");
    let (status, body) = harness.ingest(first.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = body["id"].clone();
    // The same event again: idempotent, same id.
    let (status, body) = harness.ingest(first).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["status"].as_str(), &body["id"]),
        (Some("duplicate"), &id)
    );
    // Another event rating the same service act: refused with the reason.
    let (status, body) = harness
        .ingest(harness.rating("e2", "P1", "very_satisfied"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["reason"]["code"], "duplicate_rating");
    assert!(
        body["reason"]["message"]
            .as_str()
            .unwrap()
            .contains("本次服务已存在评价")
    );
    // A 差评 without indicators or text.
    let mut bad = harness.rating("e3", "P2", "very_dissatisfied");
    bad["indicators"] = json!([]);
    bad["text"] = json!(null);
    let (status, body) = harness.ingest(bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["reason"]["code"], "bad_review_without_detail");
    // Wrong key.
    let (status, _) = harness
        .call(
            "POST",
            "/api/v1/sources/bf-devices/ratings",
            Some(("x-api-key", "hcpk_wrong")),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Out of the source's scope: the window of another county.
    let mut outside = harness.rating("e4", "P3", "satisfied");
    outside["area_code"] = json!("410402");
    outside["window"] = json!("W-XH-01");
    let (_, body) = harness.ingest(outside).await;
    assert_eq!(body["reason"]["code"], "out_of_scope");
}

#[tokio::test]
async fn batches_answer_item_by_item_and_refusals_are_kept_for_replay() {
    let harness = Harness::new();
    let mut unknown_window = harness.rating("e2", "P2", "satisfied");
    unknown_window["window"] = json!("W-BF-09");
    let batch = json!([
        harness.rating("e1", "P1", "very_satisfied"),
        unknown_window,
        {"event_id": "e3", "level": "great"},
    ]);
    let (status, body) = harness.ingest(batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["recorded"].as_u64(), body["rejected"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(body["results"][1]["reason"]["code"], "unknown_reference");
    assert_eq!(body["results"][2]["reason"]["code"], "malformed");

    // Not JSON at all: refused and kept too.
    let response = harness
        .app()
        .oneshot(
            Request::post("/api/v1/sources/bf-devices/ratings")
                .header("x-api-key", &harness.key)
                .body(Body::from("not json"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let admin = harness.login("admin").await;
    let (_, kept) = harness
        .call(
            "GET",
            "/api/v1/admin/rejections",
            Some(("authorization", &admin)),
            None,
        )
        .await;
    let kept = kept["items"].as_array().unwrap();
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(kept.iter().all(|row| row.get("sealed_payload").is_none()));
    let window_seq = kept[0]["seq"].as_u64().unwrap();
    assert_eq!(kept[0]["reason"]["code"], "unknown_reference");

    // Replaying before the fix refuses again and keeps it.
    let replay = format!("/api/v1/admin/rejections/{window_seq}/replay");
    let (_, body) = harness
        .call("POST", &replay, Some(("authorization", &admin)), None)
        .await;
    assert_eq!(body["rejected"], 1);
    // Register the window, replay: recorded, and it leaves the list.
    let mut window = unit("W-BF-09", OrgKind::Window, "综合窗口9", Some("H-BF"));
    window.department = Some(harness.dept.clone());
    let (status, body) = harness
        .call(
            "POST",
            "/api/v1/admin/master",
            Some(("authorization", &admin)),
            Some(json!({"kind": "org_unit", "record": window})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, body) = harness
        .call("POST", &replay, Some(("authorization", &admin)), None)
        .await;
    assert_eq!(body["recorded"], 1, "{body}");
    let (_, kept) = harness
        .call(
            "GET",
            "/api/v1/admin/rejections",
            Some(("authorization", &admin)),
            None,
        )
        .await;
    assert_eq!(kept["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn window_staff_never_see_todays_ratings() {
    let harness = Harness::new();
    harness
        .ingest(harness.rating("e1", "P1", "very_satisfied"))
        .await;
    let clerk = harness.login("clerk").await;
    let (status, page) = harness
        .call(
            "GET",
            "/api/v1/ratings",
            Some(("authorization", &clerk)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    let (status, _) = harness
        .call(
            "GET",
            "/api/v1/ratings?unit=410421",
            Some(("authorization", &clerk)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    harness.clock.advance(Duration::days(1));
    let clerk = harness.login("clerk").await;
    let (_, page) = harness
        .call(
            "GET",
            "/api/v1/ratings",
            Some(("authorization", &clerk)),
            None,
        )
        .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    // The clerk rated learns nothing of the evaluator, not even masked.
    assert_eq!(items[0]["evaluator"]["phone"], Value::Null);
}

#[tokio::test]
async fn rollups_and_cases() {
    let harness = Harness::new();
    let service = json!({
        "event_id": "s1", "project_no": "P1", "project_name": "某公司设立登记", "task_code": "T-QYSL",
        "department": harness.dept, "area_code": "410421", "service_number": 1, "service_name": "申报",
        "status": "accepted", "occurred_at": (now() - Duration::minutes(30)).to_rfc3339(),
        "window": "W-BF-01", "staff": "S-1",
    });
    let (status, body) = harness
        .call(
            "POST",
            "/api/v1/sources/bf-devices/service-events",
            Some(("x-api-key", &harness.key)),
            Some(service),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    harness
        .ingest(harness.rating("e1", "P1", "dissatisfied"))
        .await;
    let mut default = harness.rating("e2", "P2", "satisfied");
    default["channel"] = json!("system_default");
    default["evaluator"] = json!({"real_name": false});
    harness.ingest(default).await;

    let token = harness.login("city").await;
    let (_, rows) = harness
        .call(
            "GET",
            "/api/v1/rollups?unit=410400",
            Some(("authorization", &token)),
            None,
        )
        .await;
    let row = &rows[0];
    assert_eq!(row["services"], 1);
    assert_eq!(row["ratings"], 2);
    assert_eq!(row["bad"], 1);
    assert_eq!(row["real_name_bad"], 1);
    assert_eq!(row["default_ratings"], 1);
    assert_eq!(row["by_level"]["dissatisfied"], 1);
    let (_, rows) = harness
        .call(
            "GET",
            "/api/v1/rollups?dim=window&unit=W-BF-01&group=channel",
            Some(("authorization", &token)),
            None,
        )
        .await;
    // hall_device, system_default, and the services, which have no channel.
    assert_eq!(rows.as_array().unwrap().len(), 3, "{rows}");
    assert_eq!(rows[1]["group"], "none");
    assert_eq!(rows[1]["services"], 1);

    let (_, case) = harness
        .call(
            "GET",
            "/api/v1/cases/P1",
            Some(("authorization", &token)),
            None,
        )
        .await;
    assert_eq!(case["services"][0]["service_name"], "申报");
    assert_eq!(case["services"][0]["ratings"].as_array().unwrap().len(), 1);
    let (_, cases) = harness
        .call(
            "GET",
            "/api/v1/cases?unit=410421",
            Some(("authorization", &token)),
            None,
        )
        .await;
    assert_eq!(cases["items"][0]["project_no"], "P1");
}

#[tokio::test]
async fn openapi_lists_every_route_and_metrics_count() {
    let harness = Harness::new();
    let (status, doc) = harness
        .call("GET", "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/ingest/{source}",
        "/api/v1/sources/{source}/ratings",
        "/api/v1/sources/{source}/service-events",
        "/api/v1/ratings",
        "/api/v1/ratings/{id}/reveal",
        "/api/v1/rollups",
        "/api/v1/cases",
        "/api/v1/auth/login",
        "/api/v1/admin/sources",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from the OpenAPI document"
        );
    }
    let response = harness
        .app()
        .oneshot(Request::get("/docs/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    harness
        .ingest(harness.rating("e1", "P1", "satisfied"))
        .await;
    let (status, text) = send(
        hcp_server::http::ops::router(harness.platform.clone()),
        "/metrics",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str();
    assert!(
        text.contains("hcp_ingest_items_total{outcome=\"recorded\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("route=\"/api/v1/sources/{source}/ratings\",status=\"201\""),
        "{text}"
    );
    assert!(text.contains("hcp_store_ratings 1"));
}

/// A GET to `app`, with a bearer token; the status and the body as text.
async fn send(app: Router, uri: &str, bearer: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(uri);
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into())
}

const OPS_TOKEN: &str = "ops-token-0123456789abcdef0123456789";

/// Issue 12: `/metrics` and the detail of `/readyz` only with the operations token on the main
/// address, to anyone on the operations address; `/healthz` open everywhere.
#[tokio::test]
async fn operational_detail_needs_the_ops_token_or_the_ops_address() {
    let harness = Harness::new();
    // No token configured: the main address keeps its detail to itself.
    let app = || harness.app();
    let (status, body) = send(app(), "/metrics", Some(OPS_TOKEN)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        send(app(), "/readyz", Some(OPS_TOKEN)).await,
        (StatusCode::OK, "ready".to_string())
    );
    assert_eq!(
        send(app(), "/healthz", None).await,
        (StatusCode::OK, "ok".to_string())
    );

    // A token configured: it opens both, nothing else does.
    let mut platform = harness.platform.clone();
    platform.ops = Arc::new(hcp_server::app::ops::OpsAccess::with_token(OPS_TOKEN));
    let app = || router(platform.clone(), Router::new());
    for wrong in [None, Some("ops-token-0123456789abcdef0123456780")] {
        let (status, body) = send(app(), "/metrics", wrong).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(
            send(app(), "/readyz", wrong).await,
            (StatusCode::OK, "ready".to_string())
        );
    }
    let (status, text) = send(app(), "/metrics", Some(OPS_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("hcp_store_log_head"), "{text}");
    let (status, text) = send(app(), "/readyz", Some(OPS_TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.starts_with("ready: log head "), "{text}");

    // The operations address serves the three to anyone, and nothing of the API.
    let ops = || hcp_server::http::ops::router(harness.platform.clone());
    let (status, text) = send(ops(), "/readyz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.starts_with("ready: log head "), "{text}");
    assert_eq!(send(ops(), "/metrics", None).await.0, StatusCode::OK);
    assert_eq!(send(ops(), "/healthz", None).await.0, StatusCode::OK);
    assert_eq!(
        send(ops(), "/api/v1/openapi.json", None).await.0,
        StatusCode::NOT_FOUND
    );
}

/// Panics on every rating: a bug in the one foreign piece of code the committer runs.
struct PanickingDecider;

impl hcp_core::store::Decider for PanickingDecider {
    fn decide(
        &self,
        _rating: &hcp_core::model::Rating,
        _comment: Option<&str>,
        _facts: &hcp_core::model::RatingFacts,
    ) -> Vec<hcp_core::event::PolicyDecision> {
        panic!("a decider bug");
    }
}

/// Issue 12: a committer that died makes `/readyz` fail (503, saying why on the operations
/// address) and calls the process's watch, which `hcp serve` ends the process with.
#[tokio::test]
async fn a_dead_committer_fails_readiness_and_is_reported() {
    let harness = Harness::new();
    let (reported, stopped) = std::sync::mpsc::channel();
    hcp_server::run::watch_committer(&harness.platform.store, move |reason| {
        let _ = reported.send(reason);
    })
    .unwrap();
    harness
        .platform
        .store
        .set_decider(Arc::new(PanickingDecider));
    let (status, body) = harness
        .ingest(harness.rating("e1", "P1", "satisfied"))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let reason = stopped
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap();
    assert!(reason.contains("it panicked: a decider bug"), "{reason}");

    let (status, body) = send(harness.app(), "/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({"error": {"code": "not_ready", "message": "not ready"}})
    );
    let (status, body) = send(
        hcp_server::http::ops::router(harness.platform.clone()),
        "/readyz",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = serde_json::from_str(&body).unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message
            .starts_with("not ready: the store's committer stopped (it panicked: a decider bug)"),
        "{message}"
    );
    // `/healthz` says only that the process is up.
    assert_eq!(
        send(harness.app(), "/healthz", None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn raw_ingest_uses_the_sources_adapter() {
    let harness = Harness::new();
    let payload = json!({"ratings": [harness.rating("e1", "P1", "satisfied")]});
    let (status, body) = harness
        .call(
            "POST",
            "/api/v1/ingest/bf-devices",
            Some(("x-api-key", &harness.key)),
            Some(payload),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recorded"], 1);
    let (status, body) = harness
        .call(
            "POST",
            "/api/v1/ingest/bf-devices",
            Some(("x-api-key", &harness.key)),
            Some(json!({"frames": []})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "malformed");
}

#[tokio::test]
async fn wrong_passwords_and_tokens_are_refused() {
    let harness = Harness::new();
    let (status, _) = harness
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "admin", "password": "nope"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = harness
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "ghost", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = harness
        .call(
            "GET",
            "/api/v1/ratings",
            Some(("authorization", "Bearer forged.token")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let supervisor = harness.login("city").await;
    let (status, _) = harness
        .call(
            "GET",
            "/api/v1/admin/users",
            Some(("authorization", &supervisor)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Tokens expire.
    harness.clock.advance(Duration::hours(13));
    let (status, _) = harness
        .call(
            "GET",
            "/api/v1/me",
            Some(("authorization", &supervisor)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
