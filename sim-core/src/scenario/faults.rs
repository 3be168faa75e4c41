//! A scheduled fault as one action. The file writes a fault as a flat
//! table (`at` and one of several action fields, with their companions
//! such as `factor` or `rate`), because located values do not survive
//! serde's tagged enums; `FaultSpec::action` turns it into a `FaultAction`
//! once, refusing a table that does no action, several, or has a
//! companion field its action does not use. Checks, building and the
//! fault timeline then match on the action.

use super::spec::{FaultSpec, Probability};
use std::ops::Range;
use toml::Spanned;

/// A node, a replica group or one replica, as written.
type Target<'a> = &'a Spanned<String>;

/// What a fault does.
#[derive(Debug, Clone, Copy)]
pub enum FaultAction<'a> {
    Crash(Target<'a>),
    Restart(Target<'a>),
    /// Cut two groups of nodes or zones apart (one way, or both).
    Partition {
        sides: &'a Spanned<[Vec<Spanned<String>>; 2]>,
        one_way: bool,
        name: &'a str,
    },
    /// Heal the partition with this name, or `"all"`.
    Heal(Target<'a>),
    /// A service (every replica of a group) is `factor` times slower.
    Slow {
        node: Target<'a>,
        factor: f64,
    },
    /// A service fails `rate` of its calls.
    Errors {
        node: Target<'a>,
        rate: f64,
    },
    /// A service accepts calls and never answers.
    Hang(Target<'a>),
    /// A service's gray failure ends.
    Recover(Target<'a>),
    /// A node stops for `lasting` (a garbage collector, a stalled disk).
    Pause {
        node: Target<'a>,
        lasting: crate::time::SimDuration,
    },
    /// A node's clock runs `drift` faster (negative: slower) from now on,
    /// and is set forward (negative: back) by `jump` nanoseconds; at least
    /// one of the two.
    Clock {
        node: Target<'a>,
        drift: Option<f64>,
        jump: Option<i64>,
    },
    /// Every service with the flag sets it to `on`.
    Flag {
        flag: Target<'a>,
        on: bool,
    },
}

/// The action fields, in the order the reference lists them.
pub const ACTIONS: &[&str] = &[
    "crash",
    "restart",
    "partition",
    "heal",
    "slow",
    "errors",
    "hang",
    "recover",
    "pause",
    "clock",
    "flag",
];

/// The name of a partition that names none.
pub const DEFAULT_PARTITION: &str = "partition";

/// Why a fault table is not one action: where, and what is wrong.
#[derive(Debug)]
pub struct FaultProblem {
    pub span: Range<usize>,
    pub message: String,
    pub expected: Option<String>,
}

impl FaultSpec {
    /// The one action this fault does, or why it is not one.
    pub fn action(&self) -> Result<FaultAction<'_>, FaultProblem> {
        let at = self.at.get_ref().0;
        let (first, span) = self.only_action()?;
        self.stray_companion(first)?;
        let needs = |with: &str| FaultProblem {
            span: span.clone(),
            message: format!("the `{first}` fault at {at} needs `{with}`"),
            expected: None,
        };
        Ok(match first {
            "crash" => FaultAction::Crash(target(&self.crash)),
            "restart" => FaultAction::Restart(target(&self.restart)),
            "partition" => FaultAction::Partition {
                sides: self.partition.as_ref().expect("set"),
                one_way: self.one_way.unwrap_or(false),
                name: self.name.as_deref().unwrap_or(DEFAULT_PARTITION),
            },
            "heal" => FaultAction::Heal(target(&self.heal)),
            "slow" => FaultAction::Slow {
                node: target(&self.slow),
                factor: self
                    .factor
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .ok_or_else(|| needs("factor = 10 (how many times slower)"))?,
            },
            "errors" => FaultAction::Errors {
                node: target(&self.errors),
                rate: self
                    .rate
                    .map(|p: Probability| p.0)
                    .ok_or_else(|| needs("rate = \"20%\""))?,
            },
            "hang" => FaultAction::Hang(target(&self.hang)),
            "recover" => FaultAction::Recover(target(&self.recover)),
            "pause" => FaultAction::Pause {
                node: target(&self.pause),
                lasting: self
                    .lasting
                    .map(|d| d.0)
                    .filter(|d| d.as_nanos() > 0)
                    .ok_or_else(|| needs("lasting = \"5s\" (how long it stops)"))?,
            },
            "clock" if self.drift.is_none() && self.jump.is_none() => {
                return Err(needs(
                    "drift = \"25%\" (fast) or \"-20%\" (slow), or jump = \"-3s\" (set back)",
                ));
            }
            "clock" => FaultAction::Clock {
                node: target(&self.clock),
                drift: self.drift.map(|d| d.0),
                jump: self.jump.map(|j| j.0),
            },
            _ => FaultAction::Flag {
                flag: target(&self.flag),
                on: self.on.ok_or_else(|| needs("on = true or false"))?,
            },
        })
    }

    /// The one action field the table sets, with its location.
    fn only_action(&self) -> Result<(&'static str, Range<usize>), FaultProblem> {
        let at = self.at.get_ref().0;
        let mut set: Vec<(&str, Range<usize>)> = [
            ("crash", self.crash.as_ref().map(Spanned::span)),
            ("restart", self.restart.as_ref().map(Spanned::span)),
            ("partition", self.partition.as_ref().map(Spanned::span)),
            ("heal", self.heal.as_ref().map(Spanned::span)),
            ("slow", self.slow.as_ref().map(Spanned::span)),
            ("errors", self.errors.as_ref().map(Spanned::span)),
            ("hang", self.hang.as_ref().map(Spanned::span)),
            ("recover", self.recover.as_ref().map(Spanned::span)),
            ("pause", self.pause.as_ref().map(Spanned::span)),
            ("clock", self.clock.as_ref().map(Spanned::span)),
            ("flag", self.flag.as_ref().map(Spanned::span)),
        ]
        .into_iter()
        .filter_map(|(name, span)| span.map(|s| (name, s)))
        .collect();
        // In the order the file writes them.
        set.sort_by_key(|(_, span)| span.start);
        let expected = || {
            let names: Vec<String> = ACTIONS.iter().map(|a| format!("`{a}`")).collect();
            Some(format!("one of {}", names.join(", ")))
        };
        match set.as_slice() {
            [] => Err(FaultProblem {
                span: self.at.span(),
                message: format!("the fault at {at} does nothing"),
                expected: expected(),
            }),
            [one] => Ok(one.clone()),
            [a, b, ..] => Err(FaultProblem {
                span: b.1.clone(),
                message: format!(
                    "the fault at {at} must do exactly one thing, but it does {}: `{}` and `{}`{}",
                    set.len(),
                    a.0,
                    b.0,
                    if set.len() > 2 { " and more" } else { "" }
                ),
                expected: Some("one fault per `[[fault]]` table".into()),
            }),
        }
    }

    /// A companion field given to an action that does not use it.
    fn stray_companion(&self, action: &str) -> Result<(), FaultProblem> {
        let companions = [
            ("factor", self.factor.is_some(), "slow"),
            ("rate", self.rate.is_some(), "errors"),
            ("on", self.on.is_some(), "flag"),
            ("one_way", self.one_way.is_some(), "partition"),
            ("name", self.name.is_some(), "partition"),
            ("lasting", self.lasting.is_some(), "pause"),
            ("drift", self.drift.is_some(), "clock"),
            ("jump", self.jump.is_some(), "clock"),
        ];
        match companions
            .iter()
            .find(|(_, set, owner)| *set && *owner != action)
        {
            Some((field, _, owner)) => Err(FaultProblem {
                span: self.at.span(),
                message: format!(
                    "`{field}` goes only with `{owner}`, and the fault at {} does `{action}`",
                    self.at.get_ref().0
                ),
                expected: None,
            }),
            None => Ok(()),
        }
    }
}

/// The node an action field that is set names.
fn target(t: &Option<Spanned<String>>) -> Target<'_> {
    t.as_ref().expect("set")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(text: &str) -> FaultSpec {
        toml::from_str(text).unwrap()
    }

    /// Every action the list names is a field of the fault table, so the
    /// reference and the messages cannot name one that does not exist.
    #[test]
    fn every_action_is_a_field_of_the_fault_table() {
        let fields = crate::scenario::spec::serde_fields::<FaultSpec>();
        for a in ACTIONS {
            assert!(fields.iter().any(|f| f == a), "{a}");
        }
    }

    #[test]
    fn a_table_is_read_as_its_one_action() {
        let f = fault("at = \"1s\"\nslow = \"api\"\nfactor = 4.0");
        assert!(matches!(f.action(), Ok(FaultAction::Slow { factor, .. }) if factor == 4.0));
        let f = fault("at = \"1s\"\npartition = [[\"a\"], [\"b\"]]");
        assert!(matches!(
            f.action(),
            Ok(FaultAction::Partition {
                one_way: false,
                name: DEFAULT_PARTITION,
                ..
            })
        ));
        let two = fault("at = \"1s\"\ncrash = \"a\"\nhang = \"b\"");
        assert!(
            two.action()
                .unwrap_err()
                .message
                .contains("`crash` and `hang`")
        );
        let stray = fault("at = \"1s\"\ncrash = \"a\"\nrate = \"5%\"");
        assert!(
            stray
                .action()
                .unwrap_err()
                .message
                .contains("`rate` goes only with `errors`")
        );
        let missing = fault("at = \"1s\"\nerrors = \"a\"");
        assert!(
            missing
                .action()
                .unwrap_err()
                .message
                .contains("needs `rate")
        );
    }
}
