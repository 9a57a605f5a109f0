//! The EMV tables of `data/*.tsv` (format in `data/README.md`), parsed once
//! on first use. A malformed built-in table is a bug caught by the tests,
//! so parsing it panics with the file and line.

use std::collections::HashMap;
use std::sync::OnceLock;

use posdiag_core::{Actor, Text};

use crate::tlv::Tag;

/// How much a decoded item matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// A step that went well.
    Ok,
    /// A fact worth knowing.
    Info,
    /// Something that can make a transaction fail or cost fees.
    Warning,
    /// A reason a transaction failed.
    Error,
}

impl Severity {
    /// The stable name (`ok`, `info`, `warning`, `error`).
    pub fn name(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "ok" => Severity::Ok,
            "info" => Severity::Info,
            "warning" => Severity::Warning,
            "error" => Severity::Error,
            _ => return None,
        })
    }
}

/// Parses an actor name of the tables (`-` for none).
pub(crate) fn parse_actor(s: &str) -> Option<Option<Actor>> {
    Some(Some(match s {
        "-" => return Some(None),
        "merchant" => Actor::Merchant,
        "cardholder" => Actor::Cardholder,
        "acquirer" => Actor::Acquirer,
        "issuer" => Actor::Issuer,
        "vendor" => Actor::Vendor,
        _ => return None,
    }))
}

/// What a row of a table means once it matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Meaning {
    /// Stable key, `FIELD.name` (`tvr.expired_application`).
    pub key: String,
    /// What it means, in both languages.
    pub name: Text,
    /// How much it matters.
    pub severity: Severity,
    /// Who acts, when someone has to.
    pub actor: Option<Actor>,
    /// Where the fact comes from.
    pub spec: String,
}

/// One row of a bit table: matches when `(byte & mask) == value`.
#[derive(Debug, Clone, PartialEq)]
pub struct BitRow {
    /// 1-based byte number.
    pub byte: usize,
    /// The bits looked at.
    pub mask: u8,
    /// Their value for this row.
    pub value: u8,
    /// What a match means.
    pub meaning: Meaning,
}

/// A field decoded bit by bit (TVR, TSI, AIP, …).
#[derive(Debug, Clone, PartialEq)]
pub struct BitTable {
    /// The EMV tag.
    pub tag: Tag,
    /// The key prefix (`tvr`).
    pub key: String,
    /// The field's length in bytes.
    pub bytes: usize,
    /// One row per bit or value.
    pub rows: Vec<BitRow>,
    /// Per byte position, per byte value: the rows that match, in row
    /// order. A scan then costs one look-up per byte, whatever the table.
    lut: Vec<Vec<Vec<u16>>>,
}

impl BitTable {
    /// Calls `f` with every row `value` matches, in row order per byte.
    pub fn each_match<'a, F: FnMut(&'a BitRow)>(&'a self, value: &[u8], f: &mut F) {
        for (byte, &b) in self.lut.iter().zip(value) {
            for &r in &byte[usize::from(b)] {
                f(&self.rows[usize::from(r)]);
            }
        }
    }

    fn index(&mut self) {
        self.lut = (1..=self.bytes)
            .map(|byte| {
                (0..=255u8)
                    .map(|b| {
                        self.rows
                            .iter()
                            .enumerate()
                            .filter(|(_, row)| row.byte == byte && b & row.mask == row.value)
                            .map(|(r, _)| r as u16)
                            .collect()
                    })
                    .collect()
            })
            .collect();
    }
}

/// What part of a code a row compares.
#[derive(Debug, Clone, PartialEq)]
pub enum CodePart {
    /// The whole code.
    Whole(String),
    /// Digits `from..=to` (1-based) equal `value`.
    Digits {
        /// First digit, 1-based.
        from: usize,
        /// Last digit, 1-based.
        to: usize,
        /// The digits.
        value: String,
    },
}

/// One row of a code table.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeRow {
    /// What is compared.
    pub part: CodePart,
    /// What a match means.
    pub meaning: Meaning,
}

/// A field read as characters (ARC, entry mode, service code).
#[derive(Debug, Clone, PartialEq)]
pub struct CodeTable {
    /// The EMV tag.
    pub tag: Tag,
    /// The key prefix (`arc`).
    pub key: String,
    /// The longest code.
    pub digits: usize,
    /// The rows.
    pub rows: Vec<CodeRow>,
}

impl CodeTable {
    /// The rows matching `code`.
    pub fn matches<'a, 'c>(
        &'a self,
        code: &'c str,
    ) -> impl Iterator<Item = &'a Meaning> + use<'a, 'c> {
        self.rows.iter().filter_map(move |r| {
            let hit = match &r.part {
                CodePart::Whole(v) => v.eq_ignore_ascii_case(code),
                CodePart::Digits { from, to, value } => {
                    code.get(from - 1..*to).is_some_and(|d| d == value)
                }
            };
            hit.then_some(&r.meaning)
        })
    }
}

/// How a tag's value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Hex.
    Binary,
    /// BCD digits.
    Numeric,
    /// Text.
    Text,
    /// YYMMDD.
    Date,
    /// An amount in minor units (n12).
    Amount,
    /// Card data: never shown.
    Masked,
    /// A data object list.
    Dol,
    /// A template.
    Template,
}

/// A tag's name and format.
#[derive(Debug, Clone, PartialEq)]
pub struct TagInfo {
    /// The tag.
    pub tag: Tag,
    /// Its name.
    pub name: Text,
    /// How its value is shown.
    pub format: Format,
}

/// What kind of table a tag has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `bits[i]`.
    Bits(usize),
    /// `codes[i]`.
    Codes(usize),
}

/// Every built-in table.
#[derive(Debug)]
pub struct Tables {
    /// Bit tables by tag.
    pub bits: Vec<BitTable>,
    /// Code tables by tag.
    pub codes: Vec<CodeTable>,
    /// Tag names.
    pub tags: HashMap<Tag, TagInfo>,
    /// The tags that have a table, packed for a fast linear look-up.
    kinds: Vec<(u32, Kind)>,
    /// One bit per last byte of a tag that has a table: most tags of a
    /// blob have none and are turned away with one test.
    last_bytes: [u64; 4],
}

impl Tables {
    /// Which table `tag` has, if any.
    pub fn kind(&self, tag: Tag) -> Option<Kind> {
        let low = (tag.0 & 0xFF) as usize;
        if self.last_bytes[low / 64] & (1 << (low % 64)) == 0 {
            return None;
        }
        self.kinds
            .iter()
            .find(|(t, _)| *t == tag.0)
            .map(|(_, k)| *k)
    }

    /// The bit table of `tag`.
    pub fn bit_table(&self, tag: Tag) -> Option<&BitTable> {
        match self.kind(tag)? {
            Kind::Bits(i) => self.bits.get(i),
            Kind::Codes(_) => None,
        }
    }

    /// The code table of `tag`.
    pub fn code_table(&self, tag: Tag) -> Option<&CodeTable> {
        match self.kind(tag)? {
            Kind::Codes(i) => self.codes.get(i),
            Kind::Bits(_) => None,
        }
    }

    /// Every meaning of every table (for tests and for the rules' key check).
    pub fn all_meanings(&self) -> impl Iterator<Item = &Meaning> {
        self.bits
            .iter()
            .flat_map(|t| t.rows.iter().map(|r| &r.meaning))
            .chain(
                self.codes
                    .iter()
                    .flat_map(|t| t.rows.iter().map(|r| &r.meaning)),
            )
    }
}

/// The built-in table files, by name.
pub const FILES: &[(&str, &str)] = &[
    ("tvr.tsv", include_str!("../data/tvr.tsv")),
    ("tsi.tsv", include_str!("../data/tsi.tsv")),
    ("aip.tsv", include_str!("../data/aip.tsv")),
    ("cvm-results.tsv", include_str!("../data/cvm-results.tsv")),
    ("term-caps.tsv", include_str!("../data/term-caps.tsv")),
    (
        "addl-term-caps.tsv",
        include_str!("../data/addl-term-caps.tsv"),
    ),
    (
        "terminal-type.tsv",
        include_str!("../data/terminal-type.tsv"),
    ),
    ("cid.tsv", include_str!("../data/cid.tsv")),
    ("arc.tsv", include_str!("../data/arc.tsv")),
    ("entry-mode.tsv", include_str!("../data/entry-mode.tsv")),
    ("service-code.tsv", include_str!("../data/service-code.tsv")),
];

const TAGS: &str = include_str!("../data/tags.tsv");

/// The built-in tables.
pub fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| match load() {
        Ok(t) => t,
        Err(e) => panic!("built-in EMV table: {e}"),
    })
}

fn rows(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
}

fn meaning(prefix: &str, cols: &[&str], at: &str) -> Result<Meaning, String> {
    let [key, en, zh, severity, actor, spec] = cols else {
        return Err(format!(
            "{at}: expected key, name_en, name_zh, severity, actor, spec"
        ));
    };
    if en.is_empty() || zh.is_empty() {
        return Err(format!("{at}: a name is empty"));
    }
    Ok(Meaning {
        key: format!("{prefix}.{key}"),
        name: Text::new(*en, *zh),
        severity: Severity::parse(severity).ok_or_else(|| format!("{at}: severity {severity}"))?,
        actor: parse_actor(actor).ok_or_else(|| format!("{at}: actor {actor}"))?,
        spec: (*spec).to_owned(),
    })
}

/// Parses every built-in file; `Err` names the file and line.
pub fn load() -> Result<Tables, String> {
    let mut bits = Vec::new();
    let mut codes = Vec::new();
    for (file, text) in FILES {
        let mut lines = rows(text);
        let Some((n, head)) = lines.next() else {
            return Err(format!("{file}: empty"));
        };
        let head: Vec<&str> = head.split_whitespace().collect();
        let at = |n: usize| format!("{file}:{n}");
        match head.as_slice() {
            ["@field", tag, key, bytes] => {
                let tag = Tag::from_hex(tag).ok_or_else(|| format!("{}: tag", at(n)))?;
                let bytes: usize = bytes.parse().map_err(|_| format!("{}: bytes", at(n)))?;
                let mut table = BitTable {
                    tag,
                    key: (*key).to_owned(),
                    bytes,
                    rows: Vec::new(),
                    lut: Vec::new(),
                };
                for (n, line) in lines {
                    let cols: Vec<&str> = line.split('\t').collect();
                    if cols.len() != 9 {
                        return Err(format!("{}: {} columns, expected 9", at(n), cols.len()));
                    }
                    let byte: usize = cols[0].parse().map_err(|_| format!("{}: byte", at(n)))?;
                    let mask =
                        u8::from_str_radix(cols[1], 16).map_err(|_| format!("{}: mask", at(n)))?;
                    let value =
                        u8::from_str_radix(cols[2], 16).map_err(|_| format!("{}: value", at(n)))?;
                    if byte == 0 || byte > bytes || value & !mask != 0 {
                        return Err(format!("{}: byte or value out of range", at(n)));
                    }
                    table.rows.push(BitRow {
                        byte,
                        mask,
                        value,
                        meaning: meaning(key, &cols[3..], &at(n))?,
                    });
                }
                table.index();
                bits.push(table);
            }
            ["@codes", tag, key, digits] => {
                let tag = Tag::from_hex(tag).ok_or_else(|| format!("{}: tag", at(n)))?;
                let digits: usize = digits.parse().map_err(|_| format!("{}: digits", at(n)))?;
                let mut table = CodeTable {
                    tag,
                    key: (*key).to_owned(),
                    digits,
                    rows: Vec::new(),
                };
                for (n, line) in lines {
                    let cols: Vec<&str> = line.split('\t').collect();
                    if cols.len() != 7 {
                        return Err(format!("{}: {} columns, expected 7", at(n), cols.len()));
                    }
                    let part = match cols[0].split_once('=') {
                        None => CodePart::Whole(cols[0].to_owned()),
                        Some((range, value)) => {
                            let (from, to) = match range.split_once('-') {
                                Some((a, b)) => (a.parse(), b.parse()),
                                None => (range.parse(), range.parse()),
                            };
                            let (Ok(from), Ok(to)) = (from, to) else {
                                return Err(format!("{}: digit range {range}", at(n)));
                            };
                            if from == 0 || to < from || to > digits || value.len() != to - from + 1
                            {
                                return Err(format!("{}: digit range {range}", at(n)));
                            }
                            CodePart::Digits {
                                from,
                                to,
                                value: value.to_owned(),
                            }
                        }
                    };
                    table.rows.push(CodeRow {
                        part,
                        meaning: meaning(key, &cols[1..], &at(n))?,
                    });
                }
                codes.push(table);
            }
            _ => return Err(format!("{}: expected @field or @codes", at(n))),
        }
    }
    let mut tags = HashMap::new();
    for (n, line) in rows(TAGS) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [tag, en, zh, format] = cols.as_slice() else {
            return Err(format!("tags.tsv:{n}: expected 4 columns"));
        };
        let tag = Tag::from_hex(tag).ok_or_else(|| format!("tags.tsv:{n}: tag"))?;
        let format = match *format {
            "b" => Format::Binary,
            "n" => Format::Numeric,
            "an" => Format::Text,
            "date" => Format::Date,
            "amount" => Format::Amount,
            "mask" => Format::Masked,
            "dol" => Format::Dol,
            "tmpl" => Format::Template,
            other => return Err(format!("tags.tsv:{n}: format {other}")),
        };
        if tags
            .insert(
                tag,
                TagInfo {
                    tag,
                    name: Text::new(*en, *zh),
                    format,
                },
            )
            .is_some()
        {
            return Err(format!("tags.tsv:{n}: tag {tag} twice"));
        }
    }
    let kinds = bits
        .iter()
        .enumerate()
        .map(|(i, t)| (t.tag.0, Kind::Bits(i)))
        .chain(
            codes
                .iter()
                .enumerate()
                .map(|(i, t)| (t.tag.0, Kind::Codes(i))),
        )
        .collect::<Vec<(u32, Kind)>>();
    let mut last_bytes = [0u64; 4];
    for (t, _) in &kinds {
        let low = (t & 0xFF) as usize;
        last_bytes[low / 64] |= 1 << (low % 64);
    }
    Ok(Tables {
        bits,
        codes,
        tags,
        kinds,
        last_bytes,
    })
}
