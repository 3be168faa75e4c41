//! Consensus: a Raft group as a replicated key-value store.
//!
//! Each member (`RaftNode`) is a follower, a candidate or the leader.
//! A follower that hears nothing from a leader for its election timeout
//! (drawn anew each time, uniform in `[T, T + jitter·T]`, by its own
//! clock) starts an election in a new term; a candidate with a majority
//! of votes leads, and appends a no-op entry of its term. The leader
//! sends its log to each follower, pipelined, and a heartbeat round every
//! `heartbeat`; an entry held by a majority, of the leader's own term, is
//! committed, and every member applies committed entries in order to its
//! key-value state. A leader that has not heard from a majority for an
//! election timeout steps down (check quorum), and a member that heard a
//! leader within its election timeout ignores vote requests. A member cut
//! off from the majority still stands again and again, raising its term;
//! when it is back, the leader hears of that term in its answers and
//! steps down. With `pre_vote` a member first asks whether a majority
//! would vote for it (`RaftMsg::PreVote`, which changes no term), and
//! stands only then, so a cut-off member's term stays where it was.
//!
//! Clients are the replicated store's sessions, unchanged: a member that
//! does not lead refuses, naming the leader it knows. The leader answers
//! a write once it is committed, and a read as `ReadMode` says: through
//! the log, by a read index (the commit index, confirmed by a heartbeat
//! round a majority acknowledged), by a lease (no confirmation while a
//! majority acknowledged a round sent less than an election timeout ago
//! by its clock: unsafe when its clock runs slow), or from its own state
//! at once (unsafe whenever it no longer leads without knowing).
//!
//! Term, vote and log are kept on disk and survive a crash, unless
//! `fsync` is off: then a crash loses them, as a store that acknowledges
//! before its writes reach stable storage loses what it acknowledged, and
//! a member may vote twice in one term.
//!
//! For the checkers each member records what it did (`RaftEvent`): when
//! it began and stopped leading, and every entry it applied; `checks`
//! judges them (one leader per term, one entry per committed index, the
//! time without a leader).

pub mod checks;
mod messages;
pub mod node;

pub use checks::{RaftChecker, RaftReport};
pub use messages::RaftMsg;
pub use node::RaftNode;

use crate::engine::NodeId;
use crate::time::{SimDuration, SimTime};

/// How the leader answers reads (`reads = "read_index"` in a scenario
/// file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadMode {
    /// A read is an entry of the log, answered when it is applied.
    Log,
    /// At the commit index, once a heartbeat round sent after the read
    /// arrived is acknowledged by a majority.
    #[default]
    ReadIndex,
    /// At once while the leader's lease holds (by its own clock), else by
    /// read index.
    Lease,
    /// At once, from the leader's own state, with no check.
    Local,
}

/// What an entry of the log does.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum EntryOp {
    /// A new leader's first entry: commits the entries of earlier terms.
    Noop,
    /// Writes `id` under the key.
    Write,
    /// A read through the log (`ReadMode::Log`).
    Read,
}

/// One entry of a member's log.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Entry {
    pub term: u64,
    pub op: EntryOp,
    pub key: u64,
    /// The write's id (0 for a no-op or a read).
    pub id: u64,
    /// When the leader appended it (true time, for lag).
    pub at: SimTime,
}

/// What a member did, for the checkers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaftEvent {
    /// It became the leader of `term`.
    Leads { term: u64, at: SimTime },
    /// It stopped leading (stepped down, or crashed).
    Follows { at: SimTime },
    /// It applied the entry at `index`, of `term`, writing `id` (0: none).
    Applied { index: u64, term: u64, id: u64 },
}

/// How one member of a group behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct RaftConfig {
    /// The group's name: its metrics are recorded under it.
    pub group: String,
    /// Every member, in order; this one is `peers[index]`.
    pub peers: Vec<NodeId>,
    pub index: usize,
    /// How often the leader sends a heartbeat round.
    pub heartbeat: SimDuration,
    /// The shortest election timeout, T.
    pub election_timeout: SimDuration,
    /// How much longer than T a timeout may be, as a share of T: each is
    /// uniform in `[T, T + jitter·T]` (0: always T).
    pub jitter: f64,
    pub reads: ReadMode,
    /// Term, vote and log survive a crash.
    pub fsync: bool,
    /// The most entries one append carries.
    pub batch: usize,
    /// This member stands for election as the run starts (a cluster
    /// bootstrapped on it).
    pub bootstrap: bool,
    /// Before standing, a member asks whether a majority would vote for
    /// it, and stands only if so: one that cannot win (cut off, or
    /// behind) never raises its term, so it deposes nobody when it
    /// rejoins.
    pub pre_vote: bool,
}

impl RaftConfig {
    /// A member with the defaults: heartbeats every 50ms, election
    /// timeouts in [300ms, 600ms], reads by read index, on disk.
    pub fn new(group: &str, peers: Vec<NodeId>, index: usize) -> Self {
        RaftConfig {
            group: group.to_string(),
            peers,
            index,
            heartbeat: SimDuration::from_millis(50),
            election_timeout: SimDuration::from_millis(300),
            jitter: 1.0,
            reads: ReadMode::default(),
            fsync: true,
            batch: 64,
            bootstrap: false,
            pre_vote: false,
        }
    }
}
