//! Messages as datagrams: an application message of a real size (a consensus vote, a
//! migration control message) crosses the network as fragments cut to the path MTU, each
//! with [`HEADER_BYTES`] of headers, and is delivered when its last fragment arrives.
//!
//! What is modelled: fragmentation, per-sender flows (one network flow and one ECMP hash per
//! sender, so a sender's messages keep one path), loss (a message is lost if any fragment
//! is). What is left out: retransmission. The protocols that use this recover lost messages
//! themselves (Raft and PBFT retry, clients resend); a model that needs reliability uses a
//! bulk transfer instead. Invariant: a message occupies one slot from its send to its
//! delivery, or until [`FORGET_AFTER`] has passed with a fragment missing; a fragment of a
//! forgotten message never completes the message now in its slot (the slot's generation
//! tells them apart).

#![warn(missing_docs)]

use crate::engine::{Scheduler, SimDuration, SimTime};
use crate::net::{FlowId, NetEvent, Network, NodeId, Packet, Payload};

/// Bytes of headers per datagram: IPv4 (20) and TCP (20), as the TCP links of etcd and
/// BFT-SMaRt would add.
pub const HEADER_BYTES: u32 = 40;
/// Messages whose fragments have not all arrived after this long are forgotten.
pub const FORGET_AFTER: SimDuration = SimDuration::from_secs(60);
/// Sends between sweeps for forgotten messages.
const SWEEP_EVERY: u32 = 4096;

/// A sender registered with the carrier (its own network flow and ECMP hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SenderId(pub u32);

/// A message whose every fragment has arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Who registered the sender (the world's component index).
    pub owner: u32,
    /// The sender's own token for the message (what it is, which slot of its own).
    pub tag: u64,
    /// The sender's node.
    pub from: NodeId,
    /// The node it reached.
    pub to: NodeId,
    /// Message bytes, headers excluded.
    pub bytes: u32,
    /// When its first fragment left.
    pub sent_at: SimTime,
}

struct Sender {
    owner: u32,
    node: NodeId,
    flow: FlowId,
    ecmp_hash: u32,
    /// Sequence number of the next datagram.
    seq: u64,
}

struct InFlight {
    delivery: Delivery,
    fragments: u32,
    received: u32,
}

/// Carries the messages of every sender in a world.
pub struct MessageCarrier {
    /// Largest datagram payload: the smallest MTU minus [`HEADER_BYTES`].
    mtu_payload: u32,
    senders: Vec<Sender>,
    slots: Vec<Option<InFlight>>,
    generations: Vec<u32>,
    free: Vec<u32>,
    sends_since_sweep: u32,
}

impl MessageCarrier {
    /// A carrier for a network whose smallest link MTU is `min_mtu` bytes.
    pub fn new(min_mtu: u32) -> Self {
        MessageCarrier {
            mtu_payload: min_mtu.saturating_sub(HEADER_BYTES).max(1),
            senders: Vec::new(),
            slots: Vec::new(),
            generations: Vec::new(),
            free: Vec::new(),
            sends_since_sweep: 0,
        }
    }

    /// Largest message fragment, in bytes.
    pub fn mtu_payload(&self) -> u32 {
        self.mtu_payload
    }

    /// A sender at `node` with network flow `flow`, its messages delivered to `owner`.
    pub fn add_sender(
        &mut self,
        owner: u32,
        node: NodeId,
        flow: FlowId,
        ecmp_hash: u32,
    ) -> SenderId {
        self.senders.push(Sender {
            owner,
            node,
            flow,
            ecmp_hash,
            seq: 0,
        });
        SenderId((self.senders.len() - 1) as u32)
    }

    /// The node a sender sits on.
    pub fn node_of(&self, sender: SenderId) -> NodeId {
        self.senders[sender.0 as usize].node
    }

    /// Sends `bytes` from `sender` to node `to` now. Returns the delivery at once when the
    /// message stays on its node (every fragment loops back); otherwise
    /// [`MessageCarrier::on_packet`] reports it when the last fragment arrives.
    pub fn send<S: Scheduler<NetEvent>>(
        &mut self,
        sched: &mut S,
        net: &mut Network,
        sender: SenderId,
        to: NodeId,
        bytes: u32,
        tag: u64,
    ) -> Option<Delivery> {
        let now = sched.now();
        self.sends_since_sweep += 1;
        if self.sends_since_sweep >= SWEEP_EVERY {
            self.sends_since_sweep = 0;
            self.forget_stale(now);
        }
        let s = &self.senders[sender.0 as usize];
        let per = self.mtu_payload;
        let frags = bytes.div_ceil(per).max(1);
        let delivery = Delivery {
            owner: s.owner,
            tag,
            from: s.node,
            to,
            bytes,
            sent_at: now,
        };
        let handle = match self.free.pop() {
            Some(h) => {
                self.generations[h as usize] = self.generations[h as usize].wrapping_add(1);
                h
            }
            None => {
                self.slots.push(None);
                self.generations.push(0);
                (self.slots.len() - 1) as u32
            }
        };
        self.slots[handle as usize] = Some(InFlight {
            delivery,
            fragments: frags,
            received: 0,
        });
        let generation = self.generations[handle as usize];
        let mut done = None;
        for k in 0..frags {
            let len = if k + 1 == frags {
                bytes - per * (frags - 1)
            } else {
                per
            };
            let s = &mut self.senders[sender.0 as usize];
            let packet = Packet {
                flow: s.flow,
                src: s.node,
                dst: to,
                size: len + HEADER_BYTES,
                seq: s.seq,
                created: now,
                ecmp_hash: s.ecmp_hash,
                ecn_ce: false,
                payload: Payload::Message { handle, generation },
            };
            s.seq += 1;
            if let Some(local) = net.inject(sched, packet) {
                done = done.or(self.on_packet(&local));
            }
        }
        done
    }

    /// A fragment arrived: the message, if this was its last fragment.
    pub fn on_packet(&mut self, p: &Packet) -> Option<Delivery> {
        let Payload::Message { handle, generation } = p.payload else {
            return None;
        };
        let h = handle as usize;
        if self.generations.get(h) != Some(&generation) {
            return None;
        }
        let m = self.slots[h].as_mut()?;
        m.received += 1;
        if m.received < m.fragments {
            return None;
        }
        let m = self.slots[h].take()?;
        self.free.push(handle);
        Some(m.delivery)
    }

    /// Messages in flight (sent, not yet delivered or forgotten).
    pub fn in_flight(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// Frees messages that lost a fragment long ago.
    fn forget_stale(&mut self, now: SimTime) {
        for (h, slot) in self.slots.iter_mut().enumerate() {
            if let Some(m) = slot {
                if now.since(m.delivery.sent_at.min(now)) > FORGET_AFTER {
                    *slot = None;
                    self.free.push(h as u32);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, RngStreams};
    use crate::net::{Topology, TopologyConfig};

    fn two_nodes(mtu: u32, loss: f64) -> (Network, Engine<NetEvent>) {
        let text = format!(
            r#"
            [[nodes]]
            name = "a"
            [[nodes]]
            name = "b"
            [[links]]
            a = "a"
            b = "b"
            rate = "1Gbps"
            delay = "1ms"
            mtu = {mtu}
            loss = [{{ kind = "bernoulli", p = {loss} }}]
            "#
        );
        let cfg: TopologyConfig = toml::from_str(&text).unwrap();
        let topo = Topology::from_config(&cfg, "t", "test").unwrap();
        let net = Network::new(&topo, &RngStreams::new(1), Default::default(), false);
        (net, Engine::new())
    }

    impl crate::engine::Traced for NetEvent {
        fn trace(&self) -> (u32, u64, u64) {
            (0, 0, 0)
        }
    }

    fn run(
        net: &mut Network,
        engine: &mut Engine<NetEvent>,
        carrier: &mut MessageCarrier,
    ) -> Vec<Delivery> {
        let mut got = Vec::new();
        while let Some(e) = engine.next_event(SimTime::ZERO + SimDuration::from_secs(10)) {
            if let Some(p) = net.on_event(engine, e) {
                got.extend(carrier.on_packet(&p));
            }
        }
        got
    }

    #[test]
    fn a_message_is_cut_to_the_mtu_and_delivered_once_whole() {
        let (mut net, mut engine) = two_nodes(1500, 0.0);
        let mut c = MessageCarrier::new(1500);
        let flow = net.add_flow();
        let s = c.add_sender(7, NodeId(0), flow, 1);
        // 4000 bytes over 1460-byte fragments: ceil(4000 / 1460) = 3 datagrams,
        // 1460 + 1460 + 1080 payload bytes, each with 40 header bytes: 4120 bytes on the wire.
        assert!(c
            .send(&mut engine, &mut net, s, NodeId(1), 4000, 42)
            .is_none());
        let got = run(&mut net, &mut engine, &mut c);
        assert_eq!(got.len(), 1, "one delivery for three fragments");
        assert_eq!((got[0].owner, got[0].tag, got[0].bytes), (7, 42, 4000));
        assert_eq!(net.flows[flow.index()].delivered_packets, 3);
        assert_eq!(net.flows[flow.index()].delivered_bytes, 4000 + 3 * 40);
        assert_eq!(c.in_flight(), 0);
    }

    #[test]
    fn a_local_message_is_delivered_at_once() {
        let (mut net, mut engine) = two_nodes(1500, 0.0);
        let mut c = MessageCarrier::new(1500);
        let flow = net.add_flow();
        let s = c.add_sender(0, NodeId(1), flow, 1);
        let d = c.send(&mut engine, &mut net, s, NodeId(1), 5000, 9);
        assert_eq!(d.map(|d| d.tag), Some(9));
        assert_eq!(c.in_flight(), 0);
    }

    #[test]
    fn a_lost_fragment_loses_the_message_and_its_slot_is_forgotten() {
        let (mut net, mut engine) = two_nodes(1500, 1.0);
        let mut c = MessageCarrier::new(1500);
        let flow = net.add_flow();
        let s = c.add_sender(0, NodeId(0), flow, 1);
        c.send(&mut engine, &mut net, s, NodeId(1), 100, 1);
        assert!(run(&mut net, &mut engine, &mut c).is_empty());
        assert_eq!(c.in_flight(), 1);
        // The sweep runs every 4096 sends and frees what is older than 60 s.
        c.forget_stale(SimTime::ZERO + SimDuration::from_secs(61));
        assert_eq!(c.in_flight(), 0);
    }
}
