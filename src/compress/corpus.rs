//! Named data sets: deterministic bytes of any size for codec experiments.
//!
//! What it models: the inputs of compression experiments, both this project's (generated
//! guest memory, text, a mix) and the seed system's benchmark sets exactly as
//! `hde_benchmark_test.go` built them (seed-system.md §2.2), so its figures can be
//! reproduced and contrasted with per-page memory. Every set is a pure function of
//! `(name, size, seed)`; random parts come from the stream `"compress/corpus/<name>"`.
//!
//! The seed sets lay their regions out over the *requested* size (the seed used 1 MiB):
//! for `n` bytes, region boundaries are `n * pct / 100` (integer division), and each
//! repeated pattern starts at its region's first byte.

use super::pages::{MemoryImage, MemoryProfile, PageClass, PAGE_SIZE};
use super::CompressError;
use crate::engine::rng::RngStreams;
use rand::RngCore;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The 20-byte pattern of the seed system's `VMMemory` set.
pub const SEED_VM_PATTERN: &[u8; 20] = b"VM_MEMORY_PAGE_DATA_";
/// The pattern of the seed system's `MixedWorkload` set (AA 55 AA 55; "a two-byte
/// pattern" in the issue text is the same bytes).
pub const SEED_MIXED_PATTERN: &[u8; 4] = &[0xaa, 0x55, 0xaa, 0x55];
/// Size of the seed benchmark's data sets: 1 MiB.
pub const SEED_SET_BYTES: usize = 1 << 20;

/// A named data set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSet {
    /// Generated guest memory with the default [`MemoryProfile`], pages concatenated.
    VmMemory,
    /// Generated natural-language-like text (text pages concatenated).
    Text,
    /// One third each: guest memory, text, random bytes.
    Mixed,
    /// Seed `VMMemory`: [0,60%) zero, [60,90%) "VM_MEMORY_PAGE_DATA_" repeated, [90,100%)
    /// random. One contiguous layout, not per page.
    SeedVmMemory,
    /// Seed `MixedWorkload`: [0,40%) zero, [40,70%) AA 55 AA 55 repeated, [70,100%) random.
    SeedMixed,
    /// All zero.
    Zeros,
    /// ChaCha8 bytes.
    Random,
    /// A file's bytes (at most the requested size).
    File(PathBuf),
}

impl DataSet {
    /// The generated sets (all but `File`).
    pub const GENERATED: [DataSet; 7] = [
        DataSet::VmMemory,
        DataSet::Text,
        DataSet::Mixed,
        DataSet::SeedVmMemory,
        DataSet::SeedMixed,
        DataSet::Zeros,
        DataSet::Random,
    ];

    /// The name used on the command line: `vm-memory`, ..., `file:PATH`.
    pub fn name(&self) -> String {
        match self {
            DataSet::VmMemory => "vm-memory".into(),
            DataSet::Text => "text".into(),
            DataSet::Mixed => "mixed".into(),
            DataSet::SeedVmMemory => "seed-vm-memory".into(),
            DataSet::SeedMixed => "seed-mixed".into(),
            DataSet::Zeros => "zeros".into(),
            DataSet::Random => "random".into(),
            DataSet::File(p) => format!("file:{}", p.display()),
        }
    }

    /// Every accepted data-set name, comma-separated, for error messages.
    pub fn allowed_names() -> String {
        let mut names: Vec<String> = DataSet::GENERATED.iter().map(|d| d.name()).collect();
        names.push("file:PATH".into());
        names.join(", ")
    }

    /// `size` bytes of this set for `seed` (a `File` gives at most `size` bytes, fewer if
    /// the file is shorter).
    pub fn generate(&self, size: usize, seed: u64) -> Result<Vec<u8>, CompressError> {
        let mut rng = RngStreams::new(seed).stream(&format!("compress/corpus/{}", self.name()));
        let mut random = |out: &mut [u8]| rng.fill_bytes(out);
        let mut v = vec![0u8; size];
        match self {
            DataSet::Zeros => {}
            DataSet::Random => random(&mut v),
            DataSet::VmMemory => fill_pages(MemoryProfile::default(), seed, &mut v),
            DataSet::Text => fill_pages(MemoryProfile::only(PageClass::Text), seed, &mut v),
            DataSet::Mixed => {
                let (a, b) = (size / 3, 2 * size / 3);
                fill_pages(MemoryProfile::default(), seed, &mut v[..a]);
                fill_pages(MemoryProfile::only(PageClass::Text), seed, &mut v[a..b]);
                random(&mut v[b..]);
            }
            DataSet::SeedVmMemory => {
                let (a, b) = (size * 60 / 100, size * 90 / 100);
                fill_pattern(&mut v[a..b], SEED_VM_PATTERN);
                random(&mut v[b..]);
            }
            DataSet::SeedMixed => {
                let (a, b) = (size * 40 / 100, size * 70 / 100);
                fill_pattern(&mut v[a..b], SEED_MIXED_PATTERN);
                random(&mut v[b..]);
            }
            DataSet::File(path) => {
                let mut bytes = std::fs::read(path).map_err(|cause| CompressError::ReadFile {
                    path: path.clone(),
                    cause,
                })?;
                bytes.truncate(size);
                return Ok(bytes);
            }
        }
        Ok(v)
    }
}

fn fill_pattern(out: &mut [u8], pattern: &[u8]) {
    for (k, b) in out.iter_mut().enumerate() {
        *b = pattern[k % pattern.len()];
    }
}

/// Fills `out` with consecutive pages of an image with `profile` (the last one cut).
fn fill_pages(profile: MemoryProfile, seed: u64, out: &mut [u8]) {
    let pages = out.len().div_ceil(PAGE_SIZE) as u64;
    let img = MemoryImage::new(profile, pages, seed);
    let mut page = [0u8; PAGE_SIZE];
    for (i, chunk) in out.chunks_mut(PAGE_SIZE).enumerate() {
        img.page(i as u64, &mut page);
        chunk.copy_from_slice(&page[..chunk.len()]);
    }
}

impl fmt::Display for DataSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for DataSet {
    type Err = CompressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Some(p) = t.strip_prefix("file:") {
            if !p.is_empty() {
                return Ok(DataSet::File(PathBuf::from(p)));
            }
        }
        DataSet::GENERATED
            .into_iter()
            .find(|d| d.name() == t)
            .ok_or_else(|| CompressError::UnknownName {
                kind: "data set",
                given: s.to_string(),
                allowed: DataSet::allowed_names(),
            })
    }
}
