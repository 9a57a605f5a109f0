//! The code-table file format, shared by the built-in tables and vendor
//! tables.
//!
//! ```text
//! # comment lines start with '#'; blank lines are ignored
//! @scheme vendor:acme
//! CODE<TAB>CATEGORY<TAB>RETRY<TAB>MEANING_EN<TAB>MEANING_ZH<TAB>CAUSES_EN<TAB>CAUSES_ZH<TAB>REMEDIES<TAB>SOURCE
//! ```
//!
//! Causes are `;`-separated, the same number in both languages. Remedies
//! are `actor:english|chinese`, `;`-separated, in the order to try them.

use std::collections::HashMap;

use posdiag_core::{Remedy, Text};

use crate::entry::actor_from_str;
use crate::{Entry, Scheme};

/// The columns of a row, in order.
const COLUMNS: &[&str] = &[
    "code",
    "category",
    "retry",
    "meaning_en",
    "meaning_zh",
    "causes_en",
    "causes_zh",
    "remedies",
    "source",
];

/// A parsed code table: one scheme and its entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The scheme every entry belongs to.
    pub scheme: Scheme,
    /// Where the table came from (a file name), for messages.
    pub origin: String,
    /// The entries, in file order.
    pub entries: Vec<Entry>,
}

/// A code table that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// A line is malformed.
    #[error("{origin}:{line}: {problem}")]
    Line {
        /// The file (or other origin) the text came from.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// The table has no `@scheme` line or no entries.
    #[error("{origin}: {problem}")]
    File {
        /// The file (or other origin) the text came from.
        origin: String,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// A table added at run time claims a built-in scheme.
    #[error("{origin}: scheme {scheme} is built in; extra tables must use vendor:<id>")]
    NotVendor {
        /// The file (or other origin) the text came from.
        origin: String,
        /// The scheme the table declared.
        scheme: String,
    },
}

/// Parses a code table from text the caller read from `origin`.
///
/// Every problem is reported with `origin`, the line number and what is
/// expected, so a person can fix the file.
pub fn parse_table(text: &str, origin: &str) -> Result<Table, TableError> {
    let err = |line: usize, problem: String| TableError::Line {
        origin: origin.to_owned(),
        line,
        problem,
    };
    let mut scheme: Option<Scheme> = None;
    let mut entries = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("@scheme") {
            if scheme.is_some() {
                return Err(err(
                    line_no,
                    "second @scheme line; one table per file".into(),
                ));
            }
            let s: Scheme = rest
                .trim()
                .parse()
                .map_err(|e| err(line_no, format!("{e}")))?;
            scheme = Some(s);
            continue;
        }
        if line.starts_with('@') {
            return Err(err(
                line_no,
                format!("unknown directive {line:?}: expected @scheme"),
            ));
        }
        let Some(scheme) = scheme.as_ref() else {
            return Err(err(
                line_no,
                "entry before the @scheme line; start the table with e.g. \"@scheme vendor:acme\""
                    .into(),
            ));
        };
        let entry = parse_row(scheme, line).map_err(|p| err(line_no, p))?;
        let key = entry.code.to_ascii_uppercase();
        if let Some(first) = seen.insert(key, line_no) {
            return Err(err(
                line_no,
                format!(
                    "duplicate code {:?} (first defined on line {first})",
                    entry.code
                ),
            ));
        }
        entries.push(entry);
    }
    let Some(scheme) = scheme else {
        return Err(TableError::File {
            origin: origin.to_owned(),
            problem: "no @scheme line; start the table with e.g. \"@scheme vendor:acme\"".into(),
        });
    };
    if entries.is_empty() {
        return Err(TableError::File {
            origin: origin.to_owned(),
            problem: "no entries".into(),
        });
    }
    Ok(Table {
        scheme,
        origin: origin.to_owned(),
        entries,
    })
}

fn parse_row(scheme: &Scheme, line: &str) -> Result<Entry, String> {
    let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
    if cols.len() != COLUMNS.len() {
        return Err(format!(
            "expected {} tab-separated columns ({}), found {}",
            COLUMNS.len(),
            COLUMNS.join(", "),
            cols.len()
        ));
    }
    for (name, value) in COLUMNS.iter().zip(&cols) {
        if value.is_empty() {
            return Err(format!("column {name} is empty"));
        }
    }
    let code = cols[0].to_owned();
    scheme
        .check_code(&code)
        .map_err(|e| format!("bad code {code:?} for {scheme}: {e}"))?;
    let category = cols[1].parse()?;
    let retry = cols[2].parse()?;
    let meaning = Text::new(cols[3], cols[4]);
    let causes_en = split_list(cols[5]);
    let causes_zh = split_list(cols[6]);
    if causes_en.len() != causes_zh.len() {
        return Err(format!(
            "{} causes in English but {} in Chinese; give each cause in both",
            causes_en.len(),
            causes_zh.len()
        ));
    }
    let causes = causes_en
        .into_iter()
        .zip(causes_zh)
        .map(|(en, zh)| Text::new(en, zh))
        .collect();
    let mut remedies = Vec::new();
    for item in split_list(cols[7]) {
        let (actor, texts) = item
            .split_once(':')
            .ok_or_else(|| format!("remedy {item:?}: expected actor:english|chinese"))?;
        let actor = actor_from_str(actor.trim())?;
        let (en, zh) = texts
            .split_once('|')
            .ok_or_else(|| format!("remedy {item:?}: expected actor:english|chinese"))?;
        let (en, zh) = (en.trim(), zh.trim());
        if en.is_empty() || zh.is_empty() {
            return Err(format!(
                "remedy {item:?}: needs both English and Chinese text"
            ));
        }
        remedies.push(Remedy::new(actor, en, zh));
    }
    Ok(Entry {
        scheme: scheme.clone(),
        code,
        category,
        retry,
        meaning,
        causes,
        remedies,
        source: cols[8].to_owned(),
    })
}

fn split_list(s: &str) -> Vec<&str> {
    s.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != "-")
        .collect()
}
