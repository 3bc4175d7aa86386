//! The packet network: egress ports with drop-tail queues, serialization, propagation,
//! jitter and loss layers, and per-hop forwarding. Driven by two events and answers with
//! the packets it delivers; applications live above it.
//!
//! Invariant (checked by [`Network::check_conservation`]): every packet injected is
//! delivered, dropped with a reason, or still in flight.

use super::ids::{FlowId, LinkId, NodeId, PortId};
use super::loss::{LossConfig, LossLayer};
use super::packet::{Packet, PacketArena};
use super::routing::{RouteMetric, Routes};
use super::topology::{NodeKind, Topology};
use super::PacketId;
use crate::engine::{RngStreams, Scheduler, SimDuration, SimRng, SimTime};
use crate::metrics::{DropReason, FlowStats, NetStats, PortStats};
use rand::Rng;
use std::collections::VecDeque;

/// Events the network schedules for itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetEvent {
    /// The packet in service on this port has left the transmitter.
    TxDone(PortId),
    /// A packet reaches the far end of this port's link.
    Arrive(PortId, PacketId),
    /// A PFC pause (`true`) or resume (`false`) frame for this port reaches its sender.
    Pause(PortId, bool),
}

/// No ingress port: the packet was injected at this node.
const LOCAL: u32 = u32::MAX;

/// A scheduled change to one link, both directions (`[[link_events]]` in experiments):
/// what is set changes, the rest stays. Packets already on the wire are not affected.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkChange {
    /// The link to change.
    pub link: LinkId,
    /// New line rate, bits per second.
    pub rate_bps: Option<u64>,
    /// New one-way propagation delay.
    pub delay: Option<SimDuration>,
    /// Replaces the loss layers of both directions (an empty list removes them).
    pub loss: Option<Vec<LossConfig>>,
    /// When set, the b→a direction gets these layers instead of `loss` (restoring a link
    /// whose directions differ).
    pub loss_ba: Option<Vec<LossConfig>>,
    /// `Some(false)`: the link goes down and every packet leaving either end is lost;
    /// `Some(true)`: it comes back up.
    pub up: Option<bool>,
}

/// Loss layers and jitter of one direction, with the stream they draw from.
struct PortFaults {
    loss: Vec<LossLayer>,
    rng: SimRng,
}

/// One direction of a link: queue and transmitter at `from`, wire to `to`.
pub struct Port {
    /// The node that transmits on this direction.
    pub from: NodeId,
    /// The node at the far end of the wire.
    pub to: NodeId,
    rate_bps: u64,
    delay: SimDuration,
    jitter_ps: u64,
    reorder: bool,
    cap_packets: u64,
    cap_bytes: u64,
    ecn_packets: u64,
    ecn_bytes: u64,
    /// Waiting packets with the port they arrived on (`LOCAL` if injected here), for PFC's
    /// per-ingress accounting.
    queue: VecDeque<(PacketId, u32)>,
    /// PFC `(xoff, xon)` of this direction's link, bytes.
    pfc: Option<(u64, u64)>,
    /// Bytes that arrived over this port and wait in queues at its `to` node.
    ingress_bytes: u64,
    /// `to` has paused this port (a pause frame is out or in effect).
    pause_sent: bool,
    /// Transmission stopped by a pause frame.
    paused: bool,
    paused_since: SimTime,
    queued_bytes: u64,
    in_service: Option<PacketId>,
    tx_started: SimTime,
    /// Remainder of `bits · 10^12 mod rate` carried between packets, so back-to-back
    /// serialization times sum exactly (no accumulated rounding).
    residue: u64,
    last_arrival: SimTime,
    last_queue_change: SimTime,
    faults: Option<Box<PortFaults>>,
    /// The link is down: every packet leaving this port is lost.
    down: bool,
    /// Counters of this direction.
    pub stats: PortStats,
}

impl Port {
    /// Current propagation delay.
    pub fn delay(&self) -> SimDuration {
        self.delay
    }

    /// Current line rate, bits per second.
    pub fn rate_bps(&self) -> u64 {
        self.rate_bps
    }
    /// Packets waiting (not counting the one being serialized).
    pub fn queue_packets(&self) -> u64 {
        self.queue.len() as u64
    }
    /// Bytes waiting (not counting the one being serialized).
    pub fn queue_bytes(&self) -> u64 {
        self.queued_bytes
    }
    /// Picoseconds spent transmitting up to `now`, including the packet in service.
    pub fn busy_until(&self, now: SimTime) -> u64 {
        self.stats.busy_ps
            + match self.in_service {
                Some(_) => now.since(self.tx_started).as_ps(),
                None => 0,
            }
    }

    fn note_queue_change(&mut self, now: SimTime) {
        let dt = now.since(self.last_queue_change).as_ps();
        self.stats.queue_area += self.queue.len() as u128 * dt as u128;
        self.last_queue_change = now;
    }
}

/// A node as the network sees it.
pub struct Node {
    /// Name from the topology.
    pub name: String,
    /// Host, switch or router.
    pub kind: NodeKind,
}

/// Nodes, ports, routes and in-flight packets: forwards packets hop by hop.
pub struct Network {
    /// Nodes, indexed by [`NodeId`].
    pub nodes: Vec<Node>,
    /// Link directions, indexed by [`PortId`].
    pub ports: Vec<Port>,
    /// Link names, indexed by [`LinkId`].
    pub link_names: Vec<String>,
    /// Next hops for every destination.
    pub routes: Routes,
    packets: PacketArena,
    /// Network-wide packet accounting.
    pub stats: NetStats,
    /// Per-flow counters, indexed by [`FlowId`].
    pub flows: Vec<FlowStats>,
    /// Partition side of each node while a partition is in force (0: reaches every side);
    /// empty otherwise, so the forwarding path pays one length check.
    partition: Vec<u32>,
}

impl Network {
    /// The bottleneck rate (bit/s) and the one-way propagation delay of the route from
    /// `from` to `to` for ECMP hash `hash`, or `None` if there is none.
    pub fn path(&self, from: NodeId, to: NodeId, hash: u32) -> Option<(u64, SimDuration)> {
        let (mut at, mut rate, mut delay) = (from, u64::MAX, SimDuration::ZERO);
        for _ in 0..self.nodes.len() {
            if at == to {
                return Some((rate, delay));
            }
            let port = &self.ports[self.routes.select(at, to, hash)?.index()];
            rate = rate.min(port.rate_bps());
            delay = delay + port.delay();
            at = port.to;
        }
        None
    }

    /// Builds ports and routes. Each direction's faults draw from the stream
    /// `link/<name>/<ab|ba>`, so renumbering or adding links shifts nobody's draws.
    pub fn new(topo: &Topology, streams: &RngStreams, metric: RouteMetric, ecmp: bool) -> Network {
        let mut ports = Vec::with_capacity(topo.links.len() * 2);
        for l in &topo.links {
            for (from, to, loss, dir) in
                [(l.a, l.b, &l.loss_ab, "ab"), (l.b, l.a, &l.loss_ba, "ba")]
            {
                let p = &l.params;
                let faults = (!loss.is_empty() || p.jitter > SimDuration::ZERO).then(|| {
                    Box::new(PortFaults {
                        loss: loss.iter().map(LossLayer::new).collect(),
                        rng: streams.stream(&format!("link/{}/{dir}", l.name)),
                    })
                });
                ports.push(Port {
                    from,
                    to,
                    rate_bps: p.rate_bps,
                    delay: p.delay,
                    jitter_ps: p.jitter.as_ps(),
                    reorder: p.reorder,
                    cap_packets: p.queue_packets.unwrap_or(u64::MAX),
                    cap_bytes: p.queue_bytes.unwrap_or(u64::MAX),
                    ecn_packets: p.ecn_threshold_packets.unwrap_or(u64::MAX),
                    ecn_bytes: p.ecn_threshold_bytes.unwrap_or(u64::MAX),
                    queue: VecDeque::new(),
                    pfc: p.pfc,
                    ingress_bytes: 0,
                    pause_sent: false,
                    paused: false,
                    paused_since: SimTime::ZERO,
                    queued_bytes: 0,
                    in_service: None,
                    tx_started: SimTime::ZERO,
                    residue: 0,
                    last_arrival: SimTime::ZERO,
                    last_queue_change: SimTime::ZERO,
                    faults,
                    down: false,
                    stats: PortStats::default(),
                });
            }
        }
        Network {
            nodes: topo
                .nodes
                .iter()
                .map(|n| Node {
                    name: n.name.clone(),
                    kind: n.kind,
                })
                .collect(),
            ports,
            link_names: topo.links.iter().map(|l| l.name.clone()).collect(),
            routes: Routes::compute(topo, metric, ecmp),
            packets: PacketArena::default(),
            stats: NetStats::default(),
            flows: Vec::new(),
            partition: Vec::new(),
        }
    }

    /// Registers a flow for per-flow statistics; returns its id.
    pub fn add_flow(&mut self) -> FlowId {
        self.flows.push(FlowStats::default());
        FlowId((self.flows.len() - 1) as u32)
    }

    /// The link direction `id`.
    pub fn port(&self, id: PortId) -> &Port {
        &self.ports[id.index()]
    }

    /// The name of link `id`.
    pub fn link_name(&self, id: LinkId) -> &str {
        &self.link_names[id.index()]
    }

    /// Packets currently in queues, transmitters or on wires.
    pub fn in_flight(&self) -> u64 {
        self.packets.live()
    }

    /// Hands a packet to the network at its source node; returns it at once if the source
    /// is also the destination.
    pub fn inject<S: Scheduler<NetEvent>>(
        &mut self,
        sched: &mut S,
        packet: Packet,
    ) -> Option<Packet> {
        self.stats.injected += 1;
        let f = &mut self.flows[packet.flow.index()];
        f.sent_packets += 1;
        f.sent_bytes += packet.size as u64;
        let src = packet.src;
        let id = self.packets.insert(packet);
        self.forward(sched, src, id, LOCAL)
    }

    /// Handles one network event; returns the packet if it reached its destination.
    #[inline]
    pub fn on_event<S: Scheduler<NetEvent>>(
        &mut self,
        sched: &mut S,
        event: NetEvent,
    ) -> Option<Packet> {
        match event {
            NetEvent::TxDone(port) => {
                self.on_tx_done(sched, port);
                None
            }
            NetEvent::Arrive(port, id) => {
                let node = self.ports[port.index()].to;
                self.forward(sched, node, id, port.0)
            }
            NetEvent::Pause(port, on) => {
                self.on_pause(sched, port, on);
                None
            }
        }
    }

    /// At `node`: deliver, or pick the egress port and enqueue.
    #[inline]
    fn forward<S: Scheduler<NetEvent>>(
        &mut self,
        sched: &mut S,
        node: NodeId,
        id: PacketId,
        ingress: u32,
    ) -> Option<Packet> {
        let p = self.packets.get(id);
        if !self.partition.is_empty() {
            let (a, b) = (self.partition[p.src.index()], self.partition[p.dst.index()]);
            if a != 0 && b != 0 && a != b {
                self.drop_packet(id, DropReason::Partition, None);
                return None;
            }
        }
        if p.dst == node {
            let packet = self.packets.remove(id);
            self.record_delivery(sched.now(), &packet);
            return Some(packet);
        }
        match self.routes.select(node, p.dst, p.ecmp_hash) {
            Some(port) => self.enqueue(sched, port, id, ingress),
            None => self.drop_packet(id, DropReason::NoRoute, None),
        }
        None
    }

    #[inline]
    fn enqueue<S: Scheduler<NetEvent>>(
        &mut self,
        sched: &mut S,
        port_id: PortId,
        id: PacketId,
        ingress: u32,
    ) {
        let now = sched.now();
        let size = self.packets.get(id).size as u64;
        let port = &mut self.ports[port_id.index()];
        if port.in_service.is_none() && !port.paused {
            self.start_tx(sched, port_id, id);
            return;
        }
        if port.queue.len() as u64 >= port.cap_packets || port.queued_bytes + size > port.cap_bytes
        {
            self.drop_packet(id, DropReason::Queue, Some(port_id));
            return;
        }
        port.note_queue_change(now);
        port.queue.push_back((id, ingress));
        port.queued_bytes += size;
        let qlen = port.queue.len() as u64;
        port.stats.max_queue_packets = port.stats.max_queue_packets.max(qlen);
        port.stats.max_queue_bytes = port.stats.max_queue_bytes.max(port.queued_bytes);
        if qlen > port.ecn_packets || port.queued_bytes > port.ecn_bytes {
            port.stats.ecn_marked += 1;
            self.packets.get_mut(id).ecn_ce = true;
        }
        if ingress != LOCAL {
            self.note_ingress(sched, PortId(ingress), size as i64);
        }
    }

    /// PFC accounting: `delta` bytes from `ingress` joined (or left) queues at its far end;
    /// crossing xoff sends a pause back over the link, crossing xon a resume.
    fn note_ingress<S: Scheduler<NetEvent>>(&mut self, sched: &mut S, ingress: PortId, delta: i64) {
        let q = &mut self.ports[ingress.index()];
        q.ingress_bytes = q.ingress_bytes.saturating_add_signed(delta);
        let Some((xoff, xon)) = q.pfc else {
            return;
        };
        let flip = if !q.pause_sent && q.ingress_bytes > xoff {
            Some(true)
        } else if q.pause_sent && q.ingress_bytes < xon {
            Some(false)
        } else {
            None
        };
        if let Some(on) = flip {
            q.pause_sent = on;
            // The frame crosses the link back to the sender (its 64 bytes' serialization
            // is neglected).
            let at = sched.now() + q.delay;
            sched.schedule_at(at, NetEvent::Pause(ingress, on));
        }
    }

    fn on_pause<S: Scheduler<NetEvent>>(&mut self, sched: &mut S, port_id: PortId, on: bool) {
        let now = sched.now();
        let port = &mut self.ports[port_id.index()];
        if on == port.paused {
            return;
        }
        port.paused = on;
        if on {
            port.stats.pauses += 1;
            port.paused_since = now;
            return;
        }
        port.stats.paused_ps += now.since(port.paused_since).as_ps();
        if port.in_service.is_none() {
            self.start_next(sched, port_id);
        }
    }

    /// Starts the next waiting packet, unless the port is paused or has none.
    fn start_next<S: Scheduler<NetEvent>>(&mut self, sched: &mut S, port_id: PortId) {
        let now = sched.now();
        let port = &mut self.ports[port_id.index()];
        if port.paused {
            return;
        }
        if !port.queue.is_empty() {
            port.note_queue_change(now); // the area so far counts the packet still waiting
            let (next, ingress) = port.queue.pop_front().expect("checked non-empty");
            let size = self.packets.get(next).size as u64;
            port.queued_bytes -= size;
            if ingress != LOCAL {
                self.note_ingress(sched, PortId(ingress), -(size as i64));
            }
            self.start_tx(sched, port_id, next);
        }
    }

    #[inline]
    fn start_tx<S: Scheduler<NetEvent>>(&mut self, sched: &mut S, port_id: PortId, id: PacketId) {
        let now = sched.now();
        let bits = self.packets.get(id).size as u64 * 8;
        let port = &mut self.ports[port_id.index()];
        // bits ≤ 524 280 (64 KiB frames), so bits·10^12 + residue < 2^64.
        let numerator = bits * 1_000_000_000_000 + port.residue;
        let ser_ps = numerator / port.rate_bps;
        port.residue = numerator % port.rate_bps;
        port.in_service = Some(id);
        port.tx_started = now;
        sched.schedule_at(
            SimTime(now.0.saturating_add(ser_ps)),
            NetEvent::TxDone(port_id),
        );
    }

    fn on_tx_done<S: Scheduler<NetEvent>>(&mut self, sched: &mut S, port_id: PortId) {
        let now = sched.now();
        let port = &mut self.ports[port_id.index()];
        let id = port.in_service.take().expect("TxDone on an idle port");
        let size = self.packets.get(id).size as u64;
        port.stats.tx_packets += 1;
        port.stats.tx_bytes += size;
        port.stats.busy_ps += now.since(port.tx_started).as_ps();
        let mut lost = port.down;
        let mut arrival = now + port.delay;
        if let Some(faults) = port.faults.as_deref_mut() {
            for layer in &mut faults.loss {
                // Every layer steps, even after one has dropped, so each layer's state
                // sequence is independent of the others.
                lost |= layer.drops(&mut faults.rng);
            }
            if !lost && port.jitter_ps > 0 {
                arrival += SimDuration(faults.rng.random_range(0..=port.jitter_ps));
            }
        }
        if lost {
            self.drop_packet(id, DropReason::Loss, Some(port_id));
        } else {
            if !port.reorder {
                // A wire delivers in order: never before the previous packet on it.
                arrival = arrival.max(port.last_arrival);
            }
            port.last_arrival = arrival;
            sched.schedule_at(arrival, NetEvent::Arrive(port_id, id));
        }
        self.start_next(sched, port_id);
    }

    fn drop_packet(&mut self, id: PacketId, reason: DropReason, port: Option<PortId>) {
        let p = self.packets.remove(id);
        self.stats.dropped[reason.index()] += 1;
        self.flows[p.flow.index()].dropped[reason.index()] += 1;
        if let Some(port) = port {
            self.ports[port.index()].stats.dropped[reason.index()] += 1;
        }
    }

    fn record_delivery(&mut self, now: SimTime, p: &Packet) {
        self.stats.delivered += 1;
        let f = &mut self.flows[p.flow.index()];
        f.delivered_packets += 1;
        f.delivered_bytes += p.size as u64;
        f.delay.record(now.since(p.created).as_ps());
        if f.highest_seq_delivered.is_some_and(|h| p.seq < h) {
            f.reordered += 1;
        }
        f.highest_seq_delivered = Some(f.highest_seq_delivered.map_or(p.seq, |h| h.max(p.seq)));
        f.first_delivery.get_or_insert(now);
        f.last_delivery = Some(now);
    }

    /// Applies a scheduled link change. New loss layers on a direction that had none draw
    /// from its usual stream `link/<name>/<ab|ba>`, so the change is reproducible.
    pub fn change_link(&mut self, c: &LinkChange, streams: &RngStreams) {
        for (port_id, dir) in c.link.ports().into_iter().zip(["ab", "ba"]) {
            let name = &self.link_names[c.link.index()];
            let port = &mut self.ports[port_id.index()];
            if let Some(r) = c.rate_bps {
                port.rate_bps = r;
                port.residue = 0;
            }
            if let Some(d) = c.delay {
                port.delay = d;
            }
            if let Some(up) = c.up {
                port.down = !up;
            }
            let loss = if dir == "ba" && c.loss_ba.is_some() {
                &c.loss_ba
            } else {
                &c.loss
            };
            if let Some(loss) = loss {
                let layers: Vec<LossLayer> = loss.iter().map(LossLayer::new).collect();
                match port.faults.as_deref_mut() {
                    Some(f) => f.loss = layers,
                    None => {
                        port.faults = Some(Box::new(PortFaults {
                            loss: layers,
                            rng: streams.stream(&format!("link/{name}/{dir}")),
                        }))
                    }
                }
            }
        }
    }

    /// Splits the network: packets between nodes of different `groups` are dropped at their
    /// next hop (also those already in flight); nodes in no group (switches, bystanders) still
    /// reach everyone. An empty list heals.
    pub fn set_partition(&mut self, groups: &[Vec<NodeId>]) {
        self.partition.clear();
        if groups.is_empty() {
            return;
        }
        self.partition.resize(self.nodes.len(), 0);
        for (k, g) in groups.iter().enumerate() {
            for n in g {
                self.partition[n.index()] = k as u32 + 1;
            }
        }
    }

    /// Closes time integrals at the end of a run.
    pub fn finish(&mut self, now: SimTime) {
        for p in &mut self.ports {
            p.note_queue_change(now);
            if p.paused {
                p.stats.paused_ps += now.since(p.paused_since).as_ps();
                p.paused_since = now;
            }
        }
    }

    /// `injected = delivered + dropped + in flight`, network-wide and per flow.
    pub fn check_conservation(&self) -> Result<(), String> {
        let s = &self.stats;
        if s.injected != s.delivered + s.dropped_total() + self.in_flight() {
            return Err(format!(
                "packet conservation broken: injected {} != delivered {} + dropped {} + in flight {}",
                s.injected,
                s.delivered,
                s.dropped_total(),
                self.in_flight()
            ));
        }
        Ok(())
    }
}
