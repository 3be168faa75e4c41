//! Is a history of reads and writes on one register linearizable? That is:
//! is there one order of the operations, consistent with real time (an
//! operation that returned before another was invoked comes first), in
//! which every read returns the latest write?
//!
//! The search is Wing and Gong's ("Testing and verifying concurrent
//! objects", 1993) with Lowe's memoisation ("Testing for linearizability",
//! 2017), as Porcupine and Knossos use it: walk the history's events in
//! time order; at an invocation, try to linearize that operation now (if
//! the register allows it) and restart from the front; at a return whose
//! operation is not yet linearized, undo the last choice. A cache of
//! (set of linearized operations, register value) cuts off every state
//! reached before, which is what makes histories of 10^4 operations with a
//! handful of concurrent clients fast.
//!
//! Operations that never returned (the client crashed, or the run ended)
//! may or may not have taken effect: they are given a return at infinity,
//! and the history is linearizable once every completed operation is.

use std::collections::BTreeSet;

/// What an operation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    Write(u64),
    /// A read and the value it returned.
    Read(u64),
    /// A successful compare-and-set (or any atomic step) from `from` to
    /// `to`: it takes effect only where the register holds `from`.
    Cas {
        from: u64,
        to: u64,
    },
}

/// One operation: invoked at `invoke`, returned at `ret` (None: never).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    pub op: RegisterOp,
    pub invoke: u64,
    pub ret: Option<u64>,
}

impl Operation {
    /// An operation that returned.
    pub fn returned(op: RegisterOp, invoke: u64, ret: u64) -> Self {
        Operation {
            op,
            invoke,
            ret: Some(ret),
        }
    }
}

/// The verdict, with the search's effort.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub linearizable: bool,
    /// States the search visited (for benchmarks and curiosity).
    pub steps: u64,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    op: usize,
    is_call: bool,
    prev: usize,
    next: usize,
}

/// Checks `history` against a register that starts at `initial`.
pub fn check_register(history: &[Operation], initial: u64) -> Verdict {
    check_register_within(history, initial, u64::MAX).expect("no step limit")
}

/// The history's events as a doubly linked list (a call and a return per
/// operation, in time order; at equal times calls come first, so two
/// operations that touch at an instant are concurrent, then by operation
/// index for determinism), with a head sentinel at index 2n and a tail
/// sentinel at 2n + 1; and where each operation's call and return are.
fn event_list(history: &[Operation]) -> (Vec<Entry>, Vec<usize>, Vec<usize>) {
    let n = history.len();
    // Events: a call and a return per operation, in time order; at equal
    // times calls come first (two operations that touch at an instant are
    // treated as concurrent), then by operation index for determinism.
    let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * n);
    for (i, o) in history.iter().enumerate() {
        events.push((o.invoke, 0, i));
        events.push((o.ret.unwrap_or(u64::MAX), 1, i));
    }
    events.sort_unstable();
    // A doubly linked list over the events, with a head sentinel at index
    // 2n and a tail sentinel at 2n + 1.
    let (head, tail) = (2 * n, 2 * n + 1);
    let mut list: Vec<Entry> = Vec::with_capacity(2 * n + 2);
    let mut call_at = vec![0usize; n];
    let mut ret_at = vec![0usize; n];
    for (k, &(_, kind, op)) in events.iter().enumerate() {
        list.push(Entry {
            op,
            is_call: kind == 0,
            prev: if k == 0 { head } else { k - 1 },
            next: if k + 1 == events.len() { tail } else { k + 1 },
        });
        if kind == 0 {
            call_at[op] = k;
        } else {
            ret_at[op] = k;
        }
    }
    list.push(Entry {
        op: usize::MAX,
        is_call: false,
        prev: head,
        next: if n == 0 { tail } else { 0 },
    });
    list.push(Entry {
        op: usize::MAX,
        is_call: false,
        prev: if n == 0 { head } else { 2 * n - 1 },
        next: tail,
    });
    (list, call_at, ret_at)
}

/// As `check_register`, giving up (None) after `max_steps` search states:
/// a history with many overlapping operations can take exponential time,
/// and a run's report must finish.
pub fn check_register_within(
    history: &[Operation],
    initial: u64,
    max_steps: u64,
) -> Option<Verdict> {
    let n = history.len();
    let (head, tail) = (2 * n, 2 * n + 1);
    let (mut list, call_at, ret_at) = event_list(history);
    let unlink = |list: &mut Vec<Entry>, k: usize| {
        let (p, q) = (list[k].prev, list[k].next);
        list[p].next = q;
        list[q].prev = p;
    };
    let relink = |list: &mut Vec<Entry>, k: usize| {
        let (p, q) = (list[k].prev, list[k].next);
        list[p].next = k;
        list[q].prev = k;
    };

    let mut completed_left = history.iter().filter(|o| o.ret.is_some()).count();
    let words = n.div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut cache: BTreeSet<(Vec<u64>, u64)> = BTreeSet::new();
    // The choices made: (operation, register value before it).
    let mut stack: Vec<(usize, u64)> = Vec::new();
    let mut state = initial;
    let mut steps = 0u64;
    let mut entry = list[head].next;
    while completed_left > 0 {
        steps += 1;
        if steps > max_steps {
            return None;
        }
        if entry == tail {
            // Cannot happen while a completed operation is unlinearized
            // (its return comes first and backtracks); stop safely anyway.
            break;
        }
        let e = list[entry];
        if e.is_call {
            let o = history[e.op];
            let next_state = match o.op {
                RegisterOp::Write(v) => Some(v),
                RegisterOp::Read(v) => (v == state).then_some(state),
                RegisterOp::Cas { from, to } => (from == state).then_some(to),
            };
            let mut lifted = false;
            if let Some(s) = next_state {
                linearized[e.op / 64] |= 1 << (e.op % 64);
                if cache.insert((linearized.clone(), s)) {
                    stack.push((e.op, state));
                    state = s;
                    unlink(&mut list, call_at[e.op]);
                    unlink(&mut list, ret_at[e.op]);
                    if o.ret.is_some() {
                        completed_left -= 1;
                    }
                    lifted = true;
                    entry = list[head].next;
                } else {
                    linearized[e.op / 64] &= !(1 << (e.op % 64));
                }
            }
            if !lifted {
                entry = e.next;
            }
        } else {
            // A return whose operation is not linearized: undo a choice.
            let Some((op, before)) = stack.pop() else {
                return Some(Verdict {
                    linearizable: false,
                    steps,
                });
            };
            state = before;
            linearized[op / 64] &= !(1 << (op % 64));
            relink(&mut list, ret_at[op]);
            relink(&mut list, call_at[op]);
            if history[op].ret.is_some() {
                completed_left += 1;
            }
            entry = list[call_at[op]].next;
        }
    }
    Some(Verdict {
        linearizable: completed_left == 0,
        steps,
    })
}

/// Leaves out what cannot change the verdict: a write that never returned
/// and whose value no read returned. It may have taken effect or not;
/// taking effect after every other operation (its return is at infinity)
/// explains the history exactly as well as never happening, so the
/// verdict is the same without it. (Sound for a register whose written
/// values are unique, as the sessions' write ids are.) Such writes are
/// what a cut-off side's timed-out writes look like, and each one doubles
/// the states the search may visit, so leaving them out decides keys that
/// would otherwise exhaust the budget.
pub fn prune(history: &[Operation]) -> Vec<Operation> {
    let read: BTreeSet<u64> = history
        .iter()
        .filter_map(|o| match o.op {
            // A compare-and-set saw the value it changed.
            RegisterOp::Read(v) | RegisterOp::Cas { from: v, .. } => Some(v),
            RegisterOp::Write(_) => None,
        })
        .collect();
    history
        .iter()
        .filter(|o| !matches!(o.op, RegisterOp::Write(v) if o.ret.is_none() && !read.contains(&v)))
        .copied()
        .collect()
}

/// Verdicts over many keys, each checked on its own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeysVerdict {
    pub linearizable: u64,
    pub not_linearizable: u64,
    /// Keys whose search reached its budget: no verdict.
    pub undecided: u64,
}

/// Checks every key's history (pruned, see [`prune`]) against a register
/// that starts at `initial`, each with a budget of its own of
/// `per_key_budget` search states, so that one tangled key cannot leave
/// the others unsearched.
pub fn check_keys<'a>(
    keys: impl IntoIterator<Item = &'a [Operation]>,
    initial: u64,
    per_key_budget: u64,
) -> KeysVerdict {
    let mut v = KeysVerdict::default();
    for history in keys {
        match check_register_within(&prune(history), initial, per_key_budget) {
            Some(r) if r.linearizable => v.linearizable += 1,
            Some(_) => v.not_linearizable += 1,
            None => v.undecided += 1,
        }
    }
    v
}

/// A linearizable history by construction, for tests and benchmarks:
/// `clients` clients each run operations one after another (40% writes of
/// fresh values), every operation takes effect at a random instant between
/// its invocation and its return, and reads return what the register held
/// at theirs.
pub fn random_register_history(seed: u64, clients: usize, ops: usize) -> Vec<Operation> {
    let mut rng = crate::rng::SimRng::for_component(seed, "linearizability-history");
    // (client's clock, op index) per client; ops are spread round robin.
    let mut clock = vec![0u64; clients.max(1)];
    let mut planned: Vec<(u64, usize, bool, u64, u64)> = Vec::with_capacity(ops);
    for i in 0..ops {
        let c = i % clock.len();
        let invoke = clock[c] + 1 + rng.below(20);
        let ret = invoke + 1 + rng.below(50);
        let point = invoke + rng.below(ret - invoke + 1);
        clock[c] = ret;
        let write = rng.chance(0.4);
        planned.push((point, i, write, invoke, ret));
    }
    // Apply in order of the linearization points.
    let mut order: Vec<usize> = (0..ops).collect();
    order.sort_by_key(|&i| (planned[i].0, i));
    let mut value = 0;
    let mut next_value = 1;
    let mut result = vec![
        Operation {
            op: RegisterOp::Read(0),
            invoke: 0,
            ret: None,
        };
        ops
    ];
    for i in order {
        let (_, _, write, invoke, ret) = planned[i];
        let op = if write {
            value = next_value;
            next_value += 1;
            RegisterOp::Write(value)
        } else {
            RegisterOp::Read(value)
        };
        result[i] = Operation {
            op,
            invoke,
            ret: Some(ret),
        };
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    use RegisterOp::{Read, Write};
    fn op(o: RegisterOp, invoke: u64, ret: u64) -> Operation {
        Operation::returned(o, invoke, ret)
    }

    #[test]
    fn sequential_histories() {
        let ok = [
            op(Write(1), 0, 1),
            op(Read(1), 2, 3),
            op(Write(2), 4, 5),
            op(Read(2), 6, 7),
        ];
        assert!(check_register(&ok, 0).linearizable);
        // A read of an overwritten value after the overwrite returned.
        let stale = [op(Write(1), 0, 1), op(Write(2), 2, 3), op(Read(1), 4, 5)];
        assert!(!check_register(&stale, 0).linearizable);
        // The initial value, and a value never written.
        assert!(check_register(&[op(Read(0), 0, 1)], 0).linearizable);
        assert!(!check_register(&[op(Read(9), 0, 1)], 0).linearizable);
        assert!(check_register(&[], 0).linearizable);
    }

    #[test]
    fn concurrency_allows_either_order() {
        // A read overlapping a write may see the old or the new value.
        for seen in [0, 1] {
            let h = [op(Write(1), 0, 10), op(Read(seen), 5, 6)];
            assert!(check_register(&h, 0).linearizable, "saw {seen}");
        }
        // Two overlapping writes, then reads that agree on one order.
        let h = [
            op(Write(1), 0, 10),
            op(Write(2), 1, 9),
            op(Read(1), 11, 12),
            op(Read(1), 13, 14),
        ];
        assert!(check_register(&h, 0).linearizable);
        // ...but reads cannot go back: 2 then 1 then 2 is impossible.
        let h = [
            op(Write(1), 0, 10),
            op(Write(2), 1, 9),
            op(Read(2), 11, 12),
            op(Read(1), 13, 14),
        ];
        assert!(!check_register(&h, 0).linearizable);
    }

    #[test]
    fn a_new_value_seen_then_the_old_one_is_not_linearizable() {
        // Two reads during one write: the first sees the new value, a later
        // one the old. Each is fine alone; together they are not.
        let h = [
            op(Write(1), 0, 100),
            op(Read(1), 10, 20),
            op(Read(0), 30, 40),
        ];
        assert!(!check_register(&h, 0).linearizable);
    }

    #[test]
    fn large_generated_histories_pass_and_one_stale_read_fails_them() {
        for seed in 1..=3 {
            let mut h = random_register_history(seed, 5, 10_000);
            let v = check_register(&h, 0);
            assert!(v.linearizable, "seed {seed}: {v:?}");
            // Make a late read return the first value ever written, long
            // overwritten by then: no order can explain it.
            let first = h
                .iter()
                .find_map(|o| match o.op {
                    Write(1) => Some(o.ret.unwrap()),
                    _ => None,
                })
                .unwrap();
            let overwritten = h
                .iter()
                .filter(|o| matches!(o.op, Write(v) if v > 1) && o.invoke > first)
                .map(|o| o.ret.unwrap())
                .min()
                .unwrap();
            let victim = h
                .iter()
                .rposition(|o| matches!(o.op, Read(_)) && o.invoke > overwritten)
                .unwrap();
            h[victim].op = Read(1);
            assert!(!check_register(&h, 0).linearizable, "seed {seed}");
        }
    }

    /// A history that takes the search many states: `n` writes that never
    /// returned, all read back in an order that forces it to try many.
    fn tangled(n: u64) -> Vec<Operation> {
        let mut h: Vec<Operation> = (1..=n)
            .map(|v| Operation {
                op: Write(v),
                invoke: 0,
                ret: None,
            })
            .collect();
        for (i, v) in (1..=n).rev().enumerate() {
            let t = 10 + 10 * i as u64;
            h.push(op(Read(v), t, t + 15));
        }
        h.push(op(Read(0), 1_000_000, 1_000_001));
        h
    }

    /// A key plainly not linearizable: a read returns the old value after
    /// a write of a new one returned.
    fn stale() -> Vec<Operation> {
        vec![op(Write(1), 0, 10), op(Read(0), 20, 30)]
    }

    #[test]
    fn each_key_has_its_own_budget() {
        let hard = tangled(14);
        assert!(
            check_register_within(&hard, 0, 2_000).is_none(),
            "the hard key is hard"
        );
        let mut keys: Vec<Vec<Operation>> = vec![hard];
        keys.extend((0..10).map(|_| stale()));
        let v = check_keys(keys.iter().map(Vec::as_slice), 0, 2_000);
        assert_eq!(
            v,
            KeysVerdict {
                linearizable: 0,
                not_linearizable: 10,
                undecided: 1
            }
        );
    }

    #[test]
    fn pending_writes_no_read_returned_are_left_out_soundly() {
        // Forty timed-out writes nobody read, around a plain history.
        let mut h: Vec<Operation> = (100..140)
            .map(|v| Operation {
                op: Write(v),
                invoke: 5,
                ret: None,
            })
            .collect();
        h.extend([
            op(Write(1), 0, 10),
            op(Read(1), 20, 30),
            op(Write(2), 40, 50),
        ]);
        assert_eq!(prune(&h).len(), 3);
        assert!(
            check_register_within(&h, 0, 100_000).is_none(),
            "unpruned, it is hard"
        );
        let v = check_keys([h.as_slice()], 0, 100_000);
        assert_eq!(v.linearizable, 1);
        // And the verdict is the one without them, on random histories
        // with pending writes added: pruning never changes it.
        for seed in 0..30 {
            let mut h = random_register_history(seed, 3, 40);
            if seed % 2 == 0 {
                h.push(op(Read(0), 10_000, 10_001)); // often breaks it
            }
            let plain = check_register(&h, 0).linearizable;
            h.extend((0..6).map(|i| Operation {
                op: Write(1_000 + i),
                invoke: 3 * i,
                ret: None,
            }));
            assert_eq!(
                check_register(&prune(&h), 0).linearizable,
                plain,
                "seed {seed}"
            );
            assert_eq!(check_register(&h, 0).linearizable, plain, "seed {seed}");
        }
    }

    #[test]
    fn pending_operations_may_or_may_not_have_happened() {
        let pending = Operation {
            op: Write(7),
            invoke: 0,
            ret: None,
        };
        assert!(check_register(&[pending, op(Read(7), 5, 6)], 0).linearizable);
        assert!(check_register(&[pending, op(Read(0), 5, 6)], 0).linearizable);
        // But once 7 was seen, the old value cannot come back.
        let h = [pending, op(Read(7), 5, 6), op(Read(0), 8, 9)];
        assert!(!check_register(&h, 0).linearizable);
    }
}
