//! Hostile test guest: built against a copy of the contract renamed `haochaping:adapter@2.0.0`
//! (`wit/adapter.wit`), so its export names end in `@2.0.0`, and `describe` reports abi
//! `2.0.0`. The platform must refuse it at installation: it knows major version 1 only.

#[allow(unsafe_code, clippy::all)]
mod bindings {
    wit_bindgen::generate!({ world: "inbound", path: "wit" });
}

use bindings::exports::haochaping::adapter::inbound_adapter::Guest;
use bindings::exports::haochaping::adapter::types::{
    AdapterKind, DecodeError, Inbound, Info, Sample,
};

struct HostileAbi;

impl Guest for HostileAbi {
    fn describe() -> Info {
        Info {
            id: "hostile-abi".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            vendor: "Haochaping platform tests".to_owned(),
            kind: AdapterKind::HallDevice,
            models: vec!["hostile-abi (test guest)".to_owned()],
            abi: "2.0.0".to_owned(),
            description: "built against haochaping:adapter@2.0.0".to_owned(),
        }
    }

    fn samples() -> Vec<Sample> {
        Vec::new()
    }

    fn decode(_content_type: String, _payload: Vec<u8>) -> Result<Vec<Inbound>, DecodeError> {
        Ok(Vec::new())
    }
}

// As in the SDK: exports only on wasm32, where their names are valid.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod export {
    use super::HostileAbi;
    crate::bindings::export!(HostileAbi with_types_in crate::bindings);
}
#[cfg(not(target_arch = "wasm32"))]
const _: fn() -> Info = <HostileAbi as Guest>::describe;
