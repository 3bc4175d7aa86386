//! Closed-form TCP throughput models, to validate the packet-level TCP against and to draw
//! beside its measurements. Pure functions of measured quantities.

/// Mathis, Semke, Mahdavi, Ott (CCR 1997): MSS/RTT · √(3/(2bp)), bit/s, for segments of
/// `mss` bytes, round-trip time `rtt` s, loss probability `p` and `b` segments per ACK.
pub fn mathis_bps(mss: f64, rtt: f64, p: f64, b: f64) -> f64 {
    mss * 8.0 / rtt * (3.0 / (2.0 * b * p)).sqrt()
}

/// PFTK (Padhye, Firoiu, Towsley, Kurose, SIGCOMM 1998, the approximate form), bit/s: Mathis
/// with timeouts of `t0` s, which dominate at high loss.
pub fn pftk_bps(mss: f64, rtt: f64, p: f64, b: f64, t0: f64) -> f64 {
    let denom = rtt * (2.0 * b * p / 3.0).sqrt()
        + t0 * (3.0 * (3.0 * b * p / 8.0).sqrt()).min(1.0) * p * (1.0 + 32.0 * p * p);
    mss * 8.0 / denom
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_agree_at_low_loss_and_timeouts_dominate_at_high_loss() {
        // 1448-byte segments, 100 ms RTT, p = 1e-4, b = 1: Mathis = 115 840 bit/s per RTT
        // over √(2p/3) = 0.008165, i.e. 14.19 Mbit/s; PFTK's timeout term is ~1e-5 of it.
        let m = mathis_bps(1448.0, 0.1, 1e-4, 1.0);
        assert!((m - 14.187e6).abs() < 0.01e6, "{m}");
        let p = pftk_bps(1448.0, 0.1, 1e-4, 1.0, 1.0);
        assert!(p < m && p > 0.99 * m, "{p} vs {m}");
        // At 5% loss with a 1 s timeout PFTK is well below Mathis.
        assert!(pftk_bps(1448.0, 0.1, 0.05, 2.0, 1.0) < 0.6 * mathis_bps(1448.0, 0.1, 0.05, 2.0));
    }
}
