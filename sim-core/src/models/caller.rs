//! The calling side of the request path, shared by clients and services:
//! one `Caller` per dependency turns a logical call into attempts, under
//! every policy that sits between a caller and its callee, in this order:
//!
//! 1. the deadline (an overall timeout, tightened by one inherited from
//!    upstream) and the per-attempt timeout (`policy::timeout`);
//! 2. the circuit breaker (`policy::circuit_breaker`): open means the
//!    attempt fails at once with `circuit_open`;
//! 3. adaptive client-side throttling (`policy::throttle`): a backend that
//!    refuses most calls gets fewer, refused locally with `overloaded`;
//!    the bulkhead (`policy::bulkhead`): full means it fails at once with
//!    `overloaded`; a connection pool: full means the attempt waits for a
//!    connection, its timeout running;
//! 4. load balancing over the dependency's replicas, skipping those
//!    ejected as outliers or marked unhealthy by active health checks
//!    (`policy::load_balance`);
//! 5. a hedge to another replica if the attempt is slow (`policy::hedge`);
//! 6. retries with backoff, jitter and a budget (`policy::retry`);
//! 7. a fallback value when all else failed, counted as a degraded success
//!    (`policy::fallback`).
//!
//! Call ids are unique per node: the low 8 bits name the caller (its
//! index in the node), so a node with several dependencies routes each
//! reply to the caller that sent it.
//!
//! Metrics, prefixed with the caller's name: `requests`, `ok`, `failed`,
//! `failed.<kind>`, `degraded` (successes served by the fallback),
//! `attempts`, `retries`, `gave_up.<reason>`, `late_replies`,
//! `short_circuited`, `bulkhead_rejected`, `throttled_locally`,
//! `pool_waits`, `pool_timeouts`, `hedges`, `hedge_wins`,
//! `ejections`, `marked_unhealthy`, `breaker.opened`, gauges
//! `breaker.closed`, `breaker.open`, `breaker.half_open` (1 while in that
//! state: the time average is the share of time spent there), the
//! histogram `latency_ns` (logical calls that succeeded, first attempt to
//! answer), and the time series `ok_latency_ns` and `failures`.

use super::request::{PROBE_ORDER, Request};
use super::rpc::Rpc;
use crate::engine::{Context, NodeId, TimerId};
use crate::metrics::{CounterId, GaugeId, Histogram, HistogramId, SeriesId};
use crate::policy::ErrorKind;
use crate::policy::Outcome;
use crate::policy::bulkhead::{Bulkhead, BulkheadConfig};
use crate::policy::circuit_breaker::{BreakerConfig, BreakerState, CircuitBreaker};
use crate::policy::fallback::{self, FallbackConfig};
use crate::policy::hedge::HedgeConfig;
use crate::policy::load_balance::{
    Balancer, HealthCheckConfig, LoadBalancer, OutlierConfig, Standing,
};
use crate::policy::retry::{GiveUpReason, RetryBudget, RetryConfig, RetryDecision, RetryState};
use crate::policy::throttle::{Throttle, ThrottleConfig};
use crate::policy::timeout::{AttemptTimeout, TimeoutConfig};
use crate::time::SimTime;
use std::collections::BTreeMap;

/// A caller's timers; `caller` is the caller's index within its node.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum CallerTimer {
    /// Attempt `call` of logical call `request` waited too long.
    AttemptTimeout { caller: u8, request: u64, call: u64 },
    /// Time to retry logical call `request`.
    Retry { caller: u8, request: u64 },
    /// Time to hedge logical call `request`.
    Hedge { caller: u8, request: u64 },
    /// Time to probe every replica.
    HealthTick { caller: u8 },
    /// Health probe `call` had no answer in time.
    ProbeTimeout { caller: u8, call: u64 },
}

impl CallerTimer {
    /// The caller (index within its node) the timer belongs to.
    pub fn caller(&self) -> u8 {
        match self {
            CallerTimer::AttemptTimeout { caller, .. }
            | CallerTimer::Retry { caller, .. }
            | CallerTimer::Hedge { caller, .. }
            | CallerTimer::HealthTick { caller }
            | CallerTimer::ProbeTimeout { caller, .. } => *caller,
        }
    }
}

/// Everything between a caller and one dependency.
#[derive(Clone, Debug, PartialEq)]
pub struct CallerConfig {
    /// The callee's replicas (one for a single node).
    pub targets: Vec<NodeId>,
    pub balancer: Balancer,
    pub outlier: Option<OutlierConfig>,
    pub health: Option<HealthCheckConfig>,
    pub timeout: TimeoutConfig,
    pub retry: RetryConfig,
    pub breaker: Option<BreakerConfig>,
    pub bulkhead: Option<BulkheadConfig>,
    pub hedge: Option<HedgeConfig>,
    /// Answer a call that failed in the end with this value instead,
    /// counted as a degraded success.
    pub fallback: Option<u64>,
    /// The priority its calls carry (higher is more important).
    pub priority: u8,
    /// Connections to the dependency: an attempt waits for a free one.
    pub pool: Option<u32>,
    pub throttle: Option<ThrottleConfig>,
}

impl CallerConfig {
    /// Plain calls to one node: no timeout, no retries, nothing else.
    pub fn to(target: NodeId) -> Self {
        CallerConfig {
            targets: vec![target],
            balancer: Balancer::RoundRobin,
            outlier: None,
            health: None,
            timeout: TimeoutConfig::NONE,
            retry: RetryConfig::never(),
            breaker: None,
            bulkhead: None,
            hedge: None,
            fallback: None,
            priority: 0,
            pool: None,
            throttle: None,
        }
    }
}

/// A logical call that ended: the owner's tag and how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Done {
    pub tag: u64,
    pub outcome: Outcome,
    /// Served by the fallback.
    pub degraded: bool,
}

struct Attempt {
    logical: u64,
    replica: usize,
    timer: Option<TimerId>,
    sent: SimTime,
    /// Holding a pool connection (false while waiting for one).
    connected: bool,
}

struct Logical {
    tag: u64,
    order: u64,
    key: Option<u64>,
    deadline: Option<SimTime>,
    started: SimTime,
    retry: RetryState,
    /// Attempt call ids in flight (more than one while hedging).
    in_flight: InFlight,
    hedges: u32,
    /// The replica a fan-out asked for, for the first attempt.
    prefer: Option<usize>,
}

/// A logical call's attempts in flight: nearly always one, so the first is
/// kept inline and only hedges allocate.
#[derive(Default)]
struct InFlight {
    first: Option<u64>,
    more: Vec<u64>,
}

impl InFlight {
    fn push(&mut self, call: u64) {
        if self.first.is_none() {
            self.first = Some(call);
        } else {
            self.more.push(call);
        }
    }
    fn remove(&mut self, call: u64) {
        if self.first == Some(call) {
            self.first = if self.more.is_empty() {
                None
            } else {
                Some(self.more.remove(0))
            };
        } else {
            self.more.retain(|&c| c != call);
        }
    }
    fn first(&self) -> Option<u64> {
        self.first
    }
    fn is_empty(&self) -> bool {
        self.first.is_none()
    }
    fn all(&self) -> impl Iterator<Item = u64> + '_ {
        self.first.into_iter().chain(self.more.iter().copied())
    }
}

struct Metrics {
    requests: CounterId,
    ok: CounterId,
    failed: CounterId,
    failed_by: Vec<CounterId>,
    degraded: CounterId,
    attempts: CounterId,
    retries: CounterId,
    gave_up: [CounterId; 3],
    late: CounterId,
    short_circuited: CounterId,
    bulkhead_rejected: CounterId,
    throttled: CounterId,
    pool_waits: CounterId,
    pool_timeouts: CounterId,
    hedges: CounterId,
    hedge_wins: CounterId,
    ejections: CounterId,
    unhealthy: CounterId,
    opened: CounterId,
    state: [GaugeId; 3],
    latency: HistogramId,
    ok_series: SeriesId,
    waiting_series: SeriesId,
    failed_series: SeriesId,
}

pub struct Caller {
    cfg: CallerConfig,
    /// This caller's index in its node: the low byte of its call ids.
    index: u8,
    next_seq: u64,
    next_logical: u64,
    calls: BTreeMap<u64, Logical>,
    attempts: BTreeMap<u64, Attempt>,
    /// Health probes in flight: call id to (replica, timeout timer).
    probes: BTreeMap<u64, (usize, TimerId)>,
    lb: LoadBalancer,
    breaker: Option<CircuitBreaker>,
    bulkhead: Option<Bulkhead>,
    budget: Option<RetryBudget>,
    throttle: Option<Throttle>,
    /// Pool connections in use, and attempts waiting for one (in order).
    connections: u32,
    pool_queue: std::collections::VecDeque<u64>,
    /// Latencies of successful attempts, for quantile hedging: every
    /// attempt that answers, the slow originals a hedge beat included (they
    /// are kept in `abandoned` until they answer), so the quantile is the
    /// dependency's own and not only the winners'.
    attempt_latency: Histogram,
    /// Attempts a faster one made unnecessary, by call id: when each was
    /// sent. At most `MAX_ABANDONED`, the oldest forgotten first.
    abandoned: BTreeMap<u64, SimTime>,
    m: Option<Metrics>,
}

/// The most abandoned attempts a caller waits to hear from.
const MAX_ABANDONED: usize = 4096;

/// The caller a call id belongs to.
pub fn caller_of(call: u64) -> u8 {
    (call & 0xff) as u8
}

impl Caller {
    /// An estimate of what its calls in flight hold, for the run's memory
    /// budget (see `Node::footprint`).
    pub fn footprint(&self) -> u64 {
        (self.calls.len() + self.attempts.len() + self.probes.len() + self.abandoned.len()) as u64
            * super::ENTRY_BYTES
    }

    pub fn new(index: u8, cfg: CallerConfig) -> Self {
        Caller {
            lb: LoadBalancer::new(cfg.targets.len(), cfg.balancer, cfg.outlier, cfg.health),
            breaker: cfg.breaker.map(CircuitBreaker::new),
            bulkhead: cfg.bulkhead.map(Bulkhead::new),
            budget: cfg.retry.budget.map(RetryBudget::new),
            throttle: cfg.throttle.map(Throttle::new),
            connections: 0,
            pool_queue: std::collections::VecDeque::new(),
            cfg,
            index,
            next_seq: 0,
            next_logical: 0,
            calls: BTreeMap::new(),
            attempts: BTreeMap::new(),
            probes: BTreeMap::new(),
            attempt_latency: Histogram::new(),
            abandoned: BTreeMap::new(),
            m: None,
        }
    }

    pub fn config(&self) -> &CallerConfig {
        &self.cfg
    }

    /// Logical calls not yet ended.
    pub fn in_flight(&self) -> usize {
        self.calls.len()
    }

    fn metrics(&self) -> &Metrics {
        self.m.as_ref().expect("the caller was started")
    }

    /// Registers metrics under `prefix` and starts health checks; call from
    /// the node's `on_start` (and again after a restart).
    pub fn start(&mut self, ctx: &mut Context<'_, Rpc>, prefix: &str) {
        let now = ctx.now();
        let m = ctx.metrics();
        let c =
            |m: &mut crate::metrics::Metrics, what: &str| m.counter(&format!("{prefix}.{what}"));
        let interval = m.series_interval();
        self.m = Some(Metrics {
            requests: c(m, "requests"),
            ok: c(m, "ok"),
            failed: c(m, "failed"),
            failed_by: ErrorKind::ALL
                .iter()
                .map(|k| c(m, &format!("failed.{}", k.as_str())))
                .collect(),
            degraded: c(m, "degraded"),
            attempts: c(m, "attempts"),
            retries: c(m, "retries"),
            gave_up: [
                c(m, "gave_up.not_retryable"),
                c(m, "gave_up.attempts_exhausted"),
                c(m, "gave_up.budget_exhausted"),
            ],
            late: c(m, "late_replies"),
            short_circuited: c(m, "short_circuited"),
            bulkhead_rejected: c(m, "bulkhead_rejected"),
            throttled: c(m, "throttled_locally"),
            pool_waits: c(m, "pool_waits"),
            pool_timeouts: c(m, "pool_timeouts"),
            hedges: c(m, "hedges"),
            hedge_wins: c(m, "hedge_wins"),
            ejections: c(m, "ejections"),
            unhealthy: c(m, "marked_unhealthy"),
            opened: c(m, "breaker.opened"),
            state: BreakerState::ALL
                .map(|s| m.gauge(&format!("{prefix}.breaker.{}", s.as_str()), now)),
            latency: m.histogram(&format!("{prefix}.latency_ns")),
            ok_series: m.series(&format!("{prefix}.ok_latency_ns"), interval),
            waiting_series: m.series(&format!("{prefix}.waiting_ns"), interval),
            failed_series: m.series(&format!("{prefix}.failures"), interval),
        });
        if self.breaker.is_some() {
            let closed = self.metrics().state[0];
            ctx.metrics().set(closed, now, 1.0);
        }
        if let Some(h) = self.lb.health_check() {
            ctx.set_timer(h.interval, CallerTimer::HealthTick { caller: self.index });
        }
    }

    /// Forgets everything in flight (the node crashed). Breaker and
    /// load-balancer state are in memory too, so they start afresh.
    pub fn reset(&mut self) {
        let cfg = self.cfg.clone();
        let m = self.m.take();
        *self = Caller::new(self.index, cfg);
        self.m = m;
    }

    fn new_call_id(&mut self) -> u64 {
        let id = (self.next_seq << 8) | u64::from(self.index);
        self.next_seq += 1;
        id
    }

    fn breaker_changed(&mut self, ctx: &mut Context<'_, Rpc>, to: Option<BreakerState>) {
        let Some(to) = to else {
            return;
        };
        let m = self.metrics();
        let (gauges, opened) = (m.state, m.opened);
        let now = ctx.now();
        for (s, g) in BreakerState::ALL.iter().zip(gauges) {
            ctx.metrics().set(g, now, if *s == to { 1.0 } else { 0.0 });
        }
        if to == BreakerState::Open {
            ctx.metrics().add(opened, 1);
        }
        ctx.note(&format_args!("circuit breaker {}", to.as_str()));
    }

    /// Starts a logical call for the owner's `tag`. `prefer` asks for a
    /// replica for the first attempt (a fan-out's leaf). Returns the
    /// outcome at once if it ended without waiting (a breaker, a bulkhead,
    /// a passed deadline).
    pub fn call(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        tag: u64,
        order: u64,
        key: Option<u64>,
        inherited_deadline: Option<SimTime>,
        prefer: Option<usize>,
    ) -> Option<Done> {
        let now = ctx.now();
        let id = self.next_logical;
        self.next_logical += 1;
        self.calls.insert(
            id,
            Logical {
                tag,
                order,
                key,
                deadline: self.cfg.timeout.deadline(now, inherited_deadline),
                started: now,
                retry: RetryState::default(),
                in_flight: InFlight::default(),
                hedges: 0,
                prefer,
            },
        );
        let requests = self.metrics().requests;
        ctx.metrics().add(requests, 1);
        self.record_waiting(ctx);
        if let Some(t) = &mut self.throttle
            && !t.allow(now, ctx.rng())
        {
            let th = self.metrics().throttled;
            ctx.metrics().add(th, 1);
            return Some(self.finish(ctx, id, Outcome::Err(ErrorKind::Overloaded)));
        }
        self.send_attempt(ctx, id, false)
    }

    /// Abandons every logical call of `tag` (its owner no longer needs
    /// them): their attempts are forgotten and late replies ignored.
    pub fn cancel(&mut self, ctx: &mut Context<'_, Rpc>, tag: u64) {
        let ids: Vec<u64> = self
            .calls
            .iter()
            .filter(|(_, l)| l.tag == tag)
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            if let Some(l) = self.calls.remove(&id) {
                for call in l.in_flight.all() {
                    self.drop_attempt(ctx, call, None);
                }
            }
        }
    }

    /// Forgets attempt `call`, releasing what it held; `failed` is its
    /// outcome if it had one.
    fn drop_attempt(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        call: u64,
        failed: Option<bool>,
    ) -> Option<Attempt> {
        let a = self.attempts.remove(&call)?;
        if let Some(t) = a.timer {
            ctx.cancel_timer(t);
        }
        if !a.connected {
            // It never got a connection: it only leaves the pool's queue,
            // and it reached neither the replica nor the breaker.
            self.pool_queue.retain(|&c| c != call);
            if failed.is_some() {
                let t = self.metrics().pool_timeouts;
                ctx.metrics().add(t, 1);
            }
            self.lb.finish(a.replica, ctx.now(), None);
            if let Some(b) = &mut self.bulkhead {
                b.release();
            }
            if let Some(b) = &mut self.breaker {
                b.release_probe();
            }
            return Some(a);
        }
        if self.cfg.pool.is_some() {
            self.connections = self.connections.saturating_sub(1);
            self.serve_pool_queue(ctx);
        }
        if let Some(b) = &mut self.bulkhead {
            b.release();
        }
        let now = ctx.now();
        if self.lb.finish(a.replica, now, failed) == Standing::Ejected {
            let e = self.metrics().ejections;
            ctx.metrics().add(e, 1);
            ctx.note(&format_args!("replica {} ejected", a.replica));
        }
        let changed = match (&mut self.breaker, failed) {
            (Some(b), Some(f)) => b.record(now, f, now.saturating_since(a.sent)),
            (Some(b), None) => {
                b.release_probe();
                None
            }
            _ => None,
        };
        self.breaker_changed(ctx, changed);
        Some(a)
    }

    /// Whether an attempt may go out now, under its deadline, the breaker
    /// and the bulkhead: how long it may wait for an answer, or why not.
    fn admit(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        deadline: Option<SimTime>,
    ) -> Result<AttemptTimeout, ErrorKind> {
        let now = ctx.now();
        let wait = self.cfg.timeout.attempt(now, deadline);
        if wait == AttemptTimeout::DeadlinePassed {
            return Err(ErrorKind::Timeout);
        }
        if let Some(b) = &mut self.breaker {
            let (allowed, changed) = b.allow(now);
            self.breaker_changed(ctx, changed);
            if !allowed {
                let s = self.metrics().short_circuited;
                ctx.metrics().add(s, 1);
                return Err(ErrorKind::CircuitOpen);
            }
        }
        if let Some(b) = &mut self.bulkhead
            && !b.try_acquire()
        {
            if let Some(br) = &mut self.breaker {
                br.release_probe();
            }
            let r = self.metrics().bulkhead_rejected;
            ctx.metrics().add(r, 1);
            return Err(ErrorKind::Overloaded);
        }
        Ok(wait)
    }

    fn send_attempt(&mut self, ctx: &mut Context<'_, Rpc>, id: u64, hedge: bool) -> Option<Done> {
        let now = ctx.now();
        let (deadline, order, key, prefer, first_replica) = {
            let l = self.calls.get(&id)?;
            let first = l
                .in_flight
                .first()
                .and_then(|c| self.attempts.get(&c))
                .map(|a| a.replica);
            (l.deadline, l.order, l.key, l.prefer, first)
        };
        let wait = match self.admit(ctx, deadline) {
            Ok(wait) => wait,
            Err(_) if hedge => return None,
            Err(kind) => return self.attempt_failed(ctx, id, kind),
        };
        let replica = match (prefer, hedge) {
            (Some(p), false) if p < self.lb.len() => {
                // A fan-out's leaf: the asked-for replica, counted as a pick.
                self.lb.pick_exact(p);
                p
            }
            _ => self.lb.pick(now, first_replica, ctx.rng()),
        };
        let call = self.new_call_id();
        let timer = match wait {
            AttemptTimeout::After(d) => Some(ctx.set_timer(
                d,
                CallerTimer::AttemptTimeout {
                    caller: self.index,
                    request: id,
                    call,
                },
            )),
            _ => None,
        };
        let connected = match self.cfg.pool {
            Some(size) if self.connections >= size => false,
            Some(_) => {
                self.connections += 1;
                true
            }
            None => true,
        };
        self.attempts.insert(
            call,
            Attempt {
                logical: id,
                replica,
                timer,
                sent: now,
                connected,
            },
        );
        let l = self.calls.get_mut(&id).expect("checked above");
        l.in_flight.push(call);
        if !hedge {
            l.retry.record_attempt();
        }
        let hedges_left = self.cfg.hedge.is_some_and(|h| l.hedges < h.max_hedges);
        let m = self.metrics();
        let (attempts, hedges) = (m.attempts, m.hedges);
        ctx.metrics().add(attempts, 1);
        if hedge {
            ctx.metrics().add(hedges, 1);
        }
        if hedges_left && let Some(h) = self.cfg.hedge {
            let delay = h.delay(&self.attempt_latency);
            ctx.set_timer(
                delay,
                CallerTimer::Hedge {
                    caller: self.index,
                    request: id,
                },
            );
        }
        if connected {
            self.transmit(ctx, call, order, key, deadline);
        } else {
            let w = self.metrics().pool_waits;
            ctx.metrics().add(w, 1);
            self.pool_queue.push_back(call);
        }
        None
    }

    fn transmit(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        call: u64,
        order: u64,
        key: Option<u64>,
        deadline: Option<SimTime>,
    ) {
        let replica = self.attempts[&call].replica;
        ctx.send(
            self.cfg.targets[replica],
            Request::Call {
                call,
                order,
                key,
                deadline,
                priority: self.cfg.priority,
            },
        );
    }

    /// A connection came free: the longest-waiting attempt takes it.
    fn serve_pool_queue(&mut self, ctx: &mut Context<'_, Rpc>) {
        let Some(size) = self.cfg.pool else {
            return;
        };
        while self.connections < size {
            let Some(call) = self.pool_queue.pop_front() else {
                return;
            };
            let Some(a) = self.attempts.get_mut(&call) else {
                continue;
            };
            a.connected = true;
            a.sent = ctx.now();
            self.connections += 1;
            let l = &self.calls[&a.logical];
            let (order, key, deadline) = (l.order, l.key, l.deadline);
            self.transmit(ctx, call, order, key, deadline);
        }
    }

    /// The last attempt in flight of `id` failed with `error`: retry, or
    /// end the call (with the fallback if there is one).
    fn attempt_failed(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        id: u64,
        error: ErrorKind,
    ) -> Option<Done> {
        if let Some(b) = &mut self.budget {
            b.record_failure();
        }
        let l = self.calls.get_mut(&id)?;
        let decision = self
            .cfg
            .retry
            .decide(&mut l.retry, error, self.budget.as_mut(), ctx.rng());
        match decision {
            RetryDecision::RetryAfter(wait) => {
                let retries = self.metrics().retries;
                ctx.metrics().add(retries, 1);
                ctx.set_timer(
                    wait,
                    CallerTimer::Retry {
                        caller: self.index,
                        request: id,
                    },
                );
                None
            }
            RetryDecision::GiveUp(reason) => {
                let counter = self.metrics().gave_up[match reason {
                    GiveUpReason::NotRetryable => 0,
                    GiveUpReason::AttemptsExhausted => 1,
                    GiveUpReason::BudgetExhausted => 2,
                }];
                ctx.metrics().add(counter, 1);
                Some(self.finish(ctx, id, Outcome::Err(error)))
            }
        }
    }

    /// How long the oldest logical call still waiting has waited (0 when
    /// none waits), as a series: a hang shows while it happens, before
    /// any call ends. Logical ids grow with time, so the first is oldest.
    fn record_waiting(&self, ctx: &mut Context<'_, Rpc>) {
        let now = ctx.now();
        let age = self
            .calls
            .values()
            .next()
            .map_or(0, |l| now.saturating_since(l.started).as_nanos());
        let series = self.metrics().waiting_series;
        ctx.metrics().record_series(series, now, age as f64);
    }

    fn finish(&mut self, ctx: &mut Context<'_, Rpc>, id: u64, outcome: Outcome) -> Done {
        let l = self.calls.remove(&id).expect("a live call");
        self.record_waiting(ctx);
        let observing = self
            .cfg
            .hedge
            .is_some_and(|h| matches!(h.after, crate::policy::hedge::HedgeAfter::Quantile { .. }));
        for call in l.in_flight.all() {
            if let Some(a) = self.drop_attempt(ctx, call, None)
                && observing
                && a.connected
            {
                self.abandoned.insert(call, a.sent);
                if self.abandoned.len() > MAX_ABANDONED {
                    self.abandoned.pop_first();
                }
            }
        }
        let now = ctx.now();
        let m = self.m.as_ref().expect("started");
        let fallback = self.cfg.fallback.map(|value| FallbackConfig { value });
        let (outcome, degraded) = fallback::apply(fallback, outcome);
        let metrics = ctx.metrics();
        match outcome {
            Outcome::Ok(_) => {
                let latency = now.saturating_since(l.started).as_nanos();
                metrics.add(m.ok, 1);
                if degraded {
                    metrics.add(m.degraded, 1);
                }
                metrics.record(m.latency, latency);
                metrics.record_series(m.ok_series, now, latency as f64);
            }
            Outcome::Err(kind) => {
                metrics.add(m.failed, 1);
                metrics.add(m.failed_by[kind as usize], 1);
                metrics.record_series(m.failed_series, now, 1.0);
            }
        }
        Done {
            tag: l.tag,
            outcome,
            degraded,
        }
    }

    /// A reply to one of this caller's call ids.
    pub fn on_reply(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        call: u64,
        outcome: Outcome,
    ) -> Option<Done> {
        if let Some((replica, timer)) = self.probes.remove(&call) {
            ctx.cancel_timer(timer);
            self.probe_result(ctx, replica, matches!(outcome, Outcome::Ok(_)));
            return None;
        }
        let failed = matches!(outcome, Outcome::Err(_));
        if let Some(t) = &mut self.throttle
            && outcome != Outcome::Err(ErrorKind::Overloaded)
        {
            t.accepted(ctx.now());
        }
        let Some(a) = self.drop_attempt(ctx, call, Some(failed)) else {
            if let Some(sent) = self.abandoned.remove(&call)
                && !failed
            {
                // A slow attempt that lost to a hedge: still what the
                // dependency took.
                self.attempt_latency
                    .record(ctx.now().saturating_since(sent).as_nanos());
            }
            let late = self.metrics().late;
            ctx.metrics().add(late, 1);
            return None;
        };
        let id = a.logical;
        let l = self.calls.get_mut(&id)?;
        let was_hedge = l.in_flight.first() != Some(call);
        l.in_flight.remove(call);
        match outcome {
            Outcome::Ok(_) => {
                if let Some(b) = &mut self.budget {
                    b.record_success();
                }
                self.attempt_latency
                    .record(ctx.now().saturating_since(a.sent).as_nanos());
                if was_hedge {
                    let w = self.metrics().hedge_wins;
                    ctx.metrics().add(w, 1);
                }
                Some(self.finish(ctx, id, outcome))
            }
            Outcome::Err(kind) => {
                if !l.in_flight.is_empty() {
                    return None; // a hedge is still out
                }
                self.attempt_failed(ctx, id, kind)
            }
        }
    }

    fn probe_result(&mut self, ctx: &mut Context<'_, Rpc>, replica: usize, good: bool) {
        match self.lb.probe_result(replica, good) {
            Standing::MarkedUnhealthy => {
                let u = self.metrics().unhealthy;
                ctx.metrics().add(u, 1);
                ctx.note(&format_args!("replica {replica} marked unhealthy"));
            }
            Standing::MarkedHealthy => ctx.note(&format_args!("replica {replica} healthy again")),
            _ => {}
        }
    }

    /// One of this caller's timers fired.
    pub fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, payload: CallerTimer) -> Option<Done> {
        match payload {
            CallerTimer::AttemptTimeout { request, call, .. } => {
                self.drop_attempt(ctx, call, Some(true))?;
                let l = self.calls.get_mut(&request)?;
                l.in_flight.remove(call);
                if !l.in_flight.is_empty() {
                    return None;
                }
                self.attempt_failed(ctx, request, ErrorKind::Timeout)
            }
            CallerTimer::Retry { request, .. } => self.send_attempt(ctx, request, false),
            CallerTimer::Hedge { request, .. } => {
                let l = self.calls.get_mut(&request)?;
                if l.in_flight.is_empty() {
                    return None; // between retries: nothing to hedge
                }
                l.hedges += 1;
                self.send_attempt(ctx, request, true)
            }
            CallerTimer::HealthTick { .. } => {
                let h = self.lb.health_check()?;
                for replica in 0..self.cfg.targets.len() {
                    let call = self.new_call_id();
                    let timer = ctx.set_timer(
                        h.timeout,
                        CallerTimer::ProbeTimeout {
                            caller: self.index,
                            call,
                        },
                    );
                    self.probes.insert(call, (replica, timer));
                    ctx.send(
                        self.cfg.targets[replica],
                        Request::Call {
                            call,
                            order: PROBE_ORDER,
                            key: None,
                            deadline: Some(ctx.now().saturating_add(h.timeout)),
                            priority: u8::MAX,
                        },
                    );
                }
                ctx.set_timer(h.interval, CallerTimer::HealthTick { caller: self.index });
                None
            }
            CallerTimer::ProbeTimeout { call, .. } => {
                if let Some((replica, _)) = self.probes.remove(&call) {
                    self.probe_result(ctx, replica, false);
                }
                None
            }
        }
    }
}
