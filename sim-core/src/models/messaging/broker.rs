//! The broker node: producers' batches in (deduplicated when the producer
//! is idempotent, refused, blocked or shed when a bounded queue is full),
//! consumers' fetches, commits and deletes, and the periodic work
//! (retention, consumers that stopped beating, lag in seconds). Each
//! batch names its topic and each group reads one; the topics share the
//! broker's settings, its metrics and its idempotence table.
//!
//! Metrics under the broker's name: `appended`, `deduplicated` (copies of
//! a batch an idempotent producer sent again), `refused` and `shed`
//! (messages a full queue turned away or dropped), `blocked` (batches
//! refused with "stop sending"), and the gauge `held`. Under each
//! consumer group's name: the gauges `lag` (messages stored that the group
//! has not finished) and `lag_s` (the age of its oldest), the histogram
//! `lag_ns` (how long each message was in the group's lag, whatever ended
//! it), and the counters `delivered`, `redelivered`, `consumed`,
//! `dead_lettered`, `expired` (removed by retention before the group
//! committed past it), `expired_unread` (of those, the ones never handed
//! to any member: nobody read them), `rebalances` and `commits_refused` (a commit or delete
//! that came too late: from an older generation, or after the message
//! was handed out again). With `dead_letter`, a message that failed too
//! often is sent on to that broker's topic (perhaps another topic of this
//! one), where a consumer can read it.

use super::topic::Topic;
use super::{BrokerMsg, Envelope, Mode, Overflow};
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, GaugeId};
use crate::models::rpc::Rpc;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};

/// How many of a producer's newest batch numbers an idempotent broker
/// remembers; a retry comes long before this many newer batches.
const REMEMBERED_BATCHES: u64 = 4096;

#[derive(Clone, Debug)]
pub struct BrokerConfig {
    pub mode: Mode,
    /// Its topics' names, at least one ("" when the scenario names none).
    pub topics: Vec<String>,
    /// Each topic's partitions.
    pub partitions: u32,
    /// Messages older than this are removed.
    pub retention: Option<SimDuration>,
    /// A partition (or a topic's queue) keeps at most this many bytes.
    pub retention_bytes: Option<u64>,
    /// A topic's queue holds at most this many messages.
    pub capacity: Option<u64>,
    pub overflow: Overflow,
    pub visibility: SimDuration,
    /// After this many receives, a message goes to the dead-letter queue.
    pub max_receives: Option<u32>,
    pub rebalance_pause: SimDuration,
    pub session_timeout: SimDuration,
    /// The consumer groups known from the start, each with the index of
    /// the topic it reads, so their metrics exist even before anyone
    /// joins.
    pub groups: Vec<(String, u32)>,
    /// Keep every stored message's id, for the check of a producer's
    /// writes against its events.
    pub keep_ids: bool,
    /// The broker and topic that dead-lettered messages are sent to
    /// (without it, they are only counted).
    pub dead_letter: Option<(NodeId, u32)>,
}

pub(super) struct Metrics {
    pub appended: CounterId,
    pub deduplicated: CounterId,
    pub refused: CounterId,
    pub shed: CounterId,
    pub blocked: CounterId,
    pub held: GaugeId,
}

/// What the web app draws of one topic.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicView {
    pub name: String,
    /// Each partition's stored messages (a queue is one partition).
    pub sizes: Vec<u64>,
    /// Of those, the ones the slowest group has not finished.
    pub behind: Vec<u64>,
    /// Each group's name and lag in messages.
    pub lags: Vec<(String, u64)>,
}

pub struct Broker {
    cfg: BrokerConfig,
    topics: Vec<Topic>,
    /// Each member's topic and group there.
    member_group: BTreeMap<NodeId, (usize, usize)>,
    /// An idempotent producer's batches already stored.
    seen: BTreeMap<NodeId, BTreeSet<u64>>,
    /// Every message id stored, with `keep_ids`.
    ids: Vec<u64>,
    m: Option<Metrics>,
}

impl Broker {
    pub fn new(cfg: BrokerConfig) -> Self {
        let topics = cfg
            .topics
            .iter()
            .enumerate()
            .map(|(i, name)| Topic::new(i as u32, name, &cfg))
            .collect();
        Broker {
            cfg,
            topics,
            member_group: BTreeMap::new(),
            seen: BTreeMap::new(),
            ids: Vec::new(),
            m: None,
        }
    }

    /// Messages stored now, in all its topics.
    pub fn held(&self) -> u64 {
        self.topics.iter().map(Topic::held).sum()
    }

    /// Each topic's partitions and groups, for drawing.
    pub fn topics(&self) -> Vec<TopicView> {
        self.topics
            .iter()
            .map(|t| TopicView {
                name: t.name.clone(),
                sizes: t.sizes(),
                behind: t.behind(),
                lags: t.groups.iter().map(|g| (g.name.clone(), g.lag)).collect(),
            })
            .collect()
    }

    /// Every message id it stored (with `keep_ids`), a copy each time.
    pub fn stored_ids(&self) -> &[u64] {
        &self.ids
    }

    fn metrics(&self) -> &Metrics {
        self.m.as_ref().expect("started")
    }

    fn set_held(&self, ctx: &mut Context<'_, Rpc>) {
        let (held, stored) = (self.metrics().held, self.held() as f64);
        let now = ctx.now();
        ctx.metrics().set(held, now, stored);
    }

    /// The topic and index of group `name`, added (to the first topic,
    /// if the scenario did not say) when new.
    fn group_index(&mut self, ctx: &mut Context<'_, Rpc>, name: &str) -> (usize, usize) {
        for (ti, t) in self.topics.iter().enumerate() {
            if let Some(gi) = t.groups.iter().position(|g| g.name == name) {
                return (ti, gi);
            }
        }
        let ti = self
            .cfg
            .groups
            .iter()
            .find(|(g, _)| g == name)
            .map_or(0, |&(_, t)| t as usize);
        (ti, self.topics[ti].add_group(ctx, name))
    }

    fn produce(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        from: NodeId,
        (topic, batch): (u32, u64),
        msgs: Vec<Envelope>,
        idempotent: bool,
    ) {
        let Some(t) = self.topics.get_mut(topic as usize) else {
            return;
        };
        let n = msgs.len() as u64;
        let m = self.m.as_ref().expect("started");
        if idempotent && self.seen.get(&from).is_some_and(|s| s.contains(&batch)) {
            ctx.metrics().add(m.deduplicated, n);
            ctx.send(from, BrokerMsg::Acked { batch });
            return;
        }
        if !t.make_room(ctx, (&self.cfg, m), from, batch, n) {
            return;
        }
        if self.cfg.keep_ids {
            self.ids.extend(msgs.iter().map(|m| m.id));
        }
        t.append(ctx, &self.cfg, msgs);
        if idempotent {
            let seen = self.seen.entry(from).or_default();
            seen.insert(batch);
            while seen
                .first()
                .is_some_and(|&b| b + REMEMBERED_BATCHES < batch)
            {
                seen.pop_first();
            }
        }
        let appended = self.metrics().appended;
        ctx.metrics().add(appended, n);
        self.set_held(ctx);
        ctx.send(from, BrokerMsg::Acked { batch });
    }

    fn join(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, name: &str) {
        let (ti, gi) = self.group_index(ctx, name);
        self.member_group.insert(from, (ti, gi));
        self.topics[ti].join(ctx, &self.cfg, from, gi);
    }

    /// The topic and group of a consumer heard from now; one the broker
    /// does not know as a member is told to join again.
    fn member(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId) -> Option<(usize, usize)> {
        let now = ctx.now();
        let found = self.member_group.get(&from).copied().filter(|&(ti, gi)| {
            self.topics[ti].groups[gi]
                .members
                .get_mut(&from)
                .map(|seen| *seen = now)
                .is_some()
        });
        if found.is_none() {
            ctx.send(from, BrokerMsg::Rejoin);
        }
        found
    }

    fn fetch(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, generation: u64, max: u32) {
        let Some((ti, gi)) = self.member(ctx, from) else {
            return;
        };
        let t = &mut self.topics[ti];
        let deliveries = t.fetch(ctx, &self.cfg, (gi, from), generation, max);
        let generation = t.groups[gi].generation;
        ctx.send(
            from,
            BrokerMsg::Delivered {
                generation,
                deliveries,
            },
        );
    }

    fn on_consumer(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: BrokerMsg) {
        let Some((ti, gi)) = self.member(ctx, from) else {
            return;
        };
        if self.topics[ti].on_consumer(ctx, &self.cfg, (gi, from), msg) {
            self.set_held(ctx);
        }
    }

    fn tick(&mut self, ctx: &mut Context<'_, Rpc>) {
        for t in &mut self.topics {
            t.tick(ctx, &self.cfg);
        }
        self.set_held(ctx);
        ctx.set_timer(self.tick_period(), BrokerMsg::Tick);
    }

    /// Retention and dead members are looked at this often.
    fn tick_period(&self) -> SimDuration {
        let mut p = SimDuration::from_secs(1);
        if let Some(r) = self.cfg.retention {
            p = p.min(SimDuration::from_nanos(r.as_nanos() / 10));
        }
        p.max(SimDuration::from_millis(10))
    }
}

impl Node<Rpc> for Broker {
    fn footprint(&self) -> u64 {
        let seen: usize = self.seen.values().map(BTreeSet::len).sum();
        (self.held() + seen as u64 + self.ids.len() as u64) * crate::models::ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let now = ctx.now();
        let m = ctx.metrics();
        let mut c = |what: &str| m.counter(&format!("{name}.{what}"));
        self.m = Some(Metrics {
            appended: c("appended"),
            deduplicated: c("deduplicated"),
            refused: c("refused"),
            shed: c("shed"),
            blocked: c("blocked"),
            held: m.gauge(&format!("{name}.held"), now),
        });
        for (g, _) in self.cfg.groups.clone() {
            self.group_index(ctx, &g);
        }
        ctx.set_timer(self.tick_period(), BrokerMsg::Tick);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        let Rpc::Broker(msg) = msg else { return };
        match msg {
            BrokerMsg::Produce {
                topic,
                batch,
                msgs,
                idempotent,
            } => self.produce(ctx, from, (topic, batch), msgs, idempotent),
            BrokerMsg::Join { group } => self.join(ctx, from, &group),
            BrokerMsg::Heartbeat => {
                let _ = self.member(ctx, from);
            }
            BrokerMsg::Fetch { generation, max } => self.fetch(ctx, from, generation, max),
            // What a dead-letter broker answers about what it was sent.
            BrokerMsg::Acked { .. } | BrokerMsg::Refused { .. } | BrokerMsg::Unblocked => {}
            other => self.on_consumer(ctx, from, other),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        let Rpc::Broker(msg) = payload else { return };
        match msg {
            BrokerMsg::Tick => self.tick(ctx),
            BrokerMsg::Visible { topic, receipt } => {
                if let Some(t) = self.topics.get_mut(topic as usize) {
                    t.visible(receipt);
                }
            }
            BrokerMsg::RebalanceDone {
                topic,
                group,
                generation,
            } => {
                if let Some(t) = self.topics.get_mut(topic as usize) {
                    t.rebalance_done(ctx, group as usize, generation);
                }
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, _now: SimTime) {
        // The broker's messages and offsets are on disk: a crash only
        // stops it answering until it restarts.
        self.topics.iter_mut().for_each(Topic::crash);
    }

    fn on_restart(&mut self, ctx: &mut Context<'_, Rpc>) {
        for t in &mut self.topics {
            t.restart(ctx, &self.cfg);
        }
        ctx.set_timer(self.tick_period(), BrokerMsg::Tick);
    }
}
