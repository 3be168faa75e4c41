//! The key-value models' histories, judged as the run goes: every so
//! often (`Built::drain`) the readers' and writers' operations that have
//! returned are taken from them and fed to one checker, so neither the
//! nodes nor the checker keep a read once it is judged. What remains is
//! what the checker needs (`checker::consistency::Tracker`: every
//! acknowledged write, and per reader and key one entry per version it
//! saw), and what is in flight. The findings equal those of the
//! whole-history check, however often the histories are taken.

use crate::checker::consistency::{KvOp, Tracker};
use crate::engine::Simulation;
use crate::ids::NodeId;
use crate::metrics::Metrics;
use crate::models::cache::{KvReader, KvWriter};
use crate::models::rpc::Rpc;
use crate::time::SimTime;

/// The readers and writers of a run and what their histories show so far.
#[derive(Clone, Debug, Default)]
pub struct KvHistories {
    readers: Vec<(NodeId, String)>,
    writers: Vec<NodeId>,
    /// Reads begun before this (the warm-up's end) are not judged.
    from: u64,
    tracker: Tracker,
}

impl KvHistories {
    /// Finds the readers and writers of `sim`.
    pub fn new(sim: &Simulation<Rpc>, warmup: SimTime) -> Self {
        let mut h = KvHistories {
            from: warmup.as_nanos(),
            ..KvHistories::default()
        };
        for (id, name) in sim.nodes() {
            if sim.node::<KvReader>(id).is_some() {
                h.readers.push((id, name.to_string()));
            } else if sim.node::<KvWriter>(id).is_some() {
                h.writers.push(id);
            }
        }
        h
    }

    /// Takes what returned since the last call and judges it.
    pub fn drain(&mut self, sim: &mut Simulation<Rpc>) {
        if self.readers.is_empty() {
            return;
        }
        let mut batch: Vec<KvOp> = Vec::new();
        for &id in &self.writers {
            if let Some(w) = sim.node_mut::<KvWriter>(id) {
                batch.extend(w.take_returned());
            }
        }
        for (id, _) in &self.readers {
            if let Some(r) = sim.node_mut::<KvReader>(*id) {
                // Every write is kept, as what later reads are judged
                // against; reads begun in the warm-up are not judged.
                let from = self.from;
                batch.extend(r.take_returned().into_iter().filter(|op| op.invoke >= from));
            }
        }
        self.tracker.add(&batch);
    }

    /// How many records the checker holds, for the memory budget.
    pub fn entries(&self) -> u64 {
        self.tracker.entries()
    }

    /// Each reader's name and its stale reads so far.
    pub fn stale_so_far(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.readers.iter().map(|(id, name)| {
            let stale = self
                .tracker
                .clients
                .get(&(id.index() as u32))
                .map_or(0, |c| c.stale_reads);
            (name.as_str(), stale)
        })
    }

    /// Records the findings, per reader: `stale_reads`,
    /// `monotonic_read_violations` and the histogram `stale_age_ns`.
    pub fn record(&self, m: &mut Metrics) {
        for (id, name) in &self.readers {
            let found = self.tracker.clients.get(&(id.index() as u32));
            let stale = m.counter(&format!("{name}.stale_reads"));
            m.add(stale, found.map_or(0, |c| c.stale_reads));
            let mono = m.counter(&format!("{name}.monotonic_read_violations"));
            m.add(mono, found.map_or(0, |c| c.monotonic_read_violations));
            let ages = m.histogram(&format!("{name}.stale_age_ns"));
            if let Some(c) = found {
                m.merge_histogram(ages, &c.stale_ages);
            }
        }
    }
}
