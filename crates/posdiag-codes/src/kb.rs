//! The knowledge base: built-in tables plus vendor tables, and lookups.

use std::sync::LazyLock;

use crate::normalize::{Form, normalize};
use crate::{Entry, Scheme, Table, TableError, parse_table};

/// The built-in data files, compiled in.
const SOURCES: &[(&str, &str)] = &[
    (
        "data/iso8583-1993.tsv",
        include_str!("../data/iso8583-1993.tsv"),
    ),
    (
        "data/iso8583-1987.tsv",
        include_str!("../data/iso8583-1987.tsv"),
    ),
    ("data/cup.tsv", include_str!("../data/cup.tsv")),
    (
        "data/zvt-result.tsv",
        include_str!("../data/zvt-result.tsv"),
    ),
    (
        "data/zvt-terminal-status.tsv",
        include_str!("../data/zvt-terminal-status.tsv"),
    ),
    (
        "data/zvt-intermediate.tsv",
        include_str!("../data/zvt-intermediate.tsv"),
    ),
    (
        "data/nexo-error-condition.tsv",
        include_str!("../data/nexo-error-condition.tsv"),
    ),
    (
        "data/nexo-global-status.tsv",
        include_str!("../data/nexo-global-status.tsv"),
    ),
    (
        "data/nexo-printer-status.tsv",
        include_str!("../data/nexo-printer-status.tsv"),
    ),
    ("data/emv-arc.tsv", include_str!("../data/emv-arc.tsv")),
];

static BUILTIN_TABLES: LazyLock<Vec<Table>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(origin, text)| match parse_table(text, origin) {
            Ok(t) => t,
            // The files are compiled in and checked by the crate's tests.
            Err(e) => panic!("built-in code table is invalid: {e}"),
        })
        .collect()
});

/// The built-in tables, one per built-in scheme, parsed on first use.
pub fn builtin_tables() -> &'static [Table] {
    &BUILTIN_TABLES
}

/// One reading of a typed code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interpretation<'a> {
    /// The entry it matched.
    pub entry: &'a Entry,
    /// How the typed input was read to match it.
    pub form: Form,
}

/// Every code posdiag can explain: the built-in tables plus vendor tables.
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    builtin: &'static [Table],
    vendor: Vec<Table>,
}

impl Default for KnowledgeBase {
    fn default() -> KnowledgeBase {
        KnowledgeBase::builtin()
    }
}

impl KnowledgeBase {
    /// The built-in tables only.
    pub fn builtin() -> KnowledgeBase {
        KnowledgeBase {
            builtin: builtin_tables(),
            vendor: Vec::new(),
        }
    }

    /// Adds a `vendor:<id>` table, replacing (and returning) an earlier
    /// table of the same scheme. Built-in schemes cannot be overridden.
    pub fn add_vendor_table(&mut self, table: Table) -> Result<Option<Table>, TableError> {
        if !matches!(table.scheme, Scheme::Vendor(_)) {
            return Err(TableError::NotVendor {
                origin: table.origin,
                scheme: table.scheme.name().to_owned(),
            });
        }
        if let Some(slot) = self.vendor.iter_mut().find(|t| t.scheme == table.scheme) {
            return Ok(Some(std::mem::replace(slot, table)));
        }
        self.vendor.push(table);
        Ok(None)
    }

    fn tables(&self) -> impl Iterator<Item = &Table> {
        self.builtin.iter().chain(&self.vendor)
    }

    /// Every scheme, built-in first, then vendor tables in the order added.
    pub fn schemes(&self) -> Vec<&Scheme> {
        self.tables().map(|t| &t.scheme).collect()
    }

    /// The entries of one scheme, if it is known.
    pub fn entries(&self, scheme: &Scheme) -> Option<&[Entry]> {
        self.tables()
            .find(|t| t.scheme == *scheme)
            .map(|t| t.entries.as_slice())
    }

    /// The entry for an exact (scheme, code), code compared case-insensitively.
    pub fn get(&self, scheme: &Scheme, code: &str) -> Option<&Entry> {
        self.entries(scheme)?
            .iter()
            .find(|e| e.code.eq_ignore_ascii_case(code.trim()))
    }

    /// Every interpretation of `input`: in `scheme` only when given,
    /// otherwise in every scheme; `prefer`'s interpretations first, then
    /// direct readings before derived ones, then scheme order.
    pub fn explain(
        &self,
        input: &str,
        scheme: Option<&Scheme>,
        prefer: Option<&Scheme>,
    ) -> Vec<&Entry> {
        self.explain_detailed(input, scheme, prefer)
            .into_iter()
            .map(|i| i.entry)
            .collect()
    }

    /// Like [`KnowledgeBase::explain`], also saying how the input was read.
    pub fn explain_detailed(
        &self,
        input: &str,
        scheme: Option<&Scheme>,
        prefer: Option<&Scheme>,
    ) -> Vec<Interpretation<'_>> {
        let candidates = normalize(input);
        let mut found: Vec<(bool, Form, usize, Interpretation<'_>)> = Vec::new();
        for (rank, table) in self.tables().enumerate() {
            if scheme.is_some_and(|s| *s != table.scheme) {
                continue;
            }
            for c in &candidates {
                if !form_applies(c.form, &table.scheme) {
                    continue;
                }
                if let Some(entry) = table
                    .entries
                    .iter()
                    .find(|e| e.code.eq_ignore_ascii_case(&c.code))
                {
                    let preferred = prefer.is_some_and(|p| *p == table.scheme);
                    found.push((
                        !preferred,
                        c.form,
                        rank,
                        Interpretation {
                            entry,
                            form: c.form,
                        },
                    ));
                }
            }
        }
        found.sort_by_key(|(not_preferred, form, rank, _)| (*not_preferred, direct(*form), *rank));
        found.into_iter().map(|(_, _, _, i)| i).collect()
    }

    /// Entries whose meaning or causes contain `text` in English or Chinese
    /// (case-insensitive), or whose code equals it.
    pub fn search(&self, text: &str) -> Vec<&Entry> {
        let needle = text.trim().to_lowercase();
        if needle.is_empty() {
            return Vec::new();
        }
        self.tables()
            .flat_map(|t| &t.entries)
            .filter(|e| {
                e.code.to_lowercase() == needle
                    || std::iter::once(&e.meaning).chain(&e.causes).any(|t| {
                        t.en.to_lowercase().contains(&needle)
                            || t.zh.to_lowercase().contains(&needle)
                    })
            })
            .collect()
    }

    /// Known codes closest to an unknown `input`, for "did you mean": codes
    /// of the same length differing in the fewest characters, then the
    /// smallest numeric distance; at most `limit`.
    pub fn nearest(&self, input: &str, scheme: Option<&Scheme>, limit: usize) -> Vec<&Entry> {
        let candidates = normalize(input);
        let mut scored: Vec<(usize, u64, usize, &Entry)> = Vec::new();
        for (rank, table) in self.tables().enumerate() {
            if scheme.is_some_and(|s| *s != table.scheme) {
                continue;
            }
            for entry in &table.entries {
                let best = candidates
                    .iter()
                    .filter(|c| form_applies(c.form, &table.scheme))
                    .filter_map(|c| distance(&c.code, &entry.code, table.scheme.is_zvt()))
                    .min();
                if let Some((chars, num)) = best {
                    scored.push((chars, num, rank, entry));
                }
            }
        }
        scored.sort_by_key(|(c, n, r, _)| (*c, *n, *r));
        scored
            .into_iter()
            .take(limit)
            .map(|(_, _, _, e)| e)
            .collect()
    }
}

/// Whether a derived form of the input may be looked up in `scheme`.
fn form_applies(form: Form, scheme: &Scheme) -> bool {
    match form {
        Form::AsTyped => true,
        Form::HexByte => scheme.is_zvt() || matches!(scheme, Scheme::Vendor(_)),
        Form::DecimalByte => scheme.is_zvt(),
        Form::OnePrefixed1987 => *scheme == Scheme::Iso8583_1987,
    }
}

/// Direct readings sort before derived ones.
fn direct(form: Form) -> u8 {
    match form {
        Form::AsTyped | Form::HexByte => 0,
        Form::DecimalByte => 1,
        Form::OnePrefixed1987 => 2,
    }
}

/// (differing characters, numeric distance) between two codes of the same
/// length; `None` when the lengths differ.
fn distance(a: &str, b: &str, hex: bool) -> Option<(usize, u64)> {
    if a.len() != b.len() || a.eq_ignore_ascii_case(b) {
        return None;
    }
    let chars = a
        .chars()
        .zip(b.chars())
        .filter(|(x, y)| !x.eq_ignore_ascii_case(y))
        .count();
    let radix = if hex { 16 } else { 10 };
    let num = match (u64::from_str_radix(a, radix), u64::from_str_radix(b, radix)) {
        (Ok(x), Ok(y)) => x.abs_diff(y),
        _ => u64::MAX,
    };
    Some((chars, num))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::BUILTIN;

    #[test]
    fn one_builtin_table_per_builtin_scheme_in_order() {
        let schemes: Vec<Scheme> = builtin_tables().iter().map(|t| t.scheme.clone()).collect();
        assert_eq!(schemes, BUILTIN);
    }

    #[test]
    fn distance_counts_differing_characters_then_numbers() {
        assert_eq!(distance("52", "51", false), Some((1, 1)));
        assert_eq!(distance("6D", "6C", true), Some((1, 1)));
        assert_eq!(distance("05", "05", false), None);
        assert_eq!(distance("5", "05", false), None);
    }
}
