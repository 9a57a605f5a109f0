//! End-to-end: the real daemon talks ZVT to the simulated terminal over a
//! pseudo-terminal and over TCP (`terminal.link`), repairs a corrupted
//! frame, reports a pulled cable as `link.lost`, follows the port when it
//! comes back (also a USB terminal re-enumerated under another name, on a
//! fake sysfs), and lists ports through PortService and `posdiag ports`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use pb::check_service_client::CheckServiceClient;
use pb::port_service_client::PortServiceClient;
use pb::terminal_service_client::TerminalServiceClient;
use posdiag_proto::v1 as pb;
use posdiag_sim::zvt::{self, RunningZvt, ZvtSimConfig, ZvtTransport};
use posdiag_tests::Daemon;
use tokio_stream::StreamExt;

/// No scheduled checks: each test decides when the terminal is spoken to.
const QUIET: &str = "[defaults]\ncheck_interval_s = 0\n";

fn pty_sim(link: &Path) -> RunningZvt {
    zvt::start(ZvtSimConfig {
        transport: ZvtTransport::Pty {
            link: Some(link.to_owned()),
        },
        ..ZvtSimConfig::default()
    })
    .unwrap()
}

async fn link_check(daemon: &Daemon, terminal: &str) -> pb::Finding {
    let mut checks = CheckServiceClient::new(daemon.channel().await);
    let mut stream = checks
        .run_check(pb::RunCheckRequest {
            terminal_id: terminal.into(),
            checks: vec!["terminal.link".into()],
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
    assert_eq!(found.len(), 1, "{found:#?}");
    found.remove(0)
}

fn evidence(f: &pb::Finding, name: &str) -> String {
    use pb::evidence::Value;
    match f
        .evidence
        .iter()
        .find(|e| e.name == name)
        .and_then(|e| e.value.as_ref())
    {
        Some(Value::Text(t)) => t.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Flag(b)) => b.to_string(),
        None => panic!("no {name} in {f:#?}"),
    }
}

fn verdict_reason(f: &pb::Finding) -> (pb::Verdict, &str) {
    (f.verdict(), f.reason.as_str())
}

/// Waits for the next LINK_CHANGED event of the watch.
async fn next_link_change(watch: &mut tonic::Streaming<pb::TerminalEvent>) -> pb::Link {
    loop {
        let ev = watch.next().await.expect("watch open").unwrap();
        if ev.kind() == pb::terminal_event::Kind::LinkChanged {
            return ev.terminal.unwrap().link.unwrap();
        }
    }
}

#[tokio::test]
async fn a_zvt_terminal_on_a_pty_answers_and_a_corrupted_frame_is_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("zvt0");
    let sim = pty_sim(&link);
    let daemon = Daemon::start(&format!(
        "{QUIET}[[terminals]]\nid = \"T1\"\nlink = \"serial:{}\"\nserial = \"9600-8N2\"\n",
        link.display()
    ));

    let ok = link_check(&daemon, "T1").await;
    assert_eq!(verdict_reason(&ok), (pb::Verdict::Ok, "ok"), "{ok:#?}");
    assert_eq!(evidence(&ok, "terminal_status"), "0x00");
    assert!(!evidence(&ok, "software_version").is_empty());
    assert_eq!(evidence(&ok, "crc_errors"), "0");
    assert!(evidence(&ok, "transcript").contains("-> 05 01 03"));

    // The terminal's next frame arrives with a bad CRC: posdiag answers NAK,
    // the terminal repeats it, the enquiry still completes.
    sim.update(|s| s.faults.corrupt_crc_next = 1);
    let warned = link_check(&daemon, "T1").await;
    assert_eq!(
        verdict_reason(&warned),
        (pb::Verdict::Warning, "link.crc_errors"),
        "{warned:#?}"
    );
    assert_eq!(evidence(&warned, "crc_errors"), "1");
    assert!(!warned.remedies.is_empty());
}

#[tokio::test]
async fn a_pulled_cable_is_link_lost_and_the_port_is_followed_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("zvt0");
    let sim = pty_sim(&link);
    let daemon = Daemon::start(&format!(
        "{QUIET}[ports]\nscan_interval_ms = 100\n[[terminals]]\nid = \"T1\"\nlink = \"serial:{}\"\n",
        link.display()
    ));
    let mut terminals = TerminalServiceClient::new(daemon.channel().await);
    let mut watch = terminals
        .watch_terminals(pb::WatchTerminalsRequest::default())
        .await
        .unwrap()
        .into_inner();

    // The cable comes out right after the terminal acknowledged the command.
    sim.update(|s| s.faults.disconnect_after_commands = 1);
    let lost = link_check(&daemon, "T1").await;
    assert_eq!(
        verdict_reason(&lost),
        (pb::Verdict::Critical, "link.lost"),
        "{lost:#?}"
    );

    // The daemon notices the port is gone, and keeps serving.
    let gone = next_link_change(&mut watch).await;
    assert!(!gone.present, "{gone:?}");
    let missing = link_check(&daemon, "T1").await;
    assert_eq!(verdict_reason(&missing).1, "link.not_found", "{missing:#?}");

    // Plugged back in: a new pty behind the same link path.
    sim.update(|s| s.faults.disconnect_after_commands = 0);
    // (The kernel may hand out the same pts number again.)
    let new_path = sim.replug().unwrap().unwrap();
    let back = next_link_change(&mut watch).await;
    assert!(back.present, "{back:?}");
    assert_eq!(Path::new(&back.path), fs::canonicalize(&new_path).unwrap());
    let ok = link_check(&daemon, "T1").await;
    assert_eq!(verdict_reason(&ok), (pb::Verdict::Ok, "ok"), "{ok:#?}");

    // The history remembers the port going and coming back, in that order.
    let events = pb::history_service_client::HistoryServiceClient::new(daemon.channel().await)
        .list_events(pb::ListEventsRequest {
            filter: Some(pb::HistoryFilter {
                terminal_id: "T1".into(),
                ..Default::default()
            }),
            kinds: vec![pb::EventKind::Link as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let presence: Vec<bool> = events
        .iter()
        .rev()
        .filter_map(|e| match &e.event {
            Some(pb::history_event::Event::Link(l)) => Some(l.present),
            _ => None,
        })
        .collect();
    assert_eq!(presence, vec![false, true], "{events:#?}");
}

#[tokio::test]
async fn a_zvt_terminal_over_tcp_answers_and_a_closed_port_is_refused() {
    let sim = zvt::start(ZvtSimConfig::default()).unwrap();
    let addr = sim.local_addr().unwrap();
    let daemon = Daemon::start(&format!(
        "{QUIET}[[terminals]]\nid = \"T1\"\nlink = \"tcp:{addr}\"\n[[terminals]]\nid = \"T2\"\nlink = \"tcp:127.0.0.1:1\"\n"
    ));
    let ok = link_check(&daemon, "T1").await;
    assert_eq!(verdict_reason(&ok), (pb::Verdict::Ok, "ok"), "{ok:#?}");
    assert!(evidence(&ok, "link").starts_with("tcp"));
    let refused = link_check(&daemon, "T2").await;
    assert_eq!(
        verdict_reason(&refused),
        (pb::Verdict::Critical, "tcp.refused"),
        "{refused:#?}"
    );
}

/// A fake /sys, /dev and /proc with one FTDI adapter whose device node is a
/// symlink to the simulator's pty, so the daemon can open it.
struct FakeUsb {
    root: PathBuf,
}

const USB: &str = "devices/pci0000:00/0000:00:14.0/usb1/1-2";

impl FakeUsb {
    fn new(root: &Path) -> FakeUsb {
        for d in [
            "sys/class/tty",
            "sys/bus/usb-serial/drivers/ftdi_sio",
            "dev",
            "proc",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        let sys = root.join("sys");
        for (attr, value) in [
            ("idVendor", "0403"),
            ("idProduct", "6001"),
            ("manufacturer", "FTDI"),
            ("product", "FT232R USB UART"),
            ("serial", "A12345"),
        ] {
            fs::create_dir_all(sys.join(USB)).unwrap();
            fs::write(sys.join(USB).join(attr), format!("{value}\n")).unwrap();
        }
        let iface = sys.join(USB).join("1-2:1.0");
        fs::create_dir_all(&iface).unwrap();
        fs::write(iface.join("bInterfaceNumber"), "00\n").unwrap();
        FakeUsb {
            root: root.to_owned(),
        }
    }

    /// The adapter shows up as `tty`, its node pointing at `pty`.
    fn plug(&self, tty: &str, pty: &Path) {
        let sys = self.root.join("sys");
        let port_dir = format!("{USB}/1-2:1.0/{tty}");
        let tty_dir = format!("{port_dir}/tty/{tty}");
        fs::create_dir_all(sys.join(&tty_dir)).unwrap();
        fs::write(sys.join(&tty_dir).join("dev"), "188:0\n").unwrap();
        symlink(
            sys.join("bus/usb-serial/drivers/ftdi_sio"),
            sys.join(&port_dir).join("driver"),
        )
        .unwrap();
        symlink(format!("../../../{tty}"), sys.join(&tty_dir).join("device")).unwrap();
        symlink(format!("../../{tty_dir}"), sys.join("class/tty").join(tty)).unwrap();
        symlink(pty, self.root.join("dev").join(tty)).unwrap();
    }

    /// The adapter is pulled out.
    fn unplug(&self, tty: &str) {
        let sys = self.root.join("sys");
        fs::remove_file(sys.join("class/tty").join(tty)).unwrap();
        fs::remove_dir_all(sys.join(format!("{USB}/1-2:1.0/{tty}"))).unwrap();
        fs::remove_file(self.root.join("dev").join(tty)).unwrap();
    }
}

#[tokio::test]
async fn a_usb_terminal_is_followed_from_ttyusb0_to_ttyusb1_and_listed_with_its_identity() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeUsb::new(&dir.path().join("root"));
    let sim = zvt::start(ZvtSimConfig {
        transport: ZvtTransport::Pty { link: None },
        ..ZvtSimConfig::default()
    })
    .unwrap();
    fake.plug("ttyUSB0", &sim.device_path().unwrap());
    let daemon = Daemon::start(&format!(
        "{QUIET}[ports]\nroot = \"{}\"\nscan_interval_ms = 100\n[[terminals]]\nid = \"T2\"\nlink = \"usb:0403:6001:A12345\"\n",
        fake.root.display()
    ));

    let mut ports = PortServiceClient::new(daemon.channel().await);
    let list = ports
        .list_ports(pb::ListPortsRequest {})
        .await
        .unwrap()
        .into_inner();
    let usb0 = list
        .ports
        .iter()
        .find(|p| p.path.ends_with("/dev/ttyUSB0"))
        .unwrap_or_else(|| panic!("{list:#?}"));
    assert_eq!(usb0.kind(), pb::PortKind::Usb);
    let dev = usb0.usb.as_ref().unwrap();
    assert_eq!((dev.vendor_id, dev.product_id), (0x0403, 0x6001));
    assert_eq!(dev.serial_number, "A12345");
    assert_eq!(usb0.terminal_ids, ["T2"]);

    let ok = link_check(&daemon, "T2").await;
    assert_eq!(verdict_reason(&ok), (pb::Verdict::Ok, "ok"), "{ok:#?}");
    assert!(evidence(&ok, "device").ends_with("/dev/ttyUSB0"), "{ok:#?}");

    // Re-enumeration: the same adapter comes back as ttyUSB1.
    let mut terminals = TerminalServiceClient::new(daemon.channel().await);
    let mut watch = terminals
        .watch_terminals(pb::WatchTerminalsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut port_events = ports
        .watch_ports(pb::WatchPortsRequest {})
        .await
        .unwrap()
        .into_inner();
    fake.unplug("ttyUSB0");
    assert!(!next_link_change(&mut watch).await.present);
    fake.plug("ttyUSB1", &sim.device_path().unwrap());
    let back = next_link_change(&mut watch).await;
    assert!(back.path.ends_with("/dev/ttyUSB1"), "{back:?}");
    let ok = link_check(&daemon, "T2").await;
    assert_eq!(verdict_reason(&ok), (pb::Verdict::Ok, "ok"), "{ok:#?}");
    assert!(evidence(&ok, "device").ends_with("/dev/ttyUSB1"), "{ok:#?}");
    // The same finding (its subject is the configured port), not a stale one beside it.
    let mut terminals2 = TerminalServiceClient::new(daemon.channel().await);
    let t2 = terminals2
        .get_terminal(pb::GetTerminalRequest {
            id: "T2".into(),
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let links: Vec<_> = t2
        .latest_findings
        .iter()
        .filter(|f| f.check == "terminal.link")
        .collect();
    assert_eq!(links.len(), 1, "{links:#?}");
    assert_eq!(t2.status(), pb::Verdict::Ok, "{t2:#?}");

    // The port watch saw it go and come back.
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let ev = port_events.next().await.unwrap().unwrap();
        let path = ev.port.as_ref().unwrap().path.clone();
        match ev.kind() {
            pb::port_event::Kind::Removed if path.ends_with("ttyUSB0") => {
                seen.push("removed ttyUSB0")
            }
            pb::port_event::Kind::Added if path.ends_with("ttyUSB1") => seen.push("added ttyUSB1"),
            _ => {}
        }
    }
    assert_eq!(seen, ["removed ttyUSB0", "added ttyUSB1"]);

    // And a person sees it with `posdiag ports`.
    let endpoint = format!("unix:{}", daemon.socket.display());
    let out = posdiag_tests::run("posdiag", &["--endpoint", &endpoint, "ports"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("0403:6001 FTDI FT232R USB UART sn A12345"),
        "{text}"
    );
    assert!(text.contains("T2"), "{text}");
}
