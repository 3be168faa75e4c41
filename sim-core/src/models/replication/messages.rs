//! What the replicas of a group and their sessions say to each other.

use super::Item;
use crate::engine::NodeId;
use crate::time::SimTime;

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum RepMsg {
    /// A session writes the fresh value `id` under `key`.
    Put {
        call: u64,
        key: u64,
        id: u64,
    },
    /// A session reads `key`; with `leader_only`, only the leader answers.
    Get {
        call: u64,
        key: u64,
        leader_only: bool,
    },
    /// The write is stored, with this stamp.
    PutOk {
        call: u64,
        id: u64,
        stamp: u64,
    },
    /// What is held for the key: one value, or siblings (none: nothing).
    GetOk {
        call: u64,
        items: Vec<Item>,
    },
    /// Not done: not the leader (`leader` says who is, if known), too few
    /// replicas reachable, or timed out (`maybe_applied`: a write that
    /// some replicas may have stored).
    Refused {
        call: u64,
        leader: Option<NodeId>,
        maybe_applied: bool,
    },
    /// Replica to replica: store `item` (acknowledge `op` if given).
    Replicate {
        op: Option<u64>,
        term: u64,
        key: u64,
        item: Box<Item>,
    },
    Replicated {
        op: u64,
    },
    /// A coordinator asks what a replica holds for `key`.
    Fetch {
        op: u64,
        key: u64,
    },
    Fetched {
        op: u64,
        items: Vec<Item>,
    },
    /// I am alive, in `term`, leading or not, and my newest stamp.
    Heartbeat {
        term: u64,
        leader: bool,
        applied: u64,
    },
    /// A replica that found a new leader asks it for its data.
    SnapshotRequest,
    /// Everything a replica holds: to replace (a leader's snapshot) or to
    /// merge (anti-entropy).
    State {
        replace: bool,
        term: u64,
        keys: Vec<(u64, Vec<Item>)>,
    },
    /// The leader's newest stamp (and its time) per key, for drift checks.
    Digest {
        keys: Vec<(u64, u64, SimTime)>,
    },
}
