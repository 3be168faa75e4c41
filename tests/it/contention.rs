//! Contention (issue 17): closed-loop users against the interactive
//! response time law and mean value analysis, finite work, shared data
//! changed by many users at once, and transfers under locks: deadlocks,
//! their detection, lock timeouts and one lock order.

use sim_core::scenario::{Built, build, load};
use sim_core::theory;

fn built(text: &str, seed: u64) -> Built {
    let s = load("t", "t.toml", text).unwrap_or_else(|d| panic!("{d}"));
    let spec = s.resolve(None, &[]).unwrap();
    build(&spec, seed).unwrap()
}

/// Why `text` does not load.
fn refusal(text: &str) -> String {
    match load("t", "t.toml", text) {
        Ok(_) => panic!("loaded"),
        Err(d) => d.to_string(),
    }
}

fn counter(b: &Built, name: &str) -> u64 {
    b.sim.metrics().get_counter(name).unwrap_or(0)
}

/// `users` users thinking `think` in front of one worker
/// with exponential service of mean 10 ms; no latency.
fn closed_loop(users: u32, think: &str, extra: &str) -> String {
    format!(
        r#"
title = "t"
summary = "s"
[run]
duration = "600s"
[[node]]
name = "users"
kind = "client"
target = "api"
users = {users}
think = {think}
{extra}
[[node]]
name = "api"
kind = "service"
workers = 1
service_time = {{ dist = "exponential", mean = "10ms" }}
"#
    )
}

/// (mean response in seconds, throughput per second) of a closed run.
fn measured(b: &Built, duration_s: f64) -> (f64, f64) {
    let m = b.sim.metrics();
    let latency = m.get_histogram("users.latency_ns").expect("recorded");
    let done = counter(b, "users.tasks_done") as f64;
    (latency.mean() / 1e9, done / duration_s)
}

/// With N users who think Z between requests, the throughput X and the
/// mean response time R satisfy R = N/X - Z; and for exponential service
/// at one FIFO server both equal what mean value analysis works out
/// exactly (the machine-repairman model, whose answer does not depend on
/// the think time's distribution: a constant one makes Z exact), at low,
/// middle and high load.
#[test]
fn a_closed_loop_obeys_the_response_time_law_and_mean_value_analysis() {
    for users in [2u32, 8, 20] {
        let mut b = built(&closed_loop(users, r#""50ms""#, ""), 7);
        b.run();
        let (r, x) = measured(&b, 600.0);
        let law = theory::interactive_response(f64::from(users), x, 0.05);
        assert!(
            (r - law).abs() <= 0.01 * law,
            "{users} users: R = {r:.5} s against N/X - Z = {law:.5} s"
        );
        let (r_mva, x_mva) = theory::closed_single_server(users, 0.01, 0.05);
        assert!(
            (x - x_mva).abs() <= 0.02 * x_mva,
            "{users} users: X = {x:.2}/s against MVA's {x_mva:.2}/s"
        );
        assert!(
            (r - r_mva).abs() <= 0.04 * r_mva,
            "{users} users: R = {r:.5} s against MVA's {r_mva:.5} s"
        );
    }
}

/// Mean value analysis itself: one user never waits (R = S); many users
/// saturate the server (X -> 1/S, R -> N S - Z).
#[test]
fn mean_value_analysis_has_the_right_limits() {
    let (r1, x1) = theory::closed_single_server(1, 0.01, 0.05);
    assert!((r1 - 0.01).abs() < 1e-12 && (x1 - 1.0 / 0.06).abs() < 1e-9);
    let (r, x) = theory::closed_single_server(200, 0.01, 0.05);
    assert!((x - 100.0).abs() < 1e-6, "X = {x}");
    assert!((r - (200.0 * 0.01 - 0.05)).abs() < 1e-6, "R = {r}");
}

/// Finite work: each of 5 users makes 40 requests and stops; every task
/// ends once, the run's completion time is the last task's, and nothing
/// is sent after it.
#[test]
fn finite_work_ends_when_every_user_has_done_its_tasks() {
    let mut b = built(&closed_loop(5, r#""20ms""#, "tasks = 40"), 3);
    b.run();
    assert_eq!(counter(&b, "users.tasks_done"), 200);
    assert_eq!(counter(&b, "users.requests"), 200);
    assert_eq!(counter(&b, "users.users_done"), 5);
    let finished = b.sim.metrics().get_histogram("users.finished_ns").unwrap();
    let last = finished.quantile(1.0).unwrap();
    // Each user's 40 rounds take at least 40 think times and 40 services.
    assert!(last >= 40 * 20_000_000, "done at {last} ns");
    assert!(last < 10_000_000_000, "done at {last} ns");
    assert_eq!(finished.count(), 200);
}

/// A closed loop's own fields are refused where they do not belong.
#[test]
fn open_and_closed_loop_fields_do_not_mix() {
    let both = closed_loop(3, r#""1ms""#, r#"rate = "5/s""#);
    let e = refusal(&both);
    assert!(e.contains("`rate` belongs to an open loop"), "{e}");
    let neither = closed_loop(3, r#""1ms""#, "")
        .replace("users = 3\n", "")
        .replace("think = \"1ms\"\n", "");
    let e = refusal(&neither);
    assert!(e.contains("needs `rate`"), "{e}");
    let tasks_alone = neither.replace(
        "target = \"api\"",
        "target = \"api\"\nrate = \"5/s\"\ntasks = 3",
    );
    let e = refusal(&tasks_alone);
    assert!(e.contains("`tasks` belongs to a closed loop"), "{e}");
}

/// A flash sale: a stock of `stock` in a kv store with two workers,
/// `users` buyers who each try to buy one, arriving within 100 ms, with
/// `method` and `extra` (a retry table).
fn sale(stock: u64, users: u32, method: &str, extra: &str) -> String {
    format!(
        r#"
title = "t"
summary = "s"
[run]
duration = "60s"
[network]
latency = {{ dist = "exponential", mean = "1ms" }}
[[node]]
name = "stock"
kind = "kv"
initial = {stock}
workers = 2
service_time = {{ dist = "exponential", mean = "1ms" }}
[[node]]
name = "buyers"
kind = "counter_client"
target = "stock"
users = {users}
tasks = 1
method = "{method}"
think = {{ dist = "uniform", low = "0ms", high = "100ms" }}
work = {{ dist = "exponential", mean = "5ms" }}
{extra}
"#
    )
}

fn stock_left(b: &Built) -> u64 {
    let id = b.sim.node_id("stock").unwrap();
    b.sim
        .node::<sim_core::models::kv::KvStore>(id)
        .unwrap()
        .value(0)
}

/// Blind read-then-write sells more than the stock: every buyer is told
/// yes, and the store's count shows far fewer sales. The checker's lost
/// updates are exactly the sales the data does not show, and its oversold
/// count is the sales beyond the stock; a blind write is still a
/// linearizable register operation (the lost update is the application's
/// doing, not the store's).
#[test]
fn read_then_write_oversells_and_the_checker_counts_exactly_what_was_lost() {
    for seed in 1..=5 {
        let mut b = built(&sale(100, 200, "read_write", ""), seed);
        b.run();
        let sold = counter(&b, "buyers.succeeded");
        let left = stock_left(&b);
        assert_eq!(sold, 200, "seed {seed}: nobody saw the stock run out");
        assert!(left > 0, "seed {seed}");
        assert_eq!(counter(&b, "stock.lost_updates"), sold - (100 - left));
        assert_eq!(counter(&b, "stock.oversold"), sold - 100);
        assert_eq!(counter(&b, "stock.nonlinearizable_keys"), 0);
    }
}

/// Compare-and-set and the store's conditional decrement both conserve
/// the stock: exactly the stock is sold, the store ends at zero, every
/// other buyer is told it is sold out, nothing is lost, and the history
/// of reads and compare-and-sets is linearizable.
#[test]
fn compare_and_set_and_atomic_decrements_conserve_the_stock() {
    let retry = r#"retry = { attempts = 1000, backoff = "exponential", delay = "2ms", max_delay = "200ms", jitter = "full" }"#;
    for (method, extra) in [("cas", retry), ("atomic", "")] {
        for seed in 1..=5 {
            let mut b = built(&sale(100, 200, method, extra), seed);
            b.run();
            let what = format!("{method}, seed {seed}");
            assert_eq!(counter(&b, "buyers.succeeded"), 100, "{what}");
            assert_eq!(counter(&b, "buyers.sold_out"), 100, "{what}");
            assert_eq!(counter(&b, "buyers.gave_up"), 0, "{what}");
            assert_eq!(stock_left(&b), 0, "{what}");
            for m in ["lost_updates", "oversold", "nonlinearizable_keys"] {
                assert_eq!(counter(&b, &format!("stock.{m}")), 0, "{what}: {m}");
            }
            if method == "cas" {
                assert!(counter(&b, "buyers.conflicts") > 0, "{what}: no contention");
                let attempts = counter(&b, "buyers.attempts");
                assert_eq!(attempts, 200 + counter(&b, "buyers.conflicts"), "{what}");
                assert!(counter(&b, "buyers.wasted_ns") > 0, "{what}");
            } else {
                assert_eq!(counter(&b, "buyers.conflicts"), 0, "{what}");
            }
        }
    }
}

/// The checker is not fooled: a history in which a compare-and-set
/// succeeds from a state no operation produced, or in which two
/// compare-and-sets succeed from the same state, is not linearizable.
#[test]
fn the_register_checker_refuses_impossible_compare_and_sets() {
    use sim_core::checker::linearizability::{Operation, RegisterOp, check_register};
    use sim_core::models::counter::state;
    let op = |o, a, b| Operation::returned(o, a, b);
    let (s0, s1, s2) = (state(0, 10), state(1, 9), state(2, 8));
    let fine = [
        op(RegisterOp::Read(s0), 0, 1),
        op(RegisterOp::Cas { from: s0, to: s1 }, 2, 3),
        op(RegisterOp::Cas { from: s1, to: s2 }, 4, 5),
        op(RegisterOp::Read(s2), 6, 7),
    ];
    assert!(check_register(&fine, s0).linearizable);
    let twice = [
        op(RegisterOp::Cas { from: s0, to: s1 }, 0, 3),
        op(
            RegisterOp::Cas {
                from: s0,
                to: state(1, 9) + 1,
            },
            1,
            4,
        ),
    ];
    assert!(!check_register(&twice, s0).linearizable);
    let from_nowhere = [op(RegisterOp::Cas { from: s1, to: s2 }, 0, 1)];
    assert!(!check_register(&from_nowhere, s0).linearizable);
}

/// Increments spread over shards: the shards' sum is the start plus every
/// success, with and without contention on one key, and with more shards
/// there are fewer conflicts.
#[test]
fn sharded_counters_add_up_and_conflict_less() {
    let text = |shards: u32| {
        sale(0, 100, "cas", "change = 1")
            .replace("tasks = 1", &format!("tasks = 20\nshards = {shards}"))
            .replace("workers = 2\n", "")
            .replace(
                "service_time = { dist = \"exponential\", mean = \"1ms\" }\n",
                "",
            )
    };
    let mut conflicts = Vec::new();
    for shards in [1u32, 8] {
        let mut b = built(&text(shards), 2);
        b.run();
        let id = b.sim.node_id("stock").unwrap();
        let store = b.sim.node::<sim_core::models::kv::KvStore>(id).unwrap();
        let total: u64 = (0..u64::from(shards)).map(|k| store.value(k)).sum();
        let ok = counter(&b, "buyers.succeeded");
        assert_eq!(total, ok, "{shards} shards");
        assert_eq!(ok + counter(&b, "buyers.gave_up"), 2000, "{shards} shards");
        assert_eq!(counter(&b, "stock.lost_updates"), 0);
        conflicts.push(counter(&b, "buyers.conflicts"));
    }
    assert!(conflicts[1] * 3 < conflicts[0], "conflicts: {conflicts:?}");
}

/// The counter clients' histories from a small sale (few enough users for
/// the general search) of compare-and-sets and atomic changes, and the same histories with one operation made
/// wrong: a read moved to a state before or after the one it saw, or an
/// operation moved in time. The versioned checker and the general one
/// must give the same verdict on every one, and both must find the
/// untouched histories linearizable.
#[test]
fn the_versioned_checker_agrees_with_the_general_search() {
    use sim_core::checker::linearizability::{Operation, RegisterOp, check_register};
    use sim_core::checker::versioned::check_versioned;
    use sim_core::models::counter::{CounterClient, state, version_of};
    let (mut judged, mut refused) = (0, 0);
    // Blind writes are left out: there the versioned checker also holds
    // the writes to the store's numbering, which a plain register does not.
    for (method, seed) in [("cas", 1), ("cas", 2), ("cas", 3), ("atomic", 4)] {
        let text = sale(30, 6, method, "")
            .replace("tasks = 1", "tasks = 8")
            .replace("high = \"100ms\"", "high = \"20ms\"");
        let mut b = built(&text, seed);
        b.run();
        let id = b.sim.node_id("buyers").unwrap();
        let ops: Vec<Operation> = b
            .sim
            .node::<CounterClient>(id)
            .unwrap()
            .history()
            .iter()
            .map(|(_, o)| *o)
            .filter(|o| o.ret.is_some())
            .collect();
        let initial = state(0, 30);
        assert!(ops.len() > 40, "{method}: {} operations", ops.len());
        assert!(check_register(&ops, initial).linearizable, "{method}");
        assert!(check_versioned(&ops, initial, version_of), "{method}");
        let mut rng = sim_core::SimRng::for_component(seed, "mutations");
        for _ in 0..60 {
            let mut wrong = ops.clone();
            let i = rng.below(wrong.len() as u64) as usize;
            let o = &mut wrong[i];
            match (rng.below(3), o.op) {
                (0, RegisterOp::Read(s)) => {
                    let v = version_of(s);
                    o.op = RegisterOp::Read(if v > 0 && rng.chance(0.5) {
                        state(v - 1, (s & 0xffff_ffff) + 1)
                    } else {
                        state(v + 1, (s & 0xffff_ffff).saturating_sub(1))
                    });
                }
                (1, _) => {
                    let shift = rng.below(40_000_000);
                    o.invoke += shift;
                    o.ret = o.ret.map(|r| r + shift);
                }
                _ => {
                    let shift = rng.below(40_000_000).min(o.invoke);
                    o.invoke -= shift;
                    o.ret = o.ret.map(|r| r - shift);
                }
            }
            let general = check_register(&wrong, initial).linearizable;
            assert_eq!(
                check_versioned(&wrong, initial, version_of),
                general,
                "{method}: {:?}",
                wrong[i]
            );
            judged += 1;
            refused += usize::from(!general);
        }
    }
    assert!(
        refused > 20 && refused < judged,
        "{refused} of {judged} refused"
    );
}

/// `users` clerks moving 1 between `accounts` accounts of 1000 each,
/// under two locks; `manager` and `clerks` add fields.
fn bank(users: u32, accounts: u32, manager: &str, clerks: &str) -> String {
    format!(
        r#"
title = "t"
summary = "s"
[run]
duration = "20s"
[network]
latency = {{ dist = "exponential", mean = "1ms" }}
[[node]]
name = "locks"
kind = "lock_manager"
{manager}
[[node]]
name = "bank"
kind = "kv"
initial = 1000
[[node]]
name = "clerks"
kind = "transfer_client"
target = "locks"
calls = "bank"
users = {users}
accounts = {accounts}
think = {{ dist = "exponential", mean = "20ms" }}
work = "2ms"
retry = {{ attempts = 1000, backoff = "exponential", delay = "2ms", max_delay = "100ms", jitter = "full" }}
{clerks}
"#
    )
}

fn balances(b: &Built, accounts: u64) -> u64 {
    let id = b.sim.node_id("bank").unwrap();
    let store = b.sim.node::<sim_core::models::kv::KvStore>(id).unwrap();
    (0..accounts).map(|k| store.value(k)).sum()
}

/// Locking the payer first, with nothing to break a knot: the first two
/// opposite transfers that overlap deadlock, every clerk ends up waiting
/// behind them, and the run runs out of things to do with both locks
/// held. No money is made or lost by what did finish.
#[test]
fn opposite_lock_orders_deadlock_for_good_without_a_cure() {
    use sim_core::models::lock_manager::LockManager;
    for seed in 1..=5 {
        let mut b = built(&bank(6, 2, "", ""), seed);
        let report = b.run();
        assert!(
            matches!(report.stop, sim_core::StopReason::Idle),
            "seed {seed}: {report}"
        );
        let id = b.sim.node_id("locks").unwrap();
        assert_eq!(
            b.sim.node::<LockManager>(id).unwrap().held(),
            2,
            "seed {seed}"
        );
        let (tasks, ok) = (counter(&b, "clerks.tasks"), counter(&b, "clerks.succeeded"));
        assert_eq!(
            tasks - ok - counter(&b, "clerks.insufficient"),
            6,
            "seed {seed}: all stuck"
        );
        assert_eq!(balances(&b, 2), 2000, "seed {seed}");
        assert_eq!(counter(&b, "bank.lost_updates"), 0);
    }
}

/// Each cure on a busy bank of three accounts: detection refuses only
/// waits that close a cycle and the bank keeps moving; a lock timeout
/// refuses no waiter before its time; one lock order never deadlocks,
/// so nothing is refused even with detection on. Money is conserved by
/// every transfer in every case, and the histories are linearizable.
#[test]
fn detection_timeouts_and_one_lock_order_keep_the_bank_moving_and_conserve_money() {
    for seed in 1..=3 {
        let mut b = built(&bank(12, 3, "detect_deadlocks = true", ""), seed);
        b.run();
        assert!(
            counter(&b, "locks.deadlocks") > 10,
            "seed {seed}: no deadlock to find"
        );
        assert!(counter(&b, "clerks.succeeded") > 1000, "seed {seed}");
        assert_eq!(counter(&b, "locks.timeouts"), 0);
        assert_eq!(balances(&b, 3), 3000, "seed {seed}");
        assert_eq!(counter(&b, "bank.nonlinearizable_keys"), 0);

        let mut b = built(&bank(12, 3, r#"lock_timeout = "30ms""#, ""), seed);
        b.run();
        assert!(counter(&b, "locks.timeouts") > 10, "seed {seed}");
        let waited = b.sim.metrics().get_histogram("locks.wait_ns").unwrap();
        assert!(
            waited.quantile(1.0).unwrap() <= 30_000_000,
            "seed {seed}: a grant after the timeout"
        );
        assert_eq!(balances(&b, 3), 3000, "seed {seed}");

        let mut b = built(
            &bank(12, 3, "detect_deadlocks = true", r#"lock_order = "sorted""#),
            seed,
        );
        b.run();
        assert_eq!(counter(&b, "locks.deadlocks"), 0, "seed {seed}");
        assert_eq!(
            counter(&b, "clerks.attempts"),
            counter(&b, "clerks.tasks"),
            "seed {seed}"
        );
        assert_eq!(balances(&b, 3), 3000, "seed {seed}");
        assert_eq!(counter(&b, "bank.lost_updates"), 0);
        assert_eq!(counter(&b, "bank.nonlinearizable_keys"), 0);
    }
}
