//! ZVT codec conformance: every captured vector in `fixtures/zvt/` decodes to its documented
//! meaning and re-encodes byte for byte, every serial frame matches, and property tests check
//! round trips through framing (whatever the chunking) and that arbitrary bytes never panic.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::{Duration, Instant};

use posdiag_core::mask_card_bytes;
use posdiag_core::zvt::apdu::{Apdu, ApduReader};
use posdiag_core::zvt::bmp::{Bmp, BmpList, bytes_to_hex, hex_to_bytes};
use posdiag_core::zvt::link::{LinkAction, LinkConfig, LinkInput, Role, SerialLink};
use posdiag_core::zvt::packets::Packet;
use posdiag_core::zvt::serial::{FrameDecoder, SerialEvent, crc16_kermit, encode_frame};
use posdiag_core::zvt::tlv::{Tlv, TlvList};
use posdiag_core::zvt::{ZvtError, redact_apdu, redact_link_bytes};
use proptest::prelude::*;

/// Rows of a fixture file: tab-separated columns, `#` lines are the source header.
fn rows(name: &str) -> Vec<Vec<String>> {
    let path = format!("{}/tests/fixtures/zvt/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# "), "{name} must keep its source header");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// All captured APDUs with their meaning column.
fn captured_apdus() -> Vec<(Vec<u8>, String)> {
    let mut all = Vec::new();
    for file in ["apdus.tsv", "ecrterm.tsv"] {
        for row in rows(file) {
            all.push((hex_to_bytes(&row[1]).unwrap(), row[2].clone()));
        }
    }
    all
}

/// The packet of the fixture row whose meaning starts with `meaning`.
fn packet(meaning: &str) -> Packet {
    let (bytes, _) = captured_apdus()
        .into_iter()
        .find(|(_, m)| m.starts_with(meaning))
        .unwrap_or_else(|| panic!("no fixture row starting with {meaning:?}"));
    Packet::from_bytes(&bytes).unwrap()
}

#[test]
fn every_captured_apdu_decodes_and_re_encodes_byte_for_byte() {
    let all = captured_apdus();
    assert_eq!(all.len(), 16);
    for (bytes, meaning) in all {
        let apdu = Apdu::decode(&bytes).unwrap();
        assert_eq!(apdu.encode(), bytes, "{meaning}");
        let packet = Packet::decode(&apdu).unwrap_or_else(|e| panic!("{meaning}: {e}"));
        assert!(
            !matches!(packet, Packet::Other(_)),
            "{meaning}: decoded as other"
        );
        assert_eq!(packet.encode().unwrap(), bytes, "{meaning}");
    }
}

#[test]
fn status_enquiry_completion() {
    let Packet::Completion(c) = packet("Completion of a Status Enquiry") else {
        panic!("not a completion");
    };
    assert_eq!(
        c.software_version_text().unwrap(),
        "GER-APP-v2.0.9;cS02.01.01-10.10-2-2;CC26"
    );
    assert_eq!(c.terminal_status, Some(0x00));
    assert_eq!(c.terminal_id().unwrap(), "52523535");
    let info = c.device_info().unwrap();
    assert_eq!(info.name.as_deref(), Some("cVEND plug"));
    assert_eq!(
        info.software_version.as_deref(),
        Some("GER-APP-v2.0.9;cS02.01.01-10.10-2-2;CC26")
    );
    assert_eq!(info.serial.as_deref(), Some("17fd1e3c"));
    assert_eq!(info.state, Some(0));
    assert_eq!(c.date_time().unwrap(), "2023-04-05 22:56:55");

    let Packet::Completion(c) = packet("test_parsing_completion.py") else {
        panic!("not a completion");
    };
    assert_eq!(c.status(), Some(0x00));
    assert_eq!(c.device_info().unwrap().serial.as_deref(), Some("11e930ec"));
    assert_eq!(c.device_info().unwrap().name.as_deref(), Some("cVEND box+"));
}

#[test]
fn contactless_status_information() {
    let Packet::StatusInformation(s) = packet("Status information 04 0F after a contactless")
    else {
        panic!("not a status information");
    };
    assert_eq!(s.result_code(), Some(0x00));
    assert_eq!(bytes_to_hex(s.uid().unwrap()), "000000000000081ca72f");
    assert_eq!(bytes_to_hex(s.ats().unwrap()), "0578807002");
    assert_eq!(bytes_to_hex(s.atqa().unwrap()), "0400");
    assert_eq!(s.sak(), Some(0x20));
    assert_eq!(s.reader_card_type(), Some(0x01));
    assert_eq!(bytes_to_hex(&s.aid().unwrap()), "a0000000041010");
    assert_eq!(s.pan(), None);
}

#[test]
fn other_captured_apdus_mean_what_the_fixtures_say() {
    let Packet::Registration(r) = packet("Registration 06 00") else {
        panic!()
    };
    assert_eq!(r.password_digits(), "123456");
    assert_eq!(r.config, 0xDE);
    assert_eq!(r.currency_code(), Some(978));

    let Packet::IntermediateStatus(i) = packet("Intermediate status 04 FF") else {
        panic!()
    };
    assert_eq!((i.status, i.timeout), (0x17, None));

    let Packet::Completion(c) = packet("Completion 06 0F, empty") else {
        panic!()
    };
    assert_eq!(c, posdiag_core::zvt::packets::Completion::empty());

    let Packet::Completion(c) = packet("Completion 06 0F: BMP19") else {
        panic!()
    };
    assert_eq!(c.status(), Some(0x10));
    assert_eq!(c.terminal_id().unwrap(), "52523535");
    assert_eq!(c.currency_code(), Some(978));

    let Packet::AbortFromPt(a) = packet("Abort from PT 06 1E") else {
        panic!()
    };
    assert_eq!(a.result_code, 0xB8);
    assert_eq!(a.receipt_number(), Some(&[0xFF, 0xFF][..]));

    assert_eq!(
        packet("End of day 06 50"),
        Packet::EndOfDay {
            password: [0x12, 0x34, 0x56]
        }
    );

    let Packet::ReadCard(rc) = packet("Read card 06 C0") else {
        panic!()
    };
    assert_eq!(rc.timeout_secs, Some(15));
    assert_eq!(rc.card_type(), Some(0x10));
    assert_eq!(rc.dialog_control(), Some(0x02));
    let tlv = rc.bmps.tlv().unwrap();
    assert_eq!(tlv.bytes(0x1F15), Some(&[0xD0][..]));
    assert_eq!(tlv.bytes(0x1F60), Some(&[0x07][..]));
}

#[test]
fn ecrterm_vectors_mean_what_the_tests_assert() {
    let Packet::AbortFromPt(a) = packet("test_parsing_abort.py") else {
        panic!()
    };
    assert_eq!(a.result_code, 0x6C);
    assert_eq!(bytes_to_hex(a.extended_error().unwrap()), "ff00001441");
    assert_eq!(a.error_text().unwrap(), "Abbruch durch externes Kommando!");

    let Packet::StatusInformation(s) = packet("test_parsing.py PACKET_LIST: status information")
    else {
        panic!()
    };
    assert_eq!(s.result_code(), Some(0));
    assert_eq!(s.amount(), Some(4000));
    assert_eq!(s.currency_code(), Some(978));
    assert_eq!(s.terminal_id().unwrap(), "60099914");
    // The PAN never shows in full, not even in Debug output of the whole packet.
    let pan = s.pan().unwrap();
    let full = bytes_to_hex(pan.expose_bcd());
    assert!(!format!("{s:?}").contains(&full));
    assert!(!format!("{pan}").contains(&full[6..]));

    let Packet::Completion(c) = packet("test_parsing.py PACKET_LIST: completion") else {
        panic!()
    };
    assert_eq!(c.terminal_id().unwrap(), "52001233");

    let Packet::IntermediateStatus(i) = packet("test_parsing.py PACKET_LIST: intermediate") else {
        panic!()
    };
    assert_eq!((i.status, i.timeout), (0x0A, Some(1)));
    assert_eq!(i.text_lines(), vec!["Bitte Karte einstecken".to_owned()]);

    let Packet::Registration(r) = packet("test_parsing.py PACKET_LIST: registration") else {
        panic!()
    };
    assert_eq!(r.password_digits(), "000000");
    assert_eq!(r.config, 0xFE);
    assert_eq!(r.currency_code(), Some(978));
    assert_eq!(r.bmps.byte(0x03), Some(0x00));
    // protocols.md writes the value as hex `1000`.
    assert_eq!(r.max_apdu_len(), Some(0x1000));
    let permitted = r.bmps.tlv().unwrap().get(0x26).unwrap().children().unwrap();
    assert_eq!(permitted.iter().count(), 10);

    let Packet::PrintLine(p) = packet("test_parsing.py: print line") else {
        panic!()
    };
    assert_eq!(p.attribute, 0);
    assert_eq!(&p.text[..5], b"Test ");
}

#[test]
fn crc_check_value() {
    assert_eq!(crc16_kermit(b"123456789"), 0x2189);
}

#[test]
fn every_serial_frame_encodes_and_decodes() {
    let frames = rows("serial-frames.tsv");
    assert_eq!(frames.len(), 5);
    let now = Instant::now();
    for row in frames {
        let apdu = hex_to_bytes(&row[0]).unwrap();
        let frame = hex_to_bytes(&row[1]).unwrap();
        assert_eq!(encode_frame(&apdu), frame, "{}", row[2]);
        let mut decoder = FrameDecoder::default();
        assert_eq!(
            decoder.feed(&frame, now),
            vec![SerialEvent::Frame(apdu.clone())],
            "{}",
            row[2]
        );
        // The link session acknowledges it and delivers the APDU.
        let mut link = SerialLink::new(LinkConfig::new(Role::Pt));
        let actions = link.step(LinkInput::Received(&frame), now);
        assert_eq!(
            actions,
            vec![
                LinkAction::Write(vec![0x06]),
                LinkAction::Deliver(Apdu::decode(&apdu).unwrap())
            ]
        );
        Packet::from_bytes(&apdu).unwrap();
    }
}

#[test]
fn malformed_input_gives_typed_errors() {
    let cases: &[(&str, ZvtError)] = &[
        (
            "060f0a1910",
            ZvtError::LengthMismatch {
                declared: 10,
                actual: 2,
            },
        ),
        (
            "040f02 99 01",
            ZvtError::UnknownBmp {
                bmp: 0x99,
                offset: 0,
            },
        ),
        (
            "040f03 22 f1 1a",
            ZvtError::BadVarLength {
                bmp: 0x22,
                offset: 1,
            },
        ),
        (
            "040f02 29 52",
            ZvtError::Truncated {
                what: "bmp value",
                needed: 4,
                available: 1,
            },
        ),
        (
            "040f03 06 83 00",
            ZvtError::BadTlvLength {
                byte: 0x83,
                offset: 1,
            },
        ),
    ];
    for (hex, error) in cases {
        let bytes = hex_to_bytes(hex).unwrap();
        assert_eq!(Packet::from_bytes(&bytes).unwrap_err(), *error, "{hex}");
        // Messages are lowercase for people.
        let message = error.to_string();
        assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
    }
}

#[test]
fn redaction_masks_pan_and_keeps_the_rest() {
    let (bytes, _) = captured_apdus()
        .into_iter()
        .find(|(_, m)| m.starts_with("test_parsing.py PACKET_LIST: status information"))
        .unwrap();
    let redacted = redact_apdu(&bytes);
    assert_eq!(redacted.len(), bytes.len());
    let Packet::StatusInformation(s) = Packet::from_bytes(&redacted).unwrap() else {
        panic!()
    };
    assert_eq!(s.amount(), Some(4000));
    // A ten-digit "PAN" followed by a separator: too short to show any digit of.
    let pan = bytes_to_hex(s.pan().unwrap().expose_bcd());
    assert!(pan.chars().all(|c| matches!(c, 'd' | 'e' | 'f')), "{pan}");

    // A full PAN and track 2: first six and last four PAN digits stay, nothing else.
    let apdu = hex_to_bytes("040f1c 2700 22f0f8 4111111111111111 23f1f2 4111111111111111d2512201")
        .unwrap();
    let redacted = redact_apdu(&apdu);
    assert_eq!(
        bytes_to_hex(&redacted),
        "040f1c2700 22f0f8 411111eeeeee1111 23f1f2 411111eeeeee1111deeeeeee".replace(' ', "")
    );
    let Packet::StatusInformation(s) = Packet::from_bytes(&apdu).unwrap() else {
        panic!()
    };
    assert_eq!(s.pan().unwrap().to_string(), "411111******1111");
    assert_eq!(s.track2().unwrap().to_string(), "411111******1111=*******");
    assert!(!format!("{s:?}").contains("4111111111111111"));
    // Nor in the framing and link layers' Debug output.
    let frame = encode_frame(&apdu);
    let events = FrameDecoder::default().feed(&frame, Instant::now());
    assert!(!format!("{events:?}").contains("4111111111111111"));
    let mut link = SerialLink::new(LinkConfig::new(Role::Ecr));
    let actions = link.step(LinkInput::Received(&frame), Instant::now());
    assert!(!format!("{actions:?}").contains("4111111111111111"));
    let mut decoder = FrameDecoder::default();
    decoder.feed(&frame[..frame.len() - 4], Instant::now());
    assert!(!format!("{decoder:?}").contains("41111111"));
    // APDUs without card data are unchanged.
    for (bytes, meaning) in captured_apdus() {
        if !meaning.contains("PAN") {
            assert_eq!(redact_apdu(&bytes), bytes, "{meaning}");
        }
    }
}

#[test]
fn tcp_stream_reader_splits_captured_apdus() {
    let all = captured_apdus();
    let stream: Vec<u8> = all.iter().flat_map(|(b, _)| b.clone()).collect();
    let mut reader = ApduReader::default();
    let mut got = Vec::new();
    for chunk in stream.chunks(7) {
        reader.feed(chunk);
        while let Some(apdu) = reader.next_apdu().unwrap() {
            got.push(apdu.encode());
        }
    }
    assert_eq!(got, all.into_iter().map(|(b, _)| b).collect::<Vec<_>>());
    assert_eq!(reader.buffered(), 0);
}

#[test]
fn link_session_retransmits_after_a_crc_error_on_the_peer() {
    let t0 = Instant::now();
    let mut ecr = SerialLink::new(LinkConfig::new(Role::Ecr));
    let mut pt = SerialLink::new(LinkConfig::new(Role::Pt));
    let command = Apdu::new(0x05, 0x01, vec![0x12, 0x34, 0x56]).unwrap();
    let LinkAction::Write(mut frame) = ecr.step(LinkInput::Send(&command), t0).remove(0) else {
        panic!()
    };
    let last = frame.len() - 1;
    frame[last] ^= 1; // damaged on the line
    let answer = pt.step(LinkInput::Received(&frame), t0);
    assert_eq!(answer[0], LinkAction::Write(vec![0x15]));
    let resend = ecr.step(LinkInput::Received(&[0x15]), t0 + Duration::from_millis(5));
    let LinkAction::Write(frame) = &resend[0] else {
        panic!()
    };
    let answer = pt.step(LinkInput::Received(frame), t0);
    assert_eq!(answer[1], LinkAction::Deliver(command));
    assert_eq!(ecr.stats().retransmissions, 1);
    assert_eq!(pt.stats().crc_errors, 1);
}

fn arb_apdu() -> impl Strategy<Value = Apdu> {
    (
        any::<u8>(),
        any::<u8>(),
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            // Rich in DLE and control bytes, and long enough for the extended length.
            proptest::collection::vec(
                prop_oneof![Just(0x10u8), Just(0x02), Just(0x03), any::<u8>()],
                0..400
            ),
        ],
    )
        .prop_map(|(c, i, d)| Apdu::new(c, i, d).unwrap())
}

fn arb_tlv() -> impl Strategy<Value = Tlv> {
    // Primitive tags: bit 0x20 clear; one byte (not ending in 1F) or 1F xx with xx < 0x80.
    let prim_tag = prop_oneof![
        any::<u8>().prop_filter_map("primitive 1-byte", |b| {
            (b & 0x20 == 0 && b & 0x1F != 0x1F).then_some(u16::from(b))
        }),
        (0u8..0x80).prop_map(|b| 0x1F00 | u16::from(b)),
    ];
    let leaf = (prim_tag, proptest::collection::vec(any::<u8>(), 0..300))
        .prop_map(|(t, v)| Tlv::primitive(t, v));
    leaf.prop_recursive(4, 40, 6, |inner| {
        (
            prop_oneof![
                Just(0xE4u16),
                Just(0x24),
                Just(0x60),
                Just(0x34),
                Just(0x3F20)
            ],
            proptest::collection::vec(inner, 0..6),
        )
            .prop_map(|(t, children)| Tlv::constructed(t, children))
    })
}

fn arb_bmps() -> impl Strategy<Value = BmpList> {
    let bmp = prop_oneof![
        (
            prop_oneof![Just(0x27u8), Just(0x19), Just(0x8A), Just(0x03)],
            any::<u8>()
        )
            .prop_map(|(id, b)| Bmp::bytes(id, vec![b])),
        proptest::collection::vec(any::<u8>(), 4).prop_map(|v| Bmp::bytes(0x29, v)),
        proptest::collection::vec(any::<u8>(), 6).prop_map(|v| Bmp::bytes(0x04, v)),
        proptest::collection::vec(any::<u8>(), 0..=99).prop_map(|v| Bmp::bytes(0x22, v)),
        proptest::collection::vec(any::<u8>(), 0..=300).prop_map(|v| Bmp::bytes(0x3C, v)),
        proptest::collection::vec(arb_tlv(), 0..4).prop_map(|l| Bmp::tlv(TlvList(l))),
    ];
    proptest::collection::vec(bmp, 0..8).prop_map(BmpList)
}

/// Splits `bytes` at the given cut points.
fn chunks(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for p in points.into_iter().chain([bytes.len()]) {
        out.push(bytes[start..p].to_vec());
        start = p;
    }
    out
}

proptest! {
    #[test]
    fn framed_apdus_survive_any_chunking(
        apdus in proptest::collection::vec(arb_apdu(), 1..5),
        noise in proptest::collection::vec(prop_oneof![Just(0x00u8), Just(0xAA), Just(0x03)], 0..4),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut line = Vec::new();
        for apdu in &apdus {
            line.extend(&noise);
            line.extend(encode_frame(&apdu.encode()));
        }
        let now = Instant::now();
        let mut decoder = FrameDecoder::default();
        let mut got = Vec::new();
        for chunk in chunks(&line, &cuts) {
            for event in decoder.feed(&chunk, now) {
                match event {
                    SerialEvent::Frame(body) => got.push(Apdu::decode(&body).unwrap()),
                    other => prop_assert!(false, "unexpected {other:?}"),
                }
            }
        }
        prop_assert_eq!(got, apdus.clone());
        prop_assert_eq!(decoder.garbage_bytes(), (noise.len() * apdus.len()) as u64);
    }

    #[test]
    fn tcp_reader_survives_any_chunking(
        apdus in proptest::collection::vec(arb_apdu(), 1..5),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let line: Vec<u8> = apdus.iter().flat_map(Apdu::encode).collect();
        let mut reader = ApduReader::default();
        let mut got = Vec::new();
        for chunk in chunks(&line, &cuts) {
            reader.feed(&chunk);
            while let Some(apdu) = reader.next_apdu().unwrap() {
                got.push(apdu);
            }
        }
        prop_assert_eq!(got, apdus);
    }

    #[test]
    fn tlv_structures_re_encode_byte_for_byte(list in proptest::collection::vec(arb_tlv(), 0..5)) {
        let list = TlvList(list);
        let bytes = list.encode().unwrap();
        let decoded = TlvList::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &list);
        prop_assert_eq!(decoded.encode().unwrap(), bytes);
    }

    #[test]
    fn bmp_lists_re_encode_byte_for_byte(bmps in arb_bmps()) {
        let mut bytes = Vec::new();
        bmps.encode_into(&mut bytes).unwrap();
        let decoded = BmpList::decode(&bytes, 0).unwrap();
        prop_assert_eq!(&decoded, &bmps);
        let packet = Packet::StatusInformation(posdiag_core::zvt::packets::StatusInformation { bmps });
        if let Ok(encoded) = packet.encode() {
            prop_assert_eq!(Packet::from_bytes(&encoded).unwrap(), packet);
            // Redaction never changes the length and keeps the APDU decodable.
            let redacted = redact_apdu(&encoded);
            prop_assert_eq!(redacted.len(), encoded.len());
            prop_assert!(Packet::from_bytes(&redacted).is_ok());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let now = Instant::now();
        if let Ok(packet) = Packet::from_bytes(&bytes)
            && let Ok(encoded) = packet.encode()
        {
            // Whatever decodes re-encodes to something that decodes to the same value.
            prop_assert_eq!(Packet::from_bytes(&encoded).unwrap(), packet);
        }
        let _ = TlvList::decode(&bytes);
        let _ = BmpList::decode(&bytes, 0);
        prop_assert_eq!(redact_apdu(&bytes).len(), bytes.len());
        prop_assert_eq!(redact_link_bytes(&bytes, false).len(), bytes.len());
        prop_assert_eq!(redact_link_bytes(&bytes, true).len(), bytes.len());
        prop_assert_eq!(mask_card_bytes(&bytes).len(), bytes.len());
        let mut decoder = FrameDecoder::default();
        let _ = decoder.feed(&bytes, now);
        let _ = decoder.poll_timeout(now + Duration::from_secs(1));
        let mut link = SerialLink::new(LinkConfig::new(Role::Ecr));
        let _ = link.step(LinkInput::Received(&bytes), now);
        let mut reader = ApduReader::new(256);
        reader.feed(&bytes);
        while let Ok(Some(_)) = reader.next_apdu() {}
    }

    #[test]
    fn arbitrary_packet_apdus_never_panic(
        control in prop_oneof![
            Just((0x06u8, 0x0Fu8)), Just((0x04, 0x0F)), Just((0x04, 0xFF)), Just((0x06, 0x1E)),
            Just((0x06, 0x00)), Just((0x05, 0x01)), Just((0x06, 0xC0)), Just((0x06, 0x70)),
        ],
        data in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let apdu = Apdu::new(control.0, control.1, data).unwrap();
        if let Ok(packet) = Packet::decode(&apdu)
            && let Ok(again) = packet.to_apdu()
        {
            prop_assert_eq!(Packet::decode(&again).unwrap(), packet);
        }
        prop_assert_eq!(redact_apdu(&apdu.encode()).len(), apdu.encoded_len());
    }

    #[test]
    fn a_card_number_on_the_line_is_masked_in_any_chunk_that_holds_its_frame(
        // 16 digits as BCD; no 0x10 byte, so the frame's DLE doubling is
        // only in the header and the expected frame is easy to build.
        pan in proptest::collection::vec((0u8..=9, 0u8..=9), 8)
            .prop_filter("no DLE", |p| !p.contains(&(1, 0))),
        before in proptest::collection::vec(prop_oneof![Just(0x06u8), Just(0x15), Just(0x80)], 0..3),
    ) {
        let pan: Vec<u8> = pan.iter().map(|(h, l)| h << 4 | l).collect();
        let mut apdu = vec![0x04, 0x0F, 0x0D, 0x27, 0x00, 0x22, 0xF0, 0xF8];
        apdu.extend(&pan);
        let frame = encode_frame(&apdu);
        let line = [before.as_slice(), frame.as_slice()].concat();
        let out = redact_link_bytes(&line, true);
        let want = encode_frame(&redact_apdu(&apdu));
        let body = out.len() - 2;
        prop_assert_eq!(&out[before.len()..body], &want[..want.len() - 2]);
        prop_assert_eq!(&out[body..], &line[body..], "the CRC bytes are kept as sent");
        // Over TCP the same APDU, after an ACK.
        let tcp = [&[0x80, 0x00, 0x00][..], apdu.as_slice()].concat();
        let out = redact_link_bytes(&tcp, false);
        let masked = redact_apdu(&apdu);
        prop_assert_eq!(&out[3..], masked.as_slice());
        prop_assert!(out[3 + 8 + 3..3 + 8 + 6].iter().all(|&b| b == 0xEE), "{:02X?}", out);
    }
}
