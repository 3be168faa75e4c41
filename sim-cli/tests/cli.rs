//! The `faultline` binary end to end. (Cargo exposes a binary's path only to
//! its own package's tests, so CLI tests live here rather than in tests/.)

mod common;

use common::{faultline, story_text, write_temp};
use std::process::Command;

fn fingerprint_of(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("fingerprint"))
        .expect("a fingerprint line")
        .trim()
        .to_string()
}

#[test]
fn demo_prints_seed_fingerprint_and_theory() {
    let (ok, out, err) = faultline(&["demo", "--seed", "7", "--duration", "10m"]);
    assert!(ok, "{err}");
    assert!(out.contains("seed         7"), "{out}");
    assert_eq!(fingerprint_of(&out).len(), 16, "{out}");
    assert!(out.contains("mean response time (ms)"), "{out}");
    assert!(out.contains("ran to 10m"), "{out}");
}

#[test]
fn demo_is_reproducible_by_seed() {
    let run =
        |seed: &str| fingerprint_of(&faultline(&["demo", "--seed", seed, "--duration", "5m"]).1);
    assert_eq!(run("3"), run("3"));
    assert_ne!(run("3"), run("4"));
}

#[test]
fn a_bad_duration_is_explained() {
    let (ok, _, err) = faultline(&["demo", "--duration", "5 parsecs"]);
    assert!(!ok);
    assert!(err.contains("unknown unit `parsecs`"), "{err}");
    assert!(err.contains("e.g. `250ms`"), "{err}");
}

#[test]
fn a_bad_rate_is_an_error_not_a_panic() {
    let (ok, _, err) = faultline(&["demo", "--arrival-rate=-3"]);
    assert!(!ok);
    assert!(err.contains("must be positive"), "{err}");
}

#[test]
fn list_shows_the_learning_path() {
    let (ok, out, _) = faultline(&["list"]);
    assert!(ok);
    assert!(out.starts_with("Faultline simulates"), "{out}");
    assert!(out.contains("\n1. Queues and load: "), "{out}");
    let first = out.lines().find(|l| l.starts_with("   ")).unwrap();
    assert!(first.starts_with("   queues "), "{out}");
    assert!(
        first.contains(" 12 min  A queue that never refuses"),
        "{out}"
    );
    // Every story, once, in chapters.
    for (story, _) in sim_core::scenario::STORIES {
        let lines = out
            .lines()
            .filter(|l| l.trim_start().starts_with(&format!("{story} ")))
            .count();
        assert_eq!(lines, 1, "{story}:\n{out}");
    }
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    // The pipe's reading end is closed before faultline writes anything.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("list")
        .stdout(writer)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn explain_shows_the_narrative_questions_and_variants() {
    let (ok, out, _) = faultline(&["explain", "double-charge"]);
    assert!(ok);
    for part in [
        "The double charge\n=================",
        "idempotency key",
        "What to look for:",
        "Questions to try:",
        "idempotency-keys: Every attempt",
    ] {
        assert!(out.contains(part), "missing {part:?} in {out}");
    }
}

#[test]
fn run_prints_seed_fingerprint_summary_and_verdicts() {
    let (ok, out, err) = faultline(&[
        "run",
        "double-charge",
        "--variant",
        "idempotency-keys",
        "--seed",
        "3",
    ]);
    assert!(ok, "{err}");
    for part in [
        "[variant: idempotency-keys]",
        "seed         3",
        "fingerprint  ",
        "duplicate charges  0",
        "ok   ledger.duplicate_charges == 0",
    ] {
        assert!(out.contains(part), "missing {part:?} in {out}");
    }
    // Same seed, same fingerprint; --set changes the run.
    let again = faultline(&[
        "run",
        "double-charge",
        "--variant",
        "idempotency-keys",
        "--seed",
        "3",
    ])
    .1;
    assert_eq!(fingerprint_of(&out), fingerprint_of(&again));
    let (_, changed, _) = faultline(&[
        "run",
        "double-charge",
        "--variant",
        "idempotency-keys",
        "--seed",
        "3",
        "--set",
        "node.user.rate=20/s",
    ]);
    assert_ne!(fingerprint_of(&out), fingerprint_of(&changed));
    assert!(
        changed.contains("set          node.user.rate=20/s"),
        "{changed}"
    );
}

#[test]
fn run_json_is_for_machines() {
    let (ok, out, err) = faultline(&[
        "run",
        "double-charge",
        "--variant",
        "no-idempotency",
        "--json",
    ]);
    assert!(ok, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["scenario"], "double-charge");
    assert_eq!(doc["fingerprint"].as_str().unwrap().len(), 16);
    assert!(
        doc["counters"]["ledger.duplicate_charges"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(doc["expectations"][0]["holds"], true);
}

#[test]
fn check_passes_the_shipped_story_and_fails_a_broken_one_with_a_replay_command() {
    let (ok, out, err) = faultline(&["check", "double-charge", "--seeds", "2"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("check: 10 of 10 judged expectations held"),
        "{out}"
    );

    // Claim the naive design never double charges: check must catch it.
    let broken = story_text().replacen("op = \">\"\nvalue = 0", "op = \"==\"\nvalue = 0", 1);
    let path = write_temp("broken.toml", &broken);
    let (ok, out, _) = faultline(&["check", path.to_str().unwrap(), "--seeds", "2"]);
    assert!(!ok);
    assert!(
        out.contains(
            "FAIL broken [no-idempotency] seed 1: expected ledger.duplicate_charges == 0, got"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "replay: faultline run {} --variant no-idempotency --seed 1",
            path.display()
        )),
        "{out}"
    );
}

#[test]
fn check_json_lists_every_judged_expectation() {
    let (ok, out, err) = faultline(&["check", "double-charge", "--seeds", "2", "--json"]);
    assert!(ok, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let judged = doc["expectations"].as_array().unwrap();
    // Three expectations and two predictions' answer keys, each about one
    // variant, on two seeds.
    assert_eq!(judged.len(), 10, "{out}");
    assert_eq!(
        (doc["judged"].as_u64(), doc["held"].as_u64()),
        (Some(10), Some(10))
    );
    let (keys, judged): (Vec<_>, Vec<_>) = judged
        .iter()
        .partition(|e| e["metric"].as_str().unwrap().starts_with("prediction \""));
    assert_eq!(keys.len(), 4, "{out}");
    assert!(keys.iter().all(|k| k["verdict"] == "held"), "{out}");
    for e in &judged {
        assert_eq!(e["scenario"], "double-charge");
        assert!(e["variant"] == "no-idempotency" || e["variant"] == "idempotency-keys");
        assert!(e["seed"] == 1 || e["seed"] == 2, "{e}");
        assert_eq!(e["verdict"], "held");
        assert!(e["actual"].is_number() && e["metric"].is_string(), "{e}");
        assert_eq!(e["fingerprint"].as_str().unwrap().len(), 16);
    }
    // Expectations about one variant on one seed were judged on one run.
    let key = |e: &serde_json::Value| (e["variant"].to_string(), e["seed"].to_string());
    for a in &judged {
        for b in judged.iter().filter(|b| key(b) == key(a)) {
            assert_eq!(a["fingerprint"], b["fingerprint"]);
        }
    }
}

#[test]
fn run_judges_only_the_expectations_about_its_variant() {
    // eventually-wrong's lag expectations are about the scenario as
    // written; a variant's run must not judge them.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/eventually-wrong.toml"
    ))
    .unwrap();
    // Predictions come after the expectations and name variants too.
    let expectations = text.split("[[predict]]").next().unwrap();
    let about = |v: &str| expectations.matches(&format!("variant = \"{v}\"")).count();
    for variant in ["read-your-writes", "anti-entropy"] {
        let (_, out, err) = faultline(&["run", "eventually-wrong", "--variant", variant, "--json"]);
        let doc: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}{err}"));
        assert_eq!(
            doc["expectations"].as_array().unwrap().len(),
            about(variant),
            "{variant}"
        );
    }
}

#[test]
fn bad_input_gets_a_clear_message_and_exit_code_2() {
    let code = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (c, err) = code(&["run", "double-chrage"]);
    assert_eq!(c, Some(2));
    assert!(
        err.contains("no story called `double-chrage`; did you mean `double-charge`?"),
        "{err}"
    );

    let (c, err) = code(&["run", "double-charge", "--set", "node.usr.rate=5/s"]);
    assert_eq!(c, Some(2));
    assert!(
        err.contains("no node called `usr`; did you mean `user`?"),
        "{err}"
    );

    let (c, err) = code(&["run", "double-charge", "--set", "rate"]);
    assert_eq!(c, Some(2));
    assert!(err.contains("needs the form PATH=VALUE"), "{err}");

    let (c, err) = code(&["run", "double-charge", "--variant", "idempotency"]);
    assert_eq!(c, Some(2));
    assert!(err.contains("no variant `idempotency`"), "{err}");

    let path = write_temp(
        "typo.toml",
        &story_text().replacen("workers = 16", "wrkers = 16", 1),
    );
    let (c, err) = code(&["run", path.to_str().unwrap()]);
    assert_eq!(c, Some(2));
    assert!(err.contains("error: unknown field `wrkers`"), "{err}");
    assert!(err.contains("typo.toml:62:1"), "{err}");
    assert!(err.contains("did you mean `workers`?"), "{err}");

    let (c, err) = code(&["run", "/nonexistent/x.toml"]);
    assert_eq!(c, Some(2));
    assert!(err.contains("cannot read scenario file"), "{err}");
}

#[test]
fn compare_tabulates_variants_on_the_same_seeds_deterministically() {
    let (ok, out, err) = faultline(&["compare", "double-charge", "--seeds", "4"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("as written and 2 variants x 4 seeds (1..4), paired by seed"),
        "{out}"
    );
    let duplicates = out
        .lines()
        .find(|l| l.starts_with("ledger.duplicate_charges"))
        .unwrap();
    // Keys (the last column: as written, then the variants in file order)
    // win with exactly zero, and are marked best.
    assert!(duplicates.contains("0 ± 0 *"), "{duplicates}");
    // The variants see the same arrivals: the comparison is paired.
    let arrivals: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("user.requests"))
        .unwrap()
        .split("  ")
        .filter(|c| !c.trim().is_empty())
        .skip(1)
        .map(str::trim)
        .collect();
    assert_eq!(arrivals[0], arrivals[1], "{out}");
    assert_eq!(arrivals[1], arrivals[2], "{out}");
    // Parallel, yet the same every time.
    assert_eq!(
        out,
        faultline(&["compare", "double-charge", "--seeds", "4"]).1
    );
    let (ok, json, _) = faultline(&["compare", "double-charge", "--seeds", "3", "--json"]);
    assert!(ok);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["variants"][0], "as written");
    assert_eq!(doc["variants"][1], "no-idempotency");
    // That variant changes nothing, so it is the baseline, by its name.
    assert_eq!(doc["baseline"], "no-idempotency");
    assert_eq!(doc["seeds"].as_array().unwrap().len(), 3);
    // The paired table: keys minus no keys, seed by seed, clearly fewer
    // duplicates; and the same arrivals on every seed, so exactly zero.
    let paired = out
        .split("minus no-idempotency on the same seed")
        .nth(1)
        .unwrap();
    let dup = paired
        .lines()
        .find(|l| l.starts_with("ledger.duplicate_charges"))
        .unwrap();
    assert!(dup.contains('-') && dup.ends_with('!'), "{dup}");
    let req = paired
        .lines()
        .find(|l| l.starts_with("user.requests"))
        .unwrap();
    assert!(req.trim_end().ends_with("0 ± 0"), "{req}");
    // The scenario as written as the baseline, another baseline, and a
    // misspelt one.
    for baseline in ["as-written", "idempotency-keys"] {
        let args = [
            "compare",
            "double-charge",
            "--seeds",
            "2",
            "--baseline",
            baseline,
        ];
        let (ok, out, _) = faultline(&args);
        let name = baseline.replace("as-written", "as written");
        assert!(
            ok && out.contains(&format!("minus {name} on the same seed")),
            "{out}"
        );
    }
    let (ok, _, err) = faultline(&["compare", "double-charge", "--baseline", "idempotency-key"]);
    assert!(
        !ok && err.contains("did you mean `idempotency-keys`"),
        "{err}"
    );
}

/// Runs the replay command `explore` printed in `out`: (success, stdout).
fn replay(out: &str) -> (bool, String) {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("replay:  faultline "))
        .unwrap();
    let args: Vec<String> = line
        .split(' ')
        .map(|a| a.trim_matches('\'').to_string())
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out, _) = faultline(&args);
    (ok, out)
}

#[test]
fn explore_finds_a_breaking_seed_and_prints_its_replay() {
    let (ok, out, _) = faultline(&["explore", "double-charge", "--seeds", "3"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("every expectation held on 3 seeds (1..3)"),
        "{out}"
    );
    // With almost no load, the no-keys variant rarely double charges: some
    // seed breaks "duplicate charges > 0", and explore says which.
    let (ok, out, _) = faultline(&[
        "explore",
        "double-charge",
        "--seeds",
        "50",
        "--set",
        "node.user.rate=1/s",
        "--set",
        "run.duration=\"5s\"",
    ]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("breaks double-charge [no-idempotency]"),
        "{out}"
    );
    // The printed command really replays the failure.
    let (ok, out) = replay(&out);
    assert!(!ok, "{out}");
    assert!(
        out.contains("FAIL ledger.duplicate_charges > 0 (was 0)"),
        "{out}"
    );
}

#[test]
fn trace_draws_a_retried_order_as_a_sequence_diagram() {
    let (ok, out, err) = faultline(&[
        "trace",
        "double-charge",
        "--variant",
        "idempotency-keys",
        "--format",
        "mermaid",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with(
            "sequenceDiagram\n    participant user\n    participant api\n    participant ledger\n"
        ),
        "{out}"
    );
    // The story in one diagram: the reply is lost, the attempt times out,
    // the retry is answered with the original charge.
    let lost = out
        .lines()
        .find(|l| l.contains("api-xuser: LOST ok"))
        .expect(&out);
    let charge = lost.split("ok ").nth(1).unwrap().split(' ').next().unwrap();
    assert!(out.contains("timed out"), "{out}");
    let last = out.trim_end().lines().last().unwrap();
    assert!(
        last.contains(&format!("api-->>user: ok {charge} for call")),
        "the retry gets charge {charge} back: {out}"
    );
    let (ok, _, err) = faultline(&[
        "trace",
        "double-charge",
        "--format",
        "mermaid",
        "--request",
        "999999",
    ]);
    assert!(!ok);
    assert!(err.contains("order 999999 made no calls"), "{err}");
}

#[test]
fn trace_writes_chrome_json_and_json_lines() {
    let dir = std::env::temp_dir().join(format!("faultline-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.json");
    let (ok, _, err) = faultline(&[
        "trace",
        "double-charge",
        "--format",
        "chrome",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let events = doc["traceEvents"].as_array().unwrap();
    let has = |ph: &str| events.iter().any(|e| e["ph"] == ph);
    assert!(
        has("M") && has("X") && has("i"),
        "tracks, call slices and lost-message instants"
    );
    assert!(
        !dir.join("run.faultline-tmp").exists(),
        "no temporary file left behind"
    );

    let (ok, out, _) = faultline(&[
        "trace",
        "double-charge",
        "--format",
        "jsonl",
        "--set",
        "run.duration=\"2s\"",
    ]);
    assert!(ok);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() > 100);
    assert!(
        lines
            .iter()
            .all(|l| l["t_ns"].is_u64() && l["kind"].is_string())
    );
}

#[test]
fn replay_confirms_a_saved_run_or_names_the_first_differing_event() {
    let dir = std::env::temp_dir().join(format!("faultline-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let record = dir.join("run.json");
    let record_arg = record.to_str().unwrap();
    let args = [
        "run",
        "double-charge",
        "--variant",
        "idempotency-keys",
        "--seed",
        "4",
    ];
    let plain = fingerprint_of(&faultline(&args).1);
    let (ok, saved, err) = faultline(&[&args[..], &["--save", record_arg]].concat());
    assert!(ok, "{err}");
    assert_eq!(
        fingerprint_of(&saved),
        plain,
        "saving a record must not change the run"
    );

    let (ok, out, _) = faultline(&["replay", record_arg]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("fingerprint {plain} matches the record")),
        "{out}"
    );

    // A different system: the first arrival comes at another time.
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    let source = doc["source"]
        .as_str()
        .unwrap()
        .replace("rate = \"50/s\"", "rate = \"51/s\"");
    doc["source"] = serde_json::Value::String(source);
    let changed = dir.join("changed.json");
    std::fs::write(&changed, doc.to_string()).unwrap();
    let (ok, out, _) = faultline(&["replay", changed.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        out.contains(" recorded (") && out.contains("fingerprint "),
        "{out}"
    );
    assert!(!out.contains("differs from the recorded"), "{out}");
    assert!(
        out.contains("first differing event: #1\n  now: at "),
        "{out}"
    );

    // A record whose history was tampered with at event 100.
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    doc["checkpoints"][99] = serde_json::Value::String("0000000000000000".into());
    let tampered = dir.join("tampered.json");
    std::fs::write(&tampered, doc.to_string()).unwrap();
    let (ok, out, _) = faultline(&["replay", tampered.to_str().unwrap()]);
    assert!(!ok);
    assert!(out.contains("first differing event: #100"), "{out}");

    let junk = dir.join("junk.json");
    std::fs::write(&junk, "{\"hello\": 1}").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["replay", junk.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Faultline run record"));
}

/// The single-machine sweep and the merge of its shards are the same bytes,
/// as CSV and as JSON, whichever order the parts are given in.
#[test]
fn sweep_shards_merge_into_exactly_the_single_machine_table() {
    let dir = std::env::temp_dir().join(format!("faultline-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |f: &str| dir.join(f).display().to_string();
    let sweep = [
        "sweep",
        "queues",
        "--variant",
        "bounded",
        "--param",
        "node.api.queue=10..30:10",
        "--param",
        "node.user.rate=70/s,90/s",
        "--seeds",
        "3",
    ];
    for ext in ["csv", "json"] {
        let single = path(&format!("single.{ext}"));
        let (ok, out, err) = faultline(&[&sweep[..], &["--out", &single]].concat());
        assert!(ok, "{err}");
        assert!(
            out.contains("sweep queues [bounded]: 6 points x 3 seeds (1..3)"),
            "{out}"
        );
        assert!(out.contains("wrote") && out.contains("(18 rows)"), "{out}");
        let mut parts = Vec::new();
        for i in 1..=4 {
            let part = path(&format!("part{i}.json"));
            let shard = format!("{i}/4");
            let (ok, out, err) =
                faultline(&[&sweep[..], &["--shard", &shard, "--out", &part]].concat());
            assert!(ok, "{err}");
            assert!(out.contains(&format!("shard {i}/4 ran")), "{out}");
            parts.push(part);
        }
        parts.reverse();
        let merged = path(&format!("merged.{ext}"));
        let args: Vec<&str> = ["merge"]
            .into_iter()
            .chain(parts.iter().map(String::as_str))
            .chain(["--out", &merged])
            .collect();
        let (ok, out, err) = faultline(&args);
        assert!(ok, "{err}");
        assert!(out.contains("(18 rows)"), "{out}");
        let (a, b) = (
            std::fs::read_to_string(&single).unwrap(),
            std::fs::read_to_string(&merged).unwrap(),
        );
        assert_eq!(a, b, "merge differs from the single-machine {ext}");
        assert_eq!(
            a.lines().count(),
            if ext == "csv" { 19 } else { a.lines().count() }
        );
        if ext == "csv" {
            let header = a.lines().next().unwrap();
            assert!(header.starts_with("node.api.queue,node.user.rate,seed,fingerprint,"));
            assert!(a.lines().nth(1).unwrap().starts_with("10,70/s,1,"), "{a}");
        }

        // A missing shard, a shard given twice, and a part of another sweep.
        let (ok, _, err) = faultline(&["merge", &parts[0], &parts[1], &parts[2]]);
        assert!(!ok && err.contains("missing shard(s): 1/4"), "{err}");
        let (ok, _, err) = faultline(&["merge", &parts[0], &parts[0]]);
        assert!(!ok && err.contains("given twice"), "{err}");
        let other = path("other.json");
        let (ok, _, err) = faultline(
            &[
                &sweep[..6],
                &["--param", "node.user.rate=70/s,91/s", "--seeds", "3"],
                &["--shard", "1/4", "--out", &other],
            ]
            .concat(),
        );
        assert!(ok, "{err}");
        let (ok, _, err) = faultline(&["merge", &parts[0], &other]);
        assert!(!ok && err.contains("belongs to another sweep"), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sweep_refuses_bad_parameters_and_outputs() {
    let (ok, _, err) = faultline(&["sweep", "queues", "--param", "node.api.workers=8..1"]);
    assert!(!ok && err.contains("the end is below the start"), "{err}");
    let (ok, _, err) = faultline(&["sweep", "queues", "--param", "node.api.wrokers=1..2"]);
    assert!(!ok && err.contains("did you mean `workers`"), "{err}");
    let (ok, _, err) = faultline(&[
        "sweep",
        "queues",
        "--param",
        "node.api.workers=1..2",
        "--shard",
        "1/2",
    ]);
    assert!(!ok && err.contains("add --out part-I.json"), "{err}");
    let (ok, _, err) = faultline(&[
        "sweep",
        "queues",
        "--param",
        "node.api.workers=1..2",
        "--shard",
        "3/2",
    ]);
    assert!(!ok && err.contains("is not a shard"), "{err}");
    let (ok, _, err) = faultline(&[
        "sweep",
        "queues",
        "--param",
        "node.api.workers=1..2",
        "--out",
        "x.txt",
    ]);
    assert!(!ok && err.contains(".csv or .json"), "{err}");
}

/// The double charge with the API down from 20s to 30s.
fn story_with_a_crash() -> std::path::PathBuf {
    let text = story_text().replacen(
        "[[link]]",
        "[[fault]]\nat = \"20s\"\ncrash = \"api\"\n\n[[fault]]\nat = \"30s\"\nrestart = \"api\"\n\n[[link]]",
        1,
    );
    write_temp("crash.toml", &text)
}

#[test]
fn run_draws_sparklines_and_writes_a_plot_and_a_report() {
    let scenario = story_with_a_crash();
    let dir = scenario.parent().unwrap().to_path_buf();
    let (svg, md) = (dir.join("run.svg"), dir.join("run.md"));
    let (ok, out, err) = faultline(&[
        "run",
        scenario.to_str().unwrap(),
        "--variant",
        "no-idempotency",
        "--seed",
        "4",
        "--plot",
        svg.to_str().unwrap(),
        "--report",
        md.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    // Sparklines: goodput collapses while the API is down (blocks of the
    // lowest height in the middle), and the fault window is listed.
    let goodput = out.lines().find(|l| l.contains("user goodput")).unwrap();
    assert!(goodput.contains("▁▁▁▁▁"), "{goodput}");
    let fault = out.lines().find(|l| l.contains("fault: api down")).unwrap();
    assert!(fault.ends_with(" 20s to 30s"), "{out}");
    // While the API is down the oldest request waits ever longer.
    assert!(out.contains("user waiting latency"), "{out}");
    // No colour when the output is not a terminal.
    assert!(!out.contains('\x1b'), "{out}");

    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    for title in [
        "latency of successes",
        "goodput",
        "failures per second",
        "queue length",
    ] {
        assert!(svg.contains(title), "{title} missing");
    }
    // The crash is shaded on each of the four panels, from x(20s) to x(30s).
    assert_eq!(svg.matches("class=\"fault\"").count(), 4);
    assert!(svg.contains("<title>api down</title>"));
    assert!(svg.matches("<polyline").count() >= 4);

    let md = std::fs::read_to_string(&md).unwrap();
    for part in [
        "# Run report: The double charge",
        "| seed | 4 |",
        "| replay | `faultline run ",
        "--variant no-idempotency --seed 4`",
        "## Expectations",
        "✅ holds: `ledger.duplicate_charges > 0`",
        "- fault: api down from 20.0s to 30.0s",
        "```mermaid\nxychart-beta",
        "![the run over time](run.svg)",
        "## One failed request: order ",
        "```mermaid\nsequenceDiagram",
    ] {
        assert!(md.contains(part), "report lacks {part:?}:\n{md}");
    }
    // The sample request really failed somewhere: a loss or a timeout.
    let diagram = md.split("sequenceDiagram").nth(1).unwrap();
    assert!(
        diagram.contains("LOST")
            || diagram.contains("timed out")
            || diagram.contains("unavailable"),
        "{diagram}"
    );
    // The fingerprint with a report is the fingerprint without one.
    let (_, plain, _) = faultline(&[
        "run",
        scenario.to_str().unwrap(),
        "--variant",
        "no-idempotency",
        "--seed",
        "4",
    ]);
    assert!(md.contains(&format!("| fingerprint | `{}` |", fingerprint_of(&plain))));
}

#[test]
fn colour_is_for_terminals_and_no_color_wins() {
    let run = |env: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
            .args(["run", "double-charge", "--variant", "idempotency-keys"])
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(!run(&[]).contains('\x1b'));
    let forced = run(&[("CLICOLOR_FORCE", "1")]);
    assert!(forced.contains("\x1b[32mok  \x1b[0m"), "{forced}");
    assert!(!run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains('\x1b'));
}

#[test]
fn a_failed_run_leaves_earlier_files_alone() {
    let dir = std::env::temp_dir().join(format!("faultline-atomic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("keep.svg");
    std::fs::write(&svg, "a good plot").unwrap();
    let (ok, _, err) = faultline(&[
        "run",
        "double-charge",
        "--set",
        "node.api.wrokers=3",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("did you mean `workers`"), "{err}");
    assert_eq!(std::fs::read_to_string(&svg).unwrap(), "a good plot");
    // A directory that does not exist is an error, not a panic.
    let (ok, _, err) = faultline(&[
        "run",
        "double-charge",
        "--plot",
        dir.join("no/such/dir/x.svg").to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("cannot write"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn breaker_state_changes_are_on_the_chrome_timeline() {
    let (ok, out, err) = faultline(&[
        "trace",
        "cascading-failure",
        "--variant",
        "breaker",
        "--format",
        "chrome",
    ]);
    assert!(ok, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = doc["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    for state in [
        "circuit breaker open",
        "circuit breaker half_open",
        "circuit breaker closed",
    ] {
        assert!(names.contains(&state), "{state} missing");
    }
    // And the run itself says how long the breaker was open.
    let (_, out, _) = faultline(&["run", "cascading-failure", "--variant", "breaker"]);
    assert!(out.contains("breaker opened"), "{out}");
}

#[test]
fn share_prints_a_link_that_carries_the_file_variant_and_seed() {
    let text = story_text();
    let file = write_temp("share.toml", &text);
    let file = file.to_str().unwrap();
    let (ok, out, err) = faultline(&[
        "share",
        file,
        "--variant",
        "idempotency-keys",
        "--seed",
        "7",
    ]);
    assert!(ok, "{err}");
    let link = out.trim();
    let fragment = link
        .strip_prefix("http://127.0.0.1:8080/#")
        .unwrap_or_else(|| panic!("{link}"));
    let shared = sim_core::scenario::read_fragment(fragment).unwrap();
    assert_eq!(shared.text, text);
    assert_eq!(shared.variant.as_deref(), Some("idempotency-keys"));
    assert_eq!(shared.seed, 7);
    // Another address for the app, and the scenario's own seed.
    let (ok, out, _) = faultline(&[
        "share",
        "double-charge",
        "--base",
        "https://example.org/faultline/",
    ]);
    assert!(ok);
    let shared = sim_core::scenario::read_fragment(
        out.trim()
            .strip_prefix("https://example.org/faultline/#")
            .unwrap(),
    )
    .unwrap();
    assert_eq!((shared.seed, shared.variant), (1, None));

    // What would not open gets no link.
    let (ok, out, err) = faultline(&["share", file, "--variant", "nope"]);
    assert!(!ok && out.is_empty());
    assert!(err.contains("has no variant `nope`"), "{err}");
    let (ok, _, err) = faultline(&["share", file, "--base", "127.0.0.1:8080"]);
    assert!(!ok);
    assert!(err.contains("starting with http:// or https://"), "{err}");
    let bad = write_temp("share-bad.toml", &text.replacen("title", "titel", 1));
    let (ok, out, err) = faultline(&["share", bad.to_str().unwrap()]);
    assert!(!ok && out.is_empty());
    assert!(
        err.contains("share-bad.toml:1:1") && err.contains("did you mean `title`?"),
        "{err}"
    );
    // A scenario too long to send: a comment that barely deflates.
    let mut x = 7u64;
    let noise: String = (0..60_000)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            char::from(b'a' + ((x >> 59) as u8 % 26))
        })
        .collect();
    let long = write_temp("share-long.toml", &format!("{text}\n# {noise}\n"));
    let (ok, out, err) = faultline(&["share", long.to_str().unwrap()]);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(err.contains("links over 32000 are cut"), "{err}");
    assert!(err.contains("send the file itself"), "{err}");
}

/// A Raft group whose members forget their vote in a crash, crashed every
/// 45 ms amid elections: `explore` finds a seed with two leaders in one
/// term, and its replay shows it.
#[test]
fn explore_finds_two_leaders_in_a_term_when_a_crash_forgets_the_vote() {
    let mut text = String::from(
        r#"title = "forgotten vote"
summary = "A vote kept only in memory."
[run]
duration = "3s"
[network]
latency = { dist = "exponential", mean = "10ms" }
[[node]]
name = "kv"
kind = "raft"
replicas = 3
election_timeout = "30ms"
election_jitter = "30%"
heartbeat = "10ms"
fsync = false
[[expect]]
metric = "kv.two_leader_terms"
op = "=="
value = 0
because = "one leader per term"
"#,
    );
    for i in 0..60 {
        let (at, m) = (20 + i * 45, i % 3);
        text.push_str(&format!(
            "[[fault]]\nat = \"{at}ms\"\ncrash = \"kv-{m}\"\n[[fault]]\nat = \"{}ms\"\nrestart = \"kv-{m}\"\n",
            at + 3
        ));
    }
    let path = write_temp("forgotten-vote.toml", &text);
    let file = path.to_str().unwrap();
    let (ok, out, _) = faultline(&["explore", file, "--seeds", "40"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("kv.two_leader_terms == 0 does not hold"),
        "{out}"
    );
    let (ok, out) = replay(&out);
    assert!(!ok, "{out}");
    assert!(out.contains("terms with two leaders: "), "{out}");
    // With the vote on disk, no seed of the 40 breaks it.
    let kept = write_temp(
        "vote-on-disk.toml",
        &text.replace("fsync = false", "fsync = true"),
    );
    let (ok, out, _) = faultline(&["check", kept.to_str().unwrap(), "--seeds", "40"]);
    assert!(ok, "{out}");
}
