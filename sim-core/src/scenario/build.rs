//! From a checked scenario spec to a ready-to-run simulation, and from its
//! metrics to expectation verdicts.

use super::load::{DEFAULT_PARTITION, DEFAULT_ZONE};
use super::spec::instance_name;
use super::spec::{
    BackoffKind, BreakerSpec, CodelSpec, CompareOp, ConflictsName, DisciplineName, ExpectSpec,
    FanoutSpec, HealthCheckSpec, HedgeSpec, IdempotencySpec, JitterKind, KeysName, KeysSpec,
    NodeKind, NodeSpec, OutlierSpec, QueueSpec, ReadFromName, ReplicationName, RetrySpec,
    ScenarioSpec, SchemeName, ThrottleSpec, WindowSpec,
};
use crate::checker::consistency::{self, KvOp};
use crate::data::keys::KeyDist;
use crate::data::sharding::Partitioner;
use crate::dist::Dist;
use crate::engine::{DEFAULT_EVENT_BUDGET, Fault, NodeId, RunLimits, Simulation};
use crate::metrics::Metrics;
use crate::models::cache::{Cache, CacheConfig, KvReader, KvWriter};
use crate::models::caller::CallerConfig;
use crate::models::client::{Client, ClientConfig};
use crate::models::kv::KvStore;
use crate::models::ledger::Ledger;
use crate::models::replication::{
    Mode, ReadFrom, Replica, ReplicaConfig, Session, SessionConfig, analyse,
};
use crate::models::router::{Router, RouterConfig};
use crate::models::rpc::Control;
use crate::models::rpc::Rpc;
use crate::models::service::{
    Dependency, Discipline, Fanout, PriorityShedding, Service, ServiceConfig,
};
use crate::network::{LinkSpec, NodeSet, Partition};
use crate::policy::bulkhead::BulkheadConfig;
use crate::policy::circuit_breaker::{BreakerConfig, BreakerWindow};
use crate::policy::codel::CodelConfig;
use crate::policy::hedge::{HedgeAfter, HedgeConfig};
use crate::policy::idempotency::IdempotencyConfig;
use crate::policy::load_balance::{Balancer, HealthCheckConfig, OutlierConfig};
use crate::policy::rate_limit::{Limit, RateLimitConfig};
use crate::policy::retry::{Backoff, BudgetConfig, Jitter, RetryConfig};
use crate::policy::throttle::ThrottleConfig;
use crate::policy::timeout::TimeoutConfig;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};
use toml::Spanned;

/// How long idempotency keys are kept when `idempotency = true`.
pub const DEFAULT_KEY_TTL: SimDuration = SimDuration::from_secs(24 * 3600);

pub fn breaker_config(b: &BreakerSpec) -> BreakerConfig {
    let d = BreakerConfig::default();
    BreakerConfig {
        window: match b.window {
            None => BreakerWindow::Count(20),
            Some(WindowSpec::Calls(n)) => BreakerWindow::Count(n),
            Some(WindowSpec::Time(t)) => BreakerWindow::Time(t.0),
        },
        failure_rate: b.failure_rate.map_or(d.failure_rate, |p| p.0),
        slow_call_rate: b.slow_call_rate.map_or(2.0, |p| p.0),
        slow_call: b.slow_call.map_or(d.slow_call, |t| t.0),
        minimum_calls: b.minimum_calls.unwrap_or(d.minimum_calls),
        open_for: b.open_for.map_or(d.open_for, |t| t.0),
        half_open_calls: b.half_open_calls.unwrap_or(d.half_open_calls),
    }
}

/// The policies a client or a service's `call` may put on its calls.
struct Policies<'a> {
    breaker: Option<&'a BreakerSpec>,
    bulkhead: Option<u32>,
    balance: Option<Balancer>,
    outlier: Option<&'a OutlierSpec>,
    health: Option<&'a HealthCheckSpec>,
    hedge: Option<&'a HedgeSpec>,
    fallback: Option<bool>,
    pool: Option<u32>,
    throttle: Option<ThrottleSpec>,
}

fn apply_policies(c: &mut CallerConfig, p: Policies<'_>) {
    c.breaker = p.breaker.map(breaker_config);
    c.bulkhead = p
        .bulkhead
        .map(|max_concurrent| BulkheadConfig { max_concurrent });
    c.balancer = p.balance.unwrap_or_default();
    c.outlier = p.outlier.map(|o| OutlierConfig {
        consecutive_errors: o.consecutive_errors,
        base_ejection: o.ejection.0,
        max_ejected: o.max_ejected.map_or(0.5, |m| m.0),
    });
    c.health = p.health.map(|h| HealthCheckConfig {
        interval: h.interval.0,
        timeout: h.timeout.0,
        unhealthy_threshold: h.unhealthy.unwrap_or(2),
        healthy_threshold: h.healthy.unwrap_or(2),
    });
    c.hedge = p.hedge.map(|h| HedgeConfig {
        after: match (h.after, h.quantile) {
            (Some(d), _) => HedgeAfter::Fixed(d.0),
            (None, q) => HedgeAfter::Quantile {
                q: q.map_or(0.95, |q| q.0),
                initial: SimDuration::from_millis(10),
                warmup: 100,
            },
        },
        max_hedges: h.max.unwrap_or(1),
    });
    c.fallback = p.fallback.unwrap_or(false).then_some(0);
    c.pool = p.pool;
    c.throttle = match p.throttle {
        None | Some(ThrottleSpec::Enabled(false)) => None,
        Some(ThrottleSpec::Enabled(true)) => Some(ThrottleConfig::default()),
        Some(ThrottleSpec::Tuned(t)) => Some(ThrottleConfig {
            k: t.k,
            window: t.window.0,
        }),
    };
}

pub fn retry_config(r: &RetrySpec) -> RetryConfig {
    let delay = r.delay.map_or(SimDuration::ZERO, |d| d.0);
    RetryConfig {
        max_attempts: r.attempts,
        backoff: match r.backoff {
            BackoffKind::Immediate => Backoff::Immediate,
            BackoffKind::Fixed => Backoff::Fixed(delay),
            BackoffKind::Exponential => Backoff::Exponential {
                base: delay,
                multiplier: r.multiplier.unwrap_or(2.0),
                max: r.max_delay.map_or(SimDuration::MAX, |d| d.0),
            },
        },
        jitter: match r.jitter {
            JitterKind::None => Jitter::None,
            JitterKind::Full => Jitter::Full,
            JitterKind::Equal => Jitter::Equal,
            JitterKind::Decorrelated => Jitter::Decorrelated,
        },
        retry_on: match &r.on {
            None => RetryConfig::default_retry_on(),
            Some(kinds) => kinds.clone(),
        },
        budget: r.budget.map(|b| BudgetConfig {
            max_tokens: b.max_tokens,
            token_ratio: b.token_ratio,
        }),
    }
}

/// A simulation built from a scenario, with what is needed to run it.
pub struct Built {
    pub sim: Simulation<Rpc>,
    pub limits: RunLimits,
}

impl Built {
    /// Runs to the scenario's limits, then records what the checkers find
    /// (`finish`).
    pub fn run(&mut self) -> crate::engine::RunReport {
        let report = self.sim.run(self.limits);
        self.finish();
        report
    }

    /// Runs the checkers over the recorded histories and adds their
    /// findings to the metrics: per reader, `stale_reads`,
    /// `monotonic_read_violations` and the histogram `stale_age_ns` (each
    /// reader's reads against every writer's writes).
    pub fn finish(&mut self) {
        let nodes: Vec<(NodeId, String)> = self
            .sim
            .nodes()
            .map(|(id, name)| (id, name.to_string()))
            .collect();
        let writes: Vec<KvOp> = nodes
            .iter()
            .filter_map(|(id, _)| self.sim.node::<KvWriter>(*id))
            .flat_map(|w| w.history().iter().copied())
            .collect();
        // Routers: the busiest shard's share of the calls and its p99.
        for (id, name) in &nodes {
            let Some(router) = self.sim.node::<Router>(*id) else {
                continue;
            };
            let counts = router.per_shard(self.sim.metrics());
            let shards = router.shards().to_vec();
            let Some((hot, &calls)) = counts
                .iter()
                .enumerate()
                .max_by_key(|&(i, c)| (*c, std::cmp::Reverse(i)))
            else {
                continue;
            };
            let hot_name = self.sim.node_name(shards[hot]).to_string();
            let p99 = self
                .sim
                .metrics()
                .get_histogram(&format!("{hot_name}.response_ns"))
                .and_then(|h| h.quantile(0.99))
                .unwrap_or(0);
            let m = self.sim.metrics_mut();
            let c = m.counter(&format!("{name}.hottest_shard_requests"));
            m.add(c, calls);
            let c = m.counter(&format!("{name}.hottest_shard_p99_ns"));
            m.add(c, p99);
        }
        self.finish_replication(&nodes);
        for (id, name) in &nodes {
            let Some(reader) = self.sim.node::<KvReader>(*id) else {
                continue;
            };
            // Reads begun in the warm-up are not judged; every write is
            // kept, as what those after it are judged against.
            let from = self.sim.metrics().measured_from().as_nanos();
            let mut ops: Vec<KvOp> = reader
                .history()
                .iter()
                .filter(|op| op.invoke >= from)
                .copied()
                .collect();
            ops.extend_from_slice(&writes);
            let report = consistency::check(&ops);
            let m = self.sim.metrics_mut();
            let stale = m.counter(&format!("{name}.stale_reads"));
            m.add(stale, report.stale_reads);
            let mono = m.counter(&format!("{name}.monotonic_read_violations"));
            m.add(mono, report.monotonic_read_violations);
            let ages = m.histogram(&format!("{name}.stale_age_ns"));
            for age in report.stale_ages {
                m.record(ages, age);
            }
        }
    }
}

/// A client's or session's rate changes, in time order.
fn rate_changes(n: &NodeSpec) -> Vec<(SimTime, f64)> {
    let mut changes: Vec<(SimTime, f64)> = n
        .rate_changes
        .iter()
        .flatten()
        .map(|r| (SimTime::ZERO + r.at.0, r.rate.0))
        .collect();
    changes.sort_by_key(|&(at, _)| at);
    changes
}

/// The zone of each replica of a group, in order.
fn replica_zones(n: &NodeSpec) -> Vec<String> {
    let count = n.replicas.as_ref().map_or(1, |r| *r.get_ref()) as usize;
    match &n.zones {
        Some(z) => z.get_ref().clone(),
        None => vec![n.zone.clone().unwrap_or_else(|| DEFAULT_ZONE.to_string()); count],
    }
}

impl Built {
    /// Per replicated group: lost updates, divergent keys and keys whose
    /// history is not linearizable; per session, its stale reads (with
    /// their ages) and session-guarantee violations.
    fn finish_replication(&mut self, nodes: &[(NodeId, String)]) {
        let groups: BTreeSet<String> = nodes
            .iter()
            .filter_map(|(id, _)| self.sim.node::<Replica>(*id))
            .map(|r| r.group().to_string())
            .collect();
        for g in groups {
            let replicas: Vec<&Replica> = nodes
                .iter()
                .filter_map(|(id, _)| self.sim.node::<Replica>(*id))
                .filter(|r| r.group() == g)
                .collect();
            let (names, sessions): (Vec<&str>, Vec<&Session>) = nodes
                .iter()
                .filter_map(|(id, name)| {
                    self.sim
                        .node::<Session>(*id)
                        .filter(|s| s.group() == g)
                        .map(|s| (name.as_str(), s))
                })
                .unzip();
            let from = self.sim.metrics().measured_from().as_nanos();
            let report = analyse(&replicas, &sessions, LINEARIZABILITY_BUDGET, from);
            let names: Vec<String> = names.into_iter().map(String::from).collect();
            let m = self.sim.metrics_mut();
            for (what, v) in [
                ("lost_updates", report.lost_writes),
                ("divergent_keys", report.divergent_keys),
                ("nonlinearizable_keys", report.nonlinearizable_keys),
                ("undecided_keys", report.undecided_keys),
            ] {
                let c = m.counter(&format!("{g}.{what}"));
                m.add(c, v);
            }
            for (name, r) in names.iter().zip(report.sessions) {
                for (what, v) in [
                    ("stale_reads", r.stale_reads),
                    ("read_your_writes_violations", r.read_your_writes_violations),
                    ("monotonic_read_violations", r.monotonic_read_violations),
                ] {
                    let c = m.counter(&format!("{name}.{what}"));
                    m.add(c, v);
                }
                let ages = m.histogram(&format!("{name}.stale_age_ns"));
                for age in r.stale_ages {
                    m.record(ages, age);
                }
            }
        }
    }
}

/// Search states the linearizability check may visit for each key of a
/// replicated group, so that a tangled history cannot stall a report; a
/// key it cannot decide is counted in `<group>.undecided_keys`.
pub const LINEARIZABILITY_BUDGET: u64 = 1_000_000;

fn key_dist(k: Option<&KeysSpec>) -> KeyDist {
    match k {
        None => KeyDist::uniform(1),
        Some(k) => match k.dist {
            KeysName::Uniform => KeyDist::uniform(k.n),
            KeysName::Zipf => KeyDist::zipf(k.n, k.s.unwrap_or(1.0)),
            KeysName::Hot => KeyDist::hot_key(k.n, k.share.map_or(0.0, |p| p.0)),
        },
    }
}

/// About this many intervals per run in the models' time series.
pub const SERIES_POINTS: u64 = 120;

/// The time series interval for a run of `duration`: 1, 2 or 5 times a
/// power of ten milliseconds, the smallest at least duration / 120, so
/// charts have up to about 120 points on round times.
pub fn series_interval(duration: SimDuration) -> u64 {
    const MS: u64 = 1_000_000;
    let raw = (duration.as_nanos() / SERIES_POINTS).max(MS);
    let mut unit = MS;
    loop {
        for m in [1, 2, 5] {
            if unit.saturating_mul(m) >= raw {
                return unit.saturating_mul(m);
            }
        }
        unit = unit.saturating_mul(10);
    }
}

/// Builds the simulation for `spec` under `seed`. The spec must have been
/// checked by `load` (names resolve), so failures here are engine errors.
pub fn build(spec: &ScenarioSpec, seed: u64) -> Result<Built, String> {
    let mut sim = Simulation::new(seed);
    sim.metrics_mut()
        .set_series_interval(series_interval(spec.run.duration.0));
    if let Some(l) = &spec.network.latency {
        sim.network_mut().default_local = LinkSpec::fixed(0.0).with_latency(l.0.clone());
    }
    if let Some(l) = &spec.network.zone_latency {
        sim.network_mut().default_remote = LinkSpec::fixed(0.0).with_latency(l.0.clone());
    }
    // Ids are assigned in file order (a replica group's copies in a row),
    // so references can be resolved first. A group's name stands for all
    // its replicas; each replica also has its own name.
    let mut ids: BTreeMap<String, Vec<NodeId>> = BTreeMap::new();
    let mut next = 0;
    for n in &spec.nodes {
        let name = n.name.get_ref();
        match n.replicas.as_ref().map(|r| *r.get_ref()) {
            None => {
                ids.insert(name.clone(), vec![NodeId::from_index(next)]);
                next += 1;
            }
            Some(count) => {
                let group: Vec<NodeId> = (next..next + count as usize)
                    .map(NodeId::from_index)
                    .collect();
                for (i, &r) in group.iter().enumerate() {
                    ids.insert(instance_name(name, i), vec![r]);
                }
                ids.insert(name.clone(), group);
                next += count as usize;
            }
        }
    }
    let group = |name: &str| ids[name].clone();
    for n in &spec.nodes {
        let zone = sim.zone(n.zone.as_deref().unwrap_or(DEFAULT_ZONE));
        let name = n.name.get_ref();
        let added = match n.kind.get_ref() {
            NodeKind::Client => {
                let targets = group(n.target.as_ref().expect("checked").get_ref());
                let rate = n.rate.as_ref().expect("checked").get_ref().0;
                let mut c = ClientConfig::poisson(targets[0], rate);
                c.call.targets = targets;
                c.call.timeout = TimeoutConfig {
                    per_attempt: n.timeout.as_ref().map(|d| d.get_ref().0),
                    overall: n.deadline.map(|d| d.0),
                };
                if let Some(r) = &n.retry {
                    c.call.retry = retry_config(r.get_ref());
                }
                apply_policies(
                    &mut c.call,
                    Policies {
                        breaker: n.breaker.as_ref().map(|b| b.get_ref()),
                        bulkhead: n.bulkhead.as_ref().map(|b| *b.get_ref()),
                        balance: n.balance,
                        outlier: n.outlier.as_ref(),
                        health: n.health_check.as_ref().map(Spanned::get_ref),
                        hedge: n.hedge.as_ref().map(|h| h.get_ref()),
                        fallback: n.fallback,
                        pool: n.pool.as_ref().map(|p| *p.get_ref()),
                        throttle: n.throttle,
                    },
                );
                c.call.priority = n.priority.unwrap_or(0);
                c.idempotency_keys = n.idempotency_keys.unwrap_or(false);
                c.double_submit = n.double_submit.map_or(0.0, |p| p.0);
                if let Some(d) = &n.double_submit_delay {
                    c.double_submit_delay = d.0.clone();
                }
                c.max_orders = n.orders;
                c.rate_changes = rate_changes(n);
                c.max_in_flight = n
                    .max_in_flight
                    .as_ref()
                    .map(|m| usize::try_from(*m.get_ref()).unwrap_or(usize::MAX));
                sim.add_node(name, zone, Client::new(c)).map(|_| ())
            }
            NodeKind::Service => {
                let workers = *n.workers.as_ref().expect("checked").get_ref();
                let service_time = n.service_time.as_ref().expect("checked").0.clone();
                let mut s = ServiceConfig::new(workers, service_time);
                s.queue_capacity = match n.queue.as_ref().map(|q| *q.get_ref()) {
                    Some(QueueSpec::Bounded(cap)) => {
                        Some(usize::try_from(cap).unwrap_or(usize::MAX))
                    }
                    _ => None,
                };
                if let Some(c) = &n.calls {
                    let targets = group(c.get_ref());
                    let mut dep = Dependency::to(c.get_ref(), targets[0]);
                    dep.call.targets = targets;
                    dep.call.timeout.per_attempt = n.call_timeout.map(|d| d.0);
                    s.dependencies.push(dep);
                }
                for c in n.call_specs.iter().flatten() {
                    let to = c.to.get_ref();
                    let targets = group(to);
                    let mut dep = Dependency::to(c.name.as_deref().unwrap_or(to), targets[0]);
                    dep.call.targets = targets;
                    dep.call.timeout = TimeoutConfig {
                        per_attempt: c.timeout.map(|d| d.0),
                        overall: c.deadline.map(|d| d.0),
                    };
                    if let Some(r) = &c.retry {
                        dep.call.retry = retry_config(r.get_ref());
                    }
                    apply_policies(
                        &mut dep.call,
                        Policies {
                            breaker: c.breaker.as_ref().map(|b| b.get_ref()),
                            bulkhead: c.bulkhead.as_ref().map(|b| *b.get_ref()),
                            balance: c.balance,
                            outlier: c.outlier.as_ref(),
                            health: c.health_check.as_ref().map(Spanned::get_ref),
                            hedge: c.hedge.as_ref().map(|h| h.get_ref()),
                            fallback: c.fallback,
                            pool: c.pool.as_ref().map(|p| *p.get_ref()),
                            throttle: c.throttle,
                        },
                    );
                    dep.fanout = c.fanout.map(|f| match f {
                        FanoutSpec::Named(_) => Fanout::All,
                        FanoutSpec::Quorum(q) => Fanout::Quorum(q.quorum),
                    });
                    dep.flag = c.flag.clone();
                    s.dependencies.push(dep);
                }
                s.parallel = n.parallel.unwrap_or(false);
                s.flags = n.flags.clone().unwrap_or_default();
                s.gate = n.gate.as_ref().map(|g| g.get_ref().clone());
                s.rate_limit = n.rate_limit.as_ref().map(|r| {
                    let r = r.get_ref();
                    RateLimitConfig {
                        limit: match (r.rate, r.limit, r.window) {
                            (Some(rate), _, _) => Limit::TokenBucket {
                                rate: rate.0,
                                burst: r.burst.unwrap_or(rate.0.max(1.0)),
                            },
                            (None, limit, window) => Limit::SlidingWindow {
                                limit: limit.unwrap_or(0),
                                window: window.map_or(SimDuration::from_secs(1), |w| w.0),
                            },
                        },
                        per_client: r.per_client.unwrap_or(false),
                    }
                });
                s.priority_shedding = n.shed.map(|sh| PriorityShedding {
                    below: sh.below,
                    queue: usize::try_from(sh.queue).unwrap_or(usize::MAX),
                });
                s.idempotency = match n.idempotency {
                    None | Some(IdempotencySpec::Enabled(false)) => None,
                    Some(IdempotencySpec::Enabled(true)) => Some(IdempotencyConfig {
                        ttl: DEFAULT_KEY_TTL,
                    }),
                    Some(IdempotencySpec::Ttl(t)) => Some(IdempotencyConfig { ttl: t.ttl.0 }),
                };
                s.discipline = match n.discipline {
                    None | Some(DisciplineName::Fifo) => Discipline::Fifo,
                    Some(DisciplineName::Lifo) => Discipline::Lifo,
                };
                s.codel = match n.codel {
                    None | Some(CodelSpec::Enabled(false)) => None,
                    Some(CodelSpec::Enabled(true)) => Some(CodelConfig::default()),
                    Some(CodelSpec::Tuned(t)) => Some(CodelConfig {
                        target: t.target.0,
                        interval: t.interval.0,
                    }),
                };
                match n.replicas.as_ref().map(|r| *r.get_ref()) {
                    None => sim.add_node(name, zone, Service::new(s)).map(|_| ()),
                    Some(count) => (0..count).try_for_each(|i| {
                        sim.add_node(&instance_name(name, i), zone, Service::new(s.clone()))
                            .map(|_| ())
                    }),
                }
            }
            NodeKind::Ledger => {
                let time = n.processing_time.as_ref().expect("checked").0.clone();
                sim.add_node(name, zone, Ledger::new(time)).map(|_| ())
            }
            NodeKind::Kv => {
                let store = || match (&n.workers, &n.service_time) {
                    (Some(w), Some(t)) => KvStore::with_capacity(*w.get_ref(), t.0.clone()),
                    _ => KvStore::new(),
                };
                match n.replicas.as_ref().map(|r| *r.get_ref()) {
                    None => sim.add_node(name, zone, store()).map(|_| ()),
                    Some(count) => (0..count).try_for_each(|i| {
                        sim.add_node(&instance_name(name, i), zone, store())
                            .map(|_| ())
                    }),
                }
            }
            NodeKind::Router => {
                let shards = group(n.target.as_ref().expect("checked").get_ref());
                let sharding = n.sharding.expect("checked");
                let make = |count: usize| match sharding.scheme {
                    SchemeName::Mod => Partitioner::mod_n(count),
                    SchemeName::Consistent => {
                        Partitioner::consistent(count, sharding.vnodes.unwrap_or(100) as usize, 0)
                    }
                    SchemeName::Range => {
                        let space = sharding.key_space.unwrap_or(1_000_000);
                        Partitioner::Range {
                            bounds: (1..count as u64)
                                .map(|i| space / count as u64 * i)
                                .collect(),
                        }
                    }
                };
                let initial = n
                    .shards
                    .as_ref()
                    .map_or(shards.len(), |s| *s.get_ref() as usize);
                let router = Router::new(RouterConfig {
                    partitioner: make(initial),
                    reshard: n.reshard.as_ref().map(|r| {
                        let r = r.get_ref();
                        (SimTime::ZERO + r.at.0, make(r.shards as usize))
                    }),
                    shards,
                });
                sim.add_node(name, zone, router).map(|_| ())
            }
            NodeKind::Cache => {
                let db = group(n.target.as_ref().expect("checked").get_ref())[0];
                let cache = Cache::new(CacheConfig {
                    db,
                    ttl: n.ttl.expect("checked").0,
                    ttl_jitter: n.ttl_jitter.map_or(0.0, |p| p.0),
                    single_flight: n.single_flight.unwrap_or(false),
                    write_through: n.write_through.unwrap_or(false),
                });
                sim.add_node(name, zone, cache).map(|_| ())
            }
            NodeKind::Replica => {
                let peers = group(name);
                let rep = *n.replication.as_ref().expect("checked").get_ref();
                let mode = match rep.mode {
                    ReplicationName::Leader => Mode::Leader {
                        sync: rep.sync.unwrap_or(0) as usize,
                    },
                    ReplicationName::Quorum => Mode::Quorum {
                        r: rep.r.expect("checked") as usize,
                        w: rep.w.expect("checked") as usize,
                        read_repair: rep.read_repair.unwrap_or(false),
                    },
                };
                let zones = replica_zones(n);
                (0..peers.len()).try_for_each(|i| {
                    let mut cfg = ReplicaConfig::new(name, peers.clone(), i, mode);
                    cfg.siblings = rep.conflicts == Some(ConflictsName::Siblings);
                    cfg.skew_ns = n.clock_skew.as_ref().map_or(0, |c| c.get_ref()[i].0);
                    if let Some(d) = &n.heartbeat {
                        cfg.heartbeat = d.get_ref().0;
                    }
                    if let Some(d) = &n.failover_after {
                        cfg.failover_after = d.get_ref().0;
                    }
                    if let Some(d) = n.timeout.as_ref().map(Spanned::get_ref) {
                        cfg.request_timeout = d.0;
                    }
                    cfg.anti_entropy = n.anti_entropy.as_ref().map(|d| d.get_ref().0);
                    cfg.drift_check = n.drift_check.as_ref().map(|d| d.get_ref().0);
                    let zone = sim.zone(&zones[i]);
                    sim.add_node(&instance_name(name, i), zone, Replica::new(cfg))
                        .map(|_| ())
                })
            }
            NodeKind::Session => {
                let target = n.target.as_ref().expect("checked").get_ref();
                let t = spec
                    .nodes
                    .iter()
                    .find(|m| m.name.get_ref() == target)
                    .expect("checked");
                let my_zone = n.zone.as_deref().unwrap_or(DEFAULT_ZONE);
                let local = replica_zones(t)
                    .iter()
                    .position(|z| z == my_zone)
                    .unwrap_or(0);
                let session = Session::new(SessionConfig {
                    group: target.clone(),
                    replicas: group(target),
                    local,
                    leader_mode: t
                        .replication
                        .as_ref()
                        .is_some_and(|r| r.get_ref().mode == ReplicationName::Leader),
                    keys: key_dist(n.keys.as_ref().map(Spanned::get_ref)),
                    rate_per_s: n.rate.as_ref().expect("checked").get_ref().0,
                    read_share: n.read_share.map_or(0.5, |p| p.0),
                    read_from: match n.read_from {
                        Some(ReadFromName::Leader) => ReadFrom::Leader,
                        Some(ReadFromName::Random) => ReadFrom::Random,
                        Some(ReadFromName::Local) | None => ReadFrom::Local,
                    },
                    read_your_writes: n.read_your_writes.unwrap_or(false),
                    timeout: n
                        .timeout
                        .as_ref()
                        .map_or(SimDuration::from_secs(1), |d| d.get_ref().0),
                    rate_changes: rate_changes(n),
                });
                sim.add_node(name, zone, session).map(|_| ())
            }
            NodeKind::Reader | NodeKind::Writer => {
                let target = group(n.target.as_ref().expect("checked").get_ref())[0];
                let rate = n.rate.as_ref().expect("checked").get_ref().0;
                let keys = key_dist(n.keys.as_ref().map(Spanned::get_ref));
                if *n.kind.get_ref() == NodeKind::Reader {
                    sim.add_node(name, zone, KvReader::new(target, keys, rate, None))
                        .map(|_| ())
                } else {
                    let invalidate = n.invalidate.as_ref().map(|c| group(c.get_ref())[0]);
                    sim.add_node(
                        name,
                        zone,
                        KvWriter::new(target, invalidate, keys, rate, None),
                    )
                    .map(|_| ())
                }
            }
        };
        added.map_err(|e| e.to_string())?;
    }
    // Members of a place: a node, or every node of a zone.
    let members = |sim: &Simulation<Rpc>, place: &str| -> Vec<NodeId> {
        match ids.get(place) {
            Some(n) => n.clone(),
            None => {
                let zone = sim
                    .network()
                    .zone_ids()
                    .find(|&z| sim.network().zone_name(z) == place);
                zone.map(|z| sim.network().nodes_in_zone(z).iter().collect())
                    .unwrap_or_default()
            }
        }
    };
    for l in &spec.links {
        let mut link = LinkSpec::fixed(0.0);
        link.latency = l.latency.as_ref().map_or_else(
            || sim.network().default_local.latency.clone(),
            |d| d.0.clone(),
        );
        link.loss = l.loss.map_or(0.0, |p| p.0);
        link.duplicate = l.duplicate.map_or(0.0, |p| p.0);
        link.reorder = l.reorder.map_or(0.0, |p| p.0);
        link.reorder_delay = l
            .reorder_delay
            .as_ref()
            .map_or(Dist::Constant(0.0), |d| d.0.clone());
        let (from, to) = (l.from.get_ref().as_str(), l.to.get_ref().as_str());
        let pairs = if l.both_ways {
            vec![(from, to), (to, from)]
        } else {
            vec![(from, to)]
        };
        for (a, b) in pairs {
            let zone_pair = !ids.contains_key(a) && !ids.contains_key(b);
            if zone_pair {
                let net = sim.network_mut();
                let (za, zb) = (net.zone(a), net.zone(b));
                net.set_zone_link(za, zb, link.clone());
            } else {
                for x in members(&sim, a) {
                    for y in members(&sim, b) {
                        sim.network_mut().set_node_link(x, y, link.clone());
                    }
                }
            }
        }
    }
    for f in &spec.faults {
        let at = SimTime::ZERO + f.at.0;
        let control = |c: Control, names: &toml::Spanned<String>, sim: &mut Simulation<Rpc>| {
            for &n in &ids[names.get_ref().as_str()] {
                sim.inject(at, n, n, Rpc::Control(c.clone()))
                    .map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        };
        if let Some(n) = &f.slow {
            let permille = (f.factor.unwrap_or(1.0) * 1000.0)
                .round()
                .clamp(1.0, u32::MAX as f64);
            control(
                Control::Slow {
                    permille: permille as u32,
                },
                n,
                &mut sim,
            )?;
            continue;
        }
        if let Some(n) = &f.errors {
            let ppm = (f.rate.map_or(0.0, |p| p.0) * 1e6).round() as u32;
            control(Control::Errors { ppm }, n, &mut sim)?;
            continue;
        }
        if let Some(n) = &f.hang {
            control(Control::Hang, n, &mut sim)?;
            continue;
        }
        if let Some(n) = &f.recover {
            control(Control::Recover, n, &mut sim)?;
            continue;
        }
        if let Some(flag) = &f.flag {
            // Every service (every replica) that has the flag.
            for n in &spec.nodes {
                if n.flags
                    .as_ref()
                    .is_some_and(|fl| fl.contains_key(flag.get_ref()))
                {
                    for &id in &ids[n.name.get_ref().as_str()] {
                        let c = Control::Flag {
                            name: flag.get_ref().clone(),
                            on: f.on.unwrap_or(false),
                        };
                        sim.inject(at, id, id, Rpc::Control(c))
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
            continue;
        }
        let faults: Vec<Fault> = if let Some(n) = &f.crash {
            group(n.get_ref()).into_iter().map(Fault::Crash).collect()
        } else if let Some(n) = &f.restart {
            group(n.get_ref()).into_iter().map(Fault::Restart).collect()
        } else if let Some(p) = &f.partition {
            let [a, b] = p.get_ref();
            let side = |names: &Vec<toml::Spanned<String>>| -> NodeSet {
                names
                    .iter()
                    .flat_map(|n| members(&sim, n.get_ref()))
                    .collect()
            };
            let name = f
                .name
                .clone()
                .unwrap_or_else(|| DEFAULT_PARTITION.to_string());
            let (a, b) = (side(a), side(b));
            vec![Fault::Partition(if f.one_way {
                Partition::one_way(&name, a, b)
            } else {
                Partition::between(&name, a, b)
            })]
        } else if let Some(h) = &f.heal {
            vec![match h.get_ref().as_str() {
                "all" => Fault::HealAll,
                name => Fault::Heal(name.to_string()),
            }]
        } else {
            return Err("a fault does nothing".into());
        };
        for fault in faults {
            sim.schedule(at, fault).map_err(|e| e.to_string())?;
        }
    }
    sim.metrics_mut()
        .set_fault_windows(super::timeline::fault_windows(spec));
    if let Some(w) = spec.run.warmup {
        sim.set_warmup(SimTime::ZERO + w.0);
    }
    let limits = RunLimits::for_duration(spec.run.duration.0)
        .with_max_events(spec.run.event_budget.unwrap_or(DEFAULT_EVENT_BUDGET))
        .with_max_memory(
            spec.run
                .memory_budget
                .map_or(crate::engine::DEFAULT_MEMORY_BUDGET, |b| b.0),
        );
    Ok(Built { sim, limits })
}

/// The value of a metric by name: a client's `time_to_detect_s` and
/// `time_to_recover_s` after the scheduled faults (infinite when never;
/// see `timeline`), a ratio of two (`user.ok / user.requests`,
/// 0 when the second is 0), a counter (`ledger.duplicate_charges`),
/// a counter per second of the run (`user.ok.per_s`, goodput),
/// a histogram statistic (`user.latency_ns.p99`, `.p50`, `.p90`, `.p999`,
/// `.max`, `.mean`, `.count`, or `.over_500ms`: the share of values above
/// a duration), or a gauge's time average or maximum
/// (`api.queue_depth.avg`, `.max`).
pub fn metric_value(metrics: &Metrics, name: &str, end: SimTime) -> Result<f64, String> {
    if let Some((a, b)) = name.split_once(" / ") {
        let (a, b) = (
            metric_value(metrics, a.trim(), end)?,
            metric_value(metrics, b.trim(), end)?,
        );
        return Ok(if b == 0.0 { 0.0 } else { a / b });
    }
    if let Some(base) = name.strip_suffix(".nonlinearizable_keys")
        && let Some(undecided) = metrics
            .get_counter(&format!("{base}.undecided_keys"))
            .filter(|&u| u > 0)
    {
        return Err(format!(
            "`{name}` has no verdict: the linearizability search could not decide \
             {undecided} key{} within its budget, and any of them may not be linearizable",
            if undecided == 1 { "" } else { "s" }
        ));
    }
    if let Some(v) = metrics.get_counter(name) {
        return Ok(v as f64);
    }
    if let Some((base, stat)) = name.rsplit_once('.') {
        if matches!(stat, "time_to_detect_s" | "time_to_recover_s") {
            let r = super::timeline::recovery(metrics, base, end).ok_or_else(|| {
                format!(
                    "`{name}` needs a client called `{base}` and a fault in the scenario's schedule"
                )
            })?;
            let after = if stat == "time_to_detect_s" {
                r.detected_after
            } else {
                r.recovered_after
            };
            // Never is infinitely long: `< 30` fails, `> 30` holds.
            return Ok(after.map_or(f64::INFINITY, |d| d.as_nanos() as f64 / 1e9));
        }
        if stat == "per_s"
            && let Some(v) = metrics.get_counter(base)
        {
            let secs = end.saturating_since(metrics.measured_from()).as_nanos() as f64 / 1e9;
            return Ok(if secs > 0.0 { v as f64 / secs } else { 0.0 });
        }
        if let Some(h) = metrics.get_histogram(base) {
            let q = |q: f64| h.quantile(q).map_or(f64::NAN, |v| v as f64);
            return match stat {
                "p50" => Ok(q(0.5)),
                "p90" => Ok(q(0.9)),
                "p99" => Ok(q(0.99)),
                "p999" => Ok(q(0.999)),
                "max" => Ok(q(1.0)),
                "mean" => Ok(h.mean()),
                "count" => Ok(h.count() as f64),
                over if over.starts_with("over_") => {
                    let limit: SimDuration = over["over_".len()..].parse().map_err(|e| {
                        format!("`{over}`: after `over_` comes a duration, e.g. over_500ms ({e})")
                    })?;
                    Ok(if h.count() == 0 {
                        0.0
                    } else {
                        h.count_above(limit.as_nanos()) as f64 / h.count() as f64
                    })
                }
                other => Err(format!(
                    "`{other}` is not a statistic of histogram `{base}` (use p50, p90, p99, p999, max, mean, count or over_<duration>)"
                )),
            };
        }
        if let Some(g) = metrics.get_gauge(base) {
            return match stat {
                "avg" => Ok(g.time_average(end)),
                "max" => Ok(g.max()),
                other => Err(format!(
                    "`{other}` is not a statistic of gauge `{base}` (use avg or max)"
                )),
            };
        }
    }
    let mut known: Vec<String> = metrics.counters().map(|(n, _)| n.to_string()).collect();
    known.extend(metrics.histograms().map(|(n, _)| format!("{n}.p99")));
    known.extend(metrics.gauges().map(|(n, _)| format!("{n}.avg")));
    let hint = super::suggest::did_you_mean(name, known.iter().map(String::as_str))
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    Err(format!("there is no metric `{name}`{hint}"))
}

/// An expectation's right-hand side as a number: integers and floats as
/// they are, durations in nanoseconds (`"300ms"`), percentages as fractions.
pub fn expectation_value(v: &toml::Value) -> Result<f64, String> {
    match v {
        toml::Value::Integer(i) => Ok(*i as f64),
        toml::Value::Float(f) => Ok(*f),
        toml::Value::String(s) => {
            if let Ok(d) = s.parse::<SimDuration>() {
                return Ok(d.as_nanos() as f64);
            }
            super::units::parse_probability(s).map_err(|_| {
                format!("`{s}` is not a number, a duration (\"300ms\") or a percentage (\"5%\")")
            })
        }
        other => Err(format!(
            "expected a number, a duration or a percentage, got {}",
            other.type_str()
        )),
    }
}

/// One expectation checked on one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub metric: String,
    pub op: CompareOp,
    pub expected: f64,
    pub actual: f64,
    pub holds: bool,
}

pub fn evaluate(e: &ExpectSpec, metrics: &Metrics, end: SimTime) -> Result<Verdict, String> {
    let actual = metric_value(metrics, e.metric.get_ref(), end)?;
    let expected = expectation_value(e.value.get_ref())?;
    let op = *e.op.get_ref();
    Ok(Verdict {
        metric: e.metric.get_ref().clone(),
        op,
        expected,
        actual,
        holds: op.holds(actual, expected),
    })
}
