//! What is judged after a run of brokers, producers and consumers.
//!
//! Duplicates: a group's members each keep the ids of the messages they
//! processed; an id the group processed more than once (a redelivery, a
//! message stored twice by a producer's retry, a member that took over a
//! partition and did again what the last one did not commit) counts once
//! per extra time, as `<group>.duplicates`.
//!
//! Writes and their events: for a producer with `write`, a committed
//! write whose event the broker never stored (and that is not still
//! waiting to be sent) is a lost event, `<producer>.lost_events`; an
//! event stored for a write that never committed (and is not still under
//! way) is a phantom, `<producer>.phantom_events`.
//!
//! Transactions across services: one a coordinator ended that is applied
//! at some of its participants and not at the others is half done,
//! `<coordinator>.half_done`.

use crate::engine::Simulation;
use crate::models::messaging::broker::Broker;
use crate::models::messaging::consumer::Consumer;
use crate::models::messaging::producer::Producer;
use crate::models::rpc::Rpc;
use crate::models::transactions::coordinator::Coordinator;
use crate::models::transactions::participant::Participant;
use std::collections::BTreeMap;

/// Counts each group's duplicates and each writing producer's lost and
/// phantom events into the run's metrics.
pub fn finish(sim: &mut Simulation<Rpc>) {
    duplicates(sim);
    events(sim);
    half_done(sim);
}

fn half_done(sim: &mut Simulation<Rpc>) {
    let ids: Vec<_> = sim
        .nodes()
        .map(|(id, name)| (id, name.to_string()))
        .collect();
    for (id, name) in ids {
        let Some(c) = sim.node::<Coordinator>(id) else {
            continue;
        };
        let parts: Vec<&Participant> = c
            .participants()
            .iter()
            .filter_map(|&p| sim.node::<Participant>(p))
            .collect();
        let half = c
            .ended()
            .iter()
            .filter(|&&txn| {
                let applied = parts.iter().filter(|p| p.has_applied(txn)).count();
                applied > 0 && applied < parts.len()
            })
            .count();
        let m = sim.metrics_mut();
        let counter = m.counter(&format!("{name}.half_done"));
        m.add(counter, half as u64);
    }
}

fn duplicates(sim: &mut Simulation<Rpc>) {
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
        // Each id after its first time is one duplicate.
        let extra = ids.windows(2).filter(|w| w[0] == w[1]).count();
        let m = sim.metrics_mut();
        let c = m.counter(&format!("{group}.duplicates"));
        m.add(c, extra as u64);
    }
}

fn events(sim: &mut Simulation<Rpc>) {
    let ids: Vec<_> = sim
        .nodes()
        .map(|(id, name)| (id, name.to_string()))
        .collect();
    for (id, name) in ids {
        let Some(p) = sim.node::<Producer>(id) else {
            continue;
        };
        let Some(w) = p.writes() else { continue };
        // This producer's ids carry its node's number in the high bits.
        let mine = |m: &u64| *m >> 40 == id.index() as u64 + 1;
        let mut stored: Vec<u64> = sim
            .node::<Broker>(p.broker())
            .map(|b| b.stored_ids().iter().copied().filter(mine).collect())
            .unwrap_or_default();
        stored.sort_unstable();
        stored.dedup();
        let mut committed = w.committed().to_vec();
        committed.sort_unstable();
        let mut waiting = p.unsent_ids();
        waiting.extend(w.under_way_ids());
        waiting.sort_unstable();
        let has = |v: &[u64], x: u64| v.binary_search(&x).is_ok();
        let lost = committed
            .iter()
            .filter(|&&c| !has(&stored, c) && !has(&waiting, c))
            .count();
        let phantom = stored
            .iter()
            .filter(|&&s| !has(&committed, s) && !has(&waiting, s))
            .count();
        let m = sim.metrics_mut();
        let c = m.counter(&format!("{name}.lost_events"));
        m.add(c, lost as u64);
        let c = m.counter(&format!("{name}.phantom_events"));
        m.add(c, phantom as u64);
    }
}
