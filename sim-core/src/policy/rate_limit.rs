//! Rate limiting on the server side: a token bucket or a sliding window,
//! for all callers together (global) or for each caller on its own (per
//! client), so one abusive client cannot take everybody's share.
//!
//! References: the token bucket as in RFC 2697 and most API gateways
//! (tokens refill at a steady rate up to a burst size; a call takes one);
//! the sliding window counter as described by Cloudflare ("How we built
//! rate limiting capable of scaling to millions of domains", 2017): the
//! previous fixed window's count, weighted by its overlap with the sliding
//! window, plus the current window's count.
//!
//! Decision: admit this call or refuse it. State: tokens (or window counts)
//! per key. Metrics (kept by the service): calls refused.

use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limit {
    /// `rate` calls per second on average, bursts of up to `burst`.
    TokenBucket { rate: f64, burst: f64 },
    /// At most `limit` calls in any `window` (approximately).
    SlidingWindow { limit: u64, window: SimDuration },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimitConfig {
    pub limit: Limit,
    /// One limit per caller instead of one for all.
    pub per_client: bool,
}

#[derive(Clone, Debug)]
enum State {
    Bucket {
        tokens: f64,
        at: SimTime,
    },
    Window {
        /// Index of the current fixed window.
        index: u64,
        current: u64,
        previous: u64,
    },
}

impl State {
    fn new(limit: Limit) -> Self {
        match limit {
            Limit::TokenBucket { burst, .. } => State::Bucket {
                tokens: burst,
                at: SimTime::ZERO,
            },
            Limit::SlidingWindow { .. } => State::Window {
                index: 0,
                current: 0,
                previous: 0,
            },
        }
    }

    fn admit(&mut self, limit: Limit, now: SimTime) -> bool {
        match (self, limit) {
            (State::Bucket { tokens, at }, Limit::TokenBucket { rate, burst }) => {
                let elapsed = now.saturating_since(*at).as_nanos() as f64 / 1e9;
                *tokens = (*tokens + elapsed * rate).min(burst);
                *at = now;
                if *tokens >= 1.0 {
                    *tokens -= 1.0;
                    true
                } else {
                    false
                }
            }
            (
                State::Window {
                    index,
                    current,
                    previous,
                },
                Limit::SlidingWindow { limit, window },
            ) => {
                let w = window.as_nanos().max(1);
                let i = now.as_nanos() / w;
                if i != *index {
                    *previous = if i == *index + 1 { *current } else { 0 };
                    *current = 0;
                    *index = i;
                }
                // The share of the sliding window still in the previous one.
                let into = (now.as_nanos() % w) as f64 / w as f64;
                let estimate = *previous as f64 * (1.0 - into) + *current as f64;
                if estimate < limit as f64 {
                    *current += 1;
                    true
                } else {
                    false
                }
            }
            _ => unreachable!("state made for its limit"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RateLimiter {
    cfg: RateLimitConfig,
    /// Key 0 for a global limit, the caller's index for per-client ones.
    states: BTreeMap<u32, State>,
}

impl RateLimiter {
    pub fn new(cfg: RateLimitConfig) -> Self {
        RateLimiter {
            cfg,
            states: BTreeMap::new(),
        }
    }

    /// Admits or refuses a call from `client` at `now`.
    pub fn admit(&mut self, client: u32, now: SimTime) -> bool {
        let key = if self.cfg.per_client { client } else { 0 };
        let limit = self.cfg.limit;
        self.states
            .entry(key)
            .or_insert_with(|| State::new(limit))
            .admit(limit, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(v)
    }

    #[test]
    fn a_token_bucket_allows_its_burst_then_its_rate() {
        let mut l = RateLimiter::new(RateLimitConfig {
            limit: Limit::TokenBucket {
                rate: 10.0,
                burst: 3.0,
            },
            per_client: false,
        });
        let admitted = (0..5).filter(|_| l.admit(1, ms(0))).count();
        assert_eq!(admitted, 3, "the burst");
        assert!(!l.admit(1, ms(50)), "half a token after 50ms");
        assert!(l.admit(1, ms(100)), "one token after 100ms");
        // Over 10 seconds of one call a millisecond, about 10/s get through.
        let admitted = (1000..11_000).filter(|&t| l.admit(1, ms(t))).count();
        assert!((99..=102).contains(&admitted), "{admitted}");
    }

    #[test]
    fn per_client_limits_are_separate() {
        let mut l = RateLimiter::new(RateLimitConfig {
            limit: Limit::TokenBucket {
                rate: 1.0,
                burst: 1.0,
            },
            per_client: true,
        });
        assert!(l.admit(1, ms(0)));
        assert!(!l.admit(1, ms(0)));
        assert!(l.admit(2, ms(0)), "another client has its own bucket");
        let mut global = RateLimiter::new(RateLimitConfig {
            limit: Limit::TokenBucket {
                rate: 1.0,
                burst: 1.0,
            },
            per_client: false,
        });
        assert!(global.admit(1, ms(0)));
        assert!(!global.admit(2, ms(0)), "one bucket for all");
    }

    #[test]
    fn a_sliding_window_weights_the_previous_window() {
        let mut l = RateLimiter::new(RateLimitConfig {
            limit: Limit::SlidingWindow {
                limit: 10,
                window: SimDuration::from_secs(1),
            },
            per_client: false,
        });
        let first = (0..20).filter(|_| l.admit(0, ms(500))).count();
        assert_eq!(first, 10);
        // At 1.25s, 75% of the previous window still counts: 7.5 of 10.
        let second = (0..20).filter(|_| l.admit(0, ms(1250))).count();
        assert_eq!(second, 3);
        // Two windows later, the old calls are forgotten.
        let third = (0..20).filter(|_| l.admit(0, ms(3000))).count();
        assert_eq!(third, 10);
    }
}
