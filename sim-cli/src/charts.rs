//! A run over time, drawn three ways: sparklines for the terminal, an SVG for `run --plot`,
//! and Mermaid `xychart-beta` blocks for the Markdown report.
//!
//! What the panels show is sim-core's chart model
//! (`sim_core::scenario::charts`), which the web app draws too.

pub use sim_core::scenario::Charts;
use std::fmt::Write as _;

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

/// Where one panel of the SVG sits and what its axes span.
struct Frame {
    left: f64,
    plot_w: f64,
    panel_h: f64,
    y0: f64,
    y_max: f64,
    end_s: f64,
}

impl Frame {
    fn x(&self, t: f64) -> f64 {
        self.left + self.plot_w * (t / self.end_s.max(1e-9))
    }

    fn y(&self, v: f64) -> f64 {
        self.y0 + self.panel_h - self.panel_h * (v / self.y_max)
    }

    /// The panel's box, its value grid and its time ticks.
    fn axes(&self, out: &mut String, x_step: f64) {
        let (left, plot_w, panel_h, y0) = (self.left, self.plot_w, self.panel_h, self.y0);
        let x_max = self.end_s;
        let _ = writeln!(
            out,
            r##"<rect x="{left}" y="{y0}" width="{plot_w}" height="{panel_h}" fill="none" stroke="#999"/>"##
        );
        for k in 0..=4 {
            let v = self.y_max * k as f64 / 4.0;
            let yy = self.y(v);
            let _ = writeln!(
                out,
                r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                self.left + self.plot_w,
                self.left - 6.0,
                yy + 4.0,
                label_number(v)
            );
        }
        let mut t = 0.0;
        while t <= x_max + 1e-9 {
            let xx = self.x(t);
            let _ = writeln!(
                out,
                r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{}" y2="{}" stroke="#999"/><text x="{xx:.1}" y="{}" text-anchor="middle">{}s</text>"##,
                self.y0 + self.panel_h,
                self.y0 + self.panel_h + 4.0,
                self.y0 + self.panel_h + 16.0,
                label_number(t)
            );
            t += x_step;
        }
    }

    /// The panel's lines, broken where an interval has no value, with
    /// their labels.
    fn lines(&self, out: &mut String, panel: &sim_core::scenario::Panel, interval_s: f64) {
        for (j, line) in panel.lines.iter().enumerate() {
            let colour = PALETTE[j % PALETTE.len()];
            let mut segments: Vec<Vec<String>> = vec![Vec::new()];
            for (k, &v) in line.values.iter().enumerate() {
                if v.is_finite() {
                    let t = ((k as f64 + 0.5) * interval_s).min(self.end_s);
                    segments.last_mut().expect("never empty").push(format!(
                        "{:.1},{:.1}",
                        self.x(t),
                        self.y(v.min(self.y_max))
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
                self.left + self.plot_w - 4.0,
                self.y0 + 14.0 + 14.0 * j as f64,
                xml(&line.label)
            );
        }
    }
}

/// The CLI's two pictures of a run's charts.
pub trait Draw {
    /// The panels stacked on one time axis, fault windows shaded across
    /// all of them.
    fn svg(&self, title: &str) -> String;
    /// One Mermaid `xychart-beta` block per panel.
    fn mermaid(&self) -> String;
}

impl Draw for Charts {
    fn svg(&self, title: &str) -> String {
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
            let f = Frame {
                left,
                plot_w,
                panel_h,
                y0,
                y_max,
                end_s: self.end_s,
            };
            f.axes(&mut out, x_step);
            f.lines(&mut out, panel, self.interval_s);
        }
        out.push_str("</svg>\n");
        out
    }

    /// One Mermaid `xychart-beta` block per panel (GitHub and GitLab render
    /// them in Markdown).
    fn mermaid(&self) -> String {
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
