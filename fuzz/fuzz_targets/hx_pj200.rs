//! The HX-PJ200 device adapter's frame decoder: any upload is decoded or refused, never a panic.
#![no_main]

use hcp_adapter_sdk::inbound::Guest as _;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    let _ = hx_pj200::HxPj200::decode(hx_pj200::CONTENT_TYPE.to_owned(), payload.to_vec());
});
