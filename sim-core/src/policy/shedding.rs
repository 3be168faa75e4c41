//! Load shedding by priority: when a service's queue grows past a mark,
//! refuse the least important calls at the door, so the capacity goes to
//! the calls that matter (paying customers, interactive traffic) rather
//! than to whoever sends the most.
//!
//! Reference: *Site Reliability Engineering* (Beyer et al., 2016), chapter
//! 21, "Handling Overload": request criticality, and shedding the least
//! critical requests first when a backend is overloaded.
//!
//! Decision: admit or refuse a call of a given priority, given the queue.
//! State: none (the queue is the service's). Metrics (kept by the
//! service): calls shed by priority.

/// While `queue` or more calls wait, calls with a priority below `below`
/// are refused at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriorityShedding {
    pub below: u8,
    pub queue: usize,
}

impl PriorityShedding {
    pub fn admits(&self, priority: u8, queue_len: usize) -> bool {
        priority >= self.below || queue_len < self.queue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheds_low_priority_only_when_the_queue_is_long() {
        let s = PriorityShedding {
            below: 5,
            queue: 20,
        };
        assert!(s.admits(1, 19));
        assert!(!s.admits(1, 20));
        assert!(s.admits(5, 1000));
        assert!(!s.admits(4, 20));
    }
}
