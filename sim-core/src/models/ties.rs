//! How each message relates to the requests it serves, and what it is in
//! a few words: what the web app's request inspector and the CLI's traces
//! follow. Every match here names every message of its part, with no
//! catch-all arm, so a new message cannot be silently left out: adding one
//! to a model's messages fails to compile until it says how it is tied.

use super::caller::CallerTimer;
use super::counter::{Change, CounterMsg};
use super::kv::KvMsg;
use super::lock::LockMsg;
use super::lock_manager::LockMgrMsg;
use super::messaging::BrokerMsg;
use super::monitor::WatchMsg;
use super::raft::RaftMsg;
use super::replication::RepMsg;
use super::request::{PROBE_ORDER, Request};
use super::rpc::Rpc;
use super::transactions::TxnMsg;
use crate::policy::Outcome;

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

/// What a message is for, as the topology tells traffic apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Serving requests, copying data, everything else.
    Work,
    /// An election: asking for a vote or a pre-vote, or answering.
    Vote,
    /// "I am alive", or "I still lead": a heartbeat, a Raft leader's
    /// empty round, and the members' answers to its rounds.
    Heartbeat,
}

impl RaftMsg {
    fn purpose(&self) -> Purpose {
        match self {
            RaftMsg::Vote { .. }
            | RaftMsg::Voted { .. }
            | RaftMsg::PreVote { .. }
            | RaftMsg::PreVoted { .. } => Purpose::Vote,
            RaftMsg::Append { entries, .. } if entries.is_empty() => Purpose::Heartbeat,
            RaftMsg::Appended { .. } => Purpose::Heartbeat,
            RaftMsg::Append { .. } | RaftMsg::ElectionTimeout { .. } | RaftMsg::HeartbeatDue => {
                Purpose::Work
            }
        }
    }
}

impl Rpc {
    /// How this message is tied to requests (None: it is not part of one,
    /// such as a heartbeat, a health probe or most timers).
    pub fn tie(&self) -> Option<Tie> {
        match self {
            Rpc::Request(m) => m.tie(),
            Rpc::Kv(m) => Some(m.tie()),
            Rpc::Replication(m) => m.tie(),
            Rpc::Lock(m) => m.tie(),
            Rpc::Counter(m) => m.tie(),
            Rpc::LockMgr(m) => m.tie(),
            Rpc::Caller(CallerTimer::AttemptTimeout { call, .. }) => {
                Some(Tie::Timeout { call: *call })
            }
            Rpc::Caller(_)
            | Rpc::Client(_)
            | Rpc::WorkDone(_)
            | Rpc::KvTimer(_)
            | Rpc::Replica(_)
            | Rpc::SessionTimeout(_)
            | Rpc::Charge(_)
            | Rpc::LockTimer(_)
            | Rpc::Watch(_)
            | Rpc::Raft(_)
            | Rpc::Broker(_)
            | Rpc::Txn(_) => None,
        }
    }

    /// What it is for: an election's votes and the heartbeats are drawn
    /// apart from the work.
    pub fn purpose(&self) -> Purpose {
        match self {
            Rpc::Raft(m) => m.purpose(),
            Rpc::Replication(RepMsg::Heartbeat { .. })
            | Rpc::Watch(WatchMsg::Heartbeat { .. })
            | Rpc::Broker(BrokerMsg::Heartbeat) => Purpose::Heartbeat,
            Rpc::Request(_)
            | Rpc::Kv(_)
            | Rpc::Replication(_)
            | Rpc::Lock(_)
            | Rpc::Caller(_)
            | Rpc::Client(_)
            | Rpc::WorkDone(_)
            | Rpc::KvTimer(_)
            | Rpc::Replica(_)
            | Rpc::SessionTimeout(_)
            | Rpc::Charge(_)
            | Rpc::LockTimer(_)
            | Rpc::Watch(_)
            | Rpc::Counter(_)
            | Rpc::LockMgr(_)
            | Rpc::Broker(_)
            | Rpc::Txn(_) => Purpose::Work,
        }
    }

    /// What the message is, in a few words ("write key 3 v2"); a message
    /// that has none is shown as it prints.
    pub fn describe(&self) -> String {
        let words = match self {
            Rpc::Request(m) => m.describe(),
            Rpc::Kv(m) => Some(m.describe()),
            Rpc::Replication(m) => m.describe(),
            Rpc::Lock(m) => Some(m.describe()),
            Rpc::Watch(WatchMsg::Heartbeat { incarnation, .. }) => {
                Some(format!("heartbeat (start {incarnation})"))
            }
            Rpc::Raft(m) => m.describe(),
            Rpc::Counter(m) => m.describe(),
            Rpc::LockMgr(m) => m.describe(),
            Rpc::Broker(m) => m.describe(),
            Rpc::Txn(m) => m.describe(),
            Rpc::Client(_)
            | Rpc::Caller(_)
            | Rpc::WorkDone(_)
            | Rpc::KvTimer(_)
            | Rpc::Replica(_)
            | Rpc::SessionTimeout(_)
            | Rpc::Charge(_)
            | Rpc::LockTimer(_)
            | Rpc::Watch(_) => None,
        };
        words.unwrap_or_else(|| format!("{self:?}"))
    }

    /// What an answer says: a reply's outcome ("ok 3", "timeout"), or what
    /// the message is.
    pub fn answer_text(&self) -> String {
        match self {
            Rpc::Request(Request::Reply { outcome, .. }) => match outcome {
                Outcome::Ok(v) => format!("ok {v}"),
                Outcome::Err(k) => k.as_str().to_string(),
            },
            other => other.describe(),
        }
    }

    /// Whether an answer reports a failure: a failed reply or a refusal.
    pub fn answer_failed(&self) -> bool {
        matches!(
            self,
            Rpc::Request(Request::Reply {
                outcome: Outcome::Err(_),
                ..
            }) | Rpc::Replication(RepMsg::Refused { .. })
                | Rpc::Lock(LockMsg::Fenced { .. })
        )
    }

    /// The write a message makes, by its unique id (a session's put), so
    /// a front end can say later whose write a read returned.
    pub fn write_made(&self) -> Option<u64> {
        match self {
            Rpc::Replication(RepMsg::Put { id, .. }) => Some(*id),
            _ => None,
        }
    }

    /// The write a read returned, when it returned exactly one (0: the
    /// value the store began with).
    pub fn write_returned(&self) -> Option<u64> {
        match self {
            Rpc::Replication(RepMsg::GetOk { items, .. }) if items.len() == 1 => Some(items[0].id),
            _ => None,
        }
    }

    /// The idempotency key a call carries, if any.
    pub fn idempotency_key(&self) -> Option<u64> {
        match self {
            Rpc::Request(Request::Call { key, .. }) => *key,
            _ => None,
        }
    }
}

impl RaftMsg {
    fn describe(&self) -> Option<String> {
        match self {
            RaftMsg::Vote { term, .. } => Some(format!("vote for me in term {term}")),
            RaftMsg::Voted {
                term,
                granted: true,
            } => Some(format!("my vote, term {term}")),
            RaftMsg::Voted { term, .. } => Some(format!("no vote, term {term}")),
            RaftMsg::Append { term, entries, .. } if entries.is_empty() => {
                Some(format!("heartbeat, term {term}"))
            }
            RaftMsg::Append { term, entries, .. } => {
                Some(format!("append {} entries, term {term}", entries.len()))
            }
            RaftMsg::Appended {
                ok: true, index, ..
            } => Some(format!("have up to {index}")),
            RaftMsg::Appended { .. } => Some("log does not match".into()),
            RaftMsg::PreVote { term, .. } => Some(format!("would you vote for me in term {term}?")),
            RaftMsg::PreVoted {
                term,
                granted: true,
            } => Some(format!("I would, term {term}")),
            RaftMsg::PreVoted { term, .. } => Some(format!("I would not, term {term}")),
            RaftMsg::ElectionTimeout { .. } | RaftMsg::HeartbeatDue => None,
        }
    }
}

impl Request {
    fn tie(&self) -> Option<Tie> {
        match self {
            Request::Call { order, .. } if *order == PROBE_ORDER => None,
            Request::Call { call, order, .. } => Some(Tie::Call {
                call: *call,
                order: Some(*order),
            }),
            Request::Reply { call, .. } => Some(Tie::Answer { call: *call }),
            Request::Control(_) => None,
        }
    }

    fn describe(&self) -> Option<String> {
        Some(match self {
            Request::Call { .. } => "call".into(),
            Request::Reply { outcome, .. } => match outcome {
                Outcome::Ok(_) => "reply ok".into(),
                Outcome::Err(e) => format!("reply {}", e.as_str()),
            },
            Request::Control(_) => return None,
        })
    }
}

impl KvMsg {
    fn tie(&self) -> Tie {
        match self {
            KvMsg::KvRead { call, .. } | KvMsg::KvWrite { call, .. } => Tie::Call {
                call: *call,
                order: None,
            },
            KvMsg::KvValue { call, .. } | KvMsg::KvAck { call } => Tie::Answer { call: *call },
            KvMsg::Invalidate { .. } => Tie::Handler,
        }
    }

    fn describe(&self) -> String {
        match self {
            KvMsg::KvRead { key, .. } => format!("read key {key}"),
            KvMsg::KvWrite { key, version, .. } => format!("write key {key} v{version}"),
            KvMsg::KvValue { version, .. } => format!("value v{version}"),
            KvMsg::KvAck { .. } => "ack".into(),
            KvMsg::Invalidate { key } => format!("invalidate key {key}"),
        }
    }
}

impl CounterMsg {
    fn tie(&self) -> Option<Tie> {
        match self {
            CounterMsg::Update { call, .. } => Some(Tie::Call {
                call: *call,
                order: None,
            }),
            CounterMsg::Updated { call, .. } => Some(Tie::Answer { call: *call }),
            CounterMsg::UserReady { .. } | CounterMsg::Worked { .. } => None,
        }
    }

    fn describe(&self) -> Option<String> {
        match self {
            CounterMsg::Update { key, change, .. } => Some(match change {
                Change::Put(v) => format!("set key {key} to {v}"),
                Change::Cas { version, value } => {
                    format!("set key {key} to {value} if still v{version}")
                }
                Change::Add(d) if *d < 0 => format!("take {} from key {key} if there is", -d),
                Change::Add(d) => format!("add {d} to key {key}"),
            }),
            CounterMsg::Updated {
                ok, version, value, ..
            } => Some(match ok {
                true => format!("done: {value} (v{version})"),
                false => format!("refused: it holds {value} (v{version})"),
            }),
            CounterMsg::UserReady { .. } | CounterMsg::Worked { .. } => None,
        }
    }
}

impl TxnMsg {
    fn describe(&self) -> Option<String> {
        Some(match self {
            TxnMsg::Do { txn } => format!("do step of {txn}"),
            TxnMsg::Done { ok: true, .. } => "step done".into(),
            TxnMsg::Done { .. } => "step refused".into(),
            TxnMsg::Undo { txn } => format!("undo step of {txn}"),
            TxnMsg::Undone { .. } => "undone".into(),
            TxnMsg::Prepare { txn } => format!("prepare {txn}"),
            TxnMsg::Vote { yes: true, .. } => "vote yes".into(),
            TxnMsg::Vote { .. } => "vote no".into(),
            TxnMsg::Commit { txn } => format!("commit {txn}"),
            TxnMsg::Abort { txn } => format!("abort {txn}"),
            TxnMsg::Finished { .. } => "finished".into(),
            TxnMsg::Begin | TxnMsg::Worked { .. } => return None,
        })
    }
}

impl BrokerMsg {
    fn describe(&self) -> Option<String> {
        let n = |len: usize| match len {
            1 => "1 message".to_string(),
            k => format!("{k} messages"),
        };
        match self {
            BrokerMsg::Produce { batch, msgs, .. } => {
                Some(format!("produce batch {batch} ({})", n(msgs.len())))
            }
            BrokerMsg::Acked { batch } => Some(format!("stored batch {batch}")),
            BrokerMsg::Refused { blocked: true, .. } => Some("full: stop sending".into()),
            BrokerMsg::Refused { .. } => Some("full: refused".into()),
            BrokerMsg::Unblocked => Some("room again".into()),
            BrokerMsg::Join { group } => Some(format!("join group {group}")),
            BrokerMsg::Fetch { max, .. } => Some(format!("fetch up to {max}")),
            BrokerMsg::Delivered { deliveries, .. } => {
                Some(format!("deliver {}", n(deliveries.len())))
            }
            BrokerMsg::CommitOffset {
                partition, offset, ..
            } => Some(format!("commit partition {partition} to {offset}")),
            BrokerMsg::Nack {
                partition, offset, ..
            } => Some(format!("failed: partition {partition} offset {offset}")),
            BrokerMsg::Rewound { partition, offset } => {
                Some(format!("partition {partition} goes on from {offset}"))
            }
            BrokerMsg::Delete { receipt } => Some(format!("done with receipt {receipt}")),
            BrokerMsg::Rebalancing => Some("rebalancing: stop".into()),
            BrokerMsg::Rejoin => Some("join again".into()),
            BrokerMsg::Assigned { partitions, .. } => {
                Some(format!("assigned partitions {partitions:?}"))
            }
            BrokerMsg::Heartbeat
            | BrokerMsg::Arrival
            | BrokerMsg::Linger
            | BrokerMsg::AckTimeout { .. }
            | BrokerMsg::Resend { .. }
            | BrokerMsg::WriteDone { .. }
            | BrokerMsg::Processed { .. }
            | BrokerMsg::Poll { .. }
            | BrokerMsg::HeartbeatDue
            | BrokerMsg::CommitDue
            | BrokerMsg::Tick
            | BrokerMsg::Visible { .. }
            | BrokerMsg::RebalanceDone { .. } => None,
        }
    }
}

impl LockMgrMsg {
    fn tie(&self) -> Option<Tie> {
        match self {
            LockMgrMsg::Lock { call, .. } => Some(Tie::Call {
                call: *call,
                order: None,
            }),
            LockMgrMsg::Locked { call } | LockMgrMsg::Refused { call, .. } => {
                Some(Tie::Answer { call: *call })
            }
            LockMgrMsg::Unlock { .. } | LockMgrMsg::WaitExpired { .. } => None,
        }
    }

    fn describe(&self) -> Option<String> {
        match self {
            LockMgrMsg::Lock { resource, txn, .. } => {
                Some(format!("lock {resource} for transaction {txn}"))
            }
            LockMgrMsg::Locked { .. } => Some("locked".into()),
            LockMgrMsg::Refused { deadlock: true, .. } => Some("refused: deadlock".into()),
            LockMgrMsg::Refused { .. } => Some("refused: waited too long".into()),
            LockMgrMsg::Unlock { txn } => Some(format!("unlock transaction {txn}")),
            LockMgrMsg::WaitExpired { .. } => None,
        }
    }
}

impl LockMsg {
    fn tie(&self) -> Option<Tie> {
        use LockMsg::*;
        Some(match self {
            Acquire { call } | Read { call, .. } | Write { call, .. } => Tie::Call {
                call: *call,
                order: None,
            },
            Granted { call, .. } | Value { call, .. } | Written { call } | Fenced { call, .. } => {
                Tie::Answer { call: *call }
            }
            Release { .. } => return None,
        })
    }

    fn describe(&self) -> String {
        use LockMsg::*;
        match self {
            Acquire { .. } => "acquire the lock".into(),
            Granted { token, lease, .. } => format!("granted token {token} for {lease}"),
            Release { token } => format!("release token {token}"),
            Read { token, .. } => format!("read with token {token}"),
            Value { value, .. } => format!("value {value}"),
            Write { token, value, .. } => format!("write {value} with token {token}"),
            Written { .. } => "written".into(),
            Fenced { newest, .. } => format!("fenced: token {newest} seen"),
        }
    }
}

impl RepMsg {
    fn tie(&self) -> Option<Tie> {
        use RepMsg::*;
        Some(match self {
            Put { call, .. } | Get { call, .. } => Tie::Call {
                call: *call,
                order: None,
            },
            PutOk { call, .. } | GetOk { call, .. } | Refused { call, .. } => {
                Tie::Answer { call: *call }
            }
            Replicate { op: Some(op), .. } | Fetch { op, .. } => Tie::Op { op: *op },
            Replicated { op } | Fetched { op, .. } => Tie::OpAnswer { op: *op },
            Replicate { op: None, .. } => Tie::Handler,
            Heartbeat { .. } | SnapshotRequest | State { .. } | Digest { .. } => return None,
        })
    }

    fn describe(&self) -> Option<String> {
        use RepMsg::*;
        Some(match self {
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
            Heartbeat { .. } | SnapshotRequest | State { .. } | Digest { .. } => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_its_reply_and_its_timeout_are_tied_to_the_same_call() {
        let call = Rpc::from(Request::Call {
            call: 7,
            order: 3,
            key: None,
            deadline: None,
            priority: 0,
        });
        assert_eq!(
            call.tie(),
            Some(Tie::Call {
                call: 7,
                order: Some(3)
            })
        );
        let reply = Rpc::from(Request::Reply {
            call: 7,
            outcome: Outcome::Ok(1),
        });
        assert_eq!(reply.tie(), Some(Tie::Answer { call: 7 }));
        assert_eq!(reply.describe(), "reply ok");
        let timeout = Rpc::from(CallerTimer::AttemptTimeout {
            caller: 0,
            request: 1,
            call: 7,
        });
        assert_eq!(timeout.tie(), Some(Tie::Timeout { call: 7 }));
        // A health probe is not a request.
        let probe = Rpc::from(Request::Call {
            call: 8,
            order: PROBE_ORDER,
            key: None,
            deadline: None,
            priority: 0,
        });
        assert_eq!(probe.tie(), None);
        assert_eq!(
            Rpc::from(RepMsg::Heartbeat {
                term: 1,
                leader: true,
                applied: 0
            })
            .tie(),
            None
        );
    }
}
