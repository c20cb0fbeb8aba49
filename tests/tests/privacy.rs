//! Personal data where it must not be in clear, against the real binary: anonymous ratings
//! keep nothing of their evaluator, window staff read what citizens wrote about them masked
//! and nothing of who wrote it, and the tracking page strikes names and numbers from the
//! unit's answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hcp_e2e::{Roles, Session, beijing, november_service, start_november};
use serde_json::{Value, json};

const PHONE: &str = "13812345678";

#[tokio::test]
async fn personal_data_stays_out_of_sight() {
    let seeded = start_november("部门", |_| json!({"has_device": true}))
        .await
        .unwrap();
    let admin = &seeded.admin;
    let department = seeded.fixture.department.clone();
    admin
        .post(
            "/api/v1/admin/master",
            &json!({"kind": "staff", "record": {"id": "S-BF-01", "name": "李明",
                "department": department, "window": "W-BF-01"}}),
        )
        .await
        .unwrap();
    let act = ("W-BF-01", department.as_str(), "T-QYSL");
    let mut services = Vec::new();
    let mut ratings = Vec::new();
    for (project, real_name) in [("P-ANON", false), ("P-REAL", true)] {
        let mut service = november_service(project, act);
        service["staff"] = json!("S-BF-01");
        services.push(service);
        ratings.push(json!({
            "event_id": format!("r-{project}"), "project_no": project, "service_number": 1,
            "task_code": "T-QYSL", "department": department, "area_code": "410421",
            "window": "W-BF-01", "staff": "S-BF-01", "level": "very_dissatisfied",
            "channel": "hall_device", "indicators": [],
            "text": format!("李明态度很差，我是张三，电话{PHONE}，身份证410421199001011234"),
            "evaluator": {"real_name": real_name, "name": "张三", "phone": PHONE,
                "id_number": "410421199001011234"},
            "rated_at": beijing(11, 2, 9) + chrono::Duration::minutes(30),
        }));
    }
    seeded.ingest_all("service-events", services).await.unwrap();
    seeded.ingest_all("ratings", ratings).await.unwrap();
    let anonymous = admin.first_rating("P-ANON").await.unwrap();
    let real = admin.first_rating("P-REAL").await.unwrap();

    // An anonymous rating keeps nothing of its evaluator, and there is nothing to reveal.
    let stored = admin
        .get(&format!("/api/v1/ratings/{anonymous}"))
        .await
        .unwrap();
    for field in ["name", "phone", "id_number"] {
        assert_eq!(stored["evaluator"][field], Value::Null, "{stored}");
    }
    let (status, body) = admin
        .try_post(
            &format!("/api/v1/ratings/{anonymous}/reveal"),
            &json!({"reason": "差评回访核实"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "anonymous_rating", "{body}");
    let revealed = admin
        .post(
            &format!("/api/v1/ratings/{real}/reveal"),
            &json!({"reason": "差评回访核实"}),
        )
        .await
        .unwrap();
    assert_eq!(revealed["phone"], PHONE, "{revealed}");

    // The window clerk rated reads the comments a day later, names and numbers struck, and
    // nothing of the evaluator, not even masked.
    admin
        .post(
            "/api/v1/admin/users",
            &json!({"username": "liming", "display_name": "李明", "role": "window_staff",
                "scope": "W-BF-01", "staff_id": "S-BF-01", "password": "correct horse battery"}),
        )
        .await
        .unwrap();
    admin.set_clock(beijing(11, 3, 10)).await.unwrap();
    let clerk = Session::login(&admin.url, "liming", "correct horse battery")
        .await
        .unwrap();
    let seen = clerk
        .all_ratings("dim=staff&unit=S-BF-01&from=2026-11-01&to=2026-11-03")
        .await
        .unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for rating in &seen {
        let text = rating["text"].as_str().unwrap();
        for secret in ["张三", PHONE, "410421199001011234", "李明"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("态度很差"), "{text}");
        for field in ["name", "phone", "id_number"] {
            assert_eq!(rating["evaluator"][field], Value::Null, "{rating}");
        }
    }
    let one = clerk.get(&format!("/api/v1/ratings/{real}")).await.unwrap();
    assert!(!one["text"].as_str().unwrap().contains(PHONE), "{one}");
    // A supervisor reads the comment as written, the evaluator masked.
    let roles = Roles::create(admin, "handler", &department).await.unwrap();
    let full = roles
        .supervisor
        .get(&format!("/api/v1/ratings/{real}"))
        .await
        .unwrap();
    assert!(full["text"].as_str().unwrap().contains(PHONE), "{full}");
    assert!(full["evaluator"]["phone"].as_str().is_some(), "{full}");
    // The clerk's own orders likewise.
    let orders = clerk.get("/api/v1/orders?limit=50").await.unwrap();
    let orders = orders["items"].as_array().unwrap();
    assert!(!orders.is_empty());
    for order in orders {
        let text = order["text"].as_str().unwrap_or_default();
        assert!(!text.contains(PHONE) && !text.contains("张三"), "{order}");
        assert_eq!(order["contact"], Value::Null, "{order}");
    }

    // The unit feeds back with a name and a number in its answer: the tracking page strikes
    // them.
    let order = admin.order_of("P-REAL").await.unwrap();
    roles
        .handler
        .steps(
            order,
            &[
                json!({"type": "accept"}),
                json!({"type": "contact", "note": "已联系"}),
                json!({"type": "verify", "finding": "属实"}),
                json!({"type": "dispose", "disposition": {"type": "immediate", "action": "批评教育"}}),
                json!({"type": "feedback", "message": "已对李明批评教育，如有疑问请致电13700001111找王科长"}),
            ],
        )
        .await
        .unwrap();
    let link = admin.get(&format!("/api/v1/orders/{order}")).await.unwrap()["tracking_url"]
        .as_str()
        .unwrap()
        .to_string();
    let token = link.rsplit('/').next().unwrap();
    let tracked: Value = reqwest::get(format!("{}/api/v1/track/{token}", admin.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let answer = tracked["answer"].as_str().unwrap();
    assert!(answer.contains("批评教育"), "{answer}");
    for secret in ["李明", "13700001111", "王科长"] {
        assert!(!answer.contains(secret), "{secret} in {answer}");
    }
    let page = reqwest::get(format!("{}/t/{token}", admin.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("13700001111") && !page.contains("李明"));
}

/// Every `text` (a rating's comment, an order's text) anywhere in `value`.
fn texts_in(value: &Value, found: &mut Vec<Value>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                if key == "text" {
                    found.push(field.clone());
                } else {
                    texts_in(field, found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| texts_in(item, found)),
        _ => {}
    }
}

/// The answers without what the sweep of free text changes: comments and texts (and whether
/// they were erased), and the hot words read from them.
fn without_texts(answers: Vec<(String, Value)>) -> Vec<(String, Value)> {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(fields) => {
                fields.remove("text");
                fields.remove("text_erased");
                fields.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    answers
        .into_iter()
        .filter(|(path, _)| path != "/api/v1/analysis/hot-words")
        .map(|(path, mut answer)| {
            strip(&mut answer);
            (path, answer)
        })
        .collect()
}

/// Every sealed value (`{"sealed": …}`) anywhere in `value`.
fn sealed_values(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            if let Some(Value::String(sealed)) = fields.get("sealed") {
                found.push(sealed.clone());
            }
            fields
                .values()
                .for_each(|field| sealed_values(field, found));
        }
        Value::Array(items) => items.iter().for_each(|item| sealed_values(item, found)),
        _ => {}
    }
}

/// Retention and erasure against the real binary: a person's erasure request and the retention
/// sweep erase the values (the reveal says so, and nothing in the log opens any more, with the
/// personal-data key and the ring at hand), while every statistic, order and assessment answers
/// as before and the chain verifies.
#[tokio::test]
async fn erasure_and_retention_leave_statistics_and_the_chain_intact() {
    use chrono::TimeZone as _;
    const A: &str = "13800000001";
    const B: &str = "13800000002";
    let dir = tempfile::tempdir().unwrap();
    let days: String = [
        "evaluator_name",
        "evaluator_phone",
        "evaluator_id_number",
        "applicant_phone",
        "rejected_payload",
        "uplink_body",
        "free_text",
    ]
    .iter()
    .map(|class| format!("{class}_days = 30\n"))
    .collect();
    let sms = hcp_e2e::SmsGateway::start().unwrap();
    let config = hcp_e2e::write_config(
        dir.path(),
        &format!(
            "{}\n[retention]\n{days}\n[messages]\ngateway_url = \"{}\"\n",
            hcp_e2e::manual_clock_config(beijing(11, 2, 10)),
            sms.url()
        ),
    )
    .unwrap();
    let seeded = hcp_e2e::start_november_in(dir, &config, "部门", |_| json!({"has_device": true}))
        .await
        .unwrap();
    let admin = &seeded.admin;
    let department = seeded.fixture.department.clone();
    let act = ("W-BF-01", department.as_str(), "T-QYSL");
    let people = [
        ("P-A", A, "张三", "very_dissatisfied"),
        ("P-B", B, "李四", "satisfied"),
    ];
    let mut services = Vec::new();
    let mut ratings = Vec::new();
    for (project, phone, name, level) in people {
        let mut service = november_service(project, act);
        service["applicant_phone"] = json!(phone);
        services.push(service);
        let mut rating = hcp_e2e::november_rating(project, act, level, true);
        rating["evaluator"] = json!({"real_name": true, "name": name, "phone": phone,
            "id_number": "410421199001011234"});
        rating["text"] = json!(format!("办理时间太长，{name}等了两个小时"));
        ratings.push(rating);
    }
    seeded.ingest_all("service-events", services).await.unwrap();
    seeded.ingest_all("ratings", ratings).await.unwrap();
    // A also complains at the intake, leaving their number.
    let complaint = admin
        .post(
            "/api/v1/intake",
            &json!({"kind": "complaint", "area_code": "410421", "department": department,
                "phone": A, "text": "材料反复退回，白跑了两个小时"}),
        )
        .await
        .unwrap();
    let complaint = complaint["order_id"].as_u64().unwrap();
    let (a, b) = (
        admin.first_rating("P-A").await.unwrap(),
        admin.first_rating("P-B").await.unwrap(),
    );
    let reveal = |id: u64| async move {
        admin
            .post(
                &format!("/api/v1/ratings/{id}/reveal"),
                &json!({"reason": "差评回访核实"}),
            )
            .await
            .unwrap()
    };
    assert_eq!(reveal(a).await["phone"], A);
    let routing_text = |decisions: Value| {
        decisions["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|decision| decision["hook"] == "routing")
            .map(|decision| decision["input"].clone())
            .unwrap()
    };
    let read = admin
        .get(&format!("/api/v1/ratings/{a}/decisions"))
        .await
        .unwrap();
    assert!(
        routing_text(read.clone())["text"]
            .as_str()
            .is_some_and(|text| text.contains("两个小时")),
        "{read}"
    );

    // A's erasure request: A's name, phone and ID number go, B's stay; asked again, nothing is
    // held. The audit trail has both requests, and neither number in full.
    let erased = admin
        .post(
            "/api/v1/privacy/erasures",
            &json!({"phone": A, "reference": "删除申请 2026-001"}),
        )
        .await
        .unwrap();
    assert_eq!(
        (erased["held"].clone(), erased["destroyed"].clone()),
        (json!(true), json!(1))
    );
    let revealed = reveal(a).await;
    assert_eq!(revealed["phone"], Value::Null, "{revealed}");
    assert_eq!(
        revealed["erased"],
        json!(["name", "phone", "id_number"]),
        "{revealed}"
    );
    assert_eq!(reveal(b).await["phone"], B);
    // A's comment went with A's keys, B's stays; the order of A's 差评 no longer shows it.
    let comment =
        |id: u64| async move { admin.get(&format!("/api/v1/ratings/{id}")).await.unwrap() };
    let a_rating = comment(a).await;
    assert_eq!(
        (a_rating["text"].clone(), a_rating["text_erased"].clone()),
        (Value::Null, json!(true)),
        "{a_rating}"
    );
    let b_rating = comment(b).await;
    assert!(
        b_rating["text"].as_str().unwrap().contains("两个小时") && b_rating["text_erased"] == false,
        "{b_rating}"
    );
    let orders = admin.get("/api/v1/orders?limit=50").await.unwrap();
    let a_order = orders["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|order| order["rating_id"] == a)
        .unwrap();
    assert_eq!(
        (a_order["text"].clone(), a_order["text_erased"].clone()),
        (Value::Null, json!(true)),
        "{a_order}"
    );
    let complained = admin
        .get(&format!("/api/v1/orders/{complaint}"))
        .await
        .unwrap();
    assert_eq!(
        (
            complained["text"].clone(),
            complained["text_erased"].clone()
        ),
        (Value::Null, json!(true)),
        "{complained}"
    );
    // The routing rule read A's comment: the copy it recorded went with it.
    let routing = routing_text(
        admin
            .get(&format!("/api/v1/ratings/{a}/decisions"))
            .await
            .unwrap(),
    );
    assert_eq!(
        (routing["text"].clone(), routing["text_erased"].clone()),
        (Value::Null, json!(true)),
        "{routing}"
    );
    let again = admin
        .post(
            "/api/v1/privacy/erasures",
            &json!({"phone": A, "reference": "删除申请 2026-001（重复）"}),
        )
        .await
        .unwrap();
    assert_eq!(again["held"], false, "{again}");
    // The messages to A (the 差评's tracking link) are not sent, and that is no delivery
    // failure: nothing reaches the gateway, the sweep reports no error.
    let swept = admin.post("/api/v1/admin/sweep", &json!({})).await.unwrap();
    assert_eq!(
        (swept["messages_failed"].clone(), swept["errors"].clone()),
        (json!(0), json!([])),
        "{swept}"
    );
    assert!(
        sms.received().iter().all(|request| request.body["to"] != A),
        "{:?}",
        sms.received()
            .iter()
            .map(|r| r.body.clone())
            .collect::<Vec<_>>()
    );
    let messages = admin.get_list("/api/v1/messages?limit=100").await.unwrap();
    let to_a: Vec<&Value> = messages
        .as_array()
        .unwrap()
        .iter()
        .filter(|message| message["to_masked"] == "138****0001")
        .collect();
    assert!(!to_a.is_empty(), "{messages}");
    for message in to_a {
        assert!(
            message["state"] == "failed"
                && message["attempts"][0]["error"]
                    .as_str()
                    .is_some_and(|error| error.contains("erased")),
            "{message}"
        );
    }
    let audit = admin
        .get("/api/v1/audit?limit=200")
        .await
        .unwrap()
        .to_string();
    assert_eq!(audit.matches("pii_subject_erased").count(), 2, "{audit}");
    assert!(
        !audit.contains(A) && audit.contains("138****0001"),
        "{audit}"
    );
    let (status, body) = admin
        .try_post("/api/v1/privacy/erasures", &json!({"reference": "无号码"}))
        .await
        .unwrap();
    assert_eq!(status, 422, "{body}");

    // Before November's values are 30 days past the month, the sweep erases nothing.
    let sweep = |at| async move {
        admin.set_clock(at).await.unwrap();
        admin
            .post("/api/v1/privacy/sweep", &json!({}))
            .await
            .unwrap()
    };
    let early = sweep(beijing(12, 30, 10)).await;
    assert_eq!(early["destroyed"], json!([]), "{early}");
    let held = admin.get("/api/v1/privacy").await.unwrap();
    let months = |held: &Value, class: &str| {
        held["classes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["class"] == class)
            .map(|entry| entry["months"].clone())
            .unwrap()
    };
    assert_eq!(
        months(&held, "evaluator_phone"),
        json!(["2026-11"]),
        "{held}"
    );
    assert_eq!(
        months(&held, "applicant_phone"),
        json!(["2026-11"]),
        "{held}"
    );

    // Then it does, and every answer of the platform is the same before and after.
    let later = chrono::Utc.with_ymd_and_hms(2027, 1, 4, 2, 0, 0).unwrap();
    admin.set_clock(later).await.unwrap();
    let before = hcp_e2e::answers(admin).await.unwrap();
    const NOVEMBER_WORDS: &str =
        "/api/v1/analysis/hot-words?dim=region&from=2026-11-01&to=2026-11-30&bad_only=false";
    let hot_before = admin.get(NOVEMBER_WORDS).await.unwrap();
    let b_before = comment(b).await;
    let swept = sweep(later).await;
    let destroyed = swept["destroyed"].to_string();
    for class in ['n', 'p', 'i', 'a', 't'] {
        assert!(destroyed.contains(&format!("p.{class}.202611")), "{swept}");
    }
    let after = hcp_e2e::answers(admin).await.unwrap();
    // What citizens wrote is gone too (and only that): B's comment, the hot words' texts.
    assert!(
        b_before["text"].as_str().unwrap().contains("两个小时"),
        "{b_before}"
    );
    let b_after = comment(b).await;
    assert_eq!(
        (b_after["text"].clone(), b_after["text_erased"].clone()),
        (Value::Null, json!(true)),
        "{b_after}"
    );
    // (A message's `text` is the platform's own wording, not the citizen's.)
    for (path, answer) in after.iter().filter(|(path, _)| path != "/api/v1/messages") {
        let mut found = Vec::new();
        texts_in(answer, &mut found);
        assert!(found.iter().all(Value::is_null), "{path}: {found:?}");
    }
    // November's hot words: B's comment counted and A's erased before; both erased after.
    let hot_after = admin.get(NOVEMBER_WORDS).await.unwrap();
    assert_eq!(
        (
            hot_before["comments"].clone(),
            hot_before["erased_comments"].clone()
        ),
        (json!(1), json!(1)),
        "{hot_before}"
    );
    assert!(
        !hot_before["words"].as_array().unwrap().is_empty(),
        "{hot_before}"
    );
    assert_eq!(
        (
            hot_after["comments"].clone(),
            hot_after["erased_comments"].clone(),
            hot_after["words"].clone()
        ),
        (json!(0), json!(2), json!([])),
        "{hot_after}"
    );
    hcp_e2e::assert_same_answers(
        &without_texts(before),
        &without_texts(after),
        "the retention sweep",
    );
    let revealed = reveal(b).await;
    assert_eq!(
        revealed["erased"],
        json!(["name", "phone", "id_number"]),
        "{revealed}"
    );
    let held = admin.get("/api/v1/privacy").await.unwrap();
    assert_eq!(months(&held, "evaluator_phone"), json!([]), "{held}");
    assert_eq!(held["destructions"].as_array().unwrap().len(), 2, "{held}");

    // With the server stopped: the chain verifies, and no sealed value of the log opens with
    // the personal-data key and the ring at hand.
    let hcp_e2e::Seeded {
        server, data, dir, ..
    } = seeded;
    server.stop().unwrap();
    let (ok, output) = hcp_e2e::run_hcp(&["audit", "verify"], &data, Some(&config)).unwrap();
    assert!(ok && output.contains("the chain is intact"), "{output}");
    let pii = hcp_core::pii::PiiKey::load_or_create(&data.join("keys/pii.key")).unwrap();
    let store = hcp_core::store::Store::open(
        &data.join("store"),
        pii,
        std::sync::Arc::new(hcp_core::clock::SystemClock),
        hcp_core::store::StoreOptions::default(),
    )
    .unwrap();
    let mut sealed = Vec::new();
    let mut seq = 1;
    while let Some(entry) = store.log_entry(seq).unwrap() {
        let event = serde_json::to_value(&entry.event).unwrap();
        // What they wrote is nowhere in the log in the clear (the rating, the order, the input
        // the routing rule read).
        assert!(!event.to_string().contains("两个小时"), "{event}");
        sealed_values(&event, &mut sealed);
        seq += 1;
    }
    // Per person: name, phone, ID and comment of the rating, the act's number (and copies).
    assert!(sealed.len() >= 10, "{sealed:?}");
    for value in &sealed {
        assert!(value.starts_with("2:"), "sealed under the ring: {value}");
        for field in [
            "evaluator.name",
            "evaluator.phone",
            "evaluator.id_number",
            "text",
        ] {
            let opened = store.pii().open(field, value);
            assert!(
                matches!(opened, Err(hcp_core::pii::PiiError::Erased { .. })),
                "{value} as {field}: {opened:?}"
            );
        }
    }
    store.close().unwrap();
    drop(dir);
}
