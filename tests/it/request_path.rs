//! The request-path models (client, service, ledger) and their policies,
//! end to end: the double charge, held to a number worked out by hand, and
//! idempotency keys that remove it.

use sim_core::models::client::{Client, ClientConfig};
use sim_core::models::ledger::Ledger;
use sim_core::models::service::{Dependency, Discipline, Service, ServiceConfig};
use sim_core::policy::codel::CodelConfig;
use sim_core::policy::idempotency::IdempotencyConfig;
use sim_core::policy::retry::{Backoff, Jitter, RetryConfig};
use sim_core::policy::timeout::TimeoutConfig;
use sim_core::scenario::Rpc;
use sim_core::{Dist, LinkSpec, RunLimits, SimDuration, SimTime, Simulation};

struct Payments {
    sim: Simulation<Rpc>,
    user: sim_core::NodeId,
    ledger: sim_core::NodeId,
}

/// A user paying through an API that charges a ledger. Replies from the API
/// to the user are lost with probability `reply_loss`; the user times out
/// after 200ms and retries up to four attempts in all.
fn payments(seed: u64, keys: bool, reply_loss: f64, double_submit: f64, orders: u64) -> Payments {
    let mut sim = Simulation::new(seed);
    let zone = sim.zone("dc");
    sim.network_mut().default_local = LinkSpec::fixed(1e6); // 1ms
    let ledger = sim
        .add_node("ledger", zone, Ledger::new(Dist::Constant(20e6)))
        .unwrap();
    let mut api = ServiceConfig::new(16, Dist::Constant(5e6));
    api.dependencies.push(Dependency::to("ledger", ledger));
    if keys {
        api.idempotency = Some(IdempotencyConfig {
            ttl: SimDuration::from_secs(86_400),
        });
    }
    let api = sim.add_node("api", zone, Service::new(api)).unwrap();
    let mut user = ClientConfig::poisson(api, 100.0);
    user.call.timeout = TimeoutConfig {
        per_attempt: Some(SimDuration::from_millis(200)),
        overall: None,
    };
    user.call.retry = RetryConfig {
        max_attempts: 4,
        backoff: Backoff::Fixed(SimDuration::from_millis(50)),
        jitter: Jitter::None,
        retry_on: RetryConfig::default_retry_on(),
        budget: None,
    };
    user.idempotency_keys = keys;
    user.double_submit = double_submit;
    user.double_submit_delay = Dist::uniform(50e6, 400e6).unwrap();
    user.max_orders = Some(orders);
    let user = sim.add_node("user", zone, Client::new(user)).unwrap();
    sim.network_mut()
        .set_node_link(api, user, LinkSpec::fixed(1e6).with_loss(reply_loss));
    Payments { sim, user, ledger }
}

fn counter(sim: &Simulation<Rpc>, name: &str) -> u64 {
    sim.metrics().get_counter(name).unwrap()
}

/// Every attempt reaches the ledger and only replies are lost, so an order
/// is charged once per attempt: 1 + p + p^2 + p^3 times on average with
/// four attempts. At p = 0.1 that is 0.111 duplicate charges per order.
#[test]
fn without_keys_duplicate_charges_follow_the_retry_arithmetic() {
    let orders = 20_000;
    let Payments { mut sim, user, .. } = payments(1, false, 0.1, 0.0, orders);
    sim.run(RunLimits::until(SimTime::MAX));
    let duplicates = counter(&sim, "ledger.duplicate_charges") as f64;
    let expected = orders as f64 * (0.1 + 0.01 + 0.001);
    // The sd of the total is about 50 (0.35 per order); allow 4 sd.
    assert!(
        (duplicates - expected).abs() < 200.0,
        "duplicate charges {duplicates}, expected about {expected}"
    );
    assert_eq!(counter(&sim, "ledger.orders_charged"), orders);
    // Every request ended exactly once.
    let client = sim.node::<Client>(user).unwrap();
    assert_eq!(client.in_flight(), 0);
    assert_eq!(
        counter(&sim, "user.requests"),
        counter(&sim, "user.ok") + counter(&sim, "user.failed")
    );
    // Requests that lost all four replies failed with a timeout: p^4.
    let failed = counter(&sim, "user.failed.timeout") as f64;
    assert!(failed < 10.0, "{failed} requests lost every reply");
}

/// Two shops on one payment API, with nothing lost and nothing retried:
/// every order is charged exactly once. (Order ids are unique across
/// clients; if both shops numbered from zero, the ledger would see each
/// order twice.)
#[test]
fn two_clients_never_share_an_order() {
    let Payments { mut sim, .. } = payments(3, true, 0.0, 0.0, 500);
    let zone = sim.zone("dc");
    let api = sim.node_id("api").unwrap();
    let mut other = ClientConfig::poisson(api, 100.0);
    other.idempotency_keys = true;
    other.max_orders = Some(500);
    sim.add_node("other", zone, Client::new(other)).unwrap();
    sim.run(RunLimits::until(SimTime::MAX));
    assert_eq!(counter(&sim, "ledger.orders_charged"), 1_000);
    assert_eq!(counter(&sim, "ledger.duplicate_charges"), 0);
    assert_eq!(counter(&sim, "api.replayed"), 0);
}

/// The story's lesson on five seeds, with double clicks as well as lost
/// replies: without keys some orders are charged twice; with keys every
/// order is charged exactly once and retries get the stored result.
#[test]
fn idempotency_keys_charge_every_order_exactly_once() {
    for seed in 1..=5 {
        let mut without = payments(seed, false, 0.1, 0.05, 2_000);
        without.sim.run(RunLimits::until(SimTime::MAX));
        assert!(
            counter(&without.sim, "ledger.duplicate_charges") > 100,
            "seed {seed}: expected double charges without keys"
        );

        let mut with = payments(seed, true, 0.1, 0.05, 2_000);
        with.sim.run(RunLimits::until(SimTime::MAX));
        assert_eq!(
            counter(&with.sim, "ledger.duplicate_charges"),
            0,
            "seed {seed}"
        );
        let ledger = with.sim.node::<Ledger>(with.ledger).unwrap();
        assert_eq!(ledger.duplicates().count(), 0);
        assert_eq!(
            counter(&with.sim, "ledger.orders_charged"),
            2_000,
            "seed {seed}"
        );
        assert!(
            counter(&with.sim, "api.replayed") > 100,
            "seed {seed}: retries replayed"
        );
        let client = with.sim.node::<Client>(with.user).unwrap();
        assert_eq!(client.in_flight(), 0);
        assert_eq!(
            counter(&with.sim, "user.requests"),
            counter(&with.sim, "user.ok") + counter(&with.sim, "user.failed"),
            "seed {seed}"
        );
    }
}

/// A bounded queue rejects what it cannot hold, and the rejection reaches
/// the client as an overload it may retry.
#[test]
fn a_full_queue_rejects_and_the_client_sees_overload() {
    let mut sim = Simulation::new(3);
    let zone = sim.zone("dc");
    sim.network_mut().default_local = LinkSpec::fixed(0.0);
    let mut cfg = ServiceConfig::new(1, Dist::Constant(10e6)); // 100/s
    cfg.queue_capacity = Some(5);
    let api = sim.add_node("api", zone, Service::new(cfg)).unwrap();
    let mut user = ClientConfig::poisson(api, 200.0); // twice the capacity
    user.max_orders = Some(2_000);
    sim.add_node("user", zone, Client::new(user)).unwrap();
    sim.run(RunLimits::until(SimTime::MAX));
    let rejected = counter(&sim, "api.rejected");
    assert_eq!(counter(&sim, "user.failed.overloaded"), rejected);
    // Offered twice the capacity, about half is turned away.
    assert!((800..1200).contains(&rejected), "{rejected} rejected");
    let depth = sim.metrics().get_gauge("api.queue_depth").unwrap();
    assert!(depth.max() <= 5.0);
}

fn one_service(
    seed: u64,
    cfg: ServiceConfig,
    user: impl FnOnce(&mut ClientConfig),
) -> Simulation<Rpc> {
    let mut sim = Simulation::new(seed);
    let zone = sim.zone("dc");
    sim.network_mut().default_local = LinkSpec::fixed(0.0);
    let api = sim.add_node("api", zone, Service::new(cfg)).unwrap();
    let mut c = ClientConfig::poisson(api, 100.0);
    user(&mut c);
    sim.add_node("user", zone, Client::new(c)).unwrap();
    sim
}

/// A rate change redraws the pending arrival, which is exact for a Poisson
/// process: each phase's count is Poisson with rate x length.
#[test]
fn rate_changes_make_a_piecewise_poisson_process() {
    let at = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
    let mut sim = one_service(7, ServiceConfig::new(64, Dist::Constant(1e6)), |c| {
        c.rate_changes = vec![(at(100), 300.0), (at(200), 0.0), (at(250), 50.0)];
    });
    let mut seen = 0;
    // (phase end, expected arrivals): 100/s, 300/s, paused, 50/s.
    for (end, expected) in [(100, 10_000.0), (200, 30_000.0), (250, 0.0), (350, 5_000.0)] {
        sim.run(RunLimits::until(at(end)));
        let now = counter(&sim, "user.requests");
        let got = (now - seen) as f64;
        seen = now;
        let sd = f64::sqrt(expected);
        assert!(
            (got - expected).abs() <= 4.0 * sd,
            "phase ending at {end}s: {got} arrivals, expected {expected} ± {}",
            4.0 * sd
        );
    }
}

/// Serving the newest first changes who waits, not how many: the queue
/// length path is the same as FIFO's (both serve whenever there is work,
/// and service times are drawn in order of service), so the time-average
/// queue and the mean response are equal, while the tail is far longer.
#[test]
fn lifo_keeps_the_queue_but_moves_the_wait_to_the_tail() {
    let run = |discipline| {
        let mut cfg = ServiceConfig::new(1, Dist::exponential(9e6).unwrap()); // rho 0.9
        cfg.discipline = discipline;
        let mut sim = one_service(11, cfg, |c| c.max_orders = Some(100_000));
        let end = sim.run(RunLimits::until(SimTime::MAX)).end_time;
        let depth = sim
            .metrics()
            .get_gauge("api.queue_depth")
            .unwrap()
            .time_average(end);
        let h = sim
            .metrics()
            .get_histogram("api.response_ns")
            .unwrap()
            .clone();
        (depth, h, counter(&sim, "api.completed"))
    };
    let (fifo_depth, fifo, fifo_done) = run(Discipline::Fifo);
    let (lifo_depth, lifo, lifo_done) = run(Discipline::Lifo);
    assert_eq!(fifo_depth, lifo_depth);
    assert_eq!(fifo_done, lifo_done);
    let (fm, lm) = (fifo.mean(), lifo.mean());
    assert!((fm - lm).abs() / fm < 1e-9, "mean response {fm} vs {lm}");
    let (f99, l99) = (fifo.quantile(0.99).unwrap(), lifo.quantile(0.99).unwrap());
    assert!(l99 > 2 * f99, "p99: LIFO {l99} vs FIFO {f99}");
    // Most calls wait less under LIFO: the median falls.
    assert!(lifo.quantile(0.5).unwrap() < fifo.quantile(0.5).unwrap());
}

/// Twice the capacity for ever: controlled delay sheds about half the calls
/// and those it serves have waited little, where a plain queue would grow
/// without bound.
#[test]
fn codel_sheds_the_excess_and_keeps_waits_short() {
    let mut cfg = ServiceConfig::new(1, Dist::Constant(10e6)); // 100/s
    cfg.codel = Some(CodelConfig::default());
    let mut sim = one_service(5, cfg, |c| {
        c.interarrival = Dist::exponential(5e6).unwrap(); // 200/s
        c.max_orders = Some(20_000);
    });
    sim.run(RunLimits::until(SimTime::MAX));
    let (arrivals, shed) = (counter(&sim, "api.arrivals"), counter(&sim, "api.shed"));
    let share = shed as f64 / arrivals as f64;
    assert!((0.4..0.6).contains(&share), "{shed} of {arrivals} shed");
    assert_eq!(counter(&sim, "user.failed.overloaded"), shed);
    let served = sim.metrics().get_histogram("api.response_ns").unwrap();
    // Response of served calls: at most a 100ms standing interval of wait
    // plus the target and one service time.
    assert!(served.quantile(0.99).unwrap() < 130_000_000);
}

/// Backpressure: a client with at most 8 requests outstanding never lets
/// the queue behind 2 workers exceed 6, and refuses the rest itself.
#[test]
fn max_in_flight_bounds_the_queue_from_the_client_side() {
    let mut sim = one_service(9, ServiceConfig::new(2, Dist::Constant(20e6)), |c| {
        c.max_in_flight = Some(8);
        c.max_orders = Some(5_000);
    });
    sim.run(RunLimits::until(SimTime::MAX));
    let depth = sim.metrics().get_gauge("api.queue_depth").unwrap();
    assert!(depth.max() <= 6.0, "{}", depth.max());
    let (requests, ok, failed, throttled) = (
        counter(&sim, "user.requests"),
        counter(&sim, "user.ok"),
        counter(&sim, "user.failed"),
        counter(&sim, "user.throttled"),
    );
    assert!(throttled > 0);
    assert_eq!(counter(&sim, "user.failed.overloaded"), throttled);
    assert_eq!(requests, ok + failed);
    assert_eq!(counter(&sim, "api.arrivals"), requests - throttled);
}
