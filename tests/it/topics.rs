//! A broker's several topics (issue 16): each topic keeps its own
//! messages and groups, so two topics on one broker behave as two
//! brokers would; and a broker's dead-letter queue can be another of its
//! own topics.

use super::messaging::{assert_little, built, counter, gauge_now};

/// Broker `bus` (its fields `broker`) with topics `orders` and
/// `emails`; producers `shop` (orders) and `mailer` (emails); groups
/// `billing` and `audit` on orders, `smtp` on emails.
fn two_topics(duration: &str, broker: &str, shop: &str, mailer: &str) -> String {
    format!(
        r#"
title = "t"
summary = "s"
[run]
duration = "{duration}"
[network]
latency = "1ms"
[[node]]
name = "bus"
kind = "broker"
topics = ["orders", "emails"]
{broker}
[[node]]
name = "shop"
kind = "producer"
target = "bus"
topic = "orders"
keys = {{ dist = "uniform", n = 100 }}
{shop}
[[node]]
name = "mailer"
kind = "producer"
target = "bus"
topic = "emails"
{mailer}
[[node]]
name = "billing"
kind = "consumer"
target = "bus"
topic = "orders"
processing_time = {{ dist = "exponential", mean = "7ms" }}
[[node]]
name = "smtp"
kind = "consumer"
target = "bus"
topic = "emails"
processing_time = {{ dist = "exponential", mean = "30ms" }}
"#
    )
}

const AUDIT: &str = r#"
[[node]]
name = "audit"
kind = "consumer"
target = "bus"
topic = "orders"
processing_time = "1ms"
"#;

/// Everything a group's topic stored left its lag one way, or is in it.
fn finished(b: &sim_core::scenario::Built, group: &str) -> u64 {
    let c = |what: &str| counter(b, &format!("{group}.{what}"));
    c("consumed") + c("dead_lettered") + c("expired") + gauge_now(b, &format!("{group}.lag"))
}

#[test]
fn two_topics_keep_their_messages_and_groups_apart() {
    let shop = "rate = \"100/s\"\nmessages = 3000";
    let mailer = "rate = \"20/s\"\nmessages = 500";
    let cases = [
        ("partitions = 3", true),
        ("mode = \"queue\"\ncapacity = 400", false),
    ];
    for (broker, log) in cases {
        let mut text = two_topics("200s", broker, shop, mailer);
        if log {
            text.push_str(AUDIT);
        }
        let b = built(&text, 4);
        let (orders, emails) = (counter(&b, "shop.acked"), counter(&b, "mailer.acked"));
        assert_eq!((orders, emails), (3000, 500), "{broker}: all stored");
        assert_eq!(counter(&b, "bus.appended"), orders + emails);
        // Each group reads its own topic, all of it, and nothing else.
        assert_eq!(finished(&b, "billing"), orders, "{broker}");
        assert_eq!(counter(&b, "billing.consumed"), orders, "{broker}");
        assert_eq!(finished(&b, "smtp"), emails, "{broker}");
        assert_eq!(counter(&b, "smtp.consumed"), emails, "{broker}");
        if log {
            // A second group on the same topic reads every message too.
            assert_eq!(counter(&b, "audit.consumed"), orders);
        }
        assert_eq!(
            gauge_now(&b, "bus.held"),
            if log { orders + emails } else { 0 }
        );
    }
}

#[test]
fn littles_law_holds_on_each_topic_of_one_broker() {
    let b = built(
        &two_topics(
            "600s",
            "partitions = 2",
            "rate = \"100/s\"",
            "rate = \"25/s\"",
        ),
        3,
    );
    assert_little(&b, "billing", 600.0);
    assert_little(&b, "smtp", 600.0);
}

#[test]
fn a_full_topic_blocks_its_own_producer_only() {
    // Emails are processed far slower than they come: their queue fills
    // and blocks the mailer, while orders flow.
    let b = built(
        &two_topics(
            "60s",
            "mode = \"queue\"\ncapacity = 100",
            "rate = \"100/s\"",
            "rate = \"100/s\"",
        ),
        2,
    );
    assert!(counter(&b, "bus.blocked") > 0, "the emails' queue filled");
    let orders = counter(&b, "shop.created");
    let billed = counter(&b, "billing.consumed");
    assert!(
        billed as f64 > 0.98 * orders as f64,
        "orders are not held up by emails: {billed} of {orders}"
    );
    assert_eq!(counter(&b, "shop.refused") + counter(&b, "shop.failed"), 0);
    let sent = counter(&b, "smtp.consumed");
    assert!(sent < 3000, "emails go at the consumer's pace: {sent}");
}

#[test]
fn a_broker_sets_failed_messages_aside_in_a_topic_of_its_own() {
    let text = r#"
title = "t"
summary = "s"
[run]
duration = "60s"
[network]
latency = "1ms"
[[node]]
name = "bus"
kind = "broker"
topics = ["uploads", "broken"]
max_receives = 3
dead_letter_topic = "broken"
[[node]]
name = "site"
kind = "producer"
target = "bus"
topic = "uploads"
rate = "50/s"
poison = "2%"
[[node]]
name = "thumbs"
kind = "consumer"
target = "bus"
topic = "uploads"
processing_time = "2ms"
[[node]]
name = "triage"
kind = "consumer"
target = "bus"
topic = "broken"
processing_time = "2ms"
"#;
    let b = built(text, 1);
    let dead = counter(&b, "thumbs.dead_lettered");
    let made = counter(&b, "site.acked");
    assert!(dead > 20, "poison found: {dead}");
    // Every dead letter is stored again, in the other topic.
    assert_eq!(counter(&b, "bus.appended"), made + dead);
    assert_eq!(finished(&b, "triage"), dead);
    // Poison fails in the dead-letter topic too; there it is only
    // counted, never sent round again.
    let counted = counter(&b, "triage.dead_lettered");
    assert!(
        counted + 3 >= dead,
        "{counted} of {dead} set aside for good"
    );
    assert_eq!(counter(&b, "triage.consumed"), 0);
    assert!(gauge_now(&b, "thumbs.lag") < 20, "the uploads flow");
}
