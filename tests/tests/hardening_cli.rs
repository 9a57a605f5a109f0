//! End-to-end hardening of the `posdiag` CLI: bounded memory on hostile
//! input files, file bytes escaped before they reach a terminal, a
//! permission problem on the daemon's socket told as one, card numbers
//! masked on both output channels, and resident identity numbers shown
//! without what their mask hides. Every command runs under `timeout`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use posdiag_tests::{Daemon, bin, workspace};

/// Upper bound on any one command; a hang fails the test instead of the run.
const TIMEOUT_S: &str = "60";

const CONFIG: &str = r#"
[[terminals]]
id = "T1"
"#;

const PAN: &str = "4111111111111111";

/// Runs `posdiag ARGS` under `timeout`, with stdin closed.
fn posdiag(args: &[&str]) -> Output {
    Command::new("timeout")
        .arg(TIMEOUT_S)
        .arg(bin("posdiag"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running posdiag under timeout")
}

/// stdout and stderr together, for assertions that hold on both channels.
fn both(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// No full card number on either channel, plain or grouped.
fn assert_no_pan(what: &str, out: &Output) {
    let text = both(out);
    assert_ne!(out.status.code(), Some(124), "{what}: timed out\n{text}");
    for full in [PAN, "4111 1111 1111 1111", "41111111111"] {
        assert!(!text.contains(full), "{what}: {full:?} shown\n{text}");
    }
}

#[test]
fn audit_of_dev_zero_ends_with_an_error_under_a_memory_limit() {
    // 1 GB of address space: the old reader passed 4 GB within seconds.
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1000000 && exec timeout \"$0\" \"$@\"")
        .arg(TIMEOUT_S)
        .arg(bin("posdiag"))
        .args(["id", "audit", "/dev/zero", "--column", "a"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 2: the file is the problem (not a kill by signal, not a timeout).
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a CSV export"), "{stderr}");

    // The same in Chinese.
    let out = posdiag(&[
        "--lang",
        "zh-cn",
        "id",
        "audit",
        "/dev/zero",
        "--column",
        "a",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("不像 CSV"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_record_too_long_is_counted_reported_and_written_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("customers.csv");
    let mut data = b"id\n".to_vec();
    data.extend_from_slice(b"79927398713\n\"");
    data.extend(std::iter::repeat_n(b'x', 3 << 20));
    data.extend_from_slice(b"\"\n79927398713\n");
    std::fs::write(&csv, &data).unwrap();
    let failures = dir.path().join("failures.csv");
    let out = posdiag(&[
        "id",
        "audit",
        csv.to_str().unwrap(),
        "--column",
        "id",
        "--kind",
        "luhn",
        "--out",
        failures.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        stdout.contains("total: 3  valid: 2  invalid: 1"),
        "{stdout}"
    );
    assert!(stdout.contains("skipped, not read"), "{stdout}");
    let written = std::fs::read_to_string(&failures).unwrap();
    let rows: Vec<&str> = written.lines().collect();
    assert_eq!(rows.len(), 2, "{written}");
    assert!(
        rows[1].starts_with("2,(3145728-byte record),length,"),
        "{written}"
    );
}

#[test]
fn config_files_are_read_with_a_bound() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("c.csv");
    std::fs::write(&csv, "id\n1\n").unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1000000 && exec timeout \"$0\" \"$@\"")
        .arg(TIMEOUT_S)
        .arg(bin("posdiag"))
        .args(["id", "audit", csv.to_str().unwrap(), "--column", "id"])
        .args(["--rules", "r", "--config", "/dev/zero"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("too large to be the daemon's configuration"),
        "{}",
        both(&out)
    );
}

#[test]
fn header_bytes_of_a_binary_file_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("image.bin");
    let mut data = b"\x1b[2J\x1b]0;owned\x07\x00\x7f,\x9b31m\xff\xfe".to_vec();
    data.extend(std::iter::repeat_n(b'A', 5000));
    data.extend_from_slice(b"\r\n1,2\n");
    std::fs::write(&file, &data).unwrap();
    for lang in ["en", "zh-cn"] {
        let out = posdiag(&[
            "--lang",
            lang,
            "id",
            "audit",
            file.to_str().unwrap(),
            "--column",
            "id",
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", both(&out));
        for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = std::str::from_utf8(bytes)
                .unwrap_or_else(|e| panic!("{name} is not UTF-8 ({e}): {bytes:?}"));
            assert!(
                !text.chars().any(|c| c.is_control() && c != '\n'),
                "{name} has raw control characters: {text:?}"
            );
            // Cut: the 5000-byte header is not echoed whole.
            assert!(text.len() < 1000, "{name}: {} bytes", text.len());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("\\u{1b}[2J"), "{stderr}");
    }
}

/// The first group in `/etc/group` other than root and nogroup, to own the
/// socket in the permission test.
fn some_group() -> (String, u32) {
    let text = std::fs::read_to_string("/etc/group").unwrap();
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let gid: u32 = f.get(2)?.parse().ok()?;
            (gid != 0 && gid != 65534).then(|| (f[0].to_owned(), gid))
        })
        .expect("a group in /etc/group")
}

#[test]
fn permission_denied_on_the_socket_names_the_group_to_join() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let sock = dir.path().join("posdiagd.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let endpoint = format!("unix:{}", sock.display());
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let (group, gid) = some_group();
    // Root passes every permission check: the CLI runs as nobody then
    // (setpriv, from util-linux), against a socket only root and the group
    // may use. Otherwise the socket is closed to everyone.
    let mut cmd = Command::new("timeout");
    cmd.arg(TIMEOUT_S);
    if root {
        std::os::unix::fs::chown(&sock, Some(0), Some(gid)).unwrap();
        std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o660)).unwrap();
        cmd.args([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]);
    } else {
        std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    // Not root: the socket keeps the user's own group, whatever its name.
    let group = if root { group } else { String::new() };
    for (lang, words) in [("en", "permission denied on"), ("zh-cn", "无权访问")] {
        let out = Command::new(cmd.get_program())
            .args(cmd.get_args())
            .arg(bin("posdiag"))
            .args(["--lang", lang, "--endpoint", &endpoint, "terminals"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(stderr.contains(words), "{stderr}");
        assert!(stderr.contains(&sock.display().to_string()), "{stderr}");
        assert!(stderr.contains("sudo usermod -aG"), "{stderr}");
        assert!(stderr.contains(&group), "{stderr}");
        assert!(
            !stderr.contains("daemon running") && !stderr.contains("是否在运行"),
            "{stderr}"
        );
    }
}

#[test]
fn card_numbers_never_reach_stdout_or_stderr_in_full() {
    let daemon = Daemon::start(CONFIG);
    let endpoint = format!("unix:{}", daemon.socket.display());
    let grouped = "4111 1111 1111 1111";
    let cases: &[&[&str]] = &[
        &["explain", PAN],
        &["--json", "explain", PAN],
        &["explain", grouped],
        &["doctor", "T1", PAN],
        &["doctor", "T1", "--symptom", PAN],
        &["doctor", "T1", "--id", PAN],
        &["--json", "doctor", "T1", "--symptom", PAN],
        &["check", "T1", "--check", PAN],
        &["check", PAN],
        &["history", PAN],
        &["history", "T1", "--since", PAN],
        &["history", "T1", "--reason", PAN, "--export", "csv"],
        &["--json", "history", "T1", "--check", PAN, "--transitions"],
        &["availability", PAN],
        &["availability", "T1", "--window", PAN],
        &["id", "validate", PAN, grouped],
        &["--json", "id", "validate", PAN],
        &["id", "validate", "--local", PAN],
        &["id", "validate", "--rules", PAN, PAN],
        &["probe", PAN],
        &["--bogus", PAN],
    ];
    for lang in ["en", "zh-cn"] {
        for args in cases {
            let mut all = vec!["--lang", lang, "--endpoint", &endpoint];
            all.extend_from_slice(args);
            let out = posdiag(&all);
            assert_no_pan(&all.join(" "), &out);
        }
    }
    // `id validate` keeps its output: the value masked as before.
    let out = posdiag(&["--endpoint", &endpoint, "id", "validate", PAN]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("VALID    411111******1111 (pan)"),
        "{}",
        both(&out)
    );
}

/// Strings a resident identity number's message must not carry: its birth
/// date, and the region and sex read from it.
const RIC_LEAKS: &[&str] = &[
    "1949-12-31",
    "19491231",
    "1949",
    "female",
    " male",
    "Beijing",
    "北京",
    "女",
    "出生于",
    "(110105",
];

fn assert_no_ric_leak(what: &str, text: &str) {
    for leak in RIC_LEAKS {
        assert!(!text.contains(leak), "{what}: {leak:?} in\n{text}");
    }
}

#[test]
fn resident_ids_are_validated_without_revealing_what_the_mask_hides() {
    let daemon = Daemon::start(CONFIG);
    let endpoint = format!("unix:{}", daemon.socket.display());
    // Valid, and (a check digit that fits) an impossible birth date.
    let ric = "11010519491231002X";
    let bad_date = "110105194913310021";
    for lang in ["en", "zh-cn"] {
        // Under auto the bad date reads as a valid MEID, with a note on
        // what is wrong with it as a resident identity number.
        for (args, code) in [
            (vec!["id", "validate", ric, bad_date], 0),
            (vec!["--json", "id", "validate", ric, bad_date], 0),
            (vec!["id", "validate", "--kind", "cn-ric", ric, bad_date], 1),
            (
                vec![
                    "--json", "id", "validate", "--kind", "cn-ric", ric, bad_date,
                ],
                1,
            ),
            (
                vec![
                    "id", "validate", "--local", "--kind", "cn-ric", ric, bad_date,
                ],
                1,
            ),
        ] {
            let mut all = vec!["--lang", lang, "--endpoint", &endpoint];
            all.extend(args);
            let out = posdiag(&all);
            assert_eq!(out.status.code(), Some(code), "{}", both(&out));
            let text = both(&out);
            assert!(text.contains("110105*******1002X"), "{text}");
            assert_no_ric_leak(&all.join(" "), &text);
        }
    }

    // The audit: its tables and failures.csv.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("customers.csv");
    std::fs::write(
        &csv,
        format!("name,id\nA,{ric}\nB,{bad_date}\nC,{bad_date}\n"),
    )
    .unwrap();
    let failures = dir.path().join("failures.csv");
    for lang in ["en", "zh-cn"] {
        let out = posdiag(&[
            "--lang",
            lang,
            "id",
            "audit",
            csv.to_str().unwrap(),
            "--column",
            "id",
            "--kind",
            "cn-ric",
            "--out",
            failures.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", both(&out));
        assert!(both(&out).contains("component"), "{}", both(&out));
        assert_no_ric_leak("audit", &both(&out));
        let written = std::fs::read_to_string(&failures).unwrap();
        assert_eq!(written.lines().count(), 3, "{written}");
        assert_no_ric_leak("failures.csv", &written);
    }
}

/// Only `term.rs` names the standard streams: every other line of output
/// (the client's, and `posdiag-lab`'s for `demo` and `plugin verify`) goes
/// through its masked channels.
#[test]
fn only_the_term_module_writes_to_stdout_or_stderr() {
    for krate in ["posdiag-cli", "posdiag-lab"] {
        only_term_writes(&workspace().join("crates").join(krate).join("src"));
    }
}

fn only_term_writes(src: &Path) {
    let src = src.to_path_buf();
    let forbidden = [
        "println!",
        "print!",
        "eprintln!",
        "eprint!",
        "dbg!",
        "io::stdout",
        "io::stderr",
        "Stdout",
        "Stderr",
        ".print()",
        "libc::write",
    ];
    let mut offences = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path == src.join("term.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for f in forbidden {
                    if code.contains(f) {
                        offences.push(format!("{}:{}: {}", rel(&path, &src), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "write through crate::term::stdout()/stderr() (or outln!/errln!):\n{}",
        offences.join("\n")
    );
}

fn rel(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}
