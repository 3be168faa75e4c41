//! Which shard holds a key: hash mod N, key ranges, or consistent hashing
//! with virtual nodes; and what resharding costs (the keys that move).
//!
//! References: D. Karger et al., "Consistent Hashing and Random Trees"
//! (STOC 1997); the virtual nodes of Amazon's Dynamo (SOSP 2007), which
//! smooth the load: a node with V points on the ring owns a share whose
//! relative spread shrinks like 1/sqrt(V).
//!
//! Hashing is `mix64` (the splitmix64 finalizer): a fixed function of the
//! key's bits, the same on every platform and in WebAssembly.

/// A fixed, well-mixed 64-bit hash.
pub fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[derive(Clone, Debug, PartialEq)]
pub enum Partitioner {
    /// hash(key) mod n.
    ModN { shards: usize },
    /// Key ranges: shard i holds keys below `bounds[i]` (and at or above
    /// the previous bound); the last shard holds the rest. Keys are not
    /// hashed, so related keys (dates, ids) land together.
    Range { bounds: Vec<u64> },
    /// A ring of `vnodes` points per shard; a key belongs to the first
    /// point at or after its hash, wrapping around.
    Consistent {
        /// (point, shard), sorted by point.
        ring: Vec<(u64, usize)>,
        shards: usize,
    },
}

impl Partitioner {
    pub fn mod_n(shards: usize) -> Self {
        assert!(shards > 0);
        Partitioner::ModN { shards }
    }

    /// `shards` shards with `vnodes` points each; `salt` places the points
    /// (a different salt is a different random ring).
    pub fn consistent(shards: usize, vnodes: usize, salt: u64) -> Self {
        assert!(shards > 0 && vnodes > 0);
        let mut ring: Vec<(u64, usize)> = (0..shards)
            .flat_map(|s| {
                (0..vnodes).map(move |v| (mix64(salt ^ mix64(((s as u64) << 32) | v as u64)), s))
            })
            .collect();
        ring.sort_unstable();
        Partitioner::Consistent { ring, shards }
    }

    pub fn shards(&self) -> usize {
        match self {
            Partitioner::ModN { shards } | Partitioner::Consistent { shards, .. } => *shards,
            Partitioner::Range { bounds } => bounds.len() + 1,
        }
    }

    pub fn shard_of(&self, key: u64) -> usize {
        match self {
            Partitioner::ModN { shards } => (mix64(key) % *shards as u64) as usize,
            Partitioner::Range { bounds } => bounds.partition_point(|&b| b <= key),
            Partitioner::Consistent { ring, .. } => {
                let h = mix64(key);
                let i = ring.partition_point(|&(p, _)| p < h);
                ring[if i == ring.len() { 0 } else { i }].1
            }
        }
    }

    /// The same ring with one more shard (its points added; the others'
    /// stay), or mod N+1, or the last range split in two at `split`.
    pub fn grown(&self, vnodes: usize, salt: u64) -> Self {
        match self {
            Partitioner::ModN { shards } => Partitioner::mod_n(shards + 1),
            Partitioner::Consistent { shards, .. } => {
                Partitioner::consistent(shards + 1, vnodes, salt)
            }
            Partitioner::Range { bounds } => {
                let mut b = bounds.clone();
                let last = b.last().copied().unwrap_or(0);
                b.push(last + (u64::MAX - last) / 2);
                Partitioner::Range { bounds: b }
            }
        }
    }

    /// The share of the hash space each shard owns (consistent hashing),
    /// or None for the other schemes.
    pub fn ring_shares(&self) -> Option<Vec<f64>> {
        let Partitioner::Consistent { ring, shards } = self else {
            return None;
        };
        let mut owned = vec![0f64; *shards];
        for (i, &(point, shard)) in ring.iter().enumerate() {
            // A point owns the arc from the previous point (exclusive).
            let prev = if i == 0 {
                ring[ring.len() - 1].0
            } else {
                ring[i - 1].0
            };
            let arc = point.wrapping_sub(prev);
            owned[shard] += arc as f64 / 18_446_744_073_709_551_616.0;
        }
        if ring.len() == 1 {
            owned[ring[0].1] = 1.0;
        }
        Some(owned)
    }
}

/// How many of `keys` change shard between two partitioners.
pub fn moved_keys(
    before: &Partitioner,
    after: &Partitioner,
    keys: impl Iterator<Item = u64>,
) -> u64 {
    keys.filter(|&k| before.shard_of(k) != after.shard_of(k))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_maps_every_key_to_a_shard() {
        let ps = [
            Partitioner::mod_n(8),
            Partitioner::consistent(8, 16, 1),
            Partitioner::Range {
                bounds: vec![100, 200],
            },
        ];
        for p in &ps {
            for k in [0, 1, 99, 100, 199, 200, u64::MAX] {
                assert!(p.shard_of(k) < p.shards());
            }
        }
        let r = &ps[2];
        assert_eq!(
            [
                r.shard_of(0),
                r.shard_of(99),
                r.shard_of(100),
                r.shard_of(250)
            ],
            [0, 0, 1, 2]
        );
    }

    #[test]
    fn ring_shares_sum_to_one() {
        for v in [1, 7, 100] {
            let shares = Partitioner::consistent(5, v, 3).ring_shares().unwrap();
            let total: f64 = shares.iter().sum();
            assert!((total - 1.0).abs() < 1e-9, "{total}");
        }
        let one = Partitioner::consistent(1, 1, 3).ring_shares().unwrap();
        assert_eq!(one, [1.0]);
    }

    #[test]
    fn growing_a_ring_keeps_the_old_points() {
        let (a, b) = (
            Partitioner::consistent(4, 10, 9),
            Partitioner::consistent(4, 10, 9).grown(10, 9),
        );
        let (Partitioner::Consistent { ring: ra, .. }, Partitioner::Consistent { ring: rb, .. }) =
            (&a, &b)
        else {
            unreachable!()
        };
        assert!(ra.iter().all(|p| rb.contains(p)));
        assert_eq!(rb.len(), 50);
        // A key moves only to the new shard.
        for k in 0..10_000u64 {
            let (x, y) = (a.shard_of(k), b.shard_of(k));
            assert!(x == y || y == 4, "key {k}: {x} -> {y}");
        }
    }
}
