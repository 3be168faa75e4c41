//! Fault search and shrinking (issue 19): the faults a seed draws stay
//! within the `[search]` bounds, are the same for the same seed and vary
//! (kinds too, swarm-style) across seeds; a schedule that breaks an
//! expectation shrinks to a known minimal counterexample, the same one
//! every time; and the reproducer file replays exactly.

use sim_core::scenario::{Bounds, Case, Drawn, FaultKind, Outcome, Probe, shrink};
use sim_core::scenario::{Scenario, build, load};
use std::collections::BTreeSet;

/// Users call `api`, which calls `db`; `db` has two replicas behind
/// `api`, which retries once. A single call fails when `db` is down.
const SYSTEM: &str = r#"
title = "t"
summary = "s"
[run]
duration = "60s"
[network]
latency = "1ms"
[[node]]
name = "db"
kind = "service"
workers = 8
service_time = "2ms"
[[node]]
name = "user"
kind = "client"
rate = "50/s"
target = "db"
timeout = "1s"
[search]
faults = ["crash", "slow", "clock", "pause", "partition", "one_way", "errors"]
targets = ["db"]
most = 4
at_once = 2
from = "5s"
until = "50s"
longest = "8s"
[[expect]]
metric = "user.failed"
op = "<"
value = 1
because = "every call is answered"
"#;

fn scenario() -> Scenario {
    load("t", "t.toml", SYSTEM).unwrap_or_else(|d| panic!("{d}"))
}

fn bounds(s: &Scenario) -> Bounds {
    Bounds::of(&s.resolve(None, &[]).unwrap()).unwrap()
}

#[test]
fn each_seed_draws_its_own_faults_within_the_bounds() {
    let s = scenario();
    let b = bounds(&s);
    let mut kinds_seen: BTreeSet<Vec<FaultKind>> = BTreeSet::new();
    let mut schedules = BTreeSet::new();
    for seed in 1..=60 {
        let drawn = b.draw(seed);
        assert_eq!(drawn, b.draw(seed), "the same seed draws the same");
        assert!(!drawn.is_empty() && drawn.len() <= 4, "{drawn:?}");
        for d in &drawn {
            assert_eq!(d.target, "db");
            assert!(
                d.at_ms >= 5_000 && d.at_ms + d.lasting_ms <= 50_000,
                "{d:?}"
            );
            assert!(d.lasting_ms >= 1 && d.lasting_ms <= 8_000, "{d:?}");
            // One fault at a time on a target (here every fault's).
            let together = drawn
                .iter()
                .filter(|o| o.at_ms < d.at_ms + d.lasting_ms && d.at_ms < o.at_ms + o.lasting_ms)
                .count();
            assert_eq!(together, 1, "{drawn:?}");
        }
        let mut kinds: Vec<FaultKind> = drawn.iter().map(|d| d.kind).collect();
        kinds.sort();
        kinds.dedup();
        kinds_seen.insert(kinds);
        schedules.insert(format!("{drawn:?}"));
    }
    assert_eq!(schedules.len(), 60, "every seed its own schedule");
    assert!(
        kinds_seen.len() >= 15,
        "swarm: many combinations of kinds, {kinds_seen:?}"
    );
    let all: BTreeSet<FaultKind> = kinds_seen.iter().flatten().copied().collect();
    assert_eq!(all.len(), 7, "every allowed kind is drawn on some seed");
}

#[test]
fn drawn_faults_are_plain_faults_that_the_run_applies() {
    let s = scenario();
    let b = bounds(&s);
    let probe = Probe {
        scenario: &s,
        variant: None,
        seed: 1,
        overrides: &[],
        everyone: b.everyone.clone(),
    };
    // Without faults everything holds; some seed's draw breaks it.
    let quiet = Case {
        faults: Vec::new(),
        duration_ms: 60_000,
        sets: Vec::new(),
    };
    assert!(matches!(probe.run(&quiet), Outcome::Held { .. }));
    let broke = (1..=20).any(|seed| {
        let case = Case {
            faults: b.draw(seed),
            ..quiet.clone()
        };
        let p = Probe {
            seed,
            ..probe_at(&s, &b)
        };
        matches!(p.run(&case), Outcome::Broke { .. })
    });
    assert!(broke, "a crash, a pause or a partition of db fails calls");
}

fn probe_at<'a>(s: &'a Scenario, b: &Bounds) -> Probe<'a> {
    Probe {
        scenario: s,
        variant: None,
        seed: 1,
        overrides: &[],
        everyone: b.everyone.clone(),
    }
}

fn fault(kind: FaultKind, at_ms: u64, lasting_ms: u64, strength: f64) -> Drawn {
    Drawn {
        kind,
        target: "db".into(),
        at_ms,
        lasting_ms,
        strength,
    }
}

/// Of four faults only the crash fails calls (a service twice as slow,
/// or a clock set forward, does not); the shrinker keeps only it, as
/// short as it can be, in as short a run and at as low a rate as still
/// fail a call; and each of those is minimal: halving any of them again
/// no longer breaks the expectation.
#[test]
fn shrinking_finds_the_one_fault_that_matters_and_makes_it_minimal() {
    let s = scenario();
    let b = bounds(&s);
    let probe = probe_at(&s, &b);
    let case = Case {
        faults: vec![
            fault(FaultKind::Slow, 6_000, 8_000, 2.0),
            fault(FaultKind::Clock, 15_000, 1_000, 500.0),
            fault(FaultKind::Crash, 20_000, 8_000, 0.0),
            fault(FaultKind::Slow, 40_000, 5_000, 2.0),
        ],
        duration_ms: 60_000,
        sets: Vec::new(),
    };
    let Outcome::Broke { index, .. } = probe.run(&case) else {
        panic!("the crash breaks it");
    };
    let mut runs = 0;
    let small = shrink(&probe, case.clone(), index, 300, |p| runs = p.runs);
    assert_eq!(small.faults.len(), 1, "{small:?}");
    assert_eq!(small.faults[0].kind, FaultKind::Crash);
    assert!(small.faults[0].lasting_ms < 8_000, "{small:?}");
    let end = small.faults[0].at_ms + small.faults[0].lasting_ms;
    assert!(small.faults[0].at_ms < 20_000, "moved earlier: {small:?}");
    assert!(
        small.duration_ms < 60_000 && small.duration_ms > end,
        "{small:?}"
    );
    assert!(probe.blames_faults(&small, index));
    assert!(runs > 0 && runs < 300, "{runs} runs");
    // 1-minimal: each smaller step fails to break it.
    let mut shorter = small.clone();
    shorter.faults[0].lasting_ms /= 2;
    assert!(
        !probe.blames_faults(&shorter, index),
        "the crash is as short as it can be"
    );
    let rate = small.sets.iter().find(|(p, _)| p == "node.user.rate");
    let rate = rate.map_or("50/s", |(_, r)| r.as_str().unwrap());
    let per_s = sim_core::scenario::parse_rate(rate).unwrap();
    let mut slower = small.clone();
    slower.sets = vec![(
        "node.user.rate".into(),
        toml::Value::String(format!("{}/s", per_s / 2.0)),
    )];
    assert!(
        !probe.blames_faults(&slower, index),
        "the rate is as low as it can be"
    );
    // Deterministic: the same input shrinks to the same output.
    assert_eq!(shrink(&probe, case, index, 300, |_| {}), small);
}

#[test]
fn the_reproducer_file_replays_exactly() {
    let s = scenario();
    let b = bounds(&s);
    let probe = probe_at(&s, &b);
    let case = Case {
        faults: vec![
            fault(FaultKind::Crash, 20_000, 3_000, 0.0),
            fault(FaultKind::OneWay, 30_000, 2_000, 0.9),
        ],
        duration_ms: 40_000,
        sets: Vec::new(),
    };
    let Outcome::Broke { fingerprint, .. } = probe.run(&case) else {
        panic!("breaks");
    };
    assert_eq!(probe.run(&case), probe.run(&case), "the same run twice");
    let text = probe.text(&case).unwrap();
    assert!(text.contains("crash = \"db\"") && text.contains("restart = \"db\""));
    assert!(text.contains("one_way = true") && text.contains("heal = \"search-2\""));
    let file = load("t", "repro.toml", &text).unwrap_or_else(|d| panic!("{d}"));
    let spec = file.resolve(None, &[]).unwrap();
    let mut built = build(&spec, 1).unwrap();
    let report = built.run();
    assert_eq!(report.fingerprint.to_string(), fingerprint);
}

#[test]
fn a_search_table_that_names_nothing_real_is_refused() {
    let bad = SYSTEM.replace("targets = [\"db\"]", "targets = [\"dbb\"]");
    let err = load("t", "t.toml", &bad).unwrap_err().to_string();
    assert!(
        err.contains("there is no node or replica called `dbb`"),
        "{err}"
    );
    let bad = SYSTEM.replace("most = 4", "most = 0");
    let err = load("t", "t.toml", &bad).unwrap_err().to_string();
    assert!(err.contains("`most` is from 1 to 32"), "{err}");
    let bad = SYSTEM.replace("faults = [\"crash\"", "faults = [\"crush\"");
    let err = load("t", "t.toml", &bad).unwrap_err().to_string();
    assert!(err.contains("crush"), "{err}");
}
