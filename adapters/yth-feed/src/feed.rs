//! The 一体化平台 service-event feed (see README.md): read with serde, then checked and mapped
//! case by case so that every error names the entry it is about.

use hcp_adapter_sdk::json::Code;
use hcp_adapter_sdk::types::{ApplicantType, CaseStatus, DecodeError, Inbound, ServiceEvent};
use hcp_adapter_sdk::{china_time_to_rfc3339, malformed};
use serde::Deserialize;

/// One delivery of the feed. Unknown fields (`taskName`, `promiseDay` …) are ignored.
#[derive(Deserialize)]
struct Feed {
    data: Vec<Entry>,
}

/// One service act of a case, with the provincial field names.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    project_no: String,
    project_name: String,
    task_code: String,
    dept_code: String,
    area_code: Code,
    pro_status: Code,
    accept_date: String,
    result_date: Option<String>,
    service_number: Code,
    service_name: String,
    window_code: Option<String>,
    staff_code: Option<String>,
    user_prop: Code,
}

/// Decodes one delivery into service events, in order, all or nothing.
pub fn decode_feed(payload: &[u8]) -> Result<Vec<Inbound>, DecodeError> {
    let feed: Feed = serde_json::from_slice(payload)
        .map_err(|error| malformed(format!("invalid feed json: {error}")))?;
    feed.data
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            map_entry(entry)
                .map(Inbound::Service)
                .map_err(|reason| malformed(format!("data[{index}]: {reason}")))
        })
        .collect()
}

fn map_entry(entry: Entry) -> Result<ServiceEvent, String> {
    let project_no = entry.project_no.trim().to_owned();
    if project_no.is_empty() {
        return Err("projectNo is empty".to_owned());
    }
    let pro_status = entry.pro_status.to_u8();
    let status = pro_status
        .and_then(CaseStatus::from_pro_status)
        .ok_or_else(|| {
            format!(
                "unknown proStatus {} (expected {})",
                entry.pro_status,
                CaseStatus::PRO_STATUS_CODES
            )
        })?;
    let applicant_type = entry
        .user_prop
        .to_u8()
        .and_then(ApplicantType::from_user_prop)
        .ok_or_else(|| {
            format!(
                "unknown userProp {} (expected {})",
                entry.user_prop,
                ApplicantType::USER_PROP_CODES
            )
        })?;
    let service_number = entry.service_number.to_u8().ok_or_else(|| {
        format!(
            "serviceNumber {} is not a number from 0 to 255",
            entry.service_number
        )
    })?;
    // A completed case is reported when it completes: its resultDate is when the service act
    // happened. Other statuses (and feeds that leave resultDate out) use acceptDate.
    let occurred_at = match non_empty(entry.result_date) {
        Some(result_date) if status == CaseStatus::Completed => {
            china_time_to_rfc3339(&result_date).map_err(|reason| format!("resultDate: {reason}"))?
        }
        _ => china_time_to_rfc3339(&entry.accept_date)
            .map_err(|reason| format!("acceptDate: {reason}"))?,
    };
    Ok(ServiceEvent {
        // Built from the parsed numbers, so "02" and 2 name the same event.
        event_id: format!("yth-{project_no}-{service_number}-{}", status.pro_status()),
        project_no,
        project_name: entry.project_name,
        task_code: entry.task_code,
        department: entry.dept_code,
        area_code: entry.area_code.as_str().to_owned(),
        service_number,
        service_name: entry.service_name,
        status,
        occurred_at,
        window: non_empty(entry.window_code),
        staff: non_empty(entry.staff_code),
        applicant_type,
    })
}

/// Absent, empty and blank strings all mean "not given".
fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
}
