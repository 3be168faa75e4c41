//! The app: the story library, the story beside the system, playback,
//! the topology, charts and the expectations' verdicts. It depends only
//! on egui, so it builds and is tested natively; `web.rs` puts it in a
//! browser.

use crate::params::{self, Param};
use crate::player::{FRAME_BUDGET, Player};
use crate::share::{self, Shared};
use crate::topology;
use egui::{Color32, RichText};
use egui_plot::{Legend, Line, Plot, PlotPoints};
use serde_json::json;
use sim_core::scenario::judge::{AS_WRITTEN, number};
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
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    pub node: Option<String>,
    /// First end of a link being cut.
    pub cut_from: Option<String>,
    /// Drawing a partition line, and where the drag began.
    pub drawing: bool,
    pub line_from: Option<egui::Pos2>,
}

pub struct App {
    pub stories: Vec<StoryEntry>,
    pub player: Option<Player>,
    /// A second variant on the same seed, kept at the same time as
    /// `player` (side by side).
    pub compare: Option<Player>,
    /// The scenario's parameters as sliders (for the chosen variant).
    pub params: Vec<Param>,
    /// The request shown in the inspector (its number in the run).
    pub inspected: Option<u64>,
    /// The story panel (narrative, questions, parameters) is shown; hidden,
    /// the system and charts get its room.
    pub show_story: bool,
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
    /// The story panel's prose as textures.
    pub text: crate::textcache::TextCache,
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
            compare: None,
            params: Vec::new(),
            inspected: None,
            show_story: true,
            text: Default::default(),
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
        self.compare = None;
        self.inspected = None;
        match Player::new(name, text, variant, seed) {
            Ok(p) => {
                self.player = Some(p);
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
        self.refresh_params();
    }

    /// The sliders for the open scenario as its variant and changed
    /// parameters leave it.
    fn refresh_params(&mut self) {
        self.params = self
            .player
            .as_ref()
            .and_then(|p| {
                p.scenario
                    .document_with(p.variant.as_deref(), &p.overrides)
                    .ok()
            })
            .map(|doc| params::discover(&doc))
            .unwrap_or_default();
    }

    /// Sets a parameter in the run and re-runs it to where it was (the
    /// compared run follows, see `follow`).
    pub fn set_parameter(&mut self, path: &str, value: toml::Value) {
        let Some(p) = &mut self.player else { return };
        match p.set_parameter(path, value) {
            Ok(()) => self.error = None,
            Err(e) => self.error = Some(format!("{path}: {e}")),
        }
        self.inspected = None;
        self.refresh_params();
    }

    /// Plays `variant` beside the open run on the same seed (None: stop
    /// comparing); it keeps the run's changed parameters and faults.
    pub fn compare_with(&mut self, variant: Option<&str>) {
        let Some(a) = &self.player else { return };
        let Some(variant) = variant else {
            self.compare = None;
            return;
        };
        let v = (variant != AS_WRITTEN).then_some(variant);
        let made = Player::new(&a.name, &a.text, v, Some(a.seed)).and_then(|mut b| {
            sync(a, &mut b)?;
            Ok(b)
        });
        match made {
            Ok(b) => self.compare = Some(b),
            Err(e) => self.error = Some(e),
        }
    }

    /// Keeps the compared run at the open run's seed, parameters, faults
    /// and time, every frame.
    fn follow(&mut self, budget: u64) {
        let (Some(a), Some(b)) = (&self.player, &mut self.compare) else {
            return;
        };
        if let Err(e) = sync(a, b) {
            self.error = Some(e);
            return;
        }
        b.work(budget);
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
                variant: p.exported_variant(),
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
        self.inspected = None;
        self.refresh_params();
    }

    /// One frame: advance playback by the frame's time and draw into `ui`
    /// (the whole window).
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if self.frames == 0 {
            ctx.all_styles_mut(lean_style);
        }
        self.frames += 1;
        self.text.begin_pass(&ctx);
        let dt = ctx.input(|i| f64::from(i.stable_dt)).min(0.1);
        if let Some(p) = &mut self.player {
            p.tick(dt, self.frame_budget);
            if p.playing || p.now() < p.target {
                ctx.request_repaint();
            }
        }
        self.follow(self.frame_budget);
        if let Some(b) = &self.compare
            && b.now() < b.target
        {
            ctx.request_repaint();
        }
        egui::Panel::left("library")
            .resizable(true)
            .default_size(190.0)
            .show(ui, |ui| self.library(ui));
        if self.player.is_some() {
            if self.show_story {
                egui::Panel::right("story")
                    .resizable(true)
                    .default_size(300.0)
                    .show(ui, |ui| self.story_panel(ui));
            }
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
        let mut changed: Option<(String, toml::Value)> = None;
        let Some(p) = &self.player else { return };
        // The prose is drawn from cached textures (see `textcache`).
        let text = &mut self.text;
        egui::ScrollArea::vertical().show(ui, |ui| {
            text.label(ui, RichText::new(&p.spec.title).heading());
            text.label(ui, RichText::new(&p.spec.summary).italics());
            ui.separator();
            for paragraph in reflow(&p.spec.story) {
                text.label(ui, paragraph.replace("**", ""));
            }
            if !p.spec.look_for.is_empty() {
                ui.separator();
                text.label(ui, RichText::new("What to look for").strong());
                for l in &p.spec.look_for {
                    text.label(ui, format!("• {l}"));
                }
            }
            if !p.spec.questions.is_empty() {
                ui.separator();
                text.label(ui, RichText::new("Questions to try").strong());
                for q in &p.spec.questions {
                    text.label(ui, format!("• {q}"));
                }
            }
            ui.separator();
            egui::CollapsingHeader::new("Parameters")
                .default_open(false)
                .show(ui, |ui| {
                    ui.label("Change a number: the run starts again from the beginning and catches up to now.");
                    let mut owner = "";
                    for param in &self.params {
                        if param.owner != owner {
                            owner = &param.owner;
                            ui.strong(owner);
                        }
                        let mut v = param.value;
                        let slider = egui::Slider::new(&mut v, param.min..=param.max)
                            .logarithmic(param.logarithmic())
                            .custom_formatter(|v, _| param.show(v))
                            .text(&param.label);
                        let slider = if param.unit == params::Unit::Count {
                            slider.integer()
                        } else {
                            slider
                        };
                        let r = ui.add(slider);
                        if r.changed() && param.to_toml(v) != param.to_toml(param.value) {
                            changed = Some((param.path.clone(), param.to_toml(v)));
                        }
                    }
                });
        });
        if let Some((path, value)) = changed {
            self.set_parameter(&path, value);
        }
    }

    fn controls(&mut self, ui: &mut egui::Ui) {
        let mut variant_change: Option<Option<String>> = None;
        let mut compare_change: Option<Option<String>> = None;
        let mut to_end = false;
        let mut share = false;
        let mut export = false;
        let comparing = self
            .compare
            .as_ref()
            .map(|b| b.variant.clone().unwrap_or_else(|| AS_WRITTEN.into()));
        let show_story = &mut self.show_story;
        if let Some(p) = &mut self.player {
            ui.horizontal_wrapped(|ui| {
                ui.label("Variant:");
                let variants: Vec<String> = p.scenario.variants().map(str::to_string).collect();
                if ui
                    .selectable_label(p.variant.is_none(), AS_WRITTEN)
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
                let shown = comparing.clone().unwrap_or_else(|| "off".into());
                egui::ComboBox::from_label("side by side")
                    .selected_text(shown)
                    .show_ui(ui, |ui| {
                        let mut options = vec!["off".to_string(), AS_WRITTEN.to_string()];
                        options.extend(p.scenario.variants().map(str::to_string));
                        for o in options {
                            let on = comparing.as_deref().unwrap_or("off") == o;
                            if ui.selectable_label(on, &o).clicked() {
                                compare_change = Some((o != "off").then_some(o));
                            }
                        }
                    });
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
                    to_end = true;
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
                let label = if *show_story {
                    "Hide the story"
                } else {
                    "Show the story"
                };
                if ui.button(label).clicked() {
                    *show_story = !*show_story;
                }
            });
            if let Some(t) = timeline(ui, p) {
                p.seek(t);
            }
        }
        if let Some(v) = compare_change {
            self.compare_with(v.as_deref());
        }
        if to_end && let Some(b) = &mut self.compare {
            b.run_to_end();
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
                p.exported_variant()
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
        let mut action = None;
        if self.compare.is_none() {
            let Some(p) = &mut self.player else { return };
            ui.allocate_ui(egui::vec2(ui.available_width(), height * 0.45), |ui| {
                action = topology::show(ui, p, &mut self.selection);
            });
            charts(ui, p, "a");
        } else {
            let (Some(a), Some(b)) = (&mut self.player, &mut self.compare) else {
                return;
            };
            let selection = &mut self.selection;
            ui.columns(2, |cols| {
                for (i, (ui, p)) in cols.iter_mut().zip([a, b]).enumerate() {
                    ui.push_id(i, |ui| {
                        ui.strong(format!(
                            "{}: {}",
                            if i == 0 { "A" } else { "B" },
                            p.variant.as_deref().unwrap_or(AS_WRITTEN)
                        ));
                        ui.allocate_ui(egui::vec2(ui.available_width(), height * 0.4), |ui| {
                            if let Some(act) = topology::show(ui, p, selection) {
                                action = Some(act);
                            }
                        });
                        charts(ui, p, if i == 0 { "a" } else { "b" });
                    });
                }
            });
        }
        if let Some(act) = action {
            self.apply(act);
        }
    }

    /// Puts a clicked fault into the run's schedule (the compared run
    /// follows, see `follow`).
    pub fn apply(&mut self, act: topology::Action) {
        let Some(p) = &mut self.player else { return };
        let done = if act.action == "partition" {
            p.partition(act.groups)
        } else {
            p.act(act.action, &act.node, None)
        };
        if let Err(e) = done {
            self.error = Some(e);
        }
    }

    fn results(&mut self, ui: &mut egui::Ui) {
        ui.columns(2, |cols| {
            egui::ScrollArea::vertical()
                .id_salt("verdicts")
                .show(&mut cols[0], |ui| {
                    for (i, p) in self.player.iter().chain(self.compare.iter()).enumerate() {
                        if self.compare.is_some() {
                            ui.strong(format!(
                                "{}: {}",
                                if i == 0 { "A" } else { "B" },
                                p.variant.as_deref().unwrap_or(AS_WRITTEN)
                            ));
                        }
                        verdicts(ui, p);
                    }
                });
            if let Some(p) = &self.player {
                inspector(&mut cols[1], p, &mut self.inspected);
            }
        });
    }
}

/// Gives `b` the seed, changed parameters and faults of `a` (rebuilding it
/// if any differ) and `a`'s time: the one way a compared run follows.
fn sync(a: &Player, b: &mut Player) -> Result<(), String> {
    if b.seed != a.seed || b.overrides != a.overrides || b.user_faults != a.user_faults {
        b.overrides = a.overrides.clone();
        b.user_faults = a.user_faults.clone();
        let v = b.variant.clone();
        b.rebuild(v.as_deref(), a.seed)?;
    }
    if b.target != a.target {
        b.seek(a.target);
    }
    Ok(())
}

/// The expectations' verdicts, once the run has ended.
fn verdicts(ui: &mut egui::Ui, p: &Player) {
    if let Some(why) = p.cut_short() {
        ui.colored_label(
            Color32::from_rgb(210, 70, 60),
            format!("This run stopped early, so it is not a result: {why}"),
        );
    }
    match p.outcomes() {
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
    }
}

fn ms(d: SimDuration) -> String {
    format!("{:.3}ms", d.as_nanos() as f64 / 1e6)
}

/// Recent requests, newest first; click one to see every message it
/// caused, with its timings.
fn inspector(ui: &mut egui::Ui, p: &Player, inspected: &mut Option<u64>) {
    let observed = p.observed.borrow();
    ui.strong("Requests (click one)");
    let shown = inspected.and_then(|n| observed.request(n));
    match shown {
        None => {
            egui::ScrollArea::vertical()
                .id_salt("requests")
                .show(ui, |ui| {
                    for r in observed.requests.iter().rev().take(40) {
                        let outcome = r.outcome.as_deref().unwrap_or("in flight");
                        let took = r.took().map(ms).unwrap_or_default();
                        let text = format!(
                            "#{} {} from {}: {outcome} {took}",
                            r.number, r.label, r.origin
                        );
                        if ui.selectable_label(false, text).clicked() {
                            *inspected = Some(r.number);
                        }
                    }
                });
        }
        Some(r) => {
            if ui.button("Back to the list").clicked() {
                *inspected = None;
            }
            ui.label(format!(
                "#{} {} from {}, started at {}: {} {}",
                r.number,
                r.label,
                r.origin,
                ms(r.start - SimTime::ZERO),
                r.outcome.as_deref().unwrap_or("in flight"),
                r.took()
                    .map(|d| format!("after {}", ms(d)))
                    .unwrap_or_default()
            ));
            let attempts = r.attempts();
            let mut facts = vec![format!(
                "{attempts} attempt{} ({} retr{})",
                if attempts == 1 { "" } else { "s" },
                attempts.saturating_sub(1),
                if attempts == 2 { "y" } else { "ies" }
            )];
            for (cache, hit) in r.cache_answers() {
                facts.push(format!(
                    "{cache}: {}",
                    if hit { "cache hit" } else { "cache miss" }
                ));
            }
            let replicas = r.replicas_read();
            if !replicas.is_empty() {
                facts.push(format!("replicas read: {}", replicas.join(", ")));
            }
            ui.label(facts.join("; "));
            egui::ScrollArea::vertical().id_salt("hops").show(ui, |ui| {
                egui::Grid::new("hops").striped(true).show(ui, |ui| {
                    for h in &r.hops {
                        ui.monospace(format!("+{}", ms(h.sent - r.start)));
                        ui.label(format!("{} -> {}", h.from, h.to));
                        ui.label(&h.what);
                        ui.label(match (&h.arrived, &h.dropped) {
                            (Some(at), _) => format!("arrived after {}", ms(*at - h.sent)),
                            (None, Some(why)) => format!("dropped: {why}"),
                            (None, None) => "in flight".to_string(),
                        });
                        ui.end_row();
                    }
                });
                if r.hops_left_out > 0 {
                    ui.label(format!("and {} more messages", r.hops_left_out));
                }
            });
        }
    }
}

/// The timeline under the controls: scheduled faults as bands, faults
/// and pattern events as ticks (hover for what), and now. A click seeks.
fn timeline(ui: &mut egui::Ui, p: &Player) -> Option<SimTime> {
    let width = ui.available_width();
    let (response, painter) = ui.allocate_painter(egui::vec2(width, 22.0), egui::Sense::click());
    let rect = response.rect;
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let end = p.end.as_nanos().max(1) as f32;
    let x = |t: SimTime| rect.left() + rect.width() * (t.as_nanos() as f32 / end).min(1.0);
    let fault = Color32::from_rgb(200, 60, 60);
    let pattern = Color32::from_rgb(220, 150, 40);
    // Fault windows as bands, overlapping ones merged (each band shades
    // every pixel under it, and a software GPU pays per pixel).
    let mut bands: Vec<(f32, f32)> = p
        .metrics()
        .fault_windows()
        .iter()
        .map(|w| (x(w.start), x(w.end.unwrap_or(p.end)).max(x(w.start) + 2.0)))
        .collect();
    bands.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f32, f32)> = Vec::new();
    for (from, to) in bands {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    for (from, to) in merged {
        let band = egui::Rect::from_x_y_ranges(from..=to, rect.y_range());
        painter.rect_filled(band, 0.0, fault.gamma_multiply(0.25));
    }
    // Marks: one quad per pixel column and kind, however many marks
    // share it.
    let observed = p.observed.borrow();
    let mut marks = egui::Mesh::default();
    let mut drawn = std::collections::BTreeSet::new();
    for m in &observed.marks {
        let at = x(m.at).round();
        if !drawn.insert((at as i32, m.fault)) {
            continue;
        }
        let colour = if m.fault { fault } else { pattern };
        let top = if m.fault { rect.top() } else { rect.center().y };
        marks.add_colored_rect(
            egui::Rect::from_x_y_ranges(at - 0.75..=at + 0.75, top..=rect.bottom()),
            colour,
        );
    }
    painter.add(marks);
    let now = x(p.now());
    painter.line_segment(
        [egui::pos2(now, rect.top()), egui::pos2(now, rect.bottom())],
        egui::Stroke::new(2.0, ui.visuals().strong_text_color()),
    );
    if let Some(pos) = response.hover_pos() {
        let near: Vec<String> = observed
            .marks
            .iter()
            .filter(|m| (x(m.at) - pos.x).abs() <= 4.0)
            .take(12)
            .map(|m| format!("{}  {}", SimDuration::from_nanos(m.at.as_nanos()), m.text))
            .chain(
                p.metrics()
                    .fault_windows()
                    .iter()
                    .filter(|w| {
                        x(w.start) - 4.0 <= pos.x && pos.x <= x(w.end.unwrap_or(p.end)) + 4.0
                    })
                    .map(|w| format!("fault: {}", w.label)),
            )
            .collect();
        if !near.is_empty() {
            response.clone().on_hover_text(near.join("\n"));
        }
    }
    if response.clicked()
        && let Some(pos) = response.interact_pointer_pos()
    {
        let share = ((pos.x - rect.left()) / rect.width()).clamp(0.0, 1.0) as f64;
        return Some(SimTime::ZERO + SimDuration::from_nanos((share * end as f64) as u64));
    }
    None
}

/// egui's look with square corners and no shadows. Where the GPU is
/// software (headless browsers, machines without a GPU) every triangle and
/// shaded pixel of a frame costs: a rounded, anti-aliased button is some
/// sixty triangles, a square one ten.
pub fn lean_style(style: &mut egui::Style) {
    let v = &mut style.visuals;
    for w in [
        &mut v.widgets.noninteractive,
        &mut v.widgets.inactive,
        &mut v.widgets.hovered,
        &mut v.widgets.active,
        &mut v.widgets.open,
    ] {
        w.corner_radius = egui::CornerRadius::ZERO;
    }
    v.window_corner_radius = egui::CornerRadius::ZERO;
    v.menu_corner_radius = egui::CornerRadius::ZERO;
    v.window_shadow = egui::Shadow::NONE;
    v.popup_shadow = egui::Shadow::NONE;
}

/// The app's state for tests and scripts, as JSON.
pub fn state_json(a: &App) -> String {
    let Some(p) = &a.player else {
        return json!({"story": null, "frames": a.frames, "error": a.error}).to_string();
    };
    let compare = a.compare.as_ref().map(|b| {
        json!({
            "variant": b.variant,
            "finished": b.is_finished(),
            "fingerprint": b.fingerprint(),
            "cut_short": b.cut_short(),
            "expectations": verdicts_json(b),
        })
    });
    let observed = p.observed.borrow();
    json!({
        "frames": a.frames,
        "story": p.name,
        "variant": p.variant,
        "seed": p.seed.to_string(),
        "time_s": secs(p.now()),
        "end_s": secs(p.end),
        "finished": p.is_finished(),
        "cut_short": p.cut_short(),
        "fingerprint": p.fingerprint(),
        "error": a.error,
        "expectations": verdicts_json(p),
        "changed_parameters": p.overrides.len(),
        "requests": observed.requests.len(),
        "marks": observed.marks.len(),
        "compare": compare,
    })
    .to_string()
}

/// The expectations' verdicts as a JSON list.
fn verdicts_json(p: &Player) -> Vec<serde_json::Value> {
    p.outcomes()
        .unwrap_or_default()
        .iter()
        .map(|o| match &o.verdict {
            Ok(v) => json!({
                "metric": v.metric,
                "holds": v.holds,
                "actual": v.actual.is_finite().then_some(v.actual),
            }),
            Err(e) => json!({"error": e}),
        })
        .collect()
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

/// A chart's lines: a name and its points (seconds, value).
pub type Lines = Vec<(String, Vec<[f64; 2]>)>;
/// A chart: its id, its title and its lines.
pub type Chart = (&'static str, String, Lines);

/// What the charts show, up to now: the panels of sim-core's chart model
/// (latency, goodput, queues, store load), with failures split by reason
/// (the model's failures per second, from the counters the player
/// samples), and stale reads and duplicate charges so far. A chart with
/// nothing to show is left out.
pub fn chart_data(p: &Player) -> Vec<Chart> {
    let model = sim_core::scenario::charts::Charts::new(&p.spec, p.metrics(), p.now());
    let interval = model.interval_s;
    let mut all: Vec<Chart> = model
        .panels
        .into_iter()
        .filter(|panel| panel.id != "failures")
        .map(|panel| {
            let lines = panel
                .lines
                .into_iter()
                .map(|l| {
                    let pts = l
                        .values
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| [(i as f64 + 0.5) * interval, v])
                        .collect();
                    (l.label, pts)
                })
                .collect();
            // Counts per second say their unit in the title already.
            let title = match panel.unit.as_str() {
                "ms" => format!("{} (ms)", panel.title),
                _ => panel.title,
            };
            (panel.id, title, lines)
        })
        .collect();
    all.extend(sampled_charts(p));
    // egui_plot cannot order NaN: an interval without a value is left out.
    all.into_iter()
        .map(|(id, title, lines)| {
            let lines: Lines = lines
                .into_iter()
                .map(|(name, pts)| {
                    let finite: Vec<[f64; 2]> =
                        pts.into_iter().filter(|p| p[1].is_finite()).collect();
                    (name, finite)
                })
                .collect();
            (id, title, lines)
        })
        .filter(|(_, _, lines)| lines.iter().any(|(_, pts)| !pts.is_empty()))
        .collect()
}

/// The charts of counts the models only total, from the player's
/// samples: failures per second by reason, stale reads and duplicate
/// charges so far.
fn sampled_charts(p: &Player) -> Vec<Chart> {
    let s = &p.samples;
    let at = |values: &[f64]| -> Vec<[f64; 2]> {
        s.times.iter().zip(values).map(|(&t, &v)| [t, v]).collect()
    };
    let interval = s.interval.as_nanos() as f64 / 1e9;
    let mut errors = Vec::new();
    let mut duplicates = Vec::new();
    let mut stale: Lines = s
        .stale
        .iter()
        .map(|(who, v)| (who.clone(), at(v)))
        .collect();
    for (name, values) in &s.counters {
        if let Some((who, reason)) = name.split_once(".failed.") {
            let rates: Vec<f64> = values
                .iter()
                .scan(0.0, |last, &v| {
                    let d = v - *last;
                    *last = v;
                    Some(d / interval)
                })
                .collect();
            // Reasons that never happened are left out.
            if values.last().is_some_and(|&v| v > 0.0) {
                errors.push((format!("{who} {reason}"), at(&rates)));
            }
        } else if let Some(who) = name.strip_suffix(".duplicate_charges") {
            duplicates.push((who.to_string(), at(values)));
        } else if let Some(who) = name.strip_suffix(".stale_reads")
            && !s.stale.contains_key(who)
        {
            stale.push((who.to_string(), at(values)));
        }
    }
    vec![
        ("errors", "failures per second, by reason".into(), errors),
        ("stale", "stale reads so far".into(), stale),
        ("duplicates", "duplicate charges so far".into(), duplicates),
    ]
}

/// Points a chart line keeps: about one per four pixels of a chart's
/// width. Every point costs triangles, and a software GPU pays for each.
pub const CHART_POINTS: usize = 100;

/// A line cut down to at most `CHART_POINTS` points: each run of points
/// becomes the one furthest from the run's mean, so spikes survive; the
/// last point is kept as it is.
fn thin(points: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    if points.len() <= CHART_POINTS {
        return points;
    }
    let run = points.len().div_ceil(CHART_POINTS);
    let last = *points.last().expect("more than CHART_POINTS points");
    let mut thinned: Vec<[f64; 2]> = points
        .chunks(run)
        .map(|c| {
            let mean = c.iter().map(|p| p[1]).sum::<f64>() / c.len() as f64;
            let far = c
                .iter()
                .max_by(|a, b| (a[1] - mean).abs().total_cmp(&(b[1] - mean).abs()))
                .expect("a chunk is never empty");
            [c[c.len() / 2][0], far[1]]
        })
        .collect();
    // The line ends where the data does (a count so far shows its total).
    if let Some(end) = thinned.last_mut() {
        *end = last;
    }
    thinned
}

/// Lines a chart draws at most (a hundred replicas' queues would bury
/// each other and fill the legend).
pub const CHART_LINES: usize = 8;

/// The `CHART_LINES` lines with the highest peaks (ties by name), in their
/// original order, and how many there were.
fn busiest(lines: Lines) -> (Lines, usize) {
    let all = lines.len();
    if all <= CHART_LINES {
        return (lines, all);
    }
    let peak = |pts: &[[f64; 2]]| pts.iter().map(|p| p[1]).fold(f64::MIN, f64::max);
    let mut ranked: Vec<usize> = (0..all).collect();
    ranked.sort_by(|&a, &b| {
        peak(&lines[b].1)
            .total_cmp(&peak(&lines[a].1))
            .then_with(|| lines[a].0.cmp(&lines[b].0))
    });
    ranked.truncate(CHART_LINES);
    ranked.sort_unstable();
    let keep: Vec<_> = lines
        .into_iter()
        .enumerate()
        .filter(|(i, _)| ranked.binary_search(i).is_ok())
        .map(|(_, l)| l)
        .collect();
    (keep, all)
}

/// The charts, two to a row, with the faults' start times marked.
fn charts(ui: &mut egui::Ui, p: &Player, side: &str) {
    let data = chart_data(p);
    let rows = data.len().div_ceil(2).max(1);
    let height = (ui.available_height() / rows as f32 - 24.0).max(60.0);
    let width = ui.available_width() / 2.0 - 8.0;
    let faults: Vec<f64> = p
        .metrics()
        .fault_windows()
        .iter()
        .map(|w| w.start.as_nanos() as f64 / 1e9)
        .collect();
    let mut data = data.into_iter();
    for _ in 0..rows {
        ui.horizontal(|ui| {
            for (id, title, lines) in data.by_ref().take(2) {
                let (lines, all) = busiest(lines);
                ui.vertical(|ui| {
                    if lines.len() < all {
                        ui.label(format!("{title} ({} highest of {all})", lines.len()));
                    } else {
                        ui.label(title);
                    }
                    Plot::new(format!("{side}-{id}"))
                        .height(height)
                        .width(width)
                        .legend(Legend::default())
                        .show_background(false)
                        // A sparse grid: egui_plot's default fades in three
                        // levels of lines, and every one is shaded.
                        .grid_spacing(egui::Rangef::new(60.0, 120.0))
                        .allow_scroll(false)
                        .show(ui, |plot| {
                            for (name, pts) in lines {
                                plot.line(Line::new(name, PlotPoints::from(thin(pts))));
                            }
                            for &t in &faults {
                                plot.vline(
                                    egui_plot::VLine::new("", t)
                                        .color(Color32::from_rgb(200, 60, 60).gamma_multiply(0.6)),
                                );
                            }
                        });
                });
            }
        });
    }
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
    fn thinned_lines_keep_their_spikes() {
        let mut line: Vec<[f64; 2]> = (0..1000).map(|i| [i as f64, 1.0]).collect();
        line[437][1] = 50.0;
        let thinned = thin(line.clone());
        assert!(thinned.len() <= CHART_POINTS);
        assert!(thinned.iter().any(|p| p[1] == 50.0), "the spike survives");
        assert!(
            thinned.windows(2).all(|w| w[0][0] < w[1][0]),
            "in time order"
        );
        line[999][1] = 7.0;
        assert_eq!(*thin(line.clone()).last().unwrap(), [999.0, 7.0]);
        let short = line[..50].to_vec();
        assert_eq!(thin(short.clone()), short);
    }

    #[test]
    fn a_crowded_chart_keeps_its_highest_lines() {
        let lines: Lines = (0..20)
            .map(|i| {
                (
                    format!("leaf-{i:02}"),
                    vec![[0.0, 0.0], [1.0, f64::from(i % 7)]],
                )
            })
            .collect();
        let (kept, all) = busiest(lines);
        assert_eq!(all, 20);
        let names: Vec<&str> = kept.iter().map(|(n, _)| n.as_str()).collect();
        // Peaks of 6 (leaf 6, 13), 5 (5, 12, 19), 4 (4, 11, 18): eight.
        assert_eq!(
            names,
            [
                "leaf-04", "leaf-05", "leaf-06", "leaf-11", "leaf-12", "leaf-13", "leaf-18",
                "leaf-19"
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
    }
}
