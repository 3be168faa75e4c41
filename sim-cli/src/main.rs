//! `faultline`: run Faultline simulations from the command line.
//!
//! `list` and `explain` show the story library; `run` runs a story or a
//! scenario file and prints its seed, fingerprint, a summary and each
//! expectation's verdict; `compare` runs every variant on the same seeds
//! and tabulates means with confidence intervals; `check` runs every
//! expectation on several seeds and fails (exit 1) naming the seed and the
//! command that replays it; `sweep` varies parameters over a grid, on one
//! machine or in shards that `merge` puts back together exactly;
//! `demo` is the built-in M/M/1 queue beside queueing theory.
//!
//! Exit codes: 0 success, 1 an expectation failed or a run was cut short,
//! 2 bad input (a bad file, flag or name).

mod charts;
mod compare;
mod library;
mod replay;
mod report;
mod sweep;
mod trace;

use clap::{Parser, Subcommand};
use sim_core::models::queueing::QueueingSystem;
use sim_core::scenario::build::{build, evaluate};
use sim_core::scenario::load::{Scenario, load, parse_set_value};
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
    /// The stories in the library, with one line each.
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
        /// Seeds per variant, starting at the scenario's seed.
        #[arg(long, default_value_t = 10)]
        seeds: u64,
        /// The variant the others are measured against, seed by seed
        /// (default: the first in the file).
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
        /// Seeds per point, starting at the scenario's seed.
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
        /// How many seeds to try, starting at the scenario's seed.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// Override a value in every run: `--set node.user.rate=500/s`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
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
    /// Check every expectation of the given scenarios on several seeds.
    Check {
        /// Story names or scenario file paths.
        #[arg(required = true)]
        scenarios: Vec<String>,
        /// How many seeds per expectation, starting at the scenario's seed.
        #[arg(long, default_value_t = 5)]
        seeds: u64,
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
struct Pick {
    /// The seed; defaults to the scenario's own.
    #[arg(long)]
    seed: Option<u64>,
    /// The variant to run; defaults to the scenario as written.
    #[arg(long)]
    variant: Option<String>,
    /// Override a value: `--set node.user.rate=100/s` (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TraceFormat {
    Jsonl,
    Chrome,
    Mermaid,
}

fn parse_duration(s: &str) -> Result<SimDuration, String> {
    s.parse()
        .map_err(|e: sim_core::time::ParseDurationError| e.to_string())
}

/// A failure with its exit code: 1 for a failed expectation or cut-short
/// run, 2 for bad input.
struct Failure(u8, String);

fn bad_input(message: impl Into<String>) -> Failure {
    Failure(2, message.into())
}

/// A reader that went away (`faultline list | head -1`) is not an error:
/// stop quietly, as Unix tools do, instead of panicking on the write.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List => {
            list();
            Ok(())
        }
        Command::Explain { scenario } => explain(&scenario),
        Command::Run {
            scenario,
            pick,
            json,
            save,
            plot,
            report,
        } => run(
            &scenario,
            &pick,
            json,
            Outputs {
                save: save.as_deref(),
                plot: plot.as_deref(),
                report: report.as_deref(),
            },
        ),
        Command::Replay { record } => replay(&record),
        Command::Check { scenarios, seeds } => check(&scenarios, seeds),
        Command::Sweep {
            scenario,
            params,
            seeds,
            variant,
            sets,
            metrics,
            shard,
            out,
        } => run_sweep(
            &scenario,
            &params,
            seeds,
            variant,
            sets,
            &metrics,
            shard,
            out.as_deref(),
        ),
        Command::Merge {
            parts,
            out,
            metrics,
        } => run_merge(&parts, out.as_deref(), &metrics),
        Command::Compare {
            scenario,
            seeds,
            baseline,
            json,
        } => run_compare(&scenario, seeds, baseline.as_deref(), json),
        Command::Trace {
            scenario,
            format,
            request,
            pick,
            out,
        } => run_trace(&scenario, format, request, &pick, out.as_deref()),
        Command::Explore {
            scenario,
            seeds,
            sets,
        } => explore(&scenario, seeds, &sets),
        Command::Demo {
            seed,
            arrival_rate,
            service_rate,
            duration,
        } => demo(seed, arrival_rate, service_rate, duration),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            if !message.is_empty() {
                eprintln!("{message}");
            }
            ExitCode::from(code)
        }
    }
}

fn open(name_or_path: &str) -> Result<Scenario, Failure> {
    let source = library::resolve(name_or_path).map_err(|e| bad_input(format!("error: {e}")))?;
    load(&source.name, &source.file, &source.text).map_err(|d| bad_input(d.to_string()))
}

fn list() {
    let width = library::STORIES
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(0);
    for (name, _) in library::STORIES {
        let summary = open(name).map_or_else(|e| e.1, |s| s.spec.summary.clone());
        println!("{name:<width$}  {summary}");
    }
}

fn explain(name: &str) -> Result<(), Failure> {
    let s = open(name)?;
    let spec = &s.spec;
    println!(
        "{}\n{}\n",
        spec.title,
        "=".repeat(spec.title.chars().count())
    );
    println!("{}\n", spec.summary);
    if !spec.story.trim().is_empty() {
        println!("{}\n", spec.story.trim());
    }
    if !spec.look_for.is_empty() {
        println!("What to look for:");
        for item in &spec.look_for {
            println!("  - {item}");
        }
        println!();
    }
    if !spec.questions.is_empty() {
        println!("Questions to try:");
        for item in &spec.questions {
            println!("  - {item}");
        }
        println!();
    }
    if !spec.variants.is_empty() {
        println!("Variants (faultline run {} --variant NAME):", s.name);
        for (name, v) in &spec.variants {
            println!("  {name}: {}", v.get_ref().description);
        }
    }
    Ok(())
}

fn parse_sets(sets: &[String]) -> Result<Vec<(String, toml::Value)>, Failure> {
    sets.iter()
        .map(|s| match s.split_once('=') {
            Some((path, value)) if !path.trim().is_empty() => {
                Ok((path.trim().to_string(), parse_set_value(value.trim())))
            }
            _ => Err(bad_input(format!(
                "error: --set `{s}` needs the form PATH=VALUE, e.g. --set node.user.rate=100/s"
            ))),
        })
        .collect()
}

/// A resolved scenario: the file, its spec with the variant and overrides
/// applied, and the seed.
type Picked = (Scenario, sim_core::scenario::spec::ScenarioSpec, u64);

/// The scenario, its resolved spec and the seed that a `Pick` asks for.
fn resolve_pick(name: &str, pick: &Pick) -> Result<Picked, Failure> {
    let scenario = open(name)?;
    let overrides = parse_sets(&pick.sets)?;
    let spec = scenario
        .resolve(pick.variant.as_deref(), &overrides)
        .map_err(|e| bad_input(format!("error: {e}")))?;
    let seed = pick.seed.unwrap_or(spec.run.seed);
    Ok((scenario, spec, seed))
}

/// The files `run` may write besides its output.
struct Outputs<'a> {
    save: Option<&'a std::path::Path>,
    plot: Option<&'a std::path::Path>,
    report: Option<&'a std::path::Path>,
}

fn run(name: &str, pick: &Pick, json: bool, outputs: Outputs<'_>) -> Result<(), Failure> {
    let (scenario, spec, seed) = resolve_pick(name, pick)?;
    let (variant, sets) = (pick.variant.as_deref(), pick.sets.as_slice());
    let mut built = build(&spec, seed).map_err(|e| bad_input(format!("error: {e}")))?;
    if outputs.report.is_some() {
        built.sim.set_trace(Box::<trace::MermaidTrace>::default());
    }
    let outcome = match outputs.save {
        None => built.run(),
        Some(path) => {
            let (outcome, checkpoints, every) =
                replay::run_with_checkpoints(&mut built.sim, built.limits, 0);
            built.finish();
            let record = replay::Record {
                scenario: scenario.name.clone(),
                source: scenario.source.clone(),
                variant: variant.map(str::to_string),
                sets: sets.to_vec(),
                seed,
                version: env!("CARGO_PKG_VERSION").to_string(),
                fingerprint: outcome.fingerprint,
                events: outcome.total_events,
                every,
                checkpoints,
            };
            write_atomically(path, record.to_json().as_bytes())?;
            outcome
        }
    };
    // One failed request's messages, for the report.
    let diagram = outputs.report.and_then(|_| {
        let sink = built.sim.take_trace();
        let mermaid = sink.as_any().downcast_ref::<trace::MermaidTrace>()?;
        let order = mermaid.pick_failed()?;
        Some((order, mermaid.diagram(order)?))
    });
    let verdicts: Vec<_> = spec
        .expectations
        .iter()
        .filter(|e| {
            e.variant.as_ref().map(|v| v.get_ref().as_str()) == variant || e.variant.is_none()
        })
        .map(|e| (e, evaluate(e, built.sim.metrics(), outcome.end_time)))
        .collect();
    let run = report::RunSummary {
        scenario: &scenario,
        spec: &spec,
        variant,
        seed,
        sets,
        sim: &built.sim,
        outcome: &outcome,
        verdicts: &verdicts,
    };
    if json {
        println!("{}", run.to_json());
    } else {
        use std::io::IsTerminal;
        print!(
            "{}",
            run.to_text(report::use_colour(std::io::stdout().is_terminal()))
        );
    }
    if let Some(path) = outputs.plot {
        let title = format!(
            "{} [{}], seed {}",
            spec.title,
            variant.unwrap_or("as written"),
            seed
        );
        let charts = charts::Charts::new(&spec, built.sim.metrics(), outcome.end_time);
        write_atomically(path, charts.svg(&title).as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = outputs.report {
        // Link the SVG by a path relative to the report when both are written.
        let plot = outputs.plot.map(|p| {
            let base = path.parent().unwrap_or(std::path::Path::new(""));
            p.strip_prefix(base).unwrap_or(p).display().to_string()
        });
        let md = run.to_markdown(diagram, plot.as_deref());
        write_atomically(path, md.as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    let failed = verdicts.iter().any(|(_, v)| !matches!(v, Ok(v) if v.holds));
    if matches!(outcome.stop, StopReason::EventBudget { .. }) {
        return Err(Failure(1, format!("warning: {outcome}")));
    }
    if failed {
        return Err(Failure(1, "some expectations do not hold".into()));
    }
    Ok(())
}

fn replay(path: &std::path::Path) -> Result<(), Failure> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_input(format!("error: cannot read `{file}`: {e}")))?;
    let record =
        replay::Record::from_json(&file, &text).map_err(|e| bad_input(format!("error: {e}")))?;
    let ours = env!("CARGO_PKG_VERSION");
    if record.version != ours {
        println!(
            "note: recorded with Faultline {}, replaying with {ours}; a difference may be a deliberate change",
            record.version
        );
    }
    let scenario = load(
        &record.scenario,
        &format!("{file} (embedded scenario)"),
        &record.source,
    )
    .map_err(|d| bad_input(d.to_string()))?;
    let overrides = parse_sets(&record.sets)?;
    let spec = scenario
        .resolve(record.variant.as_deref(), &overrides)
        .map_err(|e| bad_input(format!("error: {e}")))?;
    let mut built = build(&spec, record.seed).map_err(|e| bad_input(format!("error: {e}")))?;
    let (outcome, checkpoints, _) =
        replay::run_with_checkpoints(&mut built.sim, built.limits, record.every);
    built.finish();
    let what = format!(
        "{}{} seed {}",
        record.scenario,
        record
            .variant
            .as_deref()
            .map(|v| format!(" [{v}]"))
            .unwrap_or_default(),
        record.seed
    );
    match replay::first_difference(&record.checkpoints, &checkpoints) {
        None if outcome.fingerprint == record.fingerprint => {
            println!(
                "replay: {what}: fingerprint {} matches the record ({} events)",
                outcome.fingerprint, outcome.total_events
            );
            Ok(())
        }
        difference => {
            println!(
                "replay: {what}: fingerprint {} differs from the recorded {} ({} events now, {} recorded)",
                outcome.fingerprint, record.fingerprint, outcome.total_events, record.events
            );
            if let Some(i) = difference {
                let last = (i as u64 + 1) * record.every;
                let first = last + 1 - record.every;
                if record.every == 1 {
                    println!("first differing event: #{last}");
                } else {
                    println!("first difference within events #{first} to #{last}");
                }
                let fresh =
                    build(&spec, record.seed).map_err(|e| bad_input(format!("error: {e}")))?;
                for line in replay::describe_event(fresh.sim, fresh.limits, first) {
                    println!("  now: {line}");
                }
            }
            Err(Failure(1, String::new()))
        }
    }
}

fn run_compare(name: &str, seeds: u64, baseline: Option<&str>, json: bool) -> Result<(), Failure> {
    if seeds == 0 {
        return Err(bad_input("error: --seeds must be at least 1"));
    }
    let scenario = open(name)?;
    let out = compare::compare(&scenario, seeds, baseline, json)
        .map_err(|e| bad_input(format!("error: {e}")))?;
    print!("{out}");
    Ok(())
}

/// Whether `path` asks for JSON (.json) or CSV (.csv).
fn table_format(path: &std::path::Path) -> Result<bool, Failure> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Ok(true),
        Some("csv") => Ok(false),
        _ => Err(bad_input(format!(
            "error: --out `{}`: expected a file ending in .csv or .json",
            path.display()
        ))),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_sweep(
    name: &str,
    params: &[String],
    seeds: u64,
    variant: Option<String>,
    sets: Vec<String>,
    metrics: &[String],
    shard: Option<sweep::Shard>,
    out: Option<&std::path::Path>,
) -> Result<(), Failure> {
    if seeds == 0 {
        return Err(bad_input("error: --seeds must be at least 1"));
    }
    let params = params
        .iter()
        .map(|p| sweep::parse_param(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_input(format!("error: {e}")))?;
    parse_sets(&sets)?;
    let as_json = out.map(table_format).transpose()?;
    if shard.is_some() && as_json != Some(true) {
        return Err(bad_input(
            "error: a shard writes a partial result for `faultline merge`: add --out part-I.json",
        ));
    }
    let scenario = open(name)?;
    let plan = sweep::SweepPlan::new(&scenario, variant, sets, params, seeds);
    let specs =
        sweep::point_specs(&scenario, &plan).map_err(|e| bad_input(format!("error: {e}")))?;
    let rows = sweep::run_jobs(&specs, &plan, shard, true)
        .map_err(|e| bad_input(format!("error: {e}")))?;
    match (shard, out) {
        (Some(shard), Some(path)) => {
            write_atomically(path, sweep::partial_json(&plan, shard, &rows).as_bytes())?;
            println!(
                "sweep {}: shard {}/{} ran {} of {} jobs; wrote {}",
                plan.scenario,
                shard.index,
                shard.count,
                rows.len(),
                plan.jobs(),
                path.display()
            );
        }
        _ => {
            print!("{}", sweep::summary(&plan, &rows, metrics));
            if let (Some(path), Some(as_json)) = (out, as_json) {
                write_atomically(path, sweep::table(&plan, &rows, as_json).as_bytes())?;
                println!("\nwrote {} ({} rows)", path.display(), rows.len());
            }
        }
    }
    Ok(())
}

fn run_merge(
    parts: &[std::path::PathBuf],
    out: Option<&std::path::Path>,
    metrics: &[String],
) -> Result<(), Failure> {
    let as_json = out.map(table_format).transpose()?;
    let texts = parts
        .iter()
        .map(|p| {
            let file = p.display().to_string();
            std::fs::read_to_string(p)
                .map(|t| (file.clone(), t))
                .map_err(|e| bad_input(format!("error: cannot read `{file}`: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (plan, rows) = sweep::merge_parts(&texts).map_err(|e| bad_input(format!("error: {e}")))?;
    print!("{}", sweep::summary(&plan, &rows, metrics));
    if let (Some(path), Some(as_json)) = (out, as_json) {
        write_atomically(path, sweep::table(&plan, &rows, as_json).as_bytes())?;
        println!("\nwrote {} ({} rows)", path.display(), rows.len());
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// failure never leaves half a file where a good one was.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), Failure> {
    let tmp = path.with_extension("faultline-tmp");
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        bad_input(format!("error: cannot write `{}`: {e}", path.display()))
    })
}

fn run_trace(
    name: &str,
    format: TraceFormat,
    request: Option<u64>,
    pick: &Pick,
    out: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let (_, spec, seed) = resolve_pick(name, pick)?;
    let mut built = build(&spec, seed).map_err(|e| bad_input(format!("error: {e}")))?;
    let names: Vec<String> = built.sim.nodes().map(|(_, n)| n.to_string()).collect();
    // Runs with `sink` and returns it, to be read back by its type.
    let mut traced = |sink: Box<dyn sim_core::TraceSink>| {
        built.sim.set_trace(sink);
        let report = built.run();
        eprintln!("seed {seed}, fingerprint {}: {report}", report.fingerprint);
        built.sim.take_trace()
    };
    let text = match format {
        TraceFormat::Jsonl => {
            let sink = traced(Box::new(sim_core::JsonLinesTrace::new(Vec::<u8>::new())));
            let lines = sink
                .as_any()
                .downcast_ref::<sim_core::JsonLinesTrace<Vec<u8>>>()
                .expect("the sink we set");
            String::from_utf8(lines.get_ref().clone()).expect("JSON lines are UTF-8")
        }
        TraceFormat::Chrome => {
            let sink = traced(Box::new(trace::ChromeTrace::new(
                names.iter().map(String::as_str),
            )));
            let chrome = sink
                .as_any()
                .downcast_ref::<trace::ChromeTrace>()
                .expect("the sink we set");
            chrome.to_json()
        }
        TraceFormat::Mermaid => {
            let sink = traced(Box::<trace::MermaidTrace>::default());
            let mermaid = sink
                .as_any()
                .downcast_ref::<trace::MermaidTrace>()
                .expect("the sink we set");
            let order = mermaid.pick(request).ok_or_else(|| {
                bad_input("error: the run made no calls, so there is nothing to draw")
            })?;
            mermaid.diagram(order).ok_or_else(|| {
                bad_input(format!("error: order {order} made no calls in this run"))
            })?
        }
    };
    match out {
        Some(path) => write_atomically(path, text.as_bytes()),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Tries seeds in order and stops at the first that breaks any expectation.
fn explore(name: &str, seeds: u64, sets: &[String]) -> Result<(), Failure> {
    let scenario = open(name)?;
    let overrides = parse_sets(sets)?;
    let set_flags: String = sets.iter().map(|s| format!(" --set {s}")).collect();
    let base = scenario.spec.run.seed;
    // Resolve every variant that has expectations once.
    let mut groups: Vec<(Option<&str>, sim_core::scenario::spec::ScenarioSpec)> = Vec::new();
    for e in &scenario.spec.expectations {
        let variant = e.variant.as_ref().map(|v| v.get_ref().as_str());
        if !groups.iter().any(|(v, _)| *v == variant) {
            let spec = scenario
                .resolve(variant, &overrides)
                .map_err(|err| bad_input(format!("error: {err}")))?;
            groups.push((variant, spec));
        }
    }
    for seed in base..base + seeds {
        for (variant, spec) in &groups {
            let mut built = build(spec, seed).map_err(|err| bad_input(format!("error: {err}")))?;
            let outcome = built.run();
            for e in &spec.expectations {
                if e.variant.as_ref().map(|v| v.get_ref().as_str()) != *variant {
                    continue;
                }
                let broken = match evaluate(e, built.sim.metrics(), outcome.end_time) {
                    Ok(v) if v.holds => None,
                    Ok(v) => Some(format!(
                        "{} {} {} does not hold: it was {}",
                        v.metric,
                        v.op.as_str(),
                        report::number(v.expected),
                        report::number(v.actual)
                    )),
                    Err(err) => Some(err),
                };
                if let Some(why) = broken {
                    println!(
                        "explore: seed {seed} breaks {} [{}] after {} seed{}: {why}",
                        scenario.name,
                        variant.unwrap_or("as written"),
                        seed - base + 1,
                        if seed == base { "" } else { "s" }
                    );
                    println!(
                        "replay:  faultline run {}{} --seed {seed}{set_flags}",
                        scenario.name,
                        variant
                            .map(|v| format!(" --variant {v}"))
                            .unwrap_or_default()
                    );
                    return Err(Failure(1, String::new()));
                }
            }
        }
    }
    println!(
        "explore: every expectation held on {seeds} seeds ({base}..{})",
        base + seeds - 1
    );
    Ok(())
}

fn check(names: &[String], seeds: u64) -> Result<(), Failure> {
    if seeds == 0 {
        return Err(bad_input("error: --seeds must be at least 1"));
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for name in names {
        let scenario = open(name)?;
        for e in &scenario.spec.expectations {
            let variant = e.variant.as_ref().map(|v| v.get_ref().as_str());
            let spec = scenario
                .resolve(variant, &[])
                .map_err(|err| bad_input(format!("error: {err}")))?;
            for seed in spec.run.seed..spec.run.seed + seeds {
                let mut built =
                    build(&spec, seed).map_err(|err| bad_input(format!("error: {err}")))?;
                let outcome = built.run();
                checked += 1;
                let verdict = evaluate(e, built.sim.metrics(), outcome.end_time);
                let replay = format!(
                    "faultline run {}{} --seed {seed}",
                    scenario.name,
                    variant
                        .map(|v| format!(" --variant {v}"))
                        .unwrap_or_default()
                );
                match verdict {
                    Ok(v) if v.holds => {}
                    Ok(v) => failures.push(format!(
                        "FAIL {} [{}] seed {seed}: expected {} {} {}, got {}{}\n     replay: {replay}",
                        scenario.name,
                        variant.unwrap_or("base"),
                        v.metric,
                        v.op.as_str(),
                        report::number(v.expected),
                        report::number(v.actual),
                        if e.because.is_empty() { String::new() } else { format!(" ({})", e.because) },
                    )),
                    Err(err) => failures.push(format!(
                        "FAIL {} [{}] seed {seed}: {err}\n     replay: {replay}",
                        scenario.name,
                        variant.unwrap_or("base")
                    )),
                }
            }
        }
    }
    for f in &failures {
        println!("{f}");
    }
    println!(
        "check: {} of {checked} expectation runs held ({} scenario{}, {seeds} seed{} each)",
        checked - failures.len(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        if seeds == 1 { "" } else { "s" },
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure(
            1,
            format!("{} expectation runs failed", failures.len()),
        ))
    }
}

fn demo(seed: u64, lambda: f64, mu: f64, duration: SimDuration) -> Result<(), Failure> {
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
