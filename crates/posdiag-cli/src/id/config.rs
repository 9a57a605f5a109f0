//! The part of the daemon's configuration the local modes need: the
//! `[rules.NAME]` tables and each terminal's `id` and `id_rules`, read with
//! structs of their own that skip every other key. An offline validation
//! then does not depend on the rest of the file being valid (a `ca_file`
//! that is missing on this machine, a host table for a newer daemon); what
//! it does read is validated as the daemon validates it
//! (`posdiag_api::rules`), with errors at `FILE:LINE:COLUMN: KEY`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use posdiag_api::rules::{self, RawRules};
use posdiag_ids::RuleSet;
use serde::Deserialize;
use toml::Spanned;

use super::{DEFAULT_CONFIG, IdError};
use crate::error::IoCause;

/// Longest daemon configuration read. Real ones are a few KiB; the bound
/// keeps `--config /dev/zero` from filling memory.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// The file, as far as identifier rules go. Other keys are ignored.
#[derive(Debug, Deserialize)]
struct RulesFile {
    #[serde(default)]
    rules: BTreeMap<Spanned<String>, RawRules>,
    #[serde(default)]
    terminals: Vec<TerminalRules>,
}

/// A `[[terminals]]` entry, as far as identifier rules go.
#[derive(Debug, Deserialize)]
struct TerminalRules {
    id: String,
    id_rules: Option<Spanned<String>>,
}

/// The file's rule sets and which terminal uses which.
#[derive(Debug)]
struct Rules {
    sets: BTreeMap<String, Arc<RuleSet>>,
    /// Every terminal, in file order, with its `id_rules` (and where it is).
    terminals: Vec<(String, Option<Spanned<String>>)>,
}

/// `FILE:LINE:COLUMN: KEY: message`, as the daemon's config errors read.
fn located(
    file: &str,
    text: &str,
    span: Option<std::ops::Range<usize>>,
    key: &str,
    message: &str,
) -> IdError {
    let at = match span {
        Some(s) => {
            let (line, col) = rules::line_col(text, s.start);
            format!(":{line}:{col}")
        }
        None => String::new(),
    };
    IdError::Config(format!("{file}{at}: {key}: {message}"))
}

/// Reads `path` with a bound and parses what identifier rules need.
fn load(path: &Path) -> Result<Rules, IdError> {
    use std::io::Read;
    let file = path.display().to_string();
    let open_err = |e: std::io::Error| {
        IdError::Config(format!(
            "{file}: cannot read the configuration: {}",
            IoCause::from_error(&e).text
        ))
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(open_err)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| IdError::Read {
            path: file.clone(),
            cause: IoCause::from_error(&e),
        })?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(IdError::ConfigTooLarge { path: file });
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        IdError::Config(format!(
            "{file}: not UTF-8 text (at byte {})",
            e.utf8_error().valid_up_to() + 1
        ))
    })?;
    let raw: RulesFile = toml::from_str(&text).map_err(|e| {
        let span = e.span();
        let key = span
            .as_ref()
            .map(|s| rules::key_at(&text, s.start))
            .unwrap_or_default();
        located(&file, &text, span, &key, e.message().trim_end())
    })?;
    let mut sets = BTreeMap::new();
    for (name, r) in &raw.rules {
        let set = rules::rule_set(name, r)
            .map_err(|e| located(&file, &text, e.span, &e.key, &e.message))?;
        sets.insert(name.get_ref().clone(), Arc::new(set));
    }
    for (i, t) in raw.terminals.iter().enumerate() {
        if let Some(r) = &t.id_rules
            && !sets.contains_key(r.get_ref())
        {
            let message = rules::no_such_rule_set(r.get_ref(), sets.keys().map(String::as_str));
            return Err(located(
                &file,
                &text,
                Some(r.span()),
                &format!("terminals[{i}].id_rules"),
                &message,
            ));
        }
    }
    Ok(Rules {
        sets,
        terminals: raw
            .terminals
            .into_iter()
            .map(|t| (t.id, t.id_rules))
            .collect(),
    })
}

/// The rule set to apply in a local mode: by name, or the one a terminal
/// names, read from the daemon's configuration. `None` without either.
pub fn local_rule_set(
    config: Option<&Path>,
    rules: Option<&str>,
    terminal: Option<&str>,
) -> Result<Option<Arc<RuleSet>>, IdError> {
    if rules.is_none() && terminal.is_none() {
        return Ok(None);
    }
    let path = config.unwrap_or(Path::new(DEFAULT_CONFIG));
    let cfg = load(path)?;
    let origin = path.display().to_string();
    let name = match (rules, terminal) {
        (Some(name), _) => name.to_owned(),
        (None, Some(id)) => match cfg.terminals.iter().find(|(t, _)| t == id) {
            Some((_, Some(name))) => name.get_ref().clone(),
            Some((_, None)) => {
                return Err(IdError::TerminalWithoutRules {
                    id: id.to_owned(),
                    config: origin,
                });
            }
            None => {
                return Err(IdError::UnknownTerminal {
                    id: id.to_owned(),
                    config: origin,
                    known: cfg.terminals.iter().map(|(t, _)| t.clone()).collect(),
                });
            }
        },
        (None, None) => return Ok(None),
    };
    match cfg.sets.get(&name) {
        Some(set) => Ok(Some(Arc::clone(set))),
        None => Err(IdError::UnknownRules {
            name,
            config: origin,
            known: cfg.sets.keys().cloned().collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("posdiagd.toml");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn keys_the_local_modes_do_not_read_do_not_matter() {
        let (_d, path) = write(
            "[daemon]\nlisten = 42\n[hosts.a]\naddress = \"x\"\n[hosts.a.tls]\nca_file = \"/nonexistent/ca.pem\"\n\
             [rules.c]\nmin_length = 12\nmax_length = 12\n[[terminals]]\nid = \"T1\"\nid_rules = \"c\"\nbogus = true\n",
        );
        let set = local_rule_set(Some(&path), None, Some("T1"))
            .expect("valid")
            .expect("a set");
        assert_eq!(set.name, "c");
    }

    #[test]
    fn errors_in_what_is_read_name_file_line_column_and_key() {
        let (_d, path) = write("[rules.c]\nmin_length = 13\nmax_length = 12\n");
        let e = local_rule_set(Some(&path), Some("c"), None).expect_err("min > max");
        let IdError::Config(m) = e else {
            panic!("{e:?}")
        };
        assert_eq!(
            m,
            format!(
                "{}:2:14: rules.c.min_length: 13 is above max_length 12",
                path.display()
            )
        );
        let (_d, path) = write("[rules.c]\nmin_length = \"twelve\"\n");
        let IdError::Config(m) = local_rule_set(Some(&path), Some("c"), None).expect_err("type")
        else {
            panic!()
        };
        assert!(m.contains(":2:14: rules.c.min_length: "), "{m}");
        let (_d, path) = write("[rules.c]\n[[terminals]]\nid = \"T1\"\nid_rules = \"d\"\n");
        let IdError::Config(m) =
            local_rule_set(Some(&path), Some("c"), None).expect_err("undefined")
        else {
            panic!()
        };
        assert!(
            m.ends_with(":4:12: terminals[0].id_rules: no rule set called \"d\" is defined; defined rule sets: c"),
            "{m}"
        );
    }
}
