//! `[tcp]` and `[rdma]` (and a flow's own `[flows.tcp]`, `[flows.rdma]`): typed sections of
//! optional keys, laid one over another (the experiment's, then the flow's), then resolved
//! onto the model's defaults. One pattern for every transport: unknown keys and bad values
//! fail when the file is read, with TOML's line and column, not when a world is built.

use crate::transport::rdma::{DcqcnConfig, RdmaConfig};
use crate::transport::tcp::{CcKind, RtoRule, TcpConfig};
use crate::units::{Bytes, Duration};
use serde::{Deserialize, Serialize};

/// Declares a section of optional keys and its `overlay`: `self` with every key `over`
/// sets replaced (a nested section is replaced whole, as a TOML table would be).
macro_rules! settings {
    ($(#[$meta:meta])* pub struct $name:ident {
        $($(#[$fmeta:meta])* pub $field:ident: Option<$ty:ty>,)*
    }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: Option<$ty>,)*
        }

        impl $name {
            /// `self` with every key `over` sets replaced.
            pub fn overlay(&self, over: &$name) -> $name {
                $name { $($field: over.$field.clone().or_else(|| self.$field.clone()),)* }
            }
        }
    };
}

settings! {
    /// TCP parameters; every key is optional and defaults as Linux does (see
    /// `transport::tcp::TcpConfig`).
    pub struct TcpSettings {
        /// `"newreno"` (default), `"cubic"` or `"bbr"`.
        pub cc: Option<CcKind>,
        /// Payload bytes per segment (default: smallest link MTU − 52 header bytes).
        pub mss: Option<Bytes>,
        /// Initial window, segments (default 10).
        pub initial_window: Option<u64>,
        /// `"linux"` (default: RTO = SRTT + max(4·RTTVAR, min_rto)) or `"rfc6298"`
        /// (RTO = max(min_rto, SRTT + 4·RTTVAR)).
        pub rto_rule: Option<RtoRule>,
        /// Lower bound of the retransmission timeout (default 200ms; RFC 6298 says 1s).
        pub min_rto: Option<Duration>,
        /// Upper bound of the retransmission timeout.
        pub max_rto: Option<Duration>,
        /// Retransmission timeout before the first RTT sample.
        pub initial_rto: Option<Duration>,
        /// Delayed ACKs (default true): every `ack_every` segments or after `delack_timeout`.
        pub delayed_ack: Option<bool>,
        /// Segments per delayed ACK.
        pub ack_every: Option<u32>,
        /// Longest wait of a delayed ACK.
        pub delack_timeout: Option<Duration>,
        /// Receive window (default 6MiB).
        pub rwnd: Option<Bytes>,
        /// SACK loss recovery (default true); false gives NewReno recovery.
        pub sack: Option<bool>,
        /// Duplicate ACKs that signal a loss (default 3).
        pub dupthresh: Option<u32>,
    }
}

settings! {
    /// RoCEv2 queue-pair parameters over `transport::rdma::RdmaConfig`'s defaults (where
    /// each default comes from is documented there). Rates are integer bit/s, sizes bytes.
    pub struct RdmaSettings {
        /// Payload bytes per packet (default 1024).
        pub mtu_payload: Option<u32>,
        /// NIC rate (default: the rate of the source host's link).
        pub line_rate_bps: Option<u64>,
        /// Bytes per message (default 1 MiB).
        pub message_bytes: Option<u64>,
        /// Bytes to transfer (default: endless; a flow's `bytes` sets it).
        pub total_bytes: Option<u64>,
        /// Packets per ACK (default 16).
        pub ack_every: Option<u32>,
        /// Most unacknowledged packets in flight (default 10 000).
        pub window_packets: Option<u32>,
        /// Go-back-N timeout (default 1.048576 ms).
        pub retransmit_timeout: Option<Duration>,
        /// NIC cost per message (default 500 ns).
        pub per_message_cost: Option<Duration>,
        /// DCQCN rate control: present (even empty) turns it on, with these keys over its
        /// defaults.
        pub dcqcn: Option<DcqcnSettings>,
    }
}

settings! {
    /// DCQCN parameters over `transport::rdma::DcqcnConfig`'s defaults.
    pub struct DcqcnSettings {
        /// At most one CNP per QP per this interval.
        pub cnp_interval: Option<Duration>,
        /// α decays once per this period without a CNP.
        pub alpha_period: Option<Duration>,
        /// Rate-increase timer period.
        pub increase_period: Option<Duration>,
        /// α gain (fraction).
        pub g: Option<f64>,
        /// Byte-counter threshold, wire bytes.
        pub byte_counter: Option<u64>,
        /// Fast-recovery steps.
        pub fast_recovery_steps: Option<u32>,
        /// Additive increase, bit/s.
        pub rate_ai_bps: Option<u64>,
        /// Hyper increase, bit/s.
        pub rate_hai_bps: Option<u64>,
        /// Lowest rate, bit/s.
        pub min_rate_bps: Option<u64>,
        /// α before the first CNP.
        pub initial_alpha: Option<f64>,
    }
}

impl TcpSettings {
    /// Checks what can be checked without a topology.
    pub fn validate(&self) -> Result<(), String> {
        if self.mss.is_some_and(|m| m.0 == 0 || m.0 > 65_000) {
            return Err("`tcp.mss` must be between 1 and 65000 bytes".into());
        }
        if self.initial_window == Some(0) {
            return Err("`tcp.initial_window` must be at least 1 segment".into());
        }
        if self.ack_every == Some(0) {
            return Err("`tcp.ack_every` must be at least 1".into());
        }
        if self.dupthresh == Some(0) {
            return Err("`tcp.dupthresh` must be at least 1".into());
        }
        for (key, d) in [
            ("min_rto", self.min_rto),
            ("max_rto", self.max_rto),
            ("initial_rto", self.initial_rto),
            ("delack_timeout", self.delack_timeout),
        ] {
            if d.is_some_and(|d| d.0.as_ps() == 0) {
                return Err(format!("`tcp.{key}` must be greater than zero"));
            }
        }
        if let (Some(lo), Some(hi)) = (self.min_rto, self.max_rto) {
            if lo.0 > hi.0 {
                return Err(format!(
                    "`tcp.min_rto` ({lo}) is above `tcp.max_rto` ({hi})"
                ));
            }
        }
        Ok(())
    }

    /// The TCP configuration: Linux's defaults for the smallest link MTU on the path, these
    /// keys over them; `bytes` to send, or `None` for a bulk flow.
    pub fn resolve(&self, bytes: Option<u64>, min_mtu: u32) -> Result<TcpConfig, String> {
        let mut c = TcpConfig::for_mtu(min_mtu, self.cc.unwrap_or_default());
        if let Some(m) = self.mss {
            let mss = m.0 as u32;
            if mss + c.header_bytes > min_mtu {
                return Err(format!(
                    "`tcp.mss` = {mss} plus {} header bytes exceeds the smallest link MTU ({min_mtu} bytes)",
                    c.header_bytes
                ));
            }
            c.mss = mss;
        }
        if min_mtu <= c.header_bytes {
            return Err(format!(
                "the smallest link MTU ({min_mtu} bytes) leaves no room for TCP payload"
            ));
        }
        macro_rules! set {
            ($($key:ident => $conv:expr),*) => { $(if let Some(v) = self.$key { c.$key = $conv(v); })* };
        }
        set!(
            initial_window => |v| v,
            rto_rule => |v| v,
            min_rto => |v: Duration| v.0,
            max_rto => |v: Duration| v.0,
            initial_rto => |v: Duration| v.0,
            delayed_ack => |v| v,
            ack_every => |v| v,
            delack_timeout => |v: Duration| v.0,
            sack => |v| v,
            dupthresh => |v| v
        );
        if let Some(r) = self.rwnd {
            c.rwnd_bytes = r.0;
        }
        if c.rwnd_bytes < c.mss as u64 {
            return Err(format!(
                "`tcp.rwnd` = {} bytes is smaller than one segment ({} bytes)",
                c.rwnd_bytes, c.mss
            ));
        }
        c.bytes = bytes;
        Ok(c)
    }
}

impl RdmaSettings {
    /// The queue-pair configuration: `RdmaConfig`'s defaults with these keys over them,
    /// checked.
    pub fn resolve(&self) -> Result<RdmaConfig, String> {
        let d = RdmaConfig::default();
        let c = RdmaConfig {
            mtu_payload: self.mtu_payload.unwrap_or(d.mtu_payload),
            line_rate_bps: self.line_rate_bps.unwrap_or(d.line_rate_bps),
            message_bytes: self.message_bytes.unwrap_or(d.message_bytes),
            total_bytes: self.total_bytes.or(d.total_bytes),
            ack_every: self.ack_every.unwrap_or(d.ack_every),
            window_packets: self.window_packets.unwrap_or(d.window_packets),
            retransmit_timeout: self
                .retransmit_timeout
                .map_or(d.retransmit_timeout, |t| t.0),
            per_message_cost: self.per_message_cost.map_or(d.per_message_cost, |t| t.0),
            dcqcn: self.dcqcn.as_ref().map(DcqcnSettings::resolve),
        };
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }
}

impl DcqcnSettings {
    /// `DcqcnConfig`'s defaults with these keys over them.
    pub fn resolve(&self) -> DcqcnConfig {
        let d = DcqcnConfig::default();
        DcqcnConfig {
            cnp_interval: self.cnp_interval.map_or(d.cnp_interval, |t| t.0),
            alpha_period: self.alpha_period.map_or(d.alpha_period, |t| t.0),
            increase_period: self.increase_period.map_or(d.increase_period, |t| t.0),
            g: self.g.unwrap_or(d.g),
            byte_counter: self.byte_counter.unwrap_or(d.byte_counter),
            fast_recovery_steps: self.fast_recovery_steps.unwrap_or(d.fast_recovery_steps),
            rate_ai_bps: self.rate_ai_bps.unwrap_or(d.rate_ai_bps),
            rate_hai_bps: self.rate_hai_bps.unwrap_or(d.rate_hai_bps),
            min_rate_bps: self.min_rate_bps.unwrap_or(d.min_rate_bps),
            initial_alpha: self.initial_alpha.unwrap_or(d.initial_alpha),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_section_overrides_key_by_key_and_a_nested_section_whole() {
        let exp: RdmaSettings =
            toml::from_str("ack_every = 4\nmtu_payload = 512\ndcqcn = { g = 0.5 }").unwrap();
        let flow: RdmaSettings = toml::from_str("ack_every = 8\ndcqcn = {}").unwrap();
        let c = exp.overlay(&flow).resolve().unwrap();
        assert_eq!((c.ack_every, c.mtu_payload), (8, 512));
        // The flow's (empty) dcqcn table replaces the experiment's: g is back at 1/256.
        assert_eq!(c.dcqcn.map(|d| d.g), Some(1.0 / 256.0));
    }

    #[test]
    fn empty_sections_resolve_to_the_models_defaults() {
        assert_eq!(
            RdmaSettings::default().resolve().unwrap(),
            RdmaConfig::default()
        );
        let d: DcqcnSettings = toml::from_str("").unwrap();
        assert_eq!(d.resolve(), DcqcnConfig::default());
    }

    #[test]
    fn an_unknown_key_names_the_allowed_ones() {
        let e = toml::from_str::<RdmaSettings>("mtu = 1000")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`mtu`") && e.contains("mtu_payload"), "{e}");
    }
}
