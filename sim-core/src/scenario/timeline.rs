//! A run's faults as windows of time, and what they did to a client:
//! how long until an alert would have fired (time to detect) and how long
//! after the fault ended until the client's requests were healthy again
//! (time to recover), or that they never were: a metastable failure, where
//! the system stays broken after its trigger is gone.
//!
//! The alert rule is deliberately plain: more than `ALERT_SHARE` of a
//! client's requests that ended in an interval of its time series failed.
//! Recovery is the start of the first interval after the fault from which
//! no interval breaks that rule until the end of the run.

use super::faults::FaultAction;
use super::spec::ScenarioSpec;
use crate::metrics::{Metrics, SeriesBucket};
use crate::time::{SimDuration, SimTime};

/// The failure share over an interval that would page someone.
pub const ALERT_SHARE: f64 = 0.05;

/// When a fault was in force: a crash until its restart, a partition until
/// it heals, a gray failure until `recover`; open-ended if nothing ends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultWindow {
    pub start: SimTime,
    pub end: Option<SimTime>,
    pub label: String,
}

/// The fault windows of a scenario's schedule, by start time.
pub fn fault_windows(spec: &ScenarioSpec) -> Vec<FaultWindow> {
    let mut faults: Vec<_> = spec.faults.iter().collect();
    faults.sort_by_key(|f| f.at.get_ref().0);
    // (key, start, label) of windows still open.
    let mut open: Vec<(String, SimTime, String)> = Vec::new();
    let mut out = Vec::new();
    let close = |matches: &dyn Fn(&str) -> bool,
                 at: SimTime,
                 open: &mut Vec<(String, SimTime, String)>,
                 out: &mut Vec<FaultWindow>| {
        open.retain(|(k, start, label)| {
            if matches(k) {
                out.push(FaultWindow {
                    start: *start,
                    end: Some(at),
                    label: label.clone(),
                });
                false
            } else {
                true
            }
        });
    };
    for f in faults {
        let at = SimTime::ZERO + f.at.get_ref().0;
        let Ok(action) = f.action() else { continue };
        let node = |n: &toml::Spanned<String>| format!("node:{}", n.get_ref());
        let gray = |n: &toml::Spanned<String>| format!("gray:{}", n.get_ref());
        match action {
            FaultAction::Crash(n) => open.push((node(n), at, format!("{} down", n.get_ref()))),
            FaultAction::Restart(n) => {
                let key = node(n);
                close(&|k| k == key, at, &mut open, &mut out);
            }
            FaultAction::Slow { node: n, factor } => {
                open.push((gray(n), at, format!("{} {factor}x slower", n.get_ref())));
            }
            FaultAction::Errors { node: n, rate } => {
                let rate = rate * 100.0;
                open.push((gray(n), at, format!("{} failing {rate}%", n.get_ref())));
            }
            FaultAction::Hang(n) => open.push((gray(n), at, format!("{} hangs", n.get_ref()))),
            FaultAction::Recover(n) => {
                let key = gray(n);
                close(&|k| k == key, at, &mut open, &mut out);
            }
            FaultAction::Partition {
                sides,
                one_way,
                name,
            } => open.push((format!("partition:{name}"), at, cut(sides, one_way))),
            FaultAction::Heal(h) => {
                let h = h.get_ref().clone();
                if h == "all" {
                    close(&|k| k.starts_with("partition:"), at, &mut open, &mut out);
                } else {
                    let key = format!("partition:{h}");
                    close(&|k| k == key, at, &mut open, &mut out);
                }
            }
            FaultAction::Pause { node: n, lasting } => out.push(FaultWindow {
                start: at,
                end: Some(at + lasting),
                label: format!("{} paused", n.get_ref()),
            }),
            FaultAction::Clock {
                node: n,
                drift,
                jump,
            } => {
                if let Some(jump) = jump {
                    out.push(FaultWindow {
                        start: at,
                        end: Some(at),
                        label: jumping(n.get_ref(), jump),
                    });
                }
                let Some(drift) = drift else { continue };
                let key = format!("clock:{}", n.get_ref());
                close(&|k| k == key, at, &mut open, &mut out);
                if let Some(label) = drifting(n.get_ref(), drift) {
                    open.push((key, at, label));
                }
            }
            FaultAction::Flag { .. } => {}
        }
    }
    for (_, start, label) in open {
        out.push(FaultWindow {
            start,
            end: None,
            label,
        });
    }
    out.sort_by_key(|w| w.start);
    out
}

/// A drifting clock's window label ("api's clock 20% slow"); none for a
/// clock set right.
fn drifting(node: &str, drift: f64) -> Option<String> {
    let how = match drift {
        d if d > 0.0 => "fast",
        d if d < 0.0 => "slow",
        _ => return None,
    };
    let pct = libm::round(drift.abs() * 1000.0) / 10.0;
    Some(format!("{node}'s clock {pct}% {how}"))
}

/// A partition as a label ("a,b | c", or "a -/-> c" one way).
fn cut(sides: &toml::Spanned<[Vec<toml::Spanned<String>>; 2]>, one_way: bool) -> String {
    let [a, b] = sides.get_ref();
    let side = |s: &Vec<toml::Spanned<String>>| {
        s.iter()
            .map(|n| n.get_ref().as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let arrow = if one_way { "-/->" } else { "|" };
    format!("{} {arrow} {}", side(a), side(b))
}

/// A clock's jump as a label ("api's clock set back 3s").
fn jumping(node: &str, jump: i64) -> String {
    let by = SimDuration::from_nanos(jump.unsigned_abs());
    let how = if jump < 0 { "back" } else { "forward" };
    format!("{node}'s clock set {how} {by}")
}

/// What the faults did to one client.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recovery {
    /// From the first fault's start to the end of the interval in which the
    /// alert would have fired; None if it never fired.
    pub detected_after: Option<SimDuration>,
    /// From the last fault's end to the start of lasting health; None if
    /// the client was still failing at the end of the run (or the last
    /// fault never ended).
    pub recovered_after: Option<SimDuration>,
}

fn share(ok: &SeriesBucket, failed: &SeriesBucket) -> f64 {
    let total = ok.count + failed.count;
    if total == 0 {
        0.0
    } else {
        failed.count as f64 / total as f64
    }
}

/// Detection and recovery for the client whose metrics are prefixed
/// `client`, given the run's fault windows; None if there was no fault or
/// the client has no time series.
pub fn recovery(
    metrics: &Metrics,
    windows: &[FaultWindow],
    client: &str,
    end: SimTime,
) -> Option<Recovery> {
    let first = windows.iter().map(|w| w.start).min()?;
    let last_end = windows
        .iter()
        .map(|w| w.end)
        .try_fold(SimTime::ZERO, |acc, e| e.map(|e| acc.max(e)));
    let ok = metrics.get_series(&format!("{client}.ok_latency_ns"))?;
    let failed = metrics.get_series(&format!("{client}.failures"))?;
    let interval = ok.interval_ns().max(failed.interval_ns());
    // Both series at the coarser interval.
    let fold = |s: &crate::metrics::TimeSeries| -> Vec<SeriesBucket> {
        let factor = (interval / s.interval_ns()).max(1) as usize;
        s.buckets()
            .chunks(factor)
            .map(|c| {
                let mut m = SeriesBucket::default();
                for b in c {
                    m.count += b.count;
                }
                m
            })
            .collect()
    };
    let n = end.as_nanos().div_ceil(interval) as usize;
    let (mut ok, mut failed) = (fold(ok), fold(failed));
    ok.resize(n.max(ok.len()), SeriesBucket::default());
    failed.resize(n.max(failed.len()), SeriesBucket::default());
    let bad = |i: usize| share(&ok[i], &failed[i]) > ALERT_SHARE;
    let start_of = |i: usize| SimTime::from_nanos(i as u64 * interval);
    let first_bucket = (first.as_nanos() / interval) as usize;
    let detected_after = (first_bucket..n)
        .find(|&i| bad(i))
        .map(|i| start_of(i + 1).saturating_since(first));
    let recovered_after = last_end.and_then(|fault_end| {
        let from = (fault_end.as_nanos() / interval) as usize;
        // The last bad interval, if any, after the fault ended.
        let last_bad = (from..n).rev().find(|&i| bad(i));
        match last_bad {
            None => Some(SimDuration::ZERO),
            Some(i) if i + 1 >= n => None, // still failing at the end
            Some(i) => Some(start_of(i + 1).saturating_since(fault_end)),
        }
    });
    Some(Recovery {
        detected_after,
        recovered_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    /// 100 requests a second; `failing(s)` says how many of second s fail.
    fn metrics(
        failing: impl Fn(u64) -> u64,
        fault: (u64, Option<u64>),
    ) -> (Metrics, Vec<FaultWindow>) {
        let mut m = Metrics::new();
        let ok = m.series("c.ok_latency_ns", 1_000_000_000);
        let failed = m.series("c.failures", 1_000_000_000);
        for s in 0..60 {
            let f = failing(s);
            for i in 0..100 {
                let at = secs(s) + SimDuration::from_millis(i * 10);
                if i < f {
                    m.record_series(failed, at, 1.0);
                } else {
                    m.record_series(ok, at, 1e6);
                }
            }
        }
        let windows = vec![FaultWindow {
            start: secs(fault.0),
            end: fault.1.map(secs),
            label: "x".into(),
        }];
        (m, windows)
    }

    #[test]
    fn detection_and_recovery_are_read_off_the_failure_share() {
        // Failing 50% from 10s to 24s; the fault lasts from 10s to 20s.
        let (m, w) = metrics(
            |s| if (10..25).contains(&s) { 50 } else { 0 },
            (10, Some(20)),
        );
        let r = recovery(&m, &w, "c", secs(60)).unwrap();
        assert_eq!(r.detected_after, Some(SimDuration::from_secs(1)));
        assert_eq!(r.recovered_after, Some(SimDuration::from_secs(5)));
        // 5% exactly does not alert; a little more does.
        let (m, w) = metrics(|s| if s >= 10 { 5 } else { 0 }, (10, Some(20)));
        let r = recovery(&m, &w, "c", secs(60)).unwrap();
        assert_eq!(r.detected_after, None);
        assert_eq!(r.recovered_after, Some(SimDuration::ZERO));
    }

    #[test]
    fn still_failing_at_the_end_is_never_recovered() {
        let (m, w) = metrics(|s| if s >= 10 { 60 } else { 0 }, (10, Some(20)));
        let r = recovery(&m, &w, "c", secs(60)).unwrap();
        assert_eq!(r.recovered_after, None, "metastable");
        // A fault that never ends cannot be recovered from either.
        let (m, w) = metrics(|_| 0, (10, None));
        assert_eq!(
            recovery(&m, &w, "c", secs(60)).unwrap().recovered_after,
            None
        );
        // No such client, or no fault: nothing to say.
        assert!(recovery(&m, &w, "nobody", secs(60)).is_none());
        let (quiet, _) = metrics(|_| 0, (10, Some(20)));
        assert!(recovery(&quiet, &[], "c", secs(60)).is_none());
    }
}
