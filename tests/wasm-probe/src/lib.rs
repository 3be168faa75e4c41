//! Reference runs whose fingerprints must be the same natively and in
//! WebAssembly. `cargo xtask test` builds this crate for
//! wasm32-unknown-unknown, runs it under Node.js (no wasm-bindgen needed:
//! the exports take and return plain integers, which JavaScript sees as
//! BigInt) and compares against the same functions run natively.
//!
//! The reference system touches every source of platform drift we know of:
//! every distribution (and so every `libm` function the engine uses), lossy,
//! duplicating and reordering links, a partition and a crash, timeouts and
//! cancelled timers, and the histogram's percentile arithmetic.

use sim_core::models::queueing::{OpenLoopClient, QMsg, QueueServer};
use sim_core::{Dist, Fault, LinkSpec, Partition, RunLimits, SimDuration, SimTime, Simulation};

fn ms(n: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_millis(n)
}

/// The fingerprint of the reference system under `seed`, folded with a few
/// metric read-outs so that float arithmetic in metrics is compared too.
pub fn reference_fingerprint(seed: u64) -> u64 {
    let mut sim = Simulation::<QMsg>::new(seed);
    let east = sim.zone("east");
    let west = sim.zone("west");
    let dist = |d: Result<Dist, sim_core::DistError>| d.expect("valid reference distribution");
    sim.network_mut().default_local = LinkSpec::fixed(0.0)
        .with_latency(dist(Dist::log_normal_from_median_p99(200e3, 2e6)))
        .with_duplicate(0.01);
    sim.network_mut().default_remote = LinkSpec::fixed(0.0)
        .with_latency(dist(Dist::normal(20e6, 3e6)))
        .with_loss(0.02)
        .with_reorder(0.05, dist(Dist::pareto(1e6, 1.5)));
    let services = [
        dist(Dist::exponential(8e6)),
        dist(Dist::log_normal_from_median_p99(5e6, 60e6)),
        dist(Dist::pareto(2e6, 2.5)),
        dist(Dist::empirical(vec![
            (0.0, 1e6),
            (0.5, 4e6),
            (0.99, 30e6),
            (1.0, 90e6),
        ])),
        dist(Dist::mixture(vec![
            (95.0, dist(Dist::uniform(1e6, 9e6))),
            (5.0, dist(Dist::constant(200e6))),
        ])),
    ];
    let servers: Vec<_> = services
        .into_iter()
        .enumerate()
        .map(|(i, service)| {
            let zone = if i % 2 == 0 { east } else { west };
            sim.add_node(&format!("server{i}"), zone, QueueServer::new(2, service))
                .expect("unique name")
        })
        .collect();
    for i in 0..3 {
        let zone = if i == 0 { east } else { west };
        let client = OpenLoopClient::new(servers.clone(), dist(Dist::exponential(4e6)))
            .with_timeout(SimDuration::from_millis(100));
        sim.add_node(&format!("client{i}"), zone, client)
            .expect("unique name");
    }
    let east_nodes = sim.network().nodes_in_zone(east);
    let west_nodes = sim.network().nodes_in_zone(west);
    let schedule = [
        (
            ms(2_000),
            Fault::Partition(Partition::between("zones", east_nodes, west_nodes)),
        ),
        (ms(4_000), Fault::Heal("zones".into())),
        (ms(3_000), Fault::Crash(servers[1])),
        (ms(5_000), Fault::Restart(servers[1])),
    ];
    for (at, fault) in schedule {
        sim.schedule(at, fault).expect("in the future");
    }
    let report = sim.run(RunLimits::until(ms(8_000)));
    let mut h = report.fingerprint.0;
    let m = sim.metrics();
    for c in 0..3 {
        let latency = m
            .get_histogram(&format!("client{c}.latency_ns"))
            .expect("client metric");
        for q in [0.5, 0.99, 0.999] {
            h = h.rotate_left(7) ^ latency.quantile(q).unwrap_or(0);
        }
        h = h.rotate_left(7) ^ latency.mean().to_bits();
    }
    for s in &servers {
        let name = sim.node_name(*s);
        let in_system = m
            .get_gauge(&format!("{name}.in_system"))
            .expect("server metric");
        h = h.rotate_left(7) ^ in_system.time_average(sim.now()).to_bits();
    }
    h
}

/// The WebAssembly export: `reference_fingerprint` for JavaScript.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // `no_mangle` exports a symbol; no unsafe operation happens
#[unsafe(no_mangle)]
pub extern "C" fn faultline_reference_fingerprint(seed: u64) -> u64 {
    reference_fingerprint(seed)
}

/// A scenario-file reference system for what the stories alone may not
/// reach: closed-loop users with a random think time and finite work,
/// compare-and-set with decorrelated jitter, and locks with deadlock
/// detection and lock timeouts.
const CONTENTION: &str = include_str!("contention.toml");

/// The fingerprint of the contention reference system under `seed`,
/// folded with its counters (so their arithmetic is compared too).
pub fn contention_fingerprint(seed: u64) -> u64 {
    let scenario =
        sim_core::scenario::load("contention", "contention.toml", CONTENTION).expect("loads");
    let spec = scenario.resolve(None, &[]).expect("resolves");
    let mut built = sim_core::scenario::build(&spec, seed).expect("builds");
    let mut h = built.run().fingerprint.0;
    for (_, value) in built.sim.metrics().counters() {
        h = h.rotate_left(7) ^ value;
    }
    h
}

/// The WebAssembly export: `contention_fingerprint` for JavaScript.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // `no_mangle` exports a symbol; no unsafe operation happens
#[unsafe(no_mangle)]
pub extern "C" fn faultline_contention_fingerprint(seed: u64) -> u64 {
    contention_fingerprint(seed)
}

/// How many runs story number `index` (in the library's order) has: as
/// written, then each variant in file order.
pub fn story_runs(index: usize) -> usize {
    sim_core::scenario::STORIES
        .get(index)
        .and_then(|(name, text)| sim_core::scenario::load(name, name, text).ok())
        .map_or(0, |s| 1 + s.variants().count())
}

/// The fingerprint of run `run` of shipped story number `index` under
/// `seed` (run 0 is the story as written, run k its k-th variant), built
/// from its scenario file and run to its end, as `faultline run` does.
pub fn story_fingerprint(index: usize, run: usize, seed: u64) -> Option<u64> {
    let (name, text) = sim_core::scenario::STORIES.get(index)?;
    let scenario = sim_core::scenario::load(name, name, text).ok()?;
    let variant = match run {
        0 => None,
        k => Some(scenario.variants().nth(k - 1)?),
    };
    let spec = scenario.resolve(variant, &[]).ok()?;
    let mut built = sim_core::scenario::build(&spec, seed).ok()?;
    Some(built.run().fingerprint.0)
}

/// How many stories the library has.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // `no_mangle` exports a symbol; no unsafe operation happens
#[unsafe(no_mangle)]
pub extern "C" fn faultline_story_count() -> u32 {
    sim_core::scenario::STORIES.len() as u32
}

/// `story_runs` for JavaScript.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // `no_mangle` exports a symbol; no unsafe operation happens
#[unsafe(no_mangle)]
pub extern "C" fn faultline_story_runs(index: u32) -> u32 {
    story_runs(index as usize) as u32
}

/// `story_fingerprint` for JavaScript (0 if the run does not build).
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // `no_mangle` exports a symbol; no unsafe operation happens
#[unsafe(no_mangle)]
pub extern "C" fn faultline_story_fingerprint(index: u32, run: u32, seed: u64) -> u64 {
    story_fingerprint(index as usize, run as usize, seed).unwrap_or(0)
}
