//! Reconciliation (对账): the request that asks the province for its counts of one day, and its
//! answer, counts by record kind, area, channel and level in the provincial codes (see
//! README.md).

use hcp_adapter_sdk::china_time_to_rfc3339;
use hcp_adapter_sdk::json::Code;
use hcp_adapter_sdk::v1_1::malformed;
use hcp_adapter_sdk::v1_1::types::{Channel, DecodeError, Level};
use hcp_adapter_sdk::v1_1::uplink::{DayCount, RecordKind, UplinkRequest};
use serde::{Deserialize, Serialize};

use crate::ack::{code_ok, http_ok, quote};
use crate::request::REQUEST_CONTENT_TYPE;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Query<'a> {
    stat_date: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    code: Code,
    #[serde(alias = "message")]
    msg: Option<String>,
    #[serde(default)]
    ratings: Vec<RatingCount>,
    #[serde(default)]
    rectifications: Vec<RectificationCount>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RatingCount {
    area_code: String,
    pf: Option<Code>,
    default_eval: Option<Code>,
    satisfaction: Code,
    count: Code,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RectificationCount {
    area_code: String,
    count: Code,
}

/// `{"statDate":"2026-03-10"}`; the day must be a real calendar day.
pub fn query(day: &str) -> Result<UplinkRequest, String> {
    let well_formed = day.len() == 10
        && day
            .bytes()
            .enumerate()
            .all(|(index, byte)| matches!(index, 4 | 7) == (byte == b'-'));
    if !well_formed || china_time_to_rfc3339(&format!("{day} 00:00:00")).is_err() {
        return Err(format!("day {day:?} is not a calendar day (yyyy-MM-dd)"));
    }
    let body = serde_json::to_vec(&Query { stat_date: day })
        .map_err(|error| format!("count query cannot be serialised: {error}"))?;
    Ok(UplinkRequest {
        content_type: REQUEST_CONTENT_TYPE.to_owned(),
        body,
    })
}

pub fn parse_answer(status: u16, body: &[u8]) -> Result<Vec<DayCount>, DecodeError> {
    http_ok(status, body)?;
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|error| malformed(format!("invalid count json: {error}: {}", quote(body))))?;
    code_ok(&answer.code, answer.msg.as_deref(), "the count query")?;
    let mut counts = Vec::with_capacity(answer.ratings.len() + answer.rectifications.len());
    for (index, rating) in answer.ratings.into_iter().enumerate() {
        counts.push(
            rating_count(rating)
                .map_err(|reason| malformed(format!("ratings[{index}]: {reason}")))?,
        );
    }
    for (index, rectification) in answer.rectifications.into_iter().enumerate() {
        let count = number(&rectification.count)
            .map_err(|reason| malformed(format!("rectifications[{index}]: {reason}")))?;
        counts.push(DayCount {
            kind: RecordKind::Rectification,
            area_code: area(rectification.area_code)
                .map_err(|reason| malformed(format!("rectifications[{index}]: {reason}")))?,
            channel: None,
            level: None,
            count,
        });
    }
    Ok(counts)
}

fn rating_count(rating: RatingCount) -> Result<DayCount, String> {
    let channel = match (&rating.pf, &rating.default_eval) {
        (None, Some(flag)) if flag.as_str() == "1" => Channel::SystemDefault,
        (Some(pf), None) => pf
            .to_u8()
            .and_then(Channel::from_national_pf)
            .ok_or_else(|| {
                format!(
                    "pf {pf} is not a national channel code ({})",
                    Channel::NATIONAL_PF_CODES
                )
            })?,
        _ => return Err("exactly one of pf and defaultEval \"1\" must be given".to_owned()),
    };
    let level = rating
        .satisfaction
        .to_u8()
        .and_then(Level::from_satisfaction)
        .ok_or_else(|| {
            format!(
                "satisfaction {} is not {}",
                rating.satisfaction,
                Level::SATISFACTION_CODES
            )
        })?;
    Ok(DayCount {
        kind: RecordKind::Rating,
        area_code: area(rating.area_code)?,
        channel: Some(channel),
        level: Some(level),
        count: number(&rating.count)?,
    })
}

fn number(count: &Code) -> Result<u64, String> {
    count
        .to_u64()
        .ok_or_else(|| format!("count {count} is not an unsigned integer"))
}

fn area(code: String) -> Result<String, String> {
    if code.trim().is_empty() {
        Err("areaCode is empty".to_owned())
    } else {
        Ok(code)
    }
}
