//! A running fingerprint of the processed event sequence (OMNeT++ calls it a fingerprint).
//!
//! Each event folds `(time, kind, a, b)` into a 64-bit hash; two runs that process the same
//! events in the same order at the same times end with the same digest, so determinism tests
//! need not compare whole traces.

/// Order-sensitive 64-bit digest of `(time, kind, a, b)` records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceDigest(u64);

impl Default for TraceDigest {
    fn default() -> Self {
        TraceDigest(0x6a09_e667_f3bc_c908)
    }
}

impl TraceDigest {
    /// Folds one event's `(time in ps, kind, a, b)` into the digest; order-sensitive.
    #[inline]
    pub fn record(&mut self, time_ps: u64, kind: u32, a: u64, b: u64) {
        self.0 = mix(self.0 ^ time_ps);
        self.0 = mix(self.0 ^ ((kind as u64) << 32) ^ a);
        self.0 = mix(self.0 ^ b);
    }

    /// The current 64-bit digest value.
    pub fn value(&self) -> u64 {
        self.0
    }
}

#[inline]
fn mix(mut z: u64) -> u64 {
    // The multiply-xorshift finalizer of SplitMix64: cheap and order-sensitive when chained.
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_matters() {
        let mut a = TraceDigest::default();
        a.record(1, 0, 1, 0);
        a.record(2, 0, 2, 0);
        let mut b = TraceDigest::default();
        b.record(2, 0, 2, 0);
        b.record(1, 0, 1, 0);
        assert_ne!(a, b);
    }
}
