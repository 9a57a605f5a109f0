//! The built-in host checks, run in the order a person would: resolve the
//! name (`host.dns`), connect repeatedly (`host.tcp`), shake hands
//! (`host.tls`), then talk (`host.exchange`). A step that fails stops the
//! steps that need it, and they are reported as skipped so the reader sees
//! what was not tested.

mod advice;
mod dns;
mod exchange;
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use posdiag_core::{Evidence, Finding, Producer, Reason, TerminalId, Text, Verdict, checks};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::model::{DnsSpec, HostSpec, Thresholds};
use crate::stats::Series;
use crate::{CheckSet, Progress};

/// Everything one run of the host checks needs.
#[derive(Debug)]
pub(crate) struct HostRun<'a> {
    pub host: &'a HostSpec,
    pub dns: &'a DnsSpec,
    pub terminal: Option<&'a TerminalId>,
    pub checks: CheckSet,
    pub cancel: &'a CancellationToken,
    pub progress: &'a mpsc::Sender<Progress>,
}

/// Collects findings and reports progress.
struct Reporter<'a> {
    run: &'a HostRun<'a>,
    subject: String,
    findings: Vec<Finding>,
}

/// A finding before the common fields are filled in.
struct Draft {
    check: &'static str,
    verdict: Verdict,
    reason: Reason,
    summary: Text,
    evidence: Vec<Evidence>,
}

impl Reporter<'_> {
    async fn send(&self, p: Progress) {
        // A client that went away must not stop the check: its findings
        // still go to history.
        let _ = self.run.progress.send(p).await;
    }

    async fn started(&self, phase: &'static str) -> Instant {
        self.send(Progress::PhaseStarted {
            phase: phase.to_owned(),
            subject: self.subject.clone(),
        })
        .await;
        Instant::now()
    }

    async fn finish(&mut self, draft: Draft, started: Instant) {
        let duration = started.elapsed();
        let remedies = if draft.verdict == Verdict::Ok {
            Vec::new()
        } else {
            advice::remedies(draft.reason, &self.subject)
        };
        let finding = Finding {
            check: draft.check.to_owned(),
            verdict: draft.verdict,
            reason: draft.reason,
            summary: draft.summary,
            evidence: draft.evidence,
            remedies,
            duration,
            observed_at: SystemTime::now(),
            terminal: self.run.terminal.cloned(),
            subject: self.subject.clone(),
            producer: Producer::builtin(),
        };
        self.send(Progress::PhaseFinished {
            phase: draft.check.to_owned(),
            subject: self.subject.clone(),
            verdict: draft.verdict,
            duration,
        })
        .await;
        self.send(Progress::Finding(finding.clone())).await;
        self.findings.push(finding);
    }

    /// Reports each selected check in `rest` as not run, because `after` failed.
    async fn skip(&mut self, rest: &[&'static str], after: &str) {
        for &check in rest {
            if !self.run.checks.contains(check) || !self.applies(check) {
                continue;
            }
            let started = Instant::now();
            let summary = Text::new(
                format!("not run: {after} failed first"),
                format!("未执行：{after} 已先失败"),
            );
            self.finish(
                Draft {
                    check,
                    verdict: Verdict::Unknown,
                    reason: Reason::CheckSkipped,
                    summary,
                    evidence: vec![],
                },
                started,
            )
            .await;
        }
    }

    fn applies(&self, check: &str) -> bool {
        match check {
            checks::HOST_TLS => self.run.host.tls.is_some(),
            checks::HOST_EXCHANGE => self.run.host.exchange.is_some(),
            _ => true,
        }
    }
}

/// Runs the selected host checks; stops promptly (with a `check.cancelled`
/// finding) when `cancel` fires.
pub(crate) async fn run(run: &HostRun<'_>) -> Vec<Finding> {
    let mut rep = Reporter {
        run,
        subject: run.host.subject(),
        findings: Vec::new(),
    };
    let cancelled = {
        let body = checks_in_order(&mut rep);
        tokio::select! {
            biased;
            _ = run.cancel.cancelled() => true,
            _ = body => false,
        }
    };
    if cancelled {
        let summary = crate::error::cancelled_by_shutdown();
        let draft = Draft {
            check: "host",
            verdict: Verdict::Unknown,
            reason: Reason::CheckCancelled,
            summary,
            evidence: vec![],
        };
        rep.finish(draft, Instant::now()).await;
    }
    rep.findings
}

async fn checks_in_order(rep: &mut Reporter<'_>) {
    let host = rep.run.host;
    let timeout = host.probe.timeout;
    let name = host.name.clone();

    // host.dns
    let ips = match dns::literal(&host.host) {
        Some(ip) => vec![ip],
        None => {
            let started = rep.started(checks::HOST_DNS).await;
            match dns::resolve(&host.host, rep.run.dns).await {
                Ok(res) => {
                    let list: Vec<String> = res.addrs.iter().map(|a| a.to_string()).collect();
                    let summary = Text::new(
                        format!(
                            "{name}: {} resolves to {} in {:.1} ms",
                            host.host,
                            list.join(", "),
                            ms(res.elapsed)
                        ),
                        format!(
                            "{name}：{} 解析为 {}，耗时 {:.1} 毫秒",
                            host.host,
                            list.join(", "),
                            ms(res.elapsed)
                        ),
                    );
                    let evidence = vec![
                        Evidence::millis("resolve_time", res.elapsed),
                        Evidence::text("addresses", list.join(", ")),
                    ];
                    rep.finish(
                        Draft {
                            check: checks::HOST_DNS,
                            verdict: Verdict::Ok,
                            reason: Reason::Ok,
                            summary,
                            evidence,
                        },
                        started,
                    )
                    .await;
                    res.addrs
                }
                Err(fail) => {
                    let m = fail.reason.meaning();
                    let summary = Text::new(
                        format!(
                            "{name}: cannot resolve {}: {} ({})",
                            host.host, m.en, fail.detail
                        ),
                        format!(
                            "{name}：无法解析 {}：{}（{}）",
                            host.host, m.zh, fail.detail
                        ),
                    );
                    let evidence = vec![
                        Evidence::millis("resolve_time", fail.elapsed),
                        Evidence::text("error", fail.detail),
                    ];
                    rep.finish(
                        Draft {
                            check: checks::HOST_DNS,
                            verdict: Verdict::Critical,
                            reason: fail.reason,
                            summary,
                            evidence,
                        },
                        started,
                    )
                    .await;
                    rep.skip(
                        &[checks::HOST_TCP, checks::HOST_TLS, checks::HOST_EXCHANGE],
                        checks::HOST_DNS,
                    )
                    .await;
                    return;
                }
            }
        }
    };
    let addrs = dns::connect_order(&ips, host.port);

    // host.tcp
    let started = rep.started(checks::HOST_TCP).await;
    let (series, failures, used) = repeat(&host.probe, || async {
        let t = Instant::now();
        let (_stream, used) = connect_any(&addrs, timeout)
            .await
            .map_err(|e| (connect_reason(e.failure()), e.to_string()))?;
        Ok((t.elapsed(), used))
    })
    .await;
    let addr = used.unwrap_or(addrs[0]);
    let draft = judge_series(&name, addr, &series, &failures, &host.thresholds, Kind::Tcp);
    let connected = draft.verdict != Verdict::Critical || series.failures < series.attempts;
    rep.finish(draft, started).await;
    if !connected {
        rep.skip(&[checks::HOST_TLS, checks::HOST_EXCHANGE], checks::HOST_TCP)
            .await;
        return;
    }

    // host.tls
    let tls_client = match &host.tls {
        Some(spec)
            if rep.run.checks.contains(checks::HOST_TLS)
                || rep.run.checks.contains(checks::HOST_EXCHANGE) =>
        {
            let started = rep.started(checks::HOST_TLS).await;
            let outcome = match tls::TlsClient::new(spec, &host.host) {
                Err(f) => Err(f),
                Ok(client) => match connect_any(&addrs, timeout).await {
                    Err(e) => Err(tls::TlsFailure {
                        reason: connect_reason(e.failure()),
                        detail: e.to_string(),
                    }),
                    Ok((tcp, _)) => client
                        .handshake(tcp, timeout)
                        .await
                        .map(|(_, report)| (client, report)),
                },
            };
            match outcome {
                Ok((client, report)) => {
                    let draft = judge_tls(&name, &report, &host.thresholds);
                    rep.finish(draft, started).await;
                    Some(client)
                }
                Err(f) => {
                    let m = f.reason.meaning();
                    let summary = Text::new(
                        format!("{name}: {} ({})", m.en, f.detail),
                        format!("{name}：{}（{}）", m.zh, f.detail),
                    );
                    let evidence = vec![Evidence::text("error", f.detail)];
                    rep.finish(
                        Draft {
                            check: checks::HOST_TLS,
                            verdict: Verdict::Critical,
                            reason: f.reason,
                            summary,
                            evidence,
                        },
                        started,
                    )
                    .await;
                    rep.skip(&[checks::HOST_EXCHANGE], checks::HOST_TLS).await;
                    return;
                }
            }
        }
        _ => None,
    };

    // host.exchange
    let Some(spec) = host
        .exchange
        .as_ref()
        .filter(|_| rep.run.checks.contains(checks::HOST_EXCHANGE))
    else {
        return;
    };
    let started = rep.started(checks::HOST_EXCHANGE).await;
    let (series, failures, used) = repeat(&host.probe, || async {
        let (mut tcp, used) = connect_any(&addrs, timeout)
            .await
            .map_err(|e| (connect_reason(e.failure()), e.to_string()))?;
        let rtt = match &tls_client {
            None => exchange::exchange(&mut tcp, spec, timeout).await,
            Some(client) => {
                let (mut stream, _) = client
                    .handshake(tcp, timeout)
                    .await
                    .map_err(|f| (f.reason, f.detail))?;
                exchange::exchange(&mut stream, spec, timeout).await
            }
        };
        rtt.map(|rtt| (rtt, used)).map_err(|f| (f.reason, f.detail))
    })
    .await;
    let addr = used.unwrap_or(addr);
    let draft = judge_series(
        &name,
        addr,
        &series,
        &failures,
        &host.thresholds,
        Kind::Exchange,
    );
    rep.finish(draft, started).await;
}

/// Runs `attempt` `probe.count` times, `probe.interval` apart: the round
/// trips, the failures by reason, and the last address that answered.
async fn repeat<F, Fut>(
    probe: &crate::model::ProbeSpec,
    mut attempt: F,
) -> (Series, Failures, Option<SocketAddr>)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(Duration, SocketAddr), (Reason, String)>>,
{
    let mut series = Series {
        attempts: 0,
        failures: 0,
        rtts: Vec::new(),
    };
    let mut failures = Failures::default();
    let mut used = None;
    for i in 0..probe.count {
        if i > 0 {
            tokio::time::sleep(probe.interval).await;
        }
        series.attempts += 1;
        match attempt().await {
            Ok((rtt, addr)) => {
                series.rtts.push(rtt);
                used = Some(addr);
            }
            Err((reason, detail)) => {
                series.failures += 1;
                failures.add(reason, detail);
            }
        }
    }
    (series, failures, used)
}

/// Connects to the first address that accepts, in order, as a terminal's
/// resolver-ordered connect would; the error is the preferred (first) address's.
async fn connect_any(
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<(tokio::net::TcpStream, SocketAddr), posdiag_transport::ConnectError> {
    let mut first = None;
    for &a in addrs {
        match posdiag_transport::connect(a, timeout).await {
            Ok(s) => return Ok((s, a)),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    Err(first.unwrap_or(posdiag_transport::ConnectError::Timeout {
        addr: addrs[0],
        deadline: timeout,
    }))
}

fn connect_reason(f: posdiag_transport::ConnectFailure) -> Reason {
    use posdiag_transport::ConnectFailure::*;
    match f {
        Refused => Reason::TcpRefused,
        Timeout => Reason::TcpTimeout,
        Unreachable => Reason::TcpUnreachable,
        Reset => Reason::TcpReset,
        Other => Reason::TcpError,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Failed attempts by reason, with the last detail of each.
#[derive(Debug, Default)]
struct Failures {
    by_reason: HashMap<Reason, (u32, String)>,
    order: Vec<Reason>,
}

impl Failures {
    fn add(&mut self, reason: Reason, detail: String) {
        let entry = self
            .by_reason
            .entry(reason)
            .or_insert_with(|| (0, String::new()));
        entry.0 += 1;
        entry.1 = detail;
        if !self.order.contains(&reason) {
            self.order.push(reason);
        }
    }

    /// The commonest reason (the first seen on a tie) and its detail.
    fn dominant(&self) -> Option<(Reason, &str)> {
        let mut best: Option<(Reason, u32, &str)> = None;
        for r in &self.order {
            let (n, detail) = &self.by_reason[r];
            if best.is_none_or(|(_, m, _)| *n > m) {
                best = Some((*r, *n, detail));
            }
        }
        best.map(|(r, _, d)| (r, d))
    }
}

/// Which repeated series a verdict is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tcp,
    Exchange,
}

impl Kind {
    fn check(self) -> &'static str {
        match self {
            Kind::Tcp => checks::HOST_TCP,
            Kind::Exchange => checks::HOST_EXCHANGE,
        }
    }

    fn loss(self) -> Reason {
        match self {
            Kind::Tcp => Reason::TcpLoss,
            Kind::Exchange => Reason::ExchangeLoss,
        }
    }

    fn latency(self) -> Reason {
        match self {
            Kind::Tcp => Reason::TcpLatency,
            Kind::Exchange => Reason::ExchangeLatency,
        }
    }

    fn jitter(self) -> Reason {
        match self {
            Kind::Tcp => Reason::TcpJitter,
            Kind::Exchange => Reason::ExchangeJitter,
        }
    }

    /// "connection attempts" / "连接尝试".
    fn noun(self) -> Text {
        match self {
            Kind::Tcp => Text::new("connection attempts", "连接尝试"),
            Kind::Exchange => Text::new("exchanges", "应答交互"),
        }
    }
}

/// The verdict on a series: every attempt failed (CRITICAL, with the
/// commonest failure), then loss, latency and jitter against the thresholds.
fn judge_series(
    name: &str,
    addr: SocketAddr,
    s: &Series,
    failures: &Failures,
    t: &Thresholds,
    kind: Kind,
) -> Draft {
    let Text {
        en: noun_en,
        zh: noun_zh,
    } = kind.noun();
    let mut evidence = vec![
        Evidence::text("address", addr.to_string()),
        Evidence::number("attempts", f64::from(s.attempts), posdiag_core::Unit::Count),
        Evidence::number("failures", f64::from(s.failures), posdiag_core::Unit::Count),
        Evidence::number("loss_ratio", s.loss_ratio(), posdiag_core::Unit::Ratio),
    ];
    let stats = [
        ("rtt_min", s.min()),
        ("rtt_p50", s.percentile(50.0)),
        ("rtt_p95", s.percentile(95.0)),
        ("rtt_max", s.max()),
        ("jitter", s.jitter()),
    ];
    for (label, value) in stats {
        if let Some(v) = value {
            evidence.push(Evidence::millis(label, v));
        }
    }
    if let Some((_, detail)) = failures.dominant() {
        evidence.push(Evidence::text("error", detail));
    }
    let draft = |verdict, reason, en: String, zh: String| Draft {
        check: kind.check(),
        verdict,
        reason,
        summary: Text::new(en, zh),
        evidence: evidence.clone(),
    };

    if s.attempts > 0 && s.failures == s.attempts {
        let (reason, detail) = failures.dominant().unwrap_or((Reason::InternalError, ""));
        let m = reason.meaning();
        return draft(
            Verdict::Critical,
            reason,
            format!(
                "{name}: all {} {noun_en} failed: {} ({detail})",
                s.attempts, m.en
            ),
            format!(
                "{name}：{} 次{noun_zh}全部失败：{}（{detail}）",
                s.attempts, m.zh
            ),
        );
    }
    let loss = s.loss_ratio();
    let p50 = s.percentile(50.0).map(ms).unwrap_or(0.0);
    let p95d = s.percentile(95.0).unwrap_or_default();
    let p95 = ms(p95d);
    let jitter = s.jitter().unwrap_or_default();
    let ok = s.attempts - s.failures;
    if loss > 0.0 && loss >= t.loss_warning {
        let verdict = if loss >= t.loss_critical {
            Verdict::Critical
        } else {
            Verdict::Warning
        };
        let cause = failures
            .dominant()
            .map(|(r, _)| r.meaning())
            .unwrap_or_default();
        return draft(
            verdict,
            kind.loss(),
            format!(
                "{name}: {} of {} {noun_en} failed ({:.0}% loss; mostly: {}) — the connection is unstable",
                s.failures,
                s.attempts,
                loss * 100.0,
                cause.en
            ),
            format!(
                "{name}：{} 次{noun_zh}中 {} 次失败（失败率 {:.0}%；主要原因：{}）——连接不稳定",
                s.attempts,
                s.failures,
                loss * 100.0,
                cause.zh
            ),
        );
    }
    if p95d >= t.rtt_warning {
        let (verdict, thr) = if p95d >= t.rtt_critical {
            (Verdict::Critical, t.rtt_critical)
        } else {
            (Verdict::Warning, t.rtt_warning)
        };
        return draft(
            verdict,
            kind.latency(),
            format!(
                "{name} is slow: p95 round trip {p95:.1} ms, at or above the {} ms threshold (median {p50:.1} ms)",
                thr.as_millis()
            ),
            format!(
                "{name} 响应缓慢：p95 往返 {p95:.1} 毫秒，达到或超过阈值 {} 毫秒（中位 {p50:.1} 毫秒）",
                thr.as_millis()
            ),
        );
    }
    if jitter >= t.jitter_warning && s.rtts.len() >= 2 {
        return draft(
            Verdict::Warning,
            kind.jitter(),
            format!(
                "{name}: round trips vary by {:.1} ms on average, at or above the {} ms threshold",
                ms(jitter),
                t.jitter_warning.as_millis()
            ),
            format!(
                "{name}：往返耗时平均波动 {:.1} 毫秒，达到或超过阈值 {} 毫秒",
                ms(jitter),
                t.jitter_warning.as_millis()
            ),
        );
    }
    draft(
        Verdict::Ok,
        Reason::Ok,
        format!(
            "{name}: {ok} of {} {noun_en} succeeded, median {p50:.1} ms, p95 {p95:.1} ms",
            s.attempts
        ),
        format!(
            "{name}：{} 次{noun_zh}成功 {ok} 次，中位 {p50:.1} 毫秒，p95 {p95:.1} 毫秒",
            s.attempts
        ),
    )
}

fn judge_tls(name: &str, report: &tls::TlsReport, t: &Thresholds) -> Draft {
    let mut evidence = vec![
        Evidence::millis("handshake_time", report.handshake),
        Evidence::text("tls_version", report.version.clone()),
        Evidence::text("cipher_suite", report.cipher.clone()),
    ];
    let days = report
        .cert
        .as_ref()
        .map(|c| c.days_to_expiry(SystemTime::now()));
    if let Some(c) = &report.cert {
        evidence.push(Evidence::text("subject", c.subject.clone()));
        evidence.push(Evidence::text("issuer", c.issuer.clone()));
        // The exact expiry (RFC 3339, UTC) beside the whole days left, so
        // `/metrics` and people can tell the second it runs out.
        if let Ok(at) = jiff::Timestamp::from_second(c.not_after_unix) {
            evidence.push(Evidence::text("not_after", at.to_string()));
        }
    }
    if let Some(d) = days {
        evidence.push(Evidence::number(
            "days_to_expiry",
            d as f64,
            posdiag_core::Unit::Days,
        ));
    }
    let draft = |verdict, reason, en: String, zh: String| Draft {
        check: checks::HOST_TLS,
        verdict,
        reason,
        summary: Text::new(en, zh),
        evidence: evidence.clone(),
    };
    if let Some((reason, detail)) = &report.cert_problem {
        let m = reason.meaning();
        let when = match (reason, days) {
            (Reason::TlsCertExpired, Some(d)) => {
                (format!(" {} days ago", -d), format!("（已过期 {} 天）", -d))
            }
            _ => (String::new(), String::new()),
        };
        let (m_en, m_zh) = match (reason, days) {
            (Reason::TlsCertExpired, Some(_)) => (
                "the server certificate expired".to_owned(),
                "服务器证书已过期".to_owned(),
            ),
            _ => (m.en.clone(), m.zh.clone()),
        };
        return draft(
            Verdict::Critical,
            *reason,
            format!("{name}: {}{} ({detail})", m_en, when.0),
            format!("{name}：{}{}（{detail}）", m_zh, when.1),
        );
    }
    match days {
        Some(d) if d < i64::from(t.cert_expiry_warning_days) => draft(
            Verdict::Warning,
            Reason::TlsCertExpiring,
            format!(
                "{name}: the certificate expires in {d} days (warning below {} days)",
                t.cert_expiry_warning_days
            ),
            format!(
                "{name}：证书将在 {d} 天后过期（少于 {} 天即告警）",
                t.cert_expiry_warning_days
            ),
        ),
        _ => draft(
            Verdict::Ok,
            Reason::Ok,
            format!(
                "{name}: {} handshake in {:.1} ms; certificate valid{}",
                report.version,
                ms(report.handshake),
                days.map(|d| format!(" for {d} more days"))
                    .unwrap_or_default()
            ),
            format!(
                "{name}：{} 握手耗时 {:.1} 毫秒；证书有效{}",
                report.version,
                ms(report.handshake),
                days.map(|d| format!("，还剩 {d} 天")).unwrap_or_default()
            ),
        ),
    }
}

#[cfg(test)]
mod tests;
