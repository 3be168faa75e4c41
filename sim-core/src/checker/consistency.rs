//! Session and staleness checks over a key-value history, weaker than
//! linearizability and each naming what a user would notice:
//!
//! - a **stale read** returns a version older than one whose write had
//!   already been acknowledged when the read began; its *age* is how long
//!   before the read began the newer version was acknowledged;
//! - a **read-your-writes** violation: a client reads an older version than
//!   one it wrote itself (and saw acknowledged) before the read;
//! - a **monotonic-read** violation: a client reads an older version than
//!   one it read before, that is, in a read that returned before this one
//!   began (two reads in flight at once may return in either order, as
//!   they may for any client whose requests overlap).
//!
//! Versions are totally ordered per key (higher is newer), as a single
//! leader, a single writer or last-writer-wins timestamps give. Reference:
//! D. Terry et al., "Session Guarantees for Weakly Consistent Replicated
//! Data" (PDIS 1994), for read-your-writes and monotonic reads.

use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvOpKind {
    /// Wrote this version.
    Write(u64),
    /// Read this version (0: nothing yet).
    Read(u64),
}

/// One operation: by `client` on `key`, invoked and returned at times in
/// nanoseconds (`ret` None: it never returned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvOp {
    pub client: u32,
    pub key: u64,
    pub kind: KvOpKind,
    pub invoke: u64,
    pub ret: Option<u64>,
}

/// What the checks found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConsistencyReport {
    pub reads: u64,
    pub stale_reads: u64,
    /// Per stale read, how long (ns) the newer version had been
    /// acknowledged when the read began.
    pub stale_ages: Vec<u64>,
    pub read_your_writes_violations: u64,
    pub monotonic_read_violations: u64,
}

/// Checks a history; operations may come in any order.
pub fn check(history: &[KvOp]) -> ConsistencyReport {
    let mut report = ConsistencyReport::default();
    // Acknowledged writes per key: (acknowledged at, version), by time.
    let mut acked: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    for op in history {
        if let (KvOpKind::Write(v), Some(ret)) = (op.kind, op.ret) {
            acked.entry(op.key).or_default().push((ret, v));
        }
    }
    for writes in acked.values_mut() {
        writes.sort_unstable();
    }
    // Stale reads: compare with the newest version acknowledged before
    // the read began.
    for op in history {
        let KvOpKind::Read(seen) = op.kind else {
            continue;
        };
        if op.ret.is_none() {
            continue;
        }
        report.reads += 1;
        let Some(writes) = acked.get(&op.key) else {
            continue;
        };
        let before = writes.partition_point(|&(at, _)| at < op.invoke);
        let newest = writes[..before].iter().map(|&(_, v)| v).max();
        if newest.is_some_and(|v| v > seen) {
            report.stale_reads += 1;
            // The first acknowledgement of a version newer than what was
            // seen: the read has been stale since then.
            let since = writes[..before]
                .iter()
                .find(|&&(_, v)| v > seen)
                .map_or(op.invoke, |&(at, _)| at);
            report.stale_ages.push(op.invoke - since);
        }
    }
    // Session guarantees, per client and key, in the client's own order.
    let mut by_client: BTreeMap<(u32, u64), Vec<&KvOp>> = BTreeMap::new();
    for op in history {
        by_client.entry((op.client, op.key)).or_default().push(op);
    }
    for ops in by_client.values_mut() {
        ops.sort_by_key(|o| o.invoke);
        // The client's own acknowledged writes, by acknowledgement: a read
        // must show those acknowledged before it began.
        let mut own: Vec<(u64, u64)> = ops
            .iter()
            .filter_map(|o| match (o.kind, o.ret) {
                (KvOpKind::Write(v), Some(ret)) => Some((ret, v)),
                _ => None,
            })
            .collect();
        own.sort_unstable();
        // The client's returned reads, by return: a read must show at least
        // what those that returned before it began showed.
        let mut seen_before: Vec<(u64, u64)> = ops
            .iter()
            .filter_map(|o| match (o.kind, o.ret) {
                (KvOpKind::Read(v), Some(ret)) => Some((ret, v)),
                _ => None,
            })
            .collect();
        seen_before.sort_unstable();
        let (mut next_own, mut own_latest) = (0usize, 0u64);
        let (mut next_read, mut read_latest) = (0usize, 0u64);
        for op in ops.iter() {
            while next_own < own.len() && own[next_own].0 <= op.invoke {
                own_latest = own_latest.max(own[next_own].1);
                next_own += 1;
            }
            while next_read < seen_before.len() && seen_before[next_read].0 < op.invoke {
                read_latest = read_latest.max(seen_before[next_read].1);
                next_read += 1;
            }
            match (op.kind, op.ret) {
                (KvOpKind::Write(_), _) => {}
                (KvOpKind::Read(seen), Some(_)) => {
                    if seen < own_latest {
                        report.read_your_writes_violations += 1;
                    }
                    if seen < read_latest {
                        report.monotonic_read_violations += 1;
                    }
                }
                _ => {}
            }
        }
    }
    report
}

/// Stale reads counted while a run goes on, with the same rule as
/// [`check`]: a read is stale if it returned a version older than one
/// whose write was acknowledged before the read began.
///
/// Feed it in batches: each batch holds every operation that returned in
/// a window of time, and windows come in order. That is enough, because
/// the writes that judge a read were acknowledged before it began, so
/// before it returned: they are in its batch or an earlier one.
#[derive(Clone, Debug, Default)]
pub struct StaleTracker {
    /// Acknowledged writes per key: (acknowledged at, version), by time.
    acked: BTreeMap<u64, Vec<(u64, u64)>>,
    /// Reads judged so far, and of them stale, per client.
    pub reads: BTreeMap<u32, (u64, u64)>,
}

impl StaleTracker {
    /// Judges a batch of returned operations (operations that have not
    /// returned are ignored; give them again once they have).
    pub fn add(&mut self, batch: &[KvOp]) {
        for op in batch {
            if let (KvOpKind::Write(v), Some(ret)) = (op.kind, op.ret) {
                let writes = self.acked.entry(op.key).or_default();
                let at = writes.partition_point(|&w| w <= (ret, v));
                writes.insert(at, (ret, v));
            }
        }
        for op in batch {
            let (KvOpKind::Read(seen), Some(_)) = (op.kind, op.ret) else {
                continue;
            };
            let newest = self.acked.get(&op.key).and_then(|writes| {
                let before = writes.partition_point(|&(at, _)| at < op.invoke);
                writes[..before].iter().map(|&(_, v)| v).max()
            });
            let counts = self.reads.entry(op.client).or_default();
            counts.0 += 1;
            if newest.is_some_and(|v| v > seen) {
                counts.1 += 1;
            }
        }
    }

    /// Stale reads so far, over all clients.
    pub fn stale_reads(&self) -> u64 {
        self.reads.values().map(|c| c.1).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KvOpKind::{Read, Write};

    fn op(client: u32, kind: KvOpKind, invoke: u64, ret: u64) -> KvOp {
        KvOp {
            client,
            key: 1,
            kind,
            invoke,
            ret: Some(ret),
        }
    }

    /// Fed in windows of return time, in any order within a window, the
    /// tracker counts exactly the stale reads the whole-history check does.
    #[test]
    fn the_tracker_agrees_with_the_whole_history_check() {
        // A deterministic jumble: two writers and three readers on three
        // keys, reads overlapping writes, some never returning.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut history = Vec::new();
        let mut version = [0u64; 3];
        for i in 0..3_000u64 {
            let key = next(3);
            let invoke = i * 10 + next(10);
            let ret = (next(20) != 0).then(|| invoke + 1 + next(200));
            let kind = if next(3) == 0 {
                version[key as usize] += 1;
                Write(version[key as usize])
            } else {
                Read(version[key as usize].saturating_sub(next(3)))
            };
            let client = next(5) as u32;
            history.push(KvOp {
                client,
                key,
                kind,
                invoke,
                ret,
            });
        }
        let whole = check(&history);
        assert!(whole.stale_reads > 100, "the jumble has stale reads");
        let mut tracker = StaleTracker::default();
        let mut windows: Vec<Vec<KvOp>> = vec![Vec::new(); 40];
        for op in history.iter().rev() {
            if let Some(ret) = op.ret {
                windows[(ret / 1_000).min(39) as usize].push(*op);
            }
        }
        for w in &windows {
            tracker.add(w);
        }
        assert_eq!(tracker.stale_reads(), whole.stale_reads);
        let reads: u64 = tracker.reads.values().map(|c| c.0).sum();
        assert_eq!(reads, whole.reads);
    }

    #[test]
    fn a_fresh_history_has_nothing_to_report() {
        let h = [
            op(1, Write(1), 0, 10),
            op(2, Read(1), 20, 30),
            op(1, Write(2), 40, 50),
            op(2, Read(2), 60, 70),
            op(1, Read(2), 80, 90),
        ];
        let r = check(&h);
        assert_eq!(r.reads, 3);
        assert_eq!(
            (
                r.stale_reads,
                r.read_your_writes_violations,
                r.monotonic_read_violations
            ),
            (0, 0, 0)
        );
    }

    #[test]
    fn stale_reads_and_their_age() {
        let h = [
            op(1, Write(1), 0, 10),
            op(1, Write(2), 20, 30),
            op(1, Write(3), 40, 50),
            // Began at 100: version 3 acknowledged at 50, version 2 at 30.
            op(2, Read(1), 100, 110),
            // A read overlapping the write of 3 may return 2: not stale.
            op(3, Read(2), 45, 60),
        ];
        let r = check(&h);
        assert_eq!(r.stale_reads, 1);
        // Stale since version 2 was acknowledged, 70ns before the read.
        assert_eq!(r.stale_ages, [70]);
    }

    #[test]
    fn session_guarantees() {
        // Client 1 writes 2, then reads 1: read-your-writes broken (and the
        // read is stale too).
        let ryw = [
            op(1, Write(1), 0, 10),
            op(1, Write(2), 20, 30),
            op(1, Read(1), 40, 50),
        ];
        let r = check(&ryw);
        assert_eq!((r.read_your_writes_violations, r.stale_reads), (1, 1));
        // Client 2 reads 2 then 1: monotonic reads broken, though 2 was
        // never acknowledged when the second read began (a write in flight
        // seen by one replica): not stale, yet surprising.
        let mono = [
            KvOp {
                client: 1,
                key: 1,
                kind: Write(2),
                invoke: 0,
                ret: None,
            },
            op(1, Write(1), 0, 5),
            op(2, Read(2), 10, 20),
            op(2, Read(1), 30, 40),
        ];
        let r = check(&mono);
        assert_eq!((r.monotonic_read_violations, r.stale_reads), (1, 0));
        // Other keys and other clients do not count against each other.
        let mut other = op(3, Read(0), 50, 60);
        other.key = 2;
        let r = check(&[op(1, Write(5), 0, 10), other]);
        assert_eq!((r.stale_reads, r.read_your_writes_violations), (0, 0));
    }

    /// Read-your-writes asks for writes acknowledged before the read began,
    /// not for one still in flight.
    #[test]
    fn a_read_during_your_own_write_may_miss_it() {
        let h = [
            op(1, Write(1), 0, 10),
            op(1, Write(2), 20, 40),
            op(1, Read(1), 30, 35),
            op(1, Read(1), 50, 60),
        ];
        assert_eq!(check(&h).read_your_writes_violations, 1);
    }

    /// Monotonic reads compare with reads that returned before this one
    /// began: two reads in flight together may return in either order.
    #[test]
    fn overlapping_reads_may_return_in_either_order() {
        let h = [
            op(1, Write(1), 0, 5),
            op(1, Write(2), 6, 8),
            // Begun together; the later one returns the older version.
            op(2, Read(2), 10, 30),
            op(2, Read(1), 12, 20),
            // Begun after the read of 2 returned: older is a violation.
            op(2, Read(1), 31, 40),
        ];
        assert_eq!(check(&h).monotonic_read_violations, 1);
    }
}
