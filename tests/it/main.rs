//! Faultline's cross-crate tests, in one binary so they link once.
//!
//! - `theory`: the engine's numbers against queueing theory.
//! - `determinism`: fingerprints, per-name random streams.
//! - `engine`: timers, crashes, the network, bounded runs, traces.
//! - `properties`: random topologies never break conservation or time order.
//! - `tidy`: checks on the code and its docs themselves.

mod determinism;
mod engine;
mod properties;
mod theory;
mod tidy;
