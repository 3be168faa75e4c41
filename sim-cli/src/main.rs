//! `faultline`: run Faultline simulations from the command line.
//!
//! `list` and `explain` show the story library; `run` runs a story or a
//! scenario file and prints its seed, fingerprint, a summary and each
//! expectation's verdict; `compare` runs the scenario as written and every
//! variant on the same seeds and tabulates means with confidence
//! intervals; `check` runs every expectation on several seeds and fails
//! (exit 1) naming the seed and the command that replays it; `sweep`
//! varies parameters over a grid, on one machine or in shards that
//! `merge` puts back together exactly; `share` prints a link that opens a
//! scenario in the web app; `demo` is the built-in M/M/1 queue beside
//! queueing theory.
//!
//! This file reads the command line and hands each command to its module.
//! A run cut short (its event budget ran out) is never a result: every
//! command that runs simulations fails on it with the reason.
//!
//! Exit codes: 0 success, 1 an expectation failed or a run was cut short,
//! 2 bad input (a bad file, flag or name).

mod args;
mod challenges;
mod charts;
mod check;
mod ci_report;
mod compare;
mod demo;
mod library;
mod output;
mod predictions;
mod replay;
mod report;
mod run;
mod search;
mod share;
mod sweep;
mod trace;

use args::{Cli, Command, Pick};
use clap::Parser;
use sim_core::scenario::Built;
use sim_core::scenario::ScenarioSpec;
use sim_core::scenario::{Scenario, load, parse_set_value};
use std::process::ExitCode;

/// A failure with its exit code: 1 for a failed expectation or cut-short
/// run, 2 for bad input.
#[derive(Debug)]
pub struct Failure(pub u8, pub String);

pub fn bad_input(message: impl Into<String>) -> Failure {
    Failure(2, message.into())
}

/// An `error: ...` for bad input, from a message without the prefix.
pub fn error(message: impl std::fmt::Display) -> Failure {
    bad_input(format!("error: {message}"))
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

/// The budgets given on the command line, for every run of the command.
static BUDGETS: std::sync::OnceLock<(Option<u64>, Option<u64>)> = std::sync::OnceLock::new();

/// Builds a run of `spec`, with the command line's budgets (if given) in
/// place of the scenario's.
pub fn build(spec: &ScenarioSpec, seed: u64) -> Result<Built, String> {
    let mut built = sim_core::scenario::build(spec, seed)?;
    if let Some(&(memory, events)) = BUDGETS.get() {
        if let Some(m) = memory {
            built.limits = built.limits.with_max_memory(m);
        }
        if let Some(e) = events {
            built.limits = built.limits.with_max_events(e);
        }
    }
    Ok(built)
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    let _ = BUDGETS.set((cli.memory_budget, cli.event_budget));
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            if !message.is_empty() {
                eprintln!("{message}");
            }
            ExitCode::from(code)
        }
    }
}

fn dispatch(command: Command) -> Result<(), Failure> {
    match command {
        Command::List => list(),
        Command::Explain { scenario } => explain(&scenario),
        Command::Run {
            scenario,
            pick,
            json,
            save,
            plot,
            report,
        } => run::run(
            &scenario,
            &pick,
            json,
            run::Outputs {
                save: save.as_deref(),
                plot: plot.as_deref(),
                report: report.as_deref(),
            },
        ),
        Command::Replay { record } => replay::replay(&record),
        Command::Check {
            scenarios,
            seeds,
            json,
            junit,
            github,
        } => check::check(
            &scenarios,
            seeds,
            &check::CheckOutput {
                json,
                junit: junit.as_deref(),
                github,
            },
        ),
        Command::Sweep {
            scenario,
            params,
            seeds,
            variant,
            sets,
            metrics,
            shard,
            out,
        } => sweep::run_sweep(
            &scenario,
            &params,
            seeds,
            sweep::Fixed { variant, sets },
            &metrics,
            shard,
            out.as_deref(),
        ),
        Command::Merge {
            parts,
            out,
            metrics,
        } => sweep::run_merge(&parts, out.as_deref(), &metrics),
        Command::Compare {
            scenario,
            seeds,
            baseline,
            json,
        } => compare::run_compare(&scenario, seeds, baseline.as_deref(), json),
        Command::Trace {
            scenario,
            format,
            request,
            pick,
            out,
        } => trace::run_trace(&scenario, format, request, &pick, out.as_deref()),
        c @ Command::Explore { .. } => search::explore(c),
        Command::Share {
            scenario,
            variant,
            seed,
            base,
        } => share::share(&scenario, variant.as_deref(), seed, &base),
        Command::Demo {
            seed,
            arrival_rate,
            service_rate,
            duration,
        } => demo::demo(seed, arrival_rate, service_rate, duration),
    }
}

/// A story by name or a scenario file by path, loaded and checked.
pub fn open(name_or_path: &str) -> Result<Scenario, Failure> {
    let source = library::resolve(name_or_path).map_err(error)?;
    load(&source.name, &source.file, &source.text).map_err(|d| bad_input(d.to_string()))
}

/// How to name `scenario` on a command line so that it can be pasted as
/// it is: a story's name, or the path of its file (quoted for a shell
/// when it needs to be).
pub fn command_name(scenario: &Scenario) -> String {
    match library::resolve(&scenario.name) {
        Ok(story) if story.file == scenario.file && story.text == scenario.source => {
            scenario.name.clone()
        }
        _ => shell_word(&scenario.file),
    }
}

/// `word` as one word for a POSIX shell.
pub fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The learning path: the stories in chapters, each with its lesson and
/// minutes, in the order the web app's home page shows them.
fn list() -> Result<(), Failure> {
    let path = sim_core::scenario::learning_path().map_err(|e| Failure(2, e))?;
    let width = path.steps().map(|(_, s)| s.name.len()).max().unwrap_or(0);
    println!("{}\n", path.intro);
    for (i, chapter) in path.chapters.iter().enumerate() {
        println!("{}. {}: {}", i + 1, chapter.title, chapter.about);
        for step in &chapter.stories {
            println!(
                "   {:<width$}  {:>3} min  {}",
                step.name, step.minutes, step.lesson
            );
        }
        println!();
    }
    println!("faultline explain NAME tells a story; faultline run NAME runs it.");
    Ok(())
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
    // A [[look]] item in the CLI's words where it has them.
    let looks: Vec<String> = spec
        .looks
        .iter()
        .map(|l| l.cli.clone().unwrap_or_else(|| l.text.get_ref().clone()))
        .chain(spec.look_for.iter().cloned())
        .collect();
    for (heading, items) in [
        ("What to look for:", &looks),
        ("Questions to try:", &spec.questions),
    ] {
        if !items.is_empty() {
            println!("{heading}");
            for item in items {
                println!("  - {item}");
            }
            println!();
        }
    }
    for c in &spec.challenges {
        let offered = c.offered();
        println!("Challenge: {}\n  {}", c.title.get_ref(), c.goal);
        let budget = c.budget.as_ref().map_or(String::new(), |b| {
            format!(" (at most {} of them)", b.get_ref())
        });
        println!(
            "  Try: faultline run {}{} --set {}=...{budget}\n",
            command_name(&s),
            c.variant
                .as_ref()
                .map_or(String::new(), |v| format!(" --variant {}", v.get_ref())),
            offered.join("=... --set ")
        );
    }
    if !spec.variants.is_empty() {
        println!(
            "Variants (faultline run {} --variant NAME):",
            command_name(&s)
        );
        for (name, v) in &spec.variants {
            println!("  {name}: {}", v.get_ref().description);
        }
    }
    Ok(())
}

/// `--set PATH=VALUE` flags as overrides; a path given twice is refused.
pub fn parse_sets(sets: &[String]) -> Result<Vec<(String, toml::Value)>, Failure> {
    let mut out: Vec<(String, toml::Value)> = Vec::new();
    for s in sets {
        let Some((path, value)) = s.split_once('=').filter(|(p, _)| !p.trim().is_empty()) else {
            return Err(error(format!(
                "--set `{s}` needs the form PATH=VALUE, e.g. --set node.user.rate=100/s"
            )));
        };
        let path = path.trim().to_string();
        if out.iter().any(|(p, _)| *p == path) {
            return Err(error(format!(
                "--set {path} is given twice; give each path once"
            )));
        }
        out.push((path, parse_set_value(value.trim())));
    }
    Ok(out)
}

/// A resolved scenario: the file, its spec with the variant and overrides
/// applied, and the seed.
pub type Picked = (Scenario, sim_core::scenario::ScenarioSpec, u64);

/// The scenario, its resolved spec and the seed that a `Pick` asks for.
pub fn resolve_pick(name: &str, pick: &Pick) -> Result<Picked, Failure> {
    let scenario = open(name)?;
    let overrides = parse_sets(&pick.sets)?;
    let spec = scenario
        .resolve(pick.variant.as_deref(), &overrides)
        .map_err(error)?;
    let seed = pick.seed.unwrap_or(spec.run.seed);
    Ok((scenario, spec, seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_paste_as_they_are() {
        assert_eq!(shell_word("runs/incident.toml"), "runs/incident.toml");
        assert_eq!(shell_word("my incident.toml"), "'my incident.toml'");
        assert_eq!(shell_word("it's.toml"), r"'it'\''s.toml'");
    }
}
