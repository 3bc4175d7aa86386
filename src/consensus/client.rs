//! The open-loop client that loads a consensus group, as a sans-I/O state machine: it is
//! handed `now`, answers the requests to send, and says when it next wants to be called
//! ([`Client::poll_at`]). It sees no scheduler and no network; the group's host carries its
//! requests and hands it the replies.
//!
//! **Model.** Requests arrive open-loop in `[start, stop)`, at fixed gaps or at exponential
//! gaps (a Poisson process), whether or not earlier ones were answered: an overloaded or
//! leaderless group builds a backlog rather than slowing its load down. A new request goes to
//! the replica the client believes leads — Raft: the last replica that answered; PBFT: the
//! primary of the last view a reply named (`v mod n`). Its latency runs from its first send
//! to its answer: one reply from the Raft leader, or `k` = f+1 replies from distinct replicas
//! for PBFT, of which at least one is correct (Castro & Liskov, OSDI 1999, §4.1). A request
//! still unanswered `timeout` after its last send is resent: Raft to the next replica in turn
//! (the leader may have changed), PBFT to all (so backups learn of it and suspect the primary,
//! §4.4).
//!
//! **Left out.** Reply contents are not compared: a reply names its request and its replica
//! only (the host sends none for a Byzantine replica's commits). One client per group; no
//! closed loop, batching or request cancelling.
//!
//! **Invariants.** Request ids are `0, 1, 2, …` in arrival order. Every unanswered request has
//! exactly one resend deadline, and an answered one none. The next arrival is its
//! predecessor's *due* time plus a gap, not the call time plus a gap, so a late call sends
//! every request that fell due (stamped with the call time) and the arrival process does not
//! drift.

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;

use super::{ReplicaId, Request};
use crate::engine::{SimDuration, SimRng, SimTime};
use crate::metrics::Histogram;

/// When requests arrive.
#[derive(Clone, Debug)]
pub enum Arrivals {
    /// One request every so often.
    Fixed(SimDuration),
    /// Exponential gaps of this mean, drawn from the client's own stream; each gap is at least
    /// 1 ps, so one call never sends the same arrival twice.
    Poisson {
        /// Mean gap between arrivals.
        mean: SimDuration,
        /// The client's own arrival stream.
        rng: Box<SimRng>,
    },
}

/// What answers a request, and therefore where it is resent and whom the client trusts next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replies {
    /// Raft: the leader's reply answers; resend to the next replica in turn; the replica that
    /// answered is believed to lead.
    Leader,
    /// PBFT: replies from this many distinct replicas (f+1) answer; resend to all; the
    /// primary of the view a reply names is believed to lead.
    Quorum(u32),
}

impl Replies {
    /// From the number of replies a request needs: more than one is PBFT's quorum, one is
    /// Raft's leader (a PBFT group with f = 0 behaves as Raft's client does, as it always has).
    pub fn needing(k: u32) -> Self {
        if k > 1 {
            Replies::Quorum(k)
        } else {
            Replies::Leader
        }
    }

    /// Distinct replies that answer a request.
    pub fn needed(self) -> u32 {
        match self {
            Replies::Leader => 1,
            Replies::Quorum(k) => k,
        }
    }
}

/// The client's parameters, resolved from the experiment.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// When requests arrive.
    pub arrivals: Arrivals,
    /// Payload bytes of every request.
    pub request_bytes: u32,
    /// First arrival.
    pub start: SimTime,
    /// No arrival at or after this time.
    pub stop: SimTime,
    /// Resend a request this long after its last send if it is still unanswered.
    pub timeout: SimDuration,
    /// Replicas in the group, `0..replicas`.
    pub replicas: u32,
    /// What answers a request (leader reply or a quorum).
    pub replies: Replies,
}

/// A request to put on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestTo {
    /// Replica to send it to.
    pub to: ReplicaId,
    /// The request itself.
    pub request: Request,
}

/// Counters, in requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Requests that arrived (first sends).
    pub sent: u64,
    /// Requests answered.
    pub answered: u64,
    /// Resends (a request resent to all PBFT replicas counts once).
    pub resent: u64,
}

/// A request sent and not yet answered.
#[derive(Clone, Debug)]
struct Pending {
    first_sent: SimTime,
    /// Its one entry in `Client::deadlines`.
    deadline: SimTime,
    replies: BTreeSet<ReplicaId>,
}

/// The open-loop client of one group.
#[derive(Clone, Debug)]
pub struct Client {
    c: ClientConfig,
    next_arrival: Option<SimTime>,
    next_id: u64,
    pending: BTreeMap<u64, Pending>,
    /// Resend deadlines, `(when, request)`: one per pending request.
    deadlines: BTreeSet<(SimTime, u64)>,
    /// Replica the next new request goes to.
    hint: ReplicaId,
    /// Latency of answered requests, in picoseconds.
    latency: Histogram,
    /// `(answered at, latency in s)` per answered request, in answer order.
    latency_points: Vec<(SimTime, f64)>,
    stats: ClientStats,
}

impl Client {
    /// A client with nothing sent yet; arrivals begin at `c.start`.
    pub fn new(c: ClientConfig) -> Self {
        Client {
            next_arrival: (c.start < c.stop).then_some(c.start),
            c,
            next_id: 0,
            pending: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            hint: 0,
            latency: Histogram::default(),
            latency_points: Vec::new(),
            stats: ClientStats::default(),
        }
    }

    /// When to call [`Client::on_timer`] next: the next arrival or resend deadline, whichever
    /// is first (`None`: arrivals are over and every request is answered).
    pub fn poll_at(&self) -> Option<SimTime> {
        let next_deadline = self.deadlines.first().map(|&(t, _)| t);
        match (self.next_arrival, next_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sends the requests due by `now`, then resends those past their deadline; appends what
    /// to send to `out`, in order (new requests first, as they arrived).
    pub fn on_timer(&mut self, now: SimTime, out: &mut Vec<RequestTo>) {
        while let Some(due) = self.next_arrival.filter(|&t| t <= now) {
            let id = self.next_id;
            self.next_id += 1;
            self.stats.sent += 1;
            let deadline = now + self.c.timeout;
            self.pending.insert(
                id,
                Pending {
                    first_sent: now,
                    deadline,
                    replies: BTreeSet::new(),
                },
            );
            self.deadlines.insert((deadline, id));
            out.push(RequestTo {
                to: self.hint,
                request: self.request(id),
            });
            let next = due + self.gap();
            self.next_arrival = (next < self.c.stop).then_some(next);
        }
        while let Some(&(t, id)) = self.deadlines.first() {
            if t > now {
                break;
            }
            self.deadlines.pop_first();
            let deadline = now + self.c.timeout;
            let p = self.pending.get_mut(&id).unwrap_or_else(|| {
                panic!("client: resend deadline at {t} for request {id}, which is not pending")
            });
            p.deadline = deadline;
            self.deadlines.insert((deadline, id));
            self.stats.resent += 1;
            let request = self.request(id);
            match self.c.replies {
                Replies::Quorum(_) => {
                    out.extend((0..self.c.replicas).map(|to| RequestTo { to, request }));
                }
                Replies::Leader => {
                    self.hint = (self.hint + 1) % self.c.replicas;
                    out.push(RequestTo {
                        to: self.hint,
                        request,
                    });
                }
            }
        }
    }

    /// A reply from replica `from`, sent in term/view `epoch`, to request `request`. Returns
    /// the request's latency if this reply answers it; a duplicate, a reply beyond the quorum
    /// or one to an unknown request only moves the leader hint.
    pub fn on_reply(
        &mut self,
        now: SimTime,
        from: ReplicaId,
        epoch: u64,
        request: u64,
    ) -> Option<SimDuration> {
        self.hint = match self.c.replies {
            Replies::Quorum(_) => (epoch % self.c.replicas as u64) as ReplicaId,
            Replies::Leader => from,
        };
        let pending = self.pending.get_mut(&request)?;
        pending.replies.insert(from);
        if (pending.replies.len() as u32) < self.c.replies.needed() {
            return None;
        }
        let p = self.pending.remove(&request)?;
        self.deadlines.remove(&(p.deadline, request));
        let latency = now.since(p.first_sent);
        self.latency.record(latency.as_ps());
        self.latency_points.push((now, latency.as_secs_f64()));
        self.stats.answered += 1;
        Some(latency)
    }

    /// What answers a request, as configured.
    pub fn replies(&self) -> Replies {
        self.c.replies
    }

    /// Counters so far, in requests.
    pub fn stats(&self) -> ClientStats {
        self.stats
    }

    /// Requests sent and not answered.
    pub fn unanswered(&self) -> usize {
        self.pending.len()
    }

    /// Latency of answered requests, in picoseconds.
    pub fn latency(&self) -> &Histogram {
        &self.latency
    }

    /// `(answered at, latency in s)` per answered request, in answer order.
    pub fn latency_points(&self) -> &[(SimTime, f64)] {
        &self.latency_points
    }

    fn request(&self, id: u64) -> Request {
        Request {
            id,
            bytes: self.c.request_bytes,
        }
    }

    /// The gap to the next arrival.
    fn gap(&mut self) -> SimDuration {
        match &mut self.c.arrivals {
            Arrivals::Fixed(interval) => *interval,
            Arrivals::Poisson { mean, rng } => {
                // Inverse transform: -ln(1 - U) · mean is exponential with that mean.
                let u: f64 = rng.random::<f64>();
                let mean = mean.as_ps() as f64;
                SimDuration::from_ps(((-(1.0 - u).ln()) * mean).max(1.0) as u64)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RngStreams;

    fn at_ms(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    /// Arrivals every 10 ms from 1000 ms until `stop_ms`, resends after 100 ms.
    fn client(replies: Replies, replicas: u32, stop_ms: u64) -> Client {
        Client::new(ClientConfig {
            arrivals: Arrivals::Fixed(SimDuration::from_millis(10)),
            request_bytes: 256,
            start: at_ms(1000),
            stop: at_ms(stop_ms),
            timeout: SimDuration::from_millis(100),
            replicas,
            replies,
        })
    }

    fn step(c: &mut Client, now: SimTime) -> Vec<RequestTo> {
        let mut out = Vec::new();
        c.on_timer(now, &mut out);
        out
    }

    fn ids(sent: &[RequestTo]) -> Vec<u64> {
        sent.iter().map(|s| s.request.id).collect()
    }

    #[test]
    fn fixed_arrivals_fill_start_to_stop_exclusive() {
        // [1000 ms, 1035 ms) at 10 ms gaps: 1000, 1010, 1020, 1030 — four requests.
        let mut c = client(Replies::Leader, 3, 1035);
        let mut arrivals = Vec::new();
        while let Some(t) = c.poll_at().filter(|&t| t < at_ms(1100)) {
            let sent = step(&mut c, t);
            assert_eq!(sent.len(), 1, "one request per due time at {t}");
            arrivals.push((t, sent[0].request));
        }
        let want: Vec<_> = (0..4)
            .map(|k| {
                let request = Request { id: k, bytes: 256 };
                (at_ms(1000 + 10 * k), request)
            })
            .collect();
        assert_eq!(arrivals, want);
        // With arrivals over, the client wants to be called at the first resend: 1000 + 100.
        assert_eq!(c.poll_at(), Some(at_ms(1100)));
        assert_eq!(c.stats().sent, 4);
    }

    #[test]
    fn no_window_no_requests() {
        // start == stop: the window [start, stop) is empty.
        let c = client(Replies::Leader, 3, 1000);
        assert_eq!(c.poll_at(), None);
    }

    #[test]
    fn a_late_call_catches_up_without_drift() {
        let mut c = client(Replies::Leader, 3, 2000);
        // Called 25 ms late: the requests due at 1000, 1010 and 1020 all go now.
        let sent = step(&mut c, at_ms(1025));
        assert_eq!(ids(&sent), vec![0, 1, 2]);
        // The next is due on the original grid (1030), not at 1025 + 10.
        assert_eq!(c.poll_at(), Some(at_ms(1030)));
    }

    #[test]
    fn raft_resends_to_each_next_replica_every_timeout() {
        let mut c = client(Replies::Leader, 3, 1001);
        assert_eq!(step(&mut c, at_ms(1000))[0].to, 0);
        // Unanswered, it is resent at 1100, 1200, 1300 to replicas 1, 2, then 0 (wrapping):
        // each resend restarts the 100 ms timeout.
        for (k, to) in [1, 2, 0].into_iter().enumerate() {
            let t = at_ms(1100 + 100 * k as u64);
            assert_eq!(c.poll_at(), Some(t));
            let sent = step(&mut c, t);
            assert_eq!(
                sent,
                vec![RequestTo {
                    to,
                    request: Request { id: 0, bytes: 256 }
                }]
            );
        }
        assert_eq!(c.stats().resent, 3);
        assert_eq!(c.unanswered(), 1);
    }

    #[test]
    fn pbft_resends_to_all() {
        let mut c = client(Replies::Quorum(2), 4, 1001);
        step(&mut c, at_ms(1000));
        let sent = step(&mut c, at_ms(1100));
        assert_eq!(
            sent.iter().map(|s| s.to).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert!(sent.iter().all(|s| s.request.id == 0));
        // One resend, however many replicas it went to.
        assert_eq!(c.stats().resent, 1);
    }

    #[test]
    fn pbft_needs_f_plus_one_distinct_replies() {
        // n = 4, f = 1: two distinct replies answer.
        let mut c = client(Replies::Quorum(2), 4, 1001);
        step(&mut c, at_ms(1000));
        assert_eq!(c.on_reply(at_ms(1004), 1, 0, 0), None);
        // The same replica again is not a second witness.
        assert_eq!(c.on_reply(at_ms(1005), 1, 0, 0), None);
        assert_eq!(
            c.on_reply(at_ms(1007), 2, 0, 0),
            Some(SimDuration::from_millis(7))
        );
        // A third reply comes after the answer: nothing is counted twice.
        assert_eq!(c.on_reply(at_ms(1008), 3, 0, 0), None);
        assert_eq!(c.stats().answered, 1);
        assert_eq!(c.unanswered(), 0);
        // Its resend deadline went with it: arrivals are over, nothing is left to do.
        assert_eq!(c.poll_at(), None);
        assert_eq!(c.latency_points(), &[(at_ms(1007), 0.007)]);
        assert_eq!(c.latency().count(), 1);
    }

    #[test]
    fn latency_counts_from_the_first_send() {
        let mut c = client(Replies::Leader, 3, 1001);
        step(&mut c, at_ms(1000));
        step(&mut c, at_ms(1100)); // resent to r1
                                   // Answered 150 ms after the first send, 50 ms after the resend: latency is 150 ms.
        assert_eq!(
            c.on_reply(at_ms(1150), 1, 3, 0),
            Some(SimDuration::from_millis(150))
        );
    }

    #[test]
    fn the_leader_hint_follows_replies() {
        // Raft: new requests go to whoever answered last.
        let mut c = client(Replies::Leader, 3, 2000);
        step(&mut c, at_ms(1000));
        c.on_reply(at_ms(1002), 2, 5, 0);
        assert_eq!(step(&mut c, at_ms(1010))[0].to, 2);
        // PBFT: to the primary of the view a reply names, v mod n = 6 mod 4 = 2.
        let mut c = client(Replies::Quorum(2), 4, 2000);
        step(&mut c, at_ms(1000));
        c.on_reply(at_ms(1002), 3, 6, 0);
        assert_eq!(step(&mut c, at_ms(1010))[0].to, 2);
    }

    #[test]
    fn poisson_gaps_have_the_configured_mean() {
        let mean = SimDuration::from_millis(10);
        let mut c = Client::new(ClientConfig {
            arrivals: Arrivals::Poisson {
                mean,
                rng: Box::new(RngStreams::new(7).stream("test/arrivals")),
            },
            request_bytes: 1,
            start: SimTime::ZERO,
            stop: SimTime::MAX,
            // Far beyond the arrivals drawn here: poll_at is the next arrival.
            timeout: SimDuration::from_secs(1_000_000),
            replicas: 3,
            replies: Replies::Leader,
        });
        const N: usize = 20_000;
        let mut last = SimTime::ZERO;
        let mut gaps = Vec::with_capacity(N);
        for _ in 0..=N {
            let t = c.poll_at().unwrap();
            assert_eq!(step(&mut c, t).len(), 1, "gaps are at least 1 ps");
            gaps.push(t.since(last).as_secs_f64());
            last = t;
        }
        gaps.remove(0); // the first arrival is at `start`, not after a gap
        let m = gaps.iter().sum::<f64>() / N as f64;
        let var = gaps.iter().map(|g| (g - m).powi(2)).sum::<f64>() / (N - 1) as f64;
        // An exponential's standard deviation equals its mean, so the sample mean of N gaps
        // has standard error 10 ms / √20000 ≈ 0.071 ms (0.71%); 3% is over 4 standard errors.
        assert!((m / 0.010 - 1.0).abs() < 0.03, "mean gap {m} s");
        // Fixed gaps would pass the mean test; exponential ones have CV = σ/μ = 1. The sample
        // CV's standard error is about 1/√N ≈ 0.7% here, so 5% is a wide margin.
        let cv = var.sqrt() / m;
        assert!((cv - 1.0).abs() < 0.05, "coefficient of variation {cv}");
    }
}
