//! The two halves of an RC queue pair: the requester (sender: segmentation, pacing,
//! go-back-N) and the responder (receiver: in-order acceptance, coalesced ACKs, one NAK per
//! sequence gap). Both work in PSNs (packet sequence numbers) counted from 0; the 24-bit
//! wrap of real PSNs is not modelled.

use crate::engine::{SimDuration, SimTime};

/// How a transfer maps onto PSNs: messages of `message_bytes` (the last may be short), each
/// cut into packets of `mtu` payload bytes (the last of each message may be short).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    mtu: u64,
    message_bytes: u64,
    packets_per_message: u64,
    total_bytes: Option<u64>,
    total_packets: Option<u64>,
    /// Application-fed (AMST): packets of the messages posted so far.
    posted_packets: Option<u64>,
}

impl Layout {
    pub fn new(mtu: u32, message_bytes: u64, total_bytes: Option<u64>) -> Layout {
        let mtu = mtu as u64;
        let packets_per_message = message_bytes.div_ceil(mtu);
        let total_packets = total_bytes.map(|total| {
            (total / message_bytes) * packets_per_message + (total % message_bytes).div_ceil(mtu)
        });
        Layout {
            mtu,
            message_bytes,
            packets_per_message,
            total_bytes,
            total_packets,
            posted_packets: None,
        }
    }

    fn packets_for(&self, bytes: u64) -> u64 {
        (bytes / self.message_bytes) * self.packets_per_message
            + (bytes % self.message_bytes).div_ceil(self.mtu)
    }

    /// Makes the transfer application-fed: nothing may be sent until posted.
    pub fn fed(&mut self) {
        self.total_bytes = None;
        self.total_packets = None;
        self.posted_packets = Some(0);
    }

    /// `bytes` in total are posted as whole messages; `last` ends the transfer there (its
    /// final message may be short).
    pub fn post(&mut self, bytes: u64, last: bool) {
        if last {
            self.total_bytes = Some(bytes);
            self.total_packets = Some(self.packets_for(bytes));
            self.posted_packets = self.total_packets;
        } else {
            let whole = bytes / self.message_bytes * self.message_bytes;
            self.posted_packets = Some(self.packets_for(whole));
        }
    }

    /// Payload bytes carried by the packets below `psn`.
    pub fn bytes_before(&self, psn: u64) -> u64 {
        let b = (psn / self.packets_per_message) * self.message_bytes
            + (psn % self.packets_per_message) * self.mtu;
        self.total_bytes.map_or(b, |t| b.min(t))
    }

    /// Packets in the whole transfer (`None`: endless).
    pub fn total_packets(&self) -> Option<u64> {
        self.total_packets
    }

    /// True when `psn` lies beyond the transfer.
    pub fn is_past_end(&self, psn: u64) -> bool {
        self.total_packets.is_some_and(|n| psn >= n)
            || self.posted_packets.is_some_and(|n| psn >= n)
    }

    /// Payload bytes carried by `psn`.
    pub fn payload_len(&self, psn: u64) -> u32 {
        let msg = psn / self.packets_per_message;
        let idx = psn % self.packets_per_message;
        let msg_len = match self.total_bytes {
            Some(total) => self
                .message_bytes
                .min(total.saturating_sub(msg * self.message_bytes)),
            None => self.message_bytes,
        };
        self.mtu.min(msg_len.saturating_sub(idx * self.mtu)) as u32
    }

    /// `psn` is the first packet of a message.
    pub fn is_message_start(&self, psn: u64) -> bool {
        psn.is_multiple_of(self.packets_per_message)
    }

    /// `psn` is the last packet of a message (RoCE's "Last"/"Only" opcodes).
    pub fn is_message_end(&self, psn: u64) -> bool {
        (psn + 1).is_multiple_of(self.packets_per_message) || self.total_packets == Some(psn + 1)
    }
}

/// Serialization time of `bits` at `rate_bps`, rounded up to whole picoseconds so pacing
/// never exceeds the rate.
pub(crate) fn tx_time(bits: u64, rate_bps: u64) -> SimDuration {
    let ps = (bits as u128 * 1_000_000_000_000).div_ceil(rate_bps.max(1) as u128);
    SimDuration::from_ps(ps.min(u64::MAX as u128) as u64)
}

/// Requester counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequesterStats {
    /// Data packets sent, first transmissions and retransmissions.
    pub data_packets: u64,
    /// Data packets sent again (PSN below the highest already sent).
    pub retransmitted: u64,
    /// Local ACK timeouts that sent the requester back.
    pub timeouts: u64,
    /// NAKs that sent the requester back.
    pub nacks_received: u64,
    /// Positive ACKs received.
    pub acks_received: u64,
}

/// The sending half: go-back-N over a paced packet stream.
#[derive(Clone, Debug)]
pub(crate) struct Requester {
    /// Oldest unacknowledged PSN.
    una: u64,
    /// Next PSN to send (moves back on NAK or timeout).
    nxt: u64,
    /// One above the highest PSN ever sent.
    max: u64,
    window: u64,
    rto: SimDuration,
    rto_at: Option<SimTime>,
    /// The responder's ACK coalescing ([`super::RdmaConfig::ack_every`]): every this many
    /// packets, and a message's last, ask for an acknowledgement.
    ack_every: u64,
    /// Packets sent since the last one that asked for an acknowledgement (rxe's
    /// `noack_pkts`).
    since_ack_req: u64,
    /// The highest PSN sent that asked for an acknowledgement.
    ack_req_max: Option<u64>,
    per_message_cost: SimDuration,
    /// The last transmission: when, and its wire bits (pacing is computed from it lazily, at
    /// the current rate).
    last_tx: Option<(SimTime, u64)>,
    /// When the requester may first send (the connection's start).
    ready_at: Option<SimTime>,
    stats: RequesterStats,
}

/// What the requester hands to the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DataTx {
    pub psn: u64,
    pub len: u32,
}

impl Requester {
    pub fn new(
        window: u32,
        rto: SimDuration,
        per_message_cost: SimDuration,
        ack_every: u32,
    ) -> Requester {
        Requester {
            una: 0,
            nxt: 0,
            max: 0,
            window: window as u64,
            rto,
            rto_at: None,
            ack_every: ack_every.max(1) as u64,
            since_ack_req: 0,
            ack_req_max: None,
            per_message_cost,
            last_tx: None,
            ready_at: None,
            stats: RequesterStats::default(),
        }
    }

    pub fn start(&mut self, now: SimTime) {
        self.ready_at = Some(now);
    }

    pub fn stats(&self) -> RequesterStats {
        self.stats
    }

    /// Every packet of a finite transfer is acknowledged.
    pub fn is_done(&self, layout: &Layout) -> bool {
        layout.total_packets() == Some(self.una)
    }

    /// Packets sent and not yet acknowledged (counting from the oldest).
    pub fn in_flight(&self) -> u64 {
        self.max - self.una
    }

    /// One above the highest PSN sent so far.
    pub fn highest_sent(&self) -> u64 {
        self.max
    }

    /// When the next data packet may leave, or `None` if none may (window full, all sent,
    /// not started).
    pub fn send_deadline(&self, layout: &Layout, rate_bps: u64) -> Option<SimTime> {
        let ready = self.ready_at?;
        if layout.is_past_end(self.nxt) || self.nxt >= self.una + self.window {
            return None;
        }
        let base = match self.last_tx {
            Some((at, bits)) => at + tx_time(bits, rate_bps),
            None => ready,
        };
        // A message's first transmission waits for the NIC's per-message work.
        let cost = if self.nxt == self.max && layout.is_message_start(self.nxt) {
            self.per_message_cost
        } else {
            SimDuration::ZERO
        };
        Some(base + cost)
    }

    /// Sends the next packet now (the caller checked [`Requester::send_deadline`]).
    ///
    /// The local ACK timer starts (if it is not running) with a packet that asks for an
    /// acknowledgement (the BTH AckReq bit): a message's last packet, every `ack_every`-th
    /// packet, and the one that fills the window, so a requester never stalls without a
    /// timer. The first two are the packets the responder acknowledges when nothing is lost
    /// (its own count, see [`Responder`]). The packets in between ask for nothing, and
    /// waiting for them is not waiting for an ACK:
    /// Linux's rdmavt drivers start the retry timer "after a packet requesting an ACK has
    /// been sent" (`hfi1_rc_send_complete`, `qib_rc_send_complete`). Started from the first
    /// packet instead, the timer expires before any ACK is owed whenever `ack_every` packets
    /// take longer than the timeout to send (a queue pair paced at a small share of its port).
    pub fn transmit(&mut self, now: SimTime, layout: &Layout) -> DataTx {
        let psn = self.nxt;
        let len = layout.payload_len(psn);
        let wire_bits = (len as u64 + super::config::ROCE_OVERHEAD_BYTES as u64) * 8;
        if psn < self.max {
            self.stats.retransmitted += 1;
        }
        self.stats.data_packets += 1;
        self.nxt += 1;
        self.max = self.max.max(self.nxt);
        self.last_tx = Some((now, wire_bits));
        self.since_ack_req += 1;
        let ack_req = layout.is_message_end(psn)
            || self.since_ack_req >= self.ack_every
            || self.nxt >= self.una + self.window;
        if ack_req {
            self.since_ack_req = 0;
            self.ack_req_max = Some(self.ack_req_max.map_or(psn, |p| p.max(psn)));
            if self.rto_at.is_none() {
                self.rto_at = Some(now + self.rto);
            }
        }
        DataTx { psn, len }
    }

    /// A packet at or above the oldest unacknowledged one asked for an acknowledgement.
    fn awaits_ack(&self) -> bool {
        self.ack_req_max.is_some_and(|p| p >= self.una)
    }

    /// Cumulative acknowledgement of every PSN below `ack`.
    pub fn on_ack(&mut self, now: SimTime, ack: u64) {
        self.stats.acks_received += 1;
        self.advance(now, ack);
    }

    /// NAK (PSN sequence error): everything below `expected` arrived, resend from it.
    pub fn on_nack(&mut self, now: SimTime, expected: u64) {
        if expected < self.una {
            return; // stale: a later ACK already covered it
        }
        self.stats.nacks_received += 1;
        self.advance(now, expected);
        self.nxt = expected;
        self.rto_at = if self.una < self.max {
            Some(now + self.rto)
        } else {
            None
        };
    }

    fn advance(&mut self, now: SimTime, ack: u64) {
        assert!(
            ack <= self.max,
            "RoCE ACK/NAK for PSN {ack} beyond the highest sent {} at {now}",
            self.max
        );
        if ack > self.una {
            self.una = ack;
            self.nxt = self.nxt.max(ack);
            // Progress restarts the local ACK timer while a packet that asked for an ACK is
            // outstanding; otherwise the next such packet starts it.
            self.rto_at = if self.una < self.max && self.awaits_ack() {
                Some(now + self.rto)
            } else {
                None
            };
        }
    }

    /// Handles the local ACK timeout if it is due (early calls do nothing).
    pub fn on_timer(&mut self, now: SimTime) {
        if let Some(at) = self.rto_at {
            if at <= now {
                if self.una < self.max {
                    self.stats.timeouts += 1;
                    self.nxt = self.una;
                    self.rto_at = Some(now + self.rto);
                } else {
                    self.rto_at = None;
                }
            }
        }
    }

    pub fn rto_at(&self) -> Option<SimTime> {
        self.rto_at
    }
}

/// Responder counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResponderStats {
    /// Payload bytes accepted in order (goodput).
    pub delivered_bytes: u64,
    /// Packets accepted in order.
    pub delivered_packets: u64,
    /// Packets above the expected PSN, dropped.
    pub out_of_order_dropped: u64,
    /// Packets below the expected PSN (already delivered), dropped and re-acknowledged.
    pub duplicates: u64,
    /// ACKs sent.
    pub acks_sent: u64,
    /// NAKs sent.
    pub nacks_sent: u64,
}

/// What the responder answers a data packet with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    Nothing,
    /// Cumulative ACK: the next expected PSN.
    Ack(u64),
    /// NAK sequence error: the next expected PSN.
    Nack(u64),
}

/// The receiving half: accepts exactly the expected PSN.
#[derive(Clone, Debug)]
pub(crate) struct Responder {
    expected: u64,
    /// A NAK went out for the current gap; no more until the expected PSN arrives.
    nak_sent: bool,
    since_ack: u32,
    ack_every: u32,
    last_delivery: Option<SimTime>,
    stats: ResponderStats,
}

impl Responder {
    pub fn new(ack_every: u32) -> Responder {
        Responder {
            expected: 0,
            nak_sent: false,
            since_ack: 0,
            ack_every: ack_every.max(1),
            last_delivery: None,
            stats: ResponderStats::default(),
        }
    }

    pub fn stats(&self) -> ResponderStats {
        self.stats
    }

    /// Next PSN expected.
    pub fn expected(&self) -> u64 {
        self.expected
    }

    /// When the last in-order byte arrived.
    pub fn last_delivery(&self) -> Option<SimTime> {
        self.last_delivery
    }

    pub fn on_data(&mut self, now: SimTime, psn: u64, len: u32, layout: &Layout) -> Reply {
        use std::cmp::Ordering::*;
        match psn.cmp(&self.expected) {
            Equal => {
                self.expected += 1;
                self.nak_sent = false;
                self.stats.delivered_bytes += len as u64;
                self.stats.delivered_packets += 1;
                self.last_delivery = Some(now);
                self.count_toward_ack(layout.is_message_end(psn))
            }
            Greater => {
                self.stats.out_of_order_dropped += 1;
                if self.nak_sent {
                    Reply::Nothing
                } else {
                    self.nak_sent = true;
                    self.since_ack = 0;
                    self.stats.nacks_sent += 1;
                    Reply::Nack(self.expected)
                }
            }
            Less => {
                // A go-back resent what already arrived (a lost ACK or an early timeout):
                // acknowledge again so the requester moves on.
                self.stats.duplicates += 1;
                self.count_toward_ack(layout.is_message_end(psn))
            }
        }
    }

    fn count_toward_ack(&mut self, message_end: bool) -> Reply {
        self.since_ack += 1;
        if self.since_ack >= self.ack_every || message_end {
            self.since_ack = 0;
            self.stats.acks_sent += 1;
            Reply::Ack(self.expected)
        } else {
            Reply::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_cuts_messages_and_the_tail() {
        // 1 000 000 B in 65 536 B messages of 1024 B packets: 15 full messages of 64 packets
        // (983 040 B), then 16 960 B = 16 full packets + 576 B: 977 packets.
        let l = Layout::new(1024, 65_536, Some(1_000_000));
        assert_eq!(l.total_packets(), Some(977));
        let sum: u64 = (0..977).map(|p| l.payload_len(p) as u64).sum();
        assert_eq!(sum, 1_000_000);
        assert_eq!(l.payload_len(976), 576);
        assert!(l.is_message_start(960) && l.is_message_end(959) && l.is_message_end(976));
        assert!(!l.is_message_end(975));
        // A message that is not a multiple of the MTU ends in a short packet.
        let l = Layout::new(1000, 2500, None);
        let lens: Vec<u32> = (0..6).map(|p| l.payload_len(p)).collect();
        assert_eq!(lens, vec![1000, 1000, 500, 1000, 1000, 500]);
        assert!(l.is_message_end(2) && l.is_message_start(3) && !l.is_past_end(1 << 40));
    }

    #[test]
    fn tx_time_rounds_up() {
        // 1086 B at 40 Gb/s: 8688 bits / 4e10 = 217.2 ns exactly.
        assert_eq!(tx_time(8688, 40_000_000_000), SimDuration::from_ps(217_200));
        // 1 bit at 3 bit/s = 333 333 333 333.33 ps → 333 333 333 334.
        assert_eq!(tx_time(1, 3), SimDuration::from_ps(333_333_333_334));
    }

    #[test]
    fn responder_naks_once_per_gap() {
        let l = Layout::new(1000, 1_000_000, None);
        let mut r = Responder::new(4);
        let t = SimTime::ZERO;
        assert_eq!(r.on_data(t, 0, 1000, &l), Reply::Nothing);
        assert_eq!(r.on_data(t, 2, 1000, &l), Reply::Nack(1));
        assert_eq!(
            r.on_data(t, 3, 1000, &l),
            Reply::Nothing,
            "same gap: no second NAK"
        );
        assert_eq!(
            r.on_data(t, 1, 1000, &l),
            Reply::Nothing,
            "1 of 4 since the NAK"
        );
        assert_eq!(
            r.on_data(t, 3, 1000, &l),
            Reply::Nack(2),
            "a new gap: a new NAK"
        );
        let s = r.stats();
        assert_eq!((s.out_of_order_dropped, s.nacks_sent), (3, 2));
        assert_eq!(s.delivered_bytes, 2000);
    }
}
