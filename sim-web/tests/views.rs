//! The views beyond playback: parameters that re-run, two variants side by
//! side, charts over time that agree with the run's totals, the timeline's
//! marks, the request inspector and a partition drawn as a line.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sim_core::{SimDuration, SimTime};
use sim_web::App;
use sim_web::app::{Chart, Lines, chart_data};
use sim_web::player::Player;

fn story(name: &str) -> &'static str {
    sim_core::scenario::STORIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap()
}

fn harness() -> Harness<'static, App> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.ui(ui), App::new())
}

fn counter(p: &Player, name: &str) -> u64 {
    p.metrics().get_counter(name).unwrap_or(0)
}

fn chart<'a>(data: &'a [Chart], id: &str) -> &'a Lines {
    &data
        .iter()
        .find(|(i, ..)| *i == id)
        .unwrap_or_else(|| panic!("no {id} chart"))
        .2
}

/// The story's second question: keys that expire after 100ms. Moving the
/// parameter re-runs the scenario, duplicates come back, and the session
/// exports as a variant that replays to the same fingerprint.
#[test]
fn a_parameter_re_runs_the_story_and_exports_as_a_variant() {
    let mut app = App::new();
    app.open_story("double-charge");
    app.choose_variant(Some("idempotency-keys"));
    let ttl = app
        .params
        .iter()
        .find(|p| p.path == "node.api.idempotency.ttl")
        .expect("the key store's lifetime is a slider")
        .clone();
    assert_eq!(ttl.value, 86_400e9);
    {
        let p = app.player.as_mut().unwrap();
        p.run_to_end();
        assert_eq!(counter(p, "ledger.duplicate_charges"), 0);
        p.seek(SimTime::ZERO + SimDuration::from_secs(20));
        while !p.work(u64::MAX / 2) {}
    }
    app.set_parameter(&ttl.path, ttl.to_toml(100e6));
    assert!(app.error.is_none(), "{:?}", app.error);
    let p = app.player.as_mut().unwrap();
    // Re-run from the start, caught up to where playback was.
    assert_eq!(p.target, SimTime::ZERO + SimDuration::from_secs(20));
    p.run_to_end();
    assert!(
        counter(p, "ledger.duplicate_charges") > 0,
        "short-lived keys let retries through"
    );
    let live = p.fingerprint();
    assert_eq!(p.exported_variant().as_deref(), Some("edited"));
    let text = p.export();
    assert!(text.contains("[variants.edited]"), "{text}");
    assert!(
        text.contains("\"node.api.idempotency.ttl\" = \"100ms\""),
        "{text}"
    );
    assert!(
        text.contains("\"node.user.idempotency_keys\" = true"),
        "{text}"
    );
    let mut again = Player::new("exported", &text, Some("edited"), Some(p.seed)).unwrap();
    again.run_to_end();
    assert_eq!(again.fingerprint(), live);
    // The slider shows the new value.
    let ttl = app.params.iter().find(|p| p.path == ttl.path).unwrap();
    assert_eq!(ttl.value, 100e6);
    // A value the scenario refuses is reported, and not kept.
    app.set_parameter("node.api.workers", toml::Value::Integer(-3));
    assert!(
        app.error
            .as_deref()
            .unwrap_or("")
            .contains("node.api.workers")
    );
    assert!(
        !app.player
            .as_ref()
            .unwrap()
            .overrides
            .iter()
            .any(|(p, _)| p == "node.api.workers")
    );
}

/// Two variants side by side on one seed, following one timeline: the
/// lesson shows in both verdict lists, and B is exactly its own run.
#[test]
fn two_variants_side_by_side_share_the_seed_and_the_timeline() {
    let mut h = harness();
    h.get_by_label("double-charge").click();
    h.run();
    h.get_by_label("no-idempotency").click();
    h.run();
    h.state_mut().compare_with(Some("idempotency-keys"));
    h.run();
    // Each side is named above its picture and above its verdicts.
    assert_eq!(h.query_all_by_label("A: no-idempotency").count(), 2);
    assert_eq!(h.query_all_by_label("B: idempotency-keys").count(), 2);
    {
        let a = h.state_mut().player.as_mut().unwrap();
        a.seek(SimTime::ZERO + SimDuration::from_secs(7));
    }
    h.run();
    let app = h.state();
    let (a, b) = (app.player.as_ref().unwrap(), app.compare.as_ref().unwrap());
    assert_eq!(a.now(), b.now(), "one timeline");
    assert_eq!(a.seed, b.seed);
    h.get_by_label("Run to end").click();
    h.run();
    assert!(
        h.query_by_label_contains("ledger.duplicate_charges > 0 (was ")
            .is_some()
    );
    assert!(
        h.query_by_label_contains("ledger.duplicate_charges == 0 (was 0)")
            .is_some()
    );
    let b = h.state().compare.as_ref().unwrap();
    assert_eq!(
        b.fingerprint(),
        sim_web::story_fingerprint("double-charge", Some("idempotency-keys"), b.seed).unwrap()
    );
    // A parameter changed and a fault clicked on A reach B too (seek
    // back first: a finished run takes no faults).
    h.state_mut()
        .player
        .as_mut()
        .unwrap()
        .seek(SimTime::ZERO + SimDuration::from_secs(7));
    h.run();
    h.state_mut()
        .set_parameter("node.user.timeout", toml::Value::String("300ms".into()));
    h.state_mut().apply(sim_web::topology::Action {
        action: "partition",
        node: String::new(),
        groups: vec![vec!["api".into()], vec!["ledger".into()]],
    });
    h.run();
    let app = h.state();
    let (a, b) = (app.player.as_ref().unwrap(), app.compare.as_ref().unwrap());
    assert!(app.error.is_none(), "{:?}", app.error);
    assert_eq!(b.overrides, a.overrides);
    assert_eq!(a.user_faults.len(), 1);
    assert_eq!(b.user_faults, a.user_faults);
    assert_eq!(a.now(), b.now(), "still one timeline");
}

/// The charts over time end where the run's totals end: duplicate charges,
/// failures by reason, stale reads (judged as the run goes, by the
/// checker's rule).
#[test]
fn charts_over_time_agree_with_the_run_s_totals() {
    let mut p = Player::new(
        "double-charge",
        story("double-charge"),
        Some("no-idempotency"),
        None,
    )
    .unwrap();
    p.speed = 1000.0;
    p.playing = true;
    // Played in frames, as the browser does.
    while !p.is_finished() {
        p.tick(0.016, 20_000);
    }
    let data = chart_data(&p);
    let dup = chart(&data, "duplicates");
    let last = dup[0].1.last().unwrap()[1];
    assert_eq!(last as u64, counter(&p, "ledger.duplicate_charges"));
    assert!(last > 0.0);
    assert!(
        dup[0].1.windows(2).all(|w| w[0][1] <= w[1][1]),
        "a count so far never falls"
    );
    // The latency chart is sim-core's chart model, as the CLI draws it:
    // the same lines with the same values.
    let latency = chart(&data, "latency");
    let model = sim_core::scenario::Charts::new(&p.spec, p.metrics(), p.now());
    let shared = &model
        .panels
        .iter()
        .find(|m| m.id == "latency")
        .unwrap()
        .lines;
    assert_eq!(
        latency.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        shared.iter().map(|l| l.label.as_str()).collect::<Vec<_>>()
    );
    for ((_, pts), line) in latency.iter().zip(shared) {
        let finite: Vec<f64> = line
            .values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let drawn: Vec<f64> = pts.iter().map(|p| p[1]).filter(|v| v.is_finite()).collect();
        assert_eq!(drawn, finite);
    }
    assert!(latency.iter().any(|(n, _)| n == "user max"));
    let (mean, max) = (&latency[0].1, &latency[1].1);
    assert!(
        mean.iter()
            .zip(max)
            .all(|(a, b)| a[1] <= b[1] || a[1].is_nan())
    );

    // Under CAP's partition the cut-off west has no successes, so its
    // latency has no value there: the line stops and starts again
    // instead of bridging the cut with a straight line.
    let mut cap = Player::new("cap", story("cap"), Some("cp"), None).unwrap();
    cap.run_to_end();
    let data = chart_data(&cap);
    let west = chart(&data, "latency")
        .iter()
        .find(|(n, _)| n == "west-users mean")
        .expect("the west's latency");
    let pieces = sim_web::chart_view::segments(&west.1);
    assert_eq!(pieces.len(), 2, "before the cut and after the heal");
    let (before, after) = (pieces[0].last().unwrap()[0], pieces[1][0][0]);
    assert!(before < 21.0 && after > 49.0, "{before} .. {after}");
    // Meanwhile the west's requests wait out their 500ms timeout: the
    // longest wait shows the cut while it happens.
    let waiting = chart(&data, "latency")
        .iter()
        .find(|(n, _)| n == "west-users waiting")
        .expect("the west's longest wait");
    assert!(
        waiting
            .1
            .iter()
            .any(|p| p[0] > 25.0 && p[0] < 45.0 && p[1] >= 400.0),
        "{:?}",
        waiting.1
    );
    // Goodput goes on at zero through the cut.
    let goodput = chart(&data, "goodput")
        .iter()
        .find(|(n, _)| n == "west-users")
        .unwrap();
    assert!(goodput.1.iter().all(|p| p[1].is_finite()));
    assert!(
        goodput
            .1
            .iter()
            .any(|p| p[0] > 25.0 && p[0] < 45.0 && p[1] == 0.0)
    );

    // Failures by reason: the rates add up to the counters.
    let mut p = Player::new("retry-storm", story("retry-storm"), None, None).unwrap();
    p.run_to_end();
    let data = chart_data(&p);
    let errors = chart(&data, "failures");
    let interval = p.samples.interval.as_nanos() as f64 / 1e9;
    for (name, pts) in errors {
        let (who, reason) = name.split_once(' ').unwrap();
        let total: f64 = pts.iter().map(|p| p[1] * interval).sum();
        let expected = counter(&p, &format!("{who}.failed.{reason}")) as f64;
        assert!(
            (total - expected).abs() < 0.5,
            "{name}: {total} vs {expected}"
        );
    }
    assert!(!errors.is_empty());

    // Stale reads from a cache and from replicas.
    for (name, variant) in [
        ("stale-cache", "long-ttl"),
        ("cap", "ap"),
        ("eventually-wrong", "no-repair"),
    ] {
        let mut p = Player::new(name, story(name), Some(variant), None).unwrap();
        p.run_to_end();
        let mut seen = 0;
        for (who, values) in &p.samples.stale {
            let expected = counter(&p, &format!("{who}.stale_reads"));
            assert_eq!(*values.last().unwrap() as u64, expected, "{name}: {who}");
            seen += expected;
        }
        assert!(seen > 0, "{name} {variant} has stale reads to chart");
    }
}

/// Faults and pattern events land on the timeline at their times.
#[test]
fn the_timeline_marks_faults_and_pattern_events() {
    let mut p = Player::new("cap", story("cap"), Some("cp"), None).unwrap();
    p.run_to_end();
    let windows = p.faults().to_vec();
    assert!(!windows.is_empty());
    let marks = p.observed.borrow().marks.clone();
    for w in &windows {
        assert!(
            marks.iter().any(|m| m.fault && m.at == w.start),
            "no mark at {:?} for {}: {marks:?}",
            w.start,
            w.label
        );
    }

    // A pause is a mark on the timeline, and a window, in the browser too.
    let paused = story("double-charge").replace(
        "[[link]]",
        "[[fault]]\nat = \"20s\"\npause = \"ledger\"\nlasting = \"3s\"\n\n[[link]]",
    );
    let mut p = Player::new("paused", &paused, None, None).unwrap();
    p.run_to_end();
    assert_eq!(p.faults()[0].label, "ledger paused");
    let marks = p.observed.borrow().marks.clone();
    assert!(
        marks.iter().any(|m| m.fault
            && m.text == "pause ledger for 3s"
            && m.node.as_deref() == Some("ledger")),
        "{marks:?}"
    );

    // A crashed leader: the failover is a pattern event after the crash.
    let mut p = Player::new("cap", story("cap"), Some("cp"), None).unwrap();
    p.seek(SimTime::ZERO + SimDuration::from_secs(5));
    while !p.work(u64::MAX / 2) {}
    let leader = p
        .sim()
        .nodes()
        .find(|(id, _)| {
            p.sim()
                .node::<sim_core::models::replication::Replica>(*id)
                .is_some_and(|r| r.is_leader())
        })
        .map(|(_, n)| n.to_string())
        .expect("a leader");
    p.act("crash", &leader, None).unwrap();
    p.seek(SimTime::ZERO + SimDuration::from_secs(10));
    while !p.work(u64::MAX / 2) {}
    let marks = p.observed.borrow().marks.clone();
    let crash = marks
        .iter()
        .find(|m| m.text == format!("crash {leader}"))
        .expect("the crash");
    let elected = marks
        .iter()
        .find(|m| !m.fault && m.text.contains("leader of term"))
        .unwrap_or_else(|| panic!("no failover in {marks:?}"));
    assert!(elected.at > crash.at);

    let mut p = Player::new("cascading-failure", story("cascading-failure"), None, None).unwrap();
    let breaker = p
        .scenario
        .variants()
        .find(|v| v.contains("breaker"))
        .map(str::to_string);
    p.rebuild(breaker.as_deref(), p.seed).unwrap();
    p.run_to_end();
    let marks = &p.observed.borrow().marks;
    assert!(
        marks
            .iter()
            .any(|m| m.text.contains("circuit breaker open")),
        "{marks:?}"
    );
    // Narration: just after the breaker opens, its caption stands beside
    // orders, the node whose breaker it is.
    let opened = marks
        .iter()
        .find(|m| m.text.contains("circuit breaker open"))
        .unwrap();
    let captions = sim_web::narration::captions(
        marks,
        opened.at + SimDuration::from_millis(500),
        sim_web::narration::window(1.0),
    );
    assert!(
        captions
            .iter()
            .any(|c| c.node.as_deref() == Some("orders") && c.text.contains("circuit breaker open")),
        "{captions:?}"
    );
}

/// A request's path, attempts, cache answers and replicas, as the inspector
/// shows them.
#[test]
fn the_inspector_follows_a_request_through_the_system() {
    // A payment retried after a lost reply: the shop's attempts, each
    // through the API to the ledger.
    let mut p = Player::new(
        "double-charge",
        story("double-charge"),
        Some("no-idempotency"),
        None,
    )
    .unwrap();
    p.seek(SimTime::ZERO + SimDuration::from_secs(30));
    while !p.work(u64::MAX / 2) {}
    {
        let o = p.observed.borrow();
        let retried = o
            .requests
            .iter()
            .find(|r| r.attempts() >= 2 && r.end.is_some())
            .expect("a retried payment among the recent ones");
        let path: Vec<(&str, &str, &str)> = retried
            .hops
            .iter()
            .map(|h| (h.from.as_str(), h.to.as_str(), h.what.as_str()))
            .collect();
        assert_eq!(path[0], ("user", "api", "call"));
        assert!(path.contains(&("api", "ledger", "call")), "{path:?}");
        assert!(path.contains(&("ledger", "api", "reply ok")), "{path:?}");
        assert!(
            retried
                .hops
                .iter()
                .all(|h| h.arrived.is_none_or(|a| a >= h.sent))
        );
        assert_eq!(retried.origin, "user");
        // The hops arrive 1ms after they are sent (the network's latency).
        let first = &retried.hops[0];
        assert_eq!(
            first.arrived.unwrap() - first.sent,
            SimDuration::from_millis(1)
        );
    }

    // Reads through a cache: hits, and misses that read the database.
    let mut p = Player::new("stale-cache", story("stale-cache"), Some("short-ttl"), None).unwrap();
    p.seek(SimTime::ZERO + SimDuration::from_secs(3600));
    while !p.work(u64::MAX / 2) {}
    {
        let o = p.observed.borrow();
        let answers: Vec<(String, bool)> =
            o.requests.iter().flat_map(|r| r.cache_answers()).collect();
        assert!(answers.iter().any(|(c, hit)| c == "cache" && *hit));
        let missed = o
            .requests
            .iter()
            .find(|r| r.cache_answers().iter().any(|(_, hit)| !hit));
        if let Some(r) = missed {
            assert!(r.hops.iter().any(|h| h.from == "cache" && h.to == "db"));
        }
    }

    // Quorum reads name the replicas that answered.
    let mut p = Player::new("cap", story("cap"), Some("ap"), None).unwrap();
    p.seek(SimTime::ZERO + SimDuration::from_secs(3));
    while !p.work(u64::MAX / 2) {}
    let o = p.observed.borrow();
    assert!(
        o.requests.iter().any(|r| !r.replicas_read().is_empty()),
        "{:?}",
        o.requests.back()
    );
    // A read says whose write it returned and when that write was made,
    // in the story's terms, never the write's internal id.
    let outcomes: Vec<&str> = o
        .requests
        .iter()
        .filter_map(|r| r.outcome.as_deref())
        .collect();
    assert!(
        outcomes
            .iter()
            .any(|w| w.starts_with("got the write ") && w.contains("-users made at ")),
        "{outcomes:?}"
    );
    assert!(!outcomes.iter().any(|w| w.starts_with("got value")));
}

/// Clicking a request in the list opens it.
#[test]
fn clicking_a_request_shows_its_path() {
    let mut h = harness();
    h.get_by_label("double-charge").click();
    h.run();
    {
        let p = h.state_mut().player.as_mut().unwrap();
        p.seek(SimTime::ZERO + SimDuration::from_secs(2));
        while !p.work(u64::MAX / 2) {}
    }
    h.run();
    let number = h
        .state()
        .player
        .as_ref()
        .unwrap()
        .observed
        .borrow()
        .requests
        .back()
        .unwrap()
        .number;
    h.get_by_label_contains(&format!("#{number} order")).click();
    h.run();
    assert_eq!(h.state().inspected, Some(number));
    assert!(h.query_by_label("Back to the list").is_some());
    assert!(
        h.query_by_label_contains("1 attempt (0 retries)").is_some()
            || h.query_by_label_contains("retr").is_some()
    );
    assert!(h.query_by_label("user -> api").is_some());
}

/// A line drawn across the system partitions its two sides; the session
/// exports and replays to the same fingerprint.
#[test]
fn a_drawn_partition_splits_the_system_and_replays() {
    use egui::{Pos2, pos2};
    use std::collections::BTreeMap;
    let positions: BTreeMap<String, Pos2> = [
        ("a", pos2(0.0, 0.0)),
        ("b", pos2(10.0, 0.0)),
        ("c", pos2(10.0, 10.0)),
    ]
    .into_iter()
    .map(|(n, p)| (n.to_string(), p))
    .collect();
    // A vertical line at x = 5: a on one side, b and c on the other.
    let [one, two] = sim_web::topology::split_by_line(&positions, pos2(5.0, -5.0), pos2(5.0, 20.0));
    let mut sides = [one, two];
    sides.sort();
    assert_eq!(
        sides,
        [
            vec!["a".to_string()],
            vec!["b".to_string(), "c".to_string()]
        ]
    );

    let mut p = Player::new("cap", story("cap"), Some("cp"), Some(4)).unwrap();
    p.seek(SimTime::ZERO + SimDuration::from_secs(2));
    while !p.work(u64::MAX / 2) {}
    let names: Vec<String> = p.sim().nodes().map(|(_, n)| n.to_string()).collect();
    let (left, right) = names.split_at(names.len() / 2);
    assert!(p.partition(vec![left.to_vec(), Vec::new()]).is_err());
    p.partition(vec![left.to_vec(), right.to_vec()]).unwrap();
    p.run_to_end();
    let live = p.fingerprint();
    assert!(
        p.observed
            .borrow()
            .marks
            .iter()
            .any(|m| m.fault && m.text.starts_with("partition line"))
    );
    let mut again = Player::new("exported", &p.export(), Some("cp"), Some(4)).unwrap();
    again.run_to_end();
    assert_eq!(again.fingerprint(), live);
    assert_ne!(
        live,
        sim_web::story_fingerprint("cap", Some("cp"), 4).unwrap()
    );
}

/// A broker's label shows what each partition holds and how far behind
/// each consumer group is: the group that falls behind, growing.
#[test]
fn a_brokers_label_shows_its_partitions_and_each_groups_lag() {
    use sim_web::topology::{kind_of, links, node_label};
    let mut p = Player::new("fell-behind", story("fell-behind"), None, None).unwrap();
    let names: Vec<String> = p.sim().nodes().map(|(_, n)| n.to_string()).collect();
    let edges = links(&p.spec, &names);
    let orders = p.sim().node_id("orders").unwrap();
    let behind = |p: &Player| -> u64 {
        let label = node_label(
            p.sim(),
            orders,
            "orders",
            kind_of(&p.spec, "orders"),
            &edges,
        );
        assert!(label.starts_with("orders ["), "{label}");
        assert_eq!(
            label.split(' ').count(),
            8,
            "four partitions, one group: {label}"
        );
        let lag = label.split("emails ").nth(1).expect("the group's lag");
        lag.trim_end_matches(" behind").parse().expect(&label)
    };
    // Drawn beside the node: a bar per partition, its unfinished part
    // orange, on one scale.
    let drawn = |p: &Player| {
        let kind = kind_of(&p.spec, "orders").unwrap();
        let badge = (kind.badge)(p.sim(), orders).expect("a broker has a badge");
        sim_web::bars::layout(egui::pos2(100.0, 100.0), 32.0, &badge.bars)
    };
    let orange =
        |rows: &[sim_web::bars::Row]| -> f32 { rows[0].bars.iter().map(|(_, b)| b.height()).sum() };
    p.seek(SimTime::ZERO + SimDuration::from_secs(20));
    while !p.work(u64::MAX / 2) {}
    let early = behind(&p);
    let early_bars = drawn(&p);
    p.seek(SimTime::ZERO + SimDuration::from_secs(60));
    while !p.work(u64::MAX / 2) {}
    let later = behind(&p);
    assert!(early > 500 && later > early + 1000, "{early} then {later}");
    let rows = drawn(&p);
    assert_eq!(rows.len(), 1, "one topic, one row");
    assert_eq!(rows[0].bars.len(), 4, "a bar per partition");
    let tallest = rows[0]
        .bars
        .iter()
        .map(|(w, _)| w.height())
        .fold(0.0, f32::max);
    assert_eq!(
        tallest,
        sim_web::bars::ROW_HEIGHT,
        "the fullest reaches the top"
    );
    for (whole, part) in &rows[0].bars {
        assert!(part.height() <= whole.height() && part.bottom() == whole.bottom());
        assert!(
            whole.height() > 0.5 * tallest,
            "the key spreads messages evenly"
        );
    }
    // The orange is the group's lag: one group, so the slowest is it.
    let kind = kind_of(&p.spec, "orders").unwrap();
    let badge = (kind.badge)(p.sim(), orders).unwrap();
    assert_eq!(badge.bars[0].part.iter().sum::<u64>(), later);
    assert!(
        badge.bars[0]
            .part
            .iter()
            .zip(&badge.bars[0].full)
            .all(|(p, f)| p <= f)
    );
    assert!(orange(&rows) > 0.0 && orange(&early_bars) > 0.0);
    // Two topics stack within the node's height, clear of its label.
    let two = sim_core::scenario::kinds::Bars {
        label: "b".into(),
        full: vec![3],
        part: vec![0],
    };
    let stacked = sim_web::bars::layout(egui::pos2(0.0, 0.0), 32.0, &[badge.bars[0].clone(), two]);
    assert_eq!(stacked.len(), 2);
    let lowest = stacked[1].bars[0].0.bottom();
    assert!(lowest <= 32.0 && stacked[0].bars[0].0.bottom() < stacked[1].bars[0].0.top());
    // Consumers do not talk to one another: no line between members.
    assert!(!edges.contains(&("emails-0".to_string(), "emails-1".to_string())));
}

/// Node labels say what the picture's colours cannot: a cold cache, its
/// keys once warm, a node cut off by a partition, busy workers.
#[test]
fn node_labels_show_cold_caches_cut_off_nodes_and_load() {
    use sim_web::topology::{kind_of, links, node_label};
    let mut p = Player::new("stale-cache", story("stale-cache"), Some("short-ttl"), None).unwrap();
    let names: Vec<String> = p.sim().nodes().map(|(_, n)| n.to_string()).collect();
    let edges = links(&p.spec, &names);
    let cache = p.sim().node_id("cache").unwrap();
    assert_eq!(
        node_label(p.sim(), cache, "cache", kind_of(&p.spec, "cache"), &edges),
        "cache (cold)"
    );
    p.seek(SimTime::ZERO + SimDuration::from_secs(60));
    while !p.work(u64::MAX / 2) {}
    let warm = node_label(p.sim(), cache, "cache", kind_of(&p.spec, "cache"), &edges);
    assert!(
        warm.starts_with("cache ") && warm.ends_with(" keys"),
        "{warm}"
    );
    // A crash empties it: a cold restart.
    p.act("crash", "cache", None).unwrap();
    p.act("restart", "cache", None).unwrap();
    p.seek(p.now() + SimDuration::from_nanos(10));
    while !p.work(u64::MAX / 2) {}
    assert_eq!(
        node_label(p.sim(), cache, "cache", kind_of(&p.spec, "cache"), &edges),
        "cache (cold)"
    );

    // Cut the link between the API and the ledger: the ledger, whose only
    // link that is, is cut off; the API still hears the shop.
    let mut p = Player::new("double-charge", story("double-charge"), None, None).unwrap();
    let names: Vec<String> = p.sim().nodes().map(|(_, n)| n.to_string()).collect();
    let edges = links(&p.spec, &names);
    let ledger = p.sim().node_id("ledger").unwrap();
    p.seek(SimTime::ZERO + SimDuration::from_secs(1));
    while !p.work(u64::MAX / 2) {}
    assert!(
        !node_label(
            p.sim(),
            ledger,
            "ledger",
            kind_of(&p.spec, "ledger"),
            &edges
        )
        .contains("cut off")
    );
    p.act("partition", "api", Some("ledger")).unwrap();
    p.seek(p.now() + SimDuration::from_millis(1));
    while !p.work(u64::MAX / 2) {}
    assert_eq!(
        node_label(
            p.sim(),
            ledger,
            "ledger",
            kind_of(&p.spec, "ledger"),
            &edges
        ),
        "ledger (cut off)"
    );
    let api = p.sim().node_id("api").unwrap();
    let label = node_label(p.sim(), api, "api", kind_of(&p.spec, "api"), &edges);
    assert!(!label.contains("cut off"), "{label}");
    // Requests keep arriving at the API, so its workers are busy (they
    // wait on the ledger, which cannot answer).
    p.seek(p.now() + SimDuration::from_millis(500));
    while !p.work(u64::MAX / 2) {}
    let label = node_label(p.sim(), api, "api", kind_of(&p.spec, "api"), &edges);
    assert!(label.contains("busy="), "{label}");
}

/// The app only watches: a story played with its observer and samples, in
/// slices, ends on the fingerprint of the bare run the CLI makes.
#[test]
fn watching_a_run_does_not_change_it() {
    for (name, variant) in [
        ("double-charge", Some("no-idempotency")),
        ("cap", Some("ap")),
        ("cascading-failure", None),
    ] {
        let scenario = sim_core::scenario::load(name, name, story(name)).unwrap();
        let spec = scenario.resolve(variant, &[]).unwrap();
        let mut bare = sim_core::scenario::build(&spec, 9).unwrap();
        let expected = format!("{:016x}", bare.run().fingerprint.0);
        let mut p = Player::new(name, story(name), variant, Some(9)).unwrap();
        p.speed = 50.0;
        p.playing = true;
        while !p.is_finished() {
            p.tick(0.016, 5_000);
        }
        assert_eq!(p.fingerprint(), expected, "{name}");
    }
}

/// The story panel folds away, giving the system its room, and comes back.
#[test]
fn the_story_panel_hides_and_comes_back() {
    let mut h = harness();
    h.get_by_label("double-charge").click();
    h.run();
    assert!(h.query_by_label("What to look for").is_some());
    h.get_by_label("Hide the story").click();
    h.run();
    assert!(h.query_by_label("What to look for").is_none());
    assert!(!h.state().show_story);
    h.get_by_label("Show the story").click();
    h.run();
    assert!(h.query_by_label("What to look for").is_some());
}

/// A replica group's leader is labelled as such, by its kind's badge,
/// and its followers are not.
#[test]
fn the_leader_of_a_replica_group_is_labelled() {
    use sim_web::topology::{kind_of, links, node_label};
    let mut p = Player::new("cap", story("cap"), None, None).unwrap();
    p.seek(SimTime::ZERO + SimDuration::from_millis(500));
    while !p.work(u64::MAX / 2) {}
    let names: Vec<String> = p.sim().nodes().map(|(_, n)| n.to_string()).collect();
    let edges = links(&p.spec, &names);
    let labels: Vec<String> = names
        .iter()
        .filter(|n| kind_of(&p.spec, n).is_some_and(|k| k.name == "replica"))
        .map(|n| {
            let id = p.sim().node_id(n).unwrap();
            node_label(p.sim(), id, n, kind_of(&p.spec, n), &edges)
        })
        .collect();
    assert_eq!(
        labels.iter().filter(|l| l.ends_with(" (leader)")).count(),
        1,
        "{labels:?}"
    );
    assert!(labels.len() >= 3, "{labels:?}");
}

/// The lock story's nodes say who holds the lock: the lock names its
/// holder and token, the holder says it holds that token, and storage
/// shows its counter. During the reconciler's first pause (10 s to 18 s)
/// its lease runs out and the lock passes to the api worker, while the
/// paused reconciler still believes it holds its old token.
#[test]
fn the_lock_story_labels_holders_and_tokens() {
    use sim_web::topology::{kind_of, links, node_label};
    let mut p = Player::new("lost-lock", story("lost-lock"), Some("no-fencing"), None).unwrap();
    let names: Vec<String> = p.sim().nodes().map(|(_, n)| n.to_string()).collect();
    let edges = links(&p.spec, &names);
    let mut labels_at = |ms: u64| {
        p.seek(SimTime::ZERO + SimDuration::from_millis(ms));
        while !p.work(u64::MAX / 2) {}
        ["lock", "reconciler", "db"].map(|node| {
            let id = p.sim().node_id(node).unwrap();
            node_label(p.sim(), id, node, kind_of(&p.spec, node), &edges)
        })
    };
    let token = |label: &str| -> u64 { label.rsplit('#').next().unwrap().parse().unwrap() };
    let [_, _, db] = labels_at(9_000);
    assert!(db.starts_with("db = "), "{db}");
    // Sampled through the pause's last two seconds: the lock is free
    // between the api worker's rounds, or the api worker's, with a newer
    // token than the one the reconciler still holds.
    let mut seen_api = 0;
    for ms in (16_000..18_000).step_by(100) {
        let [lock, reconciler, _] = labels_at(ms);
        assert!(reconciler.contains("holds #"), "{ms} ms: {reconciler}");
        if lock == "lock (free)" {
            continue;
        }
        assert!(lock.starts_with("lock api-worker #"), "{ms} ms: {lock}");
        assert!(token(&reconciler) < token(&lock), "{reconciler} / {lock}");
        seen_api += 1;
    }
    assert!(seen_api >= 5, "{seen_api}");
}

/// The Raft story's members say their role and term. In the sane variant
/// one member leads in term 1 and the rest follow it; in the storm the
/// terms have climbed far past one by 20 s.
#[test]
fn raft_members_label_their_role_and_term() {
    use sim_web::topology::{kind_of, links, node_label};
    let labels = |variant: &str| -> Vec<String> {
        let text = story("election-storm");
        let mut p = Player::new("election-storm", text, Some(variant), None).unwrap();
        let names: Vec<String> = p.sim().nodes().map(|(_, n)| n.to_string()).collect();
        let edges = links(&p.spec, &names);
        p.seek(SimTime::ZERO + SimDuration::from_secs(20));
        while !p.work(u64::MAX / 2) {}
        (0..5)
            .map(|i| {
                let node = format!("config-{i}");
                let id = p.sim().node_id(&node).unwrap();
                node_label(p.sim(), id, &node, kind_of(&p.spec, &node), &edges)
            })
            .collect()
    };
    let sane = labels("sane");
    let leaders = sane
        .iter()
        .filter(|l| l.contains("(leader, term 1)"))
        .count();
    let followers = sane
        .iter()
        .filter(|l| l.contains("(follower, term 1)"))
        .count();
    assert_eq!((leaders, followers), (1, 4), "{sane:?}");
    let storm = labels("short");
    let term = |l: &String| -> u64 {
        let t = l.rsplit("term ").next().unwrap();
        t.trim_end_matches(')').parse().unwrap()
    };
    assert!(storm.iter().map(term).max().unwrap() >= 10, "{storm:?}");
}

/// A Raft group's elections are on the timeline (who was elected, in
/// which term; who stopped leading), and its traffic tells votes and
/// heartbeats from the work: while the minority side's west members stand
/// again and again, their link carries votes; a quiet leader's links
/// carry heartbeats; the dots are drawn in the votes' and heartbeats'
/// own colours and sizes.
#[test]
fn raft_elections_are_marked_and_votes_and_heartbeats_drawn_apart() {
    use sim_web::observe::LinkFlow;
    use sim_web::topology::{BEAT, VOTE, dots};
    let mut p = Player::new("minority-side", story("minority-side"), Some("plain"), None).unwrap();
    p.run_to_end();
    let marks = p.observed.borrow().marks.clone();
    let elected: Vec<&str> = marks
        .iter()
        .filter(|m| !m.fault && m.text.contains("elected leader of term"))
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(
        elected.first(),
        Some(&"kv-0: elected leader of term 1"),
        "{elected:?}"
    );
    assert!(elected.len() >= 3, "{elected:?}");
    assert!(
        marks
            .iter()
            .any(|m| m.text == "kv-0: stops leading (term 1)" && m.node.as_deref() == Some("kv-0")),
        "{marks:?}"
    );

    // During the cut: votes between the two west members; heartbeats from
    // the east's leader to its followers.
    let mut p = Player::new("minority-side", story("minority-side"), Some("plain"), None).unwrap();
    p.seek(SimTime::ZERO + SimDuration::from_secs(25));
    while !p.work(u64::MAX / 2) {}
    p.observed.borrow_mut().take_flows();
    p.seek(SimTime::ZERO + SimDuration::from_secs(30));
    while !p.work(u64::MAX / 2) {}
    let flows = p.observed.borrow_mut().take_flows();
    let between =
        |a: &str, b: &str| -> Option<&LinkFlow> { flows.iter().find(|f| f.from == a && f.to == b) };
    let west = between("kv-0", "kv-4").expect("the west members talk");
    assert!(west.votes > 10, "{west:?}");
    assert_eq!(west.votes, west.sent, "only votes: {west:?}");
    let beats: u64 = flows
        .iter()
        .filter(|f| ["kv-1", "kv-2", "kv-3"].contains(&f.from.as_str()))
        .map(|f| f.beats)
        .sum();
    assert!(beats > 100, "{flows:?}");
    let drawn = dots(west, 7);
    assert!(
        !drawn.is_empty() && drawn.iter().all(|d| d.colour == VOTE),
        "{drawn:?}"
    );
    let quiet = LinkFlow {
        sent: 12,
        beats: 8,
        ..LinkFlow::default()
    };
    let drawn = dots(&quiet, 7);
    let pale = drawn.iter().filter(|d| d.colour == BEAT).count();
    assert!(pale > 0 && pale < drawn.len(), "{drawn:?}");
    assert!(drawn.iter().all(|d| d.colour != VOTE));
    let big = drawn.iter().map(|d| d.size).fold(0.0, f32::max);
    assert!(
        drawn
            .iter()
            .filter(|d| d.colour == BEAT)
            .all(|d| d.size < big)
    );
}

/// An `always` expectation is judged at the same checkpoints in the app
/// as in the CLI, however the run is sliced: the same verdict, saying
/// when it broke, and the same fingerprint.
#[test]
fn an_always_expectation_gets_the_same_verdict_in_the_app() {
    let text = story("queues").to_string();
    let s = sim_core::scenario::load("queues", "queues.toml", &text).unwrap();
    // The story's first expectation, watched at every checkpoint.
    let first = text.find("[[expect]]").unwrap();
    let watched = format!(
        "{}[[expect]]\nwhen = \"always\"{}",
        &text[..first],
        &text[first + "[[expect]]".len()..]
    );
    let variant = s.spec.expectations[0]
        .variant
        .as_ref()
        .map(|v| v.get_ref().clone());
    let spec = sim_core::scenario::load("queues", "queues.toml", &watched)
        .unwrap()
        .resolve(variant.as_deref(), &[])
        .unwrap();
    let mut built = sim_core::scenario::build(&spec, 3).unwrap();
    let report = built.run();
    let cli = sim_core::scenario::judge(&spec, variant.as_deref(), &built, &report).unwrap();
    let mut p = Player::new("queues", &watched, variant.as_deref(), Some(3)).unwrap();
    // Played in uneven slices, as frames play it.
    while p.outcomes().is_none() {
        p.seek(p.now() + SimDuration::from_millis(1_337));
        while !p.work(5_000) {}
    }
    assert_eq!(p.fingerprint(), report.fingerprint.to_string());
    let app = p.outcomes().unwrap()[0].verdict.as_ref().unwrap();
    let cli = cli[0].verdict.as_ref().unwrap();
    assert_eq!(app, cli);
    assert!(app.metric.starts_with("always "), "{app:?}");
}
