//! Hostile test guest: built for `wasm32-wasip2` with std, and `decode` reads `/etc/passwd`, so
//! the component imports `wasi:filesystem` (and the rest of WASI that std pulls in). Its
//! `describe` and `samples` are normal: the platform must refuse it at installation for its
//! imports alone, before running anything.

use hcp_adapter_sdk::malformed;
use hcp_adapter_sdk::types::{DecodeError, Inbound, Info, Sample};

struct HostileImport;

impl hcp_adapter_sdk::inbound::Guest for HostileImport {
    fn describe() -> Info {
        hostile_common::info("hostile-import", "decode reads /etc/passwd through WASI")
    }

    fn samples() -> Vec<Sample> {
        Vec::new()
    }

    fn decode(_content_type: String, _payload: Vec<u8>) -> Result<Vec<Inbound>, DecodeError> {
        match std::fs::read("/etc/passwd") {
            Ok(bytes) => Err(malformed(format!(
                "read {} bytes of /etc/passwd",
                bytes.len()
            ))),
            Err(error) => Err(malformed(format!("cannot read /etc/passwd: {error}"))),
        }
    }
}

hcp_adapter_sdk::export_inbound!(HostileImport);
