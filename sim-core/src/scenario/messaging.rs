//! The duplicate count of consumer groups: a group's members each keep
//! the ids of the messages they processed; after the run, an id the group
//! processed more than once (a redelivery, a message stored twice by a
//! producer's retry, a member that took over a partition and did again
//! what the last one did not commit) counts once per extra time, as
//! `<group>.duplicates`.

use crate::engine::Simulation;
use crate::models::messaging::consumer::Consumer;
use crate::models::rpc::Rpc;
use std::collections::BTreeMap;

/// Counts each consumer group's duplicates into the run's metrics.
pub fn finish(sim: &mut Simulation<Rpc>) {
    let mut groups: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let ids: Vec<_> = sim.nodes().map(|(id, _)| id).collect();
    for id in ids {
        if let Some(c) = sim.node::<Consumer>(id) {
            groups
                .entry(c.group().to_string())
                .or_default()
                .extend_from_slice(c.processed_ids());
        }
    }
    for (group, mut ids) in groups {
        ids.sort_unstable();
        let distinct = {
            let mut d = ids.clone();
            d.dedup();
            d.len()
        };
        let m = sim.metrics_mut();
        let c = m.counter(&format!("{group}.duplicates"));
        m.add(c, (ids.len() - distinct) as u64);
    }
}
