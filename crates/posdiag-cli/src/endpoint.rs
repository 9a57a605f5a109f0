//! Where posdiagd listens (`unix:PATH`, `http://HOST:PORT` or
//! `https://HOST:PORT`) and how to open a gRPC channel to it, with the
//! credentials the user gave (`crate::tls`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use posdiag_core::Lang;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Uri};

use crate::error::{CliError, IoCause, UsageError};
use crate::tls::Credentials;

/// The endpoint used when neither `--endpoint` nor `POSDIAG_ENDPOINT` is set.
pub const DEFAULT_ENDPOINT: &str = "unix:/run/posdiag/posdiagd.sock";

/// How long to wait for the daemon to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A validated daemon address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix-domain socket.
    Unix(PathBuf),
    /// Plain-text HTTP/2 over TCP, `http://HOST:PORT`.
    Http(String),
    /// HTTP/2 over mutual TLS, `https://HOST:PORT`.
    Https(String),
}

impl FromStr for Endpoint {
    type Err = UsageError;

    /// Accepts `unix:PATH`, `unix://PATH` (gRPC's spelling) and
    /// `http://HOST:PORT`.
    fn from_str(s: &str) -> Result<Endpoint, UsageError> {
        let bad = || UsageError::Endpoint(s.to_owned());
        if let Some(rest) = s.strip_prefix("unix:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(bad());
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if s.starts_with("http://") || s.starts_with("https://") {
            let uri: Uri = s.parse().map_err(|_| bad())?;
            let has_host = uri.host().is_some_and(|h| !h.is_empty());
            let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
            if has_host && uri.port_u16().is_some() && bare {
                let s = s.trim_end_matches('/').to_owned();
                return Ok(if s.starts_with("https://") {
                    Endpoint::Https(s)
                } else {
                    Endpoint::Http(s)
                });
            }
        }
        Err(bad())
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
            Endpoint::Http(u) | Endpoint::Https(u) => f.write_str(u),
        }
    }
}

/// The gRPC metadata header carrying the user's language, so the daemon
/// writes its status messages in it.
pub const LANG_HEADER: &str = "posdiag-lang";

/// Puts [`LANG_HEADER`] on every request of a channel, and the bearer
/// token when there is one.
#[derive(Clone)]
pub struct LangHeader(pub Lang, pub Option<tonic::metadata::AsciiMetadataValue>);

impl std::fmt::Debug for LangHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LangHeader")
            .field(&self.0)
            .field(&self.1.as_ref().map(|_| "<token>"))
            .finish()
    }
}

impl Interceptor for LangHeader {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert(
            LANG_HEADER,
            tonic::metadata::MetadataValue::from_static(self.0.tag()),
        );
        if let Some(token) = &self.1 {
            req.metadata_mut().insert("authorization", token.clone());
        }
        Ok(req)
    }
}

/// A channel to the daemon that tells it the user's language on every call.
pub type Daemon = InterceptedService<Channel, LangHeader>;

/// Opens a channel to the daemon speaking `lang`, failing within
/// [`CONNECT_TIMEOUT`] with [`CliError::Unreachable`] naming the endpoint and
/// the cause.
pub async fn connect(endpoint: &Endpoint, lang: Lang) -> Result<Daemon, CliError> {
    connect_with(endpoint, lang, &Credentials::default()).await
}

/// [`connect`] with credentials: TLS files for `https://`, a bearer token.
pub async fn connect_with(
    endpoint: &Endpoint,
    lang: Lang,
    creds: &Credentials,
) -> Result<Daemon, CliError> {
    let channel = open(endpoint, creds).await?;
    let token = match &creds.token {
        Some(t) => Some(format!("Bearer {t}").parse().map_err(|_| {
            CliError::Credentials(posdiag_core::Text::new(
                "the token file holds characters a header cannot carry",
                "令牌文件中含有请求头不能携带的字符",
            ))
        })?),
        None => None,
    };
    Ok(InterceptedService::new(channel, LangHeader(lang, token)))
}

async fn open(endpoint: &Endpoint, creds: &Credentials) -> Result<Channel, CliError> {
    // tonic wraps the connector's io::Error; IoCause walks the source
    // chain to it, so EACCES on the socket is told apart from a dead daemon.
    let unreachable = |e: &(dyn std::error::Error + 'static)| {
        CliError::unreachable(&endpoint.to_string(), IoCause::from_error(e))
    };
    match endpoint {
        Endpoint::Unix(path) => {
            let path = path.clone();
            // The URI is required by the builder but unused: the connector
            // below ignores it and dials the socket.
            let ep = tonic::transport::Endpoint::from_static("http://[::]:50051")
                .connect_timeout(CONNECT_TIMEOUT);
            ep.connect_with_connector(tower::service_fn(move |_: Uri| {
                let path = path.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(path).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            }))
            .await
            .map_err(|e| unreachable(&e))
        }
        Endpoint::Http(uri) => {
            let ep = tonic::transport::Endpoint::from_shared(uri.clone())
                .map_err(|e| unreachable(&e))?
                .connect_timeout(CONNECT_TIMEOUT);
            ep.connect().await.map_err(|e| unreachable(&e))
        }
        Endpoint::Https(uri) => {
            let config = std::sync::Arc::new(crate::tls::client_config(creds)?);
            let parsed: Uri = uri.parse().map_err(|e| unreachable(&e))?;
            let host = parsed.host().unwrap_or_default();
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let port = parsed.port_u16().unwrap_or(443);
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| unreachable(&e))?;
            // The URI given to the builder is what HTTP/2 sends as :authority;
            // the connector below dials and does TLS itself.
            let ep =
                tonic::transport::Endpoint::from_shared(uri.replacen("https://", "http://", 1))
                    .map_err(|e| unreachable(&e))?
                    .connect_timeout(CONNECT_TIMEOUT);
            let tls_failed = |e: &(dyn std::error::Error + 'static)| match crate::tls::classify(e) {
                Some(problem) => CliError::Tls {
                    endpoint: endpoint.to_string(),
                    problem,
                },
                None => unreachable(e),
            };
            ep.connect_with_connector(tower::service_fn(move |_: Uri| {
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                let (host, name) = (host.clone(), name.clone());
                async move {
                    let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
                    tcp.set_nodelay(true)?;
                    let tls = connector.connect(name, tcp).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(tls))
                }
            }))
            .await
            .map_err(|e| tls_failed(&e))
        }
    }
}

/// Why a TLS connection to `endpoint` fails, found by opening one and
/// talking HTTP/2 over it until the daemon answers or refuses. A client
/// certificate the daemon refuses is told only after the handshake (TLS 1.3
/// sends the alert then), and the gRPC client may report just a closed
/// connection; this asks again, on the error path only.
pub async fn tls_diagnosis(endpoint: &Endpoint, creds: &Credentials) -> Option<CliError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Endpoint::Https(uri) = endpoint else {
        return None;
    };
    let config = std::sync::Arc::new(crate::tls::client_config(creds).ok()?);
    let parsed: Uri = uri.parse().ok()?;
    let host = parsed
        .host()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let name = rustls::pki_types::ServerName::try_from(host.clone()).ok()?;
    let port = parsed.port_u16()?;
    let failed = |e: std::io::Error| {
        crate::tls::classify(&e).map(|problem| CliError::Tls {
            endpoint: endpoint.to_string(),
            problem,
        })
    };
    let talk = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .ok()?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let mut tls = match connector.connect(name, tcp).await {
            Ok(t) => t,
            Err(e) => return failed(e),
        };
        // The HTTP/2 preface and an empty SETTINGS frame.
        let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        if let Err(e) = tls.write_all(&hello).await {
            return failed(e);
        }
        let mut buf = [0u8; 1024];
        // The daemon's SETTINGS (or a plain close): nothing TLS can tell.
        tls.read(&mut buf).await.err().and_then(failed)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, talk)
        .await
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_carries_the_language_header() {
        for lang in [Lang::En, Lang::ZhCn] {
            let req = LangHeader(lang, None)
                .call(tonic::Request::new(()))
                .expect("never refuses");
            let got = req
                .metadata()
                .get(LANG_HEADER)
                .and_then(|v| v.to_str().ok());
            assert_eq!(got, Some(lang.tag()));
            assert!(req.metadata().get("authorization").is_none());
        }
        let token = LangHeader(Lang::En, Some("Bearer s3cr3t-t0ken-0123".parse().unwrap()));
        let req = token.clone().call(tonic::Request::new(())).unwrap();
        assert_eq!(
            req.metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer s3cr3t-t0ken-0123")
        );
        // The token never shows in a debug dump.
        assert!(!format!("{token:?}").contains("s3cr3t"));
    }

    #[test]
    fn parses_the_endpoint_spellings_people_use() {
        let ok = [
            (
                DEFAULT_ENDPOINT,
                Endpoint::Unix("/run/posdiag/posdiagd.sock".into()),
            ),
            ("unix:///tmp/p.sock", Endpoint::Unix("/tmp/p.sock".into())),
            ("unix:rel/p.sock", Endpoint::Unix("rel/p.sock".into())),
            (
                "http://127.0.0.1:7070",
                Endpoint::Http("http://127.0.0.1:7070".into()),
            ),
            (
                "http://[::1]:7070/",
                Endpoint::Http("http://[::1]:7070".into()),
            ),
            (
                "http://diag.local:7070",
                Endpoint::Http("http://diag.local:7070".into()),
            ),
            (
                "https://store-0042.example:7443/",
                Endpoint::Https("https://store-0042.example:7443".into()),
            ),
        ];
        for (s, want) in ok {
            assert_eq!(s.parse::<Endpoint>(), Ok(want.clone()), "{s}");
        }
        assert_eq!(
            Endpoint::Unix("/run/posdiag/posdiagd.sock".into()).to_string(),
            DEFAULT_ENDPOINT
        );
    }

    #[test]
    fn rejects_other_endpoints_naming_them() {
        for s in [
            "",
            "unix:",
            "/run/posdiag/posdiagd.sock",
            "127.0.0.1:7070",
            "http://127.0.0.1",
            "http://:7070",
            "http://host:7070/path",
            "https://host",
            "tcp://host:7070",
        ] {
            assert_eq!(
                s.parse::<Endpoint>(),
                Err(UsageError::Endpoint(s.to_owned())),
                "{s}"
            );
        }
    }

    #[tokio::test]
    async fn a_missing_socket_is_unreachable_with_the_os_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("absent.sock");
        let ep = Endpoint::Unix(path.clone());
        let err = connect(&ep, Lang::En)
            .await
            .expect_err("no daemon listens there");
        match &err {
            CliError::Unreachable { endpoint, cause } => {
                assert_eq!(endpoint, &format!("unix:{}", path.display()));
                assert_eq!(cause.kind, Some(std::io::ErrorKind::NotFound));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
