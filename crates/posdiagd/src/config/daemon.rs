//! `[daemon]`: where the API listens and how (unix socket mode, whether TCP
//! may leave loopback), history and probe bounds, shutdown, log format.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{Config, ConfigError, Validator};

/// Where the daemon listens when neither the config nor `--listen` says.
pub const DEFAULT_SOCKET: &str = "/run/posdiag/posdiagd.sock";

/// The longest unix socket path bind(2) accepts: `sun_path` holds 108
/// bytes on Linux, including the terminating NUL.
pub const MAX_SOCKET_PATH_BYTES: usize = 107;

/// A listening address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// A unix domain socket (created with mode 0660).
    Unix(PathBuf),
    /// A TCP address: plain HTTP/2 on loopback, mutual TLS elsewhere
    /// (`allow_non_loopback_tcp` with `[auth.tls]`).
    Tcp(SocketAddr),
    /// A TCP address served with mutual TLS whatever the address
    /// (`[auth.tls]`).
    Tls(SocketAddr),
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Unix(p) => write!(f, "unix:{}", p.display()),
            Listen::Tcp(a) => write!(f, "tcp:{a}"),
            Listen::Tls(a) => write!(f, "tls:{a}"),
        }
    }
}

impl Listen {
    /// Parses `unix:PATH`, `tcp:ADDR:PORT` or `tls:ADDR:PORT`.
    pub fn parse(s: &str) -> Result<Listen, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(
                    "unix: needs a socket path, for example unix:/run/posdiag/posdiagd.sock".into(),
                );
            }
            if path.len() > MAX_SOCKET_PATH_BYTES {
                return Err(format!(
                    "the socket path {} is too long for a unix socket ({} bytes; the kernel takes at most {MAX_SOCKET_PATH_BYTES}, the size of sun_path less its NUL); choose a shorter path, for example unix:/run/posdiag/posdiagd.sock",
                    posdiag_core::quote(path),
                    path.len()
                ));
            }
            if path.contains('\0') {
                return Err(format!(
                    "the socket path {} contains a NUL byte; expected a file path",
                    posdiag_core::quote(path)
                ));
            }
            Ok(Listen::Unix(PathBuf::from(path)))
        } else if let Some(addr) = s.strip_prefix("tcp:") {
            addr.parse()
                .map(Listen::Tcp)
                .map_err(|_| format!("{addr:?} is not an IP address and port; expected for example tcp:127.0.0.1:7070 or tcp:[::1]:7070"))
        } else if let Some(addr) = s.strip_prefix("tls:") {
            addr.parse()
                .map(Listen::Tls)
                .map_err(|_| format!("{addr:?} is not an IP address and port; expected for example tls:0.0.0.0:7443 or tls:[::]:7443"))
        } else {
            Err(format!(
                "{s:?} is neither unix:PATH, tcp:ADDR:PORT nor tls:ADDR:PORT"
            ))
        }
    }

    /// Whether this listener is served with mutual TLS.
    pub fn is_tls(&self) -> bool {
        match self {
            Listen::Tls(_) => true,
            Listen::Tcp(a) => !a.ip().is_loopback(),
            Listen::Unix(_) => false,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Plain,
    /// One JSON object per line.
    Json,
}

/// `[daemon]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDaemon {
    listen: Option<Spanned<Vec<Spanned<String>>>>,
    socket_mode: Option<Spanned<String>>,
    allow_non_loopback_tcp: Option<bool>,
    history_per_terminal: Option<Spanned<u32>>,
    max_concurrent_probes: Option<Spanned<u32>>,
    shutdown_timeout_ms: Option<Spanned<u64>>,
    log_format: Option<LogFormat>,
}

/// `[daemon]`, validated.
#[derive(Debug)]
pub(super) struct Daemon {
    pub(super) listen: Vec<Listen>,
    pub(super) socket_mode: u32,
    pub(super) allow_non_loopback_tcp: bool,
    pub(super) history_per_terminal: usize,
    pub(super) max_concurrent_probes: usize,
    pub(super) shutdown_timeout: Duration,
    pub(super) log_format: LogFormat,
}

/// Validates `[daemon]`; a socket mode open to every local user is a warning.
/// `has_tls`: `[auth.tls]` is configured (non-loopback TCP needs it).
pub(super) fn validate(v: &Validator, d: &RawDaemon, has_tls: bool) -> Result<Daemon, ConfigError> {
    let allow_non_loopback_tcp = d.allow_non_loopback_tcp.unwrap_or(false);
    if allow_non_loopback_tcp && !has_tls {
        return Err(v.err(
            None,
            "daemon.allow_non_loopback_tcp",
            "is true, but [auth.tls] is not configured: posdiagd serves other hosts only over mutual TLS. Add [auth.tls] with cert, key and client_ca (and [auth.tls.roles] for the help desk's certificates), or remove allow_non_loopback_tcp and listen on 127.0.0.1",
        ));
    }
    let listen = match &d.listen {
        None => vec![Listen::Unix(PathBuf::from(DEFAULT_SOCKET))],
        Some(list) if list.get_ref().is_empty() => {
            return Err(v.at(list, "daemon.listen", "is empty; give at least one address, for example [\"unix:/run/posdiag/posdiagd.sock\"]"));
        }
        Some(list) => {
            let mut out = Vec::new();
            for item in list.get_ref() {
                let l =
                    Listen::parse(item.get_ref()).map_err(|m| v.at(item, "daemon.listen", m))?;
                check_loopback(&l, allow_non_loopback_tcp, has_tls)
                    .map_err(|m| v.at(item, "daemon.listen", m))?;
                out.push(l);
            }
            out
        }
    };
    let socket_mode = match &d.socket_mode {
        None => 0o660,
        Some(m) => u32::from_str_radix(m.get_ref().trim_start_matches("0o"), 8)
            .ok()
            .filter(|mode| *mode <= 0o777)
            .ok_or_else(|| {
                v.at(
                    m,
                    "daemon.socket_mode",
                    format!(
                        "{:?} is not an octal mode; expected for example \"0660\"",
                        m.get_ref()
                    ),
                )
            })?,
    };
    if let Some(m) = &d.socket_mode
        && socket_mode & 0o007 != 0
    {
        v.warn(
            Some(m.span()),
            "daemon.socket_mode",
            format!(
                "{} lets every local user connect; they get [auth.unix] others_tier (read by default); expected for example \"0660\" with clients in the socket's group",
                posdiag_core::quote(m.get_ref()),
            ),
        );
    }
    let history = v.range_u32(
        &d.history_per_terminal,
        "daemon.history_per_terminal",
        1,
        100_000,
        500,
    )?;
    let probes = v.range_u32(
        &d.max_concurrent_probes,
        "daemon.max_concurrent_probes",
        1,
        1024,
        16,
    )?;
    let shutdown_ms = v.range_u64(
        &d.shutdown_timeout_ms,
        "daemon.shutdown_timeout_ms",
        100,
        600_000,
        5000,
    )?;
    Ok(Daemon {
        listen,
        socket_mode,
        allow_non_loopback_tcp,
        history_per_terminal: history as usize,
        max_concurrent_probes: probes as usize,
        shutdown_timeout: Duration::from_millis(shutdown_ms),
        log_format: d.log_format.unwrap_or_default(),
    })
}

fn check_loopback(l: &Listen, allowed: bool, has_tls: bool) -> Result<(), String> {
    match l {
        Listen::Tcp(a) | Listen::Tls(a) if !a.ip().is_loopback() && !allowed => Err(format!(
            "{a} is not a loopback address; other hosts may reach posdiagd only over mutual TLS: set daemon.allow_non_loopback_tcp = true and configure [auth.tls] (cert, key, client_ca), or listen on 127.0.0.1 or ::1"
        )),
        Listen::Tls(a) if !has_tls => Err(format!(
            "tls:{a} needs [auth.tls] (cert, key and client_ca); add it, or listen on tcp:127.0.0.1:PORT"
        )),
        _ => Ok(()),
    }
}

/// Checks command-line listen addresses against the loopback and TLS rules.
pub fn check_listen(l: &Listen, config: &Config) -> Result<(), String> {
    check_loopback(l, config.allow_non_loopback_tcp, config.auth.tls.is_some())
}
