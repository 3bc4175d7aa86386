//! A consensus group living in the world: replicas on topology nodes, their messages as
//! packets, their timers as events, and a client that loads them.
//!
//! **Messages.** Every protocol message leaves at its `send_at` (after a modelled fsync or
//! signature) as datagrams of its real encoded size plus
//! [`HEADER_BYTES`](crate::transport::datagram::HEADER_BYTES), cut to the path MTU; it is
//! delivered when its last fragment arrives, lost if any fragment is. Raft and
//! PBFT recover lost messages themselves (heartbeats and appends retry, clients resend, view
//! changes), so TCP's retransmission of small control messages is not modelled. A message
//! carrying state in bulk (a Raft snapshot), or any message above `bulk_threshold` (a PBFT
//! new-view with its certificates, a Raft catch-up append), instead goes over a TCP (AMST)
//! transfer that the world opens: reliable and congestion-controlled as the real systems'
//! TCP links are, where a burst of dozens of datagrams would overflow the sender's queue.
//!
//! **Client.** The open-loop [`Client`] (arrivals, resends, the reply quorum) is a model of
//! its own; the host carries its requests from `client_node` and its replies back. Raft's
//! leader replies once it applied an entry; every PBFT replica replies once it committed
//! (Castro & Liskov §4.1), and re-sends its reply to a request it already executed.
//!
//! **Checks while running.** Every commit and every leader of a correct replica goes to the
//! group's [`SafetyMonitor`]; what it flags counts as `safety_violations` (zero in a correct
//! run; the tests assert it). Crashes, restarts and state transfers go to [`Recovery`], which
//! times elections and catch-ups.

use std::collections::VecDeque;

use super::component::{
    Component, ComponentRecords, Context, TransferDone, TransferSettings, TransferSpec,
};
use super::event::ConsensusEvent;
use crate::consensus::client::{Client, ClientConfig, Replies, RequestTo};
use crate::consensus::recovery::Recovery;
use crate::consensus::safety::{Leadership, SafetyMonitor, Violation};
use crate::consensus::{Consensus, Outputs, ReplicaId, Request};
use crate::engine::{EventId, Scheduler, SimDuration, SimTime};
use crate::metrics::{MeasureRow, TimeSeries};
use crate::net::NodeId;
use crate::transport::datagram::{Delivery, SenderId};

/// The context a group's handlers get.
type Cx<'a> = Context<'a, ConsensusEvent>;
/// Raft answer to a client: an etcd response header (cluster id, member id, revision,
/// raft term: 4 × 8 B) — recalled from etcd's `ResponseHeader`, not re-read.
const RAFT_REPLY_BYTES: u32 = 32;
/// PBFT ⟨REPLY, v, t, c, i, r⟩: type 1 + view 8 + timestamp 8 + client 4 + replica 4 +
/// result digest 32 + one MAC 8 (Castro & Liskov §4.1).
const PBFT_REPLY_BYTES: u32 = 65;
/// Messages whose fragments have not all arrived after this long are forgotten (as the
/// carrier forgets them).
const FORGET_AFTER: SimDuration = crate::transport::datagram::FORGET_AFTER;

/// What a datagram carries.
#[derive(Clone, Debug)]
enum Wire<M> {
    Protocol {
        from: ReplicaId,
        to: ReplicaId,
        msg: M,
    },
    Request {
        to: ReplicaId,
        request: Request,
    },
    Reply {
        from: ReplicaId,
        epoch: u64,
        request: u64,
    },
}

/// A message between being handed over and being delivered.
struct Parcel<M> {
    wire: Wire<M>,
    bytes: u32,
    to_node: NodeId,
    /// Sender index (replica id, or n for the client).
    sender: usize,
    /// Handed to the carrier (not a bulk transfer, not waiting for its send time).
    in_flight: bool,
    sent_at: SimTime,
}

/// Settings of a group, resolved from the experiment.
pub struct GroupSettings {
    /// Group name, used in event-log lines.
    pub name: String,
    /// The node each replica runs on, by replica id.
    pub nodes: Vec<NodeId>,
    /// Names of those nodes, by replica id.
    pub node_names: Vec<String>,
    /// The node the client runs on.
    pub client_node: NodeId,
    /// Simulated time the group boots (before each replica's offset).
    pub start: SimTime,
    /// Each replica boots at `start` plus its own offset: real servers' tick clocks are not
    /// in phase, and lock-stepped ticks would make split votes artificially common.
    pub boot_offsets: Vec<SimDuration>,
    /// Messages above this many bytes travel as bulk transfers.
    pub bulk_threshold: u32,
    /// How bulk transfers travel.
    pub transfer: TransferSettings,
    /// Message senders: replicas 0..n, then the client.
    pub senders: Vec<SenderId>,
}

/// One group of replicas of protocol `C` with its client.
pub struct Group<C: Consensus> {
    s: GroupSettings,
    replicas: Vec<C>,
    up: Vec<bool>,
    booted: Vec<bool>,
    timers: Vec<Option<(SimTime, EventId)>>,
    parcels: Vec<Option<Parcel<C::Msg>>>,
    generations: Vec<u32>,
    free: Vec<u32>,
    sends_since_sweep: u32,
    client: Client,
    /// The client's pending event.
    client_timer: Option<(SimTime, EventId)>,
    /// Requests the client wants sent (a buffer kept between calls).
    client_out: Vec<RequestTo>,
    /// Messages delivered on their own node, handled when the current call is done.
    local: VecDeque<Delivery>,
    out: Outputs<C::Msg>,
    /// Knows the Byzantine replicas: their commits and leadership claims are not checked.
    safety: SafetyMonitor,
    recovery: Recovery,
    dropped_at_crashed: u64,
}

impl<C: Consensus> Group<C> {
    /// A group of `replicas` with its client, none booted yet; panics if the client's replica count differs.
    pub fn new(s: GroupSettings, client: ClientConfig, replicas: Vec<C>) -> Self {
        let n = replicas.len();
        assert_eq!(
            client.replicas as usize, n,
            "group {}: client and replicas",
            s.name
        );
        Group {
            up: vec![false; n],
            booted: vec![false; n],
            timers: vec![None; n],
            replicas,
            s,
            parcels: Vec::new(),
            generations: Vec::new(),
            free: Vec::new(),
            sends_since_sweep: 0,
            client: Client::new(client),
            client_timer: None,
            client_out: Vec::new(),
            local: VecDeque::new(),
            out: Outputs::default(),
            safety: SafetyMonitor::new(n),
            recovery: Recovery::new(),
            dropped_at_crashed: 0,
        }
    }

    /// Marks Byzantine replicas (left out of the safety checks).
    pub fn set_faulty(&mut self, faulty: Vec<bool>) {
        self.safety.set_faulty(faulty);
    }

    /// When the replicas boot and the first request is due.
    pub fn schedule_start(&mut self, cx: &mut Cx) {
        for i in 0..self.replicas.len() {
            let at = self.s.start + self.s.boot_offsets[i];
            let id = cx.schedule_at(at, ConsensusEvent::Replica(i as u32));
            self.timers[i] = Some((at, id));
        }
        if let Some(t) = self.client.poll_at() {
            let id = cx.schedule_at(t, ConsensusEvent::Client);
            self.client_timer = Some((t, id));
        }
    }

    /// Replica `i`'s pending timer fired: the first one boots it, later ones run its
    /// `on_timer` while it is up; what it produced is sent.
    pub fn on_replica_timer(&mut self, cx: &mut Cx, i: u32) {
        let now = cx.now();
        self.timers[i as usize] = None;
        if !self.booted[i as usize] {
            self.booted[i as usize] = true;
            self.up[i as usize] = true;
            let mut out = std::mem::take(&mut self.out);
            self.replicas[i as usize].start(now, &mut out);
            self.absorb(cx, i, out);
        } else if self.up[i as usize] {
            let mut out = std::mem::take(&mut self.out);
            self.replicas[i as usize].on_timer(now, &mut out);
            self.absorb(cx, i, out);
        }
        self.drain_local(cx);
    }

    /// A message's send time (after its fsync or signature) has come.
    pub fn on_release(&mut self, cx: &mut Cx, handle: u32) {
        self.transmit(cx, handle);
        self.drain_local(cx);
    }

    /// A message reached its node whole.
    pub fn on_message(&mut self, cx: &mut Cx, m: Delivery) {
        self.receive(cx, m);
        self.drain_local(cx);
    }

    /// A bulk transfer the world carried has finished (`delivered`) or was given up.
    pub fn on_bulk_done(&mut self, cx: &mut Cx, done: TransferDone) {
        let (parcel, delivered, took) = (done.tag as u32, done.delivered, done.took);
        let Some(p) = self.parcels.get_mut(parcel as usize).and_then(Option::take) else {
            return;
        };
        self.free.push(parcel);
        let Wire::Protocol { from, to, msg } = p.wire else {
            return;
        };
        let now = cx.now();
        // Data reaching a crashed replica is lost with its volatile state: a failure, which
        // the leader must hear of (raft-rs keeps a follower paused until it does).
        let delivered = delivered && self.up[to as usize];
        let state = C::is_state_transfer(&msg);
        if !state {
            if delivered && self.up[to as usize] {
                let mut out = std::mem::take(&mut self.out);
                self.replicas[to as usize].step(now, from, msg, &mut out);
                self.absorb(cx, to, out);
            }
            self.drain_local(cx);
            return;
        }
        self.recovery.on_state_transfer(to, p.bytes as u64, took);
        cx.log(
            "state_transfer",
            format!(
                "{} r{from} -> r{to}: {} bytes in {took} ({})",
                self.s.name,
                p.bytes,
                if delivered { "delivered" } else { "abandoned" }
            ),
        );
        if delivered && self.up[to as usize] {
            let mut out = std::mem::take(&mut self.out);
            self.replicas[to as usize].step(now, from, msg, &mut out);
            self.absorb(cx, to, out);
        }
        if self.up[from as usize] {
            let mut out = std::mem::take(&mut self.out);
            self.replicas[from as usize].state_transfer_done(now, to, delivered, &mut out);
            self.absorb(cx, from, out);
        }
        self.drain_local(cx);
    }

    /// New requests due now and resends past their deadline.
    pub fn on_client_timer(&mut self, cx: &mut Cx) {
        let now = cx.now();
        self.client_timer = None;
        let mut out = std::mem::take(&mut self.client_out);
        self.client.on_timer(now, &mut out);
        for RequestTo { to, request } in out.drain(..) {
            self.send_request(cx, to, request);
        }
        self.client_out = out;
        self.sync_client_timer(cx);
        self.drain_local(cx);
    }

    /// A running replica that does not lead, the highest-numbered one (deterministic).
    pub fn follower(&self) -> Option<ReplicaId> {
        (0..self.replicas.len())
            .rev()
            .find(|&i| self.up[i] && !self.replicas[i].is_leader())
            .map(|i| i as ReplicaId)
    }

    /// The replica leading now (the highest term/view among those that believe so).
    pub fn leader(&self) -> Option<ReplicaId> {
        (0..self.replicas.len())
            .filter(|&i| self.up[i] && self.replicas[i].is_leader())
            .max_by_key(|&i| self.replicas[i].epoch())
            .map(|i| i as ReplicaId)
    }

    /// The replica running on `node`, if any.
    pub fn replica_of_node(&self, node: NodeId) -> Option<ReplicaId> {
        self.s
            .nodes
            .iter()
            .position(|&n| n == node)
            .map(|i| i as ReplicaId)
    }

    /// `"<group> r<i> (<node>)"`, for event-log lines.
    pub fn replica_name(&self, i: ReplicaId) -> String {
        format!("{} r{i} ({})", self.s.name, self.s.node_names[i as usize])
    }

    /// Crashes replica `i` now (no-op if already down): drops its volatile state and timer.
    pub fn crash(&mut self, cx: &mut Cx, i: ReplicaId) {
        let iu = i as usize;
        if !self.up[iu] {
            return;
        }
        let r = &self.replicas[iu];
        self.recovery
            .on_crash(cx.now(), r.is_leader().then(|| r.epoch()));
        self.replicas[iu].crash();
        self.up[iu] = false;
        if let Some((_, id)) = self.timers[iu].take() {
            cx.cancel(id);
        }
    }

    /// Restarts replica `i` now (no-op if it is up) from its persisted state.
    pub fn restart(&mut self, cx: &mut Cx, i: ReplicaId) {
        let iu = i as usize;
        if self.up[iu] {
            return;
        }
        if !self.booted[iu] {
            // Crashed before it first booted: this is its first start.
            self.booted[iu] = true;
            self.up[iu] = true;
            let mut out = std::mem::take(&mut self.out);
            self.replicas[iu].start(cx.now(), &mut out);
            self.absorb(cx, i, out);
            self.drain_local(cx);
            return;
        }
        let now = cx.now();
        let target = (0..self.replicas.len())
            .filter(|&k| self.up[k])
            .map(|k| self.replicas[k].progress())
            .max()
            .unwrap_or(0);
        self.recovery.on_restart(now, i, target);
        self.up[iu] = true;
        let mut out = std::mem::take(&mut self.out);
        self.replicas[iu].restart(now, &mut out);
        self.absorb(cx, i, out);
        self.drain_local(cx);
    }

    // ---- internals ----

    /// Handles what replica `i` produced: safety checks, replies, messages; then its timer.
    fn absorb(&mut self, cx: &mut Cx, i: ReplicaId, mut out: Outputs<C::Msg>) {
        let now = cx.now();
        let iu = i as usize;
        let leading = self.replicas[iu].is_leader();
        for c in out.commits.drain(..) {
            if self.safety.is_faulty(i) {
                // A faulty replica's claims are not evidence, and it helps no client: the
                // f+1 replies a PBFT client needs come from correct replicas.
                continue;
            }
            for v in self.safety.on_commit(i, c.slot, c.request.id) {
                // An out-of-order slot has always been counted but not logged; it stays so,
                // to keep event logs byte-identical (to log it, drop this condition).
                if !matches!(v, Violation::OutOfOrder { .. }) {
                    cx.log("safety_violation", format!("{}: {v}", self.replica_name(i)));
                }
            }
            // Raft: the leader answers; PBFT: every replica does.
            if self.all_reply() || leading {
                let epoch = self.replicas[iu].epoch();
                self.send_reply(cx, i, epoch, c.request.id);
            }
        }
        for o in out.messages.drain(..) {
            let bulk = C::is_state_transfer(&o.msg)
                .then_some(true)
                .or_else(|| (o.bytes > self.s.bulk_threshold).then_some(false));
            let (to_node, bytes, send_at) = (self.s.nodes[o.to as usize], o.bytes, o.send_at);
            let handle = self.store(Parcel {
                wire: Wire::Protocol {
                    from: i,
                    to: o.to,
                    msg: o.msg,
                },
                bytes,
                to_node,
                sender: iu,
                in_flight: false,
                sent_at: send_at.max(now),
            });
            if let Some(state) = bulk {
                let what = if state { "state" } else { "bulk" };
                cx.open_transfer(TransferSpec {
                    from: self.s.nodes[iu],
                    to: to_node,
                    bytes: bytes as u64,
                    name: format!("{}/{what}", self.s.name),
                    tag: handle as u64,
                    settings: self.s.transfer.clone(),
                });
                continue;
            }
            if send_at > now {
                cx.schedule_at(send_at, ConsensusEvent::Release(handle));
            } else {
                self.transmit(cx, handle);
            }
        }
        self.out = out;
        self.note_leadership(cx, i);
        self.note_progress(cx, i);
        self.sync_timer(cx, i);
    }

    /// Tells the monitor if replica `i` leads; logs a new leader and ends a timed election.
    fn note_leadership(&mut self, cx: &mut Cx, i: ReplicaId) {
        let r = &self.replicas[i as usize];
        if !self.up[i as usize] || !r.is_leader() {
            return;
        }
        let epoch = r.epoch();
        match self.safety.on_leader(i, epoch) {
            Leadership::Violation(v) => {
                cx.log("safety_violation", format!("{}: {v}", self.replica_name(i)));
            }
            Leadership::New => {
                cx.log(
                    "leader",
                    format!("{} leads term/view {epoch}", self.replica_name(i)),
                );
                self.recovery.on_new_leader(cx.now(), epoch);
            }
            Leadership::Known | Leadership::Ignored => {}
        }
    }

    /// Tells the recovery observer how far replica `i` got; logs a finished catch-up.
    fn note_progress(&mut self, cx: &mut Cx, i: ReplicaId) {
        let progress = self.replicas[i as usize].progress();
        if let Some(done) = self.recovery.on_progress(cx.now(), i, progress) {
            let name = self.replica_name(i);
            cx.log(
                "caught_up",
                format!(
                    "{name} applied up to {} {} after restarting ({} bytes of state transferred)",
                    done.target, done.took, done.bulk_bytes
                ),
            );
        }
    }

    /// Keeps one pending event at replica `i`'s deadline.
    fn sync_timer(&mut self, cx: &mut Cx, i: ReplicaId) {
        let iu = i as usize;
        let now = cx.now();
        let want = if self.up[iu] {
            self.replicas[iu].poll_at().map(|t| t.max(now))
        } else {
            None
        };
        if self.timers[iu].map(|(t, _)| t) == want {
            return;
        }
        if let Some((_, id)) = self.timers[iu].take() {
            cx.cancel(id);
        }
        if let Some(at) = want {
            let id = cx.schedule_at(at, ConsensusEvent::Replica(i));
            self.timers[iu] = Some((at, id));
        }
    }

    /// Keeps one pending event at the client's deadline.
    fn sync_client_timer(&mut self, cx: &mut Cx) {
        let now = cx.now();
        let want = self.client.poll_at().map(|t| t.max(now));
        if self.client_timer.map(|(t, _)| t) == want {
            return;
        }
        if let Some((_, id)) = self.client_timer.take() {
            cx.cancel(id);
        }
        if let Some(at) = want {
            let id = cx.schedule_at(at, ConsensusEvent::Client);
            self.client_timer = Some((at, id));
        }
    }

    /// PBFT's client waits for a quorum, so every replica replies (with PBFT's reply size);
    /// Raft's leader alone does.
    fn all_reply(&self) -> bool {
        matches!(self.client.replies(), Replies::Quorum(_))
    }

    fn send_request(&mut self, cx: &mut Cx, to: ReplicaId, request: Request) {
        let n = self.replicas.len();
        // ⟨REQUEST, o, t, c⟩: type, client header, payload, one MAC (as PBFT's encoding).
        let bytes = 1 + 16 + request.bytes + 8;
        let handle = self.store(Parcel {
            wire: Wire::Request { to, request },
            bytes,
            to_node: self.s.nodes[to as usize],
            sender: n,
            in_flight: false,
            sent_at: cx.now(),
        });
        self.transmit(cx, handle);
    }

    fn send_reply(&mut self, cx: &mut Cx, from: ReplicaId, epoch: u64, request: u64) {
        let bytes = if self.all_reply() {
            PBFT_REPLY_BYTES
        } else {
            RAFT_REPLY_BYTES
        };
        let handle = self.store(Parcel {
            wire: Wire::Reply {
                from,
                epoch,
                request,
            },
            bytes,
            to_node: self.s.client_node,
            sender: from as usize,
            in_flight: false,
            sent_at: cx.now(),
        });
        self.transmit(cx, handle);
    }

    fn store(&mut self, p: Parcel<C::Msg>) -> u32 {
        self.sends_since_sweep += 1;
        if self.sends_since_sweep >= 4096 {
            self.sends_since_sweep = 0;
            self.forget_stale(p.sent_at);
        }
        match self.free.pop() {
            Some(h) => {
                self.generations[h as usize] = self.generations[h as usize].wrapping_add(1);
                self.parcels[h as usize] = Some(p);
                h
            }
            None => {
                self.parcels.push(Some(p));
                self.generations.push(0);
                (self.parcels.len() - 1) as u32
            }
        }
    }

    /// Frees messages that lost a fragment long ago (bulk transfers are the world's).
    fn forget_stale(&mut self, now: SimTime) {
        for (h, slot) in self.parcels.iter_mut().enumerate() {
            if let Some(p) = slot {
                if p.in_flight && now.since(p.sent_at.min(now)) > FORGET_AFTER {
                    *slot = None;
                    self.free.push(h as u32);
                }
            }
        }
    }

    /// Hands the parcel to the carrier, which cuts it into datagrams.
    fn transmit(&mut self, cx: &mut Cx, handle: u32) {
        let now = cx.now();
        let generation = self.generations[handle as usize];
        let Some(p) = self.parcels[handle as usize].as_mut() else {
            return;
        };
        p.in_flight = true;
        p.sent_at = now;
        let tag = (handle as u64) << 32 | generation as u64;
        let sender = self.s.senders[p.sender];
        if let Some(local) = cx.send_message(sender, p.to_node, p.bytes, tag) {
            self.local.push_back(local);
        }
    }

    fn drain_local(&mut self, cx: &mut Cx) {
        while let Some(p) = self.local.pop_front() {
            self.receive(cx, p);
        }
        self.sync_client_timer(cx);
    }

    fn receive(&mut self, cx: &mut Cx, m: Delivery) {
        let (handle, generation) = ((m.tag >> 32) as u32, m.tag as u32);
        let h = handle as usize;
        if self.generations.get(h) != Some(&generation) {
            return;
        }
        let Some(parcel) = self.parcels[h].take() else {
            return;
        };
        self.free.push(handle);
        let now = cx.now();
        match parcel.wire {
            Wire::Protocol { from, to, msg } => {
                if !self.up[to as usize] {
                    self.dropped_at_crashed += 1;
                    return;
                }
                let mut out = std::mem::take(&mut self.out);
                self.replicas[to as usize].step(now, from, msg, &mut out);
                self.absorb(cx, to, out);
            }
            Wire::Request { to, request } => {
                if !self.up[to as usize] {
                    self.dropped_at_crashed += 1;
                    return;
                }
                // PBFT §4.1: a replica that already executed a request re-sends its reply
                // (from its last-reply table, which state transfer carries too).
                let done = self.safety.slot_of(request.id);
                if let Some(slot) = done.filter(|_| self.all_reply()) {
                    let r = &self.replicas[to as usize];
                    if !self.safety.is_faulty(to) && r.progress() >= slot {
                        let epoch = r.epoch();
                        self.send_reply(cx, to, epoch, request.id);
                    }
                }
                let mut out = std::mem::take(&mut self.out);
                self.replicas[to as usize].propose(now, request, &mut out);
                self.absorb(cx, to, out);
            }
            Wire::Reply {
                from,
                epoch,
                request,
            } => {
                self.client.on_reply(now, from, epoch, request);
            }
        }
    }

    /// Results rows, the latency series and the event log.
    pub fn records(&self, end: SimTime) -> (Vec<MeasureRow>, Vec<TimeSeries>) {
        let g = self.s.name.clone();
        let mut rows: Vec<MeasureRow> = Vec::new();
        let mut row = |entity: &str, metric: &'static str, value: f64, unit: &'static str| {
            rows.push(("consensus", entity.to_string(), metric, value, unit));
        };
        let c = &self.client;
        let stats = c.stats();
        row(&g, "replicas", self.replicas.len() as f64, "replicas");
        row(&g, "requests_sent", stats.sent as f64, "requests");
        row(&g, "requests_committed", stats.answered as f64, "requests");
        row(&g, "requests_resent", stats.resent as f64, "requests");
        row(&g, "requests_unanswered", c.unanswered() as f64, "requests");
        let h = c.latency();
        if h.count() > 0 {
            let s = |v: Option<u64>| v.map_or(f64::NAN, |ps| ps as f64 / 1e12);
            row(&g, "commit_latency_mean", h.mean() / 1e12, "s");
            row(&g, "commit_latency_min", s(h.min()), "s");
            row(&g, "commit_latency_p50", s(h.quantile(0.5)), "s");
            row(&g, "commit_latency_p90", s(h.quantile(0.9)), "s");
            row(&g, "commit_latency_p99", s(h.quantile(0.99)), "s");
            row(&g, "commit_latency_max", s(h.max()), "s");
        }
        let active = end.since(c.latency_points().first().map_or(end, |p| p.0));
        if active.as_ps() > 0 {
            row(
                &g,
                "throughput",
                stats.answered as f64 / active.as_secs_f64(),
                "requests/s",
            );
        }
        row(&g, "leaders", self.safety.leaders() as f64, "leaders");
        row(
            &g,
            "safety_violations",
            self.safety.violations() as f64,
            "violations",
        );
        row(
            &g,
            "messages_to_crashed",
            self.dropped_at_crashed as f64,
            "messages",
        );
        for (i, r) in self.replicas.iter().enumerate() {
            let e = format!("{g}.r{i}");
            row(&e, "epoch", r.epoch() as f64, "term/view");
            row(&e, "applied", r.progress() as f64, "entries");
            row(&e, "up", self.up[i] as u8 as f64, "bool");
        }
        let elections = self.recovery.election_times();
        if let Some(first) = elections.first() {
            row(&g, "election_time", first.as_secs_f64(), "s");
            let sum = elections.iter().map(|d| d.as_secs_f64()).sum::<f64>();
            row(&g, "election_time_mean", sum / elections.len() as f64, "s");
        }
        if self.recovery.election_pending() {
            row(&g, "elections_unfinished", 1.0, "elections");
        }
        // Restarts in order: `<group>.restart0` is the first, whichever replica it was.
        for (k, s) in self.recovery.restarts().iter().enumerate() {
            let e = format!("{g}.restart{k}");
            row(&e, "replica", s.replica as f64, "replica");
            row(&e, "sync_target", s.target as f64, "entries");
            row(&e, "state_transferred", s.bulk_bytes as f64, "bytes");
            if let Some(done) = s.done {
                row(&e, "sync_time", done.since(s.started).as_secs_f64(), "s");
            }
            if s.bulk_time.as_ps() > 0 {
                row(&e, "state_transfer_time", s.bulk_time.as_secs_f64(), "s");
                row(
                    &e,
                    "state_transfer_throughput",
                    s.bulk_bytes as f64 * 8.0 / s.bulk_time.as_secs_f64(),
                    "bit/s",
                );
            }
        }
        let series = vec![TimeSeries {
            entity: format!("consensus/{g}"),
            metric: "commit_latency",
            unit: "s",
            points: c.latency_points().to_vec(),
        }];
        (rows, series)
    }
}

impl<C: Consensus> Component for Group<C> {
    type Event = ConsensusEvent;

    fn start(&mut self, cx: &mut Cx) {
        self.schedule_start(cx);
    }

    fn on_event(&mut self, cx: &mut Cx, event: ConsensusEvent) {
        match event {
            ConsensusEvent::Replica(i) => self.on_replica_timer(cx, i),
            ConsensusEvent::Client => self.on_client_timer(cx),
            ConsensusEvent::Release(h) => self.on_release(cx, h),
        }
    }

    fn on_message(&mut self, cx: &mut Cx, message: Delivery) {
        Group::on_message(self, cx, message);
    }

    fn on_transfer_done(&mut self, cx: &mut Cx, done: TransferDone) {
        self.on_bulk_done(cx, done);
    }

    fn on_node_down(&mut self, cx: &mut Cx, node: NodeId) {
        if let Some(r) = self.replica_of_node(node) {
            self.crash(cx, r);
        }
    }

    fn on_node_up(&mut self, cx: &mut Cx, node: NodeId) {
        if let Some(r) = self.replica_of_node(node) {
            self.restart(cx, r);
        }
    }

    fn describe(&self, node: NodeId) -> Option<String> {
        self.replica_of_node(node).map(|r| self.replica_name(r))
    }

    fn roles(&self) -> &[&'static str] {
        &["leader", "follower"]
    }

    fn node_in_role(&self, role: &str) -> Option<NodeId> {
        let r = match role {
            "leader" => self.leader(),
            "follower" => self.follower(),
            _ => None,
        }?;
        Some(self.s.nodes[r as usize])
    }

    fn records(&self, end: SimTime, out: &mut ComponentRecords) {
        let (rows, series) = Group::records(self, end);
        out.rows.extend(rows);
        out.series.extend(series);
    }
}
