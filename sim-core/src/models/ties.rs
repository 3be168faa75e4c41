//! How each message relates to the requests it serves, and what it is in
//! a few words: what the web app's request inspector and the CLI's traces
//! follow. Every match here names every message, with no catch-all arm,
//! so a new message cannot be silently left out: adding one to `Rpc`
//! fails to compile until it says how it is tied.

use super::rpc::{Outcome, PROBE_ORDER, Rpc};

/// How a message relates to requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tie {
    /// It starts an attempt of call `call` by the sender: of the order it
    /// names (a request-path call), or of the sender's handler's request.
    Call { call: u64, order: Option<u64> },
    /// It answers the receiver's call `call`.
    Answer { call: u64 },
    /// It starts op `op` of the sender (a coordinator's replication).
    Op { op: u64 },
    /// It answers the receiver's op `op`.
    OpAnswer { op: u64 },
    /// It belongs to whatever the sender's handler serves.
    Handler,
    /// A timer: the owner's attempt of call `call` waited too long.
    Timeout { call: u64 },
}

impl Rpc {
    /// How this message is tied to requests (None: it is not part of one,
    /// such as a heartbeat, a health probe or most timers).
    pub fn tie(&self) -> Option<Tie> {
        use Rpc::*;
        Some(match self {
            Call { order, .. } if *order == PROBE_ORDER => return None,
            Call { call, order, .. } => Tie::Call {
                call: *call,
                order: Some(*order),
            },
            KvRead { call, .. } | KvWrite { call, .. } | Put { call, .. } | Get { call, .. } => {
                Tie::Call {
                    call: *call,
                    order: None,
                }
            }
            Reply { call, .. }
            | KvValue { call, .. }
            | KvAck { call }
            | PutOk { call, .. }
            | GetOk { call, .. }
            | Refused { call, .. } => Tie::Answer { call: *call },
            Replicate { op: Some(op), .. } | Fetch { op, .. } => Tie::Op { op: *op },
            Replicated { op } | Fetched { op, .. } => Tie::OpAnswer { op: *op },
            Invalidate { .. } | Replicate { op: None, .. } => Tie::Handler,
            AttemptTimeout { call, .. } => Tie::Timeout { call: *call },
            Control(_) | Heartbeat { .. } | SnapshotRequest | State { .. } | Digest { .. } => {
                return None;
            }
            NextRequest
            | Resubmit { .. }
            | RateChange { .. }
            | Retry { .. }
            | Hedge { .. }
            | HealthTick { .. }
            | ProbeTimeout { .. }
            | WorkDone { .. }
            | KvNext
            | KvDone { .. }
            | RepTick
            | RepOpTimeout { .. }
            | AntiEntropyTick
            | DriftTick
            | SessionTimeout { .. }
            | Charge { .. } => return None,
        })
    }

    /// What the message is, in a few words ("write key 3 v2").
    pub fn describe(&self) -> String {
        use Rpc::*;
        match self {
            Call { .. } => "call".into(),
            Reply { outcome, .. } => match outcome {
                Outcome::Ok(_) => "reply ok".into(),
                Outcome::Err(e) => format!("reply {}", e.as_str()),
            },
            KvRead { key, .. } => format!("read key {key}"),
            KvWrite { key, version, .. } => format!("write key {key} v{version}"),
            KvValue { version, .. } => format!("value v{version}"),
            KvAck { .. } => "ack".into(),
            Invalidate { key } => format!("invalidate key {key}"),
            Put { key, .. } => format!("put key {key}"),
            Get { key, .. } => format!("get key {key}"),
            PutOk { .. } => "put ok".into(),
            GetOk { items, .. } => match items.len() {
                0 => "got nothing".into(),
                1 => format!("got value {}", items[0].id),
                n => format!("got {n} siblings"),
            },
            Refused { .. } => "refused".into(),
            Replicate { op: Some(_), .. } => "replicate".into(),
            Replicate { op: None, .. } => "replicate (async)".into(),
            Replicated { .. } => "replicated".into(),
            Fetch { .. } => "fetch".into(),
            Fetched { items, .. } => format!("fetched {} item(s)", items.len()),
            Control(_)
            | Heartbeat { .. }
            | SnapshotRequest
            | State { .. }
            | Digest { .. }
            | NextRequest
            | Resubmit { .. }
            | RateChange { .. }
            | AttemptTimeout { .. }
            | Retry { .. }
            | Hedge { .. }
            | HealthTick { .. }
            | ProbeTimeout { .. }
            | WorkDone { .. }
            | KvNext
            | KvDone { .. }
            | RepTick
            | RepOpTimeout { .. }
            | AntiEntropyTick
            | DriftTick
            | SessionTimeout { .. }
            | Charge { .. } => format!("{self:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_its_reply_and_its_timeout_are_tied_to_the_same_call() {
        let call = Rpc::Call {
            call: 7,
            order: 3,
            key: None,
            deadline: None,
            priority: 0,
        };
        assert_eq!(
            call.tie(),
            Some(Tie::Call {
                call: 7,
                order: Some(3)
            })
        );
        let reply = Rpc::Reply {
            call: 7,
            outcome: Outcome::Ok(1),
        };
        assert_eq!(reply.tie(), Some(Tie::Answer { call: 7 }));
        assert_eq!(reply.describe(), "reply ok");
        let timeout = Rpc::AttemptTimeout {
            caller: 0,
            request: 1,
            call: 7,
        };
        assert_eq!(timeout.tie(), Some(Tie::Timeout { call: 7 }));
        // A health probe is not a request.
        let probe = Rpc::Call {
            call: 8,
            order: PROBE_ORDER,
            key: None,
            deadline: None,
            priority: 0,
        };
        assert_eq!(probe.tie(), None);
        assert_eq!(
            Rpc::Heartbeat {
                term: 1,
                leader: true,
                applied: 0
            }
            .tie(),
            None
        );
    }
}
