//! Configuration validation: what a person sees for each kind of mistake.

use std::path::Path;

use super::*;

fn check(text: &str) -> Result<Config, String> {
    parse(text, "posdiagd.toml", Path::new(".")).map_err(|e| e.to_string())
}

const HOST: &str = "[hosts.acq]\naddress = \"127.0.0.1\"\nport = 5000\n";

#[test]
fn messages_name_file_line_column_key_and_expectation() {
    let cases: &[(&str, &str)] = &[
        (
            "[daemon]\nlisten = [\"tcp:0.0.0.0:7070\"]\n",
            "posdiagd.toml:2:11: daemon.listen: 0.0.0.0:7070 is not a loopback address; other hosts may reach posdiagd only over mutual TLS: set daemon.allow_non_loopback_tcp = true and configure [auth.tls] (cert, key, client_ca), or listen on 127.0.0.1 or ::1",
        ),
        (
            "[hosts.acq]\naddress = \"127.0.0.1\"\nport = \"five\"\n",
            "posdiagd.toml:3:8: hosts.acq.port: invalid type: string \"five\", expected u16",
        ),
        (
            "[hosts.acq]\naddress = \"127.0.0.1\"\nport = 5000\ncolour = 1\n",
            "posdiagd.toml:4:1: hosts.acq.colour: unknown field `colour`, expected one of `address`",
        ),
        (
            &format!("{HOST}[[terminals]]\nid = \"T1\"\nhosts = [\"acq\", \"acq-b\"]\n"),
            "posdiagd.toml:6:17: terminals[0].hosts: no host called \"acq-b\" is defined; defined hosts: acq",
        ),
        (
            "[[terminals]]\nid = \"T 1\"\n",
            "posdiagd.toml:2:6: terminals[0].id: id contains ' '; only letters, digits, '.', '_' and '-' are allowed",
        ),
        (
            "[defaults]\ncount = 0\n",
            "posdiagd.toml:2:9: defaults.count: 0 is out of range; expected 1 to 100",
        ),
        (
            "[defaults]\nloss_warning_ratio = 1.5\n",
            "posdiagd.toml:2:22: defaults.loss_warning_ratio: 1.5 is not a ratio; expected a number from 0 to 1 (0.05 = 5%)",
        ),
        (
            &format!("{HOST}[hosts.acq.exchange]\nsend_hex = \"08x0\"\nexpect = \"a\"\n"),
            "posdiagd.toml:5:12: hosts.acq.exchange.send_hex: \"x0\" is not hex; expected digits 0-9 and a-f",
        ),
        (
            "[[terminals]]\nid = \"T1\"\nlink = \"usb\"\n",
            "posdiagd.toml:3:8: terminals[0].link: \"usb\" is not a link; expected \"none\", \"tcp:HOST:PORT\", \"serial:/dev/PATH\" or \"usb:VID:PID[:SERIAL]\"",
        ),
        (
            "[[terminals]]\nid = \"T1\"\nlink = \"tcp:10.0.0.5\"\n",
            "posdiagd.toml:3:8: terminals[0].link: \"10.0.0.5\" is not HOST:PORT; expected for example \"tcp:192.168.1.50:20007\"",
        ),
        (
            "[[terminals]]\nid = \"T1\"\nlink = \"serial:usb:0403:6001\"\n",
            "posdiagd.toml:3:8: terminals[0].link: \"usb:0403:6001\" is not an absolute device path; expected for example \"serial:/dev/ttyUSB0\"",
        ),
        (
            "[[terminals]]\nid = \"T1\"\nlink = \"usb:0403\"\n",
            "posdiagd.toml:3:8: terminals[0].link: invalid port selector \"usb:0403\": expected 2 to 4 fields after usb:, found 1",
        ),
        (
            "[[terminals]]\nid = \"T1\"\nlink = \"tcp:10.0.0.5:20007\"\nserial = \"9600-8N2\"\n",
            "posdiagd.toml:4:10: terminals[0].serial: serial settings need a serial link; set link = \"serial:/dev/PATH\" or \"usb:VID:PID[:SERIAL]\"",
        ),
        (
            "[[terminals]]\nid = \"T1\"\nplugin_timeout_ms = 3600000\n",
            "posdiagd.toml:3:21: terminals[0].plugin_timeout_ms: 3600000 is out of range; expected 100 to 600000",
        ),
        (
            "[[terminals]]\nid = \"T1\"\nlink = \"serial:/dev/ttyS0\"\nprotocol = \"opi\"\n",
            "posdiagd.toml:4:12: terminals[0].protocol: \"opi\" is not a link protocol posdiagd speaks; expected \"zvt\" or \"nexo\"",
        ),
        (
            "[[terminals]]\nid = \"T1\"\nlink = \"serial:/dev/ttyS0\"\nzvt_password = \"12ab56\"\n",
            "posdiagd.toml:4:16: terminals[0].zvt_password: \"12ab56\" is not a ZVT password; expected 6 digits, for example \"000000\"",
        ),
        (
            "[daemon\n",
            "posdiagd.toml:1:8: daemon: unclosed table, expected `]`",
        ),
        (
            "[rules.r]\nkinds = [\"passport\"]\n",
            "posdiagd.toml:2:10: rules.r.kinds: \"passport\" is not a kind; known kinds: pan, luhn",
        ),
        (
            "[rules.r]\nmin_length = 13\nmax_length = 12\n",
            "posdiagd.toml:2:14: rules.r.min_length: 13 is above max_length 12",
        ),
        (
            "[rules.r]\npattern = \"[0-9\"\n",
            "posdiagd.toml:2:11: rules.r.pattern:",
        ),
        (
            "[rules.r]\ncheck = \"crc\"\n",
            "posdiagd.toml:2:9: rules.r.check: \"crc\" is not a check algorithm",
        ),
        (
            "[[terminals]]\nid = \"T1\"\ndialect = \"klingon\"\n",
            "posdiagd.toml:3:11: terminals[0].dialect: \"klingon\" is not a code scheme; known schemes: iso8583-1993, iso8583-1987, cup",
        ),
        (
            "[codes]\ndir = \"/nonexistent/codes.d\"\n",
            "posdiagd.toml:2:7: codes.dir: /nonexistent/codes.d is not a directory",
        ),
        (
            "[[terminals]]\nid = \"T1\"\nid_rules = \"nope\"\n",
            "posdiagd.toml:3:12: terminals[0].id_rules: no rule set called \"nope\" is defined; defined rule sets: none",
        ),
        // The three that had no location.
        (
            "[daemon]\nlisten = []\n",
            "posdiagd.toml:2:10: daemon.listen: is empty; give at least one address",
        ),
        (
            &format!("{HOST}[hosts.acq.exchange]\nsend = \"a\"\n"),
            "posdiagd.toml:4:1: hosts.acq.exchange: needs both a non-empty send (or send_hex) and a non-empty expect (or expect_hex)",
        ),
        (
            "[rules.\"r 1\"]\nmin_length = 1\n",
            "posdiagd.toml:1:8: rules.r 1: rule set names may use only letters, digits, '.', '_' and '-'",
        ),
        (
            &format!(
                "[daemon]\nlisten = [\"unix:/run/{}.sock\"]\n",
                "s".repeat(100)
            ),
            "posdiagd.toml:2:11: daemon.listen: the socket path \"/run/sssss",
        ),
    ];
    for (text, want) in cases {
        let got = check(text).unwrap_err();
        assert!(
            got.starts_with(want),
            "config:\n{text}\n got: {got}\nwant: {want}"
        );
    }
}

#[test]
fn duplicate_terminal_ids_are_rejected() {
    let err = check("[[terminals]]\nid = \"T1\"\n[[terminals]]\nid = \"T1\"\n").unwrap_err();
    assert_eq!(
        err,
        "posdiagd.toml:4:6: terminals[1].id: terminal id \"T1\" is used twice; ids must be unique"
    );
}

#[test]
fn a_duplicate_terminal_id_is_reported_before_the_rest_of_that_terminal() {
    let err = check("[[terminals]]\nid = \"T1\"\n[[terminals]]\nid = \"T1\"\nlink = \"usb\"\n")
        .unwrap_err();
    assert!(
        err.starts_with("posdiagd.toml:4:6: terminals[1].id: terminal id \"T1\" is used twice"),
        "{err}"
    );
}

#[test]
fn each_terminal_carries_its_id_rules_and_dialect() {
    let c = check(
        "[rules.r]\nmin_length = 1\n[[terminals]]\nid = \"T1\"\nid_rules = \"r\"\ndialect = \"cup\"\n[[terminals]]\nid = \"T2\"\n",
    )
    .unwrap();
    let t1 = c.terminal("T1").unwrap();
    assert_eq!(t1.id_rules.as_ref().map(|r| r.name.as_str()), Some("r"));
    assert_eq!(t1.dialect.as_ref().map(|s| s.name()), Some("cup"));
    let t2 = c.terminal("T2").unwrap();
    assert!(t2.id_rules.is_none() && t2.dialect.is_none());
    assert!(c.terminal("T3").is_none());
    let engine = c.engine_config();
    let ids: Vec<&str> = engine.terminals.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["T1", "T2"]);
}

#[test]
fn hosts_inherit_defaults_and_override_them() {
    let text = format!(
        "[defaults]\ncount = 7\nrtt_warning_ms = 100\n{HOST}[hosts.acq.probe]\ntimeout_ms = 900\n[[terminals]]\nid = \"T1\"\nhosts = [\"acq\"]\ncheck_interval_s = 0\n"
    );
    let c = check(&text).unwrap();
    let t = &c.terminals[0].spec;
    assert_eq!(t.check_interval, None, "0 turns scheduling off");
    let h = &t.hosts[0];
    assert_eq!(h.probe.count, 7);
    assert_eq!(h.probe.timeout, Duration::from_millis(900));
    assert_eq!(h.thresholds.rtt_warning, Duration::from_millis(100));
    assert_eq!(c.listen, [Listen::Unix(DEFAULT_SOCKET.into())]);
    assert_eq!(c.socket_mode, 0o660);
}

#[test]
fn an_empty_file_is_a_valid_daemon_with_no_terminals() {
    let c = check("").unwrap();
    assert!(c.terminals.is_empty());
}

#[test]
fn a_terminal_can_give_its_plugin_checks_more_time() {
    let c = check(
        "[[terminals]]\nid = \"T1\"\nplugin_timeout_ms = 45000\n\n[[terminals]]\nid = \"T2\"\n",
    );
    let c = c.unwrap_or_else(|e| panic!("{e}"));
    let t = |id: &str| c.terminal(id).map(|t| t.spec.plugin_timeout);
    assert_eq!(t("T1"), Some(Some(Duration::from_secs(45))));
    assert_eq!(t("T2"), Some(None), "the manifest's default");
}

#[test]
fn the_example_config_in_deploy_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/posdiagd.toml");
    let c = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.terminals.is_empty());
    assert!(c.terminals.iter().all(|t| !t.spec.hosts.is_empty()));
    assert_eq!(
        c.terminal("T1")
            .and_then(|t| t.id_rules.as_ref())
            .map(|r| r.name.as_str()),
        Some("acquirer-a-customer")
    );
    let rules = &c.rule_sets["acquirer-a-customer"];
    assert_eq!((rules.min_length, rules.max_length), (Some(12), Some(12)));
    // The example spells out the defaults of [auth], [auth.probe] and
    // [limits] (what a store PC runs with), and listens on the socket only.
    assert_eq!(c.auth, crate::config::AuthConfig::default());
    assert!(
        c.listen.iter().all(|l| matches!(l, Listen::Unix(_))),
        "{:?}",
        c.listen
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn listen_addresses_parse() {
    assert_eq!(
        Listen::parse("unix:/tmp/x.sock"),
        Ok(Listen::Unix("/tmp/x.sock".into()))
    );
    assert_eq!(
        Listen::parse("tcp:[::1]:7070"),
        Ok(Listen::Tcp("[::1]:7070".parse().unwrap()))
    );
    assert!(Listen::parse("http://x").is_err());
}

#[test]
fn pem_certificates_are_decoded() {
    let pem = b"-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n";
    assert_eq!(hosts::pem_certificates(pem), Ok(vec![vec![0, 1, 2, 3]]));
    let key = b"-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n";
    assert_eq!(hosts::pem_certificates(key), Ok(vec![]));
}

#[test]
fn a_ca_file_without_a_certificate_or_with_a_malformed_one_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for (pem, want) in [
        (
            "not a certificate\n",
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ),
        (
            "-----BEGIN CERTIFICATE-----\nAAEC\n",
            "holds a malformed PEM certificate: a -----BEGIN line has no matching -----END line",
        ),
        (
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            "holds a malformed PEM certificate: a section is not valid base64",
        ),
    ] {
        std::fs::write(dir.path().join("ca.pem"), pem).unwrap();
        let text = format!("{HOST}[hosts.acq.tls]\nca_file = \"ca.pem\"\n");
        let err = parse(&text, "posdiagd.toml", dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("posdiagd.toml:5:11: hosts.acq.tls.ca_file: ") && err.contains(want),
            "{pem:?}: {err}"
        );
    }
}

#[test]
fn unix_socket_paths_must_fit_sun_path() {
    let fits = format!("/{}", "a".repeat(MAX_SOCKET_PATH_BYTES - 1));
    assert_eq!(
        Listen::parse(&format!("unix:{fits}")),
        Ok(Listen::Unix(fits.clone().into()))
    );
    let err = Listen::parse(&format!("unix:{fits}a")).unwrap_err();
    assert!(
        err.contains("too long for a unix socket (108 bytes; the kernel takes at most 107"),
        "{err}"
    );
    assert!(Listen::parse("unix:/tmp/a\0b").is_err());
}

#[test]
fn a_socket_mode_open_to_others_is_a_warning_not_an_error() {
    let c = check("[daemon]\nsocket_mode = \"0666\"\n").unwrap();
    assert_eq!(c.socket_mode, 0o666);
    assert_eq!(
        c.warnings,
        [
            "posdiagd.toml:2:15: daemon.socket_mode: \"0666\" lets every local user connect; they get [auth.unix] others_tier (read by default); expected for example \"0660\" with clients in the socket's group"
        ]
    );
    for quiet in ["0660", "0600", "0770"] {
        let c = check(&format!("[daemon]\nsocket_mode = \"{quiet}\"\n")).unwrap();
        assert!(c.warnings.is_empty(), "{quiet}: {:?}", c.warnings);
    }
}

/// `parse` on a thread, so a read that blocks (a FIFO) fails the test
/// instead of hanging it.
fn parse_within_deadline(text: String, base: &Path) -> Result<Config, String> {
    let base = base.to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(parse(&text, "posdiagd.toml", &base).map_err(|e| e.to_string()));
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("loading the configuration blocked")
}

#[test]
fn a_ca_file_must_be_a_small_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ca.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let big = dir.path().join("big.pem");
    // Sparse: no disk is used.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let d = dir.path().display();
    for (ca_file, want) in [
        (
            "/dev/zero".to_owned(),
            "\"/dev/zero\" is a character device, not a regular file; expected a PEM certificate file".to_owned(),
        ),
        (
            "ca.fifo".to_owned(),
            format!("\"{d}/ca.fifo\" is a FIFO (named pipe), not a regular file"),
        ),
        (".".to_owned(), "is a directory, not a regular file".to_owned()),
        (
            "big.pem".to_owned(),
            "is 1073741824 bytes (1024 MiB) or more, over the limit of 1048576 bytes (1 MiB) for a PEM certificate file".to_owned(),
        ),
    ] {
        let text = format!("{HOST}[hosts.acq.tls]\nca_file = \"{ca_file}\"\n");
        let err = parse_within_deadline(text, dir.path()).unwrap_err();
        assert!(
            err.starts_with("posdiagd.toml:5:11: hosts.acq.tls.ca_file: ") && err.contains(&want),
            "{ca_file}: {err}"
        );
    }
}

#[test]
fn a_vendor_code_table_that_is_not_a_regular_file_is_rejected_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let codes = dir.path().join("codes.d");
    std::fs::create_dir(&codes).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(codes.join("acme.tsv"))
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::File::create(codes.join("big.tsv"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let c = parse_within_deadline("\n[codes]\ndir = \"codes.d\"\n".into(), dir.path()).unwrap();
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    for (w, want) in c.warnings.iter().zip([
        "acme.tsv\" is a FIFO (named pipe), not a regular file; expected a code table",
        "big.tsv\" is 1073741824 bytes (1024 MiB) or more, over the limit",
    ]) {
        assert!(
            w.starts_with("posdiagd.toml:3:7: codes.dir: vendor code table rejected: ")
                && w.contains(want),
            "{w}"
        );
    }
}

#[test]
fn the_config_file_itself_must_be_a_small_regular_file() {
    let err = load(Path::new("/dev/zero")).unwrap_err().to_string();
    assert_eq!(
        err,
        "/dev/zero: (file): the configuration is a character device, not a regular file; expected a TOML configuration file"
    );
}

#[test]
fn the_history_section_is_validated_with_locations() {
    let cases: &[(&str, &str)] = &[
        (
            "[history]\nsynchronous = \"sometimes\"\n",
            "posdiagd.toml:2:15: history.synchronous: \"sometimes\" is not a mode; expected \"normal\" (survives a crash of posdiagd) or \"full\" (also survives power loss, slower)",
        ),
        (
            "[history]\nretention_days = 60\ntransitions_retention_days = 30\n",
            "posdiagd.toml:3:30: history.transitions_retention_days: 30 is shorter than retention_days (60); status changes and the audit trail are kept at least as long as findings",
        ),
        (
            "[history]\nbatch_window_ms = 5000\n",
            "posdiagd.toml:2:19: history.batch_window_ms: 5000 is out of range; expected 1 to 1000",
        ),
        (
            "[history]\nkeep = true\n",
            "posdiagd.toml:2:1: history.keep: unknown field `keep`, expected one of `enabled`",
        ),
    ];
    for (text, want) in cases {
        let got = check(text).expect_err(text);
        assert!(got.starts_with(want), "\n got: {got}\nwant: {want}");
    }
    let c = check("").expect("defaults");
    assert!(c.history.enabled);
    assert_eq!(c.history.options.path, Path::new(DEFAULT_HISTORY_PATH));
    assert_eq!(c.history.options.batch_window, Duration::from_secs(1));
    let c = check("[history]\nretention_days = 400\n").expect("a long retention");
    assert!(c.history.options.transitions_retention >= c.history.options.retention);
}

#[test]
fn auth_mistakes_name_the_key_and_what_was_expected() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[auth]\nmode = \"strict\"\n",
            &["posdiagd.toml:2:8: auth.mode", "\"audit\""],
        ),
        (
            "[auth]\nloopback_tier = \"root\"\n",
            &["auth.loopback_tier", "diagnose"],
        ),
        (
            "[auth.unix]\nadmin_users = [\"no-such-user-posdiag\"]\n",
            &["auth.unix", "no-such-user-posdiag"],
        ),
        (
            "[auth.tls]\ncert = \"server.pem\"\n",
            &["auth.tls.key", "is missing"],
        ),
        (
            "[auth.tls]\ncert = \"/nonexistent/s.pem\"\nkey = \"/nonexistent/s.key\"\nclient_ca = \"/nonexistent/ca.pem\"\n",
            &["auth.tls.cert", "/nonexistent/s.pem"],
        ),
        (
            "[[auth.token]]\nfile = \"/nonexistent/t\"\nprincipal = \"pos\"\ntier = \"read\"\n",
            &["auth.token", "/nonexistent/t"],
        ),
        (
            "[auth.probe]\nnetworks = [\"10.0.0.0/33\"]\n",
            &["auth.probe.networks"],
        ),
        (
            "[limits]\ncalls_per_minute = -1\n",
            &["limits", "calls_per_minute"],
        ),
        (
            "[daemon]\nallow_non_loopback_tcp = true\nlisten = [\"tcp:0.0.0.0:7070\"]\n",
            &["allow_non_loopback_tcp", "[auth.tls]", "client_ca"],
        ),
        (
            "[daemon]\nlisten = [\"tls:127.0.0.1:7443\"]\n",
            &["daemon.listen", "needs [auth.tls]"],
        ),
    ];
    for (text, wants) in cases {
        let got = check(text).unwrap_err();
        for want in *wants {
            assert!(
                got.contains(want),
                "config:\n{text}\n got: {got}\nwant: {want}"
            );
        }
    }
}

#[test]
fn auth_as_written_is_what_the_daemon_enforces() {
    let c = check(
        "[auth]\nmode = \"audit\"\nloopback_tier = \"none\"\n\
         [auth.unix]\nadmin_users = [\"root\"]\ndiagnose_groups = [\"0\"]\nothers_tier = \"none\"\n\
         [auth.probe]\nnetworks = [\"192.0.2.0/24\"]\nnames = [\"*.bank.example\"]\nserial = [\"/dev/rfcomm*\"]\n\
         [limits]\nconcurrent_per_principal = 2\ncalls_per_minute = 30\n",
    )
    .unwrap();
    let a = &c.auth;
    assert_eq!(a.mode, AuthMode::AuditOnly);
    assert_eq!(a.loopback_tier, crate::auth::Tier::None);
    assert_eq!(a.unix.users, [(0, crate::auth::Tier::Admin)]);
    assert_eq!(a.unix.groups, [(0, crate::auth::Tier::Diagnose)]);
    assert_eq!(a.probe.networks.len(), 1, "networks replace the defaults");
    assert_eq!(a.probe.names, ["*.bank.example"]);
    assert_eq!((a.limits.concurrent, a.limits.per_minute), (2, 30));
}
