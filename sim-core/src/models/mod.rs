//! Built-in models. Each implements [`crate::engine::Node`] exactly as a
//! user's own component would.
//!
//! So far: the queueing primitives (an open-loop Poisson client and a
//! c-worker FIFO server) that the engine's checks against queueing theory,
//! its property tests and its benchmarks are built from, and the hold model
//! used to benchmark the pending-event set; and the request path
//! (messages in `request`): the caller (every policy between a caller and one
//! dependency), a client (an open-loop workload over a caller), a service
//! (workers, a queue, dependencies in order, in parallel or fanned out,
//! gray failures and flags) and a ledger whose charges are the side effect
//! to protect. The data models: a versioned store and quorum client, caches,
//! a shard router, and replication (leader/follower or quorums) with the
//! sessions that use it. Coordination: a lock service with leases and
//! fencing tokens, its workers and the storage they guard; heartbeat
//! senders and the monitor that judges them (`monitor`); consensus, a Raft
//! group as a replicated store (`raft`). Contention: read-modify-write
//! clients of a counter, with compare-and-set (`counter`), and transfers
//! under locks from a lock manager that detects deadlocks (`transfer`,
//! `lock_manager`). Each model owns
//! its messages and timers; `rpc` gathers them into the one type a scenario's simulation carries.

pub mod cache;
pub mod caller;
pub mod client;
pub mod counter;
pub mod hold;
pub mod kv;
pub mod ledger;
pub mod lock;
pub mod lock_manager;
pub mod messaging;
pub mod monitor;
pub mod queueing;
pub mod raft;
pub mod replication;
pub mod request;
pub mod router;
pub mod rpc;
pub mod service;
pub mod tasks;
pub mod ties;
pub mod transactions;
pub mod transfer;

/// What one entry of a model's growing state (a call in flight, a queued
/// job, a stored key, a history entry) counts for in a run's memory
/// estimate: a fixed figure, so the estimate is the same on every platform.
pub const ENTRY_BYTES: u64 = 64;
