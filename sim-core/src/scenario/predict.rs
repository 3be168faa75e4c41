//! Predictions: a question in a scenario file, two to four answers, and
//! for each answer the expectations that make it the run's. Checked when
//! the file loads; graded on a run (`grade`), the same way by every front
//! end; and `check` proves on each of its seeds that exactly one answer
//! holds, so a story's answer key cannot be wrong.

// A diagnostic is built once, on the path that ends a load (see `load`).
#![allow(clippy::result_large_err)]

use super::build::{Verdict, evaluate};
use super::diagnostic::Diagnostic;
use super::judge::cut_short;
use super::load::{Scenario, check_expectation, check_variant_name};
use super::spec::{PredictSpec, ScenarioSpec};
use crate::engine::RunReport;
use crate::metrics::Metrics;

/// The most answers a prediction may offer, and the fewest.
pub const ANSWERS: std::ops::RangeInclusive<usize> = 2..=4;

/// Every prediction of a loaded scenario is well formed.
pub fn check(scenario: &Scenario) -> Result<(), Diagnostic> {
    let (file, source, spec) = (&scenario.file, &scenario.source, &scenario.spec);
    for p in &spec.predictions {
        if let Some(v) = &p.variant {
            check_variant_name(scenario, v, "predict.variant")?;
        }
        if !ANSWERS.contains(&p.answers.len()) {
            return Err(Diagnostic::at(
                file,
                source,
                p.question.span(),
                format!(
                    "a prediction offers {} to {} answers, this one {}",
                    ANSWERS.start(),
                    ANSWERS.end(),
                    p.answers.len()
                ),
            )
            .with_field("predict.answer"));
        }
        for a in &p.answers {
            if a.when.is_empty() {
                return Err(Diagnostic::at(
                    file,
                    source,
                    a.text.span(),
                    "an answer needs at least one condition in `when`",
                )
                .with_field("predict.answer.when")
                .with_expected("a list of `{ metric = \"...\", op = \"...\", value = ... }`"));
            }
            for c in &a.when {
                if let Some(v) = &c.variant {
                    return Err(Diagnostic::at(
                        file,
                        source,
                        v.span(),
                        "an answer's condition takes its variant from its prediction",
                    )
                    .with_field("predict.answer.when.variant")
                    .with_expected("`variant` on the `[[predict]]` table instead"));
                }
                check_expectation(file, source, spec, c)?;
            }
        }
    }
    Ok(())
}

/// The predictions about `variant` (`None`: the scenario as written).
pub fn predictions_for<'a>(
    spec: &'a ScenarioSpec,
    variant: Option<&'a str>,
) -> impl Iterator<Item = &'a PredictSpec> + 'a {
    spec.predictions
        .iter()
        .filter(move |p| super::judge::is_about(p.variant.as_ref(), variant))
}

/// One prediction graded on one run.
#[derive(Debug)]
pub struct Graded<'a> {
    pub prediction: &'a PredictSpec,
    /// Per answer, the verdict on each of its conditions (or why there is
    /// none).
    pub answers: Vec<Vec<Result<Verdict, String>>>,
}

impl Graded<'_> {
    /// The answers whose conditions all hold.
    pub fn holding(&self) -> Vec<usize> {
        (0..self.answers.len())
            .filter(|&i| {
                self.answers[i]
                    .iter()
                    .all(|v| matches!(v, Ok(v) if v.holds))
            })
            .collect()
    }

    /// The numbers answer `answer`'s conditions read on the run
    /// ("ledger.duplicate_charges = 235"), each metric once.
    pub fn measured(&self, answer: usize) -> String {
        measured(&self.answers[answer])
    }

    /// The numbers every answer's conditions read, each metric once: what
    /// decided a key that supports no single answer.
    pub fn measured_all(&self) -> String {
        measured(self.answers.iter().flatten())
    }

    /// The answer the run supports: the one that holds, when exactly one
    /// does.
    pub fn supported(&self) -> Option<usize> {
        match self.holding()[..] {
            [one] => Some(one),
            _ => None,
        }
    }
}

/// What `verdicts` read on the run ("ledger.duplicate_charges = 235"),
/// each once.
pub(super) fn measured<'v>(
    verdicts: impl IntoIterator<Item = &'v Result<Verdict, String>>,
) -> String {
    let mut read: Vec<String> = Vec::new();
    for v in verdicts {
        let text = match v {
            Ok(v) => format!("{} = {}", v.metric, super::judge::number(v.actual)),
            Err(why) => why.clone(),
        };
        if !read.contains(&text) {
            read.push(text);
        }
    }
    read.join(", ")
}

/// The run's grades on the predictions about `variant`. A run cut short
/// grades nothing: `Err` says why.
pub fn grade<'a>(
    spec: &'a ScenarioSpec,
    variant: Option<&'a str>,
    metrics: &Metrics,
    report: &RunReport,
) -> Result<Vec<Graded<'a>>, String> {
    if let Some(why) = cut_short(report) {
        return Err(why);
    }
    let faults = super::timeline::fault_windows(spec);
    Ok(grade_on(spec, variant, metrics, &faults, report.end_time))
}

/// The grades on a run that reached its end at `end` (a front end that
/// knows the run was not cut short).
pub fn grade_on<'a>(
    spec: &'a ScenarioSpec,
    variant: Option<&'a str>,
    metrics: &Metrics,
    faults: &[super::timeline::FaultWindow],
    end: crate::time::SimTime,
) -> Vec<Graded<'a>> {
    predictions_for(spec, variant)
        .map(|p| Graded {
            prediction: p,
            answers: p
                .answers
                .iter()
                .map(|a| {
                    a.when
                        .iter()
                        .map(|c| evaluate(c, metrics, faults, end))
                        .collect()
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::build::build;
    use crate::scenario::load::load;

    const TEXT: &str = r#"
title = "t"
summary = "s"
[run]
duration = "2s"
[[node]]
name = "db"
kind = "service"
workers = 4
service_time = "1ms"
[[node]]
name = "user"
kind = "client"
rate = "50/s"
target = "db"
[variants.quiet]
set = { "node.user.rate" = "1/s" }
[[predict]]
question = "How many requests in two seconds?"
[[predict.answer]]
text = "Under 10"
when = [{ metric = "user.requests", op = "<", value = 10 }]
[[predict.answer]]
text = "10 to 1000"
when = [
    { metric = "user.requests", op = ">=", value = 10 },
    { metric = "user.requests", op = "<=", value = 1000 },
]
[[predict]]
question = "Quiet: any failures?"
variant = "quiet"
[[predict.answer]]
text = "None"
when = [{ metric = "user.failed", op = "==", value = 0 }]
[[predict.answer]]
text = "Some"
when = [{ metric = "user.failed", op = ">", value = 0 }]
"#;

    #[test]
    fn the_run_supports_the_answer_whose_conditions_all_hold() {
        let s = load("t", "t.toml", TEXT).unwrap();
        let mut built = build(&s.spec, 1).unwrap();
        let report = built.run();
        let graded = grade(&s.spec, None, built.sim.metrics(), &report).unwrap();
        assert_eq!(
            graded.len(),
            1,
            "only the prediction about the scenario as written"
        );
        assert_eq!(graded[0].holding(), [1]);
        assert_eq!(graded[0].supported(), Some(1));
        let quiet = s.resolve(Some("quiet"), &[]).unwrap();
        let mut built = build(&quiet, 1).unwrap();
        let report = built.run();
        let graded = grade(&quiet, Some("quiet"), built.sim.metrics(), &report).unwrap();
        assert_eq!(
            graded[0].prediction.question.get_ref(),
            "Quiet: any failures?"
        );
        assert_eq!(graded[0].supported(), Some(0));
    }

    #[test]
    fn an_answer_key_where_several_hold_supports_none() {
        let text = TEXT.replace(r#"op = "<", value = 10 }"#, r#"op = "<", value = 10000 }"#);
        let s = load("t", "t.toml", &text).unwrap();
        let mut built = build(&s.spec, 1).unwrap();
        let report = built.run();
        let graded = grade(&s.spec, None, built.sim.metrics(), &report).unwrap();
        assert_eq!(graded[0].holding(), [0, 1]);
        assert_eq!(graded[0].supported(), None);
    }
}
