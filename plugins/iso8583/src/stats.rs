//! Statistics of one echo run: loss ratio, round-trip percentiles by nearest rank and jitter.
//!
//! Kept free of I/O and clocks so the arithmetic can be tested on fixed numbers.

/// Round-trip summary of the answered echoes, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RttStats {
    /// Fastest round trip.
    pub min: f64,
    /// Median, nearest rank.
    pub p50: f64,
    /// 95th percentile, nearest rank.
    pub p95: f64,
    /// Slowest round trip.
    pub max: f64,
    /// Mean absolute difference of consecutive round trips, in the order the echoes were
    /// sent (0 with fewer than two answers).
    pub jitter: f64,
}

/// The `percent`th percentile of `sorted` (ascending) by nearest rank: the value at rank
/// ⌈percent/100 × n⌉, at least rank 1. `None` for an empty slice.
pub fn nearest_rank(sorted: &[f64], percent: u32) -> Option<f64> {
    let n = sorted.len();
    // Integer arithmetic: the rank is exact, no float rounding at the boundaries.
    let rank = (usize::try_from(percent).ok()?.saturating_mul(n))
        .div_ceil(100)
        .clamp(1, n.max(1));
    sorted.get(rank - 1).copied()
}

/// The statistics of `rtts_ms`, given in the order the echoes were sent; `None` if empty.
pub fn rtt_stats(rtts_ms: &[f64]) -> Option<RttStats> {
    let mut sorted = rtts_ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let jitter = if rtts_ms.len() < 2 {
        0.0
    } else {
        let total: f64 = rtts_ms.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
        // At most 100 echoes: the count converts to f64 exactly.
        #[allow(clippy::cast_precision_loss, reason = "small counts")]
        let pairs = (rtts_ms.len() - 1) as f64;
        total / pairs
    };
    Some(RttStats {
        min: *sorted.first()?,
        p50: nearest_rank(&sorted, 50)?,
        p95: nearest_rank(&sorted, 95)?,
        max: *sorted.last()?,
        jitter,
    })
}

/// The share of sent echoes that got no matching answer, 0 when nothing was sent.
pub fn loss_ratio(sent: u32, answered: u32) -> f64 {
    if sent == 0 {
        return 0.0;
    }
    f64::from(sent.saturating_sub(answered)) / f64::from(sent)
}
