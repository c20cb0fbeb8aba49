//! Hostile test guest: `decode` keeps allocating 64 MiB chunks (and writes to them, so the pages
//! are really used) until the allocator fails, to prove that the host's memory limit holds.
//! When growth is refused, the allocation error aborts, which traps.

use hcp_adapter_sdk::types::{DecodeError, Inbound, Info, Sample};

const CHUNK: usize = 64 << 20;

struct HostileMemory;

impl hcp_adapter_sdk::inbound::Guest for HostileMemory {
    fn describe() -> Info {
        hostile_common::info(
            "hostile-memory",
            "decode allocates 64 MiB chunks without end",
        )
    }

    fn samples() -> Vec<Sample> {
        Vec::new()
    }

    fn decode(_content_type: String, _payload: Vec<u8>) -> Result<Vec<Inbound>, DecodeError> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![0xA5; CHUNK]);
            std::hint::black_box(&hoard);
        }
    }
}

hcp_adapter_sdk::export_inbound!(HostileMemory);
