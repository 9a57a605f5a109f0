//! ZVT bitmaps (BMPs): a one-byte number followed by a value whose length comes from the BMP
//! table (fixed, LLVAR/LLLVAR with `F0|d` digit lengths, or the BMP `06` TLV container).
//! [`BmpList`] keeps BMPs in the order received so an APDU re-encodes byte for byte.

use super::ZvtError;
use super::tlv::{SmallBytes, TlvList, decode_len, encode_len};

/// How a BMP's value length is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BmpFormat {
    /// Always this many bytes.
    Fixed(usize),
    /// Two length digits `F0|d F0|d`, at most 99 bytes.
    Llvar,
    /// Three length digits, at most 999 bytes.
    Lllvar,
    /// BMP `06`: a TLV length, then TLV elements.
    Tlv,
}

/// The BMP table (ZVT spec chapter 12, as used by EVerest/zvt and ecrterm); `None` for BMPs
/// whose length is unknown, which stops parsing with [`ZvtError::UnknownBmp`].
#[inline]
pub fn bmp_format(bmp: u8) -> Option<BmpFormat> {
    // A lookup in a byte table built at compile time from `format_of`.
    match BMP_TABLE[usize::from(bmp)] {
        UNKNOWN => None,
        LLVAR => Some(BmpFormat::Llvar),
        LLLVAR => Some(BmpFormat::Lllvar),
        TLV => Some(BmpFormat::Tlv),
        n => Some(BmpFormat::Fixed(usize::from(n))),
    }
}

// Codes of `BMP_TABLE`; any other value is the length of a fixed-length BMP.
const UNKNOWN: u8 = 0;
const LLVAR: u8 = 0xFD;
const LLLVAR: u8 = 0xFE;
const TLV: u8 = 0xFF;

/// `format_of` for every BMP number, as one byte each.
static BMP_TABLE: [u8; 256] = {
    let mut table = [UNKNOWN; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = match format_of(i as u8) {
            None => UNKNOWN,
            Some(BmpFormat::Llvar) => LLVAR,
            Some(BmpFormat::Lllvar) => LLLVAR,
            Some(BmpFormat::Tlv) => TLV,
            // Fixed lengths in the table are 1 to 15.
            Some(BmpFormat::Fixed(n)) => n as u8,
        };
        i += 1;
    }
    table
};

/// The BMP table as written in the spec; [`bmp_format`] reads it through `BMP_TABLE`.
const fn format_of(bmp: u8) -> Option<BmpFormat> {
    use BmpFormat::{Fixed, Lllvar, Llvar, Tlv};
    Some(match bmp {
        0x01 | 0x02 | 0x03 | 0x05 => Fixed(1), // timeout, max status infos, service byte, pump
        0x04 => Fixed(6),                      // amount, BCD
        0x06 => Tlv,
        0x0B => Fixed(3),                      // trace number
        0x0C => Fixed(3),                      // time hhmmss
        0x0D => Fixed(2),                      // date MMDD
        0x0E => Fixed(2),                      // expiry YYMM
        0x17 => Fixed(2),                      // card sequence number
        0x19 => Fixed(1),                      // payment type / card type / status byte
        0x22 => Llvar,                         // PAN (BCD, F-padded, E-masked)
        0x23 => Llvar,                         // track 2
        0x24 => Lllvar,                        // track 3
        0x27 => Fixed(1),                      // result code
        0x29 => Fixed(4),                      // terminal id, BCD
        0x2A => Fixed(15),                     // VU number
        0x2D => Llvar,                         // track 1
        0x2E => Lllvar,                        // sync chip data
        0x37 => Fixed(3),                      // trace number of the original transaction
        0x3A => Fixed(2),                      // CVV/CVC
        0x3B => Fixed(8),                      // AID
        0x3C => Lllvar,                        // additional data / text
        0x3D => Fixed(3),                      // password
        0x49 => Fixed(2),                      // currency, BCD
        0x60 => Lllvar,                        // individual totals
        0x87 => Fixed(2),                      // receipt number
        0x88 => Fixed(3),                      // turnover number
        0x8A => Fixed(1),                      // card type
        0x8B => Llvar,                         // card name
        0x8C => Fixed(1),                      // card type id
        0x9A => Lllvar,                        // Geldkarte payment record
        0xA0 => Fixed(1),                      // result code AS
        0xA7 => Llvar,                         // chip data EF_ID
        0xAF => Lllvar,                        // EF_Info
        0xBA => Fixed(5),                      // AID parameter
        0xD0 | 0xD2 | 0xD3 => Fixed(1),        // algorithm key, direction, key position
        0xD1 => Llvar,                         // card offset / PIN data
        0xE0 | 0xE9 | 0xEA | 0xEB => Fixed(1), // min input, beep, display duration, max input
        0xE1..=0xE8 => Llvar,                  // text lines 1-8
        0xF0 => Lllvar,                        // display text ids
        0xF1..=0xF8 => Llvar,                  // text lines
        0xFC => Fixed(1),                      // dialog control
        _ => return None,
    })
}

/// BMPs that carry cardholder data: masked in Debug output and transcripts.
pub const SENSITIVE_BMPS: [u8; 4] = [0x22, 0x23, 0x24, 0x2D];

/// The value of a BMP.
#[derive(Clone, PartialEq, Eq)]
pub enum BmpValue {
    /// The raw value (without the LLVAR/LLLVAR prefix).
    Bytes(SmallBytes),
    /// The elements of BMP `06`.
    Tlv(TlvList),
}

// Without the BMP number a value cannot tell whether it is card data, so Debug shows only the
// length of raw values; `Bmp`'s Debug shows the (masked where needed) content.
impl std::fmt::Debug for BmpValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BmpValue::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            BmpValue::Tlv(list) => write!(f, "Tlv({list:?})"),
        }
    }
}

/// One BMP: number and value.
#[derive(Clone, PartialEq, Eq)]
pub struct Bmp {
    /// The BMP number, e.g. `0x27`.
    pub id: u8,
    /// The value.
    pub value: BmpValue,
}

impl std::fmt::Debug for Bmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02X}=", self.id)?;
        match &self.value {
            BmpValue::Bytes(bytes) if SENSITIVE_BMPS.contains(&self.id) => {
                let mut masked = bytes.clone();
                super::redact::mask_bcd_card_data(self.id, &mut masked);
                for b in masked.iter() {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
            BmpValue::Bytes(bytes) => {
                for b in bytes.iter() {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
            BmpValue::Tlv(list) => write!(f, "{list:?}"),
        }
    }
}

impl Bmp {
    /// A BMP with a raw value.
    pub fn bytes(id: u8, value: impl Into<Vec<u8>>) -> Self {
        Bmp {
            id,
            value: BmpValue::Bytes(SmallBytes::from(value.into())),
        }
    }

    /// BMP `06` with these elements.
    pub fn tlv(list: TlvList) -> Self {
        Bmp {
            id: 0x06,
            value: BmpValue::Tlv(list),
        }
    }

    /// The raw value, for non-TLV BMPs.
    pub fn value_bytes(&self) -> Option<&[u8]> {
        match &self.value {
            BmpValue::Bytes(bytes) => Some(bytes),
            BmpValue::Tlv(_) => None,
        }
    }

    /// Appends the encoded BMP to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), ZvtError> {
        let format = bmp_format(self.id).ok_or(ZvtError::InvalidField {
            field: "bmp number",
            reason: "not in the bmp table, so its length cannot be encoded",
        })?;
        out.push(self.id);
        match (&self.value, format) {
            (BmpValue::Tlv(list), BmpFormat::Tlv) => {
                let inner = list.encode()?;
                encode_len(inner.len(), out)?;
                out.extend_from_slice(&inner);
            }
            (BmpValue::Bytes(bytes), BmpFormat::Fixed(n)) => {
                if bytes.len() != n {
                    return Err(ZvtError::InvalidField {
                        field: "fixed-length bmp",
                        reason: "value length differs from the bmp table",
                    });
                }
                out.extend_from_slice(bytes);
            }
            (BmpValue::Bytes(bytes), BmpFormat::Llvar) => {
                encode_var_len(bytes.len(), 2, out)?;
                out.extend_from_slice(bytes);
            }
            (BmpValue::Bytes(bytes), BmpFormat::Lllvar) => {
                encode_var_len(bytes.len(), 3, out)?;
                out.extend_from_slice(bytes);
            }
            (BmpValue::Bytes(bytes), BmpFormat::Tlv) => {
                // Opaque container content, e.g. from a builder.
                encode_len(bytes.len(), out)?;
                out.extend_from_slice(bytes);
            }
            (BmpValue::Tlv(_), _) => {
                return Err(ZvtError::InvalidField {
                    field: "bmp value",
                    reason: "only bmp 06 holds tlv elements",
                });
            }
        }
        Ok(())
    }
}

/// Splits `data` into BMPs without decoding values (TLV content is not checked): how many
/// split, and whether all of `data` did.
fn scan_bmps(data: &[u8]) -> (usize, bool) {
    let mut count = 0;
    let mut pos = 0;
    while pos < data.len() {
        let id = data[pos];
        pos += 1;
        let len = match bmp_format(id) {
            None => return (count, false),
            Some(BmpFormat::Fixed(n)) => n,
            Some(BmpFormat::Llvar) => match decode_var_len(data, pos, 2, id) {
                Ok(n) => n + 2,
                Err(_) => return (count, false),
            },
            Some(BmpFormat::Lllvar) => match decode_var_len(data, pos, 3, id) {
                Ok(n) => n + 3,
                Err(_) => return (count, false),
            },
            Some(BmpFormat::Tlv) => match decode_len(data, pos) {
                Ok((n, used)) => n + used,
                Err(_) => return (count, false),
            },
        };
        if data.len() - pos < len {
            return (count, false);
        }
        pos += len;
        count += 1;
    }
    (count, true)
}

/// How many BMPs `data` holds, counting up to the first malformed one: the capacity to reserve
/// so a list is allocated once.
fn count_bmps(data: &[u8]) -> usize {
    let (count, complete) = scan_bmps(data);
    // A malformed BMP is an error unless nothing follows it; reserve for it in case.
    if complete { count } else { count + 1 }
}

/// Appends `F0|d` length digits.
pub(crate) fn encode_var_len(len: usize, digits: u32, out: &mut Vec<u8>) -> Result<(), ZvtError> {
    let max = 10usize.pow(digits) - 1;
    if len > max {
        return Err(ZvtError::ValueTooLong {
            what: if digits == 2 {
                "llvar value"
            } else {
                "lllvar value"
            },
            len,
            max,
        });
    }
    for i in (0..digits).rev() {
        // Each digit is below 10.
        out.push(0xF0 | ((len / 10usize.pow(i)) % 10) as u8);
    }
    Ok(())
}

/// Reads `digits` `F0|d` length digits at `pos`.
pub(crate) fn decode_var_len(
    data: &[u8],
    pos: usize,
    digits: usize,
    bmp: u8,
) -> Result<usize, ZvtError> {
    let prefix = data.get(pos..pos + digits).ok_or(ZvtError::Truncated {
        what: "variable length prefix",
        needed: digits,
        available: data.len().saturating_sub(pos),
    })?;
    let mut len = 0;
    for &b in prefix {
        if b & 0xF0 != 0xF0 || b & 0x0F > 9 {
            return Err(ZvtError::BadVarLength { bmp, offset: pos });
        }
        len = len * 10 + usize::from(b & 0x0F);
    }
    Ok(len)
}

/// The BMP [`BmpList::decode`] pushes before filling it in.
const EMPTY_BYTES: Bmp = Bmp {
    id: 0,
    value: BmpValue::Bytes(SmallBytes::new()),
};

/// An ordered list of BMPs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BmpList(pub Vec<Bmp>);

impl BmpList {
    /// Decodes BMPs until the end of `data`. `offset` is where `data` starts inside the APDU
    /// data, for error positions.
    pub fn decode(data: &[u8], offset: usize) -> Result<Self, ZvtError> {
        let mut items = Vec::with_capacity(count_bmps(data));
        let mut pos = 0;
        while pos < data.len() {
            let id = data[pos];
            let format = bmp_format(id).ok_or(ZvtError::UnknownBmp {
                bmp: id,
                offset: offset + pos,
            })?;
            pos += 1;
            let (len, used) = match format {
                BmpFormat::Fixed(n) => (n, 0),
                BmpFormat::Llvar => (decode_var_len(data, pos, 2, id)?, 2),
                BmpFormat::Lllvar => (decode_var_len(data, pos, 3, id)?, 3),
                BmpFormat::Tlv => decode_len(data, pos)?,
            };
            pos += used;
            let value = data.get(pos..pos + len).ok_or(ZvtError::Truncated {
                what: "bmp value",
                needed: len,
                available: data.len() - pos,
            })?;
            pos += len;
            if format == BmpFormat::Tlv {
                items.push(Bmp {
                    id,
                    value: BmpValue::Tlv(TlvList::decode(value)?),
                });
            } else {
                // Pushed as a constant and filled in place: building the BMP on the stack and
                // moving it reloads bytes just written in pieces (a store-forwarding stall).
                items.push(EMPTY_BYTES);
                if let Some(Bmp {
                    id: slot,
                    value: BmpValue::Bytes(bytes),
                }) = items.last_mut()
                {
                    *slot = id;
                    bytes.set(value);
                }
            }
        }
        Ok(BmpList(items))
    }

    /// Whether `data` splits into known BMPs whose lengths fit, without decoding values
    /// (TLV content is not checked). Used to tell optional fixed fields from BMPs cheaply.
    pub(crate) fn splits(data: &[u8]) -> bool {
        let (_, complete) = scan_bmps(data);
        complete
    }

    /// Appends the encoded BMPs to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), ZvtError> {
        for bmp in &self.0 {
            bmp.encode_into(out)?;
        }
        Ok(())
    }

    /// The first BMP with number `id`.
    pub fn get(&self, id: u8) -> Option<&Bmp> {
        self.0.iter().find(|b| b.id == id)
    }

    /// The raw value of the first BMP `id`.
    pub fn bytes(&self, id: u8) -> Option<&[u8]> {
        self.get(id).and_then(Bmp::value_bytes)
    }

    /// The single byte of a one-byte BMP such as `27` or `19`.
    pub fn byte(&self, id: u8) -> Option<u8> {
        match self.bytes(id) {
            Some(&[b]) => Some(b),
            _ => None,
        }
    }

    /// The TLV container (BMP `06`), if present.
    pub fn tlv(&self) -> Option<&TlvList> {
        self.0.iter().find_map(|b| match &b.value {
            BmpValue::Tlv(list) => Some(list),
            BmpValue::Bytes(_) => None,
        })
    }

    /// The BMPs.
    pub fn iter(&self) -> std::slice::Iter<'_, Bmp> {
        self.0.iter()
    }

    /// Adds a BMP at the end.
    pub fn push(&mut self, bmp: Bmp) {
        self.0.push(bmp);
    }
}

/// BCD digits as text: `[0x52, 0x52, 0x35, 0x35]` → `"52523535"`. Nibbles above 9 show as hex.
pub fn bcd_to_string(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0x0F] {
            s.push(char::from_digit(u32::from(nibble), 16).unwrap_or('?'));
        }
    }
    s
}

/// A BCD number: `[0x09, 0x78]` → 978. `None` if a nibble is not a digit.
pub fn bcd_to_u64(bytes: &[u8]) -> Option<u64> {
    let mut n: u64 = 0;
    for b in bytes {
        for nibble in [b >> 4, b & 0x0F] {
            if nibble > 9 {
                return None;
            }
            n = n.checked_mul(10)?.checked_add(u64::from(nibble))?;
        }
    }
    Some(n)
}

/// `digits` (ASCII digits, even count after left zero padding) as BCD in `len` bytes.
pub fn u64_to_bcd(mut value: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for byte in out.iter_mut().rev() {
        let lo = (value % 10) as u8;
        value /= 10;
        let hi = (value % 10) as u8;
        value /= 10;
        *byte = (hi << 4) | lo;
    }
    out
}

/// Parses hex text such as `"17FD1E3C"` (spaces allowed) into bytes.
pub fn hex_to_bytes(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| (b as char).to_digit(16).map(|d| d as u8))
        .collect::<Option<_>>()?;
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    Some(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// Bytes as lowercase hex.
pub fn bytes_to_hex(bytes: &[u8]) -> String {
    bcd_to_string(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bmp_table_matches_the_spec_table() {
        for bmp in 0..=255u8 {
            assert_eq!(bmp_format(bmp), format_of(bmp), "bmp {bmp:02x}");
        }
    }

    #[test]
    fn var_lengths_use_f_digits() {
        let mut out = Vec::new();
        encode_var_len(40, 3, &mut out).unwrap();
        assert_eq!(out, [0xF0, 0xF4, 0xF0]);
        assert_eq!(decode_var_len(&out, 0, 3, 0x3C).unwrap(), 40);
        assert_eq!(
            decode_var_len(&[0xF1, 0x1A], 0, 2, 0x22),
            Err(ZvtError::BadVarLength {
                bmp: 0x22,
                offset: 0
            })
        );
        assert!(encode_var_len(100, 2, &mut out).is_err());
    }

    #[test]
    fn bcd_helpers() {
        assert_eq!(bcd_to_u64(&[0x09, 0x78]), Some(978));
        assert_eq!(u64_to_bcd(978, 2), [0x09, 0x78]);
        assert_eq!(bcd_to_string(&[0x52, 0x52, 0x35, 0x35]), "52523535");
        assert_eq!(
            hex_to_bytes("17FD 1E3C"),
            Some(vec![0x17, 0xFD, 0x1E, 0x3C])
        );
        assert_eq!(hex_to_bytes("1"), None);
    }

    #[test]
    fn unknown_bmp_is_an_error() {
        assert_eq!(
            BmpList::decode(&[0x27, 0x00, 0x99, 0x01], 1),
            Err(ZvtError::UnknownBmp {
                bmp: 0x99,
                offset: 3
            })
        );
    }
}
