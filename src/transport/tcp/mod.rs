//! Packet-level TCP: a reliable stream of MSS-sized segments with slow start, congestion
//! avoidance, NewReno or SACK loss recovery, RFC 6298 retransmission timeouts, delayed ACKs
//! and a receive window; congestion control is pluggable (NewReno, CUBIC, BBR v1).
//!
//! Left out: the handshake and teardown (a connection starts established), Nagle, window
//! scaling negotiation (the window is simply large enough), PRR, RACK-TLP and tail-loss
//! probes (so a lost retransmission is repaired only by the RTO). CUBIC has Linux's HyStart;
//! NewReno, as in Linux, has none. Sequence numbers count segments; the application always has data
//! (bulk) or a fixed number of bytes (finite transfer) and reads instantly.

pub mod congestion;
pub mod receiver;
pub mod rtt;
pub mod sender;

use crate::engine::{SimDuration, SimTime};
use crate::net::{Packet, Payload, SegmentKind};
use crate::transport::{Ends, Metric, Outbox, Transport};
pub use congestion::CcKind;
use congestion::CongestionControl;
pub use receiver::TcpReceiver;
pub use rtt::RtoRule;
pub use sender::TcpSender;

/// Wire overhead of a data segment: IPv4 (20) + TCP (20) + timestamps option (12), as Linux
/// sends by default; an MTU of 1500 then leaves an MSS of 1448.
pub const HEADER_BYTES: u32 = 52;

/// Parameters of one TCP connection. Defaults follow Linux where RFCs leave a choice.
#[derive(Clone, Debug, PartialEq)]
pub struct TcpConfig {
    /// Congestion control algorithm.
    pub cc: CcKind,
    /// Payload bytes per full segment.
    pub mss: u32,
    /// Header bytes per segment on the wire.
    pub header_bytes: u32,
    /// Initial window, segments (RFC 6928: 10).
    pub initial_window: u64,
    /// How `min_rto` bounds the RTO (Linux by default, or RFC 6298).
    pub rto_rule: RtoRule,
    /// Lower bound of the RTO (Linux TCP_RTO_MIN 200 ms; RFC 6298 says 1 s).
    pub min_rto: SimDuration,
    /// Upper bound of the RTO (RFC 6298 §2.5 allows ≥ 60 s; Linux TCP_RTO_MAX is 120 s).
    pub max_rto: SimDuration,
    /// RTO before the first RTT sample (RFC 6298 §2.1: 1 s).
    pub initial_rto: SimDuration,
    /// Acknowledge every `ack_every`-th in-order segment (RFC 5681 §4.2: every second).
    pub delayed_ack: bool,
    /// Segments per delayed ACK.
    pub ack_every: u32,
    /// The delayed-ACK timer (Linux TCP_DELACK_MIN 40 ms; RFC 5681 allows up to 500 ms).
    pub delack_timeout: SimDuration,
    /// Receive window, bytes (Linux `tcp_rmem[2]` default 6 MiB).
    pub rwnd_bytes: u64,
    /// Selective acknowledgements (RFC 2018, RFC 6675 recovery); NewReno when off.
    pub sack: bool,
    /// Duplicate ACKs (or SACKed segments above a hole) that signal a loss (RFC 5681: 3).
    pub dupthresh: u32,
    /// Bytes to transfer, or `None` for a bulk sender that always has data.
    pub bytes: Option<u64>,
}

impl TcpConfig {
    /// Linux-like defaults for a path MTU of `mtu` bytes.
    pub fn for_mtu(mtu: u32, cc: CcKind) -> TcpConfig {
        TcpConfig {
            cc,
            mss: mtu.saturating_sub(HEADER_BYTES).max(1),
            header_bytes: HEADER_BYTES,
            initial_window: 10,
            rto_rule: RtoRule::Linux,
            min_rto: SimDuration::from_millis(200),
            max_rto: SimDuration::from_secs(120),
            initial_rto: SimDuration::from_secs(1),
            delayed_ack: true,
            ack_every: 2,
            delack_timeout: SimDuration::from_millis(40),
            rwnd_bytes: 6 << 20,
            sack: true,
            dupthresh: 3,
            bytes: None,
        }
    }

    /// Receive window in whole segments (`rwnd_bytes / mss`).
    pub fn rwnd_segments(&self) -> u64 {
        self.rwnd_bytes / self.mss.max(1) as u64
    }
}

/// One TCP connection: the sender at `ends.src`, the receiver at `ends.dst`.
#[derive(Clone, Debug)]
pub struct TcpConnection {
    ends: Ends,
    /// The data-sending half.
    pub sender: TcpSender,
    /// The acknowledging half.
    pub receiver: TcpReceiver,
    mss: u32,
    bytes: Option<u64>,
    ack_bytes: u32,
    ack_seq: u64,
    start: SimTime,
    /// Goodput bytes and time at the previous time-series sample.
    last_sample: (u64, SimTime),
}

impl TcpConnection {
    /// A connection that starts sending at `start`.
    pub fn new(cfg: &TcpConfig, ends: Ends, start: SimTime) -> TcpConnection {
        let total = cfg.bytes.map(|b| b.div_ceil(cfg.mss as u64));
        TcpConnection {
            ends,
            sender: TcpSender::new(cfg, ends),
            receiver: TcpReceiver::new(
                cfg.delayed_ack,
                cfg.ack_every,
                cfg.delack_timeout,
                cfg.sack,
                total,
            ),
            mss: cfg.mss,
            bytes: cfg.bytes,
            ack_bytes: cfg.header_bytes,
            ack_seq: 0,
            start,
            last_sample: (0, start),
        }
    }

    /// Application bytes delivered in order at the receiver.
    pub fn goodput_bytes(&self) -> u64 {
        let b = self.receiver.delivered_segments() * self.mss as u64;
        self.bytes.map_or(b, |t| b.min(t))
    }

    fn send_ack(&mut self, now: SimTime, seg: crate::net::Segment, out: &mut Outbox) {
        // SACK blocks ride in an option of 2 + 8·n bytes, padded to 4.
        let sack = if seg.sack_count > 0 {
            (2 + 8 * seg.sack_count as u32).div_ceil(4) * 4
        } else {
            0
        };
        out.push(Packet {
            flow: self.ends.ack_flow,
            src: self.ends.dst,
            dst: self.ends.src,
            size: self.ack_bytes + sack,
            seq: self.ack_seq,
            created: now,
            ecmp_hash: self.ends.ecmp_hash,
            ecn_ce: false,
            payload: Payload::Segment(seg),
        });
        self.ack_seq += 1;
    }
}

impl Transport for TcpConnection {
    fn on_start(&mut self, now: SimTime, out: &mut Outbox) {
        self.sender.on_start(now, out);
    }

    fn on_packet(&mut self, now: SimTime, packet: &Packet, out: &mut Outbox) {
        let Payload::Segment(seg) = packet.payload else {
            return;
        };
        match seg.kind {
            SegmentKind::Data if packet.flow == self.ends.data_flow => {
                if let Some(ack) = self.receiver.on_segment(now, &seg, packet.ecn_ce) {
                    self.send_ack(now, ack, out);
                }
            }
            SegmentKind::Ack if packet.flow == self.ends.ack_flow => {
                self.sender.on_ack(now, &seg, out);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, now: SimTime, out: &mut Outbox) {
        if let Some(ack) = self.receiver.on_timer(now) {
            self.send_ack(now, ack, out);
        }
        if self.sender.poll_at().is_some_and(|t| t <= now) {
            self.sender.on_timer(now, out);
        }
    }

    fn poll_at(&self) -> Option<SimTime> {
        match (self.sender.poll_at(), self.receiver.poll_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn sample(&mut self, now: SimTime, out: &mut Vec<Metric>) {
        let goodput = self.goodput_bytes();
        let (bytes, at) = self.last_sample;
        let dt = now.since(at.min(now)).as_secs_f64();
        if dt > 0.0 {
            out.push(("goodput", (goodput - bytes) as f64 * 8.0 / dt, "bit/s"));
        }
        self.last_sample = (goodput, now);
        out.push(("cwnd", self.sender.cc.cwnd() as f64, "segments"));
        out.push(("in_flight", self.sender.in_flight() as f64, "segments"));
        if let Some(s) = self.sender.rtt.srtt() {
            out.push(("srtt", s.as_secs_f64(), "s"));
        }
    }

    fn report(&self, now: SimTime, out: &mut Vec<Metric>) {
        let st = &self.sender.stats;
        let goodput = self.goodput_bytes();
        out.push(("goodput_bytes", goodput as f64, "bytes"));
        let end = self.receiver.completed_at().unwrap_or(now);
        let active = end.since(self.start.min(end)).as_secs_f64();
        if active > 0.0 {
            out.push(("goodput", goodput as f64 * 8.0 / active, "bit/s"));
        }
        if let Some(t) = self.receiver.completed_at() {
            out.push(("completion_time", t.since(self.start).as_secs_f64(), "s"));
        }
        out.push(("segments_sent", st.segments_sent as f64, "segments"));
        out.push((
            "retransmitted_segments",
            st.retransmitted as f64,
            "segments",
        ));
        if st.segments_sent > 0 {
            out.push((
                "retransmit_rate",
                st.retransmitted as f64 / st.segments_sent as f64,
                "fraction",
            ));
        }
        out.push(("timeouts", st.timeouts as f64, "events"));
        out.push(("fast_recoveries", st.fast_recoveries as f64, "events"));
        if st.first_timeouts > 0 {
            out.push((
                "rto_at_timeout_mean",
                st.rto_at_timeout_ps as f64 / st.first_timeouts as f64 / 1e12,
                "s",
            ));
        }
        out.push(("cwnd_mean", self.sender.mean_cwnd(), "segments"));
        if let Some(s) = self.sender.rtt.srtt() {
            out.push(("srtt", s.as_secs_f64(), "s"));
        }
        if let Some(s) = self.sender.rtt.min_rtt() {
            out.push(("min_rtt", s.as_secs_f64(), "s"));
        }
        out.push(("acks_sent", self.receiver.acks_sent as f64, "packets"));
    }
}
