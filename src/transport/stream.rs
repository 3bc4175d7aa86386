//! One application-fed connection of either kind (TCP or RoCE), as the multi-stream
//! transports ([`super::multistream`], [`super::channel`]) use them: data is offered as it
//! comes, and the connection reports what it delivered.

use super::multistream::StreamTransport;
use crate::engine::{SimDuration, SimTime};
use crate::transport::rdma::RdmaConnection;
use crate::transport::tcp::TcpConnection;
use crate::transport::{Ends, Outbox, Transport};

/// An application-fed connection of either kind.
#[derive(Clone, Debug)]
pub(crate) enum StreamConn {
    Tcp(Box<TcpConnection>),
    Rdma(Box<RdmaConnection>),
}

impl StreamConn {
    pub(crate) fn open(
        over: &StreamTransport,
        chunk_bytes: u64,
        n: usize,
        e: Ends,
        now: SimTime,
    ) -> Self {
        match over {
            StreamTransport::Tcp(tcp) => {
                let mut c = tcp.clone();
                c.bytes = None;
                let mut conn = TcpConnection::new(&c, e, now);
                conn.sender = conn.sender.clone().fed();
                StreamConn::Tcp(Box::new(conn))
            }
            StreamTransport::Rdma(rdma) => {
                let mut c = *rdma;
                c.message_bytes = chunk_bytes;
                // The NIC shares its port among the queue pairs (round-robin arbitration):
                // each paces at 1/N of the line rate.
                c.line_rate_bps = (c.line_rate_bps / n as u64).max(1);
                c.total_bytes = None;
                StreamConn::Rdma(Box::new(RdmaConnection::new(c, e, now).fed()))
            }
        }
    }
    pub(crate) fn transport(&mut self) -> &mut dyn Transport {
        match self {
            StreamConn::Tcp(c) => c.as_mut(),
            StreamConn::Rdma(c) => c.as_mut(),
        }
    }
    pub(crate) fn poll_at(&self) -> Option<SimTime> {
        match self {
            StreamConn::Tcp(c) => c.poll_at(),
            StreamConn::Rdma(c) => c.poll_at(),
        }
    }
    pub(crate) fn offer(&mut self, bytes: u64, last: bool) {
        match self {
            StreamConn::Tcp(c) => c.sender.offer(bytes, last),
            StreamConn::Rdma(c) => c.offer(bytes, last),
        }
    }
    pub(crate) fn offered(&self) -> u64 {
        match self {
            StreamConn::Tcp(c) => c.sender.offered(),
            StreamConn::Rdma(c) => c.offered(),
        }
    }
    pub(crate) fn unsent_bytes(&self) -> u64 {
        match self {
            StreamConn::Tcp(c) => c.sender.unsent_bytes(),
            StreamConn::Rdma(c) => c.unsent_bytes(),
        }
    }
    pub(crate) fn closed(&self) -> bool {
        match self {
            StreamConn::Tcp(c) => c.sender.closed(),
            StreamConn::Rdma(c) => c.closed(),
        }
    }
    pub(crate) fn kick(&mut self, now: SimTime, out: &mut Outbox) {
        match self {
            StreamConn::Tcp(c) => c.sender.kick(now, out),
            StreamConn::Rdma(c) => c.kick(now, out),
        }
    }
    pub(crate) fn goodput_bytes(&self) -> u64 {
        match self {
            StreamConn::Tcp(c) => c.goodput_bytes(),
            StreamConn::Rdma(c) => c.goodput_bytes(),
        }
    }
    /// Data packets sent (first sends and resends) and those that were resends.
    pub(crate) fn sent_and_resent(&self) -> (u64, u64) {
        match self {
            StreamConn::Tcp(c) => (c.sender.stats.segments_sent, c.sender.stats.retransmitted),
            StreamConn::Rdma(c) => {
                let s = c.requester_stats();
                (s.data_packets, s.retransmitted)
            }
        }
    }
    pub(crate) fn srtt(&self) -> Option<SimDuration> {
        match self {
            StreamConn::Tcp(c) => c.sender.rtt.srtt(),
            StreamConn::Rdma(c) => c.srtt(),
        }
    }
}
