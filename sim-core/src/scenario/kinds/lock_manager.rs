//! `kind = "lock_manager"`: exclusive locks for transactions, with a line
//! of waiters per lock, an optional lock timeout and optional deadlock
//! detection (`models::lock_manager`).

use super::metrics::{counter, histogram};
use super::{Build, Field, Kind, Report, optional};
use crate::models::lock_manager::LockManager;
use crate::scenario::spec::{NodeKind, NodeSpec};

pub const KIND: Kind = Kind::new(
    NodeKind::LockManager,
    "lock_manager",
    "Exclusive locks that transactions (transfer clients) take one at a time and release together. A transaction that asks for a held lock waits in line. With `detect_deadlocks`, a wait that would close a cycle (each waiting for a lock another holds) is refused at once; with `lock_timeout`, a waiter gives up after that long; with neither, a deadlock lasts forever.",
    &[FIELDS],
    build,
    report,
)
.records(&[&[
    counter("grants"),
    counter("waits"),
    counter("timeouts"),
    counter("deadlocks"),
    histogram("wait_ns"),
]]);

const FIELDS: &[Field] = &[
    optional(
        "lock_timeout",
        "duration",
        "A waiter is refused after waiting this long (default: it waits forever).",
    ),
    optional(
        "detect_deadlocks",
        "true or false",
        "Refuse a wait that would close a cycle of waits, at once (default false).",
    ),
];

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let timeout = n.lock_timeout.as_ref().map(|t| t.get_ref().0);
    let manager = LockManager::new(timeout, n.detect_deadlocks.unwrap_or(false));
    b.add(n.name.get_ref(), manager)
}

fn report(r: &Report<'_>, _: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what).to_string();
    // Every granted wait records its length; waits that ended refused, or
    // never ended, do not.
    let granted_after_wait = r
        .metrics
        .get_histogram(&format!("{name}.wait_ns"))
        .map_or(0, |h| h.count());
    vec![
        (
            "grants".into(),
            format!(
                "{} ({granted_after_wait} after waiting); {} waits began",
                c("grants"),
                c("waits")
            ),
        ),
        (
            "refused".into(),
            format!(
                "{} deadlocks found, {} lock timeouts",
                c("deadlocks"),
                c("timeouts")
            ),
        ),
        ("waits".into(), r.quantiles(&format!("{name}.wait_ns"))),
    ]
}
