//! The learner's own scenario, driven as a user would through
//! egui_kittest: a file dropped on the window runs exactly as `faultline
//! run` runs it, a broken one shows its located error in the editor, and
//! typing a fix re-runs it from the time it was at.

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use sim_web::App;

fn harness() -> Harness<'static, App> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.ui(ui), App::new())
}

fn shows(h: &Harness<'_, App>, text: &str) -> bool {
    h.query_by_label_contains(text).is_some()
}

/// A file dropped on the window, as egui hands it over natively.
#[derive(Debug)]
struct Dropped(std::path::PathBuf, Vec<u8>);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        Ok(self.1.clone())
    }
}

fn drop_file(h: &mut Harness<'_, App>, name: &str, text: &str) {
    let file = Dropped(name.into(), text.as_bytes().to_vec());
    h.input_mut().dropped_files.push(std::sync::Arc::new(file));
    h.run();
}

fn story(name: &str) -> &'static str {
    sim_core::scenario::STORIES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap()
        .1
}

/// The fingerprint `faultline run FILE` prints for `text`.
fn native(text: &str, seed: u64) -> String {
    let s = sim_core::scenario::load("f", "f.toml", text).unwrap();
    let spec = s.resolve(None, &[]).unwrap();
    let mut built = sim_core::scenario::build(&spec, seed).unwrap();
    built.run().fingerprint.to_string()
}

#[test]
fn a_dropped_file_runs_as_the_cli_runs_it() {
    let mut h = harness();
    let text = story("double-charge").replace("rate = \"50/s\"", "rate = \"60/s\"");
    drop_file(&mut h, "incident.toml", &text);
    let app = h.state_mut();
    let p = app.player.as_mut().expect("the file runs");
    assert_eq!(p.name, "incident");
    p.run_to_end();
    assert_eq!(p.fingerprint(), native(&text, 1));
    assert!(shows(&h, "incident.toml"), "the editor shows the file");
    assert!(shows(&h, "Loads as `faultline run` would load it"));
}

#[test]
fn a_broken_file_shows_where_and_a_typed_fix_runs_from_the_same_time() {
    let mut h = harness();
    let good = story("double-charge");
    drop_file(&mut h, "broken.toml", &good.replacen("title", "titel", 1));
    assert!(h.state().player.is_none(), "nothing runs");
    assert!(shows(&h, "1:1: unknown field `titel`"));
    assert!(shows(&h, "did you mean `title`?"));
    assert!(shows(&h, "<- unknown field `titel`"), "beside its line");
    assert!(shows(&h, "This scenario does not load yet"));
    let state = sim_web::app::state_json(h.state());
    assert!(state.contains(r#""line":1"#), "{state}");

    // Typed over with a fix: it runs.
    let editor = h.get_by_role(Role::MultilineTextInput);
    editor.focus();
    h.run();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_role(Role::MultilineTextInput).type_text(good);
    h.run();
    assert!(h.state().editor.as_ref().unwrap().error.is_none());
    let p = h.state_mut().player.as_mut().expect("the fixed file runs");
    let ten = sim_core::SimTime::ZERO + sim_core::SimDuration::from_secs(10);
    p.seek(ten);
    while !p.work(u64::MAX / 2) {}

    // A new error as it is typed: the run goes on, the line is named.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    let typo = good.replacen("workers = ", "wrokers = ", 1);
    h.get_by_role(Role::MultilineTextInput).type_text(&typo);
    h.run();
    let line = typo.lines().position(|l| l.starts_with("wrokers")).unwrap() + 1;
    assert!(shows(&h, &format!("{line}:1: unknown field `wrokers`")));
    assert!(h.state().player.is_some(), "the last good run stays");

    // Valid again, with a change: re-run, and back at 10 s.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    let faster = good.replace("rate = \"50/s\"", "rate = \"40/s\"");
    h.get_by_role(Role::MultilineTextInput).type_text(&faster);
    h.run();
    let p = h.state_mut().player.as_mut().unwrap();
    assert_eq!(p.target, ten, "the run restarts from the time it was at");
    assert_eq!(p.text, faster);
    p.run_to_end();
    assert_eq!(p.fingerprint(), native(&faster, 1));
}

#[test]
fn a_story_opens_in_the_editor_and_a_blank_start_runs() {
    let mut h = harness();
    h.get_by_label("Write or paste one").click();
    h.run();
    assert!(shows(&h, "yours.toml"));
    assert_eq!(h.state().player.as_ref().unwrap().name, "yours");
    h.get_by_label("double-charge").click();
    h.run();
    assert!(
        h.state().editor.is_none(),
        "a story from the library closes it"
    );
    h.get_by_label("Edit this scenario").click();
    h.run();
    let ed = h.state().editor.as_ref().expect("the editor");
    assert_eq!(ed.file, "double-charge.toml");
    assert_eq!(ed.text, story("double-charge"));
    h.get_by_label("Close the editor").click();
    h.run();
    assert!(h.state().editor.is_none());
    // Too large a file is refused with its size.
    let mut h = harness();
    drop_file(&mut h, "huge.toml", &"#".repeat(2 << 20));
    let app = h.state();
    assert!(
        app.error
            .as_deref()
            .unwrap_or("")
            .contains("huge.toml cannot be opened: it is 2097152 bytes"),
        "{:?}",
        app.error
    );
    assert!(shows(&h, "huge.toml cannot be opened"));
}

/// Clicks where the app drew widget `name`, with the pointer.
fn click_place(h: &mut Harness<'_, App>, name: &str) {
    let pos = h
        .state()
        .places
        .get(name)
        .unwrap_or_else(|| panic!("nothing is drawn as {name}"))
        .center();
    h.hover_at(pos);
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
    }
    h.run();
}

/// Picks `option` in the drop-down drawn as `name`: the entry with that
/// label in the list that opened under it (other widgets, a node of the
/// topology, may carry the same label).
fn choose(h: &mut Harness<'_, App>, name: &str, option: &str) {
    click_place(h, name);
    let combo = h.state().places[name];
    let below =
        |r: egui::Rect| r.min.y >= combo.max.y - 1.0 && (r.min.x - combo.min.x).abs() < 60.0;
    let entry = h
        .get_all_by_label(option)
        .filter(|n| below(n.rect()))
        .min_by(|a, b| a.rect().min.y.total_cmp(&b.rect().min.y))
        .unwrap_or_else(|| panic!("{name} offers no `{option}`"));
    entry.click();
    h.run();
}

/// Types `text` over what the field drawn as `name` holds, then Enter.
fn type_into(h: &mut Harness<'_, App>, name: &str, text: &str) {
    click_place(h, name);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.key_press(egui::Key::Backspace);
    h.run();
    h.event(egui::Event::Text(text.into()));
    h.run();
    h.key_press(egui::Key::Enter);
    h.run();
}

/// Issue 20: the double charge built from an empty system with the
/// palette, the wiring and the fields runs as the story written by hand.
#[test]
fn the_builder_makes_the_double_charge_from_an_empty_system() {
    let mut h = harness();
    click_place(&mut h, "empty");
    assert!(shows(&h, "my-system.toml"));
    for (kind, name) in [("client", "user"), ("service", "api"), ("ledger", "ledger")] {
        choose(&mut h, "palette", kind);
        type_into(&mut h, "node-name", name);
        click_place(&mut h, "add-node");
    }
    for (from, to) in [("user", "api"), ("api", "ledger")] {
        choose(&mut h, "from", from);
        choose(&mut h, "to", to);
        click_place(&mut h, "connect");
    }
    choose(&mut h, "from", "api");
    choose(&mut h, "to", "user");
    click_place(&mut h, "link");
    let fields: &[(&str, &[(&str, &str)])] = &[
        ("network", &[("latency", "1ms")]),
        (
            "user",
            &[
                ("rate", "50/s"),
                ("timeout", "200ms"),
                (
                    "retry",
                    r#"{ attempts = 4, backoff = "fixed", delay = "50ms" }"#,
                ),
                ("idempotency_keys", "false"),
                ("double_submit", "2%"),
                (
                    "double_submit_delay",
                    r#"{ dist = "uniform", low = "100ms", high = "600ms" }"#,
                ),
            ],
        ),
        (
            "api",
            &[
                ("workers", "16"),
                ("queue", "200"),
                (
                    "service_time",
                    r#"{ dist = "log_normal", median = "4ms", p99 = "20ms" }"#,
                ),
                ("idempotency", "false"),
            ],
        ),
        (
            "ledger",
            &[(
                "processing_time",
                r#"{ dist = "log_normal", median = "15ms", p99 = "80ms" }"#,
            )],
        ),
        ("link 0", &[("loss", "5%")]),
    ];
    for (owner, values) in fields {
        choose(&mut h, "owner", owner);
        for (field, value) in *values {
            choose(&mut h, "field", field);
            // Over the starting value, if the kind gave one.
            type_into(&mut h, "value", value);
        }
    }
    let app = h.state_mut();
    let ed = app.editor.as_ref().unwrap();
    assert!(ed.error.is_none(), "{:?}\n{}", ed.error, ed.text);
    assert!(ed.build_error.is_none(), "{:?}", ed.build_error);
    let built = ed.text.clone();
    let p = app.player.as_mut().expect("the built system runs");
    assert_eq!(p.text, built, "the picture runs the text");
    p.run_to_end();
    assert_eq!(p.fingerprint(), native(story("double-charge"), 1));
    assert_eq!(native(&built, 1), native(story("double-charge"), 1));

    // A fault on the ledger at 30 s: the text and the run have it.
    choose(&mut h, "fault", "crash");
    choose(&mut h, "fault-node", "ledger");
    type_into(&mut h, "fault-at", "30");
    click_place(&mut h, "add-fault");
    let app = h.state();
    let text = &app.editor.as_ref().unwrap().text;
    assert!(text.contains("crash = \"ledger\""), "{text}");
    let p = app.player.as_ref().unwrap();
    assert_eq!(&p.text, text);
    assert_eq!(p.faults().len(), 1, "the timeline shows the crash");
    // And one where playback is on the timeline, the time left empty.
    let p = h.state_mut().player.as_mut().unwrap();
    p.seek(sim_core::SimTime::ZERO + sim_core::SimDuration::from_secs(40));
    while !p.work(u64::MAX / 2) {}
    h.run();
    choose(&mut h, "fault", "restart");
    type_into(&mut h, "fault-at", "");
    click_place(&mut h, "add-fault");
    let text = &h.state().editor.as_ref().unwrap().text;
    assert!(
        text.contains("at = \"40000ms\"") && text.contains("restart = \"ledger\""),
        "{text}"
    );
}
