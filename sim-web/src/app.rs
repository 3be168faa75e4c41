//! The app: the story library, the story beside the system, playback,
//! the topology, charts and the expectations' verdicts. It depends only
//! on egui, so it builds and is tested natively; `web.rs` puts it in a
//! browser.

use crate::player::{FRAME_BUDGET, Player};
use crate::share::{self, Shared};
use crate::topology;
use egui::{Color32, RichText};
use egui_plot::{Legend, Line, Plot, PlotPoints};
use sim_core::scenario::library::STORIES;
use sim_core::{SimDuration, SimTime};

/// A story in the library list.
#[derive(Clone, Debug)]
pub struct StoryEntry {
    pub name: &'static str,
    pub title: String,
    pub text: &'static str,
}

/// What the user chose in the topology view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub node: Option<String>,
    /// First end of a link being cut.
    pub cut_from: Option<String>,
}

pub struct App {
    pub stories: Vec<StoryEntry>,
    pub player: Option<Player>,
    /// Something went wrong (a bad link, a broken scenario): shown on top.
    pub error: Option<String>,
    /// The page's address without its fragment, for share links.
    pub base_url: String,
    pub share_link: Option<String>,
    pub exported: Option<String>,
    pub selection: Selection,
    /// Events per frame: the page stays responsive whatever the speed.
    pub frame_budget: u64,
    /// Frames drawn so far (browser tests measure frames per second).
    pub frames: u64,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

fn title_of(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("title = \""))
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or("")
        .to_string()
}

fn secs(t: SimTime) -> f64 {
    t.as_nanos() as f64 / 1e9
}

impl App {
    pub fn new() -> Self {
        App {
            stories: STORIES
                .iter()
                .map(|&(name, text)| StoryEntry {
                    name,
                    title: title_of(text),
                    text,
                })
                .collect(),
            player: None,
            error: None,
            base_url: String::new(),
            share_link: None,
            exported: None,
            selection: Selection::default(),
            frame_budget: FRAME_BUDGET,
            frames: 0,
        }
    }

    pub fn open_story(&mut self, name: &str) {
        let Some(entry) = self.stories.iter().find(|s| s.name == name) else {
            self.error = Some(format!("there is no story called `{name}`"));
            return;
        };
        let text = entry.text;
        self.open(name, text, None, None);
    }

    fn open(&mut self, name: &str, text: &str, variant: Option<&str>, seed: Option<u64>) {
        self.share_link = None;
        self.exported = None;
        self.selection = Selection::default();
        match Player::new(name, text, variant, seed) {
            Ok(p) => {
                self.player = Some(p);
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Opens what a share link's fragment carries, or says why it cannot.
    pub fn open_link(&mut self, fragment: &str) {
        match share::decode(fragment) {
            Ok(s) => {
                let name = self
                    .stories
                    .iter()
                    .find(|e| e.text == s.text)
                    .map_or("shared", |e| e.name);
                self.open(name, &s.text, s.variant.as_deref(), Some(s.seed));
                if let (Some(e), None) = (&self.error, &self.player) {
                    self.error = Some(format!("the shared scenario does not load: {e}"));
                }
            }
            Err(e) => self.error = Some(format!("This link cannot be opened: {e}")),
        }
    }

    /// The current run's share fragment (without `#`).
    pub fn share_fragment(&self) -> Option<String> {
        self.player.as_ref().map(|p| {
            share::encode(&Shared {
                text: p.export(),
                variant: p.variant.clone(),
                seed: p.seed,
            })
        })
    }

    /// Switches the open story to `variant` (None: as written).
    pub fn choose_variant(&mut self, variant: Option<&str>) {
        if let Some(p) = &mut self.player {
            let seed = p.seed;
            if let Err(e) = p.rebuild(variant, seed) {
                self.error = Some(e);
            }
        }
    }

    /// One frame: advance playback by the frame's time and draw into `ui`
    /// (the whole window).
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.frames += 1;
        let dt = ctx.input(|i| f64::from(i.stable_dt)).min(0.1);
        if let Some(p) = &mut self.player {
            p.tick(dt, self.frame_budget);
            if p.playing || p.now() < p.target {
                ctx.request_repaint();
            }
        }
        egui::Panel::left("library")
            .resizable(true)
            .default_size(190.0)
            .show(ui, |ui| self.library(ui));
        if self.player.is_some() {
            egui::Panel::right("story")
                .resizable(true)
                .default_size(300.0)
                .show(ui, |ui| self.story_panel(ui));
            egui::Panel::top("controls").show(ui, |ui| self.controls(ui));
            egui::Panel::bottom("results")
                .resizable(true)
                .default_size(150.0)
                .show(ui, |ui| self.results(ui));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(e) = &self.error {
                ui.colored_label(Color32::from_rgb(200, 60, 60), e);
            }
            if self.player.is_some() {
                self.centre(ui);
            } else if self.error.is_none() {
                ui.heading("Faultline");
                ui.label("Pick a story on the left: a small system, a failure, and the designs that survive it.");
            }
        });
    }

    fn library(&mut self, ui: &mut egui::Ui) {
        ui.heading("Stories");
        let current = self.player.as_ref().map(|p| p.name.clone());
        let mut open = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            for s in &self.stories {
                let selected = current.as_deref() == Some(s.name);
                if ui
                    .selectable_label(selected, s.name)
                    .on_hover_text(&s.title)
                    .clicked()
                {
                    open = Some(s.name);
                }
            }
        });
        if let Some(name) = open {
            self.open_story(name);
        }
    }

    fn story_panel(&mut self, ui: &mut egui::Ui) {
        let Some(p) = &self.player else { return };
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading(&p.spec.title);
            ui.label(RichText::new(&p.spec.summary).italics());
            ui.separator();
            for paragraph in reflow(&p.spec.story) {
                ui.label(paragraph.replace("**", ""));
            }
            if !p.spec.look_for.is_empty() {
                ui.separator();
                ui.strong("What to look for");
                for l in &p.spec.look_for {
                    ui.label(format!("• {l}"));
                }
            }
            if !p.spec.questions.is_empty() {
                ui.separator();
                ui.strong("Questions to try");
                for q in &p.spec.questions {
                    ui.label(format!("• {q}"));
                }
            }
        });
    }

    fn controls(&mut self, ui: &mut egui::Ui) {
        let mut variant_change: Option<Option<String>> = None;
        let mut share = false;
        let mut export = false;
        if let Some(p) = &mut self.player {
            ui.horizontal_wrapped(|ui| {
                ui.label("Variant:");
                let variants: Vec<String> = p.scenario.variants().map(str::to_string).collect();
                if ui
                    .selectable_label(p.variant.is_none(), "as written")
                    .clicked()
                {
                    variant_change = Some(None);
                }
                for v in variants {
                    let on = p.variant.as_deref() == Some(v.as_str());
                    let description = p
                        .spec
                        .variants
                        .get(&v)
                        .map(|s| s.get_ref().description.clone())
                        .unwrap_or_default();
                    if ui
                        .selectable_label(on, &v)
                        .on_hover_text(description)
                        .clicked()
                    {
                        variant_change = Some(Some(v));
                    }
                }
                ui.separator();
                let label = ui.label("Seed:");
                let mut seed = p.seed;
                if ui
                    .add(egui::DragValue::new(&mut seed))
                    .labelled_by(label.id)
                    .changed()
                {
                    let variant = p.variant.clone();
                    let _ = p.rebuild(variant.as_deref(), seed);
                }
            });
            ui.horizontal_wrapped(|ui| {
                let label = if p.playing { "Pause" } else { "Play" };
                if ui.button(label).clicked() {
                    if p.is_finished() {
                        p.seek(SimTime::ZERO);
                    }
                    p.playing = !p.playing;
                }
                if ui.button("Step").clicked() {
                    p.step();
                }
                if ui.button("Run to end").clicked() {
                    p.run_to_end();
                }
                ui.add(
                    egui::Slider::new(&mut p.speed, 0.1..=1000.0)
                        .logarithmic(true)
                        .suffix("×")
                        .text("speed"),
                );
                let mut t = secs(p.target);
                let end = secs(p.end);
                let slider = egui::Slider::new(&mut t, 0.0..=end)
                    .text("time (s)")
                    .fixed_decimals(1);
                if ui.add(slider).changed() {
                    p.seek(SimTime::ZERO + SimDuration::from_nanos((t * 1e9) as u64));
                }
                ui.label(format!(
                    "now {}",
                    SimDuration::from_nanos(p.now().as_nanos())
                ));
                ui.separator();
                ui.monospace(format!("fingerprint {}", p.fingerprint()));
                if ui.button("Share link").clicked() {
                    share = true;
                }
                if ui.button("Export scenario").clicked() {
                    export = true;
                }
            });
        }
        if let Some(v) = variant_change {
            self.choose_variant(v.as_deref());
        }
        if share {
            self.share_link = self
                .share_fragment()
                .map(|f| format!("{}#{f}", self.base_url));
        }
        if export {
            self.exported = self.player.as_ref().map(Player::export);
        }
        if let Some(link) = &self.share_link {
            ui.horizontal(|ui| {
                ui.label("Link:");
                let mut shown = link.clone();
                ui.add(egui::TextEdit::singleline(&mut shown).desired_width(f32::INFINITY));
            });
        }
    }

    fn centre(&mut self, ui: &mut egui::Ui) {
        if let Some(text) = &self.exported {
            let p = self.player.as_ref().expect("open");
            ui.label(format!(
                "Save as a .toml file and replay it with: faultline run FILE.toml --seed {}{}",
                p.seed,
                p.variant
                    .as_ref()
                    .map(|v| format!(" --variant {v}"))
                    .unwrap_or_default()
            ));
            let mut shown = text.clone();
            egui::ScrollArea::vertical()
                .max_height(120.0)
                .show(ui, |ui| {
                    ui.add(egui::TextEdit::multiline(&mut shown).code_editor());
                });
        }
        let height = ui.available_height();
        let Some(p) = &mut self.player else { return };
        ui.allocate_ui(egui::vec2(ui.available_width(), height * 0.55), |ui| {
            if let Some(action) = topology::show(ui, p, &mut self.selection)
                && let Err(e) = p.act(action.action, &action.node, action.other.as_deref())
            {
                self.error = Some(e);
            }
        });
        charts(ui, p);
    }

    fn results(&mut self, ui: &mut egui::Ui) {
        let Some(p) = &self.player else { return };
        egui::ScrollArea::vertical().show(ui, |ui| match p.outcomes() {
            None => {
                ui.label(format!(
                    "Expectations are judged at the end of the run ({}).",
                    SimDuration::from_nanos(p.end.as_nanos())
                ));
            }
            Some(outcomes) => {
                ui.strong("Expectations");
                for o in outcomes {
                    match &o.verdict {
                        Ok(v) => {
                            let (mark, colour) = if v.holds {
                                ("ok  ", Color32::from_rgb(60, 160, 80))
                            } else {
                                ("FAIL", Color32::from_rgb(210, 70, 60))
                            };
                            ui.horizontal_wrapped(|ui| {
                                ui.colored_label(colour, mark);
                                ui.monospace(format!(
                                    "{} {} {} (was {})",
                                    v.metric,
                                    v.op.as_str(),
                                    number(v.expected),
                                    number(v.actual)
                                ));
                                ui.label(&o.because);
                            });
                        }
                        Err(e) => {
                            ui.colored_label(Color32::from_rgb(210, 70, 60), e);
                        }
                    }
                }
            }
        });
    }
}

fn json_text(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The app's state for tests and scripts, as JSON.
pub fn state_json(a: &App) -> String {
    let error = a.error.as_deref().map_or("null".to_string(), json_text);
    let Some(p) = &a.player else {
        return format!(
            "{{\"story\":null,\"frames\":{},\"error\":{error}}}",
            a.frames
        );
    };
    let verdicts: Vec<String> = p
        .outcomes()
        .unwrap_or_default()
        .iter()
        .map(|o| match &o.verdict {
            Ok(v) => format!(
                "{{\"metric\":{},\"holds\":{},\"actual\":{}}}",
                json_text(&v.metric),
                v.holds,
                if v.actual.is_finite() {
                    v.actual.to_string()
                } else {
                    "null".into()
                }
            ),
            Err(e) => format!("{{\"error\":{}}}", json_text(e)),
        })
        .collect();
    format!(
        "{{\"frames\":{},\"story\":{},\"variant\":{},\"seed\":\"{}\",\"time_s\":{},\"end_s\":{},\"finished\":{},\"fingerprint\":\"{}\",\"error\":{error},\"expectations\":[{}]}}",
        a.frames,
        json_text(&p.name),
        p.variant.as_deref().map_or("null".to_string(), json_text),
        p.seed,
        secs(p.now()),
        secs(p.end),
        p.is_finished(),
        p.fingerprint(),
        verdicts.join(",")
    )
}

/// A story's text as paragraphs and list items, each one line: the file
/// wraps its lines for editors, the panel wraps them for its width.
pub fn reflow(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        let item = line.starts_with("- ");
        if line.is_empty() || item {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            if line.is_empty() {
                continue;
            }
        }
        if !current.is_empty() {
            current.push(' ');
        }
        match line.strip_prefix("- ") {
            Some(rest) if item => {
                current.push_str("• ");
                current.push_str(rest);
            }
            _ => current.push_str(line),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// Latency, goodput and failures of every client and session over time,
/// and the queues of services, up to now.
fn charts(ui: &mut egui::Ui, p: &Player) {
    let m = p.metrics();
    let now = p.now().as_nanos();
    let mut latency = Vec::new();
    let mut goodput = Vec::new();
    let mut failures = Vec::new();
    let mut queues = Vec::new();
    for (name, series) in m.all_series() {
        let interval = series.interval_ns() as f64;
        let points = |f: &dyn Fn(&sim_core::metrics::SeriesBucket) -> f64| -> Vec<[f64; 2]> {
            series
                .buckets()
                .iter()
                .enumerate()
                .take_while(|(i, _)| (*i as f64) * interval <= now as f64)
                .map(|(i, b)| [(i as f64 + 0.5) * interval / 1e9, f(b)])
                .collect()
        };
        if let Some(who) = name.strip_suffix(".ok_latency_ns") {
            latency.push((
                who.to_string(),
                points(&|b| {
                    if b.count == 0 {
                        f64::NAN
                    } else {
                        b.sum / b.count as f64 / 1e6
                    }
                }),
            ));
            goodput.push((
                who.to_string(),
                points(&|b| b.count as f64 / (interval / 1e9)),
            ));
        } else if let Some(who) = name.strip_suffix(".failures") {
            failures.push((
                who.to_string(),
                points(&|b| b.count as f64 / (interval / 1e9)),
            ));
        } else if let Some(who) = name.strip_suffix(".queue") {
            queues.push((who.to_string(), points(&|b| b.max)));
        }
    }
    let height = (ui.available_height() / 2.0 - 12.0).max(60.0);
    let width = ui.available_width() / 2.0 - 8.0;
    let plot = |ui: &mut egui::Ui, id: &str, title: &str, lines: Vec<(String, Vec<[f64; 2]>)>| {
        ui.vertical(|ui| {
            ui.label(title);
            Plot::new(id)
                .height(height)
                .width(width)
                .legend(Legend::default())
                .allow_scroll(false)
                .show(ui, |plot| {
                    for (name, pts) in lines {
                        plot.line(Line::new(name, PlotPoints::from(pts)));
                    }
                });
        });
    };
    ui.horizontal(|ui| {
        plot(ui, "latency", "mean latency (ms)", latency);
        plot(ui, "goodput", "successes per second", goodput);
    });
    ui.horizontal(|ui| {
        plot(ui, "failures", "failures per second", failures);
        plot(ui, "queues", "queue length (max per interval)", queues);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn story_text_is_reflowed_into_paragraphs_and_items() {
        let text = "A shop caches\nits prices.\n\nThe variants:\n\n- **long**: fast,\n  and wrong;\n- short.\n";
        assert_eq!(
            reflow(text),
            [
                "A shop caches its prices.",
                "The variants:",
                "• **long**: fast, and wrong;",
                "• short."
            ]
        );
    }

    #[test]
    fn the_state_is_json_with_the_fingerprint() {
        let mut app = App::new();
        assert!(state_json(&app).contains("\"story\":null"));
        app.open_story("double-charge");
        app.player.as_mut().unwrap().run_to_end();
        let state = state_json(&app);
        assert!(state.contains("\"finished\":true"), "{state}");
        let fp = app.player.as_ref().unwrap().fingerprint();
        assert!(
            state.contains(&format!("\"fingerprint\":\"{fp}\"")),
            "{state}"
        );
        assert_eq!(json_text("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
