//! Judging a run: which expectations apply to a variant, and their
//! verdicts on one run, refused as a whole when the run stopped early.
//!
//! The rule, the same for `run`, `check`, `explore`, the web app and the
//! tests: an expectation that names a variant (`variant = "retry-budget"`)
//! is about that variant only; one that names none is about the scenario
//! as written only. A variant changes the system, so what holds of the
//! system as written (a story's "this breaks") is not expected of the fix,
//! and the other way round. A scenario's own run (`--variant` not given)
//! is called [`AS_WRITTEN`] wherever a front end names it.

use super::build::{Built, Verdict, evaluate};
use super::load::Scenario;
use super::spec::{ExpectSpec, ScenarioSpec};
use crate::engine::{RunReport, StopReason};
use crate::time::SimTime;

/// How every front end names the scenario as written, with no variant.
pub const AS_WRITTEN: &str = "as written";

/// A variant's display name: its own, or [`AS_WRITTEN`].
pub fn variant_label(variant: Option<&str>) -> &str {
    variant.unwrap_or(AS_WRITTEN)
}

/// Whether `e` is about `variant` (`None`: the scenario as written).
pub fn applies_to(e: &ExpectSpec, variant: Option<&str>) -> bool {
    is_about(e.variant.as_ref(), variant)
}

/// Whether something that names `named` (an expectation's or a
/// prediction's `variant`; none: the scenario as written) is about
/// `variant`.
pub(super) fn is_about(named: Option<&toml::Spanned<String>>, variant: Option<&str>) -> bool {
    named.map(|v| v.get_ref().as_str()) == variant
}

/// The expectations of `spec` that are about `variant`, in file order.
pub fn expectations_for<'a>(
    spec: &'a ScenarioSpec,
    variant: Option<&'a str>,
) -> impl Iterator<Item = &'a ExpectSpec> + 'a {
    spec.expectations
        .iter()
        .filter(move |e| applies_to(e, variant))
}

/// The variants that have at least one expectation, prediction or
/// challenge (which starts from it), the
/// scenario as written first (when it has any), then in file order.
pub fn judged_variants(scenario: &Scenario) -> Vec<Option<&str>> {
    let spec = &scenario.spec;
    std::iter::once(None)
        .chain(scenario.variants().map(Some))
        .filter(|&v| {
            expectations_for(spec, v).next().is_some()
                || super::predict::predictions_for(spec, v).next().is_some()
                || super::challenge::challenges_for(spec, v).next().is_some()
        })
        .collect()
}

/// Why a run is not a result, if it stopped before its end.
pub fn cut_short(report: &RunReport) -> Option<String> {
    match report.stop {
        StopReason::ReachedEnd | StopReason::Idle => None,
        StopReason::EventBudget { .. }
        | StopReason::MemoryBudget { .. }
        | StopReason::Stopped { .. } => Some(report.to_string()),
    }
}

/// A metric's value as every front end shows it: a duration where the
/// metric counts nanoseconds (`latency_ns.p99`, `finished_ns.max`,
/// `wasted_ns`; not a ratio of two), else the plain number.
pub fn measure(metric: &str, v: f64) -> String {
    const IN_UNIT: &[&str] = &["p50", "p90", "p99", "p999", "max", "mean"];
    let in_ns = !metric.contains('/')
        && match metric.rsplit_once('.') {
            Some((head, stat)) if IN_UNIT.contains(&stat) => head.ends_with("_ns"),
            _ => metric.ends_with("_ns"),
        };
    if in_ns && v.is_finite() && v >= 0.0 {
        crate::time::SimDuration::from_nanos(v.round() as u64).to_string()
    } else {
        number(v)
    }
}

/// A verdict's number as every front end shows it, without needless
/// decimals: 42, 0.25, 1.5e9.
pub fn number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.is_finite() && v.abs() >= 0.001 && v.abs() < 1e9 {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        format!("{v:e}")
    }
}

/// One expectation judged on one run.
#[derive(Debug, Clone)]
pub struct Judged<'a> {
    pub expectation: &'a ExpectSpec,
    /// The verdict, or why there is none (a metric the run lacks).
    pub verdict: Result<Verdict, String>,
}

impl Judged<'_> {
    pub fn holds(&self) -> bool {
        matches!(&self.verdict, Ok(v) if v.holds)
    }
}

/// A run's verdicts on the expectations about `variant`. A run cut short
/// has none: `Err` says why, and no expectation counts as held.
pub fn judge<'a>(
    spec: &'a ScenarioSpec,
    variant: Option<&'a str>,
    built: &Built,
    report: &RunReport,
) -> Result<Vec<Judged<'a>>, String> {
    if let Some(why) = cut_short(report) {
        return Err(why);
    }
    Ok(expectations_for(spec, variant)
        .map(|e| Judged {
            expectation: e,
            verdict: verdict(spec, built, e, report.end_time),
        })
        .collect())
}

/// Expectation `e` of `spec` judged on `built`'s finished run (ended at
/// `end`): at the end, and for `always` and `eventually`, at the run's
/// checkpoints too.
pub fn verdict(
    spec: &ScenarioSpec,
    built: &Built,
    e: &ExpectSpec,
    end: SimTime,
) -> Result<Verdict, String> {
    let at_end = evaluate(e, built.sim.metrics(), &built.faults, end)?;
    let index = spec.expectations.iter().position(|x| std::ptr::eq(x, e));
    Ok(match index {
        Some(i) => built.watch.verdict(i, e, &built.faults, at_end),
        None => at_end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::build::build;
    use crate::scenario::load::load;

    /// Nanosecond metrics read as durations; counts, rates and ratios of
    /// two durations stay numbers.
    #[test]
    fn values_in_nanoseconds_are_shown_as_durations() {
        assert_eq!(
            measure("buyers.finished_ns.max", 12_723_870_255.0),
            "12.723s"
        );
        assert_eq!(measure("alice.latency_ns.p99", 2e8), "200ms");
        assert_eq!(measure("buyers.wasted_ns", 1.5e9), "1.5s");
        assert_eq!(measure("alice.latency_ns.count", 42.0), "42");
        assert_eq!(measure("alice.latency_ns.over_200ms", 3.0), "3");
        assert_eq!(measure("buyers.wasted_ns / buyers.work_ns", 0.5), "0.5");
        assert_eq!(measure("user.ok.per_s", 99.5), "99.5");
    }

    const TEXT: &str = r#"
title = "t"
summary = "s"
[run]
duration = "1s"
[[node]]
name = "db"
kind = "service"
workers = 4
service_time = "1ms"
[[node]]
name = "user"
kind = "client"
rate = "50/s"
target = "db"
[variants.slow]
description = "slower"
set = { "node.user.rate" = "10/s" }
[[expect]]
metric = "user.requests"
op = ">"
value = 20
[[expect]]
variant = "slow"
metric = "user.requests"
op = "<"
value = 20
"#;

    #[test]
    fn an_expectation_is_about_its_variant_or_the_scenario_as_written() {
        let s = load("t", "t.toml", TEXT).unwrap();
        let base: Vec<_> = expectations_for(&s.spec, None).collect();
        let slow: Vec<_> = expectations_for(&s.spec, Some("slow")).collect();
        assert_eq!((base.len(), slow.len()), (1, 1));
        assert_eq!(base[0].op.get_ref().as_str(), ">");
        assert_eq!(slow[0].op.get_ref().as_str(), "<");
        assert_eq!(judged_variants(&s), vec![None, Some("slow")]);
        assert_eq!(variant_label(None), "as written");
    }

    #[test]
    fn a_run_cut_short_is_judged_not_at_all() {
        let s = load("t", "t.toml", TEXT).unwrap();
        let mut built = build(&s.spec, 1).unwrap();
        built.limits = built.limits.with_max_events(10);
        let report = built.run();
        let err = judge(&s.spec, None, &built, &report).unwrap_err();
        assert!(err.contains("event budget"), "{err}");
        let mut built = build(&s.spec, 1).unwrap();
        let report = built.run();
        let judged = judge(&s.spec, None, &built, &report).unwrap();
        assert_eq!(judged.len(), 1);
        assert!(judged[0].holds(), "{judged:?}");
    }
}
