//! DCQCN (Zhu et al., "Congestion Control for Large-Scale RDMA Deployments", SIGCOMM 2015):
//! the notification point (NP) at the receiver turns ECN marks into CNPs, the reaction point
//! (RP) at the sender cuts its rate on a CNP and climbs back by itself.
//!
//! Reaction point, per CNP:
//! `R_T ← R_C`, `R_C ← R_C·(1 − α/2)`, `α ← (1 − g)·α + g`, counters reset. Without CNPs,
//! `α ← (1 − g)·α` every `alpha_period`, and the rate rises on two events: the increase
//! timer (every `increase_period`, count `T`) and the byte counter (every `byte_counter`
//! bytes sent, count `BC`). Each event does, with `F = fast_recovery_steps`:
//! - fast recovery while `max(T, BC) ≤ F`: `R_C ← (R_T + R_C)/2`;
//! - hyper increase once `min(T, BC) > F`: `R_T ← R_T + (min(T, BC) − F)·R_HAI`, then the same
//!   averaging;
//! - additive increase otherwise: `R_T ← R_T + R_AI`, then the same averaging.
//!
//! `R_C` is kept within `[min_rate, line rate]`. These rules, their order, the integer rates
//! and the uncapped `R_T` follow the htsim reproduction (`dcqcn.cpp`, `DCQCNSrc::processCNP`
//! and `increaseRate`); the paper's own pseudo-code was not read here (validation-refs.md
//! §3 marks the exact increase formulas **U**).
//!
//! Two simplifications, both exact with respect to htsim's behaviour:
//! - α is evaluated lazily: `α(t) = α₀·(1 − g)^n` with `n` the whole alpha periods since the
//!   last CNP, so α needs no timer events. Before the first CNP α keeps its initial value
//!   (htsim arms its timer at the first CNP), so a fresh QP's first CNP halves its rate.
//! - The increase timer and the byte counter stop once `R_C` is back at line rate (htsim keeps
//!   the timer running, but its increase then returns at once, and the next CNP resets the
//!   counters anyway). A QP at line rate costs no events.
//!
//! Not modelled: the Mellanox firmware variants (rate-decrease interval, α-resume interval,
//! "rate on first CNP", target-rate clamping) that the HPCC ns-3 model adds.

use crate::engine::{SimDuration, SimTime};
use serde::{Deserialize, Serialize};

use super::config::duration_str;

/// DCQCN parameters. Defaults and where they come from (evidence tags as in
/// `validation-refs.md`: **S** = read in a stored reproduction, **U** = not verified).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DcqcnConfig {
    /// NP: at most one CNP per QP per this interval. Default 50 µs: htsim
    /// `DCQCNSink::_cnp_interval` (**S**); the paper's value (**U**).
    #[serde(with = "duration_str")]
    pub cnp_interval: SimDuration,
    /// RP: α decays by `(1 − g)` once per this period without a CNP. Default 55 µs: htsim
    /// `_cc_update_period` (**S**), the paper's recommended timer (**U**).
    #[serde(with = "duration_str")]
    pub alpha_period: SimDuration,
    /// RP: rate-increase timer period. Default 55 µs: htsim drives α and the increase from
    /// the same 55 µs timer (**S**).
    #[serde(with = "duration_str")]
    pub increase_period: SimDuration,
    /// RP: α gain `g` (fraction). Default 1/256: htsim `_g` (**S**), the DCQCN authors'
    /// ns-3 code per sc20anonymous/DCQCN-validation (**S**), HPCC ns-3 `EWMA_GAIN` (**S**).
    pub g: f64,
    /// RP: byte-counter threshold `B`, in bytes sent (wire bytes, headers included). Default
    /// 10 MB = 10⁷ bytes: htsim `_B` (**S**), DCQCN-validation README (**S**).
    pub byte_counter: u64,
    /// RP: fast-recovery steps `F`. Default 5: htsim `_F` (**S**), HPCC ns-3
    /// `FAST_RECOVERY_TIMES` (**S**).
    pub fast_recovery_steps: u32,
    /// RP: additive increase `R_AI`, in bit/s. Default 40 Mb/s: the paper's recommendation
    /// for 40 Gb/s links (**U**, not verified); HPCC ns-3 presets use 50 Mb/s (**S**). htsim
    /// uses line/20 (**S**), which is 50× more aggressive at 40 Gb/s.
    pub rate_ai_bps: u64,
    /// RP: hyper increase step `R_HAI`, in bit/s. Default 100 Mb/s: HPCC ns-3 presets
    /// (**S**); htsim uses line/10 (**S**). Both reproductions set `R_HAI = 2·R_AI`-ish.
    pub rate_hai_bps: u64,
    /// RP: the rate never drops below this, in bit/s. Default 100 Mb/s: htsim
    /// `_minimum_rate_bps` (**S**), HPCC ns-3 `MinRate` (**S**).
    pub min_rate_bps: u64,
    /// RP: α before the first CNP (fraction). Default 1: htsim (**S**), so the first CNP
    /// halves the rate.
    pub initial_alpha: f64,
}

impl Default for DcqcnConfig {
    fn default() -> Self {
        DcqcnConfig {
            cnp_interval: SimDuration::from_micros(50),
            alpha_period: SimDuration::from_micros(55),
            increase_period: SimDuration::from_micros(55),
            g: 1.0 / 256.0,
            byte_counter: 10_000_000,
            fast_recovery_steps: 5,
            rate_ai_bps: 40_000_000,
            rate_hai_bps: 100_000_000,
            min_rate_bps: 100_000_000,
            initial_alpha: 1.0,
        }
    }
}

/// Which rule the last rate-increase event applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Cut after a CNP; rate recovers halfway to the target each period.
    FastRecovery,
    /// Target grows by the additive step each period.
    AdditiveIncrease,
    /// Target grows by the hyper step each period.
    HyperIncrease,
}

/// Reaction-point counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RpStats {
    /// CNPs received.
    pub cnps: u64,
    /// Times the rate entered fast recovery.
    pub fast_recovery_events: u64,
    /// Additive-increase steps taken.
    pub additive_events: u64,
    /// Hyper-increase steps taken.
    pub hyper_events: u64,
}

/// The sender's rate machine for one QP. Rates are integer bit/s, as in htsim.
#[derive(Clone, Debug)]
pub struct ReactionPoint {
    cfg: DcqcnConfig,
    line_bps: u64,
    /// Current rate `R_C`.
    rc: u64,
    /// Target rate `R_T`.
    rt: u64,
    /// α as of `alpha_ref_time` (the last CNP).
    alpha_ref: f64,
    /// The last CNP; `None` before the first, when α holds its initial value (htsim arms
    /// its α timer at the first CNP).
    alpha_ref_time: Option<SimTime>,
    /// Timer events since the last CNP (`T`).
    t_events: u32,
    /// Byte-counter events since the last CNP (`BC`).
    bc_events: u32,
    /// Bytes sent toward the next byte-counter event.
    bytes: u64,
    /// Next increase-timer deadline; `None` while at line rate.
    next_increase: Option<SimTime>,
    stage: Option<Stage>,
    stats: RpStats,
}

impl ReactionPoint {
    /// A QP starting at line rate, as DCQCN does (no slow start).
    pub fn new(cfg: DcqcnConfig, line_bps: u64) -> ReactionPoint {
        assert!(
            cfg.min_rate_bps <= line_bps && line_bps > 0,
            "DCQCN min rate {} bit/s exceeds the line rate {line_bps} bit/s",
            cfg.min_rate_bps
        );
        ReactionPoint {
            cfg,
            line_bps,
            rc: line_bps,
            rt: line_bps,
            alpha_ref: cfg.initial_alpha,
            alpha_ref_time: None,
            t_events: 0,
            bc_events: 0,
            bytes: 0,
            next_increase: None,
            stage: None,
            stats: RpStats::default(),
        }
    }

    /// Current rate `R_C`, bit/s.
    pub fn rate_bps(&self) -> u64 {
        self.rc
    }

    /// Target rate `R_T`, bit/s.
    pub fn target_bps(&self) -> u64 {
        self.rt
    }

    /// α at `now`: the value after every whole `alpha_period` elapsed since the last CNP
    /// (the initial α until the first CNP).
    pub fn alpha(&self, now: SimTime) -> f64 {
        let Some(since) = self.alpha_ref_time else {
            return self.alpha_ref;
        };
        let period = self.cfg.alpha_period.as_ps().max(1);
        let n = now.since(since).as_ps() / period;
        self.alpha_ref * pow_u64(1.0 - self.cfg.g, n)
    }

    /// The rule the last increase event applied (`None` before any).
    pub fn stage(&self) -> Option<Stage> {
        self.stage
    }

    /// Increase events `(T, BC)` since the last CNP.
    pub fn counters(&self) -> (u32, u32) {
        (self.t_events, self.bc_events)
    }

    /// Counters so far.
    pub fn stats(&self) -> RpStats {
        self.stats
    }

    /// A CNP reached the sender: cut the rate and restart the increase machinery.
    pub fn on_cnp(&mut self, now: SimTime) {
        let alpha = self.alpha(now);
        self.stats.cnps += 1;
        self.rt = self.rc;
        let cut = (self.rc as f64 * (1.0 - alpha / 2.0)) as u64;
        self.rc = cut.max(self.cfg.min_rate_bps);
        self.alpha_ref = (1.0 - self.cfg.g) * alpha + self.cfg.g;
        self.alpha_ref_time = Some(now);
        self.t_events = 0;
        self.bc_events = 0;
        self.bytes = 0;
        self.stage = None;
        self.next_increase = Some(now + self.cfg.increase_period);
    }

    /// `bytes` (wire bytes) left the sender: advances the byte counter.
    pub fn on_bytes_sent(&mut self, bytes: u64) {
        if self.next_increase.is_none() {
            return;
        }
        self.bytes += bytes;
        let b = self.cfg.byte_counter.max(1);
        while self.bytes >= b && self.next_increase.is_some() {
            self.bytes -= b;
            self.bc_events += 1;
            self.increase();
        }
    }

    /// The increase-timer deadline, if the rate is below line rate.
    pub fn poll_at(&self) -> Option<SimTime> {
        self.next_increase
    }

    /// Runs the increase timer if it is due (early calls do nothing).
    pub fn on_timer(&mut self, now: SimTime) {
        match self.next_increase {
            Some(at) if at <= now => {
                self.t_events += 1;
                self.increase();
                if self.next_increase.is_some() {
                    self.next_increase = Some(now + self.cfg.increase_period);
                }
            }
            _ => {}
        }
    }

    fn increase(&mut self) {
        let f = self.cfg.fast_recovery_steps;
        let (t, bc) = (self.t_events, self.bc_events);
        let stage = if t.max(bc) <= f {
            self.stats.fast_recovery_events += 1;
            Stage::FastRecovery
        } else if t.min(bc) > f {
            let i = (t.min(bc) - f) as u64;
            self.rt = self
                .rt
                .saturating_add(i.saturating_mul(self.cfg.rate_hai_bps));
            self.stats.hyper_events += 1;
            Stage::HyperIncrease
        } else {
            self.rt = self.rt.saturating_add(self.cfg.rate_ai_bps);
            self.stats.additive_events += 1;
            Stage::AdditiveIncrease
        };
        self.stage = Some(stage);
        // (R_T + R_C)/2 without overflow.
        self.rc = self.rt / 2 + self.rc / 2 + (self.rt % 2 + self.rc % 2) / 2;
        self.rc = self.rc.clamp(self.cfg.min_rate_bps, self.line_bps);
        if self.rc >= self.line_bps {
            // Back at line rate: nothing left to increase until the next CNP.
            self.next_increase = None;
            self.bytes = 0;
        }
    }
}

/// The receiver's CNP generator for one QP: a marked packet triggers a CNP at once if none
/// was sent in the last `cnp_interval`; otherwise one CNP goes out when the interval ends,
/// if any packet in it was marked (the behaviour htsim's `DCQCNSink` implements).
#[derive(Clone, Debug)]
pub struct NotificationPoint {
    interval: SimDuration,
    last_cnp: Option<SimTime>,
    pending: bool,
}

impl NotificationPoint {
    /// A CNP generator sending at most one CNP per `interval`.
    pub fn new(interval: SimDuration) -> NotificationPoint {
        NotificationPoint {
            interval,
            last_cnp: None,
            pending: false,
        }
    }

    /// A CE-marked data packet arrived; returns true when a CNP must be sent now.
    pub fn on_marked(&mut self, now: SimTime) -> bool {
        match self.last_cnp {
            Some(last) if now.since(last) < self.interval => {
                self.pending = true;
                false
            }
            _ => {
                self.last_cnp = Some(now);
                self.pending = false;
                true
            }
        }
    }

    /// When a deferred CNP is due.
    pub fn poll_at(&self) -> Option<SimTime> {
        match (self.pending, self.last_cnp) {
            (true, Some(last)) => Some(last + self.interval),
            _ => None,
        }
    }

    /// Returns true when a deferred CNP is due now (early calls return false).
    pub fn on_timer(&mut self, now: SimTime) -> bool {
        match self.poll_at() {
            Some(at) if at <= now => {
                self.last_cnp = Some(now);
                self.pending = false;
                true
            }
            _ => false,
        }
    }
}

/// `x^n` by squaring: the same IEEE operations on every platform, unlike `powi`, whose
/// evaluation order is left to the compiler.
fn pow_u64(mut x: f64, mut n: u64) -> f64 {
    let mut acc = 1.0;
    while n > 0 {
        if n & 1 == 1 {
            acc *= x;
        }
        x *= x;
        n >>= 1;
        if x == 0.0 {
            break;
        }
    }
    if n > 0 {
        0.0
    } else {
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: u64 = 40_000_000_000;

    fn us(n: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_micros(n)
    }

    #[test]
    fn cnp_cuts_rate_by_one_minus_half_alpha() {
        let cfg = DcqcnConfig::default();
        let mut rp = ReactionPoint::new(cfg, LINE);
        // α starts at 1: the first CNP halves the rate and leaves α at (1−g)·1 + g = 1.
        rp.on_cnp(us(0));
        assert_eq!(rp.rate_bps(), LINE / 2);
        assert_eq!(rp.target_bps(), LINE);
        assert!((rp.alpha(us(0)) - 1.0).abs() < 1e-15);
        // 20 alpha periods later α = (1 − 1/256)^20 = 0.924698…; the rate by then has risen
        // through fast recovery, so cut relative to whatever R_C is just before the CNP.
        let t = us(20 * 55);
        rp.on_timer(t); // bring the increase timer up to date (one event per call)
        let before = rp.rate_bps();
        let alpha = rp.alpha(t);
        assert!((alpha - (255.0f64 / 256.0).powi(20)).abs() < 1e-12);
        rp.on_cnp(t);
        let expected = (before as f64 * (1.0 - alpha / 2.0)) as u64;
        assert_eq!(rp.rate_bps(), expected, "R_C ← R_C·(1 − α/2)");
        assert_eq!(rp.target_bps(), before, "R_T ← R_C before the cut");
        assert!((rp.alpha(t) - ((1.0 - cfg.g) * alpha + cfg.g)).abs() < 1e-15);
        assert_eq!(rp.counters(), (0, 0), "a CNP resets T and BC");
    }

    #[test]
    fn alpha_decays_by_one_minus_g_per_period_without_cnps() {
        let cfg = DcqcnConfig::default();
        let mut rp = ReactionPoint::new(cfg, LINE);
        rp.on_cnp(us(0));
        let a0 = rp.alpha(us(0));
        for k in 1..=400u64 {
            // Just before the k-th period boundary α still has k−1 decays; at it, k.
            let before = rp.alpha(SimTime(us(55 * k).as_ps() - 1));
            let at = rp.alpha(us(55 * k));
            let want = a0 * (1.0 - cfg.g).powi(k as i32);
            assert!((at - want).abs() < 1e-12, "k={k}: α={at}, want {want}");
            assert!((before - want / (1.0 - cfg.g)).abs() < 1e-12);
        }
        // After 400 periods (22 ms): (255/256)^400 = 0.2093.
        assert!((rp.alpha(us(55 * 400)) - 0.2093).abs() < 1e-3);
    }

    /// Drives the RP for `dur_us` microseconds, sending at its current rate, and returns the
    /// stage sequence (consecutive duplicates removed) and when R_C first reached `goal`.
    fn recover(rp: &mut ReactionPoint, from: u64, dur_us: u64, goal: u64) -> (Vec<Stage>, u64) {
        let mut stages = Vec::new();
        let mut reached = None;
        let mut carry_bits: u64 = 0;
        for t in from..from + dur_us {
            // Bytes sent in this microsecond at R_C (bits carried over between steps).
            carry_bits += rp.rate_bps() / 1_000_000;
            rp.on_bytes_sent(carry_bits / 8);
            carry_bits %= 8;
            rp.on_timer(us(t));
            if let Some(s) = rp.stage() {
                if stages.last() != Some(&s) {
                    stages.push(s);
                }
            }
            if reached.is_none() && rp.rate_bps() >= goal {
                reached = Some(t - from);
            }
        }
        (stages, reached.unwrap_or(u64::MAX))
    }

    #[test]
    fn rate_recovers_through_fast_recovery_additive_and_hyper_increase() {
        let cfg = DcqcnConfig::default();
        // One CNP at α = 1: R_C = 20 G, R_T = 40 G. Fast recovery halves the gap to R_T every
        // 55 µs: 20 → 30 → 35 → 37.5 → 38.75 G, so ≥ 95% (38 G) after 4 events = 220 µs.
        let mut rp = ReactionPoint::new(cfg, LINE);
        rp.on_cnp(us(0));
        let (stages, t95) = recover(&mut rp, 1, 2_000, LINE * 95 / 100);
        assert_eq!(t95, 219, "4 timer events at 55, 110, 165, 220 µs");
        assert_eq!(stages[0], Stage::FastRecovery);
        assert_eq!(rp.rate_bps(), LINE, "back at line rate");
        assert_eq!(rp.poll_at(), None, "no timer events at line rate");

        // A deep cut: five CNPs 1 µs apart (α stays 1) leave R_C = 40/32 = 1.25 G and
        // R_T = 2.5 G. Recovery then needs all three stages: fast recovery to ≈ R_T (5
        // events, 275 µs), additive increase (+40 Mb/s per event; the timer alone gives
        // ≈ 0.73 Gb/s per ms), and hyper increase once the byte counter has also passed
        // F = 5, i.e. after 6 × 10 MB = 480 Mbit sent: with R ≈ 2.5 + 0.73·t Gb/s that is
        // 2.5t + 0.36t² = 480 Mbit → t ≈ 33 ms. Hyper increase then adds i·100 Mb/s per event
        // (i = BC − 5 growing every 10 MB), and R_C reaches 38 G well before 60 ms.
        let mut rp = ReactionPoint::new(cfg, LINE);
        for k in 0..5 {
            rp.on_cnp(us(k));
        }
        let cut = rp.rate_bps();
        assert_eq!(
            cut,
            LINE / 32,
            "α stays exactly 1 between CNPs under 55 µs apart"
        );
        let (stages, t95) = recover(&mut rp, 5, 60_000, LINE * 95 / 100);
        eprintln!(
            "deep cut to {cut} bit/s: ≥ 95% of line rate after {t95} µs, {:?}",
            rp.stats()
        );
        assert_eq!(
            stages,
            vec![
                Stage::FastRecovery,
                Stage::AdditiveIncrease,
                Stage::HyperIncrease
            ],
            "the stage sequence of the paper's increase rules"
        );
        let s = rp.stats();
        assert_eq!(s.fast_recovery_events, 5, "F = 5 fast-recovery steps");
        assert!(s.additive_events > 100 && s.hyper_events > 0, "{s:?}");
        assert!(
            (30_000..50_000).contains(&t95),
            "R_C ≥ 95% of line rate after {t95} µs (expected 30–50 ms)"
        );
        assert_eq!(rp.rate_bps(), LINE);
    }

    #[test]
    fn rate_never_drops_below_the_minimum() {
        let cfg = DcqcnConfig::default();
        let mut rp = ReactionPoint::new(cfg, LINE);
        for k in 0..64 {
            rp.on_cnp(us(k));
        }
        assert_eq!(rp.rate_bps(), cfg.min_rate_bps);
    }

    #[test]
    fn notification_point_sends_at_most_one_cnp_per_interval() {
        let mut np = NotificationPoint::new(SimDuration::from_micros(50));
        assert!(np.on_marked(us(0)), "first mark: CNP at once");
        assert!(!np.on_marked(us(10)), "within 50 µs: deferred");
        assert!(!np.on_marked(us(20)));
        assert_eq!(
            np.poll_at(),
            Some(us(50)),
            "one deferred CNP at the interval end"
        );
        assert!(!np.on_timer(us(49)), "early call: nothing");
        assert!(np.on_timer(us(50)));
        assert_eq!(np.poll_at(), None, "no marks since: nothing pending");
        assert!(!np.on_marked(us(60)), "60 − 50 < 50 µs");
        assert!(np.on_timer(us(100)));
        assert!(np.on_marked(us(151)), "quiet for ≥ 50 µs: immediate again");
    }

    #[test]
    fn pow_by_squaring_matches_powi() {
        for n in [0u64, 1, 2, 3, 17, 255, 1000] {
            let a = pow_u64(0.99609375, n);
            let b = 0.99609375f64.powi(n as i32);
            assert!((a - b).abs() <= 1e-14 * b.max(1e-300), "n={n}: {a} vs {b}");
        }
        assert_eq!(pow_u64(0.5, u64::MAX), 0.0);
    }
}
