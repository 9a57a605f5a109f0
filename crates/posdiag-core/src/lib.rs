//! posdiag's domain vocabulary: what a check concludes ([`Finding`]), how bad
//! it is ([`Verdict`]), why ([`Reason`]) and what to do ([`Remedy`]).
//!
//! This crate never does I/O, never reads a clock or the environment, and
//! depends on no runtime: every other crate can use it, and its types can be
//! built and compared in plain unit tests.

#![forbid(unsafe_code)]

mod finding;
mod id;
mod lang;
mod mask;
mod reason;
mod verdict;

pub use finding::{Actor, Evidence, EvidenceValue, Finding, Producer, Remedy, Unit, checks};
pub use id::{IdError, TerminalId};
pub use lang::{Lang, LangError, Text};
pub use mask::mask_card_numbers;
pub use reason::Reason;
pub use verdict::Verdict;
