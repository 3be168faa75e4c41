//! `kind = "broker"`: a message broker, as a log of partitions read by
//! consumer groups, or as a queue whose consumers compete
//! (`models::messaging`).

use super::metrics::{counter, gauge};
use super::topics;
use super::{Build, Check, Field, Kind, Report, optional};
use crate::models::messaging::broker::{Broker, BrokerConfig};
use crate::models::messaging::{Mode, Overflow};
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::limits::MAX_PARTITIONS;
use crate::scenario::spec::{NodeKind, NodeSpec};
use crate::time::SimDuration;

pub const KIND: Kind = Kind::new(
    NodeKind::Broker,
    "broker",
    "A message broker between producers and consumers. It holds one topic, or the `topics` it names, each with the broker's settings and its own messages, producers and groups. As a `log` (the default), it keeps messages in ordered partitions (a message's key picks its partition) until retention removes them; each consumer group reads every message at its own pace, its members sharing the partitions, and rebalances (everyone stops for `rebalance_pause`) when a member joins or goes silent. As a `queue`, its consumers compete for messages: a received message is hidden for `visibility_timeout` and comes back if not deleted in time. A message that keeps failing goes to a dead-letter queue after `max_receives`. Each consumer group's lag is measured under the group's name.",
    &[FIELDS],
    build,
    report,
)
.checked_by(check)
.badge(badge)
.records(&[&[
    counter("appended"),
    counter("deduplicated"),
    counter("refused"),
    counter("shed"),
    counter("blocked"),
    gauge("held"),
]]);

const FIELDS: &[Field] = &[
    optional(
        "mode",
        "`log` or `queue`",
        "How it keeps and hands out messages (default `log`).",
    ),
    optional(
        "topics",
        "list of names",
        "Its topics (default: one unnamed topic). Each producer and consumer of the broker then names the one it uses in `topic`.",
    ),
    optional(
        "partitions",
        "integer from 1 to 1024",
        "A log's partitions, in each topic (default 1; at most 1024 in all topics together). Each is read in order by one member of a group at a time.",
    ),
    optional(
        "retention",
        "duration",
        "Messages older than this are removed, read or not (default: kept).",
    ),
    optional(
        "retention_size",
        "size (`64MiB`)",
        "A partition (or the queue) keeps at most this many bytes; the oldest go first (default: no limit).",
    ),
    optional(
        "capacity",
        "integer >= 1",
        "A queue holds at most this many messages, waiting or being processed (default: no limit).",
    ),
    optional(
        "overflow",
        "`block`, `drop` or `shed`",
        "What a full queue does with a new batch: `block` refuses it and tells the producer to stop until there is room; `drop` refuses it (the producer may retry); `shed` takes it and drops the oldest waiting messages. Default `block`.",
    ),
    optional(
        "visibility_timeout",
        "duration",
        "A queue: a received message is hidden this long, then handed out again unless deleted (default 30s).",
    ),
    optional(
        "max_receives",
        "integer >= 1",
        "After a message was handed out this many times (a log: failed this many times), it goes to the dead-letter queue (default: it comes back forever).",
    ),
    optional(
        "dead_letter",
        "node name",
        "The broker that messages go to after `max_receives`, where a consumer can read them (default: they are only counted).",
    ),
    optional(
        "dead_letter_topic",
        "topic name",
        "The topic of the dead-letter broker they go to: needed when it has `topics`. Alone, it names one of this broker's own topics; a message that fails too often there is only counted.",
    ),
    optional(
        "rebalance_pause",
        "duration",
        "A log: how long a group stops when it rebalances (default 3s).",
    ),
    optional(
        "session_timeout",
        "duration",
        "A log: a member not heard from for this long leaves its group, which rebalances (default 10s).",
    ),
];

/// A broker's mode: a log unless it says otherwise.
pub(super) fn mode(n: &NodeSpec) -> Mode {
    n.mode.unwrap_or(Mode::Log)
}

fn check(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    // The fields of the other mode, where they are written.
    let (others, other) = match mode(n) {
        Mode::Log => (
            [
                ("capacity", n.capacity.as_ref().map(|s| s.span())),
                ("overflow", n.overflow.as_ref().map(|s| s.span())),
                (
                    "visibility_timeout",
                    n.visibility_timeout.as_ref().map(|s| s.span()),
                ),
            ],
            "queue",
        ),
        Mode::Queue => (
            [
                ("partitions", n.partitions.as_ref().map(|s| s.span())),
                (
                    "rebalance_pause",
                    n.rebalance_pause.as_ref().map(|s| s.span()),
                ),
                (
                    "session_timeout",
                    n.session_timeout.as_ref().map(|s| s.span()),
                ),
            ],
            "log",
        ),
    };
    if let Some((f, Some(at))) = others.into_iter().find(|(_, at)| at.is_some()) {
        return Err(ctx.field(
            n,
            f,
            at,
            format!(
                "`{f}` applies to a broker with `mode = \"{other}\"`; this one is a {}",
                mode(n).as_str()
            ),
        ));
    }
    if let Some(p) = &n.partitions
        && !(1..=MAX_PARTITIONS).contains(p.get_ref())
    {
        return Err(ctx.field(
            n,
            "partitions",
            p.span(),
            format!(
                "a log has from 1 to {MAX_PARTITIONS} partitions, got {}",
                p.get_ref()
            ),
        ));
    }
    let at_least_one = [
        (
            "capacity",
            n.capacity.as_ref().map(|c| (*c.get_ref(), c.span())),
        ),
        (
            "max_receives",
            n.max_receives
                .as_ref()
                .map(|m| (u64::from(*m.get_ref()), m.span())),
        ),
    ];
    for (field, value) in at_least_one {
        if let Some((0, span)) = value {
            return Err(ctx.field(n, field, span, format!("`{field}` must be at least 1")));
        }
    }
    if let (Some(o), None) = (&n.overflow, &n.capacity) {
        return Err(ctx.field(
            n,
            "overflow",
            o.span(),
            "`overflow` says what a full queue does; give the queue a `capacity`",
        ));
    }
    check_times(ctx, n)?;
    topics::check_list(ctx, n)?;
    check_dead_letter(ctx, n)?;
    topics::check_dead_letter(ctx, n)?;
    check_readers(ctx, n)
}

/// A dead-letter broker is a broker, and is only used with
/// `max_receives`.
fn check_dead_letter(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    let (field, span) = match (&n.dead_letter, &n.dead_letter_topic) {
        (Some(d), _) => ("dead_letter", d.span()),
        (None, Some(t)) => ("dead_letter_topic", t.span()),
        (None, None) => return Ok(()),
    };
    if n.max_receives.is_none() {
        return Err(ctx.field(
            n,
            field,
            span,
            "a message goes to the dead-letter queue after `max_receives`; give this broker `max_receives`",
        ));
    }
    let Some(d) = &n.dead_letter else {
        return Ok(());
    };
    let problem = match ctx.node(d.get_ref()) {
        Some(m) if *m.kind.get_ref() != NodeKind::Broker => format!(
            "`{}` is a {}, not a broker",
            d.get_ref(),
            super::of(*m.kind.get_ref()).name
        ),
        _ => return Ok(()),
    };
    Err(ctx.field(n, "dead_letter", d.span(), problem))
}

/// The durations that must be above zero are.
fn check_times(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    let times = [
        ("retention", &n.retention),
        ("visibility_timeout", &n.visibility_timeout),
        ("session_timeout", &n.session_timeout),
    ];
    for (field, value) in times {
        if let Some(d) = value
            && d.get_ref().0 == SimDuration::ZERO
        {
            return Err(ctx.field(n, field, d.span(), format!("`{field}` must be above zero")));
        }
    }
    Ok(())
}

/// A queue hands each message to one consumer: each of its topics has
/// one group.
fn check_readers(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    if mode(n) != Mode::Queue {
        return Ok(());
    }
    let readers: Vec<&NodeSpec> = groups(ctx.spec, n.name.get_ref());
    let topic = |c: &NodeSpec| topics::index(n, c.topic.as_ref().map(|t| t.get_ref().as_str()));
    for (i, second) in readers.iter().enumerate() {
        let Some(first) = readers[..i].iter().find(|f| topic(f) == topic(second)) else {
            continue;
        };
        let t = second.target.as_ref().expect("a consumer has a target");
        let queue = match second.topic.as_ref() {
            Some(name) => format!("topic `{}` of queue `{}`", name.get_ref(), n.name.get_ref()),
            None => format!("queue `{}`", n.name.get_ref()),
        };
        return Err(ctx
            .at(
                t.span(),
                &format!("node `{}`.target", second.name.get_ref()),
                format!(
                    "{queue} already has consumer group `{}`: a queue hands each message to one consumer",
                    first.name.get_ref()
                ),
            )
            .with_help("for a second group that reads every message, make the broker a `mode = \"log\"`; for more consumers in one group, give that consumer `replicas`"));
    }
    Ok(())
}

/// The consumer nodes (each a group) that read broker `name`.
fn groups<'a>(spec: &'a crate::scenario::spec::ScenarioSpec, name: &str) -> Vec<&'a NodeSpec> {
    spec.nodes
        .iter()
        .filter(|m| *m.kind.get_ref() == NodeKind::Consumer)
        .filter(|m| m.target.as_ref().is_some_and(|t| t.get_ref() == name))
        .collect()
}

/// A broker's session timeout, which its consumers' heartbeats follow.
pub(super) fn session_timeout(n: &NodeSpec) -> SimDuration {
    n.session_timeout
        .as_ref()
        .map_or(SimDuration::from_secs(10), |d| d.get_ref().0)
}

fn build(n: &NodeSpec, b: &mut Build<'_>) -> Result<(), String> {
    let secs = |d: Option<&toml::Spanned<crate::scenario::spec::Duration>>, default: u64| {
        d.map_or(SimDuration::from_secs(default), |d| d.get_ref().0)
    };
    let cfg = BrokerConfig {
        mode: mode(n),
        topics: topics::model_names(n),
        partitions: n.partitions.as_ref().map_or(1, |p| *p.get_ref()),
        retention: n.retention.as_ref().map(|d| d.get_ref().0),
        retention_bytes: n.retention_size.as_ref().map(|s| s.get_ref().0),
        capacity: n.capacity.as_ref().map(|c| *c.get_ref()),
        overflow: n
            .overflow
            .as_ref()
            .map_or(Overflow::Block, |o| *o.get_ref()),
        visibility: secs(n.visibility_timeout.as_ref(), 30),
        max_receives: n.max_receives.as_ref().map(|m| *m.get_ref()),
        rebalance_pause: secs(n.rebalance_pause.as_ref(), 3),
        session_timeout: session_timeout(n),
        groups: groups(b.spec, n.name.get_ref())
            .iter()
            .map(|g| {
                let topic = g.topic.as_ref().map(|t| t.get_ref().as_str());
                (g.name.get_ref().clone(), topics::index(n, topic))
            })
            .collect(),
        dead_letter: topics::dead_letter_broker(b.spec, n).map(|d| {
            let topic = n.dead_letter_topic.as_ref().map(|t| t.get_ref().as_str());
            (b.group(d.name.get_ref())[0], topics::index(d, topic))
        }),
        keep_ids: b.spec.nodes.iter().any(|m| {
            m.write.is_some()
                && m.target
                    .as_ref()
                    .is_some_and(|t| t.get_ref() == n.name.get_ref())
        }),
    };
    b.add(n.name.get_ref(), Broker::new(cfg))
}

fn report(r: &Report<'_>, n: &NodeSpec, name: &str) -> Vec<(String, String)> {
    let c = |what: &str| r.count(name, what);
    let parts = n.partitions.as_ref().map_or(1, |p| *p.get_ref());
    let mut shape = match (mode(n), parts) {
        (Mode::Log, 1) => "log, 1 partition".to_string(),
        (Mode::Log, p) => format!("log, {p} partitions"),
        (Mode::Queue, _) => "queue".to_string(),
    };
    if let Some(t) = &n.topics {
        let names: Vec<&str> = t.get_ref().iter().map(|s| s.get_ref().as_str()).collect();
        let each = if mode(n) == Mode::Log { " each" } else { "" };
        shape = format!("{shape}{each}; topics {}", names.join(", "));
    }
    vec![
        ("kind".into(), shape),
        (
            "stored".into(),
            format!(
                "{} messages; {} copies of a batch sent again, stored once",
                c("appended"),
                c("deduplicated")
            ),
        ),
        (
            "full".into(),
            format!(
                "{} refused, {} shed, {} batches blocked",
                c("refused"),
                c("shed"),
                c("blocked")
            ),
        ),
        ("held".into(), r.gauge_mean_max(&format!("{name}.held"))),
    ]
}

/// What each partition holds, and each group's lag: "[120 98 131 104],
/// emails 3200 behind" (with topics, each topic's name first).
fn badge(
    sim: &crate::engine::Simulation<crate::models::rpc::Rpc>,
    id: crate::engine::NodeId,
) -> Option<super::Badge> {
    let broker = sim.node::<Broker>(id)?;
    let mut text = String::new();
    let topics = broker.topics();
    for t in &topics {
        let sizes: Vec<String> = t.sizes.iter().map(u64::to_string).collect();
        if !text.is_empty() {
            text.push_str("; ");
        }
        if !t.name.is_empty() {
            text.push_str(&format!("{} ", t.name));
        }
        text.push_str(&format!("[{}]", sizes.join(" ")));
        for (group, lag) in &t.lags {
            text.push_str(&format!(", {group} {lag} behind"));
        }
    }
    let bars = topics
        .into_iter()
        .map(|t| super::Bars {
            label: t.name,
            full: t.sizes,
            part: t.behind,
        })
        .collect();
    Some(super::Badge {
        text,
        highlight: false,
        bars,
    })
}
