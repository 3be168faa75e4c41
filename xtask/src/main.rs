//! Project automation, so that nothing but cargo is needed (the cargo-xtask
//! convention):
//!
//! - `cargo xtask test`: everything CI checks, in the order that fails
//!   fastest: formatting, clippy (warnings are errors), sim-core built for
//!   wasm32-unknown-unknown, reference fingerprints compared natively and in
//!   WebAssembly (under Node.js), then every test in the workspace. Ends
//!   with one line `tests: N passed, M failed`.
//! - `cargo xtask bench`: the engine benchmarks, written into BENCHMARKS.md.
//! - `cargo xtask bench-simpy`: the M/M/1 queue in SimPy beside Faultline
//!   (also part of `bench`).
//! - `cargo xtask web`: the web app's static site, in `target/web/dist`.
//! - `cargo xtask serve [--port N]`: serves it on 127.0.0.1.
//! - `cargo xtask browser-test`: the web app in headless chromium (also
//!   part of `test`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

mod memory;
mod simpy;
mod web;

pub(crate) const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("bench") => bench(args.iter().any(|a| a == "--quick")),
        Some("bench-simpy") => simpy::table(args.iter().any(|a| a == "--quick")).and_then(|t| {
            print!("{t}");
            write_simpy_block(&t)
        }),
        Some("bench-memory") => memory::table().and_then(|t| {
            print!("{t}");
            write_memory_block(&t)
        }),
        Some("wasm-fingerprints") => ensure_wasm_target().and_then(|()| wasm_fingerprints_match()),
        Some("web") => web::build_site().map(|_| ()),
        Some("serve") => {
            let port = args
                .iter()
                .position(|a| a == "--port")
                .and_then(|i| args.get(i + 1))
                .map_or(Ok(8080), |p| p.parse::<u16>())
                .map_err(|e| format!("--port: {e}"));
            port.and_then(web::serve)
        }
        Some("browser-test") => web::browser_test().and_then(|(p, f)| {
            println!("browser tests: {p} passed, {f} failed");
            if f > 0 {
                Err("the browser test failed".into())
            } else {
                Ok(())
            }
        }),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 test            formatting, clippy, the wasm32 build and every test (what CI runs)\n  \
                 bench [--quick] the engine benchmarks, written into BENCHMARKS.md\n  \
                 bench-simpy [--quick]  the M/M/1 in SimPy beside Faultline, into BENCHMARKS.md
  \
                 bench-memory    every story's peak memory at 1x and 8x its duration, into BENCHMARKS.md\n  \
                 wasm-fingerprints  reference runs and every story x variant, natively and under Node.js\n  \
                 web             the web app, built into target/web/dist\n  \
                 serve [--port N] serve the web app on 127.0.0.1 (default port 8080)\n  \
                 browser-test    the web app in headless chromium: every story played, fingerprints compared"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

pub(crate) fn run(step: &str, mut cmd: Command) -> Result<(), String> {
    eprintln!("\n==> {step}");
    let status = cmd
        .status()
        .map_err(|e| format!("{step}: could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

fn test() -> Result<(), String> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run("cargo fmt --check", fmt)?;

    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run("cargo clippy (warnings are errors)", clippy)?;

    ensure_wasm_target()?;
    let mut wasm = cargo();
    wasm.args(["build", "-p", "sim-core", "--target", WASM_TARGET]);
    run("sim-core builds for wasm32-unknown-unknown", wasm)?;
    wasm_fingerprints_match()?;

    eprintln!("\n==> cargo test --workspace");
    let mut child = cargo()
        .args(["test", "--workspace", "--color", "never"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cargo test: could not start: {e}"))?;
    let (mut passed, mut failed) = (0u64, 0u64);
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some((p, f)) = parse_result_line(&line) {
            passed += p;
            failed += f;
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() || failed > 0 {
        println!("tests: {passed} passed, {failed} failed");
        return Err(format!("cargo test failed ({status})"));
    }
    // Every story's lesson and answer keys on 100 seeds, in a release
    // build: a learner may type any seed.
    stories_hold_on_many_seeds()?;
    passed += 1;
    // The web app in a real browser.
    let (p, f) = web::browser_test()?;
    passed += p;
    failed += f;
    println!("tests: {passed} passed, {failed} failed");
    if failed > 0 {
        return Err("the browser test failed".into());
    }
    if passed == 0 {
        return Err("cargo test ran no tests".into());
    }
    Ok(())
}

/// How many seeds every story's expectations and answer keys must hold on.
const STORY_SEEDS: &str = "100";

/// `faultline check` of every shipped story on `STORY_SEEDS` seeds, with
/// the release CLI (a debug build would take ten times as long).
fn stories_hold_on_many_seeds() -> Result<(), String> {
    let mut build = cargo();
    build.args(["build", "--release", "-p", "sim-cli"]);
    run("the release CLI builds", build)?;
    let mut check = Command::new(root().join("target/release/faultline"));
    check.arg("check");
    check.args(sim_core::scenario::STORIES.iter().map(|(name, _)| *name));
    check.args(["--seeds", STORY_SEEDS]);
    run(
        &format!("every story's expectations and predictions hold on {STORY_SEEDS} seeds"),
        check,
    )
}

/// Reads `test result: ok. 12 passed; 0 failed; ...`.
fn parse_result_line(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let number_before = |word: &str| -> Option<u64> {
        let i = rest.find(word)?;
        rest[..i].trim_end().rsplit(' ').next()?.parse().ok()
    };
    Some((number_before(" passed")?, number_before(" failed")?))
}

/// A fresh machine lacks the wasm32 target; add it with rustup if we can.
pub(crate) fn ensure_wasm_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(out)
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == WASM_TARGET) =>
        {
            Ok(())
        }
        Ok(_) => {
            let mut add = Command::new("rustup");
            add.args(["target", "add", WASM_TARGET]);
            run("rustup target add wasm32-unknown-unknown", add)
        }
        // No rustup: let cargo report a missing target clearly.
        Err(_) => Ok(()),
    }
}

/// Seeds of the reference runs compared natively and in WebAssembly.
const REFERENCE_SEEDS: [u64; 4] = [1, 2, 3, 0xdead_beef];

/// Builds the wasm probe, runs its reference system under Node.js for a few
/// seeds, and compares each fingerprint with the same run done natively.
fn wasm_fingerprints_match() -> Result<(), String> {
    let mut build = cargo();
    build.args(["build", "-p", "wasm-probe", "--target", WASM_TARGET]);
    run("the wasm probe builds", build)?;
    let wasm = root().join(format!("target/{WASM_TARGET}/debug/wasm_probe.wasm"));
    eprintln!("\n==> fingerprints: native vs WebAssembly (Node.js)");
    let seeds: Vec<String> = REFERENCE_SEEDS.iter().map(u64::to_string).collect();
    let from_wasm = probe_in_node(&wasm, &seeds)?;
    let mut native = Vec::new();
    for &seed in &REFERENCE_SEEDS {
        native.push(format!("{:016x}", wasm_probe::reference_fingerprint(seed)));
        native.push(format!("{:016x}", wasm_probe::contention_fingerprint(seed)));
    }
    for (i, seed) in REFERENCE_SEEDS.iter().enumerate() {
        for (j, system) in ["node API", "contention"].iter().enumerate() {
            let at = 2 * i + j;
            eprintln!(
                "    {system:<10} seed {seed:>10}: native {}  wasm {}",
                native[at],
                from_wasm.get(at).map_or("(missing)", String::as_str)
            );
        }
    }
    if native != from_wasm {
        return Err("native and WebAssembly fingerprints differ: determinism is broken".into());
    }
    stories_match_in_wasm(&wasm)
}

/// Every shipped story's every run (as written and each variant), under
/// one seed, natively and in WebAssembly.
fn stories_match_in_wasm(wasm: &Path) -> Result<(), String> {
    let from_wasm = probe_in_node(wasm, &["--stories".into(), STORY_SEED.to_string()])?;
    let mut native = Vec::new();
    let mut labels = Vec::new();
    for (i, (name, text)) in sim_core::scenario::STORIES.iter().enumerate() {
        let variants: Vec<String> = sim_core::scenario::load(name, name, text)
            .map(|s| s.variants().map(str::to_string).collect())
            .unwrap_or_default();
        for run in 0..=variants.len() {
            let variant = run.checked_sub(1).map_or("-", |k| variants[k].as_str());
            labels.push(format!("{name} {variant}"));
            native.push(
                wasm_probe::story_fingerprint(i, run, STORY_SEED)
                    .map_or("(does not build)".to_string(), |f| format!("{f:016x}")),
            );
        }
    }
    let mut differ = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let wasm = from_wasm.get(i).map_or("(missing)", String::as_str);
        if native[i] != wasm {
            eprintln!("    {label:<36} native {}  wasm {wasm}  DIFFER", native[i]);
            differ.push(label.as_str());
        }
    }
    eprintln!(
        "    {} of {} story runs (every variant, seed {STORY_SEED}) agree",
        labels.len() - differ.len(),
        labels.len()
    );
    if !differ.is_empty() || from_wasm.len() != labels.len() {
        return Err(format!(
            "native and WebAssembly story fingerprints differ ({}): determinism is broken",
            differ.join(", ")
        ));
    }
    Ok(())
}

/// Runs `xtask/wasm_fingerprints.mjs` on the probe; its output lines.
fn probe_in_node(wasm: &Path, args: &[String]) -> Result<Vec<String>, String> {
    let out = Command::new("node")
        .arg(root().join("xtask/wasm_fingerprints.mjs"))
        .arg(wasm)
        .args(args)
        .output()
        .map_err(|e| format!("could not start node (install Node.js): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "node failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

/// The seed under which every story is run natively and in WebAssembly.
const STORY_SEED: u64 = 7;

const BENCH_START: &str = "<!-- engine-bench:start -->";
const BENCH_END: &str = "<!-- engine-bench:end -->";
const WEB_START: &str = "<!-- web-bench:start -->";
const WEB_END: &str = "<!-- web-bench:end -->";
const MEMORY_START: &str = "<!-- memory-bench:start -->";
const SIMPY_START: &str = "<!-- simpy-bench:start -->";
const SIMPY_END: &str = "<!-- simpy-bench:end -->";
const MEMORY_END: &str = "<!-- memory-bench:end -->";

/// Runs `cargo bench` for `package`'s `bench` and returns its Markdown
/// table rows.
fn cargo_bench(
    package: &str,
    bench: &str,
    quick: bool,
    env: &[(&str, &Path)],
) -> Result<String, String> {
    let mut cmd = cargo();
    cmd.args(["bench", "-p", package, "--bench", bench]);
    if quick {
        cmd.env("FAULTLINE_BENCH_QUICK", "1");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    eprintln!("\n==> cargo bench -p {package} --bench {bench}");
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo bench: could not start: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo bench failed ({})", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| format!("{l}\n"))
        .collect())
}

fn bench(quick: bool) -> Result<(), String> {
    let engine = cargo_bench("sim-core", "engine", quick, &[])?;
    print!("{engine}");
    // The web app: native release figures, then the same stories in
    // headless chromium against them.
    let native = root().join("target/web/native.txt");
    std::fs::create_dir_all(root().join("target/web")).map_err(|e| e.to_string())?;
    let playback = cargo_bench(
        "sim-web",
        "playback",
        quick,
        &[("FAULTLINE_NATIVE_OUT", &native)],
    )?;
    print!("{playback}");
    let browser = web::browser_perf(&native)?;
    print!("{browser}");
    if quick {
        eprintln!("(quick run: BENCHMARKS.md left unchanged)");
        return Ok(());
    }
    let rustc = rustc_version();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let engine_block = format!(
        "{BENCH_START}\nProduced by `cargo xtask bench` (which runs `cargo bench -p sim-core --bench engine`) \
         with {rustc} on a {cores}-core machine; each figure is the median of 5 runs on one core.\n\n{engine}{BENCH_END}"
    );
    let web_block = format!(
        "{WEB_START}\nProduced by `cargo xtask bench` with {rustc} on a {cores}-core machine. Natively \
         (`cargo bench -p sim-web --bench playback`, release, median over 7 rounds of every story): each story \
         run as the CLI runs it, and as the app's \"Run to end\" runs it (the same run, watched by the app's \
         observer and samples).\n\n\
         {playback}\nIn headless chromium (SwiftShader, no GPU): frames per second while playing at 1x (median \
         over 3 rounds of every story), and the app's run to end in WebAssembly against both native figures: \
         its first run, and the median over 7 rounds after three runs to warm up (V8 compiles a function with \
         its optimising tier only once it has been hot; the native figures are of warm runs too).\n\n{browser}{WEB_END}"
    );
    write_blocks(&[
        (BENCH_START, BENCH_END, &engine_block),
        (WEB_START, WEB_END, &web_block),
    ])?;
    let simpy = simpy::table(false)?;
    print!("{simpy}");
    write_simpy_block(&simpy)?;
    let memory = memory::table()?;
    print!("{memory}");
    write_memory_block(&memory)
}

/// The SimPy comparison's block in BENCHMARKS.md.
fn write_simpy_block(table: &str) -> Result<(), String> {
    let rustc = rustc_version();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let block = format!(
        "{SIMPY_START}\nProduced by `cargo xtask bench-simpy` (also part of `cargo xtask bench`) with {rustc} \
         on a {cores}-core machine: the M/M/1 queue at load 0.9, as `faultline demo`, as a scenario file, and \
         in SimPy 4.1.2 (a virtual environment the command makes under `target/`).\n\n{table}{SIMPY_END}"
    );
    write_blocks(&[(SIMPY_START, SIMPY_END, &block)])
}

/// The memory table's block in BENCHMARKS.md.
fn write_memory_block(table: &str) -> Result<(), String> {
    let rustc = rustc_version();
    let block = format!(
        "{MEMORY_START}\nProduced by `cargo xtask bench-memory` (also part of `cargo xtask bench`) with {rustc}: \
         the whole process's peak resident set (GNU time's %M) for `faultline run STORY` in a release build, at \
         the story's duration and at eight times it (`--set run.duration=...`, memory budget raised to 16GiB so \
         no run is cut short).\n\n{table}{MEMORY_END}"
    );
    write_blocks(&[(MEMORY_START, MEMORY_END, &block)])
}

/// `rustc --version`, for the tables' captions.
fn rustc_version() -> String {
    Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Replaces each marked block of BENCHMARKS.md.
fn write_blocks(blocks: &[(&str, &str, &String)]) -> Result<(), String> {
    let path = root().join("BENCHMARKS.md");
    let mut text =
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    for &(start, end, block) in blocks {
        let (Some(a), Some(b)) = (text.find(start), text.find(end)) else {
            return Err(format!(
                "{} lacks the {start} / {end} markers",
                path.display()
            ));
        };
        text = format!("{}{block}{}", &text[..a], &text[b + end.len()..]);
    }
    // Write a temporary file and rename it, so an interrupted run never
    // leaves a half-written BENCHMARKS.md.
    let tmp = path.with_extension("md.tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_result_line;

    #[test]
    fn reads_cargo_test_summaries() {
        assert_eq!(
            parse_result_line(
                "test result: ok. 42 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.27s"
            ),
            Some((42, 0))
        );
        assert_eq!(
            parse_result_line("test result: FAILED. 20 passed; 1 failed; 0 ignored"),
            Some((20, 1))
        );
        assert_eq!(parse_result_line("running 3 tests"), None);
    }
}
