//! Public disclosure on the real binary over a hand-built November of one county: every public
//! endpoint and page, and every link found in them, answers without signing in and never
//! carries a phone number, an ID number, a masked personal field, an evaluator's or a staff
//! member's name or a handler's note; a unit with fewer than 5 valid ratings shows no figure;
//! a comment shows only after a reviewer publishes it; a rating made invalid by an upheld
//! appeal counts in no public rate; only a frozen (published) assessment run is ever shown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, VecDeque};

use hcp_e2e::{Roles, Seeded, Session, beijing, department, start_november};
use serde_json::{Value, json};

/// An evaluator of the month: name, phone, ID number.
struct Evaluator {
    name: &'static str,
    phone: &'static str,
    id_number: &'static str,
}

const EVALUATORS: [Evaluator; 6] = [
    Evaluator {
        name: "李建国",
        phone: "13987654321",
        id_number: "410402199001011234",
    },
    Evaluator {
        name: "赵丽华",
        phone: "13611112222",
        id_number: "41040219850505432X",
    },
    Evaluator {
        name: "周建华",
        phone: "15899990000",
        id_number: "41040219800101111X",
    },
    Evaluator {
        name: "钱海燕",
        phone: "18655556666",
        // An old 15-digit ID number.
        id_number: "410402800101123",
    },
    Evaluator {
        name: "吴国强",
        phone: "13500001111",
        id_number: "410402197712120011",
    },
    Evaluator {
        name: "郑美玲",
        phone: "13700002222",
        id_number: "410402199212120022",
    },
];

const STAFF: [(&str, &str); 2] = [("S-01", "王晓梅"), ("S-02", "孙志刚")];

/// What handlers, reviewers and appeals wrote: internal, never public.
const INTERNAL_NOTES: [&str; 5] = [
    "内部核实记录",
    "误评申诉理由",
    "审核意见",
    "当场为",
    "已联系",
];

/// One rated (or unrated) service act of the month.
struct Act {
    project: &'static str,
    letter: char,
    level: Option<&'static str>,
    /// Index into [`EVALUATORS`]; `None` is anonymous.
    evaluator: Option<usize>,
    text: Option<&'static str>,
}

const fn act(
    project: &'static str,
    letter: char,
    level: Option<&'static str>,
    evaluator: Option<usize>,
    text: Option<&'static str>,
) -> Act {
    Act {
        project,
        letter,
        level,
        evaluator,
        text,
    }
}

/// Department A: 8 services, 7 rated; A06 is found mistaken on appeal, so 6 valid ratings (5
/// good, 1 bad: A03, rectified). B: 5 rated, B05 found mistaken, so 4 valid: withheld. C: 6
/// rated, C06 a real-name 差评 left past its deadline: vetoed.
const ACTS: [Act; 19] = [
    act(
        "A01",
        'A',
        Some("satisfied"),
        Some(1),
        Some("办事很快，孙志刚很耐心，有问题打我电话13611112222，找张先生也行"),
    ),
    act(
        "A02",
        'A',
        Some("very_satisfied"),
        Some(2),
        Some("身份证号41040219800101111X，一次办好"),
    ),
    act(
        "A03",
        'A',
        Some("dissatisfied"),
        Some(0),
        Some("窗口王晓梅态度差，我是李建国，电话13987654321，身份证410402199001011234"),
    ),
    act("A04", 'A', Some("very_satisfied"), Some(3), None),
    act("A05", 'A', Some("satisfied"), None, Some("态度很好")),
    act(
        "A06",
        'A',
        Some("very_dissatisfied"),
        Some(4),
        Some("乱收费，电话13500001111"),
    ),
    act(
        "A07",
        'A',
        Some("basically_satisfied"),
        None,
        Some("建议加开窗口，我的电话 138-0000-1234，身份证41040219900101123X"),
    ),
    act("A08", 'A', None, None, None),
    act(
        "B01",
        'B',
        Some("very_satisfied"),
        None,
        Some("非常好，谢谢"),
    ),
    act("B02", 'B', Some("very_satisfied"), None, None),
    act("B03", 'B', Some("very_satisfied"), None, None),
    act("B04", 'B', Some("very_satisfied"), None, None),
    act("B05", 'B', Some("dissatisfied"), Some(4), Some("不满意")),
    act("C01", 'C', Some("very_satisfied"), None, None),
    act("C02", 'C', Some("very_satisfied"), None, None),
    act("C03", 'C', Some("very_satisfied"), None, None),
    act("C04", 'C', Some("very_satisfied"), None, None),
    act("C05", 'C', Some("very_satisfied"), None, None),
    act(
        "C06",
        'C',
        Some("dissatisfied"),
        Some(5),
        Some("工作人员孙志刚不在岗，等了很久"),
    ),
];

fn window(letter: char) -> String {
    if letter == 'A' {
        "W-BF-01".into()
    } else {
        format!("W-BF-0{letter}")
    }
}

fn task(letter: char) -> String {
    if letter == 'A' {
        "T-QYSL".into()
    } else {
        format!("T-{letter}")
    }
}

fn staff_of(letter: char) -> Option<&'static str> {
    match letter {
        'A' => Some("S-01"),
        'C' => Some("S-02"),
        _ => None,
    }
}

fn service(act: &Act, day: u32) -> Value {
    let evaluator = act.evaluator.map(|index| &EVALUATORS[index]);
    json!({
        "event_id": format!("svc-{}", act.project), "project_no": act.project,
        "project_name": format!("{}的申请", evaluator.map_or("某企业", |e| e.name)),
        "task_code": task(act.letter), "department": department(act.letter), "area_code": "410421",
        "service_number": 1, "service_name": "受理", "status": "accepted",
        "occurred_at": beijing(11, day, 9), "window": window(act.letter),
        "staff": staff_of(act.letter),
        "applicant_phone": evaluator.map(|e| e.phone),
    })
}

fn rating(act: &Act, level: &str, day: u32) -> Value {
    let bad = level.contains("dissatisfied");
    let evaluator = match act.evaluator.map(|index| &EVALUATORS[index]) {
        Some(e) => {
            json!({"real_name": true, "name": e.name, "phone": e.phone, "id_number": e.id_number})
        }
        None => json!({"real_name": false}),
    };
    json!({
        "event_id": format!("r-{}", act.project), "project_no": act.project, "service_number": 1,
        "task_code": task(act.letter), "department": department(act.letter), "area_code": "410421",
        "window": window(act.letter), "staff": staff_of(act.letter),
        "level": level, "channel": "hall_device",
        "indicators": if bad { json!(["510"]) } else { json!([]) },
        "text": act.text,
        "evaluator": evaluator,
        "rated_at": beijing(11, day, 9) + chrono::Duration::minutes(30),
    })
}

struct County {
    seeded: Seeded,
    handler: Session,
    supervisor: Session,
    reviewer: Session,
    agent: Session,
    /// No session: what anyone on the internet gets.
    public: reqwest::Client,
}

impl County {
    async fn start() -> County {
        let seeded = start_november("宝丰县部门", |_| json!({"has_device": true}))
            .await
            .unwrap();
        let admin = &seeded.admin;
        for (id, name) in STAFF {
            let letter = if id == "S-01" { 'A' } else { 'C' };
            admin
                .post(
                    "/api/v1/admin/master",
                    &json!({"kind": "staff", "record": {"id": id, "name": name, "department": department(letter), "window": window(letter)}}),
                )
                .await
                .unwrap();
        }
        let Roles {
            handler,
            supervisor,
            reviewer,
            agent,
        } = Roles::create(admin, "handler-a", "410421").await.unwrap();
        County {
            handler,
            supervisor,
            reviewer,
            agent,
            public: reqwest::Client::new(),
            seeded,
        }
    }

    fn url(&self) -> &str {
        &self.seeded.server.url
    }

    async fn ingest(&self, kind: &str, items: Vec<Value>) {
        self.seeded.ingest_all(kind, items).await.unwrap();
    }

    /// Records `acts` on November `day`: their services, then the ratings of those rated.
    async fn record(&self, acts: &[Act], day: u32) {
        self.ingest(
            "service-events",
            acts.iter().map(|act| service(act, day)).collect(),
        )
        .await;
        self.ingest(
            "ratings",
            acts.iter()
                .filter_map(|act| act.level.map(|level| rating(act, level, day)))
                .collect(),
        )
        .await;
    }

    async fn rating_id(&self, project: &str) -> u64 {
        self.seeded.admin.first_rating(project).await.unwrap()
    }

    async fn order_of(&self, project: &str) -> u64 {
        self.seeded.admin.order_of(project).await.unwrap()
    }

    async fn steps(&self, who: &Session, order: u64, steps: &[Value]) {
        who.steps(order, steps).await.unwrap();
    }

    async fn moderate(&self, project: &str, publish: bool) {
        let id = self.rating_id(project).await;
        self.reviewer
            .post(
                &format!("/api/v1/ratings/{id}/moderation"),
                &json!({"publish": publish, "note": "审核意见：可以公开"}),
            )
            .await
            .unwrap();
    }

    /// A public GET: status, content type, cache control and body.
    async fn fetch(&self, path: &str) -> (u16, String, String, String) {
        let response = self
            .public
            .get(format!("{}{path}", self.url()))
            .send()
            .await
            .unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let (content_type, cache) = (header("content-type"), header("cache-control"));
        let status = response.status().as_u16();
        (status, content_type, cache, response.text().await.unwrap())
    }

    /// A public JSON GET that must succeed.
    async fn json(&self, path: &str) -> Value {
        let (status, _, _, body) = self.fetch(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// Everything personal of the month, and the masked forms internal views show of it.
fn forbidden_terms() -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for evaluator in &EVALUATORS {
        let name: Vec<char> = evaluator.name.chars().collect();
        terms.push(evaluator.name.into());
        // The masked name (李**) internal views show.
        terms.push(format!("{}{}", name[0], "*".repeat(name.len() - 1)));
        terms.push(evaluator.phone.into());
        terms.push(evaluator.id_number.into());
    }
    for (_, name) in STAFF {
        terms.push(name.into());
        terms.push(name.chars().skip(1).collect());
    }
    terms.push("张先生".into());
    // Numbers typed by an anonymous evaluator, in shapes a plain digit scan would miss.
    terms.push("138-0000-1234".into());
    terms.push("0000-1234".into());
    terms.extend(INTERNAL_NOTES.iter().map(|note| note.to_string()));
    terms
}

/// What a public body must never hold: forbidden terms, and anything shaped like a phone
/// number (1[3-9]\d{9}), an ID number (\d{17}[\dXx] or \d{15}) or a masked field (\d{3}\*{4}
/// or \*{4}\d{4}).
fn leaks(body: &str, forbidden: &[String]) -> Vec<String> {
    let mut found: Vec<String> = forbidden
        .iter()
        .filter(|term| body.contains(term.as_str()))
        .cloned()
        .collect();
    let chars: Vec<char> = body.chars().collect();
    let mut index = 0;
    while index < chars.len() {
        if !chars[index].is_ascii_digit() {
            index += 1;
            continue;
        }
        let start = index;
        while index < chars.len() && chars[index].is_ascii_digit() {
            index += 1;
        }
        let run: String = chars[start..index].iter().collect();
        let next = chars.get(index).copied();
        if run.len() >= 17 && (run.len() >= 18 || matches!(next, Some('X' | 'x'))) {
            found.push(format!("18-digit ID number {run}"));
        }
        if run.len() >= 15 {
            found.push(format!("15-digit ID number {run}"));
        }
        if run
            .as_bytes()
            .windows(11)
            .any(|w| w[0] == b'1' && (b'3'..=b'9').contains(&w[1]))
        {
            found.push(format!("phone number {run}"));
        }
        if run.len() >= 3 && chars[index..].starts_with(&['*'; 4]) {
            found.push(format!("masked field {run}****"));
        }
        if run.len() >= 4 && start >= 4 && chars[start - 4..start] == ['*'; 4] {
            found.push(format!("masked field ****{run}"));
        }
    }
    found
}

/// Links of a page (`href="…"`) or of a JSON body (strings that are public paths).
fn links(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        fn walk(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::String(text)
                    if text.starts_with("/public") || text.starts_with("/api/v1/public") =>
                {
                    out.push(text.clone())
                }
                Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
                Value::Object(map) => map.values().for_each(|item| walk(item, out)),
                _ => {}
            }
        }
        walk(&value, &mut out);
        return out;
    }
    for part in body.split("href=\"").skip(1) {
        if let Some(end) = part.find('"') {
            let link = part[..end].replace("&amp;", "&");
            if link.starts_with('/') {
                out.push(link);
            }
        }
    }
    out
}

fn rate<'a>(figures: &'a Value, name: &str) -> &'a Value {
    figures["rates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rate| rate["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {figures}"))
}

fn parts(rate: &Value) -> (u64, u64, Value) {
    (
        rate["numerator"].as_u64().unwrap(),
        rate["denominator"].as_u64().unwrap(),
        rate["value"].clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_disclosure_shows_the_month_and_nothing_personal() {
    let county = County::start().await;
    let (a, b, c) = (department('A'), department('B'), department('C'));
    let forbidden = forbidden_terms();

    // November: the services and their ratings.
    county.record(&ACTS, 2).await;

    // 11-03: A03 is verified, fixed at once, fed back, called back 满意 and closed; A06 and B05
    // are appealed and found mistaken; C06 is accepted and then left.
    county
        .seeded
        .admin
        .set_clock(beijing(11, 3, 9))
        .await
        .unwrap();
    let handler = &county.handler;
    let a03 = county.order_of("A03").await;
    county
        .steps(
            handler,
            a03,
            &[
                json!({"type": "accept", "note": "内部核实记录：受理"}),
                json!({"type": "verify", "finding": "内部核实记录：李建国反映王晓梅态度问题属实"}),
                json!({"type": "dispose", "disposition": {"type": "immediate", "action": "当场为李建国重新办理"}}),
                json!({"type": "feedback", "message": "已联系李建国（13987654321）说明整改情况"}),
            ],
        )
        .await;
    county
        .agent
        .post(
            &format!("/api/v1/calls/orders/{a03}"),
            &json!({"outcome": "satisfied", "note": "已联系李建国，满意"}),
        )
        .await
        .unwrap();
    county
        .steps(
            handler,
            a03,
            &[json!({"type": "close", "root_cause": "attitude",
                "action_taken": "已对工作人员王晓梅批评教育，并电话13987654321回访李建国"})],
        )
        .await;
    for project in ["A06", "B05"] {
        let order = county.order_of(project).await;
        county
            .steps(
                handler,
                order,
                &[json!({"type": "appeal", "reason": "误评申诉理由：吴国强系误按", "evidence": ["录像"]})],
            )
            .await;
        county
            .steps(
                &county.reviewer,
                order,
                &[json!({"type": "decide_appeal", "upheld": true, "note": "审核意见：录像证实误评"})],
            )
            .await;
    }
    let c06 = county.order_of("C06").await;
    county
        .steps(handler, c06, &[json!({"type": "accept"})])
        .await;

    // While November runs, nothing of it is public: figures that change while the public
    // watches would tell who just rated what.
    let (status, _, _, body) = county
        .fetch(&format!(
            "/api/v1/public/stats?dim=department&unit={a}&period=2026-11"
        ))
        .await;
    // A well-formed period that has not ended: 422 (it depends on today, not on its shape).
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("尚未结束"), "{body}");
    let (status, content_type, _, body) = county
        .fetch(&format!("/public/units/department/{a}?period=2026-11"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    // The default period is the last month that ended (October): nothing there.
    let october = county
        .json(&format!("/api/v1/public/stats?dim=department&unit={a}"))
        .await;
    assert_eq!(october["period"], "2026-10");
    assert!(october["figures"].is_null() && october["suppressed"].is_string());

    // December.
    county
        .seeded
        .admin
        .set_clock(beijing(12, 5, 10))
        .await
        .unwrap();
    let november = |what: &str, dim: &str, unit: &str| {
        format!("/api/v1/public/{what}?dim={dim}&unit={unit}&period=2026-11")
    };

    // No run published: no ranking, even after a run that was not frozen.
    let (status, _, _, body) = county.fetch("/api/v1/public/rankings?of=department").await;
    assert_eq!(status, 404, "{body}");
    county
        .supervisor
        .post(
            "/api/v1/assessments",
            &json!({"period": "2026-11", "unit_kind": "department", "freeze": false}),
        )
        .await
        .unwrap();
    let (status, _, _, _) = county.fetch("/api/v1/public/rankings?of=department").await;
    assert_eq!(status, 404);
    let (_, _, _, index) = county.fetch("/public").await;
    assert!(index.contains("暂无已发布的考核结果"), "{index}");

    // Comments appear only once a reviewer publishes them.
    let comments = county.json(&november("comments", "department", &a)).await;
    assert!(comments["suppressed"].is_null(), "{comments}");
    assert_eq!(comments["items"], json!([]), "nothing published yet");
    county.moderate("A01", true).await;
    county.moderate("A02", false).await;
    county.moderate("B01", true).await;
    county.moderate("A07", true).await;
    let comments = county.json(&november("comments", "department", &a)).await;
    let items = comments["items"].as_array().unwrap();
    let published: Vec<(&str, &str)> = items
        .iter()
        .map(|item| {
            (
                item["level_label"].as_str().unwrap(),
                item["comment"].as_str().unwrap(),
            )
        })
        .collect();
    // Newest first (A07 was recorded after A01). The evaluator's own number and the staff
    // member's name are struck; the anonymous evaluator's numbers are masked whatever their
    // separators.
    assert_eq!(
        published,
        vec![
            ("基本满意", "建议加开窗口，我的电话 ****，身份证****"),
            ("满意", "办事很快，**很耐心，有问题打我电话**，找*先生也行"),
        ],
        "{comments}"
    );
    assert_eq!(items[0]["item"], "企业设立登记");
    // B has 5 ratings but one was found mistaken: 4 valid, so nothing of B shows, not even
    // its published comment.
    let b_comments = county.json(&november("comments", "department", &b)).await;
    assert!(b_comments["suppressed"].is_string(), "{b_comments}");
    assert_eq!(b_comments["items"], json!([]));

    // A's figures: A06 (found mistaken) counts nowhere public; the raw totals keep it.
    let internal = county
        .supervisor
        .get(&format!(
            "/api/v1/stats?dim=department&unit={a}&from=2026-11-01&to=2026-11-30"
        ))
        .await
        .unwrap();
    assert_eq!(internal["metrics"]["ratings"], 7);
    assert_eq!(internal["metrics"]["invalid"], 1);
    let stats = county.json(&november("stats", "department", &a)).await;
    assert!(stats["suppressed"].is_null(), "{stats}");
    let figures = &stats["figures"];
    assert_eq!(figures["services"], 8);
    assert_eq!(figures["valid_ratings"], 6);
    assert_eq!(figures["citizen_ratings"], 6);
    assert_eq!(figures["bad_reviews"], 1);
    assert_eq!(figures["bad_per_thousand_services"], "125");
    let very_dissatisfied = figures["by_level"]
        .as_array()
        .unwrap()
        .iter()
        .find(|level| level["level"] == "very_dissatisfied")
        .unwrap();
    assert_eq!(very_dissatisfied["count"], 0, "A06 is invalid");
    assert_eq!(parts(rate(figures, "active_rate")), (6, 8, json!("0.75")));
    assert_eq!(parts(rate(figures, "good_rate")), (5, 6, json!("0.833333")));
    assert_eq!(rate(figures, "good_rate")["percent"], "83.3%");
    assert_eq!(parts(rate(figures, "bad_rate")), (1, 6, json!("0.166667")));
    assert_eq!(
        parts(rate(figures, "on_time_rectify_rate")),
        (1, 1, json!("1"))
    );
    assert_eq!(
        parts(rate(figures, "on_time_callback_rate")),
        (1, 1, json!("1"))
    );
    assert_eq!(
        parts(rate(figures, "rectify_satisfaction_rate")),
        (1, 1, json!("1"))
    );
    // B: withheld with the reason; C: shown, its overdue real-name 差评 in the rates.
    let b_stats = county.json(&november("stats", "department", &b)).await;
    assert!(b_stats["figures"].is_null(), "{b_stats}");
    assert!(
        b_stats["suppressed"]
            .as_str()
            .unwrap()
            .contains("少于 5 条"),
        "{b_stats}"
    );
    let c_stats = county.json(&november("stats", "department", &c)).await;
    assert_eq!(
        parts(rate(&c_stats["figures"], "real_name_on_time_rectify_rate")),
        (0, 1, json!("0"))
    );
    // The item of B is withheld too; the hall, the county and the city are shown.
    let b_item = county.json(&november("stats", "item", "T-B")).await;
    assert!(b_item["figures"].is_null(), "{b_item}");
    let hall = county.json(&november("stats", "hall", "H-BF")).await;
    assert_eq!(hall["figures"]["valid_ratings"], 16, "{hall}");
    let city = county.json("/api/v1/public/stats").await;
    assert_eq!(city["period"], "2026-11");
    assert_eq!(city["figures"]["valid_ratings"], 16, "{city}");
    // Windows and staff are never public units.
    for path in [
        "/api/v1/public/stats?dim=window&unit=W-BF-01&period=2026-11".to_string(),
        "/api/v1/public/stats?dim=staff&unit=S-01&period=2026-11".to_string(),
        "/api/v1/public/stats?dim=hall&unit=W-BF-01&period=2026-11".to_string(),
        "/public/units/staff/S-01".to_string(),
        "/public/units/hall/W-BF-01".to_string(),
    ] {
        let (status, _, _, body) = county.fetch(&path).await;
        assert_eq!(status, 404, "{path}: {body}");
    }

    // The rectified bad review: masked comment, what was done, the citizen's verdict.
    let rectified = county.json(&november("rectified", "department", &a)).await;
    let items = rectified["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{rectified}");
    let review = &items[0];
    assert_eq!(review["comment"], "窗口**态度差，我是**，电话**，身份证**");
    assert_eq!(
        review["action_taken"],
        "已对工作人员**批评教育，并电话**回访**"
    );
    assert_eq!(review["disposition"], "立行立改");
    assert_eq!(review["on_time"], true);
    assert_eq!(review["citizen_rating"], "满意");
    assert_eq!(review["citizen_rating_via"], "电话回访");
    assert_eq!(review["received_on"], "2026-11-02");

    // Published: the latest frozen run of the city (its administrator publishes it: the county
    // supervisor's own run would not be the city's ranking). Places count among the units
    // shown; B (withheld) takes none, so no gap tells where it stood; C is vetoed with the
    // policy's stated reason.
    let frozen = county
        .seeded
        .admin
        .post(
            "/api/v1/assessments",
            &json!({"period": "2026-11", "unit_kind": "department", "freeze": true}),
        )
        .await
        .unwrap();
    assert!(frozen["frozen"].is_u64(), "{frozen}");
    let ranking = county.json("/api/v1/public/rankings?of=department").await;
    assert_eq!(ranking["period"], "2026-11");
    let units = ranking["units"].as_array().unwrap();
    let summary: Vec<(String, Value, Value, Value)> = units
        .iter()
        .map(|unit| {
            (
                unit["unit"].as_str().unwrap().to_string(),
                unit["rank"].clone(),
                unit["score"].clone(),
                unit["vetoed"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (a.clone(), json!(1), json!("91.25"), json!(false)),
            (c.clone(), Value::Null, json!("65"), json!(true)),
            (b.clone(), Value::Null, Value::Null, Value::Null),
        ],
        "{ranking}"
    );
    assert!(units[1]["outcome"].as_str().unwrap().contains("一票否决"));
    assert!(
        units[1]["veto_reasons"][0]
            .as_str()
            .unwrap()
            .contains("实名差评按期整改率"),
        "{ranking}"
    );
    assert!(units[2]["figures"].is_null() && units[2]["suppressed"].is_string());
    // The frozen run in the internal view ranks B first: the public must not show that.
    let internal_b = frozen["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|unit| unit["unit"] == b)
        .unwrap();
    assert_eq!(internal_b["rank"], 1);

    // Two more November ratings of B arrive late: B now has 6 valid ratings, so its live
    // figures and its published comment show; a run that is not frozen sees them, the public
    // ranking does not change.
    let late = [
        act("B06", 'B', Some("very_satisfied"), None, None),
        act("B07", 'B', Some("very_satisfied"), None, None),
    ];
    county.record(&late, 20).await;
    let b_stats = county.json(&november("stats", "department", &b)).await;
    assert_eq!(b_stats["figures"]["valid_ratings"], 6, "{b_stats}");
    let b_comments = county.json(&november("comments", "department", &b)).await;
    assert_eq!(b_comments["items"][0]["comment"], "非常好，谢谢");
    let unfrozen = county
        .supervisor
        .post(
            "/api/v1/assessments",
            &json!({"period": "2026-11", "unit_kind": "department", "freeze": false}),
        )
        .await
        .unwrap();
    assert_ne!(unfrozen["units"], frozen["units"]);
    let again = county.json("/api/v1/public/rankings?of=department").await;
    assert_eq!(again, ranking, "the public ranking is the published one");
    let (status, _, _, _) = county.fetch("/api/v1/public/rankings?of=hall").await;
    assert_eq!(status, 404, "no hall run was published");

    // Pagination: one item a page, following the cursor, gives the same comments.
    let all = county.json(&november("comments", "hall", "H-BF")).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3, "{all}");
    let mut paged = Vec::new();
    let mut path = format!("{}&limit=1", november("comments", "hall", "H-BF"));
    for _ in 0..50 {
        let page = county.json(&path).await;
        let found = leaks(&page.to_string(), &forbidden);
        assert!(found.is_empty(), "{path} leaks {found:?}: {page}");
        paged.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!(
                    "{}&limit=1&cursor={cursor}",
                    november("comments", "hall", "H-BF")
                )
            }
            None => break,
        }
    }
    assert_eq!(Value::Array(paged), all["items"]);

    // Cache-friendly: an ETag, and a 304 for a client that holds the same body.
    let response = county
        .public
        .get(format!(
            "{}/api/v1/public/rankings?of=department",
            county.url()
        ))
        .send()
        .await
        .unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    let revalidated = county
        .public
        .get(format!(
            "{}/api/v1/public/rankings?of=department",
            county.url()
        ))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status().as_u16(), 304);

    // Every public endpoint and page, with every unit, and every link found in them: no
    // sign-in needed, and nothing personal in any body.
    let mut queue: VecDeque<String> = VecDeque::new();
    queue.push_back("/public".into());
    queue.push_back("/api/v1/public/regions".into());
    queue.push_back("/api/v1/public/rankings".into());
    queue.push_back("/api/v1/public/rankings?of=department&period=2026-11&scope=410400".into());
    for (dim, unit) in [
        ("region", "410400"),
        ("region", "410421"),
        ("hall", "H-BF"),
        ("department", a.as_str()),
        ("department", b.as_str()),
        ("department", c.as_str()),
        ("item", "T-QYSL"),
        ("item", "T-B"),
        ("item", "T-C"),
    ] {
        for what in ["stats", "rectified", "comments"] {
            queue.push_back(november(what, dim, unit));
            queue.push_back(format!("{}&limit=1", november(what, dim, unit)));
        }
        queue.push_back(format!("/public/units/{dim}/{unit}"));
        queue.push_back(format!("/public/units/{dim}/{unit}?period=2026-10"));
    }
    let mut seen = BTreeSet::new();
    let mut pages = 0;
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) {
            continue;
        }
        assert!(seen.len() < 500, "the crawl does not end");
        let (status, content_type, cache, body) = county.fetch(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(cache.contains("max-age"), "{path}: {cache}");
        if content_type.starts_with("text/html") {
            pages += 1;
            // The elderly mode (`?big=1`, linked from every page) adds its class.
            assert!(body.contains("<html lang=\"zh-CN\""), "{path}");
        }
        let found = leaks(&body, &forbidden);
        assert!(found.is_empty(), "{path} leaks {found:?}:\n{body}");
        for link in links(&body) {
            if !seen.contains(&link) {
                queue.push_back(link);
            }
        }
    }
    assert!(pages >= 12, "only {pages} pages crawled: {seen:?}");
    // The crawl reached the rectified review, the published comments and the ranking.
    for expected in [
        format!("/public/units/department/{a}?period=2026-11"),
        "/api/v1/public/rankings?of=department".to_string(),
    ] {
        assert!(seen.contains(&expected), "{expected} not reached: {seen:?}");
    }
    let (_, _, _, page) = county
        .fetch(&format!("/public/units/department/{a}?period=2026-11"))
        .await;
    for shown in [
        "窗口**态度差",
        "办事很快",
        "立行立改",
        "83.3%",
        "整改满意率",
    ] {
        assert!(page.contains(shown), "{shown} missing from the page");
    }
    // Not published (A05, never moderated; A02, kept internal): on no page.
    for hidden in ["态度很好", "一次办好"] {
        assert!(!page.contains(hidden), "{hidden} on the page");
    }
    let (_, _, _, index) = county.fetch("/public").await;
    assert!(index.contains("一票否决") && index.contains("部门考核排名"));

    // The scan itself catches what it must: the internal view of the same rating leaks.
    let internal = county
        .seeded
        .admin
        .get(&format!(
            "/api/v1/ratings/{}",
            county.rating_id("A03").await
        ))
        .await
        .unwrap()
        .to_string();
    assert!(!leaks(&internal, &forbidden).is_empty(), "{internal}");
}

#[test]
fn the_scan_finds_every_shape() {
    let forbidden = forbidden_terms();
    for body in [
        "电话13812341234",
        "证件41040219900101123X",
        "老证410402900101123",
        "138****1234",
        "****1234",
        "评价人李**",
        "工作人员王晓梅",
        "晓梅",
        "内部核实记录：属实",
    ] {
        assert!(!leaks(body, &forbidden).is_empty(), "{body}");
    }
    for body in [
        "2026-11-02",
        "0.833333",
        "电话****，谢谢",
        "11410421MB0000001X",
    ] {
        assert!(leaks(body, &forbidden).is_empty(), "{body}");
    }
}
