//! Choosing a codec: an adaptive selector that minimises predicted transfer time, and the
//! seed system's rule-based policy, kept as the baseline.
//!
//! **Adaptive** ([`AdaptiveSelector`]): for a chunk, each candidate codec's time is
//! predicted as compression CPU time + wire time of its output + decompression CPU time
//! (serial), or the largest of the three (`pipelined`: the stages overlap over many
//! chunks). CPU time comes from the [`Calibration`] for the given cores; the compressed
//! size comes from *really* compressing the chunk, or evenly spaced blocks of it when it
//! is larger than `sample_bytes`, in blocks of `block_bytes` (one page by default, as
//! [`crate::compress::pageset`] sends them). `none` is always a candidate and wins ties,
//! so the choice is never predicted slower than sending the bytes as they are;
//! incompressible data is therefore sent raw (its output is no smaller, and costs CPU).
//! What it leaves out: the sample's estimation error (bounded by sampling, see tests),
//! and contention with other CPU work.
//!
//! **Seed policy** ([`SeedPolicy`]): `ml_compression_selector.go` of the seed system
//! (seed-system.md §1.2), rules that look at the first 256 bytes only.

use super::calibration::Calibration;
use super::codec::{Codec, Dictionary, Encoder};
use super::pages::{PageClass, PAGE_SIZE};
use super::CompressError;
use std::fmt;
use std::str::FromStr;

/// What the adaptive selector considers.
#[derive(Clone, Debug)]
pub struct SelectorConfig {
    /// Codecs to try besides `none` (which is always considered).
    pub candidates: Vec<Codec>,
    /// Cores compressing (and decompressing) in parallel.
    pub cores: u32,
    /// At most this many bytes are trial-compressed per chunk.
    pub sample_bytes: usize,
    /// Independent compression block size, bytes.
    pub block_bytes: usize,
    /// Whether compression, transfer and decompression overlap (max) or add up (sum).
    pub pipelined: bool,
}

impl Default for SelectorConfig {
    /// All standard codecs but zstd-19 (tens of MB/s: never the fastest path on links
    /// faster than that) and the dictionary codec (which needs a dictionary), one core,
    /// 64 KiB samples of 4 KiB blocks, serial.
    fn default() -> Self {
        SelectorConfig {
            candidates: vec![
                Codec::Snappy,
                Codec::Lz4,
                Codec::Zstd { level: 1 },
                Codec::Zstd { level: 3 },
            ],
            cores: 1,
            sample_bytes: 64 * 1024,
            block_bytes: PAGE_SIZE,
            pipelined: false,
        }
    }
}

/// The predicted cost of sending a chunk with one codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prediction {
    /// The codec predicted for.
    pub codec: Codec,
    /// Predicted codec output for the whole chunk, bytes.
    pub compressed_bytes: u64,
    /// Compression CPU time, ns (virtual, from the calibration).
    pub compress_ns: u64,
    /// Decompression CPU time, ns.
    pub decompress_ns: u64,
    /// Transfer time of `compressed_bytes` at the given bandwidth, ns.
    pub wire_ns: u64,
    /// Predicted total: sum of the three, or their maximum when pipelined, ns.
    pub total_ns: u64,
}

/// The adaptive selector, holding a reusable context per candidate.
#[derive(Debug)]
pub struct AdaptiveSelector {
    config: SelectorConfig,
    encoders: Vec<Encoder>,
    scratch: Vec<u8>,
}

impl AdaptiveSelector {
    /// A selector over `config.candidates`; `dict` is needed if one is `zstd-dict-*`.
    pub fn new(config: SelectorConfig, dict: Option<&Dictionary>) -> Result<Self, CompressError> {
        assert!(
            config.cores >= 1 && config.block_bytes >= 1,
            "selector config {config:?}"
        );
        let encoders = config
            .candidates
            .iter()
            .filter(|c| **c != Codec::None)
            .map(|&c| Encoder::new(c, dict))
            .collect::<Result<_, _>>()?;
        Ok(AdaptiveSelector {
            config,
            encoders,
            scratch: Vec::with_capacity(2 * PAGE_SIZE),
        })
    }

    /// The selector's configuration.
    pub fn config(&self) -> &SelectorConfig {
        &self.config
    }

    fn total(&self, c: u64, w: u64, d: u64) -> u64 {
        if self.config.pipelined {
            c.max(w).max(d)
        } else {
            c + w + d
        }
    }

    /// Predictions for `none` (first) and every candidate, for a chunk of `class` (None:
    /// unknown kind) over a link of `bandwidth_bps` bits per second.
    pub fn predict_all(
        &mut self,
        chunk: &[u8],
        class: Option<PageClass>,
        bandwidth_bps: u64,
        calibration: &Calibration,
    ) -> Result<Vec<Prediction>, CompressError> {
        assert!(bandwidth_bps > 0, "selector needs a positive bandwidth");
        let wire = |bytes: u64| -> u64 {
            (bytes as u128 * 8 * 1_000_000_000 / bandwidth_bps as u128) as u64
        };
        let len = chunk.len() as u64;
        let none_wire = wire(len);
        let mut out = vec![Prediction {
            codec: Codec::None,
            compressed_bytes: len,
            compress_ns: 0,
            decompress_ns: 0,
            wire_ns: none_wire,
            total_ns: none_wire,
        }];
        let blocks: Vec<&[u8]> = chunk.chunks(self.config.block_bytes).collect();
        let want = (self.config.sample_bytes / self.config.block_bytes).max(1);
        // Evenly spaced blocks: index k * n / want for k < want (all when n ≤ want).
        let sample: Vec<&[u8]> = if blocks.len() <= want {
            blocks
        } else {
            (0..want).map(|k| blocks[k * blocks.len() / want]).collect()
        };
        let sample_in: u64 = sample.iter().map(|b| b.len() as u64).sum();
        for k in 0..self.encoders.len() {
            let codec = self.encoders[k].codec();
            let mut sample_out = 0u64;
            for b in &sample {
                sample_out += self.encoders[k].compress(b, &mut self.scratch)? as u64;
            }
            let compressed = if sample_in == 0 {
                0
            } else {
                (sample_out as u128 * len as u128).div_ceil(sample_in as u128) as u64
            };
            let c = calibration.cpu_time_ns(codec, class, len, self.config.cores);
            let d = calibration.decompress_time_ns(codec, class, len, self.config.cores);
            let w = wire(compressed);
            out.push(Prediction {
                codec,
                compressed_bytes: compressed,
                compress_ns: c,
                decompress_ns: d,
                wire_ns: w,
                total_ns: self.total(c, w, d),
            });
        }
        Ok(out)
    }

    /// The prediction with the least total time; `none` wins ties, then earlier
    /// candidates.
    pub fn choose(
        &mut self,
        chunk: &[u8],
        class: Option<PageClass>,
        bandwidth_bps: u64,
        calibration: &Calibration,
    ) -> Result<Prediction, CompressError> {
        let all = self.predict_all(chunk, class, bandwidth_bps, calibration)?;
        let mut best = all[0];
        for p in &all[1..] {
            if p.total_ns < best.total_ns {
                best = *p;
            }
        }
        Ok(best)
    }
}

/// The seed system's network modes (seed-system.md §1.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NetworkMode {
    /// Datacenter mode.
    Datacenter,
    /// Internet mode.
    Internet,
    /// Hybrid mode.
    Hybrid,
}

impl NetworkMode {
    /// Every mode.
    pub const ALL: [NetworkMode; 3] = [
        NetworkMode::Datacenter,
        NetworkMode::Internet,
        NetworkMode::Hybrid,
    ];
    /// Lower-case name, as written in configs and reports.
    pub fn name(self) -> &'static str {
        match self {
            NetworkMode::Datacenter => "datacenter",
            NetworkMode::Internet => "internet",
            NetworkMode::Hybrid => "hybrid",
        }
    }
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for NetworkMode {
    type Err = CompressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NetworkMode::ALL
            .into_iter()
            .find(|m| m.name() == s.trim())
            .ok_or_else(|| CompressError::UnknownName {
                kind: "network mode",
                given: s.to_string(),
                allowed: NetworkMode::ALL.map(|m| m.name()).join(", "),
            })
    }
}

/// What the seed policy learns from a buffer's first bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DataAnalysis {
    /// Shannon entropy of the byte histogram divided by 8 (0 = constant, 1 = uniform).
    pub entropy: f64,
    /// entropy < 0.85.
    pub compressible: bool,
    /// More than 30% of adjacent byte pairs equal.
    pub repetitive: bool,
    /// More than 70% printable (ASCII 0x20–0x7E, tab, LF, CR).
    pub text_like: bool,
}

/// Bytes the seed policy looks at.
pub const SEED_ANALYSIS_BYTES: usize = 256;

/// The seed system's analysis of `data[..256]` (seed-system.md §1.2).
pub fn analyze(data: &[u8]) -> DataAnalysis {
    let head = &data[..data.len().min(SEED_ANALYSIS_BYTES)];
    if head.is_empty() {
        return DataAnalysis {
            entropy: 0.0,
            compressible: true,
            repetitive: false,
            text_like: false,
        };
    }
    let mut hist = [0u32; 256];
    for &b in head {
        hist[b as usize] += 1;
    }
    let n = head.len() as f64;
    let entropy = hist
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum::<f64>()
        / 8.0;
    let equal = head.windows(2).filter(|w| w[0] == w[1]).count();
    let pairs = head.len().saturating_sub(1).max(1);
    let printable = head
        .iter()
        .filter(|&&b| (0x20..=0x7e).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r'))
        .count();
    DataAnalysis {
        entropy,
        compressible: entropy < 0.85,
        repetitive: equal as f64 / pairs as f64 > 0.30,
        text_like: printable as f64 / n > 0.70,
    }
}

/// The seed system's rule-based codec choice (seed-system.md §1.2):
/// - size < 1 KB, or not compressible, or entropy > 0.9 → `none`;
/// - datacenter: `lz4` below 100 KB, else `zstd-3`;
/// - internet: `zstd-19` ("ZstdMax") if repetitive, text-like or larger than 1 MB, else
///   `zstd-3`;
/// - hybrid: `zstd-3`. The original scores algorithms by EMA(ratio) × EMA(MB/s)/100 with
///   bonuses, but only algorithms already used are scored and the default is Zstd; a
///   stateless policy never has history, so it always gets the default. This is the
///   documented simplification.
///
/// KB and MB are read as 1024 and 1024² bytes (Go code of this kind writes `1024`,
/// `100*1024`, `1024*1024`; **assumption**, the exact constants were not quoted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedPolicy {
    /// The network mode the rules are applied for.
    pub mode: NetworkMode,
}

impl SeedPolicy {
    /// The policy for `mode`.
    pub fn new(mode: NetworkMode) -> Self {
        SeedPolicy { mode }
    }

    /// The codec the rules above pick for `data`.
    pub fn choose(&self, data: &[u8]) -> Codec {
        let a = analyze(data);
        let n = data.len();
        if n < 1024 || !a.compressible || a.entropy > 0.9 {
            return Codec::None;
        }
        match self.mode {
            NetworkMode::Datacenter if n < 100 * 1024 => Codec::Lz4,
            NetworkMode::Datacenter => Codec::Zstd { level: 3 },
            NetworkMode::Internet if a.repetitive || a.text_like || n > 1024 * 1024 => {
                Codec::Zstd { level: 19 }
            }
            NetworkMode::Internet | NetworkMode::Hybrid => Codec::Zstd { level: 3 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_of_known_buffers() {
        // 256 equal bytes: entropy 0, every pair equal, printable.
        let a = analyze(&[b'a'; 300]);
        assert_eq!(a.entropy, 0.0);
        assert!(a.compressible && a.repetitive && a.text_like);
        // All 256 byte values once: entropy exactly log2(256)/8 = 1, no equal pairs.
        let all: Vec<u8> = (0..=255).collect();
        let a = analyze(&all);
        assert!((a.entropy - 1.0).abs() < 1e-12 && !a.compressible && !a.repetitive);
        // Printable share: 0x20..=0x7e plus tab/LF/CR = 98 of 256 = 0.38 ≤ 0.7.
        assert!(!a.text_like);
    }

    #[test]
    fn seed_rules() {
        let text = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(40);
        assert!(text.len() > 1024 && text.len() < 100 * 1024);
        let dc = SeedPolicy::new(NetworkMode::Datacenter);
        let inet = SeedPolicy::new(NetworkMode::Internet);
        let hyb = SeedPolicy::new(NetworkMode::Hybrid);
        assert_eq!(dc.choose(&text), Codec::Lz4, "datacenter, < 100 KB");
        assert_eq!(
            dc.choose(&text.repeat(50)),
            Codec::Zstd { level: 3 },
            "datacenter, ≥ 100 KB"
        );
        assert_eq!(
            inet.choose(&text),
            Codec::Zstd { level: 19 },
            "internet, text-like"
        );
        assert_eq!(
            hyb.choose(&text),
            Codec::Zstd { level: 3 },
            "hybrid default"
        );
        assert_eq!(dc.choose(&text[..1000]), Codec::None, "below 1 KB");
        let all: Vec<u8> = (0..=255).cycle().take(4096).collect();
        assert_eq!(inet.choose(&all), Codec::None, "high entropy");
        assert_eq!(
            "internet".parse::<NetworkMode>().unwrap(),
            NetworkMode::Internet
        );
        assert!("wan"
            .parse::<NetworkMode>()
            .unwrap_err()
            .to_string()
            .contains("datacenter, internet, hybrid"));
    }
}
