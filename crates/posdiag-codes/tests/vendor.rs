//! Vendor tables: parsing good and bad files, and adding them to the
//! knowledge base.

#![allow(clippy::unwrap_used, reason = "tests")]

use posdiag_codes::{Category, KnowledgeBase, Retry, Scheme, TableError, parse_table};
use posdiag_core::Actor;

const GOOD: &str = "# Acme acquirer private codes\n\
@scheme vendor:acme\n\
\n\
N7\tmerchant-config\tno\tCVV2 mismatch\tCVV2不匹配\twrong CVV2 typed;old card\t输入的CVV2错误;旧卡\tcardholder:Check the CVV2|核对CVV2;issuer:Confirm the card|确认卡片\tAcme spec v2 §4\n\
0x1F\tterminal\tlater\tkey expired\t密钥已过期\t-\t-\tmerchant:Sign on again|重新签到\tAcme spec v2 §5\n";

#[test]
fn good_vendor_table_parses_and_explains() {
    let table = parse_table(GOOD, "codes.d/acme.tsv").unwrap();
    assert_eq!(table.scheme.name(), "vendor:acme");
    assert_eq!(table.entries.len(), 2);
    let n7 = &table.entries[0];
    assert_eq!(n7.category, Category::MerchantConfig);
    assert_eq!(n7.retry, Retry::No);
    assert_eq!(n7.causes.len(), 2);
    assert_eq!(n7.causes[1].zh, "旧卡");
    assert_eq!(n7.remedies[1].actor, Actor::Issuer);
    assert_eq!(n7.source, "Acme spec v2 §4");
    assert!(table.entries[1].causes.is_empty());

    let mut kb = KnowledgeBase::builtin();
    assert!(kb.add_vendor_table(table.clone()).unwrap().is_none());
    let acme: Scheme = "vendor:acme".parse().unwrap();
    assert!(kb.schemes().contains(&&acme));
    let found = kb.explain("n7", None, None);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].scheme, acme);
    // Built-in tables keep working alongside.
    assert!(!kb.explain("51", None, None).is_empty());
    // Vendor table first when the terminal speaks it.
    assert_eq!(
        kb.explain("N7", None, Some(&acme))[0].meaning.en,
        "CVV2 mismatch"
    );
    assert_eq!(kb.search("CVV2").len(), 1);
    // Adding it again replaces the earlier table.
    assert!(kb.add_vendor_table(table).unwrap().is_some());
    assert_eq!(kb.schemes().iter().filter(|s| **s == &acme).count(), 1);
}

#[test]
fn bad_vendor_tables_name_file_line_and_problem() {
    let row = "N7\tcard\tno\tx\t某\tc\t原因\tmerchant:a|甲\tsrc";
    let cases: &[(&str, &str)] = &[
        (
            "@scheme vendor:acme\nN7\tcard\tno\n",
            "codes.d/bad.tsv:2: expected 9 tab-separated columns",
        ),
        (
            "# c\n@scheme vendor:acme\nN7\tweird\tno\tx\t某\tc\t原因\tmerchant:a|甲\tsrc\n",
            "codes.d/bad.tsv:3: unknown category \"weird\"",
        ),
        (
            "@scheme vendor:acme\nN7\tcard\tmaybe\tx\t某\tc\t原因\tmerchant:a|甲\tsrc\n",
            "codes.d/bad.tsv:2: unknown retry \"maybe\"",
        ),
        (
            "@scheme vendor:acme\nN7\tcard\tno\tx\t某\tc\t原因\tclerk:a|甲\tsrc\n",
            "codes.d/bad.tsv:2: unknown actor \"clerk\"",
        ),
        (
            "@scheme vendor:acme\nN7\tcard\tno\tx\t某\tc\t原因\tmerchant:only english\tsrc\n",
            "codes.d/bad.tsv:2: remedy \"merchant:only english\": expected actor:english|chinese",
        ),
        (
            "@scheme vendor:acme\nN7\tcard\tno\tx\t某\tc;d\t原因\tmerchant:a|甲\tsrc\n",
            "codes.d/bad.tsv:2: 2 causes in English but 1 in Chinese",
        ),
        (
            "@scheme vendor:acme\nN7\tcard\tno\tx\t\tc\t原因\tmerchant:a|甲\tsrc\n",
            "codes.d/bad.tsv:2: column meaning_zh is empty",
        ),
        (
            "N7\tcard\tno\tx\t某\tc\t原因\tmerchant:a|甲\tsrc\n",
            "codes.d/bad.tsv:1: entry before the @scheme line",
        ),
        (
            "@scheme acme\n",
            "codes.d/bad.tsv:1: unknown code scheme \"acme\"",
        ),
        ("# nothing\n", "codes.d/bad.tsv: no @scheme line"),
        ("@scheme vendor:acme\n", "codes.d/bad.tsv: no entries"),
        (
            "@scheme zvt-result\nZZ\tcard\tno\tx\t某\tc\t原因\tmerchant:a|甲\tsrc\n",
            "codes.d/bad.tsv:2: bad code \"ZZ\" for zvt-result",
        ),
        (
            "@scheme vendor:acme\n@source x\n",
            "codes.d/bad.tsv:2: unknown directive",
        ),
    ];
    for (text, want) in cases {
        let err = parse_table(text, "codes.d/bad.tsv").unwrap_err();
        assert!(err.to_string().starts_with(want), "{err} (want {want:?})");
    }
    let dup = format!(
        "@scheme vendor:acme\n{row}\n\n{}\n",
        row.replacen("N7", "n7", 1)
    );
    let err = parse_table(&dup, "codes.d/bad.tsv").unwrap_err();
    assert_eq!(
        err,
        TableError::Line {
            origin: "codes.d/bad.tsv".into(),
            line: 4,
            problem: "duplicate code \"n7\" (first defined on line 2)".into(),
        }
    );
}

#[test]
fn vendor_tables_cannot_replace_builtin_schemes() {
    let text = "@scheme cup\nA0\tsecurity\tno\tx\t某\t-\t-\tmerchant:a|甲\tsrc\n";
    let table = parse_table(text, "codes.d/cup.tsv").unwrap();
    let mut kb = KnowledgeBase::builtin();
    let err = kb.add_vendor_table(table).unwrap_err();
    assert_eq!(
        err.to_string(),
        "codes.d/cup.tsv: scheme cup is built in; extra tables must use vendor:<id>"
    );
    assert!(
        kb.explain("A0", Some(&Scheme::Cup), None)[0]
            .meaning
            .en
            .contains("MAC")
    );
}
