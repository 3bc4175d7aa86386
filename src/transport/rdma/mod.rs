//! RoCEv2 reliable connection (RC): one queue pair carrying a stream of messages from
//! `ends.src` to `ends.dst`, with go-back-N loss recovery and, optionally, DCQCN rate control.
//!
//! What is modelled:
//! - **Segmentation**: messages of [`RdmaConfig::message_bytes`] cut into packets of
//!   [`RdmaConfig::mtu_payload`] bytes; each packet is `payload + 62` bytes on the wire
//!   ([`ROCE_OVERHEAD_BYTES`]). PSNs (`Segment.seq`) count packets from 0.
//! - **Pacing**: the requester sends one packet at a time, the next no earlier than the last
//!   plus its wire bits over the current rate (line rate, or DCQCN's `R_C`). The first
//!   transmission of each message also waits [`RdmaConfig::per_message_cost`].
//! - **Go-back-N** (RoCE NICs without selective repeat): the responder accepts only the
//!   expected PSN, drops everything above it and sends one NAK (`SegmentKind::Nack`, `ack` =
//!   expected PSN) per gap; the requester resends everything from the NAK's PSN. With no
//!   ACK progress for [`RdmaConfig::retransmit_timeout`] it resends from the oldest
//!   unacknowledged PSN. ACKs are cumulative and coalesced ([`RdmaConfig::ack_every`]).
//!   The local ACK timer runs from a packet that asks for an acknowledgement (AckReq: a
//!   message's last packet, every `ack_every`-th, the one that fills the window), as
//!   Linux's rdmavt drivers start it; packets in between owe no ACK, so a queue pair paced
//!   at a small share of its port does not time out between ACKs it was never owed.
//! - **DCQCN** ([`dcqcn`]): ECN-marked data packets make the responder's notification
//!   point send CNPs (`SegmentKind::Cnp`, at most one per 50 µs); the requester's reaction
//!   point cuts and recovers the rate.
//!
//! Left out: PFC (pause frames live in the network layer, if anywhere; nothing here reacts
//! to them), ECN marking itself (the network's queues set `ecn_ce`), selective repeat /
//! IRN, READ and atomic operations (the stream is one-way, WRITE/SEND-like), receiver-not-
//! ready NAKs, the retry counter that moves a QP to the error state, timeout backoff, the
//! 24-bit PSN wrap, NIC caches and PCIe. Retransmissions pay no per-message cost. The
//! AckReq bit is not carried: the responder counts packets itself, which picks the packets
//! the requester asked about whenever nothing is lost or reordered.
//!
//! Invariants: `una ≤ nxt ≤ max` over PSNs (oldest unacknowledged, next to send, one above
//! the highest sent); the responder delivers each PSN once and in order; after
//! [`Transport::on_timer`] the next deadline lies strictly in the future, so a world that
//! calls back at [`Transport::poll_at`] always makes progress. Determinism: integer time and
//! rates, no randomness, no hashed collections; the only floating point is DCQCN's α.
//!
//! Both ends live in one [`RdmaConnection`]: packets of `ends.data_flow` reach the responder
//! at `ends.dst`, packets of `ends.ack_flow` (ACK, NAK, CNP) reach the requester at
//! `ends.src`.

mod config;
pub mod dcqcn;
mod qp;
#[cfg(test)]
mod tests;

pub use config::{
    RdmaConfig, RdmaConfigError, ACK_WIRE_BYTES, CNP_WIRE_BYTES, ROCE_OVERHEAD_BYTES,
};
pub use dcqcn::{DcqcnConfig, NotificationPoint, ReactionPoint, RpStats, Stage};
pub use qp::{RequesterStats, ResponderStats};

use super::{Ends, Metric, Outbox, Transport};
use crate::engine::{SimDuration, SimTime};
use crate::net::{Packet, Payload, Segment, SegmentKind};
use qp::{Layout, Reply, Requester, Responder};

/// One RoCEv2 RC queue pair, requester and responder together.
#[derive(Clone, Debug)]
pub struct RdmaConnection {
    ends: Ends,
    start: SimTime,
    started: bool,
    line_bps: u64,
    layout: Layout,
    req: Requester,
    resp: Responder,
    rp: Option<ReactionPoint>,
    np: Option<NotificationPoint>,
    /// Per-flow transmission counters (`Packet.seq`).
    data_seq: u64,
    ack_seq: u64,
    cnps_sent: u64,
    cnps_received: u64,
    /// Application-fed: bytes posted so far.
    offered: u64,
    /// The previous [`Transport::sample`]: when, and the bytes delivered by then.
    last_sample: Option<(SimTime, u64)>,
    /// Smoothed RTT from ACK/NAK timestamp echoes (EWMA gain 1/8 as RFC 6298's SRTT), for
    /// AMST's mode detector; NICs time their own ACKs the same way for congestion control.
    srtt: Option<SimDuration>,
}

impl RdmaConnection {
    /// A queue pair that opens at `start` (completion time is measured from it).
    ///
    /// Panics if `cfg` fails [`RdmaConfig::validate`]; scenario builders validate first and
    /// report the error.
    pub fn new(cfg: RdmaConfig, ends: Ends, start: SimTime) -> RdmaConnection {
        if let Err(e) = cfg.validate() {
            panic!("RDMA flow {:?}: {e}", ends.data_flow);
        }
        RdmaConnection {
            ends,
            start,
            started: false,
            line_bps: cfg.line_rate_bps,
            layout: Layout::new(cfg.mtu_payload, cfg.message_bytes, cfg.total_bytes),
            req: Requester::new(
                cfg.window_packets,
                cfg.retransmit_timeout,
                cfg.per_message_cost,
                cfg.ack_every,
            ),
            resp: Responder::new(cfg.ack_every),
            rp: cfg.dcqcn.map(|d| ReactionPoint::new(d, cfg.line_rate_bps)),
            np: cfg.dcqcn.map(|d| NotificationPoint::new(d.cnp_interval)),
            data_seq: 0,
            ack_seq: 0,
            cnps_sent: 0,
            cnps_received: 0,
            offered: 0,
            last_sample: None,
            srtt: None,
        }
    }

    /// Makes this queue pair application-fed (AMST): it sends only posted messages.
    pub fn fed(mut self) -> Self {
        self.layout.fed();
        self.offered = 0;
        self
    }

    /// Posts `bytes` more (whole messages unless `last`, which ends the transfer).
    pub fn offer(&mut self, bytes: u64, last: bool) {
        self.offered += bytes;
        self.layout.post(self.offered, last);
    }

    /// Bytes offered to the queue pair so far.
    pub fn offered(&self) -> u64 {
        self.offered
    }

    /// Whether the transfer's end is known (the last message has been posted).
    pub fn closed(&self) -> bool {
        self.layout.total_packets().is_some()
    }

    /// Posted bytes not yet sent once.
    pub fn unsent_bytes(&self) -> u64 {
        self.offered
            .saturating_sub(self.layout.bytes_before(self.req.highest_sent()))
    }

    /// Bytes delivered in order at the responder.
    pub fn goodput_bytes(&self) -> u64 {
        self.layout
            .bytes_before(self.resp.expected())
            .min(self.offered)
    }

    /// Sends now if pacing allows (after an offer).
    pub fn kick(&mut self, now: SimTime, out: &mut Outbox) {
        if self.started {
            self.try_transmit(now, out);
        }
    }

    /// The requester's current sending rate, bit/s.
    pub fn rate_bps(&self) -> u64 {
        self.rp.as_ref().map_or(self.line_bps, |rp| rp.rate_bps())
    }

    /// Smoothed round-trip time, once an ACK or NAK has echoed a timestamp.
    pub fn srtt(&self) -> Option<SimDuration> {
        self.srtt
    }

    fn note_rtt(&mut self, now: SimTime, echo: SimTime) {
        if echo == SimTime::ZERO || echo > now {
            return;
        }
        let sample = now.since(echo);
        self.srtt = Some(match self.srtt {
            None => sample,
            Some(s) => SimDuration((s.0 * 7 + sample.0) / 8),
        });
    }

    /// The DCQCN reaction point, if rate control is on.
    pub fn reaction_point(&self) -> Option<&ReactionPoint> {
        self.rp.as_ref()
    }

    /// The sending side's counters.
    pub fn requester_stats(&self) -> RequesterStats {
        self.req.stats()
    }

    /// The receiving side's counters.
    pub fn responder_stats(&self) -> ResponderStats {
        self.resp.stats()
    }

    /// One above the highest PSN sent so far.
    pub fn highest_sent(&self) -> u64 {
        self.req.highest_sent()
    }

    /// CNPs sent by the responder and received by the requester.
    pub fn cnps(&self) -> (u64, u64) {
        (self.cnps_sent, self.cnps_received)
    }

    /// When the last byte of a finite transfer was delivered in order.
    pub fn completed_at(&self) -> Option<SimTime> {
        let total = self.layout.total_packets()?;
        if self.resp.expected() >= total {
            Some(self.resp.last_delivery().unwrap_or(self.start))
        } else {
            None
        }
    }

    fn done(&self) -> bool {
        self.req.is_done(&self.layout)
    }

    /// Sends the next data packet if pacing allows it now.
    fn try_transmit(&mut self, now: SimTime, out: &mut Outbox) {
        let rate = self.rate_bps();
        match self.req.send_deadline(&self.layout, rate) {
            Some(at) if at <= now => {}
            _ => return,
        }
        let tx = self.req.transmit(now, &self.layout);
        let size = tx.len + ROCE_OVERHEAD_BYTES;
        let mut seg = Segment::new(SegmentKind::Data);
        seg.seq = tx.psn;
        seg.len = tx.len;
        seg.ts = now;
        out.push(Packet {
            flow: self.ends.data_flow,
            src: self.ends.src,
            dst: self.ends.dst,
            size,
            seq: self.data_seq,
            created: now,
            ecmp_hash: self.ends.ecmp_hash,
            ecn_ce: false,
            payload: Payload::Segment(seg),
        });
        self.data_seq += 1;
        if let Some(rp) = &mut self.rp {
            rp.on_bytes_sent(size as u64);
        }
    }

    /// Pushes a responder → requester packet (ACK, NAK or CNP).
    fn feedback(
        &mut self,
        now: SimTime,
        kind: SegmentKind,
        ack: u64,
        echo: SimTime,
        out: &mut Outbox,
    ) {
        let mut seg = Segment::new(kind);
        seg.ack = ack;
        seg.ts = now;
        seg.ts_echo = echo;
        let size = if kind == SegmentKind::Cnp {
            CNP_WIRE_BYTES
        } else {
            ACK_WIRE_BYTES
        };
        out.push(Packet {
            flow: self.ends.ack_flow,
            src: self.ends.dst,
            dst: self.ends.src,
            size,
            seq: self.ack_seq,
            created: now,
            ecmp_hash: self.ends.ecmp_hash,
            ecn_ce: false,
            payload: Payload::Segment(seg),
        });
        self.ack_seq += 1;
    }

    fn send_cnp(&mut self, now: SimTime, out: &mut Outbox) {
        self.cnps_sent += 1;
        let expected = self.resp.expected();
        self.feedback(now, SegmentKind::Cnp, expected, SimTime::ZERO, out);
    }
}

impl Transport for RdmaConnection {
    fn on_start(&mut self, now: SimTime, out: &mut Outbox) {
        self.started = true;
        self.req.start(now);
        self.try_transmit(now, out);
    }

    fn on_packet(&mut self, now: SimTime, packet: &Packet, out: &mut Outbox) {
        let Payload::Segment(seg) = packet.payload else {
            panic!(
                "RDMA flow {:?} got a non-segment packet {packet:?} at {now}",
                self.ends.data_flow
            );
        };
        if packet.flow == self.ends.data_flow {
            assert_eq!(
                seg.kind,
                SegmentKind::Data,
                "RDMA data flow {:?} carried {:?} at {now}",
                packet.flow,
                seg.kind
            );
            match self.resp.on_data(now, seg.seq, seg.len, &self.layout) {
                Reply::Nothing => {}
                Reply::Ack(a) => self.feedback(now, SegmentKind::Ack, a, seg.ts, out),
                Reply::Nack(e) => self.feedback(now, SegmentKind::Nack, e, seg.ts, out),
            }
            if packet.ecn_ce {
                if let Some(np) = &mut self.np {
                    if np.on_marked(now) {
                        self.send_cnp(now, out);
                    }
                }
            }
        } else if packet.flow == self.ends.ack_flow {
            match seg.kind {
                SegmentKind::Ack => {
                    self.note_rtt(now, seg.ts_echo);
                    self.req.on_ack(now, seg.ack)
                }
                SegmentKind::Nack => {
                    self.note_rtt(now, seg.ts_echo);
                    self.req.on_nack(now, seg.ack)
                }
                SegmentKind::Cnp => {
                    self.cnps_received += 1;
                    if let Some(rp) = &mut self.rp {
                        rp.on_cnp(now);
                    }
                }
                SegmentKind::Data | SegmentKind::Connect | SegmentKind::Accept => {
                    panic!(
                        "RDMA feedback flow {:?} carried {:?} at {now}",
                        packet.flow, seg.kind
                    )
                }
            }
            self.try_transmit(now, out);
        } else {
            panic!(
                "packet of flow {:?} handed to the RDMA connection of flows {:?}/{:?} at {now}",
                packet.flow, self.ends.data_flow, self.ends.ack_flow
            );
        }
    }

    fn on_timer(&mut self, now: SimTime, out: &mut Outbox) {
        if !self.started || self.done() {
            return;
        }
        self.req.on_timer(now);
        if let Some(rp) = &mut self.rp {
            rp.on_timer(now);
        }
        if self.np.as_mut().is_some_and(|np| np.on_timer(now)) {
            self.send_cnp(now, out);
        }
        self.try_transmit(now, out);
    }

    fn poll_at(&self) -> Option<SimTime> {
        if !self.started || self.done() {
            return None;
        }
        [
            self.req.send_deadline(&self.layout, self.rate_bps()),
            self.req.rto_at(),
            self.rp.as_ref().and_then(|rp| rp.poll_at()),
            self.np.as_ref().and_then(|np| np.poll_at()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn sample(&mut self, now: SimTime, out: &mut Vec<Metric>) {
        out.push(("rate", self.rate_bps() as f64, "bit/s"));
        let delivered = self.resp.stats().delivered_bytes;
        if let Some((t, bytes)) = self.last_sample {
            if now > t {
                let bits = (delivered - bytes) as f64 * 8.0;
                out.push(("goodput", bits / now.since(t).as_secs_f64(), "bit/s"));
            }
        }
        self.last_sample = Some((now, delivered));
        if let Some(rp) = &self.rp {
            out.push(("target_rate", rp.target_bps() as f64, "bit/s"));
            out.push(("alpha", rp.alpha(now), "fraction"));
        }
        out.push(("in_flight", self.req.in_flight() as f64, "packets"));
        out.push(("delivered_bytes", delivered as f64, "bytes"));
    }

    fn report(&self, now: SimTime, out: &mut Vec<Metric>) {
        let req = self.req.stats();
        let resp = self.resp.stats();
        out.push(("goodput_bytes", resp.delivered_bytes as f64, "bytes"));
        // Over the connection's active time: until completion, else the end of the run.
        let end = self.completed_at().unwrap_or(now);
        let active = end.since(self.start.min(end)).as_secs_f64();
        if active > 0.0 {
            out.push((
                "goodput",
                resp.delivered_bytes as f64 * 8.0 / active,
                "bit/s",
            ));
        }
        out.push(("data_packets_sent", req.data_packets as f64, "packets"));
        out.push(("retransmitted_packets", req.retransmitted as f64, "packets"));
        out.push(("nacks", resp.nacks_sent as f64, "packets"));
        out.push(("acks", resp.acks_sent as f64, "packets"));
        out.push(("cnps", self.cnps_sent as f64, "packets"));
        out.push(("timeouts", req.timeouts as f64, "events"));
        out.push((
            "out_of_order_dropped",
            resp.out_of_order_dropped as f64,
            "packets",
        ));
        out.push(("duplicate_packets", resp.duplicates as f64, "packets"));
        if let Some(done) = self.completed_at() {
            out.push(("completion_time", done.since(self.start).as_secs_f64(), "s"));
        }
        out.push(("final_rate", self.rate_bps() as f64, "bit/s"));
    }
}
