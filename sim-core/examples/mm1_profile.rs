//! A fixed M/M/1 run for profilers (perf, callgrind): `cargo run --release
//! -p sim-core --example mm1_profile [customers]`.
use sim_core::models::queueing::QueueingSystem;
use sim_core::{Dist, RunLimits, SimTime};

// A program, not the engine: it reads its settings from outside.
#[allow(clippy::disallowed_methods)]
fn main() {
    let customers: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let service = Dist::exponential(1e6).expect("valid"); // 1000/s
    let mut system = QueueingSystem::new(7, 1, 900.0, service, Some(customers));
    let report = system.sim.run(RunLimits::until(SimTime::MAX));
    println!("{report}; fingerprint {}", report.fingerprint);
}
