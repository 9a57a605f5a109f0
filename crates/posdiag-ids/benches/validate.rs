//! Throughput of identifier validation on one thread, for every kind of
//! `Kind::ALL` and for `auto`: the verdict alone through the
//! allocation-free [`check`] (`check_with` for `auto`), [`validate`] (the
//! verdict, the reason, what the value looks like — no text), and
//! [`validate`] with its texts rendered in both languages.
//!
//! Run: `cargo bench -p posdiag-ids --bench validate`. The inputs are
//! generated from a fixed seed, per kind: values of the kind's shape
//! (prefixes, lengths, check characters found by trying each until the
//! kind accepts it), then 1 in 5 spoilt — a character changed or dropped,
//! or a letter typed in — so about 80 % are valid; `auto` gets all kinds'
//! inputs mixed. Without `--bench` (`cargo test --benches`) a smoke run
//! checks the harness on a few inputs and judges nothing.

use std::hint::black_box;
use std::time::{Duration, Instant};

use posdiag_ids::{Kind, KindSel, check, check_with, validate};

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

/// Breaks 1 value in 5: change a character, drop one, or type a letter.
fn spoil(rng: &mut Rng, mut v: Vec<u8>) -> Vec<u8> {
    if v.is_empty() || rng.below(5) != 0 {
        return v;
    }
    let i = rng.below(v.len() as u64) as usize;
    match rng.below(3) {
        0 if v[i].is_ascii_digit() => v[i] = b'0' + (v[i] - b'0' + 1 + rng.below(9) as u8) % 10,
        0 => v[i] = if v[i] == b'7' { b'8' } else { b'7' },
        1 => {
            v.remove(i);
        }
        _ => v[i] = b'O',
    }
    v
}

/// The first of `make(0)`, `make(1)`… below `tries` that `kind` accepts:
/// check characters found by trying, not by a second implementation.
fn first_valid(kind: Kind, tries: u32, make: impl Fn(u32) -> Vec<u8>) -> Vec<u8> {
    (0..tries)
        .map(&make)
        .find(|v| check(v, kind).is_ok())
        .unwrap_or_else(|| make(0))
}

fn pick<'a>(rng: &mut Rng, from: &[&'a str]) -> &'a str {
    from[rng.below(from.len() as u64) as usize]
}

fn push_digits(rng: &mut Rng, v: &mut Vec<u8>, n: usize) {
    for _ in 0..n {
        v.push(rng.digit());
    }
}

fn push_from(rng: &mut Rng, v: &mut Vec<u8>, alphabet: &[u8], n: usize) {
    for _ in 0..n {
        v.push(alphabet[rng.below(alphabet.len() as u64) as usize]);
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const USCC: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const HEX: &[u8] = b"0123456789ABCDEF";

/// A value of `kind`'s shape, valid before it is spoilt.
fn one(kind: Kind, rng: &mut Rng) -> Vec<u8> {
    let mut v = Vec::with_capacity(32);
    match kind {
        Kind::Pan => {
            // (prefix, length): Visa, Mastercard (both series), Amex,
            // UnionPay, JCB, Discover, Maestro.
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
            let (prefix, len) = BRANDS[rng.below(BRANDS.len() as u64) as usize];
            v.extend_from_slice(prefix.as_bytes());
            push_digits(rng, &mut v, len - 1 - prefix.len());
            v.push(luhn_digit(&v));
        }
        Kind::Luhn => {
            let len = 8 + rng.below(12) as usize;
            push_digits(rng, &mut v, len - 1);
            v.push(luhn_digit(&v));
        }
        Kind::CnRic | Kind::CnRp => {
            let region = if kind == Kind::CnRic {
                pick(
                    rng,
                    &["110105", "310115", "440305", "510107", "330106", "360426"],
                )
            } else {
                pick(rng, &["810000", "820000", "830000"])
            };
            // Born after 1992: every region listed was in use by then.
            let body = format!(
                "{region}{:04}{:02}{:02}{:03}",
                1993 + rng.below(25),
                1 + rng.below(12),
                1 + rng.below(28),
                rng.below(1000)
            );
            v = body.into_bytes();
            v.push(ric_char(&v));
        }
        Kind::CnUscc => {
            v.extend_from_slice(pick(rng, &["91", "92", "93", "51", "52", "12"]).as_bytes());
            v.extend_from_slice(pick(rng, &["110108", "310115", "440300", "340100"]).as_bytes());
            push_from(rng, &mut v, USCC, 9);
            v = first_valid(kind, USCC.len() as u32, |g| {
                [&v[..], &[USCC[g as usize]]].concat()
            });
        }
        Kind::Iban => {
            // (country, BBAN): Germany, the United Kingdom, the Netherlands.
            let (cc, letters, digits) = match rng.below(3) {
                0 => ("DE", 0, 18),
                1 => ("GB", 4, 14),
                _ => ("NL", 4, 10),
            };
            let mut bban = Vec::new();
            push_from(rng, &mut bban, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", letters);
            push_digits(rng, &mut bban, digits);
            v = first_valid(kind, 100, |g| {
                [cc.as_bytes(), format!("{g:02}").as_bytes(), &bban].concat()
            });
        }
        Kind::Bic => {
            push_from(rng, &mut v, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4);
            v.extend_from_slice(pick(rng, &["DE", "GB", "CN", "FR", "US", "HK"]).as_bytes());
            push_from(rng, &mut v, ALNUM, 2);
            if rng.below(2) == 0 {
                push_from(rng, &mut v, ALNUM, 3);
            }
        }
        Kind::Imei => {
            push_digits(rng, &mut v, 14);
            v.push(luhn_digit(&v));
        }
        Kind::Meid => {
            v.extend_from_slice(pick(rng, &["A0", "A1", "AF", "99"]).as_bytes());
            push_from(rng, &mut v, HEX, 12);
            if rng.below(2) == 0 {
                v = first_valid(kind, 16, |g| [&v[..], &[HEX[g as usize]]].concat());
            }
        }
        Kind::Imsi => {
            v.extend_from_slice(
                pick(rng, &["46000", "46001", "46011", "31026", "26201"]).as_bytes(),
            );
            push_digits(rng, &mut v, 10);
        }
        Kind::Tid => push_from(rng, &mut v, ALNUM, 8),
        Kind::Mid => push_from(rng, &mut v, ALNUM, 15),
        Kind::Phone => {
            v.extend_from_slice(
                pick(rng, &["13", "15", "18", "+8613", "+8617", "+4420", "0049"]).as_bytes(),
            );
            push_digits(rng, &mut v, 9);
        }
        Kind::Paycode => {
            let (prefix, len) = match rng.below(3) {
                0 => (pick(rng, &["10", "11", "12", "13", "14", "15"]), 18),
                1 => (
                    pick(rng, &["25", "26", "27", "28", "29", "30"]),
                    16 + rng.below(9) as usize,
                ),
                _ => ("62", 19),
            };
            v.extend_from_slice(prefix.as_bytes());
            push_digits(rng, &mut v, len - 2);
        }
        Kind::HkId => {
            let letters = 1 + rng.below(2) as usize;
            push_from(rng, &mut v, b"ABCDEGHKMPRZ", letters);
            push_digits(rng, &mut v, 6);
            let paren = rng.below(2) == 0;
            v = first_valid(kind, 11, |g| {
                let c = b"0123456789A"[g as usize];
                if paren {
                    [&v[..], b"(", &[c], b")"].concat()
                } else {
                    [&v[..], &[c]].concat()
                }
            });
        }
        Kind::TwId => {
            push_from(rng, &mut v, b"ABCDEFGHJKLMNPQRSTUVXYWZIO", 1);
            v.push(if rng.below(2) == 0 { b'1' } else { b'2' });
            push_digits(rng, &mut v, 7);
            v = first_valid(kind, 10, |g| [&v[..], &[b'0' + g as u8]].concat());
        }
    }
    v
}

/// `n` inputs for `kind`, about 80 % valid.
fn inputs(kind: Kind, rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| {
            let v = one(kind, rng);
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

/// One row of the table: `name`, then verdicts, results and results with
/// texts per second.
fn row(name: &str, check: (f64, f64), full: (f64, f64), texts: (f64, f64)) {
    println!(
        "{name:<9} {:>9.2} M/s {:>9.0} k/s {:>13.0} k/s {:>6.0} %",
        check.0 / 1e6,
        full.0 / 1e3,
        texts.0 / 1e3,
        check.1 * 100.0
    );
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    // (inputs per kind, passes per round, rounds) for check, validate and
    // validate with texts.
    let (n, reps, rounds) = if bench {
        (10_000, [50, 3, 1], 5)
    } else {
        (200, [1, 1, 1], 1)
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let per_kind: Vec<(Kind, Vec<Vec<u8>>)> = Kind::ALL
        .iter()
        .map(|&k| (k, inputs(k, &mut rng, n)))
        .collect();
    // `auto` meets every kind: the same number of inputs, all kinds mixed.
    let mut auto: Vec<Vec<u8>> = per_kind
        .iter()
        .flat_map(|(_, vs)| vs.iter().step_by(Kind::ALL.len()).cloned())
        .collect();
    auto.truncate(n);
    // First use parses the IIN and region tables; keep that out of the timings.
    for (k, vs) in &per_kind {
        black_box(validate(&vs[0], KindSel::Kind(*k), None).texts());
    }

    println!(
        "posdiag-ids validate benchmark: one thread, {n} generated inputs per kind, best of {rounds}"
    );
    println!(
        "{:<9} {:>13} {:>13} {:>17} {:>8}",
        "kind", "check", "validate", "validate+texts", "valid"
    );
    for (k, vs) in &per_kind {
        let sel = KindSel::Kind(*k);
        row(
            k.name(),
            rate(vs, reps[0], rounds, |v| check(v, *k).is_ok()),
            rate(vs, reps[1], rounds, |v| {
                validate(v, sel, None).reason.is_none()
            }),
            rate(vs, reps[2], rounds, |v| {
                let r = validate(v, sel, None);
                black_box(r.texts());
                r.valid
            }),
        );
    }
    row(
        "auto",
        rate(&auto, reps[0], rounds, |v| {
            check_with(v, KindSel::Auto, None).is_ok()
        }),
        rate(&auto, reps[1], rounds, |v| {
            validate(v, KindSel::Auto, None).reason.is_none()
        }),
        rate(&auto, reps[2], rounds, |v| {
            let r = validate(v, KindSel::Auto, None);
            black_box(r.texts());
            r.valid
        }),
    );
    let of = |kind: Kind| {
        per_kind
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(&[][..], |(_, vs)| &vs[..])
    };
    let (pan, ric) = (of(Kind::Pan), of(Kind::CnRic));
    println!();
    report(
        "check(pan)",
        rate(pan, reps[0] * 4, rounds, |v| check(v, Kind::Pan).is_ok()),
        Some(20e6),
    );
    report(
        "check(cn-ric)",
        rate(ric, reps[0] * 4, rounds, |v| check(v, Kind::CnRic).is_ok()),
        Some(5e6),
    );
}
