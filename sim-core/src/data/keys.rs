//! Which keys a workload touches: uniformly, by a Zipf law (a few keys are
//! very popular), or one hot key taking a fixed share of the traffic.
//!
//! The Zipf sampler inverts a precomputed cumulative table with a binary
//! search: exact for the finite key space, and with no transcendental
//! math per draw (the table uses `libm::pow`), so it is the same on every
//! platform.

use crate::rng::SimRng;

#[derive(Clone, Debug, PartialEq)]
pub enum KeyDist {
    /// Keys 0..n, each as likely.
    Uniform { n: u64 },
    /// Key k (0-based) with probability proportional to 1/(k+1)^s.
    Zipf { cumulative: Vec<f64> },
    /// Key 0 with probability `share`, else uniform over 1..n.
    HotKey { n: u64, share: f64 },
}

impl KeyDist {
    pub fn uniform(n: u64) -> Self {
        assert!(n > 0);
        KeyDist::Uniform { n }
    }

    /// A Zipf law over `n` keys with exponent `s` (1 is the classic).
    pub fn zipf(n: u64, s: f64) -> Self {
        assert!(n > 0 && s >= 0.0);
        let mut cumulative = Vec::with_capacity(n as usize);
        let mut total = 0.0;
        for k in 1..=n {
            total += 1.0 / libm::pow(k as f64, s);
            cumulative.push(total);
        }
        for c in &mut cumulative {
            *c /= total;
        }
        KeyDist::Zipf { cumulative }
    }

    pub fn hot_key(n: u64, share: f64) -> Self {
        assert!(n > 1 && (0.0..=1.0).contains(&share));
        KeyDist::HotKey { n, share }
    }

    pub fn sample(&self, rng: &mut SimRng) -> u64 {
        match self {
            KeyDist::Uniform { n } => rng.below(*n),
            KeyDist::Zipf { cumulative } => {
                let u = rng.uniform();
                (cumulative.partition_point(|&c| c <= u) as u64).min(cumulative.len() as u64 - 1)
            }
            KeyDist::HotKey { n, share } => {
                if rng.chance(*share) {
                    0
                } else {
                    1 + rng.below(n - 1)
                }
            }
        }
    }

    /// The probability of key `k`.
    pub fn probability(&self, k: u64) -> f64 {
        match self {
            KeyDist::Uniform { n } => {
                if k < *n {
                    1.0 / *n as f64
                } else {
                    0.0
                }
            }
            KeyDist::Zipf { cumulative } => match k as usize {
                0 => cumulative[0],
                i if i < cumulative.len() => cumulative[i] - cumulative[i - 1],
                _ => 0.0,
            },
            KeyDist::HotKey { n, share } => match k {
                0 => *share,
                k if k < *n => (1.0 - share) / (*n - 1) as f64,
                _ => 0.0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_frequencies_follow_the_law() {
        let d = KeyDist::zipf(1000, 1.0);
        let mut rng = SimRng::for_component(5, "zipf");
        let draws = 200_000;
        let mut counts = [0u64; 4];
        for _ in 0..draws {
            let k = d.sample(&mut rng);
            assert!(k < 1000);
            if k < 4 {
                counts[k as usize] += 1;
            }
        }
        // P(0) = 1/H(1000) = 0.1336; P(k) = P(0)/(k+1).
        assert!((d.probability(0) - 0.13359).abs() < 1e-4);
        for (k, &c) in counts.iter().enumerate() {
            let p = d.probability(k as u64);
            let sd = (p * (1.0 - p) / draws as f64).sqrt();
            let got = c as f64 / draws as f64;
            assert!((got - p).abs() < 4.0 * sd, "key {k}: {got} vs {p}");
        }
    }

    #[test]
    fn a_hot_key_takes_its_share() {
        let d = KeyDist::hot_key(100, 0.3);
        let mut rng = SimRng::for_component(6, "hot");
        let hot = (0..100_000).filter(|_| d.sample(&mut rng) == 0).count() as f64 / 1e5;
        assert!((hot - 0.3).abs() < 4.0 * (0.21f64 / 1e5).sqrt(), "{hot}");
        let total: f64 = (0..100).map(|k| d.probability(k)).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }
}
