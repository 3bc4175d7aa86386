//! Raft, as an adapter over the `raft` crate (tikv raft-rs 0.7.0, pinned): the crate owns the
//! protocol, this module owns time, the disk model and the randomness.
//!
//! **What it models.** One [`RaftReplica`] wraps a `RawNode` over a `MemStorage` that stands
//! for the replica's disk. The logical clock ticks every [`RaftConfig::tick`]; each `Ready` is
//! handled in the order raft-rs documents (raft-rs `RawNode::ready` docs and raft thesis
//! §10.2.1): messages that need no persisted state leave at once (a leader's appends go out
//! in parallel with its own write); entries and hard state are written to storage; the write
//! becomes durable one [`RaftConfig::fsync`] later on a disk that completes writes in order,
//! one at a time; messages that must follow persistence (votes, append responses:
//! `persisted_messages`) leave when it is durable; committed entries are applied — raft-rs
//! only hands out entries that are both committed and locally persisted, so an entry is
//! applied no earlier than its own fsync. Every message carries its real protobuf size.
//!
//! **Log compaction and snapshots** (state transfer, off by default). With
//! [`RaftConfig::snapshot_every`] set, every replica compacts its log after applying, keeping
//! the last [`RaftConfig::catch_up_entries`] applied entries (etcd's `SnapshotCount` /
//! `SnapshotCatchUpEntries`). A leader that no longer holds the entries a follower needs sends
//! raft-rs's `MsgSnapshot`, whose wire size is its metadata plus the modelled state
//! ([`RaftConfig::state_bytes`]); [`Consensus::is_state_transfer`] tells the world to carry it
//! in bulk, and the world reports the outcome through [`Consensus::state_transfer_done`]
//! (raft-rs `report_snapshot`). The follower installs it as a durable write costing one fsync,
//! ahead of entries in the same `Ready` (raft-rs's documented order); its answer leaves when
//! that write is durable. Its applied index jumps to the snapshot's: the entries it covers
//! arrive as state, so they are not reported as commits by that replica.
//!
//! **Closed form** (quiet cluster, one-way delay `d`, fsync `F`, leader already elected):
//! the leader appends at `t`, sends at once and starts its fsync (done `t+F`); a follower
//! receives at `t+d`, is durable at `t+d+F` and answers; the answer arrives at `t+2d+F`. With
//! a majority of such answers the leader commits and applies at `max(t+F, t+2d+F) = t+2d+F`
//! (its own write is off the critical path). Followers apply when the next append or heartbeat
//! carries the new commit index.
//!
//! **Determinism.** raft-rs draws the randomized election timeout from `rand::thread_rng()`
//! (`Raft::reset_randomized_election_timeout`, called by every `become_*` through `reset`).
//! After every call into the node we compare `(term, role, leader)` with what we saw last;
//! every path into `reset` changes at least one of them (read in raft.rs 0.7.0: all
//! `become_follower` calls either raise the term or leave the candidate/leader role), and
//! then we overwrite the timeout from our stream `raft/<replica>/election`. A `debug_assert`
//! checks that no reset went unnoticed. The crate's other maps use `FxHasher`; its
//! `AckIndexer` uses std's `RandomState` but only for lookups: the run-twice tests cover it.
//!
//! **Left out.** Membership changes, pre-vote and check-quorum (raft-rs defaults: off),
//! read-index, and CPU time for handling a message. Taking a snapshot costs nothing (etcd v3.5
//! saves it from a background goroutine; recalled) and the snapshot's content is not stored: `MemStorage`
//! describes the state on demand at its commit index, which may be a few entries past what
//! the leader itself has applied (a real leader sends a snapshot it took earlier, at or below
//! its applied index); etcd's pause of compaction while a snapshot is in flight is not needed
//! for that reason. `MemStorage::compact` keeps no term for the entry just before the first
//! one, so a follower needing exactly the first entry also gets a snapshot (etcd's
//! `MemoryStorage` keeps that term in a dummy entry). Writes are written to the `MemStorage`
//! when issued, so a crash inside an fsync window keeps them (safe: nothing claimed durable
//! is lost; it only errs towards a luckier disk); messages already handed to the world still
//! leave. A snapshot `Ready` is advanced in raft-rs at once rather than after its fsync (see
//! `handle_ready`); only raft-rs's internal `persisted` index runs ahead, not any message.
//!
//! **Invariants.** Commits come out in log order, each slot at most once per replica, also
//! across crash/restart (the applied index is kept with the state machine, like etcd's
//! consistent index); a replica skips slots only by installing a snapshot that covers them;
//! the log never drops an entry that is not yet applied; no wall clock and no global RNG
//! reach behaviour.

use std::collections::VecDeque;

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, EntryType, Message, MessageType};
use raft::storage::MemStorage;
use raft::{Config, RawNode, SnapshotStatus, StateRole};
use rand::Rng;

use super::{Commit, Consensus, Outgoing, Outputs, ReplicaId, Request};
use crate::engine::{RngStreams, SimDuration, SimRng, SimTime};

/// etcd server's `maxSizePerMsg`, 1 MiB (`server/etcdserver/raft.go`; recalled, not re-read
/// here): the largest append message the leader batches.
const MAX_SIZE_PER_MSG: u64 = 1024 * 1024;
/// etcd server's `maxInflightMsgs = 4096 / 8` appends in flight per follower (same file,
/// same caveat). Our tests never come near it.
const MAX_INFLIGHT_MSGS: usize = 512;
/// Bytes of the request header inside an entry: id (u64 LE) and payload size (u32 LE).
const HEADER_BYTES: usize = 12;
/// etcd server's `DefaultSnapshotCatchUpEntries` (`server/etcdserver/server.go`, read in the
/// v3.5 source): applied entries kept in the log after a snapshot so that a follower a little
/// behind catches up by appends rather than by a whole snapshot.
pub const ETCD_SNAPSHOT_CATCH_UP_ENTRIES: u64 = 5000;
/// Largest [`RaftConfig::state_bytes`]: [`Outgoing::bytes`] is a `u32`, and a snapshot message
/// adds its own metadata (well under one append message's worth) on top of the state.
pub const MAX_STATE_BYTES: u64 = u32::MAX as u64 - MAX_SIZE_PER_MSG;

/// Raft timing and cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaftConfig {
    /// Group size.
    pub n: u32,
    /// Length of one logical tick of raft-rs (virtual time).
    pub tick: SimDuration,
    /// Ticks between leader heartbeats.
    pub heartbeat_tick: u32,
    /// Minimum election timeout in ticks; the timeout is drawn uniformly from
    /// `[election_tick, 2 * election_tick)`, raft-rs's default range.
    pub election_tick: u32,
    /// Upper end (exclusive) of the election timeout draw, in ticks; `None`: raft-rs's
    /// default `2 * election_tick`. A narrow range makes split votes likely (Raft §9.3).
    pub max_election_tick: Option<u32>,
    /// Modelled latency of one durable write (fsync) of log entries and hard state.
    pub fsync: SimDuration,
    /// Bytes an entry's payload takes beyond the request's own `bytes` (application framing);
    /// added as padding, so it shows in the encoded message size.
    pub entry_overhead: u32,
    /// Log compaction period in entries. `Some(k)`: once the log holds `k + catch_up_entries`
    /// applied entries, the replica snapshots its state at its applied index and compacts the
    /// log down to the last [`RaftConfig::catch_up_entries`] of them, so the log keeps between
    /// `catch_up_entries` and `k + catch_up_entries` applied entries (plus any not yet
    /// applied). This is etcd's rule (`triggerSnapshot`: snapshot once
    /// `appliedi - snapi > SnapshotCount`, then `Compact(snapi - SnapshotCatchUpEntries)`;
    /// etcd `server/etcdserver/server.go`, read in the v3.5 source) with the last snapshot
    /// index taken as `first log index - 1 + catch_up_entries`, which the log itself stores,
    /// so nothing extra must survive a crash; etcd's strict `>` becomes `>=`. etcd's default
    /// count is 100,000. `None`: never compact (the log grows without bound).
    pub snapshot_every: Option<u64>,
    /// Applied entries kept after a compaction (etcd `SnapshotCatchUpEntries`, default 5000);
    /// at least 1 when compaction is on, as raft-rs needs the term of the applied entry.
    pub catch_up_entries: u64,
    /// Modelled size of the replicated state machine in bytes: the payload of a snapshot
    /// message on the wire. The snapshot itself carries no data; this many bytes are added to
    /// its [`Outgoing::bytes`]. At most [`MAX_STATE_BYTES`].
    pub state_bytes: u64,
}

impl Default for RaftConfig {
    /// Same as [`RaftConfig::internet`] with 3 replicas.
    fn default() -> Self {
        RaftConfig::internet(3)
    }
}

impl RaftConfig {
    /// WAN settings, etcd's defaults: heartbeat 100 ms and election timeout 1000 ms (etcd docs,
    /// "Tuning": `--heartbeat-interval` 100 ms, `--election-timeout` 1000 ms), i.e. a 100 ms
    /// tick, heartbeat 1 tick, election 10 ticks. fsync 1 ms: an *assumption* (no measured
    /// source read) for a server SSD; etcd's docs ask for WAL fsync p99 under 10 ms, roughly a
    /// spinning disk, and SSDs with power-loss protection sync in ~0.1–1 ms. No log compaction
    /// (`snapshot_every: None`) and an empty state, so runs that never need state transfer
    /// behave as before it existed.
    pub fn internet(n: u32) -> Self {
        RaftConfig {
            n,
            tick: SimDuration::from_millis(100),
            heartbeat_tick: 1,
            election_tick: 10,
            max_election_tick: None,
            fsync: SimDuration::from_millis(1),
            entry_overhead: 0,
            snapshot_every: None,
            catch_up_entries: ETCD_SNAPSHOT_CATCH_UP_ENTRIES,
            state_bytes: 0,
        }
    }

    /// Datacenter settings: a 10 ms tick (heartbeat 10 ms, election 100–200 ms), keeping
    /// etcd's 1:10 heartbeat-to-election ratio (its tuning guide: heartbeat near the RTT,
    /// election at least 10× the RTT), which sub-millisecond RTTs easily meet; ACP v3's datacenter
    /// Raft gives consensus a 100 ms timeout (seed-system §1.4), which this election range
    /// matches. fsync 0.1 ms: an *assumption* for an NVMe SSD with power-loss protection.
    /// Compaction off and state empty, as in [`RaftConfig::internet`].
    pub fn datacenter(n: u32) -> Self {
        RaftConfig {
            n,
            tick: SimDuration::from_millis(10),
            heartbeat_tick: 1,
            election_tick: 10,
            max_election_tick: None,
            fsync: SimDuration::from_micros(100),
            entry_overhead: 0,
            snapshot_every: None,
            catch_up_entries: ETCD_SNAPSHOT_CATCH_UP_ENTRIES,
            state_bytes: 0,
        }
    }

    /// End (exclusive) of the election timeout range in ticks.
    pub fn max_election_tick(&self) -> u32 {
        self.max_election_tick.unwrap_or(2 * self.election_tick)
    }

    fn raft_config(&self, id: u64, applied: u64) -> Config {
        Config {
            id,
            election_tick: self.election_tick as usize,
            heartbeat_tick: self.heartbeat_tick as usize,
            min_election_tick: self.election_tick as usize,
            max_election_tick: self.max_election_tick() as usize,
            applied,
            max_size_per_msg: MAX_SIZE_PER_MSG,
            max_inflight_msgs: MAX_INFLIGHT_MSGS,
            ..Default::default()
        }
    }
}

/// The payload of a request's log entry: header, then zero padding up to the request's size
/// plus `overhead`, so the encoded entry is as large as the real one.
pub fn encode_request(request: Request, overhead: u32) -> Vec<u8> {
    let len = (request.bytes as usize + overhead as usize).max(HEADER_BYTES);
    let mut data = vec![0u8; len];
    data[..8].copy_from_slice(&request.id.to_le_bytes());
    data[8..12].copy_from_slice(&request.bytes.to_le_bytes());
    data
}

/// The request a log entry carries; `None` for raft's own entries (empty, conf changes).
pub fn decode_request(entry: &Entry) -> Option<Request> {
    if entry.get_entry_type() != EntryType::EntryNormal || entry.data.len() < HEADER_BYTES {
        return None;
    }
    let d = &entry.data;
    Some(Request {
        id: u64::from_le_bytes(d[..8].try_into().expect("8 bytes")),
        bytes: u32::from_le_bytes(d[8..12].try_into().expect("4 bytes")),
    })
}

/// One Raft replica (raft id = replica + 1, as raft-rs reserves 0).
pub struct RaftReplica {
    id: ReplicaId,
    config: RaftConfig,
    /// The disk: survives crashes.
    storage: MemStorage,
    /// `None` while crashed.
    node: Option<RawNode<MemStorage>>,
    /// Election timeout draws.
    election_rng: SimRng,
    /// Next logical tick.
    next_tick: Option<SimTime>,
    /// Writes in flight: (durable at, last Ready number in the write), oldest first.
    persisting: VecDeque<(SimTime, u64)>,
    /// Last log index applied (kept across crashes with the state machine).
    applied: u64,
    /// `(term, role, leader)` after the last call, to notice raft-rs's internal resets.
    seen: (u64, StateRole, u64),
    /// The timeout we set last, to check that no reset slipped past.
    timeout_set: usize,
    /// Number of election timeouts drawn so far (for tests and traces).
    pub elections_drawn: u64,
    logger: slog::Logger,
}

impl RaftReplica {
    /// Replica `id` of a group of `config.n`; randomness from `streams`'s
    /// `raft/<id>/election` stream.
    pub fn new(id: ReplicaId, config: RaftConfig, streams: &RngStreams) -> Self {
        assert!(id < config.n, "replica {id} out of a group of {}", config.n);
        assert!(config.election_tick > config.heartbeat_tick && config.heartbeat_tick > 0);
        assert!(config.max_election_tick() > config.election_tick);
        if let Some(every) = config.snapshot_every {
            assert!(
                every > 0 && config.catch_up_entries > 0,
                "raft replica {id}: snapshot_every ({every}) and catch_up_entries ({}) must be \
                 at least 1 when compaction is on",
                config.catch_up_entries
            );
        }
        assert!(
            config.state_bytes <= MAX_STATE_BYTES,
            "raft replica {id}: state_bytes {} above {MAX_STATE_BYTES} (message sizes are u32)",
            config.state_bytes
        );
        let voters: Vec<u64> = (1..=config.n as u64).collect();
        let storage = MemStorage::new_with_conf_state(ConfState::from((voters, vec![])));
        RaftReplica {
            id,
            config,
            storage,
            node: None,
            election_rng: streams.stream(&format!("raft/{id}/election")),
            next_tick: None,
            persisting: VecDeque::new(),
            applied: 0,
            seen: (0, StateRole::Follower, 0),
            timeout_set: 0,
            elections_drawn: 0,
            logger: slog::Logger::root(slog::Discard, slog::o!()),
        }
    }

    /// The wrapped node, e.g. to read raft-rs's `Status`; `None` while crashed.
    pub fn raw_node(&self) -> Option<&RawNode<MemStorage>> {
        self.node.as_ref()
    }

    /// The persisted storage (the disk).
    pub fn storage(&self) -> &MemStorage {
        &self.storage
    }

    /// Last log index applied to the state machine, by entries or by an installed snapshot
    /// (kept across crashes). The world compares it with the leader's
    /// [`RaftReplica::commit_index`] to tell when a lagging replica has caught up.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// raft-rs's commit index (`RaftLog::committed`); `None` while crashed.
    pub fn commit_index(&self) -> Option<u64> {
        self.node.as_ref().map(|n| n.raft.raft_log.committed)
    }

    /// First index still in the log on disk: 1 until the first compaction or snapshot install.
    pub fn first_log_index(&self) -> u64 {
        raft::Storage::first_index(&self.storage)
            .unwrap_or_else(|e| panic!("raft replica {}: MemStorage first_index: {e}", self.id))
    }

    /// The current randomized election timeout in ticks (`None` while crashed).
    pub fn election_timeout_ticks(&self) -> Option<usize> {
        self.node
            .as_ref()
            .map(|n| n.raft.randomized_election_timeout())
    }

    fn boot(&mut self, now: SimTime, out: &mut Outputs<Message>) {
        let cfg = self.config.raft_config(self.id as u64 + 1, self.applied);
        let node = RawNode::new(&cfg, self.storage.clone(), &self.logger)
            .unwrap_or_else(|e| panic!("raft replica {} at {now}: RawNode::new: {e}", self.id));
        self.node = Some(node);
        self.persisting.clear();
        self.next_tick = Some(now + self.config.tick);
        // Raft::new already drew a timeout from thread_rng: replace it.
        self.redraw_election_timeout();
        self.handle_ready(now, out);
    }

    fn redraw_election_timeout(&mut self) {
        let node = self.node.as_mut().expect("running");
        let min = self.config.election_tick as usize;
        let t = self
            .election_rng
            .random_range(min..self.config.max_election_tick() as usize);
        node.raft.set_randomized_election_timeout(t);
        self.timeout_set = t;
        self.elections_drawn += 1;
        let r = &node.raft;
        self.seen = (r.term, r.state, r.leader_id);
    }

    /// After any call into raft-rs: if it may have reset its election timer, redraw.
    fn fix_election_timeout(&mut self) {
        let node = self.node.as_ref().expect("running");
        let r = &node.raft;
        if (r.term, r.state, r.leader_id) != self.seen {
            self.redraw_election_timeout();
        } else {
            debug_assert_eq!(
                r.randomized_election_timeout(),
                self.timeout_set,
                "raft replica {}: raft-rs reset its election timeout without a term/role/leader change",
                self.id
            );
        }
    }

    /// Queues `msgs` to leave at `at`. A snapshot's wire size is its encoding (metadata only:
    /// `MemStorage` snapshots carry no data) plus the modelled state, [`RaftConfig::state_bytes`].
    fn emit(&self, msgs: Vec<Message>, at: SimTime, out: &mut Outputs<Message>) {
        for m in msgs {
            let to = (m.to - 1) as ReplicaId;
            let mut bytes = m.compute_size();
            if Self::is_state_transfer(&m) {
                // Cannot overflow: `new` bounds state_bytes by MAX_STATE_BYTES.
                bytes = u32::try_from(u64::from(bytes) + self.config.state_bytes)
                    .unwrap_or_else(|_| panic!("raft replica {}: snapshot size overflow", self.id));
            }
            out.messages.push(Outgoing {
                to,
                bytes,
                send_at: at,
                msg: m,
            });
        }
    }

    /// Applies committed entries in log order. Entries at or below `applied` are skipped: they
    /// were applied before a crash, or covered by an installed snapshot (after which the next
    /// entry is `snapshot index + 1`).
    fn apply(&mut self, entries: Vec<Entry>, now: SimTime, out: &mut Outputs<Message>) {
        for e in entries {
            if e.index <= self.applied {
                continue;
            }
            assert_eq!(
                e.index,
                self.applied + 1,
                "raft replica {} at {now}: applying out of order",
                self.id
            );
            self.applied = e.index;
            if let Some(request) = decode_request(&e) {
                out.commits.push(Commit {
                    slot: e.index,
                    request,
                    at: now,
                });
            }
        }
    }

    /// Drains every `Ready` (raft-rs's documented order), then fixes the election timeout.
    fn handle_ready(&mut self, now: SimTime, out: &mut Outputs<Message>) {
        self.fix_election_timeout();
        loop {
            let node = self.node.as_mut().expect("running");
            if !node.has_ready() {
                break;
            }
            let mut rd = node.ready();
            // 1. Messages that need nothing persisted (a leader's appends, heartbeats).
            let now_msgs = rd.take_messages();
            self.emit(now_msgs, now, out);
            // 2. Write to the disk (durable after the fsync below): a snapshot first, as raft-rs
            // documents ("apply the snapshot at first"; lib.rs, "Processing the Ready State"),
            // then entries, then the hard state.
            let snap_index = rd.snapshot().get_metadata().index;
            if snap_index > 0 {
                self.install_snapshot(rd.snapshot().clone(), now);
            }
            let entries = rd.take_entries();
            if !entries.is_empty() {
                self.storage
                    .wl()
                    .append(&entries)
                    .unwrap_or_else(|e| panic!("raft replica {} at {now}: append: {e}", self.id));
            }
            if let Some(hs) = rd.hs() {
                self.storage.wl().set_hardstate(hs.clone());
            }
            // 3. Committed (and locally persisted) entries.
            let committed = rd.take_committed_entries();
            self.apply(committed, now, out);
            // 4. When this Ready is durable: one fsync after the disk is free if it must sync,
            // else with the write in flight (or at once).
            let last_done = self.persisting.back().map(|&(t, _)| t);
            let done = if rd.must_sync() {
                last_done.unwrap_or(now).max(now) + self.config.fsync
            } else {
                last_done.unwrap_or(now)
            };
            let persisted_msgs = rd.take_persisted_messages();
            self.emit(persisted_msgs, done, out);
            let node = self.node.as_mut().expect("running");
            let sync = done <= now && self.persisting.is_empty();
            if sync || snap_index > 0 {
                // A snapshot Ready is advanced synchronously even though its fsync is still
                // pending: raft-rs drops the snapshot from its unstable log at once, after which
                // its `hup` reads entries from `applied + 1`, below the new first index, and
                // panics (raft.rs `hup`, "unexpected error getting unapplied entries") unless
                // `applied` has reached the snapshot, which `applied_to` only allows once
                // raft-rs counts the snapshot persisted. The outside world still sees the
                // fsync: the answer to the snapshot leaves at `done` (above) and later writes
                // queue behind it on the disk.
                let number = rd.number();
                let mut light = node.advance_append(rd);
                if let Some(c) = light.commit_index() {
                    self.storage.wl().mut_hard_state().set_commit(c);
                }
                let at = if sync { now } else { done };
                let msgs = light.take_messages();
                let committed = light.take_committed_entries();
                debug_assert!(
                    sync || committed.is_empty(),
                    "raft replica {} at {now}: entries committed with a snapshot",
                    self.id
                );
                self.emit(msgs, at, out);
                self.apply(committed, at, out);
                if !sync {
                    self.persisting.push_back((done, number));
                }
            } else {
                let number = rd.number();
                node.advance_append_async(rd);
                self.persisting.push_back((done, number));
            }
            let node = self.node.as_mut().expect("running");
            node.advance_apply_to(self.applied);
            self.fix_election_timeout();
        }
        self.maybe_compact(now);
    }

    /// Installs a snapshot from the leader. The state it stands for was transferred whole, so
    /// `applied` jumps to its index and the entries it covers are never reported as commits
    /// here (other replicas report them); the log is replaced by the snapshot.
    fn install_snapshot(&mut self, snap: raft::eraftpb::Snapshot, now: SimTime) {
        let index = snap.get_metadata().index;
        // raft-rs restores only a snapshot at or above its commit index, which is at or
        // above what we applied.
        assert!(
            index >= self.applied,
            "raft replica {} at {now}: snapshot at {index} below applied {}",
            self.id,
            self.applied
        );
        self.storage
            .wl()
            .apply_snapshot(snap)
            .unwrap_or_else(|e| panic!("raft replica {} at {now}: apply_snapshot: {e}", self.id));
        self.applied = index;
    }

    /// Log compaction ([`RaftConfig::snapshot_every`]): once the log holds
    /// `snapshot_every + catch_up_entries` applied entries, drop all but the last
    /// `catch_up_entries` of them. With `MemStorage` the snapshot is implicit: the state
    /// machine is modelled, not stored, and `Storage::snapshot` describes it on demand at the
    /// disk's commit index when a follower needs entries that are gone.
    fn maybe_compact(&mut self, now: SimTime) {
        let Some(every) = self.config.snapshot_every else {
            return;
        };
        let keep = self.config.catch_up_entries;
        let first = self.first_log_index();
        if self.applied + 1 >= first + every + keep {
            // Keeps `applied + 1 - keep ..= applied`: `keep >= 1` leaves the applied entry, whose
            // term raft-rs needs, and `compact` may not pass raft-rs's applied index (its docs).
            self.storage
                .wl()
                .compact(self.applied + 1 - keep)
                .unwrap_or_else(|e| panic!("raft replica {} at {now}: compact: {e}", self.id));
        }
    }

    fn running(&self) -> bool {
        self.node.is_some()
    }
}

impl Consensus for RaftReplica {
    type Msg = Message;

    fn start(&mut self, now: SimTime, out: &mut Outputs<Message>) {
        self.boot(now, out);
    }

    /// Followers forward to the leader they know (raft-rs sends `MsgPropose`); with no known
    /// leader raft-rs drops the proposal and so do we.
    fn propose(&mut self, now: SimTime, request: Request, out: &mut Outputs<Message>) {
        let Some(node) = self.node.as_mut() else {
            return;
        };
        let data = encode_request(request, self.config.entry_overhead);
        // Err(ProposalDropped): no leader known or a leader transfer is under way.
        let _ = node.propose(Vec::new(), data);
        self.handle_ready(now, out);
    }

    fn step(&mut self, now: SimTime, _from: ReplicaId, msg: Message, out: &mut Outputs<Message>) {
        let Some(node) = self.node.as_mut() else {
            return;
        };
        // Errors are stale responses from peers raft-rs no longer tracks: nothing to do.
        let _ = node.step(msg);
        self.handle_ready(now, out);
    }

    fn is_state_transfer(msg: &Message) -> bool {
        msg.get_msg_type() == MessageType::MsgSnapshot
    }

    /// raft-rs keeps a follower it sent a snapshot to paused (progress state `Snapshot`) until
    /// told how the transfer went, or until the follower's answer shows it caught up.
    fn state_transfer_done(
        &mut self,
        now: SimTime,
        to: ReplicaId,
        delivered: bool,
        out: &mut Outputs<Message>,
    ) {
        let Some(node) = self.node.as_mut() else {
            return;
        };
        let status = if delivered {
            SnapshotStatus::Finish
        } else {
            SnapshotStatus::Failure
        };
        node.report_snapshot(to as u64 + 1, status);
        self.handle_ready(now, out);
    }

    fn on_timer(&mut self, now: SimTime, out: &mut Outputs<Message>) {
        if !self.running() {
            return;
        }
        // Durable writes first: they happened at or before any tick due now.
        let mut durable = None;
        while let Some(&(t, number)) = self.persisting.front() {
            if t > now {
                break;
            }
            durable = Some(number);
            self.persisting.pop_front();
        }
        if let Some(number) = durable {
            self.node
                .as_mut()
                .expect("running")
                .on_persist_ready(number);
            self.handle_ready(now, out);
        }
        while let Some(t) = self.next_tick.filter(|&t| t <= now) {
            self.next_tick = Some(t + self.config.tick);
            self.node.as_mut().expect("running").tick();
            self.handle_ready(now, out);
        }
    }

    fn poll_at(&self) -> Option<SimTime> {
        let tick = self.next_tick?;
        Some(match self.persisting.front() {
            Some(&(t, _)) => t.min(tick),
            None => tick,
        })
    }

    fn progress(&self) -> u64 {
        self.applied
    }

    fn is_leader(&self) -> bool {
        self.node
            .as_ref()
            .is_some_and(|n| n.raft.state == StateRole::Leader)
    }

    fn epoch(&self) -> u64 {
        match &self.node {
            Some(n) => n.raft.term,
            None => self.storage.rl().hard_state().term,
        }
    }

    /// Volatile state (role, progress, unpersisted-but-issued bookkeeping, timers) is gone;
    /// the `MemStorage` (log, hard state) and the applied index stay.
    fn crash(&mut self) {
        self.node = None;
        self.next_tick = None;
        self.persisting.clear();
    }

    fn restart(&mut self, now: SimTime, out: &mut Outputs<Message>) {
        assert!(
            !self.running(),
            "raft replica {} at {now}: restart while running",
            self.id
        );
        self.boot(now, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_roundtrip_and_real_size() {
        let r = Request {
            id: 0xdead_beef_1234,
            bytes: 1000,
        };
        let data = encode_request(r, 24);
        // The payload is the request's size plus framing, so the wire size is real.
        assert_eq!(data.len(), 1024);
        let e = Entry {
            data: data.into(),
            ..Default::default()
        };
        assert_eq!(decode_request(&e), Some(r));
        // Raft's own empty entry (a new leader's no-op) is not a request.
        assert_eq!(decode_request(&Entry::default()), None);
        // A tiny request still carries its header.
        assert_eq!(
            encode_request(Request { id: 1, bytes: 0 }, 0).len(),
            HEADER_BYTES
        );
    }

    #[test]
    fn single_node_elects_itself_and_commits_after_fsync() {
        let cfg = RaftConfig::datacenter(1);
        let mut r = RaftReplica::new(0, cfg, &RngStreams::new(7));
        let mut out = Outputs::default();
        r.start(SimTime::ZERO, &mut out);
        let timeout = r.election_timeout_ticks().unwrap();
        // The timeout comes from our stream, within raft-rs's [min, 2*min) range.
        assert!((10..20).contains(&timeout));
        while !r.is_leader() {
            let t = r.poll_at().unwrap();
            r.on_timer(t, &mut out);
        }
        // Let the new leader's no-op entry become durable (well within one 10 ms tick).
        let now = r.poll_at().unwrap() + SimDuration::from_millis(1);
        while r.poll_at().unwrap() < now {
            let t = r.poll_at().unwrap();
            r.on_timer(t, &mut out);
        }
        r.propose(now, Request { id: 9, bytes: 100 }, &mut out);
        assert!(out.commits.is_empty(), "not durable yet, so not applied");
        // The only thing pending is the fsync: it completes exactly F later.
        let t = r.poll_at().unwrap();
        assert_eq!(t, now + cfg.fsync);
        r.on_timer(t, &mut out);
        assert_eq!(out.commits.len(), 1);
        assert_eq!(out.commits[0].request.id, 9);
        assert_eq!(out.commits[0].at, now + cfg.fsync);
    }

    /// Drives a single-node group (it elects itself) until `t`.
    fn run_single(r: &mut RaftReplica, t: SimTime, out: &mut Outputs<Message>) {
        while let Some(at) = r.poll_at().filter(|&at| at <= t) {
            r.on_timer(at, out);
        }
    }

    #[test]
    fn compaction_keeps_catch_up_entries_and_bounds_the_log() {
        let cfg = RaftConfig {
            snapshot_every: Some(5),
            catch_up_entries: 2,
            ..RaftConfig::datacenter(1)
        };
        let mut r = RaftReplica::new(0, cfg, &RngStreams::new(7));
        let mut out = Outputs::default();
        r.start(SimTime::ZERO, &mut out);
        let mut now = SimTime::ZERO + SimDuration::from_millis(500);
        run_single(&mut r, now, &mut out);
        assert!(r.is_leader());
        for id in 0..40 {
            r.propose(now, Request { id, bytes: 10 }, &mut out);
            now += SimDuration::from_millis(1);
            run_single(&mut r, now, &mut out);
            let applied_in_log = r.applied() + 1 - r.first_log_index();
            // The rule: compact as soon as the log holds every + keep = 7 applied entries, down
            // to keep = 2; so after any call it holds at most 6, and at least 2 once compacted.
            assert!(
                applied_in_log < 7,
                "id {id}: {applied_in_log} applied in log"
            );
            if r.first_log_index() > 1 {
                assert!(
                    applied_in_log >= 2,
                    "id {id}: {applied_in_log} applied in log"
                );
            }
        }
        // 41 entries (the leader's no-op and 40 requests), all applied and reported.
        assert_eq!(r.applied(), 41);
        assert_eq!(r.commit_index(), Some(41));
        assert_eq!(out.commits.len(), 40);
        // Compactions at applied 7, 12, ..., 37 (each keeps the last 2): first index 36.
        assert_eq!(r.first_log_index(), 36);
        // A restart recovers from the compacted log without replaying anything.
        r.crash();
        assert_eq!(r.commit_index(), None);
        r.restart(now, &mut out);
        run_single(&mut r, now + SimDuration::from_millis(500), &mut out);
        assert_eq!(out.commits.len(), 40);
        assert!(r.is_leader());
    }

    #[test]
    fn snapshot_wire_size_includes_the_state() {
        let cfg = RaftConfig {
            state_bytes: 10_000_000,
            ..RaftConfig::datacenter(3)
        };
        let r = RaftReplica::new(0, cfg, &RngStreams::new(7));
        let mut snap = Message::default();
        snap.set_msg_type(MessageType::MsgSnapshot);
        snap.to = 2;
        snap.mut_snapshot().mut_metadata().index = 100;
        let mut append = snap.clone();
        append.set_msg_type(MessageType::MsgAppend);
        let mut out = Outputs::default();
        r.emit(vec![snap.clone(), append.clone()], SimTime::ZERO, &mut out);
        // Only the snapshot carries the state: metadata encoding plus 10 MB.
        assert!(RaftReplica::is_state_transfer(&snap));
        assert!(!RaftReplica::is_state_transfer(&append));
        assert_eq!(out.messages[0].bytes, snap.compute_size() + 10_000_000);
        assert_eq!(out.messages[1].bytes, append.compute_size());
        assert_eq!(out.messages[0].to, 1);
    }
}
