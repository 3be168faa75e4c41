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

pub mod checker;
pub mod data;
pub mod dist;
pub mod engine;
pub mod ids;
pub mod metrics;
pub mod models;
pub mod network;
pub mod policy;
pub mod queue;
pub mod rng;
pub mod scenario;
pub mod theory;
pub mod time;
pub mod trace;

pub use dist::Dist;
pub use engine::{
    Context, EngineError, Fault, Message, Node, NodeId, RunLimits, RunReport, Simulation,
    StopReason, TimerId,
};
pub use metrics::{Gauge, Histogram, Metrics};
pub use network::{LinkSpec, Network, NodeSet, Partition, ZoneId};
pub use rng::SimRng;
pub use time::{SimDuration, SimTime};
pub use trace::{
    Divergence, Fingerprint, JsonLinesTrace, MemoryTrace, NoTrace, TraceKind, TraceSink,
    first_divergence,
};
