//! `kind = "consumer"`: a consumer group (the node's name) of one member,
//! or of `replicas` members, reading from a broker
//! (`models::messaging::consumer`).

use super::broker::{mode as broker_mode, session_timeout};
use super::metrics::{counter, gauge, histogram};
use super::rows::{ms, percent};
use super::{Build, Check, Field, Kind, Report, optional, required};
use crate::dist::Dist;
use crate::models::messaging::Commit;
use crate::models::messaging::consumer::{Consumer, ConsumerConfig};
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::limits::MAX_WORKERS;
use crate::scenario::spec::{NodeKind, NodeSpec};
use crate::time::SimDuration;

pub const KIND: Kind = Kind::new(
    NodeKind::Consumer,
    "consumer",
    "A consumer group, named by the node, reading from a broker (`target`); with `replicas`, the group has that many members (`<name>-0`...), which share a log's partitions or compete for a queue's messages. Each member processes up to `concurrency` messages at once (a log's partitions each in order) and commits `before` processing (at most once: a failure loses the message) or `after` (at least once: a failure or crash hands it out again). With `dedupe`, each member keeps a table of the message ids it processed, written with the effect, and skips one it has seen. The group's lag, measured by the broker, is under the group's name.",
    &[FIELDS],
    build,
    report,
)
.targets(&[NodeKind::Broker])
.checked_by(check)
.reports_as_one()
.records(&[&[
    counter("processed"),
    counter("failed"),
    counter("lost"),
    counter("deduplicated"),
    counter("discarded"),
    counter("duplicates"),
    histogram("e2e_ns"),
    // Measured by the broker.
    gauge("lag"),
    gauge("lag_s"),
    histogram("lag_ns"),
    counter("delivered"),
    counter("redelivered"),
    counter("consumed"),
    counter("dead_lettered"),
    counter("expired"),
    counter("expired_unread"),
    counter("rebalances"),
    counter("commits_refused"),
]]);

const FIELDS: &[Field] = &[
    required("target", "node name", "The broker it reads."),
    optional(
        "topic",
        "topic name",
        "The topic the group reads: one of the broker's `topics`, needed when it names them.",
    ),
    required(
        "processing_time",
        "distribution",
        "How long one message takes to process.",
    ),
    optional(
        "replicas",
        "integer >= 1",
        "Members of the group (default 1).",
    ),
    optional(
        "concurrency",
        "integer >= 1",
        "Messages each member processes at once, at most (default 1).",
    ),
    optional(
        "commit",
        "`before` or `after`",
        "Commit (a log) or delete (a queue) before processing, or after (default `after`).",
    ),
    optional(
        "commit_every",
        "duration",
        "A log, committing `after`: commit what is done this often, not after each message (default: after each). A crash hands out again everything done since the last commit.",
    ),
    optional(
        "failure_rate",
        "probability",
        "The chance that processing a good message fails this time (default 0). A producer's `poison` messages always fail.",
    ),
    optional(
        "batch",
        "integer >= 1",
        "Messages asked for per fetch (default 10).",
    ),
    optional(
        "poll",
        "duration",
        "How long to wait after a fetch found nothing (default 100ms).",
    ),
    optional(
        "dedupe",
        "true or false",
        "Keep a table of processed message ids and skip a repeat (default false).",
    ),
];

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    super::topics::check_member(ctx, n)?;
    if let Some(c) = &n.concurrency
        && !(1..=MAX_WORKERS).contains(c.get_ref())
    {
        return Err(ctx.field(
            n,
            "concurrency",
            c.span(),
            format!(
                "`concurrency` is from 1 to {MAX_WORKERS}, got {}",
                c.get_ref()
            ),
        ));
    }
    if let Some(b) = &n.batch
        && *b.get_ref() == 0
    {
        return Err(ctx.field(n, "batch", b.span(), "`batch` must be at least 1"));
    }
    if let Some(p) = &n.poll
        && let Some(problem) = super::too_frequent("poll", p.get_ref().0)
    {
        return Err(ctx.field(n, "poll", p.span(), problem));
    }
    if let Some(e) = &n.commit_every {
        if let Some(problem) = super::too_frequent("commit_every", e.get_ref().0) {
            return Err(ctx.field(n, "commit_every", e.span(), problem));
        }
        let queue = n
            .target
            .as_ref()
            .and_then(|t| ctx.node(t.get_ref()))
            .is_some_and(|b| broker_mode(b) == crate::models::messaging::Mode::Queue);
        let problem = match n.commit {
            Some(Commit::Before) => Some(
                "`commit_every` spaces out commits made after processing; with `commit = \"before\"` each fetch is committed as it arrives",
            ),
            _ if queue => Some(
                "a queue deletes each message when it is done; `commit_every` applies to a consumer of a `mode = \"log\"` broker",
            ),
            _ => None,
        };
        if let Some(problem) = problem {
            return Err(ctx.field(n, "commit_every", e.span(), problem));
        }
    }
    Ok(())
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let target = n.target.as_ref().expect("checked").get_ref();
    let broker = b
        .spec
        .nodes
        .iter()
        .find(|m| m.name.get_ref() == target)
        .expect("checked");
    // Three heartbeats per session timeout, as Kafka's clients beat.
    let beat = SimDuration::from_nanos(session_timeout(broker).as_nanos() / 3);
    let cfg = ConsumerConfig {
        broker: b.target(n.target.as_ref())[0],
        group: n.name.get_ref().clone(),
        mode: broker_mode(broker),
        processing: n
            .processing_time
            .as_ref()
            .map_or(Dist::Constant(0.0), |d| d.0.clone()),
        concurrency: n.concurrency.as_ref().map_or(1, |c| *c.get_ref()),
        commit: n.commit.unwrap_or(Commit::After),
        failure: n.failure_rate.map_or(0.0, |p| p.0),
        batch: n.batch.as_ref().map_or(10, |v| *v.get_ref()),
        poll: n
            .poll
            .as_ref()
            .map_or(SimDuration::from_millis(100), |p| p.get_ref().0),
        dedupe: n.dedupe.unwrap_or(false),
        heartbeat: beat.max(SimDuration::from_millis(1)),
        commit_every: n.commit_every.as_ref().map(|d| d.get_ref().0),
    };
    b.add_replicated(n, || Consumer::new(cfg.clone()))
}

fn report(r: &Report<'_>, n: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what);
    let delivered = c("delivered");
    let lag_ns = r.metrics.get_histogram(&format!("{name}.lag_ns"));
    let e2e = r.metrics.get_histogram(&format!("{name}.e2e_ns"));
    let q = |h: Option<&crate::metrics::Histogram>, p: f64| ms(h.and_then(|h| h.quantile(p)));
    let lag_s = r
        .metrics
        .get_gauge(&format!("{name}.lag_s"))
        .map_or("-".into(), |g| {
            format!("mean {:.1}s, max {:.1}s", g.time_average(r.end), g.max())
        });
    let commit = match n.commit.unwrap_or(Commit::After) {
        Commit::Before => "before processing: at most once",
        Commit::After => "after processing: at least once",
    };
    vec![
        (
            "members".into(),
            format!(
                "{}; commits {commit}",
                n.replicas.as_ref().map_or(1, |r| *r.get_ref())
            ),
        ),
        (
            "processed".into(),
            format!(
                "{}; {} failed ({} lost), {} duplicates, {} skipped as seen",
                c("processed"),
                c("failed"),
                c("lost"),
                c("duplicates"),
                c("deduplicated")
            ),
        ),
        (
            "handed out".into(),
            format!(
                "{delivered}; {} again ({}); {} discarded; {} rebalances",
                c("redelivered"),
                percent(c("redelivered"), delivered),
                c("discarded"),
                c("rebalances")
            ),
        ),
        (
            "ended".into(),
            format!(
                "{} consumed, {} dead-lettered, {} removed by retention first ({} never read)",
                c("consumed"),
                c("dead_lettered"),
                c("expired"),
                c("expired_unread")
            ),
        ),
        ("lag".into(), r.gauge_mean_max(&format!("{name}.lag"))),
        ("lag in seconds".into(), lag_s),
        (
            "time in lag".into(),
            format!("p50 {}  p99 {}", q(lag_ns, 0.5), q(lag_ns, 0.99)),
        ),
        (
            "made to processed".into(),
            format!("p50 {}  p99 {}", q(e2e, 0.5), q(e2e, 0.99)),
        ),
    ]
}
