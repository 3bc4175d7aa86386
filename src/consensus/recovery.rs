//! How a consensus group recovers from crashes: a pure observer, fed crashes, new leaders,
//! restarts, state transfers and progress, that times elections and catch-ups. It sees no
//! replica and no scheduler; the host feeds it and reports what it measured.
//!
//! **Measured.** *Election time*: from the crash of a leader to the first leader of a later
//! term/view (while one election is awaited, a further crash does not restart its clock).
//! *Sync time*: from a replica's restart to the moment its progress reaches the highest
//! progress any running replica had at the restart (its *target*), with the bytes and time of
//! the bulk state transfers it received meanwhile.
//!
//! **Left out.** Elections not caused by a leader's crash (a partition, a slow leader) are not
//! timed. A restart's target is fixed at the restart: entries committed later are not waited
//! for.
//!
//! **Invariants.** Restarts are kept in order; at most one restart per replica is unfinished
//! at a time in practice, and updates go to the latest unfinished one of that replica.

use super::ReplicaId;
use crate::engine::{SimDuration, SimTime};

/// One restart of a replica and its catching up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restart {
    /// The replica that restarted.
    pub replica: ReplicaId,
    /// Simulated time of the restart.
    pub started: SimTime,
    /// Highest progress (log position) of any running replica at the restart.
    pub target: u64,
    /// When its progress reached `target`.
    pub done: Option<SimTime>,
    /// Bytes of state transferred to it in bulk before it caught up.
    pub bulk_bytes: u64,
    /// Time those transfers took, summed.
    pub bulk_time: SimDuration,
}

/// A restarted replica just caught up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaughtUp {
    /// The progress (log position) it had to reach.
    pub target: u64,
    /// From the restart.
    pub took: SimDuration,
    /// Bytes of state transferred in bulk.
    pub bulk_bytes: u64,
}

/// The recovery observer of one group.
#[derive(Clone, Debug, Default)]
pub struct Recovery {
    /// A leader crashed at this time in this term/view: waiting for a successor.
    awaiting_election: Option<(SimTime, u64)>,
    election_times: Vec<SimDuration>,
    restarts: Vec<Restart>,
}

impl Recovery {
    /// An observer that has seen no crash yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A replica crashed; `led` is its term/view if it believed it led.
    pub fn on_crash(&mut self, now: SimTime, led: Option<u64>) {
        if let Some(epoch) = led.filter(|_| self.awaiting_election.is_none()) {
            self.awaiting_election = Some((now, epoch));
        }
    }

    /// The first leader of term/view `epoch` was seen.
    pub fn on_new_leader(&mut self, now: SimTime, epoch: u64) {
        if let Some((crashed_at, old)) = self.awaiting_election {
            if epoch > old {
                self.election_times.push(now.since(crashed_at));
                self.awaiting_election = None;
            }
        }
    }

    /// `replica` restarted; `target` is the highest progress of the running replicas.
    pub fn on_restart(&mut self, now: SimTime, replica: ReplicaId, target: u64) {
        self.restarts.push(Restart {
            replica,
            started: now,
            target,
            done: None,
            bulk_bytes: 0,
            bulk_time: SimDuration::ZERO,
        });
    }

    /// A bulk state transfer of `bytes` to `replica` ended after `took` (delivered or not).
    pub fn on_state_transfer(&mut self, replica: ReplicaId, bytes: u64, took: SimDuration) {
        if let Some(r) = self.catching_up(replica) {
            r.bulk_bytes += bytes;
            r.bulk_time = r.bulk_time + took;
        }
    }

    /// `replica`'s progress is now `progress`; answers if that finished its catching up.
    pub fn on_progress(
        &mut self,
        now: SimTime,
        replica: ReplicaId,
        progress: u64,
    ) -> Option<CaughtUp> {
        let r = self.catching_up(replica)?;
        if progress < r.target {
            return None;
        }
        r.done = Some(now);
        Some(CaughtUp {
            target: r.target,
            took: now.since(r.started),
            bulk_bytes: r.bulk_bytes,
        })
    }

    /// Times from a leader's crash to its successor, in order.
    pub fn election_times(&self) -> &[SimDuration] {
        &self.election_times
    }

    /// A leader crashed and no successor has been seen yet.
    pub fn election_pending(&self) -> bool {
        self.awaiting_election.is_some()
    }

    /// Restarts in order.
    pub fn restarts(&self) -> &[Restart] {
        &self.restarts
    }

    fn catching_up(&mut self, replica: ReplicaId) -> Option<&mut Restart> {
        self.restarts
            .iter_mut()
            .rev()
            .find(|r| r.replica == replica && r.done.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    #[test]
    fn an_election_is_timed_from_the_leaders_crash_to_a_later_term() {
        let mut r = Recovery::new();
        // A follower's crash starts no election clock.
        r.on_crash(at_ms(500), None);
        assert!(!r.election_pending());
        // The leader of term 3 crashes at 1000 ms; a second crash at 1100 ms (the next
        // leader, say) does not restart the clock.
        r.on_crash(at_ms(1000), Some(3));
        r.on_crash(at_ms(1100), Some(4));
        // A leader of term 3 itself (seen late) is no successor; term 4 at 1350 ms is.
        r.on_new_leader(at_ms(1200), 3);
        assert!(r.election_pending());
        r.on_new_leader(at_ms(1350), 4);
        // 1350 − 1000 = 350 ms.
        assert_eq!(r.election_times(), &[SimDuration::from_millis(350)]);
        assert!(!r.election_pending());
    }

    #[test]
    fn a_restart_is_caught_up_at_its_target_with_its_transfers() {
        let mut r = Recovery::new();
        r.on_restart(at_ms(2000), 1, 500);
        // Transfers to another replica are not this restart's.
        r.on_state_transfer(2, 7, SimDuration::from_millis(9));
        r.on_state_transfer(1, 1_000_000, SimDuration::from_millis(80));
        r.on_state_transfer(1, 24_000, SimDuration::from_millis(20));
        assert_eq!(r.on_progress(at_ms(2100), 1, 499), None);
        // Another replica's progress says nothing about replica 1.
        assert_eq!(r.on_progress(at_ms(2150), 2, 900), None);
        let done = r.on_progress(at_ms(2300), 1, 520);
        // 2300 − 2000 = 300 ms; 1 000 000 + 24 000 bytes in 80 + 20 ms.
        let want = CaughtUp {
            target: 500,
            took: SimDuration::from_millis(300),
            bulk_bytes: 1_024_000,
        };
        assert_eq!(done, Some(want));
        assert_eq!(r.restarts()[0].bulk_time, SimDuration::from_millis(100));
        assert_eq!(r.restarts()[0].done, Some(at_ms(2300)));
        // Caught up once: later progress and transfers leave the finished restart alone.
        assert_eq!(r.on_progress(at_ms(2400), 1, 600), None);
        r.on_state_transfer(1, 5, SimDuration::from_millis(1));
        assert_eq!(r.restarts()[0].bulk_bytes, 1_024_000);
    }

    #[test]
    fn a_second_restart_is_tracked_apart() {
        let mut r = Recovery::new();
        r.on_restart(at_ms(1000), 0, 10);
        r.on_progress(at_ms(1010), 0, 10);
        r.on_restart(at_ms(3000), 0, 40);
        r.on_state_transfer(0, 64, SimDuration::from_millis(2));
        let done = r.on_progress(at_ms(3500), 0, 40).unwrap();
        assert_eq!(
            (done.took, done.bulk_bytes),
            (SimDuration::from_millis(500), 64)
        );
        // The first restart kept its own numbers.
        assert_eq!(r.restarts()[0].bulk_bytes, 0);
        assert_eq!(r.restarts().len(), 2);
    }
}
