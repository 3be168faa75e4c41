//! One topic of a broker: its messages (a log's partitions or a queue's
//! line), the consumer groups that read it, and the producers a full
//! queue told to stop. A broker's topics share its settings and nothing
//! else: each has its own capacity, retention and groups.

use super::broker::{BrokerConfig, Metrics};
use super::group::{Departure, Group};
use super::log::{GroupLog, LogStore};
use super::queue::QueueStore;
use super::{BrokerMsg, Delivery, Envelope, Mode, Overflow};
use crate::engine::{Context, NodeId};
use crate::models::rpc::Rpc;
use std::collections::BTreeSet;

enum Store {
    Log(LogStore),
    Queue(QueueStore),
}

pub(super) struct Topic {
    pub name: String,
    index: u32,
    store: Store,
    pub groups: Vec<Group>,
    /// Producers told to stop sending.
    blocked: BTreeSet<NodeId>,
}

impl Topic {
    pub fn new(index: u32, name: &str, cfg: &BrokerConfig) -> Self {
        let store = match cfg.mode {
            Mode::Log => Store::Log(LogStore::new(index, cfg.partitions)),
            Mode::Queue => Store::Queue(QueueStore::new(index)),
        };
        Topic {
            name: name.to_string(),
            index,
            store,
            groups: Vec::new(),
            blocked: BTreeSet::new(),
        }
    }

    /// Messages stored now.
    pub fn held(&self) -> u64 {
        match &self.store {
            Store::Log(l) => l.held(),
            Store::Queue(q) => q.held(),
        }
    }

    /// Each partition's stored messages (a queue is one partition).
    pub fn sizes(&self) -> Vec<u64> {
        match &self.store {
            Store::Log(l) => l.sizes(),
            Store::Queue(q) => vec![q.held()],
        }
    }

    /// Each partition's messages the slowest group has not finished.
    pub fn behind(&self) -> Vec<u64> {
        match &self.store {
            Store::Log(l) => l.behind(&self.groups),
            Store::Queue(_) => vec![self.groups.iter().map(|g| g.lag).max().unwrap_or(0)],
        }
    }

    /// Adds group `name`: a group that joins late has everything kept
    /// before it to read.
    pub fn add_group(&mut self, ctx: &mut Context<'_, Rpc>, name: &str) -> usize {
        let log = match &self.store {
            Store::Log(l) => l.new_group(),
            Store::Queue(_) => GroupLog::default(),
        };
        let g = Group::new(ctx, name, self.index, self.held(), log);
        self.groups.push(g);
        self.groups.len() - 1
    }

    /// Stores `msgs`, each in every group's lag.
    pub fn append(&mut self, ctx: &mut Context<'_, Rpc>, cfg: &BrokerConfig, msgs: Vec<Envelope>) {
        let now = ctx.now();
        for msg in msgs {
            // In every group's lag first: a log's retention may take it
            // out again at once.
            for g in &mut self.groups {
                g.lag += 1;
            }
            match &mut self.store {
                Store::Log(l) => l.append(ctx, &mut self.groups, cfg, msg),
                Store::Queue(q) => q.append(msg, now),
            }
        }
        self.groups.iter().for_each(|g| g.set_lag(ctx));
    }

    /// Whether a batch of `n` fits (a bounded queue may refuse it, tell
    /// its producer to stop, or shed the oldest waiting messages).
    pub fn make_room(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        (cfg, m): (&BrokerConfig, &Metrics),
        from: NodeId,
        batch: u64,
        n: u64,
    ) -> bool {
        let (Some(cap), Store::Queue(q)) = (cfg.capacity, &mut self.store) else {
            return true;
        };
        if q.held() + n <= cap {
            return true;
        }
        let refuse = |ctx: &mut Context<'_, Rpc>, blocked: bool| {
            ctx.send(from, BrokerMsg::Refused { batch, blocked });
            false
        };
        match cfg.overflow {
            Overflow::Block => {
                self.blocked.insert(from);
                ctx.metrics().add(m.blocked, 1);
                refuse(ctx, true)
            }
            Overflow::Shed if q.ready_len() + cap >= q.held() + n => {
                let excess = q.held() + n - cap;
                ctx.metrics().add(m.shed, excess);
                for appended in q.shed(excess) {
                    for g in &mut self.groups {
                        g.depart(ctx, appended, Departure::Shed);
                    }
                }
                true
            }
            Overflow::Drop | Overflow::Shed => {
                ctx.metrics().add(m.refused, n);
                refuse(ctx, false)
            }
        }
    }

    /// Tells the blocked producers to go on once a bounded queue has room.
    pub fn unblock(&mut self, ctx: &mut Context<'_, Rpc>, cfg: &BrokerConfig) {
        let room = cfg.capacity.is_none_or(|c| self.held() < c);
        if room && !self.blocked.is_empty() {
            for p in std::mem::take(&mut self.blocked) {
                ctx.send(p, BrokerMsg::Unblocked);
            }
        }
    }

    /// `from` joins group `gi`: a log rebalances it, a queue hands out
    /// its one partition at once.
    pub fn join(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        cfg: &BrokerConfig,
        from: NodeId,
        gi: usize,
    ) {
        let now = ctx.now();
        self.groups[gi].members.insert(from, now);
        match &mut self.store {
            Store::Log(l) => l.rebalance(ctx, &mut self.groups[gi], gi, cfg),
            Store::Queue(_) => ctx.send(
                from,
                BrokerMsg::Assigned {
                    generation: 0,
                    partitions: vec![0],
                },
            ),
        }
    }

    /// Up to `max` messages for member `from` of group `gi`.
    pub fn fetch(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        cfg: &BrokerConfig,
        (gi, from): (usize, NodeId),
        generation: u64,
        max: u32,
    ) -> Vec<Delivery> {
        let g = &mut self.groups[gi];
        let deliveries = match &mut self.store {
            Store::Log(l) if generation == g.generation => l.fetch(ctx, g, from, max),
            Store::Log(_) => Vec::new(),
            Store::Queue(q) => q.fetch(ctx, g, cfg, max),
        };
        if matches!(self.store, Store::Queue(_)) {
            self.groups[gi].set_lag(ctx);
            self.unblock(ctx, cfg);
        }
        deliveries
    }

    /// A member's commit, nack or delete; whether it was one.
    pub fn on_consumer(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        cfg: &BrokerConfig,
        (gi, from): (usize, NodeId),
        msg: BrokerMsg,
    ) -> bool {
        let g = &mut self.groups[gi];
        match (&mut self.store, msg) {
            (
                Store::Log(l),
                BrokerMsg::CommitOffset {
                    generation,
                    partition,
                    offset,
                },
            ) => l.commit(ctx, g, from, generation, partition, offset),
            (
                Store::Log(l),
                BrokerMsg::Nack {
                    generation,
                    partition,
                    offset,
                },
            ) => l.nack(ctx, g, cfg, from, (generation, partition, offset)),
            (Store::Queue(q), BrokerMsg::Delete { receipt }) => q.delete(ctx, g, receipt),
            _ => return false,
        }
        g.set_lag(ctx);
        self.unblock(ctx, cfg);
        true
    }

    /// Retention, members gone silent, and each group's lag in seconds.
    pub fn tick(&mut self, ctx: &mut Context<'_, Rpc>, cfg: &BrokerConfig) {
        let now = ctx.now();
        match &mut self.store {
            Store::Log(l) => {
                l.trim_all(ctx, &mut self.groups, cfg);
                for gi in 0..self.groups.len() {
                    l.drop_silent_members(ctx, &mut self.groups[gi], gi, cfg);
                    let age = l.oldest_unfinished(&self.groups[gi], now);
                    self.groups[gi].set_age(ctx, age);
                }
            }
            Store::Queue(q) => {
                q.expire(ctx, &mut self.groups, cfg);
                let age = q.oldest(now);
                for g in &self.groups {
                    g.set_age(ctx, age);
                }
            }
        }
        self.groups.iter().for_each(|g| g.set_lag(ctx));
        self.unblock(ctx, cfg);
    }

    /// A queue's message received as `receipt` is visible again.
    pub fn visible(&mut self, receipt: u64) {
        if let Store::Queue(q) = &mut self.store {
            q.visible(receipt);
        }
    }

    /// A log's group `gi` ends its rebalance to `generation`.
    pub fn rebalance_done(&mut self, ctx: &mut Context<'_, Rpc>, gi: usize, generation: u64) {
        if let (Store::Log(l), Some(g)) = (&mut self.store, self.groups.get_mut(gi)) {
            l.rebalance_done(ctx, g, generation);
        }
    }

    /// Who was blocked is not kept across a crash.
    pub fn crash(&mut self) {
        self.blocked.clear();
    }

    /// After a restart: members get a session timeout from now, and the
    /// timers that died (hidden messages', rebalances') are set again.
    pub fn restart(&mut self, ctx: &mut Context<'_, Rpc>, cfg: &BrokerConfig) {
        let now = ctx.now();
        for g in &mut self.groups {
            g.members.values_mut().for_each(|seen| *seen = now);
        }
        match &mut self.store {
            Store::Queue(q) => q.rearm(ctx, cfg),
            Store::Log(l) => l.resume(ctx, &mut self.groups, cfg),
        }
    }
}
