//! Messaging: a broker between producers and consumers, as a log (topics
//! of ordered partitions, consumer groups with committed offsets,
//! rebalancing with a pause) or as a queue (a visibility timeout,
//! redelivery, a dead-letter queue after N receives).
//!
//! A message's id is unique across producers (its producer's node id in
//! the high bits, its number there in the low bits). A retried batch
//! whose first copy was stored is stored twice, under the same ids,
//! unless the producer is idempotent; a consumer group that processes an
//! id twice has processed a duplicate (`scenario/messaging.rs` counts
//! them across the group's consumers after the run).
//!
//! The parts: `broker` (the node, its produce path and its metrics),
//! `topic` (one of its topics, with its messages and groups), `group`
//! (a consumer group as the broker sees it), `log` and `queue` (the two
//! ways a topic keeps messages and hands them out),
//! `producer` (with `writes`: its own database, and the dual write or
//! outbox that publishes its events) and `consumer`.

pub mod broker;
pub mod consumer;
mod group;
mod log;
pub mod producer;
mod queue;
mod topic;
pub mod writes;

use crate::time::SimTime;

/// How a broker keeps and hands out messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Ordered partitions; each group reads every message at its own pace.
    Log,
    /// One queue whose consumers compete; a message is deleted once done.
    Queue,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Log => "log",
            Mode::Queue => "queue",
        }
    }
}

/// What a full queue does with a new batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// Refuse it and tell the producer to stop until there is room.
    Block,
    /// Refuse it; the producer may retry.
    Drop,
    /// Take it, and drop the oldest waiting messages to make room.
    Shed,
}

/// When a consumer commits (a log) or deletes (a queue) what it received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Commit {
    /// On receipt, before processing: a failure or crash loses the message
    /// (at most once).
    Before,
    /// After processing: a failure or crash means it comes again (at least
    /// once).
    After,
}

/// One message as a producer made it.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Envelope {
    pub id: u64,
    pub key: u64,
    /// When the producer made it, for end-to-end latency.
    pub created: SimTime,
    pub bytes: u32,
    /// Processing it always fails.
    pub poison: bool,
}

/// One message handed to a consumer.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Delivery {
    pub msg: Envelope,
    /// A log's partition (0 for a queue).
    pub partition: u32,
    /// A log's offset, or a queue's receipt for this delivery.
    pub offset: u64,
    /// How many times it has been handed out, this time included.
    pub receives: u32,
}

/// What producers, brokers and consumers say, and their timers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum BrokerMsg {
    /// A producer's batch for the broker's `topic`-th topic.
    Produce {
        topic: u32,
        batch: u64,
        msgs: Vec<Envelope>,
        idempotent: bool,
    },
    /// The batch is stored.
    Acked { batch: u64 },
    /// The batch was refused: the queue is full (`blocked`: stop sending
    /// until `Unblocked`).
    Refused { batch: u64, blocked: bool },
    /// There is room again.
    Unblocked,
    /// A consumer joins `group` (again, after a restart).
    Join { group: String },
    /// A consumer is alive.
    Heartbeat,
    /// A consumer asks for up to `max` messages.
    Fetch { generation: u64, max: u32 },
    /// The answer to a fetch (perhaps empty).
    Delivered {
        generation: u64,
        deliveries: Vec<Delivery>,
    },
    /// A log: everything in `partition` before `offset` is done.
    CommitOffset {
        generation: u64,
        partition: u32,
        offset: u64,
    },
    /// A log: processing `offset` failed; hand it out again.
    Nack {
        generation: u64,
        partition: u32,
        offset: u64,
    },
    /// A log: `partition` goes on from `offset` (after a `Nack`: the same
    /// offset again, or the next if it went to the dead-letter queue).
    Rewound { partition: u32, offset: u64 },
    /// A queue: the message received as `receipt` is done.
    Delete { receipt: u64 },
    /// A log: the group is rebalancing; stop fetching.
    Rebalancing,
    /// The broker does not know the consumer (it left the group, or its
    /// join was lost): join again.
    Rejoin,
    /// A log: the group's new assignment.
    Assigned {
        generation: u64,
        partitions: Vec<u32>,
    },
    // Timers.
    /// A producer's next message is due.
    Arrival,
    /// A producer's oldest waiting message has lingered long enough.
    Linger,
    /// A producer's batch was not acknowledged in time.
    AckTimeout { batch: u64 },
    /// A producer sends a batch again.
    Resend { batch: u64 },
    /// A consumer's processing of slot `slot` ends.
    Processed { slot: u64 },
    /// A consumer polls again, or its fetch was not answered.
    Poll { fetch: u64 },
    /// A consumer's heartbeat is due.
    HeartbeatDue,
    /// A consumer commits what it has processed since the last time.
    CommitDue,
    /// The broker's periodic work: retention, dead members, lag in seconds.
    Tick,
    /// A queue: the message of topic `topic` received as `receipt`
    /// becomes visible again.
    Visible { topic: u32, receipt: u64 },
    /// A log: the rebalance of topic `topic`'s group `group` to
    /// `generation` ends.
    RebalanceDone {
        topic: u32,
        group: u32,
        generation: u64,
    },
    /// A producer's write in `slot` commits. (New variants go last: a
    /// variant's number is in its hash, and so in every fingerprint.)
    WriteDone { slot: u64 },
}
