//! `kind = "participant"`: one service's part of the transactions a
//! coordinator runs across several (`models::transactions`).

use super::metrics::{counter, histogram};
use super::{Build, Field, Kind, Report, optional};
use crate::dist::Dist;
use crate::models::transactions::participant::{Participant, ParticipantConfig};
use crate::scenario::spec::{NodeKind, NodeSpec};

pub const KIND: Kind = Kind::new(
    NodeKind::Participant,
    "participant",
    "One service's part of a coordinator's transactions (a seat, a room, a charge). In a saga, each step is its own local transaction, done after `work` or refused, and undone by a compensation. Under two-phase commit, a prepare takes its one lock and holds it until the coordinator's decision; another transaction's prepare waits in line. Its data and its prepared state survive a crash.",
    &[FIELDS],
    build,
    report,
)
.records(&[&[
    counter("applied"),
    counter("refused"),
    counter("compensated"),
    histogram("lock_wait_ns"),
    histogram("held_ns"),
]]);

const FIELDS: &[Field] = &[
    optional(
        "work",
        "distribution",
        "How long a step or a prepare takes (default 5ms).",
    ),
    optional(
        "failure_rate",
        "probability",
        "The chance that a step or a prepare is refused (sold out, declined); default 0.",
    ),
];

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let cfg = ParticipantConfig {
        work: n.work.as_ref().map_or(Dist::Constant(5e6), |d| d.0.clone()),
        failure: n.failure_rate.map_or(0.0, |p| p.0),
    };
    b.add(n.name.get_ref(), Participant::new(cfg))
}

fn report(r: &Report<'_>, _: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what);
    vec![
        (
            "steps".into(),
            format!(
                "{} applied, {} refused, {} undone",
                c("applied"),
                c("refused"),
                c("compensated")
            ),
        ),
        (
            "lock waited".into(),
            r.quantiles(&format!("{name}.lock_wait_ns")),
        ),
        ("lock held".into(), r.quantiles(&format!("{name}.held_ns"))),
    ]
}
