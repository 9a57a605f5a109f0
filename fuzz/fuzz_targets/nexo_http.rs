//! Fuzzes the nexo HTTP/1.1 parser (requests and responses) fed in pieces: no panic, bodies
//! within the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posdiag_core::nexo::http::{HttpLimits, HttpParser};

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let limits = HttpLimits {
        max_head_bytes: 1024,
        max_body_bytes: 4096,
    };
    for mut parser in [HttpParser::request(limits), HttpParser::response(limits)] {
        'feed: for piece in stream.chunks(usize::from(split).max(1)) {
            parser.push(piece);
            loop {
                match parser.next_message() {
                    Ok(Some(message)) => assert!(message.body.len() <= 4096),
                    Ok(None) => break,
                    Err(_) => break 'feed,
                }
            }
        }
        let _ = parser.finish();
    }
});
