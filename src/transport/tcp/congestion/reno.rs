//! Reno window growth (RFC 5681) as NewReno uses it; recovery itself is the sender's.
//!
//! Slow start adds `min(acked, 2)` segments per ACK (RFC 3465 with L = 2); congestion
//! avoidance adds `1/cwnd` per ACK, not per acknowledged segment (RFC 5681 §3.1), so with
//! delayed ACKs (b = 2) the window grows by one segment every two RTTs, which is the `b`
//! of the Padhye et al. model.

use super::{AckSample, CongestionControl};
use crate::engine::SimTime;

/// NewReno congestion control state, window in segments.
#[derive(Clone, Debug)]
pub struct Reno {
    cwnd: f64,
    ssthresh: f64,
}

impl Reno {
    /// NewReno with an initial window of `iw` segments.
    pub fn new(iw: u64) -> Reno {
        Reno {
            cwnd: iw as f64,
            ssthresh: f64::INFINITY,
        }
    }
}

impl Reno {
    /// RFC 5681 (4): ssthresh = max(FlightSize / 2, 2), with FlightSize capped at cwnd as
    /// Linux does: after a long NewReno recovery the outstanding data can be many windows
    /// (new segments went out on every duplicate ACK), and halving that would restart slow
    /// start far above the path's capacity.
    fn halve(&mut self, in_flight: u64) {
        self.ssthresh = ((in_flight as f64).min(self.cwnd) / 2.0).max(2.0);
    }
}

impl CongestionControl for Reno {
    fn on_ack(&mut self, ack: &AckSample) {
        if ack.in_recovery || ack.acked == 0 {
            return;
        }
        if self.cwnd < self.ssthresh {
            self.cwnd = (self.cwnd + ack.acked.min(2) as f64).min(self.ssthresh.max(self.cwnd));
        } else {
            self.cwnd += 1.0 / self.cwnd;
        }
    }

    fn on_congestion_event(&mut self, _now: SimTime, in_flight: u64) {
        self.halve(in_flight);
        self.cwnd = self.ssthresh;
    }

    fn on_recovery_exit(&mut self, _now: SimTime) {
        self.cwnd = self.ssthresh;
    }

    fn on_rto(&mut self, _now: SimTime, in_flight: u64, reduce: bool) {
        if reduce {
            self.halve(in_flight);
        }
        self.cwnd = 1.0; // the loss window (RFC 5681 §3.1)
    }

    fn cwnd(&self) -> u64 {
        (self.cwnd as u64).max(1)
    }

    fn ssthresh(&self) -> u64 {
        if self.ssthresh.is_finite() {
            self.ssthresh as u64
        } else {
            u64::MAX
        }
    }

    fn pacing_rate_bps(&self) -> Option<f64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(acked: u64) -> AckSample {
        AckSample {
            now: SimTime::ZERO,
            acked,
            lost: 0,
            rtt: None,
            min_rtt: None,
            srtt: None,
            in_flight: 0,
            delivered: 0,
            snd_una: 0,
            snd_nxt: 0,
            rate: None,
            in_recovery: false,
            ece: false,
        }
    }

    #[test]
    fn slow_start_then_one_segment_per_window_of_acks() {
        let mut r = Reno::new(10);
        // 10 delayed ACKs of 2 segments each in slow start: 10 + 20 = 30.
        for _ in 0..10 {
            r.on_ack(&ack(2));
        }
        assert_eq!(r.cwnd(), 30);
        r.on_congestion_event(SimTime::ZERO, 30);
        assert_eq!((r.cwnd(), r.ssthresh()), (15, 15));
        // In congestion avoidance, 15 ACKs add one segment (1/cwnd each).
        for _ in 0..16 {
            r.on_ack(&ack(2));
        }
        assert_eq!(r.cwnd(), 16);
        r.on_rto(SimTime::ZERO, 16, true);
        assert_eq!((r.cwnd(), r.ssthresh()), (1, 8));
        // The retransmission times out again: the threshold stays (RFC 5681 §3.1).
        r.on_rto(SimTime::ZERO, 16, false);
        assert_eq!((r.cwnd(), r.ssthresh()), (1, 8));
    }
}
