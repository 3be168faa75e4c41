//! The story library: every shipped scenario file, embedded at compile
//! time so that the CLI and the web app find the stories anywhere. The
//! order is the library's: the double charge first, then by name.

/// Every shipped story: its name and its scenario file.
pub const STORIES: &[(&str, &str)] = &[
    (
        "double-charge",
        include_str!("../../../scenarios/double-charge.toml"),
    ),
    (
        "abusive-client",
        include_str!("../../../scenarios/abusive-client.toml"),
    ),
    (
        "aggressive-timeout",
        include_str!("../../../scenarios/aggressive-timeout.toml"),
    ),
    ("cap", include_str!("../../../scenarios/cap.toml")),
    (
        "cascading-failure",
        include_str!("../../../scenarios/cascading-failure.toml"),
    ),
    (
        "charged-twice",
        include_str!("../../../scenarios/charged-twice.toml"),
    ),
    (
        "contended-counter",
        include_str!("../../../scenarios/contended-counter.toml"),
    ),
    ("deadlock", include_str!("../../../scenarios/deadlock.toml")),
    (
        "degrade-gracefully",
        include_str!("../../../scenarios/degrade-gracefully.toml"),
    ),
    (
        "dual-write",
        include_str!("../../../scenarios/dual-write.toml"),
    ),
    (
        "election-storm",
        include_str!("../../../scenarios/election-storm.toml"),
    ),
    (
        "eventually-wrong",
        include_str!("../../../scenarios/eventually-wrong.toml"),
    ),
    (
        "fell-behind",
        include_str!("../../../scenarios/fell-behind.toml"),
    ),
    (
        "five-calls",
        include_str!("../../../scenarios/five-calls.toml"),
    ),
    (
        "hot-shard",
        include_str!("../../../scenarios/hot-shard.toml"),
    ),
    (
        "kill-switch",
        include_str!("../../../scenarios/kill-switch.toml"),
    ),
    (
        "lost-lock",
        include_str!("../../../scenarios/lost-lock.toml"),
    ),
    (
        "minority-side",
        include_str!("../../../scenarios/minority-side.toml"),
    ),
    ("oversold", include_str!("../../../scenarios/oversold.toml")),
    (
        "poison-message",
        include_str!("../../../scenarios/poison-message.toml"),
    ),
    ("queues", include_str!("../../../scenarios/queues.toml")),
    (
        "retry-storm",
        include_str!("../../../scenarios/retry-storm.toml"),
    ),
    (
        "sick-node",
        include_str!("../../../scenarios/sick-node.toml"),
    ),
    (
        "split-brain",
        include_str!("../../../scenarios/split-brain.toml"),
    ),
    (
        "stale-cache",
        include_str!("../../../scenarios/stale-cache.toml"),
    ),
    (
        "thundering-herd",
        include_str!("../../../scenarios/thundering-herd.toml"),
    ),
    (
        "tail-at-scale",
        include_str!("../../../scenarios/tail-at-scale.toml"),
    ),
    (
        "unaware-leader",
        include_str!("../../../scenarios/unaware-leader.toml"),
    ),
];
