//! The Raft groups' members' events, judged as the run goes: every so
//! often (`Built::drain`) each member's events are taken from it and fed
//! to its group's `models::raft::RaftChecker`; at the end its findings
//! become the group's metrics.

use crate::engine::Simulation;
use crate::ids::NodeId;
use crate::models::raft::{RaftChecker, RaftNode};
use crate::models::rpc::Rpc;
use std::collections::BTreeMap;

/// One Raft group's members and its checker.
#[derive(Clone, Debug)]
struct Group {
    name: String,
    members: Vec<NodeId>,
    checker: RaftChecker,
}

/// Every Raft group of a run and what its members did so far.
#[derive(Clone, Debug, Default)]
pub struct RaftHistories {
    groups: Vec<Group>,
}

impl RaftHistories {
    pub fn new(sim: &Simulation<Rpc>) -> Self {
        let mut groups: BTreeMap<String, Vec<NodeId>> = BTreeMap::new();
        for (id, _) in sim.nodes() {
            if let Some(r) = sim.node::<RaftNode>(id) {
                groups.entry(r.group().to_string()).or_default().push(id);
            }
        }
        let groups = groups
            .into_iter()
            .map(|(name, members)| Group {
                name,
                members,
                checker: RaftChecker::new(),
            })
            .collect();
        RaftHistories { groups }
    }

    /// Takes what every member did since the last call and judges it.
    pub fn drain(&mut self, sim: &mut Simulation<Rpc>) {
        for g in &mut self.groups {
            let mut batch = Vec::new();
            for &id in &g.members {
                if let Some(r) = sim.node_mut::<RaftNode>(id) {
                    batch.extend(r.take_events().into_iter().map(|e| (id, e)));
                }
            }
            g.checker.add(&batch);
        }
    }

    /// How many entries the checkers hold, for the memory budget.
    pub fn entries(&self) -> u64 {
        self.groups.iter().map(|g| g.checker.entries()).sum()
    }

    /// Records each group's findings: `leaders`, `terms` (the highest
    /// term led), `leaderless_ms`, `two_leader_terms`,
    /// `conflicting_commits` and `behind_at_end` (how many committed
    /// entries the member furthest behind has yet to learn of). Call it
    /// once, after a last `drain`.
    pub fn finish(&mut self, sim: &mut Simulation<Rpc>) {
        let end = sim.now();
        for g in &self.groups {
            let r = g.checker.report(end);
            let lag = behind(sim, &g.members);
            let m = sim.metrics_mut();
            for (what, v) in [
                ("leaders", r.leaders),
                ("terms", r.last_term),
                ("leaderless_ms", r.leaderless_ns / 1_000_000),
                ("two_leader_terms", r.two_leader_terms),
                ("conflicting_commits", r.conflicting_commits),
                ("behind_at_end", lag),
            ] {
                let c = m.counter(&format!("{}.{what}", g.name));
                m.add(c, v);
            }
        }
    }
}

/// How many committed entries the member furthest behind has not learned
/// of (by its commit index) when the run ends.
fn behind(sim: &Simulation<Rpc>, members: &[NodeId]) -> u64 {
    let commits: Vec<u64> = members
        .iter()
        .filter_map(|&id| sim.node::<RaftNode>(id).map(RaftNode::commit_index))
        .collect();
    let newest = commits.iter().copied().max().unwrap_or(0);
    commits.iter().map(|c| newest - c).max().unwrap_or(0)
}
