//! Session and staleness checks over a key-value history, weaker than
//! linearizability and each naming what a user would notice:
//!
//! - a **stale read** returns a version older than one whose write had
//!   already been acknowledged when the read began; its *age* is how long
//!   before the read began the newer version was acknowledged;
//! - a **read-your-writes** violation: a client reads an older version than
//!   one it wrote itself (and saw acknowledged) before the read;
//! - a **monotonic-read** violation: a client reads an older version than
//!   one it read before.
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
        let (mut next_own, mut own_latest, mut read_latest) = (0usize, 0u64, 0u64);
        for op in ops.iter() {
            while next_own < own.len() && own[next_own].0 <= op.invoke {
                own_latest = own_latest.max(own[next_own].1);
                next_own += 1;
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
                    read_latest = read_latest.max(seen);
                }
                _ => {}
            }
        }
    }
    report
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
}
