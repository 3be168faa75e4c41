//! Transactions across services (issue 16): a saga without compensations
//! leaves as many trips half done as the binomial arithmetic says, with
//! compensations none; two-phase commit never half commits, even when
//! every participant may vote no and the coordinator crashes, and while
//! the coordinator is down its prepared participants hold their locks.

use sim_core::scenario::{build, load};

fn run(
    protocol: &str,
    rate: &str,
    extra: &str,
    faults: &str,
    seed: u64,
) -> sim_core::scenario::Built {
    let text = format!(
        r#"
title = "t"
summary = "s"
[run]
duration = "300s"
[network]
latency = "2ms"
[[node]]
name = "c"
kind = "coordinator"
participants = ["a", "b", "d"]
rate = "{rate}"
protocol = "{protocol}"
{extra}
[[node]]
name = "a"
kind = "participant"
failure_rate = "10%"
[[node]]
name = "b"
kind = "participant"
failure_rate = "10%"
[[node]]
name = "d"
kind = "participant"
failure_rate = "10%"
{faults}
"#
    );
    let s = load("t", "t.toml", &text).unwrap_or_else(|d| panic!("{d}"));
    let mut b = build(&s.resolve(None, &[]).unwrap(), seed).unwrap();
    let report = b.run();
    assert!(sim_core::scenario::cut_short(&report).is_none());
    b
}

fn counter(b: &sim_core::scenario::Built, name: &str) -> u64 {
    b.sim
        .metrics()
        .get_counter(name)
        .unwrap_or_else(|| panic!("{name}"))
}

/// Each step is refused with p = 0.1. A saga that stops at the first
/// refusal is half done when b or d refuses after a did not: P = 0.9 ×
/// 0.1 + 0.9 × 0.9 × 0.1 = 0.171 of the trips.
#[test]
fn a_saga_without_compensations_is_half_done_as_often_as_arithmetic_says() {
    let b = run("saga", "20/s", "", "", 1);
    let (half, started) = (counter(&b, "c.half_done"), counter(&b, "c.started"));
    let p = 0.171;
    let n = started as f64;
    let sd = (n * p * (1.0 - p)).sqrt();
    assert!(
        (half as f64 - n * p).abs() < 4.0 * sd,
        "{half} half done of {started}, expected {:.0} ± {:.0}",
        n * p,
        4.0 * sd
    );
    let c = run("saga", "20/s", "compensate = true", "", 1);
    assert_eq!(counter(&c, "c.half_done"), 0);
    // Every refusal at b undoes a; every refusal at d undoes b, then a
    // (but for the few still undoing when the run ends).
    let (ab, ad) = (counter(&c, "b.refused"), counter(&c, "d.refused"));
    let (ua, ub) = (counter(&c, "a.compensated"), counter(&c, "b.compensated"));
    assert!(
        ua <= ab + ad && ab + ad - ua <= 3,
        "a undone {ua}, refusals after it {}",
        ab + ad
    );
    assert!(
        ub <= ad && ad - ub <= 3,
        "b undone {ub}, refusals after it {ad}"
    );
}

#[test]
fn two_phase_commit_is_all_or_nothing_and_blocks_while_its_coordinator_is_down() {
    let crash = r#"
[[fault]]
at = "100s"
crash = "c"
[[fault]]
at = "130s"
restart = "c""#;
    for seed in 1..=3 {
        // More trips than the locks can take one at a time (each holds
        // them about 13 ms): a lock is always held, so the crash always
        // finds a transaction in doubt.
        let b = run("two_phase", "100/s", "", crash, seed);
        assert_eq!(counter(&b, "c.half_done"), 0, "seed {seed}");
        // All three vote yes with p = 0.729.
        let (ok, no) = (counter(&b, "c.committed"), counter(&b, "c.aborted"));
        let share = ok as f64 / (ok + no) as f64;
        assert!((share - 0.729).abs() < 0.05, "committed {share}");
        let held = |p: &str| {
            b.sim
                .metrics()
                .get_histogram(&format!("{p}.held_ns"))
                .unwrap()
                .quantile(1.0)
                .unwrap()
        };
        // Someone held a lock through the outage, waiting for the verdict.
        let longest = ["a", "b", "d"].map(held).into_iter().max().unwrap();
        assert!(
            longest >= 29_000_000_000,
            "seed {seed}: held at most {longest} ns"
        );
    }
}
