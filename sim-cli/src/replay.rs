//! Run records and `faultline replay`.
//!
//! `faultline run ... --save FILE` writes a self-contained record: the
//! scenario's text, the variant, the overrides, the seed, the Faultline
//! version, the final fingerprint, and the running fingerprint after every
//! event (after every k-th event for very long runs, k doubling as needed).
//! `faultline replay FILE` runs it again and either confirms the
//! fingerprint or names the first event whose running fingerprint differs,
//! and shows what that event is now.

use super::build;
use super::{Failure, bad_input, error, parse_sets};
use serde_json::{Value, json};
use sim_core::scenario::{Built, DRAIN_EVERY, Moments, Rpc, load};
use sim_core::{Fingerprint, MemoryTrace, RunLimits, RunReport, SimTime, Simulation, StopReason};

/// Checkpoints kept at most; beyond it every other one is dropped and the
/// interval doubles.
const MAX_CHECKPOINTS: usize = 1 << 17;

/// Runs to the limits one event at a time, keeping the running fingerprint
/// every `every` events (0: choose, starting at 1 and coarsening). It
/// pauses at each of `pauses` to keep the metrics then in `moments` (for
/// the predictions graded before the end), and takes the histories every
/// `DRAIN_EVERY` events as `Built::run` does. Slicing a run does not
/// change it (a tested engine invariant).
pub fn run_with_checkpoints(
    built: &mut Built,
    mut every: u64,
    pauses: &[SimTime],
    moments: &mut Moments,
) -> (RunReport, Vec<u64>, u64) {
    let fixed = every != 0;
    if every == 0 {
        every = 1;
    }
    let limits = built.limits;
    let mut pauses = pauses
        .iter()
        .copied()
        .filter(|&t| t < limits.until)
        .peekable();
    let mut checkpoints = Vec::new();
    let start = built.sim.events_processed();
    let mut last;
    loop {
        let until = pauses.peek().copied().unwrap_or(limits.until);
        last = built
            .sim
            .run(RunLimits { until, ..limits }.with_max_events(1));
        if last.events == 0 && until < limits.until {
            // Nothing left before the pause: the run is there.
            built.drain();
            moments.take(until, built.metrics_now());
            pauses.next();
            continue;
        }
        let done = built.sim.events_processed() - start;
        if done.is_multiple_of(DRAIN_EVERY) {
            built.drain();
        }
        if last.events == 1 && done.is_multiple_of(every) {
            checkpoints.push(built.sim.fingerprint().0);
            if !fixed && checkpoints.len() > MAX_CHECKPOINTS {
                checkpoints = checkpoints.into_iter().skip(1).step_by(2).collect();
                every *= 2;
            }
        }
        if last.stop != (StopReason::EventBudget { budget: 1 }) {
            break;
        }
        if done >= limits.max_events {
            last.stop = StopReason::EventBudget {
                budget: limits.max_events,
            };
            break;
        }
    }
    last.events = built.sim.events_processed() - start;
    last.until = limits.until;
    (last, checkpoints, every)
}

pub struct Record {
    pub scenario: String,
    pub source: String,
    pub variant: Option<String>,
    pub sets: Vec<String>,
    pub seed: u64,
    pub version: String,
    pub fingerprint: Fingerprint,
    pub events: u64,
    pub every: u64,
    pub checkpoints: Vec<u64>,
}

impl Record {
    pub fn to_json(&self) -> String {
        let doc = json!({
            "faultline_record": 1,
            "version": self.version,
            "scenario": self.scenario,
            "variant": self.variant,
            "sets": self.sets,
            "seed": self.seed,
            "fingerprint": self.fingerprint.to_string(),
            "events": self.events,
            "checkpoint_every": self.every,
            "checkpoints": self.checkpoints.iter().map(|c| format!("{c:016x}")).collect::<Vec<_>>(),
            "source": self.source,
        });
        serde_json::to_string(&doc).expect("plain values")
    }

    pub fn from_json(file: &str, text: &str) -> Result<Record, String> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| format!("{file}:{}:{}: not a run record: {e}", e.line(), e.column()))?;
        if doc.get("faultline_record").and_then(Value::as_u64) != Some(1) {
            return Err(format!(
                "{file}: not a Faultline run record (write one with `faultline run ... --save FILE`)"
            ));
        }
        let text_field = |k: &str| -> Result<String, String> {
            doc.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("{file}: the record lacks `{k}`"))
        };
        let number = |k: &str| -> Result<u64, String> {
            doc.get(k)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("{file}: the record lacks `{k}`"))
        };
        let hex = |s: &str| {
            u64::from_str_radix(s, 16).map_err(|_| format!("{file}: `{s}` is not a fingerprint"))
        };
        let checkpoints = doc
            .get("checkpoints")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{file}: the record lacks `checkpoints`"))?
            .iter()
            .map(|c| {
                c.as_str()
                    .map_or_else(|| Err(format!("{file}: a checkpoint is not text")), hex)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Record {
            scenario: text_field("scenario")?,
            source: text_field("source")?,
            variant: doc
                .get("variant")
                .and_then(Value::as_str)
                .map(str::to_string),
            sets: doc
                .get("sets")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            seed: number("seed")?,
            version: text_field("version")?,
            fingerprint: text_field("fingerprint")?
                .parse()
                .map_err(|e| format!("{file}: {e}"))?,
            events: number("events")?,
            every: number("checkpoint_every")?.max(1),
            checkpoints,
        })
    }
}

/// The index (0-based) of the first checkpoint that differs, if any; a
/// shorter list differs where it ends.
pub fn first_difference(recorded: &[u64], now: &[u64]) -> Option<usize> {
    let common = recorded.iter().zip(now).position(|(a, b)| a != b);
    common.or_else(|| (recorded.len() != now.len()).then(|| recorded.len().min(now.len())))
}

/// What the event numbered `n` (1-based) is in a fresh build of the run:
/// runs `n - 1` events untraced, then traces the next one.
pub fn describe_event(mut sim: Simulation<Rpc>, limits: RunLimits, n: u64) -> Vec<String> {
    let mut done = 0;
    while done + 1 < n {
        let r = sim.run(limits.with_max_events(n - 1 - done));
        done += r.events;
        if r.events == 0 {
            return vec!["(the run had already ended)".into()];
        }
    }
    sim.set_trace(Box::new(MemoryTrace::new(1000)));
    let r = sim.run(limits.with_max_events(1));
    if r.events == 0 {
        return vec!["(the run had already ended)".into()];
    }
    let sink = sim.take_trace();
    let trace = sink
        .as_any()
        .downcast_ref::<MemoryTrace>()
        .expect("the sink we set");
    trace.records().map(ToString::to_string).collect()
}

/// `faultline replay FILE`: runs the record again and says what, if
/// anything, differs.
pub fn replay(path: &std::path::Path) -> Result<(), Failure> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_input(format!("error: cannot read `{file}`: {e}")))?;
    let record = Record::from_json(&file, &text).map_err(error)?;
    let ours = env!("CARGO_PKG_VERSION");
    if record.version != ours {
        println!(
            "note: recorded with Faultline {}, replaying with {ours}; a difference may be a deliberate change",
            record.version
        );
    }
    let scenario = load(
        &record.scenario,
        &format!("{file} (embedded scenario)"),
        &record.source,
    )
    .map_err(|d| bad_input(d.to_string()))?;
    let overrides = parse_sets(&record.sets)?;
    let spec = scenario
        .resolve(record.variant.as_deref(), &overrides)
        .map_err(error)?;
    let mut built = build(&spec, record.seed).map_err(error)?;
    let (outcome, checkpoints, _) =
        run_with_checkpoints(&mut built, record.every, &[], &mut Moments::default());
    built.finish();
    let what = format!(
        "{}{} seed {}",
        record.scenario,
        record
            .variant
            .as_deref()
            .map(|v| format!(" [{v}]"))
            .unwrap_or_default(),
        record.seed
    );
    let difference = first_difference(&record.checkpoints, &checkpoints);
    let same = outcome.fingerprint == record.fingerprint && outcome.total_events == record.events;
    if same && difference.is_none() {
        println!(
            "replay: {what}: fingerprint {} matches the record ({} events)",
            outcome.fingerprint, outcome.total_events
        );
        return Ok(());
    }
    println!("replay: {what}: {}", what_differs(&record, &outcome));
    if let Some(i) = difference {
        let last = (i as u64 + 1) * record.every;
        let first = last + 1 - record.every;
        if record.every == 1 {
            println!("first differing event: #{last}");
        } else {
            println!("first difference within events #{first} to #{last}");
        }
        let fresh = build(&spec, record.seed).map_err(error)?;
        for line in describe_event(fresh.sim, fresh.limits, first) {
            println!("  now: {line}");
        }
    }
    Err(Failure(1, String::new()))
}

/// What differs between a record and the run made from it now.
fn what_differs(record: &Record, now: &RunReport) -> String {
    let events = if now.total_events == record.events {
        format!("the same {} events", record.events)
    } else {
        format!(
            "{} events now, {} recorded",
            now.total_events, record.events
        )
    };
    if now.fingerprint != record.fingerprint {
        format!(
            "fingerprint {} now, {} recorded ({events})",
            now.fingerprint, record.fingerprint
        )
    } else if now.total_events != record.events {
        format!(
            "the fingerprint matches ({}), but {events}",
            now.fingerprint
        )
    } else {
        format!(
            "the final fingerprint {} and the event count match, but the running \
             fingerprint differs on the way (the record's checkpoints do not match this run)",
            now.fingerprint
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences() {
        assert_eq!(first_difference(&[1, 2, 3], &[1, 2, 3]), None);
        assert_eq!(first_difference(&[1, 2, 3], &[1, 9, 3]), Some(1));
        assert_eq!(first_difference(&[1, 2, 3], &[1, 2]), Some(2));
        assert_eq!(first_difference(&[1], &[1, 2]), Some(1));
    }
}
