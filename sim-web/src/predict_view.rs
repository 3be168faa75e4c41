//! Predict, then watch: a story's questions about the variant being
//! played, answered by the learner before the run ends and graded by it.
//! The learner's choices are kept per story, variant and question, so
//! changing variant and coming back finds them again.

use crate::player::Player;
use egui::{Color32, RichText};
use sim_core::SimTime;
use sim_core::scenario::{graded_at, predictions_for};
use std::collections::BTreeMap;

/// The learner's answer to each prediction, by `key`.
pub type Choices = BTreeMap<String, usize>;

/// Where a prediction's answer is kept.
pub fn key(p: &Player, question: usize) -> String {
    let variant = p.variant.as_deref().unwrap_or("");
    format!("{}/{variant}/{question}", p.name)
}

const RIGHT: Color32 = Color32::from_rgb(60, 160, 80);
const WRONG: Color32 = Color32::from_rgb(210, 70, 60);

/// The predictions about the variant being played: choosable until the
/// run has ended, then graded. Draws nothing when there are none.
pub fn show(ui: &mut egui::Ui, p: &Player, choices: &mut Choices, places: &mut crate::app::Places) {
    let predictions: Vec<_> = predictions_for(&p.spec, p.variant.as_deref()).collect();
    if predictions.is_empty() {
        return;
    }
    ui.separator();
    ui.label(RichText::new("Predict, then watch").strong());
    for (i, prediction) in predictions.iter().enumerate() {
        let k = key(p, i);
        ui.label(prediction.question.get_ref());
        match p.answered(i) {
            None => {
                let mut chosen = choices.get(&k).copied();
                for (j, a) in prediction.answers.iter().enumerate() {
                    let r = ui.radio_value(&mut chosen, Some(j), a.text.get_ref());
                    places.insert(format!("answer:{}:{}", i + 1, j + 1), r.rect);
                }
                if let Some(j) = chosen {
                    choices.insert(k, j);
                }
                let when = match graded_at(prediction) {
                    Some(t) => format!("at t = {}", t - SimTime::ZERO),
                    None => "when it ends".into(),
                };
                ui.weak(if chosen.is_some() {
                    format!("The run grades your answer {when}.")
                } else {
                    format!("Choose an answer, then play: the run grades it {when}.")
                });
            }
            Some(result) => graded(ui, prediction, result, choices.get(&k).copied()),
        }
    }
}

/// A graded prediction: the run's answer, the learner's, and why.
fn graded(
    ui: &mut egui::Ui,
    prediction: &sim_core::scenario::spec::PredictSpec,
    result: &crate::player::Answered,
    chosen: Option<usize>,
) {
    let Some(supported) = result.supported else {
        ui.colored_label(WRONG, "This run supports no single answer.");
        return;
    };
    for (j, a) in prediction.answers.iter().enumerate() {
        let mark = match (j == supported, Some(j) == chosen) {
            (true, true) => " (your answer, and the run's)",
            (true, false) => " (the run's answer)",
            (false, true) => " (your answer)",
            (false, false) => "",
        };
        let text = format!("{}{mark}", a.text.get_ref());
        if j == supported {
            ui.colored_label(RIGHT, text);
        } else if Some(j) == chosen {
            ui.colored_label(WRONG, text);
        } else {
            ui.weak(text);
        }
    }
    match chosen {
        Some(j) if j == supported => ui.colored_label(RIGHT, "You were right."),
        Some(_) => ui.colored_label(WRONG, "Not this time."),
        None => ui.label("You did not answer this one."),
    };
    ui.label(format!("Measured: {}.", result.measured));
    let because = |j: usize| &prediction.answers[j].because;
    if !because(supported).is_empty() {
        ui.label(format!("Why: {}.", because(supported)));
    }
    if let Some(j) = chosen.filter(|&j| j != supported && !because(j).is_empty()) {
        ui.label(format!("Why not your answer: {}.", because(j)));
    }
}
