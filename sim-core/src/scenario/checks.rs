//! The checks serde cannot make, over a whole parsed scenario: the run's
//! own rules, node names (and the replicas' names they imply), each node
//! through its kind (`kinds::check_node`), links and faults that name
//! nodes and zones that exist, and calls that do not form a cycle.

// A diagnostic is built once, on the path that ends a load (see `load`).
#![allow(clippy::result_large_err)]

use super::diagnostic::Diagnostic;
use super::faults::FaultAction;
use super::kinds::Check;
use super::load::DEFAULT_ZONE;
use super::spec::{FaultSpec, ScenarioSpec};
use super::suggest::did_you_mean;
use std::collections::BTreeSet;
use toml::Spanned;

/// Checks `spec`; `doc` is the document it was read from (which fields
/// each node was given), `spans` false for a merged document (a
/// variant), whose spans do not point into the source.
pub(super) fn check(
    file: &str,
    source: &str,
    spec: &ScenarioSpec,
    doc: &toml::Table,
    spans: bool,
) -> Result<(), Diagnostic> {
    let ctx = Check {
        file,
        source,
        spec,
        spans,
    };
    check_run(&ctx)?;
    let places = Places::new(&ctx)?;
    for (i, n) in spec.nodes.iter().enumerate() {
        super::kinds::check_node(&ctx, n, &node_keys(doc, i))?;
    }
    for l in &spec.links {
        places.place_ref(&l.from, "link.from")?;
        places.place_ref(&l.to, "link.to")?;
    }
    check_faults(&ctx, &places)?;
    check_search(&ctx, &places)?;
    check_cycles(&ctx)
}

/// The `[search]` table's targets exist, its counts are in range and its
/// window lies within the run.
fn check_search(ctx: &Check<'_>, places: &Places<'_>) -> Result<(), Diagnostic> {
    use super::search::MAX_SEARCH_FAULTS;
    let Some(s) = &ctx.spec.search else {
        return Ok(());
    };
    for t in s.targets.iter().flatten() {
        places.instance_ref(t, "search.targets")?;
    }
    for (field, v, most) in [
        ("most", &s.most, MAX_SEARCH_FAULTS),
        ("at_once", &s.at_once, MAX_SEARCH_FAULTS),
    ] {
        if let Some(v) = v
            && !(1..=most).contains(v.get_ref())
        {
            return Err(ctx.at(
                v.span(),
                &format!("search.{field}"),
                format!("`{field}` is from 1 to {most}, got {}", v.get_ref()),
            ));
        }
    }
    if let Err(why) = super::search::Bounds::of(ctx.spec) {
        return Err(ctx.at(0..0, "search", why));
    }
    Ok(())
}

/// The fields node `i` of `doc` was given, as written.
fn node_keys(doc: &toml::Table, i: usize) -> Vec<&str> {
    doc.get("node")
        .and_then(|n| n.as_array())
        .and_then(|a| a.get(i))
        .and_then(|n| n.as_table())
        .map(|t| t.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

fn check_run(ctx: &Check<'_>) -> Result<(), Diagnostic> {
    let run = &ctx.spec.run;
    match run.warmup {
        Some(w) if w.0 >= run.duration.0 => Err(ctx.at(
            0..0,
            "run.warmup",
            format!(
                "the warm-up ({}) must end before the run does ({}), or nothing would be measured",
                w.0, run.duration.0
            ),
        )),
        _ => Ok(()),
    }
}

/// What faults and links may name: nodes, groups, replicas and zones.
struct Places<'a> {
    ctx: &'a Check<'a>,
    /// Nodes and groups, and every replica by its own name.
    any_node: BTreeSet<String>,
    zones: BTreeSet<&'a str>,
}

impl<'a> Places<'a> {
    /// The places of a scenario whose node names are unique and do not
    /// clash with the names of replicas.
    fn new(ctx: &'a Check<'a>) -> Result<Self, Diagnostic> {
        let spec = ctx.spec;
        let mut names = BTreeSet::new();
        for n in &spec.nodes {
            let name = n.name.get_ref();
            if name.is_empty() {
                let message = "a node's name cannot be empty".into();
                return Err(ctx.at(n.name.span(), "node", message));
            }
            if !names.insert(name.clone()) {
                return Err(ctx
                    .at(
                        n.name.span(),
                        "node",
                        format!("there are two nodes called `{name}`"),
                    )
                    .with_help("node names must be unique"));
            }
        }
        // Replicas are nodes too, by instance name (`api-0`).
        let mut any_node = names.clone();
        for (i, n) in super::kinds::instances(spec) {
            if n.replicas.is_some() && names.contains(&i) {
                return Err(ctx
                    .at(
                        0..0,
                        "node",
                        format!(
                            "a replica would be called `{i}`, but a node has that name already"
                        ),
                    )
                    .with_help("rename the node, or the group whose replicas clash with it"));
            }
            any_node.insert(i);
        }
        let zones = spec
            .nodes
            .iter()
            .flat_map(|n| match &n.zones {
                Some(z) => z.get_ref().iter().map(String::as_str).collect(),
                None => vec![n.zone.as_deref().unwrap_or(DEFAULT_ZONE)],
            })
            .collect();
        Ok(Places {
            ctx,
            any_node,
            zones,
        })
    }

    /// A node, a replica group or one replica (what a fault acts on).
    fn instance_ref(&self, r: &Spanned<String>, field: &str) -> Result<(), Diagnostic> {
        let name = r.get_ref();
        if self.any_node.contains(name) {
            return Ok(());
        }
        Err(self
            .ctx
            .at(
                r.span(),
                field,
                format!("there is no node or replica called `{name}`"),
            )
            .with_suggestion(did_you_mean(name, self.any_node.iter().map(String::as_str))))
    }

    /// A node, a group, a replica or a zone (what a link or a partition
    /// joins).
    fn place_ref(&self, r: &Spanned<String>, field: &str) -> Result<(), Diagnostic> {
        let name = r.get_ref();
        if self.any_node.contains(name) || self.zones.contains(name.as_str()) {
            return Ok(());
        }
        let all = self
            .any_node
            .iter()
            .map(String::as_str)
            .chain(self.zones.iter().copied());
        Err(self
            .ctx
            .at(
                r.span(),
                field,
                format!("there is no node or zone called `{name}`"),
            )
            .with_suggestion(did_you_mean(name, all)))
    }
}

/// Each fault is one action on places that exist; a heal names a
/// partition begun before it.
fn check_faults(ctx: &Check<'_>, places: &Places<'_>) -> Result<(), Diagnostic> {
    let all_flags: BTreeSet<&str> = ctx
        .spec
        .nodes
        .iter()
        .flat_map(|n| n.flags.iter().flatten().map(|(k, _)| k.as_str()))
        .collect();
    let mut partitions = BTreeSet::new();
    for f in &ctx.spec.faults {
        match action(ctx, f)? {
            FaultAction::Crash(r)
            | FaultAction::Restart(r)
            | FaultAction::Slow { node: r, .. }
            | FaultAction::Errors { node: r, .. }
            | FaultAction::Hang(r)
            | FaultAction::Recover(r)
            | FaultAction::Pause { node: r, .. }
            | FaultAction::Clock { node: r, .. } => places.instance_ref(r, "fault")?,
            FaultAction::Flag { flag, .. } => {
                if !all_flags.contains(flag.get_ref().as_str()) {
                    return Err(ctx
                        .at(
                            flag.span(),
                            "fault.flag",
                            format!("no service has a flag called `{}`", flag.get_ref()),
                        )
                        .with_suggestion(did_you_mean(flag.get_ref(), all_flags.iter().copied())));
                }
            }
            FaultAction::Partition { sides, name, .. } => {
                check_partition(ctx, places, sides)?;
                partitions.insert(name.to_string());
            }
            FaultAction::Heal(h) => {
                let name = h.get_ref();
                if name != "all" && !partitions.contains(name.as_str()) {
                    return Err(ctx
                        .at(
                            h.span(),
                            "fault.heal",
                            format!("no partition called `{name}` was started before this heal"),
                        )
                        .with_expected("the `name` of an earlier partition, or \"all\"")
                        .with_suggestion(did_you_mean(
                            name,
                            partitions.iter().map(String::as_str),
                        )));
                }
            }
        }
    }
    Ok(())
}

/// The fault's one action, or a located diagnostic.
fn action<'f>(ctx: &Check<'_>, f: &'f FaultSpec) -> Result<FaultAction<'f>, Diagnostic> {
    f.action().map_err(|p| {
        let d = ctx.at(p.span, "fault", p.message);
        match p.expected {
            Some(e) => d.with_expected(e),
            None => d,
        }
    })
}

/// A partition's sides name places that exist and do not overlap.
fn check_partition(
    ctx: &Check<'_>,
    places: &Places<'_>,
    sides: &Spanned<[Vec<Spanned<String>>; 2]>,
) -> Result<(), Diagnostic> {
    for side in sides.get_ref() {
        for member in side {
            places.place_ref(member, "fault.partition")?;
        }
    }
    let Some((node, first, second)) = super::graph::partition_overlap(ctx.spec, sides.get_ref())
    else {
        return Ok(());
    };
    let how = if first == second {
        format!("`{first}` is named on two sides")
    } else {
        format!("`{first}` and `{second}` both hold `{node}`")
    };
    Err(ctx
        .at(
            sides.span(),
            "fault.partition",
            format!(
                "the partition's sides overlap: {how}, so `{node}` would be on both sides of the cut"
            ),
        )
        .with_help("name each node, group or zone on one side only"))
}

/// Calls that form a cycle, unless the run allows them.
fn check_cycles(ctx: &Check<'_>) -> Result<(), Diagnostic> {
    if ctx.spec.run.allow_call_cycles == Some(true) {
        return Ok(());
    }
    let Some(cycle) = super::graph::find(ctx.spec) else {
        return Ok(());
    };
    Err(ctx
        .at(
            cycle.span.clone(),
            "node",
            format!(
                "the calls form a cycle, {}: every request that enters it goes round until a timeout or the event budget stops it",
                cycle.describe()
            ),
        )
        .with_help("break the cycle, or set `allow_call_cycles = true` in `[run]` if it is meant"))
}
