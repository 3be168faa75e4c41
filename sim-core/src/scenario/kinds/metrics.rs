//! The metrics each kind records, as declared by the kind, and the check
//! that an expectation names a metric the scenario can produce: when the
//! file loads, with "did you mean", rather than as a failed check after
//! the run. The reference page lists each kind's metrics from the same
//! declarations, and a test runs every story and variant to prove that
//! every metric a run records is declared.
//!
//! A name is relative to the node that records it (`ok` is `user.ok` for
//! the node `user`). `<error>` stands for an error kind (`timeout`,
//! `overloaded`, ...), `<reason>` for why a caller gave up, `<shard>` for
//! a shard's number.

use super::instances;
use crate::policy::ErrorKind;
use crate::scenario::spec::{NodeSpec, ScenarioSpec};

/// What a metric is, which says what an expectation may read of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A count: read as is, or per second (`.per_s`).
    Counter,
    /// A level over time: `.avg` or `.max`.
    Gauge,
    /// A distribution: `.p50`, `.p90`, `.p99`, `.p999`, `.max`, `.mean`,
    /// `.count` or `.over_<duration>`.
    Histogram,
}

/// A metric a kind records.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    pub name: &'static str,
    pub shape: Shape,
}

pub const fn counter(name: &'static str) -> Metric {
    Metric {
        name,
        shape: Shape::Counter,
    }
}

pub const fn gauge(name: &'static str) -> Metric {
    Metric {
        name,
        shape: Shape::Gauge,
    }
}

pub const fn histogram(name: &'static str) -> Metric {
    Metric {
        name,
        shape: Shape::Histogram,
    }
}

/// Where a node's metrics sit besides under its own name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Callers {
    /// Nowhere else.
    None,
    /// Each `[[node.call]]`'s caller records `CALLER` under
    /// `<node>.<call's name>`.
    PerCall,
}

/// What every caller records (a client's under its own name, a service's
/// per dependency).
pub const CALLER: &[Metric] = &[
    counter("requests"),
    counter("ok"),
    counter("failed"),
    counter("failed.<error>"),
    counter("degraded"),
    counter("attempts"),
    counter("retries"),
    counter("gave_up.<reason>"),
    counter("late_replies"),
    counter("short_circuited"),
    counter("bulkhead_rejected"),
    counter("throttled_locally"),
    counter("pool_waits"),
    counter("pool_timeouts"),
    counter("hedges"),
    counter("hedge_wins"),
    counter("ejections"),
    counter("marked_unhealthy"),
    counter("breaker.opened"),
    gauge("breaker.closed"),
    gauge("breaker.open"),
    gauge("breaker.half_open"),
    histogram("latency_ns"),
];

/// What the network records, under `net`.
pub const NET: &[Metric] = &[
    counter("sent"),
    counter("duplicated"),
    counter("dropped.loss"),
    counter("dropped.node_down"),
    counter("dropped.partition"),
];

/// Why a caller gives up retrying.
pub const REASONS: &[&str] = &["attempts_exhausted", "budget_exhausted", "not_retryable"];

/// Whether `name` is what the pattern `pattern` stands for.
fn matches(pattern: &str, name: &str) -> bool {
    let (mut p, mut n) = (pattern.split('.'), name.split('.'));
    loop {
        match (p.next(), n.next()) {
            (None, None) => return true,
            (Some(want), Some(got)) if want == got => {}
            (Some("<error>"), Some(got)) if ErrorKind::ALL.iter().any(|e| e.as_str() == got) => {}
            (Some("<reason>"), Some(got)) if REASONS.contains(&got) => {}
            (Some("<shard>"), Some(got))
                if !got.is_empty() && got.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => return false,
        }
    }
}

/// Every (prefix, metrics) pair a node of the scenario records under, the
/// network's included: a prefix is a node's or instance's name, or
/// `<service>.<call>` for a dependency's caller.
pub fn recorders(spec: &ScenarioSpec) -> Vec<(String, &'static [Metric])> {
    let mut out: Vec<(String, &'static [Metric])> = vec![("net".into(), NET)];
    for n in &spec.nodes {
        let kind = super::of(*n.kind.get_ref());
        let name = n.name.get_ref();
        // A group records as one, its instances only their own few; any
        // other replicated node records under each instance's name.
        let own: Vec<String> = if kind.group || n.replicas.is_none() {
            vec![name.clone()]
        } else {
            instance_names(spec, n)
        };
        for prefix in &own {
            out.extend(kind.metrics.iter().map(|group| (prefix.clone(), *group)));
            if kind.callers == Callers::PerCall {
                for dep in dependency_names(n) {
                    out.push((format!("{prefix}.{dep}"), CALLER));
                }
            }
        }
        if kind.group {
            for instance in instance_names(spec, n) {
                out.push((instance, kind.instance_metrics));
            }
        }
    }
    out
}

/// The names a node's dependencies record under: `calls`, then each
/// `[[node.call]]`'s name (by default its `to`).
fn dependency_names(n: &NodeSpec) -> Vec<&str> {
    let shorthand = n.calls.iter().map(|c| c.get_ref().as_str());
    let calls = n
        .call_specs
        .iter()
        .flatten()
        .map(|c| c.name.as_deref().unwrap_or(c.to.get_ref()));
    shorthand.chain(calls).collect()
}

fn instance_names(spec: &ScenarioSpec, n: &NodeSpec) -> Vec<String> {
    instances(spec)
        .into_iter()
        .filter(|(_, m)| std::ptr::eq(*m, n))
        .map(|(name, _)| name)
        .collect()
}

/// The statistics an expectation may take of a metric of this shape.
fn takes(shape: Shape, stat: &str) -> bool {
    match shape {
        Shape::Counter => stat == "per_s",
        Shape::Gauge => matches!(stat, "avg" | "max" | "now"),
        Shape::Histogram => {
            matches!(
                stat,
                "p50" | "p90" | "p99" | "p999" | "max" | "mean" | "count"
            ) || stat.starts_with("over_")
        }
    }
}

/// Whether an expectation's metric (one side of a ratio) is something
/// the scenario can produce.
pub fn produces(
    recorders: &[(String, &'static [Metric])],
    spec: &ScenarioSpec,
    name: &str,
) -> bool {
    let recorded = |name: &str, stat: Option<&str>| {
        recorded_as(recorders, name, |m| {
            stat.map_or(m.shape == Shape::Counter, |s| takes(m.shape, s))
        })
    };
    if recorded(name, None) {
        return true;
    }
    let Some((base, stat)) = name.rsplit_once('.') else {
        return false;
    };
    if matches!(stat, "time_to_detect_s" | "time_to_recover_s") {
        return spec.nodes.iter().any(|n| {
            n.name.get_ref() == base && super::of(*n.kind.get_ref()).kind == super::NodeKind::Client
        });
    }
    recorded(base, Some(stat))
}

/// Every name an expectation could use for the scenario's metrics (a
/// histogram with its p99, a gauge with its average), for "did you mean".
pub fn candidates(recorders: &[(String, &'static [Metric])]) -> Vec<String> {
    let mut out = Vec::new();
    for (prefix, metrics) in recorders {
        for m in metrics.iter() {
            let name = m
                .name
                .replace("<error>", "timeout")
                .replace("<reason>", "attempts_exhausted")
                .replace("<shard>", "0");
            out.push(match m.shape {
                Shape::Counter => format!("{prefix}.{name}"),
                Shape::Gauge => format!("{prefix}.{name}.avg"),
                Shape::Histogram => format!("{prefix}.{name}.p99"),
            });
        }
    }
    out
}

/// A kind's metrics as the reference page lists them.
pub fn listed(metrics: &[Metric]) -> String {
    metrics
        .iter()
        .map(|m| match m.shape {
            Shape::Counter => format!("`{}`", m.name),
            Shape::Gauge => format!("`{}` (gauge)", m.name),
            Shape::Histogram => format!("`{}` (histogram)", m.name),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the scenario declares the metric `name` of this shape: for
/// the test that every metric a run records is declared.
pub fn declares(recorders: &[(String, &'static [Metric])], name: &str, shape: Shape) -> bool {
    recorded_as(recorders, name, |m| m.shape == shape)
}

/// Whether some recorder's metric called `name` (its prefix, a dot, then
/// what the metric's pattern stands for) is also `fits`.
fn recorded_as(
    recorders: &[(String, &'static [Metric])],
    name: &str,
    fits: impl Fn(&Metric) -> bool,
) -> bool {
    recorders.iter().any(|(prefix, metrics)| {
        name.strip_prefix(prefix.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|rest| metrics.iter().any(|m| fits(m) && matches(m.name, rest)))
    })
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns_stand_for_what_they_say() {
        assert!(matches("failed.<error>", "failed.timeout"));
        assert!(matches("failed.<error>", "failed.circuit_open"));
        assert!(!matches("failed.<error>", "failed.tmeout"));
        assert!(!matches("failed.<error>", "failed"));
        assert!(matches("to.<shard>", "to.12"));
        assert!(!matches("to.<shard>", "to.x"));
        assert!(matches("gave_up.<reason>", "gave_up.not_retryable"));
        assert!(!matches("ok", "ok.extra"));
    }
}
