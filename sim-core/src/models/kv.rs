//! Where data lives: a versioned key-value store replica, and a client that
//! reads and writes through N/R/W quorums over a set of replicas.
//!
//! A replica keeps, per key, the highest version it was sent, its value and
//! the time it was written by the writer's clock (which may be skewed:
//! `KvStore::with_skew`). It answers reads with what it holds, at once or
//! after queueing for one of its workers (`KvStore::with_capacity`).
//! Its metrics: `reads`, `writes`, `response_ns`, `queue_depth`,
//! `busy_workers`, and the time series `load` (one per request).
//!
//! The quorum client writes each new version to W replicas chosen at random
//! among N and reads from R chosen at random, taking the highest version
//! among the answers (Dynamo-style, with no read repair and no
//! anti-entropy: a replica that missed a write keeps missing it). It is
//! the only writer, so it knows the latest committed version when a read
//! begins, and counts a read that returns an older one as stale.
//!
//! The client records its history (every operation with its invocation
//! and return), so the checkers can judge it (`checker::linearizability`).
//!
//! Metrics, prefixed with the client's name: `writes`, `reads`,
//! `stale_reads`, and `stale_versions` (histogram: how many versions
//! behind a stale read was).

use super::ENTRY_BYTES;
use super::counter::{Change, CounterMsg};
use super::rpc::Rpc;
use crate::checker::linearizability::{Operation, RegisterOp};
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, GaugeId, HistogramId, SeriesId};
use crate::time::SimTime;
use std::collections::{BTreeMap, VecDeque};

/// What the key-value models (stores, caches, routers and their clients)
/// say to each other.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum KvMsg {
    /// Store `value` under `key` as `version`, written at `written_at` by
    /// the writer's clock.
    KvWrite {
        call: u64,
        key: u64,
        version: u64,
        value: u64,
        written_at: SimTime,
    },
    /// The write `call` is stored.
    KvAck { call: u64 },
    /// What do you hold for `key`?
    KvRead { call: u64, key: u64 },
    /// The version and value held (version 0: nothing).
    KvValue { call: u64, version: u64, value: u64 },
    /// Drop what you cache for `key` (sent after a write).
    Invalidate { key: u64 },
}

/// The key-value models' timers (a session paces itself with `KvNext`
/// too).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the names traces have always shown
pub enum KvTimer {
    /// A quorum client, reader, writer or session: time for the next
    /// operation.
    KvNext,
    /// A store: a worker finished request `job`.
    KvDone { job: u64 },
}

/// One replica of a versioned key-value store: instant by default, or a
/// pool of workers with a service time behind a FIFO queue (a database
/// that can be overloaded).
pub struct KvStore {
    data: BTreeMap<u64, (u64, u64, SimTime)>,
    /// What a key never written holds (at version 0).
    initial: u64,
    /// Added to the true time when this node stamps a write it makes.
    pub skew: i64,
    capacity: Option<(u32, Dist)>,
    queue: VecDeque<(NodeId, Rpc, SimTime)>,
    in_service: BTreeMap<u64, (NodeId, Rpc, SimTime)>,
    next_job: u64,
    m: Option<StoreMetrics>,
}

struct StoreMetrics {
    reads: CounterId,
    writes: CounterId,
    response: HistogramId,
    queue_depth: GaugeId,
    busy: GaugeId,
    load: SeriesId,
}

impl Default for KvStore {
    fn default() -> Self {
        Self::new()
    }
}

impl KvStore {
    pub fn new() -> Self {
        KvStore {
            data: BTreeMap::new(),
            initial: 0,
            skew: 0,
            capacity: None,
            queue: VecDeque::new(),
            in_service: BTreeMap::new(),
            next_job: 0,
            m: None,
        }
    }

    /// A replica whose clock is `skew` nanoseconds ahead (or behind).
    pub fn with_skew(skew: i64) -> Self {
        KvStore {
            skew,
            ..KvStore::new()
        }
    }

    /// A store with `workers` workers, each request taking a time drawn
    /// from `service_time` (nanoseconds).
    pub fn with_capacity(workers: u32, service_time: Dist) -> Self {
        assert!(workers > 0, "a store needs a worker");
        KvStore {
            capacity: Some((workers, service_time)),
            ..KvStore::new()
        }
    }

    /// A store whose keys hold `initial` until written (a stock, a
    /// balance).
    pub fn with_initial(self, initial: u64) -> Self {
        KvStore { initial, ..self }
    }

    /// What a key never written holds.
    pub fn initial(&self) -> u64 {
        self.initial
    }

    /// The value `key` holds now (the initial one if never written).
    pub fn value(&self, key: u64) -> u64 {
        self.data.get(&key).map_or(self.initial, |&(_, v, _)| v)
    }

    /// (version, value, written at) held for `key`.
    pub fn get(&self, key: u64) -> Option<(u64, u64, SimTime)> {
        self.data.get(&key).copied()
    }

    fn metrics(&self) -> &StoreMetrics {
        self.m.as_ref().expect("started")
    }

    fn gauges(&self, ctx: &mut Context<'_, Rpc>) {
        let m = self.metrics();
        let (q, b, now) = (m.queue_depth, m.busy, ctx.now());
        let (depth, busy) = (self.queue.len() as f64, self.in_service.len() as f64);
        ctx.metrics().set(q, now, depth);
        ctx.metrics().set(b, now, busy);
    }

    fn start(&mut self, ctx: &mut Context<'_, Rpc>, request: (NodeId, Rpc, SimTime)) {
        let (_, service) = self.capacity.as_ref().expect("only with capacity");
        let took = service.sample_duration(ctx.rng());
        let job = self.next_job;
        self.next_job += 1;
        self.in_service.insert(job, request);
        ctx.set_timer(took, KvTimer::KvDone { job });
    }

    /// Applies a request and answers it.
    fn serve(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc, arrived: SimTime) {
        let response = self.metrics().response;
        let waited = ctx.now().saturating_since(arrived).as_nanos();
        ctx.metrics().record(response, waited);
        let msg = match msg {
            Rpc::Kv(m) => m,
            Rpc::Counter(CounterMsg::Update { call, key, change }) => {
                return self.update(ctx, from, call, key, change);
            }
            _ => return,
        };
        match msg {
            KvMsg::KvWrite {
                call,
                key,
                version,
                value,
                written_at,
            } => {
                let newer = self.data.get(&key).is_none_or(|&(v, _, _)| version > v);
                if newer {
                    self.data.insert(key, (version, value, written_at));
                }
                ctx.send(from, KvMsg::KvAck { call });
            }
            KvMsg::KvRead { call, key } => {
                let (version, value, _) =
                    self.data
                        .get(&key)
                        .copied()
                        .unwrap_or((0, self.initial, SimTime::ZERO));
                ctx.send(
                    from,
                    KvMsg::KvValue {
                        call,
                        version,
                        value,
                    },
                );
            }
            _ => {}
        }
    }
}

impl KvStore {
    /// Applies `change` to `key` if its condition holds, and says what
    /// the key holds now.
    fn update(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        from: NodeId,
        call: u64,
        key: u64,
        change: Change,
    ) {
        let (version, value) = self
            .data
            .get(&key)
            .map_or((0, self.initial), |&(v, x, _)| (v, x));
        let (ok, version, value) = match change.apply(version, value) {
            Some(new) => {
                let stamp = self.stamp(ctx.now());
                self.data.insert(key, (version + 1, new, stamp));
                (true, version + 1, new)
            }
            None => (false, version, value),
        };
        ctx.send(
            from,
            CounterMsg::Updated {
                call,
                ok,
                version,
                value,
            },
        );
    }

    /// The time by this store's clock (skewed).
    fn stamp(&self, now: SimTime) -> SimTime {
        SimTime::from_nanos(now.as_nanos().saturating_add_signed(self.skew))
    }
}

impl Node<Rpc> for KvStore {
    fn footprint(&self) -> u64 {
        (self.data.len() + self.queue.len() + self.in_service.len()) as u64 * ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let now = ctx.now();
        let m = ctx.metrics();
        let interval = m.series_interval();
        self.m = Some(StoreMetrics {
            reads: m.counter(&format!("{name}.reads")),
            writes: m.counter(&format!("{name}.writes")),
            response: m.histogram(&format!("{name}.response_ns")),
            queue_depth: m.gauge(&format!("{name}.queue_depth"), now),
            busy: m.gauge(&format!("{name}.busy_workers"), now),
            load: m.series(&format!("{name}.load"), interval),
        });
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        let counter = match &msg {
            Rpc::Kv(KvMsg::KvWrite { .. }) | Rpc::Counter(CounterMsg::Update { .. }) => {
                self.metrics().writes
            }
            Rpc::Kv(KvMsg::KvRead { .. }) => self.metrics().reads,
            _ => return,
        };
        let (load, now) = (self.metrics().load, ctx.now());
        ctx.metrics().add(counter, 1);
        ctx.metrics().record_series(load, now, 1.0);
        match &self.capacity {
            None => self.serve(ctx, from, msg, now),
            Some((workers, _)) if (self.in_service.len() as u32) < *workers => {
                self.start(ctx, (from, msg, now));
            }
            Some(_) => self.queue.push_back((from, msg, now)),
        }
        self.gauges(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        let Rpc::KvTimer(KvTimer::KvDone { job }) = payload else {
            return;
        };
        if let Some((from, msg, arrived)) = self.in_service.remove(&job) {
            self.serve(ctx, from, msg, arrived);
        }
        if let Some(next) = self.queue.pop_front() {
            self.start(ctx, next);
        }
        self.gauges(ctx);
    }

    fn on_crash(&mut self, _now: SimTime) {
        // Requests in progress are lost; the data is on disk and stays.
        self.queue.clear();
        self.in_service.clear();
    }
}

/// How a quorum client works.
#[derive(Clone, Debug, PartialEq)]
pub struct QuorumConfig {
    pub replicas: Vec<NodeId>,
    pub r: usize,
    pub w: usize,
    /// Operations alternate: a write, then `reads_per_write` reads.
    pub reads_per_write: u32,
    /// The gap between one operation's end and the next one's start.
    pub think: Dist,
    /// Stop after this many writes.
    pub max_writes: u64,
}

#[derive(Clone, Copy, Debug)]
enum Pending {
    Write {
        acks: usize,
        version: u64,
    },
    Read {
        answers: usize,
        best: u64,
        latest: u64,
    },
}

struct Metrics {
    writes: CounterId,
    reads: CounterId,
    stale: CounterId,
    behind: HistogramId,
}

pub struct QuorumClient {
    cfg: QuorumConfig,
    /// The operation in flight, by call id; stray answers find nothing.
    pending: Option<(u64, Pending)>,
    next_call: u64,
    /// The latest version every write quorum acknowledged.
    committed: u64,
    next_version: u64,
    reads_left: u32,
    /// Every operation with its invocation and return (in nanoseconds),
    /// for the checkers.
    history: Vec<Operation>,
    m: Option<Metrics>,
}

impl QuorumClient {
    pub fn new(cfg: QuorumConfig) -> Self {
        assert!(
            (1..=cfg.replicas.len()).contains(&cfg.r) && (1..=cfg.replicas.len()).contains(&cfg.w),
            "R and W must be between 1 and N"
        );
        QuorumClient {
            cfg,
            pending: None,
            next_call: 0,
            committed: 0,
            next_version: 1,
            reads_left: 0,
            history: Vec::new(),
            m: None,
        }
    }

    /// The operations so far, as a register history (the client uses one
    /// key, and a version's value is the version itself).
    pub fn history(&self) -> &[Operation] {
        &self.history
    }

    /// `k` distinct replicas chosen uniformly at random (a partial
    /// Fisher-Yates shuffle).
    fn choose(&self, k: usize, ctx: &mut Context<'_, Rpc>) -> Vec<NodeId> {
        let mut pool = self.cfg.replicas.clone();
        for i in 0..k {
            let j = i + ctx.rng().below((pool.len() - i) as u64) as usize;
            pool.swap(i, j);
        }
        pool.truncate(k);
        pool
    }

    fn next_operation(&mut self, ctx: &mut Context<'_, Rpc>) {
        let call = self.next_call;
        self.next_call += 1;
        let m = self.m.as_ref().expect("started");
        if self.reads_left == 0 {
            if self.next_version > self.cfg.max_writes {
                return;
            }
            let version = self.next_version;
            self.next_version += 1;
            self.reads_left = self.cfg.reads_per_write;
            let writes = m.writes;
            ctx.metrics().add(writes, 1);
            self.pending = Some((call, Pending::Write { acks: 0, version }));
            self.history.push(Operation {
                op: RegisterOp::Write(version),
                invoke: ctx.now().as_nanos(),
                ret: None,
            });
            let now = ctx.now();
            for to in self.choose(self.cfg.w, ctx) {
                ctx.send(
                    to,
                    KvMsg::KvWrite {
                        call,
                        key: 0,
                        version,
                        value: version,
                        written_at: now,
                    },
                );
            }
        } else {
            self.reads_left -= 1;
            let reads = m.reads;
            ctx.metrics().add(reads, 1);
            self.history.push(Operation {
                op: RegisterOp::Read(0),
                invoke: ctx.now().as_nanos(),
                ret: None,
            });
            self.pending = Some((
                call,
                Pending::Read {
                    answers: 0,
                    best: 0,
                    latest: self.committed,
                },
            ));
            for to in self.choose(self.cfg.r, ctx) {
                ctx.send(to, KvMsg::KvRead { call, key: 0 });
            }
        }
    }

    fn done(&mut self, ctx: &mut Context<'_, Rpc>, read: Option<u64>) {
        self.pending = None;
        if let Some(last) = self.history.last_mut() {
            last.ret = Some(ctx.now().as_nanos());
            if let Some(value) = read {
                last.op = RegisterOp::Read(value);
            }
        }
        let think = self.cfg.think.sample_duration(ctx.rng());
        ctx.set_timer(think, KvTimer::KvNext);
    }
}

impl Node<Rpc> for QuorumClient {
    fn footprint(&self) -> u64 {
        self.history.len() as u64 * super::ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let m = ctx.metrics();
        self.m = Some(Metrics {
            writes: m.counter(&format!("{name}.writes")),
            reads: m.counter(&format!("{name}.reads")),
            stale: m.counter(&format!("{name}.stale_reads")),
            behind: m.histogram(&format!("{name}.stale_versions")),
        });
        let think = self.cfg.think.sample_duration(ctx.rng());
        ctx.set_timer(think, KvTimer::KvNext);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, _from: NodeId, msg: Rpc) {
        let (Rpc::Kv(msg), Some((call, pending))) = (msg, self.pending.as_mut()) else {
            return;
        };
        match (msg, pending) {
            (KvMsg::KvAck { call: c }, Pending::Write { acks, version }) if c == *call => {
                *acks += 1;
                if *acks == self.cfg.w {
                    self.committed = *version;
                    self.done(ctx, None);
                }
            }
            (
                KvMsg::KvValue {
                    call: c, version, ..
                },
                Pending::Read {
                    answers,
                    best,
                    latest,
                },
            ) if c == *call => {
                *answers += 1;
                *best = (*best).max(version);
                if *answers == self.cfg.r {
                    let (best, latest) = (*best, *latest);
                    if best < latest {
                        let m = self.m.as_ref().expect("started");
                        let (stale, behind) = (m.stale, m.behind);
                        ctx.metrics().add(stale, 1);
                        ctx.metrics().record(behind, latest - best);
                    }
                    self.done(ctx, Some(best));
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        if payload == Rpc::KvTimer(KvTimer::KvNext) {
            self.next_operation(ctx);
        }
    }
}
