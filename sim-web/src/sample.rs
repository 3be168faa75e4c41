//! Counts over time for the charts that the models only total: duplicate
//! charges, failures by reason, stale reads. The player samples them at
//! fixed points of simulated time (a few hundred per run), so a chart is
//! the same however fast or in how many slices the run was played.
//!
//! Stale reads are judged as the run goes, by the run's own checkers
//! (`Built::drain` feeds them whatever returned since the last sample).
//! At the end the chart's total equals the run's `stale_reads`.

use sim_core::CounterId;
use sim_core::scenario::Built;
use sim_core::scenario::Rpc;
use sim_core::{SimDuration, SimTime, Simulation};
use std::collections::BTreeMap;

/// Sample points per run.
pub const POINTS: u64 = 300;

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
}

/// Counters worth a chart over time.
pub fn charted(name: &str) -> bool {
    name.ends_with(".duplicate_charges")
        || name.contains(".failed.")
        || name.ends_with(".stale_reads")
}

impl Samples {
    pub fn new(end: SimTime) -> Self {
        let interval = SimDuration::from_nanos((end.as_nanos() / POINTS).max(1_000_000));
        Samples {
            interval,
            next: SimTime::ZERO + interval,
            times: Vec::new(),
            counters: BTreeMap::new(),
            stale: BTreeMap::new(),
            known_metrics: 0,
            watched_counters: Vec::new(),
        }
    }

    /// Takes the sample due at `self.next`: the simulation has run to it,
    /// and its histories were taken (`Built::drain`).
    pub fn take(&mut self, built: &Built) {
        let sim = &built.sim;
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
        self.judge(built);
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

    /// Reads each reader's and session's stale reads so far.
    fn judge(&mut self, built: &Built) {
        let n = self.times.len();
        for (name, count) in built.stale_so_far() {
            let values = self.stale.entry(name.to_string()).or_default();
            values.resize(n - 1, 0.0);
            values.push(count as f64);
        }
    }
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
