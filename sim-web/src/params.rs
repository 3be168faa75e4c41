//! A scenario's numbers as sliders: every count, duration, rate and
//! percentage in its nodes, links and network, found in the document as
//! the chosen variant leaves it. Moving a slider sets the value by path
//! (as `faultline run --set` does) and re-runs the scenario.
//!
//! Values are rounded to two significant digits so they read well in an
//! exported file (`140ms`, not `137.42ms`).

use sim_core::SimDuration;
use sim_core::scenario::{parse_probability, parse_rate};

/// How a parameter is written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A whole number (workers, attempts, a queue's size).
    Count,
    /// A plain number (a factor, a multiplier).
    Number,
    /// A duration, held in nanoseconds (`"200ms"`).
    Duration,
    /// Events per second (`"50/s"`).
    Rate,
    /// A probability, held as a fraction (`"5%"`).
    Percent,
}

/// One slider.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The path `--set` takes: `node.user.timeout`.
    pub path: String,
    /// The node (or "network", "link 0") it belongs to.
    pub owner: String,
    /// The rest of the path, shown beside the slider.
    pub label: String,
    pub unit: Unit,
    pub value: f64,
    pub min: f64,
    pub max: f64,
}

impl Param {
    /// The slider's value as the file writes it.
    pub fn to_toml(&self, v: f64) -> toml::Value {
        match self.unit {
            Unit::Count => toml::Value::Integer(v.round() as i64),
            Unit::Number => toml::Value::Float(round2(v)),
            Unit::Duration => toml::Value::String(duration_text(round2(v).max(0.0) as u64)),
            Unit::Rate => toml::Value::String(format!("{}/s", trim(round2(v)))),
            Unit::Percent => toml::Value::String(format!("{}%", trim(round2(v * 100.0)))),
        }
    }

    /// The value for people: `200ms`, `50/s`, `5%`.
    pub fn show(&self, v: f64) -> String {
        match self.to_toml(v) {
            toml::Value::String(s) => s,
            other => other.to_string(),
        }
    }

    /// Log-scaled sliders for quantities that span orders of magnitude.
    pub fn logarithmic(&self) -> bool {
        matches!(self.unit, Unit::Duration | Unit::Rate) && self.min > 0.0
    }
}

/// Two significant digits.
pub fn round2(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let magnitude = libm::floor(libm::log10(v.abs()));
    // Divide by a power of ten rather than multiply by its inverse: the
    // result is then the nearest double to the decimal (0.052, not
    // 0.052000000000000005).
    let digits = 1.0 - magnitude;
    if digits >= 0.0 {
        let scale = libm::pow(10.0, digits);
        libm::round(v * scale) / scale
    } else {
        let scale = libm::pow(10.0, -digits);
        libm::round(v / scale) * scale
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A duration in the largest unit that writes it as a whole number.
pub fn duration_text(ns: u64) -> String {
    for (unit, size) in [
        ("h", 3_600_000_000_000u64),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if ns >= size && ns.is_multiple_of(size) {
            return format!("{}{unit}", ns / size);
        }
    }
    format!("{ns}ns")
}

/// The slider for `param`; the value the file would hold, when the
/// learner moved it to a different one.
pub fn slider(ui: &mut egui::Ui, param: &Param) -> Option<toml::Value> {
    let mut v = param.value;
    let slider = egui::Slider::new(&mut v, param.min..=param.max)
        .logarithmic(param.logarithmic())
        .custom_formatter(|v, _| param.show(v))
        .text(&param.label);
    let slider = if param.unit == Unit::Count {
        slider.integer()
    } else {
        slider
    };
    let r = ui.add(slider);
    (r.changed() && param.to_toml(v) != param.to_toml(param.value)).then(|| param.to_toml(v))
}

/// Keys that name things rather than measure them.
const NOT_PARAMETERS: [&str; 3] = ["seed", "dist", "at"];

/// The parameters of a scenario document (variant applied), in file
/// order: nodes (with their calls), then links, the network, and the
/// faults' times and sizes.
pub fn discover(doc: &toml::Table) -> Vec<Param> {
    let mut out = Vec::new();
    if let Some(toml::Value::Array(nodes)) = doc.get("node") {
        for node in nodes {
            let Some(t) = node.as_table() else { continue };
            let Some(name) = t.get("name").and_then(|n| n.as_str()) else {
                continue;
            };
            walk(t, &format!("node.{name}"), name, "", &mut out);
        }
    }
    if let Some(toml::Value::Array(links)) = doc.get("link") {
        for (i, link) in links.iter().enumerate() {
            if let Some(t) = link.as_table() {
                walk(t, &format!("link.{i}"), &format!("link {i}"), "", &mut out);
            }
        }
    }
    if let Some(toml::Value::Table(t)) = doc.get("network") {
        walk(t, "network", "network", "", &mut out);
    }
    if let Some(toml::Value::Array(faults)) = doc.get("fault") {
        for (i, fault) in faults.iter().enumerate() {
            if let Some(t) = fault.as_table() {
                faults_numbers(t, i, &mut out);
            }
        }
    }
    out
}

/// A fault's time and its numbers (a factor, an error rate): moving a
/// fault is a question a learner asks ("switch the flag off sooner").
fn faults_numbers(t: &toml::Table, i: usize, out: &mut Vec<Param>) {
    let owner = format!("fault {i}");
    for (key, value) in t {
        if let Some((unit, v)) = reading(value) {
            let (min, max) = range(unit, v);
            out.push(Param {
                path: format!("fault.{i}.{key}"),
                owner: owner.clone(),
                label: key.clone(),
                unit,
                value: v,
                min,
                max,
            });
        }
    }
}

fn walk(t: &toml::Table, path: &str, owner: &str, label: &str, out: &mut Vec<Param>) {
    for (key, value) in t {
        if NOT_PARAMETERS.contains(&key.as_str()) {
            continue;
        }
        let path = format!("{path}.{key}");
        let label = if label.is_empty() {
            key.clone()
        } else {
            format!("{label}.{key}")
        };
        if let toml::Value::Table(inner) = value {
            walk(inner, &path, owner, &label, out);
            continue;
        }
        // A node's calls, each named by whom it calls (as `--set` names
        // them): `node.api.call.db.timeout`.
        if let (toml::Value::Array(calls), "call") = (value, key.as_str()) {
            for call in calls.iter().filter_map(toml::Value::as_table) {
                let Some(to) = call.get("name").or_else(|| call.get("to")) else {
                    continue;
                };
                let to = to.as_str().unwrap_or_default();
                walk(
                    call,
                    &format!("{path}.{to}"),
                    owner,
                    &format!("call {to}"),
                    out,
                );
            }
            continue;
        }
        if let Some((unit, v)) = reading(value) {
            let (min, max) = range(unit, v);
            out.push(Param {
                path,
                owner: owner.to_string(),
                label,
                unit,
                value: v,
                min,
                max,
            });
        }
    }
}

/// What a value is, if it is a number a slider can move.
fn reading(v: &toml::Value) -> Option<(Unit, f64)> {
    match v {
        toml::Value::Integer(i) => Some((Unit::Count, *i as f64)),
        toml::Value::Float(f) => Some((Unit::Number, *f)),
        toml::Value::String(s) => {
            if let Ok(d) = s.parse::<SimDuration>() {
                return Some((Unit::Duration, d.as_nanos() as f64));
            }
            if s.contains('/')
                && let Ok(r) = parse_rate(s)
            {
                return Some((Unit::Rate, r));
            }
            if s.ends_with('%')
                && let Ok(p) = parse_probability(s)
            {
                return Some((Unit::Percent, p));
            }
            None
        }
        _ => None,
    }
}

/// A slider's range around the value as written.
fn range(unit: Unit, v: f64) -> (f64, f64) {
    match unit {
        Unit::Count => (0.0, (v * 4.0).max(10.0)),
        Unit::Number => (0.0, (v * 4.0).max(1.0)),
        Unit::Duration if v > 0.0 => (v / 10.0, v * 10.0),
        Unit::Duration => (0.0, 1e9),
        Unit::Rate if v > 0.0 => (v / 10.0, v * 10.0),
        Unit::Rate => (0.0, 100.0),
        Unit::Percent => (0.0, 1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_back_as_the_file_would() {
        assert_eq!(round2(137.42), 140.0);
        assert_eq!(round2(0.0523), 0.052);
        assert_eq!(duration_text(140_000_000), "140ms");
        assert_eq!(duration_text(2_000_000_000), "2s");
        assert_eq!(duration_text(1_500), "1500ns");
        let p = Param {
            path: "x".into(),
            owner: "o".into(),
            label: "l".into(),
            unit: Unit::Percent,
            value: 0.05,
            min: 0.0,
            max: 1.0,
        };
        assert_eq!(p.show(0.3), "30%");
        let rate = Param {
            unit: Unit::Rate,
            ..p.clone()
        };
        assert_eq!(rate.show(52.3), "52/s");
        let d = Param {
            unit: Unit::Duration,
            ..p
        };
        assert_eq!(d.show(137_420_000.0), "140ms");
    }

    fn retry_storm() -> &'static str {
        sim_core::scenario::STORIES
            .iter()
            .find(|(n, _)| *n == "retry-storm")
            .unwrap()
            .1
    }

    #[test]
    fn a_story_s_numbers_become_sliders() {
        let (_, text) = sim_core::scenario::STORIES
            .iter()
            .find(|(n, _)| *n == "double-charge")
            .unwrap();
        let s = sim_core::scenario::load("d", "d.toml", text).unwrap();
        let doc = s.document_with(Some("idempotency-keys"), &[]).unwrap();
        let params = discover(&doc);
        let find = |path: &str| params.iter().find(|p| p.path == path).cloned();
        let timeout = find("node.user.timeout").expect("the client's timeout");
        assert_eq!((timeout.unit, timeout.value), (Unit::Duration, 200e6));
        assert_eq!(find("node.user.rate").unwrap().unit, Unit::Rate);
        assert_eq!(find("node.user.retry.attempts").unwrap().value, 4.0);
        assert_eq!(find("node.api.workers").unwrap().unit, Unit::Count);
        let loss = find("link.0.loss").unwrap();
        assert_eq!((loss.unit, loss.value), (Unit::Percent, 0.05));
        // The variant's value: the key store's lifetime.
        assert_eq!(find("node.api.idempotency.ttl").unwrap().value, 86_400e9);
        // A call's policies, named as `--set` names them.
        let s = sim_core::scenario::load("r", "r.toml", retry_storm()).unwrap();
        let doc = s.document_with(Some("immediate-retries"), &[]).unwrap();
        let storm = discover(&doc);
        let call = storm
            .iter()
            .find(|p| p.path == "node.api.call.db.retry.attempts");
        assert_eq!(
            call.map(|p| (p.value, p.label.as_str())),
            Some((3.0, "call db.retry.attempts"))
        );
        let slow = storm
            .iter()
            .find(|p| p.path == "fault.0.at")
            .expect("a fault's time");
        assert_eq!(
            (slow.unit, slow.value, slow.owner.as_str()),
            (Unit::Duration, 20e9, "fault 0")
        );
        assert!(storm.iter().any(|p| p.path == "fault.0.factor"));
        // Names and kinds are not numbers.
        assert!(find("node.user.target").is_none());
        assert!(find("node.api.service_time.dist").is_none());
    }
}
