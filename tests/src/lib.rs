//! Helpers shared by Faultline's cross-crate tests (the `it` test binary in
//! `it/`): small systems built from engine nodes, run and summarised.

use sim_core::models::queueing::QueueingSystem;
use sim_core::{Dist, Fingerprint, RunLimits, SimTime, Simulation};

/// What an M/M/c (or M/G/c) run measured, in seconds.
#[derive(Debug, Clone)]
pub struct QueueRun {
    pub customers: u64,
    pub duration_s: f64,
    pub mean_response_s: f64,
    pub mean_wait_s: f64,
    /// Fraction of arrivals that found every worker busy.
    pub p_wait: f64,
    /// Time-average number in the system.
    pub mean_in_system: f64,
    pub client_mean_latency_s: f64,
    pub fingerprint: Fingerprint,
    pub events: u64,
}

/// Runs `customers` Poisson arrivals at `lambda` per second through a
/// server with `workers` workers and the given service distribution (in
/// nanoseconds), over a zero-latency network, until all are served.
pub fn run_queue(seed: u64, workers: u32, lambda: f64, service: Dist, customers: u64) -> QueueRun {
    let QueueingSystem { mut sim, .. } =
        QueueingSystem::new(seed, workers, lambda, service, Some(customers));
    let report = sim.run(RunLimits::until(SimTime::MAX));
    assert_eq!(report.stop, sim_core::StopReason::Idle, "{report}");
    let m = sim.metrics();
    let end = sim.now();
    let response = m.get_histogram("server.response_ns").unwrap();
    let wait = m.get_histogram("server.wait_ns").unwrap();
    let arrivals = m.get_counter("server.arrivals").unwrap();
    assert_eq!(response.count(), customers);
    QueueRun {
        customers,
        duration_s: end.as_secs_f64(),
        mean_response_s: response.mean() / 1e9,
        mean_wait_s: wait.mean() / 1e9,
        p_wait: m.get_counter("server.waited").unwrap() as f64 / arrivals as f64,
        mean_in_system: m.get_gauge("server.in_system").unwrap().time_average(end),
        client_mean_latency_s: m.get_histogram("client.latency_ns").unwrap().mean() / 1e9,
        fingerprint: report.fingerprint,
        events: report.total_events,
    }
}

/// Exponential service with `mu` completions per second, in nanoseconds.
pub fn exp_service(mu: f64) -> Dist {
    Dist::exponential(1e9 / mu).unwrap()
}

/// Runs a simulation built by `build` twice with full traces and panics,
/// naming the first differing event and its simulated time, unless both
/// runs are identical (madsim's and TigerBeetle's determinism self-check).
/// Returns the fingerprint.
pub fn assert_deterministic<M: sim_core::Message>(
    build: impl Fn() -> Simulation<M>,
    limits: RunLimits,
) -> Fingerprint {
    let run = || {
        let mut sim = build();
        sim.set_trace(Box::new(sim_core::MemoryTrace::new(usize::MAX)));
        let report = sim.run(limits);
        let sink = sim.take_trace();
        let records: Vec<_> = sink
            .as_any()
            .downcast_ref::<sim_core::MemoryTrace>()
            .expect("a memory trace")
            .records()
            .cloned()
            .collect();
        (report.fingerprint, records)
    };
    let (first, a) = run();
    let (second, b) = run();
    if let Some(d) = sim_core::first_divergence(&a, &b) {
        panic!("nondeterminism: {d}");
    }
    assert_eq!(first, second, "identical traces but different fingerprints");
    first
}
