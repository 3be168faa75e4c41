//! `kind = "lock"`: a lock service that grants one lock at a time for a
//! lease, with a fencing token one higher than the last.

use super::metrics::counter;
use super::{Build, Check, Field, Kind, Report, required};
use crate::models::lock::LockServer;
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::spec::{NodeKind, NodeSpec};

pub const KIND: Kind = Kind::new(
    NodeKind::Lock,
    "lock",
    "A lock service. It grants its one lock to a lock client for a `lease` judged by its own clock, with a fencing token one higher than the last; others wait in line. A lease that runs out passes the lock on: the service cannot tell a paused holder from a dead one. Its tokens survive a crash, and after a restart it grants nothing for one lease.",
    &[FIELDS],
    build,
    report,
)
.checked_by(check)
.badge(badge)
.records(&[&[
    counter("grants"),
    counter("releases"),
    counter("expired"),
    counter("stale_releases"),
]]);

const FIELDS: &[Field] = &[required(
    "lease",
    "duration",
    "How long a grant lasts by the service's clock, unless released first.",
)];

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    match &n.lease {
        Some(l) if l.get_ref().0.as_nanos() == 0 => {
            Err(ctx.field(n, "lease", l.span(), "a lease must last longer than 0s"))
        }
        _ => Ok(()),
    }
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let lease = n.lease.as_ref().expect("checked").get_ref().0;
    b.add(n.name.get_ref(), LockServer::new(lease))
}

fn report(r: &Report<'_>, _: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what).to_string();
    vec![
        ("grants".into(), c("grants")),
        ("released".into(), c("releases")),
        ("leases run out while held".into(), c("expired")),
        ("releases too late".into(), c("stale_releases")),
    ]
}

fn badge(
    sim: &crate::engine::Simulation<crate::models::rpc::Rpc>,
    id: crate::engine::NodeId,
) -> Option<super::Badge> {
    let lock = sim.node::<LockServer>(id)?;
    let text = match lock.holder() {
        Some((holder, token)) => format!("{} #{token}", sim.node_name(holder)),
        None => "(free)".into(),
    };
    Some(super::Badge {
        text,
        highlight: false,
        bars: Vec::new(),
    })
}
