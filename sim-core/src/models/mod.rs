//! Built-in models. Each implements [`crate::engine::Node`] exactly as a
//! user's own component would.
//!
//! So far: the queueing primitives (an open-loop Poisson client and a
//! c-worker FIFO server) that the engine's checks against queueing theory,
//! its property tests and its benchmarks are built from, and the hold model
//! used to benchmark the pending-event set; and the request path (a client
//! with timeouts, retries and idempotency keys, a service with workers, a
//! queue, an idempotency store and a dependency, and a ledger whose charges
//! are the side effect to protect), which speak `rpc::Rpc`. The rest of the
//! service model and the data models grow here.

pub mod client;
pub mod hold;
pub mod ledger;
pub mod queueing;
pub mod rpc;
pub mod service;
