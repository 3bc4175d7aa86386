//! Post-copy and hybrid live migration as a sans-I/O state machine, after QEMU's
//! `postcopy-ram` with the postcopy-preempt channel.
//!
//! The VM stops on the source, only its device state crosses, and it resumes on the
//! destination; its memory follows: a background push walks the bitmap on the main
//! channel, and a page the guest touches before it arrives faults, is requested on the
//! return path and comes back on its own urgent channel. Hybrid runs `k` pre-copy passes
//! first ([`Precopy`], taken over through [`Precopy::hand_over`]), so only what the
//! guest dirtied since is left for post-copy. What QEMU does, from what I read of it
//! (`docs/devel/migration/postcopy.rst`, `migration/ram.c`, `migration/postcopy-ram.c`,
//! `migration/migration.c`, and the commit "migration: Send requested page directly in
//! rp-return thread"), and so what this does:
//! - **the stop** (`postcopy_start`): the VM stops, the dirty log is synced one last time
//!   (`ram_postcopy_send_discard_bitmap`, "This should be our last sync, the src is now
//!   paused"), the walk restarts at page 0, and the destination is told to discard every
//!   page still in the bitmap (sent but dirtied since, or never sent) as
//!   `MIG_CMD_POSTCOPY_RAM_DISCARD` commands of at most 12 `(start, length)` ranges
//!   (`MAX_DISCARDS_PER_COMMAND`). Then the *package* goes: "postcopy listen", the device
//!   state, "postcopy run". After the fixed switchover cost ([`PrecopyOptions::switchover`])
//!   the discards and the package take the main channel; the destination resumes the VM
//!   its resume cost after both arrived and every pre-copy batch still on the channel
//!   did (QEMU flushes the stream before the package). Downtime is stop → resume;
//! - **the push**: the source keeps walking the bitmap after the package, sending each
//!   page once and clearing its bit ("dirty bits are cleared when the relevant pages are
//!   sent during postcopy"), not rate-limited (`max-postcopy-bandwidth` 0 means
//!   unlimited), up to the channel's backlog;
//! - **a fault**: the destination requests a page it neither holds nor already asked for
//!   (`postcopy_request_page` checks the received bitmap and the `page_requested` tree)
//!   with a `MIG_RP_MSG_REQ_PAGES` message: a 2-byte type, a 2-byte length, an 8-byte
//!   offset and a 4-byte length, 16 bytes; the first request also names the RAMBlock
//!   (`_ID` variant, one length byte and the name, "pc.ram" here: 23 bytes). With
//!   postcopy-preempt the source's return-path thread sends the page at once on the
//!   preempt channel, **if its bit is still set** (`ram_save_host_page_urgent` sends a page
//!   only when `migration_bitmap_clear_dirty` says it was dirty): a page the push already
//!   sent is not sent again, and the fault waits for it on the main channel. So every page
//!   crosses exactly once after the stop; [`PostcopyStats::duplicate_pages`] counts any
//!   page that arrives where one is already present (QEMU's `UFFDIO_COPY` on a present
//!   page fails with `EEXIST` and the content stays), and must stay 0;
//! - **failure**: "during the postcopy phase, a failure of *either* side causes the guest
//!   to be lost" (postcopy.rst). A node failure of either end from the stop on is
//!   [`Phase::Lost`]; so is a migration whose channels made no progress for
//!   [`PostcopyOptions::progress_timeout`] while something was in flight. Before the stop a
//!   hybrid is still a pre-copy: a destination failure aborts it (the VM keeps running on
//!   the source), a source failure loses the VM with its host.
//!
//! The guest at the destination, and what is approximated: the guest's accesses are the
//! [`Dirtier`]'s writes (reads, which fault as much in QEMU, are not modelled). They are
//! drawn every [`PostcopyOptions::tick`] of virtual time (and at every other event), all
//! at the tick's end: a write to a present page updates it at once; a write to a missing
//! page stalls one vCPU and is held until the page arrives, then applied. With `vcpus`
//! vCPUs, `s` of them stalled, the guest writes at `(1 − s/vcpus)` of its rate (the
//! dirtier's throttle); with all of them stalled it writes nothing (the dirtier is
//! paused), and the writes still due in that tick are dropped. So at most `vcpus` faults
//! are outstanding, and several vCPUs may fault in one tick. A fault's latency runs from
//! the tick that saw it to the page's arrival; the access happened up to a tick earlier.
//! Left out: QEMU's recovery of a paused post-copy (`migrate-recover`: a network failure
//! pauses both sides until an operator reconnects them; here the VM is counted lost after
//! the timeout), the source VM surviving a failure before the destination first ran,
//! huge pages, shared memory, QEMU 8's page-hint patches (the push does not jump to the
//! faulting address; without preempt QEMU restarts its scan there), read faults, and the
//! devices' own accesses during the device load.
//!
//! Invariants, checked at the end: every page is present at the destination and the
//! destination's versions digest ([`digest_versions`]) equals the guest's
//! ([`GuestMemory::state_digest`]): the destination is authoritative after the resume,
//! so its writes go to both its copy and the guest's memory that the digest compares
//! against, and a page lost, sent stale, or a write applied twice or not at all shows.
//! `to_send ∩ present = ∅`, `in flight ∩ to_send = ∅`: a page in flight or present is
//! never sent again. Per-event work allocates nothing: batches come from a pool, the
//! fault list has room for `vcpus` faults, the latency histogram grows to at most 3776
//! buckets.

use super::dirty::{Dirtier, PageSink};
use super::memory::{digest_versions, DirtyBitmap, GuestMemory};
use super::precopy::{
    self, InFlight, MigrationIo, Precopy, PrecopyOptions, PrecopyStats, FULL_PAGE_WIRE_BYTES,
    ZERO_PAGE_WIRE_BYTES,
};
use crate::engine::{SimDuration, SimTime};
use crate::metrics::Histogram;
use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

/// Wire bytes of a page request on the return path (`MIG_RP_MSG_REQ_PAGES`).
pub const REQUEST_BYTES: u64 = 16;
/// Extra bytes of the first request, which names the RAMBlock (one length byte and
/// "pc.ram").
pub const FIRST_REQUEST_EXTRA_BYTES: u64 = 7;
/// Wire bytes of one discard range (`start` and `length`, big-endian u64s).
pub const DISCARD_RANGE_BYTES: u64 = 16;
/// Ranges per discard command (QEMU's `MAX_DISCARDS_PER_COMMAND`).
pub const DISCARD_RANGES_PER_COMMAND: u64 = 12;
/// Bytes of a discard command besides its ranges: the command header (a section byte,
/// a 2-byte command and a 2-byte length), a version byte, the name's length, "pc.ram"
/// and its NUL.
pub const DISCARD_COMMAND_HEADER_BYTES: u64 = 5 + 1 + 1 + 6 + 1;
/// Default guest-access tick: 100 µs, a quarter of a 400 µs datacenter round trip.
pub const DEFAULT_TICK: SimDuration = SimDuration::from_micros(100);
/// Default time without progress after which a post-copy VM counts as lost: 5 s. An
/// assumption standing for the operator or the management stack giving up; QEMU itself
/// waits for the socket to fail (Linux's `tcp_retries2` = 15 takes about 15 minutes), then
/// pauses for recovery.
pub const DEFAULT_PROGRESS_TIMEOUT: SimDuration = SimDuration::from_secs(5);

/// Main-channel tag of the discard commands.
const TAG_DISCARD: u64 = 1 << 63;
/// Main-channel tag of the package (device state).
const TAG_PACKAGE: u64 = (1 << 63) | 1;
/// Main-channel tags of pushed batches start here (pre-copy's own tags are far below).
const PUSH_TAG_BASE: u64 = 1 << 62;

/// Which engine moves a VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EngineKind {
    /// Iterative pre-copy, then stop-and-copy ([`Precopy`]).
    Precopy,
    /// Stop at once, resume on the destination, pages fault and are pushed ([`Postcopy`]).
    Postcopy,
    /// `k` pre-copy passes, then post-copy.
    Hybrid,
}

impl EngineKind {
    /// Every engine.
    pub const ALL: [EngineKind; 3] = [
        EngineKind::Precopy,
        EngineKind::Postcopy,
        EngineKind::Hybrid,
    ];

    /// The name used in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Precopy => "precopy",
            EngineKind::Postcopy => "postcopy",
            EngineKind::Hybrid => "hybrid",
        }
    }

    /// The names, for error messages.
    pub fn allowed_names() -> String {
        EngineKind::ALL
            .map(|e| format!("{:?}", e.name()))
            .join(", ")
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EngineKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        EngineKind::ALL
            .into_iter()
            .find(|e| e.name() == s.trim())
            .ok_or_else(|| format!("`engine` = {s:?}; allowed: {}", EngineKind::allowed_names()))
    }
}

/// The three channels of a post-copy migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Source → destination: pre-copy's batches, the discards, the package, the push.
    Main,
    /// Source → destination: requested pages (QEMU's postcopy-preempt channel).
    Urgent,
    /// Destination → source: page requests (QEMU's return path).
    Return,
}

/// What the engine asks of the world around it.
pub trait PostcopyIo {
    /// The current virtual time.
    fn now(&self) -> SimTime;
    /// Opens the urgent and return channels (called once, at the stop).
    fn open_postcopy_lanes(&mut self);
    /// Sends `bytes` on `lane`; `tag` comes back in [`Postcopy::on_delivered`].
    fn send(&mut self, lane: Lane, bytes: u64, tag: u64);
    /// Asks for a call of [`Postcopy::on_wake`] at `at` (extra calls are harmless).
    fn wake_at(&mut self, at: SimTime);
}

/// One end of a migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The node the VM leaves.
    Source,
    /// The node it moves to.
    Destination,
}

/// Why a VM was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossCause {
    /// The source failed during post-copy (or during a hybrid's pre-copy, with the VM).
    SourceDown,
    /// The destination failed during post-copy.
    DestinationDown,
    /// No channel delivered anything for the progress timeout while data was in flight.
    NoProgress,
}

impl LossCause {
    /// A short description for logs.
    pub fn name(self) -> &'static str {
        match self {
            LossCause::SourceDown => "source down",
            LossCause::DestinationDown => "destination down",
            LossCause::NoProgress => "no progress",
        }
    }
}

/// The engine's options.
#[derive(Clone, Debug, PartialEq)]
pub struct PostcopyOptions {
    /// Pre-copy's options: a hybrid's passes run with them; post-copy takes its batch
    /// size, backlog, switchover and resume costs from them.
    pub precopy: PrecopyOptions,
    /// Pre-copy passes (bitmap syncs) before the switch: 0 is pure post-copy.
    pub precopy_passes: u32,
    /// vCPUs of the guest (≥ 1): at most this many faults are outstanding.
    pub vcpus: u32,
    /// Guest-access granularity while it runs on the destination (> 0).
    pub tick: SimDuration,
    /// Time without any delivery, while something is in flight, after which the VM is
    /// lost.
    pub progress_timeout: SimDuration,
}

impl PostcopyOptions {
    /// Options with the default tick and timeout.
    pub fn new(precopy: PrecopyOptions, precopy_passes: u32, vcpus: u32) -> Self {
        PostcopyOptions {
            precopy,
            precopy_passes,
            vcpus,
            tick: DEFAULT_TICK,
            progress_timeout: DEFAULT_PROGRESS_TIMEOUT,
        }
    }
}

/// Where a post-copy migration is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Phase {
    /// Not started.
    Idle,
    /// A hybrid's pre-copy passes (or a pre-copy that converged before its last pass and
    /// finishes as pre-copy): the VM runs on the source.
    Precopy,
    /// The VM is stopped; discards and package go at `copy_at`.
    Stopped {
        /// When the VM stopped.
        at: SimTime,
        /// When the discards and the package go (after the switchover cost).
        copy_at: SimTime,
    },
    /// The package arrived; the VM runs on the destination at `resume_at`.
    Resuming {
        /// When the VM stopped.
        stopped: SimTime,
        /// When it runs on the destination.
        resume_at: SimTime,
    },
    /// The VM runs on the destination; pages still missing fault and are pushed.
    Running,
    /// Every page is on the destination.
    Done,
    /// The pre-copy part gave up (at its limit, or the destination failed): the VM runs on
    /// the source.
    Aborted,
    /// The VM is lost: an end failed, or the channels stopped, during post-copy.
    Lost,
}

/// What one post-copy or hybrid migration measured.
#[derive(Clone, Debug, Default)]
pub struct PostcopyStats {
    /// When it started.
    pub started: SimTime,
    /// When the VM stopped on the source.
    pub stopped: Option<SimTime>,
    /// When it ran on the destination.
    pub resumed: Option<SimTime>,
    /// When every page was on the destination (the migration's end).
    pub completed: Option<SimTime>,
    /// When the VM was lost, and why.
    pub lost: Option<(SimTime, LossCause)>,
    /// The pre-copy part's measurements (a hybrid's; `None` for pure post-copy).
    pub precopy: Option<PrecopyStats>,
    /// The pre-copy part converged and finished as pre-copy: no post-copy phase.
    pub finished_as_precopy: bool,
    /// Pages sent by the background push after the stop.
    pub pages_pushed: u64,
    /// Pages sent on the urgent channel because the destination asked for them.
    pub pages_faulted: u64,
    /// Faults: pages the destination requested (one per page, however many vCPUs wait).
    pub faults: u64,
    /// Requests that found their page already sent by the push (the fault waited for the
    /// main channel).
    pub requests_for_sent_pages: u64,
    /// Pages that arrived where one was already present (kept, not applied; QEMU's rule
    /// makes this 0).
    pub duplicate_pages: u64,
    /// Wire bytes of full pages after the stop (header included).
    pub full_page_bytes: u64,
    /// Wire bytes of zero pages after the stop.
    pub zero_page_bytes: u64,
    /// Wire bytes of the package (device state).
    pub device_bytes: u64,
    /// Wire bytes of the discard commands.
    pub discard_bytes: u64,
    /// Discard ranges sent.
    pub discard_ranges: u64,
    /// Wire bytes of page requests (destination → source).
    pub request_bytes: u64,
    /// Fault latencies, request to arrival, ps.
    pub fault_latency: Histogram,
    /// Time every vCPU was stalled at once (QEMU's overall `postcopy-blocktime`).
    pub blocktime: SimDuration,
    /// Guest writes performed on the destination.
    pub guest_writes: u64,
    /// The destination's digest equals the guest's at the end (`None` before the end).
    pub consistent: Option<bool>,
}

impl PostcopyStats {
    /// VM stopped to VM running on the destination.
    pub fn downtime(&self) -> Option<SimDuration> {
        Some(self.resumed?.since(self.stopped?))
    }

    /// Start to every page on the destination.
    pub fn total_time(&self) -> Option<SimDuration> {
        Some(self.completed?.since(self.started))
    }

    /// VM running on the destination to its last page there: the time the guest may
    /// fault.
    pub fn degradation_window(&self) -> Option<SimDuration> {
        Some(self.completed?.since(self.resumed?))
    }

    /// Source → destination bytes after the stop (pages, discards, package).
    pub fn post_wire_bytes(&self) -> u64 {
        self.full_page_bytes + self.zero_page_bytes + self.device_bytes + self.discard_bytes
    }

    /// All source → destination bytes, the pre-copy part's included.
    pub fn wire_bytes(&self) -> u64 {
        self.post_wire_bytes() + self.precopy.as_ref().map_or(0, PrecopyStats::wire_bytes)
    }
}

/// A page the destination is waiting for.
#[derive(Clone, Copy, Debug)]
struct Fault {
    page: u32,
    /// When the fault was seen.
    at: SimTime,
    /// vCPUs stalled on it, each holding one write.
    waiters: u32,
    /// The request has gone out.
    requested: bool,
}

/// A batch of pushed pages in flight: `(page, version)` pairs and its wire bytes.
#[derive(Clone, Debug, Default)]
struct Batch {
    pages: Vec<(u32, u32)>,
    bytes: u64,
}

/// The post-copy half: the source's walk and the destination, from the stop on.
struct Post {
    /// The guest's memory: the source's copy until the stop (frozen then), plus every
    /// write the guest makes on the destination afterwards (what the digest checks).
    mem: GuestMemory,
    dirtier: Dirtier,
    /// Source: pages not yet sent.
    to_send: DirtyBitmap,
    cursor: u64,
    /// Destination: pages it holds (received and not discarded).
    present: DirtyBitmap,
    /// Destination: the version of each page it holds (`u32::MAX`: none).
    dest: Vec<u32>,
    /// A hybrid's pre-copy batches still on the main channel.
    pre_in_flight: Option<InFlight>,
    /// Pushed batches in flight, by tag from `PUSH_TAG_BASE + first`.
    batches: VecDeque<Option<Batch>>,
    first: u64,
    pool: Vec<Batch>,
    /// Main-channel bytes sent and not delivered.
    backlog: u64,
    faults: Vec<Fault>,
    stalled: u32,
    urgent_in_flight: u32,
    requests_in_flight: u32,
    /// Discards and package not yet delivered (2 once sent).
    switch_waiting: u32,
    copied: bool,
    next_tick: Option<SimTime>,
    last_progress: SimTime,
    watchdog: Option<SimTime>,
    all_stalled_since: Option<SimTime>,
}

impl Post {
    fn new(
        mem: GuestMemory,
        dirtier: Dirtier,
        to_send: DirtyBitmap,
        dest: Vec<u32>,
        vcpus: u32,
    ) -> Post {
        let pages = mem.pages();
        Post {
            present: DirtyBitmap::new(pages, false),
            mem,
            dirtier,
            to_send,
            cursor: 0,
            dest,
            pre_in_flight: None,
            batches: VecDeque::new(),
            first: 0,
            pool: Vec::new(),
            backlog: 0,
            faults: Vec::with_capacity(vcpus as usize),
            stalled: 0,
            urgent_in_flight: 0,
            requests_in_flight: 0,
            switch_waiting: 0,
            copied: false,
            next_tick: None,
            last_progress: SimTime::ZERO,
            watchdog: None,
            all_stalled_since: None,
        }
    }

    /// Nothing is on any channel.
    fn idle(&self) -> bool {
        self.backlog == 0 && self.urgent_in_flight == 0 && self.requests_in_flight == 0
    }
}

/// The destination's guest as the dirtier's sink: writes to present pages apply, writes
/// to missing ones stall a vCPU.
struct Guest<'a> {
    mem: &'a mut GuestMemory,
    present: &'a DirtyBitmap,
    dest: &'a mut [u32],
    faults: &'a mut Vec<Fault>,
    stalled: &'a mut u32,
    vcpus: u32,
    now: SimTime,
}

impl PageSink for Guest<'_> {
    fn write_page(&mut self, page: u64) -> bool {
        if self.present.test(page) {
            self.mem.write(page);
            let d = &mut self.dest[page as usize];
            *d = d.wrapping_add(1);
            return true;
        }
        *self.stalled += 1;
        match self.faults.iter_mut().find(|f| f.page as u64 == page) {
            // Another vCPU already waits for it: no second request.
            Some(f) => f.waiters += 1,
            None => self.faults.push(Fault {
                page: page as u32,
                at: self.now,
                waiters: 1,
                requested: false,
            }),
        }
        *self.stalled < self.vcpus
    }
}

/// Pre-copy's view of the world: the main lane of a post-copy's.
struct PreIo<'a, I: PostcopyIo>(&'a mut I);

impl<I: PostcopyIo> MigrationIo for PreIo<'_, I> {
    fn now(&self) -> SimTime {
        self.0.now()
    }
    fn send(&mut self, bytes: u64, tag: u64) {
        self.0.send(Lane::Main, bytes, tag);
    }
    fn wake_at(&mut self, at: SimTime) {
        self.0.wake_at(at);
    }
}

/// One post-copy or hybrid migration of one VM; see the module doc.
pub struct Postcopy {
    opts: PostcopyOptions,
    device_state_bytes: u64,
    /// A hybrid's pre-copy, until it hands over (kept if it finishes on its own).
    pre: Option<Precopy>,
    /// The post-copy half: from the start for pure post-copy, from the handover for a
    /// hybrid.
    post: Option<Box<Post>>,
    phase: Phase,
    stats: PostcopyStats,
}

impl Postcopy {
    /// A migration of `mem`, dirtied by `dirtier`, with `device_state_bytes` of device
    /// state in the package; a hybrid's pre-copy part prices pages with `encoder` (the
    /// post-copy part sends them raw, as QEMU's post-copy does). Panics if `opts.vcpus` or
    /// `opts.tick` is 0 (the config checks both).
    pub fn new(
        opts: PostcopyOptions,
        mem: GuestMemory,
        dirtier: Dirtier,
        encoder: super::encoding::PageEncoder,
        device_state_bytes: u64,
    ) -> Postcopy {
        assert!(opts.vcpus >= 1, "a guest has at least one vCPU");
        assert!(
            opts.tick > SimDuration::ZERO,
            "the guest tick must be positive"
        );
        let pages = mem.pages();
        assert!(pages < u32::MAX as u64, "page numbers fit 32 bits");
        let (pre, post) = if opts.precopy_passes == 0 {
            let post = Post::new(
                mem,
                dirtier,
                DirtyBitmap::new(pages, true),
                vec![u32::MAX; pages as usize],
                opts.vcpus,
            );
            (None, Some(Box::new(post)))
        } else {
            let pre = Precopy::new(
                opts.precopy.clone(),
                mem,
                dirtier,
                encoder,
                device_state_bytes,
            );
            (Some(pre), None)
        };
        Postcopy {
            opts,
            device_state_bytes,
            pre,
            post,
            phase: Phase::Idle,
            stats: PostcopyStats::default(),
        }
    }

    /// Where the migration is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// What it measured so far.
    pub fn stats(&self) -> &PostcopyStats {
        &self.stats
    }

    /// Changes the most bytes sent and not yet delivered on the main channel (before
    /// the start).
    pub fn set_backlog(&mut self, bytes: u64) {
        self.opts.precopy.backlog_bytes = bytes.max(1);
        if let Some(pre) = &mut self.pre {
            pre.set_backlog(bytes);
        }
    }

    /// The options it runs with.
    pub fn options(&self) -> &PostcopyOptions {
        &self.opts
    }

    /// The guest's memory (the source's until the stop; with the destination's writes
    /// after it).
    pub fn memory(&self) -> &GuestMemory {
        match (&self.post, &self.pre) {
            (Some(p), _) => &p.mem,
            (None, Some(p)) => p.memory(),
            (None, None) => unreachable!("a migration always holds its VM"),
        }
    }

    /// The dirtying process.
    pub fn dirtier(&self) -> &Dirtier {
        match (&self.post, &self.pre) {
            (Some(p), _) => &p.dirtier,
            (None, Some(p)) => p.dirtier(),
            (None, None) => unreachable!("a migration always holds its VM"),
        }
    }

    /// What the pre-copy part measured: a hybrid's, live while it runs; `None` for pure
    /// post-copy.
    pub fn precopy_stats(&self) -> Option<&PrecopyStats> {
        self.stats
            .precopy
            .as_ref()
            .or_else(|| self.pre.as_ref().map(Precopy::stats))
    }

    /// The destination's version of every page (`u32::MAX`: none), once post-copy began.
    pub fn destination_versions(&self) -> Option<&[u32]> {
        self.post.as_ref().map(|p| p.dest.as_slice())
    }

    /// Pages the destination holds, once post-copy began.
    pub fn present_pages(&self) -> Option<u64> {
        self.post.as_ref().map(|p| p.present.count())
    }

    /// Faults outstanding now.
    pub fn outstanding_faults(&self) -> usize {
        self.post.as_ref().map_or(0, |p| p.faults.len())
    }

    /// Starts the migration now.
    pub fn start(&mut self, io: &mut impl PostcopyIo) {
        let now = io.now();
        self.stats.started = now;
        if let Some(pre) = &mut self.pre {
            self.phase = Phase::Precopy;
            pre.start(&mut PreIo(io));
            self.after_pre(io);
        } else {
            // Pure post-copy stops at once; the guest's writes before the start are not
            // this migration's (as pre-copy's start drops them).
            self.post_mut().dirtier.resume(now);
            self.stop(io);
        }
    }

    /// A message sent on `lane` reached its end.
    pub fn on_delivered(&mut self, io: &mut impl PostcopyIo, lane: Lane, tag: u64) {
        match self.phase {
            Phase::Precopy => {
                if let (Lane::Main, Some(pre)) = (lane, &mut self.pre) {
                    pre.on_delivered(&mut PreIo(io), tag);
                    self.after_pre(io);
                }
            }
            Phase::Stopped { .. } | Phase::Resuming { .. } | Phase::Running => {
                self.on_post_delivered(io, lane, tag)
            }
            Phase::Idle | Phase::Done | Phase::Aborted | Phase::Lost => {}
        }
    }

    /// A wake asked for with [`PostcopyIo::wake_at`] is due.
    pub fn on_wake(&mut self, io: &mut impl PostcopyIo) {
        let now = io.now();
        match self.phase {
            Phase::Precopy => {
                if let Some(pre) = &mut self.pre {
                    pre.on_wake(&mut PreIo(io));
                    self.after_pre(io);
                }
                return;
            }
            Phase::Stopped { copy_at, .. } if now >= copy_at && !self.post().copied => {
                self.copy(io)
            }
            Phase::Resuming { resume_at, .. } if now >= resume_at => self.run(io),
            Phase::Running => {
                let post = self.post_mut();
                if post.next_tick.is_some_and(|t| now >= t) {
                    post.next_tick = None;
                    self.guest_advance(io, now);
                    self.set_speed(now);
                    self.arm_tick(io, now);
                }
            }
            _ => {}
        }
        self.check_watchdog(io, now);
    }

    /// An end of the migration failed (its node crashed) now.
    pub fn on_end_down(&mut self, now: SimTime, end: End) {
        match self.phase {
            Phase::Idle | Phase::Done | Phase::Aborted | Phase::Lost => {}
            Phase::Precopy => {
                self.stats.precopy = self.pre.as_ref().map(|p| p.stats().clone());
                match end {
                    // The VM keeps running where it was.
                    End::Destination => self.phase = Phase::Aborted,
                    End::Source => self.lose(now, LossCause::SourceDown),
                }
            }
            Phase::Stopped { .. } | Phase::Resuming { .. } | Phase::Running => {
                let cause = match end {
                    End::Source => LossCause::SourceDown,
                    End::Destination => LossCause::DestinationDown,
                };
                self.lose(now, cause);
            }
        }
    }

    fn post(&self) -> &Post {
        self.post
            .as_deref()
            .expect("post-copy state exists from the stop on")
    }

    fn post_mut(&mut self) -> &mut Post {
        self.post
            .as_deref_mut()
            .expect("post-copy state exists from the stop on")
    }

    /// After a pre-copy call: take over at the pass limit, or follow pre-copy's end.
    fn after_pre(&mut self, io: &mut impl PostcopyIo) {
        let Some(pre) = &self.pre else { return };
        match pre.phase() {
            precopy::Phase::Iterating if pre.stats().passes >= self.opts.precopy_passes => {
                let Some(pre) = self.pre.take() else { return };
                let h = pre.hand_over();
                let mut post = Post::new(h.memory, h.dirtier, h.to_send, h.dest, self.opts.vcpus);
                post.backlog = h.in_flight.bytes();
                post.pre_in_flight = (!h.in_flight.is_empty()).then_some(h.in_flight);
                self.stats.precopy = Some(h.stats);
                self.post = Some(Box::new(post));
                self.stop(io);
            }
            precopy::Phase::Done => {
                let s = pre.stats();
                self.phase = Phase::Done;
                self.stats.finished_as_precopy = true;
                self.stats.stopped = s.stopped;
                self.stats.resumed = s.resumed;
                self.stats.completed = s.resumed;
                self.stats.consistent = s.consistent;
                self.stats.precopy = Some(s.clone());
            }
            precopy::Phase::Aborted => {
                self.phase = Phase::Aborted;
                self.stats.precopy = Some(pre.stats().clone());
            }
            _ => {}
        }
    }

    /// Stops the VM: the last sync, the discard set, the extra channels.
    fn stop(&mut self, io: &mut impl PostcopyIo) {
        let now = io.now();
        let opts = &self.opts;
        let post = self
            .post
            .as_deref_mut()
            .expect("stop builds on post-copy state");
        post.dirtier.advance(now, &mut post.mem);
        post.dirtier.pause();
        post.mem.take_log_into(&mut post.to_send);
        // The destination holds what is not to be sent; the rest is discarded there, as
        // runs of pages, and the walk restarts at page 0.
        post.present.set_all();
        let mut ranges = 0u64;
        let mut at = 0;
        let mut prev: Option<u64> = None;
        while let Some(p) = post.to_send.next_set(at) {
            post.present.clear(p);
            if prev.is_none_or(|q| q + 1 != p) {
                ranges += 1;
            }
            prev = Some(p);
            at = p + 1;
        }
        post.cursor = 0;
        post.last_progress = now;
        post.watchdog = Some(now + opts.progress_timeout);
        io.wake_at(now + opts.progress_timeout);
        self.stats.discard_ranges = ranges;
        self.stats.discard_bytes = ranges * DISCARD_RANGE_BYTES
            + ranges.div_ceil(DISCARD_RANGES_PER_COMMAND) * DISCARD_COMMAND_HEADER_BYTES;
        self.stats.stopped = Some(now);
        let copy_at = now + opts.precopy.switchover;
        self.phase = Phase::Stopped { at: now, copy_at };
        io.open_postcopy_lanes();
        if copy_at == now {
            self.copy(io);
        } else {
            io.wake_at(copy_at);
        }
    }

    /// The switchover cost is paid: discards and package go, the push begins.
    fn copy(&mut self, io: &mut impl PostcopyIo) {
        let now = io.now();
        let discard = self.stats.discard_bytes;
        let device = self.device_state_bytes.max(1);
        self.stats.device_bytes = device;
        let post = self.post_mut();
        post.copied = true;
        post.last_progress = now;
        let mut waiting = 1;
        if discard > 0 {
            io.send(Lane::Main, discard, TAG_DISCARD);
            post.backlog += discard;
            waiting += 1;
        }
        io.send(Lane::Main, device, TAG_PACKAGE);
        post.backlog += device;
        post.switch_waiting = waiting;
        self.pump(io);
    }

    /// The VM runs on the destination.
    fn run(&mut self, io: &mut impl PostcopyIo) {
        let now = io.now();
        self.phase = Phase::Running;
        self.stats.resumed = Some(now);
        let post = self.post_mut();
        post.dirtier.resume(now);
        // Auto-converge throttles the source's vCPUs; the destination's run free.
        post.dirtier.set_throttle(0.0);
        if post.present.count() == post.mem.pages() {
            self.finish(now);
            return;
        }
        self.arm_tick(io, now);
    }

    /// Keeps one guest tick scheduled while the guest can write.
    fn arm_tick(&mut self, io: &mut impl PostcopyIo, now: SimTime) {
        let tick = self.opts.tick;
        let post = self.post_mut();
        let writes = post.dirtier.config().rate_pages_per_s > 0.0;
        if post.next_tick.is_none() && writes && !post.dirtier.is_paused() {
            post.next_tick = Some(now + tick);
            io.wake_at(now + tick);
        }
    }

    /// The guest's writes up to now; new faults send their requests.
    fn guest_advance(&mut self, io: &mut impl PostcopyIo, now: SimTime) {
        let vcpus = self.opts.vcpus;
        let post = self
            .post
            .as_deref_mut()
            .expect("the guest runs on post-copy state");
        let mut guest = Guest {
            mem: &mut post.mem,
            present: &post.present,
            dest: &mut post.dest,
            faults: &mut post.faults,
            stalled: &mut post.stalled,
            vcpus,
            now,
        };
        self.stats.guest_writes += post.dirtier.advance_into(now, &mut guest);
        for f in post.faults.iter_mut().filter(|f| !f.requested) {
            f.requested = true;
            let bytes = if self.stats.faults == 0 {
                REQUEST_BYTES + FIRST_REQUEST_EXTRA_BYTES
            } else {
                REQUEST_BYTES
            };
            self.stats.faults += 1;
            self.stats.request_bytes += bytes;
            post.requests_in_flight += 1;
            io.send(Lane::Return, bytes, f.page as u64);
        }
    }

    /// Sets the guest's speed from its stalled vCPUs: `1 − stalled/vcpus`, paused at 0.
    fn set_speed(&mut self, now: SimTime) {
        let vcpus = self.opts.vcpus;
        let post = self
            .post
            .as_deref_mut()
            .expect("the guest runs on post-copy state");
        if post.stalled >= vcpus {
            if !post.dirtier.is_paused() {
                post.dirtier.pause();
                post.all_stalled_since = Some(now);
            }
            return;
        }
        if post.dirtier.is_paused() {
            post.dirtier.resume(now);
            if let Some(since) = post.all_stalled_since.take() {
                self.stats.blocktime = self.stats.blocktime + now.since(since);
            }
        }
        post.dirtier
            .set_throttle(post.stalled as f64 / vcpus as f64);
    }

    fn on_post_delivered(&mut self, io: &mut impl PostcopyIo, lane: Lane, tag: u64) {
        let now = io.now();
        let running = self.phase == Phase::Running;
        if running {
            // Writes up to now happen with the vCPUs stalled as they were.
            self.guest_advance(io, now);
        }
        let post = self.post.as_deref_mut().expect("deliveries after the stop");
        post.last_progress = now;
        match lane {
            Lane::Main if tag == TAG_DISCARD => {
                post.backlog -= self.stats.discard_bytes;
                post.switch_waiting -= 1;
            }
            Lane::Main if tag == TAG_PACKAGE => {
                post.backlog -= self.stats.device_bytes;
                post.switch_waiting -= 1;
            }
            Lane::Main if tag >= PUSH_TAG_BASE => {
                let i = tag - PUSH_TAG_BASE;
                let Some(batch) = i
                    .checked_sub(post.first)
                    .and_then(|k| post.batches.get_mut(k as usize))
                    .and_then(Option::take)
                else {
                    return;
                };
                post.backlog -= batch.bytes;
                for &(page, version) in &batch.pages {
                    arrive(post, &mut self.stats, now, page, version);
                }
                let mut batch = batch;
                batch.pages.clear();
                batch.bytes = 0;
                post.pool.push(batch);
                while let Some(None) = post.batches.front() {
                    post.batches.pop_front();
                    post.first += 1;
                }
            }
            Lane::Main => {
                if let (Some(f), Some(s)) = (&mut post.pre_in_flight, &mut self.stats.precopy) {
                    if let Some(bytes) = f.deliver(tag, &mut post.dest, s) {
                        post.backlog -= bytes;
                    }
                    if f.is_empty() {
                        post.pre_in_flight = None;
                    }
                }
            }
            Lane::Urgent => {
                post.urgent_in_flight -= 1;
                arrive(post, &mut self.stats, now, (tag >> 32) as u32, tag as u32);
            }
            Lane::Return => {
                post.requests_in_flight -= 1;
                // The source's return-path thread: send the page if it is still unsent.
                let page = tag;
                if post.to_send.clear(page) {
                    let version = post.mem.version(page);
                    let bytes = wire_bytes(&post.mem, page, &mut self.stats);
                    self.stats.pages_faulted += 1;
                    post.urgent_in_flight += 1;
                    io.send(Lane::Urgent, bytes, (page << 32) | version as u64);
                } else {
                    self.stats.requests_for_sent_pages += 1;
                }
            }
        }
        if lane == Lane::Main {
            self.pump(io);
        }
        match self.phase {
            Phase::Running => {
                self.set_speed(now);
                if self.post().present.count() == self.post().mem.pages() {
                    self.finish(now);
                    return;
                }
                self.arm_tick(io, now);
            }
            Phase::Stopped { at, .. } => {
                let post = self.post();
                if post.copied && post.switch_waiting == 0 && post.pre_in_flight.is_none() {
                    let resume_at = now + self.opts.precopy.resume;
                    self.phase = Phase::Resuming {
                        stopped: at,
                        resume_at,
                    };
                    if resume_at == now {
                        self.run(io);
                    } else {
                        io.wake_at(resume_at);
                    }
                }
            }
            _ => {}
        }
    }

    /// The background push: the next unsent pages in walk order, as the backlog allows.
    fn pump(&mut self, io: &mut impl PostcopyIo) {
        let batch_bytes = self.opts.precopy.batch_bytes.max(1);
        let backlog_bytes = self.opts.precopy.backlog_bytes.max(1);
        let post = self
            .post
            .as_deref_mut()
            .expect("the push runs on post-copy state");
        if !post.copied {
            return;
        }
        let pages = post.mem.pages();
        while post.backlog < backlog_bytes && !post.to_send.is_empty() {
            let mut batch = post.pool.pop().unwrap_or_default();
            while batch.bytes < batch_bytes {
                let page = match post.to_send.next_set(post.cursor) {
                    Some(p) => p,
                    None => match post.to_send.next_set(0) {
                        Some(p) => p,
                        None => break,
                    },
                };
                post.to_send.clear(page);
                post.cursor = if page + 1 == pages { 0 } else { page + 1 };
                batch.bytes += wire_bytes(&post.mem, page, &mut self.stats);
                batch.pages.push((page as u32, post.mem.version(page)));
                self.stats.pages_pushed += 1;
            }
            let tag = PUSH_TAG_BASE + post.first + post.batches.len() as u64;
            post.backlog += batch.bytes;
            io.send(Lane::Main, batch.bytes, tag);
            post.batches.push_back(Some(batch));
        }
    }

    /// Every page is on the destination: compare the digests.
    fn finish(&mut self, now: SimTime) {
        self.phase = Phase::Done;
        self.stats.completed = Some(now);
        let post = self.post();
        let ok = post.present.count() == post.mem.pages()
            && digest_versions(&post.dest) == post.mem.state_digest();
        self.stats.consistent = Some(ok);
    }

    fn lose(&mut self, now: SimTime, cause: LossCause) {
        self.phase = Phase::Lost;
        self.stats.lost = Some((now, cause));
        if let Some(post) = self.post.as_deref_mut() {
            if let Some(since) = post.all_stalled_since.take() {
                self.stats.blocktime = self.stats.blocktime + now.since(since);
            }
            post.dirtier.pause();
        }
    }

    /// Loses the VM if nothing was delivered for the timeout while something was in
    /// flight; otherwise looks again when the timeout would next run out.
    fn check_watchdog(&mut self, io: &mut impl PostcopyIo, now: SimTime) {
        if !matches!(
            self.phase,
            Phase::Stopped { .. } | Phase::Resuming { .. } | Phase::Running
        ) {
            return;
        }
        let timeout = self.opts.progress_timeout;
        let post = self.post_mut();
        let Some(at) = post.watchdog else { return };
        if now < at {
            return;
        }
        if !post.copied || post.idle() {
            // Nothing expected: not stuck.
            post.last_progress = now;
        }
        if now.since(post.last_progress) >= timeout {
            post.watchdog = None;
            self.lose(now, LossCause::NoProgress);
        } else {
            let next = post.last_progress + timeout;
            post.watchdog = Some(next);
            io.wake_at(next);
        }
    }
}

/// Page `page` (version `version`) reached the destination.
fn arrive(post: &mut Post, stats: &mut PostcopyStats, now: SimTime, page: u32, version: u32) {
    let p = page as u64;
    if post.present.test(p) {
        stats.duplicate_pages += 1;
        return;
    }
    post.present.set(p);
    post.dest[page as usize] = version;
    if let Some(i) = post.faults.iter().position(|f| f.page == page) {
        let f = post.faults.swap_remove(i);
        stats.fault_latency.record(now.since(f.at).as_ps());
        // The stalled vCPUs' writes land now, on the page as it arrived.
        for _ in 0..f.waiters {
            post.mem.write(p);
            let d = &mut post.dest[page as usize];
            *d = d.wrapping_add(1);
        }
        post.stalled -= f.waiters;
    }
}

/// Wire bytes of page `page` as QEMU's RAM stream sends it, counted in `stats`.
fn wire_bytes(mem: &GuestMemory, page: u64, stats: &mut PostcopyStats) -> u64 {
    if mem.is_zero(page) {
        stats.zero_page_bytes += ZERO_PAGE_WIRE_BYTES;
        ZERO_PAGE_WIRE_BYTES
    } else {
        stats.full_page_bytes += FULL_PAGE_WIRE_BYTES;
        FULL_PAGE_WIRE_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::pages::MemoryProfile;
    use crate::engine::RngStreams;
    use crate::migration::dirty::DirtyConfig;
    use crate::migration::profile;
    use std::collections::BTreeMap;

    const MS: u64 = 1_000_000_000;

    /// One lane of the fake network: FIFO, `rate` bytes/s, then `delay`.
    #[derive(Clone, Copy)]
    struct LaneModel {
        delay: SimDuration,
        rate: u64,
        busy: SimTime,
    }

    enum Ev {
        Wake,
        Deliver(Lane, u64),
    }

    /// A deterministic toy network: three FIFO lanes, events in `(time, seq)` order.
    struct Net {
        now: SimTime,
        seq: u64,
        events: BTreeMap<(SimTime, u64), Ev>,
        lanes: [LaneModel; 3],
        /// `(time, lane, bytes, tag)` of every send.
        sent: Vec<(SimTime, Lane, u64, u64)>,
        opened: u32,
        /// From this time on every send is lost.
        black_hole: Option<SimTime>,
        last_delivery: SimTime,
    }

    fn idx(l: Lane) -> usize {
        match l {
            Lane::Main => 0,
            Lane::Urgent => 1,
            Lane::Return => 2,
        }
    }

    impl Net {
        /// Main at `main_rate` B/s, the other lanes at 1 GB/s; `delay` one way on each.
        fn new(delay: SimDuration, main_rate: u64) -> Net {
            let lane = |rate| LaneModel {
                delay,
                rate,
                busy: SimTime::ZERO,
            };
            Net {
                now: SimTime::ZERO,
                seq: 0,
                events: BTreeMap::new(),
                lanes: [lane(main_rate), lane(1_000_000_000), lane(1_000_000_000)],
                sent: Vec::new(),
                opened: 0,
                black_hole: None,
                last_delivery: SimTime::ZERO,
            }
        }

        fn push(&mut self, at: SimTime, ev: Ev) {
            self.seq += 1;
            self.events.insert((at, self.seq), ev);
        }
    }

    impl PostcopyIo for Net {
        fn now(&self) -> SimTime {
            self.now
        }
        fn open_postcopy_lanes(&mut self) {
            self.opened += 1;
        }
        fn send(&mut self, lane: Lane, bytes: u64, tag: u64) {
            self.sent.push((self.now, lane, bytes, tag));
            if self.black_hole.is_some_and(|t| self.now >= t) {
                return;
            }
            let l = &mut self.lanes[idx(lane)];
            let start = l.busy.max(self.now);
            // bytes / rate in ps, exact for the rates used here (divisors of 10¹²).
            l.busy = start + SimDuration::from_ps(bytes * (1_000_000_000_000 / l.rate));
            let at = l.busy + l.delay;
            self.push(at, Ev::Deliver(lane, tag));
        }
        fn wake_at(&mut self, at: SimTime) {
            let at = at.max(self.now);
            self.push(at, Ev::Wake);
        }
    }

    /// Runs events up to `until` (inclusive).
    fn run(m: &mut Postcopy, net: &mut Net, until: SimTime) {
        while let Some(entry) = net.events.first_entry() {
            if entry.key().0 > until {
                break;
            }
            let ((t, _), ev) = entry.remove_entry();
            net.now = t;
            match ev {
                Ev::Wake => m.on_wake(net),
                Ev::Deliver(lane, tag) => {
                    net.last_delivery = t;
                    m.on_delivered(net, lane, tag)
                }
            }
        }
        net.now = net
            .now
            .max(until.min(net.events.keys().next().map_or(until, |k| k.0)));
    }

    /// A migration whose pre-copy part (if any) sends pages raw, as QEMU's stream does.
    fn new_post(
        opts: PostcopyOptions,
        mem: GuestMemory,
        dirtier: Dirtier,
        device_state_bytes: u64,
    ) -> Postcopy {
        let raw = crate::migration::encoding::PageEncoder::new(
            crate::migration::encoding::EncodingOptions::raw(),
            &mem,
            64,
            None,
            0,
        )
        .expect("the raw pipeline needs no calibration");
        Postcopy::new(opts, mem, dirtier, raw, device_state_bytes)
    }

    fn opts(passes: u32, vcpus: u32, backlog: u64) -> PostcopyOptions {
        let mut pre = profile::kvm().precopy;
        pre.max_bandwidth = None;
        // A small threshold (100 MB/s × 1 ms = 100 kB), so a hybrid's pre-copy does not
        // converge on its own at its first sync.
        pre.downtime_limit = SimDuration::from_millis(1);
        pre.backlog_bytes = backlog;
        PostcopyOptions::new(pre, passes, vcpus)
    }

    fn vm(pages: u64, dirty: DirtyConfig, seed: u64) -> (GuestMemory, Dirtier) {
        let mem = GuestMemory::new(pages, MemoryProfile::default(), seed);
        let rng = RngStreams::new(seed).stream("migration/test/postcopy");
        (
            mem,
            Dirtier::new(dirty, pages, rng).expect("valid dirtying"),
        )
    }

    fn uniform(pages: u64, rate: f64) -> DirtyConfig {
        DirtyConfig {
            working_set_bytes: pages * 4096,
            rate_pages_per_s: rate,
            hot_fraction: 0.0,
            hot_share: 0.0,
            bytes_per_write: 64,
        }
    }

    fn at_ms(ms: u64) -> SimTime {
        SimTime::from_ps(ms * MS)
    }

    #[test]
    fn a_fault_is_a_request_then_the_page_on_the_urgent_lane() {
        // 4096 pages, 1000 writes/s anywhere, one vCPU; the main lane is slow (1 MB/s)
        // and holds one 32 KiB batch at a time, so the push has sent only the first few
        // dozen pages when the guest first writes.
        let pages = 4096;
        let setup = || {
            let (mem, dirtier) = vm(pages, uniform(pages, 1000.0), 3);
            let m = new_post(opts(0, 1, 32 << 10), mem, dirtier, 64 << 10);
            (m, Net::new(SimDuration::from_millis(1), 1_000_000))
        };
        let (mut m, mut net) = setup();
        m.start(&mut net);
        assert_eq!(
            net.opened, 1,
            "the urgent and return lanes open at the stop"
        );
        assert!(matches!(m.phase(), Phase::Stopped { .. }));
        // Resumed at about 96 ms (20 ms switchover, 64 KiB at 1 MB/s, 1 ms, 9 ms resume).
        run(&mut m, &mut net, at_ms(200));
        let s = m.stats();
        assert!(s.faults > 0);
        // The first request: 23 bytes on the return lane, its page's number as tag.
        let (t0, _, bytes, page) = *net
            .sent
            .iter()
            .find(|e| e.1 == Lane::Return)
            .expect("a request");
        assert_eq!(bytes, REQUEST_BYTES + FIRST_REQUEST_EXTRA_BYTES);
        // It reaches the source 23 B / 1 GB/s + 1 ms later, which answers at once on the
        // urgent lane with (page, version) in the tag (the page was not pushed yet: the
        // push had sent about 100 of the 4096 pages).
        let (t1, _, page_bytes, tag) = *net
            .sent
            .iter()
            .find(|e| e.1 == Lane::Urgent)
            .expect("a reply");
        assert_eq!(tag >> 32, page);
        assert_eq!(
            t1,
            t0 + SimDuration::from_ps(23 * 1000) + SimDuration::from_millis(1)
        );
        let full = m.memory().image().class(page) != crate::compress::pages::PageClass::Zero;
        assert_eq!(page_bytes, if full { 4104 } else { 9 });
        // Its latency: 2 × 1 ms + (23 + page bytes) / 1 GB/s, exactly (1 ns per byte):
        // the same run stopped when that page is due holds exactly that one sample.
        let want = 2 * MS + (23 + page_bytes) * 1000;
        let (mut m2, mut net2) = setup();
        m2.start(&mut net2);
        run(&mut m2, &mut net2, t0 + SimDuration::from_ps(want));
        assert_eq!(m2.stats().fault_latency.count(), 1);
        assert_eq!(m2.stats().fault_latency.min(), Some(want));
        // No fault is faster than both one-way delays and the smallest request and page
        // (16 B and a 9-byte zero page).
        assert!(s.fault_latency.min() >= Some(2 * MS + 25 * 1000));
        // Every event before the reply arrived: the one vCPU was stalled, no other
        // request went out in between.
        let between = net
            .sent
            .iter()
            .filter(|e| e.1 == Lane::Return && e.0 > t0 && e.0 < t0 + SimDuration::from_ps(want))
            .count();
        assert_eq!(between, 0, "a stalled single vCPU faults no more");
    }

    #[test]
    fn every_vcpu_stalled_stops_the_guest_until_a_page_arrives() {
        // 100 000 writes/s, 10 per 100 µs tick, nearly all to missing pages at first; 2
        // vCPUs: the first tick's first two writes stall both and the other 8 are
        // dropped. Requests and pages take 10 ms each way, so for 20 ms nothing resolves.
        let pages = 8192;
        let (mem, dirtier) = vm(pages, uniform(pages, 100_000.0), 4);
        let mut m = new_post(opts(0, 2, 32 << 10), mem, dirtier, 64 << 10);
        let mut net = Net::new(SimDuration::from_millis(10), 1_000_000);
        m.start(&mut net);
        // Stop at 0, package sent at 20 ms (switchover), arrives 20 + 64 KiB / 1 MB/s
        // (65.5 ms) + 10 ms, resumes 9 ms later: at 104.5 ms. Run to 115 ms.
        run(&mut m, &mut net, at_ms(115));
        assert_eq!(m.phase(), Phase::Running);
        let resumed = m.stats().resumed.expect("resumed");
        assert!(resumed < at_ms(105), "resumed at {resumed}");
        let writes = m.stats().guest_writes;
        assert_eq!(
            writes, 2,
            "two writes taken, one per vCPU, then the guest stalls"
        );
        assert!(m.dirtier().is_paused(), "all vCPUs wait");
        assert!((1..=2).contains(&m.outstanding_faults()));
        // Still stalled 10 ms later (the first reply is due ~20 ms after the fault).
        run(&mut m, &mut net, resumed + SimDuration::from_millis(19));
        assert_eq!(
            m.stats().guest_writes,
            writes,
            "a stalled guest writes nothing"
        );
        // After the replies the guest runs again and more faults follow.
        run(&mut m, &mut net, resumed + SimDuration::from_millis(100));
        assert!(m.stats().guest_writes > writes);
        assert!(m.stats().fault_latency.min() >= Some(20 * MS));
        assert!(m.stats().blocktime >= SimDuration::from_millis(20));
    }

    /// A pure post-copy and a hybrid of one pass of the same guest, run to the end.
    fn finish(passes: u32, seed: u64) -> (Postcopy, Net) {
        let pages = 4096;
        let dirty = crate::migration::dirty::Workload::Database.config(pages * 4096);
        let (mem, dirtier) = vm(pages, dirty, seed);
        let mut m = new_post(opts(passes, 4, 1 << 20), mem, dirtier, 64 << 10);
        // 100 MB/s main lane: 16 MiB in about 0.13 s; 0.5 ms each way.
        let mut net = Net::new(SimDuration::from_micros(500), 100_000_000);
        m.start(&mut net);
        run(&mut m, &mut net, at_ms(30_000));
        (m, net)
    }

    #[test]
    fn every_page_arrives_once_and_the_versions_match() {
        let (m, _) = finish(0, 7);
        let s = m.stats();
        assert_eq!(m.phase(), Phase::Done);
        assert_eq!(s.consistent, Some(true));
        // Each page sent once after the stop, by the push or on request, never both.
        assert_eq!(s.pages_pushed + s.pages_faulted, 4096);
        assert_eq!(s.duplicate_pages, 0);
        assert_eq!(m.present_pages(), Some(4096));
        assert_eq!(m.destination_versions(), Some(m.memory().versions()));
        assert!(
            s.faults > 0 && s.guest_writes > 0,
            "the database guest faulted"
        );
        assert_eq!(s.fault_latency.count(), s.faults, "every fault resolved");
        // Pure post-copy: one discard range (all of memory), in one command.
        assert_eq!(s.discard_ranges, 1);
        assert_eq!(
            s.discard_bytes,
            DISCARD_RANGE_BYTES + DISCARD_COMMAND_HEADER_BYTES
        );
        assert!(s.degradation_window().is_some() && s.downtime().is_some());
    }

    #[test]
    fn a_hybrid_takes_over_after_its_passes_and_faults_less() {
        let (pure, _) = finish(0, 8);
        let (hybrid, _) = finish(1, 8);
        let h = hybrid.stats();
        assert_eq!(hybrid.phase(), Phase::Done);
        assert_eq!(h.consistent, Some(true));
        let pre = h.precopy.as_ref().expect("a pre-copy part");
        assert_eq!(pre.passes, 1, "switched at the first sync");
        assert!(!h.finished_as_precopy);
        // Pre-copy sent memory once; post-copy only what was dirtied since (plus what
        // was still unsent at the sync), so fewer pages are missing at the resume.
        assert!(h.pages_pushed + h.pages_faulted < 4096);
        assert!(h.discard_ranges > 1, "scattered dirty pages, many ranges");
        assert!(
            h.faults < pure.stats().faults,
            "hybrid {} faults, pure {}",
            h.faults,
            pure.stats().faults
        );
    }

    #[test]
    fn the_same_run_twice_gives_the_same_result() {
        let (a, na) = finish(1, 9);
        let (b, nb) = finish(1, 9);
        assert_eq!(na.sent, nb.sent, "the same sends at the same times");
        assert_eq!(a.stats().faults, b.stats().faults);
        assert_eq!(a.stats().completed, b.stats().completed);
        assert_eq!(a.memory().state_digest(), b.memory().state_digest());
    }

    #[test]
    fn a_failure_during_post_copy_loses_the_vm() {
        let pages = 4096;
        let (mem, dirtier) = vm(pages, uniform(pages, 1000.0), 5);
        let mut m = new_post(opts(0, 2, 1 << 20), mem, dirtier, 64 << 10);
        let mut net = Net::new(SimDuration::from_millis(1), 1_000_000);
        m.start(&mut net);
        run(&mut m, &mut net, at_ms(500));
        assert_eq!(m.phase(), Phase::Running);
        m.on_end_down(at_ms(500), End::Destination);
        assert_eq!(m.phase(), Phase::Lost);
        assert_eq!(
            m.stats().lost,
            Some((at_ms(500), LossCause::DestinationDown))
        );
        // What was still in flight changes nothing.
        run(&mut m, &mut net, at_ms(30_000));
        assert_eq!(m.phase(), Phase::Lost);
        assert_eq!(m.stats().completed, None);
        assert_eq!(m.stats().consistent, None);

        // In a hybrid's pre-copy part the VM still runs on the source: a destination
        // failure aborts, a source failure loses it with its host.
        for (end, phase) in [
            (End::Destination, Phase::Aborted),
            (End::Source, Phase::Lost),
        ] {
            let (mem, dirtier) = vm(pages, uniform(pages, 1000.0), 5);
            let mut m = new_post(opts(1, 2, 1 << 20), mem, dirtier, 64 << 10);
            let mut net = Net::new(SimDuration::from_millis(1), 1_000_000);
            m.start(&mut net);
            run(&mut m, &mut net, at_ms(100));
            assert_eq!(m.phase(), Phase::Precopy);
            m.on_end_down(at_ms(100), end);
            assert_eq!(m.phase(), phase, "{end:?}");
        }
    }

    #[test]
    fn channels_that_stop_moving_lose_the_vm_after_the_timeout() {
        let pages = 4096;
        let (mem, dirtier) = vm(pages, uniform(pages, 1000.0), 6);
        let mut m = new_post(opts(0, 2, 1 << 20), mem, dirtier, 64 << 10);
        let mut net = Net::new(SimDuration::from_millis(1), 1_000_000);
        // From 1 s on nothing sent arrives (a partition); what was sent before does.
        net.black_hole = Some(at_ms(1_000));
        m.start(&mut net);
        run(&mut m, &mut net, at_ms(60_000));
        assert_eq!(m.phase(), Phase::Lost);
        let (t, cause) = m.stats().lost.expect("lost");
        assert_eq!(cause, LossCause::NoProgress);
        // Exactly the timeout after the last delivery.
        assert_eq!(t, net.last_delivery + DEFAULT_PROGRESS_TIMEOUT);
    }
}
