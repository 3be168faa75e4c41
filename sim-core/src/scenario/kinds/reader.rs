//! `kind = "reader"`: reads keys through a cache, from a store or through
//! a router; the checkers judge how stale its reads were.

use super::metrics::{counter, histogram};
use super::rows::percent;
use super::{Build, Field, Kind, Report, optional, required};
use crate::data::keys::KeyDist;
use crate::models::cache::KvReader;
use crate::scenario::spec::{KeysName, KeysSpec, NodeKind, NodeSpec};

pub const KIND: Kind = Kind::new(
    NodeKind::Reader,
    "reader",
    "Reads keys at a Poisson rate through a cache, from a store or through a router. After the run, its reads are judged against every writer's writes (stale and monotonic reads).",
    &[FIELDS],
    build,
    report,
)
.targets(&[NodeKind::Cache, NodeKind::Kv, NodeKind::Router])
.records(&[&[
    counter("reads"),
    counter("stale_reads"),
    counter("monotonic_read_violations"),
    histogram("stale_age_ns"),
]]);

const FIELDS: &[Field] = &[
    required(
        "target",
        "node name",
        "The cache, store or router it reads.",
    ),
    required("rate", "rate", "Reads per unit of time."),
    KEYS,
];

/// Which keys a reader, writer or session touches.
pub(super) const KEYS: Field = optional(
    "keys",
    "table",
    "Which keys; see `keys` (default: one key).",
);

/// The key distribution `keys` describes (one key when absent).
pub(super) fn key_dist(k: Option<&KeysSpec>) -> KeyDist {
    match k {
        None => KeyDist::uniform(1),
        Some(k) => match k.dist {
            KeysName::Uniform => KeyDist::uniform(k.n),
            KeysName::Zipf => KeyDist::zipf(k.n, k.s.unwrap_or(1.0)),
            KeysName::Hot => KeyDist::hot_key(k.n, k.share.map_or(0.0, |p| p.0)),
        },
    }
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let target = b.target(n.target.as_ref())[0];
    let rate = n.rate.as_ref().expect("checked").get_ref().0;
    let keys = key_dist(n.keys.as_ref().map(|k| k.get_ref()));
    b.add(n.name.get_ref(), KvReader::new(target, keys, rate, None))
}

fn report(r: &Report<'_>, _: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what);
    let reads = c("reads");
    let q = |p: f64| r.stale_age(name, p);
    vec![
        ("reads".into(), reads.to_string()),
        (
            "stale reads".into(),
            format!(
                "{} ({}); stale for p50 {}  p99 {}  max {}",
                c("stale_reads"),
                percent(c("stale_reads"), reads),
                q(0.5),
                q(0.99),
                q(1.0)
            ),
        ),
        (
            "monotonic reads".into(),
            format!("{} violations", c("monotonic_read_violations")),
        ),
    ]
}
