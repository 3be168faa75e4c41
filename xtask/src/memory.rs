//! Peak memory of every story, as the CLI runs it, at its own duration and
//! at eight times it: what a run holds should follow what is in flight,
//! not how long it runs, and this table shows where it does not. Each
//! figure is the whole process's peak resident set, read by GNU time
//! (`/usr/bin/time -f %M`, Debian's `time` package), in a release build.

use super::{cargo, root, run};
use sim_core::SimDuration;
use std::process::Command;

/// `duration = "..."` in a story's `[run]` table.
fn duration_of(text: &str) -> Option<SimDuration> {
    text.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("duration"))
        .and_then(|rest| rest.trim_start().strip_prefix('='))
        .and_then(|v| v.trim().trim_matches('"').parse().ok())
}

/// The peak resident set in MiB of `faultline run NAME` for `duration`,
/// and whether the run reached its end.
fn peak_mib(name: &str, duration: SimDuration) -> Result<(f64, bool), String> {
    let bin = root().join("target/release/faultline");
    let out = Command::new("/usr/bin/time")
        .args(["-f", "peak %M"])
        .arg(&bin)
        .args(["run", name, "--memory-budget", "16GiB", "--set"])
        .arg(format!("run.duration=\"{duration}\""))
        .output()
        .map_err(|e| format!("/usr/bin/time (apt-get install time): {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kib: f64 = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak "))
        .and_then(|k| k.trim().parse().ok())
        .ok_or_else(|| format!("{name}: no peak in {stderr}"))?;
    Ok((kib / 1024.0, !stderr.contains("not a result")))
}

/// The table, as Markdown.
pub fn table() -> Result<String, String> {
    let mut build = cargo();
    build.args(["build", "--release", "-p", "sim-cli"]);
    run("the release CLI builds", build)?;
    let mut stories: Vec<_> = std::fs::read_dir(root().join("scenarios"))
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| p.file_stem().is_some_and(|s| s != "path"))
        .collect();
    stories.sort();
    let mut out = String::from(
        "| story | duration | peak MiB | at 8x duration | peak MiB | growth |\n|---|---|---|---|---|---|\n",
    );
    for path in stories {
        let name = path
            .file_stem()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        let once = duration_of(&text).ok_or_else(|| format!("{name}: no duration"))?;
        let eight = SimDuration::from_nanos(once.as_nanos().saturating_mul(8));
        let (a, _) = peak_mib(&name, once)?;
        let (b, whole) = peak_mib(&name, eight)?;
        eprintln!("{name}: {a:.0} MiB, {b:.0} MiB at 8x");
        out.push_str(&format!(
            "| {name} | {once} | {a:.0} | {eight} | {b:.0}{} | {:.1}x |\n",
            if whole { "" } else { " (cut short)" },
            b / a.max(1.0)
        ));
    }
    Ok(out)
}
