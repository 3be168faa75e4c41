//! Linearizability of a versioned register in linear time. Where every
//! write makes the next version (a store that numbers its versions, as
//! the kv store does for its conditional updates), the order of the
//! writes is known: version 1, then 2, and so on. What is left to decide
//! is whether each operation can be given a point inside its interval
//! such that the points follow the versions: each write after everything
//! of the version before it, and each read of a version after that
//! version's write. Giving every operation the earliest point its
//! interval and the version before it allow is optimal (any later point
//! only narrows what comes next), so one pass over the versions decides
//! it, where the general search (`linearizability`) may explore
//! exponentially many orders of the many concurrent reads a contended
//! counter produces. The two agree on every history both can judge (a
//! test checks it on random ones).
//!
//! A register state is a `u64` whose version `version_of` extracts; a
//! write is a `Write` or a `Cas` whose `to` is the new state, and a `Cas`
//! also reads its `from`. A plain `Write` is held to the version it says
//! it made, which is stricter than a register with no versions: two
//! blind writes must take effect in the order the store numbered them.

use super::linearizability::{Operation, RegisterOp};
use std::collections::{BTreeMap, BTreeSet};

/// A version's write and what read it.
#[derive(Default)]
struct Version {
    write: Option<Operation>,
    reads: Vec<Operation>,
}

/// Is `history`, on a register starting at state `initial` (version 0),
/// linearizable? An update that never returned may have taken effect
/// (its interval never ends) if what it wrote was seen; reads that never
/// returned are ignored.
pub fn check_versioned(history: &[Operation], initial: u64, version_of: fn(u64) -> u64) -> bool {
    let mut versions: BTreeMap<u64, Version> = BTreeMap::new();
    let mut state_of: BTreeMap<u64, u64> = BTreeMap::from([(0, initial)]);
    let written = |o: &Operation| match o.op {
        RegisterOp::Write(s) | RegisterOp::Cas { to: s, .. } => Some(version_of(s)),
        RegisterOp::Read(_) => None,
    };
    // An update in flight counts only if what it wrote was seen (by a
    // read, or as the state a later compare-and-set changed), and only
    // one per version: the others were refused, or changed nothing seen.
    let seen: BTreeSet<u64> = history
        .iter()
        .filter_map(|o| match o.op {
            RegisterOp::Read(s) | RegisterOp::Cas { from: s, .. } => Some(s),
            RegisterOp::Write(_) => None,
        })
        .collect();
    let mut claimed: BTreeSet<u64> = history
        .iter()
        .filter(|o| o.ret.is_some())
        .filter_map(written)
        .collect();
    let in_play: Vec<&Operation> = history
        .iter()
        .filter(|o| {
            o.ret.is_some()
                || match (o.op, written(o)) {
                    (RegisterOp::Write(s) | RegisterOp::Cas { to: s, .. }, Some(v)) => {
                        seen.contains(&s) && claimed.insert(v)
                    }
                    _ => false,
                }
        })
        .collect();
    for o in in_play {
        let (read, wrote) = match o.op {
            RegisterOp::Read(s) => (Some(s), None),
            RegisterOp::Write(s) => (None, Some(s)),
            RegisterOp::Cas { from, to } => (Some(from), Some(to)),
        };
        if let Some(s) = wrote {
            let v = version_of(s);
            let slot = versions.entry(v).or_default();
            if v == 0 || slot.write.is_some() || state_of.insert(v, s).is_some() {
                return false; // two writes of one version
            }
            slot.write = Some(*o);
        }
        if let Some(s) = read
            && (o.ret.is_some() || wrote.is_some())
        {
            versions
                .entry(version_of(s))
                .or_default()
                .reads
                .push(Operation {
                    op: RegisterOp::Read(s),
                    ..*o
                });
        }
    }
    // Every version read or written must follow one written, in order.
    let mut last = 0u64;
    let mut prev = 0u64;
    for (&v, slot) in &versions {
        if v != prev && v != prev + 1 {
            return false; // a version nobody wrote
        }
        prev = v;
        let point = |o: &Operation, after: u64| {
            let p = o.invoke.max(after);
            o.ret.is_none_or(|r| p <= r).then_some(p)
        };
        if v > 0 {
            let Some(w) = slot.write else { return false };
            match point(&w, last) {
                Some(p) => last = p,
                None => return false,
            }
        }
        let written = state_of[&v];
        let mut next = last;
        for r in &slot.reads {
            // The state read must be the very one written (value too).
            if r.op != RegisterOp::Read(written) {
                return false;
            }
            match point(r, last) {
                Some(p) => next = next.max(p),
                None => return false,
            }
        }
        last = next;
    }
    true
}
