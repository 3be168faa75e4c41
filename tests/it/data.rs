//! The data models against results worked out by hand.

use sim_core::checker::linearizability::{Operation, check_register};
use sim_core::models::kv::{KvStore, QuorumClient, QuorumConfig};
use sim_core::{Dist, LinkSpec, NodeId, RunLimits, SimTime, Simulation};

fn binomial(n: u64, k: u64) -> f64 {
    if k > n {
        return 0.0;
    }
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Writes to W random replicas of N, reads from R random ones, no repair:
/// a read misses the latest write exactly when its R replicas all lie
/// outside the write's W, which happens with probability
/// C(N - W, R) / C(N, R).
#[test]
fn quorum_reads_miss_the_latest_write_as_combinatorics_says() {
    for (n, r, w) in [(3, 1, 1), (3, 2, 1), (5, 2, 2), (5, 1, 3), (5, 3, 3)] {
        let mut sim = Simulation::new(n as u64 * 100 + r as u64 * 10 + w as u64);
        let zone = sim.zone("dc");
        sim.network_mut().default_local = LinkSpec::fixed(1e6);
        let replicas: Vec<NodeId> = (0..n)
            .map(|i| {
                sim.add_node(&format!("kv-{i}"), zone, KvStore::new())
                    .unwrap()
            })
            .collect();
        let writes = 1000;
        sim.add_node(
            "client",
            zone,
            QuorumClient::new(QuorumConfig {
                replicas,
                r,
                w,
                reads_per_write: 4,
                think: Dist::constant(1e6).unwrap(),
                max_writes: writes,
            }),
        )
        .unwrap();
        sim.run(RunLimits::until(SimTime::MAX));
        let m = sim.metrics();
        let reads = m.get_counter("client.reads").unwrap() as f64;
        let stale = m.get_counter("client.stale_reads").unwrap() as f64;
        assert_eq!(
            reads,
            4.0 * writes as f64,
            "every write is followed by 4 reads"
        );
        let expected = binomial((n - w) as u64, r as u64) / binomial(n as u64, r as u64);
        let sd = (expected * (1.0 - expected) / reads).sqrt();
        let share = stale / reads;
        assert!(
            (share - expected).abs() <= 4.0 * sd + 1e-12,
            "N={n} R={r} W={w}: {share:.4} stale, expected {expected:.4} ± {:.4}",
            4.0 * sd
        );
    }
}

/// A quorum run's recorded history and the stale reads the client counted.
fn quorum_run(n: usize, r: usize, w: usize) -> (Vec<Operation>, u64) {
    let mut sim = Simulation::new(7);
    let zone = sim.zone("dc");
    sim.network_mut().default_local = LinkSpec::fixed(1e6);
    let replicas: Vec<NodeId> = (0..n)
        .map(|i| {
            sim.add_node(&format!("kv-{i}"), zone, KvStore::new())
                .unwrap()
        })
        .collect();
    let client = sim
        .add_node(
            "client",
            zone,
            QuorumClient::new(QuorumConfig {
                replicas,
                r,
                w,
                reads_per_write: 3,
                think: Dist::constant(1e6).unwrap(),
                max_writes: 500,
            }),
        )
        .unwrap();
    sim.run(RunLimits::until(SimTime::MAX));
    let stale = sim.metrics().get_counter("client.stale_reads").unwrap();
    (
        sim.node::<QuorumClient>(client).unwrap().history().to_vec(),
        stale,
    )
}

/// The client's recorded history through the linearizability checker:
/// with R + W > N every read sees the latest write and the history is
/// linearizable; with R = W = 1 on three replicas reads go back in time.
#[test]
fn quorum_histories_through_the_linearizability_checker() {
    let (strict, _) = quorum_run(3, 2, 2);
    assert_eq!(strict.len(), 2000);
    assert!(strict.iter().all(|o| o.ret.is_some()));
    assert!(check_register(&strict, 0).linearizable);
    let (sloppy, _) = quorum_run(3, 1, 1);
    assert!(!check_register(&sloppy, 0).linearizable);
}

/// The consistency checker, run over the quorum client's recorded history,
/// finds exactly the stale reads the client counted as it went.
#[test]
fn the_checker_and_the_client_agree_on_stale_reads() {
    use sim_core::checker::consistency::{KvOp, KvOpKind, check};
    use sim_core::checker::linearizability::RegisterOp;
    for (n, r, w) in [(3, 1, 1), (5, 2, 2), (3, 2, 2)] {
        let (history, counted) = quorum_run(n, r, w);
        let ops: Vec<KvOp> = history
            .iter()
            .map(|o| KvOp {
                client: 0,
                key: 0,
                kind: match o.op {
                    RegisterOp::Write(v) => KvOpKind::Write(v),
                    RegisterOp::Read(v) => KvOpKind::Read(v),
                    RegisterOp::Cas { .. } => unreachable!("a quorum client only reads and writes"),
                },
                invoke: o.invoke,
                ret: o.ret,
            })
            .collect();
        let report = check(&ops);
        assert_eq!(report.reads, 1500);
        assert_eq!(report.stale_reads, counted, "N={n} R={r} W={w}");
        // One writer that also reads: every stale read is also a
        // read-your-writes violation.
        assert_eq!(report.read_your_writes_violations, report.stale_reads);
        if r + w > n {
            assert_eq!(report.stale_reads, 0);
        } else {
            assert!(report.stale_reads > 100, "N={n} R={r} W={w}");
            assert!(report.monotonic_read_violations > 0);
        }
    }
}

/// With V virtual nodes per shard among N shards, a shard's share of the
/// ring is a sum of V of the N V spacings of (pseudo-)random points:
/// Beta(V, NV - V), whose coefficient of variation is
/// sqrt((N - 1) / (N V + 1)). The spread shrinks as V grows, as theory says.
#[test]
fn virtual_nodes_shrink_the_load_spread_as_theory_predicts() {
    use sim_core::data::sharding::Partitioner;
    let n = 8;
    let mut last = f64::INFINITY;
    for v in [1usize, 4, 16, 64, 256] {
        let mut squares = 0.0;
        let mut count = 0.0;
        for salt in 0..40 {
            let shares = Partitioner::consistent(n, v, salt).ring_shares().unwrap();
            for s in shares {
                let rel = s * n as f64 - 1.0;
                squares += rel * rel;
                count += 1.0;
            }
        }
        let cv = (squares / count).sqrt();
        let theory = ((n as f64 - 1.0) / (n as f64 * v as f64 + 1.0)).sqrt();
        assert!(
            (cv / theory - 1.0).abs() < 0.15,
            "V={v}: spread {cv:.4}, theory {theory:.4}"
        );
        assert!(cv < last, "the spread shrinks as V grows");
        last = cv;
    }
}

/// Adding a ninth shard: hash mod N moves 8/9 of the keys (a key stays only
/// if h mod 8 = h mod 9, one residue in nine); consistent hashing moves
/// only the new shard's share, about 1/9.
#[test]
fn resharding_moves_most_keys_with_mod_n_and_few_with_a_ring() {
    use sim_core::data::sharding::{Partitioner, moved_keys};
    let keys = 100_000u64;
    let mod_n =
        moved_keys(&Partitioner::mod_n(8), &Partitioner::mod_n(9), 0..keys) as f64 / keys as f64;
    assert!((mod_n - 8.0 / 9.0).abs() < 0.01, "{mod_n}");
    let mut total = 0.0;
    for salt in 0..5 {
        let ring = Partitioner::consistent(8, 100, salt);
        total += moved_keys(&ring, &ring.grown(100, salt), 0..keys) as f64 / keys as f64;
    }
    let ring = total / 5.0;
    assert!((ring - 1.0 / 9.0).abs() < 0.03, "{ring}");
}

mod caches {
    use sim_core::checker::consistency::{ConsistencyReport, check};
    use sim_core::data::keys::KeyDist;
    use sim_core::models::cache::{Cache, CacheConfig, KvReader, KvWriter};
    use sim_core::models::kv::KvStore;
    use sim_core::scenario::Rpc;
    use sim_core::{LinkSpec, NodeId, RunLimits, SimDuration, SimTime, Simulation};

    struct World {
        sim: Simulation<Rpc>,
        reader: NodeId,
        writer: Option<NodeId>,
    }

    /// One key, read through a cache at `read_rate`; optionally written
    /// (to the database, invalidating the cache) at `write_rate`.
    fn world(
        seed: u64,
        latency_ms: f64,
        ttl_ms: u64,
        single_flight: bool,
        read_rate: f64,
        write_rate: Option<f64>,
        invalidation_loss: f64,
    ) -> World {
        let mut sim = Simulation::new(seed);
        let zone = sim.zone("dc");
        sim.network_mut().default_local = LinkSpec::fixed(latency_ms * 1e6);
        let db = sim.add_node("db", zone, KvStore::new()).unwrap();
        let cache = sim
            .add_node(
                "cache",
                zone,
                Cache::new(CacheConfig {
                    db,
                    ttl: SimDuration::from_millis(ttl_ms),
                    ttl_jitter: 0.0,
                    single_flight,
                    write_through: false,
                }),
            )
            .unwrap();
        let reader = sim
            .add_node(
                "reader",
                zone,
                KvReader::new(cache, KeyDist::uniform(1), read_rate, None),
            )
            .unwrap();
        let writer = write_rate.map(|rate| {
            sim.add_node(
                "writer",
                zone,
                KvWriter::new(db, Some(cache), KeyDist::uniform(1), rate, None),
            )
            .unwrap()
        });
        if let Some(w) = writer {
            let link = LinkSpec::fixed(latency_ms * 1e6).with_loss(invalidation_loss);
            sim.network_mut().set_node_link(w, cache, link);
        }
        sim.run(RunLimits::until(SimTime::ZERO + SimDuration::from_secs(60)));
        World {
            sim,
            reader,
            writer,
        }
    }

    fn counter(sim: &Simulation<Rpc>, name: &str) -> f64 {
        sim.metrics().get_counter(name).unwrap_or(0) as f64
    }

    fn report(w: &World) -> ConsistencyReport {
        let mut ops = w
            .sim
            .node::<KvReader>(w.reader)
            .unwrap()
            .returned()
            .to_vec();
        if let Some(writer) = w.writer {
            ops.extend_from_slice(w.sim.node::<KvWriter>(writer).unwrap().returned());
        }
        check(&ops)
    }

    /// Poisson reads at rate L of one key with a TTL of T: each miss opens
    /// a window of T in which L T reads hit on average, so the hit ratio is
    /// L T / (1 + L T): 5/6 at 100/s and 50ms.
    #[test]
    fn the_hit_ratio_of_a_ttl_cache_is_lt_over_1_plus_lt() {
        for (rate, ttl, seed) in [(100.0, 50, 1), (20.0, 100, 2)] {
            let w = world(seed, 0.01, ttl, true, rate, None, 0.0);
            let (hits, misses) = (
                counter(&w.sim, "cache.hits"),
                counter(&w.sim, "cache.misses"),
            );
            let lt = rate * ttl as f64 / 1000.0;
            let expected = lt / (1.0 + lt);
            let got = hits / (hits + misses);
            assert!(
                (got - expected).abs() < 0.02,
                "{got} vs {expected} at {rate}/s, {ttl}ms"
            );
        }
    }

    /// Single flight: while a miss is being filled (10ms), every other
    /// read of that key waits for it instead of going to the database.
    #[test]
    fn single_flight_sends_one_database_read_per_fill() {
        let plain = world(3, 5.0, 20, false, 2000.0, None, 0.0);
        let flight = world(3, 5.0, 20, true, 2000.0, None, 0.0);
        let (p, f) = (
            counter(&plain.sim, "cache.db_reads"),
            counter(&flight.sim, "cache.db_reads"),
        );
        assert!(
            f * 10.0 < p,
            "{f} database reads with single flight, {p} without"
        );
        assert!(counter(&flight.sim, "cache.coalesced") > 0.0);
        assert_eq!(
            f,
            counter(&flight.sim, "cache.misses") - counter(&flight.sim, "cache.coalesced")
        );
    }

    /// Without invalidations a cached value can be as old as the TTL, and
    /// no older; with them, reads are stale only in the moment between a
    /// write and its invalidation arriving; when invalidations are lost,
    /// staleness is back to the TTL's bound.
    #[test]
    fn ttl_bounds_staleness_and_invalidations_remove_most_of_it() {
        let ttl = 200;
        let lost = world(4, 1.0, ttl, true, 200.0, Some(5.0), 1.0);
        let r = report(&lost);
        assert!(r.stale_reads > 1000, "{r:?}");
        let worst = *r.stale_ages.iter().max().unwrap() as f64 / 1e6;
        assert!(worst <= ttl as f64 + 5.0, "stale for {worst}ms");
        let kept = world(4, 1.0, ttl, true, 200.0, Some(5.0), 0.0);
        let k = report(&kept);
        assert!(
            k.stale_reads * 20 < r.stale_reads,
            "{} vs {}",
            k.stale_reads,
            r.stale_reads
        );
        let worst = k.stale_ages.iter().max().copied().unwrap_or(0) as f64 / 1e6;
        assert!(
            worst < 10.0,
            "with invalidations, stale for at most {worst}ms"
        );
        assert!(counter(&kept.sim, "cache.invalidations") > 250.0);
    }
}

/// The quorum client as a node kind in a scenario file: built from its
/// declaration, it misses the latest write as often as the combinatorics
/// says (N = 5, R = W = 2: C(3, 2) / C(5, 2) = 30%), and its report block
/// says so.
#[test]
fn a_quorum_client_from_a_scenario_file_misses_as_combinatorics_says() {
    use sim_core::scenario::kinds;
    let text = r#"
title = "Quorums by the client"
summary = "R = W = 2 of 5"
[run]
duration = "20s"
seed = 3
[network]
latency = "1ms"
[[node]]
name = "kv"
kind = "kv"
replicas = 5
[[node]]
name = "client"
kind = "quorum_client"
target = "kv"
quorum = { r = 2, w = 2 }
reads_per_write = 4
writes = 800
"#;
    let scenario = sim_core::scenario::load("quorums", "quorums.toml", text).unwrap();
    let mut built = sim_core::scenario::build(&scenario.spec, 3).unwrap();
    built.run();
    let m = built.sim.metrics();
    let reads = m.get_counter("client.reads").unwrap() as f64;
    let stale = m.get_counter("client.stale_reads").unwrap() as f64;
    assert_eq!(reads, 3200.0);
    let expected = binomial(3, 2) / binomial(5, 2);
    let sd = (expected * (1.0 - expected) / reads).sqrt();
    assert!(
        (stale / reads - expected).abs() <= 4.0 * sd,
        "{:.4} stale, expected {expected:.4}",
        stale / reads
    );
    let report = kinds::Report {
        metrics: m,
        faults: &built.faults,
        end: built.sim.now(),
    };
    let client = &scenario.spec.nodes[1];
    // No story has a quorum client: what it records is checked here
    // against what its kind declares.
    let recorders = kinds::metrics::recorders(&scenario.spec);
    for (name, _) in m.counters() {
        let counter = kinds::metrics::Shape::Counter;
        assert!(
            kinds::metrics::declares(&recorders, name, counter),
            "{name}"
        );
    }
    for (name, _) in m.histograms() {
        let histogram = kinds::metrics::Shape::Histogram;
        assert!(
            kinds::metrics::declares(&recorders, name, histogram),
            "{name}"
        );
    }
    let rows = (kinds::of(*client.kind.get_ref()).report)(&report, client, "client");
    assert_eq!(rows[0], ("writes".to_string(), "800".to_string()));
    assert!(
        rows[2].1.starts_with(&format!("{} (", stale as u64)),
        "{rows:?}"
    );
}

/// A cache story's readers keep what is in flight, not what they have
/// read: run four times as long, the largest memory estimate taken while
/// the run goes stays about the same (it grew threefold when every read
/// was kept to the end).
#[test]
fn a_readers_memory_follows_what_is_in_flight_not_the_runs_length() {
    let (_, text) = sim_core::scenario::STORIES
        .iter()
        .find(|(n, _)| *n == "thundering-herd")
        .unwrap();
    let scenario = sim_core::scenario::load("thundering-herd", "t.toml", text).unwrap();
    let peak = |seconds: u64| {
        let set = [(
            "run.duration".to_string(),
            toml::Value::String(format!("{seconds}s")),
        )];
        let spec = scenario.resolve(None, &set).unwrap();
        let mut built = sim_core::scenario::build(&spec, 1).unwrap();
        let end = built.limits.until;
        let mut peak = 0;
        for k in 1..=20u64 {
            let until = sim_core::SimTime::from_nanos(end.as_nanos() / 20 * k);
            built.sim.run(sim_core::RunLimits {
                until,
                ..built.limits
            });
            built.drain();
            peak = peak.max(built.sim.memory_estimate());
        }
        peak
    };
    let (short, long) = (peak(20), peak(80));
    assert!(
        (long as f64) < 1.5 * short as f64,
        "peak estimate {short} bytes over 20s, {long} over 80s"
    );
}
