//! Failure detection (issue 15, item 2): heartbeat senders and the
//! monitor that judges them, by a fixed timeout and by phi accrual,
//! against what each detector promises: a timeout's detection time is
//! the timeout less the time since the last heartbeat, a pause longer
//! than the timeout is one false suspicion, and a phi threshold suspects
//! one healthy gap in 10^phi.

use sim_core::scenario::{Built, build, cut_short, load};

/// A sender beating every 100 ms to a monitor with `detector`, over
/// `latency`, for `duration`; `faults` are appended.
fn scenario(detector: &str, latency: &str, duration: &str, faults: &str) -> String {
    format!(
        r#"
title = "t"
summary = "s"
[run]
duration = "{duration}"
[network]
latency = {latency}
[[node]]
name = "watch"
kind = "monitor"
detector = {detector}
[[node]]
name = "app"
kind = "heartbeat"
target = "watch"
heartbeat = "100ms"
{faults}"#
    )
}

fn run(text: &str, seed: u64) -> Built {
    let s = load("t", "t.toml", text).unwrap_or_else(|d| panic!("{d}"));
    let spec = s.resolve(None, &[]).unwrap();
    let mut b = build(&spec, seed).unwrap();
    let report = b.run();
    assert!(cut_short(&report).is_none());
    b
}

/// The sender crashes at `at_ms` and restarts `down_ms` later.
fn crash(at_ms: u64, down_ms: u64) -> String {
    format!(
        "[[fault]]\nat = \"{at_ms}ms\"\ncrash = \"app\"\n[[fault]]\nat = \"{}ms\"\nrestart = \"app\"\n",
        at_ms + down_ms
    )
}

fn counter(b: &Built, name: &str) -> u64 {
    b.sim.metrics().get_counter(name).unwrap_or(0)
}

/// Crashes of 2 s, each found by a 350 ms timeout. A sender beats as it
/// starts and every 100 ms after, so a crash `d` after a heartbeat left
/// is suspected 350 ms (and 1 ns) after that heartbeat arrived, 1 ms
/// after it left: 351 ms - d after the crash, exactly. The crashes fall
/// at 40 different points of the heartbeat's cycle; a crash shorter than
/// the shortest detection goes unnoticed.
#[test]
fn a_timeout_detects_a_crash_the_timeout_after_the_last_heartbeat() {
    let mut faults = String::new();
    let (mut restarted, mut expected) = (0u64, Vec::new());
    for k in 0..40u64 {
        let since_beat = 1 + 2 * k;
        let at = restarted + 1_000 + since_beat;
        faults.push_str(&crash(at, 2_000));
        expected.push(351_000_001 - since_beat * 1_000_000);
        restarted = at + 2_000;
    }
    faults.push_str(&crash(restarted + 1_000, 200));
    let duration = format!("{}ms", restarted + 3_000);
    let text = scenario(r#"{ timeout = "350ms" }"#, r#""1ms""#, &duration, &faults);
    let b = run(&text, 1);
    assert_eq!(counter(&b, "watch.suspicions"), 40);
    assert_eq!(counter(&b, "watch.false_suspicions"), 0);
    assert_eq!(counter(&b, "watch.unnoticed_crashes"), 1);
    let h = b.sim.metrics().get_histogram("watch.detection_ns").unwrap();
    assert_eq!(h.count(), 40);
    assert_eq!(h.sum(), expected.iter().map(|&e| e as u128).sum::<u128>());
    assert_eq!(h.min(), expected.iter().copied().min());
    assert_eq!(h.max(), expected.iter().copied().max());
}

/// A process paused past the timeout never stopped: when it beats again
/// from the same start, the monitor counts its suspicion as false. A
/// pause shorter than the timeout is not suspected at all.
#[test]
fn a_pause_past_the_timeout_is_a_false_suspicion() {
    let mut faults = String::new();
    for at in [2, 6, 10] {
        faults.push_str(&format!(
            "[[fault]]\nat = \"{at}s\"\npause = \"app\"\nlasting = \"1s\"\n"
        ));
    }
    faults.push_str("[[fault]]\nat = \"14s\"\npause = \"app\"\nlasting = \"200ms\"\n");
    let text = scenario(r#"{ timeout = "350ms" }"#, r#""1ms""#, "20s", &faults);
    let b = run(&text, 1);
    assert_eq!(counter(&b, "watch.suspicions"), 3);
    assert_eq!(counter(&b, "watch.false_suspicions"), 3);
    let h = b.sim.metrics().get_histogram("watch.detection_ns").unwrap();
    assert_eq!(h.count(), 0, "no crash to detect");
}

/// On a jittery network (latency normal, 50 ms ± 10 ms, so gaps between
/// arrivals spread by 10·√2 ms about 100 ms), a phi threshold of 1 or 2
/// wrongly suspects the healthy sender after about 10% or 1% of its
/// heartbeats, within four standard deviations of the count.
#[test]
fn a_phi_threshold_suspects_one_healthy_gap_in_ten_to_the_phi() {
    let latency = r#"{ dist = "normal", mean = "50ms", std_dev = "10ms" }"#;
    for (phi, share) in [(1.0, 0.1), (2.0, 0.01)] {
        let detector = format!("{{ phi = {phi}, window = 200 }}");
        let b = run(&scenario(&detector, latency, "1200s", ""), 3);
        let beats = counter(&b, "watch.heartbeats") as f64;
        let wrong = counter(&b, "watch.false_suspicions") as f64;
        let expected = beats * share;
        let sd = (beats * share * (1.0 - share)).sqrt();
        assert!(
            (wrong - expected).abs() < 4.0 * sd + 0.1 * expected,
            "phi {phi}: {wrong} false suspicions in {beats} heartbeats, expected {expected:.0}"
        );
        assert_eq!(counter(&b, "watch.suspicions"), wrong as u64);
    }
}

/// A steadier network lets phi suspect sooner: the same threshold finds a
/// crash faster when heartbeats arrive like clockwork.
#[test]
fn phi_waits_longer_on_a_jittery_network() {
    let crash = crash(30_000, 5_000);
    let detector = "{ phi = 8, window = 200, min_std = \"1ms\" }";
    let detection = |latency: &str| {
        let b = run(&scenario(detector, latency, "40s", &crash), 1);
        let h = b.sim.metrics().get_histogram("watch.detection_ns").unwrap();
        assert_eq!(h.count(), 1, "{latency}");
        h.max().unwrap()
    };
    let steady = detection(r#"{ dist = "normal", mean = "50ms", std_dev = "1ms" }"#);
    let jittery = detection(r#"{ dist = "normal", mean = "50ms", std_dev = "15ms" }"#);
    assert!(steady < 130_000_000, "steady: {steady} ns");
    assert!(
        jittery > steady + 50_000_000,
        "jittery {jittery} vs steady {steady}"
    );
}
