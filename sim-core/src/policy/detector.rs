//! Failure detectors: from the heartbeats a process has sent, decide
//! whether to suspect it has failed. No detector can tell a crashed
//! process from a slow or paused one; each trades how fast it notices a
//! crash against how often it suspects a process that is fine.
//!
//! - A heartbeat timeout suspects a process silent for longer than a fixed
//!   time.
//! - The phi-accrual detector keeps a window of the gaps between
//!   heartbeats and, from their mean and spread, turns the silence so far
//!   into a suspicion level: phi = -log10 of the chance that a gap at
//!   least this long occurs while the process is fine, with gaps taken as
//!   normally distributed. It suspects when phi reaches a threshold, so a
//!   threshold of phi means one false suspicion in 10^phi gaps, whatever
//!   the network's jitter; a jittery network waits longer before
//!   suspecting than a steady one.
//!
//! Reference: N. Hayashibara, X. Défago, R. Yared and T. Katayama, "The
//! φ Accrual Failure Detector", SRDS 2004.
//!
//! Decision: `suspects` at a time, and `suspect_at`, when it will suspect
//! if nothing more arrives (to set a timer). State: the last heartbeat's
//! arrival and the window of gaps. Metrics (kept by the model that uses
//! it): suspicions, false suspicions, detection time.

use crate::dist::standard_normal_quantile;
use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DetectorConfig {
    /// Suspect after this long without a heartbeat.
    Timeout(SimDuration),
    /// Suspect when phi reaches `threshold`, judging by the last `window`
    /// gaps, whose spread is taken to be at least `min_std` (a perfectly
    /// steady sender would otherwise be suspected the moment it is late).
    Phi {
        threshold: f64,
        window: usize,
        min_std: SimDuration,
    },
}

/// What one detector knows of one process.
#[derive(Clone, Debug)]
pub struct Detector {
    cfg: DetectorConfig,
    last: Option<SimTime>,
    /// The latest gaps, in nanoseconds, with their sum and sum of squares.
    gaps: VecDeque<f64>,
    sum: f64,
    sum_sq: f64,
}

impl Detector {
    pub fn new(cfg: DetectorConfig) -> Self {
        Detector {
            cfg,
            last: None,
            gaps: VecDeque::new(),
            sum: 0.0,
            sum_sq: 0.0,
        }
    }

    /// A heartbeat arrived at `now`.
    pub fn heartbeat(&mut self, now: SimTime) {
        if let (Some(last), DetectorConfig::Phi { window, .. }) = (self.last, self.cfg) {
            let gap = now.saturating_since(last).as_nanos() as f64;
            self.gaps.push_back(gap);
            self.sum += gap;
            self.sum_sq += gap * gap;
            if self.gaps.len() > window.max(1)
                && let Some(old) = self.gaps.pop_front()
            {
                self.sum -= old;
                self.sum_sq -= old * old;
            }
        }
        self.last = Some(now);
    }

    /// The mean and standard deviation of the gaps in the window (None
    /// before two heartbeats).
    fn spread(&self, min_std: SimDuration) -> Option<(f64, f64)> {
        let n = self.gaps.len() as f64;
        if n < 1.0 {
            return None;
        }
        let mean = self.sum / n;
        let var = (self.sum_sq / n - mean * mean).max(0.0);
        Some((mean, libm::sqrt(var).max(min_std.as_nanos() as f64)))
    }

    /// The suspicion level at `now`: phi for the phi detector; for the
    /// timeout, 0 before it runs out and infinity after. 0 before any
    /// heartbeat (nothing is suspected before it has been heard from).
    pub fn phi(&self, now: SimTime) -> f64 {
        let Some(last) = self.last else { return 0.0 };
        let silent = now.saturating_since(last);
        match self.cfg {
            DetectorConfig::Timeout(after) if silent > after => f64::INFINITY,
            DetectorConfig::Timeout(_) => 0.0,
            DetectorConfig::Phi { min_std, .. } => {
                let Some((mean, std)) = self.spread(min_std) else {
                    return 0.0;
                };
                let z = (silent.as_nanos() as f64 - mean) / std;
                // The chance a healthy gap lasts longer: the normal tail.
                let later = 0.5 * libm::erfc(z / core::f64::consts::SQRT_2);
                if later <= 0.0 {
                    f64::INFINITY
                } else {
                    -libm::log10(later)
                }
            }
        }
    }

    /// Whether it suspects the process at `now`: from `suspect_at` on.
    pub fn suspects(&self, now: SimTime) -> bool {
        self.suspect_at().is_some_and(|t| now >= t)
    }

    /// When it will begin to suspect if no heartbeat arrives (None before
    /// the first, or, for phi, before it has a gap to judge by).
    pub fn suspect_at(&self) -> Option<SimTime> {
        let last = self.last?;
        let after = match self.cfg {
            DetectorConfig::Timeout(after) => after + SimDuration::from_nanos(1),
            DetectorConfig::Phi {
                threshold, min_std, ..
            } => {
                let (mean, std) = self.spread(min_std)?;
                let z = standard_normal_quantile(1.0 - libm::pow(10.0, -threshold));
                let ns = libm::ceil(mean + std * z).max(1.0);
                SimDuration::from_nanos(ns as u64)
            }
        };
        Some(last + after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::Dist;
    use crate::rng::SimRng;

    fn at(ns: f64) -> SimTime {
        SimTime::from_nanos(ns as u64)
    }

    fn phi(threshold: f64) -> Detector {
        Detector::new(DetectorConfig::Phi {
            threshold,
            window: 1000,
            min_std: SimDuration::from_millis(1),
        })
    }

    /// Gaps of 90 and 110 ms in turn: mean 100 ms, spread 10 ms. At the
    /// mean gap half of healthy gaps are longer: phi = log10(2); one
    /// spread later, the normal tail beyond one sigma (15.87%).
    #[test]
    fn phi_is_the_normal_tail_of_the_silence() {
        let mut d = phi(8.0);
        let mut last = 0.0;
        // 101 heartbeats: 50 gaps of each length.
        for i in 0..101 {
            d.heartbeat(at(last));
            if i < 100 {
                last += if i % 2 == 0 { 90e6 } else { 110e6 };
            }
        }
        assert!((d.phi(at(last + 100e6)) - libm::log10(2.0)).abs() < 1e-3);
        let one_sigma = -libm::log10(0.158_655_25);
        assert!((d.phi(at(last + 110e6)) - one_sigma).abs() < 1e-3);
        // Far out it suspects, and `suspect_at` is where phi reaches 8.
        let when = d.suspect_at().unwrap();
        let before = SimTime::from_nanos(when.as_nanos() - 1);
        assert!(!d.suspects(before) && d.suspects(when));
        assert!((d.phi(when) - 8.0).abs() < 1e-3, "{}", d.phi(when));
    }

    /// The detector's promise: with healthy gaps drawn from a normal
    /// distribution (100 ms, spread 10 ms), a threshold of phi suspects
    /// wrongly in a fraction 10^-phi of the gaps: 10% at phi = 1, 1% at
    /// phi = 2, within what 100,000 gaps and a 1000-gap window allow.
    #[test]
    fn a_threshold_of_phi_suspects_one_healthy_gap_in_ten_to_the_phi() {
        for threshold in [1.0, 2.0] {
            let gaps = Dist::normal(100e6, 10e6).unwrap();
            let mut rng = SimRng::for_component(7, "gaps");
            let mut d = phi(threshold);
            let mut t = 0.0;
            let (mut judged, mut wrong) = (0u32, 0u32);
            for i in 0..101_000 {
                d.heartbeat(at(t));
                let gap = gaps.sample(&mut rng).max(1e6);
                if i >= 1000 {
                    judged += 1;
                    wrong += u32::from(d.suspect_at().unwrap() <= at(t + gap));
                }
                t += gap;
            }
            let share = f64::from(wrong) / f64::from(judged);
            let want = libm::pow(10.0, -threshold);
            assert!((share / want - 1.0).abs() < 0.1, "phi {threshold}: {share}");
        }
    }

    /// A jittery sender is given longer before suspicion than a steady
    /// one at the same threshold; a timeout gives both the same.
    #[test]
    fn phi_waits_longer_for_a_jittery_sender_and_a_timeout_does_not() {
        let wait = |cfg: DetectorConfig, spread: f64| {
            let mut d = Detector::new(cfg);
            let mut last = 0.0;
            for i in 0..201 {
                d.heartbeat(at(last));
                if i < 200 {
                    last += if i % 2 == 0 {
                        100e6 - spread
                    } else {
                        100e6 + spread
                    };
                }
            }
            d.suspect_at().unwrap().saturating_since(at(last))
        };
        let p = DetectorConfig::Phi {
            threshold: 8.0,
            window: 100,
            min_std: SimDuration::from_millis(1),
        };
        assert!(wait(p, 40e6) > wait(p, 5e6) + SimDuration::from_millis(100));
        let timeout = DetectorConfig::Timeout(SimDuration::from_millis(500));
        assert_eq!(wait(timeout, 40e6), wait(timeout, 5e6));
        // A timeout suspects only once its time has passed.
        let mut d = Detector::new(timeout);
        assert!(!d.suspects(at(1e12)), "nothing heard, nothing suspected");
        d.heartbeat(at(0.0));
        assert!(!d.suspects(at(500e6)) && d.suspects(at(500e6 + 1.0)));
    }
}
