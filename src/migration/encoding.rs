//! What a page costs on the wire and on the sender's CPU, by the pipeline a profile runs:
//! zero-page detection always; then optionally deduplication, XBZRLE deltas for re-sent
//! pages, and a compression codec.
//!
//! The costs are measured, not assumed: the codec runs for real on a sample of the VM's
//! own generated memory (`compress::sampling`, 256 pages per class; its estimate's error
//! against a full encode is what `compress::sampling::compare` reports), the CPU time comes
//! from the calibration file, and XBZRLE deltas are real encodings of generated pages
//! before and after the writes the dirtying process makes (16 sample pages per class and
//! write count, memoised). A page the guest has written since it was generated is priced
//! as a heap page (a written zero page now holds data; a written duplicate no longer
//! matches its twin): an assumption.

use super::memory::GuestMemory;
use crate::compress::calibration::Calibration;
use crate::compress::codec::Codec;
use crate::compress::pages::{self, MemoryImage, MemoryProfile, Page, PageClass, PAGE_SIZE};
use crate::compress::pageset::{
    DEDUP_PAGE_BYTES, PAGE_HEADER_BYTES, RAW_PAGE_BYTES, ZERO_PAGE_BYTES,
};
use crate::compress::sampling::{estimate_sampled, SampleSpec};
use crate::compress::xbzrle::{encoded_len, XBZRLE_HEADER_BYTES};
use crate::engine::RngStreams;

/// What a page went as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// A zero page: header and fill byte.
    Zero,
    /// Whole, uncompressed.
    Full,
    /// A reference to an identical page sent before.
    Dedup,
    /// Compressed by the codec.
    Compressed,
    /// An XBZRLE delta against the cached previous version.
    Delta,
}

/// One page's cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PageCost {
    /// How it went.
    pub kind: PageKind,
    /// Bytes on the wire, headers included (a mean over the class's sample, so fractional).
    pub wire: f64,
    /// Sender CPU time, ns on one core.
    pub cpu_ns: f64,
}

/// Which steps a profile's pipeline runs.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodingOptions {
    /// Compression codec for pages not sent another way (`None`: raw).
    pub codec: Option<Codec>,
    /// Send a duplicate page as a reference (the HDE design; QEMU has none).
    pub dedup: bool,
    /// XBZRLE cache size in bytes (`None`: no XBZRLE). The cache covers re-sent pages,
    /// from the second pass on, as QEMU's does.
    pub xbzrle_cache: Option<u64>,
    /// Threads compressing in parallel (QEMU: one per multifd channel).
    pub cores: u32,
}

impl EncodingOptions {
    /// QEMU's default stream: zero pages detected, everything else raw.
    pub fn raw() -> Self {
        EncodingOptions {
            codec: None,
            dedup: false,
            xbzrle_cache: None,
            cores: 1,
        }
    }

    /// Whether any step costs CPU time worth modelling.
    pub fn costs_cpu(&self) -> bool {
        self.codec.is_some() || self.xbzrle_cache.is_some()
    }
}

/// Sample pages per class for the codec estimate.
const CODEC_SAMPLE_PAGES: usize = 256;
/// Sample pages per (class, writes) for the XBZRLE delta sizes.
const DELTA_SAMPLE_PAGES: u64 = 16;
/// Writes between two sends beyond which a delta is priced as this many (a page written
/// 8 times with the presets' 64–4096 bytes per write is mostly rewritten or past QEMU's
/// one-page limit anyway).
const MAX_DELTA_WRITES: usize = 8;

/// XBZRLE's cache: direct-mapped, one slot per cached page (QEMU's `page_cache.c` hashes
/// the page address into a slot and replaces what was there).
#[derive(Clone, Debug)]
struct XbzrleCache {
    /// `(page + 1, version)` per slot; 0 = empty.
    slots: Vec<(u64, u32)>,
    started: bool,
}

/// Prices pages for one VM by one pipeline.
#[derive(Clone, Debug)]
pub struct PageEncoder {
    opts: EncodingOptions,
    /// Wire bytes and CPU ns per page of each class, in its generated content.
    class_cost: [(f64, f64); 6],
    /// The same for a page the guest has written (priced as heap).
    written_cost: (f64, f64),
    cache: Option<XbzrleCache>,
    /// Mean delta bytes (header included) by class and writes since the cached version
    /// (`None`: not measured yet; `Some(None)`: XBZRLE gives up, the page goes whole).
    deltas: [[Option<Option<f64>>; MAX_DELTA_WRITES + 1]; 6],
    /// CPU ns to XBZRLE-encode one page. The calibration file has no XBZRLE entry, so
    /// this is 0: a XOR and a run scan, far cheaper than any codec (an omission, stated).
    delta_cpu_ns: f64,
    image: MemoryImage,
    bytes_per_write: usize,
    seed: u64,
}

impl PageEncoder {
    /// Measures the pipeline's costs on `mem`'s own image; `bytes_per_write` is what a
    /// guest write changes (for XBZRLE); `cal` prices the codec (needed only with one).
    pub fn new(
        opts: EncodingOptions,
        mem: &GuestMemory,
        bytes_per_write: u32,
        cal: Option<&Calibration>,
        seed: u64,
    ) -> Result<PageEncoder, String> {
        let image = mem.image().clone();
        let mut class_cost = [(RAW_PAGE_BYTES as f64, 0.0); 6];
        class_cost[PageClass::Zero.index()] = (ZERO_PAGE_BYTES as f64, 0.0);
        let mut written_cost = (RAW_PAGE_BYTES as f64, 0.0);
        if let Some(codec) = opts.codec {
            let cal = cal.ok_or("a codec needs a calibration file for its CPU cost")?;
            cal.require(&[codec]).map_err(|e| e.to_string())?;
            let spec = SampleSpec {
                pages_per_class: CODEC_SAMPLE_PAGES,
                seed,
            };
            let est = estimate_sampled(&image, codec, None, spec).map_err(|e| e.to_string())?;
            for c in PageClass::CONTENT {
                let e = est.per_class[c.index()];
                if e.pages > 0 {
                    let cpu = cal.cpu_time_ns(codec, Some(c), e.codec_input_bytes, 1) as f64;
                    class_cost[c.index()] = (e.output_bytes / e.pages as f64, cpu / e.pages as f64);
                }
            }
            // Written pages: heap content, measured on a heap-only image of the same seed.
            let heap = MemoryImage::new(MemoryProfile::only(PageClass::Heap), 4096, seed);
            let est = estimate_sampled(&heap, codec, None, spec).map_err(|e| e.to_string())?;
            let e = est.per_class[PageClass::Heap.index()];
            let cpu = cal.cpu_time_ns(codec, Some(PageClass::Heap), e.codec_input_bytes, 1) as f64;
            written_cost = (
                e.output_bytes / e.pages.max(1) as f64,
                cpu / e.pages.max(1) as f64,
            );
            // Duplicates are priced as what they copy unless deduplicated.
            class_cost[PageClass::Duplicate.index()] = written_cost;
        }
        if opts.dedup {
            class_cost[PageClass::Duplicate.index()] = (DEDUP_PAGE_BYTES as f64, 0.0);
        }
        let cache = opts.xbzrle_cache.map(|bytes| XbzrleCache {
            slots: vec![(0, 0); (bytes / PAGE_SIZE as u64).clamp(1, mem.pages()) as usize],
            started: false,
        });
        let delta_cpu_ns = 0.0;
        Ok(PageEncoder {
            opts,
            class_cost,
            written_cost,
            cache,
            deltas: [[None; MAX_DELTA_WRITES + 1]; 6],
            delta_cpu_ns,
            image,
            bytes_per_write: bytes_per_write as usize,
            seed,
        })
    }

    /// The pipeline's options.
    pub fn options(&self) -> &EncodingOptions {
        &self.opts
    }

    /// The first full pass is over: from now on re-sent pages may go as deltas (QEMU
    /// enables XBZRLE after the first round).
    pub fn start_deltas(&mut self) {
        if let Some(c) = &mut self.cache {
            c.started = true;
        }
    }

    /// Prices page `page` of `mem` as it is now, updating the XBZRLE cache.
    pub fn encode(&mut self, mem: &GuestMemory, page: u64) -> PageCost {
        if mem.is_zero(page) {
            return PageCost {
                kind: PageKind::Zero,
                wire: ZERO_PAGE_BYTES as f64,
                cpu_ns: 0.0,
            };
        }
        let version = mem.version(page);
        let class = mem.class(page);
        let written_class = match class {
            PageClass::Zero | PageClass::Duplicate => PageClass::Heap,
            c => c,
        };
        if let Some(cost) = self.delta(written_class, page, version) {
            return cost;
        }
        let (wire, cpu_ns) = if version == 0 {
            self.class_cost[class.index()]
        } else {
            self.written_cost
        };
        let kind = if class == PageClass::Duplicate && self.opts.dedup && version == 0 {
            PageKind::Dedup
        } else if self.opts.codec.is_some() && wire < RAW_PAGE_BYTES as f64 {
            PageKind::Compressed
        } else {
            PageKind::Full
        };
        PageCost { kind, wire, cpu_ns }
    }

    /// An XBZRLE delta if the page's previous version is cached (and updates the cache).
    fn delta(&mut self, class: PageClass, page: u64, version: u32) -> Option<PageCost> {
        let cache = self.cache.as_mut()?;
        if !cache.started {
            return None;
        }
        let n = cache.slots.len() as u64;
        let slot = &mut cache.slots[(page % n) as usize];
        let cached = (slot.0 == page + 1).then_some(slot.1);
        *slot = (page + 1, version);
        let old = cached?;
        let writes = (version.wrapping_sub(old) as usize).clamp(1, MAX_DELTA_WRITES);
        let mean = self.delta_bytes(class, writes)?;
        Some(PageCost {
            kind: PageKind::Delta,
            wire: mean,
            cpu_ns: self.delta_cpu_ns,
        })
    }

    /// Mean XBZRLE wire bytes (page header, XBZRLE header, encoding) for a page of `class`
    /// after `writes` writes, measured on generated pages; `None` when the encoder gives up
    /// on most of them (sent whole). A class the image lacks gives `None` too.
    fn delta_bytes(&mut self, class: PageClass, writes: usize) -> Option<f64> {
        if let Some(known) = self.deltas[class.index()][writes] {
            return known;
        }
        let streams = RngStreams::new(self.seed);
        let mut rng = streams.stream(&format!("migration/xbzrle/{}/{writes}", class.name()));
        let (mut total, mut sent_whole) = (0.0, 0u64);
        let mut scratch = Vec::with_capacity(PAGE_SIZE);
        let mut old: Page = [0; PAGE_SIZE];
        let candidates: Vec<u64> = (0..self.image.page_count())
            .filter(|&i| self.image.class(i) == class)
            .take(DELTA_SAMPLE_PAGES as usize)
            .collect();
        for &i in &candidates {
            self.image.page(i, &mut old);
            let mut new = old;
            for _ in 0..writes {
                pages::dirty(&mut new, &mut rng, self.bytes_per_write);
            }
            match encoded_len(&old, &new, &mut scratch) {
                Some(len) => {
                    total += (PAGE_HEADER_BYTES + XBZRLE_HEADER_BYTES as u64) as f64 + len as f64
                }
                None => {
                    sent_whole += 1;
                    total += RAW_PAGE_BYTES as f64;
                }
            }
        }
        let n = candidates.len() as u64;
        let result = if n == 0 || sent_whole * 2 > n {
            None
        } else {
            Some(total / n as f64)
        };
        self.deltas[class.index()][writes] = Some(result);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::pages::MemoryProfile;

    fn calibration() -> Calibration {
        Calibration::from_toml_str(
            include_str!("../../calibration/default.toml"),
            "calibration/default.toml",
        )
        .expect("the shipped calibration parses")
    }

    fn page_of(mem: &GuestMemory, class: PageClass) -> u64 {
        (0..mem.pages())
            .find(|&p| mem.class(p) == class)
            .expect("the default profile has every class")
    }

    /// QEMU's stream: a zero page is 8 + 1 bytes, any other page 8 + 4096, no CPU.
    #[test]
    fn the_raw_pipeline_prices_pages_as_qemu_sends_them() {
        let mem = GuestMemory::new(4096, MemoryProfile::default(), 1);
        let mut enc = PageEncoder::new(EncodingOptions::raw(), &mem, 64, None, 1).unwrap();
        let zero = enc.encode(&mem, page_of(&mem, PageClass::Zero));
        assert_eq!(
            (zero.kind, zero.wire, zero.cpu_ns),
            (PageKind::Zero, 9.0, 0.0)
        );
        for class in PageClass::CONTENT {
            let c = enc.encode(&mem, page_of(&mem, class));
            assert_eq!((c.kind, c.wire, c.cpu_ns), (PageKind::Full, 4104.0, 0.0));
        }
    }

    /// zstd-3 on generated pages: text, code and heap shrink, random pages do not (they go
    /// raw, at most a few bytes above 4104); each costs CPU; a deduplicated page is a
    /// 16-byte reference; a written page is priced as heap.
    #[test]
    fn a_codec_prices_pages_by_what_it_measured_on_them() {
        let mut mem = GuestMemory::new(16_384, MemoryProfile::default(), 2);
        let opts = EncodingOptions {
            codec: Some(Codec::Zstd { level: 3 }),
            dedup: true,
            xbzrle_cache: None,
            cores: 1,
        };
        let cal = calibration();
        let mut enc = PageEncoder::new(opts, &mem, 64, Some(&cal), 2).unwrap();
        for class in [PageClass::Text, PageClass::Code, PageClass::Heap] {
            let c = enc.encode(&mem, page_of(&mem, class));
            assert_eq!(c.kind, PageKind::Compressed, "{class:?}");
            assert!(c.wire < 0.8 * 4104.0, "{class:?}: {} bytes", c.wire);
            assert!(c.cpu_ns > 0.0);
        }
        let random = enc.encode(&mem, page_of(&mem, PageClass::Random));
        assert!((random.wire / 4104.0 - 1.0).abs() < 0.01, "{}", random.wire);
        let dup = page_of(&mem, PageClass::Duplicate);
        let d = enc.encode(&mem, dup);
        assert_eq!((d.kind, d.wire), (PageKind::Dedup, 16.0));
        mem.write(dup);
        let heap = enc.encode(&mem, page_of(&mem, PageClass::Heap));
        // Written pages are priced on a heap-only image of their own: within 5% of the
        // VM's heap pages (two samples of 256 pages of one generator).
        let written = enc.encode(&mem, dup).wire;
        assert!(
            (written / heap.wire - 1.0).abs() < 0.05,
            "{written} vs heap {}",
            heap.wire
        );
    }

    /// XBZRLE: nothing before the first round; then a page enters the cache on its first
    /// re-send (sent whole) and goes as a delta on the next, far smaller than the page for
    /// 64-byte writes (one write changes 64 bytes, so the delta holds them plus run
    /// lengths: well under 1 KiB); a cache of one page keeps only the last page sent.
    #[test]
    fn xbzrle_sends_real_deltas_for_cached_pages() {
        let mut mem = GuestMemory::new(4096, MemoryProfile::default(), 3);
        let opts = EncodingOptions {
            xbzrle_cache: Some(4096),
            ..EncodingOptions::raw()
        };
        let mut enc = PageEncoder::new(opts, &mem, 64, None, 3).unwrap();
        let (a, b) = {
            let mut heap = (0..mem.pages()).filter(|&p| mem.class(p) == PageClass::Heap);
            (heap.next().unwrap(), heap.next().unwrap())
        };
        assert_eq!(
            enc.encode(&mem, a).kind,
            PageKind::Full,
            "before the first round"
        );
        enc.start_deltas();
        assert_eq!(enc.encode(&mem, a).kind, PageKind::Full, "enters the cache");
        mem.write(a);
        let delta = enc.encode(&mem, a);
        assert_eq!(delta.kind, PageKind::Delta);
        assert!(delta.wire < 1024.0, "{} bytes", delta.wire);
        assert_eq!(enc.encode(&mem, b).kind, PageKind::Full, "b evicts a");
        mem.write(a);
        assert_eq!(enc.encode(&mem, a).kind, PageKind::Full, "a was evicted");
    }
}
