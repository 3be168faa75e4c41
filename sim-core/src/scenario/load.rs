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
use super::spec::ScenarioSpec;
use super::suggest::did_you_mean;
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
        check(&self.file, &self.source, &spec, &doc, false).map_err(|d| d.message)?;
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
    check(file, source, &spec, &document, true).map_err(Box::new)?;
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
        if let Some(v) = &e.variant {
            check_variant_name(&scenario, v, "expect.variant").map_err(Box::new)?;
        }
    }
    check_looks(&scenario).map_err(Box::new)?;
    super::predict::check(&scenario).map_err(Box::new)?;
    super::challenge::check(&scenario).map_err(Box::new)?;
    Ok(scenario)
}

/// Each `[[look]]` names a node that exists and a chart there is.
fn check_looks(scenario: &Scenario) -> Result<(), Diagnostic> {
    let (file, source) = (&scenario.file, &scenario.source);
    let instances = super::kinds::instances(&scenario.spec);
    let names: Vec<&str> = scenario
        .spec
        .nodes
        .iter()
        .map(|n| n.name.get_ref().as_str())
        .chain(instances.iter().map(|(n, _)| n.as_str()))
        .collect();
    for look in &scenario.spec.looks {
        if let Some(node) = &look.node
            && !names.contains(&node.get_ref().as_str())
        {
            return Err(Diagnostic::at(
                file,
                source,
                node.span(),
                format!("there is no node called `{}`", node.get_ref()),
            )
            .with_field("look.node")
            .with_suggestion(did_you_mean(node.get_ref(), names.iter().copied())));
        }
        let charts = super::charts::CHART_IDS;
        if let Some(chart) = &look.chart
            && !charts.contains(&chart.get_ref().as_str())
        {
            return Err(Diagnostic::at(
                file,
                source,
                chart.span(),
                format!("there is no chart called `{}`", chart.get_ref()),
            )
            .with_field("look.chart")
            .with_expected(format!("one of: {}", charts.join(", ")))
            .with_suggestion(did_you_mean(chart.get_ref(), charts.iter().copied())));
        }
    }
    Ok(())
}

/// A variant an expectation or a prediction names exists.
pub(super) fn check_variant_name(
    scenario: &Scenario,
    v: &Spanned<String>,
    field: &str,
) -> Result<(), Diagnostic> {
    if scenario.spec.variants.contains_key(v.get_ref()) {
        return Ok(());
    }
    Err(Diagnostic::at(
        &scenario.file,
        &scenario.source,
        v.span(),
        format!("no variant `{}`", v.get_ref()),
    )
    .with_field(field)
    .with_expected(format!(
        "one of: {}",
        scenario.variants().collect::<Vec<_>>().join(", ")
    ))
    .with_suggestion(did_you_mean(v.get_ref(), scenario.variants())))
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
pub(super) fn check_expectation(
    file: &str,
    source: &str,
    spec: &ScenarioSpec,
    e: &super::spec::ExpectSpec,
) -> Result<(), Diagnostic> {
    if let Some(w) = &e.within
        && super::watch::when(e) != super::watch::When::Eventually
    {
        return Err(at(
            file,
            source,
            w.span(),
            "expect.within",
            "`within` says how soon after the faults an expectation holds again; it goes with `when = \"eventually\"`".into(),
        ));
    }
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
    let recorders = super::kinds::metrics::recorders(spec);
    for metric in e.metric.get_ref().split(" / ").map(str::trim) {
        if super::kinds::metrics::produces(&recorders, spec, metric) {
            continue;
        }
        let problem = unknown_metric(spec, &recorders, metric);
        return Err(
            at(file, source, e.metric.span(), "expect.metric", problem.0)
                .with_expected(problem.1)
                .with_suggestion(problem.2.as_deref()),
        );
    }
    Ok(())
}

/// Why no node of the scenario produces `metric`, what would be
/// accepted, and the nearest name that is.
fn unknown_metric(
    spec: &ScenarioSpec,
    recorders: &[(String, &'static [super::kinds::metrics::Metric])],
    metric: &str,
) -> (String, String, Option<String>) {
    let candidates = super::kinds::metrics::candidates(recorders);
    let suggestion = did_you_mean(metric, candidates.iter().map(String::as_str)).map(String::from);
    let mut owners: Vec<String> = vec!["net".into()];
    owners.extend(
        super::kinds::instances(spec)
            .into_iter()
            .map(|(name, _)| name),
    );
    owners.extend(spec.nodes.iter().map(|n| n.name.get_ref().clone()));
    owners.sort();
    owners.dedup();
    let owned = |o: &String| {
        metric
            .strip_prefix(o.as_str())
            .is_some_and(|r| r.starts_with('.'))
    };
    let Some(owner) = owners.iter().filter(|o| owned(o)).max_by_key(|o| o.len()) else {
        let (head, rest) = metric.split_once('.').unwrap_or((metric, ""));
        let near = did_you_mean(head, owners.iter().map(String::as_str)).map(|o| {
            if rest.is_empty() {
                o.to_string()
            } else {
                format!("{o}.{rest}")
            }
        });
        return (
            format!(
                "no node of this scenario can produce `{metric}`: a metric's name starts with the node that records it"
            ),
            format!(
                "a name that starts with one of: {}",
                owners
                    .iter()
                    .take(12)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            near.or(suggestion),
        );
    };
    let own: Vec<&str> = candidates
        .iter()
        .filter_map(|c| c.strip_prefix(owner.as_str())?.strip_prefix('.'))
        .collect();
    let more = if own.len() > 16 { ", ..." } else { "" };
    let shown = format!("{}{more}", own[..own.len().min(16)].join(", "));
    (
        format!(
            "`{owner}` records no metric `{}`",
            &metric[owner.len() + 1..]
        ),
        format!("one of `{owner}`'s metrics (see the format reference): {shown}"),
        suggestion,
    )
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
            let mut candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let mut expected = expected.to_string();
            // A node's field: its kind's fields, not every kind's (a key
            // inside an inline table keeps that table's own fields).
            if prefix == "unknown field `"
                && !in_inline_table(source, span.start)
                && let Some(kind) = node_kind_at(source, span.start)
            {
                candidates = super::kinds::COMMON
                    .iter()
                    .chain(kind.all_fields())
                    .map(|f| f.name)
                    .collect();
                expected = format!("fields of a {}: {}", kind.name, candidates.join(", "));
            }
            // Serde's "variant" is an enum's; to a user, a variant is a
            // named override, so an unknown name is a value (or a kind).
            let what = match (prefix, key.as_deref()) {
                ("unknown field `", _) => "unknown field",
                (_, Some("kind")) => "unknown node kind",
                _ => "unknown value",
            };
            d.message = format!("{what} `{name}`");
            d = d
                .with_expected(expected)
                .with_suggestion(did_you_mean(name, candidates));
        }
    }
    d
}

/// Whether a byte offset sits inside an inline table (`{ ... }`) on its
/// line: TOML keeps an inline table on one line.
fn in_inline_table(source: &str, offset: usize) -> bool {
    let offset = offset.min(source.len());
    let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let (mut depth, mut quote) = (0i32, None::<char>);
    for c in source[start..offset].chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '{') => depth += 1,
            (None, '}') => depth -= 1,
            (None, '#') => break,
            _ => {}
        }
    }
    depth > 0
}

/// The kind of the `[[node]]` table a byte offset sits in (directly, not
/// in a table under it), read from the document: the n-th `[[node]]`
/// header above the offset is the n-th node.
fn node_kind_at(source: &str, offset: usize) -> Option<&'static super::kinds::Kind> {
    let table = enclosing_table(source, offset)?;
    if table != "node" && !table.starts_with("node `") {
        return None;
    }
    let before = &source[..offset.min(source.len())];
    let mut index = None;
    for line in before.lines() {
        if line.trim().trim_matches(|c| c == '[' || c == ']').trim() == "node"
            && line.trim().starts_with("[[")
        {
            index = Some(index.map_or(0, |i| i + 1));
        }
    }
    let doc: toml::Table = toml::from_str(source).ok()?;
    let kind = doc
        .get("node")?
        .as_array()?
        .get(index?)?
        .get("kind")?
        .as_str()?;
    super::kinds::KINDS.iter().copied().find(|k| k.name == kind)
}

/// A condition of a prediction or a challenge is judged once, where it
/// says: it takes no `when` or `within` (`what` names where it is).
pub(super) fn judged_once(
    file: &str,
    source: &str,
    e: &super::spec::ExpectSpec,
    what: &str,
) -> Result<(), Diagnostic> {
    let span = match (&e.when, &e.within) {
        (Some(w), _) => w.span(),
        (None, Some(w)) => w.span(),
        (None, None) => return Ok(()),
    };
    Err(at(
        file,
        source,
        span,
        &format!("{what}.when"),
        "a condition here is judged once, at its time; `when` and `within` are for `[[expect]]`"
            .into(),
    ))
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

use super::checks::check;

/// The zone of a node that names none.
pub const DEFAULT_ZONE: &str = "default";

/// Sets `path` (dot-separated; `node.<name>` picks a node by name,
/// `link.<n>` and `fault.<n>` by position) in `doc` to `value`.
pub fn set_path(doc: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let (table, key) = locate(doc, path)?;
    table.insert(key.to_string(), value);
    Ok(())
}

/// The value at `path` in `doc`, as `--set` finds it (`None`: nothing is
/// there yet).
pub fn value_at(doc: &toml::Table, path: &str) -> Result<Option<toml::Value>, String> {
    let mut doc = doc.clone();
    let (table, key) = locate(&mut doc, path)?;
    Ok(table.get(key).cloned())
}

/// The table that holds `path`'s last part, and that part: entries of
/// arrays of tables are picked by index or by name.
fn locate<'a>(
    doc: &'a mut toml::Table,
    path: &'a str,
) -> Result<(&'a mut toml::Table, &'a str), String> {
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
    Ok((table, parts[i]))
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
