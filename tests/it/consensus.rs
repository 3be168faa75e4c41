//! Consensus (issue 15, item 1): the Raft group kind against what Raft
//! promises and what theory predicts. Elections: with timeouts uniform in
//! [T, 2T] and a fixed latency d, three members split their first vote
//! exactly when all three time out within d of the first, and otherwise
//! elect the first in T + E[min] + 2d. Safety: under crashes, restarts,
//! partitions and pauses, one leader per term, one entry per committed
//! index, no acknowledged write lost, every key linearizable, for every
//! safe way of reading; and the checkers find the breakage of the unsafe
//! ones (a vote forgotten in a crash, a lease on a slow clock).

use sim_core::models::raft::RaftNode;
use sim_core::scenario::{Built, build, cut_short, load};

fn run(text: &str, seed: u64, variant: Option<&str>) -> Built {
    let s = load("t", "t.toml", text).unwrap_or_else(|d| panic!("{d}"));
    let spec = s.resolve(variant, &[]).unwrap();
    let mut b = build(&spec, seed).unwrap();
    let report = b.run();
    assert!(cut_short(&report).is_none());
    b
}

fn counter(b: &Built, name: &str) -> u64 {
    b.sim.metrics().get_counter(name).unwrap_or(0)
}

/// Three members and nothing else, 30 ms apart, T = 100 ms.
const ELECTION: &str = r#"
title = "t"
summary = "s"
[run]
duration = "1s"
[network]
latency = "30ms"
[[node]]
name = "kv"
kind = "raft"
replicas = 3
election_timeout = "100ms"
heartbeat = "20ms"
"#;

/// The first election of three members, over 1,500 seeds: the share
/// that split the vote, against P(range of three uniforms < r) = 3r² -
/// 2r³ with r = d/T; and the time to a leader when none split, against
/// T + T·E[min | range > r] + 2d, where for three uniforms on [0, 1] the
/// density of (min, range) is 6·range, so E[min | range > r] =
/// 3·∫_r^1 s(1-s)² ds / P(range > r).
#[test]
fn the_first_election_splits_and_takes_as_long_as_the_timeouts_predict() {
    let (t, d) = (100.0, 30.0);
    let r: f64 = d / t;
    let p_split = 3.0 * r * r - 2.0 * r * r * r;
    let f = |s: f64| s * s / 2.0 - 2.0 * s.powi(3) / 3.0 + s.powi(4) / 4.0;
    let min_given_no_split = 3.0 * (f(1.0) - f(r)) / (1.0 - p_split);
    let expected_ms = t + t * min_given_no_split + 2.0 * d;
    let seeds = 1500;
    let (mut split, mut times) = (0u64, Vec::new());
    for seed in 1..=seeds {
        let b = run(ELECTION, seed, None);
        assert_eq!(counter(&b, "kv.two_leader_terms"), 0);
        if counter(&b, "kv.terms") > 1 {
            split += 1;
        } else {
            times.push(counter(&b, "kv.leaderless_ms") as f64);
        }
    }
    let share = split as f64 / seeds as f64;
    let se = (p_split * (1.0 - p_split) / seeds as f64).sqrt();
    assert!(
        (share - p_split).abs() < 4.0 * se,
        "{share:.3} of first votes split; theory says {p_split:.3}"
    );
    // The milliseconds are whole: on average half a millisecond short.
    let mean = times.iter().sum::<f64>() / times.len() as f64 + 0.5;
    assert!(
        (mean - expected_ms).abs() < 2.5,
        "a leader after {mean:.1}ms on average; theory says {expected_ms:.1}ms"
    );
}

/// With no randomness in the timeouts, every member stands at once in
/// every term and votes for itself: no leader, ever.
#[test]
fn timeouts_without_jitter_split_every_vote() {
    let text = format!("{ELECTION}election_jitter = \"0%\"\n");
    let b = run(&text, 1, None);
    assert_eq!(counter(&b, "kv.leaders"), 0);
    assert!(
        counter(&b, "kv.elections") >= 3 * 8,
        "{}",
        counter(&b, "kv.elections")
    );
    assert_eq!(counter(&b, "kv.leaderless_ms"), 1000);
}

/// Two sessions on a five-member group through crashes (a minority, and
/// two at once), partitions (2/3, and three ways) and pauses.
fn churn(reads: &str, pre_vote: bool) -> String {
    let mut s = format!(
        r#"
title = "t"
summary = "s"
[run]
duration = "30s"
[network]
latency = {{ dist = "exponential", mean = "2ms" }}
zone_latency = {{ dist = "exponential", mean = "3ms" }}
[[node]]
name = "a"
kind = "session"
target = "kv"
rate = "80/s"
keys = {{ dist = "zipf", n = 10, s = 1.0 }}
timeout = "300ms"
[[node]]
name = "b"
kind = "session"
target = "kv"
rate = "80/s"
keys = {{ dist = "zipf", n = 10, s = 1.0 }}
timeout = "300ms"
[[node]]
name = "kv"
kind = "raft"
replicas = 5
election_timeout = "100ms"
heartbeat = "20ms"
reads = "{reads}"
pre_vote = {pre_vote}
zones = ["z0", "z1", "z2", "z3", "z4"]
"#
    );
    let faults = [
        ("4s", "crash = \"kv-0\""),
        ("5s", "crash = \"kv-1\""),
        ("6s", "restart = \"kv-0\""),
        ("6.5s", "restart = \"kv-1\""),
        (
            "8s",
            "partition = [[\"z0\", \"z1\"], [\"z2\", \"z3\", \"z4\"]]\nname = \"p1\"",
        ),
        ("12s", "heal = \"p1\""),
        (
            "14s",
            "partition = [[\"z0\", \"z1\", \"z2\"], [\"z3\", \"z4\"]]\nname = \"p2\"",
        ),
        ("17s", "heal = \"p2\""),
        ("18s", "pause = \"kv-2\"\nlasting = \"1s\""),
        ("20s", "pause = \"kv-3\"\nlasting = \"1s\""),
        ("22s", "crash = \"kv-2\""),
        ("22.05s", "crash = \"kv-3\""),
        ("23s", "restart = \"kv-2\""),
        ("23s", "restart = \"kv-3\""),
        (
            "25s",
            "partition = [[\"z0\"], [\"z1\", \"z2\"], [\"z3\", \"z4\"]]\nname = \"p3\"",
        ),
        ("27s", "heal = \"p3\""),
    ];
    for (at, what) in faults {
        s.push_str(&format!("[[fault]]\nat = \"{at}\"\n{what}\n"));
    }
    s
}

/// Through all of it, whichever safe way the leader reads: one leader per
/// term, one entry per index, nothing acknowledged lost, every key
/// linearizable; and the group works (most requests succeed, leaders
/// come and go). With pre-vote too.
#[test]
fn consensus_stays_safe_through_crashes_partitions_and_pauses() {
    let ways = [
        ("read_index", false),
        ("log", false),
        ("lease", false),
        ("read_index", true),
    ];
    for (reads, pre_vote) in ways {
        let text = churn(reads, pre_vote);
        for seed in 1..=6 {
            let b = run(&text, seed, None);
            let c = |what: &str| counter(&b, &format!("kv.{what}"));
            let at = format!("{reads}, pre-vote {pre_vote}, seed {seed}");
            assert_eq!(c("two_leader_terms"), 0, "{at}");
            assert_eq!(c("conflicting_commits"), 0, "{at}");
            assert_eq!(c("lost_updates"), 0, "{at}");
            assert_eq!(c("nonlinearizable_keys"), 0, "{at}");
            assert_eq!(c("undecided_keys"), 0, "{at}");
            assert!(c("leaders") >= 2, "{at}");
            assert!(
                c("ok") * 10 > c("requests") * 8,
                "{at}: {} of {}",
                c("ok"),
                c("requests")
            );
            let commit = b
                .sim
                .metrics()
                .get_histogram("kv.commit_latency_ns")
                .unwrap();
            assert!(commit.count() > 1000, "{at}");
        }
    }
}

/// A member that forgets its vote in a crash (`fsync = false`) can vote
/// twice in one term: with crashes every 45 ms amid elections, some seed
/// elects two leaders in one term, and entries committed differently at
/// one index; with the vote on disk, no seed does.
#[test]
fn a_vote_forgotten_in_a_crash_elects_two_leaders_in_one_term() {
    let mut text = String::from(
        r#"
title = "t"
summary = "s"
[run]
duration = "3s"
[network]
latency = { dist = "exponential", mean = "10ms" }
[[node]]
name = "kv"
kind = "raft"
replicas = 3
election_timeout = "30ms"
election_jitter = "30%"
heartbeat = "10ms"
fsync = false
[variants.fsync]
set = { "node.kv.fsync" = true }
"#,
    );
    for i in 0..60 {
        let (at, m) = (20 + i * 45, i % 3);
        text.push_str(&format!(
            "[[fault]]\nat = \"{at}ms\"\ncrash = \"kv-{m}\"\n[[fault]]\nat = \"{}ms\"\nrestart = \"kv-{m}\"\n",
            at + 3
        ));
    }
    let (mut split, mut conflicting) = (0, 0);
    for seed in 1..=40 {
        let broken = run(&text, seed, None);
        split += counter(&broken, "kv.two_leader_terms");
        conflicting += counter(&broken, "kv.conflicting_commits");
        let kept = run(&text, seed, Some("fsync"));
        assert_eq!(counter(&kept, "kv.two_leader_terms"), 0, "seed {seed}");
        assert_eq!(counter(&kept, "kv.conflicting_commits"), 0, "seed {seed}");
        assert!(counter(&kept, "kv.leaders") > 10);
    }
    assert!(
        split > 0 && conflicting > 0,
        "{split} split terms, {conflicting} conflicts"
    );
}

/// A leader whose clock runs at a third of the true rate, cut off with
/// one session: by read index it cannot confirm it leads and answers
/// nothing stale; by lease it answers from a lease that, by its slow
/// clock, has not run out, while the majority has elected a new leader
/// and moved on: reads the checker finds not linearizable. Every seed.
#[test]
fn a_lease_on_a_slow_clock_serves_stale_reads_and_a_read_index_does_not() {
    let text = r#"
title = "t"
summary = "s"
[run]
duration = "12s"
[network]
latency = "1ms"
zone_latency = "2ms"
[[node]]
name = "near"
kind = "session"
zone = "z0"
target = "kv"
rate = "100/s"
keys = { dist = "uniform", n = 3 }
timeout = "2s"
[[node]]
name = "far"
kind = "session"
zone = "z1"
target = "kv"
rate = "100/s"
keys = { dist = "uniform", n = 3 }
timeout = "300ms"
[[node]]
name = "kv"
kind = "raft"
replicas = 3
zones = ["z0", "z1", "z1"]
bootstrap = true
election_timeout = "300ms"
reads = "lease"
[variants.read-index]
set = { "node.kv.reads" = "read_index" }
[[fault]]
at = "3s"
clock = "kv-0"
drift = "-66%"
[[fault]]
at = "5s"
partition = [["z0"], ["z1"]]
name = "cut"
[[fault]]
at = "8s"
heal = "cut"
"#;
    for seed in 1..=5 {
        let lease = run(text, seed, None);
        assert!(counter(&lease, "kv.lease_reads") > 0);
        assert!(
            counter(&lease, "kv.nonlinearizable_keys") > 0,
            "seed {seed}: the lease held no stale read"
        );
        let index = run(text, seed, Some("read-index"));
        assert_eq!(counter(&index, "kv.nonlinearizable_keys"), 0, "seed {seed}");
        assert_eq!(counter(&index, "kv.two_leader_terms"), 0);
    }
}

/// One member of three cut off alone for ten seconds. Without pre-vote
/// it stands again and again: its term climbs, and when it is back the
/// leader hears of that term and steps down, so a second leader is
/// elected. With pre-vote the others, hearing their leader, never say
/// they would vote for it: its term stays, and the first leader leads
/// on. Every seed; and the lagging member catches up in both.
#[test]
fn pre_vote_keeps_a_cut_off_member_from_deposing_the_leader() {
    let text = r#"
title = "t"
summary = "s"
[run]
duration = "15s"
[network]
latency = "1ms"
zone_latency = "5ms"
[[node]]
name = "users"
kind = "session"
zone = "z0"
target = "kv"
rate = "50/s"
keys = { dist = "uniform", n = 10 }
timeout = "300ms"
[[node]]
name = "kv"
kind = "raft"
replicas = 3
zones = ["z0", "z1", "z2"]
bootstrap = true
[variants.pre-vote]
set = { "node.kv.pre_vote" = true }
[[fault]]
at = "2s"
partition = [["z0", "z1"], ["z2"]]
name = "cut"
[[fault]]
at = "12s"
heal = "cut"
"#;
    for seed in 1..=8 {
        let plain = run(text, seed, None);
        let term = |b: &Built| {
            let id = b.sim.node_id("kv-2").unwrap();
            b.sim.node::<RaftNode>(id).unwrap().term()
        };
        assert!(counter(&plain, "kv.elections") > 10, "seed {seed}");
        assert!(counter(&plain, "kv.terms") > 10, "seed {seed}");
        assert!(counter(&plain, "kv.leaders") >= 2, "seed {seed}");
        assert!(term(&plain) > 10, "seed {seed}");
        let asked = run(text, seed, Some("pre-vote"));
        assert_eq!(counter(&asked, "kv.elections"), 1, "seed {seed}");
        assert_eq!(counter(&asked, "kv.leaders"), 1, "seed {seed}");
        assert_eq!(term(&asked), 1, "seed {seed}");
        for b in [&plain, &asked] {
            assert!(counter(b, "kv.behind_at_end") < 10, "seed {seed}");
            assert_eq!(counter(b, "kv.two_leader_terms"), 0);
        }
    }
}
