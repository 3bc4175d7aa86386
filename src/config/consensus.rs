//! `[consensus]` in experiment files: a Raft or PBFT group placed on topology nodes and
//! its client.

use crate::consensus::pbft::PbftConfig;
use crate::consensus::raft::RaftConfig;
use crate::engine::SimDuration;
use crate::units::{Bytes, Duration};
use serde::{Deserialize, Serialize};

/// Signature cost when `auth = "signature"` and none is given: an *assumption* of ~50 µs for
/// one Ed25519 signature on a current core (ed25519-dalek's benchmarks report tens of µs;
/// recalled, not re-measured here).
const DEFAULT_SIGNATURE_COST: SimDuration = SimDuration::from_micros(50);

/// Which protocol orders the requests.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolKind {
    /// Raft (over raft-rs): crash faults.
    Raft,
    /// PBFT: Byzantine faults.
    Pbft,
    /// The original ACP policy (seed-system.md §1.4): Raft among trusted datacenter nodes,
    /// PBFT among untrusted internet nodes, chosen by `mode`.
    Acp,
}

/// Timing presets: datacenter (short ticks, fast disks) or internet (etcd's WAN defaults,
/// the original's 5 s PBFT timeout).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ConsensusMode {
    /// Short ticks, fast disks (default).
    #[default]
    Datacenter,
    /// etcd's WAN defaults and the original's 5 s PBFT timeout.
    Internet,
}

/// `[consensus]`: one replicated group and the client that loads it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConsensusConfig {
    /// Which protocol orders the requests.
    pub protocol: ProtocolKind,
    /// Timing presets (default "datacenter").
    #[serde(default)]
    pub mode: ConsensusMode,
    /// Name in results (default: the protocol's).
    pub name: Option<String>,
    /// Topology nodes hosting the replicas, replica 0 first; one replica per node.
    pub nodes: Vec<String>,
    /// The node the client runs on (default: replica 0's node).
    pub client: Option<String>,
    /// When the replicas boot (default 0).
    pub start: Option<Duration>,
    /// The client's load.
    #[serde(default)]
    pub requests: RequestSettings,
    /// Raft overrides of the mode's preset.
    #[serde(default)]
    pub raft: RaftSettings,
    /// PBFT overrides of the mode's preset.
    #[serde(default)]
    pub pbft: PbftSettings,
    /// Messages larger than this travel over a TCP transfer instead of as datagrams
    /// (default 16KiB, about 11 full datagrams: a burst that a 100-packet queue absorbs
    /// while other replicas send too).
    pub bulk_threshold: Option<Bytes>,
    /// Bulk state transfer (Raft snapshots) over AMST streams.
    #[serde(default)]
    pub sync: SyncSettings,
}

/// The client: an open loop of requests, retried until answered.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RequestSettings {
    /// Time between requests (default 10ms); the mean gap with `poisson = true`.
    pub interval: Option<Duration>,
    /// Exponential gaps instead of fixed ones (default false).
    pub poisson: Option<bool>,
    /// Payload bytes of one request (default 256).
    pub bytes: Option<Bytes>,
    /// First request (default 1s: after the first election).
    pub start: Option<Duration>,
    /// No new requests after this (default: end of run).
    pub stop: Option<Duration>,
    /// Resend a request not answered within this (default: 1s datacenter, 10s internet).
    /// Raft clients try the next replica, PBFT clients broadcast (Castro & Liskov §4.1).
    pub timeout: Option<Duration>,
}

/// Raft overrides of the mode's preset (`consensus::raft::RaftConfig`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RaftSettings {
    /// Duration of one Raft tick.
    pub tick: Option<Duration>,
    /// Leader heartbeat period, in ticks.
    pub heartbeat_tick: Option<u32>,
    /// Minimum election timeout, in ticks.
    pub election_tick: Option<u32>,
    /// Election timeouts are drawn from [election_tick, max_election_tick) ticks (default
    /// 2 × election_tick).
    pub max_election_tick: Option<u32>,
    /// Durable write latency (fsync) of every replica, over the mode's preset.
    pub fsync: Option<Duration>,
    /// Per-node fsync, by node name, over `fsync`: e.g. one replica on a spinning disk
    /// (etcd's hardware guide: fdatasync ~10 ms on HDD, under 1 ms on SSD).
    #[serde(default)]
    pub fsync_by_node: std::collections::BTreeMap<String, Duration>,
    /// Bytes of framing per entry beyond the request.
    pub entry_overhead: Option<Bytes>,
    /// Compact the log into a snapshot every this many applied entries (default: never).
    pub snapshot_every: Option<u64>,
    /// Entries kept after a compaction for slow followers (default 5000, etcd's).
    pub catch_up_entries: Option<u64>,
    /// Size of the replicated state, i.e. of a snapshot on the wire (default 0).
    pub state_bytes: Option<Bytes>,
}

/// How PBFT authenticates messages.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// MAC authenticators (Castro & Liskov §4 optimisation).
    #[default]
    Mac,
    /// A public-key signature on every message.
    Signature,
}

/// PBFT overrides of `consensus::pbft::PbftConfig::new`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PbftSettings {
    /// How messages are authenticated (default MAC).
    pub auth: Option<AuthKind>,
    /// CPU time of one MAC (used with `auth = "mac"`).
    pub mac_cost: Option<Duration>,
    /// CPU time of one signature (default 50us, an assumption for Ed25519 signing on one
    /// current core; used with `auth = "signature"`).
    pub signature_cost: Option<Duration>,
    /// Take a checkpoint every this many sequence numbers.
    pub checkpoint_interval: Option<u64>,
    /// T: how long a replica with 2f+1 view-change messages waits for the new-view (see `PbftConfig`).
    pub view_change_timeout: Option<Duration>,
    /// How long a backup waits for a known request to execute before starting a view change.
    pub request_timeout: Option<Duration>,
    /// Byzantine replicas by node name (tests of PBFT's f-fault tolerance); their own
    /// commits are left out of the safety check, as a faulty replica may claim anything.
    #[serde(default)]
    pub byzantine: std::collections::BTreeMap<String, ByzantineKind>,
}

/// How a Byzantine PBFT replica misbehaves (`consensus::pbft::Behaviour`).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ByzantineKind {
    /// Sends nothing.
    Silent,
    /// As primary, pre-prepares different requests to the two halves of the backups.
    EquivocatingPrimary,
    /// Prepares and commits with corrupted digests.
    WrongDigest,
}

/// What carries a snapshot.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    /// Parallel TCP streams of the AMST transfer (default 8, the original's internet-mode
    /// stream count).
    pub streams: Option<u32>,
    /// Chunk size (default 64KiB).
    pub chunk: Option<Bytes>,
    /// Congestion control of the streams (default "cubic", Linux's default).
    pub cc: Option<crate::transport::tcp::CcKind>,
}

impl RaftSettings {
    /// The Raft parameters of an `n`-replica group: the mode's preset, these keys over it
    /// (per-node fsync is applied per replica, by the builder).
    pub fn resolve(&self, mode: ConsensusMode, n: u32) -> RaftConfig {
        let mut r = match mode {
            ConsensusMode::Datacenter => RaftConfig::datacenter(n),
            ConsensusMode::Internet => RaftConfig::internet(n),
        };
        if let Some(t) = self.tick {
            r.tick = t.0;
        }
        if let Some(h) = self.heartbeat_tick {
            r.heartbeat_tick = h;
        }
        if let Some(e) = self.election_tick {
            r.election_tick = e;
        }
        r.max_election_tick = self.max_election_tick;
        if let Some(f) = self.fsync {
            r.fsync = f.0;
        }
        if let Some(o) = self.entry_overhead {
            r.entry_overhead = o.0 as u32;
        }
        r.snapshot_every = self.snapshot_every;
        if let Some(k) = self.catch_up_entries {
            r.catch_up_entries = k;
        }
        if let Some(b) = self.state_bytes {
            r.state_bytes = b.0;
        }
        r
    }
}

impl PbftSettings {
    /// The PBFT parameters of an `n`-replica group: `PbftConfig::new`, these keys over it.
    pub fn resolve(&self, n: u32) -> PbftConfig {
        let mut p = PbftConfig::new(n);
        if let Some(m) = self.mac_cost {
            p.mac_cost = m.0;
        }
        if self.auth == Some(AuthKind::Signature) {
            p.signature_cost = Some(self.signature_cost.map_or(DEFAULT_SIGNATURE_COST, |d| d.0));
        }
        if let Some(k) = self.checkpoint_interval {
            p.checkpoint_interval = k;
            p.watermark_window = 2 * k;
        }
        if let Some(t) = self.view_change_timeout {
            p.view_change_timeout = t.0;
        }
        if let Some(t) = self.request_timeout {
            p.request_timeout = t.0;
        }
        p
    }
}

impl ConsensusConfig {
    /// The group's Raft parameters (see [`RaftSettings::resolve`]).
    pub fn raft_config(&self) -> RaftConfig {
        self.raft.resolve(self.mode, self.nodes.len() as u32)
    }

    /// The group's PBFT parameters (see [`PbftSettings::resolve`]).
    pub fn pbft_config(&self) -> PbftConfig {
        self.pbft.resolve(self.nodes.len() as u32)
    }

    /// Checks what can be checked without the topology.
    pub fn validate(&self) -> Result<(), String> {
        let min = match self.effective_protocol() {
            ProtocolKind::Pbft => 4,
            _ => 1,
        };
        if (self.nodes.len() as u32) < min {
            return Err(format!(
                "`consensus.nodes` lists {} node(s); {} needs at least {min}",
                self.nodes.len(),
                self.protocol_name()
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for n in &self.nodes {
            if !seen.insert(n) {
                return Err(format!(
                    "`consensus.nodes` lists `{n}` twice (one replica per node)"
                ));
            }
        }
        if self.requests.interval.is_some_and(|d| d.0.as_ps() == 0) {
            return Err("`consensus.requests.interval` must be greater than zero".into());
        }
        if self.requests.timeout.is_some_and(|d| d.0.as_ps() == 0) {
            return Err("`consensus.requests.timeout` must be greater than zero".into());
        }
        let r = &self.raft;
        if r.tick.is_some_and(|d| d.0.as_ps() == 0) {
            return Err("`consensus.raft.tick` must be greater than zero".into());
        }
        let hb = r.heartbeat_tick.unwrap_or(1);
        let el = r.election_tick.unwrap_or(10);
        if hb == 0 || el <= hb {
            return Err(format!(
                "`consensus.raft`: need 0 < heartbeat_tick ({hb}) < election_tick ({el})"
            ));
        }
        if let Some(max) = r.max_election_tick {
            if max <= el {
                return Err(format!(
                    "`consensus.raft.max_election_tick` ({max}) must exceed election_tick ({el}): timeouts are drawn from [election_tick, max_election_tick)"
                ));
            }
        }
        if r.snapshot_every == Some(0) {
            return Err("`consensus.raft.snapshot_every` must be at least 1".into());
        }
        if r.catch_up_entries == Some(0) {
            return Err(
                "`consensus.raft.catch_up_entries` must be at least 1 (raft-rs needs the term of the last applied entry)"
                    .into(),
            );
        }
        let max = crate::consensus::raft::MAX_STATE_BYTES;
        if r.state_bytes.is_some_and(|b| b.0 > max) {
            return Err(format!(
                "`consensus.raft.state_bytes` must be at most {max} bytes (a snapshot message's size is 32-bit)"
            ));
        }
        if self.pbft.checkpoint_interval == Some(0) {
            return Err("`consensus.pbft.checkpoint_interval` must be at least 1".into());
        }
        if self.sync.streams == Some(0) || self.sync.streams.is_some_and(|s| s > 512) {
            return Err("`consensus.sync.streams` must be 1 to 512".into());
        }
        if self.sync.chunk.is_some_and(|c| c.0 == 0) {
            return Err("`consensus.sync.chunk` must be at least 1 byte".into());
        }
        for (key, names) in [
            (
                "raft.fsync_by_node",
                self.raft.fsync_by_node.keys().collect::<Vec<_>>(),
            ),
            ("pbft.byzantine", self.pbft.byzantine.keys().collect()),
        ] {
            if let Some(name) = names.into_iter().find(|n| !self.nodes.contains(n)) {
                return Err(format!(
                    "`consensus.{key}` names `{name}`, which hosts no replica (consensus.nodes: {})",
                    self.nodes.join(", ")
                ));
            }
        }
        if self.effective_protocol() == ProtocolKind::Pbft {
            let f = self.pbft_config().f();
            if self.pbft.byzantine.len() as u32 > f {
                return Err(format!(
                    "`consensus.pbft.byzantine` lists {} replicas; {} replicas tolerate f = {f}",
                    self.pbft.byzantine.len(),
                    self.nodes.len()
                ));
            }
        }
        Ok(())
    }

    /// Raft or PBFT, after the ACP policy.
    pub fn effective_protocol(&self) -> ProtocolKind {
        match (self.protocol, self.mode) {
            (ProtocolKind::Acp, ConsensusMode::Datacenter) => ProtocolKind::Raft,
            (ProtocolKind::Acp, ConsensusMode::Internet) => ProtocolKind::Pbft,
            (p, _) => p,
        }
    }

    /// `"raft"` or `"pbft"`: the protocol that actually runs (ACP resolved by `mode`).
    pub fn protocol_name(&self) -> &'static str {
        match self.effective_protocol() {
            ProtocolKind::Pbft => "pbft",
            _ => "raft",
        }
    }

    /// Name of the group in results.
    pub fn group_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.protocol_name().to_string())
    }
}
