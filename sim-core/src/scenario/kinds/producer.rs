//! `kind = "producer"`: makes messages at a rate and sends them to a
//! broker in batches, with acknowledgements, retries and optional
//! idempotence (`models::messaging::producer`).

use super::caller::retry_config;
use super::metrics::{counter, gauge, histogram};
use super::reader::{KEYS, key_dist};
use super::rows::{ms, percent};
use super::{Build, Check, Field, Kind, Report, optional, required};
use crate::dist::Dist;
use crate::models::messaging::producer::{Producer, ProducerConfig};
use crate::models::messaging::writes::{WriteConfig, WriteMode};
use crate::policy::retry::RetryConfig;
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::spec::{NodeKind, NodeSpec};
use crate::time::SimDuration;

pub const KIND: Kind = Kind::new(
    NodeKind::Producer,
    "producer",
    "Makes messages at a Poisson rate and sends them to a broker (`target`) in batches: a batch leaves when it holds `batch` messages or its oldest has waited `linger`, with at most `max_in_flight` batches unacknowledged. A batch not acknowledged within `timeout`, or refused, is sent again under `retry`; if the first copy was stored after all, the message is stored twice, unless the producer is `idempotent`. Messages wait in a buffer of `buffer`; when it is full, new ones are refused (what backpressure does upstream).",
    &[FIELDS],
    build,
    report,
)
.targets(&[NodeKind::Broker])
.checked_by(check)
.records(&[&[
    counter("created"),
    counter("acked"),
    counter("sent"),
    counter("failed"),
    counter("refused"),
    counter("lost"),
    counter("committed"),
    counter("aborted"),
    counter("lost_events"),
    counter("phantom_events"),
    counter("retries"),
    counter("batches"),
    histogram("batch_size"),
    histogram("produce_ns"),
    gauge("buffered"),
]]);

const FIELDS: &[Field] = &[
    required("target", "node name", "The broker it sends to."),
    optional(
        "topic",
        "topic name",
        "The topic it writes to: one of the broker's `topics`, needed when it names them.",
    ),
    required("rate", "rate", "Messages made per unit of time."),
    optional(
        "messages",
        "integer >= 1",
        "Stop after this many messages (default: until the run ends).",
    ),
    KEYS,
    optional(
        "batch",
        "integer >= 1",
        "Messages per batch at most (default 1).",
    ),
    optional(
        "linger",
        "duration",
        "How long a message may wait for its batch to fill (default 0: a batch leaves as soon as a slot is free).",
    ),
    optional(
        "acks",
        "true or false",
        "Wait for the broker to acknowledge each batch (default true). Without, a batch is sent once and forgotten.",
    ),
    optional(
        "timeout",
        "duration",
        "How long to wait for an acknowledgement before the batch counts as failed (default 1s).",
    ),
    optional(
        "retry",
        "table",
        "How a failed batch is sent again; see `retry` (default: not). `on` is not used.",
    ),
    optional(
        "idempotent",
        "true or false",
        "The broker stores each batch once however often it is sent (default false).",
    ),
    optional(
        "max_in_flight",
        "integer >= 1",
        "Batches sent and not yet acknowledged, at most (default 5).",
    ),
    optional(
        "buffer",
        "integer >= 1",
        "Messages it holds, waiting or unacknowledged, at most; beyond, new messages are refused (default 10000).",
    ),
    optional(
        "message_size",
        "size (`1KiB`)",
        "Each message's size, for a broker's `retention_size` (default 1KiB).",
    ),
    optional(
        "poison",
        "probability",
        "The share of messages whose processing always fails (default 0).",
    ),
    optional(
        "write",
        "`dual`, `publish_first` or `outbox`",
        "Each message is the event of a write to the producer's own database, done so: `dual` commits, then publishes (a crash in between loses the event); `publish_first` publishes, then commits (a crash in between leaves an event for a write that never happened); `outbox` commits the write and its event in one transaction, and a relay publishes from the table until the broker acknowledges (default: no database). After the run, `lost_events` and `phantom_events` count the disagreements.",
    ),
    optional(
        "write_time",
        "distribution",
        "How long a write takes to commit (default 5ms).",
    ),
];

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    super::topics::check_member(ctx, n)?;
    let positive = [
        (
            "messages",
            n.messages.as_ref().map(|v| (*v.get_ref(), v.span())),
        ),
        (
            "batch",
            n.batch
                .as_ref()
                .map(|v| (u64::from(*v.get_ref()), v.span())),
        ),
        (
            "buffer",
            n.buffer.as_ref().map(|v| (*v.get_ref(), v.span())),
        ),
        (
            "max_in_flight",
            n.max_in_flight.as_ref().map(|v| (*v.get_ref(), v.span())),
        ),
    ];
    for (field, value) in positive {
        if let Some((0, span)) = value {
            return Err(ctx.field(n, field, span, format!("`{field}` must be at least 1")));
        }
    }
    if let Some(a) = &n.acks
        && !*a.get_ref()
    {
        let needs_acks = [
            ("retry", n.retry.as_ref().map(|r| r.span())),
            ("idempotent", n.idempotent.as_ref().map(|i| i.span())),
            ("timeout", n.timeout.as_ref().map(|t| t.span())),
        ];
        if let Some((field, Some(span))) = needs_acks.into_iter().find(|(_, s)| s.is_some()) {
            return Err(ctx.field(
                n,
                field,
                span,
                format!("`{field}` needs acknowledgements; remove it, or `acks = false`"),
            ));
        }
    }
    if let (Some(t), None) = (&n.write_time, &n.write) {
        return Err(ctx.field(
            n,
            "write_time",
            t.span(),
            "`write_time` is how long a write takes; say how the producer writes with `write`",
        ));
    }
    let no_acks = n.acks.as_ref().is_some_and(|a| !*a.get_ref());
    if let Some(w) = &n.write
        && *w.get_ref() == WriteMode::Outbox
        && no_acks
    {
        return Err(ctx.field(
            n,
            "write",
            w.span(),
            "an outbox's relay deletes a row when the broker acknowledges its event; remove `acks = false`",
        ));
    }
    if let Some(r) = &n.retry
        && let Err(e) = retry_config(r.get_ref()).validate()
    {
        return Err(ctx.field(n, "retry", r.span(), e));
    }
    if let Some(t) = &n.timeout
        && t.get_ref().0 == SimDuration::ZERO
    {
        return Err(ctx.field(n, "timeout", t.span(), "`timeout` must be above zero"));
    }
    Ok(())
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let rate = n.rate.as_ref().expect("checked").get_ref().0;
    let retry = n.retry.as_ref().map_or_else(RetryConfig::never, |r| {
        let mut c = retry_config(r.get_ref());
        c.retry_on = RetryConfig::default_retry_on();
        c
    });
    let target = n.target.as_ref().expect("checked").get_ref();
    let topic = n.topic.as_ref().map(|t| t.get_ref().as_str());
    let cfg = ProducerConfig {
        broker: b.target(n.target.as_ref())[0],
        topic: super::topics::broker(b.spec, target).map_or(0, |m| super::topics::index(m, topic)),
        interarrival: Dist::exponential(1e9 / rate).map_err(|e| e.to_string())?,
        messages: n.messages.as_ref().map(|m| *m.get_ref()),
        keys: key_dist(n.keys.as_ref().map(|k| k.get_ref())),
        batch: n.batch.as_ref().map_or(1, |v| *v.get_ref()),
        linger: n.linger.map_or(SimDuration::ZERO, |d| d.0),
        acks: n.acks.as_ref().is_none_or(|a| *a.get_ref()),
        timeout: n
            .timeout
            .as_ref()
            .map_or(SimDuration::from_secs(1), |t| t.get_ref().0),
        retry,
        idempotent: n.idempotent.as_ref().is_some_and(|i| *i.get_ref()),
        max_in_flight: n
            .max_in_flight
            .as_ref()
            .map_or(5, |v| u32::try_from(*v.get_ref()).unwrap_or(u32::MAX)),
        buffer: n.buffer.as_ref().map_or(10_000, |v| *v.get_ref()),
        bytes: n
            .message_size
            .as_ref()
            .map_or(1024, |s| u32::try_from(s.get_ref().0).unwrap_or(u32::MAX)),
        poison: n.poison.map_or(0.0, |p| p.0),
        write: n.write.as_ref().map(|w| WriteConfig {
            mode: *w.get_ref(),
            time: n
                .write_time
                .as_ref()
                .map_or(Dist::Constant(5e6), |d| d.get_ref().0.clone()),
        }),
    };
    b.add(n.name.get_ref(), Producer::new(cfg))
}

fn report(r: &Report<'_>, n: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what);
    let created = c("created");
    let batch = r
        .metrics
        .get_histogram(&format!("{name}.batch_size"))
        .map_or("-".into(), |h| format!("{:.1}", h.mean()));
    let produce = r.metrics.get_histogram(&format!("{name}.produce_ns"));
    let q = |p: f64| ms(produce.and_then(|h| h.quantile(p)));
    let mut rows = vec![
        (
            "messages".into(),
            format!(
                "{created} made; {} acknowledged ({}), {} sent unacknowledged",
                c("acked"),
                percent(c("acked"), created),
                c("sent")
            ),
        ),
        (
            "not delivered".into(),
            format!(
                "{} failed after retries, {} refused (buffer full), {} lost in a crash",
                c("failed"),
                c("refused"),
                c("lost")
            ),
        ),
        (
            "batches".into(),
            format!(
                "{} sent, {batch} messages each on average; {} retries",
                c("batches"),
                c("retries")
            ),
        ),
        (
            "made to acknowledged".into(),
            format!("p50 {}  p99 {}", q(0.5), q(0.99)),
        ),
        (
            "buffered".into(),
            r.gauge_mean_max(&format!("{name}.buffered")),
        ),
    ];
    if let Some(w) = &n.write {
        rows.push((
            "writes".into(),
            format!(
                "{} committed ({}), {} cut off by a crash; {} events lost, {} phantom",
                c("committed"),
                w.get_ref().as_str(),
                c("aborted"),
                c("lost_events"),
                c("phantom_events")
            ),
        ));
    }
    rows
}
