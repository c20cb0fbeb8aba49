//! Windows' static QR codes end to end, against the real binary: the page a code opens names
//! the window and offers the acts done there lately without personal data; a 差评 needs a
//! reason and is stored once, with a tracking link that works; an anonymous rating of the window
//! only where the county allows it; rotation kills the old code; the page stays small; the
//! posters are PDFs with a page per window; no URL carries a unit code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use hcp_e2e::{beijing_at, manual_clock_config, seed_other_county, start_seeded};
use serde_json::{Value, json};

/// Monday 2026-03-02 10:00 China time.
fn now() -> DateTime<Utc> {
    beijing_at(3, 2, 10, 0)
}

/// The path and query of a URL the platform made (`http://host:port/w/…`).
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    rest.find('/')
        .map(|at| rest[at..].to_string())
        .unwrap_or_default()
}

struct Answer {
    status: u16,
    body: String,
    bytes: usize,
}

async fn get(base: &str, path: &str) -> Answer {
    let response = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    Answer {
        status,
        bytes: bytes.len(),
        body: String::from_utf8_lossy(&bytes).to_string(),
    }
}

async fn post_form(base: &str, path: &str, form: &[(&str, &str)]) -> Answer {
    let body: String = form
        .iter()
        .map(|(key, value)| format!("{key}={}", urlencode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    Answer {
        status,
        bytes: bytes.len(),
        body: String::from_utf8_lossy(&bytes).to_string(),
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The acts a page offers to rate (their proofs), in page order.
fn offered(page: &str) -> Vec<String> {
    page.split("name=\"act\" value=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|value| value.len() == 32)
        .map(String::from)
        .collect()
}

fn service(
    project: &str,
    window: &str,
    department: &str,
    area: &str,
    task: &str,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "event_id": format!("svc-{project}"), "project_no": project, "project_name": "张三申请设立登记",
        "task_code": task, "department": department, "area_code": area,
        "service_number": 1, "service_name": "受理", "status": "accepted",
        "occurred_at": at, "window": window, "applicant_phone": "13812345678",
    })
}

fn ucs2_hex(text: &str) -> String {
    let mut out = String::from("<");
    for unit in text.encode_utf16() {
        out.push_str(&format!("{unit:04X}"));
    }
    out.push('>');
    out
}

#[tokio::test]
async fn a_windows_qr_code_rates_its_services_and_can_be_replaced() {
    let mut config = manual_clock_config(now());
    // 叶县 takes anonymous window ratings; 宝丰县 does not.
    config.push_str("[window_qr]\nrecent_hours = 4\nanonymous_regions = [\"410422\"]\n");
    let seeded = start_seeded(&config).await.unwrap();
    let base = seeded.server.url.clone();
    let admin = &seeded.admin;
    let ours = &seeded.fixture;
    let theirs = seed_other_county(admin).await.unwrap();
    admin
        .post(
            "/api/v1/admin/master",
            &json!({"kind": "org_unit", "record": {"id": "W-BF-02", "kind": "window", "name": "综合窗口2", "parent": "H-BF", "department": ours.department}}),
        )
        .await
        .unwrap();

    // The windows of the county and their codes: no unit code in any URL.
    let listed = admin.get("/api/v1/windows/qr?unit=410421").await.unwrap();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{listed}");
    assert_eq!(items[0]["window"], "W-BF-01");
    assert_eq!(items[0]["department_name"], "宝丰县市场监督管理局");
    assert_eq!(items[0]["hall_name"], "宝丰县政务服务中心");
    let url = items[0]["url"].as_str().unwrap().to_string();
    for item in items {
        let url = item["url"].as_str().unwrap();
        for code in ["W-BF", "H-BF", "410421", ours.department.as_str()] {
            assert!(!url.contains(code), "{url} carries {code}");
        }
    }
    // By department, and by hall, the same windows; a page of one has a cursor.
    let by_department = admin
        .get(&format!(
            "/api/v1/windows/qr?unit={}&limit=1",
            ours.department
        ))
        .await
        .unwrap();
    assert_eq!(by_department["items"][0]["window"], "W-BF-01");
    assert!(by_department["next_cursor"].is_string(), "{by_department}");
    let path = path_of(&url);
    assert!(path.starts_with("/w/"), "{path}");

    // Two acts at the window within the hours, one long before, one at the other window.
    seeded
        .ingest_all(
            "service-events",
            vec![
                service(
                    "BF-QR-1",
                    "W-BF-01",
                    &ours.department,
                    "410421",
                    "T-QYSL",
                    now() - Duration::minutes(30),
                ),
                service(
                    "BF-QR-2",
                    "W-BF-01",
                    &ours.department,
                    "410421",
                    "T-QYSL",
                    now() - Duration::minutes(90),
                ),
                service(
                    "BF-QR-OLD",
                    "W-BF-01",
                    &ours.department,
                    "410421",
                    "T-QYSL",
                    now() - Duration::hours(9),
                ),
                service(
                    "BF-QR-OTHER",
                    "W-BF-02",
                    &ours.department,
                    "410421",
                    "T-QYSL",
                    now() - Duration::minutes(10),
                ),
            ],
        )
        .await
        .unwrap();

    // The page names the window and offers the two recent acts, without personal data.
    let page = get(&base, &path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for shown in [
        "综合窗口1",
        "宝丰县市场监督管理局",
        "宝丰县政务服务中心",
        "企业设立登记",
        "受理",
        "09:30",
        "08:30",
        "大字模式",
        "非常不满意",
        "等候时间",
    ] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }
    for hidden in [
        "BF-QR",
        "13812345678",
        // Not even masked (a bare "5678" would also match the page's random tokens now and then).
        "*5678",
        "张三",
        "W-BF-01",
        "410421",
        ours.department.as_str(),
    ] {
        assert!(!page.body.contains(hidden), "{hidden} shown: {}", page.body);
    }
    let acts = offered(&page.body);
    assert_eq!(acts.len(), 2, "{}", page.body);
    // The page and everything it loads: it loads nothing else (no script, image or sheet).
    assert!(page.bytes < 50 * 1024, "{} bytes", page.bytes);
    for external in ["<script", "<link", "src=", "url("] {
        assert!(!page.body.contains(external), "{external}");
    }
    let big = get(&base, &format!("{path}?big=1")).await;
    assert_eq!(big.status, 200);
    assert!(
        big.body.contains("<html lang=\"zh-CN\" class=\"big\">") && big.body.contains("标准模式")
    );
    assert!(big.bytes < 50 * 1024, "{} bytes", big.bytes);
    eprintln!(
        "window page: {} bytes, elderly mode {} bytes, nothing else loaded",
        page.bytes, big.bytes
    );

    // A 差评 without a reason: refused in Chinese, nothing stored.
    let refused = post_form(
        &base,
        &path,
        &[
            ("act", &acts[0]),
            ("level", "dissatisfied"),
            ("text", "等了很久"),
        ],
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("请至少选择一项原因"),
        "{}",
        refused.body
    );
    let case = admin.get("/api/v1/cases/BF-QR-1").await.unwrap();
    assert_eq!(case["services"][0]["ratings"], json!([]), "{case}");

    // With a reason: stored once, with the tracking link of its order.
    let rated = post_form(
        &base,
        &path,
        &[
            ("act", &acts[0]),
            ("level", "dissatisfied"),
            ("reason", "510"),
            ("reason", "501"),
            ("text", "排队时间太长"),
        ],
    )
    .await;
    assert_eq!(rated.status, 200, "{}", rated.body);
    assert!(rated.body.contains("感谢您的评价"), "{}", rated.body);
    let tracking = rated
        .body
        .split("href=\"")
        .filter_map(|rest| rest.split('"').next())
        .find(|href| href.contains("/t/"))
        .expect("a tracking link")
        .to_string();
    let followed = get(&base, &path_of(&tracking)).await;
    assert_eq!(followed.status, 200, "{}", followed.body);
    assert!(followed.body.contains("差评"), "{}", followed.body);
    let case = admin.get("/api/v1/cases/BF-QR-1").await.unwrap();
    let ratings = case["services"][0]["ratings"].as_array().unwrap().clone();
    assert_eq!(ratings.len(), 1, "{case}");
    let rating = admin
        .get(&format!("/api/v1/ratings/{}", ratings[0]))
        .await
        .unwrap();
    assert_eq!(rating["channel"], "qr_code", "{rating}");
    assert_eq!(rating["indicators"], json!(["501", "510"]), "{rating}");

    // A second rating of the same act: already rated, nothing more stored.
    let again = post_form(&base, &path, &[("act", &acts[0]), ("level", "satisfied")]).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("已评价"), "{}", again.body);
    let again = post_form(
        &base,
        &path,
        &[
            ("act", "project"),
            ("project_no", "BF-QR-1"),
            ("level", "satisfied"),
        ],
    )
    .await;
    assert_eq!(again.status, 409, "{}", again.body);
    let case = admin.get("/api/v1/cases/BF-QR-1").await.unwrap();
    assert_eq!(case["services"][0]["ratings"].as_array().unwrap().len(), 1);
    // The page shows the act as rated.
    let page = get(&base, &path).await;
    assert!(page.body.contains("已评价"), "{}", page.body);

    // By project number: the older act; one at another window is not this window's.
    let by_number = post_form(
        &base,
        &path,
        &[
            ("act", "project"),
            ("project_no", "BF-QR-OLD"),
            ("level", "very_satisfied"),
        ],
    )
    .await;
    assert_eq!(by_number.status, 200, "{}", by_number.body);
    assert!(
        !by_number.body.contains("/t/"),
        "no order for a good rating"
    );
    let elsewhere = post_form(
        &base,
        &path,
        &[
            ("act", "project"),
            ("project_no", "BF-QR-OTHER"),
            ("level", "satisfied"),
        ],
    )
    .await;
    assert_eq!(elsewhere.status, 404, "{}", elsewhere.body);

    // Anonymous window ratings: refused in 宝丰县, taken in 叶县.
    let anonymous = post_form(
        &base,
        &path,
        &[
            ("act", "window"),
            ("item", "T-QYSL"),
            ("level", "satisfied"),
        ],
    )
    .await;
    assert_eq!(anonymous.status, 403, "{}", anonymous.body);
    assert!(!page.body.contains("匿名评价本窗口"));
    let theirs_listed = admin.get("/api/v1/windows/qr?unit=H-YX").await.unwrap();
    let theirs_path = path_of(theirs_listed["items"][0]["url"].as_str().unwrap());
    let theirs_page = get(&base, &theirs_path).await;
    assert!(
        theirs_page.body.contains("匿名评价本窗口"),
        "{}",
        theirs_page.body
    );
    let anonymous = post_form(
        &base,
        &theirs_path,
        &[
            ("act", "window"),
            ("item", "T-YX"),
            ("level", "very_dissatisfied"),
            ("reason", "501"),
        ],
    )
    .await;
    assert_eq!(anonymous.status, 200, "{}", anonymous.body);
    assert!(anonymous.body.contains("/t/"), "{}", anonymous.body);
    let their_ratings = admin
        .get("/api/v1/ratings?unit=410422&from=2026-03-01&to=2026-03-31")
        .await
        .unwrap();
    let rating = &their_ratings["items"][0];
    assert_eq!(rating["channel"], "qr_code", "{their_ratings}");
    assert_eq!(rating["evaluator"]["real_name"], false, "{rating}");
    let _ = theirs;

    // Posters: a PDF page per window naming it, and an SVG.
    let pdf = reqwest::Client::new()
        .get(format!("{base}/api/v1/windows/posters.pdf?unit=H-BF"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let pdf = pdf.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&pdf);
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(text.matches("/Type /Page /Parent").count(), 2);
    for name in ["综合窗口1", "综合窗口2", "扫码评价本窗口服务"] {
        assert!(text.contains(&ucs2_hex(name)), "{name}");
    }
    let one = admin
        .get_text("/api/v1/windows/W-BF-01/poster.pdf")
        .await
        .unwrap();
    assert!(one.starts_with("%PDF-") && one.matches("/Type /Page /Parent").count() == 1);
    let svg = admin
        .get_text("/api/v1/windows/W-BF-01/poster.svg")
        .await
        .unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("综合窗口1"),
        "{svg}"
    );

    // Rotation: the old code is replaced, the new one works; a 宝丰县 admin cannot rotate 叶县's.
    let rotated = admin
        .post("/api/v1/windows/W-BF-01/qr/rotate", &json!({}))
        .await
        .unwrap();
    let new_url = rotated["url"].as_str().unwrap();
    assert_ne!(new_url, url);
    let old = get(&base, &path).await;
    assert_eq!(old.status, 410, "{}", old.body);
    assert!(old.body.contains("已更换"), "{}", old.body);
    let old_post = post_form(&base, &path, &[("act", &acts[1]), ("level", "satisfied")]).await;
    assert_eq!(old_post.status, 410);
    let new = get(&base, &path_of(new_url)).await;
    assert_eq!(new.status, 200);
    assert!(new.body.contains("综合窗口1"));
    let relisted = admin.get("/api/v1/windows/qr?unit=H-BF").await.unwrap();
    assert_eq!(relisted["items"][0]["url"], new_url);
    let forged = get(&base, "/w/0123456789abcdef0123456789abcdef").await;
    assert_eq!(forged.status, 404);
    assert!(forged.body.contains("二维码无效"));

    // The token answers carry no-store.
    let response = reqwest::get(format!("{base}{}", path_of(new_url)))
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
}

/// A 差评 by a window's code may leave a number for the call-back: a malformed one is refused
/// with nothing stored; a good one is sent a code (the order stays unreachable until the code
/// comes back), and the tracking page asks for it and refuses a wrong one. A good rating keeps
/// no number at all.
#[tokio::test]
async fn a_bad_review_by_qr_code_may_leave_a_number_for_the_call_back() {
    let config = manual_clock_config(now());
    let seeded = start_seeded(&config).await.unwrap();
    let base = seeded.server.url.clone();
    let admin = &seeded.admin;
    let ours = &seeded.fixture;
    let listed = admin.get("/api/v1/windows/qr?unit=410421").await.unwrap();
    let path = path_of(listed["items"][0]["url"].as_str().unwrap());
    seeded
        .ingest_all(
            "service-events",
            vec![
                service(
                    "BF-PH-1",
                    "W-BF-01",
                    &ours.department,
                    "410421",
                    "T-QYSL",
                    now() - Duration::minutes(20),
                ),
                service(
                    "BF-PH-2",
                    "W-BF-01",
                    &ours.department,
                    "410421",
                    "T-QYSL",
                    now() - Duration::minutes(10),
                ),
            ],
        )
        .await
        .unwrap();
    let acts = offered(&get(&base, &path).await.body);
    assert_eq!(acts.len(), 2);
    let bad = |act: &str, phone: &str| {
        vec![
            ("act".to_string(), act.to_string()),
            ("level".to_string(), "dissatisfied".to_string()),
            ("reason".to_string(), "510".to_string()),
            ("phone".to_string(), phone.to_string()),
        ]
    };
    let send = |form: Vec<(String, String)>| {
        let (base, path) = (base.clone(), path.clone());
        async move {
            let pairs: Vec<(&str, &str)> = form
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str()))
                .collect();
            post_form(&base, &path, &pairs).await
        }
    };

    // Not a mobile number: refused in Chinese, nothing stored.
    let refused = send(bad(&acts[0], "12345")).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("手机号应为 11 位数字"),
        "{}",
        refused.body
    );
    let case = admin.get("/api/v1/cases/BF-PH-1").await.unwrap();
    assert_eq!(case["services"][0]["ratings"], json!([]), "{case}");

    // A mobile number: a code is sent, the order waits for it.
    let rated = send(bad(&acts[0], "13912345678")).await;
    assert_eq!(rated.status, 200, "{}", rated.body);
    assert!(
        rated.body.contains("验证码已发送至 139****5678"),
        "{}",
        rated.body
    );
    let tracking = rated
        .body
        .split("href=\"")
        .filter_map(|rest| rest.split('"').next())
        .find(|href| href.contains("/t/"))
        .map(path_of)
        .expect("a tracking link");
    let page = get(&base, &tracking).await;
    assert!(
        page.body.contains("确认手机号") && page.body.contains("139****5678"),
        "{}",
        page.body
    );
    let orders = admin
        .get("/api/v1/orders?open=true&limit=50")
        .await
        .unwrap();
    let order = orders["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|order| order["kind"] == "bad_review" && order["unit"] == ours.department.as_str())
        .cloned()
        .expect("the 差评's order");
    assert_eq!(order["reachable"], false, "{order}");
    assert!(order["contact"].is_null(), "{order}");
    let wrong = post_form(&base, &tracking, &[("code", "000000")]).await;
    assert_eq!(wrong.status, 200, "{}", wrong.body);
    assert!(wrong.body.contains("验证码不正确"), "{}", wrong.body);

    // A good rating with a number keeps none, and sends nothing.
    let good = send(vec![
        ("act".into(), acts[1].clone()),
        ("level".into(), "very_satisfied".into()),
        ("phone".into(), "13912345678".into()),
    ])
    .await;
    assert_eq!(good.status, 200, "{}", good.body);
    assert!(!good.body.contains("验证码"), "{}", good.body);
}
