//! The counter checker: what the counter clients were told against what
//! their store holds at the end (and for transfer clients, that money
//! moved between accounts is never made or lost). Every task a client counted as a success
//! changed a counter by its `change`; so a store's keys should hold their
//! initial values plus all those changes. The difference is the lost
//! updates (changes reported done that the data does not show), and the
//! units taken beyond what the stock and any additions held is what was
//! oversold. A change whose answer was still on its way when the run
//! ended may or may not be in the data, so the difference is counted
//! only beyond those. The clients' histories, key by key, also go through a
//! linearizability checker: the versioned one (`checker::versioned`),
//! exact and linear in time, since the store numbers every update.
//!
//! Recorded on each store that counter clients changed:
//! `<store>.lost_updates`, `<store>.oversold`,
//! and `<store>.nonlinearizable_keys`.

use crate::checker::linearizability::Operation;
use crate::checker::linearizability::RegisterOp;
use crate::checker::versioned::check_versioned;
use crate::engine::Simulation;
use crate::ids::NodeId;
use crate::models::counter::{CounterClient, UNKNOWN, state, version_of};
use crate::models::kv::KvStore;
use crate::models::rpc::Rpc;
use crate::models::transfer::TransferClient;
use std::collections::BTreeMap;

/// What the clients of one store did, gathered.
#[derive(Default)]
struct Changes {
    keys: u64,
    /// Units added by successful tasks that add.
    added: i128,
    /// Units taken by successful tasks that take.
    taken: i128,
    /// Units of changes in flight at the end, applied or not.
    unsure: i128,
    history: BTreeMap<u64, Vec<Operation>>,
}

impl Changes {
    fn add_history(&mut self, ops: &[(u64, Operation)]) {
        for (key, op) in ops {
            self.history.entry(*key).or_default().push(*op);
        }
    }
}

/// Judges every store that counter clients changed, and records the
/// findings in the run's metrics.
pub fn finish(sim: &mut Simulation<Rpc>) {
    let mut stores: BTreeMap<NodeId, Changes> = BTreeMap::new();
    let ids: Vec<(NodeId, String)> = sim.nodes().map(|(id, n)| (id, n.to_string())).collect();
    for (id, name) in &ids {
        let ok = sim
            .metrics()
            .get_counter(&format!("{name}.succeeded"))
            .unwrap_or(0);
        if let Some(client) = sim.node::<CounterClient>(*id) {
            let cfg = client.config();
            let done = i128::from(ok) * i128::from(cfg.change);
            let c = stores.entry(cfg.store).or_default();
            c.keys = c.keys.max(u64::from(cfg.keys));
            c.unsure +=
                i128::from(client.writes_in_flight()) * i128::from(cfg.change.unsigned_abs());
            if done < 0 {
                c.taken -= done;
            } else {
                c.added += done;
            }
            c.add_history(client.history());
        } else if let Some(client) = sim.node::<TransferClient>(*id) {
            // A transfer moves money: the accounts' sum never changes.
            let cfg = client.config();
            let c = stores.entry(cfg.store).or_default();
            c.keys = c.keys.max(u64::from(cfg.accounts));
            c.unsure += i128::from(client.writes_in_flight()) * i128::from(cfg.amount);
            c.add_history(client.history());
        }
    }
    for (store, c) in stores {
        let Some(kv) = sim.node::<KvStore>(store) else {
            continue;
        };
        let initial = i128::from(kv.initial());
        let held: i128 = (0..c.keys).map(|k| i128::from(kv.value(k))).sum();
        let stock = initial * i128::from(c.keys);
        // A change still in flight may be in the data without being
        // counted yet: only a difference beyond those is lost.
        let lost = ((stock + c.added - c.taken - held).abs() - c.unsure).max(0);
        let oversold = (c.taken - c.added - stock).max(0);
        let mut not = 0u64;
        for history in c.history.values() {
            if !check_versioned(&judgeable(history), state(0, kv.initial()), version_of) {
                not += 1;
            }
        }
        let name = sim.node_name(store).to_string();
        let m = sim.metrics_mut();
        for (what, v) in [
            ("lost_updates", u64::try_from(lost).unwrap_or(u64::MAX)),
            ("oversold", u64::try_from(oversold).unwrap_or(u64::MAX)),
            ("nonlinearizable_keys", not),
        ] {
            let id = m.counter(&format!("{name}.{what}"));
            m.add(id, v);
        }
    }
}

/// A key's history as the checker can judge it. An update still in flight
/// at the end whose effect is unknown (a blind write, whose version the
/// store chose; an atomic change) may have changed what later reads saw,
/// so the history is cut where the first of them began: what returned
/// before stays, what returned after becomes optional (it may or may not
/// have taken effect), and reads still in flight are left out. Every
/// operation that returned before the cut is linearized before the
/// unknown update, so the cut history is linearizable if the whole one is.
fn judgeable(history: &[Operation]) -> Vec<Operation> {
    let cut = history
        .iter()
        .filter(|o| o.ret.is_none() && o.op == RegisterOp::Write(UNKNOWN))
        .map(|o| o.invoke)
        .min()
        .unwrap_or(u64::MAX);
    history
        .iter()
        .filter(|o| !matches!(o.op, RegisterOp::Read(UNKNOWN) | RegisterOp::Write(UNKNOWN)))
        .map(|o| Operation {
            ret: o.ret.filter(|&r| r < cut),
            ..*o
        })
        .collect()
}
