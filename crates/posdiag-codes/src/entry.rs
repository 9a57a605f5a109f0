//! One code's explanation and the closed lists its fields come from.

use std::fmt;
use std::str::FromStr;

use posdiag_core::{Actor, Remedy, Text};

use crate::Scheme;

/// What kind of problem a code points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// The transaction went through.
    Approved,
    /// Communication between terminal, host and network.
    Network,
    /// The host, switch or issuer system.
    Host,
    /// Planned maintenance, cut-over, end of day.
    Maintenance,
    /// The cardholder's account.
    Account,
    /// An amount or count limit.
    Limit,
    /// The card itself (expired, lost, restricted, unreadable data).
    Card,
    /// The terminal's card reader hardware.
    Reader,
    /// The terminal (software, printer, PIN pad, state).
    Terminal,
    /// The merchant's or terminal's set-up at the acquirer.
    MerchantConfig,
    /// A malformed or unknown identifier (card number, MID, TID).
    IdFormat,
    /// Keys, MACs, PINs, fraud.
    Security,
    /// Message format and protocol errors.
    Format,
    /// Anything else.
    Other,
}

impl Category {
    /// Every category, in a stable order.
    pub const ALL: &[Category] = &[
        Category::Approved,
        Category::Network,
        Category::Host,
        Category::Maintenance,
        Category::Account,
        Category::Limit,
        Category::Card,
        Category::Reader,
        Category::Terminal,
        Category::MerchantConfig,
        Category::IdFormat,
        Category::Security,
        Category::Format,
        Category::Other,
    ];

    /// The name used in data files and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Approved => "approved",
            Category::Network => "network",
            Category::Host => "host",
            Category::Maintenance => "maintenance",
            Category::Account => "account",
            Category::Limit => "limit",
            Category::Card => "card",
            Category::Reader => "reader",
            Category::Terminal => "terminal",
            Category::MerchantConfig => "merchant-config",
            Category::IdFormat => "id-format",
            Category::Security => "security",
            Category::Format => "format",
            Category::Other => "other",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = String;

    fn from_str(s: &str) -> Result<Category, String> {
        Category::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Category::ALL.iter().map(|c| c.as_str()).collect();
                format!(
                    "unknown category {s:?}: expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// Whether trying the same transaction again can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retry {
    /// A retry now may succeed.
    Yes,
    /// Retrying the same thing will fail the same way.
    No,
    /// Retry after the condition clears or someone acts.
    Later,
}

impl Retry {
    /// The name used in data files and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Retry::Yes => "yes",
            Retry::No => "no",
            Retry::Later => "later",
        }
    }
}

impl fmt::Display for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Retry {
    type Err = String;

    fn from_str(s: &str) -> Result<Retry, String> {
        match s {
            "yes" => Ok(Retry::Yes),
            "no" => Ok(Retry::No),
            "later" => Ok(Retry::Later),
            _ => Err(format!("unknown retry {s:?}: expected yes, no or later")),
        }
    }
}

/// The data-file name of an actor.
pub fn actor_name(actor: Actor) -> &'static str {
    match actor {
        Actor::Merchant => "merchant",
        Actor::Cardholder => "cardholder",
        Actor::Acquirer => "acquirer",
        Actor::Issuer => "issuer",
        Actor::Vendor => "vendor",
    }
}

/// Parses an actor name from a data file.
pub fn actor_from_str(s: &str) -> Result<Actor, String> {
    match s {
        "merchant" => Ok(Actor::Merchant),
        "cardholder" => Ok(Actor::Cardholder),
        "acquirer" => Ok(Actor::Acquirer),
        "issuer" => Ok(Actor::Issuer),
        "vendor" => Ok(Actor::Vendor),
        _ => Err(format!(
            "unknown actor {s:?}: expected merchant, cardholder, acquirer, issuer or vendor"
        )),
    }
}

/// What one code of one scheme means.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The scheme the code belongs to.
    pub scheme: Scheme,
    /// The code as the scheme writes it (`05`, `103`, `6C`, `UnreachableHost`).
    pub code: String,
    /// What kind of problem it points at.
    pub category: Category,
    /// Whether a retry can help.
    pub retry: Retry,
    /// The meaning.
    pub meaning: Text,
    /// Likely causes, most likely first.
    pub causes: Vec<Text>,
    /// Ordered steps, each naming who acts.
    pub remedies: Vec<Remedy>,
    /// Where the fact comes from.
    pub source: String,
}
