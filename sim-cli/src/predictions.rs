//! A run's grades on its story's predictions, as `faultline run` prints
//! them: each question, the answer the run supports with the numbers that
//! decide it, and why (`sim_core::scenario::grade` grades them).

use super::report::paint;
use serde_json::{Value, json};
use sim_core::SimTime;
use sim_core::scenario::{Graded, graded_at};
use std::fmt::Write;

/// The predictions section of the text report (empty without any).
pub fn text(graded: &[Graded<'_>], colour: bool) -> String {
    let mut out = String::new();
    if graded.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\n{}", paint("predictions", "1", colour));
    for g in graded {
        let _ = writeln!(out, "  {}", g.prediction.question.get_ref());
        match g.supported() {
            Some(i) => {
                let a = &g.prediction.answers[i];
                let _ = writeln!(
                    out,
                    "    {}{} {} ({})",
                    paint("answer", "32", colour),
                    when(g),
                    a.text.get_ref(),
                    g.measured(i)
                );
                if !a.because.is_empty() {
                    let _ = writeln!(out, "    why: {}", a.because);
                }
            }
            None => {
                let _ = writeln!(
                    out,
                    "    {} this run supports no single answer ({} hold)",
                    paint("FAIL", "31", colour),
                    g.holding().len()
                );
            }
        }
    }
    out
}

/// When the prediction was graded, if before the end: " at 50s".
fn when(g: &Graded<'_>) -> String {
    graded_at(g.prediction)
        .map(|t| format!(" at {}", t - SimTime::ZERO))
        .unwrap_or_default()
}

/// The predictions as JSON: the question, every answer with whether it
/// holds and what it read, and the supported answer's index.
pub fn json(graded: &[Graded<'_>]) -> Value {
    let list: Vec<Value> = graded
        .iter()
        .map(|g| {
            let holding = g.holding();
            let answers: Vec<Value> = g
                .prediction
                .answers
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    json!({"text": a.text.get_ref(), "holds": holding.contains(&i),
                           "measured": g.measured(i), "because": a.because})
                })
                .collect();
            let at = graded_at(g.prediction).map(|t| t.as_nanos());
            json!({"question": g.prediction.question.get_ref(), "answers": answers,
                   "supported": g.supported(), "at_ns": at})
        })
        .collect();
    Value::Array(list)
}
