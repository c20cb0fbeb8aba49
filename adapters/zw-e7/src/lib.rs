//! Adapter for the ZW-E7 hall rating device (正微科技, fictional): decodes its JSON uploads
//! (`application/json`, see README.md) into ratings and heartbeats.

mod message;
#[cfg(test)]
mod tests;

use hcp_adapter_sdk::types::{AdapterKind, DecodeError, Inbound, Info, Sample};
use hcp_adapter_sdk::{media_type_is, sample, unsupported_content_type};

pub const CONTENT_TYPE: &str = "application/json";

/// The adapter as its interface exposes it: the host calls it in WASM, the fuzzing harness
/// (`fuzz/`) natively.
pub struct ZwE7;

impl hcp_adapter_sdk::inbound::Guest for ZwE7 {
    fn describe() -> Info {
        Info {
            id: "zw-e7".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            vendor: "正微科技 (fictional)".to_owned(),
            kind: AdapterKind::HallDevice,
            models: vec!["ZW-E7".to_owned()],
            abi: hcp_adapter_sdk::ABI.to_owned(),
            description: "ZW-E7 window rating device: JSON uploads of ratings (score \
                          1=非常满意 … 5=非常不满意) and device status"
                .to_owned(),
        }
    }

    fn samples() -> Vec<Sample> {
        SAMPLES
            .iter()
            .map(|(_, payload)| sample(CONTENT_TYPE, payload))
            .collect()
    }

    fn decode(content_type: String, payload: Vec<u8>) -> Result<Vec<Inbound>, DecodeError> {
        decode(&content_type, &payload)
    }
}

hcp_adapter_sdk::export_inbound!(ZwE7);

/// The sample uploads shipped in `samples/`, by file name.
const SAMPLES: [(&str, &[u8]); 3] = [
    (
        "ratings-and-status.json",
        include_bytes!("../samples/ratings-and-status.json"),
    ),
    (
        "bad-review.json",
        include_bytes!("../samples/bad-review.json"),
    ),
    (
        "status-only.json",
        include_bytes!("../samples/status-only.json"),
    ),
];

fn decode(content_type: &str, payload: &[u8]) -> Result<Vec<Inbound>, DecodeError> {
    if !media_type_is(content_type, CONTENT_TYPE) {
        return Err(unsupported_content_type(content_type, &[CONTENT_TYPE]));
    }
    message::decode_message(payload)
}
