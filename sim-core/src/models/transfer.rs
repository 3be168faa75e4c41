//! Pessimistic read-modify-write through a lock manager: closed-loop users
//! who move money between accounts (`kind = "transfer_client"`).
//!
//! Each user thinks, then does one transfer: it draws two different
//! accounts (keys of a kv store), locks both at the lock manager
//! (`lock_manager`), one after the other, reads both balances, works,
//! writes both back (one lower, one higher) and releases the locks.
//! Under the locks no other transfer touches the two accounts, so no
//! update is lost. The order it locks them in is the lesson: in the order
//! drawn, two users moving money in opposite directions can each hold one
//! account and wait for the other (a deadlock); in one global order (the
//! lower account first) no cycle can form. A lock refused (a deadlock's
//! victim, or the lock timeout) releases everything and starts the
//! transfer again after the retry policy's backoff and jitter.
//!
//! Each user's reads and writes are kept as register histories per
//! account, as the counter clients' are (`counter::state`), for the same
//! checker.
//!
//! Metrics, prefixed with the client's name: `tasks`, `succeeded`,
//! `insufficient` (the first account held less than the amount: nothing
//! moved), `attempts`, `deadlocks` and `timeouts` (locks refused),
//! `gave_up`, the histograms `latency_ns` and `finished_ns`, `users_done`,
//! and the charts' series `ok_latency_ns` and `failures` (each refusal).

use super::counter::{Change, CounterMsg, UNKNOWN, state};
use super::kv::KvMsg;
use super::lock_manager::LockMgrMsg;
use super::rpc::Rpc;
use super::tasks::{Histories, TaskMetrics};
use crate::checker::linearizability::{Operation, RegisterOp};
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, SeriesId};
use crate::policy::ErrorKind;
use crate::policy::retry::{RetryConfig, RetryDecision, RetryState};
use crate::time::SimTime;
use std::collections::BTreeMap;

/// In which order a transfer takes its two locks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockOrder {
    /// The account paid from, then the one paid to.
    AsDrawn,
    /// The lower-numbered account first, whichever way the money goes.
    Sorted,
}

/// How a transfer client behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct TransferConfig {
    pub locks: NodeId,
    pub store: NodeId,
    pub users: u32,
    pub think: Dist,
    pub tasks: Option<u64>,
    /// Accounts: keys 0 to `accounts - 1` of the store.
    pub accounts: u32,
    pub amount: u64,
    /// Between the reads and the writes, holding both locks.
    pub work: Dist,
    pub order: LockOrder,
    /// After a refused lock.
    pub retry: RetryConfig,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Idle,
    Backoff,
    /// Waiting for lock `0` or `1` of `locks`.
    Locking(usize),
    Reading,
    Working,
    Writing,
}

#[derive(Clone, Copy, Debug)]
struct User {
    tasks: u64,
    /// (paid from, paid to).
    accounts: (u64, u64),
    txn: u64,
    started: SimTime,
    retry: RetryState,
    step: Step,
    /// Balances read (from, to), and answers still awaited.
    read: (Option<u64>, Option<u64>),
    pending: u8,
    /// History indices of the operations in flight (from, to).
    ops: (usize, usize),
}

struct Metrics {
    task: TaskMetrics,
    insufficient: CounterId,
    deadlocks: CounterId,
    timeouts: CounterId,
    failures: SeriesId,
}

pub struct TransferClient {
    cfg: TransferConfig,
    users: Vec<User>,
    /// Calls in flight: the user, and which account (0 from, 1 to).
    calls: BTreeMap<u64, (u32, usize)>,
    next_call: u64,
    next_txn: u64,
    history: Histories,
    m: Option<Metrics>,
}

impl TransferClient {
    pub fn new(cfg: TransferConfig) -> Self {
        assert!(
            cfg.users > 0 && cfg.accounts >= 2,
            "users, and two accounts"
        );
        let idle = User {
            tasks: 0,
            accounts: (0, 1),
            txn: 0,
            started: SimTime::ZERO,
            retry: RetryState::default(),
            step: Step::Idle,
            read: (None, None),
            pending: 0,
            ops: (0, 0),
        };
        TransferClient {
            users: vec![idle; cfg.users as usize],
            cfg,
            calls: BTreeMap::new(),
            next_call: 0,
            next_txn: 0,
            history: Histories::default(),
            m: None,
        }
    }

    pub fn config(&self) -> &TransferConfig {
        &self.cfg
    }

    /// Every read and write on the store, by account.
    pub fn history(&self) -> &[(u64, Operation)] {
        self.history.all()
    }

    /// Users whose writes are on their way: one of a pair may be stored.
    pub fn writes_in_flight(&self) -> u64 {
        self.users
            .iter()
            .filter(|u| matches!(u.step, Step::Writing))
            .count() as u64
    }

    fn metrics(&self) -> &Metrics {
        self.m.as_ref().expect("started")
    }

    fn count(&self, ctx: &mut Context<'_, Rpc>, which: fn(&Metrics) -> CounterId) {
        TaskMetrics::count(ctx, which(self.metrics()));
    }

    fn think(&mut self, ctx: &mut Context<'_, Rpc>, user: u32) {
        let done = (self.users[user as usize].tasks, self.cfg.tasks);
        self.metrics().task.next(ctx, user, done, &self.cfg.think);
    }

    fn call(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        user: u32,
        which: usize,
        to: NodeId,
        msg: impl FnOnce(u64) -> Rpc,
    ) {
        let call = self.next_call;
        self.next_call += 1;
        self.calls.insert(call, (user, which));
        ctx.send(to, msg(call));
    }

    /// The locks in the order they are taken.
    fn lock_order(&self, u: &User) -> [u64; 2] {
        let (a, b) = u.accounts;
        match self.cfg.order {
            LockOrder::Sorted if b < a => [b, a],
            _ => [a, b],
        }
    }

    /// A new attempt: a new transaction, from the first lock.
    fn attempt(&mut self, ctx: &mut Context<'_, Rpc>, user: u32) {
        if matches!(self.users[user as usize].step, Step::Idle) {
            let n = u64::from(self.cfg.accounts);
            let from = ctx.rng().below(n);
            let to = (from + 1 + ctx.rng().below(n - 1)) % n;
            let u = &mut self.users[user as usize];
            (u.tasks, u.accounts, u.started) = (u.tasks + 1, (from, to), ctx.now());
            u.retry = RetryState::default();
            self.count(ctx, |m| m.task.tasks);
        }
        self.count(ctx, |m| m.task.attempts);
        let txn = self.next_txn;
        self.next_txn += 1;
        let u = &mut self.users[user as usize];
        u.retry.record_attempt();
        u.txn = txn;
        self.take_lock(ctx, user, 0);
    }

    fn take_lock(&mut self, ctx: &mut Context<'_, Rpc>, user: u32, which: usize) {
        let u = self.users[user as usize];
        let resource = self.lock_order(&u)[which];
        self.users[user as usize].step = Step::Locking(which);
        let to = self.cfg.locks;
        self.call(ctx, user, which, to, |call| {
            Rpc::LockMgr(LockMgrMsg::Lock {
                call,
                txn: u.txn,
                resource,
            })
        });
    }

    fn begin(&mut self, ctx: &mut Context<'_, Rpc>, key: u64, op: RegisterOp) -> usize {
        self.history.begin(ctx.now(), key, op)
    }

    /// Answer `which` (0: the account paid from, 1: paid to) of `user`'s
    /// pair came back, having done `op`; the answers still awaited.
    fn settle(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        user: u32,
        which: usize,
        op: RegisterOp,
    ) -> u8 {
        let u = &mut self.users[user as usize];
        let at = if which == 0 { u.ops.0 } else { u.ops.1 };
        u.pending -= 1;
        let left = u.pending;
        self.history.returned(at, ctx.now(), op);
        left
    }

    fn locked(&mut self, ctx: &mut Context<'_, Rpc>, user: u32) {
        let Step::Locking(which) = self.users[user as usize].step else {
            return;
        };
        if which == 0 {
            return self.take_lock(ctx, user, 1);
        }
        let (from, to) = self.users[user as usize].accounts;
        let store = self.cfg.store;
        let ops = (
            self.begin(ctx, from, RegisterOp::Read(UNKNOWN)),
            self.begin(ctx, to, RegisterOp::Read(UNKNOWN)),
        );
        let u = &mut self.users[user as usize];
        (u.step, u.read, u.pending, u.ops) = (Step::Reading, (None, None), 2, ops);
        self.call(ctx, user, 0, store, |call| {
            Rpc::Kv(KvMsg::KvRead { call, key: from })
        });
        self.call(ctx, user, 1, store, |call| {
            Rpc::Kv(KvMsg::KvRead { call, key: to })
        });
    }

    fn on_read(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        user: u32,
        which: usize,
        version: u64,
        value: u64,
    ) {
        let left = self.settle(ctx, user, which, RegisterOp::Read(state(version, value)));
        let u = &mut self.users[user as usize];
        if which == 0 {
            u.read.0 = Some(value);
        } else {
            u.read.1 = Some(value);
        }
        if left > 0 {
            return;
        }
        if u.read.0.unwrap_or(0) < self.cfg.amount {
            self.count(ctx, |m| m.insufficient);
            return self.end_task(ctx, user, (true, false));
        }
        u.step = Step::Working;
        let took = self.cfg.work.sample_duration(ctx.rng());
        ctx.set_timer(took, CounterMsg::Worked { user });
    }

    fn write(&mut self, ctx: &mut Context<'_, Rpc>, user: u32) {
        let u = self.users[user as usize];
        let (Step::Working, (Some(a), Some(b))) = (u.step, u.read) else {
            return;
        };
        let (from, to) = u.accounts;
        let amount = self.cfg.amount;
        let ops = (
            self.begin(ctx, from, RegisterOp::Write(UNKNOWN)),
            self.begin(ctx, to, RegisterOp::Write(UNKNOWN)),
        );
        let u = &mut self.users[user as usize];
        (u.step, u.pending, u.ops) = (Step::Writing, 2, ops);
        let store = self.cfg.store;
        for (which, key, value) in [(0, from, a - amount), (1, to, b + amount)] {
            self.call(ctx, user, which, store, |call| {
                Rpc::Counter(CounterMsg::Update {
                    call,
                    key,
                    change: Change::Put(value),
                })
            });
        }
    }

    fn on_written(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        user: u32,
        which: usize,
        version: u64,
        value: u64,
    ) {
        if self.settle(ctx, user, which, RegisterOp::Write(state(version, value))) == 0 {
            self.end_task(ctx, user, (true, true));
        }
    }

    /// A lock was refused: release everything, then retry or give up.
    fn refused(&mut self, ctx: &mut Context<'_, Rpc>, user: u32, deadlock: bool) {
        if deadlock {
            self.count(ctx, |m| m.deadlocks);
        } else {
            self.count(ctx, |m| m.timeouts);
        }
        let (series, now) = (self.m.as_ref().expect("started").failures, ctx.now());
        ctx.metrics().record_series(series, now, 1.0);
        let txn = self.users[user as usize].txn;
        ctx.send(self.cfg.locks, LockMgrMsg::Unlock { txn });
        let mut retry = self.users[user as usize].retry;
        let decision = self
            .cfg
            .retry
            .decide(&mut retry, ErrorKind::Conflict, None, ctx.rng());
        self.users[user as usize].retry = retry;
        match decision {
            RetryDecision::RetryAfter(wait) => {
                self.users[user as usize].step = Step::Backoff;
                ctx.set_timer(wait, CounterMsg::UserReady { user });
            }
            RetryDecision::GiveUp(_) => {
                self.count(ctx, |m| m.task.gave_up);
                self.end_task(ctx, user, (false, false));
            }
        }
    }

    /// The transfer is over, a success or not: release the locks (unless
    /// a refusal did), note the time, think.
    fn end_task(&mut self, ctx: &mut Context<'_, Rpc>, user: u32, (release, ok): (bool, bool)) {
        let u = &self.users[user as usize];
        let (txn, started) = (u.txn, u.started);
        if release {
            ctx.send(self.cfg.locks, LockMgrMsg::Unlock { txn });
        }
        self.users[user as usize].step = Step::Idle;
        self.metrics().task.ended(ctx, started, ok);
        self.think(ctx, user);
    }
}

impl Node<Rpc> for TransferClient {
    fn footprint(&self) -> u64 {
        (self.history.len() + self.calls.len()) as u64 * super::ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let m = ctx.metrics();
        let task = TaskMetrics::new(m, &name);
        let mut c = |what: &str| m.counter(&format!("{name}.{what}"));
        let (insufficient, deadlocks, timeouts) =
            (c("insufficient"), c("deadlocks"), c("timeouts"));
        let failures = m.series(&format!("{name}.failures"), m.series_interval());
        self.m = Some(Metrics {
            task,
            insufficient,
            deadlocks,
            timeouts,
            failures,
        });
        for user in 0..self.cfg.users {
            self.think(ctx, user);
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, _from: NodeId, msg: Rpc) {
        let call = match &msg {
            Rpc::LockMgr(LockMgrMsg::Locked { call } | LockMgrMsg::Refused { call, .. })
            | Rpc::Kv(KvMsg::KvValue { call, .. })
            | Rpc::Counter(CounterMsg::Updated { call, .. }) => *call,
            _ => return,
        };
        let Some((user, which)) = self.calls.remove(&call) else {
            return;
        };
        match msg {
            Rpc::LockMgr(LockMgrMsg::Locked { .. }) => self.locked(ctx, user),
            Rpc::LockMgr(LockMgrMsg::Refused { deadlock, .. }) => self.refused(ctx, user, deadlock),
            Rpc::Kv(KvMsg::KvValue { version, value, .. }) => {
                self.on_read(ctx, user, which, version, value);
            }
            Rpc::Counter(CounterMsg::Updated { version, value, .. }) => {
                self.on_written(ctx, user, which, version, value);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        match payload {
            Rpc::Counter(CounterMsg::UserReady { user }) => self.attempt(ctx, user),
            Rpc::Counter(CounterMsg::Worked { user }) => self.write(ctx, user),
            _ => {}
        }
    }
}
