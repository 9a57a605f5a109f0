//! From bytes to readings in two steps. [`decode`] builds a [`Reading`]:
//! the objects of a TLV blob, borrowing it, each with the facts of the
//! fields posdiag knows (TVR, TSI, CVM results, …) as references to rows of
//! the built-in tables, and the set of rows found — no text, no hex, no
//! copy. [`Reading::to_decoded`] then renders it for people: every object
//! named, its value shown (card data masked), each fact an [`Item`] in
//! both languages. Receipt values typed by a person (`--tvr 8000048000`)
//! go through the same path as the same tags in a blob.

use std::borrow::Cow;

use posdiag_core::{Text, mask_card_numbers};

use crate::tables::{BitTable, CodeTable, Format, KeySet, Kind, Meaning, Severity, Tables, tables};
use crate::tlv::{self, HexError, Tag, TlvError, to_hex};

/// One decoded fact: a set bit, the value of a group of bits, a code. It
/// reads as the table row's [`Meaning`] (`item.key`, `item.name`, …),
/// borrowed from the built-in tables, so decoding copies no texts.
#[derive(Debug, Clone, PartialEq)]
pub struct Item(pub Cow<'static, Meaning>);

impl std::ops::Deref for Item {
    type Target = Meaning;

    fn deref(&self) -> &Meaning {
        &self.0
    }
}

impl From<&'static Meaning> for Item {
    fn from(m: &'static Meaning) -> Item {
        Item(Cow::Borrowed(m))
    }
}

impl Item {
    /// An item made at decode time (a wrong length, an issuer's code).
    fn owned(key: &str, name: Text, severity: Severity, spec: &str) -> Item {
        Item(Cow::Owned(Meaning {
            key: key.to_owned(),
            id: Meaning::NO_ID,
            name,
            severity,
            actor: None,
            spec: spec.to_owned(),
        }))
    }
}

/// One data object, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// The tag.
    pub tag: Tag,
    /// Its name, when posdiag knows the tag.
    pub name: Option<&'static Text>,
    /// Where it starts in the input (`None` for values typed from a receipt).
    pub offset: Option<usize>,
    /// The value's length in bytes.
    pub length: usize,
    /// The value as shown: card data masked, text as text, BCD as digits.
    pub value: Text,
    /// The raw value in hex, except for card data (empty).
    pub raw: String,
    /// What the value means, for the fields posdiag decodes.
    pub items: Vec<Item>,
    /// The objects inside a template.
    pub children: Vec<Element>,
}

impl Element {
    /// This element and every one inside it, depth first.
    pub fn walk(&self) -> Vec<&Element> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.walk());
        }
        out
    }
}

/// A decoded blob or receipt.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decoded {
    /// The top-level objects in input order.
    pub elements: Vec<Element>,
}

impl Decoded {
    /// Every element, templates opened.
    pub fn all(&self) -> Vec<&Element> {
        self.elements.iter().flat_map(Element::walk).collect()
    }

    /// Every item of every element.
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.all().into_iter().flat_map(|e| e.items.iter())
    }

    /// Whether an item with `key` was decoded.
    pub fn has(&self, key: &str) -> bool {
        self.items().any(|i| i.key == key)
    }

    /// The first element with `tag`.
    pub fn find(&self, tag: Tag) -> Option<&Element> {
        self.all().into_iter().find(|e| e.tag == tag)
    }
}

/// Input that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmvError {
    /// Hex that is not hex.
    #[error("{field}: {source}")]
    Hex {
        /// Which input (`tlv`, `tvr`, …).
        field: &'static str,
        /// What is wrong.
        source: HexError,
    },
    /// A field of the wrong length.
    #[error("{field}: expected {expected} bytes, got {got}")]
    Length {
        /// Which input.
        field: &'static str,
        /// Bytes expected.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// A value that is not what the field holds.
    #[error("{field}: {value} is not {expected}")]
    Value {
        /// Which input.
        field: &'static str,
        /// The value, quoted.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// Bytes that are not BER-TLV.
    #[error("tlv: {0}")]
    Tlv(#[from] TlvError),
    /// Nothing to decode.
    #[error("nothing to decode: give a TLV blob or at least one receipt value")]
    Nothing,
    /// More bytes than any EMV data holds (over 4 GiB).
    #[error("{bytes} bytes: more than 4 GiB, no EMV data is that long")]
    TooLong {
        /// How many bytes were given.
        bytes: usize,
    },
}

impl EmvError {
    /// The message in both languages.
    pub fn text(&self) -> Text {
        match self {
            EmvError::Hex { field, source } => {
                let zh = match source {
                    HexError::NotHex { position } => {
                        format!("第 {position} 个字符不是十六进制数字")
                    }
                    HexError::Odd { digits } => format!("{digits} 个十六进制数字：字节需要偶数个"),
                    HexError::Empty => "没有十六进制数字".to_owned(),
                    HexError::TooLong { limit } => format!("超过 {limit} 字节"),
                };
                Text::new(self.to_string(), format!("{field}：{zh}"))
            }
            EmvError::Length {
                field,
                expected,
                got,
            } => Text::new(
                self.to_string(),
                format!("{field}：应为 {expected} 字节，实际 {got} 字节"),
            ),
            EmvError::Value {
                field,
                value,
                expected,
            } => Text::new(
                self.to_string(),
                format!("{field}：{value} 不是{}", expected_zh(expected)),
            ),
            EmvError::Tlv(e) => Text::new(self.to_string(), format!("TLV：{}", tlv_zh(e))),
            EmvError::Nothing => Text::new(
                self.to_string(),
                "没有可解码的内容：请提供 TLV 数据或至少一个小票上的值",
            ),
            EmvError::TooLong { bytes } => Text::new(
                self.to_string(),
                format!("{bytes} 字节：超过 4 GiB，没有这么长的 EMV 数据"),
            ),
        }
    }
}

fn expected_zh(expected: &str) -> &'static str {
    match expected {
        EXPECT_ARC => "两个字符的授权响应码（如 Z3、00）",
        EXPECT_ENTRY => "2 或 3 位数字的 POS 输入方式（如 051、801）",
        EXPECT_SERVICE => "3 位数字的服务代码（如 201）",
        _ => "有效值",
    }
}

fn tlv_zh(e: &TlvError) -> String {
    match e {
        TlvError::TagTruncated { offset } => format!("第 {offset} 字节：标签被截断"),
        TlvError::TagTooLong { offset } => format!("第 {offset} 字节：标签超过 4 字节"),
        TlvError::LengthTruncated { offset } => format!("第 {offset} 字节：长度被截断"),
        TlvError::LengthForm { offset, byte } => {
            format!("第 {offset} 字节：长度字节 {byte:02X} 不是最多 3 字节的确定长度")
        }
        TlvError::ValueOverrun {
            offset,
            tag,
            length,
            available,
        } => format!("第 {offset} 字节：标签 {tag} 声明 {length} 字节，但只剩 {available} 字节"),
        TlvError::TooDeep { offset } => {
            format!("第 {offset} 字节：模板嵌套超过 {} 层", tlv::MAX_DEPTH)
        }
        TlvError::DolTruncated { offset } => {
            format!("第 {offset} 字节：数据对象列表在条目中间结束")
        }
    }
}

const EXPECT_ARC: &str = "a two-character authorisation response code such as Z3 or 00";
const EXPECT_ENTRY: &str = "a POS entry mode of 2 or 3 digits such as 051 or 801";
const EXPECT_SERVICE: &str = "a service code of 3 digits such as 201";

/// What a receipt or a terminal's log prints, as a person types it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    /// TVR, 5 bytes hex.
    pub tvr: Option<String>,
    /// TSI, 2 bytes hex.
    pub tsi: Option<String>,
    /// CVM results, 3 bytes hex.
    pub cvm: Option<String>,
    /// Authorisation response code: two characters (`Z3`) or 4 hex digits (`5A33`).
    pub arc: Option<String>,
    /// POS entry mode: ISO 8583 field 22 (3 digits) or tag 9F39 (2 digits).
    pub entry_mode: Option<String>,
    /// Service code, 3 digits.
    pub service_code: Option<String>,
    /// Terminal capabilities (9F33), 3 bytes hex.
    pub term_caps: Option<String>,
    /// Additional terminal capabilities (9F40), 5 bytes hex.
    pub addl_term_caps: Option<String>,
    /// AIP (82), 2 bytes hex.
    pub aip: Option<String>,
    /// Terminal type (9F35), 1 byte.
    pub terminal_type: Option<String>,
    /// Cryptogram information data (9F27), 1 byte hex.
    pub cid: Option<String>,
}

impl Receipt {
    /// Whether no value is given.
    pub fn is_empty(&self) -> bool {
        *self == Receipt::default()
    }
}

/// Walks a blob and calls `f` with the meaning of every set bit and code of
/// the fields posdiag decodes, without building anything: what a terminal's
/// log scan needs at line rate.
pub fn scan<F: FnMut(Tag, &Meaning)>(data: &[u8], f: &mut F) -> Result<(), EmvError> {
    let t = tables();
    tlv::visit(data, &mut |tag, _, value| {
        facts_of(t, tag, value, &mut |fact| {
            if let Fact::Row(m) = fact {
                f(tag, m);
            }
        })
    })?;
    Ok(())
}

/// One decoded fact, pointing into the built-in tables: nothing is copied
/// or put into words until a person or the API asks ([`Reading::item`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fact {
    /// A row of a bit or code table matched.
    Row(&'static Meaning),
    /// The value is not the length the field's table expects (it is read
    /// as far as it goes).
    BadLength(&'static BitTable),
    /// An authorisation response code the tables do not know: the
    /// issuer's or acquirer's own (`posdiag explain` knows them).
    OtherArc,
}

impl Fact {
    /// The stable key (`tvr.expired_application`, `tvr.bad_length`, `arc.other`).
    pub fn key(&self) -> &'static str {
        match self {
            Fact::Row(m) => &m.key,
            Fact::BadLength(t) => &t.bad_length_key,
            Fact::OtherArc => "arc.other",
        }
    }
}

/// Where an object's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A TLV blob, the object starting at this byte.
    Tlv(usize),
    /// A receipt's value typed in hex (or an ARC's characters).
    Typed,
    /// A receipt's digits as typed (entry mode, service code).
    Digits,
}

/// One object of a [`Reading`]: its tag, where its value lies and which
/// facts it holds; its name and shown value are looked up or built only
/// when rendered.
///
/// 28 bytes: offsets are `u32` ([`decode`] refuses input over 4 GiB), so a
/// field 55 blob's objects fit in a few cache lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// The tag.
    pub tag: Tag,
    offset: u32,
    at: u32,
    value_at: u32,
    value_len: u32,
    end: u32,
    depth: u8,
    from: u8,
}

const FROM_TLV: u8 = 0;
const FROM_TYPED: u8 = 1;
const FROM_DIGITS: u8 = 2;

impl Node {
    /// Where it came from.
    pub fn origin(&self) -> Origin {
        match self.from {
            FROM_TLV => Origin::Tlv(self.offset as usize),
            FROM_TYPED => Origin::Typed,
            _ => Origin::Digits,
        }
    }

    /// How many templates it is inside.
    pub fn depth(&self) -> usize {
        usize::from(self.depth)
    }
}

/// A decoded blob or receipt, structured and borrowing its input: objects
/// and the set of table keys found (one bit each), for the explanation
/// rules. Decoding a blob costs one allocation (the objects); an object's
/// facts (rows of the built-in tables) are found again from its value when
/// asked for ([`Reading::each_fact`]), and texts, masked values and hex
/// are made only by [`Reading::to_decoded`] and [`Reading::item`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reading<'a> {
    input: &'a [u8],
    typed: Vec<u8>,
    nodes: Vec<Node>,
    keys: KeySet,
    fields: u32,
}

struct Builder<'r, 'a> {
    tables: &'static Tables,
    base: usize,
    reading: &'r mut Reading<'a>,
}

impl<'a> tlv::Sink<'a> for Builder<'_, 'a> {
    fn open(&mut self, tag: Tag, offset: usize, value: &'a [u8], depth: usize) -> usize {
        let r = &mut *self.reading;
        mark(self.tables, tag, value, &mut r.keys, &mut r.fields);
        // Offsets fit in u32: `decode` refuses longer input.
        let at = (value.as_ptr() as usize - self.base) as u32;
        let index = r.nodes.len();
        r.nodes.push(Node {
            tag,
            offset: offset as u32,
            at: index as u32,
            value_at: at,
            value_len: value.len() as u32,
            end: 0,
            depth: depth as u8,
            from: FROM_TLV,
        });
        index
    }

    fn close(&mut self, handle: usize) {
        let end = self.reading.nodes.len() as u32;
        if let Some(n) = self.reading.nodes.get_mut(handle) {
            n.end = end;
        }
    }
}

/// Marks the keys and the field of one object: what decoding keeps of
/// its facts (they are found again, from the value, when rendered).
#[inline]
fn mark(t: &'static Tables, tag: Tag, value: &[u8], keys: &mut KeySet, fields: &mut u32) {
    match t.kind(tag) {
        Some(Kind::Bits(i)) => {
            if let Some(table) = t.bits.get(i) {
                *fields |= 1 << table.field;
                table.mark(value, keys);
            }
        }
        Some(Kind::Codes(_)) => facts_of_in(t, tag, value, fields, &mut |fact| {
            if let Fact::Row(m) = fact {
                keys.insert(m.id);
            }
        }),
        None if tag.0 == 0x57 => facts_of_in(t, tag, value, fields, &mut |fact| {
            if let Fact::Row(m) = fact {
                keys.insert(m.id);
            }
        }),
        None => {}
    }
}

/// The facts of one object, in the order the tables list them.
fn facts_of<F: FnMut(Fact)>(t: &'static Tables, tag: Tag, value: &[u8], f: &mut F) {
    let mut fields = 0;
    facts_of_in(t, tag, value, &mut fields, f);
}

fn facts_of_in<F: FnMut(Fact)>(
    t: &'static Tables,
    tag: Tag,
    value: &[u8],
    fields: &mut u32,
    f: &mut F,
) {
    match t.kind(tag) {
        Some(Kind::Bits(i)) => {
            let Some(table) = t.bits.get(i) else { return };
            *fields |= 1 << table.field;
            if value.len() != table.bytes {
                f(Fact::BadLength(table));
            }
            table.each_match(value, &mut |row| f(Fact::Row(&row.meaning)));
        }
        Some(Kind::Codes(i)) => {
            let Some(table) = t.codes.get(i) else { return };
            *fields |= 1 << table.field;
            with_code(tag, value, |code| code_facts(table, code, f));
        }
        None if tag.0 == 0x57 => {
            // The service code and nothing else of track 2: the chip-card rules need it.
            *fields |= 1 << t.service_field;
            let mut code = [0u8; 3];
            if track2_service_code(value, &mut code)
                && let Some(table) = t.code_table(Tag(0x5F30))
                && let Ok(code) = std::str::from_utf8(&code)
            {
                code_facts(table, code, f);
            }
        }
        None => {}
    }
}

fn code_facts<F: FnMut(Fact)>(table: &'static CodeTable, code: &str, f: &mut F) {
    let mut any = false;
    for m in table.matches(code) {
        any = true;
        f(Fact::Row(m));
    }
    if !any && table.tag == Tag(0x8A) {
        f(Fact::OtherArc);
    }
}

/// Calls `f` with the characters a code table compares, from a TLV value,
/// built on the stack for any value a code can be.
fn with_code<R>(tag: Tag, value: &[u8], f: impl FnOnce(&str) -> R) -> R {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut buf = [0u8; 64];
    let heap;
    let code: &[u8] = match tag.0 {
        // ARC: two ASCII characters.
        0x8A if value.len() <= buf.len() => {
            for (d, &b) in buf.iter_mut().zip(value) {
                *d = if b.is_ascii_graphic() { b } else { b'?' };
            }
            &buf[..value.len()]
        }
        // Service code n3 in two bytes: "0201" → "201".
        0x5F30 if value.len() <= buf.len() / 2 => {
            for (i, &b) in value.iter().enumerate() {
                buf[2 * i] = HEX[usize::from(b >> 4)];
                buf[2 * i + 1] = HEX[usize::from(b & 0xF)];
            }
            let n = value.len() * 2;
            &buf[n.saturating_sub(3)..n]
        }
        0x8A | 0x5F30 => {
            heap = code_of(tag, value).into_bytes();
            &heap
        }
        _ if value.len() <= buf.len() / 2 => {
            for (i, &b) in value.iter().enumerate() {
                buf[2 * i] = HEX[usize::from(b >> 4)];
                buf[2 * i + 1] = HEX[usize::from(b & 0xF)];
            }
            &buf[..value.len() * 2]
        }
        _ => {
            heap = to_hex(value).into_bytes();
            &heap
        }
    };
    f(std::str::from_utf8(code).unwrap_or(""))
}

/// The service code of track 2 equivalent data (PAN `D` YYMM SSS …):
/// the three digits after the separator and the expiry date.
fn track2_service_code(value: &[u8], out: &mut [u8; 3]) -> bool {
    let nibble = |i: usize| {
        value
            .get(i / 2)
            .map(|b| if i.is_multiple_of(2) { b >> 4 } else { b & 0xF })
    };
    let Some(sep) = (0..value.len() * 2).find(|&i| nibble(i) == Some(0xD)) else {
        return false;
    };
    for (k, o) in out.iter_mut().enumerate() {
        match nibble(sep + 5 + k) {
            Some(d) if d <= 9 => *o = b'0' + d,
            _ => return false,
        }
    }
    true
}

/// Decodes a BER-TLV blob into a [`Reading`] that borrows it.
pub fn decode(data: &[u8]) -> Result<Reading<'_>, EmvError> {
    if u32::try_from(data.len()).is_err() {
        return Err(EmvError::TooLong { bytes: data.len() });
    }
    let mut r = Reading {
        input: data,
        nodes: Vec::with_capacity((data.len() / 4 + 1).min(256)),
        ..Reading::default()
    };
    let mut b = Builder {
        tables: tables(),
        base: data.as_ptr() as usize,
        reading: &mut r,
    };
    tlv::walk(data, 0, data.len(), 0, &mut b)?;
    Ok(r)
}

impl<'a> Reading<'a> {
    /// Every object, depth first (a template before what it holds).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Whether nothing was decoded.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The top-level objects, in input order (receipt values after the blob's).
    pub fn roots(&self) -> impl Iterator<Item = &Node> + '_ {
        self.siblings(0, self.nodes.len())
    }

    /// The objects directly inside `node`.
    pub fn children(&self, node: &Node) -> impl Iterator<Item = &Node> + '_ {
        self.siblings(node.at as usize + 1, node.end as usize)
    }

    fn siblings(&self, from: usize, to: usize) -> impl Iterator<Item = &Node> + '_ {
        let mut i = from;
        std::iter::from_fn(move || {
            let n = self.nodes.get(i).filter(|_| i < to)?;
            i = (n.end as usize).max(i + 1);
            Some(n)
        })
    }

    /// The value bytes of `node` (for typed digits: their characters).
    pub fn value(&self, node: &Node) -> &[u8] {
        let (at, len) = (node.value_at as usize, node.value_len as usize);
        let src = match node.from {
            FROM_TLV => self.input,
            _ => &self.typed,
        };
        src.get(at..at + len).unwrap_or(&[])
    }

    /// Calls `f` with each fact of `node`, in the order the tables list them.
    pub fn each_fact<F: FnMut(Fact)>(&self, node: &Node, f: &mut F) {
        let t = tables();
        let value = self.value(node);
        match node.origin() {
            // Typed digits are the code itself.
            Origin::Digits => {
                if let Some(table) = t.code_table(node.tag)
                    && let Ok(code) = std::str::from_utf8(value)
                {
                    code_facts(table, code, f);
                }
            }
            Origin::Tlv(_) | Origin::Typed => facts_of(t, node.tag, value, f),
        }
    }

    /// The facts of `node`.
    pub fn facts(&self, node: &Node) -> Vec<Fact> {
        let mut out = Vec::new();
        self.each_fact(node, &mut |f| out.push(f));
        out
    }

    /// The table rows found.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Whether a fact with `key` was decoded.
    pub fn has(&self, key: &str) -> bool {
        if let Some(id) = tables().id(key) {
            return self.keys.contains(id);
        }
        let mut found = false;
        for n in &self.nodes {
            self.each_fact(n, &mut |f| found |= f.key() == key);
        }
        found
    }

    /// The fields given at all (bit [`BitTable::field`] /
    /// [`CodeTable::field`]), for `has:FIELD`.
    pub fn fields(&self) -> u32 {
        self.fields
    }

    /// Adds what a receipt prints, after the blob's objects. Each value is
    /// checked for its field's length and form; the first bad one is the
    /// error (and nothing is added).
    pub fn add_receipt(&mut self, r: &Receipt) -> Result<(), EmvError> {
        let mut typed: Vec<(Tag, Origin, Vec<u8>)> = Vec::new();
        let bin = |field: &'static str, v: &Option<String>, tag: u32, len: usize| {
            v.as_deref()
                .map(|s| {
                    let b = tlv::from_hex(s).map_err(|source| EmvError::Hex { field, source })?;
                    if b.len() != len {
                        return Err(EmvError::Length {
                            field,
                            expected: len,
                            got: b.len(),
                        });
                    }
                    Ok((Tag(tag), Origin::Typed, b))
                })
                .transpose()
        };
        typed.extend(bin("tvr", &r.tvr, 0x95, 5)?);
        typed.extend(bin("tsi", &r.tsi, 0x9B, 2)?);
        typed.extend(bin("cvm", &r.cvm, 0x9F34, 3)?);
        typed.extend(bin("9F33", &r.term_caps, 0x9F33, 3)?);
        typed.extend(bin("9F40", &r.addl_term_caps, 0x9F40, 5)?);
        typed.extend(bin("aip", &r.aip, 0x82, 2)?);
        typed.extend(bin("9F35", &r.terminal_type, 0x9F35, 1)?);
        typed.extend(bin("cid", &r.cid, 0x9F27, 1)?);
        if let Some(arc) = &r.arc {
            let a = arc.trim();
            let bytes = if a.len() == 2 && a.bytes().all(|b| b.is_ascii_alphanumeric()) {
                a.to_ascii_uppercase().into_bytes()
            } else {
                match tlv::from_hex(a) {
                    Ok(b) if b.len() == 2 && b.iter().all(u8::is_ascii_alphanumeric) => b,
                    _ => {
                        return Err(EmvError::Value {
                            field: "arc",
                            value: posdiag_core::quote(arc),
                            expected: EXPECT_ARC,
                        });
                    }
                }
            };
            typed.push((Tag(0x8A), Origin::Typed, bytes));
        }
        if let Some(m) = &r.entry_mode {
            let m = m.trim();
            if !(m.len() == 2 || m.len() == 3) || !m.bytes().all(|b| b.is_ascii_digit()) {
                return Err(EmvError::Value {
                    field: "entry-mode",
                    value: posdiag_core::quote(m),
                    expected: EXPECT_ENTRY,
                });
            }
            typed.push((Tag(0x9F39), Origin::Digits, m.as_bytes().to_vec()));
        }
        if let Some(s) = &r.service_code {
            let s = s.trim();
            if s.len() != 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(EmvError::Value {
                    field: "service-code",
                    value: posdiag_core::quote(s),
                    expected: EXPECT_SERVICE,
                });
            }
            typed.push((Tag(0x5F30), Origin::Digits, s.as_bytes().to_vec()));
        }
        let t = tables();
        for (tag, origin, bytes) in typed {
            let at = self.typed.len();
            self.typed.extend_from_slice(&bytes);
            match origin {
                // Typed digits are the code itself.
                Origin::Digits => {
                    if let Some(table) = t.code_table(tag) {
                        self.fields |= 1 << table.field;
                        let keys = &mut self.keys;
                        if let Ok(code) = std::str::from_utf8(&bytes) {
                            code_facts(table, code, &mut |fact| {
                                if let Fact::Row(m) = fact {
                                    keys.insert(m.id);
                                }
                            });
                        }
                    }
                }
                _ => mark(t, tag, &bytes, &mut self.keys, &mut self.fields),
            }
            let index = self.nodes.len() as u32;
            self.nodes.push(Node {
                tag,
                offset: 0,
                at: index,
                value_at: at as u32,
                value_len: bytes.len() as u32,
                end: index + 1,
                depth: 0,
                from: if origin == Origin::Digits {
                    FROM_DIGITS
                } else {
                    FROM_TYPED
                },
            });
        }
        Ok(())
    }

    /// A fact put into words (both languages), as the API and the CLI show it.
    pub fn item(&self, node: &Node, fact: &Fact) -> Item {
        match fact {
            Fact::Row(m) => Item::from(*m),
            Fact::BadLength(table) => {
                let got = self.value(node).len();
                Item::owned(
                    &table.bad_length_key,
                    Text::new(
                        format!(
                            "{got} bytes where {} are expected: read as far as it goes",
                            table.bytes
                        ),
                        format!("{got} 字节，应为 {} 字节：按现有字节解读", table.bytes),
                    ),
                    Severity::Warning,
                    "",
                )
            }
            Fact::OtherArc => {
                let code = code_of(node.tag, self.value(node));
                let c = posdiag_core::quote(&code);
                Item::owned(
                    "arc.other",
                    Text::new(
                        format!(
                            "Response code {c} from the issuer or acquirer: `posdiag explain {code}` says what it means"
                        ),
                        format!(
                            "发卡行或收单机构返回的应答码 {c}：用 `posdiag explain {code}` 查看含义"
                        ),
                    ),
                    Severity::Info,
                    "ISO 8583 field 39",
                )
            }
        }
    }

    /// `node` rendered for people: name, value as shown (card data
    /// masked), raw hex, facts in words, and what it holds.
    pub fn element(&self, node: &Node) -> Element {
        let known = tables().known(node.tag);
        let bytes = self.value(node);
        let (value, raw, length) = match node.origin() {
            Origin::Digits => {
                let d = String::from_utf8_lossy(bytes).into_owned();
                let length = if node.tag == Tag(0x5F30) {
                    2
                } else {
                    d.len().div_ceil(2)
                };
                (Text::new(d.clone(), d.clone()), d, length)
            }
            Origin::Tlv(_) | Origin::Typed => {
                let format = known
                    .info
                    .map(|i| i.format)
                    .unwrap_or(if node.tag.is_constructed() {
                        Format::Template
                    } else {
                        Format::Binary
                    });
                let (value, raw) = show(node.tag, format, bytes);
                (value, raw, bytes.len())
            }
        };
        Element {
            tag: node.tag,
            name: known.info.map(|i| &i.name),
            offset: match node.origin() {
                Origin::Tlv(o) => Some(o),
                Origin::Typed | Origin::Digits => None,
            },
            length,
            value,
            raw,
            items: self
                .facts(node)
                .iter()
                .map(|f| self.item(node, f))
                .collect(),
            children: self.children(node).map(|c| self.element(c)).collect(),
        }
    }

    /// Everything rendered for people.
    pub fn to_decoded(&self) -> Decoded {
        Decoded {
            elements: self.roots().map(|n| self.element(n)).collect(),
        }
    }
}

/// Decodes a BER-TLV blob, rendered for people.
pub fn decode_tlv(data: &[u8]) -> Result<Decoded, EmvError> {
    Ok(decode(data)?.to_decoded())
}

/// The bytes of a TLV blob pasted as hex (errors name the field `tlv`).
pub fn blob_from_hex(hex: &str) -> Result<Vec<u8>, EmvError> {
    tlv::from_hex(hex).map_err(|source| EmvError::Hex {
        field: "tlv",
        source,
    })
}

/// Decodes hex (as pasted) holding a BER-TLV blob.
pub fn decode_hex(hex: &str) -> Result<Decoded, EmvError> {
    decode_tlv(&blob_from_hex(hex)?)
}

/// Reads what a receipt prints into a [`Reading`].
pub fn read_receipt(r: &Receipt) -> Result<Reading<'static>, EmvError> {
    let mut reading = Reading::default();
    reading.add_receipt(r)?;
    if reading.is_empty() {
        return Err(EmvError::Nothing);
    }
    Ok(reading)
}

/// Decodes what a receipt prints, rendered for people. Each value is
/// checked for its field's length and form; the first bad one is the error.
pub fn decode_receipt(r: &Receipt) -> Result<Decoded, EmvError> {
    Ok(read_receipt(r)?.to_decoded())
}

/// The characters a code table compares, from a TLV value.
fn code_of(tag: Tag, value: &[u8]) -> String {
    match tag.0 {
        // ARC: two ASCII characters.
        0x8A => value
            .iter()
            .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
            .collect(),
        // Service code n3 in two bytes: "0201" → "201".
        0x5F30 => {
            let d = to_hex(value);
            d.get(d.len().saturating_sub(3)..).unwrap_or("").to_owned()
        }
        _ => to_hex(value),
    }
}

/// The value as shown and as raw hex; card data never leaves unmasked.
fn show(tag: Tag, format: Format, value: &[u8]) -> (Text, String) {
    let hex = to_hex(value);
    let same = |s: String| Text::new(s.clone(), s);
    match format {
        Format::Masked => {
            let digits: String = to_hex(value).trim_end_matches('F').to_owned();
            let text = match tag.0 {
                0x5A if digits.bytes().all(|b| b.is_ascii_digit()) => {
                    let masked = mask_pan(&digits);
                    Text::new(masked.clone(), masked)
                }
                0x57 => {
                    let pan = digits.split('D').next().unwrap_or("");
                    let masked = mask_pan(pan);
                    Text::new(
                        format!("{masked} (track data hidden, {} bytes)", value.len()),
                        format!("{masked}（磁道数据已隐藏，{} 字节）", value.len()),
                    )
                }
                _ => Text::new(
                    format!("(hidden, {} bytes)", value.len()),
                    format!("（已隐藏，{} 字节）", value.len()),
                ),
            };
            (text, String::new())
        }
        Format::Numeric => (same(hex.trim_end_matches('F').to_owned()), hex),
        Format::Amount => {
            let d = hex.trim_start_matches('0');
            (
                same(if d.is_empty() {
                    "0".to_owned()
                } else {
                    d.to_owned()
                }),
                hex,
            )
        }
        Format::Date if value.len() == 3 => (
            same(format!("20{}-{}-{}", &hex[0..2], &hex[2..4], &hex[4..6])),
            hex,
        ),
        Format::Text => {
            let text: String = value
                .iter()
                .map(|&b| {
                    if (0x20..0x7F).contains(&b) {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            (same(mask_card_numbers(&text)), hex)
        }
        Format::Dol => match tlv::parse_dol(value) {
            Ok(entries) => (
                same(
                    entries
                        .iter()
                        .map(|e| format!("{}({})", e.tag, e.length))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                hex,
            ),
            Err(_) => (same(hex.clone()), hex),
        },
        Format::Template => (same(String::new()), String::new()),
        Format::Binary | Format::Date => {
            // Unknown binary could hold a card number in BCD: masked like
            // any digits that leave the process.
            let shown = if longest_digit_run(&hex) >= 12 {
                mask_card_numbers(&hex)
            } else {
                hex
            };
            (same(shown.clone()), shown)
        }
    }
}

/// The longest run of ASCII digits: hex with no run of 12 (the shortest
/// card number) needs no mask, and most binary values have none.
fn longest_digit_run(s: &str) -> usize {
    let (mut best, mut run) = (0, 0);
    for b in s.bytes() {
        if b.is_ascii_digit() {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

/// First six and last four digits of a card number; a short one fully starred.
fn mask_pan(digits: &str) -> String {
    if digits.len() >= 12 && digits.bytes().all(|b| b.is_ascii_digit()) {
        format!(
            "{}{}{}",
            &digits[..6],
            "*".repeat(digits.len() - 10),
            &digits[digits.len() - 4..]
        )
    } else {
        "*".repeat(digits.len().min(19))
    }
}
