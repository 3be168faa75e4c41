//! A service on the request path: calls queue for a pool of workers; a
//! worker does its own work (a service time), then, if the service has a
//! dependency, calls it and waits for the answer, holding the worker as a
//! thread-per-request server does, and replies with the outcome.
//!
//! With an idempotency store, a call whose key was seen before is answered
//! from the store (replayed) or refused while the first is in progress
//! (`Conflict`), and never reaches the workers or the dependency.
//!
//! Waiting calls are served first in, first out, or last in, first out
//! (the newest caller is the likeliest to still be waiting), and a
//! controlled-delay policy (`policy::codel`) can shed calls that waited too
//! long in a standing queue.
//!
//! Metrics, prefixed with the node's name: `arrivals`, `rejected` (queue
//! full), `shed` (by the controlled-delay policy), `replayed`, `conflicts`,
//! `completed`, `failed`, `late` (replies sent after the caller's deadline:
//! work nobody was waiting for), `response_ns` (histogram, arrival to
//! reply), `queue_depth` and `busy_workers` (time-weighted gauges), and the
//! time series `queue` (the queue's length at every change; a bucket's max
//! is its peak).

use super::rpc::{Outcome, Rpc};
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, GaugeId, HistogramId, SeriesId};
use crate::policy::ErrorKind;
use crate::policy::codel::{Codel, CodelConfig};
use crate::policy::idempotency::{IdempotencyConfig, IdempotencyStore, KeyDecision};
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};

/// How a service behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceConfig {
    pub workers: u32,
    /// Calls waiting for a worker beyond this are rejected (`Overloaded`);
    /// None is an unbounded queue.
    pub queue_capacity: Option<usize>,
    /// A worker's own work per call, in nanoseconds.
    pub service_time: Dist,
    /// The dependency called after the service's own work, if any.
    pub downstream: Option<NodeId>,
    /// How long a worker waits for the dependency.
    pub downstream_timeout: Option<SimDuration>,
    pub idempotency: Option<IdempotencyConfig>,
    /// Which waiting call a free worker takes.
    pub discipline: Discipline,
    /// Shed calls that waited too long in a standing queue.
    pub codel: Option<CodelConfig>,
}

/// The order in which waiting calls are served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Discipline {
    /// First in, first out.
    #[default]
    Fifo,
    /// Last in, first out: under overload the newest calls, whose callers
    /// are still waiting, are served, and the oldest wait.
    Lifo,
}

impl ServiceConfig {
    pub fn new(workers: u32, service_time: Dist) -> Self {
        ServiceConfig {
            workers,
            queue_capacity: None,
            service_time,
            downstream: None,
            downstream_timeout: None,
            idempotency: None,
            discipline: Discipline::Fifo,
            codel: None,
        }
    }
}

#[derive(Clone, Copy)]
struct Job {
    from: NodeId,
    call: u64,
    order: u64,
    key: Option<u64>,
    deadline: Option<SimTime>,
    arrived: SimTime,
}

struct Metrics {
    arrivals: CounterId,
    rejected: CounterId,
    shed: CounterId,
    late: CounterId,
    replayed: CounterId,
    conflicts: CounterId,
    completed: CounterId,
    failed: CounterId,
    response: HistogramId,
    queue_depth: GaugeId,
    busy: GaugeId,
    queue_series: SeriesId,
}

pub struct Service {
    cfg: ServiceConfig,
    queue: VecDeque<Job>,
    busy: Vec<Option<Job>>,
    idle: Vec<u32>,
    /// Downstream calls in flight: call id to (worker, timeout timer).
    waiting: BTreeMap<u64, (u32, Option<TimerId>)>,
    next_call: u64,
    store: Option<IdempotencyStore<Outcome>>,
    codel: Option<Codel>,
    m: Option<Metrics>,
}

impl Service {
    pub fn new(cfg: ServiceConfig) -> Self {
        assert!(cfg.workers > 0, "a service needs at least one worker");
        Service {
            busy: (0..cfg.workers).map(|_| None).collect(),
            idle: (0..cfg.workers).rev().collect(),
            store: cfg.idempotency.map(IdempotencyStore::new),
            codel: cfg.codel.map(Codel::new),
            cfg,
            queue: VecDeque::new(),
            waiting: BTreeMap::new(),
            next_call: 0,
            m: None,
        }
    }

    fn metrics(&self) -> &Metrics {
        self.m.as_ref().expect("started")
    }

    fn update_gauges(&self, ctx: &mut Context<'_, Rpc>) {
        let m = self.metrics();
        let (depth, busy) = (
            self.queue.len() as f64,
            (self.busy.len() - self.idle.len()) as f64,
        );
        let (gq, gb, qs, now) = (m.queue_depth, m.busy, m.queue_series, ctx.now());
        let metrics = ctx.metrics();
        metrics.set(gq, now, depth);
        metrics.set(gb, now, busy);
        metrics.record_series(qs, now, depth);
    }

    fn start(&mut self, ctx: &mut Context<'_, Rpc>, worker: u32, job: Job) {
        let work = self.cfg.service_time.sample_duration(ctx.rng());
        ctx.set_timer(work, Rpc::WorkDone { worker });
        self.busy[worker as usize] = Some(job);
    }

    fn reply(&mut self, ctx: &mut Context<'_, Rpc>, job: Job, outcome: Outcome) {
        if let (Some(store), Some(key)) = (&mut self.store, job.key) {
            match outcome {
                Outcome::Ok(_) => store.complete(key, outcome),
                // Nothing was done, as far as this service knows: let a
                // retry try again.
                Outcome::Err(_) => store.abandon(key),
            }
        }
        let m = self.metrics();
        let late = job.deadline.is_some_and(|d| ctx.now() > d);
        let (late, done, response) = (
            late.then_some(m.late),
            if matches!(outcome, Outcome::Ok(_)) {
                m.completed
            } else {
                m.failed
            },
            m.response,
        );
        let waited = ctx.now().saturating_since(job.arrived).as_nanos();
        let metrics = ctx.metrics();
        metrics.add(done, 1);
        if let Some(late) = late {
            metrics.add(late, 1);
        }
        metrics.record(response, waited);
        ctx.send(
            job.from,
            Rpc::Reply {
                call: job.call,
                outcome,
            },
        );
    }

    /// `worker` is done with its job: take the next one or go idle.
    fn release(&mut self, ctx: &mut Context<'_, Rpc>, worker: u32) {
        self.busy[worker as usize] = None;
        match self.next_job(ctx) {
            Some(next) => self.start(ctx, worker, next),
            None => self.idle.push(worker),
        }
    }

    /// The waiting call a free worker takes, shedding on the way those the
    /// controlled-delay policy says nobody should serve.
    fn next_job(&mut self, ctx: &mut Context<'_, Rpc>) -> Option<Job> {
        loop {
            let now = ctx.now();
            let standing = self.codel.as_ref().map(|c| (c.clone(), c.standing(now)));
            let job = match self.cfg.discipline {
                Discipline::Fifo => self.queue.pop_front(),
                Discipline::Lifo => self.queue.pop_back(),
            }?;
            if self.queue.is_empty()
                && let Some(c) = &mut self.codel
            {
                c.empty_at(now);
            }
            match standing {
                Some((c, true)) if c.shed(now, job.arrived) => {
                    let shed = self.metrics().shed;
                    ctx.metrics().add(shed, 1);
                    self.reply(ctx, job, Outcome::Err(ErrorKind::Overloaded));
                }
                _ => return Some(job),
            }
        }
    }

    fn finish(&mut self, ctx: &mut Context<'_, Rpc>, worker: u32, outcome: Outcome) {
        let job = self.busy[worker as usize].expect("a busy worker finished");
        self.reply(ctx, job, outcome);
        self.release(ctx, worker);
    }
}

impl Node<Rpc> for Service {
    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let now = ctx.now();
        let m = ctx.metrics();
        let c = |m: &mut crate::metrics::Metrics, what: &str| m.counter(&format!("{name}.{what}"));
        self.m = Some(Metrics {
            arrivals: c(m, "arrivals"),
            rejected: c(m, "rejected"),
            shed: c(m, "shed"),
            late: c(m, "late"),
            replayed: c(m, "replayed"),
            conflicts: c(m, "conflicts"),
            completed: c(m, "completed"),
            failed: c(m, "failed"),
            response: m.histogram(&format!("{name}.response_ns")),
            queue_depth: m.gauge(&format!("{name}.queue_depth"), now),
            busy: m.gauge(&format!("{name}.busy_workers"), now),
            queue_series: m.series(&format!("{name}.queue"), m.series_interval()),
        });
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        match msg {
            Rpc::Call {
                call,
                order,
                key,
                deadline,
            } => {
                let arrivals = self.metrics().arrivals;
                ctx.metrics().add(arrivals, 1);
                let job = Job {
                    from,
                    call,
                    order,
                    key,
                    deadline,
                    arrived: ctx.now(),
                };
                if let (Some(store), Some(k)) = (&mut self.store, key) {
                    match store.begin(k, ctx.now()) {
                        KeyDecision::Process => {}
                        KeyDecision::Replay(outcome) => {
                            let replayed = self.metrics().replayed;
                            ctx.metrics().add(replayed, 1);
                            ctx.send(from, Rpc::Reply { call, outcome });
                            return;
                        }
                        KeyDecision::InProgress => {
                            let conflicts = self.metrics().conflicts;
                            ctx.metrics().add(conflicts, 1);
                            let outcome = Outcome::Err(ErrorKind::Conflict);
                            ctx.send(from, Rpc::Reply { call, outcome });
                            return;
                        }
                    }
                }
                match self.idle.pop() {
                    Some(worker) => self.start(ctx, worker, job),
                    None if self
                        .cfg
                        .queue_capacity
                        .is_some_and(|cap| self.queue.len() >= cap) =>
                    {
                        let rejected = self.metrics().rejected;
                        ctx.metrics().add(rejected, 1);
                        self.reply(ctx, job, Outcome::Err(ErrorKind::Overloaded));
                    }
                    None => {
                        if self.queue.is_empty()
                            && let Some(c) = &mut self.codel
                        {
                            c.empty_at(ctx.now());
                        }
                        self.queue.push_back(job)
                    }
                }
                self.update_gauges(ctx);
            }
            Rpc::Reply { call, outcome } => {
                // The dependency answered a worker's call.
                let Some((worker, timer)) = self.waiting.remove(&call) else {
                    return; // too late: that worker already gave up
                };
                if let Some(t) = timer {
                    ctx.cancel_timer(t);
                }
                self.finish(ctx, worker, outcome);
                self.update_gauges(ctx);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        match payload {
            Rpc::WorkDone { worker } => {
                let job = self.busy[worker as usize].expect("a busy worker finished");
                match self.cfg.downstream {
                    None => self.finish(ctx, worker, Outcome::Ok(job.order)),
                    Some(dependency) => {
                        let call = self.next_call;
                        self.next_call += 1;
                        let timer = self
                            .cfg
                            .downstream_timeout
                            .map(|t| ctx.set_timer(t, Rpc::DownstreamTimeout { call }));
                        self.waiting.insert(call, (worker, timer));
                        ctx.send(
                            dependency,
                            Rpc::Call {
                                call,
                                order: job.order,
                                key: job.key,
                                deadline: job.deadline,
                            },
                        );
                    }
                }
            }
            Rpc::DownstreamTimeout { call } => {
                if let Some((worker, _)) = self.waiting.remove(&call) {
                    self.finish(ctx, worker, Outcome::Err(ErrorKind::Timeout));
                }
            }
            _ => {}
        }
        self.update_gauges(ctx);
    }

    fn on_crash(&mut self, _now: SimTime) {
        // Queued and running calls die with the process; their callers time
        // out. The idempotency store is in memory here, so it is lost too.
        self.queue.clear();
        self.waiting.clear();
        for b in &mut self.busy {
            *b = None;
        }
        self.idle = (0..self.cfg.workers).rev().collect();
        self.store = self.cfg.idempotency.map(IdempotencyStore::new);
        self.codel = self.cfg.codel.map(Codel::new);
    }
}
