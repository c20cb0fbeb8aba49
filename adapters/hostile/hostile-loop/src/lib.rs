//! Hostile test guest: `decode` never returns, to prove that the host's fuel or epoch limit
//! stops a runaway adapter.

use hcp_adapter_sdk::types::{DecodeError, Inbound, Info, Sample};

struct HostileLoop;

impl hcp_adapter_sdk::inbound::Guest for HostileLoop {
    fn describe() -> Info {
        hostile_common::info("hostile-loop", "decode loops forever")
    }

    fn samples() -> Vec<Sample> {
        Vec::new()
    }

    fn decode(_content_type: String, payload: Vec<u8>) -> Result<Vec<Inbound>, DecodeError> {
        // black_box keeps the optimiser from proving anything about the loop.
        let mut counter = payload.len() as u64;
        loop {
            counter = std::hint::black_box(
                counter
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1),
            );
        }
    }
}

hcp_adapter_sdk::export_inbound!(HostileLoop);
