//! Which built-in checks a run includes: the terminal's link
//! (`terminal.link`) and the host checks. The host checks build on each
//! other (no TCP without an address, no TLS without TCP), so asking for one
//! includes the ones before it.

use posdiag_core::checks;

use crate::EngineError;

/// A selection of the built-in checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckSet {
    /// Index into [`checks::HOST_ALL`] of the last host check included;
    /// `None` for no host check.
    last: Option<usize>,
    /// Whether `terminal.link` runs.
    link: bool,
}

impl CheckSet {
    /// Every check.
    pub fn all() -> CheckSet {
        CheckSet {
            last: Some(checks::HOST_ALL.len() - 1),
            link: true,
        }
    }

    /// No built-in check (plugin checks only).
    pub fn none() -> CheckSet {
        CheckSet {
            last: None,
            link: false,
        }
    }

    /// Only `terminal.link`.
    pub fn link_only() -> CheckSet {
        CheckSet {
            last: None,
            link: true,
        }
    }

    /// Every check id, in the order a run performs them.
    pub fn known() -> Vec<String> {
        std::iter::once(checks::TERMINAL_LINK)
            .chain(checks::HOST_ALL.iter().copied())
            .map(str::to_owned)
            .collect()
    }

    /// The checks named by `ids` and those they build on; all checks when
    /// `ids` is empty.
    pub fn from_ids<S: AsRef<str>>(ids: &[S]) -> Result<CheckSet, EngineError> {
        if ids.is_empty() {
            return Ok(CheckSet::all());
        }
        let mut set = CheckSet {
            last: None,
            link: false,
        };
        for id in ids {
            let id = id.as_ref();
            if id == checks::TERMINAL_LINK {
                set.link = true;
                continue;
            }
            let pos = checks::HOST_ALL
                .iter()
                .position(|c| *c == id)
                .ok_or_else(|| EngineError::UnknownCheck {
                    id: id.to_owned(),
                    known: CheckSet::known(),
                })?;
            set.last = Some(set.last.map_or(pos, |l| l.max(pos)));
        }
        Ok(set)
    }

    /// Whether the run includes `check`.
    pub fn contains(&self, check: &str) -> bool {
        if check == checks::TERMINAL_LINK {
            return self.link;
        }
        checks::HOST_ALL
            .iter()
            .position(|c| *c == check)
            .is_some_and(|p| self.last.is_some_and(|l| p <= l))
    }

    /// Whether any host check is included.
    pub fn any_host(&self) -> bool {
        self.last.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asking_for_a_check_includes_what_it_builds_on() {
        let s = CheckSet::from_ids(&["host.tls"]).unwrap();
        assert!(s.contains("host.dns") && s.contains("host.tcp") && s.contains("host.tls"));
        assert!(!s.contains("host.exchange"));
        assert!(!s.contains("terminal.link"));
        let all = CheckSet::from_ids::<&str>(&[]).unwrap();
        assert!(all.contains("host.exchange") && all.contains("terminal.link"));
        let link = CheckSet::from_ids(&["terminal.link"]).unwrap();
        assert!(link.contains("terminal.link") && !link.any_host());
    }

    #[test]
    fn an_unknown_check_names_the_known_ones() {
        let err = CheckSet::from_ids(&["host.ping"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown check \"host.ping\"; known checks: terminal.link, host.dns, host.tcp, host.tls, host.exchange"
        );
    }
}
