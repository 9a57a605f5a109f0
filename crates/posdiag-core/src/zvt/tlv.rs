//! ZVT TLV (the content of BMP `06`): 1- or 2-byte tags (a first byte whose low five bits are
//! all set takes a second byte), lengths `00..7F` / `81 xx` / `82 xx xx` (big-endian), and
//! constructed tags (bit `0x20` of the first tag byte, e.g. `E4` device info) parsed
//! recursively. Element order is kept, so decoding then encoding gives the same bytes.
//! [`SmallBytes`], the storage of BMP, TLV and APDU bytes (inline when short), lives here too.

use super::ZvtError;

/// Constructed values deeper than this are an error, so hostile nesting cannot exhaust the stack.
pub const MAX_DEPTH: usize = 16;

/// The bytes of a BMP or TLV value. Values of up to [`SmallBytes::INLINE`] bytes (nearly all
/// that ZVT carries) are stored inline, longer ones in one exact heap allocation, so decoding a
/// packet does not allocate per value. Compares, hashes and dereferences as `[u8]`.
#[derive(Clone)]
pub struct SmallBytes(Repr);

#[derive(Clone)]
enum Repr {
    /// Length (at most `INLINE`) and the bytes; those after the length mean nothing.
    Inline(u8, [u8; SmallBytes::INLINE]),
    Heap(Box<[u8]>),
}

impl SmallBytes {
    /// The most bytes stored without a heap allocation.
    pub const INLINE: usize = 22;

    /// An empty value.
    pub const fn new() -> Self {
        SmallBytes(Repr::Inline(0, [0; SmallBytes::INLINE]))
    }

    /// A copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        let mut value = SmallBytes::new();
        value.set(bytes);
        value
    }

    /// Replaces the content with a copy of `bytes`.
    ///
    /// Decoders push an empty value into its final place and then set it: copying short
    /// values in place, rather than building them on the stack and moving them, avoids
    /// reloading bytes just written in pieces (a store-forwarding stall per value).
    #[inline]
    pub fn set(&mut self, bytes: &[u8]) {
        match (&mut self.0, u8::try_from(bytes.len())) {
            (Repr::Inline(len, buf), Ok(new_len)) if bytes.len() <= SmallBytes::INLINE => {
                copy_inline(buf, bytes);
                *len = new_len;
            }
            (repr, _) => set_slow(repr, bytes),
        }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(len, buf) => buf.get(..usize::from(*len)).unwrap_or(buf),
            Repr::Heap(bytes) => bytes,
        }
    }

    /// The bytes, to change in place.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match &mut self.0 {
            Repr::Inline(len, buf) => {
                let len = usize::from(*len).min(SmallBytes::INLINE);
                &mut buf[..len]
            }
            Repr::Heap(bytes) => bytes,
        }
    }

    /// The bytes as a `Vec`.
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Inline(..) => self.as_slice().to_vec(),
            Repr::Heap(bytes) => bytes.into_vec(),
        }
    }
}

/// [`SmallBytes::set`] for long values and for a value on the heap.
#[cold]
#[inline(never)]
fn set_slow(repr: &mut Repr, bytes: &[u8]) {
    *repr = match u8::try_from(bytes.len()) {
        Ok(len) if bytes.len() <= SmallBytes::INLINE => {
            let mut buf = [0; SmallBytes::INLINE];
            copy_inline(&mut buf, bytes);
            Repr::Inline(len, buf)
        }
        _ => Repr::Heap(bytes.into()),
    };
}

/// Copies `bytes` (at most [`SmallBytes::INLINE`] of them) to the start of `buf` with two
/// overlapping fixed-size moves instead of a `memcpy` call: most values are a few bytes long.
#[inline]
fn copy_inline(buf: &mut [u8; SmallBytes::INLINE], bytes: &[u8]) {
    fn copy_at<const N: usize>(buf: &mut [u8], bytes: &[u8], at: usize) {
        let dst: Option<&mut [u8; N]> = buf.get_mut(at..at + N).and_then(|d| d.try_into().ok());
        let src: Option<&[u8; N]> = bytes.get(at..at + N).and_then(|s| s.try_into().ok());
        if let (Some(dst), Some(src)) = (dst, src) {
            *dst = *src;
        }
    }
    fn head_tail<const N: usize>(buf: &mut [u8], bytes: &[u8]) {
        copy_at::<N>(buf, bytes, 0);
        copy_at::<N>(buf, bytes, bytes.len().saturating_sub(N));
    }
    match bytes.len() {
        0 => {}
        1..=3 => {
            for (dst, src) in buf.iter_mut().zip(bytes) {
                *dst = *src;
            }
        }
        4..=8 => head_tail::<4>(buf, bytes),
        9..=16 => head_tail::<8>(buf, bytes),
        _ => head_tail::<16>(buf, bytes),
    }
}

impl Default for SmallBytes {
    fn default() -> Self {
        SmallBytes::new()
    }
}

impl std::ops::Deref for SmallBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::ops::DerefMut for SmallBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

impl AsRef<[u8]> for SmallBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::borrow::Borrow<[u8]> for SmallBytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

// Values may be card data: Debug shows the length only; `Bmp` and `Tlv` show content (masked
// where needed).
impl std::fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmallBytes({} bytes)", self.len())
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SmallBytes {}

impl PartialEq<[u8]> for SmallBytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<Vec<u8>> for SmallBytes {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl PartialOrd for SmallBytes {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SmallBytes {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl std::hash::Hash for SmallBytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl From<&[u8]> for SmallBytes {
    fn from(bytes: &[u8]) -> Self {
        SmallBytes::from_slice(bytes)
    }
}

impl<const N: usize> From<[u8; N]> for SmallBytes {
    fn from(bytes: [u8; N]) -> Self {
        SmallBytes::from_slice(&bytes)
    }
}

impl<const N: usize> From<&[u8; N]> for SmallBytes {
    fn from(bytes: &[u8; N]) -> Self {
        SmallBytes::from_slice(bytes)
    }
}

impl From<Vec<u8>> for SmallBytes {
    fn from(bytes: Vec<u8>) -> Self {
        if bytes.len() <= SmallBytes::INLINE {
            SmallBytes::from_slice(&bytes)
        } else {
            SmallBytes(Repr::Heap(bytes.into_boxed_slice()))
        }
    }
}

impl From<SmallBytes> for Vec<u8> {
    fn from(bytes: SmallBytes) -> Self {
        bytes.into_vec()
    }
}

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
    Primitive(SmallBytes),
    /// Nested elements of a constructed tag.
    Constructed(TlvList),
}

impl std::fmt::Debug for TlvValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlvValue::Primitive(bytes) => {
                for b in bytes.iter() {
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
            value: TlvValue::Primitive(SmallBytes::from(value.into())),
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

/// How many elements `bytes` splits into at its top level, stopping at the first one that is
/// malformed: the capacity to reserve, so a list is allocated once.
fn count_elements(bytes: &[u8]) -> usize {
    let mut count = 0;
    let mut pos = 0;
    while pos < bytes.len() {
        pos += if bytes[pos] & 0x1F == 0x1F { 2 } else { 1 };
        let Ok((len, used)) = decode_len(bytes, pos) else {
            break;
        };
        pos += used + len;
        count += 1;
    }
    count
}

/// The element [`decode_list`] pushes before filling it in.
const EMPTY_PRIMITIVE: Tlv = Tlv {
    tag: Tag(0),
    value: TlvValue::Primitive(SmallBytes::new()),
};

fn decode_list(bytes: &[u8], depth: usize) -> Result<TlvList, ZvtError> {
    if depth > MAX_DEPTH {
        return Err(ZvtError::TlvTooDeep { max: MAX_DEPTH });
    }
    let mut items = Vec::with_capacity(count_elements(bytes));
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
        if tag.is_constructed() {
            match decode_list(value, depth + 1) {
                Ok(list) => {
                    items.push(Tlv {
                        tag,
                        value: TlvValue::Constructed(list),
                    });
                    continue;
                }
                Err(ZvtError::TlvTooDeep { max }) => return Err(ZvtError::TlvTooDeep { max }),
                // Some vendors set the bit on opaque values: keep the bytes as they are.
                Err(_) => {}
            }
        }
        // Pushed as a constant and filled in place: building the element on the stack and
        // moving it reloads bytes just written in pieces (a store-forwarding stall).
        items.push(EMPTY_PRIMITIVE);
        if let Some(Tlv {
            tag: slot,
            value: TlvValue::Primitive(bytes),
        }) = items.last_mut()
        {
            *slot = tag;
            bytes.set(value);
        }
    }
    Ok(TlvList(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bytes_hold_any_length_and_compare_by_content() {
        let long: Vec<u8> = (0..=255).collect();
        for len in 0..=SmallBytes::INLINE + 2 {
            let src = &long[..len];
            let value = SmallBytes::from_slice(src);
            assert_eq!(&*value, src, "{len}");
            assert_eq!(SmallBytes::from(src.to_vec()), value);
            assert_eq!(value.clone().into_vec(), src);
            // Setting over a heap value, or over a longer inline one, leaves only the new bytes.
            let mut reused = SmallBytes::from_slice(&long[100..130]);
            reused.set(src);
            assert_eq!(reused, value);
            let mut shrunk = SmallBytes::from_slice(&long[200..220]);
            shrunk.set(src);
            assert_eq!(shrunk.as_slice(), src);
        }
        let mut value = SmallBytes::from_slice(&[1, 2, 3]);
        value[1] = 9;
        assert_eq!(value, [1, 9, 3].to_vec());
        assert_eq!(format!("{value:?}"), "SmallBytes(3 bytes)");
        assert!(SmallBytes::new().is_empty());
    }

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
