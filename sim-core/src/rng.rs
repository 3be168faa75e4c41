//! Randomness: one seed for a run, one ChaCha stream per component.
//!
//! A component's stream is derived from the run seed and the component's
//! stable *name*, never from its index or creation order. Adding a node
//! therefore leaves every other node's draws unchanged, and two variants of a
//! scenario draw the same arrivals (common random numbers), which makes their
//! comparison paired.
//!
//! The ChaCha key comes from the seed; the ChaCha stream number (a 64-bit
//! nonce designed for exactly this: independent streams under one key) comes
//! from a stable hash of the name and the purpose of the stream. The engine
//! refuses two names whose stream numbers collide, so independence holds.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// What a stream is used for, so that a node's own draws and the network's
/// draws for messages it sends never share a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum StreamPurpose {
    /// The component's own decisions: arrivals, service times, jitter.
    Component = 0,
    /// Latency, loss, duplication and reordering of messages it sends.
    Network = 1,
    /// Anything a test or tool wants that must not disturb the others.
    Auxiliary = 2,
}

/// A deterministic, portable random stream (ChaCha with 8 rounds).
#[derive(Clone, Debug)]
pub struct SimRng {
    inner: ChaCha8Rng,
}

impl SimRng {
    /// The stream of component `name` under run seed `seed`.
    pub fn for_component(seed: u64, name: &str) -> Self {
        Self::derive(seed, name, StreamPurpose::Component)
    }

    /// The stream for `name` used for `purpose`.
    pub fn derive(seed: u64, name: &str, purpose: StreamPurpose) -> Self {
        let mut inner = ChaCha8Rng::from_seed(key_from_seed(seed));
        inner.set_stream(stream_id(name, purpose));
        SimRng { inner }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// Uniform in [0, 1), with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1]: safe to take a logarithm of.
    #[inline]
    pub fn uniform_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n) without modulo bias (Lemire's method).
    /// Panics if `n` is zero.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "SimRng::below(0)");
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    /// True with probability `p` (clamped to [0, 1]).
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }
}

/// The 32-byte ChaCha key for a seed: four SplitMix64 outputs, so that nearby
/// seeds give unrelated keys.
fn key_from_seed(seed: u64) -> [u8; 32] {
    let mut state = seed;
    let mut key = [0u8; 32];
    for chunk in key.chunks_exact_mut(8) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        chunk.copy_from_slice(&splitmix64_mix(state).to_le_bytes());
    }
    key
}

/// The ChaCha stream number for a name and purpose: FNV-1a over the bytes,
/// then a SplitMix64 finaliser to spread it. Stable across platforms and
/// releases; changing it changes every fingerprint.
pub fn stream_id(name: &str, purpose: StreamPurpose) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in core::iter::once(&(purpose as u8)).chain(name.as_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    splitmix64_mix(h)
}

#[inline]
pub(crate) fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_name_give_the_same_draws() {
        let mut a = SimRng::for_component(7, "server");
        let mut b = SimRng::for_component(7, "server");
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn streams_differ_by_seed_name_and_purpose() {
        let first = |mut r: SimRng| r.next_u64();
        let base = first(SimRng::for_component(7, "server"));
        assert_ne!(base, first(SimRng::for_component(8, "server")));
        assert_ne!(base, first(SimRng::for_component(7, "server2")));
        assert_ne!(
            base,
            first(SimRng::derive(7, "server", StreamPurpose::Network))
        );
    }

    /// Pins the exact bits, so an accidental change to derivation (which
    /// would silently change every fingerprint) fails here first.
    #[test]
    fn derivation_is_pinned() {
        let mut r = SimRng::for_component(42, "client");
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(got[0], PINNED_FIRST_DRAW);
        assert_eq!(
            stream_id("client", StreamPurpose::Component),
            PINNED_CLIENT_STREAM
        );
    }
    const PINNED_CLIENT_STREAM: u64 = 16694835029320219749;
    const PINNED_FIRST_DRAW: u64 = 15249320791483055282;

    #[test]
    fn below_is_unbiased_and_in_range() {
        let mut r = SimRng::for_component(1, "dice");
        let mut counts = [0u32; 6];
        let n = 600_000;
        for _ in 0..n {
            counts[r.below(6) as usize] += 1;
        }
        // Each face: mean 100000, sd ~ 288.7; allow 5 sd.
        for c in counts {
            assert!((f64::from(c) - 100_000.0).abs() < 5.0 * 288.7, "{counts:?}");
        }
    }

    #[test]
    fn uniform_stays_in_its_interval() {
        let mut r = SimRng::for_component(3, "u");
        for _ in 0..100_000 {
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
            let v = r.uniform_open0();
            assert!(v > 0.0 && v <= 1.0);
        }
    }
}
