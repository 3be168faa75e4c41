//! Narration: the timeline's events (a fault begins, a breaker opens, a
//! leader is elected, a cache restarts cold) as short captions beside the
//! node concerned, for a moment after they happen, so cause and effect
//! are seen on the system rather than read in a log. A caption stays for
//! about `SHOWN_S` seconds of the learner's time at the playback speed,
//! fading; events without one node (a partition) are captioned in the
//! topology's corner.

use crate::observe::Mark;
use egui::{Align2, Color32, FontId, Pos2, Rect};
use sim_core::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// How long a caption stays, in the learner's seconds.
pub const SHOWN_S: f64 = 2.5;
/// Captions shown at once, the newest.
pub const MAX_CAPTIONS: usize = 4;

/// One caption: what happened, where, and how far it has faded (0 new,
/// 1 gone).
#[derive(Clone, Debug, PartialEq)]
pub struct Caption {
    pub text: String,
    pub node: Option<String>,
    pub fault: bool,
    pub age: f32,
}

/// The simulated time a caption stays at `speed` (simulated seconds per
/// second): `SHOWN_S` of the learner's time, and at least one simulated
/// second so a paused or slow run still shows what just happened.
pub fn window(speed: f64) -> SimDuration {
    let s = (SHOWN_S * speed.max(0.0)).clamp(1.0, 86_400.0 * 365.0);
    SimDuration::from_nanos((s * 1e9) as u64)
}

/// The captions at `now`: the events of the last `window`, at most
/// `MAX_CAPTIONS` (the newest), oldest first. A pattern's note
/// ("orders: circuit breaker open") drops its node's name, which the
/// caption stands beside.
pub fn captions(marks: &[Mark], now: SimTime, window: SimDuration) -> Vec<Caption> {
    let from =
        SimTime::ZERO + SimDuration::from_nanos(now.as_nanos().saturating_sub(window.as_nanos()));
    let recent: Vec<&Mark> = marks
        .iter()
        .filter(|m| m.at >= from && m.at <= now)
        .collect();
    let skip = recent.len().saturating_sub(MAX_CAPTIONS);
    recent[skip..]
        .iter()
        .map(|m| {
            let text = match &m.node {
                Some(n) => m
                    .text
                    .strip_prefix(&format!("{n}: "))
                    .unwrap_or(&m.text)
                    .to_string(),
                None => m.text.clone(),
            };
            let age = now.saturating_since(m.at).as_nanos() as f64 / window.as_nanos() as f64;
            Caption {
                text,
                node: m.node.clone(),
                fault: m.fault,
                age: age.clamp(0.0, 1.0) as f32,
            }
        })
        .collect()
}

/// Draws `captions` beside their nodes (`pos`, radius `size`), stacked
/// upwards where a node has several; the rest in `rect`'s corner.
pub fn draw(
    painter: &egui::Painter,
    rect: Rect,
    pos: &BTreeMap<String, Pos2>,
    size: &BTreeMap<String, f32>,
    captions: &[Caption],
) {
    let mut stacked: BTreeMap<&str, f32> = BTreeMap::new();
    for c in captions {
        let colour = if c.fault {
            Color32::from_rgb(200, 60, 60)
        } else {
            Color32::from_rgb(40, 110, 200)
        };
        let colour = colour.gamma_multiply(1.0 - 0.7 * c.age);
        let (at, align) = match c.node.as_deref().and_then(|n| Some((n, pos.get(n)?))) {
            Some((n, p)) => {
                let r = size.get(n).copied().unwrap_or(8.0);
                let up = stacked.entry(n).or_insert(0.0);
                let at = Pos2::new(p.x + r + 6.0, p.y - r - *up);
                *up += 14.0;
                (at, Align2::LEFT_BOTTOM)
            }
            None => {
                let up = stacked.entry("").or_insert(0.0);
                let at = Pos2::new(rect.left() + 8.0, rect.top() + 22.0 + *up);
                *up += 14.0;
                (at, Align2::LEFT_TOP)
            }
        };
        painter.text(at, align, &c.text, FontId::proportional(12.0), colour);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(s: u64, text: &str, node: Option<&str>) -> Mark {
        Mark {
            at: SimTime::ZERO + SimDuration::from_secs(s),
            fault: node.is_none(),
            text: text.into(),
            node: node.map(str::to_string),
        }
    }

    #[test]
    fn recent_events_are_captioned_beside_their_node_and_fade() {
        let marks = [
            mark(1, "orders: circuit breaker open", Some("orders")),
            mark(5, "partition east | west", None),
            mark(9, "crash db", Some("db")),
        ];
        let at = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
        let shown = captions(&marks, at(6), SimDuration::from_secs(10));
        assert_eq!(shown.len(), 2, "what has happened by now");
        assert_eq!(shown[0].text, "circuit breaker open");
        assert_eq!(shown[0].node.as_deref(), Some("orders"));
        assert!((shown[0].age - 0.5).abs() < 1e-6);
        assert_eq!(shown[1].text, "partition east | west");
        assert_eq!(shown[1].age, 0.1);
        // Later, the old ones are gone.
        let later = captions(&marks, at(14), SimDuration::from_secs(8));
        assert_eq!(
            later.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(),
            ["crash db"]
        );
        // At 100x, a caption stays 250 simulated seconds; paused, one.
        assert_eq!(window(100.0), SimDuration::from_secs(250));
        assert_eq!(window(0.0), SimDuration::from_secs(1));
    }

    #[test]
    fn only_the_newest_few_are_shown() {
        let marks: Vec<Mark> = (0..10)
            .map(|i| mark(i, &format!("e{i}"), Some("n")))
            .collect();
        let shown = captions(
            &marks,
            SimTime::ZERO + SimDuration::from_secs(10),
            SimDuration::from_secs(60),
        );
        let texts: Vec<&str> = shown.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["e6", "e7", "e8", "e9"]);
    }
}
