//! What the checkers find in a replicated group's run: acknowledged
//! writes lost, replicas that disagree, keys that are not linearizable,
//! and each session's stale reads and session-guarantee violations.
//!
//! The sessions' operations are judged as they finish (`GroupChecker`),
//! and forgotten: the staleness and session checks by
//! `checker::consistency::Tracker`, linearizability key by key by
//! `checker::segments::RegisterStream`. What stays for the end is the set
//! of acknowledged write ids (for `lost_writes`), what those two keep, and
//! the replicas themselves.

use super::{Replica, Session, SessionOp};
use crate::checker::consistency::{ClientFindings, Tracker};
use crate::checker::segments::{RegisterStream, StreamVerdict};
use std::collections::{BTreeMap, BTreeSet};

/// Which acknowledged writes survive nowhere: neither held by a replica
/// nor an ancestor of something held. `acked` are the write ids the
/// sessions saw acknowledged; `logs` every replica's write log; `held`
/// every id the replicas hold at the end.
pub fn lost_writes(
    acked: &BTreeSet<u64>,
    logs: &[&[(u64, Vec<u64>)]],
    held: &BTreeSet<u64>,
) -> BTreeSet<u64> {
    let parents: BTreeMap<u64, &Vec<u64>> = logs
        .iter()
        .flat_map(|log| log.iter().map(|(id, p)| (*id, p)))
        .collect();
    let mut alive: BTreeSet<u64> = BTreeSet::new();
    let mut stack: Vec<u64> = held.iter().copied().collect();
    while let Some(id) = stack.pop() {
        if alive.insert(id)
            && let Some(ps) = parents.get(&id)
        {
            stack.extend(ps.iter().copied());
        }
    }
    acked.difference(&alive).copied().collect()
}

/// What the checkers find in a replicated group's run.
#[derive(Clone, Debug, Default)]
pub struct GroupReport {
    /// Acknowledged writes that survive nowhere (`lost_writes`).
    pub lost_writes: u64,
    /// Keys on which the replicas do not all hold the same values.
    pub divergent_keys: u64,
    /// Per session, in the order given: its reads against every write.
    pub sessions: Vec<ClientFindings>,
    /// Keys whose history is not linearizable (as a register).
    pub nonlinearizable_keys: u64,
    /// Keys the linearizability search gave up on.
    pub undecided_keys: u64,
}

/// A group's sessions' operations, judged as they finish.
#[derive(Clone, Debug)]
pub struct GroupChecker {
    /// Search states the linearizability check may visit per key.
    budget: u64,
    /// Reads begun before this (a warm-up's end) are not judged for
    /// staleness or session guarantees; linearizability looks at all.
    reads_from: u64,
    sessions: usize,
    tracker: Tracker,
    acked: BTreeSet<u64>,
    keys: BTreeMap<u64, RegisterStream>,
}

impl GroupChecker {
    /// A checker for `sessions` sessions (numbered from 0 in `add`).
    pub fn new(sessions: usize, budget: u64, reads_from: u64) -> Self {
        GroupChecker {
            budget,
            reads_from,
            sessions,
            tracker: Tracker::default(),
            acked: BTreeSet::new(),
            keys: BTreeMap::new(),
        }
    }

    /// Judges a batch: the operations every session finished in a window
    /// of time, as `(session, operation)`; windows come in order. An
    /// operation is finished when its session expects nothing more of it
    /// (it returned, failed or timed out).
    pub fn add(&mut self, batch: &[(usize, SessionOp)]) {
        let consistency: Vec<_> = batch
            .iter()
            .filter(|(_, op)| !op.dropped && (op.write || op.invoke >= self.reads_from))
            .map(|(c, op)| op.as_kv_op(*c as u32))
            .collect();
        self.tracker.add(&consistency);
        for (_, op) in batch {
            if op.write && op.ret.is_some() {
                self.acked.insert(op.id);
            }
            if op.dropped {
                continue;
            }
            self.keys
                .entry(op.key)
                .or_insert_with(|| RegisterStream::new(0))
                .push(op.as_register_op());
        }
    }

    /// Judges each key's history up to its latest quiet point before the
    /// key's horizon: `horizon(key)` is an instant before which every
    /// operation on the key still in flight, or yet to begin, did not
    /// begin.
    pub fn settle(&mut self, horizon: impl Fn(u64) -> u64) {
        for (&key, stream) in &mut self.keys {
            stream.settle(horizon(key), self.budget);
        }
    }

    /// Stale reads so far, per session.
    pub fn stale_reads(&self, session: usize) -> u64 {
        self.tracker
            .clients
            .get(&(session as u32))
            .map_or(0, |c| c.stale_reads)
    }

    /// How many entries it holds, for the memory budget.
    pub fn entries(&self) -> u64 {
        self.tracker.entries() + self.acked.len() as u64 + self.linearizability_entries()
    }

    /// What the linearizability search holds: per key, the operations
    /// since its last quiet point and what it carries across.
    pub fn linearizability_entries(&self) -> u64 {
        self.keys
            .values()
            .map(RegisterStream::entries)
            .sum::<usize>() as u64
    }

    /// The findings, once every session's operations were added (those
    /// still in flight too: a write may have taken effect) and the run is
    /// over: the rest of each key's history is judged, and the replicas'
    /// final state is compared.
    /// The staleness counts stay readable (`stale_reads`); call it once.
    pub fn report(&mut self, replicas: &[&Replica]) -> GroupReport {
        let mut report = self.judge();
        report.lost_writes = lost(&self.acked, replicas);
        report.divergent_keys = divergent(replicas);
        report
    }

    /// The findings for a store whose members hold the write ids `held`
    /// at the end (in their logs, for a Raft group): an acknowledged write
    /// none holds is lost. It compares no replicas' values; call it once.
    pub fn report_held(&mut self, held: &BTreeSet<u64>) -> GroupReport {
        let mut report = self.judge();
        report.lost_writes = self.acked.difference(held).count() as u64;
        report
    }

    /// Judges the rest of each key's history, and collects the sessions'
    /// findings.
    fn judge(&mut self) -> GroupReport {
        let mut report = GroupReport::default();
        for stream in std::mem::take(&mut self.keys).into_values() {
            match stream.finish(self.budget) {
                StreamVerdict::Linearizable => {}
                StreamVerdict::NotLinearizable => report.nonlinearizable_keys += 1,
                StreamVerdict::Undecided => report.undecided_keys += 1,
            }
        }
        report.sessions = (0..self.sessions as u32)
            .map(|c| self.tracker.clients.get(&c).cloned().unwrap_or_default())
            .collect();
        report
    }
}

/// How many acknowledged writes survive nowhere.
fn lost(acked: &BTreeSet<u64>, replicas: &[&Replica]) -> u64 {
    let held: BTreeSet<u64> = replicas
        .iter()
        .flat_map(|r| r.data().values().flatten().map(|i| i.id))
        .collect();
    let logs: Vec<&[(u64, Vec<u64>)]> = replicas.iter().map(|r| r.write_log()).collect();
    lost_writes(acked, &logs, &held).len() as u64
}

/// Keys on which the replicas do not all hold the same values.
fn divergent(replicas: &[&Replica]) -> u64 {
    let keys: BTreeSet<u64> = replicas
        .iter()
        .flat_map(|r| r.data().keys().copied())
        .collect();
    let ids = |r: &Replica, k: &u64| -> Vec<u64> {
        r.data()
            .get(k)
            .map_or(Vec::new(), |v| v.iter().map(|i| i.id).collect())
    };
    keys.iter()
        .filter(|k| {
            let first = ids(replicas[0], k);
            replicas.iter().any(|r| ids(r, k) != first)
        })
        .count() as u64
}

/// Runs the checkers over a group's final state and everything its
/// sessions still hold (for a run whose histories were never taken as it
/// went); see [`GroupChecker`].
pub fn analyse(
    replicas: &[&Replica],
    sessions: &[&Session],
    budget: u64,
    reads_from: u64,
) -> GroupReport {
    let mut checker = GroupChecker::new(sessions.len(), budget, reads_from);
    let batch: Vec<(usize, SessionOp)> = sessions
        .iter()
        .enumerate()
        .flat_map(|(c, s)| s.history().into_iter().map(move |op| (c, op)))
        .collect();
    checker.add(&batch);
    checker.report(replicas)
}
