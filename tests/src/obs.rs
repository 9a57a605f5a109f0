//! Helpers of the observability tests: Debian tools installed on first use
//! (`scripts/ensure-debian-packages`, never skipped), a free loopback
//! port, a plain HTTP GET, polling with a deadline, and the simulated store
//! with a refusing acquirer that the metrics, alert and Prometheus tests
//! scrape.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The path of `tool`, after installing Debian's `package` when it is
/// missing. Panics with the installer's reason when it cannot be had.
pub fn debian_tool(tool: &str, package: &str) -> PathBuf {
    let find = || {
        ["/usr/bin", "/usr/sbin", "/bin"]
            .iter()
            .map(|d| PathBuf::from(d).join(tool))
            .find(|p| p.exists())
    };
    if let Some(p) = find() {
        return p;
    }
    let script = crate::workspace().join("scripts/ensure-debian-packages");
    let out = Command::new(&script)
        .arg(package)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{tool} is needed and could not be installed (Debian package {package}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    find().unwrap_or_else(|| panic!("{package} is installed but has no {tool}"))
}

/// `promtool`, from Debian's `prometheus` package.
pub fn promtool() -> PathBuf {
    debian_tool("promtool", "prometheus")
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral loopback port")
}

/// `GET path` over HTTP/1.1: the status code and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Polls `f` until it returns `Some`, or panics with `what` after `limit`
/// (a safety net, not a timing assertion).
pub fn poll<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The metric names a Prometheus text exposition defines (`# TYPE` lines).
pub fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                names.insert(name.to_owned());
                if kind == "histogram" || kind == "summary" {
                    for s in ["_sum", "_count", "_bucket"] {
                        names.insert(format!("{name}{s}"));
                    }
                }
            }
        }
    }
    names
}

/// A small simulated store like the demo's: acquirer hosts that are
/// healthy (TLS and an exchange), refusing connections, and serving an
/// expired certificate, each used by one terminal (T1, T2, T5), plus,
/// with `plugins` (assembled bundles), the lab's store (ZVT terminals on a
/// pty and TCP, a nexo terminal, an ISO 8583 acquirer) served by the
/// reference plugins. Keep the value alive while the daemon runs.
#[derive(Debug)]
pub struct SimStore {
    /// The daemon configuration of these terminals and hosts.
    pub config: String,
    hosts: Vec<posdiag_sim::host::RunningHost>,
    store: Option<posdiag_lab::store::Store>,
    _dir: tempfile::TempDir,
}

impl SimStore {
    /// Starts the simulators.
    pub async fn start(plugins: Option<&std::path::Path>) -> SimStore {
        use posdiag_lab::store::{Host, Terminal};
        use posdiag_sim::host::{self, Answer, Fault, HostSimConfig, TlsMode};
        let dir = tempfile::tempdir().unwrap();
        let pki = std::sync::Arc::new(posdiag_sim::pki::Pki::generate().unwrap());
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, pki.ca_pem()).unwrap();
        let mut config = String::new();
        let mut hosts = Vec::new();
        let scenes = [
            ("T1", "acquirer-ok", Fault::Healthy, TlsMode::Valid),
            ("T2", "acquirer-down", Fault::Refusing, TlsMode::Plain),
            ("T5", "acquirer-expired", Fault::Healthy, TlsMode::Expired),
        ];
        for (terminal, name, fault, tls) in scenes {
            let sim = host::start(HostSimConfig {
                fault,
                tls,
                answer: Answer::Reply {
                    expect_prefix: b"PING".to_vec(),
                    reply: b"PONG\n".to_vec(),
                },
                pki: Some(pki.clone()),
                ..HostSimConfig::default()
            })
            .await
            .unwrap();
            let h = Host {
                ca_file: (tls != TlsMode::Plain).then(|| ca.display().to_string()),
                exchange: Some(("PING\n".into(), "PONG".into())),
                ..Host::new(name, "localhost", sim.addr().port())
            };
            config.push_str(&h.to_string());
            config.push_str(
                &Terminal::new(terminal)
                    .vendor("Simulated")
                    .model("posdiag-sim")
                    .host(name)
                    .to_string(),
            );
            hosts.push(sim);
        }
        let store = match plugins {
            Some(p) => {
                let s = posdiag_lab::store::Store::start(p, dir.path(), posdiag_core::Lang::En)
                    .await
                    .unwrap();
                config.push_str(&s.config);
                Some(s)
            }
            None => None,
        };
        SimStore {
            config,
            hosts,
            store,
            _dir: dir,
        }
    }

    /// Stops the simulators.
    pub async fn shutdown(self) {
        for h in self.hosts {
            h.shutdown().await;
        }
        if let Some(s) = self.store {
            s.shutdown().await;
        }
    }
}
