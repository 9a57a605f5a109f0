//! The credentials a call carries: for `https://` endpoints the CA that
//! signed posdiagd's certificate and this client's certificate and key
//! (mutual TLS), for loopback TCP an optional bearer token read from a file.
//! TLS failures are told apart (unknown CA, wrong server name, expired
//! certificates on either side, a client certificate the daemon refused),
//! because each has a different fix.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use posdiag_core::Text;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::CliError;

/// Files and the token the user gave (`--tls-ca`, `--tls-cert`,
/// `--tls-key`, `--token-file` or their environment variables).
#[derive(Clone, Default)]
pub struct Credentials {
    /// PEM CA certificates that sign posdiagd's server certificate.
    pub ca: Option<PathBuf>,
    /// This client's PEM certificate (chain).
    pub cert: Option<PathBuf>,
    /// This client's PEM private key.
    pub key: Option<PathBuf>,
    /// The bearer token (from `--token-file`); never printed.
    pub token: Option<Arc<str>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("ca", &self.ca)
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// Largest certificate, key or token file read.
const MAX_FILE: u64 = 1 << 20;

fn read(path: &Path, what: &str, what_zh: &str) -> Result<Vec<u8>, CliError> {
    use std::io::Read;
    let problem = |e: String| {
        CliError::Credentials(Text::new(
            format!("cannot read {what} {}: {e}", path.display()),
            format!("无法读取{what_zh} {}：{e}", path.display()),
        ))
    };
    let file = std::fs::File::open(path).map_err(|e| problem(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| problem(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(problem("larger than 1 MiB".into()));
    }
    Ok(bytes)
}

/// Reads the token file: its first line, trimmed.
pub fn read_token(path: &Path) -> Result<Arc<str>, CliError> {
    let bytes = read(path, "the token file", "令牌文件")?;
    let text = String::from_utf8_lossy(&bytes);
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        return Err(CliError::Credentials(Text::new(
            format!("the token file {} is empty", path.display()),
            format!("令牌文件 {} 是空的", path.display()),
        )));
    }
    Ok(token.into())
}

fn certificates(
    path: &Path,
    what: &str,
    what_zh: &str,
) -> Result<Vec<CertificateDer<'static>>, CliError> {
    let pem = read(path, what, what_zh)?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(c),
        Ok(_) => Err(CliError::Credentials(Text::new(
            format!(
                "{what} {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
            format!(
                "{what_zh} {} 中没有 PEM 证书（-----BEGIN CERTIFICATE-----）",
                path.display()
            ),
        ))),
        Err(e) => Err(CliError::Credentials(Text::new(
            format!("{what} {} is not valid PEM: {e}", path.display()),
            format!("{what_zh} {} 不是有效的 PEM：{e}", path.display()),
        ))),
    }
}

/// The client's TLS configuration from the credentials: the CA is
/// required (posdiagd's certificate is issued by the site's CA, not a
/// public one), and so are the certificate and key (posdiagd asks every
/// TLS client for one).
pub fn client_config(c: &Credentials) -> Result<rustls::ClientConfig, CliError> {
    let missing = |flag: &str, env: &str| {
        CliError::Credentials(Text::new(
            format!(
                "an https:// endpoint needs {flag} FILE (or {env}): posdiagd accepts TLS clients only with mutual TLS"
            ),
            format!(
                "https:// 端点需要 {flag} 文件（或环境变量 {env}）：posdiagd 只接受双向 TLS 客户端"
            ),
        ))
    };
    let ca =
        c.ca.as_deref()
            .ok_or_else(|| missing("--tls-ca", "POSDIAG_TLS_CA"))?;
    let cert = c
        .cert
        .as_deref()
        .ok_or_else(|| missing("--tls-cert", "POSDIAG_TLS_CERT"))?;
    let key = c
        .key
        .as_deref()
        .ok_or_else(|| missing("--tls-key", "POSDIAG_TLS_KEY"))?;
    let mut roots = rustls::RootCertStore::empty();
    for r in certificates(ca, "the CA file", "CA 文件")? {
        roots.add(r).map_err(|e| {
            CliError::Credentials(Text::new(
                format!(
                    "the CA file {} holds an unusable certificate: {e}",
                    ca.display()
                ),
                format!("CA 文件 {} 中的证书不可用：{e}", ca.display()),
            ))
        })?;
    }
    let chain = certificates(cert, "the client certificate", "客户端证书")?;
    let key_pem = read(key, "the client key", "客户端私钥")?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        CliError::Credentials(Text::new(
            format!(
                "the client key {} holds no usable PEM private key ({e}); expected an unencrypted PKCS#8, PKCS#1 or SEC1 key",
                key.display()
            ),
            format!(
                "客户端私钥 {} 中没有可用的 PEM 私钥（{e}）；应为未加密的 PKCS#8、PKCS#1 或 SEC1 私钥",
                key.display()
            ),
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CliError::Credentials(Text::new(e.to_string(), e.to_string())))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, private)
        .map_err(|e| {
            CliError::Credentials(Text::new(
                format!(
                    "the client certificate {} and key {} do not belong together: {e}",
                    cert.display(),
                    key.display()
                ),
                format!(
                    "客户端证书 {} 与私钥 {} 不匹配：{e}",
                    cert.display(),
                    key.display()
                ),
            ))
        })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// What went wrong in TLS, from an error's source chain; `None` when the
/// failure was not TLS's.
pub fn classify(err: &(dyn std::error::Error + 'static)) -> Option<Text> {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        // rustls's reader reports a received alert as an io::Error carrying
        // only its text ("received fatal alert: UnknownCA").
        let alert = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner.to_string())
            .and_then(|t| {
                Some(match t.strip_prefix("received fatal alert: ")? {
                    "CertificateExpired" => E::AlertReceived(A::CertificateExpired),
                    "UnknownCA" => E::AlertReceived(A::UnknownCA),
                    "BadCertificate" => E::AlertReceived(A::BadCertificate),
                    "CertificateRequired" => E::AlertReceived(A::CertificateRequired),
                    "CertificateRevoked" => E::AlertReceived(A::CertificateRevoked),
                    "AccessDenied" => E::AlertReceived(A::AccessDenied),
                    other => E::General(format!("received fatal alert: {other}")),
                })
            });
        if let Some(t) = e.downcast_ref::<E>().or(alert.as_ref()) {
            return Some(match t {
                E::InvalidCertificate(C::UnknownIssuer) => Text::new(
                    "posdiagd's certificate is not signed by the CA in --tls-ca (unknown CA); use the CA that issued the daemon's [auth.tls] cert",
                    "posdiagd 的证书不是由 --tls-ca 中的 CA 签发的（未知 CA）；请使用签发守护进程 [auth.tls] cert 的 CA",
                ),
                E::InvalidCertificate(C::NotValidForName)
                | E::InvalidCertificate(C::NotValidForNameContext { .. }) => Text::new(
                    "posdiagd's certificate is not valid for the name in the endpoint (wrong server name); use the name or address its certificate carries",
                    "posdiagd 的证书与端点中的名称不符（服务器名称错误）；请使用其证书中的名称或地址",
                ),
                E::InvalidCertificate(C::Expired)
                | E::InvalidCertificate(C::ExpiredContext { .. }) => Text::new(
                    "posdiagd's certificate has expired; the site must renew [auth.tls] cert and reload the daemon",
                    "posdiagd 的证书已过期；站点需要更新 [auth.tls] cert 并重新加载守护进程",
                ),
                E::AlertReceived(A::CertificateExpired) => Text::new(
                    "posdiagd refused this client's certificate: it has expired (--tls-cert); ask for a new one",
                    "posdiagd 拒绝了本客户端证书：证书已过期（--tls-cert）；请申请新证书",
                ),
                E::AlertReceived(A::UnknownCA) | E::AlertReceived(A::BadCertificate) => Text::new(
                    "posdiagd refused this client's certificate: it is not issued by the CA the daemon trusts ([auth.tls] client_ca)",
                    "posdiagd 拒绝了本客户端证书：它不是由守护进程信任的 CA（[auth.tls] client_ca）签发的",
                ),
                E::AlertReceived(A::CertificateRequired) => Text::new(
                    "posdiagd requires a client certificate (--tls-cert and --tls-key)",
                    "posdiagd 要求客户端证书（--tls-cert 和 --tls-key）",
                ),
                other => Text::new(
                    format!("the TLS handshake failed: {other}"),
                    format!("TLS 握手失败：{other}"),
                ),
            });
        }
        // An io::Error's source() skips the error it wraps; step into it.
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}
