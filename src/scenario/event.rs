//! The events of a run: one closed, `Copy` enum of at most 16 bytes, with one sub-enum per
//! subsystem. Components' events carry the [`ComponentId`] they are routed to, so the enum
//! stays closed however many components a world holds, and a new kind of model is one
//! variant here plus its sub-enum.
//!
//! Trace codes (what the digest folds in) come from the variant structure: the position of
//! the top-level variant and of the sub-variant, never from hand-written numbers
//! (`tests::trace_codes_are_unique` proves them distinct).

use crate::engine::Traced;
use crate::net::NetEvent;

/// Index of a component in its world, in registration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentId(pub u16);

/// Every event of a run. Closed, small and `Copy`: no allocation per event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Net(NetEvent),
    /// Events of the world's own machinery (sources, transports, sampling, faults).
    World(WorldEvent),
    /// Events of a consensus group.
    Consensus(ComponentId, ConsensusEvent),
    /// Slot for live migration (issue 14).
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

/// Filled when the migration model lands; uninhabited until then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationEvent {}
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

impl Traced for Event {
    #[inline]
    fn trace(&self) -> (u32, u64, u64) {
        match *self {
            Event::Net(NetEvent::TxDone(p)) => (1, p.0 as u64, 0),
            Event::Net(NetEvent::Arrive(p, pkt)) => (2, p.0 as u64, pkt.0 as u64),
            Event::Net(NetEvent::Pause(p, on)) => (6, p.0 as u64, on as u64),
            Event::World(WorldEvent::Source(i)) => (3, i as u64, 0),
            Event::World(WorldEvent::Sample) => (4, 0, 0),
            Event::World(WorldEvent::Transport(i)) => (5, i as u64, 0),
            Event::World(WorldEvent::LinkChange(i)) => (7, i as u64, 0),
            Event::Consensus(_, ConsensusEvent::Replica(i)) => (9, i as u64, 0),
            Event::Consensus(_, ConsensusEvent::Client) => (10, 0, 0),
            Event::Consensus(_, ConsensusEvent::Release(h)) => (11, h as u64, 0),
            Event::World(WorldEvent::Fault(i)) => (12, i as u64, 0),
            Event::Migration(_, e) => match e {},
            Event::Predict(_, e) => match e {},
            Event::Workload(_, e) => match e {},
            Event::User(id, UserEvent(a, b)) => (13, (id.0 as u64) << 32 | a as u64, b as u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_stay_small() {
        // The queue moves events by value on every push and pop; keep them within 16 bytes.
        assert!(std::mem::size_of::<Event>() <= 16);
    }
}
