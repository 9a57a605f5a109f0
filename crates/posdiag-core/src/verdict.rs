//! The verdict of a check, in the four-state convention monitoring tools
//! share, plus `Error` for a check that could not run.

use std::fmt;

/// How bad a finding is. `Ord` sorts by severity, so the worst verdict of a
/// set of findings is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Works as expected.
    Ok,
    /// The check ran but could not tell (a dependency failed first).
    Unknown,
    /// Works, but a measurement crossed a warning threshold.
    Warning,
    /// The check itself could not run (plugin crashed, port busy).
    Error,
    /// Does not work.
    Critical,
}

impl Verdict {
    /// Exit code in the monitoring-plugin convention (Nagios, Icinga):
    /// 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. `Error` maps to 3, since the
    /// state of the subject is not known.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::Warning => 1,
            Verdict::Critical => 2,
            Verdict::Unknown | Verdict::Error => 3,
        }
    }

    /// Upper-case name as monitoring tools print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Warning => "WARNING",
            Verdict::Critical => "CRITICAL",
            Verdict::Unknown => "UNKNOWN",
            Verdict::Error => "ERROR",
        }
    }

    /// The worst verdict of an iterator, `None` when it is empty.
    pub fn worst(verdicts: impl IntoIterator<Item = Verdict>) -> Option<Verdict> {
        verdicts.into_iter().max()
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_outranks_everything_and_ok_nothing() {
        let all = [
            Verdict::Ok,
            Verdict::Unknown,
            Verdict::Warning,
            Verdict::Error,
            Verdict::Critical,
        ];
        assert_eq!(Verdict::worst(all), Some(Verdict::Critical));
        assert_eq!(
            Verdict::worst([Verdict::Ok, Verdict::Warning]),
            Some(Verdict::Warning)
        );
        assert_eq!(
            Verdict::worst([Verdict::Unknown, Verdict::Ok]),
            Some(Verdict::Unknown)
        );
        assert_eq!(Verdict::worst([]), None);
    }

    #[test]
    fn exit_codes_follow_the_monitoring_plugin_convention() {
        let codes: Vec<u8> = [
            Verdict::Ok,
            Verdict::Warning,
            Verdict::Critical,
            Verdict::Unknown,
            Verdict::Error,
        ]
        .iter()
        .map(|v| v.exit_code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 3, 3]);
    }
}
