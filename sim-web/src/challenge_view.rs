//! Challenges in the story panel: a goal, the few numbers the learner may
//! change (as sliders), the budget of changes, a check when the run ends
//! and a hint after a try that fell short. A try is judged by sim-core's
//! `judge_try`, the same rule `faultline run` and `check` use; faults the
//! learner added by hand break the rules (a challenge is won with its
//! numbers alone). A won challenge is kept in `Progress`.

use crate::params::{self, Param};
use crate::player::Player;
use crate::textcache::TextCache;
use egui::{Color32, RichText};
use sim_core::scenario::judge_try;
use sim_core::scenario::spec::ChallengeSpec;

const WON: Color32 = Color32::from_rgb(60, 160, 80);
const NOT_YET: Color32 = Color32::from_rgb(210, 120, 40);

/// What the learner asked for in the challenges section.
#[derive(Debug, PartialEq)]
pub enum Asked {
    /// Start challenge `i` of the open story from its variant, unchanged.
    Take(usize),
    /// Set a number (path, value), as the parameters' sliders do.
    Set(String, toml::Value),
    /// Run the try to its end, to check it.
    Check,
    Leave,
}

/// Where a challenge's win is kept.
pub fn key(story: &str, c: &ChallengeSpec) -> String {
    format!("{story}/{}", c.title.get_ref())
}

/// The verdict on the run as a try at `c`, once it has ended: won, and
/// what the goal read (`None` while the run goes on).
pub fn verdict(p: &Player, c: &ChallengeSpec) -> Option<(bool, String, Vec<String>)> {
    if !p.is_finished() || p.cut_short().is_some() {
        return None;
    }
    let t = judge_try(c, &p.overrides, p.metrics(), p.faults(), p.end);
    let mut broken: Vec<String> = t.broken().iter().map(|b| format!("You {b}.")).collect();
    if !p.user_faults.is_empty() {
        broken.push("You added faults by hand; a challenge is won with its numbers alone.".into());
    }
    Some((t.reached() && broken.is_empty(), t.measured(), broken))
}

/// The challenges section: each challenge with a button to take it, and
/// the one taken (`active`) with its sliders, budget and verdict.
pub fn show(
    ui: &mut egui::Ui,
    text: &mut TextCache,
    p: &Player,
    params: &[Param],
    (active, places): (Option<usize>, &mut crate::app::Places),
    won: &dyn Fn(&ChallengeSpec) -> bool,
) -> Option<Asked> {
    let challenges = &p.spec.challenges;
    if challenges.is_empty() {
        return None;
    }
    let mut asked = None;
    ui.separator();
    // The prose is drawn from cached textures (see `textcache`).
    text.label(ui, RichText::new("Challenges").strong());
    for (i, c) in challenges.iter().enumerate() {
        let taken = active == Some(i);
        ui.horizontal_wrapped(|ui| {
            text.label(ui, RichText::new(c.title.get_ref()).strong());
            if won(c) {
                ui.colored_label(WON, "won");
            }
            if !taken {
                let r = ui.small_button(format!("Take \"{}\"", c.title.get_ref()));
                places.insert(format!("take:{}", i + 1), r.rect);
                if r.clicked() {
                    asked = Some(Asked::Take(i));
                }
            }
        });
        text.label(ui, c.goal.as_str());
        if taken && let Some(a) = active_challenge(ui, p, c, params, places) {
            asked = Some(a);
        }
    }
    asked
}

/// The challenge being taken: its numbers, its budget, and the verdict.
fn active_challenge(
    ui: &mut egui::Ui,
    p: &Player,
    c: &ChallengeSpec,
    params: &[Param],
    places: &mut crate::app::Places,
) -> Option<Asked> {
    let mut asked = None;
    let offered = c.offered();
    let used = p
        .overrides
        .iter()
        .filter(|(path, _)| offered.contains(&path.as_str()))
        .count();
    let budget = c.budget.as_ref().map(|b| *b.get_ref() as usize);
    ui.weak(match budget {
        Some(b) => format!("Change at most {b} of these numbers ({used} changed so far):"),
        None => format!("Change any of these numbers ({used} changed so far):"),
    });
    for param in params.iter().filter(|q| offered.contains(&q.path.as_str())) {
        if let Some(v) = params::slider(ui, param) {
            asked = Some(Asked::Set(param.path.clone(), v));
        }
    }
    ui.horizontal(|ui| {
        let r = ui.button("Check my try");
        places.insert("check".into(), r.rect);
        if r.clicked() {
            asked = Some(Asked::Check);
        }
        if ui.button("Leave the challenge").clicked() {
            asked = Some(Asked::Leave);
        }
    });
    match verdict(p, c) {
        None => {
            ui.weak("The goal is checked when the run ends.");
        }
        Some((true, measured, _)) => {
            ui.colored_label(WON, format!("Goal reached: you won ({measured})."));
        }
        Some((false, measured, broken)) => {
            ui.colored_label(NOT_YET, format!("Not yet ({measured})."));
            for b in broken {
                ui.label(b);
            }
            if !c.hint.is_empty() {
                ui.label(format!("Hint: {}", c.hint));
            }
        }
    }
    asked
}
