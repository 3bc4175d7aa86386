//! AMST, the adaptive multi-stream transport: one logical transfer cut into chunks and
//! striped over N parallel TCP connections or RoCE queue pairs (one chunk per RDMA
//! message), reassembled in order at the receiver.
//!
//! The scheduler keeps every stream busy: whenever a stream has less than one chunk handed
//! to it and not yet sent, it gets the next chunk, so faster streams carry more. A chunk is
//! complete when its stream has delivered it in order; the transfer's in-order point is the
//! prefix of complete chunks, and what waits behind it is the reorder buffer.
//!
//! The mode detector ([`mode`]) is built; switching a running transfer between the
//! datacenter and internet stream sets is the next increment of the transports issue.

pub mod mode;

use crate::engine::SimTime;
use crate::net::{FlowId, Packet};
use crate::transport::rdma::{RdmaConfig, RdmaConnection};
use crate::transport::tcp::{TcpConfig, TcpConnection};
use crate::transport::{Ends, Metric, Outbox, Transport};
use std::collections::{BTreeSet, VecDeque};

/// One striped transfer.
#[derive(Clone, Debug, PartialEq)]
pub struct AmstConfig {
    pub streams: u32,
    /// Bytes per chunk (the last may be short).
    pub chunk_bytes: u64,
    /// Bytes of the whole transfer.
    pub total_bytes: u64,
}

/// What a stream runs over.
#[derive(Clone, Debug)]
pub enum StreamTransport {
    Tcp(TcpConfig),
    /// RoCE queue pairs; `message_bytes` is set to the chunk size.
    Rdma(RdmaConfig),
}

/// An application-fed connection of either kind.
#[derive(Clone, Debug)]
enum StreamConn {
    Tcp(Box<TcpConnection>),
    Rdma(Box<RdmaConnection>),
}

impl StreamConn {
    fn transport(&mut self) -> &mut dyn Transport {
        match self {
            StreamConn::Tcp(c) => c.as_mut(),
            StreamConn::Rdma(c) => c.as_mut(),
        }
    }
    fn poll_at(&self) -> Option<SimTime> {
        match self {
            StreamConn::Tcp(c) => c.poll_at(),
            StreamConn::Rdma(c) => c.poll_at(),
        }
    }
    fn offer(&mut self, bytes: u64, last: bool) {
        match self {
            StreamConn::Tcp(c) => c.sender.offer(bytes, last),
            StreamConn::Rdma(c) => c.offer(bytes, last),
        }
    }
    fn offered(&self) -> u64 {
        match self {
            StreamConn::Tcp(c) => c.sender.offered(),
            StreamConn::Rdma(c) => c.offered(),
        }
    }
    fn unsent_bytes(&self) -> u64 {
        match self {
            StreamConn::Tcp(c) => c.sender.unsent_bytes(),
            StreamConn::Rdma(c) => c.unsent_bytes(),
        }
    }
    fn closed(&self) -> bool {
        match self {
            StreamConn::Tcp(c) => c.sender.closed(),
            StreamConn::Rdma(c) => c.closed(),
        }
    }
    fn kick(&mut self, now: SimTime, out: &mut Outbox) {
        match self {
            StreamConn::Tcp(c) => c.sender.kick(now, out),
            StreamConn::Rdma(c) => c.kick(now, out),
        }
    }
    fn goodput_bytes(&self) -> u64 {
        match self {
            StreamConn::Tcp(c) => c.goodput_bytes(),
            StreamConn::Rdma(c) => c.goodput_bytes(),
        }
    }
    fn retransmitted(&self) -> u64 {
        match self {
            StreamConn::Tcp(c) => c.sender.stats.retransmitted,
            StreamConn::Rdma(c) => c.requester_stats().retransmitted,
        }
    }
}

/// One stream: its connection and the chunks it carries, in its byte order.
#[derive(Clone, Debug)]
struct Stream {
    conn: StreamConn,
    /// `(chunk, end offset in this stream's bytes)`, oldest first, not yet complete.
    chunks: VecDeque<(u64, u64)>,
    /// Key of this stream's deadline in the timer set.
    deadline: Option<SimTime>,
}

#[derive(Clone, Debug)]
pub struct MultiStream {
    cfg: AmstConfig,
    first_flow: FlowId,
    streams: Vec<Stream>,
    total_chunks: u64,
    next_chunk: u64,
    /// Every stream has been told it has no more data.
    all_closed: bool,
    /// `complete[c - in_order]`: chunk `c` has arrived (ring from the in-order point).
    complete: VecDeque<bool>,
    in_order: u64,
    /// Bytes complete but waiting behind a missing chunk, now and at most.
    buffered_bytes: u64,
    max_buffered_bytes: u64,
    /// Every stream's deadline, so the earliest is found in O(log N).
    timers: BTreeSet<(SimTime, u32)>,
    start: SimTime,
    completed_at: Option<SimTime>,
    last_sample: (u64, SimTime),
}

impl MultiStream {
    /// `ends[k]` are stream k's endpoints; their flows must be allocated consecutively,
    /// data then ACK, from `ends[0].data_flow`.
    pub fn new(
        cfg: AmstConfig,
        transport: &StreamTransport,
        ends: &[Ends],
        start: SimTime,
    ) -> MultiStream {
        assert!(cfg.streams as usize == ends.len() && !ends.is_empty());
        assert!(cfg.chunk_bytes > 0 && cfg.total_bytes > 0);
        for (k, e) in ends.iter().enumerate() {
            assert_eq!(e.data_flow.0, ends[0].data_flow.0 + 2 * k as u32);
            assert_eq!(e.ack_flow.0, e.data_flow.0 + 1);
        }
        let streams = ends
            .iter()
            .map(|e| {
                let conn = match transport {
                    StreamTransport::Tcp(tcp) => {
                        let mut c = tcp.clone();
                        c.bytes = None;
                        let mut conn = TcpConnection::new(&c, *e, start);
                        conn.sender = conn.sender.clone().fed();
                        StreamConn::Tcp(Box::new(conn))
                    }
                    StreamTransport::Rdma(rdma) => {
                        let mut c = *rdma;
                        c.message_bytes = cfg.chunk_bytes;
                        // The NIC shares its port among the queue pairs (round-robin
                        // arbitration): each paces at 1/N of the line rate.
                        c.line_rate_bps = (c.line_rate_bps / ends.len() as u64).max(1);
                        c.total_bytes = None;
                        StreamConn::Rdma(Box::new(RdmaConnection::new(c, *e, start).fed()))
                    }
                };
                Stream {
                    conn,
                    chunks: VecDeque::new(),
                    deadline: None,
                }
            })
            .collect();
        MultiStream {
            total_chunks: cfg.total_bytes.div_ceil(cfg.chunk_bytes),
            cfg,
            first_flow: ends[0].data_flow,
            streams,
            next_chunk: 0,
            all_closed: false,
            complete: VecDeque::new(),
            in_order: 0,
            buffered_bytes: 0,
            max_buffered_bytes: 0,
            timers: BTreeSet::new(),
            start,
            completed_at: None,
            last_sample: (0, start),
        }
    }

    fn chunk_len(&self, c: u64) -> u64 {
        self.cfg
            .chunk_bytes
            .min(self.cfg.total_bytes - c * self.cfg.chunk_bytes)
    }

    /// Bytes delivered in order to the application at the receiver.
    pub fn delivered_bytes(&self) -> u64 {
        (self.in_order * self.cfg.chunk_bytes).min(self.cfg.total_bytes)
    }

    pub fn completed_at(&self) -> Option<SimTime> {
        self.completed_at
    }

    /// Hands chunks to stream `k` until it has a chunk's worth unsent (or none remain).
    fn feed(&mut self, now: SimTime, k: usize, out: &mut Outbox) {
        let mut fed = false;
        while self.next_chunk < self.total_chunks
            && self.streams[k].conn.unsent_bytes() < self.cfg.chunk_bytes
        {
            let c = self.next_chunk;
            self.next_chunk += 1;
            let len = self.chunk_len(c);
            let s = &mut self.streams[k];
            s.conn.offer(len, false);
            s.chunks.push_back((c, s.conn.offered()));
            fed = true;
        }
        if fed {
            self.streams[k].conn.kick(now, out);
        }
        if self.next_chunk == self.total_chunks && !self.all_closed {
            self.all_closed = true;
            // Nothing left to hand out: close every stream so its last segment may be short.
            // A closed stream may send at once, so its deadline is re-filed (stream `k`'s is
            // re-filed by the caller).
            for j in 0..self.streams.len() {
                if !self.streams[j].conn.closed() {
                    self.streams[j].conn.offer(0, true);
                    self.streams[j].conn.kick(now, out);
                    if j != k {
                        self.sync(j);
                    }
                }
            }
        }
    }

    /// Stream `k` delivered more: mark its finished chunks and advance the in-order point.
    fn collect(&mut self, now: SimTime, k: usize) {
        let delivered = self.streams[k].conn.goodput_bytes();
        while let Some(&(c, end)) = self.streams[k].chunks.front() {
            if delivered < end {
                break;
            }
            self.streams[k].chunks.pop_front();
            let i = (c - self.in_order) as usize;
            if self.complete.len() <= i {
                self.complete.resize(i + 1, false);
            }
            self.complete[i] = true;
            self.buffered_bytes += self.chunk_len(c);
        }
        while self.complete.front() == Some(&true) {
            self.complete.pop_front();
            self.buffered_bytes -= self.chunk_len(self.in_order);
            self.in_order += 1;
        }
        self.max_buffered_bytes = self.max_buffered_bytes.max(self.buffered_bytes);
        if self.in_order == self.total_chunks && self.completed_at.is_none() {
            self.completed_at = Some(now);
        }
    }

    fn sync(&mut self, k: usize) {
        let s = &mut self.streams[k];
        let want = s.conn.poll_at();
        if want != s.deadline {
            if let Some(t) = s.deadline {
                self.timers.remove(&(t, k as u32));
            }
            if let Some(t) = want {
                self.timers.insert((t, k as u32));
            }
            s.deadline = want;
        }
    }

    fn after(&mut self, now: SimTime, k: usize, out: &mut Outbox) {
        self.collect(now, k);
        self.feed(now, k, out);
        self.sync(k);
    }
}

impl Transport for MultiStream {
    fn on_start(&mut self, now: SimTime, out: &mut Outbox) {
        for k in 0..self.streams.len() {
            self.streams[k].conn.transport().on_start(now, out);
            self.feed(now, k, out);
        }
        for k in 0..self.streams.len() {
            self.sync(k);
        }
    }

    fn on_packet(&mut self, now: SimTime, packet: &Packet, out: &mut Outbox) {
        let k = ((packet.flow.0 - self.first_flow.0) / 2) as usize;
        self.streams[k].conn.transport().on_packet(now, packet, out);
        self.after(now, k, out);
    }

    fn on_timer(&mut self, now: SimTime, out: &mut Outbox) {
        while let Some(&(t, k)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.remove(&(t, k));
            let k = k as usize;
            self.streams[k].deadline = None;
            self.streams[k].conn.transport().on_timer(now, out);
            self.after(now, k, out);
        }
    }

    fn poll_at(&self) -> Option<SimTime> {
        self.timers.first().map(|&(t, _)| t)
    }

    fn sample(&mut self, now: SimTime, out: &mut Vec<Metric>) {
        let bytes = self.delivered_bytes();
        let (before, at) = self.last_sample;
        let dt = now.since(at.min(now)).as_secs_f64();
        if dt > 0.0 {
            out.push(("goodput", (bytes - before) as f64 * 8.0 / dt, "bit/s"));
        }
        self.last_sample = (bytes, now);
        out.push(("reorder_buffer", self.buffered_bytes as f64, "bytes"));
    }

    fn report(&self, now: SimTime, out: &mut Vec<Metric>) {
        let bytes = self.delivered_bytes();
        out.push(("streams", self.streams.len() as f64, "flows"));
        out.push(("goodput_bytes", bytes as f64, "bytes"));
        let end = self.completed_at.unwrap_or(now);
        let active = end.since(self.start.min(end)).as_secs_f64();
        if active > 0.0 {
            out.push(("goodput", bytes as f64 * 8.0 / active, "bit/s"));
        }
        if let Some(t) = self.completed_at {
            out.push(("completion_time", t.since(self.start).as_secs_f64(), "s"));
        }
        out.push(("chunks", self.total_chunks as f64, "chunks"));
        out.push((
            "reorder_buffer_max",
            self.max_buffered_bytes as f64,
            "bytes",
        ));
        let retx: u64 = self.streams.iter().map(|s| s.conn.retransmitted()).sum();
        out.push(("retransmitted_packets", retx as f64, "packets"));
        // Fairness of the striping: Jain's index of the bytes each stream carried.
        let carried: Vec<f64> = self
            .streams
            .iter()
            .map(|s| s.conn.goodput_bytes() as f64)
            .collect();
        let sum: f64 = carried.iter().sum();
        let sq: f64 = carried.iter().map(|x| x * x).sum();
        if sq > 0.0 {
            out.push((
                "stream_balance",
                sum * sum / (carried.len() as f64 * sq),
                "jain",
            ));
        }
    }
}
