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
use crate::time::SimTime;

/// The most answers a prediction may offer, and the fewest.
pub const ANSWERS: std::ops::RangeInclusive<usize> = 2..=4;

/// Every prediction of a loaded scenario is well formed.
pub fn check(scenario: &Scenario) -> Result<(), Diagnostic> {
    let (file, source, spec) = (&scenario.file, &scenario.source, &scenario.spec);
    for p in &spec.predictions {
        if let Some(v) = &p.variant {
            check_variant_name(scenario, v, "predict.variant")?;
        }
        check_at(scenario, p)?;
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
                super::load::judged_once(file, source, c, "predict.answer")?;
                check_expectation(file, source, spec, c)?;
            }
        }
    }
    Ok(())
}

/// A prediction graded before the end is graded inside the run.
fn check_at(scenario: &Scenario, p: &PredictSpec) -> Result<(), Diagnostic> {
    let Some(at) = &p.at else { return Ok(()) };
    let (t, end) = (at.get_ref().0, scenario.spec.run.duration.0);
    if t.as_nanos() > 0 && t < end {
        return Ok(());
    }
    Err(Diagnostic::at(
        &scenario.file,
        &scenario.source,
        at.span(),
        format!("a prediction is graded during the run, which lasts {end}; `at` is {t}"),
    )
    .with_field("predict.at")
    .with_expected(format!(
        "a duration after the start and before the end ({end}), or no `at` to grade at the end"
    )))
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
            Ok(v) => format!(
                "{} = {}",
                v.metric,
                super::judge::measure(&v.metric, v.actual)
            ),
            Err(why) => why.clone(),
        };
        if !read.contains(&text) {
            read.push(text);
        }
    }
    read.join(", ")
}

/// The metrics as they stood at the times a run paused for the
/// predictions graded before its end (see `pauses`).
#[derive(Clone, Debug, Default)]
pub struct Moments(Vec<(SimTime, Metrics)>);

impl Moments {
    /// Keeps the metrics as they stand at `t`.
    pub fn take(&mut self, t: SimTime, metrics: Metrics) {
        self.0.push((t, metrics));
    }

    /// The metrics as they stood at `t`, if the run paused there.
    pub fn at(&self, t: SimTime) -> Option<&Metrics> {
        self.0.iter().find(|(at, _)| *at == t).map(|(_, m)| m)
    }
}

/// When a prediction is graded: its `at`, or the end (`None`).
pub fn graded_at(p: &PredictSpec) -> Option<SimTime> {
    p.at.as_ref().map(|a| SimTime::ZERO + a.get_ref().0)
}

/// The times a run of `variant` pauses at to grade its predictions
/// before the end, in order, each once.
pub fn pauses(spec: &ScenarioSpec, variant: Option<&str>) -> Vec<SimTime> {
    let mut at: Vec<SimTime> = predictions_for(spec, variant)
        .filter_map(graded_at)
        .collect();
    at.sort();
    at.dedup();
    at
}

/// The run's grades on the predictions about `variant`. A run cut short
/// grades nothing: `Err` says why.
pub fn grade<'a>(
    spec: &'a ScenarioSpec,
    variant: Option<&'a str>,
    metrics: &Metrics,
    moments: &Moments,
    report: &RunReport,
) -> Result<Vec<Graded<'a>>, String> {
    if let Some(why) = cut_short(report) {
        return Err(why);
    }
    let faults = super::timeline::fault_windows(spec);
    Ok(predictions_for(spec, variant)
        .map(|p| match graded_at(p) {
            None => grade_one(p, metrics, &faults, report.end_time),
            Some(t) => match moments.at(t) {
                Some(m) => grade_one(p, m, &faults, t),
                None => not_reached(p, t),
            },
        })
        .collect())
}

/// One prediction graded on `metrics`, as they stood at `at` (its own
/// time, or the end of a run that reached it).
pub fn grade_one<'a>(
    p: &'a PredictSpec,
    metrics: &Metrics,
    faults: &[super::timeline::FaultWindow],
    at: SimTime,
) -> Graded<'a> {
    Graded {
        prediction: p,
        answers: p
            .answers
            .iter()
            .map(|a| {
                a.when
                    .iter()
                    .map(|c| evaluate(c, metrics, faults, at))
                    .collect()
            })
            .collect(),
    }
}

/// A prediction whose time the run never reached (a variant that ends
/// sooner): no answer holds, and each says why.
fn not_reached(p: &PredictSpec, t: SimTime) -> Graded<'_> {
    let why = format!(
        "the run ended before {}, when this is graded",
        t - SimTime::ZERO
    );
    Graded {
        prediction: p,
        answers: p
            .answers
            .iter()
            .map(|a| a.when.iter().map(|_| Err(why.clone())).collect())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::build::build;
    use crate::scenario::load::load;
    use crate::time::SimDuration;

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

    /// What one run of `spec` (seed 1) says of its predictions, graded at
    /// the end: what each answer read, and which hold.
    fn at_end(
        spec: &ScenarioSpec,
        variant: Option<&str>,
    ) -> Vec<(Vec<usize>, Option<usize>, String)> {
        let mut built = build(spec, 1).unwrap();
        let report = built.run();
        let graded = grade(
            spec,
            variant,
            built.sim.metrics(),
            &Moments::default(),
            &report,
        );
        graded
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g.holding(),
                    g.supported(),
                    g.prediction.question.get_ref().clone(),
                )
            })
            .collect()
    }

    #[test]
    fn the_run_supports_the_answer_whose_conditions_all_hold() {
        let s = load("t", "t.toml", TEXT).unwrap();
        let graded = at_end(&s.spec, None);
        assert_eq!(
            graded.len(),
            1,
            "only the prediction about the scenario as written"
        );
        assert_eq!((graded[0].0.clone(), graded[0].1), (vec![1], Some(1)));
        let quiet = s.resolve(Some("quiet"), &[]).unwrap();
        let graded = at_end(&quiet, Some("quiet"));
        assert_eq!(graded[0].2, "Quiet: any failures?");
        assert_eq!(graded[0].1, Some(0));
    }

    #[test]
    fn an_answer_key_where_several_hold_supports_none() {
        let text = TEXT.replace(r#"op = "<", value = 10 }"#, r#"op = "<", value = 10000 }"#);
        let s = load("t", "t.toml", &text).unwrap();
        let graded = at_end(&s.spec, None);
        assert_eq!((graded[0].0.clone(), graded[0].1), (vec![0, 1], None));
    }

    /// A prediction with `at` is graded on the numbers as they stood
    /// then, by a run that pauses there and goes on unchanged.
    #[test]
    fn a_prediction_at_a_time_is_graded_on_the_numbers_then() {
        let text = TEXT.replace(
            "question = \"How many requests in two seconds?\"",
            "question = \"How many requests in the first 10ms?\"\nat = \"10ms\"",
        );
        let s = load("t", "t.toml", &text).unwrap();
        assert_eq!(
            pauses(&s.spec, None),
            [SimTime::ZERO + SimDuration::from_millis(10)]
        );
        let mut built = build(&s.spec, 1).unwrap();
        let mut moments = Moments::default();
        let report = built.run_pausing(&pauses(&s.spec, None), |t, m| moments.take(t, m));
        let graded = grade(&s.spec, None, built.sim.metrics(), &moments, &report).unwrap();
        assert_eq!(
            graded[0].supported(),
            Some(0),
            "{}",
            graded[0].measured_all()
        );
        // The same question at the end has the other answer.
        let at_end = grade(
            &s.spec,
            None,
            built.sim.metrics(),
            &Moments::default(),
            &report,
        )
        .unwrap();
        assert!(at_end[0].measured_all().contains("ended before 10ms"));
        // Pausing changed nothing.
        let plain = build(&s.spec, 1).unwrap().run();
        assert_eq!(plain.fingerprint, report.fingerprint);
        assert_eq!(plain.events, report.events);
        // `at` lies inside the run.
        for bad in ["0s", "2s", "5s"] {
            let t = text.replace("at = \"10ms\"", &format!("at = \"{bad}\""));
            let e = load("t", "t.toml", &t).unwrap_err().to_string();
            assert!(e.contains("graded during the run, which lasts 2s"), "{e}");
        }
    }
}
