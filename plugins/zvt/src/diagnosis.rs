//! `host.terminal_diagnosis`: a line diagnosis `06 70` (TLV `1B` = 1) makes the terminal
//! contact its payment host, the closest ZVT has to a host-connectivity test. Intermediate
//! statuses `04 FF` on the way ("connecting", "connection made") become progress events; the
//! completion `06 0F` means the host answered, an abort `06 1E` says why not. What the
//! terminal prints through the ECR meanwhile is read for EMV data ([`crate::printout`]).

use std::time::Instant;

use posdiag_codes::Scheme;
use posdiag_core::Text;
use posdiag_core::zvt::packets::Diagnosis;
use posdiag_core::zvt::{CommandEnd, CommandOutcome, Packet};
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{Host, PluginError, evidence_text, remedy};
use posdiag_zvt_driver::CommandOptions;

use crate::common::{Ctx, abort_evidence, kb_remedies, meaning};
use crate::printout::Printout;

/// Check id.
pub const CHECK_ID: &str = "host.terminal_diagnosis";

const PHASE: &str = "host_diagnosis";
/// What the command is called in findings.
fn what() -> Text {
    Text::new("host diagnosis", "主机诊断")
}

/// Diagnosis type 1: line diagnosis (2 extended, 3 configuration, 4 EMV, 5 ep2).
const LINE_DIAGNOSIS: u8 = 1;

/// Result codes that mean the terminal could not reach the host at all: 7D communication
/// error, 9B dial-up / communication fault, A0 receiver not ready, A1 remote station does not
/// respond, A3 no connection.
const UNREACHABLE: [u8; 5] = [0x7D, 0x9B, 0xA0, 0xA1, 0xA3];

/// Intermediate statuses kept as evidence (a terminal could send many).
const MAX_STATUSES: usize = 16;

/// Runs the check.
pub fn run(
    host: &Host,
    req: &pb::CheckRequest,
    _password: [u8; 3],
) -> Result<pb::CheckResult, PluginError> {
    let mut ctx = Ctx::new(host, CHECK_ID, req)?;
    let started = Instant::now();
    host.phase_started(PHASE, &ctx.subject);
    let command = Packet::Diagnosis(Diagnosis::new(LINE_DIAGNOSIS))
        .to_apdu()
        .map_err(|e| PluginError::failed(format!("encoding the diagnosis: {e}")))?;
    let options = CommandOptions {
        session: ctx.driver.session_config(),
        abort_at: None,
    };
    let subject = ctx.subject.clone();
    let mut statuses: Vec<String> = Vec::new();
    let mut printout = Printout::default();
    let mut watch = |p: &Packet| {
        printout.watch(p);
        if let Packet::IntermediateStatus(s) = p {
            let m = meaning(&Scheme::ZvtIntermediate, s.status);
            host.phase_started(
                &format!("terminal status {:02X}: {}", s.status, m.en),
                &subject,
            );
            if statuses.len() < MAX_STATUSES {
                statuses.push(format!("{:02X} {}", s.status, m.en));
            }
        }
    };
    let result = ctx.driver.run(&command, options, &mut watch);
    let mut finding = match result {
        Ok(outcome) => judge(&ctx, &outcome),
        Err(broken) => ctx.broken(&what(), &broken)?,
    };
    if !statuses.is_empty() {
        finding
            .evidence
            .push(evidence_text("intermediate_statuses", &statuses.join("; ")));
    }
    printout.annotate(&mut finding);
    ctx.finish(PHASE, started, finding)
}

fn judge(ctx: &Ctx<'_>, outcome: &CommandOutcome) -> pb::Finding {
    match outcome.end {
        CommandEnd::Completed => ctx.finding(
            pb::Verdict::Ok,
            "ok",
            "the terminal reached its payment host (line diagnosis completed)".into(),
            "终端已连通其支付主机（线路诊断完成）".into(),
        ),
        // 9C (please wait): the terminal is busy (a maintenance, an update, a
        // payment) and never contacted its host; the host is not to blame.
        CommandEnd::Aborted { result_code: 0x9C } => ctx.unexpected_end(&what(), outcome),
        CommandEnd::Aborted { result_code } => {
            let m = meaning(&Scheme::ZvtResult, result_code);
            let mut f = if UNREACHABLE.contains(&result_code) {
                let mut f = ctx.finding(
                    pb::Verdict::Critical,
                    "host.unreachable",
                    format!(
                        "the terminal cannot reach its payment host: result {result_code:02X} ({})",
                        m.en
                    ),
                    format!(
                        "终端无法连接其支付主机：结果码 {result_code:02X}（{}）",
                        m.zh
                    ),
                );
                f.remedies = vec![
                    remedy(
                        pb::Actor::Merchant,
                        "Check the terminal's network: cable and router (LAN), Wi-Fi, SIM card and signal (mobile) or phone line (dial-up); restart the router and the terminal.",
                        "检查终端的网络：网线和路由器（有线）、Wi-Fi、SIM 卡和信号（移动网络）或电话线（拨号）；重启路由器和终端。",
                    ),
                    remedy(
                        pb::Actor::Merchant,
                        "If the shop's firewall filters outgoing traffic, let the terminal reach the host address and port of its network operator.",
                        "如果店内防火墙过滤出站流量，请放行终端访问其网络运营商主机的地址和端口。",
                    ),
                    remedy(
                        pb::Actor::Acquirer,
                        "If the network works, ask the network operator whether its host is down or the terminal's host address is outdated.",
                        "如果网络正常，请向网络运营商确认其主机是否故障或终端的主机地址是否已过期。",
                    ),
                ];
                f
            } else {
                let mut f = ctx.finding(
                    pb::Verdict::Critical,
                    "host.error",
                    format!(
                        "the diagnosis with the payment host failed: result {result_code:02X} ({})",
                        m.en
                    ),
                    format!("与支付主机的诊断失败：结果码 {result_code:02X}（{}）", m.zh),
                );
                f.remedies = kb_remedies(&Scheme::ZvtResult, result_code);
                if f.remedies.is_empty() {
                    f.remedies.push(remedy(
                        pb::Actor::Acquirer,
                        "Give the result code and the terminal id to the network operator's hotline.",
                        "请将结果码和终端号提供给网络运营商热线。",
                    ));
                }
                f
            };
            abort_evidence(&mut f, outcome, result_code);
            f
        }
        _ => ctx.unexpected_end(&what(), outcome),
    }
}
