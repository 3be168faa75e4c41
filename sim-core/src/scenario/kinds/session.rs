//! `kind = "session"`: a user reading and writing a replicated store,
//! from its own zone, with or without read-your-writes.

use super::metrics::{counter, histogram};
use super::reader::{KEYS, key_dist};
use super::rows::percent;
use super::{Build, Check, Field, Kind, Report, optional, required};
use crate::models::replication::{ReadFrom, Session, SessionConfig};
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::load::DEFAULT_ZONE;
use crate::scenario::spec::{NodeKind, NodeSpec, ReplicationName};
use crate::time::SimDuration;

pub const KIND: Kind = Kind::new(
    NodeKind::Session,
    "session",
    "A user of a replicated store: reads and writes keys at a Poisson rate from its zone. After the run its history is judged: stale reads, read-your-writes and monotonic reads, and with every session of the group, linearizability.",
    &[FIELDS],
    build,
    report,
)
.targets(&[NodeKind::Replica, NodeKind::Raft])
.checked_by(check)
.records(&[&[
    counter("requests"),
    counter("ok"),
    counter("failed"),
    counter("reads"),
    counter("writes"),
    counter("conflicts"),
    histogram("latency_ns"),
    counter("stale_reads"),
    counter("read_your_writes_violations"),
    counter("monotonic_read_violations"),
    histogram("stale_age_ns"),
]]);

const FIELDS: &[Field] = &[
    required("target", "node name", "Its replicated store."),
    required("rate", "rate", "Operations per unit of time."),
    KEYS,
    optional(
        "timeout",
        "duration",
        "A request with no answer in this long has failed (default 1s).",
    ),
    optional(
        "read_share",
        "probability",
        "The share of operations that are reads (default 50%); the rest write a fresh value.",
    ),
    optional(
        "read_from",
        "`leader`, `local` or `random`",
        "Where reads go: the leader only (which refuses if it is not), the replica in the session's zone (the default), or any replica. A Raft group's sessions read at its leader.",
    ),
    optional(
        "read_your_writes",
        "bool",
        "Read the keys this session wrote from the leader (under quorums, from the local replica it wrote through).",
    ),
    optional(
        "rate_changes",
        "list of `{ at = duration, rate = rate }`",
        "From each time on, operations arrive at the new rate (`\"0/s\"` pauses them).",
    ),
];

/// A Raft group answers only at its leader: a session of one reads there.
fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    let target = n.target.as_ref().and_then(|t| ctx.node(t.get_ref()));
    let raft = target.is_some_and(|t| *t.kind.get_ref() == NodeKind::Raft);
    match n.read_from {
        Some(r) if raft && r != ReadFrom::Leader => Err(ctx
            .field(
                n,
                "read_from",
                n.name.span(),
                "a Raft group answers reads only at its leader",
            )
            .with_expected("`read_from = \"leader\"`, or leave it out")),
        _ => Ok(()),
    }
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let target = n.target.as_ref().expect("checked").get_ref();
    let t = b
        .spec
        .nodes
        .iter()
        .find(|m| m.name.get_ref() == target)
        .expect("checked");
    let my_zone = n.zone.as_deref().unwrap_or(DEFAULT_ZONE);
    let local = super::replica::zones(t)
        .iter()
        .position(|z| z == my_zone)
        .unwrap_or(0);
    let session = Session::new(SessionConfig {
        group: target.clone(),
        replicas: b.group(target),
        local,
        leader_mode: *t.kind.get_ref() == NodeKind::Raft
            || t.replication
                .as_ref()
                .is_some_and(|r| r.get_ref().mode == ReplicationName::Leader),
        keys: key_dist(n.keys.as_ref().map(|k| k.get_ref())),
        rate_per_s: n.rate.as_ref().expect("checked").get_ref().0,
        read_share: n.read_share.map_or(0.5, |p| p.0),
        read_from: match *t.kind.get_ref() {
            NodeKind::Raft => ReadFrom::Leader,
            _ => n.read_from.unwrap_or_default(),
        },
        read_your_writes: n.read_your_writes.unwrap_or(false),
        timeout: n
            .timeout
            .as_ref()
            .map_or(SimDuration::from_secs(1), |d| d.get_ref().0),
        rate_changes: super::client::rate_changes(n),
    });
    b.add(n.name.get_ref(), session)
}

/// Availability, latency, and what it saw that it should not.
fn report(r: &Report<'_>, _: &NodeSpec, s: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(s, what);
    let (requests, ok, reads) = (c("requests"), c("ok"), c("reads"));
    let q = |p: f64| r.stale_age(s, p);
    vec![
        (
            "requests".into(),
            format!(
                "{requests} ({reads} reads), {ok} ok ({}), {} failed",
                percent(ok, requests),
                c("failed")
            ),
        ),
        ("latency".into(), r.quantiles(&format!("{s}.latency_ns"))),
        (
            "stale reads".into(),
            format!(
                "{} ({} of reads); stale for p50 {}  max {}",
                c("stale_reads"),
                percent(c("stale_reads"), reads),
                q(0.5),
                q(1.0)
            ),
        ),
        (
            "session".into(),
            format!(
                "{} read-your-writes and {} monotonic-read violations, {} reads with siblings",
                c("read_your_writes_violations"),
                c("monotonic_read_violations"),
                c("conflicts")
            ),
        ),
    ]
}
