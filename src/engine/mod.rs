//! The discrete-event kernel: virtual time, the event queue, named random streams and the
//! trace digest. It knows nothing of networks: the world that owns it decides what an event
//! means and calls [`Engine::next_event`] in a loop.

#![warn(missing_docs)]

pub mod digest;
pub mod hold_bench;
pub mod queue;
pub mod rng;
pub mod time;

pub use digest::TraceDigest;
pub use queue::{EventId, EventQueue};
pub use rng::{RngStreams, SimRng};
pub use time::{SimDuration, SimTime};

/// What the engine needs of an event: small and `Copy` (it moves by value through the
/// queue's buckets), and a compact description folded into the trace digest.
pub trait Traced: Copy {
    /// `(kind, a, b)`: a small kind number and two identifying words (ids, sequence numbers).
    fn trace(&self) -> (u32, u64, u64);
}

/// The narrow context a model schedules through: it sees the clock and can schedule and
/// cancel its own events (converted into the world's event type), nothing else.
pub trait Scheduler<T> {
    /// The current virtual time.
    fn now(&self) -> SimTime;
    /// Schedules `event` at absolute time `at`; returns its id for cancelling.
    fn schedule_at(&mut self, at: SimTime, event: T) -> EventId;
    /// Schedules `event` at `delay` after now.
    fn schedule_in(&mut self, delay: SimDuration, event: T) -> EventId {
        let at = self.now() + delay;
        self.schedule_at(at, event)
    }
    /// Cancels a pending event; `false` if it already ran or was cancelled.
    fn cancel(&mut self, id: EventId) -> bool;
}

impl<E: Traced, T: Into<E>> Scheduler<T> for Engine<E> {
    #[inline]
    fn now(&self) -> SimTime {
        self.now
    }
    #[inline]
    fn schedule_at(&mut self, at: SimTime, event: T) -> EventId {
        Engine::schedule_at(self, at, event.into())
    }
    fn cancel(&mut self, id: EventId) -> bool {
        Engine::cancel(self, id)
    }
}

/// Clock, pending events and digest of one run. Single-threaded by design: a run is a total
/// order of events, and parallelism lives one level up (independent runs).
pub struct Engine<E: Traced> {
    now: SimTime,
    queue: EventQueue<E>,
    digest: TraceDigest,
    processed: u64,
}

impl<E: Traced> Default for Engine<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Traced> Engine<E> {
    /// An engine at time zero with no pending events.
    pub fn new() -> Self {
        Engine {
            now: SimTime::ZERO,
            queue: EventQueue::new(),
            digest: TraceDigest::default(),
            processed: 0,
        }
    }

    /// The current virtual time (the time of the event being processed).
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at absolute time `at` (not before now).
    #[inline]
    pub fn schedule_at(&mut self, at: SimTime, event: E) -> EventId {
        assert!(
            at >= self.now,
            "event scheduled in the past: {at} < now {}",
            self.now
        );
        self.queue.push(at, event)
    }

    /// Schedules `event` after `delay`.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> EventId {
        let at = self.now + delay;
        self.queue.push(at, event)
    }

    /// Cancels a pending event (a timer); false if it already ran or was cancelled.
    pub fn cancel(&mut self, id: EventId) -> bool {
        self.queue.cancel(id)
    }

    /// Pops the next event due at or before `until`, advances the clock to it and folds it
    /// into the digest. Returns `None` (clock set to `until`) when nothing is due.
    #[inline]
    pub fn next_event(&mut self, until: SimTime) -> Option<E> {
        match self.queue.peek_time() {
            Some(t) if t <= until => {}
            _ => {
                self.now = self.now.max(until);
                return None;
            }
        }
        // peek_time is exact (cancelled events are skipped), so this pops the peeked event.
        let (time, _id, event) = self.queue.pop()?;
        self.now = time;
        self.processed += 1;
        let (kind, a, b) = event.trace();
        self.digest.record(time.0, kind, a, b);
        Some(event)
    }

    /// Events processed so far.
    pub fn processed(&self) -> u64 {
        self.processed
    }

    /// Digest of every event processed so far, in order.
    pub fn digest(&self) -> u64 {
        self.digest.value()
    }

    /// Events still pending (cancelled ones excluded).
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}
