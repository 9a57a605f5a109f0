//! Fuzzes the ZVT serial framing and link session with arbitrary line bytes split at an
//! arbitrary point: no panic, and every delivered frame has a matching CRC when re-framed.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use posdiag_core::zvt::serial::{FrameDecoder, SerialEvent, encode_frame};
use posdiag_core::zvt::{LinkConfig, LinkInput, Role, SerialLink};

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let split = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let mut decoder = FrameDecoder::default();
    for chunk in [&data[..split], &data[split..]] {
        for event in decoder.feed(chunk, now) {
            if let SerialEvent::Frame(body) = event {
                let again = FrameDecoder::default().feed(&encode_frame(&body), now);
                assert_eq!(again, vec![SerialEvent::Frame(body)]);
            }
        }
    }
    let _ = decoder.poll_timeout(now + Duration::from_secs(1));
    let mut link = SerialLink::new(LinkConfig::new(Role::Pt));
    let _ = link.step(LinkInput::Received(data), now);
    let _ = link.step(LinkInput::Tick, now + Duration::from_secs(5));
});
