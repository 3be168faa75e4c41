//! What a run's charts show, for every front end: panels of lines over
//! the run's intervals, read from the models' time series by the metric
//! names below, with the scenario's fault windows for shading. The CLI
//! draws them as sparklines, SVG and Mermaid; the web app as plots.
//!
//! A line is drawn for every node whose series of that name exists (a
//! client's or a session's `ok_latency_ns`, `waiting_ns` and `failures`, a service's
//! `queue`, a store's `load`, a counter client's `lost_races`, a consumer
//! group's `lag_msgs` and `lag_age_s`), so a new kind's model gets charts by
//! recording a series under one of these names.

use super::spec::ScenarioSpec;
use crate::metrics::{Metrics, SeriesBucket, TimeSeries};
use crate::time::{SimDuration, SimTime};

/// One value per success: its latency in nanoseconds.
pub const OK_LATENCY: &str = "ok_latency_ns";
/// How long the oldest request still waiting has waited, whenever a
/// request starts or ends.
pub const WAITING: &str = "waiting_ns";
/// One value per failed request.
pub const FAILURES: &str = "failures";
/// A service's queue length at every change.
pub const QUEUE: &str = "queue";
/// One value per request a store served.
pub const LOAD: &str = "load";
/// One value per attempt that lost a race (a compare-and-set refused).
pub const LOST_RACES: &str = "lost_races";
/// A consumer group's lag in messages at every change (the broker
/// records it under the group's name).
pub const LAG: &str = "lag_msgs";
/// The age in seconds of a group's oldest message not yet finished, at
/// every broker tick.
pub const LAG_AGE: &str = "lag_age_s";

/// Every chart a `[[look]]` may name: the panels below, and the counts
/// so far that the web app charts from its samples (stale reads,
/// duplicate charges).
pub const CHART_IDS: &[&str] = &[
    "latency",
    "goodput",
    "failures",
    "queues",
    "load",
    "conflicts",
    "lag",
    "lag_age",
    "stale",
    "duplicates",
];

/// How a line is made from a series' buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    /// The mean value, nanoseconds as milliseconds.
    MeanMs,
    /// The largest value, nanoseconds as milliseconds.
    MaxMs,
    /// Values per second.
    PerSecond,
    /// The peak of a level (a queue's length), which stays put through
    /// an interval without a change.
    Peak,
}

/// A panel: its id, its title, its unit and its lines, each a metric, a
/// statistic and the word after the node's name in the legend.
pub struct PanelDef {
    pub id: &'static str,
    pub title: &'static str,
    pub unit: &'static str,
    pub lines: &'static [(&'static str, Stat, &'static str)],
}

/// Every panel, in the order they are drawn.
pub const PANELS: &[PanelDef] = &[
    PanelDef {
        id: "latency",
        title: "latency of successes, and the longest wait so far",
        unit: "ms",
        lines: &[
            (OK_LATENCY, Stat::MeanMs, " mean"),
            (OK_LATENCY, Stat::MaxMs, " max"),
            (WAITING, Stat::MaxMs, " waiting"),
        ],
    },
    PanelDef {
        id: "goodput",
        title: "goodput: successes per second",
        unit: "/s",
        lines: &[(OK_LATENCY, Stat::PerSecond, "")],
    },
    PanelDef {
        id: "failures",
        title: "failures per second",
        unit: "/s",
        lines: &[(FAILURES, Stat::PerSecond, "")],
    },
    PanelDef {
        id: "queues",
        title: "queue length (peak per interval)",
        unit: "calls",
        lines: &[(QUEUE, Stat::Peak, "")],
    },
    PanelDef {
        id: "load",
        title: "database load: requests per second",
        unit: "/s",
        lines: &[(LOAD, Stat::PerSecond, "")],
    },
    PanelDef {
        id: "conflicts",
        title: "conflicts per second: attempts that lost a race",
        unit: "/s",
        lines: &[(LOST_RACES, Stat::PerSecond, "")],
    },
    PanelDef {
        id: "lag",
        title: "consumer lag: messages not yet finished (peak per interval)",
        unit: "msgs",
        lines: &[(LAG, Stat::Peak, "")],
    },
    PanelDef {
        id: "lag_age",
        title: "lag in seconds: the oldest message not yet finished",
        unit: "s",
        lines: &[(LAG_AGE, Stat::Peak, "")],
    },
];

/// One line on a chart: a value per interval (NaN where there is none).
pub struct Line {
    pub label: String,
    pub values: Vec<f64>,
}

/// One chart: lines over the run's intervals sharing a y axis.
pub struct Panel {
    pub id: &'static str,
    pub title: String,
    pub unit: String,
    pub lines: Vec<Line>,
}

/// A stretch of time when a fault was active, for shading.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub start_s: f64,
    pub end_s: f64,
    pub label: String,
}

/// The run's panels and where they sit in time.
pub struct Charts {
    pub interval_s: f64,
    pub end_s: f64,
    pub panels: Vec<Panel>,
    pub windows: Vec<Window>,
}

fn seconds(t: SimDuration) -> f64 {
    t.as_nanos() as f64 / 1e9
}

/// The buckets of `s` padded to `n` intervals (a series only grows as far
/// as its last value).
fn padded(s: &TimeSeries, n: usize) -> Vec<SeriesBucket> {
    let mut b = s.buckets().to_vec();
    b.resize(n.max(b.len()), Default::default());
    b
}

/// `fine` folded by `factor` intervals into one, `n` of them.
fn folded(fine: &[SeriesBucket], factor: usize, n: usize) -> Vec<SeriesBucket> {
    fine.chunks(factor)
        .map(|c| {
            let mut m = SeriesBucket::default();
            for b in c {
                if b.count > 0 {
                    m.max = if m.count == 0 {
                        b.max
                    } else {
                        m.max.max(b.max)
                    };
                }
                m.sum += b.sum;
                m.count += b.count;
            }
            m
        })
        .take(n)
        .collect()
}

/// A line's values from its buckets.
fn values(buckets: &[SeriesBucket], stat: Stat, interval_s: f64) -> Vec<f64> {
    let ms = |b: &SeriesBucket, v: f64| if b.count == 0 { f64::NAN } else { v / 1e6 };
    match stat {
        Stat::MeanMs => buckets
            .iter()
            .map(|b| ms(b, b.sum / b.count.max(1) as f64))
            .collect(),
        Stat::MaxMs => buckets.iter().map(|b| ms(b, b.max)).collect(),
        Stat::PerSecond => buckets
            .iter()
            .map(|b| b.count as f64 / interval_s)
            .collect(),
        Stat::Peak => {
            // No change in an interval: the length stayed put.
            let mut last = 0.0;
            buckets
                .iter()
                .map(|b| {
                    if b.count > 0 {
                        last = b.sum / b.count as f64;
                        b.max
                    } else {
                        last
                    }
                })
                .collect()
        }
    }
}

impl Charts {
    /// The panels of a run of `spec` that has reached `end`.
    pub fn new(spec: &ScenarioSpec, metrics: &Metrics, end: SimTime) -> Charts {
        let end_s = seconds(end.saturating_since(SimTime::ZERO));
        // All series share one interval unless one coarsened; use the widest.
        let interval_ns = metrics
            .all_series()
            .map(|(_, s)| s.interval_ns())
            .max()
            .unwrap_or(metrics.series_interval());
        let interval_s = interval_ns as f64 / 1e9;
        let n = ((end.as_nanos().div_ceil(interval_ns)) as usize).max(1);
        // A series recorded at a finer interval is folded to the widest.
        let series = |name: &str| -> Option<Vec<SeriesBucket>> {
            let s = metrics.get_series(name)?;
            let factor = (interval_ns / s.interval_ns()).max(1) as usize;
            Some(folded(&padded(s, n * factor), factor, n))
        };
        // Every node, and every group by its own name (a consumer
        // group's lag is recorded under the group's).
        let mut instances: Vec<String> = super::kinds::instances(spec)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        for n in &spec.nodes {
            if !instances.contains(n.name.get_ref()) {
                instances.push(n.name.get_ref().clone());
            }
        }
        let panels = PANELS
            .iter()
            .map(|def| {
                let mut lines = Vec::new();
                for name in &instances {
                    for &(metric, stat, suffix) in def.lines {
                        if let Some(b) = series(&format!("{name}.{metric}")) {
                            lines.push(Line {
                                label: format!("{name}{suffix}"),
                                values: values(&b, stat, interval_s),
                            });
                        }
                    }
                }
                Panel {
                    id: def.id,
                    title: def.title.into(),
                    unit: def.unit.into(),
                    lines,
                }
            })
            .filter(|p| !p.lines.is_empty())
            .collect();
        Charts {
            interval_s,
            end_s,
            panels,
            windows: windows(&super::timeline::fault_windows(spec), end_s),
        }
    }
}

/// The fault windows, cut at the run's end.
fn windows(faults: &[super::timeline::FaultWindow], end_s: f64) -> Vec<Window> {
    let at = |t: SimTime| seconds(t.saturating_since(SimTime::ZERO)).min(end_s);
    faults
        .iter()
        .map(|w| Window {
            start_s: at(w.start),
            end_s: w.end.map_or(end_s, at),
            label: w.label.clone(),
        })
        .collect()
}
