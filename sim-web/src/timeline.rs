//! The timeline strip under the controls.

use crate::player::Player;
use egui::Color32;
use sim_core::{SimDuration, SimTime};

/// The timeline under the controls: scheduled faults as bands, faults
/// and pattern events as ticks (hover for what), and now. A click seeks.
pub fn timeline(ui: &mut egui::Ui, p: &Player) -> Option<SimTime> {
    let width = ui.available_width();
    let (response, painter) = ui.allocate_painter(egui::vec2(width, 22.0), egui::Sense::click());
    let rect = response.rect;
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let end = p.end.as_nanos().max(1) as f32;
    let x = |t: SimTime| rect.left() + rect.width() * (t.as_nanos() as f32 / end).min(1.0);
    let fault = Color32::from_rgb(200, 60, 60);
    let pattern = Color32::from_rgb(220, 150, 40);
    // Fault windows as bands, overlapping ones merged (each band shades
    // every pixel under it, and a software GPU pays per pixel).
    let mut bands: Vec<(f32, f32)> = p
        .faults()
        .iter()
        .map(|w| (x(w.start), x(w.end.unwrap_or(p.end)).max(x(w.start) + 2.0)))
        .collect();
    bands.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f32, f32)> = Vec::new();
    for (from, to) in bands {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    for (from, to) in merged {
        let band = egui::Rect::from_x_y_ranges(from..=to, rect.y_range());
        painter.rect_filled(band, 0.0, fault.gamma_multiply(0.25));
    }
    // Marks: one quad per pixel column and kind, however many marks
    // share it.
    let observed = p.observed.borrow();
    let mut marks = egui::Mesh::default();
    let mut drawn = std::collections::BTreeSet::new();
    for m in &observed.marks {
        let at = x(m.at).round();
        if !drawn.insert((at as i32, m.fault)) {
            continue;
        }
        let colour = if m.fault { fault } else { pattern };
        let top = if m.fault { rect.top() } else { rect.center().y };
        marks.add_colored_rect(
            egui::Rect::from_x_y_ranges(at - 0.75..=at + 0.75, top..=rect.bottom()),
            colour,
        );
    }
    painter.add(marks);
    let now = x(p.now());
    painter.line_segment(
        [egui::pos2(now, rect.top()), egui::pos2(now, rect.bottom())],
        egui::Stroke::new(2.0, ui.visuals().strong_text_color()),
    );
    if let Some(pos) = response.hover_pos() {
        let near: Vec<String> = observed
            .marks
            .iter()
            .filter(|m| (x(m.at) - pos.x).abs() <= 4.0)
            .take(12)
            .map(|m| format!("{}  {}", SimDuration::from_nanos(m.at.as_nanos()), m.text))
            .chain(
                p.faults()
                    .iter()
                    .filter(|w| {
                        x(w.start) - 4.0 <= pos.x && pos.x <= x(w.end.unwrap_or(p.end)) + 4.0
                    })
                    .map(|w| format!("fault: {}", w.label)),
            )
            .collect();
        if !near.is_empty() {
            response.clone().on_hover_text(near.join("\n"));
        }
    }
    if response.clicked()
        && let Some(pos) = response.interact_pointer_pos()
    {
        let share = ((pos.x - rect.left()) / rect.width()).clamp(0.0, 1.0) as f64;
        return Some(SimTime::ZERO + SimDuration::from_nanos((share * end as f64) as u64));
    }
    None
}
