//! The decision on every call, before any handler runs: who is calling
//! (by the listener's own means), what the method needs (`tiers.rs`),
//! whether the caller is within its limits, and the audit row of every
//! call at the diagnose or admin tier and of every call refused.
//!
//! [`AuthLayer`] is the outermost layer of each listener's server, so a
//! refused call never reaches tonic's routing, and the audit row carries the
//! status the caller finally saw (written when the answer's body ends, with
//! the call's duration).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use posdiag_core::{Text, mask_card_numbers};
use posdiag_history::{ApiCall, Record};
use tonic::codegen::http;
use tonic::transport::server::{TcpConnectInfo, UdsConnectInfo};
use tonic::{Code, Status};

use super::limits::{Limiter, Permit};
use super::tls::TlsPeer;
use super::{Authn, Identity, Tier, UserDb, tiers};
use crate::config::{AuthConfig, AuthMode};
use crate::daemon_state::DaemonState;
use crate::live::LiveConfig;
use crate::status::header_lang;

/// The metadata key of a RESOURCE_EXHAUSTED answer's retry hint, in
/// milliseconds (gRPC's own retry throttling reads it).
pub const RETRY_PUSHBACK: &str = "grpc-retry-pushback-ms";

/// How a listener identifies its callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The unix socket: peer credentials; `socket_gid` is the socket's group.
    Unix {
        /// The group that owns the socket file.
        socket_gid: Option<u32>,
    },
    /// Plain TCP on a loopback address: a bearer token, or anonymous.
    Loopback,
    /// Mutual TLS: the client certificate.
    Tls,
    /// The web console's in-process client (`console/`): the person the
    /// console vouches for, in a [`ConsoleCaller`] extension.
    Console,
}

/// Who the web console calls for: its own principal (`console`, or
/// `console:USER` after a login), the tier the console grants and the
/// browser's address. Only the console's in-process channel, which no
/// network request reaches, carries it.
#[derive(Debug, Clone)]
pub struct ConsoleCaller {
    /// `console` or `console:USER`.
    pub principal: String,
    /// At most diagnose without a login.
    pub tier: Tier,
    /// The browser's address.
    pub peer: String,
}

/// What every listener's layer shares.
#[derive(Debug)]
pub struct AuthState {
    live: LiveConfig,
    daemon: DaemonState,
    users: UserDb,
    limiter: Arc<Limiter>,
    own_uid: u32,
}

impl AuthState {
    pub(crate) fn new(live: LiveConfig, daemon: DaemonState) -> Arc<AuthState> {
        Arc::new(AuthState {
            live,
            daemon,
            users: UserDb::default(),
            limiter: Arc::default(),
            own_uid: nix::unistd::Uid::effective().as_raw(),
        })
    }
}

/// The layer of one listener.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    state: Arc<AuthState>,
    listener: Listener,
}

impl AuthLayer {
    /// The layer for a listener of `kind`.
    pub fn new(state: Arc<AuthState>, listener: Listener) -> AuthLayer {
        AuthLayer { state, listener }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            state: self.state.clone(),
            listener: self.listener,
        }
    }
}

/// The service [`AuthLayer`] wraps around a listener's server.
#[derive(Debug, Clone)]
pub struct Auth<S> {
    inner: S,
    state: Arc<AuthState>,
    listener: Listener,
}

/// What a handler adds to its call's audit row: the terminal or target it
/// concerned. Found in the request's extensions.
#[derive(Debug, Clone, Default)]
pub struct AuditNote(Arc<Mutex<Note>>);

#[derive(Debug, Clone, Default)]
struct Note {
    target: String,
    terminal: bool,
}

impl AuditNote {
    /// Records the call's target; `terminal` when it is a configured terminal.
    pub fn set(&self, target: &str, terminal: bool) {
        if let Ok(mut n) = self.0.lock() {
            n.target = target.to_owned();
            n.terminal = terminal;
        }
    }
}

/// Why a caller was not identified at all.
struct Unauthenticated(Text);

impl<S, B> tower::Service<http::Request<B>> for Auth<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let lang = header_lang(req.headers());
        let method = req.uri().path().to_owned();
        let live = self.state.live.now();
        let auth = &live.auth;
        let identity = match identify(&self.state, self.listener, &req, auth) {
            Ok(i) => i,
            Err(Unauthenticated(why)) => {
                let identity = anonymous(self.listener, &req, why.clone());
                let row = Row::new(&identity, &method, "", "denied");
                let status = Status::unauthenticated(mask_card_numbers(why.get(lang)));
                self.state
                    .finish(row, Code::Unauthenticated, started, &why.en);
                return ready(status.into_http());
            }
        };
        let needed = tiers::method(&method);
        let mut decision = "allowed";
        let mut detail = String::new();
        let allowed = match needed {
            Some((tier, _)) => identity.tier >= tier,
            None => false,
        };
        if !allowed {
            let why = denial(&method, needed.map(|n| n.0), &identity);
            if auth.mode == AuthMode::Enforce {
                let row = Row::new(&identity, &method, tier_name(needed), "denied");
                self.state
                    .finish(row, Code::PermissionDenied, started, &why.en);
                let status = Status::permission_denied(mask_card_numbers(why.get(lang)));
                return ready(status.into_http());
            }
            decision = "would-deny";
            detail = why.en;
        }
        // The admin tier (root, the daemon's user, the site's operators) is
        // not limited: limits keep applications and the help desk from
        // starving each other, not the machine's administrator out.
        let expensive =
            matches!(needed, Some((_, tiers::Cost::Expensive))) && identity.tier < Tier::Admin;
        let permit: Option<Permit> = if expensive {
            match self
                .state
                .limiter
                .admit(&identity.principal, &auth.limits, started)
            {
                Ok(p) => Some(p),
                Err(over) => {
                    let row = Row::new(&identity, &method, tier_name(needed), "limited");
                    self.state
                        .finish(row, Code::ResourceExhausted, started, &over.why.en);
                    let ms = over.retry_after.as_millis().max(1);
                    let text = Text::new(
                        format!(
                            "{}; try again in {} ms (metadata {RETRY_PUSHBACK})",
                            over.why.en, ms
                        ),
                        format!(
                            "{}；请在 {} 毫秒后重试（元数据 {RETRY_PUSHBACK}）",
                            over.why.zh, ms
                        ),
                    );
                    let mut status = Status::resource_exhausted(text.get(lang).to_owned());
                    if let Ok(v) = ms.to_string().parse() {
                        status.metadata_mut().insert(RETRY_PUSHBACK, v);
                    }
                    return ready(status.into_http());
                }
            }
        } else {
            None
        };
        let recorded = decision != "allowed" || needed.is_some_and(|n| n.0 >= Tier::Diagnose);
        let note = AuditNote::default();
        let row = recorded.then(|| {
            let mut row = Row::new(&identity, &method, tier_name(needed), decision);
            row.detail = detail;
            row.note = Some(note.clone());
            row
        });
        // A handler may refuse what the layer let through (audit rows
        // below the admin tier, a probe target out of scope): that refusal
        // is recorded too, from the answer's status.
        let refused_row = row
            .is_none()
            .then(|| Row::new(&identity, &method, tier_name(needed), "denied"));
        req.extensions_mut().insert(identity);
        req.extensions_mut().insert(note);
        let answer = self.inner.call(req);
        let state = self.state.clone();
        Box::pin(async move {
            let (parts, body) = answer.await?.into_parts();
            let code = Status::from_header_map(&parts.headers).map(|s| s.code());
            if let Some(refused) = refused_row {
                if code == Some(Code::PermissionDenied) {
                    let detail = Status::from_header_map(&parts.headers)
                        .map(|s| s.message().to_owned())
                        .unwrap_or_default();
                    state.finish(refused, Code::PermissionDenied, started, &detail);
                }
                if permit.is_none() {
                    return Ok(http::Response::from_parts(parts, body));
                }
            }
            let body = AuditBody {
                inner: body,
                pending: row.map(|row| Pending {
                    row,
                    state,
                    started,
                    code,
                }),
                _permit: permit,
            };
            Ok(http::Response::from_parts(
                parts,
                tonic::body::Body::new(body),
            ))
        })
    }
}

fn ready<E: Send + 'static>(
    r: http::Response<tonic::body::Body>,
) -> Pin<Box<dyn Future<Output = Result<http::Response<tonic::body::Body>, E>> + Send + 'static>> {
    Box::pin(std::future::ready(Ok(r)))
}

fn tier_name(needed: Option<(Tier, tiers::Cost)>) -> &'static str {
    needed.map(|n| n.0.name()).unwrap_or("unknown")
}

/// Who is calling, by the listener's means.
fn identify<B>(
    state: &AuthState,
    listener: Listener,
    req: &http::Request<B>,
    auth: &AuthConfig,
) -> Result<Identity, Unauthenticated> {
    match listener {
        Listener::Unix { socket_gid } => {
            let cred = req
                .extensions()
                .get::<UdsConnectInfo>()
                .and_then(|i| i.peer_cred);
            let Some(cred) = cred else {
                return Err(Unauthenticated(Text::new(
                    "the unix socket gave no peer credentials for this connection",
                    "该 unix 套接字连接没有对端凭据",
                )));
            };
            let (uid, gid) = (cred.uid(), cred.gid());
            let (name, groups) = state.users.lookup(uid, gid);
            let (tier, grant) = super::unix_tier(auth, uid, &groups, socket_gid, state.own_uid);
            Ok(Identity {
                principal: match name {
                    Some(n) => format!("unix:{n}"),
                    None => format!("uid:{uid}"),
                },
                authn: Authn::UnixPeer,
                tier,
                grant,
                uid: Some(uid),
                gid: Some(gid),
                pid: cred.pid().and_then(|p| u32::try_from(p).ok()),
                peer: "unix".into(),
                certificate: String::new(),
            })
        }
        Listener::Loopback => {
            let peer = req
                .extensions()
                .get::<TcpConnectInfo>()
                .and_then(|i| i.remote_addr())
                .map(|a| a.to_string())
                .unwrap_or_default();
            let base = Identity {
                principal: "loopback".into(),
                authn: Authn::Anonymous,
                tier: auth.loopback_tier,
                grant: Text::new(
                    "a loopback TCP caller without a token: [auth] loopback_tier",
                    "没有令牌的本机 TCP 调用方：[auth] loopback_tier",
                ),
                uid: None,
                gid: None,
                pid: None,
                peer,
                certificate: String::new(),
            };
            let Some(value) = req.headers().get(http::header::AUTHORIZATION) else {
                return Ok(base);
            };
            let presented = value
                .as_bytes()
                .strip_prefix(b"Bearer ")
                .or_else(|| value.as_bytes().strip_prefix(b"bearer "))
                .ok_or_else(|| {
                    Unauthenticated(Text::new(
                        "the authorization header is not \"Bearer TOKEN\"",
                        "authorization 头不是 \"Bearer 令牌\" 的形式",
                    ))
                })?;
            match super::token(auth, presented) {
                Some(t) => Ok(Identity {
                    principal: t.principal.clone(),
                    authn: Authn::Token,
                    tier: t.tier,
                    grant: Text::new(
                        format!("the token of {} in [[auth.token]]", t.principal),
                        format!("[[auth.token]] 中 {} 的令牌", t.principal),
                    ),
                    ..base
                }),
                None => Err(Unauthenticated(Text::new(
                    "the bearer token is not one of this daemon's [[auth.token]] tokens (check the token file the client reads)",
                    "该 Bearer 令牌不是本守护进程 [[auth.token]] 中的令牌（请检查客户端读取的令牌文件）",
                ))),
            }
        }
        Listener::Console => {
            let Some(c) = req.extensions().get::<ConsoleCaller>() else {
                return Err(Unauthenticated(Text::new(
                    "the console's call carries no caller",
                    "控制台的调用没有调用方",
                )));
            };
            Ok(Identity {
                principal: c.principal.clone(),
                authn: Authn::Console,
                tier: c.tier,
                grant: Text::new(
                    "the web console's session ([console])",
                    "网页控制台的会话（[console]）",
                ),
                uid: None,
                gid: None,
                pid: None,
                peer: c.peer.clone(),
                certificate: String::new(),
            })
        }
        Listener::Tls => {
            let Some(peer) = req.extensions().get::<TlsPeer>() else {
                return Err(Unauthenticated(Text::new(
                    "the connection carries no verified client certificate",
                    "该连接没有经过验证的客户端证书",
                )));
            };
            let roles = auth.tls.as_ref().map(|t| &t.roles);
            let (tier, grant) = match roles.and_then(|r| r.get(&peer.principal)) {
                Some(&t) => (
                    t,
                    Text::new(
                        format!("[auth.tls.roles] gives {} this tier", peer.principal),
                        format!("[auth.tls.roles] 授予 {} 该级别", peer.principal),
                    ),
                ),
                None => (
                    Tier::None,
                    Text::new(
                        format!(
                            "the certificate is trusted, but [auth.tls.roles] names no role for {}",
                            peer.principal
                        ),
                        format!(
                            "证书可信，但 [auth.tls.roles] 没有为 {} 设置角色",
                            peer.principal
                        ),
                    ),
                ),
            };
            Ok(Identity {
                principal: peer.principal.clone(),
                authn: Authn::Mtls,
                tier,
                grant,
                uid: None,
                gid: None,
                pid: None,
                peer: peer.remote.to_string(),
                certificate: peer.certificate.clone(),
            })
        }
    }
}

/// The identity of a caller that could not be identified (for its row).
fn anonymous<B>(listener: Listener, req: &http::Request<B>, grant: Text) -> Identity {
    let peer = match listener {
        Listener::Unix { .. } => "unix".to_owned(),
        Listener::Loopback => req
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(|i| i.remote_addr())
            .map(|a| a.to_string())
            .unwrap_or_default(),
        Listener::Tls => req
            .extensions()
            .get::<TlsPeer>()
            .map(|p| p.remote.to_string())
            .unwrap_or_default(),
        Listener::Console => "console".to_owned(),
    };
    Identity {
        principal: String::new(),
        authn: Authn::Anonymous,
        tier: Tier::None,
        grant,
        uid: None,
        gid: None,
        pid: None,
        peer,
        certificate: String::new(),
    }
}

/// The message of a refused call: the method, the tier it needs, the tier
/// the caller holds and why.
fn denial(method: &str, needed: Option<Tier>, who: &Identity) -> Text {
    let principal = if who.principal.is_empty() {
        who.peer.as_str()
    } else {
        who.principal.as_str()
    };
    match needed {
        Some(needed) => Text::new(
            format!(
                "permission denied: {method} needs the {needed} tier; {principal} ({}) holds {} ({})",
                who.authn.name(),
                who.tier,
                who.grant.en
            ),
            format!(
                "权限不足：{method} 需要 {needed} 级别；{principal}（{}）只有 {} 级别（{}）",
                who.authn.name(),
                who.tier,
                who.grant.zh
            ),
        ),
        None => Text::new(
            format!(
                "permission denied: {method} is not in posdiagd's authorisation table, so no one may call it"
            ),
            format!("权限不足：{method} 不在 posdiagd 的授权表中，任何人都不能调用"),
        ),
    }
}

/// An audit row being written.
struct Row {
    call: ApiCall,
    note: Option<AuditNote>,
    detail: String,
}

impl Row {
    fn new(who: &Identity, method: &str, tier: &str, decision: &str) -> Row {
        Row {
            call: ApiCall {
                method: method.to_owned(),
                caller: who.caller(),
                target: String::new(),
                terminal: None,
                run_id: None,
                at: SystemTime::now(),
                decision: decision.to_owned(),
                tier: tier.to_owned(),
                code: None,
                duration: Duration::ZERO,
                detail: String::new(),
            },
            note: None,
            detail: String::new(),
        }
    }
}

impl AuthState {
    /// Writes `row` with how the call ended: into the history and as a
    /// structured log event (target `posdiag::audit`).
    fn finish(&self, mut row: Row, code: Code, started: Instant, detail: &str) {
        if let Some(note) = &row.note
            && let Ok(n) = note.0.lock()
        {
            row.call.target = n.target.clone();
            row.call.terminal = if n.terminal {
                posdiag_core::TerminalId::new(&n.target).ok()
            } else {
                None
            };
        }
        let c = &mut row.call;
        c.code = Some(code as i32);
        if code == Code::PermissionDenied && c.decision == "allowed" {
            // Let through by its tier, refused by a rule of the handler's.
            c.decision = "denied".into();
        }
        c.duration = started.elapsed();
        c.detail = if detail.is_empty() {
            row.detail
        } else {
            detail.to_owned()
        };
        let target = mask_card_numbers(&c.target);
        let level_info = c.decision == "allowed";
        macro_rules! event {
            ($lvl:ident) => {
                tracing::$lvl!(
                    target: "posdiag::audit",
                    principal = %mask_card_numbers(&c.caller.principal),
                    authn = %c.caller.authn,
                    uid = ?c.caller.uid,
                    pid = ?c.caller.pid,
                    peer = %c.caller.peer,
                    method = %c.method,
                    tier = %c.tier,
                    target = %target,
                    decision = %c.decision,
                    code = ?code,
                    duration_ms = c.duration.as_millis() as u64,
                    detail = %mask_card_numbers(&c.detail),
                    "api call"
                )
            };
        }
        if level_info {
            event!(info);
        } else {
            event!(warn);
        }
        self.daemon.record(Record::ApiCall(row.call));
    }
}

/// A row waiting for its call's end.
struct Pending {
    row: Row,
    state: Arc<AuthState>,
    started: Instant,
    code: Option<Code>,
}

/// An answer whose end writes the audit row and frees the limit's slot.
struct AuditBody {
    inner: tonic::body::Body,
    pending: Option<Pending>,
    _permit: Option<Permit>,
}

impl Drop for AuditBody {
    fn drop(&mut self) {
        if let Some(p) = self.pending.take() {
            // No status seen: the client went away before the end.
            let code = p.code.unwrap_or(Code::Cancelled);
            p.state.finish(p.row, code, p.started, "");
        }
    }
}

impl http_body::Body for AuditBody {
    type Data = tonic::codegen::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(trailers) = frame.trailers_ref()
            && let Some(p) = self.pending.as_mut()
        {
            p.code = Status::from_header_map(trailers).map(|s| s.code());
        }
        if let Poll::Ready(Some(Err(_))) = &polled
            && let Some(p) = self.pending.as_mut()
        {
            p.code.get_or_insert(Code::Internal);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
