//! Adapter for the HX-PJ200 hall rating device (华信智能, fictional): decodes its binary frames
//! (`application/vnd.hx-pj200`, see README.md) into ratings and heartbeats.

mod frame;
#[cfg(test)]
mod tests;

use hcp_adapter_sdk::types::{AdapterKind, DecodeError, Inbound, Info, Sample};
use hcp_adapter_sdk::{media_type_is, sample, unsupported_content_type};

pub const CONTENT_TYPE: &str = "application/vnd.hx-pj200";

/// The adapter as its interface exposes it: the host calls it in WASM, the fuzzing harness
/// (`fuzz/`) natively.
pub struct HxPj200;

impl hcp_adapter_sdk::inbound::Guest for HxPj200 {
    fn describe() -> Info {
        Info {
            id: "hx-pj200".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            vendor: "华信智能 (fictional)".to_owned(),
            kind: AdapterKind::HallDevice,
            models: vec!["HX-PJ200".to_owned()],
            abi: hcp_adapter_sdk::ABI.to_owned(),
            description: "HX-PJ200 window rating device: binary frames (rating, heartbeat) \
                          with CRC-16/CCITT, several frames per upload"
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

hcp_adapter_sdk::export_inbound!(HxPj200);

/// The sample uploads shipped in `samples/`, by file name.
const SAMPLES: [(&str, &[u8]); 3] = [
    (
        "rating-very-satisfied.bin",
        include_bytes!("../samples/rating-very-satisfied.bin"),
    ),
    (
        "bad-review-real-name.bin",
        include_bytes!("../samples/bad-review-real-name.bin"),
    ),
    (
        "rating-and-heartbeat.bin",
        include_bytes!("../samples/rating-and-heartbeat.bin"),
    ),
];

fn decode(content_type: &str, payload: &[u8]) -> Result<Vec<Inbound>, DecodeError> {
    if !media_type_is(content_type, CONTENT_TYPE) {
        return Err(unsupported_content_type(content_type, &[CONTENT_TYPE]));
    }
    frame::decode_payload(payload)
}
