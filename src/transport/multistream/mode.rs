//! AMST's mode detector: datacenter, hybrid or internet, from measured path conditions.
//!
//! The rule is the original system's `upgrade/mode_detector.go` (see
//! `../shared/reference/seed-system.md` §1.0), the one AMST used: the plain mean of the last
//! 10 samples; datacenter when mean RTT < 10 ms and mean bandwidth ≥ 1 Gbit/s; internet
//! when mean RTT > 50 ms or bandwidth < 1 Gbit/s; hybrid otherwise. To it we add the
//! orchestrator's loss rule (internet above 1% loss) and hysteresis, which the original
//! lacked: a new mode must be the verdict of `confirm` consecutive samples before it is
//! adopted, so one noisy sample cannot flap the transport. Bandwidth is SI bits/s
//! throughout (the original mixed `1e9` and `1*1024^3`).

use crate::engine::SimDuration;
use std::collections::VecDeque;

/// Path class the detector settles on (thresholds in the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// Low RTT and high bandwidth.
    Datacenter,
    /// Neither datacenter nor internet.
    Hybrid,
    /// High RTT, low bandwidth or high loss.
    Internet,
}

impl Mode {
    /// Lower-case name, as written in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Datacenter => "datacenter",
            Mode::Hybrid => "hybrid",
            Mode::Internet => "internet",
        }
    }
}

/// Cut-offs between the modes (defaults as the original's detector, plus its
/// orchestrator's loss limit).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModeThresholds {
    /// Datacenter below this mean RTT (10 ms)...
    pub datacenter_rtt: SimDuration,
    /// ...and at or above this mean bandwidth (1 Gbit/s).
    pub datacenter_bps: f64,
    /// Internet above this mean RTT (50 ms)...
    pub internet_rtt: SimDuration,
    /// ...or below this mean bandwidth (1 Gbit/s)...
    pub internet_bps: f64,
    /// ...or above this mean loss rate (1%).
    pub internet_loss: f64,
}

impl Default for ModeThresholds {
    fn default() -> Self {
        ModeThresholds {
            datacenter_rtt: SimDuration::from_millis(10),
            datacenter_bps: 1e9,
            internet_rtt: SimDuration::from_millis(50),
            internet_bps: 1e9,
            internet_loss: 0.01,
        }
    }
}

impl ModeThresholds {
    /// The mode these mean conditions call for.
    pub fn classify(&self, rtt_s: f64, bps: f64, loss: f64) -> Mode {
        if rtt_s > self.internet_rtt.as_secs_f64()
            || bps < self.internet_bps
            || loss > self.internet_loss
        {
            Mode::Internet
        } else if rtt_s < self.datacenter_rtt.as_secs_f64() && bps >= self.datacenter_bps {
            Mode::Datacenter
        } else {
            Mode::Hybrid
        }
    }
}

/// Samples averaged, as the original.
pub const WINDOW: usize = 10;

/// Classifies path samples into a [`Mode`], with `confirm`-sample hysteresis.
#[derive(Clone, Debug)]
pub struct ModeDetector {
    thresholds: ModeThresholds,
    /// `(rtt s, bandwidth bit/s, loss fraction)`, newest last.
    samples: VecDeque<(f64, f64, f64)>,
    mode: Mode,
    /// A different verdict and how many consecutive samples have given it.
    candidate: Option<(Mode, u32)>,
    confirm: u32,
}

impl ModeDetector {
    /// Starts in `initial` (the original starts in hybrid).
    pub fn new(thresholds: ModeThresholds, initial: Mode, confirm: u32) -> Self {
        ModeDetector {
            thresholds,
            samples: VecDeque::with_capacity(WINDOW),
            mode: initial,
            candidate: None,
            confirm: confirm.max(1),
        }
    }

    /// The mode currently adopted.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Mean `(rtt s, bit/s, loss)` of the window, once it has a sample.
    pub fn means(&self) -> Option<(f64, f64, f64)> {
        let n = self.samples.len() as f64;
        (n > 0.0).then(|| {
            let s = self
                .samples
                .iter()
                .fold((0.0, 0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1, a.2 + x.2));
            (s.0 / n, s.1 / n, s.2 / n)
        })
    }

    /// Folds in one measurement; returns the new mode when it changes.
    pub fn on_sample(&mut self, rtt: SimDuration, bps: f64, loss: f64) -> Option<Mode> {
        if self.samples.len() == WINDOW {
            self.samples.pop_front();
        }
        self.samples.push_back((rtt.as_secs_f64(), bps, loss));
        let (r, b, l) = self.means()?;
        let verdict = self.thresholds.classify(r, b, l);
        if verdict == self.mode {
            self.candidate = None;
            return None;
        }
        let count = match self.candidate {
            Some((m, c)) if m == verdict => c + 1,
            _ => 1,
        };
        if count >= self.confirm {
            self.mode = verdict;
            self.candidate = None;
            Some(verdict)
        } else {
            self.candidate = Some((verdict, count));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> SimDuration = SimDuration::from_millis;

    #[test]
    fn the_original_cut_offs() {
        let t = ModeThresholds::default();
        assert_eq!(t.classify(0.002, 40e9, 0.0), Mode::Datacenter);
        assert_eq!(t.classify(0.080, 40e9, 0.0), Mode::Internet); // RTT > 50 ms
        assert_eq!(t.classify(0.002, 0.5e9, 0.0), Mode::Internet); // < 1 Gbit/s
        assert_eq!(t.classify(0.002, 40e9, 0.02), Mode::Internet); // loss > 1%
        assert_eq!(t.classify(0.020, 10e9, 0.0), Mode::Hybrid); // 10-50 ms, fast
                                                                // Exactly 1 Gbit/s is datacenter (≥), exactly 10 ms is not (<).
        assert_eq!(t.classify(0.002, 1e9, 0.0), Mode::Datacenter);
        assert_eq!(t.classify(0.010, 1e9, 0.0), Mode::Hybrid);
    }

    #[test]
    fn the_mean_of_ten_samples_decides_with_hysteresis() {
        let mut d = ModeDetector::new(ModeThresholds::default(), Mode::Hybrid, 3);
        // Datacenter conditions: the first sample already gives a datacenter mean, but
        // three consecutive verdicts are needed.
        assert_eq!(d.on_sample(MS(1), 40e9, 0.0), None);
        assert_eq!(d.on_sample(MS(1), 40e9, 0.0), None);
        assert_eq!(d.on_sample(MS(1), 40e9, 0.0), Some(Mode::Datacenter));
        for _ in 0..7 {
            assert_eq!(d.on_sample(MS(1), 40e9, 0.0), None);
        }
        // The path moves to 100 ms RTT. The mean of ten crosses 10 ms at the first new
        // sample ((9·1 + 100)/10 = 10.9 ms: hybrid) and 50 ms at the fifth
        // ((5·1 + 5·100)/10 = 50.5 ms): internet needs three verdicts from there.
        let mut switched = Vec::new();
        for k in 1..=10 {
            if let Some(m) = d.on_sample(MS(100), 40e9, 0.0) {
                switched.push((k, m));
            }
        }
        // Hybrid verdicts at samples 1-4 (adopted at the 3rd), internet from the 5th
        // (adopted at the 7th).
        assert_eq!(switched, vec![(3, Mode::Hybrid), (7, Mode::Internet)]);
        // One good sample does not flap it back.
        assert_eq!(d.on_sample(MS(1), 40e9, 0.0), None);
        assert_eq!(d.mode(), Mode::Internet);
    }
}
