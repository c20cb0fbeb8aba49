//! Golden files: every artefact the platform renders, fetched from the real binary over one
//! hand-built November of 宝丰县, equals byte for byte what `tests/golden/` recorded. Covered:
//! the monthly bulletin and the semiannual report (XLSX and printable page, on demand and as the
//! schedule stored them, with the list of stored reports); the public disclosure pages and API
//! (index, unit pages, regions, stats, rankings, rectified bad reviews, comments); the citizen's
//! rating page (invitation link) and tracking page (before and after rating the rectification,
//! and its JSON); and the JSON the reports are built from (stats, days, children, coverage,
//! assessment runs frozen and live, explanations, attribution, hot words, alerts). `headers.txt`
//! records each one's status, content type, download name and cache policy.
//!
//! On a difference the test fails naming every artefact that changed, with the first differing
//! byte offset and line (and, in a workbook, the zip member), and leaves what it got under
//! `target/tmp/golden-actual/` for a diff. After a change of output that is meant,
//! `HCP_BLESS=1 cargo test -p hcp-e2e --test golden` rewrites the golden files (and removes
//! those no artefact produces any more); review that diff before committing it.
//!
//! Determinism: the manual clock, never advanced but by the test; requests one at a time, so
//! every id is the same log sequence number on every run; a fixed personal-data key written into
//! the data folder before the first start, so the tokens of the tracking and rating links (HMACs
//! under that key) are the same too. The workbooks carry `as_of` as their creation time and a
//! fixed zip timestamp, so their bytes are compared whole. One field is normalised:
//! `modified_at` in the list of stored reports is the file's modification time on disk, which
//! the manual clock does not control.
//!
//! The run reads the repository's `rules/`: every assessment run carries their content hash,
//! and the reports name the holiday table still missing for next year. A change there changes
//! these golden files too, on purpose; bless them with it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcp_e2e::{
    Roles, Seeded, Session, SmsGateway, beijing, department, manual_clock_config, november_rating,
    november_service, start_november_in, write_config,
};
use serde_json::{Value, json};

/// The personal-data key of every run (64 hex digits); a test key that protects nothing.
const PII_KEY: &str = "676f6c64656e2d66696c65732d6f6e6c792d6e6f742d612d7265616c2d6b6579";
const MONTH: &str = "from=2026-11-01&to=2026-11-30";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

fn actual_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("golden-actual")
}

/// The artefacts of one run: name (a path under `tests/golden/`) → bytes, and one line of
/// response headers per artefact fetched over HTTP.
#[derive(Default)]
struct Artefacts {
    bodies: BTreeMap<String, Vec<u8>>,
    headers: Vec<String>,
}

impl Artefacts {
    fn add(&mut self, name: &str, body: Vec<u8>) {
        assert!(
            self.bodies.insert(name.to_string(), body).is_none(),
            "artefact {name} named twice"
        );
    }

    /// Sends a request (signed in when `token` is given) that must answer 200, and keeps its
    /// body as `name`.
    async fn request(
        &mut self,
        name: &str,
        request: reqwest::RequestBuilder,
        token: Option<&str>,
    ) -> Vec<u8> {
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let header = |header: &str| {
            response
                .headers()
                .get(header)
                .map(|value| String::from_utf8_lossy(value.as_bytes()).to_string())
                .unwrap_or_else(|| "-".into())
        };
        self.headers.push(format!(
            "{name}\t{status}\t{}\t{}\t{}",
            header("content-type"),
            header("content-disposition"),
            header("cache-control"),
        ));
        let body = response.bytes().await.unwrap().to_vec();
        assert_eq!(status, 200, "{name}: {}", String::from_utf8_lossy(&body));
        self.add(name, body.clone());
        body
    }

    /// A GET as `session`.
    async fn get(&mut self, name: &str, session: &Session, path: &str) -> Vec<u8> {
        let request = session.client.get(format!("{}{path}", session.url));
        self.request(name, request, Some(&session.token)).await
    }

    /// A GET without signing in.
    async fn public(&mut self, name: &str, url: &str, path: &str) -> Vec<u8> {
        let request = reqwest::Client::new().get(format!("{url}{path}"));
        self.request(name, request, None).await
    }
}

/// 宝丰县 in November 2026, every request in a fixed order; the artefacts it renders.
///
/// Services on Monday 11-02, rated half an hour later through several channels:
///   A: A01 非常满意 (hall device), A02 满意 (QR code, real name, a comment published later),
///      A03 基本满意 (PC, a comment kept internal), A04 非常满意 (mobile), A05 不满意 (real name,
///      等候时间: fixed at once, fed back, rated 满意 on the tracking link, called back, closed),
///      A06 非常不满意 (phone, real name, 服务态度: left, overdue with 督办 and 通报), A07 不满意
///      (SMS, anonymous: appeal upheld, so invalid), A08 unrated, A09 completed and rated 满意
///      through the invitation SMS's link on 11-03;
///   B: three 非常满意 (fewer than 5: withheld from the public), one comment published;
///   C: five 非常满意 (hall terminal) and C06 不满意 (anonymous, 等候时间: accepted, then part of
///      a systemic problem).
async fn november() -> Artefacts {
    let mut out = Artefacts::default();
    let gateway = SmsGateway::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("data/keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("pii.key"), PII_KEY).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "{}[messages]\ngateway_url = {:?}\npublic_url = \"https://hcp.example.gov.cn/\"\n",
            manual_clock_config(beijing(11, 2, 10)),
            gateway.url()
        ),
    )
    .unwrap();
    let seeded: Seeded = start_november_in(
        dir,
        &config,
        "部门",
        |letter| json!({"has_device": letter != 'B', "has_qr_code": letter == 'A'}),
    )
    .await
    .unwrap();
    let url = seeded.server.url.clone();
    let admin = &seeded.admin;
    let Roles {
        handler,
        supervisor,
        reviewer,
        agent,
    } = Roles::create(admin, "handler", "410421").await.unwrap();

    // The month's services and ratings.
    let (a, b, c) = (department('A'), department('B'), department('C'));
    let at_a = ("W-BF-01", a.as_str(), "T-QYSL");
    let at_b = ("W-BF-0B", b.as_str(), "T-B");
    let at_c = ("W-BF-0C", c.as_str(), "T-C");
    let rated = |project: &str,
                 at: (&str, &str, &str),
                 level: &str,
                 channel: &str,
                 real_name: bool,
                 indicator: Option<&str>,
                 text: Option<&str>| {
        let mut rating = november_rating(project, at, level, real_name);
        rating["channel"] = json!(channel);
        rating["indicators"] = indicator.map_or(json!([]), |code| json!([code]));
        rating["text"] = json!(text);
        rating
    };
    let ratings = vec![
        rated(
            "A01",
            at_a,
            "very_satisfied",
            "hall_device",
            false,
            None,
            None,
        ),
        rated(
            "A02",
            at_a,
            "satisfied",
            "qr_code",
            true,
            None,
            Some("办事很快，服务热情"),
        ),
        rated(
            "A03",
            at_a,
            "basically_satisfied",
            "pc",
            false,
            None,
            Some("网上办理流程有点复杂"),
        ),
        rated("A04", at_a, "very_satisfied", "mobile", false, None, None),
        rated(
            "A05",
            at_a,
            "dissatisfied",
            "hall_device",
            true,
            Some("510"),
            Some("排队等候两个小时"),
        ),
        rated(
            "A06",
            at_a,
            "very_dissatisfied",
            "phone",
            true,
            Some("501"),
            Some("工作人员态度差，排队时间长"),
        ),
        rated(
            "A07",
            at_a,
            "dissatisfied",
            "sms",
            false,
            Some("510"),
            Some("等了很久"),
        ),
        rated(
            "B01",
            at_b,
            "very_satisfied",
            "hall_device",
            false,
            None,
            Some("非常好，谢谢"),
        ),
        rated(
            "B02",
            at_b,
            "very_satisfied",
            "hall_device",
            false,
            None,
            None,
        ),
        rated(
            "B03",
            at_b,
            "very_satisfied",
            "hall_device",
            false,
            None,
            None,
        ),
        rated(
            "C01",
            at_c,
            "very_satisfied",
            "hall_terminal",
            false,
            None,
            None,
        ),
        rated(
            "C02",
            at_c,
            "very_satisfied",
            "hall_terminal",
            false,
            None,
            None,
        ),
        rated(
            "C03",
            at_c,
            "very_satisfied",
            "hall_terminal",
            false,
            None,
            None,
        ),
        rated(
            "C04",
            at_c,
            "very_satisfied",
            "hall_terminal",
            false,
            None,
            None,
        ),
        rated(
            "C05",
            at_c,
            "very_satisfied",
            "hall_terminal",
            false,
            None,
            None,
        ),
        rated(
            "C06",
            at_c,
            "dissatisfied",
            "hall_device",
            false,
            Some("510"),
            Some("排队等候太久"),
        ),
    ];
    let mut services: Vec<Value> = ratings
        .iter()
        .map(|rating| {
            let project = rating["project_no"].as_str().unwrap();
            let at = match &project[..1] {
                "A" => at_a,
                "B" => at_b,
                _ => at_c,
            };
            november_service(project, at)
        })
        .collect();
    services.push(november_service("A08", at_a));
    let mut invited = november_service("A09", at_a);
    invited["status"] = json!("completed");
    invited["applicant_phone"] = json!("13912345678");
    services.push(invited);
    seeded.ingest_all("service-events", services).await.unwrap();
    seeded.ingest_all("ratings", ratings).await.unwrap();
    let mut orders = BTreeMap::new();
    for project in ["A05", "A06", "A07", "C06"] {
        orders.insert(project, admin.order_of(project).await.unwrap());
    }

    // 11-03 09:00: A09's invitation goes out; its link rates the service.
    let swept = admin.sweep_at(beijing(11, 3, 9)).await.unwrap();
    assert_eq!(swept["errors"], json!([]), "{swept}");
    let invitation = gateway.of_purpose("invitation");
    assert_eq!(invitation.len(), 1, "{:?}", gateway.received());
    let text = invitation[0]["text"].as_str().unwrap();
    let link = text
        .split("https://hcp.example.gov.cn/r/")
        .nth(1)
        .unwrap_or_else(|| panic!("no rating link in {text}"));
    let rating_token: String = link.chars().take_while(char::is_ascii_hexdigit).collect();
    out.public(
        "pages/rate-invitation.html",
        &url,
        &format!("/r/{rating_token}"),
    )
    .await;
    let form = reqwest::Client::new()
        .post(format!("{url}/api/v1/public/rate/{rating_token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("level=satisfied&text=%E5%BE%88%E6%96%B9%E4%BE%BF");
    out.request("pages/rate-thanks.html", form, None).await;

    // A05: fixed at once and fed back; the citizen follows and rates it on the tracking link.
    handler
        .steps(
            orders["A05"],
            &[
                json!({"type": "accept"}),
                json!({"type": "verify", "finding": "属实"}),
                json!({"type": "dispose", "disposition": {"type": "immediate", "action": "增开窗口"}}),
                json!({"type": "feedback", "message": "已增开窗口，高峰时段分流"}),
            ],
        )
        .await
        .unwrap();
    let a05 = admin
        .get(&format!("/api/v1/orders/{}", orders["A05"]))
        .await
        .unwrap();
    let tracking_token = a05["tracking_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    out.public(
        "pages/track-fed-back.html",
        &url,
        &format!("/t/{tracking_token}"),
    )
    .await;
    out.public(
        "api/track-fed-back.json",
        &url,
        &format!("/api/v1/track/{tracking_token}"),
    )
    .await;
    let form = reqwest::Client::new()
        .post(format!("{url}/t/{tracking_token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("level=satisfied");
    out.request("pages/track-rated.html", form, None).await;
    admin.set_clock(beijing(11, 4, 10)).await.unwrap();
    agent
        .post(
            &format!("/api/v1/calls/orders/{}", orders["A05"]),
            &json!({"outcome": "satisfied"}),
        )
        .await
        .unwrap();
    handler
        .steps(
            orders["A05"],
            &[json!({"type": "close", "root_cause": "process", "action_taken": "增开窗口，高峰时段分流"})],
        )
        .await
        .unwrap();
    out.public(
        "pages/track-closed.html",
        &url,
        &format!("/t/{tracking_token}"),
    )
    .await;
    out.public(
        "api/track-closed.json",
        &url,
        &format!("/api/v1/track/{tracking_token}"),
    )
    .await;

    // A07 is found mistaken on appeal; C06 is accepted, then left; A06 is never touched.
    handler
        .steps(
            orders["A07"],
            &[json!({"type": "appeal", "reason": "误评", "evidence": ["录像"]})],
        )
        .await
        .unwrap();
    reviewer
        .steps(
            orders["A07"],
            &[json!({"type": "decide_appeal", "upheld": true, "note": "录像证实误评"})],
        )
        .await
        .unwrap();
    handler
        .steps(orders["C06"], &[json!({"type": "accept"})])
        .await
        .unwrap();

    // 11-30 noon: A06 and C06 are overdue; C06 becomes part of a systemic problem; the
    // bulletin asked for on demand.
    let swept = admin.sweep_at(beijing(11, 30, 12)).await.unwrap();
    assert_eq!(swept["errors"], json!([]), "{swept}");
    supervisor
        .post(
            "/api/v1/problems",
            &json!({"title": "大厅高峰时段排队等候过长", "cause": "process", "owner": c,
                "plan": "高峰时段增开窗口并推行预约", "due": "2026-12-20", "region": "410421",
                "basis": "510", "orders": [orders["C06"]]}),
        )
        .await
        .unwrap();
    for format in ["xlsx", "html"] {
        out.get(
            &format!("reports/bulletin-on-demand.{format}"),
            &supervisor,
            &format!("/api/v1/reports/bulletin?period=2026-11&scope=410421&format={format}"),
        )
        .await;
    }

    // 12-01 00:30: the schedule stores November's bulletins of the city and of the county.
    let swept = admin
        .sweep_at(beijing(12, 1, 0) + chrono::Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!(swept["reports_generated"], 2, "{swept}");
    for scope in ["410400", "410421"] {
        for format in ["xlsx", "html"] {
            let name = format!("bulletin-2026-11-{scope}.{format}");
            out.get(
                &format!("reports/stored-{name}"),
                admin,
                &format!("/api/v1/reports/files/{name}"),
            )
            .await;
        }
    }
    let listed = out.get("reports/list.json", admin, "/api/v1/reports").await;
    // The stored files' modification times are the disk's wall clock: the one normalised field.
    let mut listed: Value = serde_json::from_slice(&listed).unwrap();
    for file in listed["items"].as_array_mut().unwrap() {
        assert!(file["modified_at"].is_string(), "{file}");
        file["modified_at"] = json!("<file modification time>");
    }
    out.bodies.insert(
        "reports/list.json".into(),
        serde_json::to_vec(&listed).unwrap(),
    );

    // 12-05: comments moderated, November's runs published; everything else read.
    admin.set_clock(beijing(12, 5, 10)).await.unwrap();
    for (project, publish) in [("A02", true), ("A03", false), ("B01", true)] {
        let id = admin.first_rating(project).await.unwrap();
        reviewer
            .post(
                &format!("/api/v1/ratings/{id}/moderation"),
                &json!({"publish": publish, "note": "审核意见"}),
            )
            .await
            .unwrap();
    }
    // Published by the city's administrator: the public ranking is the root's run.
    let mut frozen = BTreeMap::new();
    for kind in ["department", "hall"] {
        let run = out
            .request(
                &format!("api/assessment-frozen-{kind}.json"),
                admin
                    .client
                    .post(format!("{url}/api/v1/assessments"))
                    .json(&json!({"period": "2026-11", "unit_kind": kind, "scope": "410400", "freeze": true})),
                Some(&admin.token),
            )
            .await;
        let run: Value = serde_json::from_slice(&run).unwrap();
        frozen.insert(kind, run["frozen"].as_u64().unwrap());
    }
    // Live runs: the county's departments, and the city's regions (the administrator's scope).
    for (kind, session) in [("department", &supervisor), ("region", admin)] {
        out.request(
            &format!("api/assessment-live-{kind}.json"),
            session
                .client
                .post(format!("{url}/api/v1/assessments"))
                .json(&json!({"period": "2026-11", "unit_kind": kind})),
            Some(&session.token),
        )
        .await;
    }
    out.get("api/assessments.json", &supervisor, "/api/v1/assessments")
        .await;
    let department_run = frozen["department"];
    out.get(
        "api/assessment-department-run.json",
        &supervisor,
        &format!("/api/v1/assessments/{department_run}"),
    )
    .await;
    for (letter, unit) in [('A', &a), ('C', &c)] {
        out.get(
            &format!("api/assessment-explained-{letter}.json"),
            &supervisor,
            &format!("/api/v1/assessments/{department_run}/units/{unit}"),
        )
        .await;
    }

    // The figures the reports are built from.
    let units = [
        ("region", "410400", "city".to_string()),
        ("region", "410421", "county".to_string()),
        ("hall", "H-BF", "hall".to_string()),
        ("department", a.as_str(), "department-A".to_string()),
        ("department", b.as_str(), "department-B".to_string()),
        ("department", c.as_str(), "department-C".to_string()),
        ("window", "W-BF-01", "window-A".to_string()),
        ("item", "T-QYSL", "item-A".to_string()),
    ];
    for (dim, unit, label) in &units {
        let session = if *unit == "410400" {
            admin
        } else {
            &supervisor
        };
        out.get(
            &format!("api/stats-{label}.json"),
            session,
            &format!("/api/v1/stats?dim={dim}&unit={unit}&{MONTH}"),
        )
        .await;
    }
    for (name, path) in [
        (
            "api/stats-days-county.json",
            format!("/api/v1/stats/days?dim=region&unit=410421&{MONTH}"),
        ),
        (
            "api/stats-children-departments.json",
            format!("/api/v1/stats/children?unit=410421&of=department&{MONTH}"),
        ),
        (
            "api/stats-children-windows.json",
            format!("/api/v1/stats/children?unit=410421&of=window&{MONTH}"),
        ),
        (
            "api/coverage-sources.json",
            format!("/api/v1/coverage/sources?unit=410421&{MONTH}"),
        ),
        (
            "api/attribution-county.json",
            format!("/api/v1/analysis/attribution?dim=region&unit=410421&{MONTH}"),
        ),
        (
            "api/hot-words-county.json",
            format!("/api/v1/analysis/hot-words?dim=region&unit=410421&{MONTH}&bad_only=false"),
        ),
        (
            "api/alerts-county.json",
            "/api/v1/analysis/alerts?dim=region&unit=410421&as_of=2026-11-30".to_string(),
        ),
    ] {
        out.get(name, &supervisor, &path).await;
    }

    // The half-year so far, on demand.
    for format in ["xlsx", "html"] {
        out.get(
            &format!("reports/semiannual-on-demand.{format}"),
            &supervisor,
            &format!("/api/v1/reports/semiannual?period=2026-H2&scope=410421&format={format}"),
        )
        .await;
    }

    // Public disclosure, without signing in: November, the month that ended last.
    out.public("pages/root.html", &url, "/").await;
    out.public("pages/public-index.html", &url, "/public").await;
    for (dim, unit, label) in units
        .iter()
        .filter(|(dim, ..)| *dim != "window")
        .cloned()
        .chain([("item", "T-C", "item-C".to_string())])
    {
        out.public(
            &format!("pages/public-{label}.html"),
            &url,
            &format!("/public/units/{dim}/{unit}"),
        )
        .await;
        for what in ["stats", "rectified", "comments"] {
            out.public(
                &format!("public/{what}-{label}.json"),
                &url,
                &format!("/api/v1/public/{what}?dim={dim}&unit={unit}&period=2026-11"),
            )
            .await;
        }
    }
    out.public(
        "pages/public-county-2026-10.html",
        &url,
        "/public/units/region/410421?period=2026-10",
    )
    .await;
    for (name, path) in [
        ("public/regions.json", "/api/v1/public/regions"),
        ("public/stats-default.json", "/api/v1/public/stats"),
        ("public/rankings-default.json", "/api/v1/public/rankings"),
        (
            "public/rankings-department.json",
            "/api/v1/public/rankings?of=department&period=2026-11&scope=410400",
        ),
        (
            "public/rankings-hall.json",
            "/api/v1/public/rankings?of=hall",
        ),
        (
            "public/comments-county-page-1.json",
            "/api/v1/public/comments?dim=region&unit=410421&period=2026-11&limit=1",
        ),
    ] {
        out.public(name, &url, path).await;
    }

    out.add("headers.txt", (out.headers.join("\n") + "\n").into_bytes());
    seeded.server.stop().unwrap();
    out
}

/// Where `expected` and `actual` first differ, said so a person can find it: the byte offset,
/// the line, and the text (or bytes) around it on each side; in a workbook, the zip member.
fn first_difference(name: &str, expected: &[u8], actual: &[u8]) -> String {
    let offset = expected
        .iter()
        .zip(actual)
        .position(|(want, got)| want != got)
        .unwrap_or_else(|| expected.len().min(actual.len()));
    let lengths = format!("{} bytes expected, {} got", expected.len(), actual.len());
    // 60 bytes either side, widened to whole UTF-8 characters (continuation bytes are
    // 0b10xxxxxx), so Chinese text reads as itself.
    let around = |bytes: &[u8]| {
        let continues = |at: usize| bytes.get(at).is_some_and(|byte| byte & 0xc0 == 0x80);
        let mut start = offset.saturating_sub(60);
        while start > 0 && continues(start) {
            start -= 1;
        }
        let mut end = (offset + 60).min(bytes.len());
        while end < bytes.len() && continues(end) {
            end += 1;
        }
        bytes.get(start..end).unwrap_or_default().to_vec()
    };
    if name.ends_with(".xlsx") {
        let member = zip_member_at(expected, offset).unwrap_or_else(|| "?".into());
        let hex = |bytes: Vec<u8>| {
            bytes
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>()
        };
        return format!(
            "first difference at byte {offset}, in zip member {member}; {lengths}\n    expected …{}…\n    actual   …{}…",
            hex(around(expected)),
            hex(around(actual)),
        );
    }
    let line = 1 + expected[..offset]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count();
    format!(
        "first difference at byte {offset} (line {line}); {lengths}\n    expected …{}…\n    actual   …{}…",
        String::from_utf8_lossy(&around(expected)),
        String::from_utf8_lossy(&around(actual)),
    )
}

/// The name of the zip member whose local entry holds byte `offset`: the last local file
/// header (`PK\x03\x04`, name length at +26, name at +30) at or before it.
fn zip_member_at(zip: &[u8], offset: usize) -> Option<String> {
    let header = zip[..=offset.min(zip.len().checked_sub(1)?)]
        .windows(4)
        .rposition(|window| window == b"PK\x03\x04")?;
    let length = u16::from_le_bytes([*zip.get(header + 26)?, *zip.get(header + 27)?]);
    let name = zip.get(header + 30..header + 30 + usize::from(length))?;
    Some(String::from_utf8_lossy(name).to_string())
}

/// Every file under `dir`, as paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap();
                found.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found.sort();
    found
}

/// Compares every artefact with its golden file (or, with `HCP_BLESS=1`, writes them); fails
/// listing every difference, every missing golden file and every golden file left over.
fn check(artefacts: &Artefacts) {
    let golden = golden_dir();
    let bless = std::env::var("HCP_BLESS").is_ok_and(|value| value == "1");
    let mut problems = Vec::new();
    let _ = std::fs::remove_dir_all(actual_dir());
    for (name, actual) in &artefacts.bodies {
        let path = golden.join(name);
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            if std::fs::read(&path).ok().as_ref() != Some(actual) {
                std::fs::write(&path, actual).unwrap();
                eprintln!("blessed tests/golden/{name}");
            }
            continue;
        }
        let problem = match std::fs::read(&path) {
            Ok(expected) if expected == *actual => continue,
            Ok(expected) => first_difference(name, &expected, actual),
            Err(error) => format!("no golden file ({error})"),
        };
        let kept = actual_dir().join(name);
        std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
        std::fs::write(&kept, actual).unwrap();
        problems.push(format!("{name}: {problem}\n    got: {}", kept.display()));
    }
    for name in files_under(&golden) {
        if artefacts.bodies.contains_key(&name) {
            continue;
        }
        if bless {
            std::fs::remove_file(golden.join(&name)).unwrap();
            eprintln!("removed tests/golden/{name}: no artefact of that name any more");
        } else {
            problems.push(format!("{name}: a golden file no artefact produced"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} artefacts differ from tests/golden/ (if the change is meant: \
         HCP_BLESS=1 cargo test -p hcp-e2e --test golden, then review the diff):\n{}",
        problems.len(),
        artefacts.bodies.len(),
        problems.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_pages_and_figures_render_as_the_golden_files() {
    let artefacts = november().await;
    assert!(artefacts.bodies.len() > 60, "{}", artefacts.bodies.len());
    check(&artefacts);
}

#[test]
fn a_difference_is_named_by_offset_line_and_member() {
    let said = first_difference("pages/x.html", b"ab\ncd\nef", b"ab\ncX\nef");
    assert!(
        said.starts_with("first difference at byte 4 (line 2)"),
        "{said}"
    );
    let said = first_difference("p.html", "基本情况".as_bytes(), "基本倩况".as_bytes());
    assert!(said.contains("expected …基本情况…"), "{said}");
    assert!(said.contains("actual   …基本倩况…"), "{said}");
    let said = first_difference("x.json", b"abc", b"abcd");
    assert!(
        said.contains("byte 3 (line 1); 3 bytes expected, 4 got"),
        "{said}"
    );
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend_from_slice(&[0; 22]);
    zip.extend_from_slice(&9u16.to_le_bytes());
    zip.extend_from_slice(&[0; 2]);
    zip.extend_from_slice(b"xl/a.xmlZ");
    zip.extend_from_slice(b"body");
    let mut changed = zip.clone();
    let last = changed.len() - 1;
    changed[last] = b'B';
    let said = first_difference("r.xlsx", &zip, &changed);
    assert!(said.contains("in zip member xl/a.xmlZ"), "{said}");
}
