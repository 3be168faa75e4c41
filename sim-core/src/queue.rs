//! The pending-event set: a radix heap keyed by time, first in first out
//! among equal times.
//!
//! A discrete-event simulation only ever pops its minimum, and never
//! schedules before the last popped time. That makes the key sequence
//! monotone, which is what a radix heap needs: pushes are O(1) appends and
//! each entry moves down at most once per key bit, so pops are amortised
//! O(log range) with sequential, cache-friendly memory access. It beats a
//! binary heap (see BENCHMARKS.md for the measurement).
//!
//! Ties: entries with equal times always sit in the same bucket (an entry's
//! bucket is a function of its key and `last` alone), every bucket keeps its
//! entries in the order they arrived, and redistribution preserves that
//! order. Bucket 0 (entries at exactly `last`) is consumed from the front.
//! So equal times pop in insertion order, which is the total event order
//! (time, insertion sequence) without storing a sequence number.
//!
//! Architecture invariant: `push` never accepts a time earlier than the last
//! popped time; doing so would break monotonicity and is a bug in the caller
//! (asserted, also in release builds).

use std::collections::VecDeque;

/// One pending entry.
#[derive(Debug)]
struct Entry<E> {
    time: u64,
    item: E,
}

/// Which bucket a key belongs in relative to the last popped key: 0 if
/// equal, else one more than the index of the highest differing bit (1..=64).
#[inline]
fn bucket_of(key: u64, last: u64) -> usize {
    64 - (key ^ last).leading_zeros() as usize
}

/// The largest allocation a drained bucket keeps for reuse, in entries.
const KEEP_CAPACITY: usize = 64;
/// The smallest growth step of a bucket, in entries.
const GROW_MIN: usize = 16;

/// A monotone priority queue of items ordered by (time, insertion order).
#[derive(Debug)]
pub struct EventQueue<E> {
    /// Entries at exactly `last`, in insertion order.
    zero: VecDeque<Entry<E>>,
    /// `buckets[b]` for b in 1..=64 holds keys whose highest bit differing
    /// from `last` is bit b-1 (index 0 is unused).
    buckets: Vec<Vec<Entry<E>>>,
    /// Bit b-1 is set when bucket b (1..=64) is non-empty.
    nonempty: u64,
    /// The time of the located minimum; buckets are relative to it.
    last: u64,
    /// The time of the last popped entry: no push may go earlier.
    popped: u64,
    len: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            zero: VecDeque::new(),
            buckets: (0..=64).map(|_| Vec::new()).collect(),
            nonempty: 0,
            last: 0,
            popped: 0,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The earliest time a push may use: the time of the last popped entry.
    pub fn floor_time(&self) -> u64 {
        self.popped
    }

    /// Schedules `item` at `time`, after everything already at that time.
    #[inline]
    pub fn push(&mut self, time: u64, item: E) {
        assert!(
            time >= self.popped,
            "event scheduled in the past: at {time}ns, before {}ns",
            self.popped
        );
        if time < self.last {
            // Only from outside a handler: a peek located a minimum later
            // than `time` (a run stopped at its end time and the caller now
            // schedules something before the next event).
            self.rebase(time);
        }
        self.place(Entry { time, item });
        self.len += 1;
    }

    /// Re-files every entry relative to a new, earlier minimum `time`.
    /// O(n), and never on the engine's event path.
    #[cold]
    fn rebase(&mut self, time: u64) {
        let mut all: Vec<Entry<E>> = Vec::with_capacity(self.len);
        // Equal times share a bucket and keep their order in it; entries in
        // different buckets have different times, so this order is enough.
        all.extend(self.zero.drain(..));
        for bucket in self.buckets.iter_mut() {
            all.append(bucket);
        }
        self.nonempty = 0;
        self.last = time;
        for e in all {
            self.place(e);
        }
    }

    #[inline]
    fn place(&mut self, e: Entry<E>) {
        let b = bucket_of(e.time, self.last);
        if b == 0 {
            self.zero.push_back(e);
        } else {
            let bucket = &mut self.buckets[b];
            if bucket.len() == bucket.capacity() {
                // Grow by half rather than doubling: capacity stays
                // within 1.5x of what the bucket holds.
                bucket.reserve_exact((bucket.len() / 2).max(GROW_MIN));
            }
            bucket.push(e);
            self.nonempty |= 1u64 << (b - 1);
        }
    }

    /// The time of the next entry without removing it.
    #[inline]
    pub fn peek_time(&mut self) -> Option<u64> {
        if self.settle() { Some(self.last) } else { None }
    }

    /// Removes and returns the next entry as (time, item).
    #[inline]
    pub fn pop(&mut self) -> Option<(u64, E)> {
        if !self.settle() {
            return None;
        }
        self.len -= 1;
        let e = self.zero.pop_front().expect("settled");
        self.popped = e.time;
        if self.zero.is_empty() && self.zero.capacity() > KEEP_CAPACITY {
            // A burst of simultaneous events is over; do not keep its room.
            self.zero.shrink_to(0);
        }
        Some((e.time, e.item))
    }

    /// Makes sure `zero` holds the minimum; false if the queue is empty.
    #[inline]
    fn settle(&mut self) -> bool {
        if !self.zero.is_empty() {
            return true;
        }
        if self.nonempty == 0 {
            return false;
        }
        let b = self.nonempty.trailing_zeros() as usize + 1;
        self.nonempty &= !(1u64 << (b - 1));
        if self.buckets[b].len() == 1 {
            // The common case in small queues: the lowest bucket holds one
            // entry, which is the minimum.
            let e = self.buckets[b].pop().expect("one entry");
            self.last = e.time;
            self.zero.push_back(e);
            return true;
        }
        let mut bucket = core::mem::take(&mut self.buckets[b]);
        let min = bucket
            .iter()
            .map(|e| e.time)
            .min()
            .expect("non-empty bucket");
        self.last = min;
        // Every entry moves to a strictly lower bucket (bucket 0 if it is at
        // the new minimum), in its current order.
        for e in bucket.drain(..) {
            self.place(e);
        }
        // Keep the emptied vector's allocation only if it is small. A
        // bucket is appended to until it is drained, so a fresh vector's
        // capacity is at most twice what it holds; one kept at its
        // largest-ever size would hold memory for entries long gone (in a
        // long run nearly every bucket at some point holds nearly every
        // entry).
        if bucket.capacity() <= KEEP_CAPACITY {
            self.buckets[b] = bucket;
        }
        true
    }

    /// Keeps only the entries for which `keep` is true, without changing
    /// the order of the rest. Used to purge cancelled timers in bulk.
    pub fn retain(&mut self, mut keep: impl FnMut(&E) -> bool) {
        self.zero.retain(|e| keep(&e.item));
        let mut len = self.zero.len();
        self.nonempty = 0;
        for (b, bucket) in self.buckets.iter_mut().enumerate().skip(1) {
            bucket.retain(|e| keep(&e.item));
            if !bucket.is_empty() {
                self.nonempty |= 1u64 << (b - 1);
                len += bucket.len();
            }
        }
        self.len = len;
    }

    /// Bytes held by the queue's own storage (not by what the items own).
    pub fn allocated_bytes(&self) -> usize {
        let entry = core::mem::size_of::<Entry<E>>();
        self.buckets
            .iter()
            .map(|b| b.capacity() * entry)
            .sum::<usize>()
            + self.zero.capacity() * entry
            + self.buckets.capacity() * core::mem::size_of::<Vec<Entry<E>>>()
    }

    /// The size of one entry in bytes (the time and the item).
    pub const fn entry_size() -> usize {
        core::mem::size_of::<Entry<E>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SimRng;

    #[test]
    fn pops_in_time_then_insertion_order() {
        let mut q = EventQueue::new();
        q.push(5, "c");
        q.push(1, "a");
        q.push(5, "d");
        q.push(3, "b");
        q.push(5, "e");
        let order: Vec<_> = core::iter::from_fn(|| q.pop().map(|(_, x)| x)).collect();
        assert_eq!(order, ["a", "b", "c", "d", "e"]);
    }

    /// The radix heap against a sorted reference under a random hold-style
    /// workload with interleaved pushes and pops, including equal times.
    #[test]
    fn matches_a_reference_ordering() {
        let mut rng = SimRng::for_component(11, "queue-test");
        let mut q = EventQueue::new();
        let mut reference: std::collections::BTreeSet<(u64, u64)> = Default::default();
        let mut now = 0u64;
        let mut seq = 0u64;
        for step in 0..200_000u64 {
            let pushes = if reference.len() < 50 {
                2
            } else {
                rng.below(3)
            };
            for _ in 0..pushes {
                // Small increments make many exact ties.
                let t = now + rng.below(if step % 2 == 0 { 4 } else { 1 << 40 });
                q.push(t, seq);
                reference.insert((t, seq));
                seq += 1;
            }
            if let Some((t, seq)) = q.pop() {
                let want = reference.pop_first().unwrap();
                assert_eq!((t, seq), want);
                assert!(t >= now);
                now = t;
            }
            assert_eq!(q.len(), reference.len());
        }
    }

    /// Memory follows what is pending, not how long the queue has run: a
    /// long hold run stays within a small factor of the entries' own size.
    #[test]
    fn memory_stays_proportional_to_pending_entries() {
        let mut rng = SimRng::for_component(12, "hold");
        let mut q = EventQueue::new();
        let n = 10_000;
        for _ in 0..n {
            q.push(rng.below(1 << 20), [0u64; 4]);
        }
        let mut worst = 0;
        for _ in 0..2_000_000 {
            let (t, x) = q.pop().unwrap();
            q.push(t + rng.below(1 << 21), x);
            worst = worst.max(q.allocated_bytes());
        }
        let per_entry = worst as f64 / n as f64;
        let raw = EventQueue::<[u64; 4]>::entry_size() as f64;
        // Buckets grow by half and keep at most 64 entries' room when
        // drained: about 1.5x plus a fixed allowance. Keeping every
        // bucket's largest-ever capacity measured about 9x here.
        assert!(
            per_entry < raw * 1.6,
            "{per_entry} bytes per pending entry of {raw}"
        );
    }

    /// A peek may locate a minimum later than a time that is still legal to
    /// schedule at (nothing has been popped since); such a push comes out
    /// first.
    #[test]
    fn accepts_a_push_before_a_peeked_minimum() {
        let mut q = EventQueue::new();
        q.push(10, "a");
        q.push(30, "c");
        q.push(30, "d");
        assert_eq!(q.pop(), Some((10, "a")));
        assert_eq!(q.peek_time(), Some(30));
        q.push(20, "b");
        q.push(30, "e");
        let rest: Vec<_> = core::iter::from_fn(|| q.pop()).collect();
        assert_eq!(rest, [(20, "b"), (30, "c"), (30, "d"), (30, "e")]);
    }

    #[test]
    #[should_panic(expected = "event scheduled in the past")]
    fn refuses_the_past() {
        let mut q = EventQueue::new();
        q.push(10, ());
        q.pop();
        q.push(9, ());
    }

    #[test]
    fn retain_drops_only_what_it_is_told_to() {
        let mut q = EventQueue::new();
        for t in 0..1000u64 {
            q.push(t * 7 % 1000, t);
        }
        q.pop();
        q.retain(|&x| x % 2 == 0);
        let mut last = 0;
        let mut n = 0;
        while let Some((t, x)) = q.pop() {
            assert_eq!(x % 2, 0);
            assert!(t >= last);
            last = t;
            n += 1;
        }
        assert_eq!(n, 499);
    }
}
