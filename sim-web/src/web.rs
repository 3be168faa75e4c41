//! The browser glue: starts the app on the page's canvas, opens the link
//! in the URL fragment, and exports functions that browser tests call
//! (state as JSON strings: a u64 would arrive as a BigInt).

use crate::app::App;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

thread_local! {
    static APP: RefCell<Option<Rc<RefCell<App>>>> = const { RefCell::new(None) };
}

fn with_app<T>(f: impl FnOnce(&mut App) -> T) -> Option<T> {
    APP.with(|a| a.borrow().as_ref().map(|app| f(&mut app.borrow_mut())))
}

/// The egui side: draws the shared app every frame.
struct Shell(Rc<RefCell<App>>);

impl eframe::App for Shell {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.0.borrow_mut().ui(ui);
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
    app.base_url = href.split('#').next().unwrap_or_default().to_string();
    if hash.len() > 1 {
        app.open_link(&hash);
    }
    let app = Rc::new(RefCell::new(app));
    APP.with(|a| *a.borrow_mut() = Some(app.clone()));
    eframe::WebRunner::new()
        .start(
            canvas,
            eframe::WebOptions::default(),
            Box::new(move |_cc| Ok(Box::new(Shell(app)))),
        )
        .await
}

/// Opens story `name`.
#[wasm_bindgen]
pub fn open_story(name: &str) {
    with_app(|a| a.open_story(name));
}

/// Chooses a variant of the open story ("" for as written).
#[wasm_bindgen]
pub fn choose_variant(variant: &str) {
    with_app(|a| a.choose_variant((!variant.is_empty()).then_some(variant)));
}

/// Starts playback at `speed` simulated seconds per second.
#[wasm_bindgen]
pub fn play(speed: f64) {
    with_app(|a| {
        if let Some(p) = &mut a.player {
            p.speed = speed;
            p.playing = true;
        }
    });
}

/// The app's state as JSON: story, variant, seed, time, end, finished,
/// fingerprint, error, and the expectations' verdicts once finished.
#[wasm_bindgen]
pub fn state() -> String {
    with_app(|a| crate::app::state_json(a)).unwrap_or_else(|| "null".into())
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
    with_app(|a| a.share_fragment().unwrap_or_default()).unwrap_or_default()
}
