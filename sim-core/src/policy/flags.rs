//! Feature flags: named switches a running service reads on every request,
//! flipped at runtime (here, on a schedule). A release behind a flag can be
//! switched off in seconds, a kill switch, where a rollback takes a deploy.
//!
//! Reference: Pete Hodgson, "Feature Toggles (aka Feature Flags)",
//! martinfowler.com (2017): release toggles and ops toggles (kill
//! switches).
//!
//! Decision: is this flag on? State: the flags' values. Metrics (kept by
//! the service): none beyond the change itself, which is a scheduled fault
//! and so appears on the run's timeline.

use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    values: BTreeMap<String, bool>,
}

impl Flags {
    pub fn new(values: BTreeMap<String, bool>) -> Self {
        Flags { values }
    }

    /// A flag nobody declared is off.
    pub fn is_on(&self, name: &str) -> bool {
        self.values.get(name).copied().unwrap_or(false)
    }

    pub fn set(&mut self, name: &str, on: bool) {
        self.values.insert(name.to_string(), on);
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_flip_and_unknown_ones_are_off() {
        let mut f = Flags::new([("new-checkout".to_string(), true)].into());
        assert!(f.is_on("new-checkout"));
        assert!(!f.is_on("nothing"));
        f.set("new-checkout", false);
        assert!(!f.is_on("new-checkout"));
        assert!(f.has("new-checkout") && !f.has("nothing"));
    }
}
