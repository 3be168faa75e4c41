//! Fault search: the faults `explore --faults` draws for a seed, within
//! the bounds of the scenario's `[search]` table, and how they are
//! written into the scenario as plain `[[fault]]`s.
//!
//! Swarm testing, as TigerBeetle's VOPR does it: each seed first draws
//! which of the allowed kinds are enabled at all (each with even odds, at
//! least one), then how many faults (1 to `most`), and for each its kind,
//! target, start and length. A target holds one drawn fault at a time,
//! and at most `at_once` are in force together, so every drawn fault
//! ends (a crash restarts, a partition heals, a slow service recovers)
//! and its window is its effect. Every draw comes from the seed's own
//! `search` stream: the same seed draws the same faults, and the run's
//! other streams are the same as without them.

use super::kinds;
use super::spec::{Duration, NodeKind, ScenarioSpec};
use crate::rng::SimRng;
use crate::time::SimDuration;
use serde::Deserialize;
use toml::Spanned;

/// The kinds of fault a search may draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A node crashes, and restarts at the end.
    Crash,
    /// A node is cut off from every other, both ways, then healed.
    Partition,
    /// A node cannot reach the others (or they it), then healed.
    OneWay,
    /// A node stops handling anything for a while.
    Pause,
    /// A service is several times slower, then recovers.
    Slow,
    /// A service fails a share of its calls, then recovers.
    Errors,
    /// A node's clock is set forward or back.
    Clock,
}

impl FaultKind {
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Crash,
        FaultKind::Partition,
        FaultKind::OneWay,
        FaultKind::Pause,
        FaultKind::Slow,
        FaultKind::Errors,
        FaultKind::Clock,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Partition => "partition",
            FaultKind::OneWay => "one_way",
            FaultKind::Pause => "pause",
            FaultKind::Slow => "slow",
            FaultKind::Errors => "errors",
            FaultKind::Clock => "clock",
        }
    }

    /// Only services have gray failures.
    fn needs_service(self) -> bool {
        matches!(self, FaultKind::Slow | FaultKind::Errors)
    }
}

/// The `[search]` table: what `explore --faults` may draw.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSpec {
    /// The kinds it may draw (default: all).
    pub faults: Option<Vec<FaultKind>>,
    /// The nodes it may hit, by node or replica name (default: every
    /// node that another calls, and every member of a group whose
    /// members talk to one another).
    pub targets: Option<Vec<Spanned<String>>>,
    /// At most this many faults in one run (default 3).
    pub most: Option<Spanned<u32>>,
    /// At most this many in force at once (default 2).
    pub at_once: Option<Spanned<u32>>,
    /// No fault starts before this (default: a tenth of the run).
    pub from: Option<Duration>,
    /// Every fault has ended by this (default: four fifths of the run).
    pub until: Option<Duration>,
    /// The longest a fault lasts (default: a quarter of the window).
    pub longest: Option<Duration>,
}

/// The most faults one search run may draw.
pub const MAX_SEARCH_FAULTS: u32 = 32;

/// One drawn fault: `kind` on `target` from `at` for `lasting`, with its
/// strength (a slow service's factor, an error rate, a clock's jump in
/// milliseconds, a one-way partition's direction).
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    pub kind: FaultKind,
    pub target: String,
    pub at_ms: u64,
    pub lasting_ms: u64,
    pub strength: f64,
}

impl Drawn {
    fn end_ms(&self) -> u64 {
        self.at_ms + self.lasting_ms
    }

    fn overlaps(&self, other: &Drawn) -> bool {
        self.at_ms < other.end_ms() && other.at_ms < self.end_ms()
    }

    /// What it does, in a line: "crash db-1 at 12.5s for 3s".
    pub fn describe(&self) -> String {
        let ms = |v: u64| SimDuration::from_millis(v).to_string();
        let what = match self.kind {
            FaultKind::OneWay if self.strength < 0.5 => format!("{} cannot send", self.target),
            FaultKind::OneWay => format!("{} cannot receive", self.target),
            FaultKind::Slow => format!("{} {:.0}x slower", self.target, self.strength),
            FaultKind::Errors => format!("{} fails {:.0}%", self.target, self.strength * 100.0),
            FaultKind::Clock => format!("{} clock {:+}ms", self.target, self.strength as i64),
            k => format!("{} {}", k.as_str(), self.target),
        };
        format!("{what} at {} for {}", ms(self.at_ms), ms(self.lasting_ms))
    }
}

/// The bounds of a search, resolved against a scenario.
#[derive(Clone, Debug)]
pub struct Bounds {
    pub kinds: Vec<FaultKind>,
    /// Each target with whether it is a service.
    pub targets: Vec<(String, bool)>,
    pub most: u32,
    pub at_once: u32,
    pub from_ms: u64,
    pub until_ms: u64,
    pub longest_ms: u64,
    /// Every node instance, for a partition's other side.
    pub everyone: Vec<String>,
}

impl Bounds {
    /// The bounds `spec`'s `[search]` table sets (its defaults without
    /// one); `Err` says why there is nothing to search.
    pub fn of(spec: &ScenarioSpec) -> Result<Bounds, String> {
        let s = spec.search.as_ref();
        let default = SearchSpec::default();
        let s = s.unwrap_or(&default);
        let run_ms = spec.run.duration.0.as_nanos() / 1_000_000;
        let ms = |d: &Option<Duration>, or: u64| d.map_or(or, |d| d.0.as_nanos() / 1_000_000);
        let from_ms = ms(&s.from, run_ms / 10);
        let until_ms = ms(&s.until, run_ms * 4 / 5).min(run_ms);
        let longest_ms = ms(&s.longest, until_ms.saturating_sub(from_ms) / 4).max(1);
        let instances = kinds::instances(spec);
        let service = |name: &str| {
            instances
                .iter()
                .any(|(i, n)| i == name && *n.kind.get_ref() == NodeKind::Service)
        };
        let names: Vec<String> = match &s.targets {
            Some(t) => t.iter().flat_map(|t| expand(spec, t.get_ref())).collect(),
            None => default_targets(spec),
        };
        let targets: Vec<(String, bool)> = names
            .into_iter()
            .map(|n| {
                let s = service(&n);
                (n, s)
            })
            .collect();
        let bounds = Bounds {
            kinds: s.faults.clone().unwrap_or_else(|| FaultKind::ALL.to_vec()),
            targets,
            most: s.most.as_ref().map_or(3, |m| *m.get_ref()),
            at_once: s.at_once.as_ref().map_or(2, |m| *m.get_ref()),
            from_ms,
            until_ms,
            longest_ms,
            everyone: instances.into_iter().map(|(i, _)| i).collect(),
        };
        if bounds.targets.is_empty() {
            return Err("the search has no node to put a fault on".into());
        }
        if bounds.until_ms <= bounds.from_ms {
            return Err("the search's window is empty: `until` is not after `from`".into());
        }
        Ok(bounds)
    }

    /// The kinds `kind` can hit here.
    fn targets_for(&self, kind: FaultKind) -> Vec<&str> {
        self.targets
            .iter()
            .filter(|(_, s)| *s || !kind.needs_service())
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// The faults seed `seed` draws.
    pub fn draw(&self, seed: u64) -> Vec<Drawn> {
        let mut rng = SimRng::for_component(seed, "search");
        let usable: Vec<FaultKind> = self
            .kinds
            .iter()
            .copied()
            .filter(|&k| !self.targets_for(k).is_empty())
            .collect();
        if usable.is_empty() {
            return Vec::new();
        }
        let mut enabled: Vec<FaultKind> =
            usable.iter().copied().filter(|_| rng.chance(0.5)).collect();
        if enabled.is_empty() {
            enabled.push(usable[rng.below(usable.len() as u64) as usize]);
        }
        let n = 1 + rng.below(u64::from(self.most.max(1)));
        let mut out: Vec<Drawn> = Vec::new();
        for _ in 0..n {
            // A few tries to find room; a fault that finds none is dropped.
            for _ in 0..8 {
                let d = self.one(&mut rng, &enabled);
                let same_target = out.iter().any(|o| o.target == d.target && o.overlaps(&d));
                let together = out.iter().filter(|o| o.overlaps(&d)).count() as u32;
                if !same_target && together < self.at_once.max(1) {
                    out.push(d);
                    break;
                }
            }
        }
        out.sort_by(|a, b| (a.at_ms, &a.target).cmp(&(b.at_ms, &b.target)));
        out
    }

    fn one(&self, rng: &mut SimRng, enabled: &[FaultKind]) -> Drawn {
        let kind = enabled[rng.below(enabled.len() as u64) as usize];
        let targets = self.targets_for(kind);
        let target = targets[rng.below(targets.len() as u64) as usize].to_string();
        let window = self.until_ms - self.from_ms;
        let longest = self.longest_ms.min(window).max(1);
        let lasting_ms = 1 + rng.below(longest);
        let at_ms = self.from_ms + rng.below(window - lasting_ms + 1);
        let strength = match kind {
            FaultKind::Slow => 2.0 + rng.below(19) as f64,
            FaultKind::Errors => (10 + 10 * rng.below(10)) as f64 / 100.0,
            FaultKind::Clock => {
                let jump = 1 + rng.below(longest) as i64;
                if rng.chance(0.5) {
                    jump as f64
                } else {
                    -(jump as f64)
                }
            }
            FaultKind::OneWay => rng.uniform(),
            _ => 0.0,
        };
        Drawn {
            kind,
            target,
            at_ms,
            lasting_ms,
            strength,
        }
    }
}

/// Node `name` as instances: a replica group's members, or itself.
fn expand(spec: &ScenarioSpec, name: &str) -> Vec<String> {
    let all = kinds::instances(spec);
    let members: Vec<String> = all
        .iter()
        .filter(|(i, n)| n.name.get_ref() == name && i != name)
        .map(|(i, _)| i.clone())
        .collect();
    if members.is_empty() {
        vec![name.to_string()]
    } else {
        members
    }
}

/// Every node another calls, and every member of a group whose members
/// talk to one another: the servers, not the load.
fn default_targets(spec: &ScenarioSpec) -> Vec<String> {
    let mut names: Vec<&str> = Vec::new();
    for n in &spec.nodes {
        for (callee, _) in kinds::callees(n) {
            if !names.contains(&callee) {
                names.push(callee);
            }
        }
    }
    for n in &spec.nodes {
        let name = n.name.get_ref().as_str();
        if kinds::of(*n.kind.get_ref()).peers && !names.contains(&name) {
            names.push(name);
        }
    }
    // In the file's order, so the draw does not depend on who calls whom.
    spec.nodes
        .iter()
        .map(|n| n.name.get_ref().as_str())
        .filter(|n| names.contains(n))
        .flat_map(|n| expand(spec, n))
        .collect()
}

/// The `[[fault]]` tables for `drawn`, in order: each fault's start, and
/// its end where it has one. `everyone` is every node instance.
pub fn fault_tables(drawn: &[Drawn], everyone: &[String]) -> Vec<toml::Table> {
    let mut out: Vec<(u64, usize, toml::Table)> = Vec::new();
    for (i, d) in drawn.iter().enumerate() {
        let at = |ms: u64| toml::Value::String(format!("{ms}ms"));
        let mut start = toml::Table::new();
        start.insert("at".into(), at(d.at_ms));
        let target = toml::Value::String(d.target.clone());
        let mut end = toml::Table::new();
        end.insert("at".into(), at(d.end_ms()));
        let name = format!("search-{}", i + 1);
        match d.kind {
            FaultKind::Crash => {
                start.insert("crash".into(), target.clone());
                end.insert("restart".into(), target);
            }
            FaultKind::Partition | FaultKind::OneWay => {
                let one = vec![target];
                let rest: Vec<toml::Value> = everyone
                    .iter()
                    .filter(|e| **e != d.target)
                    .map(|e| toml::Value::String(e.clone()))
                    .collect();
                let sides = if d.kind == FaultKind::OneWay && d.strength >= 0.5 {
                    vec![toml::Value::Array(rest), toml::Value::Array(one)]
                } else {
                    vec![toml::Value::Array(one), toml::Value::Array(rest)]
                };
                start.insert("partition".into(), toml::Value::Array(sides));
                if d.kind == FaultKind::OneWay {
                    start.insert("one_way".into(), toml::Value::Boolean(true));
                }
                start.insert("name".into(), toml::Value::String(name.clone()));
                end.insert("heal".into(), toml::Value::String(name));
            }
            FaultKind::Pause => {
                start.insert("pause".into(), target);
                start.insert("lasting".into(), at(d.lasting_ms));
                end.clear();
            }
            FaultKind::Slow | FaultKind::Errors => {
                let (field, companion, value) = if d.kind == FaultKind::Slow {
                    ("slow", "factor", toml::Value::Float(d.strength))
                } else {
                    ("errors", "rate", toml::Value::Float(d.strength))
                };
                start.insert(field.into(), target.clone());
                start.insert(companion.into(), value);
                end.insert("recover".into(), target);
            }
            FaultKind::Clock => {
                start.insert("clock".into(), target);
                let jump = d.strength as i64;
                start.insert("jump".into(), toml::Value::String(format!("{jump}ms")));
                end.clear();
            }
        }
        out.push((d.at_ms, 2 * i, start));
        if !end.is_empty() {
            out.push((d.end_ms(), 2 * i + 1, end));
        }
    }
    out.sort_by_key(|(at, order, _)| (*at, *order));
    out.into_iter().map(|(_, _, t)| t).collect()
}

/// Appends `drawn` to `doc`'s `[[fault]]`s, after the scripted ones.
pub fn add_faults(doc: &mut toml::Table, drawn: &[Drawn], everyone: &[String]) {
    let tables = fault_tables(drawn, everyone);
    let faults = doc
        .entry("fault")
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    if let toml::Value::Array(a) = faults {
        a.extend(tables.into_iter().map(toml::Value::Table));
    }
}
