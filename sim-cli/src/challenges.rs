//! A run's tries at its story's challenges, as `faultline run` prints
//! them: each challenge that starts from the variant run, whether this
//! run (with its `--set` changes) reached the goal within the rules, the
//! numbers that decide it, and the hint when it did not
//! (`sim_core::scenario::judge_try` judges them).

use super::report::paint;
use serde_json::{Value, json};
use sim_core::scenario::Try;
use std::fmt::Write;

/// The challenges section of the text report (empty without any).
pub fn text(tries: &[Try<'_>], colour: bool) -> String {
    let mut out = String::new();
    if tries.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\n{}", paint("challenges", "1", colour));
    for t in tries {
        let c = t.challenge;
        let _ = writeln!(out, "  {}: {}", c.title.get_ref(), c.goal);
        let offered = c.offered();
        let budget = c.budget.as_ref().map_or(String::new(), |b| {
            format!(", at most {} of them", b.get_ref())
        });
        let _ = writeln!(out, "    change (--set): {}{budget}", offered.join(", "));
        let verdict = if t.won() {
            paint("won", "32", colour)
        } else {
            paint("not yet", "33", colour)
        };
        let _ = writeln!(out, "    {verdict} ({})", t.measured());
        for b in t.broken() {
            let _ = writeln!(out, "    this try {b}");
        }
        if !t.won() && !c.hint.is_empty() {
            let _ = writeln!(out, "    hint: {}", c.hint);
        }
    }
    out
}

/// The tries as JSON.
pub fn json(tries: &[Try<'_>]) -> Value {
    let list: Vec<Value> = tries
        .iter()
        .map(|t| {
            json!({"title": t.challenge.title.get_ref(), "goal": t.challenge.goal,
                   "reached": t.reached(), "won": t.won(), "measured": t.measured(),
                   "changed": t.changed, "not_allowed": t.not_allowed,
                   "broken": t.broken(), "hint": t.challenge.hint})
        })
        .collect();
    Value::Array(list)
}
