//! Running a drawn fault schedule, and shrinking one that breaks an
//! expectation to a small counterexample (delta debugging).
//!
//! A `Case` is what a search run adds to the scenario: its drawn faults,
//! the run's length and a few `--set` values (fewer clients, a lower
//! rate). `Probe::breaks` runs a case and says whether the expectation
//! that first broke still breaks; a run cut short is not a result, so it
//! never counts as breaking. A smaller case is kept only if its drawn
//! faults are still to blame (`Probe::blames_faults`: it breaks, and
//! breaks no more without them), so shrinking cannot wander off to a run
//! so short or light that a ratio breaks by chance. `shrink` then tries, in this order and
//! keeping every change that still breaks it: fewer faults (ddmin over
//! the list: drop halves, then quarters, down to single faults), each
//! fault shorter (halving its length), the schedule earlier (halving the
//! time before it starts), a shorter run (halving, never
//! before the last fault ends), and for each node with a `rate`, half
//! the rate and half the `replicas`; then again from the top until a
//! round changes nothing (a lower rate may let a fault be shorter), so
//! the result is 1-minimal: halving any part of it again no longer
//! breaks the expectation. Every step is a run of the same seed
//! with the same per-component streams, so it is deterministic: the same
//! case shrinks to the same result.

use super::judge::expectations_for;
use super::load::{Scenario, load, set_path, value_at};
use super::search::{Drawn, add_faults};
use super::{build, judge};

/// What a search run adds to the scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub faults: Vec<Drawn>,
    /// The run's length.
    pub duration_ms: u64,
    /// Values set on the scenario as written (not on its variant).
    pub sets: Vec<(String, toml::Value)>,
}

/// How a run of a case ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Every expectation held.
    Held { fingerprint: String },
    /// The `index`-th expectation about the variant broke (the first).
    Broke {
        index: usize,
        metric: String,
        fingerprint: String,
    },
    /// Cut short, or the case does not make a valid scenario: no result.
    NoResult(String),
}

/// One scenario, variant and seed, whose cases are run.
pub struct Probe<'a> {
    pub scenario: &'a Scenario,
    pub variant: Option<&'a str>,
    pub seed: u64,
    /// The user's `--set` values, applied to every case.
    pub overrides: &'a [(String, toml::Value)],
    /// Every node instance, for a partition's other side.
    pub everyone: Vec<String>,
}

impl Probe<'_> {
    /// The scenario file of `case`: the scenario with the probe's variant
    /// applied, the overrides, the case's values and length, and its
    /// faults after the scripted ones; it keeps the variant's
    /// expectations only (as the file's own), and no variants,
    /// predictions or challenges, so it runs as written.
    pub fn text(&self, case: &Case) -> Result<String, String> {
        let mut sets = self.overrides.to_vec();
        sets.extend(case.sets.iter().cloned());
        let mut doc = self.scenario.document_with(self.variant, &sets)?;
        for gone in ["variants", "predict", "challenge"] {
            doc.remove(gone);
        }
        if let Some(toml::Value::Array(expect)) = doc.get_mut("expect") {
            let about = |t: &toml::Value| {
                let v = t.get("variant").and_then(toml::Value::as_str);
                v == self.variant
            };
            expect.retain(about);
            for e in expect.iter_mut().filter_map(toml::Value::as_table_mut) {
                e.remove("variant");
            }
        }
        let duration = toml::Value::String(format!("{}ms", case.duration_ms));
        set_path(&mut doc, "run.duration", duration)?;
        add_faults(&mut doc, &case.faults, &self.everyone);
        ordered(&doc)
    }

    /// Runs `case`.
    pub fn run(&self, case: &Case) -> Outcome {
        match self.try_run(case) {
            Ok(o) => o,
            Err(why) => Outcome::NoResult(why),
        }
    }

    fn try_run(&self, case: &Case) -> Result<Outcome, String> {
        let text = self.text(case)?;
        let s = load(&self.scenario.name, &self.scenario.file, &text).map_err(|d| d.message)?;
        let spec = s.resolve(None, &[])?;
        let mut built = build(&spec, self.seed)?;
        let report = built.run();
        let fingerprint = report.fingerprint.to_string();
        let judged = judge(&spec, None, &built, &report)?;
        Ok(match judged.iter().position(|j| !j.holds()) {
            Some(index) => Outcome::Broke {
                index,
                metric: judged[index].expectation.metric.get_ref().clone(),
                fingerprint,
            },
            None => Outcome::Held { fingerprint },
        })
    }

    /// Whether `case` still breaks the `index`-th expectation.
    pub fn breaks(&self, case: &Case, index: usize) -> bool {
        matches!(self.run(case), Outcome::Broke { index: i, .. } if i == index)
    }

    /// Whether `case` breaks the `index`-th expectation because of its
    /// drawn faults: it breaks, and the same case without them does not
    /// (a run made short or light enough can break a ratio by chance,
    /// with no fault to blame).
    pub fn blames_faults(&self, case: &Case, index: usize) -> bool {
        let quiet = Case {
            faults: Vec::new(),
            ..case.clone()
        };
        !case.faults.is_empty() && self.breaks(case, index) && !self.breaks(&quiet, index)
    }

    /// The number of expectations about the variant.
    pub fn expectations(&self) -> usize {
        expectations_for(&self.scenario.spec, self.variant).count()
    }
}

/// Where a shrink is: runs made so far (of at most `budget`) and the
/// faults left.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub runs: u32,
    pub budget: u32,
    pub faults: usize,
}

/// Shrinks `case`, which breaks expectation `index`, in at most `budget`
/// runs; `progress` hears of each.
pub fn shrink(
    probe: &Probe<'_>,
    case: Case,
    index: usize,
    budget: u32,
    mut progress: impl FnMut(Progress),
) -> Case {
    let mut s = Shrinker {
        probe,
        index,
        runs: 0,
        budget,
        best: case,
        progress: &mut progress,
        quiet: Vec::new(),
    };
    // Until nothing changes: a lower rate may let a fault be shorter.
    loop {
        let before = s.best.clone();
        s.fewer_faults();
        s.shorter_faults();
        s.earlier_faults();
        s.shorter_run();
        s.less_load();
        if s.best == before || s.runs >= s.budget {
            return s.best;
        }
    }
}

struct Shrinker<'a, 'p> {
    probe: &'a Probe<'p>,
    index: usize,
    runs: u32,
    budget: u32,
    best: Case,
    progress: &'a mut dyn FnMut(Progress),
    /// Whether the case with no drawn fault breaks the expectation, per
    /// run length and values: the same for every candidate that changes
    /// only the faults, so it is run once for each.
    quiet: Vec<(Case, bool)>,
}

impl Shrinker<'_, '_> {
    /// Keeps `candidate` if it still breaks the expectation (and the
    /// budget allows a run).
    fn try_keep(&mut self, candidate: Case) -> bool {
        if self.runs >= self.budget || candidate == self.best {
            return false;
        }
        self.runs += 1;
        // As `Probe::blames_faults`, with the faultless run remembered.
        let kept = !candidate.faults.is_empty()
            && self.probe.breaks(&candidate, self.index)
            && !self.quiet_breaks(&candidate);
        if kept {
            self.best = candidate;
        }
        (self.progress)(Progress {
            runs: self.runs,
            budget: self.budget,
            faults: self.best.faults.len(),
        });
        kept
    }

    /// Whether `candidate` without its drawn faults breaks the
    /// expectation too (run once per run length and values).
    fn quiet_breaks(&mut self, candidate: &Case) -> bool {
        let quiet = Case {
            faults: Vec::new(),
            ..candidate.clone()
        };
        if let Some((_, b)) = self.quiet.iter().find(|(q, _)| *q == quiet) {
            return *b;
        }
        let b = self.probe.breaks(&quiet, self.index);
        self.quiet.push((quiet, b));
        b
    }

    /// ddmin over the faults: remove a chunk at a time, finer and finer.
    fn fewer_faults(&mut self) {
        let mut n = 2usize;
        while !self.best.faults.is_empty() {
            let len = self.best.faults.len();
            let chunk = len.div_ceil(n);
            let mut removed = false;
            for start in (0..len).step_by(chunk.max(1)) {
                let mut c = self.best.clone();
                c.faults.drain(start..(start + chunk).min(len));
                if self.try_keep(c) {
                    n = n.saturating_sub(1).max(2);
                    removed = true;
                    break;
                }
            }
            if !removed {
                if chunk <= 1 {
                    break;
                }
                n = (2 * n).min(len);
            }
        }
    }

    /// Each fault as short as it can be: halving while it still breaks.
    fn shorter_faults(&mut self) {
        for i in 0..self.best.faults.len() {
            while self.best.faults[i].lasting_ms > 1 {
                let mut c = self.best.clone();
                c.faults[i].lasting_ms /= 2;
                if !self.try_keep(c) {
                    break;
                }
            }
        }
    }

    /// The run as short as it can be, never ending before a fault does.
    /// The whole schedule earlier, halving the time before its first
    /// fault, so that the run can be shorter.
    fn earlier_faults(&mut self) {
        loop {
            let Some(first) = self.best.faults.iter().map(|f| f.at_ms).min() else {
                return;
            };
            let shift = first / 2;
            if shift == 0 {
                return;
            }
            let mut c = self.best.clone();
            c.faults.iter_mut().for_each(|f| f.at_ms -= shift);
            if !self.try_keep(c) {
                return;
            }
        }
    }

    fn shorter_run(&mut self) {
        let last = |c: &Case| {
            c.faults
                .iter()
                .map(|f| f.at_ms + f.lasting_ms)
                .max()
                .unwrap_or(0)
        };
        loop {
            let half = self.best.duration_ms / 2;
            if half <= last(&self.best) || half == 0 {
                return;
            }
            let mut c = self.best.clone();
            c.duration_ms = half;
            if !self.try_keep(c) {
                return;
            }
        }
    }

    /// Less load: each node with a `rate` at half its rate, and at half
    /// its `replicas`, while it still breaks.
    fn less_load(&mut self) {
        let p = self.probe;
        let doc = match p.scenario.document_with(p.variant, p.overrides) {
            Ok(d) => d,
            Err(_) => return,
        };
        let loaders: Vec<String> = p
            .scenario
            .spec
            .nodes
            .iter()
            .filter(|n| n.rate.is_some())
            .map(|n| n.name.get_ref().clone())
            .collect();
        for name in loaders {
            for field in ["rate", "replicas"] {
                let path = format!("node.{name}.{field}");
                let Ok(Some(mut value)) = value_at(&doc, &path) else {
                    continue;
                };
                while let Some(less) = halved(&value) {
                    let mut c = self.best.clone();
                    c.sets.retain(|(p, _)| *p != path);
                    c.sets.push((path.clone(), less.clone()));
                    if !self.try_keep(c) {
                        break;
                    }
                    value = less;
                }
            }
        }
    }
}

/// The top-level keys in the order a person writes them.
const ORDER: &[&str] = &[
    "title",
    "summary",
    "story",
    "look_for",
    "questions",
    "look",
    "run",
    "network",
    "node",
    "link",
    "fault",
    "variants",
    "expect",
    "predict",
    "challenge",
    "search",
];

/// `doc` as TOML, its sections in the usual order (plain values first)
/// rather than alphabetically.
fn ordered(doc: &toml::Table) -> Result<String, String> {
    let rank = |k: &str| ORDER.iter().position(|o| *o == k).unwrap_or(ORDER.len());
    let section = |v: &toml::Value| match v {
        toml::Value::Table(_) => true,
        toml::Value::Array(a) => a.first().is_some_and(toml::Value::is_table),
        _ => false,
    };
    let mut keys: Vec<(&String, &toml::Value)> = doc.iter().collect();
    keys.sort_by_key(|(k, v)| (section(v), rank(k)));
    let mut out = String::new();
    for (k, v) in keys {
        let mut one = toml::Table::new();
        one.insert(k.clone(), v.clone());
        if section(v) && !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&toml::to_string(&one).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// Half a rate (`"200/s"`) or a count, if that is still something.
fn halved(v: &toml::Value) -> Option<toml::Value> {
    match v {
        toml::Value::Integer(n) if *n > 1 => Some(toml::Value::Integer(n / 2)),
        toml::Value::String(s) => {
            let per_s = super::units::parse_rate(s).ok()?;
            (per_s >= 0.2).then(|| toml::Value::String(format!("{}/s", trim(per_s / 2.0))))
        }
        _ => None,
    }
}

/// A number with at most three decimals, trailing zeros removed.
fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
