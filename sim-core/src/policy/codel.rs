//! Controlled-delay load shedding for a request queue: when a queue has
//! not been empty for a while, it is a standing queue, not a burst, and
//! a call that has waited longer than a short target is shed at once
//! instead of being served to a caller that has probably given up.
//!
//! Reference: K. Nichols and V. Jacobson, "Controlling Queue Delay", ACM
//! Queue 10(5), 2012 (CoDel: judge a queue by its sojourn time, and tell a
//! good queue that drains from a bad one that stands); and B. Maurer,
//! "Fail at Scale", ACM Queue 13(8), 2015, which adapts it to RPC queues:
//! if the queue was not empty at any time in the last `interval`, queued
//! calls get `target` instead of their usual timeout.
//!
//! Decision: at dequeue, shed this call or serve it. State: when the queue
//! was last empty. Metrics (kept by the service): calls shed.

use crate::time::{SimDuration, SimTime};

/// The two knobs, with the defaults of both references.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodelConfig {
    /// How long a call may wait in a standing queue.
    pub target: SimDuration,
    /// A queue not empty for this long is a standing queue.
    pub interval: SimDuration,
}

impl Default for CodelConfig {
    fn default() -> Self {
        CodelConfig {
            target: SimDuration::from_millis(5),
            interval: SimDuration::from_millis(100),
        }
    }
}

/// A queue's controlled-delay state.
#[derive(Clone, Debug)]
pub struct Codel {
    cfg: CodelConfig,
    /// The last instant the queue was empty.
    last_empty: SimTime,
}

impl Codel {
    pub fn new(cfg: CodelConfig) -> Self {
        Codel {
            cfg,
            last_empty: SimTime::ZERO,
        }
    }

    /// The queue is empty at `now` (call it when a call is pushed onto an
    /// empty queue, and when a pop leaves it empty).
    pub fn empty_at(&mut self, now: SimTime) {
        self.last_empty = now;
    }

    /// Whether the queue has stood (not been empty) for longer than the
    /// interval at `now`.
    pub fn standing(&self, now: SimTime) -> bool {
        now.saturating_since(self.last_empty) > self.cfg.interval
    }

    /// The decision for a call that arrived at `arrived`, dequeued `now`.
    pub fn shed(&self, now: SimTime, arrived: SimTime) -> bool {
        self.standing(now) && now.saturating_since(arrived) > self.cfg.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(v)
    }

    #[test]
    fn a_queue_that_drains_sheds_nothing() {
        let mut c = Codel::new(CodelConfig::default());
        c.empty_at(ms(1000));
        // 60ms after the queue was empty, a call that waited 50ms is served:
        // the queue is a burst, not a standing queue.
        assert!(!c.standing(ms(1060)));
        assert!(!c.shed(ms(1060), ms(1010)));
    }

    #[test]
    fn a_standing_queue_sheds_calls_past_the_target() {
        let mut c = Codel::new(CodelConfig::default());
        c.empty_at(ms(1000));
        assert!(c.standing(ms(1101)));
        assert!(c.shed(ms(1101), ms(1090)), "waited 11ms > 5ms");
        assert!(!c.shed(ms(1101), ms(1097)), "waited 4ms");
        // Exactly at the limits nothing is shed.
        assert!(!c.standing(ms(1100)));
        assert!(!c.shed(ms(1200), ms(1195)));
        // Emptying again resets the clock.
        c.empty_at(ms(1200));
        assert!(!c.shed(ms(1250), ms(1201)));
    }
}
