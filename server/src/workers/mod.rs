//! Background work: the sweep (deadlines, call-backs, invitations, reports, the calendar alarm)
//! and the uplink shipper. Each worker has one owner, the loop spawned here; it calls the
//! application layer only.

pub mod sweep;
