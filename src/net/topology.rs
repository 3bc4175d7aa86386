//! Topologies: the TOML schema (`topologies/*.toml`), generators, and validation into a
//! [`Topology`] of typed nodes and links that the network is built from.
//!
//! A file lists `[[nodes]]` and `[[links]]` (with `[link_defaults]`), or asks a generator
//! with `[generate]`. Validation names the offending node or link and what is allowed.

use super::generators::GeneratorConfig;
use super::ids::NodeId;
use super::loss::LossConfig;
use crate::engine::SimDuration;
use crate::units::{Bytes, Duration, Rate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Default egress queue when a link sets neither `queue_packets` nor `queue_bytes`:
/// 100 packets, ns-3's DropTailQueue default.
pub const DEFAULT_QUEUE_PACKETS: u64 = 100;
/// Default MTU: Ethernet's 1500 bytes.
pub const DEFAULT_MTU: u64 = 1500;

/// What a node is; hosts send and receive, switches and routers forward.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, Default)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// An end host (default).
    #[default]
    Host,
    /// A switch.
    Switch,
    /// A router (e.g. a WAN gateway).
    Router,
}

/// A node as written in a topology file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Unique node name.
    pub name: String,
    /// What the node is (default host).
    #[serde(default)]
    pub kind: NodeKind,
}

/// A link, or the defaults every link inherits (then `a`/`b` stay empty). Every field is
/// optional here so that defaults and overrides compose.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// Defaults to `"<a>-<b>"`.
    pub name: Option<String>,
    /// Name of one endpoint node.
    pub a: Option<String>,
    /// Name of the other endpoint node.
    pub b: Option<String>,
    /// Line rate, SI bits per second (`"25Gbps"`).
    pub rate: Option<Rate>,
    /// One-way propagation delay.
    pub delay: Option<Duration>,
    /// Extra delay drawn uniformly from `[0, jitter]` per packet.
    pub jitter: Option<Duration>,
    /// Let jitter reorder packets (default false: a packet never overtakes its predecessor,
    /// as on a real wire).
    pub reorder: Option<bool>,
    /// Largest packet, bytes (default 1500).
    pub mtu: Option<Bytes>,
    /// Egress queue capacity in packets (waiting, not counting the one on the wire).
    pub queue_packets: Option<u64>,
    /// Egress queue capacity in bytes.
    pub queue_bytes: Option<Bytes>,
    /// Mark ECN CE on packets enqueued above this many waiting packets.
    pub ecn_threshold_packets: Option<u64>,
    /// Mark ECN CE on packets enqueued above this many waiting bytes.
    pub ecn_threshold_bytes: Option<Bytes>,
    /// Priority flow control (IEEE 802.1Qbb) on this link: when the packets one direction
    /// has delivered wait at the receiving node beyond this many bytes, that node pauses the
    /// sender; lossless only if the threshold leaves headroom for what is still on the wire.
    pub pfc_xoff: Option<Bytes>,
    /// Resume below this many bytes (default `pfc_xoff / 2`).
    pub pfc_xon: Option<Bytes>,
    /// Loss layers for both directions (each direction has its own state and stream).
    pub loss: Option<Vec<LossConfig>>,
    /// Extra loss layers for the a→b direction only.
    pub loss_ab: Option<Vec<LossConfig>>,
    /// Extra loss layers for the b→a direction only.
    pub loss_ba: Option<Vec<LossConfig>>,
}

impl LinkConfig {
    /// Fills every unset field of `self` from `defaults`.
    pub fn or(mut self, defaults: &LinkConfig) -> LinkConfig {
        macro_rules! inherit {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = defaults.$f.clone(); } )* };
        }
        inherit!(
            rate,
            delay,
            jitter,
            reorder,
            mtu,
            queue_packets,
            queue_bytes,
            ecn_threshold_packets,
            ecn_threshold_bytes,
            pfc_xoff,
            pfc_xon,
            loss,
            loss_ab,
            loss_ba
        );
        self
    }
}

/// A topology file.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TopologyConfig {
    /// In an experiment file: load this topology file instead of inline nodes and links
    /// (relative paths are resolved against the experiment file's folder, then the cwd).
    pub file: Option<String>,
    /// Topology name (defaults to one the caller supplies).
    pub name: Option<String>,
    /// Values every link inherits unless it sets them.
    #[serde(default)]
    pub link_defaults: LinkConfig,
    /// Nodes listed by hand.
    #[serde(default)]
    pub nodes: Vec<NodeConfig>,
    /// Links listed by hand.
    #[serde(default)]
    pub links: Vec<LinkConfig>,
    /// Build nodes and links with a generator instead of listing them.
    pub generate: Option<GeneratorConfig>,
}

/// Resolved, validated parameters of one link (both directions).
#[derive(Clone, Debug)]
pub struct LinkParams {
    /// Line rate, bits per second.
    pub rate_bps: u64,
    /// One-way propagation delay.
    pub delay: SimDuration,
    /// Maximum extra per-packet delay, drawn uniformly from `[0, jitter]`.
    pub jitter: SimDuration,
    /// Whether jitter may reorder packets.
    pub reorder: bool,
    /// Largest packet, bytes.
    pub mtu: u32,
    /// Egress queue capacity, packets; `None`: unbounded.
    pub queue_packets: Option<u64>,
    /// Egress queue capacity, bytes; `None`: unbounded.
    pub queue_bytes: Option<u64>,
    /// ECN marking threshold, waiting packets; `None`: no marking.
    pub ecn_threshold_packets: Option<u64>,
    /// ECN marking threshold, waiting bytes; `None`: no marking.
    pub ecn_threshold_bytes: Option<u64>,
    /// PFC `(xoff, xon)` thresholds in bytes, if enabled.
    pub pfc: Option<(u64, u64)>,
}

/// A validated node.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// Unique node name.
    pub name: String,
    /// What the node is.
    pub kind: NodeKind,
}

/// A validated link between two known nodes.
#[derive(Clone, Debug)]
pub struct LinkSpec {
    /// Unique link name.
    pub name: String,
    /// One endpoint (the a→b direction leaves it).
    pub a: NodeId,
    /// The other endpoint.
    pub b: NodeId,
    /// Rate, delay, queues and thresholds of both directions.
    pub params: LinkParams,
    /// Loss layers of the a→b direction (shared `loss` then `loss_ab`).
    pub loss_ab: Vec<LossConfig>,
    /// Loss layers of the b→a direction (shared `loss` then `loss_ba`).
    pub loss_ba: Vec<LossConfig>,
}

/// A validated topology: names unique, endpoints known, parameters in range, connected.
#[derive(Clone, Debug)]
pub struct Topology {
    /// Topology name.
    pub name: String,
    /// Nodes, indexed by [`NodeId`].
    pub nodes: Vec<NodeSpec>,
    /// Links, indexed by [`LinkId`](super::LinkId).
    pub links: Vec<LinkSpec>,
    by_name: BTreeMap<String, NodeId>,
}

/// What is wrong with a topology; each message names the node or link.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The file could not be read.
    #[error("cannot read topology file {path}: {cause}")]
    Io {
        /// The file's path.
        path: String,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// TOML syntax or schema error (the message carries line, column and key).
    #[error("in topology file {path}: {message}")]
    Parse {
        /// The file's path.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A value is out of range or a reference is dangling.
    #[error("in {origin} (topology `{topology}`): {message}")]
    Invalid {
        /// Where the topology came from, e.g. "experiment file x.toml".
        origin: String,
        /// Topology name.
        topology: String,
        /// What is wrong, naming the node or link.
        message: String,
    },
}

impl Topology {
    /// No nodes and no links: the network of a study that sends nothing.
    pub fn empty(name: &str) -> Topology {
        Topology {
            name: name.to_string(),
            nodes: Vec::new(),
            links: Vec::new(),
            by_name: BTreeMap::new(),
        }
    }

    /// The id of the node called `name`, if any.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).copied()
    }

    /// The ids of all host nodes, in id order.
    pub fn hosts(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.kind == NodeKind::Host)
            .map(|(i, _)| NodeId(i as u32))
    }

    /// Reads and validates a topology file.
    pub fn load(path: &Path) -> Result<Topology, TopologyError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|cause| TopologyError::Io {
            path: shown.clone(),
            cause,
        })?;
        let cfg: TopologyConfig = toml::from_str(&text).map_err(|e| TopologyError::Parse {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        if cfg.file.is_some() {
            return Err(TopologyError::Parse {
                path: shown,
                message: "`file` is only allowed in an experiment's [topology] section".into(),
            });
        }
        let default_name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Topology::from_config(&cfg, &default_name, &format!("topology file {shown}"))
    }

    /// Validates an in-memory topology description (generators are expanded here);
    /// `origin` says where it came from in error messages (e.g. "experiment file x.toml").
    pub fn from_config(
        cfg: &TopologyConfig,
        default_name: &str,
        origin: &str,
    ) -> Result<Topology, TopologyError> {
        let name = cfg.name.clone().unwrap_or_else(|| default_name.to_string());
        let invalid = |message: String| TopologyError::Invalid {
            origin: origin.to_string(),
            topology: name.clone(),
            message,
        };
        let (nodes, links) = match &cfg.generate {
            Some(generator) => {
                if !cfg.nodes.is_empty() || !cfg.links.is_empty() {
                    return Err(invalid(
                        "give either [generate] or [[nodes]]/[[links]], not both".into(),
                    ));
                }
                generator.expand().map_err(invalid)?
            }
            None => (cfg.nodes.clone(), cfg.links.clone()),
        };
        if nodes.is_empty() {
            return Err(invalid("no nodes: list [[nodes]] or use [generate]".into()));
        }
        let mut by_name = BTreeMap::new();
        let mut specs = Vec::with_capacity(nodes.len());
        for n in &nodes {
            if n.name.is_empty() {
                return Err(invalid("a node has an empty name".into()));
            }
            if by_name
                .insert(n.name.clone(), NodeId(specs.len() as u32))
                .is_some()
            {
                return Err(invalid(format!("node `{}` is defined twice", n.name)));
            }
            specs.push(NodeSpec {
                name: n.name.clone(),
                kind: n.kind,
            });
        }
        let mut link_specs = Vec::with_capacity(links.len());
        let mut link_names = BTreeMap::new();
        for (i, l) in links.iter().enumerate() {
            let l = l.clone().or(&cfg.link_defaults);
            let endpoint = |which: &str, v: &Option<String>| -> Result<NodeId, TopologyError> {
                let n = v
                    .as_deref()
                    .ok_or_else(|| invalid(format!("link #{} has no `{which}` endpoint", i + 1)))?;
                by_name.get(n).copied().ok_or_else(|| {
                    invalid(format!(
                        "link #{} endpoint `{which}` = `{n}` is not a node of this topology",
                        i + 1
                    ))
                })
            };
            let a = endpoint("a", &l.a)?;
            let b = endpoint("b", &l.b)?;
            let lname = l
                .name
                .clone()
                .unwrap_or_else(|| format!("{}-{}", specs[a.index()].name, specs[b.index()].name));
            if a == b {
                return Err(invalid(format!(
                    "link `{lname}` connects node `{}` to itself",
                    specs[a.index()].name
                )));
            }
            if link_names.insert(lname.clone(), i).is_some() {
                return Err(invalid(format!(
                    "link name `{lname}` is used twice (set `name` to tell parallel links apart)"
                )));
            }
            let params = link_params(&l).map_err(|m| invalid(format!("link `{lname}`: {m}")))?;
            let mut loss_ab = l.loss.clone().unwrap_or_default();
            let mut loss_ba = loss_ab.clone();
            loss_ab.extend(l.loss_ab.clone().unwrap_or_default());
            loss_ba.extend(l.loss_ba.clone().unwrap_or_default());
            for layer in loss_ab.iter().chain(&loss_ba) {
                layer
                    .validate()
                    .map_err(|m| invalid(format!("link `{lname}`: {m}")))?;
            }
            link_specs.push(LinkSpec {
                name: lname,
                a,
                b,
                params,
                loss_ab,
                loss_ba,
            });
        }
        let topo = Topology {
            name: name.clone(),
            nodes: specs,
            links: link_specs,
            by_name,
        };
        topo.check_connected().map_err(invalid)?;
        Ok(topo)
    }

    fn check_connected(&self) -> Result<(), String> {
        let mut adj = vec![Vec::new(); self.nodes.len()];
        for l in &self.links {
            adj[l.a.index()].push(l.b.index());
            adj[l.b.index()].push(l.a.index());
        }
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![0usize];
        seen[0] = true;
        while let Some(u) = stack.pop() {
            for &v in &adj[u] {
                if !seen[v] {
                    seen[v] = true;
                    stack.push(v);
                }
            }
        }
        match seen.iter().position(|s| !s) {
            None => Ok(()),
            Some(i) => Err(format!(
                "the topology is disconnected: node `{}` cannot reach node `{}`",
                self.nodes[i].name, self.nodes[0].name
            )),
        }
    }
}

fn link_params(l: &LinkConfig) -> Result<LinkParams, String> {
    let rate = l
        .rate
        .ok_or("no `rate` (set it on the link or in [link_defaults], e.g. \"10Gbps\")")?;
    let mtu = l.mtu.map(|b| b.0).unwrap_or(DEFAULT_MTU);
    if !(64..=65_535).contains(&mtu) {
        return Err(format!(
            "`mtu` = {mtu} is out of range (allowed: 64 to 65535 bytes)"
        ));
    }
    let (queue_packets, queue_bytes) = match (l.queue_packets, l.queue_bytes) {
        (None, None) => (Some(DEFAULT_QUEUE_PACKETS), None),
        (p, b) => (p, b.map(|b| b.0)),
    };
    if queue_bytes.is_some_and(|b| b < mtu) {
        return Err(format!(
            "`queue_bytes` is smaller than the MTU ({mtu} bytes): no packet would ever fit"
        ));
    }
    let pfc = match (l.pfc_xoff, l.pfc_xon) {
        (None, None) => None,
        (None, Some(_)) => return Err("`pfc_xon` needs `pfc_xoff` (the pause threshold)".into()),
        (Some(off), on) => {
            let on = on.map_or(off.0 / 2, |b| b.0);
            if off.0 < mtu || on >= off.0 {
                return Err(format!(
                    "PFC thresholds need `pfc_xon` ({on} B) < `pfc_xoff` ({} B) and `pfc_xoff` at least one MTU ({mtu} B)",
                    off.0
                ));
            }
            Some((off.0, on))
        }
    };
    Ok(LinkParams {
        pfc,
        rate_bps: rate.bps(),
        delay: l.delay.map(|d| d.0).unwrap_or(SimDuration::ZERO),
        jitter: l.jitter.map(|d| d.0).unwrap_or(SimDuration::ZERO),
        reorder: l.reorder.unwrap_or(false),
        mtu: mtu as u32,
        queue_packets,
        queue_bytes,
        ecn_threshold_packets: l.ecn_threshold_packets,
        ecn_threshold_bytes: l.ecn_threshold_bytes.map(|b| b.0),
    })
}
