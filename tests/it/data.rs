//! The data models against results worked out by hand.

use sim_core::checker::linearizability::{Operation, check_register};
use sim_core::models::kv::{KvStore, QuorumClient, QuorumConfig};
use sim_core::{LinkSpec, NodeId, RunLimits, SimDuration, SimTime, Simulation};

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
                think: SimDuration::from_millis(1),
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
                think: SimDuration::from_millis(1),
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
