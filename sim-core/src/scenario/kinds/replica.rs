//! `kind = "replica"`: a replicated store of `replicas` copies, by a
//! leader and followers or by Dynamo-style quorums.

use super::metrics::{counter, gauge, histogram};
use super::rows::percent;
use super::{Build, Check, Field, Kind, Report, optional, required};
use crate::models::replication::{Mode, Replica, ReplicaConfig};
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::limits::MAX_REPLICA_GROUP;
use crate::scenario::load::DEFAULT_ZONE;
use crate::scenario::spec::{
    ConflictsName, NodeKind, NodeSpec, ReplicationName, ReplicationSpec, instance_name,
};
use crate::time::SimDuration;
use std::ops::Range;
use toml::Spanned;

pub const KIND: Kind = Kind::new(
    NodeKind::Replica,
    "replica",
    "A replicated store of `replicas` copies (`<name>-0`, `<name>-1`...), by a leader and followers or by quorums. Sessions read and write it; after the run the checkers judge its histories.",
    &[FIELDS],
    build,
    report,
)
.checked_by(check)
.badge(badge)
.group()
.records(&[&[
    counter("requests"),
    counter("ok"),
    counter("reads"),
    counter("writes"),
    counter("unavailable"),
    counter("failovers"),
    counter("step_downs"),
    counter("resyncs"),
    counter("read_repairs"),
    counter("anti_entropy_repairs"),
    counter("drift_alerts"),
    counter("first_drift_alert_ms"),
    histogram("replication_lag_ns"),
    counter("lost_updates"),
    counter("divergent_keys"),
    counter("nonlinearizable_keys"),
    counter("undecided_keys"),
]])
.instances_record(&[gauge("drift_keys")]);

const FIELDS: &[Field] = &[
    required("replicas", "integer >= 1", "How many copies the group has."),
    required(
        "replication",
        "table",
        "How the group copies writes; see `replication`.",
    ),
    optional(
        "zones",
        "list of zone names",
        "Each replica's zone, in order (instead of one `zone` for all).",
    ),
    optional(
        "clock_skew",
        "list of signed durations",
        "How far each replica's clock is ahead (`\"-2s\"`: behind), in order. Last-writer-wins compares these clocks' stamps.",
    ),
    optional(
        "heartbeat",
        "duration",
        "How often each replica tells the others it is alive (default 100ms).",
    ),
    optional(
        "failover_after",
        "duration",
        "A replica not heard from for this long counts as gone (default 1s): a leader without a majority steps down, a silent leader is replaced, a quorum coordinator refuses when too few replicas are left.",
    ),
    optional(
        "failover",
        "`majority` or `timeout`",
        "Leader/follower only: when a replica takes over from a silent leader. `majority` (the default): only with a majority in reach, and a leader without one steps down. `timeout`: as soon as it stops hearing the leader, and a leader never steps down, so replicas cut apart both lead (split brain).",
    ),
    optional(
        "timeout",
        "duration",
        "A coordinator fails a request it could not complete in this long (default 1s).",
    ),
    optional(
        "anti_entropy",
        "duration",
        "Every this long, each replica sends everything it holds to another at random, which keeps what is newer (default: never).",
    ),
    optional(
        "drift_check",
        "duration",
        "Every this long, the leader sends a digest of its keys and the followers count the keys they are behind on by more than this; any raises a drift alert (default: never).",
    ),
];

/// The group's own rules: its mode's fields, quorum sizes within the
/// group, one zone and one clock per replica, timers that are not too
/// frequent.
fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    let count = n.replicas.as_ref().map_or(1, |r| *r.get_ref());
    let fail = |span: Range<usize>, what: &str, msg: String| Err(ctx.field(n, what, span, msg));
    if count > MAX_REPLICA_GROUP {
        let r = n.replicas.as_ref().expect("required");
        return fail(
            r.span(),
            "replicas",
            format!("a replicated store has at most {MAX_REPLICA_GROUP} replicas, got {count}"),
        );
    }
    let rep = n.replication.as_ref().expect("required");
    if let Some((what, message)) = replication_problem(rep.get_ref(), count) {
        return fail(rep.span(), &what, message);
    }
    if n.failover.is_some() && rep.get_ref().mode != ReplicationName::Leader {
        let message =
            "`failover` applies only to `mode = \"leader\"`: quorums have no leader to replace"
                .into();
        return fail(rep.span(), "failover", message);
    }
    if let Some(z) = &n.zones {
        if n.zone.is_some() {
            return fail(
                z.span(),
                "zones",
                "give `zone` (all replicas in one) or `zones` (one per replica), not both".into(),
            );
        }
        if z.get_ref().len() != count as usize {
            let got = z.get_ref().len();
            return fail(
                z.span(),
                "zones",
                format!("one zone per replica: {count} expected, got {got}"),
            );
        }
    }
    if let Some(c) = &n.clock_skew
        && c.get_ref().len() != count as usize
    {
        let got = c.get_ref().len();
        return fail(
            c.span(),
            "clock_skew",
            format!("one clock error per replica: {count} expected, got {got}"),
        );
    }
    check_durations(n).map_or(Ok(()), |(span, what, message)| fail(span, what, message))
}

/// What is wrong with a group's timeouts and timers, if anything.
fn check_durations(n: &NodeSpec) -> Option<(Range<usize>, &'static str, String)> {
    let at = |d: &Spanned<_>| d.span();
    for (what, d) in [
        ("failover_after", &n.failover_after),
        ("timeout", &n.timeout),
    ] {
        if let Some(d) = d
            && d.get_ref().0 == SimDuration::ZERO
        {
            return Some((at(d), what, format!("`{what}` must be longer than zero")));
        }
    }
    for (what, d) in [
        ("heartbeat", &n.heartbeat),
        ("anti_entropy", &n.anti_entropy),
        ("drift_check", &n.drift_check),
    ] {
        if let Some(d) = d
            && let Some(problem) = super::too_frequent(what, d.get_ref().0)
        {
            return Some((at(d), what, problem));
        }
    }
    None
}

/// What is wrong with a `replication` table for a group of `count`, if
/// anything: the field (under the node) and the message.
fn replication_problem(spec: &ReplicationSpec, count: u32) -> Option<(String, String)> {
    let leader = spec.mode == ReplicationName::Leader;
    let (own, other): (&[(&str, bool)], &str) = if leader {
        (
            &[
                ("r", spec.r.is_some()),
                ("w", spec.w.is_some()),
                ("read_repair", spec.read_repair.is_some()),
                ("conflicts", spec.conflicts.is_some()),
            ],
            "quorum",
        )
    } else {
        (&[("sync", spec.sync.is_some())], "leader")
    };
    if let Some((name, _)) = own.iter().find(|(_, set)| *set) {
        return Some((
            "replication".into(),
            format!("`{name}` applies only to `mode = \"{other}\"`"),
        ));
    }
    for (what, q) in [("r", spec.r), ("w", spec.w)] {
        if let Some(q) = q
            && !(1..=count).contains(&q)
        {
            return Some((
                format!("replication.{what}"),
                format!("a quorum is from 1 to the {count} replicas, got {q}"),
            ));
        }
    }
    if !leader && (spec.r.is_none() || spec.w.is_none()) {
        return Some((
            "replication".into(),
            "quorum replication needs `r` and `w` (replicas that answer a read, and that store a write)".into(),
        ));
    }
    match spec.sync {
        Some(s) if s >= count => Some((
            "replication.sync".into(),
            format!(
                "a leader has {} followers, so `sync` is from 0 to {}, got {s}",
                count - 1,
                count - 1,
            ),
        )),
        _ => None,
    }
}

/// The zone of each replica of a group, in order.
pub(super) fn zones(n: &NodeSpec) -> Vec<String> {
    let count = n.replicas.as_ref().map_or(1, |r| *r.get_ref()) as usize;
    match &n.zones {
        Some(z) => z.get_ref().clone(),
        None => vec![n.zone.clone().unwrap_or_else(|| DEFAULT_ZONE.to_string()); count],
    }
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let name = n.name.get_ref();
    let peers = b.group(name);
    let rep = *n.replication.as_ref().expect("checked").get_ref();
    let mode = match rep.mode {
        ReplicationName::Leader => Mode::Leader {
            sync: rep.sync.unwrap_or(0) as usize,
        },
        ReplicationName::Quorum => Mode::Quorum {
            r: rep.r.expect("checked") as usize,
            w: rep.w.expect("checked") as usize,
            read_repair: rep.read_repair.unwrap_or(false),
        },
    };
    let zones = zones(n);
    (0..peers.len()).try_for_each(|i| {
        let mut cfg = ReplicaConfig::new(name, peers.clone(), i, mode);
        cfg.siblings = rep.conflicts == Some(ConflictsName::Siblings);
        cfg.skew_ns = n.clock_skew.as_ref().map_or(0, |c| c.get_ref()[i].0);
        if let Some(d) = &n.heartbeat {
            cfg.heartbeat = d.get_ref().0;
        }
        if let Some(d) = &n.failover_after {
            cfg.failover_after = d.get_ref().0;
        }
        cfg.failover = n.failover.unwrap_or_default();
        if let Some(d) = n.timeout.as_ref().map(Spanned::get_ref) {
            cfg.request_timeout = d.0;
        }
        cfg.anti_entropy = n.anti_entropy.as_ref().map(|d| d.get_ref().0);
        cfg.drift_check = n.drift_check.as_ref().map(|d| d.get_ref().0);
        b.zone = b.sim.zone(&zones[i]);
        b.add(&instance_name(name, i), Replica::new(cfg))
    })
}

/// Its availability, lag, failovers and repairs, and what the checkers
/// found at the end.
fn report(r: &Report<'_>, _: &NodeSpec, g: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(g, what);
    let (requests, ok) = (c("requests"), c("ok"));
    let mut rows = vec![
        (
            "requests".into(),
            format!("{requests}, {ok} ok ({} available)", percent(ok, requests)),
        ),
        (
            "at replicas".into(),
            format!("{} writes, {} reads", c("writes"), c("reads")),
        ),
        (
            "replication lag".into(),
            r.quantiles(&format!("{g}.replication_lag_ns")),
        ),
    ];
    let events: Vec<String> = [
        ("failovers", "failovers"),
        ("step_downs", "leaders stepped down"),
        ("resyncs", "snapshots taken"),
        ("unavailable", "refused (too few replicas)"),
        ("read_repairs", "read repairs"),
        ("anti_entropy_repairs", "keys repaired by anti-entropy"),
    ]
    .iter()
    .filter(|(what, _)| c(what) > 0)
    .map(|(what, label)| format!("{} {label}", c(what)))
    .collect();
    if !events.is_empty() {
        rows.push(("events".into(), events.join(", ")));
    }
    if c("drift_alerts") > 0 {
        let first = SimDuration::from_millis(c("first_drift_alert_ms"));
        rows.push((
            "drift alerts".into(),
            format!("{}, the first at {first}", c("drift_alerts")),
        ));
    }
    rows.push((
        "at the end".into(),
        format!(
            "{} lost updates, {} divergent keys",
            c("lost_updates"),
            c("divergent_keys")
        ),
    ));
    rows.push(r.linearizable(g));
    rows
}

/// A replica that believes it leads.
fn badge(
    sim: &crate::engine::Simulation<crate::models::rpc::Rpc>,
    id: crate::engine::NodeId,
) -> Option<super::Badge> {
    sim.node::<Replica>(id)
        .is_some_and(Replica::is_leader)
        .then(|| super::Badge {
            text: "(leader)".into(),
            highlight: true,
            bars: Vec::new(),
        })
}
