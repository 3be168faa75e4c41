//! `kind = "quorum_client"`: a client that keeps one key on a group of
//! key-value stores by itself, writing to W of them and reading from R
//! (Dynamo's quorums, done by the client); each read that misses the
//! latest acknowledged write is a stale read.

use super::metrics::{counter, histogram};
use super::rows::percent;
use super::{Build, Check, Field, Kind, Report, optional, required};
use crate::dist::Dist;
use crate::models::kv::{QuorumClient, QuorumConfig};
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::spec::{NodeKind, NodeSpec};

pub const KIND: Kind = Kind::new(
    NodeKind::QuorumClient,
    "quorum_client",
    "A client that keeps one key on a group of kv stores by itself: each write goes to `w` stores at random and is done when all of them acknowledge; each read asks `r` at random and takes the newest version. A read misses the latest write exactly when its `r` stores all lie outside that write's `w`, with probability C(N - w, r) / C(N, r). It waits for every answer it needs, with no timeout, so its stores should stay up and its links lossless.",
    &[FIELDS],
    build,
    report,
)
.targets(&[NodeKind::Kv])
.checked_by(check)
.records(&[&[
    counter("writes"),
    counter("reads"),
    counter("stale_reads"),
    histogram("stale_versions"),
]]);

const FIELDS: &[Field] = &[
    required(
        "target",
        "node name",
        "Its stores: a kv node with `replicas`.",
    ),
    required(
        "quorum",
        "`{ r = integer, w = integer }`",
        "How many stores answer a read (`r`) and store a write (`w`), each from 1 to the group's size.",
    ),
    optional(
        "reads_per_write",
        "integer",
        "Operations alternate: a write, then this many reads (default 1).",
    ),
    optional(
        "think",
        "distribution",
        "The pause between one operation's end and the next one's start (default 1ms).",
    ),
    optional(
        "writes",
        "integer",
        "Stop after this many writes (default: go on to the end of the run).",
    ),
];

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    let (Some(t), Some(q)) = (&n.target, &n.quorum) else {
        return Ok(());
    };
    let group = ctx.group_size(t.get_ref());
    for (what, size) in [("r", q.get_ref().r), ("w", q.get_ref().w)] {
        if !(1..=group).contains(&size) {
            return Err(ctx.field(
                n,
                &format!("quorum.{what}"),
                q.span(),
                format!(
                    "`{}` has {group} store(s), so `{what}` is from 1 to {group}, got {size}",
                    t.get_ref()
                ),
            ));
        }
    }
    Ok(())
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let q = *n.quorum.as_ref().expect("checked").get_ref();
    let client = QuorumClient::new(QuorumConfig {
        replicas: b.target(n.target.as_ref()),
        r: q.r as usize,
        w: q.w as usize,
        reads_per_write: n.reads_per_write.unwrap_or(1),
        think: n
            .think
            .as_ref()
            .map_or(Dist::Constant(1e6), |d| d.0.clone()),
        max_writes: n.writes.unwrap_or(u64::MAX),
    });
    b.add(n.name.get_ref(), client)
}

fn report(r: &Report<'_>, _: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what);
    let (reads, stale) = (c("reads"), c("stale_reads"));
    let behind = r
        .metrics
        .get_histogram(&format!("{name}.stale_versions"))
        .and_then(|h| h.quantile(1.0))
        .map_or("-".to_string(), |v| v.to_string());
    vec![
        ("writes".into(), c("writes").to_string()),
        ("reads".into(), reads.to_string()),
        (
            "stale reads".into(),
            format!(
                "{stale} ({} of reads), at most {behind} versions behind",
                percent(stale, reads)
            ),
        ),
    ]
}
