//! Fuzzes the ISO 8583 stream frame reader fed in pieces: no panic, no frame over the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posdiag_core::iso8583::{FrameReader, LengthPrefix};

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    for prefix in [LengthPrefix::Binary2, LengthPrefix::Ascii4] {
        let mut reader = FrameReader::new(prefix, 2048);
        for piece in stream.chunks(usize::from(split).max(1)) {
            reader.push(piece);
            loop {
                match reader.next_frame() {
                    Ok(Some(frame)) => assert!(frame.len() <= 2048),
                    Ok(None) => break,
                    Err(_) => return,
                }
            }
        }
    }
});
