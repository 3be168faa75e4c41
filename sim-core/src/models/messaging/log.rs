//! A broker as a log: ordered partitions, a message's partition chosen by
//! its key, retention by age and by bytes; each consumer group reads at
//! its own cursors, commits offsets, and shares the partitions among its
//! members. When a member joins, or stops beating for the session
//! timeout, the group rebalances: every member stops, waits out the
//! pause, and is given its partitions; what was handed out but not
//! committed is handed out again.
//!
//! A member processes each partition in order, so a `Nack` at an offset
//! means everything before it is done. After `max_receives` failures the
//! message goes to the dead-letter queue and the partition moves on;
//! without it, one message that always fails holds its partition.

use super::broker::BrokerConfig;
use super::group::{Departure, Group};
use super::{BrokerMsg, Delivery, Envelope};
use crate::data::sharding::mix64;
use crate::engine::{Context, NodeId};
use crate::models::rpc::Rpc;
use crate::time::SimTime;
use std::collections::{BTreeMap, VecDeque};

struct Stored {
    msg: Envelope,
    appended: SimTime,
}

#[derive(Default)]
struct Partition {
    /// The offset of the oldest message kept.
    base: u64,
    entries: VecDeque<Stored>,
    bytes: u64,
}

impl Partition {
    fn end(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    fn get(&self, offset: u64) -> Option<&Stored> {
        let i = offset.checked_sub(self.base)?;
        self.entries.get(usize::try_from(i).ok()?)
    }
}

/// A group's place in one partition.
#[derive(Clone, Copy, Default)]
struct Cursor {
    /// Everything before is done.
    committed: u64,
    /// The next offset to hand out.
    fetched: u64,
    /// One past the highest offset ever handed out.
    max_fetched: u64,
    /// The offset that failed last and how many times.
    failures: (u64, u32),
}

/// A group's cursors and who has which partition.
#[derive(Default)]
pub(super) struct GroupLog {
    cursors: Vec<Cursor>,
    assignment: BTreeMap<NodeId, Vec<u32>>,
    rebalancing: bool,
    /// Fetches served: each starts at the next partition, so that no
    /// partition of a member is always served first.
    turn: usize,
}

pub(super) struct LogStore {
    /// Its topic's index in the broker, for its timers.
    topic: u32,
    parts: Vec<Partition>,
}

impl LogStore {
    pub fn new(topic: u32, partitions: u32) -> Self {
        LogStore {
            topic,
            parts: (0..partitions).map(|_| Partition::default()).collect(),
        }
    }

    pub fn held(&self) -> u64 {
        self.parts.iter().map(|p| p.entries.len() as u64).sum()
    }

    pub fn sizes(&self) -> Vec<u64> {
        self.parts.iter().map(|p| p.entries.len() as u64).collect()
    }

    /// Each partition's messages the slowest of `groups` has not
    /// finished.
    pub fn behind(&self, groups: &[Group]) -> Vec<u64> {
        (0..self.parts.len())
            .map(|p| {
                let end = self.parts[p].end();
                groups
                    .iter()
                    .map(|g| end.saturating_sub(g.log.cursors[p].committed))
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    /// A new group's cursors: at the oldest message kept.
    pub fn new_group(&self) -> GroupLog {
        let cursors = self
            .parts
            .iter()
            .map(|p| Cursor {
                committed: p.base,
                fetched: p.base,
                max_fetched: p.base,
                failures: (u64::MAX, 0),
            })
            .collect();
        GroupLog {
            cursors,
            ..GroupLog::default()
        }
    }

    pub fn append(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        groups: &mut [Group],
        cfg: &BrokerConfig,
        msg: Envelope,
    ) {
        let p = (mix64(msg.key) % self.parts.len() as u64) as usize;
        let part = &mut self.parts[p];
        part.bytes += u64::from(msg.bytes);
        part.entries.push_back(Stored {
            msg,
            appended: ctx.now(),
        });
        self.trim(ctx, groups, cfg, p);
    }

    /// Retention on every partition.
    pub fn trim_all(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        groups: &mut [Group],
        cfg: &BrokerConfig,
    ) {
        for p in 0..self.parts.len() {
            self.trim(ctx, groups, cfg, p);
        }
    }

    /// Removes partition `p`'s messages past retention; a group not yet
    /// done with one loses it (expired) and moves past it.
    fn trim(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        groups: &mut [Group],
        cfg: &BrokerConfig,
        p: usize,
    ) {
        let now = ctx.now();
        let part = &mut self.parts[p];
        loop {
            let Some(front) = part.entries.front() else {
                return;
            };
            let too_old = cfg
                .retention
                .is_some_and(|r| now.saturating_since(front.appended) > r);
            let too_big = cfg.retention_bytes.is_some_and(|b| part.bytes > b);
            if !(too_old || too_big) {
                return;
            }
            let gone = part.entries.pop_front().expect("front");
            part.bytes -= u64::from(gone.msg.bytes);
            let offset = part.base;
            part.base += 1;
            for g in groups.iter_mut() {
                let c = &mut g.log.cursors[p];
                if c.committed <= offset {
                    if offset >= c.max_fetched {
                        g.unread(ctx);
                    }
                    let c = &mut g.log.cursors[p];
                    c.committed = offset + 1;
                    c.fetched = c.fetched.max(offset + 1);
                    g.depart(ctx, gone.appended, Departure::Expired);
                }
            }
        }
    }

    /// Starts a rebalance of `g` (the `gi`-th group): every member stops;
    /// after the pause each is given its share of the partitions.
    pub fn rebalance(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        g: &mut Group,
        gi: usize,
        cfg: &BrokerConfig,
    ) {
        g.generation += 1;
        ctx.metrics().add(g.m.rebalances, 1);
        for c in &mut g.log.cursors {
            c.fetched = c.committed;
        }
        let members: Vec<NodeId> = g.members.keys().copied().collect();
        g.log.assignment = members.iter().map(|&m| (m, Vec::new())).collect();
        for p in 0..self.parts.len() {
            if let Some(m) = members.get(p % members.len().max(1)) {
                g.log.assignment.entry(*m).or_default().push(p as u32);
            }
        }
        g.log.rebalancing = true;
        for &m in &members {
            ctx.send(m, BrokerMsg::Rebalancing);
        }
        ctx.set_timer(
            cfg.rebalance_pause,
            BrokerMsg::RebalanceDone {
                topic: self.topic,
                group: gi as u32,
                generation: g.generation,
            },
        );
    }

    pub fn rebalance_done(&mut self, ctx: &mut Context<'_, Rpc>, g: &mut Group, generation: u64) {
        if generation != g.generation {
            return;
        }
        g.log.rebalancing = false;
        for (&m, parts) in &g.log.assignment {
            ctx.send(
                m,
                BrokerMsg::Assigned {
                    generation,
                    partitions: parts.clone(),
                },
            );
        }
    }

    /// After a restart: a rebalance under way waits its pause again.
    pub fn resume(&mut self, ctx: &mut Context<'_, Rpc>, groups: &mut [Group], cfg: &BrokerConfig) {
        for (gi, g) in groups.iter().enumerate() {
            if g.log.rebalancing {
                ctx.set_timer(
                    cfg.rebalance_pause,
                    BrokerMsg::RebalanceDone {
                        topic: self.topic,
                        group: gi as u32,
                        generation: g.generation,
                    },
                );
            }
        }
    }

    /// Members not heard from for the session timeout leave the group.
    pub fn drop_silent_members(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        g: &mut Group,
        gi: usize,
        cfg: &BrokerConfig,
    ) {
        let now = ctx.now();
        let before = g.members.len();
        g.members
            .retain(|_, seen| now.saturating_since(*seen) <= cfg.session_timeout);
        if g.members.len() != before {
            self.rebalance(ctx, g, gi, cfg);
        }
    }

    /// Up to `max` messages for `member`, one partition after another.
    pub fn fetch(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        g: &mut Group,
        member: NodeId,
        max: u32,
    ) -> Vec<Delivery> {
        let mut out = Vec::new();
        if g.log.rebalancing {
            return out;
        }
        let Some(parts) = g.log.assignment.get(&member) else {
            return out;
        };
        let (mut delivered, mut again) = (0, 0);
        let mut progress = true;
        g.log.turn = g.log.turn.wrapping_add(1);
        let start = g.log.turn % parts.len().max(1);
        let order: Vec<u32> = parts[start..]
            .iter()
            .chain(&parts[..start])
            .copied()
            .collect();
        while out.len() < max as usize && progress {
            progress = false;
            for &p in &order {
                let (c, part) = (&mut g.log.cursors[p as usize], &self.parts[p as usize]);
                let Some(stored) = part.get(c.fetched) else {
                    continue;
                };
                let offset = c.fetched;
                let receives = if c.failures.0 == offset {
                    c.failures.1 + 1
                } else {
                    1
                };
                again += u64::from(offset < c.max_fetched);
                delivered += 1;
                c.fetched += 1;
                c.max_fetched = c.max_fetched.max(c.fetched);
                out.push(Delivery {
                    msg: stored.msg.clone(),
                    partition: p,
                    offset,
                    receives,
                });
                progress = true;
                if out.len() == max as usize {
                    break;
                }
            }
        }
        ctx.metrics().add(g.m.delivered, delivered);
        ctx.metrics().add(g.m.redelivered, again);
        out
    }

    /// Whether `member` may commit to `partition` in `generation`.
    fn owns(g: &Group, member: NodeId, generation: u64, partition: u32) -> bool {
        generation == g.generation
            && !g.log.rebalancing
            && g.log
                .assignment
                .get(&member)
                .is_some_and(|ps| ps.contains(&partition))
    }

    /// Moves `g`'s committed offset in `p` up to `to`, consuming what it
    /// passes.
    fn advance(&self, ctx: &mut Context<'_, Rpc>, g: &mut Group, p: usize, to: u64) {
        let part = &self.parts[p];
        let to = to.min(part.end());
        while g.log.cursors[p].committed < to {
            let at = g.log.cursors[p].committed;
            let appended = part.get(at).expect("not yet trimmed").appended;
            g.depart(ctx, appended, Departure::Consumed);
            g.log.cursors[p].committed += 1;
        }
        let c = &mut g.log.cursors[p];
        c.fetched = c.fetched.max(c.committed);
    }

    pub fn commit(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        g: &mut Group,
        member: NodeId,
        generation: u64,
        partition: u32,
        offset: u64,
    ) {
        if !Self::owns(g, member, generation, partition) {
            ctx.metrics().add(g.m.commits_refused, 1);
            return;
        }
        self.advance(ctx, g, partition as usize, offset);
    }

    /// Processing `offset` failed: hand it out again, or after
    /// `max_receives` failures send it to the dead-letter queue.
    pub fn nack(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        g: &mut Group,
        cfg: &BrokerConfig,
        member: NodeId,
        (generation, partition, offset): (u64, u32, u64),
    ) {
        if !Self::owns(g, member, generation, partition) {
            ctx.metrics().add(g.m.commits_refused, 1);
            return;
        }
        let p = partition as usize;
        // In order: everything before the failure is done.
        self.advance(ctx, g, p, offset);
        let c = &mut g.log.cursors[p];
        if c.committed > offset {
            // Already past it (trimmed, or a late nack).
            let next = c.committed;
            ctx.send(
                member,
                BrokerMsg::Rewound {
                    partition,
                    offset: next,
                },
            );
            return;
        }
        c.failures = match c.failures {
            (o, n) if o == offset => (o, n + 1),
            _ => (offset, 1),
        };
        let failures = c.failures.1;
        c.fetched = offset;
        if cfg.max_receives.is_some_and(|m| failures >= m) {
            let stored = self.parts[p].get(offset).expect("kept");
            g.dead_letter(ctx, &stored.msg, cfg);
            g.depart(ctx, stored.appended, Departure::DeadLettered);
            let c = &mut g.log.cursors[p];
            c.committed = offset + 1;
            c.fetched = offset + 1;
        }
        let next = g.log.cursors[p].fetched;
        ctx.send(
            member,
            BrokerMsg::Rewound {
                partition,
                offset: next,
            },
        );
    }

    /// The age in seconds of `g`'s oldest message not yet done.
    pub fn oldest_unfinished(&self, g: &Group, now: SimTime) -> f64 {
        self.parts
            .iter()
            .zip(&g.log.cursors)
            .filter_map(|(part, c)| part.get(c.committed))
            .map(|s| now.saturating_since(s.appended).as_nanos() as f64 / 1e9)
            .fold(0.0, f64::max)
    }
}
