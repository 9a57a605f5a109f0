//! The echo statistics on fixed numbers: nearest-rank percentiles, jitter as the mean
//! absolute difference of consecutive round trips, and the loss ratio.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use posdiag_plugin_iso8583::stats::{loss_ratio, nearest_rank, rtt_stats};

#[test]
fn percentiles_use_the_nearest_rank() {
    let sorted: Vec<f64> = (1..=20).map(f64::from).collect();
    // ⌈0.5 × 20⌉ = 10, ⌈0.95 × 20⌉ = 19.
    assert_eq!(nearest_rank(&sorted, 50), Some(10.0));
    assert_eq!(nearest_rank(&sorted, 95), Some(19.0));
    assert_eq!(nearest_rank(&sorted, 100), Some(20.0));
    assert_eq!(nearest_rank(&sorted, 0), Some(1.0));
    // ⌈0.95 × 5⌉ = 5: with few samples p95 is the maximum.
    assert_eq!(nearest_rank(&[1.0, 2.0, 3.0, 4.0, 5.0], 95), Some(5.0));
    assert_eq!(nearest_rank(&[1.0, 2.0, 3.0, 4.0, 5.0], 50), Some(3.0));
    assert_eq!(nearest_rank(&[7.0], 95), Some(7.0));
    assert_eq!(nearest_rank(&[], 50), None);
}

#[test]
fn rtt_stats_sort_for_percentiles_but_keep_the_order_for_jitter() {
    // Sent in this order: |30-10| + |20-30| + |40-20| = 50 over 3 pairs.
    let s = rtt_stats(&[10.0, 30.0, 20.0, 40.0]).unwrap();
    assert_eq!((s.min, s.p50, s.p95, s.max), (10.0, 20.0, 40.0, 40.0));
    assert!((s.jitter - 50.0 / 3.0).abs() < 1e-9);

    let one = rtt_stats(&[12.5]).unwrap();
    assert_eq!(
        (one.min, one.p50, one.p95, one.max, one.jitter),
        (12.5, 12.5, 12.5, 12.5, 0.0)
    );
    assert!(rtt_stats(&[]).is_none());
}

#[test]
fn loss_is_the_unanswered_share_of_what_was_sent() {
    assert_eq!(loss_ratio(5, 5), 0.0);
    assert_eq!(loss_ratio(5, 3), 0.4);
    assert_eq!(loss_ratio(5, 0), 1.0);
    assert_eq!(loss_ratio(0, 0), 0.0);
}
