//! `[history]`: the durable history file and how much it keeps.

use std::path::{Path, PathBuf};
use std::time::Duration;

use posdiag_history::{Options, Synchronous};
use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Validator};

/// Where the history lives unless `[history] path` says otherwise (the
/// unit's `StateDirectory=posdiag`).
pub const DEFAULT_HISTORY_PATH: &str = "/var/lib/posdiag/history.db";

/// The history file when `[history] path` is unset: `history.db` in the
/// first directory of `STATE_DIRECTORY` (systemd sets it from the unit's
/// `StateDirectory=`, so a drop-in that moves the state moves the history
/// too), else [`DEFAULT_HISTORY_PATH`].
pub fn default_history_path(state_directory: Option<std::ffi::OsString>) -> PathBuf {
    use std::os::unix::ffi::OsStrExt as _;
    state_directory
        .as_deref()
        .and_then(|dirs| dirs.as_bytes().split(|&b| b == b':').next())
        .filter(|first| first.starts_with(b"/"))
        .map(|first| Path::new(std::ffi::OsStr::from_bytes(first)).join("history.db"))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_HISTORY_PATH))
}

/// `[history]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHistory {
    enabled: Option<bool>,
    path: Option<Spanned<String>>,
    retention_days: Option<Spanned<u64>>,
    transitions_retention_days: Option<Spanned<u64>>,
    max_bytes: Option<Spanned<u64>>,
    synchronous: Option<Spanned<String>>,
    batch_window_ms: Option<Spanned<u64>>,
    required: Option<bool>,
}

/// The validated `[history]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryConfig {
    /// `false`: only the bounded in-memory history, nothing on disk.
    pub enabled: bool,
    /// `true`: refuse to start when the file cannot be used.
    pub required: bool,
    /// The store's options (path, retention, size cap, durability, batching).
    pub options: Options,
}

/// Validates `[history]`; a relative `path` is taken from `base`.
pub(super) fn validate(
    v: &Validator,
    raw: &RawHistory,
    base: &Path,
) -> Result<HistoryConfig, ConfigError> {
    let path = match &raw.path {
        None => default_history_path(std::env::var_os("STATE_DIRECTORY")),
        Some(p) if p.get_ref().trim().is_empty() => {
            return Err(v.at(
                p,
                "history.path",
                "is empty; expected the history file's path, e.g. \"/var/lib/posdiag/history.db\"",
            ));
        }
        Some(p) => {
            let path = base.join(p.get_ref());
            if path.is_dir() {
                return Err(v.at(
                    p,
                    "history.path",
                    format!(
                        "{} is a directory; expected a file name in it, e.g. \"{}\"",
                        path.display(),
                        path.join("history.db").display()
                    ),
                ));
            }
            path
        }
    };
    let retention = v.range_u64(&raw.retention_days, "history.retention_days", 1, 3650, 30)?;
    let long = v.range_u64(
        &raw.transitions_retention_days,
        "history.transitions_retention_days",
        1,
        3650,
        365,
    )?;
    if long < retention
        && let Some(s) = &raw.transitions_retention_days
    {
        return Err(v.at(
            s,
            "history.transitions_retention_days",
            format!("{long} is shorter than retention_days ({retention}); status changes and the audit trail are kept at least as long as findings"),
        ));
    }
    // Unset, it follows a retention_days longer than its default.
    let long = long.max(retention);
    let max_bytes = v.range_u64(
        &raw.max_bytes,
        "history.max_bytes",
        1024 * 1024,
        1 << 40,
        256 * 1024 * 1024,
    )?;
    let synchronous = match &raw.synchronous {
        None => Synchronous::Normal,
        Some(s) => match s.get_ref().as_str() {
            "normal" => Synchronous::Normal,
            "full" => Synchronous::Full,
            other => {
                return Err(v.at(
                    s,
                    "history.synchronous",
                    format!("{other:?} is not a mode; expected \"normal\" (survives a crash of posdiagd) or \"full\" (also survives power loss, slower)"),
                ));
            }
        },
    };
    let window = v.range_u64(
        &raw.batch_window_ms,
        "history.batch_window_ms",
        1,
        1000,
        1000,
    )?;
    let mut options = Options::new(path);
    options.retention = Duration::from_secs(retention * 86_400);
    options.transitions_retention = Duration::from_secs(long * 86_400);
    options.max_bytes = max_bytes;
    options.synchronous = synchronous;
    options.batch_window = Duration::from_millis(window);
    Ok(HistoryConfig {
        enabled: raw.enabled.unwrap_or(true),
        required: raw.required.unwrap_or(false),
        options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_history_follows_systemds_state_directory() {
        let cases: &[(Option<&str>, &str)] = &[
            (None, DEFAULT_HISTORY_PATH),
            (Some("/var/lib/posdiag"), "/var/lib/posdiag/history.db"),
            (
                Some("/srv/posdiag:/var/lib/other"),
                "/srv/posdiag/history.db",
            ),
            // Not what systemd sets: the built-in default, never a relative file.
            (Some(""), DEFAULT_HISTORY_PATH),
            (Some("relative/dir"), DEFAULT_HISTORY_PATH),
        ];
        for (env, want) in cases {
            assert_eq!(
                default_history_path(env.map(Into::into)),
                PathBuf::from(want),
                "STATE_DIRECTORY={env:?}"
            );
        }
    }
}
