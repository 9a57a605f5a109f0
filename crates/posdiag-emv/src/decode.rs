//! From bytes to readings: every object of a TLV blob named, its value
//! shown (card data masked), and the fields posdiag knows (TVR, TSI, CVM
//! results, …) decoded into [`Item`]s with stable keys. Receipt values
//! typed by a person (`--tvr 8000048000`) go through the same path as the
//! same tags in a blob.

use std::borrow::Cow;

use posdiag_core::{Text, mask_card_numbers};

use crate::tables::{Format, Kind, Meaning, Severity, tables};
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
/// the fields posdiag decodes, without building elements or texts: what
/// the doctor and a terminal's log scan need at line rate.
pub fn scan<F: FnMut(Tag, &Meaning)>(data: &[u8], f: &mut F) -> Result<(), EmvError> {
    let t = tables();
    tlv::visit(data, &mut |tag, _, value| match t.kind(tag) {
        Some(Kind::Bits(i)) => t.bits[i].each_match(value, &mut |row| f(tag, &row.meaning)),
        Some(Kind::Codes(i)) => {
            for m in t.codes[i].matches(&code_of(tag, value)) {
                f(tag, m);
            }
        }
        None => {}
    })?;
    Ok(())
}

/// Decodes a BER-TLV blob.
pub fn decode_tlv(data: &[u8]) -> Result<Decoded, EmvError> {
    let objs = tlv::parse(data)?;
    Ok(Decoded {
        elements: objs.iter().map(element).collect(),
    })
}

/// Decodes hex (as pasted) holding a BER-TLV blob.
pub fn decode_hex(hex: &str) -> Result<Decoded, EmvError> {
    let data = tlv::from_hex(hex).map_err(|source| EmvError::Hex {
        field: "tlv",
        source,
    })?;
    decode_tlv(&data)
}

/// Decodes what a receipt prints. Each value is checked for its field's
/// length and form; the first bad one is the error.
pub fn decode_receipt(r: &Receipt) -> Result<Decoded, EmvError> {
    let mut elements = Vec::new();
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
                Ok(typed(Tag(tag), &b))
            })
            .transpose()
    };
    elements.extend(bin("tvr", &r.tvr, 0x95, 5)?);
    elements.extend(bin("tsi", &r.tsi, 0x9B, 2)?);
    elements.extend(bin("cvm", &r.cvm, 0x9F34, 3)?);
    elements.extend(bin("9F33", &r.term_caps, 0x9F33, 3)?);
    elements.extend(bin("9F40", &r.addl_term_caps, 0x9F40, 5)?);
    elements.extend(bin("aip", &r.aip, 0x82, 2)?);
    elements.extend(bin("9F35", &r.terminal_type, 0x9F35, 1)?);
    elements.extend(bin("cid", &r.cid, 0x9F27, 1)?);
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
        elements.push(typed(Tag(0x8A), &bytes));
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
        let mut e = coded(Tag(0x9F39), m);
        e.value = Text::new(m, m);
        e.raw = m.to_owned();
        e.length = m.len().div_ceil(2);
        elements.push(e);
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
        let mut e = coded(Tag(0x5F30), s);
        e.value = Text::new(s, s);
        e.raw = s.to_owned();
        e.length = 2;
        elements.push(e);
    }
    if elements.is_empty() {
        return Err(EmvError::Nothing);
    }
    Ok(Decoded { elements })
}

/// An element for a code table read from `code`.
fn coded(tag: Tag, code: &str) -> Element {
    let info = tables().tags.get(&tag);
    Element {
        tag,
        name: info.map(|i| &i.name),
        offset: None,
        length: code.len(),
        value: Text::new(code, code),
        raw: String::new(),
        items: code_items(tag, code),
        children: Vec::new(),
    }
}

/// An element for a value typed from a receipt.
fn typed(tag: Tag, value: &[u8]) -> Element {
    let t = tlv::Tlv {
        tag,
        offset: 0,
        value,
        children: Vec::new(),
    };
    let mut e = element(&t);
    e.offset = None;
    e
}

fn element(t: &tlv::Tlv<'_>) -> Element {
    let info = tables().tags.get(&t.tag);
    let format = info.map(|i| i.format).unwrap_or(if t.tag.is_constructed() {
        Format::Template
    } else {
        Format::Binary
    });
    let (value, raw) = show(t.tag, format, t.value);
    let mut items = Vec::new();
    if let Some(table) = tables().bit_table(t.tag) {
        items.extend(bit_items(table, t.value));
    } else if tables().code_table(t.tag).is_some() {
        items.extend(code_items(t.tag, &code_of(t.tag, t.value)));
    } else if t.tag == Tag(0x57) {
        // The service code and nothing else of track 2: the chip-card rules need it.
        if let Some(code) = track2_service_code(t.value) {
            items.extend(code_items(Tag(0x5F30), &code));
        }
    }
    Element {
        tag: t.tag,
        name: info.map(|i| &i.name),
        offset: Some(t.offset),
        length: t.value.len(),
        value,
        raw,
        items,
        children: t.children.iter().map(element).collect(),
    }
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

fn bit_items(table: &'static crate::tables::BitTable, value: &[u8]) -> Vec<Item> {
    let mut out = Vec::new();
    if value.len() != table.bytes {
        out.push(Item::owned(
            &format!("{}.bad_length", table.key),
            Text::new(
                format!(
                    "{} bytes where {} are expected: read as far as it goes",
                    value.len(),
                    table.bytes
                ),
                format!(
                    "{} 字节，应为 {} 字节：按现有字节解读",
                    value.len(),
                    table.bytes
                ),
            ),
            Severity::Warning,
            "",
        ));
    }
    table.each_match(value, &mut |row| out.push(Item::from(&row.meaning)));
    out
}

fn code_items(tag: Tag, code: &str) -> Vec<Item> {
    let Some(table) = tables().code_table(tag) else {
        return Vec::new();
    };
    let mut out: Vec<Item> = table.matches(code).map(Item::from).collect();
    if out.is_empty() && tag == Tag(0x8A) {
        let c = posdiag_core::quote(code);
        out.push(Item::owned(
            "arc.other",
            Text::new(
                format!("Response code {c} from the issuer or acquirer: `posdiag explain {code}` says what it means"),
                format!("发卡行或收单机构返回的应答码 {c}：用 `posdiag explain {code}` 查看含义"),
            ),
            Severity::Info,
            "ISO 8583 field 39",
        ));
    }
    out
}

/// The service code of track 2 equivalent data (PAN `D` YYMM SSS …).
fn track2_service_code(value: &[u8]) -> Option<String> {
    let d = to_hex(value);
    let sep = d.find('D')?;
    let code = d.get(sep + 5..sep + 8)?;
    code.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| code.to_owned())
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
