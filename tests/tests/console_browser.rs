//! End-to-end in a real browser: Debian's Chromium, driven over WebDriver by
//! Debian's chromedriver (both installed by `scripts/ensure-debian-packages`
//! when missing; nothing downloaded from anywhere else), against the real
//! `posdiagd` serving a small store: the overview against the API, a status
//! change appearing without a reload, the doctor from typed text in both
//! languages, the ID check, a 360-px screen, the banner when the daemon goes
//! away, and an axe-core scan (npm, `tests/console-e2e`, installed into
//! `target/console-e2e` on first use) finding nothing serious or critical.
//!
//! The WebDriver client is the few JSON calls below: a session, navigate,
//! execute a script, set the window size.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use posdiag_proto::v1 as pb;
use posdiag_tests::Daemon;
use posdiag_tests::web::eventually;
use serde_json::{Value, json};

const CARD: &str = "4111111111111111";

fn workspace() -> PathBuf {
    posdiag_tests::workspace()
}

/// Chromium and chromedriver from Debian, installed when missing.
fn ensure_browser() {
    if Path::new("/usr/bin/chromedriver").exists() && Path::new("/usr/bin/chromium").exists() {
        return;
    }
    let status = Command::new(workspace().join("scripts/ensure-debian-packages"))
        .args(["chromium", "chromium-driver"])
        .status()
        .expect("running scripts/ensure-debian-packages");
    assert!(
        status.success(),
        "the browser test needs Debian's chromium and chromium-driver: scripts/ensure-debian-packages chromium chromium-driver failed ({status})"
    );
}

/// axe-core's script, from npm (the committed lock), installed into
/// target/console-e2e on first use.
fn axe_source() -> String {
    let dir = workspace().join("target/console-e2e");
    let axe = dir.join("node_modules/axe-core/axe.min.js");
    if !axe.exists() {
        if Command::new("npm").arg("--version").output().is_err() {
            let status = Command::new(workspace().join("scripts/ensure-debian-packages"))
                .arg("npm")
                .status()
                .expect("running scripts/ensure-debian-packages");
            assert!(
                status.success(),
                "axe-core comes from npm: scripts/ensure-debian-packages npm failed ({status})"
            );
        }
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["package.json", "package-lock.json"] {
            std::fs::copy(workspace().join("tests/console-e2e").join(f), dir.join(f)).unwrap();
        }
        let out = Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect("npm (Debian's nodejs and npm) is needed for axe-core");
        assert!(
            out.status.success(),
            "npm ci in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::read_to_string(axe).unwrap()
}

/// A running chromedriver and one headless Chromium session.
struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = call(
            self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One WebDriver call; its `value`.
fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    // chromedriver keeps the connection open: read the headers, then
    // exactly Content-Length bytes.
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the connection closed before the headers ended".into());
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or("no content-length")?;
    while raw.len() < head_end + length {
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&raw[head_end..(head_end + length).min(raw.len())]);
    let end = body.len();
    let v: Value = serde_json::from_str(&body[..end]).map_err(|e| format!("{e}: {body}"))?;
    let value = v.get("value").cloned().unwrap_or(Value::Null);
    if let Some(err) = value.get("error") {
        return Err(format!(
            "{err}: {}",
            value.get("message").unwrap_or(&Value::Null)
        ));
    }
    Ok(value)
}

impl Browser {
    fn start() -> Browser {
        ensure_browser();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        eventually(Duration::from_secs(30), "chromedriver ready", || {
            call(addr, "GET", "/status", None)
                .ok()
                .filter(|v| v["ready"] == json!(true))
        });
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--no-default-browser-check",
                    "--window-size=1200,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let v = call(addr, "POST", "/session", Some(caps)).expect("a Chromium session");
        let session = v["sessionId"].as_str().unwrap().to_owned();
        Browser {
            driver,
            addr,
            session,
            _profile: profile,
        }
    }

    fn cmd(&self, method: &str, what: &str, body: Option<Value>) -> Value {
        call(
            self.addr,
            method,
            &format!("/session/{}/{what}", self.session),
            body,
        )
        .unwrap_or_else(|e| panic!("WebDriver {what}: {e}"))
    }

    fn go(&self, url: &str) {
        self.cmd("POST", "url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    fn js(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    fn size(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "window/rect",
            Some(json!({ "width": width, "height": height })),
        );
    }

    /// The page's HTML as the browser holds it now.
    fn source(&self) -> String {
        self.js("return document.documentElement.outerHTML;", json!([]))
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits for the document to have loaded (after a form submission).
    fn loaded(&self, what: &str) {
        eventually(Duration::from_secs(60), what, || {
            (self.js("return document.readyState;", json!([])) == json!("complete")).then_some(())
        });
    }

    /// Serious or critical axe-core violations on the current page.
    fn axe(&self, source: &str) -> Vec<String> {
        self.js(&format!("{source}\n;return true;"), json!([]));
        let v = self.cmd(
            "POST",
            "execute/async",
            Some(json!({
                "script": "var done = arguments[arguments.length - 1]; axe.run(document, {resultTypes: ['violations']}).then(function (r) { done(r.violations.filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; }).map(function (v) { return v.impact + ' ' + v.id + ': ' + v.help + ' (' + v.nodes.map(function (n) { return n.target.join(' '); }).join(', ') + ')'; })); }).catch(function (e) { done(['axe failed: ' + e]); });",
                "args": []
            })),
        );
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// [`eventually`], showing the page when it gives up.
fn eventually_or<T>(
    b: &Browser,
    limit: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting: {what}; the page:\n{}",
            b.source()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn hook(v: i32) -> &'static str {
    match pb::Verdict::try_from(v).unwrap() {
        pb::Verdict::Ok => "ok",
        pb::Verdict::Warning => "warning",
        pb::Verdict::Critical | pb::Verdict::Error => "critical",
        _ => "unknown",
    }
}

/// The small store: T1 on a host that answers (the listener: drop it and
/// the host is down), T2 on one that refuses, T3 with a customer-ID rule set.
fn store() -> (Daemon, String, TcpListener) {
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = format!(
        r#"[defaults]
count = 1
timeout_ms = 500

[hosts.acquirer-up]
address = "127.0.0.1"
port = {}

[hosts.acquirer-down]
address = "127.0.0.1"
port = 1

[rules.card-only]
kinds = ["pan"]

[[terminals]]
id = "T1"
name = "Checkout 1"
hosts = ["acquirer-up"]

[[terminals]]
id = "T2"
name = "Checkout 2"
hosts = ["acquirer-down"]

[[terminals]]
id = "T3"
name = "Self-service"
hosts = ["acquirer-up"]
id_rules = "card-only"

[console]
listen = "127.0.0.1:0"
"#,
        up.local_addr().unwrap().port()
    );
    let d = Daemon::start_logging(&config, "info");
    let addr = posdiag_tests::web::console_addr(&d.log());
    (d, format!("http://{addr}"), up)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_works_in_a_real_browser() {
    let axe = axe_source();
    let (mut d, url, up) = store();
    let b = Browser::start();
    let mut problems: Vec<String> = Vec::new();

    // The overview against the API, once every terminal has been checked.
    b.go(&format!("{url}/"));
    let rows = eventually(Duration::from_secs(60), "every terminal checked", || {
        b.go(&format!("{url}/"));
        let v = b.js(
            "return Array.from(document.querySelectorAll('tr[data-terminal]')).map(function (r) { return [r.dataset.terminal, r.dataset.verdict]; });",
            json!([]),
        );
        let rows: Vec<(String, String)> = serde_json::from_value(v).unwrap();
        (rows.len() == 3 && rows.iter().all(|(_, v)| v != "unknown")).then_some(rows)
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
    assert_eq!(rows, from_api);
    problems.extend(b.axe(&axe).into_iter().map(|p| format!("overview: {p}")));

    // A status change appears without a reload.
    b.js("window.__samePage = 'yes';", json!([]));
    eventually(Duration::from_secs(30), "the event stream open", || {
        (b.js(
            "return document.getElementById('live-banner').hidden;",
            json!([]),
        ) == json!(true))
        .then_some(())
    });
    drop(up);
    let mut checks = pb::check_service_client::CheckServiceClient::new(d.channel().await);
    let mut run = checks
        .run_check(pb::RunCheckRequest {
            terminal_id: "T1".into(),
            checks: Vec::new(),
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    while run.message().await.unwrap().is_some() {}
    eventually(
        Duration::from_secs(30),
        "T1 turning critical on the open page",
        || {
            let v = b.js(
            "return [document.querySelector('tr[data-terminal=\"T1\"]').dataset.verdict, window.__samePage || ''];",
            json!([]),
        );
            (v == json!(["critical", "yes"])).then_some(())
        },
    );

    // The doctor from typed text, in English then in Chinese (the switch).
    for (lang_button, text, title) in [
        (
            "en",
            "the payments do not go through, card 4111 1111 1111 1111",
            "What do you see?",
        ),
        (
            "zh-CN",
            "收不了款，POS机一直提示连接失败",
            "遇到了什么问题？",
        ),
    ] {
        b.go(&format!("{url}/doctor?terminal=T2"));
        b.js(
            "document.querySelector('form.lang button[value=\"' + arguments[0] + '\"]').click();",
            json!([lang_button]),
        );
        b.loaded("the language switch");
        eventually(
            Duration::from_secs(30),
            "the page in the chosen language",
            || {
                (b.js("return document.documentElement.lang;", json!([])) == json!(lang_button))
                    .then_some(())
            },
        );
        b.go(&format!("{url}/doctor?terminal=T2"));
        let h1 = b.js(
            "return document.querySelector('h1').textContent;",
            json!([]),
        );
        assert_eq!(h1, json!(title));
        let selected = b.js(
            "return document.querySelector('form#doctor [name=terminal]').value;",
            json!([]),
        );
        assert_eq!(selected, json!("T2"), "the terminal preselected");
        problems.extend(
            b.axe(&axe)
                .into_iter()
                .map(|p| format!("doctor form ({lang_button}): {p}")),
        );
        b.js(
            "var f = document.querySelector('form#doctor'); f.querySelector('[name=symptom]').value = arguments[0]; f.requestSubmit();",
            json!([text]),
        );
        let causes = eventually_or(&b, Duration::from_secs(60), "the diagnosis", || {
            let v = b.js(
                "var d = document.getElementById('diagnosis'); return d ? Array.from(d.querySelectorAll('[data-reason]')).map(function (c) { return c.dataset.reason; }) : null;",
                json!([]),
            );
            v.as_array().map(|a| {
                a.iter()
                    .map(|x| x.as_str().unwrap_or_default().to_owned())
                    .collect::<Vec<_>>()
            })
        });
        assert_eq!(
            causes.first().map(String::as_str),
            Some("tcp.refused"),
            "{causes:?}"
        );
        // The typed text was read by the symptom matcher, and the page says how.
        let read_as = b.js(
            "var e = document.querySelector('#progress .explained'); return e ? e.dataset.symptom : null;",
            json!([]),
        );
        assert!(
            read_as.as_str().is_some_and(|s| !s.is_empty()),
            "the typed text was not read as a symptom: {read_as}"
        );
        let html = b.source();
        assert!(
            !html.contains("4111 1111 1111 1111") && !html.contains(CARD),
            "the card number unmasked"
        );
        if lang_button == "zh-CN" {
            let who = b.js(
                "return document.querySelector('#diagnosis .whoacts').textContent;",
                json!([]),
            );
            assert!(who.as_str().unwrap().contains("由谁处理"), "{who}");
        }
        let helpdesk = b.js(
            "return document.getElementById('helpdesk').value;",
            json!([]),
        );
        assert!(
            helpdesk.as_str().unwrap().contains("tcp.refused"),
            "{helpdesk}"
        );
        problems.extend(
            b.axe(&axe)
                .into_iter()
                .map(|p| format!("diagnosis ({lang_button}): {p}")),
        );
    }

    // The ID check against T3's rules: the value shown masked.
    b.go(&format!("{url}/tools"));
    b.js(
        "var f = document.getElementById('id-check'); f.querySelector('[name=terminal]').value = 'T3'; f.querySelector('[name=id]').value = arguments[0]; f.requestSubmit();",
        json!([CARD]),
    );
    let valid = eventually(Duration::from_secs(30), "the ID result", || {
        let v = b.js(
            "var r = document.getElementById('id-result'); return r ? r.dataset.valid : null;",
            json!([]),
        );
        v.as_str().map(str::to_owned)
    });
    assert_eq!(valid, "true");
    let html = b.source();
    assert!(
        html.contains("411111******1111") && !html.contains(CARD),
        "{html}"
    );
    problems.extend(b.axe(&axe).into_iter().map(|p| format!("tools: {p}")));

    // A 360-px phone: nothing wider than the screen but the table's own scroller.
    b.size(360, 740);
    b.go(&format!("{url}/"));
    // The resize settles asynchronously in headless Chromium: measure once
    // the layout has the new width.
    let measure = || {
        let fit = b.js(
            "return [document.documentElement.scrollWidth, window.innerWidth, document.querySelector('nav a').getBoundingClientRect().right, document.documentElement.clientWidth];",
            json!([]),
        );
        serde_json::from_value::<Vec<f64>>(fit).unwrap()
    };
    let settled = std::time::Instant::now() + Duration::from_secs(10);
    let mut fit = measure();
    while fit[0] > fit[1] + 1.0 && std::time::Instant::now() < settled {
        std::thread::sleep(Duration::from_millis(200));
        b.go(&format!("{url}/"));
        fit = measure();
    }
    let wide = b.js(
        "return Array.from(document.querySelectorAll('body *')).filter(function (e) { return !e.closest('.scroll') && e.getBoundingClientRect().right > window.innerWidth + 1; }).map(function (e) { return e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right); });",
        json!([]),
    );
    assert!(
        fit[0] <= fit[1] + 1.0,
        "the page scrolls sideways at 360 px: {fit:?}; too wide: {wide}"
    );
    assert!(
        fit[2] <= fit[1],
        "the navigation is cut off at 360 px: {fit:?}"
    );
    problems.extend(
        b.axe(&axe)
            .into_iter()
            .map(|p| format!("overview at 360 px: {p}")),
    );

    // The daemon goes away: the banner says so.
    d.terminate();
    eventually(
        Duration::from_secs(30),
        "the connection-lost banner",
        || {
            (b.js(
                "return document.getElementById('live-banner').hidden;",
                json!([]),
            ) == json!(false))
            .then_some(())
        },
    );

    assert!(
        problems.is_empty(),
        "axe-core found:\n{}",
        problems.join("\n")
    );
}
