//! What the views need from a run as it plays, collected by one trace sink
//! and kept small, so playback stays cheap:
//!
//! - traffic per link since the view last looked (the topology's dots and
//!   red marks), with an election's votes and the heartbeats counted
//!   apart;
//! - marks for the timeline: faults (crash, restart, partition, heal, link
//!   changes) and pattern events the models note (a breaker opening, a
//!   leader elected, a replica ejected);
//! - the most recent requests, each with every message it caused: its path
//!   and timings, attempts, cache hits or misses, the replicas it read.
//!
//! A request is followed by what its messages carry: an order id (unique
//! per client, kept by every hop of the request path), call ids (unique
//! per caller, and echoed by the reply), replication op ids (per
//! coordinator); and, for what carries none of these, by the handler it
//! was sent from (a cache's read of the database is sent while handling
//! the reader's read). The sink only watches: the run is the same with it
//! or without it.

use sim_core::scenario::Rpc;
use sim_core::scenario::order_number;
use sim_core::scenario::{Purpose, Tie};
use sim_core::{SimDuration, SimTime};
use sim_core::{TraceKind, TraceRecord, TraceSink};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

/// Requests kept for the inspector (the oldest are forgotten).
pub const KEPT_REQUESTS: usize = 200;
/// Timeline marks kept (a flapping pattern cannot fill memory).
pub const KEPT_MARKS: usize = 2_000;
/// Messages kept per request.
const KEPT_HOPS: usize = 64;

/// Traffic on one directed link since the last `take_flows`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkFlow {
    pub from: String,
    pub to: String,
    pub sent: u64,
    pub dropped: u64,
    /// Of `sent`: an election's votes, and heartbeats (drawn apart).
    pub votes: u64,
    pub beats: u64,
}

/// Something to mark on the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub at: SimTime,
    /// A fault (scheduled or clicked) rather than a pattern's own event.
    pub fault: bool,
    pub text: String,
    /// The node it concerns, if one (a partition concerns several).
    pub node: Option<String>,
}

/// One message of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hop {
    pub sent: SimTime,
    /// When it arrived; None while in flight or if it was dropped.
    pub arrived: Option<SimTime>,
    pub from: String,
    pub to: String,
    /// What it was: "call", "reply ok", "read key 3", ...
    pub what: String,
    /// Why it was dropped ("loss", "partition", "node down").
    pub dropped: Option<String>,
}

/// A request followed from the node that started it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Its number in the run (requests are numbered as they start).
    pub number: u64,
    /// The node that started it (a client, a reader, a session, ...).
    pub origin: String,
    /// "order 12", "read key 3", "write key 3".
    pub label: String,
    pub start: SimTime,
    /// The last answer to the origin, and what it said.
    pub end: Option<SimTime>,
    pub outcome: Option<String>,
    pub hops: Vec<Hop>,
    /// Messages not kept once the request had `KEPT_HOPS`.
    pub hops_left_out: u32,
}

impl Request {
    /// Attempts the origin made (its calls, reads or writes sent).
    pub fn attempts(&self) -> usize {
        self.hops
            .iter()
            .filter(|h| h.from == self.origin && is_attempt(&h.what))
            .count()
    }

    /// Answers from a cache: (node, hit). A cache that read another node
    /// for this request missed.
    pub fn cache_answers(&self) -> Vec<(String, bool)> {
        let mut out: Vec<(String, bool)> = Vec::new();
        for h in &self.hops {
            if h.to == self.origin && h.what.starts_with("value") && h.from != self.origin {
                let missed = self
                    .hops
                    .iter()
                    .any(|o| o.from == h.from && o.what.starts_with("read") && o.to != h.to);
                if !out.iter().any(|(n, _)| *n == h.from) {
                    out.push((h.from.clone(), !missed));
                }
            }
        }
        out
    }

    /// Replicas that answered a read for this request, in order.
    pub fn replicas_read(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for h in &self.hops {
            let answered = h.what.starts_with("got") || h.what.starts_with("fetched");
            if answered && h.arrived.is_some() && !out.contains(&h.from) {
                out.push(h.from.clone());
            }
        }
        out
    }

    /// How long it took, if it has ended.
    pub fn took(&self) -> Option<SimDuration> {
        self.end.map(|e| e - self.start)
    }
}

fn is_attempt(what: &str) -> bool {
    ["call", "read", "write", "put", "get"]
        .iter()
        .any(|p| what.starts_with(p))
}

/// Everything collected, shared between the sink (inside the simulation)
/// and the views.
#[derive(Debug, Default)]
pub struct Observed {
    flows: Vec<LinkFlow>,
    /// (from, to) node indices -> position in `flows`.
    flow_index: HashMap<(u32, u32), usize, Fast>,
    /// The first `KEPT_MARKS` marks.
    pub marks: Vec<Mark>,
    pub requests: VecDeque<Request>,
    /// Requests that begin before this time are not followed: the player
    /// moves it up when it runs far ahead (to the end, or a seek), so that
    /// only the requests near the time shown are collected.
    pub follow_from: SimTime,
    started: u64,
    tracker: Tracker,
}

impl Observed {
    /// The traffic since the last call, and a fresh start.
    pub fn take_flows(&mut self) -> Vec<LinkFlow> {
        self.flow_index.clear();
        std::mem::take(&mut self.flows)
    }

    /// Forgets the requests followed so far: the player jumped ahead, past
    /// events the tracker did not watch.
    pub fn forget_requests(&mut self) {
        self.requests.clear();
        self.tracker = Tracker::default();
    }

    pub fn request(&self, number: u64) -> Option<&Request> {
        let first = self.requests.front()?.number;
        self.requests.get(number.checked_sub(first)? as usize)
    }

    fn flow(&mut self, r: &TraceRecord<'_>, to: &str, to_id: u32, sent: Option<Purpose>) {
        let key = (r.node_id.index() as u32, to_id);
        let i = match self.flow_index.get(&key) {
            Some(&i) => i,
            None => {
                self.flows.push(LinkFlow {
                    from: r.node.to_string(),
                    to: to.to_string(),
                    ..LinkFlow::default()
                });
                self.flow_index.insert(key, self.flows.len() - 1);
                self.flows.len() - 1
            }
        };
        let f = &mut self.flows[i];
        match sent {
            None => f.dropped += 1,
            Some(purpose) => {
                f.sent += 1;
                f.votes += u64::from(purpose == Purpose::Vote);
                f.beats += u64::from(purpose == Purpose::Heartbeat);
            }
        }
    }

    fn mark(&mut self, at: SimTime, fault: bool, text: String, node: Option<&str>) {
        if self.marks.len() < KEPT_MARKS {
            self.marks.push(Mark {
                at,
                fault,
                text,
                node: node.map(str::to_string),
            });
        }
    }
}

/// The views' handle on what the sink collects.
pub type Shared = Rc<RefCell<Observed>>;

/// A fast hasher for the sink's small integer keys (FxHash's multiply):
/// the maps are looked up on every message, and only looked up, never
/// iterated, so their order cannot matter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fast;

#[derive(Default)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

impl std::hash::BuildHasher for Fast {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

/// Ids that tie messages to requests, with the request's number. Nodes
/// are their indices.
#[derive(Debug, Default)]
struct Tracker {
    /// (caller, call id) -> request.
    calls: HashMap<(u32, u64), u64, Fast>,
    /// order -> request.
    orders: HashMap<u64, u64, Fast>,
    /// (coordinator, op id) -> request.
    ops: HashMap<(u32, u64), u64, Fast>,
    /// The handler running now: (node, request it serves).
    handler: Option<(u32, u64)>,
    /// The writes seen, by id: who made each and when (the newest
    /// `KEPT_WRITES`, oldest first in `write_order`).
    writes: HashMap<u64, (String, SimTime), Fast>,
    write_order: VecDeque<u64>,
}

/// Writes remembered for naming what a read returned.
const KEPT_WRITES: usize = 4096;

impl Tracker {
    /// Remembers the write `m` makes, if it makes one.
    fn note_write(&mut self, m: &Rpc, who: &str, at: SimTime) {
        let Some(id) = m.write_made() else { return };
        self.writes.insert(id, (who.to_string(), at));
        self.write_order.push_back(id);
        if self.write_order.len() > KEPT_WRITES
            && let Some(old) = self.write_order.pop_front()
        {
            self.writes.remove(&old);
        }
    }

    /// What a message is in the story's terms: a read says whose write it
    /// returned and when it was made, not the write's internal id.
    fn words(&self, m: &Rpc) -> String {
        match m.write_returned() {
            Some(0) => "got the first value".into(),
            Some(id) => match self.writes.get(&id) {
                Some((who, at)) => format!(
                    "got the write {who} made at {}",
                    SimDuration::from_nanos(at.as_nanos())
                ),
                None => "got a write made before the story began to be followed".into(),
            },
            None => m.describe(),
        }
    }

    /// The request the running handler of `node` serves.
    fn context(&self, node: u32) -> Option<u64> {
        self.handler.filter(|&(n, _)| n == node).map(|(_, r)| r)
    }
}

/// The trace sink that fills `Observed`.
#[derive(Debug, Default)]
pub struct ObserveSink {
    pub observed: Shared,
}

impl ObserveSink {
    fn on_send(&self, o: &mut Observed, r: &TraceRecord<'_>, to: &str, to_id: u32, m: &Rpc) {
        let Some(tie) = m.tie() else {
            return;
        };
        let t = &mut o.tracker;
        let from_id = r.node_id.index() as u32;
        let found = match tie {
            Tie::Call { call, order } => {
                let known = order
                    .and_then(|o| t.orders.get(&o).copied())
                    .or_else(|| t.context(from_id));
                let req = match known {
                    Some(req) => Some(req),
                    // Requests that began before `follow_from` are not
                    // followed (the run is catching up to a later time).
                    None if r.time < o.follow_from => None,
                    None => {
                        let label = match order {
                            Some(order) => format!("order {}", order_number(order)),
                            None => o.tracker.words(m),
                        };
                        let number = o.started;
                        o.started += 1;
                        o.requests.push_back(Request {
                            number,
                            origin: r.node.to_string(),
                            label,
                            start: r.time,
                            end: None,
                            outcome: None,
                            hops: Vec::new(),
                            hops_left_out: 0,
                        });
                        if o.requests.len() > KEPT_REQUESTS {
                            o.requests.pop_front();
                            forget(&mut o.tracker, o.requests.front().map_or(0, |f| f.number));
                        }
                        if let Some(order) = order {
                            o.tracker.orders.insert(order, number);
                        }
                        Some(number)
                    }
                };
                if let Some(req) = req {
                    o.tracker.calls.insert((from_id, call), req);
                }
                req
            }
            Tie::Answer { call } => t.calls.get(&(to_id, call)).copied(),
            Tie::Op { op } => {
                let req = t.context(from_id);
                if let Some(req) = req {
                    t.ops.insert((from_id, op), req);
                }
                req
            }
            Tie::OpAnswer { op } => t.ops.get(&(to_id, op)).copied(),
            Tie::Handler => t.context(from_id),
            // Timers are not sent.
            Tie::Timeout { .. } => None,
        };
        let Some(number) = found else { return };
        let what = o.tracker.words(m);
        let Some(req) = o.request_mut(number) else {
            return;
        };
        if req.hops.len() >= KEPT_HOPS {
            req.hops_left_out += 1;
        } else {
            req.hops.push(Hop {
                sent: r.time,
                arrived: None,
                from: r.node.to_string(),
                to: to.to_string(),
                what,
                dropped: None,
            });
        }
    }

    /// A message arrived (or was dropped): complete its hop, and remember
    /// which request the receiver's handler now serves.
    fn on_arrival(
        &self,
        o: &mut Observed,
        r: &TraceRecord<'_>,
        (peer, peer_id): (&str, u32),
        m: &Rpc,
        drop: Option<String>,
    ) {
        // A delivery is recorded at the receiver, a drop at the sender.
        let here = r.node_id.index() as u32;
        let ((sender, sender_id), (receiver, receiver_id)) = if drop.is_some() {
            ((r.node, here), (peer, peer_id))
        } else {
            ((peer, peer_id), (r.node, here))
        };
        let Some(tie) = m.tie() else {
            if drop.is_none() {
                o.tracker.handler = None;
            }
            return;
        };
        let t = &mut o.tracker;
        let found = match tie {
            Tie::Call { call, .. } => t.calls.get(&(sender_id, call)).copied(),
            Tie::Answer { call } => t.calls.get(&(receiver_id, call)).copied(),
            Tie::Op { op } => t.ops.get(&(sender_id, op)).copied(),
            Tie::OpAnswer { op } => t.ops.get(&(receiver_id, op)).copied(),
            Tie::Handler | Tie::Timeout { .. } => None,
        };
        if drop.is_none() {
            t.handler = found.map(|req| (receiver_id, req));
        }
        if found.is_none() && (o.requests.is_empty() || !matches!(tie, Tie::Handler)) {
            return;
        }
        let what = o.tracker.words(m);
        let open = |h: &Hop| {
            h.arrived.is_none()
                && h.dropped.is_none()
                && h.from == sender
                && h.to == receiver
                && h.what == what
        };
        // A message tied to its sender's handler is found by sight among
        // the newest requests.
        let Some(number) = found.or_else(|| {
            o.requests
                .iter()
                .rev()
                .take(8)
                .find(|q| q.hops.iter().any(open))
                .map(|q| q.number)
        }) else {
            return;
        };
        let Some(req) = o.request_mut(number) else {
            return;
        };
        let dropped = drop.is_some();
        if let Some(h) = req.hops.iter_mut().rev().find(|h| open(h)) {
            match drop {
                Some(reason) => h.dropped = Some(reason),
                None => h.arrived = Some(r.time),
            }
        }
        if receiver == req.origin && matches!(tie, Tie::Answer { .. }) && !dropped {
            req.end = Some(r.time);
            req.outcome = Some(what);
        }
    }
}

impl Observed {
    fn request_mut(&mut self, number: u64) -> Option<&mut Request> {
        let first = self.requests.front()?.number;
        self.requests.get_mut(number.checked_sub(first)? as usize)
    }
}

/// Forgets the ids of requests numbered below `first` (no longer kept).
fn forget(t: &mut Tracker, first: u64) {
    // Cheap enough: the maps hold the ids of about KEPT_REQUESTS requests.
    if t.calls.len() > 8 * KEPT_REQUESTS {
        t.calls.retain(|_, r| *r >= first);
        t.ops.retain(|_, r| *r >= first);
        t.orders.retain(|_, r| *r >= first);
    }
}

fn debug_text(d: &dyn std::fmt::Debug) -> String {
    let s = format!("{d:?}");
    s.trim_matches('"').to_string()
}

impl TraceSink for ObserveSink {
    fn record(&mut self, r: &TraceRecord<'_>) {
        let mut o = self.observed.borrow_mut();
        // Requests are followed only from `follow_from` on.
        let follow = r.time >= o.follow_from;
        let rpc = || r.message.and_then(|m| m.downcast_ref::<Rpc>());
        let peer = r.peer.zip(r.peer_id.map(|p| p.index() as u32));
        match (r.kind, peer) {
            (TraceKind::Send, Some((to, to_id))) => {
                let m = rpc();
                if to_id != r.node_id.index() as u32 {
                    let purpose = m.map_or(Purpose::Work, Rpc::purpose);
                    o.flow(r, to, to_id, Some(purpose));
                }
                if let Some(m) = m {
                    o.tracker.note_write(m, r.node, r.time);
                    if follow {
                        self.on_send(&mut o, r, to, to_id, m);
                    }
                }
            }
            (TraceKind::Deliver, Some(peer)) => match rpc().filter(|_| follow) {
                Some(m) => self.on_arrival(&mut o, r, peer, m, None),
                None => o.tracker.handler = None,
            },
            (TraceKind::Drop, Some((to, to_id))) => {
                // Recorded at the sender's name, with the receiver as peer.
                o.flow(r, to, to_id, None);
                if follow && let Some(m) = rpc() {
                    let reason = r
                        .detail
                        .map(debug_text)
                        .and_then(|d| d.split(':').next().map(str::to_string))
                        .unwrap_or_else(|| "dropped".into());
                    self.on_arrival(&mut o, r, (to, to_id), m, Some(reason));
                }
            }
            (TraceKind::Timer, _) => {
                // Timers carry no request ids the tracker follows, except
                // a caller's attempt timeout, which names its call.
                let node = r.node_id.index() as u32;
                o.tracker.handler = match rpc().filter(|_| follow).and_then(Rpc::tie) {
                    Some(Tie::Timeout { call }) => {
                        o.tracker.calls.get(&(node, call)).map(|&q| (node, q))
                    }
                    _ => None,
                };
            }
            (TraceKind::Note, _) => {
                let text = format!(
                    "{}: {}",
                    r.node,
                    r.detail.map(debug_text).unwrap_or_default()
                );
                o.mark(r.time, false, text, Some(r.node));
            }
            (TraceKind::Crash, _) => {
                o.mark(r.time, true, format!("crash {}", r.node), Some(r.node));
            }
            (TraceKind::Restart, _) => {
                o.mark(r.time, true, format!("restart {}", r.node), Some(r.node));
            }
            (TraceKind::Clock, _) => {
                let what = r.detail.map(debug_text).unwrap_or_default();
                let text = if what.starts_with(['+', '-']) {
                    format!("{}'s clock jumps {what}", r.node)
                } else {
                    format!("{}'s clock runs at {what}", r.node)
                };
                o.mark(r.time, true, text, Some(r.node));
            }
            (TraceKind::Pause, _) => {
                let lasting = r.detail.map(debug_text).unwrap_or_default();
                let text = format!("pause {} for {lasting}", r.node);
                o.mark(r.time, true, text, Some(r.node));
            }
            (TraceKind::Partition, _) => {
                let what = r.detail.map(debug_text).unwrap_or_default();
                o.mark(r.time, true, format!("partition {what}"), None);
            }
            (TraceKind::Heal, _) => {
                let what = r.detail.map(debug_text).unwrap_or_default();
                o.mark(r.time, true, format!("heal {what}"), None);
            }
            (TraceKind::Link, _) => {
                let what = r.detail.map(debug_text).unwrap_or_default();
                let text = match r.peer {
                    Some(peer) => format!("link {} -> {peer}: {what}", r.node),
                    None => format!("links: {what}"),
                };
                o.mark(r.time, true, text, Some(r.node));
            }
            _ => {}
        }
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
