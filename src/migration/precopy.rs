//! Pre-copy live migration as a sans-I/O state machine: QEMU's rule, and the stop rules of
//! the other profiles on the same mechanism.
//!
//! The sender walks the migration bitmap (every page set at the start) and sends pages in
//! batches over a channel ([`MigrationIo::send`]); a batch's pages are read when it is
//! sent, so a page written later is sent again after the next bitmap sync. What QEMU does
//! (`migration/migration.c`, `migration/ram.c`), and so what this does:
//! - time is cut into slots of `slot` (QEMU's `BUFFER_DELAY`, 100 ms); a rate-limited
//!   sender may send `max_bandwidth × slot` bytes per slot, then waits for the next;
//! - at the end of each slot the bandwidth achieved is measured and
//!   `threshold = bandwidth × downtime_limit` (`migration_update_counters`);
//! - the dirty log is synced into the bitmap **only** when the bytes still to send fall
//!   below the threshold (which includes a bitmap sent empty): a page dirtied twice before
//!   it is sent goes once. If after the sync the remaining bytes are still below the
//!   threshold, the VM stops;
//! - stop-and-copy is not rate-limited: after a fixed switchover cost, the remaining pages
//!   and the device state go at whatever the channel achieves, and the destination runs
//!   after its resume cost. Downtime is measured from the stop to that moment, so it may
//!   fall below or above `downtime_limit`: the limit is a target, not a bound.
//!
//! Wire cost per page (QEMU's RAM stream): a zero page is an 8-byte header and one fill
//! byte; a normal page is the header and 4096 bytes; a profile's pipeline may instead send
//! it deduplicated, compressed or as an XBZRLE delta ([`super::encoding`]). Compression
//! takes the sender's CPU: a batch leaves when `cores` threads have compressed it, so a
//! slow codec caps the rate (decompression at the destination is left out).
//!
//! Correctness is checked, not assumed: the destination keeps the version of every page it
//! received, and at the end its digest over (page, version) must equal the source's.

use super::dirty::Dirtier;
use super::encoding::{PageEncoder, PageKind};
use super::memory::{digest_versions, DirtyBitmap, GuestMemory};
use crate::compress::pages::PAGE_SIZE;
use crate::engine::{SimDuration, SimTime};
use std::collections::VecDeque;

/// Bytes of QEMU's per-page header in the RAM stream (a big-endian u64 of address and flags).
pub const PAGE_HEADER_BYTES: u64 = 8;
/// Wire bytes of a zero page: the header and one fill byte (`RAM_SAVE_FLAG_ZERO`).
pub const ZERO_PAGE_WIRE_BYTES: u64 = PAGE_HEADER_BYTES + 1;
/// Wire bytes of a page sent whole.
pub const FULL_PAGE_WIRE_BYTES: u64 = PAGE_HEADER_BYTES + PAGE_SIZE as u64;

/// What the engine asks of the world around it.
pub trait MigrationIo {
    /// The current virtual time.
    fn now(&self) -> SimTime;
    /// Sends `bytes` on the migration channel; `tag` comes back in
    /// [`Precopy::on_delivered`].
    fn send(&mut self, bytes: u64, tag: u64);
    /// Asks for a call of [`Precopy::on_wake`] at `at` (extra calls are harmless).
    fn wake_at(&mut self, at: SimTime);
}

/// When pre-copy stops iterating.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StopRule {
    /// QEMU: sync when the remaining bytes fall below bandwidth × downtime limit; stop when
    /// they are still below it after the sync.
    Threshold,
    /// The DWCP v3 orchestrator (seed-system §1.6): after each full pass, stop once the
    /// dirty pages are below `fraction` of memory, or when the estimated downtime
    /// (remaining bytes / measured bandwidth) is within the downtime limit.
    DirtyFraction {
        /// Share of memory (0.01 in the original).
        fraction: f64,
    },
}

/// What to do when pre-copy reaches its iteration or time limit without converging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnLimit {
    /// Give up: the VM keeps running on the source (libvirt's abort).
    Abort,
    /// Stop the VM and copy what remains anyway (a long downtime).
    Force,
}

/// QEMU's auto-converge: throttle the vCPUs when dirtying outpaces sending.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AutoConverge {
    /// First throttle (QEMU `cpu-throttle-initial`, 20%).
    pub initial: f64,
    /// Added at each further step (`cpu-throttle-increment`, 10%).
    pub increment: f64,
    /// Largest throttle (QEMU's `CPU_THROTTLE_PCT_MAX`, 99%).
    pub max: f64,
    /// Throttle when the bytes dirtied between two syncs exceed this share of the bytes
    /// sent between them (`throttle-trigger-threshold`, 50%), twice in a row.
    pub trigger: f64,
}

impl Default for AutoConverge {
    /// QEMU's defaults (`migration/options.c`, validation-refs §1c).
    fn default() -> Self {
        AutoConverge {
            initial: 0.20,
            increment: 0.10,
            max: 0.99,
            trigger: 0.50,
        }
    }
}

/// The engine's options; a profile is a set of these.
#[derive(Clone, Debug, PartialEq)]
pub struct PrecopyOptions {
    /// Rate limit while iterating, bytes/s (`None`: as fast as the channel goes).
    pub max_bandwidth: Option<f64>,
    /// The downtime the switchover rule aims at.
    pub downtime_limit: SimDuration,
    /// Rate-limit and measurement slot (QEMU's `BUFFER_DELAY`, 100 ms).
    pub slot: SimDuration,
    /// When to stop iterating.
    pub stop_rule: StopRule,
    /// Passes (bitmap syncs) before the limit applies (`None`: no limit, QEMU's default).
    pub max_iterations: Option<u32>,
    /// Pre-copy time before the limit applies (`None`: none).
    pub time_limit: Option<SimDuration>,
    /// What the limit does.
    pub on_limit: OnLimit,
    /// vCPU throttling when dirtying outpaces sending.
    pub auto_converge: Option<AutoConverge>,
    /// Wire bytes per batch of pages (one channel message).
    pub batch_bytes: u64,
    /// Bytes sent and not yet delivered at most (the sockets' send buffers).
    pub backlog_bytes: u64,
    /// From the VM's stop to the first byte of the final copy (vm_stop, device save).
    pub switchover: SimDuration,
    /// From the last byte at the destination to the VM running there.
    pub resume: SimDuration,
}

/// Where a migration is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Phase {
    /// Not started.
    Idle,
    /// Iterative pre-copy: the VM runs on the source.
    Iterating,
    /// The VM is stopped; the final copy starts at `copy_at`.
    Stopped {
        /// When the VM stopped.
        at: SimTime,
        /// When the final copy begins (after the switchover cost).
        copy_at: SimTime,
    },
    /// Everything reached the destination; the VM resumes there at `resume_at`.
    Resuming {
        /// When the VM stopped.
        stopped: SimTime,
        /// When it runs on the destination.
        resume_at: SimTime,
    },
    /// The VM runs on the destination.
    Done,
    /// Gave up at the limit: the VM still runs on the source.
    Aborted,
}

/// What one migration measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PrecopyStats {
    /// When it started.
    pub started: SimTime,
    /// When the VM stopped on the source.
    pub stopped: Option<SimTime>,
    /// When it ran on the destination.
    pub resumed: Option<SimTime>,
    /// Whether the stop rule was met (not forced or aborted at a limit).
    pub converged: bool,
    /// Bitmap syncs (QEMU's `dirty-sync-count`); pass k ends at sync k.
    pub passes: u32,
    /// Dirty pages found at each sync, bytes (page size × pages).
    pub dirty_bytes_per_pass: Vec<u64>,
    /// Wire bytes of full pages (header included).
    pub full_page_bytes: u64,
    /// Wire bytes of zero pages.
    pub zero_page_bytes: u64,
    /// Wire bytes of the device state.
    pub device_bytes: u64,
    /// Wire bytes of compressed pages.
    pub compressed_bytes: u64,
    /// Wire bytes of XBZRLE deltas.
    pub delta_bytes: u64,
    /// Wire bytes of deduplicated pages (references).
    pub dedup_bytes: u64,
    /// Sender CPU time of the pipeline, ns on one core.
    pub cpu_ns: f64,
    /// Pages sent (all kinds).
    pub pages_sent: u64,
    /// Pages sent during stop-and-copy.
    pub final_pages: u64,
    /// Largest vCPU throttle applied.
    pub max_throttle: f64,
    /// Page versions that reached the destination older than the one it had: sent on one
    /// stream, re-sent newer on a faster one. Discarded, as QEMU's multifd gets the same
    /// end state from its per-sync barriers; 0 on a single stream.
    pub stale_arrivals: u64,
    /// Pages that arrived with the version the destination already held: written after a
    /// sync but before the walk reached them, they went with their new content and were
    /// marked dirty again, so the next pass sent them unchanged. QEMU does the same (the
    /// qemu-devel thread "Migration dirty bitmap: should only mark pages as dirty after they
    /// have been sent", 2016); counted, not an error.
    pub redundant_pages: u64,
    /// Destination digest equals the source's at the end (`None` before the end).
    pub consistent: Option<bool>,
    /// `(time, bytes still to send)` at every slot end and sync.
    pub remaining: Vec<(SimTime, u64)>,
}

impl PrecopyStats {
    /// All bytes put on the channel.
    pub fn wire_bytes(&self) -> u64 {
        self.full_page_bytes
            + self.zero_page_bytes
            + self.device_bytes
            + self.compressed_bytes
            + self.delta_bytes
            + self.dedup_bytes
    }

    /// Space saved on the pages as the seed computes it: 1 − page wire bytes / page bytes.
    pub fn space_saved(&self) -> f64 {
        let raw = self.pages_sent as f64 * PAGE_SIZE as f64;
        if raw == 0.0 {
            return 0.0;
        }
        1.0 - (self.wire_bytes() - self.device_bytes) as f64 / raw
    }

    /// VM stopped to VM running on the destination.
    pub fn downtime(&self) -> Option<SimDuration> {
        Some(self.resumed?.since(self.stopped?))
    }

    /// Start to VM running on the destination.
    pub fn total_time(&self) -> Option<SimDuration> {
        Some(self.resumed?.since(self.started))
    }
}

/// A batch of pages in flight: `(page, version)` pairs and its wire bytes.
#[derive(Clone, Debug, Default)]
struct Batch {
    pages: Vec<(u32, u32)>,
    bytes: u64,
}

/// One pre-copy migration of one VM; see the module doc.
pub struct Precopy {
    opts: PrecopyOptions,
    mem: GuestMemory,
    dirtier: Dirtier,
    encoder: PageEncoder,
    device_state_bytes: u64,
    /// Batches being compressed, with when they are ready, oldest first.
    compressing: VecDeque<(SimTime, Batch)>,
    /// When the compression threads are free again.
    cpu_free_at: SimTime,
    /// The bitmap walk wrapped at least once (XBZRLE starts after the first round).
    wrapped: bool,
    /// Pages still to send in this pass.
    to_send: DirtyBitmap,
    /// Where the bitmap walk continues.
    cursor: u64,
    /// The version of each page the destination holds (`u32::MAX`: none yet).
    dest: Vec<u32>,
    /// Batches sent and not delivered, by tag from `first_tag`.
    in_flight: VecDeque<Option<Batch>>,
    first_tag: u64,
    /// Emptied batches kept for their capacity.
    pool: Vec<Batch>,
    backlog: u64,
    phase: Phase,
    slot_start: SimTime,
    slot_sent: u64,
    slot_delivered: u64,
    /// Bytes/s delivered in the last whole slot.
    bandwidth: f64,
    /// Bytes sent since the last sync, for auto-converge.
    sent_since_sync: u64,
    high_dirty_syncs: u32,
    /// The device state has been sent (during stop-and-copy).
    device_sent: bool,
    stats: PrecopyStats,
}

impl Precopy {
    /// A migration of `mem`, dirtied by `dirtier`, with `device_state_bytes` of device
    /// state sent at the stop.
    pub fn new(
        opts: PrecopyOptions,
        mem: GuestMemory,
        dirtier: Dirtier,
        encoder: PageEncoder,
        device_state_bytes: u64,
    ) -> Precopy {
        let pages = mem.pages();
        assert!(pages <= u32::MAX as u64, "page numbers fit 32 bits");
        Precopy {
            to_send: DirtyBitmap::new(pages, true),
            dest: vec![u32::MAX; pages as usize],
            opts,
            mem,
            dirtier,
            encoder,
            device_state_bytes,
            compressing: VecDeque::new(),
            cpu_free_at: SimTime::ZERO,
            wrapped: false,
            cursor: 0,
            in_flight: VecDeque::new(),
            first_tag: 0,
            pool: Vec::new(),
            backlog: 0,
            phase: Phase::Idle,
            slot_start: SimTime::ZERO,
            slot_sent: 0,
            slot_delivered: 0,
            bandwidth: 0.0,
            sent_since_sync: 0,
            high_dirty_syncs: 0,
            device_sent: false,
            stats: PrecopyStats::default(),
        }
    }

    /// Changes the most bytes sent and not yet delivered (before the start).
    pub fn set_backlog(&mut self, bytes: u64) {
        self.opts.backlog_bytes = bytes.max(1);
    }

    /// Where the migration is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// What it measured so far.
    pub fn stats(&self) -> &PrecopyStats {
        &self.stats
    }

    /// The guest's memory (source side).
    pub fn memory(&self) -> &GuestMemory {
        &self.mem
    }

    /// The dirtying process.
    pub fn dirtier(&self) -> &Dirtier {
        &self.dirtier
    }

    /// Bytes still to send in this pass (the bitmap's pages at full size, as QEMU's
    /// estimate counts them).
    pub fn remaining_bytes(&self) -> u64 {
        self.to_send.count() * PAGE_SIZE as u64
    }

    /// Starts the migration now.
    pub fn start(&mut self, io: &mut impl MigrationIo) {
        let now = io.now();
        self.dirtier.resume(now);
        self.phase = Phase::Iterating;
        self.stats.started = now;
        self.slot_start = now;
        io.wake_at(now + self.opts.slot);
        self.pump(io);
    }

    /// A batch (or the device state) reached the destination.
    pub fn on_delivered(&mut self, io: &mut impl MigrationIo, tag: u64) {
        let Some(i) = tag.checked_sub(self.first_tag) else {
            return;
        };
        let Some(batch) = self.in_flight.get_mut(i as usize).and_then(Option::take) else {
            return;
        };
        self.backlog -= batch.bytes;
        self.slot_delivered += batch.bytes;
        apply_pages(&mut self.dest, &batch.pages, &mut self.stats);
        self.recycle(batch);
        while let Some(None) = self.in_flight.front() {
            self.in_flight.pop_front();
            self.first_tag += 1;
        }
        self.pump(io);
    }

    /// A wake asked for with [`MigrationIo::wake_at`] is due.
    pub fn on_wake(&mut self, io: &mut impl MigrationIo) {
        let now = io.now();
        self.release_compressed(io);
        match self.phase {
            Phase::Iterating if now >= self.slot_start + self.opts.slot => {
                self.end_slot(now);
                match self.phase {
                    Phase::Iterating => io.wake_at(now + self.opts.slot),
                    Phase::Stopped { copy_at, .. } => io.wake_at(copy_at),
                    _ => {}
                }
                self.pump(io);
            }
            Phase::Stopped { .. } => self.pump(io),
            Phase::Resuming { resume_at, .. } if now >= resume_at => self.finish(now),
            _ => {}
        }
    }

    /// A slot ended: measure, check the limits.
    fn end_slot(&mut self, now: SimTime) {
        let dt = now.since(self.slot_start).as_secs_f64();
        self.bandwidth = self.slot_delivered as f64 / dt.max(1e-12);
        self.slot_start = now;
        self.slot_sent = 0;
        self.slot_delivered = 0;
        self.dirtier.advance(now, &mut self.mem);
        self.stats.remaining.push((now, self.remaining_bytes()));
        let over_time = self
            .opts
            .time_limit
            .is_some_and(|t| now.since(self.stats.started) >= t);
        let over_passes = self
            .opts
            .max_iterations
            .is_some_and(|n| self.stats.passes >= n);
        if over_time || over_passes {
            match self.opts.on_limit {
                OnLimit::Abort => {
                    self.phase = Phase::Aborted;
                    self.dirtier.advance(now, &mut self.mem);
                }
                OnLimit::Force => self.stop(now),
            }
        }
    }

    /// Bytes the switchover rule allows to remain.
    fn threshold(&self) -> f64 {
        self.bandwidth * self.opts.downtime_limit.as_secs_f64()
    }

    /// Syncs the dirty log into the bitmap (one pass ends) and applies auto-converge.
    fn sync(&mut self, now: SimTime) {
        self.dirtier.advance(now, &mut self.mem);
        let found = self.mem.take_log_into(&mut self.to_send);
        self.stats.passes += 1;
        let dirty_bytes = found * PAGE_SIZE as u64;
        self.stats.dirty_bytes_per_pass.push(dirty_bytes);
        self.stats.remaining.push((now, self.remaining_bytes()));
        if let Some(ac) = self.opts.auto_converge {
            // QEMU's `migration_trigger_throttle`: dirtied more than `trigger` of what was
            // sent, at two syncs in a row.
            if dirty_bytes as f64 > self.sent_since_sync as f64 * ac.trigger {
                self.high_dirty_syncs += 1;
                if self.high_dirty_syncs >= 2 {
                    self.high_dirty_syncs = 0;
                    let t = self.dirtier.throttle();
                    let next = if t == 0.0 {
                        ac.initial
                    } else {
                        t + ac.increment
                    };
                    let next = next.min(ac.max);
                    self.dirtier.set_throttle(next);
                    self.stats.max_throttle = self.stats.max_throttle.max(next);
                }
            }
        }
        self.sent_since_sync = 0;
    }

    /// Whether pre-copy may stop now (after a sync).
    fn may_stop(&self) -> bool {
        let remaining = self.remaining_bytes() as f64;
        match self.opts.stop_rule {
            StopRule::Threshold => remaining <= self.threshold(),
            StopRule::DirtyFraction { fraction } => {
                let pages = self.mem.pages() as f64;
                (self.to_send.count() as f64) < fraction * pages
                    || (self.bandwidth > 0.0 && remaining <= self.threshold())
            }
        }
    }

    /// Stops the VM: no more dirtying; the final copy begins after the switchover cost.
    fn stop(&mut self, now: SimTime) {
        self.dirtier.advance(now, &mut self.mem);
        self.dirtier.pause();
        self.mem.take_log_into(&mut self.to_send);
        self.stats.stopped = Some(now);
        self.phase = Phase::Stopped {
            at: now,
            copy_at: now + self.opts.switchover,
        };
    }

    /// Sends what the phase, the rate limit and the backlog allow.
    fn pump(&mut self, io: &mut impl MigrationIo) {
        let now = io.now();
        match self.phase {
            Phase::Iterating => {
                self.dirtier.advance(now, &mut self.mem);
                loop {
                    let limit = self
                        .opts
                        .max_bandwidth
                        .map(|b| b * self.opts.slot.as_secs_f64());
                    if limit.is_some_and(|l| self.slot_sent as f64 >= l)
                        || self.backlog >= self.opts.backlog_bytes
                    {
                        return;
                    }
                    let pass_done = self.to_send.is_empty();
                    let below = self.remaining_bytes() as f64 <= self.threshold();
                    let sync_now = match self.opts.stop_rule {
                        StopRule::Threshold => pass_done || below,
                        StopRule::DirtyFraction { .. } => pass_done,
                    };
                    if sync_now {
                        self.sync(now);
                        if self.may_stop() {
                            self.stats.converged = true;
                            self.stop(now);
                            io.wake_at(now + self.opts.switchover);
                            // With no switchover cost the final copy starts at once.
                            self.pump(io);
                            return;
                        }
                        if self.to_send.is_empty() {
                            // Nothing dirtied yet: look again at the next slot.
                            return;
                        }
                    }
                    let budget = match limit {
                        Some(l) => (l - self.slot_sent as f64).max(1.0) as u64,
                        None => u64::MAX,
                    };
                    self.send_batch(io, budget.min(self.opts.batch_bytes), false);
                }
            }
            Phase::Stopped { copy_at, .. } if now >= copy_at => {
                // Not rate-limited: QEMU lifts max-bandwidth once the VM is stopped.
                while self.backlog < self.opts.backlog_bytes && !self.to_send.is_empty() {
                    self.send_batch(io, self.opts.batch_bytes, true);
                }
                if self.to_send.is_empty() && self.compressing.is_empty() && !self.device_sent {
                    self.device_sent = true;
                    let bytes = self.device_state_bytes.max(1);
                    self.stats.device_bytes += bytes;
                    let mut batch = self.pool.pop().unwrap_or_default();
                    batch.bytes = bytes;
                    self.dispatch(io, batch);
                }
                if self.device_sent && self.backlog == 0 {
                    let stopped = self.stats.stopped.unwrap_or(now);
                    let resume_at = now + self.opts.resume;
                    self.phase = Phase::Resuming { stopped, resume_at };
                    io.wake_at(resume_at);
                }
            }
            _ => {}
        }
    }

    /// Sends the next pages of the bitmap walk, up to `max_bytes` on the wire.
    fn send_batch(&mut self, io: &mut impl MigrationIo, max_bytes: u64, stopped: bool) {
        let mut batch = self.pool.pop().unwrap_or_default();
        let pages = self.mem.pages();
        let mut cpu = 0.0;
        while batch.bytes < max_bytes {
            let page = match self.to_send.next_set(self.cursor) {
                Some(p) => p,
                None => match self.to_send.next_set(0) {
                    Some(p) => p,
                    None => break,
                },
            };
            self.to_send.clear(page);
            if page + 1 == pages && !self.wrapped {
                self.wrapped = true;
                self.encoder.start_deltas();
            }
            self.cursor = if page + 1 == pages { 0 } else { page + 1 };
            let cost = self.encoder.encode(&self.mem, page);
            let wire = cost.wire;
            let kind_bytes = match cost.kind {
                PageKind::Zero => &mut self.stats.zero_page_bytes,
                PageKind::Full => &mut self.stats.full_page_bytes,
                PageKind::Dedup => &mut self.stats.dedup_bytes,
                PageKind::Compressed => &mut self.stats.compressed_bytes,
                PageKind::Delta => &mut self.stats.delta_bytes,
            };
            // Fractional means accumulate per batch; each kind's total is rounded per page.
            *kind_bytes += wire.round() as u64;
            cpu += cost.cpu_ns;
            let wire = wire.round() as u64;
            batch.bytes += wire;
            batch.pages.push((page as u32, self.mem.version(page)));
            self.stats.pages_sent += 1;
            if stopped {
                self.stats.final_pages += 1;
            }
        }
        if batch.pages.is_empty() {
            self.recycle(batch);
            return;
        }
        self.slot_sent += batch.bytes;
        self.sent_since_sync += batch.bytes;
        self.stats.cpu_ns += cpu;
        if cpu > 0.0 {
            // The compression threads take the batch when they are free.
            let now = io.now();
            let took = SimDuration((cpu / self.encoder.options().cores.max(1) as f64 * 1e3) as u64);
            let ready = self.cpu_free_at.max(now) + took;
            self.cpu_free_at = ready;
            self.backlog += batch.bytes;
            self.compressing.push_back((ready, batch));
            io.wake_at(ready);
            return;
        }
        self.dispatch(io, batch);
    }

    /// Sends the batches whose compression is done.
    fn release_compressed(&mut self, io: &mut impl MigrationIo) {
        let now = io.now();
        while self.compressing.front().is_some_and(|(t, _)| *t <= now) {
            let (_, batch) = self.compressing.pop_front().expect("checked");
            self.backlog -= batch.bytes;
            self.dispatch(io, batch);
        }
    }

    fn dispatch(&mut self, io: &mut impl MigrationIo, batch: Batch) {
        let tag = self.first_tag + self.in_flight.len() as u64;
        self.backlog += batch.bytes;
        io.send(batch.bytes, tag);
        self.in_flight.push_back(Some(batch));
    }

    fn recycle(&mut self, mut batch: Batch) {
        batch.pages.clear();
        batch.bytes = 0;
        self.pool.push(batch);
    }

    /// The VM runs on the destination: check that it holds every page's last version.
    fn finish(&mut self, now: SimTime) {
        self.phase = Phase::Done;
        self.stats.resumed = Some(now);
        let source = self.mem.state_digest();
        self.stats.consistent = Some(digest_versions(&self.dest) == source);
    }

    /// Ends this engine and hands its state to the one that takes over (a hybrid
    /// migration's post-copy, after its pre-copy passes): memory, dirtier, the bitmap of
    /// pages still to send (the dirty log not yet synced into it stays in the memory's
    /// log), where the walk was, the destination's versions, the batches still on the
    /// channel and the stats so far. Nothing is stopped or synced here: the VM is as the
    /// last call left it, and the taker decides.
    pub fn hand_over(self) -> Handover {
        Handover {
            memory: self.mem,
            dirtier: self.dirtier,
            to_send: self.to_send,
            cursor: self.cursor,
            dest: self.dest,
            in_flight: InFlight {
                batches: self.in_flight,
                first_tag: self.first_tag,
                bytes: self.backlog,
            },
            stats: self.stats,
        }
    }
}

/// Records the `(page, version)` pairs of a delivered batch in the destination's versions:
/// a version it already holds counts as redundant, an older one (a batch overtaken on
/// another stream) as stale and is dropped, any other replaces what it held.
fn apply_pages(dest: &mut [u32], pages: &[(u32, u32)], stats: &mut PrecopyStats) {
    for &(page, version) in pages {
        let held = &mut dest[page as usize];
        if *held == version {
            stats.redundant_pages += 1;
        } else if *held != u32::MAX && version.wrapping_sub(*held) > u32::MAX / 2 {
            stats.stale_arrivals += 1;
        } else {
            *held = version;
        }
    }
}

/// A pre-copy's state, handed to the engine that takes over ([`Precopy::hand_over`]).
pub struct Handover {
    /// The guest's memory, source side (versions and the dirty log).
    pub memory: GuestMemory,
    /// The dirtying process, running or throttled as pre-copy left it.
    pub dirtier: Dirtier,
    /// Pages not sent since their last synced write.
    pub to_send: DirtyBitmap,
    /// Where the bitmap walk would have continued.
    pub cursor: u64,
    /// The version of each page the destination holds (`u32::MAX`: none).
    pub dest: Vec<u32>,
    /// Batches on the channel, not yet delivered.
    pub in_flight: InFlight,
    /// What pre-copy measured.
    pub stats: PrecopyStats,
}

/// Pre-copy batches still on the channel when another engine took over; their deliveries
/// go to [`InFlight::deliver`].
#[derive(Debug)]
pub struct InFlight {
    batches: VecDeque<Option<Batch>>,
    first_tag: u64,
    bytes: u64,
}

impl InFlight {
    /// Whether every batch has been delivered.
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// Wire bytes still on the channel.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// One past the largest tag pre-copy used: tags from here on are the taker's.
    pub fn end_tag(&self) -> u64 {
        self.first_tag + self.batches.len() as u64
    }

    /// Batch `tag` was delivered: its pages go into `dest` as [`Precopy`] would record
    /// them (redundant and stale arrivals counted in `stats`). Returns its wire bytes, or
    /// `None` if `tag` is not one of these batches (or was delivered already).
    pub fn deliver(&mut self, tag: u64, dest: &mut [u32], stats: &mut PrecopyStats) -> Option<u64> {
        let i = tag.checked_sub(self.first_tag)?;
        let batch = self.batches.get_mut(i as usize).and_then(Option::take)?;
        self.bytes -= batch.bytes;
        apply_pages(dest, &batch.pages, stats);
        while let Some(None) = self.batches.front() {
            self.batches.pop_front();
            self.first_tag += 1;
        }
        Some(batch.bytes)
    }
}
