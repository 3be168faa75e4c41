//! What the checkers find in a replicated group's run: acknowledged
//! writes lost, replicas that disagree, keys that are not linearizable,
//! and each session's stale reads and session-guarantee violations.

use super::{Replica, Session, SessionOp};
use crate::checker::consistency::{self, ConsistencyReport, KvOp};
use crate::checker::linearizability::{Operation, RegisterOp, check_keys};
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
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupReport {
    /// Acknowledged writes that survive nowhere (`lost_writes`).
    pub lost_writes: u64,
    /// Keys on which the replicas do not all hold the same values.
    pub divergent_keys: u64,
    /// Per session, in the order given: its reads against every write.
    pub sessions: Vec<ConsistencyReport>,
    /// Keys whose history is not linearizable (as a register).
    pub nonlinearizable_keys: u64,
    /// Keys the linearizability search gave up on.
    pub undecided_keys: u64,
}

/// Runs the checkers over a group's final state and its sessions'
/// histories; the linearizability search may visit up to `budget` states
/// for each key (a key it cannot decide within them is undecided). Reads
/// begun before `reads_from` (a warm-up's end) are not judged for staleness
/// or session guarantees; linearizability looks at the whole history.
pub fn analyse(
    replicas: &[&Replica],
    sessions: &[&Session],
    budget: u64,
    reads_from: u64,
) -> GroupReport {
    let mut report = GroupReport::default();
    let acked: BTreeSet<u64> = sessions
        .iter()
        .flat_map(|s| s.history())
        .filter(|op| op.write && op.ret.is_some())
        .map(|op| op.id)
        .collect();
    let held: BTreeSet<u64> = replicas
        .iter()
        .flat_map(|r| r.data().values().flatten().map(|i| i.id))
        .collect();
    let logs: Vec<&[(u64, Vec<u64>)]> = replicas.iter().map(|r| r.write_log()).collect();
    report.lost_writes = lost_writes(&acked, &logs, &held).len() as u64;
    let keys: BTreeSet<u64> = replicas
        .iter()
        .flat_map(|r| r.data().keys().copied())
        .collect();
    report.divergent_keys = keys
        .iter()
        .filter(|k| {
            let ids = |r: &Replica| -> Vec<u64> {
                r.data()
                    .get(k)
                    .map_or(Vec::new(), |v| v.iter().map(|i| i.id).collect())
            };
            let first = ids(replicas[0]);
            replicas.iter().any(|r| ids(r) != first)
        })
        .count() as u64;
    // The consistency checks: versions are the replicas' stamps.
    let kv = |client: usize, op: &SessionOp| op.as_kv_op(client as u32);
    let writes: Vec<KvOp> = sessions
        .iter()
        .enumerate()
        .flat_map(|(c, s)| {
            s.history()
                .iter()
                .filter(|op| op.write && !op.dropped)
                .map(move |op| kv(c, op))
        })
        .collect();
    for (c, s) in sessions.iter().enumerate() {
        let mut ops: Vec<KvOp> = s
            .history()
            .iter()
            .filter(|op| !op.write && !op.dropped && op.invoke >= reads_from)
            .map(|op| kv(c, op))
            .collect();
        ops.extend_from_slice(&writes);
        report.sessions.push(consistency::check(&ops));
    }
    // Linearizability, key by key: values are write ids.
    let mut per_key: BTreeMap<u64, Vec<Operation>> = BTreeMap::new();
    for op in sessions.iter().flat_map(|s| s.history()) {
        if op.dropped || (!op.write && op.ret.is_none()) {
            continue;
        }
        per_key.entry(op.key).or_default().push(Operation {
            op: if op.write {
                RegisterOp::Write(op.id)
            } else {
                RegisterOp::Read(op.id)
            },
            invoke: op.invoke,
            ret: op.ret,
        });
    }
    let v = check_keys(per_key.values().map(Vec::as_slice), 0, budget);
    report.nonlinearizable_keys = v.not_linearizable;
    report.undecided_keys = v.undecided;
    report
}
