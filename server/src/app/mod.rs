//! The application layer: one module per use case, called the same way by the HTTP handlers,
//! the background workers and the command line. It knows the domain, the policies and the store;
//! it never knows about HTTP.

pub mod admin;
pub mod assessment;
pub mod backup;
pub mod calendar_alarm;
pub mod capabilities;
pub mod config;
pub mod contact;
pub mod coverage;
pub mod disclosure;
pub mod error;
pub mod import;
pub mod ingest;
pub mod limits;
pub mod ops;
pub mod orders;
pub mod outbound;
pub mod outreach;
pub mod platform;
pub mod plugins;
pub mod posters;
pub mod privacy;
pub mod problems;
pub mod ratings;
pub mod redact;
pub mod reports;
pub mod rules;
pub mod scope;
pub mod sessions;
pub mod telemetry;
pub mod tokens;
pub mod uplink;
pub mod watch;
pub mod window_qr;
pub mod work;

pub use error::AppError;
pub use platform::Platform;
