//! Hardening, end to end against the real `posdiagd`: what a hostile or
//! careless client can send over the API. Card numbers driven through every
//! string field of every RPC never come back unmasked (answers, statuses, the
//! log); repeated fields are bounded; malformed and oversized requests are
//! INVALID_ARGUMENT; a probe whose client left frees its slot; SIGHUP reloads
//! and does not kill the daemon; ad-hoc serial probes open only serial ports; shutdown
//! leaves another daemon's socket alone.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::{Duration, Instant};

use pb::check_service_client::CheckServiceClient;
use pb::id_service_client::IdServiceClient;
use pb::terminal_service_client::TerminalServiceClient;
use posdiag_proto::v1 as pb;
use posdiag_tests::{Daemon, status_kib};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MapKey, Value};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::Bytes;
use tonic::transport::Channel;

/// Card numbers as people type them: whole, and in groups.
const PANS: [&str; 2] = ["4111111111111111", "5500 0000 0000 0004"];

/// A request or answer as raw protobuf bytes, so the test can send what a
/// generated client would refuse to (and read any answer type).
#[derive(Debug, Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        use prost::bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// Calls `path` with `messages` as the request stream (one message for a
/// unary or server-streaming method: the bytes on the wire are the same)
/// and returns every answer message (at most `max`, within `deadline`) and
/// the status the call ended with.
async fn call_raw(
    channel: &Channel,
    path: &str,
    messages: Vec<Bytes>,
    deadline: Duration,
    max: usize,
) -> (Vec<Bytes>, tonic::Status) {
    call_raw_in(channel, path, messages, deadline, max, None).await
}

/// [`call_raw`] with a `posdiag-lang` header.
async fn call_raw_in(
    channel: &Channel,
    path: &str,
    messages: Vec<Bytes>,
    deadline: Duration,
    max: usize,
    lang: Option<&str>,
) -> (Vec<Bytes>, tonic::Status) {
    let mut grpc = tonic::client::Grpc::new(channel.clone())
        .max_encoding_message_size(64 << 20)
        .max_decoding_message_size(64 << 20);
    grpc.ready().await.unwrap();
    let path: tonic::codegen::http::uri::PathAndQuery = path.parse().unwrap();
    let mut req = tonic::Request::new(tokio_stream::iter(messages));
    req.set_timeout(deadline);
    if let Some(lang) = lang {
        req.metadata_mut()
            .insert("posdiag-lang", lang.parse().unwrap());
    }
    let mut got = Vec::new();
    let ended = tokio::time::timeout(deadline + Duration::from_secs(5), async {
        match grpc.streaming(req, path, Raw).await {
            Err(status) => status,
            Ok(resp) => {
                let mut s = resp.into_inner();
                loop {
                    match s.next().await {
                        Some(Ok(m)) => {
                            got.push(m);
                            if got.len() >= max {
                                return tonic::Status::ok("enough");
                            }
                        }
                        Some(Err(status)) => return status,
                        None => return tonic::Status::ok(""),
                    }
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| tonic::Status::deadline_exceeded("the test's own bound"));
    (got, ended)
}

/// Whether `text` shows any of the card numbers unmasked.
fn leaks(text: &[u8]) -> Option<&'static str> {
    let text = String::from_utf8_lossy(text);
    PANS.into_iter().find(|p| text.contains(p))
}

/// A plausible value for a request field of that name, so the request gets
/// past the first check and the card number reaches deeper code.
fn plausible(name: &str, closed: u16) -> Option<String> {
    Some(match name {
        "terminal_id" | "id" => "T1".into(),
        "lang" => "zh-CN".into(),
        "target" => format!("127.0.0.1:{closed}"),
        "link" => format!("tcp:127.0.0.1:{closed}"),
        "protocol" => "iso8583".into(),
        "kind" => "auto".into(),
        "symptom" => "unsupported-id".into(),
        "id_value" => "13812345678".into(),
        _ => return None,
    })
}

fn set(msg: &mut DynamicMessage, field: &prost_reflect::FieldDescriptor, v: &str) {
    let value = if field.is_map() {
        let mut m = std::collections::HashMap::new();
        m.insert(MapKey::String(v.into()), Value::String(v.into()));
        Value::Map(m)
    } else if field.is_list() {
        match field.kind() {
            Kind::String => Value::List(vec![Value::String(v.into())]),
            _ => return,
        }
    } else {
        match field.kind() {
            Kind::String => Value::String(v.into()),
            Kind::Bytes => Value::Bytes(Bytes::from(v.to_owned())),
            _ => return,
        }
    };
    msg.set_field(field, value);
}

fn textual(field: &prost_reflect::FieldDescriptor) -> bool {
    field.is_map()
        || matches!(field.kind(), Kind::String)
        || (!field.is_list() && matches!(field.kind(), Kind::Bytes))
}

#[tokio::test]
async fn card_numbers_in_any_string_field_of_any_rpc_never_come_back_unmasked() {
    // A port nothing listens on: host checks fail fast (refused).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut daemon = Daemon::start_logging(
        &format!(
            "[defaults]\ncount = 1\ninterval_ms = 0\ntimeout_ms = 300\ncheck_interval_s = 0\n\
             [hosts.acq]\naddress = \"127.0.0.1\"\nport = {closed_port}\n\
             [rules.customer]\nmin_length = 12\nmax_length = 19\ncharset = \"digits\"\n\
             [[terminals]]\nid = \"T1\"\nname = \"Lane 1\"\nhosts = [\"acq\"]\nid_rules = \"customer\"\n"
        ),
        "debug",
    );
    let channel = daemon.channel().await;
    let pool = DescriptorPool::decode(posdiag_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut calls = 0;
    let mut fields_tried = 0;
    for service in pool.services().filter(|s| s.package_name() == "posdiag.v1") {
        for method in service.methods() {
            let input = method.input();
            let path = format!("/{}/{}", service.full_name(), method.name());
            let mut base = DynamicMessage::new(input.clone());
            for f in input.fields() {
                if let Some(v) = plausible(f.name(), closed_port)
                    && !f.is_list()
                    && !f.is_map()
                {
                    set(&mut base, &f, &v);
                }
            }
            for field in input.fields().filter(textual) {
                for pan in PANS {
                    let mut msg = base.clone();
                    set(&mut msg, &field, pan);
                    // As a value inside a sentence too, as a person types it.
                    let mut in_text = base.clone();
                    set(&mut in_text, &field, &format!("卡号 {pan} 不行"));
                    for m in [msg, in_text] {
                        let (answers, status) = call_raw(
                            &channel,
                            &path,
                            vec![Bytes::from(m.encode_to_vec())],
                            Duration::from_secs(10),
                            64,
                        )
                        .await;
                        calls += 1;
                        for a in &answers {
                            assert_eq!(leaks(a), None, "{path} {}: answer {a:?}", field.name());
                        }
                        assert_eq!(
                            leaks(status.message().as_bytes()),
                            None,
                            "{path} {}: status {status:?}",
                            field.name()
                        );
                        assert!(
                            status.message().len() <= 1024,
                            "{path}: a {}-byte status message",
                            status.message().len()
                        );
                    }
                }
                fields_tried += 1;
            }
        }
    }
    assert!(
        fields_tried >= 30,
        "the API has string fields in every service: {fields_tried}"
    );
    assert!(calls > 100);
    // The daemon still serves, and nothing it logged shows a card number.
    let mut terminals = TerminalServiceClient::new(channel.clone());
    terminals
        .list_terminals(pb::ListTerminalsRequest::default())
        .await
        .unwrap();
    assert!(daemon.running());
    let log = daemon.log();
    assert!(
        log.lines().count() > 10,
        "the debug log was captured: {log}"
    );
    if let Some(line) = log.lines().find(|l| leaks(l.as_bytes()).is_some()) {
        panic!("the daemon logged a card number: {line}");
    }
    assert!(
        !log.contains("\u{1b}["),
        "no colour codes in a log that is not a terminal"
    );
}

#[tokio::test]
async fn repeated_ids_are_bounded_and_deduplicated_and_cost_no_memory() {
    let daemon = Daemon::start(
        "[defaults]\ncheck_interval_s = 0\n[[terminals]]\nid = \"T1\"\nlink = \"tcp:127.0.0.1:1\"\n[[terminals]]\nid = \"T2\"\n",
    );
    let mut client = TerminalServiceClient::new(daemon.channel().await)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20);
    let before = status_kib(daemon.pid(), "VmRSS:");
    for _ in 0..3 {
        let err = client
            .watch_terminals(pb::WatchTerminalsRequest {
                ids: vec!["T1".into(); 200_000],
                lang: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(err.message().contains("at most 256"), "{err:?}");
    }
    let grown = status_kib(daemon.pid(), "VmRSS:").saturating_sub(before);
    assert!(
        grown < 64 * 1024,
        "three 200,000-id requests grew the daemon by {grown} KiB"
    );
    // 256 times the same id: one snapshot, then changes.
    let mut watch = client
        .watch_terminals(pb::WatchTerminalsRequest {
            ids: vec!["T1".into(); 256],
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.kind, pb::terminal_event::Kind::Snapshot as i32);
    // A check on T1 (nothing listens on its port) turns it critical: the
    // next event is that change, not a second snapshot of the same terminal.
    let mut checks = CheckServiceClient::new(daemon.channel().await);
    let mut run = checks
        .run_check(pb::RunCheckRequest {
            terminal_id: "T1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    while run.next().await.is_some() {}
    let next = tokio::time::timeout(Duration::from_secs(30), watch.next())
        .await
        .expect("no event after T1's status changed")
        .unwrap()
        .unwrap();
    assert_eq!(
        next.kind,
        pb::terminal_event::Kind::Changed as i32,
        "{next:?}"
    );
    // Repeated check names are bounded too.
    let err = checks
        .run_check(pb::RunCheckRequest {
            terminal_id: "T1".into(),
            checks: vec!["host.tcp".into(); 10_000],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn malformed_and_oversized_requests_are_invalid_argument_with_short_messages() {
    let daemon = Daemon::start("[defaults]\ncheck_interval_s = 0\n[[terminals]]\nid = \"T1\"\n");
    let channel = daemon.channel().await;
    let get = "/posdiag.v1.TerminalService/GetTerminal";
    // Field 1 (id, a string) holding bytes that are not UTF-8.
    let bad_utf8 = Bytes::from_static(&[0x0A, 0x02, 0xC3, 0x28]);
    // Not protobuf at all: a truncated length-delimited field.
    let garbage = Bytes::from_static(&[0x0A, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]);
    // 5 MB: over the 4 MiB request limit.
    let huge = Bytes::from(
        pb::GetTerminalRequest {
            id: "A".repeat(5 << 20),
            lang: String::new(),
        }
        .encode_to_vec(),
    );
    for (what, body) in [("utf8", bad_utf8), ("garbage", garbage), ("huge", huge)] {
        let (_, status) = call_raw(&channel, get, vec![body], Duration::from_secs(10), 1).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert!(status.message().len() <= 1024, "{what}");
    }
    // The daemon's words around tonic's are in the posdiag-lang header's language.
    for (lang, start) in [
        (None, "malformed request: "),
        (Some("zh-CN"), "请求格式错误："),
    ] {
        let (_, status) = call_raw_in(
            &channel,
            get,
            vec![Bytes::from_static(&[0x0A, 0x02, 0xC3, 0x28])],
            Duration::from_secs(10),
            1,
            lang,
        )
        .await;
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().starts_with(start), "{}", status.message());
    }
    // A 1 MB id is quoted cut, so the client sees NOT_FOUND, not its own
    // transport's RESOURCE_EXHAUSTED over a huge header.
    let mut client = TerminalServiceClient::new(channel.clone());
    let err = client
        .get_terminal(pb::GetTerminalRequest {
            id: "B".repeat(1 << 20),
            lang: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().len() < 300, "{}", err.message().len());
    assert!(err.message().contains("1048576 bytes"), "{}", err.message());
    let err = client
        .get_terminal(pb::GetTerminalRequest {
            id: "T9".repeat(20_000),
            lang: String::new(),
        })
        .await
        .unwrap_err();
    assert!(err.message().len() < 1024, "{}", err.message().len());
}

#[tokio::test]
async fn a_later_validate_ids_message_that_changes_the_kind_is_refused() {
    let daemon = Daemon::start("[defaults]\ncheck_interval_s = 0\n");
    let mut ids = IdServiceClient::new(daemon.channel().await);
    let first = pb::ValidateIdRequest {
        value: b"4111111111111111".to_vec(),
        kind: "luhn".into(),
        ..Default::default()
    };
    let same = pb::ValidateIdRequest {
        value: b"79927398713".to_vec(),
        kind: "luhn".into(),
        ..Default::default()
    };
    let empty = pb::ValidateIdRequest {
        value: b"79927398710".to_vec(),
        ..Default::default()
    };
    let bad = pb::ValidateIdRequest {
        value: b"1".to_vec(),
        kind: "no-such-kind".into(),
        ..Default::default()
    };
    let mut answers = ids
        .validate_ids(tokio_stream::iter(vec![first, same, empty, bad]))
        .await
        .unwrap()
        .into_inner();
    let mut results = 0;
    let end = loop {
        match answers.next().await {
            Some(Ok(_)) => results += 1,
            Some(Err(status)) => break status,
            None => panic!("the stream ended without refusing the changed kind"),
        }
    };
    assert_eq!(results, 3, "the messages before the bad one are answered");
    assert_eq!(end.code(), Code::InvalidArgument, "{end:?}");
    assert!(end.message().contains("no-such-kind"), "{end:?}");
}

/// A TCP listener that accepts and holds connections: a probe's attempts
/// succeed, so only its interval keeps it running.
async fn accepting() -> (u16, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (port, task)
}

#[tokio::test]
async fn a_probe_whose_client_left_frees_its_slot_at_once() {
    let daemon = Daemon::start("max_concurrent_probes = 1\n[defaults]\ncheck_interval_s = 0\n");
    let (port, _listener) = accepting().await;
    let mut checks = CheckServiceClient::new(daemon.channel().await);
    // The worst case one request may ask for is bounded.
    let err = checks
        .probe(pb::ProbeRequest {
            target: format!("127.0.0.1:{port}"),
            count: 100,
            interval_ms: 60_000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("at most 300 s"), "{err:?}");

    // A probe that would run for four minutes takes the only slot...
    let mut long = checks
        .probe(pb::ProbeRequest {
            target: format!("127.0.0.1:{port}"),
            count: 5,
            interval_ms: 59_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    long.next().await.unwrap().unwrap();
    let busy = checks
        .probe(pb::ProbeRequest {
            target: format!("127.0.0.1:{port}"),
            count: 1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(busy.code(), Code::ResourceExhausted, "{busy:?}");
    // ...and its client leaves: the slot is free again, not in four minutes.
    drop(long);
    let bound = Instant::now() + Duration::from_secs(20);
    loop {
        match checks
            .probe(pb::ProbeRequest {
                target: format!("127.0.0.1:{port}"),
                count: 1,
                ..Default::default()
            })
            .await
        {
            Ok(s) => {
                let mut s = s.into_inner();
                while s.next().await.is_some() {}
                break;
            }
            Err(e) if e.code() == Code::ResourceExhausted && Instant::now() < bound => {
                // The cancellation travels from the dropped stream to the
                // run; poll until it has (bounded), never for the minutes
                // the abandoned probe would have run.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the abandoned probe still holds its slot: {e:?}"),
        }
    }
}

#[tokio::test]
async fn sighup_reloads_and_the_daemon_keeps_serving() {
    // A hangup (a closed terminal, `kill -HUP`) once stopped daemons that
    // had no handler; now it reloads the configuration, and a file that
    // did not change changes nothing.
    let config = "[defaults]\ncheck_interval_s = 0\n[[terminals]]\nid = \"T1\"\n";
    let mut daemon = Daemon::start_logging(config, "info");
    let status = daemon.reload(config);
    assert!(
        daemon.running(),
        "SIGHUP killed the daemon: {}",
        daemon.log()
    );
    assert!(
        status.contains("configuration reloaded"),
        "{status}: {}",
        daemon.log()
    );
    let mut client = TerminalServiceClient::new(daemon.channel().await);
    let list = client
        .list_terminals(pb::ListTerminalsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.terminals.len(), 1);
    let reload = list.daemon.and_then(|d| d.reload).expect("daemon.reload");
    assert!(reload.applied);
    assert_eq!(reload.detail, "no terminal added, removed or changed");
    assert!(daemon.log().contains("SIGHUP"), "{}", daemon.log());
    assert!(daemon.running());
    assert!(daemon.terminate().success());
}

#[tokio::test]
async fn ad_hoc_serial_probes_open_only_serial_ports() {
    let daemon = Daemon::start("[defaults]\ncheck_interval_s = 0\n");
    let mut checks = CheckServiceClient::new(daemon.channel().await);
    // Outside the serial device paths ([auth.probe]): refused by the rule;
    // inside them, the device itself is checked.
    for (path, code, want) in [
        ("/etc/shadow", Code::PermissionDenied, "[auth.probe] serial"),
        ("/dev/null", Code::PermissionDenied, "[auth.probe] serial"),
        (
            "/dev/watchdog",
            Code::PermissionDenied,
            "[auth.probe] serial",
        ),
        (
            "/dev/ttyS-that-is-not-here",
            Code::InvalidArgument,
            "no such device",
        ),
    ] {
        let err = checks
            .probe_link(pb::ProbeLinkRequest {
                link: format!("serial:{path}"),
                protocol: "zvt".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{path}: {err:?}");
        assert!(err.message().contains(want), "{path}: {err:?}");
        assert!(!err.message().contains("typewriter"), "{err:?}");
    }
}

#[tokio::test]
async fn shutdown_leaves_another_daemons_socket_alone() {
    let mut daemon = Daemon::start("[defaults]\ncheck_interval_s = 0\n");
    // Another daemon took the path over (after finding ours stale, say).
    std::fs::remove_file(&daemon.socket).unwrap();
    let other = std::os::unix::net::UnixListener::bind(&daemon.socket).unwrap();
    assert!(daemon.terminate().success());
    assert!(
        daemon.socket.exists(),
        "the other daemon's socket was removed"
    );
    drop(other);
}

/// Waits (bounded) until the daemon's log holds `needle` `times` times.
async fn logged(daemon: &Daemon, needle: &str, times: usize) -> bool {
    let bound = Instant::now() + Duration::from_secs(20);
    loop {
        if daemon.log().matches(needle).count() >= times {
            return true;
        }
        if Instant::now() > bound {
            return false;
        }
        // Polling a file the daemon appends to; bounded above, never for the
        // minutes the abandoned runs would have taken.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn runs_and_doctors_whose_client_left_stop_and_record_nothing() {
    let (port, _listener) = accepting().await;
    // Five echoes a minute apart to a host that accepts and never answers:
    // about five minutes of work per run if nobody stopped it.
    let daemon = Daemon::start_logging(
        &format!(
            "[defaults]\ncount = 5\ninterval_ms = 59000\ntimeout_ms = 60000\ncheck_interval_s = 0\n\
             [hosts.stalled]\naddress = \"127.0.0.1\"\nport = {port}\n\
             [hosts.stalled.exchange]\nsend = \"PING\"\nexpect = \"PONG\"\n\
             [[terminals]]\nid = \"T1\"\nhosts = [\"stalled\"]\n"
        ),
        "info",
    );
    let channel = daemon.channel().await;
    let stopped = "the run was stopped and records nothing";

    let mut checks = CheckServiceClient::new(channel.clone());
    let mut run = checks
        .run_check(pb::RunCheckRequest {
            terminal_id: "T1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    run.next().await.unwrap().unwrap();
    drop(run);
    assert!(
        logged(&daemon, stopped, 1).await,
        "the abandoned RunCheck was not stopped:\n{}",
        daemon.log()
    );
    let t1 = TerminalServiceClient::new(channel.clone())
        .get_terminal(pb::GetTerminalRequest {
            id: "T1".into(),
            lang: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(t1.last_checked.is_none(), "{t1:?}");
    assert!(t1.latest_findings.is_empty(), "{t1:?}");

    // The doctor's runs stop with it when its client leaves.
    let mut doctor = checks
        .run_doctor(pb::RunDoctorRequest {
            terminal_id: "T1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // Left once its checks are under way (the first events explain the symptom).
    while let Some(ev) = doctor.next().await {
        if matches!(ev.unwrap().event, Some(pb::doctor_event::Event::Check(_))) {
            break;
        }
    }
    drop(doctor);
    assert!(
        logged(&daemon, stopped, 2).await,
        "the abandoned RunDoctor's run was not stopped:\n{}",
        daemon.log()
    );
}

#[tokio::test]
async fn clients_queued_at_one_terminal_link_share_the_next_exchange() {
    use posdiag_sim::zvt::{self, ZvtSimConfig, ZvtTransport};
    let sim = zvt::start(ZvtSimConfig {
        transport: ZvtTransport::Tcp {
            bind: "127.0.0.1:0".parse().unwrap(),
        },
        ..ZvtSimConfig::default()
    })
    .unwrap();
    // A slow terminal: every message of it comes 200 ms late, so one status
    // enquiry takes most of a second and a queue forms at once.
    sim.update(|s| s.faults.answer_delay_ms = 200);
    let daemon = Daemon::start(&format!(
        "[defaults]\ncheck_interval_s = 0\n[[terminals]]\nid = \"T1\"\nlink = \"tcp:{}\"\n",
        sim.local_addr().unwrap()
    ));
    let channel = daemon.channel().await;
    let link_check = |channel: Channel| async move {
        let mut stream = CheckServiceClient::new(channel)
            .run_check(pb::RunCheckRequest {
                terminal_id: "T1".into(),
                checks: vec!["terminal.link".into()],
                lang: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        let mut reasons = Vec::new();
        while let Some(ev) = stream.next().await {
            if let Some(pb::check_event::Event::Finding(f)) = ev.unwrap().event {
                reasons.push(f.reason);
            }
        }
        reasons
    };
    // One run alone: one exchange with the terminal.
    assert_eq!(link_check(channel.clone()).await, ["ok"]);
    let alone = sim.stats().commands;
    assert!(alone >= 1);
    // 40 clients at once: each gets a fresh answer, without 40 turns at the
    // link (40 × most of a second) one after another.
    let runs: Vec<_> = (0..40)
        .map(|_| tokio::spawn(link_check(channel.clone())))
        .collect();
    for run in runs {
        assert_eq!(run.await.unwrap(), ["ok"]);
    }
    let shared = sim.stats().commands - alone;
    assert!(
        shared <= 20 * alone,
        "40 queued runs made {shared} exchanges; one run makes {alone}"
    );
    // A run asked for after those ended is answered by a new exchange, not an
    // old answer.
    assert_eq!(link_check(channel.clone()).await, ["ok"]);
    assert_eq!(sim.stats().commands, alone + shared + alone);
}
