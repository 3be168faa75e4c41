//! The browser glue: starts the app on the page's canvas, opens the link
//! in the URL fragment, and exports functions that browser tests call
//! (state as JSON strings: a u64 would arrive as a BigInt).

use crate::app::App;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

thread_local! {
    static APP: RefCell<Option<Rc<RefCell<App>>>> = const { RefCell::new(None) };
    /// egui's context, once the first frame ran: calls from JavaScript
    /// change the app outside a frame and must ask for one.
    static CTX: RefCell<Option<egui::Context>> = const { RefCell::new(None) };
    /// The panels' colour, which the canvas is cleared to.
    static PANEL_FILL: std::cell::Cell<Option<egui::Color32>> = const { std::cell::Cell::new(None) };
}

fn with_app<T>(f: impl FnOnce(&mut App) -> T) -> Option<T> {
    let out = APP.with(|a| a.borrow().as_ref().map(|app| f(&mut app.borrow_mut())));
    CTX.with(|c| {
        if let Some(ctx) = c.borrow().as_ref() {
            ctx.request_repaint();
        }
    });
    out
}

/// Reads the app without asking for a frame: a test polling the state of
/// a paused page must not make it draw.
fn read_app<T>(f: impl FnOnce(&App) -> T) -> Option<T> {
    APP.with(|a| a.borrow().as_ref().map(|app| f(&app.borrow())))
}

/// The egui side: draws the shared app every frame.
struct Shell(Rc<RefCell<App>>);

impl eframe::App for Shell {
    /// The panels' colour: the canvas is cleared to it, and the panels
    /// draw no background of their own (see `ui`).
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        PANEL_FILL
            .with(|f| f.get())
            .unwrap_or(visuals.panel_fill)
            .to_normalized_gamma_f32()
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        CTX.with(|c| {
            if c.borrow().is_none() {
                *c.borrow_mut() = Some(ui.ctx().clone());
                // Where the GPU is software, every pixel a frame shades
                // costs: clearing the canvas to the panels' colour is far
                // cheaper than painting each panel's background over it.
                let fill = ui.ctx().global_style().visuals.panel_fill;
                PANEL_FILL.with(|f| f.set(Some(fill)));
                ui.ctx()
                    .all_styles_mut(|s| s.visuals.panel_fill = egui::Color32::TRANSPARENT);
            }
        });
        // A file dropped on the page: the browser reads it with a promise,
        // and the app opens it when it is read.
        if let Some(f) = ui.ctx().input(|i| i.raw.dropped_files.first().cloned()) {
            let app = self.0.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let name = crate::app::file_name(f.path());
                let bytes = f.bytes_async().await;
                app.borrow_mut().open_file(&name, bytes);
                redraw();
            });
        }
        let mut app = self.0.borrow_mut();
        app.recording = matches!(export_recording(), Ok(v) if v.as_bool() == Some(true));
        app.ui(ui);
        if let Some(media) = app.media.take() {
            let done = match &media {
                crate::app::Media::Picture(name) => export_png(name),
                crate::app::Media::Video(name, seconds) => export_record(name, *seconds),
                crate::app::Media::StopVideo => export_stop(),
            };
            if let Err(e) = done {
                app.error = Some(format!("This page cannot export: {e:?}"));
            }
        }
        if std::mem::take(&mut app.asked_file)
            && let Err(e) = pick_file()
        {
            app.error = Some(format!("This page cannot open files: {e:?}"));
        }
        if app.progress.unsaved {
            save_progress(&app.progress.to_json());
            app.progress.unsaved = false;
        }
    }
}

// The page's export helpers (`index.html`): a PNG from the canvas's
// stream, and a WebM recorded by MediaRecorder. Caught: a page without
// them gets a message, not a crash.
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = faultlineExport, js_name = png)]
    fn export_png(name: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_namespace = faultlineExport, js_name = record)]
    fn export_record(name: &str, seconds: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_namespace = faultlineExport, js_name = stop)]
    fn export_stop() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_namespace = faultlineExport, js_name = recording)]
    fn export_recording() -> Result<JsValue, JsValue>;
    /// The page's file dialog, which calls `open_text` with what was
    /// picked.
    #[wasm_bindgen(catch, js_namespace = faultlineFiles, js_name = pick)]
    fn pick_file() -> Result<JsValue, JsValue>;
}

/// Where the learner's progress is kept in the browser.
const PROGRESS_KEY: &str = "faultline.progress";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Progress as the browser kept it ("" if none, or if storage is off).
fn load_progress() -> String {
    storage()
        .and_then(|s| s.get_item(PROGRESS_KEY).ok().flatten())
        .unwrap_or_default()
}

/// Keeps progress; a browser that refuses (private mode, full) keeps it
/// for this page only.
fn save_progress(json: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(PROGRESS_KEY, json);
    }
}

/// Starts the app on the canvas with id `canvas_id`.
#[wasm_bindgen]
pub async fn start(canvas_id: String) -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let canvas = document
        .get_element_by_id(&canvas_id)
        .ok_or_else(|| format!("no element with id `{canvas_id}`"))?
        .dyn_into::<web_sys::HtmlCanvasElement>()?;
    let location = window.location();
    let href = location.href().unwrap_or_default();
    let hash = location.hash().unwrap_or_default();
    let mut app = App::new();
    app.progress = crate::home::Progress::from_json(&load_progress());
    app.base_url = href.split('#').next().unwrap_or_default().to_string();
    if hash.len() > 1 {
        app.open_link(&hash);
    }
    let app = Rc::new(RefCell::new(app));
    APP.with(|a| *a.borrow_mut() = Some(app.clone()));
    eframe::WebRunner::new()
        .start(
            canvas,
            eframe::WebOptions {
                // egui's shader dithers every pixel against banding in
                // gradients, which this app does not draw; off, each frame
                // costs a software GPU less.
                dithering: false,
                ..eframe::WebOptions::default()
            },
            Box::new(move |_cc| Ok(Box::new(Shell(app)))),
        )
        .await
}

/// Asks for a frame (the page's picture export waits for one).
#[wasm_bindgen]
pub fn redraw() {
    with_app(|_| ());
}

/// Shows the home page.
#[wasm_bindgen]
pub fn go_home() {
    with_app(App::go_home);
}

/// Opens story `name`.
#[wasm_bindgen]
pub fn open_story(name: &str) {
    with_app(|a| a.open_story(name));
}

/// Opens `text` as the learner's own scenario from file `name` (the
/// page's file dialog calls it; so can a test): in the editor, and run if
/// it loads.
#[wasm_bindgen]
pub fn open_text(name: &str, text: &str) {
    with_app(|a| a.open_text(name, text));
}

/// A file the page's dialog picked that is too large to read: refused
/// with the size, before the page reads it.
#[wasm_bindgen]
pub fn refuse_file(name: &str, bytes: f64) {
    with_app(|a| a.error = Some(crate::app::too_large(name, bytes as usize)));
}

/// The editor's text ("" when it is closed).
#[wasm_bindgen]
pub fn editor_text() -> String {
    read_app(|a| {
        a.editor
            .as_ref()
            .map(|e| e.text.clone())
            .unwrap_or_default()
    })
    .unwrap_or_default()
}

/// Chooses a variant of the open story ("" for as written).
#[wasm_bindgen]
pub fn choose_variant(variant: &str) {
    with_app(|a| a.choose_variant((!variant.is_empty()).then_some(variant)));
}

/// Starts playback at `speed` simulated seconds per second; a speed of
/// zero or less pauses, as `pause` does.
#[wasm_bindgen]
pub fn play(speed: f64) {
    with_app(|a| {
        if let Some(p) = &mut a.player {
            if speed > 0.0 {
                p.speed = speed;
                p.playing = true;
            } else {
                p.playing = false;
            }
        }
    });
}

/// Pauses playback: once the run has reached the time it was asked for,
/// the page draws nothing more until something changes.
#[wasm_bindgen]
pub fn pause() {
    play(0.0);
}

/// Moves the open run to `seconds` of simulated time (forwards in slices,
/// per frame; backwards by replaying), without stopping playback.
#[wasm_bindgen]
pub fn seek(seconds: f64) {
    with_app(|a| {
        if let Some(p) = &mut a.player {
            let t = sim_core::SimTime::ZERO
                + sim_core::SimDuration::from_nanos((seconds.max(0.0) * 1e9) as u64);
            p.seek(t);
        }
    });
}

/// Plays `variant` side by side with the open run ("as written" for the
/// scenario as written, "" to stop comparing).
#[wasm_bindgen]
pub fn compare(variant: &str) {
    with_app(|a| a.compare_with((!variant.is_empty()).then_some(variant)));
}

/// Sets a parameter as `--set` would (`path`, and the value as TOML, e.g.
/// `"100ms"` with its quotes, or `4`); errors show in the state.
#[wasm_bindgen]
pub fn set_parameter(path: &str, value: &str) {
    with_app(|a| match value.parse::<toml::Value>() {
        Ok(v) => a.set_parameter(path, v),
        Err(e) => a.error = Some(format!("{path}: `{value}` is not a TOML value: {e}")),
    });
}

/// Shows or hides the story panel.
#[wasm_bindgen]
pub fn show_story(shown: bool) {
    with_app(|a| a.show_story = shown);
}

/// The app's state as JSON: story, variant, seed, time, end, finished,
/// fingerprint, error, and the expectations' verdicts once finished.
#[wasm_bindgen]
pub fn state() -> String {
    read_app(crate::app::state_json).unwrap_or_else(|| "null".into())
}

/// Runs story `name` to its end without drawing; its fingerprint.
#[wasm_bindgen]
pub fn story_fingerprint(name: &str, variant: &str, seed: f64) -> Result<String, JsValue> {
    let variant = (!variant.is_empty()).then_some(variant);
    crate::story_fingerprint(name, variant, seed as u64).map_err(|e| JsValue::from_str(&e))
}

/// The share fragment of the open run.
#[wasm_bindgen]
pub fn share_fragment() -> String {
    read_app(|a| a.share_fragment().unwrap_or_default()).unwrap_or_default()
}
