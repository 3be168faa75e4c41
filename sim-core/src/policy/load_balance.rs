//! Load balancing over a dependency's replicas, with outlier ejection and
//! the results of active health checks deciding which replicas are in.
//!
//! References: the balancing policies of Envoy (round robin, random, least
//! request) and M. Mitzenmacher, "The Power of Two Choices in Randomized
//! Load Balancing" (IEEE TPDS, 2001); outlier ejection after Envoy's
//! `consecutive_5xx` detector (an ejection lasts `base_ejection` times the
//! number of times the host was ejected, and at most `max_ejected` of the
//! hosts are out at once); active health checks after Envoy's
//! `unhealthy_threshold` and `healthy_threshold`.
//!
//! Decision: which replica gets the next attempt. State: calls in flight
//! per replica, consecutive errors, ejections, health. Metrics (kept by
//! the caller): picks per replica, ejections, replicas marked unhealthy.

use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};

/// The most choices a power-of-d balancer draws.
pub const MAX_CHOICES: usize = 16;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Balancer {
    #[default]
    RoundRobin,
    Random,
    /// The replica with the fewest calls in flight (ties: at random).
    LeastConnections,
    /// `d` different replicas at random (all of them if there are fewer),
    /// the one with the fewest calls in flight (ties: the first drawn).
    /// d = 2 is "the power of two choices" (Mitzenmacher; Azar et al.).
    PowerOfChoices(u32),
}

/// A scenario names a balancer by its name, or power of d choices as
/// `{ choices = d }` (`power_of_two` is `{ choices = 2 }`).
impl<'de> serde::Deserialize<'de> for Balancer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, Visitor};
        struct V;
        const EXPECTED: &str = "`round_robin`, `random`, `least_connections`, `power_of_two`, or `{ choices = d }` (power of d choices, d from 1 to 16)";
        impl<'de> Visitor<'de> for V {
            type Value = Balancer;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Balancer, E> {
                match v {
                    "round_robin" => Ok(Balancer::RoundRobin),
                    "random" => Ok(Balancer::Random),
                    "least_connections" => Ok(Balancer::LeastConnections),
                    "power_of_two" => Ok(Balancer::PowerOfChoices(2)),
                    other => Err(E::custom(format!(
                        "unknown balancer `{other}`; expected {EXPECTED}"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Balancer, A::Error> {
                let mut choices: Option<i64> = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "choices" {
                        return Err(de::Error::custom(format!(
                            "unknown field `{key}` in `balance`; expected `choices`"
                        )));
                    }
                    choices = Some(map.next_value()?);
                }
                match choices {
                    Some(d) if (1..=MAX_CHOICES as i64).contains(&d) => {
                        Ok(Balancer::PowerOfChoices(d as u32))
                    }
                    Some(d) => Err(de::Error::custom(format!(
                        "`choices` is from 1 to {MAX_CHOICES}, got {d}"
                    ))),
                    None => Err(de::Error::custom(
                        "`balance` as a table needs `choices = d`",
                    )),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Envoy-style outlier ejection on consecutive errors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutlierConfig {
    pub consecutive_errors: u32,
    pub base_ejection: SimDuration,
    /// The largest fraction of replicas that may be ejected at once.
    pub max_ejected: f64,
}

/// Active health checking: probe every `interval`; a replica is unhealthy
/// after `unhealthy_threshold` failed probes in a row, and healthy again
/// after `healthy_threshold` good ones.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HealthCheckConfig {
    pub interval: SimDuration,
    pub timeout: SimDuration,
    pub unhealthy_threshold: u32,
    pub healthy_threshold: u32,
}

#[derive(Clone, Debug, Default)]
struct Replica {
    in_flight: u32,
    consecutive_errors: u32,
    ejected_until: Option<SimTime>,
    times_ejected: u32,
    healthy: bool,
    probe_streak: u32,
}

/// What an outcome did to a replica's standing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    Unchanged,
    Ejected,
    MarkedUnhealthy,
    MarkedHealthy,
}

#[derive(Clone, Debug)]
pub struct LoadBalancer {
    policy: Balancer,
    outlier: Option<OutlierConfig>,
    health: Option<HealthCheckConfig>,
    replicas: Vec<Replica>,
    next: usize,
}

impl LoadBalancer {
    pub fn new(
        replicas: usize,
        policy: Balancer,
        outlier: Option<OutlierConfig>,
        health: Option<HealthCheckConfig>,
    ) -> Self {
        assert!(replicas > 0, "a load balancer needs a replica");
        LoadBalancer {
            policy,
            outlier,
            health,
            replicas: vec![
                Replica {
                    healthy: true,
                    ..Replica::default()
                };
                replicas
            ],
            next: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.replicas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.replicas.is_empty()
    }

    pub fn health_check(&self) -> Option<HealthCheckConfig> {
        self.health
    }

    pub fn in_flight(&self, replica: usize) -> u32 {
        self.replicas[replica].in_flight
    }

    fn available(&self, i: usize, now: SimTime) -> bool {
        let r = &self.replicas[i];
        r.healthy && r.ejected_until.is_none_or(|t| now >= t)
    }

    /// The replica for the next attempt, avoiding `exclude` (a hedge's
    /// first replica) when another is available. If every replica is out
    /// (ejected or unhealthy), all are considered, as Envoy's panic mode
    /// does, rather than failing every call.
    pub fn pick(&mut self, now: SimTime, exclude: Option<usize>, rng: &mut SimRng) -> usize {
        let n = self.replicas.len();
        // The candidates, without allocating: available and not excluded;
        // else available; else everyone.
        let tiers: [&dyn Fn(usize) -> bool; 3] = [
            &|i| self.available(i, now) && Some(i) != exclude,
            &|i| self.available(i, now),
            &|_| true,
        ];
        let (tier, count) = tiers
            .iter()
            .enumerate()
            .map(|(t, f)| (t, (0..n).filter(|&i| f(i)).count()))
            .find(|&(_, c)| c > 0)
            .expect("everyone is a candidate in the last tier");
        let ok = |i: usize| tiers[tier](i);
        let nth = |k: usize| (0..n).filter(|&i| ok(i)).nth(k).expect("k < count");
        let chosen = match self.policy {
            Balancer::RoundRobin => {
                // The next candidate at or after the cursor.
                let start = self.next % n;
                let c = (0..n)
                    .map(|k| (start + k) % n)
                    .find(|&i| ok(i))
                    .expect("count > 0");
                self.next = c + 1;
                c
            }
            Balancer::Random => nth(rng.below(count as u64) as usize),
            Balancer::LeastConnections => {
                // Ties are broken at random, so idle replicas share alike.
                let least = (0..n)
                    .filter(|&i| ok(i))
                    .map(|i| self.replicas[i].in_flight)
                    .min()
                    .expect("count > 0");
                let tied = (0..n)
                    .filter(|&i| ok(i) && self.replicas[i].in_flight == least)
                    .count();
                let k = rng.below(tied as u64) as usize;
                (0..n)
                    .filter(|&i| ok(i) && self.replicas[i].in_flight == least)
                    .nth(k)
                    .expect("k < tied")
            }
            Balancer::PowerOfChoices(d) => {
                // d different candidates: the first at random, each next
                // one the j-th (at random) of those not yet drawn, counted
                // on from the first.
                let len = count as u64;
                let d = u64::from(d).clamp(1, len);
                let first = rng.below(len);
                let mut drawn: [u64; MAX_CHOICES] = [first; MAX_CHOICES];
                let mut best = nth(first as usize);
                for k in 1..d as usize {
                    let mut j = rng.below(len - k as u64);
                    let mut pick = first;
                    loop {
                        pick = (pick + 1) % len;
                        if drawn[..k].contains(&pick) {
                            continue;
                        }
                        if j == 0 {
                            break;
                        }
                        j -= 1;
                    }
                    drawn[k] = pick;
                    let candidate = nth(pick as usize);
                    if self.replicas[candidate].in_flight < self.replicas[best].in_flight {
                        best = candidate;
                    }
                }
                best
            }
        };
        self.replicas[chosen].in_flight += 1;
        chosen
    }

    /// Counts an attempt sent to a replica chosen by the caller (a
    /// fan-out's leaf) rather than by the balancer.
    pub fn pick_exact(&mut self, replica: usize) {
        self.replicas[replica].in_flight += 1;
    }

    /// An attempt to `replica` ended (or was abandoned: `failed` None).
    /// O(1) unless the attempt failed with outlier ejection on (then the
    /// replicas out now are counted, against `max_ejected`).
    pub fn finish(&mut self, replica: usize, now: SimTime, failed: Option<bool>) -> Standing {
        let n = self.replicas.len();
        let ejected_now = || {
            self.replicas
                .iter()
                .filter(|r| r.ejected_until.is_some_and(|t| now < t))
                .count()
        };
        let ejected_now = if failed == Some(true) && self.outlier.is_some() {
            ejected_now()
        } else {
            0
        };
        let r = &mut self.replicas[replica];
        r.in_flight = r.in_flight.saturating_sub(1);
        match failed {
            None => Standing::Unchanged,
            Some(false) => {
                r.consecutive_errors = 0;
                Standing::Unchanged
            }
            Some(true) => {
                r.consecutive_errors += 1;
                let Some(o) = self.outlier else {
                    return Standing::Unchanged;
                };
                let already_out = r.ejected_until.is_some_and(|t| now < t);
                let room = ((ejected_now + 1) as f64) <= o.max_ejected * n as f64;
                if r.consecutive_errors >= o.consecutive_errors && !already_out && room {
                    r.times_ejected += 1;
                    r.ejected_until = Some(
                        now.saturating_add(SimDuration::from_nanos(
                            o.base_ejection
                                .as_nanos()
                                .saturating_mul(u64::from(r.times_ejected)),
                        )),
                    );
                    r.consecutive_errors = 0;
                    Standing::Ejected
                } else {
                    Standing::Unchanged
                }
            }
        }
    }

    /// A health probe of `replica` came back good or bad (or timed out).
    pub fn probe_result(&mut self, replica: usize, good: bool) -> Standing {
        let Some(h) = self.health else {
            return Standing::Unchanged;
        };
        let r = &mut self.replicas[replica];
        if good == r.healthy {
            r.probe_streak = 0;
            return Standing::Unchanged;
        }
        r.probe_streak += 1;
        let needed = if r.healthy {
            h.unhealthy_threshold
        } else {
            h.healthy_threshold
        };
        if r.probe_streak >= needed {
            r.healthy = good;
            r.probe_streak = 0;
            if good {
                Standing::MarkedHealthy
            } else {
                Standing::MarkedUnhealthy
            }
        } else {
            Standing::Unchanged
        }
    }

    pub fn is_healthy(&self, replica: usize) -> bool {
        self.replicas[replica].healthy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng() -> SimRng {
        SimRng::for_component(1, "lb")
    }

    #[test]
    fn round_robin_cycles_and_skips_ejected_replicas() {
        let outlier = OutlierConfig {
            consecutive_errors: 2,
            base_ejection: SimDuration::from_secs(10),
            max_ejected: 0.5,
        };
        let mut lb = LoadBalancer::new(3, Balancer::RoundRobin, Some(outlier), None);
        let now = SimTime::ZERO;
        let picks: Vec<usize> = (0..6).map(|_| lb.pick(now, None, &mut rng())).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        assert_eq!(lb.finish(1, now, Some(true)), Standing::Unchanged);
        assert_eq!(lb.finish(1, now, Some(true)), Standing::Ejected);
        let picks: Vec<usize> = (0..4).map(|_| lb.pick(now, None, &mut rng())).collect();
        assert_eq!(picks, [0, 2, 0, 2]);
        // After the ejection time, it is back.
        let later = now + SimDuration::from_secs(10);
        let picks: Vec<usize> = (0..3).map(|_| lb.pick(later, None, &mut rng())).collect();
        assert!(picks.contains(&1), "{picks:?}");
    }

    #[test]
    fn ejection_respects_the_maximum_and_grows_with_repeats() {
        let outlier = OutlierConfig {
            consecutive_errors: 1,
            base_ejection: SimDuration::from_secs(1),
            max_ejected: 0.5,
        };
        let mut lb = LoadBalancer::new(2, Balancer::RoundRobin, Some(outlier), None);
        let t0 = SimTime::ZERO;
        for r in [0, 1] {
            lb.pick(t0, None, &mut rng());
            let _ = r;
        }
        assert_eq!(lb.finish(0, t0, Some(true)), Standing::Ejected);
        // Ejecting the second would leave none: not allowed at 50%.
        assert_eq!(lb.finish(1, t0, Some(true)), Standing::Unchanged);
        // Ejected a second time, replica 0 stays out twice as long.
        let t1 = t0 + SimDuration::from_secs(1);
        assert_eq!(lb.finish(0, t1, Some(true)), Standing::Ejected);
        assert!(!lb.available(0, t1 + SimDuration::from_millis(1999)));
        assert!(lb.available(0, t1 + SimDuration::from_secs(2)));
    }

    #[test]
    fn least_connections_and_two_choices_prefer_idle_replicas() {
        let mut lb = LoadBalancer::new(3, Balancer::LeastConnections, None, None);
        let now = SimTime::ZERO;
        let mut r = rng();
        let mut first: Vec<usize> = (0..3).map(|_| lb.pick(now, None, &mut r)).collect();
        first.sort();
        assert_eq!(first, [0, 1, 2], "one each before any gets a second");
        lb.finish(1, now, Some(false));
        assert_eq!(lb.pick(now, None, &mut r), 1);
        // Two choices never picks the busiest of two replicas.
        let mut p2 = LoadBalancer::new(2, Balancer::PowerOfChoices(2), None, None);
        let mut r = rng();
        for _ in 0..5 {
            p2.replicas[0].in_flight += 1;
        }
        for _ in 0..50 {
            let c = p2.pick(now, None, &mut r);
            assert_eq!(c, 1);
            p2.finish(c, now, None);
        }
    }

    #[test]
    fn health_checks_need_a_streak_both_ways() {
        let h = HealthCheckConfig {
            interval: SimDuration::from_secs(1),
            timeout: SimDuration::from_millis(100),
            unhealthy_threshold: 2,
            healthy_threshold: 3,
        };
        let mut lb = LoadBalancer::new(2, Balancer::RoundRobin, None, Some(h));
        assert_eq!(lb.probe_result(0, false), Standing::Unchanged);
        assert_eq!(lb.probe_result(0, false), Standing::MarkedUnhealthy);
        let now = SimTime::ZERO;
        for _ in 0..4 {
            assert_eq!(lb.pick(now, None, &mut rng()), 1);
            lb.finish(1, now, None);
        }
        assert_eq!(lb.probe_result(0, true), Standing::Unchanged);
        assert_eq!(
            lb.probe_result(0, false),
            Standing::Unchanged,
            "streak reset"
        );
        for _ in 0..2 {
            assert_eq!(lb.probe_result(0, true), Standing::Unchanged);
        }
        assert_eq!(lb.probe_result(0, true), Standing::MarkedHealthy);
    }

    #[test]
    fn a_hedge_goes_to_another_replica() {
        let mut lb = LoadBalancer::new(2, Balancer::RoundRobin, None, None);
        let now = SimTime::ZERO;
        let first = lb.pick(now, None, &mut rng());
        assert_ne!(lb.pick(now, Some(first), &mut rng()), first);
        // With one replica, the hedge goes to it anyway.
        let mut one = LoadBalancer::new(1, Balancer::Random, None, None);
        assert_eq!(one.pick(now, Some(0), &mut rng()), 0);
    }
}
