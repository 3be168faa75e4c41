//! The scenario loader never panics, whatever it is given: arbitrary text,
//! valid scenarios mutated byte- and line-wise, and stories with `--set`
//! overrides of random paths and values (the machinery behind `--set`,
//! variants and the web app's sliders). Inputs that still load are also
//! built and run briefly, so the builder cannot panic either. (The CLI's
//! own flags are fuzzed in sim-cli, `args::fuzz`.)
//!
//! The quick version runs in every test run. The long one is ignored by
//! default: `FAULTLINE_FUZZ_SECONDS=600 cargo test --release -p
//! faultline-tests fuzz_for -- --ignored --nocapture`.

use proptest::prelude::*;
use sim_core::SimRng;
use sim_core::scenario::build;
use sim_core::scenario::{load, parse_set_value};

/// The stories to mutate, chosen among by each input's seed.
const STORIES: &[&str] = &[
    include_str!("../../scenarios/double-charge.toml"),
    include_str!("../../scenarios/queues.toml"),
    include_str!("../../scenarios/cascading-failure.toml"),
    include_str!("../../scenarios/sick-node.toml"),
    include_str!("../../scenarios/tail-at-scale.toml"),
    include_str!("../../scenarios/abusive-client.toml"),
    include_str!("../../scenarios/aggressive-timeout.toml"),
    include_str!("../../scenarios/degrade-gracefully.toml"),
    include_str!("../../scenarios/thundering-herd.toml"),
    include_str!("../../scenarios/stale-cache.toml"),
    include_str!("../../scenarios/hot-shard.toml"),
    include_str!("../../scenarios/cap.toml"),
    include_str!("../../scenarios/eventually-wrong.toml"),
];

fn story(rng: &mut SimRng) -> &'static str {
    STORIES[rng.below(STORIES.len() as u64) as usize]
}

/// Tokens that make mutations likely to hit interesting parser paths.
const TOKENS: &[&str] = &[
    "\"",
    "'",
    "=",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    ",",
    ".",
    "\n",
    "#",
    "0",
    "-1",
    "1e999",
    "nan",
    "\"5ms\"",
    "\"0ms\"",
    "\"1d\"",
    "\"0/s\"",
    "\"1e300/s\"",
    "\"150%\"",
    "true",
    "\"\"",
    "kind",
    "\"client\"",
    "\"ledger\"",
    "name",
    "node",
    "variants",
    "set",
    "expect",
    "\"api\"",
    "\"user\"",
    "4294967296",
    "18446744073709551616",
    "é",
    "\u{0}",
    "\t",
    "replicas",
    "4000000000",
    "workers",
    "fanout",
    "{ quorum = 0 }",
    "\"all\"",
    "hang",
    "errors",
    "recover",
    "breaker",
    "{ window = 0 }",
    "pool",
    "rate_limit",
    "{ limit = 0, window = \"0s\" }",
    "shed",
    "priority",
    "hedge",
    "{ quantile = \"0%\" }",
    "mixture",
    "parts",
    "weight",
    "flag",
    "gate",
    "[[node.call]]",
    "to",
    "\"kv\"",
    "\"cache\"",
    "\"reader\"",
    "\"writer\"",
    "ttl",
    "replica",
    "session",
    "\"quorum_client\"",
    "quorum = { r = 0, w = 9 }",
    "reads_per_write",
    "think",
    "replication",
    "mode = \"quorum\"",
    "mode = \"leader\"",
    "sync",
    "r = 0",
    "w = 9",
    "conflicts = \"siblings\"",
    "zones",
    "clock_skew",
    "\"-3s\"",
    "failover_after",
    "anti_entropy",
    "drift_check",
    "jump",
    "pause",
    "lasting",
    "read_from",
    "read_your_writes",
    "read_share",
    "keys",
    "{ dist = \"zipf\", n = 0 }",
    "invalidate",
    "write_through",
    "\"router\"",
    "sharding",
    "reshard",
    "{ at = \"1s\", shards = 0 }",
];

fn mutate(source: &str, rng: &mut SimRng) -> String {
    let mut text = source.to_string();
    for _ in 0..=rng.below(4) {
        let len = text.len().max(1) as u64;
        let at = floor(&text, rng.below(len) as usize);
        match rng.below(6) {
            0 => {
                let end = floor(&text, (at + rng.below(40) as usize).min(text.len()));
                text.replace_range(at..end, "");
            }
            1 => text.insert_str(at, TOKENS[rng.below(TOKENS.len() as u64) as usize]),
            2 => {
                let lines: Vec<&str> = text.lines().collect();
                let i = rng.below(lines.len().max(1) as u64) as usize;
                let mut v: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
                if !v.is_empty() {
                    let line = v[i].clone();
                    v.insert(i, line);
                }
                text = v.join("\n");
            }
            3 => {
                let mut v: Vec<String> = text.lines().map(str::to_string).collect();
                if v.len() > 1 {
                    let (a, b) = (
                        rng.below(v.len() as u64) as usize,
                        rng.below(v.len() as u64) as usize,
                    );
                    v.swap(a, b);
                }
                text = v.join("\n");
            }
            4 => {
                let end = floor(&text, (at + 1).min(text.len()));
                let token = TOKENS[rng.below(TOKENS.len() as u64) as usize];
                text.replace_range(at..end, token);
            }
            _ => {
                let mut v: Vec<String> = text.lines().map(str::to_string).collect();
                if !v.is_empty() {
                    v.remove(rng.below(v.len() as u64) as usize);
                }
                text = v.join("\n");
            }
        }
    }
    text
}

fn floor(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Loads `text`; if it loads, builds and runs every variant briefly.
fn exercise(text: &str) {
    let Ok(scenario) = load("fuzz", "fuzz.toml", text) else {
        return;
    };
    let variants: Vec<Option<String>> = std::iter::once(None)
        .chain(scenario.variants().map(|v| Some(v.to_string())))
        .collect();
    let limits = [
        ("run.event_budget".to_string(), parse_set_value("5000")),
        ("run.duration".to_string(), parse_set_value("\"2s\"")),
    ];
    for v in variants {
        if let Ok(spec) = scenario.resolve(v.as_deref(), &limits)
            && let Ok(mut built) = build(&spec, 1)
        {
            built.run();
        }
    }
}

/// Paths and values for `--set`, chosen to reach real fields, tables and
/// arrays as well as nonsense.
const SET_PATHS: &[&str] = &[
    "run.duration",
    "run.seed",
    "run.event_budget",
    "run.memory_budget",
    "node.user.rate",
    "node.user.retry",
    "node.user.retry.attempts",
    "node.user.timeout",
    "node.api.workers",
    "node.api.queue",
    "node.api.service_time",
    "node.api.idempotency",
    "node.db.replicas",
    "node.db.heartbeat",
    "node.db.replication",
    "node.reader.keys",
    "node.root.call.leaf.hedge",
    "node.user.keys.n",
    "node",
    "node.",
    ".",
    "",
    "link",
    "fault",
    "variants.x.set",
    "expect",
    "node.user",
    "node.nobody.rate",
    "network.latency",
];
const SET_VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "4294967296",
    "18446744073709551616",
    "1e999",
    "nan",
    "inf",
    "true",
    "\"\"",
    "\"5ms\"",
    "\"0s\"",
    "\"1ns\"",
    "\"1e12/s\"",
    "\"150%\"",
    "\"lots\"",
    "{ n = 0 }",
    "{ attempts = 0 }",
    "{ dist = \"zipf\", n = 1000000000, s = 1.0 }",
    "[1, 2]",
    "[[\"east\"], [\"east\"]]",
    "{",
    "=",
    "\"1GiB\"",
    "é",
    "\"\u{0}\"",
];

/// A story with one to three random `--set` overrides: resolving never
/// panics, and what resolves builds and runs briefly.
fn exercise_sets(rng: &mut SimRng) {
    let text = story(rng);
    let scenario = load("fuzz", "fuzz.toml", text).expect("a shipped story loads");
    let mut sets: Vec<(String, toml::Value)> = (0..=rng.below(3))
        .map(|_| {
            let path = SET_PATHS[rng.below(SET_PATHS.len() as u64) as usize];
            let value = SET_VALUES[rng.below(SET_VALUES.len() as u64) as usize];
            (path.to_string(), parse_set_value(value))
        })
        .collect();
    sets.push(("run.event_budget".to_string(), parse_set_value("5000")));
    let variants: Vec<Option<&str>> = std::iter::once(None)
        .chain(scenario.variants().map(Some))
        .collect();
    let variant = variants[rng.below(variants.len() as u64) as usize];
    if let Ok(spec) = scenario.resolve(variant, &sets)
        && let Ok(mut built) = build(&spec, 1)
    {
        built.run();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        exercise(&text);
    }

    #[test]
    fn random_overrides_never_panic(seed in any::<u64>()) {
        let mut rng = SimRng::for_component(seed, "fuzz-set");
        exercise_sets(&mut rng);
    }

    #[test]
    fn mutated_scenarios_never_panic(seed in any::<u64>()) {
        let mut rng = SimRng::for_component(seed, "fuzz");
        let text = mutate(story(&mut rng), &mut rng);
        exercise(&text);
    }
}

#[test]
#[ignore = "long: set FAULTLINE_FUZZ_SECONDS and run with --ignored"]
fn fuzz_for_a_while() {
    #![allow(clippy::disallowed_methods)]
    let seconds: u64 = std::env::var("FAULTLINE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let start = std::time::Instant::now();
    let mut rng = SimRng::for_component(std::process::id().into(), "long-fuzz");
    let (mut cases, mut loaded) = (0u64, 0u64);
    while start.elapsed().as_secs() < seconds {
        let base = story(&mut rng);
        let text = mutate(base, &mut rng);
        let result = std::panic::catch_unwind(|| exercise(&text));
        if result.is_err() {
            panic!("the loader panicked on this input after {cases} cases:\n{text}");
        }
        let mut set_rng = SimRng::for_component(cases, "long-fuzz-set");
        if std::panic::catch_unwind(move || exercise_sets(&mut set_rng)).is_err() {
            panic!("--set overrides panicked after {cases} cases");
        }
        if load("fuzz", "fuzz.toml", &text).is_ok() {
            loaded += 1;
        }
        cases += 1;
    }
    println!("fuzz: {cases} inputs in {seconds}s, {loaded} of them loaded, no panics");
}

/// The fuzzer's first find: a log-normal with a p99 of five days draws
/// durations beyond the range of simulated time, which overflowed the
/// clock. Such delays now saturate at the end of time.
#[test]
fn regression_a_huge_p99_does_not_overflow_the_clock() {
    let text = STORIES[0].replace("p99 = \"80ms\"", "p99 = \"429496729680ms\"");
    assert_ne!(text, STORIES[0]);
    exercise(&text);
}
