//! A broker as a queue: messages wait in line, oldest first; a receive
//! hides a message for the visibility timeout, a delete ends it, and a
//! message not deleted in time becomes visible again and is received
//! again. A message received more than `max_receives` times goes to the
//! dead-letter queue instead. The line is kept in the order the messages
//! were stored, a returning message back in its place, so retention
//! removes from the front.

use super::broker::BrokerConfig;
use super::group::{Departure, Group};
use super::{BrokerMsg, Delivery, Envelope};
use crate::engine::{Context, TimerId};
use crate::models::rpc::Rpc;
use crate::time::SimTime;
use std::collections::{BTreeMap, VecDeque};

struct Item {
    msg: Envelope,
    appended: SimTime,
    receives: u32,
}

pub(super) struct QueueStore {
    /// Its topic's index in the broker, for its timers.
    topic: u32,
    ready: VecDeque<Item>,
    hidden: BTreeMap<u64, (Item, TimerId)>,
    next_receipt: u64,
    bytes: u64,
}

impl QueueStore {
    pub fn new(topic: u32) -> Self {
        QueueStore {
            topic,
            ready: VecDeque::new(),
            hidden: BTreeMap::new(),
            next_receipt: 0,
            bytes: 0,
        }
    }

    pub fn held(&self) -> u64 {
        (self.ready.len() + self.hidden.len()) as u64
    }

    pub fn ready_len(&self) -> u64 {
        self.ready.len() as u64
    }

    pub fn append(&mut self, msg: Envelope, now: SimTime) {
        self.bytes += u64::from(msg.bytes);
        self.ready.push_back(Item {
            msg,
            appended: now,
            receives: 0,
        });
    }

    /// Drops the `n` oldest waiting messages; their times of storing.
    pub fn shed(&mut self, n: u64) -> Vec<SimTime> {
        let mut out = Vec::new();
        for _ in 0..n {
            let Some(item) = self.ready.pop_front() else {
                break;
            };
            self.bytes -= u64::from(item.msg.bytes);
            out.push(item.appended);
        }
        out
    }

    /// Up to `max` messages, each hidden for the visibility timeout; one
    /// received too often goes to the dead-letter queue instead.
    pub fn fetch(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        g: &mut Group,
        cfg: &BrokerConfig,
        max: u32,
    ) -> Vec<Delivery> {
        let mut out = Vec::new();
        while out.len() < max as usize {
            let Some(mut item) = self.ready.pop_front() else {
                break;
            };
            if cfg.max_receives.is_some_and(|m| item.receives >= m) {
                self.bytes -= u64::from(item.msg.bytes);
                g.dead_letter(ctx, &item.msg, cfg);
                g.depart(ctx, item.appended, Departure::DeadLettered);
                continue;
            }
            item.receives += 1;
            let receipt = self.next_receipt;
            self.next_receipt += 1;
            let timer = ctx.set_timer(
                cfg.visibility,
                BrokerMsg::Visible {
                    topic: self.topic,
                    receipt,
                },
            );
            ctx.metrics().add(g.m.delivered, 1);
            if item.receives > 1 {
                ctx.metrics().add(g.m.redelivered, 1);
            }
            out.push(Delivery {
                msg: item.msg.clone(),
                partition: 0,
                offset: receipt,
                receives: item.receives,
            });
            self.hidden.insert(receipt, (item, timer));
        }
        out
    }

    pub fn delete(&mut self, ctx: &mut Context<'_, Rpc>, g: &mut Group, receipt: u64) {
        match self.hidden.remove(&receipt) {
            Some((item, timer)) => {
                ctx.cancel_timer(timer);
                self.bytes -= u64::from(item.msg.bytes);
                g.depart(ctx, item.appended, Departure::Consumed);
            }
            // Visible again (perhaps received again) before it was done.
            None => ctx.metrics().add(g.m.commits_refused, 1),
        }
    }

    /// The visibility timeout of `receipt` passed: back in line, in its
    /// place.
    pub fn visible(&mut self, receipt: u64) {
        if let Some((item, _)) = self.hidden.remove(&receipt) {
            let at = self.ready.partition_point(|i| i.appended <= item.appended);
            self.ready.insert(at, item);
        }
    }

    /// After a restart: every hidden message's timeout starts again.
    pub fn rearm(&mut self, ctx: &mut Context<'_, Rpc>, cfg: &BrokerConfig) {
        for (&receipt, (_, timer)) in &mut self.hidden {
            let visible = BrokerMsg::Visible {
                topic: self.topic,
                receipt,
            };
            *timer = ctx.set_timer(cfg.visibility, visible);
        }
    }

    /// Retention: waiting messages older than it, or beyond its bytes, are
    /// removed (hidden ones when they come back).
    pub fn expire(&mut self, ctx: &mut Context<'_, Rpc>, groups: &mut [Group], cfg: &BrokerConfig) {
        let now = ctx.now();
        while let Some(front) = self.ready.front() {
            let too_old = cfg
                .retention
                .is_some_and(|r| now.saturating_since(front.appended) > r);
            let too_big = cfg.retention_bytes.is_some_and(|b| self.bytes > b);
            if !(too_old || too_big) {
                break;
            }
            let item = self.ready.pop_front().expect("front");
            self.bytes -= u64::from(item.msg.bytes);
            for g in groups.iter_mut() {
                if item.receives == 0 {
                    g.unread(ctx);
                }
                g.depart(ctx, item.appended, Departure::Expired);
            }
        }
    }

    /// The age in seconds of the oldest message held.
    pub fn oldest(&self, now: SimTime) -> f64 {
        let hidden = self.hidden.values().map(|(i, _)| i.appended).min();
        let ready = self.ready.front().map(|i| i.appended);
        match (hidden, ready) {
            (None, None) => 0.0,
            (a, b) => {
                let t = a.into_iter().chain(b).min().expect("one");
                now.saturating_since(t).as_nanos() as f64 / 1e9
            }
        }
    }
}
