//! The citizens' open doors as a script would use them, against the real binary on small
//! limits: a flood of posts and reads from one address (429 with `Retry-After`, a page for a
//! page), an intake that would make the platform text any number (only a code, until the code is
//! posted back; wrong codes lock it; a few codes a day per number), fields over their caps on
//! many endpoints, a source whose refused payloads pile up (the oldest evicted, counted), and a
//! public page read again (served from the cache).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hcp_e2e::{Seeded, SmsGateway, rating, start_seeded};
use serde_json::{Value, json};

/// A config with `limits` as its `[limits]` table and no background sweep.
fn config(limits: &str) -> String {
    format!("[workflow]\nsweep_secs = 0\n[limits]\n{limits}\n")
}

fn complaint(seeded: &Seeded) -> Value {
    json!({
        "kind": "complaint",
        "area_code": "410421",
        "department": seeded.fixture.department,
        "text": "窗口人员态度不好，反复要求补交材料",
    })
}

/// An anonymous post of `body` as JSON to `path`: status, `Retry-After`, body.
async fn post(url: &str, path: &str, body: &Value) -> (u16, Option<String>, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .json(body)
        .send()
        .await
        .unwrap();
    hcp_e2e::answer_of(response).await
}

/// The token of a tracking or confirmation link.
fn token_of(url: &str) -> String {
    url.split("/t/")
        .nth(1)
        .or_else(|| url.split("/track/").nth(1))
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_over_the_limit_from_one_address_are_answered_429_with_retry_after() {
    let seeded = start_seeded(&config(
        "public_posts_per_minute = 3\npublic_reads_per_minute = 100000",
    ))
    .await
    .unwrap();
    let url = &seeded.server.url;
    let mut tracking = String::new();
    for _ in 0..3 {
        let (status, _, receipt) = post(url, "/api/v1/intake", &complaint(&seeded)).await;
        assert_eq!(status, 201, "{receipt}");
        tracking = receipt["tracking_url"].as_str().unwrap().to_string();
    }
    let (status, retry, body) = post(url, "/api/v1/intake", &complaint(&seeded)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "too_many_requests", "{body}");
    let seconds: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&seconds), "{seconds}");

    // A forwarded address from a peer that is no trusted proxy changes nothing.
    let spoofed = reqwest::Client::new()
        .post(format!("{url}/api/v1/intake"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&complaint(&seeded))
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status().as_u16(), 429);

    // The other citizens' posts share the address's limit: the tracking page's form answers
    // a page in Chinese, the JSON API the error shape.
    let token = token_of(&tracking);
    let form = reqwest::Client::new()
        .post(format!("{url}/t/{token}"))
        .form(&[("level", "satisfied")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status().as_u16(), 429);
    assert!(form.headers().contains_key("retry-after"));
    assert!(
        form.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(form.text().await.unwrap().contains("操作过于频繁"));
    let (status, retry, _) = post(
        url,
        &format!("/api/v1/track/{token}/evaluation"),
        &json!({"level": "satisfied"}),
    )
    .await;
    assert_eq!((status, retry.is_some()), (429, true));
    let (status, _, _) = post(
        url,
        &format!("/api/v1/track/{token}/confirm-phone"),
        &json!({"code": "123456"}),
    )
    .await;
    assert_eq!(status, 429);

    // Staff taking a call in are signed in, and not counted; a made-up credential is no way
    // around the limit.
    let (status, body) = seeded
        .admin
        .try_post("/api/v1/intake", &complaint(&seeded))
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let forged = reqwest::Client::new()
        .post(format!("{url}/api/v1/intake"))
        .bearer_auth("made-up")
        .json(&complaint(&seeded))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    let basic = reqwest::Client::new()
        .post(format!("{url}/api/v1/intake"))
        .header("authorization", "Basic eDp5")
        .json(&complaint(&seeded))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status().as_u16(), 401);

    // The OpenAPI document says so.
    let doc: Value = reqwest::get(format!("{url}/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/intake",
        "/api/v1/track/{token}/evaluation",
        "/api/v1/track/{token}/confirm-phone",
        "/api/v1/public/rate/{token}",
    ] {
        let answer = &doc["paths"][path]["post"]["responses"]["429"];
        assert!(
            answer["headers"]["Retry-After"].is_object(),
            "{path}: {answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_the_public_pages_over_the_limit_are_answered_429() {
    let seeded = start_seeded(&config(
        "public_posts_per_minute = 100000\npublic_reads_per_minute = 4",
    ))
    .await
    .unwrap();
    let url = &seeded.server.url;
    for _ in 0..4 {
        let response = reqwest::get(format!("{url}/api/v1/public/regions"))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    let over = reqwest::get(format!("{url}/api/v1/public/regions"))
        .await
        .unwrap();
    assert_eq!(over.status().as_u16(), 429);
    assert!(over.headers().contains_key("retry-after"));
    let body: Value = over.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests");
    let page = reqwest::get(format!("{url}/public")).await.unwrap();
    assert_eq!(page.status().as_u16(), 429);
    assert!(page.text().await.unwrap().contains("操作过于频繁"));
    // Signed-in work is not a public read.
    seeded.admin.get("/api/v1/me").await.unwrap();
}

/// The messages the gateway was handed for `purpose`, with the number they went to.
fn sent(gateway: &SmsGateway, purpose: &str, to: &str) -> Vec<Value> {
    gateway
        .of_purpose(purpose)
        .into_iter()
        .filter(|body| body["to"] == to)
        .collect()
}

/// The 6 digits after 验证码 in a confirmation text.
fn code_in(text: &str) -> String {
    text.split("验证码")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intake_texts_the_number_it_gives_nothing_but_a_code_until_the_code_comes_back() {
    let gateway = SmsGateway::start().unwrap();
    let seeded = start_seeded(&format!(
        "[messages]\ngateway_url = {:?}\n{}",
        gateway.url(),
        config(
            "public_posts_per_minute = 100000\nphone_codes_per_number_per_day = 2\nphone_code_attempts = 3"
        )
    ))
    .await
    .unwrap();
    let url = &seeded.server.url;
    let sweep = || async {
        seeded
            .admin
            .post("/api/v1/admin/sweep", &json!({}))
            .await
            .unwrap()
    };
    let victim = "13900007777";
    let mut intake = complaint(&seeded);
    intake["phone"] = json!(victim);

    let (status, _, receipt) = post(url, "/api/v1/intake", &intake).await;
    assert_eq!(status, 201, "{receipt}");
    assert_eq!(receipt["phone"]["state"], "code_sent", "{receipt}");
    assert_eq!(receipt["phone"]["masked"], "139****7777");
    let order = receipt["order_id"].as_u64().unwrap();
    let confirm = receipt["phone"]["confirm_url"]
        .as_str()
        .unwrap()
        .to_string();
    let confirm_path = confirm.trim_start_matches(url.as_str()).to_string();
    assert_eq!(
        token_of(&confirm),
        token_of(receipt["tracking_url"].as_str().unwrap())
    );

    // Sweeps deliver the code and nothing else: the tracking link waits for the code.
    sweep().await;
    sweep().await;
    let codes = sent(&gateway, "confirmation", victim);
    assert_eq!(codes.len(), 1, "{:?}", gateway.received());
    assert!(sent(&gateway, "tracking", victim).is_empty());
    let code = code_in(codes[0]["text"].as_str().unwrap());
    assert_eq!(code.len(), 6);
    let stored = seeded
        .admin
        .get(&format!("/api/v1/orders/{order}"))
        .await
        .unwrap();
    assert_eq!(stored["reachable"], false, "{stored}");
    // Whoever reads the outbox does not read the code.
    let messages = seeded
        .admin
        .get("/api/v1/messages?purpose=confirmation")
        .await
        .unwrap();
    assert!(!messages.to_string().contains(&code), "{messages}");

    // A wrong code says how many attempts are left; the right one confirms the number.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, _, body) = post(url, &confirm_path, &json!({"code": wrong})).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 attempts left"),
        "{body}"
    );
    let (status, _, body) = post(url, &confirm_path, &json!({"code": code})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["masked"], "139****7777");
    let stored = seeded
        .admin
        .get(&format!("/api/v1/orders/{order}"))
        .await
        .unwrap();
    assert_eq!(stored["reachable"], true, "{stored}");
    assert!(!stored.to_string().contains(victim), "{stored}");
    // One sweep queues the tracking link, the next hands it to the gateway.
    sweep().await;
    sweep().await;
    let tracking = sent(&gateway, "tracking", victim);
    assert_eq!(tracking.len(), 1, "{:?}", gateway.received());
    assert!(
        tracking[0]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("工单{order}"))
    );
    // A code is good once.
    let (status, _, _) = post(url, &confirm_path, &json!({"code": code})).await;
    assert_eq!(status, 409);

    // A second intake with the same number: wrong codes lock it, and then even the right code
    // is refused; the number is never sent the tracking link.
    let (_, _, second) = post(url, "/api/v1/intake", &intake).await;
    let second_order = second["order_id"].as_u64().unwrap();
    let second_path = second["phone"]["confirm_url"]
        .as_str()
        .unwrap()
        .trim_start_matches(url.as_str())
        .to_string();
    sweep().await;
    let codes = sent(&gateway, "confirmation", victim);
    assert_eq!(codes.len(), 2);
    let second_code = code_in(codes[1]["text"].as_str().unwrap());
    let wrong = if second_code == "000000" {
        "111111"
    } else {
        "000000"
    };
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(post(url, &second_path, &json!({"code": wrong})).await.0);
    }
    assert_eq!(statuses, [422, 422, 409]);
    let (status, _, body) = post(url, &second_path, &json!({"code": second_code})).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too often"),
        "{body}"
    );
    sweep().await;
    sweep().await;
    let stored = seeded
        .admin
        .get(&format!("/api/v1/orders/{second_order}"))
        .await
        .unwrap();
    assert_eq!(stored["reachable"], false);
    assert_eq!(sent(&gateway, "tracking", victim).len(), 1);

    // The number had its two codes of the day: a third intake naming it sends none.
    let (status, _, third) = post(url, "/api/v1/intake", &intake).await;
    assert_eq!(status, 201, "{third}");
    assert_eq!(third["phone"]["state"], "not_sent", "{third}");
    sweep().await;
    assert_eq!(sent(&gateway, "confirmation", victim).len(), 2);

    // Staff typing in a caller's number: the tracking link goes out at once.
    let mut taken = complaint(&seeded);
    taken["phone"] = json!("13900008888");
    let receipt = seeded.admin.post("/api/v1/intake", &taken).await.unwrap();
    assert_eq!(receipt["phone"]["state"], "confirmed", "{receipt}");
    sweep().await;
    sweep().await;
    assert_eq!(sent(&gateway, "tracking", "13900008888").len(), 1);
    assert!(sent(&gateway, "confirmation", "13900008888").is_empty());
}

/// One row per endpoint: who posts, where, a body with one field over its cap, and the field
/// the refusal names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_over_its_cap_is_refused_on_every_kind_of_endpoint() {
    let seeded = start_seeded(&config("public_posts_per_minute = 100000"))
        .await
        .unwrap();
    let url = &seeded.server.url;
    let (_, _, receipt) = post(url, "/api/v1/intake", &complaint(&seeded)).await;
    let order = receipt["order_id"].as_u64().unwrap();
    let token = token_of(receipt["tracking_url"].as_str().unwrap());
    let long = |chars: usize| "字".repeat(chars);
    let mut intake_code = complaint(&seeded);
    intake_code["task_code"] = json!("T".repeat(500 * 1024));
    let mut intake_text = complaint(&seeded);
    intake_text["text"] = json!(long(2001));
    let mut intake_phone = complaint(&seeded);
    intake_phone["phone"] = json!("1".repeat(21));
    let anonymous: Vec<(String, Value, &str)> = vec![
        ("/api/v1/intake".into(), intake_code, "task_code"),
        ("/api/v1/intake".into(), intake_text, "text"),
        ("/api/v1/intake".into(), intake_phone, "phone"),
        (
            format!("/api/v1/track/{token}/confirm-phone"),
            json!({"code": "1".repeat(65)}),
            "code",
        ),
    ];
    for (path, body, field) in anonymous {
        let (status, _, answer) = post(url, &path, &body).await;
        assert_eq!(status, 422, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_field", "{path}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}: at most")),
            "{path}: {answer}"
        );
    }
    let signed_in: Vec<(String, Value, &str)> = vec![
        (
            format!("/api/v1/orders/{order}/actions"),
            json!({"type": "accept", "note": long(2001)}),
            "note",
        ),
        (
            format!("/api/v1/orders/{order}/actions"),
            json!({"type": "dispose", "disposition": {"type": "scheduled", "plan": long(10_001), "committed_date": "2026-12-31"}}),
            "disposition.plan",
        ),
        (
            format!("/api/v1/calls/orders/{order}"),
            json!({"outcome": "unreachable", "note": long(2001)}),
            "note",
        ),
        (
            "/api/v1/admin/users".into(),
            json!({"username": "u1", "display_name": long(201), "role": "admin", "scope": "410400", "password": "correct horse battery"}),
            "display_name",
        ),
        (
            "/api/v1/admin/sources".into(),
            json!({"id": "s1", "name": long(201), "scope": "410421"}),
            "name",
        ),
        (
            "/api/v1/admin/master".into(),
            json!({"kind": "item", "record": {"task_code": "T-LONG", "name": long(201), "department": seeded.fixture.department}}),
            "record.name",
        ),
        (
            "/api/v1/problems".into(),
            json!({"title": "t", "cause": "process", "owner": seeded.fixture.department, "plan": "p", "due": "2026-12-31", "region": "410421", "basis": long(10_001), "orders": [order]}),
            "basis",
        ),
        (
            "/api/v1/rules/simulate".into(),
            json!({"from": "2026-11-01", "to": "2026-11-30", "files": {"default/deadline.rhai": "x".repeat(200_001)}}),
            "files.default/deadline.rhai",
        ),
    ];
    for (path, body, field) in signed_in {
        let (status, answer) = seeded.admin.try_post(&path, &body).await.unwrap();
        assert_eq!(status, 422, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_field", "{path}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}: at most")),
            "{path}: {answer}"
        );
    }
    // Nothing of them was recorded.
    let stored = seeded
        .admin
        .get(&format!("/api/v1/orders/{order}"))
        .await
        .unwrap();
    assert_eq!(stored["state"], "dispatched", "{stored}");

    // Ingest refuses an item over a cap with its reason, and keeps it for replay.
    let mut item = rating(&seeded.fixture, "long-window", "P-LONG", "13900001111");
    item["window"] = json!("W".repeat(65));
    let (status, body) = seeded.fixture.ingest(url, "ratings", &item).await.unwrap();
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["reason"]["code"], "field_too_long", "{body}");
    let kept = seeded.admin.get("/api/v1/admin/rejections").await.unwrap();
    assert!(
        kept["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["reason"]["code"] == "field_too_long"),
        "{kept}"
    );
}

/// A refused rating: the item is unknown.
fn refused(seeded: &Seeded, n: u32) -> Value {
    let mut item = rating(
        &seeded.fixture,
        &format!("bad-{n}"),
        &format!("P-BAD-{n}"),
        "13900001111",
    );
    item["task_code"] = json!(format!("T-UNKNOWN-{n}"));
    item
}

fn metric(text: &str, line_start: &str) -> Option<u64> {
    text.lines()
        .find(|line| line.starts_with(line_start))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_keeps_its_newest_refused_payloads_and_counts_the_evicted() {
    let seeded = start_seeded(&config("kept_rejections_per_source = 2"))
        .await
        .unwrap();
    for n in 0..3 {
        let (status, body) = seeded
            .fixture
            .ingest(&seeded.server.url, "ratings", &refused(&seeded, n))
            .await
            .unwrap();
        assert_eq!(status, 422, "{body}");
    }
    // Two in one request: the batch evicts in order.
    let (status, body) = seeded
        .fixture
        .ingest(
            &seeded.server.url,
            "ratings",
            &json!([refused(&seeded, 3), refused(&seeded, 4)]),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, body["rejected"].as_u64()),
        (200, Some(2)),
        "{body}"
    );
    let kept = seeded
        .admin
        .get_list("/api/v1/admin/rejections")
        .await
        .unwrap();
    let messages: Vec<String> = kept
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["reason"]["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(messages.len(), 2, "{kept}");
    assert!(
        messages[0].contains("T-UNKNOWN-3") && messages[1].contains("T-UNKNOWN-4"),
        "{messages:?}"
    );
    let metrics = seeded.server.metrics().await.unwrap();
    let source = &seeded.fixture.source;
    assert_eq!(
        metric(
            &metrics,
            &format!("hcp_rejections_evicted_total{{source=\"{source}\"}}")
        ),
        Some(3),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            &format!("hcp_rejections_kept{{source=\"{source}\"}}")
        ),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_answer_read_again_comes_from_the_cache() {
    let seeded = start_seeded(&config(
        "public_reads_per_minute = 100000\npublic_cache_entries = 100",
    ))
    .await
    .unwrap();
    let url = &seeded.server.url;
    let read = |path: &str| {
        let path = format!("{url}{path}");
        async move {
            let response = reqwest::get(path).await.unwrap();
            let status = response.status().as_u16();
            let cache = response.headers()["x-cache"].to_str().unwrap().to_string();
            (status, cache, response.text().await.unwrap())
        }
    };
    let (status, first, body) = read("/api/v1/public/regions").await;
    assert_eq!((status, first.as_str()), (200, "miss"), "{body}");
    let (_, again, same) = read("/api/v1/public/regions").await;
    assert_eq!(again, "hit");
    assert_eq!(same, body);
    // A parameter the route does not take makes no new entry.
    let (_, junk, _) = read("/api/v1/public/regions?nonce=1").await;
    assert_eq!(junk, "hit");
    // Pages too.
    let (status, first, _) = read("/public").await;
    assert_eq!((status, first.as_str()), (200, "miss"));
    let (_, again, _) = read("/public").await;
    assert_eq!(again, "hit");
    let metrics = seeded.server.metrics().await.unwrap();
    assert_eq!(
        metric(&metrics, "hcp_public_answers_total{result=\"hit\"}"),
        Some(3),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "hcp_public_answers_total{result=\"miss\"}"),
        Some(2)
    );
}
