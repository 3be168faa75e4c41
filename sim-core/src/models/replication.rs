//! Replicated data: a group of replicas that copy each other's writes, in
//! one of two designs, and the user sessions that read and write through
//! them.
//!
//! **Leader/follower.** One replica, the leader, takes every write: it
//! stamps it `(term, sequence)`, stores it, and sends it to the followers.
//! With `sync = 0` it answers the writer at once (asynchronous
//! replication: a write can be acknowledged and then lost with the
//! leader); with `sync = k` it waits for k followers first, and fails the
//! write if they do not answer in time. Followers answer reads from what
//! they hold, so a read from a follower can be stale; how far behind a
//! follower is shows as the replication lag (the time from the leader's
//! write to the follower's copy).
//!
//! Failover: every replica sends a heartbeat to the others. A leader that
//! has not heard from a majority for `failover_after` steps down. When the
//! leader has been silent that long and a majority is reachable, the
//! reachable replica with the newest data (ties: the lowest index) makes
//! itself leader of a new term. A replica that learns of a newer term's
//! leader asks it for a snapshot and replaces its own data with it, so
//! whatever it held that the new leader did not have is gone: that is how
//! asynchronous replication loses acknowledged writes. This is a
//! simplified election (no votes, no log matching), enough to show
//! failover and its losses, not a consensus protocol.
//!
//! **Quorums (Dynamo-style).** Any replica coordinates the requests it
//! receives. A write is stamped with the coordinator's clock (which may be
//! skewed: `skew_ns`) and sent to all N replicas; the writer hears back
//! once W have stored it. A read asks all N and answers once R have
//! answered, with the newest value among them; with read repair, replicas
//! that answered with something older are sent the newer value. A
//! coordinator that cannot hear from enough replicas refuses at once.
//!
//! Conflicts: with last-writer-wins a replica keeps the value with the
//! highest stamp and silently drops the other; with version vectors it
//! keeps concurrent values side by side as siblings, a read returns them
//! all, and the next write through a replica that holds them supersedes
//! them all.
//!
//! Repair jobs, in both designs: anti-entropy (every `anti_entropy`, each
//! replica sends everything it holds to one other replica at random, which
//! keeps what is newer) and a drift check (every `drift_check`, the leader
//! sends a digest of its keys; each follower counts the keys it is behind
//! on by more than a check interval, and the group raises an alert).
//!
//! Every write remembers what it superseded (its parents), so that after
//! the run `lost_writes` can tell which acknowledged writes survive
//! nowhere, not even as an ancestor of what the replicas hold.
//!
//! Metrics, prefixed with the group's name: `writes`, `reads`,
//! `replication_lag_ns`, `failovers`, `step_downs`, `resyncs`,
//! `unavailable` (refused for want of replicas), `read_repairs`,
//! `anti_entropy_repairs`, `drift_alerts`, `first_drift_alert_ms`; per
//! replica, the gauge `drift_keys`. Sessions count `requests`, `ok`,
//! `failed`, `reads`, `writes`, `conflicts` (reads that returned
//! siblings) and the histogram `latency_ns`.

use super::ENTRY_BYTES;
use super::rpc::Rpc;
use crate::checker::consistency::{self, ConsistencyReport, KvOp, KvOpKind};
use crate::checker::linearizability::{Operation, RegisterOp, check_keys};
use crate::data::keys::KeyDist;
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, GaugeId, HistogramId, SeriesId};
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};

/// A stored value. Its value *is* its id: every write writes a fresh one.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Item {
    /// The write's id, unique in the run (chosen by the session).
    pub id: u64,
    /// The order replicas keep: higher wins.
    pub stamp: u64,
    /// The version vector (one entry per replica); empty under
    /// last-writer-wins.
    pub vv: Vec<u32>,
    /// When the write was made (true time, for lag).
    pub at: SimTime,
}

/// Low bits of a last-writer-wins stamp: the coordinator's index, so that
/// two coordinators never make equal stamps.
const STAMP_NODE_BITS: u32 = 12;
/// The most replicas in a group (the stamp's node bits).
pub const MAX_GROUP: usize = 1 << STAMP_NODE_BITS;

/// How the group replicates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One leader; it waits for `sync` followers before answering a write.
    Leader { sync: usize },
    /// Dynamo-style quorums.
    Quorum {
        r: usize,
        w: usize,
        read_repair: bool,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaConfig {
    /// The group's name, the prefix of its metrics.
    pub group: String,
    /// Every replica of the group, in order (this one included).
    pub peers: Vec<NodeId>,
    /// This replica's position in `peers`.
    pub index: usize,
    pub mode: Mode,
    /// Keep concurrent writes as siblings (version vectors) instead of
    /// last-writer-wins.
    pub siblings: bool,
    /// This replica's clock is ahead by this much (behind if negative).
    pub skew_ns: i64,
    pub heartbeat: SimDuration,
    pub failover_after: SimDuration,
    /// A coordinator fails a request it could not complete in this time.
    pub request_timeout: SimDuration,
    pub anti_entropy: Option<SimDuration>,
    pub drift_check: Option<SimDuration>,
}

impl ReplicaConfig {
    /// Defaults: heartbeats every 100ms, failover after 1s of silence,
    /// requests time out after 1s, no repair jobs, last-writer-wins.
    pub fn new(group: &str, peers: Vec<NodeId>, index: usize, mode: Mode) -> Self {
        ReplicaConfig {
            group: group.to_string(),
            peers,
            index,
            mode,
            siblings: false,
            skew_ns: 0,
            heartbeat: SimDuration::from_millis(100),
            failover_after: SimDuration::from_secs(1),
            request_timeout: SimDuration::from_secs(1),
            anti_entropy: None,
            drift_check: None,
        }
    }
}

/// Does `a` know everything `b` knows?
fn dominates(a: &[u32], b: &[u32]) -> bool {
    (0..a.len().max(b.len())).all(|i| a.get(i).unwrap_or(&0) >= b.get(i).unwrap_or(&0))
}

/// Merges `incoming` into what a replica holds for a key; true if that
/// changed.
pub fn merge(held: &mut Vec<Item>, incoming: &Item, siblings: bool) -> bool {
    if !siblings {
        if held.first().is_none_or(|h| incoming.stamp > h.stamp) {
            held.clear();
            held.push(incoming.clone());
            return true;
        }
        return false;
    }
    if held
        .iter()
        .any(|h| h.id == incoming.id || dominates(&h.vv, &incoming.vv))
    {
        return false;
    }
    held.retain(|h| !dominates(&incoming.vv, &h.vv));
    held.push(incoming.clone());
    held.sort_by_key(|h| (h.stamp, h.id));
    true
}

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
            Rpc::Refused {
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
            ctx.send(client, Rpc::PutOk { call, id, stamp });
        }
        let term = self.term;
        let peers: Vec<NodeId> = self.others().collect();
        for p in peers {
            ctx.send(
                p,
                Rpc::Replicate {
                    op: Some(op),
                    term,
                    key,
                    item: Box::new(item.clone()),
                },
            );
        }
        ctx.set_timer(self.cfg.request_timeout, Rpc::RepOpTimeout { op });
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
                    ctx.send(client, Rpc::GetOk { call, items: local });
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
                        Rpc::GetOk {
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
                    ctx.send(p, Rpc::Fetch { op, key });
                }
                ctx.set_timer(self.cfg.request_timeout, Rpc::RepOpTimeout { op });
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
                        Rpc::Replicate {
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
                Rpc::GetOk {
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
                Rpc::Heartbeat {
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
        let majority = reachable.len() * 2 > self.n();
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
            ctx.send(self.cfg.peers[from], Rpc::SnapshotRequest);
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
            Rpc::State {
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
            ctx.send(p, Rpc::Digest { keys: keys.clone() });
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
        ctx.set_timer(self.cfg.heartbeat, Rpc::RepTick);
        if let Some(every) = self.cfg.anti_entropy {
            ctx.set_timer(every, Rpc::AntiEntropyTick);
        }
        if let Some(every) = self.cfg.drift_check {
            ctx.set_timer(every, Rpc::DriftTick);
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
        match msg {
            Rpc::Put { call, key, id } => self.put(ctx, from, call, key, id),
            Rpc::Get {
                call,
                key,
                leader_only,
            } => self.get(ctx, from, call, key, leader_only),
            Rpc::Replicate {
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
                    ctx.send(from, Rpc::Replicated { op });
                }
            }
            Rpc::Replicated { op } => {
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
                            Rpc::PutOk {
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
            Rpc::Fetch { op, key } => {
                let items = self.data.get(&key).cloned().unwrap_or_default();
                ctx.send(from, Rpc::Fetched { op, items });
            }
            Rpc::Fetched { op, items } => self.on_fetched(ctx, from, op, items),
            Rpc::Heartbeat {
                term,
                leader,
                applied,
            } => {
                if let Some(i) = self.index_of(from) {
                    self.on_heartbeat(ctx, i, term, leader, applied);
                }
            }
            Rpc::SnapshotRequest if self.is_leader() => {
                let keys = self.data.iter().map(|(k, v)| (*k, v.clone())).collect();
                ctx.send(
                    from,
                    Rpc::State {
                        replace: true,
                        term: self.term,
                        keys,
                    },
                );
            }
            Rpc::State {
                replace,
                term,
                keys,
            } => self.on_state(ctx, replace, term, keys),
            Rpc::Digest { keys } => self.on_digest(ctx, keys),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        match payload {
            Rpc::RepTick => {
                self.heartbeat(ctx);
                self.elect(ctx);
                ctx.set_timer(self.cfg.heartbeat, Rpc::RepTick);
            }
            Rpc::RepOpTimeout { op } => self.on_timeout(ctx, op),
            Rpc::AntiEntropyTick => {
                self.anti_entropy(ctx);
                if let Some(every) = self.cfg.anti_entropy {
                    ctx.set_timer(every, Rpc::AntiEntropyTick);
                }
            }
            Rpc::DriftTick => {
                self.drift_check(ctx);
                if let Some(every) = self.cfg.drift_check {
                    ctx.set_timer(every, Rpc::DriftTick);
                }
            }
            _ => {}
        }
    }
}

/// Which acknowledged writes survive nowhere: neither held by a replica
/// nor an ancestor of something held. `acked` are the write ids the
/// sessions saw acknowledged; `logs` every replica's write log; `held`
/// every id the replicas hold at the end.
pub fn lost_writes(
    acked: &BTreeSet<u64>,
    logs: &[&[(u64, Vec<u64>)]],
    held: &BTreeSet<u64>,
) -> BTreeSet<u64> {
    let parents: BTreeMap<u64, &Vec<u64>> = logs
        .iter()
        .flat_map(|log| log.iter().map(|(id, p)| (*id, p)))
        .collect();
    let mut alive: BTreeSet<u64> = BTreeSet::new();
    let mut stack: Vec<u64> = held.iter().copied().collect();
    while let Some(id) = stack.pop() {
        if alive.insert(id)
            && let Some(ps) = parents.get(&id)
        {
            stack.extend(ps.iter().copied());
        }
    }
    acked.difference(&alive).copied().collect()
}

/// Where a session sends its reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFrom {
    /// The leader only (leader/follower), which refuses if it is not.
    Leader,
    /// The replica in the session's zone.
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
    group_requests: CounterId,
    group_ok: CounterId,
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
    pending: BTreeMap<u64, usize>,
    next_call: u64,
    history: Vec<SessionOp>,
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
            history: Vec::new(),
            m: None,
            cfg,
        }
    }

    pub fn history(&self) -> &[SessionOp] {
        &self.history
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
            self.next_timer = Some(ctx.set_timer(gap, Rpc::KvNext));
        }
    }

    fn finish(&mut self, ctx: &mut Context<'_, Rpc>, call: u64, ok: bool) -> Option<usize> {
        let i = self.pending.remove(&call)?;
        let m = self.m.as_ref().expect("started");
        let (okc, failed, gok, latency) = (m.ok, m.failed, m.group_ok, m.latency);
        let (ok_series, failed_series) = (m.ok_series, m.failed_series);
        let at = ctx.now();
        let now = at.as_nanos();
        if ok {
            let took = now.saturating_sub(self.history[i].invoke);
            ctx.metrics().add(okc, 1);
            ctx.metrics().add(gok, 1);
            ctx.metrics().record(latency, took);
            ctx.metrics().record_series(ok_series, at, took as f64);
            self.history[i].ret = Some(now);
        } else {
            ctx.metrics().add(failed, 1);
            ctx.metrics().record_series(failed_series, at, 1.0);
        }
        Some(i)
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
        self.pending.insert(call, self.history.len());
        self.history.push(SessionOp {
            key,
            write: !read,
            id: if read { 0 } else { id },
            stamp: 0,
            invoke,
            ret: None,
            dropped: false,
        });
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
                Rpc::Get {
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
            (to, Rpc::Put { call, key, id })
        };
        ctx.send(to, msg);
        ctx.set_timer(self.cfg.timeout, Rpc::SessionTimeout { call });
    }
}

impl Node<Rpc> for Session {
    fn footprint(&self) -> u64 {
        (self.written.len() + self.pending.len() + self.history.len()) as u64 * ENTRY_BYTES
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
            group_requests: m.counter(&format!("{g}.requests")),
            group_ok: m.counter(&format!("{g}.ok")),
        });
        let now = ctx.now();
        for (i, &(at, _)) in self.cfg.rate_changes.iter().enumerate() {
            ctx.set_timer(at.saturating_since(now), Rpc::RateChange { index: i });
        }
        self.schedule_next(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, _from: NodeId, msg: Rpc) {
        match msg {
            Rpc::PutOk { call, id, stamp } => {
                if let Some(i) = self.finish(ctx, call, true) {
                    debug_assert_eq!(self.history[i].id, id);
                    self.history[i].stamp = stamp;
                    self.written.insert(self.history[i].key);
                }
            }
            Rpc::GetOk { call, items } => {
                if let Some(i) = self.finish(ctx, call, true) {
                    if let Some(newest) = items.iter().max_by_key(|it| (it.stamp, it.id)) {
                        self.history[i].id = newest.id;
                        self.history[i].stamp = newest.stamp;
                    }
                    if items.len() > 1 {
                        let c = self.m.as_ref().expect("started").conflicts;
                        ctx.metrics().add(c, 1);
                    }
                }
            }
            Rpc::Refused {
                call,
                leader,
                maybe_applied,
            } => {
                if let Some(i) = self.finish(ctx, call, false) {
                    let op = &mut self.history[i];
                    op.dropped = !(op.write && maybe_applied);
                }
                if leader.is_some() {
                    self.leader = leader;
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        match payload {
            Rpc::KvNext => {
                self.next(ctx);
                self.schedule_next(ctx);
            }
            Rpc::RateChange { index } => {
                let rate = self.cfg.rate_changes[index].1;
                if let Some(t) = self.next_timer.take() {
                    ctx.cancel_timer(t);
                }
                self.interarrival = Dist::exponential(1e9 / rate).ok().filter(|_| rate > 0.0);
                self.schedule_next(ctx);
            }
            Rpc::SessionTimeout { call } => {
                if let Some(i) = self.finish(ctx, call, false) {
                    // A write may have been applied; a read left no trace.
                    let op = &mut self.history[i];
                    op.dropped = !op.write;
                    if self.cfg.leader_mode {
                        // Whoever we thought led may be gone: ask around.
                        self.leader = None;
                    }
                }
            }
            _ => {}
        }
    }
}

/// What the checkers find in a replicated group's run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupReport {
    /// Acknowledged writes that survive nowhere (`lost_writes`).
    pub lost_writes: u64,
    /// Keys on which the replicas do not all hold the same values.
    pub divergent_keys: u64,
    /// Per session, in the order given: its reads against every write.
    pub sessions: Vec<ConsistencyReport>,
    /// Keys whose history is not linearizable (as a register).
    pub nonlinearizable_keys: u64,
    /// Keys the linearizability search gave up on.
    pub undecided_keys: u64,
}

/// Runs the checkers over a group's final state and its sessions'
/// histories; the linearizability search may visit up to `budget` states
/// for each key (a key it cannot decide within them is undecided). Reads
/// begun before `reads_from` (a warm-up's end) are not judged for staleness
/// or session guarantees; linearizability looks at the whole history.
pub fn analyse(
    replicas: &[&Replica],
    sessions: &[&Session],
    budget: u64,
    reads_from: u64,
) -> GroupReport {
    let mut report = GroupReport::default();
    let acked: BTreeSet<u64> = sessions
        .iter()
        .flat_map(|s| s.history())
        .filter(|op| op.write && op.ret.is_some())
        .map(|op| op.id)
        .collect();
    let held: BTreeSet<u64> = replicas
        .iter()
        .flat_map(|r| r.data().values().flatten().map(|i| i.id))
        .collect();
    let logs: Vec<&[(u64, Vec<u64>)]> = replicas.iter().map(|r| r.write_log()).collect();
    report.lost_writes = lost_writes(&acked, &logs, &held).len() as u64;
    let keys: BTreeSet<u64> = replicas
        .iter()
        .flat_map(|r| r.data().keys().copied())
        .collect();
    report.divergent_keys = keys
        .iter()
        .filter(|k| {
            let ids = |r: &Replica| -> Vec<u64> {
                r.data()
                    .get(k)
                    .map_or(Vec::new(), |v| v.iter().map(|i| i.id).collect())
            };
            let first = ids(replicas[0]);
            replicas.iter().any(|r| ids(r) != first)
        })
        .count() as u64;
    // The consistency checks: versions are the replicas' stamps.
    let kv = |client: usize, op: &SessionOp| op.as_kv_op(client as u32);
    let writes: Vec<KvOp> = sessions
        .iter()
        .enumerate()
        .flat_map(|(c, s)| {
            s.history()
                .iter()
                .filter(|op| op.write && !op.dropped)
                .map(move |op| kv(c, op))
        })
        .collect();
    for (c, s) in sessions.iter().enumerate() {
        let mut ops: Vec<KvOp> = s
            .history()
            .iter()
            .filter(|op| !op.write && !op.dropped && op.invoke >= reads_from)
            .map(|op| kv(c, op))
            .collect();
        ops.extend_from_slice(&writes);
        report.sessions.push(consistency::check(&ops));
    }
    // Linearizability, key by key: values are write ids.
    let mut per_key: BTreeMap<u64, Vec<Operation>> = BTreeMap::new();
    for op in sessions.iter().flat_map(|s| s.history()) {
        if op.dropped || (!op.write && op.ret.is_none()) {
            continue;
        }
        per_key.entry(op.key).or_default().push(Operation {
            op: if op.write {
                RegisterOp::Write(op.id)
            } else {
                RegisterOp::Read(op.id)
            },
            invoke: op.invoke,
            ret: op.ret,
        });
    }
    let v = check_keys(per_key.values().map(Vec::as_slice), 0, budget);
    report.nonlinearizable_keys = v.not_linearizable;
    report.undecided_keys = v.undecided;
    report
}
