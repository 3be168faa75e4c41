//! Replicated data: a group of replicas that copy each other's writes, in
//! one of two designs, and the user sessions that read and write through
//! them.
//!
//! **Leader/follower.** One replica, the leader, takes every write: it
//! stamps it `(term, sequence)`, stores it, and sends it to the followers.
//! With `sync = 0` it answers the writer at once (asynchronous
//! replication: a write can be acknowledged and then lost with the
//! leader); with `sync = k` it waits for k followers first, and fails the
//! write if they do not answer in time. Followers answer reads from what
//! they hold, so a read from a follower can be stale; how far behind a
//! follower is shows as the replication lag (the time from the leader's
//! write to the follower's copy).
//!
//! Failover: every replica sends a heartbeat to the others. A leader that
//! has not heard from a majority for `failover_after` steps down. When the
//! leader has been silent that long and a majority is reachable, the
//! reachable replica with the newest data (ties: the lowest index) makes
//! itself leader of a new term. With `Failover::Timeout` neither needs a
//! majority: a silent leader is replaced by whoever can no longer hear
//! it, and a leader never steps down, so replicas cut apart both lead.
//! A replica that learns of a newer term's
//! leader asks it for a snapshot and replaces its own data with it, so
//! whatever it held that the new leader did not have is gone: that is how
//! asynchronous replication loses acknowledged writes. This is a
//! simplified election (no votes, no log matching), enough to show
//! failover and its losses, not a consensus protocol.
//!
//! **Quorums (Dynamo-style).** Any replica coordinates the requests it
//! receives. A write is stamped with the coordinator's clock (which may be
//! skewed: `skew_ns`) and sent to all N replicas; the writer hears back
//! once W have stored it. A read asks all N and answers once R have
//! answered, with the newest value among them; with read repair, replicas
//! that answered with something older are sent the newer value. A
//! coordinator that cannot hear from enough replicas refuses at once.
//!
//! Conflicts: with last-writer-wins a replica keeps the value with the
//! highest stamp and silently drops the other; with version vectors it
//! keeps concurrent values side by side as siblings, a read returns them
//! all, and the next write through a replica that holds them supersedes
//! them all.
//!
//! Repair jobs, in both designs: anti-entropy (every `anti_entropy`, each
//! replica sends everything it holds to one other replica at random, which
//! keeps what is newer) and a drift check (every `drift_check`, the leader
//! sends a digest of its keys; each follower counts the keys it is behind
//! on by more than a check interval, and the group raises an alert).
//!
//! Every write remembers what it superseded (its parents), so that after
//! the run `lost_writes` can tell which acknowledged writes survive
//! nowhere, not even as an ancestor of what the replicas hold.
//!
//! Metrics, prefixed with the group's name: `writes`, `reads`,
//! `replication_lag_ns`, `failovers`, `step_downs`, `resyncs`,
//! `unavailable` (refused for want of replicas), `read_repairs`,
//! `anti_entropy_repairs`, `drift_alerts`, `first_drift_alert_ms`; per
//! replica, the gauge `drift_keys`. Sessions count `requests`, `ok`,
//! `failed`, `reads`, `writes`, `conflicts` (reads that returned
//! siblings) and the histogram `latency_ns`.
//!
//! The group's shared types live here; `messages` is what its members
//! say, `replica` a replica, `session` a user of the group, `analysis`
//! what the checkers find, as the run goes and after it.

mod analysis;
mod messages;
mod replica;
mod session;

pub use analysis::{GroupChecker, GroupReport, analyse, lost_writes};
pub use messages::RepMsg;
pub use replica::{Replica, ReplicaTimer};
pub use session::{ReadFrom, Session, SessionConfig, SessionOp, SessionTimeout};

use crate::engine::NodeId;
use crate::time::{SimDuration, SimTime};

/// A stored value. Its value *is* its id: every write writes a fresh one.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Item {
    /// The write's id, unique in the run (chosen by the session).
    pub id: u64,
    /// The order replicas keep: higher wins.
    pub stamp: u64,
    /// The version vector (one entry per replica); empty under
    /// last-writer-wins.
    pub vv: Vec<u32>,
    /// When the write was made (true time, for lag).
    pub at: SimTime,
}

/// Low bits of a last-writer-wins stamp: the coordinator's index, so that
/// two coordinators never make equal stamps.
const STAMP_NODE_BITS: u32 = 12;
/// The most replicas in a group (the stamp's node bits).
pub const MAX_GROUP: usize = 1 << STAMP_NODE_BITS;

/// How the group replicates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One leader; it waits for `sync` followers before answering a write.
    Leader { sync: usize },
    /// Dynamo-style quorums.
    Quorum {
        r: usize,
        w: usize,
        read_repair: bool,
    },
}

/// When a leader/follower group fails over (`failover = "majority"` in a
/// scenario file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failover {
    /// A replica takes over only with a majority in reach, and a leader
    /// without one steps down.
    #[default]
    Majority,
    /// A replica takes over as soon as the leader is silent, and a leader
    /// never steps down: the naive heartbeat failover, two leaders at
    /// once when the replicas are cut apart (split brain).
    Timeout,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaConfig {
    /// The group's name, the prefix of its metrics.
    pub group: String,
    /// Every replica of the group, in order (this one included).
    pub peers: Vec<NodeId>,
    /// This replica's position in `peers`.
    pub index: usize,
    pub mode: Mode,
    /// Keep concurrent writes as siblings (version vectors) instead of
    /// last-writer-wins.
    pub siblings: bool,
    /// This replica's clock is ahead by this much (behind if negative).
    pub skew_ns: i64,
    pub heartbeat: SimDuration,
    pub failover_after: SimDuration,
    pub failover: Failover,
    /// A coordinator fails a request it could not complete in this time.
    pub request_timeout: SimDuration,
    pub anti_entropy: Option<SimDuration>,
    pub drift_check: Option<SimDuration>,
}

impl ReplicaConfig {
    /// Defaults: heartbeats every 100ms, failover after 1s of silence,
    /// requests time out after 1s, no repair jobs, last-writer-wins.
    pub fn new(group: &str, peers: Vec<NodeId>, index: usize, mode: Mode) -> Self {
        ReplicaConfig {
            group: group.to_string(),
            peers,
            index,
            mode,
            siblings: false,
            skew_ns: 0,
            heartbeat: SimDuration::from_millis(100),
            failover_after: SimDuration::from_secs(1),
            failover: Failover::Majority,
            request_timeout: SimDuration::from_secs(1),
            anti_entropy: None,
            drift_check: None,
        }
    }
}

/// Does `a` know everything `b` knows?
pub(crate) fn dominates(a: &[u32], b: &[u32]) -> bool {
    (0..a.len().max(b.len())).all(|i| a.get(i).unwrap_or(&0) >= b.get(i).unwrap_or(&0))
}

/// Merges `incoming` into what a replica holds for a key; true if that
/// changed.
pub fn merge(held: &mut Vec<Item>, incoming: &Item, siblings: bool) -> bool {
    if !siblings {
        if held.first().is_none_or(|h| incoming.stamp > h.stamp) {
            held.clear();
            held.push(incoming.clone());
            return true;
        }
        return false;
    }
    if held
        .iter()
        .any(|h| h.id == incoming.id || dominates(&h.vv, &incoming.vv))
    {
        return false;
    }
    held.retain(|h| !dominates(&incoming.vv, &h.vv));
    held.push(incoming.clone());
    held.sort_by_key(|h| (h.stamp, h.id));
    true
}
