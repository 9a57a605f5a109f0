//! Fuzzes ISO 8583 decoding in every named dialect: no panic, and whatever decodes re-encodes
//! to bytes that decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posdiag_core::iso8583::{DIALECT_NAMES, Dialect};

fuzz_target!(|data: &[u8]| {
    for name in DIALECT_NAMES {
        let Some(dialect) = Dialect::by_name(name) else {
            continue;
        };
        if let Ok(message) = dialect.decode(data) {
            let again = dialect.encode(&message).expect("a decoded message encodes");
            assert_eq!(dialect.decode(&again).as_ref(), Ok(&message));
        }
    }
});
