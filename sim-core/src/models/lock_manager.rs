//! A lock manager for pessimistic read-modify-write: exclusive locks on
//! numbered resources, held by transactions, with a line of waiters per
//! resource, an optional lock timeout and optional deadlock detection.
//!
//! A transaction (a client's node and its own number) asks for one lock
//! at a time and waits for each answer, so it waits for at most one
//! resource at a time. The wait-for graph therefore has at most one edge
//! out of each transaction, and a deadlock is found by following the
//! chain from the holder of what the asker wants: if it comes back to the
//! asker, waiting would close a cycle, and the asker is refused at once
//! as the deadlock's victim (it must release what it holds and start
//! again). Without detection, a waiter waits until the lock is released
//! or its lock timeout passes; without either, a deadlock lasts forever.
//!
//! Metrics, prefixed with the manager's name: `grants`, `waits`,
//! `timeouts` (waiters refused after the lock timeout), `deadlocks`
//! (askers refused because waiting would close a cycle), and the
//! histogram `wait_ns` (how long each granted lock was waited for).

use super::rpc::Rpc;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, HistogramId};
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};

/// What a lock manager and its clients say to each other.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum LockMgrMsg {
    /// Transaction `txn` of the sender asks for `resource`.
    Lock { call: u64, txn: u64, resource: u64 },
    /// The lock asked for by `call` is granted.
    Locked { call: u64 },
    /// Refused: waiting would close a cycle (`deadlock`), or the lock
    /// timeout passed.
    Refused { call: u64, deadlock: bool },
    /// Transaction `txn` of the sender releases every lock it holds and
    /// stops waiting.
    Unlock { txn: u64 },
    /// The manager's timer: waiter `waiter` has waited too long.
    WaitExpired { waiter: u64 },
}

/// A transaction: its client and its number there.
type Txn = (NodeId, u64);

struct Waiter {
    id: u64,
    txn: Txn,
    call: u64,
    since: SimTime,
    timer: Option<TimerId>,
}

struct Metrics {
    grants: CounterId,
    waits: CounterId,
    timeouts: CounterId,
    deadlocks: CounterId,
    wait: HistogramId,
}

pub struct LockManager {
    timeout: Option<SimDuration>,
    detect: bool,
    owners: BTreeMap<u64, Txn>,
    lines: BTreeMap<u64, VecDeque<Waiter>>,
    /// What each waiting transaction waits for.
    waiting_for: BTreeMap<Txn, u64>,
    held: BTreeMap<Txn, Vec<u64>>,
    next_waiter: u64,
    m: Option<Metrics>,
}

impl LockManager {
    pub fn new(timeout: Option<SimDuration>, detect: bool) -> Self {
        LockManager {
            timeout,
            detect,
            owners: BTreeMap::new(),
            lines: BTreeMap::new(),
            waiting_for: BTreeMap::new(),
            held: BTreeMap::new(),
            next_waiter: 0,
            m: None,
        }
    }

    /// Locks held now.
    pub fn held(&self) -> usize {
        self.owners.len()
    }

    fn metrics(&self) -> &Metrics {
        self.m.as_ref().expect("started")
    }

    fn grant(&mut self, ctx: &mut Context<'_, Rpc>, txn: Txn, call: u64, resource: u64) {
        self.owners.insert(resource, txn);
        self.held.entry(txn).or_default().push(resource);
        let grants = self.metrics().grants;
        ctx.metrics().add(grants, 1);
        ctx.send(txn.0, LockMgrMsg::Locked { call });
    }

    /// Would `txn` waiting for `resource` close a cycle of waits?
    fn closes_cycle(&self, txn: Txn, resource: u64) -> bool {
        let mut holder = self.owners.get(&resource).copied();
        // Each step follows one waiting transaction: at most all of them.
        for _ in 0..=self.waiting_for.len() {
            match holder {
                Some(h) if h == txn => return true,
                Some(h) => {
                    holder = self
                        .waiting_for
                        .get(&h)
                        .and_then(|r| self.owners.get(r).copied());
                }
                None => return false,
            }
        }
        false
    }

    fn lock(&mut self, ctx: &mut Context<'_, Rpc>, txn: Txn, call: u64, resource: u64) {
        match self.owners.get(&resource) {
            None => return self.grant(ctx, txn, call, resource),
            Some(&owner) if owner == txn => {
                ctx.send(txn.0, LockMgrMsg::Locked { call });
                return;
            }
            Some(_) => {}
        }
        if self.detect && self.closes_cycle(txn, resource) {
            let d = self.metrics().deadlocks;
            ctx.metrics().add(d, 1);
            ctx.note(&format_args!("deadlock: refused a lock on {resource}"));
            ctx.send(
                txn.0,
                LockMgrMsg::Refused {
                    call,
                    deadlock: true,
                },
            );
            return;
        }
        let id = self.next_waiter;
        self.next_waiter += 1;
        let timer = self
            .timeout
            .map(|t| ctx.set_timer(t, LockMgrMsg::WaitExpired { waiter: id }));
        let since = ctx.now();
        self.lines.entry(resource).or_default().push_back(Waiter {
            id,
            txn,
            call,
            since,
            timer,
        });
        self.waiting_for.insert(txn, resource);
        let w = self.metrics().waits;
        ctx.metrics().add(w, 1);
    }

    /// Takes `txn` out of every line (it gave up, or released).
    fn stop_waiting(&mut self, ctx: &mut Context<'_, Rpc>, txn: Txn) -> Option<Waiter> {
        let resource = self.waiting_for.remove(&txn)?;
        let line = self.lines.get_mut(&resource)?;
        let at = line.iter().position(|w| w.txn == txn)?;
        let w = line.remove(at)?;
        if let Some(t) = w.timer {
            ctx.cancel_timer(t);
        }
        Some(w)
    }

    fn unlock(&mut self, ctx: &mut Context<'_, Rpc>, txn: Txn) {
        let _ = self.stop_waiting(ctx, txn);
        for resource in self.held.remove(&txn).unwrap_or_default() {
            self.owners.remove(&resource);
            let next = self.lines.get_mut(&resource).and_then(VecDeque::pop_front);
            if let Some(w) = next {
                if let Some(t) = w.timer {
                    ctx.cancel_timer(t);
                }
                self.waiting_for.remove(&w.txn);
                let (wait, waited) = (self.metrics().wait, ctx.now().saturating_since(w.since));
                ctx.metrics().record(wait, waited.as_nanos());
                self.grant(ctx, w.txn, w.call, resource);
            }
        }
    }

    fn expired(&mut self, ctx: &mut Context<'_, Rpc>, waiter: u64) {
        let found = self
            .lines
            .values()
            .flat_map(|l| l.iter())
            .find(|w| w.id == waiter)
            .map(|w| w.txn);
        let Some(txn) = found else { return };
        if let Some(w) = self.stop_waiting(ctx, txn) {
            let t = self.metrics().timeouts;
            ctx.metrics().add(t, 1);
            ctx.send(
                txn.0,
                LockMgrMsg::Refused {
                    call: w.call,
                    deadlock: false,
                },
            );
        }
    }
}

impl Node<Rpc> for LockManager {
    fn footprint(&self) -> u64 {
        (self.owners.len() + self.waiting_for.len()) as u64 * super::ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let m = ctx.metrics();
        let mut c = |what: &str| m.counter(&format!("{name}.{what}"));
        self.m = Some(Metrics {
            grants: c("grants"),
            waits: c("waits"),
            timeouts: c("timeouts"),
            deadlocks: c("deadlocks"),
            wait: m.histogram(&format!("{name}.wait_ns")),
        });
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        match msg {
            Rpc::LockMgr(LockMgrMsg::Lock {
                call,
                txn,
                resource,
            }) => self.lock(ctx, (from, txn), call, resource),
            Rpc::LockMgr(LockMgrMsg::Unlock { txn }) => self.unlock(ctx, (from, txn)),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        if let Rpc::LockMgr(LockMgrMsg::WaitExpired { waiter }) = payload {
            self.expired(ctx, waiter);
        }
    }

    fn on_crash(&mut self, _now: SimTime) {
        // Locks live in memory: a crash forgets them all.
        self.owners.clear();
        self.lines.clear();
        self.waiting_for.clear();
        self.held.clear();
    }
}
