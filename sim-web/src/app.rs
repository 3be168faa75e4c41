//! The app: the story library, the story beside the system, playback,
//! the topology, charts and the expectations' verdicts. It depends only
//! on egui, so it builds and is tested natively; `web.rs` puts it in a
//! browser.
//!
//! Its controls: the story library, the narrative (hideable,
//! `show_story`, drawn through `TextCache`), variants, seed, playback
//! (play, pause, step, run to end, speed, a time slider), the
//! fingerprint, share links and export, the parameters' sliders, and two
//! variants side by side (`compare`: a second `Player` kept at the first
//! one's target, seed, parameters and faults). `lean_style` squares
//! egui's corners (a rounded widget is dozens of triangles); `state_json`
//! is what browser tests read.

use crate::challenge_view;
use crate::chart_view::charts;
pub use crate::chart_view::{CHART_LINES, CHART_POINTS, Chart, Lines, chart_data};
use crate::editor::{self, Edited, Editor};
use crate::home::{self, Progress};
use crate::inspector::{inspector, verdicts};
use crate::params::{self, Param};
use crate::player::{FRAME_BUDGET, Player};
use crate::timeline::timeline;
use crate::topology;
use egui::{Color32, RichText};
use serde_json::json;
use sim_core::scenario::AS_WRITTEN;
use sim_core::scenario::STORIES;
use sim_core::scenario::spec::ChallengeSpec;
use sim_core::scenario::{LearningPath, learning_path};
use sim_core::scenario::{Shared, read_fragment, share_fragment};
use sim_core::{SimDuration, SimTime};
use std::collections::BTreeMap;

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
    /// The learner's answers to the stories' predictions.
    pub choices: crate::predict_view::Choices,
    /// The stories in chapters (or why the path does not load).
    pub path: Result<LearningPath, String>,
    /// The stories the learner has played to the end (`web.rs` keeps it
    /// in localStorage).
    pub progress: Progress,
    /// Where this frame drew the widgets a person clicks on the way
    /// through a story, by name: browser tests click at these places.
    pub places: Places,
    /// The challenge of the open story being taken, by index.
    pub challenge: Option<usize>,
    /// The challenge was just taken: scroll the story panel to show it.
    reveal_challenge: bool,
    /// A picture or a video the learner asked for, which the browser glue
    /// makes (`web.rs`) and takes from here.
    pub media: Option<Media>,
    /// A video is being recorded (the glue keeps this up to date).
    pub recording: bool,
    /// The `[[look]]` item clicked, by index: its node and line are
    /// highlighted until it is clicked again.
    pub focus: Option<usize>,
    /// The learner's own scenario as text, beside the system (`editor`).
    pub editor: Option<Editor>,
    /// The learner asked for the file dialog, which the browser glue
    /// opens (`web.rs`) and clears.
    pub asked_file: bool,
}

/// What a clicked "what to look for" item points at: its node and its
/// chart line, drawn highlighted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Focus {
    pub node: Option<String>,
    pub chart: Option<String>,
    pub line: Option<String>,
}

/// What the learner asked to export from the view.
#[derive(Clone, Debug, PartialEq)]
pub enum Media {
    /// A PNG of the current view, saved under this name.
    Picture(String),
    /// A WebM of the playback for this many seconds, under this name.
    Video(String, f64),
    /// End the recording now.
    StopVideo,
}

/// The colour of what a "what to look for" item highlights.
pub const FOCUS: Color32 = Color32::from_rgb(230, 150, 20);

/// How long "Record video" records unless stopped.
pub const VIDEO_SECONDS: f64 = 10.0;

/// Widgets' places by name, in points from the window's corner.
pub type Places = BTreeMap<String, egui::Rect>;

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

/// Why a file of `bytes` is not opened.
pub fn too_large(name: &str, bytes: usize) -> String {
    format!(
        "{name} cannot be opened: it is {bytes} bytes, and a scenario file opens here up to {} bytes (1 MiB)",
        sim_core::scenario::MAX_SCENARIO_BYTES
    )
}

/// A dropped file's name (the browser gives only the name).
pub fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dropped.toml".into())
}

fn secs(t: SimTime) -> f64 {
    t.as_nanos() as f64 / 1e9
}

impl App {
    pub fn new() -> Self {
        let path = learning_path();
        let mut stories: Vec<StoryEntry> = STORIES
            .iter()
            .map(|&(name, text)| StoryEntry {
                name,
                title: title_of(text),
                text,
            })
            .collect();
        // In the path's order; a story the path lacks (it has none) last.
        if let Ok(path) = &path {
            let order: Vec<&str> = path.steps().map(|(_, s)| s.name.as_str()).collect();
            stories.sort_by_key(|s| {
                order
                    .iter()
                    .position(|n| *n == s.name)
                    .unwrap_or(usize::MAX)
            });
        }
        App {
            stories,
            path,
            progress: Progress::default(),
            places: Places::new(),
            challenge: None,
            reveal_challenge: false,
            media: None,
            recording: false,
            focus: None,
            editor: None,
            asked_file: false,
            player: None,
            compare: None,
            params: Vec::new(),
            inspected: None,
            show_story: true,
            text: Default::default(),
            choices: Default::default(),
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
        self.editor = None;
        self.open(name, text, None, None);
    }

    /// Opens a scenario the learner brought (a dropped or picked file,
    /// pasted text) in the editor, and runs it if it loads; if it does
    /// not, the editor marks the error and nothing runs.
    pub fn open_text(&mut self, file: &str, text: &str) {
        let editor = Editor::new(file, text);
        if editor.error.is_none() {
            self.open(&editor.name(), text, None, None);
        } else {
            self.player = None;
            self.compare = None;
            self.error = None;
            self.params.clear();
        }
        self.editor = Some(editor);
    }

    /// The editor's text loads again: runs it, under the same variant (if
    /// it still has it) and seed, from the time the run was at.
    fn rerun_edited(&mut self) {
        let Some(ed) = &self.editor else { return };
        let (name, text) = (ed.name(), ed.text.clone());
        let Ok(scenario) = sim_core::scenario::load(&name, &ed.file, &text) else {
            return;
        };
        let (variant, seed, at) = match &self.player {
            Some(p) => (
                p.variant
                    .clone()
                    .filter(|v| scenario.spec.variants.contains_key(v)),
                Some(p.seed),
                p.now(),
            ),
            None => (None, None, SimTime::ZERO),
        };
        self.open(&name, &text, variant.as_deref(), seed);
        if let Some(p) = &mut self.player {
            p.seek(at);
        }
    }

    /// A file dropped on the window opens as the learner's scenario
    /// (natively; in the browser, `web.rs` reads it, which takes a
    /// promise, and calls `open_file`).
    #[cfg(not(target_arch = "wasm32"))]
    fn take_dropped(&mut self, ctx: &egui::Context) {
        let dropped = ctx.input(|i| i.raw.dropped_files.first().cloned());
        if let Some(f) = dropped {
            self.open_file(&file_name(f.path()), f.bytes());
        }
    }

    /// Opens a file's contents (or says why they cannot be read).
    pub fn open_file(&mut self, name: &str, bytes: Result<Vec<u8>, String>) {
        let bytes = match bytes {
            Ok(b) if b.len() > sim_core::scenario::MAX_SCENARIO_BYTES => {
                self.error = Some(too_large(name, b.len()));
                return;
            }
            other => other,
        };
        match bytes.and_then(sim_core::scenario::decode_text) {
            Ok(text) => self.open_text(name, &text),
            Err(e) => self.error = Some(format!("{name} cannot be opened: {e}")),
        }
    }

    fn open(&mut self, name: &str, text: &str, variant: Option<&str>, seed: Option<u64>) {
        self.share_link = None;
        self.exported = None;
        self.selection = Selection::default();
        self.compare = None;
        self.inspected = None;
        self.challenge = None;
        self.focus = None;
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

    /// Closes the open story and shows the home page.
    pub fn go_home(&mut self) {
        self.player = None;
        self.editor = None;
        self.compare = None;
        self.error = None;
        self.params.clear();
        self.inspected = None;
    }

    /// A run of a library story that played to its end, not cut short,
    /// marks the story done.
    fn note_progress(&mut self) {
        let Some(p) = &self.player else { return };
        if p.is_finished()
            && p.cut_short().is_none()
            && self
                .stories
                .iter()
                .any(|s| s.name == p.name && s.text == p.text)
        {
            self.progress.finish(&p.name);
        }
        if let Some(c) = self.challenge.and_then(|i| p.spec.challenges.get(i))
            && let Some((true, ..)) = challenge_view::verdict(p, c)
        {
            self.progress.win(&challenge_view::key(&p.name, c));
        }
    }

    /// The story after the open one on the path, with its title.
    fn next_story(&self) -> Option<(&'static str, String)> {
        let p = self.player.as_ref()?;
        let next = self.path.as_ref().ok()?.next_after(&p.name)?;
        let entry = self.stories.iter().find(|s| s.name == next.name)?;
        Some((entry.name, entry.title.clone()))
    }

    /// Opens what a share link's fragment carries, or says why it cannot.
    pub fn open_link(&mut self, fragment: &str) {
        match read_fragment(fragment) {
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
            share_fragment(&Shared {
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
        self.places.clear();
        self.text.begin_pass(&ctx);
        // Space plays and pauses, unless a text field has the keyboard.
        if !ctx.egui_wants_keyboard_input()
            && ctx.input(|i| i.key_pressed(egui::Key::Space))
            && let Some(p) = &mut self.player
        {
            p.toggle_play();
        }
        #[cfg(not(target_arch = "wasm32"))]
        self.take_dropped(&ctx);
        let dt = ctx.input(|i| f64::from(i.stable_dt)).min(0.1);
        if let Some(p) = &mut self.player {
            p.tick(dt, self.frame_budget);
            if p.playing || p.now() < p.target {
                ctx.request_repaint();
            }
        }
        self.follow(self.frame_budget);
        self.note_progress();
        if let Some(b) = &self.compare
            && b.now() < b.target
        {
            ctx.request_repaint();
        }
        egui::Panel::left("library")
            .resizable(true)
            .default_size(190.0)
            .show(ui, |ui| self.library(ui));
        if self.editor.is_some() {
            egui::Panel::right("editor")
                .resizable(true)
                .default_size(440.0)
                .show(ui, |ui| self.editor_panel(ui));
        }
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
            if ctx.input(|i| !i.raw.hovered_files.is_empty()) {
                ui.heading("Drop a scenario file (.toml) to open it.");
            }
            if self.player.is_some() {
                self.centre(ui);
            } else if self.editor.is_some() {
                ui.label("This scenario does not load yet: the editor marks what to fix, and it runs as soon as it loads.");
            } else {
                self.home(ui);
            }
        });
    }

    fn editor_panel(&mut self, ui: &mut egui::Ui) {
        let Some(ed) = &mut self.editor else { return };
        ed.build.now_s = self.player.as_ref().map_or(0.0, |p| secs(p.now()));
        match editor::show(ui, ed, &mut self.places) {
            Edited::Valid => self.rerun_edited(),
            Edited::Close => self.editor = None,
            Edited::Nothing | Edited::Broken => {}
        }
    }

    fn home(&mut self, ui: &mut egui::Ui) {
        let path = match &self.path {
            Ok(path) => path,
            Err(e) => {
                ui.colored_label(Color32::from_rgb(200, 60, 60), e);
                return;
            }
        };
        let stories = &self.stories;
        let title = |name: &str| {
            stories
                .iter()
                .find(|s| s.name == name)
                .map_or_else(|| name.to_string(), |s| s.title.clone())
        };
        let places = &mut self.places;
        let asked = home::show(ui, path, &self.progress, &title, &mut |n, r| {
            places.insert(n, r);
        });
        if let Some(name) = asked {
            self.open_story(&name);
        }
    }

    /// The library: home, then the stories by chapter, done ones marked.
    fn library(&mut self, ui: &mut egui::Ui) {
        let r = ui.selectable_label(self.player.is_none(), RichText::new("Home").strong());
        self.places.insert("home".into(), r.rect);
        if r.clicked() {
            self.go_home();
        }
        self.yours(ui);
        let current = self.player.as_ref().map(|p| p.name.clone());
        let chapter_of = |name: &str| {
            let path = self.path.as_ref().ok()?;
            path.steps().find(|(_, s)| s.name == name).map(|(i, _)| i)
        };
        let mut open = None;
        let mut shown_chapter = None;
        let text = &mut self.text;
        egui::ScrollArea::vertical().show(ui, |ui| {
            for s in &self.stories {
                let chapter = chapter_of(s.name);
                if chapter != shown_chapter
                    && let (Some(i), Ok(path)) = (chapter, &self.path)
                {
                    ui.add_space(4.0);
                    let weak = ui.visuals().weak_text_color();
                    text.label(ui, RichText::new(&path.chapters[i].title).color(weak));
                    shown_chapter = chapter;
                }
                // Drawn from cached textures, like the prose: sixteen names
                // in glyphs were some 400 triangles a frame.
                let mut label = RichText::new(s.name);
                if self.progress.is_done(s.name) {
                    label = label.color(Color32::from_rgb(60, 160, 80));
                }
                if current.as_deref() == Some(s.name) {
                    label = label
                        .strong()
                        .background_color(ui.visuals().selection.bg_fill);
                }
                if text.link(ui, label).on_hover_text(&s.title).clicked() {
                    open = Some(s.name);
                }
            }
        });
        if let Some(name) = open {
            self.open_story(name);
        }
    }

    /// The learner's own scenario: a file, or text to paste or write.
    fn yours(&mut self, ui: &mut egui::Ui) {
        let r = ui.button("Open a file...");
        self.places.insert("open-file".into(), r.rect);
        if r.clicked() {
            self.asked_file = true;
        }
        let r = ui.button("Start from an empty system");
        self.places.insert("empty".into(), r.rect);
        if r.clicked() {
            self.open_text("my-system.toml", crate::builder::EMPTY);
        }
        let r = ui.button("Write or paste one");
        self.places.insert("write".into(), r.rect);
        if r.clicked() {
            self.open_text("yours.toml", editor::STARTER);
        }
        if let Some(p) = &self.player
            && self.editor.is_none()
        {
            let r = ui.button("Edit this scenario");
            self.places.insert("edit".into(), r.rect);
            if r.clicked() {
                let (file, text) = (format!("{}.toml", p.name), p.text.clone());
                self.editor = Some(Editor::new(&file, &text));
            }
        }
        ui.weak("or drop a .toml file on the page");
    }

    fn story_panel(&mut self, ui: &mut egui::Ui) {
        let mut changed: Option<(String, toml::Value)> = None;
        let mut open_next = None;
        let mut taken = None;
        let mut clicked_look = None;
        let focus = self.focus;
        let next = self.next_story();
        let progress = &self.progress;
        let Some(p) = &self.player else { return };
        // The prose is drawn from cached textures (see `textcache`).
        let text = &mut self.text;
        let choices = &mut self.choices;
        let places = &mut self.places;
        egui::ScrollArea::vertical().show(ui, |ui| {
            text.label(ui, RichText::new(&p.spec.title).heading());
            text.label(ui, RichText::new(&p.spec.summary).italics());
            if p.is_finished()
                && let Some((name, title)) = next
            {
                let r = ui.button(format!("Next on the path: {title}"));
                places.insert("next".into(), r.rect);
                if r.clicked() {
                    open_next = Some(name);
                }
            }
            ui.separator();
            for paragraph in reflow(&p.spec.story) {
                text.label(ui, paragraph.replace("**", ""));
            }
            crate::predict_view::show(ui, p, choices, places);
            let won = |c: &ChallengeSpec| progress.has_won(&challenge_view::key(&p.name, c));
            let params = &self.params;
            taken = challenge_view::show(ui, text, p, params, (self.challenge, places), &won);
            if self.reveal_challenge {
                ui.scroll_to_cursor(Some(egui::Align::BOTTOM));
                self.reveal_challenge = false;
            }
            if !p.spec.look_for.is_empty() || !p.spec.looks.is_empty() {
                ui.separator();
                text.label(ui, RichText::new("What to look for").strong());
                for (i, look) in p.spec.looks.iter().enumerate() {
                    let words = format!("• {}", look.text.get_ref());
                    if look.node.is_none() && look.chart.is_none() {
                        text.label(ui, words);
                        continue;
                    }
                    let on = focus == Some(i);
                    let shown = if on {
                        RichText::new(words).color(FOCUS)
                    } else {
                        RichText::new(words).color(ui.visuals().hyperlink_color)
                    };
                    let r = text.link(ui, shown).on_hover_text("Click to highlight it");
                    places.insert(format!("look:{}", i + 1), r.rect);
                    if r.clicked() {
                        clicked_look = Some(i);
                    }
                }
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
                        if let Some(v) = params::slider(ui, param) {
                            changed = Some((param.path.clone(), v));
                        }
                    }
                });
        });
        if let Some((path, value)) = changed {
            self.set_parameter(&path, value);
        }
        if let Some(name) = open_next {
            self.open_story(name);
        }
        if let Some(asked) = taken {
            self.challenge_asked(asked);
        }
        if let Some(i) = clicked_look {
            self.focus = (self.focus != Some(i)).then_some(i);
        }
    }

    /// What the clicked "what to look for" item points at, if any.
    pub fn focused(&self) -> Option<Focus> {
        let look = self.player.as_ref()?.spec.looks.get(self.focus?)?;
        Some(Focus {
            node: look.node.as_ref().map(|n| n.get_ref().clone()),
            chart: look.chart.as_ref().map(|c| c.get_ref().clone()),
            line: look.line.clone(),
        })
    }

    /// Does what the challenges section asked for.
    pub fn challenge_asked(&mut self, asked: challenge_view::Asked) {
        use challenge_view::Asked;
        match asked {
            Asked::Take(i) => self.take_challenge(i),
            Asked::Set(path, value) => self.set_parameter(&path, value),
            Asked::Check => {
                if let Some(p) = &mut self.player {
                    p.run_to_end();
                }
            }
            Asked::Leave => self.challenge = None,
        }
    }

    /// Starts challenge `i` of the open story: its variant, no changed
    /// numbers, no faults added by hand, from the beginning.
    pub fn take_challenge(&mut self, i: usize) {
        let Some(p) = &mut self.player else { return };
        let Some(c) = p.spec.challenges.get(i) else {
            return;
        };
        let variant = c.variant.as_ref().map(|v| v.get_ref().clone());
        p.overrides.clear();
        p.user_faults.clear();
        let seed = p.seed;
        match p.rebuild(variant.as_deref(), seed) {
            Ok(()) => {
                self.challenge = Some(i);
                self.reveal_challenge = true;
            }
            Err(e) => self.error = Some(e),
        }
        self.inspected = None;
        self.refresh_params();
    }

    fn controls(&mut self, ui: &mut egui::Ui) {
        let mut asked = Asked::default();
        let comparing = self
            .compare
            .as_ref()
            .map(|b| b.variant.clone().unwrap_or_else(|| AS_WRITTEN.into()));
        let show_story = &mut self.show_story;
        if let Some(p) = &mut self.player {
            variant_row(ui, p, comparing.as_deref(), &mut asked, &mut self.places);
            let recording = self.recording;
            playback_row(ui, p, (show_story, recording), &mut asked, &mut self.places);
            if let Some(t) = timeline(ui, p) {
                p.seek(t);
            }
        }
        if let Some(v) = asked.compare {
            self.compare_with(v.as_deref());
        }
        if asked.to_end
            && let Some(b) = &mut self.compare
        {
            b.run_to_end();
        }
        if let Some(v) = asked.variant {
            self.choose_variant(v.as_deref());
        }
        if asked.share {
            self.share_link = self
                .share_fragment()
                .map(|f| format!("{}#{f}", self.base_url));
        }
        if asked.export {
            self.exported = self.player.as_ref().map(Player::export);
        }
        if let (Some(kind), Some(p)) = (asked.media, &self.player) {
            // Named for what it shows: story, variant, seed and time.
            let name = format!(
                "{}-{}-seed{}-{:.0}s",
                p.name,
                p.variant.as_deref().unwrap_or(AS_WRITTEN).replace(' ', "-"),
                p.seed,
                secs(p.now())
            );
            self.media = Some(match kind {
                0 => Media::Picture(format!("{name}.png")),
                _ if self.recording => Media::StopVideo,
                _ => Media::Video(format!("{name}.webm"), VIDEO_SECONDS),
            });
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
        let focus = self.focused();
        let focus = focus.as_ref();
        if self.compare.is_none() {
            let Some(p) = &mut self.player else { return };
            ui.allocate_ui(egui::vec2(ui.available_width(), height * 0.45), |ui| {
                action = topology::show(ui, p, &mut self.selection, focus);
            });
            charts(ui, p, "a", focus);
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
                            if let Some(act) = topology::show(ui, p, selection, focus) {
                                action = Some(act);
                            }
                        });
                        charts(ui, p, if i == 0 { "a" } else { "b" }, focus);
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
                inspector(&mut cols[1], p, &mut self.inspected, &mut self.text);
            }
        });
    }
}

/// What the user asked for in the controls this frame, done once the
/// player is no longer borrowed.
#[derive(Default)]
struct Asked {
    variant: Option<Option<String>>,
    compare: Option<Option<String>>,
    to_end: bool,
    share: bool,
    export: bool,
    /// 0: a picture; 1: a video (started or stopped).
    media: Option<u8>,
}

/// The variants, the side-by-side choice and the seed.
fn variant_row(
    ui: &mut egui::Ui,
    p: &mut Player,
    comparing: Option<&str>,
    asked: &mut Asked,
    places: &mut Places,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Variant:");
        let variants: Vec<String> = p.scenario.variants().map(str::to_string).collect();
        if ui
            .selectable_label(p.variant.is_none(), AS_WRITTEN)
            .clicked()
        {
            asked.variant = Some(None);
        }
        for v in variants {
            let on = p.variant.as_deref() == Some(v.as_str());
            let description = p
                .spec
                .variants
                .get(&v)
                .map(|s| s.get_ref().description.clone())
                .unwrap_or_default();
            let r = ui.selectable_label(on, &v).on_hover_text(description);
            places.insert(format!("variant:{v}"), r.rect);
            if r.clicked() {
                asked.variant = Some(Some(v));
            }
        }
        ui.separator();
        let shown = comparing.unwrap_or("off").to_string();
        egui::ComboBox::from_label("side by side")
            .selected_text(shown)
            .show_ui(ui, |ui| {
                let mut options = vec!["off".to_string(), AS_WRITTEN.to_string()];
                options.extend(p.scenario.variants().map(str::to_string));
                for o in options {
                    let on = comparing.unwrap_or("off") == o;
                    if ui.selectable_label(on, &o).clicked() {
                        asked.compare = Some((o != "off").then_some(o));
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
}

/// Playback, speed, time, the fingerprint, sharing and the story panel.
fn playback_row(
    ui: &mut egui::Ui,
    p: &mut Player,
    (show_story, recording): (&mut bool, bool),
    asked: &mut Asked,
    places: &mut Places,
) {
    ui.horizontal_wrapped(|ui| {
        let label = if p.playing { "Pause" } else { "Play" };
        let r = ui.button(label).on_hover_text("Space plays and pauses");
        places.insert("play".into(), r.rect);
        if r.clicked() {
            p.toggle_play();
        }
        if ui.button("Step").clicked() {
            p.step();
        }
        let r = ui.button("Run to end");
        places.insert("to-end".into(), r.rect);
        if r.clicked() {
            p.run_to_end();
            asked.to_end = true;
        }
        ui.add(
            egui::Slider::new(&mut p.speed, 0.1..=1000.0)
                .logarithmic(true)
                .suffix("×")
                .text("speed"),
        );
        let mut t = secs(p.target);
        let end = secs(p.end);
        // Shown to a tenth of a second, but never rounded: a slider with
        // fixed decimals writes the rounded time back every frame, which
        // seeked playback back a few milliseconds each frame (a replay).
        let slider = egui::Slider::new(&mut t, 0.0..=end)
            .text("time (s)")
            .custom_formatter(|v, _| format!("{v:.1}"));
        let r = ui.add(slider);
        if r.changed() && (r.dragged() || r.clicked() || r.has_focus()) {
            p.seek(SimTime::ZERO + SimDuration::from_nanos((t * 1e9) as u64));
        }
        // Fixed width, in monospace: the buttons after it must not move
        // while it counts, or a click meant for one lands on its neighbour.
        ui.monospace(format!(
            "now {:>10}",
            SimDuration::from_nanos(p.now().as_nanos()).to_string()
        ));
        ui.separator();
        ui.monospace(format!("fingerprint {}", p.fingerprint()));
        if ui.button("Share link").clicked() {
            asked.share = true;
        }
        if ui.button("Export scenario").clicked() {
            asked.export = true;
        }
        let r = ui
            .button("Save picture")
            .on_hover_text("A PNG of the view as it is now");
        places.insert("picture".into(), r.rect);
        if r.clicked() {
            asked.media = Some(0);
        }
        let label = if recording {
            "Stop recording"
        } else {
            "Record video"
        };
        let r = ui
            .button(label)
            .on_hover_text("A WebM of the playback, up to ten seconds");
        places.insert("video".into(), r.rect);
        if r.clicked() {
            asked.media = Some(1);
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
    let places: BTreeMap<&str, [f32; 4]> = a
        .places
        .iter()
        .map(|(n, r)| (n.as_str(), [r.min.x, r.min.y, r.width(), r.height()]))
        .collect();
    let Some(p) = &a.player else {
        return json!({
            "story": null,
            "frames": a.frames,
            "error": a.error,
            "home": a.editor.is_none(),
            "done": a.progress.done,
            "places": places,
            "editor": editor_json(a),
        })
        .to_string();
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
        "target_s": secs(p.target),
        "rebuilds": p.rebuilds,
        "end_s": secs(p.end),
        "finished": p.is_finished(),
        "cut_short": p.cut_short(),
        "fingerprint": p.fingerprint(),
        "error": a.error,
        "expectations": verdicts_json(p),
        "predictions": predictions_json(a, p),
        "changed_parameters": p.overrides.len(),
        "requests": observed.requests.len(),
        "marks": observed.marks.len(),
        "compare": compare,
        "captions": crate::narration::captions(&observed.marks, p.now(), crate::narration::window(p.speed))
            .iter()
            .map(|c| json!({"text": c.text, "node": c.node}))
            .collect::<Vec<_>>(),
        "home": false,
        "done": a.progress.done,
        "places": places,
        "editor": editor_json(a),
        "focus": a.focused().map(|f| json!({"node": f.node, "chart": f.chart, "line": f.line})),
        "challenge": challenge_json(a, p),
        "labels": labels_json(p),
    })
    .to_string()
}

/// Each node's label as the picture writes it ("lock api-worker #7").
fn labels_json(p: &Player) -> BTreeMap<String, String> {
    let names: Vec<String> = p.sim().nodes().map(|(_, n)| n.to_string()).collect();
    let edges = topology::links(&p.spec, &names);
    p.sim()
        .nodes()
        .map(|(id, name)| {
            let kind = topology::kind_of(&p.spec, name);
            (
                name.to_string(),
                topology::node_label(p.sim(), id, name, kind, &edges),
            )
        })
        .collect()
}

/// The challenge being taken: its title, and once the run has ended
/// whether the try won and what the goal read.
fn challenge_json(a: &App, p: &Player) -> serde_json::Value {
    let Some(c) = a.challenge.and_then(|i| p.spec.challenges.get(i)) else {
        return serde_json::Value::Null;
    };
    let verdict = challenge_view::verdict(p, c);
    json!({
        "title": c.title.get_ref(),
        "won": verdict.as_ref().map(|v| v.0),
        "measured": verdict.map(|v| v.1),
    })
}

/// The editor, if open: its file, and where its text does not load.
fn editor_json(a: &App) -> serde_json::Value {
    let Some(e) = &a.editor else {
        return serde_json::Value::Null;
    };
    let error = e.error.as_ref().map(|d| {
        json!({"line": d.line, "column": d.column, "message": d.message, "text": d.to_string()})
    });
    json!({"file": e.file, "error": error})
}

/// The predictions about the variant played: the learner's answer, and
/// once the run has ended the run's and what decided it.
fn predictions_json(a: &App, p: &Player) -> Vec<serde_json::Value> {
    sim_core::scenario::predictions_for(&p.spec, p.variant.as_deref())
        .enumerate()
        .map(|(i, q)| {
            let result = p.answered(i);
            json!({
                "question": q.question.get_ref(),
                "chosen": a.choices.get(&crate::predict_view::key(p, i)),
                "supported": result.and_then(|r| r.supported),
                "measured": result.map(|r| r.measured.clone()),
            })
        })
        .collect()
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
/// wraps its lines for editors, the panel wraps them for its width. A
/// fenced block (a command and its output) is one paragraph that keeps
/// its lines, without the fences.
pub fn reflow(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut fenced: Option<Vec<&str>> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with("```") {
            if let Some(block) = fenced.take() {
                out.push(block.join("\n"));
            } else {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                fenced = Some(Vec::new());
            }
            continue;
        }
        if let Some(block) = &mut fenced {
            block.push(raw.trim_end());
            continue;
        }
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
    fn a_fenced_block_keeps_its_lines() {
        let text = "It finds:\n\n```text\n$ faultline explore x\n  crash db at 1s\n```\n\nThen.\n";
        assert_eq!(
            reflow(text),
            [
                "It finds:",
                "$ faultline explore x\n  crash db at 1s",
                "Then."
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
