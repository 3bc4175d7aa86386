//! Live migrations as a component of the world: each `[[migrations]]` entry is a
//! [`Precopy`] engine whose batches travel on a channel of the world (persistent TCP or
//! RoCE streams from the source to the destination node), or a [`Postcopy`] one (post-copy
//! or hybrid), which opens two more channels when it stops the VM: the urgent lane (source
//! to destination) and the return path (destination to source), one TCP stream each. A
//! crash of either node reaches a post-copy engine (it loses the VM). Wiring only: the
//! mechanism is in [`crate::migration`].

use super::component::{
    ChannelId, ChannelSpec, Component, ComponentRecords, Context, TransferSettings,
};
use super::event::MigrationEvent;
use super::world::World;
use crate::config::migration::MigrationConfig;
use crate::config::ExperimentConfig;
use crate::engine::{RngStreams, Scheduler, SimTime};
use crate::metrics::TimeSeries;
use crate::migration::dirty::Dirtier;
use crate::migration::encoding::PageEncoder;
use crate::migration::postcopy::{
    self, End, EngineKind, Lane, Postcopy, PostcopyIo, PostcopyOptions,
};
use crate::migration::precopy::{MigrationIo, Phase, Precopy};
use crate::migration::profile::{ChannelKind, ProfileKind};
use crate::net::{NodeId, Topology};
use crate::transport::multistream::StreamTransport;

/// One migration and its channel.
struct Item {
    name: String,
    profile: ProfileKind,
    workload: &'static str,
    from: NodeId,
    to: NodeId,
    start: SimTime,
    settings: TransferSettings,
    channel: Option<ChannelId>,
    engine: Engine,
    /// Post-copy's urgent lane and return path, once opened, and how they travel.
    urgent: Option<ChannelId>,
    ret: Option<ChannelId>,
    lanes: Option<TransferSettings>,
}

/// The engine of one migration.
enum Engine {
    Pre(Box<Precopy>),
    Post(Box<Postcopy>),
}

/// Every migration of a run.
pub struct Migrations {
    items: Vec<Item>,
}

/// The engine's view of the world: the component's context, for one migration.
struct Io<'a, 'b> {
    cx: &'a mut Context<'b, MigrationEvent>,
    index: u32,
    channel: ChannelId,
}

impl MigrationIo for Io<'_, '_> {
    fn now(&self) -> SimTime {
        self.cx.now()
    }
    fn send(&mut self, bytes: u64, tag: u64) {
        self.cx.channel_send(self.channel, bytes, tag);
    }
    fn wake_at(&mut self, at: SimTime) {
        let at = at.max(self.cx.now());
        self.cx.schedule_at(at, MigrationEvent::Wake(self.index));
    }
}

/// A post-copy engine's view of the world.
struct PostIo<'a, 'b> {
    cx: &'a mut Context<'b, MigrationEvent>,
    index: u32,
    channel: ChannelId,
    urgent: &'a mut Option<ChannelId>,
    ret: &'a mut Option<ChannelId>,
    from: NodeId,
    to: NodeId,
    name: &'a str,
    lanes: &'a Option<TransferSettings>,
}

impl PostcopyIo for PostIo<'_, '_> {
    fn now(&self) -> SimTime {
        self.cx.now()
    }
    fn open_postcopy_lanes(&mut self) {
        let Some(settings) = self.lanes else { return };
        let mut open = |from, to, name: String| {
            self.cx.open_channel(ChannelSpec {
                from,
                to,
                name,
                settings: settings.clone(),
            })
        };
        *self.urgent = Some(open(
            self.from,
            self.to,
            format!("migration/{}/urgent", self.name),
        ));
        *self.ret = Some(open(
            self.to,
            self.from,
            format!("migration/{}/return", self.name),
        ));
    }
    fn send(&mut self, lane: Lane, bytes: u64, tag: u64) {
        let channel = match lane {
            Lane::Main => Some(self.channel),
            Lane::Urgent => *self.urgent,
            Lane::Return => *self.ret,
        };
        if let Some(c) = channel {
            self.cx.channel_send(c, bytes, tag);
        }
    }
    fn wake_at(&mut self, at: SimTime) {
        let at = at.max(self.cx.now());
        self.cx.schedule_at(at, MigrationEvent::Wake(self.index));
    }
}

/// Calls `f` on migration `m`'s post-copy engine with its view of the world.
fn with_post<R>(
    cx: &mut Context<'_, MigrationEvent>,
    m: &mut Item,
    index: u32,
    f: impl FnOnce(&mut Postcopy, &mut PostIo) -> R,
) -> Option<R> {
    let channel = m.channel?;
    let Engine::Post(engine) = &mut m.engine else {
        return None;
    };
    let mut io = PostIo {
        cx,
        index,
        channel,
        urgent: &mut m.urgent,
        ret: &mut m.ret,
        from: m.from,
        to: m.to,
        name: &m.name,
        lanes: &m.lanes,
    };
    Some(f(engine, &mut io))
}

/// The post-copy phase of migration `m`, if it has that engine.
fn post_phase(m: &Item) -> Option<postcopy::Phase> {
    match &m.engine {
        Engine::Post(e) => Some(e.phase()),
        Engine::Pre(_) => None,
    }
}

impl Component for Migrations {
    type Event = MigrationEvent;

    fn start(&mut self, cx: &mut Context<'_, MigrationEvent>) {
        for (i, m) in self.items.iter().enumerate() {
            cx.schedule_at(m.start, MigrationEvent::Start(i as u32));
        }
    }

    fn on_event(&mut self, cx: &mut Context<'_, MigrationEvent>, event: MigrationEvent) {
        match event {
            MigrationEvent::Start(i) => {
                let m = &mut self.items[i as usize];
                let channel = cx.open_channel(ChannelSpec {
                    from: m.from,
                    to: m.to,
                    name: format!("migration/{}", m.name),
                    settings: m.settings.clone(),
                });
                m.channel = Some(channel);
                let engine = match &m.engine {
                    Engine::Pre(_) => String::new(),
                    Engine::Post(e) => match e.options().precopy_passes {
                        0 => ", postcopy".into(),
                        k => format!(", hybrid of {k} passes"),
                    },
                };
                cx.log(
                    "migration",
                    format!("{} starts ({}, {}{engine})", m.name, m.profile, m.workload),
                );
                if let Engine::Pre(e) = &mut m.engine {
                    e.start(&mut Io {
                        cx,
                        index: i,
                        channel,
                    });
                } else {
                    with_post(cx, m, i, |e, io| e.start(io));
                    log_post_phase(cx, m, postcopy::Phase::Idle);
                }
            }
            MigrationEvent::Wake(i) => {
                let m = &mut self.items[i as usize];
                let Some(channel) = m.channel else { return };
                let Engine::Pre(e) = &mut m.engine else {
                    let before = post_phase(m);
                    with_post(cx, m, i, |e, io| e.on_wake(io));
                    if let Some(b) = before {
                        log_post_phase(cx, m, b);
                    }
                    return;
                };
                let before = e.phase();
                e.on_wake(&mut Io {
                    cx,
                    index: i,
                    channel,
                });
                log_phase(cx, &m.name, before, e.phase());
            }
        }
    }

    fn on_channel_delivered(
        &mut self,
        cx: &mut Context<'_, MigrationEvent>,
        channel: ChannelId,
        tag: u64,
    ) {
        let lane_of = |m: &Item| {
            let c = Some(channel);
            if m.channel == c {
                Some(Lane::Main)
            } else if m.urgent == c {
                Some(Lane::Urgent)
            } else if m.ret == c {
                Some(Lane::Return)
            } else {
                None
            }
        };
        let Some((i, lane)) = self
            .items
            .iter()
            .enumerate()
            .find_map(|(i, m)| lane_of(m).map(|l| (i, l)))
        else {
            return;
        };
        let m = &mut self.items[i];
        let Engine::Pre(e) = &mut m.engine else {
            let before = post_phase(m);
            with_post(cx, m, i as u32, |e, io| e.on_delivered(io, lane, tag));
            if let Some(b) = before {
                log_post_phase(cx, m, b);
            }
            return;
        };
        let before = e.phase();
        e.on_delivered(
            &mut Io {
                cx,
                index: i as u32,
                channel,
            },
            tag,
        );
        log_phase(cx, &m.name, before, e.phase());
    }

    fn on_node_down(&mut self, cx: &mut Context<'_, MigrationEvent>, node: NodeId) {
        let now = cx.now();
        for m in &mut self.items {
            let Engine::Post(e) = &mut m.engine else {
                continue;
            };
            let before = e.phase();
            if node == m.from {
                e.on_end_down(now, End::Source);
            }
            if node == m.to {
                e.on_end_down(now, End::Destination);
            }
            log_post_phase(cx, m, before);
        }
    }

    fn describe(&self, node: NodeId) -> Option<String> {
        let parts: Vec<String> = self
            .items
            .iter()
            .filter_map(|m| {
                let side = if node == m.from {
                    "source"
                } else if node == m.to {
                    "destination"
                } else {
                    return None;
                };
                Some(format!("migration {} {side}", m.name))
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    fn records(&self, end: SimTime, out: &mut ComponentRecords) {
        for m in &self.items {
            let engine = match &m.engine {
                Engine::Pre(e) => e,
                Engine::Post(e) => {
                    post_records(m, e, end, out);
                    continue;
                }
            };
            let s = engine.stats();
            let mut row = |metric: &'static str, value: f64, unit: &'static str| {
                out.rows
                    .push(("migration", m.name.clone(), metric, value, unit));
            };
            let done = engine.phase() == Phase::Done;
            row("completed", f64::from(u8::from(done)), "bool");
            row("converged", f64::from(u8::from(s.converged)), "bool");
            if let Some(t) = s.total_time() {
                row("total_time", t.as_secs_f64(), "s");
            }
            if let Some(d) = s.downtime() {
                row("downtime", d.as_secs_f64(), "s");
            }
            row("passes", s.passes as f64, "passes");
            row("wire_bytes", s.wire_bytes() as f64, "bytes");
            row("full_page_bytes", s.full_page_bytes as f64, "bytes");
            row("zero_page_bytes", s.zero_page_bytes as f64, "bytes");
            row("device_bytes", s.device_bytes as f64, "bytes");
            row("compressed_bytes", s.compressed_bytes as f64, "bytes");
            row("delta_bytes", s.delta_bytes as f64, "bytes");
            row("dedup_bytes", s.dedup_bytes as f64, "bytes");
            row("space_saved", s.space_saved(), "fraction");
            row("codec_cpu_time", s.cpu_ns / 1e9, "s");
            row("pages_sent", s.pages_sent as f64, "pages");
            row("final_pages", s.final_pages as f64, "pages");
            let mem = engine.memory().bytes() as f64;
            row("memory_bytes", mem, "bytes");
            let ran = s.total_time().map_or_else(
                || end.since(s.started.min(end)).as_secs_f64(),
                |t| t.as_secs_f64(),
            );
            if ran > 0.0 {
                row(
                    "effective_bandwidth",
                    s.wire_bytes() as f64 * 8.0 / ran,
                    "bit/s",
                );
            }
            row("max_throttle", s.max_throttle, "fraction");
            row("page_writes", engine.dirtier().writes() as f64, "writes");
            row("redundant_pages", s.redundant_pages as f64, "pages");
            row("stale_arrivals", s.stale_arrivals as f64, "pages");
            if let Some(ok) = s.consistent {
                row("consistent", f64::from(u8::from(ok)), "bool");
            }
            for (k, &b) in s.dirty_bytes_per_pass.iter().enumerate().take(32) {
                row(PASS_METRICS[k], b as f64, "bytes");
            }
            out.series.push(TimeSeries {
                entity: format!("migration/{}", m.name),
                metric: "remaining_bytes",
                unit: "bytes",
                points: s.remaining.iter().map(|&(t, b)| (t, b as f64)).collect(),
            });
        }
    }
}

/// Metric names of the dirty bytes found at each of the first 32 syncs.
const PASS_METRICS: [&str; 32] = [
    "dirty_bytes_pass_1",
    "dirty_bytes_pass_2",
    "dirty_bytes_pass_3",
    "dirty_bytes_pass_4",
    "dirty_bytes_pass_5",
    "dirty_bytes_pass_6",
    "dirty_bytes_pass_7",
    "dirty_bytes_pass_8",
    "dirty_bytes_pass_9",
    "dirty_bytes_pass_10",
    "dirty_bytes_pass_11",
    "dirty_bytes_pass_12",
    "dirty_bytes_pass_13",
    "dirty_bytes_pass_14",
    "dirty_bytes_pass_15",
    "dirty_bytes_pass_16",
    "dirty_bytes_pass_17",
    "dirty_bytes_pass_18",
    "dirty_bytes_pass_19",
    "dirty_bytes_pass_20",
    "dirty_bytes_pass_21",
    "dirty_bytes_pass_22",
    "dirty_bytes_pass_23",
    "dirty_bytes_pass_24",
    "dirty_bytes_pass_25",
    "dirty_bytes_pass_26",
    "dirty_bytes_pass_27",
    "dirty_bytes_pass_28",
    "dirty_bytes_pass_29",
    "dirty_bytes_pass_30",
    "dirty_bytes_pass_31",
    "dirty_bytes_pass_32",
];

fn log_phase(cx: &mut Context<'_, MigrationEvent>, name: &str, before: Phase, after: Phase) {
    let what = match (before, after) {
        (Phase::Iterating, Phase::Stopped { .. }) => "stops on the source",
        (_, Phase::Resuming { .. }) if !matches!(before, Phase::Resuming { .. }) => {
            "reached the destination"
        }
        (Phase::Resuming { .. }, Phase::Done) => "runs on the destination",
        (Phase::Iterating, Phase::Aborted) => "gave up at its limit",
        _ => return,
    };
    cx.log("migration", format!("{name} {what}"));
}

/// What the builder needs from the scenario.
pub struct MigrationContext<'a> {
    /// The experiment (for files named relative to it).
    pub exp: &'a crate::config::LoadedExperiment,
    /// The topology (node names, link rates).
    pub topo: &'a Topology,
    /// The run's random streams.
    pub streams: &'a RngStreams,
    /// Smallest link MTU.
    pub min_mtu: u32,
}

/// Registers the experiment's migrations as one component of `world`.
pub fn add_migrations(
    world: &mut World,
    cfg: &ExperimentConfig,
    cx: &MigrationContext,
) -> Result<(), String> {
    let mut items = Vec::new();
    for (i, m) in cfg.migrations.iter().enumerate() {
        let base = m.name.clone().unwrap_or_else(|| format!("vm{i}"));
        let copies = m.copies.unwrap_or(1);
        for k in 0..copies {
            let name = if copies == 1 {
                base.clone()
            } else {
                format!("{base}/{k}")
            };
            items.push(item(cfg, m, i, name, cx)?);
        }
    }
    world.add_component(|setup| {
        for m in &mut items {
            size_send_buffers(m, setup.net);
        }
        Ok(Migrations { items })
    })?;
    Ok(())
}

/// Sizes a TCP channel's send buffers after Linux's autotuning: about twice the congestion
/// window (`tcp_sndbuf_expand` in `net/ipv4/tcp_input.c`), and the window a path sustains
/// is its bandwidth-delay product, so each stream gets 2 × its share of the path's BDP, at
/// most the profile's buffer (`tcp_wmem[2]`, 4 MiB) and at least a 1/N share of it, so N
/// streams together hold no less than one socket does (a rate-limited sender writes its
/// slot's quota in a burst, which grows a single socket's buffer to the cap). An
/// approximation of the autotuning, not its algorithm. Without it, 8 streams × 4 MiB on a
/// 100 Mb/s path would hold 2.7 s of data that no stop rule counts. The engine's backlog
/// is the streams' buffers together.
fn size_send_buffers(m: &mut Item, net: &crate::net::Network) {
    if !matches!(m.settings.transport, StreamTransport::Tcp(_)) {
        return;
    }
    let Some((rate, one_way)) = net.path(m.from, m.to, 0) else {
        return;
    };
    let rtt = 2.0 * one_way.as_secs_f64();
    let bdp = rate as f64 / 8.0 * rtt;
    let streams = m.settings.streams.max(1) as u64;
    let cap = m.settings.chunk;
    let per_stream =
        ((2.0 * bdp / streams as f64) as u64).clamp((cap / streams).max(64 << 10), cap);
    m.settings.chunk = per_stream;
    match &mut m.engine {
        Engine::Pre(e) => e.set_backlog(per_stream * streams),
        Engine::Post(e) => e.set_backlog(per_stream * streams),
    }
}

fn item(
    cfg: &ExperimentConfig,
    m: &MigrationConfig,
    i: usize,
    name: String,
    cx: &MigrationContext,
) -> Result<Item, String> {
    let at = format!("migrations[{i}]");
    let r = m.resolve().map_err(|e| format!("{at}: {e}"))?;
    let node = |key: &str, name: &str| {
        cx.topo.node_id(name).ok_or_else(|| {
            format!(
                "{at}: `{key}` = `{name}` is not a node of topology `{}`",
                cx.topo.name
            )
        })
    };
    let (from, to) = (node("src", &m.src)?, node("dst", &m.dst)?);
    let transport = match r.profile.channel {
        ChannelKind::Tcp => {
            let settings = cfg.tcp.overlay(&crate::config::TcpSettings {
                cc: Some(r.profile.cc),
                ..Default::default()
            });
            let tcp = settings
                .resolve(None, cx.min_mtu)
                .map_err(|e| format!("{at}: [tcp]: {e}"))?;
            StreamTransport::Tcp(tcp)
        }
        ChannelKind::Rdma => StreamTransport::Rdma(
            super::resolve_rdma(cfg.rdma.clone(), cx.topo, from, cx.min_mtu)
                .map_err(|e| format!("{at}: {e}"))?,
        ),
    };
    let seed = cx.streams.master_seed();
    let mem =
        r.vm.memory(crate::engine::rng::stable_hash(
            seed,
            format!("migration/{name}/memory").as_bytes(),
        ))
        .map_err(|e| format!("{at}: {e}"))?;
    let cal = match r.profile.encoding.codec {
        Some(_) => Some(
            super::load_calibration(
                cx.exp,
                m.options.calibration.as_deref(),
                "options.calibration",
            )
            .map_err(|e| format!("{at}: {e}"))?,
        ),
        None => None,
    };
    let encoder = PageEncoder::new(
        r.profile.encoding.clone(),
        &mem,
        r.dirty.bytes_per_write,
        cal.as_ref(),
        seed,
    )
    .map_err(|e| format!("{at}: {e}"))?;
    let dirtier = Dirtier::new(
        r.dirty,
        r.vm.pages(),
        cx.streams.stream(&format!("migration/{name}/dirty")),
    )
    .map_err(|e| format!("{at}: `dirty`: {e}"))?;
    // Post-copy's urgent lane and return path: one TCP stream each (QEMU's preempt
    // channel and return path are sockets whatever the main channel runs on).
    let lanes = match r.engine {
        EngineKind::Precopy => None,
        EngineKind::Postcopy | EngineKind::Hybrid => Some(TransferSettings {
            streams: 1,
            chunk: crate::migration::profile::LINUX_TCP_SEND_BUFFER,
            transport: StreamTransport::Tcp(
                cfg.tcp
                    .resolve(None, cx.min_mtu)
                    .map_err(|e| format!("{at}: [tcp]: {e}"))?,
            ),
        }),
    };
    let settings = TransferSettings {
        streams: r.profile.streams,
        chunk: r.profile.stream_buffer,
        transport,
    };
    Ok(Item {
        name,
        profile: r.profile.kind,
        workload: r.workload.name(),
        from,
        to,
        start: SimTime::ZERO + m.start.map_or(crate::engine::SimDuration::ZERO, |d| d.0),
        settings,
        channel: None,
        engine: match r.engine {
            EngineKind::Precopy => Engine::Pre(Box::new(Precopy::new(
                r.profile.precopy.clone(),
                mem,
                dirtier,
                encoder,
                r.vm.device_state_bytes,
            ))),
            EngineKind::Postcopy | EngineKind::Hybrid => Engine::Post(Box::new(Postcopy::new(
                PostcopyOptions::new(r.profile.precopy.clone(), r.precopy_passes, r.vm.vcpus),
                mem,
                dirtier,
                encoder,
                r.vm.device_state_bytes,
            ))),
        },
        urgent: None,
        ret: None,
        lanes,
    })
}

/// Logs what changed in a post-copy migration since `before`.
fn log_post_phase(cx: &mut Context<'_, MigrationEvent>, m: &Item, before: postcopy::Phase) {
    use postcopy::Phase as P;
    let Engine::Post(e) = &m.engine else { return };
    let after = e.phase();
    let what = match (before, after) {
        (P::Idle | P::Precopy, P::Stopped { .. }) => "stops on the source (post-copy)".to_string(),
        (P::Stopped { .. }, P::Resuming { .. }) => "device state reached the destination".into(),
        (P::Resuming { .. }, P::Running) => "runs on the destination, memory follows".into(),
        (P::Running | P::Resuming { .. }, P::Done) => "has every page on the destination".into(),
        (P::Precopy, P::Done) => "finished as pre-copy".into(),
        (P::Precopy, P::Aborted) => "gave up in its pre-copy part".into(),
        (b, P::Lost) if b != P::Lost => match e.stats().lost {
            Some((_, cause)) => format!("is lost ({})", cause.name()),
            None => "is lost".into(),
        },
        _ => return,
    };
    cx.log("migration", format!("{} {what}", m.name));
}

/// The results of a post-copy or hybrid migration: the pre-copy rows (the hybrid's pre-copy
/// part and the post-copy phase together) and post-copy's own.
fn post_records(m: &Item, e: &Postcopy, end: SimTime, out: &mut ComponentRecords) {
    let s = e.stats();
    let pre = e.precopy_stats();
    let mut row = |metric: &'static str, value: f64, unit: &'static str| {
        out.rows
            .push(("migration", m.name.clone(), metric, value, unit));
    };
    let flag = |b: bool| f64::from(u8::from(b));
    row(
        "completed",
        flag(e.phase() == postcopy::Phase::Done),
        "bool",
    );
    row("converged", flag(s.finished_as_precopy), "bool");
    if let Some(t) = s.total_time() {
        row("total_time", t.as_secs_f64(), "s");
    }
    if let Some(d) = s.downtime() {
        row("downtime", d.as_secs_f64(), "s");
    }
    let pre_u = |f: fn(&crate::migration::precopy::PrecopyStats) -> u64| pre.map_or(0, f);
    row("passes", pre_u(|p| p.passes as u64) as f64, "passes");
    let wire = s.post_wire_bytes() + pre_u(|p| p.wire_bytes());
    row("wire_bytes", wire as f64, "bytes");
    let full = s.full_page_bytes + pre_u(|p| p.full_page_bytes);
    row("full_page_bytes", full as f64, "bytes");
    let zero = s.zero_page_bytes + pre_u(|p| p.zero_page_bytes);
    row("zero_page_bytes", zero as f64, "bytes");
    row(
        "device_bytes",
        (s.device_bytes + pre_u(|p| p.device_bytes)) as f64,
        "bytes",
    );
    let post_pages = s.pages_pushed + s.pages_faulted;
    row(
        "pages_sent",
        (post_pages + pre_u(|p| p.pages_sent)) as f64,
        "pages",
    );
    row(
        "final_pages",
        (post_pages + pre_u(|p| p.final_pages)) as f64,
        "pages",
    );
    row("memory_bytes", e.memory().bytes() as f64, "bytes");
    let ran = s.total_time().map_or_else(
        || end.since(s.started.min(end)).as_secs_f64(),
        |t| t.as_secs_f64(),
    );
    if ran > 0.0 {
        row("effective_bandwidth", wire as f64 * 8.0 / ran, "bit/s");
    }
    row(
        "max_throttle",
        pre.map_or(0.0, |p| p.max_throttle),
        "fraction",
    );
    row("page_writes", e.dirtier().writes() as f64, "writes");
    row(
        "redundant_pages",
        pre_u(|p| p.redundant_pages) as f64,
        "pages",
    );
    row(
        "stale_arrivals",
        pre_u(|p| p.stale_arrivals) as f64,
        "pages",
    );
    if let Some(ok) = s.consistent {
        row("consistent", flag(ok), "bool");
    }
    if let Some(p) = pre {
        for (k, &b) in p.dirty_bytes_per_pass.iter().enumerate().take(32) {
            row(PASS_METRICS[k], b as f64, "bytes");
        }
    }
    row("faults", s.faults as f64, "faults");
    let h = &s.fault_latency;
    if h.count() > 0 {
        row("fault_latency_mean", h.mean() / 1e12, "s");
        if let (Some(p99), Some(max)) = (h.quantile(0.99), h.max()) {
            row("fault_latency_p99", p99 as f64 / 1e12, "s");
            row("fault_latency_max", max as f64 / 1e12, "s");
        }
    }
    if let Some(w) = s.degradation_window() {
        row("degradation_window", w.as_secs_f64(), "s");
    }
    row("lost", flag(s.lost.is_some()), "bool");
    row("pages_pushed", s.pages_pushed as f64, "pages");
    row("pages_faulted", s.pages_faulted as f64, "pages");
    row("duplicate_pages", s.duplicate_pages as f64, "pages");
    row(
        "requests_for_sent_pages",
        s.requests_for_sent_pages as f64,
        "requests",
    );
    row("discard_bytes", s.discard_bytes as f64, "bytes");
    row("request_bytes", s.request_bytes as f64, "bytes");
    row("blocktime", s.blocktime.as_secs_f64(), "s");
    if let Some(p) = pre {
        out.series.push(TimeSeries {
            entity: format!("migration/{}", m.name),
            metric: "remaining_bytes",
            unit: "bytes",
            points: p.remaining.iter().map(|&(t, b)| (t, b as f64)).collect(),
        });
    }
}
