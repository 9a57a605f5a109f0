//! Requests in, pages out: the rules of `security.rs` first (the `Host`
//! allow-list before anything else, then the session, the login gate, and
//! for every POST the same-origin check and the CSRF token), then the page.
//! Every handler asks the daemon through the in-process API (`client.rs`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use posdiag_core::Lang;
use posdiag_proto::v1 as pb;
use tokio_stream::wrappers::ReceiverStream;

use super::Shared;
use super::client::Api;
use super::pages::{self, Ctx};
use super::security::{self, LANG_COOKIE, Refusal, SESSION_COOKIE, Session};
use super::text::{L, request_lang};
use crate::auth::Tier;
use crate::auth::layer::ConsoleCaller;

/// An answer's body: whole or streamed.
pub type Body = BoxBody<Bytes, Infallible>;

/// The most a form may weigh.
const MAX_FORM_BYTES: usize = 16 * 1024;

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

/// What every handler knows about its request.
struct Req {
    lang: Lang,
    session_id: String,
    session: Session,
    new_session: bool,
    path: String,
    peer: SocketAddr,
}

impl Req {
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            lang: self.lang,
            csrf: &self.session.csrf,
            user: self.session.user.as_ref().map(|u| u.0.as_str()),
            path: &self.path,
            can_act: self.tier() >= Tier::Diagnose,
        }
    }

    /// Loopback without a login: the diagnose tier at most.
    fn tier(&self) -> Tier {
        match &self.session.user {
            Some((_, t)) => *t,
            None => Tier::Diagnose,
        }
    }

    fn caller(&self) -> ConsoleCaller {
        ConsoleCaller {
            principal: match &self.session.user {
                Some((p, _)) => p.clone(),
                None => "console".into(),
            },
            tier: self.tier(),
            peer: self.peer.to_string(),
        }
    }
}

/// Serves one request.
pub async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let mut resp = route(&shared, peer, req).await;
    security::harden(resp.headers_mut());
    Ok(resp)
}

fn html(status: StatusCode, page: maud::Markup) -> Response<Body> {
    let mut r = Response::new(full(page.into_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(full(text.to_owned()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn redirect(to: &str) -> Response<Body> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn set_session(r: &mut Response<Body>, id: &str, shared: &Shared) {
    let c = security::set_cookie(SESSION_COOKIE, id, None, shared.tls);
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

async fn route(shared: &Arc<Shared>, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
    let headers = req.headers();
    let lang = request_lang(
        security::cookie(headers, LANG_COOKIE),
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    // DNS rebinding: a name this console does not answer to is refused
    // before anything else runs.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    if !shared.hosts.allows(&host) {
        tracing::warn!(peer = %peer, host = %posdiag_core::quote(&host), "console: request for a host name it does not answer to refused");
        return plain(StatusCode::MISDIRECTED_REQUEST, L::ForeignHost.get(lang));
    }
    let path = req.uri().path().to_owned();
    let query_string = req.uri().query().unwrap_or("").to_owned();
    if req.method() == Method::GET
        && let Some(asset) = path.strip_prefix("/assets/")
    {
        return super::assets::serve(asset);
    }
    let existing = security::cookie(headers, SESSION_COOKIE)
        .and_then(|id| shared.sessions.get(id).map(|s| (id.to_owned(), s)));
    let (session_id, session, new_session) = match existing {
        Some((id, s)) => (id, s, false),
        None => {
            let (id, s) = shared.sessions.create();
            (id, s, true)
        }
    };
    let mut r = Req {
        lang,
        session_id,
        session,
        new_session,
        path: path.clone(),
        peer,
    };
    let method = req.method().clone();
    let form = if method == Method::POST {
        // Cross-site requests and missing tokens are refused before the
        // form is even read into anything that acts.
        if let Err(why) = security::same_origin(req.headers(), &shared.hosts) {
            return refused(shared, &r, why);
        }
        let body = match http_body_util::Limited::new(req.into_body(), MAX_FORM_BYTES)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "form too large"),
        };
        let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
        let token = form.get("csrf").map(String::as_str).unwrap_or("");
        if r.new_session || !security::token_matches(&r.session, token) {
            return refused(shared, &r, Refusal::Token);
        }
        Some(form)
    } else if method == Method::GET || method == Method::HEAD {
        None
    } else {
        let mut resp = plain(StatusCode::METHOD_NOT_ALLOWED, "GET or POST");
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
        return resp;
    };
    let login_required = shared.login_enabled();
    if login_required && r.session.user.is_none() && path != "/login" {
        let mut resp = if form.is_some() {
            plain(StatusCode::FORBIDDEN, L::Login.get(lang))
        } else {
            redirect("/login")
        };
        if r.new_session {
            set_session(&mut resp, &r.session_id, shared);
        }
        return resp;
    }
    let mut resp = match (form, path.as_str()) {
        (None, "/") => overview(shared, &r),
        (None, "/events") => events(shared, &r),
        (None, "/doctor") => {
            let q = query(&query_string);
            doctor_form(shared, &r, q.get("terminal").cloned().unwrap_or_default())
        }
        (Some(f), "/doctor") => doctor_run(shared, &r, f).await,
        (None, "/tools") => tools(shared, &r, pages::ToolResults::default()),
        (Some(f), "/tools/id") => tool_id(shared, &r, f).await,
        (Some(f), "/tools/code") => tool_code(shared, &r, f).await,
        (None, "/login") => html(StatusCode::OK, pages::login(&r.ctx(), None)),
        (Some(f), "/login") => return login(shared, &mut r, f).await,
        (Some(_), "/logout") => {
            shared.sessions.logout(&r.session_id);
            let mut resp = redirect("/");
            if let Ok(v) = HeaderValue::from_str(&security::set_cookie(
                SESSION_COOKIE,
                "",
                Some(Duration::ZERO),
                shared.tls,
            )) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            return resp;
        }
        (Some(f), "/lang") => switch_lang(shared, f),
        (form, p) => match p.strip_prefix("/t/") {
            Some(rest) => match (form, rest.split_once('/')) {
                (None, None) => terminal(shared, &r, rest).await,
                (Some(f), Some((id, "run"))) => run_check(shared, &r, id, f).await,
                _ => not_found(&r),
            },
            None => not_found(&r),
        },
    };
    if r.new_session {
        set_session(&mut resp, &r.session_id, shared);
    }
    resp
}

fn query(q: &str) -> HashMap<String, String> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

fn refused(shared: &Shared, r: &Req, why: Refusal) -> Response<Body> {
    tracing::warn!(peer = %r.peer, path = %r.path, refusal = ?why, "console: POST refused before it ran");
    let _ = shared;
    let mut resp = html(
        StatusCode::FORBIDDEN,
        pages::message(&r.ctx(), L::Error, L::CrossSite.get(r.lang)),
    );
    if r.new_session {
        set_session(&mut resp, &r.session_id, shared);
    }
    resp
}

fn not_found(r: &Req) -> Response<Body> {
    html(
        StatusCode::NOT_FOUND,
        pages::message(&r.ctx(), L::Error, L::NotFound.get(r.lang)),
    )
}

fn status_text(s: &tonic::Status) -> String {
    pages::shown(s.message())
}

fn overview(shared: &Shared, r: &Req) -> Response<Body> {
    let entries = shared.board.entries();
    html(
        StatusCode::OK,
        pages::overview(&r.ctx(), &entries, SystemTime::now()),
    )
}

/// The overview's live rows: a `row` event per changed terminal (its id on
/// the first data line, its rows' HTML after), a comment every 15 s so a
/// dead connection is noticed, `retry` for the browser's reconnects.
fn events(shared: &Shared, r: &Req) -> Response<Body> {
    let mut changes = shared.board.subscribe();
    let lang = r.lang;
    let stop = shared.stop.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(16);
    tokio::spawn(async move {
        if tx
            .send(Ok(Frame::data(Bytes::from_static(
                b"retry: 2000\n: hello\n\n",
            ))))
            .await
            .is_err()
        {
            return;
        }
        let mut ping = tokio::time::interval(Duration::from_secs(15));
        ping.tick().await;
        loop {
            let frame = tokio::select! {
                _ = stop.cancelled() => return,
                _ = tx.closed() => return,
                _ = ping.tick() => Bytes::from_static(b": ping\n\n"),
                c = changes.recv() => match c {
                    Ok(c) => {
                        let html = match lang { Lang::En => &c.en, Lang::ZhCn => &c.zh };
                        let mut s = String::with_capacity(html.len() + 32);
                        s.push_str("event: row\ndata: ");
                        s.push_str(&c.id);
                        for line in html.split('\n') {
                            s.push_str("\ndata: ");
                            s.push_str(line);
                        }
                        s.push_str("\n\n");
                        Bytes::from(s)
                    }
                    // Too slow for the changes: the page reloads its rows.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Bytes::from_static(b"event: resync\ndata: \n\n"),
                    Err(_) => return,
                },
            };
            if tx.send(Ok(Frame::data(frame))).await.is_err() {
                return;
            }
        }
    });
    let mut resp = Response::new(StreamBody::new(ReceiverStream::new(rx)).boxed());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn terminals(shared: &Shared, lang: Lang) -> Vec<(String, String)> {
    shared
        .board
        .entries()
        .iter()
        .map(|e| {
            let t = e.terminal(lang);
            (t.id.clone(), t.name.clone())
        })
        .collect()
}

async fn terminal(shared: &Shared, r: &Req, id: &str) -> Response<Body> {
    let who = r.caller();
    let lang = r.lang;
    let api = &shared.api;
    let t = match api
        .terminals()
        .get_terminal(Api::request(
            pb::GetTerminalRequest {
                id: id.to_owned(),
                lang: lang.tag().into(),
            },
            &who,
            lang,
        ))
        .await
    {
        Ok(t) => t.into_inner(),
        Err(s) if s.code() == tonic::Code::NotFound || s.code() == tonic::Code::InvalidArgument => {
            return html(
                StatusCode::NOT_FOUND,
                pages::message(&r.ctx(), L::Error, &status_text(&s)),
            );
        }
        Err(s) => {
            return html(
                StatusCode::BAD_GATEWAY,
                pages::message(&r.ctx(), L::Error, &status_text(&s)),
            );
        }
    };
    let mut page = pages::TerminalPage::default();
    let filter = pb::HistoryFilter {
        terminal_id: id.to_owned(),
        ..Default::default()
    };
    match api
        .history()
        .list_transitions(Api::request(
            pb::ListTransitionsRequest {
                filter: Some(filter.clone()),
                page_size: 30,
                page_token: String::new(),
                lang: lang.tag().into(),
            },
            &who,
            lang,
        ))
        .await
    {
        Ok(tr) => {
            for t in tr.into_inner().transitions {
                let what = if t.check.is_empty() {
                    t.summary.clone()
                } else {
                    format!("{} ({})", t.summary, t.check)
                };
                page.timeline
                    .push((t.at.and_then(pages::system_time), t.to, what));
            }
        }
        Err(s) => page.error = Some(status_text(&s)),
    }
    if let Ok(ev) = api
        .history()
        .list_events(Api::request(
            pb::ListEventsRequest {
                filter: Some(filter),
                kinds: vec![
                    pb::EventKind::Diagnosis as i32,
                    pb::EventKind::Link as i32,
                    pb::EventKind::PluginFault as i32,
                ],
                page_size: 30,
                page_token: String::new(),
                lang: lang.tag().into(),
            },
            &who,
            lang,
        ))
        .await
    {
        use pb::history_event::Event;
        for e in ev.into_inner().events {
            let at = e.at.and_then(pages::system_time);
            match e.event {
                Some(Event::Diagnosis(d)) => {
                    let title = d.cause_titles.first().cloned().unwrap_or_default();
                    page.timeline.push((
                        at,
                        d.overall,
                        format!("{}: {} {}", L::Doctor.get(lang), d.summary, title),
                    ));
                }
                Some(Event::Link(l)) => page.timeline.push((
                    at,
                    if l.present {
                        pb::Verdict::Ok as i32
                    } else {
                        pb::Verdict::Critical as i32
                    },
                    format!(
                        "{}: {} {}",
                        L::LinkState.get(lang),
                        if l.present {
                            L::Present.get(lang)
                        } else {
                            L::Absent.get(lang)
                        },
                        l.path
                    ),
                )),
                Some(Event::PluginFault(p)) => page.timeline.push((
                    at,
                    pb::Verdict::Error as i32,
                    format!("{} {}: {}", p.plugin_id, p.fault, p.detail),
                )),
                _ => {}
            }
        }
    }
    page.timeline.sort_by_key(|e| std::cmp::Reverse(e.0));
    page.timeline.truncate(50);
    if let Ok(p) = api
        .plugins()
        .list_plugins(Api::request(
            pb::ListPluginsRequest {
                lang: lang.tag().into(),
            },
            &who,
            lang,
        ))
        .await
    {
        page.plugins = p
            .into_inner()
            .plugins
            .into_iter()
            .filter(|p| p.terminal_ids.iter().any(|t| t == id))
            .collect();
    }
    html(
        StatusCode::OK,
        pages::terminal(&r.ctx(), &t, &page, SystemTime::now()),
    )
}

async fn run_check(
    shared: &Shared,
    r: &Req,
    id: &str,
    f: HashMap<String, String>,
) -> Response<Body> {
    let checks: Vec<String> = f.get("check").into_iter().cloned().collect();
    let req = Api::request(
        pb::RunCheckRequest {
            terminal_id: id.to_owned(),
            checks,
            lang: r.lang.tag().into(),
        },
        &r.caller(),
        r.lang,
    );
    match shared.api.checks().run_check(req).await {
        Ok(stream) => {
            let mut stream = stream.into_inner();
            while let Ok(Some(_)) = stream.message().await {}
            redirect(&format!("/t/{}", percent_path(id)))
        }
        Err(s) => html(
            StatusCode::FORBIDDEN,
            pages::message(&r.ctx(), L::Error, &status_text(&s)),
        ),
    }
}

fn percent_path(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect()
}

fn doctor_form(shared: &Shared, r: &Req, terminal: String) -> Response<Body> {
    let ts = terminals(shared, r.lang);
    let terminal = if terminal.is_empty() {
        ts.first().map(|t| t.0.clone()).unwrap_or_default()
    } else {
        terminal
    };
    let form = pages::DoctorForm {
        terminal,
        symptom: String::new(),
    };
    html(
        StatusCode::OK,
        pages::doctor(&r.ctx(), &ts, &form, false, None),
    )
}

/// Runs the doctor and streams the page: the form and the progress list
/// first, a line per check as it happens, the result last. Works without
/// JavaScript (the browser renders the page as it arrives).
async fn doctor_run(shared: &Shared, r: &Req, f: HashMap<String, String>) -> Response<Body> {
    let lang = r.lang;
    let ts = terminals(shared, lang);
    let terminal = f.get("terminal").cloned().unwrap_or_default();
    // Whatever was typed is masked before it goes anywhere (the history
    // stores the symptom as the doctor received it).
    let symptom = pages::shown(f.get("symptom").map(|s| s.trim()).unwrap_or(""));
    let id_value = f.get("id").map(|s| s.trim().to_owned()).unwrap_or_default();
    let form = pages::DoctorForm {
        terminal: terminal.clone(),
        symptom: symptom.clone(),
    };
    let req = Api::request(
        pb::RunDoctorRequest {
            terminal_id: terminal.clone(),
            symptom: symptom.clone(),
            id_value,
            lang: lang.tag().into(),
            emv: None,
        },
        &r.caller(),
        lang,
    );
    let stream = match shared.api.checks().run_doctor(req).await {
        Ok(s) => s.into_inner(),
        Err(s) => {
            return html(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::doctor(&r.ctx(), &ts, &form, false, Some(&status_text(&s))),
            );
        }
    };
    let (head, tail) = pages::split_stream(pages::doctor(&r.ctx(), &ts, &form, true, None));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(8);
    tokio::spawn(async move {
        let mut stream = stream;
        let send = |s: String| {
            let tx = tx.clone();
            async move { tx.send(Ok(Frame::data(Bytes::from(s)))).await.is_ok() }
        };
        if !send(head).await {
            return;
        }
        let mut end = None;
        loop {
            match stream.message().await {
                Ok(Some(ev)) => {
                    use pb::doctor_event::Event;
                    let line = match ev.event {
                        Some(Event::Symptom(s)) => pages::explained(&s, lang),
                        Some(Event::Check(c)) => pages::progress(&c, lang),
                        Some(Event::Diagnosis(d)) => {
                            let text = pages::helpdesk_text(&terminal, &symptom, &d, lang);
                            end = Some(Ok(pages::diagnosis(&d, &text, lang)));
                            None
                        }
                        None => None,
                    };
                    if let Some(l) = line
                        && !send(l.into_string()).await
                    {
                        // The person left: dropping the stream cancels the run.
                        return;
                    }
                }
                Ok(None) => break,
                Err(s) => {
                    end = Some(Err(status_text(&s)));
                    break;
                }
            }
        }
        // The result goes after the progress list closes.
        let (list_end, page_end) = tail.split_once("</section>").unwrap_or((&tail, ""));
        let result = pages::doctor_end(end.unwrap_or_else(|| Err(L::Error.get(lang).to_owned())));
        let _ = send(format!(
            "{list_end}</section>{}{page_end}",
            result.into_string()
        ))
        .await;
    });
    let mut resp = Response::new(StreamBody::new(ReceiverStream::new(rx)).boxed());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn tools(shared: &Shared, r: &Req, results: pages::ToolResults) -> Response<Body> {
    let ts = terminals(shared, r.lang);
    html(StatusCode::OK, pages::tools(&r.ctx(), &ts, &results))
}

async fn tool_id(shared: &Shared, r: &Req, f: HashMap<String, String>) -> Response<Body> {
    let terminal = f.get("terminal").cloned().unwrap_or_default();
    let value = f.get("id").cloned().unwrap_or_default();
    let req = Api::request(
        pb::ValidateIdRequest {
            value: value.trim().as_bytes().to_vec(),
            kind: String::new(),
            rules: String::new(),
            terminal_id: terminal.clone(),
            lang: r.lang.tag().into(),
        },
        &r.caller(),
        r.lang,
    );
    let res = shared
        .api
        .ids()
        .validate_id(req)
        .await
        .map(|x| x.into_inner())
        .map_err(|s| status_text(&s));
    tools(
        shared,
        r,
        pages::ToolResults {
            id: Some(res),
            terminal,
            ..Default::default()
        },
    )
}

async fn tool_code(shared: &Shared, r: &Req, f: HashMap<String, String>) -> Response<Body> {
    let terminal = f.get("terminal").cloned().unwrap_or_default();
    let code = f.get("code").cloned().unwrap_or_default();
    let req = Api::request(
        pb::ExplainCodeRequest {
            code: code.trim().to_owned(),
            scheme: String::new(),
            terminal_id: terminal.clone(),
            lang: r.lang.tag().into(),
        },
        &r.caller(),
        r.lang,
    );
    let res = shared
        .api
        .codes()
        .explain_code(req)
        .await
        .map(|x| x.into_inner())
        .map_err(|s| status_text(&s));
    tools(
        shared,
        r,
        pages::ToolResults {
            code: Some(res),
            code_typed: code,
            terminal,
            ..Default::default()
        },
    )
}

fn switch_lang(shared: &Shared, f: HashMap<String, String>) -> Response<Body> {
    let lang = f
        .get("lang")
        .and_then(|l| l.parse::<Lang>().ok())
        .unwrap_or_default();
    // Only a path of this console: never an open redirect.
    let back = f
        .get("back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .map(String::as_str)
        .unwrap_or("/");
    let back = if back.starts_with("/t/") || matches!(back, "/" | "/doctor" | "/tools" | "/login") {
        back
    } else {
        "/"
    };
    let mut resp = redirect(back);
    let c = security::set_cookie(
        LANG_COOKIE,
        lang.tag(),
        Some(Duration::from_secs(365 * 86_400)),
        shared.tls,
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn login(shared: &Arc<Shared>, r: &mut Req, f: HashMap<String, String>) -> Response<Body> {
    let lang = r.lang;
    if !shared.limiter.allowed(r.peer.ip()) {
        return html(
            StatusCode::TOO_MANY_REQUESTS,
            pages::login(&r.ctx(), Some(L::TooManyAttempts)),
        );
    }
    let user = f
        .get("user")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    // argon2 is slow on purpose: off the request threads.
    let found = {
        let shared = shared.clone();
        let user = user.clone();
        tokio::task::spawn_blocking(move || shared.authenticate(&user, &password))
            .await
            .ok()
            .flatten()
    };
    let user = user.as_str();
    match found {
        Some((principal, tier)) => {
            shared.limiter.succeeded(r.peer.ip());
            tracing::info!(target: "posdiag::audit", principal = %principal, peer = %r.peer, "console login");
            let (id, _) = shared
                .sessions
                .login(Some(&r.session_id), (principal, tier));
            let mut resp = redirect("/");
            set_session(&mut resp, &id, shared);
            resp
        }
        None => {
            shared.limiter.failed(r.peer.ip());
            tracing::warn!(target: "posdiag::audit", user = %posdiag_core::quote(user), peer = %r.peer, "console login failed");
            let _ = lang;
            html(
                StatusCode::UNAUTHORIZED,
                pages::login(&r.ctx(), Some(L::LoginFailed)),
            )
        }
    }
}
