//! Round-trip time estimation and the retransmission timeout of RFC 6298.

use crate::engine::SimDuration;
use serde::{Deserialize, Serialize};

/// How the minimum RTO enters the timeout.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RtoRule {
    /// Linux (`tcp_rtt_estimator`, `__tcp_set_rto`): `SRTT + max(4·RTTVAR, min_rto)`, so
    /// the timeout stays a margin above the RTT on long paths.
    #[default]
    Linux,
    /// RFC 6298 §2.4: `max(min_rto, SRTT + 4·RTTVAR)`. On a path whose RTT is half the
    /// minimum RTO, the timer can fire one RTT after a fast retransmission, just before its
    /// ACK returns.
    Rfc6298,
}

/// SRTT, RTTVAR and RTO per RFC 6298 §2, with the minimum RTO configurable (RFC 6298 says
/// 1 s; Linux uses 200 ms), applied as Linux or as the RFC does, and exponential backoff
/// (§5.5).
#[derive(Clone, Debug)]
pub struct RttEstimator {
    rule: RtoRule,
    srtt: Option<SimDuration>,
    rttvar: SimDuration,
    min_rtt: Option<SimDuration>,
    initial_rto: SimDuration,
    min_rto: SimDuration,
    max_rto: SimDuration,
    /// RTO doublings since the last RTT sample that advanced the window.
    backoff: u32,
}

impl RttEstimator {
    /// An estimator with no samples yet; the RTO is clamped to `[min_rto, max_rto]`.
    pub fn new(
        rule: RtoRule,
        initial_rto: SimDuration,
        min_rto: SimDuration,
        max_rto: SimDuration,
    ) -> Self {
        RttEstimator {
            rule,
            srtt: None,
            rttvar: SimDuration::ZERO,
            min_rtt: None,
            initial_rto,
            min_rto,
            max_rto,
            backoff: 0,
        }
    }

    /// Folds in one measurement (§2.2, §2.3: α = 1/8, β = 1/4).
    pub fn on_sample(&mut self, r: SimDuration) {
        self.min_rtt = Some(self.min_rtt.map_or(r, |m| m.min(r)));
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = SimDuration(r.as_ps() / 2);
            }
            Some(s) => {
                let err = s.as_ps().abs_diff(r.as_ps());
                self.rttvar = SimDuration((3 * self.rttvar.as_ps() + err) / 4);
                self.srtt = Some(SimDuration((7 * s.as_ps() + r.as_ps()) / 8));
            }
        }
    }

    /// The RTO without backoff, at most `max_rto` (clock granularity is zero: time is
    /// exact here).
    pub fn base_rto(&self) -> SimDuration {
        let var4 = 4 * self.rttvar.as_ps();
        match (self.srtt, self.rule) {
            (None, _) => self.initial_rto.max(self.min_rto),
            (Some(s), RtoRule::Linux) => SimDuration(s.as_ps() + var4.max(self.min_rto.as_ps())),
            (Some(s), RtoRule::Rfc6298) => SimDuration(s.as_ps() + var4).max(self.min_rto),
        }
        .min(self.max_rto)
    }

    /// The RTO to arm now, backoff included.
    pub fn rto(&self) -> SimDuration {
        let shift = self.backoff.min(20);
        SimDuration(self.base_rto().as_ps().saturating_mul(1 << shift)).min(self.max_rto)
    }

    /// The timer fired: double the RTO (§5.5).
    pub fn back_off(&mut self) {
        self.backoff = self.backoff.saturating_add(1);
    }

    /// New data was acknowledged: the backed-off RTO is recomputed from SRTT (§5.7).
    pub fn reset_backoff(&mut self) {
        self.backoff = 0;
    }

    /// Smoothed RTT; `None` before the first sample.
    pub fn srtt(&self) -> Option<SimDuration> {
        self.srtt
    }

    /// Smallest RTT sampled; `None` before the first sample.
    pub fn min_rtt(&self) -> Option<SimDuration> {
        self.min_rtt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6298_arithmetic() {
        let ms = SimDuration::from_millis;
        let mut e = RttEstimator::new(RtoRule::Rfc6298, ms(1000), ms(200), ms(60_000));
        assert_eq!(e.rto(), ms(1000)); // no sample yet: the initial RTO
        e.on_sample(ms(100)); // SRTT 100, RTTVAR 50, RTO = 100 + 200 = 300
        assert_eq!(e.rto(), ms(300));
        e.on_sample(ms(200)); // RTTVAR = (3·50 + 100)/4 = 62.5; SRTT = (700 + 200)/8 = 112.5
        assert_eq!(e.srtt(), Some(SimDuration::from_micros(112_500)));
        assert_eq!(e.rto(), SimDuration::from_micros(112_500 + 250_000));
        e.back_off();
        e.back_off();
        assert_eq!(e.rto(), SimDuration::from_micros(4 * 362_500));
        e.reset_backoff();
        for _ in 0..100 {
            e.on_sample(ms(1)); // converges to 1 ms: the minimum RTO takes over
        }
        assert_eq!(e.rto(), ms(200));
        assert_eq!(e.min_rtt(), Some(ms(1)));
    }

    #[test]
    fn linux_rule_keeps_the_minimum_as_a_margin_above_srtt() {
        let ms = SimDuration::from_millis;
        let mut e = RttEstimator::new(RtoRule::Linux, ms(1000), ms(200), ms(60_000));
        for _ in 0..100 {
            e.on_sample(ms(100)); // RTTVAR decays to ~0: RTO = 100 + max(~0, 200)
        }
        assert_eq!(e.rto(), ms(300));
    }
}
