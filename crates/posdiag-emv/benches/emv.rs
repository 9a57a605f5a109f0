//! Throughput of the EMV decoder on one core, plain `std::time` timing, in
//! the style of posdiag-core's benches. Run with
//! `cargo bench -p posdiag-emv --bench emv`; prints MB/s of TLV bytes for:
//! the walk (`tlv::visit`), the tree (`tlv::parse`), the bit and code scan
//! (`decode::scan`: every set bit's meaning), the full decode (`decode`: a
//! `Reading` of objects and facts, no texts built), decode plus explanation
//! (`Reading::reasons`), and, for comparison, rendering both for people
//! (`to_decoded`, `to_explanation`: names, masked values, texts in both
//! languages).

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
        let cpu_start = cpu_seconds();
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
        // On a shared machine the wall clock counts other processes' turns
        // too; the thread's own CPU time is what one core did.
        let cpu = match (cpu_start, cpu_seconds()) {
            (Some(a), Some(b)) if b > a => {
                format!(", {:.0} MB/s of CPU time", bytes / (b - a) / 1e6)
            }
            _ => String::new(),
        };
        println!(
            "{label}: {:.0} MB/s ({:.0} ns per blob of {:.0} bytes on average, {} blobs){cpu}",
            bytes / secs / 1e6,
            secs * 1e9 / (rounds as f64 * blobs.len() as f64),
            bytes_per_round as f64 / blobs.len() as f64,
            rounds * blobs.len() as u64
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
    run("full decode (decode: Reading)", &|b| {
        posdiag_emv::decode(b).map_or(0, |r| r.nodes().len() + r.fields() as usize)
    });
    run("decode and explain (Reading::reasons)", &|b| {
        posdiag_emv::decode(b).map_or(0, |r| r.reasons().len())
    });
    run(
        "rendered for people, both languages (to_decoded, to_explanation)",
        &|b| {
            posdiag_emv::decode(b).map_or(0, |r| {
                r.to_decoded().elements.len() + r.reasons().to_explanation().causes.len()
            })
        },
    );
}

/// This thread's CPU time (user and system) from `/proc/thread-self/stat`,
/// in seconds (the kernel counts in USER_HZ, 100 per second on Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14 and stime 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
