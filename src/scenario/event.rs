//! The events of a run: one closed, `Copy` enum of at most 16 bytes, with one sub-enum per
//! subsystem. Components' events carry the [`ComponentId`] they are routed to, so the enum
//! stays closed however many components a world holds, and a new kind of model is one
//! variant here plus its sub-enum.
//!
//! Trace codes (what the digest folds in) come from the variant structure: the position of
//! the top-level variant and of the sub-variant, never from hand-written numbers
//! (`tests::trace_codes_are_unique` proves them distinct).

#![warn(missing_docs)]

use crate::engine::Traced;
use crate::net::NetEvent;

/// Index of a component in its world, in registration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentId(pub u16);

/// Every event of a run. Closed, small and `Copy`: no allocation per event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Events of the packet network (transmissions, arrivals, PFC frames).
    Net(NetEvent),
    /// Events of the world's own machinery (sources, transports, sampling, faults).
    World(WorldEvent),
    /// Events of a consensus group.
    Consensus(ComponentId, ConsensusEvent),
    /// Events of live migrations.
    Migration(ComponentId, MigrationEvent),
    /// Slot for bandwidth prediction (issue 15).
    Predict(ComponentId, PredictEvent),
    /// Slot for the scale workloads (issue 16).
    Workload(ComponentId, WorkloadEvent),
    /// Events of a component defined outside this crate (or in a test).
    User(ComponentId, UserEvent),
}

/// The world's own timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorldEvent {
    /// Timer of source `i`.
    Source(u32),
    /// Take time-series samples.
    Sample,
    /// Start, or the deadline, of transport connection `i`.
    Transport(u32),
    /// Apply scheduled link change `i`.
    LinkChange(u32),
    /// Apply scheduled node fault `i` (crash, restart, partition, heal).
    Fault(u32),
}

/// Timers of a consensus group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsensusEvent {
    /// Timer of replica `i`.
    Replica(u32),
    /// The client's next request or resend.
    Client,
    /// Message `handle` may leave (its fsync or signature is done).
    Release(u32),
}

/// Timers of a migration component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationEvent {
    /// Migration `i` of the component starts.
    Start(u32),
    /// Migration `i` asked to be woken (a slot end, the switchover, the resume).
    Wake(u32),
}
/// Filled when the prediction model lands; uninhabited until then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PredictEvent {}
/// Filled when the scale workloads land; uninhabited until then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadEvent {}

/// An event of a component outside the crate: two words whose meaning is the component's
/// (e.g. a timer kind and a peer index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserEvent(pub u32, pub u32);

/// A subsystem's event type: carried inside [`Event`] with its component's id.
pub trait ComponentEvent: Copy + std::fmt::Debug + 'static {
    /// This event, addressed to component `id`.
    fn wrap(self, id: ComponentId) -> Event;
    /// The sub-event, if `event` is of this subsystem.
    fn unwrap(event: Event) -> Option<Self>;
}

/// Declares the [`ComponentEvent`] impl of each component variant.
macro_rules! component_events {
    ($($variant:ident => $sub:ty),* $(,)?) => {
        $(impl ComponentEvent for $sub {
            #[inline]
            fn wrap(self, id: ComponentId) -> Event {
                Event::$variant(id, self)
            }
            #[inline]
            fn unwrap(event: Event) -> Option<Self> {
                match event {
                    Event::$variant(_, e) => Some(e),
                    _ => None,
                }
            }
        })*

        impl Event {
            /// The component a component event is routed to.
            #[inline]
            pub fn component(&self) -> Option<ComponentId> {
                match *self {
                    $(Event::$variant(id, _) => Some(id),)*
                    _ => None,
                }
            }
        }
    };
}

component_events!(
    Consensus => ConsensusEvent,
    Migration => MigrationEvent,
    Predict => PredictEvent,
    Workload => WorkloadEvent,
    User => UserEvent,
);

impl From<NetEvent> for Event {
    fn from(e: NetEvent) -> Self {
        Event::Net(e)
    }
}

impl From<WorldEvent> for Event {
    fn from(e: WorldEvent) -> Self {
        Event::World(e)
    }
}

/// Counts token trees: the position of an arm among those before it.
macro_rules! count {
    () => { 0u32 };
    ($head:tt $($tail:tt)*) => { 1u32 + count!($($tail)*) };
}

/// An exhaustive `match` whose arms yield `(position of the arm, words)`: a variant's code
/// is where it is written, so codes cannot collide and no number is typed by hand.
macro_rules! positional_match {
    ($value:expr; $($arms:tt)*) => { positional_match!(@go $value; []; []; $($arms)*) };
    (@go $value:expr; [$($done:tt)*]; [$($seen:tt)*];) => { match $value { $($done)* } };
    (@go $value:expr; [$($done:tt)*]; [$($seen:tt)*]; $pat:pat => $words:expr, $($rest:tt)*) => {
        positional_match!(@go $value; [$($done)* $pat => (count!($($seen)*), $words),]; [$($seen)* ()]; $($rest)*)
    };
}

/// `(sub-variant position, a, b)` of a sub-enum, for the trace.
trait TraceWords {
    fn words(&self) -> (u32, (u64, u64));
}

impl TraceWords for NetEvent {
    #[inline]
    fn words(&self) -> (u32, (u64, u64)) {
        positional_match!(*self;
            NetEvent::TxDone(p) => (p.0 as u64, 0),
            NetEvent::Arrive(p, pkt) => (p.0 as u64, pkt.0 as u64),
            NetEvent::Pause(p, on) => (p.0 as u64, on as u64),
        )
    }
}

impl TraceWords for WorldEvent {
    #[inline]
    fn words(&self) -> (u32, (u64, u64)) {
        positional_match!(*self;
            WorldEvent::Source(i) => (i as u64, 0),
            WorldEvent::Sample => (0, 0),
            WorldEvent::Transport(i) => (i as u64, 0),
            WorldEvent::LinkChange(i) => (i as u64, 0),
            WorldEvent::Fault(i) => (i as u64, 0),
        )
    }
}

impl TraceWords for ConsensusEvent {
    #[inline]
    fn words(&self) -> (u32, (u64, u64)) {
        positional_match!(*self;
            ConsensusEvent::Replica(i) => (i as u64, 0),
            ConsensusEvent::Client => (0, 0),
            ConsensusEvent::Release(h) => (h as u64, 0),
        )
    }
}

/// The slots not filled yet have no events.
macro_rules! no_words {
    ($($t:ty),*) => {$(
        impl TraceWords for $t {
            fn words(&self) -> (u32, (u64, u64)) {
                match *self {}
            }
        }
    )*};
}
no_words!(PredictEvent, WorkloadEvent);

impl TraceWords for MigrationEvent {
    #[inline]
    fn words(&self) -> (u32, (u64, u64)) {
        positional_match!(*self;
            MigrationEvent::Start(i) => (i as u64, 0),
            MigrationEvent::Wake(i) => (i as u64, 0),
        )
    }
}

impl TraceWords for UserEvent {
    #[inline]
    fn words(&self) -> (u32, (u64, u64)) {
        (0, (self.0 as u64, self.1 as u64))
    }
}

/// A component event's words with its component's id in the top 16 bits of the first.
#[inline]
fn of_component(id: ComponentId, (sub, (a, b)): (u32, (u64, u64))) -> (u32, (u64, u64)) {
    (sub, (a | (id.0 as u64) << 48, b))
}

impl Traced for Event {
    /// Kind `top << 8 | sub`: the positions of the variant and of its sub-variant.
    #[inline]
    fn trace(&self) -> (u32, u64, u64) {
        let (top, (sub, (a, b))) = positional_match!(*self;
            Event::Net(e) => e.words(),
            Event::World(e) => e.words(),
            Event::Consensus(id, e) => of_component(id, e.words()),
            Event::Migration(id, e) => of_component(id, e.words()),
            Event::Predict(id, e) => of_component(id, e.words()),
            Event::Workload(id, e) => of_component(id, e.words()),
            Event::User(id, e) => of_component(id, e.words()),
        );
        (top << 8 | sub, a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::net::{PacketId, PortId};

    #[test]
    fn events_stay_small() {
        // The queue moves events by value on every push and pop; keep them within 16 bytes.
        assert!(std::mem::size_of::<Event>() <= 16);
    }

    /// One event of every inhabited variant, in declaration order.
    fn one_of_each() -> Vec<Event> {
        let c = ComponentId(3);
        vec![
            Event::Net(NetEvent::TxDone(PortId(1))),
            Event::Net(NetEvent::Arrive(PortId(1), PacketId(2))),
            Event::Net(NetEvent::Pause(PortId(1), true)),
            WorldEvent::Source(1).into(),
            WorldEvent::Sample.into(),
            WorldEvent::Transport(1).into(),
            WorldEvent::LinkChange(1).into(),
            WorldEvent::Fault(1).into(),
            ConsensusEvent::Replica(1).wrap(c),
            ConsensusEvent::Client.wrap(c),
            ConsensusEvent::Release(1).wrap(c),
            MigrationEvent::Start(1).wrap(c),
            MigrationEvent::Wake(1).wrap(c),
            UserEvent(1, 2).wrap(c),
        ]
    }

    #[test]
    fn trace_codes_are_unique() {
        let codes: Vec<u32> = one_of_each().iter().map(|e| e.trace().0).collect();
        let distinct: std::collections::BTreeSet<u32> = codes.iter().copied().collect();
        assert_eq!(distinct.len(), codes.len(), "codes {codes:?}");
        // Codes are positions: Net is variant 0 (Arrive its sub-variant 1), World 1, the
        // consensus Release sub-variant 2 of top-level variant 2, User variant 6.
        assert_eq!(codes[1], 1);
        assert_eq!(codes[4], 1 << 8 | 1);
        assert_eq!(codes[10], 2 << 8 | 2);
        assert_eq!(codes[12], 3 << 8 | 1);
        assert_eq!(codes[13], 6 << 8);
    }

    #[test]
    fn component_events_trace_their_component() {
        // The same timer of two components must not look alike in the digest.
        let a = ConsensusEvent::Replica(1).wrap(ComponentId(0)).trace();
        let b = ConsensusEvent::Replica(1).wrap(ComponentId(1)).trace();
        assert_ne!(a, b);
        assert_eq!(
            ConsensusEvent::unwrap(ConsensusEvent::Client.wrap(ComponentId(5))),
            Some(ConsensusEvent::Client)
        );
        assert_eq!(
            UserEvent::unwrap(ConsensusEvent::Client.wrap(ComponentId(5))),
            None
        );
    }
}
