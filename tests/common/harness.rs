//! One deterministic test world for any [`Consensus`] protocol: `n` replicas, per-link
//! one-way delays plus optional seeded jitter, partitions, crash and restart, replica timers
//! from `poll_at`, a bulk transport for state transfers, and a client that retries until
//! enough replicas reply. It records what the tests judge (commits, replies, leaders per
//! epoch, transfers, installs) and checks the safety properties every protocol shares.
//!
//! Event order is a documented total order, the one both worlds it replaces used: queued
//! items by `(time, sequence)` (FIFO among equal times), and a queued item before any replica
//! timer due at the same time; timers among themselves by `(time, replica index)`.
//!
//! What it models:
//! - A datagram from `a` to `b` leaves at its `Outgoing::send_at` (never before it is made)
//!   and arrives `delay[a][b]` plus a jitter draw later; jitter reorders messages.
//! - A partition puts each replica in a group; a datagram between groups is dropped when sent
//!   and again when it arrives (the partition may have begun in flight). That is the only loss.
//! - A crashed replica loses what arrives for it and its timers stop; what it sent before the
//!   crash still arrives. State transfers die with their sender's incarnation.
//! - State transfers ([`Consensus::is_state_transfer`], a Raft snapshot) go over a bulk
//!   transport at [`BULK_BPS`]: one one-way delay plus serialisation, then the sender learns
//!   the outcome ([`Consensus::state_transfer_done`]) one more one-way delay later.
//! - The client ([`Harness::submit`]) sends a request to the replica the protocol says it
//!   believes leads, and after each client timeout without [`Protocol::client_quorum`]
//!   distinct replies sends it to every up replica.
//!
//! Left out: random loss, datagram bandwidth and queueing, CPU contention (a protocol models
//! its own local costs through `send_at`).

use std::collections::{BTreeMap, BTreeSet};

use dwcp_sim::consensus::{Commit, Consensus, Outputs, ReplicaId, Request};
use dwcp_sim::engine::{RngStreams, SimDuration, SimRng, SimTime};
use rand::Rng;

/// What the harness needs to know of a protocol beyond [`Consensus`]: a few hooks, each with
/// a default that means "this protocol has no such thing".
pub trait Protocol: Consensus + Sized {
    /// Every replica reports each slot carrying a request up to the last slot it reports,
    /// except the ranges it skipped by installing a state transfer (Raft, which applies its
    /// log in order). False where a replica may adopt state inside the protocol (PBFT's
    /// checkpoints), so only slots both replicas report can be compared.
    const GAPLESS: bool = false;
    /// A replica executes a request at most once even when it is proposed again (PBFT
    /// filters by request id; a Raft leader would append a re-proposal as a new entry).
    const AT_MOST_ONCE: bool = false;

    /// The log position a state-transfer message carries (Raft: the snapshot index).
    fn transfer_index(_msg: &Self::Msg) -> u64 {
        0
    }
    /// The replica the client sends a fresh request to: by default the up replica leading
    /// the highest epoch, else replica 0.
    fn client_target(h: &Harness<Self>) -> ReplicaId {
        h.leader().unwrap_or(0) as ReplicaId
    }
    /// Distinct replies the client waits for before it stops retrying (PBFT: f + 1).
    fn client_quorum(&self) -> usize {
        1
    }
    /// Entries this replica's log holds now; the harness keeps the peak over every replica
    /// after every event in [`Harness::max_log`].
    fn log_entries(&self) -> Option<usize> {
        None
    }
}

/// Bulk transport rate, bits per second: 1 Gbit/s, so 10 MB of state take 80 ms.
pub const BULK_BPS: u128 = 1_000_000_000;

/// Serialisation time of `bytes` at [`BULK_BPS`]: `bytes * 8 / rate`.
pub fn bulk_time(bytes: u32) -> SimDuration {
    let ps = bytes as u128 * 8 * 1_000_000_000_000 / BULK_BPS;
    SimDuration::from_ps(ps as u64)
}

/// One state transfer the harness carried.
#[derive(Clone, Debug, PartialEq)]
pub struct Transfer {
    pub sent: SimTime,
    pub from: ReplicaId,
    pub to: ReplicaId,
    /// `Outgoing::bytes`: the message's encoding plus the modelled state.
    pub bytes: u32,
    /// [`Protocol::transfer_index`] of the message.
    pub index: u64,
}

/// What the queue carries: a closed set, matched exhaustively.
enum Event<M> {
    /// A datagram.
    Deliver {
        from: ReplicaId,
        to: ReplicaId,
        msg: M,
    },
    /// A state transfer arriving over the bulk transport; it belongs to the sender's
    /// `incarnation`, so a crash of the sender before delivery drops it.
    Bulk {
        from: ReplicaId,
        to: ReplicaId,
        incarnation: u64,
        msg: M,
    },
    /// The bulk transport tells `sender` how its transfer to `to` ended.
    BulkDone {
        sender: ReplicaId,
        to: ReplicaId,
        incarnation: u64,
        delivered: bool,
    },
    /// The client submits request `id` to [`Protocol::client_target`].
    Submit(u64),
    /// The client's timer for request `id`: without a quorum of replies, send it to all.
    ClientTimeout(u64),
    Crash(ReplicaId),
    Restart(ReplicaId),
}

/// The world. Everything iterated is a `Vec` or a `BTreeMap`.
pub struct Harness<C: Protocol> {
    pub now: SimTime,
    pub nodes: Vec<C>,
    pub up: Vec<bool>,
    /// Bumped at each crash: bulk transfers and their reports belong to one incarnation.
    incarnation: Vec<u64>,
    /// `(time, seq) -> event`: FIFO among equal times.
    queue: BTreeMap<(SimTime, u64), Event<C::Msg>>,
    seq: u64,
    /// The run's named random streams (master seed given to [`Harness::new`]).
    pub streams: RngStreams,
    /// One-way delay `delay[from][to]`.
    pub delay: Vec<Vec<SimDuration>>,
    /// Extra delay per datagram, uniform in `[0, bound)` picoseconds, from its own stream.
    jitter: Option<(SimRng, u64)>,
    /// Partition group of each replica.
    pub group: Vec<u32>,
    /// How long the client waits for a quorum of replies before (re)sending to everyone.
    pub client_timeout: SimDuration,
    /// Requests submitted through the client, by id.
    requests: BTreeMap<u64, Request>,
    /// Each replica's commits, in the order it reported them.
    pub commits: Vec<Vec<Commit>>,
    /// Which replicas committed each request id (the client's replies).
    pub replies: BTreeMap<u64, BTreeSet<ReplicaId>>,
    /// Every replica ever seen leading in an epoch (term or view).
    pub leaders: BTreeMap<u64, BTreeSet<ReplicaId>>,
    /// `(time, epoch, replica)` each time a replica is first seen leading an epoch.
    pub elections: Vec<(SimTime, u64, ReplicaId)>,
    /// Every state transfer handed to the bulk transport, in send order.
    pub transfers: Vec<Transfer>,
    /// Per replica, each state install as the range of slots it skipped:
    /// `(progress before, progress after]`, none of them reported as commits by that replica.
    pub installs: Vec<Vec<(u64, u64)>>,
    /// Peak of [`Protocol::log_entries`] over all replicas, sampled after every event.
    pub max_log: usize,
}

impl<C: Protocol> Harness<C> {
    /// `n` replicas made by `make(id, streams)` from master seed `seed`, every link `delay`
    /// one way; all start at time zero in index order.
    pub fn new(
        n: usize,
        seed: u64,
        delay: SimDuration,
        mut make: impl FnMut(ReplicaId, &RngStreams) -> C,
    ) -> Self {
        let streams = RngStreams::new(seed);
        let mut h = Harness {
            now: SimTime::ZERO,
            nodes: (0..n).map(|i| make(i as ReplicaId, &streams)).collect(),
            up: vec![true; n],
            incarnation: vec![0; n],
            queue: BTreeMap::new(),
            seq: 0,
            streams,
            delay: vec![vec![delay; n]; n],
            jitter: None,
            group: vec![0; n],
            client_timeout: SimDuration::from_secs(1),
            requests: BTreeMap::new(),
            commits: vec![Vec::new(); n],
            replies: BTreeMap::new(),
            leaders: BTreeMap::new(),
            elections: Vec::new(),
            transfers: Vec::new(),
            installs: vec![Vec::new(); n],
            max_log: 0,
        };
        for i in 0..n {
            let mut out = Outputs::default();
            h.nodes[i].start(SimTime::ZERO, &mut out);
            h.absorb(i as ReplicaId, out);
        }
        h
    }

    /// Adds to every datagram an extra delay uniform in `[0, bound)`, drawn from the stream
    /// `key` of this run's seed.
    pub fn set_jitter(&mut self, bound: SimDuration, key: &str) {
        assert!(bound > SimDuration::ZERO, "jitter bound must be positive");
        self.jitter = Some((self.streams.stream(key), bound.as_ps()));
    }

    fn push(&mut self, at: SimTime, event: Event<C::Msg>) {
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
    }

    /// Takes in what replica `i` produced: records its commits, carries its messages, and
    /// notes it if it now leads.
    fn absorb(&mut self, i: ReplicaId, out: Outputs<C::Msg>) {
        let iu = i as usize;
        for c in out.commits {
            self.replies.entry(c.request.id).or_default().insert(i);
            self.commits[iu].push(c);
        }
        for o in out.messages {
            assert!(
                o.send_at >= self.now,
                "{}: replica {i}'s message to {} leaves at {}, before it is made",
                self.now,
                o.to,
                o.send_at
            );
            let (tu, send) = (o.to as usize, o.send_at);
            let apart = self.group[iu] != self.group[tu];
            if C::is_state_transfer(&o.msg) {
                self.transfers.push(Transfer {
                    sent: send,
                    from: i,
                    to: o.to,
                    bytes: o.bytes,
                    index: C::transfer_index(&o.msg),
                });
                let incarnation = self.incarnation[iu];
                if apart {
                    // No connection: the transport gives up after one one-way delay.
                    let event = Event::BulkDone {
                        sender: i,
                        to: o.to,
                        incarnation,
                        delivered: false,
                    };
                    self.push(send + self.delay[iu][tu], event);
                } else {
                    let at = send + self.delay[iu][tu] + bulk_time(o.bytes);
                    let event = Event::Bulk {
                        from: i,
                        to: o.to,
                        incarnation,
                        msg: o.msg,
                    };
                    self.push(at, event);
                }
                continue;
            }
            if apart {
                continue;
            }
            let extra = match &mut self.jitter {
                Some((rng, bound)) => SimDuration::from_ps(rng.random_range(0..*bound)),
                None => SimDuration::ZERO,
            };
            let at = send + self.delay[iu][tu] + extra;
            let event = Event::Deliver {
                from: i,
                to: o.to,
                msg: o.msg,
            };
            self.push(at, event);
        }
        if self.nodes[iu].is_leader() {
            let epoch = self.nodes[iu].epoch();
            if self.leaders.entry(epoch).or_default().insert(i) {
                self.elections.push((self.now, epoch, i));
            }
        }
    }

    /// The earliest pending thing: `(time, Some(replica))` for a timer, `None` for a queued
    /// event.
    fn next(&self) -> Option<(SimTime, Option<usize>)> {
        let queued = self.queue.keys().next().map(|&(t, _)| (t, None));
        let timer = (0..self.nodes.len())
            .filter(|&i| self.up[i])
            .filter_map(|i| self.nodes[i].poll_at().map(|t| (t, Some(i))))
            .min();
        match (queued, timer) {
            // Queued events first among equal times, then timers by replica index.
            (Some(q), Some(t)) => Some(if q.0 <= t.0 { q } else { t }),
            (q, t) => q.or(t),
        }
    }

    /// Processes everything due up to and including `end`; the clock ends at `end`.
    pub fn run_until(&mut self, end: SimTime) {
        while let Some((t, who)) = self.next() {
            if t > end {
                break;
            }
            self.now = t;
            match who {
                Some(i) => {
                    let mut out = Outputs::default();
                    self.nodes[i].on_timer(t, &mut out);
                    self.absorb(i as ReplicaId, out);
                }
                None => {
                    let (_, event) = self.queue.pop_first().expect("peeked");
                    self.dispatch(event);
                }
            }
            if let Some(len) = self.nodes.iter().filter_map(C::log_entries).max() {
                self.max_log = self.max_log.max(len);
            }
        }
        self.now = self.now.max(end);
    }

    pub fn run_for(&mut self, d: SimDuration) {
        let end = self.now + d;
        self.run_until(end);
    }

    fn dispatch(&mut self, event: Event<C::Msg>) {
        let now = self.now;
        let mut out = Outputs::default();
        match event {
            Event::Deliver { from, to, msg } => {
                let (f, tu) = (from as usize, to as usize);
                if !self.up[tu] || self.group[f] != self.group[tu] {
                    return;
                }
                self.nodes[tu].step(now, from, msg, &mut out);
                self.absorb(to, out);
            }
            Event::Bulk {
                from,
                to,
                incarnation,
                msg,
            } => {
                let (f, tu) = (from as usize, to as usize);
                if !self.up[f] || self.incarnation[f] != incarnation {
                    return; // the sender died: so did the stream
                }
                let delivered = self.up[tu] && self.group[f] == self.group[tu];
                if delivered {
                    let before = self.nodes[tu].progress();
                    self.nodes[tu].step(now, from, msg, &mut out);
                    let after = self.nodes[tu].progress();
                    if after > before && out.commits.is_empty() {
                        self.installs[tu].push((before, after));
                    }
                    self.absorb(to, out);
                }
                // The sender learns the outcome one one-way delay later.
                let at = now + self.delay[tu][f];
                let event = Event::BulkDone {
                    sender: from,
                    to,
                    incarnation,
                    delivered,
                };
                self.push(at, event);
            }
            Event::BulkDone {
                sender,
                to,
                incarnation,
                delivered,
            } => {
                let su = sender as usize;
                if !self.up[su] || self.incarnation[su] != incarnation {
                    return;
                }
                self.nodes[su].state_transfer_done(now, to, delivered, &mut out);
                self.absorb(sender, out);
            }
            Event::Submit(id) => {
                let p = C::client_target(self);
                if self.up[p as usize] {
                    self.nodes[p as usize].propose(now, self.requests[&id], &mut out);
                    self.absorb(p, out);
                }
                self.push(now + self.client_timeout, Event::ClientTimeout(id));
            }
            Event::ClientTimeout(id) => {
                let replies = self.replies.get(&id).map_or(0, BTreeSet::len);
                if replies >= self.nodes[0].client_quorum() {
                    return;
                }
                for i in 0..self.nodes.len() {
                    if self.up[i] {
                        self.propose(i, self.requests[&id]);
                    }
                }
                self.push(now + self.client_timeout, Event::ClientTimeout(id));
            }
            Event::Crash(i) => self.crash(i as usize),
            Event::Restart(i) => self.restart(i as usize),
        }
    }

    /// Crashes replica `i` now: its volatile state, timers and bulk transfers are gone.
    pub fn crash(&mut self, i: usize) {
        self.nodes[i].crash();
        self.up[i] = false;
        self.incarnation[i] += 1;
    }

    /// Restarts replica `i` now from what it persisted.
    pub fn restart(&mut self, i: usize) {
        let mut out = Outputs::default();
        self.nodes[i].restart(self.now, &mut out);
        self.up[i] = true;
        self.absorb(i as ReplicaId, out);
    }

    /// Crashes replica `i` at `at` (queued, so FIFO with messages due then).
    pub fn crash_at(&mut self, at: SimTime, i: usize) {
        self.push(at, Event::Crash(i as ReplicaId));
    }

    /// Restarts replica `i` at `at`.
    pub fn restart_at(&mut self, at: SimTime, i: usize) {
        self.push(at, Event::Restart(i as ReplicaId));
    }

    /// Ends every partition.
    pub fn heal(&mut self) {
        self.group.iter_mut().for_each(|g| *g = 0);
    }

    /// Replica `to` is asked to order `request` now (outside the client).
    pub fn propose(&mut self, to: usize, request: Request) {
        let mut out = Outputs::default();
        self.nodes[to].propose(self.now, request, &mut out);
        self.absorb(to as ReplicaId, out);
    }

    /// The client submits request `id` of `bytes` at `at`, retrying as the module doc says.
    pub fn submit(&mut self, at: SimTime, id: u64, bytes: u32) {
        self.requests.insert(id, Request { id, bytes });
        self.push(at, Event::Submit(id));
    }

    /// The up replica leading the highest epoch, lowest index first, if any.
    pub fn leader(&self) -> Option<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.up[i] && self.nodes[i].is_leader())
            .max_by_key(|&i| (self.nodes[i].epoch(), std::cmp::Reverse(i)))
    }

    /// Runs in 1 ms steps until some replica leads; panics after `limit`.
    pub fn elect(&mut self, limit: SimDuration) -> usize {
        let end = self.now + limit;
        while self.now < end {
            if let Some(l) = self.leader() {
                return l;
            }
            self.run_for(SimDuration::from_millis(1));
        }
        panic!("no leader within {limit}");
    }

    /// Replica `i`'s commits as `(slot, request id)`, in order.
    pub fn ids(&self, i: usize) -> Vec<(u64, u64)> {
        self.commits[i]
            .iter()
            .map(|c| (c.slot, c.request.id))
            .collect()
    }

    /// Replica `i`'s commits as slot → request id.
    pub fn slots(&self, i: usize) -> BTreeMap<u64, u64> {
        self.ids(i).into_iter().collect()
    }

    /// How many of the replicas `among` committed request `id`.
    pub fn committed_by(&self, id: u64, among: &[usize]) -> usize {
        self.replies.get(&id).map_or(0, |s| {
            s.iter().filter(|&&r| among.contains(&(r as usize))).count()
        })
    }

    /// Every replica has request `id`: it committed it, or installed state covering the
    /// lowest slot any replica committed it at.
    pub fn reached_everywhere(&self, id: u64) -> bool {
        let slot = self
            .commits
            .iter()
            .flatten()
            .filter(|c| c.request.id == id)
            .map(|c| c.slot)
            .min();
        slot.is_some_and(|s| {
            (0..self.nodes.len()).all(|i| {
                self.commits[i].iter().any(|c| c.request.id == id) || self.nodes[i].progress() >= s
            })
        })
    }

    /// Checks the safety every protocol owes among the `correct` replicas of a finished run;
    /// panics naming `ctx` (the seed or scenario). Returns how many epochs had a correct
    /// leader.
    pub fn assert_safe(&self, ctx: &str, correct: &[usize]) -> usize {
        let is_correct = |r: &ReplicaId| correct.contains(&(*r as usize));
        // One leader per epoch (Raft's Election Safety; a PBFT view has one primary): a
        // second correct leader in any epoch would make a set of size 2.
        let mut epochs = 0;
        for (epoch, ls) in &self.leaders {
            let ls: BTreeSet<&ReplicaId> = ls.iter().filter(|r| is_correct(r)).collect();
            assert!(ls.len() <= 1, "{ctx}: epoch {epoch} had leaders {ls:?}");
            epochs += usize::from(!ls.is_empty());
        }
        for &i in correct {
            let mut seen = BTreeSet::new();
            let mut last = 0;
            for c in &self.commits[i] {
                // Slots come out strictly increasing: execution is in log order.
                assert!(
                    c.slot > last,
                    "{ctx}: replica {i} committed slot {} after {last}",
                    c.slot
                );
                last = c.slot;
                // Where the protocol promises it, a request executes at most once.
                assert!(
                    !C::AT_MOST_ONCE || seen.insert(c.request.id),
                    "{ctx}: replica {i} executed {} twice",
                    c.request.id
                );
            }
        }
        // One request per slot: any two correct replicas agree on every slot both report, so
        // no slot ever holds two different requests. With GAPLESS, a slot one reports up to
        // the shorter one's last the other reports too, or skipped by installing a state
        // transfer: no replica skipped or reordered one except by taking the state whole.
        // Without transfers that is "one committed sequence is a prefix of the other".
        let skipped =
            |i: usize, slot: u64| self.installs[i].iter().any(|&(a, b)| a < slot && slot <= b);
        let last = |m: &BTreeMap<u64, u64>| m.keys().next_back().copied().unwrap_or(0);
        for (k, &i) in correct.iter().enumerate() {
            let a = self.slots(i);
            for &j in &correct[..k] {
                let b = self.slots(j);
                let upto = if C::GAPLESS {
                    last(&a).min(last(&b))
                } else {
                    u64::MAX
                };
                for (x, y, mx, my) in [(i, j, &a, &b), (j, i, &b, &a)] {
                    for (&slot, &id) in mx.range(..=upto) {
                        match my.get(&slot) {
                            Some(&other) => assert_eq!(
                                id, other,
                                "{ctx}: slot {slot}: replica {x} committed {id}, {y} {other}"
                            ),
                            None => assert!(
                                !C::GAPLESS || skipped(y, slot),
                                "{ctx}: replica {y} skipped slot {slot} that {x} committed"
                            ),
                        }
                    }
                }
            }
        }
        epochs
    }
}
