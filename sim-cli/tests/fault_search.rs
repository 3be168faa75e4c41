//! `faultline explore --faults` end to end: it finds a schedule that
//! breaks an expectation, shrinks it, writes a reproducer and its
//! sequence diagram, and the replay command it prints fails the same way
//! with the same fingerprint.

mod common;

use common::{faultline, write_temp};

const SYSTEM: &str = r#"
title = "Two replicas"
summary = "A client calls a service of two replicas, and retries."
[run]
duration = "40s"
[network]
latency = "1ms"
[[node]]
name = "db"
kind = "service"
replicas = 2
workers = 8
service_time = "2ms"
[[node]]
name = "user"
kind = "client"
rate = "40/s"
target = "db"
timeout = "200ms"
retry = { attempts = 2, delay = "10ms", on = ["timeout", "unavailable"] }
[search]
faults = ["crash", "pause"]
most = 4
longest = "10s"
[[expect]]
metric = "user.failed"
op = "<"
value = 1
because = "a call whose replica is down is retried on the other"
"#;

#[test]
fn explore_with_faults_writes_a_shrunk_reproducer_that_replays() {
    let file = write_temp("two-replicas.toml", SYSTEM);
    let out_file = file.with_file_name("repro.toml");
    let file_s = file.to_str().unwrap();
    let out_s = out_file.to_str().unwrap();
    let args = [
        "explore", file_s, "--faults", "--seeds", "60", "--out", out_s,
    ];
    let (ok, out, err) = faultline(&args);
    assert!(!ok, "{out}{err}");
    assert!(out.contains("breaks two-replicas [as written]"), "{out}");
    // Fewer faults than were drawn: the rest did not matter.
    let count = |after: &str| -> usize {
        let rest = out.split(after).nth(1).expect(&out);
        rest.split(' ').next().unwrap().parse().expect(&out)
    };
    assert!(count("shrunk to ") < count("under "), "{out}");
    let shrunk = out.split("shrunk to ").nth(1).unwrap();
    let fingerprint = shrunk
        .split("fingerprint ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .expect(&out)
        .to_string();
    let repro = std::fs::read_to_string(&out_file).unwrap();
    assert!(
        repro.starts_with("# Found by `faultline explore --faults`"),
        "{repro}"
    );
    assert!(repro.contains("[[fault]]"), "{repro}");
    let diagram = std::fs::read_to_string(out_file.with_extension("mmd")).unwrap();
    assert!(diagram.starts_with("sequenceDiagram"), "{diagram}");
    // The printed replay fails the same expectation with the same run.
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("replay:  faultline "));
    let replay: Vec<&str> = line.expect(&out).split(' ').collect();
    let (ok, again, _) = faultline(&replay);
    assert!(!ok, "{again}");
    assert!(again.contains("FAIL user.failed < 1"), "{again}");
    assert!(
        again.contains(&format!("fingerprint  {fingerprint}")),
        "{again}"
    );
    // The same search again gives the same reproducer, byte for byte.
    let (_, out2, _) = faultline(&args);
    assert_eq!(out, out2);
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), repro);
}

#[test]
fn explore_with_faults_says_when_everything_held() {
    let quiet = SYSTEM.replace("value = 1\n", "value = 100000\n");
    let file = write_temp("quiet.toml", &quiet);
    let (ok, out, err) = faultline(&[
        "explore",
        file.to_str().unwrap(),
        "--faults",
        "--seeds",
        "3",
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("every expectation held on 3 seeds"), "{out}");
}

/// The one-at-a-time story quotes what `explore --faults` finds in it;
/// the quote stays true.
#[test]
fn the_story_quotes_what_the_search_finds() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/one-at-a-time.toml"
    ))
    .unwrap();
    let quote = text
        .split("```text\n")
        .nth(1)
        .and_then(|r| r.split("```").next())
        .expect("the story quotes the search");
    let mut lines = quote.lines();
    let command = lines.next().unwrap().strip_prefix("$ faultline ").unwrap();
    let out_file = write_temp("story-repro.toml", "");
    let mut args: Vec<&str> = command.split(' ').collect();
    let out_s = out_file.to_str().unwrap();
    args.extend(["--out", out_s]);
    let (ok, out, err) = faultline(&args);
    assert!(!ok, "{out}{err}");
    for line in lines {
        assert!(
            out.contains(line),
            "the story says {line:?}, the search:\n{out}"
        );
    }
    // The drill alone holds: `check` on the story passes.
    let (ok, out, _) = faultline(&["check", "one-at-a-time", "--seeds", "5"]);
    assert!(ok, "{out}");
}
