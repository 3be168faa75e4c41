//! A client on the request path: users submitting orders in an open loop.
//! Each submission is a logical request to the client's target, made of one
//! or more attempts under the caller's policies (`models::caller`: timeouts,
//! retries, a breaker, hedging, load balancing over replicas, a fallback),
//! optionally carrying an idempotency key (the order's), and sometimes
//! submitted twice by an impatient user (a double click). The arrival rate
//! can change at scheduled times (a surge, a ramp in steps), and a client
//! can apply backpressure to itself: with `max_in_flight` requests
//! outstanding it refuses new ones at once (`throttled`) instead of adding
//! to a queue downstream.
//!
//! A client can instead be closed-loop (`ClosedLoop`): a fixed number of
//! users, each thinking, sending one request, waiting for it to end
//! (however it ends), and thinking again, optionally for a fixed number of
//! tasks each (finite work). Its throughput then follows from its users'
//! patience rather than from a rate, and the interactive response time law
//! holds: R = N/X - Z.
//!
//! Metrics, prefixed with the node's name: the caller's (`requests`, `ok`,
//! `failed`, `failed.<error kind>`, `attempts`, `retries`, `latency_ns`,
//! ...; see `models::caller`), and `throttled` (refused by the client's
//! own in-flight limit, also counted as a failed request with
//! `overloaded`). A closed-loop client adds `tasks_done` (requests ended),
//! `users_done` (users who finished all their tasks) and the histogram
//! `finished_ns` (when each task ended, from the start of the run: its
//! maximum is the time the work was done). Every request ends exactly once:
//! `requests = ok + failed + in_flight()`.

use super::caller::{Caller, CallerConfig};
use super::counter::CounterMsg;
use super::request::Request;
use super::rpc::Rpc;
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, HistogramId, SeriesId};
use crate::policy::ErrorKind;
use crate::time::SimTime;

/// A client's timers (a session's rate changes use them too).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ClientTimer {
    /// Time for the next logical request.
    NextRequest,
    /// The user submits order `order` again (a double click).
    Resubmit { order: u64 },
    /// The arrival rate changes to `rate_changes[index]`.
    RateChange { index: usize },
}

/// Bits of an order id that count the client's orders; the client's node
/// index sits above them.
pub const ORDER_BITS: u32 = 40;

/// An order's number among its own client's orders (what a person would
/// call it: "order 7").
pub fn order_number(order: u64) -> u64 {
    order & ((1 << ORDER_BITS) - 1)
}

/// How a client behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Whom it calls and under which policies.
    pub call: CallerConfig,
    /// Gaps between new orders, in nanoseconds.
    pub interarrival: Dist,
    /// Send the order's id as an idempotency key with every attempt.
    pub idempotency_keys: bool,
    /// Probability that a user submits an order a second time.
    pub double_submit: f64,
    /// How long after the first submission the second comes (nanoseconds).
    pub double_submit_delay: Dist,
    /// Stop creating orders after this many.
    pub max_orders: Option<u64>,
    /// From each time on, new orders arrive as a Poisson process at this
    /// rate per second (0 pauses arrivals). Sorted by time.
    pub rate_changes: Vec<(SimTime, f64)>,
    /// Refuse new requests while this many are outstanding.
    pub max_in_flight: Option<usize>,
    /// Users who wait for each answer, instead of Poisson arrivals.
    pub closed: Option<ClosedLoop>,
}

/// A closed loop: `users` users, each repeating think, request, wait.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedLoop {
    pub users: u32,
    /// The think time before each request (nanoseconds).
    pub think: Dist,
    /// Requests per user, after which the user stops (None: until the
    /// run ends).
    pub tasks: Option<u64>,
}

impl ClientConfig {
    /// Poisson arrivals to `target`, no timeouts, no retries, no keys.
    pub fn poisson(target: NodeId, rate_per_s: f64) -> Self {
        ClientConfig {
            call: CallerConfig::to(target),
            interarrival: Dist::exponential(1e9 / rate_per_s).expect("rate must be > 0"),
            idempotency_keys: false,
            double_submit: 0.0,
            double_submit_delay: Dist::Constant(0.0),
            max_orders: None,
            rate_changes: Vec::new(),
            max_in_flight: None,
            closed: None,
        }
    }
}

struct Metrics {
    requests: CounterId,
    failed: CounterId,
    overloaded: CounterId,
    throttled: CounterId,
    failed_series: SeriesId,
    /// A closed loop's: tasks done, users done, when each task ended.
    closed: Option<(CounterId, CounterId, HistogramId)>,
}

pub struct Client {
    cfg: ClientConfig,
    caller: Caller,
    next_order: u64,
    /// The timer for the next order, so a rate change can replace it.
    next_timer: Option<TimerId>,
    /// A rate change to zero stopped new orders.
    paused: bool,
    /// Each closed-loop user's requests so far.
    sent: Vec<u64>,
    m: Option<Metrics>,
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Self {
        Client {
            caller: Caller::new(0, cfg.call.clone()),
            cfg,
            next_order: 0,
            next_timer: None,
            paused: false,
            sent: Vec::new(),
            m: None,
        }
    }

    /// Logical requests that have neither succeeded nor failed yet.
    pub fn in_flight(&self) -> usize {
        self.caller.in_flight()
    }

    fn schedule_next_order(&mut self, ctx: &mut Context<'_, Rpc>) {
        if self
            .cfg
            .max_orders
            .is_some_and(|max| self.next_order >= max)
        {
            return;
        }
        if self.paused {
            return;
        }
        let gap = self.cfg.interarrival.sample_duration(ctx.rng());
        self.next_timer = Some(ctx.set_timer(gap, ClientTimer::NextRequest));
    }

    /// From now on orders arrive at `rate` per second. The pending arrival
    /// is drawn again: for a Poisson process that is exact, since the time
    /// to the next arrival has no memory.
    fn change_rate(&mut self, ctx: &mut Context<'_, Rpc>, rate: f64) {
        if let Some(t) = self.next_timer.take() {
            ctx.cancel_timer(t);
        }
        match Dist::exponential(1e9 / rate) {
            Ok(d) if rate.is_finite() => {
                self.cfg.interarrival = d;
                self.paused = false;
            }
            _ => self.paused = true,
        }
        self.schedule_next_order(ctx);
    }

    fn start_request(&mut self, ctx: &mut Context<'_, Rpc>, order: u64) {
        if self
            .cfg
            .max_in_flight
            .is_some_and(|max| self.caller.in_flight() >= max)
        {
            let m = self.m.as_ref().expect("started");
            let (requests, throttled, failed, by, series) = (
                m.requests,
                m.throttled,
                m.failed,
                m.overloaded,
                m.failed_series,
            );
            let now = ctx.now();
            let metrics = ctx.metrics();
            for c in [requests, throttled, failed, by] {
                metrics.add(c, 1);
            }
            metrics.record_series(series, now, 1.0);
            return;
        }
        let key = self.cfg.idempotency_keys.then_some(order);
        // The client does not act on the end of a request: its metrics are
        // the caller's.
        let _ = self.caller.call(ctx, order, order, key, None, None);
    }
}

impl Client {
    /// Closed loop: `user` thinks, then sends its next request, unless it
    /// has done all its tasks.
    fn think(&mut self, ctx: &mut Context<'_, Rpc>, user: u32) {
        let Some(c) = &self.cfg.closed else { return };
        if c.tasks.is_some_and(|k| self.sent[user as usize] >= k) {
            if let Some((_, done, _)) = self.m.as_ref().and_then(|m| m.closed) {
                ctx.metrics().add(done, 1);
            }
            return;
        }
        let gap = c.think.sample_duration(ctx.rng());
        // The closed-loop users' timer, shared with the counter clients.
        ctx.set_timer(gap, CounterMsg::UserReady { user });
    }

    /// Closed loop: `user` sends a request, and thinks again at once if
    /// it ended without waiting.
    fn user_request(&mut self, ctx: &mut Context<'_, Rpc>, user: u32) {
        self.sent[user as usize] += 1;
        let order = ((ctx.id().index() as u64) << ORDER_BITS) | self.next_order;
        self.next_order += 1;
        let key = self.cfg.idempotency_keys.then_some(order);
        if let Some(done) = self
            .caller
            .call(ctx, u64::from(user), order, key, None, None)
        {
            self.task_ended(ctx, done.tag);
        }
    }

    /// Closed loop: the request of user `tag` ended.
    fn task_ended(&mut self, ctx: &mut Context<'_, Rpc>, tag: u64) {
        let Some((done, _, finished)) = self.m.as_ref().and_then(|m| m.closed) else {
            return;
        };
        let at = ctx.now().as_nanos();
        ctx.metrics().add(done, 1);
        ctx.metrics().record(finished, at);
        self.think(ctx, tag as u32);
    }
}

impl Node<Rpc> for Client {
    fn footprint(&self) -> u64 {
        self.caller.footprint()
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        self.caller.start(ctx, &name);
        let m = ctx.metrics();
        let c = |m: &mut crate::metrics::Metrics, what: &str| m.counter(&format!("{name}.{what}"));
        self.m = Some(Metrics {
            requests: c(m, "requests"),
            failed: c(m, "failed"),
            overloaded: c(m, &format!("failed.{}", ErrorKind::Overloaded.as_str())),
            throttled: c(m, "throttled"),
            failed_series: m.series(&format!("{name}.failures"), m.series_interval()),
            closed: self.cfg.closed.as_ref().map(|_| {
                (
                    c(m, "tasks_done"),
                    c(m, "users_done"),
                    m.histogram(&format!("{name}.finished_ns")),
                )
            }),
        });
        let now = ctx.now();
        for (i, &(at, _)) in self.cfg.rate_changes.iter().enumerate() {
            ctx.set_timer(
                at.saturating_since(now),
                ClientTimer::RateChange { index: i },
            );
        }
        if let Some(c) = &self.cfg.closed {
            self.sent = vec![0; c.users as usize];
            for user in 0..c.users {
                self.think(ctx, user);
            }
        } else {
            self.schedule_next_order(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, _from: NodeId, msg: Rpc) {
        if let Rpc::Request(Request::Reply { call, outcome }) = msg
            && let Some(done) = self.caller.on_reply(ctx, call, outcome)
        {
            self.task_ended(ctx, done.tag);
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        let payload = match payload {
            Rpc::Client(t) => t,
            Rpc::Counter(CounterMsg::UserReady { user }) => return self.user_request(ctx, user),
            Rpc::Caller(t) => {
                if let Some(done) = self.caller.on_timer(ctx, t) {
                    self.task_ended(ctx, done.tag);
                }
                return;
            }
            _ => return,
        };
        match payload {
            ClientTimer::NextRequest => {
                self.next_timer = None;
                // Orders are unique across clients: the node's index sits
                // above the count, so two shops never share an order (nor
                // an idempotency key, nor a ledger entry).
                let order = ((ctx.id().index() as u64) << ORDER_BITS) | self.next_order;
                self.next_order += 1;
                self.start_request(ctx, order);
                if self.cfg.double_submit > 0.0 && ctx.rng().chance(self.cfg.double_submit) {
                    let after = self.cfg.double_submit_delay.sample_duration(ctx.rng());
                    ctx.set_timer(after, ClientTimer::Resubmit { order });
                }
                self.schedule_next_order(ctx);
            }
            ClientTimer::Resubmit { order } => self.start_request(ctx, order),
            ClientTimer::RateChange { index } => {
                let rate = self.cfg.rate_changes[index].1;
                self.change_rate(ctx, rate);
            }
        }
    }
}
