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

use crate::metrics::Histogram;
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

/// What [`Tracker`] found for one client: [`check`]'s counts, with the
/// stale reads' ages in a histogram.
#[derive(Clone, Debug, Default)]
pub struct ClientFindings {
    pub reads: u64,
    pub stale_reads: u64,
    pub read_your_writes_violations: u64,
    pub monotonic_read_violations: u64,
    pub stale_ages: Histogram,
}

/// The checks of [`check`], made as operations return, in memory that
/// follows the writes rather than the reads: a read is judged when it is
/// given and then forgotten.
///
/// Feed it in batches: each batch holds every operation that returned in
/// a window of time, and windows come in order. That is enough, because
/// whatever judges a read returned before the read began (an
/// acknowledged write, or the client's own earlier read), so it is in the
/// read's batch or an earlier one.
///
/// What it keeps: every acknowledged write (its time and version), and
/// per client and key the times at which the newest version that client
/// had written or read went up, which is at most one entry per version.
#[derive(Clone, Debug, Default)]
pub struct Tracker {
    /// Acknowledged writes per key: (acknowledged at, version), by time.
    acked: BTreeMap<u64, Vec<(u64, u64)>>,
    /// Per (client, key): (at, newest version it had written by then), at
    /// each time that went up.
    own: BTreeMap<(u32, u64), Vec<(u64, u64)>>,
    /// Per (client, key): (at, newest version it had read by then).
    read: BTreeMap<(u32, u64), Vec<(u64, u64)>>,
    pub clients: BTreeMap<u32, ClientFindings>,
}

/// The newest version in `records` (times at which it went up) by time
/// `before` (exclusive), or 0.
fn newest_before(records: Option<&Vec<(u64, u64)>>, before: u64) -> u64 {
    records.map_or(0, |r| {
        let i = r.partition_point(|&(at, _)| at < before);
        if i == 0 { 0 } else { r[i - 1].1 }
    })
}

/// Records that the newest version went up to `version` at `at`, if it
/// did; `at` never goes back.
fn raise(records: &mut Vec<(u64, u64)>, at: u64, version: u64) {
    if records.last().is_none_or(|&(_, newest)| version > newest) {
        records.push((at, version));
    }
}

impl Tracker {
    /// Judges a batch of returned operations (operations that have not
    /// returned are ignored; give them again once they have).
    pub fn add(&mut self, batch: &[KvOp]) {
        let mut returned: Vec<(u64, &KvOp)> = batch
            .iter()
            .filter_map(|op| op.ret.map(|ret| (ret, op)))
            .collect();
        returned.sort_by_key(|&(ret, op)| (ret, op.invoke));
        for &(ret, op) in &returned {
            if let KvOpKind::Write(v) = op.kind {
                let writes = self.acked.entry(op.key).or_default();
                let at = writes.partition_point(|&w| w <= (ret, v));
                writes.insert(at, (ret, v));
            }
        }
        // In return order, so that each read sees the client's reads and
        // writes that returned before it began.
        for &(ret, op) in &returned {
            let slot = (op.client, op.key);
            match op.kind {
                KvOpKind::Write(v) => {
                    let own = self.own.entry(slot).or_default();
                    let newest = own.last().map_or(0, |r| r.1).max(v);
                    raise(own, ret, newest);
                }
                KvOpKind::Read(seen) => {
                    self.judge(op, seen);
                    raise(self.read.entry(slot).or_default(), ret, seen);
                }
            }
        }
    }

    fn judge(&mut self, op: &KvOp, seen: u64) {
        let slot = (op.client, op.key);
        let own = newest_before(self.own.get(&slot), op.invoke + 1);
        let read = newest_before(self.read.get(&slot), op.invoke);
        let f = self.clients.entry(op.client).or_default();
        f.reads += 1;
        f.read_your_writes_violations += u64::from(seen < own);
        f.monotonic_read_violations += u64::from(seen < read);
        let Some(writes) = self.acked.get(&op.key) else {
            return;
        };
        let before = &writes[..writes.partition_point(|&(at, _)| at < op.invoke)];
        if before.iter().any(|&(_, v)| v > seen) {
            f.stale_reads += 1;
            // Stale since the first acknowledgement of a newer version.
            let since = before
                .iter()
                .find(|&&(_, v)| v > seen)
                .map_or(op.invoke, |&(at, _)| at);
            f.stale_ages.record(op.invoke - since);
        }
    }

    /// How many records it holds (acknowledged writes, and the clients'
    /// versions), for a memory estimate.
    pub fn entries(&self) -> u64 {
        fn count<K>(m: &BTreeMap<K, Vec<(u64, u64)>>) -> usize {
            m.values().map(Vec::len).sum()
        }
        (count(&self.acked) + count(&self.own) + count(&self.read)) as u64
    }

    /// Stale reads so far, over all clients.
    pub fn stale_reads(&self) -> u64 {
        self.clients.values().map(|c| c.stale_reads).sum()
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

    /// Fed in windows of return time (of any width), in any order within a
    /// window, the tracker finds exactly what the whole-history check does.
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
        assert!(
            whole.monotonic_read_violations > 10,
            "and monotonic-read violations"
        );
        assert!(
            whole.read_your_writes_violations > 10,
            "and read-your-writes ones"
        );
        for window in [1_000, 37, 5_000, 1_000_000] {
            let mut tracker = Tracker::default();
            let windows = (40_000 / window + 2) as usize;
            let mut batches: Vec<Vec<KvOp>> = vec![Vec::new(); windows];
            for op in history.iter().rev() {
                if let Some(ret) = op.ret {
                    batches[(ret / window) as usize].push(*op);
                }
            }
            for b in &batches {
                tracker.add(b);
            }
            let sum = |f: fn(&ClientFindings) -> u64| tracker.clients.values().map(f).sum::<u64>();
            assert_eq!(sum(|c| c.reads), whole.reads, "window {window}");
            assert_eq!(tracker.stale_reads(), whole.stale_reads, "window {window}");
            assert_eq!(
                sum(|c| c.read_your_writes_violations),
                whole.read_your_writes_violations
            );
            assert_eq!(
                sum(|c| c.monotonic_read_violations),
                whole.monotonic_read_violations
            );
            let mut ages = Histogram::new();
            for c in tracker.clients.values() {
                ages.merge(&c.stale_ages);
            }
            let mut expected = Histogram::new();
            whole.stale_ages.iter().for_each(|&a| expected.record(a));
            assert_eq!(
                (ages.count(), ages.sum(), ages.min(), ages.max()),
                (
                    expected.count(),
                    expected.sum(),
                    expected.min(),
                    expected.max()
                )
            );
        }
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
