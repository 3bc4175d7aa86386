//! The experiment file schema (`experiments/*.toml`), `--set` overrides, and validation.
//!
//! Unknown keys are errors (`deny_unknown_fields`); messages name the file, the key (with
//! TOML's line and column) and what is allowed.

use super::transport::{RdmaSettings, TcpSettings};
use crate::engine::rng::stable_hash;
use crate::net::routing::RouteMetric;
use crate::net::TopologyConfig;
use crate::transport::tcp::CcKind;
use crate::units::{Bytes, Duration, Rate};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One experiment file: network, flows, faults, what to record, as written in TOML.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Folder name under `output/`: letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// Free text shown in the report.
    #[serde(default)]
    pub description: String,
    /// Master seed: every random stream of the run derives from it.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Virtual time to simulate (not needed by a `[compress]` study).
    #[serde(default)]
    pub duration: Duration,
    /// The network (not needed by a `[compress]` study).
    #[serde(default)]
    pub topology: TopologyConfig,
    /// How routes are computed.
    #[serde(default)]
    pub routing: RoutingConfig,
    /// TCP parameters every `app = "tcp"` flow starts from (a flow's own `[flows.tcp]`
    /// overrides them key by key).
    #[serde(default)]
    pub tcp: TcpSettings,
    /// RoCEv2 parameters every `app = "rdma"` flow starts from (a flow's own `[flows.rdma]`
    /// overrides them key by key).
    /// `line_rate_bps` defaults to the rate of the source host's link.
    #[serde(default)]
    pub rdma: RdmaSettings,
    /// Traffic: sources and transfers.
    #[serde(default)]
    pub flows: Vec<FlowConfig>,
    /// Scheduled changes to links: flaps, loss bursts, delay or rate steps.
    #[serde(default)]
    pub link_events: Vec<LinkEventConfig>,
    /// A replicated group (Raft or PBFT) and its client.
    pub consensus: Option<super::consensus::ConsensusConfig>,
    /// Live migrations of VMs between nodes.
    #[serde(default)]
    pub migrations: Vec<super::migration::MigrationConfig>,
    /// Scheduled faults: crashes, partitions, link outages, loss bursts, delay spikes.
    #[serde(default)]
    pub faults: Vec<super::faults::FaultConfig>,
    /// What to sample and plot.
    #[serde(default)]
    pub record: RecordConfig,
    /// A compression study instead of a network simulation (seed report table 1.2).
    pub compress: Option<CompressConfig>,
}

/// `[compress]`: encode one data set with one codec, as a migration stream would (zero
/// pages, duplicates, then the codec page by page), priced by a calibration file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CompressConfig {
    /// vm-memory, text, mixed, seed-vm-memory, seed-mixed, zeros, random or file:PATH.
    pub data: String,
    /// `none`, `snappy`, `lz4`, `zstd-<level>` or `zstd-dict-<level>`.
    pub codec: String,
    /// Bytes of data (default 64MiB).
    pub bytes: Option<Bytes>,
    /// vm-memory only: compress this many sampled pages per page class and extrapolate
    /// (default: every page).
    pub sample_pages_per_class: Option<u32>,
    /// Cores compressing in parallel (default 1).
    pub cores: Option<u32>,
    /// Calibration file (default calibration/default.toml, next to the experiment or in
    /// the working directory).
    pub calibration: Option<String>,
    /// Send all-zero pages as a header only (default true).
    pub zero_pages: Option<bool>,
    /// Send a page equal to an earlier one as a reference (default true).
    pub dedup: Option<bool>,
    /// vm-memory's page-class shares (default: `compress::pages::MemoryProfile::default`).
    pub profile: Option<crate::compress::pages::MemoryProfileConfig>,
}

impl CompressConfig {
    /// The study this table describes (names and shares checked).
    pub fn study(&self) -> Result<crate::compress::study::CompressionStudy, String> {
        use crate::compress::{codec::Codec, corpus::DataSet, pages::MemoryProfile};
        let data: DataSet = self
            .data
            .parse()
            .map_err(|e| format!("`compress.data`: {e}"))?;
        let codec: Codec = self
            .codec
            .parse()
            .map_err(|e| format!("`compress.codec`: {e}"))?;
        let profile = match self.profile {
            Some(p) => {
                MemoryProfile::try_from(p).map_err(|e| format!("`compress.profile`: {e}"))?
            }
            None => MemoryProfile::default(),
        };
        let bytes = self.bytes.map_or(64 << 20, |b| b.0);
        if bytes == 0 {
            return Err("`compress.bytes` must be at least 1 byte".into());
        }
        if self.cores == Some(0) {
            return Err("`compress.cores` must be at least 1".into());
        }
        if self.sample_pages_per_class == Some(0) {
            return Err("`compress.sample_pages_per_class` must be at least 1".into());
        }
        if self.sample_pages_per_class.is_some() && data != DataSet::VmMemory {
            return Err(format!(
                "`compress.sample_pages_per_class` applies to data = \"vm-memory\" only (data = {:?})",
                self.data
            ));
        }
        Ok(crate::compress::study::CompressionStudy {
            data,
            codec,
            bytes,
            sampled: self.sample_pages_per_class.map(|k| k as usize),
            cores: self.cores.unwrap_or(1),
            options: crate::compress::pageset::PageSetOptions {
                zero_pages: self.zero_pages.unwrap_or(true),
                dedup: self.dedup.unwrap_or(true),
            },
            profile,
        })
    }
}

/// What AMST streams run over.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// TCP connections (default).
    #[default]
    Tcp,
    /// RoCEv2 queue pairs.
    Rdma,
    /// Datacenter mode over RoCE queue pairs, internet mode over TCP, switched by the mode
    /// detector (parameters in the flow's `adaptive` table).
    Adaptive,
}

/// Datacenter or internet: the stream set an adaptive AMST transfer opens first.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InitialMode {
    /// RoCE queue pairs first.
    Datacenter,
    /// TCP streams first.
    Internet,
}

/// Adaptive AMST (`transport = "adaptive"`): the two stream sets and the mode detector.
/// Defaults follow the original system (`../shared/reference/seed-system.md` §1.0-1.1).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveSettings {
    /// Period of the detector's samples (default 5s, the original AMST's
    /// `ModeCheckInterval`).
    pub check_interval: Option<Duration>,
    /// Consecutive verdicts needed to change mode (default 3; the original had no
    /// hysteresis, i.e. 1).
    pub confirm: Option<u32>,
    /// The set opened first (default "internet": TCP works on any path).
    pub initial: Option<InitialMode>,
    /// RoCE queue pairs in datacenter mode (default: the flow's `streams`, else 64 as the
    /// original's `DatacenterStreams`).
    pub datacenter_streams: Option<u32>,
    /// Chunk in datacenter mode (default 256KiB, the original's `ChunkSizeKB`).
    pub datacenter_chunk: Option<Bytes>,
    /// TCP streams in internet mode (default: the flow's `streams`, else 8 as the
    /// original's `InternetStreams`).
    pub internet_streams: Option<u32>,
    /// Chunk in internet mode (default 64KiB, the original's TCP transport default).
    pub internet_chunk: Option<Bytes>,
    /// Codec compressing internet-mode chunks (default "zstd-3", the original's internet
    /// default; "none" sends them as they are). The data is taken to be guest memory.
    pub internet_codec: Option<String>,
    /// Sender cores compressing (default 1).
    pub compression_cores: Option<u32>,
    /// Calibration file pricing the compression (default calibration/default.toml).
    pub calibration: Option<String>,
}

impl AdaptiveSettings {
    /// Datacenter-mode streams: this table, else the flow's `streams`, else 64.
    pub fn datacenter_streams(&self, f: &FlowConfig) -> u32 {
        self.datacenter_streams.or(f.streams).unwrap_or(64)
    }
    /// Internet-mode streams: this table, else the flow's `streams`, else 8.
    pub fn internet_streams(&self, f: &FlowConfig) -> u32 {
        self.internet_streams.or(f.streams).unwrap_or(8)
    }
    /// Datacenter-mode chunk, bytes: this table, else the flow's `chunk`, else 256 KiB.
    pub fn datacenter_chunk(&self, f: &FlowConfig) -> u64 {
        self.datacenter_chunk.or(f.chunk).map_or(256 << 10, |b| b.0)
    }
    /// Internet-mode chunk, bytes: this table, else the flow's `chunk`, else 64 KiB.
    pub fn internet_chunk(&self, f: &FlowConfig) -> u64 {
        self.internet_chunk.or(f.chunk).map_or(64 << 10, |b| b.0)
    }
}

/// `up` or `down`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// The link works normally.
    Up,
    /// Every packet leaving either end is lost.
    Down,
}

/// At `at`, change link `link` (both directions); unset keys stay as they are.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkEventConfig {
    /// When the change happens, from the start of the run.
    pub at: Duration,
    /// Link name (`"a-b"` unless the topology names it).
    pub link: String,
    /// New line rate.
    pub rate: Option<Rate>,
    /// New one-way propagation delay.
    pub delay: Option<Duration>,
    /// New loss layers for both directions (`[]` removes them).
    pub loss: Option<Vec<crate::net::loss::LossConfig>>,
    /// `"down"`: every packet leaving either end is lost; `"up"`: back to normal.
    pub state: Option<LinkState>,
}

fn default_seed() -> u64 {
    1
}

/// `[routing]`: path metric and ECMP.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// `"hops"` (default) or `"delay"`.
    #[serde(default)]
    pub metric: RouteMetric,
    /// Spread flows over equal-cost paths (default true).
    #[serde(default = "yes")]
    pub ecmp: bool,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            metric: RouteMetric::Hops,
            ecmp: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// What drives a flow.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AppKind {
    /// Constant bit rate: `rate`, `packet_size`.
    Cbr,
    /// Poisson arrivals: mean `rate`, `packet_size` (mean if `size_distribution = "exponential"`).
    Poisson,
    /// Echo requests every `interval` (default 1s), `count` times, `packet_size` (default 64).
    Ping,
    /// A TCP connection: bulk (always has data) or `bytes` long; `cc` picks the congestion
    /// control; other parameters in `[tcp]` / `[flows.tcp]`.
    Tcp,
    /// A RoCEv2 reliable connection (go-back-N, optional DCQCN): bulk or `bytes` long;
    /// parameters in `[rdma]` / `[flows.rdma]`.
    Rdma,
    /// AMST: a `bytes` transfer cut into `chunk`-sized pieces and striped over `streams`
    /// TCP connections (TCP parameters from `[tcp]` / `[flows.tcp]`).
    Amst,
}

/// The adaptive AMST keys of `f` are in range.
fn validate_adaptive(f: &FlowConfig) -> Result<(), String> {
    let a = f.adaptive.clone().unwrap_or_default();
    for (key, n) in [
        ("adaptive.datacenter_streams", a.datacenter_streams(f)),
        ("adaptive.internet_streams", a.internet_streams(f)),
    ] {
        if !(1..=512).contains(&n) {
            return Err(format!("`{key}` = {n} is out of range (1 to 512)"));
        }
    }
    let (dc, inet) = (a.datacenter_chunk(f), a.internet_chunk(f));
    for (key, c) in [
        ("adaptive.datacenter_chunk", dc),
        ("adaptive.internet_chunk", inet),
    ] {
        if c == 0 {
            return Err(format!("`{key}` must be at least 1 byte"));
        }
    }
    if crate::transport::multistream::gcd(dc, inet) < 4096 {
        return Err(format!(
            "the datacenter and internet chunks ({dc} and {inet} bytes) must both be multiples of a common unit of at least 4 KiB, e.g. \"256KiB\" and \"64KiB\""
        ));
    }
    if a.check_interval
        .is_some_and(|d| d.0 == crate::engine::SimDuration::ZERO)
    {
        return Err("`adaptive.check_interval` must be positive".into());
    }
    if a.confirm == Some(0) {
        return Err("`adaptive.confirm` must be at least 1".into());
    }
    if let Some(c) = &a.internet_codec {
        c.parse::<crate::compress::codec::Codec>()
            .map_err(|e| format!("`adaptive.internet_codec`: {e}"))?;
    }
    if a.compression_cores == Some(0) {
        return Err("`adaptive.compression_cores` must be at least 1".into());
    }
    Ok(())
}

impl ExperimentConfig {
    /// The RDMA parameters of flow `f`: `[rdma]`, then the flow's `[flows.rdma]`.
    pub fn rdma_settings(&self, f: &FlowConfig) -> RdmaSettings {
        self.rdma
            .overlay(f.rdma.as_ref().unwrap_or(&RdmaSettings::default()))
    }

    /// The TCP parameters of flow `f`: `[tcp]`, then the flow's `[flows.tcp]`, then its
    /// `cc` shorthand.
    pub fn tcp_settings(&self, f: &FlowConfig) -> TcpSettings {
        self.tcp
            .overlay(f.tcp.as_ref().unwrap_or(&TcpSettings::default()))
            .overlay(&TcpSettings {
                cc: f.cc,
                ..Default::default()
            })
    }
}

impl FlowConfig {
    /// Sets a key of the open-loop sources (`rate`, `interval`, `count`,
    /// `size_distribution`, `packet_size`) or `stop`, none of which a transport takes.
    fn has_source_keys(&self) -> bool {
        self.rate.is_some()
            || self.interval.is_some()
            || self.count.is_some()
            || self.size_distribution.is_some()
            || self.packet_size.is_some()
            || self.stop.is_some()
    }
}

/// How packet sizes vary.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SizeDistribution {
    /// Every packet `packet_size` bytes (default).
    #[default]
    Fixed,
    /// Exponential sizes with mean `packet_size`, capped at the path MTU.
    Exponential,
}

/// A generated set of source–destination pairs.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FlowPattern {
    /// Every host sends to another host, each host receiving exactly one flow (a random
    /// derangement drawn from the stream `flows/<name>/permutation`).
    Permutation,
}

/// One flow, or with `pattern` a group of flows with the same parameters.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    /// Defaults to `<app><index>`; used in results and stream names.
    pub name: Option<String>,
    /// What drives the flow.
    pub app: AppKind,
    /// Source node (not with `pattern`).
    pub src: Option<String>,
    /// Destination node (not with `pattern`).
    pub dst: Option<String>,
    /// Generate source–destination pairs instead of naming them.
    pub pattern: Option<FlowPattern>,
    /// CBR/Poisson: offered rate.
    pub rate: Option<Rate>,
    /// Bytes on the wire per packet, headers included (default 1500; ping 64).
    pub packet_size: Option<Bytes>,
    /// Poisson: fixed or exponential sizes (default fixed).
    pub size_distribution: Option<SizeDistribution>,
    /// Ping: time between requests (default 1s).
    pub interval: Option<Duration>,
    /// Ping: number of requests (default: until `stop`).
    pub count: Option<u64>,
    /// TCP: bytes to transfer (default: bulk, always has data).
    pub bytes: Option<Bytes>,
    /// TCP: congestion control, shorthand for `tcp.cc`.
    pub cc: Option<CcKind>,
    /// TCP: this flow's parameters over the experiment's `[tcp]`.
    pub tcp: Option<TcpSettings>,
    /// RDMA: this flow's parameters over the experiment's `[rdma]`.
    pub rdma: Option<RdmaSettings>,
    /// This many identical flows (named `<name>/<k>`), default 1.
    pub copies: Option<u32>,
    /// AMST: parallel streams (1 to 512).
    pub streams: Option<u32>,
    /// AMST: bytes per chunk (default 64KiB).
    pub chunk: Option<Bytes>,
    /// AMST: what the streams run over, `"tcp"` (default), `"rdma"` or `"adaptive"`.
    pub transport: Option<StreamKind>,
    /// AMST with `transport = "adaptive"`: stream sets and mode detector.
    pub adaptive: Option<AdaptiveSettings>,
    /// When the source starts (default 0).
    pub start: Option<Duration>,
    /// When it stops (default: end of run).
    pub stop: Option<Duration>,
}

/// `[record]`: what is sampled over time and whether plots are drawn.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RecordConfig {
    /// Period of time-series samples (default: duration / 200).
    pub sample_interval: Option<Duration>,
    /// Links (by name) whose queue and utilization are sampled, both directions.
    #[serde(default)]
    pub links: Vec<String>,
    /// Sample per-flow throughput (and ping RTT) over time (default true).
    pub flows: Option<bool>,
    /// Draw plots (default true).
    pub plots: Option<bool>,
    /// Recovery time after link events: the transports' goodput before the first event is
    /// averaged over this window (default 2s) and compared with the goodput after the last.
    pub recovery_baseline: Option<Duration>,
}

/// What is wrong with an experiment file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read experiment file {path}: {cause}")]
    Io {
        /// The file's path.
        path: String,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// TOML syntax or schema error, with line and key.
    #[error("in experiment file {path}: {message}")]
    Parse {
        /// The file's path.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A `--set key=value` that does not apply.
    #[error("--set {assignment}: {message}")]
    Override {
        /// The `key=value` as given.
        assignment: String,
        /// Why it does not apply.
        message: String,
    },
    /// A value out of range or a dangling reference.
    #[error("in experiment file {path}: {message}")]
    Invalid {
        /// The file's path.
        path: String,
        /// What is wrong, naming the key.
        message: String,
    },
}

/// A loaded experiment: its config, where it came from, and the canonical text it hashes to.
#[derive(Clone, Debug)]
pub struct LoadedExperiment {
    /// The parsed config, overrides applied.
    pub config: ExperimentConfig,
    /// The experiment file it was read from.
    pub path: PathBuf,
    /// The resolved config (after overrides) as canonical TOML; stored with every output.
    pub resolved_toml: String,
    /// Stable hash of `resolved_toml`.
    pub config_hash: u64,
}

impl LoadedExperiment {
    /// Reads `path`, applies `overrides` (`dotted.key=value`, value in TOML syntax or a bare
    /// string), and checks the schema.
    pub fn load(path: &Path, overrides: &[String]) -> Result<LoadedExperiment, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Io {
            path: path.display().to_string(),
            cause,
        })?;
        Self::from_text(&text, path, overrides)
    }

    /// As [`LoadedExperiment::load`], for text already in memory; `path` names it in errors
    /// and anchors relative topology files.
    pub fn from_text(
        text: &str,
        path: &Path,
        overrides: &[String],
    ) -> Result<LoadedExperiment, ConfigError> {
        let shown = path.display().to_string();
        let parse_err = |e: toml::de::Error| ConfigError::Parse {
            path: shown.clone(),
            message: e.to_string(),
        };
        let mut table: toml::Table = toml::from_str(text).map_err(parse_err)?;
        if looks_like_topology(&table) {
            return Err(ConfigError::Invalid {
                path: shown,
                message: NOT_AN_EXPERIMENT.into(),
            });
        }
        for assignment in overrides {
            apply_override(&mut table, assignment)?;
        }
        // Parse the original text when there are no overrides so errors carry its lines.
        let source = overrides.is_empty().then_some(text);
        let context = if overrides.is_empty() {
            String::new()
        } else {
            " (after --set overrides)".to_string()
        };
        Self::from_table(&table, source, path, &context)
    }

    /// Checks a parsed (and possibly rewritten) experiment table. `source`, when given, is the
    /// text it came from, parsed instead so errors carry line numbers; `context` follows the
    /// file name in messages (e.g. which sweep point).
    pub fn from_table(
        table: &toml::Table,
        source: Option<&str>,
        path: &Path,
        context: &str,
    ) -> Result<LoadedExperiment, ConfigError> {
        let shown = format!("{}{context}", path.display());
        let resolved_toml = toml::to_string(table).map_err(|e| ConfigError::Parse {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let config: ExperimentConfig =
            toml::from_str(source.unwrap_or(&resolved_toml)).map_err(|e| ConfigError::Parse {
                path: shown.clone(),
                message: e.to_string(),
            })?;
        validate(&config).map_err(|message| ConfigError::Invalid {
            path: shown.clone(),
            message,
        })?;
        let config_hash = stable_hash(0, resolved_toml.as_bytes());
        Ok(LoadedExperiment {
            config,
            path: path.to_path_buf(),
            resolved_toml,
            config_hash,
        })
    }

    /// The first of [`Self::candidate_paths`] that exists, or where it looked: "A and B".
    pub fn find_file(&self, file: &str) -> Result<PathBuf, String> {
        let candidates = self.candidate_paths(file);
        match candidates.iter().find(|p| p.exists()) {
            Some(p) => Ok(p.clone()),
            None => Err(candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" and ")),
        }
    }

    /// Where a relative topology `file` is looked up, in order: beside the experiment, then
    /// the working directory. The first that exists wins.
    pub fn candidate_paths(&self, file: &str) -> Vec<PathBuf> {
        let p = Path::new(file);
        if p.is_absolute() {
            return vec![p.to_path_buf()];
        }
        let mut c: Vec<PathBuf> = self.path.parent().map(|d| d.join(p)).into_iter().collect();
        c.push(p.to_path_buf());
        c
    }
}

/// Upper bound on time-series samples per series, so a typo cannot exhaust memory.
pub const MAX_SAMPLES: u64 = 1_000_000;

/// The error for a topology file given where an experiment is expected.
pub const NOT_AN_EXPERIMENT: &str = "this is a topology file (it has nodes/links/generate); an experiment needs `name`, `duration` and a [topology] section";

/// Keys only a topology file has; an experiment file has none of them at its top level.
const TOPOLOGY_ONLY_KEYS: [&str; 4] = ["nodes", "links", "generate", "link_defaults"];

/// True for a parsed file that is a topology rather than an experiment.
pub fn looks_like_topology(table: &toml::Table) -> bool {
    !table.contains_key("topology") && TOPOLOGY_ONLY_KEYS.iter().any(|k| table.contains_key(*k))
}

fn validate(cfg: &ExperimentConfig) -> Result<(), String> {
    if cfg.name.is_empty()
        || !cfg
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || cfg.name.starts_with('.')
    {
        return Err(format!("`name` = {:?} must be a folder name: letters, digits, '-', '_', '.' (not starting with '.')", cfg.name));
    }
    if let Some(c) = &cfg.compress {
        c.study()?;
        if !cfg.flows.is_empty()
            || !cfg.link_events.is_empty()
            || !cfg.faults.is_empty()
            || cfg.consensus.is_some()
            || !cfg.migrations.is_empty()
        {
            return Err("a [compress] study runs no network: drop [[flows]], [[link_events]], [[faults]], [consensus] and [[migrations]] (or drop [compress])".into());
        }
        return Ok(());
    }
    if cfg.topology == TopologyConfig::default() {
        return Err("needs a [topology] section (or a [compress] study)".into());
    }
    if cfg.duration.0.as_ps() == 0 {
        return Err(
            "needs `duration`, the virtual time to simulate (e.g. \"10s\"), greater than zero"
                .into(),
        );
    }
    if let Some(si) = cfg.record.sample_interval {
        if si.0.as_ps() == 0 {
            return Err("`record.sample_interval` must be greater than zero".into());
        }
        let samples = cfg.duration.0.as_ps() / si.0.as_ps();
        if samples > MAX_SAMPLES {
            return Err(format!(
                "`record.sample_interval` = {si} gives {samples} samples over {}; at most {MAX_SAMPLES} are allowed (use at least {})",
                cfg.duration,
                crate::engine::SimDuration(cfg.duration.0.as_ps().div_ceil(MAX_SAMPLES))
            ));
        }
    }
    for (i, e) in cfg.link_events.iter().enumerate() {
        let at = format!("link_events[{i}]");
        if e.at.0 >= cfg.duration.0 {
            return Err(format!(
                "{at}: `at` ({}) is not before the end of the run ({})",
                e.at, cfg.duration
            ));
        }
        if e.rate.is_none() && e.delay.is_none() && e.loss.is_none() && e.state.is_none() {
            return Err(format!(
                "{at}: changes nothing; set `rate`, `delay`, `loss` or `state` (\"up\" or \"down\")"
            ));
        }
        if e.rate.is_some_and(|r| r.bps() == 0) {
            return Err(format!(
                "{at}: `rate` must be greater than zero (use `state = \"down\"` for an outage)"
            ));
        }
        for layer in e.loss.iter().flatten() {
            layer.validate().map_err(|m| format!("{at}: `loss`: {m}"))?;
        }
    }
    if let Some(c) = &cfg.consensus {
        c.validate()?;
    }
    let mut migration_names = std::collections::BTreeSet::new();
    for (i, m) in cfg.migrations.iter().enumerate() {
        let at = format!("migrations[{i}]");
        m.resolve().map_err(|e| format!("{at}: {e}"))?;
        if m.start.is_some_and(|s| s.0 >= cfg.duration.0) {
            return Err(format!(
                "{at}: `start` is not before the end of the run ({})",
                cfg.duration
            ));
        }
        if m.src == m.dst {
            return Err(format!("{at}: `src` and `dst` are both `{}`", m.src));
        }
        let name = m.name.clone().unwrap_or_else(|| format!("vm{i}"));
        if m.copies == Some(0) || m.copies.is_some_and(|c| c > 1000) {
            return Err(format!("{at}: `copies` must be in 1..=1000"));
        }
        if !migration_names.insert(name.clone()) {
            return Err(format!("{at}: migration name `{name}` is used twice"));
        }
    }
    for (i, f) in cfg.faults.iter().enumerate() {
        let at = format!("faults[{i}]");
        f.validate(&at)?;
        if f.at.0 >= cfg.duration.0 {
            return Err(format!(
                "{at}: `at` ({}) is not before the end of the run ({})",
                f.at, cfg.duration
            ));
        }
    }
    for (i, f) in cfg.flows.iter().enumerate() {
        let at = format!("flows[{i}]");
        match (f.pattern, &f.src, &f.dst) {
            (Some(_), None, None) => {}
            (Some(_), _, _) => {
                return Err(format!(
                    "{at}: `pattern` chooses src and dst; remove `src`/`dst`"
                ))
            }
            (None, Some(_), Some(_)) => {}
            (None, _, _) => {
                return Err(format!(
                    "{at}: needs `src` and `dst` (node names) or a `pattern`"
                ))
            }
        }
        if !matches!(f.app, AppKind::Tcp | AppKind::Amst) && (f.cc.is_some() || f.tcp.is_some()) {
            return Err(format!(
                "{at}: `cc` and `tcp` apply to apps \"tcp\" and \"amst\" only"
            ));
        }
        if f.app != AppKind::Amst
            && (f.streams.is_some() || f.chunk.is_some() || f.transport.is_some())
        {
            return Err(format!(
                "{at}: `streams`, `chunk` and `transport` apply to app \"amst\" only"
            ));
        }
        let rdma_streams = f.app == AppKind::Amst
            && matches!(f.transport, Some(StreamKind::Rdma | StreamKind::Adaptive));
        if f.app != AppKind::Rdma && !rdma_streams && f.rdma.is_some() {
            return Err(format!("{at}: `rdma` applies to app \"rdma\" and to app \"amst\" with transport = \"rdma\" or \"adaptive\" only"));
        }
        if f.adaptive.is_some()
            && !(f.app == AppKind::Amst && f.transport == Some(StreamKind::Adaptive))
        {
            return Err(format!(
                "{at}: `adaptive` applies to app \"amst\" with transport = \"adaptive\" only"
            ));
        }
        if !matches!(f.app, AppKind::Tcp | AppKind::Rdma | AppKind::Amst) && f.bytes.is_some() {
            return Err(format!(
                "{at}: `bytes` applies to apps \"tcp\", \"rdma\" and \"amst\" only"
            ));
        }
        if f.copies == Some(0) {
            return Err(format!("{at}: `copies` = 0 creates no flow (at least 1)"));
        }
        match f.app {
            AppKind::Tcp => {
                if f.rate.is_some()
                    || f.interval.is_some()
                    || f.count.is_some()
                    || f.size_distribution.is_some()
                    || f.packet_size.is_some()
                {
                    return Err(format!("{at}: app \"tcp\" is window-driven: `rate`, `interval`, `count`, `size_distribution` and `packet_size` do not apply (set `tcp.mss`)"));
                }
                if f.stop.is_some() {
                    return Err(format!("{at}: `stop` does not apply to app \"tcp\": a bulk flow runs to the end of the run, a finite one until its `bytes` are delivered"));
                }
                if f.bytes.is_some_and(|b| b.0 == 0) {
                    return Err(format!(
                        "{at}: `bytes` = 0 transfers nothing (omit it for a bulk flow)"
                    ));
                }
                TcpSettings::validate(&cfg.tcp_settings(f)).map_err(|m| format!("{at}: {m}"))?;
            }
            AppKind::Amst => {
                if f.has_source_keys() {
                    return Err(format!("{at}: app \"amst\" is window-driven: `rate`, `interval`, `count`, `size_distribution`, `packet_size` and `stop` do not apply"));
                }
                match f.bytes {
                    None => {
                        return Err(format!(
                            "{at}: app \"amst\" needs `bytes` (the transfer size, e.g. \"1GB\")"
                        ))
                    }
                    Some(b) if b.0 == 0 => {
                        return Err(format!("{at}: `bytes` = 0 transfers nothing"))
                    }
                    _ => {}
                }
                match f.streams {
                    Some(n) if (1..=512).contains(&n) => {}
                    Some(n) => {
                        return Err(format!("{at}: `streams` = {n} is out of range (1 to 512)"))
                    }
                    None if f.transport == Some(StreamKind::Adaptive) => {}
                    None => return Err(format!("{at}: app \"amst\" needs `streams` (1 to 512)")),
                }
                if f.chunk.is_some_and(|c| c.0 == 0) {
                    return Err(format!("{at}: `chunk` must be at least 1 byte"));
                }
                if f.transport == Some(StreamKind::Adaptive) {
                    validate_adaptive(f).map_err(|m| format!("{at}: {m}"))?;
                }
                TcpSettings::validate(&cfg.tcp_settings(f)).map_err(|m| format!("{at}: {m}"))?;
            }
            AppKind::Rdma => {
                if f.has_source_keys() {
                    return Err(format!("{at}: app \"rdma\" takes its parameters from `[rdma]`: `rate`, `interval`, `count`, `size_distribution`, `packet_size` and `stop` do not apply (set `rdma.line_rate_bps`, `rdma.mtu_payload`)"));
                }
                if f.bytes.is_some_and(|b| b.0 == 0) {
                    return Err(format!(
                        "{at}: `bytes` = 0 transfers nothing (omit it for a bulk flow)"
                    ));
                }
                let mut r = cfg.rdma_settings(f);
                r.line_rate_bps.get_or_insert(i64::MAX as u64);
                r.resolve().map_err(|m| format!("{at}: [rdma]: {m}"))?;
            }
            AppKind::Cbr | AppKind::Poisson => {
                if f.rate.is_none() {
                    let app = if f.app == AppKind::Cbr {
                        "cbr"
                    } else {
                        "poisson"
                    };
                    return Err(format!("{at}: app `{app}` needs `rate` (e.g. \"1Gbps\")"));
                }
                if f.interval.is_some() || f.count.is_some() {
                    return Err(format!(
                        "{at}: `interval` and `count` apply to app \"ping\" only"
                    ));
                }
            }
            AppKind::Ping => {
                if f.count == Some(0) {
                    return Err(format!(
                        "{at}: `count` = 0 sends nothing (omit it to ping until `stop`)"
                    ));
                }
                if f.rate.is_some() || f.size_distribution.is_some() {
                    return Err(format!("{at}: `rate` and `size_distribution` do not apply to app \"ping\" (use `interval`)"));
                }
                if f.interval.is_some_and(|d| d.0.as_ps() == 0) {
                    return Err(format!("{at}: `interval` must be greater than zero"));
                }
            }
        }
        if f.size_distribution.is_some() && f.app != AppKind::Poisson {
            return Err(format!(
                "{at}: `size_distribution` applies to app \"poisson\" only"
            ));
        }
        if let Some(s) = f.packet_size {
            if s.0 == 0 || s.0 > 65_535 {
                return Err(format!(
                    "{at}: `packet_size` = {} is out of range (1 to 65535 bytes)",
                    s.0
                ));
            }
        }
        if let (Some(s), Some(d)) = (&f.src, &f.dst) {
            if s == d {
                return Err(format!(
                    "{at}: `src` and `dst` are both `{s}`; a flow needs two different nodes"
                ));
            }
        }
        if let Some(start) = f.start {
            if start.0 >= cfg.duration.0 {
                return Err(format!(
                    "{at}: `start` ({start}) is not before the end of the run ({})",
                    cfg.duration
                ));
            }
        }
        if let (Some(a), Some(b)) = (f.start, f.stop) {
            if b.0 <= a.0 {
                return Err(format!(
                    "{at}: `stop` ({}) must be after `start` ({})",
                    b, a
                ));
            }
        }
    }
    Ok(())
}

/// Sets `dotted.path = value` in a TOML table; numeric segments index arrays
/// (`flows.0.rate=2Gbps`). The value is parsed as TOML, else taken as a string.
pub fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<(), ConfigError> {
    let err = |message: String| ConfigError::Override {
        assignment: assignment.to_string(),
        message,
    };
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| err("expected key=value, e.g. --set duration=2s".into()))?;
    let key = key.trim();
    let raw = raw.trim();
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or(toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    };
    set_path(table, key, value).map_err(err)
}

/// Reads a dotted path (numeric segments index lists).
pub fn get_path<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let mut segs = key.split('.');
    let mut cur = table.get(segs.next()?)?;
    for s in segs {
        cur = match cur {
            toml::Value::Table(t) => t.get(s)?,
            toml::Value::Array(a) => a.get(s.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Sets `dotted.path = value` in a TOML table, creating tables on the way; numeric segments
/// index lists.
pub fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let err = |m: String| m;
    let segments: Vec<&str> = key.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(err(format!("`{key}` is not a dotted key path")));
    }
    let mut cursor: &mut toml::Value = {
        let first = segments[0];
        if segments.len() == 1 {
            table.insert(first.to_string(), value);
            return Ok(());
        }
        table
            .entry(first.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
    };
    for (depth, seg) in segments.iter().enumerate().skip(1) {
        let last = depth == segments.len() - 1;
        let walked = segments[..depth].join(".");
        cursor = match cursor {
            toml::Value::Table(t) => {
                if last {
                    t.insert(seg.to_string(), value);
                    return Ok(());
                }
                t.entry(seg.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            toml::Value::Array(a) => {
                let i: usize = seg.parse().map_err(|_| {
                    err(format!(
                        "`{walked}` is a list; `{seg}` must be an index 0..{}",
                        a.len()
                    ))
                })?;
                let len = a.len();
                let slot = a.get_mut(i).ok_or_else(|| {
                    err(format!(
                        "`{walked}` has {len} entries; index {i} is out of range"
                    ))
                })?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
            _ => return Err(err(format!("`{walked}` is a value, not a table or list"))),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_walk_tables_and_lists() {
        let mut t: toml::Table =
            toml::from_str("seed = 1\n[[flows]]\nrate = \"1Gbps\"\n[record]\nlinks = []").unwrap();
        apply_override(&mut t, "seed=7").unwrap();
        apply_override(&mut t, "flows.0.rate=2Gbps").unwrap();
        apply_override(&mut t, "topology.generate.kind=star").unwrap();
        assert_eq!(t["seed"].as_integer(), Some(7));
        assert_eq!(t["flows"][0]["rate"].as_str(), Some("2Gbps"));
        assert_eq!(t["topology"]["generate"]["kind"].as_str(), Some("star"));
        assert!(apply_override(&mut t, "flows.3.rate=1Gbps").is_err());
        assert!(apply_override(&mut t, "seed.x=1").is_err());
        assert!(apply_override(&mut t, "noequals").is_err());
    }
}
