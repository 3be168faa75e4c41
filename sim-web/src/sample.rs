//! Counts over time for the charts that the models only total: duplicate
//! charges, failures by reason, stale reads. The player samples them at
//! fixed points of simulated time (a few hundred per run), so a chart is
//! the same however fast or in how many slices the run was played.
//!
//! Stale reads are judged as the run goes, by the same rule as the
//! end-of-run checker (`checker::consistency`): each sample feeds the
//! tracker every read and write that returned since the last one. At the
//! end the chart's total equals the run's `stale_reads`.

use sim_core::checker::consistency::{KvOp, StaleTracker};
use sim_core::metrics::CounterId;
use sim_core::models::cache::{KvReader, KvWriter};
use sim_core::models::replication::Session;
use sim_core::models::rpc::Rpc;
use sim_core::{NodeId, SimDuration, SimTime, Simulation};
use std::collections::BTreeMap;

/// Sample points per run.
pub const POINTS: u64 = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Reader,
    Writer,
    Session,
}

/// A node whose history feeds the stale-read tracker.
#[derive(Clone, Debug)]
struct Source {
    id: NodeId,
    name: String,
    kind: Kind,
    /// Operations before this index have been looked at.
    cursor: usize,
    /// Operations looked at that had not returned yet.
    pending: Vec<usize>,
}

/// The samples so far.
#[derive(Clone, Debug)]
pub struct Samples {
    pub interval: SimDuration,
    /// The next sample's time.
    pub next: SimTime,
    /// Sample times, in seconds.
    pub times: Vec<f64>,
    /// Per counter, its value at each sample (0 before it existed).
    pub counters: BTreeMap<String, Vec<f64>>,
    /// Per reader or session (writes judge every reader), stale reads so
    /// far at each sample.
    pub stale: BTreeMap<String, Vec<f64>>,
    /// How many metrics the run had when the list below was made (metrics
    /// are only ever added: the list is current while this number is), so
    /// a sample reads its counters by id instead of scanning every
    /// metric's name.
    known_metrics: usize,
    /// The counters charted over time.
    watched_counters: Vec<(CounterId, String)>,
    sources: Vec<Source>,
    /// Per group (a replica group's sessions, or every reader and writer
    /// of the key-value models): its sources and its tracker, since writes
    /// judge the reads of their own group.
    groups: Vec<(String, Vec<usize>, StaleTracker)>,
}

/// Counters worth a chart over time.
pub fn charted(name: &str) -> bool {
    name.ends_with(".duplicate_charges")
        || name.contains(".failed.")
        || name.ends_with(".stale_reads")
}

impl Samples {
    pub fn new(sim: &Simulation<Rpc>, end: SimTime) -> Self {
        let interval = SimDuration::from_nanos((end.as_nanos() / POINTS).max(1_000_000));
        let mut sources = Vec::new();
        let mut groups: Vec<(String, Vec<usize>, StaleTracker)> = Vec::new();
        for (id, name) in sim.nodes() {
            let (kind, group) = if sim.node::<KvReader>(id).is_some() {
                (Kind::Reader, String::new())
            } else if sim.node::<KvWriter>(id).is_some() {
                (Kind::Writer, String::new())
            } else if let Some(s) = sim.node::<Session>(id) {
                (Kind::Session, s.group().to_string())
            } else {
                continue;
            };
            let index = sources.len();
            match groups.iter_mut().find(|(g, ..)| *g == group) {
                Some((_, members, _)) => members.push(index),
                None => groups.push((group, vec![index], StaleTracker::default())),
            }
            sources.push(Source {
                id,
                name: name.to_string(),
                kind,
                cursor: 0,
                pending: Vec::new(),
            });
        }
        Samples {
            interval,
            next: SimTime::ZERO + interval,
            times: Vec::new(),
            counters: BTreeMap::new(),
            stale: BTreeMap::new(),
            known_metrics: 0,
            watched_counters: Vec::new(),
            sources,
            groups,
        }
    }

    /// Takes the sample due at `self.next` (the simulation has run to it).
    pub fn take(&mut self, sim: &Simulation<Rpc>) {
        let n = self.times.len();
        self.times.push(self.next.as_nanos() as f64 / 1e9);
        let metrics = sim.metrics();
        if metrics.len() != self.known_metrics {
            self.watch(sim);
        }
        for (id, name) in &self.watched_counters {
            let values = self.counters.get_mut(name).expect("made by `watch`");
            values.resize(n, 0.0);
            values.push(metrics.counter_value(*id) as f64);
        }
        self.judge(sim);
        self.next += self.interval;
    }

    /// Makes the lists of watched metrics again (new ones have appeared),
    /// and a series for each metric watched for the first time.
    fn watch(&mut self, sim: &Simulation<Rpc>) {
        let metrics = sim.metrics();
        self.known_metrics = metrics.len();
        self.watched_counters = metrics
            .counter_ids()
            .filter(|(name, _)| charted(name))
            .map(|(name, id)| (id, name.to_string()))
            .collect();
        for (_, name) in &self.watched_counters {
            self.counters.entry(name.clone()).or_default();
        }
    }

    /// Feeds the tracker what returned since the last sample.
    fn judge(&mut self, sim: &Simulation<Rpc>) {
        let n = self.times.len();
        for (_, members, tracker) in &mut self.groups {
            let mut batch: Vec<KvOp> = Vec::new();
            for &i in members.iter() {
                collect(sim, &mut self.sources[i], i as u32, &mut batch);
            }
            tracker.add(&batch);
            for &i in members.iter() {
                let s = &self.sources[i];
                if s.kind == Kind::Writer {
                    continue;
                }
                let stale = tracker.reads.get(&(i as u32)).map_or(0, |c| c.1);
                let values = self.stale.entry(s.name.clone()).or_default();
                values.resize(n - 1, 0.0);
                values.push(stale as f64);
            }
        }
    }
}

/// Appends to `batch` the operations of `s` that have returned since it
/// was last looked at.
fn collect(sim: &Simulation<Rpc>, s: &mut Source, client: u32, batch: &mut Vec<KvOp>) {
    enum History<'a> {
        Kv(&'a [KvOp]),
        Session(&'a [sim_core::models::replication::SessionOp]),
    }
    let history = match s.kind {
        Kind::Reader => sim.node::<KvReader>(s.id).map(|n| History::Kv(n.history())),
        Kind::Writer => sim.node::<KvWriter>(s.id).map(|n| History::Kv(n.history())),
        Kind::Session => sim
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
    // pending to the end, so this list is kept in place: every sample
    // looks at it again.
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
    use super::charted;

    #[test]
    fn charted_counters_are_the_three_kinds() {
        for yes in [
            "ledger.duplicate_charges",
            "user.failed.timeout",
            "a.b.failed.refused",
            "shop.api.failed.breaker_open",
            "reader.stale_reads",
        ] {
            assert!(charted(yes), "{yes}");
        }
        for no in [
            "failed.x",
            "user.failed",
            "user.unfailed.timeout",
            "user.failedx.timeout",
            "user.requests",
            "duplicate_charges",
            "",
        ] {
            assert!(!charted(no), "{no}");
        }
    }
}
