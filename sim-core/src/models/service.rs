//! A service on the request path: calls queue for a pool of workers; a
//! worker does its own work (a service time), then calls the service's
//! dependencies, in order or all at once, holding the worker while it
//! waits as a thread-per-request server does, and replies with the outcome.
//!
//! Each dependency is reached through a `Caller` (`models::caller`), so
//! every policy of the request path applies per dependency: timeouts,
//! retries, a circuit breaker, a bulkhead (which is also how a connection
//! pool with no wait behaves), hedging, load balancing over replicas with
//! health checks and outlier ejection, and a fallback. A dependency can be
//! *fanned out*: one call to every replica, done when all of them (or a
//! quorum) answered. A dependency behind a feature flag is skipped while
//! the flag is off.
//!
//! Waiting calls are served first in, first out, or last in, first out
//! (the newest caller is the likeliest to still be waiting), and a
//! controlled-delay policy (`policy::codel`) can shed calls that waited too
//! long in a standing queue. With an idempotency store, a call whose key
//! was seen before is answered from the store (replayed) or refused while
//! the first is in progress (`Conflict`), and never reaches the workers.
//!
//! Gray failures arrive as `Control` messages on schedule: slow (work takes
//! longer), erroring (a share of calls fail at once, without work), hanging
//! (calls are accepted and never answered), and recovery. If the service
//! names a `gate` flag, its gray failure applies only while that flag is
//! on: a release behind a feature flag, with a kill switch.
//!
//! Admission comes first: a rate limit (`policy::rate_limit`, global or per
//! caller) and load shedding by priority refuse calls before they queue.
//!
//! Metrics, prefixed with the node's name: `arrivals`, `rejected` (queue
//! full), `shed` (by the controlled-delay policy), `rate_limited`,
//! `shed_priority`, `replayed`, `conflicts`,
//! `completed`, `failed`, `degraded` (answered ok with a fallback inside),
//! `late` (replies sent after the caller's deadline: work nobody was
//! waiting for), `response_ns` (histogram, arrival to reply), `started`
//! (calls a worker took up), `waited` (of those, the ones that had to wait
//! for a worker: `waited / started` is the share M/M/c's Erlang C
//! formula gives) and `wait_ns` (histogram, arrival to a worker, zeros
//! included),
//! `queue_depth` and `busy_workers` (time-weighted gauges), the time series
//! `queue` (the queue's length at every change), and each dependency's
//! caller metrics under `<name>.<dependency>.`.

use super::ENTRY_BYTES;
use super::caller::{Caller, CallerConfig, Done, caller_of};
use super::request::{Control, PROBE_ORDER, Request};
use super::rpc::Rpc;
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::{CounterId, GaugeId, HistogramId, SeriesId};
use crate::policy::ErrorKind;
use crate::policy::Outcome;
use crate::policy::codel::{Codel, CodelConfig};
use crate::policy::flags::Flags;
use crate::policy::idempotency::{IdempotencyConfig, IdempotencyStore, KeyDecision};
use crate::policy::rate_limit::{RateLimitConfig, RateLimiter};
pub use crate::policy::shedding::PriorityShedding;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};

/// A service's timer: `worker` finished its own work on a job.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct WorkDone {
    pub worker: u32,
}

/// How a fanned-out dependency decides it is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fanout {
    /// Every replica must answer ok.
    All,
    /// This many ok answers are enough; the rest are abandoned.
    Quorum(u32),
}

/// One dependency of a service.
#[derive(Clone, Debug, PartialEq)]
pub struct Dependency {
    /// Its name in metrics (`<service>.<name>.ok`).
    pub name: String,
    pub call: CallerConfig,
    /// Call every replica rather than one.
    pub fanout: Option<Fanout>,
    /// Call it only while this feature flag is on.
    pub flag: Option<String>,
}

impl Dependency {
    /// Plain calls to one node.
    pub fn to(name: &str, target: NodeId) -> Self {
        Dependency {
            name: name.to_string(),
            call: CallerConfig::to(target),
            fanout: None,
            flag: None,
        }
    }
}

/// How a service behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceConfig {
    pub workers: u32,
    /// Calls waiting for a worker beyond this are rejected (`Overloaded`);
    /// None is an unbounded queue.
    pub queue_capacity: Option<usize>,
    /// A worker's own work per call, in nanoseconds.
    pub service_time: Dist,
    /// Called after the service's own work.
    pub dependencies: Vec<Dependency>,
    /// Call every dependency at once instead of one after another.
    pub parallel: bool,
    pub idempotency: Option<IdempotencyConfig>,
    /// Which waiting call a free worker takes.
    pub discipline: Discipline,
    /// Shed calls that waited too long in a standing queue.
    pub codel: Option<CodelConfig>,
    /// Feature flags and their initial values.
    pub flags: BTreeMap<String, bool>,
    /// Gray failures apply only while this flag is on.
    pub gate: Option<String>,
    /// Refuse calls over a rate, for all callers or per caller.
    pub rate_limit: Option<RateLimitConfig>,
    /// Refuse low-priority calls once the queue is this long.
    pub priority_shedding: Option<PriorityShedding>,
}

/// The order in which waiting calls are served (`discipline = "lifo"`
/// in a scenario file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
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
            dependencies: Vec::new(),
            parallel: false,
            idempotency: None,
            discipline: Discipline::Fifo,
            codel: None,
            flags: BTreeMap::new(),
            gate: None,
            rate_limit: None,
            priority_shedding: None,
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

/// A dependency being called for a job: calls out, ok answers, failures.
struct Group {
    pending: u32,
    ok: u32,
    failed: u32,
    need: u32,
    last_error: Option<ErrorKind>,
}

/// A job a worker holds while it calls dependencies.
struct Active {
    job: Job,
    /// The next dependency to call (in order).
    next: usize,
    /// (dependency, its calls) for the dependencies being called.
    groups: Vec<(u8, Group)>,
    degraded: bool,
    value: u64,
}

struct Metrics {
    arrivals: CounterId,
    rejected: CounterId,
    shed: CounterId,
    rate_limited: CounterId,
    shed_priority: CounterId,
    late: CounterId,
    replayed: CounterId,
    conflicts: CounterId,
    completed: CounterId,
    failed: CounterId,
    degraded: CounterId,
    started: CounterId,
    waited: CounterId,
    wait: HistogramId,
    response: HistogramId,
    queue_depth: GaugeId,
    busy: GaugeId,
    queue_series: SeriesId,
}

/// The gray-failure state.
#[derive(Clone, Copy, Debug, Default)]
struct Gray {
    slow_permille: Option<u32>,
    error_ppm: u32,
    hang: bool,
}

pub struct Service {
    cfg: ServiceConfig,
    queue: VecDeque<Job>,
    /// Per worker: the job it works on, and its id while calling out.
    busy: Vec<Option<Job>>,
    idle: Vec<u32>,
    /// Jobs calling their dependencies, by job id; the id is the callers'
    /// tag, so a late answer for a finished job finds nothing.
    active: BTreeMap<u64, (u32, Active)>,
    next_job: u64,
    callers: Vec<Caller>,
    flags: Flags,
    gray: Gray,
    /// Workers stuck on a job while the service hangs.
    hung: Vec<u32>,
    spare_groups: Vec<Vec<(u8, Group)>>,
    /// (queue length, busy workers) as last written to the gauges.
    last_gauges: Option<(usize, usize)>,
    store: Option<IdempotencyStore<Outcome>>,
    codel: Option<Codel>,
    limiter: Option<RateLimiter>,
    m: Option<Metrics>,
}

impl Service {
    /// A call arrived: refused at admission, answered from the
    /// idempotency store, or given a worker or a place in the queue.
    fn on_call(&mut self, ctx: &mut Context<'_, Rpc>, job: Job, priority: u8) {
        let arrivals = self.metrics().arrivals;
        ctx.metrics().add(arrivals, 1);
        if let Some(refusal) = self.refusal(ctx, &job, priority) {
            self.reply(ctx, job, Outcome::Err(refusal), false);
            return;
        }
        if let (Some(store), Some(k)) = (&mut self.store, job.key) {
            let (from, call) = (job.from, job.call);
            match store.begin(k, ctx.now()) {
                KeyDecision::Process => {}
                KeyDecision::Replay(outcome) => {
                    let replayed = self.metrics().replayed;
                    ctx.metrics().add(replayed, 1);
                    ctx.send(from, Request::Reply { call, outcome });
                    return;
                }
                KeyDecision::InProgress => {
                    let conflicts = self.metrics().conflicts;
                    ctx.metrics().add(conflicts, 1);
                    let outcome = Outcome::Err(ErrorKind::Conflict);
                    ctx.send(from, Request::Reply { call, outcome });
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
                self.reply(ctx, job, Outcome::Err(ErrorKind::Overloaded), false);
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
    }

    /// Why a call is refused before any work, if it is: the rate limit,
    /// then shedding by priority, then an erroring service failing fast.
    fn refusal(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        job: &Job,
        priority: u8,
    ) -> Option<ErrorKind> {
        if let Some(limiter) = &mut self.limiter
            && job.order != PROBE_ORDER
            && !limiter.admit(job.from.index() as u32, job.arrived)
        {
            let r = self.metrics().rate_limited;
            ctx.metrics().add(r, 1);
            return Some(ErrorKind::Overloaded);
        }
        if let Some(shed) = self.cfg.priority_shedding
            && !shed.admits(priority, self.queue.len())
        {
            let r = self.metrics().shed_priority;
            ctx.metrics().add(r, 1);
            return Some(ErrorKind::Overloaded);
        }
        if self.gray.error_ppm > 0
            && self.gray_on()
            && ctx.rng().chance(f64::from(self.gray.error_ppm) / 1e6)
        {
            return Some(ErrorKind::Internal);
        }
        None
    }

    pub fn new(cfg: ServiceConfig) -> Self {
        assert!(cfg.workers > 0, "a service needs at least one worker");
        assert!(cfg.dependencies.len() < 256, "at most 255 dependencies");
        Service {
            busy: (0..cfg.workers).map(|_| None).collect(),
            idle: (0..cfg.workers).rev().collect(),
            store: cfg.idempotency.map(IdempotencyStore::new),
            codel: cfg.codel.map(Codel::new),
            limiter: cfg.rate_limit.map(RateLimiter::new),
            callers: cfg
                .dependencies
                .iter()
                .enumerate()
                .map(|(i, d)| Caller::new(i as u8, d.call.clone()))
                .collect(),
            flags: Flags::new(cfg.flags.clone()),
            cfg,
            queue: VecDeque::new(),
            active: BTreeMap::new(),
            next_job: 0,
            gray: Gray::default(),
            hung: Vec::new(),
            spare_groups: Vec::new(),
            last_gauges: None,
            m: None,
        }
    }

    fn metrics(&self) -> &Metrics {
        self.m.as_ref().expect("started")
    }

    /// Whether the gray failure applies now (its gate flag, if any, is on).
    fn gray_on(&self) -> bool {
        self.cfg.gate.as_ref().is_none_or(|f| self.flags.is_on(f))
    }

    fn update_gauges(&mut self, ctx: &mut Context<'_, Rpc>) {
        let now_state = (self.queue.len(), self.busy.len() - self.idle.len());
        if self.last_gauges == Some(now_state) {
            return; // nothing changed: the gauges hold their values
        }
        self.last_gauges = Some(now_state);
        let m = self.metrics();
        let (depth, busy) = (now_state.0 as f64, now_state.1 as f64);
        let (gq, gb, qs, now) = (m.queue_depth, m.busy, m.queue_series, ctx.now());
        let metrics = ctx.metrics();
        metrics.set(gq, now, depth);
        metrics.set(gb, now, busy);
        metrics.record_series(qs, now, depth);
    }

    fn start(&mut self, ctx: &mut Context<'_, Rpc>, worker: u32, job: Job) {
        let m = self.metrics();
        let (started, waited, wait) = (m.started, m.waited, m.wait);
        let queued = ctx.now().saturating_since(job.arrived).as_nanos();
        let metrics = ctx.metrics();
        metrics.add(started, 1);
        if queued > 0 {
            metrics.add(waited, 1);
        }
        metrics.record(wait, queued);
        let mut work = self.cfg.service_time.sample_duration(ctx.rng());
        if let Some(p) = self.gray.slow_permille
            && self.gray_on()
        {
            work = SimDuration::from_nanos(
                (work.as_nanos() as u128 * u128::from(p) / 1000).min(u128::from(u64::MAX)) as u64,
            );
        }
        ctx.set_timer(work, WorkDone { worker });
        self.busy[worker as usize] = Some(job);
    }

    fn reply(&mut self, ctx: &mut Context<'_, Rpc>, job: Job, outcome: Outcome, degraded: bool) {
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
        let (late, done, response, deg) = (
            late.then_some(m.late),
            if matches!(outcome, Outcome::Ok(_)) {
                m.completed
            } else {
                m.failed
            },
            m.response,
            degraded.then_some(m.degraded),
        );
        let waited = ctx.now().saturating_since(job.arrived).as_nanos();
        let metrics = ctx.metrics();
        metrics.add(done, 1);
        for c in [late, deg].into_iter().flatten() {
            metrics.add(c, 1);
        }
        metrics.record(response, waited);
        ctx.send(
            job.from,
            Request::Reply {
                call: job.call,
                outcome,
            },
        );
    }

    /// `worker` is done with its job: take the next one or go idle.
    fn release(&mut self, ctx: &mut Context<'_, Rpc>, worker: u32) {
        self.busy[worker as usize] = None;
        match self.next_waiting(ctx) {
            Some(next) => self.start(ctx, worker, next),
            None => self.idle.push(worker),
        }
    }

    /// The waiting call a free worker takes, shedding on the way those the
    /// controlled-delay policy says nobody should serve.
    fn next_waiting(&mut self, ctx: &mut Context<'_, Rpc>) -> Option<Job> {
        loop {
            let now = ctx.now();
            let job = match self.cfg.discipline {
                Discipline::Fifo => self.queue.pop_front(),
                Discipline::Lifo => self.queue.pop_back(),
            }?;
            // Judged against the queue as it stood, before this pop.
            let shed = self
                .codel
                .as_ref()
                .is_some_and(|c| c.shed(now, job.arrived));
            if self.queue.is_empty()
                && let Some(c) = &mut self.codel
            {
                c.empty_at(now);
            }
            if !shed {
                return Some(job);
            }
            let counter = self.metrics().shed;
            ctx.metrics().add(counter, 1);
            self.reply(ctx, job, Outcome::Err(ErrorKind::Overloaded), false);
        }
    }

    fn finish(
        &mut self,
        ctx: &mut Context<'_, Rpc>,
        worker: u32,
        job: Job,
        outcome: Outcome,
        degraded: bool,
    ) {
        self.reply(ctx, job, outcome, degraded);
        self.release(ctx, worker);
    }

    /// The worker's own work is done: fail it (a gray error), call the
    /// dependencies, or answer.
    fn work_done(&mut self, ctx: &mut Context<'_, Rpc>, worker: u32) {
        let Some(job) = self.busy[worker as usize] else {
            return;
        };
        if self.gray_on() && self.gray.hang {
            self.hung.push(worker);
            return;
        }
        if job.order == PROBE_ORDER || self.callers.is_empty() {
            self.finish(ctx, worker, job, Outcome::Ok(job.order), false);
            return;
        }
        let id = self.next_job;
        self.next_job += 1;
        self.active.insert(
            id,
            (
                worker,
                Active {
                    job,
                    next: 0,
                    groups: self.spare_groups.pop().unwrap_or_default(),
                    degraded: false,
                    value: job.order,
                },
            ),
        );
        self.advance(ctx, id);
    }

    /// Calls the next dependency (or all of them), or answers when there
    /// is nothing left to call.
    fn advance(&mut self, ctx: &mut Context<'_, Rpc>, id: u64) {
        loop {
            let Some((_, a)) = self.active.get(&id) else {
                return;
            };
            if !a.groups.is_empty() {
                return; // waiting for answers
            }
            let next = a.next;
            if next >= self.callers.len() {
                let (worker, a) = self.active.remove(&id).expect("checked");
                self.recycle(a.groups);
                self.finish(ctx, worker, a.job, Outcome::Ok(a.value), a.degraded);
                return;
            }
            let last = if self.cfg.parallel {
                self.callers.len()
            } else {
                next + 1
            };
            self.active.get_mut(&id).expect("checked").1.next = last;
            for dep in next..last {
                let d = &self.cfg.dependencies[dep];
                if d.flag.as_ref().is_some_and(|f| !self.flags.is_on(f)) {
                    continue; // switched off
                }
                let (order, key, deadline) = {
                    let a = &self.active[&id].1;
                    (a.job.order, a.job.key, a.job.deadline)
                };
                // One call, or one per replica for a fan-out.
                let legs = match d.fanout {
                    None => 1,
                    Some(_) => d.call.targets.len(),
                };
                let fanned = d.fanout.is_some();
                let need = match d.fanout {
                    None | Some(Fanout::All) => legs as u32,
                    Some(Fanout::Quorum(k)) => k.min(legs as u32),
                };
                self.active.get_mut(&id).expect("checked").1.groups.push((
                    dep as u8,
                    Group {
                        pending: legs as u32,
                        ok: 0,
                        failed: 0,
                        need,
                        last_error: None,
                    },
                ));
                for leg in 0..legs {
                    let prefer = fanned.then_some(leg);
                    if let Some(done) =
                        self.callers[dep].call(ctx, id, order, key, deadline, prefer)
                    {
                        self.on_done(ctx, dep as u8, done);
                        if !self.active.contains_key(&id) {
                            return; // the job already failed
                        }
                    }
                }
            }
        }
    }

    /// A dependency's logical call for a job ended.
    fn on_done(&mut self, ctx: &mut Context<'_, Rpc>, dep: u8, done: Done) {
        let id = done.tag;
        let Some((_, a)) = self.active.get_mut(&id) else {
            return; // the job already ended
        };
        let Some(at) = a.groups.iter().position(|(d, _)| *d == dep) else {
            return;
        };
        let g = &mut a.groups[at].1;
        g.pending = g.pending.saturating_sub(1);
        match done.outcome {
            Outcome::Ok(v) => {
                g.ok += 1;
                a.value = v;
                a.degraded |= done.degraded;
            }
            Outcome::Err(k) => {
                g.failed += 1;
                g.last_error = Some(k);
            }
        }
        let (ok, failed, pending, need, error) = (g.ok, g.failed, g.pending, g.need, g.last_error);
        if ok >= need {
            a.groups.swap_remove(at);
            if pending > 0 {
                self.callers[dep as usize].cancel(ctx, id);
            }
            self.advance(ctx, id);
        } else if ok + pending < need {
            // It can no longer succeed: the job fails.
            let (worker, a) = self.active.remove(&id).expect("checked");
            for (d, _) in &a.groups {
                self.callers[*d as usize].cancel(ctx, id);
            }
            let (job, groups) = (a.job, a.groups);
            self.recycle(groups);
            let _ = failed;
            let kind = match error.unwrap_or(ErrorKind::Internal) {
                // Upstream sees a dependency refused as unavailable.
                ErrorKind::CircuitOpen => ErrorKind::Unavailable,
                k => k,
            };
            self.finish(ctx, worker, job, Outcome::Err(kind), false);
        }
    }

    /// Keeps a finished job's group list for the next job, so that calling
    /// dependencies does not allocate in the steady state.
    fn recycle(&mut self, mut groups: Vec<(u8, Group)>) {
        groups.clear();
        self.spare_groups.push(groups);
    }

    fn control(&mut self, ctx: &mut Context<'_, Rpc>, c: Control) {
        match c {
            Control::Slow { permille } => self.gray.slow_permille = Some(permille),
            Control::Errors { ppm } => self.gray.error_ppm = ppm,
            Control::Hang => self.gray.hang = true,
            Control::Recover => {
                self.gray = Gray::default();
                for worker in std::mem::take(&mut self.hung) {
                    self.work_done(ctx, worker);
                }
            }
            Control::Flag { name, on } => {
                self.flags.set(&name, on);
                // A gate switched off releases workers hung behind it.
                if !self.gray_on() {
                    for worker in std::mem::take(&mut self.hung) {
                        self.work_done(ctx, worker);
                    }
                }
            }
        }
    }
}

impl Node<Rpc> for Service {
    fn footprint(&self) -> u64 {
        let callers: u64 = self.callers.iter().map(Caller::footprint).sum();
        let store = self.store.as_ref().map_or(0, |s| s.len() as u64);
        (self.queue.len() as u64 + self.active.len() as u64 + store) * ENTRY_BYTES + callers
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let now = ctx.now();
        for (caller, dep) in self.callers.iter_mut().zip(&self.cfg.dependencies) {
            caller.start(ctx, &format!("{name}.{}", dep.name));
        }
        let m = ctx.metrics();
        let c = |m: &mut crate::metrics::Metrics, what: &str| m.counter(&format!("{name}.{what}"));
        self.m = Some(Metrics {
            arrivals: c(m, "arrivals"),
            rejected: c(m, "rejected"),
            shed: c(m, "shed"),
            rate_limited: c(m, "rate_limited"),
            shed_priority: c(m, "shed_priority"),
            late: c(m, "late"),
            replayed: c(m, "replayed"),
            conflicts: c(m, "conflicts"),
            completed: c(m, "completed"),
            failed: c(m, "failed"),
            degraded: c(m, "degraded"),
            started: c(m, "started"),
            waited: c(m, "waited"),
            wait: m.histogram(&format!("{name}.wait_ns")),
            response: m.histogram(&format!("{name}.response_ns")),
            queue_depth: m.gauge(&format!("{name}.queue_depth"), now),
            busy: m.gauge(&format!("{name}.busy_workers"), now),
            queue_series: m.series(&format!("{name}.queue"), m.series_interval()),
        });
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        let Rpc::Request(msg) = msg else { return };
        match msg {
            Request::Call {
                call,
                order,
                key,
                deadline,
                priority,
            } => {
                let job = Job {
                    from,
                    call,
                    order,
                    key,
                    deadline,
                    arrived: ctx.now(),
                };
                self.on_call(ctx, job, priority);
                self.update_gauges(ctx);
            }
            Request::Reply { call, outcome } => {
                let dep = caller_of(call);
                if let Some(done) = self
                    .callers
                    .get_mut(dep as usize)
                    .and_then(|c| c.on_reply(ctx, call, outcome))
                {
                    self.on_done(ctx, dep, done);
                }
                self.update_gauges(ctx);
            }
            Request::Control(c) => {
                self.control(ctx, c);
                self.update_gauges(ctx);
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        match payload {
            Rpc::WorkDone(WorkDone { worker }) => self.work_done(ctx, worker),
            Rpc::Caller(t) => {
                let dep = t.caller();
                if let Some(done) = self
                    .callers
                    .get_mut(dep as usize)
                    .and_then(|c| c.on_timer(ctx, t))
                {
                    self.on_done(ctx, dep, done);
                }
            }
            _ => {}
        }
        self.update_gauges(ctx);
    }

    fn on_crash(&mut self, _now: SimTime) {
        // Queued and running calls die with the process; their callers time
        // out. The idempotency store is in memory here, so it is lost too,
        // and so are the breakers' and balancers' views.
        self.queue.clear();
        self.active.clear();
        self.hung.clear();
        for b in &mut self.busy {
            *b = None;
        }
        self.idle = (0..self.cfg.workers).rev().collect();
        self.store = self.cfg.idempotency.map(IdempotencyStore::new);
        self.codel = self.cfg.codel.map(Codel::new);
        self.limiter = self.cfg.rate_limit.map(RateLimiter::new);
        self.last_gauges = None;
        for c in &mut self.callers {
            c.reset();
        }
    }
}
