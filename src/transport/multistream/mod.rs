//! AMST, the adaptive multi-stream transport: one logical transfer cut into chunks and
//! striped over N parallel TCP connections or RoCE queue pairs (one chunk per RDMA
//! message), reassembled in order at the receiver.
//!
//! The scheduler keeps every stream busy: whenever a stream has less than one chunk handed
//! to it and not yet sent, it gets the next chunk, so faster streams carry more. A chunk is
//! complete when its stream has delivered it in order; the transfer's in-order point is the
//! prefix of complete chunks, and what waits behind it is the reorder buffer.
//!
//! **Adaptive mode** ([`MultiStream::adaptive`]) keeps two stream sets, datacenter and
//! internet, and the mode detector ([`mode`]) that chooses between them. Every
//! `check_interval` it is fed what the transfer measured over the interval: the mean
//! smoothed RTT of the active streams, the bytes they delivered (bit/s) and the share of
//! packets they sent again (loss). When it settles on the other set's mode, the old set is
//! torn down, its unfinished chunks are queued to be handed out again first (so no data is
//! lost), and the new set is opened: one request/answer handshake per stream over the path,
//! as TCP's SYN or RDMA CM's REQ/REP, after which each stream carries data. A hybrid verdict keeps the set in use (the original's hybrid path only split
//! payloads by size, and one bulk transfer has nothing to split). Packets of a torn-down
//! incarnation still in the network are recognised by their creation time and dropped.
//!
//! The two sets may use different chunk sizes: internally the transfer is counted in
//! granules of the sizes' greatest common divisor, and a chunk is a run of granules.
//! Internet mode compresses ([`ChunkCompression`]): one compressor at the sender's calibrated
//! speed works through the chunks ahead of the streams, and each crosses the network at its
//! compressed size (measured with the real codec on generated guest memory).
//! Left out: the original's loss-driven auto-tuning of the internet chunk (16-512 KB).

pub mod mode;

use self::mode::{Mode, ModeDetector, ModeThresholds};
use crate::engine::{SimDuration, SimTime};
use crate::net::{FlowId, Packet, Payload, Segment, SegmentKind};
use crate::transport::rdma::{RdmaConfig, ROCE_OVERHEAD_BYTES};
use crate::transport::stream::StreamConn;
use crate::transport::tcp::TcpConfig;
use crate::transport::{Ends, Metric, Outbox, Transport};
use std::collections::{BTreeSet, VecDeque};

/// One striped transfer over a fixed stream set.
#[derive(Clone, Debug, PartialEq)]
pub struct AmstConfig {
    /// Number of parallel streams the chunks are striped over.
    pub streams: u32,
    /// Bytes per chunk (the last may be short).
    pub chunk_bytes: u64,
    /// Bytes of the whole transfer.
    pub total_bytes: u64,
}

/// What a stream runs over.
#[derive(Clone, Debug)]
pub enum StreamTransport {
    /// TCP connections with this configuration.
    Tcp(TcpConfig),
    /// RoCE queue pairs; `message_bytes` is set to the chunk size.
    Rdma(RdmaConfig),
}

/// One mode's streams.
#[derive(Clone, Debug)]
pub struct StreamSetConfig {
    /// What each stream runs on.
    pub transport: StreamTransport,
    /// Number of parallel streams.
    pub streams: u32,
    /// Bytes per chunk (the last may be short).
    pub chunk_bytes: u64,
    /// Compress each chunk before it is sent (internet mode).
    pub compression: Option<ChunkCompression>,
}

/// Chunks compressed before they are sent: a compressor works through them one at a time
/// at the sender's speed, keeping a chunk ready per stream; a chunk takes `len / bytes_per_s`
/// and crosses the network as `len × wire_fraction` bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChunkCompression {
    /// Wire bytes per data byte (1 / compression ratio), measured by running the real codec
    /// on the transfer's kind of data (`compress::sampling`).
    pub wire_fraction: f64,
    /// Data bytes the sender's cores compress per second (from the calibration file).
    pub bytes_per_s: f64,
}

/// A transfer that switches between a datacenter and an internet stream set.
#[derive(Clone, Debug)]
pub struct AdaptiveConfig {
    /// Stream set used in datacenter (and hybrid) mode.
    pub datacenter: StreamSetConfig,
    /// Stream set used in internet mode.
    pub internet: StreamSetConfig,
    /// How often the detector gets a sample.
    pub check_interval: SimDuration,
    /// Consecutive verdicts needed to change mode.
    pub confirm: u32,
    /// RTT, bandwidth and loss limits that classify a sample.
    pub thresholds: ModeThresholds,
    /// The set opened at the start: `Datacenter` or `Internet`.
    pub initial: Mode,
}

impl AdaptiveConfig {
    /// Bytes of the unit both chunk sizes are whole multiples of.
    pub fn granule(&self) -> u64 {
        gcd(self.datacenter.chunk_bytes, self.internet.chunk_bytes)
    }
}

/// Greatest common divisor (Euclid).
pub fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// TCP's SYN retransmission timeout, doubled per retry: 1 s (RFC 6298 §2.1, Linux
/// `TCP_TIMEOUT_INIT`).
const TCP_CONNECT_TIMEOUT: SimDuration = SimDuration::from_secs(1);
/// RDMA CM's response timeout: 4.096 µs · 2^20 ≈ 4.29 s (Linux
/// `drivers/infiniband/core/cma.c`, `CMA_CM_RESPONSE_TIMEOUT` = 20).
const RDMA_CONNECT_TIMEOUT: SimDuration = SimDuration::from_micros(4_294_967);
/// A SYN: IP 20 + TCP 20 + 20 bytes of options (MSS, SACK-permitted, timestamps, window
/// scale), counted as [`crate::transport::tcp::HEADER_BYTES`] counts (no Ethernet).
const TCP_CONNECT_BYTES: u32 = 60;
/// An RDMA CM message is a 256-byte MAD (IBTA spec vol. 1 §13.4) in a RoCEv2 packet.
const RDMA_CONNECT_BYTES: u32 = 256 + ROCE_OVERHEAD_BYTES;
/// Timer key of the mode detector's samples (stream timers use the stream's index).
const DETECT: u32 = u32::MAX;
/// Timer key of the compressor finishing a chunk.
const COMPRESS: u32 = u32::MAX - 1;

/// Where a stream is in its opening handshake.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Handshake {
    Open,
    /// Request sent; resent at `retry_at` with the timeout doubled.
    Waiting {
        retry_at: SimTime,
        timeout: SimDuration,
    },
}

/// One stream: its connection and the chunks it carries, in its byte order.
#[derive(Clone, Debug)]
struct Stream {
    conn: StreamConn,
    /// `(first granule, granules, end offset in this stream's bytes)`, oldest first, not
    /// yet complete.
    chunks: VecDeque<(u64, u64, u64)>,
    /// Key of this stream's deadline in the timer set.
    deadline: Option<SimTime>,
    handshake: Handshake,
    /// RTT of the handshake, until the connection measures its own.
    handshake_rtt: Option<SimDuration>,
    /// The connection's delivered bytes when last looked at.
    delivered: u64,
}

impl Stream {
    fn wants_call_at(&self) -> Option<SimTime> {
        match self.handshake {
            Handshake::Open => self.conn.poll_at(),
            Handshake::Waiting { retry_at, .. } => Some(retry_at),
        }
    }
}

/// One mode's streams: configuration, and the live incarnation if it is open.
#[derive(Clone, Debug)]
struct StreamSet {
    mode: Mode,
    transport: StreamTransport,
    ends: Vec<Ends>,
    /// Granules per chunk.
    span: u64,
    chunk_bytes: u64,
    /// Index of its first stream among all streams (timer keys).
    base: u32,
    /// Empty while the set is down.
    streams: Vec<Stream>,
    /// When the live incarnation opened: older packets on its flows are stale.
    opened: SimTime,
    /// Streams still waiting for their handshake answer.
    waiting: usize,
    /// Every open stream has been told there is no more data.
    closed: bool,
    compression: Option<ChunkCompression>,
    /// `(sent, resent)` data packets summed over the streams at the last detector sample.
    counted: (u64, u64),
}

impl StreamSet {
    fn owns(&self, flow: FlowId) -> bool {
        let first = self.ends[0].data_flow.0;
        flow.0 >= first && flow.0 < first + 2 * self.ends.len() as u32
    }
}

/// One mode change and when each step of it happened.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SwitchRecord {
    /// Mode before the switch.
    pub from: Mode,
    /// Mode after the switch.
    pub to: Mode,
    /// The detector settled on the new mode and the new streams were requested.
    pub detected: SimTime,
    /// Every new stream answered; the old ones were torn down.
    pub connected: Option<SimTime>,
    /// The first byte arrived over the new streams.
    pub first_data: Option<SimTime>,
}

#[derive(Clone, Debug)]
struct Adaptive {
    detector: ModeDetector,
    interval: SimDuration,
    /// The previous sample: when, and the bytes delivered by then.
    last_check: (SimTime, u64),
    switches: Vec<SwitchRecord>,
    /// Per-flow packet counters (from the first flow), so re-opened connections continue
    /// their flows' numbering.
    flow_seq: Vec<u64>,
}

/// An AMST transfer: chunks striped over parallel streams, optionally switching stream sets by mode.
#[derive(Clone, Debug)]
pub struct MultiStream {
    total_bytes: u64,
    granule: u64,
    total_granules: u64,
    sets: Vec<StreamSet>,
    active: usize,
    next_granule: u64,
    /// Granules of torn-down streams' unfinished chunks, handed out before new ones.
    requeue: BTreeSet<u64>,
    /// `complete[g - in_order]`: granule `g` has arrived (ring from the in-order point).
    complete: VecDeque<bool>,
    in_order: u64,
    /// Bytes complete but waiting behind a missing granule, now and at most.
    buffered_bytes: u64,
    max_buffered_bytes: u64,
    /// Data bytes delivered by every stream, in order or not, partial chunks included
    /// (compressed bytes counted at their data size).
    delivered_total: u64,
    /// Every stream's deadline, and the detector's, so the earliest is found in O(log N).
    timers: BTreeSet<(SimTime, u32)>,
    start: SimTime,
    completed_at: Option<SimTime>,
    last_sample: (u64, SimTime),
    adaptive: Option<Box<Adaptive>>,
    first_flow: u32,
    stale_packets: u64,
    /// Compressed chunks waiting for a stream: `(first granule, granules, wire bytes)`.
    compressed: VecDeque<(u64, u64, u64)>,
    /// The chunk being compressed and when it is done.
    compressing: Option<(u64, u64, SimTime)>,
    /// Data bytes compressed and the wire bytes they became.
    compressed_in: u64,
    compressed_out: u64,
}

impl MultiStream {
    /// A transfer over one fixed set of established streams. `ends[k]` are stream k's
    /// endpoints; their flows must be allocated consecutively, data then ACK, from
    /// `ends[0].data_flow`.
    pub fn new(
        cfg: AmstConfig,
        transport: &StreamTransport,
        ends: &[Ends],
        start: SimTime,
    ) -> MultiStream {
        assert!(cfg.streams as usize == ends.len() && !ends.is_empty());
        assert!(cfg.chunk_bytes > 0 && cfg.total_bytes > 0);
        check_consecutive(ends);
        let set = StreamSet {
            mode: Mode::Hybrid,
            transport: transport.clone(),
            ends: ends.to_vec(),
            span: 1,
            chunk_bytes: cfg.chunk_bytes,
            base: 0,
            streams: Vec::new(),
            opened: start,
            waiting: 0,
            closed: false,
            compression: None,
            counted: (0, 0),
        };
        let mut ms = MultiStream::with_sets(cfg.total_bytes, cfg.chunk_bytes, vec![set], start);
        ms.build(0, start);
        ms
    }

    /// A transfer that starts on `cfg.initial`'s set and switches as the detector decides.
    /// `ends` holds the datacenter streams' endpoints, then the internet streams', all
    /// flows consecutive as in [`MultiStream::new`].
    pub fn adaptive(
        total_bytes: u64,
        cfg: &AdaptiveConfig,
        ends: &[Ends],
        start: SimTime,
    ) -> MultiStream {
        let (dc, inet) = (&cfg.datacenter, &cfg.internet);
        assert!(dc.streams > 0 && inet.streams > 0 && total_bytes > 0);
        assert_eq!(ends.len(), (dc.streams + inet.streams) as usize);
        assert!(
            cfg.initial != Mode::Hybrid,
            "AMST starts in datacenter or internet mode"
        );
        check_consecutive(ends);
        let granule = cfg.granule();
        assert!(granule > 0);
        let set = |mode, c: &StreamSetConfig, ends: &[Ends], base| StreamSet {
            mode,
            transport: c.transport.clone(),
            ends: ends.to_vec(),
            span: c.chunk_bytes / granule,
            chunk_bytes: c.chunk_bytes,
            base,
            streams: Vec::new(),
            opened: start,
            waiting: 0,
            closed: false,
            compression: c.compression,
            counted: (0, 0),
        };
        let n_dc = dc.streams as usize;
        let sets = vec![
            set(Mode::Datacenter, dc, &ends[..n_dc], 0),
            set(Mode::Internet, inet, &ends[n_dc..], dc.streams),
        ];
        let mut ms = MultiStream::with_sets(total_bytes, granule, sets, start);
        ms.active = usize::from(cfg.initial == Mode::Internet);
        ms.adaptive = Some(Box::new(Adaptive {
            detector: ModeDetector::new(cfg.thresholds, cfg.initial, cfg.confirm),
            interval: cfg.check_interval,
            last_check: (start, 0),
            switches: Vec::new(),
            flow_seq: vec![0; 2 * ends.len()],
        }));
        ms
    }

    fn with_sets(total_bytes: u64, granule: u64, sets: Vec<StreamSet>, start: SimTime) -> Self {
        MultiStream {
            total_bytes,
            granule,
            total_granules: total_bytes.div_ceil(granule),
            first_flow: sets[0].ends[0].data_flow.0,
            sets,
            active: 0,
            next_granule: 0,
            requeue: BTreeSet::new(),
            complete: VecDeque::new(),
            in_order: 0,
            buffered_bytes: 0,
            max_buffered_bytes: 0,
            delivered_total: 0,
            timers: BTreeSet::new(),
            start,
            completed_at: None,
            last_sample: (0, start),
            adaptive: None,
            stale_packets: 0,
            compressed: VecDeque::new(),
            compressing: None,
            compressed_in: 0,
            compressed_out: 0,
        }
    }

    /// Creates set `s`'s connections (closed until their handshake, if any, completes).
    fn build(&mut self, s: usize, now: SimTime) {
        let set = &mut self.sets[s];
        let n = set.ends.len();
        let handshake = self.adaptive.is_some();
        set.streams = set
            .ends
            .iter()
            .map(|&e| Stream {
                conn: StreamConn::open(&set.transport, set.chunk_bytes, n, e, now),
                chunks: VecDeque::new(),
                deadline: None,
                handshake: if handshake {
                    Handshake::Waiting {
                        retry_at: now,
                        timeout: SimDuration::ZERO,
                    }
                } else {
                    Handshake::Open
                },
                handshake_rtt: None,
                delivered: 0,
            })
            .collect();
        set.opened = now;
        set.waiting = if handshake { n } else { 0 };
        set.closed = false;
        set.counted = (0, 0);
    }

    fn granules_bytes(&self, g: u64, n: u64) -> u64 {
        ((g + n) * self.granule).min(self.total_bytes) - g * self.granule
    }

    /// Bytes delivered in order to the application at the receiver.
    pub fn delivered_bytes(&self) -> u64 {
        (self.in_order * self.granule).min(self.total_bytes)
    }

    /// When the last byte was delivered; `None` while the transfer runs.
    pub fn completed_at(&self) -> Option<SimTime> {
        self.completed_at
    }

    /// The mode changes so far (adaptive transfers).
    pub fn switches(&self) -> &[SwitchRecord] {
        self.adaptive.as_ref().map_or(&[], |a| &a.switches)
    }

    /// The mode of the streams carrying data now.
    pub fn mode(&self) -> Mode {
        self.sets[self.active].mode
    }

    /// The next chunk for a stream of set `s`: unfinished granules first, then new ones.
    fn next_chunk(&mut self, s: usize) -> Option<(u64, u64)> {
        let span = self.sets[s].span;
        if let Some(g) = self.requeue.pop_first() {
            let mut n = 1;
            while n < span && self.requeue.remove(&(g + n)) {
                n += 1;
            }
            return Some((g, n));
        }
        if self.next_granule < self.total_granules {
            let g = self.next_granule;
            let n = span.min(self.total_granules - g);
            self.next_granule += n;
            return Some((g, n));
        }
        None
    }

    /// The next chunk for a stream of set `s` with the bytes it sends: compressed ones if
    /// the set compresses, else straight from [`Self::next_chunk`].
    fn take_chunk(&mut self, s: usize) -> Option<(u64, u64, u64)> {
        if self.sets[s].compression.is_some() {
            return self.compressed.pop_front();
        }
        let (g, n) = self.next_chunk(s)?;
        Some((g, n, self.granules_bytes(g, n)))
    }

    /// Starts compressing the next chunk if set `s` compresses, the compressor is idle and
    /// fewer chunks wait than the set has streams.
    fn compress_more(&mut self, now: SimTime, s: usize) {
        let Some(c) = self.sets[s].compression else {
            return;
        };
        if self.compressing.is_some() || self.compressed.len() >= self.sets[s].streams.len() {
            return;
        }
        let Some((g, n)) = self.next_chunk(s) else {
            return;
        };
        let len = self.granules_bytes(g, n);
        let took = SimDuration((len as f64 / c.bytes_per_s * 1e12).round() as u64);
        let done = now + took;
        self.compressing = Some((g, n, done));
        self.timers.insert((done, COMPRESS));
    }

    /// The compressor finished its chunk: queue it and feed the streams that want data.
    fn compressed_one(&mut self, now: SimTime, out: &mut Outbox) {
        let Some((g, n, _)) = self.compressing.take() else {
            return;
        };
        let s = self.active;
        let Some(c) = self.sets[s].compression else {
            self.requeue.extend(g..g + n); // the set changed meanwhile
            return;
        };
        let len = self.granules_bytes(g, n);
        let wire = ((len as f64 * c.wire_fraction).ceil() as u64).clamp(1, len);
        self.compressed_in += len;
        self.compressed_out += wire;
        self.compressed.push_back((g, n, wire));
        for k in 0..self.sets[s].streams.len() {
            self.feed(now, s, k, out);
            self.sync(s, k);
        }
        self.compress_more(now, s);
    }

    /// Hands chunks to stream `k` of set `s` until it has a chunk's worth unsent (or none
    /// remain).
    fn feed(&mut self, now: SimTime, s: usize, k: usize, out: &mut Outbox) {
        if self.sets[s].streams[k].handshake != Handshake::Open || s != self.active {
            return;
        }
        let mut fed = false;
        while self.sets[s].streams[k].conn.unsent_bytes() < self.sets[s].chunk_bytes {
            let Some((g, n, len)) = self.take_chunk(s) else {
                break;
            };
            let st = &mut self.sets[s].streams[k];
            st.conn.offer(len, false);
            st.chunks.push_back((g, n, st.conn.offered()));
            fed = true;
        }
        if fed {
            self.sets[s].streams[k].conn.kick(now, out);
        }
        self.compress_more(now, s);
        if self.next_granule == self.total_granules
            && self.requeue.is_empty()
            && self.compressing.is_none()
            && self.compressed.is_empty()
            && !self.sets[s].closed
            && self.sets[s].waiting == 0
        {
            self.sets[s].closed = true;
            // Nothing left to hand out: close every stream so its last segment may be short.
            // A closed stream may send at once, so its deadline is re-filed (stream `k`'s is
            // re-filed by the caller).
            for j in 0..self.sets[s].streams.len() {
                let c = &mut self.sets[s].streams[j].conn;
                if !c.closed() {
                    c.offer(0, true);
                    c.kick(now, out);
                    if j != k {
                        self.sync(s, j);
                    }
                }
            }
        }
    }

    /// Stream `k` of set `s` delivered more: mark its finished chunks and advance the
    /// in-order point.
    fn collect(&mut self, now: SimTime, s: usize, k: usize) {
        // The detector's delivery rate counts data bytes, before compression: the rate the
        // transfer achieves (counting wire bytes, a CPU-bound compressor would hide a fast
        // path from the detector).
        let scale = self.sets[s]
            .compression
            .map_or(1.0, |c| 1.0 / c.wire_fraction);
        let st = &mut self.sets[s].streams[k];
        let delivered = st.conn.goodput_bytes();
        if delivered > st.delivered {
            self.delivered_total += ((delivered - st.delivered) as f64 * scale).round() as u64;
            st.delivered = delivered;
            if let Some(a) = &mut self.adaptive {
                if let Some(sw) = a.switches.last_mut() {
                    if sw.first_data.is_none() && sw.to == self.sets[s].mode {
                        sw.first_data = Some(now);
                    }
                }
            }
        }
        while let Some(&(g, n, end)) = self.sets[s].streams[k].chunks.front() {
            if delivered < end {
                break;
            }
            self.sets[s].streams[k].chunks.pop_front();
            for g in g..g + n {
                let i = (g - self.in_order) as usize;
                if self.complete.len() <= i {
                    self.complete.resize(i + 1, false);
                }
                assert!(
                    !self.complete[i],
                    "AMST granule {g} delivered twice at {now} (flow {})",
                    self.first_flow
                );
                self.complete[i] = true;
            }
            self.buffered_bytes += self.granules_bytes(g, n);
        }
        while self.complete.front() == Some(&true) {
            self.complete.pop_front();
            self.buffered_bytes -= self.granules_bytes(self.in_order, 1);
            self.in_order += 1;
        }
        self.max_buffered_bytes = self.max_buffered_bytes.max(self.buffered_bytes);
        if self.in_order == self.total_granules && self.completed_at.is_none() {
            self.completed_at = Some(now);
        }
    }

    fn sync(&mut self, s: usize, k: usize) {
        let key = self.sets[s].base + k as u32;
        let st = &mut self.sets[s].streams[k];
        let want = st.wants_call_at();
        if want != st.deadline {
            if let Some(t) = st.deadline {
                self.timers.remove(&(t, key));
            }
            if let Some(t) = want {
                self.timers.insert((t, key));
            }
            st.deadline = want;
        }
    }

    fn after(&mut self, now: SimTime, s: usize, k: usize, out: &mut Outbox) {
        self.collect(now, s, k);
        self.feed(now, s, k, out);
        self.sync(s, k);
    }

    /// `(set, stream)` of a timer key.
    fn locate(&self, key: u32) -> (usize, usize) {
        match self.sets.get(1) {
            Some(b) if key >= b.base => (1, (key - b.base) as usize),
            _ => (0, key as usize),
        }
    }

    /// Sends stream `k` of set `s` its handshake request (again).
    fn request(&mut self, now: SimTime, s: usize, k: usize, out: &mut Outbox) {
        let set = &mut self.sets[s];
        let (timeout, size) = match set.transport {
            StreamTransport::Tcp(_) => (TCP_CONNECT_TIMEOUT, TCP_CONNECT_BYTES),
            StreamTransport::Rdma(_) => (RDMA_CONNECT_TIMEOUT, RDMA_CONNECT_BYTES),
        };
        let st = &mut set.streams[k];
        let Handshake::Waiting { timeout: t, .. } = st.handshake else {
            return;
        };
        let timeout = if t == SimDuration::ZERO {
            timeout
        } else {
            SimDuration(t.0 * 2)
        };
        st.handshake = Handshake::Waiting {
            retry_at: now + timeout,
            timeout,
        };
        let e = set.ends[k];
        let mut seg = Segment::new(SegmentKind::Connect);
        seg.ts = now;
        out.push(handshake_packet(
            e.data_flow,
            e.src,
            e.dst,
            size,
            e.ecmp_hash,
            seg,
            now,
        ));
    }

    /// Stream `k` of set `s` got its handshake answer: it opens and carries data at once.
    fn opened(&mut self, now: SimTime, s: usize, k: usize, echo: SimTime, out: &mut Outbox) {
        let st = &mut self.sets[s].streams[k];
        if st.handshake == Handshake::Open {
            return; // a duplicate answer to a resent request
        }
        st.handshake = Handshake::Open;
        st.handshake_rtt = Some(now.since(echo));
        st.conn.transport().on_start(now, out);
        self.sets[s].waiting -= 1;
        self.feed(now, s, k, out);
        if self.sets[s].waiting == 0 {
            if let Some(sw) = self.adaptive.as_mut().and_then(|a| a.switches.last_mut()) {
                sw.connected.get_or_insert(now);
            }
        }
    }

    /// Tears set `s` down: its unfinished chunks will be handed out again first.
    fn tear_down(&mut self, now: SimTime, s: usize) {
        for k in 0..self.sets[s].streams.len() {
            self.collect(now, s, k);
            let key = self.sets[s].base + k as u32;
            if let Some(t) = self.sets[s].streams[k].deadline {
                self.timers.remove(&(t, key));
            }
            for &(g, n, _) in &self.sets[s].streams[k].chunks {
                self.requeue.extend(g..g + n);
            }
        }
        self.sets[s].streams.clear();
        if self.sets[s].compression.is_some() {
            for (g, n, _) in self.compressed.drain(..) {
                self.requeue.extend(g..g + n);
            }
            if let Some((g, n, t)) = self.compressing.take() {
                self.timers.remove(&(t, COMPRESS));
                self.requeue.extend(g..g + n);
            }
        }
    }

    /// One detector sample: what the active streams measured since the last one.
    fn check(&mut self, now: SimTime, out: &mut Outbox) {
        let Some(a) = &mut self.adaptive else {
            return;
        };
        let set = &mut self.sets[self.active];
        let (prev, bytes) = a.last_check;
        let dt = now.since(prev).as_secs_f64();
        a.last_check = (now, self.delivered_total);
        let bps = (self.delivered_total - bytes) as f64 * 8.0 / dt.max(1e-12);
        let (mut sent, mut resent, mut rtt_sum, mut rtts) = (0, 0, 0u64, 0u64);
        for st in &set.streams {
            let (s, r) = st.conn.sent_and_resent();
            sent += s;
            resent += r;
            if let Some(rtt) = st.conn.srtt().or(st.handshake_rtt) {
                rtt_sum += rtt.0;
                rtts += 1;
            }
        }
        let (ds, dr) = (sent - set.counted.0, resent - set.counted.1);
        set.counted = (sent, resent);
        let loss = if ds > 0 { dr as f64 / ds as f64 } else { 0.0 };
        if rtts == 0 {
            return; // nothing measured the path yet
        }
        let rtt = SimDuration(rtt_sum / rtts);
        a.detector.on_sample(rtt, bps, loss);
        let mode = a.detector.mode();
        let target = match mode {
            Mode::Datacenter => 0,
            Mode::Internet => 1,
            Mode::Hybrid => return,
        };
        if target == self.active || self.completed_at.is_some() {
            return;
        }
        a.switches.push(SwitchRecord {
            from: self.sets[self.active].mode,
            to: mode,
            detected: now,
            connected: None,
            first_data: None,
        });
        // Break before make: the old streams stop at once. Kept sending, a RoCE set that
        // has just lost 99% of its path crowds the new streams' handshakes out of the
        // bottleneck queue (tried: every SYN was dropped).
        self.tear_down(now, self.active);
        self.active = target;
        self.build(target, now);
        for k in 0..self.sets[target].streams.len() {
            self.request(now, target, k, out);
            self.sync(target, k);
        }
    }

    /// Numbers the packets pushed since `from` per flow (adaptive transfers re-open
    /// connections, whose own counters would restart).
    fn stamp(&mut self, out: &mut Outbox, from: usize) {
        if let Some(a) = &mut self.adaptive {
            for p in &mut out[from..] {
                let i = (p.flow.0 - self.first_flow) as usize;
                p.seq = a.flow_seq[i];
                a.flow_seq[i] += 1;
            }
        }
    }
}

fn check_consecutive(ends: &[Ends]) {
    for (k, e) in ends.iter().enumerate() {
        assert_eq!(e.data_flow.0, ends[0].data_flow.0 + 2 * k as u32);
        assert_eq!(e.ack_flow.0, e.data_flow.0 + 1);
    }
}

fn handshake_packet(
    flow: FlowId,
    src: crate::net::NodeId,
    dst: crate::net::NodeId,
    size: u32,
    ecmp_hash: u32,
    seg: Segment,
    now: SimTime,
) -> Packet {
    Packet {
        flow,
        src,
        dst,
        size,
        seq: 0,
        created: now,
        ecmp_hash,
        ecn_ce: false,
        payload: Payload::Segment(seg),
    }
}

impl Transport for MultiStream {
    fn on_start(&mut self, now: SimTime, out: &mut Outbox) {
        let from = out.len();
        let s = self.active;
        if self.adaptive.is_some() {
            self.build(s, now);
            for k in 0..self.sets[s].streams.len() {
                self.request(now, s, k, out);
                self.sync(s, k);
            }
            let at = now
                + self
                    .adaptive
                    .as_ref()
                    .map_or(SimDuration::ZERO, |a| a.interval);
            self.timers.insert((at, DETECT));
        } else {
            for k in 0..self.sets[s].streams.len() {
                self.sets[s].streams[k].conn.transport().on_start(now, out);
                self.feed(now, s, k, out);
            }
            for k in 0..self.sets[s].streams.len() {
                self.sync(s, k);
            }
        }
        self.stamp(out, from);
    }

    fn on_packet(&mut self, now: SimTime, packet: &Packet, out: &mut Outbox) {
        let from = out.len();
        let s = usize::from(self.sets.len() > 1 && self.sets[1].owns(packet.flow));
        let set = &self.sets[s];
        if set.streams.is_empty() || packet.created < set.opened {
            // A packet of a torn-down incarnation, still in the network.
            self.stale_packets += 1;
            return;
        }
        let k = ((packet.flow.0 - set.ends[0].data_flow.0) / 2) as usize;
        match packet.payload {
            Payload::Segment(seg) if seg.kind == SegmentKind::Connect => {
                // The passive end answers every request (a resent one too).
                let e = set.ends[k];
                let size = packet.size;
                let mut reply = Segment::new(SegmentKind::Accept);
                reply.ts = now;
                reply.ts_echo = seg.ts;
                out.push(handshake_packet(
                    e.ack_flow,
                    e.dst,
                    e.src,
                    size,
                    e.ecmp_hash,
                    reply,
                    now,
                ));
            }
            Payload::Segment(seg) if seg.kind == SegmentKind::Accept => {
                self.opened(now, s, k, seg.ts_echo, out);
                self.sync(s, k);
            }
            _ => {
                self.sets[s].streams[k]
                    .conn
                    .transport()
                    .on_packet(now, packet, out);
                self.after(now, s, k, out);
            }
        }
        self.stamp(out, from);
    }

    fn on_timer(&mut self, now: SimTime, out: &mut Outbox) {
        let from = out.len();
        while let Some(&(t, key)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.remove(&(t, key));
            if key == COMPRESS {
                self.compressed_one(now, out);
                continue;
            }
            if key == DETECT {
                self.check(now, out);
                if self.completed_at.is_none() {
                    let next = now
                        + self
                            .adaptive
                            .as_ref()
                            .map_or(SimDuration::ZERO, |a| a.interval);
                    self.timers.insert((next, DETECT));
                }
                continue;
            }
            let (s, k) = self.locate(key);
            self.sets[s].streams[k].deadline = None;
            if let Handshake::Waiting { .. } = self.sets[s].streams[k].handshake {
                self.request(now, s, k, out);
                self.sync(s, k);
                continue;
            }
            self.sets[s].streams[k].conn.transport().on_timer(now, out);
            self.after(now, s, k, out);
        }
        self.stamp(out, from);
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
        if let Some(a) = &self.adaptive {
            out.push(("mode", mode_code(self.mode()), "0=dc 1=hybrid 2=internet"));
            if let Some((rtt, bps, loss)) = a.detector.means() {
                out.push(("path_rtt", rtt, "s"));
                out.push(("path_bandwidth", bps, "bit/s"));
                out.push(("path_loss", loss, "fraction"));
            }
        }
    }

    fn report(&self, now: SimTime, out: &mut Vec<Metric>) {
        let bytes = self.delivered_bytes();
        let streams: usize = self.sets.iter().map(|s| s.ends.len()).sum();
        out.push(("streams", streams as f64, "flows"));
        out.push(("goodput_bytes", bytes as f64, "bytes"));
        let end = self.completed_at.unwrap_or(now);
        let active = end.since(self.start.min(end)).as_secs_f64();
        if active > 0.0 {
            out.push(("goodput", bytes as f64 * 8.0 / active, "bit/s"));
        }
        if let Some(t) = self.completed_at {
            out.push(("completion_time", t.since(self.start).as_secs_f64(), "s"));
        }
        let chunks = match self.sets[..] {
            [ref only] => self.total_granules.div_ceil(only.span),
            _ => self.total_granules,
        };
        out.push(("chunks", chunks as f64, "chunks"));
        out.push((
            "reorder_buffer_max",
            self.max_buffered_bytes as f64,
            "bytes",
        ));
        let live = self.sets.iter().flat_map(|s| &s.streams);
        let retx: u64 = live.clone().map(|s| s.conn.sent_and_resent().1).sum();
        out.push(("retransmitted_packets", retx as f64, "packets"));
        // Fairness of the striping: Jain's index of the bytes each live stream carried.
        let carried: Vec<f64> = live.map(|s| s.conn.goodput_bytes() as f64).collect();
        let sum: f64 = carried.iter().sum();
        let sq: f64 = carried.iter().map(|x| x * x).sum();
        if sq > 0.0 {
            out.push((
                "stream_balance",
                sum * sum / (carried.len() as f64 * sq),
                "jain",
            ));
        }
        if let Some(a) = &self.adaptive {
            out.push(("mode_switches", a.switches.len() as f64, "switches"));
            out.push((
                "final_mode",
                mode_code(self.mode()),
                "0=dc 1=hybrid 2=internet",
            ));
            out.push(("stale_packets", self.stale_packets as f64, "packets"));
            if self.compressed_in > 0 {
                out.push(("compressed_bytes_in", self.compressed_in as f64, "bytes"));
                out.push(("compressed_bytes_out", self.compressed_out as f64, "bytes"));
                out.push((
                    "compression_ratio",
                    self.compressed_in as f64 / self.compressed_out as f64,
                    "x",
                ));
            }
            if let Some(sw) = a.switches.first() {
                out.push(("switch_detected_at", sw.detected.as_secs_f64(), "s"));
                if let Some(t) = sw.connected {
                    out.push(("switch_connected_at", t.as_secs_f64(), "s"));
                }
                if let Some(t) = sw.first_data {
                    out.push(("switch_first_data_at", t.as_secs_f64(), "s"));
                }
            }
        }
    }
}

fn mode_code(m: Mode) -> f64 {
    match m {
        Mode::Datacenter => 0.0,
        Mode::Hybrid => 1.0,
        Mode::Internet => 2.0,
    }
}
