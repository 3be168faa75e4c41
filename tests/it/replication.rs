//! Replication: leader/follower and quorums, failover, partitions, clock
//! skew, checked against what can be worked out by hand.

use sim_core::data::keys::KeyDist;
use sim_core::models::replication::{
    GroupReport, Mode, ReadFrom, Replica, ReplicaConfig, Session, SessionConfig, analyse,
    lost_writes,
};
use sim_core::{Fault, LinkSpec, NodeId, RunLimits, SimDuration, SimTime, Simulation};
use sim_core::{NodeSet, Partition};
use std::collections::BTreeSet;

/// A group of replicas (the first `east` in zone east, the rest in west)
/// and a session per zone.
struct Setup {
    mode: Mode,
    n: usize,
    east: usize,
    siblings: bool,
    skew_ns: Vec<i64>,
    anti_entropy: Option<SimDuration>,
    latency_ms: f64,
    /// Between replicas, if not `latency_ms`.
    peer_latency_ms: Option<f64>,
    loss: f64,
    rate: f64,
    keys: u64,
    read_share: f64,
    read_from: ReadFrom,
    read_your_writes: bool,
}

impl Setup {
    fn new(mode: Mode) -> Self {
        Setup {
            mode,
            n: 3,
            east: 3,
            siblings: false,
            skew_ns: vec![],
            anti_entropy: None,
            latency_ms: 1.0,
            peer_latency_ms: None,
            loss: 0.0,
            rate: 50.0,
            keys: 10,
            read_share: 0.5,
            read_from: ReadFrom::Leader,
            read_your_writes: false,
        }
    }

    fn build(
        &self,
        seed: u64,
    ) -> (
        Simulation<sim_core::scenario::Rpc>,
        Vec<NodeId>,
        Vec<NodeId>,
    ) {
        let mut sim = Simulation::new(seed);
        let east = sim.zone("east");
        let west = sim.zone("west");
        let mut link = LinkSpec::fixed(self.latency_ms * 1e6);
        link.loss = self.loss;
        sim.network_mut().default_local = link.clone();
        sim.network_mut().default_remote = link;
        let replicas: Vec<NodeId> = (0..self.n).map(NodeId::from_index).collect();
        for i in 0..self.n {
            let mut cfg = ReplicaConfig::new("db", replicas.clone(), i, self.mode);
            cfg.siblings = self.siblings;
            cfg.skew_ns = self.skew_ns.get(i).copied().unwrap_or(0);
            cfg.anti_entropy = self.anti_entropy;
            let zone = if i < self.east { east } else { west };
            let id = sim
                .add_node(&format!("db-{i}"), zone, Replica::new(cfg))
                .unwrap();
            assert_eq!(id, replicas[i]);
        }
        if let Some(ms) = self.peer_latency_ms {
            let mut link = LinkSpec::fixed(ms * 1e6);
            link.loss = self.loss;
            for &a in &replicas {
                for &b in &replicas {
                    sim.network_mut().set_node_link(a, b, link.clone());
                }
            }
        }
        let mut sessions = Vec::new();
        for (name, zone, local) in [("east", east, 0), ("west", west, self.n - 1)] {
            let s = Session::new(SessionConfig {
                group: "db".into(),
                replicas: replicas.clone(),
                local,
                leader_mode: matches!(self.mode, Mode::Leader { .. }),
                keys: KeyDist::uniform(self.keys),
                rate_per_s: self.rate,
                read_share: self.read_share,
                read_from: self.read_from,
                read_your_writes: self.read_your_writes,
                timeout: SimDuration::from_millis(500),
                rate_changes: vec![],
            });
            sessions.push(sim.add_node(name, zone, s).unwrap());
        }
        (sim, replicas, sessions)
    }
}

fn report(
    sim: &Simulation<sim_core::scenario::Rpc>,
    replicas: &[NodeId],
    sessions: &[NodeId],
) -> GroupReport {
    let r: Vec<&Replica> = replicas.iter().map(|&id| sim.node(id).unwrap()).collect();
    let s: Vec<&Session> = sessions.iter().map(|&id| sim.node(id).unwrap()).collect();
    analyse(&r, &s, 1_000_000, 0)
}

fn counter(sim: &Simulation<sim_core::scenario::Rpc>, name: &str) -> u64 {
    sim.metrics().get_counter(name).unwrap_or(0)
}

fn zones(sim: &Simulation<sim_core::scenario::Rpc>) -> (NodeSet, NodeSet) {
    let net = sim.network();
    let zone = |name: &str| {
        let z = net.zone_ids().find(|&z| net.zone_name(z) == name).unwrap();
        net.nodes_in_zone(z)
    };
    (zone("east"), zone("west"))
}

#[test]
fn leader_reads_are_linearizable_and_every_follower_copy_lags_by_the_link() {
    let setup = Setup::new(Mode::Leader { sync: 0 });
    let (mut sim, replicas, sessions) = setup.build(1);
    sim.run(RunLimits::until(SimTime::ZERO + SimDuration::from_secs(20)));
    let r = report(&sim, &replicas, &sessions);
    assert_eq!(r.lost_writes, 0);
    assert_eq!(r.nonlinearizable_keys, 0, "{r:?}");
    assert_eq!(r.undecided_keys, 0);
    assert!(
        r.sessions
            .iter()
            .all(|s| s.stale_reads == 0 && s.reads > 300)
    );
    assert_eq!(counter(&sim, "db.failovers"), 0);
    // With a fixed 1ms link, every copy arrives exactly 1ms after its write.
    let lag = sim
        .metrics()
        .get_histogram("db.replication_lag_ns")
        .unwrap();
    assert!(lag.count() > 500);
    let (lo, hi) = (lag.quantile(0.0).unwrap(), lag.quantile(1.0).unwrap());
    assert!(
        (990_000..=1_010_000).contains(&lo) && (990_000..=1_010_000).contains(&hi),
        "lag from {lo} to {hi} ns"
    );
}

#[test]
fn follower_reads_are_stale_while_replication_is_in_flight() {
    let mut setup = Setup::new(Mode::Leader { sync: 0 });
    setup.read_from = ReadFrom::Random;
    setup.peer_latency_ms = Some(20.0);
    let (mut sim, replicas, sessions) = setup.build(2);
    sim.run(RunLimits::until(SimTime::ZERO + SimDuration::from_secs(20)));
    let r = report(&sim, &replicas, &sessions);
    let stale: u64 = r.sessions.iter().map(|s| s.stale_reads).sum();
    assert!(stale > 0, "{r:?}");
    assert!(r.nonlinearizable_keys > 0);
    // No copy is lost, so stale reads are never older than the lag.
    let oldest = r
        .sessions
        .iter()
        .filter_map(|s| s.stale_ages.max())
        .max()
        .unwrap();
    assert!(oldest <= 40_000_000, "a stale read {oldest} ns old");
    // Reading your own writes from the leader removes those violations.
    let ryw = |read_your_writes: bool| {
        let mut setup = Setup::new(Mode::Leader { sync: 0 });
        setup.read_from = ReadFrom::Random;
        setup.peer_latency_ms = Some(20.0);
        setup.keys = 3;
        setup.read_your_writes = read_your_writes;
        let (mut sim, replicas, sessions) = setup.build(3);
        sim.run(RunLimits::until(SimTime::ZERO + SimDuration::from_secs(20)));
        let r = report(&sim, &replicas, &sessions);
        r.sessions
            .iter()
            .map(|s| s.read_your_writes_violations)
            .sum::<u64>()
    };
    assert!(ryw(false) > 10);
    assert_eq!(ryw(true), 0);
}

/// The leader crashes: a follower takes over within about the failover
/// time, writes go on, and the old leader comes back as a follower that
/// takes the new leader's snapshot.
#[test]
fn a_crashed_leader_is_replaced_and_rejoins_as_a_follower() {
    let mut setup = Setup::new(Mode::Leader { sync: 1 });
    setup.peer_latency_ms = Some(20.0);
    setup.rate = 100.0;
    let (mut sim, replicas, sessions) = setup.build(4);
    let s = |x: u64| SimTime::ZERO + SimDuration::from_secs(x);
    sim.schedule(s(5), Fault::Crash(replicas[0])).unwrap();
    sim.schedule(s(10), Fault::Restart(replicas[0])).unwrap();
    sim.run(RunLimits::until(s(20)));
    let leaders: Vec<bool> = replicas
        .iter()
        .map(|&id| sim.node::<Replica>(id).unwrap().is_leader())
        .collect();
    assert_eq!(counter(&sim, "db.failovers"), 1);
    assert_eq!(leaders, [false, true, false], "the newest follower leads");
    assert!(counter(&sim, "db.resyncs") >= 1);
    let r = report(&sim, &replicas, &sessions);
    assert_eq!(r.lost_writes, 0, "{r:?}");
    // Failed requests: about the failover time (1s to notice, then
    // redirects) of 20s.
    let (ok, requests) = (counter(&sim, "db.ok"), counter(&sim, "db.requests"));
    let failed = 1.0 - ok as f64 / requests as f64;
    assert!((0.02..0.12).contains(&failed), "{failed:.3} failed");
}

/// The leader is cut off from both followers for 5s. Until it notices it
/// has no majority (1s), it keeps accepting writes; the followers elect a
/// new leader, and at heal the old one takes its snapshot. With
/// asynchronous replication the writes it acknowledged alone are lost;
/// waiting for one follower fails them instead.
#[test]
fn a_cut_off_leader_loses_acknowledged_writes_only_when_asynchronous() {
    let run = |sync: usize| {
        let mut setup = Setup::new(Mode::Leader { sync });
        setup.east = 1;
        setup.rate = 100.0;
        let (mut sim, replicas, sessions) = setup.build(4);
        let (east, west) = zones(&sim);
        let s = |x: u64| SimTime::ZERO + SimDuration::from_secs(x);
        sim.schedule(
            s(5),
            Fault::Partition(Partition::between("split", east, west)),
        )
        .unwrap();
        sim.schedule(s(10), Fault::Heal("split".into())).unwrap();
        sim.run(RunLimits::until(s(20)));
        let r = report(&sim, &replicas, &sessions);
        (
            r,
            counter(&sim, "db.failovers"),
            counter(&sim, "db.step_downs"),
        )
    };
    let (asynchronous, failovers, step_downs) = run(0);
    assert_eq!(failovers, 1);
    assert!(step_downs >= 1);
    // The east session writes 50/s; about a second of them, less reads.
    assert!(
        (10..60).contains(&asynchronous.lost_writes),
        "{asynchronous:?}"
    );
    let (synchronous, failovers, _) = run(1);
    assert_eq!(failovers, 1);
    assert_eq!(synchronous.lost_writes, 0, "{synchronous:?}");
}

#[test]
fn quorums_that_overlap_never_read_stale_and_ones_that_do_not_do() {
    let stale = |r: usize, w: usize| {
        let mut setup = Setup::new(Mode::Quorum {
            r,
            w,
            read_repair: false,
        });
        setup.peer_latency_ms = Some(20.0);
        setup.read_from = ReadFrom::Local;
        let (mut sim, replicas, sessions) = setup.build(5);
        sim.run(RunLimits::until(SimTime::ZERO + SimDuration::from_secs(20)));
        let rep = report(&sim, &replicas, &sessions);
        rep.sessions.iter().map(|s| s.stale_reads).sum::<u64>()
    };
    assert_eq!(stale(2, 2), 0);
    assert_eq!(stale(3, 1), 0);
    assert!(stale(1, 1) > 10);
}

/// A partition cuts one replica (and one session) off from the other two
/// for 10s. A leader that waits for one follower (CP) keeps serving the
/// majority side and fails the minority's requests; quorums of one (AP)
/// accept everything, read stale values, and at heal last-writer-wins
/// discards one side's writes to keys both sides wrote, where version
/// vectors keep both as siblings instead.
#[test]
fn cap_under_a_partition() {
    let run = |mode: Mode, siblings: bool| {
        let mut setup = Setup::new(mode);
        setup.east = 2;
        setup.siblings = siblings;
        setup.read_from = match mode {
            Mode::Leader { .. } => ReadFrom::Leader,
            Mode::Quorum { .. } => ReadFrom::Local,
        };
        setup.anti_entropy = Some(SimDuration::from_secs(1));
        let (mut sim, replicas, sessions) = setup.build(6);
        let (east, west) = zones(&sim);
        let s = |x: u64| SimTime::ZERO + SimDuration::from_secs(x);
        sim.schedule(
            s(5),
            Fault::Partition(Partition::between("split", east, west)),
        )
        .unwrap();
        sim.schedule(s(15), Fault::Heal("split".into())).unwrap();
        sim.run(RunLimits::until(s(25)));
        let rep = report(&sim, &replicas, &sessions);
        let conflicts = counter(&sim, "east.conflicts") + counter(&sim, "west.conflicts");
        let availability = |who: &str| {
            counter(&sim, &format!("{who}.ok")) as f64
                / counter(&sim, &format!("{who}.requests")) as f64
        };
        (rep, availability("east"), availability("west"), conflicts)
    };
    let (cp, east, west, _) = run(Mode::Leader { sync: 1 }, false);
    assert!(east > 0.99, "the majority side stays available: {east}");
    assert!(
        (0.5..0.7).contains(&west),
        "the minority side fails for 10s of 25: {west}"
    );
    assert_eq!(cp.lost_writes, 0, "{cp:?}");
    assert_eq!(cp.sessions.iter().map(|s| s.stale_reads).sum::<u64>(), 0);
    assert_eq!(cp.nonlinearizable_keys, 0);

    let quorum = Mode::Quorum {
        r: 1,
        w: 1,
        read_repair: true,
    };
    let (ap, east, west, _) = run(quorum, false);
    assert!(east > 0.99 && west > 0.99, "{east} {west}");
    assert!(
        ap.sessions.iter().map(|s| s.stale_reads).sum::<u64>() > 50,
        "{ap:?}"
    );
    assert!(ap.lost_writes > 10, "{ap:?}");
    assert!(ap.nonlinearizable_keys > 0);
    assert_eq!(
        ap.divergent_keys, 0,
        "anti-entropy reconciles after the heal"
    );

    let (vv, _, _, conflicts) = run(quorum, true);
    assert_eq!(vv.lost_writes, 0, "{vv:?}");
    assert!(conflicts > 0);
}

/// Last-writer-wins with one coordinator's clock 1s behind: its write
/// loses to any write the other made in the second before it (stamped
/// later though it happened earlier), which with the other writing at
/// rate λ happens with probability 1 - exp(-λ x 1s).
#[test]
fn a_clock_behind_loses_writes_as_the_poisson_law_says() {
    let mut setup = Setup::new(Mode::Quorum {
        r: 1,
        w: 1,
        read_repair: false,
    });
    setup.east = 1;
    setup.n = 2;
    setup.keys = 1;
    setup.rate = 1.0;
    setup.read_share = 0.0;
    setup.latency_ms = 0.1;
    setup.skew_ns = vec![0, -1_000_000_000];
    let (mut sim, replicas, sessions) = setup.build(7);
    sim.run(RunLimits::until(
        SimTime::ZERO + SimDuration::from_secs(600),
    ));
    let west: &Session = sim.node(sessions[1]).unwrap();
    let acked: BTreeSet<u64> = west
        .history()
        .iter()
        .filter(|op| op.ret.is_some())
        .map(|op| op.id)
        .collect();
    let r: Vec<&Replica> = replicas.iter().map(|&id| sim.node(id).unwrap()).collect();
    let held: BTreeSet<u64> = r
        .iter()
        .flat_map(|r| r.data().values().flatten().map(|i| i.id))
        .collect();
    let logs: Vec<&[(u64, Vec<u64>)]> = r.iter().map(|r| r.write_log()).collect();
    let lost = lost_writes(&acked, &logs, &held).len() as f64;
    let n = acked.len() as f64;
    let expected = 1.0 - (-1.0f64).exp();
    let sd = (expected * (1.0 - expected) / n).sqrt();
    assert!(n > 450.0);
    assert!(
        (lost / n - expected).abs() < 4.0 * sd,
        "{lost} of {n} lost: {:.3}, expected {expected:.3} ± {:.3}",
        lost / n,
        4.0 * sd
    );
    // With the clocks agreeing, (almost) nothing is lost.
    let mut fair = setup;
    fair.skew_ns = vec![0, 0];
    let (mut sim, replicas, sessions) = fair.build(7);
    sim.run(RunLimits::until(
        SimTime::ZERO + SimDuration::from_secs(600),
    ));
    let rep = report(&sim, &replicas, &sessions);
    assert!(rep.lost_writes <= 2, "{rep:?}");
}

/// Lossy replication without repair leaves followers behind for good;
/// anti-entropy brings them back.
#[test]
fn anti_entropy_ends_drift_that_lost_replication_leaves() {
    let divergent = |anti_entropy: Option<SimDuration>| {
        let mut setup = Setup::new(Mode::Leader { sync: 0 });
        setup.loss = 0.1;
        setup.keys = 200;
        setup.read_share = 0.0;
        setup.anti_entropy = anti_entropy;
        let (mut sim, replicas, sessions) = setup.build(8);
        sim.run(RunLimits::until(SimTime::ZERO + SimDuration::from_secs(30)));
        report(&sim, &replicas, &sessions).divergent_keys
    };
    let without = divergent(None);
    let with = divergent(Some(SimDuration::from_millis(500)));
    // The last write to a key misses a follower with probability
    // 1 - 0.9^2 = 0.19: about 38 of 200 keys.
    assert!(without > 20, "{without} keys divergent without repair");
    assert!(
        with * 4 < without,
        "{with} keys divergent with anti-entropy"
    );
}

/// Quorum writes that miss a replica (lossy links) leave it behind until
/// something repairs it: reads that ask every replica and send the newest
/// value back (read repair) do.
#[test]
fn read_repair_mends_replicas_that_reads_find_behind() {
    let divergent = |read_repair: bool| {
        let mut setup = Setup::new(Mode::Quorum {
            r: 3,
            w: 1,
            read_repair,
        });
        setup.loss = 0.1;
        setup.keys = 50;
        setup.read_share = 0.8;
        setup.read_from = ReadFrom::Local;
        let (mut sim, replicas, sessions) = setup.build(9);
        sim.run(RunLimits::until(SimTime::ZERO + SimDuration::from_secs(20)));
        let repairs = counter(&sim, "db.read_repairs");
        (report(&sim, &replicas, &sessions).divergent_keys, repairs)
    };
    let (without, none) = divergent(false);
    let (with, repairs) = divergent(true);
    assert_eq!(none, 0);
    assert!(repairs > 50, "{repairs} read repairs");
    assert!(
        without >= 10,
        "{without} keys divergent without read repair"
    );
    assert!(
        with * 3 < without,
        "{with} divergent with read repair, {without} without"
    );
}
