//! The golden file: the fingerprint of every story × variant on seed 1,
//! and of the reference runs, pinned in `tests/golden/fingerprints.txt`.
//!
//! A restructuring commit changes none of it. A commit that changes
//! behaviour rewrites the file in a commit of its own (run the tests with
//! `FAULTLINE_UPDATE_GOLDEN=1`) and says which lines moved and why. Each
//! line also carries the run's event count and a hash of every counter
//! after the checkers ran, so a checker's changed verdict shows up even
//! when the event stream did not move.

use sim_core::scenario::build;
use sim_core::scenario::load;
use std::hash::Hasher;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .into()
}

fn golden_path() -> PathBuf {
    root().join("tests/golden/fingerprints.txt")
}

/// What running every story × variant on seed 1 gave: the golden lines,
/// and the metrics recorded that their kinds do not declare. Both tests
/// below read it; it is made once.
struct Runs {
    lines: Vec<String>,
    undeclared: Vec<String>,
}

fn runs() -> &'static Runs {
    static RUNS: std::sync::OnceLock<Runs> = std::sync::OnceLock::new();
    RUNS.get_or_init(run_every_story)
}

/// The metrics a run recorded that no kind of its scenario declares.
fn undeclared(spec: &sim_core::scenario::ScenarioSpec, m: &sim_core::Metrics) -> Vec<String> {
    use sim_core::scenario::kinds::metrics::{Shape, declares, recorders};
    let recorders = recorders(spec);
    let mut recorded: Vec<(&str, Shape)> = m.counters().map(|(n, _)| (n, Shape::Counter)).collect();
    recorded.extend(m.gauges().map(|(n, _)| (n, Shape::Gauge)));
    recorded.extend(m.histograms().map(|(n, _)| (n, Shape::Histogram)));
    recorded
        .into_iter()
        .filter(|(name, shape)| !declares(&recorders, name, *shape))
        .map(|(name, shape)| format!("{name} ({shape:?})"))
        .collect()
}

/// `name variant fingerprint events counters`, one line per run.
fn run_every_story() -> Runs {
    let mut lines = Vec::new();
    let mut missing = Vec::new();
    for (name, text) in sim_core::scenario::STORIES {
        let scenario = load(name, &format!("{name}.toml"), text).unwrap_or_else(|d| panic!("{d}"));
        let variants = std::iter::once(None).chain(scenario.variants().map(Some));
        for variant in variants {
            let spec = scenario.resolve(variant, &[]).unwrap();
            let mut built = build(&spec, 1).unwrap();
            let report = built.run();
            for metric in undeclared(&spec, built.sim.metrics()) {
                missing.push(format!("{name} {}: {metric}", variant.unwrap_or("-")));
            }
            let mut counters = sim_core::StableHasher::default();
            for (metric, value) in built.sim.metrics().counters() {
                counters.write(metric.as_bytes());
                counters.write_u64(value);
            }
            lines.push(format!(
                "{name} {} {} {} {:016x}",
                variant.unwrap_or("-"),
                report.fingerprint,
                report.total_events,
                counters.finish()
            ));
        }
    }
    Runs {
        lines,
        undeclared: missing,
    }
}

fn reference_lines() -> Vec<String> {
    [1u64, 2, 3, 0xdead_beef]
        .iter()
        .map(|&seed| {
            format!(
                "reference seed-{seed} {:016x}",
                wasm_probe::reference_fingerprint(seed)
            )
        })
        .collect()
}

const HEADER: &str = "\
# Fingerprints of every story x variant on seed 1, and of the reference runs.
# story variant(- is the scenario as written) fingerprint events counters-hash
# Regenerate with FAULTLINE_UPDATE_GOLDEN=1 cargo test -p faultline-tests golden,
# in a commit of its own that says which lines moved and why.
";

#[test]
fn every_story_and_variant_matches_the_golden_file() {
    let mut now = runs().lines.clone();
    now.extend(reference_lines());
    let text = format!("{HEADER}{}\n", now.join("\n"));
    if std::env::var_os("FAULTLINE_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_path().parent().unwrap()).unwrap();
        std::fs::write(golden_path(), &text).unwrap();
        return;
    }
    let pinned = std::fs::read_to_string(golden_path()).expect("tests/golden/fingerprints.txt");
    let pinned: Vec<&str> = pinned
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    let key = |l: &str| l.split(' ').take(2).collect::<Vec<_>>().join(" ");
    let mut moved = Vec::new();
    for line in &now {
        match pinned.iter().find(|p| key(p) == key(line)) {
            Some(p) if p == line => {}
            Some(p) => moved.push(format!("  moved: {p}\n      now: {line}")),
            None => moved.push(format!("  new:   {line}")),
        }
    }
    for p in &pinned {
        if !now.iter().any(|l| key(l) == key(p)) {
            moved.push(format!("  gone:  {p}"));
        }
    }
    assert!(
        moved.is_empty(),
        "behaviour changed; if on purpose, regenerate tests/golden/fingerprints.txt \
         (FAULTLINE_UPDATE_GOLDEN=1) in its own commit and say why:\n{}",
        moved.join("\n")
    );
}

/// Every metric a story records is declared by its node's kind (or the
/// network's), so the check at load that an expectation names a metric
/// the scenario can produce never refuses a metric a run would have.
#[test]
fn every_metric_a_story_records_is_declared_by_its_kind() {
    let missing = &runs().undeclared;
    assert!(
        missing.is_empty(),
        "recorded but not declared by their kinds (scenario/kinds/):\n{}",
        missing.join("\n")
    );
}
