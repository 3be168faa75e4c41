//! Checkers over recorded histories: properties of what a run did, as
//! opposed to metrics of how fast. The linearizability of a single
//! register's history (`linearizability`), and stale reads with their age,
//! read-your-writes and monotonic reads over a key-value history
//! (`consistency`). `segments` checks linearizability as a history is
//! recorded, stretch by stretch between quiet points. `versioned` decides
//! linearizability in linear time where each write makes the next
//! version.

pub mod consistency;
pub mod linearizability;
pub mod segments;
pub mod versioned;
