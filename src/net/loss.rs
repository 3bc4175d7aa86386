//! Loss layers, stacked per link direction: a packet is lost if any layer drops it.
//!
//! Each layer keeps its own state and the direction owns one random stream for all its
//! layers, so loss on one link never shifts the draws of another.

use crate::engine::SimRng;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// A loss layer as written in a topology file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LossConfig {
    /// Each packet is lost independently with probability `p`.
    Bernoulli {
        /// Loss probability per packet.
        p: f64,
    },
    /// Two-state Markov chain (Gilbert 1960, Elliott 1963), stepped once per packet:
    /// Good→Bad with probability `p`, Bad→Good with `r`; a packet is lost with
    /// `loss_good` in Good (default 0) and `loss_bad` in Bad (default 1).
    GilbertElliott {
        /// Good→Bad transition probability per packet.
        p: f64,
        /// Bad→Good transition probability per packet.
        r: f64,
        /// Loss probability in Good (default 0).
        #[serde(default)]
        loss_good: f64,
        /// Loss probability in Bad (default 1).
        #[serde(default = "one")]
        loss_bad: f64,
    },
    /// Deterministic, for tests: drop the packets whose 0-based ordinal on this direction is
    /// listed; with `period`, the pattern repeats every `period` packets.
    List {
        /// 0-based packet ordinals to drop.
        drop: Vec<u64>,
        /// Repeat the pattern every this many packets; `None`: drop each listed ordinal once.
        #[serde(default)]
        period: Option<u64>,
    },
}

fn one() -> f64 {
    1.0
}

impl LossConfig {
    /// Checks probabilities; the message names the field and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        let prob = |name: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!(
                    "loss `{name}` = {v} is not a probability (allowed: 0.0 to 1.0)"
                ))
            }
        };
        match self {
            LossConfig::Bernoulli { p } => prob("p", *p),
            LossConfig::GilbertElliott {
                p,
                r,
                loss_good,
                loss_bad,
            } => {
                prob("p", *p)?;
                prob("r", *r)?;
                prob("loss_good", *loss_good)?;
                prob("loss_bad", *loss_bad)?;
                if *p + *r == 0.0 {
                    return Err(
                        "gilbert_elliott needs p + r > 0 (otherwise the chain never moves)".into(),
                    );
                }
                Ok(())
            }
            LossConfig::List { period, .. } => match period {
                Some(0) => Err("list loss `period` must be at least 1".into()),
                _ => Ok(()),
            },
        }
    }

    /// Long-run loss rate: `p` for Bernoulli; the stationary rate
    /// `(r·loss_good + p·loss_bad)/(p + r)` for Gilbert-Elliott; exact share for a periodic list.
    pub fn stationary_loss(&self) -> Option<f64> {
        match self {
            LossConfig::Bernoulli { p } => Some(*p),
            LossConfig::GilbertElliott {
                p,
                r,
                loss_good,
                loss_bad,
            } => Some((r * loss_good + p * loss_bad) / (p + r)),
            LossConfig::List {
                drop,
                period: Some(n),
            } => Some(drop.iter().filter(|&&i| i < *n).count() as f64 / *n as f64),
            LossConfig::List { period: None, .. } => None,
        }
    }
}

/// A loss layer with its running state.
#[derive(Clone, Debug)]
pub enum LossLayer {
    /// See [`LossConfig::Bernoulli`].
    Bernoulli {
        /// Loss probability per packet.
        p: f64,
    },
    /// See [`LossConfig::GilbertElliott`].
    GilbertElliott {
        /// Good→Bad transition probability per packet.
        p: f64,
        /// Bad→Good transition probability per packet.
        r: f64,
        /// Loss probability in Good.
        loss_good: f64,
        /// Loss probability in Bad.
        loss_bad: f64,
        /// The chain is in Bad now.
        bad: bool,
    },
    /// See [`LossConfig::List`].
    List {
        /// 0-based packet ordinals to drop.
        drop: Vec<u64>,
        /// Pattern period in packets, if it repeats.
        period: Option<u64>,
        /// Packets seen so far on this direction.
        ordinal: u64,
    },
}

impl LossLayer {
    /// A layer in its initial state (Gilbert-Elliott starts in Good).
    pub fn new(cfg: &LossConfig) -> Self {
        match cfg {
            LossConfig::Bernoulli { p } => LossLayer::Bernoulli { p: *p },
            LossConfig::GilbertElliott {
                p,
                r,
                loss_good,
                loss_bad,
            } => LossLayer::GilbertElliott {
                p: *p,
                r: *r,
                loss_good: *loss_good,
                loss_bad: *loss_bad,
                bad: false,
            },
            LossConfig::List { drop, period } => {
                let mut drop = drop.clone();
                drop.sort_unstable();
                LossLayer::List {
                    drop,
                    period: *period,
                    ordinal: 0,
                }
            }
        }
    }

    /// Decides the fate of the next packet on this direction.
    #[inline]
    pub fn drops(&mut self, rng: &mut SimRng) -> bool {
        match self {
            LossLayer::Bernoulli { p } => *p > 0.0 && rng.random::<f64>() < *p,
            LossLayer::GilbertElliott {
                p,
                r,
                loss_good,
                loss_bad,
                bad,
            } => {
                let flip = if *bad { *r } else { *p };
                if rng.random::<f64>() < flip {
                    *bad = !*bad;
                }
                let loss = if *bad { *loss_bad } else { *loss_good };
                loss >= 1.0 || (loss > 0.0 && rng.random::<f64>() < loss)
            }
            LossLayer::List {
                drop,
                period,
                ordinal,
            } => {
                let k = match period {
                    Some(n) => *ordinal % *n,
                    None => *ordinal,
                };
                *ordinal += 1;
                drop.binary_search(&k).is_ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RngStreams;

    fn empirical(cfg: LossConfig, n: u64) -> f64 {
        let mut layer = LossLayer::new(&cfg);
        let mut rng = RngStreams::new(7).stream("test/loss");
        (0..n).filter(|_| layer.drops(&mut rng)).count() as f64 / n as f64
    }

    #[test]
    fn bernoulli_rate_matches() {
        // 1e6 draws at p = 0.01: sd = sqrt(p(1-p)/n) ≈ 1e-4, so ±5e-4 is 5 sigma.
        let got = empirical(LossConfig::Bernoulli { p: 0.01 }, 1_000_000);
        assert!((got - 0.01).abs() < 5e-4, "{got}");
    }

    #[test]
    fn gilbert_elliott_matches_stationary_rate() {
        // p = 0.01, r = 0.2: π_bad = p/(p+r) = 0.0476; loss_bad = 0.5, loss_good = 0.001
        // → stationary loss = (0.2·0.001 + 0.01·0.5)/0.21 = 0.02476. Bursts make samples
        // correlated (mean burst 1/r = 5 packets), so allow 5% relative on 2e6 packets.
        let cfg = LossConfig::GilbertElliott {
            p: 0.01,
            r: 0.2,
            loss_good: 0.001,
            loss_bad: 0.5,
        };
        let expect = cfg.stationary_loss().unwrap();
        assert!((expect - 0.024762).abs() < 1e-5);
        let got = empirical(cfg, 2_000_000);
        assert!(
            (got / expect - 1.0).abs() < 0.05,
            "got {got}, expected {expect}"
        );
    }

    #[test]
    fn list_model_is_exact() {
        let mut layer = LossLayer::new(&LossConfig::List {
            drop: vec![3, 0],
            period: Some(5),
        });
        let mut rng = RngStreams::new(0).stream("unused");
        let pattern: Vec<bool> = (0..10).map(|_| layer.drops(&mut rng)).collect();
        assert_eq!(
            pattern,
            [true, false, false, true, false, true, false, false, true, false]
        );
    }

    #[test]
    fn rejects_bad_probabilities() {
        assert!(LossConfig::Bernoulli { p: 1.5 }.validate().is_err());
        assert!(LossConfig::Bernoulli { p: -0.1 }.validate().is_err());
        assert!(LossConfig::GilbertElliott {
            p: 0.0,
            r: 0.0,
            loss_good: 0.0,
            loss_bad: 1.0
        }
        .validate()
        .is_err());
    }
}
