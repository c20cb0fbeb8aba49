//! Adapter for the 一体化平台 (integrated government-service platform) service-event feed:
//! decodes its JSON deliveries (`application/json`, provincial field names, see README.md)
//! into service events, the denominator of 评价率.

mod feed;
#[cfg(test)]
mod tests;

use hcp_adapter_sdk::types::{AdapterKind, DecodeError, Inbound, Info, Sample};
use hcp_adapter_sdk::{media_type_is, sample, unsupported_content_type};

pub const CONTENT_TYPE: &str = "application/json";

/// The adapter as its interface exposes it: the host calls it in WASM, the fuzzing harness
/// (`fuzz/`) natively.
pub struct YthFeed;

impl hcp_adapter_sdk::inbound::Guest for YthFeed {
    fn describe() -> Info {
        Info {
            id: "yth-feed".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            vendor: "Haochaping reference adapters".to_owned(),
            kind: AdapterKind::BusinessSystem,
            models: vec!["一体化平台".to_owned()],
            abi: hcp_adapter_sdk::ABI.to_owned(),
            description: "一体化平台 service-event feed: cases and their service acts with the \
                          provincial field names (projectNo, proStatus, serviceNumber, userProp …)"
                .to_owned(),
        }
    }

    fn samples() -> Vec<Sample> {
        vec![sample(CONTENT_TYPE, SAMPLE)]
    }

    fn decode(content_type: String, payload: Vec<u8>) -> Result<Vec<Inbound>, DecodeError> {
        decode(&content_type, &payload)
    }
}

hcp_adapter_sdk::export_inbound!(YthFeed);

const SAMPLE: &[u8] = include_bytes!("../samples/service-events.json");

fn decode(content_type: &str, payload: &[u8]) -> Result<Vec<Inbound>, DecodeError> {
    if !media_type_is(content_type, CONTENT_TYPE) {
        return Err(unsupported_content_type(content_type, &[CONTENT_TYPE]));
    }
    feed::decode_feed(payload)
}
