//! `kind = "writer"`: writes keys to a store, through a router or
//! through a write-through cache, and may invalidate a cache after each
//! write.

use super::metrics::counter;
use super::reader::{KEYS, key_dist};
use super::{Build, Field, Kind, Report, optional, required};
use crate::models::cache::KvWriter;
use crate::scenario::spec::{NodeKind, NodeSpec};

pub const KIND: Kind = Kind::new(
    NodeKind::Writer,
    "writer",
    "Writes keys at a Poisson rate to a store, through a router or through a write-through cache; its writes are what readers' reads are judged against.",
    &[FIELDS],
    build,
    report,
)
.targets(&[NodeKind::Kv, NodeKind::Cache, NodeKind::Router])
.records(&[&[counter("writes")]]);

const FIELDS: &[Field] = &[
    required(
        "target",
        "node name",
        "The store, router or write-through cache it writes.",
    ),
    required("rate", "rate", "Writes per unit of time."),
    KEYS,
    optional(
        "invalidate",
        "node name",
        "The cache to send an invalidation to after each write (over the network: it can be delayed or lost).",
    ),
];

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let target = b.target(n.target.as_ref())[0];
    let rate = n.rate.as_ref().expect("checked").get_ref().0;
    let keys = key_dist(n.keys.as_ref().map(|k| k.get_ref()));
    let invalidate = n.invalidate.as_ref().map(|c| b.group(c.get_ref())[0]);
    let writer = KvWriter::new(target, invalidate, keys, rate, None);
    b.add(n.name.get_ref(), writer)
}

fn report(r: &Report<'_>, _: &NodeSpec, name: &str) -> Vec<(String, String)> {
    vec![("writes".into(), r.count(name, "writes").to_string())]
}
