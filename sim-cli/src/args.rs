//! The command line as clap reads it: every command, its flags and their
//! help. What each command does lives in its own module.

use super::sweep;
use clap::{Parser, Subcommand};
use sim_core::SimDuration;

#[derive(Parser)]
#[command(
    name = "faultline",
    version,
    about = "A deterministic simulator of distributed systems, made for learning"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Stop each run once it holds more than this (e.g. `512MiB`, `4GB`),
    /// instead of the scenario's `memory_budget` (default 1GiB).
    #[arg(long, global = true, value_name = "SIZE", value_parser = parse_size)]
    pub memory_budget: Option<u64>,
    /// Stop each run after this many events, instead of the scenario's
    /// `event_budget` (default 500 million).
    #[arg(long, global = true, value_name = "EVENTS")]
    pub event_budget: Option<u64>,
}

#[derive(Subcommand)]
pub enum Command {
    /// The learning path: the stories in chapters, each with its lesson.
    List,
    /// A story's narrative, what to look for, questions to try, and its variants.
    Explain {
        /// A story's name or a scenario file's path.
        scenario: String,
    },
    /// Run a story or scenario file once and print what happened.
    Run {
        /// A story's name or a scenario file's path.
        scenario: String,
        #[command(flatten)]
        pick: Pick,
        /// Print JSON for machines instead of text for people.
        #[arg(long)]
        json: bool,
        /// Also save a run record that `faultline replay` can check.
        #[arg(long, value_name = "FILE")]
        save: Option<std::path::PathBuf>,
        /// Draw latency, goodput, failures and queues over time as an SVG,
        /// with fault windows shaded.
        #[arg(long, value_name = "FILE.svg")]
        plot: Option<std::path::PathBuf>,
        /// Write a Markdown run report for a postmortem: summary, charts and
        /// a sequence diagram of one failed request.
        #[arg(long, value_name = "FILE.md")]
        report: Option<std::path::PathBuf>,
    },
    /// Re-run a saved run record and confirm its fingerprint, or show the
    /// first event that differs.
    Replay {
        /// A record written by `faultline run ... --save FILE`.
        record: std::path::PathBuf,
    },
    /// Every variant on the same seeds, in parallel: mean and 95% CI per metric.
    Compare {
        /// A story's name or a scenario file's path.
        scenario: String,
        /// Seeds per variant (1 to 10000), starting at the scenario's seed.
        #[arg(long, default_value_t = 10)]
        seeds: u64,
        /// The variant the others are measured against, seed by seed:
        /// a variant's name, or `as-written` for the scenario as written
        /// (the default when every variant changes it; otherwise the
        /// first variant that changes nothing).
        #[arg(long)]
        baseline: Option<String>,
        /// Print JSON for machines instead of a table for people.
        #[arg(long)]
        json: bool,
    },
    /// Vary parameters over ranges or lists, each point on N seeds: a table
    /// per point and seed as CSV or JSON. With --shard, one part of it.
    Sweep {
        /// A story's name or a scenario file's path.
        scenario: String,
        /// PATH=FROM..TO[:STEP] or PATH=A,B,C, e.g. node.api.workers=1..8
        /// (repeat for a grid).
        #[arg(long = "param", value_name = "PATH=VALUES", required = true)]
        params: Vec<String>,
        /// Seeds per point (1 to 10000), starting at the scenario's seed;
        /// points times seeds may be at most 100000.
        #[arg(long, default_value_t = 5)]
        seeds: u64,
        /// Sweep this variant of the scenario.
        #[arg(long)]
        variant: Option<String>,
        /// A fixed override for every point (repeatable).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// Metrics for the summary printed here (default: each client's ok,
        /// failed and p99 latency); the file has them all.
        #[arg(long = "metric")]
        metrics: Vec<String>,
        /// Run only shard I of N and write a partial result (.json) for
        /// `faultline merge`.
        #[arg(long, value_name = "I/N", value_parser = sweep::parse_shard)]
        shard: Option<sweep::Shard>,
        /// Write the table here (atomically): .csv or .json.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Combine the parts of a sharded sweep into exactly the table one
    /// machine would have written.
    Merge {
        /// Every part written by `faultline sweep ... --shard I/N --out FILE.json`.
        #[arg(required = true)]
        parts: Vec<std::path::PathBuf>,
        /// Write the table here (atomically): .csv or .json.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Metrics for the summary printed here.
        #[arg(long = "metric")]
        metrics: Vec<String>,
    },
    /// Search seeds for one that breaks an expectation, and print how to replay it.
    Explore {
        /// A story's name or a scenario file's path.
        scenario: String,
        /// How many seeds to try (1 to 10000), starting at the scenario's seed.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// Override a value in every run: `--set node.user.rate=500/s`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// Draw each seed's faults within the scenario's `[search]` bounds,
        /// and shrink a schedule that breaks an expectation.
        #[arg(long)]
        faults: bool,
        /// With --faults: where to write the shrunk reproducer (default
        /// `<scenario>-seed<N>.toml`; its sequence diagram goes beside it,
        /// as `.mmd`).
        #[arg(long, requires = "faults")]
        out: Option<std::path::PathBuf>,
        /// With --faults: the most runs shrinking may make (1 to 10000).
        #[arg(long, default_value_t = 300, requires = "faults")]
        shrink_runs: u32,
    },
    /// A run's events: JSON lines, Chrome trace JSON (Perfetto), or a Mermaid
    /// sequence diagram of one order.
    Trace {
        /// A story's name or a scenario file's path.
        scenario: String,
        #[arg(long, value_enum, default_value_t = TraceFormat::Jsonl)]
        format: TraceFormat,
        /// Mermaid: the order to draw (default: the first that was retried).
        #[arg(long)]
        request: Option<u64>,
        #[command(flatten)]
        pick: Pick,
        /// Write to this file (atomically) instead of standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Check every expectation of the given scenarios on several seeds:
    /// each variant runs once per seed and all its expectations are judged
    /// on that run.
    Check {
        /// Story names or scenario file paths.
        #[arg(required = true)]
        scenarios: Vec<String>,
        /// How many seeds per variant (1 to 10000), starting at the
        /// scenario's seed.
        #[arg(long, default_value_t = 5)]
        seeds: u64,
        /// Print JSON for machines: every judged expectation with its
        /// scenario, variant, seed, metric, actual value and verdict.
        #[arg(long)]
        json: bool,
        /// Also write a JUnit XML report here (atomically), whether or not
        /// the check passes: one test case per scenario, variant and check.
        #[arg(long, value_name = "FILE")]
        junit: Option<std::path::PathBuf>,
        /// Also print a GitHub Actions annotation (`::error file=,line=::`)
        /// for each broken check, at its line in the scenario file.
        #[arg(long, conflicts_with = "json")]
        github: bool,
    },
    /// Print a link that opens a story or scenario file in the web app, with
    /// the scenario carried in the link itself.
    Share {
        /// A story's name or a scenario file's path.
        scenario: String,
        /// The variant the link opens; defaults to the scenario as written.
        #[arg(long)]
        variant: Option<String>,
        /// The seed the link plays; defaults to the scenario's own.
        #[arg(long)]
        seed: Option<u64>,
        /// The web app's address (`cargo xtask serve` serves it here).
        #[arg(long, default_value = super::share::DEFAULT_BASE)]
        base: String,
    },
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

/// Which run: the seed, the variant and any overrides.
#[derive(clap::Args)]
pub struct Pick {
    /// The seed; defaults to the scenario's own.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The variant to run; defaults to the scenario as written.
    #[arg(long)]
    pub variant: Option<String>,
    /// Override a value: `--set node.user.rate=100/s` (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceFormat {
    Jsonl,
    Chrome,
    Mermaid,
}

fn parse_size(s: &str) -> Result<u64, String> {
    sim_core::scenario::parse_size(s).map_err(|e| e.to_string())
}

pub fn parse_duration(s: &str) -> Result<SimDuration, String> {
    s.parse()
        .map_err(|e: sim_core::ParseDurationError| e.to_string())
}

/// The command line fuzzed: random words from a list that reaches every
/// command, flag and value parser (and nonsense). Parsing never panics,
/// and what parses gets through the checks every command makes on its
/// flags (overrides, parameters, seeds, sweep sizes) without a panic.
/// `FAULTLINE_FUZZ_SECONDS=600 cargo test --release -p sim-cli fuzz_flags_for
/// -- --ignored --nocapture` runs it for longer.
#[cfg(test)]
mod fuzz {
    use super::*;
    use sim_core::SimRng;

    const WORDS: &[&str] = &[
        "run",
        "check",
        "compare",
        "sweep",
        "merge",
        "explore",
        "trace",
        "replay",
        "demo",
        "list",
        "explain",
        "double-charge",
        "cap",
        "x.toml",
        "--seed",
        "--seeds",
        "--variant",
        "--set",
        "--param",
        "--shard",
        "--out",
        "--json",
        "--junit",
        "--github",
        "--baseline",
        "--memory-budget",
        "--event-budget",
        "--format",
        "--request",
        "--duration",
        "--arrival-rate",
        "0",
        "1",
        "-1",
        "18446744073709551615",
        "18446744073709551616",
        "1/0",
        "0/1",
        "2/1",
        "1/18446744073709551615",
        "node.user.rate=1e12/s",
        "node.user.rate=",
        "=5",
        "rate",
        "node.api.workers=1..1000000",
        "node.api.workers=1..8:0",
        "node.api.workers=a,b,,",
        "node.api.queue=10,100,unbounded",
        "run.duration=\"1ns\"",
        "1GiB",
        "lots",
        "1e999",
        "nan",
        "chrome",
        "mermaid",
        "jsonl",
        "as-written",
        "idempotency-keys",
        "é",
        "",
        "--",
        "-",
        "--help=",
        "p.csv",
        "p.json",
    ];

    fn argv(rng: &mut SimRng) -> Vec<String> {
        let n = 1 + rng.below(7) as usize;
        std::iter::once("faultline".to_string())
            .chain((0..n).map(|_| WORDS[rng.below(WORDS.len() as u64) as usize].to_string()))
            .collect()
    }

    /// The checks a command makes on its flags before it runs anything.
    fn exercise(args: &[String]) {
        let Ok(cli) = Cli::try_parse_from(args) else {
            return;
        };
        match cli.command {
            Command::Run { pick, .. } | Command::Trace { pick, .. } => {
                let _ = crate::parse_sets(&pick.sets);
            }
            Command::Sweep {
                params,
                seeds,
                sets,
                ..
            } => {
                let _ = crate::parse_sets(&sets);
                let _ = sim_core::scenario::seed_range(0, seeds);
                let parsed: Vec<_> = params
                    .iter()
                    .filter_map(|p| sweep::parse_param(p).ok())
                    .collect();
                let plan = sweep::SweepPlan {
                    scenario: "x".into(),
                    source_hash: String::new(),
                    variant: None,
                    sets,
                    params: parsed,
                    base_seed: 0,
                    seeds,
                };
                let _ = plan.check_size();
            }
            Command::Check { seeds, .. } | Command::Compare { seeds, .. } => {
                let _ = sim_core::scenario::seed_range(0, seeds);
            }
            Command::Explore { seeds, sets, .. } => {
                let _ = crate::parse_sets(&sets);
                let _ = sim_core::scenario::seed_range(0, seeds);
            }
            _ => {}
        }
    }

    #[test]
    fn random_command_lines_never_panic() {
        let mut rng = SimRng::for_component(1, "fuzz-flags");
        for _ in 0..3000 {
            exercise(&argv(&mut rng));
        }
    }

    #[test]
    #[ignore = "long: set FAULTLINE_FUZZ_SECONDS and run with --ignored"]
    fn fuzz_flags_for_a_while() {
        #![allow(clippy::disallowed_methods)]
        let seconds: u64 = std::env::var("FAULTLINE_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60);
        let start = std::time::Instant::now();
        let mut rng = SimRng::for_component(std::process::id().into(), "long-fuzz-flags");
        let mut cases = 0u64;
        while start.elapsed().as_secs() < seconds {
            let args = argv(&mut rng);
            if std::panic::catch_unwind(|| exercise(&args)).is_err() {
                panic!("the command line panicked after {cases} cases: {args:?}");
            }
            cases += 1;
        }
        println!("fuzz: {cases} command lines in {seconds}s, no panics");
    }
}
