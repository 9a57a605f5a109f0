//! `[rules.NAME]` tables: what an acquirer or a terminal accepts as a
//! customer ID, as written in the daemon's configuration and validated into
//! `posdiag_ids::RuleSet`s. posdiagd's config loader and `posdiag id
//! --local` both read them here, so a rule set means the same offline.
//!
//! Errors carry the span of the value at fault; the caller, which has the
//! file's text and name, turns it into `FILE:LINE:COLUMN: KEY: message`
//! ([`line_col`], [`key_at`]).

use std::ops::Range;

use posdiag_ids::{Charset, CheckAlgorithm, Kind, RuleSet};
use serde::Deserialize;
use toml::Spanned;

/// A rule set as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRules {
    #[serde(default)]
    description: String,
    #[serde(default)]
    kinds: Vec<Spanned<String>>,
    min_length: Option<Spanned<u32>>,
    max_length: Option<Spanned<u32>>,
    charset: Option<Spanned<String>>,
    pattern: Option<Spanned<String>>,
    check: Option<Spanned<String>>,
}

/// A rule set that cannot be used: where, which key, what is wrong and what
/// is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// Byte range of the value at fault in the file, when known.
    pub span: Option<Range<usize>>,
    /// The dotted key (`rules.customer.min_length`).
    pub key: String,
    /// What is wrong and what is expected.
    pub message: String,
}

fn at<T>(v: &Spanned<T>, key: String, message: impl Into<String>) -> RuleError {
    RuleError {
        span: Some(v.span()),
        key,
        message: message.into(),
    }
}

/// Validates the rule set `name` (the table's key, with its span).
pub fn rule_set(name: &Spanned<String>, r: &RawRules) -> Result<RuleSet, RuleError> {
    let name_s = name.get_ref().as_str();
    let key = |k: &str| format!("rules.{name_s}.{k}");
    if !is_plain_name(name_s) {
        return Err(at(
            name,
            format!("rules.{name_s}"),
            "rule set names may use only letters, digits, '.', '_' and '-'",
        ));
    }
    let mut set = RuleSet::new(name_s);
    set.description = r.description.clone();
    for k in &r.kinds {
        let kind = Kind::from_name(k.get_ref()).ok_or_else(|| {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            at(
                k,
                key("kinds"),
                format!(
                    "{:?} is not a kind; known kinds: {}",
                    k.get_ref(),
                    known.join(", ")
                ),
            )
        })?;
        set.kinds.push(kind);
    }
    let len = |v: &Option<Spanned<u32>>, k: &str| -> Result<Option<usize>, RuleError> {
        match v {
            None => Ok(None),
            Some(s) if (1..=1024).contains(s.get_ref()) => Ok(Some(*s.get_ref() as usize)),
            Some(s) => Err(at(
                s,
                key(k),
                format!(
                    "{} is out of range; expected 1 to 1024 characters",
                    s.get_ref()
                ),
            )),
        }
    };
    set.min_length = len(&r.min_length, "min_length")?;
    set.max_length = len(&r.max_length, "max_length")?;
    if let (Some(min), Some(max)) = (set.min_length, set.max_length)
        && min > max
    {
        return Err(RuleError {
            span: r.min_length.as_ref().map(|s| s.span()),
            key: key("min_length"),
            message: format!("{min} is above max_length {max}"),
        });
    }
    if let Some(c) = &r.charset {
        let parsed: Charset = c
            .get_ref()
            .parse()
            .map_err(|e: posdiag_ids::IdsError| at(c, key("charset"), e.to_string()))?;
        set.charset = Some(parsed);
    }
    if let Some(c) = &r.check {
        let parsed: CheckAlgorithm = c.get_ref().parse().map_err(|_| {
            at(
                c,
                key("check"),
                format!(
                    "{:?} is not a check algorithm; expected \"luhn\", \"mod11-2\" or \"mod97-10\"",
                    c.get_ref()
                ),
            )
        })?;
        set.check = Some(parsed);
    }
    if let Some(p) = &r.pattern {
        set = set
            .with_pattern(p.get_ref())
            .map_err(|e| at(p, key("pattern"), e.to_string()))?;
    }
    Ok(set)
}

/// What a terminal's `id_rules` naming no defined rule set is told.
pub fn no_such_rule_set<'a>(name: &str, defined: impl IntoIterator<Item = &'a str>) -> String {
    let known: Vec<&str> = defined.into_iter().collect();
    format!(
        "no rule set called {name:?} is defined; defined rule sets: {}",
        if known.is_empty() {
            "none (add a [rules.NAME] table)".to_owned()
        } else {
            known.join(", ")
        }
    )
}

/// Table names (hosts, rule sets) that are safe in ids, logs and metric
/// labels: the daemon's config checks its host names with it too.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// The dotted key at byte `offset` of `text`, from the nearest table header
/// above it and the `key =` on its line (serde's errors do not say which key
/// failed).
pub fn key_at(text: &str, offset: usize) -> String {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[offset..]
        .find('\n')
        .map(|i| offset + i)
        .unwrap_or(text.len());
    let line = &text[line_start..line_end];
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned())
        .unwrap_or_default();
    let trimmed = line.trim();
    if trimmed.starts_with('[') {
        return trimmed
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_owned();
    }
    match line.split_once('=') {
        Some((k, _)) if line_start + k.len() <= offset || offset == line_start => {
            let k = k.trim();
            if table.is_empty() {
                k.to_owned()
            } else {
                format!("{table}.{k}")
            }
        }
        _ => table,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn sets(text: &str) -> Result<Vec<RuleSet>, RuleError> {
        #[derive(Deserialize)]
        struct File {
            rules: BTreeMap<Spanned<String>, RawRules>,
        }
        let f: File = toml::from_str(text).expect("parses");
        f.rules.iter().map(|(n, r)| rule_set(n, r)).collect()
    }

    #[test]
    fn a_rule_set_is_validated_with_every_field() {
        let s = sets(
            "[rules.customer]\ndescription = \"12 digits\"\nmin_length = 12\nmax_length = 12\ncharset = \"digits\"\ncheck = \"luhn\"\n",
        )
        .expect("valid");
        assert_eq!(s[0].name, "customer");
        assert_eq!(s[0].min_length, Some(12));
        assert_eq!(s[0].charset, Some(Charset::Digits));
    }

    #[test]
    fn errors_name_the_key_and_point_at_the_value() {
        let text = "[rules.customer]\nmin_length = 13\nmax_length = 12\n";
        let e = sets(text).expect_err("min above max");
        assert_eq!(e.key, "rules.customer.min_length");
        assert_eq!(e.message, "13 is above max_length 12");
        let span = e.span.expect("span");
        assert_eq!(line_col(text, span.start), (2, 14));
        let e = sets("[rules.c]\nkinds = [\"passport\"]\n").expect_err("kind");
        assert!(e.message.starts_with("\"passport\" is not a kind"), "{e:?}");
        let e = sets("[rules.\"a b\"]\n").expect_err("name");
        assert_eq!(e.key, "rules.a b");
    }

    #[test]
    fn keys_are_found_from_the_table_header_and_the_line() {
        let text = "[rules.x]\nmin_length = \"twelve\"\n";
        let at = text.find("\"twelve\"").expect("in text");
        assert_eq!(key_at(text, at), "rules.x.min_length");
        assert_eq!(key_at(text, 1), "rules.x");
    }

    #[test]
    fn an_undefined_rule_set_lists_the_defined_ones() {
        assert_eq!(
            no_such_rule_set("a", ["b", "c"]),
            "no rule set called \"a\" is defined; defined rule sets: b, c"
        );
        assert!(no_such_rule_set("a", []).ends_with("none (add a [rules.NAME] table)"));
    }
}
