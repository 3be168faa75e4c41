//! A consumer: one member of a consumer group. It fetches from a broker,
//! processes up to `concurrency` messages at once (a log's partitions
//! each in order, one message at a time), and commits before processing
//! (at most once: a failure or crash loses the message) or after (at
//! least once: a failure hands it out again, a crash before the commit
//! means another member processes it again). An idempotent consumer
//! keeps a table of the ids it has processed, written with the effect,
//! and skips an id it has seen. With `commit_every`, a log's member
//! commits what it has done periodically, as Kafka's clients do by
//! default; a crash in between hands out again all it did since.
//!
//! Metrics under its group's name (the members add to the same ones):
//! `processed`, `failed`, `lost` (failed after the commit), `deduplicated`
//! (skipped by the table), `discarded` (deliveries it could no longer
//! take: from an older generation, or for a partition being rewound), the
//! histogram `e2e_ns` (made to processed) and `duplicates` (ids the group
//! processed more than once, counted after the run from `processed_ids`).

use super::{BrokerMsg, Commit, Delivery, Mode};
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, HistogramId};
use crate::models::rpc::Rpc;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    pub broker: NodeId,
    pub group: String,
    pub mode: Mode,
    pub processing: Dist,
    pub concurrency: u32,
    pub commit: Commit,
    /// The chance that processing a good message fails this time.
    pub failure: f64,
    /// Messages asked for per fetch.
    pub batch: u32,
    /// How long to wait after an empty fetch.
    pub poll: SimDuration,
    pub dedupe: bool,
    /// How often it tells the broker it is alive (a log's groups).
    pub heartbeat: SimDuration,
    /// A log: commit what is done this often instead of after each
    /// message (a crash loses what was done since the last commit).
    pub commit_every: Option<SimDuration>,
}

struct Metrics {
    processed: CounterId,
    failed: CounterId,
    lost: CounterId,
    deduplicated: CounterId,
    discarded: CounterId,
    e2e: HistogramId,
}

pub struct Consumer {
    cfg: ConsumerConfig,
    generation: u64,
    assigned: Option<Vec<u32>>,
    /// The fetch awaiting its answer, and its timeout.
    fetching: Option<(u64, TimerId)>,
    fetches: u64,
    /// What was fetched and not yet started, in the order it came.
    buffered: VecDeque<Delivery>,
    /// A log: the next offset each partition may deliver.
    expected: BTreeMap<u32, u64>,
    /// A log: partitions waiting to be rewound after a failure.
    rewinding: BTreeSet<u32>,
    busy: BTreeMap<u64, (Delivery, u64)>,
    busy_parts: BTreeSet<u32>,
    next_slot: u64,
    processed_ids: Vec<u64>,
    table: BTreeSet<u64>,
    /// With `commit_every`: each partition's offset done, not yet
    /// committed, and its generation.
    uncommitted: BTreeMap<u32, (u64, u64)>,
    m: Option<Metrics>,
}

impl Consumer {
    pub fn new(cfg: ConsumerConfig) -> Self {
        Consumer {
            cfg,
            generation: 0,
            assigned: None,
            fetching: None,
            fetches: 0,
            buffered: VecDeque::new(),
            expected: BTreeMap::new(),
            rewinding: BTreeSet::new(),
            busy: BTreeMap::new(),
            busy_parts: BTreeSet::new(),
            next_slot: 0,
            processed_ids: Vec::new(),
            table: BTreeSet::new(),
            uncommitted: BTreeMap::new(),
            m: None,
        }
    }

    /// The group it belongs to.
    pub fn group(&self) -> &str {
        &self.cfg.group
    }

    /// The ids it processed (each time it did), for the duplicate count.
    pub fn processed_ids(&self) -> &[u64] {
        &self.processed_ids
    }

    /// Messages held: waiting here, and being processed.
    pub fn in_hand(&self) -> u64 {
        (self.buffered.len() + self.busy.len()) as u64
    }

    fn metrics(&self) -> &Metrics {
        self.m.as_ref().expect("started")
    }

    fn count(&self, ctx: &mut Context<'_, Rpc>, which: fn(&Metrics) -> CounterId, n: u64) {
        let id = which(self.metrics());
        ctx.metrics().add(id, n);
    }

    fn join(&mut self, ctx: &mut Context<'_, Rpc>) {
        let group = self.cfg.group.clone();
        ctx.send(self.cfg.broker, BrokerMsg::Join { group });
    }

    fn maybe_fetch(&mut self, ctx: &mut Context<'_, Rpc>) {
        if self.assigned.is_none() || self.fetching.is_some() {
            return;
        }
        // Fetch again once half of the last batch has been started.
        let waiting = self.buffered.len();
        if waiting > self.cfg.batch as usize / 2 {
            return;
        }
        let max = self.cfg.batch as usize - waiting;
        self.fetches += 1;
        let fetch = self.fetches;
        let patience = self.cfg.poll.max(SimDuration::from_secs(1));
        let timer = ctx.set_timer(patience, BrokerMsg::Poll { fetch });
        self.fetching = Some((fetch, timer));
        let generation = self.generation;
        let max = max as u32;
        ctx.send(self.cfg.broker, BrokerMsg::Fetch { generation, max });
    }

    fn delivered(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        generation: u64,
        deliveries: Vec<Delivery>,
    ) {
        if let Some((_, timer)) = self.fetching.take() {
            ctx.cancel_timer(timer);
        }
        if deliveries.is_empty() {
            ctx.set_timer(self.cfg.poll, BrokerMsg::Poll { fetch: 0 });
            return;
        }
        let mut last: BTreeMap<u32, u64> = BTreeMap::new();
        let mut discarded = 0;
        for d in deliveries {
            if !self.takes(generation, &d) {
                discarded += 1;
                continue;
            }
            if self.cfg.commit == Commit::Before && self.cfg.mode == Mode::Queue {
                ctx.send(self.cfg.broker, BrokerMsg::Delete { receipt: d.offset });
            }
            self.expected.insert(d.partition, d.offset + 1);
            last.insert(d.partition, d.offset);
            self.buffered.push_back(d);
        }
        self.count(ctx, |m| m.discarded, discarded);
        if self.cfg.commit == Commit::Before && self.cfg.mode == Mode::Log {
            for (partition, offset) in last {
                let msg = BrokerMsg::CommitOffset {
                    generation,
                    partition,
                    offset: offset + 1,
                };
                ctx.send(self.cfg.broker, msg);
            }
        }
        self.pump(ctx);
        self.maybe_fetch(ctx);
    }

    /// Whether it can take this delivery now.
    fn takes(&self, generation: u64, d: &Delivery) -> bool {
        if self.cfg.mode == Mode::Queue {
            return true;
        }
        let assigned = self
            .assigned
            .as_ref()
            .is_some_and(|ps| ps.contains(&d.partition));
        generation == self.generation
            && assigned
            && !self.rewinding.contains(&d.partition)
            // Ahead is retention having removed what was next; behind is
            // an answer overtaken by a rewind.
            && self.expected.get(&d.partition).is_none_or(|&e| d.offset >= e)
    }

    /// Starts processing what it can, in the order it came: a log's
    /// partitions one message each, in order; a queue's messages in any
    /// number up to the limit.
    fn pump(&mut self, ctx: &mut Context<'_, Rpc>) {
        while self.busy.len() < self.cfg.concurrency as usize {
            let log = self.cfg.mode == Mode::Log;
            let Some(at) = self
                .buffered
                .iter()
                .position(|d| !(log && self.busy_parts.contains(&d.partition)))
            else {
                return;
            };
            let d = self.buffered.remove(at).expect("found");
            self.busy_parts.insert(d.partition);
            let slot = self.next_slot;
            self.next_slot += 1;
            let wait = self.cfg.processing.sample_duration(ctx.rng());
            ctx.set_timer(wait, BrokerMsg::Processed { slot });
            self.busy.insert(slot, (d, self.generation));
        }
    }

    fn processed(&mut self, ctx: &mut Context<'_, Rpc>, slot: u64) {
        let Some((d, generation)) = self.busy.remove(&slot) else {
            return;
        };
        self.busy_parts.remove(&d.partition);
        let failed = d.msg.poison || (self.cfg.failure > 0.0 && ctx.rng().chance(self.cfg.failure));
        match (failed, self.cfg.commit) {
            (false, commit) => {
                self.apply(ctx, &d);
                if commit == Commit::After {
                    self.finish(ctx, &d, generation);
                }
            }
            (true, Commit::Before) => {
                self.count(ctx, |m| m.failed, 1);
                self.count(ctx, |m| m.lost, 1);
            }
            (true, Commit::After) => {
                self.count(ctx, |m| m.failed, 1);
                if self.cfg.mode == Mode::Log {
                    self.rewind(ctx, &d, generation);
                }
                // A queue's message comes back after its visibility timeout.
            }
        }
        self.pump(ctx);
        self.maybe_fetch(ctx);
    }

    /// The message's effect, once per id with the table.
    fn apply(&mut self, ctx: &mut Context<'_, Rpc>, d: &Delivery) {
        if self.cfg.dedupe && !self.table.insert(d.msg.id) {
            self.count(ctx, |m| m.deduplicated, 1);
            return;
        }
        self.processed_ids.push(d.msg.id);
        self.count(ctx, |m| m.processed, 1);
        let (e2e, now) = (self.metrics().e2e, ctx.now());
        ctx.metrics()
            .record(e2e, now.saturating_since(d.msg.created).as_nanos());
    }

    /// Tells the broker the message is done.
    fn finish(&mut self, ctx: &mut Context<'_, Rpc>, d: &Delivery, generation: u64) {
        if self.cfg.mode == Mode::Log && self.cfg.commit_every.is_some() {
            self.uncommitted
                .insert(d.partition, (generation, d.offset + 1));
            return;
        }
        let msg = match self.cfg.mode {
            Mode::Log => BrokerMsg::CommitOffset {
                generation,
                partition: d.partition,
                offset: d.offset + 1,
            },
            Mode::Queue => BrokerMsg::Delete { receipt: d.offset },
        };
        ctx.send(self.cfg.broker, msg);
    }

    /// A log's failure: drop what was fetched after it and ask for it again.
    fn rewind(&mut self, ctx: &mut Context<'_, Rpc>, d: &Delivery, generation: u64) {
        let p = d.partition;
        if generation == self.generation {
            let before = self.buffered.len();
            self.buffered.retain(|b| b.partition != p);
            let dropped = (before - self.buffered.len()) as u64;
            self.count(ctx, |m| m.discarded, dropped);
            self.rewinding.insert(p);
        }
        let msg = BrokerMsg::Nack {
            generation,
            partition: p,
            offset: d.offset,
        };
        ctx.send(self.cfg.broker, msg);
    }

    /// Stops taking deliveries until a new assignment.
    fn forget_assignment(&mut self) {
        self.assigned = None;
        self.buffered.clear();
        self.expected.clear();
        self.rewinding.clear();
    }
}

impl Node<Rpc> for Consumer {
    fn footprint(&self) -> u64 {
        let kept = self.processed_ids.len() + self.table.len();
        (kept as u64 + self.in_hand()) * crate::models::ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = self.cfg.group.clone();
        let m = ctx.metrics();
        let c = |m: &mut crate::metrics::Metrics, what: &str| m.counter(&format!("{name}.{what}"));
        self.m = Some(Metrics {
            processed: c(m, "processed"),
            failed: c(m, "failed"),
            lost: c(m, "lost"),
            deduplicated: c(m, "deduplicated"),
            discarded: c(m, "discarded"),
            e2e: m.histogram(&format!("{name}.e2e_ns")),
        });
        // Counted after the run; here so that it exists.
        c(m, "duplicates");
        self.join(ctx);
        if self.cfg.mode == Mode::Log {
            ctx.set_timer(self.cfg.heartbeat, BrokerMsg::HeartbeatDue);
            if let Some(every) = self.cfg.commit_every {
                ctx.set_timer(every, BrokerMsg::CommitDue);
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, _: NodeId, msg: Rpc) {
        let Rpc::Broker(msg) = msg else { return };
        match msg {
            BrokerMsg::Delivered {
                generation,
                deliveries,
            } => self.delivered(ctx, generation, deliveries),
            BrokerMsg::Rewound { partition, offset } => {
                self.rewinding.remove(&partition);
                self.expected.insert(partition, offset);
                self.maybe_fetch(ctx);
            }
            BrokerMsg::Rebalancing => self.forget_assignment(),
            BrokerMsg::Assigned {
                generation,
                partitions,
            } => {
                self.forget_assignment();
                self.generation = generation;
                self.assigned = Some(partitions);
                self.maybe_fetch(ctx);
            }
            BrokerMsg::Rejoin => {
                self.forget_assignment();
                self.join(ctx);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        let Rpc::Broker(msg) = payload else { return };
        match msg {
            BrokerMsg::Processed { slot } => self.processed(ctx, slot),
            BrokerMsg::Poll { fetch } => {
                if self.fetching.is_some_and(|(f, _)| f == fetch) {
                    self.fetching = None;
                }
                self.maybe_fetch(ctx);
            }
            BrokerMsg::HeartbeatDue => {
                ctx.send(self.cfg.broker, BrokerMsg::Heartbeat);
                ctx.set_timer(self.cfg.heartbeat, BrokerMsg::HeartbeatDue);
            }
            BrokerMsg::CommitDue => {
                for (partition, (generation, offset)) in std::mem::take(&mut self.uncommitted) {
                    let msg = BrokerMsg::CommitOffset {
                        generation,
                        partition,
                        offset,
                    };
                    ctx.send(self.cfg.broker, msg);
                }
                if let Some(every) = self.cfg.commit_every {
                    ctx.set_timer(every, BrokerMsg::CommitDue);
                }
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, _now: SimTime) {
        // What it was doing is lost; what it processed (and its table,
        // written with the effects) is not.
        self.forget_assignment();
        self.fetching = None;
        self.busy.clear();
        self.busy_parts.clear();
        self.uncommitted.clear();
    }
}
