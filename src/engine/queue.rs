//! The future event set.
//!
//! Total order: `(time, seq)`, where `seq` is the insertion counter — events at equal times
//! pop in the order they were scheduled (FIFO), as OMNeT++ and dslab do. This is why the
//! `priority-queue` crate is not used here: it documents no order among equal priorities.
//! Cancellation is by id, with a tombstone checked at pop time.

use super::time::SimTime;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

/// Identifies a scheduled event so it can be cancelled; it is the event's insertion number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub u64);

struct Entry<E> {
    time: u64,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed so that std's max-heap pops the earliest `(time, seq)`.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// Pending events ordered by `(time, insertion seq)`.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
    /// Ids cancelled but still in the heap (lookup only, never iterated).
    cancelled: HashSet<u64>,
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
            heap: BinaryHeap::new(),
            next_seq: 0,
            cancelled: HashSet::new(),
            last_popped: 0,
        }
    }

    /// Schedules `event` at `time`, which must not precede the last popped event.
    pub fn push(&mut self, time: SimTime, event: E) -> EventId {
        debug_assert!(
            time.0 >= self.last_popped,
            "event scheduled in the past: {} < {}",
            time,
            SimTime(self.last_popped)
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { time: time.0, seq, event });
        EventId(seq)
    }

    /// Cancels a pending event; returns false if it already ran or was cancelled.
    pub fn cancel(&mut self, id: EventId) -> bool {
        if id.0 >= self.next_seq {
            return false;
        }
        // A popped id is below every pending seq only if popped in order; keep it simple and
        // exact: remember it, and `pop` discards it when it surfaces.
        self.cancelled.insert(id.0)
    }

    /// Removes and returns the earliest live event.
    pub fn pop(&mut self) -> Option<(SimTime, EventId, E)> {
        while let Some(entry) = self.heap.pop() {
            if !self.cancelled.is_empty() && self.cancelled.remove(&entry.seq) {
                continue;
            }
            self.last_popped = entry.time;
            return Some((SimTime(entry.time), EventId(entry.seq), entry.event));
        }
        None
    }

    /// Time of the earliest pending entry (may be a cancelled one; used only as a bound).
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| SimTime(e.time))
    }

    /// Pending entries, including cancelled ones not yet discarded.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
