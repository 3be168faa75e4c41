//! The app driven as a user would, through egui_kittest (AccessKit, no
//! GPU): open a story, switch variants, play, act on the system, share.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sim_web::App;
use sim_web::player::Player;

fn harness() -> Harness<'static, App> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.ui(ui), App::new())
}

fn shows(h: &Harness<'_, App>, text: &str) -> bool {
    h.query_by_label_contains(text).is_some()
}

#[test]
fn opening_a_story_toggling_a_variant_changes_what_it_teaches() {
    let mut h = harness();
    h.get_by_label("double-charge").click();
    h.run();
    assert!(h.query_by_label("The double charge").is_some());
    assert!(h.query_by_label_contains("What to look for").is_some());

    h.get_by_label("no-idempotency").click();
    h.run();
    h.get_by_label("Run to end").click();
    h.run();
    assert!(shows(&h, "ledger.duplicate_charges > 0 (was "));
    assert!(!shows(&h, "ledger.duplicate_charges > 0 (was 0)"));
    assert!(h.query_by_label("FAIL").is_none(), "the lesson holds");

    h.get_by_label("idempotency-keys").click();
    h.run();
    h.get_by_label("Run to end").click();
    h.run();
    assert!(shows(&h, "ledger.duplicate_charges == 0 (was 0)"));
    assert_eq!(
        h.state().player.as_ref().unwrap().variant.as_deref(),
        Some("idempotency-keys")
    );
}

#[test]
fn every_story_opens_and_its_expectations_hold_in_the_app() {
    let mut h = harness();
    let names: Vec<&str> = h.state().stories.iter().map(|s| s.name).collect();
    assert_eq!(names.len(), sim_core::scenario::STORIES.len());
    for name in names {
        h.get_by_label(name).click();
        h.run();
        let app = h.state_mut();
        assert!(app.error.is_none(), "{name}: {:?}", app.error);
        app.player.as_mut().unwrap().run_to_end();
        let outcomes = app.player.as_ref().unwrap().outcomes().unwrap();
        // The base run's expectations (those without a variant) hold.
        for o in outcomes {
            let v = o.verdict.as_ref().unwrap();
            assert!(v.holds, "{name}: {} was {}", v.metric, v.actual);
        }
    }
}

#[test]
fn playing_advances_time_in_slices_and_seeking_back_replays_the_same_past() {
    let (_, text) = sim_core::scenario::STORIES
        .iter()
        .find(|(n, _)| *n == "retry-storm")
        .unwrap();
    let mut p = Player::new("retry-storm", text, None, Some(3)).unwrap();
    p.speed = 10.0;
    p.playing = true;
    // A frame of 50ms at 10x: half a second of simulated time.
    p.tick(0.05, u64::MAX / 2);
    assert_eq!(p.now().as_nanos(), 500_000_000);
    // A tiny budget leaves the simulation behind its target: no frame
    // ever does unbounded work.
    p.tick(0.05, 10);
    assert!(p.now() < p.target);
    while !p.work(1000) {}
    let halfway = p.target;
    let print_at_halfway = p.fingerprint();
    p.run_to_end();
    let whole = p.fingerprint();
    p.seek(halfway);
    while !p.work(1000) {}
    assert_eq!(
        p.fingerprint(),
        print_at_halfway,
        "the replayed past is the same"
    );
    p.seek(p.end);
    while !p.work(u64::MAX / 2) {}
    assert_eq!(p.fingerprint(), whole);
    assert!(p.is_finished());
    // The fingerprint is the CLI's for the same scenario and seed.
    assert_eq!(
        whole,
        sim_web::story_fingerprint("retry-storm", None, 3).unwrap()
    );
}

/// A crash and a cut link made by clicking, exported as a scenario file:
/// the file replays to the same fingerprint.
#[test]
fn actions_in_the_browser_export_to_a_file_that_replays_exactly() {
    let (_, text) = sim_core::scenario::STORIES
        .iter()
        .find(|(n, _)| *n == "sick-node")
        .unwrap();
    let mut p = Player::new("sick-node", text, None, Some(5)).unwrap();
    let names: Vec<String> = p.sim().nodes().map(|(_, n)| n.to_string()).collect();
    let (a, b) = (names[0].clone(), names[names.len() - 1].clone());
    p.seek(sim_core::SimTime::ZERO + sim_core::SimDuration::from_secs(3));
    while !p.work(u64::MAX / 2) {}
    p.act("crash", &b, None).unwrap();
    p.seek(sim_core::SimTime::ZERO + sim_core::SimDuration::from_secs(6));
    while !p.work(u64::MAX / 2) {}
    p.act("restart", &b, None).unwrap();
    p.act("partition", &a, Some(&b)).unwrap();
    p.run_to_end();
    let live = p.fingerprint();

    let exported = p.export();
    let mut again = Player::new("exported", &exported, None, Some(5)).unwrap();
    again.run_to_end();
    assert_eq!(again.fingerprint(), live);
    // Without the actions, the run differs.
    assert_ne!(
        sim_web::story_fingerprint("sick-node", None, 5).unwrap(),
        live
    );
}

#[test]
fn clicking_a_node_crashes_it() {
    let mut h = harness();
    h.get_by_label("sick-node").click();
    h.run();
    let first = h
        .state()
        .player
        .as_ref()
        .unwrap()
        .sim()
        .nodes()
        .next()
        .unwrap()
        .1
        .to_string();
    h.state_mut().selection.node = Some(first.clone());
    h.run();
    h.get_by_label("Crash").click();
    h.run();
    let p = h.state().player.as_ref().unwrap();
    assert_eq!(p.user_faults.len(), 1);
    assert_eq!(p.user_faults[0].node, first);
    assert_eq!(p.user_faults[0].action, "crash");
}

#[test]
fn a_share_link_reopens_the_same_run_and_a_bad_one_says_why() {
    let mut app = App::new();
    app.open_story("cap");
    app.choose_variant(Some("ap"));
    let fragment = app.share_fragment().unwrap();
    let mut p = app.player.take().unwrap();
    p.run_to_end();

    let mut other = App::new();
    other.open_link(&format!("#{fragment}"));
    assert!(other.error.is_none(), "{:?}", other.error);
    let q = other.player.as_mut().unwrap();
    assert_eq!(q.name, "cap");
    assert_eq!(q.variant.as_deref(), Some("ap"));
    q.run_to_end();
    assert_eq!(q.fingerprint(), p.fingerprint());

    let mut broken = App::new();
    broken.open_link("#v1/1/ap/AAAA");
    assert!(broken.player.is_none());
    let e = broken.error.unwrap();
    assert!(e.starts_with("This link cannot be opened"), "{e}");
    // And the page still draws, with the message.
    let mut h = Harness::builder()
        .with_size(egui::vec2(1000.0, 700.0))
        .build_ui_state(|ui, app: &mut App| app.ui(ui), {
            let mut a = App::new();
            a.open_link("#v1/x");
            a
        });
    h.run();
    assert!(
        h.query_by_label_contains("This link cannot be opened")
            .is_some()
    );
}

/// A scenario whose retries never give up: its calls pile up until the
/// run's memory budget stops it.
const STORM: &str = r#"
title = "storm"
summary = "unlimited retries against a slow service"
[run]
duration = "600s"
memory_budget = "8MiB"
[[node]]
name = "user"
kind = "client"
target = "api"
rate = "1000/s"
timeout = "10ms"
retry = { attempts = 1000000000, backoff = "immediate" }
[[node]]
name = "api"
kind = "service"
workers = 1
service_time = "50ms"
[[expect]]
metric = "user.ok"
op = ">="
value = 0
"#;

fn link_to(text: &str) -> String {
    sim_core::scenario::share_fragment(&sim_core::scenario::Shared {
        text: text.to_string(),
        variant: None,
        seed: 1,
    })
}

/// A share link is untrusted input: the web app applies the CLI's limits.
/// A rate no one can mean is refused with the loader's message; a run
/// that outgrows its memory budget stops with the reason, judges nothing,
/// and the app goes on working.
#[test]
fn hostile_share_links_get_a_message_and_the_app_keeps_working() {
    let trillion = sim_core::scenario::STORIES
        .iter()
        .find(|(n, _)| *n == "double-charge")
        .unwrap()
        .1
        .replacen("rate = \"50/s\"", "rate = \"1000000000000/s\"", 1);
    let mut h = harness();
    h.state_mut().open_link(&format!("#{}", link_to(&trillion)));
    h.run();
    assert!(
        shows(&h, "a rate may be at most 1e6/s"),
        "the loader's words"
    );
    assert!(h.state().player.is_none());

    h.state_mut().open_link(&format!("#{}", link_to(STORM)));
    // It plays as it opens (so `run` would never settle): one frame.
    h.step();
    assert!(h.state().error.is_none(), "{:?}", h.state().error);
    h.get_by_label("Run to end").click();
    h.run();
    let p = h.state().player.as_ref().unwrap();
    assert!(p.is_finished());
    let why = p.cut_short().expect("the memory budget stopped it");
    assert!(why.contains("over its memory budget of 8.0 MiB"), "{why}");
    assert!(p.now().as_nanos() < 60_000_000_000, "stopped early");
    assert!(shows(&h, "stopped early, so it is not a result"));
    assert!(shows(&h, "not judged: the run was cut short"));
    assert!(!shows(&h, "ok  "), "nothing is judged held");

    // The app still works: a story opens and plays to its end.
    h.get_by_label("double-charge").click();
    h.run();
    let app = h.state_mut();
    app.player.as_mut().unwrap().run_to_end();
    assert!(app.player.as_ref().unwrap().cut_short().is_none());
}

/// A learner answers a prediction before the run, plays it to the end,
/// and the run grades the answer: the right one is confirmed, a wrong
/// one is shown beside the run's, with the number that decides it.
#[test]
fn a_prediction_is_answered_before_the_run_and_graded_by_it() {
    let mut h = harness();
    h.get_by_label("double-charge").click();
    h.run();
    h.get_by_label("no-idempotency").click();
    h.run();
    assert!(shows(&h, "Predict, then watch"));
    assert!(shows(
        &h,
        "Choose an answer, then play: the run grades it when it ends."
    ));
    h.get_by_label("Between 50 and 1,000: several in every hundred orders")
        .click();
    h.run();
    assert!(shows(&h, "The run grades your answer when it ends."));
    h.get_by_label("Run to end").click();
    h.run();
    assert!(
        shows(&h, "You were right."),
        "the right answer is confirmed"
    );
    assert!(shows(&h, "Measured: ledger.duplicate_charges = "));

    // The other variant's prediction, answered wrongly.
    h.get_by_label("idempotency-keys").click();
    h.run();
    h.get_by_label("They stop: with keys, nothing needs retrying")
        .click();
    h.run();
    h.get_by_label("Run to end").click();
    h.run();
    assert!(shows(&h, "Not this time."));
    assert!(shows(
        &h,
        "They stop: with keys, nothing needs retrying (your answer)"
    ));
    assert!(shows(&h, "(the run's answer)"));
    assert!(shows(&h, "Why: a retry carries the same key"));
    assert!(shows(
        &h,
        "Why not your answer: keys do not stop replies from being lost"
    ));

    // Back to the first variant: the answer is remembered, and graded
    // again once that run ends.
    h.get_by_label("no-idempotency").click();
    h.run();
    assert!(shows(&h, "The run grades your answer when it ends."));
}

/// A prediction with `at` is graded when playback reaches that time, on
/// the numbers then (those `faultline run` reports), while the run goes on.
#[test]
fn a_prediction_at_a_time_is_graded_when_the_run_gets_there() {
    let mut h = harness();
    h.get_by_label("thundering-herd").click();
    h.run();
    h.get_by_label("no-protection").click();
    h.run();
    let answer = "Thousands: the herd has not passed yet";
    h.get_by_label(answer).click();
    h.run();
    assert!(shows(&h, "The run grades your answer at t = 50s."));
    let seek = |h: &mut Harness<'_, App>, s: u64| {
        let p = h.state_mut().player.as_mut().unwrap();
        p.seek(sim_core::SimTime::ZERO + sim_core::SimDuration::from_secs(s));
        while !p.work(u64::MAX / 2) {}
    };
    seek(&mut h, 49);
    h.run();
    assert!(shows(&h, "The run grades your answer at t = 50s."));
    seek(&mut h, 51);
    h.run();
    assert!(!h.state().player.as_ref().unwrap().is_finished());
    assert!(shows(&h, &format!("{answer} (your answer, and the run's)")));
    assert!(shows(&h, "Measured: db.queue_depth.now = 6902."));
    // The question about the whole run still waits for the end.
    assert!(shows(
        &h,
        "Choose an answer, then play: the run grades it when it ends."
    ));
    // Stepping event by event across the time grades it the same.
    let p = h.state_mut().player.as_mut().unwrap();
    p.seek(sim_core::SimTime::ZERO + sim_core::SimDuration::from_millis(49_990));
    while !p.work(u64::MAX / 2) {}
    let at = sim_core::SimTime::ZERO + sim_core::SimDuration::from_secs(50);
    assert!(p.answered(1).is_none());
    while p.now() <= at {
        p.step();
    }
    let stepped = p.answered(1).expect("graded once stepped past 50s");
    assert_eq!(stepped.measured, "db.queue_depth.now = 6902");
}

#[test]
fn the_home_page_leads_along_the_path_and_counts_what_is_done() {
    let mut h = harness();
    assert!(shows(&h, "Faultline simulates small distributed systems"));
    assert!(shows(&h, "0 of 30 stories done"));
    assert!(shows(&h, "Start here: Queues hide overload"));
    assert!(shows(&h, "A queue that never refuses hides overload"));

    // A chapter starts at its first story; a run to the end finishes it.
    h.get_by_label("Start chapter 2").click();
    h.run();
    assert_eq!(h.state().player.as_ref().unwrap().name, "double-charge");
    h.key_press(egui::Key::Space);
    h.run_steps(2);
    assert!(h.state().player.as_ref().unwrap().playing, "space plays");
    h.key_press(egui::Key::Space);
    h.run_steps(2);
    assert!(!h.state().player.as_ref().unwrap().playing, "and pauses");
    h.get_by_label("Run to end").click();
    h.run();
    assert!(h.state().progress.is_done("double-charge"));
    assert!(h.state().progress.unsaved, "the browser is told to keep it");
    h.get_by_label("Next on the path: The timeout that was too aggressive")
        .click();
    h.run();
    assert_eq!(
        h.state().player.as_ref().unwrap().name,
        "aggressive-timeout"
    );

    // Home again: one done, and the chapter goes on where it stopped.
    h.get_by_label("Home").click();
    h.run();
    assert!(h.state().player.is_none());
    assert!(shows(&h, "1 of 30 stories done; about 282 minutes to go."));
    h.get_by_label("Start chapter 2").click();
    h.run();
    assert_eq!(
        h.state().player.as_ref().unwrap().name,
        "aggressive-timeout"
    );
    // The places a browser test clicks are published with the state.
    let state = sim_web::app::state_json(h.state());
    for place in ["\"home\":[", "\"play\":[", "\"to-end\":["] {
        assert!(state.contains(place), "{place} in {state}");
    }
}

#[test]
fn progress_saved_by_the_browser_is_shown_when_the_page_comes_back() {
    let mut app = App::new();
    app.progress = sim_web::home::Progress::from_json(r#"{"done":["queues","tail-at-scale"]}"#);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.ui(ui), app);
    h.run();
    assert!(shows(&h, "2 of 30 stories done"));
    assert!(shows(&h, "Continue: The double charge"));
    h.get_by_label("Continue: The double charge").click();
    h.run();
    assert_eq!(h.state().player.as_ref().unwrap().name, "double-charge");
}

#[test]
fn a_challenge_is_lost_unchanged_and_won_by_its_solution() {
    use sim_web::challenge_view::Asked;
    let mut h = harness();
    h.get_by_label("queues").click();
    h.run();
    assert!(shows(&h, "Challenges"));
    h.get_by_label("Take \"Staff the surge\"").click();
    h.run();
    assert_eq!(
        h.state().player.as_ref().unwrap().variant.as_deref(),
        Some("unbounded-fifo"),
        "a challenge starts from its variant"
    );
    assert!(shows(
        &h,
        "Change at most 1 of these numbers (0 changed so far):"
    ));
    h.get_by_label("Check my try").click();
    h.run();
    assert!(shows(&h, "Not yet (user.ok.per_s = "));
    assert!(shows(&h, "Hint: 120 orders a second"));
    assert!(!h.state().progress.has_won("queues/Staff the surge"));

    // The solution, set as its slider sets it.
    h.state_mut().challenge_asked(Asked::Set(
        "node.api.workers".into(),
        toml::Value::Integer(6),
    ));
    h.run();
    assert!(shows(&h, "(1 changed so far)"));
    h.get_by_label("Check my try").click();
    h.run();
    assert!(shows(&h, "Goal reached: you won"), "the solution wins");
    assert!(h.state().progress.has_won("queues/Staff the surge"));

    // A number the challenge does not offer breaks its rules, however
    // good the result.
    h.state_mut()
        .set_parameter("node.user.rate", toml::Value::String("60/s".into()));
    h.run();
    h.get_by_label("Check my try").click();
    h.run();
    assert!(shows(
        &h,
        "You changed node.user.rate, which the challenge does not offer."
    ));
    // The verdict grew the panel: scroll to the button, as a person would.
    h.get_by_label("Leave the challenge").scroll_to_me();
    h.run();
    h.get_by_label("Leave the challenge").click();
    h.run();
    assert!(h.state().challenge.is_none());
    assert!(shows(&h, "won"), "the win is remembered");
}

/// Every number a shipped challenge offers is one of the sliders the app
/// shows for the challenge's variant.
#[test]
fn every_challenge_s_numbers_are_sliders() {
    let mut seen = 0;
    for (name, text) in sim_core::scenario::STORIES {
        let s = sim_core::scenario::load(name, name, text).unwrap();
        for c in &s.spec.challenges {
            let variant = c.variant.as_ref().map(|v| v.get_ref().as_str());
            let doc = s.document_with(variant, &[]).unwrap();
            let sliders = sim_web::params::discover(&doc);
            for path in c.change.get_ref() {
                assert!(
                    sliders.iter().any(|p| &p.path == path.get_ref()),
                    "{name}: {} is not a slider",
                    path.get_ref()
                );
            }
            seen += 1;
        }
    }
    assert!(seen >= 6, "{seen} challenges");
}

#[test]
fn the_view_is_exported_as_a_picture_and_a_video() {
    use sim_web::app::Media;
    let mut h = harness();
    h.get_by_label("double-charge").click();
    h.run();
    h.get_by_label("Save picture").click();
    h.run();
    assert_eq!(
        h.state_mut().media.take(),
        Some(Media::Picture(
            "double-charge-as-written-seed1-0s.png".into()
        ))
    );
    h.get_by_label("Record video").click();
    h.run();
    assert!(matches!(
        h.state_mut().media.take(),
        Some(Media::Video(name, s)) if name.ends_with(".webm") && s == sim_web::app::VIDEO_SECONDS
    ));
    // While the browser records, the same button stops it.
    h.state_mut().recording = true;
    h.run();
    h.get_by_label("Stop recording").click();
    h.run();
    assert_eq!(h.state_mut().media.take(), Some(Media::StopVideo));
}

#[test]
fn what_to_look_for_highlights_what_it_names() {
    let mut h = harness();
    h.get_by_label("double-charge").click();
    h.run();
    let item = "• The duplicate charges chart: it climbs all minute without keys, and stays at zero with them.";
    h.get_by_label(item).click();
    h.run();
    let focus = h.state().focused().expect("a highlight");
    assert_eq!(focus.node.as_deref(), Some("ledger"));
    assert_eq!(focus.chart.as_deref(), Some("duplicates"));
    assert_eq!(focus.line.as_deref(), Some("ledger"));
    // The CLI's words are not shown in the browser.
    assert!(!shows(
        &h,
        "ledger.duplicate_charges: orders charged more than once"
    ));
    h.get_by_label(item).click();
    h.run();
    assert_eq!(h.state().focused(), None, "a second click clears it");
}

/// Playing at 1x in frames of a 60th of a second goes forward and never
/// replays: the time slider shows the time rounded, but writes nothing
/// back unless the learner moves it.
#[test]
fn playing_in_short_frames_never_replays_the_run() {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_step_dt(1.0 / 60.0)
        .build_ui_state(|ui, app: &mut App| app.ui(ui), App::new());
    h.get_by_label("double-charge").click();
    h.run();
    let before = h.state().player.as_ref().unwrap().rebuilds;
    h.state_mut().player.as_mut().unwrap().playing = true;
    for _ in 0..90 {
        h.step();
    }
    let p = h.state().player.as_ref().unwrap();
    assert_eq!(p.rebuilds, before, "no replay while playing");
    let now = p.now().as_nanos() as f64 / 1e9;
    assert!(
        now > 1.0 && now < 2.0,
        "about 1.5s after 90 frames, not {now}"
    );
}
