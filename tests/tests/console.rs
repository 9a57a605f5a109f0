//! End-to-end over HTTP: the web console of the real `posdiagd` — the
//! overview against the API, a status change reaching an open page's event
//! stream, and each rule that keeps a local page from being a way in (a
//! foreign `Host`, a cross-site POST, a missing CSRF token, the headers,
//! masking in pages, the log and the history, the login and its rate limit,
//! the refusal to listen beyond loopback without TLS and a login).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use posdiag_proto::v1 as pb;
use posdiag_tests::Daemon;
use posdiag_tests::web::{Browser, EventStream, eventually, form, request};

const CARD: &str = "4111111111111111";
const RESIDENT_ID: &str = "11010519491231002X";

/// A daemon with the console on, terminal T1 on a host that answers (the
/// returned listener: drop it and the host goes down) and T2 on one that
/// refuses; the console's address.
fn store(extra: &str) -> (Daemon, SocketAddr, TcpListener) {
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = format!(
        "[defaults]\ncount = 1\ntimeout_ms = 500\n\n[hosts.acquirer-up]\naddress = \"127.0.0.1\"\nport = {}\n\n[hosts.acquirer-down]\naddress = \"127.0.0.1\"\nport = 1\n\n[[terminals]]\nid = \"T1\"\nname = \"Checkout 1\"\nhosts = [\"acquirer-up\"]\n\n[[terminals]]\nid = \"T2\"\nname = \"Checkout 2\"\nhosts = [\"acquirer-down\"]\n\n[console]\nlisten = \"127.0.0.1:0\"\n{extra}",
        up.local_addr().unwrap().port()
    );
    let d = Daemon::start_logging(&config, "info");
    let addr = posdiag_tests::web::console_addr(&d.log());
    (d, addr, up)
}

/// The verdict hooks of the overview's terminal rows.
fn verdicts(page: &str) -> Vec<(String, String)> {
    page.split(r#"<tr data-terminal=""#)
        .skip(1)
        .map(|s| {
            let id = s[..s.find('"').unwrap()].to_owned();
            let v = s.split(r#"data-verdict=""#).nth(1).unwrap();
            (id, v[..v.find('"').unwrap()].to_owned())
        })
        .collect()
}

fn hook(v: i32) -> &'static str {
    match pb::Verdict::try_from(v).unwrap() {
        pb::Verdict::Ok => "ok",
        pb::Verdict::Warning => "warning",
        pb::Verdict::Critical | pb::Verdict::Error => "critical",
        _ => "unknown",
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_overview_shows_what_the_api_says_and_changes_arrive_live() {
    let (d, addr, up) = store("");
    let mut b = Browser::open(addr);
    // The first scheduled checks: both terminals known.
    let page = eventually(Duration::from_secs(60), "both terminals checked", || {
        let p = b.get("/").body;
        let v = verdicts(&p);
        (v.len() == 2 && v.iter().all(|(_, v)| v != "unknown")).then_some(p)
    });
    let mut api = pb::terminal_service_client::TerminalServiceClient::new(d.channel().await);
    let listed = api
        .list_terminals(pb::ListTerminalsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let from_api: Vec<(String, String)> = listed
        .terminals
        .iter()
        .map(|t| (t.id.clone(), hook(t.status).to_owned()))
        .collect();
    assert_eq!(verdicts(&page), from_api);
    assert_eq!(
        from_api,
        [("T1".into(), "ok".into()), ("T2".into(), "critical".into())]
    );
    assert!(
        page.contains(r#"data-host="acquirer-down" data-verdict="critical""#),
        "{page}"
    );

    // An open page's event stream gets T1's new rows when its host goes down.
    let mut events = EventStream::open(addr, &[]);
    events.until(": hello", Duration::from_secs(30));
    drop(up);
    let r = b.post("/t/T1/run", &[]);
    assert_eq!(r.status, 303, "{r:?}");
    events.until(
        r#"data-terminal="T1" data-verdict="critical""#,
        Duration::from_secs(30),
    );
    assert!(
        events.seen.contains("event: row\ndata: T1\ndata: <tbody"),
        "{}",
        events.seen
    );

    // The same page in Chinese: the language from Accept-Language, then the switch.
    let mut zh = Browser::open(addr);
    zh.extra
        .push(("Accept-Language".into(), "zh-CN,zh;q=0.9".into()));
    let p = zh.get("/").body;
    assert!(
        p.contains(r#"<html lang="zh-CN">"#) && p.contains("总览"),
        "{p}"
    );
    let r = zh.post("/lang", &[("lang", "en"), ("back", "/")]);
    assert_eq!(r.status, 303);
    let set = r.header("set-cookie").unwrap();
    assert!(set.starts_with("posdiag_lang=en;"), "{set}");
    zh.cookie = format!("{}; posdiag_lang=en", zh.cookie);
    assert!(zh.get("/").body.contains(r#"<html lang="en">"#));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_refuses_what_does_not_come_from_its_own_page() {
    let (d, addr, _up) = store("");
    // DNS rebinding: another name is refused before anything runs (no session either).
    for host in ["attacker.example", "attacker.example:80", "127.0.0.1:1"] {
        let r = request(addr, "GET", "/", &[("Host", host)], None);
        assert_eq!(r.status, 421, "{host}: {r:?}");
        assert!(r.header("set-cookie").is_none());
        assert!(!r.body.contains("T1"));
    }
    let r = request(
        addr,
        "POST",
        "/doctor",
        &[("Host", "rebound.example")],
        Some("terminal=T2"),
    );
    assert_eq!(r.status, 421);

    let mut b = Browser::open(addr);
    b.get("/doctor");
    let ok_form = form(&[("csrf", &b.csrf), ("terminal", "T2"), ("symptom", "")]);
    let cookie = b.cookie.clone();
    // Cross-site: another origin, or the browser saying so.
    for headers in [
        vec![
            ("Origin", "http://attacker.example"),
            ("Cookie", cookie.as_str()),
        ],
        vec![
            ("Sec-Fetch-Site", "cross-site"),
            ("Cookie", cookie.as_str()),
        ],
        vec![("Origin", "null"), ("Cookie", cookie.as_str())],
    ] {
        let r = request(addr, "POST", "/doctor", &headers, Some(&ok_form));
        assert_eq!(r.status, 403, "{headers:?}: {r:?}");
        assert!(!r.body.contains("id=\"diagnosis\""));
    }
    // No token, a wrong one, another session's, or no session at all.
    let mut other = Browser::open(addr);
    other.get("/doctor");
    for (body, cookie) in [
        (form(&[("terminal", "T2")]), cookie.as_str()),
        (
            form(&[("csrf", "0000"), ("terminal", "T2")]),
            cookie.as_str(),
        ),
        (
            form(&[("csrf", &other.csrf), ("terminal", "T2")]),
            cookie.as_str(),
        ),
        (ok_form.clone(), ""),
    ] {
        let h = [("Cookie", cookie)];
        let r = request(addr, "POST", "/doctor", &h, Some(&body));
        assert_eq!(r.status, 403, "{body}: {r:?}");
    }
    // Nothing of that ran: no doctor call in the audit trail.
    let mut history = pb::history_service_client::HistoryServiceClient::new(d.channel().await);
    let calls = history
        .list_events(pb::ListEventsRequest {
            kinds: vec![pb::EventKind::ApiCall as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        !calls
            .events
            .iter()
            .any(|e| format!("{e:?}").contains("RunDoctor")),
        "{calls:?}"
    );

    // Every answer carries the headers; none invites another origin.
    let r = request(
        addr,
        "GET",
        "/",
        &[("Origin", "http://attacker.example")],
        None,
    );
    for answer in [
        r,
        request(addr, "GET", "/assets/console.js", &[], None),
        request(addr, "GET", "/", &[("Host", "x.example")], None),
    ] {
        let csp = answer.header("content-security-policy").unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
        assert!(
            answer
                .headers
                .iter()
                .all(|(k, _)| !k.starts_with("access-control-"))
        );
    }
    let r = request(
        addr,
        "OPTIONS",
        "/doctor",
        &[("Origin", "http://attacker.example")],
        None,
    );
    assert_eq!(r.status, 405);
    let r = b.get("/");
    let _ = r;
    let first = request(addr, "GET", "/", &[], None);
    let cookie = first.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn what_people_type_is_masked_everywhere_and_the_console_is_its_own_principal() {
    let (d, addr, _up) = store("");
    let mut b = Browser::open(addr);
    b.get("/doctor?terminal=T2");
    let symptom = format!("card {CARD} was refused, ID {RESIDENT_ID}");
    let r = b.post(
        "/doctor",
        &[
            ("terminal", "T2"),
            ("symptom", &symptom),
            ("id", RESIDENT_ID),
        ],
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains(r#"<form id="doctor""#));
    assert!(r.body.contains(r#"id="diagnosis""#), "{}", r.body);
    assert!(
        r.body.contains(r#"data-reason="tcp.refused""#),
        "{}",
        r.body
    );
    assert!(r.body.contains("411111******1111"), "{}", r.body);
    let ids = b.post("/tools/id", &[("terminal", "T2"), ("id", CARD)]);
    assert!(ids.body.contains(r#"id="id-result""#), "{}", ids.body);

    let mut history = pb::history_service_client::HistoryServiceClient::new(d.channel().await);
    let events = history
        .list_events(pb::ListEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let stored = format!("{events:?}");
    for (what, text) in [
        ("page", &r.body),
        ("ID check", &ids.body),
        ("history", &stored),
        ("log", &d.log()),
    ] {
        assert!(!text.contains(CARD), "the card number in the {what}");
        assert!(
            !text.contains("1101051949123100"),
            "the resident ID in the {what}"
        );
    }
    // The doctor ran as the console, at the diagnose tier, and says so in the audit trail.
    let call = events
        .events
        .iter()
        .find_map(|e| match &e.event {
            Some(pb::history_event::Event::ApiCall(c)) if c.method.ends_with("/RunDoctor") => {
                Some(c.clone())
            }
            _ => None,
        })
        .expect("the doctor's call in the audit trail");
    let caller = call.caller.unwrap();
    assert_eq!(
        (caller.principal.as_str(), caller.authn.as_str()),
        ("console", "console")
    );
    assert_eq!(call.tier, "diagnose");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_users_people_log_in_and_failures_are_limited() {
    // argon2id of "correct horse battery" (salt "c29tZXNhbHRzb21lc2FsdA").
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$/HetJC6LZ4lnwgLB+wJSS2a9bFu2Kq4HxwNWzoJq2qU";
    let (_d, addr, _up) = store(&format!(
        "\n[[console.user]]\nname = \"viewer\"\npassword_hash = \"{hash}\"\ntier = \"read\"\n"
    ));
    let mut b = Browser::open(addr);
    let r = b.get("/");
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    b.get("/login");
    let r = b.post("/login", &[("user", "viewer"), ("password", "wrong")]);
    assert_eq!(r.status, 401, "{r:?}");
    let r = b.post("/t/T1/run", &[]);
    assert_eq!(r.status, 403, "no run before a login");
    for _ in 0..4 {
        b.post("/login", &[("user", "viewer"), ("password", "wrong")]);
    }
    let r = b.post(
        "/login",
        &[("user", "viewer"), ("password", "correct horse battery")],
    );
    assert_eq!(r.status, 429, "five failures in a minute: wait");
    // Another browser, another address would be allowed; this one waits. A
    // fresh daemon shows the successful path.
    let (_d2, addr2, _up2) = store(&format!(
        "\n[[console.user]]\nname = \"viewer\"\npassword_hash = \"{hash}\"\ntier = \"read\"\n"
    ));
    let mut b = Browser::open(addr2);
    b.get("/login");
    let before = b.cookie.clone();
    let r = b.post(
        "/login",
        &[("user", "viewer"), ("password", "correct horse battery")],
    );
    assert_eq!(r.status, 303, "{r:?}");
    assert_ne!(b.cookie, before, "a new session id after the login");
    let page = b.get("/t/T1").body;
    assert!(page.contains("console:viewer"), "{page}");
    assert!(
        !page.contains("action=\"/t/T1/run\""),
        "a read login is offered no run"
    );
    let r = b.post("/t/T1/run", &[]);
    assert_eq!(r.status, 403, "and refused one: {r:?}");
}

#[test]
fn a_console_beyond_loopback_without_tls_and_login_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("posdiagd.toml");
    std::fs::write(&path, "[console]\nlisten = \"0.0.0.0:8631\"\n").unwrap();
    let out = posdiag_tests::run("posdiagd", &["--check-config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("console.listen") && err.contains("[auth.tls]"),
        "{err}"
    );
}
