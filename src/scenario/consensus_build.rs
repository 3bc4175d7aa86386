//! Builds a run's consensus group from the experiment: resolves node names, applies the
//! mode's presets under the file's overrides, registers the group as a component.

use super::component::{Setup, TransferSettings};
use super::consensus_host::{Group, GroupSettings};
use super::event::ComponentId;
use super::world::World;
use crate::config::consensus::{ConsensusConfig, ConsensusMode, ProtocolKind};
use crate::consensus::client::{Arrivals, ClientConfig, Replies};
use crate::consensus::pbft::PbftReplica;
use crate::consensus::raft::RaftReplica;
use crate::engine::rng::stable_hash;
use crate::engine::{SimDuration, SimTime};
use crate::net::{NodeId, Topology};
use crate::transport::datagram::HEADER_BYTES;
use rand::Rng;

/// What the group needs from the scenario being built.
pub struct GroupContext<'a> {
    pub topo: &'a Topology,
    pub seed: u64,
    pub end: SimTime,
    pub min_mtu: u32,
}

/// Places the group on its nodes as a component of `world`, each replica and the client a
/// message sender with its own flow.
pub fn add_group(
    world: &mut World,
    c: &ConsensusConfig,
    cx: &GroupContext,
) -> Result<ComponentId, String> {
    match c.effective_protocol() {
        ProtocolKind::Pbft => world.add_component(|setup| pbft_group(c, cx, setup)),
        _ => world.add_component(|setup| raft_group(c, cx, setup)),
    }
}

fn pbft_group(
    c: &ConsensusConfig,
    cx: &GroupContext,
    setup: &mut Setup,
) -> Result<Group<PbftReplica>, String> {
    use crate::config::consensus::ByzantineKind;
    use crate::consensus::pbft::Behaviour;
    let (settings, client) = group_settings(c, cx, setup)?;
    let pbft = c.pbft_config();
    let n = c.nodes.len();
    let faulty = c
        .nodes
        .iter()
        .map(|name| c.pbft.byzantine.contains_key(name))
        .collect();
    let replicas = (0..n as u32)
        .map(|i| {
            let mut r = PbftReplica::new(i, pbft.clone());
            if let Some(k) = c.pbft.byzantine.get(&c.nodes[i as usize]) {
                r.set_behaviour(match k {
                    ByzantineKind::Silent => Behaviour::Silent,
                    ByzantineKind::EquivocatingPrimary => Behaviour::EquivocatingPrimary,
                    ByzantineKind::WrongDigest => Behaviour::WrongDigest,
                });
            }
            r
        })
        .collect();
    let mut group = Group::new(settings, client, replicas);
    group.set_faulty(faulty);
    Ok(group)
}

fn raft_group(
    c: &ConsensusConfig,
    cx: &GroupContext,
    setup: &mut Setup,
) -> Result<Group<RaftReplica>, String> {
    let (settings, client) = group_settings(c, cx, setup)?;
    let cfg = c.raft_config();
    let replicas = (0..c.nodes.len() as u32)
        .map(|i| {
            let mut own = cfg;
            if let Some(f) = c.raft.fsync_by_node.get(&c.nodes[i as usize]) {
                own.fsync = f.0;
            }
            RaftReplica::new(i, own, setup.streams)
        })
        .collect();
    Ok(Group::new(settings, client, replicas))
}

/// Resolves the group's nodes, client, timing and transfers; registers its senders.
fn group_settings(
    c: &ConsensusConfig,
    cx: &GroupContext,
    setup: &mut Setup,
) -> Result<(GroupSettings, ClientConfig), String> {
    let node = |key: &str, name: &str| -> Result<NodeId, String> {
        cx.topo.node_id(name).ok_or_else(|| {
            format!(
                "`consensus.{key}` names `{name}`, which is not a node of topology `{}`",
                cx.topo.name
            )
        })
    };
    let nodes = c
        .nodes
        .iter()
        .map(|n| node("nodes", n))
        .collect::<Result<Vec<_>, _>>()?;
    let client_node = match &c.client {
        Some(n) => node("client", n)?,
        None => nodes[0],
    };
    if cx.min_mtu <= HEADER_BYTES {
        return Err(format!(
            "the smallest link MTU ({} bytes) leaves no room for consensus messages",
            cx.min_mtu
        ));
    }
    let name = c.group_name();
    let n = nodes.len();
    let mut senders = Vec::with_capacity(n + 1);
    let at = nodes.iter().copied().chain(std::iter::once(client_node));
    for (k, at) in at.enumerate() {
        let who = if k == n {
            "client".to_string()
        } else {
            format!("r{k}")
        };
        let hash = stable_hash(cx.seed, format!("flow/{name}/{who}").as_bytes()) as u32;
        senders.push(setup.add_sender(at, hash));
    }
    let internet = c.mode == ConsensusMode::Internet;
    let r = &c.requests;
    let protocol = c.effective_protocol();
    let pbft = c.pbft_config();
    let cc = c.sync.cc.unwrap_or(crate::transport::tcp::CcKind::Cubic);
    let mut tcp = crate::transport::tcp::TcpConfig::for_mtu(cx.min_mtu, cc);
    tcp.bytes = None;
    let transfer = TransferSettings {
        streams: c.sync.streams.unwrap_or(8),
        chunk: c.sync.chunk.map_or(64 << 10, |b| b.0),
        transport: crate::transport::multistream::StreamTransport::Tcp(tcp),
    };
    let settings = GroupSettings {
        name: name.clone(),
        node_names: c.nodes.clone(),
        nodes,
        client_node,
        start: SimTime::ZERO + c.start.map_or(SimDuration::ZERO, |d| d.0),
        boot_offsets: {
            let phase = match protocol {
                ProtocolKind::Pbft => 0,
                _ => c.raft_config().tick.as_ps(),
            };
            let mut rng = setup.streams.stream(&format!("consensus/{name}/boot"));
            (0..n)
                .map(|_| {
                    SimDuration::from_ps(if phase > 0 {
                        rng.random_range(0..phase)
                    } else {
                        0
                    })
                })
                .collect()
        },
        bulk_threshold: c
            .bulk_threshold
            .map_or(16 << 10, |b| b.0.min(u32::MAX as u64) as u32),
        transfer,
        senders,
    };
    let interval = r.interval.map_or(SimDuration::from_millis(10), |d| d.0);
    let client = ClientConfig {
        arrivals: if r.poisson.unwrap_or(false) {
            Arrivals::Poisson {
                mean: interval,
                rng: Box::new(setup.streams.stream(&format!("consensus/{name}/arrivals"))),
            }
        } else {
            Arrivals::Fixed(interval)
        },
        request_bytes: r.bytes.map_or(256, |b| b.0 as u32),
        start: SimTime::ZERO + r.start.map_or(SimDuration::from_secs(1), |d| d.0),
        stop: r.stop.map_or(cx.end, |d| SimTime::ZERO + d.0).min(cx.end),
        timeout: r
            .timeout
            .map_or(SimDuration::from_secs(if internet { 10 } else { 1 }), |d| {
                d.0
            }),
        replicas: n as u32,
        replies: Replies::needing(match protocol {
            ProtocolKind::Pbft => pbft.f() + 1,
            _ => 1,
        }),
    };
    Ok((settings, client))
}
