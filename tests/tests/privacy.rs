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
