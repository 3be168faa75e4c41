//! `kind = "storage"`: the counter lock clients change, which with
//! `fencing` refuses a request whose token is older than one it has seen.

use super::metrics::counter;
use super::{Build, Field, Kind, Report, optional};
use crate::models::lock::Storage;
use crate::scenario::spec::{NodeKind, NodeSpec};

pub const KIND: Kind = Kind::new(
    NodeKind::Storage,
    "storage",
    "Storage holding one counter that lock clients read and write back one higher. It sees what each write was computed from, so it counts a lost update: a write based on a value that changed after it was read, which erases the increments in between. With `fencing = true` it remembers the newest token it has seen and refuses any request with an older one.",
    &[FIELDS],
    build,
    report,
)
.badge(badge)
.records(&[&[
    counter("reads"),
    counter("writes"),
    counter("fenced"),
    counter("lost_updates"),
    counter("erased"),
]]);

const FIELDS: &[Field] = &[optional(
    "fencing",
    "true or false",
    "Refuse reads and writes whose token is older than the newest seen (default false).",
)];

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    b.add(n.name.get_ref(), Storage::new(n.fencing.unwrap_or(false)))
}

fn report(r: &Report<'_>, _: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what).to_string();
    vec![
        ("reads".into(), c("reads")),
        ("writes stored".into(), c("writes")),
        ("refused for an old token".into(), c("fenced")),
        ("lost updates".into(), c("lost_updates")),
        ("increments they erased".into(), c("erased")),
    ]
}

fn badge(
    sim: &crate::engine::Simulation<crate::models::rpc::Rpc>,
    id: crate::engine::NodeId,
) -> Option<super::Badge> {
    let value = sim.node::<Storage>(id)?.value();
    Some(super::Badge {
        text: format!("= {value}"),
        highlight: false,
        bars: Vec::new(),
    })
}
