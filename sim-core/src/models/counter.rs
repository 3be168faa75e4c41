//! Shared data changed by many users at once: read-modify-write clients of
//! a key-value store (`kind = "counter_client"`), and the conditional
//! updates the store offers them (`Change`).
//!
//! Each of a client's users is a closed loop: think, then do one task,
//! which is one change of a counter (a key of the store, chosen at random
//! among `keys`: a sharded counter when there are several). A task is
//! made of attempts, and how an attempt goes depends on the `Method`:
//! - `ReadWrite`: read the value, work, write the value plus the change
//!   back, whatever the key holds by then. Two users who read the same
//!   value both succeed, and one change is lost (a lost update).
//! - `Cas`: read the value and its version, work, then write only if the
//!   key is still at that version (compare-and-set). A user who lost the
//!   race has a conflict: its work was wasted, and it retries after the
//!   backoff and jitter of its retry policy, with a new read.
//! - `Atomic`: work, then ask the store to apply the change itself (a
//!   conditional decrement: refused if it would go below zero). No race,
//!   no retries.
//!
//! A change that would take the value below zero is refused (the stock is
//! sold out): the task ends without a success, and is not retried.
//!
//! Each user's operations on the store are kept as a register history per
//! key (the value of a key is its version and value together, so every
//! state is distinct), for the linearizability checker; a successful
//! compare-and-set or change is an atomic step from one state to the next.
//!
//! Metrics, prefixed with the client's name: `tasks`, `succeeded`,
//! `sold_out`, `gave_up`, `attempts`, `conflicts`, `work_ns` (all the work
//! done), `wasted_ns` (the work of attempts that lost a race), the
//! histograms `latency_ns` (a task's start to its end) and `finished_ns`
//! (when each task ended), and `users_done`; for the charts, the series
//! `ok_latency_ns` (each success's time) and `lost_races` (each conflict).

use super::rpc::Rpc;
use super::tasks::{Histories, TaskMetrics};
use crate::checker::linearizability::{Operation, RegisterOp};
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, SeriesId};
use crate::policy::ErrorKind;
use crate::policy::retry::{RetryConfig, RetryDecision, RetryState};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// A conditional update of one key.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Change {
    /// Write `value`, whatever the key holds.
    Put(u64),
    /// Write `value` if the key is still at `version`.
    Cas { version: u64, value: u64 },
    /// Add `delta` (negative: take), unless the value would go below zero.
    Add(i64),
}

impl Change {
    /// What the key holds after the change, given what it holds (None:
    /// refused).
    pub fn apply(self, version: u64, value: u64) -> Option<u64> {
        match self {
            Change::Put(v) => Some(v),
            Change::Cas {
                version: at,
                value: v,
            } => (at == version).then_some(v),
            Change::Add(delta) => value.checked_add_signed(delta),
        }
    }
}

/// What the counter clients and the store say to each other, and the
/// closed-loop users' timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum CounterMsg {
    /// Change `key`, if the change's condition holds.
    Update { call: u64, key: u64, change: Change },
    /// Whether update `call` was applied, and the version and value the
    /// key holds now.
    Updated {
        call: u64,
        ok: bool,
        version: u64,
        value: u64,
    },
    /// A closed-loop user is done thinking or backing off.
    UserReady { user: u32 },
    /// A user's work between its read and its write is done.
    Worked { user: u32 },
}

/// The value of an operation still in flight whose effect is not known
/// yet (a read, or a write whose version the store will choose).
pub const UNKNOWN: u64 = u64::MAX;

/// A register state as the checker sees it: version and value together.
pub fn state(version: u64, value: u64) -> u64 {
    (version << 32) | (value & 0xffff_ffff)
}

/// The version part of a register state.
pub fn version_of(state: u64) -> u64 {
    state >> 32
}

/// How a task changes its counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Read, then write back blindly (lost updates).
    ReadWrite,
    /// Read, then compare-and-set on the version read; retry on conflict.
    Cas,
    /// Let the store apply the change (a conditional decrement).
    Atomic,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::ReadWrite => "read_write",
            Method::Cas => "cas",
            Method::Atomic => "atomic",
        }
    }
}

/// How a counter client behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct CounterConfig {
    pub store: NodeId,
    pub users: u32,
    /// Before each task (nanoseconds).
    pub think: Dist,
    /// Tasks per user (None: until the run ends).
    pub tasks: Option<u64>,
    /// Added to the counter by each task (negative: take).
    pub change: i64,
    pub method: Method,
    /// Between the read and the write (nanoseconds).
    pub work: Dist,
    /// Keys the counter is spread over (a task picks one at random).
    pub keys: u32,
    /// Attempts after a conflict, and the waits between them.
    pub retry: RetryConfig,
}

/// Where a user is in its task.
#[derive(Clone, Copy, Debug)]
enum Step {
    Idle,
    /// Waiting to retry after a conflict.
    Backoff,
    Reading,
    Working {
        version: u64,
        value: u64,
    },
    Writing,
}

#[derive(Clone, Copy, Debug)]
struct User {
    tasks: u64,
    key: u64,
    started: SimTime,
    retry: RetryState,
    step: Step,
    /// The last attempt's work, wasted if it loses.
    worked: SimDuration,
    /// Its operation in flight, as an index into the history.
    op: usize,
}

struct Metrics {
    task: TaskMetrics,
    sold_out: CounterId,
    conflicts: CounterId,
    work: CounterId,
    wasted: CounterId,
    /// The charts' series of conflicts.
    conflict_series: SeriesId,
}

pub struct CounterClient {
    cfg: CounterConfig,
    users: Vec<User>,
    /// Calls in flight: the user each belongs to.
    calls: BTreeMap<u64, u32>,
    next_call: u64,
    /// Every operation on the store, by key, for the checkers.
    history: Histories,
    m: Option<Metrics>,
}

impl CounterClient {
    pub fn new(cfg: CounterConfig) -> Self {
        assert!(
            cfg.users > 0 && cfg.keys > 0,
            "users and keys are at least 1"
        );
        let idle = User {
            tasks: 0,
            key: 0,
            started: SimTime::ZERO,
            retry: RetryState::default(),
            step: Step::Idle,
            worked: SimDuration::ZERO,
            op: 0,
        };
        CounterClient {
            users: vec![idle; cfg.users as usize],
            cfg,
            calls: BTreeMap::new(),
            next_call: 0,
            history: Histories::default(),
            m: None,
        }
    }

    pub fn config(&self) -> &CounterConfig {
        &self.cfg
    }

    /// Updates sent whose answer has not come back: each may have been
    /// applied or not.
    pub fn writes_in_flight(&self) -> u64 {
        self.users
            .iter()
            .filter(|u| matches!(u.step, Step::Writing))
            .count() as u64
    }

    /// Every operation on the store so far, with its key: register
    /// histories, one per key, of `state(version, value)`.
    pub fn history(&self) -> &[(u64, Operation)] {
        self.history.all()
    }

    fn metrics(&self) -> &Metrics {
        self.m.as_ref().expect("started")
    }

    fn add(&self, ctx: &mut Context<'_, Rpc>, which: fn(&Metrics) -> CounterId, n: u64) {
        let id = which(self.metrics());
        ctx.metrics().add(id, n);
    }

    /// The user thinks, then starts its next task; or stops, its tasks
    /// done.
    fn think(&mut self, ctx: &mut Context<'_, Rpc>, user: u32) {
        let done = (self.users[user as usize].tasks, self.cfg.tasks);
        self.metrics().task.next(ctx, user, done, &self.cfg.think);
    }

    fn send(&mut self, ctx: &mut Context<'_, Rpc>, user: u32, msg: impl FnOnce(u64) -> Rpc) {
        let call = self.next_call;
        self.next_call += 1;
        self.calls.insert(call, user);
        ctx.send(self.cfg.store, msg(call));
    }

    /// A new attempt (the first of a task, or a retry).
    fn attempt(&mut self, ctx: &mut Context<'_, Rpc>, user: u32) {
        if matches!(self.users[user as usize].step, Step::Idle) {
            let key = u64::from(ctx.rng().below(u64::from(self.cfg.keys)) as u32);
            let u = &mut self.users[user as usize];
            (u.tasks, u.key, u.started) = (u.tasks + 1, key, ctx.now());
            u.retry = RetryState::default();
            self.add(ctx, |m| m.task.tasks, 1);
        }
        self.users[user as usize].retry.record_attempt();
        self.add(ctx, |m| m.task.attempts, 1);
        let key = self.users[user as usize].key;
        if self.cfg.method == Method::Atomic {
            self.work(ctx, user, 0, 0);
        } else {
            self.users[user as usize].step = Step::Reading;
            self.begin(ctx, user, key, RegisterOp::Read(UNKNOWN));
            self.send(ctx, user, |call| {
                Rpc::Kv(super::kv::KvMsg::KvRead { call, key })
            });
        }
    }

    /// `user` invokes `op` on `key` (`UNKNOWN` where what it does is
    /// known only when it returns).
    fn begin(&mut self, ctx: &mut Context<'_, Rpc>, user: u32, key: u64, op: RegisterOp) {
        self.users[user as usize].op = self.history.begin(ctx.now(), key, op);
    }

    /// `user`'s operation in flight returned, having done `op`.
    fn returned(&mut self, ctx: &mut Context<'_, Rpc>, user: u32, op: RegisterOp) {
        self.history
            .returned(self.users[user as usize].op, ctx.now(), op);
    }

    fn work(&mut self, ctx: &mut Context<'_, Rpc>, user: u32, version: u64, value: u64) {
        let took = self.cfg.work.sample_duration(ctx.rng());
        let u = &mut self.users[user as usize];
        (u.step, u.worked) = (Step::Working { version, value }, took);
        self.add(ctx, |m| m.work, took.as_nanos());
        ctx.set_timer(took, CounterMsg::Worked { user });
    }

    /// The value read: sold out, or on to the work.
    fn on_read(&mut self, ctx: &mut Context<'_, Rpc>, user: u32, version: u64, value: u64) {
        self.returned(ctx, user, RegisterOp::Read(state(version, value)));
        if value.checked_add_signed(self.cfg.change).is_none() {
            self.add(ctx, |m| m.sold_out, 1);
            self.end_task(ctx, user, false);
            return;
        }
        self.work(ctx, user, version, value);
    }

    /// The work is done: write.
    fn write(&mut self, ctx: &mut Context<'_, Rpc>, user: u32) {
        let u = self.users[user as usize];
        let Step::Working { version, value } = u.step else {
            return;
        };
        let new = value.saturating_add_signed(self.cfg.change);
        let change = match self.cfg.method {
            Method::ReadWrite => Change::Put(new),
            Method::Cas => Change::Cas {
                version,
                value: new,
            },
            Method::Atomic => Change::Add(self.cfg.change),
        };
        self.users[user as usize].step = Step::Writing;
        let op = match change {
            Change::Cas { .. } => RegisterOp::Cas {
                from: state(version, value),
                to: state(version + 1, new),
            },
            _ => RegisterOp::Write(UNKNOWN),
        };
        self.begin(ctx, user, u.key, op);
        let key = u.key;
        self.send(ctx, user, |call| {
            Rpc::Counter(CounterMsg::Update { call, key, change })
        });
    }

    fn on_updated(&mut self, ctx: &mut Context<'_, Rpc>, user: u32, ok: bool, now: (u64, u64)) {
        let after = state(now.0, now.1);
        let op = match (ok, self.cfg.method) {
            (true, Method::ReadWrite) => RegisterOp::Write(after),
            (true, _) => RegisterOp::Cas {
                from: state(now.0 - 1, now.1.wrapping_add_signed(-self.cfg.change)),
                to: after,
            },
            // A refused update is a read of what refused it.
            (false, _) => RegisterOp::Read(after),
        };
        self.returned(ctx, user, op);
        if ok {
            self.end_task(ctx, user, true);
        } else if self.cfg.method == Method::Atomic {
            self.add(ctx, |m| m.sold_out, 1);
            self.end_task(ctx, user, false);
        } else {
            self.conflict(ctx, user);
        }
    }

    /// A compare-and-set lost the race: retry after a backoff, or give up.
    fn conflict(&mut self, ctx: &mut Context<'_, Rpc>, user: u32) {
        let wasted = self.users[user as usize].worked.as_nanos();
        self.add(ctx, |m| m.conflicts, 1);
        let (series, now) = (self.metrics().conflict_series, ctx.now());
        ctx.metrics().record_series(series, now, 1.0);
        self.add(ctx, |m| m.wasted, wasted);
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
                self.add(ctx, |m| m.task.gave_up, 1);
                self.end_task(ctx, user, false);
            }
        }
    }

    fn end_task(&mut self, ctx: &mut Context<'_, Rpc>, user: u32, ok: bool) {
        let u = &mut self.users[user as usize];
        u.step = Step::Idle;
        let started = u.started;
        self.metrics().task.ended(ctx, started, ok);
        self.think(ctx, user);
    }
}

impl Node<Rpc> for CounterClient {
    fn footprint(&self) -> u64 {
        (self.history.len() + self.calls.len()) as u64 * super::ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let m = ctx.metrics();
        let task = TaskMetrics::new(m, &name);
        let mut c = |what: &str| m.counter(&format!("{name}.{what}"));
        let (sold_out, conflicts, work, wasted) =
            (c("sold_out"), c("conflicts"), c("work_ns"), c("wasted_ns"));
        let conflict_series = m.series(&format!("{name}.lost_races"), m.series_interval());
        self.m = Some(Metrics {
            task,
            sold_out,
            conflicts,
            work,
            wasted,
            conflict_series,
        });
        for user in 0..self.cfg.users {
            self.think(ctx, user);
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, _from: NodeId, msg: Rpc) {
        match msg {
            Rpc::Kv(super::kv::KvMsg::KvValue {
                call,
                version,
                value,
            }) => {
                if let Some(user) = self.calls.remove(&call) {
                    self.on_read(ctx, user, version, value);
                }
            }
            Rpc::Counter(CounterMsg::Updated {
                call,
                ok,
                version,
                value,
            }) => {
                if let Some(user) = self.calls.remove(&call) {
                    self.on_updated(ctx, user, ok, (version, value));
                }
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
