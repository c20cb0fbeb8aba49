//! The 一体化平台 feed adapter's decoder: any feed is decoded or refused, never a panic.
#![no_main]

use hcp_adapter_sdk::inbound::Guest as _;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    let _ = yth_feed::YthFeed::decode(yth_feed::CONTENT_TYPE.to_owned(), payload.to_vec());
});
