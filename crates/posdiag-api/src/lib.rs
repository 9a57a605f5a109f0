//! The client-and-server half of the API, as console's `console-api` is:
//! conversions between the gRPC messages (`posdiag-proto`) and the pure
//! domain crates both sides use, identifiers (`posdiag-ids`), codes
//! (`posdiag-codes`), EMV data (`posdiag-emv`) and symptom matches
//! (`posdiag-symptoms`), and the `[rules.NAME]` tables of the daemon's
//! configuration. posdiagd answers with these; `posdiag`'s `--local` modes
//! print with them, so both print exactly the same.
//!
//! Everything here is pure: no I/O, no engine, no gRPC transport. Mappings
//! of engine types stay in posdiagd's `convert.rs`.

#![forbid(unsafe_code)]

mod codes;
pub mod emv;
mod ids;
pub mod rules;
pub mod symptoms;

pub use codes::{code_entry, explain};
pub use ids::{id_kind, id_result, rule_set};

use posdiag_core::Actor;
use posdiag_proto::v1 as pb;

/// An actor as its proto enum value.
pub fn actor(a: Actor) -> i32 {
    (match a {
        Actor::Merchant => pb::Actor::Merchant,
        Actor::Cardholder => pb::Actor::Cardholder,
        Actor::Acquirer => pb::Actor::Acquirer,
        Actor::Issuer => pb::Actor::Issuer,
        Actor::Vendor => pb::Actor::Vendor,
    }) as i32
}

/// A text for a reply: a card number that reached a message, a name or a
/// path leaves masked.
fn out(text: &str) -> String {
    posdiag_core::mask_card_numbers(text)
}
