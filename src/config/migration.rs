//! `[[migrations]]` in experiment files: live migrations of VMs between topology nodes,
//! each a VM (memory, vCPUs, workload), a profile (the platform) and the profile's options
//! overridden key by key.

use crate::compress::codec::Codec;
use crate::compress::pages::{MemoryProfile, MemoryProfileConfig};
use crate::migration::dirty::{DirtyConfig, Workload};
use crate::migration::memory::VmSpec;
use crate::migration::postcopy::EngineKind;
use crate::migration::precopy::{AutoConverge, OnLimit, StopRule};
use crate::migration::profile::{ChannelKind, Profile, ProfileKind};
use crate::units::{Bytes, Duration, Rate};
use serde::{Deserialize, Serialize};

/// One live migration.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MigrationConfig {
    /// Name in results (default `vm<index>`).
    pub name: Option<String>,
    /// Node the VM runs on.
    pub src: String,
    /// Node it moves to.
    pub dst: String,
    /// When the migration starts (default 0).
    pub start: Option<Duration>,
    /// This many identical VMs migrate at once, named `<name>/<k>` (default 1).
    pub copies: Option<u32>,
    /// Guest memory, a whole number of 4 KiB pages (e.g. "4GiB").
    pub memory: Bytes,
    /// vCPUs (default 2).
    pub vcpus: Option<u32>,
    /// Device state sent at the stop (default 1 MiB; see `migration::memory`).
    pub device_state: Option<Bytes>,
    /// Page-class shares of the guest memory (default: `compress::pages`' loaded server).
    pub memory_profile: Option<MemoryProfileConfig>,
    /// Dirtying preset: idle, web-server, database, memory-intensive (default idle).
    pub workload: Option<String>,
    /// Overrides of the workload preset.
    #[serde(default)]
    pub dirty: DirtySettings,
    /// The platform: kvm, dwcp-v3-datacenter (default kvm).
    pub profile: Option<String>,
    /// Overrides of the profile's options.
    #[serde(default)]
    pub options: OptionSettings,
    /// The engine: "precopy", "postcopy" or "hybrid" (`options.precopy_passes` pre-copy
    /// passes, then post-copy); default the profile's (pre-copy for every shipped one).
    pub engine: Option<String>,
}

/// `[migrations.dirty]`: the dirtying process, over the workload preset.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DirtySettings {
    /// Page writes per second.
    pub rate: Option<f64>,
    /// Bytes the guest writes to.
    pub working_set: Option<Bytes>,
    /// Share of the working set that is hot, 0–1.
    pub hot_fraction: Option<f64>,
    /// Share of the writes landing in the hot part, 0–1.
    pub hot_share: Option<f64>,
    /// Bytes one write changes inside a page, 1–4096.
    pub bytes_per_write: Option<u32>,
}

/// `[migrations.options]`: the engine and channel, over the profile.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OptionSettings {
    /// Rate limit while iterating (e.g. "128MiB/s"), or "none".
    pub max_bandwidth: Option<String>,
    /// Downtime the switchover rule aims at.
    pub downtime_limit: Option<Duration>,
    /// Pre-copy passes before the limit applies.
    pub max_iterations: Option<u32>,
    /// Pre-copy time before the limit applies.
    pub time_limit: Option<Duration>,
    /// At the limit: "abort" (the VM stays) or "force" (stop and copy anyway).
    pub on_limit: Option<String>,
    /// When pre-copy stops: "qemu" (sync below bandwidth × downtime limit, stop if still
    /// below) or "dirty-fraction" (sync after each full pass; stop below `dirty_fraction` of
    /// memory or once remaining / bandwidth is within the downtime limit).
    pub stop_rule: Option<String>,
    /// The share of memory for "dirty-fraction" (default 0.01, the DWCP v3 orchestrator's).
    pub dirty_fraction: Option<f64>,
    /// QEMU's auto-converge with its defaults.
    pub auto_converge: Option<bool>,
    /// Parallel streams of the channel.
    pub streams: Option<u32>,
    /// What they run on: "tcp" or "rdma".
    pub transport: Option<String>,
    /// TCP congestion control of the streams: newreno, cubic, bbr.
    pub cc: Option<crate::transport::tcp::CcKind>,
    /// Compression codec for pages (`none`, `lz4`, `snappy`, `zstd-<level>`).
    pub codec: Option<String>,
    /// Threads compressing in parallel.
    pub compression_threads: Option<u32>,
    /// Send duplicate pages as references.
    pub dedup: Option<bool>,
    /// XBZRLE deltas for re-sent pages (QEMU's cache of 64 MiB unless `xbzrle_cache`).
    pub xbzrle: Option<bool>,
    /// XBZRLE cache size.
    pub xbzrle_cache: Option<Bytes>,
    /// QEMU multifd: this many channels, one stream and one compression thread each.
    pub multifd: Option<u32>,
    /// Calibration file for the codec's CPU cost (default calibration/default.toml).
    pub calibration: Option<String>,
    /// A hybrid's pre-copy passes (bitmap syncs) before post-copy (default 1).
    pub precopy_passes: Option<u32>,
}

/// What a migration resolves to: the VM, its dirtying and its profile with the overrides.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedMigration {
    /// The VM.
    pub vm: VmSpec,
    /// Its dirtying process.
    pub dirty: DirtyConfig,
    /// The workload preset it started from.
    pub workload: Workload,
    /// The platform with the file's overrides applied.
    pub profile: Profile,
    /// The engine that moves it.
    pub engine: EngineKind,
    /// Pre-copy passes before post-copy (a hybrid's `k`; 0 for the other engines).
    pub precopy_passes: u32,
}

impl MigrationConfig {
    /// Resolves and checks everything that needs no topology; messages name the key.
    pub fn resolve(&self) -> Result<ResolvedMigration, String> {
        // Per-page state is ~8 bytes per page with the destination's copy: 1 TiB of guest
        // costs 2 GB of the simulator's memory, and page numbers stay within 32 bits.
        if self.memory.0 > 1 << 40 {
            return Err(format!(
                "`memory` = {} bytes is above the 1 TiB a migration may hold",
                self.memory.0
            ));
        }
        let mut vm = VmSpec::new(self.memory.0, self.vcpus.unwrap_or(2));
        if let Some(d) = self.device_state {
            vm.device_state_bytes = d.0;
        }
        if let Some(p) = self.memory_profile {
            vm.profile =
                MemoryProfile::try_from(p).map_err(|e| format!("`memory_profile`: {e}"))?;
        }
        vm.validate().map_err(|e| {
            e.replace("`memory_bytes`", "`memory`")
                .replace("`profile`", "memory profile")
        })?;
        let workload: Workload = match &self.workload {
            Some(w) => w.parse()?,
            None => Workload::Idle,
        };
        let mut dirty = workload.config(vm.memory_bytes);
        let d = &self.dirty;
        if let Some(r) = d.rate {
            dirty.rate_pages_per_s = r;
        }
        if let Some(w) = d.working_set {
            dirty.working_set_bytes = w.0;
        }
        if let Some(v) = d.hot_fraction {
            dirty.hot_fraction = v;
        }
        if let Some(v) = d.hot_share {
            dirty.hot_share = v;
        }
        if let Some(v) = d.bytes_per_write {
            dirty.bytes_per_write = v;
        }
        dirty.validate(vm.memory_bytes).map_err(|e| {
            format!(
                "`dirty`: {}",
                e.replace("`working_set_bytes`", "`working_set`")
                    .replace("`rate_pages_per_s`", "`rate`")
            )
        })?;
        let kind: ProfileKind = match &self.profile {
            Some(p) => p.parse()?,
            None => ProfileKind::Kvm,
        };
        let mut profile = kind.profile();
        let o = &self.options;
        let p = &mut profile.precopy;
        if let Some(b) = &o.max_bandwidth {
            p.max_bandwidth = if b.trim() == "none" {
                None
            } else {
                let r = Rate::parse(b).map_err(|e| format!("`options.max_bandwidth`: {e}"))?;
                Some(r.bps() as f64 / 8.0)
            };
        }
        if let Some(d) = o.downtime_limit {
            if d.0.as_ps() == 0 {
                return Err("`options.downtime_limit` must be greater than zero".into());
            }
            p.downtime_limit = d.0;
        }
        if let Some(n) = o.max_iterations {
            if n == 0 {
                return Err("`options.max_iterations` must be at least 1".into());
            }
            p.max_iterations = Some(n);
        }
        if let Some(t) = o.time_limit {
            p.time_limit = Some(t.0);
        }
        if let Some(l) = &o.on_limit {
            p.on_limit = match l.as_str() {
                "abort" => OnLimit::Abort,
                "force" => OnLimit::Force,
                other => {
                    return Err(format!(
                        "`options.on_limit` = {other:?}; allowed: \"abort\", \"force\""
                    ))
                }
            };
        }
        if let Some(f) = o.dirty_fraction {
            if !(0.0..=1.0).contains(&f) {
                return Err(format!("`options.dirty_fraction` = {f} must be in [0, 1]"));
            }
        }
        match o.stop_rule.as_deref() {
            None => {
                if let (Some(f), StopRule::DirtyFraction { fraction }) =
                    (o.dirty_fraction, &mut p.stop_rule)
                {
                    *fraction = f;
                }
            }
            Some("qemu") => p.stop_rule = StopRule::Threshold,
            Some("dirty-fraction") => {
                p.stop_rule = StopRule::DirtyFraction {
                    fraction: o.dirty_fraction.unwrap_or(0.01),
                }
            }
            Some(other) => {
                return Err(format!(
                    "`options.stop_rule` = {other:?}; allowed: \"qemu\", \"dirty-fraction\""
                ))
            }
        }
        if let Some(a) = o.auto_converge {
            p.auto_converge = a.then(AutoConverge::default);
        }
        if let Some(s) = o.streams {
            if s == 0 || s > 1024 {
                return Err(format!("`options.streams` = {s} must be in 1..=1024"));
            }
            profile.streams = s;
        }
        if let Some(t) = &o.transport {
            profile.channel = match t.as_str() {
                "tcp" => ChannelKind::Tcp,
                "rdma" => ChannelKind::Rdma,
                other => {
                    return Err(format!(
                        "`options.transport` = {other:?}; allowed: \"tcp\", \"rdma\""
                    ))
                }
            };
        }
        if let Some(c) = o.cc {
            profile.cc = c;
        }
        if let Some(n) = o.multifd {
            if n == 0 || n > 256 {
                return Err(format!("`options.multifd` = {n} must be in 1..=256"));
            }
            profile.streams = n;
            profile.encoding.cores = n;
        }
        if let Some(c) = &o.codec {
            let codec: Codec = c.parse().map_err(|e| format!("`options.codec`: {e}"))?;
            if matches!(codec, Codec::ZstdDict { .. }) {
                return Err(format!(
                    "`options.codec` = {c:?}: dictionary codecs are not offered for migration"
                ));
            }
            profile.encoding.codec = (codec != Codec::None).then_some(codec);
        }
        if let Some(n) = o.compression_threads {
            if n == 0 {
                return Err("`options.compression_threads` must be at least 1".into());
            }
            profile.encoding.cores = n;
        }
        if let Some(d) = o.dedup {
            profile.encoding.dedup = d;
        }
        match (o.xbzrle, o.xbzrle_cache) {
            (Some(false), _) => profile.encoding.xbzrle_cache = None,
            (_, Some(b)) if b.0 < 4096 => {
                return Err("`options.xbzrle_cache` must hold at least one 4 KiB page".into())
            }
            (_, Some(b)) => profile.encoding.xbzrle_cache = Some(b.0),
            // QEMU's default cache, 64 MiB (`migration/options.c`).
            (Some(true), None) => {
                profile.encoding.xbzrle_cache =
                    Some(profile.encoding.xbzrle_cache.unwrap_or(64 << 20))
            }
            (None, None) => {}
        }
        profile.precopy.backlog_bytes = profile.stream_buffer * profile.streams as u64;
        let (engine, precopy_passes) = self.resolve_engine(kind, &profile)?;
        Ok(ResolvedMigration {
            vm,
            dirty,
            workload,
            profile,
            engine,
            precopy_passes,
        })
    }
}

/// The most pre-copy passes a hybrid may ask for.
const MAX_PRECOPY_PASSES: u32 = 1000;

impl MigrationConfig {
    /// `engine` and `options.precopy_passes`: the engine, and a hybrid's pre-copy passes
    /// (default 1; 0 for the other engines).
    fn resolve_engine(
        &self,
        kind: ProfileKind,
        profile: &Profile,
    ) -> Result<(EngineKind, u32), String> {
        let engine = match &self.engine {
            Some(e) => e.parse::<EngineKind>()?,
            None => kind.default_engine(),
        };
        let passes = match (engine, self.options.precopy_passes) {
            (EngineKind::Hybrid, None) => 1,
            (EngineKind::Hybrid, Some(0)) => {
                return Err(
                    "`options.precopy_passes` = 0: a hybrid runs at least one pass (for none, \
                     set `engine` = \"postcopy\")"
                        .into(),
                )
            }
            (EngineKind::Hybrid, Some(k)) if k > MAX_PRECOPY_PASSES => {
                return Err(format!(
                    "`options.precopy_passes` = {k} must be in 1..={MAX_PRECOPY_PASSES}"
                ))
            }
            (EngineKind::Hybrid, Some(k)) => k,
            (e, Some(k)) => {
                return Err(format!(
                "`options.precopy_passes` = {k} applies to `engine` = \"hybrid\" only, not {:?}",
                e.name()
            ))
            }
            (_, None) => 0,
        };
        if let (EngineKind::Hybrid, Some(n)) = (engine, profile.precopy.max_iterations) {
            if n < passes {
                return Err(format!(
                    "`options.precopy_passes` = {passes} exceeds the pre-copy limit \
                     `max_iterations` = {n} (the profile's or `options.max_iterations`)"
                ));
            }
        }
        Ok((engine, passes))
    }
}
