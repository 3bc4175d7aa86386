//! The future event set.
//!
//! Total order: `(time, seq)`, where `seq` is the insertion counter — events at equal times
//! pop in the order they were scheduled (FIFO), as OMNeT++ and dslab do. This is why the
//! `priority-queue` crate is not used here: it documents no order among equal priorities.
//!
//! Structure, chosen by measurement (`dwcp-sim bench`, hold model): a two-level calendar
//! queue in the spirit of the ladder queue (Tang, Goh, Thng, ACM TOMACS 2005). A ring of
//! coarse buckets, each 256 fine buckets wide, takes pushes by appending; when time reaches
//! a coarse bucket it is spread into the 256 fine buckets, and each fine bucket in turn is
//! sorted (stably, by time) into `near`, from which events pop in O(1). Pushes beyond the
//! ring go to an unsorted `far` list, pulled in as the ring reaches them. Every write is an
//! append to one of a few hundred "hot" buckets, which keeps 100 000 pending events cache
//! friendly. The widths retune themselves from the pending times (≈8 events per fine
//! bucket at the head) when the queue grows, a batch is too large, buckets run empty, or
//! the mean batch drifts more than 2x from the target.
//!
//! FIFO among equal times holds structurally: equal times always share a bucket, buckets
//! are appended to and spread in order, and the batch sort is stable.
//!
//! Cancellation is exact without a per-event flag: pops happen in increasing `(time, seq)`
//! order, so an id is still pending iff it is later than the last pop and not cancelled.
//! Cancelled keys wait in an ordered set; their entries are skipped when they surface, and
//! the keys are forgotten once a pop passes them. Nothing is scanned when none are cancelled.

use super::time::SimTime;
use std::collections::BTreeSet;

/// Popped entries at the front of the batch vector that are dropped when a push lands in it.
const COMPACT_AFTER: usize = 4096;

/// Identifies a scheduled event so it can be cancelled: its time and insertion number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    /// When the event is due.
    pub time: SimTime,
    /// Insertion number: breaks ties among equal times (FIFO).
    pub seq: u64,
}

#[derive(Clone, Copy)]
struct Entry<E> {
    time: u64,
    seq: u64,
    event: E,
}

const FINE_BITS: u32 = 8;
const FINE: usize = 1 << FINE_BITS;
/// Target events per fine bucket near the head (measured on the hold model: 8 beat 4, 16
/// and 32 at both 1000 and 100 000 pending events).
const PER_BUCKET: u64 = 8;
/// A sorted batch larger than this (with distinct times) means buckets are too wide.
const MAX_BATCH: usize = 128;
const MIN_COARSE: usize = 16;
/// Batches between the first checks of the mean batch size after a fresh tuning.
const DRIFT_INTERVAL: u64 = 1024;
const MAX_COARSE: usize = 1 << 16;

/// Pending events ordered by `(time, insertion seq)`. Events are `Copy`: they are small
/// closed enums of ids, moved by value through the buckets.
pub struct EventQueue<E: Copy> {
    /// Fine bucket width is `2^shift` ps; a coarse bucket is `2^(shift + 8)` ps.
    shift: u32,
    fine: Vec<Vec<Entry<E>>>,
    /// Absolute fine index of `fine[0]`, i.e. `cc << 8`.
    fine_base: u64,
    /// Next fine bucket to sort into `near`; `near` holds every fine index below it.
    cursor: usize,
    coarse: Vec<Vec<Entry<E>>>,
    coarse_mask: u64,
    /// Absolute index of the coarse bucket currently spread into `fine`.
    cc: u64,
    far: Vec<Entry<E>>,
    far_min_coarse: u64,
    /// The sorted head; entries before `head` are already popped.
    near: Vec<Entry<E>>,
    head: usize,
    in_fine: usize,
    in_coarse: usize,
    next_seq: u64,
    /// `(time, seq)` of the last pop: everything at or before it has left the queue.
    last: (u64, u64),
    /// Keys of cancelled events not yet passed by a pop.
    cancelled: BTreeSet<(u64, u64)>,
    /// How many of those are still stored (not yet skipped).
    cancelled_stored: usize,
    empty_scans: u64,
    batches: u64,
    /// Events in those batches.
    batch_events: u64,
    /// Batches between checks of the mean batch size; doubles after each drift retune so a
    /// shifting workload cannot make retunes (O(n) each) frequent.
    drift_interval: u64,
    /// Reused by `retune` for the entries it re-files.
    scratch: Vec<Entry<E>>,
    tuned_len: usize,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            shift: 10,
            fine: (0..FINE).map(|_| Vec::new()).collect(),
            fine_base: 0,
            cursor: 0,
            coarse: (0..MIN_COARSE).map(|_| Vec::new()).collect(),
            coarse_mask: MIN_COARSE as u64 - 1,
            cc: 0,
            far: Vec::new(),
            far_min_coarse: u64::MAX,
            near: Vec::new(),
            head: 0,
            in_fine: 0,
            in_coarse: 0,
            next_seq: 1, // 0 is never issued, so `last = (0, 0)` means "nothing popped yet"
            last: (0, 0),
            cancelled: BTreeSet::new(),
            cancelled_stored: 0,
            empty_scans: 0,
            batches: 0,
            batch_events: 0,
            drift_interval: DRIFT_INTERVAL,
            scratch: Vec::new(),
            tuned_len: 0,
        }
    }

    /// Entries physically stored, cancelled ones included.
    fn stored(&self) -> usize {
        self.near.len() - self.head + self.in_fine + self.in_coarse + self.far.len()
    }

    /// Pending (not cancelled) events.
    pub fn len(&self) -> usize {
        self.stored() - self.cancelled_stored
    }

    /// Whether no (non-cancelled) events are pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Schedules `event` at `time`, which must not precede the last popped event.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) -> EventId {
        debug_assert!(
            time.0 >= self.last.0,
            "event scheduled in the past: {} < {}",
            time,
            SimTime(self.last.0)
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        self.place(Entry {
            time: time.0,
            seq,
            event,
        });
        EventId { time, seq }
    }

    /// Files an entry where it belongs; order among equal times is append order.
    /// (Whether the widths still fit is checked once per batch, in `refill`, not here.)
    #[inline(always)]
    fn place(&mut self, e: Entry<E>) {
        let f = e.time >> self.shift;
        if f < self.fine_base.saturating_add(self.cursor as u64) {
            // Inside the batch being popped: sorted insert after equal times.
            if self.head == self.near.len() {
                self.near.clear();
                self.head = 0;
            } else if self.head >= COMPACT_AFTER && 2 * self.head >= self.near.len() {
                // A batch that keeps being fed while it is popped (events scheduled a few ns
                // ahead on a fast fabric) would otherwise keep every popped entry: drop the
                // popped prefix once it is most of the vector (amortized O(1) per event).
                self.near.drain(..self.head);
                self.head = 0;
            }
            let pos = self.head + self.near[self.head..].partition_point(|x| x.time <= e.time);
            if pos == self.near.len() {
                self.near.push(e);
            } else {
                self.near.insert(pos, e);
            }
            return;
        }
        let c = f >> FINE_BITS;
        if c == self.cc {
            self.fine[(f as usize) & (FINE - 1)].push(e);
            self.in_fine += 1;
        } else if c - self.cc <= self.coarse_mask {
            self.coarse[(c & self.coarse_mask) as usize].push(e);
            self.in_coarse += 1;
        } else {
            self.far.push(e);
            self.far_min_coarse = self.far_min_coarse.min(c);
        }
    }

    /// Cancels a pending event; false if it already ran, was cancelled or was never issued.
    pub fn cancel(&mut self, id: EventId) -> bool {
        let key = (id.time.0, id.seq);
        let already_popped = key <= self.last;
        if id.seq == 0 || id.seq >= self.next_seq || already_popped || !self.cancelled.insert(key) {
            return false;
        }
        self.cancelled_stored += 1;
        true
    }

    /// Skips cancelled entries at the front of `near`, refilling as needed; false if empty.
    #[inline]
    fn settle_front(&mut self) -> bool {
        loop {
            if self.head == self.near.len() && !self.refill() {
                return false;
            }
            if self.cancelled_stored == 0 {
                return true;
            }
            let e = &self.near[self.head];
            if !self.cancelled.contains(&(e.time, e.seq)) {
                return true;
            }
            self.head += 1;
            self.cancelled_stored -= 1;
        }
    }

    /// Removes and returns the earliest live event.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, EventId, E)> {
        // Fast path: no cancellations outstanding, so the front entry is live.
        let has_cancellations = !self.cancelled.is_empty();
        if has_cancellations {
            if !self.settle_front() {
                return None;
            }
        } else if self.head == self.near.len() && !self.refill() {
            return None;
        }
        let e = self.near[self.head];
        self.head += 1;
        self.last = (e.time, e.seq);
        if has_cancellations {
            // Forget cancelled keys this pop has passed (their entries were skipped).
            while self.cancelled.first().is_some_and(|k| *k < self.last) {
                self.cancelled.pop_first();
            }
        }
        let id = EventId {
            time: SimTime(e.time),
            seq: e.seq,
        };
        Some((id.time, id, e.event))
    }

    /// Time of the earliest live event.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.settle_front()
            .then(|| SimTime(self.near[self.head].time))
    }

    /// Sorts the next non-empty fine bucket into `near`; false when nothing is left.
    #[cold]
    fn refill(&mut self) -> bool {
        self.near.clear();
        self.head = 0;
        let stored = self.stored();
        if stored > 4 * self.tuned_len + 256 || (self.far.len() > 64 && 2 * self.far.len() > stored)
        {
            self.drift_interval = DRIFT_INTERVAL;
            self.retune(None); // grown a lot, or most entries lie beyond the ring
        }
        loop {
            while self.cursor < FINE {
                let i = self.cursor;
                self.cursor += 1;
                if self.fine[i].is_empty() {
                    self.empty_scans += 1;
                    continue;
                }
                std::mem::swap(&mut self.near, &mut self.fine[i]);
                self.in_fine -= self.near.len();
                self.batches += 1;
                sort_by_time(&mut self.near);
                let n = self.near.len();
                self.batch_events += n as u64;
                let too_wide =
                    n > MAX_BATCH && self.near[0].time != self.near[n - 1].time && self.shift > 0;
                let too_narrow = self.empty_scans > 32 * self.batches + 65_536;
                // Now and then, check the mean batch against the target: the pending times
                // may have drifted from what the last retune saw. Correct the width by the
                // measured ratio directly.
                let drift_shift = if self.batches.is_multiple_of(self.drift_interval) {
                    let mean = self.batch_events as f64 / self.batches as f64;
                    let off_by = (PER_BUCKET as f64 / mean.max(0.125)).log2().round() as i32;
                    (off_by != 0
                        && (mean * 2.0 < PER_BUCKET as f64 || mean > 2.0 * PER_BUCKET as f64))
                        .then(|| (self.shift as i32 + off_by).clamp(0, 40) as u32)
                } else {
                    None
                };
                if too_wide || too_narrow {
                    self.retune(None);
                    return self.refill();
                }
                if let Some(shift) = drift_shift {
                    self.drift_interval = (self.drift_interval * 2).min(1 << 20);
                    self.retune(Some(shift));
                    return self.refill();
                }
                return true;
            }
            if self.in_coarse == 0 && self.far.is_empty() {
                return false;
            }
            self.cc = if self.in_coarse == 0 {
                self.far_min_coarse
            } else {
                self.cc + 1
            };
            if !self.far.is_empty()
                && self.far_min_coarse <= self.cc.saturating_add(self.coarse_mask)
            {
                self.pull_far();
            }
            let slot = (self.cc & self.coarse_mask) as usize;
            self.fine_base = self.cc << FINE_BITS;
            self.cursor = 0;
            let mut bucket = std::mem::take(&mut self.coarse[slot]);
            self.in_coarse -= bucket.len();
            self.in_fine += bucket.len();
            for e in bucket.drain(..) {
                self.fine[((e.time >> self.shift) as usize) & (FINE - 1)].push(e);
            }
            self.coarse[slot] = bucket; // keep its allocation
        }
    }

    /// Moves the far entries that the ring now covers into their coarse buckets.
    fn pull_far(&mut self) {
        let far = std::mem::take(&mut self.far);
        self.far_min_coarse = u64::MAX;
        for e in far {
            let c = e.time >> (self.shift + FINE_BITS);
            if c - self.cc <= self.coarse_mask {
                self.coarse[(c & self.coarse_mask) as usize].push(e);
                self.in_coarse += 1;
            } else {
                self.far_min_coarse = self.far_min_coarse.min(c);
                self.far.push(e);
            }
        }
    }

    /// Refits the widths to the pending times: fine buckets `2^shift` ps wide (given, or
    /// estimated for about `PER_BUCKET` events each from the 64 earliest), and a ring
    /// spanning all pending times (up to `MAX_COARSE` buckets). O(n), and rare: on growth,
    /// when batches come out too large or buckets too empty, or on drift (backed off).
    fn retune(&mut self, shift: Option<u32>) {
        let mut all = std::mem::take(&mut self.scratch);
        all.extend_from_slice(&self.near[self.head..]);
        for b in &mut self.fine {
            all.append(b);
        }
        for b in &mut self.coarse {
            all.append(b);
        }
        all.append(&mut self.far);
        self.near.clear();
        self.head = 0;
        self.in_fine = 0;
        self.in_coarse = 0;
        self.far_min_coarse = u64::MAX;
        self.empty_scans = 0;
        self.batches = 0;
        self.batch_events = 0;
        self.tuned_len = all.len();
        let (Some(lo), Some(hi)) = (
            all.iter().map(|e| e.time).min(),
            all.iter().map(|e| e.time).max(),
        ) else {
            self.scratch = all;
            return;
        };
        self.shift = shift.unwrap_or_else(|| {
            let mut times: Vec<u64> = all.iter().map(|e| e.time).collect();
            let k = times.len().min(64);
            let kth = *times.select_nth_unstable(k - 1).1;
            let width = ((kth - lo) as u128 * PER_BUCKET as u128 / k as u128).clamp(1, 1 << 40);
            63 - (width as u64).leading_zeros()
        });
        let coarse_width = 1u64 << (self.shift + FINE_BITS);
        let span = (hi - lo) / coarse_width + 2;
        let slots = span
            .next_power_of_two()
            .clamp(MIN_COARSE as u64, MAX_COARSE as u64) as usize;
        if slots != self.coarse.len() {
            self.coarse = (0..slots).map(|_| Vec::new()).collect();
        }
        self.coarse_mask = slots as u64 - 1;
        self.cc = lo >> (self.shift + FINE_BITS);
        self.fine_base = self.cc << FINE_BITS;
        self.cursor = 0;
        // Each time value lives in exactly one structure, in seq order, and `all` keeps that
        // order, so re-filing preserves FIFO among equal times.
        for e in all.drain(..) {
            self.place(e);
        }
        self.scratch = all;
    }
}

/// Stable sort by time: bucket order is already seq order among equal times.
#[inline]
fn sort_by_time<E: Copy>(v: &mut [Entry<E>]) {
    if v.len() <= 32 {
        for i in 1..v.len() {
            let x = v[i];
            let mut j = i;
            while j > 0 && v[j - 1].time > x.time {
                v[j] = v[j - 1];
                j -= 1;
            }
            v[j] = x;
        }
    } else {
        v.sort_by_key(|e| e.time);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::splitmix64;
    use std::collections::BTreeMap;

    #[test]
    fn equal_times_pop_in_insertion_order() {
        let mut q = EventQueue::new();
        for i in 0..100u32 {
            q.push(SimTime(7), i);
        }
        q.push(SimTime(3), 1000);
        assert_eq!(q.pop().unwrap().2, 1000);
        for i in 0..100u32 {
            assert_eq!(q.pop().unwrap().2, i, "FIFO among equal times");
        }
        assert!(q.pop().is_none());
    }

    #[test]
    fn a_batch_fed_while_popped_keeps_only_pending_entries() {
        // A fast fabric: every pop schedules the next event within the same bucket (here at
        // the same time), so new events keep landing inside the batch being popped. The popped prefix must not accumulate
        // (before the fix the batch vector held every popped entry: 1 M here).
        let mut q = EventQueue::new();
        for i in 0..8 {
            q.push(SimTime(i), 0u32);
        }
        let mut longest = 0;
        for _ in 0..1_000_000 {
            let (t, _, e) = q.pop().unwrap();
            q.push(t, e + 1);
            longest = longest.max(q.near.len());
        }
        assert_eq!(q.len(), 8, "eight events stay pending throughout");
        // At most the compaction threshold twice over, plus what is pending.
        assert!(
            longest <= 2 * 4096 + 16,
            "the batch vector grew to {longest} entries"
        );
    }

    #[test]
    fn cancelled_events_never_pop() {
        let mut q = EventQueue::new();
        let a = q.push(SimTime(1), 'a');
        q.push(SimTime(2), 'b');
        assert!(q.cancel(a));
        assert!(!q.cancel(a), "second cancel is a no-op");
        assert_eq!(q.pop().unwrap().2, 'b');
        assert!(q.pop().is_none());
    }

    fn assert_drained<E: Copy>(q: &EventQueue<E>) {
        assert!(q.is_empty());
        assert_eq!(q.len(), 0);
        assert_eq!(q.cancelled_stored, 0, "no tombstone left behind");
        // Keys of cancelled events skipped after the last pop are kept (so cancelling them
        // again still says false) until the next pop passes them; nothing older remains.
        assert!(q.cancelled.iter().all(|k| *k > q.last));
        assert_eq!(q.stored(), 0);
    }

    fn never_issued(seq: u64) -> EventId {
        EventId {
            time: SimTime(u64::MAX),
            seq,
        }
    }

    #[test]
    fn empty_queue() {
        let mut q: EventQueue<u8> = EventQueue::default();
        assert!(q.is_empty());
        assert_eq!(q.len(), 0);
        assert_eq!(q.peek_time(), None);
        assert!(q.pop().is_none());
        assert!(!q.cancel(never_issued(0)), "never issued");
        let id = q.push(SimTime(5), 1);
        assert_eq!(q.peek_time(), Some(SimTime(5)));
        assert_eq!(q.pop(), Some((SimTime(5), id, 1)));
        assert!(q.pop().is_none());
        assert_eq!(q.peek_time(), None);
        assert!(!q.cancel(never_issued(7)), "never issued");
        assert_drained(&q);
    }

    #[test]
    fn cancel_semantics_and_no_leak() {
        let mut q = EventQueue::new();
        let ids: Vec<EventId> = (0..5000u64)
            .map(|i| q.push(SimTime(i / 3 * 1_000), i))
            .collect();
        let (t, first, _) = q.pop().unwrap();
        assert_eq!((t, first), (SimTime(0), ids[0]));
        assert!(!q.cancel(first), "already popped");
        for id in ids.iter().skip(1).step_by(2) {
            assert!(q.cancel(*id));
            assert!(!q.cancel(*id), "double cancel");
        }
        // Cancelling the front keeps peek_time exact.
        assert_eq!(q.peek_time(), Some(SimTime(0)));
        assert!(q.cancel(ids[2]));
        assert_eq!(q.peek_time(), Some(SimTime(1_000)));
        let mut popped = 0;
        while let Some((_, id, e)) = q.pop() {
            assert_eq!(id.seq, e + 1);
            assert!(e % 2 == 0 && id != ids[2]);
            assert!(!q.cancel(id), "already popped");
            popped += 1;
        }
        assert_eq!(popped, 2500 - 2);
        assert_drained(&q);
        assert!(!q.cancel(ids[4999]));
    }

    #[test]
    fn large_times() {
        let mut q = EventQueue::new();
        let big = 1u64 << 62;
        let times = [
            big + 5,
            3,
            big,
            big - 1,
            1 << 40,
            big + 5,
            u64::MAX / 2,
            big,
            3,
            u64::MAX,
        ];
        for (i, &t) in times.iter().enumerate() {
            q.push(SimTime(t), i);
        }
        let mut expect: Vec<(u64, usize)> = times.iter().copied().zip(0..).collect();
        expect.sort();
        for &(t, i) in &expect {
            assert_eq!(q.pop().map(|(t, _, e)| (t.0, e)), Some((t, i)));
        }
        assert_drained(&q);
        q.push(SimTime(u64::MAX), 99);
        q.push(SimTime(u64::MAX), 100);
        assert_eq!(q.pop().unwrap().2, 99);
        assert_eq!(q.pop().unwrap().2, 100);
    }

    #[test]
    fn far_future_timers_and_fine_grained_traffic_coexist() {
        // A timer 2^50 ps out, 200k events 1 ps apart, then thousands of timers spread over
        // seconds: the width retunes and the far list is pulled in as time reaches it.
        let mut q = EventQueue::new();
        let timer = q.push(SimTime(1 << 50), u64::MAX);
        q.push(SimTime(0), 0);
        for i in 1..200_000u64 {
            let (t, _, _) = q.pop().unwrap();
            q.push(SimTime(t.0 + 1), i);
        }
        assert!(q.cancel(timer));
        assert!(!q.cancel(timer));
        let (t0, _, e) = q.pop().unwrap();
        assert_eq!(e, 199_999);
        for k in 0..5_000u64 {
            q.push(SimTime(t0.0 + (k * 7_919 % 5_000) * 1_000_000_000), k);
        }
        let mut last = t0;
        for _ in 0..5_000 {
            let (t, _, _) = q.pop().unwrap();
            assert!(t >= last);
            last = t;
        }
        assert!(q.pop().is_none());
        assert_drained(&q);
    }

    #[test]
    fn never_events_at_the_end_of_time_with_picosecond_buckets() {
        // Dense 1 ps traffic drives the fine width to 1 ps while saturated "never" events
        // sit at u64::MAX: bucket arithmetic near the top of the range must not wrap.
        let mut q = EventQueue::new();
        q.push(SimTime(u64::MAX), 1u64);
        q.push(SimTime(u64::MAX - 3), 2);
        for i in 0..50_000u64 {
            q.push(SimTime(i), 10 + i);
        }
        for i in 0..50_000u64 {
            assert_eq!(q.pop().unwrap().2, 10 + i);
        }
        assert_eq!(q.pop().unwrap().2, 2);
        q.push(SimTime(u64::MAX - 1), 3);
        assert_eq!(q.pop().unwrap().2, 3);
        assert_eq!(q.pop().unwrap().2, 1);
        assert!(q.pop().is_none());
    }

    #[test]
    fn retunes_follow_a_changing_density_and_keep_order() {
        // Hold model whose increments jump from ~1 ns to ~10 µs and back: the widths must
        // follow (drift retunes) while pops stay in (time, seq) order.
        let mut q = EventQueue::new();
        let mut rng = 99u64;
        for i in 0..5_000u64 {
            q.push(SimTime(splitmix64(&mut rng) % 1_000_000), i);
        }
        let mut last = (0u64, 0u64);
        let mut shifts = Vec::new();
        for step in 0..300_000u64 {
            if step % 100_000 == 99_999 {
                shifts.push(q.shift);
            }
            let (t, id, _) = q.pop().unwrap();
            assert!((t.0, id.seq) > last, "order at step {step}");
            last = (t.0, id.seq);
            let scale = if (step / 100_000) % 2 == 1 {
                10_000_000
            } else {
                1_000
            };
            q.push(SimTime(t.0 + splitmix64(&mut rng) % scale), step);
        }
        assert_eq!(q.len(), 5_000);
        // Fine buckets widen by orders of magnitude in the sparse phase and narrow again
        // after it (measured: 2^3, 2^13, 2^5 ps).
        assert!(
            shifts[1] > shifts[0] + 6 && shifts[2] + 6 < shifts[1],
            "{shifts:?}"
        );
    }

    /// Random pushes (many equal times, near and far, bursts), pops and cancels against a
    /// sorted reference; pop order, peek_time and len must agree at every step.
    #[test]
    fn matches_reference_model() {
        let mut rng = 0x1234_5678u64;
        let mut q = EventQueue::new();
        let mut reference: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        let mut time_of: Vec<u64> = Vec::new(); // by seq
        let mut now = 0u64;
        let mut pops = 0;
        for step in 0..100_000u64 {
            let r = splitmix64(&mut rng);
            let burst = (step / 5_000) % 4 == 3; // phases of near-future bursts (spills)
            match r % 16 {
                0..=6 => {
                    let delta = match (r >> 8) % 8 {
                        0 | 1 => 0,
                        2 => (r >> 16) % 4,
                        3 => (r >> 16) % 300,
                        4 => (r >> 16) % 70_000,
                        5 => (r >> 16) % 20_000_000,
                        6 => (r >> 16) % (1 << 40),
                        _ => ((r >> 16) % 50) * 1_000,
                    };
                    let t = now + if burst { (r >> 16) % 500 } else { delta };
                    let id = q.push(SimTime(t), step);
                    assert_eq!(id.seq, time_of.len() as u64 + 1, "seqs count from 1");
                    time_of.push(t);
                    reference.insert((t, id.seq), step);
                }
                7..=8 if !time_of.is_empty() => {
                    // Mostly recent ids; some popped, some cancelled already.
                    let back = (r >> 8) % (time_of.len() as u64).min(2_000);
                    let seq = time_of.len() as u64 - back;
                    let time = time_of[seq as usize - 1];
                    let expected = reference.remove(&(time, seq)).is_some();
                    let id = EventId {
                        time: SimTime(time),
                        seq,
                    };
                    assert_eq!(q.cancel(id), expected, "cancel {seq}");
                }
                _ if burst && r % 16 < 12 => {}
                _ => {
                    let expected = reference.pop_first();
                    let got = q.pop();
                    assert_eq!(
                        got.map(|(t, id, e)| ((t.0, id.seq), e)),
                        expected,
                        "pop #{pops} at step {step}"
                    );
                    if let Some(((t, _), _)) = expected {
                        now = t;
                    }
                    pops += 1;
                }
            }
            assert_eq!(
                q.peek_time().map(|t| t.0),
                reference.keys().next().map(|k| k.0)
            );
            assert_eq!(q.len(), reference.len());
        }
        while let Some(expected) = reference.pop_first() {
            assert_eq!(q.pop().map(|(t, id, e)| ((t.0, id.seq), e)), Some(expected));
        }
        assert!(q.pop().is_none());
        assert_drained(&q);
    }
}
