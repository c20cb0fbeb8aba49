//! The application's error type: what a use case fails with, whoever called it.

use hcp_core::store::StoreError;
use hcp_core::validate::Reason;

/// What a use case fails with. The transport maps each variant to its answer (HTTP: 4xx carry
/// their details, 5xx only "internal error" while the full error is logged).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// What was asked for existed and was erased (personal data past its retention, or erased
    /// at its subject's request).
    #[error("{0}")]
    Gone(String),
    /// The request conflicts with how the platform is set up or with its state.
    #[error("{0}")]
    Conflict(String),
    #[error("{}", .0.message)]
    Unprocessable(Reason),
    /// The route exists, but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The platform cannot take it now (an adapter failed, a commit failed, the commit queue is
    /// gone); nothing of the request was kept and the sender should retry after
    /// [`RETRY_AFTER_SECONDS`].
    #[error("{}", .0.message)]
    Unavailable(Reason),
    /// Over an abuse limit: the sender may try again after `retry_after` seconds.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// Parameters each well-formed that do not make sense together (a range that ends before it
    /// starts or spans too long): 422, since no schema of a single parameter can say so.
    pub fn invalid_range(message: impl Into<String>) -> AppError {
        AppError::Unprocessable(Reason {
            code: "invalid_range".into(),
            message: message.into(),
        })
    }

    /// A field of the request that is not acceptable: 422 `invalid_field`, naming the field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> AppError {
        AppError::Unprocessable(Reason {
            code: "invalid_field".into(),
            message: format!("{field}: {}", message.into()),
        })
    }
}

/// What a 503 asks the sender to wait before retrying, in seconds (`Retry-After`): a failed
/// group commit or a restarting committer is over within a flush or two.
pub const RETRY_AFTER_SECONDS: u64 = 1;

impl From<StoreError> for AppError {
    /// A failed commit (the batch holding the command failed, nothing of it was kept) or a
    /// committer that is gone can be retried: 503. Anything else (a record that does not
    /// decode, a storage error on a read) is a bug or a broken disk: 500.
    fn from(error: StoreError) -> AppError {
        match error {
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "the disk refuses writes; the sender is asked to retry");
                AppError::Unavailable(Reason {
                    code: "storage_unavailable".into(),
                    message: format!(
                        "the platform's disk refuses writes now ({reason}); nothing of this was kept, retry later"
                    ),
                })
            }
            StoreError::Batch(_)
            | StoreError::Closed
            | StoreError::Journal(hcp_core::store::JournalError::Unavailable(_)) => {
                tracing::warn!(%error, "commit failed; the sender is asked to retry");
                AppError::Unavailable(Reason {
                    code: "unavailable".into(),
                    message: "the platform could not record this now; nothing of it was kept, retry later"
                        .into(),
                })
            }
            error => AppError::Internal(error.to_string()),
        }
    }
}

impl From<hcp_core::pii::PiiError> for AppError {
    /// An erased value: 410. A key ring that cannot be written or reached (a disk, the
    /// cluster's bucket) can be retried: 503. A value that does not open: 500.
    fn from(error: hcp_core::pii::PiiError) -> AppError {
        use hcp_core::pii::PiiError;
        match error {
            PiiError::Erased { .. } => {
                AppError::Gone("该个人信息已删除（超过保存期限或本人申请删除）".into())
            }
            PiiError::Ring(_) => {
                tracing::warn!(%error, "the key ring failed; the sender is asked to retry");
                AppError::Unavailable(Reason {
                    code: "unavailable".into(),
                    message: "the platform could not seal personal data now; nothing was kept, retry later"
                        .into(),
                })
            }
            error => AppError::Internal(error.to_string()),
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(error: anyhow::Error) -> AppError {
        AppError::Internal(format!("{error:#}"))
    }
}
