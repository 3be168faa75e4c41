//! What the topology view animates: messages sent and dropped along each
//! link since the view last looked, collected by a trace sink that keeps
//! only counts (no text per event), so playback stays cheap.

use sim_core::trace::{TraceKind, TraceRecord, TraceSink};
use std::cell::RefCell;
use std::rc::Rc;

/// Traffic on one directed link since the last `take`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkFlow {
    pub from: String,
    pub to: String,
    pub sent: u64,
    pub dropped: u64,
}

/// The counts, shared between the sink (inside the simulation) and the
/// view.
#[derive(Clone, Debug, Default)]
pub struct Flows(Rc<RefCell<Vec<LinkFlow>>>);

impl Flows {
    /// The traffic since the last call, and a fresh start.
    pub fn take(&self) -> Vec<LinkFlow> {
        std::mem::take(&mut *self.0.borrow_mut())
    }

    fn add(&self, from: &str, to: &str, dropped: bool) {
        let mut flows = self.0.borrow_mut();
        let i = match flows.iter().position(|f| f.from == from && f.to == to) {
            Some(i) => i,
            None => {
                flows.push(LinkFlow {
                    from: from.to_string(),
                    to: to.to_string(),
                    ..LinkFlow::default()
                });
                flows.len() - 1
            }
        };
        if dropped {
            flows[i].dropped += 1;
        } else {
            flows[i].sent += 1;
        }
    }
}

/// The trace sink that fills `Flows`.
#[derive(Debug, Default)]
pub struct FlowSink {
    pub flows: Flows,
}

impl TraceSink for FlowSink {
    fn record(&mut self, r: &TraceRecord<'_>) {
        match (r.kind, r.peer) {
            (TraceKind::Send, Some(to)) if to != r.node => self.flows.add(r.node, to, false),
            // A drop is recorded at the sender (network) or the receiver
            // (down at arrival); either way it is the link's.
            (TraceKind::Drop, Some(peer)) => self.flows.add(peer, r.node, true),
            _ => {}
        }
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
