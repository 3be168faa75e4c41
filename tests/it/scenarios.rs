//! Scenario files: every shipped story loads, builds and tells its lesson
//! on several seeds; and bad input gets a located, helpful message.

use sim_core::SimDuration;
use sim_core::scenario::{build, evaluate};
use sim_core::scenario::{load, parse_set_value};
use std::path::{Path, PathBuf};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("scenarios")
}

fn story(name: &str) -> sim_core::scenario::Scenario {
    let path = scenarios_dir().join(format!("{name}.toml"));
    let source = std::fs::read_to_string(&path).unwrap();
    load(name, &path.display().to_string(), &source).unwrap_or_else(|d| panic!("{d}"))
}

/// The stories in `scenarios/`: every scenario file but the learning
/// path (`path.toml`), sorted.
fn story_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(scenarios_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|n| n != "path")
        .collect();
    names.sort();
    names
}

/// Every shipped story, run twice on one seed, gives the same fingerprint
/// and the same counters, checkers' findings included.
#[test]
fn every_story_runs_the_same_twice() {
    for name in story_names() {
        let spec = story(&name).resolve(None, &[]).unwrap();
        let once = || {
            let mut built = build(&spec, 7).unwrap();
            built.run();
            let counters: Vec<(String, u64)> = built
                .sim
                .metrics()
                .counters()
                .map(|(n, v)| (n.to_string(), v))
                .collect();
            (built.sim.fingerprint(), counters)
        };
        assert_eq!(once(), once(), "{name} is not deterministic");
    }
}

/// Every expectation of every shipped story holds on five seeds.
#[test]
fn every_story_tells_its_lesson_on_five_seeds() {
    let stories = story_names();
    assert!(!stories.is_empty());
    for name in stories {
        let scenario = story(&name);
        assert!(
            !scenario.spec.expectations.is_empty(),
            "{name} asserts nothing"
        );
        // Each (variant, seed) runs once; all its expectations are judged
        // on it, and each prediction about it has exactly one answer.
        for variant in sim_core::scenario::judged_variants(&scenario) {
            let spec = scenario.resolve(variant, &[]).unwrap();
            for seed in 1..=5 {
                let mut built = build(&spec, seed).unwrap();
                let mut moments = sim_core::scenario::Moments::default();
                let pauses = sim_core::scenario::pauses(&spec, variant);
                let report = built.run_pausing(&pauses, |t, m| moments.take(t, m));
                let graded = sim_core::scenario::grade(
                    &spec,
                    variant,
                    built.sim.metrics(),
                    &moments,
                    &report,
                )
                .unwrap();
                for g in graded {
                    assert_eq!(
                        g.holding().len(),
                        1,
                        "{name} [{}] seed {seed}: \"{}\" needs exactly one answer",
                        variant.unwrap_or("base"),
                        g.prediction.question.get_ref()
                    );
                }
                for e in scenario
                    .spec
                    .expectations
                    .iter()
                    .filter(|e| e.variant.as_ref().map(|v| v.get_ref().as_str()) == variant)
                {
                    let verdict =
                        evaluate(e, built.sim.metrics(), &built.faults, report.end_time).unwrap();
                    assert!(
                        verdict.holds,
                        "{name} [{}] seed {seed}: {} {} {} but was {} ({})",
                        variant.unwrap_or("base"),
                        verdict.metric,
                        verdict.op.as_str(),
                        verdict.expected,
                        verdict.actual,
                        e.because
                    );
                }
            }
        }
    }
}

#[test]
fn overrides_reach_the_built_simulation() {
    let scenario = story("double-charge");
    let sets = [("node.user.rate".to_string(), parse_set_value("10/s"))];
    let spec = scenario.resolve(Some("no-idempotency"), &sets).unwrap();
    let mut built = build(&spec, 1).unwrap();
    let report = built.run();
    let orders = built.sim.metrics().get_counter("user.requests").unwrap();
    // 10/s for 60s, plus 2% double clicks.
    assert!(
        (500..700).contains(&orders),
        "{orders} requests at 10/s; {report}"
    );
}

const SMALL: &str = r#"title = "t"
summary = "s"

[run]
duration = "10s"

[[node]]
name = "user"
kind = "client"
target = "api"
rate = "10/s"

[[node]]
name = "api"
kind = "service"
workers = 2
service_time = "5ms"

[variants.fast]
set = { "node.api.workers" = 8 }
"#;

/// Loads `SMALL` with `from` replaced by `to` and returns the error text.
fn error_after(from: &str, to: &str) -> String {
    assert!(SMALL.contains(from), "the base has no `{from}`");
    let source = SMALL.replacen(from, to, 1);
    match load("small", "small.toml", &source) {
        Ok(_) => panic!("`{to}` was accepted"),
        Err(d) => d.to_string(),
    }
}

fn assert_has(text: &str, fragments: &[&str]) {
    for f in fragments {
        assert!(text.contains(f), "missing `{f}` in:\n{text}");
    }
}

#[test]
fn the_small_scenario_loads() {
    let s = load("small", "small.toml", SMALL).unwrap();
    assert_eq!(s.variants().collect::<Vec<_>>(), ["fast"]);
}

#[test]
fn bad_toml_is_located() {
    let e = error_after("rate = \"10/s\"", "rate = \"10/s");
    assert_has(&e, &["small.toml:11:", "rate = \"10/s", "^"]);
}

#[test]
fn an_unknown_field_suggests_the_right_one() {
    let e = error_after("workers = 2", "wrokers = 2");
    assert_has(
        &e,
        &[
            "error: unknown field `wrokers`",
            "--> small.toml:16:1",
            "16 | wrokers = 2",
            "   | ^^^^^^^",
            "= field: node `api`",
            "= help: did you mean `workers`?",
        ],
    );
}

#[test]
fn an_unknown_kind_lists_the_kinds() {
    let e = error_after("kind = \"service\"", "kind = \"servise\"");
    assert_has(
        &e,
        &[
            "unknown node kind `servise`",
            "`client`, `service`",
            "did you mean `service`?",
        ],
    );
}

#[test]
fn a_bad_unit_says_what_units_there_are() {
    let e = error_after("service_time = \"5ms\"", "service_time = \"5 parsecs\"");
    assert_has(
        &e,
        &["small.toml:17:", "unknown unit `parsecs`", "e.g. `250ms`"],
    );
    let e = error_after("rate = \"10/s\"", "rate = \"10 per second\"");
    assert_has(&e, &["invalid rate", "e.g. `200/s`"]);
}

#[test]
fn an_out_of_range_value_is_refused() {
    let e = error_after("workers = 2", "workers = 0");
    assert_has(
        &e,
        &[
            "at least 1 worker, got 0",
            "small.toml:16:11",
            "node `api`.workers",
        ],
    );
    let e = error_after("workers = 2", "workers = -3");
    assert_has(&e, &["small.toml:16:"]);
}

#[test]
fn an_unknown_node_suggests_a_known_one() {
    let e = error_after("target = \"api\"", "target = \"apj\"");
    assert_has(
        &e,
        &[
            "there is no node called `apj`",
            "small.toml:10:10",
            "did you mean `api`?",
            "one of: api, user",
        ],
    );
}

#[test]
fn a_field_of_another_kind_is_refused() {
    let e = error_after("workers = 2", "workers = 2\nrate = \"5/s\"");
    assert_has(
        &e,
        &[
            "`rate` does not apply to a service node",
            "fields of a service",
        ],
    );
}

#[test]
fn an_unknown_variant_and_bad_set_paths_are_explained() {
    let s = load("small", "small.toml", SMALL).unwrap();
    let e = s.resolve(Some("fsat"), &[]).unwrap_err();
    assert_has(&e, &["no variant `fsat`", "did you mean `fast`?"]);
    let bad = |path: &str, value: &str| {
        s.resolve(None, &[(path.to_string(), parse_set_value(value))])
            .unwrap_err()
    };
    assert_has(
        &bad("node.usr.rate", "5/s"),
        &[
            "--set node.usr.rate",
            "no node called `usr`",
            "did you mean `user`?",
        ],
    );
    assert_has(&bad("node.user.rate", "fast"), &["invalid rate `fast`"]);
    assert_has(&bad("node.user.ratee", "5/s"), &["unknown field `ratee`"]);
    assert_has(&bad("node.user", "1"), &["names a whole entry"]);
    assert_has(&bad("node..rate", "1"), &["is not a path"]);
    // A good override works.
    let spec = s
        .resolve(None, &[("node.api.workers".into(), parse_set_value("9"))])
        .unwrap();
    assert_eq!(*spec.nodes[1].workers.as_ref().unwrap().get_ref(), 9);
}

#[test]
fn a_variant_that_breaks_the_scenario_is_reported_at_its_override() {
    let e = error_after(
        "\"node.api.workers\" = 8",
        "\"node.api.workers\" = \"many\"",
    );
    assert_has(
        &e,
        &[
            "variant `fast`: this field takes a whole number",
            "small.toml:20:30",
            "= field: variants.fast.set.\"node.api.workers\"",
        ],
    );
}

/// docs/scenario-format.md is generated; `UPDATE_DOCS=1 cargo test`
/// rewrites it.
#[test]
fn the_format_reference_is_up_to_date() {
    let path = scenarios_dir()
        .parent()
        .unwrap()
        .join("docs/scenario-format.md");
    let fresh = sim_core::scenario::reference_page();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &fresh).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == fresh,
        "docs/scenario-format.md is stale: run `UPDATE_DOCS=1 cargo test -p faultline-tests reference`"
    );
}

/// Every field serde accepts is documented, and nothing undocumented is
/// accepted: the reference is generated from what the code really reads.
#[test]
fn the_format_reference_covers_every_field() {
    use sim_core::scenario::{documented_fields, schema_fields};
    for (table, mut accepted) in schema_fields() {
        assert!(!accepted.is_empty(), "could not read the fields of {table}");
        accepted.sort();
        let documented = documented_fields(table);
        assert_eq!(
            documented, accepted,
            "the reference for {table} differs from the schema"
        );
    }
}

#[test]
fn time_series_intervals_are_round_and_near_a_120th_of_the_run() {
    use sim_core::scenario::series_interval;
    let ms = |v: u64| v * 1_000_000;
    assert_eq!(series_interval(SimDuration::from_secs(60)), ms(500));
    assert_eq!(series_interval(SimDuration::from_secs(240)), ms(2_000));
    assert_eq!(series_interval(SimDuration::from_secs(3600)), ms(50_000));
    assert_eq!(series_interval(SimDuration::from_millis(50)), ms(1));
    assert!(series_interval(SimDuration::MAX) > 0);
    // The models record into series at that interval.
    let spec = story("queues").resolve(Some("bounded"), &[]).unwrap();
    let mut built = build(&spec, 1).unwrap();
    built.run();
    let ok = built
        .sim
        .metrics()
        .get_series("user.ok_latency_ns")
        .unwrap();
    assert_eq!(ok.interval_ns(), ms(2_000));
    let total: u64 = ok.buckets().iter().map(|b| b.count).sum();
    assert_eq!(total, built.sim.metrics().get_counter("user.ok").unwrap());
}

#[test]
fn data_nodes_are_checked_for_what_they_call_and_what_they_need() {
    // A reader must read from a cache or a store.
    let text = error_after(
        "[variants.fast]",
        "[[node]]\nname = \"r\"\nkind = \"reader\"\ntarget = \"api\"\nrate = \"1/s\"\n\n[variants.fast]",
    );
    assert_has(
        &text,
        &[
            "a reader cannot call `api`, which is a service",
            "a node of kind cache or kv",
        ],
    );
    // A store with a capacity needs both halves of it.
    let text = error_after(
        "[variants.fast]",
        "[[node]]\nname = \"db\"\nkind = \"kv\"\nworkers = 4\n\n[variants.fast]",
    );
    assert_has(&text, &["needs both `workers` and `service_time`"]);
    // A Zipf law needs its exponent.
    let text = error_after(
        "[variants.fast]",
        "[[node]]\nname = \"db\"\nkind = \"kv\"\n\n[[node]]\nname = \"r\"\nkind = \"reader\"\ntarget = \"db\"\nrate = \"1/s\"\nkeys = { dist = \"zipf\", n = 10 }\n\n[variants.fast]",
    );
    assert_has(&text, &["needs an exponent `s`"]);
    // A cache field on a service is refused, naming the service's fields.
    let text = error_after("workers = 2", "workers = 2\nttl = \"1m\"");
    assert_has(&text, &["`ttl` does not apply to a service node"]);
}

#[test]
fn replicated_stores_are_checked_for_their_mode_their_quorums_and_their_zones() {
    let with = |replica: &str, session: &str| {
        error_after(
            "[variants.fast]",
            &format!(
                "[[node]]\nname = \"db\"\nkind = \"replica\"\nreplicas = 3\n{replica}\n\n[[node]]\nname = \"u\"\nkind = \"session\"\nrate = \"1/s\"\n{session}\n\n[variants.fast]"
            ),
        )
    };
    let leader = "replication = { mode = \"leader\" }";
    let text = with(
        "replication = { mode = \"leader\", sync = 3 }",
        "target = \"db\"",
    );
    assert_has(
        &text,
        &["node `db`.replication.sync", "`sync` is from 0 to 2, got 3"],
    );
    let text = with(
        "replication = { mode = \"leader\", r = 2 }",
        "target = \"db\"",
    );
    assert_has(&text, &["`r` applies only to `mode = \"quorum\"`"]);
    let text = with(
        "replication = { mode = \"quorum\", r = 2 }",
        "target = \"db\"",
    );
    assert_has(&text, &["quorum replication needs `r` and `w`"]);
    let text = with(
        "replication = { mode = \"quorum\", r = 4, w = 1 }",
        "target = \"db\"",
    );
    assert_has(&text, &["a quorum is from 1 to the 3 replicas, got 4"]);
    let text = with(
        &format!("{leader}\nzones = [\"a\", \"b\"]"),
        "target = \"db\"",
    );
    assert_has(&text, &["one zone per replica: 3 expected, got 2"]);
    let text = with(
        &format!("{leader}\nclock_skew = [\"0s\", \"-2s\"]"),
        "target = \"db\"",
    );
    assert_has(&text, &["one clock error per replica: 3 expected, got 2"]);
    let text = with(
        &format!("{leader}\nclock_skew = [\"0s\", \"-2x\", \"0s\"]"),
        "target = \"db\"",
    );
    assert_has(&text, &["clock_skew", "-2x"]);
    let text = with(
        &format!("{leader}\nread_share = \"10%\""),
        "target = \"db\"",
    );
    assert_has(&text, &["`read_share` does not apply to a replica node"]);
    let text = with(leader, "target = \"api\"");
    assert_has(
        &text,
        &[
            "a session cannot call `api`, which is a service",
            "a node of kind replica",
        ],
    );
    let text = with("replication = { mode = \"paxos\" }", "target = \"db\"");
    assert_has(&text, &["paxos", "leader", "quorum"]);
    // A well-formed group with a skewed clock in two zones loads and runs.
    let source = SMALL.replacen(
        "[variants.fast]",
        "[[node]]\nname = \"db\"\nkind = \"replica\"\nreplicas = 3\nzones = [\"a\", \"a\", \"b\"]\nclock_skew = [\"0s\", \"+1s\", \"-250ms\"]\nreplication = { mode = \"quorum\", r = 2, w = 2 }\n\n[[node]]\nname = \"u\"\nkind = \"session\"\nzone = \"b\"\ntarget = \"db\"\nrate = \"20/s\"\n\n[variants.fast]",
        1,
    );
    let s = load("small", "small.toml", &source).unwrap();
    let spec = s.resolve(None, &[]).unwrap();
    let mut built = sim_core::scenario::build(&spec, 1).unwrap();
    built.run();
    let m = built.sim.metrics();
    assert!(m.get_counter("u.ok").unwrap() > 0);
    assert_eq!(m.get_counter("db.lost_updates"), Some(0));
}

/// A second click while the first is still in progress meets `conflict`
/// (its idempotency key is taken); retries cover it by default, as the
/// format reference says, and the retry gets the stored answer. With
/// retries on timeouts only, every second click fails.
#[test]
fn retries_cover_an_idempotency_conflict_by_default() {
    const TEXT: &str = r#"
title = "conflict"
summary = "a second click while the first is in progress"
[run]
duration = "20s"
seed = 1
[[node]]
name = "user"
kind = "client"
target = "api"
rate = "5/s"
timeout = "1s"
retry = { attempts = 4, backoff = "fixed", delay = "60ms" }
idempotency_keys = true
double_submit = "100%"
double_submit_delay = "10ms"
[[node]]
name = "api"
kind = "service"
workers = 8
service_time = "100ms"
idempotency = { ttl = "1h" }
[variants.no-retry-on-conflict]
description = "d"
set = { "node.user.retry" = { attempts = 4, backoff = "fixed", delay = "60ms", on = ["timeout"] } }
"#;
    let scenario = load("conflict", "conflict.toml", TEXT).unwrap_or_else(|d| panic!("{d}"));
    let counters = |variant: Option<&str>| {
        let mut built = build(&scenario.resolve(variant, &[]).unwrap(), 1).unwrap();
        built.run();
        let c = |n: &str| built.sim.metrics().get_counter(n).unwrap_or(0);
        (
            c("user.failed.conflict"),
            c("api.replayed"),
            c("user.requests"),
        )
    };
    let (failed, replayed, requests) = counters(None);
    assert_eq!(failed, 0);
    assert!(replayed * 2 >= requests - 10, "{replayed} of {requests}");
    let (failed, replayed, requests) = counters(Some("no-retry-on-conflict"));
    assert!(failed * 2 >= requests - 10, "{failed} of {requests}");
    assert_eq!(replayed, 0);
}

/// While any key is undecided, an expectation about linearizability has
/// no verdict: `nonlinearizable_keys == 0` must not pass on keys nobody
/// searched.
#[test]
fn an_undecided_key_leaves_linearizability_without_a_verdict() {
    use sim_core::scenario::metric_value;
    let mut m = sim_core::Metrics::new();
    let not = m.counter("db.nonlinearizable_keys");
    m.add(not, 0);
    let undecided = m.counter("db.undecided_keys");
    let end = sim_core::SimTime::ZERO;
    assert_eq!(
        metric_value(&m, &[], "db.nonlinearizable_keys", end),
        Ok(0.0)
    );
    m.add(undecided, 3);
    let e = metric_value(&m, &[], "db.nonlinearizable_keys", end).unwrap_err();
    assert!(e.contains("could not decide 3 keys"), "{e}");
    // The count of undecided keys itself is still a number.
    assert_eq!(metric_value(&m, &[], "db.undecided_keys", end), Ok(3.0));
}

/// A warm-up leaves out what was recorded before it: every counter is the
/// whole run's minus its value at the warm-up's end, histograms hold only
/// what came after, rates count from there, and events are untouched (the
/// same fingerprint).
#[test]
fn a_warm_up_leaves_out_what_came_before_it() {
    use sim_core::scenario::metric_value;
    let scenario = story("double-charge");
    let plain = scenario.resolve(Some("no-idempotency"), &[]).unwrap();
    let warm = scenario
        .resolve(
            Some("no-idempotency"),
            &[("run.warmup".to_string(), parse_set_value("\"10s\""))],
        )
        .unwrap();
    // The plain run, read at 10s and at its end.
    let mut a = build(&plain, 3).unwrap();
    a.sim.run(a.limits);
    let mut at_10s = build(&plain, 3).unwrap();
    at_10s.sim.run(sim_core::RunLimits::until(
        sim_core::SimTime::ZERO + SimDuration::from_secs(10),
    ));
    let mut b = build(&warm, 3).unwrap();
    let report = b.run();
    a.finish();
    assert_eq!(report.fingerprint, a.sim.fingerprint());
    let c = |built: &sim_core::scenario::Built, n: &str| {
        built.sim.metrics().get_counter(n).unwrap_or(0)
    };
    for name in ["user.requests", "user.ok", "api.arrivals", "ledger.charges"] {
        assert!(c(&at_10s, name) > 0, "{name} before the warm-up's end");
        assert_eq!(c(&b, name), c(&a, name) - c(&at_10s, name), "{name}");
    }
    let count = |built: &sim_core::scenario::Built| {
        built
            .sim
            .metrics()
            .get_histogram("user.latency_ns")
            .unwrap()
            .count()
    };
    assert!(count(&b) < count(&a) && count(&b) > count(&a) * 3 / 4);
    // 50 arrivals a second, counted over the 50 measured seconds.
    let rate = metric_value(
        b.sim.metrics(),
        &b.faults,
        "user.requests.per_s",
        report.end_time,
    )
    .unwrap();
    assert!((rate - 50.0).abs() < 3.0, "{rate}");
    // A warm-up as long as the run is refused.
    let e = scenario
        .resolve(
            None,
            &[("run.warmup".to_string(), parse_set_value("\"60s\""))],
        )
        .unwrap_err();
    assert!(e.contains("must end before the run does"), "{e}");
}

/// A client calling one service with a 500 ms timeout over a 1 ms
/// network, then `faults` (TOML tables).
fn client_and_service(duration: &str, rate: &str, service_time: &str, faults: &str) -> String {
    format!(
        r#"
title = "t"
summary = "s"
[run]
duration = "{duration}"
[network]
latency = "1ms"
[[node]]
name = "user"
kind = "client"
target = "api"
rate = "{rate}"
timeout = "500ms"
[[node]]
name = "api"
kind = "service"
workers = 64
service_time = "{service_time}"
{faults}"#
    )
}

/// A pause (issue 15, item 3): for two seconds the service handles
/// nothing; the calls that would wait longer than the client's timeout
/// fail, then the service works through the backlog at once (answering
/// some callers who have left) and is healthy again. The timeline shows
/// the window.
#[test]
fn a_paused_service_times_its_callers_out_then_works_off_the_backlog() {
    let pause = "[[fault]]\nat = \"5s\"\npause = \"api\"\nlasting = \"2s\"\n";
    let text = &client_and_service("12s", "100/s", "1ms", pause);
    let s = load("p", "p.toml", text).unwrap_or_else(|d| panic!("{d}"));
    let spec = s.resolve(None, &[]).unwrap();
    let windows = sim_core::scenario::fault_windows(&spec);
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0].label, "api paused");
    assert_eq!(
        windows[0].end.unwrap() - windows[0].start,
        SimDuration::from_secs(2)
    );
    let mut built = build(&spec, 1).unwrap();
    built.run();
    let m = built.sim.metrics();
    let counter = |n: &str| m.get_counter(n).unwrap_or(0);
    let failed = counter("user.failed");
    // A call that reaches the paused service waits until 7 s; it times out
    // if it was sent before 6.5 s. So the calls sent from 5 s to 6.5 s
    // fail: 1.5 s at 100/s, about 150 (a Poisson count: sd about 12).
    assert!((110..=190).contains(&failed), "failed {failed}");
    let requests = counter("user.requests");
    assert!(counter("user.ok") + failed >= requests - 5);
    // Paused again on a replay: the same run.
    let mut again = build(&spec, 1).unwrap();
    assert_eq!(again.run().fingerprint, built.sim.fingerprint());
}

/// Clock drift (issue 15, item 3): the service takes 600 ms and the
/// client gives up after 500 ms by its own clock. With a true clock every
/// call fails; with the client's clock a fifth slow, its 500 ms last
/// 625 ms of true time and every call succeeds; a quarter fast, 400 ms.
#[test]
fn a_drifting_clock_stretches_or_shrinks_a_timeout() {
    let text = |drift: &str| {
        let fault = if drift.is_empty() {
            String::new()
        } else {
            format!("[[fault]]\nat = \"0s\"\nclock = \"user\"\ndrift = \"{drift}\"\n")
        };
        client_and_service("10s", "20/s", "600ms", &fault)
    };
    let run = |drift: &str| {
        let s = load("c", "c.toml", &text(drift)).unwrap_or_else(|d| panic!("{d}"));
        let spec = s.resolve(None, &[]).unwrap();
        let mut built = build(&spec, 1).unwrap();
        built.run();
        let m = built.sim.metrics();
        let c = |n: &str| m.get_counter(n).unwrap_or(0);
        (
            c("user.ok"),
            c("user.failed"),
            sim_core::scenario::fault_windows(&spec),
        )
    };
    let (ok, failed, _) = run("");
    assert_eq!(ok, 0);
    assert!(failed > 150, "{failed}");
    let (ok, failed, windows) = run("-20%");
    assert!(ok > 150 && failed == 0, "ok {ok} failed {failed}");
    assert_eq!(windows[0].label, "user's clock 20% slow");
    let (ok, _, _) = run("25%");
    assert_eq!(ok, 0);
    // Bad drifts are refused with the format's words.
    for (bad, says) in [("fast", "is not a drift"), ("-95%", "from -90% to +900%")] {
        let e = load("c", "c.toml", &text(bad)).unwrap_err().to_string();
        assert!(e.contains(says), "{e}");
    }
}

/// A clock jump (issue 15, item 3): setting the client's clock back 3 s
/// does not stretch its 500 ms timeouts (timers count elapsed time), it
/// shows on the fault timeline, and a clock fault with neither `drift`
/// nor `jump` is refused.
#[test]
fn a_clock_jump_leaves_timeouts_alone() {
    let text = |fault: &str| client_and_service("10s", "20/s", "600ms", fault);
    let jump = "[[fault]]\nat = \"1s\"\nclock = \"user\"\njump = \"-3s\"\n";
    let s = load("c", "c.toml", &text(jump)).unwrap_or_else(|d| panic!("{d}"));
    let spec = s.resolve(None, &[]).unwrap();
    let mut built = build(&spec, 1).unwrap();
    built.run();
    assert_eq!(built.sim.metrics().get_counter("user.ok").unwrap_or(0), 0);
    let windows = sim_core::scenario::fault_windows(&spec);
    assert_eq!(windows[0].label, "user's clock set back 3s");
    let neither = "[[fault]]\nat = \"1s\"\nclock = \"user\"\n";
    let e = load("c", "c.toml", &text(neither)).unwrap_err().to_string();
    assert!(e.contains("jump = \"-3s\""), "{e}");
    let stray = "[[fault]]\nat = \"1s\"\npause = \"user\"\nlasting = \"1s\"\njump = \"1s\"\n";
    let e = load("c", "c.toml", &text(stray)).unwrap_err().to_string();
    assert!(e.contains("`jump` goes only with `clock`"), "{e}");
}
