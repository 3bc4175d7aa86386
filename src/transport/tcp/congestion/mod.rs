//! Congestion control behind one small trait, so a sender runs NewReno, CUBIC or BBR alike.
//!
//! Windows are in segments (f64 inside the algorithms, whole segments to the sender), and
//! rates in payload bits per second. The sender owns loss detection and recovery; an
//! algorithm only hears about acknowledgements, congestion events and timeouts.

pub mod bbr;
pub mod cubic;
pub mod reno;

use crate::engine::{SimDuration, SimTime};
use serde::{Deserialize, Serialize};

pub use bbr::Bbr;
pub use cubic::Cubic;
pub use reno::Reno;

/// A delivery-rate sample (draft-cheng-iccrg-delivery-rate-estimation): `delivered`
/// segments reached the receiver over `interval`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateSample {
    /// Segments delivered during the interval.
    pub delivered: u64,
    /// Length of the sampling interval.
    pub interval: SimDuration,
    /// The sender had nothing to send (or was receive-window limited) when the sampled
    /// segment left, so the sample may understate the path's rate.
    pub is_app_limited: bool,
    /// The connection's delivered count when the sampled segment was sent: BBR counts round
    /// trips with it.
    pub prior_delivered: u64,
}

impl RateSample {
    /// Segments per second, or `None` for an empty interval.
    pub fn rate(&self) -> Option<f64> {
        (self.interval.as_ps() > 0).then(|| self.delivered as f64 / self.interval.as_secs_f64())
    }
}

/// What one acknowledgement told the sender.
#[derive(Clone, Copy, Debug)]
pub struct AckSample {
    /// When the ACK arrived.
    pub now: SimTime,
    /// Segments newly acknowledged (cumulatively or selectively) by this ACK.
    pub acked: u64,
    /// Segments newly marked lost while processing this ACK.
    pub lost: u64,
    /// RTT measured from the echoed timestamp, if this ACK advanced the window.
    pub rtt: Option<SimDuration>,
    /// Smallest RTT seen on the connection so far.
    pub min_rtt: Option<SimDuration>,
    /// Smoothed RTT (RFC 6298), once measured.
    pub srtt: Option<SimDuration>,
    /// Segments in flight after this ACK.
    pub in_flight: u64,
    /// Total segments delivered on the connection, this ACK included.
    pub delivered: u64,
    /// Oldest unacknowledged segment after this ACK.
    pub snd_una: u64,
    /// One past the highest segment sent: HyStart's rounds end when `snd_una` passes it.
    pub snd_nxt: u64,
    /// Delivery-rate sample, if this ACK yields one.
    pub rate: Option<RateSample>,
    /// The sender is in fast recovery: loss-based algorithms hold their window.
    pub in_recovery: bool,
    /// The receiver echoed a Congestion Experienced mark.
    pub ece: bool,
}

/// One congestion-control algorithm.
pub trait CongestionControl {
    /// An acknowledgement arrived.
    fn on_ack(&mut self, ack: &AckSample);
    /// Loss detected by duplicate ACKs or SACK: the start of one fast-recovery episode.
    fn on_congestion_event(&mut self, now: SimTime, in_flight: u64);
    /// Fast recovery ended (everything outstanding at its start is acknowledged).
    fn on_recovery_exit(&mut self, now: SimTime);
    /// The retransmission timer fired. `reduce` is false for a repeated timeout of the same
    /// data or one during fast recovery: RFC 5681 §3.1 (and Linux's `tcp_enter_loss`) keep
    /// the slow-start threshold already lowered for that loss.
    fn on_rto(&mut self, now: SimTime, in_flight: u64, reduce: bool);
    /// Congestion window, segments (at least 1).
    fn cwnd(&self) -> u64;
    /// Slow-start threshold, segments (`u64::MAX` before the first loss).
    fn ssthresh(&self) -> u64;
    /// Pacing rate in payload bits per second, for paced algorithms.
    fn pacing_rate_bps(&self) -> Option<f64>;
}

/// Which algorithm a flow uses (`cc` in experiment files).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CcKind {
    /// RFC 5681 slow start and congestion avoidance with RFC 6582 NewReno recovery.
    #[default]
    Newreno,
    /// RFC 9438 CUBIC (C = 0.4, β = 0.7, TCP-friendly region, fast convergence).
    Cubic,
    /// BBR v1 (Cardwell et al., ACM Queue 2016; draft-cardwell-iccrg-bbr-congestion-control-00).
    Bbr,
}

impl CcKind {
    /// Lower-case name, as written in configs and reports.
    pub fn name(self) -> &'static str {
        match self {
            CcKind::Newreno => "newreno",
            CcKind::Cubic => "cubic",
            CcKind::Bbr => "bbr",
        }
    }
}

/// The algorithms as one enum: static dispatch, no allocation, `match` in one place.
#[derive(Clone, Debug)]
pub enum Congestion {
    /// NewReno.
    Reno(Reno),
    /// CUBIC.
    Cubic(Cubic),
    /// BBR (boxed: its state is large).
    Bbr(Box<Bbr>),
}

impl Congestion {
    /// A fresh algorithm with initial window `iw` segments of `mss` payload bytes.
    pub fn new(kind: CcKind, iw: u64, mss: u32) -> Congestion {
        match kind {
            CcKind::Newreno => Congestion::Reno(Reno::new(iw)),
            CcKind::Cubic => Congestion::Cubic(Cubic::new(iw, mss)),
            CcKind::Bbr => Congestion::Bbr(Box::new(Bbr::new(iw, mss))),
        }
    }

    fn inner(&mut self) -> &mut dyn CongestionControl {
        match self {
            Congestion::Reno(c) => c,
            Congestion::Cubic(c) => c,
            Congestion::Bbr(c) => c.as_mut(),
        }
    }

    fn inner_ref(&self) -> &dyn CongestionControl {
        match self {
            Congestion::Reno(c) => c,
            Congestion::Cubic(c) => c,
            Congestion::Bbr(c) => c.as_ref(),
        }
    }
}

impl CongestionControl for Congestion {
    fn on_ack(&mut self, ack: &AckSample) {
        self.inner().on_ack(ack)
    }
    fn on_congestion_event(&mut self, now: SimTime, in_flight: u64) {
        self.inner().on_congestion_event(now, in_flight)
    }
    fn on_recovery_exit(&mut self, now: SimTime) {
        self.inner().on_recovery_exit(now)
    }
    fn on_rto(&mut self, now: SimTime, in_flight: u64, reduce: bool) {
        self.inner().on_rto(now, in_flight, reduce)
    }
    fn cwnd(&self) -> u64 {
        self.inner_ref().cwnd()
    }
    fn ssthresh(&self) -> u64 {
        self.inner_ref().ssthresh()
    }
    fn pacing_rate_bps(&self) -> Option<f64> {
        self.inner_ref().pacing_rate_bps()
    }
}
