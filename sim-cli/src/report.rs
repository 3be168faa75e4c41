//! What `faultline run` prints: for people, aligned text with the seed, the
//! fingerprint, one block per node, sparklines of the run over time and
//! every expectation's verdict (in colour on a terminal unless `NO_COLOR`
//! is set); for machines (`--json`), the same as one JSON object; and for a
//! postmortem (`--report`), a Markdown report with charts and a sequence
//! diagram of one failed request.

use crate::charts::{Charts, sparkline};
use serde_json::{Value, json};
use sim_core::metrics::Metrics;
use sim_core::models::rpc::Rpc;
use sim_core::policy::ErrorKind;
use sim_core::scenario::judge::AS_WRITTEN;
use sim_core::scenario::judge::Judged;
use sim_core::scenario::load::Scenario;
use sim_core::scenario::spec::instance_name;
use sim_core::scenario::spec::{NodeKind, NodeSpec, ScenarioSpec};
use sim_core::{RunReport, Simulation};
use sim_core::{SimDuration, SimTime};
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
}

pub use sim_core::scenario::judge::number;

fn ms(ns: Option<u64>) -> String {
    ns.map_or_else(|| "-".into(), |v| format!("{:.1}ms", v as f64 / 1e6))
}

fn counter(m: &Metrics, name: &str) -> u64 {
    m.get_counter(name).unwrap_or(0)
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

/// `v` events over a run that ended at `end`, per second.
fn per_second(v: u64, end: SimTime) -> String {
    let secs = end.as_nanos() as f64 / 1e9;
    if secs > 0.0 {
        format!("{:.1}/s", v as f64 / secs)
    } else {
        "-".into()
    }
}

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
fn paint(text: &str, style: &str, on: bool) -> String {
    if on {
        format!("\x1b[{style}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// One node's part of the report: its name, kind and (label, value) rows.
type NodeBlock = (String, NodeKind, Vec<(String, String)>);

/// Every simulated node of a spec with its kind: a replica group's copies
/// by their own names (`api-0`, `api-1`...), in the order they were built.
pub fn instances(spec: &ScenarioSpec) -> Vec<(String, &NodeSpec)> {
    spec.nodes
        .iter()
        .flat_map(|n| {
            let name = n.name.get_ref();
            match n.replicas.as_ref().map(|r| *r.get_ref()) {
                None => vec![(name.clone(), n)],
                Some(count) => (0..count).map(|i| (instance_name(name, i), n)).collect(),
            }
        })
        .collect()
}

/// What a caller's patterns did, when they did anything: fallbacks,
/// breaker, bulkhead, hedges, ejections, unhealthy replicas.
fn pattern_summary(m: &Metrics, prefix: &str, end: SimTime) -> Option<String> {
    let c = |what: &str| counter(m, &format!("{prefix}.{what}"));
    let mut parts = Vec::new();
    for (what, label) in [
        ("degraded", "degraded (fallback)"),
        ("short_circuited", "short-circuited"),
        ("bulkhead_rejected", "refused by the bulkhead"),
        ("throttled_locally", "throttled locally"),
        ("pool_waits", "waited for a connection"),
        ("pool_timeouts", "timed out waiting for a connection"),
        ("hedges", "hedges"),
        ("hedge_wins", "hedges answered first"),
        ("ejections", "ejections"),
        ("marked_unhealthy", "replicas marked unhealthy"),
    ] {
        let v = c(what);
        if v > 0 {
            parts.push(format!("{v} {label}"));
        }
    }
    let opened = c("breaker.opened");
    if opened > 0 {
        let share = m
            .get_gauge(&format!("{prefix}.breaker.open"))
            .map_or(0.0, |g| g.time_average(end));
        parts.push(format!(
            "breaker opened {opened}x, open {:.1}% of the time",
            100.0 * share
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn quantiles(m: &Metrics, name: &str) -> String {
    let h = m.get_histogram(name);
    let q = |p: f64| ms(h.and_then(|h| h.quantile(p)));
    format!("p50 {}  p99 {}  max {}", q(0.5), q(0.99), q(1.0))
}

/// A replicated store: its availability, lag, failovers and repairs, and
/// what the checkers found at the end.
fn replica_rows(m: &Metrics, g: &str) -> Vec<(String, String)> {
    let c = |what: &str| counter(m, &format!("{g}.{what}"));
    let (requests, ok) = (c("requests"), c("ok"));
    let mut rows = vec![
        (
            "requests".into(),
            format!("{requests}, {ok} ok ({} available)", percent(ok, requests)),
        ),
        (
            "at replicas".into(),
            format!("{} writes, {} reads", c("writes"), c("reads")),
        ),
        (
            "replication lag".into(),
            quantiles(m, &format!("{g}.replication_lag_ns")),
        ),
    ];
    let events: Vec<String> = [
        ("failovers", "failovers"),
        ("step_downs", "leaders stepped down"),
        ("resyncs", "snapshots taken"),
        ("unavailable", "refused (too few replicas)"),
        ("read_repairs", "read repairs"),
        ("anti_entropy_repairs", "keys repaired by anti-entropy"),
    ]
    .iter()
    .filter(|(what, _)| c(what) > 0)
    .map(|(what, label)| format!("{} {label}", c(what)))
    .collect();
    if !events.is_empty() {
        rows.push(("events".into(), events.join(", ")));
    }
    if c("drift_alerts") > 0 {
        rows.push((
            "drift alerts".into(),
            format!(
                "{}, the first at {}",
                c("drift_alerts"),
                SimDuration::from_millis(c("first_drift_alert_ms"))
            ),
        ));
    }
    rows.push((
        "at the end".into(),
        format!(
            "{} lost updates, {} divergent keys",
            c("lost_updates"),
            c("divergent_keys")
        ),
    ));
    let undecided = c("undecided_keys");
    rows.push((
        "linearizable".into(),
        if undecided > 0 {
            format!(
                "unknown: {} keys are not, and {undecided} more could not be decided within the search's budget",
                c("nonlinearizable_keys")
            )
        } else {
            format!("{} keys are not", c("nonlinearizable_keys"))
        },
    ));
    rows
}

/// A quantile of `who`'s stale-read ages, as a duration ("-": none).
fn stale_age(m: &Metrics, who: &str, p: f64) -> String {
    m.get_histogram(&format!("{who}.stale_age_ns"))
        .and_then(|h| h.quantile(p))
        .map_or("-".to_string(), |v| SimDuration::from_nanos(v).to_string())
}

/// A session: availability, latency, and what it saw that it should not.
fn session_rows(m: &Metrics, s: &str) -> Vec<(String, String)> {
    let c = |what: &str| counter(m, &format!("{s}.{what}"));
    let (requests, ok, reads) = (c("requests"), c("ok"), c("reads"));
    let q = |p: f64| stale_age(m, s, p);
    vec![
        (
            "requests".into(),
            format!(
                "{requests} ({} reads), {ok} ok ({}), {} failed",
                reads,
                percent(ok, requests),
                c("failed")
            ),
        ),
        ("latency".into(), quantiles(m, &format!("{s}.latency_ns"))),
        (
            "stale reads".into(),
            format!(
                "{} ({} of reads); stale for p50 {}  max {}",
                c("stale_reads"),
                percent(c("stale_reads"), reads),
                q(0.5),
                q(1.0)
            ),
        ),
        (
            "session".into(),
            format!(
                "{} read-your-writes and {} monotonic-read violations, {} reads with siblings",
                c("read_your_writes_violations"),
                c("monotonic_read_violations"),
                c("conflicts")
            ),
        ),
    ]
}

/// A client's detection and recovery after the scheduled faults.
fn recovery_row(m: &Metrics, client: &str, end: SimTime) -> Option<(String, String)> {
    let r = sim_core::scenario::timeline::recovery(m, client, end)?;
    let detect = r.detected_after.map_or_else(
        || "no alert fired".to_string(),
        |d| format!("alert (over 5% failing) after {d}"),
    );
    let recover = match r.recovered_after {
        Some(d) if d == SimDuration::ZERO => "healthy as soon as the fault ended".to_string(),
        Some(d) => format!("healthy again {d} after the fault ended"),
        None => "never recovered by the end of the run (metastable, or the fault never ended)"
            .to_string(),
    };
    Some(("recovery".into(), format!("{detect}; {recover}")))
}

impl RunSummary<'_> {
    fn node_blocks(&self) -> Vec<NodeBlock> {
        let m = self.sim.metrics();
        let end = self.outcome.end_time;
        instances(self.spec)
            .into_iter()
            .filter_map(|(name, n)| {
                // A replicated store is one block, under the group's name.
                let name = match n.kind.get_ref() {
                    NodeKind::Replica if name != instance_name(n.name.get_ref(), 0) => {
                        return None;
                    }
                    NodeKind::Replica => n.name.get_ref().clone(),
                    _ => name,
                };
                let c = |what: &str| counter(m, &format!("{name}.{what}"));
                let rows = match n.kind.get_ref() {
                    NodeKind::Replica => replica_rows(m, &name),
                    NodeKind::Session => session_rows(m, &name),
                    NodeKind::Client => {
                        let (requests, ok, failed) = (c("requests"), c("ok"), c("failed"));
                        let reasons: Vec<String> = ErrorKind::ALL
                            .iter()
                            .filter_map(|k| {
                                let v = c(&format!("failed.{}", k.as_str()));
                                (v > 0).then(|| format!("{} {v}", k.as_str()))
                            })
                            .collect();
                        let latency = m.get_histogram(&format!("{name}.latency_ns"));
                        let q = |p: f64| latency.and_then(|h| h.quantile(p));
                        let attempts = c("attempts");
                        let per_s = |v: u64| per_second(v, end);
                        vec![
                            (
                                "requests".into(),
                                format!(
                                    "{requests} ({} still in flight at the end)",
                                    requests.saturating_sub(ok + failed)
                                ),
                            ),
                            (
                                "succeeded".into(),
                                format!("{ok} ({})", percent(ok, requests)),
                            ),
                            (
                                "failed".into(),
                                if reasons.is_empty() {
                                    failed.to_string()
                                } else {
                                    format!("{failed} ({})", reasons.join(", "))
                                },
                            ),
                            (
                                "goodput".into(),
                                format!(
                                    "{} (answered in time), of {} offered{}",
                                    per_s(ok),
                                    per_s(requests),
                                    match c("throttled") {
                                        0 => String::new(),
                                        t => format!("; {t} refused by max_in_flight"),
                                    }
                                ),
                            ),
                            (
                                "attempts".into(),
                                format!(
                                    "{attempts} ({} per request), {} retries",
                                    if requests == 0 {
                                        "-".into()
                                    } else {
                                        format!("{:.2}", attempts as f64 / requests as f64)
                                    },
                                    c("retries")
                                ),
                            ),
                            (
                                "latency".into(),
                                format!(
                                    "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
                                    ms(q(0.5)),
                                    ms(q(0.9)),
                                    ms(q(0.99)),
                                    ms(q(0.999)),
                                    ms(q(1.0))
                                ),
                            ),
                        ]
                        .into_iter()
                        .chain(pattern_summary(m, &name, end).map(|p| ("patterns".to_string(), p)))
                        .chain(recovery_row(m, &name, end))
                        .collect()
                    }
                    NodeKind::Service => {
                        let workers = n.workers.as_ref().map_or(1, |w| *w.get_ref());
                        let busy = m
                            .get_gauge(&format!("{name}.busy_workers"))
                            .map_or(0.0, |g| g.time_average(end));
                        let depth = m.get_gauge(&format!("{name}.queue_depth"));
                        let rate = |v: u64| per_second(v, end);
                        vec![
                            (
                                "arrivals".into(),
                                format!("{} ({})", c("arrivals"), rate(c("arrivals"))),
                            ),
                            (
                                "throughput".into(),
                                format!("{} answered ok", rate(c("completed"))),
                            ),
                            (
                                "answered".into(),
                                format!(
                                    "{} ok, {} failed, {} rejected (queue full), {} shed",
                                    c("completed"),
                                    c("failed"),
                                    c("rejected"),
                                    c("shed")
                                ),
                            ),
                            (
                                "late".into(),
                                format!(
                                    "{} answered after the caller's deadline (wasted work)",
                                    c("late")
                                ),
                            ),
                            (
                                "idempotency".into(),
                                format!("{} replayed, {} conflicts", c("replayed"), c("conflicts")),
                            ),
                            (
                                "utilisation".into(),
                                format!(
                                    "{:.1}% of {workers} workers",
                                    100.0 * busy / f64::from(workers)
                                ),
                            ),
                            (
                                "queue depth".into(),
                                depth.map_or("-".into(), |g| {
                                    format!(
                                        "mean {:.2}, max {}",
                                        g.time_average(end),
                                        number(g.max())
                                    )
                                }),
                            ),
                        ]
                        .into_iter()
                        .chain(
                            n.calls
                                .iter()
                                .map(|c| c.get_ref().clone())
                                .chain(n.call_specs.iter().flatten().map(|c| {
                                    c.name.clone().unwrap_or_else(|| c.to.get_ref().clone())
                                }))
                                .map(|dep| {
                                    let p = format!("{name}.{dep}");
                                    let d = |what: &str| counter(m, &format!("{p}.{what}"));
                                    let mut text = format!(
                                        "{} calls, {} ok, {} failed, {} attempts",
                                        d("requests"),
                                        d("ok"),
                                        d("failed"),
                                        d("attempts")
                                    );
                                    if let Some(extra) = pattern_summary(m, &p, end) {
                                        text.push_str(&format!("; {extra}"));
                                    }
                                    (format!("calls {dep}"), text)
                                }),
                        )
                        .collect()
                    }
                    NodeKind::Kv => {
                        let r = m.get_histogram(&format!("{name}.response_ns"));
                        let q = |p: f64| r.and_then(|h| h.quantile(p));
                        let depth = m.get_gauge(&format!("{name}.queue_depth"));
                        vec![
                            ("reads".into(), c("reads").to_string()),
                            ("writes".into(), c("writes").to_string()),
                            (
                                "response".into(),
                                format!(
                                    "p50 {}  p99 {}  max {}",
                                    ms(q(0.5)),
                                    ms(q(0.99)),
                                    ms(q(1.0))
                                ),
                            ),
                            (
                                "queue depth".into(),
                                depth.map_or("-".into(), |g| {
                                    format!(
                                        "mean {:.2}, max {}",
                                        g.time_average(end),
                                        number(g.max())
                                    )
                                }),
                            ),
                        ]
                    }
                    NodeKind::Cache => {
                        let (hits, misses) = (c("hits"), c("misses"));
                        vec![
                            (
                                "hits".into(),
                                format!("{hits} ({} of reads)", percent(hits, hits + misses)),
                            ),
                            ("misses".into(), misses.to_string()),
                            (
                                "database reads".into(),
                                format!(
                                    "{} ({} misses joined a read in flight)",
                                    c("db_reads"),
                                    c("coalesced")
                                ),
                            ),
                            ("invalidations".into(), c("invalidations").to_string()),
                        ]
                    }
                    NodeKind::Reader => {
                        let reads = c("reads");
                        let q = |p: f64| stale_age(m, &name, p);
                        vec![
                            ("reads".into(), reads.to_string()),
                            (
                                "stale reads".into(),
                                format!(
                                    "{} ({}); stale for p50 {}  p99 {}  max {}",
                                    c("stale_reads"),
                                    percent(c("stale_reads"), reads),
                                    q(0.5),
                                    q(0.99),
                                    q(1.0)
                                ),
                            ),
                            (
                                "monotonic reads".into(),
                                format!("{} violations", c("monotonic_read_violations")),
                            ),
                        ]
                    }
                    NodeKind::Writer => vec![("writes".into(), c("writes").to_string())],
                    NodeKind::Router => {
                        let requests = c("requests");
                        let per_shard: Vec<String> = (0..)
                            .map_while(|i| m.get_counter(&format!("{name}.to.{i}")))
                            .map(|v| v.to_string())
                            .collect();
                        let mut rows = vec![
                            ("requests".into(), requests.to_string()),
                            ("per shard".into(), per_shard.join(" / ")),
                            (
                                "hottest shard".into(),
                                format!(
                                    "{} of requests, p99 {}",
                                    percent(c("hottest_shard_requests"), requests),
                                    ms(Some(c("hottest_shard_p99_ns")))
                                ),
                            ),
                        ];
                        if m.get_counter(&format!("{name}.keys_seen")).is_some() {
                            rows.push((
                                "reshard".into(),
                                format!(
                                    "{} of {} keys seen moved ({})",
                                    c("moved_keys"),
                                    c("keys_seen"),
                                    percent(c("moved_keys"), c("keys_seen"))
                                ),
                            ));
                        }
                        rows
                    }
                    NodeKind::Ledger => vec![
                        ("charges".into(), c("charges").to_string()),
                        ("orders charged".into(), c("orders_charged").to_string()),
                        (
                            "duplicate charges".into(),
                            c("duplicate_charges").to_string(),
                        ),
                    ],
                };
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
                    let what = match p.unit.as_str() {
                        "ms" => "latency",
                        "calls" => "queue",
                        _ if p.title.starts_with("goodput") => "goodput",
                        _ if p.title.starts_with("database load") => "load",
                        _ => "failures",
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
                paint(
                    &format!("{} {name}", format!("{kind:?}").to_lowercase()),
                    "36",
                    colour
                )
            );
            let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (k, v) in rows {
                let _ = writeln!(out, "  {k:<width$}  {v}");
            }
        }
        out.push_str(&self.over_time(colour));
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
                            number(v.expected),
                            number(v.actual),
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
                format!("{kind:?}").to_lowercase()
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
                            number(v.expected),
                            number(v.actual),
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
        });
        serde_json::to_string_pretty(&doc).expect("JSON from plain values")
    }
}
