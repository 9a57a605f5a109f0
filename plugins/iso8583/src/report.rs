//! Turns an echo run's [`Outcome`] into findings: verdict, reason, English and Chinese
//! summaries, evidence and remedies.
//!
//! One finding per problem found, worst first (the daemon shows the first one as the check's
//! headline); the first finding carries all of the run's evidence, later ones only what
//! concerns them. A healthy run gives one OK finding with the same evidence, so monitoring
//! can graph round trips from it.

use std::collections::BTreeMap;

use posdiag_codes::{Entry, KnowledgeBase};
use posdiag_core::{Actor, Reason};
use posdiag_plugin_api::pb;
use posdiag_plugin_api::sdk::{evidence_flag, evidence_number, evidence_text, finding, remedy};

use crate::CHECK_ID;
use crate::args::EchoArgs;
use crate::echo::{Outcome, Stop};
use crate::stats::{RttStats, loss_ratio, rtt_stats};

/// How a field 39 value counts for the verdict, mildest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// 00, or 000 / 800 in 1993.
    Approved,
    /// 90, or 906 in 1993: the end-of-day window.
    Cutover,
    /// A matching answer without field 39.
    Missing,
    /// Anything else: the host (or the issuer / switch behind it) refuses.
    Refused,
}

fn class_of(code: Option<&str>) -> Class {
    match code {
        None => Class::Missing,
        // Each value belongs to one scheme only (two characters in 1987 and CUP, three
        // digits in 1993), so one list serves all dialects.
        Some("00" | "000" | "800") => Class::Approved,
        Some("90" | "906") => Class::Cutover,
        Some(_) => Class::Refused,
    }
}

/// The code that decides the verdict: the last answer of the worst class. In a run where
/// every answer carries the same code this is simply the last answer's field 39.
fn deciding_code(codes: &[Option<String>]) -> Option<(Class, Option<&str>)> {
    let worst = codes.iter().map(|c| class_of(c.as_deref())).max()?;
    codes
        .iter()
        .rev()
        .map(|c| (class_of(c.as_deref()), c.as_deref()))
        .find(|(class, _)| *class == worst)
}

fn pb_actor(actor: Actor) -> pb::Actor {
    match actor {
        Actor::Merchant => pb::Actor::Merchant,
        Actor::Cardholder => pb::Actor::Cardholder,
        Actor::Acquirer => pb::Actor::Acquirer,
        Actor::Issuer => pb::Actor::Issuer,
        Actor::Vendor => pb::Actor::Vendor,
    }
}

/// The knowledge base's remedies for a code, as finding remedies.
fn kb_remedies(entry: Option<&Entry>) -> Vec<pb::Remedy> {
    entry
        .map(|e| {
            e.remedies
                .iter()
                .map(|r| pb::Remedy {
                    actor: pb_actor(r.actor).into(),
                    text_en: r.text.en.clone(),
                    text_zh: r.text.zh.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// "91 (issuer or switch inoperative)" and its Chinese form.
fn code_phrase(code: &str, entry: Option<&Entry>) -> (String, String) {
    match entry {
        Some(e) => (
            format!("{code} ({})", e.meaning.en),
            format!("{code}（{}）", e.meaning.zh),
        ),
        None => (
            format!("{code} (not in posdiag's code tables)"),
            format!("{code}（不在 posdiag 的代码表中）"),
        ),
    }
}

fn count(name: &str, n: u32) -> pb::Evidence {
    evidence_number(name, f64::from(n), "count")
}

/// "00×3, 91×2", in order of first appearance.
fn distribution(codes: &[Option<String>]) -> String {
    let mut order: Vec<&str> = Vec::new();
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    for code in codes {
        let code = code.as_deref().unwrap_or("none");
        let n = counts.entry(code).or_insert(0);
        if *n == 0 {
            order.push(code);
        }
        *n += 1;
    }
    order
        .iter()
        .map(|c| format!("{c}×{}", counts.get(c).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn rtt_evidence(stats: &RttStats) -> Vec<pb::Evidence> {
    vec![
        evidence_number("rtt_min", stats.min, "ms"),
        evidence_number("rtt_p50", stats.p50, "ms"),
        evidence_number("rtt_p95", stats.p95, "ms"),
        evidence_number("rtt_max", stats.max, "ms"),
        evidence_number("jitter", stats.jitter, "ms"),
    ]
}

fn code_evidence(args: &EchoArgs, code: &str, entry: Option<&Entry>) -> Vec<pb::Evidence> {
    let mut ev = vec![
        evidence_text("response_code", code),
        evidence_text("response_code_scheme", args.scheme.name()),
    ];
    match entry {
        Some(e) => {
            ev.push(evidence_text("response_code_meaning_en", &e.meaning.en));
            ev.push(evidence_text("response_code_meaning_zh", &e.meaning.zh));
            if !e.causes.is_empty() {
                let join = |f: fn(&posdiag_core::Text) -> &str| {
                    e.causes.iter().map(f).collect::<Vec<_>>().join("; ")
                };
                ev.push(evidence_text("response_code_causes_en", &join(|t| &t.en)));
                ev.push(evidence_text("response_code_causes_zh", &join(|t| &t.zh)));
            }
        }
        None => ev.push(evidence_flag("response_code_known", false)),
    }
    ev
}

/// Remedies for a host that cannot be talked to in this dialect.
fn dialect_remedy(args: &EchoArgs) -> pb::Remedy {
    remedy(
        pb::Actor::Merchant,
        &format!(
            "Check that the link address is the acquirer's ISO 8583 port and that the check's dialect ({}, length prefix and, for cup, tpdu) matches the host's specification; hosts close the connection on messages they cannot decode.",
            args.dialect.name()
        ),
        &format!(
            "请确认连接地址是收单机构的 ISO 8583 端口，且检查使用的报文格式（{}、长度前缀，银联还有 TPDU）与主机规范一致；主机收到无法解析的报文会断开连接。",
            args.dialect.name()
        ),
    )
}

/// The findings for one run.
pub fn findings(
    args: &EchoArgs,
    out: &Outcome,
    subject: &str,
    link_address: &str,
    kb: &KnowledgeBase,
) -> Vec<pb::Finding> {
    use pb::Verdict::{Critical, Ok as Fine, Warning};

    let stats = rtt_stats(&out.rtts_ms);
    let loss = loss_ratio(out.sent, out.answered);
    let lost = out.sent.saturating_sub(out.answered);
    let decided = deciding_code(&out.codes);
    let decided_entry = decided
        .and_then(|(_, code)| code)
        .and_then(|code| kb.get(&args.scheme, code));

    let mut problems: Vec<pb::Finding> = Vec::new();

    // The transport first: when the link failed, the echo numbers say little.
    match &out.stop {
        Some(Stop::NoLink) if out.sent == 0 => {
            let mut f = finding(
                CHECK_ID,
                subject,
                Critical,
                Reason::TcpError.code(),
                format!(
                    "no connection to the acquirer host {link_address}: posdiag could not open the TCP link (refused, unreachable or timed out)"
                ),
                format!(
                    "无法连接收单主机 {link_address}：posdiag 未能建立 TCP 连接（被拒绝、不可达或超时）"
                ),
            );
            f.remedies.push(remedy(
                pb::Actor::Merchant,
                "Run posdiag's host checks (host.tcp) against this address to see why the connection fails; check the address, the port and any firewall on the way.",
                "请对该地址运行 posdiag 的主机检查（host.tcp）以查明连接失败的原因；检查地址、端口以及沿途的防火墙。",
            ));
            problems.push(f);
        }
        Some(Stop::NoLink | Stop::Lost) => {
            let mut f = finding(
                CHECK_ID,
                subject,
                Critical,
                Reason::LinkLost.code(),
                format!(
                    "the acquirer host closed the connection during the echo test, after {} of {} echoes were answered",
                    out.answered, out.sent
                ),
                format!(
                    "收单主机在回响测试过程中断开了连接（已发送 {} 个回响，{} 个得到应答）",
                    out.sent, out.answered
                ),
            );
            f.remedies.push(dialect_remedy(args));
            f.remedies.push(remedy(
                pb::Actor::Acquirer,
                "Check the host's logs for connections closed or reset from this terminal's address.",
                "请在主机日志中查找来自该终端地址的连接被关闭或重置的记录。",
            ));
            problems.push(f);
        }
        Some(Stop::Framing(detail)) => {
            let mut f = finding(
                CHECK_ID,
                subject,
                Critical,
                Reason::LinkProtocol.code(),
                format!(
                    "the acquirer host's answer cannot be split into ISO 8583 messages ({detail})"
                ),
                format!("收单主机的应答无法按 ISO 8583 报文拆分（{detail}）"),
            );
            f.evidence.push(evidence_text("detail", detail));
            f.remedies.push(dialect_remedy(args));
            problems.push(f);
        }
        Some(Stop::Transport(detail)) => {
            let mut f = finding(
                CHECK_ID,
                subject,
                Critical,
                Reason::LinkError.code(),
                format!("the link to the acquirer host failed during the echo test: {detail}"),
                format!("与收单主机的连接在回响测试过程中失败：{detail}"),
            );
            f.evidence.push(evidence_text("detail", detail));
            problems.push(f);
        }
        None => {}
    }

    if out.stop.is_none() && out.sent > 0 && out.answered == 0 {
        if out.mismatched > 0 {
            let mut f = finding(
                CHECK_ID,
                subject,
                Critical,
                Reason::EchoMismatch.code(),
                format!(
                    "the acquirer host answered, but none of its {} message(s) matches one of the {} echo requests (MTI + 10 and the same STAN)",
                    out.mismatched, out.sent
                ),
                format!(
                    "收单主机有应答，但其 {} 条报文与 {} 个回响请求都不匹配（MTI 加 10 且 STAN 相同）",
                    out.mismatched, out.sent
                ),
            );
            f.remedies.push(dialect_remedy(args));
            problems.push(f);
        } else {
            let mut f = finding(
                CHECK_ID,
                subject,
                Critical,
                Reason::EchoTimeout.code(),
                format!(
                    "the acquirer host accepted the connection but answered none of {} echo test(s) in time",
                    out.sent
                ),
                format!(
                    "收单主机接受了连接，但 {} 个回响测试都没有在时限内得到应答",
                    out.sent
                ),
            );
            if out.late > 0 {
                f.summary_en
                    .push_str(&format!(" ({} answer(s) came too late)", out.late));
                f.summary_zh
                    .push_str(&format!("（{} 个应答来得太迟）", out.late));
            }
            f.remedies.push(dialect_remedy(args));
            f.remedies.push(remedy(
                pb::Actor::Acquirer,
                "Check that the host's network-management handler is running and answers echo tests (0800/0820/1804) on this port.",
                "请确认主机的网络管理处理程序在运行，并在该端口上应答回响测试（0800/0820/1804）。",
            ));
            problems.push(f);
        }
    }

    if let Some((class, code)) = decided {
        let shown = code.unwrap_or("none");
        let (en, zh) = code_phrase(shown, decided_entry);
        match class {
            Class::Approved => {}
            Class::Cutover => {
                let mut f = finding(
                    CHECK_ID,
                    subject,
                    Warning,
                    Reason::EchoCutover.code(),
                    format!(
                        "the acquirer host answered the echo test with {en}: the bank's end-of-day window; payments are refused until it ends"
                    ),
                    format!(
                        "收单主机对回响测试应答 {zh}：银行正处于日切时段，日切结束前交易会被拒绝"
                    ),
                );
                f.remedies.push(remedy(
                    pb::Actor::Merchant,
                    "Wait until the bank's end-of-day window is over (usually a few minutes), then retry the payment or run the check again.",
                    "请等待银行日切结束（通常几分钟），然后重新交易或再次运行检查。",
                ));
                f.remedies.extend(kb_remedies(decided_entry));
                problems.push(f);
            }
            Class::Missing => {
                let f = finding(
                    CHECK_ID,
                    subject,
                    Warning,
                    Reason::EchoMismatch.code(),
                    "the acquirer host answered the echo test without a response code (field 39)",
                    "收单主机应答了回响测试，但没有应答码（第 39 域）",
                );
                problems.push(f);
            }
            Class::Refused => {
                let mut f = finding(
                    CHECK_ID,
                    subject,
                    Critical,
                    Reason::EchoResponseCode.code(),
                    format!("the acquirer host answered the echo test with {en}"),
                    format!("收单主机对回响测试应答 {zh}"),
                );
                let remedies = kb_remedies(decided_entry);
                if remedies.is_empty() {
                    f.remedies.push(remedy(
                        pb::Actor::Acquirer,
                        &format!("Ask the acquirer what response code {shown} to an echo test means on their host."),
                        &format!("请向收单机构询问其主机对回响测试应答 {shown} 的含义。"),
                    ));
                } else {
                    f.remedies = remedies;
                }
                problems.push(f);
            }
        }
    }

    // Loss and latency only when the link held: a lost link explains missing answers.
    if out.stop.is_none() && out.answered > 0 && lost > 0 && loss >= args.loss_warning {
        let verdict = if loss >= args.loss_critical {
            Critical
        } else {
            Warning
        };
        let percent = loss * 100.0;
        let mut f = finding(
            CHECK_ID,
            subject,
            verdict,
            Reason::EchoLoss.code(),
            format!(
                "{lost} of {} echo tests went unanswered ({percent:.0} %)",
                out.sent
            ),
            format!(
                "{} 个回响测试中有 {lost} 个未得到应答（{percent:.0}%）",
                out.sent
            ),
        );
        f.evidence
            .push(evidence_number("loss_ratio", loss, "ratio"));
        f.remedies.push(remedy(
            pb::Actor::Merchant,
            "Check the network between the terminal and the acquirer (router, mobile signal, VPN, firewall); intermittent loss makes payments time out.",
            "请检查终端与收单机构之间的网络（路由器、移动信号、VPN、防火墙）；间歇性丢包会导致交易超时。",
        ));
        problems.push(f);
    }
    if out.stop.is_none()
        && let Some(s) = &stats
        && s.p95 > args.rtt_warning_ms
    {
        let mut f = finding(
            CHECK_ID,
            subject,
            Warning,
            Reason::EchoLatency.code(),
            format!(
                "the acquirer host answers echo tests slowly: p95 round trip {:.0} ms, above {:.0} ms",
                s.p95, args.rtt_warning_ms
            ),
            format!(
                "收单主机应答回响测试较慢：p95 往返时间 {:.0} 毫秒，超过 {:.0} 毫秒",
                s.p95, args.rtt_warning_ms
            ),
        );
        f.evidence.push(evidence_number("rtt_p95", s.p95, "ms"));
        f.evidence
            .push(evidence_number("rtt_warning", args.rtt_warning_ms, "ms"));
        f.remedies.push(remedy(
            pb::Actor::Merchant,
            "Check the network between the terminal and the acquirer for congestion; if it is fine, report the slow answers to the acquirer.",
            "请检查终端与收单机构之间的网络是否拥塞；如网络正常，请向收单机构反映应答缓慢。",
        ));
        problems.push(f);
    }

    // Worst first; the order above breaks ties (transport, then answers, loss, latency).
    problems.sort_by_key(|f| std::cmp::Reverse(f.verdict));

    let mut evidence = vec![
        evidence_text("dialect", args.dialect.name()),
        count("sent", out.sent),
        count("answered", out.answered),
        count("lost", lost),
        evidence_number("loss_ratio", loss, "ratio"),
        count("mismatched", out.mismatched),
        count("late_answers", out.late),
    ];
    if out.budget_exhausted {
        evidence.push(count("not_sent", args.count.saturating_sub(out.sent)));
    }
    if let Some(s) = &stats {
        evidence.extend(rtt_evidence(s));
    }
    if let Some((_, code)) = decided {
        evidence.extend(code_evidence(args, code.unwrap_or("none"), decided_entry));
        evidence.push(evidence_text("response_codes", &distribution(&out.codes)));
    }

    if problems.is_empty() {
        let code = decided.and_then(|(_, c)| c).unwrap_or("00");
        let (en, zh) = code_phrase(code, decided_entry);
        let p50 = stats.map_or(0.0, |s| s.p50);
        problems.push(finding(CHECK_ID, subject, Fine, Reason::Ok.code(), format!(
                "the acquirer host answered all {} echo tests with {en}, median round trip {p50:.0} ms",
                out.answered
            ), format!(
                "收单主机以 {zh} 应答了全部 {} 个回响测试，往返时间中位数 {p50:.0} 毫秒",
                out.answered
            )));
    }
    if let Some(first) = problems.first_mut() {
        // The first finding carries the full picture; drop its own duplicates of it.
        first
            .evidence
            .retain(|e| !evidence.iter().any(|common| common.name == e.name));
        let own = std::mem::take(&mut first.evidence);
        first.evidence = evidence;
        first.evidence.extend(own);
    }
    problems
}
