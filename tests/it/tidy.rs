//! Checks on the code itself: every source file says what it is for in a
//! `//!` line, and ARCHITECTURE.md's codemap names every engine source file,
//! so the map cannot silently go stale.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [
        "sim-core/src",
        "sim-core/benches",
        "sim-core/examples",
        "sim-cli/src",
        "sim-cli/tests",
        "tests/src",
        "tests/it",
        "tests/wasm-probe/src",
        "xtask/src",
    ] {
        rust_files(&root().join(dir), &mut files);
    }
    assert!(files.len() > 20, "found only {} source files", files.len());
    files
}

#[test]
fn every_source_file_opens_with_a_module_doc() {
    let missing: Vec<_> = sources()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "add a `//!` line saying what these are for: {missing:?}"
    );
}

/// Every source file of every crate is named in its crate's part of the
/// map, by its path from the crate (`src/observe.rs`), from its folder
/// (`observe.rs`) or from the repository (`sim-web/src/observe.rs`).
#[test]
fn the_codemap_names_every_module_of_every_crate() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let mut unmapped = Vec::new();
    for (krate, dir) in [
        ("sim-cli", "sim-cli/src"),
        ("sim-cli", "sim-cli/tests"),
        ("sim-web", "sim-web/src"),
        ("sim-web", "sim-web/tests"),
        ("xtask", "xtask/src"),
        ("tests", "tests/it"),
        ("tests", "tests/src"),
        ("tests", "tests/wasm-probe/src"),
        ("sim-core", "sim-core/benches"),
        ("sim-core", "sim-core/examples"),
    ] {
        let mut files = Vec::new();
        rust_files(&root().join(dir), &mut files);
        for path in files {
            let from = |base: &str| {
                path.strip_prefix(root().join(base))
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            };
            let names = [from(krate), from(dir), from("")];
            if !names
                .iter()
                .any(|n| architecture.contains(&format!("`{n}`")))
            {
                unmapped.push(names[2].clone());
            }
        }
    }
    assert!(
        unmapped.is_empty(),
        "ARCHITECTURE.md's codemap does not mention: {unmapped:?}"
    );
}

#[test]
fn the_codemap_names_every_engine_source_file() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let mut files = Vec::new();
    rust_files(&root().join("sim-core/src"), &mut files);
    let unmapped: Vec<_> = files
        .iter()
        .map(|p| {
            p.strip_prefix(root().join("sim-core/src"))
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name != "lib.rs" && !name.ends_with("mod.rs"))
        .filter(|name| !architecture.contains(&format!("`{name}`")))
        .collect();
    assert!(
        unmapped.is_empty(),
        "ARCHITECTURE.md's codemap does not mention: {unmapped:?}"
    );
}

/// The longest a function may be, in lines (signature to closing brace).
const MAX_FUNCTION_LINES: usize = 100;

/// Functions allowed past the limit for a while, with the length each
/// may not grow past; each is to be split, and then leaves this list.
/// Eleven were on it when the limit came in; all have been split.
const LONG_FUNCTIONS: &[(&str, &str, usize)] = &[];

/// Every function with a body in `text` (formatted by rustfmt, so a body
/// ends at the first line that is its indentation and `}`): its name and
/// its length in lines.
fn function_lengths(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let mut rest = trimmed;
        for prefix in [
            "pub(crate) ",
            "pub(super) ",
            "pub ",
            "const ",
            "async ",
            "unsafe ",
        ] {
            rest = rest.strip_prefix(prefix).unwrap_or(rest);
        }
        let Some(rest) = rest.strip_prefix("fn ") else {
            continue;
        };
        if line.trim_end().ends_with(';') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let close = format!("{indent}}}");
        if let Some(end) = lines[i + 1..].iter().position(|l| *l == close) {
            out.push((name, end + 2));
        }
    }
    out
}

#[test]
fn the_length_finder_measures_a_function() {
    let text = "fn a() {\n    if x {\n    }\n}\n\n    pub fn b(\n        y: u8,\n    ) -> u8 {\n        y\n    }\n";
    assert_eq!(
        function_lengths(text),
        vec![("a".to_string(), 4), ("b".to_string(), 5)]
    );
}

/// No function is over `MAX_FUNCTION_LINES` lines, except those listed in
/// `LONG_FUNCTIONS`, which may not grow (and must leave the list once
/// they are short).
#[test]
fn no_function_is_longer_than_the_limit() {
    let mut files = Vec::new();
    for dir in [
        "sim-core/src",
        "sim-cli/src",
        "sim-web/src",
        "xtask/src",
        "tests/src",
        "tests/it",
    ] {
        rust_files(&root().join(dir), &mut files);
    }
    let mut problems = Vec::new();
    for path in files {
        let rel = path
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&path).unwrap();
        for (name, len) in function_lengths(&text) {
            let allowed = LONG_FUNCTIONS
                .iter()
                .find(|(f, n, _)| *f == rel && *n == name)
                .map_or(MAX_FUNCTION_LINES, |&(_, _, max)| max);
            if len > allowed {
                problems.push(format!(
                    "{rel}: `{name}` is {len} lines (at most {allowed})"
                ));
            }
        }
    }
    for &(file, name, max) in LONG_FUNCTIONS {
        let text = std::fs::read_to_string(root().join(file)).unwrap_or_default();
        let len = function_lengths(&text)
            .into_iter()
            .filter(|(n, _)| n == name)
            .map(|(_, l)| l)
            .max()
            .unwrap_or(0);
        if len <= MAX_FUNCTION_LINES {
            problems.push(format!(
                "{file}: `{name}` is {len} lines now: take it off LONG_FUNCTIONS (it was {max})"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The sim-core modules a front end may name: the root (the engine's
/// types), the scenario door and its kind registry and format types, the
/// formulas of queueing theory, and the queueing models (the CLI's M/M/1
/// demo builds one).
const FRONT_END_MAY_NAME: &[&str] = &[
    "",
    "scenario",
    "scenario::kinds",
    "scenario::spec",
    "theory",
    "models::queueing",
];

/// The module part of every `sim_core::` path in `text`: the lowercase
/// segments that are followed by `::` ("scenario" in
/// `sim_core::scenario::load`, "" in `sim_core::SimTime::ZERO`).
fn sim_core_modules(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("sim_core::") {
        let mut rest = &text[at + "sim_core::".len()..];
        let mut modules: Vec<&str> = Vec::new();
        loop {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let segment = &rest[..end];
            let is_module = segment.starts_with(|c: char| c.is_ascii_lowercase())
                && rest[end..].starts_with("::");
            if !is_module {
                break;
            }
            modules.push(segment);
            rest = &rest[end + 2..];
        }
        found.push(modules.join("::"));
    }
    found
}

#[test]
fn the_module_finder_reads_paths() {
    let text = "use sim_core::scenario::{Rpc, load};\nsim_core::SimTime::ZERO; \
                sim_core::models::kv::KvStore::new(); sim_core::scenario::kinds::of(k)";
    assert_eq!(
        sim_core_modules(text),
        ["scenario", "", "models::kv", "scenario::kinds"]
    );
}

/// The front ends go through sim-core's curated surface: they cannot
/// reach the engine's private modules (the compiler sees to that), and
/// they do not reach into the models, policies or checkers either.
#[test]
fn front_ends_use_only_the_curated_surface() {
    let mut files = Vec::new();
    for dir in ["sim-cli/src", "sim-web/src", "xtask/src"] {
        rust_files(&root().join(dir), &mut files);
    }
    assert!(
        files.len() > 20,
        "found only {} front-end files",
        files.len()
    );
    let mut reaching = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        for modules in sim_core_modules(&text) {
            if !FRONT_END_MAY_NAME.contains(&modules.as_str()) {
                let file = path.strip_prefix(root()).unwrap().display();
                reaching.push(format!("{file}: sim_core::{modules}"));
            }
        }
    }
    assert!(
        reaching.is_empty(),
        "front ends reach past sim-core's curated surface: {reaching:#?}"
    );
}
