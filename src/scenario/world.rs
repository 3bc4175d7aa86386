//! The world of one run: the engine, the network and the traffic sources, and the loop that
//! routes each event to its owner. Wiring only: behaviour lives in `net` and `traffic`.

use crate::engine::{Engine, EventId, RngStreams, SimDuration, SimTime, Traced};
use crate::metrics::{FlowRecord, PortRecord, RunRecords, TimeSeries};
use crate::net::{FlowId, LinkChange, NetEvent, Network, Packet, Payload, PortId};
use crate::traffic::Source;
use crate::transport::{Connection, Ends, Metric, Outbox, Transport};
use std::sync::atomic::{AtomicU64, Ordering};

/// Every event of a run. Closed, small and `Copy`: no allocation per event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Net(NetEvent),
    /// Timer of source `i`.
    Source(u32),
    /// Take time-series samples.
    Sample,
    /// Start, or the deadline, of transport connection `i`.
    Transport(u32),
    /// Apply scheduled link change `i`.
    LinkChange(u32),
    /// Timer of consensus replica `i`.
    ConsensusReplica(u32),
    /// The consensus client's next request or resend.
    ConsensusClient,
    /// Consensus message `handle` may leave (its fsync or signature is done).
    ConsensusRelease(u32),
    /// Apply scheduled node fault `i` (crash, restart, partition, heal).
    Fault(u32),
}

/// A scheduled fault on nodes rather than links (those are [`LinkChange`]s).
#[derive(Clone, Debug)]
pub(crate) enum NodeFault {
    /// Crash a replica (or whichever leads, or follows, then); restart it after the delay
    /// if given.
    Crash {
        replica: CrashTarget,
        restart_after: Option<SimDuration>,
    },
    Restart(crate::consensus::ReplicaId),
    /// Split the network into these groups of nodes.
    Partition {
        groups: Vec<Vec<crate::net::NodeId>>,
        label: String,
    },
    Heal,
}

/// Which replica a crash fault takes down.
#[derive(Clone, Copy, Debug)]
pub(crate) enum CrashTarget {
    Replica(crate::consensus::ReplicaId),
    Leader,
    Follower,
}

/// How bulk state transfers (Raft snapshots) travel: AMST over TCP.
#[derive(Clone, Debug)]
pub(crate) struct BulkSettings {
    pub streams: u32,
    pub chunk: u64,
    pub tcp: crate::transport::tcp::TcpConfig,
}

/// Who handles the packets of a network flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    Source(u32),
    Transport(u32),
    /// Messages of the consensus group.
    Consensus,
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
    /// A bulk transfer carrying consensus message `parcel`, and whether it was handed over.
    pub bulk: Option<(u32, bool)>,
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
            bulk: None,
        }
    }
}

impl From<NetEvent> for Event {
    fn from(e: NetEvent) -> Self {
        Event::Net(e)
    }
}

impl Traced for Event {
    #[inline]
    fn trace(&self) -> (u32, u64, u64) {
        match *self {
            Event::Net(NetEvent::TxDone(p)) => (1, p.0 as u64, 0),
            Event::Net(NetEvent::Arrive(p, pkt)) => (2, p.0 as u64, pkt.0 as u64),
            Event::Net(NetEvent::Pause(p, on)) => (6, p.0 as u64, on as u64),
            Event::Source(i) => (3, i as u64, 0),
            Event::Sample => (4, 0, 0),
            Event::Transport(i) => (5, i as u64, 0),
            Event::LinkChange(i) => (7, i as u64, 0),
            Event::ConsensusReplica(i) => (9, i as u64, 0),
            Event::ConsensusClient => (10, 0, 0),
            Event::ConsensusRelease(h) => (11, h as u64, 0),
            Event::Fault(i) => (12, i as u64, 0),
        }
    }
}

/// Periodic samples of chosen link directions and flows.
pub(crate) struct Sampler {
    pub interval: SimDuration,
    /// Port, index of its queue series (utilization series follows it).
    pub ports: Vec<(PortId, usize)>,
    pub last_busy: Vec<u64>,
    /// Per flow: index of its throughput series, or none.
    pub flow_series: Vec<Option<usize>>,
    pub rtt_series: Vec<Option<usize>>,
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
        for (f, slot) in self.flow_series.iter().enumerate() {
            if let Some(s) = *slot {
                let delivered = net.flows[f].delivered_bytes;
                let bps = (delivered - self.last_delivered[f]) as f64 * 8.0 / (dt as f64 / 1e12);
                self.last_delivered[f] = delivered;
                self.series[s].points.push((now, bps));
            }
        }
        self.last_sample = now;
    }
}

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
    pub(crate) consensus: Option<super::consensus_host::ConsensusHost>,
    pub(crate) node_faults: Vec<(SimTime, NodeFault)>,
    pub(crate) bulk: Option<BulkSettings>,
    /// Faults and protocol events in order: `(time, kind, description)`.
    pub(crate) log: Vec<super::consensus_host::LogEntry>,
}

impl World {
    /// Runs to the end time and returns what was measured.
    pub fn run(self) -> RunRecords {
        self.run_observed(None)
    }

    /// As [`World::run`], storing the virtual time reached (ps) in `progress` every few
    /// thousand events, for a progress display on another thread.
    pub fn run_observed(mut self, progress: Option<&AtomicU64>) -> RunRecords {
        for (i, s) in self.sources.iter().enumerate() {
            if s.start < self.end {
                self.engine.schedule_at(s.start, Event::Source(i as u32));
            }
        }
        for (i, t) in self.transports.iter_mut().enumerate() {
            if t.start < self.end {
                let id = self.engine.schedule_at(t.start, Event::Transport(i as u32));
                t.timer = Some((t.start, id));
            }
        }
        for (i, (at, _)) in self.link_changes.iter().enumerate() {
            self.engine.schedule_at(*at, Event::LinkChange(i as u32));
        }
        for (i, (at, _)) in self.node_faults.iter().enumerate() {
            self.engine.schedule_at(*at, Event::Fault(i as u32));
        }
        if let Some(c) = &mut self.consensus {
            c.schedule_start(&mut self.engine);
        }
        if let Some(s) = &self.sampler {
            self.engine.schedule_in(s.interval, Event::Sample);
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
                Event::Source(i) => {
                    let now = self.engine.now();
                    let (packet, next) = self.sources[i as usize].on_timer(now);
                    if let Some(t) = next {
                        self.engine.schedule_at(t, Event::Source(i));
                    }
                    if let Some(p) = packet {
                        if let Some(local) = self.net.inject(&mut self.engine, p) {
                            self.on_delivered(local);
                        }
                    }
                }
                Event::Transport(i) => {
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
                    self.check_bulk(i as usize);
                }
                Event::LinkChange(i) => {
                    let change = &self.link_changes[i as usize].1;
                    self.net.change_link(change, &self.streams);
                    let now = self.engine.now();
                    let label = self.link_change_labels[i as usize].clone();
                    self.log.push((now, "link", label));
                }
                Event::ConsensusReplica(_)
                | Event::ConsensusClient
                | Event::ConsensusRelease(_) => {
                    if let Some(c) = &mut self.consensus {
                        let (engine, net) = (&mut self.engine, &mut self.net);
                        match event {
                            Event::ConsensusReplica(i) => c.on_replica_timer(engine, net, i),
                            Event::ConsensusClient => c.on_client_timer(engine, net),
                            Event::ConsensusRelease(h) => c.on_release(engine, net, h),
                            _ => unreachable!("matched above"),
                        }
                    }
                    self.after_consensus();
                }
                Event::Fault(i) => self.apply_fault(i as usize),
                Event::Sample => {
                    let now = self.engine.now();
                    if let Some(s) = &mut self.sampler {
                        s.sample(now, &self.net);
                        if s.transports {
                            s.sample_transports(now, &mut self.transports);
                        }
                        if now + s.interval <= end {
                            self.engine.schedule_in(s.interval, Event::Sample);
                        }
                    }
                }
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
            let id = self.engine.schedule_at(at, Event::Transport(i as u32));
            t.timer = Some((at, id));
        }
    }

    fn on_delivered(&mut self, p: Packet) {
        let now = self.engine.now();
        let flow: FlowId = p.flow;
        match self.owners[flow.index()] {
            Owner::Transport(i) => {
                let mut out = std::mem::take(&mut self.outbox);
                self.transports[i as usize]
                    .conn
                    .on_packet(now, &p, &mut out);
                self.flush(out);
                self.sync_timer(i as usize);
                self.check_bulk(i as usize);
                return;
            }
            Owner::Consensus => {
                if let Some(c) = &mut self.consensus {
                    c.on_packet(&mut self.engine, &mut self.net, p);
                }
                self.after_consensus();
                return;
            }
            Owner::Source(_) => {}
        }
        if let Payload::PingReply { sent_at } = p.payload {
            let rtt = now.since(sent_at);
            self.net.flows[flow.index()].rtt.record(rtt.as_ps());
            if let Some(s) = self
                .sampler
                .as_mut()
                .and_then(|s| s.rtt_series[flow.index()].map(|i| (s, i)))
            {
                s.0.series[s.1].points.push((now, rtt.as_secs_f64()));
            }
            return;
        }
        let Owner::Source(i) = self.owners[flow.index()] else {
            return;
        };
        if let Some(reply) = self.sources[i as usize].on_delivery(now, &p) {
            if let Some(local) = self.net.inject(&mut self.engine, reply) {
                self.on_delivered(local);
            }
        }
    }

    /// Opens the bulk transfers the consensus group asked for and collects its log.
    fn after_consensus(&mut self) {
        let Some(c) = &mut self.consensus else {
            return;
        };
        let requests = c.take_bulk();
        self.log.extend(c.take_log());
        for b in requests {
            self.open_bulk(b);
        }
    }

    /// A snapshot travels as an AMST transfer over TCP streams opened for it.
    fn open_bulk(&mut self, b: super::consensus_host::BulkRequest) {
        use crate::transport::multistream::{AmstConfig, MultiStream, StreamTransport};
        let now = self.engine.now();
        let settings = self
            .bulk
            .clone()
            .expect("bulk settings with a consensus group");
        let group = self.consensus.as_ref().map_or("", |c| c.name()).to_string();
        let what = if b.state { "state" } else { "bulk" };
        let name = format!("{group}/{what}{}", self.transports.len());
        let seed = self.streams.master_seed();
        let ends: Vec<crate::transport::Ends> = (0..settings.streams)
            .map(|k| {
                let hash =
                    crate::engine::rng::stable_hash(seed, format!("flow/{name}/{k}").as_bytes());
                super::connection_ends(&mut self.net, b.from_node, b.to_node, hash as u32)
            })
            .collect();
        let total = b.bytes.max(1);
        let amst = AmstConfig {
            streams: settings.streams,
            chunk_bytes: settings.chunk.min(total),
            total_bytes: total,
        };
        let ms = MultiStream::new(
            amst,
            &StreamTransport::Tcp(settings.tcp.clone()),
            &ends,
            now,
        );
        let meta = (
            name,
            "amst",
            self.net.nodes[b.from_node.index()].name.clone(),
            self.net.nodes[b.to_node.index()].name.clone(),
        );
        let i = self.transports.len();
        let mut slot = TransportSlot::new(Connection::Amst(Box::new(ms)), ends[0], now, meta);
        slot.extra_flows = ends[1..].to_vec();
        slot.bulk = Some((b.parcel, false));
        self.transports.push(slot);
        self.owners
            .resize(self.net.flows.len(), Owner::Transport(i as u32));
        let id = self.engine.schedule_at(now, Event::Transport(i as u32));
        self.transports[i].timer = Some((now, id));
    }

    /// Hands a finished bulk transfer's message to the consensus group.
    fn check_bulk(&mut self, i: usize) {
        let t = &mut self.transports[i];
        let Some((parcel, false)) = t.bulk else {
            return;
        };
        let Connection::Amst(ms) = &t.conn else {
            return;
        };
        let Some(done) = ms.completed_at() else {
            return;
        };
        t.bulk = Some((parcel, true));
        let took = done.since(t.start);
        if let Some(c) = &mut self.consensus {
            c.on_bulk_done(&mut self.engine, &mut self.net, parcel, true, took);
        }
        self.after_consensus();
    }

    fn apply_fault(&mut self, i: usize) {
        let now = self.engine.now();
        let fault = self.node_faults[i].1.clone();
        match fault {
            NodeFault::Crash {
                replica,
                restart_after,
            } => {
                let Some(c) = &mut self.consensus else {
                    return;
                };
                let target = match replica {
                    CrashTarget::Replica(r) => Some(r),
                    CrashTarget::Leader => c.leader(),
                    CrashTarget::Follower => c.follower(),
                };
                let Some(r) = target else {
                    self.log.push((
                        now,
                        "crash",
                        format!("no {replica:?} to crash").to_lowercase(),
                    ));
                    return;
                };
                let name = c.replica_name(r);
                c.crash(&mut self.engine, r);
                self.log.push((now, "crash", name));
                if let Some(d) = restart_after {
                    if now + d < self.end {
                        self.node_faults.push((now + d, NodeFault::Restart(r)));
                        let k = self.node_faults.len() - 1;
                        self.engine.schedule_at(now + d, Event::Fault(k as u32));
                    }
                }
            }
            NodeFault::Restart(r) => {
                if let Some(c) = &mut self.consensus {
                    let name = c.replica_name(r);
                    c.restart(&mut self.engine, &mut self.net, r);
                    self.log.push((now, "restart", name));
                }
                self.after_consensus();
            }
            NodeFault::Partition { groups, label } => {
                self.net.set_partition(&groups);
                self.log.push((now, "partition", label));
            }
            NodeFault::Heal => {
                self.net.set_partition(&[]);
                self.log.push((now, "heal", String::new()));
            }
        }
    }

    fn records(mut self) -> RunRecords {
        let mut consensus_series = Vec::new();
        if let Some(c) = &self.consensus {
            let (rows, series) = c.records(self.end);
            self.measures.extend(rows);
            consensus_series = series;
        }
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
                .chain(consensus_series)
                .collect(),
            log: self.log,
            measures: self.measures,
            events: self.engine.processed(),
            digest: self.engine.digest(),
            end_time: end,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn events_stay_small() {
        // The queue moves events by value on every push and pop; keep them within 16 bytes.
        assert!(std::mem::size_of::<super::Event>() <= 16);
    }
}
