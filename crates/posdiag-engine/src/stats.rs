//! Statistics over repeated probes: loss, round-trip percentiles and jitter,
//! the way network probers (ping, blackbox exporter, smokeping) report them.

use std::time::Duration;

/// Summary of a series of attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Attempts made.
    pub attempts: u32,
    /// Attempts that failed.
    pub failures: u32,
    /// Round-trip times of the successful attempts, in order of attempt.
    pub rtts: Vec<Duration>,
}

impl Series {
    /// Failed share of the attempts (0 when nothing was attempted).
    pub fn loss_ratio(&self) -> f64 {
        if self.attempts == 0 {
            0.0
        } else {
            f64::from(self.failures) / f64::from(self.attempts)
        }
    }

    /// The `p`-th percentile (0..=100) of the round trips by the nearest-rank
    /// method, `None` without successful attempts.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        let mut sorted = self.rtts.clone();
        sorted.sort();
        percentile_sorted(&sorted, p)
    }

    /// Largest round trip.
    pub fn max(&self) -> Option<Duration> {
        self.rtts.iter().max().copied()
    }

    /// Smallest round trip.
    pub fn min(&self) -> Option<Duration> {
        self.rtts.iter().min().copied()
    }

    /// Mean absolute difference between consecutive round trips (the
    /// inter-packet delay variation of RFC 3393, averaged), `None` with fewer
    /// than two successes.
    pub fn jitter(&self) -> Option<Duration> {
        if self.rtts.len() < 2 {
            return None;
        }
        let total: f64 = self
            .rtts
            .windows(2)
            .map(|w| (w[1].as_secs_f64() - w[0].as_secs_f64()).abs())
            .sum();
        Some(Duration::from_secs_f64(
            total / (self.rtts.len() - 1) as f64,
        ))
    }
}

fn percentile_sorted(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let s = Series {
            attempts: 10,
            failures: 0,
            rtts: ms(&[10, 1, 9, 2, 8, 3, 7, 4, 6, 5]),
        };
        assert_eq!(s.percentile(50.0), Some(Duration::from_millis(5)));
        assert_eq!(s.percentile(95.0), Some(Duration::from_millis(10)));
        assert_eq!(s.percentile(0.0), Some(Duration::from_millis(1)));
        assert_eq!(s.max(), Some(Duration::from_millis(10)));
        assert_eq!(s.min(), Some(Duration::from_millis(1)));
    }

    #[test]
    fn loss_is_the_failed_share() {
        let s = Series {
            attempts: 8,
            failures: 2,
            rtts: ms(&[1; 6]),
        };
        assert_eq!(s.loss_ratio(), 0.25);
        assert_eq!(
            Series {
                attempts: 0,
                failures: 0,
                rtts: vec![]
            }
            .loss_ratio(),
            0.0
        );
    }

    #[test]
    fn jitter_is_the_mean_change_between_consecutive_round_trips() {
        let s = Series {
            attempts: 4,
            failures: 0,
            rtts: ms(&[10, 30, 20, 20]),
        };
        // |30-10| + |20-30| + |20-20| = 30 over 3 steps.
        assert_eq!(s.jitter(), Some(Duration::from_millis(10)));
        let steady = Series {
            attempts: 3,
            failures: 0,
            rtts: ms(&[5, 5, 5]),
        };
        assert_eq!(steady.jitter(), Some(Duration::ZERO));
        assert_eq!(
            Series {
                attempts: 1,
                failures: 0,
                rtts: ms(&[5])
            }
            .jitter(),
            None
        );
    }

    #[test]
    fn no_successes_means_no_percentiles() {
        let s = Series {
            attempts: 3,
            failures: 3,
            rtts: vec![],
        };
        assert_eq!(s.percentile(50.0), None);
        assert_eq!(s.loss_ratio(), 1.0);
    }
}
