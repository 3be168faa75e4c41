//! Node kinds. Each kind is one module that declares, in one `Kind`
//! value, its fields (with what they accept, whether they are required and
//! what they mean), its own checks, how it is built into nodes of the
//! simulation and how it reports itself after a run. Everything else is
//! derived from these declarations: which fields a node of a kind may
//! have and must have, the "did you mean" candidates for a misspelt
//! field, the reference page's section on nodes, the CLI's block per node
//! and what the web app draws between nodes.
//!
//! The file format stays one flat table per `[[node]]` (`spec::NodeSpec`):
//! toml's located values do not survive serde's tagged enums. A test
//! checks that the flat table and the declarations name the same fields.
//!
//! To add a kind: a variant of `spec::NodeKind`, a module here with its
//! `KIND`, an entry in `KINDS`, and the model it builds.

// A diagnostic is built once, on the path that ends a load (see `load`).
#![allow(clippy::result_large_err)]

mod broker;
mod cache;
mod caller;
mod client;
mod consumer;
mod coordinator;
mod counter_client;
mod heartbeat;
mod kv;
mod ledger;
mod lock;
mod lock_client;
mod lock_manager;
pub mod metrics;
mod monitor;
mod participant;
mod producer;
mod quorum_client;
mod raft;
mod reader;
mod replica;
mod router;
pub mod rows;
mod service;
mod session;
mod shared;
mod storage;
mod topics;
mod transfer_client;
mod writer;

use super::diagnostic::Diagnostic;
use super::spec::{NodeKind, NodeSpec, ScenarioSpec};
use crate::engine::{Node, NodeId, Simulation};
use crate::metrics::Metrics;
use crate::models::rpc::Rpc;
use crate::network::ZoneId;
use crate::time::SimTime;
use metrics::{Callers, Metric};
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// One field of a node kind.
pub struct Field {
    pub name: &'static str,
    /// What it accepts, in the format's words (`"duration"`).
    pub value: &'static str,
    pub required: bool,
    /// What it means, with its default.
    pub about: &'static str,
}

/// A field a node may leave out.
pub const fn optional(name: &'static str, value: &'static str, about: &'static str) -> Field {
    Field {
        name,
        value,
        required: false,
        about,
    }
}

/// A field every node of the kind must have.
pub const fn required(name: &'static str, value: &'static str, about: &'static str) -> Field {
    Field {
        name,
        value,
        required: true,
        about,
    }
}

/// A kind of node: everything that is particular to it.
pub struct Kind {
    pub kind: NodeKind,
    /// Its name in `kind = "..."`.
    pub name: &'static str,
    /// What it is, for the reference page.
    pub about: &'static str,
    /// Its fields, in groups (a group may be shared by several kinds).
    pub fields: &'static [&'static [Field]],
    /// The kinds its `target` may name.
    pub targets: &'static [NodeKind],
    /// Its own checks, after the fields it has were found to apply.
    pub check: fn(&Check<'_>, &NodeSpec) -> Result<(), Diagnostic>,
    /// Adds its nodes to the simulation.
    pub build: fn(&NodeSpec, &mut Build<'_>) -> Result<(), String>,
    /// Its block in a run's report: (label, value) rows for the node
    /// called `name` (a replica group reports once, under its own name).
    pub report: fn(&Report<'_>, &NodeSpec, &str) -> Vec<(String, String)>,
    /// Its instances are one group that reports once, as a whole.
    pub group: bool,
    /// Its instances talk to one another (the web app draws the links).
    pub peers: bool,
    /// What the web app writes beside a live node of the kind, if
    /// anything (a replica that leads, a cache's keys).
    pub badge: fn(&Simulation<Rpc>, NodeId) -> Option<Badge>,
    /// The metrics it records under its name, in groups.
    pub metrics: &'static [&'static [Metric]],
    /// What each instance of a group records under its own name.
    pub instance_metrics: &'static [Metric],
    /// Whether its calls record a caller's metrics of their own.
    pub callers: Callers,
}

/// A word on a live node in the web app, and perhaps small bar charts
/// beside it.
pub struct Badge {
    pub text: String,
    /// Drawn in the highlight colour, and written before other states.
    pub highlight: bool,
    /// Rows of bars drawn beside the node (a broker's topics, a bar per
    /// partition).
    pub bars: Vec<Bars>,
}

/// One row of bars: each bar's height is its `full` value, and its
/// lowest `part` of that is drawn in a warning colour (a partition's
/// messages, and those its slowest group has not finished).
#[derive(Clone, Debug, PartialEq)]
pub struct Bars {
    pub label: String,
    pub full: Vec<u64>,
    pub part: Vec<u64>,
}

/// For kinds with no checks beyond their fields'.
fn no_checks(_: &Check<'_>, _: &NodeSpec) -> Result<(), Diagnostic> {
    Ok(())
}

/// For kinds with nothing to say beside a node.
fn no_badge(_: &Simulation<Rpc>, _: NodeId) -> Option<Badge> {
    None
}

/// Every simulated node of a spec with its declaration: a replica
/// group's copies by their own names (`api-0`, `api-1`...), in the order
/// they are built.
pub fn instances(spec: &ScenarioSpec) -> Vec<(String, &NodeSpec)> {
    spec.nodes
        .iter()
        .flat_map(|n| {
            let name = n.name.get_ref();
            match n.replicas.as_ref().map(|r| *r.get_ref()) {
                None => vec![(name.clone(), n)],
                Some(count) => (0..count)
                    .map(|i| (super::spec::instance_name(name, i), n))
                    .collect(),
            }
        })
        .collect()
}

impl Kind {
    /// A kind with these fields, built and reported so; it has no checks
    /// of its own, no target and no badge until the methods below say.
    pub const fn new(
        kind: NodeKind,
        name: &'static str,
        about: &'static str,
        fields: &'static [&'static [Field]],
        build: fn(&NodeSpec, &mut Build<'_>) -> Result<(), String>,
        report: fn(&Report<'_>, &NodeSpec, &str) -> Vec<(String, String)>,
    ) -> Kind {
        Kind {
            kind,
            name,
            about,
            fields,
            targets: &[],
            check: no_checks,
            build,
            report,
            group: false,
            peers: false,
            badge: no_badge,
            metrics: &[],
            instance_metrics: &[],
            callers: Callers::None,
        }
    }

    /// The metrics it records under its name.
    pub const fn records(self, metrics: &'static [&'static [Metric]]) -> Kind {
        Kind { metrics, ..self }
    }

    /// What each instance of its group records under its own name.
    pub const fn instances_record(self, instance_metrics: &'static [Metric]) -> Kind {
        Kind {
            instance_metrics,
            ..self
        }
    }

    /// Each of its `[[node.call]]`s records a caller's metrics, under
    /// `<node>.<call's name>`.
    pub const fn calls_record(self) -> Kind {
        Kind {
            callers: Callers::PerCall,
            ..self
        }
    }

    /// Its `target` may name nodes of these kinds.
    pub const fn targets(self, targets: &'static [NodeKind]) -> Kind {
        Kind { targets, ..self }
    }

    /// Its own checks.
    pub const fn checked_by(
        self,
        check: fn(&Check<'_>, &NodeSpec) -> Result<(), Diagnostic>,
    ) -> Kind {
        Kind { check, ..self }
    }

    /// What the web app writes beside a live node.
    pub const fn badge(self, badge: fn(&Simulation<Rpc>, NodeId) -> Option<Badge>) -> Kind {
        Kind { badge, ..self }
    }

    /// A group of instances that talk to one another and report as one.
    pub const fn group(self) -> Kind {
        Kind {
            group: true,
            peers: true,
            ..self
        }
    }

    /// A group of instances that report as one but do not talk to one
    /// another (a consumer group's members).
    pub const fn reports_as_one(self) -> Kind {
        Kind {
            group: true,
            ..self
        }
    }

    /// Every field of the kind, in order.
    pub fn all_fields(&self) -> impl Iterator<Item = &'static Field> + '_ {
        self.fields.iter().flat_map(|g| g.iter())
    }

    /// The field called `name`, if the kind has it.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.all_fields().find(|f| f.name == name)
    }
}

/// The fields every node has, whatever its kind.
pub const COMMON: &[Field] = &[
    required(
        "name",
        "text",
        "Unique; other fields and `--set node.NAME.FIELD` refer to it.",
    ),
    required("kind", "a kind's name (below)", "What the node is."),
    optional(
        "zone",
        "zone name",
        "The zone it runs in (default `default`). Latency between zones is `[network] zone_latency`.",
    ),
];

/// Every kind, in the order the reference presents them.
pub const KINDS: &[&Kind] = &[
    &client::KIND,
    &service::KIND,
    &ledger::KIND,
    &kv::KIND,
    &cache::KIND,
    &reader::KIND,
    &writer::KIND,
    &router::KIND,
    &replica::KIND,
    &session::KIND,
    &quorum_client::KIND,
    &lock::KIND,
    &lock_client::KIND,
    &storage::KIND,
    &counter_client::KIND,
    &lock_manager::KIND,
    &transfer_client::KIND,
    &heartbeat::KIND,
    &monitor::KIND,
    &raft::KIND,
    &broker::KIND,
    &producer::KIND,
    &consumer::KIND,
    &coordinator::KIND,
    &participant::KIND,
];

/// The declaration of `kind`.
pub fn of(kind: NodeKind) -> &'static Kind {
    KINDS
        .iter()
        .copied()
        .find(|k| k.kind == kind)
        .expect("every kind is declared in KINDS")
}

/// What the checks of one node can see.
pub struct Check<'a> {
    pub file: &'a str,
    pub source: &'a str,
    pub spec: &'a ScenarioSpec,
    /// False for a merged document (a variant), whose spans do not point
    /// into the source.
    pub spans: bool,
}

impl Check<'_> {
    /// A diagnostic at `span` (when spans are real) about `field`.
    pub fn at(&self, span: Range<usize>, field: &str, message: String) -> Diagnostic {
        let span = if self.spans { span } else { 0..0 };
        Diagnostic::at(self.file, self.source, span, message).with_field(field)
    }

    /// A diagnostic about `node`'s field `what`, at `span`.
    pub fn field(
        &self,
        node: &NodeSpec,
        what: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        self.at(
            span,
            &format!("node `{}`.{what}", node.name.get_ref()),
            message.into(),
        )
    }

    /// The node called `name`, if there is one.
    pub fn node(&self, name: &str) -> Option<&NodeSpec> {
        self.spec.nodes.iter().find(|m| m.name.get_ref() == name)
    }

    /// How many nodes the node called `name` stands for (its replicas).
    pub fn group_size(&self, name: &str) -> u32 {
        self.node(name)
            .map_or(1, |m| m.replicas.as_ref().map_or(1, |r| *r.get_ref()))
    }
}

/// A simulation being built, with every node's id known.
pub struct Build<'a> {
    pub sim: &'a mut Simulation<Rpc>,
    pub spec: &'a ScenarioSpec,
    /// The ids a name stands for: one for a node, every replica for a
    /// group's name.
    pub ids: &'a BTreeMap<String, Vec<NodeId>>,
    /// The zone of the node being built.
    pub zone: ZoneId,
}

impl Build<'_> {
    /// The ids `name` stands for (checked to exist by `load`).
    pub fn group(&self, name: &str) -> Vec<NodeId> {
        self.ids[name].clone()
    }

    /// The ids a required reference field names.
    pub fn target(&self, field: Option<&Spanned<String>>) -> Vec<NodeId> {
        self.group(field.expect("checked").get_ref())
    }

    /// Adds one node in the zone of the node being built.
    pub fn add(&mut self, name: &str, node: impl Node<Rpc> + 'static) -> Result<(), String> {
        self.sim
            .add_node(name, self.zone, node)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Adds `make()` once, or once per replica (`api-0`, `api-1`...).
    pub fn add_replicated<N: Node<Rpc> + 'static>(
        &mut self,
        n: &NodeSpec,
        make: impl Fn() -> N,
    ) -> Result<(), String> {
        let name = n.name.get_ref();
        match n.replicas.as_ref().map(|r| *r.get_ref()) {
            None => self.add(name, make()),
            Some(count) => {
                (0..count).try_for_each(|i| self.add(&super::spec::instance_name(name, i), make()))
            }
        }
    }
}

/// What a report can read about a finished run.
pub struct Report<'a> {
    pub metrics: &'a Metrics,
    /// When the scheduled faults were in force.
    pub faults: &'a [super::timeline::FaultWindow],
    pub end: SimTime,
}

impl Report<'_> {
    /// The counter `{prefix}.{what}`, 0 if it was never created.
    pub fn count(&self, prefix: &str, what: &str) -> u64 {
        self.metrics
            .get_counter(&format!("{prefix}.{what}"))
            .unwrap_or(0)
    }
}

/// The names a node sends messages to: its target, dependencies and the
/// cache it invalidates, with where each is written.
pub fn callees(n: &NodeSpec) -> Vec<(&str, Range<usize>)> {
    let mut out: Vec<(&str, Range<usize>)> = Vec::new();
    for s in [&n.target, &n.calls, &n.invalidate, &n.dead_letter]
        .into_iter()
        .flatten()
    {
        out.push((s.get_ref().as_str(), s.span()));
    }
    for c in n.call_specs.iter().flatten() {
        out.push((c.to.get_ref().as_str(), c.to.span()));
    }
    for p in n.participants.iter().flatten() {
        out.push((p.get_ref().as_str(), p.span()));
    }
    out
}

/// Why a period of background work that repeats all run long is too
/// short to be meant, if it is.
pub fn too_frequent(what: &str, period: crate::time::SimDuration) -> Option<String> {
    use super::limits::MIN_PERIOD_NS;
    (period.as_nanos() < MIN_PERIOD_NS).then(|| {
        format!(
            "`{what}` every {period} would swamp the run with timers; it may be at least {}",
            crate::time::SimDuration::from_nanos(MIN_PERIOD_NS)
        )
    })
}

/// Checks one node: the fields it was given (`present`, as written)
/// apply to its kind and the required ones are there, the fields several
/// kinds share hold sensible values, its references name nodes of the
/// right kinds, then the kind's own checks.
pub fn check_node(ctx: &Check<'_>, n: &NodeSpec, present: &[&str]) -> Result<(), Diagnostic> {
    let kind = of(*n.kind.get_ref());
    let field = format!("node `{}`", n.name.get_ref());
    let common = |name: &str| COMMON.iter().any(|f| f.name == name);
    if let Some(&name) = present
        .iter()
        .find(|&&p| !common(p) && kind.field(p).is_none())
    {
        let own: Vec<&str> = COMMON
            .iter()
            .chain(kind.all_fields())
            .map(|f| f.name)
            .collect();
        return Err(ctx
            .at(
                n.kind.span(),
                &field,
                format!("`{name}` does not apply to a {} node", kind.name),
            )
            .with_expected(format!("fields of a {}: {}", kind.name, own.join(", "))));
    }
    if let Some(missing) = kind
        .all_fields()
        .find(|f| f.required && !present.contains(&f.name))
    {
        // Nothing was written to point at: the node is, by its name.
        return Err(ctx
            .at(
                n.name.span(),
                &field,
                format!("a {} node needs `{}`", kind.name, missing.name),
            )
            .with_expected(format!(
                "`{}`, {}: {}",
                missing.name, missing.value, missing.about
            )));
    }
    shared::check(ctx, n)?;
    check_references(ctx, n, kind)?;
    (kind.check)(ctx, n)
}

/// The node names a node's fields refer to exist, and its target is of a
/// kind it can talk to.
fn check_references(ctx: &Check<'_>, n: &NodeSpec, kind: &Kind) -> Result<(), Diagnostic> {
    let field = format!("node `{}`", n.name.get_ref());
    let node_ref = |r: &Spanned<String>, what: &str| -> Result<(), Diagnostic> {
        let name = r.get_ref();
        if ctx.node(name).is_some() {
            return Ok(());
        }
        let mut sorted: Vec<&str> = ctx
            .spec
            .nodes
            .iter()
            .map(|m| m.name.get_ref().as_str())
            .collect();
        sorted.sort_unstable();
        Err(ctx
            .at(
                r.span(),
                &format!("{field}.{what}"),
                format!("there is no node called `{name}`"),
            )
            .with_expected(format!("one of: {}", sorted.join(", ")))
            .with_suggestion(super::suggest::did_you_mean(name, sorted.iter().copied())))
    };
    if let Some(t) = &n.target {
        node_ref(t, "target")?;
        let target = of(*ctx.node(t.get_ref()).expect("found").kind.get_ref());
        if !kind.targets.is_empty() && !kind.targets.contains(&target.kind) {
            let wants: Vec<&str> = kind.targets.iter().map(|&k| of(k).name).collect();
            return Err(ctx
                .field(
                    n,
                    "target",
                    t.span(),
                    format!(
                        "a {} cannot call `{}`, which is a {}",
                        kind.name,
                        t.get_ref(),
                        target.name
                    ),
                )
                .with_expected(format!("a node of kind {}", wants.join(" or "))));
        }
    }
    if let Some(c) = &n.invalidate {
        node_ref(c, "invalidate")?;
    }
    if let Some(c) = &n.dead_letter {
        node_ref(c, "dead_letter")?;
    }
    if let Some(c) = &n.calls {
        node_ref(c, "calls")?;
    }
    for (i, c) in n.call_specs.iter().flatten().enumerate() {
        node_ref(&c.to, &format!("call.{i}.to"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each declaration's name is the one a file writes, and every kind
    /// the format accepts is declared once.
    #[test]
    fn every_kind_is_declared_once_under_its_own_name() {
        #[derive(serde::Deserialize)]
        struct K {
            kind: NodeKind,
        }
        for k in KINDS {
            let parsed: K = toml::from_str(&format!("kind = \"{}\"", k.name)).unwrap();
            assert_eq!(parsed.kind, k.kind, "{}", k.name);
            assert_eq!(KINDS.iter().filter(|o| o.kind == k.kind).count(), 1);
        }
        let accepted = crate::scenario::spec::serde_variants::<K>("kind");
        assert_eq!(accepted.len(), KINDS.len(), "{accepted:?}");
    }

    /// No kind declares a field twice or redeclares a common one.
    #[test]
    fn a_kind_declares_each_field_once() {
        for k in KINDS {
            let names: Vec<&str> = COMMON
                .iter()
                .chain(k.all_fields())
                .map(|f| f.name)
                .collect();
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), names.len(), "{}: {names:?}", k.name);
        }
    }
}
