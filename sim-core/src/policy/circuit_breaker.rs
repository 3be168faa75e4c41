//! Circuit breaker: stop calling a dependency that is failing, fail fast
//! instead, and probe now and then to see whether it has recovered.
//!
//! Reference: Michael Nygard, *Release It!* (2007; 2nd ed. 2018), "Circuit
//! Breaker"; the state machine and thresholds follow Resilience4j's
//! `CircuitBreaker` (count- or time-based sliding window, failure-rate and
//! slow-call-rate thresholds, a minimum number of calls before judging, a
//! wait in open, then a few permitted calls in half-open).
//!
//! Decision: may this call go out now? State: closed, open (until a time)
//! or half-open (probes in flight and their results), and the sliding
//! window of recent outcomes. Metrics (kept by the caller): transitions,
//! calls short-circuited, and the time spent in each state.

use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;

/// Which recent calls the failure rate is computed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerWindow {
    /// The last n calls.
    Count(u32),
    /// Calls that finished within this long before now.
    Time(SimDuration),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerConfig {
    pub window: BreakerWindow,
    /// Open when at least this fraction of the window failed (0 to 1).
    pub failure_rate: f64,
    /// Open when at least this fraction was slower than `slow_call`
    /// (above 1 never opens for slowness).
    pub slow_call_rate: f64,
    pub slow_call: SimDuration,
    /// Judge only once the window holds this many calls.
    pub minimum_calls: u32,
    /// How long to stay open before letting probes through.
    pub open_for: SimDuration,
    /// Probes let through in half-open; all must succeed to close.
    pub half_open_calls: u32,
}

impl Default for BreakerConfig {
    /// Resilience4j's defaults, with a 10-call window.
    fn default() -> Self {
        BreakerConfig {
            window: BreakerWindow::Count(10),
            failure_rate: 0.5,
            slow_call_rate: 2.0,
            slow_call: SimDuration::from_secs(60),
            minimum_calls: 10,
            open_for: SimDuration::from_secs(5),
            half_open_calls: 3,
        }
    }
}

impl BreakerConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.failure_rate) {
            return Err(format!(
                "failure_rate must be between 0% and 100%, got {}",
                self.failure_rate
            ));
        }
        if self.half_open_calls == 0 {
            return Err("half_open_calls must be at least 1".into());
        }
        match self.window {
            BreakerWindow::Count(0) => Err("a count window needs at least 1 call".into()),
            BreakerWindow::Time(d) if d == SimDuration::ZERO => {
                Err("a time window must be longer than 0s".into())
            }
            _ => Ok(()),
        }
    }
}

/// The breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub const ALL: [BreakerState; 3] = [
        BreakerState::Closed,
        BreakerState::Open,
        BreakerState::HalfOpen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    cfg: BreakerConfig,
    state: BreakerState,
    open_until: SimTime,
    /// (finished at, failed, slow), oldest first.
    window: VecDeque<(SimTime, bool, bool)>,
    half_open_sent: u32,
    half_open_ok: u32,
}

impl CircuitBreaker {
    pub fn new(cfg: BreakerConfig) -> Self {
        CircuitBreaker {
            cfg,
            state: BreakerState::Closed,
            open_until: SimTime::ZERO,
            window: VecDeque::new(),
            half_open_sent: 0,
            half_open_ok: 0,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether a call may go out at `now`, and the state change this
    /// caused, if any (open becomes half-open once its wait is over).
    pub fn allow(&mut self, now: SimTime) -> (bool, Option<BreakerState>) {
        let mut changed = None;
        if self.state == BreakerState::Open && now >= self.open_until {
            self.state = BreakerState::HalfOpen;
            self.half_open_sent = 0;
            self.half_open_ok = 0;
            changed = Some(BreakerState::HalfOpen);
        }
        let allowed = match self.state {
            BreakerState::Closed => true,
            BreakerState::Open => false,
            BreakerState::HalfOpen => {
                if self.half_open_sent < self.cfg.half_open_calls {
                    self.half_open_sent += 1;
                    true
                } else {
                    false
                }
            }
        };
        (allowed, changed)
    }

    fn trip(&mut self, now: SimTime) -> Option<BreakerState> {
        self.state = BreakerState::Open;
        self.open_until = now.saturating_add(self.cfg.open_for);
        self.window.clear();
        Some(BreakerState::Open)
    }

    /// A call that was allowed finished at `now` after `took`; returns the
    /// state change it caused, if any.
    pub fn record(
        &mut self,
        now: SimTime,
        failed: bool,
        took: SimDuration,
    ) -> Option<BreakerState> {
        let slow = took > self.cfg.slow_call;
        match self.state {
            BreakerState::Open => None, // a straggler from before it opened
            BreakerState::HalfOpen => {
                if failed || slow {
                    return self.trip(now);
                }
                self.half_open_ok += 1;
                if self.half_open_ok >= self.cfg.half_open_calls {
                    self.state = BreakerState::Closed;
                    self.window.clear();
                    return Some(BreakerState::Closed);
                }
                None
            }
            BreakerState::Closed => {
                self.window.push_back((now, failed, slow));
                match self.cfg.window {
                    BreakerWindow::Count(n) => {
                        while self.window.len() > n as usize {
                            self.window.pop_front();
                        }
                    }
                    BreakerWindow::Time(d) => {
                        while self
                            .window
                            .front()
                            .is_some_and(|&(t, _, _)| now.saturating_since(t) > d)
                        {
                            self.window.pop_front();
                        }
                    }
                }
                let n = self.window.len();
                if n < self.cfg.minimum_calls as usize {
                    return None;
                }
                let failures = self.window.iter().filter(|w| w.1).count() as f64;
                let slows = self.window.iter().filter(|w| w.2).count() as f64;
                let n = n as f64;
                if failures / n >= self.cfg.failure_rate || slows / n >= self.cfg.slow_call_rate {
                    return self.trip(now);
                }
                None
            }
        }
    }

    /// A call let through in half-open was abandoned without an outcome
    /// (cancelled): free its probe slot.
    pub fn release_probe(&mut self) {
        if self.state == BreakerState::HalfOpen {
            self.half_open_sent = self.half_open_sent.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }
    const FAST: SimDuration = SimDuration::from_millis(1);

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            window: BreakerWindow::Count(4),
            failure_rate: 0.5,
            slow_call_rate: 2.0,
            slow_call: SimDuration::from_secs(1),
            minimum_calls: 4,
            open_for: SimDuration::from_millis(100),
            half_open_calls: 2,
        })
    }

    #[test]
    fn opens_at_the_failure_rate_only_after_the_minimum_calls() {
        let mut b = breaker();
        assert_eq!(b.record(at(1), true, FAST), None);
        assert_eq!(b.record(at(2), true, FAST), None);
        assert_eq!(b.record(at(3), true, FAST), None, "3 calls < minimum 4");
        assert_eq!(
            b.record(at(4), false, FAST),
            Some(BreakerState::Open),
            "3/4 failed"
        );
        assert_eq!(b.allow(at(50)), (false, None));
    }

    #[test]
    fn the_count_window_forgets_old_calls() {
        let mut b = breaker();
        b.record(at(0), true, FAST);
        for t in 1..10 {
            assert_eq!(b.record(at(t), false, FAST), None);
        }
        // The window now holds 4 successes; one failure is 1/4 < 50%.
        assert_eq!(b.record(at(10), true, FAST), None);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn half_open_lets_probes_through_and_closes_when_they_succeed() {
        let mut b = breaker();
        for t in 0..4 {
            b.record(at(t), true, FAST);
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.allow(at(103)), (true, Some(BreakerState::HalfOpen)));
        assert_eq!(b.allow(at(104)), (true, None));
        assert_eq!(b.allow(at(105)), (false, None), "only 2 probes");
        assert_eq!(b.record(at(110), false, FAST), None);
        assert_eq!(b.record(at(111), false, FAST), Some(BreakerState::Closed));
        assert_eq!(b.allow(at(112)), (true, None));
    }

    #[test]
    fn a_failed_probe_opens_it_again() {
        let mut b = breaker();
        for t in 0..4 {
            b.record(at(t), true, FAST);
        }
        assert!(b.allow(at(200)).0);
        assert_eq!(b.record(at(201), true, FAST), Some(BreakerState::Open));
        assert_eq!(b.allow(at(250)), (false, None));
        assert_eq!(b.allow(at(301)), (true, Some(BreakerState::HalfOpen)));
    }

    #[test]
    fn slow_calls_and_time_windows() {
        let mut b = CircuitBreaker::new(BreakerConfig {
            window: BreakerWindow::Time(SimDuration::from_millis(100)),
            failure_rate: 1.0,
            slow_call_rate: 0.5,
            slow_call: SimDuration::from_millis(50),
            minimum_calls: 2,
            open_for: SimDuration::from_secs(1),
            half_open_calls: 1,
        });
        let slow = SimDuration::from_millis(80);
        b.record(at(0), false, slow);
        // 200ms later the slow call has left the window.
        assert_eq!(b.record(at(200), false, FAST), None);
        assert_eq!(
            b.record(at(210), false, slow),
            Some(BreakerState::Open),
            "1 of 2 slow"
        );
    }

    #[test]
    fn bad_configs_are_refused() {
        let mut c = BreakerConfig::default();
        assert!(c.validate().is_ok());
        c.failure_rate = 1.5;
        assert!(c.validate().is_err());
        c = BreakerConfig {
            window: BreakerWindow::Count(0),
            ..BreakerConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
