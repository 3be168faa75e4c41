//! Timeouts: one per attempt, and an overall deadline that travels with the
//! request so that every hop downstream gives up when the caller has.
//!
//! Reference: the deadline propagation of gRPC ("Deadlines", grpc.io) and
//! Google's practice described in *Site Reliability Engineering*, chapter 22
//! ("Addressing Cascading Failures": propagate deadlines, and do not start
//! work the caller has already abandoned).
//!
//! Decision: how long the next attempt may wait, or that it must not start.
//! Metrics (kept by the model that uses it): attempts refused because the
//! deadline had passed.

use crate::time::{SimDuration, SimTime};

/// How long calls may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutConfig {
    /// Each attempt gives up after this long; None waits forever.
    pub per_attempt: Option<SimDuration>,
    /// The whole logical request, all retries included, gives up this long
    /// after it started; None has no overall deadline.
    pub overall: Option<SimDuration>,
}

impl TimeoutConfig {
    pub const NONE: TimeoutConfig = TimeoutConfig {
        per_attempt: None,
        overall: None,
    };

    /// The absolute deadline of a request that started at `started`,
    /// tightened by a deadline it inherited from its caller, if any.
    pub fn deadline(&self, started: SimTime, inherited: Option<SimTime>) -> Option<SimTime> {
        let own = self.overall.map(|d| started.saturating_add(d));
        match (own, inherited) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What the next attempt, starting `now`, may wait for a reply.
    pub fn attempt(&self, now: SimTime, deadline: Option<SimTime>) -> AttemptTimeout {
        let remaining = match deadline {
            Some(d) if d <= now => return AttemptTimeout::DeadlinePassed,
            Some(d) => Some(d - now),
            None => None,
        };
        match (self.per_attempt, remaining) {
            (Some(a), Some(r)) => AttemptTimeout::After(a.min(r)),
            (Some(a), None) => AttemptTimeout::After(a),
            (None, Some(r)) => AttemptTimeout::After(r),
            (None, None) => AttemptTimeout::Never,
        }
    }
}

/// The decision for one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptTimeout {
    /// Give up on this attempt after this long.
    After(SimDuration),
    /// Wait as long as it takes.
    Never,
    /// Do not start: the caller has already given up.
    DeadlinePassed,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }
    fn at(n: u64) -> SimTime {
        SimTime::ZERO + ms(n)
    }

    #[test]
    fn attempt_timeout_is_the_tighter_of_the_two() {
        let t = TimeoutConfig {
            per_attempt: Some(ms(300)),
            overall: Some(ms(1000)),
        };
        let deadline = t.deadline(at(0), None);
        assert_eq!(deadline, Some(at(1000)));
        assert_eq!(t.attempt(at(0), deadline), AttemptTimeout::After(ms(300)));
        // Late in the request only what is left of the deadline remains.
        assert_eq!(t.attempt(at(800), deadline), AttemptTimeout::After(ms(200)));
        assert_eq!(
            t.attempt(at(1000), deadline),
            AttemptTimeout::DeadlinePassed
        );
    }

    #[test]
    fn an_inherited_deadline_tightens_our_own() {
        let t = TimeoutConfig {
            per_attempt: None,
            overall: Some(ms(1000)),
        };
        // The caller will give up at 400ms: so do we.
        assert_eq!(t.deadline(at(100), Some(at(400))), Some(at(400)));
        assert_eq!(t.deadline(at(100), Some(at(5000))), Some(at(1100)));
        assert_eq!(
            TimeoutConfig::NONE.deadline(at(100), Some(at(400))),
            Some(at(400))
        );
        assert_eq!(
            TimeoutConfig::NONE.attempt(at(0), None),
            AttemptTimeout::Never
        );
    }
}
