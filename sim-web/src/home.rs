//! The home page: what Faultline is, and the learning path (sim-core's
//! `learning_path`, the same chapters and order `faultline list` prints)
//! with the learner's progress. A story is done once a run of it has
//! played to its end; progress is kept in the browser's localStorage by
//! `web.rs` (nothing leaves the machine), as the small JSON `Progress`
//! reads and writes.

use egui::{Color32, RichText};
use sim_core::scenario::LearningPath;
use std::collections::BTreeSet;

/// The stories the learner has played to the end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub done: BTreeSet<String>,
    /// The challenges won, as `story/title`.
    pub won: BTreeSet<String>,
    /// Changed since it was last saved.
    pub unsaved: bool,
}

impl Progress {
    /// Progress as saved by `to_json`; anything else (nothing saved yet,
    /// or a value some other version wrote) is a fresh start.
    pub fn from_json(text: &str) -> Self {
        let saved = serde_json::from_str::<serde_json::Value>(text).ok();
        let list = |field: &str| -> BTreeSet<String> {
            saved
                .as_ref()
                .and_then(|v| v.get(field)?.as_array())
                .map(|names| {
                    names
                        .iter()
                        .filter_map(|n| n.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Progress {
            done: list("done"),
            won: list("won"),
            unsaved: false,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::json!({ "done": self.done, "won": self.won }).to_string()
    }

    /// Marks challenge `key` won (once).
    pub fn win(&mut self, key: &str) {
        if self.won.insert(key.to_string()) {
            self.unsaved = true;
        }
    }

    pub fn has_won(&self, key: &str) -> bool {
        self.won.contains(key)
    }

    /// Marks story `name` done (once).
    pub fn finish(&mut self, name: &str) {
        if self.done.insert(name.to_string()) {
            self.unsaved = true;
        }
    }

    pub fn is_done(&self, name: &str) -> bool {
        self.done.contains(name)
    }
}

const DONE: Color32 = Color32::from_rgb(60, 160, 80);

/// What the home page asked for: a story to open.
pub type Asked = Option<String>;

/// The first story of `chapter` not done yet (the chapter's first if all
/// are).
fn first_open<'a>(path: &'a LearningPath, chapter: usize, progress: &Progress) -> &'a str {
    let stories = &path.chapters[chapter].stories;
    stories
        .iter()
        .find(|s| !progress.is_done(&s.name))
        .unwrap_or(&stories[0])
        .name
        .as_str()
}

/// The home page. `title` gives a story's title by name; `place` records
/// where a widget was drawn (for browser tests that click it).
pub fn show(
    ui: &mut egui::Ui,
    path: &LearningPath,
    progress: &Progress,
    title: &dyn Fn(&str) -> String,
    place: &mut dyn FnMut(String, egui::Rect),
) -> Asked {
    let mut asked = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Faultline");
        ui.label(&path.intro);
        ui.add_space(6.0);
        let total = path.steps().count();
        let left: u32 = path
            .steps()
            .filter(|(_, s)| !progress.is_done(&s.name))
            .map(|(_, s)| s.minutes)
            .sum();
        let done = total
            - path
                .steps()
                .filter(|(_, s)| !progress.is_done(&s.name))
                .count();
        let won = match progress.won.len() {
            0 => String::new(),
            1 => "; 1 challenge won".to_string(),
            n => format!("; {n} challenges won"),
        };
        ui.label(format!(
            "{done} of {total} stories done{won}; about {left} minutes to go."
        ));
        if let Some((_, next)) = path.steps().find(|(_, s)| !progress.is_done(&s.name)) {
            let verb = if done == 0 { "Start here" } else { "Continue" };
            let r = ui.button(RichText::new(format!("{verb}: {}", title(&next.name))).strong());
            place("continue".into(), r.rect);
            if r.clicked() {
                asked = Some(next.name.clone());
            }
        }
        for (i, chapter) in path.chapters.iter().enumerate() {
            ui.separator();
            ui.horizontal(|ui| {
                ui.label(RichText::new(format!("{}. {}", i + 1, chapter.title)).strong());
                let r = ui.small_button(format!("Start chapter {}", i + 1));
                place(format!("chapter:{}", i + 1), r.rect);
                if r.clicked() {
                    asked = Some(first_open(path, i, progress).to_string());
                }
            });
            ui.weak(&chapter.about);
            for step in &chapter.stories {
                ui.horizontal(|ui| {
                    if progress.is_done(&step.name) {
                        ui.colored_label(DONE, "done");
                    } else {
                        ui.weak("to do");
                    }
                    let r = ui.link(title(&step.name));
                    place(format!("story:{}", step.name), r.rect);
                    if r.clicked() {
                        asked = Some(step.name.clone());
                    }
                    ui.weak(format!("{} min", step.minutes));
                    ui.label(&step.lesson);
                });
            }
        }
    });
    asked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_survives_its_round_trip_and_ignores_junk() {
        let mut p = Progress::default();
        p.finish("queues");
        assert!(p.unsaved);
        p.unsaved = false;
        p.finish("queues");
        assert!(!p.unsaved, "finishing twice changes nothing");
        p.win("queues/Staff the surge");
        let back = Progress::from_json(&p.to_json());
        assert_eq!(back.done, p.done);
        assert!(back.has_won("queues/Staff the surge"));
        assert_eq!(Progress::from_json("").done.len(), 0);
        assert_eq!(Progress::from_json("{\"done\": 7}").done.len(), 0);
        assert_eq!(Progress::from_json("[1,2]").done.len(), 0);
    }
}
