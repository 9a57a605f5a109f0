//! End-to-end regressions for the configuration hardening: files the
//! configuration names that are not small regular files (a device, a FIFO,
//! a directory, a huge sparse file), unix socket paths over the kernel's
//! limit, a non-loopback `--listen`, a socket mode open to every user, and
//! the example configuration's listeners, each against the real `posdiagd`.
//!
//! Every run has a deadline: a regression that makes the daemon block (on a
//! FIFO) fails the test and kills the daemon instead of hanging the suite.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use posdiag_tests::RecvRetry;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use posdiag_tests::bin;

/// Long enough for a loaded machine, short enough that a hang is obvious.
const DEADLINE: Duration = Duration::from_secs(60);

/// Kills the child when dropped, so a failed assertion leaves no daemon.
struct Killer(u32);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// Waits for `child` to exit within [`DEADLINE`]; kills it and fails otherwise.
fn finish(child: Child, what: &str) -> Output {
    let _killer = Killer(child.id());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(DEADLINE) {
        Ok(out) => out.unwrap(),
        Err(_) => panic!("posdiagd {what} did not exit within {DEADLINE:?}: it blocked"),
    }
}

/// Runs posdiagd with `args` to completion, within the deadline.
fn posdiagd(args: &[&str]) -> Output {
    let child = Command::new(bin("posdiagd"))
        .args(args)
        .env("POSDIAG_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child, &args.join(" "))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// A sparse file of `len` bytes: no disk is used.
fn sparse(path: &Path, len: u64) {
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

/// Writes `text` as `posdiagd.toml` in `dir`.
fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("posdiagd.toml");
    // The history goes to the test's directory, never /var/lib/posdiag.
    let history = format!("path = \"{}\"", dir.join("history.db").display());
    let text = if text.contains("\n[history]") {
        text.replace("path = \"/var/lib/posdiag/history.db\"", &history)
    } else {
        format!("{text}\n[history]\n{history}\n")
    };
    std::fs::write(&path, text).unwrap();
    path
}

/// Both ways a configuration is loaded: the check and a real start (which
/// must fail before binding anything).
fn check_and_start(config: &Path) -> [(&'static str, Output); 2] {
    let c = config.to_str().unwrap();
    ["--check-config", "--config"].map(|flag| (flag, posdiagd(&[flag, c])))
}

#[test]
fn a_ca_file_that_is_not_a_small_regular_file_exits_64_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("ca.fifo"));
    std::fs::create_dir(dir.path().join("ca.d")).unwrap();
    sparse(&dir.path().join("huge.pem"), 1 << 30);
    for (ca_file, problem) in [
        ("/dev/zero", "is a character device, not a regular file"),
        ("ca.fifo", "is a FIFO (named pipe), not a regular file"),
        ("ca.d", "is a directory, not a regular file"),
        (
            "huge.pem",
            "is 1073741824 bytes (1024 MiB) or more, over the limit",
        ),
    ] {
        let config = write_config(
            dir.path(),
            &format!(
                "[daemon]\nlisten = [\"unix:{}/s.sock\"]\n\n[hosts.acq]\naddress = \"127.0.0.1\"\nport = 5000\n[hosts.acq.tls]\nca_file = \"{ca_file}\"\n",
                dir.path().display()
            ),
        );
        for (flag, out) in check_and_start(&config) {
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(64), "{flag} {ca_file}: {err}");
            let located = format!("{}:8:11: hosts.acq.tls.ca_file: ", config.display());
            assert!(
                err.contains(&located) && err.contains(problem),
                "{flag} {ca_file}: {err}"
            );
            assert!(!dir.path().join("s.sock").exists(), "bound before failing");
        }
    }
}

#[test]
fn the_config_file_itself_must_be_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("posdiagd.toml");
    mkfifo(&fifo);
    for path in [Path::new("/dev/zero"), fifo.as_path()] {
        for (flag, out) in check_and_start(path) {
            assert_eq!(out.status.code(), Some(64), "{flag} {}", path.display());
            assert!(
                stderr(&out).contains("not a regular file; expected a TOML configuration file"),
                "{flag}: {}",
                stderr(&out)
            );
        }
    }
}

/// The loading policy for vendor code tables: a bad file is reported with
/// `codes.dir`'s location and skipped; the daemon runs with the others.
#[test]
fn a_code_table_that_is_a_fifo_is_rejected_with_a_warning_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let codes = dir.path().join("codes.d");
    std::fs::create_dir(&codes).unwrap();
    mkfifo(&codes.join("acme.tsv"));
    sparse(&codes.join("huge.tsv"), 1 << 30);
    let config = write_config(dir.path(), "[codes]\ndir = \"codes.d\"\n");
    let out = posdiagd(&["--check-config", config.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let located = format!(
        "posdiagd: warning: {}:2:7: codes.dir: vendor code table rejected: ",
        config.display()
    );
    for (file, problem) in [
        ("acme.tsv", "is a FIFO (named pipe), not a regular file"),
        (
            "huge.tsv",
            "is 1073741824 bytes (1024 MiB) or more, over the limit",
        ),
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&located) && l.contains(file) && l.contains(problem)),
            "{file}: {err}"
        );
    }
}

/// A daemon started with `config` (its listen set to a socket in `dir`),
/// READY=1 awaited with a deadline, then stopped with SIGTERM: its exit and
/// what it logged.
fn start_and_stop(dir: &Path, config: &str) -> Output {
    let socket = dir.join("d.sock");
    let notify_path = dir.join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(DEADLINE)).unwrap();
    let path = write_config(
        dir,
        &format!(
            "[daemon]\nlisten = [\"unix:{}\"]\nshutdown_timeout_ms = 3000\n{config}",
            socket.display()
        ),
    );
    let child = Command::new(bin("posdiagd"))
        .arg("--config")
        .arg(&path)
        .env("NOTIFY_SOCKET", &notify_path)
        .env("POSDIAG_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let killer = Killer(pid);
    let mut buf = [0u8; 64];
    let ready = notify.recv_retrying(&mut buf);
    if !matches!(ready, Ok(n) if &buf[..n] == b"READY=1") {
        drop(killer);
        let out = finish(child, "after no READY=1");
        panic!(
            "posdiagd did not report READY=1 within {DEADLINE:?}: {}",
            stderr(&out)
        );
    }
    let term = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    finish(child, "after SIGTERM")
}

/// The loading policy for plugin bundles: a bundle whose manifest is a FIFO
/// or huge is refused (logged, listed by `posdiag plugins`) and the daemon
/// starts; before, the scan blocked on the FIFO and READY=1 never came.
#[test]
fn a_plugin_manifest_that_is_a_fifo_or_huge_refuses_the_bundle_and_the_daemon_starts() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    for (name, make) in [
        ("fifo", mkfifo as fn(&Path)),
        ("huge", |p: &Path| sparse(p, 1 << 30)),
    ] {
        let bundle = plugins.join(name);
        std::fs::create_dir_all(&bundle).unwrap();
        make(&bundle.join("manifest.toml"));
        std::fs::set_permissions(&bundle, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&plugins, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = start_and_stop(
        dir.path(),
        &format!("[plugins]\ndir = \"{}\"\n", plugins.display()),
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    for problem in [
        "fifo: manifest.toml is a FIFO (named pipe), not a regular file",
        "huge: manifest.toml is 1073741824 bytes (1024 MiB) or more, over the limit of 65536 bytes (64 KiB)",
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains("plugin bundle refused") && l.contains(problem)),
            "{problem}: {err}"
        );
    }
}

#[test]
fn a_unix_socket_path_over_107_bytes_exits_64_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join(format!(
        "{}.sock",
        "s".repeat(120 - dir.path().as_os_str().len() - 6)
    ));
    let long = long.to_str().unwrap();
    assert_eq!(long.len(), 120);
    let config = write_config(
        dir.path(),
        &format!("[daemon]\nlisten = [\"unix:{long}\"]\n"),
    );
    for (flag, out) in check_and_start(&config) {
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(64), "{flag}: {err}");
        assert!(
            err.contains(&format!(
                "{}:2:11: daemon.listen: the socket path ",
                config.display()
            )) && err
                .contains("too long for a unix socket (120 bytes; the kernel takes at most 107"),
            "{flag}: {err}"
        );
    }
    // The same path on the command line.
    let ok = write_config(dir.path(), "");
    let out = posdiagd(&[
        "--config",
        ok.to_str().unwrap(),
        "--listen",
        &format!("unix:{long}"),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(
        err.contains("too long for a unix socket (120 bytes"),
        "{err}"
    );
    assert!(!Path::new(long).exists());
}

#[test]
fn a_non_loopback_listen_on_the_command_line_exits_64() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let out = posdiagd(&[
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "tcp:0.0.0.0:1",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(
        err.contains("--listen tcp:0.0.0.0:1: 0.0.0.0:1 is not a loopback address")
            && err.contains("daemon.allow_non_loopback_tcp = true"),
        "{err}"
    );
}

#[test]
fn a_socket_mode_open_to_others_is_warned_about_at_check_and_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let want = "daemon.socket_mode: \"0666\" lets every local user connect";
    let config = write_config(dir.path(), "[daemon]\nsocket_mode = \"0666\"\n");
    let out = posdiagd(&["--check-config", config.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "posdiagd: warning: {}:2:15: {want}",
            config.display()
        )),
        "{err}"
    );

    let out = start_and_stop(dir.path(), "socket_mode = \"0666\"\n");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines().any(|l| l.contains("WARN") && l.contains(want)),
        "{err}"
    );
}

/// Inodes of the TCP sockets in LISTEN state in `/proc/net/tcp{,6}`.
fn listening_tcp_inodes() -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            if f.len() > 9 && f[3] == "0A" {
                // 127.0.0.0/8 (little-endian hex: the last byte is 7F) or ::1.
                let addr = f[1].split(':').next().unwrap_or_default();
                let loopback = (addr.len() == 8 && addr.ends_with("7F"))
                    || addr == "00000000000000000000000001000000";
                out.push((f[9].to_owned(), loopback));
            }
        }
    }
    out
}

/// The example configuration, started as it ships (only its socket moved to
/// a temporary directory, its web console and /metrics to free ports), opens
/// no TCP listener beyond loopback: the gRPC API is on the unix socket, the
/// console (for the people at the counter) and /metrics on 127.0.0.1.
#[test]
fn the_example_config_listens_on_tcp_only_on_loopback() {
    let example =
        std::fs::read_to_string(posdiag_tests::workspace().join("deploy/posdiagd.toml")).unwrap();
    let out = posdiagd(&[
        "--check-config",
        posdiag_tests::workspace()
            .join("deploy/posdiagd.toml")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));

    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("d.sock");
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(DEADLINE)).unwrap();
    let text = example.replace(
        "\nlisten = [\"unix:/run/posdiag/posdiagd.sock\"",
        &format!("\nlisten = [\"unix:{}\"", socket.display()),
    );
    assert_ne!(
        text, example,
        "the example's listen line moved; update this test"
    );
    // The console and /metrics (both on loopback in the example) on free ports.
    let text = text
        .replace(
            "\nlisten = \"127.0.0.1:8631\"",
            "\nlisten = \"127.0.0.1:0\"",
        )
        .replace(
            "\nlisten = \"tcp:127.0.0.1:9842\"",
            "\nlisten = \"tcp:127.0.0.1:0\"",
        );
    // Scheduled checks would reach for the example's hosts: off.
    let text = text.replace("check_interval_s = ", "check_interval_s = 0 # ");
    let config = write_config(dir.path(), &text);
    let child = Command::new(bin("posdiagd"))
        .arg("--config")
        .arg(&config)
        .env("NOTIFY_SOCKET", &notify_path)
        .env("POSDIAG_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _killer = Killer(pid);
    let mut buf = [0u8; 64];
    let n = notify
        .recv_retrying(&mut buf)
        .expect("no READY=1 from the example config");
    assert_eq!(&buf[..n], b"READY=1");
    // Every socket the daemon holds, against every listening TCP socket.
    let listening = listening_tcp_inodes();
    let mut held = 0;
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let target = std::fs::read_link(fd.unwrap().path()).unwrap_or_default();
        let target = target.to_string_lossy();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|s| s.strip_suffix(']'))
        {
            held += 1;
            assert!(
                !listening
                    .iter()
                    .any(|(l, loopback)| l == inode && !loopback),
                "the example config listens on TCP beyond loopback (socket inode {inode})"
            );
        }
    }
    assert!(
        held > 0,
        "the daemon holds no socket at all: the check saw nothing"
    );
    assert!(socket.exists());
    let term = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = finish(child, "after SIGTERM");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn the_errors_that_had_no_location_name_file_line_and_column_and_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let host = "[hosts.acq]\naddress = \"127.0.0.1\"\nport = 1\n";
    for (toml, at, want) in [
        ("[daemon]\nlisten = []\n", "2:10", "daemon.listen: is empty"),
        (
            &format!("{host}[hosts.acq.exchange]\nsend = \"a\"\n") as &str,
            "4:1",
            "hosts.acq.exchange: needs both a non-empty send",
        ),
        (
            "[rules.\"r 1\"]\nmin_length = 1\n",
            "1:8",
            "rules.r 1: rule set names may use only",
        ),
    ] {
        let config = write_config(dir.path(), toml);
        for args in [
            vec!["--check-config", config.to_str().unwrap()],
            vec!["--config", config.to_str().unwrap()],
        ] {
            let out = posdiagd(&args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(64), "{args:?}: {err}");
            assert!(
                err.contains(&format!("{}:{at}: {want}", config.display())),
                "{args:?}: {err}"
            );
        }
    }
}
