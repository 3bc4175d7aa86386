//! The dirtying process: a guest's vCPUs writing pages at a rate, mostly inside a working
//! set, a hot part of it more than the rest.
//!
//! What it models: page *writes* at `rate_pages_per_s` (a deterministic count with a
//! fractional carry, so a run of any length has exactly ⌊rate × time⌋ writes), each landing
//! uniformly in the hot part of the working set with probability `hot_share` and uniformly
//! in the cold part otherwise; vCPU throttling (QEMU's auto-converge, VMware's SDPS: the
//! rate scales by `1 − throttle`); and a stopped VM (stop-and-copy), which writes nothing.
//! What it leaves out: phases and bursts (the rate is constant between calls), sequential
//! sweeps (real `stress`-like loops touch every page of a buffer in order; here pages are
//! drawn independently), writes by devices (DMA), and which bytes change (that is
//! [`crate::compress::pages::dirty`]'s job; [`DirtyConfig::bytes_per_write`] tells an
//! engine how much to change).
//!
//! The working set is scattered over memory, not a prefix, so that it mixes page classes:
//! slot `k` of the working set is page `(k·m + o) mod pages` with `m` coprime to `pages`,
//! a bijection; `m` and `o` are the first draws of the dirtier's stream. Slots
//! `0..hot` are the hot part, `hot..ws` the cold part.
//!
//! Performance shortcut: when the writes due to one part in one [`Dirtier::advance`] call
//! exceed 20 × the part's size, every page of the part is written at least once with
//! probability > 1 − size·e⁻²⁰ (a page misses all n writes with probability
//! (1 − 1/size)ⁿ < e^(−n/size) < e⁻²⁰ ≈ 2·10⁻⁹, and the union bound over the part's pages);
//! the dirtier then writes each page of the part once instead of drawing n pages. The dirty
//! set is what it would have been; versions then count one write per page for that call,
//! not n/size. Otherwise a write costs one uniform draw, one multiply-mod and a bitmap set:
//! O(1), no allocation.

use super::memory::GuestMemory;
use crate::compress::pages::PAGE_SIZE;
use crate::engine::{SimRng, SimTime};
use rand::Rng;
use rand_distr::{Binomial, Distribution};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The largest accepted write rate, in pages per second (1e9 pages/s is about 4 TB/s, far
/// above any memory bandwidth); it keeps the integer write accounting from overflowing.
pub const MAX_RATE_PAGES_PER_S: f64 = 1e9;

/// A shortcut part is written whole once more than this many writes per page are due.
const WHOLE_PART_FACTOR: u64 = 20;

/// How a guest dirties its memory.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirtyConfig {
    /// Bytes of memory the guest writes to (the writable working set), ≤ the VM's memory;
    /// rounded up to whole pages.
    pub working_set_bytes: u64,
    /// Page writes per second (finite, 0 ≤ rate ≤ [`MAX_RATE_PAGES_PER_S`]). Not distinct
    /// pages: a page written twice counts twice. Counted exactly to 0.001 pages/s (the rate
    /// is rounded to 3 decimals once).
    pub rate_pages_per_s: f64,
    /// Share of the working set that is hot, in [0, 1].
    pub hot_fraction: f64,
    /// Share of the writes that land in the hot part, in [0, 1].
    pub hot_share: f64,
    /// Bytes one write changes inside a page (what an XBZRLE delta sees), in 1..=4096.
    pub bytes_per_write: u32,
}

impl DirtyConfig {
    /// Checks the config against a VM of `memory_bytes`; the message names the key.
    pub fn validate(&self, memory_bytes: u64) -> Result<(), String> {
        if self.working_set_bytes > memory_bytes {
            return Err(format!(
                "`working_set_bytes` = {} exceeds the VM's memory ({memory_bytes} bytes)",
                self.working_set_bytes
            ));
        }
        let r = self.rate_pages_per_s;
        if !r.is_finite() || !(0.0..=MAX_RATE_PAGES_PER_S).contains(&r) {
            return Err(format!(
                "`rate_pages_per_s` = {r} must be finite and in [0, {MAX_RATE_PAGES_PER_S:e}]"
            ));
        }
        if r > 0.0 && self.working_set_bytes == 0 {
            return Err(format!(
                "`working_set_bytes` is 0 but `rate_pages_per_s` = {r}: the writes have no page to land on"
            ));
        }
        for (key, v) in [
            ("hot_fraction", self.hot_fraction),
            ("hot_share", self.hot_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("`{key}` = {v} must be in [0, 1]"));
            }
        }
        if !(1..=PAGE_SIZE as u32).contains(&self.bytes_per_write) {
            return Err(format!(
                "`bytes_per_write` = {} must be in 1..={PAGE_SIZE}",
                self.bytes_per_write
            ));
        }
        Ok(())
    }

    /// Working-set pages in a memory of `pages` pages (bytes rounded up, capped at `pages`).
    pub fn working_set_pages(&self, pages: u64) -> u64 {
        self.working_set_bytes.div_ceil(PAGE_SIZE as u64).min(pages)
    }
}

/// Named dirtying presets, scaled to the VM's memory by [`Workload::config`].
///
/// QEMU's `calc-dirty-rate` reports *distinct* pages dirtied in a window per second (in
/// MB/s), a lower bound of the page-write rate that [`DirtyConfig::rate_pages_per_s`]
/// counts; each preset says what its parameters give in those terms for a 1 GiB VM over a
/// 1 s window (C: computed from W·(1 − e^(−n/W)) per part, and checked by the test
/// `presets_land_in_their_documented_ranges`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Workload {
    /// A booted guest doing little: 1500 writes/s into a working set of 5% of memory, a
    /// hot 5% of it taking half of the writes, 64 bytes per write. About 1200 distinct
    /// pages/s (≈ 4.8 MB/s) in 1 s windows.
    ///
    /// Rate: **measured, weak** — the QEMU commit "migration/dirtyrate: Show sample pages
    /// only in page-sampling mode" (bd9510d, read in the chromium mirror of QEMU) shows
    /// `calc_dirty_rate` in dirty-bitmap mode over 10 s reporting **2 MB/s** on an
    /// unspecified guest, and KubeVirt PR #10302's usage example shows a freshly created
    /// Fedora VMI at dirty-rate averages of **8, then 4** (unit not stated there; QEMU
    /// reports MB/s). The preset sits inside 2–8 MB/s. Working set, hotness and bytes per
    /// write are **assumptions** (kernel timers, RCU, log and page-cache metadata: small
    /// scattered stores).
    Idle,
    /// A web or application server: 10 000 writes/s into 25% of memory, a hot 5% (request
    /// buffers, session tables, allocator heads) taking 90% of them, 128 bytes per write.
    /// About 4060 distinct pages/s (≈ 17 MB/s) in 1 s windows.
    ///
    /// **Assumption**, bounded by measurements: above the idle guests (2–8 MB/s, see
    /// [`Workload::Idle`]) and below the ≈ 650 Mbit/s (≈ 81 MB/s) that a KubeVirt
    /// maintainer measured for an *idle* OpenShift guest, which runs a whole Kubernetes
    /// node stack (kubevirt/enhancements PR #249, comment of 2026-04-13, 1 Gbps link).
    /// Clark et al. (NSDI 2005) measured SPECweb99's writable working set, but only their
    /// introduction was read (validation-refs §1a), so no figure of theirs is used.
    WebServer,
    /// A write-heavy database: 50 000 writes/s into 50% of memory (the buffer pool), a hot
    /// 10% taking 80% of them, 256 bytes per write (row, page header and LSN updates).
    /// About 22 000 distinct pages/s (≈ 90 MB/s) in 1 s windows on 1 GiB, and ≈ 177 MB/s
    /// on 8 GiB, where the working set is larger.
    ///
    /// **Assumption**, chosen so that an 8 GiB database guest dirties faster than 1 GbE
    /// sends (125 MB/s): Harvester's upgrade docs (harvester/docs PR #1090) and KubeVirt's
    /// post-copy docs (openshift-docs PR #84389) say that write-heavy workloads "such as
    /// busy databases" can dirty faster than migration bandwidth and never converge, but
    /// give no rate. In qemu-devel ("Re: [PATCH v17 6/8] softmmu/dirtylimit: Implement
    /// virtual CPU throttle", 2022-06-13) a tester saw ≈ 500 MB/s of dirtying from
    /// virtio-scsi disk reads alone (the reply doubts whether swap-out caused part of it):
    /// a loose upper bound for a guest whose writes come through its disk.
    Database,
    /// A memory-bandwidth-bound guest (`stress --vm`, QEMU's migration stress test):
    /// 1 000 000 writes/s spread uniformly over 90% of memory, whole pages rewritten
    /// (4096 bytes per write).
    ///
    /// Sources (read): QEMU's `docs/rdma.txt` stresses an 8 GB guest with
    /// `stress --vm-bytes 7500M` (working set ≈ 90%); QEMU's `tests/migration/stress.c`
    /// XORs every 8-byte word of every page of its buffer, so each write changes the whole
    /// page; a cloud-hypervisor pre-copy log of a 6 GiB guest (PR #7799) re-sends
    /// ≈ 5418 MiB (88% of memory) every ≈ 3 s iteration, and cloud-hypervisor issue #8899
    /// measures downtime at "400k dirty pages/s". The rate is an **assumption** fitted to
    /// the log: uniform writes at 10⁶/s over 90% of 6 GiB dirty ≈ 4870 MiB in 3 s (C),
    /// 10% under the logged 5418 MiB, and ≈ 720 000 distinct pages in the first second
    /// (the same order as the 400k pages/s).
    MemoryIntensive,
}

impl Workload {
    /// All presets, lightest first.
    pub const ALL: [Workload; 4] = [
        Workload::Idle,
        Workload::WebServer,
        Workload::Database,
        Workload::MemoryIntensive,
    ];

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Idle => "idle",
            Workload::WebServer => "web-server",
            Workload::Database => "database",
            Workload::MemoryIntensive => "memory-intensive",
        }
    }

    /// The allowed names, comma-separated, for error messages.
    pub fn allowed_names() -> String {
        Workload::ALL.map(|w| w.name()).join(", ")
    }

    /// The preset for a VM of `memory_bytes`: the working set is its share of memory
    /// rounded down to whole pages (at least one page when the VM has one).
    pub fn config(self, memory_bytes: u64) -> DirtyConfig {
        // (working-set share, writes/s, hot_fraction, hot_share, bytes per write)
        let (ws, rate, hot_fraction, hot_share, bytes_per_write) = match self {
            Workload::Idle => (0.05, 1_500.0, 0.05, 0.5, 64),
            Workload::WebServer => (0.25, 10_000.0, 0.05, 0.9, 128),
            Workload::Database => (0.50, 50_000.0, 0.10, 0.8, 256),
            Workload::MemoryIntensive => (0.90, 1_000_000.0, 1.0, 1.0, 4096),
        };
        let page = PAGE_SIZE as u64;
        let pages = memory_bytes / page;
        let ws_pages = ((pages as f64 * ws) as u64).clamp(pages.min(1), pages);
        DirtyConfig {
            working_set_bytes: ws_pages * page,
            rate_pages_per_s: rate,
            hot_fraction,
            hot_share,
            bytes_per_write,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Workload::ALL
            .into_iter()
            .find(|w| w.name() == s.trim())
            .ok_or_else(|| {
                format!(
                    "unknown workload `{s}`; allowed: {}",
                    Workload::allowed_names()
                )
            })
    }
}

/// Write accounting unit: one write is `1000 (milli-writes) × 10⁶ (ppm of speed) × 10¹²
/// (ps per s)` credits, so a rate with up to 3 decimals and a throttle with up to 6 add up
/// exactly in integers.
const CREDITS_PER_WRITE: u128 = 1_000 * 1_000_000 * 1_000_000_000_000;

/// Drives a [`GuestMemory`]'s writes over virtual time. Sans-I/O: the caller says what time
/// it is ([`advance`](Self::advance)); the dirtier owns only its stream and its counters.
#[derive(Clone, Debug)]
pub struct Dirtier {
    cfg: DirtyConfig,
    pages: u64,
    ws: u64,
    hot: u64,
    mult: u64,
    offset: u64,
    rng: SimRng,
    last: SimTime,
    /// Rate in milli-writes per second (quantized once: 3 decimals).
    rate_mpps: u64,
    /// Speed `1 − throttle` in parts per million.
    speed_ppm: u64,
    throttle: f64,
    /// Credits not yet worth a whole write.
    credit: u128,
    paused: bool,
    writes: u64,
}

impl Dirtier {
    /// A dirtier for a memory of `pages` pages, drawing from `rng` (pass a named stream,
    /// e.g. `"vm/3/dirty"`). Its clock starts at time zero, running, unthrottled. Errors if
    /// `cfg` is invalid for `pages` pages of memory ([`DirtyConfig::validate`]).
    pub fn new(cfg: DirtyConfig, pages: u64, mut rng: SimRng) -> Result<Self, String> {
        cfg.validate(pages * PAGE_SIZE as u64)?;
        let ws = cfg.working_set_pages(pages);
        let hot = ((cfg.hot_fraction * ws as f64).round() as u64).min(ws);
        let (mult, offset) = if pages <= 1 {
            (1, 0)
        } else {
            let mut m = rng.random_range(1..pages);
            // Walk to the next unit mod `pages`; 1 is one, so this ends.
            while gcd(m, pages) != 1 {
                m = m % (pages - 1) + 1;
            }
            (m, rng.random_range(0..pages))
        };
        Ok(Dirtier {
            cfg,
            pages,
            ws,
            hot,
            mult,
            offset,
            rng,
            last: SimTime::ZERO,
            rate_mpps: (cfg.rate_pages_per_s * 1000.0).round() as u64,
            speed_ppm: 1_000_000,
            throttle: 0.0,
            credit: 0,
            paused: false,
            writes: 0,
        })
    }

    /// The config it runs.
    pub fn config(&self) -> &DirtyConfig {
        &self.cfg
    }

    /// Pages in the working set.
    pub fn working_set_pages(&self) -> u64 {
        self.ws
    }

    /// Pages in the hot part (working-set slots `0..hot_pages()`).
    pub fn hot_pages(&self) -> u64 {
        self.hot
    }

    /// The page that working-set slot `k` (< [`working_set_pages`](Self::working_set_pages))
    /// maps to: `(k·m + o) mod pages`, a bijection of `0..pages`.
    #[inline]
    pub fn page_of_slot(&self, k: u64) -> u64 {
        debug_assert!(k < self.ws.max(1));
        if self.pages <= u32::MAX as u64 {
            // k, m, o < pages < 2³², so k·m < 2⁶⁴.
            ((k * self.mult) % self.pages + self.offset) % self.pages
        } else {
            ((k as u128 * self.mult as u128 + self.offset as u128) % self.pages as u128) as u64
        }
    }

    /// Page writes performed so far (the rate's count; see the module doc for how the
    /// whole-part shortcut counts them).
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// The time up to which writes have been performed.
    pub fn now(&self) -> SimTime {
        self.last
    }

    /// The current throttle (0 = full speed).
    pub fn throttle(&self) -> f64 {
        self.throttle
    }

    /// Whether the VM is stopped.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Slows the vCPUs: from the next [`advance`](Self::advance) on, the write rate is
    /// `rate × (1 − throttle)` (quantized to 10⁻⁶). Call `advance(now)` first so the old
    /// throttle applies up to now. Panics unless `0 ≤ throttle < 1` (auto-converge caps at
    /// 99%; a stopped VM is [`pause`](Self::pause)).
    pub fn set_throttle(&mut self, throttle: f64) {
        assert!(
            (0.0..1.0).contains(&throttle),
            "throttle {throttle} outside [0, 1) at {}",
            self.last
        );
        self.throttle = throttle;
        self.speed_ppm = ((1.0 - throttle) * 1e6).round() as u64;
    }

    /// Stops the VM: no writes until [`resume`](Self::resume). Call `advance(now)` first;
    /// time between the last advance and the resume writes nothing.
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Restarts a paused VM at `at` (≥ the last advance); writes accrue from `at` on.
    pub fn resume(&mut self, at: SimTime) {
        assert!(
            at >= self.last,
            "resume at {at} before the dirtier's time {}",
            self.last
        );
        self.paused = false;
        self.last = at;
    }

    /// Performs the page writes due between the last call and `to` on `mem` and returns how
    /// many there were: ⌊carry + rate × (1 − throttle) × Δt⌋, the remainder carried to the
    /// next call, so a run's total is exact whatever the call pattern. A paused VM writes
    /// nothing. Panics if `to` is before the last call or `mem` has another size.
    pub fn advance(&mut self, to: SimTime, mem: &mut GuestMemory) -> u64 {
        assert_eq!(
            mem.pages(),
            self.pages,
            "dirtier of {} pages given a {}-page memory",
            self.pages,
            mem.pages()
        );
        self.advance_into(to, mem)
    }

    /// [`advance`](Self::advance) with the writes going to `sink`, which may stop the call
    /// (a post-copy destination whose every vCPU stalled on a missing page): the writes
    /// after the one the sink refused are not performed and not counted, lost as a paused
    /// VM's are. Returns the writes performed. With a sink that takes every write (a
    /// [`GuestMemory`]) this draws and writes exactly what `advance` does. The sink must
    /// cover the dirtier's pages.
    pub fn advance_into<S: PageSink>(&mut self, to: SimTime, sink: &mut S) -> u64 {
        assert!(
            to >= self.last,
            "dirtier advanced backwards: from {} to {to}",
            self.last
        );
        let dt = to.since(self.last).as_ps();
        self.last = to;
        if self.paused || dt == 0 {
            return 0;
        }
        // ≤ 10¹² · 10⁶ · 1.8·10¹⁹ < 2¹²⁸ (rate ≤ 10⁹ pages/s by validation).
        self.credit += self.rate_mpps as u128 * self.speed_ppm as u128 * dt as u128;
        let n = (self.credit / CREDITS_PER_WRITE) as u64;
        self.credit %= CREDITS_PER_WRITE;
        if n == 0 {
            return 0;
        }
        let done = self.perform(n, sink);
        self.writes += done;
        done
    }

    /// Splits `n` writes between the hot and cold parts and performs them; returns how
    /// many were performed (`n` unless the sink stopped the call).
    fn perform<S: PageSink>(&mut self, n: u64, sink: &mut S) -> u64 {
        let cold = self.ws - self.hot;
        let n_hot = if self.hot == 0 {
            0
        } else if cold == 0 {
            n
        } else {
            // Each write independently hot with p = hot_share: the hot count is binomial.
            Binomial::new(n, self.cfg.hot_share)
                .expect("hot_share was validated to lie in [0, 1]")
                .sample(&mut self.rng)
        };
        let hot = self.write_part(0, self.hot, n_hot, sink);
        if hot < n_hot {
            return hot;
        }
        hot + self.write_part(self.hot, cold, n - n_hot, sink)
    }

    /// `count` uniform writes to slots `start..start + size`, or each slot once if
    /// `count > 20 × size` (the module doc's shortcut). Returns the writes performed, in
    /// the rate's count: `count`, or, if the sink stopped the call, the writes up to and
    /// including the refused one (in the shortcut, one per page written).
    fn write_part<S: PageSink>(&mut self, start: u64, size: u64, count: u64, sink: &mut S) -> u64 {
        if count == 0 || size == 0 {
            return count;
        }
        if count > WHOLE_PART_FACTOR.saturating_mul(size) {
            for k in start..start + size {
                if !sink.write_page(self.page_of_slot(k)) {
                    return k - start + 1;
                }
            }
        } else {
            for i in 0..count {
                let k = start + self.rng.random_range(0..size);
                if !sink.write_page(self.page_of_slot(k)) {
                    return i + 1;
                }
            }
        }
        count
    }
}

/// Where a [`Dirtier`]'s writes land ([`Dirtier::advance_into`]).
pub trait PageSink {
    /// The guest writes `page`. The write is taken either way (applied, or held by the
    /// sink until it can be); `false` says the guest can write nothing more for now, and
    /// the dirtier performs no further write in this call.
    fn write_page(&mut self, page: u64) -> bool;
}

/// Source-side memory takes every write at once ([`GuestMemory::write`]).
impl PageSink for GuestMemory {
    #[inline]
    fn write_page(&mut self, page: u64) -> bool {
        self.write(page);
        true
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::pages::{MemoryProfile, PageClass};
    use crate::engine::{RngStreams, SimDuration};

    const GIB: u64 = 1 << 30;

    fn cfg(ws_pages: u64, rate: f64, hot_fraction: f64, hot_share: f64) -> DirtyConfig {
        DirtyConfig {
            working_set_bytes: ws_pages * PAGE_SIZE as u64,
            rate_pages_per_s: rate,
            hot_fraction,
            hot_share,
            bytes_per_write: 64,
        }
    }

    fn setup(pages: u64, c: DirtyConfig, seed: u64) -> (GuestMemory, Dirtier) {
        let mem = GuestMemory::new(pages, MemoryProfile::default(), seed);
        let rng = RngStreams::new(seed).stream("migration/test/dirty");
        (mem, Dirtier::new(c, pages, rng).expect("valid config"))
    }

    fn at(s: f64) -> SimTime {
        SimTime::from_ps((s * 1e12) as u64)
    }

    #[test]
    fn distinct_pages_follow_the_occupancy_formula() {
        // n uniform writes over W pages leave W(1 − e^(−n/W)) distinct pages on average,
        // with variance W·e^(−λ)(1 − (1 + λ)e^(−λ)) for λ = n/W. W = 100 000:
        // λ = 0.5: mean 39 347, sd ≈ 112;  λ = 1: mean 63 212, sd ≈ 99;
        // λ = 3: mean 95 021, sd ≈ 62. A tolerance of 700 is > 6 sd in each.
        let w = 100_000u64;
        for lambda in [0.5f64, 1.0, 3.0] {
            // hot_fraction 0: one uniform part.
            let (mut mem, mut d) = setup(400_000, cfg(w, 1e5, 0.0, 0.0), 11);
            let n = d.advance(at(lambda), &mut mem);
            assert_eq!(n, (lambda * 1e5) as u64);
            let expect = w as f64 * (1.0 - (-lambda).exp());
            let got = mem.log().count() as f64;
            assert!(
                (got - expect).abs() < 700.0,
                "λ={lambda}: {got} vs {expect}"
            );
        }
    }

    #[test]
    fn the_hot_part_takes_hot_share_of_the_writes() {
        // 200 000 writes, p = 0.8: binomial sd of the hot fraction is
        // √(0.8·0.2/200 000) ≈ 0.0009; 0.005 is > 5 sd. Hot part 10 000 pages gets
        // ≈ 160 000 writes < 20 × 10 000, so no shortcut blurs the count.
        let (mut mem, mut d) = setup(300_000, cfg(100_000, 200_000.0, 0.1, 0.8), 5);
        assert_eq!(d.advance(at(1.0), &mut mem), 200_000);
        assert_eq!(d.hot_pages(), 10_000);
        let hot: u64 = (0..d.hot_pages())
            .map(|k| mem.version(d.page_of_slot(k)) as u64)
            .sum();
        let total: u64 = mem.versions().iter().map(|&v| v as u64).sum();
        assert_eq!(total, 200_000, "every write bumped one version");
        let share = hot as f64 / total as f64;
        assert!((share - 0.8).abs() < 0.005, "hot share {share}");
    }

    #[test]
    fn write_count_over_many_calls_is_exact() {
        // Irregular steps (primes of ps, some zero-length) over ~10 s; the carry makes
        // the total exactly ⌊rate × T⌋, computed here in integers: rate = 1234.567/s =
        // 1 234 567 milli-writes/s, so ⌊1 234 567 · T_ps / 10¹⁵⌋.
        let (mut mem, mut d) = setup(10_000, cfg(5_000, 1234.567, 0.2, 0.7), 2);
        let mut t = 0u64;
        let mut sum = 0u64;
        let steps = [7_777_777_777u64, 1, 0, 123_456_789, 3_000_000_000_019];
        for i in 0..2_000 {
            t += steps[i % steps.len()];
            sum += d.advance(SimTime::from_ps(t), &mut mem);
        }
        let expect = (1_234_567u128 * t as u128 / 1_000_000_000_000_000) as u64;
        assert_eq!(sum, expect);
        assert_eq!(d.writes(), expect);
    }

    #[test]
    fn throttle_and_pause_scale_the_count() {
        let (mut mem, mut d) = setup(10_000, cfg(5_000, 1000.0, 0.0, 0.0), 3);
        assert_eq!(d.advance(at(1.0), &mut mem), 1000);
        d.set_throttle(0.25);
        // 3 s at 75% speed: exactly 2250.
        assert_eq!(d.advance(at(4.0), &mut mem), 2250);
        d.set_throttle(0.99);
        // auto-converge's 99% cap: 10 s at 1% = 100 writes.
        assert_eq!(d.advance(at(14.0), &mut mem), 100);
        d.set_throttle(0.0);
        d.pause();
        let before = mem.state_digest();
        assert_eq!(
            d.advance(at(20.0), &mut mem),
            0,
            "a stopped VM writes nothing"
        );
        assert_eq!(mem.state_digest(), before);
        d.resume(at(30.0));
        // The paused 16 s are lost, not owed: 1 s after resume gives 1000.
        assert_eq!(d.advance(at(31.0), &mut mem), 1000);
        assert_eq!(d.writes(), 1000 + 2250 + 100 + 1000);
    }

    #[test]
    fn same_seed_same_state_other_seed_other_state() {
        let run = |seed: u64| {
            let c = Workload::WebServer.config(64 << 20);
            let (mut mem, mut d) = setup((64 << 20) / PAGE_SIZE as u64, c, seed);
            for i in 1..=50 {
                d.advance(SimTime::ZERO + SimDuration::from_millis(20 * i), &mut mem);
            }
            mem.state_digest()
        };
        assert_eq!(run(7), run(7), "same seed, same versions");
        assert_ne!(run(7), run(8), "another seed draws other pages");
    }

    #[test]
    fn the_working_set_is_a_scattered_bijection_into_memory() {
        // Page counts with many divisors, a prime, a power of two, and one page.
        for pages in [1000u64, 997, 4096, 1, 720_720] {
            let ws = (pages / 10).max(1);
            let rng = RngStreams::new(pages).stream("migration/test/map");
            let d = Dirtier::new(cfg(ws, 0.0, 0.3, 0.5), pages, rng).unwrap();
            let mut seen = vec![false; pages as usize];
            for k in 0..pages {
                // The map is defined on all of 0..pages; check the whole bijection.
                let p = if k < d.working_set_pages() {
                    d.page_of_slot(k)
                } else {
                    ((k as u128 * d.mult as u128 + d.offset as u128) % pages as u128) as u64
                };
                assert!(
                    p < pages && !seen[p as usize],
                    "pages={pages} slot {k} → {p}"
                );
                seen[p as usize] = true;
            }
            if pages >= 1000 {
                // Scattered: a 10% working set spans more than half of memory.
                let slots: Vec<u64> = (0..ws).map(|k| d.page_of_slot(k)).collect();
                let span = slots.iter().max().unwrap() - slots.iter().min().unwrap();
                assert!(span > pages / 2, "pages={pages}: span {span}");
            }
        }
        // And writes never land outside it.
        let (mut mem, mut d) = setup(50_000, cfg(1_000, 100_000.0, 0.1, 0.9), 4);
        d.advance(at(0.5), &mut mem);
        let inside: std::collections::BTreeSet<u64> = (0..d.working_set_pages())
            .map(|k| d.page_of_slot(k))
            .collect();
        for p in 0..50_000 {
            if mem.version(p) > 0 {
                assert!(
                    inside.contains(&p),
                    "page {p} written outside the working set"
                );
            }
        }
    }

    #[test]
    fn the_working_set_mixes_page_classes() {
        // A 10% working set of a 1 GiB guest holds about the profile's share of zero pages
        // (25%); a prefix would hold whatever the first 100 MiB happen to be. Binomial sd
        // at n = 26 214, p = 0.25 is 0.0027; 0.02 is > 7 sd.
        let pages = GIB / PAGE_SIZE as u64;
        let (mem, d) = setup(pages, cfg(pages / 10, 0.0, 0.0, 0.0), 6);
        let zero = (0..d.working_set_pages())
            .filter(|&k| mem.class(d.page_of_slot(k)) == PageClass::Zero)
            .count() as f64
            / d.working_set_pages() as f64;
        assert!((zero - 0.25).abs() < 0.02, "zero share {zero}");
    }

    #[test]
    fn many_writes_per_page_write_the_whole_part_once() {
        // 1000 writes/s into a 10-page working set for 1 s: 100 per page > 20, so each
        // page is written once (the shortcut) and the count still reports 1000.
        let (mut mem, mut d) = setup(1000, cfg(10, 1000.0, 0.0, 0.0), 8);
        assert_eq!(d.advance(at(1.0), &mut mem), 1000);
        let written: Vec<u32> = (0..10).map(|k| mem.version(d.page_of_slot(k))).collect();
        assert_eq!(written, vec![1; 10]);
        assert_eq!(mem.log().count(), 10);
    }

    #[test]
    fn a_part_left_empty_sends_all_writes_to_the_other() {
        // hot_share 1 but no hot pages: every write goes to the cold part, none is lost.
        let (mut mem, mut d) = setup(1000, cfg(100, 500.0, 0.0, 1.0), 9);
        assert_eq!(d.advance(at(1.0), &mut mem), 500);
        let total: u64 = mem.versions().iter().map(|&v| v as u64).sum();
        assert_eq!(total, 500);
        // All hot: hot_fraction 1, hot_share 0.
        let (mut mem, mut d) = setup(1000, cfg(100, 500.0, 1.0, 0.0), 9);
        assert_eq!(d.advance(at(1.0), &mut mem), 500);
        assert_eq!(mem.versions().iter().map(|&v| v as u64).sum::<u64>(), 500);
    }

    #[test]
    fn presets_land_in_their_documented_ranges() {
        let mb_per_s = |distinct: u64, secs: f64| distinct as f64 * 4096.0 / 1e6 / secs;
        let one_second = |w: Workload, mem_bytes: u64| {
            let c = w.config(mem_bytes);
            let (mut mem, mut d) = setup(mem_bytes / PAGE_SIZE as u64, c, 12);
            d.advance(at(1.0), &mut mem);
            mb_per_s(mem.log().count(), 1.0)
        };
        // Idle inside the measured 2–8 MB/s; web server between idle and the 81 MB/s
        // "idle" OpenShift guest; a database of 8 GiB above 1 GbE's 125 MB/s.
        let idle = one_second(Workload::Idle, GIB);
        assert!((2.0..=8.0).contains(&idle), "idle {idle} MB/s");
        let web = one_second(Workload::WebServer, GIB);
        assert!((8.0..=81.0).contains(&web), "web {web} MB/s");
        let db = one_second(Workload::Database, 8 * GIB);
        assert!(db > 125.0, "database {db} MB/s");
        // Memory-intensive on 6 GiB: within 15% of the 5418 MiB the cloud-hypervisor log
        // re-sent per ≈ 3 s iteration.
        let c = Workload::MemoryIntensive.config(6 * GIB);
        let (mut mem, mut d) = setup(6 * GIB / PAGE_SIZE as u64, c, 12);
        d.advance(at(3.0), &mut mem);
        let mib = mem.log().count() as f64 * 4096.0 / (1 << 20) as f64;
        assert!((mib / 5418.0 - 1.0).abs() < 0.15, "{mib} MiB in 3 s");
    }

    #[test]
    fn a_sink_sees_what_memory_would_and_may_stop_the_call() {
        // Through a sink that takes every write, the same seed writes the same pages as
        // `advance` into memory (the draws are the same).
        let c = cfg(2_000, 5_000.0, 0.1, 0.6);
        let (mut mem, mut d) = setup(10_000, c, 13);
        let (mut mem2, mut d2) = setup(10_000, c, 13);
        struct Count<'a>(&'a mut GuestMemory, u64);
        impl PageSink for Count<'_> {
            fn write_page(&mut self, page: u64) -> bool {
                self.1 += 1;
                self.0.write(page);
                true
            }
        }
        let mut sink = Count(&mut mem2, 0);
        for i in 1..=10 {
            let t = at(0.1 * i as f64);
            assert_eq!(d.advance(t, &mut mem), d2.advance_into(t, &mut sink));
        }
        assert_eq!(
            sink.1, 5_000,
            "5000 writes/s for 1 s, each through the sink"
        );
        assert_eq!(mem.state_digest(), mem2.state_digest());
        // A sink that refuses its 3rd write stops the call there: 3 writes performed and
        // counted (the refused one is held by the sink), the other 97 of the 100 due in
        // 20 ms are dropped, and the next call writes at the rate again.
        struct Stop(u64);
        impl PageSink for Stop {
            fn write_page(&mut self, _: u64) -> bool {
                self.0 += 1;
                self.0 < 3
            }
        }
        let before = d.writes();
        let mut stop = Stop(0);
        assert_eq!(d.advance_into(at(1.02), &mut stop), 3);
        assert_eq!(d.writes(), before + 3);
        // 20 ms more at 5000/s: 100 writes, all taken by a sink that takes every one.
        let mut all = Count(&mut mem, 0);
        assert_eq!(d.advance_into(at(1.04), &mut all), 100);
    }

    #[test]
    fn presets_are_valid_and_named() {
        for w in Workload::ALL {
            assert_eq!(w.name().parse::<Workload>().unwrap(), w);
            for mem in [4096u64, GIB, 16 * GIB] {
                let c = w.config(mem);
                assert!(
                    c.validate(mem).is_ok(),
                    "{w} at {mem}: {:?}",
                    c.validate(mem)
                );
                assert!(c.working_set_bytes >= 4096 && c.working_set_bytes <= mem);
            }
        }
        let e = "databse".parse::<Workload>().unwrap_err();
        assert!(
            e.contains("databse") && e.contains("idle, web-server, database, memory-intensive"),
            "{e}"
        );
    }

    #[test]
    fn validation_names_the_key() {
        let ok = cfg(10, 100.0, 0.5, 0.5);
        assert!(ok.validate(40_960).is_ok());
        let cases: [(DirtyConfig, &str); 8] = [
            (cfg(11, 100.0, 0.5, 0.5), "`working_set_bytes`"),
            (cfg(10, -1.0, 0.5, 0.5), "`rate_pages_per_s`"),
            (cfg(10, f64::NAN, 0.5, 0.5), "`rate_pages_per_s`"),
            (cfg(10, 2e9, 0.5, 0.5), "`rate_pages_per_s`"),
            (cfg(0, 100.0, 0.5, 0.5), "`working_set_bytes` is 0"),
            (cfg(10, 100.0, 1.5, 0.5), "`hot_fraction`"),
            (cfg(10, 100.0, 0.5, -0.1), "`hot_share`"),
            (
                DirtyConfig {
                    bytes_per_write: 0,
                    ..ok
                },
                "`bytes_per_write`",
            ),
        ];
        for (c, key) in cases {
            let e = c.validate(40_960).unwrap_err();
            assert!(e.contains(key), "expected {key} in: {e}");
        }
        let big = DirtyConfig {
            bytes_per_write: 4097,
            ..ok
        };
        assert!(big.validate(40_960).unwrap_err().contains("1..=4096"));
        // Dirtier::new refuses an invalid config instead of panicking.
        let rng = RngStreams::new(1).stream("x");
        assert!(Dirtier::new(cfg(11, 1.0, 0.0, 0.0), 10, rng).is_err());
        // An idle guest with no working set and no writes is fine.
        assert!(cfg(0, 0.0, 0.0, 0.0).validate(4096).is_ok());
    }
}
