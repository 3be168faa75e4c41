//! The simulator against results it did not invent. Each tolerance is about
//! four standard deviations of the estimate across seeds at the run length
//! used (measured over seeds 1 to 8: W at rho 0.5 varies by 0.25%, at rho
//! 0.8 by 0.75%, P(wait) by 0.2%, Wq by 1.2%), so a model that is wrong by
//! a few percent fails.

use faultline_tests::{exp_service, run_queue};
use sim_core::theory::{erlang_c, mm1_mean_response, mmc_mean_wait};
use sim_core::{Dist, RunLimits, SimTime, Simulation};

fn assert_close(what: &str, got: f64, want: f64, rel_tol: f64) {
    let err = (got - want).abs() / want;
    assert!(
        err <= rel_tol,
        "{what}: simulated {got:.5}, theory {want:.5}, relative error {err:.4} > {rel_tol}"
    );
}

/// M/M/1 at rho = 0.5: W = 1/(mu - lambda) = 2 s with mu = 1/s.
#[test]
fn mm1_mean_response_at_half_load() {
    let (lambda, mu) = (0.5, 1.0);
    let run = run_queue(1, 1, lambda, exp_service(mu), 1_000_000);
    assert_close(
        "W at rho=0.5",
        run.mean_response_s,
        mm1_mean_response(lambda, mu).unwrap(),
        0.01,
    );
    // Little's law on the same run.
    little_holds(&run, lambda);
}

/// M/M/1 at rho = 0.8: W = 5 s. Waiting times are strongly correlated at
/// this load, so the run is longer and the tolerance wider.
#[test]
fn mm1_mean_response_at_high_load() {
    let (lambda, mu) = (0.8, 1.0);
    let run = run_queue(2, 1, lambda, exp_service(mu), 2_000_000);
    assert_close(
        "W at rho=0.8",
        run.mean_response_s,
        mm1_mean_response(lambda, mu).unwrap(),
        0.03,
    );
    little_holds(&run, lambda);
}

/// L = lambda W. The run ends empty, so on the sample path the area under
/// the number-in-system curve equals the sum of the times in system: the
/// identity holds to rounding, and the effective arrival rate matches the
/// configured one to sampling error.
fn little_holds(run: &faultline_tests::QueueRun, lambda: f64) {
    let throughput = run.customers as f64 / run.duration_s;
    let l_from_w = throughput * run.mean_response_s;
    assert!(
        (run.mean_in_system - l_from_w).abs() / l_from_w < 1e-6,
        "Little's law on the sample path: L = {} but lambda W = {}",
        run.mean_in_system,
        l_from_w
    );
    assert_close("arrival rate", throughput, lambda, 0.01);
    // The client sees the same times over a zero-latency network.
    assert!((run.client_mean_latency_s - run.mean_response_s).abs() < 1e-9);
}

/// M/M/4 at offered load a = 3 (rho = 0.75): the fraction of arrivals that
/// wait matches Erlang C (0.5094), and so does the mean wait.
#[test]
fn mmc_matches_erlang_c() {
    let (c, lambda, mu) = (4, 3.0, 1.0);
    let run = run_queue(3, c, lambda, exp_service(mu), 1_000_000);
    let want = erlang_c(c, lambda / mu).unwrap();
    assert!((want - 0.509_434).abs() < 1e-5, "Erlang C itself: {want}");
    assert_close("P(wait) for M/M/4", run.p_wait, want, 0.01);
    assert_close(
        "Wq for M/M/4",
        run.mean_wait_s,
        mmc_mean_wait(c, lambda, mu).unwrap(),
        0.04,
    );
}

/// The tolerances above are not vacuous: a server 5% faster than assumed
/// is caught.
#[test]
fn a_wrong_service_rate_is_detected() {
    let (lambda, mu) = (0.5, 1.0);
    let run = run_queue(1, 1, lambda, exp_service(mu * 1.05), 1_000_000);
    let want = mm1_mean_response(lambda, mu).unwrap();
    assert!((run.mean_response_s - want).abs() / want > 0.01);
}

/// The request path's service (not the bare queueing model) reports the
/// share of calls that waited for a worker and how long, so M/M/c can be
/// checked on it directly: 8 workers at offered load a = 6 (rho = 0.75),
/// Poisson calls, exponential work, an unbounded FIFO queue.
#[test]
fn a_service_reports_waits_that_match_erlang_c() {
    use sim_core::models::client::{Client, ClientConfig};
    use sim_core::models::service::{Service, ServiceConfig};
    let (c, lambda, mu) = (8u32, 600.0, 100.0);
    let mut sim = Simulation::new(21);
    let zone = sim.zone("dc");
    let api = sim
        .add_node(
            "api",
            zone,
            Service::new(ServiceConfig::new(c, Dist::exponential(1e9 / mu).unwrap())),
        )
        .unwrap();
    let mut user = ClientConfig::poisson(api, lambda);
    user.max_orders = Some(400_000);
    sim.add_node("user", zone, Client::new(user)).unwrap();
    sim.run(RunLimits::until(SimTime::MAX));
    let m = sim.metrics();
    let started = m.get_counter("api.started").unwrap() as f64;
    let waited = m.get_counter("api.waited").unwrap() as f64;
    assert_eq!(started, 400_000.0);
    let want = erlang_c(c, lambda / mu).unwrap();
    assert!((want - 0.356_98).abs() < 1e-4, "Erlang C itself: {want}");
    assert_close("P(wait) at the service", waited / started, want, 0.02);
    let wait = m.get_histogram("api.wait_ns").unwrap();
    assert_eq!(wait.count() as f64, started);
    assert_close(
        "Wq at the service",
        wait.mean() / 1e9,
        mmc_mean_wait(c, lambda, mu).unwrap(),
        0.04,
    );
}
