//! End-to-end: `posdiag bundle` against the real daemon — one tar.gz with
//! the summary in both languages, versions, terminals, history, the
//! doctor's diagnoses, plugins, ports, the configuration without its
//! secrets and the daemon's log; a card number typed into the doctor
//! appears nowhere in the archive. Without a daemon the bundle is still
//! written, saying why it is short.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::BTreeMap;
use std::io::Read;

use pb::check_service_client::CheckServiceClient;
use posdiag_proto::v1 as pb;
use posdiag_sim::host::{self, Fault, HostSimConfig};
use posdiag_sim::zvt::{self, ZvtSimConfig};
use posdiag_tests::{Daemon, bin};
use tokio_stream::StreamExt;

const CARD: &str = "4761739001010119";
const TOKEN: &str = "tok-3f9a1c7e5b2d8a40";

/// The archive's files by name (without the top directory), and the whole
/// uncompressed tar stream.
fn open(path: &std::path::Path) -> (BTreeMap<String, String>, Vec<u8>) {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(raw.as_slice());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let (top, rest) = name.split_once('/').unwrap();
        assert!(top.starts_with("posdiag-bundle-"), "{name}");
        let mut text = String::new();
        e.read_to_string(&mut text).unwrap();
        files.insert(rest.to_owned(), text);
    }
    (files, raw)
}

fn posdiag(endpoint: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(bin("posdiag"))
        .args(["--endpoint", endpoint])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test]
async fn the_bundle_holds_what_the_help_desk_needs_masked_and_without_secrets() {
    let zvt_sim = zvt::start(ZvtSimConfig::default()).unwrap();
    let term = zvt_sim.local_addr().unwrap();
    let down = host::start(HostSimConfig {
        fault: Fault::Refusing,
        ..HostSimConfig::default()
    })
    .await
    .unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("pos-app.token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let daemon = Daemon::start_logging(
        &format!(
            "[defaults]\ncheck_interval_s = 0\ncount = 2\ninterval_ms = 0\n\
             [[auth.token]]\nfile = \"{}\"\nprincipal = \"pos-app\"\ntier = \"read\"\n\
             [hosts.acq]\naddress = \"127.0.0.1\"\nport = {}\n\
             [[terminals]]\nid = \"T1\"\nlink = \"tcp:{term}\"\nhosts = [\"acq\"]\nzvt_password = \"654321\"\n",
            token_file.display(),
            down.addr().port()
        ),
        "info",
    );

    // A diagnosis whose symptom, typed by a cashier, holds a card number.
    let mut stream = CheckServiceClient::new(daemon.channel().await)
        .run_doctor(pb::RunDoctorRequest {
            terminal_id: "T1".into(),
            symptom: format!("{CARD} 刷不了卡"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    while let Some(ev) = stream.next().await {
        ev.unwrap();
    }

    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("bundle.tar.gz");
    let endpoint = format!("unix:{}", daemon.socket.display());
    let config = daemon.config_path();
    let log = daemon.log_path();
    let (code, text) = posdiag(
        &endpoint,
        &[
            "bundle",
            "-o",
            path.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("support bundle written"), "{text}");
    let (files, raw) = open(&path);
    for name in [
        "SUMMARY.txt",
        "versions.txt",
        "terminals.json",
        "terminals.zh-CN.json",
        "plugins.json",
        "ports.json",
        "history/findings.json",
        "history/transitions.json",
        "history/events.json",
        "doctor.json",
        "config/posdiagd.toml",
        "daemon.log",
    ] {
        assert!(
            files.contains_key(name),
            "{name} missing: {:?}",
            files.keys()
        );
    }
    // Masked throughout, secrets removed: grep the whole archive.
    let haystack = String::from_utf8_lossy(&raw);
    for secret in [CARD, TOKEN, "654321"] {
        let holders: Vec<(&String, &str)> = files
            .iter()
            .filter_map(|(n, t)| t.lines().find(|l| l.contains(secret)).map(|l| (n, l)))
            .collect();
        assert!(
            !haystack.contains(secret),
            "{secret} is in the archive: {holders:?}"
        );
    }
    let summary = &files["SUMMARY.txt"];
    assert!(
        summary.contains("posdiag support bundle") && summary.contains("posdiag 支持包"),
        "{summary}"
    );
    assert!(
        summary.contains("terminals: 1") && summary.contains("终端：1 台"),
        "{summary}"
    );
    assert!(summary.contains("  T1 "), "{summary}");
    assert!(
        files["doctor.json"].contains("刷不了卡"),
        "{}",
        files["doctor.json"]
    );
    assert!(files["terminals.json"].contains("\"T1\""));
    let config = &files["config/posdiagd.toml"];
    assert!(config.contains("principal = \"pos-app\""), "{config}");
    assert!(!config.contains("pos-app.token"), "{config}");
    assert!(files["versions.txt"].starts_with("posdiag "));

    // No daemon: the bundle is still written, and says why it is short.
    let alone = out.path().join("alone.tar.gz");
    let (code, text) = posdiag(
        "unix:/nonexistent/posdiagd.sock",
        &["--lang", "zh-CN", "bundle", "-o", alone.to_str().unwrap()],
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("无法连接守护进程"), "{text}");
    let (files, _) = open(&alone);
    assert!(files["SUMMARY.txt"].contains("the daemon could not be reached"));
    assert!(files.contains_key("versions.txt"));
    assert!(!files.contains_key("terminals.json"));
}
