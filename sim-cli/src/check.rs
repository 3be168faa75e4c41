//! `faultline check` and `faultline explore`: expectations judged on many
//! seeds.
//!
//! `check` runs each variant that has expectations once per seed, in
//! parallel, and judges all of that variant's expectations on the run
//! (`sim_core::scenario::judge` says which apply). A run cut short fails
//! the check with its reason: it is never counted as held. Every failure
//! names the seed and a command that replays it, pasteable as printed.
//! `--json` lists every judged expectation. Each prediction's answer key
//! is proved too (exactly one answer holds, the same on every seed), and
//! each challenge both
//! ways: the scenario as the challenge starts does not reach its goal,
//! and a run with its solution does.
//!
//! `explore` tries seeds in order and stops at the first that breaks an
//! expectation, or whose run is cut short.

use super::build;
use super::ci_report;
use super::output::Outputs;
use super::{Failure, command_name, error, open, parse_sets};
use rayon::prelude::*;
use serde_json::{Value, json};
use sim_core::scenario::Diagnostic;
use sim_core::scenario::Scenario;
use sim_core::scenario::ScenarioSpec;
use sim_core::scenario::measure;
use sim_core::scenario::seed_range;
use sim_core::scenario::spec::{ChallengeSpec, ExpectSpec};
use sim_core::scenario::{
    Graded, Judged, Moments, grade, judge, judged_variants, pauses, variant_label,
};
use sim_core::scenario::{challenges_for, judge_try, solution_sets};
use std::ops::Range;

/// What became of one expectation on one run.
pub(crate) struct Entry {
    pub(crate) scenario: String,
    /// The scenario's file, and where in it the check is written (1-based
    /// line and column; the top of the file for a run cut short).
    pub(crate) file: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
    /// The check as a test case names it: `metric op value` as written,
    /// or the prediction or challenge it is about.
    pub(crate) case: String,
    pub(crate) variant: Option<String>,
    pub(crate) seed: u64,
    /// The fingerprint of the run it was judged on.
    fingerprint: String,
    metric: String,
    op: String,
    expected: Option<f64>,
    actual: Option<f64>,
    /// `held`, `failed`, `error` (no verdict could be reached) or
    /// `cut short` (the run stopped early, so nothing was judged).
    pub(crate) verdict: &'static str,
    because: String,
    pub(crate) why: Option<String>,
    pub(crate) replay: String,
    /// A prediction's one holding answer on this run.
    answer: Option<String>,
}

/// Which run an entry is about: the scenario, the variant, the seed,
/// the run's fingerprint and the command that replays it.
struct RunId<'a> {
    scenario: &'a Scenario,
    variant: Option<&'a str>,
    seed: u64,
    fingerprint: String,
    replay: String,
}

impl Entry {
    /// An entry about `metric` of run `run`, written at `span`, with no
    /// verdict yet ("error" until one is given).
    fn new(run: &RunId<'_>, metric: String, op: &str, span: Option<Range<usize>>) -> Entry {
        let (line, column) = place(run.scenario, span);
        Entry {
            scenario: run.scenario.name.clone(),
            file: run.scenario.file.clone(),
            line,
            column,
            case: metric.clone(),
            variant: run.variant.map(str::to_string),
            seed: run.seed,
            fingerprint: run.fingerprint.clone(),
            metric,
            op: op.to_string(),
            expected: None,
            actual: None,
            verdict: "error",
            because: String::new(),
            why: None,
            replay: run.replay.clone(),
            answer: None,
        }
    }

    pub(crate) fn held(&self) -> bool {
        self.verdict == "held"
    }

    fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario, "variant": variant_label(self.variant.as_deref()),
            "file": self.file, "line": self.line, "column": self.column, "case": self.case,
            "seed": self.seed, "fingerprint": self.fingerprint, "metric": self.metric, "op": self.op,
            "expected": self.expected, "actual": self.actual.filter(|a| a.is_finite()),
            "verdict": self.verdict, "because": self.because, "reason": self.why,
            "replay": self.replay, "answer": self.answer,
        })
    }

    /// What the text output says about an entry that did not hold: the
    /// failure, or the run that was cut short, with its replay command.
    pub(crate) fn problem_line(&self) -> String {
        if self.verdict != "cut short" {
            return self.failure_line();
        }
        format!(
            "CUT SHORT {} [{}] seed {}: not a result, nothing was judged: {}\n     replay: {}",
            self.scenario,
            variant_label(self.variant.as_deref()),
            self.seed,
            self.why.as_deref().unwrap_or(""),
            self.replay
        )
    }

    pub(crate) fn failure_line(&self) -> String {
        let head = format!(
            "FAIL {} [{}] seed {}",
            self.scenario,
            variant_label(self.variant.as_deref()),
            self.seed
        );
        let what = match (self.expected, self.actual) {
            (Some(e), Some(a)) => format!(
                "expected {} {} {}, got {}{}",
                self.metric,
                self.op,
                measure(&self.metric, e),
                measure(&self.metric, a),
                if self.because.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", self.because)
                }
            ),
            _ => format!(
                "{}: {}",
                self.metric,
                self.why.as_deref().unwrap_or("no verdict")
            ),
        };
        format!("{head}: {what}\n     replay: {}", self.replay)
    }
}

/// The command that replays one run.
fn replay_command(
    scenario: &Scenario,
    variant: Option<&str>,
    seed: u64,
    sets: &[String],
) -> String {
    let mut cmd = format!("faultline run {}", command_name(scenario));
    if let Some(v) = variant {
        cmd.push_str(&format!(" --variant {}", super::shell_word(v)));
    }
    cmd.push_str(&format!(" --seed {seed}"));
    for s in sets {
        cmd.push_str(&format!(" --set {}", super::shell_word(s)));
    }
    cmd
}

/// One variant on one seed: every expectation about it, judged.
fn run_one(
    scenario: &Scenario,
    variant: Option<&str>,
    spec: &ScenarioSpec,
    seed: u64,
    sets: &[String],
) -> Result<Vec<Entry>, String> {
    let mut built = build(spec, seed)?;
    let mut moments = Moments::default();
    let report = built.run_pausing(&pauses(spec, variant), |t, m| moments.take(t, m));
    let run = RunId {
        scenario,
        variant,
        seed,
        fingerprint: report.fingerprint.to_string(),
        replay: replay_command(scenario, variant, seed, sets),
    };
    let entry =
        |metric: String, op: &str, span: Option<Range<usize>>| Entry::new(&run, metric, op, span);
    let graded = grade(spec, variant, built.sim.metrics(), &moments, &report).unwrap_or_default();
    let judged = match judge(spec, variant, &built, &report) {
        Ok(judged) => judged,
        Err(why) => {
            let mut e = entry(RUN_FINISHES.into(), "", None);
            e.verdict = "cut short";
            e.why = Some(why);
            return Ok(vec![e]);
        }
    };
    let keys = graded.iter().map(|g| {
        let written = same_item(&spec.predictions, &scenario.spec.predictions, g.prediction);
        let mut e = entry(
            format!("prediction \"{}\"", g.prediction.question.get_ref()),
            "",
            written.map(|p| p.question.span()),
        );
        let holding = g.holding();
        if let [one] = holding[..] {
            e.verdict = "held";
            e.answer = Some(g.prediction.answers[one].text.get_ref().clone());
        } else {
            e.verdict = "failed";
            e.why = Some(answer_key_problem(g, &holding));
        }
        e
    });
    let mut keys: Vec<Entry> = keys.collect();
    // A challenge that starts from this variant must not be won as it
    // starts: the learner has something to change.
    let faults = sim_core::scenario::fault_windows(spec);
    for c in challenges_for(spec, variant) {
        let t = judge_try(c, &[], built.sim.metrics(), &faults, report.end_time);
        let written = same_item(&spec.challenges, &scenario.spec.challenges, c);
        let mut e = entry(
            format!("challenge \"{}\": not reached unchanged", c.title.get_ref()),
            "",
            written.map(|c| c.title.span()),
        );
        e.verdict = if t.reached() { "failed" } else { "held" };
        if t.reached() {
            e.why = Some(format!(
                "the goal is reached without a change; the run measured {}",
                t.measured()
            ));
        }
        keys.push(e);
    }
    Ok(judged
        .into_iter()
        .map(|j| expectation_entry(scenario, spec, j, &entry))
        .chain(keys)
        .collect())
}

/// Makes a run's entry for a check: its metric, operator and where the
/// file writes it.
type MakeEntry<'a> = dyn Fn(String, &str, Option<Range<usize>>) -> Entry + 'a;

/// One judged expectation as an entry, placed where the file writes it.
fn expectation_entry(
    scenario: &Scenario,
    spec: &ScenarioSpec,
    judged: Judged<'_>,
    entry: &MakeEntry<'_>,
) -> Entry {
    let Judged {
        expectation,
        verdict,
    } = judged;
    let written = same_item(&spec.expectations, &scenario.spec.expectations, expectation);
    let mut e = entry(
        expectation.metric.get_ref().clone(),
        expectation.op.get_ref().as_str(),
        written.map(|w| w.metric.span()),
    );
    e.case = expectation_case(scenario, expectation, written);
    e.because = expectation.because.clone();
    match verdict {
        Ok(v) => {
            e.expected = Some(v.expected);
            e.actual = Some(v.actual);
            e.verdict = if v.holds { "held" } else { "failed" };
        }
        Err(why) => e.why = Some(why),
    }
    e
}

/// The name of the test case a run that stopped early fails.
pub(crate) const RUN_FINISHES: &str = "every run finishes within its limits";

/// Where `span` of the scenario's own text begins: 1-based line and
/// column (the top of the file when there is no span).
fn place(scenario: &Scenario, span: Option<Range<usize>>) -> (usize, usize) {
    span.map_or((1, 1), |span| {
        let d = Diagnostic::at(&scenario.file, &scenario.source, span, "");
        (d.line, d.column)
    })
}

/// The item of the file as written that `item` of the resolved list was
/// read from (a variant changes values, never these lists, so the two
/// have the same length and order; the resolved spans point into text
/// the resolver wrote, not into the file).
fn same_item<'a, T>(resolved: &[T], written: &'a [T], item: &T) -> Option<&'a T> {
    if resolved.len() != written.len() {
        return None;
    }
    let i = resolved.iter().position(|x| std::ptr::eq(x, item))?;
    written.get(i)
}

/// An expectation as a test case names it: `metric op value`, the value
/// as the file writes it (`200ms`, not nanoseconds).
fn expectation_case(scenario: &Scenario, e: &ExpectSpec, written: Option<&ExpectSpec>) -> String {
    let value = written
        .and_then(|w| scenario.source.get(w.value.span()))
        .map(|v| v.trim().trim_matches('"').to_string())
        .unwrap_or_else(|| e.value.get_ref().to_string());
    format!("{} {} {value}", e.metric.get_ref(), e.op.get_ref().as_str())
}

/// Why a prediction's answer key failed on a run: no answer held, or
/// several did, with the numbers the run measured.
fn answer_key_problem(g: &Graded<'_>, holding: &[usize]) -> String {
    let texts = |is: &[usize]| {
        is.iter()
            .map(|&i| format!("\"{}\"", g.prediction.answers[i].text.get_ref()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let what = if holding.is_empty() {
        "no answer holds".to_string()
    } else {
        format!("{} answers hold ({})", holding.len(), texts(holding))
    };
    format!(
        "exactly one answer must hold, but {what}; the run measured {}",
        g.measured_all()
    )
}

/// A challenge's solution on one seed: it must reach the goal.
fn run_solution(
    scenario: &Scenario,
    c: &ChallengeSpec,
    spec: &ScenarioSpec,
    seed: u64,
) -> Result<Vec<Entry>, String> {
    let variant = c.variant.as_ref().map(|v| v.get_ref().as_str());
    let sets = solution_sets(c);
    let shown: Vec<String> = sets.iter().map(|(p, v)| format!("{p}={v}")).collect();
    let mut built = build(spec, seed)?;
    let report = built.run();
    let run = RunId {
        scenario,
        variant,
        seed,
        fingerprint: report.fingerprint.to_string(),
        replay: replay_command(scenario, variant, seed, &shown),
    };
    let metric = format!("challenge \"{}\": its solution wins", c.title.get_ref());
    let mut e = Entry::new(&run, metric, "", Some(c.title.span()));
    e.verdict = "held";
    if let Some(why) = sim_core::scenario::cut_short(&report) {
        e.verdict = "cut short";
        e.why = Some(why);
        return Ok(vec![e]);
    }
    let faults = sim_core::scenario::fault_windows(spec);
    let t = judge_try(c, &sets, built.sim.metrics(), &faults, report.end_time);
    if !t.won() {
        e.verdict = "failed";
        e.why = Some(format!(
            "the solution does not reach the goal; the run measured {}",
            t.measured()
        ));
    }
    Ok(vec![e])
}

/// Every judged variant of `scenario` on `seeds`, in (variant, seed)
/// order, then every challenge's solution, in (challenge, seed) order.
fn check_scenario(scenario: &Scenario, seeds: u64) -> Result<Vec<Entry>, Failure> {
    let range = seed_range(scenario.spec.run.seed, seeds).map_err(error)?;
    let variants = judged_variants(scenario);
    let specs: Vec<ScenarioSpec> = variants
        .iter()
        .map(|v| scenario.resolve(*v, &[]))
        .collect::<Result<_, _>>()
        .map_err(error)?;
    let jobs: Vec<(usize, u64)> = (0..variants.len())
        .flat_map(|v| range.clone().map(move |s| (v, s)))
        .collect();
    let results: Vec<Result<Vec<Entry>, String>> = jobs
        .par_iter()
        .map(|&(v, seed)| run_one(scenario, variants[v], &specs[v], seed, &[]))
        .collect();
    let challenges = &scenario.spec.challenges;
    let solved: Vec<ScenarioSpec> = challenges
        .iter()
        .map(|c| {
            scenario.resolve(
                c.variant.as_ref().map(|v| v.get_ref().as_str()),
                &solution_sets(c),
            )
        })
        .collect::<Result<_, _>>()
        .map_err(error)?;
    let tries: Vec<(usize, u64)> = (0..challenges.len())
        .flat_map(|c| range.clone().map(move |s| (c, s)))
        .collect();
    let solutions: Vec<Result<Vec<Entry>, String>> = tries
        .par_iter()
        .map(|&(c, seed)| run_solution(scenario, &challenges[c], &solved[c], seed))
        .collect();
    let mut entries = Vec::new();
    for r in results.into_iter().chain(solutions) {
        entries.extend(r.map_err(error)?);
    }
    one_answer_key(&mut entries);
    Ok(entries)
}

/// A prediction has one answer key: the answer that holds on the first
/// seed must hold on every other, or a learner's grade would depend on
/// the seed they happened to run.
fn one_answer_key(entries: &mut [Entry]) {
    let mut keys: Vec<(Option<String>, String, u64, String)> = Vec::new();
    for e in entries.iter_mut() {
        let Some(answer) = &e.answer else { continue };
        let key = keys
            .iter()
            .find(|(v, m, _, _)| *v == e.variant && *m == e.metric);
        match key {
            None => keys.push((e.variant.clone(), e.metric.clone(), e.seed, answer.clone())),
            Some((_, _, seed, first)) if first != answer => {
                e.verdict = "failed";
                e.why = Some(format!(
                    "the answer that holds is \"{answer}\", but on seed {seed} it was \"{first}\": an answer key must not depend on the seed"
                ));
            }
            Some(_) => {}
        }
    }
}

/// How `check` reports, besides its exit code.
pub struct CheckOutput<'a> {
    /// JSON on standard output instead of text.
    pub json: bool,
    /// A JUnit XML file to write (atomically), pass or fail.
    pub junit: Option<&'a std::path::Path>,
    /// GitHub Actions annotations on standard output.
    pub github: bool,
}

pub fn check(names: &[String], seeds: u64, output: &CheckOutput<'_>) -> Result<(), Failure> {
    seed_range(0, seeds).map_err(error)?;
    let scenarios = names
        .iter()
        .map(|n| open(n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut entries = Vec::new();
    for scenario in &scenarios {
        entries.extend(check_scenario(scenario, seeds)?);
    }
    if output.json {
        print_json(&entries, seeds);
    } else {
        print_text(&entries, scenarios.len(), seeds);
    }
    if output.github || output.junit.is_some() {
        let cases = ci_report::cases(&entries);
        if output.github {
            print!("{}", ci_report::annotations(&cases));
        }
        if let Some(path) = output.junit {
            let mut files = Outputs::new();
            files.add(path, ci_report::junit(&cases, seeds));
            files.commit()?;
        }
    }
    verdict(&entries)
}

fn print_json(entries: &[Entry], seeds: u64) {
    let cut = entries.iter().filter(|e| e.verdict == "cut short").count();
    let doc = json!({
        "seeds": seeds,
        "judged": entries.len() - cut,
        "held": entries.iter().filter(|e| e.held()).count(),
        "runs_cut_short": cut,
        "expectations": entries.iter().map(Entry::to_json).collect::<Vec<_>>(),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&doc).expect("plain values")
    );
}

fn print_text(entries: &[Entry], scenarios: usize, seeds: u64) {
    for e in entries.iter().filter(|e| !e.held()) {
        println!("{}", e.problem_line());
    }
    let cut = entries.iter().filter(|e| e.verdict == "cut short").count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    println!(
        "check: {} of {} judged expectations held ({}, {} each){}",
        entries.iter().filter(|e| e.held()).count(),
        entries.len() - cut,
        plural(scenarios, "scenario"),
        plural(seeds as usize, "seed"),
        if cut == 0 {
            String::new()
        } else {
            format!("; {} cut short", plural(cut, "run"))
        }
    );
}

/// The exit: a run cut short is an error (no result), then any broken
/// expectation a failure.
fn verdict(entries: &[Entry]) -> Result<(), Failure> {
    let cut = entries.iter().filter(|e| e.verdict == "cut short").count();
    if cut > 0 {
        return Err(Failure(
            1,
            format!(
                "error: {} cut short, so the check has no result for it",
                if cut == 1 {
                    "a run was".to_string()
                } else {
                    format!("{cut} runs were")
                }
            ),
        ));
    }
    match entries.iter().filter(|e| !e.held()).count() {
        0 => Ok(()),
        failed => Err(Failure(1, format!("{failed} expectations did not hold"))),
    }
}

/// Tries seeds in order and stops at the first that breaks any expectation.
pub fn explore(name: &str, seeds: u64, sets: &[String]) -> Result<(), Failure> {
    let scenario = open(name)?;
    let overrides = parse_sets(sets)?;
    let range = seed_range(scenario.spec.run.seed, seeds).map_err(error)?;
    let base = *range.start();
    let groups: Vec<(Option<&str>, ScenarioSpec)> = judged_variants(&scenario)
        .into_iter()
        .map(|v| scenario.resolve(v, &overrides).map(|spec| (v, spec)))
        .collect::<Result<_, _>>()
        .map_err(error)?;
    if groups.is_empty() {
        return Err(error(format!(
            "{} has no expectations, so there is nothing to break",
            scenario.name
        )));
    }
    for seed in range.clone() {
        for (variant, spec) in &groups {
            let entries = run_one(&scenario, *variant, spec, seed, sets).map_err(error)?;
            if let Some(e) = entries.iter().find(|e| !e.held()) {
                let why = match (e.verdict, e.expected, e.actual) {
                    ("failed", Some(x), Some(a)) => format!(
                        "{} {} {} does not hold: it was {}",
                        e.metric,
                        e.op,
                        measure(&e.metric, x),
                        measure(&e.metric, a)
                    ),
                    ("cut short", ..) => format!(
                        "the run was cut short, so it is not a result: {}",
                        e.why.as_deref().unwrap_or("")
                    ),
                    _ => format!("{}: {}", e.metric, e.why.as_deref().unwrap_or("")),
                };
                println!(
                    "explore: seed {seed} breaks {} [{}] after {} seed{}: {why}",
                    scenario.name,
                    variant_label(*variant),
                    seed - base + 1,
                    if seed == base { "" } else { "s" }
                );
                println!("replay:  {}", e.replay);
                return Err(Failure(1, String::new()));
            }
        }
    }
    println!(
        "explore: every expectation held on {seeds} seeds ({base}..{})",
        range.end()
    );
    Ok(())
}
