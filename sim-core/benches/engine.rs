//! Engine benchmarks: the hold model and M/M/1 through the node API.
//!
//! Run with `cargo bench -p sim-core --bench engine` (or `cargo xtask bench`,
//! which also writes the table into BENCHMARKS.md). Each figure is the
//! median of several repetitions on one core; the output is a Markdown
//! table. Set `FAULTLINE_BENCH_QUICK=1` for a fast smoke run.
//!
//! The hold model (Vaucher and Duval, 1975): keep N events pending; pop the
//! earliest and push a new one at its time plus an exponential increment.
//! Measured three ways: the radix heap alone, std's binary heap alone (the
//! baseline the design asked us to beat), and timers through the engine's
//! node API (dispatch, timer slab, per-node random stream, fingerprint).
#![allow(unsafe_code)]
// the counting allocator below
// A benchmark measures the engine from outside with the wall clock; nothing
// it times feeds back into a simulation.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use sim_core::EventQueue;
use sim_core::models::hold::HoldNode;
use sim_core::models::queueing::QueueingSystem;
use sim_core::{Dist, RunLimits, SimRng, SimTime, Simulation};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts bytes currently allocated, to measure memory per pending event.
struct Counting;
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocated() -> usize {
    ALLOCATED.load(Ordering::Relaxed)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Exponential increments with mean 1ms, precomputed so the queue
/// benchmarks measure the queue and not the random number generator.
fn increments() -> Vec<u64> {
    let d = Dist::exponential(1e6).unwrap();
    let mut rng = SimRng::for_component(1, "bench");
    (0..1 << 16)
        .map(|_| d.sample_duration(&mut rng).as_nanos())
        .collect()
}

/// The engine stores 32 bytes per event for a u64 message; use the same.
type Payload = [u64; 4];

fn hold_radix(pending: usize, holds: usize, inc: &[u64]) -> (f64, f64) {
    let before = allocated();
    let mut q: EventQueue<Payload> = EventQueue::new();
    let mut j = 0;
    for _ in 0..pending {
        q.push(inc[j & 0xffff], [0; 4]);
        j += 1;
    }
    let filled = allocated() - before;
    let start = Instant::now();
    for _ in 0..holds {
        let (t, p) = q.pop().unwrap();
        q.push(t + inc[j & 0xffff], p);
        j += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    std::hint::black_box(&q);
    // Memory is read both after filling and in the steady state; report
    // the larger.
    let bytes = filled.max(allocated() - before) as f64 / pending as f64;
    (holds as f64 / secs, bytes)
}

fn hold_binary(pending: usize, holds: usize, inc: &[u64]) -> (f64, f64) {
    let before = allocated();
    let mut q: BinaryHeap<Reverse<(u64, u64, Payload)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut j = 0;
    for _ in 0..pending {
        q.push(Reverse((inc[j & 0xffff], seq, [0; 4])));
        seq += 1;
        j += 1;
    }
    let filled = allocated() - before;
    let start = Instant::now();
    for _ in 0..holds {
        let Reverse((t, _, p)) = q.pop().unwrap();
        q.push(Reverse((t + inc[j & 0xffff], seq, p)));
        seq += 1;
        j += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    std::hint::black_box(&q);
    let bytes = filled.max(allocated() - before) as f64 / pending as f64;
    (holds as f64 / secs, bytes)
}

fn hold_engine(pending: usize, holds: u64) -> (f64, f64) {
    let before = allocated();
    let mut sim = Simulation::<u64>::new(1);
    let z = sim.zone("z");
    let holder = HoldNode::new(pending, Dist::exponential(1e6).unwrap());
    sim.add_node("holder", z, holder).unwrap();
    // Start the node (sets every timer) without processing anything.
    sim.run(RunLimits::until(SimTime::MAX).with_max_events(0));
    let filled = allocated() - before;
    let start = Instant::now();
    let report = sim.run(RunLimits::until(SimTime::MAX).with_max_events(holds));
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(report.events, holds);
    let bytes = filled.max(allocated() - before) as f64 / pending as f64;
    (holds as f64 / secs, bytes)
}

/// M/M/1 at rho = 0.9: a Poisson client and one exponential server,
/// request and reply over a zero-latency network, until every customer is
/// served. Four events per customer: arrival timer, request delivery,
/// service completion, reply delivery.
fn mm1(customers: u64) -> (f64, f64) {
    let service = Dist::exponential(1e6).unwrap(); // 1000/s
    let QueueingSystem { mut sim, .. } = QueueingSystem::new(7, 1, 900.0, service, Some(customers));
    let start = Instant::now();
    let report = sim.run(RunLimits::until(SimTime::MAX));
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(
        sim.metrics().get_counter("client.ok"),
        Some(customers),
        "{report}"
    );
    (customers as f64 / secs, report.total_events as f64 / secs)
}

/// The macro benchmark: a client behind a load balancer in front of a
/// three-tier service (web, app, db; replica groups), retries with jitter
/// at every hop, timeouts that are nearly all cancelled (the answer comes
/// first), and a circuit breaker on the app's calls to the database.
const THREE_TIER: &str = r#"
title = "macro benchmark"
summary = "three tiers"
[run]
duration = "1000h"
seed = 3
[network]
latency = "200us"
[[node]]
name = "user"
kind = "client"
target = "web"
rate = "20k/s"
orders = ORDERS
timeout = "1s"
retry = { attempts = 3, backoff = "exponential", delay = "10ms", jitter = "full" }
balance = "power_of_two"
outlier = { consecutive_errors = 5, ejection = "10s" }
[[node]]
name = "web"
kind = "service"
replicas = 4
workers = 64
service_time = { dist = "exponential", mean = "1ms" }
[[node.call]]
to = "app"
timeout = "500ms"
retry = { attempts = 2, backoff = "exponential", delay = "5ms", jitter = "full" }
[[node]]
name = "app"
kind = "service"
replicas = 4
workers = 64
service_time = { dist = "exponential", mean = "2ms" }
[[node.call]]
to = "db"
timeout = "200ms"
breaker = { window = 100, failure_rate = "50%", minimum_calls = 20, open_for = "1s" }
[[node]]
name = "db"
kind = "service"
replicas = 2
workers = 128
service_time = { dist = "log_normal", median = "2ms", p99 = "10ms" }
"#;

fn three_tier(requests: u64) -> (f64, f64) {
    use sim_core::scenario::build;
    use sim_core::scenario::load;
    let text = THREE_TIER.replace("ORDERS", &requests.to_string());
    let scenario = load("macro", "macro.toml", &text).expect("the benchmark scenario loads");
    let mut built = build(&scenario.spec, 3).expect("it builds");
    let start = Instant::now();
    let report = built.sim.run(built.limits.with_max_events(u64::MAX));
    let secs = start.elapsed().as_secs_f64();
    let ok = built.sim.metrics().get_counter("user.ok").unwrap_or(0);
    assert!(
        ok as f64 > 0.999 * requests as f64,
        "{ok} of {requests}: {report}"
    );
    (requests as f64 / secs, report.total_events as f64 / secs)
}

// A program, not the engine: it reads its settings from outside.
#[allow(clippy::disallowed_methods)]
fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let quick = std::env::var_os("FAULTLINE_BENCH_QUICK").is_some();
    let reps = if quick { 1 } else { 5 };
    // FAULTLINE_BENCH_ONLY=macro runs just the macro benchmark (to profile).
    let only_macro = std::env::var("FAULTLINE_BENCH_ONLY").is_ok_and(|v| v == "macro");
    let inc = increments();
    println!("| benchmark | pending | median throughput | bytes per pending event |");
    println!("|---|---:|---:|---:|");
    let sizes: &[usize] = if only_macro {
        &[]
    } else {
        &[100, 10_000, 1_000_000]
    };
    for &pending in sizes {
        let holds = if quick { 200_000 } else { 5_000_000 };
        type HoldFn = fn(usize, usize, &[u64]) -> (f64, f64);
        let queue_kinds: [(&str, HoldFn); 2] = [
            ("hold, radix heap (EventQueue)", hold_radix),
            ("hold, std BinaryHeap (baseline)", hold_binary),
        ];
        for (name, f) in queue_kinds {
            let runs: Vec<(f64, f64)> = (0..reps).map(|_| f(pending, holds, &inc)).collect();
            let rate = median(runs.iter().map(|r| r.0).collect());
            let bytes = median(runs.iter().map(|r| r.1).collect());
            println!(
                "| {name} | {pending} | {:.1} M events/s | {bytes:.1} |",
                rate / 1e6
            );
        }
        let runs: Vec<(f64, f64)> = (0..reps)
            .map(|_| hold_engine(pending, holds as u64))
            .collect();
        let rate = median(runs.iter().map(|r| r.0).collect());
        let bytes = median(runs.iter().map(|r| r.1).collect());
        println!(
            "| hold, timers through the node API | {pending} | {:.1} M events/s | {bytes:.1} |",
            rate / 1e6
        );
    }
    let customers = if only_macro {
        1
    } else if quick {
        200_000
    } else {
        10_000_000
    };
    let runs: Vec<(f64, f64)> = (0..reps).map(|_| mm1(customers)).collect();
    let rate = median(runs.iter().map(|r| r.0).collect());
    let events = median(runs.iter().map(|r| r.1).collect());
    println!(
        "| M/M/1 at rho 0.9, {customers} customers, node API | - | {:.2} M customers/s ({:.1} M events/s) | - |",
        rate / 1e6,
        events / 1e6
    );
    if !only_macro {
        use sim_core::checker::linearizability::{check_register, random_register_history};
        let ops = 10_000;
        let history = random_register_history(1, 5, ops);
        let runs: Vec<f64> = (0..reps)
            .map(|_| {
                let start = Instant::now();
                assert!(check_register(&history, 0).linearizable);
                start.elapsed().as_secs_f64()
            })
            .collect();
        println!(
            "| linearizability check, one register, {ops} operations from 5 clients | - | {:.1} ms per history | - |",
            median(runs) * 1e3
        );
    }
    let requests = if quick { 100_000 } else { 1_000_000 };
    let runs: Vec<(f64, f64)> = (0..reps).map(|_| three_tier(requests)).collect();
    let rate = median(runs.iter().map(|r| r.0).collect());
    let events = median(runs.iter().map(|r| r.1).collect());
    println!(
        "| macro: LB + web/app/db tiers, retries with jitter, timeouts, breaker; {requests} requests | - | {:.2} M requests/s ({:.1} M events/s) | - |",
        rate / 1e6,
        events / 1e6
    );
}
