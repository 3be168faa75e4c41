//! A scenario being played: the simulation, how far it has run, and the
//! playback controls (speed, pause, step, seek). Work is sliced: a frame
//! advances the simulation by at most a budget of events, so a long run
//! never freezes the page.
//!
//! Seeking backwards rebuilds the run and replays it to the chosen time;
//! the simulation is deterministic, so the replayed past is the same past.

use crate::flow::{FlowSink, Flows};
use sim_core::engine::RunLimits;
use sim_core::metrics::Metrics;
use sim_core::scenario::build::{Built, Verdict, build, evaluate};
use sim_core::scenario::load::{Scenario, load};
use sim_core::scenario::spec::ScenarioSpec;
use sim_core::{SimDuration, SimTime};

/// Events one frame may process (about 10 ms of work natively).
pub const FRAME_BUDGET: u64 = 50_000;

/// A fault the user scheduled by clicking, recorded so the session can be
/// exported as a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserFault {
    pub at: SimTime,
    /// `crash`, `restart`, or `partition` (then `other` is the far side).
    pub action: &'static str,
    pub node: String,
    pub other: Option<String>,
}

/// What an expectation came to at the end of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub because: String,
    pub verdict: Result<Verdict, String>,
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
    pub user_faults: Vec<UserFault>,
    /// Traffic per link, for the topology view.
    pub flows: Flows,
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
        let (built, flows) = Self::build_traced(&spec, seed)?;
        let end = SimTime::ZERO + spec.run.duration.0;
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
            user_faults: Vec::new(),
            flows,
        })
    }

    fn build_traced(spec: &ScenarioSpec, seed: u64) -> Result<(Built, Flows), String> {
        let mut built = build(spec, seed)?;
        let sink = FlowSink::default();
        let flows = sink.flows.clone();
        built.sim.set_trace(Box::new(sink));
        Ok((built, flows))
    }

    /// The same scenario under another variant or seed, from the start
    /// (the user's faults are kept).
    pub fn rebuild(&mut self, variant: Option<&str>, seed: u64) -> Result<(), String> {
        let spec = self.scenario.resolve(variant, &[])?;
        (self.built, self.flows) = Self::build_traced(&spec, seed)?;
        self.spec = spec;
        self.variant = variant.map(str::to_string);
        self.seed = seed;
        self.end = SimTime::ZERO + self.spec.run.duration.0;
        self.target = SimTime::ZERO;
        self.outcomes = None;
        let faults = std::mem::take(&mut self.user_faults);
        for f in faults {
            self.schedule(f)?;
        }
        Ok(())
    }

    pub fn now(&self) -> SimTime {
        self.built.sim.now()
    }

    pub fn metrics(&self) -> &Metrics {
        self.built.sim.metrics()
    }

    pub fn sim(&self) -> &sim_core::Simulation<sim_core::models::rpc::Rpc> {
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
        let report = self
            .built
            .sim
            .run(RunLimits::until(target).with_max_events(budget.max(1)));
        let there = !matches!(
            report.stop,
            sim_core::engine::StopReason::EventBudget { .. }
        );
        if there && target >= self.end {
            self.finish();
        }
        there
    }

    /// Jumps to `t` (forwards or backwards); the work happens in later
    /// frames.
    pub fn seek(&mut self, t: SimTime) {
        let t = t.min(self.end);
        if t < self.now() {
            self.outcomes = None;
        }
        self.target = t;
    }

    /// Runs to the end now, however long it takes.
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
        self.built
            .sim
            .run(RunLimits::until(self.end).with_max_events(1));
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
            self.spec
                .expectations
                .iter()
                .filter(|e| {
                    e.variant.as_ref().map(|v| v.get_ref().as_str()) == self.variant.as_deref()
                        || e.variant.is_none()
                })
                .map(|e| Outcome {
                    because: e.because.clone(),
                    verdict: evaluate(e, metrics, end),
                })
                .collect(),
        );
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
        if self.is_finished() {
            return Err("the run has ended; seek back to change it".into());
        }
        let one = SimDuration::from_nanos(1);
        let at = loop {
            let next = self.built.sim.next_event_time();
            let at = self.now() + one;
            match next {
                Some(n) if n <= at => {
                    self.built
                        .sim
                        .run(RunLimits::until(n).with_max_events(u64::MAX / 2));
                }
                _ => break at,
            }
        };
        self.target = self.target.max(at);
        self.schedule(UserFault {
            at,
            action,
            node: node.to_string(),
            other: other.map(str::to_string),
        })
    }

    /// Schedules a fault at its recorded time (kept when the run is
    /// rebuilt, so they replay).
    pub fn schedule(&mut self, f: UserFault) -> Result<(), String> {
        use sim_core::engine::Fault;
        use sim_core::network::{NodeSet, Partition};
        let sim = &mut self.built.sim;
        let id = |sim: &sim_core::Simulation<_>, name: &str| {
            sim.node_id(name)
                .ok_or_else(|| format!("there is no node called `{name}`"))
        };
        let fault = match f.action {
            "crash" => Fault::Crash(id(sim, &f.node)?),
            "restart" => Fault::Restart(id(sim, &f.node)?),
            "partition" => {
                let other = f.other.as_deref().unwrap_or_default();
                let mut a = NodeSet::new();
                a.insert(id(sim, &f.node)?);
                let mut b = NodeSet::new();
                b.insert(id(sim, other)?);
                Fault::Partition(Partition::between(&format!("cut {}|{other}", f.node), a, b))
            }
            other => return Err(format!("unknown action `{other}`")),
        };
        sim.schedule(f.at, fault).map_err(|e| e.to_string())?;
        self.user_faults.push(f);
        Ok(())
    }

    /// The scenario as a file `faultline run` replays: the text as loaded,
    /// with the user's faults appended and the chosen seed.
    pub fn export(&self) -> String {
        let mut out = String::new();
        out.push_str(&self.text);
        if !out.ends_with('\n') {
            out.push('\n');
        }
        for f in &self.user_faults {
            out.push_str(&format!(
                "\n# Added in the browser.\n[[fault]]\nat = \"{}ns\"\n",
                f.at.as_nanos()
            ));
            match (f.action, &f.other) {
                ("partition", Some(other)) => out.push_str(&format!(
                    "partition = [[\"{}\"], [\"{other}\"]]\nname = \"cut {}|{other}\"\n",
                    f.node, f.node
                )),
                (action, _) => out.push_str(&format!("{action} = \"{}\"\n", f.node)),
            }
        }
        out
    }
}
