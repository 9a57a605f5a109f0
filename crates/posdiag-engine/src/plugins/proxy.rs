//! One plugin check with the terminal's link proxied through the daemon:
//! the link opened for the check only (not at all for a check that does not
//! need it), the plugin's reads and writes carried out here within its
//! deadlines, the bytes kept in a masked transcript that goes with the worst
//! finding, and the link closed here whatever the plugin does.

use std::sync::Arc;
use std::time::Duration;

use posdiag_core::{Evidence, Finding, Reason, Text, Verdict, mask_card_numbers};
use posdiag_plugin_api::pb;
use posdiag_plugin_supervisor::{TransportError, TransportRequest};
use posdiag_transport::{Direction, Link, LinkErrorKind, Mask, Transcript, TranscriptConfig};
use tokio::sync::mpsc;

use super::PluginRun;
use super::findings::{convert, fault_finding, fault_to_finding};
use crate::Progress;
use crate::model::{LinkSpec, TerminalSpec};

pub(super) async fn execute(
    run: &PluginRun<'_>,
    subject: &str,
    timeout: Duration,
    needs_link: bool,
) -> Vec<Finding> {
    let spec = run.spec;
    // The link, opened for this check only (the plugin reads and writes
    // through the daemon); not at all for a check that does not use it, so
    // a busy or absent terminal cannot fail it.
    let open_deadline = tokio::time::Instant::now() + spec.link_probe.open_timeout;
    let opened = match run.link {
        _ if !needs_link => Ok(None),
        LinkSpec::None => Ok(None),
        LinkSpec::Tcp(addr) => Link::connect_tcp(addr, open_deadline).await.map(Some),
        LinkSpec::Serial { settings, .. } => match &run.state.path {
            Some(path) => Link::open_serial(path, settings, open_deadline)
                .await
                .map(Some),
            None => Ok(None),
        },
    };
    // A link that does not open is the finding: busy, missing, refused...
    let mut link = match opened {
        // Bytes the terminal sent while the port was closed belong to no
        // exchange of the plugin's.
        Ok(Some(mut l)) if l.serial_path().is_some() => {
            let _ = l.discard_input(open_deadline).await;
            Some(l)
        }
        Ok(l) => l,
        Err(e) => {
            return vec![crate::link::link_failure_finding(
                spec, run.check, subject, &e,
            )];
        }
    };
    let request = pb::CheckRequest {
        check: run.check.to_owned(),
        terminal_id: spec.id.to_string(),
        vendor: spec.vendor.clone(),
        model: spec.model.clone(),
        link_kind: if needs_link { run.link.kind() } else { "none" }.to_owned(),
        link_address: match run.link {
            _ if !needs_link => String::new(),
            LinkSpec::Serial { .. } => run
                .state
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| run.link.address()),
            other => other.address(),
        },
        timeout_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
        lang: "en".into(),
        args: run.args.clone().into_iter().collect(),
    };
    let mut transcript = link
        .as_ref()
        .map(|_| ProxyTranscript::new(link_mask(spec, run.link)));
    let (tx, mut rx) = mpsc::channel::<TransportRequest>(4);
    let (ev_tx, mut ev_rx) = mpsc::channel::<pb::Event>(16);
    let deadline = tokio::time::Instant::now() + timeout;
    // The device: the terminal and the link the check talks over.
    let process = run
        .entry
        .process_for(&format!("{} {}", spec.id, run.link.address()));
    let call = process.run_check(request, Some(tx), ev_tx, deadline);
    tokio::pin!(call);
    let result = loop {
        tokio::select! {
            r = &mut call => break r,
            Some(req) = rx.recv() => serve(&mut link, transcript.as_mut(), req, deadline).await,
            Some(ev) = ev_rx.recv() => forward_event(run, ev),
        }
    };
    if let Some(l) = link.take() {
        let _ = l
            .close(tokio::time::Instant::now() + Duration::from_secs(1))
            .await;
    }
    let transcript = transcript.and_then(ProxyTranscript::finish);
    let findings = match result {
        Ok(r) if !r.findings.is_empty() => r
            .findings
            .into_iter()
            .map(|f| convert(run, subject, f))
            .collect(),
        Ok(_) => vec![fault_finding(
            run,
            subject,
            Reason::PluginProtocol,
            Verdict::Error,
            Text::new(
                "the vendor plugin returned no finding",
                "厂商插件没有返回任何结果",
            ),
        )],
        Err(fault) => vec![fault_to_finding(run, subject, &fault)],
    };
    with_transcript(findings, transcript)
}

/// The link transcript goes with the worst finding when something is wrong:
/// what a vendor needs to see, once, and nothing when all is well.
fn with_transcript(mut findings: Vec<Finding>, transcript: Option<String>) -> Vec<Finding> {
    let Some(transcript) = transcript else {
        return findings;
    };
    let worst = Verdict::worst(findings.iter().map(|f| f.verdict));
    if let Some(f) = findings
        .iter_mut()
        .find(|f| Some(f.verdict) == worst && f.verdict != Verdict::Ok)
    {
        f.evidence
            .push(Evidence::text("link_transcript", transcript));
    }
    findings
}

/// How bytes on a plugin's link are masked before they are kept: ZVT frames
/// and APDUs by their fields on a ZVT terminal's own link, anything else
/// (an acquirer's link for the echo, nexo, a vendor protocol) by the generic
/// rules.
fn link_mask(spec: &TerminalSpec, link: &LinkSpec) -> Mask {
    let serial = matches!(link, LinkSpec::Serial { .. });
    match spec.protocol {
        Some(crate::model::LinkProtocol::Zvt) if *link == spec.link => {
            Arc::new(move |_, bytes: &[u8]| posdiag_core::zvt::redact_link_bytes(bytes, serial))
        }
        _ => Arc::new(|_, bytes: &[u8]| posdiag_core::mask_card_bytes(bytes)),
    }
}

/// The bytes a plugin exchanged with its device through the daemon, for
/// findings. Consecutive chunks in one direction are joined into one entry
/// before they are masked, so a frame read in pieces is masked whole (a card
/// number split across two reads is still recognised); the joined chunk is
/// held only until the direction changes (or [`MAX_BURST`] bytes), as the
/// link's own buffer would.
struct ProxyTranscript {
    started: tokio::time::Instant,
    pending: Option<(Direction, Duration, Vec<u8>)>,
    transcript: Transcript,
}

/// Most bytes joined into one entry.
const MAX_BURST: usize = 4096;

impl ProxyTranscript {
    fn new(mask: Mask) -> Self {
        ProxyTranscript {
            started: tokio::time::Instant::now(),
            pending: None,
            transcript: Transcript::new(TranscriptConfig {
                max_entries: 128,
                max_bytes: 8 * 1024,
                mask: Some(mask),
            }),
        }
    }

    fn push(&mut self, direction: Direction, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        match &mut self.pending {
            Some((d, _, held)) if *d == direction && held.len() + bytes.len() <= MAX_BURST => {
                held.extend_from_slice(bytes);
            }
            _ => {
                self.flush();
                self.pending = Some((direction, self.started.elapsed(), bytes.to_vec()));
            }
        }
    }

    fn flush(&mut self) {
        if let Some((direction, at, bytes)) = self.pending.take() {
            self.transcript.record(direction, at, &bytes);
        }
    }

    /// The rendered transcript, or `None` when nothing crossed the link.
    fn finish(mut self) -> Option<String> {
        self.flush();
        (self.transcript.entries().len() > 0).then(|| mask_card_numbers(&self.transcript.render()))
    }
}

impl std::fmt::Debug for ProxyTranscript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyTranscript")
            .field("transcript", &self.transcript)
            .finish_non_exhaustive()
    }
}

/// Carries out one transport request of the plugin on the link.
async fn serve(
    link: &mut Option<Link>,
    transcript: Option<&mut ProxyTranscript>,
    req: TransportRequest,
    deadline: tokio::time::Instant,
) {
    // The plugin's own timeout, never past the check's deadline.
    let until = |t: Duration| (tokio::time::Instant::now() + t).min(deadline);
    match req {
        TransportRequest::Write {
            bytes,
            timeout,
            reply,
        } => {
            let r = match link.as_mut() {
                None => Err(TransportError::NoLink),
                Some(l) => {
                    // Recorded as offered: what reached the wire before a
                    // failure is part of the story too.
                    if let Some(t) = transcript {
                        t.push(Direction::Tx, &bytes);
                    }
                    l.write_all(&bytes, until(timeout))
                        .await
                        .map_err(transport_error)
                }
            };
            let _ = reply.send(r);
        }
        TransportRequest::Read {
            max,
            timeout,
            reply,
        } => {
            let r = match link.as_mut() {
                None => Err(TransportError::NoLink),
                Some(l) => {
                    let mut buf = vec![0u8; max.clamp(1, 64 * 1024)];
                    let r = l
                        .read(&mut buf, until(timeout))
                        .await
                        .map(|n| {
                            buf.truncate(n);
                            buf
                        })
                        .map_err(transport_error);
                    if let (Ok(got), Some(t)) = (&r, transcript) {
                        t.push(Direction::Rx, got);
                    }
                    r
                }
            };
            let _ = reply.send(r);
        }
    }
}

fn transport_error(e: posdiag_transport::LinkError) -> TransportError {
    match e.kind() {
        LinkErrorKind::Timeout => TransportError::Timeout,
        LinkErrorKind::Lost | LinkErrorKind::Closed | LinkErrorKind::Reset => TransportError::Lost,
        _ => TransportError::Failed(e.to_string()),
    }
}

/// Passes a plugin's progress event on; dropped rather than waited for when
/// the watcher is slow, so the plugin call keeps being served.
fn forward_event(run: &PluginRun<'_>, ev: pb::Event) {
    if let Some(pb::event::Event::PhaseStarted(p)) = ev.event {
        let _ = run.progress.try_send(Progress::PhaseStarted {
            phase: mask_card_numbers(&p.phase),
            subject: mask_card_numbers(&p.subject),
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use posdiag_core::Producer;

    use super::*;
    use posdiag_core::Reason;

    fn zvt_serial_mask() -> Mask {
        Arc::new(|_, bytes: &[u8]| posdiag_core::zvt::redact_link_bytes(bytes, true))
    }

    #[test]
    fn a_card_number_read_in_pieces_is_masked_whole() {
        // Status information with BMP 22 = 4111111111111111, as a serial
        // frame the plugin reads in two pieces that split the PAN.
        let apdu = [
            0x04, 0x0F, 0x0D, 0x27, 0x00, 0x22, 0xF0, 0xF8, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11,
            0x11, 0x11,
        ];
        let frame = posdiag_core::zvt::serial::encode_frame(&apdu);
        let mut t = ProxyTranscript::new(zvt_serial_mask());
        t.push(Direction::Tx, &[0x10, 0x02, 0x05, 0x01]);
        t.push(Direction::Tx, &[0x03, 0x00, 0x00, 0x00]);
        t.push(Direction::Rx, &frame[..12]);
        t.push(Direction::Rx, &frame[12..]);
        t.push(Direction::Tx, &[0x06]);
        let text = t.finish().unwrap_or_default();
        // Three entries: the joined command, the joined frame, the ACK.
        assert_eq!(text.matches(" TX ").count(), 2, "{text}");
        assert_eq!(text.matches(" RX ").count(), 1, "{text}");
        assert!(text.contains("05 01 03 00 00 00"), "{text}");
        assert!(text.contains("41 11 11 ee ee ee"), "{text}");
        assert!(text.contains("0010  11 11 10 03"), "{text}");
        assert!(!text.contains("11 11 11"), "{text}");
    }

    #[test]
    fn the_transcript_goes_with_the_worst_finding_and_only_when_something_is_wrong() {
        let finding = |verdict| Finding {
            check: "reader.status".into(),
            verdict,
            reason: Reason::VendorSpecific,
            summary: Text::new("x", "x"),
            evidence: Vec::new(),
            remedies: Vec::new(),
            duration: Duration::ZERO,
            observed_at: SystemTime::now(),
            terminal: None,
            subject: "T1".into(),
            producer: Producer {
                id: "p".into(),
                version: "1".into(),
            },
        };
        let has = |f: &Finding| f.evidence("link_transcript").is_some();
        let out = with_transcript(
            vec![
                finding(Verdict::Ok),
                finding(Verdict::Warning),
                finding(Verdict::Critical),
            ],
            Some("+0.000s TX 1 bytes".into()),
        );
        assert_eq!(
            out.iter().map(has).collect::<Vec<_>>(),
            [false, false, true]
        );
        let out = with_transcript(vec![finding(Verdict::Ok)], Some("x".into()));
        assert!(!has(&out[0]));
        assert!(ProxyTranscript::new(zvt_serial_mask()).finish().is_none());
    }

    #[test]
    fn zvt_masking_is_for_the_terminals_own_link_only() {
        let spec = TerminalSpec {
            id: posdiag_core::TerminalId::new("T1").unwrap_or_else(|e| panic!("{e}")),
            name: "T1".into(),
            vendor: String::new(),
            model: String::new(),
            link: LinkSpec::Tcp("127.0.0.1:20007".into()),
            protocol: Some(crate::model::LinkProtocol::Zvt),
            link_probe: crate::model::LinkProbeSpec::default(),
            plugin: None,
            plugin_args: Default::default(),
            plugin_timeout: None,
            hosts: Vec::new(),
            check_interval: None,
        };
        // An ASCII ISO 8583 echo to the acquirer holds bytes that would start
        // sensitive ZVT BMPs (0x22 '"', 0x2D '-'): on the acquirer's link it
        // is not ZVT and stays as sent.
        let echo = b"0800\"-\"#$0011223301";
        let acquirer = LinkSpec::Tcp("127.0.0.1:5000".into());
        assert_eq!(
            link_mask(&spec, &acquirer)(Direction::Tx, echo),
            echo.to_vec()
        );
        // On the terminal's own link ZVT rules apply: a PAN in BMP 22 is masked.
        let apdu = [
            0x04, 0x0F, 0x0D, 0x27, 0x00, 0x22, 0xF0, 0xF8, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11,
            0x11, 0x11,
        ];
        let out = link_mask(&spec, &spec.link)(Direction::Rx, &apdu);
        assert_eq!(&out[11..13], &[0xEE, 0xEE], "{out:02X?}");
    }
}
