//! The limits on every count and size a user supplies, in one place, so
//! that a typo (`--seeds 18446744073709551615`, `replicas = 1e9`) is
//! refused at once with a sentence that names the limit, instead of
//! allocating until the machine gives up. The format reference and the
//! CLI's help quote these constants; the tests of bad input pin them.

use std::ops::RangeInclusive;

/// Seeds one command may run per variant (`check`, `compare`, `sweep`,
/// `explore`).
pub const MAX_SEEDS: u64 = 10_000;

/// Points in one sweep's grid: the product of every parameter's values.
pub const MAX_GRID_POINTS: u64 = 10_000;

/// Runs one sweep may make: grid points times seeds.
pub const MAX_SWEEP_JOBS: u64 = 100_000;

/// Shards a sweep may be split into.
pub const MAX_SHARDS: u64 = 10_000;

/// Replicas of one node (a service's instances, a group of stores):
/// each is a node with its own state.
pub const MAX_REPLICAS: u32 = 10_000;

/// Replicas in one replicated store (`kind = "replica"`): every replica
/// sends every other a heartbeat, so the cost grows with the square.
pub const MAX_REPLICA_GROUP: u32 = 64;

/// Partitions of one broker, all its topics together: each keeps its
/// messages and every group's cursor in it.
pub const MAX_PARTITIONS: u32 = 1024;

/// Workers of one service: each has a slot in memory.
pub const MAX_WORKERS: u32 = 1_000_000;

/// Keys in a Zipf key space, whose sampler keeps a table of one number
/// per key (8 bytes each: 8 MB at the limit, in the browser too).
pub const MAX_ZIPF_KEYS: u64 = 1_000_000;

/// The fastest rate a scenario may give (arrivals, writes, a token
/// bucket's refill), per second.
pub const MAX_RATE_PER_S: f64 = 1e6;

/// The shortest period of background work that repeats for as long as
/// a run lasts (heartbeats, anti-entropy, drift checks, health checks):
/// below it, timers alone would swamp the run.
pub const MIN_PERIOD_NS: u64 = 1_000_000;

/// The seeds `first..first + count`, or why not: at least one, at most
/// [`MAX_SEEDS`], and not past the largest seed there is.
pub fn seed_range(first: u64, count: u64) -> Result<RangeInclusive<u64>, String> {
    if count == 0 {
        return Err("--seeds must be at least 1".into());
    }
    if count > MAX_SEEDS {
        return Err(format!(
            "--seeds {count} is more than the {MAX_SEEDS} seeds one command may run; \
             split the work (a sweep can be sharded) or try fewer"
        ));
    }
    let last = first.checked_add(count - 1).ok_or_else(|| {
        format!(
            "--seeds {count} from seed {first} goes past the largest seed, {}",
            u64::MAX
        )
    })?;
    Ok(first..=last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_are_bounded() {
        assert_eq!(seed_range(1, 5).unwrap(), 1..=5);
        assert_eq!(seed_range(u64::MAX, 1).unwrap(), u64::MAX..=u64::MAX);
        assert!(seed_range(1, 0).unwrap_err().contains("at least 1"));
        let e = seed_range(1, u64::MAX).unwrap_err();
        assert!(e.contains("10000"), "{e}");
        let e = seed_range(u64::MAX - 1, 5).unwrap_err();
        assert!(e.contains("largest seed"), "{e}");
    }
}
