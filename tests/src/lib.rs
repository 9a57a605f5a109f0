//! Harness for the end-to-end tests: builds and starts the real `posdiagd`
//! binary on a private unix socket, waits for its systemd-style readiness
//! notification (no sleeping), reloads its configuration the way systemd
//! does (SIGHUP, then RELOADING=1 and READY=1 on the notify socket), and
//! hands out gRPC channels to it.

#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test harness: a failure here is a test failure"
)]

pub mod obs;
pub mod pki;
pub mod python;
pub mod web;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint, Uri};

/// The directory holding the workspace's built binaries (`target/debug`),
/// after making sure `posdiagd`, `posdiag` and `posdiag-lab` (which runs
/// `posdiag demo` and `posdiag plugin verify`) there are up to date.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // target/debug/deps/<test binary> -> target/debug
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "posdiagd",
            "--bin",
            "posdiagd",
            "-p",
            "posdiag-cli",
            "--bin",
            "posdiag",
            "-p",
            "posdiag-plugin-host",
            "--bin",
            "posdiag-plugin-host",
            "-p",
            "posdiag-lab",
            "--bin",
            "posdiag-lab",
        ]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd
            .status()
            .expect("running cargo build for the binaries under test");
        assert!(status.success(), "building posdiagd failed");
        dir
    })
}

/// The workspace root (the README's commands run from here).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_owned()
}

/// `sh plugins/assemble.sh [--release] OUT`, the README's one command, into
/// `out`: the reference and example bundles a daemon can load.
pub fn assemble_bundles(out: &Path, release: bool) {
    let assembled =
        posdiag_lab::store::assemble(out, release).expect("running sh plugins/assemble.sh");
    assert!(assembled, "plugins/assemble.sh is not in the source tree");
}

/// Path of a built binary.
pub fn bin(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// A running `posdiagd`.
#[derive(Debug)]
pub struct Daemon {
    child: Option<Child>,
    /// The unix socket it listens on.
    pub socket: PathBuf,
    /// Its systemd notification socket (`NOTIFY_SOCKET`).
    notify: UnixDatagram,
    dir: tempfile::TempDir,
    /// Listen addresses besides the unix socket (`tcp:…`, `tls:…`).
    extra_listen: Vec<String>,
}

/// The configuration file [`Daemon::start`] writes: the private `[daemon]`
/// section, then the test's `config`, then (unless the test configures one)
/// a history in the daemon's own directory, never in /var/lib/posdiag.
fn config_text(dir: &Path, socket: &Path, config: &str, extra_listen: &[String]) -> String {
    let extra: String = extra_listen.iter().map(|l| format!(", \"{l}\"")).collect();
    let mut text = format!(
        "[daemon]\nlisten = [\"unix:{}\"{extra}]\nshutdown_timeout_ms = 3000\n{config}",
        socket.display()
    );
    if !config.contains("[history]") {
        text.push_str(&format!(
            "\n[history]\npath = \"{}\"\n",
            dir.join("history.db").display()
        ));
    }
    text
}

/// Lines the harness puts before a test's configuration (so a test can say
/// on which line of the file its own line N is: `CONFIG_PREAMBLE_LINES + N`).
pub const CONFIG_PREAMBLE_LINES: usize = 3;

impl Daemon {
    /// Starts posdiagd with `config` (the `[daemon] listen` is set here) and
    /// returns once it has told the notify socket `READY=1`.
    pub fn start(config: &str) -> Daemon {
        Daemon::start_inner(config, None, &[], &[])
    }

    /// [`Daemon::start`] with `env` added to the daemon's environment
    /// (e.g. `WATCHDOG_USEC`, as systemd sets it), its log kept as
    /// [`Daemon::start_logging`] at `filter`.
    pub fn start_with_env(config: &str, env: &[(&str, &str)], filter: &str) -> Daemon {
        Daemon::start_inner(config, Some(filter), &[], env)
    }

    /// The next message the daemon sends to its notify socket, as lines;
    /// `None` when none comes within `wait`.
    pub fn next_notification(&self, wait: Duration) -> Option<Vec<String>> {
        self.notify.set_read_timeout(Some(wait)).ok()?;
        let mut buf = [0u8; 4096];
        let got = self.notify.recv_retrying(&mut buf);
        let _ = self.notify.set_read_timeout(Some(Duration::from_secs(60)));
        let n = got.ok()?;
        Some(
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .map(str::to_owned)
                .collect(),
        )
    }

    /// [`Daemon::start`] listening also on `extra` (`tcp:127.0.0.1:PORT`,
    /// `tls:127.0.0.1:PORT`), with its log kept as [`Daemon::start_logging`].
    pub fn start_listening(config: &str, extra: &[String], filter: &str) -> Daemon {
        Daemon::start_inner(config, Some(filter), extra, &[])
    }

    /// [`Daemon::start`] with the daemon's log (stderr, at `filter`) kept in
    /// a file that [`Daemon::log`] reads.
    pub fn start_logging(config: &str, filter: &str) -> Daemon {
        Daemon::start_inner(config, Some(filter), &[], &[])
    }

    /// The file its log goes to (started with [`Daemon::start_logging`]).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("posdiagd.log")
    }

    /// What the daemon has logged so far (started with [`Daemon::start_logging`]).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("posdiagd.log")).unwrap_or_default()
    }

    fn start_inner(
        config: &str,
        log: Option<&str>,
        extra_listen: &[String],
        env: &[(&str, &str)],
    ) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("posdiagd.sock");
        let notify_path = dir.path().join("notify.sock");
        let notify = UnixDatagram::bind(&notify_path).unwrap();
        // A safety net against a daemon that never becomes ready, not a timing assertion.
        notify
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let config_path = dir.path().join("posdiagd.toml");
        std::fs::write(
            &config_path,
            config_text(dir.path(), &socket, config, extra_listen),
        )
        .unwrap();
        let mut cmd = Command::new(bin("posdiagd"));
        cmd.arg("--config")
            .arg(&config_path)
            .env("NOTIFY_SOCKET", &notify_path)
            .env("POSDIAG_LOG", log.unwrap_or("warn"))
            .envs(env.iter().copied())
            .stdin(Stdio::null());
        if log.is_some() {
            cmd.stderr(std::fs::File::create(dir.path().join("posdiagd.log")).unwrap());
        }
        let child = cmd.spawn().unwrap();
        let mut buf = [0u8; 256];
        let n = notify
            .recv_retrying(&mut buf)
            .expect("posdiagd did not report READY=1");
        assert_eq!(&buf[..n], b"READY=1");
        Daemon {
            child: Some(child),
            socket,
            notify,
            dir,
            extra_listen: extra_listen.to_vec(),
        }
    }

    /// Starts `cmd`, a posdiagd with its arguments (one extracted from the
    /// Debian package, say) that listens on `socket`, and returns once it
    /// has told the notify socket `READY=1`. The test owns the configuration.
    pub fn start_command(mut cmd: Command, socket: PathBuf) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let notify_path = dir.path().join("notify.sock");
        let notify = UnixDatagram::bind(&notify_path).unwrap();
        // A safety net against a daemon that never becomes ready, not a timing assertion.
        notify
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let child = cmd
            .env("NOTIFY_SOCKET", &notify_path)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut buf = [0u8; 256];
        let n = notify
            .recv_retrying(&mut buf)
            .expect("posdiagd did not report READY=1");
        assert_eq!(&buf[..n], b"READY=1");
        Daemon {
            child: Some(child),
            socket,
            notify,
            dir,
            extra_listen: Vec::new(),
        }
    }

    /// The configuration file the daemon reads (and reloads).
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("posdiagd.toml")
    }

    /// Replaces the configuration file with `config` (after the same
    /// `[daemon]` section [`Daemon::start`] wrote), sends SIGHUP and waits
    /// for the reload to end as systemd does: `RELOADING=1` (with
    /// `MONOTONIC_USEC`), then `READY=1`. Returns the `STATUS=` the daemon
    /// sent with `READY=1`.
    pub fn reload(&self, config: &str) -> String {
        std::fs::write(
            self.config_path(),
            config_text(self.dir.path(), &self.socket, config, &self.extra_listen),
        )
        .unwrap();
        self.signal("HUP");
        let reloading = self.notification();
        assert!(
            reloading.iter().any(|l| l == "RELOADING=1"),
            "expected RELOADING=1 first, got {reloading:?}"
        );
        let usec = reloading
            .iter()
            .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
            .unwrap_or_else(|| panic!("RELOADING=1 comes with MONOTONIC_USEC: {reloading:?}"));
        assert!(usec.parse::<u64>().is_ok_and(|n| n > 0), "{reloading:?}");
        let ready = self.notification();
        assert!(
            ready.iter().any(|l| l == "READY=1"),
            "expected READY=1 after the reload, got {ready:?}"
        );
        ready
            .iter()
            .find_map(|l| l.strip_prefix("STATUS="))
            .unwrap_or_default()
            .to_owned()
    }

    /// The next message on the notify socket, as its lines.
    fn notification(&self) -> Vec<String> {
        let mut buf = [0u8; 4096];
        let n = self
            .notify
            .recv_retrying(&mut buf)
            .expect("posdiagd sent no notification");
        String::from_utf8_lossy(&buf[..n])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// A gRPC channel to the daemon.
    pub async fn channel(&self) -> Channel {
        let path = self.socket.clone();
        Endpoint::try_from("http://[::1]:50051")
            .unwrap()
            .connect_with_connector(tower::service_fn(move |_: Uri| {
                let path = path.clone();
                async move {
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                        tokio::net::UnixStream::connect(path).await?,
                    ))
                }
            }))
            .await
            .unwrap()
    }

    /// The daemon's process id (e.g. to read `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .expect("the daemon was already terminated")
    }

    /// The temporary directory the daemon's files live in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sends `signal` (a name for kill(1): "HUP", "TERM") to the daemon.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Whether the daemon process is still running (not exited, not a zombie).
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
        child.wait().unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs a built binary to completion.
pub fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(bin(binary))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The `p`th percentile (nearest rank) of durations sorted ascending.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// A `/proc/<pid>/status` field in KiB (`"VmRSS:"`, `"VmHWM:"`); 0 once the
/// process is gone.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// `recv` on a datagram socket (the notify or journal stand-in), retried when
/// a signal interrupts it: a receive timeout (`SO_RCVTIMEO`) makes the kernel
/// return EINTR instead of restarting the call whenever a signal with a
/// handler (a child's SIGCHLD under tokio's process driver) reaches the test
/// process, which would read as "the daemon never said READY=1".
pub trait RecvRetry {
    /// As `recv`, but an interrupted call is made again.
    fn recv_retrying(&self, buf: &mut [u8]) -> std::io::Result<usize>;
}

impl RecvRetry for std::os::unix::net::UnixDatagram {
    fn recv_retrying(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.recv(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }
}

/// What a `RunDoctor` stream said, read to its end.
#[derive(Debug)]
pub struct DoctorRun {
    /// The symptom as the doctor read it (free text or EMV data), if any.
    pub symptom: Option<posdiag_proto::v1::SymptomExplained>,
    /// Every finding of the checks it ran, in the order they came.
    pub findings: Vec<posdiag_proto::v1::Finding>,
    /// The diagnosis the stream ends with.
    pub diagnosis: posdiag_proto::v1::Diagnosis,
}

/// Reads a `RunDoctor` stream to its end; panics on a stream error or a
/// stream that ends without a diagnosis.
pub async fn read_doctor(
    mut stream: tonic::Streaming<posdiag_proto::v1::DoctorEvent>,
) -> DoctorRun {
    use posdiag_proto::v1::{check_event, doctor_event};
    use tokio_stream::StreamExt;
    let (mut symptom, mut findings, mut diagnosis) = (None, Vec::new(), None);
    while let Some(ev) = stream.next().await {
        match ev.expect("the doctor's stream").event {
            Some(doctor_event::Event::Symptom(s)) => symptom = Some(s),
            Some(doctor_event::Event::Check(c)) => {
                if let Some(check_event::Event::Finding(f)) = c.event {
                    findings.push(f);
                }
            }
            Some(doctor_event::Event::Diagnosis(d)) => diagnosis = Some(d),
            None => panic!("a doctor event without an event"),
        }
    }
    DoctorRun {
        symptom,
        findings,
        diagnosis: diagnosis.expect("the stream ends with a diagnosis"),
    }
}
