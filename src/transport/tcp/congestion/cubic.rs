//! CUBIC (RFC 9438, which keeps RFC 8312's constants): after a loss the window follows
//! `W(t) = C·(t − K)³ + W_max`, concave up to the old maximum and convex beyond it, and never
//! grows slower than Reno would (the Reno-friendly estimate `W_est`).
//!
//! Constants: C = 0.4, β = 0.7 (RFC 9438 §4.1, §4.6); fast convergence on (§4.7). Slow
//! start counts acknowledged segments (as Linux) and ends early on HyStart's signals, as
//! Linux CUBIC does by default (`tcp_cubic.c`, `hystart=1` since 2.6.29; Ha and Rhee, "Taming
//! the elephants: new TCP slow start", Computer Networks 55(9), 2011): once the ACKs of one
//! round have come back to back for half of `min_rtt + cushion`, or the round's smallest RTT
//! exceeds the minimum by `clamp(min_rtt/8, 4 ms, 16 ms)`, the window is about what the path
//! holds and `ssthresh = cwnd`. Without it slow start doubles past capacity plus buffer and
//! loses up to a window at once; β = 0.7 then leaves the recovery window up to 1.4 times what
//! the path holds, so retransmissions are dropped too, and the sender (no RACK) repairs those
//! only by its RTO. Until a first loss sets `W_max` the window grows at least 5% per RTT
//! (Linux `bictcp_update`: the capacity is still unknown).
//!
//! The cushion is Linux's `hystart_ack_delay` (since 5.7): four 64 KiB GSO packets at the
//! pacing rate Linux computes for every flow (2·cwnd·MSS/SRTT in slow start), at most 1 ms.
//! Linux adds it for TSO/GRO aggregation, which is not modelled here; it is kept because it
//! decides where Linux leaves slow start on short paths (without it a sub-millisecond path
//! exits at cwnd ≈ 20, as Linux did before). On paths of more than a few ms it is 1 ms.
//!
//! Left out: HyStart++ (RFC 9406), which Linux does not ship. HyStart uses the connection's
//! minimum RTT where Linux keeps its own (equal except after a timeout), and the pacing rate
//! as of this ACK where Linux uses the one computed at the previous ACK.

use super::{AckSample, CongestionControl};
use crate::engine::{SimDuration, SimTime};

/// RFC 9438 §5: C = 0.4 (segments / s³).
pub const C: f64 = 0.4;
/// RFC 9438 §4.6: multiplicative decrease factor.
pub const BETA: f64 = 0.7;
/// RFC 9438 §4.3: Reno-friendly additive increase, 3(1 − β)/(1 + β) segments per RTT.
const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);
/// Linux `hystart_low_window`: HyStart looks at no window smaller than this, segments.
const HYSTART_LOW_WINDOW: f64 = 16.0;
/// Linux `hystart_ack_delta_us`: ACKs closer than this belong to one train.
const HYSTART_ACK_DELTA: SimDuration = SimDuration::from_micros(2000);
/// Linux `HYSTART_MIN_SAMPLES`: RTT samples per round before the delay test applies.
const HYSTART_MIN_SAMPLES: u32 = 8;
/// Linux `HYSTART_DELAY_MIN` and `HYSTART_DELAY_MAX`: bounds of the delay threshold.
const HYSTART_DELAY_MIN: SimDuration = SimDuration::from_micros(4000);
const HYSTART_DELAY_MAX: SimDuration = SimDuration::from_micros(16_000);
/// Linux `hystart_ack_delay`: four GSO packets of `sk_gso_max_size` (64 KiB), bytes...
const HYSTART_CUSHION_BYTES: f64 = 4.0 * 65536.0;
/// ...at the pacing rate, at most 1 ms.
const HYSTART_CUSHION_MAX: SimDuration = SimDuration::from_micros(1000);

/// Hybrid slow start as Linux CUBIC runs it (`hystart_update`, both detectors on). A round
/// starts at the first ACK after `snd_una` passes the `snd_nxt` of the previous round's
/// start; `found` ends slow start until the next timeout.
#[derive(Clone, Debug)]
struct HyStart {
    found: bool,
    /// The round ends when `snd_una` passes this segment.
    end_seq: u64,
    round_start: SimTime,
    /// Last ACK of the current train (ACKs at most `HYSTART_ACK_DELTA` apart).
    last_ack: SimTime,
    /// Smallest RTT sampled this round.
    curr_rtt: Option<SimDuration>,
    samples: u32,
}

impl HyStart {
    fn new(now: SimTime, snd_nxt: u64) -> HyStart {
        HyStart {
            found: false,
            end_seq: snd_nxt,
            round_start: now,
            last_ack: now,
            curr_rtt: None,
            samples: 0,
        }
    }

    /// One RTT sample `rtt` in slow start, `train` the ACK-train threshold; true when slow
    /// start should end here.
    fn on_rtt(
        &mut self,
        ack: &AckSample,
        rtt: SimDuration,
        min_rtt: SimDuration,
        train: SimDuration,
    ) -> bool {
        if ack.snd_una > self.end_seq {
            *self = HyStart::new(ack.now, ack.snd_nxt);
        }
        // ACK train: ACKs of one window, back to back, have spanned about half the minimum
        // RTT, so the window already fills the path.
        if ack.now.since(self.last_ack) <= HYSTART_ACK_DELTA {
            self.last_ack = ack.now;
            if ack.now.since(self.round_start) > train {
                self.found = true;
            }
        }
        // Delay increase: the round's smallest RTT shows a standing queue.
        self.curr_rtt = Some(self.curr_rtt.map_or(rtt, |c| c.min(rtt)));
        if self.samples < HYSTART_MIN_SAMPLES {
            self.samples += 1;
        } else {
            let eta = SimDuration(min_rtt.as_ps() / 8).clamp(HYSTART_DELAY_MIN, HYSTART_DELAY_MAX);
            if self.curr_rtt.is_some_and(|c| c > min_rtt + eta) {
                self.found = true;
            }
        }
        self.found
    }
}

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
    /// Payload bytes per segment, for the pacing rate in HyStart's cushion.
    mss: u32,
    hystart: HyStart,
    /// `snd_nxt` of the latest ACK, where a timeout restarts HyStart's round.
    snd_nxt: u64,
}

impl Cubic {
    /// CUBIC with an initial window of `iw` segments of `mss` payload bytes.
    pub fn new(iw: u64, mss: u32) -> Cubic {
        Cubic {
            cwnd: iw as f64,
            ssthresh: f64::INFINITY,
            w_max: 0.0,
            k: 0.0,
            origin: 0.0,
            epoch_start: None,
            w_est: 0.0,
            mss,
            hystart: HyStart::new(SimTime::ZERO, 0),
            snd_nxt: 0,
        }
    }

    /// W_cubic at `t` seconds into the epoch.
    fn w_cubic(&self, t: f64) -> f64 {
        C * (t - self.k).powi(3) + self.origin
    }

    /// Linux `hystart_ack_delay`: the time four 64 KiB GSO packets take at the pacing rate
    /// Linux sets for every flow (`tcp_update_pacing_rate`: 200% of cwnd·MSS/SRTT below half
    /// ssthresh, else 120%), at most 1 ms. The ACK-train threshold is half of
    /// `min_rtt + cushion` (Linux halves it when the flow is not paced).
    fn hystart_cushion(&self, ack: &AckSample) -> SimDuration {
        let Some(srtt) = ack.srtt.filter(|s| s.as_ps() > 0) else {
            return SimDuration::ZERO;
        };
        let ratio = if self.cwnd < self.ssthresh / 2.0 {
            2.0
        } else {
            1.2
        };
        let window = self.cwnd.max(ack.in_flight as f64);
        let rate = ratio * window * self.mss as f64 / srtt.as_secs_f64(); // bytes/s
        let cushion = SimDuration((HYSTART_CUSHION_BYTES / rate * 1e12) as u64);
        cushion.min(HYSTART_CUSHION_MAX)
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
        self.snd_nxt = ack.snd_nxt;
        if ack.in_recovery || ack.acked == 0 {
            return;
        }
        if self.cwnd < self.ssthresh && self.cwnd >= HYSTART_LOW_WINDOW && !self.hystart.found {
            if let (Some(rtt), Some(min_rtt)) = (ack.rtt, ack.min_rtt) {
                let train = SimDuration((min_rtt + self.hystart_cushion(ack)).as_ps() / 2);
                if self.hystart.on_rtt(ack, rtt, min_rtt, train) {
                    self.ssthresh = self.cwnd;
                }
            }
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
        let before = self.cwnd;
        // Reno-friendly estimate (§4.3): grows α segments per RTT's worth of ACKs.
        self.w_est += ALPHA * acked / self.cwnd;
        if self.w_cubic(t) < self.w_est {
            self.cwnd = self.w_est;
        } else {
            // Concave and convex regions (§4.4, §4.5): aim at W_cubic one RTT ahead, at most
            // 1.5·cwnd.
            let target = self.w_cubic(t + rtt).clamp(self.cwnd, 1.5 * self.cwnd);
            self.cwnd += acked * (target - self.cwnd) / self.cwnd;
        }
        if self.w_max == 0.0 {
            // No loss yet (slow start ended by HyStart): Linux grows one segment per 20
            // acknowledged at least, 5% per RTT, since the capacity is still unknown.
            self.cwnd = self.cwnd.max(before + acked / 20.0);
        }
    }

    fn on_congestion_event(&mut self, _now: SimTime, _in_flight: u64) {
        self.reduce();
        self.cwnd = self.ssthresh;
    }

    fn on_recovery_exit(&mut self, _now: SimTime) {
        self.cwnd = self.ssthresh;
    }

    fn on_rto(&mut self, now: SimTime, _in_flight: u64, reduce: bool) {
        if reduce {
            self.reduce();
        }
        self.epoch_start = None;
        self.cwnd = 1.0;
        // Linux `cubictcp_state(TCP_CA_Loss)`: HyStart watches the new slow start afresh.
        self.hystart = HyStart::new(now, self.snd_nxt);
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

    /// An ACK of `acked` segments at `us` µs with an RTT sample and `snd_una` after it; the
    /// sender is 1000 segments ahead, so the round it starts outlasts the test.
    fn slow_start_ack(us: u64, acked: u64, snd_una: u64, rtt_us: u64, min_us: u64) -> AckSample {
        AckSample {
            now: SimTime::ZERO + SimDuration::from_micros(us),
            acked,
            rtt: Some(SimDuration::from_micros(rtt_us)),
            min_rtt: Some(SimDuration::from_micros(min_us)),
            srtt: Some(SimDuration::from_micros(rtt_us)),
            snd_una,
            snd_nxt: snd_una + 1000,
            ..ack_at(0, acked)
        }
    }

    #[test]
    fn hystart_ack_train_ends_slow_start_after_half_the_minimum_rtt_and_cushion() {
        // The train threshold is (min_rtt + cushion) / 2, the cushion 4 · 64 KiB at
        // 2 · cwnd · 1448 B / SRTT, at most 1 ms. Every ACK covers 2 segments and arrives one
        // 2-segment wire time after the last; slow start adds 2 per ACK, so ACK k (k = 0
        // starts the round) finds cwnd = 40 + 2k. The ACK that passes the threshold ends slow
        // start at that window, before its own increment.
        //
        // 100 Mbit/s, 20 ms: ACKs every 240 µs. The cushion, 262144 / (144800 · cwnd) s, is
        // over 1 ms for any cwnd here, so the threshold is (20 + 1) / 2 = 10.5 ms, first passed
        // by k = 44 (10.56 ms): ssthresh = 128.
        // 1 Gbit/s, 400 µs: ACKs every 24 µs; cushion 36208 µs / cwnd, threshold
        // 200 + 18104 / (40 + 2k) µs: k = 18 is 432 < 438 µs, k = 19 is 456 > 432 µs, so
        // ssthresh = 78, 2.3 BDPs of 33 (without the cushion k = 9 would end it at 58).
        for (gap_us, rtt_us, k_exit) in [(240, 20_000, 44), (24, 400, 19)] {
            let mut c = Cubic::new(40, 1448);
            for k in 0..k_exit {
                c.on_ack(&slow_start_ack(gap_us * k, 2, 2 * (k + 1), rtt_us, rtt_us));
                assert_eq!(c.ssthresh(), u64::MAX, "ACK {k} at {} µs", gap_us * k);
            }
            let at = gap_us * k_exit;
            c.on_ack(&slow_start_ack(at, 2, 2 * (k_exit + 1), rtt_us, rtt_us));
            let w = 40 + 2 * k_exit;
            assert_eq!((c.ssthresh(), c.cwnd()), (w, w), "RTT {rtt_us} µs");
            // That ACK was already congestion avoidance. No loss has set W_max, so the window
            // grows by Linux's floor of one segment per 20 acknowledged (5% per RTT): 40 ACKs,
            // 80 segments, add 4.0 where the Reno-friendly rate alone adds 80 · 0.53 / w ≤ 0.6.
            for j in 1..40u64 {
                let k = k_exit + j;
                c.on_ack(&slow_start_ack(gap_us * k, 2, 2 * (k + 1), rtt_us, rtt_us));
            }
            assert!((c.cwnd - (w as f64 + 4.0)).abs() < 1e-9, "cwnd {}", c.cwnd);
        }
    }

    #[test]
    fn hystart_delay_ends_slow_start_when_the_round_minimum_rtt_rises() {
        // 10 ms minimum RTT: the threshold is clamp(10/8 ms, 4 ms, 16 ms) = 4 ms above it.
        // ACKs 3 ms apart are no train. The round's first 8 samples only gather its minimum;
        // the 9th compares it: 13.9 ms is no exit, 14.1 ms is.
        for (rtt, exits) in [(13_900, false), (14_100, true)] {
            let mut c = Cubic::new(20, 1448);
            for k in 0..9u64 {
                assert_eq!(c.ssthresh(), u64::MAX, "rtt {rtt} µs, ACK {k}");
                c.on_ack(&slow_start_ack(3000 * k, 1, k + 1, rtt, 10_000));
            }
            // Exit at the 9th ACK, before its own slow-start increment: 20 + 8 = 28.
            let want = if exits { 28 } else { u64::MAX };
            assert_eq!(c.ssthresh(), want, "rtt {rtt} µs");
        }
    }

    #[test]
    fn window_returns_to_w_max_after_k_seconds() {
        let mut c = Cubic::new(10, 1448);
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
