//! Checks every built-in table entry: complete in both languages, closed
//! lists respected, no duplicate codes in a scheme.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::HashSet;

use posdiag_codes::{Category, KnowledgeBase, Retry, builtin_tables};

fn has_han(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[test]
fn every_entry_is_complete_in_both_languages() {
    for table in builtin_tables() {
        for e in &table.entries {
            let at = format!("{} {}", e.scheme, e.code);
            assert_eq!(e.scheme, table.scheme, "{at}");
            assert!(
                !e.meaning.en.is_empty() && has_han(&e.meaning.zh),
                "{at}: meaning"
            );
            assert!(!e.source.is_empty(), "{at}: source");
            assert!(!e.remedies.is_empty(), "{at}: at least one remedy");
            if e.category != Category::Approved {
                assert!(!e.causes.is_empty(), "{at}: a non-approval needs causes");
            }
            for c in &e.causes {
                assert!(!c.en.is_empty() && has_han(&c.zh), "{at}: cause {c:?}");
            }
            for r in &e.remedies {
                assert!(
                    !r.text.en.is_empty() && has_han(&r.text.zh),
                    "{at}: remedy {r:?}"
                );
            }
            assert!(
                !has_han(&e.meaning.en) && e.meaning.en.is_ascii(),
                "{at}: English meaning should be plain ASCII English"
            );
            assert!(Category::ALL.contains(&e.category), "{at}");
            assert!(matches!(e.retry, Retry::Yes | Retry::No | Retry::Later));
        }
    }
}

#[test]
fn no_duplicate_codes_within_a_scheme() {
    for table in builtin_tables() {
        let mut seen = HashSet::new();
        for e in &table.entries {
            assert!(
                seen.insert(e.code.to_ascii_uppercase()),
                "{} {} twice",
                table.scheme,
                e.code
            );
        }
    }
}

#[test]
fn coverage_matches_the_reference_tables() {
    let kb = KnowledgeBase::builtin();
    let count = |name: &str| kb.entries(&name.parse().unwrap()).unwrap().len();
    // Counts of the codes response-codes.md and protocols.md list; a drop
    // means a row went missing.
    assert_eq!(count("iso8583-1987"), 69);
    assert_eq!(count("iso8583-1993"), 99);
    assert_eq!(count("cup"), 45);
    assert_eq!(count("zvt-result"), 37);
    assert_eq!(count("zvt-terminal-status"), 19);
    assert_eq!(count("zvt-intermediate"), 26);
    assert_eq!(count("nexo-error-condition"), 17);
    assert_eq!(count("nexo-global-status"), 4);
    assert_eq!(count("nexo-printer-status"), 5);
    assert_eq!(count("emv-arc"), 6);

    // Every 1987 code the reference lists outside the reserved blocks.
    let iso87 = "00 08 10 11 16 09 01 02 03 05 06 12 13 14 15 19 20 21 22 23 39 40 42 44 51 52 53 \
                 54 55 56 57 58 59 60 61 62 63 64 65 66 68 75 04 07 33 34 35 36 37 38 41 43 67 \
                 24 25 26 27 28 29 30 31 32 90 91 92 93 94 95 96";
    for code in iso87.split_whitespace() {
        assert!(
            kb.get(&"iso8583-1987".parse().unwrap(), code).is_some(),
            "1987 {code}"
        );
    }
    // 1993: 000-007, 100-129, 200-210, 300-309, 900-923, 950.
    let s93 = "iso8583-1993".parse().unwrap();
    for n in (0..=7)
        .chain(100..=129)
        .chain(200..=210)
        .chain(300..=309)
        .chain(900..=923)
    {
        assert!(kb.get(&s93, &format!("{n:03}")).is_some(), "1993 {n:03}");
    }
    for code in ["400", "500", "501", "600", "700", "800", "950"] {
        assert!(kb.get(&s93, code).is_some(), "1993 {code}");
    }
}
