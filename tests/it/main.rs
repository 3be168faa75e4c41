//! Faultline's cross-crate tests, in one binary so they link once.
//!
//! - `theory`: the engine's numbers against queueing theory.
//! - `determinism`: fingerprints, per-name random streams.
//! - `engine`: timers, crashes, the network, bounded runs, traces.
//! - `properties`: random topologies never break conservation or time order.
//! - `request_path`: client, service and ledger with their policies.
//! - `locks`: the lock service, its workers, leases and fencing.
//! - `detection`: heartbeats and the monitor's failure detectors.
//! - `consensus`: the Raft group, its elections against theory, its checkers.
//! - `tidy`: checks on the code and its docs themselves.
//! - `golden`: every story × variant's fingerprint, pinned in a file.

mod consensus;
mod contention;
mod data;
mod detection;
mod determinism;
mod engine;
mod fuzz_scenarios;
mod golden;
mod locks;
mod messaging;
mod patterns;
mod properties;
mod replication;
mod request_path;
mod scenarios;
mod search;
mod temporal;
mod theory;
mod tidy;
mod topics;
mod transactions;
