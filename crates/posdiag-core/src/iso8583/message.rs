//! An ISO 8583 message as values: the MTI, the data fields 2 to 128 (field 1, the secondary
//! bitmap, follows from the fields present) and, for China UnionPay, the TPDU and header.
//!
//! Values are kept as the field's text (ASCII, also for EBCDIC and BCD fields) or raw bytes
//! (binary fields). `Debug` and `Display` never show a card number, track data or a PIN block.

use std::fmt;

use super::error::{Iso8583Error, Part};
use crate::mask_card_numbers;

/// A message type indicator: four decimal digits (version, class, function, origin).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mti([u8; 4]);

impl Mti {
    /// Network management request, 1987 (echo, sign-on).
    pub const NETWORK_REQUEST: Mti = Mti(*b"0800");
    /// Network management advice, used by China UnionPay for the echo test.
    pub const NETWORK_ADVICE: Mti = Mti(*b"0820");
    /// Network management request, 1993.
    pub const NETWORK_REQUEST_1993: Mti = Mti(*b"1804");

    /// Parses four ASCII digits.
    pub fn new(text: &str) -> Result<Self, Iso8583Error> {
        Self::from_digits(text.as_bytes())
    }

    pub(crate) fn from_digits(bytes: &[u8]) -> Result<Self, Iso8583Error> {
        match <[u8; 4]>::try_from(bytes) {
            Ok(digits) if digits.iter().all(u8::is_ascii_digit) => Ok(Mti(digits)),
            Ok(_) => Err(Iso8583Error::NotNumeric { part: Part::Mti }),
            Err(_) => Err(Iso8583Error::WrongLength {
                part: Part::Mti,
                length: bytes.len(),
                expected: 4,
            }),
        }
    }

    /// The four digits as text.
    pub fn as_str(&self) -> &str {
        // Only ever built from ASCII digits.
        std::str::from_utf8(&self.0).unwrap_or("????")
    }

    /// The four ASCII digits.
    pub fn digits(&self) -> [u8; 4] {
        self.0
    }

    /// The MTI of the response to this one (0800 → 0810, 0820 → 0830, 1804 → 1814), or `None`
    /// when this is not a request or advice (its function digit is odd or 9).
    pub fn response(&self) -> Option<Mti> {
        let function = self.0[2];
        if (function - b'0').is_multiple_of(2) && function < b'9' {
            let mut digits = self.0;
            digits[2] = function + 1;
            Some(Mti(digits))
        } else {
            None
        }
    }
}

impl fmt::Display for Mti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Mti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mti({})", self.as_str())
    }
}

/// China UnionPay transport protocol data unit: `60`, destination address, source address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tpdu {
    /// The TPDU id, `0x60` in CUP traffic.
    pub id: u8,
    /// Destination address (network access point of the host).
    pub destination: u16,
    /// Source address.
    pub source: u16,
}

impl Default for Tpdu {
    /// `60 0003 0000`, a typical terminal-to-host TPDU.
    fn default() -> Self {
        Self {
            id: 0x60,
            destination: 0x0003,
            source: 0x0000,
        }
    }
}

impl Tpdu {
    /// The TPDU a response carries: source and destination swapped.
    pub fn swapped(self) -> Self {
        Self {
            id: self.id,
            destination: self.source,
            source: self.destination,
        }
    }

    /// The 5 wire bytes.
    pub fn to_bytes(self) -> [u8; 5] {
        let [d0, d1] = self.destination.to_be_bytes();
        let [s0, s1] = self.source.to_be_bytes();
        [self.id, d0, d1, s0, s1]
    }

    /// Reads 5 wire bytes.
    pub fn from_bytes(bytes: [u8; 5]) -> Self {
        Self {
            id: bytes[0],
            destination: u16::from_be_bytes([bytes[1], bytes[2]]),
            source: u16::from_be_bytes([bytes[3], bytes[4]]),
        }
    }
}

/// The framing fields of China UnionPay messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CupFrame {
    /// Addresses.
    pub tpdu: Tpdu,
    /// Application class, software version, terminal status, processing requirement (6
    /// bytes, opaque here and copied into responses).
    pub header: [u8; 6],
}

/// One ISO 8583 message.
///
/// Values live in one buffer (two allocations per decoded message rather than one per
/// field: decoding speed matters on busy host links); replaced values leave garbage behind
/// until the message is dropped, which is fine for messages of a few hundred bytes.
#[derive(Clone)]
pub struct Message {
    mti: Mti,
    /// Field values, back to back.
    data: Vec<u8>,
    /// (field, start, end) into `data`, sorted by field number, no duplicates.
    index: Vec<(u8, usize, usize)>,
    cup: Option<CupFrame>,
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.mti == other.mti
            && self.cup == other.cup
            && self.index.len() == other.index.len()
            && self.fields().eq(other.fields())
    }
}

impl Eq for Message {}

impl Message {
    /// A message with no fields.
    pub fn new(mti: Mti) -> Self {
        Self {
            mti,
            data: Vec::new(),
            index: Vec::new(),
            cup: None,
        }
    }

    pub(crate) fn with_capacity(
        mti: Mti,
        fields: usize,
        bytes: usize,
        cup: Option<CupFrame>,
    ) -> Self {
        Self {
            mti,
            data: Vec::with_capacity(bytes),
            index: Vec::with_capacity(fields),
            cup,
        }
    }

    /// The value buffer, for decoding to append a field's value to.
    pub(crate) fn data_mut(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// Records that `data[start..]` is the value of `field`, a field larger than every field
    /// present (decoding walks the bitmap in order).
    pub(crate) fn push_sorted(&mut self, field: u8, start: usize) {
        self.index.push((field, start, self.data.len()));
    }

    /// The message type indicator.
    pub fn mti(&self) -> Mti {
        self.mti
    }

    /// Replaces the MTI.
    pub fn set_mti(&mut self, mti: Mti) {
        self.mti = mti;
    }

    /// Sets a data field (2..=128); whether the value suits the dialect is checked when
    /// encoding.
    pub fn set(&mut self, field: u8, value: impl Into<Vec<u8>>) -> Result<(), Iso8583Error> {
        if !(2..=128).contains(&field) {
            return Err(Iso8583Error::InvalidFieldNumber {
                field: u16::from(field),
            });
        }
        let value = value.into();
        let start = self.data.len();
        self.data.extend_from_slice(&value);
        let entry = (field, start, self.data.len());
        match self.index.binary_search_by_key(&field, |(n, ..)| *n) {
            Ok(i) => self.index[i] = entry,
            Err(i) => self.index.insert(i, entry),
        }
        Ok(())
    }

    /// [`Message::set`], builder style.
    pub fn with(mut self, field: u8, value: impl Into<Vec<u8>>) -> Result<Self, Iso8583Error> {
        self.set(field, value)?;
        Ok(self)
    }

    /// A field's value.
    pub fn get(&self, field: u8) -> Option<&[u8]> {
        self.index
            .binary_search_by_key(&field, |(n, ..)| *n)
            .ok()
            .and_then(|i| self.data.get(self.index[i].1..self.index[i].2))
    }

    /// A field's value as text, if it is valid UTF-8 (always for non-binary fields).
    pub fn text(&self, field: u8) -> Option<&str> {
        self.get(field).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Removes a field, returning its value.
    pub fn remove(&mut self, field: u8) -> Option<Vec<u8>> {
        let i = self.index.binary_search_by_key(&field, |(n, ..)| *n).ok()?;
        let (_, start, end) = self.index.remove(i);
        self.data.get(start..end).map(<[u8]>::to_vec)
    }

    /// The fields present, in order.
    pub fn fields(&self) -> impl Iterator<Item = (u8, &[u8])> {
        self.index
            .iter()
            .map(|&(n, start, end)| (n, self.data.get(start..end).unwrap_or_default()))
    }

    /// The China UnionPay TPDU and header, if any.
    pub fn cup(&self) -> Option<&CupFrame> {
        self.cup.as_ref()
    }

    /// Sets or clears the China UnionPay TPDU and header.
    pub fn set_cup(&mut self, cup: Option<CupFrame>) {
        self.cup = cup;
    }

    /// The response code (field 39), if present and text.
    pub fn response_code(&self) -> Option<&str> {
        self.text(39)
    }

    /// The system trace audit number (field 11), if present and text.
    pub fn stan(&self) -> Option<&str> {
        self.text(11)
    }
}

/// How a field's value may be shown in logs.
fn redacted(field: u8, value: &[u8]) -> String {
    match field {
        // Primary account number, extended PAN: first six and last four.
        2 | 34 => {
            let digits: String = value.iter().map(|&b| char::from(b)).collect();
            if value.len() >= 12 && value.iter().all(u8::is_ascii_digit) {
                mask_card_numbers(&digits)
            } else {
                format!("<{} characters>", value.len())
            }
        }
        35 | 36 | 45 => format!("<track data, {} characters>", value.len()),
        52 => format!("<pin block, {} bytes>", value.len()),
        // ICC data carries the PAN (tag 5A) and track 2 equivalent (tag 57).
        55 => format!("<icc data, {} bytes>", value.len()),
        _ => match std::str::from_utf8(value) {
            Ok(text) if text.chars().all(|c| c.is_ascii_graphic() || c == ' ') => {
                mask_card_numbers(text)
            }
            _ => {
                let mut hex = String::from("0x");
                for b in value {
                    hex.push_str(&format!("{b:02x}"));
                }
                mask_card_numbers(&hex)
            }
        },
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Fields<'a>(&'a Message);
        impl fmt::Debug for Fields<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.fields().map(|(n, v)| (n, redacted(n, v))))
                    .finish()
            }
        }
        let mut s = f.debug_struct("Message");
        s.field("mti", &self.mti.as_str());
        if let Some(cup) = &self.cup {
            s.field("cup", cup);
        }
        s.field("fields", &Fields(self)).finish()
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mti.as_str())?;
        for (n, v) in self.fields() {
            write!(f, " {n}={}", redacted(n, v))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_mtis() {
        let cases = [
            ("0800", Some("0810")),
            ("0820", Some("0830")),
            ("1804", Some("1814")),
            ("0200", Some("0210")),
            ("0810", None),
            ("0890", None),
        ];
        for (mti, want) in cases {
            let got = Mti::new(mti).unwrap().response();
            assert_eq!(got.as_ref().map(Mti::as_str), want, "{mti}");
        }
        assert!(Mti::new("08a0").is_err());
        assert!(Mti::new("080").is_err());
    }

    #[test]
    fn fields_stay_sorted_and_field_1_is_refused() {
        let mut m = Message::new(Mti::NETWORK_REQUEST);
        m.set(70, "301").unwrap();
        m.set(7, "0102030405").unwrap();
        m.set(11, "000001").unwrap();
        m.set(11, "000002").unwrap();
        let numbers: Vec<u8> = m.fields().map(|(n, _)| n).collect();
        assert_eq!(numbers, [7, 11, 70]);
        assert_eq!(m.stan(), Some("000002"));
        assert!(m.set(1, "x").is_err());
        assert!(m.set(0, "x").is_err());
        assert!(m.set(129, "x").is_err());
        assert_eq!(m.to_string(), "0800 7=0102030405 11=000002 70=301");
    }

    #[test]
    fn tpdu_swaps() {
        let t = Tpdu::from_bytes([0x60, 0x00, 0x03, 0x01, 0x02]);
        assert_eq!(t.swapped().to_bytes(), [0x60, 0x01, 0x02, 0x00, 0x03]);
    }
}
