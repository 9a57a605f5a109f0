//! Encoding and decoding of one message (without the stream length prefix) in a dialect.
//!
//! Decoding never allocates more than the input's length: every length is checked against
//! the bytes left before anything is reserved.

use super::dialect::{
    BitmapEncoding, Content, DataEncoding, Dialect, FieldSpec, Framing, LengthEncoding, LengthType,
    MtiEncoding, Pad,
};
use super::ebcdic;
use super::error::{Iso8583Error, Part, hex_excerpt, text_excerpt};
use super::message::{CupFrame, Message, Mti, Tpdu};

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, part: Part, n: usize) -> Result<&'a [u8], Iso8583Error> {
        let available = self.buf.len() - self.pos;
        if n > available {
            return Err(Iso8583Error::Truncated {
                part,
                needed: n,
                available,
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }
}

impl Dialect {
    /// Decodes one message: for China UnionPay the TPDU and header, then the MTI, bitmaps and
    /// fields. `bytes` excludes the stream length prefix (see [`super::FrameReader`]) and must
    /// hold exactly one message.
    pub fn decode(&self, bytes: &[u8]) -> Result<Message, Iso8583Error> {
        let mut r = Reader { buf: bytes, pos: 0 };
        let cup = match self.framing() {
            Framing::Plain => None,
            Framing::Cup => {
                let tpdu = r.take(Part::Tpdu, 5)?;
                let header = r.take(Part::Header, 6)?;
                let mut t = [0; 5];
                t.copy_from_slice(tpdu);
                let mut h = [0; 6];
                h.copy_from_slice(header);
                Some(CupFrame {
                    tpdu: Tpdu::from_bytes(t),
                    header: h,
                })
            }
        };
        let mti = match self.mti_encoding() {
            MtiEncoding::Ascii => Mti::from_digits(r.take(Part::Mti, 4)?)?,
            MtiEncoding::Ebcdic => {
                let raw = r.take(Part::Mti, 4)?;
                let mut digits = [0; 4];
                for (d, &b) in digits.iter_mut().zip(raw) {
                    *d = ebcdic::to_ascii(b).ok_or(Iso8583Error::NotNumeric { part: Part::Mti })?;
                }
                Mti::from_digits(&digits)?
            }
            MtiEncoding::Bcd => {
                let raw = r.take(Part::Mti, 2)?;
                let mut digits = [0; 4];
                for (i, d) in digits.iter_mut().enumerate() {
                    *d = bcd_digit(nibble(raw, i), Part::Mti, Content::Numeric)?;
                }
                Mti::from_digits(&digits)?
            }
        };
        let primary = self.read_bitmap(&mut r, Part::PrimaryBitmap)?;
        let secondary = if primary & (1 << 63) != 0 {
            if !self.has_secondary_bitmap() {
                return Err(Iso8583Error::UndefinedField {
                    field: 1,
                    dialect: self.name().to_owned(),
                });
            }
            self.read_bitmap(&mut r, Part::SecondaryBitmap)?
        } else {
            0
        };
        let count = (primary & !(1 << 63)).count_ones() + secondary.count_ones();
        let mut message = Message::with_capacity(mti, count as usize, bytes.len() - r.pos, cup);
        // Walk the set bits only, highest first (bit 63 of the primary bitmap is field 1).
        for (mut bits, offset) in [(primary & !(1 << 63), 1_u32), (secondary, 65)] {
            while bits != 0 {
                let lz = bits.leading_zeros();
                bits &= !(1 << (63 - lz));
                // lz + offset is 2..=128.
                let field = u8::try_from(lz + offset).unwrap_or(u8::MAX);
                let spec = self
                    .field(field)
                    .ok_or_else(|| Iso8583Error::UndefinedField {
                        field,
                        dialect: self.name().to_owned(),
                    })?;
                let start = message.data_mut().len();
                decode_field(&mut r, field, spec, message.data_mut())?;
                message.push_sorted(field, start);
            }
        }
        let left = bytes.len() - r.pos;
        if left > 0 {
            return Err(Iso8583Error::TrailingBytes { count: left });
        }
        Ok(message)
    }

    fn read_bitmap(&self, r: &mut Reader<'_>, part: Part) -> Result<u64, Iso8583Error> {
        match self.bitmap_encoding() {
            BitmapEncoding::Binary => {
                let raw = r.take(part, 8)?;
                let mut b = [0; 8];
                b.copy_from_slice(raw);
                Ok(u64::from_be_bytes(b))
            }
            BitmapEncoding::AsciiHex => {
                let raw = r.take(part, 16)?;
                let mut value = 0_u64;
                for &c in raw {
                    let digit = match c {
                        b'0'..=b'9' => c - b'0',
                        b'A'..=b'F' => c - b'A' + 10,
                        b'a'..=b'f' => c - b'a' + 10,
                        _ => {
                            return Err(Iso8583Error::BadHex {
                                part,
                                found: text_excerpt(raw),
                            });
                        }
                    };
                    value = (value << 4) | u64::from(digit);
                }
                Ok(value)
            }
        }
    }

    /// Encodes one message without the stream length prefix.
    pub fn encode(&self, message: &Message) -> Result<Vec<u8>, Iso8583Error> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(message, &mut out)?;
        Ok(out)
    }

    /// Encodes one message with the dialect's stream length prefix.
    pub fn encode_framed(&self, message: &Message) -> Result<Vec<u8>, Iso8583Error> {
        let prefix = self.length_prefix();
        let mut out = vec![0; prefix.width()];
        self.encode_into(message, &mut out)?;
        let len = out.len() - prefix.width();
        super::frame::write_prefix(prefix, len, &mut out[..prefix.width()])?;
        Ok(out)
    }

    /// Appends the encoding of `message` to `out` (on error, `out` may hold a partial
    /// message).
    pub fn encode_into(&self, message: &Message, out: &mut Vec<u8>) -> Result<(), Iso8583Error> {
        if self.framing() == Framing::Cup {
            let cup = message.cup().ok_or_else(|| Iso8583Error::Missing {
                part: Part::Tpdu,
                dialect: self.name().to_owned(),
            })?;
            out.extend_from_slice(&cup.tpdu.to_bytes());
            out.extend_from_slice(&cup.header);
        }
        let mti = message.mti().digits();
        match self.mti_encoding() {
            MtiEncoding::Ascii => out.extend_from_slice(&mti),
            MtiEncoding::Ebcdic => out.extend(mti.iter().map(|&d| ebcdic::from_ascii(d))),
            MtiEncoding::Bcd => out.extend_from_slice(&[
                ((mti[0] - b'0') << 4) | (mti[1] - b'0'),
                ((mti[2] - b'0') << 4) | (mti[3] - b'0'),
            ]),
        }
        let (mut primary, mut secondary) = (0_u64, 0_u64);
        for (field, _) in message.fields() {
            if self.field(field).is_none() {
                return Err(Iso8583Error::UndefinedField {
                    field,
                    dialect: self.name().to_owned(),
                });
            }
            if field <= 64 {
                primary |= 1 << (64 - u32::from(field));
            } else {
                secondary |= 1 << (128 - u32::from(field));
            }
        }
        if secondary != 0 {
            primary |= 1 << 63;
        }
        self.write_bitmap(primary, out);
        if secondary != 0 {
            self.write_bitmap(secondary, out);
        }
        for (field, value) in message.fields() {
            if let Some(spec) = self.field(field) {
                encode_field(field, spec, value, out)?;
            }
        }
        Ok(())
    }

    fn write_bitmap(&self, bits: u64, out: &mut Vec<u8>) {
        match self.bitmap_encoding() {
            BitmapEncoding::Binary => out.extend_from_slice(&bits.to_be_bytes()),
            BitmapEncoding::AsciiHex => {
                out.extend(
                    (0..16)
                        .rev()
                        .map(|i| HEX_UPPER[((bits >> (i * 4)) & 0xf) as usize]),
                );
            }
        }
    }
}

/// Nibble `i` (0 = high nibble of the first byte).
fn nibble(bytes: &[u8], i: usize) -> u8 {
    let b = bytes[i / 2];
    if i.is_multiple_of(2) {
        b >> 4
    } else {
        b & 0x0f
    }
}

fn bcd_digit(n: u8, part: Part, content: Content) -> Result<u8, Iso8583Error> {
    match n {
        0..=9 => Ok(b'0' + n),
        0x0d if content == Content::Track => Ok(b'='),
        _ => Err(Iso8583Error::NotNumeric { part }),
    }
}

/// Appends the value of `field` to `out`.
fn decode_field(
    r: &mut Reader<'_>,
    field: u8,
    spec: &FieldSpec,
    out: &mut Vec<u8>,
) -> Result<(), Iso8583Error> {
    let part = Part::Field(field);
    let units = match spec.length {
        LengthType::Fixed(n) => usize::from(n),
        variable => {
            let raw = r.take(part, spec.prefix_bytes())?;
            let bad = || Iso8583Error::BadLength {
                part,
                found: hex_excerpt(raw),
            };
            let units = match spec.length_encoding {
                LengthEncoding::Ascii => parse_digits(raw.iter().copied()).ok_or_else(bad)?,
                LengthEncoding::Ebcdic => {
                    parse_digits(raw.iter().map(|&b| ebcdic::to_ascii(b).unwrap_or(0)))
                        .ok_or_else(bad)?
                }
                LengthEncoding::Bcd => parse_digits(
                    (0..raw.len() * 2)
                        .map(|i| nibble(raw, i))
                        .map(|n| if n <= 9 { b'0' + n } else { 0 }),
                )
                .ok_or_else(bad)?,
                LengthEncoding::Binary => raw
                    .iter()
                    .fold(0_usize, |acc, &b| (acc << 8) | usize::from(b)),
            };
            let max = usize::from(variable.max());
            if units > max {
                return Err(Iso8583Error::TooLong {
                    part,
                    length: units,
                    max,
                });
            }
            units
        }
    };
    let raw = r.take(part, spec.data_bytes(units))?;
    match spec.data {
        DataEncoding::Binary => {
            out.extend_from_slice(raw);
            Ok(())
        }
        DataEncoding::Ascii => {
            // One pass in the common case: digits are ASCII.
            let valid = if spec.content == Content::Numeric {
                raw.iter().all(u8::is_ascii_digit)
            } else {
                raw.is_ascii()
            };
            if !valid {
                if let Some(&byte) = raw.iter().find(|b| !b.is_ascii()) {
                    return Err(Iso8583Error::InvalidByte {
                        part,
                        byte,
                        encoding: "ascii",
                    });
                }
                return Err(Iso8583Error::NotNumeric { part });
            }
            out.extend_from_slice(raw);
            Ok(())
        }
        DataEncoding::Ebcdic => {
            for &b in raw {
                let c = ebcdic::to_ascii(b).ok_or(Iso8583Error::InvalidByte {
                    part,
                    byte: b,
                    encoding: "ebcdic",
                })?;
                if spec.content == Content::Numeric && !c.is_ascii_digit() {
                    return Err(Iso8583Error::NotNumeric { part });
                }
                out.push(c);
            }
            Ok(())
        }
        DataEncoding::Bcd(pad) => {
            let nibbles = raw.len() * 2;
            let (skip_front, pad_nibble) = match pad {
                Pad::Left(p) => (nibbles - units, p),
                Pad::Right(p) => (0, p),
            };
            if units % 2 == 1 {
                let at = if skip_front == 1 { 0 } else { nibbles - 1 };
                let found = nibble(raw, at);
                if found != pad_nibble {
                    return Err(Iso8583Error::BadPadding {
                        part,
                        found,
                        expected: pad_nibble,
                    });
                }
            }
            for i in skip_front..skip_front + units {
                out.push(bcd_digit(nibble(raw, i), part, spec.content)?);
            }
            Ok(())
        }
    }
}

/// Parses ASCII digits; `None` if any byte is not one.
fn parse_digits(digits: impl Iterator<Item = u8>) -> Option<usize> {
    let mut n = 0_usize;
    for d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + usize::from(d - b'0');
    }
    Some(n)
}

fn encode_field(
    field: u8,
    spec: &FieldSpec,
    value: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Iso8583Error> {
    let part = Part::Field(field);
    let units = value.len();
    match spec.length {
        LengthType::Fixed(n) => {
            if units != usize::from(n) {
                return Err(Iso8583Error::WrongLength {
                    part,
                    length: units,
                    expected: usize::from(n),
                });
            }
        }
        variable => {
            let max = usize::from(variable.max());
            let digits = variable.prefix_digits();
            // What the prefix itself can express (99 in two ASCII digits, 255 in one byte).
            let expressible = match spec.length_encoding {
                LengthEncoding::Binary => (1_usize << (8 * spec.prefix_bytes())) - 1,
                _ => 10_usize.pow(digits as u32) - 1,
            };
            if units > max.min(expressible) {
                return Err(Iso8583Error::TooLong {
                    part,
                    length: units,
                    max: max.min(expressible),
                });
            }
            match spec.length_encoding {
                LengthEncoding::Ascii | LengthEncoding::Ebcdic => {
                    for i in (0..digits).rev() {
                        let d = b'0' + ((units / 10_usize.pow(i as u32)) % 10) as u8;
                        out.push(if spec.length_encoding == LengthEncoding::Ebcdic {
                            ebcdic::from_ascii(d)
                        } else {
                            d
                        });
                    }
                }
                LengthEncoding::Bcd => {
                    let width = spec.prefix_bytes();
                    for i in (0..width).rev() {
                        let pair = (units / 100_usize.pow(i as u32)) % 100;
                        out.push((((pair / 10) as u8) << 4) | (pair % 10) as u8);
                    }
                }
                LengthEncoding::Binary => {
                    let width = spec.prefix_bytes();
                    for i in (0..width).rev() {
                        out.push((units >> (8 * i)) as u8);
                    }
                }
            }
        }
    }
    match spec.data {
        DataEncoding::Binary => out.extend_from_slice(value),
        DataEncoding::Ascii | DataEncoding::Ebcdic => {
            for &c in value {
                if !c.is_ascii() {
                    return Err(Iso8583Error::InvalidByte {
                        part,
                        byte: c,
                        encoding: "ascii",
                    });
                }
                if spec.content == Content::Numeric && !c.is_ascii_digit() {
                    return Err(Iso8583Error::NotNumeric { part });
                }
                out.push(if spec.data == DataEncoding::Ebcdic {
                    ebcdic::from_ascii(c)
                } else {
                    c
                });
            }
        }
        DataEncoding::Bcd(pad) => {
            let mut nibbles = Vec::with_capacity(units + 1);
            let (pad_nibble, left) = match pad {
                Pad::Left(p) => (p, true),
                Pad::Right(p) => (p, false),
            };
            if units % 2 == 1 && left {
                nibbles.push(pad_nibble);
            }
            for &c in value {
                nibbles.push(match c {
                    b'0'..=b'9' => c - b'0',
                    b'=' if spec.content == Content::Track => 0x0d,
                    _ => return Err(Iso8583Error::NotNumeric { part }),
                });
            }
            if units % 2 == 1 && !left {
                nibbles.push(pad_nibble);
            }
            out.extend(
                nibbles
                    .chunks(2)
                    .map(|p| (p[0] << 4) | p.get(1).copied().unwrap_or(0)),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iso8583::dialect::LengthPrefix;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn pyiso8583_readme_example() {
        let d = Dialect::ascii();
        let m = Message::new(Mti::NETWORK_REQUEST)
            .with(7, "0102030405")
            .unwrap()
            .with(11, "000001")
            .unwrap()
            .with(70, "301")
            .unwrap();
        let raw = d.encode(&m).unwrap();
        assert_eq!(
            raw,
            b"0800822000000000000004000000000000000102030405000001301"
        );
        assert_eq!(d.decode(&raw).unwrap(), m);
        let framed = d
            .with_length_prefix(LengthPrefix::Ascii4)
            .encode_framed(&m)
            .unwrap();
        assert_eq!(&framed[..4], b"0055");
    }

    #[test]
    fn mixed_bcd_ebcdic_dialect_reads_the_stack_overflow_trace() {
        // 0810 sign-on reply from reference/protocols.md §3.1: BCD MTI and numbers, binary
        // bitmaps, EBCDIC field 39, field 70 n3 right-justified in BCD.
        let bcd = |n: u16| FieldSpec {
            content: Content::Numeric,
            data: DataEncoding::Bcd(Pad::Left(0)),
            length: LengthType::Fixed(n),
            length_encoding: LengthEncoding::Bcd,
        };
        let d = Dialect::empty("so-11421574")
            .with_mti_encoding(MtiEncoding::Bcd)
            .with_bitmap_encoding(BitmapEncoding::Binary)
            .with_field(7, Some(bcd(10)))
            .with_field(11, Some(bcd(6)))
            .with_field(
                39,
                Some(FieldSpec {
                    data: DataEncoding::Ebcdic,
                    ..FieldSpec::ascii(Content::Text, LengthType::Fixed(2))
                }),
            )
            .with_field(70, Some(bcd(3)));
        let raw = hex("0810822000000200000004000000000000000501130427000005F0F00001");
        let m = d.decode(&raw).unwrap();
        assert_eq!(m.mti().as_str(), "0810");
        assert_eq!(m.text(7), Some("0501130427"));
        assert_eq!(m.text(11), Some("000005"));
        assert_eq!(m.response_code(), Some("00"));
        assert_eq!(m.text(70), Some("001"));
        assert_eq!(d.encode(&m).unwrap(), raw);
    }
}
