//! The store's web console (`[console] listen`): a page on the store PC
//! where the people at the counter see every terminal live, say what they
//! see in their own words and get the cause and who must act.
//!
//! `http.rs` serves HTTP/1.1 (HTTPS beyond loopback) with hyper, after the
//! rules of `security.rs`; `pages.rs` renders the pages (maud), `text.rs`
//! holds their words in both languages, `assets.rs` the embedded script and
//! style. Every handler asks the daemon through `client.rs` — the gRPC API
//! in process, behind the same auth layer, as the `console` principal — and
//! `board.rs` keeps the overview current from one WatchTerminals per
//! language for all open pages.

mod assets;
mod board;
mod client;
mod http;
mod pages;
mod security;
mod text;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use board::{Board, Entry};

use crate::auth::Tier;
use crate::config::ConsoleConfig;
use crate::live::LiveConfig;

/// At most this many browser connections at once (open pages hold one for
/// their event stream).
const MAX_CONNECTIONS: usize = 1024;

/// The console's bound listener.
#[derive(Debug)]
pub(crate) struct Bound {
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    config: ConsoleConfig,
}

impl Bound {
    /// Binds `[console] listen`; `None` when the console is off.
    pub async fn bind(config: &crate::Config) -> anyhow::Result<Option<Bound>> {
        let Some(addr) = config.console.listen else {
            return Ok(None);
        };
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the console on {addr}"))?;
        // Validation made sure TLS is there when the address is not loopback.
        let tls = (!addr.ip().is_loopback())
            .then(|| config.auth.tls.as_ref().map(|t| t.web.clone()))
            .flatten();
        Ok(Some(Bound {
            listener,
            tls,
            config: config.console.clone(),
        }))
    }

    /// The page's address, `http://127.0.0.1:8631/`.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        match self.listener.local_addr() {
            Ok(a) => format!("{scheme}://{a}/"),
            Err(_) => format!("{scheme}://?/"),
        }
    }
}

/// What every request shares.
#[derive(Debug)]
pub(crate) struct Shared {
    api: client::Api,
    board: Arc<Board>,
    hosts: security::Hosts,
    sessions: security::Sessions,
    limiter: security::LoginLimiter,
    config: ConsoleConfig,
    live: LiveConfig,
    tls: bool,
    stop: CancellationToken,
}

impl Shared {
    /// Whether people must log in: users configured, or tokens.
    fn login_enabled(&self) -> bool {
        self.config.login(self.live.now().auth.tokens.len())
    }

    /// The principal and tier of `user` with `password`: a
    /// `[[console.user]]` by its argon2 hash, or (any user name) an
    /// `[[auth.token]]` secret.
    fn authenticate(&self, user: &str, password: &str) -> Option<(String, Tier)> {
        if let Some(u) = self.config.users.iter().find(|u| u.name == user)
            && security::password_matches(&u.password_hash, password)
        {
            return Some((format!("console:{}", u.name), u.tier));
        }
        let live = self.live.now();
        crate::auth::token(&live.auth, password.trim().as_bytes())
            .map(|t| (format!("console:{}", t.principal), t.tier))
    }
}

/// Serves the console until `stop`.
pub(crate) fn serve(
    bound: Bound,
    routes: tonic::service::Routes,
    auth: Arc<crate::auth::layer::AuthState>,
    grpc: Arc<crate::metrics::GrpcCounters>,
    live: LiveConfig,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let api = client::Api::new(routes, auth, grpc);
    let board = Board::new();
    board.run(api.clone(), stop.clone());
    let listen = bound
        .listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let shared = Arc::new(Shared {
        api,
        board,
        hosts: security::Hosts::new(listen, &bound.config.hosts),
        sessions: security::Sessions::new(bound.config.session_ttl),
        limiter: security::LoginLimiter::default(),
        tls: bound.tls.is_some(),
        config: bound.config,
        live,
        stop: stop.clone(),
    });
    let acceptor = bound.tls.map(tokio_rustls::TlsAcceptor::from);
    let listener = bound.listener;
    tokio::spawn(async move {
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let mut conns = tokio::task::JoinSet::new();
        loop {
            let (stream, peer) = tokio::select! {
                _ = stop.cancelled() => break,
                Some(_) = conns.join_next(), if !conns.is_empty() => continue,
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "console: accept failed");
                        continue;
                    }
                },
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                // Full: the connection is closed at once.
                continue;
            };
            let _ = stream.set_nodelay(true);
            let shared = shared.clone();
            let acceptor = acceptor.clone();
            conns.spawn(async move {
                let _slot = slot;
                let svc =
                    hyper::service::service_fn(move |req| http::handle(shared.clone(), peer, req));
                let mut builder = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                );
                // A client that never finishes its headers gives its slot back.
                builder
                    .http1()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(std::time::Duration::from_secs(10));
                match acceptor {
                    None => {
                        let io = hyper_util::rt::TokioIo::new(stream);
                        let _ = builder.serve_connection(io, svc).await;
                    }
                    Some(a) => {
                        let handshake = tokio::time::timeout(
                            crate::auth::tls::HANDSHAKE_TIMEOUT,
                            a.accept(stream),
                        )
                        .await;
                        if let Ok(Ok(tls)) = handshake {
                            let io = hyper_util::rt::TokioIo::new(tls);
                            let _ = builder.serve_connection(io, svc).await;
                        }
                    }
                }
            });
        }
        conns.abort_all();
    })
}

/// Renders the overview of `entries` in English (the benchmark's way in).
pub fn render_overview(entries: &[Entry]) -> String {
    let ctx = pages::Ctx {
        lang: posdiag_core::Lang::En,
        csrf: "benchmark",
        user: None,
        path: "/",
        can_act: true,
    };
    pages::overview(&ctx, entries, std::time::SystemTime::now()).into_string()
}
