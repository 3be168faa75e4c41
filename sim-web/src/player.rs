//! A scenario being played: the simulation, how far it has run, and the
//! playback controls (speed, pause, step, seek). Work is sliced: a frame
//! advances the simulation by at most a budget of events, so a long run
//! never freezes the page.
//!
//! Seeking backwards rebuilds the run and replays it to the chosen time;
//! the simulation is deterministic, so the replayed past is the same past.
//! The whole run keeps the scenario's event and memory budgets: a run
//! over either is cut short, not a result, and nothing is judged.
//!
//! Faults the user makes (`act`: crash, restart, cut a link; `partition`:
//! the nodes on two sides of a drawn line) are scheduled at a time with
//! no event pending, just after now, which is where the exported file's
//! copy of the fault lands too, so the export replays to the same
//! fingerprint. `set_parameter` applies a `--set`-style override and runs
//! again to where playback was; the export carries the overrides as an
//! added variant (`edited`). Samples are taken at fixed points of
//! simulated time (`sample`), so charts do not depend on how a run was
//! sliced into frames.

use crate::observe::{ObserveSink, Shared};
use crate::sample::Samples;
use sim_core::Metrics;
use sim_core::RunLimits;
use sim_core::scenario::ScenarioSpec;
use sim_core::scenario::expectations_for;
use sim_core::scenario::{Built, Verdict, build, grade_one, graded_at, pauses, predictions_for};
use sim_core::scenario::{Scenario, load};
use sim_core::{SimDuration, SimTime};

/// Events one frame may process (about 10 ms of work natively).
pub const FRAME_BUDGET: u64 = 50_000;

/// A fault the user scheduled by clicking, recorded so the session can be
/// exported as a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserFault {
    pub at: SimTime,
    /// `crash` or `restart` (of `node`), or `partition` (between the two
    /// `groups`: a cut link's ends, or the sides of a drawn line).
    pub action: &'static str,
    pub node: String,
    pub groups: Vec<Vec<String>>,
}

/// What an expectation came to at the end of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub because: String,
    pub verdict: Result<Verdict, String>,
}

/// What the run says of one prediction about its variant.
pub struct Answered {
    /// The answer the run supports, if exactly one holds.
    pub supported: Option<usize>,
    /// The numbers that decide it.
    pub measured: String,
}

pub struct Player {
    /// The story's name (or "shared" for a link's scenario).
    pub name: String,
    /// The scenario text as loaded.
    pub text: String,
    pub scenario: Scenario,
    pub variant: Option<String>,
    pub seed: u64,
    pub spec: ScenarioSpec,
    built: Built,
    /// Where the run stops.
    pub end: SimTime,
    /// The time the user asked for; the simulation catches up to it.
    pub target: SimTime,
    pub playing: bool,
    /// Simulated seconds per real second.
    pub speed: f64,
    outcomes: Option<Vec<Outcome>>,
    /// The run's answers to the predictions about its variant (in the
    /// order of `predictions_for`), each once the run has reached the time
    /// it is graded at: its `at`, or the end.
    answered: Vec<Option<Answered>>,
    /// The times the run stops at to grade a prediction before the end,
    /// and how many of them it has passed.
    pauses: Vec<SimTime>,
    paused: usize,
    /// Why the run stopped before its end (its event or memory budget ran
    /// out): then it is not a result, and no expectation is judged.
    cut_short: Option<String>,
    pub user_faults: Vec<UserFault>,
    /// Parameters the user changed: `(path, value)` as `--set` takes them,
    /// applied after the variant.
    pub overrides: Vec<(String, toml::Value)>,
    /// Times the run was built again (a variant, a seed, a parameter, a
    /// seek backwards): tests see a replay nobody asked for.
    pub rebuilds: u64,
    /// Traffic, timeline marks and recent requests, for the views.
    pub observed: Shared,
    /// Counts over time, for the charts.
    pub samples: Samples,
}

impl Player {
    /// Loads `text` and builds it under `variant` and `seed` (None: the
    /// scenario's own seed).
    pub fn new(
        name: &str,
        text: &str,
        variant: Option<&str>,
        seed: Option<u64>,
    ) -> Result<Self, String> {
        let scenario = load(name, &format!("{name}.toml"), text).map_err(|d| d.to_string())?;
        let spec = scenario.resolve(variant, &[])?;
        let seed = seed.unwrap_or(spec.run.seed);
        let (built, observed) = Self::build_traced(&spec, seed)?;
        let end = SimTime::ZERO + spec.run.duration.0;
        let samples = Samples::new(end);
        let pauses = pauses(&spec, variant);
        Ok(Player {
            name: name.to_string(),
            text: text.to_string(),
            variant: variant.map(str::to_string),
            seed,
            spec,
            scenario,
            built,
            end,
            target: SimTime::ZERO,
            playing: false,
            speed: 1.0,
            outcomes: None,
            answered: Vec::new(),
            pauses,
            paused: 0,
            cut_short: None,
            user_faults: Vec::new(),
            overrides: Vec::new(),
            rebuilds: 0,
            observed,
            samples,
        })
    }

    fn build_traced(spec: &ScenarioSpec, seed: u64) -> Result<(Built, Shared), String> {
        let mut built = build(spec, seed)?;
        let sink = ObserveSink::default();
        let observed = sink.observed.clone();
        built.sim.set_trace(Box::new(sink));
        Ok((built, observed))
    }

    /// The same scenario under another variant or seed, from the start
    /// (the user's faults are kept).
    pub fn rebuild(&mut self, variant: Option<&str>, seed: u64) -> Result<(), String> {
        self.rebuilds += 1;
        let spec = self.scenario.resolve(variant, &self.overrides)?;
        (self.built, self.observed) = Self::build_traced(&spec, seed)?;
        self.samples = Samples::new(SimTime::ZERO + spec.run.duration.0);
        self.spec = spec;
        self.variant = variant.map(str::to_string);
        self.seed = seed;
        self.end = SimTime::ZERO + self.spec.run.duration.0;
        self.target = SimTime::ZERO;
        self.outcomes = None;
        self.answered = Vec::new();
        self.pauses = pauses(&self.spec, variant);
        self.paused = 0;
        self.cut_short = None;
        let faults = std::mem::take(&mut self.user_faults);
        for f in faults {
            self.schedule(f)?;
        }
        Ok(())
    }

    pub fn now(&self) -> SimTime {
        self.built.sim.now()
    }

    /// When the scheduled faults are in force.
    pub fn faults(&self) -> &[sim_core::scenario::FaultWindow] {
        &self.built.faults
    }

    pub fn metrics(&self) -> &Metrics {
        self.built.sim.metrics()
    }

    pub fn sim(&self) -> &sim_core::Simulation<sim_core::scenario::Rpc> {
        &self.built.sim
    }

    pub fn is_finished(&self) -> bool {
        self.outcomes.is_some()
    }

    /// The fingerprint of the events so far (of the whole run once it has
    /// finished).
    pub fn fingerprint(&self) -> String {
        format!("{:016x}", self.built.sim.fingerprint().0)
    }

    /// The expectations' verdicts, once the run has finished.
    pub fn outcomes(&self) -> Option<&[Outcome]> {
        self.outcomes.as_deref()
    }

    /// Why the run stopped early, if its event or memory budget ran out.
    pub fn cut_short(&self) -> Option<&str> {
        self.cut_short.as_deref()
    }

    /// Stops the run if a slice ended on a budget, or the run as a whole
    /// has used its event budget: the same limits as the CLI's, so that no
    /// scenario (a share link, a dropped file) can freeze the page.
    fn check_budgets(&mut self, slice: &sim_core::RunReport) -> bool {
        let limits = self.built.limits;
        let stop = match slice.stop {
            sim_core::StopReason::MemoryBudget { .. } => slice.stop.clone(),
            sim_core::StopReason::EventBudget { .. }
                if self.built.sim.events_processed() >= limits.max_events =>
            {
                sim_core::StopReason::EventBudget {
                    budget: limits.max_events,
                }
            }
            _ => return false,
        };
        let whole = sim_core::RunReport {
            stop,
            until: self.end,
            ..slice.clone()
        };
        let why = sim_core::scenario::cut_short(&whole).unwrap_or_default();
        self.outcomes = Some(
            expectations_for(&self.spec, self.variant.as_deref())
                .map(|e| Outcome {
                    because: e.because.clone(),
                    verdict: Err("not judged: the run was cut short".into()),
                })
                .collect(),
        );
        self.cut_short = Some(why);
        self.playing = false;
        self.target = self.now();
        true
    }

    /// Advances playback by `real_dt` seconds of wall time at the current
    /// speed, then works towards the target within `budget` events.
    pub fn tick(&mut self, real_dt: f64, budget: u64) {
        if self.playing {
            let step = SimDuration::from_nanos((real_dt.max(0.0) * self.speed * 1e9) as u64);
            self.target = (self.target + step).min(self.end);
            if self.target >= self.end {
                self.playing = false;
            }
        }
        self.work(budget);
    }

    /// Runs towards the target, at most `budget` events; true when there.
    pub fn work(&mut self, budget: u64) -> bool {
        if self.outcomes.is_some() {
            return true;
        }
        let target = self.target.min(self.end);
        if self.now() > target {
            // A seek backwards: replay from the start.
            let (variant, seed) = (self.variant.clone(), self.seed);
            let keep = target;
            if self.rebuild(variant.as_deref(), seed).is_err() {
                return true;
            }
            self.target = keep;
        }
        // Follow only the requests near the time to be shown.
        let window = SimDuration::from_nanos((self.end.as_nanos() / 50).max(2_000_000_000));
        let follow_from = SimTime::ZERO
            + SimDuration::from_nanos(target.as_nanos().saturating_sub(window.as_nanos()));
        {
            let mut observed = self.observed.borrow_mut();
            // A jump past what was followed: the requests kept would miss
            // the events skipped, so start afresh there.
            if follow_from > self.built.sim.now() && follow_from > observed.follow_from {
                observed.forget_requests();
            }
            observed.follow_from = follow_from;
        }
        // Run to each sample point on the way, and take the sample there.
        let mut budget = budget.max(1);
        loop {
            let stop = target.min(self.next_stop());
            let left = self
                .built
                .limits
                .max_events
                .saturating_sub(self.built.sim.events_processed());
            let report = self.built.sim.run(
                RunLimits::until(stop)
                    .with_max_events(budget.min(left.max(1)))
                    .with_max_memory(self.built.limits.max_memory),
            );
            if self.check_budgets(&report) {
                return true;
            }
            if matches!(report.stop, sim_core::StopReason::EventBudget { .. }) {
                return false;
            }
            budget = budget.saturating_sub(report.events).max(1);
            self.at_stop(stop);
            if stop == target {
                break;
            }
        }
        if target >= self.end {
            self.finish();
        }
        true
    }

    /// Takes the samples due before `t`, running to each (no event lies
    /// between now and `t`'s events, so this runs none of them).
    fn advance_before(&mut self, t: SimTime) {
        while self.next_stop() < t {
            let next = self.next_stop();
            self.built
                .sim
                .run(RunLimits::until(next).with_max_events(u64::MAX / 2));
            self.at_stop(next);
        }
    }

    /// The next time the run stops at on its way: a sample, or a
    /// prediction's time.
    fn next_stop(&self) -> SimTime {
        let pause = self
            .pauses
            .get(self.paused)
            .copied()
            .unwrap_or(SimTime::MAX);
        let watch = self.built.watch.next().unwrap_or(SimTime::MAX);
        self.samples.next.min(pause).min(watch)
    }

    /// At a stop: takes the sample due, and grades the predictions due.
    fn at_stop(&mut self, stop: SimTime) {
        if self.built.watch.next() == Some(stop) {
            self.built.observe();
        }
        let sample = stop == self.samples.next;
        let pause = self.pauses.get(self.paused) == Some(&stop);
        if !(sample || pause) {
            return;
        }
        self.built.drain();
        if sample {
            self.samples.take(&self.built);
        }
        if pause {
            self.paused += 1;
            let metrics = self.built.metrics_now();
            let v = self.variant.as_deref();
            let fresh = answers_at(
                &self.spec,
                v,
                &self.built.faults,
                Some(stop),
                &metrics,
                stop,
            );
            self.keep(fresh);
        }
    }

    /// Keeps answers just graded (`answers_at`), each at its index.
    fn keep(&mut self, fresh: Vec<(usize, Answered)>) {
        for (i, a) in fresh {
            if self.answered.len() <= i {
                self.answered.resize_with(i + 1, || None);
            }
            self.answered[i] = Some(a);
        }
    }

    /// Changes a parameter (a path as `--set` takes it) and re-runs to
    /// where playback was; a value the scenario refuses is not kept.
    pub fn set_parameter(&mut self, path: &str, value: toml::Value) -> Result<(), String> {
        let before = self.overrides.clone();
        self.overrides.retain(|(p, _)| p != path);
        self.overrides.push((path.to_string(), value));
        let (variant, seed, at) = (self.variant.clone(), self.seed, self.now());
        if let Err(e) = self.rebuild(variant.as_deref(), seed) {
            self.overrides = before;
            let _ = self.rebuild(variant.as_deref(), seed);
            self.seek(at);
            return Err(e);
        }
        self.seek(at);
        Ok(())
    }

    /// Jumps to `t` (forwards or backwards); the work happens in later
    /// frames.
    pub fn seek(&mut self, t: SimTime) {
        let t = t.min(self.end);
        if self.cut_short.is_some() && t >= self.now() {
            // A run cut short goes no further.
            return;
        }
        if t < self.now() {
            self.outcomes = None;
        }
        self.target = t;
    }

    /// Runs to the end now, however long it takes.
    /// Play or pause; playing a run that has ended starts it again.
    pub fn toggle_play(&mut self) {
        if !self.playing && self.is_finished() {
            self.seek(SimTime::ZERO);
        }
        self.playing = !self.playing;
    }

    pub fn run_to_end(&mut self) {
        self.target = self.end;
        while !self.work(u64::MAX / 2) {}
        self.playing = false;
    }

    /// Moves on by one event.
    pub fn step(&mut self) {
        if self.outcomes.is_some() {
            return;
        }
        self.playing = false;
        // Samples due before the next event are taken first.
        if let Some(t) = self.built.sim.next_event_time() {
            self.advance_before(t.min(self.end));
        }
        let report = self.built.sim.run(
            RunLimits::until(self.end)
                .with_max_events(1)
                .with_max_memory(self.built.limits.max_memory),
        );
        if self.check_budgets(&report) {
            return;
        }
        self.target = self.now();
        if self.now() >= self.end {
            self.finish();
        }
    }

    fn finish(&mut self) {
        self.built.finish();
        let end = self.now();
        let metrics = self.built.sim.metrics();
        self.outcomes = Some(
            expectations_for(&self.spec, self.variant.as_deref())
                .map(|e| Outcome {
                    because: e.because.clone(),
                    verdict: sim_core::scenario::verdict(&self.spec, &self.built, e, end),
                })
                .collect(),
        );
        let v = self.variant.as_deref();
        let fresh = answers_at(&self.spec, v, &self.built.faults, None, metrics, end);
        self.keep(fresh);
    }

    /// The run's answer to prediction `i` (of those about its variant),
    /// once the run has reached the time it is graded at; none for a run
    /// cut short (it is not a result).
    pub fn answered(&self, i: usize) -> Option<&Answered> {
        if self.cut_short.is_some() {
            return None;
        }
        self.answered.get(i)?.as_ref()
    }

    /// Schedules a fault the user asked for, as soon as it can be placed
    /// exactly: at a time with no event pending, just after now. (The
    /// exported file schedules it before the run starts, so at that time
    /// it comes first; here it must too, for the fingerprints to agree.)
    pub fn act(
        &mut self,
        action: &'static str,
        node: &str,
        other: Option<&str>,
    ) -> Result<(), String> {
        if let ("partition", Some(other)) = (action, other) {
            return self.partition(vec![vec![node.to_string()], vec![other.to_string()]]);
        }
        let at = self.place()?;
        self.schedule(UserFault {
            at,
            action,
            node: node.to_string(),
            groups: Vec::new(),
        })
    }

    /// Partitions the system into two `groups` now: a cut link's two ends,
    /// or the sides of a line the user drew.
    pub fn partition(&mut self, groups: Vec<Vec<String>>) -> Result<(), String> {
        if groups.len() != 2 || groups.iter().any(Vec::is_empty) {
            return Err("a partition needs nodes on both sides".into());
        }
        let at = self.place()?;
        self.schedule(UserFault {
            at,
            action: "partition",
            node: String::new(),
            groups,
        })
    }

    /// The time a fault made now is placed at (see `act`).
    fn place(&mut self) -> Result<SimTime, String> {
        if self.is_finished() {
            return Err("the run has ended; seek back to change it".into());
        }
        let one = SimDuration::from_nanos(1);
        let at = loop {
            let next = self.built.sim.next_event_time();
            let at = self.now() + one;
            match next {
                Some(n) if n <= at => {
                    self.advance_before(n);
                    self.built
                        .sim
                        .run(RunLimits::until(n).with_max_events(u64::MAX / 2));
                }
                _ => break at,
            }
        };
        self.target = self.target.max(at);
        Ok(at)
    }

    /// Schedules a fault at its recorded time (kept when the run is
    /// rebuilt, so they replay).
    pub fn schedule(&mut self, f: UserFault) -> Result<(), String> {
        use sim_core::Fault;
        use sim_core::{NodeSet, Partition};
        let sim = &mut self.built.sim;
        let id = |sim: &sim_core::Simulation<_>, name: &str| {
            sim.node_id(name)
                .ok_or_else(|| format!("there is no node called `{name}`"))
        };
        let fault = match f.action {
            "crash" => Fault::Crash(id(sim, &f.node)?),
            "restart" => Fault::Restart(id(sim, &f.node)?),
            "partition" => {
                let mut sets = Vec::new();
                for g in &f.groups {
                    let mut set = NodeSet::new();
                    for n in g {
                        set.insert(id(sim, n)?);
                    }
                    sets.push(set);
                }
                let (a, b) = (sets.remove(0), sets.remove(0));
                Fault::Partition(Partition::between(&partition_name(&f.groups), a, b))
            }
            other => return Err(format!("unknown action `{other}`")),
        };
        sim.schedule(f.at, fault).map_err(|e| e.to_string())?;
        self.user_faults.push(f);
        Ok(())
    }

    /// The variant an exported file is run with: the chosen one, or, once
    /// parameters were changed, a variant the export adds (the chosen
    /// variant's settings, then the changed parameters).
    pub fn exported_variant(&self) -> Option<String> {
        if self.overrides.is_empty() {
            return self.variant.clone();
        }
        let taken = |n: &str| self.scenario.variants().any(|v| v == n);
        let name = (1..)
            .map(|i| {
                if i == 1 {
                    "edited".to_string()
                } else {
                    format!("edited-{i}")
                }
            })
            .find(|n| !taken(n))
            .expect("a free name");
        Some(name)
    }

    /// The scenario as a file that `faultline run --seed <seed> --variant
    /// <exported_variant>` replays to the same fingerprint: the text as
    /// loaded, with the changed parameters as a variant and the user's
    /// faults appended.
    pub fn export(&self) -> String {
        let mut out = String::new();
        out.push_str(&self.text);
        if !out.ends_with('\n') {
            out.push('\n');
        }
        if let (false, Some(name)) = (self.overrides.is_empty(), self.exported_variant()) {
            let mut set: Vec<(String, toml::Value)> = self
                .variant
                .as_ref()
                .and_then(|v| self.scenario.spec.variants.get(v))
                .map(|v| {
                    v.get_ref()
                        .set
                        .iter()
                        .map(|(p, x)| (p.clone(), x.get_ref().clone()))
                        .collect()
                })
                .unwrap_or_default();
            for (path, value) in &self.overrides {
                set.retain(|(p, _)| p != path);
                set.push((path.clone(), value.clone()));
            }
            let based = self
                .variant
                .as_ref()
                .map_or("the scenario as written".to_string(), |v| {
                    format!("variant {v}")
                });
            out.push_str(&format!(
                "\n# Added in the browser.\n[variants.{name}]\ndescription = \"{based}, with parameters changed in the browser\"\nset = {{ "
            ));
            let items: Vec<String> = set.iter().map(|(p, v)| format!("\"{p}\" = {v}")).collect();
            out.push_str(&items.join(", "));
            out.push_str(" }\n");
        }
        for f in &self.user_faults {
            out.push_str(&format!(
                "\n# Added in the browser.\n[[fault]]\nat = \"{}ns\"\n",
                f.at.as_nanos()
            ));
            match f.action {
                "partition" => {
                    let sides: Vec<String> = f
                        .groups
                        .iter()
                        .map(|g| {
                            let names: Vec<String> = g.iter().map(|n| format!("\"{n}\"")).collect();
                            format!("[{}]", names.join(", "))
                        })
                        .collect();
                    out.push_str(&format!(
                        "partition = [{}]\nname = \"{}\"\n",
                        sides.join(", "),
                        partition_name(&f.groups)
                    ));
                }
                action => out.push_str(&format!("{action} = \"{}\"\n", f.node)),
            }
        }
        out
    }
}

/// The name a partition the user made is known by: `cut a|b` for a cut
/// link, `line <first side>` for a drawn line.
fn partition_name(groups: &[Vec<String>]) -> String {
    match groups {
        [a, b] if a.len() == 1 && b.len() == 1 => format!("cut {}|{}", a[0], b[0]),
        _ => format!(
            "line {}",
            groups.first().map(|g| g.join("+")).unwrap_or_default()
        ),
    }
}

/// The predictions about `variant` graded at `when` (`None`: the end),
/// each with its index among them and the answer the run supports.
fn answers_at(
    spec: &ScenarioSpec,
    variant: Option<&str>,
    faults: &[sim_core::scenario::FaultWindow],
    when: Option<SimTime>,
    metrics: &Metrics,
    now: SimTime,
) -> Vec<(usize, Answered)> {
    predictions_for(spec, variant)
        .enumerate()
        .filter(|(_, p)| graded_at(p) == when)
        .map(|(i, p)| {
            let g = grade_one(p, metrics, faults, now);
            let supported = g.supported();
            let measured = supported.map(|j| g.measured(j)).unwrap_or_default();
            (
                i,
                Answered {
                    supported,
                    measured,
                },
            )
        })
        .collect()
}
