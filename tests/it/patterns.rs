//! The resilience patterns on the request path, each held to a number that
//! can be worked out without the simulator: retry amplification through
//! stacked layers, the tail at scale of a fan-out, M/D/1 against M/M/1,
//! and what a breaker, outlier ejection, hedging, a fallback and a flag
//! must do to a run.

use faultline_tests::run_queue;
use sim_core::models::caller::CallerConfig;
use sim_core::models::client::{Client, ClientConfig};
use sim_core::models::request::Control;
use sim_core::models::service::{Dependency, Fanout, Service, ServiceConfig};
use sim_core::policy::ErrorKind;
use sim_core::policy::circuit_breaker::{BreakerConfig, BreakerWindow};
use sim_core::policy::hedge::{HedgeAfter, HedgeConfig};
use sim_core::policy::load_balance::{Balancer, OutlierConfig};
use sim_core::policy::retry::{Backoff, Jitter, RetryConfig};
use sim_core::policy::timeout::TimeoutConfig;
use sim_core::scenario::Rpc;
use sim_core::theory::mg1_mean_wait;
use sim_core::{Dist, LinkSpec, NodeId, RunLimits, SimDuration, SimTime, Simulation};

const MS: f64 = 1e6;

fn world(seed: u64) -> (Simulation<Rpc>, sim_core::ZoneId) {
    let mut sim = Simulation::new(seed);
    let zone = sim.zone("dc");
    sim.network_mut().default_local = LinkSpec::fixed(MS);
    (sim, zone)
}

fn counter(sim: &Simulation<Rpc>, name: &str) -> u64 {
    sim.metrics()
        .get_counter(name)
        .unwrap_or_else(|| panic!("no counter {name}"))
}

fn retry(attempts: u32, on: Vec<ErrorKind>) -> RetryConfig {
    RetryConfig {
        max_attempts: attempts,
        backoff: Backoff::Immediate,
        jitter: Jitter::None,
        retry_on: on,
        budget: None,
    }
}

fn inject(sim: &mut Simulation<Rpc>, at_ms: u64, node: NodeId, c: Control) {
    let at = SimTime::ZERO + SimDuration::from_millis(at_ms);
    sim.inject(at, node, node, c).unwrap();
}

/// A client, A, B and C, each caller making k attempts, and C always
/// failing: C sees exactly k^3 calls per client request, B k^2, A k.
#[test]
fn retries_multiply_through_stacked_layers() {
    for k in [2u64, 3] {
        let (mut sim, zone) = world(1);
        let every = vec![ErrorKind::Internal];
        let c = sim
            .add_node(
                "c",
                zone,
                Service::new(ServiceConfig::new(1000, Dist::Constant(MS))),
            )
            .unwrap();
        let layer = |to: NodeId, name: &str| {
            let mut s = ServiceConfig::new(1000, Dist::Constant(MS));
            let mut d = Dependency::to(name, to);
            d.call.retry = retry(k as u32, every.clone());
            s.dependencies.push(d);
            Service::new(s)
        };
        let b = sim.add_node("b", zone, layer(c, "c")).unwrap();
        let a = sim.add_node("a", zone, layer(b, "b")).unwrap();
        let mut user = ClientConfig::poisson(a, 10.0);
        user.call.retry = retry(k as u32, every.clone());
        user.max_orders = Some(100);
        sim.add_node("user", zone, Client::new(user)).unwrap();
        inject(&mut sim, 0, c, Control::Errors { ppm: 1_000_000 });
        sim.run(RunLimits::until(SimTime::MAX));
        assert_eq!(counter(&sim, "user.requests"), 100);
        assert_eq!(counter(&sim, "a.arrivals"), 100 * k);
        assert_eq!(counter(&sim, "b.arrivals"), 100 * k * k);
        assert_eq!(counter(&sim, "c.arrivals"), 100 * k * k * k);
        assert_eq!(counter(&sim, "user.failed.internal"), 100);
    }
}

/// A request that waits for 100 leaves, each slow (1s) 1% of the time, is
/// slow with probability 1 - 0.99^100 = 63.4%.
#[test]
fn a_fan_out_to_100_leaves_is_slow_63_percent_of_the_time() {
    let (mut sim, zone) = world(7);
    let leaf_time = Dist::mixture(vec![
        (0.99, Dist::Constant(MS)),
        (0.01, Dist::Constant(1000.0 * MS)),
    ])
    .unwrap();
    let leaves: Vec<NodeId> = (0..100)
        .map(|i| {
            sim.add_node(
                &format!("leaf-{i}"),
                zone,
                Service::new(ServiceConfig::new(1000, leaf_time.clone())),
            )
            .unwrap()
        })
        .collect();
    let mut root = ServiceConfig::new(1000, Dist::Constant(0.0));
    let mut d = Dependency::to("leaves", leaves[0]);
    d.call.targets = leaves;
    d.fanout = Some(Fanout::All);
    root.dependencies.push(d);
    let root = sim.add_node("root", zone, Service::new(root)).unwrap();
    let mut user = ClientConfig::poisson(root, 20.0);
    let n = 3000;
    user.max_orders = Some(n);
    sim.add_node("user", zone, Client::new(user)).unwrap();
    sim.run(RunLimits::until(SimTime::MAX));
    assert_eq!(counter(&sim, "user.ok"), n);
    let h = sim.metrics().get_histogram("user.latency_ns").unwrap();
    let slow = h.count_above((500.0 * MS) as u64) as f64 / n as f64;
    let expected = 1.0 - 0.99f64.powi(100);
    let sd = (expected * (1.0 - expected) / n as f64).sqrt();
    assert!(
        (slow - expected).abs() < 4.0 * sd,
        "{slow:.4} slow, expected {expected:.4} ± {:.4}",
        4.0 * sd
    );
    // Every leaf was called once per request.
    assert_eq!(counter(&sim, "leaf-42.arrivals"), n);
}

/// Pollaczek–Khinchine: at the same load, M/D/1 waits half as long in the
/// queue as M/M/1 (the service time's second moment is half).
#[test]
fn md1_waits_half_as_long_as_mm1() {
    let (lambda, mean) = (0.5, 1.0);
    let customers = 1_000_000;
    let mm1 = run_queue(
        3,
        1,
        lambda,
        Dist::exponential(mean * 1e9).unwrap(),
        customers,
    );
    let md1 = run_queue(3, 1, lambda, Dist::Constant(mean * 1e9), customers);
    let (wq_mm1, wq_md1) = (mm1.mean_response_s - mean, md1.mean_response_s - mean);
    let theory_md1 = mg1_mean_wait(lambda, mean, mean * mean).unwrap();
    let theory_mm1 = mg1_mean_wait(lambda, mean, 2.0 * mean * mean).unwrap();
    assert!((theory_md1 / theory_mm1 - 0.5).abs() < 1e-12);
    let ratio = wq_md1 / wq_mm1;
    assert!((ratio - 0.5).abs() < 0.03, "Wq(M/D/1)/Wq(M/M/1) = {ratio}");
    assert!(
        (wq_md1 - theory_md1).abs() / theory_md1 < 0.04,
        "{wq_md1} vs {theory_md1}"
    );
}

/// A -> B where B hangs from t = 10s. A's workers wait 1s for each call;
/// with a breaker on A's calls to B, they stop waiting once it opens, and
/// with a fallback A keeps answering (degraded).
fn chain(breaker: bool, fallback: bool) -> Simulation<Rpc> {
    let (mut sim, zone) = world(5);
    let b = sim
        .add_node(
            "b",
            zone,
            Service::new(ServiceConfig::new(64, Dist::Constant(5.0 * MS))),
        )
        .unwrap();
    let mut a = ServiceConfig::new(8, Dist::Constant(MS));
    let mut d = Dependency::to("b", b);
    d.call.timeout.per_attempt = Some(SimDuration::from_secs(1));
    if breaker {
        d.call.breaker = Some(BreakerConfig {
            window: BreakerWindow::Count(20),
            failure_rate: 0.5,
            slow_call_rate: 2.0,
            slow_call: SimDuration::from_secs(10),
            minimum_calls: 10,
            open_for: SimDuration::from_secs(5),
            half_open_calls: 2,
        });
    }
    if fallback {
        d.call.fallback = Some(0);
    }
    a.dependencies.push(d);
    let a = sim.add_node("a", zone, Service::new(a)).unwrap();
    let mut user = ClientConfig::poisson(a, 40.0);
    user.call.timeout.per_attempt = Some(SimDuration::from_secs(2));
    sim.add_node("user", zone, Client::new(user)).unwrap();
    inject(&mut sim, 10_000, b, Control::Hang);
    sim.run(RunLimits::until(SimTime::ZERO + SimDuration::from_secs(60)));
    sim
}

#[test]
fn a_breaker_fails_fast_and_a_fallback_keeps_answering() {
    let plain = chain(false, false);
    let broken = chain(true, false);
    let degraded = chain(true, true);
    // Without a breaker nearly everything after the hang fails, slowly.
    let share = |sim: &Simulation<Rpc>, what: &str| {
        counter(sim, &format!("user.{what}")) as f64 / counter(sim, "user.requests") as f64
    };
    assert!(share(&plain, "ok") < 0.3, "{}", share(&plain, "ok"));
    assert_eq!(counter(&plain, "a.b.short_circuited"), 0);
    // The breaker opened, short-circuited calls, and probed again.
    assert!(counter(&broken, "a.b.breaker.opened") >= 2);
    assert!(counter(&broken, "a.b.short_circuited") > 1000);
    assert!(counter(&broken, "user.failed.unavailable") > 1000);
    assert!(share(&broken, "failed.timeout") < share(&plain, "failed.timeout") / 3.0);
    let open = broken
        .metrics()
        .get_gauge("a.b.breaker.open")
        .unwrap()
        .time_average(SimTime::ZERO + SimDuration::from_secs(60));
    assert!(open > 0.6, "open {open} of the time");
    // With a fallback the users hardly notice: degraded answers.
    assert!(share(&degraded, "ok") > 0.97, "{}", share(&degraded, "ok"));
    assert!(counter(&degraded, "a.degraded") > 1000);
    assert_eq!(
        counter(&degraded, "a.degraded"),
        counter(&degraded, "a.b.degraded")
    );
}

/// Four replicas behind round robin, one failing every call at once: a
/// quarter of calls fail, until outlier ejection takes it out.
fn balanced(outlier: bool) -> Simulation<Rpc> {
    let (mut sim, zone) = world(9);
    let replicas: Vec<NodeId> = (0..4)
        .map(|i| {
            sim.add_node(
                &format!("r-{i}"),
                zone,
                Service::new(ServiceConfig::new(16, Dist::Constant(5.0 * MS))),
            )
            .unwrap()
        })
        .collect();
    let mut call = CallerConfig::to(replicas[0]);
    call.targets = replicas.clone();
    call.balancer = Balancer::RoundRobin;
    if outlier {
        call.outlier = Some(OutlierConfig {
            consecutive_errors: 3,
            base_ejection: SimDuration::from_secs(30),
            max_ejected: 0.5,
        });
    }
    let mut user = ClientConfig::poisson(replicas[0], 100.0);
    user.call = call;
    user.max_orders = Some(6000);
    sim.add_node("user", zone, Client::new(user)).unwrap();
    inject(&mut sim, 0, replicas[2], Control::Errors { ppm: 1_000_000 });
    sim.run(RunLimits::until(SimTime::MAX));
    sim
}

#[test]
fn outlier_ejection_takes_a_failing_replica_out() {
    let plain = balanced(false);
    let failed = counter(&plain, "user.failed") as f64 / 6000.0;
    assert!((failed - 0.25).abs() < 0.01, "{failed}");
    let ejecting = balanced(true);
    // Ejected after 3 errors, for 30s, 60s...: a few calls per ejection.
    assert!(counter(&ejecting, "user.failed") < 20);
    assert!(counter(&ejecting, "user.ejections") >= 1);
    assert!(counter(&ejecting, "r-2.arrivals") < 20);
}

/// Two replicas, each call slow (1s) 1% of the time: hedging after 20ms
/// sends about 1% more calls and removes the slow tail.
#[test]
fn hedging_trades_a_little_load_for_the_tail() {
    let run = |hedge: bool| {
        let (mut sim, zone) = world(11);
        let time = Dist::mixture(vec![
            (0.99, Dist::Constant(5.0 * MS)),
            (0.01, Dist::Constant(1000.0 * MS)),
        ])
        .unwrap();
        let replicas: Vec<NodeId> = (0..2)
            .map(|i| {
                sim.add_node(
                    &format!("r-{i}"),
                    zone,
                    Service::new(ServiceConfig::new(64, time.clone())),
                )
                .unwrap()
            })
            .collect();
        let mut user = ClientConfig::poisson(replicas[0], 100.0);
        user.call.targets = replicas;
        if hedge {
            user.call.hedge = Some(HedgeConfig {
                after: HedgeAfter::Fixed(SimDuration::from_millis(20)),
                max_hedges: 1,
            });
        }
        user.max_orders = Some(10_000);
        sim.add_node("user", zone, Client::new(user)).unwrap();
        sim.run(RunLimits::until(SimTime::MAX));
        sim
    };
    let (plain, hedged) = (run(false), run(true));
    let p999 = |sim: &Simulation<Rpc>| {
        sim.metrics()
            .get_histogram("user.latency_ns")
            .unwrap()
            .quantile(0.999)
            .unwrap() as f64
            / MS
    };
    assert!(p999(&plain) > 900.0, "{}", p999(&plain));
    assert!(p999(&hedged) < 40.0, "{}", p999(&hedged));
    let extra = counter(&hedged, "user.hedges") as f64 / 10_000.0;
    assert!((0.005..0.02).contains(&extra), "{extra} extra calls");
    assert!(counter(&hedged, "user.hedge_wins") > 50);
}

/// Hedging at the observed 95th percentile of a dependency's latency
/// sends a hedge for the 5% of calls slower than that: 5% extra calls,
/// worked out by hand (each attempt's latency is independent of the
/// others': exponential service with no queueing). The quantile must be
/// the dependency's own: when only winners fed it, the slow originals a
/// hedge beat were never seen, the estimate sat low and more calls were
/// hedged than asked for.
#[test]
fn hedging_at_the_p95_sends_five_percent_extra_calls() {
    let (mut sim, zone) = world(17);
    let time = Dist::exponential(10.0 * MS).unwrap();
    let replicas: Vec<NodeId> = (0..2)
        .map(|i| {
            sim.add_node(
                &format!("r-{i}"),
                zone,
                Service::new(ServiceConfig::new(512, time.clone())),
            )
            .unwrap()
        })
        .collect();
    let mut user = ClientConfig::poisson(replicas[0], 1000.0);
    user.call.targets = replicas;
    user.call.hedge = Some(HedgeConfig {
        after: HedgeAfter::Quantile {
            q: 0.95,
            initial: SimDuration::from_millis(30),
            warmup: 100,
        },
        max_hedges: 1,
    });
    user.max_orders = Some(100_000);
    sim.add_node("user", zone, Client::new(user)).unwrap();
    sim.run(RunLimits::until(SimTime::MAX));
    let extra = counter(&sim, "user.hedges") as f64 / 100_000.0;
    // Binomial noise on 100,000 calls is 0.07%; the histogram's quantile
    // is within 0.4% of the latency, which moves the share by under 0.1%.
    assert!((extra - 0.05).abs() < 0.003, "{extra} extra calls");
}

/// A release behind a flag fails 20% of calls from t = 5s; turning the
/// flag off at t = 10s (the kill switch) stops the failures.
#[test]
fn a_kill_switch_turns_a_gated_failure_off() {
    let run = |kill: bool| {
        let (mut sim, zone) = world(13);
        let mut api = ServiceConfig::new(32, Dist::Constant(MS));
        api.flags.insert("new-release".into(), true);
        api.gate = Some("new-release".into());
        let api = sim.add_node("api", zone, Service::new(api)).unwrap();
        let mut user = ClientConfig::poisson(api, 100.0);
        user.call.timeout = TimeoutConfig::NONE;
        sim.add_node("user", zone, Client::new(user)).unwrap();
        inject(&mut sim, 5_000, api, Control::Errors { ppm: 200_000 });
        if kill {
            inject(
                &mut sim,
                10_000,
                api,
                Control::Flag {
                    name: "new-release".into(),
                    on: false,
                },
            );
        }
        sim.run(RunLimits::until(SimTime::ZERO + SimDuration::from_secs(60)));
        counter(&sim, "user.failed") as f64
    };
    // 20% of 100/s for 55s = 1100 failures; with the switch, for 5s = 100.
    let (without, with) = (run(false), run(true));
    assert!(
        (without - 1100.0).abs() < 4.0 * 1100f64.sqrt() * 1.2,
        "{without}"
    );
    assert!((with - 100.0).abs() < 4.0 * 100f64.sqrt() * 1.2, "{with}");
}

/// A service whose calls hang holds its workers; active health checks see
/// it (probes time out) and the balancer stops sending it calls.
#[test]
fn health_checks_route_around_a_hanging_replica() {
    use sim_core::policy::load_balance::HealthCheckConfig;
    let run = |checks: bool| {
        let (mut sim, zone) = world(17);
        let replicas: Vec<NodeId> = (0..4)
            .map(|i| {
                sim.add_node(
                    &format!("r-{i}"),
                    zone,
                    Service::new(ServiceConfig::new(64, Dist::Constant(5.0 * MS))),
                )
                .unwrap()
            })
            .collect();
        let mut user = ClientConfig::poisson(replicas[0], 100.0);
        user.call.targets = replicas.clone();
        user.call.timeout.per_attempt = Some(SimDuration::from_millis(500));
        if checks {
            user.call.health = Some(HealthCheckConfig {
                interval: SimDuration::from_secs(1),
                timeout: SimDuration::from_millis(200),
                unhealthy_threshold: 2,
                healthy_threshold: 2,
            });
        }
        sim.add_node("user", zone, Client::new(user)).unwrap();
        inject(&mut sim, 10_000, replicas[1], Control::Hang);
        sim.run(RunLimits::until(SimTime::ZERO + SimDuration::from_secs(70)));
        sim
    };
    let (plain, checked) = (run(false), run(true));
    // A quarter of the calls after t = 10s time out without checks.
    let timeouts = counter(&plain, "user.failed.timeout") as f64;
    assert!((timeouts - 1500.0).abs() < 150.0, "{timeouts}");
    // With checks: detected within about 2 probes (2-3s), then spared.
    let timeouts = counter(&checked, "user.failed.timeout");
    assert!(timeouts < 120, "{timeouts}");
    assert_eq!(counter(&checked, "user.marked_unhealthy"), 1);
}

/// A pool of 2 connections in front of a dependency with 64 workers: never
/// more than 2 calls reach it at once, and the rest wait in the caller;
/// with one connection and a timeout, calls time out waiting for it.
#[test]
fn a_connection_pool_caps_calls_in_flight() {
    let (mut sim, zone) = world(19);
    let db = sim
        .add_node(
            "db",
            zone,
            Service::new(ServiceConfig::new(64, Dist::Constant(10.0 * MS))),
        )
        .unwrap();
    let mut user = ClientConfig::poisson(db, 150.0);
    user.call.pool = Some(2);
    // No timeout: a connection is held until the answer comes.
    user.max_orders = Some(3000);
    sim.add_node("user", zone, Client::new(user)).unwrap();
    sim.run(RunLimits::until(SimTime::MAX));
    let busy = sim.metrics().get_gauge("db.busy_workers").unwrap().max();
    assert!(busy <= 2.0, "{busy} calls at once");
    assert!(counter(&sim, "user.pool_waits") > 1000);
    // 2 connections x 1 / 12ms (10ms work + 2ms network) = 166/s: enough for
    // 150/s, with waiting.
    assert_eq!(counter(&sim, "user.ok"), 3000);
    // Half the connections: 83/s for 150/s offered. Waiting attempts time
    // out in the queue (a timed-out query may still run on the database).
    let (mut sim, zone) = world(19);
    let db = sim
        .add_node(
            "db",
            zone,
            Service::new(ServiceConfig::new(64, Dist::Constant(10.0 * MS))),
        )
        .unwrap();
    let mut user = ClientConfig::poisson(db, 150.0);
    user.call.pool = Some(1);
    user.call.timeout.per_attempt = Some(SimDuration::from_millis(100));
    user.max_orders = Some(3000);
    sim.add_node("user", zone, Client::new(user)).unwrap();
    sim.run(RunLimits::until(SimTime::MAX));
    // FIFO with one timeout for all: an attempt always gets the connection
    // before its own timeout (those ahead time out first), often with too
    // little time left. The connection then goes to calls that are doomed:
    // capacity is 83/s, yet far fewer succeed, and the database works on
    // every attempt.
    assert_eq!(counter(&sim, "db.arrivals"), counter(&sim, "user.attempts"));
    assert!(counter(&sim, "user.pool_waits") > 2900);
    let ok = counter(&sim, "user.ok");
    assert!(ok < 1200, "{ok} succeeded");
}

/// Google SRE's adaptive throttling: a backend that accepts 100/s of a
/// client's 1000/s ends up seeing about K = 2 times its accepts, not all
/// of them; the client refuses the rest itself.
#[test]
fn adaptive_throttling_sends_about_k_times_the_accepts() {
    use sim_core::policy::rate_limit::{Limit, RateLimitConfig};
    use sim_core::policy::throttle::ThrottleConfig;
    let run = |throttle: bool| {
        let (mut sim, zone) = world(23);
        let mut api = ServiceConfig::new(64, Dist::Constant(MS));
        api.rate_limit = Some(RateLimitConfig {
            limit: Limit::TokenBucket {
                rate: 100.0,
                burst: 10.0,
            },
            per_client: false,
        });
        let api = sim.add_node("api", zone, Service::new(api)).unwrap();
        let mut user = ClientConfig::poisson(api, 1000.0);
        if throttle {
            user.call.throttle = Some(ThrottleConfig {
                k: 2.0,
                window: SimDuration::from_secs(10),
            });
        }
        sim.add_node("user", zone, Client::new(user)).unwrap();
        sim.run(RunLimits::until(SimTime::ZERO + SimDuration::from_secs(60)));
        sim
    };
    let plain = run(false);
    assert!(counter(&plain, "api.arrivals") > 55_000);
    let throttled = run(true);
    let arrivals = counter(&throttled, "api.arrivals") as f64 / 60.0;
    assert!(
        (170.0..240.0).contains(&arrivals),
        "{arrivals}/s reach the api"
    );
    assert!(counter(&throttled, "user.throttled_locally") > 40_000);
    // The successes are the same: the limit decides them, not the client.
    let ok = |s: &Simulation<Rpc>| counter(s, "user.ok") as f64;
    assert!((ok(&throttled) - ok(&plain)).abs() / ok(&plain) < 0.05);
}

/// The client's deadline travels with the call: a service whose own call
/// has no timeout still gives up on its dependency when the client's
/// deadline passes, freeing its worker, instead of waiting a second.
#[test]
fn a_deadline_propagates_downstream() {
    let (mut sim, zone) = world(29);
    let slow = sim
        .add_node(
            "b",
            zone,
            Service::new(ServiceConfig::new(64, Dist::Constant(1000.0 * MS))),
        )
        .unwrap();
    let mut a = ServiceConfig::new(64, Dist::Constant(MS));
    a.dependencies.push(Dependency::to("b", slow)); // no timeout of its own
    let a = sim.add_node("a", zone, Service::new(a)).unwrap();
    let mut user = ClientConfig::poisson(a, 10.0);
    user.call.timeout.overall = Some(SimDuration::from_millis(100));
    user.max_orders = Some(50);
    sim.add_node("user", zone, Client::new(user)).unwrap();
    sim.run(RunLimits::until(SimTime::MAX));
    assert_eq!(counter(&sim, "user.failed.timeout"), 50);
    assert_eq!(counter(&sim, "a.b.failed.timeout"), 50, "a gave up too");
    // a answered (late, with a timeout) at the deadline, not after b's 1s.
    let h = sim.metrics().get_histogram("a.response_ns").unwrap();
    let max = h.max().unwrap() as f64 / MS;
    assert!(max < 105.0, "a held its worker for {max}ms");
}

/// A bulkhead of 2 on a slow dependency: never more than 2 calls in flight
/// to it, and the rest fail at once instead of holding workers.
#[test]
fn a_bulkhead_caps_calls_to_one_dependency() {
    use sim_core::policy::bulkhead::BulkheadConfig;
    let (mut sim, zone) = world(31);
    let slow = sim
        .add_node(
            "b",
            zone,
            Service::new(ServiceConfig::new(64, Dist::Constant(100.0 * MS))),
        )
        .unwrap();
    let mut a = ServiceConfig::new(64, Dist::Constant(MS));
    let mut d = Dependency::to("b", slow);
    d.call.bulkhead = Some(BulkheadConfig { max_concurrent: 2 });
    a.dependencies.push(d);
    let a = sim.add_node("a", zone, Service::new(a)).unwrap();
    let mut user = ClientConfig::poisson(a, 100.0);
    user.max_orders = Some(2000);
    sim.add_node("user", zone, Client::new(user)).unwrap();
    sim.run(RunLimits::until(SimTime::MAX));
    let busy = sim.metrics().get_gauge("b.busy_workers").unwrap().max();
    assert!(busy <= 2.0, "{busy}");
    let rejected = counter(&sim, "a.b.bulkhead_rejected");
    // About 2 calls per 102ms get through: ~20/s of 100/s offered.
    assert!(rejected > 1400, "{rejected}");
    assert_eq!(counter(&sim, "user.failed.overloaded"), rejected);
}

/// Mean response time under the power of d choices, against the
/// supermarket model (Mitzenmacher, "The Power of Two Choices in
/// Randomized Load Balancing", 2001): n single-worker servers, Poisson
/// arrivals at lambda per server, exponential work at rate 1. As n grows
/// the share of servers with at least i calls tends to
/// lambda^((d^i - 1)/(d - 1)), so the mean number at a server is the sum
/// of those and, by Little's law, T = (1/lambda) * sum. The balancer
/// counts calls in flight, which over a zero-latency network are exactly
/// the calls at each server.
#[test]
fn power_of_d_choices_matches_the_supermarket_model() {
    use sim_core::policy::load_balance::Balancer;
    let (n, lambda) = (100usize, 0.9f64);
    let theory = |d: i32| -> f64 {
        let sum: f64 = (1..40)
            .map(|i| lambda.powf((f64::from(d).powi(i) - 1.0) / (f64::from(d) - 1.0)))
            .sum();
        sum / lambda
    };
    let simulate = |d: u32| -> f64 {
        let mut sim = Simulation::new(23);
        let zone = sim.zone("dc");
        sim.network_mut().default_local = LinkSpec::fixed(0.0);
        let servers: Vec<NodeId> = (0..n)
            .map(|i| {
                let work = Dist::exponential(10.0 * MS).unwrap(); // mean 10ms: rate 1 per 10ms
                sim.add_node(
                    &format!("s-{i}"),
                    zone,
                    Service::new(ServiceConfig::new(1, work)),
                )
                .unwrap()
            })
            .collect();
        let mut user = ClientConfig::poisson(servers[0], lambda * n as f64 * 100.0);
        user.call.targets = servers;
        user.call.balancer = Balancer::PowerOfChoices(d);
        user.max_orders = Some(400_000);
        sim.add_node("user", zone, Client::new(user)).unwrap();
        sim.run(RunLimits::until(SimTime::MAX));
        let h = sim.metrics().get_histogram("user.latency_ns").unwrap();
        h.mean() / (10.0 * MS) // in units of the mean work
    };
    for d in [2u32, 3] {
        let (got, want) = (simulate(d), theory(d as i32));
        let err = (got - want).abs() / want;
        // 100 servers are not infinitely many: the finite system sits a
        // little above the limit; 3% covers that (d = 2: +0.4%, d = 3: +1.7%) and the seed's noise.
        assert!(
            err < 0.03,
            "d = {d}: simulated T = {got:.3}, supermarket model {want:.3}"
        );
    }
    // And they differ from each other as the model says: d = 3 is faster.
    assert!(theory(3) < theory(2) * 0.8);
}
