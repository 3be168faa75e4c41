//! Scenario files: the pieces that turn hand-written text into a
//! simulation, with errors a person can act on.
//!
//! So far: units (`units`), "did you mean" suggestions (`suggest`) and
//! located diagnostics (`diagnostic`). The scenario format itself builds on
//! these.

pub mod build;
pub mod diagnostic;
pub mod load;
pub mod reference;
pub mod spec;
pub mod suggest;
pub mod units;
