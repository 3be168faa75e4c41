//! Challenges: a goal (expectations) the learner reaches by changing a
//! few of the scenario's numbers, within a budget. Checked when the file
//! loads (the numbers exist, the solution keeps to them and resolves);
//! a try is judged the same way by every front end (`judge_try`); and
//! `check` proves on each of its seeds that the solution reaches the goal
//! and the scenario as the challenge starts does not, so a challenge can
//! neither be won by doing nothing nor be impossible.

// A diagnostic is built once, on the path that ends a load (see `load`).
#![allow(clippy::result_large_err)]

use super::build::{Verdict, evaluate};
use super::diagnostic::Diagnostic;
use super::load::{Scenario, check_expectation, check_variant_name, value_at};
use super::spec::{ChallengeSpec, ScenarioSpec};
use crate::metrics::Metrics;

/// Every challenge of a loaded scenario is well formed.
pub fn check(scenario: &Scenario) -> Result<(), Diagnostic> {
    for c in &scenario.spec.challenges {
        if let Some(v) = &c.variant {
            check_variant_name(scenario, v, "challenge.variant")?;
        }
        check_change(scenario, c)?;
        check_goal(scenario, c)?;
        check_solution(scenario, c)?;
    }
    Ok(())
}

fn at(scenario: &Scenario, span: std::ops::Range<usize>, message: String) -> Diagnostic {
    Diagnostic::at(&scenario.file, &scenario.source, span, message)
}

/// The variant a challenge starts from, as a label for messages.
fn start_label(c: &ChallengeSpec) -> String {
    match &c.variant {
        Some(v) => format!("variant `{}`", v.get_ref()),
        None => "the scenario as written".into(),
    }
}

/// A string a slider can move: a duration, a rate or a percentage (not a
/// name or a mode).
fn is_quantity(s: &str) -> bool {
    s.parse::<crate::time::SimDuration>().is_ok()
        || (s.contains('/') && super::units::parse_rate(s).is_ok())
        || (s.ends_with('%') && super::units::parse_probability(s).is_ok())
}

/// Each number the learner may change is one the scenario sets; the
/// budget allows at least one change and at most all of them.
fn check_change(scenario: &Scenario, c: &ChallengeSpec) -> Result<(), Diagnostic> {
    let variant = c.variant.as_ref().map(|v| v.get_ref().as_str());
    let doc = scenario
        .document_with(variant, &[])
        .map_err(|e| at(scenario, c.title.span(), e))?;
    let paths = c.change.get_ref();
    if paths.is_empty() {
        return Err(at(
            scenario,
            c.change.span(),
            "a challenge lets the learner change at least one number".into(),
        )
        .with_field("challenge.change"));
    }
    for p in paths {
        let found = value_at(&doc, p.get_ref()).map_err(|e| at(scenario, p.span(), e))?;
        let number = match &found {
            Some(toml::Value::Integer(_) | toml::Value::Float(_)) => true,
            Some(toml::Value::String(s)) => is_quantity(s),
            _ => false,
        };
        if !number {
            return Err(at(
                scenario,
                p.span(),
                format!(
                    "`{}` is not a number that {} sets",
                    p.get_ref(),
                    start_label(c)
                ),
            )
            .with_field("challenge.change")
            .with_expected("the path of a number, duration, rate or percentage the scenario sets, e.g. `node.api.workers`"));
        }
    }
    if let Some(b) = &c.budget
        && !(1..=paths.len()).contains(&(*b.get_ref() as usize))
    {
        return Err(at(
            scenario,
            b.span(),
            format!(
                "a budget of {} changes, with {} numbers to change",
                b.get_ref(),
                paths.len()
            ),
        )
        .with_field("challenge.budget")
        .with_expected(format!("a whole number from 1 to {}", paths.len())));
    }
    Ok(())
}

/// The goal has conditions, each a valid expectation without a variant.
fn check_goal(scenario: &Scenario, c: &ChallengeSpec) -> Result<(), Diagnostic> {
    if c.when.is_empty() {
        return Err(at(
            scenario,
            c.title.span(),
            "a challenge needs a goal in `when`".into(),
        )
        .with_field("challenge.when")
        .with_expected("a list of `{ metric = \"...\", op = \"...\", value = ... }`"));
    }
    for e in &c.when {
        if let Some(v) = &e.variant {
            return Err(at(
                scenario,
                v.span(),
                "a challenge's goal takes its variant from the challenge".into(),
            )
            .with_field("challenge.when.variant")
            .with_expected("`variant` on the `[[challenge]]` table instead"));
        }
        super::load::judged_once(&scenario.file, &scenario.source, e, "challenge")?;
        check_expectation(&scenario.file, &scenario.source, &scenario.spec, e)?;
    }
    Ok(())
}

/// The solution changes only numbers the challenge allows, within the
/// budget, and the scenario resolves with it.
fn check_solution(scenario: &Scenario, c: &ChallengeSpec) -> Result<(), Diagnostic> {
    let solution = c.solution.get_ref();
    let allowed = c.offered();
    if solution.is_empty() {
        return Err(at(
            scenario,
            c.solution.span(),
            "a challenge's solution changes at least one number".into(),
        )
        .with_field("challenge.solution"));
    }
    for (path, value) in solution {
        if !allowed.contains(&path.as_str()) {
            return Err(at(
                scenario,
                value.span(),
                format!("the solution changes `{path}`, which `change` does not list"),
            )
            .with_field("challenge.solution")
            .with_expected(format!("one of: {}", allowed.join(", ")))
            .with_suggestion(super::suggest::did_you_mean(path, allowed.iter().copied())));
        }
    }
    if let Some(b) = &c.budget
        && solution.len() > *b.get_ref() as usize
    {
        return Err(at(
            scenario,
            c.solution.span(),
            format!(
                "the solution makes {} changes, over the budget of {}",
                solution.len(),
                b.get_ref()
            ),
        )
        .with_field("challenge.solution"));
    }
    let variant = c.variant.as_ref().map(|v| v.get_ref().as_str());
    scenario.resolve(variant, &solution_sets(c)).map_err(|e| {
        at(
            scenario,
            c.solution.span(),
            format!("with the solution: {e}"),
        )
    })?;
    Ok(())
}

/// The solution as `--set` overrides.
pub fn solution_sets(c: &ChallengeSpec) -> Vec<(String, toml::Value)> {
    c.solution
        .get_ref()
        .iter()
        .map(|(p, v)| (p.clone(), v.get_ref().clone()))
        .collect()
}

/// The challenges that start from `variant` (`None`: as written).
pub fn challenges_for<'a>(
    spec: &'a ScenarioSpec,
    variant: Option<&'a str>,
) -> impl Iterator<Item = &'a ChallengeSpec> + 'a {
    spec.challenges
        .iter()
        .filter(move |c| super::judge::is_about(c.variant.as_ref(), variant))
}

/// One try at a challenge, judged on a run that reached its end.
#[derive(Debug)]
pub struct Try<'a> {
    pub challenge: &'a ChallengeSpec,
    /// The goal's conditions, judged on the run.
    pub verdicts: Vec<Result<Verdict, String>>,
    /// The numbers the try changed that the challenge allows.
    pub changed: Vec<String>,
    /// The numbers the try changed that it does not.
    pub not_allowed: Vec<String>,
}

impl Try<'_> {
    /// Every condition of the goal holds.
    pub fn reached(&self) -> bool {
        self.verdicts.iter().all(|v| matches!(v, Ok(v) if v.holds))
    }

    /// More allowed numbers changed than the budget allows.
    pub fn over_budget(&self) -> bool {
        self.challenge
            .budget
            .as_ref()
            .is_some_and(|b| self.changed.len() > *b.get_ref() as usize)
    }

    /// The rules the try broke, each as what it did ("changed
    /// node.user.rate, which the challenge does not offer"); empty: none.
    pub fn broken(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.not_allowed.is_empty() {
            out.push(format!(
                "changed {}, which the challenge does not offer",
                self.not_allowed.join(", ")
            ));
        }
        if let Some(b) = &self.challenge.budget
            && self.over_budget()
        {
            out.push(format!(
                "changed {} numbers, over the budget of {}",
                self.changed.len(),
                b.get_ref()
            ));
        }
        out
    }

    /// The goal reached within the rules.
    pub fn won(&self) -> bool {
        self.reached() && self.not_allowed.is_empty() && !self.over_budget()
    }

    /// What the goal's conditions read on the run, each metric once.
    pub fn measured(&self) -> String {
        super::predict::measured(&self.verdicts)
    }
}

/// Judges a try: `overrides` are the changes made to the challenge's
/// start (each path counted once), the run reached `end`.
pub fn judge_try<'a>(
    c: &'a ChallengeSpec,
    overrides: &[(String, toml::Value)],
    metrics: &Metrics,
    faults: &[super::timeline::FaultWindow],
    end: crate::time::SimTime,
) -> Try<'a> {
    let offered = c.offered();
    let allowed = |p: &str| offered.contains(&p);
    let mut changed: Vec<String> = Vec::new();
    let mut not_allowed: Vec<String> = Vec::new();
    for (path, _) in overrides {
        let list = if allowed(path) {
            &mut changed
        } else {
            &mut not_allowed
        };
        if !list.contains(path) {
            list.push(path.clone());
        }
    }
    Try {
        challenge: c,
        verdicts: c
            .when
            .iter()
            .map(|e| evaluate(e, metrics, faults, end))
            .collect(),
        changed,
        not_allowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::build::build;
    use crate::scenario::load::load;

    /// A service with one slow worker and more work than it can do: the
    /// goal needs more workers.
    const TEXT: &str = r#"
title = "t"
summary = "s"
[run]
duration = "5s"
[[node]]
name = "db"
kind = "service"
workers = 1
service_time = "20ms"
queue = 10
[[node]]
name = "user"
kind = "client"
rate = "200/s"
target = "db"
[[challenge]]
title = "Serve everyone"
goal = "At least 99% of requests succeed."
change = ["node.db.workers", "node.db.queue"]
budget = 1
when = [{ metric = "user.ok / user.requests", op = ">=", value = 0.99 }]
hint = "Four requests arrive per unit of work a worker can do."
solution = { "node.db.workers" = 8 }
"#;

    fn try_on(text: &str, overrides: &[(String, toml::Value)]) -> (bool, bool) {
        let (reached, won, _) = judged(text, overrides);
        (reached, won)
    }

    /// Reached, won, and the rules broken.
    fn judged(text: &str, overrides: &[(String, toml::Value)]) -> (bool, bool, Vec<String>) {
        let s = load("t", "t.toml", text).unwrap();
        let spec = s.resolve(None, overrides).unwrap();
        let mut built = build(&spec, 1).unwrap();
        let report = built.run();
        let faults = super::super::timeline::fault_windows(&spec);
        let c = &s.spec.challenges[0];
        let t = judge_try(c, overrides, built.sim.metrics(), &faults, report.end_time);
        (t.reached(), t.won(), t.broken())
    }

    #[test]
    fn the_solution_wins_and_the_start_loses() {
        let s = load("t", "t.toml", TEXT).unwrap();
        assert_eq!(challenges_for(&s.spec, None).count(), 1);
        assert_eq!(try_on(TEXT, &[]), (false, false));
        let solution = solution_sets(&s.spec.challenges[0]);
        assert_eq!(try_on(TEXT, &solution), (true, true));
        // Reached, but by changing two numbers with a budget of one.
        let both = [
            ("node.db.workers".to_string(), toml::Value::Integer(8)),
            ("node.db.queue".to_string(), toml::Value::Integer(20)),
        ];
        assert_eq!(try_on(TEXT, &both), (true, false));
        assert_eq!(
            judged(TEXT, &both).2,
            ["changed 2 numbers, over the budget of 1"]
        );
        // Reached, but through a number the challenge does not offer.
        let other = [
            ("node.db.workers".to_string(), toml::Value::Integer(8)),
            (
                "node.user.rate".to_string(),
                toml::Value::String("1/s".into()),
            ),
        ];
        assert_eq!(try_on(TEXT, &other), (true, false));
        assert_eq!(
            judged(TEXT, &other).2,
            ["changed node.user.rate, which the challenge does not offer"]
        );
        assert!(judged(TEXT, &solution).2.is_empty());
    }

    /// Issue 22 asks for at least one challenge per chapter of the path.
    #[test]
    fn every_chapter_of_the_path_offers_a_challenge() {
        let path = crate::scenario::path::learning_path().unwrap();
        for chapter in &path.chapters {
            let offered = chapter.stories.iter().any(|step| {
                let (_, text) = crate::scenario::STORIES
                    .iter()
                    .find(|(n, _)| *n == step.name)
                    .unwrap();
                let s = load(&step.name, "s.toml", text).unwrap();
                !s.spec.challenges.is_empty()
            });
            assert!(offered, "chapter `{}` has no challenge", chapter.title);
        }
    }

    #[test]
    fn a_broken_challenge_says_what_is_wrong() {
        let err = |from: &str, to: &str| {
            let text = TEXT.replace(from, to);
            assert_ne!(text, TEXT, "{from}");
            load("t", "t.toml", &text).unwrap_err().to_string()
        };
        let has = |e: String, what: &str| assert!(e.contains(what), "{what} not in {e}");
        has(
            err("\"node.db.queue\"]", "\"node.db.qeue\"]"),
            "`node.db.qeue` is not a number that the scenario as written sets",
        );
        has(
            err("\"node.db.queue\"]", "\"node.user.target\"]"),
            "`node.user.target` is not a number that the scenario as written sets",
        );
        has(
            err("\"node.db.queue\"]", "\"node.dbb.queue\"]"),
            "there is no node called `dbb`; did you mean `db`?",
        );
        has(
            err("budget = 1", "budget = 3"),
            "a budget of 3 changes, with 2 numbers",
        );
        has(
            err("{ \"node.db.workers\" = 8 }", "{ \"node.db.worker\" = 8 }"),
            "the solution changes `node.db.worker`, which `change` does not list",
        );
        has(
            err(
                "{ \"node.db.workers\" = 8 }",
                "{ \"node.db.workers\" = 8, \"node.db.queue\" = 20 }",
            ),
            "the solution makes 2 changes, over the budget of 1",
        );
        has(
            err(
                "{ \"node.db.workers\" = 8 }",
                "{ \"node.db.workers\" = -1 }",
            ),
            "with the solution:",
        );
        has(
            err("when = [{ metric", "when = [{ variant = \"x\", metric"),
            "a challenge's goal takes its variant from the challenge",
        );
        has(
            err(
                "op = \">=\", value = 0.99 }]",
                "op = \">=\", value = 0.99 }]\nvariant = \"nope\"",
            ),
            "no variant `nope`",
        );
        has(
            err("user.ok / user.requests", "user.okk / user.requests"),
            "user.okk",
        );
        has(
            err(
                "change = [\"node.db.workers\", \"node.db.queue\"]",
                "change = []",
            ),
            "at least one number",
        );
    }
}
