//! The corpus of bad inputs, `tests/bad-inputs/cases.toml`, run case by
//! case against the real binary: each case is an input (flags, and a
//! scenario file made from a story with a few replacements, or written
//! out in full), the exit code it must give and the words its message
//! must contain. Files a case puts in its folder first must be unchanged
//! afterwards (nothing is lost), and no case may panic. The table is the
//! review: a fixed bug gets a row.
//!
//! (The corpus lives under the workspace's `tests/`; this runner lives in
//! sim-cli because cargo gives a binary's path only to its own package's
//! tests.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/bad-inputs")
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    args: Vec<String>,
    /// A story whose text, with `replace` applied, becomes `{file}`.
    story: Option<String>,
    #[serde(default)]
    replace: Vec<[String; 2]>,
    /// A scenario's whole text, as `{file}`.
    text: Option<String>,
    /// Files made in `{dir}` before the command; each must be unchanged after.
    #[serde(default)]
    files: BTreeMap<String, String>,
    exit: i32,
    /// Words the output (stdout and stderr together) must contain.
    #[serde(default)]
    message: Vec<String>,
    /// Words it must not contain.
    #[serde(default)]
    not: Vec<String>,
    /// Files the command must not have created in `{dir}`.
    #[serde(default)]
    absent: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Corpus {
    case: Vec<Case>,
}

fn story_text(name: &str) -> String {
    std::fs::read_to_string(corpus().join(format!("../../scenarios/{name}.toml")))
        .unwrap_or_else(|e| panic!("story {name}: {e}"))
}

/// Runs one case; returns what went wrong, if anything.
fn run_case(case: &Case, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("case.toml");
    if let Some(story) = &case.story {
        let mut text = story_text(story);
        for [from, to] in &case.replace {
            if !text.contains(from.as_str()) {
                return Err(format!("the story has no `{from}` to replace"));
            }
            text = text.replacen(from.as_str(), to, 1);
        }
        std::fs::write(&file, text).unwrap();
    }
    if let Some(text) = &case.text {
        std::fs::write(&file, text).unwrap();
    }
    for (path, text) in &case.files {
        std::fs::write(dir.join(path), text).unwrap();
    }
    let fill = |a: &String| {
        a.replace("{file}", &file.display().to_string())
            .replace("{dir}", &dir.display().to_string())
            .replace("{corpus}", &corpus().display().to_string())
    };
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(case.args.iter().map(fill))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut wrong = Vec::new();
    if out.status.code() != Some(case.exit) {
        wrong.push(format!(
            "exit {:?}, expected {}",
            out.status.code(),
            case.exit
        ));
    }
    for m in &case.message {
        if !text.contains(&fill(m)) {
            wrong.push(format!("no `{m}` in the output"));
        }
    }
    let always = [
        "panicked",
        "RUST_BACKTRACE",
        "invalid type:",
        "untagged enum",
    ];
    for m in case.not.iter().map(String::as_str).chain(always) {
        if text.contains(m) {
            wrong.push(format!("`{m}` is in the output"));
        }
    }
    for (path, before) in &case.files {
        let after = std::fs::read_to_string(dir.join(path)).unwrap_or_default();
        if after != *before {
            wrong.push(format!("`{path}` was changed or removed"));
        }
    }
    for path in &case.absent {
        if dir.join(path).exists() {
            wrong.push(format!("`{path}` was written"));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n--- output ---\n{text}", wrong.join("; ")))
    }
}

#[test]
fn every_bad_input_in_the_corpus_gets_its_exit_code_and_message() {
    let text = std::fs::read_to_string(corpus().join("cases.toml")).unwrap();
    let corpus: Corpus = toml::from_str(&text).unwrap_or_else(|e| panic!("cases.toml: {e}"));
    let root = std::env::temp_dir().join(format!("faultline-bad-inputs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut names = std::collections::BTreeSet::new();
    let failures: Vec<String> = corpus
        .case
        .iter()
        .enumerate()
        .filter_map(|(i, case)| {
            assert!(names.insert(&case.name), "two cases called {}", case.name);
            run_case(case, &root.join(i.to_string()))
                .err()
                .map(|e| format!("case `{}`: {e}", case.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        corpus.case.len(),
        failures.join("\n\n")
    );
}
