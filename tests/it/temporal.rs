//! Properties over a whole run (issue 19): an `always` expectation is
//! judged at every checkpoint as well as at the end, so a breach the end
//! has forgotten still fails it; an `eventually ... within` expectation
//! holds when the system recovers in time after the faults, and fails,
//! saying when it was still broken, when it does not.

use sim_core::scenario::{build, judge, load};

/// One server (125/s) under 100/s; from 20s to 25s it is five times
/// slower, and a backlog of about 375 calls builds, which drains at
/// 25/s: gone by about 40s. `EXPECT` is filled in per test.
fn system(expect: &str) -> String {
    format!(
        r#"
title = "t"
summary = "s"
[run]
duration = "60s"
[network]
latency = "1ms"
[[node]]
name = "db"
kind = "service"
workers = 1
queue = 10000
service_time = {{ dist = "exponential", mean = "8ms" }}
[[node]]
name = "user"
kind = "client"
rate = "100/s"
target = "db"
timeout = "60s"
[[fault]]
at = "20s"
slow = "db"
factor = 5
[[fault]]
at = "25s"
recover = "db"
[[expect]]
metric = "db.queue_depth.now"
op = "<"
value = 30
{expect}
"#
    )
}

/// The verdict's metric text and whether it held, on seed 1.
fn judged(expect: &str) -> (String, bool) {
    judged_text(&system(expect))
}

fn judged_text(text: &str) -> (String, bool) {
    let s = load("t", "t.toml", text).unwrap_or_else(|d| panic!("{d}"));
    let spec = s.resolve(None, &[]).unwrap();
    let mut built = build(&spec, 1).unwrap();
    let report = built.run();
    let j = judge(&spec, None, &built, &report).unwrap();
    let v = j[0].verdict.as_ref().unwrap();
    (v.metric.clone(), v.holds)
}

#[test]
fn always_remembers_a_breach_the_end_has_forgotten() {
    let (metric, holds) = judged("");
    assert!(holds, "at the end the backlog is gone: {metric}");
    let (metric, holds) = judged("when = \"always\"");
    assert!(!holds, "{metric}");
    let at: f64 = metric
        .split("broke at ")
        .nth(1)
        .and_then(|r| r.trim_end_matches("s)").parse().ok())
        .unwrap_or_else(|| panic!("{metric}"));
    assert!(
        (20.0..26.0).contains(&at),
        "the backlog passes 30 during the slow spell: {metric}"
    );
    // Without the slow spell, it always holds.
    let quiet = system("when = \"always\"").replace("factor = 5", "factor = 1");
    let (metric, holds) = judged_text(&quiet);
    assert!(holds, "{metric}");
}

#[test]
fn eventually_within_asks_for_recovery_in_time() {
    let (metric, holds) = judged("when = \"eventually\"\nwithin = \"25s\"");
    assert!(holds, "drained about 15s after the fault: {metric}");
    let (metric, holds) = judged("when = \"eventually\"\nwithin = \"5s\"");
    assert!(!holds, "{metric}");
    assert!(
        metric.contains("still broken at") && metric.contains("due by 30s"),
        "{metric}"
    );
}

#[test]
fn when_and_within_are_refused_where_they_mean_nothing() {
    let err = load("t", "t.toml", &system("within = \"5s\""))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("it goes with `when = \"eventually\"`"),
        "{err}"
    );
    let err = load("t", "t.toml", &system("when = \"sometimes\""))
        .unwrap_err()
        .to_string();
    assert!(err.contains("sometimes"), "{err}");
}
