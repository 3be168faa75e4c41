//! A run over time: the models' time series turned into panels (latency,
//! goodput, failures, queue length), the scenario's fault windows, and three
//! ways to draw them: sparklines for the terminal, an SVG for `run --plot`,
//! and Mermaid `xychart-beta` blocks for the Markdown report.
//!
//! Series come from the metrics registry by name: a client's
//! `ok_latency_ns` (one value per success) and `failures`, a service's
//! `queue` (its length at every change). Each bucket is one interval of
//! simulated time (`Metrics::series_interval`).

use sim_core::metrics::{Metrics, TimeSeries};
use sim_core::scenario::spec::{NodeKind, ScenarioSpec};
use sim_core::{SimDuration, SimTime};
use std::fmt::Write as _;

/// One line on a chart: a value per interval (NaN where there is none).
pub struct Line {
    pub label: String,
    pub values: Vec<f64>,
}

/// One chart: lines over the run's intervals sharing a y axis.
pub struct Panel {
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
fn padded(s: &TimeSeries, n: usize) -> Vec<sim_core::metrics::SeriesBucket> {
    let mut b = s.buckets().to_vec();
    b.resize(n.max(b.len()), Default::default());
    b
}

impl Charts {
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
        let series = |name: &str| -> Option<Vec<sim_core::metrics::SeriesBucket>> {
            let s = metrics.get_series(name)?;
            let factor = (interval_ns / s.interval_ns()).max(1) as usize;
            let fine = padded(s, n * factor);
            Some(
                fine.chunks(factor)
                    .map(|c| {
                        let mut m = sim_core::metrics::SeriesBucket::default();
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
                    .collect(),
            )
        };
        let (mut latency, mut goodput, mut failures, mut queues, mut load) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (name, node) in super::report::instances(spec) {
            let name = &name;
            match node.kind.get_ref() {
                NodeKind::Client | NodeKind::Session => {
                    if let Some(ok) = series(&format!("{name}.ok_latency_ns")) {
                        latency.push(Line {
                            label: format!("{name} mean"),
                            values: ok
                                .iter()
                                .map(|b| {
                                    if b.count == 0 {
                                        f64::NAN
                                    } else {
                                        b.sum / b.count as f64 / 1e6
                                    }
                                })
                                .collect(),
                        });
                        latency.push(Line {
                            label: format!("{name} max"),
                            values: ok
                                .iter()
                                .map(|b| if b.count == 0 { f64::NAN } else { b.max / 1e6 })
                                .collect(),
                        });
                        goodput.push(Line {
                            label: name.clone(),
                            values: ok.iter().map(|b| b.count as f64 / interval_s).collect(),
                        });
                    }
                    if let Some(f) = series(&format!("{name}.failures")) {
                        failures.push(Line {
                            label: name.clone(),
                            values: f.iter().map(|b| b.count as f64 / interval_s).collect(),
                        });
                    }
                }
                NodeKind::Service => {
                    if let Some(q) = series(&format!("{name}.queue")) {
                        // No change in an interval: the length stayed put.
                        let mut last = 0.0;
                        queues.push(Line {
                            label: name.clone(),
                            values: q
                                .iter()
                                .map(|b| {
                                    if b.count > 0 {
                                        last = b.sum / b.count as f64;
                                        b.max
                                    } else {
                                        last
                                    }
                                })
                                .collect(),
                        });
                    }
                }
                NodeKind::Kv => {
                    if let Some(l) = series(&format!("{name}.load")) {
                        load.push(Line {
                            label: name.clone(),
                            values: l.iter().map(|b| b.count as f64 / interval_s).collect(),
                        });
                    }
                }
                NodeKind::Ledger
                | NodeKind::Cache
                | NodeKind::Reader
                | NodeKind::Writer
                | NodeKind::Router
                | NodeKind::Replica => {}
            }
        }
        let panels = [
            ("latency of successes", "ms", latency),
            ("goodput: successes per second", "/s", goodput),
            ("failures per second", "/s", failures),
            ("queue length (peak per interval)", "calls", queues),
            ("database load: requests per second", "/s", load),
        ]
        .into_iter()
        .filter(|(_, _, lines)| !lines.is_empty())
        .map(|(title, unit, lines)| Panel {
            title: title.into(),
            unit: unit.into(),
            lines,
        })
        .collect();
        Charts {
            interval_s,
            end_s,
            panels,
            windows: metrics
                .fault_windows()
                .iter()
                .map(|w| Window {
                    start_s: seconds(w.start.saturating_since(SimTime::ZERO)).min(end_s),
                    end_s: w.end.map_or(end_s, |e| {
                        seconds(e.saturating_since(SimTime::ZERO)).min(end_s)
                    }),
                    label: w.label.clone(),
                })
                .collect(),
        }
    }
}

/// Values as a line of block characters `width` wide at most (groups of
/// intervals are averaged); blank where there is no value.
pub fn sparkline(values: &[f64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let group = values.len().div_ceil(width.max(1)).max(1);
    let points: Vec<f64> = values
        .chunks(group)
        .map(|c| {
            let finite: Vec<f64> = c.iter().copied().filter(|v| v.is_finite()).collect();
            if finite.is_empty() {
                f64::NAN
            } else {
                finite.iter().sum::<f64>() / finite.len() as f64
            }
        })
        .collect();
    let max = points
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    points
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                ' '
            } else if max <= 0.0 {
                BARS[0]
            } else {
                BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

/// The smallest of 1, 2, 5 x 10^k at or above `v` (for axis limits).
pub fn nice_ceiling(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    // The power of ten at or below v, by steps (no platform log10).
    let mut unit = 1.0;
    while unit > v {
        unit /= 10.0;
    }
    while unit * 10.0 <= v {
        unit *= 10.0;
    }
    loop {
        for m in [1.0, 2.0, 5.0] {
            if unit * m >= v * (1.0 - 1e-12) {
                return unit * m;
            }
        }
        unit *= 10.0;
    }
}

fn label_number(v: f64) -> String {
    if v >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        super::report::number((v * 100.0).round() / 100.0)
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const PALETTE: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

impl Charts {
    /// The panels stacked on one time axis, fault windows shaded across
    /// all of them.
    pub fn svg(&self, title: &str) -> String {
        let (width, left, right, top) = (960.0, 70.0, 20.0, 50.0);
        let (panel_h, gap) = (150.0, 45.0);
        let plot_w = width - left - right;
        let height = top + self.panels.len() as f64 * (panel_h + gap) + 20.0;
        let x = |t: f64| left + plot_w * (t / self.end_s.max(1e-9));
        let mut out = String::new();
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(
            out,
            r#"<rect width="100%" height="100%" fill="white"/><text x="{left}" y="24" font-size="16" font-weight="bold">{}</text>"#,
            xml(title)
        );
        let x_max = self.end_s;
        let x_step = nice_ceiling(x_max / 8.0);
        for (i, panel) in self.panels.iter().enumerate() {
            let y0 = top + i as f64 * (panel_h + gap);
            let y_max = nice_ceiling(
                panel
                    .lines
                    .iter()
                    .flat_map(|l| l.values.iter().copied())
                    .filter(|v| v.is_finite())
                    .fold(0.0, f64::max),
            );
            let y = |v: f64| y0 + panel_h - panel_h * (v / y_max);
            let _ = writeln!(
                out,
                r#"<text x="{left}" y="{}" font-weight="bold">{} ({})</text>"#,
                y0 - 8.0,
                xml(&panel.title),
                xml(&panel.unit)
            );
            for w in &self.windows {
                let (a, b) = (x(w.start_s), x(w.end_s));
                let _ = writeln!(
                    out,
                    r##"<rect class="fault" x="{a:.1}" y="{y0}" width="{:.1}" height="{panel_h}" fill="#e45756" fill-opacity="0.18"><title>{}</title></rect>"##,
                    (b - a).max(1.0),
                    xml(&w.label)
                );
                if i == 0 {
                    let _ = writeln!(
                        out,
                        r##"<text x="{:.1}" y="{}" fill="#b22222" font-size="11">{}</text>"##,
                        a + 3.0,
                        y0 + 12.0,
                        xml(&w.label)
                    );
                }
            }
            // Axes and grid.
            let _ = writeln!(
                out,
                r##"<rect x="{left}" y="{y0}" width="{plot_w}" height="{panel_h}" fill="none" stroke="#999"/>"##
            );
            for k in 0..=4 {
                let v = y_max * k as f64 / 4.0;
                let yy = y(v);
                let _ = writeln!(
                    out,
                    r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                    left + plot_w,
                    left - 6.0,
                    yy + 4.0,
                    label_number(v)
                );
            }
            let mut t = 0.0;
            while t <= x_max + 1e-9 {
                let xx = x(t);
                let _ = writeln!(
                    out,
                    r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{}" y2="{}" stroke="#999"/><text x="{xx:.1}" y="{}" text-anchor="middle">{}s</text>"##,
                    y0 + panel_h,
                    y0 + panel_h + 4.0,
                    y0 + panel_h + 16.0,
                    label_number(t)
                );
                t += x_step;
            }
            // Lines, broken where an interval has no value.
            for (j, line) in panel.lines.iter().enumerate() {
                let colour = PALETTE[j % PALETTE.len()];
                let mut segments: Vec<Vec<String>> = vec![Vec::new()];
                for (k, &v) in line.values.iter().enumerate() {
                    if v.is_finite() {
                        let t = ((k as f64 + 0.5) * self.interval_s).min(self.end_s);
                        segments.last_mut().expect("never empty").push(format!(
                            "{:.1},{:.1}",
                            x(t),
                            y(v.min(y_max))
                        ));
                    } else if !segments.last().expect("never empty").is_empty() {
                        segments.push(Vec::new());
                    }
                }
                for s in segments.iter().filter(|s| !s.is_empty()) {
                    let _ = writeln!(
                        out,
                        r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"#,
                        s.join(" ")
                    );
                }
                let _ = writeln!(
                    out,
                    r#"<text x="{}" y="{}" fill="{colour}" text-anchor="end">{}</text>"#,
                    left + plot_w - 4.0,
                    y0 + 14.0 + 14.0 * j as f64,
                    xml(&line.label)
                );
            }
        }
        out.push_str("</svg>\n");
        out
    }

    /// One Mermaid `xychart-beta` block per panel (GitHub and GitLab render
    /// them in Markdown).
    pub fn mermaid(&self) -> String {
        let mut out = String::new();
        for panel in &self.panels {
            let y_max = nice_ceiling(
                panel
                    .lines
                    .iter()
                    .flat_map(|l| l.values.iter().copied())
                    .filter(|v| v.is_finite())
                    .fold(0.0, f64::max),
            );
            let labels: Vec<&str> = panel.lines.iter().map(|l| l.label.as_str()).collect();
            let _ = writeln!(out, "```mermaid\nxychart-beta");
            let _ = writeln!(
                out,
                "    title \"{} ({}): {}\"",
                panel.title,
                panel.unit,
                labels.join(", ")
            );
            let _ = writeln!(
                out,
                "    x-axis \"time (s)\" 0 --> {}",
                label_number(self.end_s)
            );
            let _ = writeln!(
                out,
                "    y-axis \"{}\" 0 --> {}",
                panel.unit,
                label_number(y_max)
            );
            for line in &panel.lines {
                let values: Vec<String> = line
                    .values
                    .iter()
                    .map(|v| {
                        if v.is_finite() {
                            label_number((v * 100.0).round() / 100.0)
                        } else {
                            "0".into()
                        }
                    })
                    .collect();
                let _ = writeln!(out, "    line [{}]", values.join(", "));
            }
            let _ = writeln!(out, "```\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_maximum_and_keep_gaps() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 4.0], 10), "▁▃▅█");
        assert_eq!(sparkline(&[1.0, f64::NAN, 1.0], 10), "█ █");
        assert_eq!(sparkline(&[0.0, 0.0], 10), "▁▁");
        // Eight values in four marks: pairs are averaged.
        assert_eq!(
            sparkline(&[0.0, 0.0, 4.0, 4.0, 8.0, 8.0, 2.0, 2.0], 4),
            "▁▅█▃"
        );
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(nice_ceiling(0.3), 0.5);
        assert_eq!(nice_ceiling(5.0), 5.0);
    }
}
