//! A client on the request path: users submitting orders in an open loop,
//! each submission a logical request made of one or more attempts, governed
//! by the timeout and retry policies, optionally carrying an idempotency key
//! (the order's), and sometimes submitted twice by an impatient user (a
//! double click). The arrival rate can change at scheduled times (a surge,
//! a ramp in steps), and a client can apply backpressure to itself: with
//! `max_in_flight` requests outstanding it refuses new ones at once
//! (`throttled`) instead of adding to a queue downstream.
//!
//! Metrics, prefixed with the node's name: `requests`, `ok`, `failed`,
//! `failed.<error kind>`, `attempts`, `retries`,
//! `gave_up.<not_retryable|attempts_exhausted|budget_exhausted>`,
//! `late_replies` (replies to attempts already given up on), `throttled`
//! (refused by the client's own in-flight limit, also counted as failed
//! with `overloaded`), and
//! `latency_ns` (histogram, first attempt to final success); and two time
//! series, `ok_latency_ns` (one value per success: its latency) and
//! `failures` (one per failure). Every request
//! ends exactly once: `requests = ok + failed + in_flight()`.

use super::rpc::{Outcome, Rpc};
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, HistogramId, SeriesId};
use crate::policy::ErrorKind;
use crate::policy::retry::{GiveUpReason, RetryBudget, RetryConfig, RetryDecision, RetryState};
use crate::policy::timeout::{AttemptTimeout, TimeoutConfig};
use crate::time::SimTime;
use std::collections::BTreeMap;

/// How a client behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    pub target: NodeId,
    /// Gaps between new orders, in nanoseconds.
    pub interarrival: Dist,
    pub timeout: TimeoutConfig,
    pub retry: RetryConfig,
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
}

impl ClientConfig {
    /// Poisson arrivals to `target`, no timeouts, no retries, no keys.
    pub fn poisson(target: NodeId, rate_per_s: f64) -> Self {
        ClientConfig {
            target,
            interarrival: Dist::exponential(1e9 / rate_per_s).expect("rate must be > 0"),
            timeout: TimeoutConfig::NONE,
            retry: RetryConfig::never(),
            idempotency_keys: false,
            double_submit: 0.0,
            double_submit_delay: Dist::Constant(0.0),
            max_orders: None,
            rate_changes: Vec::new(),
            max_in_flight: None,
        }
    }
}

struct Request {
    order: u64,
    started: SimTime,
    deadline: Option<SimTime>,
    retry: RetryState,
    /// The attempt in flight, if any, and its timeout timer.
    attempt: Option<(u64, Option<TimerId>)>,
}

struct Metrics {
    requests: CounterId,
    ok: CounterId,
    failed: CounterId,
    failed_by: Vec<CounterId>,
    attempts: CounterId,
    retries: CounterId,
    gave_up: [CounterId; 3],
    late: CounterId,
    throttled: CounterId,
    latency: HistogramId,
    ok_series: SeriesId,
    failed_series: SeriesId,
}

pub struct Client {
    cfg: ClientConfig,
    requests: BTreeMap<u64, Request>,
    /// Attempt (call id) in flight to its request.
    calls: BTreeMap<u64, u64>,
    next_request: u64,
    next_call: u64,
    next_order: u64,
    budget: Option<RetryBudget>,
    /// The timer for the next order, so a rate change can replace it.
    next_timer: Option<TimerId>,
    /// A rate change to zero stopped new orders.
    paused: bool,
    m: Option<Metrics>,
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Self {
        let budget = cfg.retry.budget.map(RetryBudget::new);
        Client {
            cfg,
            requests: BTreeMap::new(),
            calls: BTreeMap::new(),
            next_request: 0,
            next_call: 0,
            next_order: 0,
            budget,
            next_timer: None,
            paused: false,
            m: None,
        }
    }

    /// Logical requests that have neither succeeded nor failed yet.
    pub fn in_flight(&self) -> usize {
        self.requests.len()
    }

    fn metrics(&self) -> &Metrics {
        self.m.as_ref().expect("started")
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
        self.next_timer = Some(ctx.set_timer(gap, Rpc::NextRequest));
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
            .is_some_and(|max| self.requests.len() >= max)
        {
            let m = self.metrics();
            let (requests, throttled, failed, by) = (
                m.requests,
                m.throttled,
                m.failed,
                m.failed_by[ErrorKind::Overloaded as usize],
            );
            let metrics = ctx.metrics();
            for c in [requests, throttled, failed, by] {
                metrics.add(c, 1);
            }
            let (series, now) = (self.metrics().failed_series, ctx.now());
            ctx.metrics().record_series(series, now, 1.0);
            return;
        }
        let id = self.next_request;
        self.next_request += 1;
        let now = ctx.now();
        self.requests.insert(
            id,
            Request {
                order,
                started: now,
                deadline: self.cfg.timeout.deadline(now, None),
                retry: RetryState::default(),
                attempt: None,
            },
        );
        let requests = self.metrics().requests;
        ctx.metrics().add(requests, 1);
        self.send_attempt(ctx, id);
    }

    fn send_attempt(&mut self, ctx: &mut Context<'_, Rpc>, id: u64) {
        let now = ctx.now();
        let Some(req) = self.requests.get_mut(&id) else {
            return;
        };
        let wait = self.cfg.timeout.attempt(now, req.deadline);
        if wait == AttemptTimeout::DeadlinePassed {
            self.finish(ctx, id, Outcome::Err(ErrorKind::Timeout));
            return;
        }
        let call = self.next_call;
        self.next_call += 1;
        req.retry.record_attempt();
        let (order, deadline) = (req.order, req.deadline);
        let timer = match wait {
            AttemptTimeout::After(d) => {
                Some(ctx.set_timer(d, Rpc::AttemptTimeout { request: id, call }))
            }
            _ => None,
        };
        req.attempt = Some((call, timer));
        self.calls.insert(call, id);
        let key = self.cfg.idempotency_keys.then_some(order);
        let attempts = self.metrics().attempts;
        ctx.metrics().add(attempts, 1);
        ctx.send(
            self.cfg.target,
            Rpc::Call {
                call,
                order,
                key,
                deadline,
            },
        );
    }

    fn on_failure(&mut self, ctx: &mut Context<'_, Rpc>, id: u64, error: ErrorKind) {
        if let Some(b) = &mut self.budget {
            b.record_failure();
        }
        let Some(req) = self.requests.get_mut(&id) else {
            return;
        };
        req.attempt = None;
        let decision =
            self.cfg
                .retry
                .decide(&mut req.retry, error, self.budget.as_mut(), ctx.rng());
        match decision {
            RetryDecision::RetryAfter(wait) => {
                let retries = self.metrics().retries;
                ctx.metrics().add(retries, 1);
                ctx.set_timer(wait, Rpc::Retry { request: id });
            }
            RetryDecision::GiveUp(reason) => {
                let counter = self.metrics().gave_up[match reason {
                    GiveUpReason::NotRetryable => 0,
                    GiveUpReason::AttemptsExhausted => 1,
                    GiveUpReason::BudgetExhausted => 2,
                }];
                ctx.metrics().add(counter, 1);
                self.finish(ctx, id, Outcome::Err(error));
            }
        }
    }

    fn finish(&mut self, ctx: &mut Context<'_, Rpc>, id: u64, outcome: Outcome) {
        let Some(req) = self.requests.remove(&id) else {
            return;
        };
        let now = ctx.now();
        let m = self.m.as_ref().expect("started");
        let metrics = ctx.metrics();
        match outcome {
            Outcome::Ok(_) => {
                let latency = now.saturating_since(req.started).as_nanos();
                metrics.add(m.ok, 1);
                metrics.record(m.latency, latency);
                metrics.record_series(m.ok_series, now, latency as f64);
            }
            Outcome::Err(kind) => {
                metrics.add(m.failed, 1);
                metrics.add(m.failed_by[kind as usize], 1);
                metrics.record_series(m.failed_series, now, 1.0);
            }
        }
    }
}

impl Node<Rpc> for Client {
    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let m = ctx.metrics();
        let c = |m: &mut crate::metrics::Metrics, what: &str| m.counter(&format!("{name}.{what}"));
        self.m = Some(Metrics {
            requests: c(m, "requests"),
            ok: c(m, "ok"),
            failed: c(m, "failed"),
            failed_by: ErrorKind::ALL
                .iter()
                .map(|k| c(m, &format!("failed.{}", k.as_str())))
                .collect(),
            attempts: c(m, "attempts"),
            retries: c(m, "retries"),
            gave_up: [
                c(m, "gave_up.not_retryable"),
                c(m, "gave_up.attempts_exhausted"),
                c(m, "gave_up.budget_exhausted"),
            ],
            late: c(m, "late_replies"),
            throttled: c(m, "throttled"),
            latency: m.histogram(&format!("{name}.latency_ns")),
            ok_series: m.series(&format!("{name}.ok_latency_ns"), m.series_interval()),
            failed_series: m.series(&format!("{name}.failures"), m.series_interval()),
        });
        let now = ctx.now();
        for (i, &(at, _)) in self.cfg.rate_changes.iter().enumerate() {
            ctx.set_timer(at.saturating_since(now), Rpc::RateChange { index: i });
        }
        self.schedule_next_order(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, _from: NodeId, msg: Rpc) {
        let Rpc::Reply { call, outcome } = msg else {
            return;
        };
        let Some(id) = self.calls.remove(&call) else {
            // The attempt was already given up on (or this is a duplicate).
            let late = self.metrics().late;
            ctx.metrics().add(late, 1);
            return;
        };
        if let Some((_, Some(timer))) = self.requests.get_mut(&id).and_then(|r| r.attempt.take()) {
            ctx.cancel_timer(timer);
        }
        match outcome {
            Outcome::Ok(_) => {
                if let Some(b) = &mut self.budget {
                    b.record_success();
                }
                self.finish(ctx, id, outcome);
            }
            Outcome::Err(kind) => self.on_failure(ctx, id, kind),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        match payload {
            Rpc::NextRequest => {
                self.next_timer = None;
                let order = self.next_order;
                self.next_order += 1;
                self.start_request(ctx, order);
                if self.cfg.double_submit > 0.0 && ctx.rng().chance(self.cfg.double_submit) {
                    let after = self.cfg.double_submit_delay.sample_duration(ctx.rng());
                    ctx.set_timer(after, Rpc::Resubmit { order });
                }
                self.schedule_next_order(ctx);
            }
            Rpc::Resubmit { order } => self.start_request(ctx, order),
            // A reply may have won the race: then the call is already gone.
            Rpc::AttemptTimeout { request, call } if self.calls.remove(&call).is_some() => {
                self.on_failure(ctx, request, ErrorKind::Timeout);
            }
            Rpc::Retry { request } => self.send_attempt(ctx, request),
            Rpc::RateChange { index } => {
                let rate = self.cfg.rate_changes[index].1;
                self.change_rate(ctx, rate);
            }
            _ => {}
        }
    }
}
