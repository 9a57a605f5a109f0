//! End-to-end: `posdiag id audit` on a generated customer export prints the
//! same report and writes the same failures file whatever `--threads` is,
//! and never shows a wallet payment code (a one-time bearer token) beyond
//! its wallet's two digits; `posdiag id kinds` lists the new kinds.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::fmt::Write as _;

use posdiag_tests::run;

/// Payment codes in the export (WeChat Pay, Alipay, UnionPay QR).
const PAYCODES: [&str; 3] = [
    "134567890123456789",
    "2812345678901234",
    "6212345678901234567",
];

/// An export of `rows` rows: valid and invalid resident IDs, phone numbers,
/// payment codes, Hong Kong and Taiwan IDs, garbage, a few quoted names with
/// commas and line breaks; LF line ends.
fn export(rows: usize) -> String {
    let ids = [
        "11010519491231002X", // valid
        "110199195101159105", // county never in the table
        "110105194912310021", // wrong check character
        "13812345678",        // a mobile number
        PAYCODES[0],
        PAYCODES[1],
        PAYCODES[2],
        "A123456(3)",
        "A123456789",
        "N/A",
        "",
        "830000200002294569", // a Taiwan resident's residence permit
    ];
    let mut s = String::from("row,name,customer_id\n");
    for i in 0..rows {
        let name = if i % 97 == 0 {
            format!("\"Li, Lei\n{i}\"")
        } else {
            format!("name{i}")
        };
        // Vary the IDs a little so there are many distinct failing values.
        let id = ids[i % ids.len()];
        let id = if id == "N/A" {
            format!("N/A{}", i % 1500)
        } else {
            id.to_owned()
        };
        writeln!(s, "{i},{name},{id}").unwrap();
    }
    s
}

#[test]
fn the_audit_is_the_same_on_one_thread_and_on_four_and_masks_payment_codes() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("customers.csv");
    std::fs::write(&csv, export(60_000)).unwrap();
    let csv = csv.to_str().unwrap();
    let mut seen = Vec::new();
    for threads in ["1", "4"] {
        for kind in ["auto", "cn-ric"] {
            let out = dir.path().join(format!("failures-{kind}-{threads}.csv"));
            let o = run(
                "posdiag",
                &[
                    "id",
                    "audit",
                    csv,
                    "--column",
                    "customer_id",
                    "--kind",
                    kind,
                    "--top",
                    "50",
                    "--threads",
                    threads,
                    "--out",
                    out.to_str().unwrap(),
                ],
            );
            assert_eq!(o.status.code(), Some(1), "{o:?}");
            let report = String::from_utf8(o.stdout).unwrap();
            let failures = std::fs::read_to_string(&out).unwrap();
            assert!(report.contains("total: 60000"), "{report}");
            for code in PAYCODES {
                assert!(!report.contains(&code[2..12]), "{code} in {report}");
                assert!(!failures.contains(&code[2..12]), "{code} in --out");
            }
            seen.push((kind, report, failures));
        }
    }
    // Under auto the payment codes, phone numbers and Hong Kong and Taiwan
    // IDs are recognised: only the garbage and empty cells fail.
    let (_, auto_report, auto_failures) = &seen[0];
    assert_eq!(auto_failures.lines().count(), 10_001, "{auto_report}");
    // Under cn-ric they fail, and the payment codes show two digits.
    assert!(seen[1].2.contains(",13****************,"), "{}", seen[1].1);
    // A county that never existed is a component failure of cn-ric (its
    // value, 18 digits starting 11, could also be a WeChat Pay code: it
    // shows two digits only).
    let (_, ric_report, ric_failures) = &seen[1];
    assert!(
        ric_failures.contains(",11****************,component,\"the region code (characters 1-6) is not a county of China"),
        "{ric_report}"
    );
    assert!(ric_report.contains("not a county of China"), "{ric_report}");
    // Identical output, report and every failing row, on 1 and 4 threads.
    assert_eq!(seen[0], seen[2]);
    assert_eq!(seen[1], seen[3]);
}

#[test]
fn the_new_kinds_are_listed_and_recognised() {
    let o = run("posdiag", &["id", "kinds", "--local"]);
    let text = String::from_utf8(o.stdout).unwrap();
    for kind in ["paycode", "hk-id", "tw-id", "cn-rp"] {
        assert!(text.contains(kind), "{kind} missing from {text}");
    }
    let o = run(
        "posdiag",
        &["--lang", "zh-CN", "id", "validate", "--local", PAYCODES[0]],
    );
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("微信支付付款码"), "{text}");
    assert!(text.contains("13****************"), "{text}");
    assert!(!text.contains(&PAYCODES[0][2..12]), "{text}");
}
