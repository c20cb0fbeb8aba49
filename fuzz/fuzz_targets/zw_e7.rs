//! The ZW-E7 device adapter's JSON decoder: any upload is decoded or refused, never a panic.
#![no_main]

use hcp_adapter_sdk::inbound::Guest as _;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    let _ = zw_e7::ZwE7::decode(zw_e7::CONTENT_TYPE.to_owned(), payload.to_vec());
});
