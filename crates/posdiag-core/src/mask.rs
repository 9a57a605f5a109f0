//! Masking of card numbers in text that leaves the process. Anything that
//! echoes bytes from a host or a terminal (exchange previews, transcripts,
//! error details) passes through [`mask_card_numbers`] first; raw link bytes
//! of a protocol posdiag does not parse pass through [`mask_card_bytes`].

/// Shortest digit run treated as a possible card number (ISO/IEC 7812
/// allows 8-digit IINs and PANs from 12 digits on).
const MIN_PAN_DIGITS: usize = 12;

/// Replaces every run of 12 or more digits (ASCII or full-width) with its
/// first six and last four digits around asterisks (`411111******1111`), the
/// PCI DSS display rule. Shorter runs (amounts, ports, times) are left alone.
/// A card number written in groups (`4111 1111 1111 1111`,
/// `4111-1111-1111-1111`: digits with single spaces or dashes between them)
/// is masked the same way, separators kept, when its 13 to 19 digits are a
/// payment card number (first digit 2 to 6, valid Luhn check digit).
pub fn mask_card_numbers(text: &str) -> String {
    // No stretch long enough to be a card number: nothing to mask (the
    // common case, checked without building the character list).
    if !may_hold_card_number(text.as_bytes()) {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if digit_value(chars[i]).is_none() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The longest stretch of digits with single separators between them.
        let start = i;
        let mut end;
        let mut j = i;
        loop {
            while j < chars.len() && digit_value(chars[j]).is_some() {
                j += 1;
            }
            end = j;
            if j + 1 < chars.len()
                && matches!(chars[j], ' ' | '-')
                && digit_value(chars[j + 1]).is_some()
            {
                j += 1;
            } else {
                break;
            }
        }
        let stretch = &chars[start..end];
        let digits: Vec<u8> = stretch.iter().filter_map(|&c| digit_value(c)).collect();
        let grouped = digits.len() != stretch.len();
        if grouped && !is_card_number(&digits) {
            // Not one card number: each group on its own (a long run inside
            // it is still masked), separators kept.
            let mut group: Vec<char> = Vec::new();
            for &c in stretch {
                if digit_value(c).is_some() {
                    group.push(c);
                } else {
                    push_masked_run(&group, &mut out);
                    group.clear();
                    out.push(c);
                }
            }
            push_masked_run(&group, &mut out);
        } else if digits.len() >= MIN_PAN_DIGITS || grouped {
            let keep_tail = digits.len() - 4;
            let mut seen = 0;
            for &c in stretch {
                if digit_value(c).is_some() {
                    out.push(if seen < 6 || seen >= keep_tail {
                        c
                    } else {
                        '*'
                    });
                    seen += 1;
                } else {
                    out.push(c);
                }
            }
        } else {
            out.extend(stretch);
        }
        i = end;
    }
    out
}

/// Whether [`mask_card_numbers`] could change `text` (UTF-8): it masks
/// only within a stretch of digits (ASCII or full-width) joined by spaces
/// or dashes, and only one that holds at least 12 digits (a run of 12, or
/// a grouped card number of 13 to 19). This counts the digits of every
/// stretch of digits, spaces and dashes — any number of separators, so a
/// superset of what it masks — and says yes at the 12th. A byte scan, no
/// decoding: a full-width digit is `EF BC 90`–`EF BC 99`; a stretch never
/// crosses a line end, so text may be judged a line at a time.
pub fn may_hold_card_number(text: &[u8]) -> bool {
    // First a count that vectorises (byte lanes, 255 bytes at a time):
    // fewer than 12 ASCII digits and full-width characters (`EF` starts
    // each) in all, no stretch can hold 12 digits.
    let candidates: usize = text
        .chunks(255)
        .map(|c| {
            usize::from(
                c.iter()
                    .fold(0u8, |n, &b| n + u8::from(b.is_ascii_digit() | (b == 0xEF))),
            )
        })
        .sum();
    if candidates < MIN_PAN_DIGITS {
        return false;
    }
    // Then the stretches, 16 bytes at a time: a block without a digit
    // (most of them) ends any stretch unless it is all separators; in the
    // others a byte at a time through a class table, the count going up at
    // a digit, staying at a separator and dropping to 0 at anything else.
    const BLOCK: usize = 16;
    let mut digits = 0usize;
    let mut i = 0;
    while i < text.len() {
        let end = (i + BLOCK).min(text.len());
        let block = &text[i..end];
        if !block
            .iter()
            .fold(false, |hot, &b| hot | b.is_ascii_digit() | (b == 0xEF))
        {
            if block
                .iter()
                .fold(false, |other, &b| other | ((b != b' ') & (b != b'-')))
            {
                digits = 0;
            }
            i = end;
            continue;
        }
        while i < end {
            let class = STRETCH_CLASS[usize::from(text[i])];
            if class == FULL_WIDTH {
                let digit = text.get(i + 1) == Some(&0xBC)
                    && text.get(i + 2).is_some_and(|b| (0x90..=0x99).contains(b));
                if digit {
                    digits += 1;
                    i += 2;
                } else {
                    digits = 0;
                }
            } else {
                digits = (digits + usize::from(class == DIGIT)) * usize::from(class != OTHER);
            }
            if digits >= MIN_PAN_DIGITS {
                return true;
            }
            i += 1;
        }
    }
    false
}

const OTHER: u8 = 0;
const DIGIT: u8 = 1;
const SEPARATOR: u8 = 2;
const FULL_WIDTH: u8 = 3;

/// The class of each byte for [`may_hold_card_number`].
static STRETCH_CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = DIGIT;
        d += 1;
    }
    t[b' ' as usize] = SEPARATOR;
    t[b'-' as usize] = SEPARATOR;
    t[0xEF] = FULL_WIDTH;
    t
};

/// The value of an ASCII or full-width digit.
fn digit_value(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '\u{FF10}'..='\u{FF19}' => Some((c as u32 - 0xFF10) as u8),
        _ => None,
    }
}

/// A run of digits, masked when it is long enough to be a card number.
fn push_masked_run(run: &[char], out: &mut String) {
    if run.len() >= MIN_PAN_DIGITS {
        out.extend(&run[..6]);
        out.extend(std::iter::repeat_n('*', run.len() - 10));
        out.extend(&run[run.len() - 4..]);
    } else {
        out.extend(run);
    }
}

/// Longest quoted value, in characters, before it is cut.
pub const QUOTE_MAX_CHARS: usize = 64;

/// How a value that came from outside (a request field, a config value, a
/// peer's answer) is quoted in a message: card numbers masked, control
/// characters and quotes escaped (`"a\nb"`), and cut after
/// [`QUOTE_MAX_CHARS`] characters with the original length said
/// (`"AAAA…" (1048576 bytes)`), so a hostile value can neither leak a card
/// number nor make a message (a gRPC status header, a log line) huge.
pub fn quote(value: &str) -> String {
    // Mask before cutting: a cut inside a card number would leave a digit
    // run too short to be recognised.
    let masked = if value.len() > 4 * QUOTE_MAX_CHARS + 64 {
        // Only the head is shown; mask a little more than the head so a
        // card number across the cut is still whole when masked.
        let head: String = value.chars().take(QUOTE_MAX_CHARS + 32).collect();
        mask_card_numbers(&head)
    } else {
        mask_card_numbers(value)
    };
    let cut = masked.chars().count() > QUOTE_MAX_CHARS;
    if cut {
        let head: String = masked.chars().take(QUOTE_MAX_CHARS).collect();
        format!("{head:?}… ({} bytes)", value.len())
    } else {
        format!("{masked:?}")
    }
}

/// Masked bytes of a packed-BCD card number or track 2.
const BCD_MASK: u8 = 0xFF;

/// Masks what could be card data in raw link bytes whose protocol posdiag
/// does not parse (a vendor plugin's exchange with its terminal): ASCII
/// digit runs of 12 or more keep their first six and last four digits, and
/// the track data after them (from a `=`, `D` or `^` separator up to the end
/// sentinel `?`) is masked whole; `%B` track 1 is masked up to its `?`. In
/// binary messages (at least 5 % of the bytes outside printable ASCII), a
/// run of 7 or more packed-BCD bytes (with track 2's `D` separator and `F`
/// padding nibbles) that holds a 13- to 19-digit card number (a payment
/// card's first digit, 2 to 6, and a valid Luhn check digit) keeps only its
/// first three and last two bytes. The output has the input's length.
pub fn mask_card_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    mask_track1(&mut out);
    mask_ascii_pans(&mut out);
    // Text (JSON, XML, an ASCII ISO 8583 message) has letters that also
    // read as BCD ("t=0000..." is 0x74 0x3D 0x30...): packed BCD is looked
    // for only in binary messages.
    let binary = bytes
        .iter()
        .filter(|&&b| !(0x20..0x7F).contains(&b) && !matches!(b, b'\r' | b'\n' | b'\t'))
        .count();
    if binary * 20 >= bytes.len() {
        mask_bcd_runs(&mut out);
    }
    out
}

fn mask_track1(out: &mut [u8]) {
    let mut i = 0;
    while i + 1 < out.len() {
        if out[i] == b'%' && out[i + 1] == b'B' {
            let end = out[i + 2..]
                .iter()
                .take(79)
                .position(|&b| b == b'?')
                .map_or((i + 2 + 79).min(out.len()), |p| i + 2 + p);
            out[i + 2..end].fill(b'*');
            i = end;
        } else {
            i += 1;
        }
    }
}

fn mask_ascii_pans(out: &mut [u8]) {
    let mut i = 0;
    while i < out.len() {
        if !out[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < out.len() && out[i].is_ascii_digit() {
            i += 1;
        }
        if i - start < MIN_PAN_DIGITS {
            continue;
        }
        out[start + 6..i - 4].fill(b'*');
        // Track data after the PAN: expiry, service code, discretionary data.
        if i < out.len() && matches!(out[i], b'=' | b'D' | b'd' | b'^') {
            let end = out[i + 1..]
                .iter()
                .take(64)
                .position(|&b| b == b'?' || !(b.is_ascii_alphanumeric() || b == b'^'))
                .map_or((i + 1 + 64).min(out.len()), |p| i + 1 + p);
            out[i + 1..end].fill(b'*');
            i = end;
        }
    }
}

/// A byte of a packed-BCD card number: decimal nibbles, track 2's `D`
/// separator, `F` padding.
fn bcd_card_byte(b: u8) -> bool {
    let ok = |n: u8| n <= 9 || n == 0xD || n == 0xF;
    ok(b >> 4) && ok(b & 0x0F) && b != 0xFF
}

/// Whether the digits are a card number: a payment card's major industry
/// identifier (2 to 6), 13 to 19 digits, and a valid Luhn check digit.
fn is_card_number(digits: &[u8]) -> bool {
    matches!(digits.first(), Some(2..=6)) && (13..=19).contains(&digits.len()) && luhn_ok(digits)
}

fn luhn_ok(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 { dd - 9 } else { dd }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn mask_bcd_runs(out: &mut [u8]) {
    const MIN_BYTES: usize = 7;
    let mut i = 0;
    while i < out.len() {
        if !bcd_card_byte(out[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < out.len() && bcd_card_byte(out[i]) {
            i += 1;
        }
        if i - start < MIN_BYTES {
            continue;
        }
        // A card number starts on a byte boundary and ends at the run's end,
        // an `F` pad or a `D` separator; look for one from each byte.
        // At most 20 digits are read from each byte (a longer sequence is
        // no card number), so a long run costs linear time.
        let run = &out[start..i];
        let found = (0..run.len()).any(|from| {
            let digits: Vec<u8> = run[from..]
                .iter()
                .take(10)
                .flat_map(|b| [b >> 4, b & 0x0F])
                .take_while(|&n| n <= 9)
                .collect();
            digits.len() < 20 && is_card_number(&digits)
        });
        if found {
            out[start + 3..i - 2].fill(BCD_MASK);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text of every shape masking meets: digits ASCII and full-width,
    /// single and double spaces and dashes, letters, CJK, line ends, card
    /// numbers (Luhn-valid, grouped and not) among them.
    fn generated() -> Vec<String> {
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let pieces: &[&str] = &[
            "0",
            "1",
            "4",
            "5",
            "9",
            "7",
            " ",
            "-",
            "  ",
            "--",
            "a",
            "X",
            "\n",
            "：",
            "卡号",
            "０",
            "１",
            "９",
            "\"",
            ",",
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "5500 0000 0000 0004",
            "123456789012",
            "12345678901",
            "６２２２０２１２３４５６７８９０",
            "\u{FF0D}",
            "\u{3000}",
            "                 ",
            "- - - - - - - - -",
            "abcdefghijklmnopq",
        ];
        (0..20_000)
            .map(|_| {
                let len = next(40) as usize;
                (0..len)
                    .map(|_| pieces[next(pieces.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn text_said_to_hold_no_card_number_is_left_as_it_is() {
        let mut skipped = 0;
        for text in generated() {
            let masked = mask_card_numbers(&text);
            if !may_hold_card_number(text.as_bytes()) {
                skipped += 1;
                assert_eq!(masked, text);
            }
            // A line at a time, each line skipped when it may be: the
            // same as the whole text at once.
            let by_line: String = text
                .split_inclusive('\n')
                .map(|line| {
                    if may_hold_card_number(line.as_bytes()) {
                        mask_card_numbers(line)
                    } else {
                        line.to_owned()
                    }
                })
                .collect();
            assert_eq!(by_line, masked, "{text:?}");
        }
        // Both paths were taken.
        assert!(skipped > 1000 && skipped < 19_000, "{skipped}");
    }

    #[test]
    fn card_numbers_keep_only_first_six_and_last_four() {
        let cases = [
            ("got \"4111111111111111\"", "got \"411111******1111\""),
            ("0x02164111111111111111d2512", "0x021641**********1111d2512"),
            ("6222021234567890123", "622202*********0123"),
            (
                "port 5000, 12:30, amount 00000001000",
                "port 5000, 12:30, amount 00000001000",
            ),
            ("12345678901", "12345678901"),
        ];
        for (input, want) in cases {
            assert_eq!(mask_card_numbers(input), want, "{input}");
        }
    }

    #[test]
    fn grouped_and_full_width_card_numbers_are_masked_too() {
        let cases = [
            ("card 4111 1111 1111 1111 ok", "card 4111 11** **** 1111 ok"),
            ("4111-1111-1111-1111", "4111-11**-****-1111"),
            (
                "卡号４１１１１１１１１１１１１１１１",
                "卡号４１１１１１******１１１１",
            ),
            // Not a card number: dates, times, phone numbers in groups.
            ("2026-12-05 20:53:42", "2026-12-05 20:53:42"),
            ("call 138 1234 5678", "call 138 1234 5678"),
            ("1234 5678 9012 3456", "1234 5678 9012 3456"),
        ];
        for (input, want) in cases {
            assert_eq!(mask_card_numbers(input), want, "{input}");
        }
    }

    #[test]
    fn quoted_values_are_masked_escaped_and_cut() {
        assert_eq!(quote("T1"), "\"T1\"");
        assert_eq!(quote("a\nb\"c"), "\"a\\nb\\\"c\"");
        assert_eq!(quote("4111111111111111"), "\"411111******1111\"");
        let long = "A".repeat(1 << 20);
        let q = quote(&long);
        assert!(q.len() < 100, "{q}");
        assert!(q.ends_with("… (1048576 bytes)"), "{q}");
        // A card number across the cut is not left half visible.
        let across = format!("{}4111111111111111{}", "x".repeat(58), "y".repeat(400));
        assert!(!quote(&across).contains("41111111"), "{}", quote(&across));
    }

    #[test]
    fn raw_bytes_lose_card_numbers_and_track_data_but_keep_their_length() {
        // ASCII PAN and track 2 as a nexo or ISO 8583 ASCII message carries them.
        let t2 = b"35=;4111111111111111=25121010000012300000?;amount=0000001000";
        let m = mask_card_bytes(t2);
        assert_eq!(m.len(), t2.len());
        let s = String::from_utf8_lossy(&m).into_owned();
        assert!(s.starts_with("35=;411111******1111=*"), "{s}");
        assert!(
            !s.contains("2512"),
            "expiry and discretionary data masked: {s}"
        );
        assert!(s.ends_with("?;amount=0000001000"), "{s}");
        // Track 1.
        let t1 = b"x%B4111111111111111^DOE/JOHN^2512101?y";
        let m = mask_card_bytes(t1);
        assert_eq!(&m[..3], b"x%B");
        assert!(m[3..t1.len() - 2].iter().all(|&b| b == b'*'));
        assert_eq!(&m[t1.len() - 2..], b"?y");
        // Packed BCD as ZVT's BMP 22 (LLVAR F1 F9, F-padded) and track 2
        // with D: no more than the first six and the last four digits stay.
        let pan = [0x45, 0x39, 0x14, 0x88, 0x03, 0x43, 0x64, 0x67, 0xFF];
        let msg = [
            &[0x04, 0x0F, 0x0C, 0x22, 0xF1, 0xF9][..],
            &pan,
            &[0x0E, 0x25, 0x12],
        ]
        .concat();
        let m = mask_card_bytes(&msg);
        assert_eq!(m.len(), msg.len());
        assert!(!m.windows(2).any(|w| w == [0x88, 0x03]), "{m:02X?}");
        assert_eq!(&m[..3], &msg[..3], "the APDU header stays");
        assert!(m.iter().filter(|&&b| b == 0xFF).count() >= 5, "{m:02X?}");
        let t2 = [
            0x10, 0x02, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xD2, 0x51, 0x21, 0x01,
        ];
        let m = mask_card_bytes(&t2);
        assert!(m[5..12].iter().all(|&b| b == 0xFF), "{m:02X?}");
        // What is not card data stays: an amount with its BMP and the
        // currency, a ZVT status enquiry, a short ASCII number, a BCD run
        // that fails the Luhn check.
        for keep in [
            &[0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x49, 0x09, 0x78][..],
            &[0x01, 0x45, 0x39, 0x14, 0x88, 0x03, 0x43, 0x64, 0x68, 0x01][..],
            &[0x10, 0x02, 0x05, 0x01, 0x03, 0x00, 0x00, 0x00, 0x10, 0x03][..],
            b"terminal 12345678 port 20007",
        ] {
            assert_eq!(mask_card_bytes(keep), keep);
        }
    }
}
