//! What the hostile test guests share: a normal-looking `describe()` record, so that each guest
//! misbehaves only in the one way its name says.

use hcp_adapter_sdk::types::{AdapterKind, Info};

/// Vendor name of every hostile guest.
pub const VENDOR: &str = "Haochaping platform tests";

/// The `describe()` record of the hostile guest `id`.
pub fn info(id: &str, description: &str) -> Info {
    Info {
        id: id.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        vendor: VENDOR.to_owned(),
        kind: AdapterKind::HallDevice,
        models: vec![format!("{id} (test guest)")],
        abi: hcp_adapter_sdk::ABI.to_owned(),
        description: description.to_owned(),
    }
}
