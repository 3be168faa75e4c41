//! What the web app costs natively, per story: the run as the CLI does it
//! (load, resolve, build and run, nothing watching) and the app's "run to end" (the same
//! run with the app's observer and samples). The first is the baseline the
//! browser's WebAssembly is measured against (`cargo xtask bench`).
//!
//! Run with `cargo bench -p sim-web --bench playback`. Each figure is the
//! median of several runs. With `FAULTLINE_NATIVE_OUT=<file>` it also
//! writes `story seed fingerprint native_ms app_ms` lines for the browser
//! measurement. `FAULTLINE_BENCH_QUICK=1`: one run each.

// A benchmark measures from outside with the wall clock; nothing it times
// feeds back into a simulation.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use sim_core::scenario::build::build;
use sim_core::scenario::library::STORIES;
use sim_core::scenario::load::load;
use sim_web::player::Player;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::var_os("FAULTLINE_BENCH_QUICK").is_some();
    let runs = if quick { 1 } else { 5 };
    let mut lines = String::new();
    println!("| story | events | native run (ms) | app run to end (ms) | app / native |");
    println!("|---|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    for (name, text) in STORIES {
        let seed = load(name, name, text)
            .expect("a shipped story loads")
            .resolve(None, &[])
            .expect("as written")
            .run
            .seed;
        let mut native = Vec::new();
        let mut app = Vec::new();
        let mut fingerprint = 0;
        let mut events = 0;
        for _ in 0..runs {
            // As the CLI runs it: load, resolve, build, run.
            let t = Instant::now();
            let spec = load(name, name, text)
                .expect("loads")
                .resolve(None, &[])
                .expect("as written");
            let mut built = build(&spec, seed).expect("builds");
            let report = built.run();
            native.push(t.elapsed().as_secs_f64() * 1e3);
            fingerprint = report.fingerprint.0;
            events = report.total_events;

            let t = Instant::now();
            let mut p = Player::new(name, text, None, Some(seed)).expect("opens");
            p.run_to_end();
            app.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(p.fingerprint(), format!("{fingerprint:016x}"));
        }
        let (native, app) = (median(native), median(app));
        ratios.push(app / native);
        println!(
            "| {name} | {events} | {native:.1} | {app:.1} | {:.2} |",
            app / native
        );
        lines.push_str(&format!(
            "{name} {seed} {fingerprint:016x} {native:.2} {app:.2}\n"
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
