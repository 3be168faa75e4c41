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
