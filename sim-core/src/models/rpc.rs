//! The messages of the request-path models (client, service, ledger): calls
//! and their replies, the timers those nodes set, and the control messages
//! a scenario injects to change a node's behaviour on schedule.
//!
//! A call carries the *order* it is about (the business entity, such as a
//! payment), an optional idempotency key, and the caller's deadline so that
//! every hop can give up when the caller has. Call ids are unique per
//! caller node and route replies back to the attempt they answer; their low
//! byte names the caller within the node (`caller::caller_of`).

use super::replication::Item;
use crate::engine::NodeId;
use crate::time::SimTime;

/// The order of a health probe: a service answers it like any call but
/// calls no dependency for it.
pub const PROBE_ORDER: u64 = u64::MAX;

pub use crate::policy::Outcome;

/// A scheduled change to a service's behaviour: gray failures and flags.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Control {
    /// Work takes `permille` / 1000 times as long.
    Slow { permille: u32 },
    /// This share of calls (parts per million) fails at once, unworked.
    Errors { ppm: u32 },
    /// Calls are accepted and never answered; workers hang on them.
    Hang,
    /// Back to normal: hung calls resume.
    Recover,
    /// Set a feature flag.
    Flag { name: String, on: bool },
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Rpc {
    /// An attempt of a call.
    Call {
        call: u64,
        order: u64,
        key: Option<u64>,
        deadline: Option<SimTime>,
        /// Higher is more important; load shedding drops the lowest first.
        priority: u8,
    },
    /// The outcome of attempt `call`.
    Reply {
        call: u64,
        outcome: Outcome,
    },
    /// A scheduled change of behaviour (sent by a node to itself).
    Control(Control),

    // The data models (`models::kv`).
    /// Store `value` under `key` as `version`, written at `written_at` by
    /// the writer's clock.
    KvWrite {
        call: u64,
        key: u64,
        version: u64,
        value: u64,
        written_at: SimTime,
    },
    /// The write `call` is stored.
    KvAck {
        call: u64,
    },
    /// What do you hold for `key`?
    KvRead {
        call: u64,
        key: u64,
    },
    /// The version and value held (version 0: nothing).
    KvValue {
        call: u64,
        version: u64,
        value: u64,
    },
    /// Drop what you cache for `key` (sent after a write).
    Invalidate {
        key: u64,
    },

    // Replication (`models::replication`).
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

    // Timers.
    /// Client: time for the next logical request.
    NextRequest,
    /// Client: the user submits order `order` again (a double click).
    Resubmit {
        order: u64,
    },
    /// Client: the arrival rate changes to `rate_changes[index]`.
    RateChange {
        index: usize,
    },
    /// Caller: attempt `call` of logical call `request` waited too long.
    AttemptTimeout {
        caller: u8,
        request: u64,
        call: u64,
    },
    /// Caller: time to retry logical call `request`.
    Retry {
        caller: u8,
        request: u64,
    },
    /// Caller: time to hedge logical call `request`.
    Hedge {
        caller: u8,
        request: u64,
    },
    /// Caller: time to probe every replica.
    HealthTick {
        caller: u8,
    },
    /// Caller: health probe `call` had no answer in time.
    ProbeTimeout {
        caller: u8,
        call: u64,
    },
    /// Service: `worker` finished its own work on a job.
    WorkDone {
        worker: u32,
    },
    /// Quorum client, reader, writer: time for the next operation.
    KvNext,
    /// Key-value store: a worker finished request `job`.
    KvDone {
        job: u64,
    },
    /// Replica: time for heartbeats (and, under a leader, elections).
    RepTick,
    /// Replica: request `op` had its time.
    RepOpTimeout {
        op: u64,
    },
    /// Replica: time for an anti-entropy exchange.
    AntiEntropyTick,
    /// Replica (the leader): time for a drift check.
    DriftTick,
    /// Session: request `call` had no answer in time.
    SessionTimeout {
        call: u64,
    },
    /// Ledger: apply the charge for `order` and answer `caller`'s `call`.
    Charge {
        caller: NodeId,
        call: u64,
        order: u64,
    },
}

impl Rpc {
    /// The caller (index within its node) a caller timer belongs to.
    pub fn caller_timer(&self) -> Option<u8> {
        match self {
            Rpc::AttemptTimeout { caller, .. }
            | Rpc::Retry { caller, .. }
            | Rpc::Hedge { caller, .. }
            | Rpc::HealthTick { caller }
            | Rpc::ProbeTimeout { caller, .. } => Some(*caller),
            _ => None,
        }
    }
}
