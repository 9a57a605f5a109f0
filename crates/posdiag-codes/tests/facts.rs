//! Facts from the reference documents, looked up the way people type them.

#![allow(clippy::unwrap_used, reason = "tests")]

use posdiag_codes::{Category, Form, KnowledgeBase, Retry, Scheme};
use posdiag_core::Actor;

fn scheme(name: &str) -> Scheme {
    name.parse().unwrap()
}

/// (typed input, scheme, expected code, words the English meaning contains,
/// Chinese words, category)
const FACTS: &[(&str, &str, &str, &str, &str, Category)] = &[
    (
        "103",
        "iso8583-1993",
        "103",
        "card acceptor contact acquirer",
        "联系收单机构",
        Category::MerchantConfig,
    ),
    (
        "51",
        "iso8583-1987",
        "51",
        "not sufficient funds",
        "余额不足",
        Category::Account,
    ),
    (
        "91",
        "iso8583-1987",
        "91",
        "issuer or switch inoperative",
        "发卡行或交换中心不可用",
        Category::Host,
    ),
    (
        "0x6C",
        "zvt-result",
        "6C",
        "abort via timeout or abort key",
        "超时",
        Category::Other,
    ),
    (
        "6Ch",
        "zvt-result",
        "6C",
        "abort via timeout or abort key",
        "取消键",
        Category::Other,
    ),
    (
        "6c",
        "zvt-result",
        "6C",
        "abort via timeout or abort key",
        "中止",
        Category::Other,
    ),
    (
        "E2",
        "zvt-result",
        "E2",
        "card reader defective",
        "读卡器故障",
        Category::Reader,
    ),
    (
        "e2",
        "zvt-terminal-status",
        "E2",
        "card reader does not answer",
        "读卡器无应答",
        Category::Reader,
    ),
    (
        "64",
        "zvt-result",
        "64",
        "LRC/parity",
        "奇偶校验",
        Category::Card,
    ),
    (
        "A0",
        "cup",
        "A0",
        "MAC check failed",
        "MAC校验错误",
        Category::Security,
    ),
    (
        "97",
        "cup",
        "97",
        "terminal not registered",
        "终端未登记",
        Category::MerchantConfig,
    ),
    (
        " 05 ",
        "cup",
        "05",
        "cardholder authentication failed",
        "持卡人认证失败",
        Category::Security,
    ),
    (
        " 05 ",
        "iso8583-1987",
        "05",
        "do not honour",
        "不予承兑",
        Category::Host,
    ),
    (
        "103",
        "zvt-result",
        "67",
        "function not permitted for ec- and Maestro-cards",
        "Maestro",
        Category::Card,
    ),
    (
        "103",
        "iso8583-1987",
        "03",
        "invalid merchant",
        "无效商户",
        Category::MerchantConfig,
    ),
    (
        "unreachablehost",
        "nexo-error-condition",
        "UnreachableHost",
        "unreachable",
        "不可达",
        Category::Network,
    ),
    (
        "PaperJam",
        "nexo-printer-status",
        "PaperJam",
        "jam",
        "卡纸",
        Category::Terminal,
    ),
    (
        "Maintenance",
        "nexo-global-status",
        "Maintenance",
        "maintenance",
        "维护",
        Category::Maintenance,
    ),
    (
        "0c",
        "zvt-intermediate",
        "0C",
        "card not readable",
        "无法读取",
        Category::Card,
    ),
];

#[test]
fn reference_facts() {
    let kb = KnowledgeBase::builtin();
    for (input, name, code, en, zh, category) in FACTS {
        let s = scheme(name);
        let found = kb.explain(input, Some(&s), None);
        assert_eq!(found.len(), 1, "{input:?} in {name}: {found:#?}");
        let e = found[0];
        assert_eq!(e.code, *code, "{input:?} in {name}");
        assert!(
            e.meaning.en.contains(en),
            "{input:?} in {name}: {:?}",
            e.meaning.en
        );
        assert!(
            e.meaning.zh.contains(zh),
            "{input:?} in {name}: {:?}",
            e.meaning.zh
        );
        assert_eq!(e.category, *category, "{input:?} in {name}");
    }
}

#[test]
fn one_oh_three_has_every_interpretation_dialect_first() {
    let kb = KnowledgeBase::builtin();
    let all = kb.explain_detailed("103", None, None);
    let got: Vec<_> = all
        .iter()
        .map(|i| (i.entry.scheme.name(), i.entry.code.as_str(), i.form))
        .collect();
    assert_eq!(
        got,
        [
            ("iso8583-1993", "103", Form::AsTyped),
            ("zvt-result", "67", Form::DecimalByte),
            ("iso8583-1987", "03", Form::OnePrefixed1987),
        ]
    );
    let zvt = scheme("zvt-result");
    let preferred = kb.explain("103", None, Some(&zvt));
    assert_eq!(preferred[0].scheme, zvt);
    assert_eq!(preferred.len(), 3);
}

#[test]
fn a0_is_cup_mac_or_zvt_receiver_not_ready() {
    let kb = KnowledgeBase::builtin();
    let cup = scheme("cup");
    let found = kb.explain("a0", None, Some(&cup));
    assert_eq!(found[0].scheme, cup);
    assert!(
        found
            .iter()
            .any(|e| e.scheme == Scheme::ZvtResult && e.meaning.en.contains("receiver not ready"))
    );
    let a0 = found[0];
    assert_eq!(a0.retry, Retry::No);
    assert_eq!(a0.remedies[0].actor, Actor::Merchant);
    assert!(a0.remedies[0].text.en.contains("Sign on again"));
}

#[test]
fn hex_marked_input_only_reads_one_byte_schemes() {
    let kb = KnowledgeBase::builtin();
    // "0x05" is not an ISO 8583 response code.
    let found = kb.explain("0x05", None, None);
    assert!(found.iter().all(|e| e.scheme.is_zvt()), "{found:#?}");
    // Plain "05" is ISO 1987, CUP (and no ZVT result 05 in the built-ins).
    let plain: Vec<_> = kb
        .explain("05", None, None)
        .iter()
        .map(|e| e.scheme.name())
        .collect();
    assert!(
        plain.contains(&"iso8583-1987") && plain.contains(&"cup"),
        "{plain:?}"
    );
}

#[test]
fn search_in_both_languages() {
    let kb = KnowledgeBase::builtin();
    for (text, scheme_name, code) in [
        ("frozen", "cup", "45"),
        ("冻结", "cup", "45"),
        ("FROZEN", "cup", "45"),
        ("maintenance", "zvt-result", "E0"),
        ("maintenance", "nexo-global-status", "Maintenance"),
        ("MAC校验", "cup", "A0"),
        ("lrc", "zvt-result", "64"),
    ] {
        let hits = kb.search(text);
        assert!(
            hits.iter()
                .any(|e| e.scheme.name() == scheme_name && e.code == code),
            "{text:?} should find {scheme_name} {code}"
        );
    }
    assert!(kb.search("  ").is_empty());
    assert!(kb.search("no such words anywhere").is_empty());
}

#[test]
fn unknown_codes_get_nearest_suggestions() {
    let kb = KnowledgeBase::builtin();
    let s87 = scheme("iso8583-1987");
    // 97 is in the national-use block: not in the 1987 table.
    assert!(kb.explain("97", Some(&s87), None).is_empty());
    let near = kb.nearest("97", Some(&s87), 3);
    assert_eq!(near.len(), 3);
    assert_eq!(near[0].code, "96");
    assert!(near.iter().all(|e| e.scheme == s87));
    let zvt = scheme("zvt-result");
    let near = kb.nearest("0x6D", Some(&zvt), 1);
    assert_eq!(near[0].code, "6C");
    assert!(kb.nearest("", None, 5).is_empty());
}

#[test]
fn schemes_are_listed() {
    let kb = KnowledgeBase::builtin();
    let names: Vec<_> = kb.schemes().iter().map(|s| s.name().to_owned()).collect();
    for n in [
        "iso8583-1987",
        "iso8583-1993",
        "cup",
        "zvt-result",
        "zvt-terminal-status",
        "zvt-intermediate",
        "nexo-error-condition",
        "nexo-global-status",
        "nexo-printer-status",
        "emv-arc",
    ] {
        assert!(names.iter().any(|x| x == n), "{n}");
    }
}
