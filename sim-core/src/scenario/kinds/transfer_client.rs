//! `kind = "transfer_client"`: closed-loop users who move money between
//! accounts of a kv store under two locks from a lock manager
//! (`models::transfer`).

use super::caller::retry_config;
use super::metrics::{counter, histogram};
use super::rows::{ms, percent};
use super::{Build, Check, Field, Kind, Report, optional, required};
use crate::dist::Dist;
use crate::models::transfer::{LockOrder, TransferClient, TransferConfig};
use crate::policy::ErrorKind;
use crate::policy::retry::RetryConfig;
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::spec::{NodeKind, NodeSpec};

pub const KIND: Kind = Kind::new(
    NodeKind::TransferClient,
    "transfer_client",
    "Users who each, in a closed loop, think and then move `amount` between two accounts drawn at random (keys of the kv store `calls`): lock both at the lock manager (`target`), read both, work, write both, release. `lock_order` says which lock comes first; a refused lock (a deadlock's victim or a lock timeout) releases both and starts again under `retry`.",
    &[FIELDS],
    build,
    report,
)
.targets(&[NodeKind::LockManager])
.checked_by(check)
.records(&[&[
    counter("tasks"),
    counter("succeeded"),
    counter("insufficient"),
    counter("attempts"),
    counter("deadlocks"),
    counter("timeouts"),
    counter("gave_up"),
    counter("users_done"),
    histogram("latency_ns"),
    histogram("finished_ns"),
]]);

const FIELDS: &[Field] = &[
    required("target", "node name", "The lock manager."),
    required("calls", "node name", "The kv store holding the accounts."),
    required("users", "integer >= 1", "How many users."),
    optional(
        "accounts",
        "integer >= 2",
        "Accounts: the store's keys 0, 1, ... (default 2).",
    ),
    optional(
        "amount",
        "integer >= 1",
        "Moved by each transfer (default 1); a transfer from an account holding less moves nothing.",
    ),
    optional(
        "lock_order",
        "`as_drawn` or `sorted`",
        "`as_drawn` locks the account paid from, then the one paid to; `sorted` the lower-numbered first, always (default `as_drawn`).",
    ),
    optional(
        "think",
        "distribution",
        "Each user's pause before each transfer (default 0).",
    ),
    optional(
        "tasks",
        "integer >= 1",
        "Transfers per user (default: until the run ends).",
    ),
    optional(
        "work",
        "distribution",
        "Between the reads and the writes, holding both locks (default 0).",
    ),
    optional(
        "retry",
        "table",
        "How a refused transfer starts again; see `retry` (default: 10 attempts, at once). `on` is not used.",
    ),
];

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    let at_least = [
        (
            "users",
            1,
            n.users
                .as_ref()
                .map(|u| (u64::from(*u.get_ref()), u.span())),
        ),
        (
            "accounts",
            2,
            n.accounts
                .as_ref()
                .map(|a| (u64::from(*a.get_ref()), a.span())),
        ),
        (
            "amount",
            1,
            n.amount.as_ref().map(|a| (*a.get_ref(), a.span())),
        ),
        (
            "tasks",
            1,
            n.tasks.as_ref().map(|t| (*t.get_ref(), t.span())),
        ),
    ];
    for (field, low, value) in at_least {
        if let Some((v, span)) = value
            && v < low
        {
            return Err(ctx.field(n, field, span, format!("`{field}` must be at least {low}")));
        }
    }
    if let Some(r) = &n.retry
        && let Err(e) = retry_config(r.get_ref()).validate()
    {
        return Err(ctx.field(n, "retry", r.span(), e));
    }
    let store = n.calls.as_ref().expect("required");
    let is_kv = ctx
        .spec
        .nodes
        .iter()
        .any(|o| o.name.get_ref() == store.get_ref() && *o.kind.get_ref() == NodeKind::Kv);
    if !is_kv {
        return Err(ctx
            .field(
                n,
                "calls",
                store.span(),
                format!("`{}` is not a kv store", store.get_ref()),
            )
            .with_expected("a node of kind kv"));
    }
    Ok(())
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let mut retry = n.retry.as_ref().map_or_else(
        || RetryConfig {
            max_attempts: 10,
            ..RetryConfig::never()
        },
        |r| retry_config(r.get_ref()),
    );
    retry.retry_on = vec![ErrorKind::Conflict];
    let zero = || Dist::Constant(0.0);
    let cfg = TransferConfig {
        locks: b.target(n.target.as_ref())[0],
        store: b.target(n.calls.as_ref())[0],
        users: *n.users.as_ref().expect("checked").get_ref(),
        think: n.think.as_ref().map_or_else(zero, |d| d.0.clone()),
        tasks: n.tasks.as_ref().map(|t| *t.get_ref()),
        accounts: n.accounts.as_ref().map_or(2, |a| *a.get_ref()),
        amount: n.amount.as_ref().map_or(1, |a| *a.get_ref()),
        work: n.work.as_ref().map_or_else(zero, |d| d.0.clone()),
        order: n.lock_order.unwrap_or(LockOrder::AsDrawn),
        retry,
    };
    b.add(n.name.get_ref(), TransferClient::new(cfg))
}

fn report(r: &Report<'_>, n: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what);
    let (tasks, ok) = (c("tasks"), c("succeeded"));
    let order = match n.lock_order.unwrap_or(LockOrder::AsDrawn) {
        LockOrder::AsDrawn => "locks in the order drawn",
        LockOrder::Sorted => "locks in account order",
    };
    let finished = r.metrics.get_histogram(&format!("{name}.finished_ns"));
    vec![
        (
            "transfers".into(),
            format!(
                "{tasks} ({order}); {} still going at the end",
                tasks.saturating_sub(ok + c("insufficient") + c("gave_up"))
            ),
        ),
        (
            "succeeded".into(),
            format!("{ok} ({}), {}", percent(ok, tasks), r.per_second(ok)),
        ),
        (
            "refused".into(),
            format!(
                "{} as deadlock victims, {} after the lock timeout; {} attempts, {} given up",
                c("deadlocks"),
                c("timeouts"),
                c("attempts"),
                c("gave_up")
            ),
        ),
        (
            "transfer time".into(),
            r.quantiles(&format!("{name}.latency_ns")),
        ),
        (
            "last one ended".into(),
            ms(finished.and_then(|h| h.quantile(1.0))),
        ),
    ]
}
