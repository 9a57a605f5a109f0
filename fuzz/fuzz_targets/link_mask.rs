//! Fuzzes the masking of raw link bytes for transcripts (generic, and ZVT over TCP and
//! serial): no panic, and the length is kept, so a transcript's offsets stay true.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posdiag_core::mask_card_bytes;
use posdiag_core::zvt::redact_link_bytes;

fuzz_target!(|data: &[u8]| {
    let generic = mask_card_bytes(data);
    assert_eq!(generic.len(), data.len());
    for serial in [false, true] {
        let zvt = redact_link_bytes(data, serial);
        assert_eq!(zvt.len(), data.len());
    }
});
