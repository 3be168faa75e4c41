//! `faultline compare`: every variant on the same N seeds, in parallel, with
//! the mean and a 95% confidence interval per metric, and the best variant
//! marked where a metric has a clear direction.
//!
//! Variants run on common random numbers (each component's stream depends
//! only on the seed and its name), so differences between variants on the
//! same seed are mostly the design, not luck: the comparison is paired.
//! The scenario as written is always the first column (`as written`;
//! `--baseline as-written` names it). A second table shows each column's
//! difference from the baseline (by default the scenario as written, or a
//! variant that leaves it unchanged; or `--baseline`), seed by seed, with its own
//! interval: paired differences are far tighter than two separate
//! intervals, and a difference whose interval excludes zero is marked.
//! Results are gathered by (variant, seed) index, so the output does not
//! depend on how threads were scheduled.

use super::build;
use super::{Failure, error};
use rayon::prelude::*;
use serde_json::json;
use sim_core::scenario::Scenario;
use sim_core::scenario::ScenarioSpec;
use sim_core::scenario::{AS_WRITTEN, cut_short, variant_label};
use std::collections::BTreeMap;

/// One run's metrics, flattened to numbers by name.
pub type Sample = BTreeMap<String, f64>;

fn sample(spec: &ScenarioSpec, seed: u64) -> Result<Sample, Failure> {
    sample_with_fingerprint(spec, seed).map(|(_, s)| s)
}

/// One run's fingerprint and its metrics: counters (but the network's),
/// histograms' p50 and p99, and gauges' time averages.
pub fn sample_with_fingerprint(
    spec: &ScenarioSpec,
    seed: u64,
) -> Result<(sim_core::Fingerprint, Sample), Failure> {
    let mut built = build(spec, seed).map_err(error)?;
    let report = built.run();
    if let Some(why) = cut_short(&report) {
        return Err(Failure(
            1,
            format!(
                "error: seed {seed}: the run is not a result, so there is no comparison: {why}"
            ),
        ));
    }
    let m = built.sim.metrics();
    let mut out = Sample::new();
    for (name, v) in m.counters() {
        if !name.starts_with("net.") {
            out.insert(name.to_string(), v as f64);
        }
    }
    for (name, h) in m.histograms() {
        for (stat, q) in [("p50", 0.5), ("p99", 0.99)] {
            if let Some(v) = h.quantile(q) {
                out.insert(format!("{name}.{stat}"), v as f64);
            }
        }
    }
    for (name, g) in m.gauges() {
        out.insert(format!("{name}.avg"), g.time_average(report.end_time));
    }
    Ok((report.fingerprint, out))
}

/// Student's t quantile at 0.975 for `df` degrees of freedom.
fn t975(df: u64) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df as usize - 1],
        _ => 1.96,
    }
}

/// Mean and the half-width of its 95% confidence interval.
pub fn mean_ci(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, t975(xs.len() as u64 - 1) * (var / n).sqrt())
}

/// Lower is better for these metrics, higher for those; others have no
/// "best".
fn direction(metric: &str) -> Option<bool> {
    const LOWER: [&str; 10] = [
        "failed",
        "duplicate",
        "rejected",
        "timed_out",
        "late",
        "latency",
        "retries",
        "conflicts",
        "gave_up",
        "queue_depth",
    ];
    const HIGHER: [&str; 1] = [".ok"];
    if LOWER.iter().any(|w| metric.contains(w)) {
        Some(true)
    } else if HIGHER.iter().any(|w| metric.ends_with(w)) {
        Some(false)
    } else {
        None
    }
}

/// `faultline compare`, from the command line.
pub fn run_compare(
    name: &str,
    seeds: u64,
    baseline: Option<&str>,
    json: bool,
) -> Result<(), Failure> {
    sim_core::scenario::seed_range(0, seeds).map_err(super::error)?;
    let scenario = super::open(name)?;
    let out = compare(&scenario, seeds, baseline, json)?;
    print!("{out}");
    Ok(())
}

/// How `--baseline` names the scenario as written.
pub const AS_WRITTEN_FLAG: &str = "as-written";

/// The columns: the scenario as written, then every variant in file
/// order; and the baseline's index. By default the baseline is the
/// scenario as written, unless a variant leaves it unchanged: then that
/// variant (the file's own name for the same system).
fn columns(
    scenario: &Scenario,
    baseline: Option<&str>,
) -> Result<(Vec<Option<String>>, usize), String> {
    let variants: Vec<Option<String>> = std::iter::once(None)
        .chain(scenario.variants().map(|v| Some(v.to_string())))
        .collect();
    let base = match baseline {
        Some(b) if b == AS_WRITTEN_FLAG || b == AS_WRITTEN => 0,
        Some(b) => variants
            .iter()
            .position(|v| v.as_deref() == Some(b))
            .ok_or_else(|| {
                let names = std::iter::once(AS_WRITTEN_FLAG).chain(scenario.variants());
                let hint = sim_core::scenario::did_you_mean(b, names)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                format!(
                    "--baseline: there is no variant `{b}`{hint} (`{AS_WRITTEN_FLAG}` is the scenario as written)"
                )
            })?,
        None => {
            let written = scenario.document_with(None, &[])?;
            let mut same = Vec::new();
            for (i, v) in variants.iter().enumerate().skip(1) {
                if scenario.document_with(v.as_deref(), &[])? == written {
                    same.push(i);
                }
            }
            same.first().copied().unwrap_or(0)
        }
    };
    Ok((variants, base))
}

pub fn compare(
    scenario: &Scenario,
    seeds: u64,
    baseline: Option<&str>,
    json_out: bool,
) -> Result<String, Failure> {
    let (variants, base) = columns(scenario, baseline).map_err(error)?;
    let specs: Vec<ScenarioSpec> = variants
        .iter()
        .map(|v| scenario.resolve(v.as_deref(), &[]))
        .collect::<Result<_, _>>()
        .map_err(error)?;
    let range = sim_core::scenario::seed_range(scenario.spec.run.seed, seeds).map_err(error)?;
    let samples = run_all(&specs, &range)?;
    let names: Vec<String> = variants
        .iter()
        .map(|v| variant_label(v.as_deref()).to_string())
        .collect();
    let rows = metric_rows(&samples, base);
    if json_out {
        let doc = json!({
            "scenario": scenario.name,
            "seeds": range.clone().collect::<Vec<_>>(),
            "variants": names,
            "baseline": names[base],
            "metrics": rows.iter().map(|r| json!({
                "metric": r.metric,
                "mean": r.stats.iter().map(|s| s.0).collect::<Vec<_>>(),
                "ci95": r.stats.iter().map(|s| if s.1.is_nan() { None } else { Some(s.1) }).collect::<Vec<_>>(),
                "best": r.best.map(|b| &names[b]),
                "diff_mean": r.diffs.iter().map(|s| s.0).collect::<Vec<_>>(),
                "diff_ci95": r.diffs.iter().map(|s| if s.1.is_nan() { None } else { Some(s.1) }).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        return Ok(serde_json::to_string_pretty(&doc).expect("plain values"));
    }
    let mut out = format!(
        "compare {}: as written and {} variant{} x {seeds} seed{} ({}..{}), paired by seed; mean ± 95% CI, * best\n\n",
        scenario.name,
        names.len() - 1,
        if names.len() == 2 { "" } else { "s" },
        if seeds == 1 { "" } else { "s" },
        range.start(),
        range.end()
    );
    out.push_str(&means_table(&rows, &names));
    if names.len() >= 2 && seeds >= 2 {
        out.push_str(&paired_table(&rows, &names, base));
    }
    Ok(out)
}

/// Every variant's run on every seed, in parallel: `[variant][seed]`.
fn run_all(
    specs: &[ScenarioSpec],
    range: &std::ops::RangeInclusive<u64>,
) -> Result<Vec<Vec<Sample>>, Failure> {
    let jobs: Vec<(usize, u64)> = (0..specs.len())
        .flat_map(|v| range.clone().map(move |s| (v, s)))
        .collect();
    let bar = indicatif::ProgressBar::new(jobs.len() as u64);
    let results: Vec<Result<Sample, Failure>> = jobs
        .par_iter()
        .map(|&(v, seed)| {
            let r = sample(&specs[v], seed);
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); specs.len()];
    for ((v, _), r) in jobs.iter().zip(results) {
        samples[*v].push(r?);
    }
    Ok(samples)
}

/// One metric across the variants: each one's mean and interval, the
/// best (when the metric has a direction and not everyone ties), and
/// each one's paired difference from the baseline.
struct Row {
    metric: String,
    stats: Vec<(f64, f64)>,
    best: Option<usize>,
    diffs: Vec<(f64, f64)>,
}

/// A row per metric that is not zero everywhere.
fn metric_rows(samples: &[Vec<Sample>], base: usize) -> Vec<Row> {
    let metrics: std::collections::BTreeSet<String> = samples
        .iter()
        .flatten()
        .flat_map(|s| s.keys().cloned())
        .collect();
    let value = |s: &Sample, metric: &str| s.get(metric).copied().unwrap_or(0.0);
    let mut rows = Vec::new();
    for metric in metrics {
        // A metric that is zero everywhere tells nothing.
        if samples.iter().flatten().all(|s| value(s, &metric) == 0.0) {
            continue;
        }
        let stats: Vec<(f64, f64)> = samples
            .iter()
            .map(|runs| mean_ci(&runs.iter().map(|s| value(s, &metric)).collect::<Vec<_>>()))
            .collect();
        let best = direction(&metric).and_then(|lower| {
            let means: Vec<f64> = stats.iter().map(|s| s.0).collect();
            let pick = if lower {
                means.iter().cloned().fold(f64::INFINITY, f64::min)
            } else {
                means.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
            };
            // Only mark a winner if not everyone ties.
            (means.iter().any(|&m| m != pick))
                .then(|| means.iter().position(|&m| m == pick))
                .flatten()
        });
        // Paired by seed: the difference on each seed, then its interval.
        let diffs: Vec<(f64, f64)> = samples
            .iter()
            .map(|runs| {
                let d: Vec<f64> = runs
                    .iter()
                    .zip(&samples[base])
                    .map(|(s, b)| value(s, &metric) - value(b, &metric))
                    .collect();
                mean_ci(&d)
            })
            .collect();
        rows.push(Row {
            metric,
            stats,
            best,
            diffs,
        });
    }
    rows
}

/// A value of `metric` for people: nanoseconds read better as durations.
fn show(metric: &str, v: f64) -> String {
    if metric.contains("_ns") && v.is_finite() {
        format!("{:.2}ms", v / 1e6)
    } else {
        super::report::number(v)
    }
}

/// Each variant's mean ± 95% interval per metric, the best starred.
fn means_table(rows: &[Row], names: &[String]) -> String {
    let cell = |metric: &str, (m, ci): (f64, f64), best: bool| {
        let ci = if ci.is_nan() {
            String::new()
        } else {
            format!(" ± {}", show(metric, ci))
        };
        format!("{}{ci}{}", show(metric, m), if best { " *" } else { "" })
    };
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            std::iter::once(r.metric.clone())
                .chain(
                    r.stats
                        .iter()
                        .enumerate()
                        .map(|(i, s)| cell(&r.metric, *s, r.best == Some(i))),
                )
                .collect()
        })
        .collect();
    let header: Vec<String> = std::iter::once("metric".to_string())
        .chain(names.iter().cloned())
        .collect();
    super::report::aligned(&header, &table, true)
}

/// Each variant minus the baseline, seed by seed.
fn paired_table(rows: &[Row], names: &[String], base: usize) -> String {
    let others: Vec<usize> = (0..names.len()).filter(|&v| v != base).collect();
    let diff_cell = |metric: &str, (m, ci): (f64, f64)| {
        let sign = if m > 0.0 { "+" } else { "" };
        let clear = m.abs() > ci;
        format!(
            "{sign}{} ± {}{}",
            show(metric, m),
            show(metric, ci),
            if clear { " !" } else { "" }
        )
    };
    let dtable: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            std::iter::once(r.metric.clone())
                .chain(others.iter().map(|&v| diff_cell(&r.metric, r.diffs[v])))
                .collect()
        })
        .collect();
    let dheader: Vec<String> = std::iter::once("metric".to_string())
        .chain(others.iter().map(|&v| names[v].clone()))
        .collect();
    let mut out = format!(
        "\nminus {} on the same seed: mean difference ± 95% CI, ! the interval excludes zero\n\n",
        names[base]
    );
    out.push_str(&super::report::aligned(&dheader, &dtable, true));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_intervals_follow_student() {
        // n = 4, mean 2.5, sd 1.29: half-width 3.182 * 1.29 / 2 = 2.054.
        let (m, ci) = mean_ci(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((ci - 2.054).abs() < 1e-3, "{ci}");
        assert!(mean_ci(&[5.0]).1.is_nan());
    }

    #[test]
    fn directions() {
        assert_eq!(direction("ledger.duplicate_charges"), Some(true));
        assert_eq!(direction("user.latency_ns.p99"), Some(true));
        assert_eq!(direction("user.ok"), Some(false));
        assert_eq!(direction("api.arrivals"), None);
    }
}
