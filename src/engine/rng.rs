//! Named random streams.
//!
//! Every consumer draws from its own stream, derived from the run's master seed and a stable
//! key such as `"link/7/ab/loss"`. Adding a component therefore never shifts another's draws,
//! and two sweep points with the same seed share common random numbers. The generator is
//! ChaCha8 (`rand_chacha`), whose output is documented stable across platforms and versions;
//! never `StdRng`, `SmallRng` or `thread_rng`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The random generator every model uses.
pub type SimRng = ChaCha8Rng;

/// Derives independent, reproducible streams from one master seed.
#[derive(Clone, Copy, Debug)]
pub struct RngStreams {
    master: u64,
}

impl RngStreams {
    /// Streams derived from `master_seed`, the run's one seed.
    pub fn new(master_seed: u64) -> Self {
        RngStreams {
            master: master_seed,
        }
    }

    /// The master seed the streams derive from.
    pub fn master_seed(&self) -> u64 {
        self.master
    }

    /// The stream named `key`: the same (seed, key) always gives the same sequence.
    pub fn stream(&self, key: &str) -> SimRng {
        let mut seed = [0u8; 32];
        let h = stable_hash(self.master, key.as_bytes());
        // Expand the 64-bit hash into a 256-bit ChaCha key with SplitMix64.
        let mut state = h;
        for chunk in seed.chunks_mut(8) {
            chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        ChaCha8Rng::from_seed(seed)
    }
}

/// FNV-1a over the bytes, keyed by `seed`, then finalized with a SplitMix64 step.
/// Stable by construction: it is written here, not taken from std's randomized hashers.
pub fn stable_hash(seed: u64, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut s = h;
    splitmix64(&mut s)
}

/// One SplitMix64 step (Steele, Lea, Flood 2014): a cheap, well-mixed 64-bit permutation.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a = RngStreams::new(42);
        let b = RngStreams::new(42);
        let xs: Vec<u64> = (0..4)
            .map({
                let mut r = a.stream("link/1/loss");
                move |_| r.random()
            })
            .collect();
        let ys: Vec<u64> = (0..4)
            .map({
                let mut r = b.stream("link/1/loss");
                move |_| r.random()
            })
            .collect();
        assert_eq!(xs, ys, "same seed and key give the same draws");
        let mut other = a.stream("link/2/loss");
        assert_ne!(
            xs[0],
            other.random::<u64>(),
            "another key gives another stream"
        );
        let mut reseeded = RngStreams::new(43).stream("link/1/loss");
        assert_ne!(
            xs[0],
            reseeded.random::<u64>(),
            "another seed gives another stream"
        );
    }

    #[test]
    fn chacha8_output_is_pinned() {
        // Guards against a dependency update silently changing every result: the first draw
        // of a fixed stream is recorded here. If this fails, all golden outputs change too.
        let mut r = RngStreams::new(1).stream("pin");
        let first: u64 = r.random();
        assert_eq!(first, PINNED_FIRST_DRAW);
    }

    const PINNED_FIRST_DRAW: u64 = 13_172_808_996_855_030_914;
}
