//! A plugin's answer, or the way it failed, as posdiag findings. Plugin
//! output is untrusted: every text is masked. The mapping of the plugin
//! messages (`pb`) to posdiag's types is here and nowhere else.

use std::time::{Duration, SystemTime};

use posdiag_core::{
    Actor, Evidence, EvidenceValue, Finding, Producer, Reason, Remedy, Text, Unit, Verdict,
    mask_card_numbers,
};
use posdiag_plugin_api::pb;
use posdiag_plugin_supervisor::PluginFault;

use super::{PluginEntry, PluginRun};
use crate::model::TerminalSpec;

/// posdiag's value for a plugin message's. A local trait rather than `From`:
/// both types belong to other crates (the orphan rule), and neither crate may
/// depend on the other (`posdiag-plugin-api` is the vendors' contract and
/// depends on no workspace crate; `posdiag-core` knows no plugin).
trait FromPb<T> {
    fn from_pb(value: T) -> Self;
}

impl FromPb<pb::Verdict> for Verdict {
    fn from_pb(v: pb::Verdict) -> Verdict {
        match v {
            pb::Verdict::Ok => Verdict::Ok,
            pb::Verdict::Warning => Verdict::Warning,
            pb::Verdict::Critical => Verdict::Critical,
            pb::Verdict::Error => Verdict::Error,
            pb::Verdict::Unknown | pb::Verdict::Unspecified => Verdict::Unknown,
        }
    }
}

impl FromPb<pb::Actor> for Actor {
    fn from_pb(a: pb::Actor) -> Actor {
        match a {
            pb::Actor::Cardholder => Actor::Cardholder,
            pb::Actor::Acquirer => Actor::Acquirer,
            pb::Actor::Issuer => Actor::Issuer,
            pb::Actor::Vendor => Actor::Vendor,
            pb::Actor::Merchant | pb::Actor::Unspecified => Actor::Merchant,
        }
    }
}

/// An evidence item's `unit`.
impl FromPb<&str> for Unit {
    fn from_pb(unit: &str) -> Unit {
        match unit {
            "ms" => Unit::Ms,
            "ratio" => Unit::Ratio,
            "days" => Unit::Days,
            "bytes" => Unit::Bytes,
            "count" | "percent" => Unit::Count,
            _ => Unit::None,
        }
    }
}

/// An evidence item's value, its text masked; `None` when it has none.
impl FromPb<Option<pb::evidence::Value>> for Option<EvidenceValue> {
    fn from_pb(value: Option<pb::evidence::Value>) -> Option<EvidenceValue> {
        Some(match value? {
            pb::evidence::Value::Number(n) => EvidenceValue::Number(n),
            pb::evidence::Value::Flag(b) => EvidenceValue::Flag(b),
            pb::evidence::Value::Text(t) => EvidenceValue::Text(mask_card_numbers(&t)),
        })
    }
}

/// A plugin's finding as posdiag's, every text masked: plugin output is
/// untrusted, and card numbers never leave posdiag unmasked.
pub(super) fn convert(run: &PluginRun<'_>, subject: &str, f: pb::Finding) -> Finding {
    let m = |s: &str| mask_card_numbers(s);
    let verdict = Verdict::from_pb(f.verdict());
    let mut evidence: Vec<Evidence> = Vec::new();
    let reason = match f.reason.parse::<Reason>() {
        Ok(r) => r,
        Err(_) => {
            evidence.push(Evidence::text("vendor_reason", m(&f.reason)));
            Reason::VendorSpecific
        }
    };
    for e in f.evidence {
        let unit = Unit::from_pb(e.unit.as_str());
        let Some(value) = Option::<EvidenceValue>::from_pb(e.value) else {
            continue;
        };
        evidence.push(Evidence {
            name: m(&e.name),
            value,
            unit,
        });
    }
    // The plugin's own Chinese, or its English where it gave none.
    let zh_or_en = |chinese: &str, en: &str| m(if chinese.is_empty() { en } else { chinese });
    Finding {
        check: if f.check.is_empty() {
            run.check.to_owned()
        } else {
            m(&f.check)
        },
        verdict,
        reason,
        summary: Text::new(m(&f.summary_en), zh_or_en(&f.summary_zh, &f.summary_en)),
        evidence,
        remedies: f
            .remedies
            .iter()
            .map(|r| {
                Remedy::new(
                    Actor::from_pb(r.actor()),
                    m(&r.text_en),
                    zh_or_en(&r.text_zh, &r.text_en),
                )
            })
            .collect(),
        duration: Duration::ZERO,
        observed_at: SystemTime::now(),
        terminal: Some(run.spec.id.clone()),
        subject: if f.subject.is_empty() {
            subject.to_owned()
        } else {
            m(&f.subject)
        },
        producer: producer(run),
    }
}

fn producer(run: &PluginRun<'_>) -> Producer {
    let status = run.entry.plugin.status();
    Producer {
        id: run.entry.bundle.manifest.id.clone(),
        version: status
            .ready
            .map(|r| mask_card_numbers(&r.plugin_version))
            .unwrap_or_else(|| run.entry.bundle.manifest.version.clone()),
    }
}

pub(super) fn fault_finding(
    run: &PluginRun<'_>,
    subject: &str,
    reason: Reason,
    verdict: Verdict,
    summary: Text,
) -> Finding {
    let remedies = if verdict == Verdict::Unknown {
        Vec::new()
    } else {
        vec![Remedy::new(
            Actor::Vendor,
            format!(
                "Send this finding and posdiagd's log to the vendor of plugin {} (version {})",
                run.entry.bundle.manifest.id, run.entry.bundle.manifest.version
            ),
            format!(
                "将本结果和 posdiagd 日志发送给插件 {}（版本 {}）的厂商",
                run.entry.bundle.manifest.id, run.entry.bundle.manifest.version
            ),
        )]
    };
    Finding {
        check: run.check.to_owned(),
        verdict,
        reason,
        summary,
        evidence: vec![Evidence::text(
            "plugin",
            run.entry.bundle.manifest.id.clone(),
        )],
        remedies,
        duration: Duration::ZERO,
        observed_at: SystemTime::now(),
        terminal: Some(run.spec.id.clone()),
        subject: subject.to_owned(),
        producer: producer(run),
    }
}

/// The way a plugin failed, as a finding with its own reason.
pub(super) fn fault_to_finding(run: &PluginRun<'_>, subject: &str, fault: &PluginFault) -> Finding {
    let detail = mask_card_numbers(&fault.to_string());
    let (reason, en, zh) = match fault {
        PluginFault::Crashed { .. } => (
            Reason::PluginCrashed,
            "the vendor plugin crashed during the check",
            "厂商插件在检查过程中崩溃",
        ),
        PluginFault::Timeout { .. } => (
            Reason::PluginTimeout,
            "the vendor plugin did not finish in time and was stopped",
            "厂商插件未在时限内完成，已被终止",
        ),
        PluginFault::Incompatible { .. } => (
            Reason::PluginIncompatible,
            "the vendor plugin cannot be loaded by this posdiag",
            "此 posdiag 无法加载该厂商插件",
        ),
        PluginFault::Quarantined { .. } => (
            Reason::PluginQuarantined,
            "the vendor plugin kept crashing and was quarantined",
            "厂商插件反复崩溃，已被隔离",
        ),
        PluginFault::CheckFailed { .. } | PluginFault::Stopped => (
            Reason::PluginFailed,
            "the vendor plugin could not run the check",
            "厂商插件无法执行该检查",
        ),
        _ => (
            Reason::PluginProtocol,
            "the vendor plugin returned an invalid answer",
            "厂商插件返回了无效的应答",
        ),
    };
    fault_finding(
        run,
        subject,
        reason,
        Verdict::Error,
        Text::new(format!("{en}: {detail}"), format!("{zh}：{detail}")),
    )
}

/// A requested check no plugin serving the terminal offers.
pub(crate) fn not_offered(spec: &TerminalSpec, check: &str) -> Finding {
    Finding {
        check: check.to_owned(),
        verdict: Verdict::Unknown,
        reason: Reason::CheckSkipped,
        summary: Text::new(
            format!("not run: no plugin serving {} offers {check}", spec.id),
            format!("未执行：为 {} 服务的插件都不提供 {check}", spec.id),
        ),
        evidence: Vec::new(),
        remedies: Vec::new(),
        duration: Duration::ZERO,
        observed_at: SystemTime::now(),
        terminal: Some(spec.id.clone()),
        subject: spec.id.to_string(),
        producer: Producer::builtin(),
    }
}

/// A plugin check not run because the terminal's link failed first.
pub(crate) fn skipped(spec: &TerminalSpec, entry: &PluginEntry, check: &str) -> Finding {
    Finding {
        check: check.to_owned(),
        verdict: Verdict::Unknown,
        reason: Reason::CheckSkipped,
        summary: Text::new(
            "not run: terminal.link failed first",
            "未执行：terminal.link 已先失败",
        ),
        evidence: Vec::new(),
        remedies: Vec::new(),
        duration: Duration::ZERO,
        observed_at: SystemTime::now(),
        terminal: Some(spec.id.clone()),
        subject: format!("{} ({})", spec.id, entry.bundle.manifest.id),
        producer: Producer::builtin(),
    }
}
