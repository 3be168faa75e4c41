//! `kind = "kv"`: a key-value store (a database), answering at once or
//! with workers and a service time; a group of them is a router's shards.

use super::metrics::{counter, gauge, histogram};
use super::rows::ms;
use super::{Build, Check, Field, Kind, Report, optional};
use crate::models::kv::KvStore;
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::spec::{NodeKind, NodeSpec};

pub const KIND: Kind = Kind::new(
    NodeKind::Kv,
    "kv",
    "A key-value store (a database). Without `workers` it answers at once; with `workers` and `service_time` it has a capacity and a queue. A group of them (`replicas`) is a router's shards.",
    &[FIELDS],
    build,
    report,
)
.checked_by(check)
.records(&[&[
    counter("reads"),
    counter("writes"),
    gauge("queue_depth"),
    gauge("busy_workers"),
    histogram("response_ns"),
    counter("oversold"),
    counter("lost_updates"),
    counter("nonlinearizable_keys"),
]]);

const FIELDS: &[Field] = &[
    optional(
        "workers",
        "integer >= 1",
        "Its workers, if it has a capacity (with `service_time`).",
    ),
    optional(
        "service_time",
        "distribution",
        "The time per request, if it has a capacity (with `workers`).",
    ),
    optional(
        "initial",
        "integer >= 0",
        "What every key holds until it is written (default 0): a stock, a balance, a counter's start.",
    ),
    optional(
        "replicas",
        "integer >= 1",
        "Run this many stores, named `<name>-0`, `<name>-1`...: a router's shards.",
    ),
];

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    if n.workers.is_some() != n.service_time.is_some() {
        // At `workers` when it is the one given (a distribution has no
        // location of its own), else at the node's name.
        let span = n.workers.as_ref().map_or(n.name.span(), |w| w.span());
        return Err(ctx.at(
            span,
            &format!("node `{}`", n.name.get_ref()),
            "a kv store with capacity needs both `workers` and `service_time` (or neither, to answer at once)"
                .into(),
        ));
    }
    Ok(())
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let store = || {
        let s = match (&n.workers, &n.service_time) {
            (Some(w), Some(t)) => KvStore::with_capacity(*w.get_ref(), t.0.clone()),
            _ => KvStore::new(),
        };
        s.with_initial(n.initial.unwrap_or(0))
    };
    b.add_replicated(n, store)
}

fn report(r: &Report<'_>, _: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what);
    let response = r.metrics.get_histogram(&format!("{name}.response_ns"));
    let q = |p: f64| ms(response.and_then(|h| h.quantile(p)));
    vec![
        ("reads".into(), c("reads").to_string()),
        ("writes".into(), c("writes").to_string()),
        (
            "response".into(),
            format!("p50 {}  p99 {}  max {}", q(0.5), q(0.99), q(1.0)),
        ),
        (
            "queue depth".into(),
            r.gauge_mean_max(&format!("{name}.queue_depth")),
        ),
    ]
    .into_iter()
    .chain(counter_rows(r, name))
    .collect()
}

/// What the counter checker found, for a store that counter clients
/// changed.
fn counter_rows(r: &Report<'_>, name: &str) -> Vec<(String, String)> {
    if r.metrics
        .get_counter(&format!("{name}.lost_updates"))
        .is_none()
    {
        return Vec::new();
    }
    let c = |what: &str| r.count(name, what);
    vec![
        (
            "lost updates".into(),
            format!(
                "{} (changes reported done that the data does not show); oversold {}",
                c("lost_updates"),
                c("oversold")
            ),
        ),
        r.linearizable(name),
    ]
}
