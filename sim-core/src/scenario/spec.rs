//! The scenario file format, as serde types: what a file may say, field by
//! field. Every struct refuses unknown fields. Values in human units
//! (durations, rates, probabilities) and distributions have their own
//! deserialisers, so a bad value is reported at its own location.
//!
//! Cross-references (a client's target, a fault's node) and rules that
//! depend on a node's kind are checked after parsing, in `load`.

use crate::dist::Dist;
use crate::time::SimDuration;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::collections::BTreeMap;
use toml::Spanned;

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub title: String,
    pub summary: String,
    #[serde(default)]
    pub story: String,
    #[serde(default)]
    pub look_for: Vec<String>,
    /// What to look for, tied to what the learner sees.
    #[serde(default, rename = "look")]
    pub looks: Vec<LookSpec>,
    #[serde(default)]
    pub questions: Vec<String>,
    pub run: RunSpec,
    #[serde(default)]
    pub network: NetworkSpec,
    #[serde(default, rename = "node")]
    pub nodes: Vec<NodeSpec>,
    #[serde(default, rename = "link")]
    pub links: Vec<LinkSpecToml>,
    #[serde(default, rename = "fault")]
    pub faults: Vec<FaultSpec>,
    #[serde(default)]
    pub variants: BTreeMap<String, Spanned<VariantSpec>>,
    #[serde(default, rename = "expect")]
    pub expectations: Vec<ExpectSpec>,
    #[serde(default, rename = "predict")]
    pub predictions: Vec<PredictSpec>,
    #[serde(default, rename = "challenge")]
    pub challenges: Vec<ChallengeSpec>,
    /// What `explore --faults` may draw.
    pub search: Option<super::SearchSpec>,
}

/// The name of replica `i` of a replicated node `group`: `api-0`.
pub fn instance_name(group: &str, i: impl std::fmt::Display) -> String {
    format!("{group}-{i}")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    pub duration: Duration,
    #[serde(default)]
    pub seed: u64,
    pub event_budget: Option<u64>,
    /// What a run may hold before it is stopped (default 1 GiB).
    pub memory_budget: Option<Size>,
    /// What is recorded before this is left out of the results.
    pub warmup: Option<Duration>,
    /// Allow a node to call itself, or calls to form a ring.
    pub allow_call_cycles: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Latency between nodes in the same zone (default 100us).
    pub latency: Option<DistSpec>,
    /// Latency between zones (default 1ms).
    pub zone_latency: Option<DistSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Client,
    Service,
    Ledger,
    /// A key-value store (a database).
    Kv,
    /// A cache in front of a key-value store.
    Cache,
    /// Reads keys through a cache or from a store.
    Reader,
    /// Writes keys to a store (or through a write-through cache).
    Writer,
    /// Routes reads and writes to the shard that holds the key.
    Router,
    /// A replicated store: leader/follower or quorums.
    Replica,
    /// A user reading and writing a replicated store.
    Session,
    /// A client doing quorum reads and writes on a group of stores.
    QuorumClient,
    /// A lock service granting leases with fencing tokens.
    Lock,
    /// A worker that takes a lock to change shared data.
    LockClient,
    /// Storage for lock holders' data, that can refuse old tokens.
    Storage,
    /// Users who change a shared counter in a store (read-modify-write).
    CounterClient,
    /// Exclusive locks on numbered resources, with deadlock detection.
    LockManager,
    /// Users who move money between accounts under two locks.
    TransferClient,
    /// A process that only sends heartbeats.
    Heartbeat,
    /// A failure detector judging heartbeat senders.
    Monitor,
    /// A replicated store kept by Raft consensus.
    Raft,
    /// A message broker: a log of partitions, or a queue.
    Broker,
    /// Makes messages and sends them to a broker.
    Producer,
    /// A consumer group's members, reading from a broker.
    Consumer,
    /// Runs transactions across participants: a saga or two-phase commit.
    Coordinator,
    /// One service's part of a coordinator's transactions.
    Participant,
}

/// One node; which fields apply depends on `kind`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    pub name: Spanned<String>,
    pub kind: Spanned<NodeKind>,
    pub zone: Option<String>,
    // Client.
    pub target: Option<Spanned<String>>,
    pub rate: Option<Spanned<Rate>>,
    pub timeout: Option<Spanned<Duration>>,
    pub deadline: Option<Duration>,
    pub retry: Option<Spanned<RetrySpec>>,
    pub idempotency_keys: Option<bool>,
    pub double_submit: Option<Probability>,
    pub double_submit_delay: Option<DistSpec>,
    pub orders: Option<u64>,
    pub rate_changes: Option<Vec<RateChangeSpec>>,
    pub max_in_flight: Option<Spanned<u64>>,
    /// A closed loop: this many users, each waiting for its answer.
    pub users: Option<Spanned<u32>>,
    /// A closed loop's requests per user.
    pub tasks: Option<Spanned<u64>>,
    // Counter client: read-modify-write of shared data.
    /// Added to the counter by each task (negative: take).
    pub change: Option<Spanned<i64>>,
    pub method: Option<crate::models::counter::Method>,
    // Lock manager and transfer client.
    pub lock_timeout: Option<Spanned<Duration>>,
    pub detect_deadlocks: Option<bool>,
    pub lock_order: Option<crate::models::transfer::LockOrder>,
    pub accounts: Option<Spanned<u32>>,
    pub amount: Option<Spanned<u64>>,
    // Client: the policies on its calls (a service sets them per `call`).
    pub breaker: Option<Spanned<BreakerSpec>>,
    pub bulkhead: Option<Spanned<u32>>,
    pub balance: Option<crate::policy::load_balance::Balancer>,
    pub outlier: Option<OutlierSpec>,
    pub health_check: Option<Spanned<HealthCheckSpec>>,
    pub hedge: Option<Spanned<HedgeSpec>>,
    /// Answer failed calls with a default value (a degraded success).
    pub fallback: Option<bool>,
    pub pool: Option<Spanned<u32>>,
    pub throttle: Option<ThrottleSpec>,
    /// The priority of its calls, 0 to 255 (higher is more important).
    pub priority: Option<u8>,
    // Service.
    /// Run this many identical copies, named `<name>-0`, `<name>-1`...;
    /// callers of `<name>` balance over them.
    pub replicas: Option<Spanned<u32>>,
    pub workers: Option<Spanned<u32>>,
    pub queue: Option<Spanned<QueueSpec>>,
    pub service_time: Option<DistSpec>,
    pub calls: Option<Spanned<String>>,
    pub call_timeout: Option<Duration>,
    pub idempotency: Option<IdempotencySpec>,
    pub discipline: Option<crate::models::service::Discipline>,
    pub codel: Option<CodelSpec>,
    /// Dependencies with their policies, called in order after the work.
    #[serde(rename = "call")]
    pub call_specs: Option<Vec<CallSpec>>,
    /// Call every dependency at once instead of in order.
    pub parallel: Option<bool>,
    /// Feature flags and their values at the start.
    pub flags: Option<BTreeMap<String, bool>>,
    /// Gray failures apply only while this flag is on.
    pub gate: Option<Spanned<String>>,
    pub rate_limit: Option<Spanned<RateLimitSpec>>,
    /// Shed low-priority calls once the queue is long.
    pub shed: Option<ShedSpec>,
    // Ledger.
    pub processing_time: Option<DistSpec>,
    /// A kv store: what every key holds until written.
    pub initial: Option<u64>,
    // Data: caches, readers, writers.
    pub ttl: Option<Duration>,
    pub ttl_jitter: Option<Probability>,
    pub single_flight: Option<bool>,
    pub write_through: Option<bool>,
    pub keys: Option<Spanned<KeysSpec>>,
    /// A writer: the cache to invalidate after each write.
    pub invalidate: Option<Spanned<String>>,
    // Router.
    pub sharding: Option<ShardingSpec>,
    /// Shards in use at the start (default: the whole group).
    pub shards: Option<Spanned<u32>>,
    pub reshard: Option<Spanned<ReshardSpec>>,
    // Replica: a replicated store (`replicas` copies).
    pub replication: Option<Spanned<ReplicationSpec>>,
    /// Each replica's zone, in order.
    pub zones: Option<Spanned<Vec<String>>>,
    /// Each replica's clock error, in order (`"-2s"`: behind).
    pub clock_skew: Option<Spanned<Vec<SignedDuration>>>,
    pub heartbeat: Option<Spanned<Duration>>,
    pub failover_after: Option<Spanned<Duration>>,
    pub failover: Option<crate::models::replication::Failover>,
    pub anti_entropy: Option<Spanned<Duration>>,
    pub drift_check: Option<Spanned<Duration>>,
    // Session: a user of a replicated store.
    pub read_share: Option<Probability>,
    pub read_from: Option<crate::models::replication::ReadFrom>,
    pub read_your_writes: Option<bool>,
    // Quorum client.
    pub quorum: Option<Spanned<QuorumRw>>,
    pub reads_per_write: Option<u32>,
    pub think: Option<DistSpec>,
    pub writes: Option<u64>,
    // Locks.
    pub lease: Option<Spanned<Duration>>,
    pub work: Option<DistSpec>,
    pub check_lease: Option<bool>,
    pub fencing: Option<bool>,
    // Failure detection.
    pub detector: Option<Spanned<DetectorSpec>>,
    // Consensus.
    pub election_timeout: Option<Spanned<Duration>>,
    pub election_jitter: Option<Probability>,
    pub reads: Option<crate::models::raft::ReadMode>,
    pub fsync: Option<bool>,
    pub bootstrap: Option<bool>,
    pub pre_vote: Option<bool>,
    // Messaging: brokers, producers, consumers.
    pub mode: Option<crate::models::messaging::Mode>,
    pub partitions: Option<Spanned<u32>>,
    pub retention: Option<Spanned<Duration>>,
    pub retention_size: Option<Spanned<Size>>,
    pub capacity: Option<Spanned<u64>>,
    pub overflow: Option<Spanned<crate::models::messaging::Overflow>>,
    pub visibility_timeout: Option<Spanned<Duration>>,
    pub max_receives: Option<Spanned<u32>>,
    pub rebalance_pause: Option<Spanned<Duration>>,
    pub session_timeout: Option<Spanned<Duration>>,
    pub dead_letter: Option<Spanned<String>>,
    pub dead_letter_topic: Option<Spanned<String>>,
    pub topics: Option<Spanned<Vec<Spanned<String>>>>,
    pub topic: Option<Spanned<String>>,
    pub messages: Option<Spanned<u64>>,
    pub batch: Option<Spanned<u32>>,
    pub linger: Option<Duration>,
    pub acks: Option<Spanned<bool>>,
    pub idempotent: Option<Spanned<bool>>,
    pub buffer: Option<Spanned<u64>>,
    pub message_size: Option<Spanned<Size>>,
    pub poison: Option<Probability>,
    pub write: Option<Spanned<crate::models::messaging::writes::WriteMode>>,
    pub write_time: Option<Spanned<DistSpec>>,
    pub concurrency: Option<Spanned<u32>>,
    pub commit: Option<crate::models::messaging::Commit>,
    pub commit_every: Option<Spanned<Duration>>,
    pub failure_rate: Option<Probability>,
    pub poll: Option<Spanned<Duration>>,
    pub dedupe: Option<bool>,
    // Transactions across services.
    pub participants: Option<Vec<Spanned<String>>>,
    pub protocol: Option<crate::models::transactions::Protocol>,
    pub compensate: Option<bool>,
    pub transactions: Option<Spanned<u64>>,
}

/// A monitor's failure detector: `{ timeout = "1s" }`, or
/// `{ phi = 8, window = 100, min_std = "10ms" }`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorSpec {
    pub timeout: Option<Duration>,
    pub phi: Option<f64>,
    pub window: Option<u32>,
    pub min_std: Option<Duration>,
}

/// A quorum client's read and write quorums: `{ r = 2, w = 2 }`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuorumRw {
    pub r: u32,
    pub w: u32,
}

/// How a replicated store copies writes: `{ mode = "leader", sync = 1 }`
/// or `{ mode = "quorum", r = 2, w = 2, read_repair = true }`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationSpec {
    pub mode: ReplicationName,
    /// Leader/follower: followers to wait for before acknowledging.
    pub sync: Option<u32>,
    /// Quorums: replicas that must answer a read.
    pub r: Option<u32>,
    /// Quorums: replicas that must store a write.
    pub w: Option<u32>,
    pub read_repair: Option<bool>,
    pub conflicts: Option<ConflictsName>,
}

/// The two designs of a replicated store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicationName {
    /// One leader takes writes and sends them to followers.
    Leader,
    /// Dynamo-style: any replica coordinates, with R and W quorums.
    Quorum,
}

/// What a replica does with concurrent writes to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictsName {
    /// Last writer wins: the higher timestamp stays, the other is dropped.
    Lww,
    /// Version vectors: both stay, as siblings, until a write supersedes them.
    Siblings,
}

/// How a router maps keys to shards.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardingSpec {
    pub scheme: SchemeName,
    /// Consistent hashing: points per shard on the ring (default 100).
    pub vnodes: Option<u32>,
    /// Ranges: keys 0 to this are split evenly (default 1,000,000).
    pub key_space: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemeName {
    /// hash(key) mod N.
    Mod,
    /// Key ranges, unhashed.
    Range,
    /// Consistent hashing with virtual nodes.
    Consistent,
}

/// Reshard to `shards` shards at `at`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReshardSpec {
    pub at: Duration,
    pub shards: u32,
}

/// Which keys a reader or writer touches: `{ dist = "uniform", n = 1000 }`,
/// `{ dist = "zipf", n = 1000, s = 1.0 }` or `{ dist = "hot", n = 1000,
/// share = "30%" }`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysSpec {
    pub dist: KeysName,
    pub n: u64,
    pub s: Option<f64>,
    pub share: Option<Probability>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeysName {
    Uniform,
    Zipf,
    Hot,
}

/// `queue = 100` (a bound) or `queue = "unbounded"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum QueueSpec {
    Bounded(u64),
    Named(QueueName),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueName {
    Unbounded,
}

/// One dependency of a service, with the policies on calls to it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSpec {
    /// The node or replica group called.
    pub to: Spanned<String>,
    /// Its name in metrics (default: `to`).
    pub name: Option<String>,
    pub timeout: Option<Duration>,
    pub deadline: Option<Duration>,
    pub retry: Option<Spanned<RetrySpec>>,
    pub breaker: Option<Spanned<BreakerSpec>>,
    pub bulkhead: Option<Spanned<u32>>,
    pub balance: Option<crate::policy::load_balance::Balancer>,
    pub outlier: Option<OutlierSpec>,
    pub health_check: Option<Spanned<HealthCheckSpec>>,
    pub hedge: Option<Spanned<HedgeSpec>>,
    /// Answer failed calls with a default value (a degraded success).
    pub fallback: Option<bool>,
    pub fanout: Option<FanoutSpec>,
    /// Call it only while this flag is on.
    pub flag: Option<String>,
    /// Connections to it: attempts wait for a free one.
    pub pool: Option<Spanned<u32>>,
    pub throttle: Option<ThrottleSpec>,
}

/// `throttle = true` (K = 2 over 2 minutes) or `{ k = 2, window = "2m" }`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum ThrottleSpec {
    Enabled(bool),
    Tuned(ThrottleTuned),
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleTuned {
    pub k: f64,
    pub window: Duration,
}

/// A token bucket (`rate`, `burst`) or a sliding window (`limit`,
/// `window`), for all callers or `per_client`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    pub rate: Option<Rate>,
    pub burst: Option<f64>,
    pub limit: Option<u64>,
    pub window: Option<Duration>,
    pub per_client: Option<bool>,
}

/// While `queue` or more calls wait, refuse those with priority below
/// `below`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShedSpec {
    pub below: u8,
    pub queue: u64,
}

/// A circuit breaker.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// The last N calls (a number) or the calls of the last while (a
    /// duration). Default 20 calls.
    pub window: Option<WindowSpec>,
    /// Open at this failure rate (default 50%).
    pub failure_rate: Option<Probability>,
    /// Open at this share of calls slower than `slow_call`.
    pub slow_call_rate: Option<Probability>,
    pub slow_call: Option<Duration>,
    /// Judge only with at least this many calls in the window (default 10).
    pub minimum_calls: Option<u32>,
    /// How long to stay open (default 5s).
    pub open_for: Option<Duration>,
    /// Probes in half-open (default 3).
    pub half_open_calls: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum WindowSpec {
    Calls(u32),
    Time(Duration),
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlierSpec {
    pub consecutive_errors: u32,
    /// How long a first ejection lasts; the n-th lasts n times as long.
    pub ejection: Duration,
    /// At most this share of replicas out at once (default 50%).
    pub max_ejected: Option<Probability>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSpec {
    pub interval: Duration,
    pub timeout: Duration,
    /// Failed probes in a row before a replica is out (default 2).
    pub unhealthy: Option<u32>,
    /// Good probes in a row before it is back (default 2).
    pub healthy: Option<u32>,
}

/// `{ after = "50ms" }` or `{ quantile = "95%" }`, with `max` hedges.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HedgeSpec {
    pub after: Option<Duration>,
    pub quantile: Option<Probability>,
    pub max: Option<u32>,
}

/// `fanout = "all"` or `{ quorum = 90 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum FanoutSpec {
    Named(FanoutAll),
    Quorum(QuorumSpec),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FanoutAll {
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuorumSpec {
    pub quorum: u32,
}

/// From `at` on, new orders arrive at `rate`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateChangeSpec {
    pub at: Duration,
    pub rate: ZeroOrRate,
}

/// A rate that may be zero (`"0/s"` pauses arrivals).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZeroOrRate(pub f64);

impl<'de> Deserialize<'de> for ZeroOrRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match super::units::parse_rate(&text) {
            Ok(r) if r >= 0.0 && r.is_finite() => Ok(ZeroOrRate(r)),
            Ok(_) => Err(de::Error::custom(format!(
                "`{text}` is not a rate of zero or more"
            ))),
            Err(e) => Err(de::Error::custom(e)),
        }
    }
}

/// `codel = true` (target 5ms, interval 100ms) or `{ target, interval }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CodelSpec {
    Enabled(bool),
    Tuned(CodelTuned),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodelTuned {
    pub target: Duration,
    pub interval: Duration,
}

/// `idempotency = false`, `true` (keys kept 24h) or `{ ttl = "1h" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum IdempotencySpec {
    Enabled(bool),
    Ttl(IdempotencyTtl),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotencyTtl {
    pub ttl: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Attempts in all, the first included.
    pub attempts: u32,
    #[serde(default)]
    pub backoff: BackoffKind,
    /// The fixed delay, or the first delay of an exponential backoff.
    pub delay: Option<Duration>,
    pub multiplier: Option<f64>,
    pub max_delay: Option<Duration>,
    #[serde(default)]
    pub jitter: crate::policy::retry::Jitter,
    /// Error kinds worth retrying (default: timeout, unavailable,
    /// overloaded, conflict).
    pub on: Option<Vec<crate::policy::ErrorKind>>,
    pub budget: Option<BudgetSpec>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackoffKind {
    #[default]
    Immediate,
    Fixed,
    Exponential,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    pub max_tokens: f64,
    pub token_ratio: f64,
}

/// A link between two nodes or two zones, one way (`both_ways` for two).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpecToml {
    pub from: Spanned<String>,
    pub to: Spanned<String>,
    #[serde(default)]
    pub both_ways: bool,
    pub latency: Option<DistSpec>,
    pub loss: Option<Probability>,
    pub duplicate: Option<Probability>,
    pub reorder: Option<Probability>,
    pub reorder_delay: Option<DistSpec>,
}

/// A scheduled fault: `at` and exactly one action (see `faults`, which
/// reads it as a `FaultAction`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub at: Spanned<Duration>,
    pub crash: Option<Spanned<String>>,
    pub restart: Option<Spanned<String>>,
    /// Two groups of node or zone names to cut apart.
    pub partition: Option<Spanned<[Vec<Spanned<String>>; 2]>>,
    pub one_way: Option<bool>,
    /// The partition's name, for `heal`.
    pub name: Option<String>,
    /// Heal the partition with this name, or `"all"`.
    pub heal: Option<Spanned<String>>,
    /// Make a service (or every replica of a group) slow by `factor`.
    pub slow: Option<Spanned<String>>,
    pub factor: Option<f64>,
    /// Make a service fail `rate` of its calls.
    pub errors: Option<Spanned<String>>,
    pub rate: Option<Probability>,
    /// Make a service accept calls and never answer.
    pub hang: Option<Spanned<String>>,
    /// End a service's gray failure.
    pub recover: Option<Spanned<String>>,
    /// Stop a node (every replica of a group) for `lasting`: it handles
    /// nothing until then, and then everything that waited.
    pub pause: Option<Spanned<String>>,
    pub lasting: Option<Duration>,
    /// Make a node's clock run fast or slow by `drift` from now on, or
    /// set it forward or back by `jump`.
    pub clock: Option<Spanned<String>>,
    pub drift: Option<Drift>,
    pub jump: Option<SignedDuration>,
    /// Set the feature flag with this name to `on`, on every service that
    /// has it.
    pub flag: Option<Spanned<String>>,
    pub on: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    #[serde(default)]
    pub description: String,
    /// Overrides: a path into this file (`node.user.timeout`) and a value.
    #[serde(default)]
    pub set: BTreeMap<String, Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    pub variant: Option<Spanned<String>>,
    pub metric: Spanned<String>,
    pub op: Spanned<CompareOp>,
    pub value: Spanned<toml::Value>,
    /// When it must hold: at the end (default), always, or eventually.
    pub when: Option<Spanned<super::watch::When>>,
    /// With `when = "eventually"`: from this long after the last fault
    /// ends, at every checkpoint.
    pub within: Option<Spanned<Duration>>,
    /// Why this should hold, shown when it does not.
    #[serde(default)]
    pub because: String,
}

/// A question for the learner, whose answers the run grades.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictSpec {
    pub question: Spanned<String>,
    /// The variant it is about (absent: the scenario as written).
    pub variant: Option<Spanned<String>>,
    /// When in the run it is graded, on the metrics as they stand then
    /// (absent: at the end).
    pub at: Option<Spanned<Duration>>,
    #[serde(rename = "answer")]
    pub answers: Vec<AnswerSpec>,
}

/// One answer to a prediction: true when every one of its conditions
/// holds of the run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerSpec {
    pub text: Spanned<String>,
    /// Expectations (without `variant` or `because`), all of which make
    /// the answer true.
    pub when: Vec<ExpectSpec>,
    /// Why the run came out so, shown once it is graded.
    #[serde(default)]
    pub because: String,
}

/// Something to look for, as each front end shows it: the web app names
/// what the learner sees and highlights its node or chart line when the
/// item is clicked; the CLI prints `cli` (or `text`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookSpec {
    /// What to watch, in the words of what the browser shows.
    pub text: Spanned<String>,
    /// The same in the words of the CLI's output (absent: `text`).
    pub cli: Option<String>,
    /// The node it is about (a node's or a replica's name).
    pub node: Option<Spanned<String>>,
    /// The chart it is about, by id (see `CHART_IDS`).
    pub chart: Option<Spanned<String>>,
    /// The line in that chart, by its label ("user goodput" is `user`).
    pub line: Option<String>,
}

/// A goal the learner reaches by changing a few of the scenario's
/// numbers: `check` proves the solution reaches it and the scenario as it
/// starts does not.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeSpec {
    pub title: Spanned<String>,
    /// The goal in the learner's words.
    pub goal: String,
    /// The variant the challenge starts from (absent: as written).
    pub variant: Option<Spanned<String>>,
    /// The numbers the learner may change, as `--set` paths.
    pub change: Spanned<Vec<Spanned<String>>>,
    /// How many of them a try may change (absent: any number).
    pub budget: Option<Spanned<u32>>,
    /// Expectations that all hold once the goal is reached.
    pub when: Vec<ExpectSpec>,
    /// Shown after a try that did not reach the goal.
    #[serde(default)]
    pub hint: String,
    /// A try that reaches the goal, by path: what `check` proves.
    pub solution: Spanned<BTreeMap<String, Spanned<toml::Value>>>,
}

impl ChallengeSpec {
    /// The `--set` paths the challenge offers, in file order.
    pub fn offered(&self) -> Vec<&str> {
        self.change
            .get_ref()
            .iter()
            .map(|p| p.get_ref().as_str())
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum CompareOp {
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            CompareOp::Eq => left == right,
            CompareOp::Ne => left != right,
            CompareOp::Lt => left < right,
            CompareOp::Le => left <= right,
            CompareOp::Gt => left > right,
            CompareOp::Ge => left >= right,
        }
    }
}

/// A duration that may be negative: `"-2s"`, `"150ms"` (nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedDuration(pub i64);

impl<'de> Deserialize<'de> for SignedDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let (sign, rest) = match s.trim().strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, s.trim().strip_prefix('+').unwrap_or(s.trim())),
        };
        let d = rest.parse::<SimDuration>().map_err(de::Error::custom)?;
        i64::try_from(d.as_nanos())
            .map(|n| SignedDuration(sign * n))
            .map_err(|_| de::Error::custom(format!("`{s}` is too long for a clock error")))
    }
}

/// A duration in human units: `"250ms"`, `"1.5s"`, `"3d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub SimDuration);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<SimDuration>()
            .map(Duration)
            .map_err(de::Error::custom)
    }
}

/// A rate: `"200/s"`, `"1.5k/min"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(pub f64);

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        super::units::parse_rate(&s)
            .map(Rate)
            .map_err(de::Error::custom)
    }
}

/// A size in bytes: `"512MiB"`, `"2GB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        super::units::parse_size(&s)
            .map(Size)
            .map_err(de::Error::custom)
    }
}

/// How much faster a clock runs than true time: `"25%"` (a quarter fast),
/// `"-20%"` (a fifth slow), `"0%"` (true again); from -90% to +900%.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drift(pub f64);

impl<'de> Deserialize<'de> for Drift {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let number = s
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok())
            .filter(|p| p.is_finite())
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "`{s}` is not a drift: write a percentage, e.g. \"25%\" (fast) or \"-20%\" (slow)"
                ))
            })?;
        if !(-90.0..=900.0).contains(&number) {
            return Err(de::Error::custom(format!(
                "a clock may drift from -90% to +900%, not {s}"
            )));
        }
        Ok(Drift(number / 100.0))
    }
}

/// A probability: `"5%"`, `"0.1%"` or a number from 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probability(pub f64);

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Probability;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a percentage such as \"5%\" or a number from 0 to 1")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Probability, E> {
                if (0.0..=1.0).contains(&v) {
                    Ok(Probability(v))
                } else {
                    Err(E::custom(format!(
                        "a probability must be from 0 to 1, got {v}; for a percentage write \"{v}%\""
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Probability, E> {
                self.visit_f64(v as f64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Probability, E> {
                super::units::parse_probability(v)
                    .map(Probability)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A distribution of durations: a plain duration (`"5ms"`, a constant) or
/// a table naming the distribution and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct DistSpec(pub Dist);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DistTable {
    dist: DistName,
    mean: Option<Duration>,
    median: Option<Duration>,
    p99: Option<Duration>,
    low: Option<Duration>,
    high: Option<Duration>,
    std_dev: Option<Duration>,
    min: Option<Duration>,
    shape: Option<f64>,
    /// Empirical: quantile (0 to 1) to duration, e.g. { "0" = "1ms", "0.5" = "4ms", "1" = "90ms" }.
    points: Option<BTreeMap<String, Duration>>,
    /// Mixture: weighted distributions, e.g. [{ weight = 0.99, value = "5ms" }, { weight = 0.01, value = "1s" }].
    parts: Option<Vec<MixturePart>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MixturePart {
    weight: f64,
    value: DistSpec,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum DistName {
    Constant,
    Uniform,
    Exponential,
    Normal,
    LogNormal,
    Pareto,
    Empirical,
    Mixture,
}

/// The fields serde accepts for the table type `T`, read from the
/// unknown-field error it gives for a field that cannot exist (for the
/// reference page's completeness test).
pub fn serde_fields<T: serde::de::DeserializeOwned>() -> Vec<String> {
    expected_names::<T>("__probe__ = 1")
}

/// The names serde's error for `probe` says it expected ("expected one
/// of `a`, `b`").
fn expected_names<T: serde::de::DeserializeOwned>(probe: &str) -> Vec<String> {
    match toml::from_str::<T>(probe) {
        Ok(_) => Vec::new(),
        Err(e) => {
            let message = e.message().to_string();
            let expected = message.split("expected").nth(1).unwrap_or("").to_string();
            expected
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect()
        }
    }
}

/// The fields a distribution table accepts (the table type is private).
pub fn dist_table_fields() -> Vec<String> {
    serde_fields::<DistTable>()
}

fn ns(d: Duration) -> f64 {
    d.0.as_nanos() as f64
}

impl DistTable {
    fn build(self) -> Result<Dist, String> {
        let need = |v: Option<Duration>, field: &str, dist: &str| {
            v.map(ns)
                .ok_or_else(|| format!("a {dist} distribution needs `{field}`"))
        };
        let result = match self.dist {
            DistName::Constant => Dist::constant(need(self.mean, "mean", "constant")?),
            DistName::Uniform => Dist::uniform(
                need(self.low, "low", "uniform")?,
                need(self.high, "high", "uniform")?,
            ),
            DistName::Exponential => Dist::exponential(need(self.mean, "mean", "exponential")?),
            DistName::Normal => Dist::normal(
                need(self.mean, "mean", "normal")?,
                need(self.std_dev, "std_dev", "normal")?,
            ),
            DistName::LogNormal => Dist::log_normal_from_median_p99(
                need(self.median, "median", "log_normal")?,
                need(self.p99, "p99", "log_normal")?,
            ),
            DistName::Pareto => Dist::pareto(
                need(self.min, "min", "pareto")?,
                self.shape.ok_or("a pareto distribution needs `shape`")?,
            ),
            DistName::Empirical => {
                let points = self
                    .points
                    .ok_or("an empirical distribution needs `points`")?;
                let mut parsed = Vec::new();
                for (q, v) in points {
                    let q: f64 = q.parse().map_err(|_| {
                        format!("empirical point `{q}` is not a quantile from 0 to 1")
                    })?;
                    parsed.push((q, ns(v)));
                }
                parsed.sort_by(|a, b| a.0.total_cmp(&b.0));
                Dist::empirical(parsed)
            }
            DistName::Mixture => {
                let parts = self.parts.ok_or("a mixture needs `parts`")?;
                Dist::mixture(parts.into_iter().map(|p| (p.weight, p.value.0)).collect())
            }
        };
        result.map_err(|e| e.to_string())
    }
}

impl<'de> Deserialize<'de> for DistSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DistSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a duration such as \"5ms\", or a table such as { dist = \"exponential\", mean = \"5ms\" }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DistSpec, E> {
                let d: SimDuration = v.parse().map_err(E::custom)?;
                Ok(DistSpec(Dist::Constant(d.as_nanos() as f64)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DistSpec, A::Error> {
                let table = DistTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                table.build().map(DistSpec).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// The names serde accepts for the enum in field `field` of `T`, read from
/// the error it gives for a name that cannot exist.
pub fn serde_variants<T: serde::de::DeserializeOwned>(field: &str) -> Vec<String> {
    expected_names::<T>(&format!("{field} = \"__probe__\""))
}
