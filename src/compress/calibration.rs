//! CPU cost model of the codecs, from a per-machine calibration file.
//!
//! What it models: compression and decompression time as linear in the *uncompressed*
//! bytes, at a throughput measured per (codec, page class) on one core, divided by the
//! cores given to the job (perfect scaling, as with independent per-page jobs spread over
//! QEMU multifd channels; real scaling is somewhat worse). Throughput is in MB/s with
//! MB = 10^6 bytes, of uncompressed data in both directions, as lzbench reports it
//! (validation-refs §5), so the numbers can be compared with published tables.
//!
//! What it leaves out: per-call fixed costs (folded into the per-page measurement, since
//! pages are measured one call each), cache and frequency effects of sharing the machine
//! with a guest, and codec `none`, which costs nothing (a copy is not modelled).
//!
//! Wall clock: [`measure`] is the only code in this crate's `compress` module that reads
//! a clock (`std::time::Instant`); its numbers go into a file, and simulations only ever
//! read the file. Invariant: a loaded [`Calibration`] has every page class for every codec
//! it lists, with finite positive numbers.

use super::codec::{Codec, Dictionary, Encoder, MAX_DICTIONARY_BYTES};
use super::pages::{MemoryImage, MemoryProfile, Page, PageClass, PAGE_SIZE};
use super::CompressError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use thiserror::Error;

/// One measured (codec, page class) pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationEntry {
    /// Codec name ([`Codec::name`]), e.g. `zstd-3`.
    pub codec: String,
    /// Page class name ([`PageClass::name`]).
    pub class: String,
    /// Compression throughput, MB/s (10^6 uncompressed bytes per second, one core).
    pub compress_mb_s: f64,
    /// Decompression throughput, MB/s (10^6 uncompressed bytes per second, one core).
    pub decompress_mb_s: f64,
    /// Uncompressed / compressed bytes, codec output only (no migration framing).
    pub ratio: f64,
}

/// A machine's codec calibration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// The machine measured (CPU model, cores).
    pub machine: String,
    /// How and when it was measured.
    pub measured: String,
    /// Measured throughput and ratio, one per (codec, page class).
    pub entries: Vec<CalibrationEntry>,
    /// Where it came from (file path), for error messages.
    #[serde(skip)]
    origin: String,
    /// (codec, class) → index into `entries`; filled by validation.
    #[serde(skip)]
    index: BTreeMap<(Codec, PageClass), usize>,
}

/// Errors loading, checking or writing a calibration.
#[derive(Debug, Error)]
pub enum CalibrationError {
    /// The file cannot be read.
    #[error("cannot read calibration file {path}: {cause}")]
    Read {
        /// The file's path.
        path: String,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape (the message names the key).
    #[error("calibration file {path}: {message}")]
    Parse {
        /// The file's path.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A codec or class name that is not known.
    #[error("calibration file {path}: key `{key}` = \"{given}\" is not a known {kind}; allowed: {allowed}")]
    UnknownName {
        /// The calibration file's path.
        path: String,
        /// The offending key.
        key: String,
        /// What the name should be (codec or page class).
        kind: &'static str,
        /// The name as written.
        given: String,
        /// The names allowed.
        allowed: String,
    },
    /// A throughput or ratio that is not a finite positive number.
    #[error("calibration file {path}: key `{key}` = {value} must be a finite number > 0")]
    NotPositive {
        /// The calibration file's path.
        path: String,
        /// The offending key.
        key: String,
        /// The value as written.
        value: f64,
    },
    /// The same (codec, class) twice.
    #[error("calibration file {path}: codec `{codec}`, class `{class}` appears twice (`entries[{first}]` and `entries[{second}]`)")]
    Duplicate {
        /// The calibration file's path.
        path: String,
        /// The codec's name.
        codec: String,
        /// The page class's name.
        class: String,
        /// Index of the first entry in `entries`.
        first: usize,
        /// Index of the repeated entry in `entries`.
        second: usize,
    },
    /// A codec listed without all page classes.
    #[error("calibration file {path}: key `entries` has codec `{codec}` but no entry for class `{class}`; each codec needs every class: {allowed}")]
    Missing {
        /// The calibration file's path.
        path: String,
        /// The codec's name.
        codec: String,
        /// The page class with no entry.
        class: String,
        /// Every class a codec needs.
        allowed: String,
    },
    /// A codec asked for that the calibration does not have.
    #[error("calibration {path} has no entries for codec `{codec}`; calibrated: {available}")]
    NotCalibrated {
        /// The calibration's path.
        path: String,
        /// The codec asked for.
        codec: String,
        /// The codecs the calibration has.
        available: String,
    },
    /// The file cannot be written.
    #[error("cannot write calibration file {path}: {cause}")]
    Write {
        /// The file's path.
        path: String,
        /// The I/O error.
        cause: std::io::Error,
    },
}

impl Calibration {
    /// A checked calibration from entries (origin names it in errors, e.g. a path).
    pub fn new(
        machine: String,
        measured: String,
        entries: Vec<CalibrationEntry>,
        origin: &str,
    ) -> Result<Self, CalibrationError> {
        let mut c = Calibration {
            machine,
            measured,
            entries,
            origin: origin.to_string(),
            index: BTreeMap::new(),
        };
        c.validate()?;
        Ok(c)
    }

    /// Loads and checks a calibration file.
    pub fn load(path: &Path) -> Result<Self, CalibrationError> {
        let text = std::fs::read_to_string(path).map_err(|cause| CalibrationError::Read {
            path: path.display().to_string(),
            cause,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and checks calibration TOML; `origin` names the source in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, CalibrationError> {
        let mut c: Calibration = toml::from_str(text).map_err(|e| CalibrationError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        c.origin = origin.to_string();
        c.validate()?;
        Ok(c)
    }

    /// Where the calibration came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    fn validate(&mut self) -> Result<(), CalibrationError> {
        let path = self.origin.clone();
        self.index.clear();
        for (k, e) in self.entries.iter().enumerate() {
            let codec: Codec = e.codec.parse().map_err(|_| CalibrationError::UnknownName {
                path: path.clone(),
                key: format!("entries[{k}].codec"),
                kind: "codec",
                given: e.codec.clone(),
                allowed: Codec::allowed_names(),
            })?;
            let class: PageClass = e.class.parse().map_err(|_| CalibrationError::UnknownName {
                path: path.clone(),
                key: format!("entries[{k}].class"),
                kind: "page class",
                given: e.class.clone(),
                allowed: PageClass::allowed_names(),
            })?;
            for (key, value) in [
                ("compress_mb_s", e.compress_mb_s),
                ("decompress_mb_s", e.decompress_mb_s),
                ("ratio", e.ratio),
            ] {
                if !(value.is_finite() && value > 0.0) {
                    return Err(CalibrationError::NotPositive {
                        path: path.clone(),
                        key: format!("entries[{k}].{key}"),
                        value,
                    });
                }
            }
            if let Some(&first) = self.index.get(&(codec, class)) {
                return Err(CalibrationError::Duplicate {
                    path,
                    codec: e.codec.clone(),
                    class: e.class.clone(),
                    first,
                    second: k,
                });
            }
            self.index.insert((codec, class), k);
        }
        for codec in self.codecs() {
            for class in PageClass::ALL {
                if !self.index.contains_key(&(codec, class)) {
                    return Err(CalibrationError::Missing {
                        path,
                        codec: codec.name(),
                        class: class.name().into(),
                        allowed: PageClass::allowed_names(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The codecs this calibration covers, in order.
    pub fn codecs(&self) -> Vec<Codec> {
        let mut v: Vec<Codec> = self.index.keys().map(|(c, _)| *c).collect();
        v.dedup();
        v
    }

    /// Checks that every codec in `codecs` (but `none`, which costs nothing) is covered;
    /// call it when a configuration is loaded, so the cost functions cannot fail later.
    pub fn require(&self, codecs: &[Codec]) -> Result<(), CalibrationError> {
        let have = self.codecs();
        for c in codecs {
            if *c != Codec::None && !have.contains(c) {
                return Err(CalibrationError::NotCalibrated {
                    path: self.origin.clone(),
                    codec: c.name(),
                    available: have.iter().map(|c| c.name()).collect::<Vec<_>>().join(", "),
                });
            }
        }
        Ok(())
    }

    /// The entry for (codec, class), if calibrated.
    pub fn entry(&self, codec: Codec, class: PageClass) -> Option<&CalibrationEntry> {
        self.index.get(&(codec, class)).map(|&k| &self.entries[k])
    }

    /// Seconds per uncompressed byte on one core, by `f` of an entry; for `class = None`
    /// the mean over the content classes (data of unknown kind).
    fn secs_per_byte(
        &self,
        codec: Codec,
        class: Option<PageClass>,
        f: fn(&CalibrationEntry) -> f64,
    ) -> f64 {
        let get = |c: PageClass| {
            let e = self.entry(codec, c).unwrap_or_else(|| {
                panic!(
                    "calibration {} has no codec `{codec}` (class `{c}`); check configs with Calibration::require",
                    self.origin
                )
            });
            1.0 / (f(e) * 1e6)
        };
        match class {
            Some(c) => get(c),
            None => {
                PageClass::CONTENT.iter().map(|&c| get(c)).sum::<f64>()
                    / PageClass::CONTENT.len() as f64
            }
        }
    }

    /// Virtual time to compress `bytes` uncompressed bytes of `class` on `cores` cores, ns.
    /// `none` costs 0. Panics if the codec is not calibrated (see [`Calibration::require`]).
    pub fn cpu_time_ns(
        &self,
        codec: Codec,
        class: Option<PageClass>,
        bytes: u64,
        cores: u32,
    ) -> u64 {
        self.time_ns(codec, class, bytes, cores, |e| e.compress_mb_s)
    }

    /// Virtual time to decompress data that was `bytes` uncompressed bytes, ns.
    pub fn decompress_time_ns(
        &self,
        codec: Codec,
        class: Option<PageClass>,
        bytes: u64,
        cores: u32,
    ) -> u64 {
        self.time_ns(codec, class, bytes, cores, |e| e.decompress_mb_s)
    }

    fn time_ns(
        &self,
        codec: Codec,
        class: Option<PageClass>,
        bytes: u64,
        cores: u32,
        f: fn(&CalibrationEntry) -> f64,
    ) -> u64 {
        assert!(cores >= 1, "cpu time for 0 cores");
        if codec == Codec::None || bytes == 0 {
            return 0;
        }
        (bytes as f64 * self.secs_per_byte(codec, class, f) * 1e9 / cores as f64).round() as u64
    }

    /// The TOML text, with a header comment naming the machine and units.
    pub fn to_toml_string(&self) -> String {
        let body = toml::to_string(self).expect("a calibration serialises");
        format!(
            "# dwcp-sim codec calibration (read by compress::calibration).\n\
             # Machine: {}\n\
             # Measured: {}\n\
             # Units: compress_mb_s / decompress_mb_s = 10^6 *uncompressed* bytes per second on\n\
             # one core, one 4 KiB page per call; ratio = uncompressed / codec output (no framing).\n\
             # Regenerate with: cargo run --release -- calibrate --out calibration/default.toml\n\n{body}",
            self.machine, self.measured
        )
    }

    /// Writes the file atomically (a temporary file in the same folder, then a rename).
    pub fn save(&self, path: &Path) -> Result<(), CalibrationError> {
        let werr = |cause| CalibrationError::Write {
            path: path.display().to_string(),
            cause,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(werr)?;
        }
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, self.to_toml_string()).map_err(werr)?;
        std::fs::rename(&tmp, path).map_err(werr)
    }
}

/// What [`measure`] measures and how long it takes.
#[derive(Clone, Debug)]
pub struct MeasureOptions {
    /// Codecs to measure.
    pub codecs: Vec<Codec>,
    /// Pages per class per timed run (fast codecs; levels ≥ 10 use a quarter).
    pub pages: usize,
    /// Timed runs per (codec, class); the median is kept.
    pub repeats: usize,
    /// Seed of the generated pages and of the dictionary sample.
    pub seed: u64,
}

impl MeasureOptions {
    /// Full calibration: 2048 pages (8 MiB) per class, median of 7 runs (~30 s in release
    /// mode on a 2020s x86 core). Quick: 256 pages, 3 runs (a few seconds; for smoke
    /// tests, not for results).
    pub fn new(quick: bool) -> Self {
        MeasureOptions {
            codecs: Codec::STANDARD
                .iter()
                .copied()
                .filter(|c| *c != Codec::None)
                .collect(),
            pages: if quick { 256 } else { 2048 },
            repeats: if quick { 3 } else { 7 },
            seed: 1,
        }
    }
}

/// The pages a class is measured on: generated pages of that class; duplicates are
/// copies of content pages of the default profile, zero pages are zero.
fn class_pages(class: PageClass, n: usize, seed: u64) -> Vec<Page> {
    let mut pages = vec![[0u8; PAGE_SIZE]; n];
    match class {
        PageClass::Zero => {}
        PageClass::Duplicate => {
            let img = MemoryImage::new(MemoryProfile::default(), 1 << 30, seed);
            let mut k = 0;
            let mut i = 0;
            while k < n {
                if img.class(i) == PageClass::Duplicate {
                    img.page(i, &mut pages[k]);
                    k += 1;
                }
                i += 1;
            }
        }
        c => {
            let img = MemoryImage::new(MemoryProfile::only(c), n as u64, seed);
            for (i, p) in pages.iter_mut().enumerate() {
                img.page(i as u64, p);
            }
        }
    }
    pages
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Times real compression and decompression, one page per call, of generated pages of
/// every class with every codec in `opts`; MB/s is the median over `opts.repeats` runs
/// after one warm-up run. `progress` gets one line per (codec, class). The only use of
/// the wall clock in the module; the result is meant to be saved, not used live.
pub fn measure(
    opts: &MeasureOptions,
    machine: String,
    mut progress: impl FnMut(&str),
) -> Result<Calibration, CompressError> {
    use std::time::Instant;
    let started = Instant::now();
    // Other load on the machine lowers the numbers; record it with them.
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    let dict = if opts.codecs.iter().any(|c| c.needs_dictionary()) {
        // Same image seed as the measured pages (so the same per-image tables: what a
        // dictionary trained on this guest would know), but pages 2^21 and up, which the
        // measured pages (indices below `opts.pages`) never are.
        let img = MemoryImage::new(MemoryProfile::default(), 1 << 22, opts.seed);
        let idx = (0..1000u64).map(|k| (1 << 21) + k * 2048);
        Some(Dictionary::train_from_pages(
            &img,
            idx,
            MAX_DICTIONARY_BYTES,
        )?)
    } else {
        None
    };
    let mut entries = Vec::new();
    let mut comp = Vec::with_capacity(2 * PAGE_SIZE);
    let mut back = Vec::with_capacity(PAGE_SIZE);
    for class in PageClass::ALL {
        let all_pages = class_pages(class, opts.pages, opts.seed);
        for &codec in &opts.codecs {
            let n = match codec {
                Codec::Zstd { level } | Codec::ZstdDict { level } if level >= 10 => {
                    (opts.pages / 4).max(1)
                }
                _ => opts.pages,
            };
            let pages = &all_pages[..n];
            let mut enc = Encoder::new(codec, dict.as_ref())?;
            let compressed: Vec<Vec<u8>> = pages
                .iter()
                .map(|p| {
                    enc.compress(p, &mut comp)?;
                    Ok(comp.clone())
                })
                .collect::<Result<_, CompressError>>()?;
            let out_bytes: usize = compressed.iter().map(|c| c.len()).sum();
            for (p, c) in pages.iter().zip(&compressed) {
                enc.decompress(c, &mut back)?;
                assert_eq!(
                    &back[..],
                    &p[..],
                    "{codec} does not round-trip a {class} page"
                );
            }
            let bytes = (n * PAGE_SIZE) as f64;
            let mut ct = Vec::new();
            let mut dt = Vec::new();
            for _ in 0..opts.repeats {
                let t = Instant::now();
                for p in pages {
                    enc.compress(p, &mut comp)?;
                    std::hint::black_box(&comp);
                }
                ct.push(bytes / t.elapsed().as_secs_f64() / 1e6);
                let t = Instant::now();
                for c in &compressed {
                    enc.decompress(c, &mut back)?;
                    std::hint::black_box(&back);
                }
                dt.push(bytes / t.elapsed().as_secs_f64() / 1e6);
            }
            let e = CalibrationEntry {
                codec: codec.name(),
                class: class.name().into(),
                compress_mb_s: round_sig(median(ct)),
                decompress_mb_s: round_sig(median(dt)),
                ratio: round_sig(bytes / out_bytes as f64),
            };
            progress(&format!(
                "{:12} {:9} compress {:>9.1} MB/s  decompress {:>9.1} MB/s  ratio {:>8.3}",
                e.codec, e.class, e.compress_mb_s, e.decompress_mb_s, e.ratio
            ));
            entries.push(e);
        }
    }
    let measured = format!(
        "{} UTC by `dwcp-sim calibrate`: {} pages per class ({} for zstd levels >= 10), median of {} runs, one page per call, one thread, seed {}; 1-min load average before {}; took {:.1} s",
        utc_date_today(),
        opts.pages,
        (opts.pages / 4).max(1),
        opts.repeats,
        opts.seed,
        load,
        started.elapsed().as_secs_f64()
    );
    Ok(Calibration::new(machine, measured, entries, "<measured>")
        .expect("measured numbers are positive and complete"))
}

/// Four significant digits: more would be noise.
fn round_sig(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let d = 4 - 1 - x.abs().log10().floor() as i32;
    let m = 10f64.powi(d);
    (x * m).round() / m
}

/// CPU model and core count, from `/proc/cpuinfo` (Linux) and the OS.
pub fn describe_machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{model}, {cores} logical cores available, {}",
        std::env::consts::ARCH
    )
}

/// Today's date (UTC) as YYYY-MM-DD, for the calibration header.
fn utc_date_today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries_for(codec: &str) -> Vec<CalibrationEntry> {
        PageClass::ALL
            .iter()
            .map(|c| CalibrationEntry {
                codec: codec.into(),
                class: c.name().into(),
                compress_mb_s: 500.0,
                decompress_mb_s: 2000.0,
                ratio: 2.0,
            })
            .collect()
    }

    #[test]
    fn cpu_time_is_linear_and_scales_with_cores() {
        let c = Calibration::new("m".into(), "t".into(), entries_for("lz4"), "test").unwrap();
        // 500 MB/s → 2 ns per byte; 1 MB = 10^6 B → 2 ms on one core, 1 ms on two.
        assert_eq!(
            c.cpu_time_ns(Codec::Lz4, Some(PageClass::Heap), 1_000_000, 1),
            2_000_000
        );
        assert_eq!(
            c.cpu_time_ns(Codec::Lz4, Some(PageClass::Heap), 1_000_000, 2),
            1_000_000
        );
        assert_eq!(
            c.decompress_time_ns(Codec::Lz4, None, 1_000_000, 1),
            500_000
        );
        assert_eq!(
            c.cpu_time_ns(Codec::None, None, 1_000_000, 1),
            0,
            "none is free"
        );
        assert!(c.require(&[Codec::Lz4, Codec::None]).is_ok());
        let e = c.require(&[Codec::Snappy]).unwrap_err().to_string();
        assert!(e.contains("snappy") && e.contains("lz4"), "{e}");
    }

    #[test]
    fn round_trip_through_toml() {
        let c = Calibration::new("m".into(), "t".into(), entries_for("zstd-3"), "test").unwrap();
        let back = Calibration::from_toml_str(&c.to_toml_string(), "test").unwrap();
        assert_eq!(back.entries, c.entries);
        assert_eq!(back.machine, "m");
    }

    #[test]
    fn civil_date_known_value() {
        // Sanity of the format only (the value depends on today).
        let d = utc_date_today();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"), "{d}");
    }
}
