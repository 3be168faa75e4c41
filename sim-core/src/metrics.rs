//! Metrics: counters, time-weighted gauges, log-bucketed histograms and
//! per-interval time series, in a registry keyed by name.
//!
//! Memory is constant in the length of a run: histograms have a fixed bucket
//! layout and time series coarsen (halve their resolution) instead of growing
//! past a bound. Handles (`CounterId`, ...) make the hot path an index, not a
//! name lookup. Names are kept in a `BTreeMap`, so every listing is in a
//! stable, sorted order. Metrics are only ever added, so `len` tells a
//! reader holding ids (`counter_ids`, `histogram_ids`) whether its list is
//! current. `begin_after_warmup` leaves out what came before a warm-up's
//! end (the engine calls it at `Simulation::set_warmup`'s time).

use crate::time::SimTime;
use std::collections::BTreeMap;

/// Sub-buckets per power of two, as a number of bits: 2^7 = 128 linear
/// sub-buckets per octave bound the relative error of a reported percentile
/// by 1/256 (about 0.4%), inside the 1% the engine promises.
const SUB_BITS: u32 = 7;
const SUB_COUNT: usize = 1 << SUB_BITS;
/// Enough buckets for every u64 value.
const MAX_BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB_COUNT;

/// A histogram of non-negative integers (latencies in nanoseconds, counts)
/// with a relative error below 1% on every percentile, exact count, sum,
/// minimum and maximum, constant memory (at most ~59 KiB, typically a few
/// KiB) and exact merging.
#[derive(Debug, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Clone for Histogram {
    fn clone(&self) -> Self {
        Self {
            counts: self.counts.clone(),
            ..*self
        }
    }

    /// Reuses `self`'s buckets, for a caller that copies a histogram
    /// again and again (to read what came after the copy).
    fn clone_from(&mut self, source: &Self) {
        self.counts.clone_from(&source.counts);
        self.count = source.count;
        self.sum = source.sum;
        self.min = source.min;
        self.max = source.max;
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn bucket_index(v: u64) -> usize {
    if v < 2 * SUB_COUNT as u64 {
        return v as usize;
    }
    let top_bit = 63 - v.leading_zeros();
    let group = (top_bit - SUB_BITS + 1) as usize;
    let sub = ((v >> (top_bit - SUB_BITS)) as usize) - SUB_COUNT;
    group * SUB_COUNT + sub
}

/// The lowest value in a bucket and the bucket's width.
fn bucket_bounds(index: usize) -> (u64, u64) {
    if index < 2 * SUB_COUNT {
        return (index as u64, 1);
    }
    let group = index / SUB_COUNT;
    let sub = (index % SUB_COUNT) as u64;
    let width = 1u64 << (group - 1);
    ((SUB_COUNT as u64 + sub) << (group - 1), width)
}

impl Histogram {
    pub fn new() -> Self {
        Histogram {
            counts: Vec::new(),
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    #[inline]
    pub fn record(&mut self, v: u64) {
        self.record_n(v, 1);
    }

    #[inline]
    pub fn record_n(&mut self, v: u64, n: u64) {
        let i = bucket_index(v);
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += n;
        self.count += n;
        self.sum += u128::from(v) * u128::from(n);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn count(&self) -> u64 {
        self.count
    }
    pub fn sum(&self) -> u128 {
        self.sum
    }
    /// None when empty.
    pub fn min(&self) -> Option<u64> {
        (self.count > 0).then_some(self.min)
    }
    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }
    /// The exact mean; NaN when empty.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// The value at quantile `q` in [0, 1]: the smallest recorded value such
    /// that at least a fraction q of values are at or below it, reported as
    /// its bucket's midpoint (so within 0.4%), clamped to the exact min and
    /// max. `quantile(1.0)` is the exact maximum. None when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        if q >= 1.0 {
            return Some(self.max);
        }
        // rank in 1..=count; the float product is exact enough for counts
        // below 2^53.
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (low, width) = bucket_bounds(i);
                let mid = low + (width - 1) / 2;
                return Some(mid.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// The `q` quantile of the values recorded since `earlier`, a copy of
    /// this histogram taken before (None if none were). Charts use it for
    /// percentiles per interval.
    pub fn quantile_since(&self, earlier: &Histogram, q: f64) -> Option<u64> {
        self.quantiles_since(earlier, [q])[0]
    }

    /// Several quantiles of the values recorded since `earlier`. Each is
    /// found from the nearer end of the recorded range (a median from the
    /// minimum up, a p99 from the maximum down), so a chart sampling a
    /// histogram of thousands of buckets hundreds of times reads only the
    /// buckets near each answer.
    pub fn quantiles_since<const N: usize>(
        &self,
        earlier: &Histogram,
        qs: [f64; N],
    ) -> [Option<u64>; N] {
        let mut out = [None; N];
        let count = match self.count.checked_sub(earlier.count) {
            Some(c) if c > 0 => c,
            _ => return out,
        };
        let lo = bucket_index(self.min);
        let hi = bucket_index(self.max).min(self.counts.len() - 1);
        let new_in = |i: usize| self.counts[i] - earlier.counts.get(i).copied().unwrap_or(0);
        for (o, q) in out.iter_mut().zip(qs) {
            let rank = ((q.clamp(0.0, 1.0) * count as f64).ceil() as u64).clamp(1, count);
            // The first bucket where the new values counted from the
            // bottom reach `rank`, which is also the last one where those
            // counted from the top reach `count - rank + 1`.
            let mut seen = 0u64;
            let i = if rank <= count / 2 {
                let mut i = lo;
                loop {
                    seen += new_in(i);
                    if seen >= rank || i >= hi {
                        break i;
                    }
                    i += 1;
                }
            } else {
                let want = count - rank + 1;
                let mut i = hi;
                loop {
                    seen += new_in(i);
                    if seen >= want || i <= lo {
                        break i;
                    }
                    i -= 1;
                }
            };
            let (low, width) = bucket_bounds(i);
            *o = Some((low + (width - 1) / 2).min(self.max));
        }
        out
    }

    /// How many values are above `v`, to the histogram's precision: values
    /// in `v`'s own bucket (within 0.4% of it) count as not above.
    pub fn count_above(&self, v: u64) -> u64 {
        let i = bucket_index(v);
        self.counts.iter().skip(i + 1).sum()
    }

    /// Adds every value of `other` to `self`, exactly as if they had been
    /// recorded here.
    pub fn merge(&mut self, other: &Histogram) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Bytes of bucket storage, for memory accounting.
    pub fn allocated_bytes(&self) -> usize {
        self.counts.capacity() * 8
    }

    /// The most bucket storage a histogram can ever hold.
    pub const MAX_BYTES: usize = MAX_BUCKETS * 8;
}

/// A value that changes over time, with its time-weighted average: the mean
/// queue length L in Little's law, or utilisation as the mean number of busy
/// workers.
#[derive(Clone, Debug, PartialEq)]
pub struct Gauge {
    value: f64,
    max: f64,
    since: SimTime,
    /// The integral of the value over time, in value x nanoseconds.
    area: f64,
    start: SimTime,
}

impl Gauge {
    fn new(start: SimTime) -> Self {
        Gauge {
            value: 0.0,
            max: 0.0,
            since: start,
            area: 0.0,
            start,
        }
    }

    pub fn set(&mut self, now: SimTime, value: f64) {
        self.area += self.value * now.saturating_since(self.since).as_nanos() as f64;
        self.since = now;
        self.value = value;
        self.max = self.max.max(value);
    }

    pub fn value(&self) -> f64 {
        self.value
    }
    pub fn max(&self) -> f64 {
        self.max
    }

    /// The average value over [start, now].
    pub fn time_average(&self, now: SimTime) -> f64 {
        let span = now.saturating_since(self.start).as_nanos() as f64;
        if span == 0.0 {
            return self.value;
        }
        (self.area + self.value * now.saturating_since(self.since).as_nanos() as f64) / span
    }

    /// Starts averaging afresh at `now`, keeping the current value (for a
    /// warm-up period that should not count).
    pub fn reset_average(&mut self, now: SimTime) {
        self.area = 0.0;
        self.since = now;
        self.start = now;
        self.max = self.value;
    }
}

/// One interval of a time series.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SeriesBucket {
    pub sum: f64,
    pub count: u64,
    pub max: f64,
}

/// Values accumulated per fixed interval of simulated time. When a run
/// outgrows `max_buckets` intervals, neighbouring intervals are merged and
/// the interval doubles, so memory stays bounded for any run length.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeSeries {
    interval_ns: u64,
    buckets: Vec<SeriesBucket>,
    max_buckets: usize,
}

impl TimeSeries {
    pub fn new(interval_ns: u64, max_buckets: usize) -> Self {
        assert!(interval_ns > 0 && max_buckets >= 2);
        TimeSeries {
            interval_ns,
            buckets: Vec::new(),
            max_buckets,
        }
    }

    /// Forgets every interval (the interval stays as coarse as it became).
    pub fn clear(&mut self) {
        self.buckets.clear();
    }

    pub fn record(&mut self, now: SimTime, value: f64) {
        let mut i = (now.as_nanos() / self.interval_ns) as usize;
        while i >= self.max_buckets {
            self.coarsen();
            i = (now.as_nanos() / self.interval_ns) as usize;
        }
        if i >= self.buckets.len() {
            self.buckets.resize(i + 1, SeriesBucket::default());
        }
        let b = &mut self.buckets[i];
        b.sum += value;
        b.count += 1;
        b.max = if b.count == 1 {
            value
        } else {
            b.max.max(value)
        };
    }

    fn coarsen(&mut self) {
        let merged = self
            .buckets
            .chunks(2)
            .map(|pair| {
                let mut m = pair[0];
                if let Some(b) = pair.get(1) {
                    m.max = if m.count == 0 {
                        b.max
                    } else if b.count == 0 {
                        m.max
                    } else {
                        m.max.max(b.max)
                    };
                    m.sum += b.sum;
                    m.count += b.count;
                }
                m
            })
            .collect();
        self.buckets = merged;
        self.interval_ns *= 2;
    }

    pub fn interval_ns(&self) -> u64 {
        self.interval_ns
    }
    pub fn buckets(&self) -> &[SeriesBucket] {
        &self.buckets
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CounterId(u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GaugeId(u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HistogramId(u32);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId(u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handle {
    Counter(CounterId),
    Gauge(GaugeId),
    Histogram(HistogramId),
    Series(SeriesId),
}

/// The run's metrics, by name.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    names: BTreeMap<String, Handle>,
    counters: Vec<u64>,
    gauges: Vec<Gauge>,
    histograms: Vec<Histogram>,
    series: Vec<TimeSeries>,
    /// The interval models use for their time series (0: one second).
    series_interval_ns: u64,
    /// Where the results begin: the end of the warm-up (zero without one).
    measured_from: SimTime,
}

/// Default bound on a time series' intervals before it coarsens.
pub const DEFAULT_SERIES_BUCKETS: usize = 4096;

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    fn handle(&mut self, name: &str, make: impl FnOnce(&mut Self) -> Handle) -> Handle {
        if let Some(&h) = self.names.get(name) {
            return h;
        }
        let h = make(self);
        self.names.insert(name.to_string(), h);
        h
    }

    fn kind_clash(name: &str, want: &str, got: Handle) -> ! {
        panic!("metric `{name}` is a {got:?}, not a {want}")
    }

    /// The counter called `name`, created at zero if new.
    pub fn counter(&mut self, name: &str) -> CounterId {
        match self.handle(name, |m| {
            m.counters.push(0);
            Handle::Counter(CounterId(m.counters.len() as u32 - 1))
        }) {
            Handle::Counter(id) => id,
            other => Self::kind_clash(name, "counter", other),
        }
    }

    /// The gauge called `name`, created at zero if new, averaging from `now`.
    pub fn gauge(&mut self, name: &str, now: SimTime) -> GaugeId {
        match self.handle(name, |m| {
            m.gauges.push(Gauge::new(now));
            Handle::Gauge(GaugeId(m.gauges.len() as u32 - 1))
        }) {
            Handle::Gauge(id) => id,
            other => Self::kind_clash(name, "gauge", other),
        }
    }

    pub fn histogram(&mut self, name: &str) -> HistogramId {
        match self.handle(name, |m| {
            m.histograms.push(Histogram::new());
            Handle::Histogram(HistogramId(m.histograms.len() as u32 - 1))
        }) {
            Handle::Histogram(id) => id,
            other => Self::kind_clash(name, "histogram", other),
        }
    }

    /// Sets the interval that models' time series use (see
    /// `series_interval`); a scenario picks one to suit its duration.
    pub fn set_series_interval(&mut self, interval_ns: u64) {
        self.series_interval_ns = interval_ns;
    }

    /// Records when the run's faults are in force (set by the scenario
    /// builder).
    /// Leaves out everything recorded so far, at the end of a warm-up
    /// period: counters back to zero, histograms and series emptied,
    /// gauges keep their value but average and peak from `now` on.
    pub fn begin_after_warmup(&mut self, now: SimTime) {
        self.counters.iter_mut().for_each(|c| *c = 0);
        self.histograms
            .iter_mut()
            .for_each(|h| *h = Histogram::new());
        self.gauges.iter_mut().for_each(|g| g.reset_average(now));
        self.series.iter_mut().for_each(TimeSeries::clear);
        self.measured_from = now;
    }

    /// Where the results begin: the end of the warm-up, or time zero.
    pub fn measured_from(&self) -> SimTime {
        self.measured_from
    }

    /// The interval for new time series: as set, or one second.
    pub fn series_interval(&self) -> u64 {
        if self.series_interval_ns == 0 {
            1_000_000_000
        } else {
            self.series_interval_ns
        }
    }

    /// The time series called `name`; `interval_ns` applies only on creation.
    pub fn series(&mut self, name: &str, interval_ns: u64) -> SeriesId {
        match self.handle(name, |m| {
            m.series
                .push(TimeSeries::new(interval_ns, DEFAULT_SERIES_BUCKETS));
            Handle::Series(SeriesId(m.series.len() as u32 - 1))
        }) {
            Handle::Series(id) => id,
            other => Self::kind_clash(name, "time series", other),
        }
    }

    #[inline]
    pub fn add(&mut self, id: CounterId, n: u64) {
        self.counters[id.0 as usize] += n;
    }
    #[inline]
    pub fn set(&mut self, id: GaugeId, now: SimTime, value: f64) {
        self.gauges[id.0 as usize].set(now, value);
    }
    #[inline]
    pub fn record(&mut self, id: HistogramId, value: u64) {
        self.histograms[id.0 as usize].record(value);
    }
    /// Adds everything `other` holds to the histogram `id`.
    pub fn merge_histogram(&mut self, id: HistogramId, other: &Histogram) {
        self.histograms[id.0 as usize].merge(other);
    }
    #[inline]
    pub fn record_series(&mut self, id: SeriesId, now: SimTime, value: f64) {
        self.series[id.0 as usize].record(now, value);
    }

    pub fn counter_value(&self, id: CounterId) -> u64 {
        self.counters[id.0 as usize]
    }
    pub fn gauge_ref(&self, id: GaugeId) -> &Gauge {
        &self.gauges[id.0 as usize]
    }
    pub fn gauge_mut(&mut self, id: GaugeId) -> &mut Gauge {
        &mut self.gauges[id.0 as usize]
    }
    pub fn histogram_ref(&self, id: HistogramId) -> &Histogram {
        &self.histograms[id.0 as usize]
    }
    pub fn series_ref(&self, id: SeriesId) -> &TimeSeries {
        &self.series[id.0 as usize]
    }

    /// A counter's value by name; None if there is no such counter.
    pub fn get_counter(&self, name: &str) -> Option<u64> {
        match self.names.get(name)? {
            Handle::Counter(id) => Some(self.counter_value(*id)),
            _ => None,
        }
    }
    pub fn get_gauge(&self, name: &str) -> Option<&Gauge> {
        match self.names.get(name)? {
            Handle::Gauge(id) => Some(self.gauge_ref(*id)),
            _ => None,
        }
    }
    pub fn get_histogram(&self, name: &str) -> Option<&Histogram> {
        match self.names.get(name)? {
            Handle::Histogram(id) => Some(self.histogram_ref(*id)),
            _ => None,
        }
    }
    pub fn get_series(&self, name: &str) -> Option<&TimeSeries> {
        match self.names.get(name)? {
            Handle::Series(id) => Some(self.series_ref(*id)),
            _ => None,
        }
    }

    /// How many metrics there are. Metrics are only ever added, so a reader
    /// that keeps a list of some of them knows it is current while this
    /// stays the same.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every counter's name and id, in name order.
    pub fn counter_ids(&self) -> impl Iterator<Item = (&str, CounterId)> {
        self.names.iter().filter_map(|(n, h)| match h {
            Handle::Counter(id) => Some((n.as_str(), *id)),
            _ => None,
        })
    }

    /// Every histogram's name and id, in name order.
    pub fn histogram_ids(&self) -> impl Iterator<Item = (&str, HistogramId)> {
        self.names.iter().filter_map(|(n, h)| match h {
            Handle::Histogram(id) => Some((n.as_str(), *id)),
            _ => None,
        })
    }

    /// Every counter by name, in name order.
    pub fn counters(&self) -> impl Iterator<Item = (&str, u64)> {
        self.names.iter().filter_map(|(n, h)| match h {
            Handle::Counter(id) => Some((n.as_str(), self.counter_value(*id))),
            _ => None,
        })
    }
    pub fn gauges(&self) -> impl Iterator<Item = (&str, &Gauge)> {
        self.names.iter().filter_map(|(n, h)| match h {
            Handle::Gauge(id) => Some((n.as_str(), self.gauge_ref(*id))),
            _ => None,
        })
    }
    /// The gauges whose names start with `prefix`, in name order: a range
    /// of the name index, not a scan of every metric.
    pub fn gauges_under<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Gauge)> {
        self.names
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(n, _)| n.starts_with(prefix))
            .filter_map(|(n, h)| match h {
                Handle::Gauge(id) => Some((n.as_str(), self.gauge_ref(*id))),
                _ => None,
            })
    }
    pub fn histograms(&self) -> impl Iterator<Item = (&str, &Histogram)> {
        self.names.iter().filter_map(|(n, h)| match h {
            Handle::Histogram(id) => Some((n.as_str(), self.histogram_ref(*id))),
            _ => None,
        })
    }
    pub fn all_series(&self) -> impl Iterator<Item = (&str, &TimeSeries)> {
        self.names.iter().filter_map(|(n, h)| match h {
            Handle::Series(id) => Some((n.as_str(), self.series_ref(*id))),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::Dist;
    use crate::rng::SimRng;

    #[test]
    fn gauges_under_a_prefix_are_exactly_those_names() {
        let mut m = Metrics::default();
        for name in ["a.x", "a.y", "ab.x", "a", "b.x", "a.z.w"] {
            m.gauge(name, SimTime::ZERO);
        }
        m.counter("a.count");
        let under: Vec<&str> = m.gauges_under("a.").map(|(n, _)| n).collect();
        assert_eq!(under, ["a.x", "a.y", "a.z.w"]);
        let all: Vec<&str> = m
            .gauges()
            .map(|(n, _)| n)
            .filter(|n| n.starts_with("a."))
            .collect();
        assert_eq!(under, all);
        assert_eq!(m.gauges_under("c.").count(), 0);
        assert_eq!(m.len(), 7);
        let c = m.counter("a.count");
        m.add(c, 3);
        let h = m.histogram("a.latency_ns");
        m.record(h, 9);
        assert_eq!(m.len(), 8, "an existing name adds nothing");
        let counters: Vec<(&str, u64)> = m
            .counter_ids()
            .map(|(n, id)| (n, m.counter_value(id)))
            .collect();
        assert_eq!(counters, m.counters().collect::<Vec<_>>());
        let histograms: Vec<(&str, u64)> = m
            .histogram_ids()
            .map(|(n, id)| (n, m.histogram_ref(id).count()))
            .collect();
        assert_eq!(histograms, [("a.latency_ns", 1)]);
    }

    #[test]
    fn quantiles_since_a_copy_see_only_the_new_values() {
        let mut h = Histogram::new();
        for v in 1..=1000u64 {
            h.record(v);
        }
        let before = h.clone();
        assert_eq!(h.quantile_since(&before, 0.5), None);
        for _ in 0..100 {
            h.record(50_000);
        }
        // Only the hundred new values count: every quantile is about 50000
        // (within the histogram's relative error), though overall the
        // median is still about 550.
        for q in [0.01, 0.5, 0.99] {
            let v = h.quantile_since(&before, q).unwrap() as f64;
            assert!((v - 50_000.0).abs() / 50_000.0 < 0.01, "q{q}: {v}");
        }
        assert!(h.quantile(0.5).unwrap() < 600);
    }

    #[test]
    fn quantiles_in_one_pass_are_each_quantile_and_a_copy_is_equal() {
        let mut rng = SimRng::for_component(7, "quantiles");
        let dist = Dist::log_normal_from_median_p99(1e6, 5e7).unwrap();
        let mut h = Histogram::new();
        let mut before = Histogram::new();
        for round in 0..4 {
            for _ in 0..(round * 400 + 1) {
                h.record(dist.sample(&mut rng) as u64);
            }
            let qs = [0.0, 0.001, 0.25, 0.5, 0.5001, 0.9, 0.99, 1.0];
            // The plain way: count up from the lowest bucket.
            let scan_up = |q: f64| {
                let count = h.count() - before.count();
                let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
                let mut seen = 0;
                for (i, &c) in h.counts.iter().enumerate() {
                    seen += c - before.counts.get(i).copied().unwrap_or(0);
                    if seen >= rank {
                        let (low, width) = bucket_bounds(i);
                        return Some((low + (width - 1) / 2).min(h.max));
                    }
                }
                unreachable!("the counts add up to the count")
            };
            let each = qs.map(scan_up);
            assert_eq!(h.quantiles_since(&before, qs), each);
            assert_eq!(qs.map(|q| h.quantile_since(&before, q)), each);
            let mut copy = Histogram::new();
            copy.record(3);
            copy.clone_from(&h);
            assert_eq!(copy, h);
            assert_eq!(h.clone(), h);
            before.clone_from(&h);
        }
        assert_eq!(h.quantiles_since(&before, [0.5, 0.99]), [None, None]);
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::new();
        for v in 0..256 {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), Some(127));
        assert_eq!(h.quantile(0.0), Some(0));
        assert_eq!(h.quantile(1.0), Some(255));
        assert_eq!(h.count(), 256);
        assert_eq!(h.mean(), 127.5);
    }

    #[test]
    fn bucket_layout_is_contiguous() {
        // Every bucket starts where the previous one ended.
        let mut expect_low = 0u64;
        for i in 0..MAX_BUCKETS - 1 {
            let (low, width) = bucket_bounds(i);
            assert_eq!(low, expect_low, "bucket {i}");
            assert_eq!(bucket_index(low), i);
            assert_eq!(bucket_index(low + width - 1), i);
            expect_low = low + width;
        }
        assert_eq!(bucket_index(u64::MAX), MAX_BUCKETS - 1);
    }

    #[test]
    fn percentiles_are_within_one_percent_of_exact() {
        // Latency-shaped data over six orders of magnitude.
        let d = Dist::log_normal_from_median_p99(2e6, 400e6).unwrap();
        let mut rng = SimRng::for_component(5, "hist");
        let mut values: Vec<u64> = (0..200_000)
            .map(|_| d.sample_duration(&mut rng).as_nanos())
            .collect();
        let mut h = Histogram::new();
        for &v in &values {
            h.record(v);
        }
        values.sort_unstable();
        for q in [0.01, 0.5, 0.9, 0.99, 0.999, 0.9999] {
            let rank = ((q * values.len() as f64).ceil() as usize).max(1);
            let exact = values[rank - 1] as f64;
            let got = h.quantile(q).unwrap() as f64;
            let err = (got - exact).abs() / exact;
            assert!(err <= 0.01, "q{q}: {got} vs exact {exact} ({err})");
        }
        assert_eq!(h.quantile(1.0), values.last().copied());
        assert!(h.allocated_bytes() <= Histogram::MAX_BYTES);
    }

    #[test]
    fn merging_equals_recording_everything_in_one() {
        let mut rng = SimRng::for_component(6, "merge");
        let (mut a, mut b, mut all) = (Histogram::new(), Histogram::new(), Histogram::new());
        for i in 0..50_000u64 {
            let v = rng.next_u64() >> (rng.below(60) + 4);
            if i % 3 == 0 {
                a.record(v)
            } else {
                b.record(v)
            }
            all.record(v);
        }
        a.merge(&b);
        assert_eq!(a, all);
    }

    #[test]
    fn gauge_time_average() {
        let mut g = Gauge::new(SimTime::ZERO);
        g.set(SimTime::from_nanos(10), 2.0); // 0 for 10ns
        g.set(SimTime::from_nanos(30), 4.0); // 2 for 20ns
        // 4 for 10ns more: (0*10 + 2*20 + 4*10) / 40 = 2.0
        assert_eq!(g.time_average(SimTime::from_nanos(40)), 2.0);
        assert_eq!(g.max(), 4.0);
    }

    #[test]
    fn series_coarsens_instead_of_growing() {
        let mut s = TimeSeries::new(10, 8);
        for t in 0..1000u64 {
            s.record(SimTime::from_nanos(t), 1.0);
        }
        assert!(s.buckets().len() <= 8);
        assert_eq!(s.buckets().iter().map(|b| b.count).sum::<u64>(), 1000);
        assert_eq!(s.interval_ns(), 160);
    }

    #[test]
    fn registry_is_by_name_and_sorted() {
        let mut m = Metrics::new();
        let b = m.counter("b");
        let a = m.counter("a");
        assert_eq!(m.counter("b"), b);
        m.add(a, 2);
        m.add(b, 5);
        let listed: Vec<_> = m.counters().collect();
        assert_eq!(listed, [("a", 2), ("b", 5)]);
        assert_eq!(m.get_counter("b"), Some(5));
        assert_eq!(m.get_counter("nope"), None);
    }
}
