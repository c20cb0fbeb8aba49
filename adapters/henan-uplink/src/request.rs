//! The upward request: a batch of ratings and rectifications as one JSON document with the
//! provincial field names (see README.md). Field order is fixed by the structs, so the same batch
//! always encodes to the same bytes (the province deduplicates on `batchNo`, and retries must be
//! identical). A batch without rectifications encodes exactly as contract 1.0.0 did.

use hcp_adapter_sdk::rfc3339_to_china_time;
use hcp_adapter_sdk::v1_1::types::Rating;
use hcp_adapter_sdk::v1_1::uplink::{
    CallbackResult, DispositionKind, RecordBatch, Rectification, RectificationLevel,
    RectificationOutcome, UplinkBatch, UplinkRating, UplinkRecord, UplinkRectification,
    UplinkRequest,
};
use serde::Serialize;

pub const REQUEST_CONTENT_TYPE: &str = "application/json; charset=utf-8";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    batch_no: String,
    records: Vec<Record<'a>>,
    /// Absent when the batch has none, so a ratings-only batch is the 1.0.0 request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rectifications: Vec<RectificationRecord<'a>>,
}

/// One rating. Codes are JSON strings (the province's convention); counters are numbers.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    /// The platform's rating id; the province echoes it in its answer.
    platform_id: String,
    project_no: &'a str,
    service_number: u8,
    assess_number: u8,
    task_code: &'a str,
    dept_code: &'a str,
    area_code: &'a str,
    /// National `pf` code; absent for a default rating (see `default_eval`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pf: Option<String>,
    /// `"1"` for a 系统默认评价, which the national `pf` codes cannot express.
    #[serde(skip_serializing_if = "Option::is_none")]
    default_eval: Option<&'static str>,
    /// 1=非常不满意 … 5=非常满意.
    satisfaction: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    eval_detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    writing_evaluation: Option<&'a str>,
    /// `yyyy-MM-dd HH:mm:ss`, China time.
    assess_time: String,
    user_prop: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mobile: Option<&'a str>,
}

/// The handling of one bad review (差评整改), reported when its work order is closed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RectificationRecord<'a> {
    /// The platform's id of this record; the province echoes it in its answer.
    platform_id: String,
    /// The platform's id of the bad review, as sent earlier in a rating's `platformId`.
    rating_platform_id: String,
    project_no: &'a str,
    service_number: u8,
    assess_number: u8,
    task_code: &'a str,
    dept_code: &'a str,
    area_code: &'a str,
    order_no: String,
    handle_unit: &'a str,
    /// 1 整改完成, 2 申诉成立.
    result: &'static str,
    /// 1 立行立改, 2 限期整改, 3 解释说明, 4 系统性问题整改.
    #[serde(skip_serializing_if = "Option::is_none")]
    disposal_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rectify_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rectify_deadline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rectify_time: Option<String>,
    /// `"1"` rectified before the deadline, `"0"` late; absent unless both are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    on_time: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    feedback_time: Option<String>,
    /// 1 满意, 2 基本满意, 3 不满意.
    #[serde(skip_serializing_if = "Option::is_none")]
    rectify_satisfaction: Option<&'static str>,
    /// 1 电话回访, 2 多次未接通后短信告知.
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_result: Option<&'static str>,
    reopen_times: u32,
    close_time: String,
}

/// Encodes a batch of ratings (the 1.0.0 call), refusing the whole batch when one rating cannot
/// be expressed.
pub fn encode_batch(batch: &UplinkBatch) -> Result<UplinkRequest, String> {
    if batch.ratings.is_empty() {
        return Err(format!("batch {} has no ratings", batch.number));
    }
    let records = batch
        .ratings
        .iter()
        .map(rating_record)
        .collect::<Result<Vec<_>, _>>()?;
    serialise(batch.number, records, Vec::new())
}

/// Encodes a batch of ratings and rectifications, refusing the whole batch when one record
/// cannot be expressed.
pub fn encode_records(batch: &RecordBatch) -> Result<UplinkRequest, String> {
    if batch.records.is_empty() {
        return Err(format!("batch {} has no records", batch.number));
    }
    let mut ratings = Vec::new();
    let mut rectifications = Vec::new();
    for record in &batch.records {
        match record {
            UplinkRecord::Rating(uplink) => ratings.push(rating_record(uplink)?),
            UplinkRecord::Rectification(uplink) => {
                rectifications.push(rectification_record(uplink)?)
            }
        }
    }
    serialise(batch.number, ratings, rectifications)
}

fn serialise(
    number: u64,
    records: Vec<Record<'_>>,
    rectifications: Vec<RectificationRecord<'_>>,
) -> Result<UplinkRequest, String> {
    let request = Request {
        batch_no: number.to_string(),
        records,
        rectifications,
    };
    let body = serde_json::to_vec(&request)
        .map_err(|error| format!("batch {number} cannot be serialised: {error}"))?;
    Ok(UplinkRequest {
        content_type: REQUEST_CONTENT_TYPE.to_owned(),
        body,
    })
}

fn rating_record(uplink: &UplinkRating) -> Result<Record<'_>, String> {
    encode_rating(uplink).map_err(|reason| format!("rating {}: {reason}", uplink.id))
}

fn encode_rating(uplink: &UplinkRating) -> Result<Record<'_>, String> {
    let rating: &Rating = &uplink.rating;
    let dept_code = required(rating.department.as_deref(), "department (deptCode)")?;
    let area_code = required(rating.area_code.as_deref(), "area code (areaCode)")?;
    if let Some(code) = rating.indicators.iter().find(|code| code.contains(',')) {
        return Err(format!(
            "indicator code {code:?} contains a comma, which evalDetail uses as separator"
        ));
    }
    let assess_time =
        rfc3339_to_china_time(&rating.rated_at).map_err(|reason| format!("rated-at: {reason}"))?;
    let pf = rating.channel.national_pf();
    Ok(Record {
        platform_id: uplink.id.to_string(),
        project_no: &rating.project_no,
        service_number: rating.service_number,
        assess_number: rating.assess_number,
        task_code: &rating.task_code,
        dept_code,
        area_code,
        pf: pf.map(|code| code.to_string()),
        default_eval: pf.is_none().then_some("1"),
        satisfaction: rating.level.satisfaction().to_string(),
        eval_detail: (!rating.indicators.is_empty()).then(|| rating.indicators.join(",")),
        writing_evaluation: present(rating.text.as_deref()),
        assess_time,
        user_prop: rating.evaluator.applicant_type.user_prop().to_string(),
        service_name: present(rating.service_name.as_deref()),
        user_name: present(rating.evaluator.name.as_deref()),
        mobile: present(rating.evaluator.phone.as_deref()),
    })
}

fn rectification_record(uplink: &UplinkRectification) -> Result<RectificationRecord<'_>, String> {
    encode_rectification(uplink).map_err(|reason| format!("rectification {}: {reason}", uplink.id))
}

fn encode_rectification(uplink: &UplinkRectification) -> Result<RectificationRecord<'_>, String> {
    let rectification: &Rectification = &uplink.rectification;
    let time = |value: &Option<String>, field: &str| -> Result<Option<String>, String> {
        value
            .as_deref()
            .map(|text| rfc3339_to_china_time(text).map_err(|reason| format!("{field}: {reason}")))
            .transpose()
    };
    let rectify_deadline = time(&rectification.rectify_due, "rectify-due")?;
    let rectify_time = time(&rectification.rectified_at, "rectified-at")?;
    // Compared as instants, not as the rounded text: "before the due instant" is the rule.
    let on_time = match (&rectification.rectified_at, &rectification.rectify_due) {
        (Some(done), Some(due)) => Some(if before(done, due)? { "1" } else { "0" }),
        _ => None,
    };
    Ok(RectificationRecord {
        platform_id: uplink.id.to_string(),
        rating_platform_id: uplink.rating_id.to_string(),
        project_no: required(
            Some(&rectification.project_no),
            "project number (projectNo)",
        )?,
        service_number: rectification.service_number,
        assess_number: rectification.assess_number,
        task_code: required(Some(&rectification.task_code), "task code (taskCode)")?,
        dept_code: required(Some(&rectification.department), "department (deptCode)")?,
        area_code: required(Some(&rectification.area_code), "area code (areaCode)")?,
        order_no: rectification.order_id.to_string(),
        handle_unit: required(Some(&rectification.unit), "handling unit (handleUnit)")?,
        result: match rectification.outcome {
            RectificationOutcome::Resolved => "1",
            RectificationOutcome::AppealUpheld => "2",
        },
        disposal_type: rectification.disposition.map(|kind| match kind {
            DispositionKind::Immediate => "1",
            DispositionKind::Scheduled => "2",
            DispositionKind::Explained => "3",
            DispositionKind::Systemic => "4",
        }),
        rectify_content: present(Some(&rectification.action)),
        rectify_deadline,
        rectify_time,
        on_time,
        feedback_time: time(&rectification.feedback_at, "feedback-at")?,
        rectify_satisfaction: rectification.satisfaction.map(|level| match level {
            RectificationLevel::Satisfied => "1",
            RectificationLevel::BasicallySatisfied => "2",
            RectificationLevel::Dissatisfied => "3",
        }),
        callback_result: rectification.callback.map(|result| match result {
            CallbackResult::Reached => "1",
            CallbackResult::SmsAfterUnreachable => "2",
        }),
        reopen_times: rectification.reopened,
        close_time: rfc3339_to_china_time(&rectification.closed_at)
            .map_err(|reason| format!("closed-at: {reason}"))?,
    })
}

/// Whether instant `first` is before `second`, both RFC 3339 with any offset: compared in China
/// time to the second, then by the fraction the text carries.
fn before(first: &str, second: &str) -> Result<bool, String> {
    let key = |text: &str| -> Result<(String, String), String> {
        let seconds = rfc3339_to_china_time(text)?;
        // The fraction, if any, sits between the seconds and the offset.
        let fraction = text
            .get(19..)
            .and_then(|rest| rest.strip_prefix('.'))
            .map(|rest| {
                rest.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .unwrap_or_default();
        Ok((seconds, format!("{fraction:0<9}")))
    };
    Ok(key(first)? < key(second)?)
}

fn required<'a>(value: Option<&'a str>, what: &str) -> Result<&'a str, String> {
    present(value).ok_or_else(|| format!("{what} is missing, and the province requires it"))
}

/// Empty strings are sent as absent fields.
fn present(value: Option<&str>) -> Option<&str> {
    value.filter(|text| !text.trim().is_empty())
}
