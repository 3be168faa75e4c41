//! Loading a scenario: text to a checked `Scenario`, or a `Diagnostic` that
//! says where and what is wrong. The loader never panics on any input.
//!
//! Steps: parse with serde (unknown fields, bad units and type errors get
//! the location of the offending text), then check what serde cannot:
//! names that must refer to nodes, fields that do not apply to a node's
//! kind, values out of range; then apply each variant's overrides to a copy
//! of the document and check the result the same way.

// A diagnostic is built once, on the path that ends a load; its size does
// not matter there, and boxing every internal result would only add noise.
#![allow(clippy::result_large_err)]

use super::diagnostic::Diagnostic;
use super::spec::{
    BreakerSpec, FanoutSpec, HedgeSpec, KeysName, NodeKind, NodeSpec, ReplicationName, RetrySpec,
    ScenarioSpec,
};
use super::suggest::did_you_mean;
use crate::time::SimDuration;
use std::collections::BTreeSet;
use toml::Spanned;

/// A loaded, checked scenario.
#[derive(Debug)]
pub struct Scenario {
    /// The name it is known by (a story's name, or the file's stem).
    pub name: String,
    /// Where it came from, for messages.
    pub file: String,
    pub source: String,
    /// The base scenario, before any variant.
    pub spec: ScenarioSpec,
    document: toml::Table,
}

impl Scenario {
    /// Variant names, in file order (alphabetical: TOML tables are maps).
    /// The variants' names in the order the file lists them (the first is
    /// the baseline `compare` measures the others against).
    pub fn variants(&self) -> impl Iterator<Item = &str> {
        let mut named: Vec<(usize, &str)> = self
            .spec
            .variants
            .iter()
            .map(|(name, v)| (v.span().start, name.as_str()))
            .collect();
        named.sort_unstable();
        named.into_iter().map(|(_, name)| name)
    }

    /// The scenario with `variant` (if any) and then `overrides` applied:
    /// `(path, value)` pairs as given to `--set`. Errors name the variant or
    /// the override.
    pub fn resolve(
        &self,
        variant: Option<&str>,
        overrides: &[(String, toml::Value)],
    ) -> Result<ScenarioSpec, String> {
        let doc = self.document_with(variant, overrides)?;
        // Spanned fields can only be read from text, so the merged document
        // goes back through TOML; errors are reported at the variant or
        // override, not in this intermediate text.
        let what = || variant.map_or("the overrides".to_string(), |v| format!("variant `{v}`"));
        let text = toml::to_string(&doc).map_err(|e| format!("with {} applied: {e}", what()))?;
        let spec: ScenarioSpec = toml::from_str(&text).map_err(|e| {
            let message = e.message().trim();
            let hint = unknown_name_hint(message).unwrap_or_default();
            let message = message
                .split_once(", expected one of")
                .map_or(message, |(m, _)| m);
            let (message, _) = super::words::humanise(message, None);
            format!("with {} applied: {message}{hint}", what())
        })?;
        check(&self.file, &self.source, &spec, false).map_err(|d| d.message)?;
        Ok(spec)
    }

    /// The scenario's TOML document with `variant` (if any) and then
    /// `overrides` applied, unchecked: what [`Scenario::resolve`] reads.
    pub fn document_with(
        &self,
        variant: Option<&str>,
        overrides: &[(String, toml::Value)],
    ) -> Result<toml::Table, String> {
        let mut doc = self.document.clone();
        if let Some(v) = variant {
            let Some(spec) = self.spec.variants.get(v) else {
                let hint = did_you_mean(v, self.variants())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                let known: Vec<_> = self.variants().collect();
                return Err(format!(
                    "scenario `{}` has no variant `{v}`{hint} (variants: {})",
                    self.name,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            };
            for (path, value) in &spec.get_ref().set {
                set_path(&mut doc, path, value.get_ref().clone())
                    .map_err(|e| format!("variant `{v}`: {e}"))?;
            }
        }
        for (path, value) in overrides {
            set_path(&mut doc, path, value.clone()).map_err(|e| format!("--set {path}: {e}"))?;
        }
        Ok(doc)
    }
}

/// Parses and checks a scenario. `file` is only used in messages.
pub fn load(name: &str, file: &str, source: &str) -> Result<Scenario, Box<Diagnostic>> {
    let spec: ScenarioSpec =
        toml::from_str(source).map_err(|e| Box::new(from_toml(file, source, &e)))?;
    let document: toml::Table =
        toml::from_str(source).map_err(|e| Box::new(from_toml(file, source, &e)))?;
    check(file, source, &spec, true).map_err(Box::new)?;
    let scenario = Scenario {
        name: name.to_string(),
        file: file.to_string(),
        source: source.to_string(),
        spec,
        document,
    };
    // Every variant must load too; report at the override that breaks it.
    for (variant, spec) in &scenario.spec.variants {
        if let Err(message) = scenario.resolve(Some(variant), &[]) {
            let (span, path) = culprit(&scenario, spec.get_ref())
                .map_or((spec.span(), None), |(span, path)| (span, Some(path)));
            let field = match path {
                Some(p) => format!("variants.{variant}.set.\"{p}\""),
                None => format!("variants.{variant}"),
            };
            let message = message
                .strip_prefix(&format!("with variant `{variant}` applied: "))
                .map_or(message.clone(), |m| format!("variant `{variant}`: {m}"));
            return Err(Box::new(
                Diagnostic::at(file, source, span, super::words::shorten(&message))
                    .with_field(field),
            ));
        }
    }
    for e in &scenario.spec.expectations {
        check_expectation(file, source, &scenario.spec, e).map_err(Box::new)?;
        if let Some(v) = &e.variant
            && !scenario.spec.variants.contains_key(v.get_ref())
        {
            return Err(Box::new(
                Diagnostic::at(
                    file,
                    source,
                    v.span(),
                    format!("no variant `{}`", v.get_ref()),
                )
                .with_field("expect.variant")
                .with_expected(format!(
                    "one of: {}",
                    scenario.variants().collect::<Vec<_>>().join(", ")
                ))
                .with_suggestion(did_you_mean(v.get_ref(), scenario.variants())),
            ));
        }
    }
    Ok(scenario)
}

/// The override of a variant that breaks it: applied one by one in file
/// order, the first after which the scenario no longer resolves; with the
/// span of its value and its path.
fn culprit(
    scenario: &Scenario,
    variant: &super::spec::VariantSpec,
) -> Option<(std::ops::Range<usize>, String)> {
    let mut entries: Vec<(&String, &Spanned<toml::Value>)> = variant.set.iter().collect();
    entries.sort_by_key(|(_, v)| v.span().start);
    let mut applied: Vec<(String, toml::Value)> = Vec::new();
    for (path, value) in entries {
        applied.push((path.clone(), value.get_ref().clone()));
        if scenario.resolve(None, &applied).is_err() {
            return Some((value.span(), path.clone()));
        }
    }
    None
}

/// An expectation's value is a finite number, and each metric it names
/// belongs to a node of the scenario (or the network).
fn check_expectation(
    file: &str,
    source: &str,
    spec: &ScenarioSpec,
    e: &super::spec::ExpectSpec,
) -> Result<(), Diagnostic> {
    match super::build::expectation_value(e.value.get_ref()) {
        Ok(v) if v.is_finite() => {}
        Ok(v) => {
            return Err(at(
                file,
                source,
                e.value.span(),
                "expect.value",
                format!("an expectation's value must be a finite number, got {v}"),
            )
            .with_expected("a number, a duration (\"300ms\") or a percentage (\"5%\")"));
        }
        Err(problem) => {
            return Err(at(file, source, e.value.span(), "expect.value", problem));
        }
    }
    let mut owners: Vec<String> = vec!["net".into()];
    for n in &spec.nodes {
        owners.push(n.name.get_ref().clone());
        let count = n.replicas.as_ref().map_or(0, |r| *r.get_ref());
        owners.extend((0..count).map(|i| super::spec::instance_name(n.name.get_ref(), i)));
    }
    for metric in e.metric.get_ref().split(" / ").map(str::trim) {
        let owned = owners.iter().any(|o| {
            metric
                .strip_prefix(o.as_str())
                .is_some_and(|r| r.starts_with('.'))
        });
        if owned {
            continue;
        }
        let (head, rest) = metric.split_once('.').unwrap_or((metric, ""));
        let suggestion = did_you_mean(head, owners.iter().map(String::as_str)).map(|o| {
            if rest.is_empty() {
                o.to_string()
            } else {
                format!("{o}.{rest}")
            }
        });
        return Err(at(
            file,
            source,
            e.metric.span(),
            "expect.metric",
            format!("no node of this scenario can produce `{metric}`: a metric's name starts with the node that records it"),
        )
        .with_expected(format!(
            "a name that starts with one of: {}",
            owners.iter().take(12).cloned().collect::<Vec<_>>().join(", ")
        ))
        .with_suggestion(suggestion.as_deref()));
    }
    Ok(())
}

/// The name of the table a byte offset sits in, for the `field` line of a
/// diagnostic: the nearest `[header]` above it, with the node's name for
/// `[[node]]` entries.
fn enclosing_table(source: &str, offset: usize) -> Option<String> {
    let before = &source[..offset.min(source.len())];
    let mut name = None;
    for line in before.lines().rev() {
        let t = line.trim();
        if name.is_none()
            && let Some(rest) = t.strip_prefix("name")
            && let Some(v) = rest.trim_start().strip_prefix('=')
        {
            name = Some(v.trim().trim_matches('"').to_string());
        }
        if t.starts_with('[') {
            let header = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            return Some(match (header.as_str(), name) {
                ("node", Some(n)) => format!("node `{n}`"),
                _ => header,
            });
        }
    }
    None
}

/// For serde's "unknown field `x`, expected one of ..." messages: a
/// "; did you mean `y`?" when one of the expected names is close.
fn unknown_name_hint(message: &str) -> Option<String> {
    for prefix in ["unknown field `", "unknown variant `"] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((name, tail)) = rest.split_once('`')
        {
            let candidates: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
            return did_you_mean(name, candidates).map(|s| format!("; did you mean `{s}`?"));
        }
    }
    None
}

/// A TOML or serde error as a diagnostic, with the expected names and a
/// suggestion pulled out of serde's "unknown field/variant" messages.
fn from_toml(file: &str, source: &str, e: &toml::de::Error) -> Diagnostic {
    let span = e.span().unwrap_or(source.len()..source.len());
    let message = e.message().trim().to_string();
    let mut d = Diagnostic::at(file, source, span.clone(), message.clone());
    let key = super::words::key_at(&d.line_text, d.column);
    let (words, accepts) = super::words::humanise(&message, key.as_deref());
    d.message = words;
    if let Some(a) = accepts {
        d = d.with_expected(a);
    }
    if let Some(table) = enclosing_table(source, span.start) {
        d = d.with_field(table);
    }
    for prefix in ["unknown field `", "unknown variant `"] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((name, tail)) = rest.split_once('`')
        {
            let expected = tail.trim_start_matches(',').trim();
            let expected = expected.strip_prefix("expected ").unwrap_or(expected);
            let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            d.message = format!("{}`{name}`", &prefix[..prefix.len() - 1]);
            d = d
                .with_expected(expected.to_string())
                .with_suggestion(did_you_mean(name, candidates));
        }
    }
    d
}

fn at(
    file: &str,
    source: &str,
    span: std::ops::Range<usize>,
    field: &str,
    message: String,
) -> Diagnostic {
    Diagnostic::at(file, source, span, message).with_field(field)
}

/// Checks what serde cannot. `spans` is false for a spec built from a
/// merged document (a variant), whose spans do not point into the source.
fn check(file: &str, source: &str, spec: &ScenarioSpec, spans: bool) -> Result<(), Diagnostic> {
    let locate = |s: std::ops::Range<usize>| if spans { s } else { 0..0 };
    if let Some(w) = spec.run.warmup
        && w.0 >= spec.run.duration.0
    {
        return Err(at(
            file,
            source,
            0..0,
            "run.warmup",
            format!(
                "the warm-up ({}) must end before the run does ({}), or nothing would be measured",
                w.0, spec.run.duration.0
            ),
        ));
    }
    let mut names = BTreeSet::new();
    for n in &spec.nodes {
        let name = n.name.get_ref();
        if name.is_empty() {
            return Err(at(
                file,
                source,
                locate(n.name.span()),
                "node",
                "a node's name cannot be empty".into(),
            ));
        }
        if !names.insert(name.as_str()) {
            return Err(at(
                file,
                source,
                locate(n.name.span()),
                "node",
                format!("there are two nodes called `{name}`"),
            )
            .with_help("node names must be unique"));
        }
    }
    // Replicas are nodes too, by instance name (`api-0`).
    let instances: Vec<String> = spec
        .nodes
        .iter()
        .flat_map(|n| {
            let count = n.replicas.as_ref().map_or(0, |r| *r.get_ref());
            (0..count).map(move |i| super::spec::instance_name(n.name.get_ref(), i))
        })
        .collect();
    for i in &instances {
        if names.contains(i.as_str()) {
            return Err(Diagnostic::at(
                file,
                source,
                0..0,
                format!("a replica would be called `{i}`, but a node has that name already"),
            )
            .with_field("node")
            .with_help("rename the node, or the group whose replicas clash with it"));
        }
    }
    let any_node: BTreeSet<&str> = names
        .iter()
        .copied()
        .chain(instances.iter().map(String::as_str))
        .collect();
    let zones: BTreeSet<&str> = spec
        .nodes
        .iter()
        .flat_map(|n| match &n.zones {
            Some(z) => z.get_ref().iter().map(String::as_str).collect(),
            None => vec![n.zone.as_deref().unwrap_or(DEFAULT_ZONE)],
        })
        .collect();
    let node_ref = |r: &Spanned<String>, field: &str| -> Result<(), Diagnostic> {
        let name = r.get_ref();
        if names.contains(name.as_str()) {
            return Ok(());
        }
        Err(at(
            file,
            source,
            locate(r.span()),
            field,
            format!("there is no node called `{name}`"),
        )
        .with_expected(format!(
            "one of: {}",
            names.iter().copied().collect::<Vec<_>>().join(", ")
        ))
        .with_suggestion(did_you_mean(name, names.iter().copied())))
    };
    // A node, a replica group or one replica (for faults).
    let instance_ref = |r: &Spanned<String>, field: &str| -> Result<(), Diagnostic> {
        let name = r.get_ref();
        if any_node.contains(name.as_str()) {
            return Ok(());
        }
        Err(at(
            file,
            source,
            locate(r.span()),
            field,
            format!("there is no node or replica called `{name}`"),
        )
        .with_suggestion(did_you_mean(name, any_node.iter().copied())))
    };
    let place_ref = |r: &Spanned<String>, field: &str| -> Result<(), Diagnostic> {
        let name = r.get_ref();
        if any_node.contains(name.as_str()) || zones.contains(name.as_str()) {
            return Ok(());
        }
        Err(at(
            file,
            source,
            locate(r.span()),
            field,
            format!("there is no node or zone called `{name}`"),
        )
        .with_suggestion(did_you_mean(
            name,
            any_node.iter().chain(zones.iter()).copied(),
        )))
    };
    let all_flags: BTreeSet<&str> = spec
        .nodes
        .iter()
        .flat_map(|n| n.flags.iter().flatten().map(|(k, _)| k.as_str()))
        .collect();
    for n in &spec.nodes {
        check_node(file, source, n, &locate)?;
        let field = format!("node `{}`", n.name.get_ref());
        if let Some(t) = &n.target {
            node_ref(t, &format!("{field}.target"))?;
            let target_kind = spec
                .nodes
                .iter()
                .find(|m| m.name.get_ref() == t.get_ref())
                .map(|m| *m.kind.get_ref());
            let wants: &[NodeKind] = match n.kind.get_ref() {
                NodeKind::Client => &[NodeKind::Service, NodeKind::Ledger],
                NodeKind::Cache => &[NodeKind::Kv],
                NodeKind::Reader => &[NodeKind::Cache, NodeKind::Kv, NodeKind::Router],
                NodeKind::Writer => &[NodeKind::Kv, NodeKind::Cache, NodeKind::Router],
                NodeKind::Router => &[NodeKind::Kv],
                NodeKind::Session => &[NodeKind::Replica],
                _ => &[],
            };
            if let Some(k) = target_kind
                && !wants.is_empty()
                && !wants.contains(&k)
            {
                let names: Vec<String> = wants
                    .iter()
                    .map(|w| format!("{w:?}").to_lowercase())
                    .collect();
                return Err(at(
                    file,
                    source,
                    locate(t.span()),
                    &format!("{field}.target"),
                    format!(
                        "a {} cannot call `{}`, which is a {}",
                        format!("{:?}", n.kind.get_ref()).to_lowercase(),
                        t.get_ref(),
                        format!("{k:?}").to_lowercase()
                    ),
                )
                .with_expected(format!("a node of kind {}", names.join(" or "))));
            }
        }
        if let Some(c) = &n.invalidate {
            node_ref(c, &format!("{field}.invalidate"))?;
        }
        if *n.kind.get_ref() == NodeKind::Router
            && let Some(t) = &n.target
        {
            let group = spec
                .nodes
                .iter()
                .find(|m| m.name.get_ref() == t.get_ref())
                .map_or(1, |m| m.replicas.as_ref().map_or(1, |r| *r.get_ref()));
            let too_many = |count: u32| count == 0 || count > group;
            if let Some(sh) = &n.shards
                && too_many(*sh.get_ref())
            {
                return Err(at(
                    file,
                    source,
                    locate(sh.span()),
                    &format!("{field}.shards"),
                    format!(
                        "`{}` has {group} replica(s), so from 1 to {group} shards can be in use",
                        t.get_ref()
                    ),
                ));
            }
            if let Some(r) = &n.reshard
                && too_many(r.get_ref().shards)
            {
                return Err(at(
                    file,
                    source,
                    locate(r.span()),
                    &format!("{field}.reshard"),
                    format!(
                        "`{}` has {group} replica(s), so a reshard can use from 1 to {group} shards",
                        t.get_ref()
                    ),
                ));
            }
        }
        if let Some(c) = &n.calls {
            node_ref(c, &format!("{field}.calls"))?;
        }
        let flags: Vec<&str> = n.flags.iter().flatten().map(|(k, _)| k.as_str()).collect();
        let flag_ref = |f: &Spanned<String>, what: &str| -> Result<(), Diagnostic> {
            if flags.contains(&f.get_ref().as_str()) {
                return Ok(());
            }
            Err(at(
                file,
                source,
                locate(f.span()),
                &format!("{field}.{what}"),
                format!("this service has no flag called `{}`", f.get_ref()),
            )
            .with_help("declare it with its starting value, e.g. flags = { new-release = true }")
            .with_suggestion(did_you_mean(f.get_ref(), flags.iter().copied())))
        };
        if let Some(g) = &n.gate {
            flag_ref(g, "gate")?;
        }
        for (i, c) in n.call_specs.iter().flatten().enumerate() {
            let cf = format!("{field}.call.{i}");
            node_ref(&c.to, &format!("{cf}.to"))?;
            if let Some(f) = &c.flag
                && !flags.contains(&f.as_str())
            {
                return Err(at(
                    file,
                    source,
                    locate(c.to.span()),
                    &format!("{cf}.flag"),
                    format!("this service has no flag called `{f}`"),
                )
                .with_help("declare it in the service's `flags`"));
            }
            let targets = spec
                .nodes
                .iter()
                .find(|m| m.name.get_ref() == c.to.get_ref())
                .map_or(1, |m| m.replicas.as_ref().map_or(1, |r| *r.get_ref()));
            check_call_policies(
                file,
                source,
                &locate,
                &cf,
                CallPolicies {
                    retry: c.retry.as_ref(),
                    breaker: c.breaker.as_ref(),
                    bulkhead: c.bulkhead.as_ref(),
                    hedge: c.hedge.as_ref(),
                    pool: c.pool.as_ref(),
                    health_check: c.health_check.as_ref(),
                },
            )?;
            if let Some(FanoutSpec::Quorum(q)) = c.fanout
                && (q.quorum == 0 || q.quorum > targets)
            {
                return Err(at(
                    file,
                    source,
                    locate(c.to.span()),
                    &format!("{cf}.fanout"),
                    format!(
                        "a quorum of {} out of {targets} replica(s) can never be met",
                        q.quorum
                    ),
                )
                .with_expected(format!("a quorum from 1 to {targets}")));
            }
        }
        check_call_policies(
            file,
            source,
            &locate,
            &field,
            CallPolicies {
                retry: None,
                breaker: n.breaker.as_ref(),
                bulkhead: n.bulkhead.as_ref(),
                hedge: n.hedge.as_ref(),
                pool: n.pool.as_ref(),
                health_check: n.health_check.as_ref(),
            },
        )?;
        if let Some(r) = &n.rate_limit {
            let spec = r.get_ref();
            let bucket = spec.rate.is_some() || spec.burst.is_some();
            let window = spec.limit.is_some() || spec.window.is_some();
            let problem = if bucket == window {
                Some(
                    "a rate limit is either a token bucket (`rate`, optional `burst`) or a sliding window (`limit` and `window`)",
                )
            } else if window
                && (spec.limit.is_none()
                    || spec
                        .window
                        .is_none_or(|w| w.0 == crate::time::SimDuration::ZERO))
            {
                Some("a sliding window needs both `limit` and a `window` longer than 0s")
            } else if spec.rate.is_some_and(|r| r.0 <= 0.0)
                || spec.burst.is_some_and(|b| b.is_nan() || b < 1.0)
            {
                Some("a token bucket needs a rate above zero and a burst of at least 1")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(at(
                    file,
                    source,
                    locate(r.span()),
                    &format!("{field}.rate_limit"),
                    problem.into(),
                ));
            }
        }
    }
    for l in &spec.links {
        place_ref(&l.from, "link.from")?;
        place_ref(&l.to, "link.to")?;
    }
    let mut partitions = BTreeSet::new();
    for f in &spec.faults {
        let actions = [
            f.crash.is_some(),
            f.restart.is_some(),
            f.partition.is_some(),
            f.heal.is_some(),
            f.slow.is_some(),
            f.errors.is_some(),
            f.hang.is_some(),
            f.recover.is_some(),
            f.flag.is_some(),
        ];
        let count = actions.iter().filter(|&&a| a).count();
        if count != 1 {
            return Err(Diagnostic::at(
                file,
                source,
                0..0,
                format!(
                    "the fault at {} must do exactly one thing, but it does {count}",
                    f.at.0
                ),
            )
            .with_field("fault")
            .with_expected(
                "one of `crash`, `restart`, `partition`, `heal`, `slow`, `errors`, `hang`, `recover`, `flag`",
            ));
        }
        for r in [
            &f.crash, &f.restart, &f.slow, &f.errors, &f.hang, &f.recover,
        ]
        .into_iter()
        .flatten()
        {
            instance_ref(r, "fault")?;
        }
        let needs = |what: &str, with: &str, ok: bool| -> Result<(), Diagnostic> {
            if ok {
                return Ok(());
            }
            Err(Diagnostic::at(
                file,
                source,
                0..0,
                format!("the `{what}` fault at {} needs `{with}`", f.at.0),
            )
            .with_field("fault"))
        };
        if f.slow.is_some() {
            needs(
                "slow",
                "factor = 10 (how many times slower)",
                f.factor.is_some_and(|x| x.is_finite() && x > 0.0),
            )?;
        }
        if f.errors.is_some() {
            needs("errors", "rate = \"20%\"", f.rate.is_some())?;
        }
        if let Some(flag) = &f.flag {
            needs("flag", "on = true or false", f.on.is_some())?;
            if !all_flags.contains(flag.get_ref().as_str()) {
                return Err(at(
                    file,
                    source,
                    locate(flag.span()),
                    "fault.flag",
                    format!("no service has a flag called `{}`", flag.get_ref()),
                )
                .with_suggestion(did_you_mean(flag.get_ref(), all_flags.iter().copied())));
            }
        }
        if let Some(p) = &f.partition {
            for side in p.get_ref() {
                for member in side {
                    place_ref(member, "fault.partition")?;
                }
            }
            if let Some((node, first, second)) = super::graph::partition_overlap(spec, p.get_ref())
            {
                let how = if first == second {
                    format!("`{first}` is named on two sides")
                } else {
                    format!("`{first}` and `{second}` both hold `{node}`")
                };
                return Err(at(
                    file,
                    source,
                    locate(p.span()),
                    "fault.partition",
                    format!("the partition's sides overlap: {how}, so `{node}` would be on both sides of the cut"),
                )
                .with_help("name each node, group or zone on one side only"));
            }
            partitions.insert(
                f.name
                    .clone()
                    .unwrap_or_else(|| DEFAULT_PARTITION.to_string()),
            );
        }
        if let Some(h) = &f.heal {
            let name = h.get_ref();
            if name != "all" && !partitions.contains(name.as_str()) {
                return Err(at(
                    file,
                    source,
                    locate(h.span()),
                    "fault.heal",
                    format!("no partition called `{name}` was started before this heal"),
                )
                .with_expected("the `name` of an earlier partition, or \"all\"")
                .with_suggestion(did_you_mean(name, partitions.iter().map(String::as_str))));
            }
        }
    }
    if spec.run.allow_call_cycles != Some(true)
        && let Some(cycle) = super::graph::find(spec)
    {
        return Err(at(
            file,
            source,
            locate(cycle.span.clone()),
            "node",
            format!(
                "the calls form a cycle, {}: every request that enters it goes round until a timeout or the event budget stops it",
                cycle.describe()
            ),
        )
        .with_help("break the cycle, or set `allow_call_cycles = true` in `[run]` if it is meant"));
    }
    Ok(())
}

pub use super::limits::{MAX_REPLICA_GROUP, MAX_REPLICAS, MAX_WORKERS};
use super::limits::{MAX_ZIPF_KEYS, MIN_PERIOD_NS};

/// The zone of a node that names none.
pub const DEFAULT_ZONE: &str = "default";
/// The name of a partition that names none.
pub const DEFAULT_PARTITION: &str = "partition";

/// A replica group's own rules: its mode's fields, quorum sizes within
/// the group, one zone and one clock per replica.
fn check_replica(
    file: &str,
    source: &str,
    n: &NodeSpec,
    locate: &dyn Fn(std::ops::Range<usize>) -> std::ops::Range<usize>,
) -> Result<(), Diagnostic> {
    let field = format!("node `{}`", n.name.get_ref());
    let count = n.replicas.as_ref().map_or(1, |r| *r.get_ref());
    let fail = |span: std::ops::Range<usize>, what: &str, msg: String| {
        Err(at(
            file,
            source,
            locate(span),
            &format!("{field}{what}"),
            msg,
        ))
    };
    if count > MAX_REPLICA_GROUP {
        let r = n.replicas.as_ref().expect("required");
        return fail(
            r.span(),
            ".replicas",
            format!("a replicated store has at most {MAX_REPLICA_GROUP} replicas, got {count}"),
        );
    }
    let rep = n.replication.as_ref().expect("required");
    let (span, spec) = (rep.span(), rep.get_ref());
    let leader = spec.mode == ReplicationName::Leader;
    let (own, other): (&[(&str, bool)], &str) = if leader {
        (
            &[
                ("r", spec.r.is_some()),
                ("w", spec.w.is_some()),
                ("read_repair", spec.read_repair.is_some()),
                ("conflicts", spec.conflicts.is_some()),
            ],
            "quorum",
        )
    } else {
        (&[("sync", spec.sync.is_some())], "leader")
    };
    if let Some((name, _)) = own.iter().find(|(_, set)| *set) {
        return fail(
            span,
            ".replication",
            format!("`{name}` applies only to `mode = \"{other}\"`"),
        );
    }
    for (what, q) in [("r", spec.r), ("w", spec.w)] {
        if let Some(q) = q
            && !(1..=count).contains(&q)
        {
            return fail(
                span.clone(),
                &format!(".replication.{what}"),
                format!("a quorum is from 1 to the {count} replicas, got {q}"),
            );
        }
    }
    if !leader && (spec.r.is_none() || spec.w.is_none()) {
        return fail(
            span,
            ".replication",
            "quorum replication needs `r` and `w` (replicas that answer a read, and that store a write)".into(),
        );
    }
    if let Some(s) = spec.sync
        && s >= count
    {
        return fail(
            span,
            ".replication.sync",
            format!(
                "a leader has {} followers, so `sync` is from 0 to {}, got {s}",
                count - 1,
                count - 1,
            ),
        );
    }
    if let Some(z) = &n.zones {
        if n.zone.is_some() {
            return fail(
                z.span(),
                ".zones",
                "give `zone` (all replicas in one) or `zones` (one per replica), not both".into(),
            );
        }
        if z.get_ref().len() != count as usize {
            return fail(
                z.span(),
                ".zones",
                format!(
                    "one zone per replica: {count} expected, got {}",
                    z.get_ref().len()
                ),
            );
        }
    }
    if let Some(c) = &n.clock_skew
        && c.get_ref().len() != count as usize
    {
        return fail(
            c.span(),
            ".clock_skew",
            format!(
                "one clock error per replica: {count} expected, got {}",
                c.get_ref().len()
            ),
        );
    }
    for (what, d) in [
        ("failover_after", &n.failover_after),
        ("timeout", &n.timeout),
    ] {
        if let Some(d) = d
            && d.get_ref().0 == SimDuration::ZERO
        {
            return fail(
                d.span(),
                &format!(".{what}"),
                format!("`{what}` must be longer than zero"),
            );
        }
    }
    for (what, d) in [
        ("heartbeat", &n.heartbeat),
        ("anti_entropy", &n.anti_entropy),
        ("drift_check", &n.drift_check),
    ] {
        if let Some(d) = d
            && let Some(problem) = too_frequent(what, d.get_ref().0)
        {
            return fail(d.span(), &format!(".{what}"), problem);
        }
    }
    Ok(())
}

/// Why a period of background work that repeats all run long is too
/// short to be meant, if it is.
fn too_frequent(what: &str, period: SimDuration) -> Option<String> {
    (period.as_nanos() < MIN_PERIOD_NS).then(|| {
        format!(
            "`{what}` every {period} would swamp the run with timers; it may be at least {}",
            SimDuration::from_nanos(MIN_PERIOD_NS)
        )
    })
}

fn check_node(
    file: &str,
    source: &str,
    n: &NodeSpec,
    locate: &dyn Fn(std::ops::Range<usize>) -> std::ops::Range<usize>,
) -> Result<(), Diagnostic> {
    let kind = *n.kind.get_ref();
    let field = format!("node `{}`", n.name.get_ref());
    let present: &[(&str, bool)] = &[
        ("target", n.target.is_some()),
        ("rate", n.rate.is_some()),
        ("timeout", n.timeout.is_some()),
        ("deadline", n.deadline.is_some()),
        ("retry", n.retry.is_some()),
        ("idempotency_keys", n.idempotency_keys.is_some()),
        ("double_submit", n.double_submit.is_some()),
        ("double_submit_delay", n.double_submit_delay.is_some()),
        ("orders", n.orders.is_some()),
        ("rate_changes", n.rate_changes.is_some()),
        ("max_in_flight", n.max_in_flight.is_some()),
        ("breaker", n.breaker.is_some()),
        ("bulkhead", n.bulkhead.is_some()),
        ("balance", n.balance.is_some()),
        ("outlier", n.outlier.is_some()),
        ("health_check", n.health_check.is_some()),
        ("hedge", n.hedge.is_some()),
        ("fallback", n.fallback.is_some()),
        ("pool", n.pool.is_some()),
        ("throttle", n.throttle.is_some()),
        ("priority", n.priority.is_some()),
        ("replicas", n.replicas.is_some()),
        ("workers", n.workers.is_some()),
        ("queue", n.queue.is_some()),
        ("service_time", n.service_time.is_some()),
        ("calls", n.calls.is_some()),
        ("call_timeout", n.call_timeout.is_some()),
        ("idempotency", n.idempotency.is_some()),
        ("discipline", n.discipline.is_some()),
        ("codel", n.codel.is_some()),
        ("call", n.call_specs.is_some()),
        ("parallel", n.parallel.is_some()),
        ("flags", n.flags.is_some()),
        ("gate", n.gate.is_some()),
        ("rate_limit", n.rate_limit.is_some()),
        ("shed", n.shed.is_some()),
        ("processing_time", n.processing_time.is_some()),
        ("ttl", n.ttl.is_some()),
        ("ttl_jitter", n.ttl_jitter.is_some()),
        ("single_flight", n.single_flight.is_some()),
        ("write_through", n.write_through.is_some()),
        ("keys", n.keys.is_some()),
        ("invalidate", n.invalidate.is_some()),
        ("sharding", n.sharding.is_some()),
        ("shards", n.shards.is_some()),
        ("reshard", n.reshard.is_some()),
        ("replication", n.replication.is_some()),
        ("zones", n.zones.is_some()),
        ("clock_skew", n.clock_skew.is_some()),
        ("heartbeat", n.heartbeat.is_some()),
        ("failover_after", n.failover_after.is_some()),
        ("anti_entropy", n.anti_entropy.is_some()),
        ("drift_check", n.drift_check.is_some()),
        ("read_share", n.read_share.is_some()),
        ("read_from", n.read_from.is_some()),
        ("read_your_writes", n.read_your_writes.is_some()),
    ];
    let (allowed, required): (&[&str], &[&str]) = match kind {
        NodeKind::Client => (
            &[
                "target",
                "rate",
                "timeout",
                "deadline",
                "retry",
                "idempotency_keys",
                "double_submit",
                "double_submit_delay",
                "orders",
                "rate_changes",
                "max_in_flight",
                "breaker",
                "bulkhead",
                "balance",
                "outlier",
                "health_check",
                "hedge",
                "fallback",
                "pool",
                "throttle",
                "priority",
            ],
            &["target", "rate"],
        ),
        NodeKind::Service => (
            &[
                "workers",
                "queue",
                "service_time",
                "calls",
                "call_timeout",
                "idempotency",
                "discipline",
                "codel",
                "replicas",
                "call",
                "parallel",
                "flags",
                "gate",
                "rate_limit",
                "shed",
            ],
            &["workers", "service_time"],
        ),
        NodeKind::Ledger => (&["processing_time"], &["processing_time"]),
        NodeKind::Kv => (&["workers", "service_time", "replicas"], &[]),
        NodeKind::Router => (
            &["target", "sharding", "shards", "reshard"],
            &["target", "sharding"],
        ),
        NodeKind::Cache => (
            &[
                "target",
                "ttl",
                "ttl_jitter",
                "single_flight",
                "write_through",
            ],
            &["target", "ttl"],
        ),
        NodeKind::Reader => (&["target", "rate", "keys"], &["target", "rate"]),
        NodeKind::Writer => (
            &["target", "rate", "keys", "invalidate"],
            &["target", "rate"],
        ),
        NodeKind::Replica => (
            &[
                "replicas",
                "replication",
                "zones",
                "clock_skew",
                "heartbeat",
                "failover_after",
                "timeout",
                "anti_entropy",
                "drift_check",
            ],
            &["replicas", "replication"],
        ),
        NodeKind::Session => (
            &[
                "target",
                "rate",
                "keys",
                "timeout",
                "read_share",
                "read_from",
                "read_your_writes",
                "rate_changes",
            ],
            &["target", "rate"],
        ),
    };
    let kind_name = format!("{kind:?}").to_lowercase();
    for &(name, is_set) in present {
        if is_set && !allowed.contains(&name) {
            return Err(at(
                file,
                source,
                locate(n.kind.span()),
                &field,
                format!("`{name}` does not apply to a {kind_name} node"),
            )
            .with_expected(format!(
                "fields of a {kind_name}: name, kind, zone, {}",
                allowed.join(", ")
            )));
        }
    }
    for &name in required {
        if !present.iter().any(|&(p, set)| p == name && set) {
            return Err(at(
                file,
                source,
                locate(n.name.span()),
                &field,
                format!("a {kind_name} node needs `{name}`"),
            ));
        }
    }
    if kind == NodeKind::Kv && n.workers.is_some() != n.service_time.is_some() {
        return Err(at(
            file,
            source,
            locate(n.name.span()),
            &field,
            "a kv store with capacity needs both `workers` and `service_time` (or neither, to answer at once)"
                .into(),
        ));
    }
    if kind == NodeKind::Replica {
        check_replica(file, source, n, locate)?;
    }
    if let Some(spanned) = &n.keys {
        let k = spanned.get_ref();
        let problem = match k.dist {
            _ if k.n == 0 => Some("`keys` needs n of at least 1".to_string()),
            KeysName::Zipf if !k.s.is_some_and(|s| s.is_finite() && s >= 0.0) => {
                Some("a zipf key distribution needs an exponent `s` of 0 or more".into())
            }
            KeysName::Hot if k.share.is_none() || k.n < 2 => {
                Some("a hot-key distribution needs a `share` and n of at least 2".into())
            }
            KeysName::Zipf if k.n > MAX_ZIPF_KEYS => Some(format!(
                "a zipf key space may have at most {MAX_ZIPF_KEYS} keys (its sampler keeps a table of one number per key), got {}",
                k.n
            )),
            _ => None,
        };
        if let Some(problem) = problem {
            return Err(at(
                file,
                source,
                locate(spanned.span()),
                &format!("{field}.keys"),
                problem,
            ));
        }
    }
    if let Some(r) = &n.replicas
        && !(1..=MAX_REPLICAS).contains(r.get_ref())
    {
        return Err(at(
            file,
            source,
            locate(r.span()),
            &format!("{field}.replicas"),
            format!(
                "a replica group needs from 1 to {MAX_REPLICAS} replicas, got {}",
                r.get_ref()
            ),
        ));
    }
    if let Some(w) = &n.workers
        && *w.get_ref() > MAX_WORKERS
    {
        return Err(at(
            file,
            source,
            locate(w.span()),
            &format!("{field}.workers"),
            format!(
                "at most {MAX_WORKERS} workers per service, got {}",
                w.get_ref()
            ),
        ));
    }
    if let Some(w) = &n.workers
        && *w.get_ref() == 0
    {
        return Err(at(
            file,
            source,
            locate(w.span()),
            &format!("{field}.workers"),
            "a service needs at least 1 worker, got 0".into(),
        ));
    }
    if let Some(r) = &n.rate
        && !(r.get_ref().0.is_finite() && r.get_ref().0 > 0.0)
    {
        return Err(at(
            file,
            source,
            locate(r.span()),
            &format!("{field}.rate"),
            "a client's rate must be above zero".into(),
        ));
    }
    if let Some(m) = &n.max_in_flight
        && *m.get_ref() == 0
    {
        return Err(at(
            file,
            source,
            locate(m.span()),
            &format!("{field}.max_in_flight"),
            "a client with max_in_flight = 0 could send nothing; use 1 or more".into(),
        ));
    }
    if let Some(r) = &n.retry {
        let config = super::build::retry_config(r.get_ref());
        if let Err(e) = config.validate() {
            return Err(at(
                file,
                source,
                locate(r.span()),
                &format!("{field}.retry"),
                e,
            ));
        }
    }
    Ok(())
}

/// The policies of one caller, to check together.
struct CallPolicies<'a> {
    retry: Option<&'a Spanned<RetrySpec>>,
    breaker: Option<&'a Spanned<BreakerSpec>>,
    bulkhead: Option<&'a Spanned<u32>>,
    hedge: Option<&'a Spanned<HedgeSpec>>,
    pool: Option<&'a Spanned<u32>>,
    health_check: Option<&'a Spanned<super::spec::HealthCheckSpec>>,
}

fn check_call_policies(
    file: &str,
    source: &str,
    locate: &dyn Fn(std::ops::Range<usize>) -> std::ops::Range<usize>,
    field: &str,
    p: CallPolicies<'_>,
) -> Result<(), Diagnostic> {
    if let Some(h) = p.health_check
        && let Some(problem) = too_frequent("health_check.interval", h.get_ref().interval.0)
    {
        return Err(at(
            file,
            source,
            locate(h.span()),
            &format!("{field}.health_check"),
            problem,
        ));
    }
    if let Some(r) = p.retry
        && let Err(e) = super::build::retry_config(r.get_ref()).validate()
    {
        return Err(at(
            file,
            source,
            locate(r.span()),
            &format!("{field}.retry"),
            e,
        ));
    }
    if let Some(b) = p.breaker
        && let Err(e) = super::build::breaker_config(b.get_ref()).validate()
    {
        return Err(at(
            file,
            source,
            locate(b.span()),
            &format!("{field}.breaker"),
            e,
        ));
    }
    if let Some(b) = p.bulkhead
        && *b.get_ref() == 0
    {
        return Err(at(
            file,
            source,
            locate(b.span()),
            &format!("{field}.bulkhead"),
            "a bulkhead of 0 refuses every call; use 1 or more".into(),
        ));
    }
    if let Some(b) = p.pool
        && *b.get_ref() == 0
    {
        return Err(at(
            file,
            source,
            locate(b.span()),
            &format!("{field}.pool"),
            "a pool of 0 connections can never send a call; use 1 or more".into(),
        ));
    }
    if let Some(h) = p.hedge {
        let spec = h.get_ref();
        if spec.after.is_some() == spec.quantile.is_some() {
            return Err(at(
                file,
                source,
                locate(h.span()),
                &format!("{field}.hedge"),
                "a hedge needs exactly one of `after` (a delay) and `quantile` (e.g. \"95%\")"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// Sets `path` (dot-separated; `node.<name>` picks a node by name,
/// `link.<n>` and `fault.<n>` by position) in `doc` to `value`.
pub fn set_path(doc: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "`{path}` is not a path (expected names separated by dots, e.g. node.user.timeout)"
        ));
    }
    let mut table = doc;
    let mut i = 0;
    while i + 1 < parts.len() {
        let key = parts[i];
        let array_of_tables = matches!(key, "node" | "link" | "fault" | "expect" | "call");
        if array_of_tables {
            let Some(toml::Value::Array(items)) = table.get_mut(key) else {
                return Err(format!("there is no `{key}` in this scenario"));
            };
            let pick = parts[i + 1];
            let index = match pick.parse::<usize>() {
                Ok(n) if n < items.len() => n,
                Ok(n) => {
                    return Err(format!(
                        "there are only {} `{key}` entries, so `{n}` is out of range",
                        items.len()
                    ));
                }
                Err(_) => {
                    let names: Vec<String> = items
                        .iter()
                        .filter_map(|t| {
                            // A call is named by `name`, or else by whom it calls.
                            t.get("name")
                                .or_else(|| t.get("to"))
                                .and_then(|n| n.as_str())
                                .map(str::to_string)
                        })
                        .collect();
                    match names.iter().position(|n| n == pick) {
                        Some(n) => n,
                        None => {
                            let hint = did_you_mean(pick, names.iter().map(String::as_str))
                                .map(|s| format!("; did you mean `{s}`?"))
                                .unwrap_or_default();
                            return Err(format!("there is no {key} called `{pick}`{hint}"));
                        }
                    }
                }
            };
            let Some(toml::Value::Table(t)) = items.get_mut(index) else {
                return Err(format!("`{key}.{pick}` is not a table"));
            };
            table = t;
            i += 2;
            continue;
        }
        let next = table
            .entry(key.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match next {
            toml::Value::Table(t) => table = t,
            _ => {
                return Err(format!(
                    "`{}` is a value, not a table",
                    parts[..=i].join(".")
                ));
            }
        }
        i += 1;
    }
    if i >= parts.len() {
        return Err(format!(
            "`{path}` names a whole entry; add the field to set, e.g. `{path}.timeout`"
        ));
    }
    table.insert(parts[i].to_string(), value);
    Ok(())
}

/// Reads a `--set` value: TOML if it parses (`8`, `true`, `"5ms"`,
/// `{ ttl = "1h" }`), otherwise the text itself as a string (`5ms`).
pub fn parse_set_value(text: &str) -> toml::Value {
    let probe = format!("v = {text}");
    match toml::from_str::<toml::Table>(&probe) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(text.to_string())),
        Err(_) => toml::Value::String(text.to_string()),
    }
}
