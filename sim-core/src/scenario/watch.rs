//! Properties over a whole run: an expectation with `when = "always"`
//! must hold at every checkpoint of the run as well as at the end, and
//! one with `when = "eventually"` must hold at the end and, with
//! `within`, at every checkpoint from that long after the last fault
//! ends (recovery). Expectations without `when` are judged at the end
//! only, as before.
//!
//! The checkpoints are `WATCH_POINTS` instants spread evenly over the run,
//! the same in every front end: the CLI's run pauses at them, and so does
//! the web app's player, whatever its slices. At a checkpoint an
//! expectation is judged on the nodes' own metrics as they stand (what
//! the checkers find and the counts made after the run, such as
//! duplicates, are known at the end only, and judged there); a metric
//! that does not exist yet is not judged at that checkpoint.

use super::build::{Verdict, expectation_value, metric_value};
use super::spec::{CompareOp, ExpectSpec, ScenarioSpec};
use super::timeline::FaultWindow;
use crate::metrics::Metrics;
use crate::time::{SimDuration, SimTime};
use serde::Deserialize;

/// Checkpoints per run.
pub const WATCH_POINTS: u64 = 100;

/// When an expectation must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// At the end (the default).
    End,
    /// At every checkpoint, and at the end.
    Always,
    /// At the end, and with `within`, from that long after the faults.
    Eventually,
}

impl When {
    pub fn as_str(self) -> &'static str {
        match self {
            When::End => "end",
            When::Always => "always",
            When::Eventually => "eventually",
        }
    }
}

/// An expectation's `when`, `End` when it says none.
pub fn when(e: &ExpectSpec) -> When {
    e.when.as_ref().map_or(When::End, |w| *w.get_ref())
}

/// What the checkpoints saw of one expectation.
#[derive(Clone, Debug)]
struct Record {
    metric: String,
    op: CompareOp,
    expected: f64,
    /// The first checkpoint where it did not hold, and the value there.
    first_broke: Option<(SimTime, f64)>,
    /// The last such checkpoint.
    last_broke: Option<(SimTime, f64)>,
}

/// The checkpoints of one run and what they saw.
#[derive(Clone, Debug)]
pub struct Watch {
    interval: SimDuration,
    next: SimTime,
    end: SimTime,
    /// Each watched expectation's index in the spec, and its record.
    records: Vec<(usize, Record)>,
}

impl Watch {
    /// The checkpoints of `spec`'s run, for its `always` and `eventually`
    /// expectations (of every variant: judging adds no event).
    pub fn new(spec: &ScenarioSpec) -> Watch {
        let end = SimTime::ZERO + spec.run.duration.0;
        let interval =
            SimDuration::from_nanos((spec.run.duration.0.as_nanos() / WATCH_POINTS).max(1_000_000));
        let records = spec
            .expectations
            .iter()
            .enumerate()
            .filter(|(_, e)| when(e) != When::End)
            .filter_map(|(i, e)| {
                let expected = expectation_value(e.value.get_ref()).ok()?;
                let r = Record {
                    metric: e.metric.get_ref().clone(),
                    op: *e.op.get_ref(),
                    expected,
                    first_broke: None,
                    last_broke: None,
                };
                Some((i, r))
            })
            .collect();
        Watch {
            interval,
            next: SimTime::ZERO + interval,
            end,
            records,
        }
    }

    /// The next checkpoint, if there is one before the end.
    pub fn next(&self) -> Option<SimTime> {
        (!self.records.is_empty() && self.next < self.end).then_some(self.next)
    }

    /// Judges the watched expectations at the checkpoint due, on `metrics`.
    pub fn observe(&mut self, metrics: &Metrics, faults: &[FaultWindow]) {
        let t = self.next;
        for (_, r) in &mut self.records {
            let Ok(actual) = metric_value(metrics, faults, &r.metric, t) else {
                continue;
            };
            if !r.op.holds(actual, r.expected) {
                r.first_broke.get_or_insert((t, actual));
                r.last_broke = Some((t, actual));
            }
        }
        self.next += self.interval;
    }

    /// The verdict on expectation `e` (the `index`-th of the spec), given
    /// its verdict at the end.
    pub fn verdict(
        &self,
        index: usize,
        e: &ExpectSpec,
        faults: &[FaultWindow],
        end: Verdict,
    ) -> Verdict {
        let record = self
            .records
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, r)| r);
        let Some(r) = record else {
            return end;
        };
        let at = |t: SimTime| t.saturating_since(SimTime::ZERO);
        match when(e) {
            When::End => end,
            When::Always => match r.first_broke {
                Some((t, v)) => Verdict {
                    metric: format!("always {} (broke at {})", end.metric, at(t)),
                    actual: v,
                    holds: false,
                    ..end
                },
                None => Verdict {
                    metric: format!("always {}", end.metric),
                    ..end
                },
            },
            When::Eventually => {
                // A fault that never ends leaves nothing to recover from
                // in the run: the end alone decides.
                let recovered_by = e.within.as_ref().and_then(|w| {
                    let ends: Option<Vec<SimTime>> = faults.iter().map(|f| f.end).collect();
                    Some(ends?.into_iter().max().unwrap_or(SimTime::ZERO) + w.get_ref().0)
                });
                let late = r
                    .last_broke
                    .filter(|(t, _)| recovered_by.is_some_and(|by| *t >= by));
                match (late, recovered_by) {
                    (Some((t, v)), Some(by)) => Verdict {
                        metric: format!(
                            "eventually {} (still broken at {}, due by {})",
                            end.metric,
                            at(t),
                            at(by)
                        ),
                        actual: v,
                        holds: false,
                        ..end
                    },
                    _ => Verdict {
                        metric: format!("eventually {}", end.metric),
                        ..end
                    },
                }
            }
        }
    }
}
