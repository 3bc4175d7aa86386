//! Builds the world of one run from an experiment and its topology: resolves names to ids,
//! expands flow patterns, gives every component its named random stream. Wiring only: what
//! a model does lives in its own module ([`crate::transport`], [`crate::consensus`], …).
//!
//! - [`event`]: the closed event enum, one sub-enum per subsystem.
//! - [`component`]: the interface every model implements and the [`Context`] it is driven
//!   through (its own scheduler, the network, streams, message and transfer services).
//! - [`world`]: the event loop that routes each event to its owner.
//!
//! Invariants: building is deterministic (the same experiment and seed give the same world,
//! flow ids and streams); every random stream is named by what uses it, so adding a
//! component never changes another's draws; errors name the experiment file and the key.

pub mod component;
pub(crate) mod consensus_build;
pub mod consensus_host;
pub mod event;
pub(crate) mod faults;
pub mod migration_host;
pub mod world;

pub use component::{Component, ComponentRecords, Context, Setup};
pub use event::{ComponentEvent, ComponentId, Event, UserEvent};
pub use world::World;

use crate::config::LoadedExperiment;
use crate::config::{AppKind, FlowPattern, SizeDistribution};
use crate::config::{InitialMode, StreamKind};
use crate::engine::rng::stable_hash;
use crate::engine::{Engine, RngStreams, SimDuration, SimTime};
use crate::metrics::TimeSeries;
use crate::net::{LinkChange, Network, NodeId, Topology, TopologyError};
use crate::traffic::{poisson_pattern, Pattern, SizeModel, Source};
use crate::transport::multistream::mode::{Mode, ModeThresholds};
use crate::transport::multistream::{
    AdaptiveConfig, AmstConfig, MultiStream, StreamSetConfig, StreamTransport,
};
use crate::transport::rdma::RdmaConnection;
use crate::transport::tcp::TcpConnection;
use crate::transport::{Connection, Ends};
use rand::Rng;
use world::{Owner, Sampler, TransportSlot};

/// Why a scenario could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The topology file or section is invalid.
    #[error(transparent)]
    Topology(#[from] TopologyError),
    /// The experiment refers to something that does not exist or does not fit.
    #[error("in experiment file {path}: {message}")]
    Invalid {
        /// The experiment file.
        path: String,
        /// What is wrong, naming the key.
        message: String,
    },
}

/// Loads or generates the experiment's topology.
pub fn topology_of(exp: &LoadedExperiment) -> Result<Topology, ScenarioError> {
    let t = &exp.config.topology;
    if exp.config.compress.is_some() && *t == crate::net::TopologyConfig::default() {
        return Ok(Topology::empty(&exp.config.name));
    }
    let shown = exp.path.display().to_string();
    let invalid = |message: String| ScenarioError::Invalid {
        path: shown.clone(),
        message,
    };
    match &t.file {
        Some(file) => {
            let inline = crate::net::TopologyConfig {
                file: Some(file.clone()),
                ..Default::default()
            };
            if *t != inline {
                return Err(invalid(
                    "[topology] has `file` and also other keys (name, link_defaults, nodes, links or generate): \
                     put them in the topology file, or drop `file`"
                        .into(),
                ));
            }
            match exp.find_file(file) {
                Ok(p) => Ok(Topology::load(&p)?),
                Err(looked) => Err(invalid(format!(
                    "[topology] file = {file:?} not found (looked for {looked})"
                ))),
            }
        }
        None => Ok(Topology::from_config(
            t,
            &exp.config.name,
            &format!("experiment file {shown}"),
        )?),
    }
}

/// Loads the topology and builds the world with the experiment's own seed.
pub fn prepare(exp: &LoadedExperiment) -> Result<World, ScenarioError> {
    prepare_with(exp, |_| Ok(()))
}

/// As [`prepare`], with components of the caller's added by `add` (through
/// [`World::add_component`]) before the checks that need every component, such as the roles
/// that faults name.
pub fn prepare_with(
    exp: &LoadedExperiment,
    add: impl FnOnce(&mut World) -> Result<(), String>,
) -> Result<World, ScenarioError> {
    let topo = topology_of(exp)?;
    let mut world = build_unchecked(exp, &topo, exp.config.seed)?;
    let invalid = |message: String| ScenarioError::Invalid {
        path: exp.path.display().to_string(),
        message,
    };
    add(&mut world).map_err(invalid)?;
    world.check_fault_roles().map_err(invalid)?;
    Ok(world)
}

/// Builds a ready-to-run world with master seed `seed`.
pub fn build(exp: &LoadedExperiment, topo: &Topology, seed: u64) -> Result<World, ScenarioError> {
    let world = build_unchecked(exp, topo, seed)?;
    world
        .check_fault_roles()
        .map_err(|message| ScenarioError::Invalid {
            path: exp.path.display().to_string(),
            message,
        })?;
    Ok(world)
}

/// The world of [`build`] before the checks that need every component.
fn build_unchecked(
    exp: &LoadedExperiment,
    topo: &Topology,
    seed: u64,
) -> Result<World, ScenarioError> {
    let cfg = &exp.config;
    let invalid = |message: String| ScenarioError::Invalid {
        path: exp.path.display().to_string(),
        message,
    };
    let streams = RngStreams::new(seed);
    let mut net = Network::new(topo, &streams, cfg.routing.metric, cfg.routing.ecmp);
    let end = SimTime::ZERO + cfg.duration.0;
    let min_mtu = topo
        .links
        .iter()
        .map(|l| l.params.mtu)
        .min()
        .unwrap_or(u32::MAX);
    let node = |at: &str, key: &str, name: &str| -> Result<NodeId, ScenarioError> {
        topo.node_id(name).ok_or_else(|| {
            invalid(format!(
                "{at}: `{key}` = `{name}` is not a node of topology `{}`",
                topo.name
            ))
        })
    };

    let mut sources = Vec::new();
    let mut transports = Vec::new();
    let mut flow_meta = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, f) in cfg.flows.iter().enumerate() {
        let at = format!("flows[{i}]");
        let base = f
            .name
            .clone()
            .unwrap_or_else(|| format!("{}{i}", app_name(f.app)));
        let pairs: Vec<(NodeId, NodeId)> = match (f.pattern, &f.src, &f.dst) {
            (Some(FlowPattern::Permutation), _, _) => {
                let hosts: Vec<NodeId> = topo.hosts().collect();
                if hosts.len() < 2 {
                    return Err(invalid(format!(
                        "{at}: pattern \"permutation\" needs at least 2 hosts"
                    )));
                }
                let mut rng = streams.stream(&format!("flows/{base}/permutation"));
                derangement(&hosts, &mut rng)
            }
            (None, Some(s), Some(d)) => vec![(node(&at, "src", s)?, node(&at, "dst", d)?)],
            _ => {
                return Err(invalid(format!(
                    "{at}: needs `src` and `dst` or a `pattern`"
                )))
            }
        };
        let copies = f.copies.unwrap_or(1) as usize;
        let pairs: Vec<(NodeId, NodeId)> = pairs
            .iter()
            .flat_map(|&p| std::iter::repeat_n(p, copies))
            .collect();
        let size = f.packet_size.map(|b| b.0 as u32).unwrap_or(match f.app {
            AppKind::Ping => 64,
            _ => 1500,
        });
        if size > min_mtu {
            return Err(invalid(format!(
                "{at}: `packet_size` = {size} exceeds the smallest link MTU in the topology ({min_mtu} bytes)"
            )));
        }
        let start = SimTime::ZERO + f.start.map(|d| d.0).unwrap_or(SimDuration::ZERO);
        let stop = f.stop.map(|d| SimTime::ZERO + d.0).unwrap_or(end).min(end);
        for (k, (src, dst)) in pairs.iter().enumerate() {
            let name = if pairs.len() == 1 {
                base.clone()
            } else {
                format!("{base}/{k}")
            };
            if !names.insert(name.clone()) {
                return Err(invalid(format!("{at}: flow name `{name}` is used twice")));
            }
            let hash = stable_hash(seed, format!("flow/{name}").as_bytes()) as u32;
            let meta = (
                name.clone(),
                app_name(f.app),
                topo.nodes[src.index()].name.clone(),
                topo.nodes[dst.index()].name.clone(),
            );
            if f.app == AppKind::Amst {
                let total = f.bytes.map_or(0, |b| b.0);
                // Each stream hashes on its own, so ECMP spreads the streams.
                let mut stream_ends = |n: u32| -> Vec<Ends> {
                    (0..n)
                        .map(|k| {
                            let hash = stable_hash(seed, format!("flow/{name}/{k}").as_bytes());
                            connection_ends(&mut net, *src, *dst, hash as u32)
                        })
                        .collect()
                };
                let (ms, ends) = if f.transport == Some(StreamKind::Adaptive) {
                    let a = f.adaptive.clone().unwrap_or_default();
                    let tcp = cfg
                        .tcp_settings(f)
                        .resolve(None, min_mtu)
                        .map_err(|m| invalid(format!("{at}: {m}")))?;
                    let rdma = rdma_for(cfg, f, topo, *src, None, min_mtu)
                        .map_err(|m| invalid(format!("{at}: {m}")))?;
                    let adaptive = AdaptiveConfig {
                        datacenter: StreamSetConfig {
                            transport: StreamTransport::Rdma(rdma),
                            streams: a.datacenter_streams(f),
                            chunk_bytes: a.datacenter_chunk(f),
                            compression: None,
                        },
                        internet: StreamSetConfig {
                            transport: StreamTransport::Tcp(tcp),
                            streams: a.internet_streams(f),
                            chunk_bytes: a.internet_chunk(f),
                            compression: chunk_compression(exp, &a, seed)
                                .map_err(|m| invalid(format!("{at}: {m}")))?,
                        },
                        check_interval: a.check_interval.map_or(SimDuration::from_secs(5), |d| d.0),
                        confirm: a.confirm.unwrap_or(3),
                        thresholds: ModeThresholds::default(),
                        initial: match a.initial {
                            Some(InitialMode::Datacenter) => Mode::Datacenter,
                            _ => Mode::Internet,
                        },
                    };
                    let ends = stream_ends(adaptive.datacenter.streams + adaptive.internet.streams);
                    (MultiStream::adaptive(total, &adaptive, &ends, start), ends)
                } else {
                    let over = match f.transport.unwrap_or_default() {
                        StreamKind::Rdma => StreamTransport::Rdma(
                            rdma_for(cfg, f, topo, *src, None, min_mtu)
                                .map_err(|m| invalid(format!("{at}: {m}")))?,
                        ),
                        _ => StreamTransport::Tcp(
                            cfg.tcp_settings(f)
                                .resolve(None, min_mtu)
                                .map_err(|m| invalid(format!("{at}: {m}")))?,
                        ),
                    };
                    let amst = AmstConfig {
                        streams: f.streams.unwrap_or(1),
                        chunk_bytes: f.chunk.map_or(64 << 10, |c| c.0),
                        total_bytes: total,
                    };
                    let ends = stream_ends(amst.streams);
                    (MultiStream::new(amst, &over, &ends, start), ends)
                };
                transports.push(TransportSlot::new(
                    Connection::Amst(Box::new(ms)),
                    ends[0],
                    start,
                    meta,
                ));
                let last = transports.len() - 1;
                transports[last].extra_flows = ends[1..].to_vec();
                continue;
            }
            if f.app == AppKind::Tcp {
                let settings = cfg.tcp_settings(f);
                let tcp = settings
                    .resolve(f.bytes.map(|b| b.0), min_mtu)
                    .map_err(|m| invalid(format!("{at}: {m}")))?;
                let ends = connection_ends(&mut net, *src, *dst, hash);
                transports.push(TransportSlot::new(
                    Connection::Tcp(Box::new(TcpConnection::new(&tcp, ends, start))),
                    ends,
                    start,
                    meta,
                ));
                continue;
            }
            if f.app == AppKind::Rdma {
                let rdma = rdma_for(cfg, f, topo, *src, f.bytes.map(|b| b.0), min_mtu)
                    .map_err(|m| invalid(format!("{at}: {m}")))?;
                let ends = connection_ends(&mut net, *src, *dst, hash);
                transports.push(TransportSlot::new(
                    Connection::Rdma(Box::new(RdmaConnection::new(rdma, ends, start))),
                    ends,
                    start,
                    meta,
                ));
                continue;
            }
            let pattern = match f.app {
                AppKind::Cbr => Pattern::Cbr {
                    rate_bps: rate_of(f),
                    size,
                    residue: 0,
                },
                AppKind::Poisson => {
                    let model = match f.size_distribution.unwrap_or_default() {
                        SizeDistribution::Fixed => SizeModel::Fixed(size),
                        SizeDistribution::Exponential => {
                            SizeModel::exponential(size as f64, min_mtu)
                                .map_err(|m| invalid(format!("{at}: {m}")))?
                        }
                    };
                    poisson_pattern(
                        rate_of(f),
                        model,
                        streams.stream(&format!("flows/{name}/arrivals")),
                    )
                    .map_err(|m| invalid(format!("{at}: {m}")))?
                }
                AppKind::Ping => Pattern::Ping {
                    interval: f.interval.map(|d| d.0).unwrap_or(SimDuration::from_secs(1)),
                    size,
                    remaining: f.count,
                },
                AppKind::Tcp | AppKind::Rdma | AppKind::Amst => {
                    unreachable!("transports are built above")
                }
            };
            let flow = net.add_flow();
            sources.push(Source::new(flow, *src, *dst, start, stop, hash, pattern));
            flow_meta.push(meta);
        }
    }

    let mut owners = vec![Owner::Source(0); net.flows.len()];
    for (i, s) in sources.iter().enumerate() {
        owners[s.flow.index()] = Owner::Source(i as u32);
    }
    for (i, t) in transports.iter().enumerate() {
        for e in std::iter::once(&t.ends).chain(&t.extra_flows) {
            owners[e.data_flow.index()] = Owner::Transport(i as u32);
            owners[e.ack_flow.index()] = Owner::Transport(i as u32);
        }
    }
    let mut link_changes: Vec<(SimTime, LinkChange, String)> = Vec::new();
    for (i, e) in cfg.link_events.iter().enumerate() {
        let link = topo
            .links
            .iter()
            .position(|l| l.name == e.link)
            .ok_or_else(|| {
                let known: Vec<&str> = topo.links.iter().take(8).map(|l| l.name.as_str()).collect();
                invalid(format!(
                    "link_events[{i}]: `link` = `{}` is not a link of topology `{}` (e.g. {})",
                    e.link,
                    topo.name,
                    known.join(", ")
                ))
            })?;
        link_changes.push((
            SimTime::ZERO + e.at.0,
            LinkChange {
                link: crate::net::LinkId(link as u32),
                rate_bps: e.rate.map(|r| r.bps()),
                delay: e.delay.map(|d| d.0),
                loss: e.loss.clone(),
                loss_ba: None,
                up: e.state.map(|s| s == crate::config::LinkState::Up),
            },
            format!("link_events[{i}] {}", e.link),
        ));
    }
    let faults = faults::build_faults(&cfg.faults, topo, end).map_err(&invalid)?;
    link_changes.extend(faults.link);
    // Changes at the same time apply in file order (a stable sort; the queue is FIFO).
    link_changes.sort_by_key(|(at, _, _)| *at);
    let mut node_faults = faults.node;
    node_faults.sort_by_key(|(at, _)| *at);
    let (link_changes, link_change_labels): (Vec<_>, Vec<_>) = link_changes
        .into_iter()
        .map(|(at, c, label)| ((at, c), label))
        .unzip();
    let sampler =
        build_sampler(exp, topo, &flow_meta, &sources, !transports.is_empty()).map_err(invalid)?;
    let mut world = World {
        engine: Engine::new(),
        net,
        sources,
        transports,
        owners,
        outbox: Vec::new(),
        flow_meta,
        sampler,
        end,
        link_changes,
        streams,
        recovery_baseline: cfg
            .record
            .recovery_baseline
            .map_or(SimDuration::from_secs(2), |d| d.0),
        measures: match &cfg.compress {
            Some(c) => compression_measures(exp, c, seed).map_err(invalid)?,
            None => Vec::new(),
        },
        link_change_labels,
        components: Vec::new(),
        services: component::Services::new(min_mtu),
        node_faults,
        channel_tags: Vec::new(),
    };
    if let Some(c) = &cfg.consensus {
        let cx = consensus_build::GroupContext {
            topo,
            seed,
            end,
            min_mtu,
        };
        consensus_build::add_group(&mut world, c, &cx).map_err(&invalid)?;
    }
    if !cfg.migrations.is_empty() {
        // The items draw from a copy of the world's streams (the same master seed).
        let streams = world.streams;
        let cx = migration_host::MigrationContext {
            exp,
            topo,
            streams: &streams,
            min_mtu,
        };
        migration_host::add_migrations(&mut world, cfg, &cx).map_err(&invalid)?;
    }
    Ok(world)
}

/// How internet-mode AMST chunks compress: the real codec on a sample of generated guest
/// memory (512 pages per class of a 256 MiB image) gives the wire bytes per data byte, the
/// calibration file the speed. `None` for codec "none".
fn chunk_compression(
    exp: &LoadedExperiment,
    a: &crate::config::AdaptiveSettings,
    seed: u64,
) -> Result<Option<crate::transport::multistream::ChunkCompression>, String> {
    use crate::compress::{codec::Codec, pages, sampling};
    let name = a.internet_codec.clone().unwrap_or_else(|| "zstd-3".into());
    let codec: Codec = name
        .parse()
        .map_err(|e| format!("`adaptive.internet_codec`: {e}"))?;
    if codec == Codec::None {
        return Ok(None);
    }
    let cal = load_calibration(exp, a.calibration.as_deref(), "adaptive.calibration")?;
    let image = pages::MemoryImage::new(pages::MemoryProfile::default(), 65_536, seed);
    let spec = sampling::SampleSpec {
        pages_per_class: 512,
        seed,
    };
    let dict = match codec {
        Codec::ZstdDict { .. } => Some(
            crate::compress::codec::Dictionary::train_from_image(
                &image,
                1000,
                crate::compress::codec::MAX_DICTIONARY_BYTES,
            )
            .map_err(|e| e.to_string())?,
        ),
        _ => None,
    };
    let est = sampling::estimate_sampled(&image, codec, dict.as_ref(), spec)
        .map_err(|e| e.to_string())?;
    cal.require(&[codec]).map_err(|e| e.to_string())?;
    let cores = a.compression_cores.unwrap_or(1);
    let secs = est.cpu_time_ns(&cal, cores) as f64 / 1e9;
    Ok(Some(crate::transport::multistream::ChunkCompression {
        wire_fraction: est.output_bytes() / est.input_bytes() as f64,
        bytes_per_s: est.input_bytes() as f64 / secs.max(1e-12),
    }))
}

/// The calibration file `given` (or calibration/default.toml), next to the experiment or in
/// the working directory; without either, the default file as it was when this was built.
pub(crate) fn load_calibration(
    exp: &LoadedExperiment,
    given: Option<&str>,
    key: &str,
) -> Result<crate::compress::calibration::Calibration, String> {
    let file = given.unwrap_or("calibration/default.toml");
    match exp.find_file(file) {
        Ok(path) => {
            crate::compress::calibration::Calibration::load(&path).map_err(|e| e.to_string())
        }
        // Run from elsewhere: the calibration shipped with this build.
        Err(_) if given.is_none() => crate::compress::calibration::Calibration::from_toml_str(
            include_str!("../../calibration/default.toml"),
            "calibration/default.toml (built in)",
        )
        .map_err(|e| e.to_string()),
        Err(looked) => Err(format!(
            "`{key}` = {file:?} not found (looked for {looked}); make one with `dwcp-sim calibrate`"
        )),
    }
}

/// Runs a `[compress]` study: real codecs on the generated data, CPU time from the
/// calibration file.
fn compression_measures(
    exp: &LoadedExperiment,
    c: &crate::config::CompressConfig,
    seed: u64,
) -> Result<Vec<crate::metrics::MeasureRow>, String> {
    let mut study = c.study()?;
    if let crate::compress::corpus::DataSet::File(path) = &study.data {
        let given = path.display().to_string();
        let found = exp.find_file(&given).map_err(|looked| {
            format!("`compress.data`: file {given:?} not found (looked for {looked})")
        })?;
        study.data = crate::compress::corpus::DataSet::File(found);
    }
    let cal = load_calibration(exp, c.calibration.as_deref(), "compress.calibration")?;
    let rows = study.run(seed, &cal).map_err(|e| e.to_string())?;
    Ok(rows
        .into_iter()
        .map(|(entity, metric, value, unit)| ("compress", entity, metric, value, unit))
        .collect())
}

/// A connection's endpoints with a network flow for each direction (data, then feedback:
/// consecutive ids, which AMST relies on).
pub(crate) fn connection_ends(net: &mut Network, src: NodeId, dst: NodeId, ecmp_hash: u32) -> Ends {
    Ends {
        src,
        dst,
        data_flow: net.add_flow(),
        ack_flow: net.add_flow(),
        ecmp_hash,
    }
}

/// The RDMA parameters of flow `f` from `src`: `[rdma]` with the flow's keys over it, the
/// line rate of `src`'s link unless set, and the transfer size.
fn rdma_for(
    cfg: &crate::config::ExperimentConfig,
    f: &crate::config::FlowConfig,
    topo: &Topology,
    src: NodeId,
    bytes: Option<u64>,
    min_mtu: u32,
) -> Result<crate::transport::rdma::RdmaConfig, String> {
    let mut s = cfg.rdma_settings(f);
    if let Some(b) = bytes {
        s.total_bytes = Some(b);
    }
    resolve_rdma(s, topo, src, min_mtu)
}

/// RoCE settings resolved for a queue pair at `src`: the NIC runs at its host link's rate
/// unless told otherwise, and a packet must fit the smallest link MTU.
pub(crate) fn resolve_rdma(
    mut s: crate::config::RdmaSettings,
    topo: &Topology,
    src: NodeId,
    min_mtu: u32,
) -> Result<crate::transport::rdma::RdmaConfig, String> {
    if s.line_rate_bps.is_none() {
        let rate = topo
            .links
            .iter()
            .find(|l| l.a == src || l.b == src)
            .map_or(0, |l| l.params.rate_bps);
        s.line_rate_bps = Some(rate);
    }
    let rdma = s.resolve().map_err(|e| format!("[rdma]: {e}"))?;
    let overhead = crate::transport::rdma::ROCE_OVERHEAD_BYTES;
    if rdma.mtu_payload + overhead > min_mtu {
        return Err(format!(
            "`rdma.mtu_payload` = {} plus {overhead} header bytes exceeds the smallest link MTU ({min_mtu} bytes)",
            rdma.mtu_payload
        ));
    }
    Ok(rdma)
}

fn rate_of(f: &crate::config::FlowConfig) -> u64 {
    f.rate.map(|r| r.bps()).unwrap_or(1)
}

fn app_name(app: AppKind) -> &'static str {
    match app {
        AppKind::Cbr => "cbr",
        AppKind::Poisson => "poisson",
        AppKind::Ping => "ping",
        AppKind::Tcp => "tcp",
        AppKind::Rdma => "rdma",
        AppKind::Amst => "amst",
    }
}

/// A uniformly random permutation of `hosts` with no fixed point (Sattolo's algorithm gives
/// a single cycle, which is a derangement), as `(src, dst)` pairs in host order.
fn derangement(hosts: &[NodeId], rng: &mut crate::engine::SimRng) -> Vec<(NodeId, NodeId)> {
    let mut perm: Vec<usize> = (0..hosts.len()).collect();
    for i in (1..perm.len()).rev() {
        let j = rng.random_range(0..i);
        perm.swap(i, j);
    }
    (0..hosts.len())
        .map(|i| (hosts[i], hosts[perm[i]]))
        .collect()
}

fn build_sampler(
    exp: &LoadedExperiment,
    topo: &Topology,
    flow_meta: &[(String, &'static str, String, String)],
    sources: &[Source],
    has_transports: bool,
) -> Result<Option<Sampler>, String> {
    let rec = &exp.config.record;
    let interval = rec
        .sample_interval
        .map(|d| d.0)
        .unwrap_or(SimDuration((exp.config.duration.0.as_ps() / 200).max(1)));
    let mut series = Vec::new();
    let mut ports = Vec::new();
    for name in &rec.links {
        let i = topo.links.iter().position(|l| &l.name == name).ok_or_else(|| {
            let known: Vec<&str> = topo.links.iter().take(8).map(|l| l.name.as_str()).collect();
            format!(
                "`record.links` names `{name}`, which is not a link of topology `{}` (links are named \"a-b\"; e.g. {})",
                topo.name,
                known.join(", ")
            )
        })?;
        for port in crate::net::LinkId(i as u32).ports() {
            let entity = format!("link/{name}/{}", port.direction());
            ports.push((port, series.len()));
            series.push(TimeSeries {
                entity: entity.clone(),
                metric: "queue_packets",
                unit: "packets",
                points: Vec::new(),
            });
            series.push(TimeSeries {
                entity,
                metric: "utilization",
                unit: "fraction",
                points: Vec::new(),
            });
        }
    }
    let mut flow_series = Vec::new();
    let mut rtt_series = vec![None; sources.len()];
    if rec.flows.unwrap_or(true) {
        for (i, (s, meta)) in sources.iter().zip(flow_meta).enumerate() {
            let entity = format!("flow/{}", meta.0);
            if matches!(s.pattern, Pattern::Ping { .. }) {
                rtt_series[i] = Some(series.len());
                series.push(TimeSeries {
                    entity,
                    metric: "rtt",
                    unit: "s",
                    points: Vec::new(),
                });
            } else {
                flow_series.push((s.flow, series.len()));
                series.push(TimeSeries {
                    entity,
                    metric: "throughput",
                    unit: "bit/s",
                    points: Vec::new(),
                });
            }
        }
    }
    let transports = has_transports && rec.flows.unwrap_or(true);
    if series.is_empty() && !transports {
        return Ok(None);
    }
    Ok(Some(Sampler {
        interval,
        last_busy: vec![0; ports.len()],
        ports,
        last_delivered: vec![0; flow_series.len()],
        flow_series,
        rtt_series,
        series,
        last_sample: SimTime::ZERO,
        transports,
        scratch: Vec::new(),
    }))
}
