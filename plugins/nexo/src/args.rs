//! The check's arguments (`CheckRequest.args`), read and validated before any byte is sent,
//! so a typo is an `Invalid` error naming the argument rather than a confusing finding.

use std::collections::HashMap;
use std::sync::Arc;

use posdiag_plugin_api::sdk::PluginError;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::shared_key::SharedKey;

/// The port Adyen terminals serve the Terminal API on, TLS by default there.
pub const NEXO_TLS_PORT: u16 = 8443;

/// Everything the check needs from its request.
#[derive(Debug)]
pub struct Settings {
    /// `HOST:PORT`, for the Host header and messages.
    pub authority: String,
    /// TLS settings, when HTTPS.
    pub tls: Option<TlsSettings>,
    /// `HostDiagnosisFlag`.
    pub host_diagnosis: bool,
    /// `POIID`.
    pub poi_id: String,
    /// Unconfirmed batches above this are a warning.
    pub max_unconfirmed: u32,
    /// A battery below this percentage is a warning.
    pub min_battery: u8,
    /// Shared-key protection, when a passphrase is given.
    pub key: Option<SharedKey>,
}

/// How to run TLS.
#[derive(Debug)]
pub struct TlsSettings {
    /// The client configuration (trust roots included).
    pub config: Arc<rustls::ClientConfig>,
    /// The name the certificate must carry.
    pub server_name: ServerName<'static>,
    /// Where the trust roots came from: `ca_pem`, `ca_file` or `webpki`.
    pub roots: &'static str,
}

fn invalid(name: &str, value: &str, expected: &str) -> PluginError {
    PluginError::invalid(format!("argument {name}: {value:?} is not {expected}"))
}

fn flag(args: &HashMap<String, String>, name: &str, default: bool) -> Result<bool, PluginError> {
    match args.get(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) => match v.as_str() {
            "true" | "yes" | "1" | "on" => Ok(true),
            "false" | "no" | "0" | "off" => Ok(false),
            _ => Err(invalid(name, &v, "true or false")),
        },
    }
}

fn number<T: std::str::FromStr>(
    args: &HashMap<String, String>,
    name: &str,
    default: T,
    expected: &str,
) -> Result<T, PluginError> {
    match args.get(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| invalid(name, v, expected)),
    }
}

/// Splits `tcp:HOST:PORT`, `HOST:PORT` or `[V6]:PORT` into host and port.
pub fn split_address(address: &str) -> Option<(String, u16)> {
    let address = address.trim();
    let address = address.strip_prefix("tcp:").unwrap_or(address);
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

fn roots_from_pem(pem: &[u8], what: &str) -> Result<RootCertStore, PluginError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert =
            cert.map_err(|e| PluginError::invalid(format!("argument {what}: bad PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| PluginError::invalid(format!("argument {what}: bad CA: {e}")))?;
    }
    if roots.is_empty() {
        return Err(PluginError::invalid(format!(
            "argument {what}: no CERTIFICATE in the PEM"
        )));
    }
    Ok(roots)
}

fn tls_settings(args: &HashMap<String, String>, host: &str) -> Result<TlsSettings, PluginError> {
    let (roots, source) = if let Some(pem) = args.get("ca_pem") {
        (roots_from_pem(pem.as_bytes(), "ca_pem")?, "ca_pem")
    } else if let Some(path) = args.get("ca_file") {
        let pem = std::fs::read(path).map_err(|e| {
            PluginError::invalid(format!("argument ca_file: cannot read {path:?}: {e}"))
        })?;
        (roots_from_pem(&pem, "ca_file")?, "ca_file")
    } else {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        (roots, "webpki")
    };
    let name = args.get("server_name").map_or(host, |n| n.trim());
    let server_name = ServerName::try_from(name.to_owned())
        .map_err(|_| invalid("server_name", name, "a DNS name or an IP address"))?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| PluginError::failed(format!("tls setup: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsSettings {
        config: Arc::new(config),
        server_name,
        roots: source,
    })
}

impl Settings {
    /// Reads the arguments of a check on the terminal `terminal_id` linked at `link_address`.
    pub fn from_request(
        args: &HashMap<String, String>,
        terminal_id: &str,
        link_address: &str,
    ) -> Result<Settings, PluginError> {
        let (host, port) = split_address(link_address).ok_or_else(|| {
            PluginError::invalid(format!(
                "link address {link_address:?} is not HOST:PORT (the terminal's Terminal API, e.g. tcp:192.0.2.10:8443)"
            ))
        })?;
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let tls = if flag(args, "tls", port == NEXO_TLS_PORT)? {
            Some(tls_settings(args, &host)?)
        } else {
            None
        };
        let key = match args.get("key_passphrase") {
            None => None,
            Some(passphrase) if passphrase.is_empty() => {
                return Err(PluginError::invalid("argument key_passphrase is empty"));
            }
            Some(passphrase) => {
                // No defaults: a wrong identifier or version only shows up as a terminal
                // refusing to decrypt, which is harder to diagnose than this error.
                let identifier = args
                    .get("key_identifier")
                    .filter(|i| !i.trim().is_empty())
                    .ok_or_else(|| {
                        PluginError::invalid(
                            "argument key_identifier is required with key_passphrase",
                        )
                    })?;
                let version: u32 = match args.get("key_version") {
                    None => {
                        return Err(PluginError::invalid(
                            "argument key_version is required with key_passphrase",
                        ));
                    }
                    Some(v) => v
                        .trim()
                        .parse()
                        .map_err(|_| invalid("key_version", v, "a whole number"))?,
                };
                Some(SharedKey::derive(passphrase, identifier.trim(), version))
            }
        };
        let poi_id = args
            .get("poi_id")
            .map_or(terminal_id, |p| p.trim())
            .to_owned();
        if poi_id.is_empty() {
            return Err(PluginError::invalid(
                "argument poi_id is empty and the terminal has no id",
            ));
        }
        let min_battery = number(args, "min_battery", 20u8, "a percentage 0..100")?;
        if min_battery > 100 {
            return Err(invalid("min_battery", &min_battery.to_string(), "0..100"));
        }
        Ok(Settings {
            authority,
            tls,
            host_diagnosis: flag(args, "host_diagnosis", true)?,
            poi_id,
            max_unconfirmed: number(args, "max_unconfirmed", 10u32, "a whole number")?,
            min_battery,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    fn args(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn addresses_split() {
        assert_eq!(
            split_address("tcp:192.0.2.10:8443"),
            Some(("192.0.2.10".into(), 8443))
        );
        assert_eq!(split_address("term:80"), Some(("term".into(), 80)));
        assert_eq!(split_address("[::1]:8443"), Some(("::1".into(), 8443)));
        assert_eq!(split_address("nope"), None);
        assert_eq!(split_address(":80"), None);
    }

    #[test]
    fn defaults_follow_the_port() {
        let s = Settings::from_request(&args(&[]), "T1", "tcp:192.0.2.10:8443").unwrap();
        assert!(s.tls.is_some() && s.host_diagnosis && s.key.is_none());
        assert_eq!((s.poi_id.as_str(), s.max_unconfirmed), ("T1", 10));
        let s = Settings::from_request(&args(&[]), "T1", "192.0.2.10:8080").unwrap();
        assert!(s.tls.is_none());
    }

    #[test]
    fn bad_arguments_are_invalid() {
        for bad in [
            args(&[("tls", "maybe")]),
            args(&[("max_unconfirmed", "-1")]),
            args(&[("key_passphrase", "p")]),
            args(&[("key_passphrase", "p"), ("key_identifier", "k")]),
            args(&[("ca_pem", "not pem")]),
        ] {
            let e = Settings::from_request(&bad, "T1", "h:8443").unwrap_err();
            assert!(matches!(e, PluginError::Invalid(_)), "{bad:?}: {e}");
        }
    }
}
