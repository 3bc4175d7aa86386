//! What a run measures: counters, histograms and time series, filled by the models during a
//! run and read by the report afterwards. Pure data: nothing here writes files or knows what
//! a model does.

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
}

impl DropReason {
    pub const ALL: [DropReason; 3] = [DropReason::Queue, DropReason::Loss, DropReason::NoRoute];
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Queue => "queue",
            DropReason::Loss => "loss",
            DropReason::NoRoute => "no_route",
        }
    }
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Network-wide packet accounting: `injected = delivered + dropped + in flight` always.
#[derive(Clone, Debug, Default)]
pub struct NetStats {
    pub injected: u64,
    pub delivered: u64,
    pub dropped: [u64; 3],
}

impl NetStats {
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
}

/// Per-flow counters and one-way delay distribution.
#[derive(Clone, Debug, Default)]
pub struct FlowStats {
    pub sent_packets: u64,
    pub sent_bytes: u64,
    pub delivered_packets: u64,
    pub delivered_bytes: u64,
    pub dropped: [u64; 3],
    /// Packets delivered with a sequence number below one already delivered.
    pub reordered: u64,
    pub highest_seq_delivered: Option<u64>,
    /// One-way delay, injection to delivery, in picoseconds.
    pub delay: Histogram,
    pub first_delivery: Option<SimTime>,
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
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Time spent serializing, in picoseconds (utilization = busy / elapsed).
    pub busy_ps: u64,
    pub dropped: [u64; 3],
    pub ecn_marked: u64,
    pub max_queue_packets: u64,
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
    pub unit: &'static str,
    pub points: Vec<(SimTime, f64)>,
}

/// A flow's identity and counters at the end of a run.
#[derive(Clone, Debug)]
pub struct FlowRecord {
    pub name: String,
    pub app: &'static str,
    pub src: String,
    pub dst: String,
    /// Mean offered load, bits per second.
    pub offered_bps: f64,
    /// Seconds the source was active within the run (for throughput).
    pub active_s: f64,
    pub stats: FlowStats,
    /// What the flow's transport measured itself: `(metric, value, unit)` rows such as
    /// goodput, retransmissions and completion time.
    pub extra: Vec<(&'static str, f64, &'static str)>,
}

/// One link direction's identity and counters at the end of a run.
#[derive(Clone, Debug)]
pub struct PortRecord {
    pub link: String,
    pub direction: &'static str,
    pub from: String,
    pub to: String,
    pub rate_bps: u64,
    pub stats: PortStats,
}

/// Everything a run measured, handed to the report.
#[derive(Clone, Debug)]
pub struct RunRecords {
    pub net: NetStats,
    pub in_flight: u64,
    pub flows: Vec<FlowRecord>,
    pub ports: Vec<PortRecord>,
    pub series: Vec<TimeSeries>,
    pub events: u64,
    pub digest: u64,
    pub end_time: SimTime,
}
