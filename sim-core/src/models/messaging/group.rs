//! A consumer group as its broker sees it: the topic it reads, its
//! members and when each was last heard from, its generation (a log's
//! rebalances), its lag, and the metrics under its name.

use super::broker::BrokerConfig;
use super::log::GroupLog;
use super::{BrokerMsg, Envelope};
use crate::engine::{Context, NodeId};
use crate::metrics::{CounterId, GaugeId, HistogramId, Metrics, SeriesId};
use crate::models::rpc::Rpc;
use crate::time::SimTime;
use std::collections::BTreeMap;

pub(super) struct GroupMetrics {
    pub lag: GaugeId,
    pub lag_series: SeriesId,
    pub age_series: SeriesId,
    pub lag_s: GaugeId,
    pub lag_ns: HistogramId,
    pub delivered: CounterId,
    pub redelivered: CounterId,
    pub consumed: CounterId,
    pub dead_lettered: CounterId,
    pub expired: CounterId,
    pub expired_unread: CounterId,
    pub rebalances: CounterId,
    pub commits_refused: CounterId,
}

impl GroupMetrics {
    fn new(m: &mut Metrics, name: &str, now: SimTime) -> Self {
        let c = |m: &mut Metrics, what: &str| m.counter(&format!("{name}.{what}"));
        GroupMetrics {
            delivered: c(m, "delivered"),
            redelivered: c(m, "redelivered"),
            consumed: c(m, "consumed"),
            dead_lettered: c(m, "dead_lettered"),
            expired: c(m, "expired"),
            expired_unread: c(m, "expired_unread"),
            rebalances: c(m, "rebalances"),
            commits_refused: c(m, "commits_refused"),
            lag_ns: m.histogram(&format!("{name}.lag_ns")),
            lag: m.gauge(&format!("{name}.lag"), now),
            // The names the chart model reads (`scenario::charts`).
            lag_series: m.series(&format!("{name}.lag_msgs"), m.series_interval()),
            age_series: m.series(&format!("{name}.lag_age_s"), m.series_interval()),
            lag_s: m.gauge(&format!("{name}.lag_s"), now),
        }
    }
}

/// How a message left a group's lag.
#[derive(Clone, Copy)]
pub(super) enum Departure {
    Consumed,
    DeadLettered,
    Expired,
    /// A full queue dropped it (counted as the broker's `shed`).
    Shed,
}

pub(super) struct Group {
    pub name: String,
    /// The index of the topic it reads, in its broker.
    pub topic: u32,
    /// Each member and when it was last heard from.
    pub members: BTreeMap<NodeId, SimTime>,
    pub generation: u64,
    /// Messages stored that the group has not finished.
    pub lag: u64,
    pub m: GroupMetrics,
    /// A log's cursors and assignment (unused by a queue).
    pub log: GroupLog,
}

impl Group {
    /// A group with `lag` messages before it, and its metrics.
    pub fn new(
        ctx: &mut Context<'_, Rpc>,
        name: &str,
        topic: u32,
        lag: u64,
        log: GroupLog,
    ) -> Self {
        let now = ctx.now();
        let g = Group {
            name: name.to_string(),
            topic,
            members: BTreeMap::new(),
            generation: 0,
            lag,
            m: GroupMetrics::new(ctx.metrics(), name, now),
            log,
        };
        g.set_lag(ctx);
        g
    }

    /// Sends a message that failed too often to the dead-letter topic, if
    /// there is one, as a batch of its own that nobody retries. One that
    /// failed too often in the dead-letter topic itself is only counted.
    pub fn dead_letter(&self, ctx: &mut Context<'_, Rpc>, msg: &Envelope, cfg: &BrokerConfig) {
        let Some((dlq, topic)) = cfg.dead_letter else {
            return;
        };
        if (dlq, topic) == (ctx.id(), self.topic) {
            return;
        }
        let produce = BrokerMsg::Produce {
            topic,
            batch: msg.id,
            msgs: vec![msg.clone()],
            idempotent: false,
        };
        ctx.send(dlq, produce);
    }

    /// Counts an expired message nobody was ever handed.
    pub fn unread(&self, ctx: &mut Context<'_, Rpc>) {
        ctx.metrics().add(self.m.expired_unread, 1);
    }

    /// Takes one message out of the lag; `set_lag` publishes the count.
    pub fn depart(&mut self, ctx: &mut Context<'_, Rpc>, appended: SimTime, how: Departure) {
        self.lag -= 1;
        let counter = match how {
            Departure::Consumed => Some(self.m.consumed),
            Departure::DeadLettered => Some(self.m.dead_lettered),
            Departure::Expired => Some(self.m.expired),
            Departure::Shed => None,
        };
        let waited = ctx.now().saturating_since(appended).as_nanos();
        let m = ctx.metrics();
        if let Some(c) = counter {
            m.add(c, 1);
        }
        m.record(self.m.lag_ns, waited);
    }

    pub fn set_lag(&self, ctx: &mut Context<'_, Rpc>) {
        let now = ctx.now();
        let m = ctx.metrics();
        m.set(self.m.lag, now, self.lag as f64);
        m.record_series(self.m.lag_series, now, self.lag as f64);
    }

    /// The age of its oldest message not yet finished, in seconds.
    pub fn set_age(&self, ctx: &mut Context<'_, Rpc>, age: f64) {
        let now = ctx.now();
        let m = ctx.metrics();
        m.set(self.m.lag_s, now, age);
        m.record_series(self.m.age_series, now, age);
    }
}
