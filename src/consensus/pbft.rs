//! PBFT (Castro & Liskov, "Practical Byzantine Fault Tolerance", OSDI 1999) as a sans-I/O
//! state machine implementing [`Consensus`].
//!
//! **What it models.** The normal case (§4.2: pre-prepare → prepare → commit, execution in
//! sequence order), checkpoints and garbage collection with watermarks (§4.3), view changes
//! with the new-view computation of the O set (§4.4) and the liveness rules of §4.5.2 (timer
//! doubling, joining a view change on f+1 view-change messages). Authentication is a modelled
//! CPU cost and a byte count, not real cryptography: a per-message cost (MAC authenticator
//! or signature, [`PbftConfig::mac_cost`], [`PbftConfig::signature_cost`]) is queued on one
//! sequential CPU (`cpu_free_at`) and every outgoing message leaves when its authenticator is
//! done.
//!
//! **What it leaves out.** No request batching, no replies (the caller sees
//! [`Outputs::commits`]; a client waits for f+1 of them, as for f+1 replies), no tentative
//! execution or read-only optimisation (§5.1). Certificates inside view-change and new-view
//! messages are carried as summaries: since a faulty replica cannot forge the signed or
//! MAC'ed messages a certificate consists of, the Byzantine [`Behaviour`]s here never alter
//! view-change or new-view contents, and receivers trust the summaries (they still recompute
//! the new-view O set, §4.4). State transfer is modelled as adopting a stable checkpoint's
//! state digest: slots skipped that way are not reported in `out.commits`, and the replica's
//! duplicate-request table does not learn the skipped requests (a re-ordered duplicate of one
//! of them would execute again at that replica only; the real state transfer carries the
//! last-reply table).
//!
//! **Crash model.** [`Consensus::crash`] keeps what a replica vouched for, as if written to
//! stable storage before sending (view, accepted pre-prepares, prepared and committed
//! certificates, executed prefix and state digest, stable checkpoint) so that a restarted
//! replica never contradicts itself; it loses everything received from others that had not
//! yet formed a certificate (prepare/commit/checkpoint/view-change votes, buffered messages),
//! pending requests, timers and the CPU queue. A restarted replica catches up through the next
//! stable checkpoint or the next new-view message; one that slept through a view change stays
//! in its old view until the next view change (it joins it through the f+1 rule).
//!
//! **Invariants.** A correct replica accepts at most one pre-prepare per (view, seq) and so
//! sends at most one prepare digest per (view, seq); it executes slots strictly in sequence
//! order; it never accepts normal-case messages outside `(h, h + L]` (§4.3). Every collection
//! that is iterated is a `BTreeMap`/`BTreeSet`, so behaviour does not depend on hash order.

use std::collections::{BTreeMap, BTreeSet};

use super::{Commit, Consensus, Outgoing, Outputs, ReplicaId, Request};
use crate::engine::rng::stable_hash;
use crate::engine::{SimDuration, SimTime};

/// Request digest: a deterministic 64-bit stand-in for SHA-256 (the wire size counts 32 B).
pub type Digest = u64;

/// Parameters of one PBFT group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PbftConfig {
    /// Replicas in the group; n ≥ 4 and ideally n = 3f + 1 (the original warns otherwise,
    /// seed-system.md §1.4).
    pub n: u32,
    /// Sequence numbers between checkpoints, K (§4.3). The original checkpoints every 30 s of
    /// wall time (seed-system.md §1.4); a sequence-number interval is what the paper uses and
    /// keeps the state machine clock-free. Default 100.
    pub checkpoint_interval: u64,
    /// Log size L: the high watermark is H = h + L (§4.3). Default 2 × K, the paper's
    /// suggestion ("L is big enough so that replicas do not stall waiting for a checkpoint").
    pub watermark_window: u64,
    /// T: how long a replica that has collected 2f+1 view-change messages waits for the
    /// new-view before moving on to the next view; doubled on each successive view change
    /// (§4.5.2). Default 5 s, the original's internet-mode PBFT timeout (seed-system.md §1.4).
    pub view_change_timeout: SimDuration,
    /// How long a backup waits for a request it knows of to execute before starting a view
    /// change (§4.4). Default 5 s, as above.
    pub request_timeout: SimDuration,
    /// CPU cost of one MAC (one entry of an authenticator, §4 "Optimizations"/MACs). An
    /// assumption: HMAC-SHA-256 over a ~100 B message takes ~1 µs on a current core. Default
    /// 1 µs.
    pub mac_cost: SimDuration,
    /// When set, every message carries a public-key signature of this CPU cost (64 B on the
    /// wire) instead of a MAC authenticator: the base protocol of §4, before the MAC
    /// optimisation. Default `None` (MACs).
    pub signature_cost: Option<SimDuration>,
}

impl PbftConfig {
    /// Defaults for `n` replicas, with the sources given on each field.
    pub fn new(n: u32) -> Self {
        PbftConfig {
            n,
            checkpoint_interval: 100,
            watermark_window: 200,
            view_change_timeout: SimDuration::from_secs(5),
            request_timeout: SimDuration::from_secs(5),
            mac_cost: SimDuration::from_micros(1),
            signature_cost: None,
        }
    }

    /// f = ⌊(n − 1) / 3⌋, the faults tolerated (seed-system.md §1.4, paper §2).
    pub fn f(&self) -> u32 {
        (self.n - 1) / 3
    }

    /// Commit (and checkpoint, view-change) quorum: ⌈(n + f + 1) / 2⌉, which is the paper's
    /// and the original's 2f + 1 when n = 3f + 1; for other n it is the size that still makes
    /// any two quorums share a correct replica (2f + 1 of, say, n = 5 would not).
    pub fn quorum(&self) -> u32 {
        (self.n + self.f() + 2) / 2
    }

    /// Prepares needed besides the pre-prepare: quorum − 1, i.e. 2f when n = 3f + 1 (§4.2;
    /// the original's prepare quorum 2f).
    pub fn prepare_quorum(&self) -> u32 {
        self.quorum() - 1
    }

    /// Bytes of the authenticator on one message: a MAC vector of n × 8 B (one 8-B truncated
    /// MAC per replica, §4 MAC authenticators) or a 64-B signature.
    pub fn auth_bytes(&self) -> u32 {
        match self.signature_cost {
            Some(_) => 64,
            None => self.n * 8,
        }
    }

    /// CPU time to authenticate one message for `recipients` receivers: one signature, or one
    /// MAC per receiver.
    pub fn auth_cost(&self, recipients: u32) -> SimDuration {
        match self.signature_cost {
            Some(s) => s,
            None => SimDuration::from_ps(self.mac_cost.as_ps() * recipients as u64),
        }
    }
}

/// How a replica behaves; everything but `Correct` is a Byzantine fault for tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Behaviour {
    #[default]
    /// Follows the protocol.
    Correct,
    /// Sends nothing at all.
    Silent,
    /// As primary, pre-prepares the real request to the lower half of the backups and a
    /// fabricated one under the same sequence number to the upper half, each with a commit
    /// vouching for what that half saw; otherwise correct. The fabricated request (id with
    /// the top bit flipped) could not exist in the real protocol, where clients sign their
    /// requests; here it may even commit, which is harmless to agreement among correct
    /// replicas, the property tested.
    EquivocatingPrimary,
    /// Sends prepares and commits whose digest is corrupted; otherwise correct.
    WrongDigest,
}

/// One prepared certificate of a view-change P set (§4.4): the pre-prepare's view, sequence
/// number, digest and request (`None`: null request), standing for the pre-prepare and the
/// 2f matching prepares that prove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreparedCert {
    /// View of the pre-prepare.
    pub view: u64,
    /// Sequence number it assigned.
    pub seq: u64,
    /// Digest of the request.
    pub digest: Digest,
    /// The request (`None`: the null request).
    pub request: Option<Request>,
}

/// The body of a view-change message (§4.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewChangeBody {
    /// The view the sender moves to (v+1).
    pub new_view: u64,
    /// n of the last stable checkpoint s, and its state digest (standing for the 2f+1
    /// checkpoint messages of the C set).
    pub last_stable: u64,
    /// State digest at `last_stable`.
    pub stable_digest: Digest,
    /// P: for each seq > s prepared at the sender, the certificate of the highest view.
    pub prepared: Vec<PreparedCert>,
    /// The sender.
    pub replica: ReplicaId,
}

/// A PBFT protocol message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PbftMsg {
    /// A client request relayed to the primary by a backup (§4.1).
    Request(Request),
    /// ⟨PRE-PREPARE, v, n, d⟩ with the request piggybacked (`None`: the null request of a
    /// new-view gap, §4.4).
    PrePrepare {
        /// View v.
        view: u64,
        /// Sequence number n.
        seq: u64,
        /// Request digest d.
        digest: Digest,
        /// The request piggybacked (`None`: null request).
        request: Option<Request>,
    },
    /// ⟨PREPARE, v, n, d, i⟩ (§4.2): backup `replica` accepted the pre-prepare.
    Prepare {
        /// View v.
        view: u64,
        /// Sequence number n.
        seq: u64,
        /// Request digest d.
        digest: Digest,
        /// The sender i.
        replica: ReplicaId,
    },
    /// ⟨COMMIT, v, n, d, i⟩ (§4.2): `replica` has the request prepared.
    Commit {
        /// View v.
        view: u64,
        /// Sequence number n.
        seq: u64,
        /// Request digest d.
        digest: Digest,
        /// The sender i.
        replica: ReplicaId,
    },
    /// ⟨CHECKPOINT, n, d, i⟩ (§4.3).
    Checkpoint {
        /// Sequence number n of the checkpoint.
        seq: u64,
        /// State digest d after executing up to n.
        state_digest: Digest,
        /// The sender i.
        replica: ReplicaId,
    },
    /// ⟨VIEW-CHANGE, v+1, n, C, P, i⟩ (§4.4).
    ViewChange(ViewChangeBody),
    /// ⟨NEW-VIEW, v+1, V, O⟩ (§4.4): the view-change messages it is built from and the
    /// pre-prepares it re-issues.
    NewView {
        /// The new view v+1.
        view: u64,
        /// V: the 2f+1 view-change messages it is built from.
        view_changes: Vec<ViewChangeBody>,
        /// O: the pre-prepares re-issued in the new view.
        pre_prepares: Vec<PreparedCert>,
    },
}

/// Wire bytes of the fields, for [`PbftMsg::encoded_len`].
const TYPE_B: u32 = 1;
const VIEW_B: u32 = 8;
const SEQ_B: u32 = 8;
const REPLICA_B: u32 = 4;
/// SHA-256, as the paper's MD5 would be today.
const DIGEST_B: u32 = 32;
/// Client id 4 B + timestamp 8 B + operation length 4 B (the request's ⟨REQUEST, o, t, c⟩).
const REQUEST_HEADER_B: u32 = 16;

fn request_len(r: &Option<Request>) -> u32 {
    r.map_or(0, |r| REQUEST_HEADER_B + r.bytes)
}

impl PbftMsg {
    /// Encoded bytes for a group configured by `cfg` (it fixes n and the authenticator):
    /// - Request: type + request header 16 B + payload + one 8-B MAC (point to point);
    /// - PrePrepare: type + view + seq + digest 32 B + piggybacked request (header + payload,
    ///   0 for a null request) + authenticator;
    /// - Prepare / Commit: type + view + seq + digest + replica + authenticator;
    /// - Checkpoint: type + seq + state digest + replica + authenticator;
    /// - ViewChange: type + new view + s + replica + C (quorum × checkpoint) + per P entry
    ///   (a pre-prepare without payload + (quorum − 1) prepares) + authenticator;
    /// - NewView: type + view + V (each view-change) + O (each pre-prepare with its request)
    ///   + authenticator.
    ///
    /// Authenticator: [`PbftConfig::auth_bytes`] (n × 8 B MAC vector or a 64-B signature).
    /// It takes the config, not `&self` alone, because n and the scheme are group-wide.
    pub fn encoded_len(&self, cfg: &PbftConfig) -> u32 {
        let auth = cfg.auth_bytes();
        let q = cfg.quorum();
        let vote = TYPE_B + VIEW_B + SEQ_B + DIGEST_B + REPLICA_B + auth;
        let checkpoint = TYPE_B + SEQ_B + DIGEST_B + REPLICA_B + auth;
        let pre_prepare =
            |r: &Option<Request>| TYPE_B + VIEW_B + SEQ_B + DIGEST_B + request_len(r) + auth;
        let view_change = |b: &ViewChangeBody| {
            TYPE_B
                + VIEW_B
                + SEQ_B
                + REPLICA_B
                + q * checkpoint
                + b.prepared.len() as u32 * (pre_prepare(&None) + (q - 1) * vote)
                + auth
        };
        match self {
            PbftMsg::Request(r) => TYPE_B + request_len(&Some(*r)) + 8,
            PbftMsg::PrePrepare { request, .. } => pre_prepare(request),
            PbftMsg::Prepare { .. } | PbftMsg::Commit { .. } => vote,
            PbftMsg::Checkpoint { .. } => checkpoint,
            PbftMsg::ViewChange(b) => view_change(b),
            PbftMsg::NewView {
                view_changes,
                pre_prepares,
                ..
            } => {
                TYPE_B
                    + VIEW_B
                    + view_changes.iter().map(view_change).sum::<u32>()
                    + pre_prepares
                        .iter()
                        .map(|p| pre_prepare(&p.request))
                        .sum::<u32>()
                    + auth
            }
        }
    }
}

/// Digest of a request; `None` is the null request.
pub fn request_digest(request: &Option<Request>) -> Digest {
    match request {
        Some(r) => {
            let mut b = [0u8; 12];
            b[..8].copy_from_slice(&r.id.to_le_bytes());
            b[8..].copy_from_slice(&r.bytes.to_le_bytes());
            stable_hash(0x5042_4654, &b)
        }
        None => stable_hash(0x5042_4654, b"null"),
    }
}

/// What a corrupting replica puts in place of a digest.
fn corrupt(d: Digest) -> Digest {
    d ^ 0xdead_beef_dead_beef
}

/// One sequence number's entry in the message log.
#[derive(Clone, Debug, Default)]
struct Slot {
    /// The accepted pre-prepare of the current view (persisted: we vouched for it).
    pre_prepare: Option<PreparedCert>,
    /// Prepares of the current view by digest (volatile).
    prepares: BTreeMap<Digest, BTreeSet<ReplicaId>>,
    /// Commits of the current view by digest (volatile).
    commits: BTreeMap<Digest, BTreeSet<ReplicaId>>,
    /// Our commit for the current view is out.
    sent_commit: bool,
    /// Highest-view prepared certificate (persisted; goes into view-change P sets).
    prepared: Option<PreparedCert>,
    /// Committed-local (persisted): final, executable in order.
    committed: Option<PreparedCert>,
}

/// A PBFT replica. See the module doc for what it models.
#[derive(Clone, Debug)]
pub struct PbftReplica {
    id: ReplicaId,
    cfg: PbftConfig,
    behaviour: Behaviour,
    crashed: bool,

    // --- persisted (survives crash) ---
    view: u64,
    /// In view `view` (false while changing to it).
    active: bool,
    log: BTreeMap<u64, Slot>,
    /// h: last stable checkpoint (low watermark) and its state digest.
    low: u64,
    stable_digest: Digest,
    last_exec: u64,
    state_digest: Digest,
    executed: BTreeSet<u64>,
    /// Own checkpoint digests not yet stable.
    my_checkpoints: BTreeMap<u64, Digest>,
    /// Primary: next sequence number to assign.
    next_seq: u64,
    /// Consecutive view changes without progress: the new-view wait is T × 2^backoff (§4.5.2).
    backoff: u32,

    // --- volatile ---
    /// Known, unexecuted requests (id → request), for the request timer and re-proposal.
    pending: BTreeMap<u64, Request>,
    /// Primary: requests waiting for the window to advance.
    backlog: BTreeMap<u64, Request>,
    checkpoint_votes: BTreeMap<u64, BTreeMap<ReplicaId, Digest>>,
    view_changes: BTreeMap<u64, BTreeMap<ReplicaId, ViewChangeBody>>,
    /// Normal-case messages for views we have not entered yet, replayed on entry.
    future: Vec<(ReplicaId, PbftMsg)>,
    request_timer: Option<SimTime>,
    new_view_timer: Option<SimTime>,
    /// New-view already sent for this view (as its primary).
    sent_new_view: Option<u64>,
    /// The new-view message of the view we lead, re-sent to replicas found lagging
    /// (persisted: it is what we vouched for as primary).
    new_view_msg: Option<PbftMsg>,
    /// When each lagging replica was last sent `new_view_msg` (at most once per T).
    new_view_resent: BTreeMap<ReplicaId, SimTime>,
    /// While changing view: when to multicast our view-change again.
    view_change_resend: Option<SimTime>,
    cpu_free_at: SimTime,
}

/// Cap on buffered future-view messages (a faulty replica must not grow it without bound).
const FUTURE_CAP: usize = 4096;

impl PbftReplica {
    /// Replica `id` of a group configured by `cfg`. Panics if n < 4 (seed-system.md §1.4) or
    /// the window is not a multiple of the checkpoint interval greater than it.
    pub fn new(id: ReplicaId, cfg: PbftConfig) -> Self {
        assert!(cfg.n >= 4, "PBFT needs n >= 4 (got {})", cfg.n);
        assert!(id < cfg.n, "replica {id} out of 0..{}", cfg.n);
        assert!(
            cfg.checkpoint_interval > 0 && cfg.watermark_window >= cfg.checkpoint_interval,
            "watermark window L={} must be >= checkpoint interval K={} > 0",
            cfg.watermark_window,
            cfg.checkpoint_interval
        );
        PbftReplica {
            id,
            cfg,
            behaviour: Behaviour::Correct,
            crashed: false,
            view: 0,
            active: true,
            log: BTreeMap::new(),
            low: 0,
            stable_digest: 0,
            last_exec: 0,
            state_digest: 0,
            executed: BTreeSet::new(),
            my_checkpoints: BTreeMap::new(),
            next_seq: 1,
            backoff: 0,
            pending: BTreeMap::new(),
            backlog: BTreeMap::new(),
            checkpoint_votes: BTreeMap::new(),
            view_changes: BTreeMap::new(),
            future: Vec::new(),
            request_timer: None,
            new_view_timer: None,
            sent_new_view: None,
            new_view_msg: None,
            new_view_resent: BTreeMap::new(),
            view_change_resend: None,
            cpu_free_at: SimTime::ZERO,
        }
    }

    /// Sets how this replica behaves from now on (tests inject Byzantine faults this way).
    pub fn set_behaviour(&mut self, b: Behaviour) {
        self.behaviour = b;
    }
    /// How this replica behaves.
    pub fn behaviour(&self) -> Behaviour {
        self.behaviour
    }
    /// This replica's index in its group.
    pub fn id(&self) -> ReplicaId {
        self.id
    }
    /// The configuration it was built with.
    pub fn config(&self) -> &PbftConfig {
        &self.cfg
    }
    /// Entries in the message log (bounded by L after garbage collection, §4.3).
    pub fn log_len(&self) -> usize {
        self.log.len()
    }
    /// h, the sequence number of the last stable checkpoint.
    pub fn low_watermark(&self) -> u64 {
        self.low
    }
    /// Highest sequence number executed.
    pub fn last_executed(&self) -> u64 {
        self.last_exec
    }
    /// Whether the replica is in its view (false while a view change is under way).
    pub fn in_view(&self) -> bool {
        self.active
    }

    fn primary_of(&self, view: u64) -> ReplicaId {
        (view % self.cfg.n as u64) as ReplicaId
    }
    fn in_window(&self, seq: u64) -> bool {
        seq > self.low && seq <= self.low + self.cfg.watermark_window
    }

    /// Queues the authenticator on the CPU and returns when the message may leave.
    fn charge(&mut self, now: SimTime, recipients: u32) -> SimTime {
        let start = self.cpu_free_at.max(now);
        self.cpu_free_at = start + self.cfg.auth_cost(recipients);
        self.cpu_free_at
    }

    fn send(&mut self, now: SimTime, to: ReplicaId, msg: PbftMsg, out: &mut Outputs<PbftMsg>) {
        if self.behaviour == Behaviour::Silent || to == self.id {
            return;
        }
        let send_at = self.charge(now, 1);
        out.messages.push(Outgoing {
            to,
            bytes: msg.encoded_len(&self.cfg),
            send_at,
            msg,
        });
    }

    /// Multicast to every other replica; one authenticator for all copies.
    fn broadcast(&mut self, now: SimTime, msg: PbftMsg, out: &mut Outputs<PbftMsg>) {
        if self.behaviour == Behaviour::Silent {
            return;
        }
        let msg = match (self.behaviour, msg) {
            (
                Behaviour::WrongDigest,
                PbftMsg::Prepare {
                    view,
                    seq,
                    digest,
                    replica,
                },
            ) => PbftMsg::Prepare {
                view,
                seq,
                digest: corrupt(digest),
                replica,
            },
            (
                Behaviour::WrongDigest,
                PbftMsg::Commit {
                    view,
                    seq,
                    digest,
                    replica,
                },
            ) => PbftMsg::Commit {
                view,
                seq,
                digest: corrupt(digest),
                replica,
            },
            (_, m) => m,
        };
        let send_at = self.charge(now, self.cfg.n - 1);
        let bytes = msg.encoded_len(&self.cfg);
        for to in (0..self.cfg.n).filter(|&r| r != self.id) {
            out.messages.push(Outgoing {
                to,
                bytes,
                send_at,
                msg: msg.clone(),
            });
        }
    }

    // ---------------------------------------------------------------- requests

    fn add_pending(&mut self, now: SimTime, r: Request) {
        if self.executed.contains(&r.id) {
            return;
        }
        self.pending.insert(r.id, r);
        if self.active && !self.is_primary() && self.request_timer.is_none() {
            self.request_timer = Some(now + self.cfg.request_timeout);
        }
    }

    fn is_primary(&self) -> bool {
        self.primary_of(self.view) == self.id
    }

    /// Whether a request already has a slot in the current view's log.
    fn in_log(&self, id: u64) -> bool {
        self.log.values().any(|s| {
            s.pre_prepare
                .is_some_and(|p| p.view == self.view && p.request.is_some_and(|r| r.id == id))
        })
    }

    /// Primary: assign `r` a sequence number if it is new and the window allows (§4.2, §4.3).
    fn order(&mut self, now: SimTime, r: Request, out: &mut Outputs<PbftMsg>) {
        if self.executed.contains(&r.id) || self.in_log(r.id) {
            return;
        }
        if !self.in_window(self.next_seq) {
            self.backlog.insert(r.id, r);
            return;
        }
        self.backlog.remove(&r.id);
        let seq = self.next_seq;
        self.next_seq += 1;
        let cert = PreparedCert {
            view: self.view,
            seq,
            digest: request_digest(&Some(r)),
            request: Some(r),
        };
        self.log.entry(seq).or_default().pre_prepare = Some(cert);
        self.pending.insert(r.id, r);
        let pp = PbftMsg::PrePrepare {
            view: self.view,
            seq,
            digest: cert.digest,
            request: Some(r),
        };
        if self.behaviour == Behaviour::EquivocatingPrimary {
            self.equivocate(now, cert, out);
        } else {
            self.broadcast(now, pp, out);
        }
        self.check(now, seq, out);
    }

    /// Equivocating primary: real request to the lower half of the backups, a fabricated one
    /// to the upper half, each with a commit matching what it saw.
    fn equivocate(&mut self, now: SimTime, cert: PreparedCert, out: &mut Outputs<PbftMsg>) {
        let r = cert.request.expect("equivocation needs a request");
        let fake = Request {
            id: r.id ^ (1 << 63),
            bytes: r.bytes,
        };
        let backups: Vec<ReplicaId> = (0..self.cfg.n).filter(|&b| b != self.id).collect();
        let half = backups.len() / 2;
        for (i, &to) in backups.iter().enumerate() {
            let req = if i < half { r } else { fake };
            let digest = request_digest(&Some(req));
            let (view, seq) = (cert.view, cert.seq);
            let pp = PbftMsg::PrePrepare {
                view,
                seq,
                digest,
                request: Some(req),
            };
            self.send(now, to, pp, out);
            let c = PbftMsg::Commit {
                view,
                seq,
                digest,
                replica: self.id,
            };
            self.send(now, to, c, out);
        }
    }

    // ---------------------------------------------------------------- normal case

    fn on_pre_prepare(
        &mut self,
        now: SimTime,
        from: ReplicaId,
        cert: PreparedCert,
        out: &mut Outputs<PbftMsg>,
    ) {
        // §4.2 acceptance: from the primary of its view, in our view, digest right, inside the
        // watermarks, and no other pre-prepare for (v, n).
        if from != self.primary_of(cert.view)
            || cert.view != self.view
            || !self.active
            || cert.digest != request_digest(&cert.request)
            || !self.in_window(cert.seq)
        {
            return;
        }
        let slot = self.log.entry(cert.seq).or_default();
        if let Some(p) = slot.pre_prepare {
            if p.view == cert.view {
                return; // first one wins; a different digest is equivocation, ignored
            }
        }
        slot.pre_prepare = Some(cert);
        if let Some(r) = cert.request {
            self.add_pending(now, r);
        }
        self.send_prepare(now, cert, out);
        self.check(now, cert.seq, out);
    }

    fn send_prepare(&mut self, now: SimTime, cert: PreparedCert, out: &mut Outputs<PbftMsg>) {
        if self.is_primary() {
            return; // the primary's pre-prepare stands for its prepare (§4.2)
        }
        let slot = self.log.entry(cert.seq).or_default();
        slot.prepares
            .entry(cert.digest)
            .or_default()
            .insert(self.id);
        let msg = PbftMsg::Prepare {
            view: cert.view,
            seq: cert.seq,
            digest: cert.digest,
            replica: self.id,
        };
        self.broadcast(now, msg, out);
    }

    /// Advances slot `seq`: prepared (pre-prepare + 2f matching prepares from backups) → send
    /// commit; committed-local (prepared + 2f+1 matching commits) → execute (§4.2).
    fn check(&mut self, now: SimTime, seq: u64, out: &mut Outputs<PbftMsg>) {
        let (pq, q) = (
            self.cfg.prepare_quorum() as usize,
            self.cfg.quorum() as usize,
        );
        let view = self.view;
        let id = self.id;
        let Some(slot) = self.log.get_mut(&seq) else {
            return;
        };
        let Some(pp) = slot.pre_prepare.filter(|p| p.view == view) else {
            return;
        };
        let prepares = slot.prepares.get(&pp.digest).map_or(0, |s| s.len());
        if prepares < pq {
            return;
        }
        if slot.prepared.is_none_or(|p| p.view <= view) {
            slot.prepared = Some(pp);
        }
        if !slot.sent_commit {
            slot.sent_commit = true;
            slot.commits.entry(pp.digest).or_default().insert(id);
            let msg = PbftMsg::Commit {
                view,
                seq,
                digest: pp.digest,
                replica: id,
            };
            self.broadcast(now, msg, out);
        }
        let slot = self.log.get_mut(&seq).expect("slot exists");
        let commits = slot.commits.get(&pp.digest).map_or(0, |s| s.len());
        if commits >= q && slot.committed.is_none() {
            slot.committed = Some(pp);
            self.execute(now, out);
        }
    }

    /// Executes committed slots in sequence order (§4.2); checkpoints every K (§4.3).
    fn execute(&mut self, now: SimTime, out: &mut Outputs<PbftMsg>) {
        loop {
            let next = self.last_exec + 1;
            let Some(cert) = self.log.get(&next).and_then(|s| s.committed) else {
                break;
            };
            self.last_exec = next;
            if let Some(r) = cert.request {
                // Duplicates (a request ordered twice) are not executed again (§4.1, client
                // timestamps).
                if self.executed.insert(r.id) {
                    out.commits.push(Commit {
                        slot: next,
                        request: r,
                        at: now,
                    });
                    self.backoff = 0; // progress in this view (§4.5.2)
                }
                self.pending.remove(&r.id);
                self.backlog.remove(&r.id);
                self.state_digest = stable_hash(self.state_digest, &r.id.to_le_bytes());
            }
            self.state_digest = stable_hash(self.state_digest, &next.to_le_bytes());
            if next.is_multiple_of(self.cfg.checkpoint_interval) {
                let d = self.state_digest;
                self.my_checkpoints.insert(next, d);
                let msg = PbftMsg::Checkpoint {
                    seq: next,
                    state_digest: d,
                    replica: self.id,
                };
                self.broadcast(now, msg, out);
                self.on_checkpoint(now, next, d, self.id, out);
            }
        }
        // §4.4: stop the timer when no longer waiting, restart it if waiting for another.
        self.request_timer = if self.pending.is_empty() || self.is_primary() || !self.active {
            None
        } else {
            Some(now + self.cfg.request_timeout)
        };
    }

    fn on_checkpoint(
        &mut self,
        now: SimTime,
        seq: u64,
        digest: Digest,
        replica: ReplicaId,
        out: &mut Outputs<PbftMsg>,
    ) {
        if seq <= self.low {
            return;
        }
        let votes = self.checkpoint_votes.entry(seq).or_default();
        votes.insert(replica, digest);
        let matching = votes.values().filter(|&&d| d == digest).count();
        if matching >= self.cfg.quorum() as usize {
            self.make_stable(now, seq, digest, out);
        }
    }

    /// A checkpoint with a 2f+1 proof: discard the log up to it and advance the watermarks
    /// (§4.3); if we are behind, adopt its state (state transfer, module doc).
    fn make_stable(&mut self, now: SimTime, seq: u64, digest: Digest, out: &mut Outputs<PbftMsg>) {
        if seq <= self.low {
            return;
        }
        self.low = seq;
        self.stable_digest = digest;
        self.log = self.log.split_off(&(seq + 1));
        self.checkpoint_votes = self.checkpoint_votes.split_off(&(seq + 1));
        self.my_checkpoints = self.my_checkpoints.split_off(&(seq + 1));
        if self.last_exec < seq {
            self.last_exec = seq;
            self.state_digest = digest;
            self.execute(now, out);
        }
        if self.next_seq <= seq {
            self.next_seq = seq + 1;
        }
        if self.active && self.is_primary() {
            let waiting: Vec<Request> = self.backlog.values().copied().collect();
            for r in waiting {
                self.order(now, r, out);
            }
        }
    }

    // ---------------------------------------------------------------- view change

    /// Moves to view change for `new_view` (§4.4): stop accepting normal-case messages and
    /// multicast a view-change with our stable checkpoint and prepared certificates.
    fn start_view_change(&mut self, now: SimTime, new_view: u64, out: &mut Outputs<PbftMsg>) {
        if new_view <= self.view {
            return; // already in it or changing to it
        }
        self.view = new_view;
        self.active = false;
        self.request_timer = None;
        self.new_view_timer = None;
        let body = ViewChangeBody {
            new_view,
            last_stable: self.low,
            stable_digest: self.stable_digest,
            prepared: self.log.values().filter_map(|s| s.prepared).collect(),
            replica: self.id,
        };
        self.broadcast(now, PbftMsg::ViewChange(body.clone()), out);
        self.view_change_resend = Some(now + self.cfg.view_change_timeout);
        self.on_view_change(now, body, out);
        // Messages already in for the new view (view-changes, new-view buffered) count.
        self.try_new_view(now, out);
    }

    fn on_view_change(&mut self, now: SimTime, body: ViewChangeBody, out: &mut Outputs<PbftMsg>) {
        if body.new_view < self.view || (body.new_view == self.view && self.active) {
            return;
        }
        self.view_changes
            .entry(body.new_view)
            .or_default()
            .insert(body.replica, body);
        // §4.5.2: f+1 view-changes for views above ours: join the smallest of them.
        let mut senders = BTreeSet::new();
        let mut smallest = None;
        for (&v, set) in self.view_changes.range(self.view + 1..) {
            senders.extend(set.keys().copied());
            smallest.get_or_insert(v);
        }
        if senders.len() > self.cfg.f() as usize {
            if let Some(v) = smallest {
                self.start_view_change(now, v, out);
                return;
            }
        }
        self.try_new_view(now, out);
    }

    /// With 2f+1 view-changes for the view we are changing to: arm the new-view timer (T ×
    /// 2^backoff, §4.5.2), and if we are its primary, send the new-view.
    fn try_new_view(&mut self, now: SimTime, out: &mut Outputs<PbftMsg>) {
        if self.active {
            return;
        }
        let view = self.view;
        let Some(set) = self.view_changes.get(&view) else {
            return;
        };
        if set.len() < self.cfg.quorum() as usize {
            return;
        }
        if self.new_view_timer.is_none() {
            let t = self.cfg.view_change_timeout.as_ps() << self.backoff.min(16);
            self.new_view_timer = Some(now + SimDuration::from_ps(t));
        }
        if self.primary_of(view) != self.id || self.sent_new_view == Some(view) {
            return;
        }
        self.sent_new_view = Some(view);
        let vcs: Vec<ViewChangeBody> = set.values().cloned().collect();
        let (min_s, stable_d, o) = compute_o(view, &vcs);
        let msg = PbftMsg::NewView {
            view,
            view_changes: vcs,
            pre_prepares: o.clone(),
        };
        self.new_view_msg = Some(msg.clone());
        self.new_view_resent.clear();
        self.broadcast(now, msg, out);
        self.enter_view(now, view, min_s, stable_d, o, out);
    }

    fn on_new_view(
        &mut self,
        now: SimTime,
        from: ReplicaId,
        view: u64,
        vcs: Vec<ViewChangeBody>,
        o: Vec<PreparedCert>,
        out: &mut Outputs<PbftMsg>,
    ) {
        if from != self.primary_of(view) || view < self.view || (view == self.view && self.active) {
            return;
        }
        // Verify V (2f+1 distinct senders for this view) and recompute O (§4.4).
        let senders: BTreeSet<ReplicaId> = vcs.iter().map(|b| b.replica).collect();
        if senders.len() != vcs.len()
            || senders.len() < self.cfg.quorum() as usize
            || vcs
                .iter()
                .any(|b| b.new_view != view || b.replica >= self.cfg.n)
        {
            return;
        }
        let (min_s, stable_d, expect) = compute_o(view, &vcs);
        if expect != o {
            return;
        }
        self.view = view;
        self.enter_view(now, view, min_s, stable_d, o, out);
    }

    /// Enters `view` with the new-view's O set: adopt its checkpoint, re-run the protocol for
    /// the re-issued pre-prepares (without re-executing, §4.4), and hand pending requests to
    /// the new primary.
    fn enter_view(
        &mut self,
        now: SimTime,
        view: u64,
        min_s: u64,
        stable_d: Digest,
        o: Vec<PreparedCert>,
        out: &mut Outputs<PbftMsg>,
    ) {
        self.view = view;
        self.new_view_timer = None;
        self.view_change_resend = None;
        if self.new_view_msg.as_ref().and_then(new_view_of) != Some(view) {
            self.new_view_msg = None;
        }
        self.view_changes = self.view_changes.split_off(&(view + 1));
        // Adopt the checkpoint while still inactive, so nothing is ordered before next_seq
        // is set below.
        if min_s > self.low {
            self.make_stable(now, min_s, stable_d, out);
        }
        self.active = true;
        for slot in self.log.values_mut() {
            slot.pre_prepare = None;
            slot.prepares.clear();
            slot.commits.clear();
            slot.sent_commit = false;
        }
        let max_s = o.iter().map(|c| c.seq).max().unwrap_or(0);
        if self.is_primary() {
            self.next_seq = max_s.max(min_s).max(self.low) + 1;
        }
        for cert in &o {
            if cert.seq <= self.low {
                continue;
            }
            self.log.entry(cert.seq).or_default().pre_prepare = Some(*cert);
            if let Some(r) = cert.request {
                self.add_pending(now, r);
            }
            self.send_prepare(now, *cert, out);
        }
        // Replay buffered messages of this view (arrived before the new-view).
        let future = std::mem::take(&mut self.future);
        let (now_msgs, later): (Vec<_>, Vec<_>) = future
            .into_iter()
            .partition(|(_, m)| msg_view(m) == Some(view));
        self.future = later
            .into_iter()
            .filter(|(_, m)| msg_view(m) > Some(view))
            .collect();
        for (from, m) in now_msgs {
            self.step_inner(now, from, m, out);
        }
        for cert in &o {
            self.check(now, cert.seq, out);
        }
        self.execute(now, out);
        let waiting: Vec<Request> = self
            .pending
            .values()
            .chain(self.backlog.values())
            .copied()
            .collect();
        if self.is_primary() {
            for r in waiting {
                self.order(now, r, out);
            }
        } else {
            let p = self.primary_of(view);
            for r in waiting {
                if !self.in_log(r.id) {
                    self.send(now, p, PbftMsg::Request(r), out);
                }
            }
        }
    }

    /// Retransmission (the role of the BFT library's status messages, Castro's thesis §5.2):
    /// messages are datagrams and may be lost, so the primary of the current view re-sends
    /// its new-view to a replica that shows it is behind — normal-case traffic of an older
    /// view, or a view-change for a view at or below ours — at most once per T per replica.
    fn help_lagging(
        &mut self,
        now: SimTime,
        from: ReplicaId,
        msg: &PbftMsg,
        out: &mut Outputs<PbftMsg>,
    ) {
        // A replica still collecting view-changes for a view we have left may lack ours,
        // lost while we moved on: send the one we sent then (channels are eventually
        // reliable in the paper's model; this is the retransmission that makes them so).
        if let PbftMsg::ViewChange(b) = msg {
            let mine = self
                .view_changes
                .get(&b.new_view)
                .and_then(|set| set.get(&self.id))
                .cloned();
            if let Some(old) = mine.filter(|_| b.new_view < self.view) {
                if self
                    .new_view_resent
                    .get(&from)
                    .is_none_or(|&t| now >= t + self.cfg.view_change_timeout)
                {
                    self.new_view_resent.insert(from, now);
                    self.send(now, from, PbftMsg::ViewChange(old), out);
                }
                return;
            }
        }
        if !self.active || !self.is_primary() {
            return;
        }
        let behind = match msg {
            PbftMsg::ViewChange(b) => b.new_view <= self.view,
            m => msg_view(m).is_some_and(|v| v < self.view),
        };
        let Some(nv) = self.new_view_msg.clone().filter(|_| behind) else {
            return;
        };
        if self
            .new_view_resent
            .get(&from)
            .is_some_and(|&t| now < t + self.cfg.view_change_timeout)
        {
            return;
        }
        self.new_view_resent.insert(from, now);
        self.send(now, from, nv, out);
    }

    fn step_inner(
        &mut self,
        now: SimTime,
        from: ReplicaId,
        msg: PbftMsg,
        out: &mut Outputs<PbftMsg>,
    ) {
        self.help_lagging(now, from, &msg, out);
        if let Some(v) = msg_view(&msg) {
            if v > self.view || (v == self.view && !self.active) {
                if self.future.len() < FUTURE_CAP {
                    self.future.push((from, msg));
                }
                return;
            }
        }
        match msg {
            PbftMsg::Request(r) => self.propose(now, r, out),
            PbftMsg::PrePrepare {
                view,
                seq,
                digest,
                request,
            } => {
                let cert = PreparedCert {
                    view,
                    seq,
                    digest,
                    request,
                };
                self.on_pre_prepare(now, from, cert, out);
            }
            PbftMsg::Prepare {
                view,
                seq,
                digest,
                replica,
            } => {
                if replica != from
                    || replica == self.primary_of(view)
                    || view != self.view
                    || !self.in_window(seq)
                {
                    return;
                }
                let slot = self.log.entry(seq).or_default();
                slot.prepares.entry(digest).or_default().insert(replica);
                self.check(now, seq, out);
            }
            PbftMsg::Commit {
                view,
                seq,
                digest,
                replica,
            } => {
                if replica != from || view != self.view || !self.in_window(seq) {
                    return;
                }
                let slot = self.log.entry(seq).or_default();
                slot.commits.entry(digest).or_default().insert(replica);
                self.check(now, seq, out);
            }
            PbftMsg::Checkpoint {
                seq,
                state_digest,
                replica,
            } => {
                if replica == from {
                    self.on_checkpoint(now, seq, state_digest, replica, out);
                }
            }
            PbftMsg::ViewChange(body) => {
                if body.replica == from {
                    self.on_view_change(now, body, out);
                }
            }
            PbftMsg::NewView {
                view,
                view_changes,
                pre_prepares,
            } => {
                self.on_new_view(now, from, view, view_changes, pre_prepares, out);
            }
        }
    }
}

/// The view a new-view message installs.
fn new_view_of(m: &PbftMsg) -> Option<u64> {
    match m {
        PbftMsg::NewView { view, .. } => Some(*view),
        _ => None,
    }
}

/// The view of a normal-case message (those only accepted in their own view).
fn msg_view(m: &PbftMsg) -> Option<u64> {
    match m {
        PbftMsg::PrePrepare { view, .. }
        | PbftMsg::Prepare { view, .. }
        | PbftMsg::Commit { view, .. } => Some(*view),
        _ => None,
    }
}

/// The new-view computation of §4.4: min-s is the latest stable checkpoint in V, max-s the
/// highest prepared sequence number; every n in (min-s, max-s] gets the pre-prepare of the
/// highest-view certificate for it in V, or a null request. Returns (min-s, its digest, O).
pub fn compute_o(view: u64, vcs: &[ViewChangeBody]) -> (u64, Digest, Vec<PreparedCert>) {
    let (min_s, stable_d) = vcs
        .iter()
        .map(|b| (b.last_stable, b.stable_digest))
        .max_by_key(|&(s, _)| s)
        .unwrap_or((0, 0));
    let mut best: BTreeMap<u64, PreparedCert> = BTreeMap::new();
    for c in vcs.iter().flat_map(|b| b.prepared.iter()) {
        if c.seq <= min_s {
            continue;
        }
        let e = best.entry(c.seq).or_insert(*c);
        if c.view > e.view {
            *e = *c;
        }
    }
    let max_s = best.keys().next_back().copied().unwrap_or(min_s);
    let o = (min_s + 1..=max_s)
        .map(|seq| match best.get(&seq) {
            Some(c) => PreparedCert { view, ..*c },
            None => PreparedCert {
                view,
                seq,
                digest: request_digest(&None),
                request: None,
            },
        })
        .collect();
    (min_s, stable_d, o)
}

impl Consensus for PbftReplica {
    type Msg = PbftMsg;

    fn start(&mut self, now: SimTime, _out: &mut Outputs<PbftMsg>) {
        self.cpu_free_at = self.cpu_free_at.max(now);
    }

    /// The primary orders the request; a backup relays it to the primary and starts its
    /// request timer (§4.1, §4.4). During a view change it is kept for the next view.
    fn propose(&mut self, now: SimTime, request: Request, out: &mut Outputs<PbftMsg>) {
        if self.crashed || self.executed.contains(&request.id) {
            return;
        }
        if !self.active {
            self.pending.insert(request.id, request);
            return;
        }
        if self.is_primary() {
            self.order(now, request, out);
        } else {
            let fresh = !self.pending.contains_key(&request.id);
            self.add_pending(now, request);
            if fresh && !self.in_log(request.id) {
                let p = self.primary_of(self.view);
                self.send(now, p, PbftMsg::Request(request), out);
            }
        }
    }

    fn step(&mut self, now: SimTime, from: ReplicaId, msg: PbftMsg, out: &mut Outputs<PbftMsg>) {
        if self.crashed || from >= self.cfg.n || from == self.id {
            return;
        }
        self.step_inner(now, from, msg, out);
    }

    fn on_timer(&mut self, now: SimTime, out: &mut Outputs<PbftMsg>) {
        if self.crashed {
            return;
        }
        if self.active && self.request_timer.is_some_and(|t| t <= now) {
            self.request_timer = None;
            self.start_view_change(now, self.view + 1, out);
        } else if !self.active && self.new_view_timer.is_some_and(|t| t <= now) {
            // No new-view in time: try the next view, waiting twice as long (§4.5.2).
            self.new_view_timer = None;
            self.backoff += 1;
            self.start_view_change(now, self.view + 1, out);
        } else if !self.active && self.view_change_resend.is_some_and(|t| t <= now) {
            // Still changing view: our view-change may have been lost; say it again.
            self.view_change_resend = Some(now + self.cfg.view_change_timeout);
            let mine = self
                .view_changes
                .get(&self.view)
                .and_then(|set| set.get(&self.id))
                .cloned();
            if let Some(body) = mine {
                self.broadcast(now, PbftMsg::ViewChange(body), out);
            }
        }
    }

    fn poll_at(&self) -> Option<SimTime> {
        if self.crashed {
            return None;
        }
        if self.active {
            self.request_timer
        } else {
            match (self.new_view_timer, self.view_change_resend) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
    }

    fn progress(&self) -> u64 {
        self.last_executed()
    }

    fn is_leader(&self) -> bool {
        !self.crashed && self.active && self.is_primary()
    }

    fn epoch(&self) -> u64 {
        self.view
    }

    fn crash(&mut self) {
        self.crashed = true;
        let primary = self.is_primary();
        for slot in self.log.values_mut() {
            slot.prepares.clear();
            slot.commits.clear();
            if slot.sent_commit {
                // Our own commit is a vote we persisted; keep it counted.
                if let Some(p) = slot.pre_prepare {
                    slot.commits.entry(p.digest).or_default().insert(self.id);
                }
            }
            if let Some(p) = slot.pre_prepare.filter(|_| !primary) {
                slot.prepares.entry(p.digest).or_default().insert(self.id);
            }
        }
        self.pending.clear();
        self.backlog.clear();
        self.checkpoint_votes.clear();
        self.view_changes.clear();
        self.future.clear();
        self.request_timer = None;
        self.new_view_timer = None;
        self.sent_new_view = None;
        // `new_view_msg` stays: a primary persists the new-view it sends, like everything
        // else it vouched for.
        self.new_view_resent.clear();
        self.view_change_resend = None;
    }

    fn restart(&mut self, now: SimTime, _out: &mut Outputs<PbftMsg>) {
        self.crashed = false;
        self.cpu_free_at = now;
        // Our own checkpoint votes were persisted with the checkpoints we took.
        let mine: Vec<(u64, Digest)> = self.my_checkpoints.iter().map(|(&s, &d)| (s, d)).collect();
        for (s, d) in mine {
            self.checkpoint_votes
                .entry(s)
                .or_default()
                .insert(self.id, d);
        }
        if !self.active {
            // Re-count our own view-change on the next one received; re-announce it is left
            // to the f+1 rule / timers of others.
            let body = ViewChangeBody {
                new_view: self.view,
                last_stable: self.low,
                stable_digest: self.stable_digest,
                prepared: self.log.values().filter_map(|s| s.prepared).collect(),
                replica: self.id,
            };
            self.view_changes
                .entry(self.view)
                .or_default()
                .insert(self.id, body);
            self.view_change_resend = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(id: u64) -> Request {
        Request { id, bytes: 100 }
    }

    #[test]
    fn quorums_match_the_paper_for_3f_plus_1() {
        // n = 4: f = 1, prepare 2f = 2, commit 2f+1 = 3 (seed-system.md §1.4).
        let c = PbftConfig::new(4);
        assert_eq!((c.f(), c.prepare_quorum(), c.quorum()), (1, 2, 3));
        let c = PbftConfig::new(7);
        assert_eq!((c.f(), c.prepare_quorum(), c.quorum()), (2, 4, 5));
        // n = 5, f = 1: 2f+1 = 3 would let two quorums meet only in one (maybe faulty)
        // replica; ⌈(5+1+1)/2⌉ = 4 keeps the overlap at f+1 = 2.
        assert_eq!(PbftConfig::new(5).quorum(), 4);
    }

    #[test]
    fn encoded_len_follows_the_formula() {
        let c = PbftConfig::new(4);
        // Prepare: 1 + 8 + 8 + 32 + 4 + 4×8 = 85.
        let p = PbftMsg::Prepare {
            view: 0,
            seq: 1,
            digest: 0,
            replica: 1,
        };
        assert_eq!(p.encoded_len(&c), 85);
        // Pre-prepare of a 100-B request: 1 + 8 + 8 + 32 + (16 + 100) + 32 = 197.
        let pp = PbftMsg::PrePrepare {
            view: 0,
            seq: 1,
            digest: 0,
            request: Some(req(1)),
        };
        assert_eq!(pp.encoded_len(&c), 197);
        let mut s = c.clone();
        s.signature_cost = Some(SimDuration::from_micros(50));
        assert_eq!(p.encoded_len(&s), 85 - 32 + 64);
    }

    #[test]
    fn primary_pre_prepares_and_backup_prepares() {
        let cfg = PbftConfig::new(4);
        let mut p = PbftReplica::new(0, cfg.clone());
        let mut b = PbftReplica::new(1, cfg);
        let mut out = Outputs::default();
        p.propose(SimTime::ZERO, req(7), &mut out);
        // One pre-prepare to each of the 3 backups, all after one 3-MAC authenticator.
        assert_eq!(out.messages.len(), 3);
        assert!(out
            .messages
            .iter()
            .all(|m| m.send_at == SimTime::ZERO + SimDuration::from_micros(3)));
        let pp = out.messages[0].msg.clone();
        let mut out2 = Outputs::default();
        b.step(SimTime::ZERO, 0, pp, &mut out2);
        assert!(matches!(
            out2.messages[0].msg,
            PbftMsg::Prepare { seq: 1, .. }
        ));
        // A backup waiting for a request has its request timer running (§4.4).
        assert_eq!(b.poll_at(), Some(SimTime::ZERO + SimDuration::from_secs(5)));
    }

    #[test]
    fn second_pre_prepare_for_same_slot_is_ignored() {
        let cfg = PbftConfig::new(4);
        let mut b = PbftReplica::new(1, cfg);
        let mut out = Outputs::default();
        let mk = |r: Request| PbftMsg::PrePrepare {
            view: 0,
            seq: 1,
            digest: request_digest(&Some(r)),
            request: Some(r),
        };
        b.step(SimTime::ZERO, 0, mk(req(1)), &mut out);
        let n = out.messages.len();
        b.step(SimTime::ZERO, 0, mk(req(2)), &mut out);
        // No second prepare: a correct backup never vouches for two digests in one (v, n).
        assert_eq!(out.messages.len(), n);
    }

    #[test]
    fn restarted_replica_does_not_contradict_its_earlier_prepare() {
        let mut b = PbftReplica::new(1, PbftConfig::new(4));
        let mk = |r: Request| PbftMsg::PrePrepare {
            view: 0,
            seq: 1,
            digest: request_digest(&Some(r)),
            request: Some(r),
        };
        let mut out = Outputs::default();
        b.step(SimTime::ZERO, 0, mk(req(1)), &mut out);
        b.crash();
        assert_eq!(b.poll_at(), None, "a crashed replica has no timers");
        let mut out = Outputs::default();
        b.restart(SimTime::ZERO + SimDuration::from_secs(1), &mut out);
        b.step(
            SimTime::ZERO + SimDuration::from_secs(1),
            0,
            mk(req(2)),
            &mut out,
        );
        // The accepted pre-prepare was persisted: no prepare for a second digest in (0, 1),
        // which is what keeps a crash-restarted replica correct (module doc, crash model).
        assert!(out.messages.is_empty());
    }

    #[test]
    fn new_view_picks_highest_view_certificate_and_fills_gaps() {
        let c = |view, seq, id| PreparedCert {
            view,
            seq,
            digest: request_digest(&Some(req(id))),
            request: Some(req(id)),
        };
        let vc = |replica, prepared| ViewChangeBody {
            new_view: 3,
            last_stable: 0,
            stable_digest: 0,
            prepared,
            replica,
        };
        let vcs = vec![
            vc(0, vec![c(1, 1, 10), c(1, 3, 30)]),
            vc(1, vec![c(2, 1, 11)]),
            vc(2, vec![]),
        ];
        let (min_s, _, o) = compute_o(3, &vcs);
        assert_eq!(min_s, 0);
        assert_eq!(o.len(), 3);
        assert_eq!(o[0].request, Some(req(11)), "highest view wins");
        assert_eq!(o[1].request, None, "gap gets a null request");
        assert_eq!(o[2].request, Some(req(30)));
        assert!(o.iter().all(|p| p.view == 3));
    }
}
