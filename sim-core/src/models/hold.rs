//! The hold model as a node: it keeps `pending` timers set and re-arms one,
//! with a fresh random delay, each time one fires. It is the classic
//! benchmark for a simulator's pending-event set (J. G. Vaucher and P.
//! Duval, "A comparison of simulation event list algorithms", CACM 1975),
//! here run through the full node API.

use crate::dist::Dist;
use crate::engine::{Context, Node, NodeId, TimerId};

pub struct HoldNode {
    pending: usize,
    delay: Dist,
}

impl HoldNode {
    /// Keeps `pending` timers in flight, each delay drawn from `delay`
    /// (nanoseconds).
    pub fn new(pending: usize, delay: Dist) -> Self {
        HoldNode { pending, delay }
    }
}

impl Node<u64> for HoldNode {
    fn on_start(&mut self, ctx: &mut Context<'_, u64>) {
        for i in 0..self.pending {
            let d = self.delay.sample_duration(ctx.rng());
            ctx.set_timer(d, i as u64);
        }
    }
    fn on_message(&mut self, _: &mut Context<'_, u64>, _: NodeId, _: u64) {}
    fn on_timer(&mut self, ctx: &mut Context<'_, u64>, _: TimerId, payload: u64) {
        let d = self.delay.sample_duration(ctx.rng());
        ctx.set_timer(d, payload);
    }
}
