//! Identifier validation for posdiag: payment card numbers, Chinese resident
//! identity numbers and social credit codes, IBANs and BICs, IMEI/MEID/IMSI,
//! ISO 8583 terminal and merchant IDs, phone numbers, wallet payment codes
//! (masked to their wallet prefix: they are bearer tokens), Hong Kong and
//! Taiwan identity card numbers, mainland residence permits of Hong Kong,
//! Macao and Taiwan residents, and acquirer rule sets for customer IDs.
//!
//! [`validate`] takes the bytes a person typed or a file held and returns a
//! [`Validation`]: valid or not, a reason from a closed list ([`IdReason`],
//! whose first four classes mean what python-stdnum's exceptions mean), what
//! the value looks like, what was expected and what to do — in English and
//! Simplified Chinese, put into words only when asked ([`Validation::texts`]).
//! [`check`] gives the verdict alone, without allocating,
//! for batch summaries and benchmarks; [`check_with`] does the same under
//! `auto` or a rule set.
//!
//! Invariants: no I/O, no clock, no environment; nothing returned, logged or
//! formatted shows a card number unmasked (first six and last four digits
//! only); every input, however malformed or long, gets a verdict in bounded
//! time without panicking.
//!
//! Deliberate differences from python-stdnum 2.2 (see `tests/stdnum.rs`):
//! resident identity numbers are checked against the same county table
//! (`data/cn-regions.tsv`, from stdnum's `cn/loc.dat`), but the residence
//! permits' codes 810000, 820000 and 830000 are accepted whatever the birth
//! year, as is the special code 91, and birth years must lie in 1900-2099;
//! Belgian IBANs are not looked up in a bank registry; full-width digits are
//! a `charset` rejection rather than silently converted; grouping spaces and
//! dashes are removed (with a note) for every kind but the fixed-length
//! ISO 8583 fields `tid` and `mid`, and IBANs also lose the dots people write
//! between groups (`NO93 8601.11.17947`), as in stdnum.

#![forbid(unsafe_code)]

mod algo;
mod checks;
mod error;
mod iin;
mod in_text;
mod kind;
mod normalize;
mod reason;
mod regions;
mod rules;
mod tables;
mod text;
mod validate;

pub use error::IdsError;
pub use in_text::mask_ids_in_text;
pub use kind::{Kind, KindSel};
pub use normalize::MAX_INPUT_BYTES;
pub use reason::IdReason;
pub use rules::{Charset, CheckAlgorithm, RuleSet};
pub use validate::{
    Candidate, Texts, Validation, check, check_display, check_failing, check_with, looks_like,
    validate,
};
