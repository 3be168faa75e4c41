//! `cargo xtask bench-simpy` (also part of `cargo xtask bench`): the M/M/1
//! queue at load 0.9 in SimPy beside Faultline, timed in one run as whole
//! processes, written into BENCHMARKS.md as ratios.
//!
//! Three rows: `faultline demo` (the M/M/1 through the node API),
//! `faultline run xtask/bench/mm1.toml` (the same queue as a scenario
//! file: a client and a service kind) and `xtask/bench/mm1_simpy.py` under
//! SimPy, pinned, in a virtual environment made under `target/` from the
//! package registry. Each is run `ROUNDS` times, interleaved, and the
//! median wall time counts. The SimPy run's mean time in system is
//! checked against theory, so a peer that simulated less cannot look
//! faster. Without Python, or when SimPy cannot be installed, the table
//! says so instead of a figure.

use crate::root;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The SimPy the peer runs, pinned.
const SIMPY: &str = "simpy==4.1.2";
const LAMBDA: f64 = 90.0;

/// Customers per run: Faultline's node API, its scenario file, SimPy.
fn customers(quick: bool) -> [u64; 3] {
    if quick {
        [500_000, 200_000, 20_000]
    } else {
        [5_000_000, 2_000_000, 200_000]
    }
}

/// The table, or a line saying why SimPy was not measured.
pub fn table(quick: bool) -> Result<String, String> {
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--release", "-q", "-p", "sim-cli"]);
    crate::run("the release CLI builds", build)?;
    let python = match venv() {
        Ok(p) => p,
        Err(why) => return Ok(format!("SimPy not measured: {why}.\n")),
    };
    let bin = root().join("target/release/faultline");
    let [n_demo, n_file, n_simpy] = customers(quick);
    let secs = |n: u64| format!("{}s", (n as f64 / LAMBDA).round());
    let mut demo = Command::new(&bin);
    demo.args(["demo", "--arrival-rate", "90", "--service-rate", "100"]);
    demo.args(["--duration", &secs(n_demo)]);
    let mut file = Command::new(&bin);
    file.arg("run").arg(root().join("xtask/bench/mm1.toml"));
    file.args(["--set", &format!("run.duration=\"{}\"", secs(n_file))]);
    let mut simpy = Command::new(&python);
    simpy.arg(root().join("xtask/bench/mm1_simpy.py"));
    simpy.arg(n_simpy.to_string());
    let rounds = if quick { 3 } else { 5 };
    let (mut t_demo, mut t_file, mut t_simpy) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        t_demo.push(timed(&mut demo)?.0);
        t_file.push(timed(&mut file)?.0);
        let (t, out) = timed(&mut simpy)?;
        check_simpy(&out)?;
        t_simpy.push(t);
    }
    let rate = |n: u64, t: &mut Vec<f64>| n as f64 / median(t);
    let peer = rate(n_simpy, &mut t_simpy);
    let rows = [
        (
            "`faultline demo` (node API)",
            n_demo,
            rate(n_demo, &mut t_demo),
            100.0,
        ),
        (
            "`faultline run xtask/bench/mm1.toml` (scenario file)",
            n_file,
            rate(n_file, &mut t_file),
            60.0,
        ),
    ];
    Ok(format_table(&rows, (n_simpy, peer), rounds))
}

/// The Markdown table: each Faultline row's customers per second and its
/// ratio to SimPy's, against the target ratio.
fn format_table(
    rows: &[(&str, u64, f64, f64)],
    (n_simpy, peer): (u64, f64),
    rounds: usize,
) -> String {
    let mut out = String::from(
        "| run | customers | median customers/s | x SimPy | target | met |\n|---|---:|---:|---:|---:|---|\n",
    );
    for (what, n, rate, target) in rows {
        let ratio = rate / peer;
        let met = if ratio >= *target { "yes" } else { "**no**" };
        out.push_str(&format!(
            "| {what} | {n} | {:.2} M | {ratio:.0}x | {target:.0}x | {met} |\n",
            rate / 1e6
        ));
    }
    out.push_str(&format!(
        "| SimPy 4.1.2, `xtask/bench/mm1_simpy.py` | {n_simpy} | {:.3} M | 1x | - | - |\n\nWhole processes, median wall time of {rounds} interleaved rounds.\n",
        peer / 1e6
    ));
    out
}

/// The virtual environment's Python with SimPy in it, made if need be.
fn venv() -> Result<PathBuf, String> {
    let dir = root().join("target/simpy-venv");
    let python = dir.join("bin/python");
    if works(&python, &["-c", "import simpy"]) {
        return Ok(python);
    }
    if !works(Path::new("python3"), &["--version"]) {
        return Err("there is no python3 on this machine".into());
    }
    if !works(
        Path::new("python3"),
        &["-m", "venv", &dir.to_string_lossy()],
    ) {
        return Err("python3 could not make a virtual environment".into());
    }
    let pip = dir.join("bin/pip");
    if !works(&pip, &["install", "--quiet", SIMPY]) {
        return Err(format!("pip could not install {SIMPY}"));
    }
    Ok(python)
}

fn works(program: &Path, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `cmd` to its end: its wall time in seconds and its output.
fn timed(cmd: &mut Command) -> Result<(f64, String), String> {
    let start = Instant::now();
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    let t = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((t, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// SimPy's mean time in system is theory's 1/(mu - lambda) = 10, within
/// 10% (its runs are long enough for that).
fn check_simpy(out: &str) -> Result<(), String> {
    let mean = out
        .split_whitespace()
        .skip_while(|w| *w != "mean_in_system")
        .nth(1)
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| format!("the SimPy peer printed no mean: {out}"))?;
    if (mean - 10.0).abs() > 1.0 {
        return Err(format!(
            "the SimPy peer's mean time in system is {mean}, not about 10"
        ));
    }
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_is_checked_against_theory() {
        assert!(check_simpy("served 200000 mean_in_system 10.2144\n").is_ok());
        assert!(check_simpy("served 2000 mean_in_system 3.1\n").is_err());
        assert!(check_simpy("nothing").is_err());
    }

    #[test]
    fn ratios_are_against_the_peer_and_the_targets() {
        let rows = [("a", 10, 2e7, 100.0), ("b", 10, 5e6, 60.0)];
        let t = format_table(&rows, (5, 1e5), 5);
        assert!(
            t.contains("| a | 10 | 20.00 M | 200x | 100x | yes |"),
            "{t}"
        );
        assert!(
            t.contains("| b | 10 | 5.00 M | 50x | 60x | **no** |"),
            "{t}"
        );
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
    }
}
