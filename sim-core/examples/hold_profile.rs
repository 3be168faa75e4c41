//! The hold model through the node API, for profilers: `cargo run --release
//! -p sim-core --example hold_profile [pending] [events]`.
use sim_core::{Context, Dist, Node, NodeId, RunLimits, SimTime, Simulation, TimerId};

struct Holder {
    pending: usize,
    delay: Dist,
}

impl Node<u64> for Holder {
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

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().expect("a number"));
    let pending = args.next().unwrap_or(10_000) as usize;
    let events = args.next().unwrap_or(50_000_000);
    let mut sim = Simulation::<u64>::new(1);
    let z = sim.zone("z");
    let delay = Dist::exponential(1e6).expect("valid");
    sim.add_node("holder", z, Holder { pending, delay })
        .expect("fresh");
    let report = sim.run(RunLimits::until(SimTime::MAX).with_max_events(events));
    println!("{report}; fingerprint {}", report.fingerprint);
}
