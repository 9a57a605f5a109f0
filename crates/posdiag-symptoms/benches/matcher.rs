//! Throughput of the symptom matcher on one core, plain `std::time` timing
//! in the style of the other crates' benches: phrases per second over the
//! corpus of `tests/corpus.tsv` (both languages, codes in sentences, texts
//! that match nothing). Run with `cargo bench -p posdiag-symptoms --bench
//! matcher`; the target is at least 100,000 phrases/s.

use std::hint::black_box;
use std::time::{Duration, Instant};

use posdiag_codes::KnowledgeBase;
use posdiag_symptoms::Matcher;

fn main() {
    let texts: Vec<&str> = include_str!("../tests/corpus.tsv")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split('\t').nth(2))
        .collect();
    let kb = KnowledgeBase::builtin();
    let m = Matcher::builtin();
    for t in &texts {
        black_box(m.rank(t, &kb));
    }
    let start = Instant::now();
    let mut n = 0_u64;
    while start.elapsed() < Duration::from_secs(3) {
        for t in &texts {
            black_box(m.rank(black_box(t), &kb));
        }
        n += texts.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "symptom matcher: {n} phrases in {secs:.2} s = {:.0} phrases/s on one core ({} distinct texts; target 100000)",
        n as f64 / secs,
        texts.len()
    );
}
