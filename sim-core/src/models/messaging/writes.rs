//! A producer that also writes to its own database: each message is the
//! event of a write (an order saved, then "order placed" published), and
//! the two must agree. Three ways to do both:
//!
//! - `dual`: commit the write, then publish. A crash after the commit
//!   and before the broker has the event loses the event: the write
//!   happened and nobody downstream hears of it.
//! - `publish_first`: publish, then commit. A crash before the commit
//!   leaves an event for a write that never happened (a phantom).
//! - `outbox`: the write and its event go into the database in one
//!   transaction (the outbox table); a relay publishes from the outbox
//!   and deletes what the broker acknowledged. A crash loses nothing: the
//!   relay starts again from the table (and may publish an event twice,
//!   which an idempotent consumer absorbs).
//!
//! The database is the producer's own and durable: what was committed
//! survives a crash; a write still under way does not (it was never
//! committed, counted as `aborted`). `scenario/messaging.rs` compares the
//! committed writes with the events the broker stored, after the run.

use super::Envelope;
use crate::dist::Dist;
use std::collections::BTreeMap;

/// How a producer writes and publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    Dual,
    PublishFirst,
    Outbox,
}

impl WriteMode {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteMode::Dual => "dual",
            WriteMode::PublishFirst => "publish_first",
            WriteMode::Outbox => "outbox",
        }
    }
}

#[derive(Clone, Debug)]
pub struct WriteConfig {
    pub mode: WriteMode,
    /// How long a write (with its outbox row) takes to commit.
    pub time: Dist,
}

/// The producer's database, as far as its events are concerned.
pub struct Writes {
    pub cfg: WriteConfig,
    /// Writes under way, by slot: lost in a crash.
    writing: BTreeMap<u64, Envelope>,
    next: u64,
    /// Every write committed (durable), by id.
    committed: Vec<u64>,
    /// Outbox rows not yet acknowledged by the broker (durable).
    outbox: BTreeMap<u64, Envelope>,
    /// Writes a crash cut off, recorded when the producer restarts.
    pub crash_aborted: u64,
}

impl Writes {
    pub fn new(cfg: WriteConfig) -> Self {
        Writes {
            cfg,
            writing: BTreeMap::new(),
            next: 0,
            committed: Vec::new(),
            outbox: BTreeMap::new(),
            crash_aborted: 0,
        }
    }

    /// Starts the write of `msg`; its slot, for the timer.
    pub fn start(&mut self, msg: Envelope) -> u64 {
        let slot = self.next;
        self.next += 1;
        self.writing.insert(slot, msg);
        slot
    }

    /// The write in `slot` commits: the message, if it was still under
    /// way (with an outbox, its row is now in the table).
    pub fn commit(&mut self, slot: u64) -> Option<Envelope> {
        let msg = self.writing.remove(&slot)?;
        self.committed.push(msg.id);
        if self.cfg.mode == WriteMode::Outbox {
            self.outbox.insert(msg.id, msg.clone());
        }
        Some(msg)
    }

    /// The broker has these: their outbox rows go.
    pub fn acknowledged(&mut self, msgs: &[Envelope]) {
        for m in msgs {
            self.outbox.remove(&m.id);
        }
    }

    /// Writes under way now.
    pub fn under_way(&self) -> u64 {
        self.writing.len() as u64
    }

    /// The ids of the writes under way.
    pub fn under_way_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.writing.values().map(|m| m.id)
    }

    /// The ids in the outbox.
    pub fn outbox_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.outbox.keys().copied()
    }

    /// A crash: the writes under way never commit.
    pub fn crash(&mut self) {
        self.crash_aborted += self.writing.len() as u64;
        self.writing.clear();
    }

    /// With an outbox, what the relay must publish after a restart.
    pub fn unpublished(&self) -> Vec<Envelope> {
        self.outbox.values().cloned().collect()
    }

    /// Whether a crash loses the messages waiting to be sent (not with an
    /// outbox, whose table keeps them).
    pub fn buffer_is_durable(&self) -> bool {
        self.cfg.mode == WriteMode::Outbox
    }

    pub fn committed(&self) -> &[u64] {
        &self.committed
    }

    /// Entries kept, for the memory estimate.
    pub fn kept(&self) -> u64 {
        (self.committed.len() + self.outbox.len() + self.writing.len()) as u64
    }
}
