//! `kind = "service"`: a pool of workers with a queue that does some
//! work per call and may call dependencies, with the server-side
//! patterns (rate limits, shedding, CoDel, idempotency, feature flags).

use super::caller::Policies;
use super::metrics::{Metric, counter, gauge, histogram};
use super::{Build, Check, Field, Kind, Report, optional, required};
use crate::models::service::{Dependency, Fanout, PriorityShedding, Service, ServiceConfig};
use crate::policy::codel::CodelConfig;
use crate::policy::idempotency::IdempotencyConfig;
use crate::policy::rate_limit::{Limit, RateLimitConfig};
use crate::policy::timeout::TimeoutConfig;
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::spec::{
    CallSpec, CodelSpec, FanoutSpec, IdempotencySpec, NodeKind, NodeSpec, QueueSpec, RateLimitSpec,
};
use crate::time::SimDuration;

/// How long idempotency keys are kept when `idempotency = true`.
pub const DEFAULT_KEY_TTL: SimDuration = SimDuration::from_secs(24 * 3600);

pub const KIND: Kind = Kind::new(
    NodeKind::Service,
    "service",
    "A pool of workers with a queue: each call takes a worker for its service time, then the service calls its dependencies, if any, holding the worker until they answer.",
    &[FIELDS],
    build,
    report,
)
.checked_by(check)
.records(&[SERVICE_METRICS])
.calls_record();

const SERVICE_METRICS: &[Metric] = &[
    counter("arrivals"),
    counter("started"),
    counter("completed"),
    counter("failed"),
    counter("degraded"),
    counter("rejected"),
    counter("shed"),
    counter("shed_priority"),
    counter("rate_limited"),
    counter("late"),
    counter("replayed"),
    counter("conflicts"),
    counter("waited"),
    histogram("wait_ns"),
    histogram("response_ns"),
    gauge("queue_depth"),
    gauge("busy_workers"),
];

const FIELDS: &[Field] = &[
    optional(
        "replicas",
        "integer >= 1",
        "Run this many copies, named `<name>-0`, `<name>-1`...; callers of `<name>` balance over them.",
    ),
    required(
        "workers",
        "integer >= 1",
        "How many calls it works on at once.",
    ),
    optional(
        "queue",
        "integer or `\"unbounded\"`",
        "Calls that may wait for a worker; beyond it they are rejected as overloaded (default unbounded).",
    ),
    required(
        "service_time",
        "distribution",
        "A worker's own work per call.",
    ),
    optional(
        "calls",
        "node name",
        "A dependency called after its own work, holding the worker until it answers.",
    ),
    optional(
        "call_timeout",
        "duration",
        "How long a worker waits for the dependency.",
    ),
    optional(
        "idempotency",
        "true, false or `{ ttl = duration }`",
        "Keep results by idempotency key and replay them (true keeps keys for 24h).",
    ),
    optional(
        "discipline",
        "`fifo` or `lifo`",
        "Which waiting call a free worker takes, the oldest or the newest (default fifo).",
    ),
    optional(
        "codel",
        "true, false or `{ target = duration, interval = duration }`",
        "Shed calls that waited longer than `target` once the queue has not been empty for `interval` (true: 5ms and 100ms).",
    ),
    optional(
        "call",
        "list of tables",
        "Dependencies with policies, as `[[node.call]]` tables; see `[[node.call]]`.",
    ),
    optional(
        "rate_limit",
        "table",
        "Refuse calls over a rate; see `rate_limit`.",
    ),
    optional(
        "shed",
        "`{ below = priority, queue = integer }`",
        "While `queue` or more calls wait, refuse those with a priority below `below`.",
    ),
    optional(
        "parallel",
        "true or false",
        "Call every dependency at once instead of in order.",
    ),
    optional(
        "flags",
        "table of true or false",
        "Feature flags and their starting values, e.g. `{ recommendations = true }`.",
    ),
    optional(
        "gate",
        "flag name",
        "Its gray failures (slow, errors, hang) apply only while this flag is on: a release behind a flag.",
    ),
];

/// The policies on one of a service's calls.
fn policies(c: &CallSpec) -> Policies<'_> {
    Policies {
        retry: c.retry.as_ref(),
        breaker: c.breaker.as_ref(),
        bulkhead: c.bulkhead.as_ref(),
        balance: c.balance,
        outlier: c.outlier.as_ref(),
        health: c.health_check.as_ref(),
        hedge: c.hedge.as_ref(),
        fallback: c.fallback,
        pool: c.pool.as_ref(),
        throttle: c.throttle,
    }
}

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    let field = format!("node `{}`", n.name.get_ref());
    let flags: Vec<&str> = n.flags.iter().flatten().map(|(k, _)| k.as_str()).collect();
    if let Some(g) = &n.gate
        && !flags.contains(&g.get_ref().as_str())
    {
        return Err(ctx
            .field(
                n,
                "gate",
                g.span(),
                format!("this service has no flag called `{}`", g.get_ref()),
            )
            .with_help("declare it with its starting value, e.g. flags = { new-release = true }")
            .with_suggestion(crate::scenario::suggest::did_you_mean(
                g.get_ref(),
                flags.iter().copied(),
            )));
    }
    for (i, c) in n.call_specs.iter().flatten().enumerate() {
        check_call(ctx, &format!("{field}.call.{i}"), c, &flags)?;
    }
    if let Some(r) = &n.rate_limit
        && let Some(problem) = rate_limit_problem(r.get_ref())
    {
        return Err(ctx.field(n, "rate_limit", r.span(), problem));
    }
    Ok(())
}

/// One `[[node.call]]`: its flag, its policies and its fan-out.
fn check_call(ctx: &Check<'_>, cf: &str, c: &CallSpec, flags: &[&str]) -> Result<(), Diagnostic> {
    if let Some(f) = &c.flag
        && !flags.contains(&f.as_str())
    {
        return Err(ctx
            .at(
                c.to.span(),
                &format!("{cf}.flag"),
                format!("this service has no flag called `{f}`"),
            )
            .with_help("declare it in the service's `flags`"));
    }
    policies(c).check(ctx, cf)?;
    let targets = ctx.group_size(c.to.get_ref());
    if let Some(FanoutSpec::Quorum(q)) = c.fanout
        && (q.quorum == 0 || q.quorum > targets)
    {
        return Err(ctx
            .at(
                c.to.span(),
                &format!("{cf}.fanout"),
                format!(
                    "a quorum of {} out of {targets} replica(s) can never be met",
                    q.quorum
                ),
            )
            .with_expected(format!("a quorum from 1 to {targets}")));
    }
    Ok(())
}

/// What is wrong with a rate limit, if anything.
fn rate_limit_problem(spec: &RateLimitSpec) -> Option<&'static str> {
    let bucket = spec.rate.is_some() || spec.burst.is_some();
    let window = spec.limit.is_some() || spec.window.is_some();
    if bucket == window {
        Some(
            "a rate limit is either a token bucket (`rate`, optional `burst`) or a sliding window (`limit` and `window`)",
        )
    } else if window
        && (spec.limit.is_none() || spec.window.is_none_or(|w| w.0 == SimDuration::ZERO))
    {
        Some("a sliding window needs both `limit` and a `window` longer than 0s")
    } else if spec.rate.is_some_and(|r| r.0 <= 0.0)
        || spec.burst.is_some_and(|b| b.is_nan() || b < 1.0)
    {
        Some("a token bucket needs a rate above zero and a burst of at least 1")
    } else {
        None
    }
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let workers = *n.workers.as_ref().expect("checked").get_ref();
    let service_time = n.service_time.as_ref().expect("checked").0.clone();
    let mut s = ServiceConfig::new(workers, service_time);
    s.queue_capacity = match n.queue.as_ref().map(|q| *q.get_ref()) {
        Some(QueueSpec::Bounded(cap)) => Some(usize::try_from(cap).unwrap_or(usize::MAX)),
        _ => None,
    };
    if let Some(c) = &n.calls {
        let targets = b.group(c.get_ref());
        let mut dep = Dependency::to(c.get_ref(), targets[0]);
        dep.call.targets = targets;
        dep.call.timeout.per_attempt = n.call_timeout.map(|d| d.0);
        s.dependencies.push(dep);
    }
    for c in n.call_specs.iter().flatten() {
        s.dependencies.push(dependency(c, b));
    }
    s.parallel = n.parallel.unwrap_or(false);
    s.flags = n.flags.clone().unwrap_or_default();
    s.gate = n.gate.as_ref().map(|g| g.get_ref().clone());
    s.rate_limit = n.rate_limit.as_ref().map(|r| rate_limit(r.get_ref()));
    s.priority_shedding = n.shed.map(|sh| PriorityShedding {
        below: sh.below,
        queue: usize::try_from(sh.queue).unwrap_or(usize::MAX),
    });
    s.idempotency = match n.idempotency {
        None | Some(IdempotencySpec::Enabled(false)) => None,
        Some(IdempotencySpec::Enabled(true)) => Some(IdempotencyConfig {
            ttl: DEFAULT_KEY_TTL,
        }),
        Some(IdempotencySpec::Ttl(t)) => Some(IdempotencyConfig { ttl: t.ttl.0 }),
    };
    s.discipline = n.discipline.unwrap_or_default();
    s.codel = match n.codel {
        None | Some(CodelSpec::Enabled(false)) => None,
        Some(CodelSpec::Enabled(true)) => Some(CodelConfig::default()),
        Some(CodelSpec::Tuned(t)) => Some(CodelConfig {
            target: t.target.0,
            interval: t.interval.0,
        }),
    };
    b.add_replicated(n, || Service::new(s.clone()))
}

/// One `[[node.call]]` as a dependency with its policies.
fn dependency(c: &CallSpec, b: &Build<'_>) -> Dependency {
    let to = c.to.get_ref();
    let targets = b.group(to);
    let mut dep = Dependency::to(c.name.as_deref().unwrap_or(to), targets[0]);
    dep.call.targets = targets;
    dep.call.timeout = TimeoutConfig {
        per_attempt: c.timeout.map(|d| d.0),
        overall: c.deadline.map(|d| d.0),
    };
    policies(c).apply(&mut dep.call);
    dep.fanout = c.fanout.map(|f| match f {
        FanoutSpec::Named(_) => Fanout::All,
        FanoutSpec::Quorum(q) => Fanout::Quorum(q.quorum),
    });
    dep.flag = c.flag.clone();
    dep
}

fn rate_limit(r: &RateLimitSpec) -> RateLimitConfig {
    RateLimitConfig {
        limit: match (r.rate, r.limit, r.window) {
            (Some(rate), _, _) => Limit::TokenBucket {
                rate: rate.0,
                burst: r.burst.unwrap_or(rate.0.max(1.0)),
            },
            (None, limit, window) => Limit::SlidingWindow {
                limit: limit.unwrap_or(0),
                window: window.map_or(SimDuration::from_secs(1), |w| w.0),
            },
        },
        per_client: r.per_client.unwrap_or(false),
    }
}

/// The names its dependencies have in metrics, in order.
fn dependency_names(n: &NodeSpec) -> Vec<String> {
    n.calls
        .iter()
        .map(|c| c.get_ref().clone())
        .chain(
            n.call_specs
                .iter()
                .flatten()
                .map(|c| c.name.clone().unwrap_or_else(|| c.to.get_ref().clone())),
        )
        .collect()
}

fn report(r: &Report<'_>, n: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what);
    let workers = n.workers.as_ref().map_or(1, |w| *w.get_ref());
    let busy = r
        .metrics
        .get_gauge(&format!("{name}.busy_workers"))
        .map_or(0.0, |g| g.time_average(r.end));
    let mut rows: Vec<(String, String)> = vec![
        (
            "arrivals".into(),
            format!("{} ({})", c("arrivals"), r.per_second(c("arrivals"))),
        ),
        (
            "throughput".into(),
            format!("{} answered ok", r.per_second(c("completed"))),
        ),
        (
            "answered".into(),
            format!(
                "{} ok, {} failed, {} rejected (queue full), {} shed",
                c("completed"),
                c("failed"),
                c("rejected"),
                c("shed")
            ),
        ),
        (
            "late".into(),
            format!(
                "{} answered after the caller's deadline (wasted work)",
                c("late")
            ),
        ),
        (
            "idempotency".into(),
            format!("{} replayed, {} conflicts", c("replayed"), c("conflicts")),
        ),
        (
            "utilisation".into(),
            format!(
                "{:.1}% of {workers} workers",
                100.0 * busy / f64::from(workers)
            ),
        ),
        (
            "queue depth".into(),
            r.gauge_mean_max(&format!("{name}.queue_depth")),
        ),
    ];
    for dep in dependency_names(n) {
        let p = format!("{name}.{dep}");
        let d = |what: &str| r.count(&p, what);
        let mut text = format!(
            "{} calls, {} ok, {} failed, {} attempts",
            d("requests"),
            d("ok"),
            d("failed"),
            d("attempts")
        );
        if let Some(extra) = super::caller::pattern_summary(r, &p) {
            text.push_str(&format!("; {extra}"));
        }
        rows.push((format!("calls {dep}"), text));
    }
    rows
}
