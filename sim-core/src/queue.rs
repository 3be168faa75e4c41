//! The pending-event set: a radix heap keyed by (time, insertion sequence).
//!
//! A discrete-event simulation only ever pops its minimum, and never
//! schedules before the last popped time. That makes the key sequence
//! monotone, which is what a radix heap needs: pushes are O(1) appends and
//! each entry moves down at most once per key bit, so pops are amortised
//! O(log range) with sequential, cache-friendly memory access. It beats a
//! binary heap (see BENCHMARKS.md for the measurement).
//!
//! The key is the 128-bit concatenation (time << 64 | seq). Sequence numbers
//! are unique and increase with every push, so keys are unique and every new
//! key is strictly greater than the last popped one, even at equal times.
//! Ties in time therefore pop in insertion order: the total event order.
//!
//! Architecture invariant: `push` never accepts a time earlier than the last
//! popped time; doing so would break monotonicity and is a bug in the caller
//! (asserted, also in release builds).

/// One pending entry. `time` and `seq` are kept as two `u64` so the entry
/// is 8-byte aligned (a `u128` would force 16-byte alignment and padding).
#[derive(Debug)]
struct Entry<E> {
    time: u64,
    seq: u64,
    item: E,
}

impl<E> Entry<E> {
    #[inline]
    fn key(&self) -> u128 {
        (u128::from(self.time) << 64) | u128::from(self.seq)
    }
}

/// Which bucket a key belongs in relative to the last popped key: one more
/// than the index of the highest bit in which they differ (1..=128).
#[inline]
fn bucket_of(key: u128, last: u128) -> usize {
    debug_assert!(key > last);
    128 - (key ^ last).leading_zeros() as usize
}

/// A monotone priority queue of items ordered by (time, insertion order).
#[derive(Debug)]
pub struct EventQueue<E> {
    /// `buckets[b]` for b in 1..=128 holds keys whose highest bit differing
    /// from `last` is bit b-1. Bucket 0 is unused: keys are unique.
    buckets: Vec<Vec<Entry<E>>>,
    /// Bit b-1 is set when bucket b is non-empty.
    nonempty: u128,
    /// The smallest entry, once located; always the next to pop.
    head: Option<Entry<E>>,
    /// The key of the last entry moved to `head`.
    last: u128,
    len: usize,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            buckets: (0..=128).map(|_| Vec::new()).collect(),
            nonempty: 0,
            head: None,
            last: 0,
            len: 0,
            // Starts at 1 so the first key, even at time 0, exceeds the
            // initial `last` of 0.
            next_seq: 1,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The time of the last entry located as the minimum: no push may go
    /// earlier than this.
    pub fn floor_time(&self) -> u64 {
        (self.last >> 64) as u64
    }

    /// Schedules `item` at `time` and returns its sequence number.
    #[inline]
    pub fn push(&mut self, time: u64, item: E) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Entry { time, seq, item };
        let key = entry.key();
        assert!(
            key > self.last,
            "event scheduled in the past: at {time}ns, before {}ns",
            self.floor_time()
        );
        let b = bucket_of(key, self.last);
        self.buckets[b].push(entry);
        self.nonempty |= 1u128 << (b - 1);
        self.len += 1;
        seq
    }

    /// The time of the next entry without removing it.
    #[inline]
    pub fn peek_time(&mut self) -> Option<u64> {
        self.settle();
        self.head.as_ref().map(|e| e.time)
    }

    /// Removes and returns the next entry as (time, seq, item).
    #[inline]
    pub fn pop(&mut self) -> Option<(u64, u64, E)> {
        self.settle();
        let e = self.head.take()?;
        self.len -= 1;
        Some((e.time, e.seq, e.item))
    }

    /// Makes sure `head` holds the minimum if the queue is not empty.
    #[inline]
    fn settle(&mut self) {
        if self.head.is_some() || self.nonempty == 0 {
            return;
        }
        let b = self.nonempty.trailing_zeros() as usize + 1;
        let mut bucket = core::mem::take(&mut self.buckets[b]);
        self.nonempty &= !(1u128 << (b - 1));
        // Locate the minimum of the lowest non-empty bucket; every other
        // entry of that bucket moves to a strictly lower bucket relative to
        // the new `last`.
        let mut min_i = 0;
        let mut min_key = bucket[0].key();
        for (i, e) in bucket.iter().enumerate().skip(1) {
            let k = e.key();
            if k < min_key {
                min_key = k;
                min_i = i;
            }
        }
        let head = bucket.swap_remove(min_i);
        self.last = min_key;
        for e in bucket.drain(..) {
            let nb = bucket_of(e.key(), min_key);
            self.buckets[nb].push(e);
            self.nonempty |= 1u128 << (nb - 1);
        }
        // Give the emptied vector back to keep its capacity.
        self.buckets[b] = bucket;
        self.head = Some(head);
    }

    /// Keeps only the entries for which `keep` is true, without changing
    /// the order of the rest. Used to purge cancelled timers in bulk.
    pub fn retain(&mut self, mut keep: impl FnMut(&E) -> bool) {
        if let Some(h) = &self.head
            && !keep(&h.item)
        {
            self.head = None;
        }
        let mut len = usize::from(self.head.is_some());
        self.nonempty = 0;
        for (b, bucket) in self.buckets.iter_mut().enumerate().skip(1) {
            bucket.retain(|e| keep(&e.item));
            if !bucket.is_empty() {
                self.nonempty |= 1u128 << (b - 1);
                len += bucket.len();
            }
        }
        self.len = len;
    }

    /// Bytes held by the queue's own storage (not by what the items own).
    pub fn allocated_bytes(&self) -> usize {
        self.buckets
            .iter()
            .map(|b| b.capacity() * core::mem::size_of::<Entry<E>>())
            .sum::<usize>()
            + self.buckets.capacity() * core::mem::size_of::<Vec<Entry<E>>>()
    }

    /// The size of one entry in bytes (time, sequence and the item).
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
        let order: Vec<_> = core::iter::from_fn(|| q.pop().map(|(_, _, x)| x)).collect();
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
        for step in 0..200_000u64 {
            let pushes = if reference.len() < 50 {
                2
            } else {
                rng.below(3)
            };
            for _ in 0..pushes {
                // Small increments make many exact ties.
                let t = now + rng.below(if step % 2 == 0 { 4 } else { 1 << 40 });
                let seq = q.push(t, step);
                reference.insert((t, seq));
            }
            if let Some((t, seq, _)) = q.pop() {
                let want = reference.pop_first().unwrap();
                assert_eq!((t, seq), want);
                assert!(t >= now);
                now = t;
            }
            assert_eq!(q.len(), reference.len());
        }
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
        while let Some((t, _, x)) = q.pop() {
            assert_eq!(x % 2, 0);
            assert!(t >= last);
            last = t;
            n += 1;
        }
        assert_eq!(n, 499);
    }
}
