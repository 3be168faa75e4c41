//! What the web app costs natively, per story: the run as the CLI does it
//! (load, resolve, build and run, nothing watching) and the app's "run to end" (the same
//! run with the app's observer and samples). The first is the baseline the
//! browser's WebAssembly is measured against (`cargo xtask bench`).
//!
//! Run with `cargo bench -p sim-web --bench playback`. Each figure is the
//! median over seven rounds of every story. With `FAULTLINE_NATIVE_OUT=<file>` it also
//! writes `story seed fingerprint native_ms app_ms` lines for the browser
//! measurement. `FAULTLINE_BENCH_QUICK=1`: one run each.

// A benchmark measures from outside with the wall clock; nothing it times
// feeds back into a simulation.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use sim_core::scenario::STORIES;
use sim_core::scenario::build;
use sim_core::scenario::load;
use sim_web::player::Player;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Story {
    name: &'static str,
    text: &'static str,
    seed: u64,
    native: Vec<f64>,
    app: Vec<f64>,
    fingerprint: u64,
    events: u64,
}

fn main() {
    let quick = std::env::var_os("FAULTLINE_BENCH_QUICK").is_some();
    let rounds = if quick { 1 } else { 7 };
    let mut stories: Vec<Story> = STORIES
        .iter()
        .map(|&(name, text)| Story {
            name,
            text,
            seed: load(name, name, text)
                .expect("a shipped story loads")
                .resolve(None, &[])
                .expect("as written")
                .run
                .seed,
            native: Vec::new(),
            app: Vec::new(),
            fingerprint: 0,
            events: 0,
        })
        .collect();
    // Rounds over every story rather than runs of one story in a row: the
    // machines are noisy in bursts, and a burst then spoils one round of a
    // few stories, which the median drops.
    for _ in 0..rounds {
        for s in &mut stories {
            let (name, text) = (s.name, s.text);
            // As the CLI runs it: load, resolve, build, run.
            let t = Instant::now();
            let spec = load(name, name, text)
                .expect("loads")
                .resolve(None, &[])
                .expect("as written");
            let mut built = build(&spec, s.seed).expect("builds");
            let report = built.run();
            s.native.push(t.elapsed().as_secs_f64() * 1e3);
            s.fingerprint = report.fingerprint.0;
            s.events = report.total_events;

            let t = Instant::now();
            let mut p = Player::new(name, text, None, Some(s.seed)).expect("opens");
            p.run_to_end();
            s.app.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(p.fingerprint(), format!("{:016x}", s.fingerprint));
        }
    }
    let mut lines = String::new();
    println!("| story | events | native run (ms) | app run to end (ms) | app / native |");
    println!("|---|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    for s in stories {
        let (native, app) = (median(s.native), median(s.app));
        ratios.push(app / native);
        println!(
            "| {} | {} | {native:.1} | {app:.1} | {:.2} |",
            s.name,
            s.events,
            app / native
        );
        lines.push_str(&format!(
            "{} {} {:016x} {native:.2} {app:.2}\n",
            s.name, s.seed, s.fingerprint
        ));
    }
    println!(
        "| median over {} stories | | | | {:.2} |",
        ratios.len(),
        median(ratios)
    );
    if let Some(out) = std::env::var_os("FAULTLINE_NATIVE_OUT") {
        std::fs::write(&out, lines).expect("writes the native figures");
    }
}
