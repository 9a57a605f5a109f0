//! Vectors with their sources: records from openemv/emv-utils' test suite
//! (`tests/emv_read_application_data_test.c`, a public Visa test card,
//! copied as data), the receipt values of issue 17 and of
//! `round2-anchors.md` §6, and one receipt per explanation rule, so every
//! rule is exercised and every TVR and TSI bit decoded.

use posdiag_emv::tlv::{Tag, TlvError, from_hex};
use posdiag_emv::{
    Decoded, EmvError, Receipt, decode_hex, decode_receipt, explain, tables::tables,
};

/// openemv/emv-utils tests/emv_read_application_data_test.c, test 5: READ
/// RECORD SFI 1 record 2 (track 2 equivalent, cardholder name, track 1
/// discretionary data), without the status word and trailing padding.
const EMV_UTILS_RECORD: &str = "7033571147617390010101 19D22122011758928889 5F200C455850495245442F43415244 9F1F0E3137353839303936303030303030";

/// The same suite, test 6: 9F1F claims one byte more than the record holds.
const EMV_UTILS_MALFORMED: &str = "7033571147617390010101 19D22122011758928889 5F200C455850495245442F43415244 9F1F0F3137353839303936303030303030";

/// The same suite, test 10: SFI 2 record 1 (PAN, PAN sequence number, expiry, CDOL1, CDOL2).
const EMV_UTILS_CDOL: &str = "70465A0847617390010101195F3401015F24032212318C159F02069F03069F1A0295055F2A029A039C019F37048D198A029F02069F03069F1A0295055F2A029A039C019F370491 08";

fn shown(d: &Decoded) -> String {
    d.all()
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}\n",
                e.value.en,
                e.value.zh,
                e.raw,
                e.items
                    .iter()
                    .map(|i| i.name.en.clone())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
        .collect()
}

#[test]
fn a_card_record_decodes_with_card_data_masked() {
    let d = decode_hex(EMV_UTILS_RECORD).unwrap();
    let tags: Vec<String> = d.all().iter().map(|e| e.tag.to_string()).collect();
    assert_eq!(tags, ["70", "57", "5F20", "9F1F"]);
    let out = shown(&d);
    assert!(!out.contains("4761739001010119"), "{out}");
    assert!(!out.contains("EXPIRED"), "{out}");
    assert!(!out.contains("17589096"), "{out}");
    assert!(!out.contains("2212"), "expiry shown: {out}");
    let t2 = d.find(Tag(0x57)).unwrap();
    assert_eq!(
        t2.value.en,
        "476173******0119 (track data hidden, 17 bytes)"
    );
    assert!(t2.raw.is_empty());
    // The service code of track 2 (201) is read: a chip card.
    assert!(d.has("service.chip_international"));
    assert!(!d.has("service.pin_required") && d.has("service.no_restrictions"));
    assert_eq!(d.find(Tag(0x5F20)).unwrap().value.en, "(hidden, 12 bytes)");
    assert_eq!(
        d.find(Tag(0x70)).unwrap().name.as_ref().unwrap().en,
        "Record template"
    );
}

#[test]
fn a_malformed_record_names_the_object_and_offset() {
    let err = decode_hex(EMV_UTILS_MALFORMED).unwrap_err();
    assert_eq!(
        err,
        EmvError::Tlv(TlvError::ValueOverrun {
            offset: 36,
            tag: Tag(0x9F1F),
            length: 15,
            available: 14
        })
    );
    assert!(err.text().zh.contains("第 36 字节"));
}

#[test]
fn dols_and_dates_read_like_a_receipt() {
    let d = decode_hex(EMV_UTILS_CDOL).unwrap();
    assert_eq!(d.find(Tag(0x5A)).unwrap().value.en, "476173******0119");
    assert_eq!(d.find(Tag(0x5F24)).unwrap().value.en, "2022-12-31");
    assert_eq!(
        d.find(Tag(0x8C)).unwrap().value.en,
        "9F02(6) 9F03(6) 9F1A(2) 95(5) 5F2A(2) 9A(3) 9C(1) 9F37(4)"
    );
    assert!(d.find(Tag(0x8D)).unwrap().value.en.starts_with("8A(2) "));
}

#[test]
fn the_receipt_of_issue_17() {
    // `posdiag emv decode --tvr 8000048000 --tsi E800`
    let d = decode_receipt(&Receipt {
        tvr: Some("8000048000".into()),
        tsi: Some("E800".into()),
        ..Receipt::default()
    })
    .unwrap();
    let keys: Vec<&str> = d.items().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "tvr.oda_not_performed",
            "tvr.online_cvm",
            "tvr.floor_limit",
            "tsi.oda_performed",
            "tsi.cv_performed",
            "tsi.card_risk_performed",
            "tsi.terminal_risk_performed",
        ]
    );
    // round2-anchors.md §6: `--9F33 E0F0C8 --arc Z3`.
    let d = decode_receipt(&Receipt {
        term_caps: Some("E0F0C8".into()),
        arc: Some("Z3".into()),
        ..Receipt::default()
    })
    .unwrap();
    assert!(d.has("caps.icc") && d.has("caps.cda") && d.has("caps.online_pin"));
    let e = explain(&d);
    assert_eq!(e.causes[0].id, "arc.z3");
    assert_eq!(e.causes[0].checks.name(), "host");
}

#[test]
fn every_tvr_and_tsi_bit_decodes_to_its_own_meaning() {
    for (tag, bytes, field) in [(0x95u32, 5usize, "tvr"), (0x9B, 2, "tsi")] {
        let table = tables().bit_table(Tag(tag)).unwrap();
        let mut seen = Vec::new();
        for byte in 0..bytes {
            for bit in 0..8 {
                let mut v = vec![0u8; bytes];
                v[byte] = 1 << bit;
                let mut blob = vec![0x9F, 0x00];
                if tag == 0x95 {
                    blob = vec![0x95, bytes as u8];
                } else {
                    blob[0] = 0x9B;
                    blob[1] = bytes as u8;
                }
                blob.extend(&v);
                let d = posdiag_emv::decode_tlv(&blob).unwrap();
                let items: Vec<_> = d.items().collect();
                // TSI byte 2 is all RFU: nothing to say.
                if field == "tsi" && byte == 1 {
                    assert!(items.is_empty());
                    continue;
                }
                assert_eq!(items.len(), 1, "{field} byte {} bit {}", byte + 1, bit + 1);
                assert!(items[0].key.starts_with(field));
                assert!(!items[0].name.zh.is_empty());
                assert!(!seen.contains(&items[0].key));
                seen.push(items[0].key.clone());
            }
        }
        assert_eq!(seen.len(), table.rows.len());
    }
}

#[test]
fn receipt_values_are_checked() {
    let r = |f: fn(&mut Receipt)| {
        let mut r = Receipt::default();
        f(&mut r);
        decode_receipt(&r).unwrap_err()
    };
    assert_eq!(
        r(|r| r.tvr = Some("80000480".into())).to_string(),
        "tvr: expected 5 bytes, got 4"
    );
    assert_eq!(
        r(|r| r.tsi = Some("E8G0".into())).to_string(),
        "tsi: character 2 is not a hex digit"
    );
    assert!(
        r(|r| r.arc = Some("Z".into()))
            .to_string()
            .starts_with("arc: \"Z\" is not")
    );
    assert!(
        r(|r| r.entry_mode = Some("8x1".into()))
            .text()
            .zh
            .contains("POS 输入方式")
    );
    assert!(matches!(
        r(|r| r.service_code = Some("2010".into())),
        EmvError::Value { .. }
    ));
    assert_eq!(r(|_| {}), EmvError::Nothing);
    // ARC as hex of its ASCII.
    let d = decode_receipt(&Receipt {
        arc: Some("5A33".into()),
        ..Receipt::default()
    })
    .unwrap();
    assert!(d.has("arc.z3"));
    // An issuer code posdiag's code tables know.
    let d = decode_receipt(&Receipt {
        arc: Some("05".into()),
        ..Receipt::default()
    })
    .unwrap();
    assert!(
        d.items()
            .next()
            .unwrap()
            .name
            .en
            .contains("posdiag explain 05")
    );
}

#[test]
fn card_data_tags_are_never_shown() {
    // PAN, track 2 equivalent, track 1, track 2 (contactless), track 1
    // discretionary data, cardholder name: values made of a real-looking PAN.
    let pan = "4111111111111111";
    for tag in ["5A", "57", "56", "9F6B", "9F1F", "5F20"] {
        let value = if tag == "5A" {
            pan.to_owned()
        } else if tag == "57" || tag == "9F6B" {
            format!("{pan}D25122011234567890")
        } else {
            posdiag_emv::tlv::to_hex(format!("%B{pan}^DOE/JOHN^2512201").as_bytes())
        };
        let len = value.len() / 2;
        let hex = format!("{tag}{len:02X}{value}");
        let d = decode_hex(&hex).unwrap();
        let out = shown(&d);
        assert!(!out.contains(pan), "{tag}: {out}");
        assert!(!out.contains("DOE"), "{tag}: {out}");
        assert!(!out.contains(&value), "{tag}: {out}");
    }
    // Unknown binary tags with a card number in BCD are masked too.
    let d = decode_hex("DF0108 4111111111111111").unwrap();
    assert!(!shown(&d).contains(pan));
    let _ = from_hex;
}

/// One receipt per rule: (values, the rule that must rank first).
fn rule_vectors() -> Vec<(Receipt, &'static str)> {
    let r = |tvr: &str, more: fn(&mut Receipt)| {
        let mut r = Receipt {
            tvr: (!tvr.is_empty()).then(|| tvr.to_owned()),
            ..Receipt::default()
        };
        more(&mut r);
        r
    };
    vec![
        (r("0000008000", |r| r.arc = Some("Z3".into())), "arc.z3"),
        (r("", |r| r.arc = Some("Y3".into())), "arc.y3"),
        (r("0000000000", |r| r.arc = Some("Z1".into())), "arc.z1"),
        (r("0040000000", |_| {}), "tvr.expired_application"),
        (r("0020000000", |_| {}), "tvr.not_yet_effective"),
        (r("0000A00000", |_| {}), "tvr.pin_try_limit"),
        (r("0000900000", |_| {}), "tvr.pin_pad"),
        (r("", |r| r.entry_mode = Some("058".into())), "tvr.pin_pad"),
        (
            r("0000800000", |r| r.cvm = Some("410301".into())),
            "cvm.pin_failed",
        ),
        (r("0000800000", |_| {}), "tvr.cv_failed"),
        (r("0000080000", |_| {}), "tvr.pin_not_entered"),
        (r("2000000000", |_| {}), "tvr.icc_data_missing"),
        (
            r("0800000000", |r| r.tsi = Some("E800".into())),
            "oda.failed_performed",
        ),
        (r("0400000000", |_| {}), "oda.failed"),
        (r("0000000004", |_| {}), "tvr.ca_key"),
        (
            r("8000000000", |r| {
                r.aip = Some("3901".into());
                r.term_caps = Some("E0F0C0".into());
            }),
            "oda.cda_not_configured",
        ),
        (
            r("8000000000", |r| r.aip = Some("1800".into())),
            "oda.card_policy",
        ),
        (r("0010000000", |_| {}), "tvr.service_not_allowed"),
        (r("1000000000", |_| {}), "tvr.exception_file"),
        (r("0000000040", |_| {}), "tvr.issuer_auth_failed"),
        (r("0000000010", |_| {}), "tvr.script_failed"),
        (r("0000002000", |r| r.arc = Some("Z1".into())), "arc.z1"),
        (r("0000000800", |_| {}), "tvr.merchant_forced_online"),
        (r("0000008000", |_| {}), "tvr.floor_limit"),
        (r("0000400000", |_| {}), "tvr.unrecognised_cvm"),
        (
            r("", |r| {
                r.entry_mode = Some("901".into());
                r.service_code = Some("201".into());
            }),
            "entry.chip_swiped",
        ),
        (
            r("", |r| {
                r.entry_mode = Some("801".into());
                r.service_code = Some("201".into());
            }),
            "entry.fallback",
        ),
        (
            r("", |r| {
                r.term_caps = Some("C0F0C8".into());
                r.service_code = Some("601".into());
            }),
            "caps.no_icc",
        ),
        (
            r("", |r| r.service_code = Some("901".into())),
            "service.test",
        ),
        (r("", |r| r.tsi = Some("0000".into())), "tsi.stopped_early"),
        (r("", |r| r.cid = Some("00".into())), "cid.aac"),
    ]
}

#[test]
fn every_rule_is_exercised_and_ranks_first_where_it_should() {
    let mut fired = std::collections::BTreeSet::new();
    for (receipt, top) in rule_vectors() {
        let d = decode_receipt(&receipt).unwrap();
        let e = explain(&d);
        assert!(!e.causes.is_empty(), "{receipt:?}");
        assert_eq!(e.causes[0].id, top, "{receipt:?}: {:?}", e.causes);
        for c in &e.causes {
            assert!(!c.cause.zh.is_empty() && !c.remedies.is_empty());
            fired.insert(c.id.clone());
        }
    }
    let all: std::collections::BTreeSet<String> = posdiag_emv::explain::rules()
        .iter()
        .map(|r| r.id.clone())
        .collect();
    let missing: Vec<_> = all.difference(&fired).collect();
    assert!(missing.is_empty(), "rules never exercised: {missing:?}");
}

#[test]
fn combined_readings_name_both_sources() {
    let d = decode_receipt(&Receipt {
        tvr: Some("0800000000".into()),
        tsi: Some("E800".into()),
        ..Receipt::default()
    })
    .unwrap();
    let e = explain(&d);
    let c = &e.causes[0];
    assert!(
        c.cause.en.starts_with(
            "TSI says offline data authentication was performed and TVR says it failed"
        )
    );
    assert_eq!(c.evidence, ["tsi.oda_performed", "tvr.dda_failed"]);
    // A PIN try limit is not also reported as a plain verification failure.
    let d = decode_receipt(&Receipt {
        tvr: Some("0000A00000".into()),
        ..Receipt::default()
    })
    .unwrap();
    assert!(explain(&d).causes.iter().all(|c| c.id != "tvr.cv_failed"));
    // Nothing wrong: no problems.
    let d = decode_receipt(&Receipt {
        tvr: Some("0000000000".into()),
        tsi: Some("E800".into()),
        arc: Some("00".into()),
        ..Receipt::default()
    })
    .unwrap();
    assert!(!explain(&d).has_problems());
}

#[test]
fn tables_and_rules_load() {
    posdiag_emv::tables::load().unwrap();
    posdiag_emv::explain::load_rules().unwrap();
    for m in tables().all_meanings() {
        assert!(!m.name.en.is_empty() && !m.name.zh.is_empty(), "{}", m.key);
    }
}

#[test]
fn iso8583_field_55_is_decoded_from_a_host_message() {
    use posdiag_core::iso8583::{Dialect, Message, Mti};
    // An authorisation request as a terminal sends it (binary dialect,
    // field 55 as raw bytes): the chip data of a declined card.
    let icc = from_hex(
        "9F2701005F2A02097882023900950500400080009A032612069C01009F02060000000012349F1A0202769F3303E0F0C89F34034103019F3501228A025A33",
    )
    .unwrap();
    let dialect = Dialect::binary();
    let msg = Message::new(Mti::new("0100").unwrap())
        .with(3, "000000")
        .unwrap()
        .with(55, icc.clone())
        .unwrap();
    let bytes = dialect.encode(&msg).unwrap();
    let back = dialect.decode(&bytes).unwrap();
    let de55 = back.get(55).unwrap();
    assert_eq!(de55, icc.as_slice());
    let d = posdiag_emv::decode_tlv(de55).unwrap();
    assert_eq!(d.find(Tag(0x9F02)).unwrap().value.en, "1234");
    assert_eq!(d.find(Tag(0x9A)).unwrap().value.en, "2026-12-06");
    let e = explain(&d);
    let ids: Vec<&str> = e.causes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids[0], "arc.z3", "{ids:?}");
    assert!(ids.contains(&"tvr.expired_application"), "{ids:?}");
}

proptest::proptest! {
    /// What the fuzz target checks, on random bytes and on mutated vectors:
    /// no panic, the tree and the flat visit see the same objects, and the
    /// structured explanation says what the rendered one says.
    #[test]
    fn structured_and_rendered_readings_agree(
        bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
        pick in 0usize..4,
        flip in proptest::num::u8::ANY,
    ) {
        let vector = from_hex([EMV_UTILS_RECORD, EMV_UTILS_CDOL, EMV_UTILS_MALFORMED, "9F2701005F2A0209789505004000800082023900"][pick]).unwrap();
        let mut mutated = vector.clone();
        let at = usize::from(flip) % mutated.len();
        mutated[at] ^= flip | 1;
        for data in [&bytes, &vector, &mutated] {
            let tree = posdiag_emv::tlv::parse(data);
            let mut flat = Vec::new();
            let visited = posdiag_emv::tlv::visit(data, &mut |tag, offset, _| flat.push((tag, offset)));
            if let Ok(tree) = &tree {
                proptest::prop_assert!(visited.is_ok());
                let walked: Vec<_> = tree.all().iter().map(|o| (o.tag, o.offset)).collect();
                proptest::prop_assert_eq!(&walked, &flat);
            }
            if let Ok(r) = posdiag_emv::decode(data) {
                let d = r.to_decoded();
                proptest::prop_assert_eq!(explain(&d), r.reasons().to_explanation());
                let keys: Vec<String> = d.items().map(|i| i.key.clone()).collect();
                for k in &keys {
                    proptest::prop_assert!(r.has(k), "{}", k);
                }
            }
        }
    }
}
