//! Idempotency keys, server side: a store of results by key, so that a
//! retried or repeated request with the same key gets the first result back
//! instead of doing the work (charging the card) again.
//!
//! Reference: Brandur Leach, "Implementing Stripe-like Idempotency Keys in
//! Postgres" (2017), and the IETF HTTPAPI draft "The Idempotency-Key HTTP
//! Header Field". Keys expire after a time to live, as Stripe's do after 24
//! hours: a retry after expiry is processed again, which is the failure mode
//! to teach.
//!
//! Decision: for an incoming key, process it (first time, or expired),
//! replay the stored result, or refuse because the first request with that
//! key is still in progress. Metrics: `IdempotencyStats`.

use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};

/// How long results are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdempotencyConfig {
    pub ttl: SimDuration,
}

/// What to do with a request carrying a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyDecision<R> {
    /// First time (or the earlier entry expired): do the work, then call
    /// `complete`.
    Process,
    /// Done before: reply with this result and do nothing else.
    Replay(R),
    /// The first request with this key has not finished: refuse (409
    /// Conflict in Stripe's API) rather than run it twice concurrently.
    InProgress,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry<R> {
    InProgress,
    Done(R),
}

/// Counters the store keeps about itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdempotencyStats {
    pub processed: u64,
    pub replayed: u64,
    pub conflicts: u64,
    pub expired: u64,
}

/// The server-side result store.
#[derive(Clone, Debug)]
pub struct IdempotencyStore<R> {
    config: IdempotencyConfig,
    entries: BTreeMap<u64, (Entry<R>, SimTime)>,
    /// (expiry, key) in the order keys were first seen; since the TTL is
    /// one constant, that is expiry order, so eviction pops from the front.
    expiries: VecDeque<(SimTime, u64)>,
    pub stats: IdempotencyStats,
}

impl<R: Clone> IdempotencyStore<R> {
    pub fn new(config: IdempotencyConfig) -> Self {
        IdempotencyStore {
            config,
            entries: BTreeMap::new(),
            expiries: VecDeque::new(),
            stats: IdempotencyStats::default(),
        }
    }

    /// Entries currently kept (memory is bounded by the request rate times
    /// the TTL).
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn evict_expired(&mut self, now: SimTime) {
        while let Some(&(expiry, key)) = self.expiries.front() {
            if expiry > now {
                break;
            }
            self.expiries.pop_front();
            // The key may have been re-inserted later with a new expiry.
            if self.entries.get(&key).is_some_and(|(_, e)| *e == expiry) {
                self.entries.remove(&key);
                self.stats.expired += 1;
            }
        }
    }

    /// The decision for a request with `key` arriving at `now`.
    pub fn begin(&mut self, key: u64, now: SimTime) -> KeyDecision<R> {
        self.evict_expired(now);
        match self.entries.get(&key) {
            Some((Entry::Done(r), _)) => {
                self.stats.replayed += 1;
                KeyDecision::Replay(r.clone())
            }
            Some((Entry::InProgress, _)) => {
                self.stats.conflicts += 1;
                KeyDecision::InProgress
            }
            None => {
                let expiry = now.saturating_add(self.config.ttl);
                self.entries.insert(key, (Entry::InProgress, expiry));
                self.expiries.push_back((expiry, key));
                self.stats.processed += 1;
                KeyDecision::Process
            }
        }
    }

    /// Stores the result of the work for `key`, for replays until expiry.
    pub fn complete(&mut self, key: u64, result: R) {
        if let Some((entry, _)) = self.entries.get_mut(&key) {
            *entry = Entry::Done(result);
        }
    }

    /// The work for `key` failed before it had any effect: forget the key so
    /// that a retry is processed afresh (Stripe does the same for errors
    /// that happen before the charge).
    pub fn abandon(&mut self, key: u64) {
        self.entries.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    fn store() -> IdempotencyStore<&'static str> {
        IdempotencyStore::new(IdempotencyConfig {
            ttl: SimDuration::from_secs(60),
        })
    }

    #[test]
    fn a_repeated_key_gets_the_first_result_and_no_second_effect() {
        let mut s = store();
        assert_eq!(s.begin(7, at(0)), KeyDecision::Process);
        assert_eq!(
            s.begin(7, at(10)),
            KeyDecision::InProgress,
            "a concurrent duplicate"
        );
        s.complete(7, "charged once");
        assert_eq!(s.begin(7, at(20)), KeyDecision::Replay("charged once"));
        assert_eq!(
            s.begin(8, at(20)),
            KeyDecision::Process,
            "another key is new work"
        );
        assert_eq!(
            s.stats,
            IdempotencyStats {
                processed: 2,
                replayed: 1,
                conflicts: 1,
                expired: 0
            }
        );
    }

    #[test]
    fn keys_expire_after_their_ttl_and_are_processed_again() {
        let mut s = store();
        s.begin(1, at(0));
        s.complete(1, "first");
        s.begin(2, at(30_000));
        s.complete(2, "second");
        assert_eq!(s.begin(1, at(59_999)), KeyDecision::Replay("first"));
        // At 60s the first key is gone: a late retry charges again.
        assert_eq!(s.begin(1, at(60_000)), KeyDecision::Process);
        assert_eq!(s.stats.expired, 1);
        // The re-inserted key keeps its new expiry when the old one passes.
        s.complete(1, "again");
        assert_eq!(s.begin(1, at(90_000)), KeyDecision::Replay("again"));
        assert_eq!(s.len(), 1, "key 2 expired at 90s");
    }

    #[test]
    fn an_abandoned_key_is_processed_afresh() {
        let mut s = store();
        assert_eq!(s.begin(3, at(0)), KeyDecision::Process);
        s.abandon(3);
        assert_eq!(s.begin(3, at(1)), KeyDecision::Process);
    }
}
