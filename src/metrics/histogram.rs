//! A log-linear histogram of non-negative integers (delays in picoseconds).
//!
//! Values below 128 are counted exactly; above, each power of two is split into 64 buckets,
//! so any reported percentile is within 1/64 (1.6%) of a value actually observed in its
//! bucket. Memory is bounded (≤ 3776 buckets) however long the run, unlike storing samples.

const EXACT: u64 = 128;
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;

/// Log-linear histogram of `u64` values (usually delays in picoseconds); see the module doc.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

fn bucket_of(v: u64) -> usize {
    if v < EXACT {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // floor(log2 v) >= 7
    let shift = e - SUB_BITS;
    let m = v >> shift; // in [64, 128)
    (EXACT + (e as u64 - 7) * SUB + (m - SUB)) as usize
}

/// Smallest and largest value that land in bucket `i`.
fn bucket_bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < EXACT {
        return (i, i);
    }
    let e = (i - EXACT) / SUB + 7;
    let m = (i - EXACT) % SUB + SUB;
    let shift = e as u32 - SUB_BITS;
    let lo = m << shift;
    (lo, lo + ((1u64 << shift) - 1))
}

impl Histogram {
    /// Counts one value `v` (in the caller's unit, usually picoseconds).
    #[inline]
    pub fn record(&mut self, v: u64) {
        let b = bucket_of(v);
        if b >= self.counts.len() {
            self.counts.resize(b + 1, 0);
        }
        self.counts[b] += 1;
        if self.count == 0 || v < self.min {
            self.min = v;
        }
        self.max = self.max.max(v);
        self.count += 1;
        self.sum += v as u128;
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }
    /// Exact mean (the sum is kept exactly); NaN when empty.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.sum as f64 / self.count as f64
        }
    }
    /// Smallest value recorded, exact; `None` when empty.
    pub fn min(&self) -> Option<u64> {
        (self.count > 0).then_some(self.min)
    }
    /// Largest value recorded, exact; `None` when empty.
    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    /// The `q`-quantile (0..=1) by nearest rank, as the midpoint of its bucket clamped to
    /// the observed min/max; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, hi) = bucket_bounds(i);
                return Some((lo + (hi - lo) / 2).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_line() {
        // Every value maps to a bucket whose bounds contain it, and bounds are contiguous.
        for v in (0..5000u64).chain([u64::MAX / 3, 1 << 40, (1 << 40) - 1]) {
            let (lo, hi) = bucket_bounds(bucket_of(v));
            assert!(lo <= v && v <= hi, "{v} not in [{lo},{hi}]");
            assert!((hi - lo) as f64 <= lo as f64 / 64.0 + 1.0);
        }
        for i in 0..3000 {
            assert_eq!(bucket_bounds(i).1 + 1, bucket_bounds(i + 1).0);
        }
    }

    #[test]
    fn quantiles_within_relative_error() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5).unwrap() as f64;
        assert!((p50 / 50_000_000.0 - 1.0).abs() < 1.0 / 64.0, "p50 {p50}");
        let p99 = h.quantile(0.99).unwrap() as f64;
        assert!((p99 / 99_000_000.0 - 1.0).abs() < 1.0 / 64.0, "p99 {p99}");
        assert_eq!(h.mean(), 50_000_500.0);
        assert_eq!(h.quantile(1.0), Some(100_000_000));
    }
}
