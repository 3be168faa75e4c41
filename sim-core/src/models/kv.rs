//! Where data lives: a versioned key-value store replica, and a client that
//! reads and writes through N/R/W quorums over a set of replicas.
//!
//! A replica keeps, per key, the highest version it was sent, its value and
//! the time it was written by the writer's clock (which may be skewed:
//! `KvStore::with_skew`). It answers reads with what it holds.
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

use super::rpc::Rpc;
use crate::checker::linearizability::{Operation, RegisterOp};
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, HistogramId};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// One replica of a versioned key-value store.
pub struct KvStore {
    data: BTreeMap<u64, (u64, u64, SimTime)>,
    /// Added to the true time when this node stamps a write it makes.
    pub skew: i64,
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
            skew: 0,
        }
    }

    /// A replica whose clock is `skew` nanoseconds ahead (or behind).
    pub fn with_skew(skew: i64) -> Self {
        KvStore {
            data: BTreeMap::new(),
            skew,
        }
    }

    /// (version, value, written at) held for `key`.
    pub fn get(&self, key: u64) -> Option<(u64, u64, SimTime)> {
        self.data.get(&key).copied()
    }
}

impl Node<Rpc> for KvStore {
    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        match msg {
            Rpc::KvWrite {
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
                ctx.send(from, Rpc::KvAck { call });
            }
            Rpc::KvRead { call, key } => {
                let (version, value, _) =
                    self.data
                        .get(&key)
                        .copied()
                        .unwrap_or((0, 0, SimTime::ZERO));
                ctx.send(
                    from,
                    Rpc::KvValue {
                        call,
                        version,
                        value,
                    },
                );
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, _: &mut Context<'_, Rpc>, _: TimerId, _: Rpc) {}
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
    pub think: SimDuration,
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
                    Rpc::KvWrite {
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
                ctx.send(to, Rpc::KvRead { call, key: 0 });
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
        ctx.set_timer(self.cfg.think, Rpc::KvNext);
    }
}

impl Node<Rpc> for QuorumClient {
    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let m = ctx.metrics();
        self.m = Some(Metrics {
            writes: m.counter(&format!("{name}.writes")),
            reads: m.counter(&format!("{name}.reads")),
            stale: m.counter(&format!("{name}.stale_reads")),
            behind: m.histogram(&format!("{name}.stale_versions")),
        });
        ctx.set_timer(self.cfg.think, Rpc::KvNext);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, _from: NodeId, msg: Rpc) {
        let Some((call, pending)) = self.pending.as_mut() else {
            return;
        };
        match (msg, pending) {
            (Rpc::KvAck { call: c }, Pending::Write { acks, version }) if c == *call => {
                *acks += 1;
                if *acks == self.cfg.w {
                    self.committed = *version;
                    self.done(ctx, None);
                }
            }
            (
                Rpc::KvValue {
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
        if payload == Rpc::KvNext {
            self.next_operation(ctx);
        }
    }
}
