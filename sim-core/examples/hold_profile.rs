//! The hold model through the node API, for profilers: `cargo run --release
//! -p sim-core --example hold_profile [pending] [events]`.
use sim_core::models::hold::HoldNode;
use sim_core::{Dist, RunLimits, SimTime, Simulation};

// A program, not the engine: it reads its settings from outside.
#[allow(clippy::disallowed_methods)]
fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().expect("a number"));
    let pending = args.next().unwrap_or(10_000) as usize;
    let events = args.next().unwrap_or(50_000_000);
    let mut sim = Simulation::<u64>::new(1);
    let z = sim.zone("z");
    let delay = Dist::exponential(1e6).expect("valid");
    sim.add_node("holder", z, HoldNode::new(pending, delay))
        .expect("fresh");
    let report = sim.run(RunLimits::until(SimTime::MAX).with_max_events(events));
    println!("{report}; fingerprint {}", report.fingerprint);
}
