//! Virtual time: instants and durations in integer nanoseconds, with parsing
//! from and display in human units (`250ms`, `1.5s`, `3d`).
//!
//! Nothing in sim-core reads a clock. Time only moves when the engine pops the
//! next event, so a run is a pure function of its inputs.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A point in simulated time: nanoseconds since the start of the run.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct SimTime(u64);

/// A span of simulated time in nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct SimDuration(u64);

pub const NANOS_PER_MICRO: u64 = 1_000;
pub const NANOS_PER_MILLI: u64 = 1_000_000;
pub const NANOS_PER_SECOND: u64 = 1_000_000_000;
pub const NANOS_PER_MINUTE: u64 = 60 * NANOS_PER_SECOND;
pub const NANOS_PER_HOUR: u64 = 60 * NANOS_PER_MINUTE;
pub const NANOS_PER_DAY: u64 = 24 * NANOS_PER_HOUR;

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_nanos(nanos: u64) -> Self {
        SimTime(nanos)
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Seconds since the start, for reports and statistics.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SECOND as f64
    }
    /// The time elapsed since `earlier`; zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
    /// `self + d`, saturating at the end of representable time (about 584 years).
    pub fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub const fn from_nanos(nanos: u64) -> Self {
        SimDuration(nanos)
    }
    pub const fn from_micros(micros: u64) -> Self {
        SimDuration(micros * NANOS_PER_MICRO)
    }
    pub const fn from_millis(millis: u64) -> Self {
        SimDuration(millis * NANOS_PER_MILLI)
    }
    pub const fn from_secs(secs: u64) -> Self {
        SimDuration(secs * NANOS_PER_SECOND)
    }
    /// Rounds to the nearest nanosecond; negative and NaN become zero and
    /// values past the representable range saturate.
    pub fn from_secs_f64(secs: f64) -> Self {
        Self::from_nanos_f64(secs * NANOS_PER_SECOND as f64)
    }
    /// Rounds to the nearest nanosecond; negative and NaN become zero and
    /// values past the representable range saturate.
    pub fn from_nanos_f64(nanos: f64) -> Self {
        if nanos.is_nan() || nanos <= 0.0 {
            SimDuration(0)
        } else if nanos >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            // Round half up without calling a libm function.
            SimDuration((nanos + 0.5) as u64)
        }
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SECOND as f64
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_MILLI as f64
    }
    pub fn saturating_mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    /// Panics on overflow: a run that reaches 584 years of virtual time has a
    /// bug, and silently wrapping would reorder events.
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(
            self.0
                .checked_add(d.0)
                .expect("simulated time overflowed u64 nanoseconds"),
        )
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    /// Panics if `earlier` is later than `self`; use `saturating_since` when
    /// that can happen.
    fn sub(self, earlier: SimTime) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(earlier.0)
                .expect("subtracted a later SimTime from an earlier one"),
        )
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, o: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(o.0))
    }
}

impl Sub for SimDuration {
    type Output = SimDuration;
    fn sub(self, o: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(o.0))
    }
}

/// Units accepted in durations, longest spelling first so that `ms` is not
/// read as `m` followed by garbage.
const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", NANOS_PER_MICRO),
    ("µs", NANOS_PER_MICRO),
    ("ms", NANOS_PER_MILLI),
    ("s", NANOS_PER_SECOND),
    ("min", NANOS_PER_MINUTE),
    ("m", NANOS_PER_MINUTE),
    ("h", NANOS_PER_HOUR),
    ("d", NANOS_PER_DAY),
];

/// Why a duration string could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseDurationError {
    pub input: String,
    pub problem: String,
}

impl fmt::Display for ParseDurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid duration `{}`: {} (expected a number and a unit, e.g. `250ms`, `1.5s`, `3d` or `1h30m`; units: ns, us, ms, s, m, h, d)",
            self.input, self.problem
        )
    }
}

impl std::error::Error for ParseDurationError {}

impl core::str::FromStr for SimDuration {
    type Err = ParseDurationError;

    /// Parses one or more `<number><unit>` parts, e.g. `250ms`, `1.5s`,
    /// `1h30m`. Decimals are exact (no floating point): `0.1s` is exactly
    /// 100,000,000 ns. A part finer than a nanosecond is an error.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |problem: &str| ParseDurationError {
            input: input.to_string(),
            problem: problem.to_string(),
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(err("it is empty"));
        }
        if s.starts_with('-') {
            return Err(err("durations cannot be negative"));
        }
        let mut rest = s;
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let digits_end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
                .unwrap_or(rest.len());
            let number: String = rest[..digits_end].chars().filter(|&c| c != '_').collect();
            if number.is_empty() {
                return Err(err("a unit must follow a number"));
            }
            rest = rest[digits_end..].trim_start();
            let unit_end = rest
                .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_end];
            if unit.is_empty() {
                return Err(err("the number has no unit"));
            }
            let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
                return Err(err(&format!("unknown unit `{unit}`")));
            };
            rest = rest[unit_end..].trim_start();
            let part = decimal_times(&number, scale).map_err(|p| err(&p))?;
            total = total
                .checked_add(part)
                .ok_or_else(|| err("it is too long (the limit is about 584 years)"))?;
        }
        Ok(SimDuration(total))
    }
}

/// `number * scale` for a non-negative decimal string, exactly, in integers:
/// the fraction is a numerator over 10^k, and a result that is not a whole
/// number of the smallest unit is an error rather than a rounding.
pub(crate) fn decimal_times(number: &str, scale: u64) -> Result<u64, String> {
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if frac_part.contains('.') {
        return Err(format!("`{number}` has more than one decimal point"));
    }
    if int_part.is_empty() && frac_part.is_empty() {
        return Err("a unit must follow a number".to_string());
    }
    if let Some(c) = frac_part.chars().find(|c| !c.is_ascii_digit()) {
        return Err(format!("`{c}` is not a digit"));
    }
    let too_long = || "it is too long (the limit is about 584 years)".to_string();
    let int: u64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| too_long())?
    };
    let mut total = int.checked_mul(scale).ok_or_else(too_long)?;
    let frac = frac_part.trim_end_matches('0');
    if !frac.is_empty() {
        let finer = || format!("`{number}` is finer than a nanosecond in this unit");
        // 19 digits keep numerator * scale below 2^128.
        if frac.len() > 19 {
            return Err(finer());
        }
        let numerator = frac.parse::<u128>().expect("digits") * u128::from(scale);
        let denominator = 10u128.pow(frac.len() as u32);
        if numerator % denominator != 0 {
            return Err(finer());
        }
        let part = u64::try_from(numerator / denominator).map_err(|_| too_long())?;
        total = total.checked_add(part).ok_or_else(too_long)?;
    }
    Ok(total)
}

impl fmt::Display for SimDuration {
    /// The largest unit that keeps the number at least 1, with at most three
    /// decimals, trailing zeros removed: `250ms`, `1.5s`, `3d`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_nanos(self.0, f)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        format_nanos(self.0, f)
    }
}

fn format_nanos(n: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    const DISPLAY: &[(&str, u64)] = &[
        ("d", NANOS_PER_DAY),
        ("h", NANOS_PER_HOUR),
        ("m", NANOS_PER_MINUTE),
        ("s", NANOS_PER_SECOND),
        ("ms", NANOS_PER_MILLI),
        ("us", NANOS_PER_MICRO),
    ];
    if n == 0 {
        return f.pad("0s");
    }
    for &(unit, scale) in DISPLAY {
        if n >= scale {
            let whole = n / scale;
            // Three decimals, rounded down so the printed value never
            // overstates the duration.
            let milli_units = ((n % scale) as u128 * 1000 / scale as u128) as u64;
            let text = if milli_units == 0 {
                format!("{whole}{unit}")
            } else {
                let frac = format!("{milli_units:03}");
                format!("{whole}.{}{unit}", frac.trim_end_matches('0'))
            };
            return f.pad(&text);
        }
    }
    f.pad(&format!("{n}ns"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> SimDuration {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_human_units_exactly() {
        assert_eq!(parse("250ms").as_nanos(), 250_000_000);
        assert_eq!(parse("1.5s").as_nanos(), 1_500_000_000);
        assert_eq!(parse("3d").as_nanos(), 3 * 86_400 * NANOS_PER_SECOND);
        assert_eq!(parse("0.1s").as_nanos(), 100_000_000);
        assert_eq!(parse("1h30m").as_nanos(), 90 * NANOS_PER_MINUTE);
        assert_eq!(parse("2min").as_nanos(), 120 * NANOS_PER_SECOND);
        assert_eq!(parse("10us").as_nanos(), 10_000);
        assert_eq!(parse("10µs").as_nanos(), 10_000);
        assert_eq!(parse("7ns").as_nanos(), 7);
        assert_eq!(parse(" 1_000ms ").as_nanos(), NANOS_PER_SECOND);
        assert_eq!(parse("1m 30s").as_nanos(), 90 * NANOS_PER_SECOND);
        assert_eq!(parse(".5s").as_nanos(), 500_000_000);
    }

    #[test]
    fn rejects_bad_durations_with_a_reason() {
        for (input, fragment) in [
            ("", "empty"),
            ("250", "no unit"),
            ("ms", "must follow a number"),
            ("5 parsecs", "unknown unit `parsecs`"),
            ("-1s", "negative"),
            ("1.5ns", "finer than a nanosecond"),
            ("1.2.3s", "more than one decimal point"),
            ("999999999999d", "too long"),
        ] {
            let e = input.parse::<SimDuration>().unwrap_err();
            assert!(
                e.to_string().contains(fragment),
                "{input:?}: `{e}` lacks `{fragment}`"
            );
        }
    }

    #[test]
    fn displays_in_the_largest_sensible_unit() {
        assert_eq!(SimDuration::from_millis(250).to_string(), "250ms");
        assert_eq!(SimDuration::from_millis(1500).to_string(), "1.5s");
        assert_eq!(SimDuration::from_secs(3 * 86_400).to_string(), "3d");
        assert_eq!(SimDuration::ZERO.to_string(), "0s");
        assert_eq!(SimDuration::from_nanos(42).to_string(), "42ns");
        assert_eq!(SimDuration::from_nanos(1_234_567).to_string(), "1.234ms");
    }

    #[test]
    fn display_round_trips_through_parse() {
        for n in [
            1u64,
            999,
            1_000,
            1_500,
            250_000_000,
            90 * NANOS_PER_MINUTE,
            3 * NANOS_PER_DAY,
        ] {
            let d = SimDuration::from_nanos(n);
            assert_eq!(parse(&d.to_string()), d, "{d}");
        }
    }

    #[test]
    fn float_conversion_rounds_and_clamps() {
        assert_eq!(SimDuration::from_secs_f64(1.5).as_nanos(), 1_500_000_000);
        assert_eq!(SimDuration::from_nanos_f64(-3.0), SimDuration::ZERO);
        assert_eq!(SimDuration::from_nanos_f64(f64::NAN), SimDuration::ZERO);
        assert_eq!(SimDuration::from_nanos_f64(1e300), SimDuration::MAX);
        assert_eq!(SimDuration::from_nanos_f64(2.5).as_nanos(), 3);
    }
}
