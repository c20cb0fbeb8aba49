//! Message delivery: hands the queued messages that are due (tracking links, invitations,
//! call-back SMS) to the SMS gateway, retrying failures with a growing delay. The sweep runs it.

use chrono::{DateTime, Utc};
use hcp_core::outreach::{DeliveryAttempt, Message, MessageState};
use hcp_core::pii::PiiKind;
use hcp_core::store::{Command, LoopCommand, Outcome, StoreError};

use crate::app::Platform;
use crate::app::config::MessagesConfig;
use crate::app::outbound::{self, AnswerError};
use crate::app::redact;
use crate::app::work::SweepReport;
use crate::workers::Tenure;

/// Calls in a row the gateway leaves unanswered before a sweep stops delivering: the rest wait
/// for the next sweep instead of each waiting out the time limit while the sweep holds its lock.
const GATEWAY_SILENT_LIMIT: usize = 3;

/// Hands the queued messages that are due to the SMS gateway, while `tenure` lets this process
/// keep the sweep for longer than a call may take. Each answer is recorded before the next
/// message goes, so a process that dies leaves unrecorded at most the one message in flight,
/// which the next sweep (here or on the node that takes the lease over) sends again under the
/// same id: the gateway's idempotency key. Blocking.
pub fn deliver(
    platform: &Platform,
    as_of: DateTime<Utc>,
    report: &mut SweepReport,
    tenure: &Tenure,
) -> anyhow::Result<()> {
    let config = &platform.messages;
    if config.gateway_url.trim().is_empty() {
        // No gateway: messages are recorded and stay queued until one is configured.
        return Ok(());
    }
    let due: Vec<Message> = platform
        .store
        .pending_messages()?
        .into_iter()
        .filter(|message| {
            message.state == MessageState::Queued
                && message.next_at.is_some_and(|next| next <= as_of)
        })
        .collect();
    if due.is_empty() {
        return Ok(());
    }
    let gateway = Gateway::new(config)?;
    let call = std::time::Duration::from_millis(config.timeout_ms);
    let max_attempts = usize::try_from(config.max_attempts.max(1)).unwrap_or(usize::MAX);
    let total = due.len();
    let mut silent = 0;
    for (index, message) in due.into_iter().enumerate() {
        if !tenure.allows(call) {
            report.fail(
                "",
                format!(
                    "this node's lease on the sweep ends within a call to the gateway; messages left for its next holder: {}",
                    total - index
                ),
            );
            break;
        }
        let (attempt, next_at, answered) =
            attempt(platform, &gateway, &message, as_of, max_attempts, report);
        silent = if answered { 0 } else { silent + 1 };
        let command = Command::Loop(LoopCommand::MessageAttempt {
            message_id: message.id,
            attempt,
            next_at,
        });
        record(platform, command, report, tenure)?;
        if silent >= GATEWAY_SILENT_LIMIT && index + 1 < total {
            report.fail(
                "",
                format!(
                    "the SMS gateway did not answer {silent} calls in a row; messages left for the next sweep: {}",
                    total - index - 1
                ),
            );
            break;
        }
    }
    Ok(())
}

/// Commits that may fail before a message's answer is given up as unrecordable.
const RECORD_TRIES: u32 = 50;

/// Records the answer to one message before the next goes. A commit that fails (the shared
/// log electing a leader, a full disk) is tried again every 200 ms while this process keeps
/// the sweep, so the message accepted is not sent again; only when the lease ends first (or
/// after [`RECORD_TRIES`]) is it left to be sent again under its id.
fn record(
    platform: &Platform,
    command: Command,
    report: &mut SweepReport,
    tenure: &Tenure,
) -> anyhow::Result<()> {
    let mut tries = 0;
    loop {
        tries += 1;
        match platform.store.submit(vec![command.clone()]) {
            Ok(outcomes) => {
                for outcome in outcomes {
                    if let Outcome::Rejected(error) = outcome {
                        report.fail("", error);
                    }
                }
                return Ok(());
            }
            Err(StoreError::Batch(_) | StoreError::Journal(_))
                if tries < RECORD_TRIES && tenure.allows(std::time::Duration::ZERO) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// Why a message to an erased number was not sent.
pub const ERASED_RECIPIENT: &str =
    "not sent: the recipient's number was erased (retention, or their erasure request)";

/// One call to the gateway for `message`: the attempt to record, the time of the next one
/// (`None`: sent, or given up), and whether the gateway answered at all.
fn attempt(
    platform: &Platform,
    gateway: &Gateway,
    message: &Message,
    as_of: DateTime<Utc>,
    max_attempts: usize,
    report: &mut SweepReport,
) -> (DeliveryAttempt, Option<DateTime<Utc>>, bool) {
    let result = match platform.store.pii().open_field(PiiKind::Phone, &message.to) {
        Ok(phone) => gateway.send(message, &phone),
        // The person's number was erased (retention, or their request): the message is not to
        // be sent, which is no failure of delivery to alert on.
        Err(hcp_core::pii::PiiError::Erased { .. }) => {
            tracing::info!(
                message = message.id,
                "not sent: the recipient's number was erased"
            );
            let attempt = DeliveryAttempt {
                at: as_of,
                ok: false,
                gateway_id: None,
                error: Some(ERASED_RECIPIENT.into()),
            };
            return (attempt, None, true);
        }
        Err(error) => Err(Failure {
            error: format!("the recipient cannot be opened: {error}"),
            permanent: true,
            answered: true,
        }),
    };
    match result {
        Ok(gateway_id) => {
            report.messages_sent += 1;
            let attempt = DeliveryAttempt {
                at: as_of,
                ok: true,
                gateway_id,
                error: None,
            };
            (attempt, None, true)
        }
        Err(failure) => {
            report.messages_failed += 1;
            let failures = message.attempts.len() + 1;
            let next_at = (!failure.permanent && failures < max_attempts)
                .then(|| as_of + retry_delay(platform.messages.retry_secs, failures));
            if next_at.is_none() {
                report.fail(
                    format!("message {}", message.id),
                    format!("given up after {failures} attempts: {}", failure.error),
                );
            }
            let attempt = DeliveryAttempt {
                at: as_of,
                ok: false,
                gateway_id: None,
                error: Some(failure.error),
            };
            (attempt, next_at, failure.answered)
        }
    }
}

/// The delay before the next attempt after `failures` failed ones (1, 2, 3 …): `retry_secs`,
/// doubling on each further failure.
pub fn retry_delay(retry_secs: u64, failures: usize) -> chrono::Duration {
    let doublings = u32::try_from(failures.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(20);
    let secs = retry_secs.saturating_mul(1u64 << doublings);
    chrono::Duration::seconds(
        i64::try_from(secs)
            .unwrap_or(i64::MAX / 1000)
            .min(i64::MAX / 1000),
    )
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error: String,
    /// Retrying cannot help.
    pub permanent: bool,
    /// The gateway answered (with an error); `false` when it could not be reached in time.
    pub answered: bool,
}

/// The SMS gateway: a URL that takes one message per POST (`https://` with certificate checks,
/// or `http://`; see [`outbound`]).
pub struct Gateway {
    client: reqwest::blocking::Client,
    url: String,
    token: String,
}

impl Gateway {
    /// A client with the configured time limit and CA file. Blocking; not on an async worker.
    pub fn new(config: &MessagesConfig) -> anyhow::Result<Gateway> {
        let client = outbound::client(
            "the SMS gateway",
            config.timeout_ms,
            config.ca_file.as_deref(),
        )?;
        Ok(Gateway {
            client,
            url: config.gateway_url.trim().to_string(),
            token: config.gateway_token.clone(),
        })
    }

    /// POSTs `{"id", "channel", "to", "text", "purpose"}`. A 2xx answer accepts the message;
    /// the gateway's id is read from an `id` or `message_id` field of a JSON answer (of at most
    /// [`outbound::GATEWAY_ANSWER_BYTES`]). What a failure keeps of the gateway's answer is
    /// capped and redacted: it may quote the number.
    pub fn send(&self, message: &Message, phone: &str) -> Result<Option<String>, Failure> {
        let body = serde_json::json!({
            "id": message.id,
            "channel": message.channel,
            "to": phone,
            "text": message.text,
            "purpose": message.purpose,
        });
        let mut request = self.client.post(&self.url).json(&body);
        if !self.token.is_empty() {
            request = request.bearer_auth(&self.token);
        }
        let response = request.send().map_err(|error| Failure {
            error: outbound::failure(&error),
            permanent: false,
            answered: false,
        })?;
        let status = response.status();
        let answer = outbound::read_answer(response, outbound::GATEWAY_ANSWER_BYTES);
        if status.is_success() {
            // Accepted; an answer too long to read only leaves the gateway's id unknown.
            let body = answer.map(|(_, body)| body).unwrap_or_default();
            return Ok(gateway_id(&String::from_utf8_lossy(&body)));
        }
        let error = match answer {
            Ok((_, body)) => format!(
                "the gateway answered {status}: {}",
                redact::excerpt(&body, outbound::ERROR_EXCERPT_CHARS)
            ),
            Err(error @ AnswerError::Redirect { .. }) => format!("the gateway {error}"),
            Err(error) => format!("the gateway answered {status}; {error}"),
        };
        Err(Failure {
            error,
            permanent: false,
            answered: true,
        })
    }
}

/// The gateway's id of an accepted message, from a JSON answer's `id` or `message_id`.
fn gateway_id(answer: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(answer).ok()?;
    ["id", "message_id"]
        .into_iter()
        .find_map(|field| match value.get(field)? {
            serde_json::Value::String(id) if !id.is_empty() => Some(id.clone()),
            serde_json::Value::Number(id) => Some(id.to_string()),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use hcp_core::outreach::{MessageChannel, MessagePurpose};

    use super::*;

    #[test]
    fn retries_double_from_the_configured_delay() {
        let delays: Vec<i64> = (1..=5)
            .map(|failures| retry_delay(60, failures).num_seconds())
            .collect();
        assert_eq!(delays, [60, 120, 240, 480, 960]);
        assert!(retry_delay(u64::MAX, 99).num_seconds() > 0);
    }

    #[test]
    fn gateway_ids_come_from_json_answers() {
        assert_eq!(gateway_id(r#"{"id":"sms-1"}"#).as_deref(), Some("sms-1"));
        assert_eq!(gateway_id(r#"{"message_id":42}"#).as_deref(), Some("42"));
        assert_eq!(gateway_id(r#"{"ok":true}"#), None);
        assert_eq!(gateway_id("accepted"), None);
    }

    /// One answer of the test gateway: status line and body.
    type Answer = (&'static str, &'static str);

    /// A gateway on a local socket that answers each request with the next answer (the last one
    /// repeats; `None` never answers) and keeps what it was sent.
    fn test_gateway(answers: Vec<Option<Answer>>) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("{error}"));
        let url = format!(
            "http://{}/sms",
            listener
                .local_addr()
                .unwrap_or_else(|error| panic!("{error}"))
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for (index, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { return };
                let mut reader =
                    BufReader::new(stream.try_clone().unwrap_or_else(|e| panic!("{e}")));
                let mut head = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                if let Ok(mut seen) = kept.lock() {
                    seen.push(format!("{head}\n{}", String::from_utf8_lossy(&body)));
                }
                match answers.get(index).or(answers.last()).cloned().flatten() {
                    Some((status, body)) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    None => held.push(stream),
                }
            }
        });
        (url, seen)
    }

    fn message() -> Message {
        Message {
            id: 77,
            channel: MessageChannel::Sms,
            purpose: MessagePurpose::Invitation,
            subject: "service:P-1/1".into(),
            // The gateway is handed the number opened; the sealed form is not read here.
            to: hcp_core::model::SealedField {
                sealed: "2:a202612:-:not-opened-here".into(),
                masked: "139****5678".into(),
            },
            to_masked: "139****5678".into(),
            text: "【政务服务好差评】……".into(),
            queued_at: Utc::now(),
            attempts: Vec::new(),
            state: MessageState::Queued,
            next_at: None,
        }
    }

    fn config(url: &str, timeout_ms: u64) -> MessagesConfig {
        MessagesConfig {
            gateway_url: url.into(),
            gateway_token: "secret-token".into(),
            timeout_ms,
            ..MessagesConfig::default()
        }
    }

    #[test]
    fn gateway_accepts_refuses_and_times_out() {
        let (url, seen) = test_gateway(vec![
            Some(("200 OK", r#"{"id":"gw-9"}"#)),
            Some(("500 Internal Server Error", "down")),
        ]);
        let gateway = Gateway::new(&config(&url, 5000)).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            gateway.send(&message(), "13912345678"),
            Ok(Some("gw-9".to_string()))
        );
        let failure = gateway.send(&message(), "13912345678");
        assert!(
            matches!(&failure, Err(Failure { error, permanent: false, answered: true }) if error.contains("500")),
            "{failure:?}"
        );
        let seen = seen.lock().map(|seen| seen.clone()).unwrap_or_default();
        assert_eq!(seen.len(), 2);
        let first = &seen[0];
        assert!(first.starts_with("POST /sms "), "{first}");
        assert!(
            first
                .to_ascii_lowercase()
                .contains("authorization: bearer secret-token"),
            "{first}"
        );
        let body: serde_json::Value = first
            .split_once("\n\n")
            .and_then(|(_, body)| serde_json::from_str(body).ok())
            .unwrap_or_default();
        assert_eq!(
            body,
            serde_json::json!({"id": 77, "channel": "sms", "to": "13912345678",
                "text": "【政务服务好差评】……", "purpose": "invitation"})
        );

        let (silent, _) = test_gateway(vec![None]);
        let gateway = Gateway::new(&config(&silent, 200)).unwrap_or_else(|error| panic!("{error}"));
        let failure = gateway.send(&message(), "13912345678");
        assert!(
            matches!(
                &failure,
                Err(Failure {
                    permanent: false,
                    answered: false,
                    ..
                })
            ),
            "{failure:?}"
        );
    }
}
