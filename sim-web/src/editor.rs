//! Your own scenario in the page: a file dropped on the page, picked with
//! the file dialog or pasted, shown as TOML text beside the system. Every
//! edit is loaded as `faultline run` would load the file; an error is
//! marked at its line (the line shaded, the message beside it, and the
//! whole diagnostic under the text), and once the text is valid again the
//! run is rebuilt from it and resumes at the time it was at (`App`).

use egui::text::{LayoutJob, TextFormat};
use egui::{Color32, FontId, RichText};
use sim_core::scenario::{Diagnostic, load};

/// Where "Write or paste one" starts: the smallest system worth running,
/// a client and a service, to change or replace with pasted text.
pub const STARTER: &str = r#"# Your own system. Paste a scenario file over this text, or change it:
# every edit runs as soon as it loads. `faultline run FILE.toml` runs
# the same file the same way (docs/scenario-format.md lists every field).
title = "My system"
summary = "A client calling one service."

[run]
duration = "30s"
seed = 1

[[node]]
name = "user"
kind = "client"
target = "api"
rate = "50/s"
timeout = "500ms"

[[node]]
name = "api"
kind = "service"
workers = 4
service_time = { dist = "exponential", mean = "50ms" }
"#;

const ERROR: Color32 = Color32::from_rgb(220, 80, 70);
/// The erroneous line's shade: the error colour, faint, over either theme.
const ERROR_LINE: Color32 = Color32::from_rgba_premultiplied(60, 18, 16, 60);

/// The scenario text being edited, and what loading it last said.
#[derive(Clone, Debug)]
pub struct Editor {
    /// The file's name as the learner gave it (`incident.toml`).
    pub file: String,
    pub text: String,
    /// Why the text does not load, where it says so; `None` when it does.
    pub error: Option<Diagnostic>,
    /// The visual builder's choices, and why its last action was refused.
    pub build: crate::builder::Builder,
    pub build_error: Option<String>,
}

/// What the learner did in the editor this frame.
#[derive(Debug, PartialEq)]
pub enum Edited {
    Nothing,
    /// The text changed and now loads: run it.
    Valid,
    /// The text changed and does not load (the error is kept).
    Broken,
    Close,
}

impl Editor {
    /// The editor for `text` from `file`, checked at once.
    pub fn new(file: &str, text: &str) -> Self {
        let mut e = Editor {
            file: file.to_string(),
            text: text.to_string(),
            error: None,
            build: Default::default(),
            build_error: None,
        };
        e.check();
        e
    }

    /// The scenario's name: the file's name without `.toml`.
    pub fn name(&self) -> String {
        let base = self.file.rsplit(['/', '\\']).next().unwrap_or(&self.file);
        let stem = base.strip_suffix(".toml").unwrap_or(base);
        if stem.is_empty() {
            "yours".into()
        } else {
            stem.to_string()
        }
    }

    /// Loads the text as the CLI loads a file; true when it loads.
    /// Text over the size a file may have (a huge paste) is refused
    /// before it is parsed.
    pub fn check(&mut self) -> bool {
        let max = sim_core::scenario::MAX_SCENARIO_BYTES;
        self.error = if self.text.len() > max {
            Some(Diagnostic::at(
                &self.file,
                "",
                0..0,
                format!(
                    "the text is {} bytes, and a scenario opens here up to {max} bytes (1 MiB)",
                    self.text.len()
                ),
            ))
        } else {
            load(&self.name(), &self.file, &self.text).err().map(|d| *d)
        };
        self.error.is_none()
    }
}

/// The TOML in the theme's text colours (comments weak), the erroneous
/// line shaded.
fn highlighted(
    text: &str,
    error_line: Option<usize>,
    wrap: f32,
    visuals: &egui::Visuals,
) -> LayoutJob {
    let mut job = LayoutJob::default();
    let font = FontId::monospace(12.0);
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let mut format = TextFormat::simple(font.clone(), visuals.text_color());
        if error_line == Some(i + 1) {
            format.background = ERROR_LINE;
        } else if line.trim_start().starts_with('#') {
            format.color = visuals.weak_text_color();
        }
        job.append(line, 0.0, format);
    }
    job.wrap.max_width = wrap;
    job
}

/// The editor: its file name, the text, and the error beside its line.
pub fn show(ui: &mut egui::Ui, ed: &mut Editor, places: &mut crate::app::Places) -> Edited {
    let mut edited = Edited::Nothing;
    let name = ui
        .horizontal(|ui| {
            let name = ui.label(RichText::new(&ed.file).strong());
            if ui.button("Close the editor").clicked() {
                edited = Edited::Close;
            }
            name.id
        })
        .inner;
    egui::CollapsingHeader::new("Build: nodes, calls, fields, faults")
        .default_open(true)
        .show(ui, |ui| {
            match crate::builder::show(ui, &mut ed.build, &ed.text, places) {
                Some(Ok(text)) => {
                    ed.text = text;
                    ed.build_error = None;
                    edited = if ed.check() {
                        Edited::Valid
                    } else {
                        Edited::Broken
                    };
                }
                Some(Err(why)) => ed.build_error = Some(why),
                None => {}
            }
            if let Some(why) = &ed.build_error {
                ui.colored_label(ERROR, why);
            }
        });
    match &ed.error {
        None => {
            ui.weak("Loads as `faultline run` would load it; edits re-run it from where it was.")
        }
        Some(d) => ui.colored_label(ERROR, format!("{}:{}: {}", d.line, d.column, d.message)),
    };
    let error_line = ed.error.as_ref().map(|d| d.line);
    let mut layouter = |ui: &egui::Ui, text: &dyn egui::TextBuffer, wrap: f32| {
        let job = highlighted(text.as_str(), error_line, wrap, ui.visuals());
        ui.fonts_mut(|f| f.layout_job(job))
    };
    let out = egui::ScrollArea::vertical()
        .max_height(ui.available_height() - 80.0)
        .show(ui, |ui| {
            let out = egui::TextEdit::multiline(&mut ed.text)
                .code_editor()
                .desired_width(f32::INFINITY)
                .desired_rows(30)
                .layouter(&mut layouter)
                .show(ui);
            // Named by the file's name, for screen readers (and tests).
            let _ = out.response.response.clone().labelled_by(name);
            places.insert("editor".into(), out.response.response.rect);
            // The message beside the line it is about.
            if let Some(d) = &ed.error
                && let Some(row) = row_of(&out.galley, d.line)
            {
                let at = out.galley_pos + row.left_top().to_vec2();
                let right = out.response.response.rect.right() - 8.0;
                let beside = egui::Rect::from_min_max(
                    egui::pos2(right - 320.0, at.y),
                    egui::pos2(right, at.y + row.height()),
                );
                let text = RichText::new(format!("<- {}", first_words(&d.message)))
                    .color(ERROR)
                    .background_color(ui.visuals().extreme_bg_color);
                ui.scope_builder(
                    egui::UiBuilder::new()
                        .max_rect(beside)
                        .layout(egui::Layout::right_to_left(egui::Align::TOP)),
                    |ui| ui.label(text),
                );
            }
            out
        })
        .inner;
    if out.response.response.changed() {
        edited = if ed.check() {
            Edited::Valid
        } else {
            Edited::Broken
        };
    }
    if let Some(d) = &ed.error {
        ui.colored_label(ERROR, d.to_string());
    }
    edited
}

/// The top of the first row of line `line` (1-based) in the laid-out text.
fn row_of(galley: &egui::Galley, line: usize) -> Option<egui::Rect> {
    let mut current = 1;
    for row in &galley.rows {
        if current == line {
            return Some(row.rect());
        }
        if row.ends_with_newline {
            current += 1;
        }
    }
    None
}

/// A message short enough to stand beside a line.
fn first_words(message: &str) -> String {
    let mut out: String = message.chars().take(60).collect();
    if message.chars().count() > 60 {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_editor_names_its_scenario_and_locates_its_error() {
        let good = sim_core::scenario::STORIES[0].1;
        let e = Editor::new("runs/incident.toml", good);
        assert_eq!(e.name(), "incident");
        assert!(e.error.is_none());
        let bad = good.replacen("title", "titel", 1);
        let e = Editor::new("incident.toml", &bad);
        let d = e.error.expect("an error");
        assert_eq!((d.line, d.column), (1, 1));
        assert!(d.to_string().contains("did you mean `title`?"));
        assert_eq!(Editor::new("", good).name(), "yours");
        assert!(Editor::new("yours.toml", STARTER).error.is_none());
        let huge = Editor::new("big.toml", &"#".repeat(2 << 20));
        assert!(huge.error.unwrap().message.contains("up to 1048576 bytes"));
    }
}
