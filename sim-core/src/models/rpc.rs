//! Every message and timer of the built-in models, as the one type a
//! scenario's simulation carries. Each model owns its part (`request`,
//! `kv`, `replication`, and the timers of `client`, `caller`, `service`,
//! `replica`, `session`, `ledger`, `lock`, `monitor` and `raft`); `Rpc` only gathers them, converts
//! from each, and hashes and prints them as they were when all messages
//! were one flat enum, so that fingerprints and traces recorded by earlier
//! versions still hold.

use super::caller::CallerTimer;
use super::client::ClientTimer;
use super::counter::CounterMsg;
use super::kv::{KvMsg, KvTimer};
use super::ledger::Charge;
use super::lock::{LockMsg, LockTimer};
use super::lock_manager::LockMgrMsg;
use super::messaging::BrokerMsg;
use super::monitor::WatchMsg;
use super::raft::RaftMsg;
use super::replication::{RepMsg, ReplicaTimer, SessionTimeout};
use super::request::{Control, Request};
use super::service::WorkDone;
use super::transactions::TxnMsg;
use core::fmt;
use core::hash::{Hash, Hasher};

#[derive(Clone, PartialEq, Eq)]
pub enum Rpc {
    Request(Request),
    Kv(KvMsg),
    Replication(RepMsg),
    Client(ClientTimer),
    Caller(CallerTimer),
    WorkDone(WorkDone),
    KvTimer(KvTimer),
    Replica(ReplicaTimer),
    SessionTimeout(SessionTimeout),
    Charge(Charge),
    Lock(LockMsg),
    LockTimer(LockTimer),
    Watch(WatchMsg),
    Raft(RaftMsg),
    Counter(CounterMsg),
    LockMgr(LockMgrMsg),
    Broker(BrokerMsg),
    Txn(TxnMsg),
}

macro_rules! from_part {
    ($($part:ident => $variant:ident),* $(,)?) => {$(
        impl From<$part> for Rpc {
            fn from(m: $part) -> Rpc {
                Rpc::$variant(m)
            }
        }
    )*};
}

from_part!(
    Request => Request,
    KvMsg => Kv,
    RepMsg => Replication,
    ClientTimer => Client,
    CallerTimer => Caller,
    WorkDone => WorkDone,
    KvTimer => KvTimer,
    ReplicaTimer => Replica,
    SessionTimeout => SessionTimeout,
    Charge => Charge,
    LockMsg => Lock,
    LockTimer => LockTimer,
    WatchMsg => Watch,
    RaftMsg => Raft,
    CounterMsg => Counter,
    LockMgrMsg => LockMgr,
    BrokerMsg => Broker,
    TxnMsg => Txn,
);

impl From<Control> for Rpc {
    fn from(c: Control) -> Rpc {
        Rpc::Request(Request::Control(c))
    }
}

/// Where each part's messages start in the flat numbering: the number a
/// message had when every message was one variant of one enum.
mod wire {
    pub const REQUEST: isize = 0;
    pub const KV: isize = 3;
    pub const REPLICATION: isize = 8;
    pub const CLIENT: isize = 21;
    pub const CALLER: isize = 24;
    pub const WORK_DONE: isize = 29;
    pub const KV_TIMER: isize = 30;
    pub const REPLICA: isize = 32;
    pub const SESSION_TIMEOUT: isize = 36;
    pub const CHARGE: isize = 37;
    pub const LOCK: isize = 38;
    pub const LOCK_TIMER: isize = 46;
    pub const WATCH: isize = 51;
    pub const RAFT: isize = 54;
    pub const COUNTER: isize = 62;
    pub const LOCK_MGR: isize = 66;
    pub const BROKER: isize = 71;
    /// Room for the broker's messages to grow.
    pub const TXN: isize = 128;
}

impl Hash for Rpc {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match self {
            Rpc::Request(m) => renumbered(m, wire::REQUEST, h),
            Rpc::Kv(m) => renumbered(m, wire::KV, h),
            Rpc::Replication(m) => renumbered(m, wire::REPLICATION, h),
            Rpc::Client(m) => renumbered(m, wire::CLIENT, h),
            Rpc::Caller(m) => renumbered(m, wire::CALLER, h),
            Rpc::KvTimer(m) => renumbered(m, wire::KV_TIMER, h),
            Rpc::Replica(m) => renumbered(m, wire::REPLICA, h),
            Rpc::Lock(m) => renumbered(m, wire::LOCK, h),
            Rpc::LockTimer(m) => renumbered(m, wire::LOCK_TIMER, h),
            Rpc::Watch(m) => renumbered(m, wire::WATCH, h),
            Rpc::Raft(m) => renumbered(m, wire::RAFT, h),
            Rpc::Counter(m) => renumbered(m, wire::COUNTER, h),
            Rpc::LockMgr(m) => renumbered(m, wire::LOCK_MGR, h),
            Rpc::Broker(m) => renumbered(m, wire::BROKER, h),
            Rpc::Txn(m) => renumbered(m, wire::TXN, h),
            // The single messages are structs: no variant number of their
            // own, so theirs is written here.
            Rpc::WorkDone(m) => numbered(m, wire::WORK_DONE, h),
            Rpc::SessionTimeout(m) => numbered(m, wire::SESSION_TIMEOUT, h),
            Rpc::Charge(m) => numbered(m, wire::CHARGE, h),
        }
    }
}

fn numbered<T: Hash, H: Hasher>(m: &T, number: isize, h: &mut H) {
    h.write_isize(number);
    m.hash(h);
}

/// Hashes a part's enum as the flat enum hashed it: the derived hash of an
/// enum of two or more variants writes the variant's number (an isize)
/// first, then its fields; this adds the part's start to that number.
fn renumbered<T: Hash, H: Hasher>(m: &T, start: isize, h: &mut H) {
    m.hash(&mut Renumber {
        inner: h,
        start: Some(start),
    });
}

struct Renumber<'a, H> {
    inner: &'a mut H,
    /// Until the variant number is written.
    start: Option<isize>,
}

impl<H: Hasher> Renumber<'_, H> {
    fn field(&mut self) -> &mut H {
        debug_assert!(
            self.start.is_none(),
            "a part's enum must write its variant number first"
        );
        self.inner
    }
}

impl<H: Hasher> Hasher for Renumber<'_, H> {
    fn finish(&self) -> u64 {
        self.inner.finish()
    }
    fn write_isize(&mut self, i: isize) {
        match self.start.take() {
            Some(start) => self.inner.write_isize(start + i),
            None => self.inner.write_isize(i),
        }
    }
    fn write(&mut self, bytes: &[u8]) {
        self.field().write(bytes)
    }
    fn write_u8(&mut self, i: u8) {
        self.field().write_u8(i)
    }
    fn write_u16(&mut self, i: u16) {
        self.field().write_u16(i)
    }
    fn write_u32(&mut self, i: u32) {
        self.field().write_u32(i)
    }
    fn write_u64(&mut self, i: u64) {
        self.field().write_u64(i)
    }
    fn write_u128(&mut self, i: u128) {
        self.field().write_u128(i)
    }
    fn write_usize(&mut self, i: usize) {
        self.field().write_usize(i)
    }
    fn write_i8(&mut self, i: i8) {
        self.field().write_i8(i)
    }
    fn write_i16(&mut self, i: i16) {
        self.field().write_i16(i)
    }
    fn write_i32(&mut self, i: i32) {
        self.field().write_i32(i)
    }
    fn write_i64(&mut self, i: i64) {
        self.field().write_i64(i)
    }
    fn write_i128(&mut self, i: i128) {
        self.field().write_i128(i)
    }
}

/// A message prints as its part does: as the flat enum printed it.
impl fmt::Debug for Rpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rpc::Request(m) => m.fmt(f),
            Rpc::Kv(m) => m.fmt(f),
            Rpc::Replication(m) => m.fmt(f),
            Rpc::Client(m) => m.fmt(f),
            Rpc::Caller(m) => m.fmt(f),
            Rpc::WorkDone(m) => m.fmt(f),
            Rpc::KvTimer(m) => m.fmt(f),
            Rpc::Replica(m) => m.fmt(f),
            Rpc::SessionTimeout(m) => m.fmt(f),
            Rpc::Charge(m) => m.fmt(f),
            Rpc::Lock(m) => m.fmt(f),
            Rpc::LockTimer(m) => m.fmt(f),
            Rpc::Watch(m) => m.fmt(f),
            Rpc::Raft(m) => m.fmt(f),
            Rpc::Counter(m) => m.fmt(f),
            Rpc::LockMgr(m) => m.fmt(f),
            Rpc::Broker(m) => m.fmt(f),
            Rpc::Txn(m) => m.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::NodeId;
    use crate::models::replication::Item;
    use crate::policy::Outcome;
    use crate::time::SimTime;
    use crate::trace::StableHasher;
    use core::hash::{Hash, Hasher};

    /// One message of every kind, in the flat enum's order.
    fn samples() -> Vec<Rpc> {
        let mut all = request_and_kv_samples();
        all.extend(replication_samples());
        all.extend(timer_samples());
        all
    }

    fn request_and_kv_samples() -> Vec<Rpc> {
        let t = SimTime::from_nanos(7);
        vec![
            Rpc::from(Request::Call {
                call: 1,
                order: 2,
                key: Some(3),
                deadline: Some(t),
                priority: 4,
            }),
            Rpc::from(Request::Reply {
                call: 1,
                outcome: Outcome::Ok(9),
            }),
            Rpc::from(Control::Flag {
                name: "f".into(),
                on: true,
            }),
            Rpc::from(KvMsg::KvWrite {
                call: 1,
                key: 2,
                version: 3,
                value: 4,
                written_at: t,
            }),
            Rpc::from(KvMsg::KvAck { call: 1 }),
            Rpc::from(KvMsg::KvRead { call: 1, key: 2 }),
            Rpc::from(KvMsg::KvValue {
                call: 1,
                version: 2,
                value: 3,
            }),
            Rpc::from(KvMsg::Invalidate { key: 1 }),
        ]
    }

    fn replication_samples() -> Vec<Rpc> {
        let t = SimTime::from_nanos(7);
        let item = Item {
            id: 1,
            stamp: 2,
            vv: vec![3, 4],
            at: t,
        };
        vec![
            Rpc::from(RepMsg::Put {
                call: 1,
                key: 2,
                id: 3,
            }),
            Rpc::from(RepMsg::Get {
                call: 1,
                key: 2,
                leader_only: true,
            }),
            Rpc::from(RepMsg::PutOk {
                call: 1,
                id: 2,
                stamp: 3,
            }),
            Rpc::from(RepMsg::GetOk {
                call: 1,
                items: vec![item.clone()],
            }),
            Rpc::from(RepMsg::Refused {
                call: 1,
                leader: Some(NodeId::from_index(2)),
                maybe_applied: true,
            }),
            Rpc::from(RepMsg::Replicate {
                op: Some(1),
                term: 2,
                key: 3,
                item: Box::new(item.clone()),
            }),
            Rpc::from(RepMsg::Replicated { op: 1 }),
            Rpc::from(RepMsg::Fetch { op: 1, key: 2 }),
            Rpc::from(RepMsg::Fetched {
                op: 1,
                items: vec![item.clone()],
            }),
            Rpc::from(RepMsg::Heartbeat {
                term: 1,
                leader: true,
                applied: 2,
            }),
            Rpc::from(RepMsg::SnapshotRequest),
            Rpc::from(RepMsg::State {
                replace: true,
                term: 1,
                keys: vec![(2, vec![item])],
            }),
            Rpc::from(RepMsg::Digest {
                keys: vec![(1, 2, t)],
            }),
        ]
    }

    fn timer_samples() -> Vec<Rpc> {
        vec![
            Rpc::from(ClientTimer::NextRequest),
            Rpc::from(ClientTimer::Resubmit { order: 1 }),
            Rpc::from(ClientTimer::RateChange { index: 1 }),
            Rpc::from(CallerTimer::AttemptTimeout {
                caller: 1,
                request: 2,
                call: 3,
            }),
            Rpc::from(CallerTimer::Retry {
                caller: 1,
                request: 2,
            }),
            Rpc::from(CallerTimer::Hedge {
                caller: 1,
                request: 2,
            }),
            Rpc::from(CallerTimer::HealthTick { caller: 1 }),
            Rpc::from(CallerTimer::ProbeTimeout { caller: 1, call: 2 }),
            Rpc::from(WorkDone { worker: 1 }),
            Rpc::from(KvTimer::KvNext),
            Rpc::from(KvTimer::KvDone { job: 1 }),
            Rpc::from(ReplicaTimer::RepTick),
            Rpc::from(ReplicaTimer::RepOpTimeout { op: 1 }),
            Rpc::from(ReplicaTimer::AntiEntropyTick),
            Rpc::from(ReplicaTimer::DriftTick),
            Rpc::from(SessionTimeout { call: 1 }),
            Rpc::from(Charge {
                caller: NodeId::from_index(1),
                call: 2,
                order: 3,
            }),
        ]
    }

    /// Fingerprints hash every message; these hashes were taken when all
    /// messages were one flat enum, and must not move, so that a
    /// fingerprint recorded by an earlier version still holds.
    #[test]
    fn message_hashes_are_pinned() {
        let got: Vec<u64> = samples().iter().map(stable_hash).collect();
        assert_eq!(got, PINNED);
    }

    fn stable_hash(m: &Rpc) -> u64 {
        let mut h = StableHasher::default();
        m.hash(&mut h);
        h.finish()
    }

    /// The messages added after the flat enum (the lock, monitor, Raft,
    /// counter and lock manager models') number on from its last: no
    /// hash of theirs meets another message's.
    #[test]
    fn later_messages_hash_apart() {
        use crate::models::lock::{LockMsg, LockTimer};
        use crate::models::monitor::WatchMsg;
        use crate::models::raft::RaftMsg;
        use crate::time::SimDuration;
        let mut all = samples();
        all.extend([
            Rpc::from(LockMsg::Acquire { call: 1 }),
            Rpc::from(LockMsg::Granted {
                call: 1,
                token: 2,
                lease: SimDuration::from_nanos(3),
            }),
            Rpc::from(LockMsg::Release { token: 1 }),
            Rpc::from(LockMsg::Read { call: 1, token: 2 }),
            Rpc::from(LockMsg::Value { call: 1, value: 2 }),
            Rpc::from(LockMsg::Write {
                call: 1,
                token: 2,
                base: 3,
                value: 4,
            }),
            Rpc::from(LockMsg::Written { call: 1 }),
            Rpc::from(LockMsg::Fenced { call: 1, newest: 2 }),
            Rpc::from(LockTimer::LeaseEnd { token: 1 }),
            Rpc::from(LockTimer::GraceEnd),
            Rpc::from(LockTimer::Next),
            Rpc::from(LockTimer::WorkDone { call: 1 }),
            Rpc::from(LockTimer::Timeout { call: 1 }),
            Rpc::from(WatchMsg::Heartbeat {
                incarnation: 1,
                crashed_at: Some(2),
            }),
            Rpc::from(WatchMsg::Beat),
            Rpc::from(WatchMsg::Look { sender: 1 }),
            Rpc::from(RaftMsg::Vote {
                term: 1,
                last_index: 2,
                last_term: 1,
            }),
            Rpc::from(RaftMsg::Voted {
                term: 1,
                granted: true,
            }),
            Rpc::from(RaftMsg::Append {
                term: 1,
                prev_index: 2,
                prev_term: 1,
                entries: Vec::new(),
                commit: 2,
                round: 3,
            }),
            Rpc::from(RaftMsg::Appended {
                term: 1,
                ok: true,
                index: 2,
                round: 3,
            }),
            Rpc::from(RaftMsg::ElectionTimeout { epoch: 1 }),
            Rpc::from(RaftMsg::HeartbeatDue),
            Rpc::from(RaftMsg::PreVote {
                term: 1,
                last_index: 2,
                last_term: 1,
            }),
            Rpc::from(RaftMsg::PreVoted {
                term: 1,
                granted: true,
            }),
        ]);
        all.extend(contention_samples());
        all.extend(messaging_samples());
        all.extend(
            [
                TxnMsg::Do { txn: 1 },
                TxnMsg::Done { txn: 1, ok: true },
                TxnMsg::Undo { txn: 1 },
                TxnMsg::Undone { txn: 1 },
                TxnMsg::Prepare { txn: 1 },
                TxnMsg::Vote { txn: 1, yes: true },
                TxnMsg::Commit { txn: 1 },
                TxnMsg::Abort { txn: 1 },
                TxnMsg::Finished { txn: 1 },
                TxnMsg::Begin,
                TxnMsg::Worked { txn: 1 },
            ]
            .map(Rpc::from),
        );
        let mut hashes: Vec<u64> = all.iter().map(stable_hash).collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), all.len());
    }

    /// The counter clients', transfer clients' and lock manager's.
    fn contention_samples() -> Vec<Rpc> {
        use crate::models::counter::Change;
        vec![
            Rpc::from(CounterMsg::Update {
                call: 1,
                key: 2,
                change: Change::Add(-1),
            }),
            Rpc::from(CounterMsg::Updated {
                call: 1,
                ok: true,
                version: 2,
                value: 3,
            }),
            Rpc::from(CounterMsg::UserReady { user: 1 }),
            Rpc::from(CounterMsg::Worked { user: 1 }),
            Rpc::from(LockMgrMsg::Lock {
                call: 1,
                txn: 2,
                resource: 3,
            }),
            Rpc::from(LockMgrMsg::Locked { call: 1 }),
            Rpc::from(LockMgrMsg::Refused {
                call: 1,
                deadlock: true,
            }),
            Rpc::from(LockMgrMsg::Unlock { txn: 1 }),
            Rpc::from(LockMgrMsg::WaitExpired { waiter: 1 }),
        ]
    }

    /// The brokers', producers' and consumers'.
    fn messaging_samples() -> Vec<Rpc> {
        use crate::models::messaging::{Delivery, Envelope};
        let msg = Envelope {
            id: 1,
            key: 2,
            created: SimTime::from_nanos(3),
            bytes: 4,
            poison: false,
        };
        let delivery = Delivery {
            msg: msg.clone(),
            partition: 1,
            offset: 2,
            receives: 3,
        };
        [
            BrokerMsg::Produce {
                topic: 1,
                batch: 1,
                msgs: vec![msg],
                idempotent: true,
            },
            BrokerMsg::Acked { batch: 1 },
            BrokerMsg::Refused {
                batch: 1,
                blocked: true,
            },
            BrokerMsg::Unblocked,
            BrokerMsg::Join { group: "g".into() },
            BrokerMsg::Heartbeat,
            BrokerMsg::Fetch {
                generation: 1,
                max: 2,
            },
            BrokerMsg::Delivered {
                generation: 1,
                deliveries: vec![delivery],
            },
            BrokerMsg::CommitOffset {
                generation: 1,
                partition: 2,
                offset: 3,
            },
            BrokerMsg::Nack {
                generation: 1,
                partition: 2,
                offset: 3,
            },
            BrokerMsg::Rewound {
                partition: 1,
                offset: 2,
            },
            BrokerMsg::Delete { receipt: 1 },
            BrokerMsg::Rebalancing,
            BrokerMsg::Rejoin,
            BrokerMsg::Assigned {
                generation: 1,
                partitions: vec![2],
            },
            BrokerMsg::Arrival,
            BrokerMsg::Linger,
            BrokerMsg::AckTimeout { batch: 1 },
            BrokerMsg::Resend { batch: 1 },
            BrokerMsg::Processed { slot: 1 },
            BrokerMsg::Poll { fetch: 1 },
            BrokerMsg::HeartbeatDue,
            BrokerMsg::CommitDue,
            BrokerMsg::Tick,
            BrokerMsg::Visible {
                topic: 1,
                receipt: 1,
            },
            BrokerMsg::RebalanceDone {
                topic: 1,
                group: 1,
                generation: 2,
            },
            BrokerMsg::WriteDone { slot: 1 },
        ]
        .into_iter()
        .map(Rpc::from)
        .collect()
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
