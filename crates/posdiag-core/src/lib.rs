//! posdiag's domain vocabulary: what a check concludes ([`Finding`]), how bad
//! it is ([`Verdict`]), why ([`Reason`]) and what to do ([`Remedy`]).
//!
//! It also holds the sans-I/O protocol codecs the checks and simulators share: [`zvt`]
//! (APDUs, bitmaps, TLV and the serial framing state machine), [`iso8583`] (messages in
//! per-host dialects, with the China UnionPay framing) and [`nexo`] (Sale-to-POI JSON). A
//! codec is fed bytes (and, where timing matters, the current instant) and returns values or
//! typed errors; it never panics on input and never allocates more than the input justifies.
//!
//! This crate never does I/O, never reads a clock or the environment, and
//! depends on no runtime: every other crate can use it, and its types can be
//! built and compared in plain unit tests.

#![forbid(unsafe_code)]

mod finding;
mod id;
pub mod iso8583;
mod lang;
mod mask;
pub mod nexo;
mod reason;
mod verdict;
pub mod zvt;

pub use finding::{Actor, Evidence, EvidenceValue, Finding, Producer, Remedy, Unit, checks};
pub use id::{IdError, TerminalId};
pub use lang::{Lang, LangError, Text};
pub use mask::{QUOTE_MAX_CHARS, mask_card_bytes, mask_card_numbers, may_hold_card_number, quote};
pub use reason::Reason;
pub use verdict::Verdict;
