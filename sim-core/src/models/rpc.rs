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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::replication::Item;
    use crate::trace::StableHasher;
    use core::hash::{Hash, Hasher};

    fn samples() -> Vec<Rpc> {
        let t = SimTime::from_nanos(7);
        let item = Item {
            id: 1,
            stamp: 2,
            vv: vec![3, 4],
            at: t,
        };
        vec![
            Rpc::Call {
                call: 1,
                order: 2,
                key: Some(3),
                deadline: Some(t),
                priority: 4,
            },
            Rpc::Reply {
                call: 1,
                outcome: Outcome::Ok(9),
            },
            Rpc::Control(Control::Flag {
                name: "f".into(),
                on: true,
            }),
            Rpc::KvWrite {
                call: 1,
                key: 2,
                version: 3,
                value: 4,
                written_at: t,
            },
            Rpc::KvAck { call: 1 },
            Rpc::KvRead { call: 1, key: 2 },
            Rpc::KvValue {
                call: 1,
                version: 2,
                value: 3,
            },
            Rpc::Invalidate { key: 1 },
            Rpc::Put {
                call: 1,
                key: 2,
                id: 3,
            },
            Rpc::Get {
                call: 1,
                key: 2,
                leader_only: true,
            },
            Rpc::PutOk {
                call: 1,
                id: 2,
                stamp: 3,
            },
            Rpc::GetOk {
                call: 1,
                items: vec![item.clone()],
            },
            Rpc::Refused {
                call: 1,
                leader: Some(NodeId::from_index(2)),
                maybe_applied: true,
            },
            Rpc::Replicate {
                op: Some(1),
                term: 2,
                key: 3,
                item: Box::new(item.clone()),
            },
            Rpc::Replicated { op: 1 },
            Rpc::Fetch { op: 1, key: 2 },
            Rpc::Fetched {
                op: 1,
                items: vec![item.clone()],
            },
            Rpc::Heartbeat {
                term: 1,
                leader: true,
                applied: 2,
            },
            Rpc::SnapshotRequest,
            Rpc::State {
                replace: true,
                term: 1,
                keys: vec![(2, vec![item])],
            },
            Rpc::Digest {
                keys: vec![(1, 2, t)],
            },
            Rpc::NextRequest,
            Rpc::Resubmit { order: 1 },
            Rpc::RateChange { index: 1 },
            Rpc::AttemptTimeout {
                caller: 1,
                request: 2,
                call: 3,
            },
            Rpc::Retry {
                caller: 1,
                request: 2,
            },
            Rpc::Hedge {
                caller: 1,
                request: 2,
            },
            Rpc::HealthTick { caller: 1 },
            Rpc::ProbeTimeout { caller: 1, call: 2 },
            Rpc::WorkDone { worker: 1 },
            Rpc::KvNext,
            Rpc::KvDone { job: 1 },
            Rpc::RepTick,
            Rpc::RepOpTimeout { op: 1 },
            Rpc::AntiEntropyTick,
            Rpc::DriftTick,
            Rpc::SessionTimeout { call: 1 },
            Rpc::Charge {
                caller: NodeId::from_index(1),
                call: 2,
                order: 3,
            },
        ]
    }

    /// Fingerprints hash every message; these hashes were taken when all
    /// messages were one flat enum, and must not move, so that a
    /// fingerprint recorded by an earlier version still holds.
    #[test]
    fn message_hashes_are_pinned() {
        let got: Vec<u64> = samples()
            .iter()
            .map(|m| {
                let mut h = StableHasher::default();
                m.hash(&mut h);
                h.finish()
            })
            .collect();
        assert_eq!(got, PINNED);
    }

    /// The JSON-lines trace prints a message's Debug text: it stays as it
    /// was too.
    #[test]
    fn message_texts_are_pinned() {
        let got: Vec<String> = samples().iter().map(|m| format!("{m:?}")).collect();
        assert_eq!(got.join("\n"), TEXTS.trim());
    }

    const TEXTS: &str = r#"
Call { call: 1, order: 2, key: Some(3), deadline: Some(SimTime(7)), priority: 4 }
Reply { call: 1, outcome: Ok(9) }
Control(Flag { name: "f", on: true })
KvWrite { call: 1, key: 2, version: 3, value: 4, written_at: SimTime(7) }
KvAck { call: 1 }
KvRead { call: 1, key: 2 }
KvValue { call: 1, version: 2, value: 3 }
Invalidate { key: 1 }
Put { call: 1, key: 2, id: 3 }
Get { call: 1, key: 2, leader_only: true }
PutOk { call: 1, id: 2, stamp: 3 }
GetOk { call: 1, items: [Item { id: 1, stamp: 2, vv: [3, 4], at: SimTime(7) }] }
Refused { call: 1, leader: Some(NodeId(2)), maybe_applied: true }
Replicate { op: Some(1), term: 2, key: 3, item: Item { id: 1, stamp: 2, vv: [3, 4], at: SimTime(7) } }
Replicated { op: 1 }
Fetch { op: 1, key: 2 }
Fetched { op: 1, items: [Item { id: 1, stamp: 2, vv: [3, 4], at: SimTime(7) }] }
Heartbeat { term: 1, leader: true, applied: 2 }
SnapshotRequest
State { replace: true, term: 1, keys: [(2, [Item { id: 1, stamp: 2, vv: [3, 4], at: SimTime(7) }])] }
Digest { keys: [(1, 2, SimTime(7))] }
NextRequest
Resubmit { order: 1 }
RateChange { index: 1 }
AttemptTimeout { caller: 1, request: 2, call: 3 }
Retry { caller: 1, request: 2 }
Hedge { caller: 1, request: 2 }
HealthTick { caller: 1 }
ProbeTimeout { caller: 1, call: 2 }
WorkDone { worker: 1 }
KvNext
KvDone { job: 1 }
RepTick
RepOpTimeout { op: 1 }
AntiEntropyTick
DriftTick
SessionTimeout { call: 1 }
Charge { caller: NodeId(1), call: 2, order: 3 }
"#;

    const PINNED: [u64; 38] = [
        0xce0614d728ded147,
        0x4ad402bd03d13b35,
        0x36306d8eeb785020,
        0x6ab20a8b9bdd072e,
        0x917d389b29a2e30e,
        0x2f523c558e5461da,
        0x3e8dd540cbf9eade,
        0xf260f871db0437fe,
        0x0f0ebceeb61705e3,
        0xff1245bf262fa796,
        0xd530dcbdedf046e4,
        0xcab1e70d2db0a820,
        0x2b30398ca65db52e,
        0x78cba0de75445d39,
        0xc992d261483b7d88,
        0xf6d14301e638e8dd,
        0x30fcd6a19898ab07,
        0xf08e67e7c2de9ba7,
        0x3c9a27d1d5627550,
        0xd4551ec8d279e056,
        0xaedc512113da7945,
        0xc1c42ec14255f491,
        0x7f2261a0b29b70c6,
        0xd51b4b616102d5f7,
        0x83778028a1d19aee,
        0x2a75379840097915,
        0x5dafe4afb4452d9c,
        0xc7558f077f72b507,
        0x433277884658ce95,
        0x1c83d684fffcb784,
        0x64baf1c150dd435f,
        0x364916d2c6478450,
        0xd9949b7fd560e3c6,
        0xf1efd53380d660e9,
        0xfe7f51c5e1b54058,
        0x49b79e2d5908314c,
        0x7498fe490934ee91,
        0x01cfb6fed1a692bd,
    ];
}
