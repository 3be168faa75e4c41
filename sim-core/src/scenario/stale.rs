//! Stale reads judged while a run goes, for a front end that charts them
//! over time: the run's readers, writers and sessions are found by their
//! kind, and each call feeds every group's tracker the operations that
//! returned since the last call, by the same rule as the end-of-run
//! checker (`checker::consistency`). Once the run is over, each reader's
//! count equals its `stale_reads`.

use crate::checker::consistency::{KvOp, StaleTracker};
use crate::engine::Simulation;
use crate::ids::NodeId;
use crate::models::cache::{KvReader, KvWriter};
use crate::models::replication::{Session, SessionOp};
use crate::models::rpc::Rpc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Reader,
    Writer,
    Session,
}

/// A node whose history feeds a tracker.
#[derive(Clone, Debug)]
struct Source {
    id: NodeId,
    name: String,
    role: Role,
    /// Operations before this index have been looked at.
    cursor: usize,
    /// Operations looked at that had not returned yet.
    pending: Vec<usize>,
}

/// The run's stale reads so far, per reader and session.
#[derive(Clone, Debug, Default)]
pub struct LiveStale {
    sources: Vec<Source>,
    /// Per group (a replica group's sessions, or every reader and writer
    /// of the key-value models): its sources and its tracker, since writes
    /// judge the reads of their own group.
    groups: Vec<(String, Vec<usize>, StaleTracker)>,
}

impl LiveStale {
    /// Finds the readers, writers and sessions of `sim`.
    pub fn new(sim: &Simulation<Rpc>) -> Self {
        let mut live = LiveStale::default();
        for (id, name) in sim.nodes() {
            let (role, group) = if sim.node::<KvReader>(id).is_some() {
                (Role::Reader, String::new())
            } else if sim.node::<KvWriter>(id).is_some() {
                (Role::Writer, String::new())
            } else if let Some(s) = sim.node::<Session>(id) {
                (Role::Session, s.group().to_string())
            } else {
                continue;
            };
            let index = live.sources.len();
            match live.groups.iter_mut().find(|(g, ..)| *g == group) {
                Some((_, members, _)) => members.push(index),
                None => live
                    .groups
                    .push((group, vec![index], StaleTracker::default())),
            }
            live.sources.push(Source {
                id,
                name: name.to_string(),
                role,
                cursor: 0,
                pending: Vec::new(),
            });
        }
        live
    }

    /// Judges what returned since the last call, then calls `each` with
    /// every reader's and session's name and its stale reads so far.
    pub fn update(&mut self, sim: &Simulation<Rpc>, mut each: impl FnMut(&str, u64)) {
        for (_, members, tracker) in &mut self.groups {
            let mut batch: Vec<KvOp> = Vec::new();
            for &i in members.iter() {
                collect(sim, &mut self.sources[i], i as u32, &mut batch);
            }
            tracker.add(&batch);
            for &i in members.iter() {
                let s = &self.sources[i];
                if s.role != Role::Writer {
                    let stale = tracker.reads.get(&(i as u32)).map_or(0, |c| c.1);
                    each(&s.name, stale);
                }
            }
        }
    }
}

/// Appends to `batch` the operations of `s` that have returned since it
/// was last looked at.
fn collect(sim: &Simulation<Rpc>, s: &mut Source, client: u32, batch: &mut Vec<KvOp>) {
    enum History<'a> {
        Kv(&'a [KvOp]),
        Session(&'a [SessionOp]),
    }
    let history = match s.role {
        Role::Reader => sim.node::<KvReader>(s.id).map(|n| History::Kv(n.history())),
        Role::Writer => sim.node::<KvWriter>(s.id).map(|n| History::Kv(n.history())),
        Role::Session => sim
            .node::<Session>(s.id)
            .map(|n| History::Session(n.history())),
    };
    let Some(history) = history else { return };
    // None: not part of the history (a refused or failed operation).
    let look = |i: usize| match history {
        History::Kv(h) => Some(KvOp { client, ..h[i] }),
        History::Session(h) => (!h[i].dropped).then(|| h[i].as_kv_op(client)),
    };
    let len = match history {
        History::Kv(h) => h.len(),
        History::Session(h) => h.len(),
    };
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
    for i in s.cursor..len {
        match look(i) {
            Some(op) if op.ret.is_some() => batch.push(op),
            Some(_) => s.pending.push(i),
            None => {}
        }
    }
    s.cursor = len;
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
                live.update(&built.sim, |name, n| {
                    last.insert(name.to_string(), n);
                });
            }
            built.sim.run(built.limits);
            built.finish();
            live.update(&built.sim, |name, n| {
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
