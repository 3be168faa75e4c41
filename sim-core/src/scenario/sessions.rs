//! The replicated groups' sessions' histories, judged as the run goes:
//! every so often (`Built::drain`) each session's finished operations are
//! taken from it and fed to its group's checker
//! (`models::replication::GroupChecker`), which cuts each key's history
//! at its quiet points. Neither the sessions nor the checker keep an
//! operation once it is judged; the findings equal those of checking the
//! whole history at the end, however often the histories are taken.
//! A group is a replicated store (`replica`) or a Raft group (`raft`);
//! their sessions are the same.

use crate::engine::Simulation;
use crate::ids::NodeId;
use crate::metrics::Metrics;
use crate::models::raft::RaftNode;
use crate::models::replication::{GroupChecker, Replica, Session, SessionOp};
use crate::models::rpc::Rpc;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// One replicated group's sessions (by id and name) and its checker.
#[derive(Clone, Debug)]
struct Group {
    name: String,
    /// A Raft group: what survives is what its members' logs hold.
    raft: bool,
    sessions: Vec<(NodeId, String)>,
    checker: GroupChecker,
}

/// Every group's sessions and what their histories show so far.
#[derive(Clone, Debug, Default)]
pub struct SessionHistories {
    groups: Vec<Group>,
}

impl SessionHistories {
    /// Finds the sessions of `sim`, by group; reads begun before `warmup`
    /// are not judged for staleness; the linearizability search may visit
    /// `budget` states per key.
    pub fn new(sim: &Simulation<Rpc>, warmup: SimTime, budget: u64) -> Self {
        // Every group with replicas, by name, and its sessions.
        let mut groups: BTreeMap<String, Vec<(NodeId, String)>> = BTreeMap::new();
        let mut raft: BTreeSet<String> = BTreeSet::new();
        for (id, _) in sim.nodes() {
            if let Some(r) = sim.node::<Replica>(id) {
                groups.entry(r.group().to_string()).or_default();
            }
            if let Some(r) = sim.node::<RaftNode>(id) {
                groups.entry(r.group().to_string()).or_default();
                raft.insert(r.group().to_string());
            }
        }
        for (id, name) in sim.nodes() {
            let group = sim.node::<Session>(id).map(Session::group);
            if let Some(list) = group.and_then(|g| groups.get_mut(g)) {
                list.push((id, name.to_string()));
            }
        }
        let groups = groups
            .into_iter()
            .map(|(name, sessions)| Group {
                checker: GroupChecker::new(sessions.len(), budget, warmup.as_nanos()),
                raft: raft.contains(&name),
                name,
                sessions,
            })
            .collect();
        SessionHistories { groups }
    }

    /// Takes what every session finished since the last call and judges
    /// it, up to each key's latest quiet point.
    pub fn drain(&mut self, sim: &mut Simulation<Rpc>) {
        let now = sim.now().as_nanos();
        for g in &mut self.groups {
            let mut batch: Vec<(usize, SessionOp)> = Vec::new();
            // Per key, the oldest operation in flight began here.
            let mut horizon: BTreeMap<u64, u64> = BTreeMap::new();
            for (c, (id, _)) in g.sessions.iter().enumerate() {
                let Some(s) = sim.node_mut::<Session>(*id) else {
                    continue;
                };
                batch.extend(s.take_finished().into_iter().map(|op| (c, op)));
                for (key, invoke) in s.in_flight() {
                    let h = horizon.entry(key).or_insert(invoke);
                    *h = (*h).min(invoke);
                }
            }
            g.checker.add(&batch);
            g.checker
                .settle(|key| horizon.get(&key).copied().unwrap_or(now));
        }
    }

    /// Each session's name and its stale reads so far (as of the last
    /// `drain`).
    pub fn stale_so_far(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.groups.iter().flat_map(|g| {
            g.sessions
                .iter()
                .enumerate()
                .map(|(c, (_, name))| (name.as_str(), g.checker.stale_reads(c)))
        })
    }

    /// How many entries the checkers hold, for the memory budget.
    pub fn entries(&self) -> u64 {
        self.groups.iter().map(|g| g.checker.entries()).sum()
    }

    /// How many of them the linearizability search holds.
    #[cfg(test)]
    fn linearizability_entries(&self) -> u64 {
        self.groups
            .iter()
            .map(|g| g.checker.linearizability_entries())
            .sum()
    }

    /// Judges what is left (operations still in flight included: a write
    /// may have taken effect) and records the findings: per group
    /// `lost_updates`, `divergent_keys`, `nonlinearizable_keys` and
    /// `undecided_keys`; per session `stale_reads`,
    /// `read_your_writes_violations`, `monotonic_read_violations` and the
    /// histogram `stale_age_ns`. Call it once, at the end; the stale reads
    /// so far still read the final counts after it.
    pub fn finish(&mut self, sim: &mut Simulation<Rpc>) {
        for g in &mut self.groups {
            // What the sessions still hold: finished operations not yet
            // taken, and those in flight.
            let rest: Vec<(usize, SessionOp)> = g
                .sessions
                .iter()
                .enumerate()
                .filter_map(|(c, (id, _))| sim.node::<Session>(*id).map(|s| (c, s)))
                .flat_map(|(c, s)| s.history().into_iter().map(move |op| (c, op)))
                .collect();
            g.checker.add(&rest);
            let report = if g.raft {
                let held: BTreeSet<u64> = sim
                    .nodes()
                    .filter_map(|(id, _)| sim.node::<RaftNode>(id))
                    .filter(|r| r.group() == g.name)
                    .flat_map(|r| r.log().iter().map(|e| e.id))
                    .collect();
                g.checker.report_held(&held)
            } else {
                let replicas: Vec<&Replica> = sim
                    .nodes()
                    .filter_map(|(id, _)| sim.node::<Replica>(id))
                    .filter(|r| r.group() == g.name)
                    .collect();
                g.checker.report(&replicas)
            };
            record(sim.metrics_mut(), g, report);
        }
    }
}

fn record(m: &mut Metrics, g: &Group, report: crate::models::replication::GroupReport) {
    let (group, sessions) = (&g.name, &g.sessions);
    for (what, v) in [
        ("lost_updates", report.lost_writes),
        ("divergent_keys", report.divergent_keys),
        ("nonlinearizable_keys", report.nonlinearizable_keys),
        ("undecided_keys", report.undecided_keys),
    ] {
        // A Raft group's members are compared by the entries they apply.
        if g.raft && what == "divergent_keys" {
            continue;
        }
        let c = m.counter(&format!("{group}.{what}"));
        m.add(c, v);
    }
    for ((_, name), r) in sessions.iter().zip(report.sessions) {
        for (what, v) in [
            ("stale_reads", r.stale_reads),
            ("read_your_writes_violations", r.read_your_writes_violations),
            ("monotonic_read_violations", r.monotonic_read_violations),
        ] {
            let c = m.counter(&format!("{name}.{what}"));
            m.add(c, v);
        }
        let ages = m.histogram(&format!("{name}.stale_age_ns"));
        m.merge_histogram(ages, &r.stale_ages);
    }
}

#[cfg(test)]
mod tests {
    use crate::checker::consistency::{KvOp, check};
    use crate::checker::linearizability::{Operation, check_keys};
    use crate::engine::{RunLimits, Simulation};
    use crate::models::replication::Session;
    use crate::models::rpc::Rpc;
    use crate::scenario::build::LINEARIZABILITY_BUDGET;
    use crate::scenario::build::build;
    use crate::scenario::library::STORIES;
    use crate::scenario::load::load;
    use crate::time::SimTime;
    use std::collections::BTreeMap;

    /// The findings of the whole-history checkers, over everything the
    /// sessions of a run never drained hold: each group's
    /// `nonlinearizable_keys` and each session's `stale_reads`.
    fn whole_history(sim: &Simulation<Rpc>) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        let sessions: Vec<(String, &Session)> = sim
            .nodes()
            .filter_map(|(id, name)| sim.node::<Session>(id).map(|s| (name.to_string(), s)))
            .collect();
        let mut per_key: BTreeMap<(String, u64), Vec<Operation>> = BTreeMap::new();
        let mut writes: BTreeMap<String, Vec<KvOp>> = BTreeMap::new();
        for (c, (_, s)) in sessions.iter().enumerate() {
            for op in s.history() {
                if op.dropped {
                    continue;
                }
                if op.write {
                    let w = op.as_kv_op(c as u32);
                    writes.entry(s.group().to_string()).or_default().push(w);
                } else if op.ret.is_none() {
                    continue;
                }
                let ops = per_key.entry((s.group().to_string(), op.key)).or_default();
                ops.push(op.as_register_op());
            }
        }
        for (key, ops) in &per_key {
            let v = check_keys([ops.as_slice()], 0, LINEARIZABILITY_BUDGET);
            assert_eq!(v.undecided, 0, "{key:?}");
            *out.entry(format!("{}.nonlinearizable_keys", key.0))
                .or_default() += v.not_linearizable;
        }
        for (c, (name, s)) in sessions.iter().enumerate() {
            let mut ops: Vec<KvOp> = s
                .history()
                .iter()
                .filter(|op| !op.write && !op.dropped)
                .map(|op| op.as_kv_op(c as u32))
                .collect();
            ops.extend_from_slice(&writes[s.group()]);
            out.insert(format!("{name}.stale_reads"), check(&ops).stale_reads);
        }
        out
    }

    /// Every counter and the stale ages of a finished run.
    fn findings(built: &super::super::Built) -> BTreeMap<String, String> {
        let m = built.sim.metrics();
        let mut out: BTreeMap<String, String> = m
            .counters()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        for (name, _) in m.counters() {
            let Some(session) = name.strip_suffix(".stale_reads") else {
                continue;
            };
            let ages = m.get_histogram(&format!("{session}.stale_age_ns"));
            let ages = ages.map(|h| (h.count(), h.sum(), h.quantile(0.5), h.max()));
            out.insert(format!("{session} ages"), format!("{ages:?}"));
        }
        out
    }

    /// Judged in many slices as the run goes, or all at once at the end,
    /// the checkers find the same: stale reads and their ages, session
    /// guarantees, lost writes and linearizability; and the counts seen
    /// as the run goes end at the totals.
    #[test]
    fn histories_judged_as_the_run_goes_find_what_the_whole_history_shows() {
        let mut not_linearizable = 0;
        for story in ["cap", "eventually-wrong"] {
            let (_, text) = STORIES.iter().find(|(n, _)| *n == story).unwrap();
            let scenario = load(story, story, text).unwrap();
            let variants: Vec<&str> = scenario.variants().collect();
            for variant in std::iter::once(None).chain(variants.iter().copied().map(Some)) {
                let spec = scenario.resolve(variant, &[]).unwrap();
                let mut whole = build(&spec, 3).unwrap();
                whole.sim.run(whole.limits);
                let by_hand = whole_history(&whole.sim);
                whole.finish();
                let mut sliced = build(&spec, 3).unwrap();
                let end = sliced.limits.until.as_nanos();
                let mut live = BTreeMap::new();
                for k in 1..=40 {
                    let until = SimTime::from_nanos(end / 40 * k);
                    sliced.sim.run(RunLimits {
                        until,
                        ..sliced.limits
                    });
                    sliced.drain();
                    for (name, n) in sliced.stale_so_far() {
                        live.insert(name.to_string(), n);
                    }
                }
                sliced.sim.run(sliced.limits);
                sliced.finish();
                // After the end the counts still read, and are the totals.
                let after: BTreeMap<String, u64> = sliced
                    .stale_so_far()
                    .map(|(name, n)| (name.to_string(), n))
                    .collect();
                assert_eq!(
                    after.keys().collect::<Vec<_>>(),
                    live.keys().collect::<Vec<_>>()
                );
                live = after;
                let (a, b) = (findings(&whole), findings(&sliced));
                assert_eq!(a, b, "{story} {variant:?}");
                for (name, n) in &by_hand {
                    assert_eq!(b[name], n.to_string(), "{story} {variant:?}: {name}");
                }
                for (name, n) in &live {
                    assert_eq!(b[&format!("{name}.stale_reads")], n.to_string());
                }
                not_linearizable += b
                    .iter()
                    .filter(|(n, _)| n.ends_with("nonlinearizable_keys"))
                    .map(|(_, v)| v.parse::<u64>().unwrap())
                    .sum::<u64>();
            }
        }
        assert!(not_linearizable > 0, "nothing to find");
    }

    /// What the linearizability search holds follows what is in flight:
    /// at eight times the run's length it holds no more.
    #[test]
    fn the_search_holds_what_is_in_flight_not_the_runs_length() {
        let (_, text) = STORIES.iter().find(|(n, _)| *n == "cap").unwrap();
        let scenario = load("cap", "cap", text).unwrap();
        let most = |seconds: u64| {
            let set = [(
                "run.duration".to_string(),
                toml::Value::String(format!("{seconds}s")),
            )];
            let spec = scenario.resolve(None, &set).unwrap();
            let mut built = build(&spec, 1).unwrap();
            let mut own = super::SessionHistories::new(&built.sim, SimTime::ZERO, 1_000_000);
            let end = built.limits.until.as_nanos();
            let mut most = 0;
            for k in 1..=seconds {
                let until = SimTime::from_nanos(end / seconds * k);
                built.sim.run(RunLimits {
                    until,
                    ..built.limits
                });
                own.drain(&mut built.sim);
                most = most.max(own.linearizability_entries());
            }
            most
        };
        let (short, long) = (most(60), most(480));
        assert!(short > 0);
        assert!(
            long < 2 * short,
            "held {short} entries at most over 60s, {long} over 480s"
        );
    }
}
