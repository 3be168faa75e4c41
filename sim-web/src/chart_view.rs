//! The charts under the topology: what they show (`chart_data`, sim-core's
//! chart model plus the counts only the player samples) and how they are
//! drawn (two to a row, the busiest lines, each thinned for a software
//! GPU).

use crate::player::Player;
use egui::{Color32, RichText};
use egui_plot::{Legend, Line, Plot, PlotPoints};

/// A chart's lines: a name and its points (seconds, value).
pub type Lines = Vec<(String, Vec<[f64; 2]>)>;
/// A chart: its id, its title and its lines.
pub type Chart = (&'static str, String, Lines);

/// What the charts show, up to now: the panels of sim-core's chart model
/// (latency, goodput, queues, store load), with failures split by reason
/// (the model's failures per second, from the counters the player
/// samples), and stale reads and duplicate charges so far. A chart with
/// nothing to show is left out.
pub fn chart_data(p: &Player) -> Vec<Chart> {
    let model = sim_core::scenario::Charts::new(&p.spec, p.metrics(), p.now());
    let interval = model.interval_s;
    let mut all: Vec<Chart> = model
        .panels
        .into_iter()
        .filter(|panel| panel.id != "failures")
        .map(|panel| {
            let lines = panel
                .lines
                .into_iter()
                .map(|l| {
                    let pts = l
                        .values
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| [(i as f64 + 0.5) * interval, v])
                        .collect();
                    (l.label, pts)
                })
                .collect();
            // Counts per second say their unit in the title already.
            let title = match panel.unit.as_str() {
                "ms" => format!("{} (ms)", panel.title),
                _ => panel.title,
            };
            (panel.id, title, lines)
        })
        .collect();
    all.extend(sampled_charts(p));
    // An interval without a value (no success had a latency) stays NaN:
    // the line is drawn in pieces around it (`segments`), never across.
    all.into_iter()
        .filter(|(_, _, lines)| {
            lines
                .iter()
                .any(|(_, pts)| pts.iter().any(|p| p[1].is_finite()))
        })
        .collect()
}

/// A line's runs of points with a value, in order: where an interval has
/// none the line stops and starts again, so a gap never looks like data.
pub fn segments(points: &[[f64; 2]]) -> Vec<Vec<[f64; 2]>> {
    points
        .split(|p| !p[1].is_finite())
        .filter(|run| !run.is_empty())
        .map(<[_]>::to_vec)
        .collect()
}

/// The colours of a chart's lines, by their place in it: each line keeps
/// its colour across its pieces.
const PALETTE: [Color32; CHART_LINES] = [
    Color32::from_rgb(66, 133, 214),
    Color32::from_rgb(200, 70, 60),
    Color32::from_rgb(60, 160, 80),
    Color32::from_rgb(220, 150, 30),
    Color32::from_rgb(140, 90, 200),
    Color32::from_rgb(40, 170, 170),
    Color32::from_rgb(200, 90, 160),
    Color32::from_rgb(120, 120, 120),
];

/// Three marks on the y axis (0, a round step, two steps): values a
/// learner can read, on charts too short for egui_plot's usual grid.
fn y_marks(input: egui_plot::GridInput) -> Vec<egui_plot::GridMark> {
    let top = input.bounds.1.max(f64::MIN_POSITIVE);
    let rough = top / 2.0;
    let magnitude = libm::pow(10.0, libm::floor(libm::log10(rough)));
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| 2.0 * s >= rough * 1.5 || *s >= rough)
        .unwrap_or(10.0 * magnitude);
    (0..=2)
        .map(|i| egui_plot::GridMark {
            value: f64::from(i) * step,
            step_size: step,
        })
        .filter(|m| m.value <= top)
        .collect()
}

/// Round marks on the time axis, three or four across what is shown
/// (0, 25s, 50s, 75s for a 90-second run): egui_plot's own spacing
/// leaves a short run with a mark at 0 and nothing else.
fn x_marks(input: egui_plot::GridInput) -> Vec<egui_plot::GridMark> {
    let (low, high) = (input.bounds.0.max(0.0), input.bounds.1);
    let span = (high - low).max(f64::MIN_POSITIVE);
    let magnitude = libm::pow(10.0, libm::floor(libm::log10(span)) - 1.0);
    let step = [1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| span / s < 4.0)
        .unwrap_or(100.0 * magnitude);
    let first = libm::ceil(low / step) as i64;
    (first..)
        .map(|i| i as f64 * step)
        .take_while(|v| *v <= high)
        .map(|value| egui_plot::GridMark {
            value,
            step_size: step,
        })
        .collect()
}

/// The charts of counts the models only total, from the player's
/// samples: failures per second by reason, stale reads and duplicate
/// charges so far.
fn sampled_charts(p: &Player) -> Vec<Chart> {
    let s = &p.samples;
    let at = |values: &[f64]| -> Vec<[f64; 2]> {
        s.times.iter().zip(values).map(|(&t, &v)| [t, v]).collect()
    };
    let interval = s.interval.as_nanos() as f64 / 1e9;
    let mut errors = Vec::new();
    let mut duplicates = Vec::new();
    let mut stale: Lines = s
        .stale
        .iter()
        .map(|(who, v)| (who.clone(), at(v)))
        .collect();
    for (name, values) in &s.counters {
        if let Some((who, reason)) = name.split_once(".failed.") {
            let rates: Vec<f64> = values
                .iter()
                .scan(0.0, |last, &v| {
                    let d = v - *last;
                    *last = v;
                    Some(d / interval)
                })
                .collect();
            // Reasons that never happened are left out.
            if values.last().is_some_and(|&v| v > 0.0) {
                errors.push((format!("{who} {reason}"), at(&rates)));
            }
        } else if let Some(who) = name.strip_suffix(".duplicate_charges") {
            duplicates.push((who.to_string(), at(values)));
        } else if let Some(who) = name.strip_suffix(".stale_reads")
            && !s.stale.contains_key(who)
        {
            stale.push((who.to_string(), at(values)));
        }
    }
    vec![
        ("failures", "failures per second, by reason".into(), errors),
        ("stale", "stale reads so far".into(), stale),
        ("duplicates", "duplicate charges so far".into(), duplicates),
    ]
}

/// Points a chart line keeps: about one per four pixels of a chart's
/// width. Every point costs triangles, and a software GPU pays for each.
pub const CHART_POINTS: usize = 100;

/// A line cut down to at most `CHART_POINTS` points: each run of points
/// becomes the one furthest from the run's mean, so spikes survive; the
/// last point is kept as it is.
fn thin(points: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    if points.len() <= CHART_POINTS {
        return points;
    }
    let run = points.len().div_ceil(CHART_POINTS);
    let last = *points.last().expect("more than CHART_POINTS points");
    let mut thinned: Vec<[f64; 2]> = points
        .chunks(run)
        .map(|c| {
            let mean = c.iter().map(|p| p[1]).sum::<f64>() / c.len() as f64;
            let far = c
                .iter()
                .max_by(|a, b| (a[1] - mean).abs().total_cmp(&(b[1] - mean).abs()))
                .expect("a chunk is never empty");
            [c[c.len() / 2][0], far[1]]
        })
        .collect();
    // The line ends where the data does (a count so far shows its total).
    if let Some(end) = thinned.last_mut() {
        *end = last;
    }
    thinned
}

/// Lines a chart draws at most (a hundred replicas' queues would bury
/// each other and fill the legend).
pub const CHART_LINES: usize = 8;

/// The `CHART_LINES` lines with the highest peaks (ties by name), in their
/// original order, and how many there were.
fn busiest(lines: Lines) -> (Lines, usize) {
    let all = lines.len();
    if all <= CHART_LINES {
        return (lines, all);
    }
    let peak = |pts: &[[f64; 2]]| pts.iter().map(|p| p[1]).fold(f64::MIN, f64::max);
    let mut ranked: Vec<usize> = (0..all).collect();
    ranked.sort_by(|&a, &b| {
        peak(&lines[b].1)
            .total_cmp(&peak(&lines[a].1))
            .then_with(|| lines[a].0.cmp(&lines[b].0))
    });
    ranked.truncate(CHART_LINES);
    ranked.sort_unstable();
    let keep: Vec<_> = lines
        .into_iter()
        .enumerate()
        .filter(|(i, _)| ranked.binary_search(i).is_ok())
        .map(|(_, l)| l)
        .collect();
    (keep, all)
}

/// The charts, two to a row, with the faults' windows shaded.
pub fn charts(ui: &mut egui::Ui, p: &Player, side: &str, focus: Option<&crate::app::Focus>) {
    let data = chart_data(p);
    let rows = data.len().div_ceil(2).max(1);
    let height = (ui.available_height() / rows as f32 - 24.0).max(60.0);
    let width = ui.available_width() / 2.0 - 8.0;
    // Each fault's window, shaded: from its start to its end (or to now,
    // while it lasts).
    let secs = |t: sim_core::SimTime| t.as_nanos() as f64 / 1e9;
    let now = secs(p.now());
    let faults: Vec<(f64, f64)> = p
        .faults()
        .iter()
        .filter(|w| secs(w.start) <= now)
        .map(|w| (secs(w.start), w.end.map_or(now, secs).min(now)))
        .collect();
    let mut data = data.into_iter();
    for _ in 0..rows {
        ui.horizontal(|ui| {
            for (id, title, lines) in data.by_ref().take(2) {
                let (lines, all) = busiest(lines);
                let focused = focus.filter(|f| f.chart.as_deref() == Some(id));
                ui.vertical(|ui| {
                    let title = if lines.len() < all {
                        format!("{title} ({} highest of {all})", lines.len())
                    } else {
                        title
                    };
                    if focused.is_some() {
                        ui.label(RichText::new(title).strong().color(crate::app::FOCUS));
                    } else {
                        ui.label(title);
                    }
                    Plot::new(format!("{side}-{id}"))
                        .height(height)
                        .width(width)
                        .legend(Legend::default())
                        .show_background(false)
                        // A sparse grid: egui_plot's default fades in three
                        // levels of lines, and every one is shaded.
                        .grid_spacing(egui::Rangef::new(60.0, 120.0))
                        .y_grid_spacer(y_marks)
                        .x_grid_spacer(x_marks)
                        // Time from the start, and counts from zero: a line
                        // with values only early on must not centre the
                        // axes on itself.
                        .include_x(0.0)
                        .include_x(now.max(1.0))
                        .include_y(0.0)
                        .x_axis_formatter(|m, _| format!("{}s", m.value))
                        .allow_scroll(false)
                        .show(ui, |plot| {
                            for (i, (name, pts)) in lines.into_iter().enumerate() {
                                // The focused line: the one named, or
                                // any line of the node named.
                                let bold = focused.is_some_and(|f| {
                                    f.line.as_deref().is_some_and(|l| {
                                        name == l || name.starts_with(&format!("{l} "))
                                    })
                                });
                                for piece in segments(&pts) {
                                    plot.line(
                                        Line::new(name.clone(), PlotPoints::from(thin(piece)))
                                            .color(PALETTE[i % PALETTE.len()])
                                            .width(if bold { 3.5 } else { 1.5 }),
                                    );
                                }
                            }
                            for &(start, end) in &faults {
                                plot.span(
                                    egui_plot::Span::new("", start..=end.max(start))
                                        .fill(Color32::from_rgb(200, 60, 60).gamma_multiply(0.12))
                                        .border_color(
                                            Color32::from_rgb(200, 60, 60).gamma_multiply(0.5),
                                        ),
                                );
                            }
                        });
                });
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_stops_at_a_gap_and_starts_again() {
        let nan = f64::NAN;
        let line = [[0.0, 1.0], [1.0, 2.0], [2.0, nan], [3.0, nan], [4.0, 5.0]];
        assert_eq!(
            segments(&line),
            [vec![[0.0, 1.0], [1.0, 2.0]], vec![[4.0, 5.0]]]
        );
        assert!(segments(&[[0.0, nan]]).is_empty());
    }

    #[test]
    fn the_y_axis_has_three_round_marks() {
        let marks = |top: f64| -> Vec<f64> {
            y_marks(egui_plot::GridInput {
                bounds: (0.0, top),
                base_step_size: top / 100.0,
            })
            .iter()
            .map(|m| m.value)
            .collect()
        };
        assert_eq!(marks(230.0), [0.0, 100.0, 200.0]);
        assert_eq!(marks(12.0), [0.0, 5.0, 10.0]);
        assert_eq!(marks(1.0), [0.0, 0.5, 1.0]);
    }

    #[test]
    fn the_time_axis_has_three_or_four_round_marks() {
        let marks = |end: f64| -> Vec<f64> {
            x_marks(egui_plot::GridInput {
                bounds: (-2.0, end),
                base_step_size: end / 100.0,
            })
            .iter()
            .map(|m| m.value)
            .collect()
        };
        assert_eq!(marks(90.0), [0.0, 25.0, 50.0, 75.0]);
        assert_eq!(marks(240.0), [0.0, 100.0, 200.0]);
        assert_eq!(marks(120.0), [0.0, 50.0, 100.0]);
        assert_eq!(marks(30.0), [0.0, 10.0, 20.0, 30.0]);
        assert_eq!(marks(8.0), [0.0, 2.5, 5.0, 7.5]);
    }

    #[test]
    fn thinned_lines_keep_their_spikes() {
        let mut line: Vec<[f64; 2]> = (0..1000).map(|i| [i as f64, 1.0]).collect();
        line[437][1] = 50.0;
        let thinned = thin(line.clone());
        assert!(thinned.len() <= CHART_POINTS);
        assert!(thinned.iter().any(|p| p[1] == 50.0), "the spike survives");
        assert!(
            thinned.windows(2).all(|w| w[0][0] < w[1][0]),
            "in time order"
        );
        line[999][1] = 7.0;
        assert_eq!(*thin(line.clone()).last().unwrap(), [999.0, 7.0]);
        let short = line[..50].to_vec();
        assert_eq!(thin(short.clone()), short);
    }

    #[test]
    fn a_crowded_chart_keeps_its_highest_lines() {
        let lines: Lines = (0..20)
            .map(|i| {
                (
                    format!("leaf-{i:02}"),
                    vec![[0.0, 0.0], [1.0, f64::from(i % 7)]],
                )
            })
            .collect();
        let (kept, all) = busiest(lines);
        assert_eq!(all, 20);
        let names: Vec<&str> = kept.iter().map(|(n, _)| n.as_str()).collect();
        // Peaks of 6 (leaf 6, 13), 5 (5, 12, 19), 4 (4, 11, 18): eight.
        assert_eq!(
            names,
            [
                "leaf-04", "leaf-05", "leaf-06", "leaf-11", "leaf-12", "leaf-13", "leaf-18",
                "leaf-19"
            ]
        );
    }
}
