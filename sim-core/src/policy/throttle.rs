//! Adaptive client-side throttling: a client that sees its backend refuse
//! most of its calls starts refusing some itself, before sending them, so
//! an overloaded backend does not also spend its time saying no.
//!
//! Reference: *Site Reliability Engineering* (Beyer et al., 2016), chapter
//! 21, "Handling Overload": each client tracks, over the last two minutes,
//! its `requests` and the backend's `accepts`, and refuses a new request
//! locally with probability max(0, (requests - K x accepts) / (requests + 1)),
//! with K = 2 in Google's practice.
//!
//! Decision: send this call, or refuse it locally. State: counts of
//! requests and accepts per second over the window. Metrics (kept by the
//! caller): calls refused locally.

use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThrottleConfig {
    /// How many times the accepts the requests may be before refusing.
    pub k: f64,
    pub window: SimDuration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            k: 2.0,
            window: SimDuration::from_secs(120),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Throttle {
    cfg: ThrottleConfig,
    /// (second, requests, accepts), oldest first.
    seconds: VecDeque<(u64, u64, u64)>,
}

impl Throttle {
    pub fn new(cfg: ThrottleConfig) -> Self {
        Throttle {
            cfg,
            seconds: VecDeque::new(),
        }
    }

    fn slot(&mut self, now: SimTime) -> &mut (u64, u64, u64) {
        let second = now.as_nanos() / 1_000_000_000;
        let keep = self.cfg.window.as_nanos().div_ceil(1_000_000_000);
        while self
            .seconds
            .front()
            .is_some_and(|&(s, _, _)| s + keep <= second)
        {
            self.seconds.pop_front();
        }
        if self.seconds.back().is_none_or(|&(s, _, _)| s != second) {
            self.seconds.push_back((second, 0, 0));
        }
        self.seconds.back_mut().expect("just pushed")
    }

    /// The probability of refusing a request now.
    pub fn reject_probability(&mut self, now: SimTime) -> f64 {
        self.slot(now);
        let (requests, accepts) = self
            .seconds
            .iter()
            .fold((0, 0), |(r, a), &(_, rq, ac)| (r + rq, a + ac));
        ((requests as f64 - self.cfg.k * accepts as f64) / (requests as f64 + 1.0)).max(0.0)
    }

    /// Decides for a request at `now`; every request counts, sent or not.
    pub fn allow(&mut self, now: SimTime, rng: &mut SimRng) -> bool {
        let p = self.reject_probability(now);
        self.slot(now).1 += 1;
        !(p > 0.0 && rng.chance(p))
    }

    /// The backend accepted a request (answered with anything but a
    /// refusal).
    pub fn accepted(&mut self, now: SimTime) {
        self.slot(now).2 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_in_proportion_to_refusals() {
        let mut t = Throttle::new(ThrottleConfig::default());
        let mut rng = SimRng::for_component(1, "throttle");
        let now = SimTime::ZERO;
        // All accepted: never throttles.
        for _ in 0..100 {
            assert!(t.allow(now, &mut rng));
            t.accepted(now);
        }
        assert_eq!(t.reject_probability(now), 0.0);
        // Then 900 requests and no accepts: (1000 - 2 x 100) / 1001.
        for _ in 0..900 {
            t.allow(now, &mut rng);
        }
        let p = t.reject_probability(now);
        assert!((p - 800.0 / 1001.0).abs() < 1e-12, "{p}");
        // Two minutes later the window has forgotten it all.
        let later = now + SimDuration::from_secs(121);
        assert_eq!(t.reject_probability(later), 0.0);
    }
}
