//! The receipt parser on whole receipts and logs (`tests/receipts/`, each
//! file's layout and source in its README): what each yields, from which
//! line, what it is not used for, and the cause it leads to.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use posdiag_emv::receipt::{Field, ReceiptText, parse};

fn read(name: &str) -> (String, ReceiptText) {
    let path = format!("{}/tests/receipts/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let r = parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    (text, r)
}

/// (field, value, line) of every value found.
fn found(r: &ReceiptText) -> Vec<(&'static str, &str, usize)> {
    r.found
        .iter()
        .map(|f| (f.field.name(), f.value.as_str(), f.line))
        .collect()
}

/// The ranked cause ids.
fn causes(r: &ReceiptText) -> Vec<String> {
    posdiag_emv::explain(&r.decode().unwrap())
        .causes
        .into_iter()
        .map(|c| c.id)
        .collect()
}

#[test]
fn nuvei_layout_one_label_a_line() {
    let (_, r) = read("nuvei-contact-pin-approved.txt");
    assert_eq!(
        found(&r),
        vec![
            ("entry-mode", "05", 10),
            ("aid", "A0000000031010", 16),
            ("tvr", "0000008000", 17),
            ("iad", "06010A03A00000", 18),
            ("tsi", "F800", 19),
            ("cryptogram", "11AA33BB55CC77DD", 20),
        ]
    );
    assert!(r.ignored.is_empty(), "{:?}", r.ignored);
    let x = posdiag_emv::explain(&r.decode().unwrap());
    assert!(!x.has_problems(), "{x:?}");
}

#[test]
fn forte_pairs_on_one_line() {
    let (_, r) = read("forte-emv-receipt-data.txt");
    assert_eq!(
        found(&r),
        vec![
            ("label", "VISA DEBIT", 1),
            ("entry-mode", "05", 1),
            ("cvm", "5E0000", 1),
            ("aid", "A0000000031010", 1),
            ("tvr", "8000008000", 1),
            ("iad", "06010A03A08000", 1),
            ("tsi", "6800", 1),
        ]
    );
    // "ARC:" printed empty: named, not used, said so.
    assert_eq!(r.ignored.len(), 1);
    assert_eq!(r.ignored[0].field, Some(Field::Arc));
}

#[test]
fn unionpay_slip_in_chinese_with_full_width_colons() {
    let (text, r) = read("unionpay-zh-declined-z3.txt");
    let got = found(&r);
    for want in [
        ("cryptogram", "5F3A91C2D47E0B18", 16),
        ("cid", "80", 16),
        ("tvr", "0000048000", 17),
        ("aid", "A000000333010101", 18),
        ("tsi", "E800", 19),
        ("atc", "0031", 20),
        ("label", "PBOC DEBIT", 21),
        ("aip", "7C00", 22),
        ("cvm", "420300", 23),
        ("9F33", "E0E1C8", 25),
        ("arc", "Z3", 26),
    ] {
        assert!(got.contains(&want), "{want:?} in {got:?}");
    }
    // The card number's line (and the merchant number, as long as one) is
    // noted, never shown.
    let card = r.ignored.iter().find(|i| i.line == 8).unwrap();
    assert_eq!(card.field, None);
    assert!(!format!("{r:?}").contains("6222021234567890128"));
    assert!(text.contains("6222021234567890128"));
    assert_eq!(causes(&r)[0], "arc.z3");
}

#[test]
fn ocr_noise_fallback_swipe() {
    let (_, r) = read("ocr-fallback-swipe.txt");
    assert_eq!(
        found(&r),
        vec![
            ("entry-mode", "801", 6),
            ("service-code", "201", 7),
            ("tvr", "0000000000", 8),
            ("arc", "05", 9),
        ]
    );
    assert_eq!(causes(&r)[0], "entry.fallback");
}

#[test]
fn a_log_of_two_transactions_reads_the_first() {
    let (_, r) = read("terminal-log-two-transactions.txt");
    assert_eq!(r.get(Field::Tvr).unwrap().value, "0000000000");
    assert_eq!(r.get(Field::Arc).unwrap().value, "00");
    assert_eq!(r.get(Field::Cid).unwrap().value, "40");
    assert_eq!(r.get(Field::Cvm).unwrap().line, 5);
    let lines: Vec<usize> = r.ignored.iter().map(|i| i.line).collect();
    assert_eq!(lines, vec![10, 12, 13]);
    assert!(r.ignored[0].reason.en.contains("differs from line 3"));
    let x = posdiag_emv::explain(&r.decode().unwrap());
    assert!(!x.has_problems(), "{x:?}");
}

#[test]
fn both_languages_on_one_line_pin_blocked() {
    let (_, r) = read("bilingual-pin-blocked.txt");
    assert_eq!(
        found(&r),
        vec![
            ("label", "MASTERCARD", 3),
            ("aid", "A0000000041010", 4),
            ("entry-mode", "051", 5),
            ("tvr", "0000200000", 6),
            ("tsi", "E800", 7),
            ("cvm", "410301", 8),
            ("cryptogram", "8C1E0F6A22D0B5E9", 9),
            ("cid", "00", 9),
            ("arc", "Z1", 10),
        ]
    );
    assert_eq!(causes(&r)[0], "tvr.pin_try_limit");
}
