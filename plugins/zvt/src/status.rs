//! The checks built on a status enquiry `05 01`: `terminal.status` (the terminal status byte),
//! `terminal.software` (the software version against a minimum) and `reader.status` (the
//! status byte judged for the card reader only).
//!
//! The completion of a status enquiry carries the software version (LLLVAR), the terminal
//! status byte and a TLV container with the terminal id (`1F44`) and device information
//! (`E4`: name `1F40`, version `1F41`, serial `1F42`).

use std::cmp::Ordering;
use std::time::Instant;

use posdiag_codes::Scheme;
use posdiag_core::Text;
use posdiag_core::zvt::packets::{Completion, StatusEnquiry};
use posdiag_core::zvt::{CommandEnd, CommandOutcome, Packet};
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{Host, PluginError, evidence_text, remedy};
use posdiag_zvt_driver::CommandOptions;

use crate::common::{Ctx, evidence_hex, kb_remedies, malformed_detail, meaning, terminal_text};
use crate::version;

/// Check id: the terminal status byte.
pub const TERMINAL_STATUS: &str = "terminal.status";
/// Check id: the software version against `args["min_version"]`.
pub const TERMINAL_SOFTWARE: &str = "terminal.software";
/// Check id: the card reader as the status byte reports it.
pub const READER_STATUS: &str = "reader.status";

const PHASE: &str = "status_enquiry";
/// What the command is called in findings.
fn what() -> Text {
    Text::new("status enquiry", "状态查询")
}

/// What a status enquiry's completion says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusReport {
    /// The terminal status byte.
    pub status: Option<u8>,
    /// The software version text (completion, else TLV `1F41`).
    pub software_version: Option<String>,
    /// Terminal id (BMP `29` or TLV `1F44`).
    pub terminal_id: Option<String>,
    /// Device name, TLV `1F40`.
    pub device_name: Option<String>,
    /// Serial number as hex digits, TLV `1F42`.
    pub device_serial: Option<String>,
}

impl StatusReport {
    fn from_completion(c: &Completion) -> StatusReport {
        let info = c.device_info().unwrap_or_default();
        StatusReport {
            status: c.status(),
            software_version: c
                .software_version_text()
                .or(info.software_version)
                .map(|v| terminal_text(&v)),
            terminal_id: c.terminal_id().or(info.terminal_id),
            device_name: info.name.map(|n| terminal_text(&n)),
            device_serial: info.serial,
        }
    }

    /// The identity evidence every status finding carries.
    fn evidence(&self, f: &mut pb::Finding) {
        if let Some(s) = self.status {
            let m = meaning(&Scheme::ZvtTerminalStatus, s);
            f.evidence.push(evidence_hex("terminal_status", s));
            f.evidence
                .push(evidence_text("terminal_status_meaning", &m.en));
            f.evidence
                .push(evidence_text("terminal_status_meaning_zh", &m.zh));
        }
        for (name, value) in [
            ("software_version", &self.software_version),
            ("terminal_id", &self.terminal_id),
            ("device_name", &self.device_name),
            ("device_serial", &self.device_serial),
        ] {
            if let Some(v) = value {
                f.evidence.push(evidence_text(name, v));
            }
        }
    }
}

/// How a status enquiry went.
#[derive(Debug)]
enum Enquiry {
    /// It completed with a status byte.
    Report(StatusReport),
    /// It did not; the finding says why.
    Failed(pb::Finding),
}

/// Runs a status enquiry; `Ok(Enquiry::Failed(_))` when it did not complete (no answer, lost
/// link, NAK, abort, garbage).
fn enquire(ctx: &mut Ctx<'_>, password: [u8; 3]) -> Result<Enquiry, PluginError> {
    let command = Packet::StatusEnquiry(StatusEnquiry::new(password))
        .to_apdu()
        .map_err(|e| PluginError::failed(format!("encoding the status enquiry: {e}")))?;
    let options = CommandOptions {
        session: ctx.driver.session_config(),
        abort_at: None,
    };
    let outcome = match ctx.driver.run(&command, options, &mut |_| {}) {
        Ok(o) => o,
        Err(broken) => return Ok(Enquiry::Failed(ctx.broken(&what(), &broken)?)),
    };
    Ok(report(ctx, &outcome))
}

fn report(ctx: &Ctx<'_>, outcome: &CommandOutcome) -> Enquiry {
    if outcome.end != CommandEnd::Completed {
        return Enquiry::Failed(ctx.unexpected_end(&what(), outcome));
    }
    let completion = outcome.packets().find_map(|p| match p {
        Packet::Completion(c) => Some(c),
        _ => None,
    });
    match completion {
        Some(c) if c.status().is_some() => Enquiry::Report(StatusReport::from_completion(c)),
        _ => {
            let detail = malformed_detail(outcome)
                .unwrap_or_else(|| "the completion has no terminal status byte".to_owned());
            Enquiry::Failed(ctx.protocol(&what(), &detail))
        }
    }
}

/// How `terminal.status` judges a status byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Ready,
    NotReady,
    Attention,
    Busy,
    Unknown,
}

fn classify(status: u8) -> Class {
    match status {
        0x00 => Class::Ready,
        0x51 | 0xE4 | 0xDF | 0x62 | 0xC2 => Class::NotReady,
        0xB1 | 0xCC | 0xF0 | 0xE1 | 0xDC => Class::Attention,
        0x9C | 0xE0 => Class::Busy,
        _ => Class::Unknown,
    }
}

/// Concrete steps for the statuses the checks judge, who does them first. Other codes get
/// the code table's remedies.
fn status_remedies(status: u8) -> Vec<pb::Remedy> {
    use pb::Actor::{Acquirer, Cardholder, Merchant, Vendor};
    let steps: &[(pb::Actor, &str, &str)] = match status {
        0x51 => &[
            (
                Merchant,
                "Run the initialisation from the terminal's menu (usually Administration / Service → Initialisation); it needs the host connection.",
                "在终端菜单中执行初始化（通常在“管理/服务 → 初始化”中）；初始化需要连接支付主机。",
            ),
            (
                Acquirer,
                "If the initialisation fails, call the acquirer's or network operator's hotline with the terminal id so they enable it.",
                "如果初始化失败，请携终端号致电收单机构或网络运营商的热线，请其开通终端。",
            ),
        ],
        0xE4 => &[
            (
                Merchant,
                "Start the activation from the terminal's menu, or call the network operator's hotline with the terminal id.",
                "在终端菜单中启动激活，或携终端号致电网络运营商热线。",
            ),
            (
                Acquirer,
                "Activate the terminal id in the host system.",
                "在主机系统中激活该终端号。",
            ),
        ],
        0xDF => &[
            (
                Merchant,
                "Restart the terminal (switch it off for 10 seconds). If it stays out of order, stop using it for payments.",
                "重启终端（断电 10 秒）。如果仍然停用，请不要再用它收款。",
            ),
            (
                Vendor,
                "Repair or replace the terminal.",
                "维修或更换终端。",
            ),
        ],
        0x62 => &[
            (
                Merchant,
                "Run a diagnosis or an initialisation so the terminal takes the time from the host, or set date and time in its menu.",
                "执行诊断或初始化，让终端从主机同步时间，或在菜单中设置日期和时间。",
            ),
            (
                Vendor,
                "If the time is wrong again after every restart, replace the clock battery.",
                "如果每次重启后时间又不正确，请更换时钟电池。",
            ),
        ],
        0xC2 => &[(
            Merchant,
            "Run a diagnosis (the check host.terminal_diagnosis or the terminal's menu) so the terminal updates its configuration.",
            "执行诊断（检查项 host.terminal_diagnosis 或终端菜单），让终端更新配置。",
        )],
        0xB1 => &[
            (
                Merchant,
                "Run end of day (reconciliation) so the terminal sends and clears its stored transactions.",
                "执行日终结算，让终端上送并清除已存储的交易。",
            ),
            (
                Vendor,
                "If the memory stays full after end of day, check the terminal's storage.",
                "如果日终结算后存储仍然已满，请检查终端存储。",
            ),
        ],
        0xCC => &[(
            Merchant,
            "Load receipt paper, clear any paper jam and close the printer cover.",
            "装入收据纸，清除卡纸并关好打印机盖。",
        )],
        0xF0 => &[(
            Merchant,
            "Run end of day (reconciliation) from the cash register or the terminal's menu.",
            "在收银机或终端菜单中执行日终结算。",
        )],
        0xE1 => &[
            (
                Cardholder,
                "Pull the card completely out of the slot.",
                "将卡片从卡槽中完全取出。",
            ),
            (
                Merchant,
                "If no card is in the slot, restart the terminal; if the message stays, have the card reader checked.",
                "如果卡槽中没有卡片，请重启终端；如果提示仍在，请检修读卡器。",
            ),
        ],
        0xDC => &[
            (
                Cardholder,
                "Remove the card from the reader.",
                "从读卡器中取出卡片。",
            ),
            (
                Merchant,
                "If no card is in the reader, restart the terminal; if the message stays, have the card reader checked.",
                "如果读卡器中没有卡片，请重启终端；如果提示仍在，请检修读卡器。",
            ),
        ],
        0x9C => &[(
            Merchant,
            "Wait until the terminal has finished (e.g. a software update) and do not switch it off; run the check again in a few minutes.",
            "请等待终端完成当前操作（如软件更新），不要断电；几分钟后再次运行检查。",
        )],
        0xE0 => &[(
            Merchant,
            "Wait until the remote maintenance has ended and do not switch the terminal off; if it lasts more than an hour, call the network operator.",
            "请等待远程维护结束，不要关闭终端；如果超过一小时，请联系网络运营商。",
        )],
        0xE2 | 0xC0 => &[
            (
                Merchant,
                "Restart the terminal; if the card reader still does not work, stop taking cards on it.",
                "重启终端；如果读卡器仍不工作，请停止用它读卡。",
            ),
            (
                Vendor,
                "Repair or replace the card reader.",
                "维修或更换读卡器。",
            ),
        ],
        0xE3 => &[(
            Merchant,
            "Open the card slot's shutter (or restart the terminal, which opens it).",
            "打开读卡口挡板（或重启终端使其打开）。",
        )],
        _ => &[],
    };
    if steps.is_empty() {
        let from_kb = kb_remedies(&Scheme::ZvtTerminalStatus, status);
        if !from_kb.is_empty() {
            return from_kb;
        }
        return vec![remedy(
            Merchant,
            "Look at the terminal's display and follow what it asks; restart it if it shows an error.",
            "请查看终端屏幕并按提示操作；如果显示错误，请重启终端。",
        )];
    }
    steps
        .iter()
        .map(|&(actor, en, zh)| remedy(actor, en, zh))
        .collect()
}

/// Starts the phase and runs the enquiry.
fn begin<'h>(
    host: &'h Host,
    check: &'static str,
    req: &pb::CheckRequest,
    password: [u8; 3],
) -> Result<(Ctx<'h>, Instant, Enquiry), PluginError> {
    let mut ctx = Ctx::new(host, check, req)?;
    let started = Instant::now();
    host.phase_started(PHASE, &ctx.subject);
    let report = enquire(&mut ctx, password)?;
    Ok((ctx, started, report))
}

/// `terminal.status`.
pub fn terminal_status(
    host: &Host,
    req: &pb::CheckRequest,
    password: [u8; 3],
) -> Result<pb::CheckResult, PluginError> {
    let (ctx, started, report) = begin(host, TERMINAL_STATUS, req, password)?;
    let finding = match report {
        Enquiry::Failed(f) => f,
        Enquiry::Report(report) => judge_terminal(&ctx, &report),
    };
    ctx.finish(PHASE, started, finding)
}

/// The `terminal.status` finding for a completed status enquiry.
fn judge_terminal(ctx: &Ctx<'_>, report: &StatusReport) -> pb::Finding {
    // `report` always has a status byte (see `report`); 0xFF stands in defensively.
    let s = report.status.unwrap_or(0xFF);
    let m = meaning(&Scheme::ZvtTerminalStatus, s);
    let (verdict, reason, en, zh) = match classify(s) {
        Class::Ready => (
            pb::Verdict::Ok,
            "ok",
            format!("the terminal is ready (status {s:02X}: {})", m.en),
            format!("终端已就绪（状态 {s:02X}：{}）", m.zh),
        ),
        Class::NotReady => (
            pb::Verdict::Critical,
            "terminal.not_ready",
            format!(
                "the terminal cannot take payments: status {s:02X} ({})",
                m.en
            ),
            format!("终端无法进行支付：状态 {s:02X}（{}）", m.zh),
        ),
        Class::Attention => (
            pb::Verdict::Warning,
            "terminal.attention",
            format!("the terminal needs attention: status {s:02X} ({})", m.en),
            format!("终端需要处理：状态 {s:02X}（{}）", m.zh),
        ),
        Class::Busy => (
            pb::Verdict::Warning,
            "terminal.busy",
            format!("the terminal is busy: status {s:02X} ({})", m.en),
            format!("终端正忙：状态 {s:02X}（{}）", m.zh),
        ),
        Class::Unknown => (
            pb::Verdict::Warning,
            "terminal.attention",
            format!(
                "the terminal reports status {s:02X} ({}), which is not \"ready\"",
                m.en
            ),
            format!("终端报告状态 {s:02X}（{}），不是“就绪”", m.zh),
        ),
    };
    let mut f = ctx.finding(verdict, reason, en, zh);
    if verdict != pb::Verdict::Ok {
        f.remedies = status_remedies(s);
    }
    report.evidence(&mut f);
    f
}

/// `terminal.software`: `args["min_version"]` is the minimum (see [`crate::version`]).
pub fn terminal_software(
    host: &Host,
    req: &pb::CheckRequest,
    password: [u8; 3],
) -> Result<pb::CheckResult, PluginError> {
    let minimum = req
        .args
        .get("min_version")
        .map(|m| m.trim())
        .filter(|m| !m.is_empty());
    if let Some(m) = minimum
        && version::numeric_parts(m).is_empty()
    {
        return Err(PluginError::invalid(format!(
            "args.min_version: {m:?} has no numeric part; give e.g. \"2.0.9\""
        )));
    }
    let (ctx, started, report) = begin(host, TERMINAL_SOFTWARE, req, password)?;
    let finding = match report {
        Enquiry::Failed(f) => f,
        Enquiry::Report(report) => judge_software(&ctx, &report, minimum),
    };
    ctx.finish(PHASE, started, finding)
}

fn judge_software(ctx: &Ctx<'_>, report: &StatusReport, minimum: Option<&str>) -> pb::Finding {
    let Some(v) = report.software_version.as_deref() else {
        let mut f = ctx.finding(
            pb::Verdict::Warning,
            "link.protocol",
            "the terminal did not report a software version".into(),
            "终端没有报告软件版本".into(),
        );
        report.evidence(&mut f);
        return f;
    };
    let mut f = match minimum.map(|m| (m, version::compare(v, m))) {
        None => ctx.finding(
            pb::Verdict::Ok,
            "ok",
            format!("the terminal runs software {v} (no minimum version configured)"),
            format!("终端运行软件版本 {v}（未配置最低版本）"),
        ),
        Some((m, Some(Ordering::Less))) => {
            let mut f = ctx.finding(
                pb::Verdict::Warning,
                "terminal.software_outdated",
                format!("the terminal's software {v} is older than the required {m}"),
                format!("终端软件版本 {v} 低于要求的 {m}"),
            );
            f.remedies = vec![
                remedy(
                    pb::Actor::Merchant,
                    "Start a software update from the terminal's menu (or let the next remote maintenance run overnight with the terminal switched on).",
                    "在终端菜单中启动软件更新（或让终端夜间保持开机，以便下一次远程维护完成更新）。",
                ),
                remedy(
                    pb::Actor::Vendor,
                    &format!("Provide and roll out software {m} or newer for this terminal."),
                    &format!("为该终端提供并推送 {m} 或更新的软件版本。"),
                ),
            ];
            f
        }
        Some((m, Some(_))) => ctx.finding(
            pb::Verdict::Ok,
            "ok",
            format!("the terminal's software {v} meets the required {m}"),
            format!("终端软件版本 {v} 满足要求的 {m}"),
        ),
        Some((m, None)) => ctx.finding(
            pb::Verdict::Unknown,
            &format!("vendor.{}.version_not_comparable", crate::PLUGIN_ID),
            format!("the terminal's software version {v:?} has no number to compare with {m}"),
            format!("终端软件版本 {v:?} 中没有可与 {m} 比较的数字"),
        ),
    };
    if let Some(m) = minimum {
        f.evidence.push(evidence_text("min_version", m));
    }
    report.evidence(&mut f);
    f
}

/// `reader.status`: the status byte judged for card-reader faults only.
pub fn reader_status(
    host: &Host,
    req: &pb::CheckRequest,
    password: [u8; 3],
) -> Result<pb::CheckResult, PluginError> {
    let (ctx, started, report) = begin(host, READER_STATUS, req, password)?;
    let finding = match report {
        Enquiry::Failed(f) => f,
        Enquiry::Report(report) => judge_reader(&ctx, &report),
    };
    ctx.finish(PHASE, started, finding)
}

fn judge_reader(ctx: &Ctx<'_>, report: &StatusReport) -> pb::Finding {
    let s = report.status.unwrap_or(0xFF);
    let m = meaning(&Scheme::ZvtTerminalStatus, s);
    let judged = match s {
        0xE2 | 0xC0 => Some((
            pb::Verdict::Critical,
            "reader.defective",
            format!("the card reader is defective: status {s:02X} ({})", m.en),
            format!("读卡器故障：状态 {s:02X}（{}）", m.zh),
        )),
        0xE3 => Some((
            pb::Verdict::Warning,
            "terminal.attention",
            format!(
                "the card reader's shutter is closed: status {s:02X} ({})",
                m.en
            ),
            format!("读卡口挡板已关闭：状态 {s:02X}（{}）", m.zh),
        )),
        0xE1 | 0xDC => Some((
            pb::Verdict::Warning,
            "terminal.attention",
            format!("a card is still in the reader: status {s:02X} ({})", m.en),
            format!("读卡器中仍有卡片：状态 {s:02X}（{}）", m.zh),
        )),
        _ => None,
    };
    let mut f = match judged {
        Some((verdict, reason, en, zh)) => {
            let mut f = ctx.finding(verdict, reason, en, zh);
            f.remedies = status_remedies(s);
            f
        }
        None => ctx.finding(
            pb::Verdict::Ok,
            "ok",
            format!(
                "no reader fault reported (terminal status {s:02X}: {})",
                m.en
            ),
            format!("未报告读卡器故障（终端状态 {s:02X}：{}）", m.zh),
        ),
    };
    report.evidence(&mut f);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_status_has_a_class_and_steps() {
        for s in [0x51, 0xE4, 0xDF, 0x62, 0xC2] {
            assert_eq!(classify(s), Class::NotReady, "{s:02X}");
        }
        for s in [0xB1, 0xCC, 0xF0, 0xE1, 0xDC] {
            assert_eq!(classify(s), Class::Attention, "{s:02X}");
        }
        for s in [0x9C, 0xE0] {
            assert_eq!(classify(s), Class::Busy, "{s:02X}");
        }
        assert_eq!(classify(0x00), Class::Ready);
        assert_eq!(classify(0x42), Class::Unknown);
        for s in [
            0x51, 0xE4, 0xDF, 0x62, 0xC2, 0xB1, 0xCC, 0xF0, 0xE1, 0xDC, 0x9C, 0xE0, 0xE2, 0xC0,
            0xE3, 0x42,
        ] {
            let r = status_remedies(s);
            assert!(!r.is_empty(), "{s:02X}");
            assert!(
                r.iter()
                    .all(|r| !r.text_en.is_empty() && !r.text_zh.is_empty()),
                "{s:02X}"
            );
        }
    }
}
