//! Stale reads judged while a run goes, for a front end that charts them
//! over time: the readers' counts come from the run's own checker
//! (`Built::drain` takes their histories as it goes), and each session's
//! are judged here from its history, group by group, by the same rule as
//! the end-of-run checker (`checker::consistency`). Once the run is over,
//! each reader's and session's count equals its `stale_reads`.

use super::build::Built;
use crate::checker::consistency::{KvOp, Tracker};
use crate::engine::Simulation;
use crate::ids::NodeId;
use crate::models::replication::Session;
use crate::models::rpc::Rpc;

/// A session whose history feeds its group's tracker.
#[derive(Clone, Debug)]
struct Source {
    id: NodeId,
    name: String,
    /// Operations before this index have been looked at.
    cursor: usize,
    /// Operations looked at that had not returned yet.
    pending: Vec<usize>,
}

/// The run's stale reads so far, per reader and session.
#[derive(Clone, Debug, Default)]
pub struct LiveStale {
    sources: Vec<Source>,
    /// Per replica group: its sessions and its tracker, since writes
    /// judge the reads of their own group.
    groups: Vec<(String, Vec<usize>, Tracker)>,
}

impl LiveStale {
    /// Finds the sessions of `sim`.
    pub fn new(sim: &Simulation<Rpc>) -> Self {
        let mut live = LiveStale::default();
        for (id, name) in sim.nodes() {
            let Some(s) = sim.node::<Session>(id) else {
                continue;
            };
            let index = live.sources.len();
            let group = s.group().to_string();
            match live.groups.iter_mut().find(|(g, ..)| *g == group) {
                Some((_, members, _)) => members.push(index),
                None => live.groups.push((group, vec![index], Tracker::default())),
            }
            live.sources.push(Source {
                id,
                name: name.to_string(),
                cursor: 0,
                pending: Vec::new(),
            });
        }
        live
    }

    /// Judges what returned since the last call (the readers' as of the
    /// run's last `drain`), then calls `each` with every reader's and
    /// session's name and its stale reads so far.
    pub fn update(&mut self, built: &Built, mut each: impl FnMut(&str, u64)) {
        for (name, stale) in built.stale_so_far() {
            each(name, stale);
        }
        for (_, members, tracker) in &mut self.groups {
            let mut batch: Vec<KvOp> = Vec::new();
            for &i in members.iter() {
                collect(&built.sim, &mut self.sources[i], i as u32, &mut batch);
            }
            tracker.add(&batch);
            for &i in members.iter() {
                let stale = tracker
                    .clients
                    .get(&(i as u32))
                    .map_or(0, |c| c.stale_reads);
                each(&self.sources[i].name, stale);
            }
        }
    }
}

/// Appends to `batch` the operations of session `s` that have returned
/// since it was last looked at (a refused or failed one is not part of
/// the history).
fn collect(sim: &Simulation<Rpc>, s: &mut Source, client: u32, batch: &mut Vec<KvOp>) {
    let Some(history) = sim.node::<Session>(s.id).map(|n| n.history()) else {
        return;
    };
    let look = |i: usize| (!history[i].dropped).then(|| history[i].as_kv_op(client));
    // Operations that never return (a write whose answer was lost) stay
    // pending to the end, so this list is kept in place: every call looks
    // at it again.
    s.pending.retain(|&i| match look(i) {
        Some(op) if op.ret.is_some() => {
            batch.push(op);
            false
        }
        Some(_) => true,
        None => false,
    });
    for i in s.cursor..history.len() {
        match look(i) {
            Some(op) if op.ret.is_some() => batch.push(op),
            Some(_) => s.pending.push(i),
            None => {}
        }
    }
    s.cursor = history.len();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RunLimits;
    use crate::scenario::build::build;
    use crate::scenario::library::STORIES;
    use crate::scenario::load::load;
    use crate::time::SimTime;
    use std::collections::BTreeMap;

    /// Judged in slices as the run goes, every reader and session ends
    /// with the count the end-of-run checkers give it.
    #[test]
    fn counts_judged_as_the_run_goes_match_the_checkers_at_the_end() {
        for (story, variant) in [
            ("stale-cache", "long-ttl"),
            ("eventually-wrong", "no-repair"),
        ] {
            let (_, text) = STORIES.iter().find(|(n, _)| *n == story).unwrap();
            let scenario = load(story, story, text).unwrap();
            let spec = scenario.resolve(Some(variant), &[]).unwrap();
            let mut built = build(&spec, 1).unwrap();
            let mut live = LiveStale::new(&built.sim);
            let end = built.limits.until.as_nanos();
            let mut last = BTreeMap::new();
            for k in 1..=7 {
                let until = SimTime::from_nanos(end / 7 * k);
                built.sim.run(RunLimits {
                    until,
                    ..built.limits
                });
                built.drain();
                live.update(&built, |name, n| {
                    last.insert(name.to_string(), n);
                });
            }
            built.sim.run(built.limits);
            built.finish();
            live.update(&built, |name, n| {
                last.insert(name.to_string(), n);
            });
            assert!(!last.is_empty(), "{story}: no readers found");
            let m = built.sim.metrics();
            for (name, n) in &last {
                let expected = m.get_counter(&format!("{name}.stale_reads")).unwrap_or(0);
                assert_eq!(*n, expected, "{story} {variant}: {name}");
            }
            assert!(
                last.values().sum::<u64>() > 0,
                "{story}: no stale reads to judge"
            );
        }
    }
}
