//! `faultline explore --faults`: each seed draws its own fault schedule
//! within the scenario's `[search]` bounds (`sim_core::scenario::search`);
//! the first schedule that breaks an expectation is shrunk to a small
//! one (`sim_core::scenario::shrink`), with a progress bar, and written
//! out as a scenario file with plain `[[fault]]`s, the command that
//! replays it, and a sequence diagram of its first failed request.

use super::args::Command;
use super::output::Outputs;
use super::{Failure, error, open, parse_sets, shell_word};
use sim_core::scenario::{Bounds, Case, Outcome, Probe, Progress, shrink};
use sim_core::scenario::{Scenario, judged_variants, load, seed_range, variant_label};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// The most shrinking runs a command line may ask for.
const MAX_SHRINK_RUNS: u32 = 10_000;

/// `explore`: with `--faults`, the fault search; without, seeds of the
/// scenario's own schedule (`check::explore`).
pub fn explore(command: Command) -> Result<(), Failure> {
    let Command::Explore {
        scenario,
        seeds,
        sets,
        faults,
        out,
        shrink_runs,
    } = command
    else {
        unreachable!("called for explore only");
    };
    if faults {
        explore_faults(&scenario, seeds, &sets, out.as_deref(), shrink_runs)
    } else {
        super::check::explore(&scenario, seeds, &sets)
    }
}

fn explore_faults(
    name: &str,
    seeds: u64,
    sets: &[String],
    out: Option<&Path>,
    shrink_runs: u32,
) -> Result<(), Failure> {
    if !(1..=MAX_SHRINK_RUNS).contains(&shrink_runs) {
        return Err(error(format!(
            "--shrink-runs is from 1 to {MAX_SHRINK_RUNS}, got {shrink_runs}"
        )));
    }
    let scenario = open(name)?;
    let overrides = parse_sets(sets)?;
    let range = seed_range(scenario.spec.run.seed, seeds).map_err(error)?;
    let variants = judged_variants(&scenario);
    if variants.is_empty() {
        return Err(error(format!(
            "{} has no expectations, so there is nothing to break",
            scenario.name
        )));
    }
    let mut searches = Vec::new();
    for v in variants {
        let spec = scenario.resolve(v, &overrides).map_err(error)?;
        let bounds = Bounds::of(&spec).map_err(|e| error(format!("{}: {e}", scenario.name)))?;
        let duration_ms = spec.run.duration.0.as_nanos() / 1_000_000;
        searches.push((v, bounds, duration_ms));
    }
    for seed in range.clone() {
        for (variant, bounds, duration_ms) in &searches {
            let probe = Probe {
                scenario: &scenario,
                variant: *variant,
                seed,
                overrides: &overrides,
                everyone: bounds.everyone.clone(),
            };
            let case = Case {
                faults: bounds.draw(seed),
                duration_ms: *duration_ms,
                sets: Vec::new(),
            };
            match probe.run(&case) {
                Outcome::Held { .. } => {}
                Outcome::NoResult(why) => {
                    println!(
                        "explore: seed {seed} [{}] gives no result: {why}",
                        variant_label(*variant)
                    );
                    return Err(Failure(1, String::new()));
                }
                Outcome::Broke { index, metric, .. } => {
                    let tried = seed - range.start() + 1;
                    println!(
                        "explore: seed {seed} breaks {} [{}] after {tried} seed{}: {metric} does not hold under {} drawn fault{}",
                        scenario.name,
                        variant_label(*variant),
                        if tried == 1 { "" } else { "s" },
                        case.faults.len(),
                        if case.faults.len() == 1 { "" } else { "s" },
                    );
                    for f in &case.faults {
                        println!("  {}", f.describe());
                    }
                    let path = out.map_or_else(|| default_out(&scenario, seed), Path::to_path_buf);
                    return shrunk(&probe, case, index, shrink_runs, &path);
                }
            }
        }
    }
    println!(
        "explore: every expectation held on {seeds} seeds ({}..{}), each with its own faults",
        range.start(),
        range.end()
    );
    Ok(())
}

fn default_out(scenario: &Scenario, seed: u64) -> PathBuf {
    PathBuf::from(format!("{}-seed{seed}.toml", scenario.name))
}

/// Shrinks `case`, writes the reproducer and its diagram, and says how to
/// replay it. Exits 1: an expectation broke.
fn shrunk(
    probe: &Probe<'_>,
    case: Case,
    index: usize,
    budget: u32,
    path: &Path,
) -> Result<(), Failure> {
    let bar = std::io::stderr().is_terminal();
    let small = shrink(probe, case, index, budget, |p| progress(p, bar));
    if bar {
        eprintln!();
    }
    let text = probe.text(&small).map_err(error)?;
    let file = path.to_string_lossy().to_string();
    let replay = replay_command(&file, probe.seed);
    let header = header(probe, &small, index, &replay);
    let repro = load(&probe.scenario.name, &file, &text).map_err(|d| error(d.message))?;
    let spec = repro.resolve(None, &[]).map_err(error)?;
    let mut outputs = Outputs::new();
    outputs.add(path, format!("{header}{text}"));
    let diagram = super::trace::failing_diagram(&spec, probe.seed);
    let mmd = path.with_extension("mmd");
    if let Some(d) = &diagram {
        outputs.add(&mmd, d.clone());
    }
    outputs.commit()?;
    let fingerprint = match probe.run(&small) {
        Outcome::Broke { fingerprint, .. } => fingerprint,
        _ => {
            return Err(error(
                "the shrunk schedule no longer breaks the expectation",
            ));
        }
    };
    println!(
        "shrunk to {} fault{}, a {} run, fingerprint {fingerprint}:",
        small.faults.len(),
        if small.faults.len() == 1 { "" } else { "s" },
        sim_core::SimDuration::from_millis(small.duration_ms)
    );
    for f in &small.faults {
        println!("  {}", f.describe());
    }
    for (p, v) in &small.sets {
        println!("  and {p} = {v}");
    }
    println!("written: {file}");
    if diagram.is_some() {
        println!("diagram: {}", mmd.display());
    }
    println!("replay:  {replay}");
    Err(Failure(1, String::new()))
}

fn replay_command(file: &str, seed: u64) -> String {
    format!("faultline run {} --seed {seed}", shell_word(file))
}

/// The reproducer's opening comment: what was found, and how to replay.
fn header(probe: &Probe<'_>, small: &Case, index: usize, replay: &str) -> String {
    let e = sim_core::scenario::expectations_for(&probe.scenario.spec, probe.variant).nth(index);
    let what = e.map_or(String::new(), |e| {
        format!(
            " `{} {} {}`",
            e.metric.get_ref(),
            e.op.get_ref().as_str(),
            e.value.get_ref()
        )
    });
    let variant = probe
        .variant
        .map_or(String::new(), |v| format!(" (its variant `{v}` applied)"));
    let mut out = format!(
        "# Found by `faultline explore --faults` on seed {} in `{}`{variant}:\n# with these faults, after the scenario's own, it breaks{what}.\n",
        probe.seed, probe.scenario.name
    );
    for f in &small.faults {
        out.push_str(&format!("#   {}\n", f.describe()));
    }
    for (p, v) in &small.sets {
        out.push_str(&format!("#   and {p} = {v}\n"));
    }
    out.push_str(&format!("# Replay: {replay}\n\n"));
    out
}

/// A bar on a terminal; otherwise a line every 25 runs.
fn progress(p: Progress, bar: bool) {
    if bar {
        let width = 30;
        let done = (p.runs as usize * width) / p.budget.max(1) as usize;
        eprint!(
            "\rshrinking [{}{}] {}/{} runs, {} fault{} left ",
            "#".repeat(done),
            " ".repeat(width - done.min(width)),
            p.runs,
            p.budget,
            p.faults,
            if p.faults == 1 { "" } else { "s" }
        );
        let _ = std::io::stderr().flush();
    } else if p.runs.is_multiple_of(25) {
        let s = if p.faults == 1 { "" } else { "s" };
        eprintln!("shrinking: {} runs, {} fault{s} left", p.runs, p.faults);
    }
}
