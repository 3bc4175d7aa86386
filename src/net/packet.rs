//! Packets and the arena that holds them while in flight.
//!
//! Events carry a 4-byte [`PacketId`] rather than the packet, which keeps events small and
//! the arena reuses slots, so forwarding allocates nothing once warm.

use super::ids::{FlowId, NodeId, PacketId};
use crate::engine::SimTime;

/// What a packet carries beyond its header, for the applications that need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Plain data: the network needs nothing beyond the header.
    Data,
    /// An echo request; the destination answers with a reply carrying `sent_at`.
    PingRequest {
        /// When the request was sent.
        sent_at: SimTime,
    },
    /// The answer to a [`Payload::PingRequest`]; RTT = arrival − `sent_at`.
    PingReply {
        /// The `sent_at` of the request being answered.
        sent_at: SimTime,
    },
    /// A transport segment (TCP, RoCE). The network only carries it; the flow's transport
    /// gives the fields their meaning.
    Segment(Segment),
    /// A fragment of an application message (consensus); the sender's owner keeps the
    /// message under `handle` until every fragment has arrived. `generation` tells a late
    /// fragment of a forgotten message from one of the message now in that slot.
    Message {
        /// Slot of the message at the sender's owner.
        handle: u32,
        /// Which use of the slot the message belongs to.
        generation: u32,
    },
}

/// What a transport segment is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentKind {
    /// Carries payload (`seq`, `len`, `ts`).
    Data,
    /// Cumulative acknowledgement (TCP ACK, RoCE ACK).
    Ack,
    /// RoCE negative acknowledgement: `ack` is the next sequence number expected.
    Nack,
    /// RoCEv2 congestion notification packet (DCQCN), receiver to sender.
    Cnp,
    /// Connection request (TCP SYN, RDMA CM REQ): AMST opening a stream mid-transfer.
    Connect,
    /// Its answer (TCP SYN-ACK, RDMA CM REP); `ts_echo` carries the request's `ts`.
    Accept,
}

/// A transport header of fixed layout, so packets stay `Copy` and allocation-free.
///
/// Sequence numbers count segments, not bytes: a bulk transfer is cut into full-size
/// segments (the last may be short), as ns-2's one-way TCP and RoCE's PSNs do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// What the segment is for.
    pub kind: SegmentKind,
    /// Data: this segment's number.
    pub seq: u64,
    /// Ack/Nack: the next segment the receiver expects (cumulative).
    pub ack: u64,
    /// Payload bytes carried (data).
    pub len: u32,
    /// Data: the sender's clock when sent (TCP timestamps option, RFC 7323 TSval).
    pub ts: SimTime,
    /// Ack: the `ts` echoed back (TSecr), for RTT samples that survive retransmission.
    pub ts_echo: SimTime,
    /// Ack: the receiver saw Congestion Experienced (ECN-Echo).
    pub ece: bool,
    /// Ack: number of valid entries in `sack`.
    pub sack_count: u8,
    /// Ack: SACK blocks as `(offset of the first segment above ack, length)`, in segments,
    /// most recent first (RFC 2018).
    pub sack: [(u32, u32); 3],
}

impl Segment {
    /// An all-zero header of the given kind.
    pub fn new(kind: SegmentKind) -> Segment {
        Segment {
            kind,
            seq: 0,
            ack: 0,
            len: 0,
            ts: SimTime::ZERO,
            ts_echo: SimTime::ZERO,
            ece: false,
            sack_count: 0,
            sack: [(0, 0); 3],
        }
    }

    /// SACK blocks as absolute `[start, end)` segment ranges.
    pub fn sack_blocks(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.sack[..self.sack_count as usize]
            .iter()
            .map(|&(off, len)| (self.ack + off as u64, self.ack + off as u64 + len as u64))
    }
}

/// One packet in flight: header fields the network reads plus the payload it carries.
#[derive(Clone, Copy, Debug)]
pub struct Packet {
    /// The flow the packet belongs to.
    pub flow: FlowId,
    /// The node that injected it.
    pub src: NodeId,
    /// The node it is routed to.
    pub dst: NodeId,
    /// Bytes on the wire, headers included.
    pub size: u32,
    /// Per-flow sequence number, from 0.
    pub seq: u64,
    /// When the packet entered the network.
    pub created: SimTime,
    /// Chooses among equal-cost next hops; fixed per flow so a flow keeps one path.
    pub ecmp_hash: u32,
    /// Congestion Experienced: set by a queue above its ECN threshold.
    pub ecn_ce: bool,
    /// What it carries beyond the header.
    pub payload: Payload,
}

/// Slots for in-flight packets with a free list.
#[derive(Default)]
pub struct PacketArena {
    slots: Vec<Packet>,
    free: Vec<u32>,
    live: u64,
}

impl PacketArena {
    /// Stores `p` in a free slot (reused before growing); returns its id.
    #[inline]
    pub fn insert(&mut self, p: Packet) -> PacketId {
        self.live += 1;
        if let Some(i) = self.free.pop() {
            self.slots[i as usize] = p;
            PacketId(i)
        } else {
            self.slots.push(p);
            PacketId((self.slots.len() - 1) as u32)
        }
    }

    /// The packet in slot `id`.
    #[inline]
    pub fn get(&self, id: PacketId) -> &Packet {
        &self.slots[id.index()]
    }

    /// The packet in slot `id`, mutably (e.g. to set ECN CE).
    #[inline]
    pub fn get_mut(&mut self, id: PacketId) -> &mut Packet {
        &mut self.slots[id.index()]
    }

    /// Frees the slot and returns the packet.
    #[inline]
    pub fn remove(&mut self, id: PacketId) -> Packet {
        self.live -= 1;
        self.free.push(id.0);
        self.slots[id.index()]
    }

    /// Packets currently in the network (queued, on a wire or being serialized).
    pub fn live(&self) -> u64 {
        self.live
    }
}
