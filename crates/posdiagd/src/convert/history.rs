//! The history's messages: filters in, stored findings, changes, events,
//! availability and the daemon's state out.

use std::time::{Duration, SystemTime};

use posdiag_core::{Lang, Verdict, quote};
use posdiag_history::{
    Availability, Caller, CheckAvailability, Event, EventKind, Filter, Origin, StoredEvent,
    StoredFinding, StoredTransition,
};
use posdiag_proto::v1 as pb;

use super::{MAX_LIST, finding, list, opt_verdict, out, timestamp, verdict};
use crate::daemon_state::{DaemonState, Store};
use crate::status::ApiError;

/// Findings, changes or events in one answer when the request says 0.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The most in one answer; larger requests are served this many (AIP-158).
pub const MAX_PAGE_SIZE: usize = 1000;

/// A request's page size.
pub fn page_size(n: u32) -> usize {
    match n as usize {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    }
}

/// A page token as sent; empty means the first page.
pub fn page_token(t: &str) -> Result<Option<&str>, ApiError> {
    if t.len() > 256 {
        return Err(ApiError::invalid(
            "page_token",
            "is not a token this daemon issued; start again without it",
            "不是本守护进程发出的令牌；请不带令牌重新开始",
        ));
    }
    Ok((!t.is_empty()).then_some(t))
}

fn enums<T>(
    field: &'static str,
    values: &[i32],
    map: impl Fn(i32) -> Option<T>,
    expected: &str,
) -> Result<Vec<T>, ApiError>
where
    T: PartialEq,
{
    if values.len() > MAX_LIST {
        return Err(ApiError::invalid(
            field,
            format!("{} values is too many; at most {MAX_LIST}", values.len()),
            format!("{} 个值太多；最多 {MAX_LIST} 个", values.len()),
        ));
    }
    let mut out = Vec::new();
    for v in values {
        let Some(t) = map(*v) else {
            return Err(ApiError::invalid(
                field,
                format!("{v} is not a value of this field; expected {expected}"),
                format!("{v} 不是此字段的取值；应为 {expected}"),
            ));
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

fn verdict_in(v: i32) -> Option<Verdict> {
    match pb::Verdict::try_from(v).ok()? {
        pb::Verdict::Ok => Some(Verdict::Ok),
        pb::Verdict::Warning => Some(Verdict::Warning),
        pb::Verdict::Critical => Some(Verdict::Critical),
        pb::Verdict::Unknown => Some(Verdict::Unknown),
        pb::Verdict::Error => Some(Verdict::Error),
        pb::Verdict::Unspecified => None,
    }
}

fn origin_in(v: i32) -> Option<Origin> {
    match pb::Origin::try_from(v).ok()? {
        pb::Origin::Schedule => Some(Origin::Schedule),
        pb::Origin::OnDemand => Some(Origin::OnDemand),
        pb::Origin::Doctor => Some(Origin::Doctor),
        pb::Origin::Probe => Some(Origin::Probe),
        pb::Origin::Daemon => Some(Origin::Daemon),
        pb::Origin::Unspecified => None,
    }
}

/// An origin as its proto enum value.
pub fn origin(o: Origin) -> i32 {
    (match o {
        Origin::Schedule => pb::Origin::Schedule,
        Origin::OnDemand => pb::Origin::OnDemand,
        Origin::Doctor => pb::Origin::Doctor,
        Origin::Probe => pb::Origin::Probe,
        Origin::Daemon => pb::Origin::Daemon,
    }) as i32
}

fn kind_in(v: i32) -> Option<EventKind> {
    match pb::EventKind::try_from(v).ok()? {
        pb::EventKind::Run => Some(EventKind::Run),
        pb::EventKind::Diagnosis => Some(EventKind::Diagnosis),
        pb::EventKind::PluginFault => Some(EventKind::PluginFault),
        pb::EventKind::Link => Some(EventKind::Link),
        pb::EventKind::Reload => Some(EventKind::Reload),
        pb::EventKind::ApiCall => Some(EventKind::ApiCall),
        pb::EventKind::Unspecified => None,
    }
}

fn time_in(
    field: &'static str,
    t: &Option<prost_types::Timestamp>,
) -> Result<Option<SystemTime>, ApiError> {
    match t {
        None => Ok(None),
        Some(ts) => SystemTime::try_from(*ts).map(Some).map_err(|_| {
            ApiError::invalid(
                field,
                "is not a valid time (seconds and nanos out of range)",
                "不是有效的时间（秒或纳秒超出范围）",
            )
        }),
    }
}

/// A request's filter (and event kinds), validated.
pub fn filter(f: Option<&pb::HistoryFilter>, kinds: &[i32]) -> Result<Filter, ApiError> {
    let default = pb::HistoryFilter::default();
    let f = f.unwrap_or(&default);
    let since = time_in("filter.since", &f.since)?;
    let until = time_in("filter.until", &f.until)?;
    if let (Some(s), Some(u)) = (since, until)
        && s > u
    {
        return Err(ApiError::invalid(
            "filter.since",
            "is after filter.until; expected since ≤ until",
            "晚于 filter.until；应为 since ≤ until",
        ));
    }
    if f.terminal_id.len() > 64 {
        return Err(ApiError::invalid(
            "filter.terminal_id",
            format!(
                "{} is not a terminal id (at most 64 characters)",
                quote(&f.terminal_id)
            ),
            format!("{} 不是终端 ID（最多 64 个字符）", quote(&f.terminal_id)),
        ));
    }
    Ok(Filter {
        terminal: (!f.terminal_id.is_empty()).then(|| f.terminal_id.clone()),
        checks: list("filter.checks", &f.checks)?,
        verdicts: enums(
            "filter.verdicts",
            &f.verdicts,
            verdict_in,
            "VERDICT_OK … VERDICT_ERROR",
        )?,
        reasons: list("filter.reasons", &f.reasons)?,
        since,
        until,
        origins: enums(
            "filter.origins",
            &f.origins,
            origin_in,
            "ORIGIN_SCHEDULE … ORIGIN_DAEMON",
        )?,
        kinds: enums(
            "kinds",
            kinds,
            kind_in,
            "EVENT_KIND_RUN … EVENT_KIND_API_CALL",
        )?,
    })
}

/// A window of GetAvailability: 7 days unless given, at most 400.
pub fn window(d: &Option<prost_types::Duration>) -> Result<Duration, ApiError> {
    const MAX: Duration = Duration::from_secs(400 * 86_400);
    let w = match d {
        None => Duration::ZERO,
        Some(d) => Duration::try_from(*d)
            .map_err(|_| ApiError::invalid("window", "must not be negative", "不能为负"))?,
    };
    if w.is_zero() {
        return Ok(Duration::from_secs(7 * 86_400));
    }
    if w > MAX {
        return Err(ApiError::invalid(
            "window",
            format!("{} days is too long; at most 400", w.as_secs() / 86_400),
            format!("{} 天太长；最多 400 天", w.as_secs() / 86_400),
        ));
    }
    Ok(w)
}

/// A timeline bucket: given, or an hour up to 2-day windows and a day
/// beyond; never more than 1000 buckets.
pub fn bucket(d: &Option<prost_types::Duration>, window: Duration) -> Result<Duration, ApiError> {
    let asked = match d {
        None => Duration::ZERO,
        Some(d) => Duration::try_from(*d)
            .map_err(|_| ApiError::invalid("bucket", "must not be negative", "不能为负"))?,
    };
    let b = if !asked.is_zero() {
        asked
    } else if window <= Duration::from_secs(2 * 86_400) {
        Duration::from_secs(3600)
    } else {
        Duration::from_secs(86_400)
    };
    let least = Duration::from_millis((window.as_millis() / 1000) as u64 + 1);
    Ok(b.max(least).max(Duration::from_secs(1)))
}

fn caller(c: &Caller) -> pb::Caller {
    pb::Caller {
        uid: c.uid,
        pid: c.pid,
        peer: out(&c.peer),
        principal: out(&c.principal),
        gid: c.gid,
        authn: out(&c.authn),
        certificate: out(&c.certificate),
    }
}

/// A stored finding, its texts in `lang`.
pub fn stored_finding(f: &StoredFinding, lang: Lang) -> pb::StoredFinding {
    pb::StoredFinding {
        seq: f.seq,
        run_id: f.run_id,
        origin: origin(f.origin),
        finding: Some(finding(&f.finding, lang)),
    }
}

/// A stored change of verdict.
pub fn transition(t: &StoredTransition, lang: Lang) -> pb::Transition {
    let x = &t.transition;
    pb::Transition {
        seq: t.seq,
        terminal_id: t
            .terminal
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default(),
        check: out(&x.check),
        subject: out(&x.subject),
        from: opt_verdict(x.from),
        to: verdict(x.to),
        reason: x.reason.code().to_owned(),
        summary: out(x.summary.get(lang)),
        at: Some(timestamp(x.at)),
        run_id: t.run_id,
    }
}

/// A stored event.
pub fn event(e: &StoredEvent, lang: Lang) -> pb::HistoryEvent {
    use pb::history_event::Event as E;
    let event = match &e.event {
        Event::Run(r) => E::Run(pb::RunRecord {
            run_id: r.run_id,
            terminal_id: r
                .terminal
                .as_ref()
                .map(|t| t.to_string())
                .unwrap_or_default(),
            origin: origin(r.origin),
            caller: r.caller.as_ref().map(caller),
            started: Some(timestamp(r.started)),
            duration: Some(super::duration(r.duration)),
            overall: opt_verdict(r.overall),
            findings: r.findings,
            target: out(&r.target),
        }),
        Event::Diagnosis(d) => E::Diagnosis(pb::DiagnosisRecord {
            run_id: d.run_id,
            terminal_id: d.terminal.to_string(),
            symptom: out(&d.symptom),
            overall: opt_verdict(d.overall),
            summary: out(d.summary.get(lang)),
            causes: d.causes.iter().map(|(r, _)| out(r)).collect(),
            cause_titles: d.causes.iter().map(|(_, t)| out(t.get(lang))).collect(),
            caller: d.caller.as_ref().map(caller),
        }),
        Event::PluginFault(p) => E::PluginFault(pb::PluginFaultRecord {
            plugin_id: out(&p.plugin),
            fault: p.fault.clone(),
            detail: out(p.detail.get(lang)),
        }),
        Event::Link(l) => E::Link(pb::LinkEventRecord {
            terminal_id: l.terminal.to_string(),
            present: l.present,
            path: out(&l.path),
        }),
        Event::Reload(r) => E::Reload(pb::ReloadRecord {
            applied: r.applied,
            detail: out(r.detail.get(lang)),
        }),
        Event::ApiCall(a) => E::ApiCall(pb::ApiCallRecord {
            method: out(&a.method),
            caller: Some(caller(&a.caller)),
            target: out(&a.target),
            run_id: a.run_id.unwrap_or_default(),
            decision: out(&a.decision),
            tier: out(&a.tier),
            code: a.code.unwrap_or_default(),
            duration: prost_types::Duration::try_from(a.duration).ok(),
            detail: out(&a.detail),
        }),
    };
    pb::HistoryEvent {
        seq: e.seq,
        at: Some(timestamp(e.at)),
        event: Some(event),
    }
}

fn check_availability(c: &CheckAvailability) -> pb::CheckAvailability {
    pb::CheckAvailability {
        check: out(&c.check),
        subject: out(&c.subject),
        runs: c.runs,
        ok_runs: c.ok_runs,
        ok_ratio: c.ok_ratio(),
        outages: c.outages,
        longest_outage: Some(super::duration(c.longest_outage)),
        mean_time_to_recover: c.mean_time_to_recover.map(super::duration),
        last_change: c.last_change.map(timestamp),
        current: opt_verdict(c.current),
        timeline: c.timeline.iter().map(|v| opt_verdict(*v)).collect(),
    }
}

/// A terminal's availability.
pub fn availability(terminal: &str, a: &Availability) -> pb::Availability {
    pb::Availability {
        terminal_id: terminal.to_owned(),
        from: Some(timestamp(a.from)),
        to: Some(timestamp(a.to)),
        bucket: Some(super::duration(a.bucket)),
        overall: a.overall.as_ref().map(check_availability),
        checks: a.checks.iter().map(check_availability).collect(),
    }
}

/// The daemon's state for ListTerminals (its reload part is the caller's).
pub fn daemon_state(d: &DaemonState, lang: Lang) -> pb::DaemonState {
    use pb::history_state::Condition;
    let path = out(&d.path().display().to_string());
    let findings = d.findings();
    let history = match d.store() {
        Store::Disabled => pb::HistoryState {
            condition: Condition::Disabled as i32,
            path,
            ..Default::default()
        },
        Store::Unavailable(why) => pb::HistoryState {
            condition: Condition::Degraded as i32,
            detail: out(why.get(lang)),
            path,
            ..Default::default()
        },
        Store::Open(h) => {
            let s = h.status();
            let moved = findings
                .iter()
                .find(|f| f.reason == posdiag_core::Reason::HistoryCorrupt);
            pb::HistoryState {
                condition: if s.degraded.is_some() {
                    Condition::Degraded
                } else {
                    Condition::Ok
                } as i32,
                detail: s
                    .degraded
                    .as_ref()
                    .or(moved.map(|f| &f.summary))
                    .map(|t| out(t.get(lang)))
                    .unwrap_or_default(),
                path,
                unwritten: s.unwritten,
                size_bytes: s.size_bytes,
            }
        }
    };
    pb::DaemonState {
        history: Some(history),
        reload: None,
        findings: findings.iter().map(|f| finding(f, lang)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_follow_aip_158() {
        assert_eq!(page_size(0), 100);
        assert_eq!(page_size(7), 7);
        assert_eq!(page_size(5000), 1000);
    }

    #[test]
    fn a_filter_refuses_unknown_enum_values_and_reversed_windows() {
        let f = pb::HistoryFilter {
            verdicts: vec![99],
            ..Default::default()
        };
        assert!(filter(Some(&f), &[]).is_err());
        let now = SystemTime::now();
        let f = pb::HistoryFilter {
            since: Some(timestamp(now)),
            until: Some(timestamp(now - Duration::from_secs(1))),
            ..Default::default()
        };
        let e = filter(Some(&f), &[]).unwrap_err().to_string();
        assert!(e.contains("since"), "{e}");
        assert!(filter(None, &[pb::EventKind::ApiCall as i32]).is_ok());
    }

    #[test]
    fn buckets_are_hours_or_days_and_never_more_than_a_thousand() {
        let day = Duration::from_secs(86_400);
        assert_eq!(bucket(&None, day).unwrap(), Duration::from_secs(3600));
        assert_eq!(bucket(&None, 7 * day).unwrap(), day);
        let tiny = Some(prost_types::Duration {
            seconds: 1,
            nanos: 0,
        });
        assert!(bucket(&tiny, 30 * day).unwrap() >= 30 * day / 1000);
        assert!(
            window(&Some(prost_types::Duration {
                seconds: 401 * 86_400,
                nanos: 0
            }))
            .is_err()
        );
    }
}
