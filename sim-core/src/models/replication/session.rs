//! A user of a replicated group: reads and writes keys in an open loop
//! and records its history for the checkers, who take what is finished
//! as the run goes (`take_finished`).

use super::super::ENTRY_BYTES;
use super::super::rpc::Rpc;
use super::RepMsg;
use crate::checker::consistency::{KvOp, KvOpKind};
use crate::checker::linearizability::{Operation, RegisterOp};
use crate::data::keys::KeyDist;
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, HistogramId, SeriesId};
use crate::models::client::ClientTimer;
use crate::models::kv::KvTimer;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};

/// Where a session sends its reads (`read_from = "leader"` in a scenario
/// file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadFrom {
    /// The leader only (leader/follower), which refuses if it is not.
    Leader,
    /// The replica in the session's zone.
    #[default]
    Local,
    /// Any replica, at random.
    Random,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SessionConfig {
    /// The group's name, for the group-wide `requests` and `ok`.
    pub group: String,
    pub replicas: Vec<NodeId>,
    /// The replica in the session's zone (index into `replicas`).
    pub local: usize,
    /// Leader/follower (writes go to the leader) or quorums (writes go to
    /// the local replica, which coordinates).
    pub leader_mode: bool,
    pub keys: KeyDist,
    pub rate_per_s: f64,
    /// The share of operations that are reads.
    pub read_share: f64,
    pub read_from: ReadFrom,
    /// Read keys this session wrote from where it wrote them (the leader).
    pub read_your_writes: bool,
    pub timeout: SimDuration,
    /// From each time on, operations arrive at this rate (0 pauses them).
    pub rate_changes: Vec<(SimTime, f64)>,
}

/// One operation of a session, for the checkers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionOp {
    pub key: u64,
    pub write: bool,
    /// The value written, or read (0: nothing).
    pub id: u64,
    /// The stamp written or read (the order the replicas keep).
    pub stamp: u64,
    pub invoke: u64,
    /// None: no answer (a write may still have taken effect).
    pub ret: Option<u64>,
    /// Refused before it was applied anywhere, or a read that failed:
    /// not part of the history.
    pub dropped: bool,
}

impl SessionOp {
    /// The operation as the linearizability checker reads it: a register
    /// whose values are write ids.
    pub fn as_register_op(&self) -> Operation {
        Operation {
            op: if self.write {
                RegisterOp::Write(self.id)
            } else {
                RegisterOp::Read(self.id)
            },
            invoke: self.invoke,
            ret: self.ret,
        }
    }

    /// The operation as the consistency checker reads it: by `client`,
    /// with the replicas' stamp as its version.
    pub fn as_kv_op(&self, client: u32) -> KvOp {
        KvOp {
            client,
            key: self.key,
            kind: if self.write {
                KvOpKind::Write(self.stamp)
            } else {
                KvOpKind::Read(self.stamp)
            },
            invoke: self.invoke,
            ret: self.ret,
        }
    }
}

struct SessionMetrics {
    requests: CounterId,
    ok: CounterId,
    failed: CounterId,
    reads: CounterId,
    writes: CounterId,
    conflicts: CounterId,
    latency: HistogramId,
    ok_series: SeriesId,
    failed_series: SeriesId,
    waiting_series: SeriesId,
    group_requests: CounterId,
    group_ok: CounterId,
}

/// A session's timer: request `call` had no answer in time.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct SessionTimeout {
    pub call: u64,
}

/// A user of the replicated store: reads and writes keys in an open loop
/// (Poisson), records its history.
pub struct Session {
    cfg: SessionConfig,
    /// None while the rate is zero.
    interarrival: Option<Dist>,
    next_timer: Option<TimerId>,
    leader: Option<NodeId>,
    written: BTreeSet<u64>,
    /// Operations in flight, by call (calls are numbered in time order).
    pending: BTreeMap<u64, SessionOp>,
    next_call: u64,
    /// Operations finished (answered, refused or timed out) and not yet
    /// taken by the checkers.
    finished: Vec<SessionOp>,
    m: Option<SessionMetrics>,
}

impl Session {
    pub fn new(cfg: SessionConfig) -> Self {
        Session {
            interarrival: Some(Dist::exponential(1e9 / cfg.rate_per_s).expect("rate must be > 0")),
            next_timer: None,
            leader: cfg.replicas.first().copied(),
            written: BTreeSet::new(),
            pending: BTreeMap::new(),
            next_call: 0,
            finished: Vec::new(),
            m: None,
            cfg,
        }
    }

    /// Every operation not yet taken: the finished ones, then those in
    /// flight.
    pub fn history(&self) -> Vec<SessionOp> {
        let pending = self.pending.values();
        self.finished.iter().chain(pending).copied().collect()
    }

    /// Takes the operations finished since the last call: the session
    /// expects nothing more of them.
    pub fn take_finished(&mut self) -> Vec<SessionOp> {
        std::mem::take(&mut self.finished)
    }

    /// Each operation in flight, as (key, invoked at).
    pub fn in_flight(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.pending.values().map(|op| (op.key, op.invoke))
    }

    /// The name of the group it uses.
    pub fn group(&self) -> &str {
        &self.cfg.group
    }

    fn random_replica(&self, ctx: &mut Context<'_, Rpc>) -> NodeId {
        let i = ctx.rng().below(self.cfg.replicas.len() as u64) as usize;
        self.cfg.replicas[i]
    }

    fn leader_or_any(&self, ctx: &mut Context<'_, Rpc>) -> NodeId {
        match self.leader {
            Some(l) => l,
            None => self.random_replica(ctx),
        }
    }

    fn schedule_next(&mut self, ctx: &mut Context<'_, Rpc>) {
        if let Some(d) = &self.interarrival {
            let gap = d.sample_duration(ctx.rng());
            self.next_timer = Some(ctx.set_timer(gap, KvTimer::KvNext));
        }
    }

    /// How long the oldest operation still waiting has waited (0 when
    /// none waits): calls are numbered in time order, so the first
    /// pending one is the oldest.
    fn record_waiting(&self, ctx: &mut Context<'_, Rpc>) {
        let at = ctx.now();
        let now = at.as_nanos();
        let age = self
            .pending
            .values()
            .next()
            .map_or(0, |op| now.saturating_sub(op.invoke));
        let series = self.m.as_ref().expect("started").waiting_series;
        ctx.metrics().record_series(series, at, age as f64);
    }

    /// Ends operation `call` (if it is still in flight): `done` fills in
    /// what its answer said, and the operation is kept for the checkers.
    fn finish(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        call: u64,
        ok: bool,
        done: impl FnOnce(&mut SessionOp),
    ) -> Option<SessionOp> {
        let mut op = self.pending.remove(&call)?;
        self.record_waiting(ctx);
        let m = self.m.as_ref().expect("started");
        let (okc, failed, gok, latency) = (m.ok, m.failed, m.group_ok, m.latency);
        let (ok_series, failed_series) = (m.ok_series, m.failed_series);
        let at = ctx.now();
        let now = at.as_nanos();
        if ok {
            let took = now.saturating_sub(op.invoke);
            ctx.metrics().add(okc, 1);
            ctx.metrics().add(gok, 1);
            ctx.metrics().record(latency, took);
            ctx.metrics().record_series(ok_series, at, took as f64);
            op.ret = Some(now);
        } else {
            ctx.metrics().add(failed, 1);
            ctx.metrics().record_series(failed_series, at, 1.0);
        }
        done(&mut op);
        self.finished.push(op);
        Some(op)
    }

    fn next(&mut self, ctx: &mut Context<'_, Rpc>) {
        let key = self.cfg.keys.sample(ctx.rng());
        let read = ctx.rng().uniform() < self.cfg.read_share;
        let call = self.next_call;
        self.next_call += 1;
        let m = self.m.as_ref().expect("started");
        let (requests, kind, greq) = (
            m.requests,
            if read { m.reads } else { m.writes },
            m.group_requests,
        );
        ctx.metrics().add(requests, 1);
        ctx.metrics().add(kind, 1);
        ctx.metrics().add(greq, 1);
        let local = self.cfg.replicas[self.cfg.local];
        let id = ((ctx.id().index() as u64 + 1) << 40) | (call + 1);
        let invoke = ctx.now().as_nanos();
        self.pending.insert(
            call,
            SessionOp {
                key,
                write: !read,
                id: if read { 0 } else { id },
                stamp: 0,
                invoke,
                ret: None,
                dropped: false,
            },
        );
        self.record_waiting(ctx);
        let (to, msg) = if read {
            let mine = self.cfg.read_your_writes && self.written.contains(&key);
            let leader_only =
                self.cfg.leader_mode && (mine || self.cfg.read_from == ReadFrom::Leader);
            let to = if leader_only {
                self.leader_or_any(ctx)
            } else if mine {
                local
            } else {
                match self.cfg.read_from {
                    ReadFrom::Leader => self.leader_or_any(ctx),
                    ReadFrom::Local => local,
                    ReadFrom::Random => self.random_replica(ctx),
                }
            };
            (
                to,
                RepMsg::Get {
                    call,
                    key,
                    leader_only,
                },
            )
        } else {
            let to = if self.cfg.leader_mode {
                self.leader_or_any(ctx)
            } else {
                local
            };
            (to, RepMsg::Put { call, key, id })
        };
        ctx.send(to, msg);
        ctx.set_timer(self.cfg.timeout, SessionTimeout { call });
    }
}

impl Node<Rpc> for Session {
    fn footprint(&self) -> u64 {
        (self.written.len() + self.pending.len() + self.finished.len()) as u64 * ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let g = self.cfg.group.clone();
        let m = ctx.metrics();
        self.m = Some(SessionMetrics {
            requests: m.counter(&format!("{name}.requests")),
            ok: m.counter(&format!("{name}.ok")),
            failed: m.counter(&format!("{name}.failed")),
            reads: m.counter(&format!("{name}.reads")),
            writes: m.counter(&format!("{name}.writes")),
            conflicts: m.counter(&format!("{name}.conflicts")),
            latency: m.histogram(&format!("{name}.latency_ns")),
            ok_series: m.series(&format!("{name}.ok_latency_ns"), m.series_interval()),
            failed_series: m.series(&format!("{name}.failures"), m.series_interval()),
            waiting_series: m.series(&format!("{name}.waiting_ns"), m.series_interval()),
            group_requests: m.counter(&format!("{g}.requests")),
            group_ok: m.counter(&format!("{g}.ok")),
        });
        let now = ctx.now();
        for (i, &(at, _)) in self.cfg.rate_changes.iter().enumerate() {
            ctx.set_timer(
                at.saturating_since(now),
                ClientTimer::RateChange { index: i },
            );
        }
        self.schedule_next(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, _from: NodeId, msg: Rpc) {
        let Rpc::Replication(msg) = msg else { return };
        match msg {
            RepMsg::PutOk { call, id, stamp } => {
                let done = self.finish(ctx, call, true, |op| {
                    debug_assert_eq!(op.id, id);
                    op.stamp = stamp;
                });
                if let Some(op) = done {
                    self.written.insert(op.key);
                }
            }
            RepMsg::GetOk { call, items } => {
                let newest = items.iter().max_by_key(|it| (it.stamp, it.id));
                let done = self.finish(ctx, call, true, |op| {
                    if let Some(newest) = newest {
                        op.id = newest.id;
                        op.stamp = newest.stamp;
                    }
                });
                if done.is_some() && items.len() > 1 {
                    let c = self.m.as_ref().expect("started").conflicts;
                    ctx.metrics().add(c, 1);
                }
            }
            RepMsg::Refused {
                call,
                leader,
                maybe_applied,
            } => {
                self.finish(ctx, call, false, |op| {
                    op.dropped = !(op.write && maybe_applied);
                });
                if leader.is_some() {
                    self.leader = leader;
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        match payload {
            Rpc::KvTimer(KvTimer::KvNext) => {
                self.next(ctx);
                self.schedule_next(ctx);
            }
            Rpc::Client(ClientTimer::RateChange { index }) => {
                let rate = self.cfg.rate_changes[index].1;
                if let Some(t) = self.next_timer.take() {
                    ctx.cancel_timer(t);
                }
                self.interarrival = Dist::exponential(1e9 / rate).ok().filter(|_| rate > 0.0);
                self.schedule_next(ctx);
            }
            Rpc::SessionTimeout(SessionTimeout { call }) => {
                // A write may have been applied; a read left no trace.
                let done = self.finish(ctx, call, false, |op| op.dropped = !op.write);
                if done.is_some() && self.cfg.leader_mode {
                    // Whoever we thought led may be gone: ask around.
                    self.leader = None;
                }
            }
            _ => {}
        }
    }
}
