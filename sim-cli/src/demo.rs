//! `faultline demo`: the built-in M/M/1 queue beside queueing theory.

use super::{Failure, bad_input};
use sim_core::models::queueing::QueueingSystem;
use sim_core::theory::{mm1_mean_in_system, mm1_mean_response};
use sim_core::{Dist, RunLimits, SimDuration, SimTime, StopReason};

pub fn demo(seed: u64, lambda: f64, mu: f64, duration: SimDuration) -> Result<(), Failure> {
    if !(lambda.is_finite() && lambda > 0.0 && mu.is_finite() && mu > 0.0) {
        return Err(bad_input(
            "error: --arrival-rate and --service-rate must be positive numbers",
        ));
    }
    let service = Dist::exponential(1e9 / mu).expect("mu checked positive");
    let QueueingSystem { mut sim, .. } = QueueingSystem::new(seed, 1, lambda, service, None);
    let report = sim.run(RunLimits::until(SimTime::ZERO + duration));
    let end = sim.now();
    let m = sim.metrics();
    let response = m
        .get_histogram("server.response_ns")
        .expect("server metric");
    let in_system = m.get_gauge("server.in_system").expect("server metric");
    let busy = m.get_gauge("server.busy_workers").expect("server metric");
    let ms = |ns: Option<u64>| ns.map_or(f64::NAN, |v| v as f64 / 1e6);

    println!("Faultline demo: an M/M/1 queue");
    println!("  seed         {seed}");
    println!("  fingerprint  {}", report.fingerprint);
    println!("  run          {report}");
    println!(
        "  load         arrivals {lambda}/s, service {mu}/s, rho = {:.3}",
        lambda / mu
    );
    println!();
    println!("  {:<28}{:>14}{:>14}", "", "simulated", "theory");
    let completed = m.get_counter("server.completed").unwrap_or(0);
    println!(
        "  {:<28}{:>14.2}{:>14.2}",
        "throughput (/s)",
        completed as f64 / end.as_secs_f64(),
        lambda.min(mu)
    );
    let theory_w = mm1_mean_response(lambda, mu).map(|w| w * 1e3);
    println!(
        "  {:<28}{:>14.3}{:>14}",
        "mean response time (ms)",
        response.mean() / 1e6,
        theory_w.map_or("unstable".into(), |w| format!("{w:.3}"))
    );
    let theory_l = mm1_mean_in_system(lambda, mu);
    println!(
        "  {:<28}{:>14.3}{:>14}",
        "mean number in system",
        in_system.time_average(end),
        theory_l.map_or("unstable".into(), |l| format!("{l:.3}"))
    );
    println!(
        "  {:<28}{:>14.3}{:>14.3}",
        "utilisation",
        busy.time_average(end),
        (lambda / mu).min(1.0)
    );
    println!();
    println!(
        "  response time (ms): p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        ms(response.quantile(0.5)),
        ms(response.quantile(0.9)),
        ms(response.quantile(0.99)),
        ms(response.quantile(0.999)),
        ms(response.max())
    );
    if let StopReason::EventBudget { .. } = report.stop {
        return Err(Failure(1, format!("warning: {report}")));
    }
    Ok(())
}
