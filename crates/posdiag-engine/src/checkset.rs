//! Which built-in checks a run includes. The host checks build on each
//! other (no TCP without an address, no TLS without TCP), so asking for one
//! includes the ones before it.

use posdiag_core::checks;

use crate::EngineError;

/// A selection of the built-in host checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckSet {
    /// Index into [`checks::HOST_ALL`] of the last check included.
    last: usize,
}

impl CheckSet {
    /// Every check.
    pub fn all() -> CheckSet {
        CheckSet {
            last: checks::HOST_ALL.len() - 1,
        }
    }

    /// The checks named by `ids` and those they build on; all checks when
    /// `ids` is empty.
    pub fn from_ids<S: AsRef<str>>(ids: &[S]) -> Result<CheckSet, EngineError> {
        if ids.is_empty() {
            return Ok(CheckSet::all());
        }
        let mut last = 0;
        for id in ids {
            let id = id.as_ref();
            let pos = checks::HOST_ALL
                .iter()
                .position(|c| *c == id)
                .ok_or_else(|| EngineError::UnknownCheck {
                    id: id.to_owned(),
                    known: checks::HOST_ALL.iter().map(|c| (*c).to_owned()).collect(),
                })?;
            last = last.max(pos);
        }
        Ok(CheckSet { last })
    }

    /// Whether the run includes `check`.
    pub fn contains(&self, check: &str) -> bool {
        checks::HOST_ALL
            .iter()
            .position(|c| *c == check)
            .is_some_and(|p| p <= self.last)
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
        assert!(
            CheckSet::from_ids::<&str>(&[])
                .unwrap()
                .contains("host.exchange")
        );
    }

    #[test]
    fn an_unknown_check_names_the_known_ones() {
        let err = CheckSet::from_ids(&["host.ping"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown check \"host.ping\"; known checks: host.dns, host.tcp, host.tls, host.exchange"
        );
    }
}
