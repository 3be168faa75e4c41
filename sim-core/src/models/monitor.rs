//! Failure detection: processes that send heartbeats, and a monitor that
//! judges from them whether each process is alive, with one of the
//! detectors of `policy::detector`.
//!
//! A heartbeat carries the sender's incarnation (how many times it has
//! started, kept on disk as real systems keep it) and, for measurement
//! only, when it last crashed. That is how the monitor learns afterwards
//! whether a suspicion was right: a heartbeat from the same incarnation
//! means the process had never stopped (it was slow, paused or cut off: a
//! false suspicion); one from a newer incarnation means it had crashed, and
//! the time from its crash to the suspicion is the detection time. A crash
//! the monitor never suspected (the process was back before the detector
//! ran out of patience) is counted as unnoticed. A suspicion still open
//! at the end is judged by nothing.
//!
//! Metrics of a monitor, prefixed with its name: `heartbeats`,
//! `suspicions`, `false_suspicions`, `unnoticed_crashes` and the histogram
//! `detection_ns`. The sender records nothing.

use super::rpc::Rpc;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, HistogramId};
use crate::policy::detector::{Detector, DetectorConfig};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// What senders and monitors say, and their timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum WatchMsg {
    /// "I am alive": from the sender's `incarnation`-th start; it last
    /// crashed at `crashed_at` (ns), for the monitor's measurements.
    Heartbeat {
        incarnation: u32,
        crashed_at: Option<u64>,
    },
    /// A sender's timer: time for the next heartbeat.
    Beat,
    /// A monitor's timer: look at the sender with this node index again.
    Look { sender: u32 },
}

/// A process that does nothing but say it is alive, every `every`.
pub struct HeartbeatSender {
    monitors: Vec<NodeId>,
    every: SimDuration,
    incarnation: u32,
    crashed_at: Option<u64>,
}

impl HeartbeatSender {
    pub fn new(monitors: Vec<NodeId>, every: SimDuration) -> Self {
        HeartbeatSender {
            monitors,
            every,
            incarnation: 0,
            crashed_at: None,
        }
    }

    fn beat(&mut self, ctx: &mut Context<'_, Rpc>) {
        for &m in &self.monitors {
            let msg = WatchMsg::Heartbeat {
                incarnation: self.incarnation,
                crashed_at: self.crashed_at,
            };
            ctx.send(m, msg);
        }
        ctx.set_timer(self.every, WatchMsg::Beat);
    }
}

impl Node<Rpc> for HeartbeatSender {
    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        self.incarnation += 1;
        self.beat(ctx);
    }

    fn on_message(&mut self, _: &mut Context<'_, Rpc>, _: NodeId, _: Rpc) {}

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        if payload == Rpc::Watch(WatchMsg::Beat) {
            self.beat(ctx);
        }
    }

    fn on_crash(&mut self, now: SimTime) {
        self.crashed_at = Some(now.as_nanos());
    }
}

/// What a monitor knows of one sender.
struct Watched {
    detector: Detector,
    incarnation: u32,
    /// Suspected since then, in this incarnation.
    suspected: Option<SimTime>,
    /// The timer that looks again when the detector would run out.
    look: Option<TimerId>,
}

struct MonitorMetrics {
    heartbeats: CounterId,
    suspicions: CounterId,
    false_suspicions: CounterId,
    unnoticed: CounterId,
    detection: HistogramId,
}

/// Judges every sender that sends it heartbeats.
pub struct Monitor {
    cfg: DetectorConfig,
    watched: BTreeMap<NodeId, Watched>,
    m: Option<MonitorMetrics>,
}

impl Monitor {
    pub fn new(cfg: DetectorConfig) -> Self {
        Monitor {
            cfg,
            watched: BTreeMap::new(),
            m: None,
        }
    }

    /// The senders it suspects now.
    pub fn suspected(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.watched
            .iter()
            .filter(|(_, w)| w.suspected.is_some())
            .map(|(&id, _)| id)
    }

    fn metrics(&self) -> &MonitorMetrics {
        self.m.as_ref().expect("started")
    }

    fn heartbeat(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        from: NodeId,
        incarnation: u32,
        crashed_at: Option<u64>,
    ) {
        let now = ctx.now();
        let cfg = self.cfg;
        let w = self.watched.entry(from).or_insert_with(|| Watched {
            detector: Detector::new(cfg),
            incarnation,
            suspected: None,
            look: None,
        });
        let m = self.m.as_ref().expect("started");
        ctx.metrics().add(m.heartbeats, 1);
        if incarnation < w.incarnation {
            return; // From before a restart, overtaken on the way.
        }
        let restarted = incarnation > w.incarnation;
        match (w.suspected.take(), restarted) {
            (Some(_), false) => ctx.metrics().add(m.false_suspicions, 1),
            (Some(at), true) => {
                let crash = crashed_at.unwrap_or(at.as_nanos());
                ctx.metrics()
                    .record(m.detection, at.as_nanos().saturating_sub(crash));
            }
            (None, true) => ctx.metrics().add(m.unnoticed, 1),
            (None, false) => {}
        }
        if restarted {
            // The gaps of the old incarnation say nothing of the new one.
            w.detector = Detector::new(cfg);
            w.incarnation = incarnation;
        }
        w.detector.heartbeat(now);
        if let Some(t) = w.look.take() {
            ctx.cancel_timer(t);
        }
        if let Some(at) = w.detector.suspect_at() {
            let sender = from.index() as u32;
            w.look = Some(ctx.set_timer(at.saturating_since(now), WatchMsg::Look { sender }));
        }
    }

    fn look(&mut self, ctx: &mut Context<'_, Rpc>, sender: NodeId) {
        let now = ctx.now();
        let suspicions = self.metrics().suspicions;
        let Some(w) = self.watched.get_mut(&sender) else {
            return;
        };
        w.look = None;
        if w.suspected.is_none() && w.detector.suspects(now) {
            w.suspected = Some(now);
            ctx.metrics().add(suspicions, 1);
        }
    }
}

impl Node<Rpc> for Monitor {
    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let m = ctx.metrics();
        let c = |m: &mut crate::metrics::Metrics, what: &str| m.counter(&format!("{name}.{what}"));
        self.m = Some(MonitorMetrics {
            heartbeats: c(m, "heartbeats"),
            suspicions: c(m, "suspicions"),
            false_suspicions: c(m, "false_suspicions"),
            unnoticed: c(m, "unnoticed_crashes"),
            detection: m.histogram(&format!("{name}.detection_ns")),
        });
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        if let Rpc::Watch(WatchMsg::Heartbeat {
            incarnation,
            crashed_at,
        }) = msg
        {
            self.heartbeat(ctx, from, incarnation, crashed_at);
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        if let Rpc::Watch(WatchMsg::Look { sender }) = payload {
            self.look(ctx, NodeId::from_index(sender as usize));
        }
    }

    fn on_crash(&mut self, _: SimTime) {
        // What it knew is gone; it learns the senders again.
        self.watched.clear();
    }

    fn on_restart(&mut self, _: &mut Context<'_, Rpc>) {}

    fn footprint(&self) -> u64 {
        let window = match self.cfg {
            DetectorConfig::Phi { window, .. } => window as u64,
            DetectorConfig::Timeout(_) => 0,
        };
        self.watched.len() as u64 * (1 + window) * super::ENTRY_BYTES
    }
}
