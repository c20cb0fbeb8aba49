//! The upward request: a batch of ratings as one JSON document with the provincial field names
//! (see README.md). Field order is fixed by the struct, so the same batch always encodes to the
//! same bytes (the province deduplicates on `batchNo`, and retries must be identical).

use hcp_adapter_sdk::rfc3339_to_china_time;
use hcp_adapter_sdk::types::Rating;
use hcp_adapter_sdk::uplink::{UplinkBatch, UplinkRating, UplinkRequest};
use serde::Serialize;

pub const REQUEST_CONTENT_TYPE: &str = "application/json; charset=utf-8";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    batch_no: String,
    records: Vec<Record<'a>>,
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

/// Encodes a batch, refusing the whole batch when one rating cannot be expressed.
pub fn encode_batch(batch: &UplinkBatch) -> Result<UplinkRequest, String> {
    if batch.ratings.is_empty() {
        return Err(format!("batch {} has no ratings", batch.number));
    }
    let records = batch
        .ratings
        .iter()
        .map(|uplink| {
            encode_rating(uplink).map_err(|reason| format!("rating {}: {reason}", uplink.id))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let request = Request {
        batch_no: batch.number.to_string(),
        records,
    };
    let body = serde_json::to_vec(&request)
        .map_err(|error| format!("batch {} cannot be serialised: {error}", batch.number))?;
    Ok(UplinkRequest {
        content_type: REQUEST_CONTENT_TYPE.to_owned(),
        body,
    })
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

fn required<'a>(value: Option<&'a str>, what: &str) -> Result<&'a str, String> {
    present(value).ok_or_else(|| format!("{what} is missing, and the province requires it"))
}

/// Empty strings are sent as absent fields.
fn present(value: Option<&str>) -> Option<&str> {
    value.filter(|text| !text.trim().is_empty())
}
