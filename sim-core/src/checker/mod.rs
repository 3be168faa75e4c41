//! Checkers over recorded histories: properties of what a run did, as
//! opposed to metrics of how fast. The linearizability of a single
//! register's history (`linearizability`), and stale reads with their age,
//! read-your-writes and monotonic reads over a key-value history
//! (`consistency`).

pub mod consistency;
pub mod linearizability;
