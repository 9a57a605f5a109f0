//! End-to-end: every fault of the simulators' fault lists (docs/sim-zvt.md "Faults",
//! docs/sim-host-nexo.md "Faults") through the real daemon and the real plugin bundles.
//!
//! One daemon serves one terminal per fault, each with a simulator of its own: ZVT over a
//! pseudo-terminal for the serial line faults (`terminal.link`), ZVT over TCP for connection
//! faults and the `posdiag.zvt` plugin, acquirer hosts for `posdiag.iso8583`'s `host.echo`,
//! nexo terminals for `posdiag.nexo`'s `poi.diagnosis`. The cases run at once and every
//! failing one is reported by name. Each asserts what a user reads in the daemon's answer
//! (verdict, reason, the evidence that tells the fault apart, remedies) and that the run is
//! recorded (a status change for watchers, the latest findings of `posdiag status`);
//! afterwards the daemon still reports SERVING and a healthy terminal of each kind checks OK.
//!
//! Faults that are easy to blame on the wrong party (a silent terminal on its plugin, a busy
//! terminal on its host) have a test of their own.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use pb::check_service_client::CheckServiceClient;
use pb::terminal_service_client::TerminalServiceClient;
use posdiag_lab::store::{self, Host, Terminal};
use posdiag_proto::v1 as pb;
use posdiag_sim::host::{self, Answer, Fault, HostSimConfig, RunningHost};
use posdiag_sim::iso8583::{HostState, IsoHost, IsoScenario};
use posdiag_sim::nexo::{self, NexoFault, NexoScenario, NexoSimConfig, RunningNexo, SimHost};
use posdiag_sim::zvt::{self, Faults, RunningZvt, Silence, ZvtSimConfig, ZvtState, ZvtTransport};
use posdiag_tests::Daemon;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

/// Upper bound on one case, against hangs, not a timing assertion: the slowest fault takes
/// the status enquiry's command timeout (15 s).
const CASE_LIMIT: Duration = Duration::from_secs(90);

/// A dropped or reset connection: which of the two the kernel reports depends on whether
/// the peer's RST or its FIN is seen first.
const DROPPED: &[&str] = &["tcp.reset", "link.lost"];

/// How a case went: `Err` says what the daemon got wrong.
type Outcome = Result<(), String>;

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Outcome {
    if ok { Ok(()) } else { Err(what()) }
}

fn value<'a>(f: &'a pb::Finding, name: &str) -> Option<&'a pb::evidence::Value> {
    f.evidence
        .iter()
        .find(|e| e.name == name)
        .and_then(|e| e.value.as_ref())
}

fn num(f: &pb::Finding, name: &str) -> Result<f64, String> {
    match value(f, name) {
        Some(pb::evidence::Value::Number(n)) => Ok(*n),
        other => Err(format!("evidence {name}: expected a number, got {other:?}")),
    }
}

fn text<'a>(f: &'a pb::Finding, name: &str) -> Result<&'a str, String> {
    match value(f, name) {
        Some(pb::evidence::Value::Text(t)) => Ok(t),
        other => Err(format!("evidence {name}: expected text, got {other:?}")),
    }
}

/// `evidence name == want`, named in the failure.
fn num_is(f: &pb::Finding, name: &str, want: f64) -> Outcome {
    let got = num(f, name)?;
    ensure(got == want, || {
        format!("evidence {name} = {got}, expected {want}")
    })
}

/// `evidence name >= least`, named in the failure.
fn num_at_least(f: &pb::Finding, name: &str, least: f64) -> Outcome {
    let got = num(f, name)?;
    ensure(got >= least, || {
        format!("evidence {name} = {got}, expected at least {least}")
    })
}

fn text_is(f: &pb::Finding, name: &str, want: &str) -> Outcome {
    let got = text(f, name)?;
    ensure(got == want, || {
        format!("evidence {name} = {got:?}, expected {want:?}")
    })
}

fn text_has(f: &pb::Finding, name: &str, part: &str) -> Outcome {
    let got = text(f, name)?;
    ensure(got.contains(part), || {
        format!("evidence {name} = {got:?} does not contain {part:?}")
    })
}

fn absent(f: &pb::Finding, name: &str) -> Outcome {
    ensure(value(f, name).is_none(), || {
        format!("evidence {name} should be absent: {:?}", value(f, name))
    })
}

/// One line per finding for failure messages; long texts (transcripts) shortened.
fn brief(f: &pb::Finding) -> String {
    let evidence: Vec<String> = f
        .evidence
        .iter()
        .map(|e| match &e.value {
            Some(pb::evidence::Value::Text(t)) if t.chars().count() > 160 => {
                format!("{}={:?}…", e.name, t.chars().take(160).collect::<String>())
            }
            Some(pb::evidence::Value::Text(t)) => format!("{}={t:?}", e.name),
            Some(pb::evidence::Value::Number(n)) => format!("{}={n}", e.name),
            Some(pb::evidence::Value::Flag(b)) => format!("{}={b}", e.name),
            None => e.name.clone(),
        })
        .collect();
    format!(
        "{} {:?} {} ({}) [{}]",
        f.check,
        f.verdict(),
        f.reason,
        f.summary,
        evidence.join(", ")
    )
}

/// The gRPC side of the daemon, as a client program uses it.
#[derive(Clone)]
struct Api {
    channel: Channel,
}

impl Api {
    /// `RunCheck` of one check by name: its findings, headline first (at least one, all of
    /// that check).
    async fn check(&self, terminal: &str, check: &str) -> Result<Vec<pb::Finding>, String> {
        let failed = |e: tonic::Status| format!("RunCheck {check} on {terminal}: {e}");
        let mut stream = CheckServiceClient::new(self.channel.clone())
            .run_check(pb::RunCheckRequest {
                terminal_id: terminal.into(),
                checks: vec![check.into()],
                lang: String::new(),
            })
            .await
            .map_err(failed)?
            .into_inner();
        let mut found = Vec::new();
        while let Some(ev) = stream.next().await {
            if let Some(pb::check_event::Event::Finding(f)) = ev.map_err(failed)?.event {
                found.push(f);
            }
        }
        ensure(!found.is_empty(), || {
            format!("{check} on {terminal}: no finding")
        })?;
        let strays: Vec<String> = found
            .iter()
            .filter(|f| f.check != check)
            .map(brief)
            .collect();
        ensure(strays.is_empty(), || {
            format!("{check} on {terminal}: findings of other checks: {strays:#?}")
        })?;
        Ok(found)
    }

    /// `GetTerminal`: what `posdiag status` shows.
    async fn terminal(&self, id: &str) -> Result<pb::Terminal, String> {
        TerminalServiceClient::new(self.channel.clone())
            .get_terminal(pb::GetTerminalRequest {
                id: id.into(),
                lang: String::new(),
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|e| format!("GetTerminal {id}: {e}"))
    }

    /// `WatchTerminals` for one terminal.
    async fn watch(&self, id: &str) -> Result<tonic::Streaming<pb::TerminalEvent>, String> {
        TerminalServiceClient::new(self.channel.clone())
            .watch_terminals(pb::WatchTerminalsRequest {
                ids: vec![id.into()],
                lang: String::new(),
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|e| format!("WatchTerminals {id}: {e}"))
    }

    /// A check's findings; the headline must be `verdict` with one of `reasons`, with
    /// remedies unless OK.
    async fn check_is(
        &self,
        terminal: &str,
        check: &str,
        verdict: pb::Verdict,
        reasons: &[&str],
    ) -> Result<Vec<pb::Finding>, String> {
        let all = self.check(terminal, check).await?;
        let head = &all[0];
        ensure(
            head.verdict() == verdict && reasons.contains(&head.reason.as_str()),
            || format!("expected {verdict:?} {reasons:?}, got {}", brief(head)),
        )?;
        ensure(
            verdict == pb::Verdict::Ok || !head.remedies.is_empty(),
            || format!("a {verdict:?} finding without remedies: {}", brief(head)),
        )?;
        Ok(all)
    }

    /// [`Api::check_is`] for a run that changes the terminal's status (its first run, or a
    /// new verdict); the run must then be recorded: watchers hear of the change, and
    /// `posdiag status` (GetTerminal) lists the headline among the latest findings.
    async fn expect(
        &self,
        terminal: &str,
        check: &str,
        verdict: pb::Verdict,
        reasons: &[&str],
    ) -> Result<Vec<pb::Finding>, String> {
        // A run is recorded just after its stream ends: the status change is the signal.
        let mut watch = self.watch(terminal).await?;
        let all = self.check_is(terminal, check, verdict, reasons).await?;
        let head = &all[0];
        let recorded = |t: &pb::Terminal| {
            t.latest_findings.iter().any(|l| {
                l.check == head.check && l.subject == head.subject && l.reason == head.reason
            })
        };
        loop {
            let ev = watch
                .next()
                .await
                .ok_or("the watch ended")?
                .map_err(|e| format!("WatchTerminals {terminal}: {e}"))?;
            if ev.kind() == pb::terminal_event::Kind::Changed
                && ev.terminal.as_ref().is_some_and(recorded)
            {
                break;
            }
        }
        let t = self.terminal(terminal).await?;
        ensure(recorded(&t), || {
            format!(
                "{} is not among the latest findings of {terminal}: {:#?}",
                head.reason,
                t.latest_findings.iter().map(brief).collect::<Vec<_>>()
            )
        })?;
        Ok(all)
    }
}

/// The simulator behind one terminal.
#[allow(
    clippy::large_enum_variant,
    reason = "a handful of values built once per test"
)]
enum Sim {
    /// ZVT over a pseudo-terminal (DLE/STX framing, ACK/NAK): `terminal.link`.
    Pty(Faults),
    /// ZVT over TCP (raw APDUs), served by `posdiag.zvt`.
    Tcp(ZvtState),
    /// An acquirer host with ISO 8583 echoes in `dialect`, `count` per check.
    Host {
        fault: Fault,
        answer: Answer,
        dialect: &'static str,
        count: u32,
    },
    /// A nexo terminal over plain HTTP, served by `posdiag.nexo`.
    Nexo(NexoScenario),
}

/// A simulator that must outlive the daemon's checks.
#[allow(dead_code, reason = "held only to keep the simulator running")]
enum Running {
    Zvt(RunningZvt),
    Host(RunningHost),
    Nexo(RunningNexo),
}

/// Starts `sim` for terminal `id`; its config (host tables, terminal table, written as the
/// simulated store writes them: `posdiag_lab::store`) is appended.
async fn start(
    id: &str,
    sim: Sim,
    dir: &Path,
    hosts: &mut String,
    terminals: &mut String,
) -> Running {
    match sim {
        Sim::Pty(faults) => {
            let link = dir.join(id);
            let sim = zvt::start(ZvtSimConfig {
                transport: ZvtTransport::Pty {
                    link: Some(link.clone()),
                },
                state: ZvtState {
                    faults,
                    ..ZvtState::default()
                },
            })
            .unwrap();
            *terminals += &Terminal::zvt_serial(id, &link)
                .serial("9600-8N2")
                .to_string();
            Running::Zvt(sim)
        }
        Sim::Tcp(state) => {
            let sim = zvt::start(ZvtSimConfig {
                state,
                ..ZvtSimConfig::default()
            })
            .unwrap();
            *terminals += &Terminal::zvt_tcp(id, sim.local_addr().unwrap())
                .plugin("posdiag.zvt")
                .to_string();
            Running::Zvt(sim)
        }
        Sim::Host {
            fault,
            answer,
            dialect,
            count,
        } => {
            let h = host::start(HostSimConfig {
                fault,
                answer,
                // Flaky and jittery hosts decide the same way on every run.
                seed: Some(8583),
                ..HostSimConfig::default()
            })
            .await
            .unwrap();
            *hosts += &Host::iso8583(id, h.addr(), dialect, count).to_string();
            *terminals += &Terminal::new(id).host(id).to_string();
            Running::Host(h)
        }
        Sim::Nexo(scenario) => {
            let n = nexo::start(NexoSimConfig {
                scenario,
                ..NexoSimConfig::default()
            })
            .await
            .unwrap();
            *terminals += &Terminal::nexo(id, n.addr()).to_string();
            Running::Nexo(n)
        }
    }
}

/// An ISO 8583 host answering echoes in `dialect` as `scenario` says.
fn iso(dialect: &str, scenario: IsoScenario) -> Answer {
    Answer::Iso8583(IsoHost::named(dialect, scenario).unwrap())
}

fn iso_in(state: HostState) -> Answer {
    iso(
        "ascii",
        IsoScenario {
            state,
            ..IsoScenario::default()
        },
    )
}

fn iso_host(fault: Fault, answer: Answer, count: u32) -> Sim {
    Sim::Host {
        fault,
        answer,
        dialect: "ascii",
        count,
    }
}

/// Extra assertions on a case's findings (headline first).
type Verify = fn(&[pb::Finding]) -> Outcome;

/// One fault: the terminal gets a check by name, the headline must be `verdict` with one of
/// `reasons`, and `verify` looks at the evidence.
struct Case {
    name: &'static str,
    sim: Sim,
    check: &'static str,
    verdict: pb::Verdict,
    reasons: &'static [&'static str],
    verify: Verify,
}

/// The status enquiry completed: the finding carries the terminal's identity.
fn completed(f: &pb::Finding) -> Outcome {
    text_is(f, "terminal_status", "0x00")?;
    text_is(f, "terminal_id", "52523535")
}

/// A corrupted line: the terminal sent every frame, none arrived intact.
fn every_frame_corrupted(all: &[pb::Finding]) -> Outcome {
    let f = &all[0];
    // Four copies of its acknowledgement (the first send and three retransmissions).
    num_at_least(f, "crc_errors", 4.0)?;
    text_has(f, "line_errors", "crc mismatch")?;
    absent(f, "terminal_status")
}

fn cases() -> Vec<Case> {
    use pb::Verdict::{Critical, Ok as Fine, Warning};
    let f = Faults::default;
    let tcp = |change: fn(&mut ZvtState)| {
        let mut state = ZvtState::default();
        change(&mut state);
        Sim::Tcp(state)
    };
    vec![
        // --- ZVT serial line faults, over a pseudo-terminal: terminal.link.
        Case {
            name: "zvt_nak_next",
            sim: Sim::Pty(Faults { nak_next: 1, ..f() }),
            check: "terminal.link",
            verdict: Warning,
            reasons: &["link.naks"],
            verify: |all| {
                num_is(&all[0], "naks_received", 1.0)?;
                num_is(&all[0], "retransmissions", 1.0)?;
                completed(&all[0])
            },
        },
        Case {
            name: "zvt_nak_every_frame",
            sim: Sim::Pty(Faults {
                nak_every: 1,
                ..f()
            }),
            check: "terminal.link",
            verdict: Critical,
            reasons: &["link.naks"],
            verify: |all| {
                // The first send and three retransmissions, each refused.
                num_is(&all[0], "naks_received", 4.0)?;
                num_is(&all[0], "retransmissions", 3.0)?;
                absent(&all[0], "terminal_status")
            },
        },
        Case {
            name: "zvt_corrupt_crc_next",
            sim: Sim::Pty(Faults {
                corrupt_crc_next: 1,
                ..f()
            }),
            check: "terminal.link",
            verdict: Warning,
            reasons: &["link.crc_errors"],
            verify: |all| {
                num_is(&all[0], "crc_errors", 1.0)?;
                text_has(&all[0], "line_errors", "crc mismatch")?;
                completed(&all[0])
            },
        },
        Case {
            // Nothing arrives intact: the line fails, not the terminal (the remedies name
            // the line settings), the corruption in the evidence.
            name: "zvt_corrupt_crc_every_frame",
            sim: Sim::Pty(Faults {
                corrupt_crc_every: 1,
                ..f()
            }),
            check: "terminal.link",
            verdict: Critical,
            reasons: &["link.crc_errors"],
            verify: every_frame_corrupted,
        },
        Case {
            name: "zvt_drop_byte_every_2nd_frame",
            sim: Sim::Pty(Faults {
                drop_byte_every: 2,
                ..f()
            }),
            check: "terminal.link",
            verdict: Warning,
            reasons: &["link.crc_errors"],
            verify: |all| {
                // The completion lost a byte, was refused and repeated.
                num_is(&all[0], "crc_errors", 1.0)?;
                completed(&all[0])
            },
        },
        Case {
            name: "zvt_drop_byte_every_frame",
            sim: Sim::Pty(Faults {
                drop_byte_every: 1,
                ..f()
            }),
            check: "terminal.link",
            verdict: Critical,
            reasons: &["link.crc_errors"],
            verify: every_frame_corrupted,
        },
        Case {
            // 20 ms between bytes: within T1 (200 ms), so every frame arrives, slowly.
            name: "zvt_byte_delay_within_t1",
            sim: Sim::Pty(Faults {
                byte_delay_ms: 20,
                ..f()
            }),
            check: "terminal.link",
            verdict: Warning,
            reasons: &["link.latency"],
            verify: |all| {
                num_is(&all[0], "crc_errors", 0.0)?;
                absent(&all[0], "line_errors")?;
                completed(&all[0])
            },
        },
        Case {
            // 400 ms between bytes: T1 abandons every frame.
            name: "zvt_byte_delay_beyond_t1",
            sim: Sim::Pty(Faults {
                byte_delay_ms: 400,
                ..f()
            }),
            check: "terminal.link",
            verdict: Critical,
            // The terminal is there; its frames break off.
            reasons: &["link.crc_errors"],
            verify: |all| {
                text_has(&all[0], "line_errors", "inter-byte timeout")?;
                absent(&all[0], "terminal_status")
            },
        },
        Case {
            // The completion stops half way for 500 ms: T1 abandons it, the terminal repeats
            // it after its one-second ACK timeout. The verdict is the broken frame; the rest
            // of it (skipped as noise) is in the evidence.
            name: "zvt_stall_mid_frame",
            sim: Sim::Pty(Faults {
                stall_every: 2,
                stall_ms: 500,
                ..f()
            }),
            check: "terminal.link",
            verdict: Warning,
            reasons: &["link.crc_errors"],
            verify: |all| {
                text_has(&all[0], "line_errors", "inter-byte timeout")?;
                num_at_least(&all[0], "broken_frames", 1.0)?;
                num_at_least(&all[0], "garbage_bytes", 1.0)?;
                completed(&all[0])
            },
        },
        Case {
            // Noise between frames is skipped: the line works, the noise is counted.
            name: "zvt_garbage_before_frames",
            sim: Sim::Pty(Faults {
                garbage_bytes: 5,
                ..f()
            }),
            check: "terminal.link",
            verdict: Fine,
            reasons: &["ok"],
            verify: |all| {
                // Five bytes before each of the terminal's two frames.
                num_is(&all[0], "garbage_bytes", 10.0)?;
                num_is(&all[0], "crc_errors", 0.0)?;
                completed(&all[0])
            },
        },
        Case {
            name: "zvt_slow_answers",
            sim: Sim::Pty(Faults {
                answer_delay_ms: 1200,
                ..f()
            }),
            check: "terminal.link",
            verdict: Warning,
            reasons: &["link.latency"],
            verify: |all| {
                // The simulator waits 1200 ms before its acknowledgement.
                num_at_least(&all[0], "ack_time", 1200.0)?;
                completed(&all[0])
            },
        },
        Case {
            name: "zvt_silence",
            sim: Sim::Pty(Faults {
                silence: Silence::All,
                ..f()
            }),
            check: "terminal.link",
            verdict: Critical,
            reasons: &["link.no_answer"],
            verify: |all| {
                absent(&all[0], "ack_time")?;
                text_has(&all[0], "transcript", "-> 05 01")?;
                let transcript = text(&all[0], "transcript")?;
                ensure(!transcript.contains("<-"), || {
                    format!("nothing was received, yet: {transcript}")
                })
            },
        },
        Case {
            name: "zvt_silence_after_ack",
            sim: Sim::Pty(Faults {
                silence: Silence::AfterAck,
                ..f()
            }),
            check: "terminal.link",
            verdict: Critical,
            reasons: &["link.no_answer"],
            verify: |all| {
                num(&all[0], "ack_time")?;
                text_has(&all[0], "transcript", "<- 80 00 00")?;
                ensure(all[0].summary.contains("never completed"), || {
                    "the summary should say the enquiry was acknowledged, never completed".into()
                })
            },
        },
        // --- ZVT over TCP: faults of the connection, and the posdiag.zvt plugin.
        Case {
            // Over TCP the delay comes before every APDU.
            name: "zvt_tcp_delayed_apdus",
            sim: tcp(|s| s.faults.byte_delay_ms = 700),
            check: "terminal.link",
            verdict: Warning,
            reasons: &["link.latency"],
            verify: |all| {
                num_at_least(&all[0], "ack_time", 700.0)?;
                completed(&all[0])
            },
        },
        Case {
            name: "zvt_tcp_silence_plugin",
            sim: tcp(|s| s.faults.silence = Silence::All),
            check: "terminal.status",
            verdict: Critical,
            reasons: &["link.no_answer"],
            verify: |all| {
                num(&all[0], "timeout")?;
                absent(&all[0], "terminal_status")
            },
        },
        Case {
            // The cable comes out after the terminal acknowledged the diagnosis and said
            // "connecting".
            name: "zvt_tcp_disconnect_mid_diagnosis",
            sim: tcp(|s| s.faults.disconnect_after_commands = 1),
            check: "host.terminal_diagnosis",
            verdict: Critical,
            reasons: &["link.lost"],
            verify: |all| text_has(&all[0], "intermediate_statuses", "D2"),
        },
        Case {
            name: "zvt_maintenance_window",
            sim: tcp(|s| s.maintenance.active = true),
            check: "terminal.status",
            verdict: Warning,
            reasons: &["terminal.busy"],
            verify: |all| {
                text_is(&all[0], "terminal_status", "E0")?;
                text_is(&all[0], "terminal_status_meaning", "remote maintenance")
            },
        },
        Case {
            name: "zvt_maintenance_window_read_card",
            sim: tcp(|s| s.maintenance.active = true),
            check: "reader.read_card",
            verdict: Warning,
            reasons: &["terminal.busy"],
            verify: |all| text_is(&all[0], "result_code", "9C"),
        },
        Case {
            name: "zvt_host_unreachable",
            sim: tcp(|s| s.host.reachable = false),
            check: "host.terminal_diagnosis",
            verdict: Critical,
            reasons: &["host.unreachable"],
            verify: |all| {
                text_is(&all[0], "result_code", "7D")?;
                text_has(&all[0], "intermediate_statuses", "D2")
            },
        },
        // --- Acquirer hosts: host.echo through posdiag.iso8583.
        Case {
            name: "iso_refusing",
            sim: iso_host(Fault::Refusing, iso_in(HostState::Normal), 1),
            check: "host.echo",
            verdict: Critical,
            reasons: &["tcp.refused"],
            verify: |_| Ok(()),
        },
        Case {
            name: "iso_reset",
            sim: iso_host(Fault::Reset, iso_in(HostState::Normal), 1),
            check: "host.echo",
            verdict: Critical,
            reasons: DROPPED,
            verify: |all| {
                // Either no exchange at all, or one that got no answer.
                ensure(num(&all[0], "answered").unwrap_or(0.0) == 0.0, || {
                    "a reset host answered an echo".into()
                })
            },
        },
        Case {
            name: "iso_stall",
            sim: iso_host(Fault::Stall, iso_in(HostState::Normal), 1),
            check: "host.echo",
            verdict: Critical,
            reasons: &["echo.timeout"],
            verify: |all| {
                num_is(&all[0], "sent", 1.0)?;
                num_is(&all[0], "answered", 0.0)
            },
        },
        Case {
            name: "iso_silent",
            sim: iso_host(Fault::Healthy, iso_in(HostState::Silent), 1),
            check: "host.echo",
            verdict: Critical,
            reasons: &["echo.timeout"],
            verify: |all| {
                num_is(&all[0], "sent", 1.0)?;
                num_is(&all[0], "answered", 0.0)?;
                num_is(&all[0], "mismatched", 0.0)
            },
        },
        Case {
            name: "iso_slow",
            sim: iso_host(
                Fault::Slow {
                    delay: Duration::from_millis(1200),
                },
                iso_in(HostState::Normal),
                1,
            ),
            check: "host.echo",
            verdict: Warning,
            reasons: &["echo.latency"],
            verify: |all| {
                num_is(&all[0], "answered", 1.0)?;
                num_at_least(&all[0], "rtt_p95", 1200.0)?;
                text_is(&all[0], "response_code", "00")
            },
        },
        Case {
            name: "iso_jitter",
            sim: iso_host(
                Fault::Jitter {
                    base: Duration::from_millis(1100),
                    spread: Duration::from_millis(300),
                },
                iso_in(HostState::Normal),
                2,
            ),
            check: "host.echo",
            verdict: Warning,
            reasons: &["echo.latency"],
            verify: |all| {
                num_is(&all[0], "answered", 2.0)?;
                num_at_least(&all[0], "rtt_min", 1100.0)?;
                num(&all[0], "jitter").map(drop)
            },
        },
        Case {
            name: "iso_issuer_down_91",
            sim: iso_host(Fault::Healthy, iso_in(HostState::IssuerDown), 1),
            check: "host.echo",
            verdict: Critical,
            reasons: &["echo.response_code"],
            verify: |all| {
                text_is(&all[0], "response_code", "91")?;
                text_is(&all[0], "response_code_scheme", "iso8583-1987")?;
                text_is(
                    &all[0],
                    "response_code_meaning_en",
                    "issuer or switch inoperative",
                )
            },
        },
        Case {
            // crates/posdiag-sim/scenarios/host-issuer-down.toml: binary bitmaps, 96.
            name: "iso_issuer_down_96_binary",
            sim: Sim::Host {
                fault: Fault::Healthy,
                answer: iso(
                    "binary",
                    IsoScenario {
                        state: HostState::IssuerDown,
                        issuer_down_code: "96".into(),
                        ..IsoScenario::default()
                    },
                ),
                dialect: "binary",
                count: 1,
            },
            check: "host.echo",
            verdict: Critical,
            reasons: &["echo.response_code"],
            verify: |all| text_is(&all[0], "response_code", "96"),
        },
        Case {
            name: "iso_issuer_down_1993",
            sim: Sim::Host {
                fault: Fault::Healthy,
                answer: iso(
                    "ascii-1993",
                    IsoScenario {
                        state: HostState::IssuerDown,
                        ..IsoScenario::default()
                    },
                ),
                dialect: "ascii-1993",
                count: 1,
            },
            check: "host.echo",
            verdict: Critical,
            reasons: &["echo.response_code"],
            verify: |all| {
                // 91 becomes the 1993 action code 907.
                text_is(&all[0], "response_code", "907")?;
                text_is(&all[0], "response_code_scheme", "iso8583-1993")
            },
        },
        Case {
            name: "iso_cutover",
            sim: iso_host(Fault::Healthy, iso_in(HostState::Cutover), 1),
            check: "host.echo",
            verdict: Warning,
            reasons: &["echo.cutover"],
            verify: |all| text_is(&all[0], "response_code", "90"),
        },
        Case {
            name: "iso_field39_05",
            sim: iso_host(
                Fault::Healthy,
                iso(
                    "ascii",
                    IsoScenario {
                        field39: "05".into(),
                        ..IsoScenario::default()
                    },
                ),
                1,
            ),
            check: "host.echo",
            verdict: Critical,
            reasons: &["echo.response_code"],
            verify: |all| {
                text_is(&all[0], "response_code", "05")?;
                text_is(&all[0], "response_codes", "05×1")
            },
        },
        Case {
            // Bytes that are not ISO 8583: a length prefix of 65535.
            name: "iso_garbage_length",
            sim: iso_host(
                Fault::Healthy,
                Answer::Reply {
                    expect_prefix: Vec::new(),
                    reply: b"\xff\xffgarbage".to_vec(),
                },
                1,
            ),
            check: "host.echo",
            verdict: Critical,
            reasons: &["link.protocol"],
            verify: |all| text_has(&all[0], "detail", "length"),
        },
        Case {
            // A well-framed message that is not an answer to the echo.
            name: "iso_garbage_message",
            sim: iso_host(
                Fault::Healthy,
                Answer::Reply {
                    expect_prefix: Vec::new(),
                    reply: b"\x00\x07garbage".to_vec(),
                },
                1,
            ),
            check: "host.echo",
            verdict: Critical,
            reasons: &["echo.mismatch"],
            verify: |all| {
                num_is(&all[0], "mismatched", 1.0)?;
                num_is(&all[0], "answered", 0.0)
            },
        },
        // --- nexo terminals: poi.diagnosis through posdiag.nexo.
        Case {
            name: "nexo_http_500",
            sim: Sim::Nexo(NexoScenario {
                fault: NexoFault::Http500,
                ..NexoScenario::default()
            }),
            check: "poi.diagnosis",
            verdict: Critical,
            reasons: &["link.protocol"],
            verify: |all| num_is(&all[0], "http_status", 500.0),
        },
        Case {
            name: "nexo_garbage",
            sim: Sim::Nexo(NexoScenario {
                fault: NexoFault::Garbage,
                ..NexoScenario::default()
            }),
            check: "poi.diagnosis",
            verdict: Critical,
            reasons: &["link.protocol"],
            verify: |all| text_has(&all[0], "detail", "json"),
        },
        Case {
            // Slow, but within the deadline: the terminal is fine, the round trip shows it.
            name: "nexo_slow",
            sim: Sim::Nexo(NexoScenario {
                fault: NexoFault::Slow {
                    delay: Duration::from_millis(1500),
                },
                ..NexoScenario::default()
            }),
            check: "poi.diagnosis",
            verdict: Fine,
            reasons: &["ok"],
            verify: |all| {
                num_at_least(&all[0], "round_trip", 1500.0)?;
                text_is(&all[0], "global_status", "OK")
            },
        },
        Case {
            name: "nexo_maintenance",
            sim: Sim::Nexo(NexoScenario {
                maintenance: true,
                ..NexoScenario::default()
            }),
            check: "poi.diagnosis",
            verdict: Warning,
            reasons: &["terminal.busy"],
            verify: |all| text_is(&all[0], "global_status", "Maintenance"),
        },
        Case {
            // crates/posdiag-sim/scenarios/nexo-host-unreachable.toml: the terminal is fine,
            // one of its acquirers is not.
            name: "nexo_acquirer_unreachable",
            sim: Sim::Nexo(NexoScenario {
                hosts: vec![
                    SimHost {
                        acquirer_id: "0".into(),
                        reachable: true,
                    },
                    SimHost {
                        acquirer_id: "acquirer-b".into(),
                        reachable: false,
                    },
                ],
                ..NexoScenario::default()
            }),
            check: "poi.diagnosis",
            verdict: Fine,
            reasons: &["ok"],
            verify: |all| {
                let down: Vec<&pb::Finding> = all
                    .iter()
                    .filter(|f| f.reason == "host.unreachable")
                    .collect();
                ensure(
                    down.len() == 1
                        && down[0].subject == "acquirer acquirer-b"
                        && down[0].verdict() == pb::Verdict::Critical
                        && !down[0].remedies.is_empty(),
                    || {
                        format!(
                            "expected acquirer-b unreachable: {:#?}",
                            all.iter().map(brief).collect::<Vec<_>>()
                        )
                    },
                )
            },
        },
    ]
}

/// A case's run, boxed so that the table and the stories run side by side.
type Run = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// The cable is pulled right after the terminal acknowledged the enquiry and plugged back
/// a second later (a new pty behind the same link): `link.lost`, then the daemon follows
/// the port back and the terminal answers again.
fn cable_pulled_and_plugged_back(api: Api, name: &'static str, sim: RunningZvt) -> Run {
    Box::pin(async move {
        let mut watch = api.watch(name).await?;
        // The port monitor may record `link.not_found` first: this run changes no status.
        api.check_is(name, "terminal.link", pb::Verdict::Critical, &["link.lost"])
            .await?;
        sim.update(|s| s.faults.disconnect_after_commands = 0);
        // Back once the port monitor has seen the new pty.
        loop {
            let ev = watch
                .next()
                .await
                .ok_or("the watch ended")?
                .map_err(|e| format!("WatchTerminals: {e}"))?;
            let present = ev
                .terminal
                .as_ref()
                .and_then(|t| t.link.as_ref())
                .is_some_and(|l| l.present);
            if ev.kind() == pb::terminal_event::Kind::LinkChanged && present {
                break;
            }
        }
        // The daemon checks a returning port at once: this run may change no status.
        let back = api
            .check_is(name, "terminal.link", pb::Verdict::Ok, &["ok"])
            .await?;
        completed(&back[0])
    })
}

/// The network cable of a TCP terminal is pulled (new connections are closed at once), then
/// plugged back in.
fn tcp_cable_pulled(api: Api, name: &'static str, sim: RunningZvt) -> Run {
    Box::pin(async move {
        tokio::task::block_in_place(|| sim.unplug()).map_err(|e| format!("unplug: {e}"))?;
        api.expect(name, "terminal.link", pb::Verdict::Critical, DROPPED)
            .await?;
        tokio::task::block_in_place(|| sim.replug()).map_err(|e| format!("replug: {e}"))?;
        let back = api
            .expect(name, "terminal.link", pb::Verdict::Ok, &["ok"])
            .await?;
        completed(&back[0])
    })
}

/// A host that resets half of its connections: with one connection per check, some checks
/// find it dropped and some find it healthy.
fn flaky_host(api: Api, name: &'static str) -> Run {
    Box::pin(async move {
        let (mut dropped, mut healthy) = (0, 0);
        // With a fixed seed the sequence is the same on every run; 24 tries bound it.
        for _ in 0..24 {
            let all = api.check(name, "host.echo").await?;
            let head = &all[0];
            match (head.verdict(), head.reason.as_str()) {
                (pb::Verdict::Critical, r) if DROPPED.contains(&r) => dropped += 1,
                (pb::Verdict::Ok, "ok") => {
                    num_is(head, "answered", 1.0)?;
                    healthy += 1;
                }
                _ => return Err(format!("neither dropped nor answered: {}", brief(head))),
            }
            if dropped > 0 && healthy > 0 {
                return Ok(());
            }
        }
        Err(format!(
            "{dropped} dropped and {healthy} healthy echoes: expected both"
        ))
    })
}

/// Runs `runs` at once, each bounded by [`CASE_LIMIT`]; every failure by name.
async fn run_all(runs: Vec<(&'static str, Run)>) -> Vec<String> {
    let mut set = tokio::task::JoinSet::new();
    for (name, run) in runs {
        set.spawn(async move {
            let outcome = match tokio::time::timeout(CASE_LIMIT, run).await {
                Ok(o) => o,
                Err(_) => Err(format!("no result within {CASE_LIMIT:?}")),
            };
            (name, outcome)
        });
    }
    let mut failures = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((_, Ok(()))) => {}
            Ok((name, Err(e))) => failures.push(format!("{name}: {e}")),
            Err(e) => failures.push(format!("a case panicked: {e}")),
        }
    }
    failures.sort();
    failures
}

/// Healthy terminals of each kind, checked after the faults.
fn controls() -> Vec<(&'static str, Sim, &'static str)> {
    vec![
        ("ok_pty", Sim::Pty(Faults::default()), "terminal.link"),
        (
            "ok_zvt_plugin",
            Sim::Tcp(ZvtState::default()),
            "terminal.status",
        ),
        (
            "ok_echo",
            iso_host(Fault::Healthy, iso_in(HostState::Normal), 2),
            "host.echo",
        ),
        (
            "ok_nexo",
            Sim::Nexo(NexoScenario::default()),
            "poi.diagnosis",
        ),
    ]
}

// Multi-threaded: the host and nexo simulators keep serving while the test blocks on
// assembling the bundles and starting the daemon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_simulated_fault_is_diagnosed_through_the_daemon_which_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    posdiag_tests::assemble_bundles(&plugins, false);

    let (mut hosts, mut terminals) = (String::new(), String::new());
    let mut sims = Vec::new();
    let mut table = Vec::new();
    for case in cases() {
        let Case {
            name,
            sim,
            check,
            verdict,
            reasons,
            verify,
        } = case;
        sims.push(start(name, sim, dir.path(), &mut hosts, &mut terminals).await);
        table.push((name, check, verdict, reasons, verify));
    }
    // The stories hold their simulators to act on them.
    let Running::Zvt(replugged) = start(
        "zvt_cable_pulled_and_plugged_back",
        Sim::Pty(Faults {
            disconnect_after_commands: 1,
            reconnect_after_ms: 1000,
            ..Faults::default()
        }),
        dir.path(),
        &mut hosts,
        &mut terminals,
    )
    .await
    else {
        unreachable!()
    };
    let Running::Zvt(tcp_pulled) = start(
        "zvt_tcp_cable_pulled",
        Sim::Tcp(ZvtState::default()),
        dir.path(),
        &mut hosts,
        &mut terminals,
    )
    .await
    else {
        unreachable!()
    };
    sims.push(
        start(
            "iso_flaky",
            iso_host(
                Fault::Flaky { drop_ratio: 0.5 },
                iso_in(HostState::Normal),
                1,
            ),
            dir.path(),
            &mut hosts,
            &mut terminals,
        )
        .await,
    );
    let mut control_checks = Vec::new();
    for (name, sim, check) in controls() {
        sims.push(start(name, sim, dir.path(), &mut hosts, &mut terminals).await);
        control_checks.push((name, check));
    }

    let daemon = Daemon::start(&format!(
        "[defaults]\ncheck_interval_s = 0\n[ports]\nscan_interval_ms = 100\n{}{hosts}{terminals}",
        store::plugins(&plugins)
    ));
    let api = Api {
        channel: daemon.channel().await,
    };

    let mut runs: Vec<(&'static str, Run)> = Vec::new();
    for (name, check, verdict, reasons, verify) in table {
        let api = api.clone();
        runs.push((
            name,
            Box::pin(async move {
                let all = api.expect(name, check, verdict, reasons).await?;
                verify(&all).map_err(|e| format!("{e}\n    in {}", brief(&all[0])))
            }),
        ));
    }
    runs.push((
        "zvt_cable_pulled_and_plugged_back",
        cable_pulled_and_plugged_back(api.clone(), "zvt_cable_pulled_and_plugged_back", replugged),
    ));
    runs.push((
        "zvt_tcp_cable_pulled",
        tcp_cable_pulled(api.clone(), "zvt_tcp_cable_pulled", tcp_pulled),
    ));
    runs.push(("iso_flaky", flaky_host(api.clone(), "iso_flaky")));
    let failures = run_all(runs).await;
    assert!(
        failures.is_empty(),
        "{} fault(s) misdiagnosed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // After all that the daemon still serves: health, and a healthy terminal of each kind
    // (the built-in link check and each plugin's host processes) checks OK.
    let mut health = tonic_health::pb::health_client::HealthClient::new(api.channel.clone());
    for service in ["", "posdiag.v1.CheckService"] {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status();
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving,
            "{service:?}"
        );
    }
    let runs = control_checks
        .into_iter()
        .map(|(name, check)| {
            let api = api.clone();
            let run: Run = Box::pin(async move {
                api.expect(name, check, pb::Verdict::Ok, &["ok"])
                    .await
                    .map(drop)
            });
            (name, run)
        })
        .collect();
    let failures = run_all(runs).await;
    assert!(
        failures.is_empty(),
        "healthy terminals after the faults:\n{}",
        failures.join("\n")
    );
    drop(daemon);
    drop(sims);
}

/// Faults that are easy to blame on the wrong party, each told apart:
///
/// - A ZVT terminal that acknowledges and then stays silent, and a nexo terminal that does
///   not answer, are `link.no_answer`, not `plugin.timeout`: the plugins keep a margin of
///   their budget to report, so the supervisor never has to stop them.
/// - A ZVT diagnosis aborted with 9C ("please wait") during a maintenance window is
///   `terminal.busy`, as terminal.status and reader.read_card say: the host was never
///   contacted, so it is not `host.error`.
/// - A ZVT terminal sending unsolicited intermediate statuses refuses the enquiry (84 9C),
///   and that refusal is heard: the status before the acknowledgement is not taken for it,
///   and what the terminal queued before the port was opened is discarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_busy_and_chatty_terminals_are_not_blamed_on_the_plugin_or_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    posdiag_tests::assemble_bundles(&plugins, false);
    let (mut hosts, mut terminals) = (String::new(), String::new());
    let mut sims = Vec::new();
    let silent_after_ack = ZvtState {
        faults: Faults {
            silence: Silence::AfterAck,
            ..Faults::default()
        },
        ..ZvtState::default()
    };
    let mut maintenance = ZvtState::default();
    maintenance.maintenance.active = true;
    for (name, sim) in [
        ("zvt_silent_after_ack", Sim::Tcp(silent_after_ack)),
        (
            "nexo_no_answer",
            Sim::Nexo(NexoScenario {
                fault: NexoFault::NoAnswer,
                ..NexoScenario::default()
            }),
        ),
        ("zvt_maintenance_diagnosis", Sim::Tcp(maintenance)),
        (
            "zvt_unsolicited_status",
            Sim::Pty(Faults {
                unsolicited_status_ms: 300,
                unsolicited_status: 0x17,
                ..Faults::default()
            }),
        ),
    ] {
        sims.push(start(name, sim, dir.path(), &mut hosts, &mut terminals).await);
    }
    let daemon = Daemon::start(&format!(
        "[defaults]\ncheck_interval_s = 0\n{}{hosts}{terminals}",
        store::plugins(&plugins)
    ));
    let api = Api {
        channel: daemon.channel().await,
    };
    let expect = |name: &'static str, check: &'static str, verdict, reason: &'static str| {
        let api = api.clone();
        let run: Run =
            Box::pin(async move { api.expect(name, check, verdict, &[reason]).await.map(drop) });
        (name, run)
    };
    let unsolicited = {
        let api = api.clone();
        let run: Run = Box::pin(async move {
            // The terminal refuses the enquiry (84 9C: busy with its own status message);
            // that refusal must not turn into "acknowledged but never completed".
            let all = api.check("zvt_unsolicited_status", "terminal.link").await?;
            text_has(&all[0], "transcript", "<- 84 9C")?;
            ensure(all[0].reason != "link.no_answer", || {
                format!("misdiagnosed: {}", brief(&all[0]))
            })
        });
        ("zvt_unsolicited_status", run)
    };
    let failures = run_all(vec![
        // A terminal that acknowledges and then says nothing did not answer; the plugin
        // did nothing wrong.
        expect(
            "zvt_silent_after_ack",
            "terminal.status",
            pb::Verdict::Critical,
            "link.no_answer",
        ),
        expect(
            "nexo_no_answer",
            "poi.diagnosis",
            pb::Verdict::Critical,
            "link.no_answer",
        ),
        // 9C is "please wait": the terminal is busy with its maintenance, as
        // terminal.status and reader.read_card say; the host was never contacted.
        expect(
            "zvt_maintenance_diagnosis",
            "host.terminal_diagnosis",
            pb::Verdict::Warning,
            "terminal.busy",
        ),
        unsolicited,
    ])
    .await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    drop(daemon);
    drop(sims);
}
