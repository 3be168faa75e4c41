//! The visual builder: a system put together from a palette instead of
//! typed. Each action edits the scenario's TOML document and writes it
//! back as the editor's text, so the text and the picture never disagree
//! and the file exports for the CLI as it is: add a node of any kind (its
//! required durations, rates and counts get a starting value), connect
//! two nodes with a call or a network link, set any field of a node, the
//! run or the network (a value as `--set` takes it, beside the field's
//! documentation from the format reference), and add a fault at a time.
//!
//! The document is rewritten in a plain form: comments and the layout of
//! a hand-written file do not survive a builder action (the text editor
//! keeps them).

use sim_core::scenario::kinds::{COMMON, Field, KINDS, Kind};
use sim_core::scenario::parse_set_value;
use toml::{Table, Value};

/// Where "Start from an empty system" starts: a run and no nodes yet.
pub const EMPTY: &str = r#"title = "My system"
summary = "Built in the browser."

[run]
duration = "60s"
seed = 1
"#;

/// The builder's choices between frames.
#[derive(Clone, Debug, Default)]
pub struct Builder {
    /// The palette's kind, by index in `KINDS`.
    pub kind: usize,
    pub name: String,
    pub from: String,
    pub to: String,
    /// The node whose fields are shown, or "run" / "network".
    pub selected: String,
    /// The field chosen, and the value typed for it.
    pub field: String,
    pub value: String,
    /// The fault to add: its action, its node and when (seconds; empty:
    /// where playback is on the timeline, `now_s`).
    pub fault: usize,
    pub fault_node: String,
    pub fault_at: String,
    pub now_s: f64,
}

/// The faults the builder adds, each on one node.
pub const FAULTS: [&str; 4] = ["crash", "restart", "slow", "pause"];

/// The text's document, if it parses as TOML.
pub fn document(text: &str) -> Result<Table, String> {
    text.parse::<Table>().map_err(|e| e.message().to_string())
}

/// The document as text, as the builder writes it.
pub fn text_of(doc: &Table) -> String {
    toml::to_string(doc).unwrap_or_default()
}

fn nodes(doc: &Table) -> impl Iterator<Item = &Table> {
    doc.get("node")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_table)
}

/// The nodes' names, in file order.
pub fn node_names(doc: &Table) -> Vec<String> {
    nodes(doc)
        .filter_map(|n| n.get("name")?.as_str().map(str::to_string))
        .collect()
}

fn node_mut<'a>(doc: &'a mut Table, name: &str) -> Result<&'a mut Table, String> {
    doc.get_mut("node")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_table_mut)
        .find(|n| n.get("name").and_then(Value::as_str) == Some(name))
        .ok_or_else(|| format!("there is no node called `{name}`"))
}

/// The declaration of `name`'s kind.
pub fn kind_of(doc: &Table, name: &str) -> Option<&'static Kind> {
    let node = nodes(doc).find(|n| n.get("name").and_then(Value::as_str) == Some(name))?;
    let kind = node.get("kind")?.as_str()?;
    KINDS.iter().copied().find(|k| k.name == kind)
}

/// A starting value for a required field, by what it accepts: a node
/// starts runnable where a plain number does; tables are the learner's.
fn starter(f: &Field) -> Option<Value> {
    match f.value {
        "rate" => Some(Value::String("10/s".into())),
        "duration" | "distribution" => Some(Value::String("10ms".into())),
        "integer >= 1" => Some(Value::Integer(1)),
        _ => None,
    }
}

fn push(doc: &mut Table, key: &str, item: Table) {
    let list = doc.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(items) = list {
        items.push(Value::Table(item));
    }
}

/// Adds a node of `kind` called `name`, with starting values for its
/// required numbers.
pub fn add_node(doc: &mut Table, kind: &Kind, name: &str) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() || name.contains(['.', ' ', '"']) {
        return Err("a node's name is a word without dots, spaces or quotes (e.g. `api`)".into());
    }
    if node_names(doc).iter().any(|n| n == name) {
        return Err(format!("there is already a node called `{name}`"));
    }
    let mut node = Table::new();
    node.insert("name".into(), Value::String(name.into()));
    node.insert("kind".into(), Value::String(kind.name.into()));
    for f in kind.all_fields().filter(|f| f.required) {
        if let Some(v) = starter(f) {
            node.insert(f.name.into(), v);
        }
    }
    push(doc, "node", node);
    Ok(())
}

/// Has `from` call `to`: as its `target`, as a service's `calls`, or, for
/// a service that already calls something, as one more `[[node.call]]`.
pub fn connect(doc: &mut Table, from: &str, to: &str) -> Result<(), String> {
    let kind = kind_of(doc, from).ok_or_else(|| format!("there is no node called `{from}`"))?;
    if !node_names(doc).iter().any(|n| n == to) {
        return Err(format!("there is no node called `{to}`"));
    }
    let has = |field: &str| kind.all_fields().any(|f| f.name == field);
    let node = node_mut(doc, from)?;
    if has("target") {
        node.insert("target".into(), Value::String(to.into()));
    } else if has("calls") && !node.contains_key("calls") {
        node.insert("calls".into(), Value::String(to.into()));
    } else if has("calls") {
        let mut call = Table::new();
        call.insert("to".into(), Value::String(to.into()));
        push(node, "call", call);
    } else {
        return Err(format!("a {} node calls nothing", kind.name));
    }
    Ok(())
}

/// A network link between two nodes (or a group and itself: its
/// replication), 1 ms until its fields say otherwise.
pub fn add_link(doc: &mut Table, from: &str, to: &str) -> Result<(), String> {
    for n in [from, to] {
        if !node_names(doc).iter().any(|m| m == n) {
            return Err(format!("there is no node called `{n}`"));
        }
    }
    let mut link = Table::new();
    link.insert("from".into(), Value::String(from.into()));
    link.insert("to".into(), Value::String(to.into()));
    link.insert("latency".into(), Value::String("1ms".into()));
    push(doc, "link", link);
    Ok(())
}

/// The table `owner` names: a node, `run`, `network` or `link N`.
fn owner_mut<'a>(doc: &'a mut Table, owner: &str) -> Result<&'a mut Table, String> {
    if let Some(i) = owner.strip_prefix("link ") {
        let i: usize = i.parse().map_err(|_| format!("`{owner}` is not a link"))?;
        return doc
            .get_mut("link")
            .and_then(Value::as_array_mut)
            .and_then(|l| l.get_mut(i))
            .and_then(Value::as_table_mut)
            .ok_or_else(|| format!("there is no link {i}"));
    }
    if matches!(owner, "run" | "network") {
        let t = doc
            .entry(owner)
            .or_insert_with(|| Value::Table(Table::new()));
        return t
            .as_table_mut()
            .ok_or_else(|| format!("`{owner}` is not a table"));
    }
    node_mut(doc, owner)
}

/// Sets `field` of `owner` to `value` as `--set` reads it (`50/s`, `4`,
/// `{ attempts = 3 }`); an empty value removes the field.
pub fn set_field(doc: &mut Table, owner: &str, field: &str, value: &str) -> Result<(), String> {
    if field.is_empty() || field.contains('.') {
        return Err("name one field (e.g. `timeout`)".into());
    }
    let table = owner_mut(doc, owner)?;
    if value.trim().is_empty() {
        table.remove(field);
    } else {
        table.insert(field.into(), parse_set_value(value.trim()));
    }
    Ok(())
}

/// Adds a fault on `node` at `at` seconds: a crash, a restart, a
/// slowdown by ten, or a pause of five seconds. (Left empty in the builder, `at` is where playback
/// is: move along the timeline, then add the fault there.)
pub fn add_fault(doc: &mut Table, action: &str, node: &str, at: &str) -> Result<(), String> {
    if !node_names(doc).iter().any(|n| n == node) {
        return Err(format!("there is no node called `{node}`"));
    }
    let secs: f64 = at
        .trim()
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("`{at}` is not a time in seconds (e.g. `20`)"))?;
    if !(secs >= 0.0 && secs.is_finite()) {
        return Err(format!("`{at}` is not a time in seconds (e.g. `20`)"));
    }
    let mut fault = Table::new();
    let ms = libm::round(secs * 1000.0) as u64;
    fault.insert("at".into(), Value::String(format!("{ms}ms")));
    fault.insert(action.into(), Value::String(node.into()));
    match action {
        "slow" => {
            fault.insert("factor".into(), Value::Float(10.0));
        }
        "pause" => {
            fault.insert("lasting".into(), Value::String("5s".into()));
        }
        _ => {}
    }
    push(doc, "fault", fault);
    Ok(())
}

/// The fields a table of `owner` may have, with what they accept and
/// mean (the format reference's words).
fn fields_of(doc: &Table, owner: &str) -> Vec<(&'static str, &'static str, &'static str)> {
    match owner {
        "run" => vec![
            ("duration", "duration", "How long the run lasts."),
            ("seed", "integer", "The run's seed."),
        ],
        "network" => vec![
            (
                "latency",
                "duration or distribution",
                "Every message's delay.",
            ),
            ("loss", "percentage", "Messages lost at random."),
        ],
        o if o.starts_with("link ") => vec![
            ("latency", "duration or distribution", "This link's delay."),
            ("loss", "percentage", "Messages on it lost at random."),
        ],
        node => kind_of(doc, node)
            .map(|k| {
                COMMON
                    .iter()
                    .filter(|f| f.name == "zone")
                    .chain(k.all_fields())
                    .map(|f| (f.name, f.value, f.about))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The value of `field` of `owner` as the builder shows it.
fn shown(doc: &Table, owner: &str, field: &str) -> String {
    let mut doc = doc.clone();
    match owner_mut(&mut doc, owner).ok().and_then(|t| t.get(field)) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

/// What a builder action asks of the editor: new text, or why not.
pub type Built = Option<Result<String, String>>;

/// The builder's controls, acting on `text` (which must parse as TOML;
/// otherwise the builder waits for the text to be fixed).
pub fn show(
    ui: &mut egui::Ui,
    b: &mut Builder,
    text: &str,
    places: &mut crate::app::Places,
) -> Built {
    let doc = match document(text) {
        Ok(doc) => doc,
        Err(_) => {
            ui.weak("The builder works once the text is valid TOML again.");
            return None;
        }
    };
    let names = node_names(&doc);
    let mut out = None;
    palette(ui, b, &doc, places, &mut out);
    if names.len() >= 2 || !names.is_empty() {
        wiring(ui, b, &names, &doc, places, &mut out);
    }
    fields(ui, b, &doc, &names, places, &mut out);
    if !names.is_empty() {
        faults(ui, b, &doc, &names, places, &mut out);
    }
    out
}

/// Runs `edit` on a copy of `doc`; its text, or why not.
fn edited(
    doc: &Table,
    edit: impl FnOnce(&mut Table) -> Result<(), String>,
) -> Result<String, String> {
    let mut doc = doc.clone();
    edit(&mut doc)?;
    Ok(text_of(&doc))
}

fn palette(
    ui: &mut egui::Ui,
    b: &mut Builder,
    doc: &Table,
    places: &mut crate::app::Places,
    out: &mut Built,
) {
    ui.horizontal(|ui| {
        let label = ui.label("Add a");
        let r = egui::ComboBox::from_id_salt("palette")
            .selected_text(KINDS[b.kind.min(KINDS.len() - 1)].name)
            .show_index(ui, &mut b.kind, KINDS.len(), |i| KINDS[i].name)
            .labelled_by(label.id);
        places.insert("palette".into(), r.rect);
        let r = ui.add(
            egui::TextEdit::singleline(&mut b.name)
                .hint_text("name")
                .desired_width(80.0),
        );
        places.insert("node-name".into(), r.rect);
        let r = ui.button("Add node");
        places.insert("add-node".into(), r.rect);
        if r.clicked() {
            let kind = KINDS[b.kind.min(KINDS.len() - 1)];
            let name = b.name.trim().to_string();
            *out = Some(edited(doc, |d| add_node(d, kind, &name)));
            if matches!(out, Some(Ok(_))) {
                b.selected = name;
                b.name.clear();
            }
        }
    })
    .response
    .on_hover_text(KINDS[b.kind.min(KINDS.len() - 1)].about);
}

/// A drop-down of `names`, labelled `label`.
fn pick(
    ui: &mut egui::Ui,
    (id, label): (&str, &str),
    value: &mut String,
    names: &[String],
) -> egui::Response {
    let label = ui.label(label);
    egui::ComboBox::from_id_salt(id)
        .height(600.0)
        .selected_text(if value.is_empty() {
            "choose"
        } else {
            value.as_str()
        })
        .show_ui(ui, |ui| {
            for n in names {
                ui.selectable_value(value, n.clone(), n);
            }
        })
        .response
        .labelled_by(label.id)
}

fn wiring(
    ui: &mut egui::Ui,
    b: &mut Builder,
    names: &[String],
    doc: &Table,
    places: &mut crate::app::Places,
    out: &mut Built,
) {
    ui.horizontal(|ui| {
        places.insert(
            "from".into(),
            pick(ui, ("from", "From"), &mut b.from, names).rect,
        );
        places.insert("to".into(), pick(ui, ("to", "to"), &mut b.to, names).rect);
    });
    ui.horizontal(|ui| {
        let r = ui.button("Connect with a call");
        places.insert("connect".into(), r.rect);
        if r.clicked() {
            *out = Some(edited(doc, |d| connect(d, &b.from, &b.to)));
        }
        let r = ui.button("Add a network link");
        places.insert("link".into(), r.rect);
        if r.clicked() {
            *out = Some(edited(doc, |d| add_link(d, &b.from, &b.to)));
        }
    });
}

/// The selected table's fields: choose one, see what it accepts and
/// means, type a value and press Enter (or Set); what is set is listed.
fn fields(
    ui: &mut egui::Ui,
    b: &mut Builder,
    doc: &Table,
    names: &[String],
    places: &mut crate::app::Places,
    out: &mut Built,
) {
    let links = doc
        .get("link")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let mut owners: Vec<String> = vec!["run".into(), "network".into()];
    owners.extend(names.iter().cloned());
    owners.extend((0..links).map(|i| format!("link {i}")));
    let all = fields_of(doc, &b.selected);
    let field_names: Vec<String> = all.iter().map(|f| f.0.to_string()).collect();
    ui.horizontal(|ui| {
        let before = (b.selected.clone(), b.field.clone());
        let r = pick(ui, ("owner", "Fields of"), &mut b.selected, &owners);
        places.insert("owner".into(), r.rect);
        let r = pick(ui, ("field", "field"), &mut b.field, &field_names);
        places.insert("field".into(), r.rect);
        if before.0 != b.selected {
            b.field.clear();
        }
        if before != (b.selected.clone(), b.field.clone()) {
            b.value = shown(doc, &b.selected, &b.field);
        }
    });
    let Some((name, accepts, about)) = all.iter().find(|f| f.0 == b.field).copied() else {
        set_values(ui, doc, b, &all);
        return;
    };
    ui.horizontal(|ui| {
        let r = ui.add(
            egui::TextEdit::singleline(&mut b.value)
                .desired_width(220.0)
                .hint_text(accepts),
        );
        places.insert("value".into(), r.rect);
        let entered = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let r = ui.button("Set");
        places.insert("set".into(), r.rect);
        if entered || r.clicked() {
            *out = Some(edited(doc, |d| set_field(d, &b.selected, name, &b.value)));
        }
    });
    ui.weak(format!("{name}: {accepts}. {about}"));
    set_values(ui, doc, b, &all);
}

/// The fields the selected table sets, with their values.
fn set_values(ui: &mut egui::Ui, doc: &Table, b: &Builder, all: &[(&str, &str, &str)]) {
    let set: Vec<String> = all
        .iter()
        .map(|f| (f.0, shown(doc, &b.selected, f.0)))
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| format!("{n} = {v}"))
        .collect();
    if !set.is_empty() {
        ui.weak(set.join(", "));
    }
}

fn faults(
    ui: &mut egui::Ui,
    b: &mut Builder,
    doc: &Table,
    names: &[String],
    places: &mut crate::app::Places,
    out: &mut Built,
) {
    ui.horizontal(|ui| {
        let label = ui.label("Fault:");
        let r = egui::ComboBox::from_id_salt("fault")
            .selected_text(FAULTS[b.fault.min(FAULTS.len() - 1)])
            .show_index(ui, &mut b.fault, FAULTS.len(), |i| FAULTS[i])
            .labelled_by(label.id);
        places.insert("fault".into(), r.rect);
        let r = pick(ui, ("fault-node", "on"), &mut b.fault_node, names);
        places.insert("fault-node".into(), r.rect);
        ui.label("at (s)");
        let now = format!("{:.1}", b.now_s);
        let r = ui.add(
            egui::TextEdit::singleline(&mut b.fault_at)
                .desired_width(40.0)
                .hint_text(&now),
        );
        places.insert("fault-at".into(), r.rect);
        let r = ui.button("Add fault");
        places.insert("add-fault".into(), r.rect);
        if r.clicked() {
            let action = FAULTS[b.fault.min(FAULTS.len() - 1)];
            let at = if b.fault_at.trim().is_empty() {
                &now
            } else {
                &b.fault_at
            };
            *out = Some(edited(doc, |d| add_fault(d, action, &b.fault_node, at)));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(name: &str) -> &'static Kind {
        KINDS.iter().copied().find(|k| k.name == name).unwrap()
    }

    #[test]
    fn the_double_charge_is_built_from_an_empty_system() {
        let mut doc = document(EMPTY).unwrap();
        add_node(&mut doc, kind("client"), "user").unwrap();
        add_node(&mut doc, kind("service"), "api").unwrap();
        add_node(&mut doc, kind("ledger"), "ledger").unwrap();
        connect(&mut doc, "user", "api").unwrap();
        connect(&mut doc, "api", "ledger").unwrap();
        for (owner, field, value) in [
            ("network", "latency", "1ms"),
            ("user", "rate", "50/s"),
            ("api", "workers", "16"),
            (
                "ledger",
                "processing_time",
                r#"{ dist = "log_normal", median = "15ms", p99 = "80ms" }"#,
            ),
        ] {
            set_field(&mut doc, owner, field, value).unwrap();
        }
        add_link(&mut doc, "api", "user").unwrap();
        set_field(&mut doc, "link 0", "loss", "5%").unwrap();
        add_fault(&mut doc, "crash", "ledger", "20").unwrap();
        add_fault(&mut doc, "pause", "api", "30").unwrap();
        let text = text_of(&doc);
        let s = sim_core::scenario::load("b", "b.toml", &text)
            .unwrap_or_else(|d| panic!("{d}\n{text}"));
        let spec = s.resolve(None, &[]).unwrap();
        assert_eq!(spec.nodes.len(), 3);
        assert!(text.contains("target = \"api\""), "{text}");
        assert!(text.contains("calls = \"ledger\""), "{text}");
        assert!(text.contains("at = \"20000ms\""), "{text}");
        assert!(text.contains("pause = \"api\""), "{text}");
        // A second dependency of the api becomes a [[node.call]].
        add_node(&mut doc, kind("kv"), "cache").unwrap();
        connect(&mut doc, "api", "cache").unwrap();
        assert!(text_of(&doc).contains("[[node.call]]"), "{}", text_of(&doc));
    }

    #[test]
    fn bad_builder_actions_say_why() {
        let mut doc = document(EMPTY).unwrap();
        add_node(&mut doc, kind("client"), "user").unwrap();
        assert!(
            add_node(&mut doc, kind("client"), "user")
                .unwrap_err()
                .contains("already")
        );
        assert!(
            add_node(&mut doc, kind("client"), "a.b")
                .unwrap_err()
                .contains("without dots")
        );
        assert!(
            connect(&mut doc, "user", "nobody")
                .unwrap_err()
                .contains("no node called `nobody`")
        );
        add_node(&mut doc, kind("ledger"), "ledger").unwrap();
        assert!(
            connect(&mut doc, "ledger", "user")
                .unwrap_err()
                .contains("calls nothing")
        );
        assert!(
            add_fault(&mut doc, "crash", "user", "soon")
                .unwrap_err()
                .contains("seconds")
        );
        assert!(set_field(&mut doc, "nobody", "rate", "1/s").is_err());
        set_field(&mut doc, "user", "rate", "").unwrap();
        assert!(
            !text_of(&doc).contains("rate"),
            "an empty value removes the field"
        );
        assert!(document("x = ").is_err());
    }
}
