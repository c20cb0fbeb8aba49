//! A canonical ingest item (`RatingInput`, as a source posts it in JSON): read and checked, or
//! refused with a reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(input) = serde_json::from_slice::<hcp_core::model::RatingInput>(body) {
        let now = chrono_now();
        let _ = hcp_core::validate::rating_shape(&input, now);
    }
});

/// A fixed instant, so that a crash replays.
fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_796_000_000, 0).unwrap_or_default()
}
