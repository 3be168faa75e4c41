//! What the checkers find in a Raft group's run, from what its members
//! did (`RaftEvent`), taken as the run goes: terms with two leaders,
//! indexes at which members applied different entries, and how long the
//! group had no leader.
//!
//! The checker keeps, per term, who led it and, per index, the entry
//! applied there first: as much as the members' logs hold.

use super::RaftEvent;
use crate::engine::NodeId;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// What the checkers found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RaftReport {
    /// Leaders elected (a member becoming the leader of a term).
    pub leaders: u64,
    /// The highest term anyone led.
    pub last_term: u64,
    /// Terms in which two different members led.
    pub two_leader_terms: u64,
    /// Indexes at which two members applied different entries.
    pub conflicting_commits: u64,
    /// How long no member led, from the start to the end.
    pub leaderless_ns: u64,
}

/// A group's members' events, judged as they come.
#[derive(Clone, Debug, Default)]
pub struct RaftChecker {
    leader_of: BTreeMap<u64, NodeId>,
    split_terms: BTreeSet<u64>,
    /// Per index, the (term, id) applied there first.
    applied: BTreeMap<u64, (u64, u64)>,
    conflicts: BTreeSet<u64>,
    /// Who leads now, and since when no one has.
    leading: BTreeSet<NodeId>,
    leaderless_since: Option<SimTime>,
    leaderless_ns: u64,
    leaders: u64,
}

impl RaftChecker {
    pub fn new() -> Self {
        RaftChecker {
            leaderless_since: Some(SimTime::ZERO),
            ..RaftChecker::default()
        }
    }

    /// Judges what the members did in a window of time, as
    /// `(member, event)`; windows come in order.
    pub fn add(&mut self, batch: &[(NodeId, RaftEvent)]) {
        let mut changes: Vec<(SimTime, usize, NodeId, Option<u64>)> = Vec::new();
        for (k, &(who, e)) in batch.iter().enumerate() {
            match e {
                RaftEvent::Leads { term, at } => changes.push((at, k, who, Some(term))),
                RaftEvent::Follows { at } => changes.push((at, k, who, None)),
                RaftEvent::Applied { index, term, id } => {
                    let first = *self.applied.entry(index).or_insert((term, id));
                    if first != (term, id) {
                        self.conflicts.insert(index);
                    }
                }
            }
        }
        changes.sort_by_key(|&(at, k, _, _)| (at, k));
        for (at, _, who, term) in changes {
            self.change(at, who, term);
        }
    }

    fn change(&mut self, at: SimTime, who: NodeId, term: Option<u64>) {
        match term {
            Some(term) => {
                self.leaders += 1;
                let first = *self.leader_of.entry(term).or_insert(who);
                if first != who {
                    self.split_terms.insert(term);
                }
                if let Some(since) = self.leaderless_since.take() {
                    self.leaderless_ns += at.saturating_since(since).as_nanos();
                }
                self.leading.insert(who);
            }
            None => {
                self.leading.remove(&who);
                if self.leading.is_empty() && self.leaderless_since.is_none() {
                    self.leaderless_since = Some(at);
                }
            }
        }
    }

    /// How many entries it holds, for the memory budget.
    pub fn entries(&self) -> u64 {
        (self.leader_of.len() + self.applied.len()) as u64
    }

    /// The findings, for a run that ended at `end`.
    pub fn report(&self, end: SimTime) -> RaftReport {
        let open = self
            .leaderless_since
            .map_or(0, |since| end.saturating_since(since).as_nanos());
        RaftReport {
            leaders: self.leaders,
            last_term: self.leader_of.keys().next_back().copied().unwrap_or(0),
            two_leader_terms: self.split_terms.len() as u64,
            conflicting_commits: self.conflicts.len() as u64,
            leaderless_ns: self.leaderless_ns + open,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SimTime {
        SimTime::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn two_leaders_in_one_term_and_different_entries_at_one_index_are_found() {
        let (a, b) = (NodeId::from_index(0), NodeId::from_index(1));
        let mut c = RaftChecker::new();
        c.add(&[
            (
                a,
                RaftEvent::Leads {
                    term: 1,
                    at: at(100),
                },
            ),
            (
                a,
                RaftEvent::Applied {
                    index: 1,
                    term: 1,
                    id: 0,
                },
            ),
            (
                b,
                RaftEvent::Applied {
                    index: 1,
                    term: 1,
                    id: 0,
                },
            ),
        ]);
        assert_eq!(c.report(at(200)).two_leader_terms, 0);
        assert_eq!(c.report(at(200)).conflicting_commits, 0);
        c.add(&[
            (a, RaftEvent::Follows { at: at(300) }),
            (
                b,
                RaftEvent::Leads {
                    term: 1,
                    at: at(350),
                },
            ),
            (
                b,
                RaftEvent::Applied {
                    index: 2,
                    term: 1,
                    id: 7,
                },
            ),
            (
                a,
                RaftEvent::Applied {
                    index: 2,
                    term: 2,
                    id: 8,
                },
            ),
        ]);
        let r = c.report(at(400));
        assert_eq!((r.two_leader_terms, r.conflicting_commits), (1, 1));
        assert_eq!(r.leaders, 2);
        // Leaderless: 0-100ms and 300-350ms.
        assert_eq!(r.leaderless_ns, at(150).as_nanos());
    }

    #[test]
    fn time_without_a_leader_counts_overlaps_once_and_runs_to_the_end() {
        let (a, b) = (NodeId::from_index(0), NodeId::from_index(1));
        let mut c = RaftChecker::new();
        // Events out of order in a batch are put in time order.
        c.add(&[
            (
                b,
                RaftEvent::Leads {
                    term: 2,
                    at: at(250),
                },
            ),
            (
                a,
                RaftEvent::Leads {
                    term: 1,
                    at: at(50),
                },
            ),
            (a, RaftEvent::Follows { at: at(300) }),
        ]);
        c.add(&[(b, RaftEvent::Follows { at: at(400) })]);
        let r = c.report(at(1000));
        assert_eq!(r.leaderless_ns, at(50 + 600).as_nanos());
        assert_eq!(r.last_term, 2);
    }
}
