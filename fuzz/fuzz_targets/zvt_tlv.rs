//! Fuzzes the ZVT TLV and BMP decoders: no panic, and decoded structures re-encode to bytes
//! that decode to the same structure.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posdiag_core::zvt::{BmpList, TlvList};

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = TlvList::decode(data)
        && let Ok(encoded) = list.encode()
    {
        assert_eq!(TlvList::decode(&encoded).ok(), Some(list));
    }
    if let Ok(bmps) = BmpList::decode(data, 0) {
        let mut encoded = Vec::new();
        if bmps.encode_into(&mut encoded).is_ok() {
            assert_eq!(BmpList::decode(&encoded, 0).ok(), Some(bmps));
        }
    }
});
