//! One compression measurement: a data set encoded as a migration stream would send it
//! (zero pages, duplicates, then a codec, page by page), reported as bytes saved and as
//! virtual CPU time from the calibration. This is what an experiment's `[compress]` table
//! runs; the numbers are the seed report's table 1.2.
//!
//! Generated guest memory knows each page's class. Other data sets (text, the seed
//! benchmark's buffers, a user's file) are cut into 4 KiB pages whose class is guessed from
//! their bytes ([`guess_class`]), only to pick the calibration row that prices their CPU
//! time; the compressed sizes are real either way.

use super::calibration::Calibration;
use super::codec::{Codec, Dictionary, MAX_DICTIONARY_BYTES};
use super::corpus::DataSet;
use super::pages::{MemoryImage, MemoryProfile, PageClass, PAGE_SIZE};
use super::pageset::{PageSetEncoder, PageSetOptions, PageSetStats, PageVec};
use super::sampling::{estimate_sampled, ImageEstimate, SampleSpec};
use super::CompressError;

/// What to measure.
#[derive(Clone, Debug)]
pub struct CompressionStudy {
    /// The data compressed.
    pub data: DataSet,
    /// The codec compressed with.
    pub codec: Codec,
    /// Bytes of data (rounded up to whole pages).
    pub bytes: u64,
    /// Guest memory only: compress `pages_per_class` sampled pages per class and
    /// extrapolate, instead of every page.
    pub sampled: Option<usize>,
    /// Cores compressing in parallel (CPU time divides by it).
    pub cores: u32,
    /// Which page-set steps run (ablations).
    pub options: PageSetOptions,
    /// Guest memory's class shares.
    pub profile: MemoryProfile,
}

/// Pages a `zstd-dict-*` codec's dictionary is trained on (the original trained on at most
/// 1,000 samples, seed-system.md §1.2).
const DICTIONARY_SAMPLE_PAGES: usize = 1000;

/// One result row: `(entity, metric, value, unit)`.
pub type Measure = (String, &'static str, f64, &'static str);

/// A page's class judged from its bytes: all zero; over 7.5 bits of entropy per byte
/// (random or already compressed); over 90% printable ASCII (text); otherwise heap-like.
pub fn guess_class(page: &[u8]) -> PageClass {
    if page.iter().all(|&b| b == 0) {
        return PageClass::Zero;
    }
    let mut counts = [0u32; 256];
    for &b in page {
        counts[b as usize] += 1;
    }
    let n = page.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    if entropy > 7.5 {
        return PageClass::Random;
    }
    let printable = page
        .iter()
        .filter(|&&b| (0x20..0x7f).contains(&b) || b == b'\n')
        .count();
    if printable as f64 > 0.9 * n {
        PageClass::Text
    } else {
        PageClass::Heap
    }
}

/// Per-class bytes in, bytes out and bytes through the codec, and the page counts the
/// zero/duplicate stages removed.
struct Encoded {
    per_class: [(u64, f64, u64); 6],
    zero_pages: u64,
    dedup_pages: u64,
    sampled_pages: u64,
    /// Sent once besides the pages (a zstd dictionary).
    dictionary_bytes: u64,
}

impl Encoded {
    fn from_stats(s: &PageSetStats) -> Self {
        let mut per_class = [(0, 0.0, 0); 6];
        for c in PageClass::ALL {
            let cs = s.class(c);
            per_class[c.index()] = (cs.input_bytes, cs.output_bytes as f64, cs.codec_input_bytes);
        }
        Encoded {
            per_class,
            zero_pages: s.zero_pages,
            dedup_pages: s.dedup_pages,
            sampled_pages: s.pages(),
            dictionary_bytes: s.dictionary_bytes,
        }
    }
    fn from_estimate(e: &ImageEstimate) -> Self {
        let mut per_class = [(0, 0.0, 0); 6];
        for c in PageClass::ALL {
            let ce = &e.per_class[c.index()];
            per_class[c.index()] = (
                ce.pages * PAGE_SIZE as u64,
                ce.output_bytes,
                ce.codec_input_bytes,
            );
        }
        Encoded {
            per_class,
            zero_pages: e.per_class[PageClass::Zero.index()].pages,
            dedup_pages: e.per_class[PageClass::Duplicate.index()].pages,
            sampled_pages: e.per_class.iter().map(|c| c.sampled_pages).sum(),
            dictionary_bytes: e.dictionary_bytes,
        }
    }
}

impl CompressionStudy {
    /// Encodes the data and prices it; `seed` generates the data.
    pub fn run(&self, seed: u64, cal: &Calibration) -> Result<Vec<Measure>, CompressError> {
        cal.require(&[self.codec])
            .map_err(|e| CompressError::Codec {
                codec: self.codec.name(),
                message: e.to_string(),
            })?;
        let pages = self.bytes.div_ceil(PAGE_SIZE as u64);
        let dict_codec = matches!(self.codec, Codec::ZstdDict { .. });
        let enc = match (&self.data, self.sampled) {
            (DataSet::VmMemory, sampled) => {
                let image = MemoryImage::new(self.profile, pages, seed);
                let dict = if dict_codec {
                    Some(Dictionary::train_from_image(
                        &image,
                        DICTIONARY_SAMPLE_PAGES,
                        MAX_DICTIONARY_BYTES,
                    )?)
                } else {
                    None
                };
                if let Some(k) = sampled {
                    let spec = SampleSpec {
                        pages_per_class: k,
                        seed,
                    };
                    let est = estimate_sampled(&image, self.codec, dict.as_ref(), spec)?;
                    return Ok(self.measures(&Encoded::from_estimate(&est), cal));
                }
                let mut e = PageSetEncoder::with_options(self.codec, dict.as_ref(), self.options)?;
                for i in 0..pages {
                    e.push(&image, i)?;
                }
                Encoded::from_stats(e.stats())
            }
            (data, _) => {
                let bytes = data.generate((pages * PAGE_SIZE as u64) as usize, seed)?;
                let mut set = PageVec::default();
                for chunk in bytes.chunks(PAGE_SIZE) {
                    let mut page = Box::new([0u8; PAGE_SIZE]);
                    page[..chunk.len()].copy_from_slice(chunk);
                    set.pages.push((guess_class(&page[..]), page));
                }
                let dict = if dict_codec {
                    let samples: Vec<&[u8]> = bytes
                        .chunks(PAGE_SIZE)
                        .take(DICTIONARY_SAMPLE_PAGES)
                        .collect();
                    Some(Dictionary::train(&samples, MAX_DICTIONARY_BYTES)?)
                } else {
                    None
                };
                let mut e = PageSetEncoder::with_options(self.codec, dict.as_ref(), self.options)?;
                for i in 0..set.pages.len() as u64 {
                    e.push(&set, i)?;
                }
                Encoded::from_stats(e.stats())
            }
        };
        Ok(self.measures(&enc, cal))
    }

    fn measures(&self, enc: &Encoded, cal: &Calibration) -> Vec<Measure> {
        let input: u64 = enc.per_class.iter().map(|c| c.0).sum();
        let output: f64 =
            enc.per_class.iter().map(|c| c.1).sum::<f64>() + enc.dictionary_bytes as f64;
        let (mut cpu_ns, mut de_ns) = (0u64, 0u64);
        for c in PageClass::ALL {
            let through = enc.per_class[c.index()].2;
            if self.codec != Codec::None {
                cpu_ns += cal.cpu_time_ns(self.codec, Some(c), through, self.cores);
                de_ns += cal.decompress_time_ns(self.codec, Some(c), through, self.cores);
            }
        }
        let all = "corpus".to_string();
        let mut m: Vec<Measure> = vec![
            (all.clone(), "input_bytes", input as f64, "bytes"),
            (all.clone(), "output_bytes", output, "bytes"),
            (all.clone(), "ratio", input as f64 / output.max(1.0), "x"),
            (
                all.clone(),
                "space_saved",
                (1.0 - output / input.max(1) as f64) * 100.0,
                "%",
            ),
            (all.clone(), "zero_pages", enc.zero_pages as f64, "pages"),
            (
                all.clone(),
                "duplicate_pages",
                enc.dedup_pages as f64,
                "pages",
            ),
            (
                all.clone(),
                "compressed_sample_pages",
                enc.sampled_pages as f64,
                "pages",
            ),
            (all.clone(), "compress_time", cpu_ns as f64 / 1e9, "s"),
            (all.clone(), "decompress_time", de_ns as f64 / 1e9, "s"),
        ];
        if cpu_ns > 0 {
            // Per MB of input on the given cores: throughput, and the time one MB takes.
            let secs = cpu_ns as f64 / 1e9;
            m.push((
                all.clone(),
                "compress_throughput",
                input as f64 / 1e6 / secs,
                "MB/s",
            ));
            m.push((
                all.clone(),
                "latency_per_mb",
                secs / (input as f64 / 1e6) * 1e6,
                "us",
            ));
        }
        if de_ns > 0 {
            let secs = de_ns as f64 / 1e9;
            m.push((
                all,
                "decompress_throughput",
                input as f64 / 1e6 / secs,
                "MB/s",
            ));
        }
        for c in PageClass::ALL {
            let (i, o, _) = enc.per_class[c.index()];
            if i > 0 {
                let e = format!("class/{}", c.name());
                m.push((e.clone(), "input_bytes", i as f64, "bytes"));
                m.push((e.clone(), "ratio", i as f64 / o.max(1.0), "x"));
                m.push((e, "space_saved", (1.0 - o / i as f64) * 100.0, "%"));
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_classes_from_bytes() {
        assert_eq!(guess_class(&[0u8; 4096]), PageClass::Zero);
        let text: Vec<u8> = b"the quick brown fox jumps over the lazy dog. "
            .iter()
            .cycle()
            .take(4096)
            .copied()
            .collect();
        assert_eq!(guess_class(&text), PageClass::Text);
        let mut rng = crate::engine::RngStreams::new(1).stream("t");
        let mut random = [0u8; 4096];
        rand::RngCore::fill_bytes(&mut rng, &mut random);
        assert_eq!(guess_class(&random), PageClass::Random);
        let words: Vec<u8> = (0u32..1024).flat_map(|i| (i % 7).to_le_bytes()).collect();
        assert_eq!(guess_class(&words), PageClass::Heap);
    }
}
