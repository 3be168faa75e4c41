//! `kind = "cache"`: a cache in front of a key-value store, with a TTL,
//! jitter, single-flight and write-through.

use super::metrics::counter;
use super::rows::percent;
use super::{Build, Field, Kind, Report, optional, required};
use crate::models::cache::{Cache, CacheConfig};
use crate::scenario::spec::{NodeKind, NodeSpec};

pub const KIND: Kind = Kind::new(
    NodeKind::Cache,
    "cache",
    "A cache in front of a key-value store: it serves an entry until its TTL runs out, then reads the key again from the store.",
    &[FIELDS],
    build,
    report,
)
.targets(&[NodeKind::Kv])
.badge(badge)
.records(&[&[
    counter("hits"),
    counter("misses"),
    counter("db_reads"),
    counter("coalesced"),
    counter("invalidations"),
]]);

const FIELDS: &[Field] = &[
    required("target", "node name", "Its store."),
    required(
        "ttl",
        "duration",
        "How long an entry is served before it is read again from the store.",
    ),
    optional(
        "ttl_jitter",
        "probability",
        "Each entry lives between ttl x (1 - jitter) and ttl, so entries filled together do not expire together.",
    ),
    optional(
        "single_flight",
        "true or false",
        "Concurrent misses on one key wait for one store read.",
    ),
    optional(
        "write_through",
        "true or false",
        "Writes sent to the cache go to the store and update the entry.",
    ),
];

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let db = b.target(n.target.as_ref())[0];
    let cache = Cache::new(CacheConfig {
        db,
        ttl: n.ttl.expect("checked").0,
        ttl_jitter: n.ttl_jitter.map_or(0.0, |p| p.0),
        single_flight: n.single_flight.unwrap_or(false),
        write_through: n.write_through.unwrap_or(false),
    });
    b.add(n.name.get_ref(), cache)
}

fn report(r: &Report<'_>, _: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what);
    let (hits, misses) = (c("hits"), c("misses"));
    vec![
        (
            "hits".into(),
            format!("{hits} ({} of reads)", percent(hits, hits + misses)),
        ),
        ("misses".into(), misses.to_string()),
        (
            "database reads".into(),
            format!(
                "{} ({} misses joined a read in flight)",
                c("db_reads"),
                c("coalesced")
            ),
        ),
        ("invalidations".into(), c("invalidations").to_string()),
    ]
}

/// How many keys the cache holds (cold: none).
fn badge(
    sim: &crate::engine::Simulation<crate::models::rpc::Rpc>,
    id: crate::engine::NodeId,
) -> Option<super::Badge> {
    let text = match sim.node::<Cache>(id)?.entries() {
        0 => "(cold)".to_string(),
        n => format!("{n} keys"),
    };
    Some(super::Badge {
        text,
        highlight: false,
        bars: Vec::new(),
    })
}
