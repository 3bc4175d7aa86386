//! Safety checks on a running consensus group: a pure monitor, fed what the replicas commit
//! and who believes it leads, that answers the violations it finds. It sees no replica, no
//! scheduler and no log; the host feeds it and writes the messages.
//!
//! **Checked**, among correct replicas:
//! - *agreement*: no two replicas commit different requests at one slot (Raft's State
//!   Machine Safety, Ongaro & Ousterhout 2014 §5.4.3; PBFT's safety, Castro & Liskov 1999
//!   §4.5). The first commit seen at a slot is the reference every later one is held to.
//! - *order*: each replica commits strictly increasing slots.
//! - *election safety*: at most one leader per term (Raft §5.2) or primary per view (PBFT,
//!   where it is `v mod n` by construction, so a second one means a broken view change).
//!
//! **Left out.** Byzantine replicas: their commits and leadership claims are not evidence
//! (PBFT tolerates their lies; it promises nothing about what they say), so the monitor
//! ignores them; which replicas are faulty is the host's to say. Liveness is not judged here:
//! a run that commits nothing is safe.
//!
//! **Invariants.** `violations()` counts every violation answered, and each answered once; a
//! slot's reference request never changes once set.

use std::collections::BTreeMap;
use std::fmt;

use super::ReplicaId;

/// A broken safety property, as found. `Display` gives the message for the event log
/// (without the replica's name, which only the host knows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// `slot` was committed with `request` after another replica committed `earlier` there.
    Conflict {
        /// Log position committed twice.
        slot: u64,
        /// Id of the request committed second.
        request: u64,
        /// Id of the request another replica committed there first.
        earlier: u64,
    },
    /// The replica committed `slot` after it had committed `last` (≥ `slot`).
    OutOfOrder {
        /// Log position just committed.
        slot: u64,
        /// Highest log position it had committed before.
        last: u64,
    },
    /// The replica leads term/view `epoch`, which `first` led before.
    SecondLeader {
        /// The term (Raft) or view (PBFT) with two leaders.
        epoch: u64,
        /// The replica that led it first.
        first: ReplicaId,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Violation::Conflict {
                slot,
                request,
                earlier,
            } => write!(f, "slot {slot} committed request {request} after {earlier}"),
            Violation::OutOfOrder { slot, last } => {
                write!(f, "slot {slot} committed after slot {last}")
            }
            Violation::SecondLeader { epoch, .. } => {
                write!(f, "second leader of term/view {epoch}")
            }
        }
    }
}

/// What a leadership observation meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leadership {
    /// The first leader seen for its term/view.
    New,
    /// This replica was already seen leading this term/view.
    Known,
    /// A faulty replica's claim: not evidence.
    Ignored,
    /// Another replica led this term/view before.
    Violation(Violation),
}

/// The monitor of one group of `n` replicas.
#[derive(Clone, Debug)]
pub struct SafetyMonitor {
    /// Byzantine replicas, left out of every check.
    faulty: Vec<bool>,
    /// Slot → the request first committed there.
    chosen: BTreeMap<u64, u64>,
    /// Request → the slot it was first committed at (the reverse of `chosen`).
    slot_of: BTreeMap<u64, u64>,
    /// Per replica, the last slot it committed (0: none yet; slots start at 1).
    last_slot: Vec<u64>,
    /// Term/view → its leader.
    leaders: BTreeMap<u64, ReplicaId>,
    violations: u64,
}

impl SafetyMonitor {
    /// A monitor of `n` replicas, all correct.
    pub fn new(n: usize) -> Self {
        SafetyMonitor {
            faulty: vec![false; n],
            chosen: BTreeMap::new(),
            slot_of: BTreeMap::new(),
            last_slot: vec![0; n],
            leaders: BTreeMap::new(),
            violations: 0,
        }
    }

    /// Marks Byzantine replicas (one flag per replica).
    pub fn set_faulty(&mut self, faulty: Vec<bool>) {
        assert_eq!(faulty.len(), self.faulty.len(), "one flag per replica");
        self.faulty = faulty;
    }

    /// Whether `replica` was marked Byzantine (its commits are not checked).
    pub fn is_faulty(&self, replica: ReplicaId) -> bool {
        self.faulty[replica as usize]
    }

    /// `replica` committed `request` at `slot`. Answers what that broke, in the order found:
    /// agreement, then order (nothing for a faulty replica).
    pub fn on_commit(&mut self, replica: ReplicaId, slot: u64, request: u64) -> Vec<Violation> {
        let mut found = Vec::new();
        if self.is_faulty(replica) {
            return found;
        }
        match self.chosen.get(&slot) {
            Some(&earlier) if earlier != request => found.push(Violation::Conflict {
                slot,
                request,
                earlier,
            }),
            Some(_) => {}
            None => {
                self.chosen.insert(slot, request);
                self.slot_of.entry(request).or_insert(slot);
            }
        }
        let last = &mut self.last_slot[replica as usize];
        if slot <= *last {
            found.push(Violation::OutOfOrder { slot, last: *last });
        }
        *last = slot;
        self.violations += found.len() as u64;
        found
    }

    /// `replica` believes it leads term/view `epoch`.
    pub fn on_leader(&mut self, replica: ReplicaId, epoch: u64) -> Leadership {
        if self.is_faulty(replica) {
            return Leadership::Ignored;
        }
        match self.leaders.get(&epoch) {
            Some(&first) if first != replica => {
                self.violations += 1;
                Leadership::Violation(Violation::SecondLeader { epoch, first })
            }
            Some(_) => Leadership::Known,
            None => {
                self.leaders.insert(epoch, replica);
                Leadership::New
            }
        }
    }

    /// The slot `request` was first committed at, by any correct replica.
    pub fn slot_of(&self, request: u64) -> Option<u64> {
        self.slot_of.get(&request).copied()
    }

    /// Terms/views that had a (correct) leader.
    pub fn leaders(&self) -> usize {
        self.leaders.len()
    }

    /// Violations found so far (zero in a correct run).
    pub fn violations(&self) -> u64 {
        self.violations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreeing_commits_are_safe() {
        // Three replicas commit requests 10, 11 at slots 1, 2 in the same order.
        let mut m = SafetyMonitor::new(3);
        for r in 0..3 {
            assert_eq!(m.on_commit(r, 1, 10), vec![]);
            assert_eq!(m.on_commit(r, 2, 11), vec![]);
        }
        assert_eq!(m.violations(), 0);
        assert_eq!(
            (m.slot_of(10), m.slot_of(11), m.slot_of(12)),
            (Some(1), Some(2), None)
        );
    }

    #[test]
    fn a_conflicting_commit_is_flagged_against_the_first() {
        let mut m = SafetyMonitor::new(3);
        m.on_commit(0, 1, 10);
        let v = m.on_commit(1, 1, 99);
        assert_eq!(
            v,
            vec![Violation::Conflict {
                slot: 1,
                request: 99,
                earlier: 10
            }]
        );
        assert_eq!(v[0].to_string(), "slot 1 committed request 99 after 10");
        // The first commit stays the reference: a third replica agreeing with it is fine,
        // and the conflicting request did not get a slot.
        assert_eq!(m.on_commit(2, 1, 10), vec![]);
        assert_eq!(m.slot_of(99), None);
        assert_eq!(m.violations(), 1);
    }

    #[test]
    fn slots_must_increase_per_replica() {
        let mut m = SafetyMonitor::new(2);
        m.on_commit(0, 1, 10);
        m.on_commit(0, 2, 11);
        // Slot 2 again (a re-applied entry), then slot 1 (going back): both out of order.
        assert_eq!(
            m.on_commit(0, 2, 11),
            vec![Violation::OutOfOrder { slot: 2, last: 2 }]
        );
        assert_eq!(
            m.on_commit(0, 1, 10),
            vec![Violation::OutOfOrder { slot: 1, last: 2 }]
        );
        // The order is per replica: replica 1 starting at slot 1 is fine.
        assert_eq!(m.on_commit(1, 1, 10), vec![]);
        assert_eq!(m.violations(), 2);
    }

    #[test]
    fn one_commit_can_break_both_properties() {
        let mut m = SafetyMonitor::new(2);
        m.on_commit(0, 1, 10);
        m.on_commit(1, 1, 10);
        m.on_commit(1, 2, 11);
        // Replica 1 goes back to slot 1 with another request: conflict first, then order.
        assert_eq!(
            m.on_commit(1, 1, 12),
            vec![
                Violation::Conflict {
                    slot: 1,
                    request: 12,
                    earlier: 10
                },
                Violation::OutOfOrder { slot: 1, last: 2 }
            ]
        );
        assert_eq!(m.violations(), 2);
    }

    #[test]
    fn a_second_leader_in_a_term_is_flagged() {
        let mut m = SafetyMonitor::new(3);
        assert_eq!(m.on_leader(0, 1), Leadership::New);
        // Seen again (every absorb re-observes the leader): not news, not a violation.
        assert_eq!(m.on_leader(0, 1), Leadership::Known);
        let v = Violation::SecondLeader { epoch: 1, first: 0 };
        assert_eq!(m.on_leader(2, 1), Leadership::Violation(v));
        assert_eq!(v.to_string(), "second leader of term/view 1");
        // Another replica leading a later term is the normal course.
        assert_eq!(m.on_leader(2, 2), Leadership::New);
        assert_eq!((m.leaders(), m.violations()), (2, 1));
    }

    #[test]
    fn a_faulty_replica_is_not_evidence() {
        let mut m = SafetyMonitor::new(4);
        m.set_faulty(vec![false, false, false, true]);
        m.on_commit(0, 1, 10);
        m.on_leader(0, 0);
        // Replica 3 lies about slot 1, re-commits it, and claims view 0: all ignored.
        assert_eq!(m.on_commit(3, 1, 99), vec![]);
        assert_eq!(m.on_commit(3, 1, 99), vec![]);
        assert_eq!(m.on_leader(3, 0), Leadership::Ignored);
        // Nor does its word count as a reference: its slot-2 claim does not bind replica 1.
        m.on_commit(3, 2, 98);
        assert_eq!(m.on_commit(1, 2, 11), vec![]);
        assert_eq!(m.slot_of(98), None);
        assert_eq!((m.violations(), m.leaders()), (0, 1));
        assert!(m.is_faulty(3) && !m.is_faulty(0));
    }
}
