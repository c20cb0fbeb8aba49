//! Haochaping engine: the domain model of 政务服务"好差评", the working-day calendar, the event
//! log and its sled projections. It never knows about HTTP.

pub mod analysis;
pub mod assessment;
pub mod auth;
pub mod calendar;
pub mod clock;
pub mod clusters;
pub mod event;
pub mod hooks;
pub mod keyring;
pub mod metrics;
pub mod model;
pub mod outreach;
pub mod pii;
pub mod policy;
pub mod store;
pub mod uplink;
pub mod validate;
pub mod workflow;
