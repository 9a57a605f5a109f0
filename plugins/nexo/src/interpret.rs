//! Turns a terminal's DiagnosisResponse into findings: one per subject (the terminal, each
//! component flag it reports, its printer, each acquirer host), so that monitoring can follow
//! each one's state, plus warnings for a low battery and unsent batches.

use posdiag_codes::{KnowledgeBase, Scheme};
use posdiag_core::nexo::{
    AdditionalResponse, DiagnosisResponse, ErrorCondition, GlobalStatus, POIStatus, PrinterStatus,
    Response, ResultCode, SaleToPOIResponse,
};
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{evidence_flag, evidence_number, evidence_text, finding, remedy};

use crate::PLUGIN_ID;
use crate::diagnosis::CHECK_ID;

/// What the interpretation needs besides the response.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The terminal's subject, e.g. `terminal T1`.
    pub subject: String,
    /// A battery below this percentage is a warning.
    pub min_battery: u8,
    /// More unconfirmed batches than this are a warning.
    pub max_unconfirmed: u32,
}

pub(crate) fn pb_actor(actor: posdiag_core::Actor) -> pb::Actor {
    match actor {
        posdiag_core::Actor::Merchant => pb::Actor::Merchant,
        posdiag_core::Actor::Cardholder => pb::Actor::Cardholder,
        posdiag_core::Actor::Acquirer => pb::Actor::Acquirer,
        posdiag_core::Actor::Issuer => pb::Actor::Issuer,
        posdiag_core::Actor::Vendor => pb::Actor::Vendor,
    }
}

/// Findings for a parsed response.
pub fn response_findings(limits: &Limits, response: &SaleToPOIResponse) -> Vec<pb::Finding> {
    let subject = limits.subject.as_str();
    let poi_id = response.header.poi_id.as_str();
    let Some(outcome) = response.response() else {
        let mut f = finding(
            CHECK_ID,
            subject,
            pb::Verdict::Critical,
            "link.protocol",
            format!(
                "the terminal answered with {} and no Response instead of a DiagnosisResponse",
                response.body.name()
            ),
            format!(
                "终端应答了 {}（没有 Response），而不是 DiagnosisResponse",
                response.body.name()
            ),
        );
        f.evidence.push(evidence_text("body", response.body.name()));
        return vec![f];
    };
    let additional = outcome.additional();
    let mut findings = Vec::new();
    let diagnosis = match &response.body {
        posdiag_core::nexo::ResponseBody::Diagnosis(d) => Some(d),
        posdiag_core::nexo::ResponseBody::Other { .. } => None,
    };
    let status = diagnosis.and_then(|d| d.poi_status.as_ref());
    let mut terminal = if outcome.result == ResultCode::Failure {
        failure_finding(subject, &outcome, &additional)
    } else {
        match status {
            Some(s) => global_finding(subject, &s.global_status),
            None => finding(
                CHECK_ID,
                subject,
                pb::Verdict::Ok,
                "ok",
                "the terminal answered the diagnosis without a POIStatus",
                "终端应答了诊断请求，但没有报告 POIStatus",
            ),
        }
    };
    terminal
        .evidence
        .push(evidence_text("result", outcome.result.as_str()));
    if let Some(s) = status {
        terminal
            .evidence
            .push(evidence_text("global_status", s.global_status.as_str()));
    }
    if !poi_id.is_empty() {
        terminal.evidence.push(evidence_text("poi_id", poi_id));
    }
    terminal.evidence.extend(additional_evidence(&additional));
    findings.push(terminal);
    if let Some(s) = status {
        findings.extend(component_findings(subject, s));
        if let Some(p) = &s.printer_status {
            findings.push(printer_finding(subject, p));
        }
    }
    if let Some(d) = diagnosis {
        findings.extend(host_findings(d));
    }
    findings.extend(health_findings(limits, &additional));
    findings
}

fn global_finding(subject: &str, status: &GlobalStatus) -> pb::Finding {
    match status {
        GlobalStatus::Ok => finding(
            CHECK_ID,
            subject,
            pb::Verdict::Ok,
            "ok",
            "the terminal reports GlobalStatus OK",
            "终端报告总体状态正常（GlobalStatus OK）",
        ),
        GlobalStatus::Busy | GlobalStatus::Maintenance => {
            let busy = *status == GlobalStatus::Busy;
            let mut f = finding(
                CHECK_ID,
                subject,
                pb::Verdict::Warning,
                "terminal.busy",
                format!(
                    "the terminal reports GlobalStatus {status}: {}",
                    if busy {
                        "it is busy with another request"
                    } else {
                        "it is in maintenance (updating or downloading)"
                    }
                ),
                format!(
                    "终端报告总体状态 {status}：{}",
                    if busy {
                        "正在处理其他请求"
                    } else {
                        "正在维护（更新或下载中）"
                    }
                ),
            );
            f.remedies.push(remedy(
                pb::Actor::Merchant,
                "Wait until the terminal finishes (do not switch it off during an update), then run the check again.",
                "请等待终端完成当前操作（更新期间请勿关机），然后再次运行检查。",
            ));
            f
        }
        GlobalStatus::Unreachable => {
            let mut f = finding(
                CHECK_ID,
                subject,
                pb::Verdict::Critical,
                "poi.status",
                "the terminal reports GlobalStatus Unreachable: it cannot take payments",
                "终端报告总体状态 Unreachable：无法进行交易",
            );
            f.remedies.push(remedy(
                pb::Actor::Merchant,
                "Restart the terminal and check its network connection.",
                "请重启终端并检查其网络连接。",
            ));
            f
        }
        GlobalStatus::Other(text) => finding(
            CHECK_ID,
            subject,
            pb::Verdict::Warning,
            "poi.status",
            format!("the terminal reports an unknown GlobalStatus {text:?}"),
            format!("终端报告了未知的总体状态 {text:?}"),
        ),
    }
}

/// One component flag of POIStatus: (flag name, subject suffix, name en, name zh, remedy en,
/// remedy zh, who acts).
type Component = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    pb::Actor,
);

const COMPONENTS: [Component; 4] = [
    (
        "CardReaderOKFlag",
        "card reader",
        "card reader",
        "读卡器",
        "Restart the terminal; if the card reader still fails, have the vendor repair or replace the terminal.",
        "请重启终端；如读卡器仍然故障，请联系厂商维修或更换终端。",
        pb::Actor::Vendor,
    ),
    (
        "PEDOKFlag",
        "PIN pad",
        "PIN entry device",
        "密码键盘",
        "Restart the terminal; if the PIN entry device still fails, have the vendor repair or replace the terminal.",
        "请重启终端；如密码键盘仍然故障，请联系厂商维修或更换终端。",
        pb::Actor::Vendor,
    ),
    (
        "SecurityOKFlag",
        "security",
        "security module",
        "安全模块",
        "Take the terminal out of service (it may have been tampered with) and contact the vendor.",
        "请停用该终端（可能已被篡改）并联系厂商。",
        pb::Actor::Vendor,
    ),
    (
        "CommunicationOKFlag",
        "communication",
        "communication module",
        "通信模块",
        "Check the terminal's network: cable or Wi-Fi, router, and that the firewall lets it reach the payment host.",
        "请检查终端网络：网线或 Wi-Fi、路由器，以及防火墙是否允许其访问支付主机。",
        pb::Actor::Merchant,
    ),
];

fn component_findings(subject: &str, status: &POIStatus) -> Vec<pb::Finding> {
    let flags = [
        status.card_reader_ok,
        status.ped_ok,
        status.security_ok,
        status.communication_ok,
    ];
    COMPONENTS
        .iter()
        .zip(flags)
        .filter_map(|(c, flag)| Some((c, flag?)))
        .map(
            |(&(flag_name, suffix, en, zh, fix_en, fix_zh, actor), ok)| {
                let sub = format!("{subject} {suffix}");
                let mut f = if ok {
                    finding(
                        CHECK_ID,
                        &sub,
                        pb::Verdict::Ok,
                        "ok",
                        format!("the terminal reports its {en} OK ({flag_name} true)"),
                        format!("终端报告{zh}正常（{flag_name} 为 true）"),
                    )
                } else {
                    let mut f = finding(
                        CHECK_ID,
                        &sub,
                        pb::Verdict::Critical,
                        "poi.component",
                        format!("the terminal reports its {en} not OK ({flag_name} false)"),
                        format!("终端报告{zh}故障（{flag_name} 为 false）"),
                    );
                    f.remedies.push(remedy(actor, fix_en, fix_zh));
                    f
                };
                f.evidence.push(evidence_flag(flag_name, ok));
                f
            },
        )
        .collect()
}

fn printer_finding(subject: &str, printer: &PrinterStatus) -> pb::Finding {
    let sub = format!("{subject} printer");
    let (verdict, en, zh, fix_en, fix_zh) = match printer {
        PrinterStatus::Ok => (
            pb::Verdict::Ok,
            "the receipt printer is OK",
            "收据打印机正常",
            "",
            "",
        ),
        PrinterStatus::PaperLow => (
            pb::Verdict::Warning,
            "the receipt printer is running out of paper",
            "收据打印机纸张即将用完",
            "Put a new paper roll ready and replace it soon.",
            "请准备新纸卷并尽快更换。",
        ),
        PrinterStatus::NoPaper => (
            pb::Verdict::Critical,
            "the receipt printer has no paper",
            "收据打印机缺纸",
            "Insert a new paper roll.",
            "请装入新纸卷。",
        ),
        PrinterStatus::PaperJam => (
            pb::Verdict::Critical,
            "the receipt printer has a paper jam",
            "收据打印机卡纸",
            "Open the printer cover, remove the jammed paper and close it again.",
            "请打开打印机盖，取出卡住的纸张后重新盖好。",
        ),
        PrinterStatus::OutOfOrder => (
            pb::Verdict::Critical,
            "the receipt printer is out of order",
            "收据打印机故障",
            "Restart the terminal; if the printer still fails, have the vendor repair it.",
            "请重启终端；如打印机仍然故障，请联系厂商维修。",
        ),
        PrinterStatus::Other(_) => (
            pb::Verdict::Warning,
            "the receipt printer reports an unknown status",
            "收据打印机报告了未知状态",
            "Look at the terminal's display for a printer message.",
            "请查看终端屏幕上的打印机提示。",
        ),
    };
    let reason = if verdict == pb::Verdict::Ok {
        "ok"
    } else {
        "printer.fault"
    };
    let mut f = finding(
        CHECK_ID,
        &sub,
        verdict,
        reason,
        format!("{en} (PrinterStatus {printer})"),
        format!("{zh}（PrinterStatus {printer}）"),
    );
    if !fix_en.is_empty() {
        f.remedies.push(remedy(pb::Actor::Merchant, fix_en, fix_zh));
    }
    f.evidence
        .push(evidence_text("printer_status", printer.as_str()));
    f
}

fn host_findings(d: &DiagnosisResponse) -> Vec<pb::Finding> {
    d.host_status
        .iter()
        .map(|h| {
            let sub = format!("acquirer {}", h.acquirer_id);
            let mut f = if h.is_reachable {
                finding(CHECK_ID, &sub, pb::Verdict::Ok, "ok", format!("the terminal reaches acquirer host {}", h.acquirer_id), format!("终端可以连接收单主机 {}", h.acquirer_id))
            } else {
                let mut f = finding(CHECK_ID, &sub, pb::Verdict::Critical, "host.unreachable", format!(
                        "the terminal cannot reach acquirer host {} (IsReachableFlag false)",
                        h.acquirer_id
                    ), format!(
                        "终端无法连接收单主机 {}（IsReachableFlag 为 false）",
                        h.acquirer_id
                    ));
                f.remedies.push(remedy(
                    pb::Actor::Merchant,
                    "Check the terminal's internet access (router, firewall, proxy) to the payment host.",
                    "请检查终端到支付主机的互联网访问（路由器、防火墙、代理）。",
                ));
                f.remedies.push(remedy(
                    pb::Actor::Acquirer,
                    "Check whether the acquirer host is up and accepts this terminal.",
                    "请确认收单主机是否正常运行并接受该终端。",
                ));
                f
            };
            f.evidence.push(evidence_text("acquirer_id", &h.acquirer_id));
            f.evidence.push(evidence_flag("reachable", h.is_reachable));
            f
        })
        .collect()
}

/// The terminal's vendor health data as evidence.
pub fn additional_evidence(a: &AdditionalResponse) -> Vec<pb::Evidence> {
    let mut out = Vec::new();
    if let Some(level) = a.battery_level() {
        out.push(evidence_number(
            "battery_level",
            f64::from(level),
            "percent",
        ));
    }
    if let Some(v) = a.firmware_version() {
        out.push(evidence_text("firmware_version", v));
    }
    if let Some(n) = a.unconfirmed_batch_count() {
        out.push(evidence_number(
            "unconfirmed_batch_count",
            f64::from(n),
            "count",
        ));
    }
    if let Some(id) = a.terminal_id() {
        out.push(evidence_text("terminal_id", id));
    }
    match a.network_profile() {
        None => {}
        Some(Ok(profile)) => {
            let interfaces: Vec<String> = profile
                .interfaces
                .iter()
                .map(|i| {
                    format!(
                        "{} {}",
                        i.name.as_deref().unwrap_or("?"),
                        i.address.as_deref().unwrap_or("-")
                    )
                })
                .collect();
            let addresses: Vec<&str> = profile
                .interfaces
                .iter()
                .filter_map(|i| i.address.as_deref())
                .collect();
            out.push(evidence_text("network_interfaces", &interfaces.join("; ")));
            out.push(evidence_text("network_addresses", &addresses.join(", ")));
        }
        Some(Err(e)) => out.push(evidence_text("network_profile_error", &e.to_string())),
    }
    out
}

fn health_findings(limits: &Limits, a: &AdditionalResponse) -> Vec<pb::Finding> {
    let mut out = Vec::new();
    if let Some(level) = a.battery_level()
        && level < limits.min_battery
    {
        let mut f = finding(
            CHECK_ID,
            &format!("{} battery", limits.subject),
            pb::Verdict::Warning,
            "terminal.attention",
            format!(
                "the terminal's battery is at {level} % (below {} %)",
                limits.min_battery
            ),
            format!("终端电池电量为 {level}%（低于 {}%）", limits.min_battery),
        );
        f.evidence.push(evidence_number(
            "battery_level",
            f64::from(level),
            "percent",
        ));
        f.remedies.push(remedy(
            pb::Actor::Merchant,
            "Put the terminal on its charging base or plug in its charger.",
            "请将终端放回充电底座或接上充电器。",
        ));
        out.push(f);
    }
    if let Some(n) = a.unconfirmed_batch_count()
        && n > limits.max_unconfirmed
    {
        let mut f = finding(
            CHECK_ID,
            &format!("{} batch", limits.subject),
            pb::Verdict::Warning,
            "terminal.attention",
            format!(
                "{n} payments on the terminal are not yet confirmed by the host (more than {})",
                limits.max_unconfirmed
            ),
            format!(
                "终端上有 {n} 笔交易尚未得到主机确认（超过 {} 笔）",
                limits.max_unconfirmed
            ),
        );
        f.evidence.push(evidence_number(
            "unconfirmed_batch_count",
            f64::from(n),
            "count",
        ));
        f.remedies.push(remedy(
            pb::Actor::Merchant,
            "Keep the terminal switched on and online so it can send its batches; do not reset it.",
            "请保持终端开机联网以便上传批次数据；请勿重置终端。",
        ));
        out.push(f);
    }
    out
}

/// The verdict and reason for a failed diagnosis, by error condition.
fn failure_class(condition: Option<&ErrorCondition>) -> (pb::Verdict, String) {
    match condition {
        Some(ErrorCondition::Busy | ErrorCondition::InProgress) => {
            (pb::Verdict::Warning, "terminal.busy".into())
        }
        Some(ErrorCondition::UnreachableHost) => (pb::Verdict::Critical, "host.unreachable".into()),
        Some(ErrorCondition::DeviceOut | ErrorCondition::UnavailableDevice) => {
            (pb::Verdict::Critical, "poi.status".into())
        }
        Some(ErrorCondition::MessageFormat) => (pb::Verdict::Critical, "link.protocol".into()),
        _ => (pb::Verdict::Warning, format!("vendor.{PLUGIN_ID}.failure")),
    }
}

fn failure_finding(
    subject: &str,
    outcome: &Response,
    additional: &AdditionalResponse,
) -> pb::Finding {
    let condition = outcome.error_condition.as_ref();
    let (verdict, reason) = failure_class(condition);
    let kb = KnowledgeBase::builtin();
    let entry = condition.and_then(|c| kb.get(&Scheme::NexoErrorCondition, c.as_str()));
    let name = condition.map_or("(none)", ErrorCondition::as_str);
    let (meaning_en, meaning_zh) = entry.map_or_else(
        || {
            (
                "no explanation known".to_owned(),
                "没有已知的解释".to_owned(),
            )
        },
        |e| (e.meaning.en.clone(), e.meaning.zh.clone()),
    );
    let mut f = finding(
        CHECK_ID,
        subject,
        verdict,
        &reason,
        format!("the terminal failed the diagnosis with ErrorCondition {name}: {meaning_en}"),
        format!("终端诊断失败，ErrorCondition {name}：{meaning_zh}"),
    );
    f.evidence.push(evidence_text("error_condition", name));
    if let Some(message) = additional.get("message") {
        f.evidence.push(evidence_text("message", message));
    }
    if let Some(e) = entry {
        f.remedies.extend(e.remedies.iter().map(|r| pb::Remedy {
            actor: pb_actor(r.actor).into(),
            text_en: r.text.en.clone(),
            text_zh: r.text.zh.clone(),
        }));
    }
    f
}
