//! Packets and the arena that holds them while in flight.
//!
//! Events carry a 4-byte [`PacketId`] rather than the packet, which keeps events small and
//! the arena reuses slots, so forwarding allocates nothing once warm.

use super::ids::{FlowId, NodeId, PacketId};
use crate::engine::SimTime;

/// What a packet carries beyond its header, for the applications that need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    Data,
    /// An echo request; the destination answers with a reply carrying `sent_at`.
    PingRequest {
        sent_at: SimTime,
    },
    PingReply {
        sent_at: SimTime,
    },
}

#[derive(Clone, Copy, Debug)]
pub struct Packet {
    pub flow: FlowId,
    pub src: NodeId,
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

    #[inline]
    pub fn get(&self, id: PacketId) -> &Packet {
        &self.slots[id.index()]
    }

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
