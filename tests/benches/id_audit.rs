//! Speed of `posdiag id audit` (and `posdiag id validate --json` over stdin) on a generated,
//! mixed customer export, against the targets of the customer-ID issue (round 2): at least 20×
//! faster than before, within 10× of `wc -l` on the same file, memory ≤ 64 MB.
//!
//! The export (fixed LCG, 2 million rows by default, `POSDIAG_BENCH_AUDIT_ROWS` changes it):
//! header `row,name,customer_id,phone`, LF line ends, names quoted (with a comma) in 1 % of the
//! rows; customer IDs: resident identity numbers with known counties (30 %), with counties that
//! never existed (8 %), with a wrong check character (5 %); mainland mobile numbers (15 %); card
//! numbers, valid and not (12 %); wallet payment codes (10 %); Hong Kong and Taiwan IDs (5 %);
//! garbage, empty cells and full-width digits (the rest).
//!
//! Timed, best of 3, wall time from spawn to exit (the file stays in the page cache, so this is
//! CPU, not disk): `wc -l`; `posdiag id audit --kind cn-ric` and `--kind auto` with the default
//! threads and with `--threads 1`; with `POSDIAG_BENCH_BASELINE=/path/to/old/posdiag` the same
//! two audits by that binary (an older build has no `--threads`). Then once each with `--out`
//! (every failing row put into words and written), default threads and one thread: the two
//! failures files must be identical (asserted). Peak memory (VmHWM) of the auto audit from
//! `/proc/<pid>/status`. Then `posdiag --json id validate --local` (and with `--summary`) on
//! 1 million of the IDs on stdin: MB/s and values/s beside `wc -l` of the same file, and with
//! a baseline the same by that binary.
//!
//! Run: `cargo bench -p posdiag-tests --bench id_audit` (builds release binaries), or with
//! `POSDIAG_BENCH_POSDIAG=/path/to/posdiag` to time a binary built beforehand. Without
//! `--bench` (as under `cargo test --benches`) a smoke run of 20 000 rows checks the harness
//! and judges nothing.

#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark harness: a failure is a failed run"
)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// County codes of today's GB/T 2260 table, and the years, for valid resident IDs.
const REGIONS: &str = include_str!("../../crates/posdiag-ids/data/cn-regions.tsv");

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rows: u64 = std::env::var("POSDIAG_BENCH_AUDIT_ROWS")
        .ok()
        .map(|v| {
            v.trim()
                .parse()
                .expect("POSDIAG_BENCH_AUDIT_ROWS: a number")
        })
        .unwrap_or(if bench { 2_000_000 } else { 20_000 });
    let runs = if bench { 5 } else { 1 };
    let posdiag = std::env::var_os("POSDIAG_BENCH_POSDIAG")
        .map(PathBuf::from)
        .unwrap_or_else(|| posdiag_tests::bin("posdiag"));
    let baseline = std::env::var_os("POSDIAG_BENCH_BASELINE").map(PathBuf::from);
    println!("posdiag under test: {}", posdiag.display());
    println!(
        "cores: {}, load average at start: {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );

    let dir = tempfile::tempdir().unwrap();
    // POSDIAG_BENCH_AUDIT_KEEP=DIR: the export and the IDs are written there and kept, to
    // profile a build against the same files.
    let keep = std::env::var_os("POSDIAG_BENCH_AUDIT_KEEP").map(PathBuf::from);
    let data = keep.as_deref().unwrap_or(dir.path());
    let csv = data.join("customers.csv");
    let ids = data.join("ids.txt");
    let t = Instant::now();
    write_export(&csv, &ids, rows, 1_000_000.min(rows));
    let size = std::fs::metadata(&csv).unwrap().len();
    let mb = size as f64 / 1e6;
    println!(
        "\n{rows} rows, {mb:.1} MB written in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let (mut wc, _) = best(runs, || {
        run(Command::new("wc").arg("-l").arg(&csv).stdin(Stdio::null()))
    });
    println!(
        "\n  wc -l                                  {:>8.3} s",
        secs(wc)
    );

    let mut verdicts = Vec::new();
    let line = |name: &str, d: Duration, wc: Duration| {
        println!(
            "  {name:<38} {:>8.3} s  {:>7.0} MB/s  {:>6.2} M rows/s  {:>5.1}× wc -l",
            secs(d),
            mb / secs(d),
            rows as f64 / secs(d) / 1e6,
            secs(d) / secs(wc)
        );
    };
    let mut times = std::collections::BTreeMap::new();
    for kind in ["cn-ric", "auto"] {
        let out_default = dir.path().join(format!("failures-{kind}-default.csv"));
        let out_one = dir.path().join(format!("failures-{kind}-1.csv"));
        // Before, now and `wc -l` in turn, the best of each: this
        // machine's speed drifts from run to run, and taking turns puts the
        // same drift on all three.
        let (mut before, mut now) = (Duration::MAX, Duration::MAX);
        for _ in 0..runs {
            if let Some(old) = &baseline {
                before = before.min(run(&mut audit(old, &csv, kind, None, None)));
            }
            now = now.min(run(&mut audit(&posdiag, &csv, kind, None, None)));
            wc = wc.min(run(Command::new("wc")
                .arg("-l")
                .arg(&csv)
                .stdin(Stdio::null())));
        }
        if baseline.is_some() {
            line(&format!("before: audit --kind {kind}"), before, wc);
            times.insert(("before", kind), before);
        }
        line(&format!("now: audit --kind {kind}"), now, wc);
        times.insert(("now", kind), now);
        let (d1, _) = best(runs, || {
            run(&mut audit(&posdiag, &csv, kind, Some(1), None))
        });
        line(&format!("now: audit --kind {kind} --threads 1"), d1, wc);
        // With --out every failing row is put into words and written.
        let d = run(&mut audit(&posdiag, &csv, kind, None, Some(&out_default)));
        line(&format!("now: audit --kind {kind} --out"), d, wc);
        let d1 = run(&mut audit(&posdiag, &csv, kind, Some(1), Some(&out_one)));
        line(
            &format!("now: audit --kind {kind} --out --threads 1"),
            d1,
            wc,
        );
        let same = std::fs::read(&out_default).unwrap() == std::fs::read(&out_one).unwrap();
        assert!(
            same,
            "--out differs between the default threads and --threads 1"
        );
        println!(
            "    --out identical with the default threads and --threads 1 ({} failing rows)",
            std::fs::read(&out_one)
                .unwrap()
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                .saturating_sub(1)
        );
    }
    let hwm = peak_memory(audit(&posdiag, &csv, "auto", None, None));
    println!(
        "  peak VmHWM of the auto audit: {:.1} MiB (target <= 64 MB)",
        hwm as f64 / 1024.0
    );

    let values = 1_000_000.min(rows);
    let ids_mb = std::fs::metadata(&ids).unwrap().len() as f64 / 1e6;
    let (wc_ids, _) = best(runs, || {
        run(Command::new("wc").arg("-l").arg(&ids).stdin(Stdio::null()))
    });
    println!(
        "\n  {values} mixed IDs on stdin ({ids_mb:.1} MB): wc -l {:.3} s",
        secs(wc_ids)
    );
    let validate = |name: &str, args: &[&str], bin: &Path| {
        let (d, _) = best(runs, || {
            let mut cmd = Command::new(bin);
            cmd.args(args).stdin(File::open(&ids).unwrap());
            run(&mut cmd)
        });
        println!(
            "  {name:<38} {:>8.3} s  {:>7.1} MB/s  {:>9.0} values/s  {:>6.1}× wc -l",
            secs(d),
            ids_mb / secs(d),
            values as f64 / secs(d),
            secs(d) / secs(wc_ids)
        );
    };
    let json = ["--json", "id", "validate", "--local"];
    let summary = ["--json", "id", "validate", "--local", "--summary"];
    if let Some(old) = &baseline {
        validate("before: validate --json --local", &json, old);
    }
    validate("now: validate --json --local", &json, &posdiag);
    if let Some(old) = &baseline {
        validate("before: validate --summary", &summary, old);
    }
    validate("now: validate --summary", &summary, &posdiag);

    if bench {
        println!("\n== summary");
        for kind in ["cn-ric", "auto"] {
            let now = times[&("now", kind)];
            if let Some(before) = times.get(&("before", kind)) {
                let x = secs(*before) / secs(now);
                println!("  {kind}: {x:.1}× faster than before (target >= 20×)");
                verdicts.push(x >= 20.0);
            }
            let w = secs(now) / secs(wc);
            println!("  {kind}: {w:.1}× wc -l (target <= 10×)");
            verdicts.push(w <= 10.0);
        }
        verdicts.push(hwm <= 64 * 1000 * 1000 / 1024);
        println!(
            "  targets met: {} of {}",
            verdicts.iter().filter(|&&v| v).count(),
            verdicts.len()
        );
    } else {
        println!("\n(smoke run without --bench: numbers are not meaningful and not judged)");
    }
}

fn audit(
    posdiag: &Path,
    csv: &Path,
    kind: &str,
    threads: Option<u32>,
    out: Option<&Path>,
) -> Command {
    let mut cmd = Command::new(posdiag);
    cmd.args(["--json", "id", "audit"])
        .stdin(Stdio::null())
        .arg(csv)
        .args(["--column", "customer_id", "--kind", kind]);
    if let Some(n) = threads {
        cmd.arg("--threads").arg(n.to_string());
    }
    if let Some(out) = out {
        cmd.arg("--out").arg(out);
    }
    cmd
}

/// Runs `cmd` to its end; its exit code must be 0 or 1 (some values invalid).
fn run(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let d = t.elapsed();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{cmd:?}: {} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

fn best(runs: usize, mut f: impl FnMut() -> Duration) -> (Duration, Vec<Duration>) {
    let all: Vec<Duration> = (0..runs).map(|_| f()).collect();
    (*all.iter().min().unwrap(), all)
}

/// Peak VmHWM (KiB) of `cmd`, polled every 10 ms until it exits.
fn peak_memory(mut cmd: Command) -> u64 {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            for l in status.lines() {
                if let Some(v) = l.strip_prefix("VmHWM:") {
                    peak = peak.max(
                        v.split_whitespace()
                            .next()
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(0),
                    );
                }
            }
        }
        if child.try_wait().unwrap().is_some() {
            return peak;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

// ---------------------------------------------------------------- generated data

/// A 64-bit linear congruential generator (Knuth's MMIX constants): the same data every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }

    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }

    fn digits(&mut self, buf: &mut Vec<u8>, n: usize) {
        for _ in 0..n {
            buf.push(b'0' + self.below(10) as u8);
        }
    }
}

fn luhn_check_digit(payload: &[u8]) -> u8 {
    let mut sum = 0u32;
    for (i, &c) in payload.iter().rev().enumerate() {
        let mut d = u32::from(c - b'0');
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

/// GB 11643 check character of 17 digits.
fn ric_check(body: &[u8]) -> u8 {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let s: u32 = body
        .iter()
        .zip(W)
        .map(|(&b, w)| u32::from(b - b'0') * w)
        .sum();
    b"10X98765432"[(s % 11) as usize]
}

/// County codes in use today (no period in the table).
fn counties() -> Vec<&'static str> {
    REGIONS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut c = l.split('\t');
            let (code, from, until) = (c.next()?, c.next()?, c.next()?);
            (from.is_empty() && until.is_empty() && !code.ends_with("00")).then_some(code)
        })
        .collect()
}

/// A resident ID for `region` (born 1950-2005); `good`: right check character.
fn ric(rng: &mut Lcg, region: &[u8], good: bool, buf: &mut Vec<u8>) {
    let start = buf.len();
    buf.extend_from_slice(region);
    write!(
        buf,
        "{}{:02}{:02}",
        1950 + rng.below(56),
        1 + rng.below(12),
        1 + rng.below(28)
    )
    .unwrap();
    rng.digits(buf, 3);
    let c = ric_check(&buf[start..]);
    buf.push(if good {
        c
    } else if c == b'0' {
        b'1'
    } else {
        b'0'
    });
}

/// Writes the export (and the first `ids` customer IDs, one per line, to `ids_path`).
fn write_export(path: &Path, ids_path: &Path, rows: u64, ids: u64) {
    const NAMES: [&str; 6] = [
        "Li Lei",
        "Han Meimei",
        "Wang Fang",
        "Zhang Wei",
        "Chen Jing",
        "Liu Yang",
    ];
    let counties = counties();
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut idw = BufWriter::with_capacity(1 << 20, File::create(ids_path).unwrap());
    w.write_all(b"row,name,customer_id,phone\n").unwrap();
    let mut rng = Lcg(0x1D5_2026);
    let mut row = Vec::with_capacity(128);
    let mut id = Vec::with_capacity(32);
    for n in 1..=rows {
        row.clear();
        id.clear();
        let name = NAMES[rng.below(NAMES.len() as u32) as usize];
        if rng.below(100) == 0 {
            write!(row, "{n},\"{name}, Jr.\",").unwrap();
        } else {
            write!(row, "{n},{name},").unwrap();
        }
        let pick = rng.below(100);
        match pick {
            0..30 => {
                let c = counties[rng.below(counties.len() as u32) as usize];
                ric(&mut rng, c.as_bytes(), true, &mut id);
            }
            30..38 => {
                // Province known, county never in the table (xx99xx).
                let c = counties[rng.below(counties.len() as u32) as usize];
                let region = format!("{}99{}", &c[..2], rng.below(10) * 11);
                ric(&mut rng, region.as_bytes(), true, &mut id);
            }
            38..43 => {
                let c = counties[rng.below(counties.len() as u32) as usize];
                ric(&mut rng, c.as_bytes(), false, &mut id);
            }
            43..58 => {
                id.extend_from_slice(&[b'1', b"3589"[rng.below(4) as usize]]);
                rng.digits(&mut id, 9);
            }
            58..70 => {
                id.push(b"456"[rng.below(3) as usize]);
                rng.digits(&mut id, 14);
                let c = luhn_check_digit(&id);
                id.push(if pick < 66 {
                    c
                } else {
                    b'0' + (c - b'0' + 1) % 10
                });
            }
            70..80 => match rng.below(3) {
                0 => {
                    id.extend_from_slice(&[b'1', b'0' + rng.below(6) as u8]);
                    rng.digits(&mut id, 16);
                }
                1 => {
                    write!(id, "{}", 25 + rng.below(6)).unwrap();
                    let len = 16 + rng.below(9) as usize;
                    rng.digits(&mut id, len - 2);
                }
                _ => {
                    id.extend_from_slice(b"62");
                    rng.digits(&mut id, 17);
                }
            },
            80..85 => {
                if rng.below(2) == 0 {
                    id.extend_from_slice(b"A123456(3)");
                } else {
                    id.extend_from_slice(b"A123456789");
                }
            }
            85..93 => {
                id.extend_from_slice([&b"N/A"[..], b"unknown", b"-", b"TBD"][rng.below(4) as usize])
            }
            93..97 => {}
            _ => {
                for _ in 0..11 {
                    // U+FF10 FULLWIDTH DIGIT ZERO is EF BC 90.
                    id.extend_from_slice(&[0xEF, 0xBC, 0x90 + rng.below(10) as u8]);
                }
            }
        }
        row.extend_from_slice(&id);
        row.extend_from_slice(b",+86 13");
        rng.digits(&mut row, 9);
        row.push(b'\n');
        w.write_all(&row).unwrap();
        if n <= ids {
            idw.write_all(&id).unwrap();
            idw.write_all(b"\n").unwrap();
        }
    }
    w.flush().unwrap();
    idw.flush().unwrap();
}
