//! `kind = "ledger"`: a payment ledger that charges each order it is
//! sent, and counts the orders charged twice.

use super::{Build, Check, Field, Kind, Report, required};
use crate::models::ledger::Ledger;
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::spec::{NodeKind, NodeSpec};

pub const KIND: Kind = Kind {
    kind: NodeKind::Ledger,
    name: "ledger",
    about: "A payment ledger: it charges every order it is sent, and counts an order charged twice as a duplicate charge.",
    fields: &[FIELDS],
    targets: &[],
    check,
    build,
    report,
    reports_as_group: false,
    mesh: false,
    badge: super::no_badge,
};

const FIELDS: &[Field] = &[required(
    "processing_time",
    "distribution",
    "Time to apply a charge.",
)];

fn check(_: &Check<'_>, _: &NodeSpec) -> Result<(), Diagnostic> {
    Ok(())
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let time = n.processing_time.as_ref().expect("checked").0.clone();
    b.add(n.name.get_ref(), Ledger::new(time))
}

fn report(r: &Report<'_>, _: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what).to_string();
    vec![
        ("charges".into(), c("charges")),
        ("orders charged".into(), c("orders_charged")),
        ("duplicate charges".into(), c("duplicate_charges")),
    ]
}
