//! `kind = "router"`: routes reads and writes to the shard that holds
//! the key, by a sharding scheme, and may reshard during the run.

use super::metrics::counter;
use super::rows::{ms, percent};
use super::{Build, Check, Field, Kind, Report, optional, required};
use crate::data::sharding::Partitioner;
use crate::models::router::{Router, RouterConfig};
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::spec::{NodeKind, NodeSpec, SchemeName, ShardingSpec};
use crate::time::SimTime;

pub const KIND: Kind = Kind::new(
    NodeKind::Router,
    "router",
    "Routes each read and write to the shard that holds its key: its target is a group of kv stores (`replicas`), one per shard.",
    &[FIELDS],
    build,
    report,
)
.targets(&[NodeKind::Kv])
.checked_by(check)
.records(&[&[
    counter("requests"),
    counter("to.<shard>"),
    counter("keys_seen"),
    counter("moved_keys"),
    counter("hottest_shard_requests"),
    counter("hottest_shard_p99_ns"),
]]);

const FIELDS: &[Field] = &[
    required(
        "target",
        "node name",
        "Its shard group (a kv node with replicas).",
    ),
    required(
        "sharding",
        "table",
        "How keys map to shards; see `sharding`.",
    ),
    optional(
        "shards",
        "integer >= 1",
        "Shards in use at the start (default: every replica of its target).",
    ),
    optional(
        "reshard",
        "`{ at = duration, shards = integer }`",
        "Switch to this many shards at this time, counting the keys seen so far that move.",
    ),
];

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    let Some(t) = &n.target else { return Ok(()) };
    let group = ctx.group_size(t.get_ref());
    let too_many = |count: u32| count == 0 || count > group;
    if let Some(sh) = &n.shards
        && too_many(*sh.get_ref())
    {
        return Err(ctx.field(
            n,
            "shards",
            sh.span(),
            format!(
                "`{}` has {group} replica(s), so from 1 to {group} shards can be in use",
                t.get_ref()
            ),
        ));
    }
    if let Some(r) = &n.reshard
        && too_many(r.get_ref().shards)
    {
        return Err(ctx.field(
            n,
            "reshard",
            r.span(),
            format!(
                "`{}` has {group} replica(s), so a reshard can use from 1 to {group} shards",
                t.get_ref()
            ),
        ));
    }
    Ok(())
}

/// The partitioner of `sharding` over `count` shards.
fn partitioner(sharding: ShardingSpec, count: usize) -> Partitioner {
    match sharding.scheme {
        SchemeName::Mod => Partitioner::mod_n(count),
        SchemeName::Consistent => {
            Partitioner::consistent(count, sharding.vnodes.unwrap_or(100) as usize, 0)
        }
        SchemeName::Range => {
            let space = sharding.key_space.unwrap_or(1_000_000);
            Partitioner::Range {
                bounds: (1..count as u64)
                    .map(|i| space / count as u64 * i)
                    .collect(),
            }
        }
    }
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let shards = b.target(n.target.as_ref());
    let sharding = n.sharding.expect("checked");
    let initial = n
        .shards
        .as_ref()
        .map_or(shards.len(), |s| *s.get_ref() as usize);
    let router = Router::new(RouterConfig {
        partitioner: partitioner(sharding, initial),
        reshard: n.reshard.as_ref().map(|r| {
            let r = r.get_ref();
            (
                SimTime::ZERO + r.at.0,
                partitioner(sharding, r.shards as usize),
            )
        }),
        shards,
    });
    b.add(n.name.get_ref(), router)
}

fn report(r: &Report<'_>, _: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what);
    let requests = c("requests");
    let per_shard: Vec<String> = (0..)
        .map_while(|i| r.metrics.get_counter(&format!("{name}.to.{i}")))
        .map(|v| v.to_string())
        .collect();
    let mut rows = vec![
        ("requests".into(), requests.to_string()),
        ("per shard".into(), per_shard.join(" / ")),
        (
            "hottest shard".into(),
            format!(
                "{} of requests, p99 {}",
                percent(c("hottest_shard_requests"), requests),
                ms(Some(c("hottest_shard_p99_ns")))
            ),
        ),
    ];
    if r.metrics
        .get_counter(&format!("{name}.keys_seen"))
        .is_some()
    {
        rows.push((
            "reshard".into(),
            format!(
                "{} of {} keys seen moved ({})",
                c("moved_keys"),
                c("keys_seen"),
                percent(c("moved_keys"), c("keys_seen"))
            ),
        ));
    }
    rows
}
