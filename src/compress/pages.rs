//! Deterministic synthetic guest memory, one 4 KiB page at a time.
//!
//! What it models: a guest's RAM as a mix of page *classes* whose content is plausible for
//! an LZ-class compressor: zero pages, exact duplicates of other pages, x86-64-like machine
//! code, heap slabs of small structs, natural-language text and incompressible bytes
//! (encrypted or already-compressed data). What it leaves out: real programs, page-cache
//! file contents, huge pages and the temporal structure of a running guest (which pages
//! are hot); the dirtying model ([`dirty`]) only says *how* a write changes a page.
//!
//! Invariants: page `i`'s class and bytes depend only on `(seed, profile, i)` (and, for a
//! duplicate, on the earlier page it copies), never on which other pages were generated
//! or in what order. That is what lets [`crate::compress::sampling`] look at a sample of
//! pages of a 1 GiB image without generating the rest. Classes come from a stable hash
//! of `(seed, i)`; contents from the ChaCha8 stream `"compress/pages/content"`, whose
//! 64-bit stream number is set to the page index.
//!
//! Realism target (U, folk knowledge, see `validation-refs.md` §5): LZ-class codecs reach
//! about 2–4× on non-zero VM pages. Each class is built so its ratio is plausible on its
//! own (documented per generator); the default mix lands in that range for lz4 and zstd
//! (see `calibration/default.toml` for the measured per-class ratios).

use super::CompressError;
use crate::engine::rng::{stable_hash, RngStreams, SimRng};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Bytes per guest page (x86-64 base page, and QEMU's `TARGET_PAGE_SIZE` on x86).
pub const PAGE_SIZE: usize = 4096;

/// One guest page.
pub type Page = [u8; PAGE_SIZE];

/// What a page holds; decides how its bytes are generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageClass {
    /// All bytes zero (never touched, or freed and scrubbed).
    Zero,
    /// An exact copy of an earlier non-zero page of the same image.
    Duplicate,
    /// Machine code: x86-64-like instruction streams.
    Code,
    /// Heap slabs: arrays of small structs with pointers, small integers and padding.
    Heap,
    /// Natural-language-like text.
    Text,
    /// Incompressible bytes (encrypted or already compressed data).
    Random,
}

impl PageClass {
    /// All classes, in the order of [`MemoryProfile::shares`].
    pub const ALL: [PageClass; 6] = [
        PageClass::Zero,
        PageClass::Duplicate,
        PageClass::Code,
        PageClass::Heap,
        PageClass::Text,
        PageClass::Random,
    ];
    /// The classes whose bytes are generated (not zero, not a copy).
    pub const CONTENT: [PageClass; 4] = [
        PageClass::Code,
        PageClass::Heap,
        PageClass::Text,
        PageClass::Random,
    ];

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PageClass::Zero => "zero",
            PageClass::Duplicate => "duplicate",
            PageClass::Code => "code",
            PageClass::Heap => "heap",
            PageClass::Text => "text",
            PageClass::Random => "random",
        }
    }

    /// Position in [`PageClass::ALL`] (and in every per-class array of this module).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The allowed names, comma-separated, for error messages.
    pub fn allowed_names() -> String {
        PageClass::ALL.map(|c| c.name()).join(", ")
    }
}

impl fmt::Display for PageClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PageClass {
    type Err = CompressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PageClass::ALL
            .into_iter()
            .find(|c| c.name() == s.trim())
            .ok_or_else(|| CompressError::UnknownName {
                kind: "page class",
                given: s.to_string(),
                allowed: PageClass::allowed_names(),
            })
    }
}

/// The share of each page class in a memory image.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MemoryProfile {
    /// Fraction of pages per class, indexed by [`PageClass::index`]; each ≥ 0, sum 1.
    pub shares: [f64; 6],
}

impl Default for MemoryProfile {
    /// A loaded server guest. Which numbers are measured and which are assumptions:
    ///
    /// - `zero` = 0.25 — **assumption**, bounded by measurement: cloud-hypervisor PR #117
    ///   (validation-refs §5) cut the migration time of an *idle* 32 GiB VM to 12% by
    ///   skipping zero pages (so ≈ 88% zero), and to 66% with half the memory touched
    ///   (≈ 34% zero remaining). A guest that has run a while has touched more; we take 25%.
    /// - `duplicate` = 0.07 — **assumption** inside a measured bound: Barker et al., "An
    ///   empirical study of memory sharing in virtual machines" (USENIX ATC 2012) find
    ///   sharing *excluding zero pages* generally under 15%, nearly all of it within one
    ///   machine; VMware documents < 5% for diverse workloads (vSphere 4.1 resource guide).
    /// - `code` 0.10, `heap` 0.38, `text` 0.10, `random` 0.10 — **assumptions** (no stored
    ///   source gives a class breakdown of guest RAM). `random` stands for encrypted or
    ///   compressed data (TLS buffers, media, compressed caches). Chosen so that lz4 lands
    ///   at the low end of the folk 2–4× for non-zero pages (U, validation-refs §5).
    fn default() -> Self {
        MemoryProfile {
            shares: [0.25, 0.07, 0.10, 0.38, 0.10, 0.10],
        }
    }
}

/// The serde form of a profile, one key per class (`zero = 0.25` ...), as written in an
/// experiment file. Convert with [`MemoryProfile::try_from`], which validates it.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemoryProfileConfig {
    /// Share of zero pages (shares sum to 1).
    pub zero: f64,
    /// Share of duplicate pages.
    pub duplicate: f64,
    /// Share of machine-code pages.
    pub code: f64,
    /// Share of heap-slab pages.
    pub heap: f64,
    /// Share of text pages.
    pub text: f64,
    /// Share of incompressible pages.
    pub random: f64,
}

impl TryFrom<MemoryProfileConfig> for MemoryProfile {
    type Error = CompressError;
    fn try_from(c: MemoryProfileConfig) -> Result<Self, Self::Error> {
        MemoryProfile::new([c.zero, c.duplicate, c.code, c.heap, c.text, c.random])
    }
}

impl MemoryProfile {
    /// A validated profile: every share finite and ≥ 0, the sum 1 within 1e-9.
    pub fn new(shares: [f64; 6]) -> Result<Self, CompressError> {
        let p = MemoryProfile { shares };
        p.validate()?;
        Ok(p)
    }

    /// Every page of one class (a duplicate-only profile degrades to heap pages: a
    /// duplicate needs a non-zero page to copy).
    pub fn only(class: PageClass) -> Self {
        let mut shares = [0.0; 6];
        shares[class.index()] = 1.0;
        MemoryProfile { shares }
    }

    /// Checks shares ≥ 0 and sum = 1 ± 1e-9; the error names the offending key.
    pub fn validate(&self) -> Result<(), CompressError> {
        for class in PageClass::ALL {
            let v = self.shares[class.index()];
            if !v.is_finite() || v < 0.0 {
                return Err(CompressError::BadShare {
                    key: class.name(),
                    value: v,
                });
            }
        }
        let sum: f64 = self.shares.iter().sum();
        if (sum - 1.0).abs() > 1e-9 {
            return Err(CompressError::SharesSum {
                keys: PageClass::allowed_names(),
                sum,
            });
        }
        Ok(())
    }

    /// The share of `class`.
    pub fn share(&self, class: PageClass) -> f64 {
        self.shares[class.index()]
    }
}

/// How many earlier pages a duplicate tries before giving up (then it becomes a content
/// page of its own); with the default profile 68% of pages qualify, so 16 tries fail with
/// probability 0.32^16 ≈ 1e-8.
const DUPLICATE_TRIES: u64 = 16;

/// A deterministic guest memory of `page_count` pages.
#[derive(Clone, Debug)]
pub struct MemoryImage {
    profile: MemoryProfile,
    page_count: u64,
    seed: u64,
    /// Key of the per-page class hash.
    class_key: u64,
    /// Key of the duplicate-source hash.
    dup_key: u64,
    /// Cumulative class thresholds over the u64 hash space.
    thresholds: [u64; 6],
    /// Base content stream; page `i` uses stream number `i` of it.
    content: SimRng,
    tables: Tables,
}

impl MemoryImage {
    /// An image of `page_count` pages with classes drawn from `profile`. `profile` must be
    /// valid ([`MemoryProfile::validate`]); an invalid one is a caller bug and panics.
    pub fn new(profile: MemoryProfile, page_count: u64, seed: u64) -> Self {
        profile
            .validate()
            .unwrap_or_else(|e| panic!("MemoryImage::new with an invalid profile: {e}"));
        let streams = RngStreams::new(seed);
        let mut thresholds = [0u64; 6];
        let mut cum = 0.0;
        for class in PageClass::ALL {
            cum += profile.share(class);
            // 2^64 as f64; `as u64` saturates at u64::MAX for cum ≥ 1.
            thresholds[class.index()] = (cum * 18_446_744_073_709_551_616.0) as u64;
        }
        let mut tables_rng = streams.stream("compress/pages/tables");
        MemoryImage {
            profile,
            page_count,
            seed,
            class_key: stable_hash(seed, b"compress/pages/class"),
            dup_key: stable_hash(seed, b"compress/pages/duplicate"),
            thresholds,
            content: streams.stream("compress/pages/content"),
            tables: Tables::new(&mut tables_rng),
        }
    }

    /// The class shares the image was drawn from.
    pub fn profile(&self) -> &MemoryProfile {
        &self.profile
    }

    /// Number of pages in the image.
    pub fn page_count(&self) -> u64 {
        self.page_count
    }

    /// The seed the image's streams derive from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Image size in bytes.
    pub fn bytes(&self) -> u64 {
        self.page_count * PAGE_SIZE as u64
    }

    /// The class drawn for page `i` before duplicates are resolved.
    fn drawn_class(&self, i: u64) -> PageClass {
        let h = stable_hash(self.class_key, &i.to_le_bytes());
        let mut last = PageClass::Random;
        for class in PageClass::ALL {
            if self.profile.share(class) > 0.0 {
                last = class;
                if h < self.thresholds[class.index()] {
                    return class;
                }
            }
        }
        last
    }

    /// The earlier content page that duplicate page `i` copies, or `None` if `i` is not a
    /// duplicate (or found no content page to copy, and is a content page itself).
    pub fn duplicate_source(&self, i: u64) -> Option<u64> {
        if i == 0 || self.drawn_class(i) != PageClass::Duplicate {
            return None;
        }
        (0..DUPLICATE_TRIES)
            .map(|t| {
                let mut key = [0u8; 16];
                key[..8].copy_from_slice(&i.to_le_bytes());
                key[8..].copy_from_slice(&t.to_le_bytes());
                stable_hash(self.dup_key, &key) % i
            })
            .find(|&j| PageClass::CONTENT.contains(&self.drawn_class(j)))
    }

    /// The class of page `i` (a duplicate that found nothing to copy reports the content
    /// class it was generated as instead).
    pub fn class(&self, i: u64) -> PageClass {
        assert!(
            i < self.page_count,
            "page {i} of a {}-page image",
            self.page_count
        );
        match self.drawn_class(i) {
            PageClass::Duplicate => match self.duplicate_source(i) {
                Some(_) => PageClass::Duplicate,
                None => self.fallback_class(i),
            },
            c => c,
        }
    }

    /// The content class of a duplicate without a source: drawn among the content classes
    /// in proportion to their shares (zero if the profile has none).
    fn fallback_class(&self, i: u64) -> PageClass {
        let total: f64 = PageClass::CONTENT
            .iter()
            .map(|&c| self.profile.share(c))
            .sum();
        if total <= 0.0 {
            return PageClass::Zero;
        }
        let h = stable_hash(self.dup_key ^ 0x5a5a, &i.to_le_bytes());
        let u = (h >> 11) as f64 / (1u64 << 53) as f64 * total;
        let mut cum = 0.0;
        for c in PageClass::CONTENT {
            cum += self.profile.share(c);
            if u < cum && self.profile.share(c) > 0.0 {
                return c;
            }
        }
        PageClass::Random
    }

    /// Page counts per class over the whole image (one hash per page, no content).
    pub fn class_counts(&self) -> [u64; 6] {
        let mut counts = [0u64; 6];
        for i in 0..self.page_count {
            counts[self.class(i).index()] += 1;
        }
        counts
    }

    /// Fills `out` with page `i`'s bytes.
    pub fn page(&self, i: u64, out: &mut Page) {
        let class = self.class(i);
        if class == PageClass::Duplicate {
            let j = self
                .duplicate_source(i)
                .expect("a duplicate page has a source");
            self.page(j, out);
            return;
        }
        self.content_page(class, i, out);
    }

    /// Generates `class` content with page `i`'s stream.
    fn content_page(&self, class: PageClass, i: u64, out: &mut Page) {
        let mut rng = self.content.clone();
        rng.set_stream(i);
        match class {
            PageClass::Zero => out.fill(0),
            PageClass::Random => rng.fill_bytes(out),
            PageClass::Code => gen_code(&self.tables, &mut rng, i, out),
            PageClass::Heap => gen_heap(&self.tables, &mut rng, out),
            PageClass::Text => gen_text(&self.tables, &mut rng, out),
            PageClass::Duplicate => unreachable!("duplicates copy another page"),
        }
    }
}

/// Simulates the guest writing to a page: about `bytes_changed` bytes change, in runs of
/// 8–64 bytes at 8-byte-aligned offsets (stores are word-sized and clustered: a struct
/// update, a counter, a list link). Within a run each 8-byte word is either a counter
/// update (a small add, so only its low bytes change) or a new stored value. Returns the
/// number of bytes in the written runs (some may keep their old value by chance).
pub fn dirty(page: &mut Page, rng: &mut SimRng, bytes_changed: usize) -> usize {
    let mut written = 0;
    while written < bytes_changed.min(PAGE_SIZE) {
        let run_words = rng.random_range(1..=8usize);
        let start_word = rng.random_range(0..PAGE_SIZE / 8 - run_words + 1);
        for w in start_word..start_word + run_words {
            let at = w * 8;
            let old = u64::from_le_bytes(page[at..at + 8].try_into().expect("8 bytes"));
            let new = if rng.random_bool(0.5) {
                old.wrapping_add(rng.random_range(1..256))
            } else {
                rng.random::<u64>()
            };
            page[at..at + 8].copy_from_slice(&new.to_le_bytes());
        }
        written += run_words * 8;
    }
    written
}

// ---------------------------------------------------------------------------------------
// Per-image tables shared by all pages: what makes pages of one class resemble each other
// (one program's instruction mix, one allocator's struct layouts, one vocabulary), as in a
// real guest; it is also what a trained dictionary can learn.

#[derive(Clone, Debug)]
struct Tables {
    /// Cumulative Zipf weights over [`INSTRUCTIONS`].
    insn_cum: Vec<u32>,
    /// Virtual addresses of the functions calls go to.
    functions: Vec<u64>,
    /// Cumulative Zipf weights over `functions` (a few hot callees).
    func_cum: Vec<u32>,
    /// Struct layouts for heap slabs.
    layouts: Vec<Layout>,
    /// Cumulative Zipf weights over layouts.
    layout_cum: Vec<u32>,
    /// Cumulative Zipf weights over [`WORDS`].
    word_cum: Vec<u32>,
    /// Recurring instruction sequences (pre-rendered) and their Zipf weights.
    idioms: Vec<Vec<u8>>,
    idiom_cum: Vec<u32>,
    /// Zipf weights over the 15 stack displacements.
    disp_cum: Vec<u32>,
    /// Interned strings (identifiers, paths) stored in heap objects, and their weights.
    strings: Vec<String>,
    string_cum: Vec<u32>,
    /// Recurring phrases (word indices) of the text pages and their Zipf weights.
    phrases: Vec<Vec<u16>>,
    phrase_cum: Vec<u32>,
    /// High bits shared by heap pointers (a glibc heap near 0x55..).
    heap_base: u64,
    /// Base of a monotonic clock value stored in structs (ns).
    time_base: u64,
}

/// Recurring instruction sequences per image: more than one page uses, so much of their
/// redundancy is across pages (what a dictionary can capture, and per-page LZ cannot).
const IDIOMS: usize = 160;
/// Interned strings per image.
const STRINGS: usize = 128;

/// Zipf(s = 1) cumulative weights for `n` ranks, scaled to integers.
fn zipf_cum(n: usize) -> Vec<u32> {
    let mut cum = Vec::with_capacity(n);
    let mut total = 0u32;
    for r in 1..=n as u32 {
        total += 1_000_000 / r;
        cum.push(total);
    }
    cum
}

fn pick(cum: &[u32], rng: &mut SimRng) -> usize {
    let x = rng.random_range(0..*cum.last().expect("non-empty table"));
    cum.partition_point(|&c| c <= x)
}

impl Tables {
    fn new(rng: &mut SimRng) -> Self {
        let heap_base = 0x0000_5500_0000_0000 | (rng.random_range(0..0xff_ffffu64) << 16);
        let code_base = 0x0000_7f00_0000_0000 | (rng.random_range(0..0xff_ffffu64) << 16);
        let functions = (0..256)
            .map(|_| code_base + (rng.random_range(0..1u64 << 22) & !0xf))
            .collect();
        let layouts: Vec<Layout> = (0..12).map(|_| Layout::random(rng)).collect();
        let word_cum = zipf_cum(WORDS.len());
        let mut t = Tables {
            insn_cum: zipf_cum(INSTRUCTIONS.len()),
            func_cum: zipf_cum(256),
            functions,
            layout_cum: zipf_cum(layouts.len()),
            layouts,
            phrases: Vec::new(),
            phrase_cum: zipf_cum(64),
            heap_base,
            time_base: 1_700_000_000_000_000_000 + rng.random_range(0..1u64 << 40),
            idioms: Vec::new(),
            idiom_cum: zipf_cum(IDIOMS),
            strings: Vec::new(),
            string_cum: zipf_cum(STRINGS),
            disp_cum: zipf_cum(15),
            word_cum,
        };
        t.phrases = (0..64)
            .map(|_| {
                (0..rng.random_range(2..6))
                    .map(|_| pick(&t.word_cum, rng) as u16)
                    .collect()
            })
            .collect();
        t.strings = (0..STRINGS)
            .map(|_| {
                let sep = ["_", "/", "."][rng.random_range(0..3)];
                (0..rng.random_range(1..5))
                    .map(|_| WORDS[pick(&t.word_cum, rng)])
                    .collect::<Vec<_>>()
                    .join(sep)
            })
            .collect();
        t.idioms = (0..IDIOMS)
            .map(|_| {
                let mut b = Vec::new();
                for _ in 0..rng.random_range(2..7) {
                    let (op, operand) = INSTRUCTIONS[pick(&t.insn_cum, rng)];
                    let site = t.functions[0] + rng.random_range(0..1u64 << 20);
                    emit_insn(&t, rng, op, operand, site, &mut b);
                }
                b
            })
            .collect();
        t
    }
}

// ---------------------------------------------------------------------------------------
// Code: functions made of common x86-64 encodings (Zipf-ranked, so a few dominate as in
// real code), with operands that vary slightly: small stack displacements, small
// immediates, and call/RIP-relative offsets whose low bytes differ per call site while the
// high bytes repeat. Prologues, epilogues and int3 padding to 16 bytes recur, and 35% of
// the time one of 160 per-image idioms (2–6 instructions with fixed operands) is emitted. Real x86-64
// text sections compress about 2× with lz4 (U); these pages aim there.

#[derive(Clone, Copy, Debug)]
enum Operand {
    None,
    /// A small immediate or stack displacement (multiple of 8 below 128).
    Disp8,
    /// A small 8-bit immediate.
    Imm8,
    /// A 32-bit immediate with a small value.
    Imm32,
    /// A relative offset to a function (call/jmp/RIP-relative).
    Rel32,
    /// A short branch offset.
    Rel8,
}

/// (opcode bytes, operand), most common first.
const INSTRUCTIONS: &[(&[u8], Operand)] = &[
    (&[0x48, 0x8b, 0x45], Operand::Disp8), // mov rax, [rbp+d8]
    (&[0x48, 0x89, 0x45], Operand::Disp8), // mov [rbp+d8], rax
    (&[0xe8], Operand::Rel32),             // call rel32
    (&[0x48, 0x89, 0xc7], Operand::None),  // mov rdi, rax
    (&[0x8b, 0x45], Operand::Disp8),       // mov eax, [rbp+d8]
    (&[0x48, 0x85, 0xc0], Operand::None),  // test rax, rax
    (&[0x74], Operand::Rel8),              // je rel8
    (&[0x89, 0x45], Operand::Disp8),       // mov [rbp+d8], eax
    (&[0x48, 0x8b, 0x7d], Operand::Disp8), // mov rdi, [rbp+d8]
    (&[0x75], Operand::Rel8),              // jne rel8
    (&[0x31, 0xc0], Operand::None),        // xor eax, eax
    (&[0x48, 0x8d, 0x3d], Operand::Rel32), // lea rdi, [rip+x]
    (&[0x48, 0x8b, 0x75], Operand::Disp8), // mov rsi, [rbp+d8]
    (&[0xeb], Operand::Rel8),              // jmp rel8
    (&[0x48, 0x83, 0xc4], Operand::Disp8), // add rsp, imm8
    (&[0x85, 0xc0], Operand::None),        // test eax, eax
    (&[0x48, 0x8b, 0x05], Operand::Rel32), // mov rax, [rip+x]
    (&[0x0f, 0x84], Operand::Rel32),       // je rel32
    (&[0xb8], Operand::Imm32),             // mov eax, imm32
    (&[0x48, 0x83, 0xf8], Operand::Imm8),  // cmp rax, imm8
    (&[0x48, 0x01, 0xd0], Operand::None),  // add rax, rdx
    (&[0x0f, 0xb6, 0xc0], Operand::None),  // movzx eax, al
    (&[0xc7, 0x45], Operand::Disp8),       // mov dword [rbp+d8], (imm32 follows)
    (&[0x48, 0x63, 0xd0], Operand::None),  // movsxd rdx, eax
    (&[0x83, 0xf8], Operand::Imm8),        // cmp eax, imm8
    (&[0x48, 0xc1, 0xe0], Operand::Imm8),  // shl rax, imm8
    (&[0x48, 0x39, 0xc2], Operand::None),  // cmp rdx, rax
    (&[0xbf], Operand::Imm32),             // mov edi, imm32
    (&[0x0f, 0x85], Operand::Rel32),       // jne rel32
    (&[0x41, 0x54], Operand::None),        // push r12
    (&[0x41, 0x5c], Operand::None),        // pop r12
    (&[0x53], Operand::None),              // push rbx
    (&[0x5b], Operand::None),              // pop rbx
    (&[0x48, 0x89, 0xde], Operand::None),  // mov rsi, rbx
    (&[0xe9], Operand::Rel32),             // jmp rel32
    (&[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00], Operand::None), // nopw
];

const PROLOGUES: &[&[u8]] = &[
    &[0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5], // endbr64; push rbp; mov rbp, rsp
    &[0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec],       // push rbp; mov rbp,rsp; sub rsp, (imm8)
    &[
        0xf3, 0x0f, 0x1e, 0xfa, 0x41, 0x57, 0x41, 0x56, 0x41, 0x55, 0x41, 0x54, 0x55, 0x53,
    ],
];

const EPILOGUES: &[&[u8]] = &[
    &[0xc9, 0xc3],                   // leave; ret
    &[0x5d, 0xc3],                   // pop rbp; ret
    &[0x5b, 0x5d, 0x41, 0x5c, 0xc3], // pop rbx; pop rbp; pop r12; ret
];

/// Appends `bytes` to `out` at `*pos`, clipped at the page end.
fn put(out: &mut Page, pos: &mut usize, bytes: &[u8]) {
    let n = bytes.len().min(PAGE_SIZE - *pos);
    out[*pos..*pos + n].copy_from_slice(&bytes[..n]);
    *pos += n;
}

fn gen_code(t: &Tables, rng: &mut SimRng, page_index: u64, out: &mut Page) {
    let mut buf: Vec<u8> = Vec::with_capacity(PAGE_SIZE + 256);
    // Virtual address of this page's code (for relative offsets).
    let page_va = t.functions[0] + page_index * PAGE_SIZE as u64;
    while buf.len() < PAGE_SIZE {
        let p = PROLOGUES[rng.random_range(0..PROLOGUES.len())];
        buf.extend_from_slice(p);
        if p.last() == Some(&0xec) {
            buf.push(8 * rng.random_range(1..16u8));
        }
        for _ in 0..rng.random_range(6..48) {
            if buf.len() >= PAGE_SIZE {
                break;
            }
            if rng.random_bool(0.35) {
                // A recurring idiom (same bytes every time: compilers repeat themselves).
                buf.extend_from_slice(&t.idioms[pick(&t.idiom_cum, rng)]);
            } else {
                let (op, operand) = INSTRUCTIONS[pick(&t.insn_cum, rng)];
                let site = page_va + buf.len() as u64;
                emit_insn(t, rng, op, operand, site, &mut buf);
            }
        }
        buf.extend_from_slice(EPILOGUES[rng.random_range(0..EPILOGUES.len())]);
        while !buf.len().is_multiple_of(16) {
            buf.push(0xcc);
        }
    }
    out.copy_from_slice(&buf[..PAGE_SIZE]);
}

/// Appends one instruction with an operand drawn for it; `site` is its virtual address.
fn emit_insn(
    t: &Tables,
    rng: &mut SimRng,
    op: &[u8],
    operand: Operand,
    site: u64,
    buf: &mut Vec<u8>,
) {
    buf.extend_from_slice(op);
    match operand {
        Operand::None => {}
        // Stack slots: -8, -16, ... Zipf-ranked (locals near the frame base dominate).
        Operand::Disp8 => buf.push(0u8.wrapping_sub(8 * (1 + pick(&t.disp_cum, rng) as u8))),
        Operand::Imm8 => buf.push(rng.random_range(0..16u8)),
        Operand::Imm32 => {
            let v: u32 = if rng.random_bool(0.7) {
                rng.random_range(0..64)
            } else {
                rng.random_range(0..65536)
            };
            buf.extend_from_slice(&v.to_le_bytes())
        }
        Operand::Rel32 => {
            let target = t.functions[pick(&t.func_cum, rng)];
            let rel = target.wrapping_sub(site + op.len() as u64 + 4) as u32;
            buf.extend_from_slice(&rel.to_le_bytes())
        }
        Operand::Rel8 => buf.push(rng.random_range(2..64u8)),
    }
}

// ---------------------------------------------------------------------------------------
// Heap: a slab of same-size objects (as a slab or size-class allocator lays them out), one
// layout per page chosen Zipf-wise from the image's layouts, filled to 50–100% of the
// page (zero after). Fields are pointers sharing their high bytes (mostly into the slab's
// own 64 KiB arena, often to one common parent, 30% NULL), small integers, flags, clock
// values of nearby times, vtable pointers constant per layout, inline strings and zero
// padding; 15% of slots are free (zero but for a free-list link). Such pages typically compress 3–5× with LZ codecs (U).

#[derive(Clone, Copy, Debug)]
enum Field {
    /// 8-byte heap pointer, NULL 20% of the time.
    Ptr,
    /// 8-byte pointer constant for the layout (a vtable or type tag).
    VTable(u64),
    /// 4-byte small integer (mostly < 64).
    Int32,
    /// 8-byte small integer (a length, a counter).
    Int64,
    /// 4 bytes of flags / enum tag.
    Flags,
    /// 8-byte clock value near the image's time base.
    Time,
    /// An inline string of the given length, zero padded.
    Str(usize),
    /// Zero padding of the given length.
    Pad(usize),
}

impl Field {
    fn len(self) -> usize {
        match self {
            Field::Ptr | Field::VTable(_) | Field::Int64 | Field::Time => 8,
            Field::Int32 | Field::Flags => 4,
            Field::Str(n) | Field::Pad(n) => n,
        }
    }
}

#[derive(Clone, Debug)]
struct Layout {
    fields: Vec<Field>,
    /// Object size in bytes, a multiple of 16.
    size: usize,
}

impl Layout {
    fn random(rng: &mut SimRng) -> Self {
        let mut fields = Vec::new();
        if rng.random_bool(0.5) {
            fields.push(Field::VTable(
                0x0000_5600_0000_0000 | (rng.random::<u32>() as u64 & !7),
            ));
        }
        let n = rng.random_range(2..10);
        for _ in 0..n {
            fields.push(match rng.random_range(0..10) {
                0..=2 => Field::Ptr,
                3 | 4 => Field::Int32,
                5 => Field::Int64,
                6 => Field::Flags,
                7 => Field::Time,
                8 => Field::Str([16, 24, 32][rng.random_range(0..3)]),
                _ => Field::Pad(4),
            });
        }
        let raw: usize = fields.iter().map(|f| f.len()).sum();
        let size = raw.div_ceil(16) * 16;
        if size > raw {
            fields.push(Field::Pad(size - raw));
        }
        Layout { fields, size }
    }
}

/// What objects of one slab share: the arena their pointers mostly go to, and a time.
struct SlabCtx {
    arena: u64,
    parent: u64,
    time: u64,
}

fn small_int(rng: &mut SimRng) -> u64 {
    match rng.random_range(0..10) {
        0..=7 => rng.random_range(0..16),
        8 => rng.random_range(0..4096),
        _ => rng.random_range(0..1 << 24),
    }
}

fn gen_heap(t: &Tables, rng: &mut SimRng, out: &mut Page) {
    out.fill(0);
    let layout = &t.layouts[pick(&t.layout_cum, rng)];
    let arena = t.heap_base + (rng.random_range(0..256u64) << 16);
    let ctx = SlabCtx {
        arena,
        parent: arena + (rng.random_range(0..1u64 << 16) & !0xf),
        time: t.time_base + rng.random_range(0..1u64 << 36),
    };
    // Slabs are partly filled: objects up to `end`, zero after (50–100% of the page).
    let end = rng.random_range(PAGE_SIZE / 2..=PAGE_SIZE);
    // A malloc-style 8-byte chunk header before every object, for half the layouts.
    let header = layout.fields.len().is_multiple_of(2);
    let stride = layout.size + if header { 16 } else { 0 };
    let mut pos = 0;
    while pos + stride <= end {
        let mut at = pos;
        if header {
            out[at..at + 8].copy_from_slice(&((stride as u64) | 1).to_le_bytes());
            at += 16;
        }
        if rng.random_bool(0.15) {
            // Free slot: only the free-list link.
            let link = ctx.arena + (rng.random_range(0..1u64 << 16) & !0xf);
            out[at..at + 8].copy_from_slice(&link.to_le_bytes());
        } else {
            for &f in &layout.fields {
                write_field(t, &ctx, rng, f, &mut out[at..at + f.len()]);
                at += f.len();
            }
        }
        pos += stride;
    }
}

fn write_field(t: &Tables, ctx: &SlabCtx, rng: &mut SimRng, f: Field, dst: &mut [u8]) {
    match f {
        Field::Ptr => {
            // Objects mostly point into their own arena (64 KiB around this slab).
            // NULL 30%, the slab's common parent/owner 20%, the own arena 40%, far 10%.
            let v = match rng.random_range(0..10) {
                0..=2 => 0,
                3 | 4 => ctx.parent,
                5..=8 => ctx.arena + (rng.random_range(0..1u64 << 16) & !0xf),
                _ => t.heap_base + (rng.random_range(0..1u64 << 24) & !0xf),
            };
            dst.copy_from_slice(&v.to_le_bytes());
        }
        Field::VTable(v) => dst.copy_from_slice(&v.to_le_bytes()),
        Field::Int32 => dst.copy_from_slice(&(small_int(rng) as u32).to_le_bytes()),
        Field::Int64 => dst.copy_from_slice(&small_int(rng).to_le_bytes()),
        Field::Flags => dst.copy_from_slice(&[rng.random_range(0..4u8), 0, 0, 0]),
        Field::Time => {
            // Objects of one slab were touched at nearby times (within ~1 ms).
            let v = ctx.time + rng.random_range(0..1u64 << 20);
            dst.copy_from_slice(&v.to_le_bytes());
        }
        Field::Str(n) => {
            // An interned identifier or path of the image (NUL-terminated, cut to fit).
            let w = t.strings[pick(&t.string_cum, rng)].as_bytes();
            let m = w.len().min(n - 1);
            dst[..m].copy_from_slice(&w[..m]);
        }
        Field::Pad(_) => {}
    }
}

// ---------------------------------------------------------------------------------------
// Text: words drawn Zipf-wise (s = 1) from a fixed vocabulary, in sentences of 4–20 words
// with commas, capitalised starts, full stops and paragraph breaks; 20% of the time a
// 2–5-word phrase from earlier on the page is repeated, 15% of the time one of 64 stock
// phrases of the image is used (what gives real text its long matches). English text
// compresses about 2× with lz4 and 3× with zstd on large inputs (Silesia-like, U for 4 KiB
// pages, where the window is short).

fn gen_text(t: &Tables, rng: &mut SimRng, out: &mut Page) {
    let mut pos = 0;
    let mut sentences_left = rng.random_range(2..8);
    // Words emitted on this page, and words queued by a repeat (top of stack = next).
    let mut hist: Vec<u16> = Vec::with_capacity(1024);
    let mut queued: Vec<u16> = Vec::new();
    while pos < PAGE_SIZE {
        let words = rng.random_range(4..20);
        for w in 0..words {
            if queued.is_empty() {
                let r = rng.random_range(0..100);
                if r < 20 && hist.len() >= 8 {
                    // Repeat a phrase from earlier on the page (text restates itself).
                    let len = rng.random_range(2..6);
                    let start = rng.random_range(0..=hist.len() - len);
                    queued.extend(hist[start..start + len].iter().rev());
                } else if r < 35 {
                    // A stock phrase of this image's vocabulary.
                    queued.extend(t.phrases[pick(&t.phrase_cum, rng)].iter().rev());
                }
            }
            let wi = queued
                .pop()
                .unwrap_or_else(|| pick(&t.word_cum, rng) as u16);
            hist.push(wi);
            let word = WORDS[wi as usize].as_bytes();
            let start = pos;
            put(out, &mut pos, word);
            if w == 0 && start < PAGE_SIZE {
                out[start] = out[start].to_ascii_uppercase();
            }
            if rng.random_range(0..100) < 2 {
                let n = rng.random_range(1..2100u32).to_string();
                put(out, &mut pos, b" ");
                put(out, &mut pos, n.as_bytes());
            }
            if w + 1 < words {
                if rng.random_range(0..100) < 8 {
                    put(out, &mut pos, b",");
                }
                put(out, &mut pos, b" ");
            }
        }
        put(
            out,
            &mut pos,
            if rng.random_range(0..10) == 0 {
                b"? "
            } else {
                b". "
            },
        );
        sentences_left -= 1;
        if sentences_left == 0 {
            put(out, &mut pos, b"\n\n");
            sentences_left = rng.random_range(2..8);
        }
    }
}

/// Vocabulary for text pages and inline strings, most frequent English words first (so
/// the Zipf rank roughly matches real usage).
pub(crate) const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "had",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "she",
    "other",
    "its",
    "may",
    "these",
    "what",
    "them",
    "than",
    "some",
    "him",
    "time",
    "into",
    "only",
    "do",
    "could",
    "new",
    "about",
    "two",
    "first",
    "then",
    "also",
    "after",
    "any",
    "like",
    "should",
    "over",
    "such",
    "our",
    "man",
    "most",
    "made",
    "before",
    "must",
    "well",
    "where",
    "through",
    "used",
    "many",
    "system",
    "each",
    "between",
    "years",
    "under",
    "memory",
    "server",
    "data",
    "network",
    "page",
    "process",
    "state",
    "number",
    "value",
    "request",
    "user",
    "file",
    "migration",
    "virtual",
    "machine",
    "host",
    "cluster",
    "error",
    "result",
    "function",
    "table",
    "index",
    "record",
    "buffer",
    "queue",
    "message",
    "session",
    "connection",
    "client",
    "service",
    "node",
    "thread",
    "version",
    "update",
    "support",
    "because",
    "while",
    "without",
    "during",
    "against",
    "within",
    "however",
    "another",
    "general",
    "public",
    "small",
    "large",
    "people",
    "world",
    "government",
    "company",
    "country",
    "house",
    "school",
    "water",
    "money",
    "market",
    "report",
    "history",
    "question",
    "problem",
    "development",
    "information",
    "example",
    "different",
    "important",
    "following",
    "possible",
    "between",
    "available",
    "performance",
    "application",
    "configuration",
    "transaction",
    "database",
    "storage",
    "security",
    "certificate",
    "interface",
    "parameter",
    "operation",
    "response",
    "timeout",
    "latency",
    "bandwidth",
    "throughput",
    "checkpoint",
    "snapshot",
    "replica",
    "leader",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_round_trip_and_errors_list_allowed() {
        for c in PageClass::ALL {
            assert_eq!(c.name().parse::<PageClass>().unwrap(), c);
        }
        let e = "stack".parse::<PageClass>().unwrap_err().to_string();
        // The message must name the bad value and every allowed one.
        assert!(
            e.contains("stack") && e.contains("zero, duplicate, code, heap, text, random"),
            "{e}"
        );
    }

    #[test]
    fn profile_validation_names_the_key() {
        let mut s = MemoryProfile::default().shares;
        assert!(
            MemoryProfile::new(s).is_ok(),
            "the default profile is valid"
        );
        s[3] = -0.1;
        let e = MemoryProfile::new(s).unwrap_err().to_string();
        assert!(e.contains("`heap`"), "negative share names its key: {e}");
        let e = MemoryProfile::new([0.5, 0.0, 0.0, 0.0, 0.0, 0.49])
            .unwrap_err()
            .to_string();
        assert!(e.contains("0.99"), "a wrong sum is reported: {e}");
    }

    #[test]
    fn class_shares_follow_the_profile() {
        let img = MemoryImage::new(MemoryProfile::default(), 20_000, 7);
        let counts = img.class_counts();
        for c in PageClass::ALL {
            let got = counts[c.index()] as f64 / 20_000.0;
            // Binomial sd at n=20000, p≤0.33 is ≤ 0.0034; 0.015 is > 4 sd.
            assert!((got - img.profile().share(c)).abs() < 0.015, "{c}: {got}");
        }
    }

    #[test]
    fn duplicates_copy_an_earlier_content_page() {
        let img = MemoryImage::new(MemoryProfile::default(), 4000, 3);
        let (mut a, mut b) = ([0u8; PAGE_SIZE], [0u8; PAGE_SIZE]);
        let mut seen = 0;
        for i in 0..4000 {
            if let Some(j) = img.duplicate_source(i) {
                assert!(j < i && PageClass::CONTENT.contains(&img.class(j)));
                img.page(i, &mut a);
                img.page(j, &mut b);
                assert_eq!(a, b, "duplicate {i} equals its source {j}");
                seen += 1;
            }
        }
        assert!(
            seen > 200,
            "about 7% of 4000 pages are duplicates, got {seen}"
        );
    }

    #[test]
    fn pages_are_independent_of_generation_order() {
        let img = MemoryImage::new(MemoryProfile::default(), 64, 11);
        let mut fwd = vec![[0u8; PAGE_SIZE]; 64];
        for i in 0..64 {
            img.page(i, &mut fwd[i as usize]);
        }
        let mut p = [0u8; PAGE_SIZE];
        for i in (0..64).rev() {
            img.page(i, &mut p);
            assert_eq!(
                p, fwd[i as usize],
                "page {i} differs when generated backwards"
            );
        }
    }

    #[test]
    fn dirty_changes_a_few_runs_only() {
        let img = MemoryImage::new(MemoryProfile::only(PageClass::Heap), 1, 5);
        let mut p = [0u8; PAGE_SIZE];
        img.page(0, &mut p);
        let before = p;
        let mut rng = RngStreams::new(1).stream("compress/test/dirty");
        let written = dirty(&mut p, &mut rng, 100);
        let changed = p.iter().zip(before.iter()).filter(|(a, b)| a != b).count();
        assert!((100..=164).contains(&written), "{written}");
        assert!(changed > 0 && changed <= written, "{changed} of {written}");
    }
}
