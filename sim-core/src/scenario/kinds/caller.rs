//! What every caller shares, whatever its kind: the policies a client (or
//! a service's `[[node.call]]`) puts on its calls, their fields, their
//! checks, how they become a `CallerConfig`, and the line of the report
//! that says what they did.

use super::{Check, Field, Report, optional};
use crate::models::caller::CallerConfig;
use crate::policy::bulkhead::BulkheadConfig;
use crate::policy::circuit_breaker::{BreakerConfig, BreakerWindow};
use crate::policy::hedge::{HedgeAfter, HedgeConfig};
use crate::policy::load_balance::{Balancer, HealthCheckConfig, OutlierConfig};
use crate::policy::retry::{Backoff, BudgetConfig, RetryConfig};
use crate::policy::throttle::ThrottleConfig;
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::spec::{
    BackoffKind, BreakerSpec, HealthCheckSpec, HedgeSpec, OutlierSpec, RetrySpec, ThrottleSpec,
    WindowSpec,
};
use crate::time::SimDuration;
use toml::Spanned;

/// The policy fields of a client (a service's calls have the same, in
/// `[[node.call]]`).
pub const POLICY_FIELDS: &[Field] = &[
    optional(
        "breaker",
        "table",
        "A circuit breaker on its calls; see `breaker`.",
    ),
    optional(
        "bulkhead",
        "integer >= 1",
        "At most this many calls in flight.",
    ),
    optional(
        "balance",
        "`round_robin`, `random`, `least_connections`, `power_of_two` or `{ choices = d }`",
        "How calls spread over a replica group. `{ choices = d }` draws d replicas at random and takes the one with the fewest calls in flight (the power of d choices; `power_of_two` is d = 2).",
    ),
    optional("outlier", "table", "Outlier ejection; see `outlier`."),
    optional(
        "health_check",
        "table",
        "Active health checks; see `health_check`.",
    ),
    optional("hedge", "table", "Hedged requests; see `hedge`."),
    optional(
        "fallback",
        "true or false",
        "Count a failed request as a degraded success with a default value.",
    ),
    optional(
        "pool",
        "integer >= 1",
        "Connections to its target; an attempt waits for a free one, its timeout running.",
    ),
    optional(
        "throttle",
        "true, false or `{ k = number, window = duration }`",
        "Adaptive throttling (Google SRE): refuse requests locally in proportion to how many the backend refuses (true: k = 2 over 2 minutes).",
    ),
];

pub fn breaker_config(b: &BreakerSpec) -> BreakerConfig {
    let d = BreakerConfig::default();
    BreakerConfig {
        window: match b.window {
            None => BreakerWindow::Count(20),
            Some(WindowSpec::Calls(n)) => BreakerWindow::Count(n),
            Some(WindowSpec::Time(t)) => BreakerWindow::Time(t.0),
        },
        failure_rate: b.failure_rate.map_or(d.failure_rate, |p| p.0),
        slow_call_rate: b.slow_call_rate.map_or(2.0, |p| p.0),
        slow_call: b.slow_call.map_or(d.slow_call, |t| t.0),
        minimum_calls: b.minimum_calls.unwrap_or(d.minimum_calls),
        open_for: b.open_for.map_or(d.open_for, |t| t.0),
        half_open_calls: b.half_open_calls.unwrap_or(d.half_open_calls),
    }
}

pub fn retry_config(r: &RetrySpec) -> RetryConfig {
    let delay = r.delay.map_or(SimDuration::ZERO, |d| d.0);
    RetryConfig {
        max_attempts: r.attempts,
        backoff: match r.backoff {
            BackoffKind::Immediate => Backoff::Immediate,
            BackoffKind::Fixed => Backoff::Fixed(delay),
            BackoffKind::Exponential => Backoff::Exponential {
                base: delay,
                multiplier: r.multiplier.unwrap_or(2.0),
                max: r.max_delay.map_or(SimDuration::MAX, |d| d.0),
            },
        },
        jitter: r.jitter,
        retry_on: match &r.on {
            None => RetryConfig::default_retry_on(),
            Some(kinds) => kinds.clone(),
        },
        budget: r.budget.map(|b| BudgetConfig {
            max_tokens: b.max_tokens,
            token_ratio: b.token_ratio,
        }),
    }
}

/// The policies a client or a service's `call` puts on its calls.
pub struct Policies<'a> {
    pub retry: Option<&'a Spanned<RetrySpec>>,
    pub breaker: Option<&'a Spanned<BreakerSpec>>,
    pub bulkhead: Option<&'a Spanned<u32>>,
    pub balance: Option<Balancer>,
    pub outlier: Option<&'a OutlierSpec>,
    pub health: Option<&'a Spanned<HealthCheckSpec>>,
    pub hedge: Option<&'a Spanned<HedgeSpec>>,
    pub fallback: Option<bool>,
    pub pool: Option<&'a Spanned<u32>>,
    pub throttle: Option<ThrottleSpec>,
}

impl Policies<'_> {
    /// Checks what serde cannot; `field` names the caller in messages.
    pub fn check(&self, ctx: &Check<'_>, field: &str) -> Result<(), Diagnostic> {
        let fail = |span, what: &str, message: String| {
            Err(ctx.at(span, &format!("{field}.{what}"), message))
        };
        if let Some(h) = self.health
            && let Some(problem) =
                super::too_frequent("health_check.interval", h.get_ref().interval.0)
        {
            return fail(h.span(), "health_check", problem);
        }
        if let Some(r) = self.retry
            && let Err(e) = retry_config(r.get_ref()).validate()
        {
            return fail(r.span(), "retry", e);
        }
        if let Some(b) = self.breaker
            && let Err(e) = breaker_config(b.get_ref()).validate()
        {
            return fail(b.span(), "breaker", e);
        }
        if let Some(b) = self.bulkhead
            && *b.get_ref() == 0
        {
            return fail(
                b.span(),
                "bulkhead",
                "a bulkhead of 0 refuses every call; use 1 or more".into(),
            );
        }
        if let Some(b) = self.pool
            && *b.get_ref() == 0
        {
            return fail(
                b.span(),
                "pool",
                "a pool of 0 connections can never send a call; use 1 or more".into(),
            );
        }
        if let Some(h) = self.hedge {
            let spec = h.get_ref();
            if spec.after.is_some() == spec.quantile.is_some() {
                return fail(
                    h.span(),
                    "hedge",
                    "a hedge needs exactly one of `after` (a delay) and `quantile` (e.g. \"95%\")"
                        .into(),
                );
            }
        }
        Ok(())
    }

    /// Sets the policies (not the targets or the timeouts) of `c`.
    pub fn apply(&self, c: &mut CallerConfig) {
        if let Some(r) = self.retry {
            c.retry = retry_config(r.get_ref());
        }
        c.breaker = self.breaker.map(|b| breaker_config(b.get_ref()));
        c.bulkhead = self.bulkhead.map(|b| BulkheadConfig {
            max_concurrent: *b.get_ref(),
        });
        c.balancer = self.balance.unwrap_or_default();
        c.outlier = self.outlier.map(|o| OutlierConfig {
            consecutive_errors: o.consecutive_errors,
            base_ejection: o.ejection.0,
            max_ejected: o.max_ejected.map_or(0.5, |m| m.0),
        });
        c.health = self
            .health
            .map(Spanned::get_ref)
            .map(|h| HealthCheckConfig {
                interval: h.interval.0,
                timeout: h.timeout.0,
                unhealthy_threshold: h.unhealthy.unwrap_or(2),
                healthy_threshold: h.healthy.unwrap_or(2),
            });
        c.hedge = self.hedge.map(Spanned::get_ref).map(|h| HedgeConfig {
            after: match (h.after, h.quantile) {
                (Some(d), _) => HedgeAfter::Fixed(d.0),
                (None, q) => HedgeAfter::Quantile {
                    q: q.map_or(0.95, |q| q.0),
                    initial: SimDuration::from_millis(10),
                    warmup: 100,
                },
            },
            max_hedges: h.max.unwrap_or(1),
        });
        c.fallback = self.fallback.unwrap_or(false).then_some(0);
        c.pool = self.pool.map(|p| *p.get_ref());
        c.throttle = match self.throttle {
            None | Some(ThrottleSpec::Enabled(false)) => None,
            Some(ThrottleSpec::Enabled(true)) => Some(ThrottleConfig::default()),
            Some(ThrottleSpec::Tuned(t)) => Some(ThrottleConfig {
                k: t.k,
                window: t.window.0,
            }),
        };
    }
}

/// What a caller's patterns did, when they did anything: fallbacks,
/// breaker, bulkhead, hedges, ejections, unhealthy replicas.
pub fn pattern_summary(r: &Report<'_>, prefix: &str) -> Option<String> {
    let c = |what: &str| r.count(prefix, what);
    let mut parts = Vec::new();
    for (what, label) in [
        ("degraded", "degraded (fallback)"),
        ("short_circuited", "short-circuited"),
        ("bulkhead_rejected", "refused by the bulkhead"),
        ("throttled_locally", "throttled locally"),
        ("pool_waits", "waited for a connection"),
        ("pool_timeouts", "timed out waiting for a connection"),
        ("hedges", "hedges"),
        ("hedge_wins", "hedges answered first"),
        ("ejections", "ejections"),
        ("marked_unhealthy", "replicas marked unhealthy"),
    ] {
        let v = c(what);
        if v > 0 {
            parts.push(format!("{v} {label}"));
        }
    }
    let opened = c("breaker.opened");
    if opened > 0 {
        let share = r
            .metrics
            .get_gauge(&format!("{prefix}.breaker.open"))
            .map_or(0.0, |g| g.time_average(r.end));
        parts.push(format!(
            "breaker opened {opened}x, open {:.1}% of the time",
            100.0 * share
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}
