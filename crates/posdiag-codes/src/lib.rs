//! posdiag's code knowledge base: what a response, result or error code
//! printed by a payment terminal or its host means, in English and
//! Simplified Chinese, with likely causes, who has to act, and whether a
//! retry can help.
//!
//! A code is only meaningful together with its [`Scheme`] ("103" is a
//! decline in ISO 8583:1993, "invalid merchant" in "1"+1987 dialects and
//! ZVT result 0x67 read as decimal), so [`KnowledgeBase::explain`] returns
//! every interpretation and lets the caller put the terminal's own dialect
//! first.
//!
//! The built-in tables live in `data/*.tsv` (format described in
//! [`parse_table`]) and are compiled in. Vendor tables use the same format;
//! the caller reads the file and hands the text to [`parse_table`]. This
//! crate never does I/O.

#![forbid(unsafe_code)]

mod entry;
mod kb;
mod normalize;
mod scheme;
mod table;

pub use entry::{Category, Entry, Retry, actor_from_str, actor_name};
pub use kb::{Interpretation, KnowledgeBase, builtin_tables};
pub use normalize::{Candidate, Form, normalize};
pub use scheme::{Scheme, SchemeError};
pub use table::{Table, TableError, parse_table};
