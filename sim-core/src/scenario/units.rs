//! Human units in scenario files: rates (`200/s`, `1.5k/min`),
//! probabilities (`5%`, `0.05`) and sizes (`10KB`, `1.5MiB`). Durations
//! (`250ms`) live with [`crate::time::SimDuration`].
//!
//! Sizes are converted exactly with integer arithmetic. Rates and
//! probabilities are floating point, as every consumer uses them that way.

use super::limits::MAX_RATE_PER_S;
use crate::time::{
    NANOS_PER_DAY, NANOS_PER_HOUR, NANOS_PER_MICRO, NANOS_PER_MILLI, NANOS_PER_MINUTE,
    NANOS_PER_SECOND, decimal_times,
};
use core::fmt;

/// A value that could not be read, with what was expected instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitError {
    pub input: String,
    pub problem: String,
    pub expected: &'static str,
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} `{}`: {} (expected {})",
            self.kind(),
            super::words::cut(&self.input),
            self.problem,
            self.expected
        )
    }
}

impl UnitError {
    fn kind(&self) -> &'static str {
        match self.expected {
            RATE_EXPECTED => "rate",
            PROBABILITY_EXPECTED => "probability",
            _ => "size",
        }
    }
}

impl std::error::Error for UnitError {}

const RATE_EXPECTED: &str =
    "a count per unit of time, e.g. `200/s`, `1.5k/min` or `3/h`; units: ms, s, min (or m), h, d";
const PROBABILITY_EXPECTED: &str =
    "a percentage such as `5%` or `0.1%`, or a fraction from 0 to 1 such as `0.05`";
const SIZE_EXPECTED: &str = "a number and a unit, e.g. `512B`, `10KB`, `1.5MiB`; units: B, KB, MB, GB, TB (powers of 1000), KiB, MiB, GiB, TiB (powers of 1024)";

/// A plain decimal number (`12`, `1.5`, `1_000`), or one in scientific
/// notation (`1e12`, `2.5E-3`), so that `1e12` and `1000000000000` read
/// the same.
fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    let (mantissa, exponent) = match s.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (s, None),
    };
    let plain = |t: &str| {
        !t.is_empty()
            && t.chars().any(|c| c.is_ascii_digit())
            && t.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '_')
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    });
    if !plain(mantissa) || !exponent_ok {
        return None;
    }
    s.replace('_', "")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// Reads a rate as events per second: `200/s`, `12/min`, `1.5k/s`,
/// `2M/h`, `0.5/ms`.
pub fn parse_rate(input: &str) -> Result<f64, UnitError> {
    let err = |problem: String| UnitError {
        input: input.to_string(),
        problem,
        expected: RATE_EXPECTED,
    };
    let Some((count, per)) = input.trim().split_once('/') else {
        return Err(err("a rate needs a `/` and a unit of time".into()));
    };
    let count = count.trim();
    let (digits, multiplier) = match count.strip_suffix(['k', 'K']) {
        Some(d) => (d, 1e3),
        None => match count.strip_suffix('M') {
            Some(d) => (d, 1e6),
            None => (count, 1.0),
        },
    };
    let value = number(digits).ok_or_else(|| err("its count is not a number".into()))? * multiplier;
    let nanos_per = match per.trim() {
        "us" | "µs" => NANOS_PER_MICRO,
        "ms" => NANOS_PER_MILLI,
        "s" | "sec" => NANOS_PER_SECOND,
        "m" | "min" => NANOS_PER_MINUTE,
        "h" => NANOS_PER_HOUR,
        "d" => NANOS_PER_DAY,
        other => return Err(err(format!("unknown unit of time `{other}`"))),
    };
    let per_second = value * (NANOS_PER_SECOND as f64 / nanos_per as f64);
    if per_second > MAX_RATE_PER_S {
        return Err(err(format!(
            "that is {per_second:e} a second; a rate may be at most {MAX_RATE_PER_S:e}/s \
             (a million events every simulated second already makes a long run)"
        )));
    }
    Ok(per_second)
}

/// Reads a probability: `5%`, `0.1%`, or a fraction `0.05`. A bare number
/// above 1 is refused (was it meant as a percentage?).
pub fn parse_probability(input: &str) -> Result<f64, UnitError> {
    let err = |problem: String| UnitError {
        input: input.to_string(),
        problem,
        expected: PROBABILITY_EXPECTED,
    };
    let s = input.trim();
    let (value, percent) = match s.strip_suffix('%') {
        Some(p) => (
            number(p).ok_or_else(|| err("what comes before `%` is not a number".into()))? / 100.0,
            true,
        ),
        None => (
            number(s).ok_or_else(|| err("it is not a number".into()))?,
            false,
        ),
    };
    if value > 1.0 {
        return Err(err(if percent {
            "a probability cannot exceed 100%".into()
        } else {
            format!("a fraction cannot exceed 1; did you mean `{s}%`?")
        }));
    }
    Ok(value)
}

/// Reads a size in bytes, exactly: `512B`, `10KB` (10,000), `1.5MiB`
/// (1,572,864).
pub fn parse_size(input: &str) -> Result<u64, UnitError> {
    const UNITS: &[(&str, u64)] = &[
        ("B", 1),
        ("KB", 1_000),
        ("MB", 1_000_000),
        ("GB", 1_000_000_000),
        ("TB", 1_000_000_000_000),
        ("KiB", 1 << 10),
        ("MiB", 1 << 20),
        ("GiB", 1 << 30),
        ("TiB", 1 << 40),
    ];
    let err = |problem: String| UnitError {
        input: input.to_string(),
        problem,
        expected: SIZE_EXPECTED,
    };
    let s = input.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    let (digits, unit) = (s[..split].replace('_', ""), s[split..].trim());
    if digits.is_empty() {
        return Err(err("a size starts with a number".into()));
    }
    if unit.is_empty() {
        return Err(err("the number has no unit".into()));
    }
    let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        let hint = crate::scenario::suggest::did_you_mean(unit, UNITS.iter().map(|(n, _)| *n))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return Err(err(format!("unknown unit `{unit}`{hint}")));
    };
    decimal_times(&digits, scale).map_err(|p| {
        err(p
            .replace("finer than a nanosecond in this unit", "finer than a byte")
            .replace("the limit is about 584 years", "the limit is 2^64 bytes"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("200/s"), Ok(200.0));
        assert_eq!(parse_rate("12/min"), Ok(0.2));
        assert_eq!(parse_rate("1.5k/s"), Ok(1500.0));
        assert_eq!(parse_rate("3600/h"), Ok(1.0));
        assert_eq!(parse_rate("0.5/ms"), Ok(500.0));
        let per_day = parse_rate(" 2M / d ").unwrap();
        assert!((per_day - 2e6 / 86_400.0).abs() < 1e-9, "{per_day}");
        // Scientific notation reads as the same number written out.
        assert_eq!(parse_rate("1e5/s"), parse_rate("100000/s"));
        assert_eq!(parse_rate("2.5E-1/s"), Ok(0.25));
        assert!(parse_rate("1e/s").is_err() && parse_rate("e5/s").is_err());
    }

    #[test]
    fn rates_beyond_the_limit_are_refused_however_written() {
        assert_eq!(parse_rate("1M/s"), Ok(1e6));
        for input in ["1000000000000/s", "1e12/s", "2M/s", "1000001/s", "1.1k/ms"] {
            let e = parse_rate(input).unwrap_err().to_string();
            assert!(e.contains("a rate may be at most 1e6/s"), "{input}: {e}");
        }
    }

    #[test]
    fn bad_rates_say_why_and_what_is_expected() {
        for (input, fragment) in [
            ("200", "needs a `/`"),
            ("fast/s", "invalid rate `fast/s`: its count is not a number"),
            ("200/fortnight", "unknown unit of time `fortnight`"),
            ("-5/s", "its count is not a number"),
        ] {
            let e = parse_rate(input).unwrap_err().to_string();
            assert!(e.contains(fragment), "{input}: {e}");
            assert!(e.contains("e.g. `200/s`"), "{input}: {e}");
        }
    }

    #[test]
    fn probabilities() {
        assert_eq!(parse_probability("5%"), Ok(0.05));
        assert_eq!(parse_probability("0.1%"), Ok(0.001));
        assert_eq!(parse_probability("0.25"), Ok(0.25));
        assert_eq!(parse_probability("100%"), Ok(1.0));
        let e = parse_probability("5").unwrap_err().to_string();
        assert!(e.contains("did you mean `5%`?"), "{e}");
        let e = parse_probability("150%").unwrap_err().to_string();
        assert!(e.contains("cannot exceed 100%"), "{e}");
        assert!(parse_probability("lots").is_err());
    }

    #[test]
    fn sizes_are_exact() {
        assert_eq!(parse_size("512B"), Ok(512));
        assert_eq!(parse_size("10KB"), Ok(10_000));
        assert_eq!(parse_size("1.5MiB"), Ok(1_572_864));
        assert_eq!(parse_size("0.5KiB"), Ok(512));
        let e = parse_size("0.1KiB").unwrap_err().to_string();
        assert!(e.contains("finer than a byte"), "{e}");
        assert_eq!(parse_size("2 GB"), Ok(2_000_000_000));
        let e = parse_size("10kb").unwrap_err().to_string();
        assert!(e.contains("did you mean `KB`?"), "{e}");
        let e = parse_size("1.5B").unwrap_err().to_string();
        assert!(e.contains("finer than a byte"), "{e}");
        let e = parse_size("10").unwrap_err().to_string();
        assert!(e.contains("no unit") && e.contains("KiB"), "{e}");
    }
}
