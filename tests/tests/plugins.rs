//! End-to-end: vendor plugins through the real daemon. The example bundles
//! are assembled with the README's one command (`plugins/assemble.sh`), the
//! daemon loads them from `[plugins] dir`, runs their checks against the
//! simulated ZVT terminal with the link proxied through the daemon, lists
//! them in PluginService and `posdiag plugins`; a plugin that segfaults is a
//! `plugin.crashed` finding while the daemon keeps serving, and a
//! group-writable bundle is refused with the reason.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use pb::check_service_client::CheckServiceClient;
use pb::plugin_service_client::PluginServiceClient;
use posdiag_proto::v1 as pb;
use posdiag_sim::zvt::{self, ZvtSimConfig};
use posdiag_tests::Daemon;
use tokio_stream::StreamExt;

/// A bundle whose check dereferences a null pointer.
fn segfaulting_bundle(dir: &Path) {
    let bundle = dir.join("crash.segv");
    std::fs::create_dir(&bundle).unwrap();
    let src = bundle.join("segv.c");
    std::fs::write(
        &src,
        r#"
#include "posdiag_plugin.h"
static int32_t describe(posdiag_buf *out) { out->ptr = 0; out->len = 0; return POSDIAG_OK; }
static int32_t init(const posdiag_host_api *h, void *c, const uint8_t *p, size_t n, void **s) { (void)h; (void)c; (void)p; (void)n; *s = 0; return POSDIAG_OK; }
static int32_t run(void *s, const uint8_t *p, size_t n, posdiag_buf *out) { (void)s; (void)p; (void)n; (void)out; *(volatile int *)0 = 1; return POSDIAG_OK; }
static void free_buf(posdiag_buf b) { (void)b; }
static void shutdown(void *s) { (void)s; }
static const posdiag_plugin_v1 table = { sizeof(posdiag_plugin_v1), POSDIAG_ABI_MAJOR, POSDIAG_ABI_MINOR, 0,
  "crash.segv", "0.0.1", describe, init, run, free_buf, shutdown };
const posdiag_plugin_v1 *posdiag_plugin_entry_v1(void) { return &table; }
"#,
    )
    .unwrap();
    let include = posdiag_tests::workspace().join("crates/posdiag-plugin-api/include");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(bundle.join("libsegv.so"))
        .arg("-I")
        .arg(include)
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_file(&src).unwrap();
    std::fs::write(
        bundle.join("manifest.toml"),
        "id = \"crash.segv\"\nversion = \"0.0.1\"\nabi = \"posdiag-c-v1\"\nlibrary = \"libsegv.so\"\nchecks = [\"crash.now\"]\ndefault_timeout_ms = 3000\n[[match]]\nmodel = \"Crashy\"\n",
    )
    .unwrap();
    for p in [bundle.join("libsegv.so"), bundle.join("manifest.toml")] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
}

async fn run(daemon: &Daemon, terminal: &str, check: &str) -> Vec<pb::Finding> {
    let mut checks = CheckServiceClient::new(daemon.channel().await);
    let mut stream = checks
        .run_check(pb::RunCheckRequest {
            terminal_id: terminal.into(),
            checks: vec![check.into()],
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut found = Vec::new();
    while let Some(ev) = stream.next().await {
        if let Some(pb::check_event::Event::Finding(f)) = ev.unwrap().event {
            found.push(f);
        }
    }
    found
}

#[tokio::test]
async fn vendor_plugins_run_through_the_daemon_and_a_crashing_one_cannot_take_it_down() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    posdiag_tests::assemble_bundles(&plugins, false);
    segfaulting_bundle(&plugins);
    // A bundle anyone in the group may change is refused.
    let writable = plugins.join("writable");
    std::fs::create_dir(&writable).unwrap();
    std::fs::copy(
        plugins.join("example.c/manifest.toml"),
        writable.join("manifest.toml"),
    )
    .unwrap();
    std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o775)).unwrap();

    let sim = zvt::start(ZvtSimConfig::default()).unwrap();
    let addr = sim.local_addr().unwrap();
    let daemon = Daemon::start(&format!(
        "[defaults]\ncheck_interval_s = 0\n[plugins]\ndir = \"{}\"\n\
         [[terminals]]\nid = \"T1\"\nmodel = \"Move/5000\"\nlink = \"tcp:{addr}\"\nplugin = \"example.zvt-rust\"\n\
         [[terminals]]\nid = \"T2\"\nlink = \"tcp:{addr}\"\nplugin = \"example.c\"\n\
         [[terminals]]\nid = \"T3\"\nmodel = \"Crashy\"\n",
        plugins.display()
    ));

    // The Rust example speaks ZVT to the simulator through the daemon's link.
    let found = run(&daemon, "T1", "example.zvt_status").await;
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(
        (f.verdict(), f.reason.as_str()),
        (pb::Verdict::Ok, "ok"),
        "{f:#?}"
    );
    assert_eq!(f.producer.as_ref().unwrap().id, "example.zvt-rust");
    assert!(
        f.evidence.iter().any(|e| e.name.contains("version")),
        "{f:#?}"
    );

    // So does the C example.
    let found = run(&daemon, "T2", "example.zvt_ack").await;
    assert_eq!(found[0].verdict(), pb::Verdict::Ok, "{found:#?}");
    assert_eq!(found[0].producer.as_ref().unwrap().id, "example.c");

    // A segfault is a finding, and the daemon keeps serving.
    let crashed = run(&daemon, "T3", "crash.now").await;
    assert_eq!(
        (crashed[0].verdict(), crashed[0].reason.as_str()),
        (pb::Verdict::Error, "plugin.crashed"),
        "{crashed:#?}"
    );
    let again = run(&daemon, "T1", "example.zvt_status").await;
    assert_eq!(again[0].verdict(), pb::Verdict::Ok, "{again:#?}");
    // The history keeps the crash as a plugin fault, beside the finding.
    let faults = pb::history_service_client::HistoryServiceClient::new(daemon.channel().await)
        .list_events(pb::ListEventsRequest {
            kinds: vec![pb::EventKind::PluginFault as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert!(
        faults.iter().any(|e| matches!(&e.event,
            Some(pb::history_event::Event::PluginFault(f)) if f.plugin_id == "crash.segv" && f.fault == "crashed")),
        "{faults:#?}"
    );

    // PluginService lists them, with the refused bundle and its reason.
    let mut svc = PluginServiceClient::new(daemon.channel().await);
    let list = svc
        .list_plugins(pb::ListPluginsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let by_id = |id: &str| {
        list.plugins
            .iter()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("{list:#?}"))
    };
    assert_eq!(by_id("example.zvt-rust").state(), pb::PluginState::Ready);
    assert_eq!(by_id("example.zvt-rust").terminal_ids, ["T1"]);
    assert!(by_id("crash.segv").crash_count >= 1, "{list:#?}");
    let refused = list
        .plugins
        .iter()
        .find(|p| p.state() == pb::PluginState::Refused)
        .unwrap_or_else(|| panic!("{list:#?}"));
    assert!(refused.last_error.contains("writable"), "{refused:#?}");
    let missing = svc
        .get_plugin(pb::GetPluginRequest {
            id: "nope".into(),
            lang: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);

    // A vendor's conformance report: both examples pass, the crashing one fails.
    for (bundle, code) in [("example.zvt-rust", 0), ("example.c", 0), ("crash.segv", 1)] {
        let path = plugins.join(bundle);
        let out = posdiag_tests::run("posdiag", &["plugin", "verify", path.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{bundle}: {text}");
        if code == 1 {
            assert!(
                text.contains("FAIL crash.now over") && text.contains("plugin.crashed"),
                "{text}"
            );
        } else {
            assert!(text.contains("PASS load: ABI 1.0"), "{text}");
        }
        if bundle == "example.zvt-rust" {
            // The customer lookup has no simulator: a note naming the missing setting
            // (the plugin's own error message), not a failure.
            assert!(
                text.contains("NOTE customer.status") && text.contains("args.customer_list"),
                "{text}"
            );
        }
    }

    // And a person reads the same with `posdiag plugins` (exit 1: one is refused).
    let endpoint = format!("unix:{}", daemon.socket.display());
    let out = posdiag_tests::run("posdiag", &["--endpoint", &endpoint, "plugins"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("example.zvt-rust") && text.contains("refused"),
        "{text}"
    );
}

async fn doctor(daemon: &Daemon, terminal: &str, symptom: &str) -> pb::Diagnosis {
    doctor_id(daemon, terminal, symptom, "").await
}

async fn doctor_id(daemon: &Daemon, terminal: &str, symptom: &str, id: &str) -> pb::Diagnosis {
    let mut client = CheckServiceClient::new(daemon.channel().await);
    let stream = client
        .run_doctor(pb::RunDoctorRequest {
            terminal_id: terminal.into(),
            symptom: symptom.into(),
            id_value: id.into(),
            lang: String::new(),
            emv: None,
        })
        .await
        .unwrap()
        .into_inner();
    posdiag_tests::read_doctor(stream).await.diagnosis
}

// Multi-threaded: the simulators keep answering while the test blocks on the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_plugins_let_the_doctor_find_a_dead_reader_and_the_banks_end_of_day() {
    use posdiag_sim::host::{self, Answer, HostSimConfig};
    use posdiag_sim::iso8583::{HostState, IsoHost, IsoScenario};

    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    posdiag_tests::assemble_bundles(&plugins, false);
    // A ZVT terminal whose card reader does not answer, over TCP.
    let zvt_sim = zvt::start(ZvtSimConfig::default()).unwrap();
    zvt_sim.update(|s| s.identity.status = 0xE2);
    // An acquirer in its end-of-day window.
    let iso = IsoHost::named(
        "ascii",
        IsoScenario {
            state: HostState::Cutover,
            ..IsoScenario::default()
        },
    )
    .unwrap();
    let acquirer = host::start(HostSimConfig {
        answer: Answer::Iso8583(iso),
        ..HostSimConfig::default()
    })
    .await
    .unwrap();
    let daemon = Daemon::start(&format!(
        "[defaults]\ncheck_interval_s = 0\ncount = 2\ninterval_ms = 0\n[plugins]\ndir = \"{}\"\n\
         [hosts.acq]\naddress = \"127.0.0.1\"\nport = {}\n[hosts.acq.iso8583]\ndialect = \"ascii\"\ncount = 2\n\
         [[terminals]]\nid = \"T1\"\nmodel = \"Move/5000\"\nlink = \"tcp:{}\"\n\
         [[terminals]]\nid = \"T2\"\nhosts = [\"acq\"]\n",
        plugins.display(),
        acquirer.addr().port(),
        zvt_sim.local_addr().unwrap()
    ));

    // T1 is served by posdiag.zvt (its model matches the manifest): the dead
    // reader is the most likely cause.
    let d = doctor(&daemon, "T1", "").await;
    assert!(!d.causes.is_empty(), "{d:#?}");
    assert_eq!(d.causes[0].reason, "reader.defective", "{d:#?}");
    assert!(!d.causes[0].remedies.is_empty());
    // The daemon proxied the plugin's link and kept its bytes for the vendor:
    // the status enquiry (05 01) and the terminal's answer.
    let transcript = d.causes[0]
        .evidence
        .iter()
        .find(|e| e.name == "link_transcript")
        .and_then(|e| match &e.value {
            Some(pb::evidence::Value::Text(t)) => Some(t.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no link transcript: {d:#?}"));
    assert!(
        transcript.contains(" TX ") && transcript.contains(" RX "),
        "{transcript}"
    );
    assert!(transcript.contains("05 01"), "{transcript}");
    // posdiag.zvt asks for serialised access: T1 got a host process of its own.
    let zvt = PluginServiceClient::new(daemon.channel().await)
        .get_plugin(pb::GetPluginRequest {
            id: "posdiag.zvt".into(),
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(zvt.device_hosts, 1, "{zvt:#?}");
    assert_eq!(zvt.terminal_ids, ["T1"]);

    // T2's acquirer answers the echo with 90: the bank's end-of-day window.
    let d = doctor(&daemon, "T2", "90").await;
    assert_eq!(d.causes[0].reason, "echo.cutover", "{d:#?}");
    assert_eq!(d.causes[0].check, "host.echo");

    // Ad-hoc probes without a config entry, through the same plugins.
    let nexo = posdiag_sim::nexo::start(posdiag_sim::nexo::NexoSimConfig::default())
        .await
        .unwrap();
    let endpoint = format!("unix:{}", daemon.socket.display());
    let zvt_addr = zvt_sim.local_addr().unwrap().to_string();
    let healthy_acquirer = host::start(HostSimConfig {
        answer: Answer::Iso8583(IsoHost::named("cup", IsoScenario::default()).unwrap()),
        ..HostSimConfig::default()
    })
    .await
    .unwrap();
    let iso_addr = healthy_acquirer.addr().to_string();
    let nexo_url = format!("http://{}/nexo", nexo.addr());
    for (args, code, needle) in [
        (
            vec!["probe", "zvt", "--tcp", zvt_addr.as_str()],
            2,
            "reader.defective",
        ),
        (
            vec![
                "probe",
                "iso8583",
                iso_addr.as_str(),
                "--dialect",
                "cup",
                "--count",
                "2",
            ],
            0,
            "host.echo",
        ),
        (
            vec!["probe", "nexo", "--url", nexo_url.as_str()],
            0,
            "poi.diagnosis",
        ),
    ] {
        let mut all = vec!["--endpoint", endpoint.as_str()];
        all.extend(args.iter().copied());
        let out = posdiag_tests::run("posdiag", &all);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains(needle), "{args:?}: {text}");
    }
}

/// "Unsupported customer ID" with a valid ID: the doctor goes on to the terminal's plugin's
/// `customer.status` (here the Rust example's, from an exported registry) and names the
/// customer's account as the cause; an invalid ID is never looked up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_looks_up_the_customer_when_the_terminals_plugin_offers_it() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    posdiag_tests::assemble_bundles(&plugins, false);
    let registry = dir.path().join("customers.csv");
    std::fs::write(
        &registry,
        "id,status,note\n138 0013 8000,active\n13912345678,closed,closed by the customer\n",
    )
    .unwrap();
    let zvt_sim = zvt::start(ZvtSimConfig::default()).unwrap();
    let daemon = Daemon::start(&format!(
        "[defaults]\ncheck_interval_s = 0\n[plugins]\ndir = \"{}\"\n\
         [rules.phone]\nkinds = [\"phone\"]\n\
         [[terminals]]\nid = \"T1\"\nmodel = \"posdiag example terminal\"\nlink = \"tcp:{}\"\n\
         id_rules = \"phone\"\nplugin_args = {{ customer_list = \"{}\" }}\n\
         [[terminals]]\nid = \"T2\"\nmodel = \"posdiag example terminal\"\nlink = \"tcp:127.0.0.1:1\"\n\
         id_rules = \"phone\"\nplugin_args = {{ customer_list = \"{}\" }}\n",
        plugins.display(),
        zvt_sim.local_addr().unwrap(),
        registry.display(),
        registry.display()
    ));
    let customer_cause = |d: &pb::Diagnosis| {
        d.causes
            .iter()
            .find(|c| c.check == "customer.status")
            .map(|c| (c.rank, c.reason.clone()))
    };
    // Closed: the account, not the terminal or the ID, is why the terminal says no.
    let d = doctor_id(&daemon, "T1", "unsupported-id", "139 1234 5678").await;
    assert_eq!(
        customer_cause(&d),
        Some((1, "customer.blocked".into())),
        "{d:#?}"
    );
    assert!(!d.causes[0].remedies.is_empty());
    assert!(
        !format!("{d:?}").contains("13912345678"),
        "the ID stays out: {d:#?}"
    );
    // Valid but not registered.
    let d = doctor_id(&daemon, "T1", "unsupported-id", "13700000000").await;
    assert_eq!(
        customer_cause(&d),
        Some((1, "customer.unknown".into())),
        "{d:#?}"
    );
    // Registered and active: the lookup rules the customer out.
    let d = doctor_id(&daemon, "T1", "unsupported-id", "13800138000").await;
    assert_eq!(customer_cause(&d), None, "{d:#?}");
    assert!(
        d.ruled_out.iter().any(|r| r.starts_with("customer.status")),
        "{d:#?}"
    );
    // Not a phone number at all: the ID explains it, and nobody looks it up.
    let d = doctor_id(&daemon, "T1", "unsupported-id", "12345").await;
    assert_eq!(d.causes[0].check, "id.validate", "{d:#?}");
    assert_eq!(customer_cause(&d), None, "{d:#?}");
    assert!(
        !d.ruled_out.iter().any(|r| r.starts_with("customer.status")),
        "{d:#?}"
    );
    // The lookup does not use the terminal's link (its descriptor says so): with T2's
    // link down it still answers, beside the dead link.
    let d = doctor_id(&daemon, "T2", "unsupported-id", "13912345678").await;
    assert_eq!(d.causes[0].check, "terminal.link", "{d:#?}");
    assert_eq!(
        customer_cause(&d).map(|c| c.1),
        Some("customer.blocked".into()),
        "{d:#?}"
    );
    // A full check-up never runs the lookup: it needs an ID.
    let d = doctor(&daemon, "T1", "").await;
    assert_eq!(customer_cause(&d), None, "{d:#?}");
    assert!(
        !d.ruled_out.iter().any(|r| r.starts_with("customer.status")),
        "{d:#?}"
    );
}
