//! `[codes] dir`: vendor code tables (`*.tsv`, the format of
//! `crates/posdiag-codes/data/README.md`) loaded at start-up. A bad file is
//! rejected with its file, line and problem; the others and the built-in
//! tables keep working. A table that is not a regular file (a FIFO, a
//! device) or is over `posdiag_fs::CODE_TABLE`'s size is rejected the same
//! way, before a byte is read.

use std::path::Path;

use posdiag_codes::KnowledgeBase;
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Validator};

/// The built-in tables plus every valid vendor table in `dir`, and one
/// message per file that was rejected.
pub(super) fn load_dir(dir: &Path) -> (KnowledgeBase, Vec<String>) {
    let mut kb = KnowledgeBase::builtin();
    let mut warnings = Vec::new();
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
            .collect(),
        Err(e) => {
            warnings.push(format!("{}: cannot list the directory: {e}", dir.display()));
            return (kb, warnings);
        }
    };
    files.sort();
    for path in files {
        let origin = path.display().to_string();
        let loaded = posdiag_fs::read_to_string_bounded(&path, posdiag_fs::CODE_TABLE)
            .map_err(|e| format!("{} {e}", posdiag_core::quote(&origin)))
            .and_then(|text| posdiag_codes::parse_table(&text, &origin).map_err(|e| e.to_string()))
            .and_then(|table| kb.add_vendor_table(table).map_err(|e| e.to_string()));
        match loaded {
            Ok(None) => {}
            Ok(Some(old)) => warnings.push(format!(
                "{origin}: replaces the earlier table for {}",
                old.scheme.name()
            )),
            Err(message) => warnings.push(message),
        }
    }
    (kb, warnings)
}

/// `[codes]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCodes {
    dir: Option<Spanned<String>>,
}

/// The code knowledge base `[codes]` asks for: the built-in tables, plus
/// the vendor tables of `dir` (taken from `base` when relative). A rejected
/// table is a warning; the others load.
pub(super) fn validate(
    v: &Validator,
    raw: &RawCodes,
    base: &Path,
) -> Result<KnowledgeBase, ConfigError> {
    let Some(d) = &raw.dir else {
        return Ok(KnowledgeBase::builtin());
    };
    let dir = base.join(d.get_ref());
    if !dir.is_dir() {
        return Err(v.at(
            d,
            "codes.dir",
            format!("{} is not a directory", dir.display()),
        ));
    }
    let (codes, rejected) = load_dir(&dir);
    for r in rejected {
        v.warn(
            Some(d.span()),
            "codes.dir",
            format!("vendor code table rejected: {r}"),
        );
    }
    Ok(codes)
}
