//! From a checked scenario spec to a ready-to-run simulation, and from its
//! metrics to expectation verdicts.

use super::consensus::RaftHistories;
use super::faults::FaultAction;
use super::histories::KvHistories;
use super::load::DEFAULT_ZONE;
use super::sessions::SessionHistories;
use super::spec::FaultSpec;
use super::spec::instance_name;
use super::spec::{CompareOp, ExpectSpec, ScenarioSpec};
use super::timeline::FaultWindow;
use crate::dist::Dist;
use crate::engine::{
    DEFAULT_EVENT_BUDGET, Fault, NodeId, RunLimits, RunReport, Simulation, StopReason,
};
use crate::metrics::Metrics;
use crate::models::request::Control;
use crate::models::router::Router;
use crate::models::rpc::Rpc;
use crate::network::{LinkSpec, NodeSet, Partition};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// A simulation built from a scenario, with what is needed to run it.
pub struct Built {
    pub sim: Simulation<Rpc>,
    pub limits: RunLimits,
    /// When the scheduled faults were in force: what charts shade and
    /// what detection and recovery are measured from.
    pub faults: Vec<FaultWindow>,
    /// The readers' and writers' histories, judged as the run goes.
    kv: KvHistories,
    /// The replicated groups' sessions' histories, likewise.
    groups: SessionHistories,
    /// The Raft groups' members' events, likewise.
    raft: RaftHistories,
    /// The checkpoints of `always` and `eventually` expectations: a front
    /// end that runs the simulation itself stops at each `watch.next()`
    /// and calls `observe`.
    pub watch: super::watch::Watch,
}

/// How many events a run goes between takings of the key-value models'
/// histories: what returned in that many events is all they hold.
pub const DRAIN_EVERY: u64 = 1 << 16;

impl Built {
    /// Runs to the scenario's limits, taking the histories every
    /// `DRAIN_EVERY` events (slicing a run does not change it), then
    /// records what the checkers find (`finish`).
    pub fn run(&mut self) -> RunReport {
        self.run_pausing(&[], |_, _| {})
    }

    /// Runs as `run` does, pausing at each of `pauses` (in time order)
    /// to hand `at_pause` the time and the metrics as they stand then
    /// (`metrics_now`): what a prediction graded before the end reads.
    /// Pausing does not change the run. A pause at or after the end is
    /// skipped.
    pub fn run_pausing(
        &mut self,
        pauses: &[SimTime],
        mut at_pause: impl FnMut(SimTime, Metrics),
    ) -> RunReport {
        let (mut events, budget) = (0u64, self.limits.max_events);
        let end = self.limits.until;
        let mut pauses = pauses.iter().copied().filter(|&t| t < end).peekable();
        let report = loop {
            let pause = pauses.peek().copied().unwrap_or(end);
            let until = self.watch.next().map_or(pause, |w| w.min(pause));
            let chunk = DRAIN_EVERY.min(budget - events);
            let limits = RunLimits {
                until,
                ..self.limits
            };
            let mut r = self.sim.run(limits.with_max_events(chunk));
            events += r.events;
            self.drain();
            match r.stop {
                StopReason::EventBudget { .. } if events < budget => continue,
                StopReason::EventBudget { .. } => r.stop = StopReason::EventBudget { budget },
                StopReason::ReachedEnd | StopReason::Idle if until < end => {
                    if self.watch.next() == Some(until) {
                        self.observe();
                    }
                    if pause == until {
                        pauses.next();
                        at_pause(until, self.metrics_now());
                    }
                    continue;
                }
                _ => {}
            }
            r.events = events;
            break r;
        };
        self.finish();
        report
    }

    /// Judges the `always` and `eventually` expectations at the
    /// checkpoint due (the simulation has run to it), with the histories
    /// taken first, so that every front end judges the same metrics.
    pub fn observe(&mut self) {
        self.drain();
        self.watch.observe(self.sim.metrics(), &self.faults);
    }

    /// The metrics as they stand now, with the readers' stale reads found
    /// so far (as of the last `drain`); the replicated stores' checkers
    /// run only at the end (`finish`).
    pub fn metrics_now(&self) -> Metrics {
        let mut m = self.sim.metrics().clone();
        self.kv.record(&mut m);
        m
    }

    /// Takes the readers' and writers' operations that returned since the
    /// last call and judges them; a front end that runs the simulation in
    /// slices calls it between them, so what the nodes hold stays small.
    pub fn drain(&mut self) {
        self.kv.drain(&mut self.sim);
        self.groups.drain(&mut self.sim);
        self.raft.drain(&mut self.sim);
        let held = self.kv.entries() + self.groups.entries() + self.raft.entries();
        self.sim
            .set_outside_footprint(held.saturating_mul(crate::models::ENTRY_BYTES));
    }

    /// Each reader's and session's name and its stale reads so far (as of
    /// the last `drain`).
    pub fn stale_so_far(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.kv.stale_so_far().chain(self.groups.stale_so_far())
    }

    /// Runs the checkers over what is left of the recorded histories and
    /// adds their findings to the metrics: per reader, `stale_reads`,
    /// `monotonic_read_violations` and the histogram `stale_age_ns` (each
    /// reader's reads against every writer's writes); per replicated
    /// group and session, theirs.
    pub fn finish(&mut self) {
        let nodes: Vec<(NodeId, String)> = self
            .sim
            .nodes()
            .map(|(id, name)| (id, name.to_string()))
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
        self.drain();
        self.groups.finish(&mut self.sim);
        self.raft.finish(&mut self.sim);
        super::counters::finish(&mut self.sim);
        super::messaging::finish(&mut self.sim);
        self.kv.record(self.sim.metrics_mut());
    }
}

/// Search states the linearizability check may visit for each key of a
/// replicated group, so that a tangled history cannot stall a report; a
/// key it cannot decide is counted in `<group>.undecided_keys`.
pub const LINEARIZABILITY_BUDGET: u64 = 1_000_000;

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
    let ids = node_ids(spec);
    for n in &spec.nodes {
        let zone = sim.zone(n.zone.as_deref().unwrap_or(DEFAULT_ZONE));
        let mut b = super::kinds::Build {
            sim: &mut sim,
            spec,
            ids: &ids,
            zone,
        };
        (super::kinds::of(*n.kind.get_ref()).build)(n, &mut b)?;
    }
    add_links(&mut sim, spec, &ids);
    for f in &spec.faults {
        schedule_fault(&mut sim, spec, &ids, f)?;
    }
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
    let warmup = SimTime::ZERO + spec.run.warmup.map_or(SimDuration::ZERO, |w| w.0);
    let kv = KvHistories::new(&sim, warmup);
    let groups = SessionHistories::new(&sim, warmup, LINEARIZABILITY_BUDGET);
    let raft = RaftHistories::new(&sim);
    Ok(Built {
        sim,
        limits,
        faults: super::timeline::fault_windows(spec),
        kv,
        groups,
        raft,
        watch: super::watch::Watch::new(spec),
    })
}

/// The ids each name stands for. Ids are assigned in file order (a
/// replica group's copies in a row), so references can be resolved
/// before any node is built. A group's name stands for all its replicas;
/// each replica also has its own name.
fn node_ids(spec: &ScenarioSpec) -> BTreeMap<String, Vec<NodeId>> {
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
    ids
}

/// The nodes of a place: a node, a group, or every node of a zone.
fn members(sim: &Simulation<Rpc>, ids: &BTreeMap<String, Vec<NodeId>>, place: &str) -> Vec<NodeId> {
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
}

/// The scenario's links, between nodes or between zones.
fn add_links(sim: &mut Simulation<Rpc>, spec: &ScenarioSpec, ids: &BTreeMap<String, Vec<NodeId>>) {
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
                for x in members(sim, ids, a) {
                    for y in members(sim, ids, b) {
                        sim.network_mut().set_node_link(x, y, link.clone());
                    }
                }
            }
        }
    }
}

/// The message that starts or ends a service's gray failure, for the
/// faults that are one.
fn gray_failure(action: &FaultAction<'_>) -> Option<Control> {
    Some(match *action {
        FaultAction::Slow { factor, .. } => {
            let permille = (factor * 1000.0).round().clamp(1.0, u32::MAX as f64);
            Control::Slow {
                permille: permille as u32,
            }
        }
        FaultAction::Errors { rate, .. } => Control::Errors {
            ppm: (rate * 1e6).round() as u32,
        },
        FaultAction::Hang(_) => Control::Hang,
        FaultAction::Recover(_) => Control::Recover,
        _ => return None,
    })
}

/// Schedules one fault: a control message to each node it acts on, or an
/// engine fault.
fn schedule_fault(
    sim: &mut Simulation<Rpc>,
    spec: &ScenarioSpec,
    ids: &BTreeMap<String, Vec<NodeId>>,
    f: &FaultSpec,
) -> Result<(), String> {
    let at = SimTime::ZERO + f.at.get_ref().0;
    let action = f.action().map_err(|p| p.message)?;
    let control = |c: Control, names: &toml::Spanned<String>, sim: &mut Simulation<Rpc>| {
        for &n in &ids[names.get_ref().as_str()] {
            sim.inject(at, n, n, c.clone()).map_err(|e| e.to_string())?;
        }
        Ok::<(), String>(())
    };
    // One engine fault per node a name stands for (a group: each replica).
    let each = |n: &toml::Spanned<String>, fault: &dyn Fn(NodeId) -> Fault| -> Vec<Fault> {
        ids[n.get_ref().as_str()]
            .iter()
            .map(|&id| fault(id))
            .collect()
    };
    let faults: Vec<Fault> = match action {
        FaultAction::Slow { node, .. }
        | FaultAction::Errors { node, .. }
        | FaultAction::Hang(node)
        | FaultAction::Recover(node) => {
            control(gray_failure(&action).expect("a gray failure"), node, sim)?;
            return Ok(());
        }
        FaultAction::Flag { flag, on } => {
            // Every service (every replica) that has the flag.
            for n in &spec.nodes {
                if n.flags
                    .as_ref()
                    .is_some_and(|fl| fl.contains_key(flag.get_ref()))
                {
                    for &id in &ids[n.name.get_ref().as_str()] {
                        let c = Control::Flag {
                            name: flag.get_ref().clone(),
                            on,
                        };
                        sim.inject(at, id, id, c).map_err(|e| e.to_string())?;
                    }
                }
            }
            return Ok(());
        }
        FaultAction::Crash(n) => each(n, &Fault::Crash),
        FaultAction::Restart(n) => each(n, &Fault::Restart),
        FaultAction::Pause { node, lasting } => each(node, &|id| Fault::Pause(id, lasting)),
        FaultAction::Clock { node, drift, jump } => {
            let mut faults = Vec::new();
            if let Some(drift) = drift {
                faults.extend(each(node, &|id| Fault::ClockRate(id, 1.0 + drift)));
            }
            if let Some(jump) = jump {
                faults.extend(each(node, &|id| Fault::ClockJump(id, jump)));
            }
            faults
        }
        FaultAction::Partition {
            sides,
            one_way,
            name,
        } => {
            let [a, b] = sides.get_ref();
            let side = |names: &Vec<toml::Spanned<String>>| -> NodeSet {
                names
                    .iter()
                    .flat_map(|n| members(sim, ids, n.get_ref()))
                    .collect()
            };
            let (a, b) = (side(a), side(b));
            vec![Fault::Partition(if one_way {
                Partition::one_way(name, a, b)
            } else {
                Partition::between(name, a, b)
            })]
        }
        FaultAction::Heal(h) => vec![match h.get_ref().as_str() {
            "all" => Fault::HealAll,
            name => Fault::Heal(name.to_string()),
        }],
    };
    for fault in faults {
        sim.schedule(at, fault).map_err(|e| e.to_string())?;
    }
    Ok(())
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
pub fn metric_value(
    metrics: &Metrics,
    faults: &[FaultWindow],
    name: &str,
    end: SimTime,
) -> Result<f64, String> {
    if let Some((a, b)) = name.split_once(" / ") {
        let (a, b) = (
            metric_value(metrics, faults, a.trim(), end)?,
            metric_value(metrics, faults, b.trim(), end)?,
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
            let r = super::timeline::recovery(metrics, faults, base, end).ok_or_else(|| {
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
                "now" => Ok(g.value()),
                other => Err(format!(
                    "`{other}` is not a statistic of gauge `{base}` (use avg, max or now)"
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

pub fn evaluate(
    e: &ExpectSpec,
    metrics: &Metrics,
    faults: &[FaultWindow],
    end: SimTime,
) -> Result<Verdict, String> {
    let actual = metric_value(metrics, faults, e.metric.get_ref(), end)?;
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
