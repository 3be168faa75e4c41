//! `kind = "heartbeat"`: a process that does nothing but tell its
//! monitors, every `heartbeat`, that it is alive.

use super::{Build, Check, Field, Kind, Report, required};
use crate::models::monitor::HeartbeatSender;
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::spec::{NodeKind, NodeSpec};

pub const KIND: Kind = Kind::new(
    NodeKind::Heartbeat,
    "heartbeat",
    "A process that only says it is alive: every `heartbeat` it sends its monitor a heartbeat carrying how many times it has started. Crash it, pause it or cut it off to see what its monitor makes of the silence.",
    &[FIELDS],
    build,
    report,
)
.targets(&[NodeKind::Monitor])
.checked_by(check)
.records(&[&[]]);

const FIELDS: &[Field] = &[
    required("target", "node name", "The monitor it reports to."),
    required(
        "heartbeat",
        "duration",
        "How often it sends a heartbeat, by its own clock.",
    ),
];

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    match &n.heartbeat {
        Some(h) if let Some(problem) = super::too_frequent("heartbeat", h.get_ref().0) => {
            Err(ctx.field(n, "heartbeat", h.span(), problem))
        }
        _ => Ok(()),
    }
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let every = n.heartbeat.as_ref().expect("checked").get_ref().0;
    let monitors = b.target(n.target.as_ref());
    b.add(n.name.get_ref(), HeartbeatSender::new(monitors, every))
}

fn report(_: &Report<'_>, n: &NodeSpec, _: &str) -> Vec<(String, String)> {
    let every = n.heartbeat.as_ref().expect("checked").get_ref().0;
    vec![("heartbeat every".into(), every.to_string())]
}
