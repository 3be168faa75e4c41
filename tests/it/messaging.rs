//! Messaging (issue 16): brokers as logs and queues, producers and
//! consumers. Little's law on each group's lag; conservation of every
//! message and every delivery; and the behaviours the stories rest on:
//! at-least-once duplicates and the table that stops them, at-most-once
//! losses, retries stored twice unless the producer is idempotent, a
//! poison message that holds its partition until a dead-letter queue
//! takes it, a full queue that blocks, drops or sheds, and a group that
//! rebalances when a member crashes.

use sim_core::scenario::{Built, build, load};

pub(super) fn built(text: &str, seed: u64) -> Built {
    let s = load("t", "t.toml", text).unwrap_or_else(|d| panic!("{d}"));
    let spec = s.resolve(None, &[]).unwrap();
    let mut b = build(&spec, seed).unwrap();
    let report = b.run();
    if let Some(why) = sim_core::scenario::cut_short(&report) {
        panic!("cut short: {why}");
    }
    b
}

pub(super) fn counter(b: &Built, name: &str) -> u64 {
    b.sim
        .metrics()
        .get_counter(name)
        .unwrap_or_else(|| panic!("no counter {name}"))
}

pub(super) fn gauge_now(b: &Built, name: &str) -> u64 {
    b.sim.metrics().get_gauge(name).expect(name).value() as u64
}

/// A broker `bus` (its fields `broker`), a producer `app` (its fields
/// `producer`) and a consumer group `g` (its fields `consumer`).
fn system(duration: &str, broker: &str, producer: &str, consumer: &str, extra: &str) -> String {
    format!(
        r#"
title = "t"
summary = "s"
[run]
duration = "{duration}"
[network]
latency = "1ms"
[[node]]
name = "bus"
kind = "broker"
{broker}
[[node]]
name = "app"
kind = "producer"
target = "bus"
{producer}
[[node]]
name = "g"
kind = "consumer"
target = "bus"
{consumer}
{extra}
"#
    )
}

/// L = λW: the time-average lag in messages equals the rate messages
/// leave the lag times the mean time each spent in it.
pub(super) fn assert_little(b: &Built, group: &str, duration_s: f64) {
    let m = b.sim.metrics();
    let lag = m.get_gauge(&format!("{group}.lag")).unwrap();
    let w = m.get_histogram(&format!("{group}.lag_ns")).unwrap();
    let end = b.sim.now();
    let l = lag.time_average(end);
    let x = w.count() as f64 / duration_s;
    let lw = x * w.mean() / 1e9;
    assert!(l > 1.0, "too little lag to test: {l}");
    let err = (l - lw).abs() / l;
    assert!(
        err < 0.03,
        "L = {l:.3} but λW = {lw:.3} ({:.1}% apart)",
        err * 100.0
    );
}

#[test]
fn littles_law_holds_for_a_log_and_for_a_queue() {
    let consumer = r#"processing_time = { dist = "exponential", mean = "7ms" }"#;
    let producer = r#"rate = "100/s"
keys = { dist = "uniform", n = 100 }"#;
    for broker in ["partitions = 3", "mode = \"queue\""] {
        let b = built(&system("600s", broker, producer, consumer, ""), 3);
        assert_little(&b, "g", 600.0);
    }
}

/// Every message stored ends consumed, dead-lettered, expired or shed,
/// or is in the lag at the end; every message made is acknowledged,
/// sent, failed, refused, lost or still buffered.
fn assert_conserved(b: &Built) {
    let c = |n: &str| counter(b, n);
    assert_eq!(
        c("bus.appended"),
        c("g.consumed")
            + c("g.dead_lettered")
            + c("g.expired")
            + c("bus.shed")
            + gauge_now(b, "g.lag"),
        "the group's messages"
    );
    assert_eq!(
        c("app.created"),
        c("app.acked")
            + c("app.sent")
            + c("app.failed")
            + c("app.refused")
            + c("app.lost")
            + gauge_now(b, "app.buffered"),
        "the producer's messages"
    );
}

/// With finite work, a lossless network and time to drain, every
/// delivery ends once: processed, failed, skipped as seen or discarded.
fn assert_deliveries_counted_once(b: &Built) {
    let c = |n: &str| counter(b, n);
    assert_eq!(
        c("g.delivered"),
        c("g.processed") + c("g.failed") + c("g.deduplicated") + c("g.discarded"),
        "every delivery once"
    );
    assert_eq!(gauge_now(b, "g.lag"), 0, "drained");
}

#[test]
fn every_message_and_every_delivery_is_counted_once() {
    let finite = r#"rate = "200/s"
messages = 3000
batch = 4
linger = "5ms"
poison = "1%"
keys = { dist = "uniform", n = 50 }"#;
    let consumer = r#"processing_time = { dist = "exponential", mean = "3ms" }
replicas = 2
concurrency = 2
failure_rate = "5%""#;
    let cases = [
        "partitions = 4\nmax_receives = 3",
        "mode = \"queue\"\nmax_receives = 3\nvisibility_timeout = \"200ms\"",
        "mode = \"queue\"\nmax_receives = 2\ncapacity = 50\noverflow = \"shed\"\nvisibility_timeout = \"200ms\"",
    ];
    for broker in cases {
        let b = built(&system("120s", broker, finite, consumer, ""), 1);
        assert_conserved(&b);
        assert_deliveries_counted_once(&b);
        assert!(
            counter(&b, "g.dead_lettered") > 0,
            "{broker}: poison goes somewhere"
        );
    }
    // Retention, a crash and a rebalance: the group's sums still hold.
    let crash = r#"
[[fault]]
at = "20s"
crash = "g-0"
[[fault]]
at = "40s"
restart = "g-0""#;
    let slow = r#"processing_time = { dist = "exponential", mean = "30ms" }
replicas = 2"#;
    let b = built(
        &system(
            "90s",
            "partitions = 4\nretention = \"10s\"",
            "rate = \"100/s\"\nkeys = { dist = \"uniform\", n = 50 }",
            slow,
            crash,
        ),
        2,
    );
    assert_conserved(&b);
    assert!(
        counter(&b, "g.expired") > 0,
        "retention took what nobody read"
    );
    assert!(
        counter(&b, "g.rebalances") >= 3,
        "joins, the crash and the return"
    );
}

#[test]
fn at_least_once_processes_again_after_a_crash_unless_the_table_says_seen() {
    // One member committing every 2 seconds, killed with work done and
    // not committed; the broker hands that work out again once it is back.
    let producer = r#"rate = "100/s""#;
    let fault = r#"
[[fault]]
at = "10s"
crash = "g"
[[fault]]
at = "11s"
restart = "g""#;
    let consumer = |dedupe: bool| {
        format!("processing_time = \"5ms\"\ncommit_every = \"2s\"\ndedupe = {dedupe}")
    };
    let plain = built(&system("30s", "", producer, &consumer(false), fault), 1);
    let dup = counter(&plain, "g.duplicates");
    // A crash at 10s, two seconds after the commit at 8s: what was done
    // in those two seconds, at most 200 a second (one member, 5 ms each).
    assert!(
        (1..=400).contains(&dup),
        "{dup}: a crash before the commit processes again"
    );
    let table = built(&system("30s", "", producer, &consumer(true), fault), 1);
    assert_eq!(counter(&table, "g.duplicates"), 0);
    assert!(
        counter(&table, "g.deduplicated") > 0,
        "the table skipped repeats"
    );
}

#[test]
fn at_most_once_loses_what_fails_and_never_duplicates() {
    let consumer = r#"processing_time = "2ms"
commit = "before"
failure_rate = "10%""#;
    let b = built(&system("60s", "", "rate = \"100/s\"", consumer, ""), 1);
    let (lost, processed) = (counter(&b, "g.lost"), counter(&b, "g.processed"));
    let share = lost as f64 / (lost + processed) as f64;
    assert!((0.08..0.12).contains(&share), "lost {share}");
    assert_eq!(counter(&b, "g.redelivered"), 0);
    assert_eq!(counter(&b, "g.duplicates"), 0);
}

#[test]
fn a_retried_batch_is_stored_twice_unless_the_producer_is_idempotent() {
    // Acknowledgements are lost on the way back; the producer sends the
    // batch again, and the broker already has it.
    let link = r#"
[[link]]
from = "bus"
to = "app"
loss = "20%""#;
    let producer = |idempotent: bool| {
        format!(
            "rate = \"100/s\"\ntimeout = \"50ms\"\nretry = {{ attempts = 10 }}\nidempotent = {idempotent}"
        )
    };
    let consumer = r#"processing_time = "1ms""#;
    let plain = built(&system("60s", "", &producer(false), consumer, link), 1);
    assert!(counter(&plain, "bus.appended") > counter(&plain, "app.created"));
    assert!(
        counter(&plain, "g.duplicates") > 0,
        "a copy stored twice is processed twice"
    );
    let once = built(&system("60s", "", &producer(true), consumer, link), 1);
    assert!(counter(&once, "bus.deduplicated") > 0);
    assert_eq!(counter(&once, "g.duplicates"), 0);
    assert_eq!(
        counter(&once, "bus.appended"),
        counter(&once, "app.created")
    );
}

#[test]
fn a_poison_message_holds_its_partition_until_a_dead_letter_queue_takes_it() {
    // The tenth message always fails; one partition, so everything after
    // it waits behind it.
    let producer = r#"rate = "50/s"
poison = "2%""#;
    let consumer = r#"processing_time = "2ms""#;
    let stuck = built(&system("60s", "", producer, consumer, ""), 1);
    let (made, consumed) = (
        counter(&stuck, "app.created"),
        counter(&stuck, "g.consumed"),
    );
    assert!(consumed * 10 < made, "held: {consumed} of {made}");
    assert!(gauge_now(&stuck, "g.lag") > made / 2);
    let dead = r#"
[[node]]
name = "dlq"
kind = "broker""#;
    let dlq = built(
        &system(
            "60s",
            "max_receives = 3\ndead_letter = \"dlq\"",
            producer,
            consumer,
            dead,
        ),
        1,
    );
    assert_eq!(
        counter(&dlq, "dlq.appended"),
        counter(&dlq, "g.dead_lettered"),
        "every dead letter is in the dead-letter broker, to be read"
    );
    let lag = gauge_now(&dlq, "g.lag");
    assert!(lag < 20, "the partition moves on: lag {lag}");
    let dead = counter(&dlq, "g.dead_lettered");
    let expected = counter(&dlq, "app.created") as f64 * 0.02;
    assert!(
        (dead as f64 - expected).abs() < 4.0 * expected.sqrt() + 2.0,
        "{dead} dead-lettered, about {expected} poison"
    );
}

#[test]
fn a_full_queue_blocks_drops_or_sheds() {
    let producer = r#"rate = "100/s"
buffer = 200
retry = { attempts = 3, delay = "10ms" }"#;
    // Half as fast as messages come.
    let consumer = r#"processing_time = "20ms""#;
    let queue =
        |overflow: &str| format!("mode = \"queue\"\ncapacity = 100\noverflow = \"{overflow}\"");
    let block = built(&system("60s", &queue("block"), producer, consumer, ""), 1);
    assert!(counter(&block, "bus.blocked") > 0);
    assert_eq!(counter(&block, "bus.refused"), 0);
    assert!(
        counter(&block, "app.refused") > 0,
        "the producer's buffer fills: upstream feels it"
    );
    let drop = built(&system("60s", &queue("drop"), producer, consumer, ""), 1);
    assert!(counter(&drop, "bus.refused") > 0);
    assert!(counter(&drop, "app.failed") > 0, "retries run out");
    let shed = built(&system("60s", &queue("shed"), producer, consumer, ""), 1);
    assert!(counter(&shed, "bus.shed") > 0);
    assert_eq!(
        counter(&shed, "app.failed") + counter(&shed, "app.refused"),
        0
    );
    for b in [&block, &drop, &shed] {
        let held = b.sim.metrics().get_gauge("bus.held").unwrap().max();
        assert!(held <= 100.0, "held {held}");
    }
}

#[test]
fn a_member_that_crashes_hands_its_partitions_to_the_rest() {
    let fault = r#"
[[fault]]
at = "20s"
crash = "g-1""#;
    let consumer = r#"processing_time = "2ms"
replicas = 2"#;
    let b = built(
        &system(
            "60s",
            "partitions = 4\nsession_timeout = \"3s\"",
            "rate = \"100/s\"\nkeys = { dist = \"uniform\", n = 100 }",
            consumer,
            fault,
        ),
        1,
    );
    // Two joins, then the silent member leaves.
    assert_eq!(counter(&b, "g.rebalances"), 3);
    assert!(
        gauge_now(&b, "g.lag") < 20,
        "the survivor reads all four partitions"
    );
    let lag_s = b.sim.metrics().get_gauge("g.lag_s").unwrap().max();
    assert!(
        (3.0..8.0).contains(&lag_s),
        "messages waited out the session timeout and the pause: {lag_s}"
    );
}

#[test]
fn an_outbox_keeps_writes_and_events_agreeing_through_crashes() {
    let crashes = r#"
[[fault]]
at = "10s"
crash = "app"
[[fault]]
at = "11s"
restart = "app"
[[fault]]
at = "25s"
crash = "app"
[[fault]]
at = "26s"
restart = "app""#;
    let producer = |write: &str| {
        format!(
            "rate = \"300/s\"\nbatch = 50\nlinger = \"20ms\"\nwrite = \"{write}\"\nwrite_time = \"30ms\""
        )
    };
    let consumer = r#"processing_time = "1ms"
batch = 100"#;
    let run = |write: &str| built(&system("40s", "", &producer(write), consumer, crashes), 4);
    let dual = run("dual");
    assert!(
        counter(&dual, "app.lost_events") > 0,
        "saved, never published"
    );
    assert_eq!(counter(&dual, "app.phantom_events"), 0);
    let first = run("publish_first");
    assert!(
        counter(&first, "app.phantom_events") > 0,
        "published, never saved"
    );
    let outbox = run("outbox");
    assert_eq!(counter(&outbox, "app.lost_events"), 0);
    assert_eq!(counter(&outbox, "app.phantom_events"), 0);
    assert_eq!(
        counter(&outbox, "app.lost"),
        0,
        "the outbox keeps what waited"
    );
    // Every message made is accounted for; with a write first, a write
    // cut off by a crash is one of the ends.
    for b in [&dual, &outbox] {
        let c = |n: &str| counter(b, n);
        assert_eq!(
            c("app.created"),
            c("app.acked")
                + c("app.failed")
                + c("app.refused")
                + c("app.lost")
                + c("app.aborted")
                + gauge_now(b, "app.buffered")
        );
        // Every committed write's event is stored, lost, or still waiting.
        assert!(c("app.committed") >= c("app.lost_events"));
    }
}
