//! Bulkhead: a cap on the calls in flight to one dependency, so that a slow
//! dependency can hold only its share of a service's workers, not all of
//! them. A call over the cap is refused at once.
//!
//! Reference: Michael Nygard, *Release It!*, "Bulkheads"; Resilience4j's
//! `SemaphoreBulkhead` (max concurrent calls, no waiting).
//!
//! Decision: may one more call start? State: calls in flight. Metrics
//! (kept by the caller): calls refused.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BulkheadConfig {
    pub max_concurrent: u32,
}

#[derive(Clone, Debug)]
pub struct Bulkhead {
    cfg: BulkheadConfig,
    in_flight: u32,
}

impl Bulkhead {
    pub fn new(cfg: BulkheadConfig) -> Self {
        Bulkhead { cfg, in_flight: 0 }
    }

    /// Takes a slot if one is free.
    pub fn try_acquire(&mut self) -> bool {
        if self.in_flight < self.cfg.max_concurrent {
            self.in_flight += 1;
            true
        } else {
            false
        }
    }

    pub fn release(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_over_the_cap_and_frees_on_release() {
        let mut b = Bulkhead::new(BulkheadConfig { max_concurrent: 2 });
        assert!(b.try_acquire());
        assert!(b.try_acquire());
        assert!(!b.try_acquire());
        b.release();
        assert!(b.try_acquire());
        assert_eq!(b.in_flight(), 2);
        b.release();
        b.release();
        b.release(); // an extra release never underflows
        assert_eq!(b.in_flight(), 0);
    }
}
