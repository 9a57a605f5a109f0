//! `[rules.NAME]` tables: what an acquirer or a terminal accepts as a
//! customer ID. The tables and their checks live in `posdiag_api::rules`,
//! shared with the CLI's local modes; here their errors get the file's
//! line and column.

use std::collections::BTreeMap;
use std::sync::Arc;

use posdiag_api::rules::RawRules;
use posdiag_ids::RuleSet;
use toml::Spanned;

use super::{ConfigError, Validator};

/// Validates every `[rules.NAME]`, by name.
pub(super) fn validate(
    v: &Validator,
    raw: &BTreeMap<Spanned<String>, RawRules>,
) -> Result<BTreeMap<String, Arc<RuleSet>>, ConfigError> {
    let mut rule_sets = BTreeMap::new();
    for (name, r) in raw {
        let set =
            posdiag_api::rules::rule_set(name, r).map_err(|e| v.err(e.span, &e.key, e.message))?;
        rule_sets.insert(name.get_ref().clone(), Arc::new(set));
    }
    Ok(rule_sets)
}
