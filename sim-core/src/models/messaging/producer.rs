//! A producer: messages made at random times (open loop) into a bounded
//! buffer, sent to a broker in batches (a batch leaves when it is full or
//! its oldest message has lingered long enough), a few batches in flight
//! at once. With acknowledgements, a batch not acknowledged in time or
//! refused is sent again under the retry policy; told to stop (a blocked
//! queue), it waits until the broker says there is room. When its buffer
//! is full, new messages are refused: the effect of backpressure
//! upstream. An idempotent producer's batches are stored once however
//! often they are sent.
//!
//! Metrics under its name: `created`, `acked`, `sent` (without
//! acknowledgements: sent and forgotten), `failed` (retries exhausted),
//! `refused` (the buffer was full), `lost` (in its buffer when it
//! crashed), `committed` and `aborted` (with `write`: writes committed,
//! and cut off by a crash), `retries`, `batches`, the histograms
//! `batch_size` and `produce_ns` (made to acknowledged), and the gauge
//! `buffered`. Invariant: `created` = `acked` + `sent` + `failed` +
//! `refused` + `lost` + `buffered.now`, plus `aborted` when a write
//! comes before its event (`dual`, `outbox`).

use super::writes::{WriteConfig, WriteMode, Writes};
use super::{BrokerMsg, Envelope};
use crate::data::keys::KeyDist;
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, GaugeId, HistogramId};
use crate::models::rpc::Rpc;
use crate::policy::retry::RetryConfig;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Debug)]
pub struct ProducerConfig {
    pub broker: NodeId,
    /// The index of its topic in the broker.
    pub topic: u32,
    /// The time between two messages.
    pub interarrival: Dist,
    /// Stop after this many messages.
    pub messages: Option<u64>,
    pub keys: KeyDist,
    pub batch: u32,
    pub linger: SimDuration,
    pub acks: bool,
    pub timeout: SimDuration,
    pub retry: RetryConfig,
    pub idempotent: bool,
    pub max_in_flight: u32,
    pub buffer: u64,
    pub bytes: u32,
    /// The share of messages whose processing always fails.
    pub poison: f64,
    /// Each message is the event of a write to its own database.
    pub write: Option<WriteConfig>,
}

struct Batch {
    msgs: Vec<Envelope>,
    attempts: u32,
    previous_delay: SimDuration,
    timer: Option<TimerId>,
    /// Waiting for the broker to have room.
    parked: bool,
}

struct Metrics {
    created: CounterId,
    acked: CounterId,
    sent: CounterId,
    failed: CounterId,
    refused: CounterId,
    lost: CounterId,
    committed: Option<CounterId>,
    aborted: Option<CounterId>,
    retries: CounterId,
    batches: CounterId,
    batch_size: HistogramId,
    produce: HistogramId,
    buffered: GaugeId,
}

pub struct Producer {
    cfg: ProducerConfig,
    made: u64,
    next_batch: u64,
    /// Messages waiting for their batch, each with when it began to wait.
    pending: VecDeque<(SimTime, Envelope)>,
    in_flight: BTreeMap<u64, Batch>,
    blocked: bool,
    linger: Option<TimerId>,
    /// Messages a crash lost, recorded when it restarts.
    crash_lost: u64,
    writes: Option<Writes>,
    m: Option<Metrics>,
}

impl Producer {
    pub fn new(cfg: ProducerConfig) -> Self {
        Producer {
            writes: cfg.write.clone().map(Writes::new),
            cfg,
            made: 0,
            next_batch: 0,
            pending: VecDeque::new(),
            in_flight: BTreeMap::new(),
            blocked: false,
            linger: None,
            crash_lost: 0,
            m: None,
        }
    }

    fn metrics(&self) -> &Metrics {
        self.m.as_ref().expect("started")
    }

    /// Messages made and not yet acknowledged, failed or sent (with a
    /// write first, the writes under way too).
    pub fn buffered(&self) -> u64 {
        let writing = match &self.writes {
            Some(w) if w.cfg.mode != WriteMode::PublishFirst => w.under_way(),
            _ => 0,
        };
        self.unsent() + writing
    }

    /// Messages waiting to be sent or acknowledged.
    fn unsent(&self) -> u64 {
        let flying: usize = self.in_flight.values().map(|b| b.msgs.len()).sum();
        (self.pending.len() + flying) as u64
    }

    /// The broker it sends to.
    pub fn broker(&self) -> NodeId {
        self.cfg.broker
    }

    /// Its database, if each message is the event of a write.
    pub fn writes(&self) -> Option<&Writes> {
        self.writes.as_ref()
    }

    /// The ids it has not yet had acknowledged: waiting, in flight, or
    /// in the outbox.
    pub fn unsent_ids(&self) -> Vec<u64> {
        let flying = self.in_flight.values().flat_map(|b| b.msgs.iter());
        let mut ids: Vec<u64> = self
            .pending
            .iter()
            .map(|(_, m)| m)
            .chain(flying)
            .map(|m| m.id)
            .collect();
        if let Some(w) = &self.writes {
            ids.extend(w.outbox_ids());
        }
        ids
    }

    fn set_buffered(&self, ctx: &mut Context<'_, Rpc>) {
        let (g, now, v) = (self.metrics().buffered, ctx.now(), self.buffered() as f64);
        ctx.metrics().set(g, now, v);
    }

    fn arrival(&mut self, ctx: &mut Context<'_, Rpc>) {
        if self.cfg.messages.is_some_and(|n| self.made >= n) {
            return;
        }
        self.made += 1;
        let created = self.metrics().created;
        ctx.metrics().add(created, 1);
        if self.buffered() >= self.cfg.buffer {
            let r = self.metrics().refused;
            ctx.metrics().add(r, 1);
        } else {
            let id = ((ctx.id().index() as u64 + 1) << 40) | self.made;
            let key = self.cfg.keys.sample(ctx.rng());
            let poison = self.cfg.poison > 0.0 && ctx.rng().chance(self.cfg.poison);
            let msg = Envelope {
                id,
                key,
                created: ctx.now(),
                bytes: self.cfg.bytes,
                poison,
            };
            self.made_one(ctx, msg);
        }
        if self.cfg.messages.is_none_or(|n| self.made < n) {
            let wait = self.cfg.interarrival.sample_duration(ctx.rng());
            ctx.set_timer(wait, BrokerMsg::Arrival);
        }
    }

    /// A new message: sent, or written first, or both, as `write` says.
    fn made_one(&mut self, ctx: &mut Context<'_, Rpc>, msg: Envelope) {
        let Some(w) = &mut self.writes else {
            self.pending.push_back((ctx.now(), msg));
            return self.flush(ctx);
        };
        let publish_first = w.cfg.mode == WriteMode::PublishFirst;
        let wait = w.cfg.time.sample_duration(ctx.rng());
        let slot = w.start(msg.clone());
        ctx.set_timer(wait, BrokerMsg::WriteDone { slot });
        if publish_first {
            self.pending.push_back((ctx.now(), msg));
            self.flush(ctx);
        } else {
            self.set_buffered(ctx);
        }
    }

    /// A write commits: its event goes out now (unless it went first).
    fn committed(&mut self, ctx: &mut Context<'_, Rpc>, slot: u64) {
        let Some(w) = &mut self.writes else { return };
        let Some(msg) = w.commit(slot) else { return };
        let publish_first = w.cfg.mode == WriteMode::PublishFirst;
        if let Some(c) = self.metrics().committed {
            ctx.metrics().add(c, 1);
        }
        if !publish_first {
            self.pending.push_back((ctx.now(), msg));
        }
        self.flush(ctx);
    }

    /// Sends what may leave now: full batches, and a partial one once its
    /// oldest message has lingered long enough.
    fn flush(&mut self, ctx: &mut Context<'_, Rpc>) {
        let now = ctx.now();
        while !self.blocked && self.in_flight.len() < self.cfg.max_in_flight as usize {
            let Some(oldest) = self.pending.front() else {
                break;
            };
            let lingered = now.saturating_since(oldest.0) >= self.cfg.linger;
            if self.pending.len() < self.cfg.batch as usize && !lingered {
                break;
            }
            let n = self.pending.len().min(self.cfg.batch as usize);
            let msgs: Vec<Envelope> = self.pending.drain(..n).map(|(_, m)| m).collect();
            self.send_new(ctx, msgs);
        }
        // A batch that has lingered long enough leaves when a slot frees
        // (an acknowledgement) or the broker has room again: no timer.
        if self.linger.is_none()
            && let Some(oldest) = self.pending.front()
        {
            let waited = now.saturating_since(oldest.0);
            if waited < self.cfg.linger {
                let wait = SimDuration::from_nanos(self.cfg.linger.as_nanos() - waited.as_nanos());
                self.linger = Some(ctx.set_timer(wait, BrokerMsg::Linger));
            }
        }
        self.set_buffered(ctx);
    }

    fn send_new(&mut self, ctx: &mut Context<'_, Rpc>, msgs: Vec<Envelope>) {
        let batch = self.next_batch;
        self.next_batch += 1;
        let m = self.metrics();
        let (batches, size, sent) = (m.batches, m.batch_size, m.sent);
        ctx.metrics().add(batches, 1);
        ctx.metrics().record(size, msgs.len() as u64);
        if !self.cfg.acks {
            ctx.metrics().add(sent, msgs.len() as u64);
            self.transmit(ctx, batch, &msgs);
            return;
        }
        self.in_flight.insert(
            batch,
            Batch {
                msgs,
                attempts: 0,
                previous_delay: SimDuration::ZERO,
                timer: None,
                parked: false,
            },
        );
        self.attempt(ctx, batch);
    }

    fn transmit(&self, ctx: &mut Context<'_, Rpc>, batch: u64, msgs: &[Envelope]) {
        let produce = BrokerMsg::Produce {
            topic: self.cfg.topic,
            batch,
            msgs: msgs.to_vec(),
            idempotent: self.cfg.idempotent,
        };
        ctx.send(self.cfg.broker, produce);
    }

    /// Sends batch `batch` (again), waiting for its acknowledgement.
    fn attempt(&mut self, ctx: &mut Context<'_, Rpc>, batch: u64) {
        let timeout = self.cfg.timeout;
        let Some(b) = self.in_flight.get_mut(&batch) else {
            return;
        };
        b.attempts += 1;
        b.timer = Some(ctx.set_timer(timeout, BrokerMsg::AckTimeout { batch }));
        let msgs = b.msgs.clone();
        self.transmit(ctx, batch, &msgs);
    }

    fn acked(&mut self, ctx: &mut Context<'_, Rpc>, batch: u64) {
        let Some(b) = self.in_flight.remove(&batch) else {
            return;
        };
        if let Some(t) = b.timer {
            ctx.cancel_timer(t);
        }
        if let Some(w) = &mut self.writes {
            w.acknowledged(&b.msgs);
        }
        let (acked, produce, now) = (self.metrics().acked, self.metrics().produce, ctx.now());
        ctx.metrics().add(acked, b.msgs.len() as u64);
        for msg in &b.msgs {
            ctx.metrics()
                .record(produce, now.saturating_since(msg.created).as_nanos());
        }
        self.flush(ctx);
    }

    /// The batch was refused or timed out: retry it, or give it up.
    fn failed(&mut self, ctx: &mut Context<'_, Rpc>, batch: u64) {
        let Some(b) = self.in_flight.get_mut(&batch) else {
            return;
        };
        if let Some(t) = b.timer.take() {
            ctx.cancel_timer(t);
        }
        if b.attempts < self.cfg.retry.max_attempts {
            let wait = self
                .cfg
                .retry
                .delay(b.attempts, b.previous_delay, ctx.rng());
            b.previous_delay = wait;
            b.timer = Some(ctx.set_timer(wait, BrokerMsg::Resend { batch }));
            let r = self.metrics().retries;
            ctx.metrics().add(r, 1);
            return;
        }
        let b = self.in_flight.remove(&batch).expect("found");
        let f = self.metrics().failed;
        ctx.metrics().add(f, b.msgs.len() as u64);
        self.flush(ctx);
    }

    /// Told to stop: the batch waits, and is tried again when the broker
    /// says there is room (or, in case that word is lost, after a
    /// timeout, without counting as an attempt).
    fn blocked(&mut self, ctx: &mut Context<'_, Rpc>, batch: u64) {
        self.blocked = true;
        let timeout = self.cfg.timeout;
        if let Some(b) = self.in_flight.get_mut(&batch) {
            if let Some(t) = b.timer.take() {
                ctx.cancel_timer(t);
            }
            b.attempts -= 1;
            b.parked = true;
            b.timer = Some(ctx.set_timer(timeout, BrokerMsg::Resend { batch }));
        }
    }

    fn unblocked(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.blocked = false;
        let waiting: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, b)| b.parked)
            .map(|(&id, _)| id)
            .collect();
        for batch in waiting {
            if let Some(b) = self.in_flight.get_mut(&batch) {
                b.parked = false;
                if let Some(t) = b.timer.take() {
                    ctx.cancel_timer(t);
                }
            }
            self.attempt(ctx, batch);
        }
        self.flush(ctx);
    }
}

impl Node<Rpc> for Producer {
    fn footprint(&self) -> u64 {
        let kept = self.writes.as_ref().map_or(0, Writes::kept);
        (self.unsent() + kept) * crate::models::ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let now = ctx.now();
        let writes = self.writes.is_some();
        let m = ctx.metrics();
        let c = |m: &mut crate::metrics::Metrics, what: &str| m.counter(&format!("{name}.{what}"));
        self.m = Some(Metrics {
            created: c(m, "created"),
            acked: c(m, "acked"),
            sent: c(m, "sent"),
            failed: c(m, "failed"),
            refused: c(m, "refused"),
            lost: c(m, "lost"),
            // Only a producer that writes has writes to count.
            committed: writes.then(|| c(m, "committed")),
            aborted: writes.then(|| c(m, "aborted")),
            retries: c(m, "retries"),
            batches: c(m, "batches"),
            batch_size: m.histogram(&format!("{name}.batch_size")),
            produce: m.histogram(&format!("{name}.produce_ns")),
            buffered: m.gauge(&format!("{name}.buffered"), now),
        });
        let wait = self.cfg.interarrival.sample_duration(ctx.rng());
        ctx.set_timer(wait, BrokerMsg::Arrival);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, _: NodeId, msg: Rpc) {
        match msg {
            Rpc::Broker(BrokerMsg::Acked { batch }) => self.acked(ctx, batch),
            Rpc::Broker(BrokerMsg::Refused {
                batch,
                blocked: true,
            }) => self.blocked(ctx, batch),
            Rpc::Broker(BrokerMsg::Refused { batch, .. }) => self.failed(ctx, batch),
            Rpc::Broker(BrokerMsg::Unblocked) => self.unblocked(ctx),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        match payload {
            Rpc::Broker(BrokerMsg::Arrival) => self.arrival(ctx),
            Rpc::Broker(BrokerMsg::Linger) => {
                self.linger = None;
                self.flush(ctx);
            }
            Rpc::Broker(BrokerMsg::AckTimeout { batch }) => self.failed(ctx, batch),
            Rpc::Broker(BrokerMsg::WriteDone { slot }) => self.committed(ctx, slot),
            Rpc::Broker(BrokerMsg::Resend { batch }) => {
                if let Some(b) = self.in_flight.get_mut(&batch) {
                    b.timer = None;
                    b.parked = false;
                }
                self.attempt(ctx, batch);
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, _now: SimTime) {
        // Its buffer was in memory, unless an outbox keeps it; writes
        // under way never commit.
        let durable = self.writes.as_ref().is_some_and(Writes::buffer_is_durable);
        if !durable {
            self.crash_lost += self.unsent();
        }
        if let Some(w) = &mut self.writes {
            w.crash();
        }
        self.pending.clear();
        self.in_flight.clear();
        self.blocked = false;
        self.linger = None;
    }

    fn on_restart(&mut self, ctx: &mut Context<'_, Rpc>) {
        let lost = std::mem::take(&mut self.crash_lost);
        let (l, a) = (self.metrics().lost, self.metrics().aborted);
        ctx.metrics().add(l, lost);
        if let Some(w) = &mut self.writes {
            let aborted = std::mem::take(&mut w.crash_aborted);
            if let Some(a) = a {
                ctx.metrics().add(a, aborted);
            }
            // The relay starts again from the outbox.
            let now = ctx.now();
            self.pending
                .extend(w.unpublished().into_iter().map(|m| (now, m)));
            self.flush(ctx);
        }
        self.set_buffered(ctx);
        let wait = self.cfg.interarrival.sample_duration(ctx.rng());
        ctx.set_timer(wait, BrokerMsg::Arrival);
    }
}
