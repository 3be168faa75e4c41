//! A shard router: readers and writers call it, and it forwards each call
//! to the key-value shard that holds the key (`data::sharding`), and the
//! answer back. It can reshard once during the run (from `shards` to
//! `reshard_to` shards at `reshard_at`), counting the keys seen so far
//! that now live elsewhere: the data a real reshard would have to move.
//! (The data itself is not copied: a study of load and of the cost of
//! moving, not of the copy.)
//!
//! Metrics, prefixed with the router's name: `requests`, `keys_seen` and
//! `moved_keys` (at the reshard), and `to.<i>` (calls sent to shard i).

use super::kv::{KvMsg, KvTimer};
use super::rpc::Rpc;
use crate::data::sharding::{Partitioner, moved_keys};
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::CounterId;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, PartialEq)]
pub struct RouterConfig {
    /// Every shard that exists (a reshard may bring more into use).
    pub shards: Vec<NodeId>,
    pub partitioner: Partitioner,
    /// When to reshard, and the partitioner after it.
    pub reshard: Option<(SimTime, Partitioner)>,
}

pub struct Router {
    cfg: RouterConfig,
    current: Partitioner,
    seen: BTreeSet<u64>,
    /// Forwarded calls: router call id to (caller, caller's call id).
    forwarded: BTreeMap<u64, (NodeId, u64)>,
    next_call: u64,
    requests: Option<CounterId>,
    to: Vec<CounterId>,
}

impl Router {
    pub fn new(cfg: RouterConfig) -> Self {
        assert!(
            cfg.partitioner.shards() <= cfg.shards.len()
                && cfg
                    .reshard
                    .as_ref()
                    .is_none_or(|(_, p)| p.shards() <= cfg.shards.len()),
            "a partitioner cannot use more shards than exist"
        );
        Router {
            current: cfg.partitioner.clone(),
            cfg,
            seen: BTreeSet::new(),
            forwarded: BTreeMap::new(),
            next_call: 0,
            requests: None,
            to: Vec::new(),
        }
    }

    /// The shards, in order.
    pub fn shards(&self) -> &[NodeId] {
        &self.cfg.shards
    }

    /// Calls sent to each shard so far.
    pub fn per_shard(&self, ctx_metrics: &crate::metrics::Metrics) -> Vec<u64> {
        self.to
            .iter()
            .map(|&c| ctx_metrics.counter_value(c))
            .collect()
    }
}

impl Node<Rpc> for Router {
    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let m = ctx.metrics();
        self.requests = Some(m.counter(&format!("{name}.requests")));
        self.to = (0..self.cfg.shards.len())
            .map(|i| m.counter(&format!("{name}.to.{i}")))
            .collect();
        if let Some((at, _)) = &self.cfg.reshard {
            let after = at.saturating_since(ctx.now());
            ctx.set_timer(after, KvTimer::KvNext);
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        let Rpc::Kv(msg) = msg else { return };
        match msg {
            KvMsg::KvRead { call, key } => {
                let (shard, id) = self.route(ctx, from, call, key);
                ctx.send(shard, KvMsg::KvRead { call: id, key });
            }
            KvMsg::KvWrite {
                call,
                key,
                version,
                value,
                written_at,
            } => {
                let (shard, id) = self.route(ctx, from, call, key);
                ctx.send(
                    shard,
                    KvMsg::KvWrite {
                        call: id,
                        key,
                        version,
                        value,
                        written_at,
                    },
                );
            }
            KvMsg::KvValue {
                call,
                version,
                value,
            } => {
                if let Some((caller, c)) = self.forwarded.remove(&call) {
                    ctx.send(
                        caller,
                        KvMsg::KvValue {
                            call: c,
                            version,
                            value,
                        },
                    );
                }
            }
            KvMsg::KvAck { call } => {
                if let Some((caller, c)) = self.forwarded.remove(&call) {
                    ctx.send(caller, KvMsg::KvAck { call: c });
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        if payload != Rpc::KvTimer(KvTimer::KvNext) {
            return;
        }
        let Some((_, next)) = self.cfg.reshard.clone() else {
            return;
        };
        let moved = moved_keys(&self.current, &next, self.seen.iter().copied());
        let name = ctx.name().to_string();
        let seen = self.seen.len() as u64;
        let m = ctx.metrics();
        let (s, mv) = (
            m.counter(&format!("{name}.keys_seen")),
            m.counter(&format!("{name}.moved_keys")),
        );
        m.add(s, seen);
        m.add(mv, moved);
        ctx.note(&format_args!("resharded: {moved} of {seen} keys moved"));
        self.current = next;
    }
}

impl Router {
    fn route(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        from: NodeId,
        call: u64,
        key: u64,
    ) -> (NodeId, u64) {
        self.seen.insert(key);
        let shard = self.current.shard_of(key);
        let id = self.next_call;
        self.next_call += 1;
        self.forwarded.insert(id, (from, call));
        let (requests, to) = (self.requests.expect("started"), self.to[shard]);
        ctx.metrics().add(requests, 1);
        ctx.metrics().add(to, 1);
        (self.cfg.shards[shard], id)
    }
}
