//! Masking of card numbers in text that leaves the process. Anything that
//! echoes bytes from a host or a terminal (exchange previews, transcripts,
//! error details) passes through [`mask_card_numbers`] first.

/// Shortest digit run treated as a possible card number (ISO/IEC 7812
/// allows 8-digit IINs and PANs from 12 digits on).
const MIN_PAN_DIGITS: usize = 12;

/// Replaces every run of 12 or more ASCII digits with its first six and last
/// four digits around asterisks (`411111******1111`), the PCI DSS display
/// rule. Shorter runs (amounts, ports, times) are left alone.
pub fn mask_card_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= MIN_PAN_DIGITS {
            out.push_str(&run[..6]);
            out.extend(std::iter::repeat_n('*', run.len() - 10));
            out.push_str(&run[run.len() - 4..]);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
