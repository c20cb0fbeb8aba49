//! Issue 12, items 6 and 7, on the real binary: sources are trusted only for what they are (the
//! platform's own channels and ratings older than the trusted window are refused, kept and
//! replayable once the operator allows them; what is kept of a refusal is redacted); `/metrics`
//! and the detail of `/readyz` only on the operations address or with the operations token; the
//! security headers of every page; outbound SMS over HTTPS only to a certificate the platform
//! trusts, no redirect followed, what is kept of a gateway's answer capped and redacted; and a
//! store committer that dies ends the process with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use hcp_e2e::{
    Seeded, Server, Session, SmsGateway, TestCa, beijing, binary, rules_dir, start_seeded,
    start_seeded_in, write_config,
};
use serde_json::{Value, json};
use sha2::Digest as _;

/// The manual clock of these tests: Monday 2026-11-02 10:00 China time.
fn now() -> DateTime<Utc> {
    beijing(11, 2, 10)
}

/// A manual clock at [`now`], no background sweep, long sessions, the repository's rules, and
/// `extra`. Unlike the hand-built months, no source is granted the platform's channels.
fn config(extra: &str) -> String {
    format!(
        "rules_dir = {rules:?}\n[clock]\nmanual_start = \"{now}\"\n[workflow]\nsweep_secs = 0\n[security]\ntoken_hours = 8760\nidle_minutes = 525600\n{extra}",
        rules = rules_dir().display().to_string(),
        now = now().to_rfc3339(),
    )
}

/// A rating of act `project`#1 at the fixture's window, by `channel`, rated at `rated_at`.
fn rating(seeded: &Seeded, project: &str, channel: &str, rated_at: DateTime<Utc>) -> Value {
    json!({
        "event_id": format!("r-{project}"), "project_no": project, "service_number": 1,
        "task_code": "T-QYSL", "department": seeded.fixture.department, "area_code": "410421",
        "window": "W-BF-01", "level": "satisfied", "channel": channel,
        "evaluator": {"real_name": true, "phone": "13900001111"},
        "rated_at": rated_at,
    })
}

/// Every kept refusal: (seq, reason code, reason message).
async fn rejections(admin: &Session) -> Vec<(u64, String, String)> {
    admin
        .get_list("/api/v1/admin/rejections?limit=500")
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["seq"].as_u64().unwrap(),
                row["reason"]["code"].as_str().unwrap().to_string(),
                row["reason"]["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_are_trusted_only_for_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &config("")).unwrap();
    let seeded = start_seeded_in(dir, &path).await.unwrap();
    let (url, admin) = (seeded.server.url.clone(), &seeded.admin);
    let post = |body: Value| {
        let seeded = &seeded;
        let url = url.clone();
        async move { seeded.fixture.ingest(&url, "ratings", &body).await.unwrap() }
    };

    // The platform's own channels: refused one by one with the reason, and kept.
    for (project, channel) in [
        ("P-SMS", "sms"),
        ("P-PHONE", "phone"),
        ("P-DEF", "system_default"),
    ] {
        let (status, answer) = post(rating(&seeded, project, channel, now())).await;
        assert_eq!(status, 422, "{channel}: {answer}");
        assert_eq!(answer["reason"]["code"], "channel_not_owned", "{answer}");
        let message = answer["reason"]["message"].as_str().unwrap();
        assert!(
            message.contains(channel) && message.contains("[ingest] channel_owners"),
            "{message}"
        );
    }
    // Too old: 31 days before the server's time; 29 days is still trusted.
    let (status, answer) = post(rating(
        &seeded,
        "P-OLD",
        "qr_code",
        now() - Duration::days(31),
    ))
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["reason"]["code"], "too_old", "{answer}");
    assert!(
        answer["reason"]["message"]
            .as_str()
            .unwrap()
            .contains("[ingest] max_age_days"),
        "{answer}"
    );
    let (status, answer) = post(rating(
        &seeded,
        "P-RECENT",
        "qr_code",
        now() - Duration::days(29),
    ))
    .await;
    assert_eq!(status, 201, "{answer}");
    // A batch answers item by item, the same way.
    let (status, answer) = seeded
        .fixture
        .ingest(
            &url,
            "ratings",
            &json!([
                rating(&seeded, "P-B1", "hall_device", now()),
                rating(&seeded, "P-B2", "sms", now()),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (answer["recorded"].clone(), answer["rejected"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(answer["results"][1]["reason"]["code"], "channel_not_owned");

    // A malformed item quoting a phone number is refused and kept with the number masked.
    let mut malformed = rating(&seeded, "P-BAD", "qr_code", now());
    malformed["service_number"] = json!("13812345678");
    let (status, answer) = post(malformed).await;
    assert_eq!(status, 422, "{answer}");
    let message = answer["reason"]["message"].as_str().unwrap();
    assert!(message.contains("138****5678"), "{message}");
    assert!(!message.contains("13812345678"), "{message}");

    let kept = rejections(admin).await;
    let codes: Vec<&str> = kept.iter().map(|(_, code, _)| code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "channel_not_owned",
            "channel_not_owned",
            "channel_not_owned",
            "too_old",
            "channel_not_owned",
            "malformed"
        ]
    );
    assert!(
        kept.iter()
            .all(|(_, _, message)| !message.contains("13812345678"))
    );
    // A replay meets the same trust: still refused, still kept.
    let (old, _, _) = kept[3].clone();
    let replayed = admin
        .post(
            &format!("/api/v1/admin/rejections/{old}/replay"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(replayed["rejected"], 1, "{replayed}");
    assert_eq!(replayed["results"][0]["reason"]["code"], "too_old");
    assert_eq!(rejections(admin).await.len(), kept.len());

    // The operator widens the window and grants the source the phone channel (its 12345
    // hotline): the kept ratings replay, and the SMS one stays refused.
    let password = seeded.server.admin_password().unwrap();
    let data = seeded.data.clone();
    let Seeded { server, dir, .. } = seeded;
    server.stop().unwrap();
    let widened = write_config(
        dir.path(),
        &config("[ingest]\nmax_age_days = 60\nchannel_owners = { bf-devices = [\"phone\"] }\n"),
    )
    .unwrap();
    let server = Server::start(&binary("debug").unwrap(), "serve", &data, Some(&widened)).unwrap();
    let admin = Session::login(&server.url, "admin", &password)
        .await
        .unwrap();
    let outcome = |seq: u64| {
        let admin = &admin;
        async move {
            admin
                .post(
                    &format!("/api/v1/admin/rejections/{seq}/replay"),
                    &json!({}),
                )
                .await
                .unwrap()
        }
    };
    for (seq, channel) in [(kept[1].0, "phone"), (kept[3].0, "qr_code")] {
        let replayed = outcome(seq).await;
        assert_eq!(replayed["recorded"], 1, "{replayed}");
        let id = replayed["results"][0]["id"].as_u64().unwrap();
        let stored = admin.get(&format!("/api/v1/ratings/{id}")).await.unwrap();
        assert_eq!(stored["channel"], channel, "{stored}");
    }
    let sms = outcome(kept[0].0).await;
    assert_eq!(
        sms["results"][0]["reason"]["code"], "channel_not_owned",
        "{sms}"
    );
    let left: Vec<u64> = rejections(&admin)
        .await
        .iter()
        .map(|(seq, _, _)| *seq)
        .collect();
    assert_eq!(left, [kept[0].0, kept[2].0, kept[4].0, kept[5].0]);
}

const OPS_TOKEN: &str = "ops-token-for-the-tests-0123456789abcdef";

/// A GET with an optional bearer token; the status, one header and the body.
async fn get(url: &str, bearer: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_readiness_detail_need_the_token_or_the_operations_address() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("ops.token");
    std::fs::write(&token, format!("{OPS_TOKEN}\n")).unwrap();
    let path = write_config(
        dir.path(),
        &config(&format!(
            "[ops]\ntoken_file = {:?}\n",
            token.display().to_string()
        )),
    )
    .unwrap();
    let Seeded { server, .. } = start_seeded_in(dir, &path).await.unwrap();
    let main = &server.url;

    assert_eq!(
        get(&format!("{main}/healthz"), None).await,
        (200, "ok".into())
    );
    for wrong in [
        None,
        Some("ops-token-for-the-tests-0123456789abcdeX"),
        Some(""),
    ] {
        let (status, body) = get(&format!("{main}/metrics"), wrong).await;
        assert_eq!(status, 401, "{wrong:?}: {body}");
        assert!(!body.contains("hcp_"), "{body}");
        assert_eq!(
            get(&format!("{main}/readyz"), wrong).await,
            (200, "ready".into())
        );
    }
    let (status, metrics) = get(&format!("{main}/metrics"), Some(OPS_TOKEN)).await;
    assert_eq!(status, 200);
    assert!(metrics.contains("hcp_store_log_head"), "{metrics}");
    let (status, ready) = get(&format!("{main}/readyz"), Some(OPS_TOKEN)).await;
    assert_eq!(status, 200);
    assert!(ready.starts_with("ready: log head "), "{ready}");

    // The operations address serves them to whoever reaches it, and nothing else.
    let (status, ready) = server.readyz().await.unwrap();
    assert_eq!(status, 200);
    assert!(ready.starts_with("ready: log head "), "{ready}");
    assert!(
        server
            .metrics()
            .await
            .unwrap()
            .contains("hcp_store_log_head")
    );
    assert_eq!(
        get(&format!("{}/api/v1/openapi.json", server.ops_url), None)
            .await
            .0,
        404
    );

    // Documented: the token as a security scheme, required on /metrics, optional on /readyz.
    let (_, doc) = get(&format!("{main}/api/v1/openapi.json"), None).await;
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(
        doc["components"]["securitySchemes"]["ops_token"]["scheme"],
        "bearer"
    );
    let metrics = &doc["paths"]["/metrics"]["get"];
    assert_eq!(metrics["security"], json!([{"ops_token": []}]));
    for status in ["200", "401"] {
        assert!(
            metrics["responses"][status].is_object(),
            "{status}: {metrics}"
        );
    }
    let readyz = &doc["paths"]["/readyz"]["get"];
    assert_eq!(readyz["security"], json!([{}, {"ops_token": []}]));
    assert!(readyz["responses"]["401"].is_null(), "{readyz}");
    assert!(readyz["responses"]["503"].is_object(), "{readyz}");
    assert_eq!(doc["paths"]["/healthz"]["get"]["security"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_main_address_keeps_the_detail() {
    let Seeded { server, .. } = start_seeded("").await.unwrap();
    let (status, body) = get(&format!("{}/metrics", server.url), Some(OPS_TOKEN)).await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("hcp_"), "{body}");
    assert!(
        server
            .metrics()
            .await
            .unwrap()
            .contains("hcp_store_log_head")
    );
    assert_eq!(
        get(&format!("{}/readyz", server.url), Some(OPS_TOKEN)).await,
        (200, "ready".into())
    );
}

/// `'sha256-…'` of an inline script or style, as browsers compute it.
fn source_hash(text: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text.as_bytes()))
    )
}

/// The contents of every `<tag>…</tag>` of a page.
fn elements<'a>(page: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    page.match_indices(&open)
        .filter_map(|(start, _)| {
            let body = start + page[start..].find('>')? + 1;
            let end = body + page[body..].find(&close)?;
            Some(&page[body..end])
        })
        .collect()
}

/// The page at `url`: it carries every security header, and its inline styles and handlers are
/// the ones its content policy allows by hash; no inline script element. Returns its headers.
async fn check_page(url: &str, token_in_url: bool) -> reqwest::header::HeaderMap {
    let response = reqwest::Client::new().get(url).send().await.unwrap();
    let headers = response.headers().clone();
    let page = response.text().await.unwrap();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        header("content-type").starts_with("text/html"),
        "{url}: {}",
        header("content-type")
    );
    assert_eq!(header("x-frame-options"), "DENY", "{url}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{url}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{url}");
    let policy = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(policy.contains(directive), "{url}: {policy}");
    }
    assert!(!policy.contains("'unsafe-inline'"), "{url}: {policy}");
    for style in elements(&page, "style") {
        assert!(
            policy.contains(&source_hash(style)),
            "{url}: an inline style its policy does not allow"
        );
    }
    assert!(
        elements(&page, "script").is_empty(),
        "{url}: an inline script"
    );
    for (start, _) in page.match_indices(" onclick=\"") {
        let handler = page[start + 10..].split('"').next().unwrap();
        assert!(policy.contains(&source_hash(handler)), "{url}: {handler}");
    }
    if token_in_url {
        assert_eq!(header("cache-control"), "no-store", "{url}");
        assert_eq!(header("x-robots-tag"), "noindex", "{url}");
    }
    headers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_carries_the_security_headers() {
    let Seeded { server, admin, .. } = start_seeded(&config("")).await.unwrap();
    let url = &server.url;
    // A citizen's complaint, and its tracking page.
    let receipt = reqwest::Client::new()
        .post(format!("{url}/api/v1/intake"))
        .json(&json!({"kind": "complaint", "area_code": "410421", "text": "窗口排队时间过长"}))
        .send()
        .await
        .unwrap();
    assert_eq!(receipt.status().as_u16(), 201);
    let receipt: Value = receipt.json().await.unwrap();
    let tracking = receipt["tracking_url"].as_str().unwrap();
    let token = tracking.rsplit("/t/").next().unwrap();
    let tracked = check_page(&format!("{url}/t/{token}"), true).await;
    assert_eq!(
        tracked["content-security-policy"],
        check_page(&format!("{url}/"), false).await["content-security-policy"]
    );
    let (status, _) = get(&format!("{url}/api/v1/track/{token}"), None).await;
    assert_eq!(status, 200);
    let api = reqwest::get(format!("{url}/api/v1/track/{token}"))
        .await
        .unwrap();
    assert_eq!(api.headers()["cache-control"], "no-store");
    assert_eq!(api.headers()["referrer-policy"], "no-referrer");
    // Forged links answer pages too, with the same headers.
    check_page(&format!("{url}/t/forged-token"), true).await;
    check_page(&format!("{url}/r/forged-token"), true).await;
    // The public pages and a printable report (its print button's handler allowed by hash).
    check_page(&format!("{url}/public"), false).await;
    let report = format!("{url}/api/v1/reports/bulletin?scope=410421&period=2026-10&format=html");
    let response = admin
        .client
        .get(&report)
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "{}",
        response.text().await.unwrap()
    );
    let headers = response.headers().clone();
    let page = response.text().await.unwrap();
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(page.contains("onclick=\"window.print()\""));
    assert!(policy.contains(&source_hash("window.print()")), "{policy}");
    assert!(policy.contains("'unsafe-hashes'"), "{policy}");
    for style in elements(&page, "style") {
        assert!(policy.contains(&source_hash(style)), "the report's style");
    }

    // The API docs: a policy of their own, scripts from here only (none inline).
    let docs = reqwest::get(format!("{url}/docs/")).await.unwrap();
    assert_eq!(docs.status().as_u16(), 200);
    let policy = docs.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(docs.headers()["x-frame-options"], "DENY");
    let page = docs.text().await.unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(
        elements(&page, "script")
            .iter()
            .all(|body| body.trim().is_empty()),
        "Swagger UI's page has an inline script: {page}"
    );
    for asset in [
        "swagger-initializer.js",
        "swagger-ui-bundle.js",
        "swagger-ui.css",
    ] {
        let (status, _) = get(&format!("{url}/docs/{asset}"), None).await;
        assert_eq!(status, 200, "{asset}");
    }
}

/// A completed service act `project`#1 at the fixture's window with the applicant's mobile
/// number: its SMS invitation is due a day later.
async fn completed_service(
    seeded_url: &str,
    fixture: &hcp_e2e::Fixture,
    project: &str,
    at: DateTime<Utc>,
) {
    let (status, answer) = fixture
        .ingest(
            seeded_url,
            "service-events",
            &json!({
                "event_id": format!("svc-{project}"), "project_no": project,
                "project_name": "企业设立登记申请", "task_code": "T-QYSL",
                "department": fixture.department, "area_code": "410421", "service_number": 1,
                "service_name": "申报", "status": "completed", "occurred_at": at,
                "window": "W-BF-01", "applicant_phone": "13912345678",
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{answer}");
}

/// The delivery attempts of the invitation of `project`.
async fn attempts(admin: &Session, project: &str) -> Vec<Value> {
    let messages = admin.get_list("/api/v1/messages?limit=500").await.unwrap();
    messages
        .as_array()
        .unwrap()
        .iter()
        .find(|message| message["subject"] == format!("service:{project}/1"))
        .map(|message| message["attempts"].as_array().unwrap().clone())
        .unwrap_or_default()
}

/// A server of the SMS gateway at `gateway_url`, trusting `ca_file` when given.
async fn with_gateway(gateway_url: &str, ca_file: Option<&Path>) -> Seeded {
    let ca = ca_file
        .map(|path| format!("ca_file = {:?}\n", path.display().to_string()))
        .unwrap_or_default();
    start_seeded(&config(&format!(
        "[messages]\ngateway_url = {gateway_url:?}\n{ca}public_url = \"https://hcp.example.gov.cn/\"\ntimeout_ms = 5000\n"
    )))
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_sms_goes_over_https_to_a_trusted_certificate_only() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::generate().unwrap();
    let ca_file = ca.write_ca(dir.path()).unwrap();
    let gateway = SmsGateway::start_tls(&ca).unwrap();
    assert!(gateway.url().starts_with("https://127.0.0.1:"));
    let day = now() + Duration::hours(24);

    // Trusting the gateway's CA: the invitation is delivered over TLS.
    let trusting = with_gateway(gateway.url(), Some(&ca_file)).await;
    let (url, fixture, admin) = (&trusting.server.url, &trusting.fixture, &trusting.admin);
    completed_service(url, fixture, "P-TLS-1", now()).await;
    let report = admin.sweep_at(day).await.unwrap();
    assert_eq!(report["messages_sent"], 1, "{report}");
    assert_eq!(gateway.received().len(), 1);
    assert_eq!(gateway.received()[0].body["to"], "13912345678");

    // A redirect is not followed (following it would post to the gateway again).
    gateway.answer_next(
        "307 Temporary Redirect",
        &[("location", &format!("{}/elsewhere", gateway.url()))],
        "",
    );
    completed_service(url, fixture, "P-TLS-2", now()).await;
    let report = admin.sweep_at(day + Duration::seconds(1)).await.unwrap();
    assert_eq!(report["messages_failed"], 1, "{report}");
    assert_eq!(gateway.received().len(), 2, "the redirect was followed");
    let error = attempts(admin, "P-TLS-2").await[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("redirects are not followed"), "{error}");

    // An error answer is kept capped and redacted: it quotes the number and goes on.
    let long = format!(
        "{{\"error\":\"number 13912345678 refused\",\"name\":\"张三\",\"detail\":\"{}\"}}",
        "x".repeat(500)
    );
    gateway.answer_next("400 Bad Request", &[], &long);
    completed_service(url, fixture, "P-TLS-3", now()).await;
    admin.sweep_at(day + Duration::seconds(2)).await.unwrap();
    let error = attempts(admin, "P-TLS-3").await[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.starts_with("the gateway answered 400 Bad Request: "),
        "{error}"
    );
    assert!(error.contains("139****5678"), "{error}");
    assert!(
        !error.contains("13912345678") && !error.contains("张三"),
        "{error}"
    );
    assert!(error.contains("more characters)"), "{error}");
    assert!(error.chars().count() < 300, "{error}");

    // An answer over the cap is not read at all.
    gateway.answer_next("500 Internal Server Error", &[], &"y".repeat(70 * 1024));
    completed_service(url, fixture, "P-TLS-4", now()).await;
    admin.sweep_at(day + Duration::seconds(3)).await.unwrap();
    let error = attempts(admin, "P-TLS-4").await[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("longer than 65536 bytes"), "{error}");
    let received = gateway.received().len();
    assert_eq!(received, 4);

    // Not trusting it: the handshake fails, nothing reaches the gateway, the attempt says why.
    let untrusting = with_gateway(gateway.url(), None).await;
    completed_service(
        &untrusting.server.url,
        &untrusting.fixture,
        "P-TLS-5",
        now(),
    )
    .await;
    let report = untrusting.admin.sweep_at(day).await.unwrap();
    assert_eq!(report["messages_failed"], 1, "{report}");
    assert_eq!(gateway.received().len(), received);
    let error = attempts(&untrusting.admin, "P-TLS-5").await[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committer_that_dies_ends_the_process_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "[demo]\nhistory_days = 1\nservices_per_day = 60\nlive_per_second = 0\n[workflow]\nsweep_secs = 0\n[uplink]\ninterval_secs = 0\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&binary("debug").unwrap(), "demo", &data, Some(&path)).unwrap();
    // "demo source <id>: X-Api-Key <key>"
    let (source, key) = server
        .banner
        .iter()
        .find_map(|line| {
            let (source, key) = line
                .trim()
                .strip_prefix("demo source ")?
                .split_once(": X-Api-Key ")?;
            Some((source.to_string(), key.trim().to_string()))
        })
        .expect("the demo source's key in the banner");
    let example: Value =
        serde_json::from_slice(&std::fs::read(data.join("example-rating.json")).unwrap()).unwrap();
    let admin = Session::login(&server.url, "admin", "demo-2026")
        .await
        .unwrap();
    assert_eq!(server.readyz().await.unwrap().0, 200);

    // Armed, the next rating recorded makes the committer panic.
    let (status, armed) = admin
        .try_post("/demo/faults/committer", &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 202, "{armed}");
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/sources/{source}/ratings", server.url))
        .header("x-api-key", &key)
        .json(&example)
        .send()
        .await;
    // The writer is answered 503, unless the process ended first.
    if let Ok(answer) = answer {
        assert_eq!(answer.status().as_u16(), 503);
    }
    let status = server
        .wait_exit(std::time::Duration::from_secs(120))
        .unwrap();
    assert_eq!(status.code(), Some(70), "{status:?}");
    let log = server.log().join("\n");
    assert!(
        log.contains("the store's committer stopped") && log.contains("the demo's committer fault"),
        "{log}"
    );
}

/// `HCP_LOG_FORMAT=json`: what the server logs is one JSON object per line, as a log collector
/// reads it (level, target, message and fields).
#[test]
fn logs_come_as_json_lines_when_asked() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(binary("debug").unwrap())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .env("HCP_LOG", "info")
        .env("HCP_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Its stdout is read to the end (a closed pipe would make its banner fail).
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (listening, serving) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if line.contains("listening on") {
                let _ = listening.send(());
            }
        }
    });
    serving
        .recv_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let lines: Vec<String> = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert!(!lines.is_empty(), "the server logged nothing");
    for line in &lines {
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"));
        assert!(
            entry["level"].is_string() && entry["fields"].is_object(),
            "{line}"
        );
    }
    assert!(
        lines.iter().any(|line| line.contains("\"serving\"")),
        "{lines:?}"
    );
}
