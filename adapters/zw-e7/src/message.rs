//! The ZW-E7 upload message (see README.md): read with serde, then checked and mapped record by
//! record so that every error names the record it is about.

use hcp_adapter_sdk::json::Code;
use hcp_adapter_sdk::types::{
    ApplicantType, Channel, DecodeError, Evaluator, Heartbeat, Inbound, Level, Rating,
};
use hcp_adapter_sdk::{china_time_to_rfc3339, malformed};
use serde::Deserialize;

/// One upload. Unknown fields are ignored: the vendor adds fields between firmware releases.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    device_sn: String,
    #[serde(default)]
    records: Vec<Record>,
    status: Option<Status>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    rec_id: Code,
    eval_time: String,
    score: Code,
    #[serde(default)]
    tags: Vec<String>,
    remark: Option<String>,
    biz_no: String,
    item_code: String,
    service_no: u64,
    staff_no: Option<String>,
    #[serde(default)]
    real_name: bool,
    mobile: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    time: String,
    total: u64,
    fw: Option<String>,
    /// Message counter; firmware before 2.1 does not send it.
    seq: Option<u64>,
}

/// Decodes one upload: its records (in order), then its status as a heartbeat.
pub fn decode_message(payload: &[u8]) -> Result<Vec<Inbound>, DecodeError> {
    let message: Message = serde_json::from_slice(payload)
        .map_err(|error| malformed(format!("invalid zw-e7 json: {error}")))?;
    let device = message.device_sn.trim();
    if device.is_empty() {
        return Err(malformed("deviceSn is empty"));
    }
    let mut items = Vec::with_capacity(message.records.len() + 1);
    for (index, record) in message.records.into_iter().enumerate() {
        let rating = map_record(device, record)
            .map_err(|reason| malformed(format!("records[{index}]: {reason}")))?;
        items.push(Inbound::Rating(rating));
    }
    if let Some(status) = message.status {
        items.push(Inbound::Heartbeat(Heartbeat {
            device: device.to_owned(),
            sent_at: china_time_to_rfc3339(&status.time)
                .map_err(|reason| malformed(format!("status.time: {reason}")))?,
            sequence: status.seq.unwrap_or(0),
            ratings_total: status.total,
            firmware: non_empty(status.fw),
        }));
    }
    Ok(items)
}

fn map_record(device: &str, record: Record) -> Result<Rating, String> {
    let rec_id = record.rec_id.as_str().trim();
    if rec_id.is_empty() {
        return Err("recId is empty".to_owned());
    }
    let level = record
        .score
        .to_u8()
        .and_then(Level::from_gbt39046)
        .ok_or_else(|| {
            format!(
                "unknown score {} (expected {})",
                record.score,
                Level::GBT39046_CODES
            )
        })?;
    let service_number = u8::try_from(record.service_no)
        .map_err(|_| format!("serviceNo {} out of range 0 to 255", record.service_no))?;
    let rated_at =
        china_time_to_rfc3339(&record.eval_time).map_err(|reason| format!("evalTime: {reason}"))?;
    Ok(Rating {
        event_id: format!("{device}-{rec_id}"),
        project_no: record.biz_no,
        service_number,
        assess_number: 1,
        task_code: record.item_code,
        department: None,
        area_code: None,
        window: None,
        staff: non_empty(record.staff_no),
        device: Some(device.to_owned()),
        service_name: None,
        level,
        channel: Channel::HallDevice,
        indicators: record.tags,
        text: non_empty(record.remark),
        evaluator: Evaluator {
            real_name: record.real_name,
            applicant_type: ApplicantType::NaturalPerson,
            name: None,
            phone: non_empty(record.mobile),
            id_number: None,
        },
        rated_at,
    })
}

/// Absent, empty and blank strings all mean "not given".
fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
}
