//! Runs the built `posdiag` binary's `id` commands: `validate --local` on
//! arguments and standard input, rule sets from a configuration file,
//! `--summary` and `--json`, `audit` on awkward CSV files, the exit codes,
//! and card-number masking. `validate` through a real posdiagd, compared
//! with `--local`, is in `tests/tests/ids.rs`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A full card number that must never be printed (Luhn-valid Visa test number).
const PAN: &str = "4111111111111111";
/// The same with a wrong check digit: invalid, and also never printed.
const BAD_PAN: &str = "4111111111111112";

/// No daemon listens here: --local must not need one.
const NO_DAEMON: &str = "unix:/nonexistent/posdiagd.sock";

fn posdiag_in(stdin: &[u8], args: &[&str]) -> Output {
    posdiag_at(NO_DAEMON, stdin, args)
}

fn posdiag_at(endpoint: &str, stdin: &[u8], args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_posdiag"))
        .arg("--endpoint")
        .arg(endpoint)
        .args(args)
        .env_remove("POSDIAG_ENDPOINT")
        .env_remove("POSDIAG_LANG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run posdiag");
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    // A writer thread: large inputs must not deadlock against full pipes.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    out
}

fn posdiag(args: &[&str]) -> Output {
    posdiag_in(b"", args)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A daemon configuration with a 12-digit customer-ID rule set used by T1.
fn config() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("posdiagd.toml");
    std::fs::write(
        &path,
        "[rules.acquirer-a-customer]\n\
         description = \"Acquirer A customer numbers: 12 digits\"\n\
         min_length = 12\n\
         max_length = 12\n\
         charset = \"digits\"\n\
         \n\
         [[terminals]]\n\
         id = \"T1\"\n\
         id_rules = \"acquirer-a-customer\"\n\
         \n\
         [[terminals]]\n\
         id = \"T2\"\n",
    )
    .expect("write config");
    (dir, path)
}

fn assert_no_full_pan(what: &str, s: &str) {
    for pan in [PAN, BAD_PAN] {
        assert!(!s.contains(pan), "full card number in {what}: {s}");
    }
}

#[test]
fn a_valid_resident_id_exits_0() {
    let out = posdiag(&[
        "id",
        "validate",
        "--local",
        "--kind",
        "cn-ric",
        "11010519491231002X",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // Resident ids are masked too (the library treats them as personal data).
    assert!(stdout.starts_with("VALID    110105"), "{stdout}");
    assert!(stdout.contains("(cn-ric)"), "{stdout}");
}

#[test]
fn a_mobile_number_against_a_12_digit_rule_set_says_what_it_looks_like() {
    let (_dir, cfg) = config();
    let cfg = cfg.to_str().expect("utf-8 path");
    for selector in [["--rules", "acquirer-a-customer"], ["--terminal", "T1"]] {
        let mut args = vec!["id", "validate", "--local", "--config", cfg];
        args.extend(selector);
        args.push("13800138000");
        let out = posdiag(&args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.starts_with("INVALID  13800138000"), "{stdout}");
        let first = stdout.lines().next().unwrap_or_default().to_lowercase();
        assert!(first.contains("mobile"), "{stdout}");
        let expected = stdout
            .lines()
            .find(|l| l.trim_start().starts_with("expected:"))
            .unwrap_or_else(|| panic!("no expected line: {stdout}"));
        assert!(expected.contains("12"), "{stdout}");
        assert!(
            stdout.contains("looks like:") && stdout.contains("phone"),
            "{stdout}"
        );
    }

    let out = posdiag(&[
        "id",
        "validate",
        "--local",
        "--config",
        cfg,
        "--rules",
        "acquirer-a-customer",
        "--json",
        "13800138000",
    ]);
    let results = json_lines(&out);
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert_eq!(r["reason"], "length", "{r}");
    assert!(
        r["expected"].as_str().unwrap_or_default().contains("12"),
        "{r}"
    );
    assert!(
        r["looksLike"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["kind"] == "phone")),
        "{r}"
    );

    // The same in Chinese.
    let out = posdiag(&[
        "--lang",
        "zh-CN",
        "id",
        "validate",
        "--local",
        "--config",
        cfg,
        "--rules",
        "acquirer-a-customer",
        "13800138000",
    ]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("手机"), "{stdout}");
    assert!(stdout.contains("应为"), "{stdout}");
}

#[test]
fn full_width_digits_are_a_charset_problem_with_a_half_width_suggestion() {
    let value = "１３８００１３８０００";
    let out = posdiag(&["id", "validate", "--local", "--json", value]);
    assert_eq!(out.status.code(), Some(1));
    let r = &json_lines(&out)[0];
    // proto3 JSON leaves false out.
    assert_ne!(r["valid"], true, "{r}");
    assert_eq!(r["reason"], "charset", "{r}");
    assert!(
        r["suggestion"]
            .as_str()
            .unwrap_or_default()
            .contains("half-width"),
        "{r}"
    );
    let out = posdiag(&["--lang", "zh-CN", "id", "validate", "--local", value]);
    assert!(text(&out.stdout).contains("半角"), "{}", text(&out.stdout));
}

#[test]
fn stdin_lines_are_validated_in_input_order() {
    let input =
        b"11010519491231002X\n13800138000\r\n\n\xff\xfe\x00\n79927398713\n   \n4111 1111 1111 1111";
    let out = posdiag_in(input, &["id", "validate", "--local", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let results = json_lines(&out);
    assert_eq!(results.len(), 7, "{}", text(&out.stdout));
    for (i, r) in results.iter().enumerate() {
        // proto3 JSON: uint64 as a string, and 0 (the default) left out.
        let index = r["index"].as_str().unwrap_or("0");
        assert_eq!(index, i.to_string(), "{r}");
    }
    assert_eq!(results[0]["valid"], true);
    assert_eq!(results[0]["kind"], "cn-ric");
    assert_eq!(results[1]["kind"], "phone", "CRLF stripped: {}", results[1]);
    assert_ne!(results[2]["valid"], true, "an empty line is not a valid id");
    assert_ne!(results[3]["valid"], true, "bytes that are not UTF-8");
    assert_eq!(results[4]["valid"], true, "{}", results[4]);
    assert_ne!(results[5]["valid"], true);
    assert_eq!(results[6]["valid"], true, "{}", results[6]);
    assert_no_full_pan("stdout", &text(&out.stdout));

    // Human output: one block per value, starting with its verdict, in order.
    let out = posdiag_in(input, &["id", "validate", "--local"]);
    let stdout = text(&out.stdout);
    let verdicts: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(
        verdicts,
        [
            "VALID", "VALID", "INVALID", "INVALID", "VALID", "INVALID", "VALID"
        ]
    );
}

#[test]
fn an_all_valid_input_exits_0_and_an_empty_one_too() {
    let out = posdiag_in(
        b"79927398713\n4111111111111111\n",
        &["id", "validate", "--local", "--kind", "luhn"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = posdiag_in(b"", &["id", "validate", "--local", "--summary"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("total: 0  valid: 0  invalid: 0"));
}

#[test]
fn usage_errors_exit_2() {
    let out = posdiag(&["id", "validate", "--local", "--kind", "passport", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("unknown kind \"passport\"") && err.contains("cn-ric"),
        "{err}"
    );

    // Clap's own errors (conflicting options, unknown flags) exit 2 under `id` too.
    let out = posdiag(&["id", "validate", "--rules", "a", "--terminal", "b", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = posdiag(&["id", "validate", "--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = posdiag(&["id", "validate", "--config", "x.toml", "1"]);
    assert_eq!(out.status.code(), Some(2), "--config needs --local");
    // ... while the other commands keep 64.
    let out = posdiag(&["check"]);
    assert_eq!(out.status.code(), Some(64));

    let (_dir, cfg) = config();
    let cfg = cfg.to_str().expect("utf-8 path");
    let out = posdiag(&[
        "id", "validate", "--local", "--config", cfg, "--rules", "nope", "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("no rule set \"nope\"") && err.contains("acquirer-a-customer"),
        "{err}"
    );
    let out = posdiag(&[
        "id",
        "validate",
        "--local",
        "--config",
        cfg,
        "--terminal",
        "T2",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("id_rules"),
        "{}",
        text(&out.stderr)
    );
    let out = posdiag(&[
        "id",
        "validate",
        "--local",
        "--config",
        cfg,
        "--terminal",
        "T9",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("T1, T2"),
        "{}",
        text(&out.stderr)
    );
    let out = posdiag(&[
        "id",
        "validate",
        "--local",
        "--config",
        "/nonexistent/posdiagd.toml",
        "--rules",
        "x",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/posdiagd.toml"));

    let out = posdiag(&["id", "validate", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("2  usage error"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn without_local_an_absent_daemon_exits_3() {
    let out = posdiag(&["id", "validate", "79927398713"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("cannot reach posdiagd"));
}

#[test]
fn summary_counts_verdicts_and_reasons() {
    let input = b"79927398713\n79927398710\n4111111111111111\n12a4\n\n";
    let out = posdiag_in(
        input,
        &["id", "validate", "--local", "--kind", "luhn", "--summary"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("total: 5  valid: 2  invalid: 3\n"),
        "{stdout}"
    );
    assert!(stdout.contains("\nchecksum  1"), "{stdout}");
    assert!(!stdout.contains(PAN));

    let out = posdiag_in(
        input,
        &[
            "id",
            "validate",
            "--local",
            "--kind",
            "luhn",
            "--summary",
            "--json",
        ],
    );
    let s = &json_lines(&out)[0];
    assert_eq!(s["total"], "5");
    assert_eq!(s["valid"], "2");
    assert_eq!(s["byReason"]["checksum"], "1");
    let by_reason: u64 = s["byReason"]
        .as_object()
        .expect("map")
        .values()
        .map(|v| v.as_str().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0))
        .sum();
    assert_eq!(by_reason, 3);

    // The same counts through the full path (rule set, not the fast check).
    let (_dir, cfg) = config();
    let out = posdiag_in(
        b"123456789012\n13800138000\n",
        &[
            "id",
            "validate",
            "--local",
            "--config",
            cfg.to_str().expect("path"),
            "--rules",
            "acquirer-a-customer",
            "--summary",
        ],
    );
    assert!(
        text(&out.stdout).starts_with("total: 2  valid: 1  invalid: 1"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_megabyte_line_is_invalid_and_the_next_line_still_counts() {
    let mut input = vec![b'1'; 3 << 20];
    input.extend_from_slice(b"\n79927398713\n");
    let out = posdiag_in(&input, &["id", "validate", "--local", "--kind", "luhn"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.len() < 10_000, "the long value is not echoed");
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("INVALID") && lines[0].contains("length"),
        "{stdout}"
    );
    assert!(lines[1].starts_with("VALID"), "{stdout}");
}

#[test]
fn card_numbers_are_masked_everywhere() {
    let args_sets: [&[&str]; 4] = [
        &["id", "validate", "--local"],
        &["id", "validate", "--local", "--json"],
        &["id", "validate", "--local", "--kind", "pan"],
        &[
            "--lang", "zh-CN", "id", "validate", "--local", "--kind", "pan",
        ],
    ];
    for args in args_sets {
        let mut args = args.to_vec();
        args.extend([PAN, BAD_PAN]);
        let out = posdiag(&args);
        assert_no_full_pan("stdout", &text(&out.stdout));
        assert_no_full_pan("stderr", &text(&out.stderr));
        assert!(
            text(&out.stdout).contains("411111"),
            "{}",
            text(&out.stdout)
        );
    }
}

fn write_csv(dir: &Path, bytes: &[u8]) -> PathBuf {
    let path = dir.join("customers.csv");
    std::fs::write(&path, bytes).expect("write csv");
    path
}

/// A spreadsheet export: BOM, CRLF, quoted cells with commas and quotes, a
/// cell that is not UTF-8 (GBK), a short row, card numbers.
fn export() -> Vec<u8> {
    let mut csv = b"\xEF\xBB\xBFname,\"Customer ID\",note\r\n".to_vec();
    csv.extend_from_slice(b"\"Li, Lei\",11010519491231002X,ok\r\n");
    csv.extend_from_slice(b"Wang,13800138000,\"said \"\"call me\"\", then left\"\r\n");
    csv.extend_from_slice(b"\xd5\xc5\xc8\xfd,\xd5\xc5\xc8\xfd,gbk\r\n");
    csv.extend_from_slice(format!("Visa,{BAD_PAN},card\r\n").as_bytes());
    csv.extend_from_slice(format!("Visa2,{PAN},card\r\n").as_bytes());
    csv.extend_from_slice(b"Zhao,\"11010519491231002X\"\r\n");
    csv.extend_from_slice(b"Qian,13800138000,again\n");
    csv
}

#[test]
fn audit_reads_an_awkward_export_and_writes_the_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_csv(dir.path(), &export());
    let failures = dir.path().join("failures.csv");
    let out = posdiag(&[
        "id",
        "audit",
        file.to_str().expect("path"),
        "--column",
        "Customer ID",
        "--kind",
        "cn-ric",
        "--out",
        failures.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("total: 7  valid: 2  invalid: 5"),
        "{stdout}"
    );
    assert!(stdout.contains("examples:"), "{stdout}");
    assert_no_full_pan("stdout", &stdout);
    assert_no_full_pan("stderr", &text(&out.stderr));

    let written = std::fs::read(&failures).expect("failures file");
    let written = text(&written);
    assert_no_full_pan("--out", &written);
    let mut rows = csv::Reader::from_reader(written.as_bytes());
    assert_eq!(
        rows.headers().expect("header"),
        vec!["row", "value", "reason", "message"]
    );
    let rows: Vec<csv::StringRecord> = rows.records().map(|r| r.expect("row")).collect();
    let numbers: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(numbers, ["2", "3", "4", "5", "7"]);
    assert!(rows.iter().all(|r| !r[2].is_empty() && !r[3].is_empty()));
    // The GBK cell is a charset problem, not a fatal error.
    assert_eq!(&rows[1][2], "charset", "{:?}", rows[1]);

    // --json: the counts as an IdSummary.
    let out = posdiag(&[
        "id",
        "audit",
        file.to_str().expect("path"),
        "--column",
        "Customer ID",
        "--json",
    ]);
    let s = &json_lines(&out)[0];
    assert_eq!(s["total"], "7");
}

#[test]
fn audit_in_chinese_and_with_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_csv(dir.path(), &export());
    let (_cdir, cfg) = config();
    let out = posdiag(&[
        "--lang",
        "zh-CN",
        "id",
        "audit",
        file.to_str().expect("path"),
        "--column",
        "Customer ID",
        "--rules",
        "acquirer-a-customer",
        "--config",
        cfg.to_str().expect("path"),
        "--top",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("总数: 7"), "{stdout}");
    assert!(stdout.contains("示例"), "{stdout}");
    assert_no_full_pan("stdout", &stdout);
}

#[test]
fn audit_usage_errors_exit_2_and_name_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_csv(dir.path(), &export());
    let out = posdiag(&[
        "id",
        "audit",
        file.to_str().expect("path"),
        "--column",
        "id",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("has no column \"id\"; its columns are: \"name\", \"Customer ID\", \"note\""),
        "{err}"
    );
    let out = posdiag(&["id", "audit", "/nonexistent.csv", "--column", "id"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot open /nonexistent.csv"));
    let out = posdiag(&["id", "audit", file.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2), "--column is required");
}

#[test]
fn kinds_are_listed_locally() {
    let out = posdiag(&["id", "kinds", "--local"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    for name in ["pan", "cn-ric", "iban", "phone"] {
        assert!(stdout.lines().any(|l| l.starts_with(name)), "{stdout}");
    }
    let out = posdiag(&["--json", "id", "kinds", "--local"]);
    let v = &json_lines(&out)[0];
    assert!(v["kinds"].as_array().is_some_and(|k| k.len() >= 12), "{v}");
}
