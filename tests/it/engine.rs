//! The engine's mechanisms, through the public API a component author uses:
//! timers and their cancellation, crashes, the network's loss, duplication,
//! reordering and partitions, bounded runs, slicing and traces.

use sim_core::{
    Context, Dist, Fault, JsonLinesTrace, LinkSpec, MemoryTrace, Node, NodeId, NodeSet, Partition,
    RunLimits, SimDuration, SimTime, Simulation, StopReason, TimerId, TraceKind,
};

#[derive(Clone, Debug, Hash, PartialEq)]
enum Msg {
    Ping(u64),
    Tick(u64),
}

/// A node driven by a script of actions at start, recording everything it
/// receives.
#[derive(Default)]
struct Scripted {
    /// (delay, payload) timers to set at start.
    timers: Vec<(u64, u64)>,
    /// Index into `timers` to cancel right after setting them.
    cancel: Vec<usize>,
    /// Messages to send at start: (to, count).
    sends: Vec<(NodeId, u64)>,
    /// Do the sends when a timer fires at this many ms, not at start.
    send_at_ms: Option<u64>,
    /// Re-arm a zero-delay timer forever (a runaway loop).
    runaway: bool,
    got_messages: Vec<(SimTime, NodeId, Msg)>,
    got_timers: Vec<(SimTime, u64)>,
    cancel_results: Vec<bool>,
    starts: u32,
    crashes: u32,
}

impl Node<Msg> for Scripted {
    fn on_start(&mut self, ctx: &mut Context<'_, Msg>) {
        self.starts += 1;
        let ids: Vec<TimerId> = self
            .timers
            .iter()
            .map(|&(after, p)| ctx.set_timer(SimDuration::from_millis(after), Msg::Tick(p)))
            .collect();
        for &i in &self.cancel {
            self.cancel_results.push(ctx.cancel_timer(ids[i]));
        }
        match self.send_at_ms {
            Some(at) => {
                ctx.set_timer(SimDuration::from_millis(at), Msg::Tick(SEND_NOW));
            }
            None => self.send_all(ctx),
        }
        if self.runaway {
            ctx.set_timer(SimDuration::ZERO, Msg::Tick(0));
        }
    }
    fn on_message(&mut self, ctx: &mut Context<'_, Msg>, from: NodeId, msg: Msg) {
        self.got_messages.push((ctx.now(), from, msg));
    }
    fn on_timer(&mut self, ctx: &mut Context<'_, Msg>, timer: TimerId, payload: Msg) {
        let Msg::Tick(p) = payload else {
            unreachable!()
        };
        if p == SEND_NOW {
            self.send_all(ctx);
            return;
        }
        self.got_timers.push((ctx.now(), p));
        if self.runaway {
            ctx.set_timer(SimDuration::ZERO, Msg::Tick(p + 1));
        }
        // Cancelling a timer that has fired is a no-op.
        assert!(!ctx.cancel_timer(timer));
    }
    fn on_crash(&mut self, _now: SimTime) {
        self.crashes += 1;
    }
}

const SEND_NOW: u64 = u64::MAX;

impl Scripted {
    fn send_all(&mut self, ctx: &mut Context<'_, Msg>) {
        for &(to, count) in &self.sends {
            for k in 0..count {
                ctx.send(to, Msg::Ping(k));
            }
        }
    }
}

fn ms(n: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_millis(n)
}

fn one_second() -> RunLimits {
    RunLimits::until(ms(1000))
}

#[test]
fn timers_fire_in_order_and_cancel() {
    let mut sim = Simulation::new(1);
    let z = sim.zone("z");
    let a = sim
        .add_node(
            "a",
            z,
            Scripted {
                timers: vec![(30, 3), (10, 1), (20, 2), (10, 4)],
                cancel: vec![2],
                ..Default::default()
            },
        )
        .unwrap();
    sim.run(one_second());
    let node = sim.node::<Scripted>(a).unwrap();
    // Equal times fire in the order they were set.
    assert_eq!(node.got_timers, [(ms(10), 1), (ms(10), 4), (ms(30), 3)]);
    assert_eq!(node.cancel_results, [true]);
}

#[test]
fn a_crash_voids_timers_and_drops_arrivals_until_restart() {
    let mut sim = Simulation::new(1);
    let z = sim.zone("z");
    sim.network_mut().default_local = LinkSpec::fixed(15e6); // 15ms
    let victim = sim
        .add_node(
            "victim",
            z,
            Scripted {
                timers: vec![(50, 7)],
                ..Default::default()
            },
        )
        .unwrap();
    sim.add_node(
        "sender",
        z,
        Scripted {
            sends: vec![(victim, 1)],
            ..Default::default()
        },
    )
    .unwrap();
    sim.schedule(ms(10), Fault::Crash(victim)).unwrap();
    sim.schedule(ms(20), Fault::Restart(victim)).unwrap();
    sim.run(one_second());
    let node = sim.node::<Scripted>(victim).unwrap();
    assert_eq!(node.crashes, 1);
    assert_eq!(node.starts, 2, "restart runs on_start again by default");
    assert!(node.got_messages.is_empty(), "arrived at 15ms while down");
    assert_eq!(sim.metrics().get_counter("net.dropped.node_down"), Some(1));
    // The timer set before the crash (due at 50ms) never fires; the one set
    // at restart (20ms + 50ms) does.
    assert_eq!(node.got_timers, [(ms(70), 7)]);
}

/// A paused node handles nothing until the pause ends, then everything
/// that arrived or fell due meanwhile, in the order it would have; what
/// it knew is kept (no restart), and a run with a pause repeats exactly.
#[test]
fn a_paused_node_handles_everything_late_and_in_order() {
    let run = || {
        let mut sim = Simulation::new(1);
        let z = sim.zone("z");
        sim.network_mut().default_local = LinkSpec::fixed(15e6); // 15ms
        let sleeper = sim
            .add_node(
                "sleeper",
                z,
                Scripted {
                    timers: vec![(20, 1), (30, 2), (200, 3)],
                    ..Default::default()
                },
            )
            .unwrap();
        sim.add_node(
            "sender",
            z,
            Scripted {
                sends: vec![(sleeper, 3)],
                ..Default::default()
            },
        )
        .unwrap();
        sim.schedule(ms(10), Fault::Pause(sleeper, SimDuration::from_millis(90)))
            .unwrap();
        let report = sim.run(one_second());
        (sim, sleeper, report.fingerprint)
    };
    let (sim, sleeper, fingerprint) = run();
    let node = sim.node::<Scripted>(sleeper).unwrap();
    // The pings (due at 15ms) and the timers due at 20 and 30ms all wait
    // for 100ms; the timer due after the pause fires on time.
    let pings: Vec<_> = node
        .got_messages
        .iter()
        .map(|(t, _, m)| (*t, m.clone()))
        .collect();
    assert_eq!(
        pings,
        [
            (ms(100), Msg::Ping(0)),
            (ms(100), Msg::Ping(1)),
            (ms(100), Msg::Ping(2))
        ]
    );
    assert_eq!(node.got_timers, [(ms(100), 1), (ms(100), 2), (ms(200), 3)]);
    assert_eq!(
        (node.starts, node.crashes),
        (1, 0),
        "a pause is not a restart"
    );
    assert_eq!(run().2, fingerprint);
}

/// A node that sets a 100 ms timer, again and again, and notes the true
/// and the local time each fires at.
#[derive(Default)]
struct Ticker {
    fired: Vec<(SimTime, SimTime)>,
}

impl Node<Msg> for Ticker {
    fn on_start(&mut self, ctx: &mut Context<'_, Msg>) {
        ctx.set_timer(SimDuration::from_millis(100), Msg::Tick(0));
    }
    fn on_message(&mut self, _: &mut Context<'_, Msg>, _: NodeId, _: Msg) {}
    fn on_timer(&mut self, ctx: &mut Context<'_, Msg>, _: TimerId, _: Msg) {
        self.fired.push((ctx.now(), ctx.local_now()));
        ctx.set_timer(SimDuration::from_millis(100), Msg::Tick(0));
    }
}

/// A clock that runs fast fires its node's timers early and reads ahead
/// of true time; set right again, it keeps the lead it had.
#[test]
fn a_drifting_clock_moves_timers_and_local_time() {
    let mut sim = Simulation::new(1);
    let z = sim.zone("z");
    let t = sim.add_node("t", z, Ticker::default()).unwrap();
    // From 200 ms a quarter fast: a 100 ms wait takes 80 ms.
    sim.schedule(ms(200), Fault::ClockRate(t, 1.25)).unwrap();
    sim.schedule(ms(360), Fault::ClockRate(t, 1.0)).unwrap();
    sim.run(RunLimits::until(ms(560)));
    let fired = &sim.node::<Ticker>(t).unwrap().fired;
    let at: Vec<(SimTime, SimTime)> = fired.to_vec();
    assert_eq!(
        at,
        [
            (ms(100), ms(100)),
            (ms(200), ms(200)),
            // Set at 200 on the fast clock: 80 ms.
            (ms(280), ms(300)),
            (ms(360), ms(400)),
            // The clock is set right at 360, before that timer fires (the
            // fault was scheduled first): 100 ms again, 40 ms ahead.
            (ms(460), ms(500)),
            (ms(560), ms(600)),
        ]
    );
    assert!(sim.schedule(ms(600), Fault::ClockRate(t, 0.0)).is_err());
}

/// A clock set back or forward reads differently at once, but the timers
/// already set keep their true waits (they count elapsed time); it never
/// reads before zero.
#[test]
fn a_clock_jump_moves_local_time_not_timers() {
    let mut sim = Simulation::new(1);
    let z = sim.zone("z");
    let t = sim.add_node("t", z, Ticker::default()).unwrap();
    sim.schedule(ms(150), Fault::ClockJump(t, -3_000_000_000))
        .unwrap();
    sim.schedule(ms(250), Fault::ClockJump(t, 500_000_000))
        .unwrap();
    sim.run(RunLimits::until(ms(300)));
    let fired = sim.node::<Ticker>(t).unwrap().fired.to_vec();
    assert_eq!(
        fired,
        [
            (ms(100), ms(100)),
            // Set back 3 s at 150 ms: the clock stops at zero.
            (ms(200), ms(50)),
            // Forward half a second at 250 ms.
            (ms(300), ms(650)),
        ]
    );
}

fn flood(link: LinkSpec, count: u64, seed: u64) -> (Simulation<Msg>, NodeId) {
    let mut sim = Simulation::new(seed);
    let z = sim.zone("z");
    sim.network_mut().default_local = link;
    let rx = sim.add_node("rx", z, Scripted::default()).unwrap();
    sim.add_node(
        "tx",
        z,
        Scripted {
            sends: vec![(rx, count)],
            ..Default::default()
        },
    )
    .unwrap();
    sim.run(one_second());
    (sim, rx)
}

#[test]
fn loss_and_duplication_happen_at_their_rates() {
    let n = 100_000;
    // Binomial sd at p = 0.1: sqrt(0.09 / n) ~ 0.00095; allow 5 sd.
    let (sim, rx) = flood(LinkSpec::fixed(1e6).with_loss(0.1), n, 3);
    let got = sim.node::<Scripted>(rx).unwrap().got_messages.len() as f64 / n as f64;
    assert!((got - 0.9).abs() < 0.005, "delivered fraction {got}");
    assert_eq!(
        sim.metrics().get_counter("net.dropped.loss").unwrap() + (got * n as f64) as u64,
        n
    );

    let (sim, rx) = flood(LinkSpec::fixed(1e6).with_duplicate(0.2), n, 4);
    let got = sim.node::<Scripted>(rx).unwrap().got_messages.len() as f64 / n as f64;
    assert!((got - 1.2).abs() < 0.007, "deliveries per message {got}");
}

#[test]
fn latency_follows_the_link_distribution() {
    let n = 50_000;
    let (sim, rx) = flood(
        LinkSpec::fixed(0.0).with_latency(Dist::exponential(2e6).unwrap()),
        n,
        5,
    );
    let node = sim.node::<Scripted>(rx).unwrap();
    let mean_ms = node
        .got_messages
        .iter()
        .map(|(t, ..)| t.as_secs_f64() * 1e3)
        .sum::<f64>()
        / n as f64;
    // Exponential with mean 2ms: sd of the mean = 2 / sqrt(n) ~ 0.009ms.
    assert!((mean_ms - 2.0).abs() < 0.05, "mean latency {mean_ms}ms");
}

#[test]
fn reordering_lets_later_messages_overtake() {
    let order = |link: LinkSpec| {
        let (sim, rx) = flood(link, 1000, 6);
        let seq: Vec<u64> = sim
            .node::<Scripted>(rx)
            .unwrap()
            .got_messages
            .iter()
            .map(|(_, _, m)| match m {
                Msg::Ping(k) => *k,
                _ => unreachable!(),
            })
            .collect();
        // Messages that arrived after one sent later than them.
        let mut latest = 0;
        seq.iter()
            .filter(|&&k| {
                latest = latest.max(k);
                k < latest
            })
            .count()
    };
    assert_eq!(
        order(LinkSpec::fixed(1e6)),
        0,
        "a fixed latency keeps order"
    );
    let inversions = order(LinkSpec::fixed(1e6).with_reorder(0.2, Dist::Constant(5e6)));
    // About 20% of 1000 are held back; all but the last few are overtaken.
    assert!((150..=230).contains(&inversions), "{inversions} overtaken");
}

#[test]
fn partitions_block_both_ways_or_one_way_and_heal() {
    let mut sim = Simulation::new(1);
    let z = sim.zone("z");
    let a = sim.add_node("a", z, Scripted::default()).unwrap();
    let b = sim.add_node("b", z, Scripted::default()).unwrap();
    let left: NodeSet = [a].into_iter().collect();
    let right: NodeSet = [b].into_iter().collect();
    sim.schedule(
        ms(100),
        Fault::Partition(Partition::one_way("cut", left.clone(), right.clone())),
    )
    .unwrap();
    sim.schedule(ms(200), Fault::Heal("cut".into())).unwrap();
    sim.schedule(
        ms(300),
        Fault::Partition(Partition::between("split", left, right)),
    )
    .unwrap();
    sim.schedule(ms(400), Fault::HealAll).unwrap();
    // Check the network's state in each phase; the test below checks that a
    // blocked direction really drops messages.
    let mut phases = Vec::new();
    for t in [150, 250, 350, 450] {
        sim.run(RunLimits::until(ms(t)));
        let net = sim.network();
        phases.push((net.is_blocked(a, b), net.is_blocked(b, a)));
    }
    assert_eq!(
        phases,
        [(true, false), (false, false), (true, true), (false, false)]
    );
}

/// Ten messages from tx to rx, sent at 1ms under a partition in force from
/// time 0; returns (delivered, dropped by the partition).
fn send_through(cut: impl Fn(NodeSet, NodeSet) -> Partition) -> (usize, u64) {
    let mut sim = Simulation::new(1);
    let z = sim.zone("z");
    let rx = sim.add_node("rx", z, Scripted::default()).unwrap();
    let tx = sim
        .add_node(
            "tx",
            z,
            Scripted {
                sends: vec![(rx, 10)],
                send_at_ms: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
    let (tx_side, rx_side) = ([tx].into_iter().collect(), [rx].into_iter().collect());
    sim.schedule(SimTime::ZERO, Fault::Partition(cut(tx_side, rx_side)))
        .unwrap();
    sim.run(one_second());
    let delivered = sim.node::<Scripted>(rx).unwrap().got_messages.len();
    (
        delivered,
        sim.metrics().get_counter("net.dropped.partition").unwrap(),
    )
}

#[test]
fn messages_sent_into_a_partition_are_dropped_and_counted() {
    assert_eq!(send_through(|a, b| Partition::between("p", a, b)), (0, 10));
    assert_eq!(send_through(|a, b| Partition::between("p", b, a)), (0, 10));
    // One way: blocked from tx to rx, not the other way round.
    assert_eq!(
        send_through(|tx, rx| Partition::one_way("p", tx, rx)),
        (0, 10)
    );
    assert_eq!(
        send_through(|tx, rx| Partition::one_way("p", rx, tx)),
        (10, 0)
    );
}

/// A scheduled latency spike: messages sent during the spike take longer,
/// and the link returns to normal when the next change is applied.
#[test]
fn link_changes_apply_at_their_scheduled_time() {
    struct Ticker {
        to: NodeId,
    }
    impl Node<Msg> for Ticker {
        fn on_start(&mut self, ctx: &mut Context<'_, Msg>) {
            ctx.set_timer(SimDuration::ZERO, Msg::Tick(0));
        }
        fn on_message(&mut self, _: &mut Context<'_, Msg>, _: NodeId, _: Msg) {}
        fn on_timer(&mut self, ctx: &mut Context<'_, Msg>, _: TimerId, payload: Msg) {
            let Msg::Tick(k) = payload else {
                unreachable!()
            };
            ctx.send(self.to, Msg::Ping(k));
            if k < 29 {
                ctx.set_timer(SimDuration::from_millis(100), Msg::Tick(k + 1));
            }
        }
    }
    let mut sim = Simulation::new(1);
    let z = sim.zone("z");
    sim.network_mut().default_local = LinkSpec::fixed(1e6); // 1ms
    let rx = sim.add_node("rx", z, Scripted::default()).unwrap();
    let tx = sim.add_node("tx", z, Ticker { to: rx }).unwrap();
    sim.schedule(ms(1000), Fault::SetNodeLink(tx, rx, LinkSpec::fixed(500e6)))
        .unwrap();
    sim.schedule(ms(2000), Fault::SetNodeLink(tx, rx, LinkSpec::fixed(1e6)))
        .unwrap();
    let e = sim
        .schedule(
            ms(2500),
            Fault::SetNodeLink(tx, rx, LinkSpec::fixed(1.0).with_loss(2.0)),
        )
        .unwrap_err();
    assert!(e.to_string().contains("loss must be a probability"), "{e}");
    sim.run(RunLimits::until(ms(5000)));
    // Delay in ms of message k, in the order sent (slow ones arrive late).
    let mut by_send: Vec<(u64, u64)> = sim
        .node::<Scripted>(rx)
        .unwrap()
        .got_messages
        .iter()
        .map(|(t, _, m)| {
            let Msg::Ping(k) = m else { unreachable!() };
            (*k, (t.as_nanos() - k * 100_000_000) / 1_000_000)
        })
        .collect();
    by_send.sort_unstable();
    let delays: Vec<u64> = by_send.into_iter().map(|(_, d)| d).collect();
    // Sent at 0..900ms: 1ms. Sent at 1000..1900ms: 500ms. After: 1ms.
    assert_eq!(delays.len(), 30);
    assert!(delays[..10].iter().all(|&d| d == 1), "{delays:?}");
    assert!(delays[10..20].iter().all(|&d| d == 500), "{delays:?}");
    assert!(delays[20..].iter().all(|&d| d == 1), "{delays:?}");
}

/// Between run slices (as the web UI runs them), a fault can be scheduled
/// at the current time even though the queue has already looked ahead to
/// a later event; it takes effect before that event.
#[test]
fn a_fault_scheduled_between_slices_lands_before_the_next_event() {
    let mut sim = Simulation::new(1);
    let z = sim.zone("z");
    let a = sim
        .add_node(
            "a",
            z,
            Scripted {
                timers: vec![(100, 1), (500, 2)],
                ..Default::default()
            },
        )
        .unwrap();
    let report = sim.run(RunLimits::until(ms(200)));
    assert_eq!(report.stop, StopReason::ReachedEnd);
    assert_eq!(sim.now(), ms(200));
    sim.schedule(ms(200), Fault::Crash(a)).unwrap();
    sim.schedule(ms(300), Fault::Restart(a)).unwrap();
    sim.run(one_second());
    let node = sim.node::<Scripted>(a).unwrap();
    // The 500ms timer died with the crash at 200ms; the restart at 300ms
    // set new ones at 400ms and 800ms.
    assert_eq!(node.got_timers, [(ms(100), 1), (ms(400), 1), (ms(800), 2)]);
    assert!(sim.schedule(ms(100), Fault::HealAll).is_err());
}

/// Found by the scenario fuzzer: a heavy-tailed draw can exceed the range
/// of simulated time. Such a timer saturates at the end of time and never
/// fires in a bounded run, instead of overflowing the clock.
#[test]
fn a_delay_beyond_the_end_of_time_saturates() {
    struct Far;
    impl Node<Msg> for Far {
        fn on_start(&mut self, ctx: &mut Context<'_, Msg>) {
            ctx.set_timer(SimDuration::from_secs(1), Msg::Tick(0));
        }
        fn on_message(&mut self, _: &mut Context<'_, Msg>, _: NodeId, _: Msg) {}
        fn on_timer(&mut self, ctx: &mut Context<'_, Msg>, _: TimerId, _: Msg) {
            ctx.set_timer(SimDuration::MAX, Msg::Tick(1));
            let me = ctx.id();
            ctx.send(me, Msg::Ping(0));
        }
    }
    let mut sim = Simulation::new(1);
    let z = sim.zone("z");
    sim.network_mut().default_local = LinkSpec::fixed(1e30);
    sim.add_node("far", z, Far).unwrap();
    let report = sim.run(RunLimits::until(ms(10_000)));
    assert_eq!(report.stop, StopReason::ReachedEnd);
    assert_eq!(
        report.total_events, 2,
        "the tick and the self-send; the far timer never fires"
    );
}

#[test]
fn a_runaway_loop_stops_at_the_event_budget_with_a_reason() {
    let mut sim = Simulation::new(1);
    let z = sim.zone("z");
    sim.add_node(
        "loop",
        z,
        Scripted {
            runaway: true,
            ..Default::default()
        },
    )
    .unwrap();
    let report = sim.run(one_second().with_max_events(10_000));
    assert_eq!(report.stop, StopReason::EventBudget { budget: 10_000 });
    assert_eq!(report.events, 10_000);
    assert_eq!(report.end_time, SimTime::ZERO, "time never advanced");
    let text = report.to_string();
    assert!(
        text.contains("event budget of 10000 events ran out"),
        "{text}"
    );
    assert!(text.contains("retry storm"), "{text}");
}

#[test]
fn running_in_slices_equals_running_at_once() {
    let build = || {
        let (sim, _) = flood(
            LinkSpec::fixed(0.0).with_latency(Dist::exponential(1e8).unwrap()),
            5000,
            9,
        );
        sim
    };
    let whole = build();
    // Rebuild and run the same thing in many small slices.
    let mut sim = Simulation::new(9);
    let z = sim.zone("z");
    sim.network_mut().default_local =
        LinkSpec::fixed(0.0).with_latency(Dist::exponential(1e8).unwrap());
    let rx = sim.add_node("rx", z, Scripted::default()).unwrap();
    sim.add_node(
        "tx",
        z,
        Scripted {
            sends: vec![(rx, 5000)],
            ..Default::default()
        },
    )
    .unwrap();
    let mut t = 0;
    while t < 1000 {
        t += 7;
        sim.run(RunLimits::until(ms(t.min(1000))).with_max_events(37));
        while sim.now() < ms(t.min(1000)) && sim.pending_events() > 0 {
            let r = sim.run(RunLimits::until(ms(t.min(1000))).with_max_events(37));
            if r.stop != (StopReason::EventBudget { budget: 37 }) {
                break;
            }
        }
    }
    assert_eq!(sim.fingerprint(), whole.fingerprint());
    assert_eq!(sim.events_processed(), whole.events_processed());
}

#[test]
fn tracing_records_everything_and_leaves_the_fingerprint_alone() {
    let build = |trace: bool| {
        let mut sim = Simulation::new(2);
        let z = sim.zone("z");
        if trace {
            sim.set_trace(Box::new(MemoryTrace::new(1_000)));
        }
        let rx = sim.add_node("rx", z, Scripted::default()).unwrap();
        sim.add_node(
            "tx",
            z,
            Scripted {
                sends: vec![(rx, 3)],
                timers: vec![(5, 1)],
                ..Default::default()
            },
        )
        .unwrap();
        sim.run(one_second());
        sim
    };
    let (plain, traced) = (build(false), build(true));
    assert_eq!(plain.fingerprint(), traced.fingerprint());
    let sink = traced
        .trace_sink()
        .as_any()
        .downcast_ref::<MemoryTrace>()
        .unwrap();
    let kinds: Vec<_> = sink.records().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            TraceKind::Send,
            TraceKind::Send,
            TraceKind::Send,
            TraceKind::Deliver,
            TraceKind::Deliver,
            TraceKind::Deliver,
            TraceKind::Timer
        ]
    );
    let first_delivery = sink
        .records()
        .find(|r| r.kind == TraceKind::Deliver)
        .unwrap();
    assert_eq!(first_delivery.node, "rx");
    assert_eq!(first_delivery.peer.as_deref(), Some("tx"));
    assert_eq!(first_delivery.detail.as_deref(), Some("Ping(0)"));
}

#[test]
fn json_lines_trace_writes_one_object_per_event() {
    let mut sim = Simulation::new(2);
    let z = sim.zone("z");
    sim.set_trace(Box::new(JsonLinesTrace::new(Vec::<u8>::new())));
    let rx = sim.add_node("rx", z, Scripted::default()).unwrap();
    sim.add_node(
        "tx",
        z,
        Scripted {
            sends: vec![(rx, 2)],
            ..Default::default()
        },
    )
    .unwrap();
    sim.run(one_second());
    // The sink is boxed inside the simulation; read back what it wrote.
    let sink = sim.trace_sink().as_any();
    let written = sink
        .downcast_ref::<JsonLinesTrace<Vec<u8>>>()
        .unwrap()
        .get_ref();
    let text = String::from_utf8(written.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(
        lines[0],
        r#"{"t_ns":0,"kind":"send","node":"tx","peer":"rx","detail":"Ping(0)"}"#
    );
    assert_eq!(
        lines[3],
        r#"{"t_ns":100000,"kind":"deliver","node":"rx","peer":"tx","detail":"Ping(1)"}"#
    );
}

/// Cancelled timers are purged in bulk, so the queue holds what is really
/// pending rather than every timeout ever set.
#[test]
fn cancelled_timers_do_not_pile_up() {
    struct Churn;
    impl Node<Msg> for Churn {
        fn on_start(&mut self, ctx: &mut Context<'_, Msg>) {
            ctx.set_timer(SimDuration::from_micros(1), Msg::Tick(0));
        }
        fn on_message(&mut self, _: &mut Context<'_, Msg>, _: NodeId, _: Msg) {}
        fn on_timer(&mut self, ctx: &mut Context<'_, Msg>, _: TimerId, _: Msg) {
            // A long timeout set and cancelled on every step, as a client
            // does for each call.
            let t = ctx.set_timer(SimDuration::from_secs(3600), Msg::Tick(1));
            assert!(ctx.cancel_timer(t));
            ctx.set_timer(SimDuration::from_micros(1), Msg::Tick(0));
        }
    }
    let mut sim = Simulation::new(1);
    let z = sim.zone("z");
    sim.add_node("churn", z, Churn).unwrap();
    let mut worst = 0;
    for step in 1..=100u64 {
        sim.run(RunLimits::until(
            SimTime::ZERO + SimDuration::from_millis(step * 5),
        ));
        worst = worst.max(sim.pending_events());
    }
    assert!(sim.events_processed() >= 400_000);
    assert!(worst <= 8_193, "queue grew to {worst} entries");
}

#[test]
fn bad_calls_are_errors_not_panics() {
    let mut sim = Simulation::<Msg>::new(1);
    let z = sim.zone("z");
    sim.add_node("a", z, Scripted::default()).unwrap();
    let e = sim.add_node("a", z, Scripted::default()).unwrap_err();
    assert!(e.to_string().contains("already a node called `a`"), "{e}");
    sim.run(RunLimits::until(ms(10)));
    let e = sim.schedule(ms(5), Fault::HealAll).unwrap_err();
    assert!(e.to_string().contains("already 10ms"), "{e}");
    let e = sim.add_node("b", z, Scripted::default()).unwrap_err();
    assert!(e.to_string().contains("already started"), "{e}");
}

/// A node that keeps everything it is sent: its footprint grows with every
/// tick, as a history with no bound would.
struct Hoarder {
    kept: Vec<u64>,
}

impl Node<Msg> for Hoarder {
    fn on_start(&mut self, ctx: &mut Context<'_, Msg>) {
        ctx.set_timer(SimDuration::from_micros(100), Msg::Tick(0));
    }
    fn on_message(&mut self, _: &mut Context<'_, Msg>, _: NodeId, _: Msg) {}
    fn on_timer(&mut self, ctx: &mut Context<'_, Msg>, _: TimerId, payload: Msg) {
        if let Msg::Tick(n) = payload {
            self.kept.push(n);
            ctx.set_timer(SimDuration::from_micros(100), Msg::Tick(n + 1));
        }
    }
    fn footprint(&self) -> u64 {
        self.kept.len() as u64 * 64
    }
}

fn hoarding_run(slice: Option<u64>) -> (StopReason, u64, String) {
    let mut sim = Simulation::<Msg>::new(5);
    let zone = sim.zone("dc");
    sim.add_node("hoarder", zone, Hoarder { kept: Vec::new() })
        .unwrap();
    let limits = RunLimits::for_duration(SimDuration::from_secs(10))
        .with_max_events(u64::MAX / 2)
        .with_max_memory(64 * 5_000);
    let report = match slice {
        None => sim.run(limits),
        Some(n) => loop {
            let r = sim.run(limits.with_max_events(n));
            if !matches!(r.stop, StopReason::EventBudget { .. }) {
                break r;
            }
        },
    };
    (
        report.stop,
        report.total_events,
        report.fingerprint.to_string(),
    )
}

/// A run whose state outgrows its memory budget stops with a reason that
/// says so, at the same event however it is sliced.
#[test]
fn a_run_over_its_memory_budget_stops_at_the_same_event_however_sliced() {
    let (stop, events, fingerprint) = hoarding_run(None);
    let StopReason::MemoryBudget { budget, estimate } = stop else {
        panic!("expected the memory budget to stop it, got {stop:?}");
    };
    assert_eq!(budget, 64 * 5_000);
    assert!(estimate > budget, "{estimate}");
    // It stops at the first check past the budget (one every 16384 events).
    assert_eq!(events, sim_core::MEMORY_CHECK_EVERY);
    for n in [1, 999, 16_384] {
        assert_eq!(
            hoarding_run(Some(n)),
            (stop.clone(), events, fingerprint.clone())
        );
    }
    // Under a budget it can live with, the same run reaches its end.
    let mut sim = Simulation::<Msg>::new(5);
    let zone = sim.zone("dc");
    sim.add_node("hoarder", zone, Hoarder { kept: Vec::new() })
        .unwrap();
    let report = sim.run(RunLimits::for_duration(SimDuration::from_secs(10)));
    assert_eq!(report.stop, StopReason::ReachedEnd);
    assert_eq!(report.total_events, 100_000);
}
