//! Properties over randomly generated small systems: zones, servers,
//! clients, lossy and duplicating links, partitions and crashes. Whatever
//! the system, every request ends exactly once (a reply, a timeout) or is
//! still in flight at the end; no event happens before an earlier one; and
//! the run is reproducible.

use proptest::prelude::*;
use sim_core::models::queueing::{OpenLoopClient, QMsg, QueueServer};
use sim_core::{
    Dist, Fault, LinkSpec, MemoryTrace, NodeSet, Partition, RunLimits, SimDuration, SimTime,
    Simulation,
};

#[derive(Debug, Clone)]
struct LinkCfg {
    latency_ms: f64,
    loss: f64,
    duplicate: f64,
    reorder: f64,
}

#[derive(Debug, Clone)]
struct SystemCfg {
    seed: u64,
    zones: usize,
    servers: Vec<(usize, u32, f64)>, // zone, workers, service rate per s
    clients: Vec<(usize, f64, Option<u64>, Vec<usize>)>, // zone, rate, timeout ms, targets
    local: LinkCfg,
    remote: LinkCfg,
    partition: Option<(u64, u64, Vec<usize>)>, // start ms, length ms, servers cut off
    crash: Option<(usize, u64, u64)>,          // server, at ms, down for ms
}

fn link() -> impl Strategy<Value = LinkCfg> {
    (0.0..20.0f64, 0.0..0.3f64, 0.0..0.2f64, 0.0..0.3f64).prop_map(
        |(latency_ms, loss, duplicate, reorder)| LinkCfg {
            latency_ms,
            loss,
            duplicate,
            reorder,
        },
    )
}

fn system() -> impl Strategy<Value = SystemCfg> {
    (1usize..=3, 1usize..=4, 1usize..=3).prop_flat_map(|(zones, n_servers, n_clients)| {
        (
            any::<u64>(),
            Just(zones),
            prop::collection::vec((0..zones, 1u32..=3, 5.0..200.0f64), n_servers),
            prop::collection::vec(
                (
                    0..zones,
                    1.0..150.0f64,
                    prop::option::of(5u64..500),
                    prop::collection::vec(0..n_servers, 1..=n_servers),
                ),
                n_clients,
            ),
            link(),
            link(),
            prop::option::of((
                0u64..3000,
                1u64..3000,
                prop::collection::vec(0..n_servers, 1..=n_servers),
            )),
            prop::option::of((0..n_servers, 0u64..3000, 1u64..2000)),
        )
            .prop_map(
                |(seed, zones, servers, clients, local, remote, partition, crash)| SystemCfg {
                    seed,
                    zones,
                    servers,
                    clients,
                    local,
                    remote,
                    partition,
                    crash,
                },
            )
    })
}

fn spec(l: &LinkCfg) -> LinkSpec {
    LinkSpec::fixed(0.0)
        .with_latency(Dist::exponential(l.latency_ms.max(0.01) * 1e6).unwrap())
        .with_loss(l.loss)
        .with_duplicate(l.duplicate)
        .with_reorder(l.reorder, Dist::Constant(5e6))
}

struct Outcome {
    fingerprint: sim_core::Fingerprint,
    per_client: Vec<(u64, u64, u64, u64)>, // sent, ok, timed out, in flight
    times_in_order: bool,
}

fn run(cfg: &SystemCfg) -> Outcome {
    let mut sim = Simulation::<QMsg>::new(cfg.seed);
    sim.set_trace(Box::new(MemoryTrace::new(2_000_000)));
    sim.network_mut().default_local = spec(&cfg.local);
    sim.network_mut().default_remote = spec(&cfg.remote);
    let zones: Vec<_> = (0..cfg.zones)
        .map(|z| sim.zone(&format!("zone{z}")))
        .collect();
    let servers: Vec<_> = cfg
        .servers
        .iter()
        .enumerate()
        .map(|(i, &(z, workers, rate))| {
            sim.add_node(
                &format!("server{i}"),
                zones[z],
                QueueServer::exponential(workers, rate),
            )
            .unwrap()
        })
        .collect();
    let clients: Vec<_> = cfg
        .clients
        .iter()
        .enumerate()
        .map(|(i, (z, rate, timeout, targets))| {
            let targets = targets.iter().map(|&t| servers[t]).collect();
            let mut c = OpenLoopClient::new(targets, Dist::exponential(1e9 / rate).unwrap())
                .tracking_requests();
            if let Some(ms) = timeout {
                c = c.with_timeout(SimDuration::from_millis(*ms));
            }
            sim.add_node(&format!("client{i}"), zones[*z], c).unwrap()
        })
        .collect();
    let at = |ms: u64| SimTime::ZERO + SimDuration::from_millis(ms);
    if let Some((start, len, cut)) = &cfg.partition {
        let a: NodeSet = cut.iter().map(|&s| servers[s]).collect();
        let b: NodeSet = clients.iter().copied().collect();
        sim.schedule(at(*start), Fault::Partition(Partition::between("p", a, b)))
            .unwrap();
        sim.schedule(at(start + len), Fault::Heal("p".into()))
            .unwrap();
    }
    if let Some((s, when, down)) = cfg.crash {
        sim.schedule(at(when), Fault::Crash(servers[s])).unwrap();
        sim.schedule(at(when + down), Fault::Restart(servers[s]))
            .unwrap();
    }
    let report = sim.run(RunLimits::for_duration(SimDuration::from_secs(5)));
    let sink = sim
        .trace_sink()
        .as_any()
        .downcast_ref::<MemoryTrace>()
        .unwrap();
    let times_in_order = sink
        .records()
        .zip(sink.records().skip(1))
        .all(|(a, b)| a.time <= b.time);
    let m = sim.metrics();
    let per_client = clients
        .iter()
        .map(|&c| {
            let name = sim.node_name(c);
            let get = |k: &str| m.get_counter(&format!("{name}.{k}")).unwrap();
            let node = sim.node::<OpenLoopClient>(c).unwrap();
            (
                get("sent"),
                get("ok"),
                get("timed_out"),
                node.in_flight() as u64,
            )
        })
        .collect();
    Outcome {
        fingerprint: report.fingerprint,
        per_client,
        times_in_order,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_request_ends_exactly_once_and_time_never_goes_back(cfg in system()) {
        let out = run(&cfg);
        for (i, &(sent, ok, timed_out, in_flight)) in out.per_client.iter().enumerate() {
            prop_assert_eq!(
                sent, ok + timed_out + in_flight,
                "client{}: sent {} != ok {} + timed out {} + in flight {}",
                i, sent, ok, timed_out, in_flight
            );
        }
        prop_assert!(out.times_in_order, "an event was processed before an earlier one");
        // And the same system with the same seed replays exactly.
        prop_assert_eq!(run(&cfg).fingerprint, out.fingerprint);
    }
}
