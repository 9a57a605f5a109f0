//! End-to-end benchmarks of the `posdiag id` command line (release binary under `cargo bench`),
//! against the targets of the customer-ID issue:
//!
//! 1. **`id validate` vs python-stdnum**: `posdiag id validate --local --kind luhn --summary`
//!    reading a file of 1 million numbers on stdin, against a Python loop calling
//!    python-stdnum 2.2's `luhn.validate` on every line of the same file (catching its
//!    exceptions and counting them per class). The numbers come from a fixed LCG: half valid
//!    16-digit Luhn numbers, half 13–19 digits with a wrong check digit, 1 % of those with a
//!    letter in them. End-to-end wall time of each process (spawn to exit, interpreter start-up
//!    and import included), best of 3, interleaved. Both must report the same counts per class
//!    (asserted, also against the counts known by construction). Target: ≥ 100× faster.
//!    python-stdnum is taken from `python3` if it imports there, else from a venv created under
//!    `<target dir>/bench-venv` (`pip install python-stdnum==2.2`); if neither works the
//!    comparison is skipped and the reason printed.
//! 2. **`id audit` memory**: `posdiag id audit FILE --column customer_id --kind pan` on a 1 GiB
//!    CSV (`POSDIAG_BENCH_AUDIT_MB` changes the size) written streaming beforehand: UTF-8 BOM,
//!    CRLF, header `row,name,customer_id,phone`, quoted names with commas and doubled quotes, a
//!    mix of valid and invalid card numbers (bad check digit, grouped, phone numbers, wrong
//!    length, words, empty, full-width digits). Peak resident memory from polling
//!    `/proc/<pid>/status` (VmHWM, VmRSS) every 20 ms until the status file disappears (a
//!    second thread reaps the child and takes the exit time). Prints peak MiB, wall time and
//!    throughput. Target: VmHWM ≤ 50 MB (read as MiB). The CSV is deleted afterwards.
//!
//! Run: `cargo bench -p posdiag-tests --bench id_cli`. Without `--bench` (as under
//! `cargo test --benches`) it runs a small smoke version (10 000 numbers, 1 MiB of CSV, no venv
//! created) that checks the harness works and judges nothing.

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

/// How much work one run does.
struct Plan {
    numbers: usize,
    runs: usize,
    audit_mib: u64,
    /// May create the python-stdnum venv (needs the network).
    make_venv: bool,
    judge: bool,
}

fn main() {
    let plan = if std::env::args().any(|a| a == "--bench") {
        Plan {
            numbers: 1_000_000,
            runs: 3,
            audit_mib: std::env::var("POSDIAG_BENCH_AUDIT_MB")
                .ok()
                .map(|v| {
                    v.trim()
                        .parse()
                        .expect("POSDIAG_BENCH_AUDIT_MB: a whole number")
                })
                .unwrap_or(1024),
            make_venv: true,
            judge: true,
        }
    } else {
        Plan {
            numbers: 10_000,
            runs: 1,
            audit_mib: 1,
            make_venv: false,
            judge: false,
        }
    };
    // Builds posdiag (same profile as this executable) before anything is timed.
    let posdiag = posdiag_tests::bin("posdiag");
    println!("posdiag under test: {}", posdiag.display());
    println!(
        "cores: {}, load average at start: {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );

    let verdicts = [
        validate_vs_stdnum(&plan, &posdiag),
        audit_memory(&plan, &posdiag),
    ];

    if plan.judge {
        println!("\n== summary");
        for (name, verdict) in &verdicts {
            let v = match verdict {
                Some(true) => "meets target",
                Some(false) => "MISSES target",
                None => "skipped",
            };
            println!("  {name:<44} {v}");
        }
    } else {
        println!("\n(smoke run without --bench: numbers are not meaningful and not judged)");
    }
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

    /// Uniform enough in `0..n` for test data.
    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }

    fn digit(&mut self) -> u8 {
        b'0' + self.below(10) as u8
    }

    /// `n` random digits appended to `buf`.
    fn digits(&mut self, buf: &mut Vec<u8>, n: usize) {
        for _ in 0..n {
            buf.push(self.digit());
        }
    }
}

/// The Luhn check digit for `payload` (all ASCII digits, check digit not included).
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

/// Appends a check digit that is *not* the Luhn one.
fn push_wrong_check_digit(buf: &mut Vec<u8>, rng: &mut Lcg) {
    let right = luhn_check_digit(buf) - b'0';
    buf.push(b'0' + (right + 1 + rng.below(9) as u8) % 10);
}

/// Counts per verdict class, as posdiag names them (stdnum's exception in the comment).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    valid: u64,
    /// `InvalidChecksum`
    checksum: u64,
    /// `InvalidFormat`
    format: u64,
    /// `InvalidLength`
    length: u64,
    /// Any other class.
    other: u64,
}

impl Counts {
    fn total(&self) -> u64 {
        self.valid + self.invalid()
    }

    fn invalid(&self) -> u64 {
        self.checksum + self.format + self.length + self.other
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "valid {}, invalid {} (checksum {}, format {}, length {}, other {})",
            self.valid,
            self.invalid(),
            self.checksum,
            self.format,
            self.length,
            self.other
        )
    }
}

/// Writes `n` numbers, one per line, and returns their counts by construction.
fn write_numbers(path: &Path, n: usize) -> Counts {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut rng = Lcg(0x5EED_0003);
    let mut c = Counts::default();
    let mut buf = Vec::with_capacity(24);
    for _ in 0..n {
        buf.clear();
        buf.push(b'1' + rng.below(9) as u8);
        let pick = rng.below(100);
        if pick < 50 {
            rng.digits(&mut buf, 14);
            buf.push(luhn_check_digit(&buf));
            c.valid += 1;
        } else {
            let len = 13 + rng.below(7) as usize;
            rng.digits(&mut buf, len - 2);
            push_wrong_check_digit(&mut buf, &mut rng);
            if pick < 51 {
                let at = 1 + rng.below(len as u32 - 2) as usize;
                buf[at] = b'A' + rng.below(26) as u8;
                c.format += 1;
            } else {
                c.checksum += 1;
            }
        }
        buf.push(b'\n');
        w.write_all(&buf).unwrap();
    }
    w.flush().unwrap();
    c
}

// ---------------------------------------------------------------- 1. validate vs stdnum

/// The Python side: the loop a script would have, reading the same stdin.
const STDNUM_LOOP: &str = r#"import sys
from stdnum import luhn
from stdnum.exceptions import ValidationError

valid = 0
invalid = {}
validate = luhn.validate
for line in sys.stdin:
    value = line.rstrip("\r\n")
    try:
        validate(value)
        valid += 1
    except ValidationError as e:
        name = type(e).__name__
        invalid[name] = invalid.get(name, 0) + 1
print("valid", valid)
for name, n in sorted(invalid.items()):
    print(name, n)
"#;

fn validate_vs_stdnum(plan: &Plan, posdiag: &Path) -> (String, Option<bool>) {
    let name = "1. validate luhn >= 100x python-stdnum".to_owned();
    println!(
        "\n== 1. posdiag id validate --local --kind luhn --summary vs python-stdnum luhn.validate loop"
    );
    let dir = tempfile::tempdir().unwrap();
    let numbers = dir.path().join("numbers.txt");
    let t = Instant::now();
    let expected = write_numbers(&numbers, plan.numbers);
    let size = std::fs::metadata(&numbers).unwrap().len();
    println!(
        "  {} numbers ({:.1} MiB) written in {:.2} s: {expected}",
        plan.numbers,
        size as f64 / MIB,
        t.elapsed().as_secs_f64()
    );
    let script = dir.path().join("stdnum_loop.py");
    std::fs::write(&script, STDNUM_LOOP).unwrap();

    let python = match stdnum_python(plan.make_venv) {
        Ok((python, version)) => {
            println!("  python-stdnum {version} via {}", python.display());
            Some(python)
        }
        Err(why) => {
            println!("  python-stdnum comparison SKIPPED: {why}");
            None
        }
    };

    let mut cli_times = Vec::with_capacity(plan.runs);
    let mut py_times = Vec::with_capacity(plan.runs);
    for run in 1..=plan.runs {
        let (cli, counts) = run_cli_validate(posdiag, &numbers);
        assert_eq!(
            counts, expected,
            "posdiag's counts differ from the counts by construction"
        );
        cli_times.push(cli);
        let mut line = format!("  run {run}: posdiag {:>9.1} ms", ms(cli));
        if let Some(python) = &python {
            let (py, counts) = run_stdnum(python, &script, &numbers);
            assert_eq!(
                (counts.valid, counts.invalid()),
                (expected.valid, expected.invalid()),
                "python-stdnum's valid/invalid counts differ from posdiag's"
            );
            assert_eq!(
                counts, expected,
                "python-stdnum's counts per class differ from posdiag's"
            );
            py_times.push(py);
            line.push_str(&format!("   python-stdnum {:>9.1} ms", ms(py)));
        }
        println!("{line}");
    }
    let agree = if python.is_some() {
        "posdiag and python-stdnum agree"
    } else {
        "posdiag"
    };
    println!("  counts ({agree}, as built): {expected}");
    let cli = *cli_times.iter().min().unwrap();
    println!(
        "  posdiag best of {}: {:.1} ms ({:.1} M lines/s, {:.0} MiB/s)",
        plan.runs,
        ms(cli),
        plan.numbers as f64 / cli.as_secs_f64() / 1e6,
        size as f64 / MIB / cli.as_secs_f64()
    );
    let Some(py) = py_times.iter().min().copied() else {
        return (name, None);
    };
    let ratio = py.as_secs_f64() / cli.as_secs_f64();
    println!(
        "  python-stdnum best of {}: {:.1} ms ({:.2} M lines/s)",
        plan.runs,
        ms(py),
        plan.numbers as f64 / py.as_secs_f64() / 1e6
    );
    println!("  ratio python/posdiag: {ratio:.0}x   (target >= 100x)");
    (name, Some(ratio >= 100.0))
}

/// One `posdiag --json id validate --local --kind luhn --summary < numbers`: wall time and counts.
fn run_cli_validate(posdiag: &Path, numbers: &Path) -> (Duration, Counts) {
    let stdin = File::open(numbers).unwrap();
    let t = Instant::now();
    let out = Command::new(posdiag)
        .args([
            "--json",
            "id",
            "validate",
            "--local",
            "--kind",
            "luhn",
            "--summary",
        ])
        .stdin(stdin)
        .output()
        .unwrap();
    let elapsed = t.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // 0 all valid, 1 any invalid; anything else is a failure.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "posdiag id validate failed ({}): {stdout} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (elapsed, summary_counts(&stdout))
}

/// Counts from an `IdSummary` in proto3 JSON (`{"total":"4","valid":"2","byReason":{...}}`;
/// zero values are left out).
fn summary_counts(json: &str) -> Counts {
    let field = |key: &str| -> u64 {
        let pat = format!("\"{key}\":\"");
        json.find(&pat).map_or(0, |at| {
            let rest = &json[at + pat.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
    };
    let total = field("total");
    let mut c = Counts {
        valid: field("valid"),
        checksum: field("checksum"),
        format: field("format"),
        length: field("length"),
        other: 0,
    };
    c.other = total - c.valid - c.checksum - c.format - c.length;
    c
}

/// One `python stdnum_loop.py < numbers`: wall time and counts.
fn run_stdnum(python: &Path, script: &Path, numbers: &Path) -> (Duration, Counts) {
    let stdin = File::open(numbers).unwrap();
    let t = Instant::now();
    let out = Command::new(python)
        .arg(script)
        .stdin(stdin)
        .output()
        .unwrap();
    let elapsed = t.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the python-stdnum loop failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c = Counts::default();
    for line in stdout.lines() {
        let (class, n) = line.split_once(' ').unwrap();
        let n: u64 = n.parse().unwrap();
        match class {
            "valid" => c.valid = n,
            "InvalidChecksum" => c.checksum = n,
            "InvalidFormat" => c.format = n,
            "InvalidLength" => c.length = n,
            _ => c.other += n,
        }
    }
    (elapsed, c)
}

/// A Python with python-stdnum and its version, or why there is none.
fn stdnum_python(make_venv: bool) -> Result<(PathBuf, String), String> {
    if let Some(v) = stdnum_version(Path::new("python3")) {
        return Ok((PathBuf::from("python3"), v));
    }
    let target = posdiag_tests::bin_dir()
        .parent()
        .expect("the target directory");
    let venv = target.join("bench-venv");
    let python = venv.join("bin").join("python");
    if let Some(v) = stdnum_version(&python) {
        return Ok((python, v));
    }
    if !make_venv {
        return Err(format!(
            "python3 has no stdnum and no venv at {} (the smoke run does not create one)",
            venv.display()
        ));
    }
    println!(
        "  python3 has no stdnum: creating {} with python-stdnum==2.2",
        venv.display()
    );
    let steps: [(&str, PathBuf, Vec<&str>); 2] = [
        (
            "python3 -m venv",
            PathBuf::from("python3"),
            vec!["-m", "venv", venv.to_str().unwrap()],
        ),
        (
            "pip install python-stdnum==2.2",
            venv.join("bin").join("pip"),
            vec!["install", "-q", "python-stdnum==2.2"],
        ),
    ];
    for (what, program, args) in steps {
        let out = Command::new(&program)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{what}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{what} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    stdnum_version(&python)
        .map(|v| (python, v))
        .ok_or_else(|| "stdnum does not import even in the new venv".to_owned())
}

fn stdnum_version(python: &Path) -> Option<String> {
    let out = Command::new(python)
        .args(["-c", "import stdnum; print(stdnum.__version__)"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

// ---------------------------------------------------------------- 2. audit memory

const NAMES: [&str; 8] = [
    "\"Zhang, Wei\"",
    "\"Li, Na\"",
    "\"O\"\"Brien, Pat\"",
    "\"Müller, Jürgen\"",
    "Chen Jie",
    "\"刘, 洋\"",
    "\"Smith, J. \"\"Jack\"\"\"",
    "Wang Fang",
];

/// Writes rows until the file reaches `bytes`; returns the rows and the valid ones by
/// construction (plain valid Visa/Mastercard numbers; the grouped and full-width valid numbers
/// are not counted here, posdiag's normalisation decides those).
fn write_csv(path: &Path, bytes: u64) -> (u64, u64) {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    w.write_all(b"\xEF\xBB\xBFrow,name,customer_id,phone\r\n")
        .unwrap();
    let mut written = 32u64;
    let mut rng = Lcg(0xA0D1_7000);
    let (mut rows, mut valid) = (0u64, 0u64);
    let mut row = Vec::with_capacity(128);
    let mut pan = Vec::with_capacity(24);
    while written < bytes {
        rows += 1;
        row.clear();
        write!(row, "{rows},{},", NAMES[rng.below(8) as usize]).unwrap();
        pan.clear();
        let pick = rng.below(100);
        match pick {
            // Visa, 16 digits: valid; bad check digit; grouped in fours; full-width digits.
            0..40 | 55..70 | 70..78 | 99 => {
                pan.push(b'4');
                rng.digits(&mut pan, 14);
                if (55..70).contains(&pick) {
                    push_wrong_check_digit(&mut pan, &mut rng);
                } else {
                    pan.push(luhn_check_digit(&pan));
                }
                match pick {
                    70..78 => {
                        row.push(b'"');
                        for (i, chunk) in pan.chunks(4).enumerate() {
                            if i > 0 {
                                row.push(b' ');
                            }
                            row.extend_from_slice(chunk);
                        }
                        row.push(b'"');
                    }
                    99 => {
                        for &d in &pan {
                            // U+FF10 FULLWIDTH DIGIT ZERO is EF BC 90.
                            row.extend_from_slice(&[0xEF, 0xBC, 0x90 + (d - b'0')]);
                        }
                    }
                    _ => {
                        valid += u64::from(pick < 40);
                        row.extend_from_slice(&pan);
                    }
                }
            }
            // Mastercard 51-55, 16 digits, valid.
            40..55 => {
                pan.extend_from_slice(&[b'5', b'1' + rng.below(5) as u8]);
                rng.digits(&mut pan, 13);
                pan.push(luhn_check_digit(&pan));
                valid += 1;
                row.extend_from_slice(&pan);
            }
            // A mainland mobile number typed in place of the card number.
            78..88 => {
                pan.extend_from_slice(&[b'1', [b'3', b'5', b'8'][rng.below(3) as usize]]);
                rng.digits(&mut pan, 9);
                row.extend_from_slice(&pan);
            }
            // Visa with 17 digits and a right check digit: a length Visa does not issue.
            88..94 => {
                pan.push(b'4');
                rng.digits(&mut pan, 15);
                pan.push(luhn_check_digit(&pan));
                row.extend_from_slice(&pan);
            }
            94..97 => row.extend_from_slice(
                [&b"N/A"[..], b"unknown", b"\"tbd, ask\""][rng.below(3) as usize],
            ),
            _ => {} // empty cell
        }
        row.extend_from_slice(b",+86 1");
        row.push([b'3', b'5', b'8'][rng.below(3) as usize]);
        rng.digits(&mut row, 1);
        row.push(b' ');
        rng.digits(&mut row, 4);
        row.push(b' ');
        rng.digits(&mut row, 4);
        row.extend_from_slice(b"\r\n");
        w.write_all(&row).unwrap();
        written += row.len() as u64;
    }
    w.flush().unwrap();
    (rows, valid)
}

/// Memory figures from one read of `/proc/<pid>/status`, KiB.
#[derive(Debug, Default, Clone, Copy)]
struct Mem {
    hwm: u64,
    rss: u64,
    anon: u64,
    file: u64,
}

/// `None` when the file is gone or has no memory lines (a zombie).
fn read_mem(pid: u32) -> Option<Mem> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut m = Mem::default();
    let mut seen = false;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let n = value
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        match key {
            "VmHWM" => {
                m.hwm = n;
                seen = true;
            }
            "VmRSS" => m.rss = n,
            "RssAnon" => m.anon = n,
            "RssFile" => m.file = n,
            _ => {}
        }
    }
    seen.then_some(m)
}

fn audit_memory(plan: &Plan, posdiag: &Path) -> (String, Option<bool>) {
    let name = "2. audit 1 GB CSV: VmHWM <= 50 MB".to_owned();
    println!(
        "\n== 2. posdiag id audit FILE --column customer_id --kind pan on a {} MiB CSV: peak memory",
        plan.audit_mib
    );
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("customers.csv");
    let t = Instant::now();
    let (rows, valid_built) = write_csv(&csv, plan.audit_mib << 20);
    let size = std::fs::metadata(&csv).unwrap().len();
    println!(
        "  {rows} rows, {:.1} MiB written in {:.1} s to {} (it stays in the page cache: \
         throughput below is not disk-bound)",
        size as f64 / MIB,
        t.elapsed().as_secs_f64(),
        csv.display()
    );

    let out_path = dir.path().join("audit.json");
    let err_path = dir.path().join("audit.err");
    let t = Instant::now();
    let mut child = Command::new(posdiag)
        .args(["--json", "id", "audit"])
        .arg(&csv)
        .args(["--column", "customer_id", "--kind", "pan"])
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    // The waiter reaps the child and takes the exit time; this thread polls until the status
    // file is gone, so the last VmHWM of the living process is read.
    let waiter = std::thread::spawn(move || {
        let status = child.wait().unwrap();
        (status, Instant::now())
    });
    let (mut peak, mut max_rss, mut polls) = (Mem::default(), 0u64, 0u32);
    while !waiter.is_finished() {
        // None: a zombie not reaped yet (no memory lines), or already gone.
        if let Some(m) = read_mem(pid) {
            polls += 1;
            if m.hwm >= peak.hwm {
                peak = m;
            }
            max_rss = max_rss.max(m.rss);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, exited) = waiter.join().unwrap();
    let wall = exited - t;
    let stdout = std::fs::read_to_string(&out_path).unwrap();
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "posdiag id audit failed ({status}): {stdout} {}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    std::fs::remove_file(&csv).unwrap();
    println!("  (CSV deleted)");

    let counts = summary_counts(&stdout);
    println!("  posdiag --json: {}", stdout.trim());
    assert_eq!(
        counts.total(),
        rows,
        "audit counted a different number of rows"
    );
    assert!(
        counts.valid >= valid_built,
        "audit found {} valid, fewer than the {valid_built} plain valid numbers written",
        counts.valid
    );
    println!("  {counts}  (plain valid numbers written: {valid_built})");
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "  wall {:.2} s, {:.0} MiB/s, {:.2} M rows/s",
        wall.as_secs_f64(),
        size as f64 / MIB / wall.as_secs_f64(),
        rows as f64 / wall.as_secs_f64() / 1e6
    );
    println!(
        "  peak VmHWM {:.1} MiB ({} KiB; RssAnon {:.1} + RssFile {:.1} MiB at that read), max VmRSS seen {:.1} MiB, {polls} polls every 20 ms",
        mib(peak.hwm),
        peak.hwm,
        mib(peak.anon),
        mib(peak.file),
        mib(max_rss)
    );
    println!("  (target VmHWM <= 50 MB, read as MiB)");
    (name, Some(peak.hwm > 0 && peak.hwm <= 50 * 1024))
}

// ---------------------------------------------------------------- helpers

const MIB: f64 = 1024.0 * 1024.0;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
