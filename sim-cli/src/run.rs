//! `faultline run`: one run of a story or a scenario file, its summary,
//! and the verdicts of the expectations about the variant it ran (see
//! `sim_core::scenario::judge` for the rule). With `--save`, `--plot` and
//! `--report` it also writes a run record, an SVG and a Markdown report,
//! all or none. A run cut short is reported with its reason, its
//! expectations are not judged, no file is written, and it exits 1.

use super::args::Pick;
use super::build;
use super::charts::Draw;
use super::output::Outputs as Files;
use super::{Failure, error, replay, report, resolve_pick, trace};
use sim_core::scenario::{Judged, Moments, expectations_for, grade, judge, pauses, variant_label};

/// The files `run` may write besides its output.
pub struct Outputs<'a> {
    pub save: Option<&'a std::path::Path>,
    pub plot: Option<&'a std::path::Path>,
    pub report: Option<&'a std::path::Path>,
}

pub fn run(name: &str, pick: &Pick, json: bool, outputs: Outputs<'_>) -> Result<(), Failure> {
    let (scenario, spec, seed) = resolve_pick(name, pick)?;
    let (variant, sets) = (pick.variant.as_deref(), pick.sets.as_slice());
    let mut built = build(&spec, seed).map_err(error)?;
    if outputs.report.is_some() {
        built.sim.set_trace(Box::<trace::MermaidTrace>::default());
    }
    let mut files = Files::new();
    let pauses = pauses(&spec, variant);
    let mut moments = Moments::default();
    let outcome = match outputs.save {
        None => built.run_pausing(&pauses, |t, m| moments.take(t, m)),
        Some(path) => {
            let (outcome, checkpoints, every) =
                replay::run_with_checkpoints(&mut built, 0, &pauses, &mut moments);
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
            files.add(path, record.to_json());
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
    let (verdicts, cut_short) = verdicts(&spec, variant, &built, &outcome);
    let graded = grade(&spec, variant, built.sim.metrics(), &moments, &outcome).unwrap_or_default();
    let tries = tries(&spec, variant, sets, &built, &outcome)?;
    let run = report::RunSummary {
        scenario: &scenario,
        spec: &spec,
        variant,
        seed,
        sets,
        sim: &built.sim,
        outcome: &outcome,
        verdicts: &verdicts,
        predictions: &graded,
        challenges: &tries,
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
    if let Some(why) = cut_short {
        return Err(not_a_result(&why, &outputs));
    }
    if let Some(path) = outputs.plot {
        let title = format!("{} [{}], seed {}", spec.title, variant_label(variant), seed);
        let charts = super::charts::Charts::new(&spec, built.sim.metrics(), outcome.end_time);
        files.add(path, charts.svg(&title));
    }
    if let Some(path) = outputs.report {
        // Link the SVG by a path relative to the report when both are written.
        let plot = outputs.plot.map(|p| {
            let base = path.parent().unwrap_or(std::path::Path::new(""));
            p.strip_prefix(base).unwrap_or(p).display().to_string()
        });
        files.add(path, run.to_markdown(diagram, plot.as_deref()));
    }
    files.commit()?;
    for path in [outputs.save, outputs.plot, outputs.report]
        .into_iter()
        .flatten()
    {
        eprintln!("wrote {}", path.display());
    }
    if verdicts.iter().any(|j| !j.holds()) {
        return Err(Failure(1, "some expectations do not hold".into()));
    }
    if graded.iter().any(|g| g.supported().is_none()) {
        return Err(Failure(
            1,
            "a prediction's answer key does not hold on this run".into(),
        ));
    }
    Ok(())
}

/// The run's verdicts on the expectations about `variant`, or, for a run
/// cut short, each marked not judged and the reason.
fn verdicts<'a>(
    spec: &'a sim_core::scenario::ScenarioSpec,
    variant: Option<&'a str>,
    built: &sim_core::scenario::Built,
    outcome: &sim_core::RunReport,
) -> (Vec<Judged<'a>>, Option<String>) {
    match judge(spec, variant, built, outcome) {
        Ok(verdicts) => (verdicts, None),
        Err(why) => (
            expectations_for(spec, variant)
                .map(|e| Judged {
                    expectation: e,
                    verdict: Err("not judged: the run was cut short".into()),
                })
                .collect(),
            Some(why),
        ),
    }
}

/// The failure of a run cut short, naming the files it did not write.
fn not_a_result(why: &str, outputs: &Outputs<'_>) -> Failure {
    let unwritten = [outputs.save, outputs.plot, outputs.report]
        .into_iter()
        .flatten()
        .map(|p| format!("`{}`", p.display()))
        .collect::<Vec<_>>();
    let note = if unwritten.is_empty() {
        String::new()
    } else {
        format!("\nnot written: {}", unwritten.join(", "))
    };
    Failure(1, format!("error: the run is not a result: {why}{note}"))
}

/// The run as a try at each challenge that starts from its variant, its
/// `--set` changes counted against the rules (none if it was cut short).
fn tries<'a>(
    spec: &'a sim_core::scenario::ScenarioSpec,
    variant: Option<&'a str>,
    sets: &[String],
    built: &sim_core::scenario::Built,
    outcome: &sim_core::RunReport,
) -> Result<Vec<sim_core::scenario::Try<'a>>, Failure> {
    if sim_core::scenario::cut_short(outcome).is_some() {
        return Ok(Vec::new());
    }
    let overrides = super::parse_sets(sets)?;
    let faults = sim_core::scenario::fault_windows(spec);
    Ok(sim_core::scenario::challenges_for(spec, variant)
        .map(|c| {
            sim_core::scenario::judge_try(
                c,
                &overrides,
                built.sim.metrics(),
                &faults,
                outcome.end_time,
            )
        })
        .collect())
}
