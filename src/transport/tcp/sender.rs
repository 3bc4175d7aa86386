//! The sending half of a TCP connection: windowed transmission, loss detection and
//! recovery, the retransmission timer, pacing and delivery-rate sampling.
//!
//! Loss recovery keeps a Linux-style scoreboard: every outstanding segment may be SACKed,
//! marked lost, or retransmitted, and the data in flight is
//! `outstanding − (sacked + lost) + retransmitted` (RFC 6675's "pipe"). With SACK the
//! marks come from SACK blocks (a segment is lost once `dupthresh` segments above it are
//! SACKed, RFC 6675 §4); without SACK each duplicate ACK counts as one SACKed segment and
//! the first unacknowledged segment is marked lost on entering recovery and after each
//! partial ACK, which is NewReno (RFC 6582). After a timeout every unSACKed segment is
//! marked lost and resent in order from the first (go-back-N under slow start).

use super::congestion::{AckSample, Congestion, CongestionControl, RateSample};
use super::rtt::RttEstimator;
use super::TcpConfig;
use crate::engine::{SimDuration, SimTime};
use crate::net::{Packet, Payload, Segment, SegmentKind};
use crate::transport::{Ends, Outbox};
use std::collections::VecDeque;

/// Per outstanding segment: its scoreboard marks and what rate sampling needs.
#[derive(Clone, Copy, Debug, Default)]
struct SegMeta {
    sent_at: SimTime,
    /// Connection's delivered count, delivered time and first-sent time at transmission.
    delivered: u64,
    delivered_time: SimTime,
    first_sent_time: SimTime,
    app_limited: bool,
    sacked: bool,
    lost: bool,
    retrans: bool,
}

/// Counters of one sender, reported at the end of a run.
#[derive(Clone, Debug, Default)]
pub struct SenderStats {
    /// Segments transmitted, retransmissions included.
    pub segments_sent: u64,
    /// Segments retransmitted.
    pub retransmitted: u64,
    /// Retransmission timeouts fired.
    pub timeouts: u64,
    /// Fast recoveries entered.
    pub fast_recoveries: u64,
    /// Sum of the (un-backed-off) RTOs at which first timeouts fired, for the mean.
    pub rto_at_timeout_ps: u128,
    /// First (not backed-off) timeouts, the count for that mean.
    pub first_timeouts: u64,
    /// Integral of cwnd over time (segment·ps) and the time it covers.
    pub cwnd_area: u128,
    /// Time covered by `cwnd_area`, ps.
    pub cwnd_time: u64,
}

/// The sending half of a TCP connection: windows, loss recovery, RTO, pacing.
#[derive(Clone, Debug)]
pub struct TcpSender {
    ends: Ends,
    mss: u32,
    header: u32,
    total: Option<u64>,
    last_len: u32,
    /// Fed by an application (AMST): segments it has handed over so far, and bytes.
    sendable: Option<u64>,
    offered: u64,
    rwnd: u64,
    sack: bool,
    dupthresh: u32,
    /// Congestion control.
    pub cc: Congestion,
    /// RTT estimate and RTO.
    pub rtt: RttEstimator,

    snd_una: u64,
    /// One past the highest segment ever sent.
    high_sent: u64,
    meta: VecDeque<SegMeta>,
    dupacks: u32,
    sacked_out: u64,
    lost_out: u64,
    retrans_out: u64,
    /// Lost segments not yet retransmitted.
    to_retransmit: u64,
    /// Where the search for the next segment to retransmit starts.
    rexmit_ptr: u64,
    /// Segments below this have had the loss rule applied.
    lost_marked_upto: u64,
    highest_sacked: Option<u64>,
    /// Retransmissions in flight (at most a few): SACK processing checks them by number.
    retrans_seqs: Vec<u64>,
    in_recovery: bool,
    /// Recovery ends when everything below this is acknowledged.
    recover: u64,
    /// No new fast recovery until the cumulative ACK passes this (RFC 6582 §3.2).
    recover_guard: u64,

    rto_deadline: Option<SimTime>,
    backoff_pending: bool,
    next_send: SimTime,
    pacing_blocked: bool,

    delivered: u64,
    delivered_time: SimTime,
    first_sent_time: SimTime,
    app_limited_until: u64,
    packet_seq: u64,
    last_cwnd_change: SimTime,
    /// Counters so far.
    pub stats: SenderStats,
}

impl TcpSender {
    /// A sender for `cfg` between `ends`; sends nothing before [`TcpSender::on_start`].
    pub fn new(cfg: &TcpConfig, ends: Ends) -> TcpSender {
        let (total, last_len) = match cfg.bytes {
            Some(b) => {
                let n = b.div_ceil(cfg.mss as u64);
                (Some(n), (b - (n.saturating_sub(1)) * cfg.mss as u64) as u32)
            }
            None => (None, cfg.mss),
        };
        TcpSender {
            ends,
            mss: cfg.mss,
            header: cfg.header_bytes,
            total,
            last_len,
            sendable: None,
            offered: 0,
            rwnd: cfg.rwnd_segments().max(1),
            sack: cfg.sack,
            dupthresh: cfg.dupthresh.max(1),
            cc: Congestion::new(cfg.cc, cfg.initial_window, cfg.mss),
            rtt: RttEstimator::new(cfg.rto_rule, cfg.initial_rto, cfg.min_rto, cfg.max_rto),
            snd_una: 0,
            high_sent: 0,
            meta: VecDeque::new(),
            dupacks: 0,
            sacked_out: 0,
            lost_out: 0,
            retrans_out: 0,
            to_retransmit: 0,
            rexmit_ptr: 0,
            lost_marked_upto: 0,
            highest_sacked: None,
            retrans_seqs: Vec::new(),
            in_recovery: false,
            recover: 0,
            recover_guard: 0,
            rto_deadline: None,
            backoff_pending: false,
            next_send: SimTime::ZERO,
            pacing_blocked: false,
            delivered: 0,
            delivered_time: SimTime::ZERO,
            first_sent_time: SimTime::ZERO,
            app_limited_until: 0,
            packet_seq: 0,
            last_cwnd_change: SimTime::ZERO,
            stats: SenderStats::default(),
        }
    }

    /// Makes this sender application-fed: it sends only what [`TcpSender::offer`] hands it.
    pub fn fed(mut self) -> Self {
        self.sendable = Some(0);
        self.total = None;
        self
    }

    /// The application hands over `bytes` more; `last` closes the stream (its final
    /// segment may be short). Call [`TcpSender::kick`] after to send them.
    pub fn offer(&mut self, bytes: u64, last: bool) {
        self.offered += bytes;
        let mss = self.mss as u64;
        if last {
            let n = self.offered.div_ceil(mss);
            self.total = Some(n);
            self.last_len = (self.offered - n.saturating_sub(1) * mss) as u32;
            self.sendable = Some(n);
        } else {
            self.sendable = Some(self.offered / mss);
        }
    }

    /// Bytes offered and not yet sent once.
    pub fn unsent_bytes(&self) -> u64 {
        self.offered
            .saturating_sub(self.high_sent * self.mss as u64)
    }

    /// The application has said it has no more (or the transfer size was fixed).
    pub fn closed(&self) -> bool {
        self.total.is_some()
    }

    /// Bytes handed over by the application so far.
    pub fn offered(&self) -> u64 {
        self.offered
    }

    /// Sends what the window allows now (after an offer).
    pub fn kick(&mut self, now: SimTime, out: &mut Outbox) {
        self.try_send(now, out);
    }

    /// Segments sent and not yet cumulatively acknowledged.
    fn outstanding(&self) -> u64 {
        self.high_sent - self.snd_una
    }

    /// Segments believed to be in the network (RFC 6675 pipe).
    pub fn in_flight(&self) -> u64 {
        (self.outstanding() + self.retrans_out).saturating_sub(self.sacked_out + self.lost_out)
    }

    /// Oldest unacknowledged segment.
    pub fn snd_una(&self) -> u64 {
        self.snd_una
    }

    /// Everything of a finite transfer is acknowledged.
    pub fn done(&self) -> bool {
        self.total.is_some_and(|t| self.snd_una >= t)
    }

    /// When the sender wants [`TcpSender::on_timer`] next (RTO or pacing), if at all.
    pub fn poll_at(&self) -> Option<SimTime> {
        let pace = self.pacing_blocked.then_some(self.next_send);
        match (self.rto_deadline, pace) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn meta(&mut self, seq: u64) -> &mut SegMeta {
        let i = (seq - self.snd_una) as usize;
        &mut self.meta[i]
    }

    fn note_cwnd(&mut self, now: SimTime) {
        let dt = now.since(self.last_cwnd_change).as_ps();
        self.stats.cwnd_area += self.cc.cwnd() as u128 * dt as u128;
        self.stats.cwnd_time += dt;
        self.last_cwnd_change = now;
    }

    /// Time-averaged congestion window so far, segments.
    pub fn mean_cwnd(&self) -> f64 {
        if self.stats.cwnd_time == 0 {
            return self.cc.cwnd() as f64;
        }
        self.stats.cwnd_area as f64 / self.stats.cwnd_time as f64
    }

    /// Starts the transfer at `now`: sends the initial window.
    pub fn on_start(&mut self, now: SimTime, out: &mut Outbox) {
        self.delivered_time = now;
        self.first_sent_time = now;
        self.last_cwnd_change = now;
        self.try_send(now, out);
    }

    /// An ACK reached the sender.
    pub fn on_ack(&mut self, now: SimTime, seg: &Segment, out: &mut Outbox) {
        self.note_cwnd(now);
        let ack = seg.ack.min(self.high_sent);
        let mut newly = 0u64; // segments newly acknowledged (cumulative or SACK)
        let mut dup_delivered = 0u64; // a NewReno duplicate ACK: one segment delivered
        let mut newest: Option<SegMeta> = None;
        let mut rtt = None;
        let advanced = ack > self.snd_una;
        if advanced {
            for _ in self.snd_una..ack {
                let m = self
                    .meta
                    .pop_front()
                    .expect("scoreboard covers outstanding data");
                if m.sacked {
                    self.sacked_out -= 1;
                } else {
                    newly += 1;
                    if newest.is_none_or(|n| m.delivered >= n.delivered) {
                        newest = Some(m);
                    }
                }
                if m.lost {
                    self.lost_out -= 1;
                    if !m.retrans {
                        self.to_retransmit -= 1;
                    }
                }
                if m.retrans {
                    self.retrans_out -= 1;
                }
            }
            if !self.sack {
                // Reno SACK emulation: the retransmitted head explains one duplicate ACK;
                // the others were for segments now covered by this ACK.
                self.sacked_out = self.sacked_out.saturating_sub(newly.saturating_sub(1));
            }
            self.snd_una = ack;
            if !self.sack && !self.in_recovery {
                // Outside recovery no duplicate ACK is pending repair (Linux
                // `tcp_reset_reno_sack`): stray ones must not shrink the pipe for good.
                self.sacked_out = 0;
            }
            self.retrans_seqs.retain(|&q| q >= ack);
            self.rexmit_ptr = self.rexmit_ptr.max(ack);
            self.lost_marked_upto = self.lost_marked_upto.max(ack);
            self.dupacks = 0;
            // Every ACK echoes a data segment's timestamp (the receiver only ACKs after one).
            if seg.ts_echo <= now {
                let r = now.since(seg.ts_echo);
                self.rtt.on_sample(r);
                rtt = Some(r);
            }
            self.rtt.reset_backoff();
            self.backoff_pending = false;
        } else if self.outstanding() > 0 {
            // The cumulative point did not move while data is outstanding: a duplicate ACK.
            self.dupacks += 1;
            if !self.sack && self.sacked_out + 1 < self.outstanding() {
                // One more segment has left the network (RFC 5681 §3.2 inflation): it
                // frees room in the pipe and counts as delivered, but a duplicate ACK
                // acknowledges nothing, so the window does not grow on it.
                self.sacked_out += 1;
                dup_delivered = 1;
            }
        }

        if self.sack {
            for (start, end) in seg.sack_blocks() {
                let lo = start.max(self.snd_una);
                let hi = end.min(self.high_sent);
                if hi <= lo {
                    continue;
                }
                // Blocks repeat on every ACK: walk in from both edges to what is already
                // SACKed, so each segment is visited about once. A hole inside a block can
                // only have been filled by a retransmission; those are checked by list.
                let mut top = hi;
                while top > lo && !self.meta(top - 1).sacked {
                    top -= 1;
                    self.sack_one(top, &mut newly, &mut newest);
                }
                let mut bottom = lo;
                while bottom < top && !self.meta(bottom).sacked {
                    self.sack_one(bottom, &mut newly, &mut newest);
                    bottom += 1;
                }
                let mut k = 0;
                while k < self.retrans_seqs.len() {
                    let q = self.retrans_seqs[k];
                    if q >= lo && q < hi && !self.meta(q).sacked {
                        self.sack_one(q, &mut newly, &mut newest);
                    } else {
                        k += 1;
                    }
                }
                self.highest_sacked = Some(self.highest_sacked.map_or(hi - 1, |h| h.max(hi - 1)));
            }
        }

        // Recovery ends when everything outstanding at its start is acknowledged.
        if self.in_recovery && self.snd_una >= self.recover {
            self.in_recovery = false;
            if !self.sack {
                self.sacked_out = 0;
            }
            self.cc.on_recovery_exit(now);
        }

        let lost = self.detect_losses(advanced);
        if !self.in_recovery
            && (lost > 0 || self.dupacks >= self.dupthresh)
            && self.snd_una >= self.recover_guard
            && self.outstanding() > 0
        {
            if self.dupacks >= self.dupthresh {
                self.mark_lost(self.snd_una); // RFC 6675 §5 (4.1): retransmit the first
            }
            self.in_recovery = true;
            self.recover = self.high_sent;
            self.recover_guard = self.high_sent;
            self.stats.fast_recoveries += 1;
            let flight = self.outstanding();
            self.cc.on_congestion_event(now, flight);
        }

        self.delivered += newly + dup_delivered;
        let rate = newest.and_then(|m| {
            self.first_sent_time = m.sent_at;
            let send_elapsed = m.sent_at.since(m.first_sent_time);
            let ack_elapsed = now.since(m.delivered_time);
            let interval = send_elapsed.max(ack_elapsed);
            let sample = RateSample {
                delivered: self.delivered - m.delivered,
                interval,
                is_app_limited: m.app_limited,
                prior_delivered: m.delivered,
            };
            // The draft discards intervals shorter than the minimum RTT: they come from
            // ACK compression, not from the path's rate.
            let min_rtt = self.rtt.min_rtt().unwrap_or(SimDuration::ZERO);
            (interval >= min_rtt && interval > SimDuration::ZERO).then_some(sample)
        });
        if newly + dup_delivered > 0 {
            self.delivered_time = now;
        }
        if self.app_limited_until > 0 && self.delivered >= self.app_limited_until {
            self.app_limited_until = 0;
        }
        if newly > 0 || lost > 0 {
            let sample = AckSample {
                now,
                acked: newly,
                lost,
                rtt,
                min_rtt: self.rtt.min_rtt(),
                srtt: self.rtt.srtt(),
                in_flight: self.in_flight(),
                delivered: self.delivered,
                snd_una: self.snd_una,
                snd_nxt: self.high_sent,
                rate,
                in_recovery: self.in_recovery,
                ece: seg.ece,
            };
            self.cc.on_ack(&sample);
        }

        if advanced {
            self.rto_deadline = (self.outstanding() > 0).then(|| now + self.rtt.rto());
        }
        self.try_send(now, out);
    }

    /// Marks one outstanding segment SACKed and updates the scoreboard counters.
    fn sack_one(&mut self, seq: u64, newly: &mut u64, newest: &mut Option<SegMeta>) {
        let m = *self.meta(seq);
        *self.meta(seq) = SegMeta {
            sacked: true,
            lost: false,
            retrans: false,
            ..m
        };
        self.sacked_out += 1;
        if m.lost {
            self.lost_out -= 1;
            if !m.retrans {
                self.to_retransmit -= 1;
            }
        }
        if m.retrans {
            self.retrans_out -= 1;
            if let Some(i) = self.retrans_seqs.iter().position(|&q| q == seq) {
                self.retrans_seqs.swap_remove(i);
            }
        }
        *newly += 1;
        if newest.is_none_or(|n| m.delivered >= n.delivered) {
            *newest = Some(m);
        }
    }

    /// Applies the loss rules; returns how many segments were newly marked lost.
    fn detect_losses(&mut self, advanced: bool) -> u64 {
        let before = self.lost_out;
        if self.sack {
            // RFC 6675 IsLost: dupthresh SACKed segments above. Find the dupthresh-th
            // highest SACKed segment; every unSACKed segment below it is lost.
            if let Some(h) = self.highest_sacked.filter(|&h| h >= self.snd_una) {
                let mut count = 0;
                let mut s = h + 1;
                while s > self.snd_una && count < self.dupthresh {
                    s -= 1;
                    if self.meta(s).sacked {
                        count += 1;
                    }
                }
                if count >= self.dupthresh {
                    let from = self.lost_marked_upto.max(self.snd_una);
                    for q in from..s {
                        self.mark_lost(q);
                    }
                    self.lost_marked_upto = self.lost_marked_upto.max(s);
                }
            }
        } else if self.in_recovery && advanced && self.outstanding() > 0 {
            self.mark_lost(self.snd_una); // NewReno partial ACK: the next hole is lost
        }
        self.lost_out - before
    }

    fn mark_lost(&mut self, seq: u64) {
        // A retransmission is already marked lost: only the timeout resends it again.
        let m = self.meta(seq);
        if m.sacked || m.lost {
            return;
        }
        m.lost = true;
        self.lost_out += 1;
        self.to_retransmit += 1;
        self.rexmit_ptr = self.rexmit_ptr.min(seq);
    }

    /// Handles an expired RTO or pacing wait at `now`.
    pub fn on_timer(&mut self, now: SimTime, out: &mut Outbox) {
        if self.rto_deadline.is_some_and(|t| t <= now) {
            self.on_rto(now);
        }
        self.try_send(now, out);
    }

    fn on_rto(&mut self, now: SimTime) {
        self.note_cwnd(now);
        if self.outstanding() == 0 {
            self.rto_deadline = None;
            return;
        }
        self.stats.timeouts += 1;
        if !self.backoff_pending {
            self.stats.first_timeouts += 1;
            self.stats.rto_at_timeout_ps += self.rtt.base_rto().as_ps() as u128;
        }
        let flight = self.outstanding();
        // Only the first timeout of a loss outside fast recovery lowers the threshold.
        let reduce = !self.backoff_pending && !self.in_recovery;
        self.cc.on_rto(now, flight, reduce);
        self.rtt.back_off();
        self.backoff_pending = true;
        self.in_recovery = false;
        self.recover_guard = self.high_sent;
        self.dupacks = 0;
        if !self.sack {
            self.sacked_out = 0;
        }
        // Every unSACKed segment is presumed lost, retransmissions included.
        self.retrans_out = 0;
        self.retrans_seqs.clear();
        for s in self.snd_una..self.high_sent {
            let m = self.meta(s);
            m.retrans = false;
            if !m.sacked && !m.lost {
                m.lost = true;
                self.lost_out += 1;
            }
        }
        self.to_retransmit = self.lost_out;
        self.rexmit_ptr = self.snd_una;
        self.lost_marked_upto = self.high_sent;
        self.rto_deadline = Some(now + self.rtt.rto());
    }

    /// Sends what the window, the receive window and pacing allow.
    fn try_send(&mut self, now: SimTime, out: &mut Outbox) {
        self.pacing_blocked = false;
        loop {
            if self.cc.pacing_rate_bps().is_some() && now < self.next_send {
                self.pacing_blocked = true;
                break;
            }
            if self.in_flight() >= self.cc.cwnd() {
                break;
            }
            let seq = match self.next_retransmission() {
                Some(s) => s,
                None => {
                    let limit = self.snd_una + self.rwnd;
                    let more = self.total.is_none_or(|t| self.high_sent < t)
                        && self.sendable.is_none_or(|s| self.high_sent < s);
                    if !more || self.high_sent >= limit {
                        // Nothing to send although the window is open: app (or receive
                        // window) limited, so rate samples until this is delivered may
                        // understate the path.
                        self.app_limited_until = (self.delivered + self.in_flight()).max(1);
                        break;
                    }
                    self.high_sent
                }
            };
            self.transmit(now, seq, out);
        }
    }

    fn next_retransmission(&mut self) -> Option<u64> {
        if self.to_retransmit == 0 {
            return None;
        }
        let mut s = self.rexmit_ptr.max(self.snd_una);
        while s < self.high_sent {
            let m = self.meta(s);
            if m.lost && !m.retrans && !m.sacked {
                self.rexmit_ptr = s;
                return Some(s);
            }
            s += 1;
        }
        panic!(
            "scoreboard: {} segments to retransmit but none found from {} to {}",
            self.to_retransmit, self.rexmit_ptr, self.high_sent
        );
    }

    fn transmit(&mut self, now: SimTime, seq: u64, out: &mut Outbox) {
        let len = if self.total == Some(seq + 1) {
            self.last_len
        } else {
            self.mss
        };
        if self.in_flight() == 0 {
            // Restarting after idle: the rate-sample clock starts now.
            self.first_sent_time = now;
            self.delivered_time = now;
        }
        let meta = SegMeta {
            sent_at: now,
            delivered: self.delivered,
            delivered_time: self.delivered_time,
            first_sent_time: self.first_sent_time,
            app_limited: self.app_limited_until > 0,
            ..SegMeta::default()
        };
        if seq == self.high_sent {
            self.meta.push_back(meta);
            self.high_sent += 1;
        } else {
            let m = self.meta(seq);
            *m = SegMeta {
                lost: true,
                retrans: true,
                ..meta
            };
            self.retrans_out += 1;
            self.retrans_seqs.push(seq);
            self.to_retransmit -= 1;
            self.rexmit_ptr = seq + 1;
            self.stats.retransmitted += 1;
        }
        self.stats.segments_sent += 1;
        let mut seg = Segment::new(SegmentKind::Data);
        seg.seq = seq;
        seg.len = len;
        seg.ts = now;
        out.push(Packet {
            flow: self.ends.data_flow,
            src: self.ends.src,
            dst: self.ends.dst,
            size: len + self.header,
            seq: self.packet_seq,
            created: now,
            ecmp_hash: self.ends.ecmp_hash,
            ecn_ce: false,
            payload: Payload::Segment(seg),
        });
        self.packet_seq += 1;
        if let Some(rate) = self.cc.pacing_rate_bps() {
            let gap_s = len as f64 * 8.0 / rate.max(1.0);
            self.next_send = now + SimDuration((gap_s * 1e12).round() as u64);
        }
        if self.rto_deadline.is_none() {
            self.rto_deadline = Some(now + self.rtt.rto());
        }
    }
}
