//! BBR v1: placeholder until the model lands (see the helper's work).

use super::{AckSample, CongestionControl};
use crate::engine::SimTime;

#[derive(Clone, Debug)]
pub struct Bbr {
    cwnd: u64,
}

impl Bbr {
    pub fn new(iw: u64, _mss: u32) -> Bbr {
        Bbr { cwnd: iw }
    }
}

impl CongestionControl for Bbr {
    fn on_ack(&mut self, _ack: &AckSample) {}
    fn on_congestion_event(&mut self, _now: SimTime, _in_flight: u64) {}
    fn on_recovery_exit(&mut self, _now: SimTime) {}
    fn on_rto(&mut self, _now: SimTime, _in_flight: u64) {}
    fn cwnd(&self) -> u64 {
        self.cwnd
    }
    fn ssthresh(&self) -> u64 {
        u64::MAX
    }
    fn pacing_rate_bps(&self) -> Option<f64> {
        None
    }
}
