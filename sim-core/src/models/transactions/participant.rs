//! A participant: one service's part of every transaction (a seat, a
//! room, a charge). A saga's step is a local transaction: done (or
//! refused) after its work, undone by a compensation. Under two-phase
//! commit, a prepare takes the participant's one lock and holds it until
//! the decision: a second transaction's prepare waits in line behind it.
//!
//! Metrics under its name: `applied`, `refused`, `compensated`, and the
//! histograms `lock_wait_ns` (a prepare's wait for the lock) and
//! `held_ns` (prepared to decided: how long the lock was held). Its data
//! and its prepared state are durable; a crash loses only work under way.

use super::TxnMsg;
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, HistogramId};
use crate::models::rpc::Rpc;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Clone, Debug)]
pub struct ParticipantConfig {
    /// How long a step or a prepare takes.
    pub work: Dist,
    /// The chance that a step or a prepare is refused.
    pub failure: f64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Work {
    Do,
    Undo,
    Prepare,
}

struct Metrics {
    applied: CounterId,
    refused: CounterId,
    compensated: CounterId,
    lock_wait: HistogramId,
    held: HistogramId,
}

pub struct Participant {
    cfg: ParticipantConfig,
    applied: BTreeSet<u64>,
    working: BTreeMap<u64, (NodeId, Work)>,
    /// Two-phase commit: who holds the lock, since when.
    holder: Option<(u64, SimTime)>,
    line: VecDeque<(NodeId, u64, SimTime)>,
    m: Option<Metrics>,
}

impl Participant {
    pub fn new(cfg: ParticipantConfig) -> Self {
        Participant {
            cfg,
            applied: BTreeSet::new(),
            working: BTreeMap::new(),
            holder: None,
            line: VecDeque::new(),
            m: None,
        }
    }

    /// Whether transaction `txn` is applied here (done and not undone).
    pub fn has_applied(&self, txn: u64) -> bool {
        self.applied.contains(&txn)
    }

    fn metrics(&self) -> &Metrics {
        self.m.as_ref().expect("started")
    }

    fn start(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, txn: u64, work: Work) {
        self.working.insert(txn, (from, work));
        let wait = self.cfg.work.sample_duration(ctx.rng());
        ctx.set_timer(wait, TxnMsg::Worked { txn });
    }

    fn refuses(&self, ctx: &mut Context<'_, Rpc>) -> bool {
        self.cfg.failure > 0.0 && ctx.rng().chance(self.cfg.failure)
    }

    fn worked(&mut self, ctx: &mut Context<'_, Rpc>, txn: u64) {
        let Some((from, work)) = self.working.remove(&txn) else {
            return;
        };
        let m = self.metrics();
        let (applied, refused, compensated) = (m.applied, m.refused, m.compensated);
        match work {
            Work::Do => {
                let ok = !self.refuses(ctx);
                if ok {
                    self.applied.insert(txn);
                }
                ctx.metrics().add(if ok { applied } else { refused }, 1);
                ctx.send(from, TxnMsg::Done { txn, ok });
            }
            Work::Undo => {
                if self.applied.remove(&txn) {
                    ctx.metrics().add(compensated, 1);
                }
                ctx.send(from, TxnMsg::Undone { txn });
            }
            Work::Prepare => {
                let yes = !self.refuses(ctx);
                if !yes {
                    ctx.metrics().add(refused, 1);
                    self.release(ctx, txn);
                }
                ctx.send(from, TxnMsg::Vote { txn, yes });
            }
        }
    }

    fn prepare(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, txn: u64) {
        if self.holder.is_none() {
            self.holder = Some((txn, ctx.now()));
            self.start(ctx, from, txn, Work::Prepare);
        } else {
            self.line.push_back((from, txn, ctx.now()));
        }
    }

    /// `txn` lets go of the lock (if it has it); the next in line takes it.
    fn release(&mut self, ctx: &mut Context<'_, Rpc>, txn: u64) {
        if self.holder.is_none_or(|(t, _)| t != txn) {
            return;
        }
        let (_, since) = self.holder.take().expect("held");
        let (held, wait, now) = (self.metrics().held, self.metrics().lock_wait, ctx.now());
        ctx.metrics()
            .record(held, now.saturating_since(since).as_nanos());
        if let Some((from, next, asked)) = self.line.pop_front() {
            ctx.metrics()
                .record(wait, now.saturating_since(asked).as_nanos());
            self.holder = Some((next, now));
            self.start(ctx, from, next, Work::Prepare);
        }
    }

    fn decided(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, txn: u64, commit: bool) {
        if commit && self.holder.is_some_and(|(t, _)| t == txn) && !self.working.contains_key(&txn)
        {
            self.applied.insert(txn);
            let a = self.metrics().applied;
            ctx.metrics().add(a, 1);
        }
        // Waiting in line, or still preparing: it will not be needed.
        self.line.retain(|&(_, t, _)| t != txn);
        self.working.remove(&txn);
        self.release(ctx, txn);
        ctx.send(from, TxnMsg::Finished { txn });
    }
}

impl Node<Rpc> for Participant {
    fn footprint(&self) -> u64 {
        (self.applied.len() + self.working.len() + self.line.len()) as u64
            * crate::models::ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let m = ctx.metrics();
        let c = |m: &mut crate::metrics::Metrics, what: &str| m.counter(&format!("{name}.{what}"));
        self.m = Some(Metrics {
            applied: c(m, "applied"),
            refused: c(m, "refused"),
            compensated: c(m, "compensated"),
            lock_wait: m.histogram(&format!("{name}.lock_wait_ns")),
            held: m.histogram(&format!("{name}.held_ns")),
        });
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        let Rpc::Txn(msg) = msg else { return };
        match msg {
            TxnMsg::Do { txn } => self.start(ctx, from, txn, Work::Do),
            TxnMsg::Undo { txn } => self.start(ctx, from, txn, Work::Undo),
            TxnMsg::Prepare { txn } => self.prepare(ctx, from, txn),
            TxnMsg::Commit { txn } => self.decided(ctx, from, txn, true),
            TxnMsg::Abort { txn } => self.decided(ctx, from, txn, false),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        if let Rpc::Txn(TxnMsg::Worked { txn }) = payload {
            self.worked(ctx, txn);
        }
    }

    fn on_crash(&mut self, _now: SimTime) {
        self.working.clear();
    }

    fn on_restart(&mut self, _ctx: &mut Context<'_, Rpc>) {
        // Its data, its lock and its line are on disk: nothing to redo.
    }
}
