//! The broker node: producers' batches in (deduplicated when the producer
//! is idempotent, refused, blocked or shed when a bounded queue is full),
//! consumers' fetches, commits and deletes, and the periodic work
//! (retention, consumers that stopped beating, lag in seconds).
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
//! often is sent on to that broker, where a consumer can read it.

use super::log::{GroupLog, LogStore};
use super::queue::QueueStore;
use super::{BrokerMsg, Envelope, Mode, Overflow};
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, GaugeId, HistogramId, SeriesId};
use crate::models::rpc::Rpc;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};

/// How many of a producer's newest batch numbers an idempotent broker
/// remembers; a retry comes long before this many newer batches.
const REMEMBERED_BATCHES: u64 = 4096;

#[derive(Clone, Debug)]
pub struct BrokerConfig {
    pub mode: Mode,
    pub partitions: u32,
    /// Messages older than this are removed.
    pub retention: Option<SimDuration>,
    /// A partition (or the queue) keeps at most this many bytes.
    pub retention_bytes: Option<u64>,
    /// A queue holds at most this many messages.
    pub capacity: Option<u64>,
    pub overflow: Overflow,
    pub visibility: SimDuration,
    /// After this many receives, a message goes to the dead-letter queue.
    pub max_receives: Option<u32>,
    pub rebalance_pause: SimDuration,
    pub session_timeout: SimDuration,
    /// The consumer groups known from the start, so their metrics exist
    /// even before anyone joins.
    pub groups: Vec<String>,
    /// Keep every stored message's id, for the check of a producer's
    /// writes against its events.
    pub keep_ids: bool,
    /// The broker that dead-lettered messages are sent to (without it,
    /// they are only counted).
    pub dead_letter: Option<NodeId>,
}

pub(super) struct GroupMetrics {
    pub lag: GaugeId,
    pub lag_series: SeriesId,
    pub age_series: SeriesId,
    pub lag_s: GaugeId,
    pub lag_ns: HistogramId,
    pub delivered: CounterId,
    pub redelivered: CounterId,
    pub consumed: CounterId,
    pub dead_lettered: CounterId,
    pub expired: CounterId,
    pub expired_unread: CounterId,
    pub rebalances: CounterId,
    pub commits_refused: CounterId,
}

/// How a message left a group's lag.
#[derive(Clone, Copy)]
pub(super) enum Departure {
    Consumed,
    DeadLettered,
    Expired,
    /// A full queue dropped it (counted as the broker's `shed`).
    Shed,
}

/// A consumer group as the broker sees it.
pub(super) struct Group {
    pub name: String,
    /// Each member and when it was last heard from.
    pub members: BTreeMap<NodeId, SimTime>,
    pub generation: u64,
    /// Messages stored that the group has not finished.
    pub lag: u64,
    pub m: GroupMetrics,
    /// A log's cursors and assignment (unused by a queue).
    pub log: GroupLog,
}

impl Group {
    /// Sends a message that failed too often to the dead-letter broker,
    /// if there is one, as a batch of its own that nobody retries.
    pub fn dead_letter(&self, ctx: &mut Context<'_, Rpc>, msg: &Envelope, cfg: &BrokerConfig) {
        if let Some(dlq) = cfg.dead_letter {
            let produce = BrokerMsg::Produce {
                batch: msg.id,
                msgs: vec![msg.clone()],
                idempotent: false,
            };
            ctx.send(dlq, produce);
        }
    }

    /// Counts an expired message nobody was ever handed.
    pub fn unread(&self, ctx: &mut Context<'_, Rpc>) {
        ctx.metrics().add(self.m.expired_unread, 1);
    }

    /// Takes one message out of the lag; `set_lag` publishes the count.
    pub fn depart(&mut self, ctx: &mut Context<'_, Rpc>, appended: SimTime, how: Departure) {
        self.lag -= 1;
        let counter = match how {
            Departure::Consumed => Some(self.m.consumed),
            Departure::DeadLettered => Some(self.m.dead_lettered),
            Departure::Expired => Some(self.m.expired),
            Departure::Shed => None,
        };
        let waited = ctx.now().saturating_since(appended).as_nanos();
        let m = ctx.metrics();
        if let Some(c) = counter {
            m.add(c, 1);
        }
        m.record(self.m.lag_ns, waited);
    }

    pub fn set_lag(&self, ctx: &mut Context<'_, Rpc>) {
        let now = ctx.now();
        let m = ctx.metrics();
        m.set(self.m.lag, now, self.lag as f64);
        m.record_series(self.m.lag_series, now, self.lag as f64);
    }

    /// The age of its oldest message not yet finished, in seconds.
    pub fn set_age(&self, ctx: &mut Context<'_, Rpc>, age: f64) {
        let now = ctx.now();
        let m = ctx.metrics();
        m.set(self.m.lag_s, now, age);
        m.record_series(self.m.age_series, now, age);
    }
}

struct Metrics {
    appended: CounterId,
    deduplicated: CounterId,
    refused: CounterId,
    shed: CounterId,
    blocked: CounterId,
    held: GaugeId,
}

enum Store {
    Log(LogStore),
    Queue(QueueStore),
}

pub struct Broker {
    cfg: BrokerConfig,
    store: Store,
    groups: Vec<Group>,
    member_group: BTreeMap<NodeId, usize>,
    /// An idempotent producer's batches already stored.
    seen: BTreeMap<NodeId, BTreeSet<u64>>,
    /// Producers told to stop sending.
    blocked: BTreeSet<NodeId>,
    /// Every message id stored, with `keep_ids`.
    ids: Vec<u64>,
    m: Option<Metrics>,
}

impl Broker {
    pub fn new(cfg: BrokerConfig) -> Self {
        let store = match cfg.mode {
            Mode::Log => Store::Log(LogStore::new(cfg.partitions)),
            Mode::Queue => Store::Queue(QueueStore::default()),
        };
        Broker {
            cfg,
            store,
            groups: Vec::new(),
            member_group: BTreeMap::new(),
            seen: BTreeMap::new(),
            blocked: BTreeSet::new(),
            ids: Vec::new(),
            m: None,
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
    pub fn partition_sizes(&self) -> Vec<u64> {
        match &self.store {
            Store::Log(l) => l.sizes(),
            Store::Queue(q) => vec![q.held()],
        }
    }

    /// Every message id it stored (with `keep_ids`), a copy each time.
    pub fn stored_ids(&self) -> &[u64] {
        &self.ids
    }

    /// Each group's name and lag in messages.
    pub fn lags(&self) -> Vec<(String, u64)> {
        self.groups
            .iter()
            .map(|g| (g.name.clone(), g.lag))
            .collect()
    }

    fn metrics(&self) -> &Metrics {
        self.m.as_ref().expect("started")
    }

    fn group_index(&mut self, ctx: &mut Context<'_, Rpc>, name: &str) -> usize {
        if let Some(i) = self.groups.iter().position(|g| g.name == name) {
            return i;
        }
        let now = ctx.now();
        let m = ctx.metrics();
        let c = |m: &mut crate::metrics::Metrics, what: &str| m.counter(&format!("{name}.{what}"));
        let gm = GroupMetrics {
            delivered: c(m, "delivered"),
            redelivered: c(m, "redelivered"),
            consumed: c(m, "consumed"),
            dead_lettered: c(m, "dead_lettered"),
            expired: c(m, "expired"),
            expired_unread: c(m, "expired_unread"),
            rebalances: c(m, "rebalances"),
            commits_refused: c(m, "commits_refused"),
            lag_ns: m.histogram(&format!("{name}.lag_ns")),
            lag: m.gauge(&format!("{name}.lag"), now),
            // The names the chart model reads (`scenario::charts`).
            lag_series: m.series(&format!("{name}.lag_msgs"), m.series_interval()),
            age_series: m.series(&format!("{name}.lag_age_s"), m.series_interval()),
            lag_s: m.gauge(&format!("{name}.lag_s"), now),
        };
        // A group that joins late has the whole log before it to read.
        let lag = self.held();
        let log = match &self.store {
            Store::Log(l) => l.new_group(),
            Store::Queue(_) => GroupLog::default(),
        };
        self.groups.push(Group {
            name: name.to_string(),
            members: BTreeMap::new(),
            generation: 0,
            lag,
            m: gm,
            log,
        });
        self.groups[self.groups.len() - 1].set_lag(ctx);
        self.groups.len() - 1
    }

    fn produce(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        from: NodeId,
        batch: u64,
        msgs: Vec<Envelope>,
        idempotent: bool,
    ) {
        let n = msgs.len() as u64;
        if idempotent && self.seen.get(&from).is_some_and(|s| s.contains(&batch)) {
            let d = self.metrics().deduplicated;
            ctx.metrics().add(d, n);
            ctx.send(from, BrokerMsg::Acked { batch });
            return;
        }
        if !self.make_room(ctx, from, batch, n) {
            return;
        }
        let now = ctx.now();
        if self.cfg.keep_ids {
            self.ids.extend(msgs.iter().map(|m| m.id));
        }
        for msg in msgs {
            // In every group's lag first: a log's retention may take it
            // out again at once.
            for g in &mut self.groups {
                g.lag += 1;
            }
            match &mut self.store {
                Store::Log(l) => l.append(ctx, &mut self.groups, &self.cfg, msg),
                Store::Queue(q) => q.append(msg, now),
            }
        }
        self.groups.iter().for_each(|g| g.set_lag(ctx));
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
        let (appended, held) = (self.metrics().appended, self.metrics().held);
        let stored = self.held() as f64;
        ctx.metrics().add(appended, n);
        ctx.metrics().set(held, now, stored);
        ctx.send(from, BrokerMsg::Acked { batch });
    }

    /// Whether a batch of `n` fits (a bounded queue may refuse it, tell
    /// its producer to stop, or shed the oldest waiting messages).
    fn make_room(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, batch: u64, n: u64) -> bool {
        let (Some(cap), Store::Queue(q)) = (self.cfg.capacity, &mut self.store) else {
            return true;
        };
        if q.held() + n <= cap {
            return true;
        }
        let refuse = |ctx: &mut Context<'_, Rpc>, blocked: bool| {
            ctx.send(from, BrokerMsg::Refused { batch, blocked });
            false
        };
        let m = self.m.as_ref().expect("started");
        match self.cfg.overflow {
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
    fn unblock(&mut self, ctx: &mut Context<'_, Rpc>) {
        let room = self.cfg.capacity.is_none_or(|c| self.held() < c);
        if room && !self.blocked.is_empty() {
            for p in std::mem::take(&mut self.blocked) {
                ctx.send(p, BrokerMsg::Unblocked);
            }
        }
    }

    fn join(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, name: &str) {
        let gi = self.group_index(ctx, name);
        self.member_group.insert(from, gi);
        let now = ctx.now();
        self.groups[gi].members.insert(from, now);
        match &mut self.store {
            Store::Log(l) => l.rebalance(ctx, &mut self.groups[gi], gi, &self.cfg),
            Store::Queue(_) => ctx.send(
                from,
                BrokerMsg::Assigned {
                    generation: 0,
                    partitions: vec![0],
                },
            ),
        }
    }

    /// The group of a consumer heard from now; one the broker does not
    /// know as a member is told to join again.
    fn member(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId) -> Option<usize> {
        let now = ctx.now();
        let found = self.member_group.get(&from).copied().filter(|&gi| {
            self.groups[gi]
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
        let Some(gi) = self.member(ctx, from) else {
            return;
        };
        let (g, cfg) = (&mut self.groups[gi], &self.cfg);
        let deliveries = match &mut self.store {
            Store::Log(l) if generation == g.generation => l.fetch(ctx, g, from, max),
            Store::Log(_) => Vec::new(),
            Store::Queue(q) => q.fetch(ctx, g, cfg, max),
        };
        if matches!(self.store, Store::Queue(_)) {
            g.set_lag(ctx);
            self.unblock(ctx);
        }
        let generation = self.groups[gi].generation;
        ctx.send(
            from,
            BrokerMsg::Delivered {
                generation,
                deliveries,
            },
        );
    }

    fn on_consumer(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: BrokerMsg) {
        let Some(gi) = self.member(ctx, from) else {
            return;
        };
        let (g, cfg) = (&mut self.groups[gi], &self.cfg);
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
            _ => return,
        }
        g.set_lag(ctx);
        self.unblock(ctx);
        let (held, stored) = (self.metrics().held, self.held() as f64);
        let now = ctx.now();
        ctx.metrics().set(held, now, stored);
    }

    fn tick(&mut self, ctx: &mut Context<'_, Rpc>) {
        let now = ctx.now();
        match &mut self.store {
            Store::Log(l) => {
                l.trim_all(ctx, &mut self.groups, &self.cfg);
                for gi in 0..self.groups.len() {
                    l.drop_silent_members(ctx, &mut self.groups[gi], gi, &self.cfg);
                    let age = l.oldest_unfinished(&self.groups[gi], now);
                    self.groups[gi].set_age(ctx, age);
                }
            }
            Store::Queue(q) => {
                q.expire(ctx, &mut self.groups, &self.cfg);
                let age = q.oldest(now);
                for g in &self.groups {
                    g.set_age(ctx, age);
                }
            }
        }
        self.groups.iter().for_each(|g| g.set_lag(ctx));
        self.unblock(ctx);
        let (held, stored) = (self.metrics().held, self.held() as f64);
        ctx.metrics().set(held, now, stored);
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
        for g in self.cfg.groups.clone() {
            self.group_index(ctx, &g);
        }
        ctx.set_timer(self.tick_period(), BrokerMsg::Tick);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        let Rpc::Broker(msg) = msg else { return };
        match msg {
            BrokerMsg::Produce {
                batch,
                msgs,
                idempotent,
            } => self.produce(ctx, from, batch, msgs, idempotent),
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
        match (msg, &mut self.store) {
            (BrokerMsg::Tick, _) => self.tick(ctx),
            (BrokerMsg::Visible { receipt }, Store::Queue(q)) => {
                q.visible(receipt);
            }
            (BrokerMsg::RebalanceDone { group, generation }, Store::Log(l)) => {
                if let Some(g) = self.groups.get_mut(group as usize) {
                    l.rebalance_done(ctx, g, generation);
                }
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, _now: SimTime) {
        // The broker's messages and offsets are on disk: a crash only
        // stops it answering until it restarts. Who was blocked is not.
        self.blocked.clear();
    }

    fn on_restart(&mut self, ctx: &mut Context<'_, Rpc>) {
        // Its members are given a session timeout from now, and its
        // timers, which died with it (the hidden messages', the
        // rebalances'), are set again.
        let now = ctx.now();
        for g in &mut self.groups {
            g.members.values_mut().for_each(|seen| *seen = now);
        }
        match &mut self.store {
            Store::Queue(q) => q.rearm(ctx, &self.cfg),
            Store::Log(l) => l.resume(ctx, &mut self.groups, &self.cfg),
        }
        ctx.set_timer(self.tick_period(), BrokerMsg::Tick);
    }
}
