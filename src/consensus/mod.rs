//! ACP/ASS: consensus protocols as sans-I/O state machines, in the shape of raft-rs
//! (`tick` / `step` / `propose`, outputs drained by the caller). Every message a replica
//! wants sent comes out with its real encoded size and the earliest time it may leave (after
//! a modelled fsync or signature), so the world can carry it over the simulated network;
//! timers are the world's. Nothing here sees a clock, a socket or a global RNG.
//!
//! - [`Consensus`]: what every protocol offers, so experiments treat Raft and PBFT alike.
//! - [`raft`]: an adapter over the `raft` crate (tikv raft-rs 0.7.0).
//! - [`pbft`]: our own implementation of Castro & Liskov (OSDI 1999); no maintained crate exists.
//! - [`client`]: the open-loop client that loads a group (arrivals, resends, reply quorum).
//! - [`safety`]: the monitor of agreement, commit order and one leader per term/view.
//! - [`recovery`]: the observer that times elections after a leader's crash and restarts'
//!   catching up.
#![warn(missing_docs)]

pub mod client;

pub mod pbft;

pub mod raft;

pub mod recovery;

pub mod safety;

use crate::engine::{SimDuration, SimTime};

/// A replica's index in its group, `0..n`.
pub type ReplicaId = u32;

/// A client request: an id unique in the run and its payload size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Request {
    /// Unique in the run, so the safety checker and the client can match commits and replies to it.
    pub id: u64,
    /// Payload bytes (what a log entry carries).
    pub bytes: u32,
}

/// A request this replica has committed (Raft: applied; PBFT: committed-local), in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Commit {
    /// Position in the replicated log (Raft index, PBFT sequence number).
    pub slot: u64,
    /// The request committed at `slot`.
    pub request: Request,
    /// Simulated time the replica committed it.
    pub at: SimTime,
}

/// A message to send: to whom, its encoded size, and the earliest time it may leave.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing<M> {
    /// Destination replica.
    pub to: ReplicaId,
    /// Encoded bytes on the wire (the protocol's real encoding, headers excluded).
    pub bytes: u32,
    /// `now` plus any modelled local cost before sending (fsync, signing).
    pub send_at: SimTime,
    /// The protocol message itself.
    pub msg: M,
}

/// What a call produced; the caller drains and clears it.
#[derive(Clone, Debug)]
pub struct Outputs<M> {
    /// Messages to send, in the order they were produced.
    pub messages: Vec<Outgoing<M>>,
    /// Requests committed by this call, in log order.
    pub commits: Vec<Commit>,
}

impl<M> Default for Outputs<M> {
    fn default() -> Self {
        Outputs {
            messages: Vec::new(),
            commits: Vec::new(),
        }
    }
}

/// One replica of a consensus group.
pub trait Consensus {
    /// The protocol's message type, carried opaquely by the world.
    type Msg: Clone + std::fmt::Debug;

    /// Starts at `now` (timers begin).
    fn start(&mut self, now: SimTime, out: &mut Outputs<Self::Msg>);
    /// A client asks this replica to order `request`. A non-leader/backup may forward it or
    /// drop it; either way the client's own timer covers it.
    fn propose(&mut self, now: SimTime, request: Request, out: &mut Outputs<Self::Msg>);
    /// A message from `from` arrived.
    fn step(&mut self, now: SimTime, from: ReplicaId, msg: Self::Msg, out: &mut Outputs<Self::Msg>);
    /// The deadline from [`Consensus::poll_at`] has come.
    fn on_timer(&mut self, now: SimTime, out: &mut Outputs<Self::Msg>);
    /// When to call [`Consensus::on_timer`] next.
    fn poll_at(&self) -> Option<SimTime>;
    /// The replica believes it leads (Raft leader, PBFT primary of the current view).
    fn is_leader(&self) -> bool;
    /// Current term (Raft) or view (PBFT).
    fn epoch(&self) -> u64;
    /// Crash: volatile state is lost at once; [`Consensus::restart`] recovers from what was
    /// persisted.
    fn crash(&mut self);
    /// Restarts at `now` after [`Consensus::crash`], from persisted state only (timers begin again).
    fn restart(&mut self, now: SimTime, out: &mut Outputs<Self::Msg>);
    /// Highest log position this replica has applied, by executing entries or by installing
    /// transferred state (Raft applied index, PBFT last executed sequence number).
    fn progress(&self) -> u64;
    /// True for a message that carries replica state in bulk (a Raft snapshot): the world
    /// sends it over a bulk transport (AMST streams) rather than as datagrams.
    fn is_state_transfer(_msg: &Self::Msg) -> bool {
        false
    }
    /// The bulk transfer of a state message to `to` finished (`delivered`) or was abandoned;
    /// e.g. raft-rs's `report_snapshot`, which un-blocks replication to that follower.
    fn state_transfer_done(
        &mut self,
        _now: SimTime,
        _to: ReplicaId,
        _delivered: bool,
        _out: &mut Outputs<Self::Msg>,
    ) {
    }
}

/// A local cost in virtual time, e.g. an fsync or a signature.
pub type LocalCost = SimDuration;
