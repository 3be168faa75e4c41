//! What a frame costs a GPU, and the cached labels that keep it low.
//!
//! In a browser without a GPU, WebGL runs on a software rasteriser that
//! pays for every triangle (BENCHMARKS.md, "The web app"). These tests
//! count what egui tessellates for a whole frame of the app, and check that
//! the cached labels draw the same pixels as egui's text.

use egui::epaint::{Primitive, Vertex, WHITE_UV};
use egui::{Color32, ColorImage, Mesh, Pos2, Rect, Vec2};
use sim_web::App;
use sim_web::textcache::{TextCache, draw_mesh, rasterise};

const SIZE: Vec2 = Vec2::new(1400.0, 900.0);

fn input(frame: u64) -> egui::RawInput {
    egui::RawInput {
        screen_rect: Some(Rect::from_min_size(Pos2::ZERO, SIZE)),
        time: Some(frame as f64 / 60.0),
        predicted_dt: 1.0 / 60.0,
        ..Default::default()
    }
}

/// Runs `frames` frames of `app` and returns the last frame's triangles.
fn triangles(ctx: &egui::Context, app: &mut App, frames: u64) -> usize {
    let mut last = None;
    for _ in 0..frames {
        // Time goes on from the context's last frame.
        let mut out = ctx.run_ui(input(ctx.cumulative_frame_nr()), |ui| app.ui(ui));
        out.textures_delta.clear();
        last = Some(out);
    }
    let out = last.expect("at least one frame");
    ctx.tessellate(out.shapes, out.pixels_per_point)
        .iter()
        .map(|p| match &p.primitive {
            Primitive::Mesh(m) => m.indices.len() / 3,
            Primitive::Callback(_) => 0,
        })
        .sum()
}

/// Every story, playing with its story panel shown, draws a frame in
/// under 3700 triangles. It was about 8000 when the prose was drawn glyph
/// by glyph, and a grid of a hundred nodes 14000. The figures before
/// December 2026 (3200 at most) were measured while the time slider's
/// rounding held playback at its first frame, so they showed almost
/// nothing playing; truly playing, the most is abusive client's 3587
/// (five calls 3530), with the request list drawn from cached textures.
#[test]
fn every_story_plays_within_a_frame_budget_of_triangles() {
    for (name, _) in sim_core::scenario::STORIES {
        let ctx = egui::Context::default();
        let mut app = App::new();
        app.open_story(name);
        app.player.as_mut().unwrap().playing = true;
        let tris = triangles(&ctx, &mut app, 30);
        assert!(tris < 3700, "{name}: {tris} triangles");
        if *name == "tail-at-scale" {
            // The frontend is labelled beside its hundred leaves, and one
            // line joins it to their grid (2906 triangles playing).
            assert!(tris < 3000, "{name}: {tris} triangles");
        }
        assert!(app.text.len() >= 4, "{name}: the story's prose is cached");
    }
}

/// The story panel's prose is drawn from textures made once: later frames
/// make none, a hidden panel frees them (the library's chapter headings
/// and story names stay), and a narrower panel makes them again (the
/// text wraps differently).
#[test]
fn cached_labels_are_made_once_and_freed_when_not_drawn() {
    let ctx = egui::Context::default();
    let mut app = App::new();
    app.open_story("double-charge");
    // A resizable panel settles on its width in the first few frames.
    triangles(&ctx, &mut app, 10);
    let made = app.text.made;
    let held = app.text.len();
    assert!(made > 0 && held > 0);
    triangles(&ctx, &mut app, 5);
    assert_eq!(app.text.made, made, "nothing is made again");
    app.show_story = false;
    triangles(&ctx, &mut app, 3);
    // What is left is the library's: its chapter headings and the story
    // names it has room to show (a long list scrolls), none of the prose.
    let path = sim_core::scenario::learning_path().unwrap();
    let library = path.chapters.len() + sim_core::scenario::STORIES.len();
    let left = app.text.len();
    assert!(
        left <= library && left >= path.chapters.len(),
        "a hidden panel's textures are freed: {left} left, the library has {library}"
    );
    assert!(left + 4 <= held, "the story's prose went: {left} of {held}");
    app.show_story = true;
    triangles(&ctx, &mut app, 3);
    assert_eq!(app.text.len(), held);
    assert!(app.text.made > made);
}

/// One glyph, rasterised from egui's own tessellation, is the font atlas's
/// pixels for that glyph, texel for texel (at one pixel per point, white
/// text): what egui's shader draws.
#[test]
fn a_cached_glyph_is_the_font_atlas_glyph() {
    let ctx = egui::Context::default();
    let mut galley = None;
    let mut out = ctx.run_ui(input(0), |ui| {
        galley = Some(ui.painter().layout_no_wrap(
            "W".into(),
            egui::FontId::proportional(14.0),
            Color32::WHITE,
        ));
    });
    out.textures_delta.clear();
    let galley = galley.unwrap();
    let glyph = &galley.rows[0].row.glyphs[0];
    let uv = glyph.uv_rect;
    let shape = egui::Shape::galley(Pos2::ZERO, galley.clone(), Color32::WHITE);
    let (image, _) = rasterise(&ctx, shape, 1.0);
    let atlas = ctx.fonts(|f| f.image());
    let (w, h) = (
        usize::from(uv.max[0] - uv.min[0]),
        usize::from(uv.max[1] - uv.min[1]),
    );
    assert_eq!(image.size, [w, h]);
    let mut inked = 0;
    for y in 0..h {
        for x in 0..w {
            let texel = atlas.pixels
                [(usize::from(uv.min[1]) + y) * atlas.size[0] + usize::from(uv.min[0]) + x];
            assert_eq!(image.pixels[y * w + x], texel, "pixel ({x}, {y})");
            inked += usize::from(texel.a() > 0);
        }
    }
    assert!(inked > 20, "the glyph has ink");
}

/// A quad is two triangles sharing a diagonal; a translucent quad must be
/// blended once on every pixel, the diagonal's included.
#[test]
fn pixels_on_a_shared_edge_are_drawn_once() {
    let atlas = ColorImage::new([1, 1], vec![Color32::WHITE]);
    let half = Color32::from_rgba_premultiplied(64, 64, 64, 128);
    for (w, h) in [(8.0, 8.0), (5.0, 9.0), (12.0, 3.0)] {
        let mut mesh = Mesh::default();
        mesh.add_colored_rect(
            Rect::from_min_size(Pos2::new(1.0, 1.0), Vec2::new(w, h)),
            half,
        );
        // And the same quad again, split along the other diagonal.
        let base = mesh.vertices.len() as u32;
        for p in [
            (13.0, 1.0),
            (13.0 + w, 1.0),
            (13.0 + w, 1.0 + h),
            (13.0, 1.0 + h),
        ] {
            mesh.vertices.push(Vertex {
                pos: Pos2::new(p.0, p.1),
                uv: WHITE_UV,
                color: half,
            });
        }
        mesh.indices
            .extend([base, base + 1, base + 3, base + 1, base + 2, base + 3]);
        let size = [(14.0 + 2.0 * w) as usize + 1, (h as usize) + 2];
        let mut image = ColorImage::new(size, vec![Color32::TRANSPARENT; size[0] * size[1]]);
        draw_mesh(&mut image, &mesh, &atlas, 1.0, Vec2::ZERO);
        let mut covered = 0;
        for p in &image.pixels {
            assert!(p.a() == 0 || *p == half, "blended twice: {p:?}");
            covered += usize::from(p.a() > 0);
        }
        assert_eq!(covered, 2 * (w * h) as usize, "every pixel of both quads");
    }
}

/// A cached label keeps the label's accessibility: tests and screen readers
/// find the story's prose by its text.
#[test]
fn a_cached_label_is_found_by_its_text() {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    let mut cache = TextCache::default();
    let harness = Harness::new_ui(move |ui| {
        cache.label(ui, "The ledger charged twice.");
    });
    assert!(
        harness
            .query_by_label("The ledger charged twice.")
            .is_some()
    );
}
