//! Check-digit algorithms: Luhn (decimal and hexadecimal), ISO 7064
//! MOD 11-2 and MOD 97-10, and the GB 32100 mod-31 check character. Inputs
//! are ASCII bytes already known to be in the algorithm's alphabet unless a
//! function says otherwise; none allocates.

/// Value of an ASCII digit.
#[inline]
fn dv(b: u8) -> u32 {
    u32::from(b.wrapping_sub(b'0'))
}

/// Whether every byte of `v` is an ASCII digit. Written without an early
/// exit so the compiler can vectorise it: identifiers are short, and the
/// common case is all digits.
#[inline]
pub(crate) fn all_digits(v: &[u8]) -> bool {
    v.iter().fold(true, |ok, &b| ok & b.is_ascii_digit())
}

/// Whether the decimal digits `digits` pass the Luhn (mod 10) check
/// (`false`, never a panic, for other bytes).
#[inline]
pub(crate) fn luhn_ok(digits: &[u8]) -> bool {
    // Branch-free: every second digit from the right is doubled, and a
    // doubled digit above 9 has its digits summed (2d - 9).
    let n = digits.len();
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            let d = dv(b);
            let double = u32::from((n - i).is_multiple_of(2));
            d * (1 + double) - 9 * double * u32::from(d > 4)
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Value of an ASCII hexadecimal digit (either case), if it is one.
#[inline]
pub(crate) fn hex_value(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        b'A'..=b'F' => Some(u32::from(b - b'A') + 10),
        b'a'..=b'f' => Some(u32::from(b - b'a') + 10),
        _ => None,
    }
}

/// Whether hexadecimal `digits` pass Luhn mod 16 (python-stdnum's
/// `luhn.validate(number, alphabet='0123456789ABCDEF')`).
pub(crate) fn luhn16_ok(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    let mut double = false;
    for &b in digits.iter().rev() {
        let v = hex_value(b).unwrap_or(0);
        sum += if double {
            (2 * v) / 16 + (2 * v) % 16
        } else {
            v
        };
        double = !double;
    }
    sum.is_multiple_of(16)
}

/// The ISO 7064 MOD 11-2 check character (`0`-`9` or `X`) for `body`
/// (decimal digits), as GB 11643 uses for resident identity numbers.
#[inline]
pub(crate) fn mod11_2_check(body: &[u8]) -> u8 {
    // Weight of each digit is 2^k mod 11, k counted from the check
    // character; summing first and reducing once keeps the loop free of a
    // serial chain of divisions.
    const W: [u32; 10] = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6];
    let n = body.len();
    let sum: u32 = body
        .iter()
        .enumerate()
        .map(|(i, &b)| dv(b) * W[(n - i) % 10])
        .sum();
    let c = (12 - sum % 11) % 11;
    if c == 10 { b'X' } else { b'0' + c as u8 }
}

/// Value of an ASCII letter or digit in ISO 7064 MOD 97-10 (`0`-`9` → 0-9,
/// `A`/`a` → 10 … `Z`/`z` → 35).
#[inline]
pub(crate) fn alnum_value(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        b'A'..=b'Z' => Some(u32::from(b - b'A') + 10),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 10),
        _ => None,
    }
}

/// The remainder mod 97 of the letters and digits in `parts` read as one
/// number, letters expanded to two digits; `None` when a byte is not a
/// letter or digit.
pub(crate) fn mod97(parts: &[&[u8]]) -> Option<u32> {
    let mut r = 0u32;
    for part in parts {
        for &b in *part {
            let v = alnum_value(b)?;
            r = if v < 10 {
                (r * 10 + v) % 97
            } else {
                (r * 100 + v) % 97
            };
        }
    }
    Some(r)
}

/// The remainder mod `m` of decimal digits read as one number.
pub(crate) fn decimal_mod(digits: &[u8], m: u32) -> u32 {
    digits.iter().fold(0, |r, &b| (r * 10 + dv(b)) % m)
}

/// The GB 32100 alphabet of unified social credit codes: digits and capital
/// letters without I, O, S, V and Z.
pub(crate) const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Per byte, its index in [`USCC_ALPHABET`] (either case), or `u8::MAX`
/// for a byte not in it: one load per character instead of a search of
/// the alphabet.
const USCC_INDEX: [u8; 256] = {
    let mut table = [u8::MAX; 256];
    let mut i = 0;
    while i < USCC_ALPHABET.len() {
        let c = USCC_ALPHABET[i];
        table[c as usize] = i as u8;
        table[c.to_ascii_lowercase() as usize] = i as u8;
        i += 1;
    }
    table
};

/// Index of `b` (either case) in [`USCC_ALPHABET`].
#[inline]
pub(crate) fn uscc_index(b: u8) -> Option<u32> {
    match USCC_INDEX[usize::from(b)] {
        u8::MAX => None,
        i => Some(u32::from(i)),
    }
}

/// The GB 32100 check character for the first 17 characters of a unified
/// social credit code (each in [`USCC_ALPHABET`]).
pub(crate) fn uscc_check(body: &[u8]) -> u8 {
    const WEIGHTS: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let total: u32 = body
        .iter()
        .zip(WEIGHTS)
        .map(|(&b, w)| uscc_index(b).unwrap_or(0) * w)
        .sum();
    USCC_ALPHABET[((31 - total % 31) % 31) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_matches_published_examples() {
        assert!(luhn_ok(b"78949"));
        assert!(!luhn_ok(b"7894"));
        assert!(luhn_ok(b"4111111111111111"));
        assert!(luhn_ok(b"0"));
        assert!(!luhn_ok(b"4111111111111112"));
    }

    #[test]
    fn hex_luhn_matches_stdnum_meid_example() {
        // stdnum meid doctest: AF 01 23 45 0A BC DE with check digit C.
        assert!(luhn16_ok(b"AF0123450ABCDEC"));
        assert!(!luhn16_ok(b"AF0123450ABCDED"));
    }

    #[test]
    fn mod11_2_gives_gb11643_check_characters() {
        assert_eq!(mod11_2_check(b"11010519491231002"), b'X');
        assert_eq!(mod11_2_check(b"36042619910101007"), b'1');
        // Against the textbook recurrence, for every length up to 40.
        let digits = b"8302917465830291746583029174658302917465";
        for n in 1..=digits.len() {
            let body = &digits[..n];
            let mut p = 0u32;
            for &b in body {
                p = ((p + u32::from(b - b'0')) * 2) % 11;
            }
            let c = (12 - p) % 11;
            let want = if c == 10 { b'X' } else { b'0' + c as u8 };
            assert_eq!(mod11_2_check(body), want, "{n}");
        }
    }

    #[test]
    fn mod97_reads_letters_as_two_digits() {
        // GB82 WEST 1234 5698 7654 32 rearranged: bban + country + check.
        assert_eq!(mod97(&[b"WEST12345698765432", b"GB82"]), Some(1));
        assert_eq!(mod97(&[b"12/3"]), None);
    }

    #[test]
    fn uscc_index_is_the_position_in_the_alphabet_in_either_case() {
        for b in 0..=u8::MAX {
            let u = b.to_ascii_uppercase();
            let want = USCC_ALPHABET.iter().position(|&c| c == u).map(|i| i as u32);
            assert_eq!(uscc_index(b), want, "{b:#04x}");
        }
    }

    #[test]
    fn uscc_check_matches_stdnum_example() {
        assert_eq!(uscc_check(b"91110000600037341"), b'L');
    }
}
