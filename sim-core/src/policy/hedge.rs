//! Hedged requests: if the first attempt has not answered after a while,
//! send a second one to another replica and take whichever answers first.
//! A small fraction of extra load buys a much shorter tail.
//!
//! Reference: J. Dean and L. A. Barroso, "The Tail at Scale",
//! Communications of the ACM 56(2), 2013 ("defer sending a secondary
//! request until the first has been outstanding for more than the
//! 95th-percentile expected latency").
//!
//! Decision: how long to wait before the hedge, given what this caller has
//! observed. State: none beyond the caller's latency histogram. Metrics
//! (kept by the caller): hedges sent, and hedges that answered first.

use crate::metrics::Histogram;
use crate::time::SimDuration;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HedgeAfter {
    /// A fixed delay.
    Fixed(SimDuration),
    /// The observed latency at this quantile (0 to 1) of the caller's
    /// successful attempts so far; until `warmup` have been seen, `initial`.
    Quantile {
        q: f64,
        initial: SimDuration,
        warmup: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HedgeConfig {
    pub after: HedgeAfter,
    /// Extra attempts at most per logical call (1: one hedge).
    pub max_hedges: u32,
}

impl HedgeConfig {
    /// The delay before a hedge, given the latencies observed so far.
    pub fn delay(&self, observed: &Histogram) -> SimDuration {
        match self.after {
            HedgeAfter::Fixed(d) => d,
            HedgeAfter::Quantile { q, initial, warmup } => {
                if observed.count() < warmup {
                    initial
                } else {
                    observed
                        .quantile(q)
                        .map_or(initial, SimDuration::from_nanos)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quantile_hedge_waits_for_data_then_follows_it() {
        let cfg = HedgeConfig {
            after: HedgeAfter::Quantile {
                q: 0.95,
                initial: SimDuration::from_millis(50),
                warmup: 100,
            },
            max_hedges: 1,
        };
        let mut h = Histogram::new();
        assert_eq!(cfg.delay(&h), SimDuration::from_millis(50));
        for i in 1..=100u64 {
            h.record(i * 1_000_000); // 1ms .. 100ms
        }
        let d = cfg.delay(&h).as_nanos() as f64 / 1e6;
        assert!((d - 95.0).abs() < 1.0, "{d}ms");
        let fixed = HedgeConfig {
            after: HedgeAfter::Fixed(SimDuration::from_millis(7)),
            max_hedges: 1,
        };
        assert_eq!(fixed.delay(&h), SimDuration::from_millis(7));
    }
}
