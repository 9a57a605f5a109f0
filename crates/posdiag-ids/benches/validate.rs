//! Throughput of identifier validation on one thread: `pan` and `cn-ric`
//! verdicts per second through the allocation-free [`check`], and full
//! [`validate`] results (bilingual sentences, masking) for comparison.
//!
//! Run: `cargo bench -p posdiag-ids --bench validate`. The inputs are a
//! pre-generated, deterministic mix of realistic values: about 80 % valid,
//! the rest with one digit changed, a digit missing, or a letter typed in.

use std::hint::black_box;
use std::time::{Duration, Instant};

use posdiag_ids::{Kind, KindSel, check, validate};

/// xorshift64: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn digit(&mut self) -> u8 {
        b'0' + self.below(10) as u8
    }
}

fn luhn_digit(body: &[u8]) -> u8 {
    let mut sum = 0;
    for (i, &b) in body.iter().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    b'0' + ((10 - sum % 10) % 10) as u8
}

fn ric_char(body: &[u8]) -> u8 {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let s: u32 = body
        .iter()
        .zip(W)
        .map(|(&b, w)| u32::from(b - b'0') * w)
        .sum();
    b"10X98765432"[(s % 11) as usize]
}

/// Breaks 1 value in 5: change a digit, drop one, or type a letter.
fn spoil(rng: &mut Rng, mut v: Vec<u8>) -> Vec<u8> {
    if rng.below(5) != 0 {
        return v;
    }
    let i = rng.below(v.len() as u64) as usize;
    match rng.below(3) {
        0 => v[i] = b'0' + (v[i] - b'0' + 1 + rng.below(9) as u8) % 10,
        1 => {
            v.remove(i);
        }
        _ => v[i] = b'O',
    }
    v
}

fn pans(rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    // (prefix, length): Visa, Mastercard (both series), Amex, UnionPay,
    // JCB, Discover, Maestro.
    const BRANDS: &[(&str, usize)] = &[
        ("4", 16),
        ("4", 16),
        ("51", 16),
        ("55", 16),
        ("2221", 16),
        ("34", 15),
        ("37", 15),
        ("62", 16),
        ("622202", 19),
        ("3528", 16),
        ("6011", 16),
        ("6759", 16),
    ];
    (0..n)
        .map(|_| {
            let (prefix, len) = BRANDS[rng.below(BRANDS.len() as u64) as usize];
            let mut v = prefix.as_bytes().to_vec();
            while v.len() < len - 1 {
                v.push(rng.digit());
            }
            v.push(luhn_digit(&v));
            spoil(rng, v)
        })
        .collect()
}

fn rics(rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    const REGIONS: &[&str] = &["110105", "310115", "440305", "510107", "330106", "360426"];
    (0..n)
        .map(|_| {
            let region = REGIONS[rng.below(REGIONS.len() as u64) as usize];
            let body = format!(
                "{region}{:04}{:02}{:02}{:03}",
                1950 + rng.below(70),
                1 + rng.below(12),
                1 + rng.below(28),
                rng.below(1000)
            );
            let mut v = body.into_bytes();
            v.push(ric_char(&v));
            spoil(rng, v)
        })
        .collect()
}

/// Best of `rounds` passes over `inputs`, `reps` times each: per second.
fn rate(
    inputs: &[Vec<u8>],
    reps: usize,
    rounds: usize,
    mut f: impl FnMut(&[u8]) -> bool,
) -> (f64, f64) {
    let mut best = Duration::MAX;
    let mut valid = 0usize;
    for _ in 0..rounds {
        valid = 0;
        let start = Instant::now();
        for _ in 0..reps {
            for v in inputs {
                valid += usize::from(f(black_box(v)));
            }
        }
        best = best.min(start.elapsed());
    }
    let n = (inputs.len() * reps) as f64;
    (n / best.as_secs_f64(), valid as f64 / n)
}

fn report(name: &str, (per_sec, valid): (f64, f64), target: Option<f64>) {
    let verdict = match target {
        Some(t) if per_sec >= t => format!("  (target ≥ {:.0} M/s: met)", t / 1e6),
        Some(t) => format!("  (target ≥ {:.0} M/s: NOT met)", t / 1e6),
        None => String::new(),
    };
    println!(
        "{name:<34} {:>8.2} M/s  {:>6.1} ns each  {:>4.0} % valid{verdict}",
        per_sec / 1e6,
        1e9 / per_sec,
        valid * 100.0
    );
}

fn main() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let pan = pans(&mut rng, 10_000);
    let ric = rics(&mut rng, 10_000);
    // First use parses the IIN table; keep that out of the timings.
    let _ = check(&pan[0], Kind::Pan);

    println!(
        "posdiag-ids validate benchmark: one thread, 10 000 pre-generated inputs per kind, best of 5"
    );
    report(
        "check(pan)",
        rate(&pan, 200, 5, |v| check(v, Kind::Pan).is_ok()),
        Some(20e6),
    );
    report(
        "check(cn-ric)",
        rate(&ric, 200, 5, |v| check(v, Kind::CnRic).is_ok()),
        Some(5e6),
    );
    report(
        "validate(pan), full result",
        rate(&pan, 5, 5, |v| {
            validate(v, KindSel::Kind(Kind::Pan), None).valid
        }),
        None,
    );
    report(
        "validate(cn-ric), full result",
        rate(&ric, 5, 5, |v| {
            validate(v, KindSel::Kind(Kind::CnRic), None).valid
        }),
        None,
    );
    report(
        "validate(auto), full result",
        rate(&pan, 1, 3, |v| validate(v, KindSel::Auto, None).valid),
        None,
    );
}
