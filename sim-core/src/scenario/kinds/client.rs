//! `kind = "client"`: users sending orders (requests) to a service or a
//! ledger at a Poisson rate, with the resilience patterns on their calls.

use super::caller::{POLICY_FIELDS, Policies};
use super::metrics::{CALLER, counter, histogram};
use super::rows::{ms, percent};
use super::{Build, Check, Field, Kind, Report, optional, required};
use crate::dist::Dist;
use crate::models::client::{Client, ClientConfig, ClosedLoop};
use crate::policy::ErrorKind;
use crate::policy::timeout::TimeoutConfig;
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::spec::{NodeKind, NodeSpec};
use crate::time::{SimDuration, SimTime};

pub const KIND: Kind = Kind::new(
    NodeKind::Client,
    "client",
    "Users who send orders (requests) to a service or a ledger, with the resilience patterns on their calls: at a Poisson `rate` (an open loop), or as `users` who each think, send one request and wait for its end before thinking again (a closed loop).",
    &[FIELDS, POLICY_FIELDS],
    build,
    report,
)
.targets(&[NodeKind::Service, NodeKind::Ledger])
.checked_by(check)
.records(&[
    &[
        counter("throttled"),
        counter("tasks_done"),
        counter("users_done"),
        histogram("finished_ns"),
    ],
    CALLER,
]);

const FIELDS: &[Field] = &[
    required("target", "node name", "The service (or ledger) it calls."),
    optional(
        "rate",
        "rate",
        "New orders per unit of time, Poisson, e.g. `\"50/s\"` (an open loop; a client has `rate` or `users`).",
    ),
    optional(
        "users",
        "integer >= 1",
        "A closed loop instead of a rate: this many users, each thinking, sending one request and waiting until it ends (succeeded or failed) before thinking again.",
    ),
    optional(
        "think",
        "distribution",
        "A closed loop's think time before each request (default 0: the next request goes as soon as the last one ends).",
    ),
    optional(
        "tasks",
        "integer >= 1",
        "A closed loop's requests per user; a user who has made them stops (finite work: `finished_ns.max` is when the work was done). Default: until the run ends.",
    ),
    optional(
        "timeout",
        "duration",
        "Each attempt gives up after this long.",
    ),
    optional(
        "deadline",
        "duration",
        "The whole request, retries included, gives up after this long; the deadline travels downstream.",
    ),
    optional("retry", "table", "See `retry` (default: no retries)."),
    optional(
        "idempotency_keys",
        "true or false",
        "Send the order's id as an idempotency key with every attempt.",
    ),
    optional(
        "double_submit",
        "probability",
        "Chance that a user submits an order twice.",
    ),
    optional(
        "double_submit_delay",
        "distribution",
        "How long after the first the second submission comes.",
    ),
    optional("orders", "integer", "Stop after this many orders."),
    optional(
        "rate_changes",
        "list of `{ at = duration, rate = rate }`",
        "From each time on, orders arrive at the new rate (`\"0/s\"` pauses them): a surge, or a ramp in steps.",
    ),
    optional(
        "max_in_flight",
        "integer >= 1",
        "Backpressure; while this many requests are outstanding, new ones are refused at once (`throttled`).",
    ),
    optional(
        "priority",
        "integer 0 to 255",
        "The priority of its calls; higher is more important (default 0).",
    ),
];

/// The policies on a client's calls, from its own fields.
pub(super) fn policies(n: &NodeSpec) -> Policies<'_> {
    Policies {
        retry: n.retry.as_ref(),
        breaker: n.breaker.as_ref(),
        bulkhead: n.bulkhead.as_ref(),
        balance: n.balance,
        outlier: n.outlier.as_ref(),
        health: n.health_check.as_ref(),
        hedge: n.hedge.as_ref(),
        fallback: n.fallback,
        pool: n.pool.as_ref(),
        throttle: n.throttle,
    }
}

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    check_loop(ctx, n)?;
    if let Some(m) = &n.max_in_flight
        && *m.get_ref() == 0
    {
        return Err(ctx.field(
            n,
            "max_in_flight",
            m.span(),
            "a client with max_in_flight = 0 could send nothing; use 1 or more",
        ));
    }
    policies(n).check(ctx, &format!("node `{}`", n.name.get_ref()))
}

/// A client is open (`rate`) or closed (`users`), and each loop's own
/// fields appear only with it.
fn check_loop(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    let node = format!("node `{}`", n.name.get_ref());
    let Some(users) = &n.users else {
        if n.rate.is_none() {
            return Err(ctx.at(
                n.name.span(),
                &node,
                "a client needs `rate` (new orders per second, an open loop) or `users` (each waiting for its answer, a closed loop)".into(),
            ));
        }
        for (field, given) in [("think", n.think.is_some()), ("tasks", n.tasks.is_some())] {
            if given {
                return Err(ctx.at(
                    n.name.span(),
                    &node,
                    format!("`{field}` belongs to a closed loop; add `users` (and remove `rate`), or remove `{field}`"),
                ));
            }
        }
        return Ok(());
    };
    if *users.get_ref() == 0 {
        return Err(ctx.field(
            n,
            "users",
            users.span(),
            "a closed loop needs at least 1 user",
        ));
    }
    if let Some(t) = &n.tasks
        && *t.get_ref() == 0
    {
        return Err(ctx.field(
            n,
            "tasks",
            t.span(),
            "each user needs at least 1 task; leave `tasks` out to keep going until the run ends",
        ));
    }
    let open_only = [
        ("rate", n.rate.is_some()),
        ("rate_changes", n.rate_changes.is_some()),
        ("orders", n.orders.is_some()),
        ("double_submit", n.double_submit.is_some()),
        ("max_in_flight", n.max_in_flight.is_some()),
    ];
    match open_only.iter().find(|(_, given)| *given) {
        Some((field, _)) => Err(ctx.field(
            n,
            "users",
            users.span(),
            format!("`{field}` belongs to an open loop, and `users` makes this client a closed one; keep one of the two"),
        )),
        None => Ok(()),
    }
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let targets = b.target(n.target.as_ref());
    let rate = n.rate.as_ref().map_or(1.0, |r| r.get_ref().0);
    let mut c = ClientConfig::poisson(targets[0], rate);
    c.closed = n.users.as_ref().map(|u| ClosedLoop {
        users: *u.get_ref(),
        think: n
            .think
            .as_ref()
            .map_or(Dist::Constant(0.0), |d| d.0.clone()),
        tasks: n.tasks.as_ref().map(|t| *t.get_ref()),
    });
    c.call.targets = targets;
    c.call.timeout = TimeoutConfig {
        per_attempt: n.timeout.as_ref().map(|d| d.get_ref().0),
        overall: n.deadline.map(|d| d.0),
    };
    policies(n).apply(&mut c.call);
    c.call.priority = n.priority.unwrap_or(0);
    c.idempotency_keys = n.idempotency_keys.unwrap_or(false);
    c.double_submit = n.double_submit.map_or(0.0, |p| p.0);
    if let Some(d) = &n.double_submit_delay {
        c.double_submit_delay = d.0.clone();
    }
    c.max_orders = n.orders;
    c.rate_changes = rate_changes(n);
    c.max_in_flight = n
        .max_in_flight
        .as_ref()
        .map(|m| usize::try_from(*m.get_ref()).unwrap_or(usize::MAX));
    b.add(n.name.get_ref(), Client::new(c))
}

/// A client's or session's rate changes, in time order.
pub(super) fn rate_changes(n: &NodeSpec) -> Vec<(SimTime, f64)> {
    let mut changes: Vec<(SimTime, f64)> = n
        .rate_changes
        .iter()
        .flatten()
        .map(|r| (SimTime::ZERO + r.at.0, r.rate.0))
        .collect();
    changes.sort_by_key(|&(at, _)| at);
    changes
}

fn report(r: &Report<'_>, n: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what);
    let (requests, ok, failed) = (c("requests"), c("ok"), c("failed"));
    let reasons: Vec<String> = ErrorKind::ALL
        .iter()
        .filter_map(|k| {
            let v = c(&format!("failed.{}", k.as_str()));
            (v > 0).then(|| format!("{} {v}", k.as_str()))
        })
        .collect();
    let latency = r.metrics.get_histogram(&format!("{name}.latency_ns"));
    let q = |p: f64| ms(latency.and_then(|h| h.quantile(p)));
    let attempts = c("attempts");
    let refused = match c("throttled") {
        0 => String::new(),
        t => format!("; {t} refused by max_in_flight"),
    };
    let per_request = if requests == 0 {
        "-".into()
    } else {
        format!("{:.2}", attempts as f64 / requests as f64)
    };
    let rows = vec![
        (
            "requests".into(),
            format!(
                "{requests} ({} still in flight at the end)",
                requests.saturating_sub(ok + failed)
            ),
        ),
        (
            "succeeded".into(),
            format!("{ok} ({})", percent(ok, requests)),
        ),
        (
            "failed".into(),
            if reasons.is_empty() {
                failed.to_string()
            } else {
                format!("{failed} ({})", reasons.join(", "))
            },
        ),
        (
            "goodput".into(),
            format!(
                "{} (answered in time), of {} offered{refused}",
                r.per_second(ok),
                r.per_second(requests),
            ),
        ),
        (
            "attempts".into(),
            format!(
                "{attempts} ({per_request} per request), {} retries",
                c("retries")
            ),
        ),
        (
            "latency".into(),
            format!(
                "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
                q(0.5),
                q(0.9),
                q(0.99),
                q(0.999),
                q(1.0)
            ),
        ),
    ];
    closed_row(r, n, name)
        .into_iter()
        .chain(rows)
        .chain(super::caller::pattern_summary(r, name).map(|p| ("patterns".to_string(), p)))
        .chain(recovery_row(r, name))
        .collect()
}

/// A closed loop's users and how far their work got.
fn closed_row(r: &Report<'_>, n: &NodeSpec, name: &str) -> Option<(String, String)> {
    let users = *n.users.as_ref()?.get_ref();
    let done = r.count(name, "tasks_done");
    let finished = r.metrics.get_histogram(&format!("{name}.finished_ns"));
    let work = match n.tasks.as_ref().map(|t| *t.get_ref()) {
        None => format!("{done} tasks done"),
        Some(k) => {
            let all = u64::from(users) * k;
            match (r.count(name, "users_done") == u64::from(users), finished) {
                (true, Some(h)) => format!("all {all} tasks done at {}", ms(h.quantile(1.0))),
                _ => format!("{done} of {all} tasks done by the end"),
            }
        }
    };
    Some(("users".into(), format!("{users} (a closed loop); {work}")))
}

/// A client's detection and recovery after the scheduled faults.
fn recovery_row(r: &Report<'_>, client: &str) -> Option<(String, String)> {
    let rec = crate::scenario::timeline::recovery(r.metrics, r.faults, client, r.end)?;
    let detect = rec.detected_after.map_or_else(
        || "no alert fired".to_string(),
        |d| format!("alert (over 5% failing) after {d}"),
    );
    let recover = match rec.recovered_after {
        Some(d) if d == SimDuration::ZERO => "healthy as soon as the fault ended".to_string(),
        Some(d) => format!("healthy again {d} after the fault ended"),
        None => "never recovered by the end of the run (metastable, or the fault never ended)"
            .to_string(),
    };
    Some(("recovery".into(), format!("{detect}; {recover}")))
}
