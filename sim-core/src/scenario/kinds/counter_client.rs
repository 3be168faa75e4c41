//! `kind = "counter_client"`: closed-loop users who each change a shared
//! counter in a kv store, by read-then-write, compare-and-set or an atomic
//! conditional change (`models::counter`).

use super::caller::retry_config;
use super::metrics::{counter, histogram};
use super::rows::{ms, percent};
use super::{Build, Check, Field, Kind, Report, optional, required};
use crate::dist::Dist;
use crate::models::counter::{CounterClient, CounterConfig, Method};
use crate::policy::retry::RetryConfig;
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::spec::{NodeKind, NodeSpec};

pub const KIND: Kind = Kind::new(
    NodeKind::CounterClient,
    "counter_client",
    "Users who change a shared counter (a stock, a like count) in a kv store (`target`), each in a closed loop: think, then one task that adds `change` to the counter. `method` says how: `read_write` reads, works and writes the new value back blindly (two users who read the same value lose one change); `cas` writes only if the version read is still there (compare-and-set), retrying a conflict under `retry`; `atomic` lets the store apply the change. A change that would take the counter below zero is refused: sold out.",
    &[FIELDS],
    build,
    report,
)
.targets(&[NodeKind::Kv])
.checked_by(check)
.records(&[&[
    counter("tasks"),
    counter("succeeded"),
    counter("sold_out"),
    counter("gave_up"),
    counter("attempts"),
    counter("conflicts"),
    counter("work_ns"),
    counter("wasted_ns"),
    counter("users_done"),
    histogram("latency_ns"),
    histogram("finished_ns"),
]]);

const FIELDS: &[Field] = &[
    required(
        "target",
        "node name",
        "The kv store that holds the counter.",
    ),
    required("users", "integer >= 1", "How many users."),
    required(
        "method",
        "`read_write`, `cas` or `atomic`",
        "How a task changes the counter (see above).",
    ),
    optional(
        "change",
        "integer (not 0)",
        "Added to the counter by each task; negative takes (default -1: buy one).",
    ),
    optional(
        "think",
        "distribution",
        "Each user's pause before each task (default 0).",
    ),
    optional(
        "tasks",
        "integer >= 1",
        "Tasks per user, after which the user stops (default: until the run ends). `finished_ns.max` is when the last one ended.",
    ),
    optional(
        "work",
        "distribution",
        "The time between reading the counter and writing it (default 0): the window in which another user can change it.",
    ),
    optional(
        "shards",
        "integer >= 1",
        "The counter is spread over this many keys of the store, each task picking one at random (default 1: one contended key).",
    ),
    optional(
        "retry",
        "table",
        "How a `cas` user retries a conflict; see `retry` (default: 10 attempts, at once). `on` is not used: only conflicts are retried.",
    ),
];

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    let positive = [
        (
            "users",
            n.users
                .as_ref()
                .map(|u| (u64::from(*u.get_ref()), u.span())),
        ),
        ("tasks", n.tasks.as_ref().map(|t| (*t.get_ref(), t.span()))),
        (
            "shards",
            n.shards
                .as_ref()
                .map(|s| (u64::from(*s.get_ref()), s.span())),
        ),
    ];
    for (field, value) in positive {
        if let Some((0, span)) = value {
            return Err(ctx.field(n, field, span, format!("`{field}` must be at least 1")));
        }
    }
    if let Some(c) = &n.change
        && *c.get_ref() == 0
    {
        return Err(ctx.field(
            n,
            "change",
            c.span(),
            "a change of 0 changes nothing; use -1 to take one, 1 to add one",
        ));
    }
    if let Some(r) = &n.retry {
        if n.method != Some(Method::Cas) {
            return Err(ctx.field(
                n,
                "retry",
                r.span(),
                "only `method = \"cas\"` has conflicts to retry; remove `retry`, or use `cas`",
            ));
        }
        if let Err(e) = retry_config(r.get_ref()).validate() {
            return Err(ctx.field(n, "retry", r.span(), e));
        }
    }
    Ok(())
}

/// Without a `retry` table: 10 attempts, each at once after a conflict.
fn default_retry() -> RetryConfig {
    RetryConfig {
        max_attempts: 10,
        retry_on: RetryConfig::default_retry_on(),
        ..RetryConfig::never()
    }
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let mut retry = n
        .retry
        .as_ref()
        .map_or_else(default_retry, |r| retry_config(r.get_ref()));
    // Only conflicts are retried, whatever `on` says.
    retry.retry_on = vec![crate::policy::ErrorKind::Conflict];
    let zero = || Dist::Constant(0.0);
    let cfg = CounterConfig {
        store: b.target(n.target.as_ref())[0],
        users: *n.users.as_ref().expect("checked").get_ref(),
        think: n.think.as_ref().map_or_else(zero, |d| d.0.clone()),
        tasks: n.tasks.as_ref().map(|t| *t.get_ref()),
        change: n.change.as_ref().map_or(-1, |c| *c.get_ref()),
        method: n.method.expect("checked"),
        work: n.work.as_ref().map_or_else(zero, |d| d.0.clone()),
        keys: n.shards.as_ref().map_or(1, |s| *s.get_ref()),
        retry,
    };
    b.add(n.name.get_ref(), CounterClient::new(cfg))
}

fn report(r: &Report<'_>, n: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what);
    let (tasks, ok, attempts) = (c("tasks"), c("succeeded"), c("attempts"));
    let per = |x: u64| {
        if ok == 0 {
            "-".to_string()
        } else {
            format!("{:.2}", x as f64 / ok as f64)
        }
    };
    let method = n.method.map_or("-", Method::as_str);
    let latency = r.metrics.get_histogram(&format!("{name}.latency_ns"));
    let finished = r.metrics.get_histogram(&format!("{name}.finished_ns"));
    let q = |p: f64| ms(latency.and_then(|h| h.quantile(p)));
    vec![
        (
            "tasks".into(),
            format!(
                "{tasks} by {} users ({method}); {} sold out, {} gave up",
                n.users.as_ref().map_or(0, |u| *u.get_ref()),
                c("sold_out"),
                c("gave_up")
            ),
        ),
        ("succeeded".into(), format!("{ok} ({})", percent(ok, tasks))),
        (
            "attempts".into(),
            format!(
                "{attempts} ({} per success); {} conflicts",
                per(attempts),
                c("conflicts")
            ),
        ),
        (
            "wasted work".into(),
            format!(
                "{} of the work ({} per success)",
                percent(c("wasted_ns"), c("work_ns")),
                ms(Some(c("wasted_ns") / ok.max(1)))
            ),
        ),
        (
            "task time".into(),
            format!("p50 {}  p99 {}  max {}", q(0.5), q(0.99), q(1.0)),
        ),
        (
            "last task ended".into(),
            ms(finished.and_then(|h| h.quantile(1.0))),
        ),
    ]
}
