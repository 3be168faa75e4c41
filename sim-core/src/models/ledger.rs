//! A payment processor's ledger: every call it finishes charges the order
//! it names, whether or not that order was charged before. It is the side
//! effect that idempotency keys exist to protect, and it counts duplicates.
//!
//! Metrics, prefixed with the node's name: `charges`, `orders_charged`,
//! `duplicate_charges` (charges beyond the first for an order).

use super::ENTRY_BYTES;
use super::request::Request;
use super::rpc::Rpc;
use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};
use crate::metrics::CounterId;
use crate::policy::Outcome;
use std::collections::BTreeMap;

/// The ledger's timer: apply the charge for `order` and answer `caller`'s
/// `call`.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Charge {
    pub caller: NodeId,
    pub call: u64,
    pub order: u64,
}

pub struct Ledger {
    processing_time: Dist,
    charges_by_order: BTreeMap<u64, u32>,
    next_charge_id: u64,
    m: Option<[CounterId; 3]>,
}

impl Ledger {
    /// Each charge takes a time drawn from `processing_time` (nanoseconds);
    /// charges proceed in parallel.
    pub fn new(processing_time: Dist) -> Self {
        Ledger {
            processing_time,
            charges_by_order: BTreeMap::new(),
            next_charge_id: 1,
            m: None,
        }
    }

    /// How many times `order` was charged.
    pub fn charges_for(&self, order: u64) -> u32 {
        self.charges_by_order.get(&order).copied().unwrap_or(0)
    }

    /// Every order charged more than once, with its count.
    pub fn duplicates(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.charges_by_order
            .iter()
            .filter(|&(_, &n)| n > 1)
            .map(|(&o, &n)| (o, n))
    }
}

impl Node<Rpc> for Ledger {
    fn footprint(&self) -> u64 {
        self.charges_by_order.len() as u64 * ENTRY_BYTES
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Rpc>) {
        let name = ctx.name().to_string();
        let m = ctx.metrics();
        self.m = Some([
            m.counter(&format!("{name}.charges")),
            m.counter(&format!("{name}.orders_charged")),
            m.counter(&format!("{name}.duplicate_charges")),
        ]);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Rpc>, from: NodeId, msg: Rpc) {
        if let Rpc::Request(Request::Call { call, order, .. }) = msg {
            let after = self.processing_time.sample_duration(ctx.rng());
            ctx.set_timer(
                after,
                Charge {
                    caller: from,
                    call,
                    order,
                },
            );
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Rpc>, _: TimerId, payload: Rpc) {
        let Rpc::Charge(Charge {
            caller,
            call,
            order,
        }) = payload
        else {
            return;
        };
        let [charges, orders, duplicates] = self.m.expect("started");
        let count = self.charges_by_order.entry(order).or_insert(0);
        *count += 1;
        let first = *count == 1;
        let id = self.next_charge_id;
        self.next_charge_id += 1;
        let m = ctx.metrics();
        m.add(charges, 1);
        m.add(if first { orders } else { duplicates }, 1);
        ctx.send(
            caller,
            Request::Reply {
                call,
                outcome: Outcome::Ok(id),
            },
        );
    }
}
