//! One replica of a group (see the module above for the shared types).
//!
//! Leader/follower: the leader replicates asynchronously or waits for
//! `sync` followers; heartbeats carry terms; a leader without a majority
//! steps down, and a silent leader is replaced by the reachable replica
//! with the newest data; a replica that finds a newer leader asks it for a
//! snapshot. Quorums (Dynamo-style): any replica coordinates with R and W,
//! conflicts resolved by clock-stamped last-writer-wins or kept as
//! version-vector siblings, with optional read repair. Both may run
//! anti-entropy exchanges and the leader's drift checks.

use super::super::ENTRY_BYTES;
use super::super::rpc::Rpc;
use super::RepMsg;
use super::{Failover, Item, MAX_GROUP, Mode, ReplicaConfig, STAMP_NODE_BITS, merge};
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, GaugeId, HistogramId};
use crate::time::SimTime;
use std::collections::BTreeMap;

enum Op {
    Write {
        client: NodeId,
        call: u64,
        id: u64,
        stamp: u64,
        acks: usize,
        need: usize,
        answered: bool,
    },
    Read {
        client: NodeId,
        call: u64,
        key: u64,
        answers: Vec<(NodeId, Vec<Item>)>,
        merged: Vec<Item>,
        need: usize,
        answered: bool,
    },
}

struct GroupMetrics {
    writes: CounterId,
    reads: CounterId,
    lag: HistogramId,
    failovers: CounterId,
    step_downs: CounterId,
    resyncs: CounterId,
    unavailable: CounterId,
    read_repairs: CounterId,
    anti_entropy_repairs: CounterId,
    drift_alerts: CounterId,
    first_drift_alert: CounterId,
    drift_keys: GaugeId,
}

/// A replica's timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ReplicaTimer {
    /// Time for heartbeats (and, under a leader, elections).
    RepTick,
    /// Request `op` had its time.
    RepOpTimeout { op: u64 },
    /// Time for an anti-entropy exchange.
    AntiEntropyTick,
    /// The leader: time for a drift check.
    DriftTick,
}

/// One replica of a group.
pub struct Replica {
    cfg: ReplicaConfig,
    data: BTreeMap<u64, Vec<Item>>,
    term: u64,
    leader: Option<usize>,
    /// When each peer was last heard from, with its term and newest stamp.
    heard: Vec<Option<SimTime>>,
    peer_applied: Vec<u64>,
    max_term_seen: u64,
    seq: u64,
    last_stamp: u64,
    ops: BTreeMap<u64, Op>,
    next_op: u64,
    /// Every write this replica made, with the ids it superseded.
    parents: Vec<(u64, Vec<u64>)>,
    m: Option<GroupMetrics>,
}

impl Replica {
    pub fn new(cfg: ReplicaConfig) -> Self {
        assert!(cfg.index < cfg.peers.len() && cfg.peers.len() <= MAX_GROUP);
        let n = cfg.peers.len();
        let leader = matches!(cfg.mode, Mode::Leader { .. }).then_some(0);
        Replica {
            data: BTreeMap::new(),
            term: 0,
            leader,
            heard: vec![Some(SimTime::ZERO); n],
            peer_applied: vec![0; n],
            max_term_seen: 0,
            seq: 0,
            last_stamp: 0,
            ops: BTreeMap::new(),
            next_op: 0,
            parents: Vec::new(),
            m: None,
            cfg,
        }
    }

    pub fn data(&self) -> &BTreeMap<u64, Vec<Item>> {
        &self.data
    }

    /// Every write this replica coordinated, with the ids it superseded.
    pub fn write_log(&self) -> &[(u64, Vec<u64>)] {
        &self.parents
    }

    /// The group's name.
    pub fn group(&self) -> &str {
        &self.cfg.group
    }

    pub fn is_leader(&self) -> bool {
        self.leader == Some(self.cfg.index)
    }

    pub fn term(&self) -> u64 {
        self.term
    }

    fn metrics(&self) -> &GroupMetrics {
        self.m.as_ref().expect("started")
    }

    fn count(&self, ctx: &mut Context<'_, Rpc>, pick: fn(&GroupMetrics) -> CounterId) {
        let id = pick(self.metrics());
        ctx.metrics().add(id, 1);
    }

    fn read_repair(&self) -> bool {
        matches!(
            self.cfg.mode,
            Mode::Quorum {
                read_repair: true,
                ..
            }
        )
    }

    fn n(&self) -> usize {
        self.cfg.peers.len()
    }

    fn others(&self) -> impl Iterator<Item = NodeId> + '_ {
        let me = self.cfg.index;
        self.cfg
            .peers
            .iter()
            .enumerate()
            .filter(move |&(i, _)| i != me)
            .map(|(_, &p)| p)
    }

    fn index_of(&self, node: NodeId) -> Option<usize> {
        self.cfg.peers.iter().position(|&p| p == node)
    }

    /// Replicas heard from recently, this one included.
    fn reachable(&self, now: SimTime) -> Vec<usize> {
        (0..self.n())
            .filter(|&i| {
                i == self.cfg.index
                    || self.heard[i]
                        .is_some_and(|t| now.saturating_since(t) < self.cfg.failover_after)
            })
            .collect()
    }

    fn newest_stamp(&self) -> u64 {
        self.data
            .values()
            .flat_map(|items| items.iter().map(|i| i.stamp))
            .max()
            .unwrap_or(0)
    }

    fn store(&mut self, key: u64, item: &Item) -> bool {
        merge(self.data.entry(key).or_default(), item, self.cfg.siblings)
    }

    fn new_op(&mut self, op: Op) -> u64 {
        let id = self.next_op;
        self.next_op += 1;
        self.ops.insert(id, op);
        id
    }

    fn leader_node(&self) -> Option<NodeId> {
        self.leader.map(|l| self.cfg.peers[l])
    }

    fn refuse(&self, ctx: &mut Context<'_, Rpc>, to: NodeId, call: u64, maybe_applied: bool) {
        ctx.send(
            to,
            RepMsg::Refused {
                call,
                leader: self.leader_node(),
                maybe_applied,
            },
        );
    }

    fn put(&mut self, ctx: &mut Context<'_, Rpc>, client: NodeId, call: u64, key: u64, id: u64) {
        let now = ctx.now();
        let need = match self.cfg.mode {
            Mode::Leader { sync } => {
                if !self.is_leader() {
                    self.refuse(ctx, client, call, false);
                    return;
                }
                sync
            }
            Mode::Quorum { w, .. } => {
                if self.reachable(now).len() < w {
                    self.count(ctx, |m| m.unavailable);
                    self.refuse(ctx, client, call, false);
                    return;
                }
                w - 1
            }
        };
        self.count(ctx, |m| m.writes);
        self.seq += 1;
        let stamp = match self.cfg.mode {
            Mode::Leader { .. } => {
                (self.term.min((1 << 24) - 1) << 40) | (self.seq & ((1 << 40) - 1))
            }
            Mode::Quorum { .. } => {
                // Microseconds by this replica's clock, as Cassandra
                // stamps writes; never two equal stamps from one replica.
                let clock = (now.as_nanos() as i128 + self.cfg.skew_ns as i128).max(0) as u64;
                let micros = (clock / 1_000).min((1 << (64 - STAMP_NODE_BITS)) - 1);
                let raw = (micros << STAMP_NODE_BITS) | self.cfg.index as u64;
                raw.max(self.last_stamp.saturating_add(1 << STAMP_NODE_BITS))
            }
        };
        self.last_stamp = stamp;
        let held = self.data.get(&key).cloned().unwrap_or_default();
        let vv = if self.cfg.siblings {
            let mut vv = vec![0u32; self.n()];
            for h in &held {
                for (i, &c) in h.vv.iter().enumerate() {
                    vv[i] = vv[i].max(c);
                }
            }
            vv[self.cfg.index] += 1;
            vv
        } else {
            Vec::new()
        };
        self.parents.push((id, held.iter().map(|h| h.id).collect()));
        let item = Item {
            id,
            stamp,
            vv,
            at: now,
        };
        self.store(key, &item);
        let op = self.new_op(Op::Write {
            client,
            call,
            id,
            stamp,
            acks: 0,
            need,
            answered: need == 0,
        });
        if need == 0 {
            ctx.send(client, RepMsg::PutOk { call, id, stamp });
        }
        let term = self.term;
        let peers: Vec<NodeId> = self.others().collect();
        for p in peers {
            ctx.send(
                p,
                RepMsg::Replicate {
                    op: Some(op),
                    term,
                    key,
                    item: Box::new(item.clone()),
                },
            );
        }
        ctx.set_timer(self.cfg.request_timeout, ReplicaTimer::RepOpTimeout { op });
    }

    fn get(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        client: NodeId,
        call: u64,
        key: u64,
        leader_only: bool,
    ) {
        let now = ctx.now();
        self.count(ctx, |m| m.reads);
        let local = self.data.get(&key).cloned().unwrap_or_default();
        match self.cfg.mode {
            Mode::Leader { .. } => {
                if leader_only && !self.is_leader() {
                    self.refuse(ctx, client, call, false);
                } else {
                    ctx.send(client, RepMsg::GetOk { call, items: local });
                }
            }
            Mode::Quorum { r, read_repair, .. } => {
                if self.reachable(now).len() < r {
                    self.count(ctx, |m| m.unavailable);
                    self.refuse(ctx, client, call, false);
                    return;
                }
                if r == 1 {
                    ctx.send(
                        client,
                        RepMsg::GetOk {
                            call,
                            items: local.clone(),
                        },
                    );
                    if !read_repair {
                        return;
                    }
                }
                let me = self.cfg.peers[self.cfg.index];
                let op = self.new_op(Op::Read {
                    client,
                    call,
                    key,
                    answers: vec![(me, local.clone())],
                    merged: local,
                    need: r,
                    answered: r == 1,
                });
                let peers: Vec<NodeId> = self.others().collect();
                for p in peers {
                    ctx.send(p, RepMsg::Fetch { op, key });
                }
                ctx.set_timer(self.cfg.request_timeout, ReplicaTimer::RepOpTimeout { op });
            }
        }
    }

    /// Sends the newest value to each replica that answered a read with
    /// less (read repair).
    fn repair(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        key: u64,
        answers: &[(NodeId, Vec<Item>)],
        merged: &[Item],
    ) {
        let term = self.term;
        for (from, items) in answers {
            let mut behind = false;
            for item in merged {
                if !items.contains(item) {
                    behind = true;
                    ctx.send(
                        *from,
                        RepMsg::Replicate {
                            op: None,
                            term,
                            key,
                            item: Box::new(item.clone()),
                        },
                    );
                }
            }
            if behind {
                self.count(ctx, |m| m.read_repairs);
            }
        }
    }

    fn on_fetched(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, op: u64, items: Vec<Item>) {
        let siblings = self.cfg.siblings;
        let n = self.n();
        let read_repair = self.read_repair();
        let Some(Op::Read {
            client,
            call,
            key,
            answers,
            merged,
            need,
            answered,
        }) = self.ops.get_mut(&op)
        else {
            return;
        };
        for item in &items {
            merge(merged, item, siblings);
        }
        answers.push((from, items));
        if !*answered && answers.len() >= *need {
            *answered = true;
            ctx.send(
                *client,
                RepMsg::GetOk {
                    call: *call,
                    items: merged.clone(),
                },
            );
        }
        if answers.len() == n {
            let (key, answers, merged) = (*key, std::mem::take(answers), std::mem::take(merged));
            self.ops.remove(&op);
            if read_repair {
                self.repair(ctx, key, &answers, &merged);
            }
        }
    }

    fn on_timeout(&mut self, ctx: &mut Context<'_, Rpc>, op: u64) {
        let Some(op) = self.ops.remove(&op) else {
            return;
        };
        match op {
            Op::Write {
                client,
                call,
                answered: false,
                ..
            } => self.refuse(ctx, client, call, true),
            Op::Read {
                client,
                call,
                key,
                answers,
                merged,
                answered,
                ..
            } => {
                if !answered {
                    self.refuse(ctx, client, call, false);
                }
                if self.read_repair() {
                    self.repair(ctx, key, &answers, &merged);
                }
            }
            _ => {}
        }
    }

    fn heartbeat(&mut self, ctx: &mut Context<'_, Rpc>) {
        let (term, leader, applied) = (self.term, self.is_leader(), self.newest_stamp());
        let peers: Vec<NodeId> = self.others().collect();
        for p in peers {
            ctx.send(
                p,
                RepMsg::Heartbeat {
                    term,
                    leader,
                    applied,
                },
            );
        }
    }

    /// Leader/follower only: step down without a majority; elect a leader
    /// when the current one is silent.
    fn elect(&mut self, ctx: &mut Context<'_, Rpc>) {
        if !matches!(self.cfg.mode, Mode::Leader { .. }) {
            return;
        }
        let now = ctx.now();
        let reachable = self.reachable(now);
        let majority = self.cfg.failover == Failover::Timeout || reachable.len() * 2 > self.n();
        if self.is_leader() && !majority {
            self.leader = None;
            self.count(ctx, |m| m.step_downs);
            ctx.note(&"stepped down: no majority");
            return;
        }
        let leader_ok = self.leader.is_some_and(|l| reachable.contains(&l));
        if leader_ok {
            return;
        }
        self.leader = None;
        if !majority {
            return;
        }
        let me = self.cfg.index;
        let mine = self.newest_stamp();
        let candidate = reachable
            .iter()
            .copied()
            .max_by_key(|&i| {
                let applied = if i == me { mine } else { self.peer_applied[i] };
                (applied, std::cmp::Reverse(i))
            })
            .expect("this replica is reachable");
        if candidate == me {
            self.term = self.term.max(self.max_term_seen) + 1;
            self.max_term_seen = self.term;
            self.leader = Some(me);
            self.count(ctx, |m| m.failovers);
            ctx.note(&format_args!("leader of term {}", self.term));
            self.heartbeat(ctx);
        }
    }

    fn on_heartbeat(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        from: usize,
        term: u64,
        leader: bool,
        applied: u64,
    ) {
        self.heard[from] = Some(ctx.now());
        self.peer_applied[from] = applied;
        self.max_term_seen = self.max_term_seen.max(term);
        if !leader || !matches!(self.cfg.mode, Mode::Leader { .. }) {
            return;
        }
        let adopt = if term > self.term {
            true
        } else if term == self.term && self.leader != Some(from) {
            // Two leaders of one term: the lower index keeps it.
            !self.is_leader() || from < self.cfg.index
        } else {
            false
        };
        if !adopt {
            return;
        }
        let was_leader = self.is_leader();
        let newer_term = term > self.term;
        self.term = term;
        self.leader = Some(from);
        if was_leader {
            self.count(ctx, |m| m.step_downs);
        }
        if newer_term || was_leader {
            ctx.send(self.cfg.peers[from], RepMsg::SnapshotRequest);
        }
    }

    fn anti_entropy(&mut self, ctx: &mut Context<'_, Rpc>) {
        if self.n() < 2 {
            return;
        }
        let pick = ctx.rng().below(self.n() as u64 - 1) as usize;
        let to = self.others().nth(pick).expect("in range");
        let keys = self.data.iter().map(|(k, v)| (*k, v.clone())).collect();
        ctx.send(
            to,
            RepMsg::State {
                replace: false,
                term: self.term,
                keys,
            },
        );
    }

    fn on_state(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        replace: bool,
        term: u64,
        keys: Vec<(u64, Vec<Item>)>,
    ) {
        if replace {
            if term < self.term {
                return;
            }
            self.data = keys.into_iter().collect();
            self.count(ctx, |m| m.resyncs);
            return;
        }
        let mut repaired = 0;
        for (key, items) in keys {
            let mut changed = false;
            for item in &items {
                changed |= self.store(key, item);
            }
            repaired += u64::from(changed);
        }
        let id = self.metrics().anti_entropy_repairs;
        ctx.metrics().add(id, repaired);
    }

    fn drift_check(&mut self, ctx: &mut Context<'_, Rpc>) {
        if !self.is_leader() {
            return;
        }
        let keys: Vec<(u64, u64, SimTime)> = self
            .data
            .iter()
            .filter_map(|(k, v)| {
                v.iter()
                    .max_by_key(|i| i.stamp)
                    .map(|i| (*k, i.stamp, i.at))
            })
            .collect();
        let peers: Vec<NodeId> = self.others().collect();
        for p in peers {
            ctx.send(p, RepMsg::Digest { keys: keys.clone() });
        }
    }

    fn on_digest(&mut self, ctx: &mut Context<'_, Rpc>, keys: Vec<(u64, u64, SimTime)>) {
        let now = ctx.now();
        let grace = self.cfg.drift_check.unwrap_or(self.cfg.failover_after);
        let behind = keys
            .iter()
            .filter(|&&(key, stamp, at)| {
                now.saturating_since(at) > grace
                    && self
                        .data
                        .get(&key)
                        .is_none_or(|v| v.iter().all(|i| i.stamp < stamp))
            })
            .count();
        let m = self.metrics();
        let (gauge, alerts, first) = (m.drift_keys, m.drift_alerts, m.first_drift_alert);
        let metrics = ctx.metrics();
        metrics.set(gauge, now, behind as f64);
        if behind > 0 {
            if metrics.counter_value(alerts) == 0 {
                metrics.add(first, now.as_nanos() / 1_000_000);
            }
            metrics.add(alerts, 1);
        }
    }

    fn schedule_jobs(&mut self, ctx: &mut Context<'_, Rpc>) {
        ctx.set_timer(self.cfg.heartbeat, ReplicaTimer::RepTick);
        if let Some(every) = self.cfg.anti_entropy {
            ctx.set_timer(every, ReplicaTimer::AntiEntropyTick);
        }
        if let Some(every) = self.cfg.drift_check {
            ctx.set_timer(every, ReplicaTimer::DriftTick);
        }
    }
}

impl Node<Rpc> for Replica {
    fn footprint(&self) -> u64 {
        let items: usize = self.data.values().map(Vec::len).sum();
        let parents: usize = self.parents.iter().map(|(_, p)| 1 + p.len()).sum();
        (items + self.ops.len() + parents) as u64 * ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let g = self.cfg.group.clone();
        let name = ctx.name().to_string();
        let now = ctx.now();
        let m = ctx.metrics();
        self.m = Some(GroupMetrics {
            writes: m.counter(&format!("{g}.writes")),
            reads: m.counter(&format!("{g}.reads")),
            lag: m.histogram(&format!("{g}.replication_lag_ns")),
            failovers: m.counter(&format!("{g}.failovers")),
            step_downs: m.counter(&format!("{g}.step_downs")),
            resyncs: m.counter(&format!("{g}.resyncs")),
            unavailable: m.counter(&format!("{g}.unavailable")),
            read_repairs: m.counter(&format!("{g}.read_repairs")),
            anti_entropy_repairs: m.counter(&format!("{g}.anti_entropy_repairs")),
            drift_alerts: m.counter(&format!("{g}.drift_alerts")),
            first_drift_alert: m.counter(&format!("{g}.first_drift_alert_ms")),
            drift_keys: m.gauge(&format!("{name}.drift_keys"), now),
        });
        self.schedule_jobs(ctx);
    }

    fn on_restart(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.schedule_jobs(ctx);
    }

    fn on_crash(&mut self, _now: SimTime) {
        // Requests in progress are lost, and what this replica knew of the
        // others; its data is on disk and stays.
        self.ops.clear();
        self.leader = None;
        self.heard.iter_mut().for_each(|h| *h = None);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        let Rpc::Replication(msg) = msg else { return };
        match msg {
            RepMsg::Put { call, key, id } => self.put(ctx, from, call, key, id),
            RepMsg::Get {
                call,
                key,
                leader_only,
            } => self.get(ctx, from, call, key, leader_only),
            RepMsg::Replicate {
                op,
                term,
                key,
                item,
            } => {
                if term < self.term {
                    return;
                }
                if self.store(key, &item) && op.is_some() {
                    let lag = ctx.now().saturating_since(item.at).as_nanos();
                    let id = self.metrics().lag;
                    ctx.metrics().record(id, lag);
                }
                if let Some(op) = op {
                    ctx.send(from, RepMsg::Replicated { op });
                }
            }
            RepMsg::Replicated { op } => {
                if let Some(Op::Write {
                    client,
                    call,
                    id,
                    stamp,
                    acks,
                    need,
                    answered,
                }) = self.ops.get_mut(&op)
                {
                    *acks += 1;
                    if !*answered && *acks >= *need {
                        *answered = true;
                        ctx.send(
                            *client,
                            RepMsg::PutOk {
                                call: *call,
                                id: *id,
                                stamp: *stamp,
                            },
                        );
                    }
                    if *acks + 1 == self.cfg.peers.len() {
                        self.ops.remove(&op);
                    }
                }
            }
            RepMsg::Fetch { op, key } => {
                let items = self.data.get(&key).cloned().unwrap_or_default();
                ctx.send(from, RepMsg::Fetched { op, items });
            }
            RepMsg::Fetched { op, items } => self.on_fetched(ctx, from, op, items),
            RepMsg::Heartbeat {
                term,
                leader,
                applied,
            } => {
                if let Some(i) = self.index_of(from) {
                    self.on_heartbeat(ctx, i, term, leader, applied);
                }
            }
            RepMsg::SnapshotRequest if self.is_leader() => {
                let keys = self.data.iter().map(|(k, v)| (*k, v.clone())).collect();
                ctx.send(
                    from,
                    RepMsg::State {
                        replace: true,
                        term: self.term,
                        keys,
                    },
                );
            }
            RepMsg::State {
                replace,
                term,
                keys,
            } => self.on_state(ctx, replace, term, keys),
            RepMsg::Digest { keys } => self.on_digest(ctx, keys),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        let Rpc::Replica(payload) = payload else {
            return;
        };
        match payload {
            ReplicaTimer::RepTick => {
                self.heartbeat(ctx);
                self.elect(ctx);
                ctx.set_timer(self.cfg.heartbeat, ReplicaTimer::RepTick);
            }
            ReplicaTimer::RepOpTimeout { op } => self.on_timeout(ctx, op),
            ReplicaTimer::AntiEntropyTick => {
                self.anti_entropy(ctx);
                if let Some(every) = self.cfg.anti_entropy {
                    ctx.set_timer(every, ReplicaTimer::AntiEntropyTick);
                }
            }
            ReplicaTimer::DriftTick => {
                self.drift_check(ctx);
                if let Some(every) = self.cfg.drift_check {
                    ctx.set_timer(every, ReplicaTimer::DriftTick);
                }
            }
        }
    }
}
