//! ZVT TLV (the content of BMP `06`): 1- or 2-byte tags (a first byte whose low five bits are
//! all set takes a second byte), lengths `00..7F` / `81 xx` / `82 xx xx` (big-endian), and
//! constructed tags (bit `0x20` of the first tag byte, e.g. `E4` device info) parsed
//! recursively. Element order is kept, so decoding then encoding gives the same bytes.

use super::ZvtError;

/// Constructed values deeper than this are an error, so hostile nesting cannot exhaust the stack.
pub const MAX_DEPTH: usize = 16;

/// A TLV tag of one or two bytes, e.g. `Tag(0x4C)` or `Tag(0x1F40)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u16);

impl Tag {
    /// The tag's bytes: one for values below `0x100`, else two.
    fn bytes(self) -> ([u8; 2], usize) {
        let [hi, lo] = self.0.to_be_bytes();
        if self.0 < 0x100 {
            ([lo, 0], 1)
        } else {
            ([hi, lo], 2)
        }
    }

    /// Whether the value is a list of TLV elements (bit `0x20` of the first byte).
    pub fn is_constructed(self) -> bool {
        let (bytes, _) = self.bytes();
        bytes[0] & 0x20 != 0
    }

    /// Whether this tag can be encoded so that it decodes to itself: a one-byte tag must not
    /// announce a second byte, a two-byte tag must.
    pub fn is_encodable(self) -> bool {
        let (bytes, len) = self.bytes();
        match len {
            1 => bytes[0] & 0x1F != 0x1F,
            _ => bytes[0] & 0x1F == 0x1F && bytes[1] & 0x80 == 0,
        }
    }
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 < 0x100 {
            write!(f, "{:02X}", self.0)
        } else {
            write!(f, "{:04X}", self.0)
        }
    }
}

/// The value of a TLV element.
#[derive(Clone, PartialEq, Eq)]
pub enum TlvValue {
    /// Raw bytes; also a constructed tag whose content is not valid TLV.
    Primitive(Vec<u8>),
    /// Nested elements of a constructed tag.
    Constructed(TlvList),
}

impl std::fmt::Debug for TlvValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlvValue::Primitive(bytes) => {
                for b in bytes {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
            TlvValue::Constructed(list) => list.fmt(f),
        }
    }
}

/// One TLV element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    /// The tag.
    pub tag: Tag,
    /// The value.
    pub value: TlvValue,
}

impl Tlv {
    /// A primitive element.
    pub fn primitive(tag: u16, value: impl Into<Vec<u8>>) -> Self {
        Tlv {
            tag: Tag(tag),
            value: TlvValue::Primitive(value.into()),
        }
    }

    /// A constructed element.
    pub fn constructed(tag: u16, children: Vec<Tlv>) -> Self {
        Tlv {
            tag: Tag(tag),
            value: TlvValue::Constructed(TlvList(children)),
        }
    }

    /// The raw value of a primitive element.
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.value {
            TlvValue::Primitive(bytes) => Some(bytes),
            TlvValue::Constructed(_) => None,
        }
    }

    /// The children of a constructed element.
    pub fn children(&self) -> Option<&TlvList> {
        match &self.value {
            TlvValue::Constructed(list) => Some(list),
            TlvValue::Primitive(_) => None,
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>, depth: usize) -> Result<(), ZvtError> {
        if depth > MAX_DEPTH {
            return Err(ZvtError::TlvTooDeep { max: MAX_DEPTH });
        }
        if !self.tag.is_encodable() {
            return Err(ZvtError::InvalidField {
                field: "tlv tag",
                reason: "a one-byte tag must not end in 1F and a two-byte tag must",
            });
        }
        let (tag, tag_len) = self.tag.bytes();
        out.extend_from_slice(&tag[..tag_len]);
        match &self.value {
            TlvValue::Primitive(bytes) => {
                encode_len(bytes.len(), out)?;
                out.extend_from_slice(bytes);
            }
            TlvValue::Constructed(list) => {
                // Encode the children first to learn their length.
                let mut inner = Vec::new();
                list.encode_into_depth(&mut inner, depth + 1)?;
                encode_len(inner.len(), out)?;
                out.extend_from_slice(&inner);
            }
        }
        Ok(())
    }
}

/// An ordered list of TLV elements.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlvList(pub Vec<Tlv>);

impl TlvList {
    /// Decodes a whole TLV container.
    pub fn decode(bytes: &[u8]) -> Result<Self, ZvtError> {
        decode_list(bytes, 0)
    }

    /// Encodes the list.
    pub fn encode(&self) -> Result<Vec<u8>, ZvtError> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Appends the encoded list to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), ZvtError> {
        self.encode_into_depth(out, 0)
    }

    fn encode_into_depth(&self, out: &mut Vec<u8>, depth: usize) -> Result<(), ZvtError> {
        for tlv in &self.0 {
            tlv.encode_into(out, depth)?;
        }
        Ok(())
    }

    /// The first element with `tag` at this level.
    pub fn get(&self, tag: u16) -> Option<&Tlv> {
        self.0.iter().find(|t| t.tag == Tag(tag))
    }

    /// The raw value of the first primitive element with `tag` at this level.
    pub fn bytes(&self, tag: u16) -> Option<&[u8]> {
        self.get(tag).and_then(Tlv::bytes)
    }

    /// The first element with `tag` at any depth, depth first in order.
    pub fn find(&self, tag: u16) -> Option<&Tlv> {
        for tlv in &self.0 {
            if tlv.tag == Tag(tag) {
                return Some(tlv);
            }
            if let Some(found) = tlv.children().and_then(|c| c.find(tag)) {
                return Some(found);
            }
        }
        None
    }

    /// The raw value of the first primitive element with `tag` at any depth.
    pub fn find_bytes(&self, tag: u16) -> Option<&[u8]> {
        self.find(tag).and_then(Tlv::bytes)
    }

    /// The elements.
    pub fn iter(&self) -> std::slice::Iter<'_, Tlv> {
        self.0.iter()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Appends a TLV length in its shortest form.
pub(crate) fn encode_len(len: usize, out: &mut Vec<u8>) -> Result<(), ZvtError> {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xFFFF => {
            out.push(0x82);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            return Err(ZvtError::ValueTooLong {
                what: "tlv value",
                len,
                max: 0xFFFF,
            });
        }
    }
    Ok(())
}

/// Reads a TLV length at `pos`: (length, bytes used).
pub(crate) fn decode_len(bytes: &[u8], pos: usize) -> Result<(usize, usize), ZvtError> {
    let truncated = |needed| ZvtError::Truncated {
        what: "tlv length",
        needed,
        available: bytes.len().saturating_sub(pos),
    };
    let first = *bytes.get(pos).ok_or_else(|| truncated(1))?;
    match first {
        0x00..=0x7F => Ok((usize::from(first), 1)),
        0x81 => {
            let b = *bytes.get(pos + 1).ok_or_else(|| truncated(2))?;
            Ok((usize::from(b), 2))
        }
        0x82 => match bytes.get(pos + 1..pos + 3) {
            Some(&[hi, lo]) => Ok((usize::from(u16::from_be_bytes([hi, lo])), 3)),
            _ => Err(truncated(3)),
        },
        byte => Err(ZvtError::BadTlvLength { byte, offset: pos }),
    }
}

fn decode_list(bytes: &[u8], depth: usize) -> Result<TlvList, ZvtError> {
    if depth > MAX_DEPTH {
        return Err(ZvtError::TlvTooDeep { max: MAX_DEPTH });
    }
    let mut items = Vec::with_capacity(4);
    let mut pos = 0;
    while pos < bytes.len() {
        let first = bytes[pos];
        let tag = if first & 0x1F == 0x1F {
            let second = *bytes.get(pos + 1).ok_or(ZvtError::Truncated {
                what: "tlv tag",
                needed: 2,
                available: 1,
            })?;
            if second & 0x80 != 0 {
                return Err(ZvtError::LongTag { offset: pos });
            }
            pos += 2;
            Tag(u16::from_be_bytes([first, second]))
        } else {
            pos += 1;
            Tag(u16::from(first))
        };
        let (len, used) = decode_len(bytes, pos)?;
        pos += used;
        let value = bytes.get(pos..pos + len).ok_or(ZvtError::Truncated {
            what: "tlv value",
            needed: len,
            available: bytes.len() - pos,
        })?;
        pos += len;
        let value = if tag.is_constructed() {
            match decode_list(value, depth + 1) {
                Ok(list) => TlvValue::Constructed(list),
                Err(ZvtError::TlvTooDeep { max }) => return Err(ZvtError::TlvTooDeep { max }),
                // Some vendors set the bit on opaque values: keep the bytes as they are.
                Err(_) => TlvValue::Primitive(value.to_vec()),
            }
        } else {
            TlvValue::Primitive(value.to_vec())
        };
        items.push(Tlv { tag, value });
    }
    Ok(TlvList(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_device_info_round_trips() {
        let bytes = [
            0x1F, 0x44, 0x04, 0x52, 0x52, 0x35, 0x35, 0xE4, 0x07, 0x1F, 0x43, 0x01, 0x00, 0x1F,
            0x42, 0x00,
        ];
        let list = TlvList::decode(&bytes).unwrap();
        assert_eq!(list.bytes(0x1F44), Some(&[0x52, 0x52, 0x35, 0x35][..]));
        assert_eq!(list.find_bytes(0x1F43), Some(&[0x00][..]));
        assert_eq!(list.encode().unwrap(), bytes);
    }

    #[test]
    fn long_lengths_and_errors() {
        let mut bytes = vec![0x07, 0x81, 0x80];
        bytes.extend([b'x'; 0x80]);
        let list = TlvList::decode(&bytes).unwrap();
        assert_eq!(list.encode().unwrap(), bytes);
        assert_eq!(
            TlvList::decode(&[0x07, 0x83, 0, 0, 1]),
            Err(ZvtError::BadTlvLength {
                byte: 0x83,
                offset: 1
            })
        );
        assert!(matches!(
            TlvList::decode(&[0x07, 0x05, 1]),
            Err(ZvtError::Truncated { .. })
        ));
        // A constructed tag with non-TLV content stays raw and re-encodes as given.
        let odd = [0x24, 0x02, 0x1F, 0xFF];
        assert_eq!(TlvList::decode(&odd).unwrap().encode().unwrap(), odd);
    }
}
