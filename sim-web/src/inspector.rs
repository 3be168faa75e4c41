//! The panels under the charts: the expectations' verdicts once the run
//! has ended, and the recent requests with every message each caused.

use crate::player::Player;
use egui::Color32;
use sim_core::scenario::measure;
use sim_core::{SimDuration, SimTime};

/// The expectations' verdicts, once the run has ended.
pub fn verdicts(ui: &mut egui::Ui, p: &Player) {
    if let Some(why) = p.cut_short() {
        ui.colored_label(
            Color32::from_rgb(210, 70, 60),
            format!("This run stopped early, so it is not a result: {why}"),
        );
    }
    match p.outcomes() {
        None => {
            ui.label(format!(
                "Expectations are judged at the end of the run ({}).",
                SimDuration::from_nanos(p.end.as_nanos())
            ));
        }
        Some(outcomes) => {
            ui.strong("Expectations");
            for o in outcomes {
                match &o.verdict {
                    Ok(v) => {
                        let (mark, colour) = if v.holds {
                            ("ok  ", Color32::from_rgb(60, 160, 80))
                        } else {
                            ("FAIL", Color32::from_rgb(210, 70, 60))
                        };
                        ui.horizontal_wrapped(|ui| {
                            ui.colored_label(colour, mark);
                            ui.monospace(format!(
                                "{} {} {} (was {})",
                                v.metric,
                                v.op.as_str(),
                                measure(&v.metric, v.expected),
                                measure(&v.metric, v.actual)
                            ));
                            ui.label(&o.because);
                        });
                    }
                    Err(e) => {
                        ui.colored_label(Color32::from_rgb(210, 70, 60), e);
                    }
                }
            }
        }
    }
}

fn ms(d: SimDuration) -> String {
    format!("{:.3}ms", d.as_nanos() as f64 / 1e6)
}

/// Recent requests, newest first; click one to see every message it
/// caused, with its timings.
pub fn inspector(
    ui: &mut egui::Ui,
    p: &Player,
    inspected: &mut Option<u64>,
    text: &mut crate::textcache::TextCache,
) {
    let observed = p.observed.borrow();
    ui.strong("Requests (click one)");
    let shown = inspected.and_then(|n| observed.request(n));
    match shown {
        None => {
            egui::ScrollArea::vertical()
                .id_salt("requests")
                .show(ui, |ui| {
                    for r in observed.requests.iter().rev().take(40) {
                        let outcome = r.outcome.as_deref().unwrap_or("in flight");
                        let took = r.took().map(ms).unwrap_or_default();
                        let line = format!(
                            "#{} {} from {}: {outcome} {took}",
                            r.number, r.label, r.origin
                        );
                        // Drawn from a cached texture: a line of glyphs is
                        // dozens of triangles, and most lines stay put.
                        if text.link(ui, line).clicked() {
                            *inspected = Some(r.number);
                        }
                    }
                });
        }
        Some(r) => {
            if ui.button("Back to the list").clicked() {
                *inspected = None;
            }
            ui.label(format!(
                "#{} {} from {}, started at {}: {} {}",
                r.number,
                r.label,
                r.origin,
                ms(r.start - SimTime::ZERO),
                r.outcome.as_deref().unwrap_or("in flight"),
                r.took()
                    .map(|d| format!("after {}", ms(d)))
                    .unwrap_or_default()
            ));
            let attempts = r.attempts();
            let mut facts = vec![format!(
                "{attempts} attempt{} ({} retr{})",
                if attempts == 1 { "" } else { "s" },
                attempts.saturating_sub(1),
                if attempts == 2 { "y" } else { "ies" }
            )];
            for (cache, hit) in r.cache_answers() {
                facts.push(format!(
                    "{cache}: {}",
                    if hit { "cache hit" } else { "cache miss" }
                ));
            }
            let replicas = r.replicas_read();
            if !replicas.is_empty() {
                facts.push(format!("replicas read: {}", replicas.join(", ")));
            }
            ui.label(facts.join("; "));
            egui::ScrollArea::vertical().id_salt("hops").show(ui, |ui| {
                egui::Grid::new("hops").striped(true).show(ui, |ui| {
                    for h in &r.hops {
                        ui.monospace(format!("+{}", ms(h.sent - r.start)));
                        ui.label(format!("{} -> {}", h.from, h.to));
                        ui.label(&h.what);
                        ui.label(match (&h.arrived, &h.dropped) {
                            (Some(at), _) => format!("arrived after {}", ms(*at - h.sent)),
                            (None, Some(why)) => format!("dropped: {why}"),
                            (None, None) => "in flight".to_string(),
                        });
                        ui.end_row();
                    }
                });
                if r.hops_left_out > 0 {
                    ui.label(format!("and {} more messages", r.hops_left_out));
                }
            });
        }
    }
}
