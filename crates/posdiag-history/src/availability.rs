//! Availability from a series of verdicts: the share of OK runs, outages
//! (a stretch from a CRITICAL or ERROR verdict to the next OK or WARNING),
//! the longest one, the mean time to recover and a timeline of the worst
//! verdict per bucket. Pure: the reader feeds it rows.

use std::time::{Duration, SystemTime};

use posdiag_core::Verdict;

/// One verdict at one time.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// The verdict.
    pub verdict: Verdict,
}

/// Availability of one check and subject, or of a terminal as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckAvailability {
    /// The check; empty for the terminal as a whole.
    pub check: String,
    /// The subject; empty for the terminal as a whole.
    pub subject: String,
    /// Runs in the window.
    pub runs: u64,
    /// Of those, OK.
    pub ok_runs: u64,
    /// Outages that began in the window.
    pub outages: u32,
    /// The longest outage overlapping the window.
    pub longest_outage: Duration,
    /// Mean length of the outages that ended in the window.
    pub mean_time_to_recover: Option<Duration>,
    /// When the verdict last changed.
    pub last_change: Option<SystemTime>,
    /// The latest verdict.
    pub current: Option<Verdict>,
    /// Worst verdict per bucket, oldest first.
    pub timeline: Vec<Option<Verdict>>,
}

impl CheckAvailability {
    /// ok_runs / runs (0 without runs).
    pub fn ok_ratio(&self) -> f64 {
        if self.runs == 0 {
            0.0
        } else {
            self.ok_runs as f64 / self.runs as f64
        }
    }
}

/// Availability of a terminal over a window.
#[derive(Debug, Clone)]
pub struct Availability {
    /// Start of the window.
    pub from: SystemTime,
    /// End of the window.
    pub to: SystemTime,
    /// One timeline bucket.
    pub bucket: Duration,
    /// The terminal as a whole (absent when one check was asked for).
    pub overall: Option<CheckAvailability>,
    /// Per check and subject.
    pub checks: Vec<CheckAvailability>,
}

fn failing(v: Verdict) -> bool {
    matches!(v, Verdict::Critical | Verdict::Error)
}

fn healthy(v: Verdict) -> bool {
    matches!(v, Verdict::Ok | Verdict::Warning)
}

fn dur(ms: i64) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}

/// Computes availability over `[from_ms, to_ms)` from `samples` (in time
/// order, inside the window) and the state before the window (`before`:
/// the verdict then and since when).
pub fn compute(
    samples: &[Sample],
    before: Option<(Verdict, i64)>,
    from_ms: i64,
    to_ms: i64,
    bucket_ms: i64,
    last_change_ms: Option<i64>,
) -> CheckAvailability {
    let buckets = if bucket_ms > 0 {
        ((to_ms - from_ms).max(0) + bucket_ms - 1) / bucket_ms
    } else {
        0
    } as usize;
    let mut timeline: Vec<Option<Verdict>> = vec![None; buckets];
    let mut open: Option<i64> = before.filter(|(v, _)| failing(*v)).map(|(_, since)| since);
    let mut current = before.map(|(v, _)| v);
    let (mut runs, mut ok_runs, mut outages) = (0u64, 0u64, 0u32);
    let mut longest = 0i64;
    let mut closed: Vec<i64> = Vec::new();
    for s in samples {
        runs += 1;
        if s.verdict == Verdict::Ok {
            ok_runs += 1;
        }
        if bucket_ms > 0 && s.at_ms >= from_ms {
            let i = ((s.at_ms - from_ms) / bucket_ms) as usize;
            if let Some(slot) = timeline.get_mut(i) {
                *slot = Verdict::worst(slot.iter().copied().chain([s.verdict]));
            }
        }
        if failing(s.verdict) && open.is_none() {
            open = Some(s.at_ms);
            outages += 1;
        } else if healthy(s.verdict)
            && let Some(start) = open.take()
        {
            let d = s.at_ms - start;
            longest = longest.max(d);
            closed.push(d);
        }
        current = Some(s.verdict);
    }
    if let Some(start) = open {
        longest = longest.max(to_ms - start);
    }
    let mttr = if closed.is_empty() {
        None
    } else {
        Some(dur(closed.iter().sum::<i64>() / closed.len() as i64))
    };
    CheckAvailability {
        check: String::new(),
        subject: String::new(),
        runs,
        ok_runs,
        outages,
        longest_outage: dur(longest),
        mean_time_to_recover: mttr,
        last_change: last_change_ms.map(crate::record::time),
        current,
        timeline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(at_ms: i64, verdict: Verdict) -> Sample {
        Sample { at_ms, verdict }
    }

    #[test]
    fn outages_run_from_the_first_failure_to_the_next_healthy_verdict() {
        use Verdict::*;
        let samples = [
            s(0, Ok),
            s(10, Critical),
            s(20, Error),
            s(30, Unknown),
            s(40, Ok),
            s(50, Warning),
            s(60, Critical),
            s(90, Ok),
        ];
        let a = compute(&samples, None, 0, 100, 25, Some(90));
        assert_eq!((a.runs, a.ok_runs, a.outages), (8, 3, 2));
        assert_eq!(a.longest_outage, Duration::from_millis(30));
        assert_eq!(a.mean_time_to_recover, Some(Duration::from_millis(30)));
        assert_eq!(a.current, Some(Ok));
        assert_eq!(
            a.timeline,
            vec![Some(Critical), Some(Unknown), Some(Critical), Some(Ok)]
        );
    }

    #[test]
    fn an_outage_open_before_the_window_counts_from_its_start_and_to_the_end() {
        use Verdict::*;
        // Failing since t=-500, still failing: not counted as begun in the
        // window, but its length runs to the window's end.
        let a = compute(&[s(10, Critical)], Some((Critical, -500)), 0, 100, 50, None);
        assert_eq!(a.outages, 0);
        assert_eq!(a.longest_outage, Duration::from_millis(600));
        assert_eq!(a.mean_time_to_recover, None);
        // Recovered in the window: its whole length is a recovery time.
        let a = compute(&[s(40, Ok)], Some((Error, -60)), 0, 100, 50, None);
        assert_eq!(a.mean_time_to_recover, Some(Duration::from_millis(100)));
        assert_eq!(a.timeline, vec![Some(Ok), None]);
    }

    #[test]
    fn without_samples_the_current_verdict_is_the_one_before() {
        let a = compute(&[], Some((Verdict::Warning, 5)), 10, 20, 5, None);
        assert_eq!(a.runs, 0);
        assert_eq!(a.ok_ratio(), 0.0);
        assert_eq!(a.current, Some(Verdict::Warning));
        assert_eq!(a.timeline, vec![None, None]);
    }
}
