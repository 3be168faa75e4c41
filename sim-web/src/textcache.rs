//! Labels whose text is painted once into a texture and then drawn as one
//! image: two triangles a frame instead of two per glyph.
//!
//! Where the browser has no GPU, WebGL runs on a software rasteriser that
//! pays for every triangle; a panel of prose is thousands of glyphs, and
//! was the largest part of a frame. A cached label lays its text out as
//! egui's `Label` does (same galley, same place, the same accessibility
//! node), then draws a texture made from egui's own tessellation of that
//! galley, rasterised here on the CPU: the same pixels a GPU would produce
//! (egui's shader multiplies the vertex colour by the font atlas, in gamma
//! space, and blends premultiplied), so the image looks like the text.
//!
//! A texture is made again when its label's text, style, width, colour or
//! the pixels per point change; one not drawn in the last frame is freed.

use egui::epaint::{ClippedShape, Primitive, TextShape};
use egui::{Color32, ColorImage, Mesh, Pos2, Rect, Response, TextureHandle, Ui, Vec2, WidgetText};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

struct Entry {
    texture: TextureHandle,
    /// Where the image goes, from the galley's position, in points.
    offset: Vec2,
    size: Vec2,
    used: u64,
}

/// The textures of the cached labels drawn in recent frames.
#[derive(Default)]
pub struct TextCache {
    entries: BTreeMap<u64, Entry>,
    pass: u64,
    /// Textures made so far (for tests: a label drawn again is not made
    /// again).
    pub made: u64,
}

impl TextCache {
    /// A label, laid out and placed exactly as `ui.label(text)` would be,
    /// drawn from a cached texture.
    pub fn label(&mut self, ui: &mut Ui, text: impl Into<WidgetText>) -> Response {
        self.draw(ui, egui::Label::new(text).selectable(false))
    }

    /// A cached label that can be clicked (it says so to screen readers
    /// and tests as a link).
    pub fn link(&mut self, ui: &mut Ui, text: impl Into<WidgetText>) -> Response {
        let label = egui::Label::new(text)
            .selectable(false)
            .sense(egui::Sense::click());
        let r = self.draw(ui, label);
        r.on_hover_cursor(egui::CursorIcon::PointingHand)
    }

    fn draw(&mut self, ui: &mut Ui, label: egui::Label) -> Response {
        let ctx = ui.ctx().clone();
        self.begin_pass(&ctx);
        let pass = self.pass;
        let (pos, galley, response) = label.layout_in_ui(ui);
        response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Label, ui.is_enabled(), galley.text())
        });
        if !ui.is_rect_visible(response.rect) {
            return response;
        }
        let colour = ui.visuals().text_color();
        let ppp = ctx.pixels_per_point();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        galley.job.hash(&mut h);
        colour.hash(&mut h);
        ppp.to_bits().hash(&mut h);
        let key = h.finish();
        let made = &mut self.made;
        let e = self.entries.entry(key).or_insert_with(|| {
            let shape = TextShape::new(Pos2::ZERO, galley.clone(), colour);
            let (image, offset) = rasterise(&ctx, shape.into(), ppp);
            let size = Vec2::new(image.width() as f32, image.height() as f32) / ppp;
            let texture = ctx.load_texture("cached label", image, egui::TextureOptions::NEAREST);
            *made += 1;
            Entry {
                texture,
                offset,
                size,
                used: pass,
            }
        });
        e.used = pass;
        // Text is drawn on whole pixels; so is its image.
        let at = ((pos + e.offset) * ppp).round() / ppp;
        ui.painter().image(
            e.texture.id(),
            Rect::from_min_size(at, e.size),
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
        response
    }

    /// Frees the textures of labels the previous pass did not draw. Called
    /// by `label`, and once a frame by the app so that a panel no longer
    /// shown lets go of its textures.
    pub fn begin_pass(&mut self, ctx: &egui::Context) {
        let pass = ctx.cumulative_pass_nr();
        if pass != self.pass {
            let keep_from = self.pass;
            self.entries.retain(|_, e| e.used >= keep_from);
            self.pass = pass;
        }
    }

    /// How many textures are held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// `shape` tessellated by egui and rasterised into an image covering it,
/// with the image's top-left corner relative to the shape's origin (in
/// points).
pub fn rasterise(ctx: &egui::Context, shape: egui::Shape, ppp: f32) -> (ColorImage, Vec2) {
    let primitives = ctx.tessellate(
        vec![ClippedShape {
            clip_rect: Rect::EVERYTHING,
            shape,
            transform_after_tessellation: egui::emath::TSTransform::IDENTITY,
        }],
        ppp,
    );
    let atlas = ctx.fonts(|f| f.image());
    let meshes: Vec<&Mesh> = primitives
        .iter()
        .filter_map(|p| match &p.primitive {
            Primitive::Mesh(m) => Some(m),
            Primitive::Callback(_) => None,
        })
        .collect();
    let mut bounds = Rect::NOTHING;
    for m in &meshes {
        bounds = bounds.union(m.calc_bounds());
    }
    if !bounds.is_positive() {
        return (
            ColorImage::new([1, 1], vec![Color32::TRANSPARENT]),
            Vec2::ZERO,
        );
    }
    // Whole pixels around the bounds.
    let min = (bounds.min.to_vec2() * ppp).floor();
    let max = (bounds.max.to_vec2() * ppp).ceil();
    let (w, h) = ((max.x - min.x) as usize, (max.y - min.y) as usize);
    let mut image = ColorImage::new(
        [w.max(1), h.max(1)],
        vec![Color32::TRANSPARENT; w.max(1) * h.max(1)],
    );
    for m in meshes {
        draw_mesh(&mut image, m, &atlas, ppp, min);
    }
    (image, min / ppp)
}

/// Draws `mesh` (positions in points) into `image`, whose pixel (0, 0)
/// is at `origin` pixels, sampling `atlas` (egui's font texture) at the
/// nearest texel, multiplying by the vertex colour and blending
/// premultiplied: what egui's shader does. Pixels on an edge two
/// triangles share are drawn once (the top-left rule).
pub fn draw_mesh(image: &mut ColorImage, mesh: &Mesh, atlas: &ColorImage, ppp: f32, origin: Vec2) {
    let [w, h] = image.size;
    let [aw, ah] = atlas.size;
    for t in mesh.indices.chunks_exact(3) {
        let v = [t[0], t[1], t[2]].map(|i| &mesh.vertices[i as usize]);
        let p = v.map(|v| v.pos.to_vec2() * ppp - origin);
        let area = edge(p[0], p[1], p[2]);
        if area == 0.0 {
            continue;
        }
        // Counter-clockwise in a y-down image: positive area.
        let (a, b, c, va, vb, vc) = if area > 0.0 {
            (p[0], p[1], p[2], v[0], v[1], v[2])
        } else {
            (p[0], p[2], p[1], v[0], v[2], v[1])
        };
        let area = area.abs();
        let x0 = a.x.min(b.x).min(c.x).floor().max(0.0) as usize;
        let y0 = a.y.min(b.y).min(c.y).floor().max(0.0) as usize;
        let x1 = (a.x.max(b.x).max(c.x).ceil() as usize).min(w);
        let y1 = (a.y.max(b.y).max(c.y).ceil() as usize).min(h);
        for y in y0..y1 {
            for x in x0..x1 {
                let q = Vec2::new(x as f32 + 0.5, y as f32 + 0.5);
                let (wa, wb, wc) = (edge(b, c, q), edge(c, a, q), edge(a, b, q));
                if !(covers(wa, b, c) && covers(wb, c, a) && covers(wc, a, b)) {
                    continue;
                }
                let (wa, wb, wc) = (wa / area, wb / area, wc / area);
                let uv = va.uv.to_vec2() * wa + vb.uv.to_vec2() * wb + vc.uv.to_vec2() * wc;
                let tx = ((uv.x * aw as f32) as usize).min(aw - 1);
                let ty = ((uv.y * ah as f32) as usize).min(ah - 1);
                let texel = atlas.pixels[ty * aw + tx];
                let mix = |f: fn(&Color32) -> u8| {
                    f32::from(f(&va.color)) * wa
                        + f32::from(f(&vb.color)) * wb
                        + f32::from(f(&vc.color)) * wc
                };
                let src = [
                    mix(|c| c.r()) * f32::from(texel.r()) / 255.0,
                    mix(|c| c.g()) * f32::from(texel.g()) / 255.0,
                    mix(|c| c.b()) * f32::from(texel.b()) / 255.0,
                    mix(|c| c.a()) * f32::from(texel.a()) / 255.0,
                ];
                let dst = &mut image.pixels[y * w + x];
                let keep = 1.0 - src[3] / 255.0;
                let over =
                    |s: f32, d: u8| (s + f32::from(d) * keep).round().clamp(0.0, 255.0) as u8;
                *dst = Color32::from_rgba_premultiplied(
                    over(src[0], dst.r()),
                    over(src[1], dst.g()),
                    over(src[2], dst.b()),
                    over(src[3], dst.a()),
                );
            }
        }
    }
}

/// Twice the signed area of (a, b, q): positive when q is left of a→b
/// on screen (y down), i.e. inside a counter-clockwise triangle.
fn edge(a: Vec2, b: Vec2, q: Vec2) -> f32 {
    (b.x - a.x) * (q.y - a.y) - (b.y - a.y) * (q.x - a.x)
}

/// Whether a pixel centre with edge value `e` on edge a→b is drawn: inside,
/// or exactly on a top or left edge.
fn covers(e: f32, a: Vec2, b: Vec2) -> bool {
    if e != 0.0 {
        return e > 0.0;
    }
    // With the winding `draw_mesh` chooses (y down), a top edge runs
    // rightwards and a left edge upwards.
    let d = b - a;
    (d.y == 0.0 && d.x > 0.0) || d.y < 0.0
}
