//! The engine: nodes, their context, the event loop, timers, crashes and
//! scheduled faults, bounded runs and the fingerprint.
//!
//! Everything on the simulated network is a [`Node`]. A node acts only
//! through its [`Context`]: it reads the virtual clock, draws from its own
//! random stream, sends messages (through the simulated network), sets and
//! cancels timers, records metrics and notes. Built-in models and a user's
//! own components implement the same trait.
//!
//! Architecture invariants:
//! - Events are processed in (time, insertion sequence) order; nothing is
//!   ever scheduled before the current time (asserted by the queue).
//! - A handler runs only for a node that is up. A crash invalidates every
//!   timer the node had set; messages that arrive while it is down are
//!   dropped and counted.
//! - The fingerprint folds in every processed event and nothing else, so it
//!   is independent of tracing, metrics and wall-clock speed.

use crate::metrics::{CounterId, Metrics};
use crate::network::{LinkSpec, Network, Partition, ZoneId};
use crate::queue::EventQueue;
use crate::rng::{SimRng, StreamPurpose, stream_id};
use crate::time::{SimDuration, SimTime};
use crate::trace::{Fingerprint, NoTrace, StableHasher, TraceKind, TraceRecord, TraceSink};
use core::fmt;
use core::hash::{Hash, Hasher};
use std::any::Any;
use std::collections::BTreeMap;

/// What nodes exchange: any cloneable, hashable, printable type. The hash
/// feeds the fingerprint; `Debug` is used only when tracing.
pub trait Message: Clone + Hash + fmt::Debug + 'static {}
impl<T: Clone + Hash + fmt::Debug + 'static> Message for T {}

pub use crate::ids::{NodeId, TimerId};

/// A participant in the simulation: a client, a server, a cache, a load
/// balancer, a user's own component.
pub trait Node<M: Message>: Any {
    /// Called once, in node-id order, when the run starts.
    fn on_start(&mut self, ctx: &mut Context<'_, M>) {
        let _ = ctx;
    }
    /// A message from `from` arrived.
    fn on_message(&mut self, ctx: &mut Context<'_, M>, from: NodeId, msg: M);
    /// A timer this node set fired; `payload` is what it was set with.
    fn on_timer(&mut self, ctx: &mut Context<'_, M>, timer: TimerId, payload: M);
    /// The node crashed: drop whatever a real process would lose. Its timers
    /// are already cancelled and it cannot act until it restarts.
    fn on_crash(&mut self, now: SimTime) {
        let _ = now;
    }
    /// The node came back after a crash. By default, starts afresh.
    fn on_restart(&mut self, ctx: &mut Context<'_, M>) {
        self.on_start(ctx);
    }
    /// An estimate of the bytes this node holds that grow as it runs
    /// (calls in flight, queues, stores, histories), for the run's memory
    /// budget. It must depend only on the node's state (lengths times a
    /// fixed size per entry, never `size_of` of a pointer-sized type), so
    /// that the run stops at the same event on every platform.
    fn footprint(&self) -> u64 {
        0
    }
}

/// What one pending event or timer slot counts for in a run's memory
/// estimate: a fixed figure, the same on 32- and 64-bit platforms.
pub const EVENT_BYTES: u64 = 64;

/// The memory estimate is taken every this many events (at event counts
/// that are multiples of it, so slicing a run does not move the stop).
pub const MEMORY_CHECK_EVERY: u64 = 1 << 14;

/// A scheduled change to the world (not a message to a node).
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    Crash(NodeId),
    Restart(NodeId),
    Partition(Partition),
    /// Heal the partition with this name.
    Heal(String),
    HealAll,
    /// From now on, messages from the first node to the second travel over
    /// this link (a latency spike, a lossy cable, and back again).
    SetNodeLink(NodeId, NodeId, LinkSpec),
    /// From now on, messages from the first zone to the second travel over
    /// this link, unless a node link overrides it.
    SetZoneLink(ZoneId, ZoneId, LinkSpec),
    /// The node stops for this long (a garbage collector, a stalled disk):
    /// it handles no message and no timer until then, and then handles
    /// everything that arrived or fell due, in order, with all it knew.
    Pause(NodeId, SimDuration),
    /// From now on the node's clock runs at this rate against true time
    /// (1.25: a quarter fast; 0.8: a fifth slow): its timers and its local
    /// time (`Context::local_now`) follow it.
    ClockRate(NodeId, f64),
    /// The node's clock is set forward (or, negative, back) by this many
    /// nanoseconds at once, as a time server's correction or an operator
    /// does: what it believes the time is (`Context::local_now`) jumps,
    /// while the timers it has set keep waiting the time they asked for
    /// (they count elapsed time, as a monotonic clock does). It never
    /// reads before zero.
    ClockJump(NodeId, i64),
}

/// What an event does. Kept to a byte, with the per-kind numbers in
/// `Event::aux` and `Event::generation`, so that an event is the message
/// plus 16 bytes: every push, pop and queue redistribution copies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EventKind {
    /// Deliver `msg` from node `aux`.
    Deliver,
    /// Fire the timer in slot `aux` of generation `generation` with `msg`.
    Timer,
    /// Apply `Core::faults[aux]`; `msg` is None.
    Fault,
}

#[derive(Debug)]
struct Event<M> {
    target: NodeId,
    aux: u32,
    generation: u32,
    kind: EventKind,
    msg: Option<M>,
}

impl<M> Event<M> {
    #[inline]
    fn deliver(target: NodeId, from: NodeId, msg: M) -> Self {
        Event {
            target,
            aux: from.0,
            generation: 0,
            kind: EventKind::Deliver,
            msg: Some(msg),
        }
    }
    #[inline]
    fn timer(target: NodeId, timer: TimerId, payload: M) -> Self {
        Event {
            target,
            aux: timer.slot,
            generation: timer.generation,
            kind: EventKind::Timer,
            msg: Some(payload),
        }
    }
    fn fault(target: NodeId, index: u32) -> Self {
        Event {
            target,
            aux: index,
            generation: 0,
            kind: EventKind::Fault,
            msg: None,
        }
    }
}

struct NodeSlot {
    name: String,
    up: bool,
    /// Paused until this time (ns): what arrives before it waits.
    paused_until: u64,
    /// The node's clock: `rate` local seconds per true second since true
    /// time `since`, when it read `local_at_since`.
    clock: Clock,
    /// Bumped at each crash; timers set by an earlier incarnation are void.
    incarnation: u32,
    rng: SimRng,
    net_rng: SimRng,
}

/// A clock's jump in words ("+3s", "-250ms").
fn jump_text(by: i64) -> String {
    let sign = if by < 0 { '-' } else { '+' };
    format!("{sign}{}", SimDuration::from_nanos(by.unsigned_abs()))
}

/// A node's clock against true time (see `Fault::ClockRate`).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Clock {
    rate: f64,
    since: u64,
    local_at_since: u64,
}

impl Clock {
    const TRUE: Clock = Clock {
        rate: 1.0,
        since: 0,
        local_at_since: 0,
    };

    /// What the clock reads at true time `now` (ns).
    fn local(&self, now: u64) -> u64 {
        if self.rate == 1.0 {
            return self.local_at_since + (now - self.since);
        }
        let run = libm::round((now - self.since) as f64 * self.rate) as u64;
        self.local_at_since.saturating_add(run)
    }

    /// The true time a wait of `after` on this clock takes.
    fn true_wait(&self, after: SimDuration) -> SimDuration {
        if self.rate == 1.0 {
            return after;
        }
        SimDuration::from_nanos(libm::round(after.as_nanos() as f64 / self.rate) as u64)
    }
}

#[derive(Clone, Copy)]
struct TimerSlot {
    generation: u32,
    /// The owner's incarnation when the timer was set.
    incarnation: u32,
}

/// Live timers by slot, with generation counters so that cancelling is O(1)
/// and a cancelled timer's queue entry is recognised as void when popped.
#[derive(Default)]
struct Timers {
    slots: Vec<TimerSlot>,
    free: Vec<u32>,
    /// Queue entries of cancelled timers not yet popped or purged.
    void_in_queue: usize,
}

impl Timers {
    #[inline]
    fn set(&mut self, owner: NodeId, incarnation: u32) -> TimerId {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(TimerSlot {
                    generation: 0,
                    incarnation,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let s = &mut self.slots[slot as usize];
        s.incarnation = incarnation;
        TimerId {
            slot,
            generation: s.generation,
            owner,
        }
    }

    #[inline]
    fn is_live(&self, t: TimerId) -> bool {
        self.slots[t.slot as usize].generation == t.generation
    }

    #[inline]
    fn release(&mut self, t: TimerId) {
        let s = &mut self.slots[t.slot as usize];
        s.generation = s.generation.wrapping_add(1);
        self.free.push(t.slot);
    }
}

/// Limits for one call to [`Simulation::run`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunLimits {
    /// Stop before processing any event later than this.
    pub until: SimTime,
    /// Stop after processing this many events in this call.
    pub max_events: u64,
    /// Stop once the run's memory estimate (pending events and timers,
    /// and every node's [`Node::footprint`]) exceeds this many bytes.
    pub max_memory: u64,
}

/// Half a billion events: minutes of work, far beyond any story, but finite.
pub const DEFAULT_EVENT_BUDGET: u64 = 500_000_000;

/// The default memory budget: 1 GiB, which a laptop and a browser tab
/// both have to spare.
pub const DEFAULT_MEMORY_BUDGET: u64 = 1 << 30;

impl RunLimits {
    pub fn until(until: SimTime) -> Self {
        RunLimits {
            until,
            max_events: DEFAULT_EVENT_BUDGET,
            max_memory: DEFAULT_MEMORY_BUDGET,
        }
    }
    pub fn for_duration(d: SimDuration) -> Self {
        Self::until(SimTime::ZERO + d)
    }
    pub fn with_max_events(mut self, n: u64) -> Self {
        self.max_events = n;
        self
    }
    pub fn with_max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = bytes;
        self
    }
}

/// Why a run stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Reached the end time; events after it remain pending.
    ReachedEnd,
    /// Nothing is left to happen.
    Idle,
    /// The event budget ran out before the end time.
    EventBudget { budget: u64 },
    /// The run's memory estimate went over its budget.
    MemoryBudget { budget: u64, estimate: u64 },
    /// A node asked to stop (`Context::stop_run`).
    Stopped { by: String, reason: String },
}

impl StopReason {
    /// The reason's name, for machines: `reached_end`, `idle`,
    /// `event_budget` or `stopped`.
    pub fn as_str(&self) -> &'static str {
        match self {
            StopReason::ReachedEnd => "reached_end",
            StopReason::Idle => "idle",
            StopReason::EventBudget { .. } => "event_budget",
            StopReason::MemoryBudget { .. } => "memory_budget",
            StopReason::Stopped { .. } => "stopped",
        }
    }
}

/// The outcome of a call to [`Simulation::run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    pub stop: StopReason,
    pub end_time: SimTime,
    /// The run's intended end.
    pub until: SimTime,
    /// Events processed by this call.
    pub events: u64,
    /// Events processed since the simulation began.
    pub total_events: u64,
    pub fingerprint: Fingerprint,
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.stop {
            StopReason::ReachedEnd => {
                write!(f, "ran to {} ({} events)", self.end_time, self.total_events)
            }
            StopReason::Idle => write!(
                f,
                "nothing left to happen at {} ({} events)",
                self.end_time, self.total_events
            ),
            StopReason::EventBudget { budget } => write!(
                f,
                "stopped at {} of {}: the event budget of {budget} events ran out. Something \
                 makes events faster than simulated time passes (a retry storm, or a timer \
                 that re-arms itself with no delay); if the load is real, raise the budget",
                self.end_time, self.until
            ),
            StopReason::MemoryBudget { budget, estimate } => write!(
                f,
                "stopped at {} of {}: the run held about {}, over its memory budget of {}. \
                 Something piles up faster than it drains (calls waiting in an unbounded \
                 queue, retries with no limit, messages sent faster than they arrive); if the \
                 load is real, raise `memory_budget` in `[run]` (or `--memory-budget`)",
                self.end_time,
                self.until,
                bytes(*estimate),
                bytes(*budget)
            ),
            StopReason::Stopped { by, reason } => {
                write!(f, "stopped at {} by {by}: {reason}", self.end_time)
            }
        }
    }
}

/// A size for people: `512 KiB`, `3.5 MiB`, `1.0 GiB`.
fn bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let n = n as f64;
    if n >= KIB * KIB * KIB {
        format!("{:.1} GiB", n / (KIB * KIB * KIB))
    } else if n >= KIB * KIB {
        format!("{:.1} MiB", n / (KIB * KIB))
    } else {
        format!("{:.0} KiB", (n / KIB).ceil())
    }
}

/// Something a caller did that the engine cannot accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineError {
    DuplicateNode(String),
    /// Two names hash to the same random stream (astronomically unlikely,
    /// but checked so that stream independence is a guarantee).
    StreamCollision(String, String),
    AlreadyStarted(String),
    ScheduledInPast {
        at: SimTime,
        now: SimTime,
    },
    InvalidFault(String),
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::DuplicateNode(n) => {
                write!(
                    f,
                    "there is already a node called `{n}`; node names must be unique"
                )
            }
            EngineError::StreamCollision(a, b) => write!(
                f,
                "node names `{a}` and `{b}` map to the same random stream; rename one"
            ),
            EngineError::AlreadyStarted(n) => {
                write!(f, "cannot add node `{n}`: the run has already started")
            }
            EngineError::ScheduledInPast { at, now } => {
                write!(
                    f,
                    "cannot schedule at {at}: simulated time is already {now}"
                )
            }
            EngineError::InvalidFault(why) => write!(f, "invalid fault: {why}"),
        }
    }
}

impl std::error::Error for EngineError {}

struct NetCounters {
    sent: CounterId,
    lost: CounterId,
    partitioned: CounterId,
    to_down_node: CounterId,
    duplicated: CounterId,
}

/// Everything but the nodes themselves, so a node can be borrowed mutably
/// alongside the context it acts through.
struct Core<M> {
    seed: u64,
    now: SimTime,
    queue: EventQueue<Event<M>>,
    timers: Timers,
    slots: Vec<NodeSlot>,
    /// The latest `paused_until` of any node: before it, an event may be
    /// for a paused node.
    pause_horizon: u64,
    names: BTreeMap<String, NodeId>,
    streams: BTreeMap<u64, String>,
    faults: Vec<Fault>,
    network: Network,
    metrics: Metrics,
    net: NetCounters,
    trace: Box<dyn TraceSink>,
    tracing: bool,
    hasher: StableHasher,
    events: u64,
    started: bool,
    stop_request: Option<(NodeId, String)>,
    /// The end of the warm-up, until the metrics have been reset there.
    warmup: Option<SimTime>,
    /// The event count at which memory was last estimated: void timers
    /// do not count as events, so the loop can stand at one count for
    /// several iterations, and the estimate (a pass over every node) is
    /// taken once per count.
    memory_checked_at: u64,
    /// Bytes held for the run outside the nodes (a front end's checkers).
    outside_footprint: u64,
}

/// The message as it was dropped, for trace output.
struct Dropped<'a, M> {
    reason: &'static str,
    msg: &'a M,
}

impl<M: fmt::Debug> fmt::Debug for Dropped<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}", self.reason, self.msg)
    }
}

impl<M: Message> Core<M> {
    #[inline]
    fn push(&mut self, at: SimTime, event: Event<M>) {
        self.queue.push(at.as_nanos(), event);
    }

    fn trace(
        &mut self,
        kind: TraceKind,
        node: NodeId,
        peer: Option<NodeId>,
        detail: Option<&dyn fmt::Debug>,
    ) {
        self.trace_message(kind, node, peer, detail, None);
    }

    fn trace_message(
        &mut self,
        kind: TraceKind,
        node: NodeId,
        peer: Option<NodeId>,
        detail: Option<&dyn fmt::Debug>,
        message: Option<&dyn Any>,
    ) {
        let rec = TraceRecord {
            time: self.now,
            kind,
            node: &self.slots[node.index()].name,
            peer: peer.map(|p| self.slots[p.index()].name.as_str()),
            node_id: node,
            peer_id: peer,
            detail,
            message,
        };
        self.trace.record(&rec);
    }

    fn drop_message(
        &mut self,
        from: NodeId,
        to: NodeId,
        reason: &'static str,
        counter: CounterId,
        msg: &M,
    ) {
        self.metrics.add(counter, 1);
        if self.tracing {
            self.trace_message(
                TraceKind::Drop,
                from,
                Some(to),
                Some(&Dropped { reason, msg }),
                Some(msg),
            );
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: M) {
        self.metrics.add(self.net.sent, 1);
        if self.tracing {
            self.trace_message(TraceKind::Send, from, Some(to), Some(&msg), Some(&msg));
        }
        if from == to {
            self.push(self.now, Event::deliver(to, from, msg));
            return;
        }
        if self.network.is_blocked(from, to) {
            let c = self.net.partitioned;
            self.drop_message(from, to, "partition", c, &msg);
            return;
        }
        let link = self.network.link(from, to);
        let rng = &mut self.slots[from.index()].net_rng;
        if link.loss > 0.0 && rng.chance(link.loss) {
            let c = self.net.lost;
            self.drop_message(from, to, "loss", c, &msg);
            return;
        }
        let mut delay = link.latency.sample_duration(rng);
        if link.reorder > 0.0 && rng.chance(link.reorder) {
            delay = delay + link.reorder_delay.sample_duration(rng);
        }
        let copy_delay = (link.duplicate > 0.0 && rng.chance(link.duplicate))
            .then(|| link.latency.sample_duration(rng));
        let now = self.now;
        if let Some(d) = copy_delay {
            self.metrics.add(self.net.duplicated, 1);
            let copy = msg.clone();
            self.push(now.saturating_add(d), Event::deliver(to, from, copy));
        }
        self.push(now.saturating_add(delay), Event::deliver(to, from, msg));
    }

    #[inline]
    fn set_timer(&mut self, owner: NodeId, after: SimDuration, payload: M) -> TimerId {
        let incarnation = self.slots[owner.index()].incarnation;
        let timer = self.timers.set(owner, incarnation);
        // A delay past the end of representable time (a heavy-tailed draw)
        // saturates there: the timer never fires in a bounded run.
        let at = self.now.saturating_add(after);
        self.push(at, Event::timer(owner, timer, payload));
        timer
    }

    #[inline]
    fn cancel_timer(&mut self, owner: NodeId, timer: TimerId) -> bool {
        if timer.owner != owner || !self.timers.is_live(timer) {
            return false;
        }
        self.timers.release(timer);
        self.timers.void_in_queue += 1;
        self.maybe_purge();
        true
    }

    /// When cancelled timers outnumber the live entries, drop them from the
    /// queue in one pass, so memory follows what is really pending.
    fn maybe_purge(&mut self) {
        let void = self.timers.void_in_queue;
        if void < 4096 || void * 2 < self.queue.len() {
            return;
        }
        let timers = &self.timers;
        self.queue.retain(|e| {
            e.kind != EventKind::Timer
                || timers.is_live(TimerId {
                    slot: e.aux,
                    generation: e.generation,
                    owner: e.target,
                })
        });
        self.timers.void_in_queue = 0;
    }
}

/// What a node sees of the world while it handles an event.
pub struct Context<'a, M: Message> {
    core: &'a mut Core<M>,
    me: NodeId,
}

impl<M: Message> Context<'_, M> {
    #[inline]
    pub fn now(&self) -> SimTime {
        self.core.now
    }
    #[inline]
    pub fn id(&self) -> NodeId {
        self.me
    }
    pub fn name(&self) -> &str {
        &self.core.slots[self.me.index()].name
    }
    /// This node's own random stream.
    #[inline]
    pub fn rng(&mut self) -> &mut SimRng {
        &mut self.core.slots[self.me.index()].rng
    }
    /// Sends `msg` to `to` over the simulated network (to itself: delivered
    /// now, after everything already scheduled for now). Anything that
    /// converts into the message type will do, such as one model's part of
    /// it.
    #[inline]
    pub fn send(&mut self, to: NodeId, msg: impl Into<M>) {
        self.core.send(self.me, to, msg.into());
    }
    /// Calls `on_timer` with `payload` after `after`, unless cancelled first
    /// or the node crashes.
    #[inline]
    pub fn set_timer(&mut self, after: SimDuration, payload: impl Into<M>) -> TimerId {
        let after = self.core.slots[self.me.index()].clock.true_wait(after);
        self.core.set_timer(self.me, after, payload.into())
    }
    /// What this node's own clock reads: true time, unless a
    /// `Fault::ClockRate` made it drift or a `Fault::ClockJump` set it
    /// off. A lease is judged by it.
    #[inline]
    pub fn local_now(&self) -> SimTime {
        let clock = &self.core.slots[self.me.index()].clock;
        SimTime::from_nanos(clock.local(self.core.now.as_nanos()))
    }
    /// Cancels a pending timer in O(1). False if it already fired, was
    /// already cancelled, or is not this node's.
    #[inline]
    pub fn cancel_timer(&mut self, timer: TimerId) -> bool {
        self.core.cancel_timer(self.me, timer)
    }
    #[inline]
    pub fn metrics(&mut self) -> &mut Metrics {
        &mut self.core.metrics
    }
    /// Adds a note to the trace; `what` is formatted only when tracing.
    pub fn note(&mut self, what: &dyn fmt::Debug) {
        if self.core.tracing {
            self.core.trace(TraceKind::Note, self.me, None, Some(what));
        }
    }
    pub fn is_tracing(&self) -> bool {
        self.core.tracing
    }
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.core.names.get(name).copied()
    }
    pub fn node_name(&self, id: NodeId) -> &str {
        &self.core.slots[id.index()].name
    }
    pub fn node_count(&self) -> usize {
        self.core.slots.len()
    }
    pub fn network(&self) -> &Network {
        &self.core.network
    }
    /// Ends the run after this handler returns.
    pub fn stop_run(&mut self, reason: &str) {
        self.core.stop_request = Some((self.me, reason.to_string()));
    }
}

/// A simulation: nodes, the network between them, the clock and the queue.
pub struct Simulation<M: Message> {
    nodes: Vec<Box<dyn Node<M>>>,
    core: Core<M>,
}

impl<M: Message> Simulation<M> {
    pub fn new(seed: u64) -> Self {
        let mut metrics = Metrics::new();
        let net = NetCounters {
            sent: metrics.counter("net.sent"),
            lost: metrics.counter("net.dropped.loss"),
            partitioned: metrics.counter("net.dropped.partition"),
            to_down_node: metrics.counter("net.dropped.node_down"),
            duplicated: metrics.counter("net.duplicated"),
        };
        Simulation {
            nodes: Vec::new(),
            core: Core {
                seed,
                now: SimTime::ZERO,
                queue: EventQueue::new(),
                timers: Timers::default(),
                slots: Vec::new(),
                pause_horizon: 0,
                names: BTreeMap::new(),
                streams: BTreeMap::new(),
                faults: Vec::new(),
                network: Network::new(),
                metrics,
                net,
                trace: Box::new(NoTrace),
                tracing: false,
                hasher: StableHasher::default(),
                events: 0,
                started: false,
                stop_request: None,
                warmup: None,
                memory_checked_at: 0,
                outside_footprint: 0,
            },
        }
    }

    pub fn seed(&self) -> u64 {
        self.core.seed
    }
    pub fn now(&self) -> SimTime {
        self.core.now
    }
    /// The zone called `name`, created if new.
    pub fn zone(&mut self, name: &str) -> ZoneId {
        self.core.network.zone(name)
    }

    /// Adds a node called `name` in `zone`. Its random streams derive from
    /// the seed and the name alone.
    pub fn add_node(
        &mut self,
        name: &str,
        zone: ZoneId,
        node: impl Node<M>,
    ) -> Result<NodeId, EngineError> {
        self.add_boxed_node(name, zone, Box::new(node))
    }

    pub fn add_boxed_node(
        &mut self,
        name: &str,
        zone: ZoneId,
        node: Box<dyn Node<M>>,
    ) -> Result<NodeId, EngineError> {
        let core = &mut self.core;
        if core.started {
            return Err(EngineError::AlreadyStarted(name.to_string()));
        }
        if core.names.contains_key(name) {
            return Err(EngineError::DuplicateNode(name.to_string()));
        }
        for purpose in [StreamPurpose::Component, StreamPurpose::Network] {
            if let Some(other) = core.streams.get(&stream_id(name, purpose)) {
                return Err(EngineError::StreamCollision(
                    other.clone(),
                    name.to_string(),
                ));
            }
        }
        for purpose in [StreamPurpose::Component, StreamPurpose::Network] {
            core.streams
                .insert(stream_id(name, purpose), name.to_string());
        }
        let id = core.network.add_node(zone);
        debug_assert_eq!(id.index(), core.slots.len());
        core.names.insert(name.to_string(), id);
        core.slots.push(NodeSlot {
            name: name.to_string(),
            up: true,
            paused_until: 0,
            clock: Clock::TRUE,
            incarnation: 0,
            rng: SimRng::derive(core.seed, name, StreamPurpose::Component),
            net_rng: SimRng::derive(core.seed, name, StreamPurpose::Network),
        });
        self.nodes.push(node);
        Ok(id)
    }

    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.core.names.get(name).copied()
    }
    pub fn node_name(&self, id: NodeId) -> &str {
        &self.core.slots[id.index()].name
    }
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    pub fn is_up(&self, id: NodeId) -> bool {
        self.core.slots[id.index()].up
    }
    /// Every node's id and name, in id order.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, &str)> {
        self.core
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| (NodeId::from_index(i), s.name.as_str()))
    }

    /// The node with this id as its concrete type, for reading its state.
    pub fn node<T: Node<M>>(&self, id: NodeId) -> Option<&T> {
        let any: &dyn Any = self.nodes.get(id.index())?.as_ref();
        any.downcast_ref()
    }
    pub fn node_mut<T: Node<M>>(&mut self, id: NodeId) -> Option<&mut T> {
        let any: &mut dyn Any = self.nodes.get_mut(id.index())?.as_mut();
        any.downcast_mut()
    }

    pub fn network(&self) -> &Network {
        &self.core.network
    }
    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.core.network
    }
    pub fn metrics(&self) -> &Metrics {
        &self.core.metrics
    }
    pub fn metrics_mut(&mut self) -> &mut Metrics {
        &mut self.core.metrics
    }

    /// Sends trace records to `sink` from now on.
    pub fn set_trace(&mut self, sink: Box<dyn TraceSink>) {
        self.core.tracing = sink.enabled();
        self.core.trace = sink;
    }
    pub fn trace_sink(&self) -> &dyn TraceSink {
        self.core.trace.as_ref()
    }
    pub fn take_trace(&mut self) -> Box<dyn TraceSink> {
        self.core.tracing = false;
        core::mem::replace(&mut self.core.trace, Box::new(NoTrace))
    }

    /// Schedules a fault (crash, restart, partition, heal) at `at`.
    pub fn schedule(&mut self, at: SimTime, fault: Fault) -> Result<(), EngineError> {
        if at < self.core.now {
            return Err(EngineError::ScheduledInPast {
                at,
                now: self.core.now,
            });
        }
        if let Fault::SetNodeLink(_, _, link) | Fault::SetZoneLink(_, _, link) = &fault {
            link.validate().map_err(EngineError::InvalidFault)?;
        }
        if let Fault::ClockRate(_, rate) = fault
            && !(rate.is_finite() && (0.1..=10.0).contains(&rate))
        {
            return Err(EngineError::InvalidFault(format!(
                "a clock runs at 0.1 to 10 times true time, not {rate}"
            )));
        }
        let target = match &fault {
            Fault::Crash(n)
            | Fault::Restart(n)
            | Fault::SetNodeLink(n, _, _)
            | Fault::Pause(n, _)
            | Fault::ClockRate(n, _)
            | Fault::ClockJump(n, _) => *n,
            _ => NodeId(0),
        };
        self.core.faults.push(fault);
        let index = (self.core.faults.len() - 1) as u32;
        self.core.push(at, Event::fault(target, index));
        Ok(())
    }

    /// Delivers `msg` to `to` at `at` as if `from` had sent it, bypassing
    /// the network: for tests and for injecting outside input.
    pub fn inject(
        &mut self,
        at: SimTime,
        from: NodeId,
        to: NodeId,
        msg: impl Into<M>,
    ) -> Result<(), EngineError> {
        if at < self.core.now {
            return Err(EngineError::ScheduledInPast {
                at,
                now: self.core.now,
            });
        }
        self.core.push(at, Event::deliver(to, from, msg.into()));
        Ok(())
    }

    /// Events waiting in the queue, including cancelled timers not yet purged.
    /// When the next pending event happens, if any.
    pub fn next_event_time(&mut self) -> Option<SimTime> {
        self.core
            .queue
            .peek_time()
            .map(|t| SimTime::ZERO + SimDuration::from_nanos(t))
    }

    /// Leaves out of the metrics everything recorded before `end`: when
    /// the run reaches it (before the first event at or after it), the
    /// metrics begin afresh (`Metrics::begin_after_warmup`). Events are
    /// not affected, so the fingerprint is the same with or without one.
    pub fn set_warmup(&mut self, end: SimTime) {
        self.core.warmup = (end > SimTime::ZERO).then_some(end);
    }

    /// Resets the metrics if the run has reached the warm-up's end.
    fn end_warmup_by(&mut self, t: u64) {
        if let Some(w) = self.core.warmup
            && t >= w.as_nanos()
        {
            self.core.metrics.begin_after_warmup(w);
            self.core.warmup = None;
        }
    }

    pub fn pending_events(&self) -> usize {
        self.core.queue.len()
    }

    /// The run's memory estimate in bytes: pending events and timer slots
    /// at [`EVENT_BYTES`] each, every node's [`Node::footprint`], and what
    /// is held outside the nodes (`set_outside_footprint`).
    pub fn memory_estimate(&self) -> u64 {
        let fixed = (self.core.queue.len() as u64 + self.core.timers.slots.len() as u64)
            .saturating_mul(EVENT_BYTES)
            .saturating_add(self.core.outside_footprint);
        self.nodes
            .iter()
            .fold(fixed, |sum, n| sum.saturating_add(n.footprint()))
    }
    /// Says how many bytes are held for the run outside the nodes (the
    /// checkers that judge histories as the run goes), so the memory
    /// budget counts them too.
    pub fn set_outside_footprint(&mut self, bytes: u64) {
        self.core.outside_footprint = bytes;
    }

    pub fn events_processed(&self) -> u64 {
        self.core.events
    }
    /// The fingerprint of everything processed so far.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint(self.core.hasher.finish())
    }

    fn start(&mut self) {
        if self.core.started {
            return;
        }
        self.core.started = true;
        for i in 0..self.nodes.len() {
            let mut ctx = Context {
                core: &mut self.core,
                me: NodeId::from_index(i),
            };
            self.nodes[i].on_start(&mut ctx);
        }
    }

    /// Processes events in order until the end time, the event budget, an
    /// empty queue or a node's request to stop. Can be called again to go
    /// on (the web UI runs a slice per frame).
    pub fn run(&mut self, limits: RunLimits) -> RunReport {
        self.start();
        let first_event = self.core.events;
        let until = limits.until.as_nanos();
        let stop = loop {
            if let Some((by, reason)) = self.core.stop_request.take() {
                break StopReason::Stopped {
                    by: self.core.slots[by.index()].name.clone(),
                    reason,
                };
            }
            let Some(next) = self.core.queue.peek_time() else {
                if limits.until != SimTime::MAX {
                    self.core.now = self.core.now.max(limits.until);
                    self.end_warmup_by(until);
                }
                break StopReason::Idle;
            };
            if next > until {
                self.core.now = self.core.now.max(limits.until);
                self.end_warmup_by(until);
                break StopReason::ReachedEnd;
            }
            if self.core.warmup.is_some() {
                self.end_warmup_by(next);
            }
            if self.core.events - first_event >= limits.max_events {
                break StopReason::EventBudget {
                    budget: limits.max_events,
                };
            }
            if self.core.events.is_multiple_of(MEMORY_CHECK_EVERY)
                && self.core.events != self.core.memory_checked_at
            {
                let estimate = self.memory_estimate();
                // Under budget, this count is done; over it, a run that is
                // asked to go on stops here again.
                if estimate <= limits.max_memory {
                    self.core.memory_checked_at = self.core.events;
                } else {
                    break StopReason::MemoryBudget {
                        budget: limits.max_memory,
                        estimate,
                    };
                }
            }
            self.step();
        };
        if let Err(e) = self.core.trace.finish() {
            // A broken trace file must not silently pass for a complete one.
            self.core.stop_request = None;
            return RunReport {
                stop: StopReason::Stopped {
                    by: "trace sink".into(),
                    reason: format!("writing the trace failed: {e}"),
                },
                end_time: self.core.now,
                until: limits.until,
                events: self.core.events - first_event,
                total_events: self.core.events,
                fingerprint: self.fingerprint(),
            };
        }
        RunReport {
            stop,
            end_time: self.core.now,
            until: limits.until,
            events: self.core.events - first_event,
            total_events: self.core.events,
            fingerprint: self.fingerprint(),
        }
    }

    /// Processes the next event, if any; false when the queue is empty.
    /// Void (cancelled) timers are skipped and do not count as events.
    pub fn step(&mut self) -> bool {
        self.start();
        let Some((time, event)) = self.core.queue.pop() else {
            return false;
        };
        let now = SimTime::from_nanos(time);
        debug_assert!(now >= self.core.now);
        self.core.now = now;
        let target = event.target;
        // Before the last pause ends (never, in a run without one), a
        // paused node's messages and timers wait for it, in order.
        if time < self.core.pause_horizon && event.kind != EventKind::Fault {
            let paused = self.core.slots[target.index()].paused_until;
            if paused > time {
                self.core.queue.push(paused, event);
                return true;
            }
        }
        match event.kind {
            EventKind::Deliver => {
                let (from, msg) = (
                    NodeId(event.aux),
                    event.msg.expect("a delivery carries a message"),
                );
                if !self.core.slots[target.index()].up {
                    let c = self.core.net.to_down_node;
                    self.core.drop_message(from, target, "node down", c, &msg);
                    return true;
                }
                self.fold_event(time, target, 1, from.0);
                msg.hash(&mut self.core.hasher);
                if self.core.tracing {
                    self.core.trace_message(
                        TraceKind::Deliver,
                        target,
                        Some(from),
                        Some(&msg),
                        Some(&msg),
                    );
                }
                let mut ctx = Context {
                    core: &mut self.core,
                    me: target,
                };
                self.nodes[target.index()].on_message(&mut ctx, from, msg);
            }
            EventKind::Timer => {
                let timer = TimerId {
                    slot: event.aux,
                    generation: event.generation,
                    owner: target,
                };
                let timers = &mut self.core.timers;
                if !timers.is_live(timer) {
                    timers.void_in_queue = timers.void_in_queue.saturating_sub(1);
                    return true;
                }
                let slot = timers.slots[timer.slot as usize];
                timers.release(timer);
                let owner = &self.core.slots[target.index()];
                if !owner.up || slot.incarnation != owner.incarnation {
                    // Set before a crash: void.
                    return true;
                }
                let payload = event.msg.expect("a timer carries its payload");
                self.fold_event(time, target, 2, 0);
                payload.hash(&mut self.core.hasher);
                if self.core.tracing {
                    self.core.trace_message(
                        TraceKind::Timer,
                        target,
                        None,
                        Some(&payload),
                        Some(&payload),
                    );
                }
                let mut ctx = Context {
                    core: &mut self.core,
                    me: target,
                };
                self.nodes[target.index()].on_timer(&mut ctx, timer, payload);
            }
            EventKind::Fault => {
                let index = event.aux;
                self.fold_event(time, target, 3, index);
                let fault = self.core.faults[index as usize].clone();
                self.apply_fault(fault);
            }
        }
        true
    }

    #[inline]
    fn fold_event(&mut self, time: u64, target: NodeId, kind: u8, extra: u32) {
        self.core.events += 1;
        let h = &mut self.core.hasher;
        h.write_u64(time);
        h.write_u64(u64::from(target.0) | (u64::from(kind) << 32) | (u64::from(extra) << 40));
    }

    /// From now on `n`'s clock runs at `rate`.
    fn set_clock_rate(&mut self, n: NodeId, rate: f64) {
        let now = self.core.now.as_nanos();
        let slot = &mut self.core.slots[n.index()];
        slot.clock = Clock {
            rate,
            since: now,
            local_at_since: slot.clock.local(now),
        };
        if self.core.tracing {
            let what = format!("{rate}x");
            self.core.trace(TraceKind::Clock, n, None, Some(&what));
        }
    }

    /// Sets `n`'s clock off by `by` nanoseconds at once.
    fn jump_clock(&mut self, n: NodeId, by: i64) {
        let now = self.core.now.as_nanos();
        let slot = &mut self.core.slots[n.index()];
        let local = slot.clock.local(now).saturating_add_signed(by);
        slot.clock.since = now;
        slot.clock.local_at_since = local;
        if self.core.tracing {
            let what = jump_text(by);
            self.core.trace(TraceKind::Clock, n, None, Some(&what));
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        match fault {
            Fault::Crash(n) => {
                let slot = &mut self.core.slots[n.index()];
                if !slot.up {
                    return;
                }
                slot.up = false;
                slot.incarnation = slot.incarnation.wrapping_add(1);
                if self.core.tracing {
                    self.core.trace(TraceKind::Crash, n, None, None);
                }
                self.nodes[n.index()].on_crash(self.core.now);
            }
            Fault::Restart(n) => {
                if self.core.slots[n.index()].up {
                    return;
                }
                self.core.slots[n.index()].up = true;
                if self.core.tracing {
                    self.core.trace(TraceKind::Restart, n, None, None);
                }
                let mut ctx = Context {
                    core: &mut self.core,
                    me: n,
                };
                self.nodes[n.index()].on_restart(&mut ctx);
            }
            Fault::Partition(p) => {
                if self.core.tracing && !self.core.slots.is_empty() {
                    let name = p.name.clone();
                    self.core
                        .trace(TraceKind::Partition, NodeId(0), None, Some(&name));
                }
                p.name.hash(&mut self.core.hasher);
                self.core.network.partition(p);
            }
            Fault::Heal(name) => {
                if self.core.tracing && !self.core.slots.is_empty() {
                    self.core
                        .trace(TraceKind::Heal, NodeId(0), None, Some(&name));
                }
                name.hash(&mut self.core.hasher);
                self.core.network.heal(&name);
            }
            Fault::HealAll => {
                if self.core.tracing && !self.core.slots.is_empty() {
                    self.core
                        .trace(TraceKind::Heal, NodeId(0), None, Some(&"all"));
                }
                self.core.network.heal_all();
            }
            Fault::SetNodeLink(a, b, link) => {
                if self.core.tracing {
                    self.core.trace(TraceKind::Link, a, Some(b), Some(&link));
                }
                self.core.network.set_node_link(a, b, link);
            }
            Fault::Pause(n, d) => {
                let until = (self.core.now + d).as_nanos();
                let slot = &mut self.core.slots[n.index()];
                slot.paused_until = slot.paused_until.max(until);
                self.core.pause_horizon = self.core.pause_horizon.max(until);
                if self.core.tracing {
                    let lasting = d.to_string();
                    self.core.trace(TraceKind::Pause, n, None, Some(&lasting));
                }
            }
            Fault::ClockRate(n, rate) => self.set_clock_rate(n, rate),
            Fault::ClockJump(n, by) => self.jump_clock(n, by),
            Fault::SetZoneLink(a, b, link) => {
                if self.core.tracing && !self.core.slots.is_empty() {
                    let network = &self.core.network;
                    let what = (
                        network.zone_name(a).to_string(),
                        network.zone_name(b).to_string(),
                        link.clone(),
                    );
                    self.core
                        .trace(TraceKind::Link, NodeId(0), None, Some(&what));
                }
                self.core.network.set_zone_link(a, b, link);
            }
        }
    }
}
