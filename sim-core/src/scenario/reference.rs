//! The scenario format's reference page, generated from this table and,
//! for nodes, from the node kinds' declarations (`kinds`).
//! `docs/scenario-format.md` is its output; a test fails when the file is
//! stale (`UPDATE_DOCS=1 cargo test` rewrites it) and another fails when a
//! field of the serde types has no entry here (it asks serde itself which
//! fields each table has), so the reference cannot drift from the code.

use super::kinds::metrics::{CALLER, Callers, Metric, NET, REASONS, listed};
use super::spec;

/// One documented field.
pub struct FieldDoc {
    pub table: &'static str,
    pub field: &'static str,
    pub value: &'static str,
    pub about: &'static str,
}

const fn f(
    table: &'static str,
    field: &'static str,
    value: &'static str,
    about: &'static str,
) -> FieldDoc {
    FieldDoc {
        table,
        field,
        value,
        about,
    }
}

/// Every table of the format, in the order the page presents them, with
/// what it is.
pub const TABLES: &[(&str, &str)] = &[
    (
        "top level",
        "What the scenario is about. Shown by `faultline list` and `faultline explain`.",
    ),
    ("[run]", "How long to run and with which seed."),
    ("[network]", "Default latencies. Links override them."),
    (
        "[[node]]",
        "One node. Every node has the fields below; `kind` decides which others apply (each kind's section follows).",
    ),
    (
        "[[link]]",
        "How messages travel from one node or zone to another.",
    ),
    (
        "[[fault]]",
        "Something that happens at a time: `at` and exactly one action, with the companion fields of that action only (`factor` with `slow`, `rate` with `errors`, `on` with `flag`, `one_way` and `name` with `partition`).",
    ),
    (
        "[variants.NAME]",
        "A named version of the system, compared with the others on the same seeds.",
    ),
    (
        "[[expect]]",
        "An assertion on a metric, checked by `faultline run`, `check` and `explore`, the web app and the tests. An expectation that names a `variant` is about that variant only; one that names none is about the scenario as written only (a variant changes the system, so what holds of one need not hold of the other). `check` runs each variant once per seed and judges all of its expectations on that run. A run cut short (its event budget ran out) is not a result: its expectations are not judged, and the command fails with the reason.",
    ),
    (
        "[[predict]]",
        "A question the learner answers before the run, which the run then grades: the web app asks it before playing and shows the answer the run supports, its numbers and why; `faultline run` prints them; `faultline check` proves on every seed it runs that exactly one answer holds, so an answer key cannot be wrong.",
    ),
    (
        "[[predict.answer]]",
        "One of two to four answers to a prediction.",
    ),
    (
        "[[look]]",
        "Something to look for, tied to what the learner sees: the web app shows `text` and, when the item is clicked, highlights its node and its chart line; `faultline explain` prints `cli`.",
    ),
    (
        "[[challenge]]",
        "A goal the learner reaches by changing a few of the scenario's numbers: the web app shows the numbers it allows as sliders, counts the changes against the budget, checks the goal when the run ends and gives the hint after a try that fell short. `faultline check` proves on every seed it runs that the solution reaches the goal and that the scenario as the challenge starts does not.",
    ),
    (
        "[search]",
        "What `faultline explore --faults` may draw: each seed draws its own fault schedule within these bounds (first which of the allowed kinds are enabled at all, each with even odds, then how many faults, and each one's kind, target, start and length), after the scenario's own faults. Every drawn fault ends within the window: a crash restarts, a partition heals, a slow or failing service recovers; a target holds one drawn fault at a time. A schedule that breaks an expectation is shrunk (fewer faults, shorter ones, earlier, a shorter run, a lower rate and fewer replicas of each node with a `rate`) and written out as a scenario file with plain `[[fault]]`s. Without the table, the search uses the defaults below.",
    ),
    (
        "[[node.call]]",
        "A service's dependency and the policies on calls to it. Several are called in order (or all at once with `parallel = true`). Clients put the same policies directly on the node.",
    ),
    ("retry", "A client's or a call's `retry` table."),
    (
        "breaker",
        "A circuit breaker: after too many failures (or slow calls) in its window it opens and fails calls at once, then lets a few probes through.",
    ),
    (
        "outlier",
        "Outlier ejection: a replica that fails this many calls in a row is taken out of the balance for a while.",
    ),
    (
        "health_check",
        "Active health checks: every replica is probed with a call on a schedule; replicas that fail probes get no calls until they pass again.",
    ),
    ("sharding", "A router's mapping of keys to shards."),
    (
        "replication",
        "How a replicated store copies writes: `{ mode = \"leader\", sync = 1 }` or `{ mode = \"quorum\", r = 2, w = 2, read_repair = true }`.",
    ),
    (
        "keys",
        "Which keys a reader or writer touches: `{ dist = \"uniform\", n = 1000 }`, `{ dist = \"zipf\", n = 1000, s = 1.0 }` or `{ dist = \"hot\", n = 1000, share = \"30%\" }`.",
    ),
    (
        "rate_limit",
        "A service's rate limit: either a token bucket (`rate`, `burst`) or a sliding window (`limit`, `window`), for all callers together or per caller.",
    ),
    (
        "hedge",
        "Hedged requests: if an attempt has not answered after a delay, a second goes to another replica, and the first answer wins.",
    ),
    (
        "retry.budget",
        "A retry budget (gRPC's retry throttling): a token bucket that stops retries under sustained failure.",
    ),
    (
        "distribution",
        "A distribution of durations: either a plain duration such as `\"5ms\"` (a constant) or a table with `dist` and its parameters.",
    ),
];

pub const FIELDS: &[FieldDoc] = &[
    f("top level", "title", "text", "The story's title."),
    f(
        "top level",
        "summary",
        "text",
        "One line: the failure and the fix.",
    ),
    f(
        "top level",
        "story",
        "Markdown",
        "The narrative: the system, what goes wrong, why.",
    ),
    f(
        "top level",
        "look_for",
        "list of text",
        "What to watch in the numbers (plain text; `[[look]]` ties an item to what the learner sees).",
    ),
    f("top level", "look", "array of tables", "See `[[look]]`."),
    f(
        "[[look]]",
        "text",
        "text",
        "What to watch, in the words of what the web app shows (a chart, a node's label, a timeline mark).",
    ),
    f(
        "[[look]]",
        "cli",
        "text",
        "The same in the words of the CLI's output, which `faultline explain` prints (absent: `text`).",
    ),
    f(
        "[[look]]",
        "node",
        "node name",
        "The node it is about: clicking the item in the web app highlights it.",
    ),
    f(
        "[[look]]",
        "chart",
        "`latency`, `goodput`, `failures`, `queues`, `load`, `stale` or `duplicates`",
        "The chart it is about: clicking the item highlights it (stale reads and duplicate charges are charted by the web app only).",
    ),
    f(
        "[[look]]",
        "line",
        "text",
        "The line in that chart, by the node it is drawn for (`user`), made thicker when highlighted.",
    ),
    f(
        "top level",
        "questions",
        "list of text",
        "Questions to try next.",
    ),
    f("top level", "run", "table", "See `[run]`."),
    f("top level", "network", "table", "See `[network]`."),
    f("top level", "node", "array of tables", "See `[[node]]`."),
    f("top level", "link", "array of tables", "See `[[link]]`."),
    f("top level", "fault", "array of tables", "See `[[fault]]`."),
    f("top level", "variants", "tables", "See `[variants.NAME]`."),
    f(
        "top level",
        "expect",
        "array of tables",
        "See `[[expect]]`.",
    ),
    f(
        "top level",
        "predict",
        "array of tables",
        "See `[[predict]]`.",
    ),
    f(
        "top level",
        "challenge",
        "array of tables",
        "See `[[challenge]]`.",
    ),
    f(
        "top level",
        "search",
        "table",
        "See `[search]`: the bounds of `explore --faults`.",
    ),
    f(
        "[run]",
        "duration",
        "duration",
        "Simulated time to run, e.g. `\"60s\"`. Required.",
    ),
    f(
        "[run]",
        "seed",
        "integer",
        "The default seed (0 if absent); `--seed` overrides it.",
    ),
    f(
        "[run]",
        "event_budget",
        "integer",
        "Stop after this many events even before `duration`, with a clear message (default 500 million). A run stopped early is not a result.",
    ),
    f(
        "[run]",
        "warmup",
        "duration",
        "Leave out what is recorded before this, so results are the steady state: counters start from zero there, histograms and time series are emptied, gauges average and peak from then on, rates per second count from then, and the checkers judge only reads begun after it (linearizability still reads the whole history). Events are not affected: the fingerprint is the same with or without a warm-up. Must end before `duration`.",
    ),
    f(
        "[run]",
        "memory_budget",
        "size",
        "Stop once the run holds more than this, with a clear message (default `\"1GiB\"`). What counts: events and timers pending, and what each node keeps (calls in flight, queues, stores, histories), estimated the same way on every platform. The CLI's `--memory-budget` overrides it.",
    ),
    f(
        "[run]",
        "allow_call_cycles",
        "true or false",
        "Allow a node to call itself, or calls to form a ring (A calls B, B calls A); refused by default, since every request that enters a ring goes round until something stops it.",
    ),
    f(
        "[network]",
        "latency",
        "distribution",
        "Latency between nodes of the same zone (default 100us).",
    ),
    f(
        "[network]",
        "zone_latency",
        "distribution",
        "Latency between zones (default 1ms).",
    ),
    f(
        "[[link]]",
        "from",
        "node or zone name",
        "Where messages come from.",
    ),
    f("[[link]]", "to", "node or zone name", "Where they go."),
    f(
        "[[node.call]]",
        "to",
        "node name",
        "The node or replica group called. Required.",
    ),
    f(
        "[[node.call]]",
        "name",
        "text",
        "Its name in metrics: `<service>.<name>.ok` (default: `to`).",
    ),
    f(
        "[[node.call]]",
        "timeout",
        "duration",
        "Each attempt gives up after this long.",
    ),
    f(
        "[[node.call]]",
        "deadline",
        "duration",
        "The call, retries included, gives up after this long (tightened by the deadline the caller passed down).",
    ),
    f(
        "[[node.call]]",
        "retry",
        "table",
        "See `retry` (default: no retries).",
    ),
    f("[[node.call]]", "breaker", "table", "See `breaker`."),
    f(
        "[[node.call]]",
        "bulkhead",
        "integer >= 1",
        "At most this many calls in flight to it; more fail at once as overloaded.",
    ),
    f(
        "[[node.call]]",
        "balance",
        "`round_robin`, `random`, `least_connections`, `power_of_two` or `{ choices = d }`",
        "How calls spread over a replica group (default round robin); see the node's `balance`.",
    ),
    f("[[node.call]]", "outlier", "table", "See `outlier`."),
    f(
        "[[node.call]]",
        "health_check",
        "table",
        "See `health_check`.",
    ),
    f("[[node.call]]", "hedge", "table", "See `hedge`."),
    f(
        "[[node.call]]",
        "fallback",
        "true or false",
        "Answer a call that failed in the end with a default value instead: a degraded success.",
    ),
    f(
        "[[node.call]]",
        "fanout",
        "`\"all\"` or `{ quorum = n }`",
        "Call every replica of the group at once; done when all (or n) answered ok.",
    ),
    f(
        "[[node.call]]",
        "pool",
        "integer >= 1",
        "Connections to it; an attempt waits for a free one, its timeout running.",
    ),
    f(
        "[[node.call]]",
        "throttle",
        "true, false or `{ k = number, window = duration }`",
        "Adaptive throttling of calls to it.",
    ),
    f(
        "[[node.call]]",
        "flag",
        "flag name",
        "Make the call only while this feature flag of the service is on.",
    ),
    f(
        "breaker",
        "window",
        "integer or duration",
        "The last N calls, or the calls of the last while (default 20 calls).",
    ),
    f(
        "breaker",
        "failure_rate",
        "probability",
        "Open when this share of the window failed (default 50%).",
    ),
    f(
        "breaker",
        "slow_call_rate",
        "probability",
        "Open when this share was slower than `slow_call` (default: never).",
    ),
    f(
        "breaker",
        "slow_call",
        "duration",
        "What counts as slow (default 60s).",
    ),
    f(
        "breaker",
        "minimum_calls",
        "integer",
        "Judge only once the window holds this many calls (default 10).",
    ),
    f(
        "breaker",
        "open_for",
        "duration",
        "How long to fail fast before probing (default 5s).",
    ),
    f(
        "breaker",
        "half_open_calls",
        "integer >= 1",
        "Probes let through; all must succeed to close (default 3).",
    ),
    f(
        "outlier",
        "consecutive_errors",
        "integer",
        "Failures in a row that eject a replica. Required.",
    ),
    f(
        "outlier",
        "ejection",
        "duration",
        "How long the first ejection lasts; the n-th lasts n times as long. Required.",
    ),
    f(
        "outlier",
        "max_ejected",
        "probability",
        "At most this share of the replicas out at once (default 50%).",
    ),
    f(
        "health_check",
        "interval",
        "duration",
        "How often every replica is probed. Required.",
    ),
    f(
        "health_check",
        "timeout",
        "duration",
        "A probe not answered within this fails. Required.",
    ),
    f(
        "health_check",
        "unhealthy",
        "integer",
        "Failed probes in a row before a replica is out (default 2).",
    ),
    f(
        "health_check",
        "healthy",
        "integer",
        "Good probes in a row before it is back (default 2).",
    ),
    f(
        "sharding",
        "scheme",
        "`mod`, `range` or `consistent`",
        "hash(key) mod N; ranges of unhashed keys; or consistent hashing. Required.",
    ),
    f(
        "sharding",
        "vnodes",
        "integer >= 1",
        "Consistent: points per shard on the ring (default 100).",
    ),
    f(
        "sharding",
        "key_space",
        "integer",
        "Range: keys from 0 to this are split evenly (default 1,000,000).",
    ),
    f(
        "replication",
        "mode",
        "`leader` or `quorum`",
        "One leader takes every write and copies it to the followers; or any replica coordinates, Dynamo-style. Required.",
    ),
    f(
        "replication",
        "sync",
        "integer from 0 to replicas - 1",
        "Leader: followers that must hold a write before it is confirmed (default 0: asynchronous, so a confirmed write can be lost in a failover).",
    ),
    f(
        "replication",
        "r",
        "integer from 1 to replicas",
        "Quorum: replicas that must answer a read. Required.",
    ),
    f(
        "replication",
        "w",
        "integer from 1 to replicas",
        "Quorum: replicas that must store a write. Required.",
    ),
    f(
        "replication",
        "read_repair",
        "bool",
        "Quorum: send the newest value to replicas that answered a read with an older one (default false).",
    ),
    f(
        "replication",
        "conflicts",
        "`lww` or `siblings`",
        "Quorum: concurrent writes to a key are settled by the higher timestamp, dropping the other (`lww`, the default), or kept side by side under version vectors (`siblings`).",
    ),
    f(
        "keys",
        "dist",
        "`uniform`, `zipf` or `hot`",
        "The key distribution. Required.",
    ),
    f("keys", "n", "integer >= 1", "How many keys. Required."),
    f(
        "keys",
        "s",
        "number >= 0",
        "Zipf: the exponent (1 is the classic law).",
    ),
    f(
        "keys",
        "share",
        "probability",
        "Hot: the share of operations on key 0.",
    ),
    f(
        "rate_limit",
        "rate",
        "rate",
        "A token bucket: calls per unit of time on average.",
    ),
    f(
        "rate_limit",
        "burst",
        "number >= 1",
        "A token bucket: how many calls may come at once (default: one second's worth).",
    ),
    f(
        "rate_limit",
        "limit",
        "integer",
        "A sliding window: at most this many calls per `window`.",
    ),
    f(
        "rate_limit",
        "window",
        "duration",
        "A sliding window: its length.",
    ),
    f(
        "rate_limit",
        "per_client",
        "true or false",
        "One limit for each caller instead of one for all (default false).",
    ),
    f(
        "hedge",
        "after",
        "duration",
        "Hedge after this fixed delay.",
    ),
    f(
        "hedge",
        "quantile",
        "probability",
        "Hedge after this quantile of the latencies seen so far (e.g. `\"95%\"`); 10ms until 100 are seen.",
    ),
    f(
        "hedge",
        "max",
        "integer",
        "Hedges per call at most (default 1).",
    ),
    f(
        "[[link]]",
        "both_ways",
        "true or false",
        "Also set the link from `to` to `from`.",
    ),
    f(
        "[[link]]",
        "latency",
        "distribution",
        "One-way latency (default: the network's).",
    ),
    f(
        "[[link]]",
        "loss",
        "probability",
        "Chance that a message is lost.",
    ),
    f(
        "[[link]]",
        "duplicate",
        "probability",
        "Chance that a message is delivered twice.",
    ),
    f(
        "[[link]]",
        "reorder",
        "probability",
        "Chance that a message is held back by `reorder_delay` so later ones overtake it.",
    ),
    f(
        "[[link]]",
        "reorder_delay",
        "distribution",
        "The extra delay of a reordered message.",
    ),
    f(
        "[[fault]]",
        "at",
        "duration",
        "When, from the start of the run.",
    ),
    f(
        "[[fault]]",
        "crash",
        "node name",
        "Crash the node: it loses its queue, its timers and what it keeps in memory.",
    ),
    f(
        "[[fault]]",
        "restart",
        "node name",
        "Restart a crashed node.",
    ),
    f(
        "[[fault]]",
        "partition",
        "two lists of node or zone names",
        "Cut the two groups apart, e.g. `[[\"east\"], [\"west\"]]`.",
    ),
    f(
        "[[fault]]",
        "one_way",
        "true or false",
        "Partition: block only messages from the first group to the second.",
    ),
    f(
        "[[fault]]",
        "name",
        "text",
        "Partition: its name, for `heal` (default `partition`).",
    ),
    f(
        "[[fault]]",
        "heal",
        "partition name or `\"all\"`",
        "Heal a partition.",
    ),
    f(
        "[[fault]]",
        "slow",
        "node, group or replica name",
        "A gray failure: the service's work takes `factor` times as long.",
    ),
    f(
        "[[fault]]",
        "factor",
        "number > 0",
        "Slow: how many times slower.",
    ),
    f(
        "[[fault]]",
        "errors",
        "node, group or replica name",
        "A gray failure: the service fails `rate` of its calls at once, without doing the work.",
    ),
    f(
        "[[fault]]",
        "rate",
        "probability",
        "Errors: the share of calls that fail.",
    ),
    f(
        "[[fault]]",
        "hang",
        "node, group or replica name",
        "The service accepts calls and never answers them; its workers hang.",
    ),
    f(
        "[[fault]]",
        "recover",
        "node, group or replica name",
        "End a service's gray failure; hung calls resume.",
    ),
    f(
        "[[fault]]",
        "pause",
        "node, group or replica name",
        "Stop the node (a garbage collector, a stalled disk) for `lasting`: it handles no message and no timer until then, then everything that arrived or fell due, in order, acting on all it knew before. Unlike a crash it loses nothing and does not restart.",
    ),
    f(
        "[[fault]]",
        "lasting",
        "duration",
        "With `pause`: how long the node stops.",
    ),
    f(
        "[[fault]]",
        "clock",
        "node, group or replica name",
        "From now on the node's clock runs fast or slow by `drift` (its timers: timeouts, retries' backoff, heartbeats, wait by its clock, and what it believes the time is drifts from true time), or is set off at once by `jump`, or both. `drift = \"0%\"` sets it right again.",
    ),
    f(
        "[[fault]]",
        "drift",
        "percentage, -90% to +900%",
        "With `clock`: `\"25%\"` runs a quarter fast (a 500ms timeout fires after 400ms), `\"-20%\"` a fifth slow (after 625ms).",
    ),
    f(
        "[[fault]]",
        "jump",
        "signed duration",
        "With `clock`: set the clock forward (`\"+2s\"`) or back (`\"-3s\"`) at once, as a time server's correction does. What the node believes the time is jumps (a lease it judges by its clock lasts longer or shorter); timers it already set keep their waits, as a monotonic clock's do. With or instead of `drift`.",
    ),
    f(
        "[[fault]]",
        "flag",
        "flag name",
        "Set a feature flag on every service that has it (a kill switch).",
    ),
    f("[[fault]]", "on", "true or false", "Flag: its new value."),
    f(
        "[variants.NAME]",
        "description",
        "text",
        "What this variant changes, in a sentence.",
    ),
    f(
        "[variants.NAME]",
        "set",
        "table of path = value",
        "Overrides, e.g. `{ \"node.user.idempotency_keys\" = true }`. Paths are the same as `--set`.",
    ),
    f(
        "[[expect]]",
        "variant",
        "variant name",
        "The variant it is about (absent: the scenario as written, and no variant).",
    ),
    f(
        "[[expect]]",
        "metric",
        "metric name",
        "A ratio of two metrics (`user.ok / user.requests`), a client's `time_to_detect_s` or `time_to_recover_s` after the faults (infinite if never: a metastable failure), a counter (`ledger.duplicate_charges`), a counter per second (`user.ok.per_s`), a histogram statistic (`user.latency_ns.p99`; also p50, p90, p999, max, mean, count, and `over_500ms`, the share above a duration) or a gauge statistic (`api.queue_depth.avg`, `.max`, or `.now`, its value when judged: at the end, or at a prediction's `at`).",
    ),
    f(
        "[[expect]]",
        "op",
        "`==`, `!=`, `<`, `<=`, `>` or `>=`",
        "The comparison.",
    ),
    f(
        "[[expect]]",
        "value",
        "number, duration or percentage",
        "The right-hand side; durations compare in nanoseconds, percentages as fractions.",
    ),
    f(
        "[[expect]]",
        "because",
        "text",
        "Why it should hold; shown when it does not.",
    ),
    f(
        "[[expect]]",
        "when",
        "`end`, `always` or `eventually`",
        "When it must hold. `end` (the default): on the run's totals at the end. `always`: at the end and at each of 100 checkpoints spread over the run, on the nodes' metrics as they stand there (what the checkers find and the after-run counts, such as duplicates, are judged at the end only); a failure says when it first broke. `eventually`: at the end, and with `within`, at every checkpoint from that long after the last fault ends (recovery); a failure says when it was still broken.",
    ),
    f(
        "[[expect]]",
        "within",
        "duration",
        "With `when = \"eventually\"`: how soon after the last fault ends it must hold, and keep holding (a fault that never ends leaves the end alone to decide).",
    ),
    f(
        "[[predict]]",
        "question",
        "text",
        "What the learner is asked.",
    ),
    f(
        "[[predict]]",
        "variant",
        "variant name",
        "The variant it is about (absent: the scenario as written).",
    ),
    f(
        "[[predict]]",
        "at",
        "duration",
        "When in the run the answers are judged, on the numbers as they stand then, e.g. `\"30s\"` (absent: at the end). Only what is counted as the run goes can be read then: the replicated stores' checkers (stale reads of a session, lost updates, divergent keys, linearizability) judge at the end.",
    ),
    f(
        "[[predict]]",
        "answer",
        "two to four `[[predict.answer]]` tables",
        "The answers the learner chooses from.",
    ),
    f(
        "[[predict.answer]]",
        "text",
        "text",
        "The answer as the learner reads it.",
    ),
    f(
        "[[predict.answer]]",
        "when",
        "list of `{ metric, op, value }`",
        "Expectations (as in `[[expect]]`, without `variant` or `because`); the answer is the run's when all of them hold.",
    ),
    f(
        "[[predict.answer]]",
        "because",
        "text",
        "Why the run comes out so; shown once the answer is graded.",
    ),
    f(
        "[[challenge]]",
        "title",
        "text",
        "The challenge in a few words.",
    ),
    f(
        "[[challenge]]",
        "goal",
        "text",
        "What to reach, as the learner reads it.",
    ),
    f(
        "[[challenge]]",
        "variant",
        "variant name",
        "The variant the challenge starts from (absent: the scenario as written).",
    ),
    f(
        "[[challenge]]",
        "change",
        "list of `--set` paths",
        "The numbers the learner may change (each must be a number in the scenario as the challenge starts), e.g. `[\"node.api.workers\"]`.",
    ),
    f(
        "[[challenge]]",
        "budget",
        "whole number from 1 to the length of `change`",
        "How many of those numbers one try may change (absent: any of them).",
    ),
    f(
        "[[challenge]]",
        "when",
        "list of `{ metric, op, value }`",
        "The goal as expectations (as in `[[expect]]`, without `variant` or `because`); reached when all of them hold.",
    ),
    f(
        "[[challenge]]",
        "hint",
        "text",
        "Shown after a try that did not reach the goal.",
    ),
    f(
        "[[challenge]]",
        "solution",
        "table of path = value",
        "A try that reaches the goal, within `change` and the budget: `check` proves it wins on every seed and that the unchanged scenario loses.",
    ),
    f(
        "retry",
        "attempts",
        "integer >= 1",
        "Attempts in all, the first one included.",
    ),
    f(
        "retry",
        "backoff",
        "`immediate`, `fixed` or `exponential`",
        "How the wait grows (default immediate).",
    ),
    f(
        "retry",
        "delay",
        "duration",
        "The fixed wait, or the first wait of an exponential backoff.",
    ),
    f(
        "retry",
        "multiplier",
        "number >= 1",
        "Exponential backoff's growth per retry (default 2).",
    ),
    f(
        "retry",
        "max_delay",
        "duration",
        "Exponential backoff's cap.",
    ),
    f(
        "retry",
        "jitter",
        "`none`, `full`, `equal` or `decorrelated`",
        "How randomness spreads retries (Brooker's formulas; default none).",
    ),
    f(
        "retry",
        "on",
        "list of error kinds",
        "Errors worth retrying: timeout, unavailable, overloaded, circuit_open, internal, invalid, conflict (default: timeout, unavailable, overloaded, conflict; `conflict` is a call whose idempotency key is still in progress, which a later attempt finds answered).",
    ),
    f("retry", "budget", "table", "See `retry.budget`."),
    f(
        "retry.budget",
        "max_tokens",
        "number > 0",
        "The bucket's size; it starts full. A failed attempt takes one token.",
    ),
    f(
        "retry.budget",
        "token_ratio",
        "number > 0",
        "Tokens a success puts back. Retries are allowed while more than half the tokens remain.",
    ),
    f(
        "distribution",
        "dist",
        "`constant`, `uniform`, `exponential`, `normal`, `log_normal`, `pareto`, `empirical` or `mixture`",
        "Which distribution.",
    ),
    f(
        "distribution",
        "mean",
        "duration",
        "constant, exponential, normal.",
    ),
    f(
        "distribution",
        "median",
        "duration",
        "log_normal (with `p99`).",
    ),
    f(
        "distribution",
        "p99",
        "duration",
        "log_normal: the 99th percentile.",
    ),
    f(
        "distribution",
        "low",
        "duration",
        "uniform: the lower bound.",
    ),
    f(
        "distribution",
        "high",
        "duration",
        "uniform: the upper bound.",
    ),
    f(
        "distribution",
        "std_dev",
        "duration",
        "normal: the standard deviation (draws below zero count as zero).",
    ),
    f(
        "distribution",
        "min",
        "duration",
        "pareto: the smallest value (the scale).",
    ),
    f(
        "distribution",
        "shape",
        "number > 0",
        "pareto: the tail's shape; smaller is heavier.",
    ),
    f(
        "distribution",
        "points",
        "table of quantile = duration",
        "empirical: e.g. `{ \"0\" = \"1ms\", \"0.5\" = \"4ms\", \"0.99\" = \"30ms\", \"1\" = \"90ms\" }`, from the minimum (0) to the maximum (1).",
    ),
    f(
        "distribution",
        "parts",
        "list of `{ weight = number, value = distribution }`",
        "mixture: draws from each part with probability proportional to its weight, e.g. `[{ weight = 0.99, value = \"5ms\" }, { weight = 0.01, value = \"1s\" }]`.",
    ),
];

/// The `[search]` table's fields.
const SEARCH: &[FieldDoc] = &[
    f(
        "[search]",
        "faults",
        "list of `crash`, `partition`, `one_way`, `pause`, `slow`, `errors`, `clock`",
        "The kinds it may draw (default: all). `partition` cuts the target off from every other node both ways, `one_way` in one direction; `slow` (2 to 20 times) and `errors` (10% to 100%) hit services only; `clock` sets the target's clock forward or back.",
    ),
    f(
        "[search]",
        "targets",
        "list of node or replica names",
        "The nodes it may hit; a replica group's name means each of its replicas (default: every node another calls, and every member of a group whose members talk to one another).",
    ),
    f(
        "[search]",
        "most",
        "integer from 1 to 32",
        "At most this many faults in one run (default 3).",
    ),
    f(
        "[search]",
        "at_once",
        "integer from 1 to 32",
        "At most this many in force at the same time (default 2).",
    ),
    f(
        "[search]",
        "from",
        "duration",
        "No fault starts before this (default: a tenth of the run).",
    ),
    f(
        "[search]",
        "until",
        "duration",
        "Every fault has ended by this (default: four fifths of the run).",
    ),
    f(
        "[search]",
        "longest",
        "duration",
        "The longest a fault lasts (default: a quarter of the window).",
    ),
];

/// The reference page as Markdown.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Scenario file reference\n\n\
         Generated from `sim-core/src/scenario/reference.rs` by `UPDATE_DOCS=1 cargo test`; do not edit by hand.\n\n\
         A scenario is a TOML file. Values use human units: durations such as `\"250ms\"`, `\"1.5s\"`, `\"3d\"` or `\"1h30m\"`; \
         rates such as `\"200/s\"` or `\"1.5k/min\"`; probabilities such as `\"5%\"` or `0.05`. Unknown fields are errors. \
         `scenarios/double-charge.toml` is a complete example.\n",
    );
    for (table, about) in TABLES {
        out.push_str(&format!(
            "\n## {table}\n\n{about}\n\n| field | value | meaning |\n|---|---|---|\n"
        ));
        for d in FIELDS.iter().chain(SEARCH).filter(|d| d.table == *table) {
            out.push_str(&format!("| `{}` | {} | {} |\n", d.field, d.value, d.about));
        }
        if *table == "[[node]]" {
            out.push_str(&node_sections());
        }
        if *table == "[[fault]]" {
            let actions: Vec<String> = super::faults::ACTIONS
                .iter()
                .map(|a| format!("`{a}`"))
                .collect();
            out.push_str(&format!("\nThe actions: {}.\n", actions.join(", ")));
        }
    }
    out.push_str(CHECKERS);
    out.push_str(&limits_section());
    out
}

/// The `[[node]]` table's common fields, then a section per kind, from
/// the kinds' declarations.
fn node_sections() -> String {
    use super::kinds::{COMMON, KINDS};
    let row = |f: &super::kinds::Field| {
        let need = if f.required { " Required." } else { "" };
        format!("| `{}` | {} | {}{need} |\n", f.name, f.value, f.about)
    };
    let mut out: String = COMMON.iter().map(row).collect();
    for k in KINDS {
        out.push_str(&format!(
            "\n### kind = \"{}\"\n\n{}\n\n| field | value | meaning |\n|---|---|---|\n",
            k.name, k.about
        ));
        out.extend(k.all_fields().map(row));
        out.push_str(&kind_metrics(k));
    }
    out.push_str(&format!(
        "\nThe network records, under `net`: {}.\n\nIn these names `<error>` is an error kind ({}), `<reason>` why a caller gave up retrying ({}) and `<shard>` a shard's number. An expectation that names a metric no node of its scenario records is refused when the file loads.\n",
        listed(NET),
        crate::policy::ErrorKind::ALL.map(|e| format!("`{}`", e.as_str())).join(", "),
        REASONS.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", "),
    ));
    out
}

/// The paragraph on what a kind's nodes record, for its section.
fn kind_metrics(k: &super::kinds::Kind) -> String {
    let mut out = String::new();
    let own: Vec<Metric> = k.metrics.iter().flat_map(|g| g.iter().copied()).collect();
    if !own.is_empty() {
        let under = if k.group {
            "the group's name"
        } else if k.field("replicas").is_some() {
            "its name (each replica's own, `<name>-<i>`, when it has `replicas`)"
        } else {
            "its name"
        };
        out.push_str(&format!("\nMetrics, under {under}: {}.\n", listed(&own)));
    }
    if !k.instance_metrics.is_empty() {
        out.push_str(&format!(
            "Each replica, under its own name (`<name>-<i>`): {}.\n",
            listed(k.instance_metrics)
        ));
    }
    if k.callers == Callers::PerCall {
        out.push_str(&format!(
            "Each dependency's caller, under `<name>.<call>` (the call's `name`, or what it calls): {}.\n",
            listed(CALLER)
        ));
    }
    out
}

/// The fields the reference documents for `table`: the node kinds'
/// declared fields for `[[node]]`, the table of fields for the others.
pub fn documented_fields(table: &str) -> Vec<String> {
    use super::kinds::{COMMON, KINDS};
    let mut out: Vec<String> = if table == "[[node]]" {
        COMMON
            .iter()
            .chain(KINDS.iter().flat_map(|k| k.all_fields()))
            .map(|f| f.name.to_string())
            .collect()
    } else {
        FIELDS
            .iter()
            .chain(SEARCH)
            .filter(|d| d.table == table)
            .map(|d| d.field.to_string())
            .collect()
    };
    out.sort();
    out.dedup();
    out
}

/// What the reference says `key` accepts, if it documents such a field.
pub fn accepts(key: &str) -> Option<&'static str> {
    use super::kinds::{COMMON, KINDS};
    FIELDS
        .iter()
        .chain(SEARCH)
        .find(|f| f.field == key)
        .map(|f| f.value)
        .or_else(|| {
            COMMON
                .iter()
                .chain(KINDS.iter().flat_map(|k| k.all_fields()))
                .find(|f| f.name == key)
                .map(|f| f.value)
        })
}

/// How the checkers judge a replicated store's, a Raft group's and a
/// cache's histories.
const CHECKERS: &str = "\n## What the checkers judge\n\n\
After every run, the histories that sessions (of a replicated store) and readers and writers (of a cache) recorded are checked, and the findings become metrics that expectations can name.\n\n\
- `<group>.nonlinearizable_keys`: keys whose history, read as one register, has no order consistent with real time in which every read returns the latest write (Wing and Gong's search with Lowe's memoisation). Each key has its own search budget of 1,000,000 states over the whole run; a key the search cannot decide within it is counted in `<group>.undecided_keys`, and while any key is undecided an expectation on `nonlinearizable_keys` has no verdict and fails, saying why.\n\
- A write that timed out (no reply reached the session) may or may not have taken effect: it is in the history with no return, so it may be ordered anywhere after its start. One whose value no read returned is left out of the search, which cannot change the verdict.\n\
- A call refused before any replica applied it, and a read that failed or timed out, are not in the history.\n\
- A read that returns siblings (with `conflicts = \"siblings\"`) counts as a read of the newest of them, by the replicas' stamps. So the checkers judge `ap` and `ap-siblings` alike: siblings keep both writes, which shows in `lost_updates`, not in linearizability.\n\
- `<session>.stale_reads` (and `<reader>.stale_reads`): reads that returned an older version than one whose write had been acknowledged before the read began; `stale_age_ns` is how long before. Per session (and reader), per key: a read-your-writes violation is a read older than a write of its own acknowledged before the read began; a monotonic-read violation is a read older than one of its own that returned before this one began (two reads in flight together may return in either order).\n\nWhat they keep: every operation is judged soon after it finishes and then forgotten. The staleness and session checks keep every acknowledged write and, per reader or session and key, one entry per version it saw. The linearizability search cuts each key's history at quiet points (an instant when no operation on the key is in flight) and keeps only what follows the last one, the values the key may hold there, and writes that timed out and whose value no read has returned yet. So memory follows what is in flight and the writes, not the reads or the run's length; the memory budget counts all of it. A key whose operations overlap without one quiet point for more than 65,536 operations is counted as undecided rather than held.\n\n\
A Raft group's sessions are judged as above (its `lost_updates` are acknowledged writes that no member's log holds at the end). Its members' own actions are judged too:\n\n\
- `<group>.two_leader_terms`: terms in which two different members became the leader.\n\
- `<group>.conflicting_commits`: log indexes at which two members applied different entries.\n\
- `<group>.leaderless_ms`: how long, from the start to the end, no member was the leader; `<group>.leaders` counts the leaders elected, `<group>.terms` is the highest term anyone led, and `<group>.elections` counts members standing for election.\n\n\
The checker keeps, per term, who led it, and per index the entry applied there first: as much as the members' logs hold, which the memory budget counts.\n";

/// The limits on counts a user supplies, from `limits`.
fn limits_section() -> String {
    use super::limits::*;
    let rows = [
        (
            "seeds per command (`--seeds` of `check`, `compare`, `sweep`, `explore`)",
            format!("1 to {MAX_SEEDS}, and not past the largest seed"),
        ),
        (
            "points in a sweep's grid (the product of every `--param`'s values)",
            MAX_GRID_POINTS.to_string(),
        ),
        (
            "runs in a sweep (points times seeds)",
            MAX_SWEEP_JOBS.to_string(),
        ),
        ("shards of a sweep (`--shard I/N`)", MAX_SHARDS.to_string()),
        (
            "`replicas` of a node (a service's instances)",
            MAX_REPLICAS.to_string(),
        ),
        (
            "`replicas` of a replicated store (`kind = \"replica\"`)",
            MAX_REPLICA_GROUP.to_string(),
        ),
        ("`workers` of a service", MAX_WORKERS.to_string()),
        ("`partitions` of a log", MAX_PARTITIONS.to_string()),
        ("keys of a `zipf` key space", MAX_ZIPF_KEYS.to_string()),
        (
            "a rate (arrivals, writes, a token bucket)",
            format!("{MAX_RATE_PER_S:e}/s"),
        ),
        (
            "how often background work repeats (`heartbeat`, `anti_entropy`, `drift_check`, `health_check.interval`)",
            format!(
                "at least every {}",
                crate::time::SimDuration::from_nanos(MIN_PERIOD_NS)
            ),
        ),
        (
            "what a run holds (`memory_budget`, `--memory-budget`)",
            "1GiB unless raised".to_string(),
        ),
    ];
    let mut out = String::from(
        "\n## Limits\n\nCounts and sizes beyond these are refused with a message that names the limit, \
         so that a typo cannot exhaust the machine.\n\n| what | limit |\n|---|---|\n",
    );
    for (what, limit) in rows {
        out.push_str(&format!("| {what} | {limit} |\n"));
    }
    out
}

/// For each documented table, the fields serde really accepts.
pub fn schema_fields() -> Vec<(&'static str, Vec<String>)> {
    use spec::serde_fields;
    vec![
        ("top level", serde_fields::<spec::ScenarioSpec>()),
        ("[run]", serde_fields::<spec::RunSpec>()),
        ("[network]", serde_fields::<spec::NetworkSpec>()),
        ("[[node]]", serde_fields::<spec::NodeSpec>()),
        ("[[link]]", serde_fields::<spec::LinkSpecToml>()),
        ("[[fault]]", serde_fields::<spec::FaultSpec>()),
        ("[variants.NAME]", serde_fields::<spec::VariantSpec>()),
        ("[[expect]]", serde_fields::<spec::ExpectSpec>()),
        ("[[predict]]", serde_fields::<spec::PredictSpec>()),
        ("[[predict.answer]]", serde_fields::<spec::AnswerSpec>()),
        ("[[challenge]]", serde_fields::<spec::ChallengeSpec>()),
        ("[[look]]", serde_fields::<spec::LookSpec>()),
        ("[search]", serde_fields::<super::search::SearchSpec>()),
        ("[[node.call]]", serde_fields::<spec::CallSpec>()),
        ("retry", serde_fields::<spec::RetrySpec>()),
        ("breaker", serde_fields::<spec::BreakerSpec>()),
        ("outlier", serde_fields::<spec::OutlierSpec>()),
        ("health_check", serde_fields::<spec::HealthCheckSpec>()),
        ("hedge", serde_fields::<spec::HedgeSpec>()),
        ("rate_limit", serde_fields::<spec::RateLimitSpec>()),
        ("keys", serde_fields::<spec::KeysSpec>()),
        ("sharding", serde_fields::<spec::ShardingSpec>()),
        ("replication", serde_fields::<spec::ReplicationSpec>()),
        ("retry.budget", serde_fields::<spec::BudgetSpec>()),
        ("distribution", spec::dist_table_fields()),
    ]
}
