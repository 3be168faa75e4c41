//! `kind = "monitor"`: a failure detector that judges the heartbeat
//! senders reporting to it, by a fixed timeout or by phi accrual.

use super::metrics::{counter, histogram};
use super::{Build, Check, Field, Kind, Report, required};
use crate::models::monitor::Monitor;
use crate::policy::detector::DetectorConfig;
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::spec::{DetectorSpec, NodeKind, NodeSpec};
use crate::time::SimDuration;

pub const KIND: Kind = Kind::new(
    NodeKind::Monitor,
    "monitor",
    "A failure detector. It suspects a heartbeat sender that has been silent too long: past a fixed `timeout`, or (phi accrual) once the silence is less likely than 10^-phi by the gaps it has seen between heartbeats. It learns afterwards whether it was right: a heartbeat from the same start means the sender never stopped (a false suspicion); one from a later start means it had crashed, and the time from the crash to the suspicion is the detection time.",
    &[FIELDS],
    build,
    report,
)
.checked_by(check)
.badge(badge)
.records(&[&[
    counter("heartbeats"),
    counter("suspicions"),
    counter("false_suspicions"),
    counter("unnoticed_crashes"),
    histogram("detection_ns"),
]]);

const FIELDS: &[Field] = &[required(
    "detector",
    "`{ timeout = duration }` or `{ phi = number, window = integer, min_std = duration }`",
    "How it decides: suspect after `timeout` of silence; or when phi, judged by the last `window` gaps between heartbeats (default 100) whose spread is taken to be at least `min_std` (default 1ms), reaches `phi` (above 0, at most 12).",
)];

/// The largest phi threshold: 10^-phi must still differ from 0 in the
/// normal quantile's arithmetic.
const MAX_PHI: f64 = 12.0;
/// The most gaps a detector may keep per sender.
const MAX_WINDOW: u32 = 10_000;

/// The detector a table asks for, or what is wrong with it.
fn config(d: &DetectorSpec) -> Result<DetectorConfig, String> {
    match (d.timeout, d.phi) {
        (Some(_), Some(_)) => Err("give either `timeout` or `phi`, not both".into()),
        (None, None) => Err("give `timeout = \"1s\"` or `phi = 8`".into()),
        (Some(_), None) if d.window.is_some() || d.min_std.is_some() => {
            Err("`window` and `min_std` go with `phi`, not with `timeout`".into())
        }
        (Some(t), None) if t.0.as_nanos() == 0 => Err("a `timeout` must be longer than 0s".into()),
        (Some(t), None) => Ok(DetectorConfig::Timeout(t.0)),
        (None, Some(phi)) if !(phi > 0.0 && phi <= MAX_PHI) => Err(format!(
            "`phi` is a number above 0 and at most {MAX_PHI}, got {phi}"
        )),
        (None, Some(phi)) => {
            let window = d.window.unwrap_or(100);
            if !(1..=MAX_WINDOW).contains(&window) {
                return Err(format!(
                    "`window` is from 1 to {MAX_WINDOW} gaps, got {window}"
                ));
            }
            Ok(DetectorConfig::Phi {
                threshold: phi,
                window: window as usize,
                min_std: d.min_std.map_or(SimDuration::from_millis(1), |m| m.0),
            })
        }
    }
}

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    match &n.detector {
        Some(d) => config(d.get_ref())
            .map(|_| ())
            .map_err(|problem| ctx.field(n, "detector", d.span(), problem)),
        None => Ok(()),
    }
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let cfg = config(n.detector.as_ref().expect("checked").get_ref())?;
    b.add(n.name.get_ref(), Monitor::new(cfg))
}

fn report(r: &Report<'_>, _: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what).to_string();
    let detection = r
        .metrics
        .get_histogram(&format!("{name}.detection_ns"))
        .and_then(|h| h.quantile(0.5))
        .map_or("-".into(), |ns| SimDuration::from_nanos(ns).to_string());
    vec![
        ("heartbeats".into(), c("heartbeats")),
        ("suspicions".into(), c("suspicions")),
        ("of them false".into(), c("false_suspicions")),
        ("crashes unnoticed".into(), c("unnoticed_crashes")),
        ("detection p50".into(), detection),
    ]
}

fn badge(
    sim: &crate::engine::Simulation<crate::models::rpc::Rpc>,
    id: crate::engine::NodeId,
) -> Option<super::Badge> {
    let monitor = sim.node::<Monitor>(id)?;
    let names: Vec<&str> = monitor.suspected().map(|s| sim.node_name(s)).collect();
    Some(super::Badge {
        text: if names.is_empty() {
            "(all alive)".into()
        } else {
            format!("suspects {}", names.join(", "))
        },
        highlight: !names.is_empty(),
        bars: Vec::new(),
    })
}
