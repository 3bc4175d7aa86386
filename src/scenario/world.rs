//! The world of one run: the engine, the network, the traffic sources, the transports and
//! the components, and the loop that routes each event to its owner. Wiring only.
//!
//! Invariants: exactly one pending timer per transport, at its `poll_at`; a packet reaches
//! the owner of its flow (a source, a transport, the message carrier or a component) and
//! nothing else; a component's handlers run one at a time, and the transfers a handler asks
//! for open when it returns, in order; faults apply to nodes, and every component is told;
//! at the end every injected packet is delivered, dropped or in flight (checked).

#![warn(missing_docs)]

use super::component::{
    AnyComponent, ChannelId, ChannelRequest, ChannelSpec, Component, ComponentRecords, Parts,
    Services, Setup, TransferDone, TransferId, TransferSpec,
};
use super::event::{ComponentId, Event, WorldEvent};
use crate::engine::{Engine, EventId, RngStreams, SimDuration, SimTime};
use crate::metrics::{FlowRecord, PortRecord, RunRecords, TimeSeries};
use crate::net::{FlowId, LinkChange, Network, NodeId, Packet, Payload, PortId};
use crate::traffic::Source;
use crate::transport::{Connection, Ends, Metric, Outbox, Transport};
use std::sync::atomic::{AtomicU64, Ordering};

/// A scheduled fault on nodes rather than links (those are [`LinkChange`]s).
#[derive(Clone, Debug)]
pub(crate) enum NodeFault {
    /// Crash a node (or the one holding a role, such as a consensus group's leader, then);
    /// restart it after the delay if given.
    Crash {
        target: CrashTarget,
        restart_after: Option<SimDuration>,
    },
    Restart(NodeId),
    /// Split the network into these groups of nodes.
    Partition {
        groups: Vec<Vec<NodeId>>,
        label: String,
    },
    Heal,
}

/// Which node a crash fault takes down.
#[derive(Clone, Debug)]
pub(crate) enum CrashTarget {
    Node(NodeId),
    /// Whichever node holds this role when the fault applies (resolved by the components).
    Role(String),
}

/// Who handles the packets of a network flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    Source(u32),
    Transport(u32),
    /// Fragments of component messages, reassembled by the message carrier.
    Carrier,
    /// A component's own flow.
    Component(ComponentId),
}

/// Name, application, source node and destination node of a flow, for the results.
pub(crate) type FlowMeta = (String, &'static str, String, String);

/// A transport connection with its pending timer and its time series.
pub(crate) struct TransportSlot {
    pub conn: Connection,
    pub ends: Ends,
    /// Further connections of a multi-stream transport (its streams 1..N).
    pub extra_flows: Vec<Ends>,
    pub start: SimTime,
    pub meta: FlowMeta,
    started: bool,
    timer: Option<(SimTime, EventId)>,
    /// Series index per sampled metric, in order of first appearance.
    series: Vec<(&'static str, usize)>,
    /// The component whose bulk transfer this is, its id and tag, and whether its
    /// completion was reported.
    pub transfer: Option<(ComponentId, TransferId, u64, bool)>,
    /// The component whose channel this is, and its id.
    pub channel: Option<(ComponentId, ChannelId)>,
}

impl TransportSlot {
    pub fn new(conn: Connection, ends: Ends, start: SimTime, meta: FlowMeta) -> Self {
        TransportSlot {
            conn,
            ends,
            extra_flows: Vec::new(),
            start,
            meta,
            started: false,
            timer: None,
            series: Vec::new(),
            transfer: None,
            channel: None,
        }
    }
}

/// Periodic samples of chosen link directions and flows.
pub(crate) struct Sampler {
    pub interval: SimDuration,
    /// Port, index of its queue series (utilization series follows it).
    pub ports: Vec<(PortId, usize)>,
    pub last_busy: Vec<u64>,
    /// Network flow of a source and the index of its throughput series.
    pub flow_series: Vec<(FlowId, usize)>,
    /// Per source (by source index, not flow index): its RTT series, if it pings.
    pub rtt_series: Vec<Option<usize>>,
    /// Bytes delivered at the last sample, per entry of `flow_series`.
    pub last_delivered: Vec<u64>,
    pub series: Vec<TimeSeries>,
    pub last_sample: SimTime,
    /// Sample transports' own metrics (cwnd, RTT, goodput) as flow series.
    pub transports: bool,
    pub scratch: Vec<Metric>,
}

impl Sampler {
    fn sample_transports(&mut self, now: SimTime, transports: &mut [TransportSlot]) {
        for t in transports.iter_mut() {
            if !t.started {
                continue;
            }
            self.scratch.clear();
            t.conn.sample(now, &mut self.scratch);
            for &(metric, value, unit) in &self.scratch {
                let idx = match t.series.iter().find(|(m, _)| *m == metric) {
                    Some(&(_, i)) => i,
                    None => {
                        self.series.push(TimeSeries {
                            entity: format!("flow/{}", t.meta.0),
                            metric,
                            unit,
                            points: Vec::new(),
                        });
                        t.series.push((metric, self.series.len() - 1));
                        self.series.len() - 1
                    }
                };
                self.series[idx].points.push((now, value));
            }
        }
    }

    fn sample(&mut self, now: SimTime, net: &Network) {
        let dt = now.since(self.last_sample).as_ps();
        if dt == 0 {
            return;
        }
        for (k, &(port_id, s)) in self.ports.iter().enumerate() {
            let port = net.port(port_id);
            self.series[s]
                .points
                .push((now, port.queue_packets() as f64));
            let busy = port.busy_until(now);
            let util = (busy - self.last_busy[k]) as f64 / dt as f64;
            self.last_busy[k] = busy;
            self.series[s + 1].points.push((now, util));
        }
        for (k, &(flow, s)) in self.flow_series.iter().enumerate() {
            let delivered = net.flows[flow.index()].delivered_bytes;
            let bps = (delivered - self.last_delivered[k]) as f64 * 8.0 / (dt as f64 / 1e12);
            self.last_delivered[k] = delivered;
            self.series[s].points.push((now, bps));
        }
        self.last_sample = now;
    }
}

/// The world of one run: built by [`super::build`] or [`super::prepare_with`], extended with
/// [`World::add_component`], consumed by [`World::run`].
pub struct World {
    pub(crate) engine: Engine<Event>,
    pub(crate) net: Network,
    pub(crate) sources: Vec<Source>,
    pub(crate) transports: Vec<TransportSlot>,
    /// Owner of each network flow, by flow index.
    pub(crate) owners: Vec<Owner>,
    pub(crate) outbox: Outbox,
    pub(crate) flow_meta: Vec<FlowMeta>,
    pub(crate) sampler: Option<Sampler>,
    pub(crate) end: SimTime,
    /// Scheduled link changes, in the order given.
    pub(crate) link_changes: Vec<(SimTime, LinkChange)>,
    pub(crate) streams: RngStreams,
    /// Averaging window before the first link change, for recovery times.
    pub(crate) recovery_baseline: SimDuration,
    /// Measurements made while building (a `[compress]` study), passed to the records.
    pub(crate) measures: Vec<crate::metrics::MeasureRow>,
    /// What each link change is, for the event log.
    pub(crate) link_change_labels: Vec<String>,
    /// The components, by [`ComponentId`].
    pub(crate) components: Vec<Box<dyn AnyComponent>>,
    /// Messages, transfers and the event log, shared by the components.
    pub(crate) services: Services,
    pub(crate) node_faults: Vec<(SimTime, NodeFault)>,
    /// Scratch for the tags of a channel's delivered messages (kept for its capacity).
    pub(crate) channel_tags: Vec<u64>,
}

/// Calls component `$id`'s handler `$method` with the world's parts.
macro_rules! call {
    ($world:ident, $id:expr, $method:ident $(, $arg:expr)*) => {{
        let id: ComponentId = $id;
        let parts = Parts {
            engine: &mut $world.engine,
            net: &mut $world.net,
            streams: &$world.streams,
            services: &mut $world.services,
        };
        $world.components[id.0 as usize].$method(id, parts $(, $arg)*);
        $world.open_requested_transfers();
    }};
}
impl World {
    /// Adds a component built by `make`, which may add flows and message senders through
    /// its [`Setup`]; it starts when the run does, after the components added before it.
    pub fn add_component<C: Component + 'static>(
        &mut self,
        make: impl FnOnce(&mut Setup) -> Result<C, String>,
    ) -> Result<ComponentId, String> {
        let id = ComponentId(
            u16::try_from(self.components.len()).map_err(|_| "too many components".to_string())?,
        );
        let mut setup = Setup {
            id,
            net: &mut self.net,
            services: &mut self.services,
            owners: &mut self.owners,
            streams: &self.streams,
            end: self.end,
        };
        let c = make(&mut setup)?;
        self.components.push(Box::new(c));
        Ok(id)
    }

    /// Checks that every role a crash fault names ("leader") is held by some component.
    pub(crate) fn check_fault_roles(&self) -> Result<(), String> {
        for (at, f) in &self.node_faults {
            if let NodeFault::Crash {
                target: CrashTarget::Role(role),
                ..
            } = f
            {
                if !self
                    .components
                    .iter()
                    .any(|c| c.roles().contains(&role.as_str()))
                {
                    return Err(format!(
                        "the crash at {at} names {role:?}, which no component of this run has (a [consensus] group has \"leader\" and \"follower\"); or name a node"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The end of the run.
    pub fn end(&self) -> SimTime {
        self.end
    }

    /// Runs to the end time and returns what was measured.
    pub fn run(self) -> RunRecords {
        self.run_observed(None)
    }

    /// As [`World::run`], storing the virtual time reached (ps) in `progress` every few
    /// thousand events, for a progress display on another thread.
    pub fn run_observed(mut self, progress: Option<&AtomicU64>) -> RunRecords {
        for (i, s) in self.sources.iter().enumerate() {
            if s.start < self.end {
                self.engine
                    .schedule_at(s.start, WorldEvent::Source(i as u32).into());
            }
        }
        for (i, t) in self.transports.iter_mut().enumerate() {
            if t.start < self.end {
                let id = self
                    .engine
                    .schedule_at(t.start, WorldEvent::Transport(i as u32).into());
                t.timer = Some((t.start, id));
            }
        }
        for (i, (at, _)) in self.link_changes.iter().enumerate() {
            self.engine
                .schedule_at(*at, WorldEvent::LinkChange(i as u32).into());
        }
        for (i, (at, _)) in self.node_faults.iter().enumerate() {
            self.engine
                .schedule_at(*at, WorldEvent::Fault(i as u32).into());
        }
        for k in 0..self.components.len() {
            call!(self, ComponentId(k as u16), start);
        }
        if let Some(s) = &self.sampler {
            self.engine
                .schedule_in(s.interval, WorldEvent::Sample.into());
        }
        let end = self.end;
        let mut since_report = 0u32;
        while let Some(event) = self.engine.next_event(end) {
            since_report += 1;
            if since_report == 1 << 14 {
                since_report = 0;
                if let Some(p) = progress {
                    p.store(self.engine.now().as_ps(), Ordering::Relaxed);
                }
            }
            match event {
                Event::Net(e) => {
                    if let Some(p) = self.net.on_event(&mut self.engine, e) {
                        self.on_delivered(p);
                    }
                }
                Event::World(e) => self.on_world_event(e),
                // Every other variant belongs to a component (the list is `component_events!`
                // in event.rs), so a new kind of component needs no arm here.
                _ => match event.component() {
                    Some(id) => call!(self, id, on_event, event),
                    None => unreachable!(
                        "{event:?} is neither the network's, the world's nor a component's"
                    ),
                },
            }
        }
        self.net.finish(end);
        if let Err(broken) = self.net.check_conservation() {
            panic!(
                "{broken} at the end of the run ({end}, {} events)",
                self.engine.processed()
            );
        }
        self.records()
    }

    fn on_world_event(&mut self, e: WorldEvent) {
        let end = self.end;
        match e {
            WorldEvent::Source(i) => {
                let now = self.engine.now();
                let (packet, next) = self.sources[i as usize].on_timer(now);
                if let Some(t) = next {
                    self.engine.schedule_at(t, WorldEvent::Source(i).into());
                }
                if let Some(p) = packet {
                    if let Some(local) = self.net.inject(&mut self.engine, p) {
                        self.on_delivered(local);
                    }
                }
            }
            WorldEvent::Transport(i) => {
                let now = self.engine.now();
                let mut out = std::mem::take(&mut self.outbox);
                let t = &mut self.transports[i as usize];
                t.timer = None;
                if t.started {
                    t.conn.on_timer(now, &mut out);
                } else {
                    t.started = true;
                    t.conn.on_start(now, &mut out);
                }
                self.flush(out);
                self.sync_timer(i as usize);
                self.check_transfer(i as usize);
            }
            WorldEvent::LinkChange(i) => {
                let change = &self.link_changes[i as usize].1;
                self.net.change_link(change, &self.streams);
                let now = self.engine.now();
                let label = self.link_change_labels[i as usize].clone();
                self.services.log.push((now, "link", label));
            }
            WorldEvent::Fault(i) => self.apply_fault(i as usize),
            WorldEvent::Sample => {
                let now = self.engine.now();
                if let Some(s) = &mut self.sampler {
                    s.sample(now, &self.net);
                    if s.transports {
                        s.sample_transports(now, &mut self.transports);
                    }
                    if now + s.interval <= end {
                        self.engine
                            .schedule_in(s.interval, WorldEvent::Sample.into());
                    }
                }
            }
        }
    }

    /// Injects what a transport sent; packets addressed to their own node come straight
    /// back. The outbox returns to its slot empty, keeping its capacity.
    fn flush(&mut self, mut out: Outbox) {
        for p in out.drain(..) {
            if let Some(local) = self.net.inject(&mut self.engine, p) {
                self.on_delivered(local);
            }
        }
        if self.outbox.capacity() < out.capacity() {
            self.outbox = out;
        }
    }

    /// Keeps exactly one pending event at the transport's current deadline.
    fn sync_timer(&mut self, i: usize) {
        let now = self.engine.now();
        let t = &mut self.transports[i];
        if !t.started {
            return;
        }
        let want = t.conn.poll_at().map(|at| at.max(now));
        if t.timer.map(|(at, _)| at) == want {
            return;
        }
        if let Some((_, id)) = t.timer.take() {
            self.engine.cancel(id);
        }
        if let Some(at) = want {
            let id = self
                .engine
                .schedule_at(at, WorldEvent::Transport(i as u32).into());
            t.timer = Some((at, id));
        }
    }

    fn on_delivered(&mut self, p: Packet) {
        let now = self.engine.now();
        let flow: FlowId = p.flow;
        let source = match self.owners[flow.index()] {
            Owner::Transport(i) => {
                let mut out = std::mem::take(&mut self.outbox);
                self.transports[i as usize]
                    .conn
                    .on_packet(now, &p, &mut out);
                self.flush(out);
                self.sync_timer(i as usize);
                self.check_transfer(i as usize);
                return;
            }
            Owner::Carrier => {
                if let Some(m) = self.services.carrier.on_packet(&p) {
                    call!(self, ComponentId(m.owner as u16), on_message, m);
                }
                return;
            }
            Owner::Component(id) => {
                call!(self, id, on_packet, p);
                return;
            }
            Owner::Source(i) => i as usize,
        };
        if let Payload::PingReply { sent_at } = p.payload {
            let rtt = now.since(sent_at);
            self.net.flows[flow.index()].rtt.record(rtt.as_ps());
            if let Some(s) = self
                .sampler
                .as_mut()
                .and_then(|s| s.rtt_series[source].map(|i| (s, i)))
            {
                s.0.series[s.1].points.push((now, rtt.as_secs_f64()));
            }
            return;
        }
        if let Some(reply) = self.sources[source].on_delivery(now, &p) {
            if let Some(local) = self.net.inject(&mut self.engine, reply) {
                self.on_delivered(local);
            }
        }
    }

    /// Opens the bulk transfers the last handler asked for, in order, then carries out
    /// its channel requests.
    fn open_requested_transfers(&mut self) {
        if !self.services.transfer_requests.is_empty() {
            let requests = std::mem::take(&mut self.services.transfer_requests);
            for (owner, id, spec) in requests {
                self.open_transfer(owner, id, spec);
            }
        }
        if !self.services.channel_requests.is_empty() {
            let requests = std::mem::take(&mut self.services.channel_requests);
            for r in requests {
                match r {
                    ChannelRequest::Open(owner, id, spec) => self.open_channel(owner, id, spec),
                    ChannelRequest::Send(id, bytes, tag) => self.channel_send(id, bytes, tag),
                }
            }
        }
    }

    /// Connection ends of `streams` streams from `from` to `to`, each hashed on its own
    /// name so ECMP spreads them.
    fn stream_ends(&mut self, name: &str, from: NodeId, to: NodeId, streams: u32) -> Vec<Ends> {
        let seed = self.streams.master_seed();
        (0..streams)
            .map(|k| {
                let hash =
                    crate::engine::rng::stable_hash(seed, format!("flow/{name}/{k}").as_bytes());
                super::connection_ends(&mut self.net, from, to, hash as u32)
            })
            .collect()
    }

    /// Adds a transport slot and schedules its start now.
    fn add_slot(&mut self, slot: TransportSlot) -> usize {
        let now = self.engine.now();
        let i = self.transports.len();
        self.transports.push(slot);
        self.owners
            .resize(self.net.flows.len(), Owner::Transport(i as u32));
        let ev = self
            .engine
            .schedule_at(now, WorldEvent::Transport(i as u32).into());
        self.transports[i].timer = Some((now, ev));
        i
    }

    /// A channel is a transport slot of its own, started now.
    fn open_channel(&mut self, owner: ComponentId, id: ChannelId, spec: ChannelSpec) {
        use crate::transport::channel::Channel;
        let now = self.engine.now();
        let name = format!("{}{}", spec.name, self.transports.len());
        let ends = self.stream_ends(&name, spec.from, spec.to, spec.settings.streams.max(1));
        let ch = Channel::new(
            &spec.settings.transport,
            &ends,
            spec.settings.chunk.max(1),
            now,
        );
        let meta = (
            name,
            "channel",
            self.net.nodes[spec.from.index()].name.clone(),
            self.net.nodes[spec.to.index()].name.clone(),
        );
        let mut slot = TransportSlot::new(Connection::Channel(Box::new(ch)), ends[0], now, meta);
        slot.extra_flows = ends[1..].to_vec();
        slot.channel = Some((owner, id));
        let i = self.add_slot(slot);
        debug_assert_eq!(self.services.channel_slots.len(), id.0 as usize);
        self.services.channel_slots.push(i as u32);
    }

    /// Queues a message on a channel; a started channel sends what its streams take now.
    fn channel_send(&mut self, id: ChannelId, bytes: u64, tag: u64) {
        let i = self.services.channel_slots[id.0 as usize] as usize;
        let now = self.engine.now();
        let mut out = std::mem::take(&mut self.outbox);
        if let Connection::Channel(ch) = &mut self.transports[i].conn {
            ch.send(now, bytes, tag, &mut out);
        }
        self.flush(out);
        self.sync_timer(i);
    }

    /// A transfer travels as AMST streams opened for it.
    fn open_transfer(&mut self, owner: ComponentId, id: TransferId, spec: TransferSpec) {
        use crate::transport::multistream::{AmstConfig, MultiStream};
        let now = self.engine.now();
        let name = format!("{}{}", spec.name, self.transports.len());
        let ends = self.stream_ends(&name, spec.from, spec.to, spec.settings.streams);
        let total = spec.bytes.max(1);
        let amst = AmstConfig {
            streams: spec.settings.streams,
            chunk_bytes: spec.settings.chunk.min(total),
            total_bytes: total,
        };
        let ms = MultiStream::new(amst, &spec.settings.transport, &ends, now);
        let meta = (
            name,
            "amst",
            self.net.nodes[spec.from.index()].name.clone(),
            self.net.nodes[spec.to.index()].name.clone(),
        );
        let mut slot = TransportSlot::new(Connection::Amst(Box::new(ms)), ends[0], now, meta);
        slot.extra_flows = ends[1..].to_vec();
        slot.transfer = Some((owner, id, spec.tag, false));
        self.add_slot(slot);
    }

    /// Reports a finished bulk transfer, or a channel's delivered messages, to the
    /// component that opened it.
    fn check_transfer(&mut self, i: usize) {
        if let Some((owner, ch)) = self.transports[i].channel {
            let Connection::Channel(c) = &mut self.transports[i].conn else {
                return;
            };
            if !c.has_delivered() {
                return;
            }
            let mut tags = std::mem::take(&mut self.channel_tags);
            c.take_delivered(&mut tags);
            for &tag in &tags {
                call!(self, owner, on_channel_delivered, ch, tag);
            }
            tags.clear();
            if self.channel_tags.capacity() < tags.capacity() {
                self.channel_tags = tags;
            }
            return;
        }
        let t = &mut self.transports[i];
        let Some((owner, id, tag, false)) = t.transfer else {
            return;
        };
        let Connection::Amst(ms) = &t.conn else {
            return;
        };
        let Some(done) = ms.completed_at() else {
            return;
        };
        t.transfer = Some((owner, id, tag, true));
        let took = done.since(t.start);
        let done = TransferDone {
            id,
            tag,
            delivered: true,
            took,
        };
        call!(self, owner, on_transfer_done, done);
    }

    /// The node a crash targets now, resolving a role through the components.
    fn crash_target(&self, target: &CrashTarget) -> Option<NodeId> {
        match target {
            CrashTarget::Node(n) => Some(*n),
            CrashTarget::Role(role) => self
                .components
                .iter()
                .find(|c| c.roles().contains(&role.as_str()))
                .and_then(|c| c.node_in_role(role)),
        }
    }

    /// What runs on `node`, for the event log: the components' descriptions, else its name.
    fn describe_node(&self, node: NodeId) -> String {
        let parts: Vec<String> = self
            .components
            .iter()
            .filter_map(|c| c.describe(node))
            .collect();
        if parts.is_empty() {
            self.net.nodes[node.index()].name.clone()
        } else {
            parts.join(", ")
        }
    }

    fn apply_fault(&mut self, i: usize) {
        let now = self.engine.now();
        let fault = self.node_faults[i].1.clone();
        match fault {
            NodeFault::Crash {
                target,
                restart_after,
            } => {
                let Some(node) = self.crash_target(&target) else {
                    let CrashTarget::Role(role) = target else {
                        unreachable!("a named node always resolves")
                    };
                    self.services
                        .log
                        .push((now, "crash", format!("no {role} to crash")));
                    return;
                };
                let name = self.describe_node(node);
                for k in 0..self.components.len() {
                    call!(self, ComponentId(k as u16), on_node_down, node);
                }
                self.services.log.push((now, "crash", name));
                if let Some(d) = restart_after {
                    if now + d < self.end {
                        self.node_faults.push((now + d, NodeFault::Restart(node)));
                        let k = self.node_faults.len() - 1;
                        self.engine
                            .schedule_at(now + d, WorldEvent::Fault(k as u32).into());
                    }
                }
            }
            NodeFault::Restart(node) => {
                let name = self.describe_node(node);
                self.services.log.push((now, "restart", name));
                for k in 0..self.components.len() {
                    call!(self, ComponentId(k as u16), on_node_up, node);
                }
            }
            NodeFault::Partition { groups, label } => {
                self.net.set_partition(&groups);
                self.services.log.push((now, "partition", label));
            }
            NodeFault::Heal => {
                self.net.set_partition(&[]);
                self.services.log.push((now, "heal", String::new()));
            }
        }
    }

    fn records(mut self) -> RunRecords {
        let mut component_records = ComponentRecords::default();
        for c in &self.components {
            c.records(self.end, &mut component_records);
        }
        self.measures.extend(component_records.rows);
        let net = &self.net;
        let end = self.end;
        let flows = self
            .sources
            .iter()
            .zip(&self.flow_meta)
            .map(|(s, (name, app, src, dst))| FlowRecord {
                name: name.clone(),
                app,
                src: src.clone(),
                dst: dst.clone(),
                offered_bps: s.offered_bps(),
                active_s: s.stop.min(end).since(s.start.min(end)).as_secs_f64(),
                stats: net.flows[s.flow.index()].clone(),
                extra: Vec::new(),
            })
            .chain(self.transports.iter().flat_map(|t| {
                let (name, app, src, dst) = t.meta.clone();
                let active_s = end.since(t.start.min(end)).as_secs_f64();
                let mut extra = Vec::new();
                t.conn.report(end, &mut extra);
                if let (Some(s), Some(first), Some(last)) = (
                    &self.sampler,
                    self.link_changes.first(),
                    self.link_changes.last(),
                ) {
                    let goodput = t.series.iter().find(|(m, _)| *m == "goodput");
                    if let Some(&(_, idx)) = goodput {
                        let r = crate::metrics::recovery(
                            &s.series[idx].points,
                            first.0,
                            last.0,
                            self.recovery_baseline,
                        );
                        if let Some(r) = r {
                            extra.push(("pre_event_goodput", r.baseline, "bit/s"));
                            if let Some(secs) = r.recovery_s {
                                extra.push(("recovery_time", secs, "s"));
                            }
                        }
                    }
                }
                // AMST mode switch: from the path change that caused it (the last link
                // event before the detector settled) to detection and to data on the new
                // streams.
                let metric = |m: &str| extra.iter().find(|e| e.0 == m).map(|e| e.1);
                if let (Some(detected), Some(first_data)) =
                    (metric("switch_detected_at"), metric("switch_first_data_at"))
                {
                    let cause = self
                        .link_changes
                        .iter()
                        .rev()
                        .map(|c| c.0.as_secs_f64())
                        .find(|&t| t <= detected);
                    if let Some(at) = cause {
                        extra.push(("switch_detection_time", detected - at, "s"));
                        extra.push(("switch_latency", first_data - at, "s"));
                    }
                }
                let data = FlowRecord {
                    name: name.clone(),
                    app,
                    src: src.clone(),
                    dst: dst.clone(),
                    offered_bps: f64::NAN,
                    active_s,
                    stats: net.flows[t.ends.data_flow.index()].clone(),
                    extra,
                };
                // The feedback direction (ACKs) as its own record, so every network flow's
                // packets are accounted for.
                let feedback = FlowRecord {
                    name: format!("{name}/ack"),
                    app,
                    src: dst.clone(),
                    dst: src.clone(),
                    offered_bps: f64::NAN,
                    active_s,
                    stats: net.flows[t.ends.ack_flow.index()].clone(),
                    extra: Vec::new(),
                };
                let mut records = vec![data, feedback];
                // The other streams of a multi-stream transport, each direction on its own.
                for (k, e) in t.extra_flows.iter().enumerate() {
                    for (flow, suffix, from, to) in [
                        (e.data_flow, "", &src, &dst),
                        (e.ack_flow, "/ack", &dst, &src),
                    ] {
                        records.push(FlowRecord {
                            name: format!("{name}/stream{}{suffix}", k + 1),
                            app,
                            src: from.clone(),
                            dst: to.clone(),
                            offered_bps: f64::NAN,
                            active_s,
                            stats: net.flows[flow.index()].clone(),
                            extra: Vec::new(),
                        });
                    }
                }
                records
            }))
            .collect();
        let ports = net
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let id = PortId(i as u32);
                PortRecord {
                    link: net.link_name(id.link()).to_string(),
                    direction: id.direction(),
                    from: net.nodes[p.from.index()].name.clone(),
                    to: net.nodes[p.to.index()].name.clone(),
                    rate_bps: p.rate_bps(),
                    stats: p.stats.clone(),
                }
            })
            .collect();
        RunRecords {
            net: net.stats.clone(),
            in_flight: net.in_flight(),
            flows,
            ports,
            series: self
                .sampler
                .map(|s| s.series)
                .unwrap_or_default()
                .into_iter()
                .chain(component_records.series)
                .collect(),
            log: self.services.log,
            measures: self.measures,
            events: self.engine.processed(),
            digest: self.engine.digest(),
            end_time: end,
        }
    }
}
