//! Who may do what, end to end: the real posdiagd and the real `posdiag`
//! CLI. A second local user (the tests run as root; the CLI child switches
//! to another uid) gets exactly its tier; mutual TLS with certificates
//! generated here (a trusted client, an unknown CA, an expired certificate,
//! a principal without a role, a wrong server name); bearer tokens on
//! loopback; the refusal to start off loopback without TLS; probe targets
//! out of scope; a flood from one principal while another is served; and
//! the audit rows of all of it, read back with `posdiag audit`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};

use posdiag_tests::pki::Pki;
use posdiag_tests::{Daemon, bin};

/// A port nothing listens on now (bound, read, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A terminal whose host refuses connections: its checks end quickly
/// (critical), which is all an allowed call needs to show.
fn terminal() -> String {
    format!(
        "[defaults]\ncount = 1\ninterval_ms = 0\ntimeout_ms = 300\ncheck_interval_s = 0\n\
         [hosts.acq]\naddress = \"127.0.0.1\"\nport = {}\n\
         [[terminals]]\nid = \"T1\"\nhosts = [\"acq\"]\n",
        free_port()
    )
}

/// Runs `posdiag` with `args` (no POSDIAG_* from the environment), as
/// `uid` when given.
fn posdiag(args: &[&str], uid: Option<u32>) -> Output {
    let mut cmd = Command::new(bin("posdiag"));
    cmd.args(args)
        .env_remove("POSDIAG_ENDPOINT")
        .env_remove("POSDIAG_TLS_CA")
        .env_remove("POSDIAG_TLS_CERT")
        .env_remove("POSDIAG_TLS_KEY")
        .env_remove("POSDIAG_TOKEN_FILE")
        .env("POSDIAG_LANG", "en")
        .stdin(Stdio::null());
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn unix(d: &Daemon) -> String {
    format!("unix:{}", d.socket.display())
}

/// The audit rows as JSON (`posdiag audit --json`, as root over the socket).
fn audit_rows(d: &Daemon) -> Vec<serde_json::Value> {
    let o = posdiag(
        &["--endpoint", &unix(d), "audit", "--json", "--limit", "200"],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e["apiCall"].clone())
        .collect()
}

fn row<'a>(
    rows: &'a [serde_json::Value],
    principal: &str,
    method_suffix: &str,
    decision: &str,
) -> Option<&'a serde_json::Value> {
    rows.iter().find(|r| {
        r["caller"]["principal"].as_str() == Some(principal)
            && r["method"].as_str().unwrap_or("").ends_with(method_suffix)
            && r["decision"].as_str() == Some(decision)
    })
}

#[test]
fn a_second_local_user_gets_exactly_its_tier() {
    // nobody (65534) is in no group the config names: others_tier, read.
    // uid 65533 is named in diagnose_users.
    let config = format!(
        "socket_mode = \"0666\"\n[auth.unix]\ndiagnose_users = [\"65533\"]\n{}",
        terminal()
    );
    let d = Daemon::start(&config);
    std::fs::set_permissions(d.dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ep = unix(&d);

    let o = posdiag(&["--endpoint", &ep, "terminals"], Some(65534));
    assert!(
        o.status.success(),
        "read tier lists terminals: {}",
        text(&o)
    );
    let o = posdiag(&["--endpoint", &ep, "check", "T1"], Some(65534));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("needs the diagnose tier") && err.contains("holds read"),
        "{}",
        text(&o)
    );
    let o = posdiag(
        &["--lang", "zh-CN", "--endpoint", &ep, "check", "T1"],
        Some(65534),
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("需要 diagnose 级别"),
        "{}",
        text(&o)
    );

    let o = posdiag(&["--endpoint", &ep, "check", "T1"], Some(65533));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("permission denied"),
        "diagnose tier runs checks: {}",
        text(&o)
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "the host refuses: critical; {}",
        text(&o)
    );
    // The audit trail is the admin tier's.
    let o = posdiag(&["--endpoint", &ep, "audit"], Some(65533));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("needs the admin tier"),
        "{}",
        text(&o)
    );
    // And it is left out of a lower tier's event listing.
    let o = posdiag(
        &["--endpoint", &ep, "history", "--events", "--json"],
        Some(65533),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("apiCall"),
        "{}",
        text(&o)
    );

    let rows = audit_rows(&d);
    let denied =
        row(&rows, "unix:nobody", "/RunCheck", "denied").unwrap_or_else(|| panic!("{rows:#?}"));
    assert_eq!(denied["caller"]["uid"], 65534);
    assert_eq!(denied["caller"]["authn"], "uds_peercred");
    assert_eq!(denied["code"], 7, "PERMISSION_DENIED");
    let allowed =
        row(&rows, "uid:65533", "/RunCheck", "allowed").unwrap_or_else(|| panic!("{rows:#?}"));
    assert_eq!(allowed["target"], "T1");
    assert!(allowed["caller"]["pid"].as_u64().is_some_and(|p| p > 0));
    assert!(
        row(&rows, "uid:65533", "/ListEvents", "denied").is_some(),
        "{rows:#?}"
    );
    // Read-tier calls that were allowed are not audited.
    assert!(row(&rows, "unix:nobody", "/ListTerminals", "allowed").is_none());
}

fn tls_config(pki: &Pki) -> String {
    format!(
        "[auth.tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n\
         [auth.tls.roles]\n\"spiffe://chain.example/helpdesk/alice\" = \"diagnose\"\n\
         \"carol@chain.example\" = \"admin\"\n",
        pki.path("server.pem").display(),
        pki.path("server.key").display(),
        pki.path("ca.pem").display(),
    )
}

fn over_tls(pki: &Pki, endpoint: &str, who: &str, ca: &str, cmd: &[&str]) -> Output {
    let mut args: Vec<String> = vec!["--endpoint".into(), endpoint.into()];
    args.extend(pki.client_args(who, ca));
    args.extend(cmd.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    posdiag(&args, None)
}

#[test]
fn mutual_tls_identifies_the_help_desk_by_its_certificate() {
    let pki = Pki::generate();
    let port = free_port();
    let config = format!("{}{}", tls_config(&pki), terminal());
    let d = Daemon::start_listening(&config, &[format!("tls:127.0.0.1:{port}")], "warn");
    let ep = format!("https://127.0.0.1:{port}");

    // Alice (URI SAN, diagnose): reads and runs checks.
    let o = over_tls(&pki, &ep, "alice", "ca.pem", &["terminals"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("T1"),
        "{}",
        text(&o)
    );
    let o = over_tls(&pki, &ep, "alice", "ca.pem", &["check", "T1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // Every command carries the credentials, the EMV decoder's too.
    let o = over_tls(
        &pki,
        &ep,
        "alice",
        "ca.pem",
        &["emv", "decode", "--tvr", "8000048000", "--arc", "Z3"],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "decoded, problems found: {}",
        text(&o)
    );
    // But not the audit trail; Carol (e-mail SAN, admin) may.
    let o = over_tls(&pki, &ep, "alice", "ca.pem", &["audit"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("needs the admin tier"),
        "{}",
        text(&o)
    );
    let o = over_tls(&pki, &ep, "carol", "ca.pem", &["audit", "--json"]);
    assert!(o.status.success(), "{}", text(&o));

    // Bob's certificate is the site's, but no role names him.
    let o = over_tls(&pki, &ep, "bob", "ca.pem", &["terminals"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("names no role for bob-no-role"),
        "{}",
        text(&o)
    );

    // A certificate from another CA, and an expired one: refused in the handshake.
    let o = over_tls(&pki, &ep, "mallory", "ca.pem", &["terminals"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not issued by the CA the daemon trusts"),
        "{}",
        text(&o)
    );
    let o = over_tls(&pki, &ep, "old", "ca.pem", &["terminals"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("expired"),
        "{}",
        text(&o)
    );

    // The client's own checks of the server: unknown CA, wrong name.
    let o = over_tls(&pki, &ep, "alice", "stranger-ca.pem", &["terminals"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unknown CA"),
        "{}",
        text(&o)
    );
    let o = over_tls(
        &pki,
        &format!("https://localhost:{port}"),
        "alice",
        "ca.pem",
        &["terminals"],
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("wrong server name"),
        "{}",
        text(&o)
    );
    let o = over_tls(&pki, &ep, "alice", "ca.pem", &["--lang", "zh-CN", "audit"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("需要 admin 级别"),
        "{}",
        text(&o)
    );

    let rows = audit_rows(&d);
    let a = row(
        &rows,
        "spiffe://chain.example/helpdesk/alice",
        "/RunCheck",
        "allowed",
    )
    .unwrap_or_else(|| panic!("{rows:#?}"));
    assert_eq!(a["caller"]["authn"], "mtls");
    assert!(
        a["caller"]["certificate"]
            .as_str()
            .unwrap_or("")
            .contains("Alice"),
        "{a:#}"
    );
    assert!(
        row(&rows, "bob-no-role", "/ListTerminals", "denied").is_some(),
        "{rows:#?}"
    );
    // Reloading is the admin tier's: Alice may not, Carol may. The reload
    // reads [auth.tls] again: Bob gets a role, the listener stays.
    let file = std::fs::read_to_string(d.config_path()).unwrap();
    std::fs::write(
        d.config_path(),
        file.replace(
            "[auth.tls.roles]\n",
            "[auth.tls.roles]\n\"bob-no-role\" = \"read\"\n",
        ),
    )
    .unwrap();
    let o = over_tls(&pki, &ep, "alice", "ca.pem", &["reload"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("needs the admin tier"),
        "{}",
        text(&o)
    );
    let o = over_tls(&pki, &ep, "bob", "ca.pem", &["terminals"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "not before the reload: {}",
        text(&o)
    );
    let o = over_tls(&pki, &ep, "carol", "ca.pem", &["reload"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("applied"),
        "{}",
        text(&o)
    );
    let o = over_tls(&pki, &ep, "bob", "ca.pem", &["terminals"]);
    assert!(o.status.success(), "{}", text(&o));
    let rows = audit_rows(&d);
    assert!(
        row(&rows, "carol@chain.example", "/Reload", "allowed").is_some(),
        "{rows:#?}"
    );
    assert!(
        row(
            &rows,
            "spiffe://chain.example/helpdesk/alice",
            "/Reload",
            "denied"
        )
        .is_some(),
        "{rows:#?}"
    );

    let handshakes = rows
        .iter()
        .filter(|r| r["method"].as_str().unwrap_or("").is_empty() && r["decision"] == "denied")
        .count();
    assert!(
        handshakes >= 2,
        "mallory's and the expired handshakes: {rows:#?}"
    );
}

#[test]
fn a_bearer_token_on_loopback_has_its_own_tier_and_its_own_limits() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("pos-app.token");
    std::fs::write(&token_file, "d7f1c0a4e9b2453f8c6a1e0b7d2f9a35\n").unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let wrong = dir.path().join("wrong.token");
    std::fs::write(&wrong, "0000000000000000000000000000000000\n").unwrap();
    let port = free_port();
    let config = format!(
        "[[auth.token]]\nfile = \"{}\"\nprincipal = \"pos-app\"\ntier = \"diagnose\"\n\
         [limits]\ncalls_per_minute = 2\n{}",
        token_file.display(),
        terminal()
    );
    let d = Daemon::start_listening(
        &config,
        &[format!("tcp:127.0.0.1:{port}")],
        "warn,posdiag::audit=info",
    );
    let ep = format!("http://127.0.0.1:{port}");
    let tf = token_file.display().to_string();

    // Without the token: loopback_tier, read.
    let o = posdiag(&["--endpoint", &ep, "terminals"], None);
    assert!(o.status.success(), "{}", text(&o));
    let o = posdiag(&["--endpoint", &ep, "check", "T1"], None);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("needs the diagnose tier"),
        "{}",
        text(&o)
    );
    // A wrong token is not a weaker identity: it is refused.
    let o = posdiag(
        &[
            "--endpoint",
            &ep,
            "--token-file",
            &wrong.display().to_string(),
            "terminals",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("[[auth.token]]"),
        "{}",
        text(&o)
    );
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("0000000000"),
        "{}",
        text(&o)
    );

    // With it: diagnose, twice a minute.
    for _ in 0..2 {
        let o = posdiag(
            &["--endpoint", &ep, "--token-file", &tf, "check", "T1"],
            None,
        );
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    }
    let o = posdiag(
        &["--endpoint", &ep, "--token-file", &tf, "check", "T1"],
        None,
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("calls_per_minute") && err.contains("try again in"),
        "{}",
        text(&o)
    );
    // Someone else is served meanwhile.
    let o = posdiag(&["--endpoint", &unix(&d), "check", "T1"], None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    let rows = audit_rows(&d);
    assert!(
        row(&rows, "pos-app", "/RunCheck", "allowed").is_some(),
        "{rows:#?}"
    );
    let limited =
        row(&rows, "pos-app", "/RunCheck", "limited").unwrap_or_else(|| panic!("{rows:#?}"));
    assert_eq!(limited["code"], 8, "RESOURCE_EXHAUSTED");
    assert_eq!(limited["caller"]["authn"], "token");
    assert!(
        row(&rows, "loopback", "/RunCheck", "denied").is_some(),
        "{rows:#?}"
    );
    let unauthenticated = rows
        .iter()
        .find(|r| r["code"] == 16)
        .unwrap_or_else(|| panic!("the wrong token's row: {rows:#?}"));
    assert_eq!(unauthenticated["decision"], "denied");
    // The same trail in the log, as structured events; never the token.
    let log = d.log();
    assert!(
        log.lines().any(|l| l.contains("posdiag::audit")
            && l.contains("principal=pos-app")
            && l.contains("decision=limited")),
        "{log}"
    );
    assert!(!log.contains("d7f1c0a4"), "{log}");
    // The token never reaches the history.
    let o = posdiag(
        &["--endpoint", &unix(&d), "history", "--events", "--json"],
        None,
    );
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("d7f1c0a4"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_daemon_refuses_to_listen_off_loopback_without_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("posdiagd.toml");
    std::fs::write(
        &path,
        format!(
            "[daemon]\nlisten = [\"tcp:0.0.0.0:{}\"]\nallow_non_loopback_tcp = true\n",
            free_port()
        ),
    )
    .unwrap();
    let o = Command::new(bin("posdiagd"))
        .arg("--config")
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(64), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("allow_non_loopback_tcp")
            && err.contains("[auth.tls]")
            && err.contains("client_ca"),
        "{}",
        text(&o)
    );
}

#[test]
fn ad_hoc_probes_reach_only_what_the_config_allows() {
    let d = Daemon::start(&terminal());
    let ep = unix(&d);
    let o = posdiag(&["--endpoint", &ep, "probe", "host", "8.8.8.8:443"], None);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("permission denied") && err.contains("[auth.probe] networks"),
        "{}",
        text(&o)
    );
    let o = posdiag(
        &[
            "--endpoint",
            &ep,
            "probe",
            "host",
            "payments.example.com:443",
        ],
        None,
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("[auth.probe] names"),
        "{}",
        text(&o)
    );
    for path in ["/dev/sda", "/etc/passwd", "/dev/tty/../sda"] {
        let o = posdiag(&["--endpoint", &ep, "probe", "zvt", "--serial", path], None);
        assert_eq!(o.status.code(), Some(3), "{path}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("[auth.probe] serial"),
            "{path}: {}",
            text(&o)
        );
    }
    let rows = audit_rows(&d);
    let probe = rows
        .iter()
        .find(|r| {
            r["method"].as_str().unwrap_or("").ends_with("/Probe") && r["target"] == "8.8.8.8:443"
        })
        .unwrap_or_else(|| panic!("{rows:#?}"));
    assert_eq!(probe["target"], "8.8.8.8:443");
    assert_eq!(probe["code"], 7, "PERMISSION_DENIED from the scope");
    assert_eq!(probe["decision"], "denied");
}

#[test]
fn audit_mode_records_what_it_would_deny_and_allows_it() {
    let config = format!(
        "socket_mode = \"0666\"\n[auth]\nmode = \"audit\"\n[auth.unix]\nothers_tier = \"none\"\n{}",
        terminal()
    );
    let d = Daemon::start(&config);
    std::fs::set_permissions(d.dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = posdiag(&["--endpoint", &unix(&d), "terminals"], Some(65534));
    assert!(o.status.success(), "{}", text(&o));
    let rows = audit_rows(&d);
    let r = row(&rows, "unix:nobody", "/ListTerminals", "would-deny")
        .unwrap_or_else(|| panic!("{rows:#?}"));
    assert!(
        r["code"].is_null(),
        "OK, the default, is left out of proto3 JSON: {r:#}"
    );
    assert!(
        r["detail"]
            .as_str()
            .unwrap_or("")
            .contains("needs the read tier"),
        "{r:#}"
    );
}
