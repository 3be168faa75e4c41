//! `kind = "raft"`: a replicated store of `replicas` members that agree
//! on one log by Raft consensus; sessions read and write it.

use super::metrics::{counter, histogram};
use super::rows::percent;
use super::{Build, Check, Field, Kind, Report, optional, required};
use crate::models::raft::{RaftConfig, RaftNode, ReadMode, node::Role};
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::limits::MAX_REPLICA_GROUP;
use crate::scenario::spec::{NodeKind, NodeSpec, instance_name};
use crate::time::SimDuration;

pub const KIND: Kind = Kind::new(
    NodeKind::Raft,
    "raft",
    "A replicated store of `replicas` members (`<name>-0`, `<name>-1`...) that agree on one log by Raft: randomized election timeouts, a leader per term, entries committed once a majority holds them. Sessions read and write it through its leader; after the run the checkers judge one leader per term, one entry per committed index, and the sessions' histories.",
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
    counter("elections"),
    counter("leaders"),
    counter("terms"),
    counter("leaderless_ms"),
    counter("redirects"),
    counter("lease_reads"),
    histogram("commit_latency_ns"),
    counter("two_leader_terms"),
    counter("conflicting_commits"),
    counter("behind_at_end"),
    counter("lost_updates"),
    counter("nonlinearizable_keys"),
    counter("undecided_keys"),
]]);

const FIELDS: &[Field] = &[
    required(
        "replicas",
        "integer >= 1",
        "How many members the group has.",
    ),
    optional(
        "zones",
        "list of zone names",
        "Each member's zone, in order (instead of one `zone` for all).",
    ),
    optional(
        "heartbeat",
        "duration",
        "How often the leader sends every follower a heartbeat round (default 50ms).",
    ),
    optional(
        "election_timeout",
        "duration",
        "T: a follower that hears no leader for its election timeout stands for election (default 300ms).",
    ),
    optional(
        "election_jitter",
        "percentage",
        "How much longer than T each timeout may be, drawn anew each time: `100%` (the default) draws from [T, 2T]; `0%` makes every timeout T.",
    ),
    optional(
        "reads",
        "`log`, `read_index`, `lease` or `local`",
        "How the leader answers a read: as an entry of the log; at its commit index once a majority confirms it still leads (`read_index`, the default); at once while its lease holds by its own clock (`lease`, unsafe if that clock runs slow); or at once from its own state (`local`, unsafe whenever it was deposed without knowing).",
    ),
    optional(
        "fsync",
        "bool",
        "Term, vote and log reach the disk before a member acts on them (default true); `false` loses them in a crash.",
    ),
    optional(
        "bootstrap",
        "bool",
        "`<name>-0` stands for election as the run starts, as a new cluster bootstrapped on one member does, so the run begins with it leading (default false: every member waits out its first election timeout).",
    ),
    optional(
        "pre_vote",
        "bool",
        "Before standing, a member asks the others whether they would vote for it, and stands only if a majority would (default false). One that cannot win, cut off or behind, then never raises its term, and deposes nobody when it is back.",
    ),
];

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    let count = n.replicas.as_ref().map_or(1, |r| *r.get_ref());
    if count > MAX_REPLICA_GROUP {
        let r = n.replicas.as_ref().expect("required");
        let problem = format!("a Raft group has at most {MAX_REPLICA_GROUP} members, got {count}");
        return Err(ctx.field(n, "replicas", r.span(), problem));
    }
    if let Some(z) = &n.zones {
        if n.zone.is_some() {
            let problem = "give `zone` (all members in one) or `zones` (one per member), not both";
            return Err(ctx.field(n, "zones", z.span(), problem));
        }
        let got = z.get_ref().len();
        if got != count as usize {
            let problem = format!("one zone per member: {count} expected, got {got}");
            return Err(ctx.field(n, "zones", z.span(), problem));
        }
    }
    for (what, d) in [
        ("heartbeat", &n.heartbeat),
        ("election_timeout", &n.election_timeout),
    ] {
        if let Some(d) = d
            && let Some(problem) = super::too_frequent(what, d.get_ref().0)
        {
            return Err(ctx.field(n, what, d.span(), problem));
        }
    }
    Ok(())
}

/// Each member's configuration, as the node asks.
fn config(n: &NodeSpec, peers: Vec<crate::engine::NodeId>, i: usize) -> RaftConfig {
    let mut cfg = RaftConfig::new(n.name.get_ref(), peers, i);
    if let Some(d) = &n.heartbeat {
        cfg.heartbeat = d.get_ref().0;
    }
    if let Some(d) = &n.election_timeout {
        cfg.election_timeout = d.get_ref().0;
    }
    if let Some(j) = n.election_jitter {
        cfg.jitter = j.0;
    }
    cfg.reads = n.reads.unwrap_or_default();
    cfg.fsync = n.fsync.unwrap_or(true);
    cfg.bootstrap = i == 0 && n.bootstrap.unwrap_or(false);
    cfg.pre_vote = n.pre_vote.unwrap_or(false);
    cfg
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let name = n.name.get_ref();
    let peers = b.group(name);
    let zones = super::replica::zones(n);
    (0..peers.len()).try_for_each(|i| {
        let cfg = config(n, peers.clone(), i);
        b.zone = b.sim.zone(&zones[i]);
        b.add(&instance_name(name, i), RaftNode::new(cfg))
    })
}

/// Availability, leadership, commit latency, and what the checkers found.
fn report(r: &Report<'_>, n: &NodeSpec, g: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(g, what);
    let (requests, ok) = (c("requests"), c("ok"));
    let leaderless = SimDuration::from_millis(c("leaderless_ms"));
    let run_ms = r.end.as_nanos() / 1_000_000;
    let reads = match n.reads.unwrap_or_default() {
        ReadMode::Log => "through the log",
        ReadMode::ReadIndex => "by read index",
        ReadMode::Lease => "by lease",
        ReadMode::Local => "from the leader's state, unchecked",
    };
    vec![
        (
            "requests".into(),
            format!("{requests}, {ok} ok ({} available)", percent(ok, requests)),
        ),
        (
            "elections".into(),
            format!(
                "{} held, {} leaders elected, last term {}",
                c("elections"),
                c("leaders"),
                c("terms")
            ),
        ),
        (
            "without a leader".into(),
            format!(
                "{leaderless} ({} of the run)",
                percent(c("leaderless_ms"), run_ms)
            ),
        ),
        (
            "commit latency".into(),
            r.quantiles(&format!("{g}.commit_latency_ns")),
        ),
        ("reads".into(), reads.to_string()),
        (
            "consensus".into(),
            format!(
                "terms with two leaders: {}, indexes committed differently: {}, acknowledged writes lost: {}",
                c("two_leader_terms"),
                c("conflicting_commits"),
                c("lost_updates")
            ),
        ),
        ("at the end".into(), behind(c("behind_at_end"))),
        r.linearizable(g),
    ]
}

fn behind(entries: u64) -> String {
    match entries {
        0 => "every member knows of every committed entry".into(),
        1 => "the member furthest behind has yet to learn of 1 committed entry".into(),
        n => format!("the member furthest behind has yet to learn of {n} committed entries"),
    }
}

/// Each member's role and term.
fn badge(
    sim: &crate::engine::Simulation<crate::models::rpc::Rpc>,
    id: crate::engine::NodeId,
) -> Option<super::Badge> {
    let m = sim.node::<RaftNode>(id)?;
    let role = match m.role() {
        Role::Leader => "leader",
        Role::Candidate => "candidate",
        Role::Follower => "follower",
    };
    Some(super::Badge {
        text: format!("({role}, term {})", m.term()),
        highlight: m.role() == Role::Leader,
        bars: Vec::new(),
    })
}
