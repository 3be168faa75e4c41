//! `faultline`: run Faultline simulations from the command line.
//!
//! Until scenario files arrive, the one subcommand is `demo`, a built-in
//! M/M/1 queue whose results are printed beside what queueing theory
//! predicts, with the seed and the run's fingerprint.

use clap::{Parser, Subcommand};
use sim_core::models::queueing::QueueingSystem;
use sim_core::theory::{mm1_mean_in_system, mm1_mean_response};
use sim_core::{Dist, RunLimits, SimDuration, SimTime, StopReason};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "faultline",
    version,
    about = "A deterministic simulator of distributed systems, made for learning"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the built-in M/M/1 queue and compare it with queueing theory.
    Demo {
        /// The run's seed: the same seed gives the same run, bit for bit.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Arrivals per second (Poisson).
        #[arg(long, default_value_t = 80.0)]
        arrival_rate: f64,
        /// Completions per second of the one server (exponential service).
        #[arg(long, default_value_t = 100.0)]
        service_rate: f64,
        /// Simulated time to run, e.g. `10m`, `1h`, `90s`.
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        duration: SimDuration,
    },
}

fn parse_duration(s: &str) -> Result<SimDuration, String> {
    s.parse()
        .map_err(|e: sim_core::time::ParseDurationError| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo {
            seed,
            arrival_rate,
            service_rate,
            duration,
        } => demo(seed, arrival_rate, service_rate, duration),
    }
}

fn demo(seed: u64, lambda: f64, mu: f64, duration: SimDuration) -> ExitCode {
    if !(lambda.is_finite() && lambda > 0.0 && mu.is_finite() && mu > 0.0) {
        eprintln!("error: --arrival-rate and --service-rate must be positive numbers");
        return ExitCode::from(2);
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
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
