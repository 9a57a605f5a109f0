//! ISO 8583 codec against the outside world: pyiso8583's vectors decode and re-encode byte
//! for byte, generated messages round-trip in every named dialect, arbitrary bytes never
//! panic, malformed messages give errors naming the part, card numbers never leak into logs.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use posdiag_core::iso8583::{
    Content, DIALECT_NAMES, DataEncoding, Dialect, FieldSpec, FrameReader, Iso8583Error,
    LengthPrefix, LengthType, Message, Mti, Part, Tpdu,
};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Rows of a fixture TSV, without comments and blank lines.
fn rows(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').collect())
        .collect()
}

fn dialect(spec: &str) -> Dialect {
    Dialect::by_name(spec).unwrap_or_else(|| panic!("unknown spec {spec}"))
}

#[test]
fn echo_vectors_decode_and_reencode_byte_for_byte() {
    let rows = rows(include_str!("fixtures/iso8583/echo.tsv"));
    assert_eq!(rows.len(), 6);
    for row in rows {
        let [spec, case, message] = row[..] else {
            panic!("bad row {row:?}");
        };
        let d = dialect(spec);
        let wire = hex(message);
        let m = d
            .decode(&wire)
            .unwrap_or_else(|e| panic!("{spec} {case}: {e}"));
        assert_eq!(m.mti().as_str(), &case[..4], "{spec} {case}");
        assert_eq!(m.text(7), Some("1122083015"), "{spec} {case}");
        assert_eq!(m.text(11), Some("000123"), "{spec} {case}");
        assert_eq!(m.text(70), Some("301"), "{spec} {case}");
        let code = case.split_once("39=").map(|(_, c)| c);
        assert_eq!(m.response_code(), code, "{spec} {case}");
        assert_eq!(d.encode(&m).unwrap(), wire, "{spec} {case}");
    }
}

#[test]
fn pyiso8583_generated_vectors_agree() {
    let rows = rows(include_str!("fixtures/iso8583/generated.tsv"));
    assert!(rows.len() >= 30);
    for row in rows {
        let [spec, case, fields, message] = row[..] else {
            panic!("bad row {row:?}");
        };
        let d = dialect(spec);
        let wire = hex(message);
        let m = d
            .decode(&wire)
            .unwrap_or_else(|e| panic!("{spec} {case}: {e}"));
        let fields: serde_json::Value = serde_json::from_str(fields).unwrap();
        let fields = fields.as_object().unwrap();
        assert_eq!(
            fields["t"].as_str(),
            Some(m.mti().as_str()),
            "{spec} {case}"
        );
        let mut want = Message::new(m.mti());
        for (k, v) in fields.iter().filter(|(k, _)| *k != "t") {
            let n: u8 = k.parse().unwrap();
            let v = v.as_str().unwrap();
            let binary = d.field(n).unwrap().data == DataEncoding::Binary;
            want.set(
                n,
                if binary {
                    hex(v)
                } else {
                    v.as_bytes().to_vec()
                },
            )
            .unwrap();
        }
        assert_eq!(m, want, "{spec} {case}");
        assert_eq!(d.encode(&m).unwrap(), wire, "{spec} {case}");
    }
}

/// A value valid for `spec`, made from arbitrary bytes.
fn valid_value(spec: &FieldSpec, len_seed: u16, raw: &[u8]) -> Vec<u8> {
    let len = match spec.length {
        LengthType::Fixed(n) => usize::from(n),
        other => usize::from(len_seed) % (usize::from(other.max().min(64)) + 1),
    };
    (0..len)
        .map(|i| {
            let b = raw.get(i % raw.len().max(1)).copied().unwrap_or(0) ^ (i as u8);
            match spec.content {
                Content::Numeric => b'0' + b % 10,
                Content::Track => b"0123456789="[usize::from(b % 11)],
                Content::Text => 0x20 + b % 95,
                Content::Binary => b,
            }
        })
        .collect()
}

fn message_in(d: &Dialect, mti: u16, picks: &[(u8, u16, Vec<u8>)], tpdu: [u8; 5]) -> Message {
    let mut m = Message::new(Mti::new(&format!("{:04}", mti % 10_000)).unwrap());
    for (field, len_seed, raw) in picks {
        if let Some(spec) = d.field(*field) {
            m.set(*field, valid_value(spec, *len_seed, raw)).unwrap();
        }
    }
    if d.framing() == posdiag_core::iso8583::Framing::Cup {
        m.set_cup(Some(posdiag_core::iso8583::CupFrame {
            tpdu: Tpdu::from_bytes(tpdu),
            header: [0x60, 0x31, 0x00, 0x31, 0x07, 0x01],
        }));
    }
    m
}

fn picks() -> impl Strategy<Value = Vec<(u8, u16, Vec<u8>)>> {
    prop::collection::vec(
        (
            2_u8..=128,
            any::<u16>(),
            prop::collection::vec(any::<u8>(), 0..64),
        ),
        0..16,
    )
}

proptest! {
    #[test]
    fn generated_messages_round_trip_in_every_dialect(
        mti in any::<u16>(),
        picks in picks(),
        tpdu in any::<[u8; 5]>(),
        chunk in 1_usize..40,
    ) {
        for name in DIALECT_NAMES {
            let d = dialect(name);
            let m = message_in(&d, mti, &picks, tpdu);
            let wire = d.encode(&m).unwrap();
            prop_assert_eq!(&d.decode(&wire).unwrap(), &m, "{}", name);

            // The same message twice through the frame reader, fed in chunks.
            let mut stream = d.encode_framed(&m).unwrap();
            stream.extend(d.encode_framed(&m).unwrap());
            let mut reader = FrameReader::new(d.length_prefix(), 4096);
            let mut got = Vec::new();
            for piece in stream.chunks(chunk) {
                reader.push(piece);
                while let Some(frame) = reader.next_frame().unwrap() {
                    got.push(d.decode(&frame).unwrap());
                }
            }
            prop_assert_eq!(got, vec![m.clone(), m], "{}", name);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        for name in DIALECT_NAMES {
            let d = dialect(name);
            if let Ok(m) = d.decode(&bytes) {
                // Whatever decodes re-encodes to something that decodes the same.
                let again = d.encode(&m).unwrap();
                prop_assert_eq!(d.decode(&again).unwrap(), m);
            }
            let mut reader = FrameReader::new(d.length_prefix(), 512);
            reader.push(&bytes);
            while let Ok(Some(frame)) = reader.next_frame() {
                let _ = d.decode(&frame);
            }
        }
    }

    #[test]
    fn mutated_valid_messages_never_panic(
        picks in picks(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        for name in DIALECT_NAMES {
            let d = dialect(name);
            let mut wire = d.encode(&message_in(&d, 800, &picks, [0x60, 0, 3, 0, 0])).unwrap();
            let i = at.index(wire.len());
            wire[i] = byte;
            let _ = d.decode(&wire);
            // A message cut short is always an error (every dialect has at least an MTI).
            wire.truncate(cut.index(wire.len()));
            prop_assert!(d.decode(&wire).is_err());
        }
    }
}

#[test]
fn malformed_messages_name_the_part() {
    let ascii = Dialect::ascii();
    let binary = Dialect::binary();
    let cup = Dialect::cup();
    let echo = b"0800822000000000000004000000000000001122083015000123301".to_vec();
    let with = |at: usize, bytes: &[u8]| {
        let mut m = echo.clone();
        m.splice(at..at + bytes.len(), bytes.iter().copied());
        m
    };
    let cases: Vec<(&Dialect, Vec<u8>, &str)> = vec![
        (
            &ascii,
            echo[..40].to_vec(),
            "field 7: truncated, needs 10 bytes but 4 are left",
        ),
        (
            &ascii,
            b"08".to_vec(),
            "mti: truncated, needs 4 bytes but 2 are left",
        ),
        (
            &ascii,
            with(0, b"08x0"),
            "mti: non-digit in a numeric value",
        ),
        (
            &ascii,
            with(4, b"822G"),
            "primary bitmap: \"822G000000000000\" is not hexadecimal",
        ),
        (
            &ascii,
            with(36, b"11a2"),
            "field 7: non-digit in a numeric value",
        ),
        (
            &ascii,
            [echo.as_slice(), b"99"].concat(),
            "2 bytes left over after the last field",
        ),
        (
            // Field 2 with length "25" (max 19).
            &ascii,
            b"0200400000000000000025123".to_vec(),
            "field 2: length 25 exceeds the maximum 19",
        ),
        (
            &ascii,
            b"02004000000000000000x9123".to_vec(),
            "field 2: length prefix 7839 is not a number",
        ),
        (
            &ascii,
            b"0200400000000000000005123".to_vec(),
            "field 2: truncated, needs 5 bytes but 3 are left",
        ),
        (
            &ascii,
            b"0200000000000000000\xe9".to_vec(),
            "primary bitmap: \"000000000000000\\xe9\" is not hexadecimal",
        ),
        (
            &binary,
            b"0800\x82\x20\x00\x00\x00\x00\x00\x00".to_vec(),
            "secondary bitmap: truncated, needs 8 bytes but 0 are left",
        ),
        (
            // A secondary bitmap in the 64-field CUP dialect.
            &cup,
            [
                &[0x60, 0, 3, 0, 0, 0x60, 0x31, 0, 0x31, 7, 1, 0x08, 0x00][..],
                &[0x80, 0, 0, 0, 0, 0, 0, 0],
            ]
            .concat(),
            "field 1 is in the bitmap but not defined by dialect cup",
        ),
        (
            // Field 5 is not a CUP field.
            &cup,
            [
                &[0x60, 0, 3, 0, 0, 0x60, 0x31, 0, 0x31, 7, 1, 0x08, 0x00][..],
                &[0x08, 0, 0, 0, 0, 0, 0, 0],
            ]
            .concat(),
            "field 5 is in the bitmap but not defined by dialect cup",
        ),
        (
            // CUP field 11 holding a nibble A.
            &cup,
            [
                &[0x60, 0, 3, 0, 0, 0x60, 0x31, 0, 0x31, 7, 1, 0x08, 0x20][..],
                &[0, 0x20, 0, 0, 0, 0, 0, 0],
                &[0x00, 0x0a, 0x01],
            ]
            .concat(),
            "field 11: non-digit in a numeric value",
        ),
        (
            &cup,
            vec![0x60, 0, 3],
            "tpdu: truncated, needs 5 bytes but 3 are left",
        ),
    ];
    for (d, bytes, message) in cases {
        let error = d.decode(&bytes).unwrap_err();
        assert_eq!(
            error.to_string(),
            message,
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn encoding_checks_values_against_the_dialect() {
    let d = Dialect::ascii();
    let cases = [
        (
            11,
            "123",
            "field 11: value is 3 long, the dialect requires exactly 6",
        ),
        (11, "12345a", "field 11: non-digit in a numeric value"),
        (
            2,
            "41111111111111111111",
            "field 2: length 20 exceeds the maximum 19",
        ),
        (
            43,
            "caf\u{e9}",
            "field 43: value is 5 long, the dialect requires exactly 40",
        ),
        (44, "caf\u{e9}", "field 44: byte 0xc3 is not valid ascii"),
    ];
    for (field, value, message) in cases {
        let m = Message::new(Mti::NETWORK_REQUEST)
            .with(field, value)
            .unwrap();
        assert_eq!(d.encode(&m).unwrap_err().to_string(), message);
    }
    let cup_without_tpdu = Message::new(Mti::NETWORK_ADVICE);
    assert_eq!(
        Dialect::cup().encode(&cup_without_tpdu).unwrap_err(),
        Iso8583Error::Missing {
            part: Part::Tpdu,
            dialect: "cup".to_owned()
        }
    );
    let too_big = Message::new(Mti::NETWORK_REQUEST)
        .with(48, "x".repeat(999))
        .unwrap();
    let small = d.clone().with_length_prefix(LengthPrefix::Ascii4);
    assert!(small.encode_framed(&too_big).is_ok());
}

#[test]
fn card_numbers_never_appear_in_debug_or_display() {
    let pan = "4111111111111111";
    let m = Message::new(Mti::new("0200").unwrap())
        .with(2, pan)
        .unwrap()
        .with(35, format!("{pan}=2512101"))
        .unwrap()
        .with(48, format!("note {pan} end"))
        .unwrap()
        .with(52, vec![0x12, 0x34])
        .unwrap();
    for shown in [format!("{m:?}"), format!("{m:#?}"), m.to_string()] {
        assert!(!shown.contains(pan), "{shown}");
        assert!(!shown.contains("111111111"), "{shown}");
        assert!(shown.contains("411111******1111"), "{shown}");
    }
    // Binary fields are redacted too, as hex.
    let d = Dialect::binary();
    let m = Message::new(Mti::new("0200").unwrap())
        .with(64, hex("4111111111111111"))
        .unwrap();
    assert!(d.encode(&m).is_ok());
    assert!(!format!("{m:?}").contains(pan));
}

#[test]
fn cup_framing_round_trips_with_the_length_prefix() {
    let d = Dialect::cup();
    let request = posdiag_core::iso8583::NetworkRequest::echo(42, "")
        .build(&d)
        .unwrap();
    let framed = d.encode_framed(&request).unwrap();
    assert_eq!(
        usize::from(u16::from_be_bytes([framed[0], framed[1]])),
        framed.len() - 2
    );
    assert_eq!(&framed[2..7], &[0x60, 0x00, 0x03, 0x00, 0x00]);
    assert_eq!(&framed[13..15], &[0x08, 0x20]);
    let mut reader = FrameReader::new(d.length_prefix(), 2048);
    reader.push(&framed);
    let frame = reader.next_frame().unwrap().unwrap();
    assert_eq!(d.decode(&frame).unwrap(), request);
}
