//! `faultline sweep` and `faultline merge`: one or more parameters over a
//! range or a list, every point on N seeds, as a CSV or JSON table; and a
//! sweep split into shards that run on many machines and merge back into
//! exactly the table one machine would have written.
//!
//! The jobs are the points x seeds in a fixed order (points in grid order,
//! seeds within each point). Shard i of n runs the jobs whose index is
//! i - 1 modulo n, so a heavy corner of the grid is spread over all
//! shards. A partial result names the sweep it belongs to (the scenario's
//! text by hash, the parameters, seeds, variant and overrides), and `merge`
//! refuses parts of different sweeps, a shard given twice and a missing
//! shard. Metrics travel as JSON numbers, which serde_json reads back to
//! the same bits (its `float_roundtrip` feature), so the merged table is
//! byte for byte the single-machine one; a test holds it to that.

use super::compare::{Sample, mean_ci, sample_with_fingerprint};
use super::output::write_atomically;
use super::report::number;
use super::{Failure, bad_input, error, open, parse_sets};
use rayon::prelude::*;
use serde_json::{Value, json};
use sim_core::StableHasher;
use sim_core::scenario::ScenarioSpec;
use sim_core::scenario::{MAX_GRID_POINTS, MAX_SHARDS, MAX_SWEEP_JOBS, seed_range};
use sim_core::scenario::{Scenario, parse_set_value};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::hash::Hasher as _;

/// A parameter and the values it takes, as text (`--set` syntax).
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub path: String,
    pub values: Vec<String>,
}

/// Splits `3.5ms` into (3.5, "ms") and `20` into (20, "").
fn number_and_unit(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && c == '-')))
        .map_or(s.len(), |(i, _)| i);
    let (num, unit) = s.split_at(end);
    let v: f64 = num.parse().ok()?;
    v.is_finite().then_some((v, unit.trim()))
}

/// Splits a list at top-level commas (not inside braces, brackets or quotes).
fn split_list(s: &str) -> Vec<String> {
    let (mut parts, mut cur, mut depth, mut quoted) = (Vec::new(), String::new(), 0i32, false);
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            '{' | '[' if !quoted => depth += 1,
            '}' | ']' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur.trim().to_string());
    parts
}

/// Reads `path=a..b[:step]` or `path=a,b,c` (or a single value). Numbers
/// may carry a unit (`50/s..150/s:25/s`, `100ms..1s` is refused: the ends
/// and the step must share one unit). The step defaults to 1.
pub fn parse_param(text: &str) -> Result<Param, String> {
    let example = "e.g. --param node.api.workers=1..8 or --param node.user.rate=50/s..150/s:25/s or --param node.api.queue=10,100,unbounded";
    let Some((path, spec)) = text.split_once('=') else {
        return Err(format!(
            "--param `{text}` needs the form PATH=VALUES, {example}"
        ));
    };
    let (path, spec) = (path.trim().to_string(), spec.trim());
    if path.is_empty() || spec.is_empty() {
        return Err(format!(
            "--param `{text}` needs the form PATH=VALUES, {example}"
        ));
    }
    let values = if let Some((from, rest)) = spec.split_once("..") {
        let (to, step) = match rest.split_once(':') {
            Some((to, step)) => (to, Some(step)),
            None => (rest, None),
        };
        let bad = |what: &str| {
            format!(
                "--param `{text}`: {what} (a range is FROM..TO or FROM..TO:STEP with numbers in one unit, {example})"
            )
        };
        let (a, unit) = number_and_unit(from).ok_or_else(|| bad("its start is not a number"))?;
        let (b, unit_b) = number_and_unit(to).ok_or_else(|| bad("its end is not a number"))?;
        let (step, unit_s) = match step {
            Some(s) => number_and_unit(s).ok_or_else(|| bad("its step is not a number"))?,
            None => (1.0, unit),
        };
        if unit_b != unit || unit_s != unit {
            return Err(bad(&format!(
                "the start, end and step use different units (`{unit}`, `{unit_b}`, `{unit_s}`)"
            )));
        }
        if step <= 0.0 {
            return Err(bad("the step must be above zero"));
        }
        if b < a {
            return Err(bad("the end is below the start"));
        }
        let count = ((b - a) / step + 1e-9).floor() + 1.0;
        if count > MAX_GRID_POINTS as f64 {
            return Err(bad(&format!(
                "that is {count} values; a sweep's grid may have at most {MAX_GRID_POINTS} points"
            )));
        }
        (0..count as usize)
            .map(|k| {
                let v = a + k as f64 * step;
                // Round away the float noise of repeated steps (0.30000000000000004).
                let v = (v * 1e9).round() / 1e9;
                format!("{}{unit}", number(v))
            })
            .collect()
    } else {
        split_list(spec)
    };
    if values.iter().any(String::is_empty) {
        return Err(format!(
            "--param `{text}`: an empty value in the list, {example}"
        ));
    }
    Ok(Param { path, values })
}

/// What a sweep is: everything that must agree between its shards.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPlan {
    pub scenario: String,
    /// The stable hash of the scenario's text.
    pub source_hash: String,
    pub variant: Option<String>,
    pub sets: Vec<String>,
    pub params: Vec<Param>,
    pub base_seed: u64,
    pub seeds: u64,
}

impl SweepPlan {
    pub fn new(
        scenario: &Scenario,
        variant: Option<String>,
        sets: Vec<String>,
        params: Vec<Param>,
        seeds: u64,
    ) -> Self {
        let mut h = StableHasher::default();
        h.write(scenario.source.as_bytes());
        SweepPlan {
            scenario: scenario.name.clone(),
            source_hash: format!("{:016x}", h.finish()),
            variant,
            sets,
            params,
            base_seed: scenario.spec.run.seed,
            seeds,
        }
    }

    /// Every point of the grid, the first parameter varying slowest.
    pub fn points(&self) -> Vec<Vec<String>> {
        let mut points = vec![Vec::new()];
        for p in &self.params {
            points = points
                .into_iter()
                .flat_map(|prefix| {
                    p.values.iter().map(move |v| {
                        let mut next = prefix.clone();
                        next.push(v.clone());
                        next
                    })
                })
                .collect();
        }
        points
    }

    pub fn jobs(&self) -> usize {
        self.points().len() * self.seeds as usize
    }

    /// Refuses a sweep larger than the limits (a grid is limited by its
    /// product, not per parameter), without building its grid.
    pub fn check_size(&self) -> Result<(), String> {
        seed_range(self.base_seed, self.seeds)?;
        let mut points: u64 = 1;
        for p in &self.params {
            points = points.saturating_mul(p.values.len() as u64);
        }
        if points > MAX_GRID_POINTS {
            let sizes: Vec<String> = self
                .params
                .iter()
                .map(|p| p.values.len().to_string())
                .collect();
            return Err(format!(
                "the grid has {} points ({}); a sweep may have at most {MAX_GRID_POINTS}",
                if points == u64::MAX {
                    "too many".to_string()
                } else {
                    points.to_string()
                },
                sizes.join(" x ")
            ));
        }
        let jobs = points * self.seeds;
        if jobs > MAX_SWEEP_JOBS {
            return Err(format!(
                "{points} points x {} seeds is {jobs} runs; a sweep may make at most {MAX_SWEEP_JOBS}",
                self.seeds
            ));
        }
        Ok(())
    }

    fn header(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "source_hash": self.source_hash,
            "variant": self.variant,
            "sets": self.sets,
            "params": self.params.iter().map(|p| json!({"path": p.path, "values": p.values})).collect::<Vec<_>>(),
            "base_seed": self.base_seed,
            "seeds": self.seeds,
        })
    }

    fn from_header(v: &Value) -> Option<SweepPlan> {
        let strings = |v: &Value| -> Option<Vec<String>> {
            v.as_array()?
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect()
        };
        Some(SweepPlan {
            scenario: v["scenario"].as_str()?.to_string(),
            source_hash: v["source_hash"].as_str()?.to_string(),
            variant: match &v["variant"] {
                Value::Null => None,
                s => Some(s.as_str()?.to_string()),
            },
            sets: strings(&v["sets"])?,
            params: v["params"]
                .as_array()?
                .iter()
                .map(|p| {
                    Some(Param {
                        path: p["path"].as_str()?.to_string(),
                        values: strings(&p["values"])?,
                    })
                })
                .collect::<Option<_>>()?,
            base_seed: v["base_seed"].as_u64()?,
            seeds: v["seeds"].as_u64()?,
        })
    }
}

/// One finished job.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub job: usize,
    pub fingerprint: String,
    pub metrics: Sample,
}

/// `--shard i/n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

pub fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || format!("`{s}` is not a shard: expected I/N with 1 <= I <= N, e.g. 2/8");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (index, count): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if index == 0 || index > count {
        return Err(bad());
    }
    if count as u64 > MAX_SHARDS {
        return Err(format!(
            "`{s}`: a sweep may be split into at most {MAX_SHARDS} shards"
        ));
    }
    Ok(Shard { index, count })
}

/// The specs of every point (checked before any job runs, so a bad
/// parameter fails at once with the loader's message).
pub fn point_specs(scenario: &Scenario, plan: &SweepPlan) -> Result<Vec<ScenarioSpec>, String> {
    let base: Vec<(String, toml::Value)> = plan
        .sets
        .iter()
        .filter_map(|s| s.split_once('='))
        .map(|(p, v)| (p.trim().to_string(), parse_set_value(v.trim())))
        .collect();
    plan.points()
        .iter()
        .map(|point| {
            let mut overrides = base.clone();
            for (p, v) in plan.params.iter().zip(point) {
                overrides.push((p.path.clone(), parse_set_value(v)));
            }
            scenario
                .resolve(plan.variant.as_deref(), &overrides)
                .map_err(|e| {
                    let at: Vec<String> = plan
                        .params
                        .iter()
                        .zip(point)
                        .map(|(p, v)| format!("{}={v}", p.path))
                        .collect();
                    format!("at {}: {e}", at.join(" "))
                })
        })
        .collect()
}

/// Runs this shard's jobs (all of them without a shard), in parallel.
pub fn run_jobs(
    specs: &[ScenarioSpec],
    plan: &SweepPlan,
    shard: Option<Shard>,
    progress: bool,
) -> Result<Vec<Row>, Failure> {
    let seeds = plan.seeds as usize;
    let jobs: Vec<usize> = (0..specs.len() * seeds)
        .filter(|j| shard.is_none_or(|s| j % s.count == s.index - 1))
        .collect();
    let bar = if progress {
        indicatif::ProgressBar::new(jobs.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let rows: Vec<Result<Row, Failure>> = jobs
        .par_iter()
        .map(|&job| {
            let seed = plan.base_seed + (job % seeds) as u64;
            let r = sample_with_fingerprint(&specs[job / seeds], seed).map(|(fp, metrics)| Row {
                job,
                fingerprint: fp.to_string(),
                metrics,
            });
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    rows.into_iter().collect()
}

/// A shard's partial result as JSON.
pub fn partial_json(plan: &SweepPlan, shard: Shard, rows: &[Row]) -> String {
    let doc = json!({
        "faultline_sweep_part": 1,
        "sweep": plan.header(),
        "shard": format!("{}/{}", shard.index, shard.count),
        "rows": rows.iter().map(|r| json!({
            "job": r.job, "fingerprint": r.fingerprint, "metrics": r.metrics,
        })).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&doc).expect("plain values") + "\n"
}

/// Reads partial results back and checks that together they are one whole
/// sweep: the same plan, every shard exactly once, every job once.
pub fn merge_parts(parts: &[(String, String)]) -> Result<(SweepPlan, Vec<Row>), String> {
    let mut plan: Option<(SweepPlan, String)> = None;
    let mut shards: Vec<Option<String>> = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    for (file, text) in parts {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| format!("`{file}` is not a sweep part: {e}"))?;
        if doc["faultline_sweep_part"] != 1 {
            return Err(format!(
                "`{file}` is not a sweep part (write one with `faultline sweep ... --shard I/N --out FILE.json`)"
            ));
        }
        let this = SweepPlan::from_header(&doc["sweep"])
            .ok_or_else(|| format!("`{file}`: its sweep header is damaged"))?;
        this.check_size()
            .map_err(|e| format!("`{file}`: its sweep header is damaged: {e}"))?;
        let shard = doc["shard"]
            .as_str()
            .ok_or_else(|| format!("`{file}`: no shard"))
            .and_then(|s| parse_shard(s).map_err(|e| format!("`{file}`: {e}")))?;
        match &plan {
            None => {
                shards = vec![None; shard.count];
                plan = Some((this.clone(), file.clone()));
            }
            Some((p, first)) => {
                if *p != this {
                    return Err(format!(
                        "`{file}` belongs to another sweep than `{first}` (scenario, its text, parameters, seeds, variant or --set differ)"
                    ));
                }
                if shards.len() != shard.count {
                    return Err(format!(
                        "`{file}` is shard {}/{} but `{first}` is one of {}",
                        shard.index,
                        shard.count,
                        shards.len()
                    ));
                }
            }
        }
        if let Some(other) = &shards[shard.index - 1] {
            return Err(format!(
                "shard {}/{} is given twice: `{other}` and `{file}`",
                shard.index, shard.count
            ));
        }
        shards[shard.index - 1] = Some(file.clone());
        for r in doc["rows"]
            .as_array()
            .ok_or_else(|| format!("`{file}`: no rows"))?
        {
            let metrics = r["metrics"]
                .as_object()
                .and_then(|m| {
                    m.iter()
                        .map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                        .collect::<Option<Sample>>()
                })
                .ok_or_else(|| format!("`{file}`: a row's metrics are damaged"))?;
            rows.push(Row {
                job: r["job"]
                    .as_u64()
                    .ok_or_else(|| format!("`{file}`: a row has no job"))?
                    as usize,
                fingerprint: r["fingerprint"]
                    .as_str()
                    .ok_or_else(|| format!("`{file}`: a row has no fingerprint"))?
                    .to_string(),
                metrics,
            });
        }
    }
    let Some((plan, _)) = plan else {
        return Err("merge needs at least one part".into());
    };
    let missing: Vec<String> = shards
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| format!("{}/{}", i + 1, shards.len()))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing shard(s): {}", missing.join(", ")));
    }
    rows.sort_by_key(|r| r.job);
    let complete = rows.len() == plan.jobs() && rows.iter().enumerate().all(|(i, r)| r.job == i);
    if !complete {
        return Err(format!(
            "the parts hold {} rows for a sweep of {} jobs: a part was cut short or edited",
            rows.len(),
            plan.jobs()
        ));
    }
    Ok((plan, rows))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The whole table: one row per point and seed, a column per parameter and
/// per metric. `rows` must be complete and in job order.
pub fn table(plan: &SweepPlan, rows: &[Row], as_json: bool) -> String {
    let points = plan.points();
    let seeds = plan.seeds as usize;
    let metrics: BTreeSet<&String> = rows.iter().flat_map(|r| r.metrics.keys()).collect();
    if as_json {
        let doc = json!({
            "sweep": plan.header(),
            "rows": rows.iter().map(|r| {
                let point = &points[r.job / seeds];
                json!({
                    "params": plan.params.iter().zip(point).map(|(p, v)| (p.path.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
                    "seed": plan.base_seed + (r.job % seeds) as u64,
                    "fingerprint": r.fingerprint,
                    "metrics": r.metrics,
                })
            }).collect::<Vec<_>>(),
        });
        return serde_json::to_string_pretty(&doc).expect("plain values") + "\n";
    }
    let mut out = String::new();
    let header: Vec<String> = plan
        .params
        .iter()
        .map(|p| p.path.clone())
        .chain(["seed".to_string(), "fingerprint".to_string()])
        .chain(metrics.iter().map(|m| m.to_string()))
        .collect();
    let _ = writeln!(
        out,
        "{}",
        header
            .iter()
            .map(|h| csv_field(h))
            .collect::<Vec<_>>()
            .join(",")
    );
    for r in rows {
        let point = &points[r.job / seeds];
        let cells: Vec<String> = point
            .iter()
            .map(|v| csv_field(v))
            .chain([
                (plan.base_seed + (r.job % seeds) as u64).to_string(),
                r.fingerprint.clone(),
            ])
            .chain(
                metrics
                    .iter()
                    .map(|m| r.metrics.get(*m).map_or(String::new(), |v| format!("{v}"))),
            )
            .collect();
        let _ = writeln!(out, "{}", cells.join(","));
    }
    out
}

/// A metric of one run's sample: a name it holds, or a ratio `a / b` of
/// two (0 where `b` is 0).
fn cell(sample: &Sample, metric: &str) -> Option<f64> {
    match metric.split_once(" / ") {
        Some((a, b)) => {
            let (a, b) = (cell(sample, a.trim())?, cell(sample, b.trim())?);
            Some(if b == 0.0 { 0.0 } else { a / b })
        }
        None => sample.get(metric).copied(),
    }
}

/// For people: per point, the mean ± 95% CI over seeds of a few metrics
/// (`--metric`, or each client's ok, failed and p99 latency). A chosen
/// metric that no run holds is an error, not a column of zeros.
pub fn summary(plan: &SweepPlan, rows: &[Row], chosen: &[String]) -> Result<String, String> {
    if let Some(m) = chosen
        .iter()
        .find(|m| !rows.is_empty() && rows.iter().all(|r| cell(&r.metrics, m).is_none()))
    {
        return Err(format!(
            "error: no run of the sweep has `{m}`; a sweep keeps every counter, each histogram's `.p50` and `.p99`, each gauge's `.avg`, and ratios of them as `a / b`"
        ));
    }
    let points = plan.points();
    let seeds = plan.seeds as usize;
    let all: BTreeSet<&String> = rows.iter().flat_map(|r| r.metrics.keys()).collect();
    let metrics: Vec<String> = if chosen.is_empty() {
        all.iter()
            .filter(|m| {
                m.ends_with(".ok") || m.ends_with(".failed") || m.ends_with(".latency_ns.p99")
            })
            .map(|m| m.to_string())
            .collect()
    } else {
        chosen.to_vec()
    };
    let mut table: Vec<Vec<String>> = Vec::new();
    for (i, point) in points.iter().enumerate() {
        let runs = &rows[i * seeds..(i + 1) * seeds];
        let mut line: Vec<String> = point.clone();
        for m in &metrics {
            let xs: Vec<f64> = runs
                .iter()
                .map(|r| cell(&r.metrics, m).unwrap_or(0.0))
                .collect();
            let (mean, ci) = mean_ci(&xs);
            let show = |v: f64| {
                if m.contains("_ns") && !m.contains('/') {
                    format!("{:.2}ms", v / 1e6)
                } else {
                    number(v)
                }
            };
            line.push(if ci.is_nan() {
                show(mean)
            } else {
                format!("{} ± {}", show(mean), show(ci))
            });
        }
        table.push(line);
    }
    let header: Vec<String> = plan
        .params
        .iter()
        .map(|p| p.path.clone())
        .chain(metrics.iter().cloned())
        .collect();
    let mut out = format!(
        "sweep {} [{}]: {} point{} x {} seed{} ({}..{}); mean ± 95% CI\n\n",
        plan.scenario,
        sim_core::scenario::variant_label(plan.variant.as_deref()),
        points.len(),
        if points.len() == 1 { "" } else { "s" },
        plan.seeds,
        if plan.seeds == 1 { "" } else { "s" },
        plan.base_seed,
        plan.base_seed + plan.seeds - 1,
    );
    out.push_str(&super::report::aligned(&header, &table, false));
    Ok(out)
}

/// Whether `path` asks for JSON (.json) or CSV (.csv).
fn table_format(path: &std::path::Path) -> Result<bool, Failure> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Ok(true),
        Some("csv") => Ok(false),
        _ => Err(bad_input(format!(
            "error: --out `{}`: expected a file ending in .csv or .json",
            path.display()
        ))),
    }
}

/// What every point of a sweep shares: the variant and `--set` overrides.
pub struct Fixed {
    pub variant: Option<String>,
    pub sets: Vec<String>,
}

/// `faultline sweep`, from the command line.
pub fn run_sweep(
    name: &str,
    params: &[String],
    seeds: u64,
    Fixed { variant, sets }: Fixed,
    metrics: &[String],
    shard: Option<Shard>,
    out: Option<&std::path::Path>,
) -> Result<(), Failure> {
    seed_range(0, seeds).map_err(error)?;
    let params = params
        .iter()
        .map(|p| parse_param(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(error)?;
    if let Some(p) = params
        .iter()
        .enumerate()
        .find_map(|(i, p)| params[..i].iter().any(|q| q.path == p.path).then_some(p))
    {
        return Err(error(format!(
            "--param {} is given twice; give each path once, with all its values",
            p.path
        )));
    }
    parse_sets(&sets)?;
    let as_json = out.map(table_format).transpose()?;
    if shard.is_some() && as_json != Some(true) {
        return Err(bad_input(
            "error: a shard writes a partial result for `faultline merge`: add --out part-I.json",
        ));
    }
    let scenario = open(name)?;
    let plan = SweepPlan::new(&scenario, variant, sets, params, seeds);
    plan.check_size().map_err(error)?;
    let specs = point_specs(&scenario, &plan).map_err(error)?;
    let rows = run_jobs(&specs, &plan, shard, true)?;
    match (shard, out) {
        (Some(shard), Some(path)) => {
            write_atomically(path, partial_json(&plan, shard, &rows).as_bytes())?;
            println!(
                "sweep {}: shard {}/{} ran {} of {} jobs; wrote {}",
                plan.scenario,
                shard.index,
                shard.count,
                rows.len(),
                plan.jobs(),
                path.display()
            );
        }
        _ => {
            print!("{}", summary(&plan, &rows, metrics).map_err(bad_input)?);
            if let (Some(path), Some(as_json)) = (out, as_json) {
                write_atomically(path, table(&plan, &rows, as_json).as_bytes())?;
                println!("\nwrote {} ({} rows)", path.display(), rows.len());
            }
        }
    }
    Ok(())
}

/// `faultline merge`, from the command line.
pub fn run_merge(
    parts: &[std::path::PathBuf],
    out: Option<&std::path::Path>,
    metrics: &[String],
) -> Result<(), Failure> {
    let as_json = out.map(table_format).transpose()?;
    let texts = parts
        .iter()
        .map(|p| {
            let file = p.display().to_string();
            std::fs::read_to_string(p)
                .map(|t| (file.clone(), t))
                .map_err(|e| bad_input(format!("error: cannot read `{file}`: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (plan, rows) = merge_parts(&texts).map_err(error)?;
    print!("{}", summary(&plan, &rows, metrics).map_err(bad_input)?);
    if let (Some(path), Some(as_json)) = (out, as_json) {
        write_atomically(path, table(&plan, &rows, as_json).as_bytes())?;
        println!("\nwrote {} ({} rows)", path.display(), rows.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_lists_and_units() {
        let p = parse_param("node.api.workers=1..4").unwrap();
        assert_eq!(p.path, "node.api.workers");
        assert_eq!(p.values, ["1", "2", "3", "4"]);
        let p = parse_param("node.user.rate = 50/s..150/s:25/s").unwrap();
        assert_eq!(p.values, ["50/s", "75/s", "100/s", "125/s", "150/s"]);
        let p = parse_param("x=0.1..0.3:0.1").unwrap();
        assert_eq!(p.values, ["0.1", "0.2", "0.3"]);
        let p = parse_param("node.api.queue=10,100,\"unbounded\",{ a = 1, b = 2 }").unwrap();
        assert_eq!(p.values, ["10", "100", "\"unbounded\"", "{ a = 1, b = 2 }"]);
        assert_eq!(parse_param("x=7").unwrap().values, ["7"]);
    }

    #[test]
    fn bad_params_say_what_is_wrong() {
        let e = |s: &str| parse_param(s).unwrap_err();
        assert!(e("node.api.workers").contains("PATH=VALUES"));
        assert!(e("x=100ms..1s").contains("different units"));
        assert!(e("x=5..1").contains("end is below the start"));
        assert!(e("x=1..5:0").contains("step must be above zero"));
        assert!(e("x=a..5").contains("start is not a number"));
        assert!(e("x=1..1000000000").contains("at most"));
        assert!(e("x=1,,2").contains("empty value"));
    }

    #[test]
    fn shards() {
        assert_eq!(parse_shard("2/8").unwrap(), Shard { index: 2, count: 8 });
        for bad in ["0/3", "4/3", "x", "1/", "/2"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }
}
