//! Queueing primitives: an open-loop client with exponential (or any)
//! inter-arrival gaps, and a server with `c` workers in front of one FIFO
//! queue. With exponential gaps and service this is M/M/c; with one worker,
//! M/M/1; with constant service, M/D/1.
//!
//! Reference: L. Kleinrock, *Queueing Systems, Volume 1: Theory* (1975),
//! chapters 3 (M/M/1, M/M/c and Erlang's C formula) and 2 (Little's law).
//!
//! Metrics, prefixed with the node's name:
//! - client: `sent`, `ok`, `timed_out`, `late_replies` (counters),
//!   `latency_ns` (histogram, request to reply).
//! - server: `arrivals`, `waited` (arrivals that found every worker busy),
//!   `completed`, `dropped_on_crash` (counters); `response_ns` and `wait_ns`
//!   (histograms, time in the server and time in the queue); `in_system`
//!   and `busy_workers` (time-weighted gauges).

use super::ENTRY_BYTES;
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, Simulation, TimerId};
use crate::metrics::{CounterId, GaugeId, HistogramId};
use crate::network::LinkSpec;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};

/// The messages and timers of the queueing models.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum QMsg {
    /// Client to server.
    Request { id: u64, sent_at: SimTime },
    /// Server to client, when the request is done.
    Reply { id: u64, sent_at: SimTime },
    /// Client timer: time to send the next request.
    NextArrival,
    /// Client timer: request `id` has waited too long.
    Timeout { id: u64 },
    /// Server timer: `worker` finished its job.
    ServiceDone { worker: u32 },
}

/// Sends requests with gaps drawn from `interarrival` to one of `targets`
/// (chosen uniformly), optionally with a timeout, until `max_requests`.
pub struct OpenLoopClient {
    targets: Vec<NodeId>,
    interarrival: Dist,
    timeout: Option<SimDuration>,
    max_requests: Option<u64>,
    next_id: u64,
    /// Requests awaiting a reply, with their timeout timers.
    outstanding: BTreeMap<u64, Option<TimerId>>,
    track_outstanding: bool,
    m: Option<ClientMetrics>,
}

struct ClientMetrics {
    sent: CounterId,
    ok: CounterId,
    timed_out: CounterId,
    late: CounterId,
    latency: HistogramId,
}

impl OpenLoopClient {
    /// A Poisson client: exponential gaps at `rate_per_s`.
    pub fn poisson(target: NodeId, rate_per_s: f64) -> Self {
        let mean_gap_ns = 1e9 / rate_per_s;
        Self::new(
            vec![target],
            Dist::exponential(mean_gap_ns).expect("rate must be > 0"),
        )
    }

    pub fn new(targets: Vec<NodeId>, interarrival: Dist) -> Self {
        assert!(!targets.is_empty(), "a client needs at least one target");
        OpenLoopClient {
            targets,
            interarrival,
            timeout: None,
            max_requests: None,
            next_id: 0,
            outstanding: BTreeMap::new(),
            track_outstanding: false,
            m: None,
        }
    }

    /// Gives up on a request after `timeout` (it then counts as timed out,
    /// and a reply after that as late).
    pub fn with_timeout(mut self, timeout: SimDuration) -> Self {
        self.timeout = Some(timeout);
        self.track_outstanding = true;
        self
    }

    /// Keeps track of requests in flight even without a timeout, so that
    /// `in_flight` is exact and duplicate replies are counted as late.
    pub fn tracking_requests(mut self) -> Self {
        self.track_outstanding = true;
        self
    }

    pub fn with_max_requests(mut self, n: u64) -> Self {
        self.max_requests = Some(n);
        self
    }

    pub fn sent(&self) -> u64 {
        self.next_id
    }

    /// Requests with neither a reply nor a timeout yet.
    pub fn in_flight(&self) -> usize {
        self.outstanding.len()
    }

    fn schedule_next(&mut self, ctx: &mut Context<'_, QMsg>) {
        if self.max_requests.is_some_and(|max| self.next_id >= max) {
            return;
        }
        let gap = self.interarrival.sample_duration(ctx.rng());
        ctx.set_timer(gap, QMsg::NextArrival);
    }
}

impl Node<QMsg> for OpenLoopClient {
    fn footprint(&self) -> u64 {
        self.outstanding.len() as u64 * ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, QMsg>) {
        let name = ctx.name().to_string();
        let metrics = ctx.metrics();
        self.m = Some(ClientMetrics {
            sent: metrics.counter(&format!("{name}.sent")),
            ok: metrics.counter(&format!("{name}.ok")),
            timed_out: metrics.counter(&format!("{name}.timed_out")),
            late: metrics.counter(&format!("{name}.late_replies")),
            latency: metrics.histogram(&format!("{name}.latency_ns")),
        });
        self.schedule_next(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, QMsg>, _from: NodeId, msg: QMsg) {
        let m = self.m.as_ref().expect("started");
        if let QMsg::Reply { id, sent_at } = msg {
            if self.track_outstanding {
                match self.outstanding.remove(&id) {
                    Some(timer) => {
                        if let Some(t) = timer {
                            ctx.cancel_timer(t);
                        }
                    }
                    None => {
                        ctx.metrics().add(m.late, 1);
                        return;
                    }
                }
            }
            let latency = ctx.now().saturating_since(sent_at).as_nanos();
            let metrics = ctx.metrics();
            metrics.add(m.ok, 1);
            metrics.record(m.latency, latency);
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, QMsg>, _timer: TimerId, payload: QMsg) {
        let m = self.m.as_ref().expect("started");
        match payload {
            QMsg::NextArrival => {
                let id = self.next_id;
                self.next_id += 1;
                let target = if self.targets.len() == 1 {
                    self.targets[0]
                } else {
                    self.targets[ctx.rng().below(self.targets.len() as u64) as usize]
                };
                let (sent, timeout) = (m.sent, self.timeout);
                ctx.metrics().add(sent, 1);
                if self.track_outstanding {
                    let timer = timeout.map(|t| ctx.set_timer(t, QMsg::Timeout { id }));
                    self.outstanding.insert(id, timer);
                }
                let now = ctx.now();
                ctx.send(target, QMsg::Request { id, sent_at: now });
                self.schedule_next(ctx);
            }
            QMsg::Timeout { id } if self.outstanding.remove(&id).is_some() => {
                ctx.metrics().add(m.timed_out, 1);
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, _now: SimTime) {
        // A crashed client forgets what it was waiting for; those requests
        // end as neither success nor timeout, so tests treat a client crash
        // separately. The built-in tests only crash servers.
        self.outstanding.clear();
    }
}

struct Job {
    client: NodeId,
    id: u64,
    sent_at: SimTime,
    arrived_at: SimTime,
}

/// `workers` identical workers serving one FIFO queue with service times
/// drawn from `service`.
pub struct QueueServer {
    service: Dist,
    reply: bool,
    queue: VecDeque<Job>,
    busy: Vec<Option<Job>>,
    idle: Vec<u32>,
    /// Jobs lost in the last crash, counted when the node restarts.
    lost_on_crash: u64,
    m: Option<ServerMetrics>,
}

struct ServerMetrics {
    arrivals: CounterId,
    waited: CounterId,
    completed: CounterId,
    dropped: CounterId,
    response: HistogramId,
    wait: HistogramId,
    in_system: GaugeId,
    busy: GaugeId,
}

impl QueueServer {
    pub fn new(workers: u32, service: Dist) -> Self {
        assert!(workers > 0, "a server needs at least one worker");
        QueueServer {
            service,
            reply: true,
            queue: VecDeque::new(),
            busy: (0..workers).map(|_| None).collect(),
            idle: (0..workers).rev().collect(),
            lost_on_crash: 0,
            m: None,
        }
    }

    /// Exponential service with mean 1/`rate_per_s`.
    pub fn exponential(workers: u32, rate_per_s: f64) -> Self {
        Self::new(
            workers,
            Dist::exponential(1e9 / rate_per_s).expect("rate must be > 0"),
        )
    }

    /// Does not reply to the client (the response time is still recorded).
    pub fn without_replies(mut self) -> Self {
        self.reply = false;
        self
    }

    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    fn in_system(&self) -> usize {
        self.queue.len() + self.busy.len() - self.idle.len()
    }

    fn update_gauges(&self, ctx: &mut Context<'_, QMsg>) {
        let m = self.m.as_ref().expect("started");
        let now = ctx.now();
        let (in_system, busy) = (
            self.in_system() as f64,
            (self.busy.len() - self.idle.len()) as f64,
        );
        let metrics = ctx.metrics();
        metrics.set(m.in_system, now, in_system);
        metrics.set(m.busy, now, busy);
    }

    fn begin(&mut self, ctx: &mut Context<'_, QMsg>, worker: u32, job: Job) {
        let m = self.m.as_ref().expect("started");
        let waited = ctx.now().saturating_since(job.arrived_at).as_nanos();
        ctx.metrics().record(m.wait, waited);
        let service = self.service.sample_duration(ctx.rng());
        ctx.set_timer(service, QMsg::ServiceDone { worker });
        self.busy[worker as usize] = Some(job);
    }
}

impl Node<QMsg> for QueueServer {
    fn footprint(&self) -> u64 {
        self.queue.len() as u64 * ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, QMsg>) {
        let name = ctx.name().to_string();
        let now = ctx.now();
        let metrics = ctx.metrics();
        self.m = Some(ServerMetrics {
            arrivals: metrics.counter(&format!("{name}.arrivals")),
            waited: metrics.counter(&format!("{name}.waited")),
            completed: metrics.counter(&format!("{name}.completed")),
            dropped: metrics.counter(&format!("{name}.dropped_on_crash")),
            response: metrics.histogram(&format!("{name}.response_ns")),
            wait: metrics.histogram(&format!("{name}.wait_ns")),
            in_system: metrics.gauge(&format!("{name}.in_system"), now),
            busy: metrics.gauge(&format!("{name}.busy_workers"), now),
        });
    }

    fn on_message(&mut self, ctx: &mut Context<'_, QMsg>, from: NodeId, msg: QMsg) {
        let QMsg::Request { id, sent_at } = msg else {
            return;
        };
        let m = self.m.as_ref().expect("started");
        let (arrivals, waited) = (m.arrivals, m.waited);
        ctx.metrics().add(arrivals, 1);
        let job = Job {
            client: from,
            id,
            sent_at,
            arrived_at: ctx.now(),
        };
        match self.idle.pop() {
            Some(worker) => self.begin(ctx, worker, job),
            None => {
                ctx.metrics().add(waited, 1);
                self.queue.push_back(job);
            }
        }
        self.update_gauges(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, QMsg>, _timer: TimerId, payload: QMsg) {
        let QMsg::ServiceDone { worker } = payload else {
            return;
        };
        let m = self.m.as_ref().expect("started");
        let (completed, response) = (m.completed, m.response);
        let job = self.busy[worker as usize]
            .take()
            .expect("a busy worker finished");
        let now = ctx.now();
        let metrics = ctx.metrics();
        metrics.add(completed, 1);
        metrics.record(response, now.saturating_since(job.arrived_at).as_nanos());
        if self.reply {
            ctx.send(
                job.client,
                QMsg::Reply {
                    id: job.id,
                    sent_at: job.sent_at,
                },
            );
        }
        match self.queue.pop_front() {
            Some(next) => self.begin(ctx, worker, next),
            None => self.idle.push(worker),
        }
        self.update_gauges(ctx);
    }

    fn on_crash(&mut self, _now: SimTime) {
        // Everything queued or in service is lost with the process. The
        // gauges are brought up to date at the next event after restart.
        let lost = self.queue.len() + self.busy.iter().filter(|b| b.is_some()).count();
        self.queue.clear();
        for b in &mut self.busy {
            *b = None;
        }
        self.idle = (0..self.busy.len() as u32).rev().collect();
        self.lost_on_crash += lost as u64;
    }

    fn on_restart(&mut self, ctx: &mut Context<'_, QMsg>) {
        let m = self.m.as_ref().expect("started");
        let (dropped, lost) = (m.dropped, core::mem::take(&mut self.lost_on_crash));
        ctx.metrics().add(dropped, lost);
        self.update_gauges(ctx);
    }
}

/// A ready-made queueing system: a Poisson client sending to a server with
/// `workers` workers and the given service distribution (nanoseconds), over
/// a zero-latency network, in one zone. With exponential service this is
/// M/M/c. The client stops after `max_customers`, if given.
pub struct QueueingSystem {
    pub sim: Simulation<QMsg>,
    pub client: NodeId,
    pub server: NodeId,
}

impl QueueingSystem {
    pub fn new(
        seed: u64,
        workers: u32,
        arrival_rate_per_s: f64,
        service: Dist,
        max_customers: Option<u64>,
    ) -> Self {
        let mut sim = Simulation::new(seed);
        sim.network_mut().default_local = LinkSpec::fixed(0.0);
        let zone = sim.zone("dc");
        let server = sim
            .add_node("server", zone, QueueServer::new(workers, service))
            .expect("a fresh simulation has no nodes");
        let mut client = OpenLoopClient::poisson(server, arrival_rate_per_s);
        if let Some(n) = max_customers {
            client = client.with_max_requests(n);
        }
        let client = sim
            .add_node("client", zone, client)
            .expect("a fresh simulation has one node");
        QueueingSystem {
            sim,
            client,
            server,
        }
    }
}
