//! The future event set.
//!
//! Total order: `(time, seq)`, where `seq` is the insertion counter — events at equal times
//! pop in the order they were scheduled (FIFO), as OMNeT++ and dslab do.
//!
//! Structure (chosen by measurement, see `hold_bench`): a monotone radix heap with 8-bit
//! digits for the future, feeding a small sorted run (`near`) from which events pop in O(1).
//! Time never goes backwards, so a key is bucketed by the highest digit in which it differs
//! from `base`; the first non-empty bucket holds the earliest keys. When `near` runs dry, that
//! bucket is split by the next digit until it holds at most `NEAR_BATCH` entries (or one exact
//! time), then sorted into `near`. An entry is thus moved a few times, compared only inside
//! small batches, and equal times never need a seq comparison to stay FIFO: they always share
//! a bucket, and buckets are appended to and split in order.
//!
//! Cancellation clears the id's bit in a seq-indexed bitmap (`LiveSet`); the entry stays as a
//! tombstone until it reaches the front of `near` or a purge drops it. The front of `near` is
//! always live, so `peek_time` is exact.

use super::time::SimTime;
use std::collections::{HashMap, VecDeque};

/// Identifies a scheduled event so it can be cancelled; it is the event's insertion number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub u64);

const DIGIT_BITS: u32 = 8;
const FANOUT: usize = 1 << DIGIT_BITS;
const MASK: u64 = FANOUT as u64 - 1;
const LEVELS: usize = 64usize.div_ceil(DIGIT_BITS as usize);
const WORDS: usize = FANOUT.div_ceil(64);
/// Largest bucket sorted into `near` without splitting it further.
const NEAR_BATCH: usize = 256;
/// `near` length beyond which pushes into it spill its later half back to the buckets, so a
/// burst of near-future pushes cannot make sorted insertion quadratic.
const NEAR_SPILL: usize = 1024;
/// Tombstones tolerated before a purge is considered (purge when also more than live ones).
const PURGE_MIN: usize = 1024;

struct Entry<E> {
    time: u64,
    seq: u64,
    event: E,
}

/// Which seqs are pending (pushed, not popped, not cancelled), as a bitmap over the recent seq
/// window; words of long-lived events are moved to a lookup-only map so memory stays
/// proportional to the pending count, not to the age of the oldest event.
struct LiveSet {
    words: VecDeque<u64>,
    first_word: u64,
    far: HashMap<u64, u64>,
    count: usize,
    next_seq: u64,
}

impl LiveSet {
    fn new() -> Self {
        LiveSet {
            words: VecDeque::new(),
            first_word: 0,
            far: HashMap::new(),
            count: 0,
            next_seq: 0,
        }
    }

    /// Marks the next seq live and returns it.
    #[inline]
    fn insert_next(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.count += 1;
        let w = seq >> 6;
        if w - self.first_word == self.words.len() as u64 {
            self.words.push_back(0);
            // Drop dead words at the front (keeping the one just added), and bound the window
            // to the pending count by moving old words with a long-lived event to `far`.
            while self.words.len() > 1
                && (self.words.front() == Some(&0) || self.words.len() > 1024 + self.count)
            {
                let old = self.words.pop_front().unwrap_or(0);
                if old != 0 {
                    self.far.insert(self.first_word, old);
                }
                self.first_word += 1;
            }
        }
        if let Some(last) = self.words.back_mut() {
            *last |= 1 << (seq & 63);
        }
        seq
    }

    #[inline]
    fn contains(&self, seq: u64) -> bool {
        let w = seq >> 6;
        let bit = 1u64 << (seq & 63);
        if w >= self.first_word {
            match self.words.get((w - self.first_word) as usize) {
                Some(word) => word & bit != 0,
                None => false,
            }
        } else {
            self.far.get(&w).is_some_and(|word| word & bit != 0)
        }
    }

    /// Clears `seq`; true if it was live.
    #[inline]
    fn remove(&mut self, seq: u64) -> bool {
        let w = seq >> 6;
        let bit = 1u64 << (seq & 63);
        if w >= self.first_word {
            let Some(word) = self.words.get_mut((w - self.first_word) as usize) else {
                return false;
            };
            if *word & bit == 0 {
                return false;
            }
            *word &= !bit;
            if w == self.first_word && *word == 0 {
                // Trim fully dead words at the front; the last word may still gain bits.
                while self.words.len() > 1 && self.words.front() == Some(&0) {
                    self.words.pop_front();
                    self.first_word += 1;
                }
            }
        } else {
            let Some(word) = self.far.get_mut(&w) else {
                return false;
            };
            if *word & bit == 0 {
                return false;
            }
            *word &= !bit;
            if *word == 0 {
                self.far.remove(&w);
            }
        }
        self.count -= 1;
        true
    }
}

/// Pending events ordered by `(time, insertion seq)`.
pub struct EventQueue<E> {
    /// Entries with `time < floor`, sorted by `(time, seq)`; its front is live.
    near: VecDeque<Entry<E>>,
    floor: u64,
    /// Radix origin, `<= floor` and `<=` every later push.
    base: u64,
    /// `level * FANOUT + digit`; each in insertion order, so equal times stay FIFO.
    buckets: Vec<Vec<Entry<E>>>,
    /// Non-empty buckets per level, and non-empty levels, to find the first in O(1).
    occupied: [[u64; WORDS]; LEVELS],
    levels: u32,
    /// Emptied bucket allocations, reused most-recent-first so the memory stays in cache.
    spare: [Vec<Vec<Entry<E>>>; LEVELS],
    live: LiveSet,
    /// Cancelled entries still stored.
    tombstones: usize,
    last_popped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            near: VecDeque::new(),
            floor: 0,
            base: 0,
            buckets: (0..LEVELS * FANOUT).map(|_| Vec::new()).collect(),
            occupied: [[0; WORDS]; LEVELS],
            levels: 0,
            spare: std::array::from_fn(|_| Vec::new()),
            live: LiveSet::new(),
            tombstones: 0,
            last_popped: 0,
        }
    }

    /// Schedules `event` at `time`, which must not precede the last popped event.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) -> EventId {
        debug_assert!(
            time.0 >= self.last_popped,
            "event scheduled in the past: {} < {}",
            time,
            SimTime(self.last_popped)
        );
        let seq = self.live.insert_next();
        let entry = Entry {
            time: time.0,
            seq,
            event,
        };
        if time.0 >= self.floor {
            self.store(entry);
            if self.near.is_empty() {
                self.refill();
            }
        } else {
            self.insert_near(entry);
        }
        EventId(seq)
    }

    /// Cancels a pending event; returns false if it already ran, was cancelled or never existed.
    pub fn cancel(&mut self, id: EventId) -> bool {
        if !self.live.remove(id.0) {
            return false;
        }
        self.tombstones += 1;
        if self.tombstones > PURGE_MIN && self.tombstones > self.live.count {
            self.purge();
        } else if self.near.front().is_some_and(|e| e.seq == id.0) {
            self.settle();
        }
        true
    }

    /// Removes and returns the earliest live event.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, EventId, E)> {
        let entry = self.near.pop_front()?;
        let was_live = self.live.remove(entry.seq);
        debug_assert!(was_live, "front of near is live");
        self.last_popped = entry.time;
        self.settle();
        Some((SimTime(entry.time), EventId(entry.seq), entry.event))
    }

    /// Time of the earliest pending (live) event.
    #[inline]
    pub fn peek_time(&self) -> Option<SimTime> {
        self.near.front().map(|e| SimTime(e.time))
    }

    /// Pending events, not counting cancelled ones.
    #[inline]
    pub fn len(&self) -> usize {
        self.live.count
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.near.is_empty()
    }

    /// Drops dead entries at the front of `near`, refilling it from the buckets as needed.
    #[inline]
    fn settle(&mut self) {
        loop {
            match self.near.front() {
                None => {
                    if !self.refill() {
                        return;
                    }
                }
                Some(e) => {
                    if self.tombstones == 0 || self.live.contains(e.seq) {
                        return;
                    }
                    self.near.pop_front();
                    self.tombstones -= 1;
                }
            }
        }
    }

    /// Moves the earliest bucket into the empty `near`, splitting it first while it is large.
    /// False if there is nothing left.
    fn refill(&mut self) -> bool {
        debug_assert!(self.near.is_empty());
        loop {
            let Some((level, digit)) = self.first_bucket() else {
                return false;
            };
            let shift = level as u32 * DIGIT_BITS;
            let width = 1u64 << shift;
            let lo = (self.base & !(width << DIGIT_BITS).wrapping_sub(1)) | (digit as u64) << shift;
            let mut items = std::mem::take(&mut self.buckets[level * FANOUT + digit]);
            self.clear_bit(level, digit);
            if level == 0 || items.len() <= NEAR_BATCH {
                self.floor = lo.saturating_add(width);
                self.near.extend(items.drain(..));
                if level > 0 {
                    // Stable: equal times are already in seq order within a bucket.
                    self.near.make_contiguous().sort_by_key(|e| e.time);
                }
                self.spare[level].push(items);
                return true;
            }
            // Re-base at the bucket's start: every stored key is >= lo, and any later push
            // below `floor = lo` goes to `near`, so the radix invariant holds.
            self.base = lo;
            self.floor = lo;
            for e in items.drain(..) {
                self.store(e);
            }
            self.spare[level].push(items);
        }
    }

    /// Inserts below `floor` keeping `near` sorted; near-term and same-time pushes land
    /// at an end and are cheap.
    fn insert_near(&mut self, entry: Entry<E>) {
        let key = (entry.time, entry.seq);
        let at = self.near.partition_point(|e| (e.time, e.seq) < key);
        self.near.insert(at, entry);
        if self.near.len() > NEAR_SPILL {
            self.spill();
        }
    }

    /// Moves the later part of `near` back to the buckets, splitting between distinct times
    /// and never below `base` (the buckets cannot hold keys below it).
    fn spill(&mut self) {
        let first = self.near[0].time;
        let mut split = self.near[self.near.len() / 2].time.max(self.base);
        if split <= first {
            // The front time fills the lower half: split just after it.
            let after = self.near.partition_point(|e| e.time <= first);
            match self.near.get(after) {
                Some(e) => split = e.time.max(self.base),
                None => return, // all one time: pushes go to the back, already cheap
            }
        }
        let at = self.near.partition_point(|e| e.time < split);
        if at == self.near.len() {
            return;
        }
        for e in self.near.split_off(at) {
            self.store(e);
        }
        self.floor = split;
    }

    /// Appends `e` to the bucket for its key relative to `base`.
    #[inline]
    fn store(&mut self, e: Entry<E>) {
        debug_assert!(e.time >= self.base);
        let x = (e.time ^ self.base) | 1;
        let level = ((63 - x.leading_zeros()) / DIGIT_BITS) as usize;
        let digit = ((e.time >> (level as u32 * DIGIT_BITS)) & MASK) as usize;
        self.occupied[level][digit >> 6] |= 1 << (digit & 63);
        self.levels |= 1 << level;
        let bucket = &mut self.buckets[level * FANOUT + digit];
        if bucket.capacity() == 0 {
            if let Some(v) = self.spare[level].pop() {
                *bucket = v;
            }
        }
        bucket.push(e);
    }

    #[inline]
    fn clear_bit(&mut self, level: usize, digit: usize) {
        let words = &mut self.occupied[level];
        words[digit >> 6] &= !(1 << (digit & 63));
        if words.iter().all(|&w| w == 0) {
            self.levels &= !(1 << level);
        }
    }

    /// The lowest non-empty bucket: all its keys precede those of every other bucket.
    #[inline]
    fn first_bucket(&self) -> Option<(usize, usize)> {
        if self.levels == 0 {
            return None;
        }
        let level = self.levels.trailing_zeros() as usize;
        let words = &self.occupied[level];
        let w = words.iter().position(|&w| w != 0)?;
        Some((level, w * 64 + words[w].trailing_zeros() as usize))
    }

    /// Drops every tombstone (when they outnumber live entries), keeping all orders.
    fn purge(&mut self) {
        let live = &self.live;
        self.near.retain(|e| live.contains(e.seq));
        for level in 0..LEVELS {
            for w in 0..WORDS {
                let mut bits = self.occupied[level][w];
                while bits != 0 {
                    let digit = w * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let bucket = &mut self.buckets[level * FANOUT + digit];
                    bucket.retain(|e| live.contains(e.seq));
                    if bucket.is_empty() {
                        self.occupied[level][w] &= !(1 << (digit & 63));
                    }
                }
            }
            if self.occupied[level].iter().all(|&w| w == 0) {
                self.levels &= !(1 << level);
            }
        }
        self.tombstones = 0;
        self.settle();
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
    fn cancelled_events_never_pop() {
        let mut q = EventQueue::new();
        let a = q.push(SimTime(1), 'a');
        q.push(SimTime(2), 'b');
        assert!(q.cancel(a));
        assert!(!q.cancel(a), "second cancel is a no-op");
        assert_eq!(q.pop().unwrap().2, 'b');
        assert!(q.pop().is_none());
    }

    /// Entries physically stored (live or tombstones).
    fn stored<E>(q: &EventQueue<E>) -> usize {
        q.near.len() + q.buckets.iter().map(Vec::len).sum::<usize>()
    }

    fn assert_drained<E>(q: &EventQueue<E>) {
        assert!(q.is_empty());
        assert_eq!(q.len(), 0);
        assert_eq!(q.tombstones, 0, "no tombstone left behind");
        assert_eq!(stored(q), 0);
        assert!(q.live.far.is_empty());
        assert!(q.live.words.len() <= 1);
    }

    #[test]
    fn empty_queue() {
        let mut q: EventQueue<u8> = EventQueue::default();
        assert!(q.is_empty());
        assert_eq!(q.len(), 0);
        assert_eq!(q.peek_time(), None);
        assert!(q.pop().is_none());
        assert!(!q.cancel(EventId(0)), "never issued");
        let id = q.push(SimTime(5), 1);
        assert_eq!(q.peek_time(), Some(SimTime(5)));
        assert_eq!(q.pop(), Some((SimTime(5), id, 1)));
        assert!(q.pop().is_none());
        assert_eq!(q.peek_time(), None);
        assert!(!q.cancel(EventId(7)), "never issued");
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
            assert_eq!(id.0, e);
            assert!(id.0 % 2 == 0 && id != ids[2]);
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
    fn long_lived_event_does_not_pin_the_live_bitmap() {
        let mut q = EventQueue::new();
        let timer = q.push(SimTime(1 << 50), u64::MAX);
        q.push(SimTime(0), 0);
        for i in 1..200_000u64 {
            let (t, _, _) = q.pop().unwrap();
            q.push(SimTime(t.0 + 1), i);
        }
        assert!(
            q.live.words.len() <= 1024 + q.len() + 1,
            "window bounded by pending count"
        );
        assert_eq!(q.live.far.len(), 1, "the old timer's word was moved aside");
        assert!(q.cancel(timer));
        assert!(!q.cancel(timer));
        assert!(q.live.far.is_empty());
        assert_eq!(q.pop().unwrap().2, 199_999);
        assert!(q.pop().is_none());
        assert_drained(&q);
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
                    assert_eq!(id.0, time_of.len() as u64);
                    time_of.push(t);
                    reference.insert((t, id.0), step);
                }
                7..=8 if !time_of.is_empty() => {
                    // Mostly recent ids; some popped, some cancelled already.
                    let back = (r >> 8) % (time_of.len() as u64).min(2_000);
                    let seq = time_of.len() as u64 - 1 - back;
                    let expected = reference.remove(&(time_of[seq as usize], seq)).is_some();
                    assert_eq!(q.cancel(EventId(seq)), expected, "cancel {seq}");
                }
                _ if burst && r % 16 < 12 => {}
                _ => {
                    let expected = reference.pop_first();
                    let got = q.pop();
                    assert_eq!(
                        got.map(|(t, id, e)| ((t.0, id.0), e)),
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
            assert_eq!(q.pop().map(|(t, id, e)| ((t.0, id.0), e)), Some(expected));
        }
        assert!(q.pop().is_none());
        assert_drained(&q);
    }
}
