//! What a check concludes about one subject.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::id::TerminalId;
use crate::lang::Text;
use crate::reason::Reason;
use crate::verdict::Verdict;

/// Stable ids of the built-in checks.
pub mod checks {
    /// Name resolution of an acquirer host.
    pub const HOST_DNS: &str = "host.dns";
    /// TCP connect, repeated: loss, latency, jitter.
    pub const HOST_TCP: &str = "host.tcp";
    /// TLS handshake and certificate.
    pub const HOST_TLS: &str = "host.tls";
    /// Application-level send/expect exchange.
    pub const HOST_EXCHANGE: &str = "host.exchange";
    /// Every built-in host check, in the order they run.
    pub const HOST_ALL: &[&str] = &[HOST_DNS, HOST_TCP, HOST_TLS, HOST_EXCHANGE];
    /// The terminal's link: port present and free, opened, a protocol round trip (ZVT status
    /// enquiry) with link quality (NAKs, CRC errors, retransmissions, response time).
    pub const TERMINAL_LINK: &str = "terminal.link";
}

/// Who has to act on a remedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The merchant or the merchant's IT team.
    Merchant,
    /// The person paying.
    Cardholder,
    /// The acquiring bank or processor operating the host.
    Acquirer,
    /// The card issuer.
    Issuer,
    /// The terminal or software vendor.
    Vendor,
}

impl Actor {
    /// The actor's name in `lang`.
    pub fn label(self, lang: crate::Lang) -> &'static str {
        use crate::Lang::*;
        match (self, lang) {
            (Actor::Merchant, En) => "merchant",
            (Actor::Merchant, ZhCn) => "商户",
            (Actor::Cardholder, En) => "cardholder",
            (Actor::Cardholder, ZhCn) => "持卡人",
            (Actor::Acquirer, En) => "acquirer",
            (Actor::Acquirer, ZhCn) => "收单机构",
            (Actor::Issuer, En) => "issuer",
            (Actor::Issuer, ZhCn) => "发卡行",
            (Actor::Vendor, En) => "vendor",
            (Actor::Vendor, ZhCn) => "厂商",
        }
    }
}

/// One step that fixes or narrows down a problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Remedy {
    /// Who acts.
    pub actor: Actor,
    /// The step.
    pub text: Text,
}

impl Remedy {
    /// A remedy for `actor`, in English and Chinese.
    pub fn new(actor: Actor, en: impl Into<String>, zh: impl Into<String>) -> Remedy {
        Remedy {
            actor,
            text: Text::new(en, zh),
        }
    }
}

/// Unit of a numeric evidence value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// No unit (text and flag values).
    None,
    /// Milliseconds.
    Ms,
    /// A ratio between 0 and 1.
    Ratio,
    /// Days.
    Days,
    /// Bytes.
    Bytes,
    /// A count.
    Count,
}

impl Unit {
    /// The unit as written on the wire ("ms", "ratio", ...; empty for none).
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::None => "",
            Unit::Ms => "ms",
            Unit::Ratio => "ratio",
            Unit::Days => "days",
            Unit::Bytes => "bytes",
            Unit::Count => "count",
        }
    }
}

/// A measured or observed value.
#[derive(Debug, Clone, PartialEq)]
pub enum EvidenceValue {
    /// A number in the evidence's unit.
    Number(f64),
    /// Text.
    Text(String),
    /// Yes or no.
    Flag(bool),
}

impl fmt::Display for EvidenceValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvidenceValue::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => write!(f, "{n:.0}"),
            EvidenceValue::Number(n) => write!(f, "{n:.3}"),
            EvidenceValue::Text(t) => f.write_str(t),
            EvidenceValue::Flag(b) => write!(f, "{b}"),
        }
    }
}

/// One measured value behind a verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// Stable name such as `rtt_p95`.
    pub name: String,
    /// The value.
    pub value: EvidenceValue,
    /// The unit of a number.
    pub unit: Unit,
}

impl Evidence {
    /// A number with a unit.
    pub fn number(name: &str, value: f64, unit: Unit) -> Evidence {
        Evidence {
            name: name.to_owned(),
            value: EvidenceValue::Number(value),
            unit,
        }
    }

    /// A duration, in milliseconds with microsecond precision.
    pub fn millis(name: &str, d: Duration) -> Evidence {
        Evidence::number(name, (d.as_secs_f64() * 1e6).round() / 1e3, Unit::Ms)
    }

    /// A text observation.
    pub fn text(name: &str, value: impl Into<String>) -> Evidence {
        Evidence {
            name: name.to_owned(),
            value: EvidenceValue::Text(value.into()),
            unit: Unit::None,
        }
    }

    /// A yes/no observation.
    pub fn flag(name: &str, value: bool) -> Evidence {
        Evidence {
            name: name.to_owned(),
            value: EvidenceValue::Flag(value),
            unit: Unit::None,
        }
    }
}

/// Which component produced a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Producer {
    /// `builtin` or a plugin id.
    pub id: String,
    /// The producer's version.
    pub version: String,
}

impl Producer {
    /// The checks compiled into posdiag.
    pub fn builtin() -> Producer {
        Producer {
            id: "builtin".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// What one check concluded about one subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Stable check id, such as `host.tcp`.
    pub check: String,
    /// The conclusion.
    pub verdict: Verdict,
    /// Why.
    pub reason: Reason,
    /// One sentence, in every language.
    pub summary: Text,
    /// Measurements behind the verdict.
    pub evidence: Vec<Evidence>,
    /// Ordered steps to fix the problem.
    pub remedies: Vec<Remedy>,
    /// How long the check took.
    pub duration: Duration,
    /// When the check finished.
    pub observed_at: SystemTime,
    /// The terminal, when the subject belongs to a configured one.
    pub terminal: Option<TerminalId>,
    /// What was checked, such as `acquirer-a (host.example:5000)`.
    pub subject: String,
    /// Who produced the finding.
    pub producer: Producer,
}

impl Finding {
    /// The evidence called `name`, if any.
    pub fn evidence(&self, name: &str) -> Option<&EvidenceValue> {
        self.evidence
            .iter()
            .find(|e| e.name == name)
            .map(|e| &e.value)
    }
}
