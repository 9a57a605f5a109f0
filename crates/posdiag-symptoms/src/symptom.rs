//! The closed list of symptoms posdiag can start a diagnosis from, with
//! their stable ids, titles, the doctor's stages for each, and, for the
//! questions no check can answer, who to contact instead.

use std::fmt;

use posdiag_codes::KnowledgeBase;
use posdiag_core::{Actor, Remedy, Text};

use crate::plan;

/// A symptom: what a person saw, as the doctor understands it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Symptom {
    /// A code the terminal showed, as typed ("103", "05", "0x64"):
    /// `code:103`. Explained in the terminal's dialect first.
    Code(String),
    /// The terminal refused a customer ID: `unsupported-id`.
    UnsupportedId,
    /// The card was not read (chip, stripe or contactless): `card-unreadable`.
    CardUnreadable,
    /// The card was read and declined: `card-declined`.
    CardDeclined,
    /// Payments fail, nothing more said: `payments-failing` (a full check-up).
    PaymentsFailing,
    /// No connection to the bank, or an unstable one: `no-connection`.
    NoConnection,
    /// The terminal does not respond (frozen, dark, unreachable from the
    /// till): `not-responding`.
    NotResponding,
    /// Transactions are slow: `slow-transactions`.
    SlowTransactions,
    /// Money has not arrived in the account (advice only): `money-not-arrived`.
    MoneyNotArrived,
    /// Fees and rates (advice only): `fees-rates`.
    FeesRates,
    /// How to get a terminal (advice only): `get-terminal`.
    GetTerminal,
}

/// The symptoms that are not codes, in the order people meet them.
pub const NAMED: &[Symptom] = &[
    Symptom::UnsupportedId,
    Symptom::CardUnreadable,
    Symptom::CardDeclined,
    Symptom::PaymentsFailing,
    Symptom::NoConnection,
    Symptom::NotResponding,
    Symptom::SlowTransactions,
    Symptom::MoneyNotArrived,
    Symptom::FeesRates,
    Symptom::GetTerminal,
];

impl Symptom {
    /// The stable id: `code:103`, `unsupported-id`, `card-unreadable`, ...
    pub fn id(&self) -> String {
        match self {
            Symptom::Code(c) => format!("code:{c}"),
            other => other.name().to_owned(),
        }
    }

    /// The id of a named symptom; `"code"` for a code.
    pub fn name(&self) -> &'static str {
        match self {
            Symptom::Code(_) => "code",
            Symptom::UnsupportedId => "unsupported-id",
            Symptom::CardUnreadable => "card-unreadable",
            Symptom::CardDeclined => "card-declined",
            Symptom::PaymentsFailing => "payments-failing",
            Symptom::NoConnection => "no-connection",
            Symptom::NotResponding => "not-responding",
            Symptom::SlowTransactions => "slow-transactions",
            Symptom::MoneyNotArrived => "money-not-arrived",
            Symptom::FeesRates => "fees-rates",
            Symptom::GetTerminal => "get-terminal",
        }
    }

    /// A symptom written as its id (case-insensitive): a named id,
    /// `unsupported-customer-id` (the older spelling) or `code:CODE`.
    /// Free text is [`crate::Matcher`]'s.
    pub fn from_id(text: &str) -> Option<Symptom> {
        let t = text.trim();
        if let Some(code) = t
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("code:"))
            .and_then(|_| t.get(5..))
        {
            let code = code.trim();
            return (!code.is_empty() && code.len() <= 32 && !code.contains(char::is_whitespace))
                .then(|| Symptom::Code(code.to_owned()));
        }
        if t.eq_ignore_ascii_case("unsupported-customer-id") {
            return Some(Symptom::UnsupportedId);
        }
        NAMED
            .iter()
            .find(|s| s.name().eq_ignore_ascii_case(t))
            .cloned()
    }

    /// Whether no check can answer it: only advice (who to contact).
    pub fn is_advice(&self) -> bool {
        matches!(
            self,
            Symptom::MoneyNotArrived | Symptom::FeesRates | Symptom::GetTerminal
        )
    }

    /// One line saying what the symptom is; a code with its meaning (the
    /// first interpretation, `prefer`'s scheme first).
    pub fn title(&self, kb: &KnowledgeBase, prefer: Option<&posdiag_codes::Scheme>) -> Text {
        match self {
            Symptom::Code(c) => match kb.explain(c, None, prefer).first() {
                Some(e) => Text::new(
                    format!("code {c} shown: {}", e.meaning.en),
                    format!("显示代码 {c}：{}", e.meaning.zh),
                ),
                None => Text::new(
                    format!("code {c} shown (not in the code tables)"),
                    format!("显示代码 {c}（代码表中没有）"),
                ),
            },
            Symptom::UnsupportedId => Text::new(
                "the terminal refuses a customer ID (\"unsupported customer ID\")",
                "终端拒绝客户 ID（“不支持的客户ID”）",
            ),
            Symptom::CardUnreadable => Text::new(
                "a card is not read (chip, stripe or contactless)",
                "读不了卡（芯片、磁条或非接）",
            ),
            Symptom::CardDeclined => {
                Text::new("a card is read but declined", "卡能读出，但交易被拒绝")
            }
            Symptom::PaymentsFailing => Text::new(
                "payments fail: a full check-up of the terminal, its reader and its hosts",
                "收不了款：对终端、读卡器和主机做全面检查",
            ),
            Symptom::NoConnection => Text::new(
                "no connection to the bank, or an unstable network",
                "连不上银行，或网络不稳定",
            ),
            Symptom::NotResponding => Text::new("the terminal does not respond", "终端没有反应"),
            Symptom::SlowTransactions => Text::new("transactions are slow", "交易很慢"),
            Symptom::MoneyNotArrived => {
                Text::new("money has not arrived in the account", "钱没有到账")
            }
            Symptom::FeesRates => {
                Text::new("a question about fees or rates", "关于手续费或费率的问题")
            }
            Symptom::GetTerminal => Text::new("how to get a terminal", "如何办理终端"),
        }
    }

    /// The doctor's stages for it, in troubleshooting order ([`plan::STAGES`]
    /// names them); a code's stages follow its category. Empty for advice.
    pub fn stages(
        &self,
        kb: &KnowledgeBase,
        prefer: Option<&posdiag_codes::Scheme>,
    ) -> &'static [&'static str] {
        match self {
            Symptom::Code(c) => match kb.explain(c, None, prefer).first() {
                Some(e) => plan::stages_for(e.category),
                None => plan::ALL_STAGES,
            },
            Symptom::UnsupportedId => plan::stages_for(posdiag_codes::Category::IdFormat),
            Symptom::CardUnreadable => &["link", "terminal", "reader"],
            Symptom::CardDeclined => &["link", "network", "echo", "host diagnosis"],
            Symptom::PaymentsFailing => plan::ALL_STAGES,
            Symptom::NoConnection => plan::stages_for(posdiag_codes::Category::Network),
            Symptom::NotResponding => &["link", "terminal", "software"],
            Symptom::SlowTransactions => &["link", "network", "echo", "host diagnosis"],
            Symptom::MoneyNotArrived | Symptom::FeesRates | Symptom::GetTerminal => &[],
        }
    }

    /// The check ids the doctor would run for it (every check of its
    /// stages; a terminal runs those it offers). Empty for advice.
    pub fn checks(
        &self,
        kb: &KnowledgeBase,
        prefer: Option<&posdiag_codes::Scheme>,
    ) -> Vec<&'static str> {
        plan::checks_of(self.stages(kb, prefer))
    }

    /// Who to contact, for the questions no check can answer; empty for
    /// the others.
    pub fn advice(&self) -> Vec<Remedy> {
        match self {
            Symptom::MoneyNotArrived => vec![
                Remedy::new(
                    Actor::Merchant,
                    "Compare the day's settlement report (end-of-day total) with the bank statement: settlement usually arrives one working day later (T+1)",
                    "将当天的结算单（日结总额）与银行流水核对：结算款通常在下一个工作日（T+1）到账",
                ),
                Remedy::new(
                    Actor::Acquirer,
                    "Ask the acquirer (the bank or payment company that gave you the terminal) about the settlement of that day: they hold the funds until they pay out",
                    "联系收单机构（提供终端的银行或支付公司）查询当天的结算：款项在其付款前由其保管",
                ),
            ],
            Symptom::FeesRates => vec![Remedy::new(
                Actor::Acquirer,
                "Fees and rates are set in your contract with the acquirer (the bank or payment company that gave you the terminal): ask them for the fee schedule",
                "手续费和费率由您与收单机构（提供终端的银行或支付公司）的合同约定：请向其索取收费标准",
            )],
            Symptom::GetTerminal => vec![
                Remedy::new(
                    Actor::Acquirer,
                    "Terminals come with an acquiring contract: apply at your bank or a licensed payment company, with your business licence and a settlement account",
                    "终端随收单合同提供：请携带营业执照和结算账户到银行或持牌支付机构申请",
                ),
                Remedy::new(
                    Actor::Vendor,
                    "For another terminal of a model you already use, ask the vendor or your acquirer's service line",
                    "如需再添一台已在使用的型号，请联系厂商或收单机构的服务热线",
                ),
            ],
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for Symptom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_the_old_spellings_still_work() {
        for s in NAMED {
            assert_eq!(Symptom::from_id(&s.id()).as_ref(), Some(s));
        }
        assert_eq!(
            Symptom::from_id("code:103"),
            Some(Symptom::Code("103".into()))
        );
        assert_eq!(
            Symptom::from_id(" Unsupported-Customer-ID "),
            Some(Symptom::UnsupportedId)
        );
        assert_eq!(Symptom::from_id("code:"), None);
        assert_eq!(Symptom::from_id("收不了款"), None);
        assert_eq!(Symptom::from_id("码"), None);
    }

    #[test]
    fn advice_has_no_checks_and_names_who_to_contact() {
        let kb = KnowledgeBase::builtin();
        for s in NAMED {
            assert_eq!(s.is_advice(), s.checks(&kb, None).is_empty(), "{s}");
            assert_eq!(s.is_advice(), !s.advice().is_empty(), "{s}");
            let t = s.title(&kb, None);
            assert!(!t.en.is_empty() && !t.zh.is_empty(), "{s}");
        }
        let code = Symptom::Code("05".into());
        assert!(code.title(&kb, None).en.starts_with("code 05 shown: "));
        assert!(!code.checks(&kb, None).is_empty());
        assert!(
            Symptom::PaymentsFailing
                .checks(&kb, None)
                .contains(&"reader.status")
        );
    }
}
