//! `host.tls`: one handshake, then what a person needs to know about the
//! certificate: is the chain trusted, does it name the host, how many days
//! until it expires, which protocol version was negotiated.
//!
//! The handshake is completed even when the certificate is bad (a recording
//! verifier keeps webpki's verdict and lets the handshake go on), so that a
//! finding can say "expired 12 days ago" rather than just "handshake failed".
//! No payment data is ever sent on such a connection: only the optional
//! configured exchange, which is a diagnostic ping.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use posdiag_core::Reason;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::model::TlsSpec;

/// What the handshake showed.
#[derive(Debug)]
pub(crate) struct TlsReport {
    pub handshake: Duration,
    pub version: String,
    pub cipher: String,
    /// webpki's verdict on the chain and name: `None` when valid.
    pub cert_problem: Option<(Reason, String)>,
    pub cert: Option<CertInfo>,
}

/// Facts read from the leaf certificate.
#[derive(Debug)]
pub(crate) struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub not_after_unix: i64,
}

impl CertInfo {
    /// Whole days from `now` until expiry; negative once expired.
    pub fn days_to_expiry(&self, now: SystemTime) -> i64 {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        (self.not_after_unix - now).div_euclid(86_400)
    }
}

/// Why the handshake did not complete.
#[derive(Debug)]
pub(crate) struct TlsFailure {
    pub reason: Reason,
    pub detail: String,
}

/// The leaf certificate (DER) and webpki's verdict on it.
type Outcome = (Vec<u8>, Result<(), rustls::Error>);

#[derive(Debug)]
struct Recorder {
    inner: Arc<WebPkiServerVerifier>,
    outcome: Mutex<Option<Outcome>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ());
        *self.outcome.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((end_entity.to_vec(), verdict));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A prepared TLS client for one host.
#[derive(Clone)]
pub(crate) struct TlsClient {
    connector: TlsConnector,
    recorder: Arc<Recorder>,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsClient {
    /// Builds a client for `host` (or the configured server name).
    pub fn new(spec: &TlsSpec, host: &str) -> Result<TlsClient, TlsFailure> {
        let bad = |detail: String| TlsFailure {
            reason: Reason::InternalError,
            detail,
        };
        let mut roots = RootCertStore::empty();
        if spec.ca_certs.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        } else {
            for der in &spec.ca_certs {
                roots
                    .add(CertificateDer::from(der.clone()))
                    .map_err(|e| bad(format!("configured CA certificate is unusable: {e}")))?;
            }
        }
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| bad(format!("building the certificate verifier: {e}")))?;
        let recorder = Arc::new(Recorder {
            inner,
            outcome: Mutex::new(None),
        });
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(format!("TLS configuration: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_no_client_auth();
        let name = spec
            .server_name
            .as_deref()
            .unwrap_or(host)
            .trim_start_matches('[')
            .trim_end_matches(']');
        let server_name = ServerName::try_from(name.to_owned()).map_err(|_| TlsFailure {
            reason: Reason::TlsHostnameMismatch,
            detail: format!(
                "{} is not a valid TLS server name",
                posdiag_core::quote(name)
            ),
        })?;
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            recorder,
            server_name,
        })
    }

    /// Performs the handshake on `tcp` within `deadline`.
    pub async fn handshake(
        &self,
        tcp: TcpStream,
        deadline: Duration,
    ) -> Result<(TlsStream<TcpStream>, TlsReport), TlsFailure> {
        let started = Instant::now();
        let connecting = self.connector.connect(self.server_name.clone(), tcp);
        let stream = match tokio::time::timeout(deadline, connecting).await {
            Err(_) => {
                return Err(TlsFailure {
                    reason: Reason::TlsTimeout,
                    detail: format!(
                        "the handshake stalled: no completion within {} ms",
                        deadline.as_millis()
                    ),
                });
            }
            Ok(Err(e)) => {
                let (reason, detail) = match e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                {
                    Some(tls) => (Reason::TlsHandshakeFailed, tls.to_string()),
                    None => match posdiag_transport::classify(&e) {
                        posdiag_transport::ConnectFailure::Reset => (
                            Reason::TcpReset,
                            format!("the host reset the connection during the handshake ({e})"),
                        ),
                        _ if e.kind() == std::io::ErrorKind::UnexpectedEof => (
                            Reason::TlsHandshakeFailed,
                            "the host closed the connection during the handshake".into(),
                        ),
                        _ => (Reason::TlsHandshakeFailed, e.to_string()),
                    },
                };
                return Err(TlsFailure { reason, detail });
            }
            Ok(Ok(s)) => s,
        };
        let handshake = started.elapsed();
        let (_, conn) = stream.get_ref();
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_owned(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_owned(),
            Some(other) => format!("{other:?}"),
            None => "unknown".to_owned(),
        };
        let cipher = conn
            .negotiated_cipher_suite()
            .map(|c| format!("{:?}", c.suite()))
            .unwrap_or_default();
        let outcome = self
            .recorder
            .outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let (cert, cert_problem) = match outcome {
            Some((der, verdict)) => (
                cert_info(&der),
                verdict.err().map(|e| classify_cert_error(&e)),
            ),
            None => (
                None,
                Some((
                    Reason::TlsCertInvalid,
                    "the server sent no certificate".to_owned(),
                )),
            ),
        };
        Ok((
            stream,
            TlsReport {
                handshake,
                version,
                cipher,
                cert_problem,
                cert,
            },
        ))
    }
}

fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_after_unix: cert.validity().not_after.timestamp(),
    })
}

fn classify_cert_error(e: &rustls::Error) -> (Reason, String) {
    use CertificateError::*;
    let reason = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            Expired | ExpiredContext { .. } => Reason::TlsCertExpired,
            NotValidYet | NotValidYetContext { .. } => Reason::TlsCertNotYetValid,
            NotValidForName | NotValidForNameContext { .. } => Reason::TlsHostnameMismatch,
            UnknownIssuer => Reason::TlsUntrusted,
            _ => Reason::TlsCertInvalid,
        },
        _ => Reason::TlsCertInvalid,
    };
    (reason, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_to_expiry_rounds_down_and_goes_negative() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let info = |delta: i64| CertInfo {
            subject: String::new(),
            issuer: String::new(),
            not_after_unix: 1_000_000_000 + delta,
        };
        assert_eq!(info(10 * 86_400 + 5).days_to_expiry(now), 10);
        assert_eq!(info(86_399).days_to_expiry(now), 0);
        assert_eq!(info(-1).days_to_expiry(now), -1);
        assert_eq!(info(-3 * 86_400).days_to_expiry(now), -3);
    }

    #[test]
    fn certificate_errors_map_to_reasons() {
        let r = |c| classify_cert_error(&rustls::Error::InvalidCertificate(c)).0;
        assert_eq!(r(CertificateError::Expired), Reason::TlsCertExpired);
        assert_eq!(
            r(CertificateError::NotValidForName),
            Reason::TlsHostnameMismatch
        );
        assert_eq!(r(CertificateError::UnknownIssuer), Reason::TlsUntrusted);
        assert_eq!(r(CertificateError::BadSignature), Reason::TlsCertInvalid);
    }
}
