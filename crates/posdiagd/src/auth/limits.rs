//! Per-principal limits on the expensive calls (`[limits]`): how many run
//! at once and how many start per minute (a token bucket that refills
//! continuously). A caller over its limit is told when to come back; the
//! others are not slowed by it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use posdiag_core::Text;

use crate::config::Limits;

/// The state of every principal that made an expensive call recently.
#[derive(Debug, Default)]
pub struct Limiter {
    principals: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    active: u32,
    tokens: f64,
    at: Instant,
}

/// Why a call was not admitted, and when to try again.
#[derive(Debug, Clone, PartialEq)]
pub struct Over {
    /// What the caller hit.
    pub why: Text,
    /// When a retry may succeed.
    pub retry_after: Duration,
}

/// A slot held while an admitted call runs (to the end of its answer).
#[derive(Debug)]
pub struct Permit {
    limiter: Arc<Limiter>,
    principal: String,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Ok(mut map) = self.limiter.principals.lock()
            && let Some(b) = map.get_mut(&self.principal)
        {
            b.active = b.active.saturating_sub(1);
        }
    }
}

/// Principals remembered at most; idle ones are forgotten first.
const MAX_PRINCIPALS: usize = 4096;

impl Limiter {
    /// Admits one expensive call of `principal` at `now`, or says why not.
    /// A limit of 0 means unlimited.
    pub fn admit(
        self: &Arc<Self>,
        principal: &str,
        limits: &Limits,
        now: Instant,
    ) -> Result<Permit, Over> {
        let Ok(mut map) = self.principals.lock() else {
            // A poisoned lock: limits cannot be kept, calls are not refused for it.
            return Ok(Permit {
                limiter: self.clone(),
                principal: principal.to_owned(),
            });
        };
        let rate = f64::from(limits.per_minute) / 60.0;
        let burst = f64::from(limits.per_minute.max(1));
        if map.len() >= MAX_PRINCIPALS && !map.contains_key(principal) {
            map.retain(|_, b| b.active > 0 || b.tokens < burst);
        }
        let b = map.entry(principal.to_owned()).or_insert(Bucket {
            active: 0,
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.at = now;
        if limits.concurrent > 0 && b.active >= limits.concurrent {
            return Err(Over {
                why: Text::new(
                    format!(
                        "{} calls of this caller are already running ([limits] concurrent_per_principal = {})",
                        b.active, limits.concurrent
                    ),
                    format!(
                        "该调用方已有 {} 个调用在运行（[limits] concurrent_per_principal = {}）",
                        b.active, limits.concurrent
                    ),
                ),
                retry_after: Duration::from_secs(1),
            });
        }
        if limits.per_minute > 0 {
            if b.tokens < 1.0 {
                let wait = (1.0 - b.tokens) / rate;
                return Err(Over {
                    why: Text::new(
                        format!(
                            "this caller started more than {} expensive calls in the last minute ([limits] calls_per_minute)",
                            limits.per_minute
                        ),
                        format!(
                            "该调用方在最近一分钟内发起的耗时调用超过 {} 个（[limits] calls_per_minute）",
                            limits.per_minute
                        ),
                    ),
                    retry_after: Duration::from_secs_f64(wait.clamp(0.001, 3600.0)),
                });
            }
            b.tokens -= 1.0;
        }
        b.active += 1;
        Ok(Permit {
            limiter: self.clone(),
            principal: principal.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(concurrent: u32, per_minute: u32) -> Limits {
        Limits {
            concurrent,
            per_minute,
            ..Limits::default()
        }
    }

    #[test]
    fn concurrent_calls_are_bounded_per_principal_and_freed_when_done() {
        let l = Arc::new(Limiter::default());
        let t0 = Instant::now();
        let lim = limits(2, 0);
        let a = l.admit("alice", &lim, t0).expect("first");
        let _b = l.admit("alice", &lim, t0).expect("second");
        let over = l.admit("alice", &lim, t0).expect_err("third");
        assert!(
            over.why.en.contains("concurrent_per_principal = 2"),
            "{over:?}"
        );
        // Someone else is not slowed by alice.
        let _c = l.admit("bob", &lim, t0).expect("bob");
        drop(a);
        l.admit("alice", &lim, t0).expect("a slot was freed");
    }

    #[test]
    fn the_rate_refills_over_time_and_says_when() {
        let l = Arc::new(Limiter::default());
        let t0 = Instant::now();
        let lim = limits(0, 60);
        for _ in 0..60 {
            drop(l.admit("pos", &lim, t0).expect("within the burst"));
        }
        let over = l.admit("pos", &lim, t0).expect_err("over the rate");
        assert!(over.retry_after > Duration::ZERO && over.retry_after <= Duration::from_secs(1));
        assert!(over.why.zh.contains("60"), "{over:?}");
        l.admit("pos", &lim, t0 + Duration::from_secs(1))
            .expect("one call a second refills");
    }
}
