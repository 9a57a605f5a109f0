//! The ZVT password: six decimal digits in configuration and settings, three BCD bytes on the
//! wire (registration `06 00`, status enquiry `05 01`, end of day `06 50`). Parsed here once
//! for the daemon's config and every plugin.

use std::fmt;

/// A ZVT password. `Debug` does not show the digits.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Password([u8; 3]);

impl Password {
    /// `000000`, what terminals ship with and what is sent when none is configured.
    pub const ZERO: Password = Password([0; 3]);

    /// The password from exactly 6 ASCII decimal digits (`"123456"` → `12 34 56`); `None` for
    /// anything else (other lengths, letters, full-width digits, surrounding spaces).
    pub fn from_digits(digits: &str) -> Option<Password> {
        let d = digits.as_bytes();
        if d.len() != 6 || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let bcd = |i: usize| ((d[i] - b'0') << 4) | (d[i + 1] - b'0');
        Some(Password([bcd(0), bcd(2), bcd(4)]))
    }

    /// The three BCD bytes sent in a command.
    pub fn bcd(self) -> [u8; 3] {
        self.0
    }
}

impl From<Password> for [u8; 3] {
    fn from(p: Password) -> [u8; 3] {
        p.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(******)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_decimal_digits_become_three_bcd_bytes() {
        let bcd = |s| Password::from_digits(s).map(Password::bcd);
        assert_eq!(bcd("123456"), Some([0x12, 0x34, 0x56]));
        assert_eq!(bcd("000000"), Some([0, 0, 0]));
        assert_eq!(bcd("909090"), Some([0x90, 0x90, 0x90]));
        assert_eq!(Password::from_digits("000000"), Some(Password::ZERO));
    }

    #[test]
    fn anything_else_is_not_a_password() {
        for bad in [
            "",
            "12345",
            "1234567",
            "12a456",
            "12ab56",
            " 12345",
            "123456 ",
            "-12345",
            "１２３４５６",
        ] {
            assert_eq!(Password::from_digits(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_the_digits() {
        let p = Password::from_digits("123456").unwrap_or_default();
        assert!(!format!("{p:?}").contains("12"));
    }
}
