//! `kind = "lock_client"`: a worker that takes a lock, reads a counter
//! from storage, works, writes it back one higher and releases the lock,
//! round after round, with its token on every request.

use super::metrics::counter;
use super::{Build, Check, Field, Kind, Report, optional, required};
use crate::dist::Dist;
use crate::models::lock::{LockWorker, WorkerConfig};
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::spec::{NodeKind, NodeSpec};
use crate::time::SimDuration;

pub const KIND: Kind = Kind::new(
    NodeKind::LockClient,
    "lock_client",
    "A worker that, round after round, takes the lock (`target`), reads the counter from storage (`calls`), works on it for `work`, writes it back one higher and releases the lock, every request carrying its fencing token. It believes its lease lasts as long as the grant said, by its own clock; a pause or a slow clock makes it act on a lease that has run out.",
    &[FIELDS],
    build,
    report,
)
.targets(&[NodeKind::Lock])
.checked_by(check)
.badge(badge)
.records(&[&[
    counter("acquired"),
    counter("writes"),
    counter("done"),
    counter("fenced"),
    counter("lapsed"),
    counter("timeouts"),
]]);

const FIELDS: &[Field] = &[
    required(
        "target",
        "node name",
        "The lock service it takes the lock from.",
    ),
    required("calls", "node name", "The storage it reads and writes."),
    required(
        "work",
        "distribution",
        "The time between reading the counter and writing it back, holding the lock.",
    ),
    optional(
        "think",
        "distribution",
        "The wait after a round before it asks for the lock again (default 100ms).",
    ),
    optional(
        "timeout",
        "duration",
        "How long it waits for an answer before it starts its round over (default 1s).",
    ),
    optional(
        "check_lease",
        "true or false",
        "Before writing, give the write up if its own clock says the lease has run out (default false).",
    ),
];

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    if let Some(t) = &n.timeout
        && let Some(problem) = super::too_frequent("timeout", t.get_ref().0)
    {
        return Err(ctx.field(n, "timeout", t.span(), problem));
    }
    let Some(c) = &n.calls else { return Ok(()) };
    let kind = ctx.node(c.get_ref()).map(|m| *m.kind.get_ref());
    if kind != Some(NodeKind::Storage) {
        return Err(ctx
            .field(
                n,
                "calls",
                c.span(),
                format!(
                    "a lock_client reads and writes storage, and `{}` is not one",
                    c.get_ref()
                ),
            )
            .with_expected("a node of kind storage"));
    }
    Ok(())
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let cfg = WorkerConfig {
        lock: b.target(n.target.as_ref())[0],
        storage: b.target(n.calls.as_ref())[0],
        work: n.work.as_ref().expect("checked").0.clone(),
        think: n
            .think
            .as_ref()
            .map_or(Dist::Constant(1e8), |d| d.0.clone()),
        timeout: n
            .timeout
            .as_ref()
            .map_or(SimDuration::from_secs(1), |t| t.get_ref().0),
        check_lease: n.check_lease.unwrap_or(false),
    };
    b.add(n.name.get_ref(), LockWorker::new(cfg))
}

fn report(r: &Report<'_>, _: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what).to_string();
    vec![
        ("took the lock".into(), c("acquired")),
        ("writes sent".into(), c("writes")),
        ("writes stored".into(), c("done")),
        ("refused for an old token".into(), c("fenced")),
        ("given up, lease over".into(), c("lapsed")),
        ("timeouts".into(), c("timeouts")),
    ]
}

fn badge(
    sim: &crate::engine::Simulation<crate::models::rpc::Rpc>,
    id: crate::engine::NodeId,
) -> Option<super::Badge> {
    let token = sim.node::<LockWorker>(id)?.token()?;
    Some(super::Badge {
        text: format!("holds #{token}"),
        highlight: true,
        bars: Vec::new(),
    })
}
