//! `[rules.NAME]` tables: what an acquirer or a terminal accepts as a
//! customer ID, validated into `posdiag_ids::RuleSet`s.

use std::collections::BTreeMap;
use std::sync::Arc;

use posdiag_ids::{Charset, CheckAlgorithm, Kind, RuleSet};
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Validator};

/// A rule set as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRules {
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

impl Validator<'_> {
    pub(super) fn rule_set(
        &self,
        spanned: &Spanned<String>,
        r: &RawRules,
    ) -> Result<RuleSet, ConfigError> {
        let name = spanned.get_ref().as_str();
        let key = |k: &str| format!("rules.{name}.{k}");
        if !super::is_plain_name(name) {
            return Err(self.at(
                spanned,
                &format!("rules.{name}"),
                "rule set names may use only letters, digits, '.', '_' and '-'",
            ));
        }
        let mut set = RuleSet::new(name);
        set.description = r.description.clone();
        for k in &r.kinds {
            let kind = Kind::from_name(k.get_ref()).ok_or_else(|| {
                let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                self.at(
                    k,
                    &key("kinds"),
                    format!(
                        "{:?} is not a kind; known kinds: {}",
                        k.get_ref(),
                        known.join(", ")
                    ),
                )
            })?;
            set.kinds.push(kind);
        }
        let len = |v: &Option<Spanned<u32>>, k: &str| -> Result<Option<usize>, ConfigError> {
            match v {
                None => Ok(None),
                Some(s) if (1..=1024).contains(s.get_ref()) => Ok(Some(*s.get_ref() as usize)),
                Some(s) => Err(self.at(
                    s,
                    &key(k),
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
            let span = r.min_length.as_ref().map(|s| s.span());
            return Err(self.err(
                span,
                &key("min_length"),
                format!("{min} is above max_length {max}"),
            ));
        }
        if let Some(c) = &r.charset {
            let parsed: Charset = c
                .get_ref()
                .parse()
                .map_err(|e: posdiag_ids::IdsError| self.at(c, &key("charset"), e.to_string()))?;
            set.charset = Some(parsed);
        }
        if let Some(c) = &r.check {
            let parsed: CheckAlgorithm = c
                .get_ref()
                .parse()
                .map_err(|_| self.at(c, &key("check"), format!("{:?} is not a check algorithm; expected \"luhn\", \"mod11-2\" or \"mod97-10\"", c.get_ref())))?;
            set.check = Some(parsed);
        }
        if let Some(p) = &r.pattern {
            set = set
                .with_pattern(p.get_ref())
                .map_err(|e| self.at(p, &key("pattern"), e.to_string()))?;
        }
        Ok(set)
    }
}

/// Validates every `[rules.NAME]`, by name.
pub(super) fn validate(
    v: &Validator,
    raw: &BTreeMap<Spanned<String>, RawRules>,
) -> Result<BTreeMap<String, Arc<RuleSet>>, ConfigError> {
    let mut rule_sets = BTreeMap::new();
    for (name, r) in raw {
        rule_sets.insert(name.get_ref().clone(), Arc::new(v.rule_set(name, r)?));
    }
    Ok(rule_sets)
}
