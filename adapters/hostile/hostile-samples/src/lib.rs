//! Hostile test guest: ships a sample that its own `decode` refuses (`malformed`), to prove that
//! the platform refuses an adapter failing its own samples at installation.

use hcp_adapter_sdk::types::{DecodeError, Inbound, Info, Sample};
use hcp_adapter_sdk::{malformed, sample};

struct HostileSamples;

impl hcp_adapter_sdk::inbound::Guest for HostileSamples {
    fn describe() -> Info {
        hostile_common::info("hostile-samples", "decode refuses its own samples")
    }

    fn samples() -> Vec<Sample> {
        vec![sample(
            "application/json",
            br#"{"deviceSn":"D1","records":[]}"#,
        )]
    }

    fn decode(_content_type: String, payload: Vec<u8>) -> Result<Vec<Inbound>, DecodeError> {
        Err(malformed(format!(
            "hostile-samples refuses every payload ({} bytes), its own samples included",
            payload.len()
        )))
    }
}

hcp_adapter_sdk::export_inbound!(HostileSamples);
