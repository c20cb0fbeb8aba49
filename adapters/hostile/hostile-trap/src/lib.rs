//! Hostile test guest: `decode` traps (a Rust panic, which aborts as wasm `unreachable`), to
//! prove that the host turns a trap into an error and keeps serving.

use hcp_adapter_sdk::types::{DecodeError, Inbound, Info, Sample};

struct HostileTrap;

impl hcp_adapter_sdk::inbound::Guest for HostileTrap {
    fn describe() -> Info {
        hostile_common::info("hostile-trap", "decode panics, which traps")
    }

    fn samples() -> Vec<Sample> {
        Vec::new()
    }

    fn decode(_content_type: String, _payload: Vec<u8>) -> Result<Vec<Inbound>, DecodeError> {
        panic!("hostile-trap: decode panics on purpose")
    }
}

hcp_adapter_sdk::export_inbound!(HostileTrap);
