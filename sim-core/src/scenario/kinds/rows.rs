//! How a node's report block writes its numbers: durations in
//! milliseconds, shares as percentages, counts per second of the run.

use super::Report;
use crate::time::SimDuration;

/// Nanoseconds as milliseconds with one decimal ("-": none).
pub fn ms(ns: Option<u64>) -> String {
    ns.map_or_else(|| "-".into(), |v| format!("{:.1}ms", v as f64 / 1e6))
}

/// `part` of `whole` as a percentage ("-" when `whole` is 0).
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

impl Report<'_> {
    /// `v` events over the run, per second ("-" for a run of no time).
    pub fn per_second(&self, v: u64) -> String {
        let secs = self.end.as_nanos() as f64 / 1e9;
        if secs > 0.0 {
            format!("{:.1}/s", v as f64 / secs)
        } else {
            "-".into()
        }
    }

    /// The "linearizable" row of a replicated group `g`: how many keys
    /// are not, and how many the search could not decide.
    pub fn linearizable(&self, g: &str) -> (String, String) {
        let undecided = self.count(g, "undecided_keys");
        let not = self.count(g, "nonlinearizable_keys");
        let text = if undecided > 0 {
            format!(
                "unknown: {not} keys are not, and {undecided} more could not be decided within the search's budget"
            )
        } else {
            format!("{not} keys are not")
        };
        ("linearizable".into(), text)
    }

    /// A histogram of durations as "p50 .. p99 .. max ..".
    pub fn quantiles(&self, name: &str) -> String {
        let h = self.metrics.get_histogram(name);
        let q = |p: f64| ms(h.and_then(|h| h.quantile(p)));
        format!("p50 {}  p99 {}  max {}", q(0.5), q(0.99), q(1.0))
    }

    /// A quantile of `who`'s stale-read ages, as a duration ("-": none).
    pub fn stale_age(&self, who: &str, p: f64) -> String {
        self.metrics
            .get_histogram(&format!("{who}.stale_age_ns"))
            .and_then(|h| h.quantile(p))
            .map_or("-".to_string(), |v| SimDuration::from_nanos(v).to_string())
    }

    /// A gauge's time average and maximum ("-": never set).
    pub fn gauge_mean_max(&self, name: &str) -> String {
        self.metrics.get_gauge(name).map_or("-".into(), |g| {
            format!(
                "mean {:.2}, max {}",
                g.time_average(self.end),
                crate::scenario::judge::number(g.max())
            )
        })
    }
}
