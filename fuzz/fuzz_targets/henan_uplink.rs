//! The 河南 uplink adapter's readers of the province's answers (a batch's acknowledgement, a
//! day's counts): any status and body is read or refused, never a panic.
#![no_main]

use hcp_adapter_sdk::v1_1::uplink::Guest as _;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&first, body)) = input.split_first() else {
        return;
    };
    let status = [200u16, 400, 409, 500][usize::from(first % 4)];
    if first & 0x80 == 0 {
        let _ = henan_uplink::HenanUplink::parse_ack(status, body.to_vec());
    } else {
        let _ = henan_uplink::HenanUplink::parse_counts(status, body.to_vec());
    }
});
