//! A coordinator: transactions begun at random times (open loop), each
//! across every participant in order.
//!
//! As a saga, it asks each participant in turn to do its step; when one
//! refuses, it undoes the steps already done, last first (with
//! `compensate`), or stops there, leaving them done: half a transaction.
//! Its sagas live in memory: a crash cuts them off where they are.
//!
//! By two-phase commit, it asks every participant to prepare; all yes, it
//! decides commit, any no, abort, writes the decision to its log and
//! sends it. The log is durable: after a crash it sends again every
//! decision not yet acknowledged, and aborts every transaction it had not
//! decided (presumed abort). Until then, the prepared participants wait,
//! holding their locks.
//!
//! Metrics under its name: `started`, `committed`, `aborted`, and the
//! histogram `latency_ns` (begun to ended); `half_done` is counted after
//! the run (`scenario/messaging.rs`).

use super::{Protocol, TxnMsg};
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, HistogramId};
use crate::models::rpc::Rpc;
use crate::time::SimTime;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct CoordinatorConfig {
    pub participants: Vec<NodeId>,
    pub interarrival: Dist,
    pub protocol: Protocol,
    /// A saga undoes its done steps when a later one is refused.
    pub compensate: bool,
    /// Stop after this many transactions.
    pub transactions: Option<u64>,
}

/// A transaction under way.
struct Txn {
    started: SimTime,
    /// A saga: the participant asked now. Two-phase: votes or
    /// acknowledgements received.
    step: usize,
    compensating: bool,
    /// Two-phase: the decision, once made.
    decision: Option<bool>,
}

struct Metrics {
    started: CounterId,
    committed: CounterId,
    aborted: CounterId,
    latency: HistogramId,
}

pub struct Coordinator {
    cfg: CoordinatorConfig,
    made: u64,
    txns: BTreeMap<u64, Txn>,
    /// Two-phase: the durable log, each transaction begun and not ended,
    /// with its start and its decision once made.
    log: BTreeMap<u64, (SimTime, Option<bool>)>,
    /// Every transaction that ended, for the half-done check.
    ended: Vec<u64>,
    m: Option<Metrics>,
}

impl Coordinator {
    pub fn new(cfg: CoordinatorConfig) -> Self {
        Coordinator {
            cfg,
            made: 0,
            txns: BTreeMap::new(),
            log: BTreeMap::new(),
            ended: Vec::new(),
            m: None,
        }
    }

    pub fn participants(&self) -> &[NodeId] {
        &self.cfg.participants
    }

    /// The transactions that ended (committed, aborted, or stopped half
    /// way), in the order they did.
    pub fn ended(&self) -> &[u64] {
        &self.ended
    }

    fn metrics(&self) -> &Metrics {
        self.m.as_ref().expect("started")
    }

    fn begin(&mut self, ctx: &mut Context<'_, Rpc>) {
        if self.cfg.transactions.is_some_and(|n| self.made >= n) {
            return;
        }
        self.made += 1;
        let txn = ((ctx.id().index() as u64 + 1) << 40) | self.made;
        let s = self.metrics().started;
        ctx.metrics().add(s, 1);
        let now = ctx.now();
        self.txns.insert(
            txn,
            Txn {
                started: now,
                step: 0,
                compensating: false,
                decision: None,
            },
        );
        match self.cfg.protocol {
            Protocol::Saga => ctx.send(self.cfg.participants[0], TxnMsg::Do { txn }),
            Protocol::TwoPhase => {
                self.log.insert(txn, (now, None));
                for &p in &self.cfg.participants {
                    ctx.send(p, TxnMsg::Prepare { txn });
                }
            }
        }
        let wait = self.cfg.interarrival.sample_duration(ctx.rng());
        ctx.set_timer(wait, TxnMsg::Begin);
    }

    fn end(&mut self, ctx: &mut Context<'_, Rpc>, txn: u64, committed: bool) {
        let Some(t) = self.txns.remove(&txn) else {
            return;
        };
        self.log.remove(&txn);
        self.ended.push(txn);
        let m = self.metrics();
        let (outcome, latency) = (if committed { m.committed } else { m.aborted }, m.latency);
        let took = ctx.now().saturating_since(t.started).as_nanos();
        ctx.metrics().add(outcome, 1);
        ctx.metrics().record(latency, took);
    }

    /// A saga's step answered.
    fn done(&mut self, ctx: &mut Context<'_, Rpc>, txn: u64, ok: bool) {
        let (n, compensate) = (self.cfg.participants.len(), self.cfg.compensate);
        let Some(t) = self.txns.get_mut(&txn) else {
            return;
        };
        if ok {
            t.step += 1;
            if t.step == n {
                return self.end(ctx, txn, true);
            }
            let next = self.cfg.participants[t.step];
            return ctx.send(next, TxnMsg::Do { txn });
        }
        if !compensate || t.step == 0 {
            // Without compensations, the steps before stay done.
            return self.end(ctx, txn, false);
        }
        t.compensating = true;
        t.step -= 1;
        let back = self.cfg.participants[t.step];
        ctx.send(back, TxnMsg::Undo { txn });
    }

    /// A saga's compensation answered: undo the one before, or end.
    fn undone(&mut self, ctx: &mut Context<'_, Rpc>, txn: u64) {
        let Some(t) = self.txns.get_mut(&txn).filter(|t| t.compensating) else {
            return;
        };
        if t.step == 0 {
            return self.end(ctx, txn, false);
        }
        t.step -= 1;
        let back = self.cfg.participants[t.step];
        ctx.send(back, TxnMsg::Undo { txn });
    }

    fn decide(&mut self, ctx: &mut Context<'_, Rpc>, txn: u64, commit: bool) {
        if let Some(entry) = self.log.get_mut(&txn) {
            entry.1 = Some(commit);
        }
        if let Some(t) = self.txns.get_mut(&txn) {
            t.decision = Some(commit);
            t.step = 0;
        }
        for &p in &self.cfg.participants {
            let msg = if commit {
                TxnMsg::Commit { txn }
            } else {
                TxnMsg::Abort { txn }
            };
            ctx.send(p, msg);
        }
    }

    fn vote(&mut self, ctx: &mut Context<'_, Rpc>, txn: u64, yes: bool) {
        let n = self.cfg.participants.len();
        let Some(t) = self.txns.get_mut(&txn).filter(|t| t.decision.is_none()) else {
            return;
        };
        t.step += 1;
        if !yes {
            self.decide(ctx, txn, false);
        } else if t.step == n {
            self.decide(ctx, txn, true);
        }
    }

    fn finished(&mut self, ctx: &mut Context<'_, Rpc>, txn: u64) {
        let n = self.cfg.participants.len();
        let Some(t) = self.txns.get_mut(&txn) else {
            return;
        };
        let Some(decision) = t.decision else { return };
        t.step += 1;
        if t.step == n {
            self.end(ctx, txn, decision);
        }
    }
}

impl Node<Rpc> for Coordinator {
    fn footprint(&self) -> u64 {
        (self.txns.len() + self.log.len() + self.ended.len()) as u64 * crate::models::ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let m = ctx.metrics();
        let c = |m: &mut crate::metrics::Metrics, what: &str| m.counter(&format!("{name}.{what}"));
        self.m = Some(Metrics {
            started: c(m, "started"),
            committed: c(m, "committed"),
            aborted: c(m, "aborted"),
            latency: m.histogram(&format!("{name}.latency_ns")),
        });
        c(m, "half_done");
        let wait = self.cfg.interarrival.sample_duration(ctx.rng());
        ctx.set_timer(wait, TxnMsg::Begin);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, _: NodeId, msg: Rpc) {
        let Rpc::Txn(msg) = msg else { return };
        match msg {
            TxnMsg::Done { txn, ok } => self.done(ctx, txn, ok),
            TxnMsg::Undone { txn } => self.undone(ctx, txn),
            TxnMsg::Vote { txn, yes } => self.vote(ctx, txn, yes),
            TxnMsg::Finished { txn } => self.finished(ctx, txn),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        if let Rpc::Txn(TxnMsg::Begin) = payload {
            self.begin(ctx);
        }
    }

    fn on_crash(&mut self, _now: SimTime) {
        // Sagas in memory are cut off where they are: they end there.
        let cut: Vec<u64> = self
            .txns
            .keys()
            .copied()
            .filter(|t| !self.log.contains_key(t))
            .collect();
        self.ended.extend(cut);
        self.txns.clear();
    }

    fn on_restart(&mut self, ctx: &mut Context<'_, Rpc>) {
        // From the log: decided, send the decision again; undecided,
        // abort (presumed abort).
        let pending: Vec<(u64, SimTime, Option<bool>)> =
            self.log.iter().map(|(&t, &(s, d))| (t, s, d)).collect();
        for (txn, started, decision) in pending {
            self.txns.insert(
                txn,
                Txn {
                    started,
                    step: 0,
                    compensating: false,
                    decision: None,
                },
            );
            self.decide(ctx, txn, decision.unwrap_or(false));
        }
        let wait = self.cfg.interarrival.sample_duration(ctx.rng());
        ctx.set_timer(wait, TxnMsg::Begin);
    }
}
