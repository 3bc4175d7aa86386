//! BBR v1: a model-based sender that paces at its estimate of the bottleneck bandwidth
//! (BtlBw) and keeps about two bandwidth-delay products in flight, the BDP being
//! BtlBw × RTprop (the round-trip propagation time).
//!
//! Sources: N. Cardwell, Y. Cheng, C. S. Gunn, S. H. Yeganeh, V. Jacobson, "BBR:
//! Congestion-Based Congestion Control", ACM Queue 14(5), 2016; the IETF description
//! draft-cardwell-iccrg-bbr-congestion-control-00 (2017), cited as "draft" with a section
//! title or pseudocode name; and Linux `net/ipv4/tcp_bbr.c` (BBR v1), cited by its function
//! and constant names.
//!
//! The model:
//! - BtlBw is the maximum delivery-rate sample over the last 10 round trips (draft, "BBR.BtlBw").
//!   Linux approximates that window with Kathleen Nichols' three-sample minmax; here a
//!   fixed array keeps one maximum per round, which is exact for the window and needs no
//!   allocation. App-limited samples enter only when they exceed the current maximum. As
//!   with Linux's minmax, the window ages only when a sample enters it (it spans the 10
//!   rounds ending at the newest admitted sample), so a stretch of app-limited rounds, such
//!   as ProbeRTT's, leaves the estimate in place instead of expiring it.
//! - RTprop is the minimum RTT sample over 10 s (draft, "BBR.RTprop"). A sample replaces it when
//!   strictly smaller, or when the 10 s have run out (Linux `bbr_update_min_rtt`).
//! - Round trips are counted as in Linux `bbr_update_bw`: a round ends when an ACK's rate
//!   sample covers a segment sent after the previous round ended, i.e. when its
//!   `prior_delivered` reaches `next_round_delivered`, which is then set to the current
//!   `delivered`.
//!
//! The state machine (draft, "State Machine"; Linux `bbr_update_model`):
//! - **Startup**: pacing and cwnd gain 2/ln 2, so the sending rate doubles every round.
//!   The pipe is full when BtlBw grew less than 25% over 3 rounds in a row that were not
//!   app-limited (`bbr_check_full_bw_reached`); then **Drain**.
//! - **Drain**: pacing gain ln 2/2 (the inverse), cwnd gain still 2/ln 2, until the data
//!   in flight is at most one BDP (plus quanta); then **ProbeBW**.
//! - **ProbeBW**: cwnd gain 2 and a pacing-gain cycle of eight phases [1.25, 0.75, 1, 1, 1,
//!   1, 1, 1], each about one RTprop (`bbr_is_next_cycle_phase`): the 1.25 phase lasts at
//!   least RTprop and until in flight reaches 1.25·BDP (or a loss), the 0.75 phase ends
//!   after RTprop or as soon as in flight is down to one BDP. Linux starts the cycle at a
//!   random phase other than 0.75; no randomness is available here, so every flow starts at
//!   the fixed phase [`PROBE_BW_START_PHASE`] (the first 1.0 phase, which is one of Linux's
//!   seven choices).
//! - **ProbeRTT**: entered from any state when RTprop has not been refreshed for 10 s; cwnd
//!   is held at 4 segments, and once in flight has fallen to 4 the state lasts the longer of
//!   200 ms and one round, after which the saved cwnd is restored and the flow returns to
//!   ProbeBW (or Startup if the pipe was never full). As Linux does, rate samples of
//!   segments sent during ProbeRTT (until everything in flight when it ended is delivered)
//!   are treated as app-limited, so the low rates do not pull BtlBw down.
//!
//! cwnd is `cwnd_gain × BDP + 3` segments (Linux adds 3 send quanta, `bbr_quantization_
//! budget`), reached by growing `acked` segments per ACK, and never below 4; until the
//! first RTT sample the BDP is the initial window (draft `BBRInflight`). Loss does not touch
//! the model (BBR v1 keeps BtlBw and RTprop on loss); the window handles it as Linux
//! `bbr_set_cwnd_to_recover_or_restore` does: newly lost segments come off cwnd, the first
//! round of fast recovery uses packet conservation (cwnd = in flight + newly acked), and the
//! cwnd saved on entering recovery is restored when it ends. A retransmission timeout sets
//! cwnd to 1 segment and restores the saved cwnd once the data that was outstanding at the
//! timeout has been delivered (Linux leaves its Loss state when `snd_una` passes the old
//! `snd_nxt`; the sender does not report that, so the delivered count stands in for it).
//!
//! Left out: Linux's long-term bandwidth (policer) sampling, ACK-aggregation cwnd headroom
//! and idle-restart handling (none of them is in the paper or draft -00), the 1% pacing
//! margin of later Linux versions, and Linux's rounding of cwnd up to an even number and
//! extra 2 segments in the 1.25 phase.
//!
//! Deterministic and allocation-free per ACK: plain `f64` arithmetic on fixed-size state.

use super::{AckSample, CongestionControl, RateSample};
use crate::engine::{SimDuration, SimTime};

/// Startup pacing and cwnd gain, 2/ln 2 ≈ 2.885: the smallest gain that doubles the
/// delivery rate every round (draft `BBRHighGain`; Linux `bbr_high_gain`).
pub const HIGH_GAIN: f64 = 2.0 / std::f64::consts::LN_2;
/// Drain pacing gain, ln 2/2 ≈ 1/2.885: drains Startup's queue in about one round (draft
/// "Drain"; Linux `bbr_drain_gain`).
pub const DRAIN_GAIN: f64 = 1.0 / HIGH_GAIN;
/// ProbeBW cwnd gain (draft "ProbeBW", `BBR.cwnd_gain = 2`; Linux `bbr_cwnd_gain`).
pub const CWND_GAIN: f64 = 2.0;
/// ProbeBW pacing-gain cycle (Cardwell et al. 2016; draft "ProbeBW"; Linux
/// `bbr_pacing_gain`).
pub const PACING_GAIN_CYCLE: [f64; 8] = [1.25, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
/// The phase every ProbeBW episode starts in. Linux picks uniformly among the phases other
/// than the 0.75 one (`bbr_reset_probe_bw_mode`); without randomness this fixes the first
/// 1.0 phase, so a flow cruises for six RTprops before its first probe.
pub const PROBE_BW_START_PHASE: usize = 2;
/// BtlBw max-filter window, round trips (draft `BtlBwFilterLen`; Linux
/// `bbr_bw_rtts` = cycle length + 2 = 10).
pub const BTLBW_FILTER_ROUNDS: usize = 10;
/// RTprop min-filter window (draft `RTpropFilterLen`; Linux `bbr_min_rtt_win_sec`).
pub const RTPROP_FILTER_LEN: SimDuration = SimDuration::from_secs(10);
/// Minimum time held at the ProbeRTT window (draft `ProbeRTTDuration`; Linux
/// `bbr_probe_rtt_mode_ms`).
pub const PROBE_RTT_DURATION: SimDuration = SimDuration::from_millis(200);
/// Smallest cwnd, and the ProbeRTT window, segments (draft `BBRMinPipeCwnd`; Linux
/// `bbr_cwnd_min_target`).
pub const MIN_PIPE_CWND: u64 = 4;
/// Full pipe: BtlBw must grow by this factor per round (draft `BBRCheckFullPipe`; Linux
/// `bbr_full_bw_thresh`) ...
pub const FULL_BW_THRESH: f64 = 1.25;
/// ... or after this many rounds without such growth the pipe is full (Linux
/// `bbr_full_bw_cnt`).
pub const FULL_BW_COUNT: u32 = 3;
/// Headroom added to every in-flight target, segments: draft `BBRInflight` adds
/// `3 × send_quantum`, Linux `bbr_quantization_budget` 3 TSO bursts; one segment per quantum
/// here.
pub const QUANTA: u64 = 3;

/// BBR's operating states (draft, "State Machine").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Exponential search for the bottleneck rate.
    Startup,
    /// Drains the queue Startup built.
    Drain,
    /// Steady state: cycles pacing gain around the estimated rate.
    ProbeBw,
    /// Cuts inflight to re-measure the minimum RTT.
    ProbeRtt,
}

/// BBR congestion control state (model of bottleneck rate and min RTT).
#[derive(Clone, Debug)]
pub struct Bbr {
    mss: u32,
    iw: u64,
    mode: Mode,
    /// Congestion window, segments.
    cwnd: u64,
    /// The last good cwnd, saved on entering recovery, a timeout or ProbeRTT.
    prior_cwnd: u64,
    /// Segments per second.
    pacing_rate: f64,
    pacing_gain: f64,
    cwnd_gain: f64,
    has_seen_rtt: bool,

    /// Maximum rate sample (segments/s) of round `bw_round[i]`, for the round numbers
    /// congruent to `i` modulo the window; round 0 marks an empty slot.
    bw_max: [f64; BTLBW_FILTER_ROUNDS],
    bw_round: [u64; BTLBW_FILTER_ROUNDS],
    /// The round of the newest sample in the filter.
    bw_filter_round: u64,
    round_count: u64,
    next_round_delivered: u64,
    round_start: bool,
    /// The connection's delivered count at the last ACK.
    delivered: u64,

    rt_prop: Option<SimDuration>,
    rt_prop_stamp: SimTime,

    full_bw: f64,
    full_bw_count: u32,
    full_bw_reached: bool,

    cycle_index: usize,
    cycle_stamp: SimTime,

    probe_rtt_done_stamp: Option<SimTime>,
    probe_rtt_round_done: bool,
    /// Segments sent while `delivered` was in this range were sent in ProbeRTT (or before
    /// its in-flight data was delivered): their rate samples count as app-limited, as
    /// Linux marks them through `tp->app_limited`.
    probe_rtt_app_limited: (u64, u64),

    /// `in_recovery` of the previous ACK that acknowledged data.
    prev_in_recovery: bool,
    /// `on_congestion_event` was called and no ACK has been processed since.
    recovery_pending: bool,
    packet_conservation: bool,
    /// After a timeout, until `delivered` reaches `loss_end_delivered`.
    in_loss: bool,
    loss_end_delivered: u64,
}

impl Bbr {
    /// BBR in Startup with an initial window of `iw` segments of `mss` bytes.
    pub fn new(iw: u64, mss: u32) -> Bbr {
        let iw = iw.max(1);
        Bbr {
            mss,
            iw,
            mode: Mode::Startup,
            cwnd: iw,
            prior_cwnd: iw,
            // Linux `bbr_init_pacing_rate_from_rtt` without an RTT: the initial window over a
            // nominal 1 ms, times the high gain.
            pacing_rate: HIGH_GAIN * iw as f64 / 1e-3,
            pacing_gain: HIGH_GAIN,
            cwnd_gain: HIGH_GAIN,
            has_seen_rtt: false,
            bw_max: [0.0; BTLBW_FILTER_ROUNDS],
            bw_round: [0; BTLBW_FILTER_ROUNDS],
            bw_filter_round: 0,
            round_count: 0,
            next_round_delivered: 0,
            round_start: false,
            delivered: 0,
            rt_prop: None,
            rt_prop_stamp: SimTime::ZERO,
            full_bw: 0.0,
            full_bw_count: 0,
            full_bw_reached: false,
            cycle_index: PROBE_BW_START_PHASE,
            cycle_stamp: SimTime::ZERO,
            probe_rtt_done_stamp: None,
            probe_rtt_round_done: false,
            probe_rtt_app_limited: (u64::MAX, 0),
            prev_in_recovery: false,
            recovery_pending: false,
            packet_conservation: false,
            in_loss: false,
            loss_end_delivered: 0,
        }
    }

    /// The current state.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// BtlBw: the windowed maximum delivery rate, segments per second (0 before a sample).
    pub fn btl_bw(&self) -> f64 {
        // The window ends at the round of the newest sample taken in, as with Linux's
        // minmax, which ages only on insertion: rounds whose samples are all app-limited
        // (ProbeRTT's, say) leave the estimate alone instead of expiring it.
        let oldest = self
            .bw_filter_round
            .saturating_sub(BTLBW_FILTER_ROUNDS as u64 - 1);
        let mut max = 0.0f64;
        for (&round, &bw) in self.bw_round.iter().zip(&self.bw_max) {
            if round != 0 && round >= oldest {
                max = max.max(bw);
            }
        }
        max
    }

    /// RTprop: the windowed minimum RTT, once measured.
    pub fn rt_prop(&self) -> Option<SimDuration> {
        self.rt_prop
    }

    /// Round trips counted so far.
    pub fn round_count(&self) -> u64 {
        self.round_count
    }

    /// The ProbeBW gain-cycle phase (meaningful in ProbeBW).
    pub fn cycle_index(&self) -> usize {
        self.cycle_index
    }

    /// Segments in flight that `gain` BDPs plus quanta allow (draft `BBRInflight`); the
    /// initial window before the first RTT sample.
    fn inflight(&self, bw: f64, gain: f64) -> u64 {
        match self.rt_prop {
            None => self.iw,
            Some(rt) => (gain * bw * rt.as_secs_f64()).ceil() as u64 + QUANTA,
        }
    }

    fn sample_app_limited(&self, rs: &RateSample) -> bool {
        let (from, to) = self.probe_rtt_app_limited;
        rs.is_app_limited || (from..=to).contains(&rs.prior_delivered)
    }

    /// Round counting and the BtlBw filter (Linux `bbr_update_bw`).
    fn update_bw(&mut self, ack: &AckSample) {
        self.round_start = false;
        let Some(rs) = ack.rate else { return };
        let Some(bw) = rs.rate() else { return };
        if rs.prior_delivered >= self.next_round_delivered {
            self.next_round_delivered = ack.delivered;
            self.round_count += 1;
            self.round_start = true;
            self.packet_conservation = false;
        }
        if !self.sample_app_limited(&rs) || bw >= self.btl_bw() {
            self.bw_filter_round = self.round_count;
            let slot = (self.round_count % BTLBW_FILTER_ROUNDS as u64) as usize;
            if self.bw_round[slot] != self.round_count {
                self.bw_round[slot] = self.round_count;
                self.bw_max[slot] = bw;
            } else {
                self.bw_max[slot] = self.bw_max[slot].max(bw);
            }
        }
    }

    /// ProbeBW gain cycling (Linux `bbr_update_cycle_phase`, draft `BBRIsNextCyclePhase`).
    fn update_cycle_phase(&mut self, ack: &AckSample) {
        if self.mode != Mode::ProbeBw {
            return;
        }
        let gain = PACING_GAIN_CYCLE[self.cycle_index];
        let full_length = self
            .rt_prop
            .is_some_and(|rt| ack.now.since(self.cycle_stamp) > rt);
        // In flight before this ACK took its segments out of the network.
        let prior_inflight = ack.in_flight + ack.acked + ack.lost;
        let next = if gain == 1.0 {
            full_length
        } else if gain > 1.0 {
            // Probe until the extra 0.25 BDP is in the network, or loss says it won't fit.
            full_length && (ack.lost > 0 || prior_inflight >= self.inflight(self.btl_bw(), gain))
        } else {
            // Drain what the probe queued; done early once in flight is back to one BDP.
            full_length || prior_inflight <= self.inflight(self.btl_bw(), 1.0)
        };
        if next {
            self.cycle_index = (self.cycle_index + 1) % PACING_GAIN_CYCLE.len();
            self.cycle_stamp = ack.now;
        }
    }

    /// Linux `bbr_check_full_bw_reached` (draft `BBRCheckFullPipe`).
    fn check_full_bw_reached(&mut self, ack: &AckSample) {
        if self.full_bw_reached || !self.round_start {
            return;
        }
        if ack.rate.is_some_and(|rs| self.sample_app_limited(&rs)) {
            return;
        }
        let bw = self.btl_bw();
        if bw >= self.full_bw * FULL_BW_THRESH {
            self.full_bw = bw;
            self.full_bw_count = 0;
            return;
        }
        self.full_bw_count += 1;
        self.full_bw_reached = self.full_bw_count >= FULL_BW_COUNT;
    }

    /// Linux `bbr_check_drain` (draft `BBRCheckDrain`).
    fn check_drain(&mut self, ack: &AckSample) {
        if self.mode == Mode::Startup && self.full_bw_reached {
            self.mode = Mode::Drain;
        }
        if self.mode == Mode::Drain && ack.in_flight <= self.inflight(self.btl_bw(), 1.0) {
            self.enter_probe_bw(ack.now);
        }
    }

    fn enter_probe_bw(&mut self, now: SimTime) {
        self.mode = Mode::ProbeBw;
        self.cycle_index = PROBE_BW_START_PHASE;
        self.cycle_stamp = now;
    }

    /// Linux `bbr_save_cwnd`: remember a cwnd to return to.
    fn save_cwnd(&mut self) {
        if !self.prev_in_recovery && !self.in_loss && self.mode != Mode::ProbeRtt {
            self.prior_cwnd = self.cwnd;
        } else {
            // Recovery or ProbeRTT has cut cwnd for now: keep the larger.
            self.prior_cwnd = self.prior_cwnd.max(self.cwnd);
        }
    }

    /// The RTprop filter and ProbeRTT (Linux `bbr_update_min_rtt`; draft `BBRUpdateRTprop`,
    /// `BBRCheckProbeRTT`).
    fn update_min_rtt(&mut self, ack: &AckSample) {
        let expired = self.rt_prop.is_some() && ack.now > self.rt_prop_stamp + RTPROP_FILTER_LEN;
        match (ack.rtt, self.rt_prop) {
            (Some(rtt), Some(min)) if rtt < min || expired => {
                self.rt_prop = Some(rtt);
                self.rt_prop_stamp = ack.now;
            }
            (Some(rtt), None) => {
                self.rt_prop = Some(rtt);
                self.rt_prop_stamp = ack.now;
            }
            (None, None) => {
                // No sample of our own yet: start from the connection's minimum.
                if let Some(min) = ack.min_rtt {
                    self.rt_prop = Some(min);
                    self.rt_prop_stamp = ack.now;
                }
            }
            _ => {}
        }

        if expired && self.mode != Mode::ProbeRtt {
            self.mode = Mode::ProbeRtt;
            self.save_cwnd();
            self.probe_rtt_done_stamp = None;
            self.probe_rtt_app_limited = (ack.delivered, ack.delivered);
        }
        if self.mode != Mode::ProbeRtt {
            return;
        }
        // Segments sent from now until all in flight is delivered are sent at ProbeRTT's
        // low rate (Linux sets `tp->app_limited = delivered + in_flight`).
        self.probe_rtt_app_limited.1 = ack.delivered + ack.in_flight;
        match self.probe_rtt_done_stamp {
            None if ack.in_flight <= MIN_PIPE_CWND => {
                self.probe_rtt_done_stamp = Some(ack.now + PROBE_RTT_DURATION);
                self.probe_rtt_round_done = false;
                self.next_round_delivered = ack.delivered;
            }
            Some(done) => {
                if self.round_start {
                    self.probe_rtt_round_done = true;
                }
                if self.probe_rtt_round_done && ack.now > done {
                    // Linux `bbr_check_probe_rtt_done`.
                    self.rt_prop_stamp = ack.now;
                    self.cwnd = self.cwnd.max(self.prior_cwnd);
                    if self.full_bw_reached {
                        self.enter_probe_bw(ack.now);
                    } else {
                        self.mode = Mode::Startup;
                    }
                }
            }
            None => {}
        }
    }

    /// Linux `bbr_update_gains`.
    fn update_gains(&mut self) {
        (self.pacing_gain, self.cwnd_gain) = match self.mode {
            Mode::Startup => (HIGH_GAIN, HIGH_GAIN),
            Mode::Drain => (DRAIN_GAIN, HIGH_GAIN),
            Mode::ProbeBw => (PACING_GAIN_CYCLE[self.cycle_index], CWND_GAIN),
            Mode::ProbeRtt => (1.0, 1.0),
        };
    }

    /// Linux `bbr_set_pacing_rate` (draft `BBRSetPacingRate`).
    fn set_pacing_rate(&mut self, ack: &AckSample) {
        if !self.has_seen_rtt {
            if let Some(rtt) = ack.srtt.or(ack.rtt) {
                // `bbr_init_pacing_rate_from_rtt`: the window over the first RTT.
                let secs = rtt.as_secs_f64().max(1e-6);
                self.pacing_rate = HIGH_GAIN * self.cwnd as f64 / secs;
                self.has_seen_rtt = true;
            }
        }
        let bw = self.btl_bw();
        if bw <= 0.0 {
            return;
        }
        let rate = self.pacing_gain * bw;
        // Startup never slows down before the pipe is full.
        if self.full_bw_reached || rate > self.pacing_rate {
            self.pacing_rate = rate;
        }
    }

    /// Linux `bbr_set_cwnd_to_recover_or_restore`: returns the cwnd to start from and
    /// whether packet conservation decides it alone.
    fn recover_or_restore(&mut self, ack: &AckSample) -> (u64, bool) {
        let mut cwnd = self.cwnd;
        if ack.lost > 0 {
            // An ACK should release at most about twice what it took out of the network.
            cwnd = cwnd.saturating_sub(ack.lost).max(1);
        }
        let entering = self.recovery_pending || (ack.in_recovery && !self.prev_in_recovery);
        self.recovery_pending = false;
        if entering {
            // First round of recovery: packet conservation, and a round starts now.
            self.packet_conservation = true;
            self.next_round_delivered = ack.delivered;
            cwnd = ack.in_flight + ack.acked;
        } else if (self.prev_in_recovery && !ack.in_recovery)
            || (self.in_loss && ack.delivered >= self.loss_end_delivered)
        {
            cwnd = cwnd.max(self.prior_cwnd);
            self.packet_conservation = false;
            self.in_loss = false;
        }
        self.prev_in_recovery = ack.in_recovery;
        if self.packet_conservation {
            return (cwnd.max(ack.in_flight + ack.acked), true);
        }
        (cwnd, false)
    }

    /// Linux `bbr_set_cwnd` (draft `BBRSetCwnd`).
    fn set_cwnd(&mut self, ack: &AckSample) {
        if ack.acked > 0 {
            let (mut cwnd, conserving) = self.recover_or_restore(ack);
            if !conserving {
                let target = self.inflight(self.btl_bw(), self.cwnd_gain);
                if self.full_bw_reached {
                    cwnd = (cwnd + ack.acked).min(target);
                } else if cwnd < target || ack.delivered < self.iw {
                    cwnd += ack.acked;
                }
                cwnd = cwnd.max(MIN_PIPE_CWND);
            }
            self.cwnd = cwnd;
        }
        if self.mode == Mode::ProbeRtt {
            self.cwnd = self.cwnd.min(MIN_PIPE_CWND);
        }
    }
}

impl CongestionControl for Bbr {
    fn on_ack(&mut self, ack: &AckSample) {
        self.delivered = ack.delivered;
        // Linux `bbr_main`: update the model, then derive pacing rate and cwnd from it.
        self.update_bw(ack);
        self.update_cycle_phase(ack);
        self.check_full_bw_reached(ack);
        self.check_drain(ack);
        self.update_min_rtt(ack);
        self.update_gains();
        self.set_pacing_rate(ack);
        self.set_cwnd(ack);
    }

    fn on_congestion_event(&mut self, _now: SimTime, _in_flight: u64) {
        // Linux `bbr_ssthresh`: save cwnd; the next ACK starts packet conservation.
        self.save_cwnd();
        self.recovery_pending = true;
    }

    fn on_recovery_exit(&mut self, _now: SimTime) {
        self.cwnd = self.cwnd.max(self.prior_cwnd);
        self.packet_conservation = false;
        self.prev_in_recovery = false;
        self.recovery_pending = false;
        self.in_loss = false;
    }

    fn on_rto(&mut self, _now: SimTime, in_flight: u64, _reduce: bool) {
        self.save_cwnd();
        // Linux `bbr_set_state(TCP_CA_Loss)`: the model stays; the full-pipe baseline
        // restarts.
        self.full_bw = 0.0;
        self.in_loss = true;
        self.loss_end_delivered = self.delivered + in_flight;
        self.prev_in_recovery = false;
        self.recovery_pending = false;
        self.packet_conservation = false;
        self.cwnd = 1; // the loss window (RFC 5681 §3.1)
    }

    fn cwnd(&self) -> u64 {
        self.cwnd.max(1)
    }

    fn ssthresh(&self) -> u64 {
        u64::MAX
    }

    fn pacing_rate_bps(&self) -> Option<f64> {
        Some(self.pacing_rate * self.mss as f64 * 8.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    const MSS: u32 = 1448;
    const IW: u64 = 10;

    /// A segment in flight in the test path.
    #[derive(Clone, Copy)]
    struct Pkt {
        sent_at: SimTime,
        ack_at: SimTime,
        // Rate-sampling state at transmission (draft-cheng-iccrg-delivery-rate-estimation).
        delivered: u64,
        delivered_time: SimTime,
        first_sent_time: SimTime,
    }

    /// A tiny deterministic path: one FIFO bottleneck serving `rate` segments/s, then
    /// `prop` of propagation (both directions lumped), one ACK per segment, no loss. The
    /// sender side keeps in flight at most `cwnd()` segments, spaces them at the pacing
    /// rate, and samples delivery rates the way the real sender does. So the RTT of a
    /// segment is `prop + 1/rate + queue/rate`.
    struct Path {
        bbr: Bbr,
        rate: f64,
        prop: SimDuration,
        now: SimTime,
        flight: VecDeque<Pkt>,
        link_free: SimTime,
        last_ack_at: SimTime,
        next_send: SimTime,
        delivered: u64,
        delivered_time: SimTime,
        first_sent_time: SimTime,
        srtt: Option<SimDuration>,
        min_rtt: Option<SimDuration>,
        /// The last ACK fed to BBR.
        last_ack: Option<AckSample>,
    }

    impl Path {
        fn new(rate: f64, prop_ms: u64) -> Path {
            Path {
                bbr: Bbr::new(IW, MSS),
                rate,
                prop: SimDuration::from_millis(prop_ms),
                now: SimTime::ZERO,
                flight: VecDeque::new(),
                link_free: SimTime::ZERO,
                last_ack_at: SimTime::ZERO,
                next_send: SimTime::ZERO,
                delivered: 0,
                delivered_time: SimTime::ZERO,
                first_sent_time: SimTime::ZERO,
                srtt: None,
                min_rtt: None,
                last_ack: None,
            }
        }

        fn service(&self) -> SimDuration {
            SimDuration::from_ps((1e12 / self.rate).round() as u64)
        }

        /// Smallest possible RTT (empty queue), seconds.
        fn base_rtt(&self) -> f64 {
            (self.prop + self.service()).as_secs_f64()
        }

        /// Bandwidth-delay product at the base RTT, segments.
        fn bdp(&self) -> f64 {
            self.rate * self.base_rtt()
        }

        fn in_flight(&self) -> u64 {
            self.flight.len() as u64
        }

        fn pacing_segs(&self) -> f64 {
            self.bbr.pacing_rate_bps().expect("BBR paces") / (MSS as f64 * 8.0)
        }

        /// The next event: its time and whether it is an ACK arrival (ACKs go first on
        /// ties) rather than a transmission.
        fn next_event(&self) -> (SimTime, bool) {
            let t_ack = self.flight.front().map(|p| p.ack_at);
            let t_send = (self.in_flight() < self.bbr.cwnd()).then(|| self.now.max(self.next_send));
            match (t_ack, t_send) {
                (Some(a), Some(s)) if s < a => (s, false),
                (Some(a), _) => (a, true),
                (None, Some(s)) => (s, false),
                (None, None) => unreachable!("cwnd is at least 1"),
            }
        }

        fn send(&mut self, t: SimTime) {
            self.now = t;
            if self.flight.is_empty() {
                self.first_sent_time = t;
                self.delivered_time = t;
            }
            let departs = self.now.max(self.link_free) + self.service();
            self.link_free = departs;
            let ack_at = (departs + self.prop).max(self.last_ack_at);
            self.last_ack_at = ack_at;
            self.flight.push_back(Pkt {
                sent_at: t,
                ack_at,
                delivered: self.delivered,
                delivered_time: self.delivered_time,
                first_sent_time: self.first_sent_time,
            });
            let gap = 1e12 / self.pacing_segs();
            self.next_send = t + SimDuration::from_ps(gap.round() as u64);
        }

        fn ack(&mut self, t: SimTime) {
            self.now = t;
            let p = self.flight.pop_front().expect("an ACK needs a segment");
            self.delivered += 1;
            let rtt = t.since(p.sent_at);
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
            self.srtt = Some(self.srtt.map_or(rtt, |s| {
                SimDuration::from_ps((s.as_ps() / 8) * 7 + rtt.as_ps() / 8)
            }));
            let interval = p
                .sent_at
                .since(p.first_sent_time)
                .max(t.since(p.delivered_time));
            self.first_sent_time = p.sent_at;
            self.delivered_time = t;
            let rs = RateSample {
                delivered: self.delivered - p.delivered,
                interval,
                is_app_limited: false,
                prior_delivered: p.delivered,
            };
            let min = self.min_rtt.unwrap_or(SimDuration::ZERO);
            let sample = AckSample {
                now: t,
                acked: 1,
                lost: 0,
                rtt: Some(rtt),
                min_rtt: self.min_rtt,
                srtt: self.srtt,
                in_flight: self.in_flight(),
                delivered: self.delivered,
                snd_una: self.delivered,
                snd_nxt: self.delivered + self.in_flight(),
                rate: (interval >= min && interval > SimDuration::ZERO).then_some(rs),
                in_recovery: false,
                ece: false,
            };
            self.bbr.on_ack(&sample);
            self.last_ack = Some(sample);
        }

        /// Runs until `end`. Before each event `watch` sees the state and how long it holds
        /// (seconds, for time averages); after each ACK `on_ack` sees the new state.
        fn run_until(
            &mut self,
            end: SimTime,
            mut watch: impl FnMut(&Path, f64),
            mut on_ack: impl FnMut(&Path),
        ) {
            while self.now < end {
                let (t, is_ack) = self.next_event();
                watch(self, t.since(self.now).as_secs_f64());
                if is_ack {
                    self.ack(t);
                    on_ack(self);
                } else {
                    self.send(t);
                }
            }
        }
    }

    fn ms(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    /// 5000 segments/s (58 Mb/s of payload) and 20 ms of propagation: BDP ≈ 100 segments,
    /// ten times the initial window.
    fn standard_path() -> Path {
        Path::new(5000.0, 20)
    }

    #[test]
    fn startup_fills_the_pipe_then_drains_into_probe_bw() {
        for (rate, prop) in [(5000.0, 20), (20_000.0, 20), (1000.0, 50), (50_000.0, 40)] {
            startup_on(Path::new(rate, prop));
        }
    }

    fn startup_on(mut p: Path) {
        let mut drain_round = None;
        let mut probe_bw = None;
        let mut max_in_flight = 0;
        p.run_until(
            ms(2000),
            |p, _| max_in_flight = max_in_flight.max(p.in_flight()),
            |p| {
                if drain_round.is_none() && p.bbr.mode() != Mode::Startup {
                    drain_round = Some(p.bbr.round_count());
                }
                if probe_bw.is_none() && p.bbr.mode() == Mode::ProbeBw {
                    let in_flight = p.last_ack.expect("mode changes on ACKs").in_flight;
                    probe_bw = Some((p.bbr.round_count(), p.now, in_flight, p.bbr.btl_bw()));
                }
            },
        );
        let bdp = p.bdp();
        // Startup doubles the rate each round, so BtlBw reaches R after about
        // log2(BDP/iw) rounds, and 3 more rounds without 25% growth declare the pipe full.
        let ideal = (bdp / IW as f64).log2() + 3.0;
        let drain_round = drain_round.expect("Startup must end") as f64;
        let (pbw_round, pbw_at, pbw_in_flight, pbw_bw) = probe_bw.expect("ProbeBW reached");
        eprintln!(
            "BDP {bdp:.1}: Drain at round {drain_round} (ideal {ideal:.1}), ProbeBW at \
             round {pbw_round} ({pbw_at}) with {pbw_in_flight} in flight, BtlBw {pbw_bw:.1}, \
             max in flight {max_in_flight}"
        );
        // Not before the pipe can be full (a premature exit would leave BtlBw low, caught
        // below too), and within a handful (3) of rounds of the ideal.
        assert!(drain_round >= ideal - 1.0, "left Startup too early");
        assert!(
            drain_round <= ideal + 3.0,
            "Startup took {drain_round} rounds"
        );
        // Drain empties Startup's queue within a couple of rounds: in flight is back to
        // about one BDP (+ quanta, + 2 for rounding the BDP up and for a BtlBw a hair
        // above R) on entering ProbeBW, down from about 2.885 BDPs.
        assert!(pbw_round as f64 <= drain_round + 2.0);
        assert!(pbw_in_flight as f64 <= bdp + QUANTA as f64 + 2.0);
        // The bandwidth model is right: within 5% of the bottleneck rate, both on entering
        // ProbeBW and 2 s in.
        for bw in [pbw_bw, p.bbr.btl_bw()] {
            assert!(
                (bw / p.rate - 1.0).abs() < 0.05,
                "BtlBw {bw} vs R {}",
                p.rate
            );
        }
        let rt = p.bbr.rt_prop().expect("RTprop measured").as_secs_f64();
        assert!((rt / p.base_rtt() - 1.0).abs() < 0.01, "RTprop {rt}");
        // Startup's 2.885 gain must not have let the queue run away: at most cwnd_gain
        // 2.885 × BDP + quanta.
        assert!((max_in_flight as f64) <= HIGH_GAIN * bdp * 1.05 + QUANTA as f64);
    }

    /// Runs `p` from the start until it has been in ProbeBW for `settle`; returns when
    /// ProbeBW began.
    fn settle_in_probe_bw(p: &mut Path, settle: SimDuration) -> SimTime {
        while p.bbr.mode() != Mode::ProbeBw {
            assert!(p.now < ms(2000), "no ProbeBW within 2 s");
            let (t, is_ack) = p.next_event();
            if is_ack {
                p.ack(t);
            } else {
                p.send(t);
            }
        }
        let start = p.now;
        p.run_until(start + settle, |_, _| {}, |_| {});
        start
    }

    #[test]
    fn probe_bw_paces_at_the_bottleneck_rate_with_a_small_queue() {
        let mut p = standard_path();
        settle_in_probe_bw(&mut p, SimDuration::from_secs(1));
        let bdp = p.bdp();
        let (start, delivered0) = (p.now, p.delivered);
        // Stop before RTprop's 10 s expiry: ProbeRTT is the next test's business.
        let end = ms(9500);
        let (mut pacing_area, mut queue_area, mut total) = (0.0, 0.0, 0.0);
        let mut max_in_flight = 0;
        let (mut cwnd_min, mut cwnd_max) = (u64::MAX, 0);
        let mut modes_seen_other = false;
        p.run_until(
            end,
            |p, dt| {
                pacing_area += p.pacing_segs() * dt;
                queue_area += (p.in_flight() as f64 - bdp).max(0.0) * dt;
                total += dt;
                max_in_flight = max_in_flight.max(p.in_flight());
                modes_seen_other |= p.bbr.mode() != Mode::ProbeBw;
                cwnd_min = cwnd_min.min(p.bbr.cwnd());
                cwnd_max = cwnd_max.max(p.bbr.cwnd());
            },
            |_| {},
        );
        let pacing = pacing_area / total;
        let queue = queue_area / total;
        let goodput = (p.delivered - delivered0) as f64 / p.now.since(start).as_secs_f64();
        eprintln!(
            "ProbeBW over {total:.2} s: mean pacing {pacing:.2} seg/s (R {}), delivered \
             {goodput:.1} seg/s, mean queue {queue:.2} seg, max in flight {max_in_flight} \
             (BDP {bdp:.1}), cwnd {cwnd_min}..={cwnd_max}",
            p.rate
        );
        assert!(!modes_seen_other, "left ProbeBW early");
        // The gain cycle averages to 1 (1.25 and 0.75 cancel), so pacing tracks BtlBw = R;
        // a wrong BtlBw or a stuck gain (e.g. 1.25 or 0.75 throughout) misses by ≥ 20%.
        assert!((pacing / p.rate - 1.0).abs() < 0.05, "mean pacing {pacing}");
        // The link stays busy: at least 95% of R is delivered (R is the physical maximum).
        assert!(goodput > 0.95 * p.rate, "delivered {goodput}");
        // Little queue: cruising keeps about the quanta (3 segments) queued, and the 1.25
        // probe adds a triangle up to 0.25 BDP over two of the eight phases (≈ 0.03 BDP on
        // average) that the 0.75 phase drains. So the time-average queue stays below 10% of
        // a BDP; without the drain phase it would ratchet up towards the 2 BDP cwnd.
        assert!(queue < 0.1 * bdp, "mean queue {queue}");
        // cwnd is 2 BDP + 3 segments of quanta throughout (+1 for rounding the BDP up, +1
        // for a BtlBw a hair above R), and in flight never exceeds that.
        let expected = 2.0 * bdp + 3.0;
        for c in [cwnd_min, cwnd_max] {
            assert!(
                c as f64 >= expected && c as f64 <= expected + 2.0,
                "cwnd {c}"
            );
        }
        assert!((max_in_flight as f64) <= expected + 2.0);
    }

    #[test]
    fn probe_rtt_after_ten_seconds_without_a_new_minimum() {
        let mut p = standard_path();
        // RTprop is set by the very first ACK (the first segment finds an empty queue) and no
        // later sample can be smaller, so its 10 s run out at first-ACK time + 10 s.
        let mut first_ack_at = None;
        let mut cwnd_before = 0;
        let mut entered = None;
        let mut exited = None;
        let mut probe_cwnd_max = 0;
        let mut probe_min_in_flight = u64::MAX;
        let mut at_four = None;
        p.run_until(
            ms(11_000),
            |_, _| {},
            |p| {
                first_ack_at.get_or_insert(p.now);
                let in_probe_rtt = p.bbr.mode() == Mode::ProbeRtt;
                match (entered, exited) {
                    (None, _) if in_probe_rtt => entered = Some(p.now),
                    (None, _) => cwnd_before = p.bbr.cwnd(),
                    (Some(_), None) if !in_probe_rtt => {
                        exited = Some((p.now, p.bbr.mode(), p.bbr.cwnd()))
                    }
                    (Some(_), None) => {}
                    (Some(_), Some(_)) => assert!(!in_probe_rtt, "ProbeRTT twice"),
                }
                if p.bbr.mode() == Mode::ProbeRtt {
                    probe_cwnd_max = probe_cwnd_max.max(p.bbr.cwnd());
                    probe_min_in_flight = probe_min_in_flight.min(p.in_flight());
                    if p.in_flight() <= 4 {
                        at_four.get_or_insert(p.now);
                    }
                }
            },
        );
        let first_ack_at = first_ack_at.expect("ACKs arrived");
        let entered = entered.expect("ProbeRTT entered");
        let (exit_at, exit_mode, exit_cwnd) = exited.expect("ProbeRTT left");
        let lasted = exit_at.since(entered);
        let held = exit_at.since(at_four.expect("in flight fell to 4"));
        eprintln!(
            "first ACK {first_ack_at}, ProbeRTT {entered} .. {exit_at} ({lasted}, {held} at 4 \
             in flight), cwnd {cwnd_before} -> {probe_cwnd_max} -> {exit_cwnd}, min in flight \
             {probe_min_in_flight}"
        );
        // Entered when the 10 s filter expires (on the first ACK after it), not earlier.
        let due = first_ack_at + SimDuration::from_secs(10);
        assert!(entered > due && entered.since(due) < SimDuration::from_millis(1));
        // The window is 4 segments throughout, and in flight really fell to 4.
        assert_eq!(probe_cwnd_max, 4);
        assert!(probe_min_in_flight <= 4);
        // At least 200 ms from the moment in flight is down to 4 (the draft's
        // ProbeRTTDuration, which also covers the required round at 4 segments here), yet
        // not stuck: draining the ~1 BDP in flight at R takes ~20 ms.
        assert!(held >= SimDuration::from_millis(200), "held {held}");
        assert!(lasted < SimDuration::from_millis(300), "lasted {lasted}");
        // Back to ProbeBW (the pipe was full) with the saved window restored.
        assert_eq!(exit_mode, Mode::ProbeBw);
        assert!(exit_cwnd >= cwnd_before, "cwnd {exit_cwnd} < {cwnd_before}");
        let rt = p.bbr.rt_prop().expect("RTprop").as_secs_f64();
        assert!((rt / p.base_rtt() - 1.0).abs() < 0.01, "RTprop {rt}");
        // The ProbeRTT's low delivery rates did not drag BtlBw down.
        assert!((p.bbr.btl_bw() / p.rate - 1.0).abs() < 0.05);

        // Control: when the path's delay drops by 1 ms at 5 s, RTprop takes the new, lower
        // minimum and its clock restarts, so there is no ProbeRTT at 10 s.
        let mut q = standard_path();
        q.run_until(ms(5000), |_, _| {}, |_| {});
        q.prop = SimDuration::from_millis(19);
        q.run_until(
            ms(11_000),
            |_, _| {},
            |q| assert_ne!(q.bbr.mode(), Mode::ProbeRtt, "at {}", q.now),
        );
    }

    /// The ProbeBW cycle as published (Cardwell et al. 2016), independent of the constant.
    const PAPER_GAINS: [f64; 8] = [1.25, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];

    #[test]
    fn probe_bw_cycles_through_the_eight_gains() {
        let mut p = standard_path();
        // Watch from the ACK that enters ProbeBW.
        while p.bbr.mode() != Mode::ProbeBw {
            assert!(p.now < ms(2000), "no ProbeBW within 2 s");
            let (t, is_ack) = p.next_event();
            if is_ack {
                p.ack(t);
            } else {
                p.send(t);
            }
        }
        let bdp = p.bdp();
        let start = p.now;
        // (phase, started at, measured pacing gain, in flight before the ACK that began it)
        let mut phases = vec![(p.bbr.cycle_index(), start, 0.0, 0u64)];
        p.run_until(
            ms(3000),
            |_, _| {},
            |p| {
                let &(idx, ..) = phases.last().expect("a phase");
                if p.bbr.cycle_index() != idx {
                    let ack = p.last_ack.expect("an ACK");
                    let gain = p.pacing_segs() / p.bbr.btl_bw();
                    phases.push((p.bbr.cycle_index(), p.now, gain, ack.in_flight + ack.acked));
                }
            },
        );
        assert_eq!(p.bbr.mode(), Mode::ProbeBw);
        let rt = p.bbr.rt_prop().expect("RTprop");
        let ack_gap = SimDuration::from_millis(1);
        // ProbeBW starts at the documented phase, never in the 0.75 one (as Linux).
        assert_eq!(phases[0].0, PROBE_BW_START_PHASE);
        assert_ne!(phases[0].0, 1);
        let cycles = (phases.len() - 1) / PACING_GAIN_CYCLE.len();
        eprintln!(
            "{} phase changes ({cycles} cycles) in {}; first: {:?}",
            phases.len() - 1,
            p.now.since(start),
            &phases[..10.min(phases.len())]
        );
        // Many full cycles in 2.6 s (one is ~8 RTprop ≈ 170 ms): gains really cycle.
        assert!(cycles >= 10, "{cycles} cycles");
        for w in phases.windows(2) {
            let ((idx, began, ..), (next, ended, gain, prior_in_flight)) = (w[0], w[1]);
            // Strict order 0 → 1 → … → 7 → 0.
            assert_eq!(next, (idx + 1) % 8, "{idx} then {next}");
            // The pacing rate is the new phase's gain times BtlBw, from that very ACK.
            assert!(
                (gain - PAPER_GAINS[next]).abs() < 1e-9,
                "phase {next}: {gain}"
            );
            let lasted = ended.since(began);
            match PAPER_GAINS[idx] {
                // The probe lasts at least RTprop and until 1.25 BDP are in flight.
                g if g > 1.0 => {
                    assert!(lasted > rt, "probe {lasted}");
                    assert!(prior_in_flight as f64 >= 1.25 * bdp, "{prior_in_flight}");
                    assert!(lasted < rt + rt, "probe {lasted}");
                }
                // The drain phase ends once back at a BDP, at the latest after RTprop.
                g if g < 1.0 => {
                    assert!(lasted <= rt + ack_gap, "drain {lasted}");
                    let at_bdp = prior_in_flight as f64 <= bdp + QUANTA as f64 + 2.0;
                    assert!(at_bdp || lasted > rt, "drain ended at {prior_in_flight}");
                }
                // Cruise phases last one RTprop (to within an ACK spacing).
                _ => assert!(lasted > rt && lasted <= rt + ack_gap, "cruise {lasted}"),
            }
        }
    }

    #[test]
    fn probe_bw_phases_end_by_the_drafts_rules() {
        let mut p = standard_path();
        settle_in_probe_bw(&mut p, SimDuration::from_millis(500));
        let base = p.bbr.clone();
        let (now, bw) = (p.now, base.btl_bw());
        let rt = base.rt_prop().expect("RTprop");
        let rt_s = rt.as_secs_f64();
        // BBRInflight(gain) = gain × BtlBw × RTprop + 3 quanta, as the phases use it.
        let one_bdp = (bw * rt_s).ceil() as u64 + 3;
        let probe_target = (1.25 * bw * rt_s).ceil() as u64 + 3;
        let at = |d: SimDuration| now + d;
        let half_rt = SimDuration::from_ps(rt.as_ps() / 2);
        let just_after_rt = rt + SimDuration::from_micros(1);
        let in_phase = |idx: usize| {
            let mut b = base.clone();
            b.cycle_index = idx;
            b.cycle_stamp = now;
            b
        };
        // One ACK for one segment with `lost` newly lost, leaving `in_flight` (so the in
        // flight before it, which the rules look at, is in_flight + 1 + lost). No rate or
        // RTT sample, so the model stays put.
        let feed = |b: &mut Bbr, t: SimTime, in_flight: u64, lost: u64| {
            b.on_ack(&ack_sample(t, 1, lost, in_flight, b.delivered + 1));
            b.cycle_index
        };

        // 1.25: not before RTprop has passed, however much is in flight ...
        let mut b = in_phase(0);
        assert_eq!(feed(&mut b, at(half_rt), 2 * probe_target, 0), 0);
        // ... and after it only once 1.25 BDP (+ quanta) are in flight ...
        assert_eq!(feed(&mut b, at(just_after_rt), probe_target - 2, 0), 0);
        assert_eq!(feed(&mut b, at(rt + rt), probe_target - 2, 0), 0);
        assert_eq!(feed(&mut b, at(rt + rt), probe_target - 1, 0), 1);
        // ... or a loss says the extra will not fit.
        let mut b = in_phase(0);
        assert_eq!(feed(&mut b, at(just_after_rt), one_bdp, 1), 1);

        // 0.75: early once in flight is down to one BDP (+ quanta), else after RTprop.
        let mut b = in_phase(1);
        assert_eq!(
            feed(&mut b, at(half_rt), one_bdp, 0),
            1,
            "still above a BDP"
        );
        let mut b = in_phase(1);
        assert_eq!(feed(&mut b, at(half_rt), one_bdp - 1, 0), 2, "ends early");
        let mut b = in_phase(1);
        assert_eq!(feed(&mut b, at(just_after_rt), 2 * one_bdp, 0), 2);

        // 1.0: exactly one RTprop, whatever is in flight.
        let mut b = in_phase(4);
        assert_eq!(feed(&mut b, at(rt), 0, 0), 4);
        assert_eq!(feed(&mut b, at(just_after_rt), 2 * one_bdp, 0), 5);
    }

    fn ack_sample(
        now: SimTime,
        acked: u64,
        lost: u64,
        in_flight: u64,
        delivered: u64,
    ) -> AckSample {
        AckSample {
            now,
            acked,
            lost,
            rtt: None,
            min_rtt: None,
            srtt: None,
            in_flight,
            delivered,
            snd_una: delivered,
            snd_nxt: delivered + in_flight,
            rate: None,
            in_recovery: false,
            ece: false,
        }
    }

    #[test]
    fn loss_keeps_the_model_and_restores_the_window() {
        let mut p = standard_path();
        settle_in_probe_bw(&mut p, SimDuration::from_millis(500));
        let mut b = p.bbr.clone();
        let (bw, rt, pacing) = (b.btl_bw(), b.rt_prop(), b.pacing_rate_bps());
        let cwnd = b.cwnd();
        let (now, mut delivered) = (p.now, p.delivered);
        assert!(cwnd as f64 > 1.5 * p.bdp(), "cwnd {cwnd} in ProbeBW");

        // Fast recovery: the first round conserves packets, cwnd = in flight + acked.
        b.on_congestion_event(now, 150);
        delivered += 1;
        let mut a = ack_sample(now, 1, 3, 120, delivered);
        a.in_recovery = true;
        b.on_ack(&a);
        assert_eq!(b.cwnd(), 121);
        delivered += 2;
        a = ack_sample(now, 2, 0, 110, delivered);
        a.in_recovery = true;
        b.on_ack(&a);
        assert_eq!(
            b.cwnd(),
            121,
            "conservation: max(cwnd, in flight + acked), no growth"
        );
        // Recovery over: the pre-recovery window is back.
        b.on_recovery_exit(now);
        assert_eq!(b.cwnd(), cwnd);
        // BBR v1 keeps its model through loss.
        assert_eq!(
            (b.btl_bw(), b.rt_prop(), b.pacing_rate_bps()),
            (bw, rt, pacing)
        );

        // Timeout: one segment, model intact, and the window comes back once the data
        // outstanding at the timeout (100 segments) is delivered.
        b.on_rto(now, 100, true);
        assert_eq!(b.cwnd(), 1);
        assert_eq!(
            (b.btl_bw(), b.rt_prop(), b.pacing_rate_bps()),
            (bw, rt, pacing)
        );
        for i in 1..=100 {
            delivered += 1;
            b.on_ack(&ack_sample(now, 1, 0, 0, delivered));
            if i < 100 {
                assert!(b.cwnd() < cwnd, "restored after only {i} of 100");
            }
        }
        assert_eq!(b.cwnd(), cwnd);
    }
}
