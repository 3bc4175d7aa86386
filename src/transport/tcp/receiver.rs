//! The receiving half of a TCP connection: in-order delivery, out-of-order buffering,
//! delayed and duplicate ACKs (RFC 5681 §4.2, RFC 1122), SACK blocks (RFC 2018) and the
//! timestamp echo (RFC 7323).
//!
//! The application reads instantly, so the advertised window is constant and the sender
//! enforces it; what the receiver buffers out of order is bounded by that window.

use crate::engine::{SimDuration, SimTime};
use crate::net::{Segment, SegmentKind};
use std::collections::VecDeque;

/// The receiving half of a TCP connection: reassembly and (delayed, SACK) acknowledgements.
#[derive(Clone, Debug)]
pub struct TcpReceiver {
    /// Next segment expected in order.
    rcv_nxt: u64,
    /// `buffered[i]`: segment `rcv_nxt + 1 + i` arrived out of order and is held.
    buffered: VecDeque<bool>,
    /// In-order segments received since the last ACK.
    unacked: u32,
    ack_every: u32,
    delayed_ack: bool,
    delack_timeout: SimDuration,
    delack_deadline: Option<SimTime>,
    /// RFC 7323 TS.Recent: the timestamp to echo.
    ts_recent: SimTime,
    last_ack_sent: u64,
    ce_since_ack: bool,
    sack: bool,
    /// The most recently changed out-of-order blocks `[start, end)`, newest first (RFC 2018
    /// §4), each a maximal run of held segments. Kept up to date as segments arrive, so
    /// building an ACK costs O(1) however long the blocks are.
    blocks: [Option<(u64, u64)>; 3],
    total_segments: Option<u64>,
    completed_at: Option<SimTime>,
    /// Segments received that were already delivered (below the next expected).
    pub duplicate_segments: u64,
    /// ACKs sent.
    pub acks_sent: u64,
}

impl TcpReceiver {
    /// A receiver expecting segment 0; `total_segments` ends the transfer if known.
    pub fn new(
        delayed_ack: bool,
        ack_every: u32,
        delack_timeout: SimDuration,
        sack: bool,
        total_segments: Option<u64>,
    ) -> Self {
        TcpReceiver {
            rcv_nxt: 0,
            buffered: VecDeque::new(),
            unacked: 0,
            ack_every: ack_every.max(1),
            delayed_ack,
            delack_timeout,
            delack_deadline: None,
            ts_recent: SimTime::ZERO,
            last_ack_sent: 0,
            ce_since_ack: false,
            sack,
            blocks: [None; 3],
            total_segments,
            completed_at: None,
            duplicate_segments: 0,
            acks_sent: 0,
        }
    }

    /// Segments delivered in order to the application.
    pub fn delivered_segments(&self) -> u64 {
        self.rcv_nxt
    }

    /// When the last segment of a finite transfer was delivered.
    pub fn completed_at(&self) -> Option<SimTime> {
        self.completed_at
    }

    /// When the delayed-ACK timer fires, if armed.
    pub fn poll_at(&self) -> Option<SimTime> {
        self.delack_deadline
    }

    /// A data segment arrived (`ce`: it carries a Congestion Experienced mark). Returns the
    /// ACK to send now, if any.
    pub fn on_segment(&mut self, now: SimTime, seg: &Segment, ce: bool) -> Option<Segment> {
        self.ce_since_ack |= ce;
        if seg.seq <= self.last_ack_sent && seg.ts >= self.ts_recent {
            // RFC 7323 §4.3: only from a segment at the ACK point, and never backwards.
            self.ts_recent = seg.ts;
        }
        if seg.seq < self.rcv_nxt {
            self.duplicate_segments += 1;
            return Some(self.ack()); // a duplicate: tell the sender at once
        }
        if seg.seq > self.rcv_nxt {
            let i = (seg.seq - self.rcv_nxt - 1) as usize;
            if self.buffered.len() <= i {
                self.buffered.resize(i + 1, false);
            }
            if self.buffered[i] {
                self.duplicate_segments += 1;
            }
            self.buffered[i] = true;
            self.note_block(seg.seq);
            return Some(self.ack()); // out of order: an immediate duplicate ACK
        }
        let had_hole = !self.buffered.is_empty();
        self.rcv_nxt += 1;
        while self.buffered.front() == Some(&true) {
            self.buffered.pop_front();
            self.rcv_nxt += 1;
        }
        // The segment at rcv_nxt - 1 was in order; the slot for rcv_nxt itself is gone.
        if !self.buffered.is_empty() {
            self.buffered.pop_front();
        }
        let rcv_nxt = self.rcv_nxt;
        for b in &mut self.blocks {
            if b.is_some_and(|(_, end)| end <= rcv_nxt) {
                *b = None; // now cumulatively acknowledged
            }
        }
        if self.total_segments == Some(self.rcv_nxt) && self.completed_at.is_none() {
            self.completed_at = Some(now);
        }
        self.unacked += 1;
        let finished = self.completed_at.is_some();
        if had_hole || !self.delayed_ack || self.unacked >= self.ack_every || finished {
            return Some(self.ack());
        }
        if self.delack_deadline.is_none() {
            self.delack_deadline = Some(now + self.delack_timeout);
        }
        None
    }

    /// The delayed-ACK timer: the ACK to send, if it is due.
    pub fn on_timer(&mut self, now: SimTime) -> Option<Segment> {
        match self.delack_deadline {
            Some(t) if t <= now => Some(self.ack()),
            _ => None,
        }
    }

    fn ack(&mut self) -> Segment {
        let mut seg = Segment::new(SegmentKind::Ack);
        seg.ack = self.rcv_nxt;
        seg.ts_echo = self.ts_recent;
        seg.ece = self.ce_since_ack;
        if self.sack {
            let mut n = 0;
            for &(a, b) in self.blocks.iter().flatten() {
                seg.sack[n] = ((a - self.rcv_nxt) as u32, (b - a) as u32);
                n += 1;
            }
            seg.sack_count = n as u8;
        }
        self.ce_since_ack = false;
        self.unacked = 0;
        self.delack_deadline = None;
        self.last_ack_sent = self.rcv_nxt;
        self.acks_sent += 1;
        seg
    }

    fn held(&self, s: u64) -> bool {
        s > self.rcv_nxt && self.buffered.get((s - self.rcv_nxt - 1) as usize) == Some(&true)
    }

    /// Segment `s` arrived out of order: its block (merged with neighbours) goes first.
    fn note_block(&mut self, s: u64) {
        let (mut a, mut b) = (s, s + 1);
        for slot in &mut self.blocks {
            if let Some((x, y)) = *slot {
                if y == a || x == b || (x <= s && s < y) {
                    a = a.min(x);
                    b = b.max(y);
                    *slot = None;
                }
            }
        }
        // Neighbours not in the list (older blocks that fell off it): extend over them.
        while self.held(a - 1) {
            a -= 1;
        }
        while self.held(b) {
            b += 1;
        }
        let mut kept = [None; 3];
        kept[0] = Some((a, b));
        let mut k = 1;
        for blk in self.blocks.iter().flatten() {
            if k < 3 {
                kept[k] = Some(*blk);
                k += 1;
            }
        }
        self.blocks = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(seq: u64) -> Segment {
        let mut s = Segment::new(SegmentKind::Data);
        s.seq = seq;
        s.len = 1000;
        s.ts = SimTime(seq + 1);
        s
    }

    #[test]
    fn delayed_acks_every_second_segment_and_on_timeout() {
        let ms = SimDuration::from_millis;
        let mut r = TcpReceiver::new(true, 2, ms(40), false, None);
        let t = SimTime::ZERO;
        assert!(r.on_segment(t, &data(0), false).is_none());
        assert_eq!(r.poll_at(), Some(t + ms(40)));
        let a = r
            .on_segment(t, &data(1), false)
            .expect("second segment is acked");
        assert_eq!(a.ack, 2);
        // The echo is the first segment's timestamp: RTT samples include the ACK delay.
        assert_eq!(a.ts_echo, SimTime(1));
        assert!(r.on_segment(t, &data(2), false).is_none());
        assert!(r.on_timer(t + ms(39)).is_none());
        assert_eq!(r.on_timer(t + ms(40)).map(|a| a.ack), Some(3));
    }

    #[test]
    fn out_of_order_gives_dupacks_with_sack_blocks_and_filling_acks_at_once() {
        let mut r = TcpReceiver::new(true, 2, SimDuration::from_millis(40), true, None);
        let t = SimTime::ZERO;
        r.on_segment(t, &data(0), false);
        r.on_segment(t, &data(1), false);
        // Segment 2 is lost; 3, 4 and 6 arrive.
        let d1 = r.on_segment(t, &data(3), false).expect("dupack");
        assert_eq!((d1.ack, d1.sack_count), (2, 1));
        assert_eq!(d1.sack_blocks().collect::<Vec<_>>(), vec![(3, 4)]);
        r.on_segment(t, &data(4), false);
        let d3 = r.on_segment(t, &data(6), false).expect("dupack");
        assert_eq!(d3.sack_blocks().collect::<Vec<_>>(), vec![(6, 7), (3, 5)]);
        // The retransmission fills the hole: a cumulative ACK up to the next hole.
        let a = r.on_segment(t, &data(2), false).expect("hole filled");
        assert_eq!(a.ack, 5);
        assert_eq!(a.sack_blocks().collect::<Vec<_>>(), vec![(6, 7)]);
        assert_eq!(r.delivered_segments(), 5);
    }
}
