//! A cache in front of a key-value store, and the clients that read
//! through it and write around it.
//!
//! The cache answers a read from memory while its entry is younger than
//! its TTL (optionally jittered, so entries filled together do not expire
//! together); otherwise it reads the database, fills the entry and answers.
//! With single flight, concurrent misses on one key wait for one database
//! read instead of each sending their own. An `Invalidate` message (sent by
//! a writer after its write, over the simulated network, so it can be
//! delayed or lost) drops an entry. A crash empties the cache: a cold
//! restart. In write-through mode, writes go to the cache, which writes the
//! database and keeps the new value.
//!
//! Readers and writers record their histories for
//! `checker::consistency`, which finds stale reads and how stale they
//! were.
//!
//! Metrics, prefixed with the cache's name: `hits`, `misses`, `db_reads`,
//! `coalesced` (misses that joined a read already in flight),
//! `invalidations`. Readers count `reads`; writers `writes`.

use super::ENTRY_BYTES;
use super::kv::{KvMsg, KvTimer};
use super::rpc::Rpc;
use crate::checker::consistency::{KvOp, KvOpKind};
use crate::data::keys::KeyDist;
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::CounterId;
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct CacheConfig {
    pub db: NodeId,
    pub ttl: SimDuration,
    /// Each entry lives uniformly between ttl x (1 - jitter) and ttl.
    pub ttl_jitter: f64,
    pub single_flight: bool,
    pub write_through: bool,
}

struct Entry {
    version: u64,
    value: u64,
    expires: SimTime,
}

enum Waiting {
    /// Readers waiting for a database read of `key`: (reader, call).
    Fill {
        key: u64,
        readers: Vec<(NodeId, u64)>,
    },
    /// A write-through write: answer `writer`'s `call` once stored.
    Write {
        key: u64,
        version: u64,
        value: u64,
        writer: NodeId,
        call: u64,
    },
}

struct CacheMetrics {
    hits: CounterId,
    misses: CounterId,
    db_reads: CounterId,
    coalesced: CounterId,
    invalidations: CounterId,
}

pub struct Cache {
    cfg: CacheConfig,
    entries: BTreeMap<u64, Entry>,
    /// Database calls in flight, by this cache's call id.
    waiting: BTreeMap<u64, Waiting>,
    /// For single flight: the database call filling each key.
    filling: BTreeMap<u64, u64>,
    next_call: u64,
    m: Option<CacheMetrics>,
}

impl Cache {
    /// A read: a hit answered at once; a miss joins a fill in flight (with
    /// single flight) or starts one from the store.
    fn on_read(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, call: u64, key: u64) {
        let now = ctx.now();
        if let Some(e) = self.entries.get(&key)
            && now < e.expires
        {
            let (version, value) = (e.version, e.value);
            let hits = self.metrics().hits;
            ctx.metrics().add(hits, 1);
            ctx.send(
                from,
                KvMsg::KvValue {
                    call,
                    version,
                    value,
                },
            );
            return;
        }
        let misses = self.metrics().misses;
        ctx.metrics().add(misses, 1);
        if self.cfg.single_flight
            && let Some(&fill) = self.filling.get(&key)
            && let Some(Waiting::Fill { readers, .. }) = self.waiting.get_mut(&fill)
        {
            readers.push((from, call));
            let coalesced = self.metrics().coalesced;
            ctx.metrics().add(coalesced, 1);
            return;
        }
        let db_call = self.next_call;
        self.next_call += 1;
        self.waiting.insert(
            db_call,
            Waiting::Fill {
                key,
                readers: vec![(from, call)],
            },
        );
        self.filling.insert(key, db_call);
        let db_reads = self.metrics().db_reads;
        ctx.metrics().add(db_reads, 1);
        ctx.send(self.cfg.db, KvMsg::KvRead { call: db_call, key });
    }

    pub fn new(cfg: CacheConfig) -> Self {
        Cache {
            cfg,
            entries: BTreeMap::new(),
            waiting: BTreeMap::new(),
            filling: BTreeMap::new(),
            next_call: 0,
            m: None,
        }
    }

    fn metrics(&self) -> &CacheMetrics {
        self.m.as_ref().expect("started")
    }

    /// Keys held now (expired entries included until they are read). A
    /// cache that holds none is cold.
    pub fn entries(&self) -> usize {
        self.entries.len()
    }

    fn ttl(&self, ctx: &mut Context<'_, Rpc>) -> SimDuration {
        let ttl = self.cfg.ttl.as_nanos() as f64;
        let j = self.cfg.ttl_jitter.clamp(0.0, 1.0);
        if j == 0.0 {
            return self.cfg.ttl;
        }
        let u = ctx.rng().uniform();
        SimDuration::from_nanos((ttl * (1.0 - j * u)) as u64)
    }

    fn fill(&mut self, ctx: &mut Context<'_, Rpc>, key: u64, version: u64, value: u64) {
        let keep = self.entries.get(&key).is_none_or(|e| version >= e.version);
        if keep {
            let expires = ctx.now().saturating_add(self.ttl(ctx));
            self.entries.insert(
                key,
                Entry {
                    version,
                    value,
                    expires,
                },
            );
        }
    }
}

impl Node<Rpc> for Cache {
    fn footprint(&self) -> u64 {
        let waiting: u64 = self.waiting.len() as u64;
        (self.entries.len() as u64 + waiting + self.filling.len() as u64) * ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let m = ctx.metrics();
        let c = |m: &mut crate::metrics::Metrics, what: &str| m.counter(&format!("{name}.{what}"));
        self.m = Some(CacheMetrics {
            hits: c(m, "hits"),
            misses: c(m, "misses"),
            db_reads: c(m, "db_reads"),
            coalesced: c(m, "coalesced"),
            invalidations: c(m, "invalidations"),
        });
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        let Rpc::Kv(msg) = msg else { return };
        match msg {
            KvMsg::KvRead { call, key } => self.on_read(ctx, from, call, key),
            KvMsg::KvValue {
                call,
                version,
                value,
            } => {
                let Some(Waiting::Fill { key, readers }) = self.waiting.remove(&call) else {
                    return;
                };
                if self.filling.get(&key) == Some(&call) {
                    self.filling.remove(&key);
                }
                self.fill(ctx, key, version, value);
                for (reader, c) in readers {
                    ctx.send(
                        reader,
                        KvMsg::KvValue {
                            call: c,
                            version,
                            value,
                        },
                    );
                }
            }
            KvMsg::Invalidate { key } => {
                self.entries.remove(&key);
                let inv = self.metrics().invalidations;
                ctx.metrics().add(inv, 1);
            }
            KvMsg::KvWrite {
                call,
                key,
                version,
                value,
                written_at,
            } if self.cfg.write_through => {
                let db_call = self.next_call;
                self.next_call += 1;
                self.waiting.insert(
                    db_call,
                    Waiting::Write {
                        key,
                        version,
                        value,
                        writer: from,
                        call,
                    },
                );
                ctx.send(
                    self.cfg.db,
                    KvMsg::KvWrite {
                        call: db_call,
                        key,
                        version,
                        value,
                        written_at,
                    },
                );
            }
            KvMsg::KvAck { call } => {
                if let Some(Waiting::Write {
                    key,
                    version,
                    value,
                    writer,
                    call: c,
                }) = self.waiting.remove(&call)
                {
                    self.fill(ctx, key, version, value);
                    ctx.send(writer, KvMsg::KvAck { call: c });
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, _: &mut Context<'_, Rpc>, _: TimerId, _: Rpc) {}

    fn on_crash(&mut self, _now: SimTime) {
        // A cold restart: memory is gone.
        self.entries.clear();
        self.waiting.clear();
        self.filling.clear();
    }
}

/// A client reading keys through a cache in an open loop, recording its
/// history: the reads in flight, and those that returned until the
/// checkers take them (`take_returned`), so what it holds follows what is
/// in flight, not the run's length.
pub struct KvReader {
    target: NodeId,
    keys: KeyDist,
    interarrival: Dist,
    max_reads: Option<u64>,
    /// Reads in flight, by call.
    pending: BTreeMap<u64, KvOp>,
    /// Returned since the checkers last took them, in return order.
    returned: Vec<KvOp>,
    issued: u64,
    next_call: u64,
    reads: Option<CounterId>,
}

impl KvReader {
    /// Poisson reads at `rate_per_s` of keys drawn from `keys`.
    pub fn new(target: NodeId, keys: KeyDist, rate_per_s: f64, max_reads: Option<u64>) -> Self {
        KvReader {
            target,
            keys,
            interarrival: Dist::exponential(1e9 / rate_per_s).expect("rate must be > 0"),
            max_reads,
            pending: BTreeMap::new(),
            returned: Vec::new(),
            issued: 0,
            next_call: 0,
            reads: None,
        }
    }

    /// The reads that returned since the last call, in return order.
    pub fn take_returned(&mut self) -> Vec<KvOp> {
        std::mem::take(&mut self.returned)
    }

    /// The reads that returned and have not been taken yet.
    pub fn returned(&self) -> &[KvOp] {
        &self.returned
    }
}

impl Node<Rpc> for KvReader {
    fn footprint(&self) -> u64 {
        (self.pending.len() + self.returned.len()) as u64 * ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        self.reads = Some(ctx.metrics().counter(&format!("{name}.reads")));
        let gap = self.interarrival.sample_duration(ctx.rng());
        ctx.set_timer(gap, KvTimer::KvNext);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, _: NodeId, msg: Rpc) {
        if let Rpc::Kv(KvMsg::KvValue { call, version, .. }) = msg
            && let Some(mut op) = self.pending.remove(&call)
        {
            op.kind = KvOpKind::Read(version);
            op.ret = Some(ctx.now().as_nanos());
            self.returned.push(op);
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        if payload != Rpc::KvTimer(KvTimer::KvNext) {
            return;
        }
        if self.max_reads.is_some_and(|max| self.issued >= max) {
            return;
        }
        let key = self.keys.sample(ctx.rng());
        let call = self.next_call;
        self.next_call += 1;
        self.issued += 1;
        let op = KvOp {
            client: ctx.id().index() as u32,
            key,
            kind: KvOpKind::Read(0),
            invoke: ctx.now().as_nanos(),
            ret: None,
        };
        self.pending.insert(call, op);
        let reads = self.reads.expect("started");
        ctx.metrics().add(reads, 1);
        ctx.send(self.target, KvMsg::KvRead { call, key });
        let gap = self.interarrival.sample_duration(ctx.rng());
        ctx.set_timer(gap, KvTimer::KvNext);
    }
}

/// A client writing keys: to the database and then invalidating the cache
/// (cache-aside), or through the cache (write-through). The only writer,
/// it numbers each key's versions 1, 2, 3...
pub struct KvWriter {
    /// Where writes go: the database, or the cache in write-through.
    target: NodeId,
    /// The cache to invalidate after a write, if any.
    invalidate: Option<NodeId>,
    keys: KeyDist,
    interarrival: Dist,
    max_writes: Option<u64>,
    versions: BTreeMap<u64, u64>,
    /// Writes in flight, by call.
    pending: BTreeMap<u64, KvOp>,
    /// Acknowledged since the checkers last took them, in order.
    returned: Vec<KvOp>,
    issued: u64,
    next_call: u64,
    writes: Option<CounterId>,
}

impl KvWriter {
    pub fn new(
        target: NodeId,
        invalidate: Option<NodeId>,
        keys: KeyDist,
        rate_per_s: f64,
        max_writes: Option<u64>,
    ) -> Self {
        KvWriter {
            target,
            invalidate,
            keys,
            interarrival: Dist::exponential(1e9 / rate_per_s).expect("rate must be > 0"),
            max_writes,
            versions: BTreeMap::new(),
            pending: BTreeMap::new(),
            returned: Vec::new(),
            issued: 0,
            next_call: 0,
            writes: None,
        }
    }

    /// The writes acknowledged since the last call, in order.
    pub fn take_returned(&mut self) -> Vec<KvOp> {
        std::mem::take(&mut self.returned)
    }

    /// The writes acknowledged and not taken yet.
    pub fn returned(&self) -> &[KvOp] {
        &self.returned
    }
}

impl Node<Rpc> for KvWriter {
    fn footprint(&self) -> u64 {
        (self.versions.len() + self.pending.len() + self.returned.len()) as u64 * ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        self.writes = Some(ctx.metrics().counter(&format!("{name}.writes")));
        let gap = self.interarrival.sample_duration(ctx.rng());
        ctx.set_timer(gap, KvTimer::KvNext);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, _: NodeId, msg: Rpc) {
        if let Rpc::Kv(KvMsg::KvAck { call }) = msg
            && let Some(mut op) = self.pending.remove(&call)
        {
            op.ret = Some(ctx.now().as_nanos());
            let key = op.key;
            self.returned.push(op);
            if let Some(cache) = self.invalidate {
                ctx.send(cache, KvMsg::Invalidate { key });
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        if payload != Rpc::KvTimer(KvTimer::KvNext) {
            return;
        }
        if self.max_writes.is_some_and(|max| self.issued >= max) {
            return;
        }
        let key = self.keys.sample(ctx.rng());
        let version = {
            let v = self.versions.entry(key).or_insert(0);
            *v += 1;
            *v
        };
        let call = self.next_call;
        self.next_call += 1;
        self.issued += 1;
        let op = KvOp {
            client: ctx.id().index() as u32,
            key,
            kind: KvOpKind::Write(version),
            invoke: ctx.now().as_nanos(),
            ret: None,
        };
        self.pending.insert(call, op);
        let writes = self.writes.expect("started");
        ctx.metrics().add(writes, 1);
        let now = ctx.now();
        ctx.send(
            self.target,
            KvMsg::KvWrite {
                call,
                key,
                version,
                value: version,
                written_at: now,
            },
        );
        let gap = self.interarrival.sample_duration(ctx.rng());
        ctx.set_timer(gap, KvTimer::KvNext);
    }
}
