//! A broker's topics as a scenario names them: its own `topics` list, the
//! `topic` a producer writes and a consumer group reads, and the
//! `dead_letter_topic` its failed messages go to. A broker without
//! `topics` has one unnamed topic, and nothing may name one.

use super::Check;
use crate::scenario::diagnostic::Diagnostic;
use crate::scenario::limits::MAX_PARTITIONS;
use crate::scenario::spec::{NodeKind, NodeSpec, ScenarioSpec};
use crate::scenario::suggest::did_you_mean;

/// A broker's topic names, as written (empty: one unnamed topic).
fn names(broker: &NodeSpec) -> Vec<&str> {
    broker
        .topics
        .as_ref()
        .map(|t| t.get_ref().iter().map(|s| s.get_ref().as_str()).collect())
        .unwrap_or_default()
}

/// The names as the model keeps them: at least one.
pub(super) fn model_names(broker: &NodeSpec) -> Vec<String> {
    match names(broker) {
        v if v.is_empty() => vec![String::new()],
        v => v.into_iter().map(String::from).collect(),
    }
}

/// The index in `broker` of topic `topic` (0 when it names none).
pub(super) fn index(broker: &NodeSpec, topic: Option<&str>) -> u32 {
    let at = topic.and_then(|t| names(broker).iter().position(|n| *n == t));
    at.map_or(0, |i| i as u32)
}

/// The broker node called `name`, if it is one.
pub(super) fn broker<'a>(spec: &'a ScenarioSpec, name: &str) -> Option<&'a NodeSpec> {
    spec.nodes
        .iter()
        .find(|m| m.name.get_ref() == name && *m.kind.get_ref() == NodeKind::Broker)
}

fn listed(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

/// A broker's own list: not empty, each name once, and not more
/// partitions in all than a broker may hold.
pub(super) fn check_list(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    let Some(list) = &n.topics else {
        return Ok(());
    };
    let err = |span, msg: String| Err(ctx.field(n, "topics", span, msg));
    if list.get_ref().is_empty() {
        return err(
            list.span(),
            "a broker has at least one topic; remove `topics` for one unnamed topic".into(),
        );
    }
    for (i, t) in list.get_ref().iter().enumerate() {
        if t.get_ref().trim().is_empty() {
            return err(t.span(), "a topic's name is not empty".into());
        }
        if list.get_ref()[..i]
            .iter()
            .any(|u| u.get_ref() == t.get_ref())
        {
            return err(t.span(), format!("topic `{}` is named twice", t.get_ref()));
        }
    }
    let parts = n.partitions.as_ref().map_or(1, |p| *p.get_ref());
    let topics = list.get_ref().len() as u64;
    if topics * u64::from(parts) > u64::from(MAX_PARTITIONS) {
        return err(
            list.span(),
            format!(
                "a broker holds at most {MAX_PARTITIONS} partitions in all; {topics} topics of {parts} partitions are {}",
                topics * u64::from(parts)
            ),
        );
    }
    Ok(())
}

/// A producer's or consumer's `topic` is one of its broker's, and is
/// given exactly when the broker has several.
pub(super) fn check_member(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    let Some(target) = &n.target else {
        return Ok(());
    };
    let Some(b) = broker(ctx.spec, target.get_ref()) else {
        return Ok(());
    };
    let role = if *n.kind.get_ref() == NodeKind::Producer {
        "writes to"
    } else {
        "reads"
    };
    named(ctx, n, "topic", (n.topic.as_ref(), target.span()), b, role)
}

/// `field` (written at its span, or missing) names one of `b`'s topics,
/// or `b` has none and `field` is not written; `at` is where to point
/// when it is missing.
fn named(
    ctx: &Check<'_>,
    n: &NodeSpec,
    field: &str,
    (given, at): (Option<&toml::Spanned<String>>, std::ops::Range<usize>),
    b: &NodeSpec,
    role: &str,
) -> Result<(), Diagnostic> {
    let all = names(b);
    let broker = b.name.get_ref();
    match given {
        None if all.is_empty() => Ok(()),
        None => Err(ctx
            .field(
                n,
                field,
                at,
                format!(
                    "broker `{broker}` has topics {}; say which one this {} {role} with `{field}`",
                    listed(&all),
                    super::of(*n.kind.get_ref()).name
                ),
            )
            .with_expected(format!("one of {}", listed(&all)))),
        Some(t) if all.is_empty() => Err(ctx
            .field(
                n,
                field,
                t.span(),
                format!("broker `{broker}` has one unnamed topic, so `{field}` names nothing"),
            )
            .with_help(format!(
                "remove `{field}`, or give `{broker}` its topics: `topics = [\"{}\", ...]`",
                t.get_ref()
            ))),
        Some(t) if !all.contains(&t.get_ref().as_str()) => Err(ctx
            .field(
                n,
                field,
                t.span(),
                format!("broker `{broker}` has no topic `{}`", t.get_ref()),
            )
            .with_expected(format!("one of {}", listed(&all)))
            .with_suggestion(did_you_mean(t.get_ref(), all.iter().copied()))),
        Some(_) => Ok(()),
    }
}

/// The broker failed messages go to: `dead_letter`, or this broker when
/// only `dead_letter_topic` is written.
pub(super) fn dead_letter_broker<'a>(
    spec: &'a ScenarioSpec,
    n: &'a NodeSpec,
) -> Option<&'a NodeSpec> {
    match (&n.dead_letter, &n.dead_letter_topic) {
        (Some(d), _) => broker(spec, d.get_ref()),
        (None, Some(_)) => Some(n),
        (None, None) => None,
    }
}

/// `dead_letter_topic` is one of the dead-letter broker's topics, written
/// when it has several; and a broker is its own dead-letter queue only
/// through another of its topics.
pub(super) fn check_dead_letter(ctx: &Check<'_>, n: &NodeSpec) -> Result<(), Diagnostic> {
    let Some(b) = dead_letter_broker(ctx.spec, n) else {
        return Ok(());
    };
    let at = n.dead_letter.as_ref().map_or(n.name.span(), |d| d.span());
    let given = n.dead_letter_topic.as_ref();
    named(
        ctx,
        n,
        "dead_letter_topic",
        (given, at.clone()),
        b,
        "sends failed messages to",
    )?;
    if b.name.get_ref() != n.name.get_ref() {
        return Ok(());
    }
    let own = names(n);
    let span = given.map_or(at.clone(), |t| t.span());
    match given {
        Some(_) if own.len() > 1 => Ok(()),
        _ => Err(ctx
            .field(
                n,
                "dead_letter",
                span,
                "a broker with one topic cannot be its own dead-letter queue",
            )
            .with_help("give it a second topic for failed messages (`topics = [\"orders\", \"orders-failed\"]`) and name it in `dead_letter_topic`")),
    }
}
