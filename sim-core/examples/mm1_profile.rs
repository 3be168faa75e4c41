//! A fixed M/M/1 run for profilers (perf, callgrind): `cargo run --release
//! -p sim-core --example mm1_profile [customers]`.
use sim_core::models::queueing::{OpenLoopClient, QMsg, QueueServer};
use sim_core::{LinkSpec, RunLimits, SimTime, Simulation};

fn main() {
    let customers: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let mut sim = Simulation::<QMsg>::new(7);
    sim.network_mut().default_local = LinkSpec::fixed(0.0);
    let z = sim.zone("z");
    let server = sim
        .add_node("server", z, QueueServer::exponential(1, 1000.0))
        .unwrap();
    sim.add_node(
        "client",
        z,
        OpenLoopClient::poisson(server, 900.0).with_max_requests(customers),
    )
    .unwrap();
    let report = sim.run(RunLimits::until(SimTime::MAX));
    println!("{report}; fingerprint {}", report.fingerprint);
}
