//! A channel: N persistent streams (TCP connections or RoCE queue pairs) between two nodes
//! that carry messages queued one after another, each message whole on one stream. It is
//! what a live migration's connections are (QEMU's main and multifd channels, vMotion's
//! streams, an AMST session): they stay open for the whole migration and take page
//! batches as the sender produces them, so congestion windows carry over from one batch
//! to the next instead of restarting for each (an [`super::multistream::MultiStream`]
//! moves one transfer of known size).
//!
//! A message goes to the stream with the least unsent data once that stream has less than
//! `feed_bytes` waiting (its send buffer); until then it waits in the channel's queue. A
//! message is delivered when its stream has delivered, in order, every byte up to its end;
//! messages on different streams may complete out of order, as multifd's pages do. The
//! streams are taken as established at the start (no handshake is modelled). Streams send
//! whole units (TCP segments, RoCE messages); a partial last unit goes out by Nagle's rule,
//! padded, once the stream has nothing outstanding.

use super::multistream::StreamTransport;
use super::stream::StreamConn;
use crate::engine::SimTime;
use crate::net::Packet;
use crate::transport::{Ends, Metric, Outbox, Transport};
use std::collections::{BTreeSet, VecDeque};

/// RoCE message size of a channel's queue pairs (an RDMA write of 64 KiB): the unit a
/// partial message is padded to when the channel's queue runs dry. An assumption, chosen so
/// that filler stays small beside page batches.
const RDMA_MESSAGE_BYTES: u64 = 64 << 10;

/// One stream of the channel and the messages it carries, in its byte order.
#[derive(Clone, Debug)]
struct Lane {
    conn: StreamConn,
    /// `(tag, end offset in this stream's bytes)` of messages not yet delivered.
    carrying: VecDeque<(u64, u64)>,
    /// The deadline filed in the timer set.
    deadline: Option<SimTime>,
    /// Bytes the connection had delivered when last looked at.
    delivered: u64,
    /// Took a message in the current call (to be kicked).
    fed: bool,
}

/// A persistent multi-stream message channel; see the module doc.
#[derive(Clone, Debug)]
pub struct Channel {
    lanes: Vec<Lane>,
    /// Data flow of stream 0 (stream k's data flow is `first_flow + 2k`, its ACKs `+ 1`).
    first_flow: u32,
    /// Messages waiting for a stream: `(tag, bytes)`.
    queue: VecDeque<(u64, u64)>,
    /// Bytes a stream may hold unsent before it takes another message.
    feed_bytes: u64,
    /// What a stream sends in whole units only: TCP's MSS (segments are numbered, only
    /// the last of a closed stream may be short), a RoCE message.
    unit: u64,
    /// Filler sent to push out a stream's partial unit when the queue ran dry.
    padding_bytes: u64,
    /// Every stream's deadline, `(time, stream)`.
    timers: BTreeSet<(SimTime, u32)>,
    /// Tags of messages delivered since [`Channel::take_delivered`] was last called.
    delivered: Vec<u64>,
    offered_bytes: u64,
    delivered_bytes: u64,
    messages_delivered: u64,
    start: SimTime,
    started: bool,
    last_sample: (u64, SimTime),
}

impl Channel {
    /// A channel over `ends.len()` streams of `transport`, opened at `start`. `feed_bytes`
    /// is each stream's send buffer (also the RoCE message layout unit); `ends` as for
    /// [`super::multistream::MultiStream::new`].
    pub fn new(
        transport: &StreamTransport,
        ends: &[Ends],
        feed_bytes: u64,
        start: SimTime,
    ) -> Channel {
        assert!(!ends.is_empty() && feed_bytes > 0);
        let n = ends.len();
        let unit = match transport {
            StreamTransport::Tcp(c) => c.mss as u64,
            StreamTransport::Rdma(_) => RDMA_MESSAGE_BYTES.min(feed_bytes),
        };
        for (k, e) in ends.iter().enumerate() {
            assert_eq!(e.data_flow.0, ends[0].data_flow.0 + 2 * k as u32);
            assert_eq!(e.ack_flow.0, e.data_flow.0 + 1);
        }
        Channel {
            first_flow: ends[0].data_flow.0,
            lanes: ends
                .iter()
                .map(|&e| Lane {
                    conn: StreamConn::open(transport, unit, n, e, start),
                    carrying: VecDeque::new(),
                    deadline: None,
                    delivered: 0,
                    fed: false,
                })
                .collect(),
            queue: VecDeque::new(),
            feed_bytes,
            unit,
            padding_bytes: 0,
            timers: BTreeSet::new(),
            delivered: Vec::new(),
            offered_bytes: 0,
            delivered_bytes: 0,
            messages_delivered: 0,
            start,
            started: false,
            last_sample: (0, start),
        }
    }

    /// Queues a message of `bytes` (at least 1 is sent) and hands out what the streams take.
    pub fn send(&mut self, now: SimTime, bytes: u64, tag: u64, out: &mut Outbox) {
        let bytes = bytes.max(1);
        self.offered_bytes += bytes;
        self.queue.push_back((tag, bytes));
        if self.started {
            self.feed_all(now, out);
        }
    }

    /// Moves the tags of the messages delivered since the last call into `into`, in the
    /// order they completed.
    pub fn take_delivered(&mut self, into: &mut Vec<u64>) {
        into.append(&mut self.delivered);
    }

    /// Whether messages were delivered since [`Channel::take_delivered`] was last called.
    pub fn has_delivered(&self) -> bool {
        !self.delivered.is_empty()
    }

    /// Bytes of every message queued so far.
    pub fn offered_bytes(&self) -> u64 {
        self.offered_bytes
    }

    /// Bytes the streams have delivered in order so far (parts of messages and filler
    /// included).
    pub fn delivered_bytes(&self) -> u64 {
        self.delivered_bytes
    }

    /// Number of streams.
    pub fn streams(&self) -> usize {
        self.lanes.len()
    }

    /// Hands queued messages to streams with room, least unsent first, then kicks the
    /// streams that took some.
    fn feed_all(&mut self, now: SimTime, out: &mut Outbox) {
        while let Some(&(tag, bytes)) = self.queue.front() {
            let Some((k, _)) = self
                .lanes
                .iter()
                .enumerate()
                .map(|(k, l)| (k, l.conn.unsent_bytes()))
                .filter(|&(_, unsent)| unsent < self.feed_bytes)
                .min_by_key(|&(k, unsent)| (unsent, k))
            else {
                break;
            };
            self.queue.pop_front();
            let lane = &mut self.lanes[k];
            lane.conn.offer(bytes, false);
            lane.carrying.push_back((tag, lane.conn.offered()));
            lane.fed = true;
        }
        if self.queue.is_empty() {
            for k in 0..self.lanes.len() {
                self.push_partial(k);
            }
        }
        for k in 0..self.lanes.len() {
            if std::mem::take(&mut self.lanes[k].fed) {
                self.lanes[k].conn.kick(now, out);
                self.sync(k);
            }
        }
    }

    /// Nagle's rule for a stream that sends whole units only: its partial last unit goes
    /// out (padded to a unit, the filler counted apart) once nothing else is queued and
    /// everything it sent before has arrived, as a real stream sends a short segment when
    /// no data is outstanding.
    fn push_partial(&mut self, k: usize) {
        let lane = &mut self.lanes[k];
        let offered = lane.conn.offered();
        let unsent = lane.conn.unsent_bytes();
        let partial = offered % self.unit;
        if partial == 0 || unsent >= self.unit || lane.conn.goodput_bytes() + unsent < offered {
            return;
        }
        let pad = self.unit - partial;
        lane.conn.offer(pad, false);
        self.padding_bytes += pad;
        lane.fed = true;
    }

    /// Stream `k` delivered more: record the messages it completed.
    fn collect(&mut self, k: usize) {
        let lane = &mut self.lanes[k];
        let delivered = lane.conn.goodput_bytes();
        let before = lane.delivered;
        lane.delivered = delivered;
        self.delivered_bytes += delivered - before;
        while let Some(&(tag, end)) = lane.carrying.front() {
            if delivered < end {
                break;
            }
            lane.carrying.pop_front();
            self.delivered.push(tag);
            self.messages_delivered += 1;
        }
    }

    fn sync(&mut self, k: usize) {
        let lane = &mut self.lanes[k];
        let want = lane.conn.poll_at();
        if want != lane.deadline {
            if let Some(t) = lane.deadline {
                self.timers.remove(&(t, k as u32));
            }
            if let Some(t) = want {
                self.timers.insert((t, k as u32));
            }
            lane.deadline = want;
        }
    }

    fn after(&mut self, now: SimTime, k: usize, out: &mut Outbox) {
        self.collect(k);
        self.feed_all(now, out);
        if self.queue.is_empty() {
            self.push_partial(k);
            if std::mem::take(&mut self.lanes[k].fed) {
                self.lanes[k].conn.kick(now, out);
            }
        }
        self.sync(k);
    }
}

impl Transport for Channel {
    fn on_start(&mut self, now: SimTime, out: &mut Outbox) {
        self.started = true;
        for lane in &mut self.lanes {
            lane.conn.transport().on_start(now, out);
        }
        self.feed_all(now, out);
        for k in 0..self.lanes.len() {
            self.sync(k);
        }
    }

    fn on_packet(&mut self, now: SimTime, packet: &Packet, out: &mut Outbox) {
        let k = ((packet.flow.0 - self.first_flow) / 2) as usize;
        self.lanes[k].conn.transport().on_packet(now, packet, out);
        self.after(now, k, out);
    }

    fn on_timer(&mut self, now: SimTime, out: &mut Outbox) {
        while let Some(&(t, k)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.remove(&(t, k));
            let k = k as usize;
            self.lanes[k].deadline = None;
            self.lanes[k].conn.transport().on_timer(now, out);
            self.after(now, k, out);
        }
    }

    fn poll_at(&self) -> Option<SimTime> {
        self.timers.first().map(|&(t, _)| t)
    }

    fn sample(&mut self, now: SimTime, out: &mut Vec<Metric>) {
        let bytes = self.delivered_bytes;
        let (before, at) = self.last_sample;
        let dt = now.since(at.min(now)).as_secs_f64();
        if dt > 0.0 {
            out.push(("goodput", (bytes - before) as f64 * 8.0 / dt, "bit/s"));
        }
        self.last_sample = (bytes, now);
    }

    fn report(&self, now: SimTime, out: &mut Vec<Metric>) {
        out.push(("streams", self.lanes.len() as f64, "flows"));
        out.push(("goodput_bytes", self.delivered_bytes as f64, "bytes"));
        out.push(("messages", self.messages_delivered as f64, "messages"));
        let active = now.since(self.start.min(now)).as_secs_f64();
        if active > 0.0 {
            out.push((
                "goodput",
                self.delivered_bytes as f64 * 8.0 / active,
                "bit/s",
            ));
        }
        let retx: u64 = self.lanes.iter().map(|l| l.conn.sent_and_resent().1).sum();
        out.push(("retransmitted_packets", retx as f64, "packets"));
        out.push(("padding_bytes", self.padding_bytes as f64, "bytes"));
    }
}
