//! Built-in models. Each implements [`crate::engine::Node`] exactly as a
//! user's own component would.
//!
//! So far: the queueing primitives (an open-loop Poisson client and a
//! c-worker FIFO server) that the engine's checks against queueing theory,
//! its property tests and its benchmarks are built from, and the hold model
//! used to benchmark the pending-event set. The full service model,
//! resilience policies and data models grow here.

pub mod hold;
pub mod queueing;
