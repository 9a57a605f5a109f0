//! `[metrics]`: the Prometheus `/metrics` listener (loopback unless
//! `daemon.allow_non_loopback_tcp`, the gRPC TCP listener's rule) and the
//! optional textfile for node_exporter's textfile collector.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Validator};

/// `[metrics]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    listen: Option<Spanned<String>>,
    textfile: Option<Spanned<String>>,
    textfile_interval_ms: Option<Spanned<u64>>,
}

/// The validated `[metrics]`. Both outputs are off unless configured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsConfig {
    /// Where `/metrics` is served (plain HTTP), `None` for nowhere.
    pub listen: Option<SocketAddr>,
    /// Where the same text is written (temporary file, then rename).
    pub textfile: Option<PathBuf>,
    /// How often the textfile is rewritten.
    pub textfile_interval: Duration,
}

/// Validates `[metrics]`; a relative `textfile` is taken from `base`.
/// `allow_non_loopback`: `daemon.allow_non_loopback_tcp`.
pub(super) fn validate(
    v: &Validator,
    raw: &RawMetrics,
    base: &Path,
    allow_non_loopback: bool,
) -> Result<MetricsConfig, ConfigError> {
    let listen = match &raw.listen {
        None => None,
        Some(l) => {
            let text = l.get_ref();
            let addr = text
                .strip_prefix("tcp:")
                .and_then(|a| a.parse::<SocketAddr>().ok())
                .ok_or_else(|| {
                    v.at(
                        l,
                        "metrics.listen",
                        format!(
                            "{} is not tcp:ADDR:PORT; expected for example \"tcp:127.0.0.1:9842\" (Prometheus scrapes over TCP)",
                            posdiag_core::quote(text)
                        ),
                    )
                })?;
            if !addr.ip().is_loopback() && !allow_non_loopback {
                return Err(v.at(
                    l,
                    "metrics.listen",
                    format!(
                        "{addr} is not a loopback address; the store's agent scrapes posdiagd on the same machine: listen on 127.0.0.1 or ::1, or set daemon.allow_non_loopback_tcp = true to serve the network"
                    ),
                ));
            }
            Some(addr)
        }
    };
    let textfile = match &raw.textfile {
        None => None,
        Some(p) if p.get_ref().trim().is_empty() => None,
        Some(p) => {
            let path = base.join(p.get_ref());
            if path.is_dir() || path.extension().is_none_or(|e| e != "prom") {
                return Err(v.at(
                    p,
                    "metrics.textfile",
                    format!(
                        "{} is not a .prom file name; node_exporter's textfile collector reads *.prom, e.g. \"/var/lib/prometheus/node-exporter/posdiag.prom\"",
                        path.display()
                    ),
                ));
            }
            Some(path)
        }
    };
    let interval = v.range_u64(
        &raw.textfile_interval_ms,
        "metrics.textfile_interval_ms",
        1_000,
        3_600_000,
        15_000,
    )?;
    Ok(MetricsConfig {
        listen,
        textfile,
        textfile_interval: Duration::from_millis(interval),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn check(text: &str) -> Result<super::MetricsConfig, String> {
        super::super::parse(text, "posdiagd.toml", Path::new("/etc/posdiag"))
            .map(|c| c.metrics)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn metrics_are_off_unless_configured_and_loopback_unless_allowed() {
        let off = check("").unwrap();
        assert_eq!((off.listen, off.textfile), (None, None));
        let on =
            check("[metrics]\nlisten = \"tcp:127.0.0.1:9842\"\ntextfile = \"node/posdiag.prom\"\n")
                .unwrap();
        assert_eq!(on.listen, Some("127.0.0.1:9842".parse().unwrap()));
        assert_eq!(
            on.textfile.as_deref(),
            Some(Path::new("/etc/posdiag/node/posdiag.prom"))
        );
        assert_eq!(on.textfile_interval.as_millis(), 15_000);
        let cases = [
            (
                "[metrics]\nlisten = \"0.0.0.0:9842\"\n",
                "posdiagd.toml:2:10: metrics.listen: \"0.0.0.0:9842\" is not tcp:ADDR:PORT; expected for example \"tcp:127.0.0.1:9842\" (Prometheus scrapes over TCP)",
            ),
            (
                "[metrics]\nlisten = \"tcp:0.0.0.0:9842\"\n",
                "posdiagd.toml:2:10: metrics.listen: 0.0.0.0:9842 is not a loopback address; the store's agent scrapes posdiagd on the same machine: listen on 127.0.0.1 or ::1, or set daemon.allow_non_loopback_tcp = true to serve the network",
            ),
            (
                "[metrics]\ntextfile = \"posdiag.txt\"\n",
                "posdiagd.toml:2:12: metrics.textfile: /etc/posdiag/posdiag.txt is not a .prom file name; node_exporter's textfile collector reads *.prom, e.g. \"/var/lib/prometheus/node-exporter/posdiag.prom\"",
            ),
            (
                "[metrics]\ntextfile_interval_ms = 10\n",
                "posdiagd.toml:2:24: metrics.textfile_interval_ms: 10 is out of range; expected 1000 to 3600000",
            ),
            (
                "[metrics]\nport = 9842\n",
                "posdiagd.toml:2:1: metrics.port: unknown field `port`, expected one of `listen`, `textfile`, `textfile_interval_ms`",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(check(text).unwrap_err(), want, "{text}");
        }
    }
}
