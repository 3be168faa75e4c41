//! Small bar charts beside a node, from its kind's badge: a broker draws
//! a row per topic and a bar per partition, the bar's height what the
//! partition holds, its lower part in orange what the slowest group has
//! not finished. All bars of a node share one scale, so a topic that
//! holds more stands taller, and a partition left behind shows as one
//! bar more orange than its neighbours.
//!
//! `layout` is pure geometry (tested); `draw` paints it as plain quads in
//! one mesh, as the topology draws its grids.

use egui::{Align2, Color32, FontId, Pos2, Rect, Vec2};
use sim_core::scenario::kinds::Bars;

/// The most bars a row draws: more partitions are summed in groups.
pub const MAX_BARS: usize = 32;
/// A row's height, in points, at the largest value, when there is room.
pub const ROW_HEIGHT: f32 = 18.0;
const ROW_GAP: f32 = 6.0;
/// A row's bars together are at most this wide.
const ROW_WIDTH: f32 = 48.0;

/// One row, laid out.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub label: String,
    /// Each bar's whole height and its unfinished part (the part from the
    /// bottom up).
    pub bars: Vec<(Rect, Rect)>,
    /// Where the label starts: right of the bars, at mid height.
    pub label_at: Pos2,
}

/// Sums `v` into at most `MAX_BARS` groups of neighbours.
fn bucketed(v: &[u64]) -> Vec<u64> {
    let per = v.len().div_ceil(MAX_BARS).max(1);
    v.chunks(per).map(|c| c.iter().sum()).collect()
}

/// The rows of `bars` for a node whose top right corner is `corner`
/// (its circle's right edge, at its top), stacked within `height` (the
/// node's own height, so that they stay clear of its label below).
pub fn layout(corner: Pos2, height: f32, bars: &[Bars]) -> Vec<Row> {
    let rows: Vec<(Vec<u64>, Vec<u64>)> = bars
        .iter()
        .map(|b| (bucketed(&b.full), bucketed(&b.part)))
        .collect();
    let top = rows
        .iter()
        .flat_map(|(full, _)| full.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f32;
    let n_rows = rows.len().max(1) as f32;
    let row_height = ((height - ROW_GAP * (n_rows - 1.0)) / n_rows).clamp(4.0, ROW_HEIGHT);
    let mut out = Vec::new();
    for (i, (b, (full, part))) in bars.iter().zip(&rows).enumerate() {
        let bottom = corner.y + (i + 1) as f32 * row_height + i as f32 * ROW_GAP;
        let n = full.len().max(1) as f32;
        let step = (ROW_WIDTH / n).clamp(2.0, 7.0);
        let width = if step >= 3.0 { step - 1.0 } else { step };
        let mut row = Vec::new();
        for (k, (&f, &p)) in full.iter().zip(part).enumerate() {
            let x = corner.x + k as f32 * step;
            let h = row_height * f as f32 / top;
            let hp = row_height * p.min(f) as f32 / top;
            let whole = Rect::from_min_max(Pos2::new(x, bottom - h), Pos2::new(x + width, bottom));
            let behind =
                Rect::from_min_max(Pos2::new(x, bottom - hp), Pos2::new(x + width, bottom));
            row.push((whole, behind));
        }
        out.push(Row {
            label: b.label.clone(),
            bars: row,
            label_at: Pos2::new(
                corner.x + full.len() as f32 * step + 4.0,
                bottom - row_height / 2.0,
            ),
        });
    }
    out
}

/// The colour of what is held, and of what is not yet finished.
const HELD: Color32 = Color32::from_rgb(120, 175, 225);
const BEHIND: Color32 = Color32::from_rgb(230, 120, 40);
/// The baseline under each row, so an empty topic still shows.
const BASE: Color32 = Color32::from_rgb(150, 150, 150);

/// Paints the rows: bars as quads in one mesh, each row's name beside.
pub fn draw(painter: &egui::Painter, rows: &[Row], text: Color32) {
    let mut mesh = egui::Mesh::default();
    for row in rows {
        for (whole, behind) in &row.bars {
            mesh.add_colored_rect(*whole, HELD);
            if behind.height() > 0.0 {
                mesh.add_colored_rect(*behind, BEHIND);
            }
        }
        if let (Some(first), Some(last)) = (row.bars.first(), row.bars.last()) {
            let y = first.0.bottom();
            let base = Rect::from_min_max(
                Pos2::new(first.0.left(), y),
                Pos2::new(last.0.right(), y + 1.0),
            );
            mesh.add_colored_rect(base, BASE);
        }
    }
    painter.add(egui::Shape::mesh(mesh));
    for row in rows.iter().filter(|r| !r.label.is_empty()) {
        painter.text(
            row.label_at,
            Align2::LEFT_CENTER,
            &row.label,
            FontId::proportional(10.0),
            text,
        );
    }
}

/// Where the bars of a node drawn at `at` with radius `r` begin, and
/// how tall they may stand together.
pub fn place(at: Pos2, r: f32) -> (Pos2, f32) {
    (at + Vec2::new(r + 6.0, -r - 4.0), 2.0 * r + 4.0)
}
