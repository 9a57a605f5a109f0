//! BER-TLV as EMV uses it (EMV Book 3 Annex B, ISO/IEC 8825-1): tags of one
//! to four bytes, definite lengths of one to four bytes, constructed
//! templates nested to a bounded depth, `00`/`FF` padding between objects,
//! and data object lists (PDOL, CDOL1, …: tags and lengths without values).
//!
//! Parsing borrows the input: a [`Tlv`] holds slices of it, so walking a
//! blob allocates only the list of objects. Every error names the byte
//! offset where the input stopped making sense.

use std::fmt;

/// Deepest nesting of constructed templates accepted (EMV responses nest
/// three or four deep: `6F` › `A5` › `BF0C` › `61`).
pub const MAX_DEPTH: usize = 8;

/// Most bytes a length field may say (no EMV object comes near 16 MiB).
pub const MAX_LENGTH: usize = 0x00FF_FFFF;

/// A BER-TLV tag, its bytes packed big-endian (`9F33` is `0x9F33`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u32);

impl Tag {
    /// Whether the tag's first byte marks a constructed object (bit 6).
    pub fn is_constructed(self) -> bool {
        self.first_byte() & 0x20 != 0
    }

    fn first_byte(self) -> u8 {
        let mut v = self.0;
        while v > 0xFF {
            v >>= 8;
        }
        v as u8
    }

    /// Parses a tag written in hex (`9F33`, `0x9f33`).
    pub fn from_hex(s: &str) -> Option<Tag> {
        let s = s.trim();
        let s = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        if s.is_empty() || s.len() > 8 || !s.len().is_multiple_of(2) {
            return None;
        }
        u32::from_str_radix(s, 16).ok().map(Tag)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 > 0xFF_FFFF {
            write!(f, "{:08X}", self.0)
        } else if self.0 > 0xFFFF {
            write!(f, "{:06X}", self.0)
        } else if self.0 > 0xFF {
            write!(f, "{:04X}", self.0)
        } else {
            write!(f, "{:02X}", self.0)
        }
    }
}

/// Why bytes are not BER-TLV. Offsets count from the start of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlvError {
    /// The input ended inside a tag.
    #[error("byte {offset}: the tag is cut off (the input ends inside it)")]
    TagTruncated {
        /// Where the tag starts.
        offset: usize,
    },
    /// A tag runs over four bytes.
    #[error("byte {offset}: the tag is longer than 4 bytes")]
    TagTooLong {
        /// Where the tag starts.
        offset: usize,
    },
    /// The input ended inside a length field.
    #[error("byte {offset}: the length is cut off (the input ends inside it)")]
    LengthTruncated {
        /// Where the length starts.
        offset: usize,
    },
    /// A length form BER allows but EMV does not (indefinite `80`, or more
    /// than three length bytes).
    #[error("byte {offset}: length byte {byte:02X} is not a definite length of at most 3 bytes")]
    LengthForm {
        /// Where the length starts.
        offset: usize,
        /// The first length byte.
        byte: u8,
    },
    /// The value runs past the end of the input or of its template.
    #[error("byte {offset}: tag {tag} says {length} bytes but only {available} follow")]
    ValueOverrun {
        /// Where the object starts.
        offset: usize,
        /// The object's tag.
        tag: Tag,
        /// The length it declares.
        length: usize,
        /// The bytes actually left.
        available: usize,
    },
    /// Templates nested deeper than [`MAX_DEPTH`].
    #[error("byte {offset}: templates nested more than {MAX_DEPTH} deep")]
    TooDeep {
        /// Where the too-deep object starts.
        offset: usize,
    },
    /// A DOL entry's length is missing.
    #[error("byte {offset}: the data object list ends inside an entry")]
    DolTruncated {
        /// Where the entry starts.
        offset: usize,
    },
}

impl TlvError {
    /// The byte offset the error is about.
    pub fn offset(&self) -> usize {
        match self {
            TlvError::TagTruncated { offset }
            | TlvError::TagTooLong { offset }
            | TlvError::LengthTruncated { offset }
            | TlvError::LengthForm { offset, .. }
            | TlvError::ValueOverrun { offset, .. }
            | TlvError::TooDeep { offset }
            | TlvError::DolTruncated { offset } => *offset,
        }
    }
}

/// One data object of a [`Tree`], borrowing its value from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag.
    pub tag: Tag,
    /// Where the object's tag starts in the whole input.
    pub offset: usize,
    /// The value bytes.
    pub value: &'a [u8],
    /// How many templates it is inside (0 at the top).
    pub depth: usize,
    /// The index in the tree just past this object's descendants.
    end: usize,
}

/// A parsed blob: every object in input order, templates opened, depth
/// first, in one flat list (a template's descendants follow it), so
/// parsing costs one allocation whatever the nesting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tree<'a> {
    nodes: Vec<Tlv<'a>>,
}

impl<'a> Tree<'a> {
    /// Every object, depth first (a template before what it holds).
    pub fn all(&self) -> &[Tlv<'a>] {
        &self.nodes
    }

    /// The top-level objects with their indices.
    pub fn roots(&self) -> Children<'_, 'a> {
        Children {
            nodes: &self.nodes,
            next: 0,
            end: self.nodes.len(),
        }
    }

    /// The objects directly inside object `index` (none for a primitive).
    pub fn children(&self, index: usize) -> Children<'_, 'a> {
        let end = self.nodes.get(index).map_or(index, |n| n.end);
        Children {
            nodes: &self.nodes,
            next: index + 1,
            end,
        }
    }

    /// The number of objects, nested ones included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the blob held no object (empty or padding only).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// The objects directly inside a template (or at the top), with their
/// indices in the [`Tree`].
#[derive(Debug, Clone)]
pub struct Children<'t, 'a> {
    nodes: &'t [Tlv<'a>],
    next: usize,
    end: usize,
}

impl<'t, 'a> Iterator for Children<'t, 'a> {
    type Item = (usize, &'t Tlv<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let i = self.next;
        let n = self.nodes.get(i)?;
        self.next = n.end.max(i + 1);
        Some((i, n))
    }
}

/// What a walk over a blob tells its consumer: an object opens (its value
/// borrowed from the input) and, after everything inside it, closes. The
/// tree, the flat visit and the decoder are consumers of the one parser.
pub(crate) trait Sink<'a> {
    /// An object at `offset` with `value`; returns a handle for [`Sink::close`].
    fn open(&mut self, tag: Tag, offset: usize, value: &'a [u8], depth: usize) -> usize;
    /// Everything inside the object of `handle` has been seen.
    fn close(&mut self, handle: usize);
}

impl<'a> Sink<'a> for Tree<'a> {
    fn open(&mut self, tag: Tag, offset: usize, value: &'a [u8], depth: usize) -> usize {
        self.nodes.push(Tlv {
            tag,
            offset,
            value,
            depth,
            end: 0,
        });
        self.nodes.len() - 1
    }

    fn close(&mut self, handle: usize) {
        let end = self.nodes.len();
        if let Some(n) = self.nodes.get_mut(handle) {
            n.end = end;
        }
    }
}

/// Reads a tag at `pos`; returns it and the position after it.
fn read_tag(data: &[u8], pos: usize) -> Result<(Tag, usize), TlvError> {
    let first = *data
        .get(pos)
        .ok_or(TlvError::TagTruncated { offset: pos })?;
    let mut tag = u32::from(first);
    let mut p = pos + 1;
    if first & 0x1F == 0x1F {
        loop {
            let b = *data.get(p).ok_or(TlvError::TagTruncated { offset: pos })?;
            if p - pos >= 4 {
                return Err(TlvError::TagTooLong { offset: pos });
            }
            tag = (tag << 8) | u32::from(b);
            p += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    Ok((Tag(tag), p))
}

/// Reads a definite length at `pos`; returns it and the position after it.
fn read_length(data: &[u8], pos: usize) -> Result<(usize, usize), TlvError> {
    let first = *data
        .get(pos)
        .ok_or(TlvError::LengthTruncated { offset: pos })?;
    if first & 0x80 == 0 {
        return Ok((usize::from(first), pos + 1));
    }
    let n = usize::from(first & 0x7F);
    if n == 0 || n > 3 {
        return Err(TlvError::LengthForm {
            offset: pos,
            byte: first,
        });
    }
    let bytes = data
        .get(pos + 1..pos + 1 + n)
        .ok_or(TlvError::LengthTruncated { offset: pos })?;
    let len = bytes
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    Ok((len, pos + 1 + n))
}

/// The one parser: walks `data[pos..end]` at `depth`, telling `sink`.
pub(crate) fn walk<'a, S: Sink<'a>>(
    data: &'a [u8],
    mut pos: usize,
    end: usize,
    depth: usize,
    sink: &mut S,
) -> Result<(), TlvError> {
    let region = data.get(..end).unwrap_or(data);
    while pos < region.len() {
        let first = region[pos];
        // Padding between objects (EMV Book 3, Annex B): 00 and FF.
        if first == 0x00 || first == 0xFF {
            pos += 1;
            continue;
        }
        let start = pos;
        // The common case, a one- or two-byte tag with a short length,
        // read without the general readers' checks per byte.
        let short = if first & 0x1F != 0x1F {
            match region.get(pos + 1) {
                Some(&l) if l < 0x80 => Some((Tag(u32::from(first)), pos + 2, usize::from(l))),
                _ => None,
            }
        } else {
            match region.get(pos + 1..pos + 3) {
                Some(&[t2, l]) if t2 < 0x80 && l < 0x80 => Some((
                    Tag(u32::from(first) << 8 | u32::from(t2)),
                    pos + 3,
                    usize::from(l),
                )),
                _ => None,
            }
        };
        let (tag, v, len) = match short {
            Some(h) => h,
            None => {
                let (tag, p) = read_tag(region, pos)?;
                let (len, v) = read_length(region, p)?;
                (tag, v, len)
            }
        };
        let available = region.len() - v;
        if len > available {
            return Err(TlvError::ValueOverrun {
                offset: start,
                tag,
                length: len,
                available,
            });
        }
        let value = &region[v..v + len];
        let handle = sink.open(tag, start, value, depth);
        if first & 0x20 != 0 {
            if depth >= MAX_DEPTH {
                return Err(TlvError::TooDeep { offset: start });
            }
            walk(region, v, v + len, depth + 1, sink)?;
        }
        sink.close(handle);
        pos = v + len;
    }
    Ok(())
}

/// Parses a whole BER-TLV blob (field 55, a terminal's log, a card's
/// response) into its objects, templates opened.
pub fn parse(data: &[u8]) -> Result<Tree<'_>, TlvError> {
    // Most objects of a blob take 3 to 8 bytes: one allocation is enough
    // for field 55, and a long log grows the list a few times.
    let mut tree = Tree {
        nodes: Vec::with_capacity((data.len() / 4 + 1).min(256)),
    };
    walk(data, 0, data.len(), 0, &mut tree)?;
    Ok(tree)
}

struct Visit<'f, F>(&'f mut F);

impl<'a, F: FnMut(Tag, usize, &[u8])> Sink<'a> for Visit<'_, F> {
    fn open(&mut self, tag: Tag, offset: usize, value: &'a [u8], _depth: usize) -> usize {
        (self.0)(tag, offset, value);
        0
    }

    fn close(&mut self, _handle: usize) {}
}

/// Calls `f` for every object in `data` (templates opened, depth first)
/// without building a tree. Stops at the first error.
pub fn visit<F: FnMut(Tag, usize, &[u8])>(data: &[u8], f: &mut F) -> Result<(), TlvError> {
    walk(data, 0, data.len(), 0, &mut Visit(f))
}

/// One entry of a data object list: a tag and the length the card asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DolEntry {
    /// The tag asked for.
    pub tag: Tag,
    /// The number of bytes asked for.
    pub length: usize,
}

/// Parses a data object list (PDOL `9F38`, CDOL1 `8C`, CDOL2 `8D`, TDOL
/// `97`, DDOL `9F49`): tags and lengths without values.
pub fn parse_dol(data: &[u8]) -> Result<Vec<DolEntry>, TlvError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let (tag, p) = read_tag(data, pos)?;
        let (length, next) =
            read_length(data, p).map_err(|_| TlvError::DolTruncated { offset: pos })?;
        out.push(DolEntry { tag, length });
        pos = next;
    }
    Ok(out)
}

/// Why a hex string is not bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HexError {
    /// A character that is not a hex digit (spaces, `:` and `-` are allowed between bytes).
    #[error("character {position} is not a hex digit")]
    NotHex {
        /// 0-based position of the character.
        position: usize,
    },
    /// An odd number of hex digits.
    #[error("{digits} hex digits: bytes need an even number")]
    Odd {
        /// How many digits there were.
        digits: usize,
    },
    /// Nothing to decode.
    #[error("no hex digits")]
    Empty,
    /// More than the limit.
    #[error("more than {limit} bytes")]
    TooLong {
        /// The limit in bytes.
        limit: usize,
    },
}

/// Most bytes [`from_hex`] accepts (a terminal log pasted whole fits).
pub const MAX_HEX_BYTES: usize = 1 << 20;

/// Decodes hex as people paste it: upper or lower case, an optional `0x`,
/// spaces, tabs, newlines, `:` or `-` between digits.
pub fn from_hex(s: &str) -> Result<Vec<u8>, HexError> {
    let s = s.trim();
    let body = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let skip = s.len() - body.len();
    let mut out = Vec::with_capacity(body.len().min(MAX_HEX_BYTES * 2) / 2);
    let mut hi: Option<u8> = None;
    let mut digits = 0usize;
    for (i, c) in body.char_indices() {
        let v = match c {
            '0'..='9' => c as u8 - b'0',
            'a'..='f' => c as u8 - b'a' + 10,
            'A'..='F' => c as u8 - b'A' + 10,
            ' ' | '\t' | '\n' | '\r' | ':' | '-' => continue,
            _ => {
                return Err(HexError::NotHex {
                    position: s[..skip + i].chars().count(),
                });
            }
        };
        digits += 1;
        match hi.take() {
            None => hi = Some(v),
            Some(h) => {
                if out.len() >= MAX_HEX_BYTES {
                    return Err(HexError::TooLong {
                        limit: MAX_HEX_BYTES,
                    });
                }
                out.push(h << 4 | v);
            }
        }
    }
    if digits == 0 {
        return Err(HexError::Empty);
    }
    if hi.is_some() {
        return Err(HexError::Odd { digits });
    }
    Ok(out)
}

/// Bytes as upper-case hex without separators.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xF)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        from_hex(s).unwrap()
    }

    #[test]
    fn multi_byte_tags_and_lengths() {
        let data = h("9F3303E0F0C8 5F2A020978 9F1081 03 010203");
        let tree = parse(&data).unwrap();
        let objs = tree.all();
        assert_eq!(objs.len(), 3);
        assert_eq!(tree.roots().count(), 3);
        assert_eq!(objs[0].tag, Tag(0x9F33));
        assert_eq!(objs[0].value, &[0xE0, 0xF0, 0xC8]);
        assert_eq!(objs[1].tag.to_string(), "5F2A");
        assert_eq!(objs[2].value.len(), 3);
        assert_eq!(objs[2].offset, 11);
    }

    #[test]
    fn templates_open_and_padding_is_skipped() {
        let data = h("6F 0E 84 02 A000 A5 08 50 02 4142 BF0C 01 00 00FF");
        let tree = parse(&data).unwrap();
        assert_eq!(tree.roots().count(), 1);
        let tags: Vec<String> = tree.all().iter().map(|t| t.tag.to_string()).collect();
        assert_eq!(tags, ["6F", "84", "A5", "50", "BF0C"]);
        let depths: Vec<usize> = tree.all().iter().map(|t| t.depth).collect();
        assert_eq!(depths, [0, 1, 1, 2, 2]);
        let inside_6f: Vec<usize> = tree.children(0).map(|(i, _)| i).collect();
        assert_eq!(inside_6f, [1, 2]);
        let inside_a5: Vec<String> = tree.children(2).map(|(_, t)| t.tag.to_string()).collect();
        assert_eq!(inside_a5, ["50", "BF0C"]);
        assert_eq!(tree.children(1).count(), 0);
    }

    #[test]
    fn malformed_input_names_the_offset() {
        assert_eq!(
            parse(&h("9F")).unwrap_err(),
            TlvError::TagTruncated { offset: 0 }
        );
        assert_eq!(
            parse(&h("9F8181818101")).unwrap_err(),
            TlvError::TagTooLong { offset: 0 }
        );
        assert_eq!(
            parse(&h("5A")).unwrap_err(),
            TlvError::LengthTruncated { offset: 1 }
        );
        assert_eq!(
            parse(&h("5A80")).unwrap_err(),
            TlvError::LengthForm {
                offset: 1,
                byte: 0x80
            }
        );
        let e = parse(&h("95 05 0000")).unwrap_err();
        assert_eq!(e.offset(), 0);
        assert_eq!(
            e.to_string(),
            "byte 0: tag 95 says 5 bytes but only 2 follow"
        );
        // A child running past its template's end is caught at the child.
        let e = parse(&h("70 03 95 05 00")).unwrap_err();
        assert_eq!(e.offset(), 2);
        // A huge declared length allocates nothing.
        assert!(matches!(
            parse(&h("5A83FFFFFF00")).unwrap_err(),
            TlvError::ValueOverrun { .. }
        ));
    }

    #[test]
    fn nesting_is_bounded() {
        let mut data = Vec::new();
        for i in 0..20 {
            data.push(0x70);
            data.push((2 * (20 - i - 1)) as u8);
        }
        assert!(matches!(parse(&data), Err(TlvError::TooDeep { .. })));
    }

    #[test]
    fn dols() {
        let dol = parse_dol(&h("9F6604 9F0206 9F3704 5F2A02")).unwrap();
        assert_eq!(dol.len(), 4);
        assert_eq!(
            dol[1],
            DolEntry {
                tag: Tag(0x9F02),
                length: 6
            }
        );
        assert_eq!(
            parse_dol(&h("9F66")).unwrap_err(),
            TlvError::DolTruncated { offset: 0 }
        );
    }

    #[test]
    fn hex_as_people_paste_it() {
        assert_eq!(from_hex("0x9f 33:e0-F0").unwrap(), [0x9F, 0x33, 0xE0, 0xF0]);
        assert_eq!(from_hex("9F3G"), Err(HexError::NotHex { position: 3 }));
        assert_eq!(from_hex("9F3"), Err(HexError::Odd { digits: 3 }));
        assert_eq!(from_hex("  "), Err(HexError::Empty));
        assert_eq!(to_hex(&[0x9F, 0x03]), "9F03");
        assert_eq!(Tag::from_hex("9f33"), Some(Tag(0x9F33)));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = parse(&bytes);
            let _ = parse_dol(&bytes);
            let mut n = 0;
            let _ = visit(&bytes, &mut |_, _, _| n += 1);
        }
    }
}
