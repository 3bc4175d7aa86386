//! Configuration of one RoCEv2 RC queue pair, its defaults and their sources, and the wire
//! sizes of RoCEv2 packets.

use crate::engine::SimDuration;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::dcqcn::DcqcnConfig;

/// RoCEv2 per-packet overhead in bytes: Ethernet header 14 + IPv4 20 + UDP 8 + InfiniBand
/// BTH 12 + ICRC 4 + Ethernet FCS 4 = 62. Preamble and inter-frame gap (20 B) are not
/// counted, as nowhere in the network model. A data packet is `payload + 62` bytes on the
/// wire; the links' MTU applies to that wire size.
pub const ROCE_OVERHEAD_BYTES: u32 = 14 + 20 + 8 + 12 + 4 + 4;
/// ACK and NAK: the 62 bytes plus the 4-byte AETH (ACK extended transport header).
pub const ACK_WIRE_BYTES: u32 = ROCE_OVERHEAD_BYTES + 4;
/// CNP: the 62 bytes plus 16 reserved payload bytes (RoCEv2 CNP format per IBTA Annex A17,
/// recalled, not verified here).
pub const CNP_WIRE_BYTES: u32 = ROCE_OVERHEAD_BYTES + 16;

/// One RC queue pair: how it segments, paces and recovers. Rates are bit/s, sizes bytes;
/// durations are written with units (`"1ms"`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RdmaConfig {
    /// Payload bytes per packet (path MTU payload). Default 1024, an InfiniBand path MTU:
    /// 1024 + 62 = 1086 wire bytes fit a 1500-byte link MTU. RoCE NICs also offer 256, 512,
    /// 2048 and 4096 (the last needs jumbo frames).
    pub mtu_payload: u32,
    /// The NIC/host link rate in bit/s. Without DCQCN the QP sends at this rate; with it, the
    /// QP starts here (no slow start) as DCQCN does. Default 40 Gb/s, the speed DCQCN was
    /// designed for.
    pub line_rate_bps: u64,
    /// Bytes per message (work request); each is cut into `mtu_payload` packets, the last one
    /// possibly short. Default 1 MiB.
    pub message_bytes: u64,
    /// Bytes to transfer, as whole messages (the last may be short); `None` is an endless
    /// stream of messages. Default `None`.
    pub total_bytes: Option<u64>,
    /// The receiver acknowledges every this many packets, and always at the last packet of a
    /// message; the sender asks for an acknowledgement (AckReq) at the same packets, and its
    /// local ACK timer runs from those. Default 16: an assumption (NICs coalesce ACKs by undocumented rules; the HPCC
    /// ns-3 model ACKs every packet, `L2_ACK_INTERVAL 1`).
    pub ack_every: u32,
    /// Most unacknowledged packets in flight. Default 10 000: large enough not to bind
    /// (10 000 × 1086 B = 10.9 MB, the BDP of 40 Gb/s × 2.2 ms), as RoCE has no window; an
    /// NIC's real limit is its outstanding-request state, which this stands in for.
    pub window_packets: u32,
    /// Local ACK timeout: with unacknowledged data and no ACK progress for this long since a
    /// packet that asked for an acknowledgement was sent (or since the last progress), the
    /// sender goes back to the oldest unacknowledged packet. Default 4.096 µs × 2⁸ =
    /// 1.048576 ms: the InfiniBand encoding is 4.096 µs·2^n (Linux `rdma_set_ack_timeout`
    /// doc, commit 2c1619edef61) and mlx5's own steering QPs use n = 8, "~1ms" (commit
    /// ec449ed8230c). Deployed values are often larger (Broadcom bnxt_re reports n = 16,
    /// ≈ 268 ms). No backoff and no retry limit are modelled.
    #[serde(with = "duration_str")]
    pub retransmit_timeout: SimDuration,
    /// NIC processing per message (work-request fetch, DMA setup): the first transmission of
    /// a message's first packet leaves this much later than pacing alone allows (overlapping
    /// any idle time). Default 500 ns: an assumption, below the 0.8 µs one-way latency of a
    /// 32 B RC send (ib_send_lat, validation-refs.md §3), which includes it.
    #[serde(with = "duration_str")]
    pub per_message_cost: SimDuration,
    /// DCQCN rate control; `None` (the default) sends at line rate and sends no CNPs.
    pub dcqcn: Option<DcqcnConfig>,
}

impl Default for RdmaConfig {
    fn default() -> Self {
        RdmaConfig {
            mtu_payload: 1024,
            line_rate_bps: 40_000_000_000,
            message_bytes: 1 << 20,
            total_bytes: None,
            ack_every: 16,
            window_packets: 10_000,
            retransmit_timeout: SimDuration::from_ps(4_096_000 << 8),
            per_message_cost: SimDuration::from_nanos(500),
            dcqcn: None,
        }
    }
}

/// A queue-pair configuration that cannot run.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum RdmaConfigError {
    /// A field that must be positive is zero.
    #[error("rdma config: `{0}` must be greater than zero")]
    Zero(&'static str),
    /// The payload does not fit a frame size a `u32` can hold.
    #[error("rdma config: `mtu_payload` = {0} is too large (at most 65 535 bytes)")]
    MtuTooLarge(u32),
    /// DCQCN's floor is above the line rate.
    #[error("rdma config: `dcqcn.min_rate_bps` = {min} exceeds `line_rate_bps` = {line}")]
    MinRateAboveLine {
        /// The configured floor, bits per second.
        min: u64,
        /// The line rate, bits per second.
        line: u64,
    },
    /// DCQCN's gain is outside (0, 1].
    #[error("rdma config: `dcqcn.g` = {0} must lie in (0, 1]")]
    Gain(f64),
    /// DCQCN's initial α is outside [0, 1].
    #[error("rdma config: `dcqcn.initial_alpha` = {0} must lie in [0, 1]")]
    InitialAlpha(f64),
}

impl RdmaConfig {
    /// Checks what the state machine relies on.
    pub fn validate(&self) -> Result<(), RdmaConfigError> {
        use RdmaConfigError::*;
        for (name, v) in [
            ("mtu_payload", self.mtu_payload as u64),
            ("line_rate_bps", self.line_rate_bps),
            ("message_bytes", self.message_bytes),
            ("ack_every", self.ack_every as u64),
            ("window_packets", self.window_packets as u64),
            ("retransmit_timeout", self.retransmit_timeout.as_ps()),
        ] {
            if v == 0 {
                return Err(Zero(name));
            }
        }
        if self.mtu_payload > 65_535 {
            return Err(MtuTooLarge(self.mtu_payload));
        }
        if let Some(d) = &self.dcqcn {
            for (name, v) in [
                ("dcqcn.cnp_interval", d.cnp_interval.as_ps()),
                ("dcqcn.alpha_period", d.alpha_period.as_ps()),
                ("dcqcn.increase_period", d.increase_period.as_ps()),
                ("dcqcn.byte_counter", d.byte_counter),
                ("dcqcn.min_rate_bps", d.min_rate_bps),
            ] {
                if v == 0 {
                    return Err(Zero(name));
                }
            }
            if d.min_rate_bps > self.line_rate_bps {
                return Err(MinRateAboveLine {
                    min: d.min_rate_bps,
                    line: self.line_rate_bps,
                });
            }
            if !(d.g > 0.0 && d.g <= 1.0) {
                return Err(Gain(d.g));
            }
            if !(0.0..=1.0).contains(&d.initial_alpha) {
                return Err(InitialAlpha(d.initial_alpha));
            }
        }
        Ok(())
    }
}

/// Serde for [`SimDuration`] fields as unit strings (`"55us"`), through
/// [`crate::units::Duration`].
pub(crate) mod duration_str {
    use crate::engine::SimDuration;
    use crate::units::Duration;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(d: &SimDuration, s: S) -> Result<S::Ok, S::Error> {
        Duration(*d).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SimDuration, D::Error> {
        Duration::deserialize(d).map(|x| x.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_sizes() {
        assert_eq!(ROCE_OVERHEAD_BYTES, 62);
        assert_eq!(ACK_WIRE_BYTES, 66);
        assert_eq!(CNP_WIRE_BYTES, 78);
        assert_eq!(
            RdmaConfig::default().retransmit_timeout,
            SimDuration::from_ps(1_048_576_000)
        );
    }

    #[test]
    fn parses_from_toml_with_units_and_defaults() {
        let cfg: RdmaConfig = toml::from_str(
            r#"
            line_rate_bps = 100_000_000_000
            total_bytes = 1000000
            retransmit_timeout = "2ms"
            [dcqcn]
            rate_ai_bps = 50_000_000
            "#,
        )
        .unwrap();
        assert_eq!(cfg.line_rate_bps, 100_000_000_000);
        assert_eq!(cfg.total_bytes, Some(1_000_000));
        assert_eq!(cfg.retransmit_timeout, SimDuration::from_millis(2));
        assert_eq!(cfg.mtu_payload, 1024);
        let d = cfg.dcqcn.unwrap();
        assert_eq!(d.rate_ai_bps, 50_000_000);
        assert_eq!(d.cnp_interval, SimDuration::from_micros(50));
        assert!(cfg.validate().is_ok());
        assert!(
            toml::from_str::<RdmaConfig>("mtu = 1000").is_err(),
            "unknown key"
        );
        let back: RdmaConfig = toml::from_str(&toml::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg, "round trip");
    }

    #[test]
    fn validation_names_the_field() {
        let cfg = RdmaConfig {
            ack_every: 0,
            ..RdmaConfig::default()
        };
        assert_eq!(cfg.validate(), Err(RdmaConfigError::Zero("ack_every")));
        let cfg = RdmaConfig {
            line_rate_bps: 50_000_000,
            dcqcn: Some(DcqcnConfig::default()),
            ..RdmaConfig::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("dcqcn.min_rate_bps"));
    }
}
