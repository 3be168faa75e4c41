//! Probability distributions for latencies, service times and inter-arrival
//! gaps, sampled from a component's own stream.
//!
//! Every transcendental function goes through `libm`, whose results are the
//! same bits natively and in WebAssembly; `std`'s `ln`/`exp` defer to the
//! platform and are not guaranteed to agree. Each distribution also knows its
//! mean, CDF and quantile function, so tests can hold samples to the formula.
//!
//! Values are plain `f64`; for time they are nanoseconds (see
//! [`Dist::sample_duration`]).

use crate::rng::SimRng;
use crate::time::SimDuration;
use core::fmt;

/// The standard normal quantile at 0.99: a log-normal given by its median
/// and p99 has sigma = ln(p99 / median) / Z_99.
pub const Z_99: f64 = 2.326_347_874_040_840_8;

/// A distribution over non-negative reals (the normal may go negative;
/// durations clamp at zero).
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    Constant(f64),
    Uniform {
        low: f64,
        high: f64,
    },
    Exponential {
        mean: f64,
    },
    Normal {
        mean: f64,
        std_dev: f64,
    },
    /// ln(X) ~ Normal(mu, sigma).
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    /// P(X > x) = (scale / x)^shape for x >= scale.
    Pareto {
        scale: f64,
        shape: f64,
    },
    /// Piecewise-linear inverse CDF through (quantile, value) points, from
    /// quantile 0 (the minimum) to 1 (the maximum).
    Empirical {
        points: Vec<(f64, f64)>,
    },
    /// Pick a component with probability proportional to its weight.
    Mixture {
        parts: Vec<(f64, Dist)>,
    },
}

/// A distribution's parameters are out of range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistError(pub String);

impl fmt::Display for DistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DistError {}

fn check(ok: bool, msg: impl FnOnce() -> String) -> Result<(), DistError> {
    if ok { Ok(()) } else { Err(DistError(msg())) }
}

fn finite_non_negative(name: &str, v: f64) -> Result<(), DistError> {
    check(v.is_finite() && v >= 0.0, || {
        format!("{name} must be a finite number >= 0, got {v}")
    })
}

impl Dist {
    pub fn constant(v: f64) -> Result<Dist, DistError> {
        finite_non_negative("constant value", v)?;
        Ok(Dist::Constant(v))
    }

    pub fn uniform(low: f64, high: f64) -> Result<Dist, DistError> {
        finite_non_negative("uniform low", low)?;
        finite_non_negative("uniform high", high)?;
        check(low <= high, || {
            format!("uniform needs low <= high, got low {low} > high {high}")
        })?;
        Ok(Dist::Uniform { low, high })
    }

    pub fn exponential(mean: f64) -> Result<Dist, DistError> {
        check(mean.is_finite() && mean > 0.0, || {
            format!("exponential mean must be > 0, got {mean}")
        })?;
        Ok(Dist::Exponential { mean })
    }

    pub fn normal(mean: f64, std_dev: f64) -> Result<Dist, DistError> {
        check(mean.is_finite(), || {
            format!("normal mean must be finite, got {mean}")
        })?;
        finite_non_negative("normal std_dev", std_dev)?;
        Ok(Dist::Normal { mean, std_dev })
    }

    /// A log-normal with the given median and 99th percentile, the way
    /// latencies are usually reported.
    pub fn log_normal_from_median_p99(median: f64, p99: f64) -> Result<Dist, DistError> {
        check(median.is_finite() && median > 0.0, || {
            format!("log-normal median must be > 0, got {median}")
        })?;
        check(p99.is_finite() && p99 >= median, || {
            format!("log-normal p99 must be >= the median ({median}), got {p99}")
        })?;
        Ok(Dist::LogNormal {
            mu: libm::log(median),
            sigma: libm::log(p99 / median) / Z_99,
        })
    }

    pub fn pareto(scale: f64, shape: f64) -> Result<Dist, DistError> {
        check(scale.is_finite() && scale > 0.0, || {
            format!("pareto scale (the minimum) must be > 0, got {scale}")
        })?;
        check(shape.is_finite() && shape > 0.0, || {
            format!("pareto shape must be > 0, got {shape}")
        })?;
        Ok(Dist::Pareto { scale, shape })
    }

    /// Points are (quantile, value), quantiles strictly increasing from 0 to
    /// 1, values non-decreasing: e.g. min, p50, p99, max.
    pub fn empirical(points: Vec<(f64, f64)>) -> Result<Dist, DistError> {
        check(points.len() >= 2, || {
            "empirical needs at least two points: the minimum (quantile 0) and the maximum (quantile 1)".into()
        })?;
        check(
            points[0].0 == 0.0 && points[points.len() - 1].0 == 1.0,
            || {
                "empirical points must start at quantile 0 (the minimum) and end at quantile 1 (the maximum)".into()
            },
        )?;
        for w in points.windows(2) {
            let ((q0, v0), (q1, v1)) = (w[0], w[1]);
            check(q1 > q0, || {
                format!("empirical quantiles must increase, got {q0} then {q1}")
            })?;
            finite_non_negative("empirical value", v0)?;
            finite_non_negative("empirical value", v1)?;
            check(v1 >= v0, || {
                format!(
                    "empirical values must not decrease, got {v0} at quantile {q0} then {v1} at {q1}"
                )
            })?;
        }
        Ok(Dist::Empirical { points })
    }

    pub fn mixture(parts: Vec<(f64, Dist)>) -> Result<Dist, DistError> {
        check(!parts.is_empty(), || {
            "a mixture needs at least one part".into()
        })?;
        for (w, _) in &parts {
            check(w.is_finite() && *w > 0.0, || {
                format!("mixture weights must be > 0, got {w}")
            })?;
        }
        Ok(Dist::Mixture { parts })
    }

    /// One draw. Uses a fixed number of uniforms per variant (except the
    /// normal's rejection loop), so streams stay aligned across variants.
    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        match self {
            Dist::Constant(v) => *v,
            Dist::Uniform { low, high } => low + (high - low) * rng.uniform(),
            Dist::Exponential { mean } => mean * standard_exponential(rng),
            Dist::Normal { mean, std_dev } => mean + std_dev * standard_normal(rng),
            Dist::LogNormal { mu, sigma } => libm::exp(mu + sigma * standard_normal(rng)),
            Dist::Pareto { scale, shape } => scale * libm::pow(rng.uniform_open0(), -1.0 / shape),
            Dist::Empirical { points } => interpolate(points, rng.uniform()),
            Dist::Mixture { parts } => {
                let total: f64 = parts.iter().map(|(w, _)| w).sum();
                let mut pick = rng.uniform() * total;
                for (w, d) in parts {
                    if pick < *w {
                        return d.sample(rng);
                    }
                    pick -= w;
                }
                parts[parts.len() - 1].1.sample(rng)
            }
        }
    }

    /// A draw interpreted as nanoseconds, clamped at zero.
    #[inline]
    pub fn sample_duration(&self, rng: &mut SimRng) -> SimDuration {
        match self {
            // The common case of a fixed latency needs no float round trip.
            Dist::Constant(v) => SimDuration::from_nanos_f64(*v),
            _ => SimDuration::from_nanos_f64(self.sample(rng)),
        }
    }

    /// The expected value (infinite for a Pareto with shape <= 1).
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Constant(v) => *v,
            Dist::Uniform { low, high } => (low + high) / 2.0,
            Dist::Exponential { mean } => *mean,
            Dist::Normal { mean, .. } => *mean,
            Dist::LogNormal { mu, sigma } => libm::exp(mu + sigma * sigma / 2.0),
            Dist::Pareto { scale, shape } => {
                if *shape <= 1.0 {
                    f64::INFINITY
                } else {
                    shape * scale / (shape - 1.0)
                }
            }
            Dist::Empirical { points } => points
                .windows(2)
                .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
                .sum(),
            Dist::Mixture { parts } => {
                let total: f64 = parts.iter().map(|(w, _)| w).sum();
                parts.iter().map(|(w, d)| w / total * d.mean()).sum()
            }
        }
    }

    /// P(X <= x).
    pub fn cdf(&self, x: f64) -> f64 {
        match self {
            Dist::Constant(v) => {
                if x >= *v {
                    1.0
                } else {
                    0.0
                }
            }
            Dist::Uniform { low, high } => {
                if x < *low {
                    0.0
                } else if x >= *high {
                    1.0
                } else {
                    (x - low) / (high - low)
                }
            }
            Dist::Exponential { mean } => {
                if x <= 0.0 {
                    0.0
                } else {
                    -libm::expm1(-x / mean)
                }
            }
            Dist::Normal { mean, std_dev } => standard_normal_cdf((x - mean) / std_dev),
            Dist::LogNormal { mu, sigma } => {
                if x <= 0.0 {
                    0.0
                } else {
                    standard_normal_cdf((libm::log(x) - mu) / sigma)
                }
            }
            Dist::Pareto { scale, shape } => {
                if x < *scale {
                    0.0
                } else {
                    1.0 - libm::pow(scale / x, *shape)
                }
            }
            Dist::Empirical { points } => {
                if x < points[0].1 {
                    return 0.0;
                }
                for w in points.windows(2) {
                    let ((q0, v0), (q1, v1)) = (w[0], w[1]);
                    if x < v1 {
                        return if v1 > v0 {
                            q0 + (q1 - q0) * (x - v0) / (v1 - v0)
                        } else {
                            q1
                        };
                    }
                }
                1.0
            }
            Dist::Mixture { parts } => {
                let total: f64 = parts.iter().map(|(w, _)| w).sum();
                parts.iter().map(|(w, d)| w / total * d.cdf(x)).sum()
            }
        }
    }

    /// The value below which a fraction `q` of draws fall.
    pub fn quantile(&self, q: f64) -> f64 {
        let q = q.clamp(0.0, 1.0);
        match self {
            Dist::Constant(v) => *v,
            Dist::Uniform { low, high } => low + (high - low) * q,
            Dist::Exponential { mean } => -mean * libm::log1p(-q),
            Dist::Normal { mean, std_dev } => mean + std_dev * standard_normal_quantile(q),
            Dist::LogNormal { mu, sigma } => libm::exp(mu + sigma * standard_normal_quantile(q)),
            Dist::Pareto { scale, shape } => scale * libm::pow(1.0 - q, -1.0 / shape),
            Dist::Empirical { points } => interpolate(points, q),
            Dist::Mixture { .. } => {
                // No closed form: bisect the CDF, which is monotone.
                let (mut lo, mut hi) = (0.0f64, 1.0f64);
                while self.cdf(hi) < q && hi < 1e300 {
                    hi *= 2.0;
                }
                for _ in 0..200 {
                    let mid = 0.5 * (lo + hi);
                    if self.cdf(mid) < q {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                hi
            }
        }
    }
}

fn interpolate(points: &[(f64, f64)], u: f64) -> f64 {
    // Few points (typically 3 to 8): a linear scan beats a binary search.
    for w in points.windows(2) {
        let ((q0, v0), (q1, v1)) = (w[0], w[1]);
        if u <= q1 {
            return v0 + (v1 - v0) * (u - q0) / (q1 - q0);
        }
    }
    points[points.len() - 1].1
}

/// The ziggurat for the standard exponential (G. Marsaglia and W. W. Tsang,
/// "The Ziggurat Method for Generating Random Variables", 2000): 256 layers
/// of equal area. About 98.9% of draws take one 64-bit word, a multiply and
/// a compare; the rest fall back to an exact test or the tail, through
/// `libm`. The tables are built once, with `libm`, so they are the same bits
/// on every platform.
struct Ziggurat {
    /// x[i] is the right edge of layer i (x[0] is the base layer's
    /// effective width, v / f(r)); x[256] = 0.
    x: [f64; 257],
    /// f[i] = exp(-x[i]).
    f: [f64; 257],
}

/// Where the tail starts, and each layer's area, for 256 layers.
const ZIG_EXP_R: f64 = 7.697_117_470_131_05;
const ZIG_EXP_V: f64 = 0.003_949_659_822_581_557;

fn ziggurat() -> &'static Ziggurat {
    static TABLES: std::sync::OnceLock<Ziggurat> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let mut x = [0.0; 257];
        x[0] = ZIG_EXP_V / libm::exp(-ZIG_EXP_R);
        x[1] = ZIG_EXP_R;
        for i in 1..255 {
            x[i + 1] = -libm::log(ZIG_EXP_V / x[i] + libm::exp(-x[i]));
        }
        x[256] = 0.0;
        let mut f = [0.0; 257];
        for i in 0..257 {
            f[i] = libm::exp(-x[i]);
        }
        Ziggurat { x, f }
    })
}

/// A standard exponential draw (mean 1).
#[inline]
fn standard_exponential(rng: &mut SimRng) -> f64 {
    let z = ziggurat();
    loop {
        let bits = rng.next_u64();
        let i = (bits & 0xff) as usize;
        // The top 53 bits, independent of the 8 that chose the layer.
        let u = (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        let x = u * z.x[i];
        if x < z.x[i + 1] {
            return x;
        }
        if i == 0 {
            // The tail beyond r is r plus a fresh exponential.
            return ZIG_EXP_R - libm::log(rng.uniform_open0());
        }
        if z.f[i] + (z.f[i + 1] - z.f[i]) * rng.uniform() < libm::exp(-x) {
            return x;
        }
    }
}

/// A standard normal draw by Marsaglia's polar method (log and sqrt only).
/// `sqrt` is the hardware's: IEEE 754 requires it correctly rounded, so
/// every platform gives the same bits (only the transcendental functions
/// need `libm`), and in WebAssembly it is one instruction where `libm`'s
/// is a loop.
fn standard_normal(rng: &mut SimRng) -> f64 {
    loop {
        let x = 2.0 * rng.uniform() - 1.0;
        let y = 2.0 * rng.uniform() - 1.0;
        let s = x * x + y * y;
        if s > 0.0 && s < 1.0 {
            return x * (-2.0 * libm::log(s) / s).sqrt();
        }
    }
}

pub fn standard_normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / core::f64::consts::SQRT_2)
}

/// The standard normal quantile: Acklam's rational approximation (relative
/// error below 1.2e-9), refined by one Halley step on the exact CDF.
pub fn standard_normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.024_25;
    let x = if p < P_LOW {
        let q = (-2.0 * libm::log(p)).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * libm::log(1.0 - p)).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let e = standard_normal_cdf(x) - p;
    let u = e * (2.0 * core::f64::consts::PI).sqrt() * libm::exp(x * x / 2.0);
    x - u / (1.0 + x * u / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 400_000;

    fn draws(d: &Dist, name: &str) -> Vec<f64> {
        let mut rng = SimRng::for_component(2024, name);
        let mut v: Vec<f64> = (0..N).map(|_| d.sample(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    fn empirical_quantile(sorted: &[f64], q: f64) -> f64 {
        sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
    }

    /// Holds a distribution's samples to its own formulas: the sample mean
    /// within `mean_tol` (relative) and quantiles 0.1, 0.5, 0.9, 0.99 within
    /// `q_tol` (relative). The tolerances are a few standard errors at N.
    fn holds_to_formula(d: &Dist, mean_tol: f64, q_tol: f64) {
        let v = draws(d, &format!("{d:?}"));
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let expect = d.mean();
        assert!(
            ((mean - expect) / expect).abs() < mean_tol,
            "{d:?}: sample mean {mean}, formula {expect}"
        );
        for q in [0.1, 0.5, 0.9, 0.99] {
            let got = empirical_quantile(&v, q);
            let want = d.quantile(q);
            assert!(
                ((got - want) / want).abs() < q_tol,
                "{d:?}: q{q} sample {got}, formula {want}"
            );
            // The CDF and the quantile function are inverses.
            assert!((d.cdf(want) - q).abs() < 1e-6, "{d:?}: cdf(quantile({q}))");
        }
    }

    #[test]
    fn constant() {
        let d = Dist::constant(5.0).unwrap();
        let mut rng = SimRng::for_component(1, "c");
        assert_eq!(d.sample(&mut rng), 5.0);
        assert_eq!(d.quantile(0.99), 5.0);
    }

    #[test]
    fn uniform_matches_formula() {
        holds_to_formula(&Dist::uniform(2.0, 10.0).unwrap(), 0.005, 0.01);
    }

    #[test]
    fn exponential_matches_formula() {
        holds_to_formula(&Dist::exponential(3.0).unwrap(), 0.01, 0.03);
    }

    /// The ziggurat's rare paths: the tail beyond r (P(X > 8) = e^-8) and
    /// the exact test at layer edges, checked against the CDF at many
    /// points (a Kolmogorov–Smirnov distance).
    #[test]
    fn exponential_tail_and_shape_are_exact() {
        let mut rng = SimRng::for_component(77, "zig");
        let n = 2_000_000;
        let mut v: Vec<f64> = (0..n).map(|_| standard_exponential(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        let tail = v.iter().filter(|&&x| x > 8.0).count() as f64;
        let want = n as f64 * libm::exp(-8.0);
        // Poisson sd sqrt(671) ~ 26; allow 4 sd.
        assert!(
            (tail - want).abs() < 4.0 * want.sqrt(),
            "tail {tail} vs {want}"
        );
        let mut d_max = 0.0f64;
        for (k, &x) in v.iter().enumerate().step_by(97) {
            let cdf = -libm::expm1(-x);
            d_max = d_max.max((cdf - k as f64 / n as f64).abs());
        }
        // The KS critical value at 99.9% is 1.95 / sqrt(n) ~ 0.0014.
        assert!(d_max < 0.0014, "KS distance {d_max}");
    }

    #[test]
    fn normal_matches_formula() {
        holds_to_formula(&Dist::normal(100.0, 10.0).unwrap(), 0.002, 0.01);
    }

    #[test]
    fn log_normal_from_median_and_p99() {
        let d = Dist::log_normal_from_median_p99(5e6, 50e6).unwrap();
        assert!((d.quantile(0.5) - 5e6).abs() < 1.0);
        assert!((d.quantile(0.99) - 50e6).abs() / 50e6 < 1e-9);
        holds_to_formula(&d, 0.02, 0.03);
    }

    #[test]
    fn pareto_matches_formula() {
        holds_to_formula(&Dist::pareto(1.0, 3.0).unwrap(), 0.02, 0.04);
    }

    #[test]
    fn empirical_matches_its_percentiles() {
        let d = Dist::empirical(vec![
            (0.0, 1.0),
            (0.5, 5.0),
            (0.9, 20.0),
            (0.99, 80.0),
            (1.0, 200.0),
        ])
        .unwrap();
        assert_eq!(d.quantile(0.5), 5.0);
        assert_eq!(d.quantile(0.99), 80.0);
        holds_to_formula(&d, 0.01, 0.03);
    }

    #[test]
    fn mixture_matches_formula() {
        // 99% fast, 1% slow: the shape of a latency tail.
        let d = Dist::mixture(vec![
            (99.0, Dist::exponential(10.0).unwrap()),
            (1.0, Dist::constant(1000.0).unwrap()),
        ])
        .unwrap();
        assert!((d.mean() - (0.99 * 10.0 + 10.0)).abs() < 1e-9);
        let v = draws(&d, "mixture");
        let slow = v.iter().filter(|&&x| x == 1000.0).count() as f64 / N as f64;
        // Binomial sd at p = 0.01: sqrt(0.01*0.99/N) = 1.6e-4; allow 5 sd.
        assert!((slow - 0.01).abs() < 8e-4, "slow fraction {slow}");
        let mean = v.iter().sum::<f64>() / N as f64;
        assert!((mean - d.mean()).abs() / d.mean() < 0.03, "mean {mean}");
        for q in [0.1, 0.5, 0.9] {
            let (got, want) = (empirical_quantile(&v, q), d.quantile(q));
            assert!((got - want).abs() / want < 0.03, "q{q}: {got} vs {want}");
        }
    }

    #[test]
    fn normal_quantile_is_accurate() {
        assert!((standard_normal_quantile(0.99) - Z_99).abs() < 1e-12);
        assert!(standard_normal_quantile(0.5).abs() < 1e-15);
        assert!((standard_normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
        assert!((standard_normal_quantile(1e-6) + 4.753_424_308_822_899).abs() < 1e-9);
    }

    #[test]
    fn bad_parameters_are_errors_not_panics() {
        assert!(Dist::exponential(0.0).is_err());
        assert!(Dist::uniform(3.0, 1.0).is_err());
        assert!(Dist::log_normal_from_median_p99(10.0, 5.0).is_err());
        assert!(Dist::pareto(1.0, -1.0).is_err());
        assert!(Dist::empirical(vec![(0.1, 1.0), (1.0, 2.0)]).is_err());
        assert!(Dist::empirical(vec![(0.0, 3.0), (1.0, 2.0)]).is_err());
        assert!(Dist::mixture(vec![]).is_err());
        assert!(Dist::normal(f64::NAN, 1.0).is_err());
        let e = Dist::exponential(-1.0).unwrap_err();
        assert!(e.to_string().contains("must be > 0"), "{e}");
    }

    #[test]
    fn durations_clamp_at_zero() {
        let d = Dist::normal(0.0, 1000.0).unwrap();
        let mut rng = SimRng::for_component(9, "n");
        for _ in 0..1000 {
            let _ = d.sample_duration(&mut rng); // never panics, never wraps
        }
        assert_eq!(
            Dist::Constant(-5.0).sample_duration(&mut rng),
            SimDuration::ZERO
        );
    }
}
