//! `faultline trace`: a run's events as JSON lines, as Chrome trace-event
//! JSON (open it in Perfetto: nodes are tracks, each call is a slice from
//! send to reply or timeout, lost messages and faults are instants), or as
//! a Mermaid sequence diagram of one order's messages.
//!
//! Times in Chrome traces are simulated microseconds, not wall-clock time.
//! The Mermaid diagram draws, by default, the first order that was
//! retried (`run --report` takes the first where something failed). Both
//! sinks downcast the message a trace record carries to `Rpc` and follow
//! it by `Rpc::tie`.

use super::args::{Pick, TraceFormat};
use super::build;
use super::output::write_atomically;
use super::{Failure, bad_input, error, resolve_pick};
use serde_json::{Value, json};
use sim_core::scenario::{Rpc, Tie};
use sim_core::{TraceKind, TraceRecord, TraceSink};
use std::any::Any;
use std::collections::BTreeMap;

fn rpc<'a>(r: &TraceRecord<'a>) -> Option<&'a Rpc> {
    r.message.and_then(|m| m.downcast_ref::<Rpc>())
}

/// How the record's message is tied to requests, with the message.
fn tied<'a>(r: &TraceRecord<'a>) -> Option<(Tie, &'a Rpc)> {
    rpc(r).and_then(|m| m.tie().map(|t| (t, m)))
}

/// Collects Chrome trace events.
pub struct ChromeTrace {
    tracks: BTreeMap<String, usize>,
    /// Calls in flight: (caller, call id) to (start in µs, order, callee).
    open: BTreeMap<(String, u64), (f64, u64, String)>,
    events: Vec<Value>,
}

impl ChromeTrace {
    pub fn new<'a>(nodes: impl Iterator<Item = &'a str>) -> Self {
        let tracks: BTreeMap<String, usize> = nodes
            .enumerate()
            .map(|(i, n)| (n.to_string(), i + 1))
            .collect();
        let mut events: Vec<Value> = tracks
            .iter()
            .map(|(name, tid)| json!({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": name}}))
            .collect();
        events.push(json!({"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "simulated system"}}));
        ChromeTrace {
            tracks,
            open: BTreeMap::new(),
            events,
        }
    }

    fn tid(&self, node: &str) -> usize {
        self.tracks.get(node).copied().unwrap_or(0)
    }

    fn close(&mut self, caller: &str, call: u64, end_us: f64, result: String) {
        if let Some((start, order, callee)) = self.open.remove(&(caller.to_string(), call)) {
            self.events.push(json!({
                "name": format!("order {order} -> {callee}"), "cat": "call", "ph": "X",
                "ts": start, "dur": end_us - start, "pid": 1, "tid": self.tid(caller),
                "args": {"call": call, "order": order, "outcome": result},
            }));
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&json!({"traceEvents": self.events, "displayTimeUnit": "ms"}))
            .expect("plain values")
    }
}

impl TraceSink for ChromeTrace {
    fn record(&mut self, r: &TraceRecord<'_>) {
        let ts = r.time.as_nanos() as f64 / 1e3;
        match (r.kind, tied(r)) {
            (
                TraceKind::Send,
                Some((
                    Tie::Call {
                        call,
                        order: Some(order),
                    },
                    _,
                )),
            ) => {
                let callee = r.peer.unwrap_or("?").to_string();
                self.open
                    .insert((r.node.to_string(), call), (ts, order, callee));
            }
            (TraceKind::Deliver, Some((Tie::Answer { call }, m))) => {
                self.close(r.node, call, ts, m.answer_text());
            }
            (TraceKind::Timer, Some((Tie::Timeout { call }, _))) => {
                self.close(r.node, call, ts, "timeout".into());
            }
            (TraceKind::Drop, _) => {
                let what = r.detail.map(|d| format!("{d:?}")).unwrap_or_default();
                self.events.push(json!({
                    "name": "message lost", "ph": "i", "s": "t", "ts": ts, "pid": 1, "tid": self.tid(r.node),
                    "args": {"to": r.peer, "detail": what},
                }));
            }
            (TraceKind::Crash | TraceKind::Restart, _) => {
                self.events.push(json!({
                    "name": format!("{} {}", r.kind.as_str(), r.node), "ph": "i", "s": "g", "ts": ts, "pid": 1, "tid": self.tid(r.node),
                }));
            }
            (TraceKind::Note, _) => {
                // Pattern events: a breaker opening, a replica ejected.
                let what = r.detail.map(|d| format!("{d:?}")).unwrap_or_default();
                self.events.push(json!({
                    "name": what, "ph": "i", "s": "t", "ts": ts, "pid": 1, "tid": self.tid(r.node),
                }));
            }
            (TraceKind::Partition | TraceKind::Heal | TraceKind::Link, _) => {
                let what = r.detail.map(|d| format!("{d:?}")).unwrap_or_default();
                self.events.push(json!({
                    "name": format!("{} {what}", r.kind.as_str()), "ph": "i", "s": "g", "ts": ts, "pid": 1, "tid": 0,
                }));
            }
            _ => {}
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Collects, per order, the lines of a Mermaid sequence diagram.
pub struct MermaidTrace {
    lines: BTreeMap<u64, Vec<String>>,
    participants: BTreeMap<u64, Vec<String>>,
    /// (receiver of a reply, call id) to the order the call was about.
    calls: BTreeMap<(String, u64), u64>,
    /// Calls the first node (the client) made per order.
    client_calls: BTreeMap<u64, u32>,
    /// Orders where something went wrong: a lost message, a timeout, an
    /// error reply.
    troubled: std::collections::BTreeSet<u64>,
}

impl Default for MermaidTrace {
    fn default() -> Self {
        Self::new()
    }
}

impl MermaidTrace {
    pub fn new() -> Self {
        MermaidTrace {
            lines: BTreeMap::new(),
            participants: BTreeMap::new(),
            calls: BTreeMap::new(),
            client_calls: BTreeMap::new(),
            troubled: std::collections::BTreeSet::new(),
        }
    }

    fn add(&mut self, order: u64, from: &str, to: &str, line: String) {
        let p = self.participants.entry(order).or_default();
        for n in [from, to] {
            if !p.iter().any(|x| x == n) {
                p.push(n.to_string());
            }
        }
        self.lines.entry(order).or_default().push(line);
    }

    /// The order to draw: the one asked for, else the first that needed
    /// more than one call (a retry or a double click), else the first.
    pub fn pick(&self, wanted: Option<u64>) -> Option<u64> {
        wanted.or_else(|| {
            self.client_calls
                .iter()
                .find(|&(_, &n)| n > 1)
                .map(|(&o, _)| o)
                .or_else(|| self.lines.keys().next().copied())
        })
    }

    /// The first order where something went wrong (for a postmortem),
    /// else what `pick` would draw.
    pub fn pick_failed(&self) -> Option<u64> {
        self.troubled
            .iter()
            .next()
            .copied()
            .or_else(|| self.pick(None))
    }

    pub fn diagram(&self, order: u64) -> Option<String> {
        let lines = self.lines.get(&order)?;
        let mut out = String::from("sequenceDiagram\n");
        for p in &self.participants[&order] {
            out.push_str(&format!("    participant {p}\n"));
        }
        for l in lines {
            out.push_str(&format!("    {l}\n"));
        }
        Some(out)
    }
}

fn ms(r: &TraceRecord<'_>) -> String {
    format!("{:.1}ms", r.time.as_nanos() as f64 / 1e6)
}

impl MermaidTrace {
    /// A request-path call sent: a line of its order's diagram.
    fn on_call(&mut self, r: &TraceRecord<'_>, call: u64, order: u64, m: &Rpc) {
        let peer = r.peer.unwrap_or("?");
        self.calls.insert((r.node.to_string(), call), order);
        if self
            .participants
            .get(&order)
            .is_none_or(|p| p.first().is_some_and(|f| f == r.node))
        {
            *self.client_calls.entry(order).or_default() += 1;
        }
        let key = m
            .idempotency_key()
            .map_or(String::new(), |k| format!(", key {k}"));
        self.add(
            order,
            r.node,
            peer,
            format!(
                "{}->>{peer}: call {call} (order {order}{key}) at {}",
                r.node,
                ms(r)
            ),
        );
    }

    /// An answer to one of those calls delivered.
    fn on_answer(&mut self, r: &TraceRecord<'_>, call: u64, m: &Rpc) {
        let peer = r.peer.unwrap_or("?");
        if let Some(&order) = self.calls.get(&(r.node.to_string(), call)) {
            if m.answer_failed() {
                self.troubled.insert(order);
            }
            self.add(
                order,
                peer,
                r.node,
                format!(
                    "{peer}-->>{}: {} for call {call} at {}",
                    r.node,
                    m.answer_text(),
                    ms(r)
                ),
            );
        }
    }
}

impl TraceSink for MermaidTrace {
    fn record(&mut self, r: &TraceRecord<'_>) {
        let peer = r.peer.unwrap_or("?");
        match (r.kind, tied(r)) {
            (
                TraceKind::Send,
                Some((
                    Tie::Call {
                        call,
                        order: Some(order),
                    },
                    m,
                )),
            ) => self.on_call(r, call, order, m),
            (TraceKind::Deliver, Some((Tie::Answer { call }, m))) => self.on_answer(r, call, m),
            (TraceKind::Drop, Some((Tie::Answer { call }, m))) => {
                if let Some(&order) = self.calls.get(&(peer.to_string(), call)) {
                    self.troubled.insert(order);
                    self.add(
                        order,
                        r.node,
                        peer,
                        format!(
                            "{}-x{peer}: LOST {} for call {call} at {}",
                            r.node,
                            m.answer_text(),
                            ms(r)
                        ),
                    );
                }
            }
            (
                TraceKind::Drop,
                Some((
                    Tie::Call {
                        call,
                        order: Some(order),
                    },
                    _,
                )),
            ) => {
                self.troubled.insert(order);
                self.add(
                    order,
                    r.node,
                    peer,
                    format!("{}-x{peer}: LOST call {call} at {}", r.node, ms(r)),
                );
            }
            (TraceKind::Timer, Some((Tie::Timeout { call }, _))) => {
                if let Some(&order) = self.calls.get(&(r.node.to_string(), call)) {
                    self.troubled.insert(order);
                    self.add(
                        order,
                        r.node,
                        r.node,
                        format!("Note over {}: call {call} timed out at {}", r.node, ms(r)),
                    );
                }
            }
            _ => {}
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
/// `faultline trace`, from the command line.
pub fn run_trace(
    name: &str,
    format: TraceFormat,
    request: Option<u64>,
    pick: &Pick,
    out: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let (_, spec, seed) = resolve_pick(name, pick)?;
    let mut built = build(&spec, seed).map_err(error)?;
    let names: Vec<String> = built.sim.nodes().map(|(_, n)| n.to_string()).collect();
    // Runs with `sink` and returns it, to be read back by its type.
    let mut traced = |sink: Box<dyn sim_core::TraceSink>| {
        built.sim.set_trace(sink);
        let report = built.run();
        eprintln!("seed {seed}, fingerprint {}: {report}", report.fingerprint);
        built.sim.take_trace()
    };
    let text = match format {
        TraceFormat::Jsonl => {
            let sink = traced(Box::new(sim_core::JsonLinesTrace::new(Vec::<u8>::new())));
            let lines = sink
                .as_any()
                .downcast_ref::<sim_core::JsonLinesTrace<Vec<u8>>>()
                .expect("the sink we set");
            String::from_utf8(lines.get_ref().clone()).expect("JSON lines are UTF-8")
        }
        TraceFormat::Chrome => {
            let sink = traced(Box::new(ChromeTrace::new(names.iter().map(String::as_str))));
            let chrome = sink
                .as_any()
                .downcast_ref::<ChromeTrace>()
                .expect("the sink we set");
            chrome.to_json()
        }
        TraceFormat::Mermaid => {
            let sink = traced(Box::<MermaidTrace>::default());
            let mermaid = sink
                .as_any()
                .downcast_ref::<MermaidTrace>()
                .expect("the sink we set");
            let order = mermaid.pick(request).ok_or_else(|| {
                bad_input("error: the run made no calls, so there is nothing to draw")
            })?;
            mermaid.diagram(order).ok_or_else(|| {
                bad_input(format!("error: order {order} made no calls in this run"))
            })?
        }
    };
    match out {
        Some(path) => write_atomically(path, text.as_bytes()),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// A Mermaid diagram of the first order that went wrong in `spec`'s run
/// on `seed` (else the first retried, else the first), if it made calls.
pub fn failing_diagram(spec: &sim_core::scenario::ScenarioSpec, seed: u64) -> Option<String> {
    let mut built = build(spec, seed).ok()?;
    built.sim.set_trace(Box::<MermaidTrace>::default());
    built.run();
    let sink = built.sim.take_trace();
    let mermaid = sink.as_any().downcast_ref::<MermaidTrace>()?;
    mermaid.diagram(mermaid.pick_failed()?)
}
