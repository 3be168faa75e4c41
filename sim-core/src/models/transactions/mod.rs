//! A transaction across services: a coordinator and its participants,
//! run as a saga (each step a local transaction, in order; a failed step
//! undoes the ones before it by compensations, or, without them, leaves
//! the transaction half done) or by two-phase commit (every participant
//! prepares, holding its lock, and commits or aborts as the coordinator
//! decides; while the coordinator is down, the prepared wait, holding).
//!
//! Invariant: each participant keeps the transactions applied at it (done
//! and not undone); after the run, a finished transaction applied at some
//! participants and not at others is half done
//! (`scenario/messaging.rs`).

pub mod coordinator;
pub mod participant;

/// How a coordinator runs its transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Saga,
    TwoPhase,
}

/// What coordinators and participants say, and their timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum TxnMsg {
    /// A saga's step: do your part of `txn`.
    Do {
        txn: u64,
    },
    /// The step's outcome: done, or refused (nothing changed).
    Done {
        txn: u64,
        ok: bool,
    },
    /// A saga's compensation: undo your part of `txn`.
    Undo {
        txn: u64,
    },
    Undone {
        txn: u64,
    },
    /// Two-phase commit: take your lock and vote.
    Prepare {
        txn: u64,
    },
    /// The vote: yes (prepared, holding the lock) or no.
    Vote {
        txn: u64,
        yes: bool,
    },
    /// The decision.
    Commit {
        txn: u64,
    },
    Abort {
        txn: u64,
    },
    /// The decision is applied (the lock released).
    Finished {
        txn: u64,
    },
    // Timers.
    /// A coordinator's next transaction is due.
    Begin,
    /// A participant's work on `txn` ends.
    Worked {
        txn: u64,
    },
}
