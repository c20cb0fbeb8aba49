//! The province's answer to a batch (see README.md): which platform ids it accepted and which it
//! refused, with its reasons. Anything but HTTP 200 with `code` 200 is an error that carries the
//! province's own message, so an operator reads it without opening the raw body.

use std::collections::HashSet;

use hcp_adapter_sdk::json::Code;
use hcp_adapter_sdk::v1_1::malformed;
use hcp_adapter_sdk::v1_1::types::DecodeError;
use hcp_adapter_sdk::v1_1::uplink::Ack;
use serde::Deserialize;

/// Longest piece of a non-JSON body quoted in an error message, in characters.
const QUOTE_LIMIT: usize = 200;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    code: Code,
    #[serde(alias = "message")]
    msg: Option<String>,
    #[serde(default)]
    accepted: Vec<Code>,
    #[serde(default)]
    refused: Vec<Refusal>,
}

#[derive(Deserialize)]
struct Refusal {
    id: Code,
    #[serde(alias = "msg", alias = "message")]
    reason: String,
}

/// Only the message, for answers that are errors.
#[derive(Deserialize)]
struct ErrorAnswer {
    code: Option<Code>,
    #[serde(alias = "message")]
    msg: Option<String>,
}

pub fn parse_answer(status: u16, body: &[u8]) -> Result<Ack, DecodeError> {
    http_ok(status, body)?;
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|error| malformed(format!("invalid answer json: {error}: {}", quote(body))))?;
    code_ok(&answer.code, answer.msg.as_deref(), "the request")?;
    let accepted = answer
        .accepted
        .iter()
        .enumerate()
        .map(|(index, id)| {
            platform_id(id).map_err(|reason| malformed(format!("accepted[{index}]: {reason}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let refused = answer
        .refused
        .into_iter()
        .enumerate()
        .map(|(index, refusal)| {
            platform_id(&refusal.id)
                .map(|id| (id, refusal.reason))
                .map_err(|reason| malformed(format!("refused[{index}]: {reason}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let accepted_set: HashSet<u64> = accepted.iter().copied().collect();
    if let Some((id, _)) = refused.iter().find(|(id, _)| accepted_set.contains(id)) {
        return Err(malformed(format!(
            "platform id {id} is both accepted and refused"
        )));
    }
    Ok(Ack { accepted, refused })
}

fn platform_id(id: &Code) -> Result<u64, String> {
    id.to_u64()
        .ok_or_else(|| format!("id {id} is not a platform id (an unsigned integer)"))
}

/// An error with the province's message unless it answered HTTP 200.
pub(crate) fn http_ok(status: u16, body: &[u8]) -> Result<(), DecodeError> {
    if status != 200 {
        return Err(malformed(format!(
            "province answered http status {status}: {}",
            error_message(body)
        )));
    }
    Ok(())
}

/// An error with the province's message unless an answer's `code` is 200; `what` names what
/// it refused (`the request`).
pub(crate) fn code_ok(code: &Code, msg: Option<&str>, what: &str) -> Result<(), DecodeError> {
    if code.as_str() != "200" {
        return Err(malformed(format!(
            "province refused {what} with code {code}: {}",
            msg.unwrap_or("no message")
        )));
    }
    Ok(())
}

/// The province's message in an error answer: `msg` (or `message`) and `code` when the body
/// is JSON, otherwise the start of the body.
fn error_message(body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorAnswer>(body) {
        Ok(ErrorAnswer {
            code,
            msg: Some(msg),
        }) => match code {
            Some(code) => format!("code {code}: {msg}"),
            None => msg,
        },
        _ => quote(body),
    }
}

pub(crate) fn quote(body: &[u8]) -> String {
    if body.is_empty() {
        return "empty body".to_owned();
    }
    let text = String::from_utf8_lossy(body);
    let mut quoted: String = text.chars().take(QUOTE_LIMIT).collect();
    if text.chars().nth(QUOTE_LIMIT).is_some() {
        quoted.push('…');
    }
    format!("body {quoted:?}")
}
