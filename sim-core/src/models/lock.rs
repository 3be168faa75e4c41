//! A lock service with leases and fencing tokens, the workers that take
//! the lock to change shared data, and the storage that holds the data.
//!
//! The lock server grants its lock to one worker at a time, for a lease
//! judged by its own clock, with a token one higher than the last it
//! granted (tokens survive its crash; after a restart it grants nothing
//! for one lease, so a lease it granted before cannot overlap a new one).
//! Workers that ask while the lock is held wait in line. A lease that runs
//! out before its holder releases it passes the lock to the next in line:
//! the server cannot tell a slow holder from a dead one.
//!
//! A worker holding the lock reads the counter, works on it for a while,
//! and writes it back one higher, each request carrying its token; then it
//! releases the lock, thinks, and asks again. It believes its lease lasts
//! as long as the grant said, by its own clock, and, with `check_lease`,
//! gives up a write its clock says is too late. Nothing it does notices a
//! pause between its check and its write, or a clock that runs slow.
//!
//! The storage keeps one counter. With fencing it remembers the newest
//! token it has seen and refuses any request with an older one: a holder
//! whose lease ran out cannot write over its successor's work. Without
//! it, a write based on a value that has changed since it was read erases
//! the increments made in between: a lost update, which the storage counts
//! (it sees the base each write was computed from). With no lost update
//! the counter equals the writes stored.
//!
//! Metrics, prefixed with each node's name. The lock server: `grants`,
//! `releases`, `expired` (leases that ran out while held),
//! `stale_releases` (a release by a holder whose lease had already gone
//! to another). A worker: `acquired`, `writes`, `done` (writes stored),
//! `fenced` (requests refused for an old token), `lapsed` (writes given up
//! because its lease had run out by its clock), `timeouts`. The storage:
//! `reads`, `writes`, `fenced`, `lost_updates` (writes computed from a
//! value that had changed since it was read), `erased` (the increments
//! they overwrote).

use super::rpc::Rpc;
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::CounterId;
use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;

/// What lock servers, workers and the storage say to each other.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum LockMsg {
    /// A worker asks for the lock (`call`: its attempt).
    Acquire { call: u64 },
    /// The lock is the asker's as `token`, for `lease` by the server's
    /// clock.
    Granted {
        call: u64,
        token: u64,
        lease: SimDuration,
    },
    /// The holder of `token` puts the lock back.
    Release { token: u64 },
    /// A worker reads the counter as the holder of `token`.
    Read { call: u64, token: u64 },
    /// The counter's value.
    Value { call: u64, value: u64 },
    /// A worker writes `value`, computed from `base`, as holder of `token`.
    Write {
        call: u64,
        token: u64,
        base: u64,
        value: u64,
    },
    /// The write is stored.
    Written { call: u64 },
    /// Refused: the storage has seen `newest`, a newer token.
    Fenced { call: u64, newest: u64 },
}

/// The lock models' timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum LockTimer {
    /// A lock server: the lease of `token` runs out (by its clock).
    LeaseEnd { token: u64 },
    /// A lock server: the wait after a restart is over.
    GraceEnd,
    /// A worker: ask for the lock again.
    Next,
    /// A worker: the work on what request `call` read is done.
    WorkDone { call: u64 },
    /// A worker: request `call` had no answer in time.
    Timeout { call: u64 },
}

/// The counters `<node>.<what>` for each of `names`, in order.
fn counters<const N: usize>(ctx: &mut Context<'_, Rpc>, names: [&str; N]) -> [CounterId; N] {
    let node = ctx.name().to_string();
    let m = ctx.metrics();
    names.map(|what| m.counter(&format!("{node}.{what}")))
}

/// The lock server.
pub struct LockServer {
    lease: SimDuration,
    /// The last token granted: kept across a crash, as if on disk.
    last_token: u64,
    /// The holder, its token and when its lease ends by this clock.
    holder: Option<(NodeId, u64, SimTime)>,
    waiting: VecDeque<(NodeId, u64)>,
    /// Granting nothing until the grace after a restart ends.
    in_grace: bool,
    m: Option<[CounterId; 4]>,
}

impl LockServer {
    /// A lock server whose leases last `lease` by its clock.
    pub fn new(lease: SimDuration) -> Self {
        LockServer {
            lease,
            last_token: 0,
            holder: None,
            waiting: VecDeque::new(),
            in_grace: false,
            m: None,
        }
    }

    /// Who holds the lock now, with its token, as the server sees it.
    pub fn holder(&self) -> Option<(NodeId, u64)> {
        self.holder.map(|(n, t, _)| (n, t))
    }

    /// The last token granted.
    pub fn last_token(&self) -> u64 {
        self.last_token
    }

    fn grant_next(&mut self, ctx: &mut Context<'_, Rpc>) {
        if self.holder.is_some() || self.in_grace {
            return;
        }
        let Some((to, call)) = self.waiting.pop_front() else {
            return;
        };
        self.last_token += 1;
        let token = self.last_token;
        self.holder = Some((to, token, ctx.local_now() + self.lease));
        ctx.set_timer(self.lease, LockTimer::LeaseEnd { token });
        let [grants, ..] = self.m.expect("started");
        ctx.metrics().add(grants, 1);
        let lease = self.lease;
        ctx.send(to, LockMsg::Granted { call, token, lease });
    }

    /// Frees the lock if `token` holds it (released, or its lease ran
    /// out) and passes it on; whether it did.
    fn free(&mut self, ctx: &mut Context<'_, Rpc>, token: u64) -> bool {
        if self.holder.is_none_or(|(_, t, _)| t != token) {
            return false;
        }
        self.holder = None;
        self.grant_next(ctx);
        true
    }

    fn count(&self, ctx: &mut Context<'_, Rpc>, which: usize) {
        let m = self.m.expect("started");
        ctx.metrics().add(m[which], 1);
    }
}

const RELEASES: usize = 1;
const EXPIRED: usize = 2;
const STALE_RELEASES: usize = 3;

impl Node<Rpc> for LockServer {
    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.m = Some(counters(
            ctx,
            ["grants", "releases", "expired", "stale_releases"],
        ));
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        let Rpc::Lock(msg) = msg else { return };
        match msg {
            LockMsg::Acquire { call } => {
                if let Some((holder, token, end)) = self.holder
                    && holder == from
                {
                    // It asked again before the grant reached it: the
                    // same grant, for what is left of the lease.
                    let lease = end.saturating_since(ctx.local_now());
                    return ctx.send(from, LockMsg::Granted { call, token, lease });
                }
                match self.waiting.iter_mut().find(|(n, _)| *n == from) {
                    // Asked again (its first ask timed out): one place.
                    Some(w) => w.1 = call,
                    None => self.waiting.push_back((from, call)),
                }
                self.grant_next(ctx);
            }
            LockMsg::Release { token } => {
                let freed = self.free(ctx, token);
                self.count(ctx, if freed { RELEASES } else { STALE_RELEASES });
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        match payload {
            Rpc::LockTimer(LockTimer::LeaseEnd { token }) => {
                let freed = self.free(ctx, token);
                if freed {
                    self.count(ctx, EXPIRED);
                }
            }
            Rpc::LockTimer(LockTimer::GraceEnd) => {
                self.in_grace = false;
                self.grant_next(ctx);
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, _: SimTime) {
        self.holder = None;
        self.waiting.clear();
    }

    fn on_restart(&mut self, ctx: &mut Context<'_, Rpc>) {
        // A lease granted before the crash may still be running.
        self.in_grace = true;
        ctx.set_timer(self.lease, LockTimer::GraceEnd);
    }
}

/// Where a worker is in its round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Thinking, or between rounds.
    Idle,
    Acquiring,
    /// Holding `token` until `lease_end` by its clock; reading.
    Reading {
        token: u64,
        lease_end: SimTime,
    },
    /// Working on the value `base` it read.
    Working {
        token: u64,
        lease_end: SimTime,
        base: u64,
    },
    Writing {
        token: u64,
    },
}

/// How a worker behaves.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub lock: NodeId,
    pub storage: NodeId,
    /// The time between reading the counter and writing it back.
    pub work: Dist,
    /// The wait after a round before asking again.
    /// The pause between rounds (nanoseconds).
    pub think: Dist,
    /// How long it waits for an answer before starting its round again.
    pub timeout: SimDuration,
    /// Give up a write its own clock says comes after its lease.
    pub check_lease: bool,
}

/// A worker that takes the lock to increment the counter.
pub struct LockWorker {
    cfg: WorkerConfig,
    step: Step,
    /// The current request; answers to older ones are ignored.
    call: u64,
    /// Its asks for the lock since it last held it, with when each was
    /// sent by its clock: a lease is counted from the ask it answers,
    /// because the service started it no earlier than that.
    asks: Vec<(u64, SimTime)>,
    m: Option<[CounterId; 6]>,
}

const ACQUIRED: usize = 0;
const WRITES: usize = 1;
const DONE: usize = 2;
const FENCED: usize = 3;
const LAPSED: usize = 4;
const TIMEOUTS: usize = 5;

impl LockWorker {
    pub fn new(cfg: WorkerConfig) -> Self {
        LockWorker {
            cfg,
            step: Step::Idle,
            call: 0,
            asks: Vec::new(),
            m: None,
        }
    }

    /// The token it believes it holds the lock with, if any.
    pub fn token(&self) -> Option<u64> {
        match self.step {
            Step::Reading { token, .. } | Step::Working { token, .. } | Step::Writing { token } => {
                Some(token)
            }
            Step::Idle | Step::Acquiring => None,
        }
    }

    fn count(&self, ctx: &mut Context<'_, Rpc>, which: usize) {
        let m = self.m.expect("started");
        ctx.metrics().add(m[which], 1);
    }

    /// Sends a request that expects an answer, with its timeout.
    fn request(&mut self, ctx: &mut Context<'_, Rpc>, to: NodeId, msg: impl Fn(u64) -> LockMsg) {
        self.call += 1;
        let call = self.call;
        ctx.send(to, msg(call));
        ctx.set_timer(self.cfg.timeout, LockTimer::Timeout { call });
    }

    fn acquire(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.step = Step::Acquiring;
        let lock = self.cfg.lock;
        self.request(ctx, lock, |call| LockMsg::Acquire { call });
        self.asks.push((self.call, ctx.local_now()));
    }

    /// The round is over: think, then ask again.
    fn rest(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.step = Step::Idle;
        self.call += 1;
        let think = self.cfg.think.sample_duration(ctx.rng());
        ctx.set_timer(think, LockTimer::Next);
    }

    fn work_done(&mut self, ctx: &mut Context<'_, Rpc>) {
        let Step::Working {
            token,
            lease_end,
            base,
        } = self.step
        else {
            return;
        };
        if self.cfg.check_lease && ctx.local_now() >= lease_end {
            self.count(ctx, LAPSED);
            return self.rest(ctx);
        }
        self.step = Step::Writing { token };
        self.count(ctx, WRITES);
        let storage = self.cfg.storage;
        self.request(ctx, storage, |call| LockMsg::Write {
            call,
            token,
            base,
            value: base + 1,
        });
    }

    fn answer(&mut self, ctx: &mut Context<'_, Rpc>, msg: LockMsg) {
        match (msg, self.step) {
            (LockMsg::Granted { call, token, lease }, Step::Acquiring) => {
                self.count(ctx, ACQUIRED);
                // From the ask it answers (the grant may have waited out
                // a pause on the way in); an unknown ask: already over.
                let asked = self.asks.iter().find(|a| a.0 == call).map(|a| a.1);
                let lease_end = asked.map_or(ctx.local_now(), |at| at + lease);
                self.asks.clear();
                self.step = Step::Reading { token, lease_end };
                let storage = self.cfg.storage;
                self.request(ctx, storage, |call| LockMsg::Read { call, token });
            }
            (LockMsg::Value { value, .. }, Step::Reading { token, lease_end }) => {
                self.call += 1;
                let call = self.call;
                self.step = Step::Working {
                    token,
                    lease_end,
                    base: value,
                };
                let work = self.cfg.work.sample_duration(ctx.rng());
                ctx.set_timer(work, LockTimer::WorkDone { call });
            }
            (LockMsg::Written { .. }, Step::Writing { token }) => {
                self.count(ctx, DONE);
                ctx.send(self.cfg.lock, LockMsg::Release { token });
                self.rest(ctx);
            }
            // A grant it no longer waits for (its ask was answered twice,
            // or came back after it gave up): hand it back.
            (LockMsg::Granted { token, .. }, _) if self.token() != Some(token) => {
                ctx.send(self.cfg.lock, LockMsg::Release { token });
            }
            (LockMsg::Fenced { .. }, _) => {
                self.count(ctx, FENCED);
                self.rest(ctx);
            }
            _ => {}
        }
    }
}

impl Node<Rpc> for LockWorker {
    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.m = Some(counters(
            ctx,
            ["acquired", "writes", "done", "fenced", "lapsed", "timeouts"],
        ));
        self.acquire(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, _: NodeId, msg: Rpc) {
        let Rpc::Lock(msg) = msg else { return };
        let call = match &msg {
            LockMsg::Granted { call, .. }
            | LockMsg::Value { call, .. }
            | LockMsg::Written { call }
            | LockMsg::Fenced { call, .. } => *call,
            _ => return,
        };
        // Any grant is an answer to its asking (it asks again when an
        // answer is slow); other answers must be to its current request.
        if call == self.call || matches!(msg, LockMsg::Granted { .. }) {
            self.answer(ctx, msg);
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        match payload {
            Rpc::LockTimer(LockTimer::Next) => self.acquire(ctx),
            Rpc::LockTimer(LockTimer::WorkDone { call }) if call == self.call => {
                self.work_done(ctx)
            }
            Rpc::LockTimer(LockTimer::Timeout { call }) if call == self.call => {
                // Waiting in line is no failure: it only asks again, in
                // case its ask or the grant was lost.
                if self.step != Step::Acquiring {
                    self.count(ctx, TIMEOUTS);
                }
                self.acquire(ctx);
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, _: SimTime) {
        self.step = Step::Idle;
        self.asks.clear();
    }

    fn on_restart(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.acquire(ctx);
    }
}

/// The storage the workers change: one counter.
pub struct Storage {
    fencing: bool,
    value: u64,
    /// The newest token any request carried.
    newest: u64,
    m: Option<[CounterId; 5]>,
}

impl Storage {
    /// A storage that refuses old tokens if `fencing`.
    pub fn new(fencing: bool) -> Self {
        Storage {
            fencing,
            value: 0,
            newest: 0,
            m: None,
        }
    }

    /// The counter's value.
    pub fn value(&self) -> u64 {
        self.value
    }

    /// Whether a request with `token` is refused (and if not, notes it).
    fn refuses(&mut self, token: u64) -> bool {
        if self.fencing && token < self.newest {
            return true;
        }
        self.newest = self.newest.max(token);
        false
    }
}

impl Node<Rpc> for Storage {
    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.m = Some(counters(
            ctx,
            ["reads", "writes", "fenced", "lost_updates", "erased"],
        ));
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        let Rpc::Lock(msg) = msg else { return };
        let [reads, writes, fenced, lost, erased] = self.m.expect("started");
        let (call, token) = match msg {
            LockMsg::Read { call, token } | LockMsg::Write { call, token, .. } => (call, token),
            _ => return,
        };
        if self.refuses(token) {
            ctx.metrics().add(fenced, 1);
            let newest = self.newest;
            return ctx.send(from, LockMsg::Fenced { call, newest });
        }
        match msg {
            LockMsg::Read { .. } => {
                ctx.metrics().add(reads, 1);
                let value = self.value;
                ctx.send(from, LockMsg::Value { call, value });
            }
            LockMsg::Write { base, value, .. } => {
                // Computed from a value that has changed since: whatever
                // was written in between is overwritten.
                let stale = self.value != base;
                let overwritten = self.value.saturating_sub(base);
                self.value = value;
                let m = ctx.metrics();
                m.add(writes, 1);
                m.add(lost, u64::from(stale));
                m.add(erased, overwritten);
                ctx.send(from, LockMsg::Written { call });
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, _: &mut Context<'_, Rpc>, _: TimerId, _: Rpc) {}
}
