//! The real codecs: snappy, lz4, zstd (optionally with a trained dictionary).
//!
//! What it models: a block compressor as a migration stream would call it, on one buffer
//! at a time, with formats chosen so a block decodes alone: snappy's raw block format
//! (`snap::raw`, the length is in its header), an lz4 block with its 4-byte little-endian
//! length prepended (`lz4_flex`), and a zstd frame from the bulk API (the frame records
//! its content size). Contexts are reused between calls ([`Encoder`]), as a long-lived
//! migration thread would.
//!
//! What it leaves out: streaming contexts across blocks (each block is independent, so
//! no match reaches into the previous block), and zstd multithreading.
//!
//! Invariants: `decompress(compress(x)) == x` bit for bit, for every codec and input
//! (tested on every page class); a dictionary trained twice from the same sample is the
//! same bytes (zstd's trainer is single-threaded and derives the dictionary id from the
//! content), so runs that train one stay deterministic.

use super::pages::{MemoryImage, Page, PageClass, PAGE_SIZE};
use super::CompressError;
use std::fmt;
use std::str::FromStr;

/// A compression algorithm and its level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Codec {
    /// No compression: the bytes as they are.
    None,
    /// Snappy raw block format.
    Snappy,
    /// LZ4 block, length-prefixed.
    Lz4,
    /// zstd frame at `level` (1..=22).
    Zstd {
        /// zstd compression level (1..=22).
        level: i32,
    },
    /// zstd frame at `level` with a trained dictionary ([`Dictionary`]).
    ZstdDict {
        /// zstd compression level (1..=22).
        level: i32,
    },
}

/// The zstd levels accepted in names (negative "fast" levels are left out).
pub const ZSTD_LEVELS: std::ops::RangeInclusive<i32> = 1..=22;

impl Codec {
    /// The codecs calibrated by default and offered to the adaptive selector: the seed
    /// system's set (none, lz4, zstd 3, zstd 19), plus snappy (the seed benchmark's
    /// baseline), zstd 1 (the fastest standard level) and zstd 3 with a dictionary.
    pub const STANDARD: [Codec; 7] = [
        Codec::None,
        Codec::Snappy,
        Codec::Lz4,
        Codec::Zstd { level: 1 },
        Codec::Zstd { level: 3 },
        Codec::Zstd { level: 19 },
        Codec::ZstdDict { level: 3 },
    ];

    /// Name as used in files: `none`, `snappy`, `lz4`, `zstd-3`, `zstd-dict-3`.
    pub fn name(&self) -> String {
        match self {
            Codec::None => "none".into(),
            Codec::Snappy => "snappy".into(),
            Codec::Lz4 => "lz4".into(),
            Codec::Zstd { level } => format!("zstd-{level}"),
            Codec::ZstdDict { level } => format!("zstd-dict-{level}"),
        }
    }

    /// Whether the codec needs a [`Dictionary`].
    pub fn needs_dictionary(&self) -> bool {
        matches!(self, Codec::ZstdDict { .. })
    }

    /// The allowed name forms, for error messages.
    pub fn allowed_names() -> String {
        "none, snappy, lz4, zstd-N, zstd-dict-N (N = 1..22)".into()
    }

    /// Worst-case output length for `n` input bytes (what the framing bound tests use).
    pub fn max_compressed_len(&self, n: usize) -> usize {
        match self {
            Codec::None => n,
            Codec::Snappy => snap::raw::max_compress_len(n),
            Codec::Lz4 => 4 + lz4_flex::block::get_maximum_output_size(n),
            Codec::Zstd { .. } | Codec::ZstdDict { .. } => zstd::zstd_safe::compress_bound(n),
        }
    }

    /// One-shot compression into `out` (cleared first). For many calls use an [`Encoder`],
    /// which keeps its contexts; a dictionary codec needs one.
    pub fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, CompressError> {
        Encoder::new(*self, None)?.compress(input, out)
    }

    /// One-shot decompression into `out` (cleared first).
    pub fn decompress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, CompressError> {
        Encoder::new(*self, None)?.decompress(input, out)
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Codec {
    type Err = CompressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || CompressError::UnknownName {
            kind: "codec",
            given: s.to_string(),
            allowed: Codec::allowed_names(),
        };
        let level = |n: &str| -> Result<i32, CompressError> {
            n.parse::<i32>()
                .ok()
                .filter(|l| ZSTD_LEVELS.contains(l))
                .ok_or_else(bad)
        };
        match t {
            "none" => Ok(Codec::None),
            "snappy" => Ok(Codec::Snappy),
            "lz4" => Ok(Codec::Lz4),
            "zstd" => Ok(Codec::Zstd { level: 3 }),
            _ => {
                if let Some(n) = t.strip_prefix("zstd-dict-") {
                    Ok(Codec::ZstdDict { level: level(n)? })
                } else if let Some(n) = t.strip_prefix("zstd-") {
                    Ok(Codec::Zstd { level: level(n)? })
                } else {
                    Err(bad())
                }
            }
        }
    }
}

impl serde::Serialize for Codec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Codec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A zstd dictionary trained on sample pages. Shipping it to the receiver is a one-time
/// cost of [`Dictionary::len`] bytes, which [`crate::compress::pageset`] charges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dictionary {
    bytes: Vec<u8>,
}

/// Dictionary size cap: the seed system's trainer allows at most 128 KiB
/// (`dictionary_trainer.go`, seed-system.md §1.2); zstd's CLI default is 110 KiB.
pub const MAX_DICTIONARY_BYTES: usize = 112 * 1024;

impl Dictionary {
    /// Trains a dictionary of at most `max_size` bytes on `samples` (zstd's default
    /// trainer, single-threaded, hence deterministic).
    pub fn train<S: AsRef<[u8]>>(samples: &[S], max_size: usize) -> Result<Self, CompressError> {
        let bytes =
            zstd::dict::from_samples(samples, max_size).map_err(|e| CompressError::Codec {
                codec: "zstd-dict".into(),
                message: format!(
                    "dictionary training on {} samples failed: {e}",
                    samples.len()
                ),
            })?;
        Ok(Dictionary { bytes })
    }

    /// Trains on up to `pages` non-zero pages of `image`, taken at evenly spaced indices
    /// (a deterministic sample that covers the whole image). The seed system capped its
    /// samples at 1,000 (seed-system.md §1.2).
    pub fn train_from_image(
        image: &MemoryImage,
        pages: usize,
        max_size: usize,
    ) -> Result<Self, CompressError> {
        let n = image.page_count();
        let want = (pages as u64).min(n).max(1);
        Dictionary::train_from_pages(image, (0..want).map(|k| k * n / want), max_size)
    }

    /// Trains on the non-zero pages among `indices` of `image`. Pages of one image share
    /// its per-image tables (instruction idioms, struct layouts, phrases), which is what a
    /// dictionary learns; to measure it honestly, train on pages other than those it is
    /// then tested on.
    pub fn train_from_pages(
        image: &MemoryImage,
        indices: impl IntoIterator<Item = u64>,
        max_size: usize,
    ) -> Result<Self, CompressError> {
        let mut samples: Vec<Vec<u8>> = Vec::new();
        let mut buf: Page = [0u8; PAGE_SIZE];
        for i in indices {
            if image.class(i) == PageClass::Zero {
                continue;
            }
            image.page(i, &mut buf);
            samples.push(buf.to_vec());
        }
        Dictionary::train(&samples, max_size)
    }

    /// Wraps existing dictionary bytes (e.g. loaded from a file).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Dictionary { bytes }
    }

    /// The dictionary's raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the dictionary has no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// A codec with its reusable contexts: compress and decompress many buffers.
pub struct Encoder {
    codec: Codec,
    zc: Option<zstd::bulk::Compressor<'static>>,
    zd: Option<zstd::bulk::Decompressor<'static>>,
    snap_enc: snap::raw::Encoder,
    snap_dec: snap::raw::Decoder,
}

impl fmt::Debug for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("codec", &self.codec)
            .finish()
    }
}

impl Encoder {
    /// Contexts for `codec`; `dict` is required by `zstd-dict-*` and ignored otherwise.
    pub fn new(codec: Codec, dict: Option<&Dictionary>) -> Result<Self, CompressError> {
        let err = |e: std::io::Error| CompressError::Codec {
            codec: codec.name(),
            message: e.to_string(),
        };
        let (zc, zd) = match codec {
            Codec::Zstd { level } => (
                Some(zstd::bulk::Compressor::new(level).map_err(err)?),
                Some(zstd::bulk::Decompressor::new().map_err(err)?),
            ),
            Codec::ZstdDict { level } => {
                let d = dict.ok_or_else(|| CompressError::MissingDictionary {
                    codec: codec.name(),
                })?;
                (
                    Some(
                        zstd::bulk::Compressor::with_dictionary(level, d.as_bytes())
                            .map_err(err)?,
                    ),
                    Some(zstd::bulk::Decompressor::with_dictionary(d.as_bytes()).map_err(err)?),
                )
            }
            _ => (None, None),
        };
        Ok(Encoder {
            codec,
            zc,
            zd,
            snap_enc: snap::raw::Encoder::new(),
            snap_dec: snap::raw::Decoder::new(),
        })
    }

    /// The codec this encoder runs.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    fn fail(&self, message: String) -> CompressError {
        CompressError::Codec {
            codec: self.codec.name(),
            message,
        }
    }

    /// Compresses `input` into `out` (cleared first); returns the output length.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, CompressError> {
        out.clear();
        match self.codec {
            Codec::None => out.extend_from_slice(input),
            Codec::Snappy => {
                out.resize(snap::raw::max_compress_len(input.len()), 0);
                let n = self
                    .snap_enc
                    .compress(input, out)
                    .map_err(|e| self.fail(e.to_string()))?;
                out.truncate(n);
            }
            Codec::Lz4 => {
                let len = u32::try_from(input.len()).map_err(|_| {
                    self.fail(format!("{} bytes exceed a 4 GiB block", input.len()))
                })?;
                out.resize(4 + lz4_flex::block::get_maximum_output_size(input.len()), 0);
                out[..4].copy_from_slice(&len.to_le_bytes());
                let n = lz4_flex::block::compress_into(input, &mut out[4..])
                    .map_err(|e| self.fail(e.to_string()))?;
                out.truncate(4 + n);
            }
            Codec::Zstd { .. } | Codec::ZstdDict { .. } => {
                out.reserve(zstd::zstd_safe::compress_bound(input.len()));
                let zc = self.zc.as_mut().expect("zstd context made in new");
                zc.compress_to_buffer(input, out)
                    .map_err(|e| CompressError::Codec {
                        codec: self.codec.name(),
                        message: e.to_string(),
                    })?;
            }
        }
        Ok(out.len())
    }

    /// Decompresses `input` into `out` (cleared first); returns the output length.
    pub fn decompress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, CompressError> {
        out.clear();
        match self.codec {
            Codec::None => out.extend_from_slice(input),
            Codec::Snappy => {
                let n = snap::raw::decompress_len(input).map_err(|e| self.fail(e.to_string()))?;
                out.resize(n, 0);
                self.snap_dec
                    .decompress(input, out)
                    .map_err(|e| self.fail(e.to_string()))?;
            }
            Codec::Lz4 => {
                let (len, rest) = lz4_flex::block::uncompressed_size(input)
                    .map_err(|e| self.fail(e.to_string()))?;
                out.resize(len, 0);
                let n = lz4_flex::block::decompress_into(rest, out)
                    .map_err(|e| self.fail(e.to_string()))?;
                if n != len {
                    return Err(self.fail(format!("block decoded to {n} bytes, header says {len}")));
                }
            }
            Codec::Zstd { .. } | Codec::ZstdDict { .. } => {
                let n = zstd::bulk::Decompressor::upper_bound(input)
                    .ok_or_else(|| self.fail("frame records no content size".into()))?;
                out.reserve(n);
                let zd = self.zd.as_mut().expect("zstd context made in new");
                zd.decompress_to_buffer(input, out)
                    .map_err(|e| CompressError::Codec {
                        codec: self.codec.name(),
                        message: e.to_string(),
                    })?;
            }
        }
        Ok(out.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_list_allowed() {
        for c in Codec::STANDARD {
            assert_eq!(c.name().parse::<Codec>().unwrap(), c);
        }
        assert_eq!("zstd".parse::<Codec>().unwrap(), Codec::Zstd { level: 3 });
        for bad in ["gzip", "zstd-0", "zstd-23", "zstd-dict-x", "lz4hc"] {
            let e = bad.parse::<Codec>().unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("zstd-dict-N"), "{e}");
        }
    }

    #[test]
    fn dictionary_codec_without_dictionary_is_an_error() {
        let e = Encoder::new(Codec::ZstdDict { level: 3 }, None).unwrap_err();
        assert!(e.to_string().contains("zstd-dict-3"), "{e}");
    }
}
