//! ZVT codec throughput on one core, plain `std::time` timing: decoding the captured APDUs
//! (TCP stream reader + typed packets, and the typed packets alone) and their serial frames
//! (framing state machine), in MB/s of input. Run with `cargo bench -p posdiag-core --bench zvt`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use posdiag_core::zvt::apdu::{Apdu, ApduReader};
use posdiag_core::zvt::bmp::hex_to_bytes;
use posdiag_core::zvt::packets::Packet;
use posdiag_core::zvt::serial::{FrameDecoder, SerialEvent, encode_frame};

/// The captured APDUs from the test fixtures.
fn captured() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for file in ["apdus.tsv", "ecrterm.tsv", "serial-frames.tsv"] {
        let path = format!("{}/tests/fixtures/zvt/{file}", env!("CARGO_MANIFEST_DIR"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("cannot read {path}");
            std::process::exit(1);
        };
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let mut cols = line.split('\t');
            // serial-frames.tsv has the APDU in the first column, the others in the second.
            let hex = if file == "serial-frames.tsv" {
                cols.next()
            } else {
                cols.nth(1)
            };
            if let Some(bytes) = hex.and_then(hex_to_bytes) {
                out.push(bytes);
            }
        }
    }
    out
}

/// Runs `f` over `input` repeatedly for about a second and prints the rate.
fn measure(name: &str, input: &[u8], mut f: impl FnMut(&[u8]) -> usize) {
    let mut count = f(input); // warm up
    let start = Instant::now();
    let mut rounds = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        count = black_box(f(black_box(input)));
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = (input.len() as f64 * rounds as f64) / 1e6;
    println!(
        "{name:<40} {:>8.1} MB/s  ({count} items per {} KB round, {rounds} rounds)",
        mb / secs,
        input.len() / 1024
    );
}

fn main() {
    let apdus = captured();
    let mut stream = Vec::new();
    let mut frames = Vec::new();
    while stream.len() < 1 << 20 {
        for apdu in &apdus {
            stream.extend_from_slice(apdu);
            frames.extend(encode_frame(apdu));
        }
    }
    println!("{} captured APDUs, repeated", apdus.len());
    measure("tcp stream: apdu reader", &stream, |input| {
        let mut reader = ApduReader::default();
        reader.feed(input);
        let mut n = 0;
        while let Ok(Some(apdu)) = reader.next_apdu() {
            black_box(&apdu);
            n += 1;
        }
        n
    });
    measure(
        "tcp stream: apdu reader + typed packets",
        &stream,
        |input| {
            let mut reader = ApduReader::default();
            reader.feed(input);
            let mut n = 0;
            while let Ok(Some(apdu)) = reader.next_apdu() {
                if Packet::decode(&apdu).is_ok() {
                    n += 1;
                }
            }
            n
        },
    );
    // The typed decoding alone, over the same APDUs already split from the stream.
    let split: Vec<Apdu> = {
        let mut reader = ApduReader::default();
        reader.feed(&stream);
        std::iter::from_fn(|| reader.next_apdu().ok().flatten()).collect()
    };
    measure("typed packets only: Packet::decode", &stream, |_| {
        split
            .iter()
            .filter(|apdu| Packet::decode(black_box(apdu)).is_ok())
            .count()
    });
    let now = Instant::now();
    measure("serial: frame decoder", &frames, |input| {
        let mut decoder = FrameDecoder::default();
        let mut events = Vec::new();
        let mut n = 0;
        for chunk in input.chunks(4096) {
            decoder.feed_into(chunk, now, &mut events);
            n += events
                .drain(..)
                .filter(|e| matches!(e, SerialEvent::Frame(_)))
                .count();
        }
        n
    });
}
