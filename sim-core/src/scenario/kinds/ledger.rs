//! `kind = "ledger"`: a payment ledger that charges each order it is
//! sent, and counts the orders charged twice.

use super::metrics::counter;
use super::{Build, Field, Kind, Report, required};
use crate::models::ledger::Ledger;
use crate::scenario::spec::{NodeKind, NodeSpec};

pub const KIND: Kind = Kind::new(
    NodeKind::Ledger,
    "ledger",
    "A payment ledger: it charges every order it is sent, and counts an order charged twice as a duplicate charge.",
    &[FIELDS],
    build,
    report,
)
.records(&[&[
    counter("charges"),
    counter("orders_charged"),
    counter("duplicate_charges"),
]]);

const FIELDS: &[Field] = &[required(
    "processing_time",
    "distribution",
    "Time to apply a charge.",
)];

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
