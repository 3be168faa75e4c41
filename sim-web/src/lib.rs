//! Faultline in the browser: the story library, played on the same
//! sim-core as the CLI, with no server beyond static files.
//!
//! Everything but the browser glue depends only on egui, so it builds and
//! is tested natively (`app`, `home`, `challenge_view`, `editor`, `builder`, `player`,
//! `topology`, `bars`, `observe`, `sample`, `params`, `textcache`);
//! `web` (wasm32 only) starts the app in a canvas with eframe and exports
//! a few functions for browser tests.

pub mod app;
pub mod bars;
pub mod builder;
pub mod challenge_view;
pub mod chart_view;
pub mod editor;
pub mod home;
pub mod inspector;
pub mod narration;
pub mod observe;
pub mod params;
pub mod player;
pub mod predict_view;
pub mod sample;
pub mod textcache;
pub mod timeline;
pub mod topology;
#[cfg(target_arch = "wasm32")]
mod web;

pub use app::App;

/// Runs story `name` (variant, seed) to its end without drawing, and
/// returns its fingerprint: what the browser test compares with the
/// native run.
pub fn story_fingerprint(name: &str, variant: Option<&str>, seed: u64) -> Result<String, String> {
    let (_, text) = sim_core::scenario::STORIES
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| format!("there is no story called `{name}`"))?;
    let mut p = player::Player::new(name, text, variant, Some(seed))?;
    p.run_to_end();
    Ok(p.fingerprint())
}
