//! `hcp province-sim`: a stand-in for the 河南 provincial 好差评 platform, for tests and the demo.
//! A real HTTP server that takes uplink batches in the 河南 format (adapters/henan-uplink),
//! validates them strictly (request shape, every field and code, 差评 detail, duplicates),
//! deduplicates batches by number (a batch sent again with the same bytes gets the same answer
//! and is counted once; the same number with other bytes is refused), answers per record in the
//! format the adapter's `parse-ack` reads, keeps per-day counts by area, channel and level for
//! reconciliation, and can be told to fail (HTTP 500), hang, answer too late (having taken the
//! batch), or refuse given records. Accepted
//! batches are journaled in the data folder (`batches.jsonl`), so a restarted simulator
//! remembers what it took.
//!
//! Routes: `POST /api/haocp/batch`, `POST /api/haocp/counts` (`{"statDate": "yyyy-MM-dd"}`),
//! `GET /sim/state`, `POST /sim/control` (`{"mode": "ok" | "fail" | "hang" | "late", "hang_ms": n,
//! "refuse": {"<platformId>": "<reason>"}}`), `GET /healthz`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The journal of accepted batches in the data folder.
const JOURNAL: &str = "batches.jsonl";

/// How long a hanging simulator keeps a request open by default.
const DEFAULT_HANG_MS: u64 = 120_000;

/// Requests kept for `GET /sim/state`.
const KEPT_REQUESTS: usize = 5000;

/// How the simulator answers batches now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Ok,
    /// HTTP 500 with the province's "busy" message.
    Fail,
    /// Keeps the request open (`hang_ms`), then fails it.
    Hang,
    /// Takes the batch, then answers only after `hang_ms`: the answer is lost to a client that
    /// gave up, and the batch comes again under the same number.
    Late,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Control {
    mode: Option<Mode>,
    hang_ms: Option<u64>,
    /// Platform ids to refuse, with the reason; `{}` clears the list.
    refuse: Option<BTreeMap<String, String>>,
}

/// One batch request as the simulator saw it.
#[derive(Debug, Clone, Serialize)]
struct RequestSeen {
    /// Wall-clock time of the simulator.
    at: chrono::DateTime<chrono::Utc>,
    batch_no: Option<String>,
    sha256: String,
    status: u16,
    code: String,
}

/// An accepted record, as journaled: what the counts and the duplicate checks need.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Taken {
    platform_id: String,
    /// `rating` or `rectification`.
    kind: String,
    day: String,
    area_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pf: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default_eval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    satisfaction: Option<String>,
    /// projectNo, serviceNumber, assessNumber.
    slot: (String, u8, u8),
}

/// One line of the journal: a batch answered with code 200.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journaled {
    batch_no: String,
    sha256: String,
    answer: Value,
    taken: Vec<Taken>,
}

/// What the simulated province holds.
struct Province {
    journal: PathBuf,
    /// batchNo → (sha256 of the request body, the answer given, times received).
    batches: HashMap<String, (String, Value, u32)>,
    platform_ids: HashSet<String>,
    rating_slots: HashSet<(String, u8, u8)>,
    rectification_slots: HashSet<(String, u8, u8)>,
    /// day → (kind, area, pf, defaultEval, satisfaction) → count.
    counts: BTreeMap<String, BTreeMap<CountKey, u64>>,
    mode: Mode,
    hang_ms: u64,
    refuse: BTreeMap<String, String>,
    requests: Vec<RequestSeen>,
    /// The written comments (`writingEvaluation`) of the last rating records received, so a
    /// test can see what left the platform.
    comments: std::collections::VecDeque<String>,
}

/// Comments kept for [`Province::comments`].
const KEPT_COMMENTS: usize = 1000;

type CountKey = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Province {
    fn open(data: &Path) -> anyhow::Result<Province> {
        std::fs::create_dir_all(data)
            .with_context(|| format!("creating the simulator's folder {}", data.display()))?;
        let journal = data.join(JOURNAL);
        let mut province = Province {
            journal: journal.clone(),
            batches: HashMap::new(),
            platform_ids: HashSet::new(),
            rating_slots: HashSet::new(),
            rectification_slots: HashSet::new(),
            counts: BTreeMap::new(),
            mode: Mode::Ok,
            hang_ms: DEFAULT_HANG_MS,
            refuse: BTreeMap::new(),
            requests: Vec::new(),
            comments: std::collections::VecDeque::new(),
        };
        if journal.exists() {
            let file = std::fs::File::open(&journal)
                .with_context(|| format!("opening {}", journal.display()))?;
            for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Journaled>(&line) {
                    Ok(entry) => province.take(entry),
                    // A line cut short by a crash: the platform sends that batch again.
                    Err(error) => tracing::warn!(line = index + 1, %error, "journal line skipped"),
                }
            }
        }
        Ok(province)
    }

    fn take(&mut self, entry: Journaled) {
        for taken in &entry.taken {
            self.platform_ids.insert(taken.platform_id.clone());
            let slots = if taken.kind == "rating" {
                &mut self.rating_slots
            } else {
                &mut self.rectification_slots
            };
            slots.insert(taken.slot.clone());
            *self
                .counts
                .entry(taken.day.clone())
                .or_default()
                .entry((
                    taken.kind.clone(),
                    taken.area_code.clone(),
                    taken.pf.clone(),
                    taken.default_eval.clone(),
                    taken.satisfaction.clone(),
                ))
                .or_default() += 1;
        }
        self.batches
            .insert(entry.batch_no, (entry.sha256, entry.answer, 1));
    }

    fn journal(&self, entry: &Journaled) -> anyhow::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.journal)
            .with_context(|| format!("opening {}", self.journal.display()))?;
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        file.write_all(&line)?;
        file.sync_data()?;
        Ok(())
    }

    fn seen(&mut self, seen: RequestSeen) {
        if self.requests.len() >= KEPT_REQUESTS {
            self.requests.remove(0);
        }
        self.requests.push(seen);
    }
}

#[derive(Clone)]
struct Sim {
    province: Arc<Mutex<Province>>,
}

impl Sim {
    fn lock(&self) -> MutexGuard<'_, Province> {
        // Every change is made whole under the lock.
        self.province
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The simulator's routes, on the province held in `data`.
pub fn router(data: &Path) -> anyhow::Result<Router> {
    let sim = Sim {
        province: Arc::new(Mutex::new(Province::open(data)?)),
    };
    Ok(Router::new()
        .route("/api/haocp/batch", post(batch))
        .route("/api/haocp/counts", post(counts))
        .route("/sim/state", get(state))
        .route("/sim/control", post(control))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(sim))
}

/// `hcp province-sim`: serves until SIGINT/SIGTERM. Prints the URL once listening.
pub async fn serve(listen: SocketAddr, data: &Path) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    let app = router(data)?;
    println!("省平台模拟器 listening on http://{address}");
    println!("  batches: POST http://{address}/api/haocp/batch");
    println!("  counts:  POST http://{address}/api/haocp/counts");
    println!("  control: POST http://{address}/sim/control  state: GET http://{address}/sim/state");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Starts a simulator inside this process on a free local port (the demo's province); its
/// base URL.
pub async fn spawn_local(data: &Path) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let address = listener.local_addr()?;
    let app = router(data)?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "province simulator stopped");
        }
    });
    Ok(format!("http://{address}"))
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn refusal(status: StatusCode, code: &str, message: String) -> Response {
    answer(status, json!({"code": code, "msg": message}))
}

async fn batch(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    let sha256 = hcp_plugins::sha256_hex(&body);
    let batch_no = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|value| {
            value
                .get("batchNo")
                .and_then(Value::as_str)
                .map(String::from)
        });
    let (mode, hang_ms) = {
        let province = sim.lock();
        (province.mode, province.hang_ms)
    };
    let response = match mode {
        Mode::Fail => refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500",
            "系统繁忙，请稍后重试".into(),
        ),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_millis(hang_ms)).await;
            refusal(
                StatusCode::GATEWAY_TIMEOUT,
                "504",
                "处理超时，请稍后重试".into(),
            )
        }
        Mode::Ok | Mode::Late => {
            let content_type = headers
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            if !content_type
                .split(';')
                .next()
                .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
            {
                refusal(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "E1000",
                    format!("Content-Type 必须为 application/json，收到 {content_type:?}"),
                )
            } else {
                let response = {
                    let mut province = sim.lock();
                    accept_batch(&mut province, &body, &sha256)
                };
                if mode == Mode::Late {
                    tokio::time::sleep(Duration::from_millis(hang_ms)).await;
                }
                response
            }
        }
    };
    let status = response.status().as_u16();
    let code = if status == 200 { "200" } else { "error" };
    sim.lock().seen(RequestSeen {
        at: chrono::Utc::now(),
        batch_no,
        sha256,
        status,
        code: code.into(),
    });
    response
}

/// The top of a batch request; records are checked one by one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BatchRequest {
    batch_no: String,
    records: Vec<Value>,
    #[serde(default)]
    rectifications: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RatingRecord {
    platform_id: String,
    project_no: String,
    service_number: u8,
    assess_number: u8,
    task_code: String,
    dept_code: String,
    area_code: String,
    pf: Option<String>,
    default_eval: Option<String>,
    satisfaction: String,
    eval_detail: Option<String>,
    writing_evaluation: Option<String>,
    assess_time: String,
    user_prop: String,
    service_name: Option<String>,
    user_name: Option<String>,
    mobile: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RectificationRecord {
    platform_id: String,
    rating_platform_id: String,
    project_no: String,
    service_number: u8,
    assess_number: u8,
    task_code: String,
    dept_code: String,
    area_code: String,
    order_no: String,
    handle_unit: String,
    result: String,
    disposal_type: Option<String>,
    rectify_content: Option<String>,
    rectify_deadline: Option<String>,
    rectify_time: Option<String>,
    on_time: Option<String>,
    feedback_time: Option<String>,
    rectify_satisfaction: Option<String>,
    callback_result: Option<String>,
    reopen_times: u32,
    close_time: String,
}

fn accept_batch(province: &mut Province, body: &[u8], sha256: &str) -> Response {
    let request: BatchRequest = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(error) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "E1001",
                format!("请求格式错误：{error}"),
            );
        }
    };
    if !digits(&request.batch_no) {
        return refusal(
            StatusCode::BAD_REQUEST,
            "E1001",
            format!("批次号 batchNo {:?} 须为数字", request.batch_no),
        );
    }
    if let Some((known, given, received)) = province.batches.get_mut(&request.batch_no) {
        if known == sha256 {
            // The same batch again (its answer was lost): the same answer, counted once.
            *received += 1;
            return answer(StatusCode::OK, given.clone());
        }
        return refusal(
            StatusCode::OK,
            "E1003",
            format!("批次号 {} 已接收且内容不一致", request.batch_no),
        );
    }
    if request.records.is_empty() && request.rectifications.is_empty() {
        return refusal(StatusCode::BAD_REQUEST, "E1001", "批次无数据".into());
    }
    for comment in request
        .records
        .iter()
        .filter_map(|record| record["writingEvaluation"].as_str())
    {
        if province.comments.len() == KEPT_COMMENTS {
            province.comments.pop_front();
        }
        province.comments.push_back(comment.to_string());
    }
    let mut settled = Settled::default();
    let ratings = (
        &province.rating_slots,
        "重复评价：办件编号、服务序号、评价次数已存在",
    );
    if let Err(message) = settled.list(province, "records", &request.records, ratings, check_rating)
    {
        return refusal(StatusCode::BAD_REQUEST, "E1001", message);
    }
    let accepted_ratings: HashSet<String> = settled.accepted.iter().cloned().collect();
    let rectifications = (
        &province.rectification_slots,
        "重复整改记录：该差评已上报整改结果",
    );
    if let Err(message) = settled.list(
        province,
        "rectifications",
        &request.rectifications,
        rectifications,
        |record| check_rectification(province, &accepted_ratings, record),
    ) {
        return refusal(StatusCode::BAD_REQUEST, "E1001", message);
    }
    let Settled {
        accepted,
        refused,
        taken,
        ..
    } = settled;
    let message = if refused.is_empty() {
        "成功"
    } else {
        "部分数据未通过校验"
    };
    let given = json!({
        "code": "200",
        "msg": message,
        "batchNo": request.batch_no,
        "accepted": accepted,
        "refused": refused,
    });
    let entry = Journaled {
        batch_no: request.batch_no.clone(),
        sha256: sha256.to_owned(),
        answer: given.clone(),
        taken,
    };
    if let Err(error) = province.journal(&entry) {
        // Not durable: answer as a busy province would, and take nothing.
        tracing::error!(%error, "journal write failed");
        return refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500",
            "系统繁忙，请稍后重试".into(),
        );
    }
    province.take(entry);
    answer(StatusCode::OK, given)
}

/// What the lists of a batch came to so far: the accepted platform ids, the refusals and the
/// accepted records as journaled.
#[derive(Default)]
struct Settled {
    accepted: Vec<String>,
    refused: Vec<Value>,
    taken: Vec<Taken>,
    /// Platform ids seen in this batch, in either list.
    ids: HashSet<String>,
}

impl Settled {
    /// Checks one list of a batch (`records` or `rectifications`) record by record. A record
    /// without a numeric platform id refuses the whole batch (the `Err` is the message of that
    /// E1001 refusal); any other fault
    /// refuses only that record: its form (`check`), the control's refusals, a platform id seen
    /// before (in this batch or an earlier one), or a slot the province holds (`known_slots`)
    /// or this list repeats, refused as `duplicate`.
    fn list<R: serde::de::DeserializeOwned>(
        &mut self,
        province: &Province,
        name: &str,
        records: &[Value],
        (known_slots, duplicate): (&HashSet<(String, u8, u8)>, &str),
        check: impl Fn(&R) -> Result<Taken, String>,
    ) -> Result<(), String> {
        let mut slots_in_list = HashSet::new();
        for (index, record) in records.iter().enumerate() {
            let Some(id) = platform_id_of(record) else {
                return Err(format!("{name}[{index}] 缺少数字平台记录号 platformId"));
            };
            let verdict = serde_json::from_value::<R>(record.clone())
                .map_err(|error| format!("格式错误：{error}"))
                .and_then(|record| check(&record))
                .and_then(|taken| {
                    if let Some(reason) = province.refuse.get(&id) {
                        return Err(reason.clone());
                    }
                    if province.platform_ids.contains(&id) || !self.ids.insert(id.clone()) {
                        return Err(format!("平台记录号 {id} 重复"));
                    }
                    if known_slots.contains(&taken.slot)
                        || !slots_in_list.insert(taken.slot.clone())
                    {
                        return Err(duplicate.to_owned());
                    }
                    Ok(taken)
                });
            match verdict {
                Ok(record) => {
                    self.accepted.push(id);
                    self.taken.push(record);
                }
                Err(reason) => self.refused.push(json!({"id": id, "reason": reason})),
            }
        }
        Ok(())
    }
}

fn platform_id_of(record: &Value) -> Option<String> {
    record
        .get("platformId")
        .and_then(Value::as_str)
        .filter(|id| digits(id))
        .map(String::from)
}

fn digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

fn field(ok: bool, name: &str, value: &str, rule: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("字段 {name} 不合规（{value:?}）：{rule}"))
    }
}

fn time(value: &str, name: &str) -> Result<NaiveDateTime, String> {
    NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S")
        .map_err(|_| format!("字段 {name} 不合规（{value:?}）：须为 yyyy-MM-dd HH:mm:ss"))
}

fn common(
    project_no: &str,
    service_number: u8,
    assess_number: u8,
    task_code: &str,
    dept_code: &str,
    area_code: &str,
) -> Result<(), String> {
    field(
        !project_no.trim().is_empty() && project_no.chars().count() <= 64,
        "projectNo",
        project_no,
        "必填，不超过64字符",
    )?;
    field(
        (1..=99).contains(&service_number),
        "serviceNumber",
        &service_number.to_string(),
        "1~99",
    )?;
    field(
        matches!(assess_number, 1 | 2),
        "assessNumber",
        &assess_number.to_string(),
        "1 首次评价，2 追评",
    )?;
    field(!task_code.trim().is_empty(), "taskCode", task_code, "必填")?;
    field(
        dept_code.len() == 18
            && dept_code
                .bytes()
                .all(|byte| byte.is_ascii_digit() || byte.is_ascii_uppercase()),
        "deptCode",
        dept_code,
        "18位统一社会信用代码",
    )?;
    field(
        matches!(area_code.len(), 6 | 9 | 12) && digits(area_code),
        "areaCode",
        area_code,
        "6、9或12位区划代码",
    )
}

fn check_rating(record: &RatingRecord) -> Result<Taken, String> {
    common(
        &record.project_no,
        record.service_number,
        record.assess_number,
        &record.task_code,
        &record.dept_code,
        &record.area_code,
    )?;
    match (&record.pf, &record.default_eval) {
        (Some(pf), None) => field(
            matches!(pf.as_str(), "1" | "2" | "3" | "4" | "5" | "6" | "7"),
            "pf",
            pf,
            "1~7（国家评价渠道代码）",
        )?,
        (None, Some(flag)) => field(flag == "1", "defaultEval", flag, "默认评价须为 \"1\"")?,
        _ => return Err("评价渠道 pf 与默认评价标记 defaultEval 须且仅须有一项".into()),
    }
    field(
        matches!(record.satisfaction.as_str(), "1" | "2" | "3" | "4" | "5"),
        "satisfaction",
        &record.satisfaction,
        "1 非常不满意 … 5 非常满意",
    )?;
    let has = |value: &Option<String>| value.as_deref().is_some_and(|text| !text.trim().is_empty());
    if matches!(record.satisfaction.as_str(), "1" | "2")
        && !has(&record.eval_detail)
        && !has(&record.writing_evaluation)
    {
        return Err("差评须有评价指标 evalDetail 或文字评价 writingEvaluation".into());
    }
    if let Some(detail) = &record.eval_detail {
        field(
            detail.split(',').all(|code| !code.trim().is_empty()),
            "evalDetail",
            detail,
            "以逗号分隔的指标代码",
        )?;
    }
    time(&record.assess_time, "assessTime")?;
    field(
        matches!(
            record.user_prop.as_str(),
            "1" | "2" | "3" | "4" | "5" | "6" | "9"
        ),
        "userProp",
        &record.user_prop,
        "1~6 或 9",
    )?;
    if let Some(mobile) = &record.mobile {
        field(
            mobile.len() == 11 && mobile.starts_with('1') && digits(mobile),
            "mobile",
            mobile,
            "11位手机号",
        )?;
    }
    let _ = (&record.service_name, &record.user_name);
    Ok(Taken {
        platform_id: record.platform_id.clone(),
        kind: "rating".into(),
        day: record.assess_time[..10].to_owned(),
        area_code: record.area_code.clone(),
        pf: record.pf.clone(),
        default_eval: record.default_eval.clone(),
        satisfaction: Some(record.satisfaction.clone()),
        slot: (
            record.project_no.clone(),
            record.service_number,
            record.assess_number,
        ),
    })
}

fn check_rectification(
    province: &Province,
    accepted_in_batch: &HashSet<String>,
    record: &RectificationRecord,
) -> Result<Taken, String> {
    common(
        &record.project_no,
        record.service_number,
        record.assess_number,
        &record.task_code,
        &record.dept_code,
        &record.area_code,
    )?;
    field(
        digits(&record.rating_platform_id),
        "ratingPlatformId",
        &record.rating_platform_id,
        "数字",
    )?;
    if !province.platform_ids.contains(&record.rating_platform_id)
        && !accepted_in_batch.contains(&record.rating_platform_id)
    {
        return Err(format!(
            "对应的差评 {} 未上报或未被接收",
            record.rating_platform_id
        ));
    }
    field(
        digits(&record.order_no),
        "orderNo",
        &record.order_no,
        "数字",
    )?;
    field(
        !record.handle_unit.trim().is_empty(),
        "handleUnit",
        &record.handle_unit,
        "必填",
    )?;
    field(
        matches!(record.result.as_str(), "1" | "2"),
        "result",
        &record.result,
        "1 整改完成，2 申诉成立",
    )?;
    match &record.disposal_type {
        Some(kind) => field(
            matches!(kind.as_str(), "1" | "2" | "3" | "4"),
            "disposalType",
            kind,
            "1 立行立改，2 限期整改，3 解释说明，4 系统性问题整改",
        )?,
        None if record.result == "1" => {
            return Err("整改完成的记录须有处置方式 disposalType".into());
        }
        None => {}
    }
    for (name, value) in [
        ("rectifyDeadline", &record.rectify_deadline),
        ("rectifyTime", &record.rectify_time),
        ("feedbackTime", &record.feedback_time),
    ] {
        if let Some(value) = value {
            time(value, name)?;
        }
    }
    let close = time(&record.close_time, "closeTime")?;
    if let Some(on_time) = &record.on_time {
        field(
            matches!(on_time.as_str(), "0" | "1"),
            "onTime",
            on_time,
            "1 按期，0 逾期",
        )?;
    }
    if let Some(level) = &record.rectify_satisfaction {
        field(
            matches!(level.as_str(), "1" | "2" | "3"),
            "rectifySatisfaction",
            level,
            "1 满意，2 基本满意，3 不满意",
        )?;
    }
    if let Some(result) = &record.callback_result {
        field(
            matches!(result.as_str(), "1" | "2"),
            "callbackResult",
            result,
            "1 电话回访，2 短信告知",
        )?;
    }
    let _ = (&record.rectify_content, record.reopen_times);
    Ok(Taken {
        platform_id: record.platform_id.clone(),
        kind: "rectification".into(),
        day: close.date().format("%Y-%m-%d").to_string(),
        area_code: record.area_code.clone(),
        pf: None,
        default_eval: None,
        satisfaction: None,
        slot: (
            record.project_no.clone(),
            record.service_number,
            record.assess_number,
        ),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CountQuery {
    stat_date: String,
}

async fn counts(State(sim): State<Sim>, body: Bytes) -> Response {
    let query: CountQuery = match serde_json::from_slice(&body) {
        Ok(query) => query,
        Err(error) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "E2000",
                format!("请求格式错误：{error}"),
            );
        }
    };
    if NaiveDate::parse_from_str(&query.stat_date, "%Y-%m-%d").is_err() {
        return refusal(
            StatusCode::BAD_REQUEST,
            "E2001",
            format!("统计日期 statDate {:?} 须为 yyyy-MM-dd", query.stat_date),
        );
    }
    let province = sim.lock();
    if province.mode == Mode::Fail {
        return refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500",
            "系统繁忙，请稍后重试".into(),
        );
    }
    let mut ratings = Vec::new();
    let mut rectifications = Vec::new();
    if let Some(day) = province.counts.get(&query.stat_date) {
        for ((kind, area, pf, default_eval, satisfaction), count) in day {
            if kind == "rating" {
                let mut row =
                    json!({"areaCode": area, "satisfaction": satisfaction, "count": count});
                if let Some(pf) = pf {
                    row["pf"] = json!(pf);
                }
                if let Some(flag) = default_eval {
                    row["defaultEval"] = json!(flag);
                }
                ratings.push(row);
            } else {
                rectifications.push(json!({"areaCode": area, "count": count}));
            }
        }
    }
    answer(
        StatusCode::OK,
        json!({
            "code": "200",
            "msg": "成功",
            "statDate": query.stat_date,
            "ratings": ratings,
            "rectifications": rectifications,
        }),
    )
}

async fn state(State(sim): State<Sim>) -> Json<Value> {
    let province = sim.lock();
    let mut batches: Vec<Value> = province
        .batches
        .iter()
        .map(|(number, (sha256, given, received))| {
            json!({
                "batchNo": number,
                "sha256": sha256,
                "received": received,
                "accepted": given["accepted"].as_array().map_or(0, Vec::len),
                "refused": given["refused"].as_array().map_or(0, Vec::len),
            })
        })
        .collect();
    batches.sort_by_key(|batch| {
        batch["batchNo"]
            .as_str()
            .and_then(|number| number.parse::<u64>().ok())
            .unwrap_or(0)
    });
    let records: u64 = province.counts.values().flat_map(|day| day.values()).sum();
    Json(json!({
        "mode": province.mode,
        "hang_ms": province.hang_ms,
        "refuse": province.refuse,
        "batches": batches,
        "records": records,
        "platform_ids": province.platform_ids.len(),
        "requests": province.requests,
        "comments": province.comments,
    }))
}

async fn control(State(sim): State<Sim>, Json(control): Json<Control>) -> Json<Value> {
    let mut province = sim.lock();
    if let Some(mode) = control.mode {
        province.mode = mode;
    }
    if let Some(hang_ms) = control.hang_ms {
        province.hang_ms = hang_ms;
    }
    if let Some(refuse) = control.refuse {
        province.refuse = refuse;
    }
    tracing::info!(mode = ?province.mode, refuse = province.refuse.len(), "simulator control");
    Json(json!({"mode": province.mode, "hang_ms": province.hang_ms, "refuse": province.refuse}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    fn rating(id: &str, project: &str, satisfaction: &str) -> Value {
        json!({
            "platformId": id, "projectNo": project, "serviceNumber": 1, "assessNumber": 1,
            "taskCode": "T-1", "deptCode": "11410421MB0000001X", "areaCode": "410421",
            "pf": "4", "satisfaction": satisfaction, "assessTime": "2026-03-10 10:25:00",
            "userProp": "1"
        })
    }

    async fn call(app: &Router, path: &str, body: &Value) -> (u16, Value) {
        let request = Request::post(path)
            .header("content-type", "application/json; charset=utf-8")
            .body(Body::from(serde_json::to_vec(body).unwrap_or_default()))
            .unwrap_or_default();
        let response = match app.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn batches_are_checked_deduplicated_counted_and_remembered() {
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let app = router(dir.path()).unwrap_or_else(|error| panic!("{error}"));
        let mut no_detail = rating("3", "P3", "2");
        no_detail["pf"] = json!("9");
        let batch = json!({"batchNo": "1", "records": [
            rating("1", "P1", "5"), rating("2", "P1", "4"), no_detail,
            json!({"platformId": "4", "surprise": true})
        ]});
        let (status, answer) = call(&app, "/api/haocp/batch", &batch).await;
        assert_eq!(status, 200);
        assert_eq!(answer["accepted"], json!(["1"]));
        let reasons: Vec<&str> = answer["refused"]
            .as_array()
            .map(|refused| {
                refused
                    .iter()
                    .filter_map(|r| r["reason"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(reasons.len(), 3, "{answer}");
        assert!(reasons[0].starts_with("重复评价"), "{reasons:?}");
        assert!(reasons[1].starts_with("字段 pf 不合规"), "{reasons:?}");
        assert!(
            reasons[2].contains("unknown field `surprise`"),
            "{reasons:?}"
        );
        // The same batch again gets the same answer and counts once; other bytes are refused.
        assert_eq!(call(&app, "/api/haocp/batch", &batch).await, (200, answer));
        let (_, other) = call(
            &app,
            "/api/haocp/batch",
            &json!({"batchNo": "1", "records": [rating("9", "P9", "5")]}),
        )
        .await;
        assert_eq!(other["code"], "E1003");
        // A restarted simulator remembers.
        let app = router(dir.path()).unwrap_or_else(|error| panic!("{error}"));
        let (_, counted) = call(
            &app,
            "/api/haocp/counts",
            &json!({"statDate": "2026-03-10"}),
        )
        .await;
        assert_eq!(
            counted["ratings"],
            json!([{"areaCode": "410421", "pf": "4", "satisfaction": "5", "count": 1}])
        );
        let (_, again) = call(
            &app,
            "/api/haocp/batch",
            &json!({"batchNo": "2", "records": [rating("1", "P1", "5")]}),
        )
        .await;
        assert_eq!(again["refused"][0]["reason"], "平台记录号 1 重复");
        let (status, malformed) = call(&app, "/api/haocp/batch", &json!({"records": []})).await;
        assert_eq!((status, malformed["code"].as_str()), (400, Some("E1001")));
    }
}
