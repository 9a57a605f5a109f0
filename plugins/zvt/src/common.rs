//! What every check shares: findings about the terminal (through the SDK's builders),
//! explanations from posdiag-codes' built-in ZVT tables, and the findings for an
//! exchange that broke (no answer, lost link, garbage) or ended in a way the check did not
//! ask for (NAK, unexpected abort).

use std::sync::LazyLock;
use std::time::Duration;

use posdiag_codes::{KnowledgeBase, Scheme};
use posdiag_core::zvt::packets::AbortFromPt;
use posdiag_core::zvt::{CommandEnd, CommandOutcome, LinkFailure, Packet, session::Received};
use posdiag_core::{Text, mask_card_numbers};
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{
    Host, PluginError, TransportError, evidence_number, evidence_text, finding, ms, remedy,
};
use posdiag_zvt_driver::{Broken, EcrDriver};

/// The check's budget when the request gives none (the manifest's `default_timeout_ms`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(20_000);

/// The built-in code tables, parsed once per process.
static KB: LazyLock<KnowledgeBase> = LazyLock::new(KnowledgeBase::builtin);

/// A code's meaning in English and Chinese.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meaning {
    /// English.
    pub en: String,
    /// Simplified Chinese.
    pub zh: String,
}

/// The meaning of a one-byte ZVT code in `scheme`; codes the table lacks get a neutral text
/// (the byte is always in the evidence next to it).
pub fn meaning(scheme: &Scheme, code: u8) -> Meaning {
    match KB.get(scheme, &format!("{code:02X}")) {
        Some(entry) => Meaning {
            en: entry.meaning.en.clone(),
            zh: entry.meaning.zh.clone(),
        },
        None => Meaning {
            en: format!("unknown code {code:02X}"),
            zh: format!("未知代码 {code:02X}"),
        },
    }
}

/// The remedies posdiag-codes lists for a code, as protobuf remedies.
pub fn kb_remedies(scheme: &Scheme, code: u8) -> Vec<pb::Remedy> {
    KB.get(scheme, &format!("{code:02X}"))
        .map(|entry| {
            entry
                .remedies
                .iter()
                .map(|r| pb::Remedy {
                    actor: actor(r.actor).into(),
                    text_en: r.text.en.clone(),
                    text_zh: r.text.zh.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn actor(a: posdiag_core::Actor) -> pb::Actor {
    match a {
        posdiag_core::Actor::Merchant => pb::Actor::Merchant,
        posdiag_core::Actor::Cardholder => pb::Actor::Cardholder,
        posdiag_core::Actor::Acquirer => pb::Actor::Acquirer,
        posdiag_core::Actor::Issuer => pb::Actor::Issuer,
        posdiag_core::Actor::Vendor => pb::Actor::Vendor,
    }
}

/// A byte as evidence, e.g. `terminal_status = "51"` (hex, as the ZVT specification and the
/// code tables write it).
pub fn evidence_hex(name: &str, byte: u8) -> pb::Evidence {
    evidence_text(name, &format!("{byte:02X}"))
}

/// Bytes as uppercase hex without separators.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Text the terminal sent (error text, display lines), made safe for findings: card numbers
/// masked, control characters dropped, bounded.
pub fn terminal_text(text: &str) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    mask_card_numbers(clean.trim())
}

/// Everything one check needs: the host, the subject, the request and the driver.
#[derive(Debug)]
pub struct Ctx<'h> {
    /// The host.
    pub host: &'h Host,
    /// The check id.
    pub check: &'static str,
    /// "terminal <id>".
    pub subject: String,
    /// The driver of the request's link.
    pub driver: EcrDriver<'h>,
}

impl<'h> Ctx<'h> {
    /// A context for `req`; `Err(NoLink)` if the request's link does not carry ZVT.
    pub fn new(
        host: &'h Host,
        check: &'static str,
        req: &pb::CheckRequest,
    ) -> Result<Ctx<'h>, PluginError> {
        let timeout = match req.timeout_ms {
            0 => DEFAULT_TIMEOUT,
            t => Duration::from_millis(u64::from(t)),
        };
        let Some(driver) = EcrDriver::new(host, &req.link_kind, timeout) else {
            host.warn(&format!(
                "{check} needs a serial, usb or tcp link; terminal {} has {:?}",
                req.terminal_id, req.link_kind
            ));
            return Err(TransportError::NoLink.into());
        };
        Ok(Ctx {
            host,
            check,
            subject: format!("terminal {}", req.terminal_id),
            driver,
        })
    }

    /// A finding of this check about this terminal.
    pub fn finding(
        &self,
        verdict: pb::Verdict,
        reason: &str,
        en: String,
        zh: String,
    ) -> pb::Finding {
        finding(self.check, &self.subject, verdict, reason, en, zh)
    }

    /// Adds the driver's evidence (round trip, serial counters, transcript), reports the
    /// phase as finished and wraps the finding.
    pub fn finish(
        &self,
        phase: &str,
        started: std::time::Instant,
        mut finding: pb::Finding,
    ) -> Result<pb::CheckResult, PluginError> {
        self.driver.decorate(&mut finding);
        self.host
            .phase_finished(phase, &self.subject, finding.verdict(), started.elapsed());
        Ok(pb::CheckResult {
            findings: vec![finding],
        })
    }

    /// The finding for an exchange that broke, or `Err` if the host says there is no link.
    pub fn broken(&self, what: &Text, broken: &Broken) -> Result<pb::Finding, PluginError> {
        let no_answer = |detail: Option<String>| {
            let mut f = self.no_answer(what);
            if let Some(d) = detail {
                f.evidence.push(evidence_text("detail", &d));
            }
            f
        };
        Ok(match broken {
            Broken::Deadline | Broken::Transport(TransportError::Timeout) => no_answer(None),
            Broken::Link(LinkFailure::NoAck { .. }) => no_answer(Some(broken.to_string())),
            Broken::Link(LinkFailure::TooManyNaks { .. }) => {
                let mut f = self.finding(
                    pb::Verdict::Critical,
                    "link.naks",
                    format!("the terminal rejected every frame of the {} (NAK)", what.en),
                    format!("终端拒收了{}的每一个数据帧（NAK）", what.zh),
                );
                f.remedies.push(remedy(
                    pb::Actor::Merchant,
                    "Check the serial cable and the baud rate configured for the terminal (ZVT: 9600 8N2), then run the check again.",
                    "请检查串口线缆以及为终端配置的波特率（ZVT：9600 8N2），然后再次运行检查。",
                ));
                f.evidence
                    .push(evidence_text("detail", &broken.to_string()));
                f
            }
            Broken::Transport(TransportError::LinkLost) => {
                let mut f = self.finding(
                    pb::Verdict::Critical,
                    "link.lost",
                    format!("the terminal's link disappeared during the {}", what.en),
                    format!("终端连接在{}过程中消失", what.zh),
                );
                f.remedies.push(remedy(
                    pb::Actor::Merchant,
                    "Reconnect the terminal's cable, USB adapter or network, then run the check again.",
                    "请重新连接终端的线缆、USB 转接器或网络，然后再次运行检查。",
                ));
                f
            }
            Broken::Transport(TransportError::NoLink) => {
                return Err(TransportError::NoLink.into());
            }
            Broken::Garbage(_) => self.protocol(what, &broken.to_string()),
            Broken::Transport(other) => {
                let mut f = self.finding(
                    pb::Verdict::Critical,
                    "link.error",
                    format!("the link to the terminal failed during the {}", what.en),
                    format!("与终端的连接在{}过程中失败", what.zh),
                );
                f.evidence.push(evidence_text("detail", &other.to_string()));
                f
            }
        })
    }

    /// CRITICAL link.no_answer.
    pub fn no_answer(&self, what: &Text) -> pb::Finding {
        let mut f = self.finding(
            pb::Verdict::Critical,
            "link.no_answer",
            format!("the terminal did not answer the {} in time", what.en),
            format!("终端没有在时限内应答{}", what.zh),
        );
        f.remedies.push(remedy(
            pb::Actor::Merchant,
            "Check that the terminal is switched on, its cable or network is connected and it is not busy with a payment.",
            "请确认终端已开机、线缆或网络已连接，且没有正在进行的支付。",
        ));
        f.evidence.push(evidence_number(
            "timeout",
            ms(self
                .driver
                .deadline()
                .saturating_duration_since(self.driver.started())),
            "ms",
        ));
        f
    }

    /// CRITICAL link.protocol: the terminal's answer is not what ZVT allows here.
    pub fn protocol(&self, what: &Text, detail: &str) -> pb::Finding {
        let mut f = self.finding(
            pb::Verdict::Critical,
            "link.protocol",
            format!(
                "the terminal answered the {} with data that is not valid ZVT",
                what.en
            ),
            format!("终端对{}的应答不是有效的 ZVT 数据", what.zh),
        );
        f.evidence
            .push(evidence_text("detail", &terminal_text(detail)));
        f.remedies.push(remedy(
            pb::Actor::Merchant,
            "Check that the port really belongs to a ZVT terminal (not another device or protocol), then run the check again.",
            "请确认该端口确实连接的是 ZVT 终端（而不是其他设备或协议），然后再次运行检查。",
        ));
        f
    }

    /// The finding for a command that ended otherwise than the check expects: refused (NAK),
    /// no answer, or aborted with a result code the check has no judgement for.
    pub fn unexpected_end(&self, what: &Text, outcome: &CommandOutcome) -> pb::Finding {
        match outcome.end {
            CommandEnd::Refused { code: 0x9C } => {
                let mut f = self.finding(
                    pb::Verdict::Warning,
                    "terminal.busy",
                    format!(
                        "the terminal is busy and refused the {} (NAK 9C: please wait)",
                        what.en
                    ),
                    format!("终端正忙，拒绝了{}（NAK 9C：请稍候）", what.zh),
                );
                f.evidence.push(evidence_hex("nak_code", 0x9C));
                f.remedies.push(remedy(
                    pb::Actor::Merchant,
                    "Wait until the terminal has finished what it is doing (payment, update), then run the check again.",
                    "请等待终端完成当前操作（支付、更新），然后再次运行检查。",
                ));
                f
            }
            CommandEnd::Refused { code } => {
                let mut f = self.finding(
                    pb::Verdict::Warning,
                    "link.protocol",
                    format!("the terminal refused the {} (NAK {code:02X})", what.en),
                    format!("终端拒绝了{}（NAK {code:02X}）", what.zh),
                );
                f.evidence.push(evidence_hex("nak_code", code));
                f.remedies.push(remedy(
                    pb::Actor::Merchant,
                    "Check the ZVT password configured for the terminal (setting \"password\") and that the terminal supports this command.",
                    "请检查为终端配置的 ZVT 密码（设置项 \"password\"），并确认终端支持该命令。",
                ));
                f.remedies.push(remedy(
                    pb::Actor::Vendor,
                    "Confirm which ZVT commands this terminal model and software support.",
                    "请确认该终端型号和软件版本支持哪些 ZVT 命令。",
                ));
                f
            }
            CommandEnd::Aborted { result_code } => {
                let m = meaning(&Scheme::ZvtResult, result_code);
                let (verdict, reason) = if result_code == 0x9C {
                    (pb::Verdict::Warning, "terminal.busy")
                } else {
                    (pb::Verdict::Critical, "terminal.not_ready")
                };
                let mut f = self.finding(
                    verdict,
                    reason,
                    format!(
                        "the terminal aborted the {} with result code {result_code:02X} ({})",
                        what.en, m.en
                    ),
                    format!(
                        "终端以结果码 {result_code:02X}（{}）中止了{}",
                        m.zh, what.zh
                    ),
                );
                abort_evidence(&mut f, outcome, result_code);
                f.remedies = kb_remedies(&Scheme::ZvtResult, result_code);
                f
            }
            CommandEnd::NoAck | CommandEnd::TimedOut => self.no_answer(what),
            CommandEnd::Completed => self.protocol(what, "the completion lacks the expected data"),
        }
    }
}

/// The terminal's abort packet of an outcome, if any.
pub fn abort_packet(outcome: &CommandOutcome) -> Option<&AbortFromPt> {
    outcome.packets().find_map(|p| match p {
        Packet::AbortFromPt(a) => Some(a),
        _ => None,
    })
}

/// Evidence of an abort `06 1E`: result code, its meaning (both languages), and the TLV
/// extended error code `1F16` and error text `1F17` when the terminal sent them.
pub fn abort_evidence(f: &mut pb::Finding, outcome: &CommandOutcome, result_code: u8) {
    let m = meaning(&Scheme::ZvtResult, result_code);
    f.evidence.push(evidence_hex("result_code", result_code));
    f.evidence.push(evidence_text("result_meaning", &m.en));
    f.evidence.push(evidence_text("result_meaning_zh", &m.zh));
    if let Some(abort) = abort_packet(outcome) {
        if let Some(ext) = abort.extended_error() {
            f.evidence.push(evidence_text("extended_error", &hex(ext)));
        }
        if let Some(text) = abort.error_text() {
            f.evidence
                .push(evidence_text("error_text", &terminal_text(&text)));
        }
    }
}

/// Whether the outcome holds APDUs that did not decode (what a protocol finding reports).
pub fn malformed_detail(outcome: &CommandOutcome) -> Option<String> {
    outcome.messages.iter().find_map(|m| match m {
        Received::Malformed { apdu, error } => {
            Some(format!("{:02X} {:02X}: {error}", apdu.class, apdu.instr))
        }
        Received::Packet(_) => None,
    })
}
