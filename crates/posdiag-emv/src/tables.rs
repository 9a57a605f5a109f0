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
    /// Its key's number among the keys of every table
    /// ([`Tables::meaning`]), the bit a decoded blob sets in its
    /// [`KeySet`]; rows sharing a key share it, rows made at decode time
    /// have [`Meaning::NO_ID`].
    pub id: u16,
    /// What it means, in both languages.
    pub name: Text,
    /// How much it matters.
    pub severity: Severity,
    /// Who acts, when someone has to.
    pub actor: Option<Actor>,
    /// Where the fact comes from.
    pub spec: String,
}

impl Meaning {
    /// The id of a meaning that is no table row.
    pub const NO_ID: u16 = u16::MAX;
}

/// Which table rows a decoded blob holds, one bit per [`Meaning::id`]: what
/// the explanation rules test, without comparing any string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeySet([u64; KEY_WORDS]);

/// Room for this many distinct keys (loading the tables checks they fit).
pub const MAX_MEANINGS: usize = KEY_WORDS * 64;
const KEY_WORDS: usize = 12;

impl KeySet {
    /// The keys marked in word `word`.
    #[inline]
    pub fn word(&self, word: u8) -> u64 {
        self.0.get(usize::from(word)).copied().unwrap_or(0)
    }

    /// Marks the keys of `mask` in word `word` (a table's keys: its field).
    pub fn add_word(&mut self, word: u8, mask: u64) {
        if let Some(w) = self.0.get_mut(usize::from(word)) {
            *w |= mask;
        }
    }

    /// Marks row `id`.
    pub fn insert(&mut self, id: u16) {
        if let Some(w) = self.0.get_mut(usize::from(id) / 64) {
            *w |= 1 << (id % 64);
        }
    }

    /// Whether row `id` is marked.
    pub fn contains(&self, id: u16) -> bool {
        self.0
            .get(usize::from(id) / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    /// The marked ids, ascending.
    pub fn ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                (w != 0).then(|| {
                    let b = w.trailing_zeros();
                    w &= w - 1;
                    (i * 64) as u16 + b as u16
                })
            })
        })
    }
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
    /// The key of the item a value of the wrong length gets (`tvr.bad_length`).
    pub bad_length_key: String,
    /// The field's number among all tables (the bit `has:FIELD` tests).
    pub field: u8,
    /// Per byte position and byte value (`byte * 256 + value`): the run
    /// of `lut_rows` that matches, in row order. A scan then costs one
    /// look-up per byte, whatever the table.
    lut: Vec<(u16, u16)>,
    lut_rows: Vec<u16>,
    /// Per byte position and byte value: the keys that byte marks, as
    /// bits of the table's word of the [`KeySet`].
    key_masks: Vec<u64>,
}

impl BitTable {
    /// Calls `f` with every row `value` matches, in row order per byte.
    pub fn each_match<'a, F: FnMut(&'a BitRow)>(&'a self, value: &[u8], f: &mut F) {
        for (i, &b) in value.iter().take(self.bytes).enumerate() {
            let Some(&(start, len)) = self.lut.get(i * 256 + usize::from(b)) else {
                return;
            };
            let run = self
                .lut_rows
                .get(usize::from(start)..usize::from(start) + usize::from(len))
                .unwrap_or(&[]);
            for &r in run {
                if let Some(row) = self.rows.get(usize::from(r)) {
                    f(row);
                }
            }
        }
    }

    /// Marks in `keys` the keys `value` holds (what [`BitTable::each_match`]
    /// finds, one OR per byte).
    #[inline]
    pub fn mark(&self, value: &[u8], keys: &mut KeySet) {
        let mut mask = 0u64;
        for (i, &b) in value.iter().take(self.bytes).enumerate() {
            mask |= self
                .key_masks
                .get(i * 256 + usize::from(b))
                .copied()
                .unwrap_or(0);
        }
        keys.add_word(self.field, mask);
    }

    fn index(&mut self) {
        self.lut.clear();
        self.lut_rows.clear();
        self.key_masks.clear();
        for byte in 1..=self.bytes {
            for b in 0..=255u8 {
                let start = self.lut_rows.len() as u16;
                self.lut_rows.extend(
                    self.rows
                        .iter()
                        .enumerate()
                        .filter(|(_, row)| row.byte == byte && b & row.mask == row.value)
                        .map(|(r, _)| r as u16),
                );
                self.lut.push((start, self.lut_rows.len() as u16 - start));
                let mask = self.lut_rows[usize::from(start)..]
                    .iter()
                    .filter_map(|&r| self.rows.get(usize::from(r)))
                    .fold(0u64, |m, row| m | 1 << (row.meaning.id % 64));
                self.key_masks.push(mask);
            }
        }
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
    /// The field's number among all tables (the bit `has:FIELD` tests).
    pub field: u8,
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
                // Codes are a few ASCII characters: compared in place,
                // not through a call to memcmp per row.
                CodePart::Digits { from, to, value } => code
                    .as_bytes()
                    .get(from - 1..*to)
                    .is_some_and(|d| d.iter().zip(value.as_bytes()).all(|(a, b)| a == b)),
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
    /// The field of the service code table (`has:service`; track 2
    /// equivalent data carries a service code too).
    pub service_field: u8,
    /// An open-addressing index of every tag with a name or a table:
    /// one multiply and usually one probe per object of a blob.
    slots: Vec<Slot>,
    /// Every meaning's place, by id: (bit table?, table, row).
    places: Vec<Option<(bool, u16, u16)>>,
    /// Ids by key, for items that come back as strings.
    ids: HashMap<String, u16>,
    /// The tag names in file order (the index's `info`).
    tag_list: Vec<TagInfo>,
    /// One bit per last byte of a tag that has a table.
    table_low_bytes: [u64; 4],
}

/// One slot of the tag index; tag 0 (padding, never an object) is empty.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    tag: u32,
    info: Option<u16>,
    kind: Option<Kind>,
}

const SLOTS: usize = 512;

fn slot_of(tag: u32) -> usize {
    (tag.wrapping_mul(0x9E37_79B1) >> 23) as usize % SLOTS
}

/// What the tables know about one tag.
#[derive(Debug, Clone, Copy, Default)]
pub struct Known<'t> {
    /// Its name and format, when it has one.
    pub info: Option<&'t TagInfo>,
    /// Its table, when it has one.
    pub kind: Option<Kind>,
}

impl Tables {
    /// Which table `tag` has, if any.
    #[inline]
    pub fn kind(&self, tag: Tag) -> Option<Kind> {
        // Most objects of a blob have no table: turned away by the last
        // byte of their tag, before the index is probed.
        let low = (tag.0 & 0xFF) as usize;
        if self.table_low_bytes[low / 64] & (1 << (low % 64)) == 0 {
            return None;
        }
        self.slot(tag).and_then(|s| s.kind)
    }

    fn slot(&self, tag: Tag) -> Option<&Slot> {
        let mut i = slot_of(tag.0);
        for _ in 0..SLOTS {
            let s = self.slots.get(i)?;
            if s.tag == tag.0 {
                return Some(s);
            }
            if s.tag == 0 {
                return None;
            }
            i = (i + 1) % SLOTS;
        }
        None
    }

    /// The tag's name and table in one look-up.
    pub fn known(&self, tag: Tag) -> Known<'_> {
        self.slot(tag).map_or_else(Known::default, |s| Known {
            info: s.info.and_then(|n| self.tags_by_index(n)),
            kind: s.kind,
        })
    }

    fn tags_by_index(&self, n: u16) -> Option<&TagInfo> {
        self.tag_list.get(usize::from(n))
    }

    /// The meaning with `id` ([`Meaning::id`]).
    pub fn meaning(&self, id: u16) -> Option<&Meaning> {
        let (bits, t, r) = (*self.places.get(usize::from(id))?)?;
        if bits {
            Some(
                &self
                    .bits
                    .get(usize::from(t))?
                    .rows
                    .get(usize::from(r))?
                    .meaning,
            )
        } else {
            Some(
                &self
                    .codes
                    .get(usize::from(t))?
                    .rows
                    .get(usize::from(r))?
                    .meaning,
            )
        }
    }

    /// The id of the meaning with `key`.
    pub fn id(&self, key: &str) -> Option<u16> {
        self.ids.get(key).copied()
    }

    /// The number of fields (tables); `has:FIELD` bits are below it.
    pub fn fields(&self) -> usize {
        self.bits.len() + self.codes.len()
    }

    /// The field number of the table with `key` (`tvr`, `service`).
    pub fn field(&self, key: &str) -> Option<u8> {
        self.bits
            .iter()
            .map(|t| (t.key.as_str(), t.field))
            .chain(self.codes.iter().map(|t| (t.key.as_str(), t.field)))
            .find(|(k, _)| *k == key)
            .map(|(_, f)| f)
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
        id: Meaning::NO_ID,
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
                    bad_length_key: format!("{key}.bad_length"),
                    field: 0,
                    lut: Vec::new(),
                    lut_rows: Vec::new(),
                    key_masks: Vec::new(),
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
                    field: 0,
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
    let mut tag_list = Vec::new();
    for (n, line) in rows(TAGS) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [tag, en, zh, format] = cols.as_slice() else {
            return Err(format!("tags.tsv:{n}: expected 4 columns"));
        };
        let tag = Tag::from_hex(tag).ok_or_else(|| format!("tags.tsv:{n}: tag"))?;
        if tag.0 == 0 {
            return Err(format!("tags.tsv:{n}: tag 00 is padding"));
        }
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
        let info = TagInfo {
            tag,
            name: Text::new(*en, *zh),
            format,
        };
        if tags.insert(tag, info.clone()).is_some() {
            return Err(format!("tags.tsv:{n}: tag {tag} twice"));
        }
        tag_list.push(info);
    }
    // Fields in table order; each table's keys numbered inside its own
    // 64-bit word of the key set (field F: ids F*64 ..), so a byte of a
    // bit field marks all its keys with one OR.
    if bits.len() + codes.len() > KEY_WORDS {
        return Err(format!("more than {KEY_WORDS} tables"));
    }
    let mut places = vec![None; MAX_MEANINGS];
    let mut ids = HashMap::new();
    let mut next_id =
        |field: u8, place: (bool, u16, u16), m: &mut Meaning, n: &mut u16| -> Result<(), String> {
            // Rows that share a key (two entry modes read as "magstripe")
            // share its id: a rule names the key, not the row.
            if let Some(&id) = ids.get(&m.key) {
                m.id = id;
                return Ok(());
            }
            if *n >= 64 {
                return Err(format!("more than 64 keys in the table of {}", m.key));
            }
            let id = u16::from(field) * 64 + *n;
            *n += 1;
            m.id = id;
            places[usize::from(id)] = Some(place);
            ids.insert(m.key.clone(), id);
            Ok(())
        };
    let mut field = 0u8;
    for (t, table) in bits.iter_mut().enumerate() {
        table.field = field;
        let mut n = 0;
        for (r, row) in table.rows.iter_mut().enumerate() {
            next_id(field, (true, t as u16, r as u16), &mut row.meaning, &mut n)?;
        }
        table.index();
        field += 1;
    }
    for (t, table) in codes.iter_mut().enumerate() {
        table.field = field;
        let mut n = 0;
        for (r, row) in table.rows.iter_mut().enumerate() {
            next_id(field, (false, t as u16, r as u16), &mut row.meaning, &mut n)?;
        }
        field += 1;
    }
    let service_field = codes
        .iter()
        .find(|t| t.key == "service")
        .map(|t| t.field)
        .ok_or("no service code table")?;
    let mut slots = vec![Slot::default(); SLOTS];
    let mut put = |tag: Tag, f: &mut dyn FnMut(&mut Slot)| -> Result<(), String> {
        let mut i = slot_of(tag.0);
        for _ in 0..SLOTS {
            let s = &mut slots[i];
            if s.tag == 0 || s.tag == tag.0 {
                s.tag = tag.0;
                f(s);
                return Ok(());
            }
            i = (i + 1) % SLOTS;
        }
        Err(format!("more than {SLOTS} tags"))
    };
    for (n, info) in tag_list.iter().enumerate() {
        put(info.tag, &mut |s| s.info = Some(n as u16))?;
    }
    for (i, t) in bits.iter().enumerate() {
        put(t.tag, &mut |s| s.kind = Some(Kind::Bits(i)))?;
    }
    for (i, t) in codes.iter().enumerate() {
        put(t.tag, &mut |s| s.kind = Some(Kind::Codes(i)))?;
    }
    let mut table_low_bytes = [0u64; 4];
    for tag in bits
        .iter()
        .map(|t| t.tag)
        .chain(codes.iter().map(|t| t.tag))
    {
        let low = (tag.0 & 0xFF) as usize;
        table_low_bytes[low / 64] |= 1 << (low % 64);
    }
    Ok(Tables {
        table_low_bytes,
        bits,
        codes,
        tags,
        service_field,
        slots,
        places,
        ids,
        tag_list,
    })
}
