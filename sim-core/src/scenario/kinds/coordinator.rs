//! `kind = "coordinator"`: transactions across participants, as a saga
//! (with or without compensations) or by two-phase commit
//! (`models::transactions`).

use super::metrics::{counter, histogram};
use super::rows::{ms, percent};
use super::{Build, Check, Field, Kind, Report, optional, required};
use crate::dist::Dist;
use crate::models::transactions::Protocol;
use crate::models::transactions::coordinator::{Coordinator, CoordinatorConfig};
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::spec::{NodeKind, NodeSpec};

pub const KIND: Kind = Kind::new(
    NodeKind::Coordinator,
    "coordinator",
    "Begins transactions at a Poisson rate, each across every one of `participants`. As a `saga`, it asks each participant in turn to do its step; when one refuses, it undoes the steps already done, last first (with `compensate`), or stops there, leaving them done. By `two_phase` commit, every participant prepares (holding its lock) and votes; all yes, the coordinator commits, else aborts, and its decision is in a durable log: after a crash it sends every decision again and aborts what it had not decided, while the prepared participants wait for it, holding their locks. After the run, `half_done` counts transactions applied at some participants and not at others.",
    &[FIELDS],
    build,
    report,
)
.checked_by(check)
.records(&[&[
    counter("started"),
    counter("committed"),
    counter("aborted"),
    counter("half_done"),
    histogram("latency_ns"),
]]);

const FIELDS: &[Field] = &[
    required(
        "participants",
        "list of node names",
        "The participants of every transaction, in the order a saga visits them.",
    ),
    required("rate", "rate", "Transactions begun per unit of time."),
    optional(
        "protocol",
        "`saga` or `two_phase`",
        "How it runs a transaction (default `saga`).",
    ),
    optional(
        "compensate",
        "true or false",
        "A saga undoes its done steps when a later one is refused (default false).",
    ),
    optional(
        "transactions",
        "integer >= 1",
        "Stop after this many (default: until the run ends).",
    ),
];

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    let parts = n.participants.as_deref().unwrap_or_default();
    if parts.is_empty() {
        return Err(ctx.field(
            n,
            "participants",
            n.name.span(),
            "a coordinator needs at least one participant",
        ));
    }
    for p in parts {
        let Some(node) = ctx.node(p.get_ref()) else {
            let names: Vec<&str> = ctx
                .spec
                .nodes
                .iter()
                .map(|m| m.name.get_ref().as_str())
                .collect();
            return Err(ctx
                .field(
                    n,
                    "participants",
                    p.span(),
                    format!("there is no node called `{}`", p.get_ref()),
                )
                .with_suggestion(crate::scenario::suggest::did_you_mean(p.get_ref(), names)));
        };
        if *node.kind.get_ref() != NodeKind::Participant {
            return Err(ctx
                .field(
                    n,
                    "participants",
                    p.span(),
                    format!(
                        "`{}` is a {}, not a participant",
                        p.get_ref(),
                        super::of(*node.kind.get_ref()).name
                    ),
                )
                .with_expected("a node of kind participant"));
        }
        if parts.iter().filter(|q| q.get_ref() == p.get_ref()).count() > 1 {
            return Err(ctx.field(
                n,
                "participants",
                p.span(),
                format!(
                    "`{}` is named twice; each participant takes part once",
                    p.get_ref()
                ),
            ));
        }
    }
    if let (Some(_), Some(Protocol::TwoPhase)) = (n.compensate, n.protocol) {
        return Err(ctx.field(
            n,
            "compensate",
            n.kind.span(),
            "`compensate` is for a saga; two-phase commit aborts every participant instead",
        ));
    }
    if let Some(t) = &n.transactions
        && *t.get_ref() == 0
    {
        return Err(ctx.field(
            n,
            "transactions",
            t.span(),
            "`transactions` must be at least 1",
        ));
    }
    Ok(())
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let rate = n.rate.as_ref().expect("checked").get_ref().0;
    let cfg = CoordinatorConfig {
        participants: n
            .participants
            .iter()
            .flatten()
            .map(|p| b.group(p.get_ref())[0])
            .collect(),
        interarrival: Dist::exponential(1e9 / rate).map_err(|e| e.to_string())?,
        protocol: n.protocol.unwrap_or(Protocol::Saga),
        compensate: n.compensate.unwrap_or(false),
        transactions: n.transactions.as_ref().map(|t| *t.get_ref()),
    };
    b.add(n.name.get_ref(), Coordinator::new(cfg))
}

fn report(r: &Report<'_>, n: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what);
    let started = c("started");
    let latency = r.metrics.get_histogram(&format!("{name}.latency_ns"));
    let q = |p: f64| ms(latency.and_then(|h| h.quantile(p)));
    let how = match (
        n.protocol.unwrap_or(Protocol::Saga),
        n.compensate.unwrap_or(false),
    ) {
        (Protocol::Saga, true) => "saga with compensations",
        (Protocol::Saga, false) => "saga without compensations",
        (Protocol::TwoPhase, _) => "two-phase commit",
    };
    vec![
        (
            "transactions".into(),
            format!(
                "{started} begun ({how}); {} committed ({}), {} aborted",
                c("committed"),
                percent(c("committed"), started),
                c("aborted")
            ),
        ),
        ("half done".into(), c("half_done").to_string()),
        (
            "took".into(),
            format!("p50 {}  p99 {}  max {}", q(0.5), q(0.99), q(1.0)),
        ),
    ]
}
