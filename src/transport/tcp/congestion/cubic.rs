//! CUBIC (RFC 9438, which keeps RFC 8312's constants): after a loss the window follows
//! `W(t) = C·(t − K)³ + W_max`, concave up to the old maximum and convex beyond it, and never
//! grows slower than Reno would (the Reno-friendly estimate `W_est`).
//!
//! Constants: C = 0.4, β = 0.7 (RFC 9438 §4.1, §4.6); fast convergence on (§4.7). Slow
//! start counts acknowledged segments (as Linux); HyStart is not modelled.

use super::{AckSample, CongestionControl};
use crate::engine::SimTime;

/// RFC 9438 §5: C = 0.4 (segments / s³).
pub const C: f64 = 0.4;
/// RFC 9438 §4.6: multiplicative decrease factor.
pub const BETA: f64 = 0.7;
/// RFC 9438 §4.3: Reno-friendly additive increase, 3(1 − β)/(1 + β) segments per RTT.
const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);

/// CUBIC congestion control state, window in segments.
#[derive(Clone, Debug)]
pub struct Cubic {
    cwnd: f64,
    ssthresh: f64,
    w_max: f64,
    k: f64,
    origin: f64,
    epoch_start: Option<SimTime>,
    w_est: f64,
}

impl Cubic {
    /// CUBIC with an initial window of `iw` segments.
    pub fn new(iw: u64) -> Cubic {
        Cubic {
            cwnd: iw as f64,
            ssthresh: f64::INFINITY,
            w_max: 0.0,
            k: 0.0,
            origin: 0.0,
            epoch_start: None,
            w_est: 0.0,
        }
    }

    /// W_cubic at `t` seconds into the epoch.
    fn w_cubic(&self, t: f64) -> f64 {
        C * (t - self.k).powi(3) + self.origin
    }

    fn reduce(&mut self) {
        self.epoch_start = None;
        // Fast convergence (§4.7): release bandwidth when the maximum keeps shrinking.
        self.w_max = if self.cwnd < self.w_max {
            self.cwnd * (1.0 + BETA) / 2.0
        } else {
            self.cwnd
        };
        self.ssthresh = (self.cwnd * BETA).max(2.0);
    }
}

impl CongestionControl for Cubic {
    fn on_ack(&mut self, ack: &AckSample) {
        if ack.in_recovery || ack.acked == 0 {
            return;
        }
        if self.cwnd < self.ssthresh {
            self.cwnd = (self.cwnd + ack.acked as f64).min(self.ssthresh.max(self.cwnd));
            return;
        }
        let rtt = ack.srtt.or(ack.min_rtt).map_or(0.1, |r| r.as_secs_f64());
        if self.epoch_start.is_none() {
            self.epoch_start = Some(ack.now);
            // A new epoch (§4.2): K from the distance to the last maximum.
            if self.cwnd < self.w_max {
                self.k = ((self.w_max - self.cwnd) / C).cbrt();
                self.origin = self.w_max;
            } else {
                self.k = 0.0;
                self.origin = self.cwnd;
            }
            self.w_est = self.cwnd;
        }
        let start = self.epoch_start.unwrap_or(ack.now);
        let t = ack.now.since(start).as_secs_f64();
        let acked = ack.acked as f64;
        // Reno-friendly estimate (§4.3): grows α segments per RTT's worth of ACKs.
        self.w_est += ALPHA * acked / self.cwnd;
        if self.w_cubic(t) < self.w_est {
            self.cwnd = self.w_est;
            return;
        }
        // Concave and convex regions (§4.4, §4.5): aim at W_cubic one RTT ahead, at most
        // 1.5·cwnd.
        let target = self.w_cubic(t + rtt).clamp(self.cwnd, 1.5 * self.cwnd);
        self.cwnd += acked * (target - self.cwnd) / self.cwnd;
    }

    fn on_congestion_event(&mut self, _now: SimTime, _in_flight: u64) {
        self.reduce();
        self.cwnd = self.ssthresh;
    }

    fn on_recovery_exit(&mut self, _now: SimTime) {
        self.cwnd = self.ssthresh;
    }

    fn on_rto(&mut self, _now: SimTime, _in_flight: u64, reduce: bool) {
        if reduce {
            self.reduce();
        }
        self.epoch_start = None;
        self.cwnd = 1.0;
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
    use crate::engine::SimDuration;

    fn ack_at(ms: u64, acked: u64) -> AckSample {
        AckSample {
            now: SimTime::ZERO + SimDuration::from_millis(ms),
            acked,
            lost: 0,
            rtt: None,
            min_rtt: None,
            srtt: Some(SimDuration::from_millis(100)),
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
    fn window_returns_to_w_max_after_k_seconds() {
        let mut c = Cubic::new(10);
        c.cwnd = 1000.0;
        c.on_congestion_event(SimTime::ZERO, 1000);
        assert_eq!(c.cwnd(), 700);
        // K = ∛(1000 · 0.3 / 0.4) = 9.086 s. Every ms, acknowledge what a full window
        // delivers in 1 ms at RTT 100 ms (cwnd/100). The window aims at W(t + RTT) and
        // closes the gap within about one RTT, so it stays between W(t) (less 1% of lag on the
        // steep start) and W(t + RTT).
        let k = (1000.0f64 * 0.3 / 0.4).cbrt();
        let w = |t: f64| C * (t - k).powi(3) + 1000.0;
        for ms in 1..15_000u64 {
            c.on_ack(&ack_at(ms, (c.cwnd / 100.0) as u64));
            let t = ms as f64 / 1000.0;
            if ms % 500 == 0 {
                assert!(
                    c.cwnd >= 0.99 * w(t) && c.cwnd <= w(t + 0.1) + 1.0,
                    "at {t} s cwnd {} outside [W(t), W(t+RTT)] = [{}, {}]",
                    c.cwnd,
                    w(t),
                    w(t + 0.1)
                );
            }
        }
        // Convex growth beyond W_max: W(15 s) = 1000 + 0.4·5.9³ ≈ 1083.
        assert!(c.cwnd > 1080.0, "cwnd {}", c.cwnd);
    }
}
