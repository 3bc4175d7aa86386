//! Traffic sources that exercise the network before real transports exist: constant bit
//! rate, Poisson, and ping. UDP-like: no congestion control, no retransmission.
//!
//! Sans-I/O: a source is told the time and answers with the packet to send and when it
//! wants to be called next; the world turns that into events.

#![warn(missing_docs)]

use crate::engine::{SimDuration, SimRng, SimTime};
use crate::net::{FlowId, NodeId, Packet, Payload};
use rand_distr::{Distribution, Exp};

/// How packet sizes are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SizeModel {
    /// Every packet `size` bytes.
    Fixed(u32),
    /// Exponential (bytes), rounded to whole bytes, at least 1 and at most `max` (the path
    /// MTU): for M/M/1 service times.
    Exponential {
        /// Exponential distribution of sizes, in bytes.
        dist: Exp<f64>,
        /// Mean size, bytes.
        mean: f64,
        /// Cap, bytes (the path MTU).
        max: u32,
    },
}

impl SizeModel {
    /// Exponential sizes with mean `mean` bytes, capped at `max`.
    pub fn exponential(mean: f64, max: u32) -> Result<SizeModel, String> {
        let dist = Exp::new(1.0 / mean).map_err(|e| format!("bad mean packet size: {e}"))?;
        Ok(SizeModel::Exponential { dist, mean, max })
    }

    fn mean(&self) -> f64 {
        match self {
            SizeModel::Fixed(s) => *s as f64,
            SizeModel::Exponential { mean, .. } => *mean,
        }
    }
}

/// When a source sends and how large its packets are.
#[derive(Clone, Debug)]
pub enum Pattern {
    /// One packet every `size·8/rate`, the remainder carried so the long-run rate is exact.
    Cbr {
        /// Offered rate, bits per second.
        rate_bps: u64,
        /// Packet size, bytes.
        size: u32,
        /// Remainder of the last gap division (bit·ps), carried into the next gap.
        residue: u64,
    },
    /// Exponential inter-arrival times with mean `mean_size·8/rate`.
    Poisson {
        /// Mean offered rate, bits per second.
        rate_bps: u64,
        /// How packet sizes are drawn.
        size: SizeModel,
        /// Inter-arrival distribution, in seconds.
        gap: Exp<f64>,
        /// The source's own random stream.
        rng: Box<SimRng>,
    },
    /// An echo request every `interval`, `count` times (or until `stop`).
    Ping {
        /// Time between requests.
        interval: SimDuration,
        /// Request size, bytes.
        size: u32,
        /// Requests left to send; `None` means unlimited (until `stop`).
        remaining: Option<u64>,
    },
}

/// One source: a flow from `src` to `dst` following a pattern between `start` and `stop`.
#[derive(Clone, Debug)]
pub struct Source {
    /// The flow this source feeds.
    pub flow: FlowId,
    /// Sending node.
    pub src: NodeId,
    /// Destination node.
    pub dst: NodeId,
    /// When the first packet is sent.
    pub start: SimTime,
    /// When sending stops (no packet at or after it).
    pub stop: SimTime,
    /// ECMP hash stamped on every packet, so the flow keeps one path.
    pub ecmp_hash: u32,
    /// When and how large the packets are.
    pub pattern: Pattern,
    next_seq: u64,
}

impl Source {
    /// A source that has sent nothing yet (sequence numbers start at 0).
    pub fn new(
        flow: FlowId,
        src: NodeId,
        dst: NodeId,
        start: SimTime,
        stop: SimTime,
        ecmp_hash: u32,
        pattern: Pattern,
    ) -> Self {
        Source {
            flow,
            src,
            dst,
            start,
            stop,
            ecmp_hash,
            pattern,
            next_seq: 0,
        }
    }

    /// Mean bits per second this source offers (ping: its request rate).
    pub fn offered_bps(&self) -> f64 {
        match &self.pattern {
            Pattern::Cbr { rate_bps, .. } | Pattern::Poisson { rate_bps, .. } => *rate_bps as f64,
            Pattern::Ping { interval, size, .. } => *size as f64 * 8.0 / interval.as_secs_f64(),
        }
    }

    /// Called at its timer: the packet to send now (if any) and when to be called again.
    pub fn on_timer(&mut self, now: SimTime) -> (Option<Packet>, Option<SimTime>) {
        if now >= self.stop {
            return (None, None);
        }
        let (size, payload, gap_ps) = match &mut self.pattern {
            Pattern::Cbr {
                rate_bps,
                size,
                residue,
            } => {
                let numerator = *size as u64 * 8 * 1_000_000_000_000 + *residue;
                *residue = numerator % *rate_bps;
                (*size, Payload::Data, Some(numerator / *rate_bps))
            }
            Pattern::Poisson { size, gap, rng, .. } => {
                let s = match *size {
                    SizeModel::Exponential { dist, max, .. } => {
                        (dist.sample(rng.as_mut()).round() as u32).clamp(1, max)
                    }
                    SizeModel::Fixed(s) => s,
                };
                // The gap distribution was built from the mean size, so the offered load is
                // independent of each packet's drawn size (Poisson arrivals, independent sizes).
                let g = gap.sample(rng.as_mut());
                (s, Payload::Data, Some((g * 1e12).round() as u64))
            }
            Pattern::Ping {
                interval,
                size,
                remaining,
            } => {
                if *remaining == Some(0) {
                    return (None, None);
                }
                if let Some(r) = remaining {
                    *r -= 1;
                }
                let next = if *remaining == Some(0) {
                    None
                } else {
                    Some(interval.as_ps())
                };
                (*size, Payload::PingRequest { sent_at: now }, next)
            }
        };
        let packet = Packet {
            flow: self.flow,
            src: self.src,
            dst: self.dst,
            size,
            seq: self.next_seq,
            created: now,
            ecmp_hash: self.ecmp_hash,
            ecn_ce: false,
            payload,
        };
        self.next_seq += 1;
        let next = gap_ps
            .map(|g| SimTime(now.0.saturating_add(g.max(1))))
            .filter(|&t| t < self.stop);
        (Some(packet), next)
    }

    /// A packet of this flow arrived; returns the reply to send, if any (echo replies).
    pub fn on_delivery(&mut self, now: SimTime, p: &Packet) -> Option<Packet> {
        match p.payload {
            Payload::PingRequest { sent_at } => {
                let reply = Packet {
                    src: p.dst,
                    dst: p.src,
                    seq: p.seq,
                    created: now,
                    ecn_ce: false,
                    payload: Payload::PingReply { sent_at },
                    ..*p
                };
                Some(reply)
            }
            _ => None,
        }
    }
}

/// Builds the inter-arrival distribution of a Poisson source: mean gap `mean_size·8/rate`.
pub fn poisson_pattern(rate_bps: u64, size: SizeModel, rng: SimRng) -> Result<Pattern, String> {
    let mean_gap_s = size.mean() * 8.0 / rate_bps as f64;
    let gap = Exp::new(1.0 / mean_gap_s).map_err(|e| format!("bad Poisson rate: {e}"))?;
    Ok(Pattern::Poisson {
        rate_bps,
        size,
        gap,
        rng: Box::new(rng),
    })
}
