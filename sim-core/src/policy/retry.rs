//! Retries: how many attempts, how long to wait between them (backoff and
//! jitter), which errors are worth retrying, and a retry budget that stops
//! retries from multiplying an overload.
//!
//! References: Marc Brooker, "Exponential Backoff And Jitter" (AWS
//! Architecture Blog, 2015) for the full, equal and decorrelated jitter
//! formulas; gRPC proposal A6, "gRPC Retry Design" (2017), for the retry
//! throttling token bucket used as the retry budget.
//!
//! Decision: after a failed attempt, retry after a delay or give up (and
//! why). Metrics (kept by the model): retries, give-ups by reason, and
//! retries the budget refused.

use super::ErrorKind;
use crate::rng::SimRng;
use crate::time::SimDuration;

/// How the wait before retry k grows, before jitter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backoff {
    /// Retry at once.
    Immediate,
    /// The same wait every time.
    Fixed(SimDuration),
    /// `base * multiplier^(k-1)` before retry k, capped at `max`.
    Exponential {
        base: SimDuration,
        multiplier: f64,
        max: SimDuration,
    },
}

/// How randomness spreads retries out (Brooker's names; `jitter =
/// "full"` in a scenario file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Exactly the backoff: clients that failed together retry together.
    #[default]
    None,
    /// Uniform in [0, backoff].
    Full,
    /// backoff/2 plus uniform in [0, backoff/2].
    Equal,
    /// Uniform in [base, 3 x the previous wait], capped at the backoff's
    /// maximum: each wait depends on the last, not on the attempt number.
    Decorrelated,
}

/// gRPC's retry throttling: a bucket of `max_tokens` that starts full; a
/// failed attempt takes one token, a success puts back `token_ratio`; a
/// retry is allowed only while more than half the tokens remain. Under
/// sustained failure, retries stop; as successes return, so do they.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BudgetConfig {
    pub max_tokens: f64,
    pub token_ratio: f64,
}

/// Everything a caller's retry behaviour is made of.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryConfig {
    /// Attempts in all, the first one included (1 means no retries).
    pub max_attempts: u32,
    pub backoff: Backoff,
    pub jitter: Jitter,
    /// Errors worth another attempt.
    pub retry_on: Vec<ErrorKind>,
    pub budget: Option<BudgetConfig>,
}

impl RetryConfig {
    /// No retries at all.
    pub fn never() -> Self {
        RetryConfig {
            max_attempts: 1,
            backoff: Backoff::Immediate,
            jitter: Jitter::None,
            retry_on: Vec::new(),
            budget: None,
        }
    }

    /// The usual retryable errors: timeouts, unreachable callees and
    /// overload. Not internal errors (often not transient) nor invalid
    /// requests (never transient), nor an open circuit (the breaker is
    /// there to stop calls).
    /// Errors worth retrying unless a scenario says otherwise: the ones a
    /// later attempt may well not meet. That includes `Conflict`, which
    /// here means "a call with this idempotency key is still in progress":
    /// retried after a backoff, the attempt finds the stored answer (as
    /// Stripe's API asks its clients to do with a 409). A call that is
    /// plainly wrong (`Invalid`), a failure inside the server (`Internal`)
    /// and an open breaker are not retried by default.
    pub fn default_retry_on() -> Vec<ErrorKind> {
        vec![
            ErrorKind::Timeout,
            ErrorKind::Unavailable,
            ErrorKind::Overloaded,
            ErrorKind::Conflict,
        ]
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.max_attempts == 0 {
            return Err("max_attempts must be at least 1 (the first attempt counts)".into());
        }
        if let Backoff::Exponential {
            multiplier,
            base,
            max,
        } = self.backoff
        {
            if !(multiplier.is_finite() && multiplier >= 1.0) {
                return Err(format!(
                    "the backoff multiplier must be at least 1, got {multiplier}"
                ));
            }
            if max < base {
                return Err(format!(
                    "the backoff maximum ({max}) is below its base ({base})"
                ));
            }
        }
        if self.jitter == Jitter::Decorrelated
            && !matches!(self.backoff, Backoff::Exponential { .. })
        {
            return Err(
                "decorrelated jitter needs an exponential backoff (for its base and maximum)"
                    .into(),
            );
        }
        if let Some(b) = self.budget
            && !(b.max_tokens > 0.0 && b.token_ratio > 0.0)
        {
            return Err("a retry budget needs max_tokens > 0 and token_ratio > 0".into());
        }
        Ok(())
    }

    /// The wait before retry number `retry` (1 for the first retry), given
    /// the previous wait (for decorrelated jitter).
    pub fn delay(&self, retry: u32, previous: SimDuration, rng: &mut SimRng) -> SimDuration {
        let (backoff, base, max) = match self.backoff {
            Backoff::Immediate => return SimDuration::ZERO,
            Backoff::Fixed(d) => (d, d, d),
            Backoff::Exponential {
                base,
                multiplier,
                max,
            } => {
                let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
                let grown = base.as_nanos() as f64 * libm::pow(multiplier, f64::from(exponent));
                (SimDuration::from_nanos_f64(grown).min(max), base, max)
            }
        };
        let ns = backoff.as_nanos() as f64;
        match self.jitter {
            Jitter::None => backoff,
            Jitter::Full => SimDuration::from_nanos_f64(ns * rng.uniform()),
            Jitter::Equal => SimDuration::from_nanos_f64(ns / 2.0 + ns / 2.0 * rng.uniform()),
            Jitter::Decorrelated => {
                let low = base.as_nanos() as f64;
                let high = (previous.max(base).as_nanos() as f64 * 3.0).max(low);
                SimDuration::from_nanos_f64(low + (high - low) * rng.uniform()).min(max)
            }
        }
    }

    /// After attempt number `attempts_made` failed with `error`: retry, and
    /// after how long, or give up and why. Consults and charges the budget.
    pub fn decide(
        &self,
        state: &mut RetryState,
        error: ErrorKind,
        budget: Option<&mut RetryBudget>,
        rng: &mut SimRng,
    ) -> RetryDecision {
        if !self.retry_on.contains(&error) {
            return RetryDecision::GiveUp(GiveUpReason::NotRetryable);
        }
        if state.attempts >= self.max_attempts {
            return RetryDecision::GiveUp(GiveUpReason::AttemptsExhausted);
        }
        if let Some(b) = budget
            && !b.allows_retry()
        {
            return RetryDecision::GiveUp(GiveUpReason::BudgetExhausted);
        }
        let wait = self.delay(state.attempts, state.previous_delay, rng);
        state.previous_delay = wait;
        RetryDecision::RetryAfter(wait)
    }
}

/// The retry state of one logical request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetryState {
    /// Attempts made so far (sent, whatever their outcome).
    pub attempts: u32,
    previous_delay: SimDuration,
}

impl RetryState {
    /// Call before sending each attempt.
    pub fn record_attempt(&mut self) {
        self.attempts += 1;
    }
}

/// The decision after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    RetryAfter(SimDuration),
    GiveUp(GiveUpReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GiveUpReason {
    NotRetryable,
    AttemptsExhausted,
    BudgetExhausted,
}

/// The retry budget's bucket, shared by every request of one caller.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryBudget {
    config: BudgetConfig,
    tokens: f64,
}

impl RetryBudget {
    pub fn new(config: BudgetConfig) -> Self {
        RetryBudget {
            config,
            tokens: config.max_tokens,
        }
    }
    pub fn tokens(&self) -> f64 {
        self.tokens
    }
    /// Every attempt's outcome feeds the bucket.
    pub fn record_failure(&mut self) {
        self.tokens = (self.tokens - 1.0).max(0.0);
    }
    pub fn record_success(&mut self) {
        self.tokens = (self.tokens + self.config.token_ratio).min(self.config.max_tokens);
    }
    pub fn allows_retry(&self) -> bool {
        self.tokens > self.config.max_tokens / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    fn exponential(jitter: Jitter) -> RetryConfig {
        RetryConfig {
            max_attempts: 6,
            backoff: Backoff::Exponential {
                base: ms(100),
                multiplier: 2.0,
                max: ms(1000),
            },
            jitter,
            retry_on: RetryConfig::default_retry_on(),
            budget: None,
        }
    }

    #[test]
    fn exponential_backoff_doubles_up_to_its_cap() {
        let c = exponential(Jitter::None);
        let mut rng = SimRng::for_component(1, "r");
        let waits: Vec<u64> = (1..=6)
            .map(|k| c.delay(k, SimDuration::ZERO, &mut rng).as_millis_f64() as u64)
            .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
    }

    /// Brooker's formulas, held to their means over many draws: full jitter
    /// averages half the backoff, equal jitter three quarters, and both stay
    /// in their intervals.
    #[test]
    fn jitter_follows_its_formula() {
        let n = 100_000;
        for (jitter, low_frac, mean_frac) in [(Jitter::Full, 0.0, 0.5), (Jitter::Equal, 0.5, 0.75)]
        {
            let c = exponential(jitter);
            let mut rng = SimRng::for_component(2, "jitter");
            let backoff = 400.0; // retry 3
            let draws: Vec<f64> = (0..n)
                .map(|_| c.delay(3, SimDuration::ZERO, &mut rng).as_millis_f64())
                .collect();
            assert!(
                draws
                    .iter()
                    .all(|&d| d >= backoff * low_frac && d <= backoff)
            );
            let mean = draws.iter().sum::<f64>() / n as f64;
            // Uniform over a width of at most 400ms: sd of the mean < 0.4ms.
            assert!(
                (mean - backoff * mean_frac).abs() < 2.0,
                "{jitter:?}: mean {mean}"
            );
        }
    }

    #[test]
    fn decorrelated_jitter_stays_between_base_and_three_times_the_last_wait() {
        let c = exponential(Jitter::Decorrelated);
        let mut rng = SimRng::for_component(3, "decorrelated");
        let mut previous = SimDuration::ZERO;
        for k in 1..1000 {
            let d = c.delay(k, previous, &mut rng);
            let high = (previous.max(ms(100)).as_nanos() * 3).min(ms(1000).as_nanos());
            assert!(d >= ms(100) && d.as_nanos() <= high, "{d} after {previous}");
            previous = d;
        }
    }

    #[test]
    fn gives_up_for_the_right_reasons() {
        let c = RetryConfig {
            max_attempts: 3,
            ..exponential(Jitter::None)
        };
        let mut rng = SimRng::for_component(4, "decide");
        let mut s = RetryState::default();
        s.record_attempt();
        assert_eq!(
            c.decide(&mut s, ErrorKind::Invalid, None, &mut rng),
            RetryDecision::GiveUp(GiveUpReason::NotRetryable)
        );
        assert_eq!(
            c.decide(&mut s, ErrorKind::Timeout, None, &mut rng),
            RetryDecision::RetryAfter(ms(100))
        );
        s.record_attempt();
        assert_eq!(
            c.decide(&mut s, ErrorKind::Overloaded, None, &mut rng),
            RetryDecision::RetryAfter(ms(200))
        );
        s.record_attempt();
        assert_eq!(
            c.decide(&mut s, ErrorKind::Timeout, None, &mut rng),
            RetryDecision::GiveUp(GiveUpReason::AttemptsExhausted)
        );
    }

    /// gRPC A6 by hand: 10 tokens, 0.1 back per success. Five failures
    /// leave 5 tokens, which is not more than half, so retries stop; one
    /// success tips the bucket back over half, one more failure under.
    #[test]
    fn the_budget_stops_retries_under_sustained_failure() {
        let c = RetryConfig {
            budget: Some(BudgetConfig {
                max_tokens: 10.0,
                token_ratio: 0.1,
            }),
            ..exponential(Jitter::None)
        };
        let mut budget = RetryBudget::new(c.budget.unwrap());
        let mut rng = SimRng::for_component(5, "budget");
        let mut attempt = |budget: &mut RetryBudget| {
            let mut s = RetryState::default();
            s.record_attempt();
            c.decide(&mut s, ErrorKind::Timeout, Some(budget), &mut rng)
        };
        for _ in 0..4 {
            budget.record_failure();
            assert!(matches!(attempt(&mut budget), RetryDecision::RetryAfter(_)));
        }
        budget.record_failure();
        assert_eq!(budget.tokens(), 5.0);
        assert_eq!(
            attempt(&mut budget),
            RetryDecision::GiveUp(GiveUpReason::BudgetExhausted)
        );
        budget.record_success();
        assert!(budget.allows_retry(), "5.1 tokens is more than half");
        budget.record_failure();
        assert!(!budget.allows_retry());
    }

    #[test]
    fn bad_configs_are_explained() {
        let mut c = exponential(Jitter::None);
        c.max_attempts = 0;
        assert!(c.validate().unwrap_err().contains("at least 1"));
        let c = RetryConfig {
            jitter: Jitter::Decorrelated,
            backoff: Backoff::Fixed(ms(5)),
            ..exponential(Jitter::None)
        };
        assert!(c.validate().unwrap_err().contains("decorrelated"));
        assert!(exponential(Jitter::Full).validate().is_ok());
    }
}
