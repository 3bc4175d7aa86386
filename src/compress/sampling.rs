//! Encoded size of a whole memory image: full (every page) or sampled.
//!
//! What it models: what [`crate::compress::pageset`] would send for a complete image in
//! page order (first round of pre-copy), without necessarily compressing every page.
//! **Sampled** mode counts every page's class (one hash per page, no content), then
//! really compresses a deterministic sample of each content class (code, heap, text,
//! random) and extrapolates that class's wire bytes by its page count. Zero and duplicate
//! pages are not sampled: with this generator their cost is exact, since every zero page
//! is found zero (header only) and every duplicate copies an *earlier* content page, which
//! in page order has been sent already, so it always becomes a reference. **Full** mode
//! encodes every page through a [`PageSetEncoder`], checking both claims.
//!
//! The sample per class is the `pages_per_class` pages with the smallest stable hash of
//! `(sample seed, page index)` (bottom-k sampling): a uniform sample without replacement,
//! the same whatever order pages are visited in. Sampling error is then that of a mean of
//! k page sizes: with per-page output sd σ and mean μ, the relative error of a class is
//! ≈ σ / (μ √k). For k = 1024 and σ/μ ≲ 0.2 (measured pages of one class differ little)
//! that is ≲ 0.6%, and smaller still for the total, which mixes classes.

use super::calibration::Calibration;
use super::codec::{Codec, Dictionary};
use super::pages::{MemoryImage, PageClass, PAGE_SIZE};
use super::pageset::{
    PageSetEncoder, PageSetOptions, PageSetStats, DEDUP_PAGE_BYTES, ZERO_PAGE_BYTES,
};
use super::CompressError;
use crate::engine::rng::stable_hash;
use serde::Serialize;
use std::collections::BinaryHeap;

/// How many pages a sampled estimate compresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleSpec {
    /// Pages compressed per content class (all of them if the class has fewer).
    pub pages_per_class: usize,
    /// Seed of the sample choice (independent of the image seed).
    pub seed: u64,
}

impl Default for SampleSpec {
    /// 1024 pages (4 MiB) per class: ≤ 16 MiB compressed whatever the image size.
    fn default() -> Self {
        SampleSpec {
            pages_per_class: 1024,
            seed: 0,
        }
    }
}

/// Full or sampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum EstimateMode {
    /// Every page is compressed.
    Full,
    /// A sample of pages per class is compressed and extrapolated.
    Sampled,
}

/// Estimated encoding of one class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ClassEstimate {
    /// Pages of the class in the image (exact in both modes).
    pub pages: u64,
    /// Pages really compressed to make the estimate.
    pub sampled_pages: u64,
    /// Bytes on the wire (exact in full mode, extrapolated in sampled mode).
    pub output_bytes: f64,
    /// Bytes that go through the codec (what CPU time scales with).
    pub codec_input_bytes: u64,
}

/// The estimated encoding of a whole image with one codec.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImageEstimate {
    /// Full or sampled.
    pub mode: EstimateMode,
    /// The codec estimated.
    pub codec: Codec,
    /// Indexed by [`PageClass::index`].
    pub per_class: [ClassEstimate; 6],
    /// One-time dictionary cost, bytes.
    pub dictionary_bytes: u64,
}

impl ImageEstimate {
    /// Bytes of the image before encoding.
    pub fn input_bytes(&self) -> u64 {
        self.per_class.iter().map(|c| c.pages).sum::<u64>() * PAGE_SIZE as u64
    }
    /// Bytes on the wire, dictionary included.
    pub fn output_bytes(&self) -> f64 {
        self.per_class.iter().map(|c| c.output_bytes).sum::<f64>() + self.dictionary_bytes as f64
    }
    /// Input / output.
    pub fn ratio(&self) -> f64 {
        self.input_bytes() as f64 / self.output_bytes().max(1.0)
    }
    /// Virtual compression time on `cores` cores, ns, summed over classes.
    pub fn cpu_time_ns(&self, cal: &Calibration, cores: u32) -> u64 {
        PageClass::ALL
            .iter()
            .map(|&c| {
                cal.cpu_time_ns(
                    self.codec,
                    Some(c),
                    self.per_class[c.index()].codec_input_bytes,
                    cores,
                )
            })
            .sum()
    }
    /// Virtual decompression time on `cores` cores, ns.
    pub fn decompress_time_ns(&self, cal: &Calibration, cores: u32) -> u64 {
        PageClass::ALL
            .iter()
            .map(|&c| {
                cal.decompress_time_ns(
                    self.codec,
                    Some(c),
                    self.per_class[c.index()].codec_input_bytes,
                    cores,
                )
            })
            .sum()
    }

    fn from_stats(codec: Codec, s: &PageSetStats) -> Self {
        let mut per_class = [ClassEstimate::default(); 6];
        for c in PageClass::ALL {
            let cs = s.class(c);
            per_class[c.index()] = ClassEstimate {
                pages: cs.pages,
                sampled_pages: cs.pages,
                output_bytes: cs.output_bytes as f64,
                codec_input_bytes: cs.codec_input_bytes,
            };
        }
        ImageEstimate {
            mode: EstimateMode::Full,
            codec,
            per_class,
            dictionary_bytes: s.dictionary_bytes,
        }
    }
}

/// Encodes every page of `image` in order.
pub fn estimate_full(
    image: &MemoryImage,
    codec: Codec,
    dict: Option<&Dictionary>,
) -> Result<ImageEstimate, CompressError> {
    let mut enc = PageSetEncoder::new(codec, dict)?;
    for i in 0..image.page_count() {
        enc.push(image, i)?;
    }
    Ok(ImageEstimate::from_stats(codec, enc.stats()))
}

/// The sample: per content class, the `k` page indices with the smallest stable hash,
/// in ascending index order; also the exact page count of every class.
pub fn choose_sample(image: &MemoryImage, spec: SampleSpec) -> ([u64; 6], [Vec<u64>; 6]) {
    let key = stable_hash(spec.seed, b"compress/sampling/pages");
    let mut counts = [0u64; 6];
    let mut heaps: [BinaryHeap<(u64, u64)>; 6] = Default::default();
    for i in 0..image.page_count() {
        let class = image.class(i);
        counts[class.index()] += 1;
        if !PageClass::CONTENT.contains(&class) || spec.pages_per_class == 0 {
            continue;
        }
        let h = stable_hash(key, &i.to_le_bytes());
        let heap = &mut heaps[class.index()];
        if heap.len() < spec.pages_per_class {
            heap.push((h, i));
        } else if h < heap.peek().expect("non-empty").0 {
            heap.pop();
            heap.push((h, i));
        }
    }
    let samples = heaps.map(|h| {
        let mut v: Vec<u64> = h.into_iter().map(|(_, i)| i).collect();
        v.sort_unstable();
        v
    });
    (counts, samples)
}

/// Estimates the encoding of `image` from a sample of its content pages.
pub fn estimate_sampled(
    image: &MemoryImage,
    codec: Codec,
    dict: Option<&Dictionary>,
    spec: SampleSpec,
) -> Result<ImageEstimate, CompressError> {
    let (counts, samples) = choose_sample(image, spec);
    // Dedup off: sampled pages are distinct content pages; zero check on (it finds none).
    let mut enc = PageSetEncoder::with_options(
        codec,
        dict,
        PageSetOptions {
            zero_pages: true,
            dedup: false,
        },
    )?;
    let mut per_class = [ClassEstimate::default(); 6];
    let through_codec = |n: u64| {
        if codec == Codec::None {
            0
        } else {
            n * PAGE_SIZE as u64
        }
    };
    for class in PageClass::ALL {
        let n = counts[class.index()];
        let est = &mut per_class[class.index()];
        est.pages = n;
        match class {
            PageClass::Zero => est.output_bytes = (n * ZERO_PAGE_BYTES) as f64,
            PageClass::Duplicate => est.output_bytes = (n * DEDUP_PAGE_BYTES) as f64,
            _ => {
                let sample = &samples[class.index()];
                let mut wire = 0u64;
                for &i in sample {
                    wire += enc.push(image, i)?.wire_bytes();
                }
                est.sampled_pages = sample.len() as u64;
                est.output_bytes = if sample.is_empty() {
                    0.0
                } else {
                    wire as f64 * n as f64 / sample.len() as f64
                };
                est.codec_input_bytes = through_codec(n);
            }
        }
    }
    Ok(ImageEstimate {
        mode: EstimateMode::Sampled,
        codec,
        per_class,
        dictionary_bytes: if codec.needs_dictionary() {
            dict.map_or(0, |d| d.len() as u64)
        } else {
            0
        },
    })
}

/// Full and sampled estimates of the same image, and the sampling error.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SamplingComparison {
    /// The estimate from every page.
    pub full: ImageEstimate,
    /// The estimate from the sample.
    pub sampled: ImageEstimate,
}

impl SamplingComparison {
    /// (sampled ratio − full ratio) / full ratio.
    pub fn ratio_error(&self) -> f64 {
        (self.sampled.ratio() - self.full.ratio()) / self.full.ratio()
    }
}

/// Runs both modes on `image`.
pub fn compare(
    image: &MemoryImage,
    codec: Codec,
    dict: Option<&Dictionary>,
    spec: SampleSpec,
) -> Result<SamplingComparison, CompressError> {
    Ok(SamplingComparison {
        full: estimate_full(image, codec, dict)?,
        sampled: estimate_sampled(image, codec, dict, spec)?,
    })
}
