//! Mutual TLS for help-desk access: the server's rustls configuration
//! (client certificates required, verified against `[auth.tls] client_ca`),
//! the accept loop that hands verified connections to tonic (each new
//! handshake uses the configuration current at that moment, so a SIGHUP
//! that reloads the certificates applies to the next connection), and the
//! principal of a client certificate.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tonic::transport::server::Connected;

use crate::live::LiveConfig;

/// How long a client may take to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server configuration: `chain` (leaf first) and its `key`, client
/// certificates required and verified against `roots`; HTTP/2 by ALPN.
pub fn server_config(
    chain: Vec<Vec<u8>>,
    key: PrivateKeyDer<'static>,
    roots: Vec<Vec<u8>>,
) -> Result<Arc<ServerConfig>, String> {
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store
            .add(CertificateDer::from(r))
            .map_err(|e| format!("the client CA certificate cannot be used: {e}"))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider())
        .build()
        .map_err(|e| format!("the client CA cannot verify certificates: {e}"))?;
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain.into_iter().map(CertificateDer::from).collect(), key)
        .map_err(|e| format!("the certificate and key do not make a server identity: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

/// The web console's server configuration: the daemon's `chain` and `key`,
/// no client certificate asked for (people log in instead), HTTP/1.1.
pub fn web_server_config(
    chain: Vec<Vec<u8>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, String> {
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain.into_iter().map(CertificateDer::from).collect(), key)
        .map_err(|e| format!("the certificate and key do not make a server identity: {e}"))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Who a client certificate names: the first URI SAN, else the first
/// e-mail SAN, else the subject's CN (rustbgpd's order); and a line for the
/// audit trail (subject and serial number).
pub fn principal(der: &[u8]) -> Option<(String, String)> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut uri = None;
    let mut email = None;
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::URI(u) if uri.is_none() => uri = Some(u.to_string()),
                GeneralName::RFC822Name(e) if email.is_none() => email = Some(e.to_string()),
                _ => {}
            }
        }
    }
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_owned);
    let who = uri.or(email).or(cn)?;
    let line = format!(
        "subject {}, serial {}",
        cert.subject(),
        cert.raw_serial_as_string()
    );
    Some((who, line))
}

/// What tonic's handlers see of a TLS connection (request extensions).
#[derive(Debug, Clone)]
pub struct TlsPeer {
    /// The client's address.
    pub remote: SocketAddr,
    /// The certificate's principal.
    pub principal: String,
    /// Subject and serial number.
    pub certificate: String,
}

/// A verified TLS connection, holding its slot among the listener's
/// connections until it closes.
pub struct TlsConn {
    inner: tokio_rustls::server::TlsStream<TcpStream>,
    peer: TlsPeer,
    _slot: OwnedSemaphorePermit,
}

impl std::fmt::Debug for TlsConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConn")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Connected for TlsConn {
    type ConnectInfo = TlsPeer;

    fn connect_info(&self) -> TlsPeer {
        self.peer.clone()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A handshake that failed, as the audit trail records it.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The client's address.
    pub remote: SocketAddr,
    /// Why (rustls' words: "certificate expired", "unknown issuer").
    pub why: String,
    /// The certificate's principal, when the client sent one that parsed.
    pub principal: String,
}

/// Accepts on `listener` and hands each connection whose handshake
/// completes (a client certificate verified) to the returned stream; at most
/// `max_connections` are open at once (further clients wait in the
/// backlog). Failed handshakes go to `refused`.
pub(crate) fn incoming(
    listener: TcpListener,
    live: LiveConfig,
    max_connections: usize,
    stop: CancellationToken,
    refused: mpsc::UnboundedSender<Refused>,
) -> impl tokio_stream::Stream<Item = io::Result<TlsConn>> {
    let (tx, rx) = mpsc::channel::<io::Result<TlsConn>>(16);
    let slots = Arc::new(Semaphore::new(max_connections));
    tokio::spawn(async move {
        loop {
            let slot = tokio::select! {
                _ = stop.cancelled() => return,
                s = slots.clone().acquire_owned() => match s { Ok(s) => s, Err(_) => return },
            };
            let (tcp, remote) = tokio::select! {
                _ = stop.cancelled() => return,
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(e) => {
                        // EMFILE and friends: say so, wait a little, go on.
                        tracing::warn!(error = %e, "accepting a TLS connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            // Small gRPC messages must not wait for delayed ACKs (Nagle).
            let _ = tcp.set_nodelay(true);
            let Some(tls) = live.now().auth.tls.clone() else {
                tracing::warn!(%remote, "a TLS connection arrived but [auth.tls] is no longer configured; closing it");
                continue;
            };
            let tx = tx.clone();
            let refused = refused.clone();
            tokio::spawn(async move {
                let acceptor = tokio_rustls::TlsAcceptor::from(tls.server.clone());
                let accept = acceptor.accept(tcp).into_fallible();
                let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
                    Ok(Ok(s)) => s,
                    Ok(Err((e, tcp))) => {
                        let why = rustls_reason(&e);
                        tracing::info!(%remote, reason = %why, "TLS handshake refused");
                        let _ = refused.send(Refused {
                            remote,
                            why,
                            principal: String::new(),
                        });
                        linger(tcp).await;
                        return;
                    }
                    Err(_) => {
                        tracing::info!(%remote, "TLS handshake timed out");
                        return;
                    }
                };
                let certificate = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| principal(c));
                let Some((principal, certificate)) = certificate else {
                    // The verifier requires a certificate; one without any
                    // name is refused here.
                    let _ = refused.send(Refused {
                        remote,
                        why: "the client certificate names no principal (no URI or e-mail SAN, no CN)".into(),
                        principal: String::new(),
                    });
                    return;
                };
                let peer = TlsPeer {
                    remote,
                    principal,
                    certificate,
                };
                let _ = tx
                    .send(Ok(TlsConn {
                        inner: stream,
                        peer,
                        _slot: slot,
                    }))
                    .await;
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// rustls' reason for a failed handshake, without the I/O wrapping.
fn rustls_reason(e: &io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(c)) => format!("client certificate: {c:?}"),
        Some(rustls::Error::NoCertificatesPresented) => "no client certificate".into(),
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}

/// Closes a refused connection gently: the alert that says why has been
/// written, but the client's first bytes (sent right after its side of a
/// TLS 1.3 handshake) may be unread, and closing now would reset the
/// connection and lose the alert. So: end our side, read what the client
/// still sends for up to a second, then close.
async fn linger(mut tcp: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tcp.shutdown().await;
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(n) = tcp.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}
