//! The terminal link: following serial ports as they come and go
//! ([`ports`]), driving ZVT commands over a link ([`zvt`]), and the
//! `terminal.link` check built on both: is the port there and free, does it
//! open, does the terminal answer a status enquiry, and how clean is the
//! line (NAKs, CRC errors, retransmissions, response time).
//!
//! The port is opened for the check and closed after it, so the till
//! software can use it between checks.

mod advice;
pub(crate) mod ports;
mod zvt;

use std::time::{Duration, Instant, SystemTime};

use posdiag_core::zvt::packets::StatusEnquiry;
use posdiag_core::zvt::{CommandEnd, Packet, SessionConfig};
use posdiag_core::{Evidence, Finding, Producer, Reason, Text, Unit, Verdict, checks};
use posdiag_transport::{Link, LinkError, LinkErrorKind};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::Progress;
use crate::model::{LinkProtocol, LinkSpec, TerminalSpec};
use ports::LinkState;
use zvt::{DriveError, Exchange};

/// Everything one run of `terminal.link` needs.
#[derive(Debug)]
pub(crate) struct LinkRun<'a> {
    pub spec: &'a TerminalSpec,
    pub state: LinkState,
    /// One exchange on a terminal's link at a time: a scheduled run and an
    /// asked-for one queue instead of one finding the port busy.
    pub gate: &'a Semaphore,
    /// The terminal's last link exchange, shared by runs that queued for it.
    pub last: &'a LastExchange,
    pub cancel: &'a CancellationToken,
    pub progress: &'a mpsc::Sender<Progress>,
}

/// The outcome of a terminal's last link exchange and when it began.
///
/// Runs that queue at the link gate while an exchange is under way take the
/// answer of the next exchange that *began after they were asked for*
/// instead of each making their own: that answer describes the link as it is
/// since the request, and a status enquiry changes nothing on the terminal.
/// So N clients asking at once cost about two turns at the link, not N (a
/// 9600-baud serial link takes about a tenth of a second a turn: 200 clients
/// one after another would wait half a minute for the last answer).
#[derive(Debug, Default)]
pub(crate) struct LastExchange(std::sync::Mutex<Option<(Instant, Draft)>>);

impl LastExchange {
    /// The last outcome, if its exchange began at or after `asked`.
    fn since(&self, asked: Instant) -> Option<Draft> {
        let last = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        last.as_ref()
            .filter(|(began, _)| *began >= asked)
            .map(|(_, d)| d.clone())
    }

    fn store(&self, began: Instant, draft: &Draft) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((began, draft.clone()));
    }
}

/// A finding before the common fields are filled in.
#[derive(Debug, Clone)]
struct Draft {
    verdict: Verdict,
    reason: Reason,
    summary: Text,
    evidence: Vec<Evidence>,
    holder: Option<String>,
}

impl Draft {
    fn new(verdict: Verdict, reason: Reason, summary: Text) -> Draft {
        Draft {
            verdict,
            reason,
            summary,
            evidence: Vec::new(),
            holder: None,
        }
    }
}

/// `serial /dev/ttyUSB0 (usb:0403:6001:A1)`, `tcp 192.168.1.50:20007`: how
/// findings name the link.
pub(crate) fn subject(spec: &TerminalSpec, state: &LinkState) -> String {
    match &spec.link {
        LinkSpec::None => "none".to_owned(),
        LinkSpec::Tcp(a) => format!("tcp {a}"),
        // The configured port, not the device it resolves to: a replug under
        // another name must update the same finding, not leave a stale one.
        LinkSpec::Serial { port, settings } => {
            let _ = state;
            format!("serial {port} {settings}")
        }
    }
}

/// Runs `terminal.link`; returns its one finding (none when the terminal
/// has no link).
pub(crate) async fn run(run: &LinkRun<'_>) -> Vec<Finding> {
    let Some(protocol) = run.spec.protocol else {
        return Vec::new();
    };
    if run.spec.link == LinkSpec::None {
        return Vec::new();
    }
    let subject = subject(run.spec, &run.state);
    let _ = run
        .progress
        .send(Progress::PhaseStarted {
            phase: checks::TERMINAL_LINK.to_owned(),
            subject: subject.clone(),
        })
        .await;
    let started = Instant::now();
    let draft = tokio::select! {
        biased;
        _ = run.cancel.cancelled() => Draft::new(
            Verdict::Unknown,
            Reason::CheckCancelled,
            crate::error::cancelled_by_shutdown(),
        ),
        d = async {
            let _turn = run.gate.acquire().await;
            if let Some(d) = run.last.since(started) {
                return d;
            }
            let began = Instant::now();
            let d = check(run, protocol).await;
            run.last.store(began, &d);
            d
        } => d,
    };
    let duration = started.elapsed();
    let remedies = if matches!(draft.verdict, Verdict::Ok | Verdict::Unknown) {
        Vec::new()
    } else {
        advice::remedies(draft.reason, &subject, draft.holder.as_deref())
    };
    let finding = Finding {
        check: checks::TERMINAL_LINK.to_owned(),
        verdict: draft.verdict,
        reason: draft.reason,
        summary: draft.summary,
        evidence: draft.evidence,
        remedies,
        duration,
        observed_at: SystemTime::now(),
        terminal: Some(run.spec.id.clone()),
        subject: subject.clone(),
        producer: Producer::builtin(),
    };
    let _ = run
        .progress
        .send(Progress::PhaseFinished {
            phase: checks::TERMINAL_LINK.to_owned(),
            subject,
            verdict: finding.verdict,
            duration,
        })
        .await;
    let _ = run.progress.send(Progress::Finding(finding.clone())).await;
    vec![finding]
}

/// The finding for a port that has just disappeared (seen by the port
/// monitor, not by a check).
pub(crate) fn port_gone(spec: &TerminalSpec, state: &LinkState) -> Finding {
    let subject = subject(spec, state);
    let problem = state.problem.clone().unwrap_or_default();
    Finding {
        check: checks::TERMINAL_LINK.to_owned(),
        verdict: Verdict::Critical,
        reason: Reason::LinkNotFound,
        summary: Text::new(
            format!("the terminal's port disappeared: {problem}"),
            format!("终端端口已消失：{problem}"),
        ),
        evidence: vec![Evidence::text("port", spec.link.address())],
        remedies: advice::remedies(Reason::LinkNotFound, &subject, None),
        duration: Duration::ZERO,
        observed_at: SystemTime::now(),
        terminal: Some(spec.id.clone()),
        subject,
        producer: Producer::builtin(),
    }
}

async fn check(run: &LinkRun<'_>, protocol: LinkProtocol) -> Draft {
    let probe = run.spec.link_probe;
    let open_deadline = tokio::time::Instant::now() + probe.open_timeout;
    let opened = match &run.spec.link {
        LinkSpec::None => {
            return Draft::new(
                Verdict::Unknown,
                Reason::CheckSkipped,
                Text::new("no link", "无连接"),
            );
        }
        LinkSpec::Tcp(addr) => Link::connect_tcp(addr, open_deadline).await,
        LinkSpec::Serial { port, settings } => match &run.state.path {
            None => {
                let problem = run.state.problem.clone().unwrap_or_default();
                let mut d = Draft::new(
                    Verdict::Critical,
                    Reason::LinkNotFound,
                    Text::new(
                        format!("the terminal's port {port} is not present: {problem}"),
                        format!("终端端口 {port} 不存在：{problem}"),
                    ),
                );
                d.evidence.push(Evidence::text("port", port.to_string()));
                return d;
            }
            Some(path) => Link::open_serial(path, settings, open_deadline).await,
        },
    };
    let mut link = match opened {
        Ok(l) => l,
        Err(e) => return link_failure(&e, "opening"),
    };
    // What the terminal sent while nobody had the port open (statuses of its
    // own, answers to an earlier ECR) belongs to no exchange of ours.
    if link.serial_path().is_some() {
        let _ = link.discard_input(open_deadline).await;
    }
    let described = link.describe();
    if protocol == LinkProtocol::Nexo {
        // The terminal accepts connections; its plugin speaks nexo.
        let _ = link
            .close(tokio::time::Instant::now() + Duration::from_secs(1))
            .await;
        let mut d = Draft::new(
            Verdict::Ok,
            Reason::Ok,
            Text::new(
                "the terminal accepts connections on its nexo port",
                "终端的 nexo 端口可以连接",
            ),
        );
        d.evidence.push(Evidence::text("link", described));
        return d;
    }
    // ZVT: a status enquiry.
    let exchange = {
        let command = match Packet::StatusEnquiry(StatusEnquiry::new(probe.zvt_password)).to_apdu()
        {
            Ok(a) => a,
            Err(e) => {
                return Draft::new(
                    Verdict::Error,
                    Reason::InternalError,
                    Text::new(
                        format!("could not build the status enquiry: {e}"),
                        format!("无法构造状态查询：{e}"),
                    ),
                );
            }
        };
        zvt::run_command(
            &mut link,
            command,
            SessionConfig {
                ack_timeout: probe.ack_timeout,
                command_timeout: probe.command_timeout,
            },
            Duration::from_secs(1),
        )
        .await
    };
    // Closing a port whose device is gone fails; that was reported already.
    let _ = link
        .close(tokio::time::Instant::now() + Duration::from_secs(1))
        .await;
    let mut draft = judge(&exchange, probe.latency_warning);
    draft.evidence.insert(0, Evidence::text("link", described));
    if let Some(p) = &run.state.path {
        draft
            .evidence
            .insert(1, Evidence::text("device", p.display().to_string()));
    }
    draft
}

/// The finding of a ZVT status enquiry exchange.
fn judge(ex: &Exchange, latency_warning: Duration) -> Draft {
    let mut evidence = Vec::new();
    evidence.push(Evidence::millis("round_trip", ex.elapsed));
    if let Some(a) = ex.acked_after {
        evidence.push(Evidence::millis("ack_time", a));
    }
    if let Some(s) = ex.stats {
        evidence.push(Evidence::number(
            "naks_received",
            s.naks_received as f64,
            Unit::Count,
        ));
        evidence.push(Evidence::number(
            "crc_errors",
            s.crc_errors as f64,
            Unit::Count,
        ));
        evidence.push(Evidence::number(
            "retransmissions",
            s.retransmissions as f64,
            Unit::Count,
        ));
        evidence.push(Evidence::number(
            "garbage_bytes",
            s.garbage_bytes as f64,
            Unit::Bytes,
        ));
        evidence.push(Evidence::number(
            "broken_frames",
            s.broken_frames as f64,
            Unit::Count,
        ));
    }
    let transcript: Vec<String> = ex.transcript.iter().map(|l| l.render()).collect();
    let with_transcript = |mut d: Draft, evidence: Vec<Evidence>| {
        d.evidence.extend(evidence);
        if !ex.line_errors.is_empty() {
            d.evidence.push(Evidence::text(
                "line_errors",
                posdiag_core::mask_card_numbers(&ex.line_errors.join("; ")),
            ));
        }
        d.evidence
            .push(Evidence::text("transcript", transcript.join("\n")));
        d
    };
    let outcome = match &ex.result {
        Ok(o) => o,
        Err(DriveError::Link(e)) => {
            return with_transcript(link_failure(e, "talking to"), evidence);
        }
        Err(DriveError::Frame(f)) => {
            let (reason, en, zh) = match f {
                posdiag_core::zvt::LinkFailure::TooManyNaks { .. } => (
                    Reason::LinkNaks,
                    "the terminal refused the frame (NAK) after every retransmission".to_owned(),
                    "终端在每次重发后都拒收了数据帧（NAK）".to_owned(),
                ),
                _ => (
                    Reason::LinkNoAnswer,
                    "the terminal did not acknowledge the frame, even after 3 retransmissions"
                        .to_owned(),
                    "终端未确认数据帧，重发 3 次后仍无应答".to_owned(),
                ),
            };
            return with_transcript(
                Draft::new(Verdict::Critical, reason, Text::new(en, zh)),
                evidence,
            );
        }
        Err(DriveError::Protocol(e)) => {
            return with_transcript(
                Draft::new(
                    Verdict::Critical,
                    Reason::LinkProtocol,
                    Text::new(
                        format!("the terminal's answer is not ZVT: {e}"),
                        format!("终端的应答不是 ZVT 协议：{e}"),
                    ),
                ),
                evidence,
            );
        }
    };
    let completion = outcome.packets().find_map(|p| match p {
        Packet::Completion(c) => Some(c),
        _ => None,
    });
    if let Some(c) = completion {
        if let Some(s) = c.status() {
            evidence.push(Evidence::text("terminal_status", format!("0x{s:02X}")));
        }
        // Text from the terminal: masked like everything posdiag shows.
        let m = |s: String| posdiag_core::mask_card_numbers(&s);
        if let Some(v) = c.software_version_text() {
            evidence.push(Evidence::text("software_version", m(v)));
        }
        if let Some(t) = c.terminal_id() {
            evidence.push(Evidence::text("terminal_id", m(t)));
        }
        if let Some(d) = c.device_info() {
            if let Some(n) = d.name {
                evidence.push(Evidence::text("device_name", m(n)));
            }
            if let Some(s) = d.serial {
                evidence.push(Evidence::text("device_serial", m(s)));
            }
        }
    }
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
    let crc_errors = ex.stats.unwrap_or_default().crc_errors;
    let broken_frames = ex.stats.unwrap_or_default().broken_frames;
    let draft = match &outcome.end {
        // The terminal sends, but nothing it sent arrived intact: the line,
        // not the terminal, is what fails (settings that differ, noise).
        CommandEnd::NoAck | CommandEnd::TimedOut if crc_errors > 0 => Draft::new(
            Verdict::Critical,
            Reason::LinkCrcErrors,
            Text::new(
                format!(
                    "the terminal sends, but its frames arrive corrupted ({crc_errors} CRC errors) and the status enquiry never completed"
                ),
                format!(
                    "终端有发送，但其帧到达时已损坏（{crc_errors} 个 CRC 错误），状态查询未能完成"
                ),
            ),
        ),
        // Frames that start but break off (the inter-byte timeout): the
        // terminal is there, the line loses or delays bytes.
        CommandEnd::NoAck | CommandEnd::TimedOut if broken_frames > 0 => Draft::new(
            Verdict::Critical,
            Reason::LinkCrcErrors,
            Text::new(
                format!(
                    "the terminal sends, but its frames break off mid-way ({broken_frames} inter-byte timeouts) and the status enquiry never completed"
                ),
                format!(
                    "终端有发送，但其帧中途中断（{broken_frames} 次字节间超时），状态查询未能完成"
                ),
            ),
        ),
        CommandEnd::NoAck => Draft::new(
            Verdict::Critical,
            Reason::LinkNoAnswer,
            Text::new(
                "the terminal did not acknowledge the status enquiry",
                "终端未确认状态查询",
            ),
        ),
        CommandEnd::TimedOut => Draft::new(
            Verdict::Critical,
            Reason::LinkNoAnswer,
            Text::new(
                "the terminal acknowledged the status enquiry but never completed it",
                "终端确认了状态查询，但始终没有完成",
            ),
        ),
        end => {
            let (en, zh) = match end {
                CommandEnd::Aborted { result_code } => (
                    format!(
                        "the terminal answers, but aborted the status enquiry with result 0x{result_code:02X}"
                    ),
                    format!("终端有应答，但以结果码 0x{result_code:02X} 中止了状态查询"),
                ),
                CommandEnd::Refused { code } => (
                    format!("the terminal answers, but refused the status enquiry (84 {code:02X})"),
                    format!("终端有应答，但拒绝了状态查询（84 {code:02X}）"),
                ),
                _ => (
                    format!(
                        "the terminal answers a status enquiry in {} ms",
                        ms(ex.elapsed)
                    ),
                    format!("终端在 {} 毫秒内应答了状态查询", ms(ex.elapsed)),
                ),
            };
            if let CommandEnd::Aborted { result_code } = end {
                evidence.push(Evidence::text(
                    "result_code",
                    format!("0x{result_code:02X}"),
                ));
            }
            let stats = ex.stats.unwrap_or_default();
            if stats.crc_errors > 0 {
                Draft::new(
                    Verdict::Warning,
                    Reason::LinkCrcErrors,
                    Text::new(
                        format!(
                            "{en}, but {} frame(s) arrived corrupted (CRC errors)",
                            stats.crc_errors
                        ),
                        format!("{zh}，但有 {} 个帧损坏（CRC 错误）", stats.crc_errors),
                    ),
                )
            } else if stats.broken_frames > 0 {
                Draft::new(
                    Verdict::Warning,
                    Reason::LinkCrcErrors,
                    Text::new(
                        format!(
                            "{en}, but {} frame(s) broke off mid-way (inter-byte timeout) and had to be repeated",
                            stats.broken_frames
                        ),
                        format!(
                            "{zh}，但有 {} 个帧中途中断（字节间超时），需要重发",
                            stats.broken_frames
                        ),
                    ),
                )
            } else if stats.naks_received > 0 || stats.retransmissions > 0 {
                Draft::new(
                    Verdict::Warning,
                    Reason::LinkNaks,
                    Text::new(
                        format!(
                            "{en}, but it rejected {} frame(s) (NAK) and {} had to be repeated",
                            stats.naks_received, stats.retransmissions
                        ),
                        format!(
                            "{zh}，但终端拒收了 {} 个帧（NAK），重发了 {} 次",
                            stats.naks_received, stats.retransmissions
                        ),
                    ),
                )
            } else if ex.elapsed > latency_warning {
                Draft::new(
                    Verdict::Warning,
                    Reason::LinkLatency,
                    Text::new(
                        format!(
                            "{en}, slower than the {} ms threshold",
                            latency_warning.as_millis()
                        ),
                        format!("{zh}，慢于 {} 毫秒的阈值", latency_warning.as_millis()),
                    ),
                )
            } else {
                Draft::new(Verdict::Ok, Reason::Ok, Text::new(en, zh))
            }
        }
    };
    with_transcript(draft, evidence)
}

/// A link error as a finding: lost, busy, missing, refused…
fn link_failure(e: &LinkError, doing: &str) -> Draft {
    let (verdict, reason) = match e.kind() {
        LinkErrorKind::Lost | LinkErrorKind::Closed => (Verdict::Critical, Reason::LinkLost),
        LinkErrorKind::Timeout => (Verdict::Critical, Reason::LinkNoAnswer),
        LinkErrorKind::Busy => (Verdict::Error, Reason::LinkBusy),
        LinkErrorKind::NotFound => (Verdict::Critical, Reason::LinkNotFound),
        LinkErrorKind::PermissionDenied => (Verdict::Error, Reason::LinkPermission),
        LinkErrorKind::Refused => (Verdict::Critical, Reason::TcpRefused),
        LinkErrorKind::Unreachable => (Verdict::Critical, Reason::TcpUnreachable),
        LinkErrorKind::Reset => (Verdict::Critical, Reason::TcpReset),
        LinkErrorKind::Resolve => (Verdict::Critical, Reason::DnsError),
        _ => (Verdict::Critical, Reason::LinkError),
    };
    let zh_doing = if doing == "opening" {
        "打开"
    } else {
        "通信"
    };
    let mut d = Draft::new(
        verdict,
        reason,
        Text::new(
            format!("{doing} the terminal link failed: {e}"),
            format!("终端连接{zh_doing}失败：{}（{e}）", reason.meaning().zh),
        ),
    );
    if let LinkError::Busy { holders, .. } = e
        && !holders.is_empty()
    {
        d.holder = Some(holders.join(", "));
    }
    d
}

#[cfg(test)]
mod tests;

/// A failure to open a terminal's link as a finding of `check`, with the
/// remedies of its reason (for plugin checks whose link could not open).
pub(crate) fn link_failure_finding(
    spec: &TerminalSpec,
    check: &str,
    subject: &str,
    e: &LinkError,
) -> Finding {
    let d = link_failure(e, "opening");
    let remedies = advice::remedies(d.reason, subject, d.holder.as_deref());
    Finding {
        check: check.to_owned(),
        verdict: d.verdict,
        reason: d.reason,
        summary: d.summary,
        evidence: d.evidence,
        remedies,
        duration: Duration::ZERO,
        observed_at: SystemTime::now(),
        terminal: Some(spec.id.clone()),
        subject: subject.to_owned(),
        producer: Producer::builtin(),
    }
}
