//! What `faultline run` prints: for people, aligned text with the seed, the
//! fingerprint, one block per node, sparklines of the run over time and
//! every expectation's verdict (in colour on a terminal unless `NO_COLOR`
//! is set); for machines (`--json`), the same as one JSON object; and for a
//! postmortem (`--report`), a Markdown report with charts and a sequence
//! diagram of one failed request.

use crate::charts::{Charts, Draw, sparkline};
use serde_json::{Value, json};
use sim_core::SimDuration;
use sim_core::scenario::AS_WRITTEN;
use sim_core::scenario::Judged;
use sim_core::scenario::Rpc;
use sim_core::scenario::Scenario;
use sim_core::scenario::instance_name;
use sim_core::scenario::kinds;
use sim_core::scenario::{NodeKind, ScenarioSpec};
use sim_core::{RunReport, Simulation};
use std::fmt::Write as _;

pub struct RunSummary<'a> {
    pub scenario: &'a Scenario,
    pub spec: &'a ScenarioSpec,
    pub variant: Option<&'a str>,
    pub seed: u64,
    pub sets: &'a [String],
    pub sim: &'a Simulation<Rpc>,
    pub outcome: &'a RunReport,
    pub verdicts: &'a [Judged<'a>],
    /// The run's grades on the predictions about its variant.
    pub predictions: &'a [sim_core::scenario::Graded<'a>],
    /// The run as a try at the challenges that start from its variant.
    pub challenges: &'a [sim_core::scenario::Try<'a>],
}

pub use sim_core::scenario::{measure, number};

/// A table for people: the header and rows as lines, columns two spaces
/// apart, numbers right-aligned (and the first column left-aligned when
/// `first_left`). Widths count characters, so `±` lines up.
pub fn aligned(header: &[String], rows: &[Vec<String>], first_left: bool) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if c == 0 && first_left {
                    format!("{s:<w$}", w = widths[c])
                } else {
                    format!("{s:>w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(&cells.join("  "));
        out.push('\n');
    }
    out
}

/// Whether to colour output: only for a terminal (or when `CLICOLOR_FORCE`
/// asks), and never when `NO_COLOR` is set to anything (no-color.org).
pub fn use_colour(is_terminal: bool) -> bool {
    let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
    if set("NO_COLOR") {
        return false;
    }
    is_terminal || std::env::var_os("CLICOLOR_FORCE").is_some_and(|s| !s.is_empty() && s != "0")
}

/// `text` in an ANSI style (`1` bold, `31` red, `32` green, `36` cyan) when
/// `on`.
pub fn paint(text: &str, style: &str, on: bool) -> String {
    if on {
        format!("\x1b[{style}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// One node's part of the report: its name, kind and (label, value) rows.
type NodeBlock = (String, NodeKind, Vec<(String, String)>);

pub use sim_core::scenario::kinds::instances;

impl RunSummary<'_> {
    fn node_blocks(&self) -> Vec<NodeBlock> {
        let faults = sim_core::scenario::fault_windows(self.spec);
        let r = kinds::Report {
            metrics: self.sim.metrics(),
            faults: &faults,
            end: self.outcome.end_time,
        };
        instances(self.spec)
            .into_iter()
            .filter_map(|(name, n)| {
                let kind = kinds::of(*n.kind.get_ref());
                // A group that reports as a whole is one block, under the
                // group's name.
                let name = match kind.group {
                    true if n.replicas.is_some() && name != instance_name(n.name.get_ref(), 0) => {
                        return None;
                    }
                    true => n.name.get_ref().clone(),
                    false => name,
                };
                let rows = (kind.report)(&r, n, &name);
                Some((name, *n.kind.get_ref(), rows))
            })
            .collect()
    }

    /// The command that reproduces this run.
    pub fn replay_command(&self) -> String {
        let mut cmd = format!("faultline run {}", self.scenario.name);
        if let Some(v) = self.variant {
            let _ = write!(cmd, " --variant {v}");
        }
        let _ = write!(cmd, " --seed {}", self.seed);
        for s in self.sets {
            let _ = write!(cmd, " --set '{s}'");
        }
        cmd
    }

    fn charts(&self) -> Charts {
        Charts::new(self.spec, self.sim.metrics(), self.outcome.end_time)
    }

    /// Sparklines of every chart line, with the interval and fault windows.
    fn over_time(&self, colour: bool) -> String {
        let charts = self.charts();
        let mut out = String::new();
        if charts.panels.is_empty() {
            return out;
        }
        let span = |t: f64| SimDuration::from_nanos((t * 1e9).round() as u64).to_string();
        let _ = writeln!(
            out,
            "\n{} (0 to {}, {} per interval{})",
            paint("over time", "1", colour),
            span(charts.end_s),
            span(charts.interval_s),
            if charts.interval_s * 60.0 < charts.end_s {
                ", averaged to 60 marks"
            } else {
                ""
            }
        );
        let rows: Vec<(String, String, String)> = charts
            .panels
            .iter()
            .flat_map(|p| {
                p.lines.iter().map(move |l| {
                    let what = match p.id {
                        "queues" => "queue",
                        id => id,
                    };
                    let peak = l
                        .values
                        .iter()
                        .copied()
                        .filter(|v| v.is_finite())
                        .fold(0.0, f64::max);
                    (
                        format!("{} {what}", l.label),
                        sparkline(&l.values, 60),
                        format!(
                            "peak {}{}{}",
                            number((peak * 10.0).round() / 10.0),
                            if p.unit.starts_with('/') || p.unit == "ms" {
                                ""
                            } else {
                                " "
                            },
                            p.unit
                        ),
                    )
                })
            })
            .collect();
        let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        for (label, line, peak) in rows {
            let _ = writeln!(out, "  {label:<width$}  {line}  {peak}");
        }
        for w in &charts.windows {
            let _ = writeln!(
                out,
                "  {:<width$}  {} to {}",
                paint(&format!("fault: {}", w.label), "31", colour),
                span(w.start_s),
                span(w.end_s)
            );
        }
        out
    }

    pub fn to_text(&self, colour: bool) -> String {
        let mut out = String::new();
        let variant = self.variant.unwrap_or(AS_WRITTEN);
        let _ = writeln!(
            out,
            "{}  [variant: {variant}]",
            paint(&self.spec.title, "1", colour)
        );
        let _ = writeln!(out, "  seed         {}", self.seed);
        let _ = writeln!(out, "  fingerprint  {}", self.outcome.fingerprint);
        let _ = writeln!(out, "  run          {}", self.outcome);
        for s in self.sets {
            let _ = writeln!(out, "  set          {s}");
        }
        for (name, kind, rows) in self.node_blocks() {
            let _ = writeln!(
                out,
                "\n{}",
                paint(&format!("{} {name}", kinds::of(kind).name), "36", colour)
            );
            let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (k, v) in rows {
                let _ = writeln!(out, "  {k:<width$}  {v}");
            }
        }
        out.push_str(&self.over_time(colour));
        out.push_str(&super::predictions::text(self.predictions, colour));
        out.push_str(&super::challenges::text(self.challenges, colour));
        if !self.verdicts.is_empty() {
            let _ = writeln!(out, "\n{}", paint("expectations", "1", colour));
            for Judged {
                expectation: e,
                verdict: v,
            } in self.verdicts
            {
                match v {
                    Ok(v) => {
                        let _ = writeln!(
                            out,
                            "  {} {} {} {} (was {}){}",
                            if v.holds {
                                paint("ok  ", "32", colour)
                            } else {
                                paint("FAIL", "31", colour)
                            },
                            v.metric,
                            v.op.as_str(),
                            measure(&v.metric, v.expected),
                            measure(&v.metric, v.actual),
                            if e.because.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", e.because)
                            }
                        );
                    }
                    Err(err) => {
                        let _ = writeln!(
                            out,
                            "  {} {}: {err}",
                            paint("FAIL", "31", colour),
                            e.metric.get_ref()
                        );
                    }
                }
            }
        } else if !self.scenario.spec.variants.is_empty() && self.variant.is_none() {
            let names: Vec<_> = self.scenario.variants().collect();
            let _ = writeln!(
                out,
                "\nThis scenario's expectations belong to its variants: try --variant {}",
                names.join(" or --variant ")
            );
        }
        out
    }

    /// A Markdown run report for a postmortem: what ran and how to replay
    /// it, the summary per node, the expectations, charts (Mermaid
    /// xychart, and the SVG if one was written), and a sequence diagram
    /// of one failed request.
    pub fn to_markdown(&self, diagram: Option<(u64, String)>, plot: Option<&str>) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Run report: {}\n", self.spec.title);
        let _ = writeln!(out, "{}\n", self.spec.summary);
        let _ = writeln!(out, "| | |\n|---|---|");
        let _ = writeln!(out, "| scenario | `{}` |", self.scenario.name);
        let _ = writeln!(
            out,
            "| variant | {} |",
            self.variant.map_or(AS_WRITTEN.into(), |v| format!("`{v}`"))
        );
        let _ = writeln!(out, "| seed | {} |", self.seed);
        let _ = writeln!(out, "| fingerprint | `{}` |", self.outcome.fingerprint);
        let _ = writeln!(out, "| run | {} |", self.outcome);
        for s in self.sets {
            let _ = writeln!(out, "| set | `{s}` |");
        }
        let _ = writeln!(out, "| replay | `{}` |\n", self.replay_command());
        let _ = writeln!(out, "## Summary\n");
        for (name, kind, rows) in self.node_blocks() {
            let _ = writeln!(
                out,
                "**{} `{name}`**\n\n| | |\n|---|---|",
                kinds::of(kind).name
            );
            for (k, v) in rows {
                let _ = writeln!(out, "| {k} | {} |", v.replace('|', "\\|"));
            }
            out.push('\n');
        }
        if !self.verdicts.is_empty() {
            let _ = writeln!(out, "## Expectations\n");
            for Judged {
                expectation: e,
                verdict: v,
            } in self.verdicts
            {
                match v {
                    Ok(v) => {
                        let _ = writeln!(
                            out,
                            "- {} `{} {} {}` (was {}){}",
                            if v.holds { "✅ holds:" } else { "❌ FAILS:" },
                            v.metric,
                            v.op.as_str(),
                            measure(&v.metric, v.expected),
                            measure(&v.metric, v.actual),
                            if e.because.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", e.because)
                            }
                        );
                    }
                    Err(err) => {
                        let _ = writeln!(out, "- ❌ `{}`: {err}", e.metric.get_ref());
                    }
                }
            }
            out.push('\n');
        }
        let charts = self.charts();
        if !charts.panels.is_empty() {
            let _ = writeln!(out, "## Over time\n");
            if let Some(svg) = plot {
                let _ = writeln!(out, "![the run over time]({svg})\n");
            }
            for w in &charts.windows {
                let _ = writeln!(
                    out,
                    "- fault: {} from {:.1}s to {:.1}s",
                    w.label, w.start_s, w.end_s
                );
            }
            if !charts.windows.is_empty() {
                out.push('\n');
            }
            out.push_str(&charts.mermaid());
        }
        if let Some((order, diagram)) = diagram {
            let _ = writeln!(
                out,
                "## One failed request: order {order}\n\nEvery message of the order, from the first attempt to the last reply (`{} --format mermaid --request {order}` draws it again).\n",
                self.replay_command()
                    .replacen("faultline run", "faultline trace", 1)
            );
            let _ = writeln!(out, "```mermaid\n{}```", diagram);
        }
        out
    }

    pub fn to_json(&self) -> String {
        let m = self.sim.metrics();
        let counters: serde_json::Map<String, Value> = m
            .counters()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let histograms: serde_json::Map<String, Value> = m
            .histograms()
            .map(|(k, h)| {
                (
                    k.to_string(),
                    json!({
                        "count": h.count(),
                        "mean": if h.count() == 0 { Value::Null } else { json!(h.mean()) },
                        "p50": h.quantile(0.5), "p90": h.quantile(0.9), "p99": h.quantile(0.99),
                        "p999": h.quantile(0.999), "max": h.max(),
                    }),
                )
            })
            .collect();
        let end = self.outcome.end_time;
        let gauges: serde_json::Map<String, Value> = m
            .gauges()
            .map(|(k, g)| {
                (
                    k.to_string(),
                    json!({"avg": g.time_average(end), "max": g.max()}),
                )
            })
            .collect();
        let series: serde_json::Map<String, Value> = m
            .all_series()
            .map(|(k, s)| {
                (
                    k.to_string(),
                    json!({
                        "interval_ns": s.interval_ns(),
                        "count": s.buckets().iter().map(|b| b.count).collect::<Vec<_>>(),
                        "sum": s.buckets().iter().map(|b| b.sum).collect::<Vec<_>>(),
                        "max": s.buckets().iter().map(|b| b.max).collect::<Vec<_>>(),
                    }),
                )
            })
            .collect();
        let verdicts: Vec<Value> = self
            .verdicts
            .iter()
            .map(
                |Judged {
                     expectation: e,
                     verdict: v,
                 }| match v {
                    Ok(v) => {
                        json!({"metric": v.metric, "op": v.op.as_str(), "expected": v.expected,
                                "actual": v.actual, "holds": v.holds, "because": e.because})
                    }
                    Err(err) => json!({"metric": e.metric.get_ref(), "holds": false, "error": err}),
                },
            )
            .collect();
        let doc = json!({
            "scenario": self.scenario.name,
            "title": self.spec.title,
            "variant": self.variant,
            "seed": self.seed,
            "sets": self.sets,
            "fingerprint": self.outcome.fingerprint.to_string(),
            "stop": self.outcome.stop.as_str(),
            "run": self.outcome.to_string(),
            "end_time_ns": end.as_nanos(),
            "events": self.outcome.total_events,
            "counters": counters,
            "histograms_ns": histograms,
            "gauges": gauges,
            "series": series,
            "expectations": verdicts,
            "predictions": super::predictions::json(self.predictions),
            "challenges": super::challenges::json(self.challenges),
        });
        serde_json::to_string_pretty(&doc).expect("JSON from plain values")
    }
}
