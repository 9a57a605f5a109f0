//! Decoding throughput of the ISO 8583 codec on the captured echo messages
//! (tests/fixtures/iso8583/echo.tsv), one core, plain `std::time` timing. Run with
//! `cargo bench -p posdiag-core --bench iso8583`; prints MB/s of message bytes decoded.

use std::hint::black_box;
use std::time::{Duration, Instant};

use posdiag_core::iso8583::{Dialect, FrameReader};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .filter_map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

fn main() {
    let vectors: Vec<(Dialect, Vec<u8>)> = include_str!("../tests/fixtures/iso8583/echo.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let dialect = Dialect::by_name(cols.next()?)?;
            cols.next()?;
            Some((dialect, hex(cols.next()?)))
        })
        .collect();
    let bytes_per_round: usize = vectors.iter().map(|(_, m)| m.len()).sum();

    let run = |label: &str, f: &dyn Fn() -> usize| {
        // Warm up, then time whole rounds for about two seconds.
        for _ in 0..10_000 {
            black_box(f());
        }
        let start = Instant::now();
        let mut rounds = 0_u64;
        let mut bytes = 0_usize;
        while start.elapsed() < Duration::from_secs(2) {
            for _ in 0..1000 {
                bytes += black_box(f());
            }
            rounds += 1000;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{label}: {:.0} MB/s ({:.0} ns per message, {rounds} rounds of {} messages)",
            bytes as f64 / secs / 1e6,
            secs * 1e9 / (rounds as f64 * vectors.len() as f64),
            vectors.len()
        );
    };

    run("decode echo.tsv messages", &|| {
        let mut n = 0;
        for (dialect, message) in &vectors {
            if let Ok(m) = dialect.decode(black_box(message)) {
                n += message.len();
                black_box(m);
            }
        }
        n
    });

    // The same messages behind a 2-byte length, through the frame reader, as a host reads them.
    let stream: Vec<(Dialect, Vec<u8>)> = vectors
        .iter()
        .map(|(d, m)| {
            let framed = posdiag_core::iso8583::frame(d.length_prefix(), m).unwrap_or_default();
            (d.clone(), framed)
        })
        .collect();
    run("frame + decode", &|| {
        let mut n = 0;
        for (dialect, framed) in &stream {
            let mut reader = FrameReader::new(dialect.length_prefix(), 8192);
            reader.push(black_box(framed));
            while let Ok(Some(frame)) = reader.next_frame() {
                if dialect.decode(&frame).is_ok() {
                    n += frame.len();
                }
            }
        }
        n
    });
    assert!(bytes_per_round > 0, "no vectors");
}
