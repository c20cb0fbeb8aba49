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
    /// The request conflicts with how the platform is set up or with its state.
    #[error("{0}")]
    Conflict(String),
    #[error("{}", .0.message)]
    Unprocessable(Reason),
    /// The platform cannot take it now (an adapter failed); the sender should retry later.
    #[error("{}", .0.message)]
    Unavailable(Reason),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> AppError {
        AppError::Internal(error.to_string())
    }
}

impl From<anyhow::Error> for AppError {
    fn from(error: anyhow::Error) -> AppError {
        AppError::Internal(format!("{error:#}"))
    }
}
