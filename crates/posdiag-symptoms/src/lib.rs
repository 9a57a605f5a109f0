//! Symptoms in people's own words: a text as a cashier, a shop owner or
//! their IT helper types it in a chat or a forum post — colloquial Chinese
//! or English or both mixed, with or without "POS机", full-width letters and
//! digits, typos, a code inside a sentence ("提示 05", "error code 0x64") —
//! ranked to the symptoms posdiag diagnoses ([`Symptom`]: `code:103`,
//! `unsupported-id`, `card-unreadable`, `card-declined`, `payments-failing`,
//! `no-connection`, `not-responding`, `slow-transactions`, and the
//! questions no check answers: `money-not-arrived`, `fees-rates`,
//! `get-terminal`).
//!
//! The knowledge is a reviewed phrase table (`data/phrases.tsv`, both
//! languages, compiled in); the matching is a fuzzy index over it
//! ([`Matcher`]); codes are recognised in the sentence and confirmed
//! against the code tables (`posdiag-codes`). No model, no network, no I/O.
//! [`plan`] holds the doctor's troubleshooting stages, so the checks a
//! match names are the ones the doctor runs.

#![forbid(unsafe_code)]

pub mod codes;
mod matcher;
pub mod normalize;
pub mod plan;
mod symptom;

pub use matcher::{FxHasher, MAX_MATCHES, MIN_SCORE, Match, Matcher, PhraseError};
pub use symptom::{NAMED, Symptom};

use posdiag_codes::KnowledgeBase;

/// How a symptom as given to the doctor is read.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// Nothing given: the full check-up.
    Nothing,
    /// A symptom id (`card-declined`, `code:103`) or a code as typed
    /// (`103`, `0x64`, `UnreachableHost`): taken as it is, as before free
    /// text was understood.
    Exact(Symptom),
    /// Free text, and the symptom that fits it best.
    Matched(Match),
    /// Free text that fits no symptom: said plainly, and the full check-up
    /// offered.
    Unplaced,
}

/// Reads what a person gave as the symptom: an id or a code as it is, free
/// text through the built-in [`Matcher`].
pub fn read(text: &str, kb: &KnowledgeBase) -> Reading {
    let t = text.trim();
    if t.is_empty() {
        return Reading::Nothing;
    }
    if let Some(s) = Symptom::from_id(t) {
        return Reading::Exact(s);
    }
    if !t.contains(char::is_whitespace) && !kb.explain(t, None, None).is_empty() {
        return Reading::Exact(Symptom::Code(t.to_owned()));
    }
    match Matcher::builtin().rank(t, kb).into_iter().next() {
        Some(m) => Reading::Matched(m),
        None => Reading::Unplaced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_codes_are_taken_as_they_are_free_text_is_matched() {
        let kb = KnowledgeBase::builtin();
        assert_eq!(read("  ", &kb), Reading::Nothing);
        assert_eq!(
            read("unsupported-id", &kb),
            Reading::Exact(Symptom::UnsupportedId)
        );
        assert_eq!(
            read("103", &kb),
            Reading::Exact(Symptom::Code("103".into()))
        );
        assert_eq!(
            read("0x64", &kb),
            Reading::Exact(Symptom::Code("0x64".into()))
        );
        match read("收不了款", &kb) {
            Reading::Matched(m) => assert_eq!(m.symptom, Symptom::PaymentsFailing),
            other => panic!("{other:?}"),
        }
        assert_eq!(read("今天天气不错", &kb), Reading::Unplaced);
    }
}
