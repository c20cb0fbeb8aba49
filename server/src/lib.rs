//! The `hcp` server: configuration, wiring, the HTTP API and the demo city. The binary in
//! `main.rs` only parses the command line and calls into here.

pub mod calendar_alarm;
pub mod config;
pub mod coverage;
pub mod demo;
pub mod demo_desk;
pub mod demo_history;
pub mod http;
pub mod outreach;
pub mod plugins;
pub mod province_sim;
pub mod reports;
pub mod rules;
pub mod run;
pub mod state;
pub mod sweep;
pub mod uplink;
pub mod watch;
