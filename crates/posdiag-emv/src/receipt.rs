//! Receipt text read for its EMV values: what a merchant photographs or
//! copies off an EMV receipt or a terminal's transaction log ("TVR:
//! 0000008000", "TSI E8 00", "授权响应码 Z3", "Entry mode / 输入方式 051",
//! "application_label:VISA DEBIT|AID:A0000000031010|TVR:8000008000"), turned
//! into the same values the receipt options take ([`Receipt`]) plus the tags a
//! receipt prints beside them (AID, application label, cryptogram, ATC, IAD),
//! each with the line it came from.
//!
//! Tolerant where a photo's text is noisy: full-width colons and spaces,
//! labels in English or Chinese (both on one line too), several values on
//! one line, bytes with spaces between them, and the letter O read for a
//! zero inside a hex or digit value (where no letter O can be meant). A
//! value of the wrong length is not guessed at: it is reported as not used,
//! with its line. A card number on the receipt is never echoed: every line
//! shown passes through the card-number mask, and no card number is read.

use posdiag_core::{Text, mask_card_numbers};

use crate::decode::{Decoded, EmvError, Receipt, decode_receipt, decode_tlv};

/// At most this much text is read (a receipt is a few KB; a terminal's log
/// of one day stays well under this).
pub const MAX_TEXT_BYTES: usize = 256 * 1024;
/// A line shown back is cut to this many characters.
const MAX_SHOWN_CHARS: usize = 120;

/// A value a receipt prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Field {
    /// Terminal Verification Results (95).
    Tvr,
    /// Transaction Status Information (9B).
    Tsi,
    /// CVM Results (9F34).
    Cvm,
    /// Authorisation Response Code (8A).
    Arc,
    /// POS entry mode (9F39 / ISO 8583 field 22).
    EntryMode,
    /// Service code (5F30).
    ServiceCode,
    /// Terminal Capabilities (9F33).
    TermCaps,
    /// Additional Terminal Capabilities (9F40).
    AddlTermCaps,
    /// Application Interchange Profile (82).
    Aip,
    /// Terminal Type (9F35).
    TerminalType,
    /// Cryptogram Information Data (9F27); also read from "ARQC"/"TC"/"AAC".
    Cid,
    /// Application Identifier (4F).
    Aid,
    /// Application label (50).
    Label,
    /// Application preferred name (9F12).
    PreferredName,
    /// Application cryptogram (9F26).
    Cryptogram,
    /// Application transaction counter (9F36).
    Atc,
    /// Issuer application data (9F10).
    Iad,
}

impl Field {
    /// The name of the matching input: the option of `posdiag emv decode`
    /// (`tvr`, `entry-mode`, `9F33`) or the tag's short name.
    pub fn name(self) -> &'static str {
        match self {
            Field::Tvr => "tvr",
            Field::Tsi => "tsi",
            Field::Cvm => "cvm",
            Field::Arc => "arc",
            Field::EntryMode => "entry-mode",
            Field::ServiceCode => "service-code",
            Field::TermCaps => "9F33",
            Field::AddlTermCaps => "9F40",
            Field::Aip => "aip",
            Field::TerminalType => "9F35",
            Field::Cid => "cid",
            Field::Aid => "aid",
            Field::Label => "label",
            Field::PreferredName => "9F12",
            Field::Cryptogram => "cryptogram",
            Field::Atc => "atc",
            Field::Iad => "iad",
        }
    }

    /// The EMV tag it is (9F39 for the entry mode, 5F30 for the service code).
    pub fn tag(self) -> u32 {
        match self {
            Field::Tvr => 0x95,
            Field::Tsi => 0x9B,
            Field::Cvm => 0x9F34,
            Field::Arc => 0x8A,
            Field::EntryMode => 0x9F39,
            Field::ServiceCode => 0x5F30,
            Field::TermCaps => 0x9F33,
            Field::AddlTermCaps => 0x9F40,
            Field::Aip => 0x82,
            Field::TerminalType => 0x9F35,
            Field::Cid => 0x9F27,
            Field::Aid => 0x4F,
            Field::Label => 0x50,
            Field::PreferredName => 0x9F12,
            Field::Cryptogram => 0x9F26,
            Field::Atc => 0x9F36,
            Field::Iad => 0x9F10,
        }
    }

    fn shape(self) -> Shape {
        match self {
            Field::Tvr | Field::AddlTermCaps => Shape::Hex(5, 5),
            Field::Tsi | Field::Aip | Field::Atc => Shape::Hex(2, 2),
            Field::Cvm | Field::TermCaps => Shape::Hex(3, 3),
            Field::TerminalType => Shape::Hex(1, 1),
            Field::Cid => Shape::Cid,
            Field::Arc => Shape::Arc,
            Field::EntryMode => Shape::EntryMode,
            Field::ServiceCode => Shape::ServiceCode,
            Field::Aid => Shape::Hex(5, 16),
            Field::Cryptogram => Shape::Hex(8, 8),
            Field::Iad => Shape::Hex(1, 32),
            Field::Label | Field::PreferredName => Shape::Text(16),
        }
    }
}

/// The form of a field's value.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Hex bytes, from .. to (inclusive).
    Hex(usize, usize),
    /// A CID byte or a cryptogram type (ARQC, TC, AAC).
    Cid,
    /// Two characters, or their ASCII in hex.
    Arc,
    /// 2 or 3 digits, or a word (chip, contactless, swipe, fallback, manual).
    EntryMode,
    /// 3 digits.
    ServiceCode,
    /// Printable text of at most this many characters.
    Text(usize),
}

/// How a label introduces its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    /// A label that names the field for sure: a value that does not fit is
    /// reported as not used.
    Strict(Field),
    /// A short word that may be ordinary text ("AC", "TC"): used only when a
    /// value of the right form follows.
    Loose(Field),
    /// "ARQC", "TC", "AAC" followed by the cryptogram: the cryptogram, and
    /// its type as the CID.
    Cryptogram(u8),
}

/// The labels, upper case, after the text is folded to ASCII where it has
/// an ASCII twin (full-width letters, colons, spaces) and `_` read as a space.
const LABELS: &[(&str, Label)] = &[
    // TVR
    ("TVR", Label::Strict(Field::Tvr)),
    ("TERMINAL VERIFICATION RESULTS", Label::Strict(Field::Tvr)),
    ("TERMINAL VERIFICATION RESULT", Label::Strict(Field::Tvr)),
    ("终端验证结果", Label::Strict(Field::Tvr)),
    ("95", Label::Loose(Field::Tvr)),
    // TSI
    ("TSI", Label::Strict(Field::Tsi)),
    ("TRANSACTION STATUS INFORMATION", Label::Strict(Field::Tsi)),
    ("TRANSACTION STATUS INDICATOR", Label::Strict(Field::Tsi)),
    ("交易状态信息", Label::Strict(Field::Tsi)),
    ("9B", Label::Loose(Field::Tsi)),
    // CVM results
    ("CVMR", Label::Strict(Field::Cvm)),
    ("CVM RESULTS", Label::Strict(Field::Cvm)),
    ("CVM RESULT", Label::Strict(Field::Cvm)),
    ("CVM RES", Label::Strict(Field::Cvm)),
    ("CVM", Label::Strict(Field::Cvm)),
    ("持卡人验证结果", Label::Strict(Field::Cvm)),
    ("持卡人验证方法结果", Label::Strict(Field::Cvm)),
    ("9F34", Label::Loose(Field::Cvm)),
    // ARC
    ("ARC", Label::Strict(Field::Arc)),
    ("AUTHORISATION RESPONSE CODE", Label::Strict(Field::Arc)),
    ("AUTHORIZATION RESPONSE CODE", Label::Strict(Field::Arc)),
    ("AUTH RESP CODE", Label::Strict(Field::Arc)),
    ("RESPONSE CODE", Label::Strict(Field::Arc)),
    ("RESP CODE", Label::Strict(Field::Arc)),
    ("授权响应码", Label::Strict(Field::Arc)),
    ("授权应答码", Label::Strict(Field::Arc)),
    ("应答码", Label::Strict(Field::Arc)),
    ("响应码", Label::Strict(Field::Arc)),
    ("8A", Label::Loose(Field::Arc)),
    // Entry mode
    ("POS ENTRY MODE", Label::Strict(Field::EntryMode)),
    ("POS ENTRY", Label::Strict(Field::EntryMode)),
    ("ENTRY MODE", Label::Strict(Field::EntryMode)),
    ("ENTRY METHOD", Label::Strict(Field::EntryMode)),
    ("服务点输入方式", Label::Strict(Field::EntryMode)),
    ("输入方式", Label::Strict(Field::EntryMode)),
    ("9F39", Label::Loose(Field::EntryMode)),
    // Service code
    ("SERVICE CODE", Label::Strict(Field::ServiceCode)),
    ("SVC CODE", Label::Strict(Field::ServiceCode)),
    ("服务代码", Label::Strict(Field::ServiceCode)),
    ("服务码", Label::Strict(Field::ServiceCode)),
    ("5F30", Label::Loose(Field::ServiceCode)),
    // Terminal capabilities
    (
        "ADDITIONAL TERMINAL CAPABILITIES",
        Label::Strict(Field::AddlTermCaps),
    ),
    ("ADD TERM CAP", Label::Strict(Field::AddlTermCaps)),
    ("附加终端性能", Label::Strict(Field::AddlTermCaps)),
    ("9F40", Label::Loose(Field::AddlTermCaps)),
    ("TERMINAL CAPABILITIES", Label::Strict(Field::TermCaps)),
    ("TERM CAP", Label::Strict(Field::TermCaps)),
    ("TERMCAP", Label::Strict(Field::TermCaps)),
    ("终端性能", Label::Strict(Field::TermCaps)),
    ("终端能力", Label::Strict(Field::TermCaps)),
    ("9F33", Label::Loose(Field::TermCaps)),
    // AIP, terminal type, CID
    ("AIP", Label::Strict(Field::Aip)),
    ("应用交互特征", Label::Strict(Field::Aip)),
    ("82", Label::Loose(Field::Aip)),
    ("TERMINAL TYPE", Label::Strict(Field::TerminalType)),
    ("终端类型", Label::Strict(Field::TerminalType)),
    ("9F35", Label::Loose(Field::TerminalType)),
    ("CID", Label::Strict(Field::Cid)),
    ("CRYPTOGRAM INFORMATION DATA", Label::Strict(Field::Cid)),
    ("CRYPTOGRAM TYPE", Label::Strict(Field::Cid)),
    ("AC TYPE", Label::Strict(Field::Cid)),
    ("密文信息数据", Label::Strict(Field::Cid)),
    ("密文类型", Label::Strict(Field::Cid)),
    ("9F27", Label::Loose(Field::Cid)),
    // Application
    ("AID", Label::Strict(Field::Aid)),
    ("APPLICATION ID", Label::Strict(Field::Aid)),
    ("APPLICATION IDENTIFIER", Label::Strict(Field::Aid)),
    ("应用标识符", Label::Strict(Field::Aid)),
    ("应用标识", Label::Strict(Field::Aid)),
    ("4F", Label::Loose(Field::Aid)),
    ("APPLICATION LABEL", Label::Strict(Field::Label)),
    ("APP LABEL", Label::Strict(Field::Label)),
    ("APPLAB", Label::Strict(Field::Label)),
    ("应用标签", Label::Strict(Field::Label)),
    (
        "APPLICATION PREFERRED NAME",
        Label::Strict(Field::PreferredName),
    ),
    ("APP NAME", Label::Strict(Field::PreferredName)),
    ("APPNAME", Label::Strict(Field::PreferredName)),
    ("应用首选名称", Label::Strict(Field::PreferredName)),
    ("应用名称", Label::Strict(Field::PreferredName)),
    // Cryptogram, ATC, IAD
    ("ARQC", Label::Cryptogram(0x80)),
    ("TC", Label::Cryptogram(0x40)),
    ("AAC", Label::Cryptogram(0x00)),
    ("APPLICATION CRYPTOGRAM", Label::Strict(Field::Cryptogram)),
    ("CRYPTOGRAM", Label::Loose(Field::Cryptogram)),
    ("应用密文", Label::Strict(Field::Cryptogram)),
    ("AC", Label::Loose(Field::Cryptogram)),
    ("9F26", Label::Loose(Field::Cryptogram)),
    ("ATC", Label::Strict(Field::Atc)),
    ("应用交易计数器", Label::Strict(Field::Atc)),
    ("9F36", Label::Loose(Field::Atc)),
    ("IAD", Label::Strict(Field::Iad)),
    ("ISSUER APPLICATION DATA", Label::Strict(Field::Iad)),
    ("发卡行应用数据", Label::Strict(Field::Iad)),
    ("9F10", Label::Loose(Field::Iad)),
];

/// Entry-mode words and the 9F39 code they stand for.
const ENTRY_WORDS: &[(&str, &str)] = &[
    ("CONTACTLESS", "07"),
    ("CTLS", "07"),
    ("TAP", "07"),
    ("TAPPED", "07"),
    ("NFC", "07"),
    ("挥卡", "07"),
    ("非接", "07"),
    ("闪付", "07"),
    ("FALLBACK", "80"),
    ("降级", "80"),
    ("CHIP", "05"),
    ("ICC", "05"),
    ("INSERT", "05"),
    ("INSERTED", "05"),
    ("C", "05"),
    ("插卡", "05"),
    ("芯片", "05"),
    ("SWIPE", "90"),
    ("SWIPED", "90"),
    ("MAGSTRIPE", "90"),
    ("MSR", "90"),
    ("S", "90"),
    ("刷卡", "90"),
    ("磁条", "90"),
    ("MANUAL", "01"),
    ("KEYED", "01"),
    ("M", "01"),
    ("K", "01"),
    ("手输", "01"),
    ("手工", "01"),
];

/// One value found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Which value.
    pub field: Field,
    /// The value as the input takes it: hex in upper case without spaces,
    /// digits, the ARC's two characters, the label's text (masked).
    pub value: String,
    /// The line it is on, from 1.
    pub line: usize,
    /// That line as printed, card numbers masked, cut to 120 characters.
    pub text: String,
}

/// A line that named a value posdiag did not use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// The value it named, if any (`None`: a card number's line).
    pub field: Option<Field>,
    /// The line, from 1.
    pub line: usize,
    /// Why it was not used.
    pub reason: Text,
    /// The line as printed, masked and cut.
    pub text: String,
}

/// What a receipt's text holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptText {
    /// The values found, in the order of their lines; at most one per field.
    pub found: Vec<Found>,
    /// Lines that named a value that could not be used, and card-number lines.
    pub ignored: Vec<Ignored>,
    /// How many lines were read.
    pub lines: usize,
}

impl ReceiptText {
    /// The value found for `field`.
    pub fn get(&self, field: Field) -> Option<&Found> {
        self.found.iter().find(|f| f.field == field)
    }

    /// The values the receipt options take.
    pub fn receipt(&self) -> Receipt {
        let v = |f: Field| self.get(f).map(|x| x.value.clone());
        Receipt {
            tvr: v(Field::Tvr),
            tsi: v(Field::Tsi),
            cvm: v(Field::Cvm),
            arc: v(Field::Arc),
            entry_mode: v(Field::EntryMode),
            service_code: v(Field::ServiceCode),
            term_caps: v(Field::TermCaps),
            addl_term_caps: v(Field::AddlTermCaps),
            aip: v(Field::Aip),
            terminal_type: v(Field::TerminalType),
            cid: v(Field::Cid),
        }
    }

    /// The values the receipt options do not take (AID, label, preferred
    /// name, cryptogram, ATC, IAD) as a BER-TLV blob, in that order.
    pub fn extra_tlv(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for field in [
            Field::Aid,
            Field::Label,
            Field::PreferredName,
            Field::Cryptogram,
            Field::Atc,
            Field::Iad,
        ] {
            let Some(f) = self.get(field) else { continue };
            let value = match field.shape() {
                Shape::Text(_) => f.value.as_bytes().to_vec(),
                _ => match crate::tlv::from_hex(&f.value) {
                    Ok(b) => b,
                    Err(_) => continue,
                },
            };
            let tag = field.tag();
            if tag > 0xFF {
                out.push((tag >> 8) as u8);
            }
            out.push(tag as u8);
            // Every value here is at most 32 bytes: one length byte.
            out.push(value.len() as u8);
            out.extend(value);
        }
        out
    }

    /// Decodes what was found: the tags the options do not take first, then
    /// the receipt values, every element marked as typed (no offset).
    pub fn decode(&self) -> Result<Decoded, EmvError> {
        let extra = self.extra_tlv();
        let mut decoded = if extra.is_empty() {
            Decoded::default()
        } else {
            decode_tlv(&extra)?
        };
        for e in &mut decoded.elements {
            e.offset = None;
        }
        let receipt = self.receipt();
        if !receipt.is_empty() {
            decoded.elements.extend(decode_receipt(&receipt)?.elements);
        }
        if decoded.elements.is_empty() {
            return Err(EmvError::Nothing);
        }
        Ok(decoded)
    }
}

/// Receipt text that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// More text than a receipt or a day's log.
    #[error(
        "the receipt text is {bytes} bytes, more than the {limit} read: give the lines of one transaction"
    )]
    TooLong {
        /// Bytes given.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// No EMV value in the text.
    #[error(
        "no EMV values found in the receipt text ({lines} lines): look for lines such as TVR, TSI, CVMR, ARC or AID, or give the values with --tvr, --tsi, --arc"
    )]
    NothingFound {
        /// Lines read.
        lines: usize,
        /// Lines that named a value of the wrong form.
        unusable: usize,
    },
}

impl ReceiptError {
    /// The message in both languages.
    pub fn text(&self) -> Text {
        match self {
            ReceiptError::TooLong { bytes, limit } => Text::new(
                self.to_string(),
                format!(
                    "小票文本有 {bytes} 字节，超过可读取的 {limit} 字节：请只提供一笔交易的内容"
                ),
            ),
            ReceiptError::NothingFound { lines, unusable } => {
                let mut t = Text::new(
                    self.to_string(),
                    format!(
                        "小票文本（{lines} 行）中没有找到 EMV 数据：请查找 TVR、TSI、CVMR、ARC 或 AID 等行，或用 --tvr、--tsi、--arc 直接给出"
                    ),
                );
                if *unusable > 0 {
                    t.en.push_str(&format!(
                        " ({unusable} named a value of the wrong length or form)"
                    ));
                    t.zh.push_str(&format!("（{unusable} 行的值长度或格式不对）"));
                }
                t
            }
        }
    }
}

/// Reads the EMV values of a receipt's or a log's text.
pub fn parse(text: &str) -> Result<ReceiptText, ReceiptError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(ReceiptError::TooLong {
            bytes: text.len(),
            limit: MAX_TEXT_BYTES,
        });
    }
    let mut out = ReceiptText::default();
    for (i, raw) in text.lines().enumerate() {
        out.lines = i + 1;
        read_line(raw, i + 1, &mut out);
    }
    if out.found.is_empty() {
        return Err(ReceiptError::NothingFound {
            lines: out.lines,
            unusable: out.ignored.iter().filter(|i| i.field.is_some()).count(),
        });
    }
    Ok(out)
}

/// The line as shown back: masked, control characters dropped, cut.
fn shown(raw: &str) -> String {
    let clean: String = raw
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let masked = mask_card_numbers(&clean);
    if masked.chars().count() > MAX_SHOWN_CHARS {
        let mut s: String = masked.chars().take(MAX_SHOWN_CHARS).collect();
        s.push('…');
        s
    } else {
        masked
    }
}

/// Full-width forms folded to ASCII, `_` read as a space, upper case.
fn fold(raw: &str) -> Vec<char> {
    raw.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' | '_' | '\t' => ' ',
            '﹕' => ':',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// How many characters of `line` from `at` spell `name`, a space in the
/// name standing for one or more (OCR doubles spaces).
fn spelled(name: &str, line: &[char], at: usize) -> Option<usize> {
    let mut i = at;
    for c in name.chars() {
        if *line.get(i)? != c {
            return None;
        }
        i += 1;
        if c == ' ' {
            while line.get(i) == Some(&' ') {
                i += 1;
            }
        }
    }
    Some(i - at)
}

/// The label starting at `at`, if any (the longest), and its length in `line`.
fn label_at(line: &[char], at: usize) -> Option<(usize, Label)> {
    if at >= line.len() || at > 0 && is_word(line[at]) && is_word(line[at - 1]) {
        return None;
    }
    let mut best: Option<(usize, usize, Label)> = None;
    for &(name, label) in LABELS {
        let n = name.len();
        if best.is_some_and(|(m, _, _)| m >= n) {
            continue;
        }
        let Some(len) = spelled(name, line, at) else {
            continue;
        };
        let end = at + len;
        let ascii_end = name.chars().last().is_some_and(is_word);
        if ascii_end && line.get(end).copied().is_some_and(is_word) {
            continue;
        }
        // A bare tag ("95", "9F33") is a label only with a separator after it.
        if name.chars().all(|c| c.is_ascii_hexdigit())
            && name.chars().any(|c| c.is_ascii_digit())
            && !matches!(line.get(end), Some(':' | '=' | '|'))
            && !matches!(line.get(end..end + 2), Some([' ', ':' | '=']))
        {
            continue;
        }
        best = Some((n, len, label));
    }
    best.map(|(_, len, label)| (len, label))
}

fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | ':' | '=' | '-' | '#' | '|' | '>' | '/' | '.' | '(' | ')' | '[' | ']'
    )
}

/// What a label found.
enum Read {
    /// A value of the right form, and where the reading stopped.
    Value(String, usize),
    /// Something of the wrong form (the reason), and where it stopped.
    Bad(Text, usize),
}

fn read_line(raw: &str, n: usize, out: &mut ReceiptText) {
    let line = fold(raw);
    let mut at = 0;
    let mut any = false;
    while at < line.len() {
        let Some((len, label)) = label_at(&line, at) else {
            at += 1;
            continue;
        };
        let field = match label {
            Label::Strict(f) | Label::Loose(f) => f,
            Label::Cryptogram(_) => Field::Cryptogram,
        };
        // Skip separators, and the same field's label in the other language
        // ("Entry mode / 输入方式 051").
        let mut v = at + len;
        loop {
            while v < line.len() && is_separator(line[v]) {
                v += 1;
            }
            match label_at(&line, v) {
                Some((l2, other)) if label_field(other) == field => v += l2,
                _ => break,
            }
        }
        let strict = matches!(label, Label::Strict(_));
        let read = match (label, field.shape()) {
            (Label::Cryptogram(_), _) if !line[v..].iter().any(char::is_ascii_hexdigit) => {
                // "ARQC" alone names the cryptogram type, not a value.
                Read::Bad(Text::new("", ""), v)
            }
            (_, shape) => read_value(&line, v, shape),
        };
        match read {
            Read::Value(value, end) => {
                any = true;
                let value = match field.shape() {
                    Shape::Text(_) => mask_card_numbers(&value),
                    _ => value,
                };
                add(out, field, value, n, raw);
                if let Label::Cryptogram(cid) = label {
                    add(out, Field::Cid, format!("{cid:02X}"), n, raw);
                }
                at = end.max(at + len);
            }
            Read::Bad(reason, end) => {
                if strict && !reason.en.is_empty() {
                    any = true;
                    out.ignored.push(Ignored {
                        field: Some(field),
                        line: n,
                        reason,
                        text: shown(raw),
                    });
                }
                at = if strict { end.max(at + len) } else { at + len };
            }
        }
    }
    if !any && mask_card_numbers(raw) != raw {
        out.ignored.push(Ignored {
            field: None,
            line: n,
            reason: Text::new(
                "a number as long as a card number: not shown, not used",
                "与卡号一样长的数字：不显示，也不使用",
            ),
            text: shown(raw),
        });
    }
}

fn label_field(label: Label) -> Field {
    match label {
        Label::Strict(f) | Label::Loose(f) => f,
        Label::Cryptogram(_) => Field::Cryptogram,
    }
}

/// Records a value; a second, different value of the same field is not used.
fn add(out: &mut ReceiptText, field: Field, value: String, line: usize, raw: &str) {
    match out.get(field) {
        None => out.found.push(Found {
            field,
            value,
            line,
            text: shown(raw),
        }),
        Some(first) if first.value == value => {}
        Some(first) => {
            let (name, first_line) = (field.name(), first.line);
            out.ignored.push(Ignored {
                field: Some(field),
                line,
                reason: Text::new(
                    format!("a second {name} that differs from line {first_line}: one transaction is read at a time, the first one"),
                    format!("第二个 {name} 与第 {first_line} 行的不同：一次只读一笔交易，使用第一个"),
                ),
                text: shown(raw),
            });
        }
    }
}

/// A hex digit, with the letter O read as a zero.
fn hex_digit(c: char) -> Option<char> {
    match c {
        'O' => Some('0'),
        c if c.is_ascii_hexdigit() => Some(c),
        _ => None,
    }
}

/// Hex digits from `at`: single spaces, `-` or `:` between byte groups are
/// skipped; stops after `max` digits.
fn hex_run(line: &[char], at: usize, max: usize) -> (String, usize) {
    let mut digits = String::new();
    let mut i = at;
    while i < line.len() && digits.len() < max {
        if let Some(d) = hex_digit(line[i]) {
            digits.push(d);
            i += 1;
        } else if matches!(line[i], ' ' | '-' | ':')
            && !digits.is_empty()
            && digits.len().is_multiple_of(2)
            && line.get(i + 1).copied().and_then(hex_digit).is_some()
            && line.get(i + 2).copied().and_then(hex_digit).is_some()
        {
            i += 1;
        } else {
            break;
        }
    }
    (digits, i)
}

fn read_value(line: &[char], at: usize, shape: Shape) -> Read {
    let word_end = |from: usize| {
        let mut e = from;
        while e < line.len() && !matches!(line[e], ' ' | '|' | ',' | ';') {
            e += 1;
        }
        e
    };
    match shape {
        Shape::Hex(min, max) => {
            let (digits, end) = hex_run(line, at, max * 2);
            let longer = line
                .get(end)
                .copied()
                .is_some_and(|c| hex_digit(c).is_some());
            let bytes = digits.len() / 2;
            if digits.is_empty() {
                Read::Bad(Text::new("no value after the label", "标签后没有值"), at)
            } else if longer {
                Read::Bad(
                    Text::new(
                        format!("more than {max} bytes: not this field's value"),
                        format!("超过 {max} 字节：不是这个字段的值"),
                    ),
                    word_end(end),
                )
            } else if !digits.len().is_multiple_of(2) || bytes < min {
                let expected = if min == max {
                    format!("{min}")
                } else {
                    format!("{min}-{max}")
                };
                Read::Bad(
                    Text::new(
                        format!(
                            "{} hex digits where {expected} bytes are expected: check the photo or type it",
                            digits.len()
                        ),
                        format!(
                            "{} 个十六进制数字，应为 {expected} 字节：请核对照片或手动输入",
                            digits.len()
                        ),
                    ),
                    end,
                )
            } else {
                Read::Value(digits, end)
            }
        }
        Shape::Cid => {
            let end = word_end(at);
            let word: String = line[at..end].iter().collect();
            let code = match word.as_str() {
                "ARQC" => Some("80".to_owned()),
                "TC" => Some("40".to_owned()),
                "AAC" => Some("00".to_owned()),
                w if w.len() == 2 && w.chars().all(|c| hex_digit(c).is_some()) => {
                    Some(w.chars().filter_map(hex_digit).collect())
                }
                _ => None,
            };
            match code {
                Some(c) => Read::Value(c, end),
                None => Read::Bad(
                    Text::new(
                        "not a cryptogram type (ARQC, TC, AAC) or one hex byte",
                        "不是密文类型（ARQC、TC、AAC）或一个十六进制字节",
                    ),
                    end,
                ),
            }
        }
        Shape::Arc => {
            let end = word_end(at);
            let word: String = line[at..end].iter().collect();
            let ok = word.len() == 2 && word.chars().all(|c| c.is_ascii_alphanumeric());
            let from_hex = (word.len() == 4)
                .then(|| crate::tlv::from_hex(&word).ok())
                .flatten()
                .filter(|b| b.iter().all(u8::is_ascii_alphanumeric))
                .map(|b| b.iter().map(|&c| c as char).collect::<String>());
            if ok {
                // "OO" is "00": no response code has the letter O.
                Read::Value(word.replace('O', "0"), end)
            } else if let Some(w) = from_hex {
                Read::Value(w, end)
            } else {
                Read::Bad(
                    Text::new(
                        "not a two-character response code such as Z3 or 00",
                        "不是两个字符的应答码（如 Z3、00）",
                    ),
                    end,
                )
            }
        }
        Shape::EntryMode | Shape::ServiceCode => {
            let end = word_end(at);
            let word: String = line[at..end].iter().collect();
            let digits: String = word
                .chars()
                .map(|c| if c == 'O' { '0' } else { c })
                .collect();
            let all_digits = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit());
            match shape {
                Shape::ServiceCode if all_digits && digits.len() == 3 => Read::Value(digits, end),
                Shape::ServiceCode => Read::Bad(
                    Text::new(
                        "not a 3-digit service code such as 201",
                        "不是 3 位数字的服务代码（如 201）",
                    ),
                    end,
                ),
                _ if all_digits && (digits.len() == 2 || digits.len() == 3) => {
                    Read::Value(digits, end)
                }
                _ => {
                    let w = word.trim_matches(|c: char| !c.is_alphanumeric());
                    let code = ENTRY_WORDS
                        .iter()
                        .find(|(name, _)| *name == w || (!name.is_ascii() && w.contains(name)));
                    match code {
                        Some((_, code)) => Read::Value((*code).to_owned(), end),
                        None => Read::Bad(
                            Text::new(
                                "not an entry mode (2 or 3 digits, or chip, contactless, swipe, fallback, manual)",
                                "不是输入方式（2 或 3 位数字，或 芯片、挥卡、刷卡、降级、手输）",
                            ),
                            end,
                        ),
                    }
                }
            }
        }
        Shape::Text(max) => {
            // Up to a column gap (two spaces), a `|` or the end of the line.
            let mut end = at;
            while end < line.len()
                && line[end] != '|'
                && !(line[end] == ' ' && line.get(end + 1) == Some(&' '))
            {
                end += 1;
            }
            // The original case is lost in `line`; labels are upper case on
            // receipts, so upper case is what they print.
            let text: String = line[at..end].iter().collect::<String>().trim().to_owned();
            let printable = text.chars().all(|c| !c.is_control());
            if text.is_empty() || !printable || text.chars().count() > max {
                Read::Bad(
                    Text::new(
                        format!("not an application name of at most {max} characters"),
                        format!("不是最多 {max} 个字符的应用名称"),
                    ),
                    end,
                )
            } else {
                Read::Value(text, end)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(&'static str, String, usize)> {
        parse(text)
            .unwrap()
            .found
            .into_iter()
            .map(|f| (f.field.name(), f.value, f.line))
            .collect()
    }

    fn one(text: &str, field: Field) -> Option<String> {
        parse(text).ok()?.get(field).map(|f| f.value.clone())
    }

    #[test]
    fn the_ways_receipts_print_a_value() {
        for (text, field, want) in [
            ("TVR: 0000008000", Field::Tvr, "0000008000"),
            ("TVR 00 00 00 80 00", Field::Tvr, "0000008000"),
            ("tvr=00-00-00-80-00", Field::Tvr, "0000008000"),
            ("TVR：0000008000", Field::Tvr, "0000008000"),
            ("ＴＶＲ：００００００８０００", Field::Tvr, "0000008000"),
            ("TVR: OOOOOO8OOO", Field::Tvr, "0000008000"),
            ("终端验证结果 0000008000", Field::Tvr, "0000008000"),
            ("TSI:E800", Field::Tsi, "E800"),
            ("TSI : e8 00", Field::Tsi, "E800"),
            ("CVMR 1F0302", Field::Cvm, "1F0302"),
            ("CVM Results: 420300", Field::Cvm, "420300"),
            ("ARC: Z3", Field::Arc, "Z3"),
            ("授权响应码：Z3", Field::Arc, "Z3"),
            ("ARC 5A33", Field::Arc, "Z3"),
            ("RESP CODE: OO", Field::Arc, "00"),
            ("Entry mode / 输入方式 051", Field::EntryMode, "051"),
            ("POS ENTRY 801", Field::EntryMode, "801"),
            ("Entry Method: C", Field::EntryMode, "05"),
            ("ENTRY MODE: CONTACTLESS", Field::EntryMode, "07"),
            ("输入方式：挥卡", Field::EntryMode, "07"),
            ("Service code 2O1", Field::ServiceCode, "201"),
            ("AID: A0000000031010", Field::Aid, "A0000000031010"),
            (
                "AID A0 00 00 03 33 01 01 01",
                Field::Aid,
                "A000000333010101",
            ),
            ("应用标签：PBOC DEBIT", Field::Label, "PBOC DEBIT"),
            (
                "APP LABEL: VISA CREDIT   12.00",
                Field::Label,
                "VISA CREDIT",
            ),
            ("TermCap: E0E1C8", Field::TermCaps, "E0E1C8"),
            ("9F33=E0F0C8", Field::TermCaps, "E0F0C8"),
            ("AIP:7C00", Field::Aip, "7C00"),
            (
                "ARQC: 1A2B3C4D5E6F7081",
                Field::Cryptogram,
                "1A2B3C4D5E6F7081",
            ),
            ("ARQC: 1A2B3C4D5E6F7081", Field::Cid, "80"),
            ("Cryptogram type: TC", Field::Cid, "40"),
            ("ATC:0012", Field::Atc, "0012"),
        ] {
            assert_eq!(one(text, field).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn several_values_on_a_line_each_with_its_line() {
        let got = values(
            "SALE\napplication_label:VISA DEBIT|entry_mode:CHIP|CVM:5E0000|AID:A0000000031010|TVR:8000008000|IAD:06010A03A08000|TSI:6800|ARC:\nTVR 0000008000  TSI E800",
        );
        assert_eq!(
            got,
            vec![
                ("label", "VISA DEBIT".into(), 2),
                ("entry-mode", "05".into(), 2),
                ("cvm", "5E0000".into(), 2),
                ("aid", "A0000000031010".into(), 2),
                ("tvr", "8000008000".into(), 2),
                ("iad", "06010A03A08000".into(), 2),
                ("tsi", "6800".into(), 2),
            ]
        );
        let r = parse("TVR:8000008000\nTVR:0000008000").unwrap();
        assert_eq!(r.get(Field::Tvr).unwrap().value, "8000008000");
        assert_eq!(r.ignored.len(), 1);
        assert!(r.ignored[0].reason.en.contains("line 1"), "{:?}", r.ignored);
    }

    #[test]
    fn words_that_look_like_labels_are_not_read() {
        // PAID, TRACE, ACCEPTED, ATC inside words, a bare "95" in an amount.
        let r = parse("AMOUNT PAID 95.00\nTRACE 000123\nACCEPTED\nTVR 0000000000").unwrap();
        assert_eq!(r.found.len(), 1, "{:?}", r.found);
        assert!(r.ignored.is_empty(), "{:?}", r.ignored);
        // "TC" in free text without a cryptogram after it is no value.
        assert!(parse("THANK YOU. TC APPLY").is_err());
    }

    #[test]
    fn a_value_of_the_wrong_length_is_reported_not_guessed() {
        let r = parse("TVR: 00000080\nTSI: E800").unwrap();
        assert!(r.get(Field::Tvr).is_none());
        assert_eq!(r.ignored[0].line, 1);
        assert_eq!(r.ignored[0].field, Some(Field::Tvr));
        assert!(
            r.ignored[0]
                .reason
                .en
                .contains("8 hex digits where 5 bytes")
        );
        assert!(r.ignored[0].reason.zh.contains("应为 5 字节"));
        let r = parse("TVR: 000000800000\nTSI: E800").unwrap();
        assert!(r.ignored[0].reason.en.contains("more than 5 bytes"));
        let e = parse("TVR: 0080\n").unwrap_err();
        assert_eq!(
            e,
            ReceiptError::NothingFound {
                lines: 1,
                unusable: 1
            }
        );
        assert!(e.text().zh.contains("没有找到 EMV 数据"));
    }

    #[test]
    fn card_numbers_are_never_echoed() {
        let text = "CARD NO: 6222021234567890128\n4111 1111 1111 1111\nAPP LABEL: 4111111111111111\nTVR: 0000008000 4111111111111111";
        let r = parse(text).unwrap();
        let dump = format!("{r:?}");
        assert!(!dump.contains("6222021234567890128"), "{dump}");
        assert!(!dump.contains("4111111111111111"), "{dump}");
        assert!(!dump.contains("4111 1111 1111 1111"), "{dump}");
        assert!(r.ignored.iter().any(|i| i.line == 1 && i.field.is_none()));
        assert_eq!(r.get(Field::Tvr).unwrap().value, "0000008000");
        // A label can't smuggle one out either.
        assert!(
            r.get(Field::Label)
                .is_none_or(|l| !l.value.contains("1111111111"))
        );
    }

    #[test]
    fn bounded_and_never_panics_on_odd_text() {
        let big = "x".repeat(MAX_TEXT_BYTES + 1);
        assert!(matches!(parse(&big), Err(ReceiptError::TooLong { .. })));
        for s in [
            "",
            "TVR",
            "TVR:",
            "TVR: ",
            "ＴＶＲ",
            "AID:",
            "应用标签：",
            "9F33=",
            "ARQC",
            "ARC:\u{0}\u{1}",
            "TVR:0\u{FF10}",
            "Entry mode:",
            "AC TYPE",
            "|||::==",
            "终端验证结果",
        ] {
            let _ = parse(s);
        }
        assert!(matches!(
            parse(""),
            Err(ReceiptError::NothingFound { lines: 0, .. })
        ));
    }

    #[test]
    fn what_was_found_decodes_and_explains() {
        let r = parse("AID: A0000000031010\nAPP LABEL: VISA\nTVR: 0000008000\nTSI: E800\nARC: Z3\nARQC: 1A2B3C4D5E6F7081").unwrap();
        let d = r.decode().unwrap();
        assert!(d.all().iter().all(|e| e.offset.is_none()));
        assert_eq!(d.elements[0].tag, crate::Tag(0x4F));
        assert!(d.has("arc.z3"));
        let x = crate::explain(&d);
        assert_eq!(x.causes[0].id, "arc.z3");
    }
}
