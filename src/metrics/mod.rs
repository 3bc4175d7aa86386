//! What a run measures: counters, histograms and time series, filled by the models during a
//! run and read by the report afterwards. Pure data: nothing here writes files or knows what
//! a model does.

#![warn(missing_docs)]

pub mod closed_form;
pub mod histogram;

pub use histogram::Histogram;

pub mod summary;

use crate::engine::SimTime;

/// Why a packet left the network without being delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    /// Tail drop at a full egress queue.
    Queue,
    /// A loss layer on a link direction discarded it.
    Loss,
    /// No route from the current node to the destination.
    NoRoute,
    /// Source and destination are on different sides of a scheduled network partition.
    Partition,
}

impl DropReason {
    /// Every reason, in index order (the order of the `dropped` arrays).
    pub const ALL: [DropReason; 4] = [
        DropReason::Queue,
        DropReason::Loss,
        DropReason::NoRoute,
        DropReason::Partition,
    ];
    /// Short snake_case name, as written in reports.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Queue => "queue",
            DropReason::Loss => "loss",
            DropReason::NoRoute => "no_route",
            DropReason::Partition => "partition",
        }
    }
    /// Position in the `dropped: [u64; 4]` counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Network-wide packet accounting: `injected = delivered + dropped + in flight` always.
#[derive(Clone, Debug, Default)]
pub struct NetStats {
    /// Packets handed to the network.
    pub injected: u64,
    /// Packets delivered to their destination node.
    pub delivered: u64,
    /// Packets dropped, indexed by [`DropReason::index`].
    pub dropped: [u64; 4],
}

impl NetStats {
    /// Packets dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
}

/// Per-flow counters and one-way delay distribution.
#[derive(Clone, Debug, Default)]
pub struct FlowStats {
    /// Packets the flow injected.
    pub sent_packets: u64,
    /// Bytes the flow injected.
    pub sent_bytes: u64,
    /// Packets delivered to the destination.
    pub delivered_packets: u64,
    /// Bytes delivered to the destination.
    pub delivered_bytes: u64,
    /// Packets dropped, indexed by [`DropReason::index`].
    pub dropped: [u64; 4],
    /// Packets delivered with a sequence number below one already delivered.
    pub reordered: u64,
    /// Highest sequence number delivered so far (for reorder detection); `None` before the first.
    pub highest_seq_delivered: Option<u64>,
    /// One-way delay, injection to delivery, in picoseconds.
    pub delay: Histogram,
    /// Virtual time of the first delivery.
    pub first_delivery: Option<SimTime>,
    /// Virtual time of the last delivery.
    pub last_delivery: Option<SimTime>,
    /// Round-trip times measured by ping, in picoseconds.
    pub rtt: Histogram,
}

/// Per egress port (one direction of a link).
#[derive(Clone, Debug, Default)]
pub struct PortStats {
    /// PFC pause frames received (transmission stopped) on this direction.
    pub pauses: u64,
    /// Time spent paused by PFC, picoseconds.
    pub paused_ps: u64,
    /// Packets transmitted on this direction.
    pub tx_packets: u64,
    /// Bytes transmitted on this direction.
    pub tx_bytes: u64,
    /// Time spent serializing, in picoseconds (utilization = busy / elapsed).
    pub busy_ps: u64,
    /// Packets dropped here, indexed by [`DropReason::index`].
    pub dropped: [u64; 4],
    /// Packets marked ECN Congestion Experienced at this egress queue.
    pub ecn_marked: u64,
    /// Longest the egress queue got, in packets.
    pub max_queue_packets: u64,
    /// Largest the egress queue got, in bytes.
    pub max_queue_bytes: u64,
    /// Integral of queue length (packets) over time, in packet·ps, for the time average.
    pub queue_area: u128,
}

/// A sampled quantity over virtual time.
#[derive(Clone, Debug)]
pub struct TimeSeries {
    /// E.g. `link/s0-s1/ab`.
    pub entity: String,
    /// E.g. `queue_packets`.
    pub metric: &'static str,
    /// Unit of the values, e.g. `packets`.
    pub unit: &'static str,
    /// `(time, value)` samples in time order.
    pub points: Vec<(SimTime, f64)>,
}

/// A flow's identity and counters at the end of a run.
#[derive(Clone, Debug)]
pub struct FlowRecord {
    /// The flow's name from the config.
    pub name: String,
    /// Kind of application or transport that drove the flow.
    pub app: &'static str,
    /// Name of the source node.
    pub src: String,
    /// Name of the destination node.
    pub dst: String,
    /// Mean offered load, bits per second.
    pub offered_bps: f64,
    /// Seconds the source was active within the run (for throughput).
    pub active_s: f64,
    /// Network-level counters and delays of the flow.
    pub stats: FlowStats,
    /// What the flow's transport measured itself: `(metric, value, unit)` rows such as
    /// goodput, retransmissions and completion time.
    pub extra: Vec<(&'static str, f64, &'static str)>,
}

/// One link direction's identity and counters at the end of a run.
#[derive(Clone, Debug)]
pub struct PortRecord {
    /// Name of the link.
    pub link: String,
    /// Which direction: `ab` or `ba` (see `net::ids`).
    pub direction: &'static str,
    /// Name of the node the direction transmits from.
    pub from: String,
    /// Name of the node the direction transmits to.
    pub to: String,
    /// Line rate of the link, bits per second.
    pub rate_bps: u64,
    /// Counters of this direction's egress port.
    pub stats: PortStats,
}

/// A measurement that is neither a flow's nor a port's: `(scope, entity, metric, value,
/// unit)`, e.g. `("compress", "corpus", "ratio", 3.2, "x")`.
pub type MeasureRow = (&'static str, String, &'static str, f64, &'static str);

/// Everything a run measured, handed to the report.
#[derive(Clone, Debug)]
pub struct RunRecords {
    /// Network-wide packet accounting.
    pub net: NetStats,
    /// Packets still in the network at the end of the run.
    pub in_flight: u64,
    /// One record per flow.
    pub flows: Vec<FlowRecord>,
    /// One record per link direction.
    pub ports: Vec<PortRecord>,
    /// Sampled time series.
    pub series: Vec<TimeSeries>,
    /// Rows of measurements that are neither a flow nor a port (`[compress]` studies):
    /// `(scope, entity, metric, value, unit)`.
    pub measures: Vec<MeasureRow>,
    /// Faults and protocol events of the run, in time order: `(time, kind, description)`.
    pub log: Vec<(SimTime, &'static str, String)>,
    /// Events the engine processed.
    pub events: u64,
    /// Final trace digest (see `engine::digest`); equal digests mean equal event sequences.
    pub digest: u64,
    /// Virtual time at which the run ended.
    pub end_time: SimTime,
}

/// How a rate series recovered after a disturbance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recovery {
    /// Mean of the series over the baseline window before the disturbance.
    pub baseline: f64,
    /// Seconds from the end of the disturbance until the series is back within 10% of the
    /// baseline; `None` if it never is before the series ends.
    pub recovery_s: Option<f64>,
}

/// Samples averaged when judging recovery, so one bursty sample neither ends nor delays it.
pub const RECOVERY_SMOOTHING: usize = 5;

/// Recovery of a sampled rate after a disturbance lasting from `from` to `until`: the
/// baseline is the mean over `[from − window, from)`; recovery is the first sample time
/// `t ≥ until` at which the mean of the samples `t, t+1, …` (5 of them) reaches 90% of
/// the baseline. `None` when there is no sample in the baseline window or it is zero.
pub fn recovery(
    points: &[(SimTime, f64)],
    from: SimTime,
    until: SimTime,
    window: crate::engine::SimDuration,
) -> Option<Recovery> {
    let start = SimTime(from.0.saturating_sub(window.as_ps()));
    let before: Vec<f64> = points
        .iter()
        .filter(|(t, _)| *t > start && *t <= from)
        .map(|p| p.1)
        .collect();
    if before.is_empty() {
        return None;
    }
    let baseline = before.iter().sum::<f64>() / before.len() as f64;
    if baseline <= 0.0 {
        return None;
    }
    let after: Vec<&(SimTime, f64)> = points.iter().filter(|(t, _)| *t > until).collect();
    let recovery_s = after.windows(RECOVERY_SMOOTHING).find_map(|w| {
        let mean = w.iter().map(|p| p.1).sum::<f64>() / w.len() as f64;
        // A sample covers the interval ending at its time; the recovered interval starts
        // one sample period before the first sample of the window.
        (mean >= 0.9 * baseline).then(|| {
            let period = w.get(1).map_or(0, |b| b.0 .0 - w[0].0 .0);
            (w[0].0 .0.saturating_sub(period)).saturating_sub(until.0) as f64 / 1e12
        })
    });
    Some(Recovery {
        baseline,
        recovery_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;

    #[test]
    fn recovery_is_measured_from_the_end_of_the_disturbance() {
        let ms = |m: u64| SimTime::ZERO + SimDuration::from_millis(m);
        // 100 until 1 s, an outage to 1.2 s, then 50 until 1.5 s and 100 after.
        let points: Vec<(SimTime, f64)> = (1..=300)
            .map(|i| {
                let t = i * 10;
                let v = if t <= 1000 {
                    100.0
                } else if t <= 1200 {
                    0.0
                } else if t <= 1500 {
                    50.0
                } else {
                    100.0
                };
                (ms(t), v)
            })
            .collect();
        let r = recovery(&points, ms(1000), ms(1200), SimDuration::from_millis(500)).unwrap();
        assert_eq!(r.baseline, 100.0);
        // The first 5-sample window averaging ≥ 90 is [50, 100, 100, 100, 100] (mean 90),
        // starting at the 1.50 s sample, which covers (1.49, 1.50]: 0.29 s after 1.2 s.
        assert!((r.recovery_s.unwrap() - 0.29).abs() < 1e-9, "{:?}", r);
        // Never back: no recovery time.
        let flat: Vec<(SimTime, f64)> = points
            .iter()
            .map(|&(t, v)| (t, if t > ms(1000) { 10.0 } else { v }))
            .collect();
        let r = recovery(&flat, ms(1000), ms(1200), SimDuration::from_millis(500)).unwrap();
        assert_eq!(r.recovery_s, None);
    }
}
