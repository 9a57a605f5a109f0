//! Throughput of the EMV decoder on one core, plain `std::time` timing, in
//! the style of posdiag-core's benches. Run with
//! `cargo bench -p posdiag-emv --bench emv`; prints MB/s of TLV bytes for:
//! the walk (`tlv::visit`), the tree (`tlv::parse`), the bit and code scan
//! (`decode::scan`: every set bit's meaning, no texts built), the full decode
//! for people (`decode_tlv`: names, masked values, items) and decode plus
//! explanation (`explain`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use posdiag_emv::tlv::from_hex;

/// Field 55 blobs as acquirers receive them (the vectors of tests/vectors.rs
/// and an authorisation request's usual tags), and a card record of
/// emv-utils' test suite.
const BLOBS: &[&str] = &[
    "9F2701005F2A02097882023900950500400080009A032612069C01009F02060000000012349F1A0202769F3303E0F0C89F34034103019F3501228A025A33",
    "9F260812345678901234569F2701809F100706010A03A000009F37045A1B2C3D9F3602000195050000008000 9A032612069C01009F02060000000150009F03060000000000005F2A02097882021980 9F1A0202769F3303E0F0C89F34031E03009F3501229F1E0831323334353637389F090200969F4104000000019F5301529B02E800",
    "7033571147617390010101 19D22122011758928889 5F200C455850495245442F43415244 9F1F0E3137353839303936303030303030",
    "70465A0847617390010101195F3401015F24032212318C159F02069F03069F1A0295055F2A029A039C019F37048D198A029F02069F03069F1A0295055F2A029A039C019F37049108",
];

fn main() {
    let blobs: Vec<Vec<u8>> = BLOBS
        .iter()
        .map(|h| from_hex(h).expect("bench vectors are hex"))
        .collect();
    for b in &blobs {
        posdiag_emv::decode_tlv(b).expect("bench vectors decode");
    }
    let bytes_per_round: usize = blobs.iter().map(Vec::len).sum();
    // POSDIAG_BENCH_EMV=scan runs only the measurements whose label holds it.
    let only = std::env::var("POSDIAG_BENCH_EMV").unwrap_or_default();
    let run = |label: &str, f: &dyn Fn(&[u8]) -> usize| {
        if !label.contains(only.as_str()) {
            return;
        }
        for _ in 0..2_000 {
            for b in &blobs {
                black_box(f(b));
            }
        }
        let start = Instant::now();
        let mut rounds = 0_u64;
        while start.elapsed() < Duration::from_secs(2) {
            for _ in 0..500 {
                for b in &blobs {
                    black_box(f(black_box(b)));
                }
            }
            rounds += 500;
        }
        let secs = start.elapsed().as_secs_f64();
        let bytes = rounds as f64 * bytes_per_round as f64;
        println!(
            "{label}: {:.0} MB/s ({:.0} ns per blob of {:.0} bytes on average)",
            bytes / secs / 1e6,
            secs * 1e9 / (rounds as f64 * blobs.len() as f64),
            bytes_per_round as f64 / blobs.len() as f64
        );
    };
    run("walk (tlv::visit)", &|b| {
        let mut n = 0;
        let _ = posdiag_emv::tlv::visit(b, &mut |_, _, v| n += v.len());
        n
    });
    run("tree (tlv::parse)", &|b| {
        posdiag_emv::tlv::parse(b).map_or(0, |t| t.len())
    });
    run("bit and code scan (decode::scan)", &|b| {
        let mut n = 0;
        let _ = posdiag_emv::decode::scan(b, &mut |_, _| n += 1);
        n
    });
    run("full decode (decode_tlv)", &|b| {
        posdiag_emv::decode_tlv(b).map_or(0, |d| d.elements.len())
    });
    run("decode and explain", &|b| {
        posdiag_emv::decode_tlv(b).map_or(0, |d| posdiag_emv::explain(&d).causes.len())
    });
}
