//! Behaviour a person at a terminal would notice: every kind accepted and
//! rejected for each reason, input as people really type it, rule sets,
//! `auto`, and card numbers never leaving unmasked. Table-driven: one line
//! per case, checked by a shared helper.

#![allow(clippy::unwrap_used, reason = "tests")]

use posdiag_ids::{
    Charset, CheckAlgorithm, IdReason, Kind, KindSel, MAX_INPUT_BYTES, RuleSet, Validation, check,
    check_display, check_failing, check_with, looks_like, validate,
};

fn k(kind: Kind) -> KindSel {
    KindSel::Kind(kind)
}

/// Appends the Luhn check digit to `body`.
fn with_luhn(body: &str) -> String {
    (0..10)
        .map(|d| format!("{body}{d}"))
        .find(|s| check(s.as_bytes(), Kind::Luhn).is_ok())
        .unwrap()
}

/// Appends the MOD 11-2 check character to a 17-digit resident ID body.
fn with_ric_check(body: &str) -> String {
    "0123456789X"
        .chars()
        .map(|c| format!("{body}{c}"))
        .find(|s| check(s.as_bytes(), Kind::CnRic) != Err(IdReason::Checksum))
        .unwrap()
}

/// All text a validation carries, Debug included.
fn all_text(v: &Validation) -> String {
    let mut s = format!("{v:?}");
    let texts = v.texts();
    for t in [texts.message, texts.expected, texts.suggestion]
        .into_iter()
        .chain(texts.notes)
        .chain(v.looks_like.iter().map(|c| c.detail()))
    {
        s.push('\n');
        s.push_str(&t.en);
        s.push('\n');
        s.push_str(&t.zh);
    }
    s.push('\n');
    s.push_str(&v.display);
    s
}

/// Structural invariants every validation keeps.
fn invariants(v: &Validation, what: &str) {
    assert_eq!(
        v.valid,
        v.reason.is_none(),
        "{what}: valid iff no reason: {v:?}"
    );
    for t in [&v.message(), &v.expected(), &v.suggestion()] {
        assert!(
            !t.en.is_empty() && !t.zh.is_empty(),
            "{what}: empty text in {v:?}"
        );
    }
}

#[test]
fn every_kind_accepts_its_valid_values() {
    let cases: &[(Kind, &str, &str)] = &[
        (Kind::Pan, "4111111111111111", "Visa"),
        (Kind::Pan, "5555 5555 5555 4444", "Mastercard"),
        (Kind::Pan, "3782-822463-10005", "American Express"),
        (Kind::Pan, "6011111111111117", "Discover"),
        (Kind::Pan, "3530111333300000", "JCB"),
        (Kind::Pan, "6200000000000005", "UnionPay"),
        (Kind::Pan, "30569309025904", "Diners Club"),
        (Kind::Luhn, "79927398713", "11 digits"),
        (
            Kind::CnRic,
            "11010519491231002X",
            "birth date valid, region code known (county level, in use in the birth year), check character correct",
        ),
        (
            Kind::CnRic,
            "360426199101010071",
            "birth date valid, region code known (county level, in use in the birth year), check character correct",
        ),
        (Kind::CnUscc, "91110000600037341L", "registered in Beijing"),
        (
            Kind::Iban,
            "GB82 WEST 1234 5698 7654 32",
            "United Kingdom (GB)",
        ),
        (Kind::Iban, "DE89370400440532013000", "Germany (DE)"),
        (Kind::Iban, "BE31435411161155", "Belgium (BE)"),
        (Kind::Bic, "DEUTDEFF", "bank DEUT, country DE, head office"),
        (Kind::Bic, "AGRIFRPP882", "branch 882"),
        (Kind::Imei, "490154203237518", "IMEI with check digit"),
        (Kind::Imei, "49015420323751", "IMEI without check digit"),
        (Kind::Imei, "35686800-004141-20", "IMEISV"),
        (
            Kind::Meid,
            "AF0123450ABCDE",
            "hexadecimal form, without check digit",
        ),
        (
            Kind::Meid,
            "AF 01 23 45 0A BC DE C",
            "hexadecimal form, with check digit",
        ),
        (
            Kind::Meid,
            "29360 87365 0070 3710 0",
            "decimal form, with check digit",
        ),
        (Kind::Imsi, "460001234567890", "mobile country code 460"),
        (Kind::Imsi, "31015012345678", "mobile country code 310"),
        (Kind::Tid, "12345678", "8 characters"),
        (Kind::Tid, "TERM 001", "8 characters"),
        (Kind::Mid, "898310048160001", "15 characters"),
        (
            Kind::Mid,
            "MERCHANT01     ",
            "space padded to 15 characters",
        ),
        (Kind::Phone, "13812345678", "mainland China mobile"),
        (Kind::Phone, "+86 138 1234 5678", "mainland China mobile"),
        (Kind::Phone, "0086 13812345678", "mainland China mobile"),
        (Kind::Phone, "8613812345678", "mainland China mobile"),
        (Kind::Phone, "+44 20 7946 0000", "E.164 international"),
        (Kind::Phone, "+1 (415) 555-2671", "E.164 international"),
    ];
    for &(kind, input, detail) in cases {
        let v = validate(input.as_bytes(), k(kind), None);
        invariants(&v, input);
        assert!(v.valid, "{kind} {input:?}: {v:?}");
        assert_eq!(v.kind, Some(kind), "{input:?}");
        assert_eq!(check(input.as_bytes(), kind), Ok(kind), "{input:?}");
        let c = v.looks_like.iter().find(|c| c.kind == kind);
        let c = c.unwrap_or_else(|| panic!("{input:?}: {kind} not among {:?}", v.looks_like));
        assert!(
            c.detail().en.contains(detail),
            "{input:?}: {:?} lacks {detail:?}",
            c.detail()
        );
        assert!(
            v.message().en.starts_with("valid"),
            "{input:?}: {:?}",
            v.message()
        );
        assert!(
            v.message().zh.starts_with("有效的"),
            "{input:?}: {:?}",
            v.message()
        );
    }
}

#[test]
fn every_kind_rejects_for_each_reason_it_can_give() {
    let ric_bad_date = with_ric_check("11010519900230001");
    let ric_bad_province = with_ric_check("99010519900101001");
    let ric_old_year = with_ric_check("11010518500101001");
    let cases: Vec<(Kind, &str, IdReason, &str)> = vec![
        (Kind::Pan, "", IdReason::Length, "the value is empty"),
        (
            Kind::Pan,
            "4111a11111111111",
            IdReason::Format,
            "character 5 ('a') is not a digit",
        ),
        (
            Kind::Pan,
            "41111111111",
            IdReason::Length,
            "11 digits where a payment card number has 12 to 19 digits",
        ),
        (
            Kind::Pan,
            "411111111111111",
            IdReason::Length,
            "15 digits, but Visa card numbers have 13, 16, 18 or 19",
        ),
        (
            Kind::Pan,
            "4111111111111112",
            IdReason::Checksum,
            "looks like a Visa card number, but the Luhn check digit does not match",
        ),
        (Kind::Luhn, "", IdReason::Format, "the value is empty"),
        (
            Kind::Luhn,
            "12a",
            IdReason::Format,
            "character 3 ('a') is not a digit",
        ),
        (
            Kind::Luhn,
            "79927398710",
            IdReason::Checksum,
            "Luhn check digit does not match",
        ),
        (
            Kind::CnRic,
            "1101051949123100",
            IdReason::Length,
            "16 digits where a resident identity number has 18 characters",
        ),
        (
            Kind::CnRic,
            "1101051949123A002X",
            IdReason::Format,
            "character 14 ('A') is not a digit",
        ),
        (
            Kind::CnRic,
            "11010519491231002A",
            IdReason::Checksum,
            "the last character ('A') must be a digit or X",
        ),
        (
            Kind::CnRic,
            "110105194912310021",
            IdReason::Checksum,
            "check character does not match",
        ),
        (
            Kind::CnRic,
            &ric_bad_date,
            IdReason::Component,
            "the birth date (characters 7-14) is not a real date",
        ),
        (
            Kind::CnRic,
            &ric_bad_province,
            IdReason::Component,
            "region code starts 99",
        ),
        (
            Kind::CnRic,
            &ric_old_year,
            IdReason::Component,
            "birth year (characters 7-10) is outside 1900-2099",
        ),
        (
            Kind::CnUscc,
            "9111000060003734",
            IdReason::Length,
            "16 digits where a unified social credit code has 18 characters",
        ),
        (
            Kind::CnUscc,
            "A1110000600037341L",
            IdReason::Format,
            "character 1 ('A') is not a digit",
        ),
        (
            Kind::CnUscc,
            "91110000600O37341L",
            IdReason::Format,
            "character 12 ('O') is not allowed there",
        ),
        (
            Kind::CnUscc,
            "91110000600037341M",
            IdReason::Checksum,
            "GB 32100",
        ),
        (Kind::Iban, "", IdReason::Format, "the value is empty"),
        (
            Kind::Iban,
            "GB82WEST1234569876543!",
            IdReason::Format,
            "character 22 ('!') is not allowed there",
        ),
        (
            Kind::Iban,
            "GB82 WEST 1234 5698 7654 33",
            IdReason::Checksum,
            "check digits do not match",
        ),
        (
            Kind::Iban,
            "GB82 WEST 1234 5698 7654 3",
            IdReason::Checksum,
            "IBANs from United Kingdom have 22 characters and this has 21",
        ),
        (
            Kind::Iban,
            "XX431234",
            IdReason::Component,
            "not the code of a country that uses IBANs",
        ),
        (
            Kind::Iban,
            "AD90X0270517CRTP3X7O4BIF",
            IdReason::Format,
            "the account part does not have the format used in Andorra",
        ),
        (
            Kind::Iban,
            "AD06642427233EKOYU2OTBK",
            IdReason::Format,
            "IBANs from Andorra have 24 characters; this has 23",
        ),
        (
            Kind::Iban,
            "ES2121000418450200051331",
            IdReason::Checksum,
            "national check digits inside the Spain account number",
        ),
        (
            Kind::Bic,
            "AGRIFRPP8",
            IdReason::Length,
            "9 characters where a BIC (SWIFT code) has 8 or 11 characters",
        ),
        (
            Kind::Bic,
            "AGRIF2PP",
            IdReason::Format,
            "character 6 ('2') is not allowed there",
        ),
        (
            Kind::Bic,
            "AGRIXXPP",
            IdReason::Component,
            "'XX' (characters 5-6) is not an ISO 3166 country code",
        ),
        (
            Kind::Imei,
            "35-417803-685978-1",
            IdReason::Checksum,
            "the 15th digit",
        ),
        (
            Kind::Imei,
            "3541780368597",
            IdReason::Length,
            "13 digits where an IMEI has 14, 15 or 16 digits",
        ),
        (
            Kind::Imei,
            "35417803685978A",
            IdReason::Format,
            "character 15 ('A') is not a digit",
        ),
        (
            Kind::Meid,
            "29360 87365 0070 3710 1",
            IdReason::Checksum,
            "check digit does not match",
        ),
        (
            Kind::Meid,
            "AF0123450ABCDG",
            IdReason::Format,
            "character 14 ('G') is not allowed there",
        ),
        (
            Kind::Meid,
            "AF01234",
            IdReason::Length,
            "7 characters where a MEID has 14, 15, 18 or 19 characters",
        ),
        (
            Kind::Meid,
            "429496729600000000",
            IdReason::Component,
            "manufacturer code",
        ),
        (
            Kind::Imsi,
            "439011234567890",
            IdReason::Component,
            "mobile country code 439",
        ),
        (
            Kind::Imsi,
            "4290112345678",
            IdReason::Length,
            "13 digits where an IMSI has 14 or 15 digits",
        ),
        (
            Kind::Imsi,
            "42901123456789A",
            IdReason::Format,
            "character 15 ('A') is not a digit",
        ),
        (
            Kind::Tid,
            "1234567",
            IdReason::Length,
            "7 digits where a terminal ID has exactly 8 characters",
        ),
        (
            Kind::Tid,
            "123456789",
            IdReason::Length,
            "9 digits where a terminal ID has exactly 8 characters",
        ),
        (
            Kind::Mid,
            "12345678901234",
            IdReason::Length,
            "14 digits where a merchant ID has exactly 15 characters",
        ),
        (
            Kind::Phone,
            "12812345678",
            IdReason::Component,
            "start with 13 to 19",
        ),
        (
            Kind::Phone,
            "1381234567",
            IdReason::Length,
            "10 digits, but a mainland China mobile number has 11",
        ),
        (
            Kind::Phone,
            "+86 138 1234 567",
            IdReason::Length,
            "10 digits, but a mainland China mobile number has 11",
        ),
        (
            Kind::Phone,
            "02012345678",
            IdReason::Format,
            "needs + and the country code",
        ),
        (
            Kind::Phone,
            "+0123456789",
            IdReason::Component,
            "never starts with 0",
        ),
        (
            Kind::Phone,
            "+1234567",
            IdReason::Length,
            "7 digits after the +, but an international number has 8 to 15",
        ),
        (
            Kind::Phone,
            "138-1234-567a",
            IdReason::Format,
            "character 11 ('a') is not a digit",
        ),
    ];
    for (kind, input, reason, message) in cases {
        let v = validate(input.as_bytes(), k(kind), None);
        invariants(&v, input);
        assert_eq!(v.reason, Some(reason), "{kind} {input:?}: {v:#?}");
        assert_eq!(v.kind, Some(kind), "{input:?}");
        assert!(
            v.message().en.contains(message),
            "{kind} {input:?}: {:?} lacks {message:?}",
            v.message().en
        );
        assert_eq!(check(input.as_bytes(), kind), Err(reason), "{input:?}");
    }
}

#[test]
fn input_as_people_type_it_gets_a_specific_reason_and_note() {
    // (input, kind, reason or None for valid, text in message, text in a note)
    type Case<'a> = (&'a [u8], KindSel, Option<IdReason>, &'a str, &'a str);
    let cases: &[Case] = &[
        (
            b"  13812345678  ",
            KindSel::Auto,
            None,
            "mainland China mobile",
            "surrounding spaces removed",
        ),
        (
            b"4111 1111 1111 1111",
            k(Kind::Pan),
            None,
            "valid Visa card number",
            "grouping spaces removed",
        ),
        (
            b"4111-1111-1111-1111",
            KindSel::Auto,
            None,
            "valid Visa card number",
            "grouping dashes removed",
        ),
        (
            b"13812345678\r\n",
            KindSel::Auto,
            None,
            "mainland China mobile",
            "surrounding spaces removed",
        ),
        (
            "１３８１２３４５６７８".as_bytes(),
            KindSel::Auto,
            Some(IdReason::Charset),
            "full-width characters from a Chinese input method, from position 1; in plain half-width characters it would be: valid phone number: mainland China mobile",
            "full-width digits (from a Chinese input method) — use half-width 0-9",
        ),
        (
            "13812345678\u{3000}".as_bytes(),
            KindSel::Auto,
            Some(IdReason::Charset),
            "from position 12",
            "full-width (ideographic) space at position 12",
        ),
        (
            "ＧＢ８２ＷＥＳＴ１２３４５６９８７６５４３２".as_bytes(),
            k(Kind::Iban),
            Some(IdReason::Charset),
            "it would be: valid IBAN",
            "full-width letters",
        ),
        (
            "1381\u{200B}2345678".as_bytes(),
            KindSel::Auto,
            Some(IdReason::Charset),
            "invisible zero-width space (U+200B) at position 5",
            "zero-width space (U+200B) at position 5 removed",
        ),
        (
            "\u{FEFF}13812345678".as_bytes(),
            KindSel::Auto,
            Some(IdReason::Charset),
            "byte order mark",
            "at position 1 removed",
        ),
        (
            "4111\u{00AD}111111111111".as_bytes(),
            k(Kind::Pan),
            Some(IdReason::Charset),
            "soft hyphen (U+00AD) at position 5",
            "soft hyphen",
        ),
        (
            "4111\u{00A0}1111\u{00A0}1111\u{00A0}1111".as_bytes(),
            k(Kind::Pan),
            Some(IdReason::Charset),
            "special space character U+00A0 at position 5",
            "read as a space",
        ),
        (
            b"1381\x002345678",
            KindSel::Auto,
            Some(IdReason::Charset),
            "NUL byte at position 5",
            "NUL byte at position 5 removed",
        ),
        (
            b"1381\t2345678",
            KindSel::Auto,
            Some(IdReason::Charset),
            "control character U+0009 at position 5",
            "control character U+0009",
        ),
        (
            "客户13812345678".as_bytes(),
            KindSel::Auto,
            Some(IdReason::Charset),
            "character '客' at position 1 cannot be part of an identifier",
            "was ignored",
        ),
        (
            b"11010519491231002x",
            KindSel::Auto,
            None,
            "valid resident identity number",
            "lowercase x read as X",
        ),
        (
            b"gb82west12345698765432",
            k(Kind::Iban),
            None,
            "valid IBAN",
            "lowercase letters read as capitals",
        ),
        (
            b"0086 138 1234 5678",
            k(Kind::Phone),
            None,
            "mainland China mobile",
            "international prefix 00 read as +",
        ),
        (
            b"TERM01  ",
            k(Kind::Tid),
            None,
            "space padded",
            "space padded to 8 characters",
        ),
    ];
    for &(input, sel, reason, message, note) in cases {
        let what = String::from_utf8_lossy(input);
        let v = validate(input, sel, None);
        invariants(&v, &what);
        assert_eq!(v.reason, reason, "{what:?}: {v:#?}");
        assert!(
            v.message().en.contains(message),
            "{what:?}: {:?} lacks {message:?}",
            v.message().en
        );
        assert!(
            v.notes().iter().any(|n| n.en.contains(note)),
            "{what:?}: no note with {note:?} in {:?}",
            v.notes()
        );
        for n in &v.notes() {
            assert!(!n.zh.is_empty(), "{what:?}: note without Chinese: {n:?}");
        }
    }
}

#[test]
fn fullwidth_input_still_says_what_the_halfwidth_value_is() {
    let v = validate("１３８１２３４５６７８".as_bytes(), KindSel::Auto, None);
    assert_eq!(v.reason, Some(IdReason::Charset));
    assert!(!v.valid);
    assert_eq!(v.display, "13812345678");
    assert_eq!(v.looks_like.first().map(|c| c.kind), Some(Kind::Phone));
    assert_eq!(
        v.suggestion().en,
        "switch the input method to half-width (半角) and type the value again"
    );
    assert_eq!(v.suggestion().zh, "请将输入法切换为半角后重新输入");
    assert!(
        v.message().zh.contains("改为半角后将是：有效的电话号码"),
        "{:?}",
        v.message().zh
    );
    // An invalid value says it would still be invalid, and why.
    let v = validate(
        "４１１１１１１１１１１１１１１２".as_bytes(),
        k(Kind::Pan),
        None,
    );
    assert_eq!(v.reason, Some(IdReason::Charset));
    assert!(
        v.message()
            .en
            .contains("even in half-width it would be invalid: this looks like a Visa card number"),
        "{:?}",
        v.message().en
    );
}

#[test]
fn unreadable_and_oversized_input_is_reported_quickly_and_safely() {
    let v = validate(b"\xb9\xfa\xbc\xd2", KindSel::Auto, None); // "国家" in GBK
    assert_eq!(v.reason, Some(IdReason::Charset));
    assert_eq!(v.message().en, "not valid UTF-8 at byte 1");
    assert!(v.suggestion().en.contains("GBK"));
    let v = validate(b"1234\xff", k(Kind::Pan), None);
    assert_eq!(v.message().en, "not valid UTF-8 at byte 5");
    assert_eq!(check(b"1234\xff", Kind::Pan), Err(IdReason::Charset));

    let huge = "4111111111111111".repeat(65_536); // 1 MiB of card numbers
    let v = validate(huge.as_bytes(), KindSel::Auto, None);
    assert_eq!(v.reason, Some(IdReason::Length));
    assert_eq!(v.display, "[1048576 bytes, not shown]");
    assert!(
        v.message().en.contains("1048576 bytes"),
        "{:?}",
        v.message()
    );
    assert!(!all_text(&v).contains("4111111111111111"));
    assert_eq!(check(huge.as_bytes(), Kind::Pan), Err(IdReason::Length));

    let limit = "1".repeat(MAX_INPUT_BYTES);
    assert_ne!(
        validate(limit.as_bytes(), k(Kind::Luhn), None).reason,
        Some(IdReason::Length)
    );
    let over = "1".repeat(MAX_INPUT_BYTES + 1);
    assert_eq!(
        validate(over.as_bytes(), k(Kind::Luhn), None).reason,
        Some(IdReason::Length)
    );
}

fn acquirer_a() -> RuleSet {
    RuleSet::new("acquirer-a")
        .with_lengths(Some(12), Some(12))
        .with_charset(Charset::Digits)
}

#[test]
fn phone_number_typed_as_a_12_digit_customer_id_says_so_in_both_languages() {
    let rules = acquirer_a();
    let v = validate(b"13812345678", KindSel::Auto, Some(&rules));
    assert!(!v.valid);
    assert_eq!(v.reason, Some(IdReason::Length));
    assert_eq!(
        v.message().en,
        "11 digits where 12 are expected; this looks like a mainland China mobile number"
    );
    assert_eq!(
        v.message().zh,
        "共 11 位数字，要求 12 位；看起来像中国大陆手机号码"
    );
    assert_eq!(v.expected().en, "12 digits");
    assert_eq!(v.expected().zh, "12 位数字");
    assert_eq!(
        v.suggestion().en,
        "customer IDs for rule set 'acquirer-a' are 12 digits: if a phone number was entered by mistake, enter the customer ID instead"
    );
    assert_eq!(
        v.suggestion().zh,
        "规则集“acquirer-a”的客户号为12 位数字：如误输了电话号码，请改输客户号"
    );
    assert_eq!(v.looks_like.first().map(|c| c.kind), Some(Kind::Phone));
    assert_eq!(v.looks_like[0].detail().en, "mainland China mobile");
}

#[test]
fn rule_sets_restrict_kinds_length_characters_pattern_and_check() {
    let ric_only = RuleSet::new("ric-only").with_kinds([Kind::CnRic]);
    let pan_only = RuleSet::new("cards").with_kinds([Kind::Pan]);
    let patterned = RuleSet::new("acquirer-b")
        .with_lengths(Some(12), Some(12))
        .with_charset(Charset::Digits)
        .with_pattern("88[0-9]*")
        .unwrap();
    let luhn12 = acquirer_a().with_check(CheckAlgorithm::Luhn);
    let digits12 = acquirer_a();
    let letters = RuleSet::new("letters").with_charset(Charset::UpperAlphanumeric);
    let free = RuleSet::new("free")
        .with_lengths(Some(4), Some(10))
        .with_charset(Charset::Alphanumeric);
    // (input, kind, rules, reason, kind validated as, text in message)
    type Case<'a> = (
        &'a str,
        KindSel,
        &'a RuleSet,
        Option<IdReason>,
        Option<Kind>,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "13812345678",
            KindSel::Auto,
            &ric_only,
            Some(IdReason::Unsupported),
            Some(Kind::Phone),
            "this is a mainland China mobile number, which rule set 'ric-only' does not accept",
        ),
        (
            "11010519491231002X",
            KindSel::Auto,
            &ric_only,
            None,
            Some(Kind::CnRic),
            "valid resident identity number: birth date valid, region code known (county level, in use in the birth year), check character correct, accepted by rule set 'ric-only'",
        ),
        (
            "110105194912310021",
            KindSel::Auto,
            &ric_only,
            Some(IdReason::Checksum),
            Some(Kind::CnRic),
            "check character does not match",
        ),
        (
            "4111111111111112",
            KindSel::Auto,
            &pan_only,
            Some(IdReason::Checksum),
            Some(Kind::Pan),
            "looks like a Visa card number",
        ),
        (
            "4111111111111111",
            KindSel::Auto,
            &pan_only,
            None,
            Some(Kind::Pan),
            "valid Visa card number",
        ),
        (
            "13812345678",
            k(Kind::Phone),
            &pan_only,
            Some(IdReason::Unsupported),
            Some(Kind::Phone),
            "which rule set 'cards' does not accept",
        ),
        (
            "1381234567",
            k(Kind::Phone),
            &pan_only,
            Some(IdReason::Length),
            Some(Kind::Phone),
            "mainland China mobile number has 11",
        ),
        (
            "hello",
            KindSel::Auto,
            &pan_only,
            Some(IdReason::Format),
            Some(Kind::Pan),
            "character 1 ('h') is not a digit",
        ),
        (
            "123456789012",
            KindSel::Auto,
            &patterned,
            Some(IdReason::Rule),
            None,
            "does not match the pattern 88[0-9]* of rule set 'acquirer-b'",
        ),
        (
            "8812 3456 7890",
            KindSel::Auto,
            &patterned,
            None,
            None,
            "accepted by rule set 'acquirer-b'",
        ),
        (
            "A12345678901",
            KindSel::Auto,
            &digits12,
            Some(IdReason::Charset),
            None,
            "character 1 ('A'), which rule set 'acquirer-a' does not allow",
        ),
        (
            "123456789013",
            KindSel::Auto,
            &luhn12,
            Some(IdReason::Checksum),
            None,
            "the Luhn check over the whole value fails",
        ),
        (
            "123456789015",
            KindSel::Auto,
            &luhn12,
            None,
            None,
            "valid customer ID, accepted by rule set 'acquirer-a'",
        ),
        (
            "abc123",
            KindSel::Auto,
            &letters,
            Some(IdReason::Charset),
            None,
            "character 1 ('a')",
        ),
        (
            "AB-12-CD",
            KindSel::Auto,
            &free,
            None,
            None,
            "accepted by rule set 'free'",
        ),
        (
            "13812345678",
            k(Kind::Phone),
            &free,
            Some(IdReason::Length),
            Some(Kind::Phone),
            "11 digits where 4 to 10 are expected; this looks like a mainland China mobile number",
        ),
        (
            "AB-1",
            KindSel::Auto,
            &free,
            Some(IdReason::Length),
            None,
            "3 characters where 4 to 10 are expected",
        ),
        (
            "１２３４５６７８９０１２",
            KindSel::Auto,
            &digits12,
            Some(IdReason::Charset),
            None,
            "in plain half-width characters it would be: valid customer ID, accepted by rule set 'acquirer-a'",
        ),
    ];
    for (input, sel, rules, reason, kind, message) in cases {
        let v = validate(input.as_bytes(), sel, Some(rules));
        invariants(&v, input);
        assert_eq!(v.reason, reason, "{input:?} under {}: {v:#?}", rules.name);
        assert_eq!(v.kind, kind, "{input:?} under {}: {v:#?}", rules.name);
        assert!(
            v.message().en.contains(message),
            "{input:?}: {:?} lacks {message:?}",
            v.message().en
        );
    }
}

#[test]
fn a_digit_is_never_echoed_in_a_rule_charset_message() {
    let letters_only = RuleSet::new("letters").with_charset(Charset::Custom("ABCDEFGHIJ".into()));
    let v = validate(b"4539148803436467", KindSel::Auto, Some(&letters_only));
    assert_eq!(v.reason, Some(IdReason::Charset));
    assert!(
        v.message().en.starts_with("character 1 is a digit"),
        "{:?}",
        v.message()
    );
}

#[test]
fn auto_reports_every_candidate_and_validates_as_the_most_plausible() {
    let cands = looks_like(b"4111111111111111");
    let kinds: Vec<Kind> = cands.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [Kind::Pan, Kind::Imei]);
    assert_eq!(cands[0].detail().en, "Visa");

    // Overlapping IIN ranges: every candidate brand.
    let discover_rupay_troy = with_luhn("650000000000000");
    let v = validate(discover_rupay_troy.as_bytes(), KindSel::Auto, None);
    for brand in ["Discover", "RuPay", "Troy"] {
        assert!(v.message().en.contains(brand), "{:?}", v.message());
        assert!(v.looks_like[0].detail().en.contains(brand));
    }

    // A 16-digit number with a wrong check digit is a valid IMEISV, but the
    // verdict says it is one digit away from a Visa card number.
    let v = validate(b"4111111111111112", KindSel::Auto, None);
    assert_eq!((v.valid, v.kind), (true, Some(Kind::Imei)));
    assert!(
        v.notes().iter().any(|n| n.en == "if this is meant as a payment card number: this looks like a Visa card number, but the Luhn check digit does not match"),
        "{:?}",
        v.notes()
    );

    // A resident ID one character off reads as the WeChat Pay payment code
    // its prefix and length fit (a decimal MEID too), with the near miss
    // named.
    let v = validate(b"110105194912310021", KindSel::Auto, None);
    assert_eq!(
        (v.kind, v.reason),
        (Some(Kind::Paycode), None),
        "a payment code: {v:?}"
    );
    assert!(v.looks_like.iter().any(|c| c.kind == Kind::Meid), "{v:?}");
    assert!(
        v.notes().iter().any(|n| n
            .en
            .starts_with("if this is meant as a resident identity number")),
        "{:?}",
        v.notes()
    );
    let v = validate(b"11010519491231002A", KindSel::Auto, None);
    assert_eq!(
        (v.kind, v.reason),
        (Some(Kind::CnRic), Some(IdReason::Checksum))
    );
    let v = validate(b"hello", KindSel::Auto, None);
    assert_eq!((v.kind, v.reason), (None, Some(IdReason::Format)));
    assert_eq!(
        v.message().en,
        "5 characters, not recognised as any identifier posdiag knows"
    );
    assert!(looks_like(b"").is_empty());
    assert!(looks_like(b"\xff").is_empty());
}

#[test]
fn card_numbers_never_leave_unmasked() {
    let pan = "4539148803436467";
    assert_eq!(check(pan.as_bytes(), Kind::Pan), Ok(Kind::Pan));
    let hidden = &pan[6..12];
    let spaced = "4539 1488 0343 6467";
    let dashed = "4539-1488-0343-6467";
    let fullwidth: String = pan
        .chars()
        .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
        .collect();
    let zero_width = format!("4539{}148803436467", '\u{200B}');
    let typo_letter = "4539a148803436467";
    let typo_digit = "4539148803436468";
    let short = "453914880343646";
    let long = "45391488034364671";
    let framed = format!("  {pan}\r\n");
    let inputs: Vec<&str> = vec![
        pan,
        spaced,
        dashed,
        &fullwidth,
        &zero_width,
        typo_letter,
        typo_digit,
        short,
        long,
        &framed,
    ];
    let rules = [
        None,
        Some(acquirer_a()),
        Some(RuleSet::new("ric-only").with_kinds([Kind::CnRic])),
        Some(
            RuleSet::new("cards")
                .with_kinds([Kind::Pan])
                .with_pattern("9.*")
                .unwrap(),
        ),
        Some(
            RuleSet::new("letters")
                .with_charset(Charset::UpperAlphanumeric)
                .with_lengths(None, Some(8)),
        ),
    ];
    let sels: Vec<KindSel> = std::iter::once(KindSel::Auto)
        .chain(Kind::ALL.iter().map(|&k| k.into()))
        .collect();
    for input in &inputs {
        for sel in &sels {
            for r in &rules {
                let v = validate(input.as_bytes(), *sel, r.as_ref());
                let text = all_text(&v);
                assert!(
                    !text.contains(pan),
                    "{input:?} as {sel} leaks the PAN: {text}"
                );
                assert!(
                    !text.contains(hidden),
                    "{input:?} as {sel} under {:?} shows hidden digits {hidden}: {text}",
                    r.as_ref().map(|r| &r.name)
                );
            }
        }
        for c in looks_like(input.as_bytes()) {
            assert!(!c.detail().en.contains(hidden) && !c.detail().zh.contains(hidden));
        }
    }
    let split = validate(b"453914\xff\xff8803436467", KindSel::Auto, None);
    assert_eq!(split.display, "453914\u{FFFD}\u{FFFD}******6467");
    assert_eq!(
        validate(pan.as_bytes(), k(Kind::Pan), None).display,
        "453914******6467"
    );
    assert_eq!(
        validate(typo_letter.as_bytes(), k(Kind::Pan), None).display,
        "4539a14******6467"
    );
}

#[test]
fn nothing_panics_and_the_fast_paths_agree_with_validate() {
    // Deterministic pseudo-random inputs: bytes biased towards digits,
    // separators, letters, multi-byte characters and junk.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let pieces: &[&[u8]] = &[
        b"0",
        b"1",
        b"3",
        b"4",
        b"6",
        b"8",
        b"9",
        b"X",
        b"x",
        b"A",
        b"Z",
        b"+",
        b"-",
        b" ",
        b"(",
        b"\t",
        b"\0",
        b"\xff",
        "１".as_bytes(),
        "\u{3000}".as_bytes(),
        "\u{200B}".as_bytes(),
        "客".as_bytes(),
        b"86",
        b"GB82",
        b"0000",
    ];
    let rules = acquirer_a().with_pattern("[0-9]+").unwrap();
    let cards = RuleSet::new("cards").with_kinds([Kind::Pan, Kind::Phone]);
    for _ in 0..6_000 {
        let len = (next() % 40) as usize;
        let mut input = Vec::new();
        for _ in 0..len {
            input.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
        }
        let what = format!("{input:?}");
        let same = |v: &Validation, sel: KindSel, r: Option<&RuleSet>| {
            invariants(v, &what);
            let want = match v.reason {
                None => Ok(v.kind),
                Some(reason) => Err(reason),
            };
            assert_eq!(check_with(&input, sel, r), want, "{sel} {what}");
            let mut display = String::new();
            assert_eq!(
                (
                    check_display(&input, sel, r, &mut display),
                    display.as_str()
                ),
                (want, v.display.as_str()),
                "{sel} {what}"
            );
            // The audit's path: the same verdict, shown only when failing.
            let shown = if want.is_ok() { "" } else { v.display.as_str() };
            let mut bytes = Vec::new();
            assert_eq!(
                (check_failing(&input, sel, r, &mut bytes), &bytes[..]),
                (want.err(), shown.as_bytes()),
                "check_failing {sel} {what}"
            );
        };
        same(&validate(&input, KindSel::Auto, None), KindSel::Auto, None);
        same(
            &validate(&input, KindSel::Auto, Some(&rules)),
            KindSel::Auto,
            Some(&rules),
        );
        same(
            &validate(&input, KindSel::Auto, Some(&cards)),
            KindSel::Auto,
            Some(&cards),
        );
        for &kind in Kind::ALL {
            let v = validate(&input, k(kind), None);
            same(&v, k(kind), None);
            assert_eq!(check(&input, kind).err(), v.reason, "{kind} {what}");
            same(
                &validate(&input, k(kind), Some(&cards)),
                k(kind),
                Some(&cards),
            );
        }
    }
}

/// Digits typed full-width (or with an invisible character among them)
/// fail for their charset whatever they are, and the audit shows them
/// without working out what they are: the shown value must still be the
/// one `validate` shows, payment-code prefixes, card lengths and near
/// misses included.
#[test]
fn full_width_digits_are_shown_as_validate_shows_them() {
    let mut x = 5u64;
    let mut next = || {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        x >> 33
    };
    let prefixes = [
        "10", "13", "15", "25", "28", "30", "62", "81", "86", "4", "5", "0", "9",
    ];
    let mut bytes = Vec::new();
    let mut checked = 0;
    for len in 1..=26usize {
        for prefix in prefixes {
            for variant in 0..3 {
                let mut digits: String = prefix.chars().take(len).collect();
                while digits.len() < len {
                    digits.push(char::from(b'0' + (next() % 10) as u8));
                }
                let typed: String = match variant {
                    // Every digit full-width.
                    0 => digits
                        .chars()
                        .map(|c| char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap())
                        .collect(),
                    // One full-width digit.
                    1 => digits
                        .char_indices()
                        .map(|(i, c)| if i == len / 2 { '９' } else { c })
                        .collect(),
                    // A zero-width space inside.
                    _ => {
                        let (a, b) = digits.split_at(len / 2);
                        format!("{a}\u{200B}{b}")
                    }
                };
                for sel in [
                    KindSel::Auto,
                    KindSel::Kind(Kind::Pan),
                    KindSel::Kind(Kind::Paycode),
                ] {
                    let v = validate(typed.as_bytes(), sel, None);
                    assert_eq!(v.reason, Some(IdReason::Charset), "{sel} {typed:?}");
                    assert_eq!(
                        (
                            check_failing(typed.as_bytes(), sel, None, &mut bytes),
                            &bytes[..]
                        ),
                        (v.reason, v.display.as_bytes()),
                        "{sel} {typed:?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000);
}

#[test]
fn kinds_and_reasons_describe_themselves_in_both_languages() {
    for &kind in Kind::ALL {
        for t in [kind.title(), kind.format()] {
            assert!(!t.en.is_empty() && !t.zh.is_empty(), "{kind}");
        }
    }
    for &r in IdReason::ALL {
        let m = r.meaning();
        assert!(!m.en.is_empty() && !m.zh.is_empty(), "{r}");
    }
    assert_eq!(
        Kind::CnRic.format().en,
        "18 characters: 17 digits and a check character (0-9 or X)"
    );
    assert_eq!(
        Kind::Pan.title(),
        posdiag_core::Text::new("payment card number", "银行卡号")
    );
}

/// What a resident identity number's mask hides (the birth date; with it the
/// region's name and the sex the number encodes) appears in no message,
/// detail, note, expectation or suggestion, valid or not, in either language.
#[test]
fn a_resident_id_reveals_nothing_its_mask_hides() {
    let leaks = [
        "1949",
        "12-31",
        "1231",
        "female",
        "male",
        "Beijing",
        "北京",
        "女",
        "男",
        "出生于",
        "110105 (",
    ];
    for (input, sel) in [
        ("11010519491231002X", KindSel::Kind(Kind::CnRic)),
        ("11010519491231002X", KindSel::Auto),
        ("110105194913310028", KindSel::Kind(Kind::CnRic)),
        ("110105194912310021", KindSel::Auto),
    ] {
        let v = validate(input.as_bytes(), sel, None);
        let all = v.texts();
        let mut texts = vec![all.message, all.expected, all.suggestion];
        texts.extend(all.notes);
        texts.extend(v.looks_like.iter().map(|c| c.detail()));
        for text in texts {
            for s in [&text.en, &text.zh] {
                for leak in leaks {
                    assert!(!s.contains(leak), "{input}: {leak:?} in {s:?}");
                }
            }
        }
        // A resident ID shows its first six digits; one that could be a
        // payment code (a bearer token) only two.
        assert!(
            v.display.starts_with("110105*******") || v.display == format!("11{}", "*".repeat(16)),
            "{}",
            v.display
        );
    }
}

#[test]
fn payment_codes_hong_kong_and_taiwan_ids_and_residence_permits() {
    // (kind, value, verdict): valid values checked by hand against the
    // published algorithms (see data/README.md for the sources).
    let cases: &[(Kind, &str, Result<Kind, IdReason>)] = &[
        (Kind::Paycode, "134567890123456789", Ok(Kind::Paycode)),
        (Kind::Paycode, "2812345678901234", Ok(Kind::Paycode)),
        (Kind::Paycode, "281234567890123456789012", Ok(Kind::Paycode)),
        (Kind::Paycode, "6212345678901234567", Ok(Kind::Paycode)),
        (Kind::Paycode, "13456789012345678", Err(IdReason::Length)),
        (
            Kind::Paycode,
            "2812345678901234567890123",
            Err(IdReason::Length),
        ),
        (Kind::Paycode, "621234567890123456", Err(IdReason::Length)),
        (
            Kind::Paycode,
            "184567890123456789",
            Err(IdReason::Component),
        ),
        (Kind::Paycode, "13456789012345678X", Err(IdReason::Format)),
        (Kind::HkId, "A1234563", Ok(Kind::HkId)),
        (Kind::HkId, "A123456(3)", Ok(Kind::HkId)),
        (Kind::HkId, "a123456(3)", Ok(Kind::HkId)),
        (Kind::HkId, "AB9876543", Ok(Kind::HkId)),
        (Kind::HkId, "XA000001(6)", Ok(Kind::HkId)),
        (Kind::HkId, "A123456(4)", Err(IdReason::Checksum)),
        (Kind::HkId, "A12345(3)", Err(IdReason::Length)),
        (Kind::HkId, "1234567(3)", Err(IdReason::Format)),
        (Kind::TwId, "A123456789", Ok(Kind::TwId)),
        (Kind::TwId, "F234567898", Ok(Kind::TwId)),
        (Kind::TwId, "A800000014", Ok(Kind::TwId)),
        (Kind::TwId, "A123456788", Err(IdReason::Checksum)),
        (Kind::TwId, "A323456789", Err(IdReason::Component)),
        (Kind::TwId, "1123456789", Err(IdReason::Format)),
        (Kind::TwId, "A12345678", Err(IdReason::Length)),
        (Kind::CnRp, "810000199001011230", Ok(Kind::CnRp)),
        (Kind::CnRp, "820000198006150026", Ok(Kind::CnRp)),
        (Kind::CnRp, "830000200002294569", Ok(Kind::CnRp)),
        (Kind::CnRp, "830000200002294568", Err(IdReason::Checksum)),
        (Kind::CnRp, "11010519491231002X", Err(IdReason::Component)),
    ];
    for &(kind, value, want) in cases {
        assert_eq!(check(value.as_bytes(), kind), want, "{kind} {value}");
        let v = validate(value.as_bytes(), KindSel::Kind(kind), None);
        assert_eq!(v.reason, want.err(), "{kind} {value}: {:?}", v.message());
        for text in [&v.message(), &v.expected(), &v.suggestion()] {
            assert!(!text.en.is_empty() && !text.zh.is_empty(), "{text:?}");
        }
    }
    // A residence permit is also accepted as a resident identity number.
    assert_eq!(check(b"810000199001011230", Kind::CnRic), Ok(Kind::CnRic));
}

#[test]
fn auto_recognises_the_new_kinds() {
    for (value, kind, detail) in [
        (
            "134567890123456789",
            Kind::Paycode,
            "WeChat Pay payment code",
        ),
        ("2812345678901234", Kind::Paycode, "Alipay payment code"),
        (
            "A123456(3)",
            Kind::HkId,
            "1-letter prefix, check character correct",
        ),
        (
            "A123456789",
            Kind::TwId,
            "identity card, check digit correct",
        ),
        (
            "830000200002294569",
            Kind::CnRp,
            "Taiwan resident, birth date valid, check character correct",
        ),
    ] {
        let v = validate(value.as_bytes(), KindSel::Auto, None);
        assert_eq!((v.valid, v.kind), (true, Some(kind)), "{value}: {v:?}");
        assert_eq!(v.looks_like[0].detail().en, detail);
        assert!(looks_like(value.as_bytes()).iter().any(|c| c.kind == kind));
    }
}

#[test]
fn payment_codes_are_never_shown() {
    for value in [
        "134567890123456789",
        "2812345678901234",
        "6212345678901234567",
        "1345 6789 0123 4567 89",
        "13456789012345678",
    ] {
        for sel in [
            KindSel::Auto,
            KindSel::Kind(Kind::Paycode),
            KindSel::Kind(Kind::CnRic),
            KindSel::Kind(Kind::Pan),
        ] {
            let v = validate(value.as_bytes(), sel, None);
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            let shown: String = v.display.chars().filter(char::is_ascii_digit).collect();
            assert!(
                shown.len() <= 6,
                "{value} as {sel}: {} shows too much",
                v.display
            );
            let all = format!("{v:?}");
            assert!(!all.contains(&digits[2..14]), "{value} as {sel}: {all}");
        }
    }
    let v = validate(b"134567890123456789", KindSel::Auto, None);
    assert_eq!(v.display, "13****************");
    assert!(v.notes().iter().any(|n| n.en.contains("bearer token")));

    // Scanned into a field whose rule set wants resident IDs only.
    let ric_only = RuleSet::new("ric-only").with_kinds([Kind::CnUscc]);
    let v = validate(b"2812345678901234", KindSel::Auto, Some(&ric_only));
    assert_eq!(v.reason, Some(IdReason::Unsupported), "{v:?}");
    assert!(
        v.suggestion()
            .en
            .starts_with("a wallet payment code was scanned"),
        "{:?}",
        v.suggestion()
    );
    // Hong Kong and Taiwan IDs show their letters and check character only.
    let v = validate(b"A123456(3)", KindSel::Auto, None);
    assert_eq!(v.display, "A******(3)");
    let v = validate(b"A123456789", KindSel::Auto, None);
    assert_eq!(v.display, "A********9");
}
