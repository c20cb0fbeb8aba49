//! The platform's calls out: the SMS gateway and the provincial uplink. One client shape for
//! both: `https://` with certificate checks (rustls; the system's trust store, plus the CA
//! certificates of a configured file for a private or government CA), plain `http://` where an
//! operator configured it, never a redirect followed (a 3xx is a failure that names where it
//! pointed), a time limit on every call, and answers read up to a cap, so that a hostile or
//! broken peer can neither steer the platform elsewhere nor fill its memory.

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use crate::app::redact;

/// Most bytes of an SMS gateway's answer read (it only needs to say an id).
pub const GATEWAY_ANSWER_BYTES: usize = 64 * 1024;

/// Most bytes of a provincial answer read: an acknowledgement lists every record of a batch (up
/// to 5000), well within the uplink adapter's own input limit.
pub const UPLINK_ANSWER_BYTES: usize = 1024 * 1024;

/// Characters of a peer's error answer kept in a record or a log line, redacted.
pub const ERROR_EXCERPT_CHARS: usize = 200;

/// The CA certificates of a PEM file, checked: at least one, each one parsing.
pub fn load_ca(path: &Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("reading the CA certificates {}", path.display()))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .with_context(|| format!("{} holds no readable PEM certificates", path.display()))?;
    anyhow::ensure!(
        !certificates.is_empty(),
        "{} holds no PEM certificate",
        path.display()
    );
    Ok(certificates)
}

/// A blocking client for `what` (named in errors): rustls, no redirects, `timeout_ms` per call,
/// the CA certificates of `ca_file` trusted beside the system's. Blocking; not on an async
/// worker.
pub fn client(
    what: &str,
    timeout_ms: u64,
    ca_file: Option<&Path>,
) -> anyhow::Result<reqwest::blocking::Client> {
    let timeout = Duration::from_millis(timeout_ms.max(1));
    let mut builder = reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout);
    if let Some(path) = ca_file {
        for certificate in load_ca(path)? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder
        .build()
        .with_context(|| format!("building the HTTP client of {what}"))
}

/// Why an answer was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// A redirect, never followed; where it pointed.
    Redirect { status: u16, location: String },
    /// Longer than the cap.
    TooLarge { limit: usize },
    /// The connection failed while the body was read.
    Read(String),
}

impl std::fmt::Display for AnswerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnswerError::Redirect { status, location } => write!(
                f,
                "answered {status} pointing to {location}: redirects are not followed (configure the final URL)"
            ),
            AnswerError::TooLarge { limit } => {
                write!(f, "the answer is longer than {limit} bytes: not read")
            }
            AnswerError::Read(error) => write!(f, "the answer could not be read: {error}"),
        }
    }
}

/// The status and body of an answer, the body read up to `limit` bytes; a redirect or a longer
/// body is an error.
pub fn read_answer(
    response: reqwest::blocking::Response,
    limit: usize,
) -> Result<(u16, Vec<u8>), AnswerError> {
    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(|location| redact::excerpt(location.as_bytes(), ERROR_EXCERPT_CHARS))
            .unwrap_or_else(|| "nowhere".into());
        return Err(AnswerError::Redirect {
            status: status.as_u16(),
            location,
        });
    }
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(AnswerError::TooLarge { limit });
    }
    let mut body = Vec::new();
    response
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|error| AnswerError::Read(failure(&error)))?;
    if body.len() > limit {
        return Err(AnswerError::TooLarge { limit });
    }
    Ok((status.as_u16(), body))
}

/// An error with its causes, redacted: what a failed call leaves in a record or a log line.
pub fn failure(error: &dyn std::error::Error) -> String {
    redact::redact(&crate::app::outreach::error_chain(error))
}
