//! Faultline's engine: a deterministic, seeded, discrete-event simulator of
//! distributed systems.
//!
//! A [`Simulation`] holds [`Node`]s connected by a simulated [`Network`].
//! Nodes act only through a [`Context`]: virtual time, their own random
//! stream, messages, timers, metrics and trace notes. The same scenario and
//! seed give the same event sequence, bit for bit, natively and in
//! WebAssembly; the run's [`Fingerprint`] proves it.
//!
//! This crate is pure: no I/O of its own (a trace sink writes to whatever
//! `Write` it is given), no wall clock, no threads, no OS randomness.
//!
//! ```
//! use sim_core::models::queueing::{OpenLoopClient, QueueServer, QMsg};
//! use sim_core::{RunLimits, SimDuration, Simulation};
//!
//! let mut sim = Simulation::<QMsg>::new(42);
//! let zone = sim.zone("dc");
//! // Arrivals at 80/s, service at 100/s: an M/M/1 queue at load 0.8.
//! let server = sim.add_node("server", zone, QueueServer::exponential(1, 100.0)).unwrap();
//! sim.add_node("client", zone, OpenLoopClient::poisson(server, 80.0)).unwrap();
//! let report = sim.run(RunLimits::for_duration(SimDuration::from_secs(60)));
//! println!("{report}; fingerprint {}", report.fingerprint);
//! let served = sim.metrics().get_counter("server.completed").unwrap();
//! assert!(served > 4000);
//! ```

// The engine's own modules are private: what a user of the engine needs
// is re-exported here, at the root, and nothing else is reachable.
mod dist;
mod engine;
mod ids;
mod metrics;
mod network;
mod queue;
mod rng;
mod time;
mod trace;

// The modelling library: what a simulation is built from (models and
// their policies, the checkers that judge histories, the formulas of
// queueing theory, key distributions), public so that a Rust program can
// compose its own simulation; and scenario files, the one door the front
// ends go through.
pub mod checker;
pub mod data;
pub mod models;
pub mod policy;
pub mod scenario;
pub mod theory;

pub use dist::{Dist, DistError};
pub use engine::{
    Context, DEFAULT_EVENT_BUDGET, DEFAULT_MEMORY_BUDGET, EngineError, Fault, MEMORY_CHECK_EVERY,
    Message, Node, RunLimits, RunReport, Simulation, StopReason,
};
pub use ids::{NodeId, TimerId, ZoneId};
pub use metrics::{
    CounterId, Gauge, GaugeId, Histogram, HistogramId, Metrics, SeriesBucket, SeriesId, TimeSeries,
};
pub use network::{LinkSpec, Network, NodeSet, Partition};
/// The pending-event set, exposed for its own benchmark.
pub use queue::EventQueue;
pub use rng::SimRng;
pub use time::{ParseDurationError, SimDuration, SimTime};
pub use trace::{
    Divergence, Fingerprint, JsonLinesTrace, MemoryTrace, NoTrace, OwnedTraceRecord, StableHasher,
    TraceKind, TraceRecord, TraceSink, first_divergence,
};
