//! The system as a picture, drawn with egui's painter: nodes in columns by
//! zone, coloured by state (up, crashed, leading, breaker open) and
//! labelled with what else matters (cut off by a partition, a cold cache,
//! busy workers and queued calls), with a broker's partitions as small
//! bars beside it (`bars`), links
//! between them with moving dots for the traffic of the last frame (an
//! election's votes large and amber, heartbeats small and pale) and
//! red marks where messages were dropped or a partition cuts the link.
//!
//! Click a node to select it; then crash or restart it, or cut its link
//! to another node (click "Cut a link", then the other node); or draw a
//! partition: a line dragged across the picture splits the nodes into its
//! two sides. Each action becomes a fault in the run's schedule.
//!
//! The replicas of a group of more than `MAX_ROWS` become a grid of small
//! squares, labelled on hover; links into a grid are one line to its
//! edge per outside node, unless cut. It draws outlines rather than
//! filled backgrounds: on a software GPU every shaded pixel costs (the
//! web glue likewise clears the canvas to the panels' colour and turns
//! panel fills off), and it pays per triangle, so grid squares and
//! traffic dots are plain quads in one mesh each.

use crate::app::Selection;
use crate::player::Player;
use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, Vec2};
use sim_core::NodeId;
use sim_core::scenario::ScenarioSpec;
use sim_core::scenario::instance_name;
use sim_core::scenario::kinds::{self, Kind};
use std::collections::{BTreeMap, BTreeSet};

/// A fault the user asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// `crash` or `restart` (of `node`), or `partition` (between the two
    /// `groups`: a cut link's ends, or the sides of a drawn line).
    pub action: &'static str,
    pub node: String,
    pub groups: Vec<Vec<String>>,
}

/// The nodes on each side of the line from `a` to `b` (nodes exactly on
/// it count with the first side).
pub fn split_by_line(positions: &BTreeMap<String, Pos2>, a: Pos2, b: Pos2) -> [Vec<String>; 2] {
    let mut sides = [Vec::new(), Vec::new()];
    let d = b - a;
    for (name, p) in positions {
        let q = *p - a;
        let cross = d.x * q.y - d.y * q.x;
        sides[usize::from(cross < 0.0)].push(name.clone());
    }
    sides
}

/// The kind of the node called `name` (a replica by its own name).
pub fn kind_of(spec: &ScenarioSpec, name: &str) -> Option<&'static Kind> {
    kinds::instances(spec)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, n)| kinds::of(*n.kind.get_ref()))
}

/// Instance names of a node or replica group, as built.
fn instances(names: &[String], group: &str) -> Vec<String> {
    if names.iter().any(|n| n == group) {
        return vec![group.to_string()];
    }
    names
        .iter()
        .filter(|n| {
            n.strip_prefix(group)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
        })
        .cloned()
        .collect()
}

/// Who calls whom, from the scenario: targets, dependencies,
/// invalidations, and every replica of a group with every other.
pub fn links(spec: &ScenarioSpec, names: &[String]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for n in &spec.nodes {
        let from = instances(names, n.name.get_ref());
        for (t, _) in kinds::callees(n) {
            for a in &from {
                for b in instances(names, t) {
                    out.insert((a.clone(), b));
                }
            }
        }
        if kinds::of(*n.kind.get_ref()).peers {
            for a in &from {
                for b in &from {
                    if a < b {
                        out.insert((a.clone(), b.clone()));
                    }
                }
            }
        }
    }
    out
}

/// Nodes a zone's column shows one under another, with labels; a longer
/// column becomes a grid.
const MAX_ROWS: usize = 10;

const UP: Color32 = Color32::from_rgb(70, 150, 220);
const DOWN: Color32 = Color32::from_rgb(200, 60, 60);
const LEADER: Color32 = Color32::from_rgb(220, 170, 50);
const OPEN: Color32 = Color32::from_rgb(230, 120, 40);

/// A node of a column: its id and name.
type Member<'a> = &'a (NodeId, String);

/// Draws the topology and returns the action the user took, if any.
pub fn show(
    ui: &mut egui::Ui,
    p: &mut Player,
    sel: &mut Selection,
    focus: Option<&crate::app::Focus>,
) -> Option<Action> {
    let flows = p.observed.borrow_mut().take_flows();
    let sim = p.sim();
    let nodes: Vec<(NodeId, String)> = sim.nodes().map(|(id, n)| (id, n.to_string())).collect();
    let names: Vec<String> = nodes.iter().map(|(_, n)| n.clone()).collect();
    let mut edges = links(&p.spec, &names);
    for f in &flows {
        let (a, b) = if f.from < f.to {
            (f.from.clone(), f.to.clone())
        } else {
            (f.to.clone(), f.from.clone())
        };
        if !edges.contains(&(f.from.clone(), f.to.clone())) {
            edges.insert((a, b));
        }
    }
    let (response, painter) = ui.allocate_painter(ui.available_size(), Sense::click_and_drag());
    let rect = response.rect;
    // An outline, not a fill: filling the area would shade every pixel of
    // it each frame, which software GPUs pay for.
    painter.rect_stroke(
        rect,
        4.0,
        Stroke::new(1.0, ui.visuals().widgets.noninteractive.bg_stroke.color),
        egui::StrokeKind::Inside,
    );
    let layout = Layout::new(ui, &painter, rect, &p.spec, &zone_columns(sim, &nodes));
    let ids: BTreeMap<&str, NodeId> = nodes.iter().map(|(id, n)| (n.as_str(), *id)).collect();
    draw_links(ui, &painter, &layout, &edges, sim, &ids);
    draw_traffic(ui, &painter, &layout, &flows);
    if elects(&p.spec) {
        traffic_legend(ui, &painter, rect);
    }
    let view = NodesView {
        sim,
        spec: &p.spec,
        edges: &edges,
    };
    let clicked = view.draw(ui, &painter, &response, &layout, &nodes, sel);
    // The node a "what to look for" item points at (a group: each of its
    // replicas), ringed.
    if let Some(node) = focus.and_then(|f| f.node.as_deref()) {
        let group = format!("{node}-");
        for (name, at) in &layout.pos {
            if name == node
                || name
                    .strip_prefix(&group)
                    .is_some_and(|i| i.parse::<u32>().is_ok())
            {
                let r = layout.size.get(name).copied().unwrap_or(14.0);
                painter.circle_stroke(*at, r + 6.0, Stroke::new(3.0, crate::app::FOCUS));
            }
        }
    }
    // What just happened, beside the node it happened to.
    let captions = crate::narration::captions(
        &p.observed.borrow().marks,
        sim.now(),
        crate::narration::window(p.speed),
    );
    crate::narration::draw(&painter, rect, &layout.pos, &layout.size, &captions);
    let mut action = None;
    let clicked = if sel.drawing {
        action = partition_line(&painter, &response, &layout, sel);
        None
    } else {
        clicked
    };
    if let Some(name) = clicked {
        if let Some(from) = sel.cut_from.take()
            && from != name
        {
            action = Some(Action {
                action: "partition",
                node: String::new(),
                groups: vec![vec![from], vec![name.clone()]],
            });
        }
        sel.node = Some(name);
    }
    corner_controls(ui, rect, sel, sim, &ids, &mut action);
    action
}

/// The nodes by zone, the zones in order of first appearance.
fn zone_columns(
    sim: &sim_core::Simulation<sim_core::scenario::Rpc>,
    nodes: &[(NodeId, String)],
) -> Vec<(String, Vec<(NodeId, String)>)> {
    let net = sim.network();
    let mut columns: Vec<(String, Vec<(NodeId, String)>)> = Vec::new();
    for (id, name) in nodes {
        let zone = net.zone_name(net.zone_of(*id)).to_string();
        match columns.iter_mut().find(|(z, _)| *z == zone) {
            Some((_, c)) => c.push((*id, name.clone())),
            None => columns.push((zone, vec![(*id, name.clone())])),
        }
    }
    columns
}

/// Where each node is drawn, and how big.
struct Layout {
    rect: Rect,
    pos: BTreeMap<String, Pos2>,
    /// Per node: its radius.
    size: BTreeMap<String, f32>,
    /// The grids' areas, and which grid each of their nodes is in (these
    /// are labelled only on hover or when selected).
    grids: Vec<Rect>,
    grid_of: BTreeMap<String, usize>,
}

impl Layout {
    /// A column per zone (its name on top); a long column (a group of a
    /// hundred replicas) becomes a grid of small, unlabelled nodes, beside
    /// the column's other nodes, which keep their labels.
    fn new(
        ui: &egui::Ui,
        painter: &egui::Painter,
        rect: Rect,
        spec: &ScenarioSpec,
        columns: &[(String, Vec<(NodeId, String)>)],
    ) -> Layout {
        let col_w = rect.width() / columns.len().max(1) as f32;
        // The replicas of groups too big to label one by one.
        let mut in_big_group: BTreeSet<String> = BTreeSet::new();
        for n in &spec.nodes {
            if let Some(count) = n.replicas.as_ref().map(|r| *r.get_ref())
                && count as usize > MAX_ROWS
            {
                let name = n.name.get_ref();
                in_big_group.extend((0..count).map(|i| instance_name(name, i)));
            }
        }
        let mut layout = Layout {
            rect,
            pos: BTreeMap::new(),
            size: BTreeMap::new(),
            grids: Vec::new(),
            grid_of: BTreeMap::new(),
        };
        for (c, (zone, members)) in columns.iter().enumerate() {
            let x = rect.left() + col_w * (c as f32 + 0.5);
            if columns.len() > 1 || zone != "default" {
                painter.text(
                    Pos2::new(x, rect.top() + 10.0),
                    Align2::CENTER_CENTER,
                    zone,
                    FontId::proportional(12.0),
                    ui.visuals().weak_text_color(),
                );
            }
            let (grouped, singles): (Vec<Member>, Vec<Member>) = members
                .iter()
                .partition(|(_, n)| in_big_group.contains(n.as_str()));
            let left = x - col_w / 2.0;
            if grouped.is_empty() || singles.is_empty() {
                layout.place(&members.iter().collect::<Vec<_>>(), left, col_w);
            } else {
                layout.place(&singles, left, col_w * 0.3);
                layout.place(&grouped, left + col_w * 0.3, col_w * 0.7);
            }
        }
        layout
    }

    /// Places `part` in rows (and, when long, columns) of a strip
    /// `width` wide from `left`.
    fn place(&mut self, part: &[Member], left: f32, width: f32) {
        let n = part.len().max(1);
        let across = n.div_ceil(MAX_ROWS);
        let rows = n.div_ceil(across);
        let row_h = (self.rect.height() - 24.0) / rows as f32;
        let sub_w = width / across as f32;
        let radius = if across == 1 && n <= MAX_ROWS {
            14.0f32.min(row_h * 0.3).max(4.0)
        } else {
            (row_h * 0.35).min(sub_w * 0.35).clamp(2.0, 10.0)
        };
        let mut area = Rect::NOTHING;
        for (i, (_, name)) in part.iter().enumerate() {
            let (r, k) = (i % rows, i / rows);
            let at = Pos2::new(
                left + sub_w * (k as f32 + 0.5),
                self.rect.top() + 24.0 + row_h * (r as f32 + 0.5),
            );
            self.pos.insert(name.clone(), at);
            self.size.insert(name.clone(), radius);
            area = area.union(Rect::from_center_size(at, Vec2::splat(2.0 * radius)));
            if n > MAX_ROWS {
                self.grid_of.insert(name.clone(), self.grids.len());
            }
        }
        if n > MAX_ROWS {
            self.grids.push(area);
        }
    }
}

/// The links, a cut one in red. Links into a grid are one line to the
/// grid's edge per node outside it (a hundred lines fanning out say no
/// more than one, and a software GPU pays for every row each long thin
/// triangle crosses); a cut one is still drawn to its own node.
fn draw_links(
    ui: &egui::Ui,
    painter: &egui::Painter,
    layout: &Layout,
    edges: &BTreeSet<(String, String)>,
    sim: &sim_core::Simulation<sim_core::scenario::Rpc>,
    ids: &BTreeMap<&str, NodeId>,
) {
    let net = sim.network();
    let id_of = |name: &str| ids.get(name).copied();
    let mut buses: BTreeSet<(&str, usize)> = BTreeSet::new();
    for (a, b) in edges {
        let (Some(&pa), Some(&pb)) = (layout.pos.get(a), layout.pos.get(b)) else {
            continue;
        };
        let cut = match (id_of(a), id_of(b)) {
            (Some(x), Some(y)) => net.is_blocked(x, y) || net.is_blocked(y, x),
            _ => false,
        };
        let (ga, gb) = (layout.grid_of.get(a), layout.grid_of.get(b));
        if !cut && ga != gb {
            match (ga, gb) {
                (None, Some(&g)) => {
                    buses.insert((a, g));
                    continue;
                }
                (Some(&g), None) => {
                    buses.insert((b, g));
                    continue;
                }
                _ => {}
            }
        }
        let stroke = if cut {
            Stroke::new(2.0, DOWN)
        } else {
            Stroke::new(1.0, ui.visuals().weak_text_color())
        };
        painter.line_segment([pa, pb], stroke);
        if cut {
            let mid = pa + (pb - pa) * 0.5;
            painter.text(
                mid,
                Align2::CENTER_CENTER,
                "cut",
                FontId::proportional(12.0),
                DOWN,
            );
        }
    }
    for (outside, g) in buses {
        let from = layout.pos[outside];
        painter.line_segment(
            [from, layout.grids[g].clamp(from)],
            Stroke::new(1.0, ui.visuals().weak_text_color()),
        );
    }
}

/// Traffic on the links. Dots are small squares (a circle costs several
/// times the vertices), at most one per link and purpose when many links
/// are busy; they share one mesh of plain quads: two triangles each, where
/// an anti-aliased shape costs ten (a software GPU pays per triangle).
/// An election's votes are large amber squares, heartbeats small pale
/// ones, and everything else (the work) blue.
fn draw_traffic(
    ui: &egui::Ui,
    painter: &egui::Painter,
    layout: &Layout,
    flows: &[crate::observe::LinkFlow],
) {
    let time = ui.input(|i| i.time) as f32;
    let busy_links = flows.iter().filter(|f| f.sent > 0).count();
    let most = if busy_links > 20 { 1 } else { 7 };
    let mut dots_mesh = egui::Mesh::default();
    for f in flows {
        let (Some(&pa), Some(&pb)) = (layout.pos.get(&f.from), layout.pos.get(&f.to)) else {
            continue;
        };
        for (k, dot) in dots(f, most).into_iter().enumerate() {
            // Nudged by k, so that each purpose's first dot does not sit
            // on the others'.
            let phase = (time * 0.8 + dot.phase + k as f32 * 0.013).fract();
            let at = pa + (pb - pa) * phase;
            dots_mesh.add_colored_rect(
                Rect::from_center_size(at, Vec2::splat(dot.size)),
                dot.colour,
            );
        }
        if f.dropped > 0 {
            let at = pa + (pb - pa) * 0.8;
            painter.text(
                at,
                Align2::CENTER_CENTER,
                "×",
                FontId::proportional(16.0),
                DOWN,
            );
        }
    }
    painter.add(dots_mesh);
}

/// Whether the system holds a group that elects its leader by votes.
fn elects(spec: &ScenarioSpec) -> bool {
    spec.nodes
        .iter()
        .any(|n| *n.kind.get_ref() == sim_core::scenario::NodeKind::Raft)
}

/// What the dots' colours mean, in the bottom left corner.
fn traffic_legend(ui: &egui::Ui, painter: &egui::Painter, rect: Rect) {
    let text = ui.visuals().weak_text_color();
    let mut at = rect.left_bottom() + Vec2::new(10.0, -12.0);
    for (size, colour, what) in STYLES {
        painter.rect_filled(Rect::from_center_size(at, Vec2::splat(size)), 0.0, colour);
        let r = painter.text(
            at + Vec2::new(8.0, 0.0),
            Align2::LEFT_CENTER,
            what,
            FontId::proportional(11.0),
            text,
        );
        at.x = r.right() + 14.0;
    }
}

pub const VOTE: Color32 = Color32::from_rgb(235, 170, 30);
pub const BEAT: Color32 = Color32::from_rgb(170, 190, 215);

/// Each purpose's dot size, colour and name in the legend: work, votes,
/// heartbeats, in that order.
const STYLES: [(f32, Color32, &str); 3] = [
    (5.0, UP, "work"),
    (8.0, VOTE, "votes"),
    (3.0, BEAT, "heartbeats"),
];

/// One moving dot: where along the link (0 to 1, before the clock), how
/// large, which colour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dot {
    pub phase: f32,
    pub size: f32,
    pub colour: Color32,
}

/// The dots one link's traffic is drawn with: per purpose, one more per
/// doubling of its messages, at most `most`, spread along the link.
pub fn dots(f: &crate::observe::LinkFlow, most: usize) -> Vec<Dot> {
    let work = f.sent - f.votes - f.beats;
    let mut out = Vec::new();
    for (count, (size, colour, _)) in [work, f.votes, f.beats].into_iter().zip(STYLES) {
        let n = ((count as f32).log2().clamp(0.0, 6.0) as usize + usize::from(count > 0)).min(most);
        out.extend((0..n).map(|k| Dot {
            phase: k as f32 / n as f32,
            size,
            colour,
        }));
    }
    out
}

/// What drawing the nodes reads.
struct NodesView<'a> {
    sim: &'a sim_core::Simulation<sim_core::scenario::Rpc>,
    spec: &'a ScenarioSpec,
    edges: &'a BTreeSet<(String, String)>,
}

impl NodesView<'_> {
    /// The nodes, coloured by state, labelled (a grid's only on hover or
    /// when selected); returns the one clicked, if any. The small ones of
    /// a grid are squares, in one mesh of quads under the labels.
    fn draw(
        &self,
        ui: &egui::Ui,
        painter: &egui::Painter,
        response: &egui::Response,
        layout: &Layout,
        nodes: &[(NodeId, String)],
        sel: &Selection,
    ) -> Option<String> {
        let (sim, m) = (self.sim, self.sim.metrics());
        let kind_by_name: BTreeMap<String, &Kind> = kinds::instances(self.spec)
            .into_iter()
            .map(|(name, n)| (name, kinds::of(*n.kind.get_ref())))
            .collect();
        let grid_slot = painter.add(egui::Shape::Noop);
        let mut grid_mesh = egui::Mesh::default();
        let mut clicked: Option<String> = None;
        let pointer = response.interact_pointer_pos();
        for (id, name) in nodes {
            let Some(&at) = layout.pos.get(name) else {
                continue;
            };
            let kind = kind_by_name.get(name.as_str()).copied();
            let badge = kind.and_then(|k| (k.badge)(sim, *id));
            let fill = if !sim.is_up(*id) {
                DOWN
            } else if breaker_open(m, name) {
                OPEN
            } else if badge.as_ref().is_some_and(|b| b.highlight) {
                LEADER
            } else {
                UP
            };
            let r = layout.size.get(name).copied().unwrap_or(14.0);
            let labelled = !layout.grid_of.contains_key(name);
            if labelled {
                painter.circle_filled(at, r, fill);
                if let Some(b) = badge.as_ref().filter(|b| !b.bars.is_empty()) {
                    let (corner, height) = crate::bars::place(at, r);
                    let rows = crate::bars::layout(corner, height, &b.bars);
                    crate::bars::draw(painter, &rows, ui.visuals().weak_text_color());
                }
            } else {
                grid_mesh.add_colored_rect(Rect::from_center_size(at, Vec2::splat(2.0 * r)), fill);
            }
            let selected = sel.node.as_deref() == Some(name.as_str());
            if selected {
                let stroke = Stroke::new(2.0, ui.visuals().strong_text_color());
                painter.circle_stroke(at, r + 3.0, stroke);
            }
            let hovered = response
                .hover_pos()
                .is_some_and(|pt| pt.distance(at) <= r + 4.0);
            if labelled || hovered || selected {
                painter.text(
                    at + Vec2::new(0.0, r + 8.0),
                    Align2::CENTER_CENTER,
                    node_label(sim, *id, name, kind, self.edges),
                    FontId::proportional(12.0),
                    ui.visuals().text_color(),
                );
            }
            if response.clicked() && pointer.is_some_and(|pt| pt.distance(at) <= r + 4.0) {
                clicked = Some(name.clone());
            }
        }
        painter.set(grid_slot, grid_mesh);
        clicked
    }
}

/// Drawing a partition: drag a line across the system; the partition
/// between its two sides once the drag ends.
fn partition_line(
    painter: &egui::Painter,
    response: &egui::Response,
    layout: &Layout,
    sel: &mut Selection,
) -> Option<Action> {
    painter.text(
        layout.rect.center_top() + Vec2::new(0.0, 24.0),
        Align2::CENTER_CENTER,
        "Drag a line across the system: the two sides lose touch.",
        FontId::proportional(13.0),
        DOWN,
    );
    if response.drag_started() {
        sel.line_from = response.interact_pointer_pos();
    }
    if let (Some(a), Some(b)) = (sel.line_from, response.interact_pointer_pos()) {
        painter.line_segment([a, b], Stroke::new(2.0, DOWN));
    }
    if response.drag_stopped()
        && let (Some(a), Some(b)) = (sel.line_from.take(), response.interact_pointer_pos())
    {
        sel.drawing = false;
        let [one, two] = split_by_line(&layout.pos, a, b);
        return Some(Action {
            action: "partition",
            node: String::new(),
            groups: vec![one, two],
        });
    }
    None
}

/// The partition button in the top right corner, and the selected node's
/// actions in the top left.
fn corner_controls(
    ui: &mut egui::Ui,
    rect: Rect,
    sel: &mut Selection,
    sim: &sim_core::Simulation<sim_core::scenario::Rpc>,
    ids: &BTreeMap<&str, NodeId>,
    action: &mut Option<Action>,
) {
    let corner = Rect::from_min_size(
        rect.right_top() + Vec2::new(-150.0, 6.0),
        Vec2::new(144.0, 24.0),
    );
    ui.scope_builder(egui::UiBuilder::new().max_rect(corner), |ui| {
        let label = if sel.drawing {
            "Cancel the line"
        } else {
            "Draw a partition"
        };
        if ui.button(label).clicked() {
            sel.drawing = !sel.drawing;
            sel.line_from = None;
        }
    });
    let Some(name) = sel.node.clone() else {
        return;
    };
    let up = ids.get(name.as_str()).is_some_and(|&id| sim.is_up(id));
    let area = Rect::from_min_size(
        rect.left_top() + Vec2::new(6.0, 6.0),
        Vec2::new(220.0, 30.0),
    );
    ui.scope_builder(egui::UiBuilder::new().max_rect(area), |ui| {
        ui.horizontal(|ui| {
            ui.label(&name);
            let mut act = |what: &'static str| {
                *action = Some(Action {
                    action: what,
                    node: name.clone(),
                    groups: Vec::new(),
                });
            };
            if up && ui.button("Crash").clicked() {
                act("crash");
            }
            if !up && ui.button("Restart").clicked() {
                act("restart");
            }
            if ui.button("Cut a link").clicked() {
                sel.cut_from = Some(name.clone());
            }
        });
        if sel.cut_from.is_some() {
            ui.label("Now click the node at the other end.");
        }
    });
}

/// What a node's label says besides its name: down, breaker open or
/// leading; cut off (every link it has blocked by a partition); a cache's
/// keys (cold when it holds none); busy workers and queued calls.
pub fn node_label(
    sim: &sim_core::Simulation<sim_core::scenario::Rpc>,
    id: NodeId,
    name: &str,
    kind: Option<&Kind>,
    edges: &BTreeSet<(String, String)>,
) -> String {
    let m = sim.metrics();
    let net = sim.network();
    let up = sim.is_up(id);
    let badge = kind.and_then(|k| (k.badge)(sim, id));
    let (first, later) = match badge {
        Some(b) if b.highlight => (Some(b.text), None),
        Some(b) => (None, Some(b.text)),
        None => (None, None),
    };
    let open = breaker_open(m, name);
    let mut label = name.to_string();
    if !up {
        label.push_str(" (down)");
    } else if open {
        label.push_str(" (breaker open)");
    } else if let Some(text) = &first {
        label.push_str(&format!(" {text}"));
    }
    let peers: Vec<NodeId> = edges
        .iter()
        .filter_map(|(a, b)| {
            if a == name {
                sim.node_id(b)
            } else if b == name {
                sim.node_id(a)
            } else {
                None
            }
        })
        .collect();
    if up
        && !peers.is_empty()
        && peers
            .iter()
            .all(|&o| net.is_blocked(id, o) && net.is_blocked(o, id))
    {
        label.push_str(" (cut off)");
    }
    if let Some(text) = later {
        label.push_str(&format!(" {text}"));
    }
    if let Some(busy) = m.get_gauge(&format!("{name}.busy_workers"))
        && busy.value() > 0.0
    {
        label.push_str(&format!(" busy={}", busy.value()));
    }
    if let Some(q) = m.get_gauge(&format!("{name}.queue_depth"))
        && q.value() > 0.0
    {
        label.push_str(&format!(" q={}", q.value()));
    }
    label
}

/// Whether any of the node's circuit breakers is open: a look at the
/// node's own gauges only (a system of a hundred nodes has thousands).
fn breaker_open(m: &sim_core::Metrics, name: &str) -> bool {
    m.gauges_under(&format!("{name}."))
        .any(|(g, v)| g.ends_with(".breaker.open") && v.value() > 0.0)
}
