//! The lock service, its workers and the storage they guard (issue 15,
//! item 4): one holder at a time when nothing fails, the round's timing
//! worked out exactly, a lease that runs out during a pause, fencing,
//! a lease check fooled by a clock set back, and a restart that keeps
//! tokens and honours the leases it may have granted.

use sim_core::models::lock::{LockServer, Storage};
use sim_core::scenario::{Built, build, load};
use sim_core::{RunLimits, SimTime};

/// A lock, `workers` workers that each work `work` per round, and a
/// storage, with constant 1 ms latency; `extra` adds fields or faults.
fn scenario(workers: usize, work: &str, storage: &str, extra: &str) -> String {
    let mut text = format!(
        r#"
title = "t"
summary = "s"
[run]
duration = "30s"
[network]
latency = "1ms"
[[node]]
name = "lock"
kind = "lock"
lease = "5s"
[[node]]
name = "db"
kind = "storage"
{storage}
"#
    );
    for i in 0..workers {
        text.push_str(&format!(
            "[[node]]\nname = \"w{i}\"\nkind = \"lock_client\"\ntarget = \"lock\"\ncalls = \"db\"\nwork = \"{work}\"\nthink = \"10ms\"\n"
        ));
    }
    text.push_str(extra);
    text
}

fn built(text: &str, seed: u64) -> Built {
    let s = load("t", "t.toml", text).unwrap_or_else(|d| panic!("{d}"));
    let spec = s.resolve(None, &[]).unwrap();
    build(&spec, seed).unwrap()
}

fn counter(b: &Built, name: &str) -> u64 {
    b.sim.metrics().get_counter(name).unwrap_or(0)
}

fn storage_value(b: &Built) -> u64 {
    let id = b.sim.node_id("db").unwrap();
    b.sim.node::<Storage>(id).unwrap().value()
}

/// With three workers always waiting, the lock passes straight from one
/// to the next: a round holds it for the grant's trip, a read and a
/// write there and back, the work, and the release's trip: six one-way
/// latencies and the work, 106 ms. So 30 s holds exactly
/// ceil(30 s / 106 ms) = 284 grants, and nothing is ever lost.
#[test]
fn without_faults_the_lock_passes_round_by_round() {
    let mut b = built(&scenario(3, "100ms", "", ""), 1);
    let report = b.run();
    assert!(sim_core::scenario::cut_short(&report).is_none());
    let grants = counter(&b, "lock.grants");
    assert_eq!(grants, 30_000u64.div_ceil(106), "grants");
    assert_eq!(counter(&b, "lock.expired"), 0);
    assert_eq!(counter(&b, "db.lost_updates"), 0);
    // Every stored write added one: the counter is the writes.
    assert_eq!(storage_value(&b), counter(&b, "db.writes"));
    // In line, in turn: each worker has a third of the rounds.
    for w in ["w0", "w1", "w2"] {
        let done = counter(&b, &format!("{w}.acquired"));
        assert!(done.abs_diff(grants / 3) <= 1, "{w}: {done} of {grants}");
    }
    let lock = b
        .sim
        .node::<LockServer>(b.sim.node_id("lock").unwrap())
        .unwrap();
    assert_eq!(lock.last_token(), grants, "one new token per grant");
}

/// A worker paused past its lease (at 1.05 s, in the middle of its work,
/// for 8 s): the lock goes to the other worker, and when the paused one
/// wakes it writes what it computed before. Without fencing that write
/// erases the other's increments; with it, storage refuses it.
#[test]
fn a_pause_past_the_lease_loses_updates_unless_storage_fences() {
    let pause = "[[fault]]\nat = \"1050ms\"\npause = \"w0\"\nlasting = \"8s\"\n";
    let run = |storage: &str| {
        let mut b = built(&scenario(2, "500ms", storage, pause), 1);
        b.run();
        b
    };
    let open = run("fencing = false");
    assert_eq!(counter(&open, "lock.expired"), 1);
    assert_eq!(counter(&open, "lock.stale_releases"), 1);
    assert!(counter(&open, "db.lost_updates") >= 1);
    // It put back a value from before the pause: the other worker's
    // increments from the lease's end (6 s) to the wake (9 s), about one
    // per half second, are gone.
    assert!(
        counter(&open, "db.erased") >= 4,
        "{}",
        counter(&open, "db.erased")
    );
    assert!(storage_value(&open) < counter(&open, "db.writes"));

    let fenced = run("fencing = true");
    assert_eq!(counter(&fenced, "lock.expired"), 1);
    assert_eq!(counter(&fenced, "db.fenced"), 1);
    assert_eq!(counter(&fenced, "w0.fenced"), 1);
    assert_eq!(counter(&fenced, "db.lost_updates"), 0);
    assert_eq!(storage_value(&fenced), counter(&fenced, "db.writes"));
}

/// A worker that checks its lease by its own clock gives up the write
/// after a pause; the same worker with its clock set back 10 s as the
/// pause begins believes the lease still runs, and writes. (The two
/// workers take turns of 506 ms, so at 20.5 s w0 is in its 21st turn.)
#[test]
fn a_clock_set_back_fools_a_lease_check() {
    let pause = "[[fault]]\nat = \"20500ms\"\npause = \"w0\"\nlasting = \"8s\"\n";
    let jump = "[[fault]]\nat = \"20500ms\"\nclock = \"w0\"\njump = \"-10s\"\n";
    let run = |faults: &str| {
        let text = scenario(2, "500ms", "", faults).replace(
            "name = \"w0\"\nkind = \"lock_client\"",
            "name = \"w0\"\nkind = \"lock_client\"\ncheck_lease = true",
        );
        let mut b = built(&text, 1);
        b.run();
        b
    };
    let checked = run(pause);
    assert_eq!(counter(&checked, "w0.lapsed"), 1);
    assert_eq!(counter(&checked, "db.lost_updates"), 0);
    let fooled = run(&format!("{pause}{jump}"));
    assert_eq!(counter(&fooled, "w0.lapsed"), 0);
    assert!(counter(&fooled, "db.lost_updates") >= 1);
}

/// The lock service crashes at 2.03 s and restarts at 3 s: it forgets
/// who held the lock, but not its tokens, and grants nothing for one
/// lease (5 s) after the restart, in case a lease from before still runs.
#[test]
fn a_restarted_lock_keeps_its_tokens_and_waits_out_a_lease() {
    let faults = "[[fault]]\nat = \"2030ms\"\ncrash = \"lock\"\n[[fault]]\nat = \"3s\"\nrestart = \"lock\"\n";
    let mut b = built(&scenario(2, "100ms", "", faults), 1);
    let grants_at = |b: &mut Built, t_ms: u64| {
        b.sim
            .run(RunLimits::until(SimTime::from_nanos(t_ms * 1_000_000)));
        counter(b, "lock.grants")
    };
    let before = grants_at(&mut b, 2030);
    assert!(before > 10);
    assert_eq!(grants_at(&mut b, 7990), before, "no grant in the grace");
    assert!(grants_at(&mut b, 8100) > before, "granting again after it");
    b.run();
    let lock = b
        .sim
        .node::<LockServer>(b.sim.node_id("lock").unwrap())
        .unwrap();
    assert_eq!(
        lock.last_token(),
        counter(&b, "lock.grants"),
        "no token twice"
    );
    assert_eq!(counter(&b, "db.lost_updates"), 0);
}
