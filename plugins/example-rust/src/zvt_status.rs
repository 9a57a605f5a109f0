//! The check `example.zvt_status`: one ZVT status enquiry, ECR side, through the host's
//! transport callbacks. posdiag-core's [`CommandSession`](posdiag_core::zvt::CommandSession)
//! decides what to send and when the command is over; [`EcrDriver`] moves its bytes through the
//! host (DLE/STX framing and ACK bytes over a serial or USB link, raw APDUs over TCP), within the
//! check's deadline. This module builds the command and turns the outcome into a [`pb::Finding`].

use std::time::{Duration, Instant};

use posdiag_core::zvt::packets::StatusEnquiry;
use posdiag_core::zvt::{CommandEnd, CommandOutcome, LinkFailure, Packet};
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{
    Host, PluginError, TransportError, evidence_number, evidence_text, finding, ms, remedy,
};
use posdiag_zvt_driver::{Broken, CommandOptions, EcrDriver};

use crate::PLUGIN_ID;

/// The check id.
pub const CHECK_ID: &str = "example.zvt_status";

/// The deadline when the request gives none (the manifest's `default_timeout_ms`).
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);

/// Runs the check.
pub fn run(
    host: &Host,
    req: &pb::CheckRequest,
    password: [u8; 3],
) -> Result<pb::CheckResult, PluginError> {
    let timeout = match req.timeout_ms {
        0 => DEFAULT_TIMEOUT,
        t => Duration::from_millis(u64::from(t)),
    };
    let Some(mut driver) = EcrDriver::new(host, &req.link_kind, timeout) else {
        host.warn(&format!(
            "{CHECK_ID} needs a serial, usb or tcp link; terminal {} has {:?}",
            req.terminal_id, req.link_kind
        ));
        return Err(TransportError::NoLink.into());
    };
    let command = Packet::StatusEnquiry(StatusEnquiry::new(password))
        .to_apdu()
        .map_err(|e| PluginError::failed(format!("encoding the status enquiry: {e}")))?;
    let subject = format!("terminal {}", req.terminal_id);
    let started = Instant::now();
    host.phase_started("status_enquiry", &subject);
    let options = CommandOptions {
        session: driver.session_config(),
        abort_at: None,
    };
    let mut f = match driver.run(&command, options, &mut |_| {}) {
        Ok(outcome) => from_outcome(&subject, &outcome),
        Err(broken) => from_broken(&subject, &broken, timeout),
    };
    // Round trip (also as a metric) and, on a serial link, retransmissions, NAKs, CRC errors.
    driver.add_link_evidence(&mut f);
    host.phase_finished("status_enquiry", &subject, f.verdict(), started.elapsed());
    Ok(pb::CheckResult { findings: vec![f] })
}

fn from_outcome(subject: &str, outcome: &CommandOutcome) -> pb::Finding {
    match outcome.end {
        CommandEnd::Completed => {
            let completion = outcome.packets().find_map(|p| match p {
                Packet::Completion(c) => Some(c),
                _ => None,
            });
            let status = completion.and_then(|c| c.status());
            let version = completion.and_then(|c| {
                c.software_version_text()
                    .or_else(|| c.device_info()?.software_version)
            });
            let mut f = match status {
                Some(0) => finding(
                    CHECK_ID,
                    subject,
                    pb::Verdict::Ok,
                    "ok",
                    "the terminal is ready (status 0x00)",
                    "终端已就绪（状态 0x00）",
                ),
                Some(s) => {
                    let mut f = finding(
                        CHECK_ID,
                        subject,
                        pb::Verdict::Warning,
                        &format!("vendor.{PLUGIN_ID}.not_ready"),
                        format!("the terminal reports status 0x{s:02X}: not ready for payments"),
                        format!("终端报告状态 0x{s:02X}：无法进行支付"),
                    );
                    f.remedies.push(remedy(pb::Actor::Merchant, "Look at the terminal's display; finish or cancel what it is doing (maintenance, update), then run the check again.", "请查看终端屏幕，完成或取消正在进行的操作（维护、更新），然后再次运行检查。"));
                    f
                }
                None => finding(
                    CHECK_ID,
                    subject,
                    pb::Verdict::Warning,
                    "link.protocol",
                    "the terminal completed the status enquiry without a status byte",
                    "终端完成了状态查询，但没有返回状态字节",
                ),
            };
            if let Some(s) = status {
                f.evidence
                    .push(evidence_number("terminal_status", f64::from(s), ""));
            }
            if let Some(v) = version {
                f.evidence.push(evidence_text("software_version", &v));
            }
            f
        }
        CommandEnd::Aborted { result_code } => {
            let mut f = finding(
                CHECK_ID,
                subject,
                pb::Verdict::Warning,
                &format!("vendor.{PLUGIN_ID}.aborted"),
                format!(
                    "the terminal aborted the status enquiry with result code 0x{result_code:02X}"
                ),
                format!("终端以结果码 0x{result_code:02X} 中止了状态查询"),
            );
            f.evidence
                .push(evidence_number("result_code", f64::from(result_code), ""));
            f
        }
        CommandEnd::Refused { code } => {
            let mut f = finding(
                CHECK_ID,
                subject,
                pb::Verdict::Warning,
                &format!("vendor.{PLUGIN_ID}.refused"),
                format!(
                    "the terminal refused the status enquiry (NAK 0x{code:02X}); check the ZVT password"
                ),
                format!("终端拒绝了状态查询（NAK 0x{code:02X}）；请检查 ZVT 密码"),
            );
            f.evidence
                .push(evidence_number("nak_code", f64::from(code), ""));
            f
        }
        CommandEnd::NoAck | CommandEnd::TimedOut => no_answer(subject),
    }
}

fn no_answer(subject: &str) -> pb::Finding {
    let mut f = finding(
        CHECK_ID,
        subject,
        pb::Verdict::Critical,
        "link.no_answer",
        "the terminal did not answer the status enquiry in time",
        "终端没有在时限内应答状态查询",
    );
    f.remedies.push(remedy(pb::Actor::Merchant, "Check that the terminal is switched on, its cable is plugged in and it is not busy with a payment.", "请确认终端已开机、线缆已连接，且没有正在进行的支付。"));
    f
}

fn from_broken(subject: &str, broken: &Broken, timeout: Duration) -> pb::Finding {
    match broken {
        Broken::Deadline | Broken::Transport(TransportError::Timeout) => {
            let mut f = no_answer(subject);
            f.evidence
                .push(evidence_number("timeout", ms(timeout), "ms"));
            f
        }
        Broken::Link(LinkFailure::NoAck { .. }) => {
            let mut f = no_answer(subject);
            f.evidence
                .push(evidence_text("detail", &broken_detail(broken)));
            f
        }
        Broken::Link(LinkFailure::TooManyNaks { .. }) => finding(
            CHECK_ID,
            subject,
            pb::Verdict::Critical,
            "link.naks",
            "the terminal rejected every frame of the status enquiry (NAK)",
            "终端拒收了状态查询的每一个数据帧（NAK）",
        ),
        Broken::Transport(TransportError::LinkLost) => {
            let mut f = finding(
                CHECK_ID,
                subject,
                pb::Verdict::Critical,
                "link.lost",
                "the terminal's link disappeared during the status enquiry",
                "终端连接在状态查询过程中消失",
            );
            f.remedies.push(remedy(
                pb::Actor::Merchant,
                "Reconnect the terminal's cable or USB adapter, then run the check again.",
                "请重新连接终端的线缆或 USB 转接器，然后再次运行检查。",
            ));
            f
        }
        Broken::Garbage(_) => {
            let mut f = finding(
                CHECK_ID,
                subject,
                pb::Verdict::Critical,
                "link.protocol",
                "the terminal answered with bytes that are not ZVT",
                "终端的应答不是 ZVT 协议数据",
            );
            f.evidence
                .push(evidence_text("detail", &broken_detail(broken)));
            f
        }
        Broken::Transport(other) => {
            let mut f = finding(
                CHECK_ID,
                subject,
                pb::Verdict::Critical,
                "link.error",
                "the link to the terminal failed during the status enquiry",
                "与终端的连接在状态查询过程中失败",
            );
            f.evidence.push(evidence_text("detail", &other.to_string()));
            f
        }
    }
}

fn broken_detail(broken: &Broken) -> String {
    match broken {
        Broken::Deadline => "deadline passed".into(),
        Broken::Link(f) => f.to_string(),
        Broken::Garbage(e) => e.clone(),
        Broken::Transport(e) => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use std::cell::RefCell;
    use std::collections::VecDeque;

    use posdiag_core::zvt::packets::Completion;
    use posdiag_core::zvt::{Apdu, BmpList, encode_frame};
    use posdiag_plugin_api::sdk::{HostBackend, LogLevel};

    use super::*;

    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        Answer(u8),
        Silent,
        Lost,
    }

    /// A ZVT terminal behind the host's transport callbacks: it answers a status enquiry
    /// with `80 00 00` and a completion (framed and ACKed on a serial link).
    struct FakeTerminal {
        serial: bool,
        mode: Mode,
        inbox: RefCell<VecDeque<u8>>,
        written: std::rc::Rc<RefCell<Vec<u8>>>,
    }

    impl HostBackend for FakeTerminal {
        fn log(&self, _level: LogLevel, _message: &str) {}
        fn event(&self, _event: &pb::Event) {}

        fn write(&self, bytes: &[u8], _timeout: Duration) -> Result<(), TransportError> {
            if self.mode == Mode::Lost {
                return Err(TransportError::LinkLost);
            }
            self.written.borrow_mut().extend_from_slice(bytes);
            let Mode::Answer(status) = self.mode else {
                return Ok(());
            };
            let apdu = if self.serial {
                if bytes == [0x06] {
                    return Ok(());
                }
                self.inbox.borrow_mut().push_back(0x06);
                &bytes[2..]
            } else {
                bytes
            };
            if apdu.starts_with(&[0x05, 0x01]) {
                let completion = Packet::Completion(Completion {
                    software_version: Some(b"GER-APP-v2.0.9".to_vec()),
                    terminal_status: Some(status),
                    bmps: BmpList::default(),
                })
                .encode()
                .unwrap();
                for answer in [Apdu::ack().encode(), completion] {
                    let answer = if self.serial {
                        encode_frame(&answer)
                    } else {
                        answer
                    };
                    self.inbox.borrow_mut().extend(answer);
                }
            }
            Ok(())
        }

        fn read(&self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
            let mut inbox = self.inbox.borrow_mut();
            if inbox.is_empty() {
                // Stands in for a read that waits out its timeout; tests keep deadlines short.
                std::thread::sleep(timeout.min(Duration::from_millis(20)));
                return Err(TransportError::Timeout);
            }
            // Hand out a few bytes at a time, as a slow serial line would.
            let n = buf.len().min(inbox.len()).min(5);
            for (slot, byte) in buf.iter_mut().zip(inbox.drain(..n)) {
                *slot = byte;
            }
            Ok(n)
        }
    }

    fn check(
        link: &str,
        mode: Mode,
        timeout_ms: u32,
    ) -> (Result<pb::CheckResult, PluginError>, Vec<u8>) {
        let written = std::rc::Rc::new(RefCell::new(Vec::new()));
        let host = Host::from_backend(FakeTerminal {
            serial: link != "tcp",
            mode,
            inbox: RefCell::new(VecDeque::new()),
            written: written.clone(),
        });
        let req = pb::CheckRequest {
            check: CHECK_ID.into(),
            terminal_id: "T1".into(),
            link_kind: link.into(),
            timeout_ms,
            ..Default::default()
        };
        let result = run(&host, &req, [0, 0, 0]);
        let bytes = written.borrow().clone();
        (result, bytes)
    }

    fn evidence<'a>(f: &'a pb::Finding, name: &str) -> Option<&'a pb::evidence::Value> {
        f.evidence.iter().find(|e| e.name == name)?.value.as_ref()
    }

    #[test]
    fn tcp_status_enquiry_reports_status_and_version() {
        let (result, written) = check("tcp", Mode::Answer(0), 2000);
        let f = &result.unwrap().findings[0];
        assert_eq!((f.verdict(), f.reason.as_str()), (pb::Verdict::Ok, "ok"));
        assert_eq!(f.subject, "terminal T1");
        assert_eq!(
            evidence(f, "terminal_status"),
            Some(&pb::evidence::Value::Number(0.0))
        );
        assert_eq!(
            evidence(f, "software_version"),
            Some(&pb::evidence::Value::Text("GER-APP-v2.0.9".into()))
        );
        assert!(evidence(f, "round_trip").is_some());
        // The enquiry, then our acknowledgement of the completion.
        assert_eq!(
            written,
            [0x05, 0x01, 0x03, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00]
        );
    }

    #[test]
    fn serial_status_enquiry_frames_and_acks() {
        let (result, written) = check("serial", Mode::Answer(0), 2000);
        let f = &result.unwrap().findings[0];
        assert_eq!(f.verdict(), pb::Verdict::Ok);
        assert_eq!(
            evidence(f, "retransmissions"),
            Some(&pb::evidence::Value::Number(0.0))
        );
        let mut expected = encode_frame(&[0x05, 0x01, 0x03, 0x00, 0x00, 0x00]);
        // ACK bytes for the terminal's two frames, then our framed acknowledgement.
        expected.extend([0x06, 0x06]);
        expected.extend(encode_frame(&[0x80, 0x00, 0x00]));
        assert_eq!(written, expected);
    }

    #[test]
    fn a_busy_terminal_is_a_warning() {
        let (result, _) = check("usb", Mode::Answer(0xE0), 2000);
        let f = &result.unwrap().findings[0];
        assert_eq!(f.verdict(), pb::Verdict::Warning);
        assert_eq!(f.reason, "vendor.example.zvt-rust.not_ready");
        assert!(f.summary_en.contains("0xE0") && f.summary_zh.contains("0xE0"));
        assert_eq!(f.remedies.len(), 1);
    }

    #[test]
    fn silence_is_no_answer_and_a_vanished_link_is_lost() {
        for link in ["tcp", "serial"] {
            let (result, _) = check(link, Mode::Silent, 100);
            let f = &result.unwrap().findings[0];
            assert_eq!(
                (f.verdict(), f.reason.as_str()),
                (pb::Verdict::Critical, "link.no_answer"),
                "{link}"
            );
            assert!(!f.summary_zh.is_empty());
        }
        let (result, _) = check("tcp", Mode::Lost, 2000);
        let f = &result.unwrap().findings[0];
        assert_eq!(
            (f.verdict(), f.reason.as_str()),
            (pb::Verdict::Critical, "link.lost")
        );
        assert!(!f.summary_en.is_empty() && !f.summary_zh.is_empty());
    }

    #[test]
    fn no_link_is_an_error_not_a_finding() {
        let (result, written) = check("none", Mode::Answer(0), 2000);
        assert_eq!(result, Err(PluginError::Transport(TransportError::NoLink)));
        assert!(written.is_empty());
    }
}
