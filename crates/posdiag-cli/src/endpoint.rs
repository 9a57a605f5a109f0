//! Where posdiagd listens (`unix:PATH` or `http://HOST:PORT`) and how to open
//! a gRPC channel to it.

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
        if s.starts_with("http://") {
            let uri: Uri = s.parse().map_err(|_| bad())?;
            let has_host = uri.host().is_some_and(|h| !h.is_empty());
            let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
            if has_host && uri.port_u16().is_some() && bare {
                return Ok(Endpoint::Http(s.trim_end_matches('/').to_owned()));
            }
        }
        Err(bad())
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
            Endpoint::Http(u) => f.write_str(u),
        }
    }
}

/// The gRPC metadata header carrying the user's language, so the daemon
/// writes its status messages in it.
pub const LANG_HEADER: &str = "posdiag-lang";

/// Puts [`LANG_HEADER`] on every request of a channel.
#[derive(Debug, Clone, Copy)]
pub struct LangHeader(pub Lang);

impl Interceptor for LangHeader {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert(
            LANG_HEADER,
            tonic::metadata::MetadataValue::from_static(self.0.tag()),
        );
        Ok(req)
    }
}

/// A channel to the daemon that tells it the user's language on every call.
pub type Daemon = InterceptedService<Channel, LangHeader>;

/// Opens a channel to the daemon speaking `lang`, failing within
/// [`CONNECT_TIMEOUT`] with [`CliError::Unreachable`] naming the endpoint and
/// the cause.
pub async fn connect(endpoint: &Endpoint, lang: Lang) -> Result<Daemon, CliError> {
    let channel = open(endpoint).await?;
    Ok(InterceptedService::new(channel, LangHeader(lang)))
}

async fn open(endpoint: &Endpoint) -> Result<Channel, CliError> {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_carries_the_language_header() {
        for lang in [Lang::En, Lang::ZhCn] {
            let req = LangHeader(lang)
                .call(tonic::Request::new(()))
                .expect("never refuses");
            let got = req
                .metadata()
                .get(LANG_HEADER)
                .and_then(|v| v.to_str().ok());
            assert_eq!(got, Some(lang.tag()));
        }
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
            "https://host:7070",
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
