//! Transports over the packet network: TCP (NewReno, CUBIC, BBR), RoCEv2 reliable
//! connections (go-back-N, DCQCN), AMST, the multi-stream transfer striped over them, and
//! channels, persistent streams that carry messages queued over time.
//!
//! Every transport is a sans-I/O state machine in the smoltcp shape: it is handed the time
//! and the packets that reach it, pushes the packets it wants sent into an outbox, and says
//! when it next wants to be called ([`Transport::poll_at`]). The world turns that into
//! events; nothing here sees the scheduler, a clock or a file.

#![warn(missing_docs)]

pub mod channel;
pub mod datagram;
pub mod multistream;
pub mod rdma;
mod stream;
pub mod tcp;

use crate::engine::SimTime;
use crate::net::{FlowId, NodeId, Packet};

/// Packets a transport wants injected now. The world owns one and clears it between calls,
/// so steady state allocates nothing.
pub type Outbox = Vec<Packet>;

/// Where a connection's packets go. Data and the reverse direction (ACKs, NACKs, CNPs) are
/// separate network flows, so each direction's counters stay apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ends {
    /// The node that sends the data.
    pub src: NodeId,
    /// The node that receives the data and sends the acknowledgements.
    pub dst: NodeId,
    /// Network flow of the data packets (src → dst).
    pub data_flow: FlowId,
    /// Network flow of the feedback packets (dst → src).
    pub ack_flow: FlowId,
    /// ECMP hash for both directions: a connection keeps one path.
    pub ecmp_hash: u32,
}

/// One measured value: `(metric, value, unit)`, e.g. `("retransmits", 12.0, "segments")`.
pub type Metric = (&'static str, f64, &'static str);

/// What the world needs of a transport endpoint pair (one connection, both ends).
pub trait Transport {
    /// The connection opens at `now`: first packets go out.
    fn on_start(&mut self, now: SimTime, out: &mut Outbox);
    /// A packet of one of this transport's flows reached its destination node.
    fn on_packet(&mut self, now: SimTime, packet: &Packet, out: &mut Outbox);
    /// The deadline from [`Transport::poll_at`] has come.
    fn on_timer(&mut self, now: SimTime, out: &mut Outbox);
    /// When to call [`Transport::on_timer`] next (retransmission, delayed ACK, pacing).
    fn poll_at(&self) -> Option<SimTime>;
    /// Values sampled into time series every sample interval (e.g. cwnd, smoothed RTT, or a
    /// rate over the interval since the previous call, hence `&mut`).
    fn sample(&mut self, now: SimTime, out: &mut Vec<Metric>);
    /// End-of-run measurements (e.g. goodput, retransmissions, completion time).
    fn report(&self, now: SimTime, out: &mut Vec<Metric>);
}

/// Every transport as one enum: the world stores them in one `Vec` and dispatches with a
/// `match`, no boxing per call.
#[derive(Clone, Debug)]
pub enum Connection {
    /// A TCP connection.
    Tcp(Box<tcp::TcpConnection>),
    /// A RoCEv2 queue pair.
    Rdma(Box<rdma::RdmaConnection>),
    /// An AMST multi-stream transfer.
    Amst(Box<multistream::MultiStream>),
    /// A persistent message channel over parallel streams.
    Channel(Box<channel::Channel>),
}

impl Connection {
    fn inner(&mut self) -> &mut dyn Transport {
        match self {
            Connection::Tcp(c) => c.as_mut(),
            Connection::Rdma(c) => c.as_mut(),
            Connection::Amst(c) => c.as_mut(),
            Connection::Channel(c) => c.as_mut(),
        }
    }

    fn inner_ref(&self) -> &dyn Transport {
        match self {
            Connection::Tcp(c) => c.as_ref(),
            Connection::Rdma(c) => c.as_ref(),
            Connection::Amst(c) => c.as_ref(),
            Connection::Channel(c) => c.as_ref(),
        }
    }

    /// The application name in results (`tcp`, `rdma`).
    pub fn app(&self) -> &'static str {
        match self {
            Connection::Tcp(_) => "tcp",
            Connection::Rdma(_) => "rdma",
            Connection::Amst(_) => "amst",
            Connection::Channel(_) => "channel",
        }
    }
}

impl Transport for Connection {
    fn on_start(&mut self, now: SimTime, out: &mut Outbox) {
        self.inner().on_start(now, out)
    }
    fn on_packet(&mut self, now: SimTime, packet: &Packet, out: &mut Outbox) {
        self.inner().on_packet(now, packet, out)
    }
    fn on_timer(&mut self, now: SimTime, out: &mut Outbox) {
        self.inner().on_timer(now, out)
    }
    fn poll_at(&self) -> Option<SimTime> {
        self.inner_ref().poll_at()
    }
    fn sample(&mut self, now: SimTime, out: &mut Vec<Metric>) {
        self.inner().sample(now, out)
    }
    fn report(&self, now: SimTime, out: &mut Vec<Metric>) {
        self.inner_ref().report(now, out)
    }
}
