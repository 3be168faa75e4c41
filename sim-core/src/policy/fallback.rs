//! Fallback: when a call has failed for good (retries spent, breaker open),
//! answer with a default or cached value instead, and count the answer as
//! a degraded success, so that a missing nice-to-have does not fail the
//! whole request and the dashboards still see that something is missing.
//!
//! Reference: Michael Nygard, *Release It!*, and Netflix Hystrix's
//! `getFallback()`; for the caution that a fallback path is itself code
//! that must be exercised, the AWS Builders' Library article "Avoiding
//! fallback in distributed systems" (Jacob Gabrielson).
//!
//! Decision: the outcome the caller reports. State: none. Metrics (kept by
//! the caller): degraded successes.

use super::Outcome;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FallbackConfig {
    /// The value served instead (a default, or the last known answer).
    pub value: u64,
}

/// The outcome to report, and whether it is degraded.
pub fn apply(fallback: Option<FallbackConfig>, outcome: Outcome) -> (Outcome, bool) {
    match (outcome, fallback) {
        (Outcome::Err(_), Some(f)) => (Outcome::Ok(f.value), true),
        (o, _) => (o, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ErrorKind;

    #[test]
    fn only_failures_are_replaced_and_they_are_marked_degraded() {
        let f = Some(FallbackConfig { value: 7 });
        let failed = Outcome::Err(ErrorKind::Timeout);
        assert_eq!(apply(f, failed), (Outcome::Ok(7), true));
        assert_eq!(apply(f, Outcome::Ok(1)), (Outcome::Ok(1), false));
        assert_eq!(apply(None, failed), (failed, false));
    }
}
