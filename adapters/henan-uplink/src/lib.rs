//! Uplink adapter for the 河南 provincial 好差评 platform (contract 1.1.0): encodes batches of
//! ratings and rectifications as JSON requests with the provincial field names, reads the
//! province's answers, and asks for and reads its daily counts (see README.md).

mod ack;
mod counts;
mod request;
#[cfg(test)]
mod tests;

use hcp_adapter_sdk::v1_1::sample;
use hcp_adapter_sdk::v1_1::types::{AdapterKind, DecodeError, Info, Sample};
use hcp_adapter_sdk::v1_1::uplink::{Ack, DayCount, RecordBatch, UplinkBatch, UplinkRequest};

/// The content type of the province's answers (the samples are answers).
pub const ANSWER_CONTENT_TYPE: &str = "application/json";

/// The adapter as its interface exposes it: the host calls it in WASM, the fuzzing harness
/// (`fuzz/`) natively.
pub struct HenanUplink;

impl hcp_adapter_sdk::v1_1::uplink::Guest for HenanUplink {
    fn describe() -> Info {
        Info {
            id: "henan-uplink".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            vendor: "Haochaping reference adapters".to_owned(),
            kind: AdapterKind::Uplink,
            models: vec!["河南省政务服务好差评系统".to_owned()],
            abi: hcp_adapter_sdk::v1_1::ABI.to_owned(),
            description: "河南 provincial 好差评 uplink: JSON batches of ratings and \
                          rectifications with the provincial field names (satisfaction \
                          1=非常不满意 … 5=非常满意, national pf codes, defaultEval for \
                          系统默认评价), daily counts for reconciliation"
                .to_owned(),
        }
    }

    fn samples() -> Vec<Sample> {
        SAMPLES
            .iter()
            .map(|(_, body)| sample(ANSWER_CONTENT_TYPE, body))
            .collect()
    }

    fn encode(batch: UplinkBatch) -> Result<UplinkRequest, String> {
        request::encode_batch(&batch)
    }

    fn parse_ack(status: u16, body: Vec<u8>) -> Result<Ack, DecodeError> {
        ack::parse_answer(status, &body)
    }

    fn encode_records(batch: RecordBatch) -> Result<UplinkRequest, String> {
        request::encode_records(&batch)
    }

    fn count_query(day: String) -> Result<UplinkRequest, String> {
        counts::query(&day)
    }

    fn parse_counts(status: u16, body: Vec<u8>) -> Result<Vec<DayCount>, DecodeError> {
        counts::parse_answer(status, &body)
    }
}

hcp_adapter_sdk::export_uplink_v1_1!(HenanUplink);

/// Answers of the province shipped in `samples/`, by file name.
const SAMPLES: [(&str, &[u8]); 2] = [
    (
        "ack-all-accepted.json",
        include_bytes!("../samples/ack-all-accepted.json"),
    ),
    (
        "ack-partly-refused.json",
        include_bytes!("../samples/ack-partly-refused.json"),
    ),
];
