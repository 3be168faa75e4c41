//! The scenario format's reference page, generated from this table.
//! `docs/scenario-format.md` is its output; a test fails when the file is
//! stale (`UPDATE_DOCS=1 cargo test` rewrites it) and another fails when a
//! field of the serde types has no entry here (it asks serde itself which
//! fields each table has), so the reference cannot drift from the code.

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
        "One node. `kind` decides which fields apply: client, service or ledger.",
    ),
    (
        "[[link]]",
        "How messages travel from one node or zone to another.",
    ),
    (
        "[[fault]]",
        "Something that happens at a time: exactly one of `crash`, `restart`, `partition`, `heal`.",
    ),
    (
        "[variants.NAME]",
        "A named version of the system, compared with the others on the same seeds.",
    ),
    (
        "[[expect]]",
        "An assertion on a metric, checked by `faultline check` and the tests.",
    ),
    ("retry", "A client's `retry` table."),
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
        "What to watch in the numbers.",
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
        "Stop after this many events even before `duration`, with a clear message (default 500 million).",
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
        "[[node]]",
        "name",
        "text",
        "Unique; other fields and `--set node.NAME.FIELD` refer to it.",
    ),
    f(
        "[[node]]",
        "kind",
        "`client`, `service` or `ledger`",
        "What the node is.",
    ),
    f("[[node]]", "zone", "text", "Its zone (default `default`)."),
    f(
        "[[node]]",
        "target",
        "node name",
        "Client: the service it calls. Required.",
    ),
    f(
        "[[node]]",
        "rate",
        "rate",
        "Client: new orders per unit of time, Poisson, e.g. `\"50/s\"`. Required.",
    ),
    f(
        "[[node]]",
        "timeout",
        "duration",
        "Client: each attempt gives up after this long.",
    ),
    f(
        "[[node]]",
        "deadline",
        "duration",
        "Client: the whole request, retries included, gives up after this long; the deadline travels downstream.",
    ),
    f(
        "[[node]]",
        "retry",
        "table",
        "Client: see `retry` (default: no retries).",
    ),
    f(
        "[[node]]",
        "idempotency_keys",
        "true or false",
        "Client: send the order's id as an idempotency key with every attempt.",
    ),
    f(
        "[[node]]",
        "double_submit",
        "probability",
        "Client: chance that a user submits an order twice.",
    ),
    f(
        "[[node]]",
        "double_submit_delay",
        "distribution",
        "Client: how long after the first the second submission comes.",
    ),
    f(
        "[[node]]",
        "orders",
        "integer",
        "Client: stop after this many orders.",
    ),
    f(
        "[[node]]",
        "rate_changes",
        "list of `{ at = duration, rate = rate }`",
        "Client: from each time on, orders arrive at the new rate (`\"0/s\"` pauses them): a surge, or a ramp in steps.",
    ),
    f(
        "[[node]]",
        "max_in_flight",
        "integer >= 1",
        "Client: backpressure; while this many requests are outstanding, new ones are refused at once (`throttled`).",
    ),
    f(
        "[[node]]",
        "workers",
        "integer >= 1",
        "Service: how many calls it works on at once. Required.",
    ),
    f(
        "[[node]]",
        "queue",
        "integer or `\"unbounded\"`",
        "Service: calls that may wait for a worker; beyond it they are rejected as overloaded (default unbounded).",
    ),
    f(
        "[[node]]",
        "service_time",
        "distribution",
        "Service: a worker's own work per call. Required.",
    ),
    f(
        "[[node]]",
        "calls",
        "node name",
        "Service: a dependency called after its own work, holding the worker until it answers.",
    ),
    f(
        "[[node]]",
        "call_timeout",
        "duration",
        "Service: how long a worker waits for the dependency.",
    ),
    f(
        "[[node]]",
        "idempotency",
        "true, false or `{ ttl = duration }`",
        "Service: keep results by idempotency key and replay them (true keeps keys for 24h).",
    ),
    f(
        "[[node]]",
        "discipline",
        "`fifo` or `lifo`",
        "Service: which waiting call a free worker takes, the oldest or the newest (default fifo).",
    ),
    f(
        "[[node]]",
        "codel",
        "true, false or `{ target = duration, interval = duration }`",
        "Service: shed calls that waited longer than `target` once the queue has not been empty for `interval` (true: 5ms and 100ms).",
    ),
    f(
        "[[node]]",
        "processing_time",
        "distribution",
        "Ledger: time to apply a charge. Required.",
    ),
    f(
        "[[link]]",
        "from",
        "node or zone name",
        "Where messages come from.",
    ),
    f("[[link]]", "to", "node or zone name", "Where they go."),
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
        "The variant it applies to (absent: the scenario as written).",
    ),
    f(
        "[[expect]]",
        "metric",
        "metric name",
        "A counter (`ledger.duplicate_charges`), a counter per second (`user.ok.per_s`), a histogram statistic (`user.latency_ns.p99`; also p50, p90, p999, max, mean, count, and `over_500ms`, the share above a duration) or a gauge statistic (`api.queue_depth.avg`, `.max`).",
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
        "Errors worth retrying: timeout, unavailable, overloaded, circuit_open, internal, invalid, conflict (default: timeout, unavailable, overloaded, conflict).",
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
        "`constant`, `uniform`, `exponential`, `normal`, `log_normal`, `pareto` or `empirical`",
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
        for d in FIELDS.iter().filter(|d| d.table == *table) {
            out.push_str(&format!("| `{}` | {} | {} |\n", d.field, d.value, d.about));
        }
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
        ("retry", serde_fields::<spec::RetrySpec>()),
        ("retry.budget", serde_fields::<spec::BudgetSpec>()),
        ("distribution", spec::dist_table_fields()),
    ]
}
