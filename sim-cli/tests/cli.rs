//! The `faultline` binary end to end. (Cargo exposes a binary's path only to
//! its own package's tests, so CLI tests live here rather than in tests/.)

use std::process::Command;

fn faultline(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("the faultline binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

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
