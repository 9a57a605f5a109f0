//! The stored bodies: what a row keeps beside its indexed columns, as
//! protobuf messages private to this crate (the file's format, not the API's:
//! texts keep both languages, so the history reads in either). Every string
//! passes the card-number mask on the way in, so no card number reaches the
//! file.

use std::time::Duration;

use posdiag_core::{
    Actor, Evidence, EvidenceValue, Finding, Producer, Remedy, Text, Unit, mask_card_numbers,
};
use prost::Message;

use crate::record::{
    ApiCall, Caller, Diagnosis, LinkEvent, PluginFault, Reload, RunSummary, verdict_code,
    verdict_from,
};

#[derive(Clone, PartialEq, Message)]
pub(crate) struct TextV1 {
    #[prost(string, tag = "1")]
    pub en: String,
    #[prost(string, tag = "2")]
    pub zh: String,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct EvidenceV1 {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(oneof = "ValueV1", tags = "2, 3, 4")]
    pub value: Option<ValueV1>,
    #[prost(string, tag = "5")]
    pub unit: String,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum ValueV1 {
    #[prost(double, tag = "2")]
    Number(f64),
    #[prost(string, tag = "3")]
    Text(String),
    #[prost(bool, tag = "4")]
    Flag(bool),
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct RemedyV1 {
    #[prost(uint32, tag = "1")]
    pub actor: u32,
    #[prost(message, optional, tag = "2")]
    pub text: Option<TextV1>,
}

/// A finding's body; check, verdict, reason, subject, terminal and time are
/// columns.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct FindingV1 {
    #[prost(message, optional, tag = "1")]
    pub summary: Option<TextV1>,
    #[prost(message, repeated, tag = "2")]
    pub evidence: Vec<EvidenceV1>,
    #[prost(message, repeated, tag = "3")]
    pub remedies: Vec<RemedyV1>,
    #[prost(uint64, tag = "4")]
    pub duration_us: u64,
    #[prost(string, tag = "5")]
    pub producer_id: String,
    #[prost(string, tag = "6")]
    pub producer_version: String,
    /// The time with sub-millisecond precision (the column has milliseconds).
    #[prost(uint32, tag = "7")]
    pub observed_sub_ms_ns: u32,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct CallerV1 {
    #[prost(uint32, optional, tag = "1")]
    pub uid: Option<u32>,
    #[prost(uint32, optional, tag = "2")]
    pub pid: Option<u32>,
    #[prost(string, tag = "3")]
    pub peer: String,
    #[prost(string, tag = "4")]
    pub principal: String,
    #[prost(uint32, optional, tag = "5")]
    pub gid: Option<u32>,
    #[prost(string, tag = "6")]
    pub authn: String,
    #[prost(string, tag = "7")]
    pub certificate: String,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct CauseV1 {
    #[prost(string, tag = "1")]
    pub reason: String,
    #[prost(message, optional, tag = "2")]
    pub title: Option<TextV1>,
}

/// An event's body, by kind.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct EventV1 {
    #[prost(oneof = "EventBodyV1", tags = "1, 2, 3, 4, 5, 6")]
    pub body: Option<EventBodyV1>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum EventBodyV1 {
    #[prost(message, tag = "1")]
    Run(RunV1),
    #[prost(message, tag = "2")]
    Diagnosis(DiagnosisV1),
    #[prost(message, tag = "3")]
    PluginFault(PluginFaultV1),
    #[prost(message, tag = "4")]
    Link(LinkV1),
    #[prost(message, tag = "5")]
    Reload(ReloadV1),
    #[prost(message, tag = "6")]
    ApiCall(ApiCallV1),
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct RunV1 {
    #[prost(uint64, tag = "1")]
    pub run_id: u64,
    #[prost(message, optional, tag = "2")]
    pub caller: Option<CallerV1>,
    #[prost(int64, tag = "3")]
    pub started_ms: i64,
    #[prost(uint64, tag = "4")]
    pub duration_us: u64,
    #[prost(uint32, tag = "5")]
    pub findings: u32,
    #[prost(string, tag = "6")]
    pub target: String,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct DiagnosisV1 {
    #[prost(uint64, tag = "1")]
    pub run_id: u64,
    #[prost(string, tag = "2")]
    pub symptom: String,
    #[prost(int64, tag = "3")]
    pub overall: i64,
    #[prost(message, optional, tag = "4")]
    pub summary: Option<TextV1>,
    #[prost(message, repeated, tag = "5")]
    pub causes: Vec<CauseV1>,
    #[prost(message, optional, tag = "6")]
    pub caller: Option<CallerV1>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct PluginFaultV1 {
    #[prost(string, tag = "1")]
    pub plugin: String,
    #[prost(string, tag = "2")]
    pub fault: String,
    #[prost(message, optional, tag = "3")]
    pub detail: Option<TextV1>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct LinkV1 {
    #[prost(bool, tag = "1")]
    pub present: bool,
    #[prost(string, tag = "2")]
    pub path: String,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct ReloadV1 {
    #[prost(bool, tag = "1")]
    pub applied: bool,
    #[prost(message, optional, tag = "2")]
    pub detail: Option<TextV1>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct ApiCallV1 {
    #[prost(string, tag = "1")]
    pub method: String,
    #[prost(message, optional, tag = "2")]
    pub caller: Option<CallerV1>,
    #[prost(string, tag = "3")]
    pub target: String,
    #[prost(uint64, optional, tag = "4")]
    pub run_id: Option<u64>,
    #[prost(string, tag = "5")]
    pub decision: String,
    #[prost(string, tag = "6")]
    pub tier: String,
    #[prost(int32, optional, tag = "7")]
    pub code: Option<i32>,
    #[prost(uint64, tag = "8")]
    pub duration_us: u64,
    #[prost(string, tag = "9")]
    pub detail: String,
}

/// Masks card numbers in what is about to be stored.
pub(crate) fn m(s: &str) -> String {
    mask_card_numbers(s)
}

pub(crate) fn text_in(t: &Text) -> TextV1 {
    TextV1 {
        en: m(&t.en),
        zh: m(&t.zh),
    }
}

fn text_out(t: Option<TextV1>) -> Text {
    let t = t.unwrap_or_default();
    Text::new(t.en, t.zh)
}

fn actor_code(a: Actor) -> u32 {
    match a {
        Actor::Merchant => 1,
        Actor::Cardholder => 2,
        Actor::Acquirer => 3,
        Actor::Issuer => 4,
        Actor::Vendor => 5,
    }
}

fn actor_from(code: u32) -> Actor {
    match code {
        2 => Actor::Cardholder,
        3 => Actor::Acquirer,
        4 => Actor::Issuer,
        5 => Actor::Vendor,
        _ => Actor::Merchant,
    }
}

fn unit_from(s: &str) -> Unit {
    [Unit::Ms, Unit::Ratio, Unit::Days, Unit::Bytes, Unit::Count]
        .into_iter()
        .find(|u| u.as_str() == s)
        .unwrap_or(Unit::None)
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A finding's body, masked.
pub(crate) fn finding_body(f: &Finding, buf: &mut Vec<u8>) {
    let sub_ms = f
        .observed_at
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 1_000_000)
        .unwrap_or(0);
    let body = FindingV1 {
        summary: Some(text_in(&f.summary)),
        evidence: f
            .evidence
            .iter()
            .map(|e| EvidenceV1 {
                name: e.name.clone(),
                value: Some(match &e.value {
                    EvidenceValue::Number(n) => ValueV1::Number(*n),
                    EvidenceValue::Text(t) => ValueV1::Text(m(t)),
                    EvidenceValue::Flag(b) => ValueV1::Flag(*b),
                }),
                unit: e.unit.as_str().to_owned(),
            })
            .collect(),
        remedies: f
            .remedies
            .iter()
            .map(|r| RemedyV1 {
                actor: actor_code(r.actor),
                text: Some(text_in(&r.text)),
            })
            .collect(),
        duration_us: us(f.duration),
        producer_id: f.producer.id.clone(),
        producer_version: f.producer.version.clone(),
        observed_sub_ms_ns: sub_ms,
    };
    buf.clear();
    // Encoding into a Vec cannot fail for lack of room.
    let _ = body.encode(buf);
}

/// The parts of a finding that are columns.
pub(crate) struct FindingColumns {
    pub check: String,
    pub verdict: i64,
    pub reason: String,
    pub subject: String,
    pub terminal: Option<String>,
    pub at_ms: i64,
}

/// A finding from its columns and body.
pub(crate) fn finding_out(c: FindingColumns, body: &[u8]) -> Result<Finding, prost::DecodeError> {
    let b = FindingV1::decode(body)?;
    let observed_at =
        crate::record::time(c.at_ms) + Duration::from_nanos(b.observed_sub_ms_ns.into());
    Ok(Finding {
        check: c.check,
        verdict: verdict_from(c.verdict).unwrap_or(posdiag_core::Verdict::Unknown),
        // A code this build does not know (written by a newer one with the
        // same schema) reads as an internal error rather than failing the list.
        reason: c
            .reason
            .parse()
            .unwrap_or(posdiag_core::Reason::InternalError),
        summary: text_out(b.summary),
        evidence: b
            .evidence
            .into_iter()
            .map(|e| Evidence {
                name: e.name,
                value: match e.value {
                    Some(ValueV1::Number(n)) => EvidenceValue::Number(n),
                    Some(ValueV1::Text(t)) => EvidenceValue::Text(t),
                    Some(ValueV1::Flag(b)) => EvidenceValue::Flag(b),
                    None => EvidenceValue::Text(String::new()),
                },
                unit: unit_from(&e.unit),
            })
            .collect(),
        remedies: b
            .remedies
            .into_iter()
            .map(|r| Remedy {
                actor: actor_from(r.actor),
                text: text_out(r.text),
            })
            .collect(),
        duration: Duration::from_micros(b.duration_us),
        observed_at,
        terminal: c
            .terminal
            .and_then(|t| posdiag_core::TerminalId::new(&t).ok()),
        subject: c.subject,
        producer: Producer {
            id: b.producer_id,
            version: b.producer_version,
        },
    })
}

pub(crate) fn caller_in(c: &Caller) -> CallerV1 {
    CallerV1 {
        uid: c.uid,
        pid: c.pid,
        peer: c.peer.clone(),
        principal: m(&c.principal),
        gid: c.gid,
        authn: c.authn.clone(),
        certificate: m(&c.certificate),
    }
}

fn caller_out(c: CallerV1) -> Caller {
    Caller {
        uid: c.uid,
        pid: c.pid,
        peer: c.peer,
        principal: c.principal,
        gid: c.gid,
        authn: c.authn,
        certificate: c.certificate,
    }
}

/// An event's body.
pub(crate) fn event_body(body: EventBodyV1) -> Vec<u8> {
    EventV1 { body: Some(body) }.encode_to_vec()
}

pub(crate) fn diagnosis_in(d: &Diagnosis) -> EventBodyV1 {
    EventBodyV1::Diagnosis(DiagnosisV1 {
        run_id: d.run_id,
        symptom: m(&d.symptom),
        overall: verdict_code(d.overall),
        summary: Some(text_in(&d.summary)),
        causes: d
            .causes
            .iter()
            .map(|(reason, title)| CauseV1 {
                reason: m(reason),
                title: Some(text_in(title)),
            })
            .collect(),
        caller: d.caller.as_ref().map(caller_in),
    })
}

/// The columns of an event row that the body does not repeat.
pub(crate) struct EventColumns {
    pub terminal: Option<String>,
    pub origin: i64,
    pub verdict: i64,
    pub at_ms: i64,
}

/// An event from its columns and body.
pub(crate) fn event_out(
    c: EventColumns,
    body: &[u8],
) -> Result<crate::record::Event, crate::PageError> {
    use crate::record::{Event, Origin};
    let at = crate::record::time(c.at_ms);
    let terminal = c
        .terminal
        .and_then(|t| posdiag_core::TerminalId::new(&t).ok());
    let required = || crate::PageError::Damaged("an event without its terminal".into());
    let e = EventV1::decode(body)?;
    Ok(match e.body {
        Some(EventBodyV1::Run(r)) => Event::Run(RunSummary {
            run_id: r.run_id,
            terminal,
            origin: Origin::from_code(c.origin).unwrap_or(Origin::Daemon),
            caller: r.caller.map(caller_out),
            started: crate::record::time(r.started_ms),
            duration: Duration::from_micros(r.duration_us),
            overall: verdict_from(c.verdict),
            findings: r.findings,
            target: r.target,
        }),
        Some(EventBodyV1::Diagnosis(d)) => Event::Diagnosis(Diagnosis {
            run_id: d.run_id,
            terminal: terminal.clone().ok_or_else(required)?,
            symptom: d.symptom,
            overall: verdict_from(d.overall),
            summary: text_out(d.summary),
            causes: d
                .causes
                .into_iter()
                .map(|c| (c.reason, text_out(c.title)))
                .collect(),
            caller: d.caller.map(caller_out),
            at,
        }),
        Some(EventBodyV1::PluginFault(p)) => Event::PluginFault(PluginFault {
            plugin: p.plugin,
            fault: p.fault,
            detail: text_out(p.detail),
            at,
        }),
        Some(EventBodyV1::Link(l)) => Event::Link(LinkEvent {
            terminal: terminal.clone().ok_or_else(required)?,
            present: l.present,
            path: l.path,
            at,
        }),
        Some(EventBodyV1::Reload(r)) => Event::Reload(Reload {
            applied: r.applied,
            detail: text_out(r.detail),
            at,
        }),
        Some(EventBodyV1::ApiCall(a)) => Event::ApiCall(ApiCall {
            method: a.method,
            caller: a.caller.map(caller_out).unwrap_or_default(),
            target: a.target,
            terminal: terminal.clone(),
            run_id: a.run_id,
            at,
            decision: a.decision,
            tier: a.tier,
            code: a.code,
            duration: std::time::Duration::from_micros(a.duration_us),
            detail: a.detail,
        }),
        None => return Err(crate::PageError::Damaged("an event without a body".into())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use posdiag_core::{Reason, TerminalId, Verdict};

    #[test]
    fn a_finding_round_trips_with_both_languages_and_card_numbers_masked() {
        let f = Finding {
            check: "reader.read_card".into(),
            verdict: Verdict::Critical,
            reason: Reason::InternalError,
            summary: Text::new(
                "card 4111111111111111 not read",
                "卡 4111111111111111 未读取",
            ),
            evidence: vec![
                Evidence::text("pan", "4111111111111111"),
                Evidence::number("rtt", 1.5, Unit::Ms),
                Evidence::flag("chip", true),
            ],
            remedies: vec![Remedy::new(Actor::Issuer, "call", "致电")],
            duration: Duration::from_micros(1234),
            observed_at: std::time::SystemTime::UNIX_EPOCH
                + Duration::from_nanos(1_700_000_000_123_456_789),
            terminal: TerminalId::new("T1").ok(),
            subject: "T1".into(),
            producer: Producer::builtin(),
        };
        let mut buf = Vec::new();
        finding_body(&f, &mut buf);
        assert!(!String::from_utf8_lossy(&buf).contains("4111111111111111"));
        let cols = FindingColumns {
            check: f.check.clone(),
            verdict: verdict_code(Some(f.verdict)),
            reason: f.reason.code().into(),
            subject: f.subject.clone(),
            terminal: Some("T1".into()),
            at_ms: crate::record::ms(f.observed_at),
        };
        let back = finding_out(cols, &buf).expect("decodes");
        assert_eq!(back.observed_at, f.observed_at);
        assert_eq!(back.evidence[1], f.evidence[1]);
        assert_eq!(back.remedies, f.remedies);
        assert!(back.summary.zh.starts_with("卡 "));
        assert!(!back.summary.en.contains("4111111111111111"));
        assert_eq!(back.duration, f.duration);
    }
}
