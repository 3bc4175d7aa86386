//! HDE: real compression in the loop.
//!
//! This module is a leaf of pure functions: it runs real codecs (snappy, lz4, zstd) on
//! deterministic synthetic guest memory, and turns what they produce into two numbers the
//! simulator needs, *bytes on the wire* and *virtual CPU time*. Wall-clock time never
//! enters a result: CPU time comes from a calibration file ([`calibration`]), measured
//! once per machine with the only wall-clock code in the module ([`calibration::measure`]).
//!
//! Data flow:
//!
//! ```text
//! pages (MemoryImage, PageClass, dirty)   corpus (named byte sets, seed-system data sets)
//!        │                                        │
//!        ▼                                        ▼
//! pageset: zero pages → dedup → codec    selector: adaptive (min predicted time) | SeedPolicy
//!   (per-class bytes in/out)                      │ chooses a Codec
//!        │                                        ▼
//!        ├── sampling: sampled vs full estimate of a whole image
//!        └── xbzrle: delta of a dirtied page against its previous version
//! calibration: MB/s per (codec, page class), ratio → cpu_time_ns(codec, class, bytes, cores)
//! ```
//!
//! What it leaves out: cross-page compression windows (pages are compressed one by one, as
//! QEMU's legacy `compress` capability and XBZRLE do; multifd compresses packets of pages
//! with one stream, which finds more redundancy), the cost of the zero-page check and of
//! hashing for deduplication (both far cheaper than any codec), and cache effects of
//! running beside a guest.
//!
//! Randomness: every draw comes from a named ChaCha8 stream `"compress/..."`
//! ([`crate::engine::rng::RngStreams`]); content is addressed by stable hashes of
//! `(seed, page index)`, so any page can be produced alone, in any order.

#![warn(missing_docs)]

pub mod calibration;
pub mod codec;
pub mod corpus;
pub mod pages;
pub mod pageset;
pub mod sampling;
pub mod selector;
pub mod study;
pub mod xbzrle;

pub use calibration::{Calibration, CalibrationEntry, CalibrationError};
pub use codec::{Codec, Dictionary, Encoder};
pub use corpus::DataSet;
pub use pages::{MemoryImage, MemoryProfile, PageClass, PAGE_SIZE};
pub use pageset::{PageSetEncoder, PageSetStats};
pub use selector::{AdaptiveSelector, NetworkMode, SeedPolicy};

use std::path::PathBuf;
use thiserror::Error;

/// Errors a user can cause through this module's inputs (names, profiles, files).
#[derive(Debug, Error)]
pub enum CompressError {
    /// A name (codec, page class, data set, network mode) that is not a known one.
    #[error("unknown {kind} `{given}`; allowed: {allowed}")]
    UnknownName {
        /// What kind of name (codec, page class, data set, network mode).
        kind: &'static str,
        /// The name as given.
        given: String,
        /// The names allowed.
        allowed: String,
    },
    /// A memory-profile share that is negative or not a finite number.
    #[error("memory profile share `{key}` = {value}: must be a finite number >= 0")]
    BadShare {
        /// The share's key.
        key: &'static str,
        /// The share as given.
        value: f64,
    },
    /// Memory-profile shares whose sum is not 1.
    #[error("memory profile shares ({keys}) sum to {sum}, expected 1 (± 1e-9)")]
    SharesSum {
        /// The shares' keys.
        keys: String,
        /// Their sum.
        sum: f64,
    },
    /// A data-set file that cannot be read.
    #[error("cannot read data set file {path}: {cause}")]
    ReadFile {
        /// The file's path.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// A `zstd-dict-*` codec used without a trained dictionary.
    #[error("codec `{codec}` needs a dictionary (train one with Dictionary::train)")]
    MissingDictionary {
        /// The codec's name.
        codec: String,
    },
    /// A codec library refused its input (corrupt or truncated data, bad level).
    #[error("codec `{codec}`: {message}")]
    Codec {
        /// The codec's name.
        codec: String,
        /// The library's message.
        message: String,
    },
    /// An XBZRLE stream that does not decode to one page.
    #[error("malformed XBZRLE data: {0}")]
    Xbzrle(String),
}
