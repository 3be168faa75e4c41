//! A register's history checked for linearizability as it is recorded,
//! in memory that follows what is in flight rather than the run's length.
//!
//! The history is cut at quiet points: an instant before which every
//! operation that has returned had already returned, and after which
//! every later operation begins. Real time orders everything before a
//! cut ahead of everything after it, so all that one side tells the
//! other is the register's value at the cut. A [`RegisterStream`] keeps
//! the values the register may hold at its last cut; each new stretch is
//! searched (by [`check_register_within`]) from each of them, and yields
//! the values it may end with. The verdict is the whole history's, found
//! in pieces.
//!
//! Writes that never returned (the client gave up) may take effect at any
//! later instant, so they do not hold a cut back. One whose value no read
//! has returned yet is carried from stretch to stretch unsearched: taking
//! effect unseen and being overwritten explains a history no better than
//! not taking effect, so only its value matters, once a read returns it.
//! At the end, those nobody read are left out, as [`prune`] does for a
//! whole history.
//!
//! What is kept: per key, the operations since its last cut, the possible
//! values, and the writes that never returned and that nobody read. A key
//! whose operations overlap for more than [`MAX_OPEN`] operations in a row
//! without a quiet point is undecided, so no key can hold more.
//!
//! [`prune`]: super::linearizability::prune

use super::linearizability::{Operation, RegisterOp, check_register_within};
use std::collections::BTreeSet;

/// The most operations a key may hold without a quiet point: past it the
/// key is undecided and its history is dropped.
pub const MAX_OPEN: usize = 1 << 16;

/// What the stream has found so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamVerdict {
    /// Every stretch so far is linearizable (at the end: the history is).
    Linearizable,
    NotLinearizable,
    /// The search reached its budget, or the key never went quiet.
    Undecided,
}

/// One register's history, judged stretch by stretch.
#[derive(Clone, Debug)]
pub struct RegisterStream {
    /// The values the register may hold at the last cut.
    states: BTreeSet<u64>,
    /// Writes that never returned and whose value no read returned yet.
    unread: Vec<Operation>,
    /// Operations since the last cut: returned ones, and writes that never
    /// will.
    open: Vec<Operation>,
    /// Search states visited so far, over every stretch.
    steps: u64,
    verdict: StreamVerdict,
}

impl RegisterStream {
    /// A register that starts at `initial`.
    pub fn new(initial: u64) -> Self {
        RegisterStream {
            states: BTreeSet::from([initial]),
            unread: Vec::new(),
            open: Vec::new(),
            steps: 0,
            verdict: StreamVerdict::Linearizable,
        }
    }

    /// Adds an operation that is over: it returned, or it is a write that
    /// never will. (A read that never returned tells nothing: it is
    /// ignored.)
    pub fn push(&mut self, op: Operation) {
        let read_without_answer = matches!(op.op, RegisterOp::Read(_)) && op.ret.is_none();
        if self.verdict == StreamVerdict::Linearizable && !read_without_answer {
            self.open.push(op);
        }
    }

    /// Judges the operations before the latest quiet point that comes
    /// before `horizon`: no operation still in flight, or yet to begin,
    /// began before `horizon`. The search may visit up to `budget` states
    /// for this key over the whole run.
    pub fn settle(&mut self, horizon: u64, budget: u64) {
        if self.verdict != StreamVerdict::Linearizable {
            return;
        }
        let Some(cut) = self.quiet_point(horizon) else {
            if self.open.len() > MAX_OPEN {
                self.decide(StreamVerdict::Undecided);
            }
            return;
        };
        let (stretch, rest): (Vec<Operation>, Vec<Operation>) =
            self.open.drain(..).partition(|o| o.invoke < cut);
        self.open = rest;
        // Writes that never returned join the search once a read in this
        // stretch returned their value; the others wait, unsearched.
        let read: BTreeSet<u64> = stretch.iter().filter_map(read_value).collect();
        let (mut search, never): (Vec<Operation>, Vec<Operation>) =
            stretch.into_iter().partition(|o| o.ret.is_some());
        let waiting = std::mem::take(&mut self.unread).into_iter().chain(never);
        for w in waiting {
            match w.op {
                RegisterOp::Write(v) if read.contains(&v) => search.push(w),
                _ => self.unread.push(w),
            }
        }
        match self.outcomes(&search, budget) {
            None => self.decide(StreamVerdict::Undecided),
            Some(ends) if ends.is_empty() => self.decide(StreamVerdict::NotLinearizable),
            Some(ends) => self.states = ends,
        }
    }

    /// The verdict on everything pushed, once nothing more will be.
    pub fn finish(mut self, budget: u64) -> StreamVerdict {
        self.settle(u64::MAX, budget);
        self.verdict
    }

    /// The verdict so far.
    pub fn verdict(&self) -> StreamVerdict {
        self.verdict
    }

    /// How many entries (operations and values) it holds.
    pub fn entries(&self) -> usize {
        self.states.len() + self.unread.len() + self.open.len()
    }

    fn decide(&mut self, verdict: StreamVerdict) {
        self.verdict = verdict;
        self.open = Vec::new();
        self.unread = Vec::new();
        self.states = BTreeSet::new();
    }

    /// The latest instant before `horizon` that no returned operation
    /// spans and before which every returned operation had returned
    /// (operations that touch at an instant are concurrent, so the cut is
    /// strictly after the returns). Writes that never return do not count.
    fn quiet_point(&mut self, horizon: u64) -> Option<u64> {
        self.open
            .sort_unstable_by_key(|o| (o.invoke, o.ret, op_key(o.op)));
        let mut latest_return = None::<u64>;
        let mut cut = None;
        let done: Vec<&Operation> = self.open.iter().filter(|o| o.ret.is_some()).collect();
        for (i, o) in done.iter().enumerate() {
            let ret = o.ret.expect("returned");
            let last = latest_return.map_or(ret, |r| r.max(ret));
            latest_return = Some(last);
            let next = done.get(i + 1).map_or(horizon, |n| n.invoke.min(horizon));
            if last < next {
                cut = Some(next);
            }
        }
        cut
    }

    /// The values the register may hold after `stretch`, begun from any of
    /// the values it may hold now; None if the search ran out of budget.
    /// A value may be last if a search of the stretch with a read of it
    /// after everything succeeds.
    fn outcomes(&mut self, stretch: &[Operation], budget: u64) -> Option<BTreeSet<u64>> {
        if stretch.is_empty() {
            return Some(self.states.clone());
        }
        let end = stretch
            .iter()
            .map(|o| o.ret.unwrap_or(o.invoke))
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        let mut history = stretch.to_vec();
        history.push(Operation {
            op: RegisterOp::Read(0),
            invoke: end,
            ret: Some(end.saturating_add(1)),
        });
        let mut ends = BTreeSet::new();
        for &start in &self.states {
            for v in last_candidates(stretch, start) {
                if ends.contains(&v) {
                    continue;
                }
                *history.last_mut().expect("pushed") = Operation {
                    op: RegisterOp::Read(v),
                    ..history[history.len() - 1]
                };
                let left = budget.saturating_sub(self.steps);
                let verdict = check_register_within(&history, start, left)?;
                self.steps += verdict.steps;
                if verdict.linearizable {
                    ends.insert(v);
                }
            }
        }
        Some(ends)
    }
}

/// The values a stretch begun at `start` may leave in the register: with
/// no write, `start`; otherwise the value of a write that may come last,
/// one that never returned, or one that no returned write began after.
fn last_candidates(stretch: &[Operation], start: u64) -> Vec<u64> {
    let writes: Vec<&Operation> = stretch
        .iter()
        .filter(|o| matches!(o.op, RegisterOp::Write(_)))
        .collect();
    if writes.is_empty() {
        return vec![start];
    }
    writes
        .iter()
        .filter(|w| {
            w.ret
                .is_none_or(|ret| !writes.iter().any(|o| o.ret.is_some() && o.invoke > ret))
        })
        .map(|w| op_key(w.op))
        .collect()
}

fn read_value(o: &Operation) -> Option<u64> {
    match o.op {
        RegisterOp::Read(v) => Some(v),
        RegisterOp::Write(_) | RegisterOp::Cas { .. } => None,
    }
}

fn op_key(op: RegisterOp) -> u64 {
    match op {
        RegisterOp::Write(v) | RegisterOp::Read(v) | RegisterOp::Cas { to: v, .. } => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::linearizability::{check_register, prune, random_register_history};
    use crate::rng::SimRng;
    use RegisterOp::{Read, Write};

    fn op(o: RegisterOp, invoke: u64, ret: u64) -> Operation {
        Operation::returned(o, invoke, ret)
    }

    /// When the client is done with an operation: at its return, or (a
    /// write that never returns) when it gives up, a while after it began.
    fn done_at(o: &Operation) -> u64 {
        o.ret.unwrap_or(o.invoke + 60)
    }

    /// Feeds `h` to a stream as a run would: at each of `ends`, what was
    /// done by then, with the horizon at the oldest operation still going.
    fn streamed(h: &[Operation], ends: &[u64], budget: u64) -> (StreamVerdict, usize) {
        let mut s = RegisterStream::new(0);
        let mut given = vec![false; h.len()];
        let mut most = 0;
        for &t in ends {
            for (i, o) in h.iter().enumerate() {
                if !given[i] && done_at(o) <= t {
                    given[i] = true;
                    s.push(*o);
                }
            }
            let going = h
                .iter()
                .enumerate()
                .filter(|(i, o)| !given[*i] && o.invoke <= t)
                .map(|(_, o)| o.invoke);
            s.settle(going.min().unwrap_or(t).min(t), budget);
            most = most.max(s.entries());
        }
        for (i, o) in h.iter().enumerate() {
            if !given[i] {
                s.push(*o);
            }
        }
        (s.finish(budget), most)
    }

    /// Random histories, linearizable or spoiled, with writes that never
    /// returned (some read back, some not), judged in windows of random
    /// widths: the verdict is always the whole history's.
    #[test]
    fn judged_in_stretches_the_verdict_is_the_whole_historys() {
        let (mut held, mut broke) = (0, 0);
        for seed in 0..300 {
            let mut rng = SimRng::for_component(seed, "segments-test");
            let mut h = random_register_history(seed, 1 + (seed % 4) as usize, 60);
            for o in h.iter_mut() {
                // Some writes that took effect never return.
                if matches!(o.op, Write(_)) && rng.chance(0.15) {
                    o.ret = None;
                }
            }
            for i in 0..3 {
                h.push(Operation {
                    op: Write(10_000 + i),
                    invoke: rng.below(1_500),
                    ret: None,
                });
            }
            if seed % 3 == 0 {
                // A read of some value written somewhere, or of a write
                // nobody read that never returned.
                let victim = rng.below(h.len() as u64) as usize;
                let value = if rng.chance(0.5) {
                    10_000 + rng.below(3)
                } else {
                    rng.below(20)
                };
                if matches!(h[victim].op, Read(_)) {
                    h[victim].op = Read(value);
                }
            }
            let whole = check_register(&prune(&h), 0).linearizable;
            let last = h.iter().map(done_at).max().unwrap();
            let mut ends: Vec<u64> = (0..1 + rng.below(12)).map(|_| rng.below(last)).collect();
            ends.sort_unstable();
            let (verdict, _) = streamed(&h, &ends, u64::MAX);
            let expected = if whole {
                StreamVerdict::Linearizable
            } else {
                StreamVerdict::NotLinearizable
            };
            assert_eq!(verdict, expected, "seed {seed}: {h:?}");
            if whole {
                held += 1;
            } else {
                broke += 1;
            }
        }
        assert!(held > 100 && broke > 30, "{held} held, {broke} broke");
    }

    /// A long history with pauses holds little at any time, and one stale
    /// read near its end is still found.
    #[test]
    fn a_long_history_is_held_a_stretch_at_a_time() {
        let mut h = random_register_history(7, 3, 50_000);
        let last = h.iter().map(done_at).max().unwrap();
        let ends: Vec<u64> = (1..=200).map(|k| last / 200 * k).collect();
        let (verdict, most) = streamed(&h, &ends, 1_000_000);
        assert_eq!(verdict, StreamVerdict::Linearizable);
        assert!(most < 2_000, "held {most} entries at once");
        let victim = h
            .iter()
            .rposition(|o| matches!(o.op, Read(v) if v > 5))
            .unwrap();
        h[victim].op = Read(1);
        assert_eq!(
            streamed(&h, &ends, 1_000_000).0,
            StreamVerdict::NotLinearizable
        );
    }

    /// A write that never returned and that nobody read for a long while
    /// may still explain a read much later; once overwritten and read
    /// past, it cannot.
    #[test]
    fn a_write_that_never_returned_may_surface_later() {
        let lost = Operation {
            op: Write(9),
            invoke: 5,
            ret: None,
        };
        let h = [
            lost,
            op(Read(0), 10, 20),
            op(Read(0), 100, 110),
            op(Read(9), 200, 210),
            op(Read(9), 300, 310),
        ];
        let ends = [25, 115, 215, 400];
        assert_eq!(streamed(&h, &ends, 1_000).0, StreamVerdict::Linearizable);
        let h = [
            lost,
            op(Read(9), 10, 20),
            op(Write(3), 100, 110),
            op(Read(9), 200, 210),
        ];
        assert_eq!(streamed(&h, &ends, 1_000).0, StreamVerdict::NotLinearizable);
    }

    /// A key that never goes quiet is undecided once it holds too much,
    /// and holds nothing after.
    #[test]
    fn a_key_that_never_goes_quiet_is_undecided_not_kept() {
        let mut s = RegisterStream::new(0);
        let ops = (0..MAX_OPEN as u64 + 10).map(|i| op(Read(0), i, i + 5));
        for (i, o) in ops.enumerate() {
            s.push(o);
            if i % 1_000 == 0 {
                // Something invoked at 0 is still in flight.
                s.settle(0, u64::MAX);
            }
        }
        s.settle(0, u64::MAX);
        assert_eq!(s.verdict(), StreamVerdict::Undecided);
        assert_eq!(s.entries(), 0);
    }
}
