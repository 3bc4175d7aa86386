//! `[[faults]]` in experiment files: scheduled faults on nodes and links, independent of
//! any one model (a crash takes down whatever runs on the node).

use crate::units::Duration;
use serde::{Deserialize, Serialize};

/// What a fault does.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A replica's process dies (`node`, "leader" or "follower"); with `duration` it
    /// restarts after.
    Crash,
    /// Restarts a crashed replica on `node`.
    Restart,
    /// The network splits into `groups`; with `duration` it heals after.
    Partition,
    /// Ends a partition.
    Heal,
    /// `link` goes down; with `duration` it comes back.
    LinkDown,
    /// Brings `link` back up.
    LinkUp,
    /// `link` loses each packet with probability `loss` for `duration`.
    LossBurst,
    /// `link`'s one-way delay becomes `delay` for `duration`.
    DelaySpike,
}

/// `[[faults]]`: one scheduled fault; recorded in the run's `events.csv`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    /// When the fault happens, from the start of the run.
    pub at: Duration,
    /// What the fault does.
    pub kind: FaultKind,
    /// crash/restart: the replica's node; a crash may also name "leader" (whoever leads at
    /// `at`) or "follower" (the highest-numbered running replica that does not lead).
    pub node: Option<String>,
    /// partition: sets of node names; nodes in no set still reach everyone.
    pub groups: Option<Vec<Vec<String>>>,
    /// link_*, loss_burst, delay_spike: the link's name.
    pub link: Option<String>,
    /// Undo after this long (required for loss_burst and delay_spike).
    pub duration: Option<Duration>,
    /// loss_burst: drop probability in (0, 1].
    pub loss: Option<f64>,
    /// delay_spike: the one-way delay during the spike.
    pub delay: Option<Duration>,
}

impl FaultConfig {
    /// Checks the keys this kind needs and forbids the others.
    pub fn validate(&self, at: &str) -> Result<(), String> {
        let kind = self.kind;
        let name = serde_plain_name(kind);
        let has = |set: bool, key: &str, need: bool| -> Result<(), String> {
            match (set, need) {
                (false, true) => Err(format!("{at}: kind \"{name}\" needs `{key}`")),
                (true, false) => Err(format!("{at}: kind \"{name}\" takes no `{key}`")),
                _ => Ok(()),
            }
        };
        use FaultKind::*;
        has(self.node.is_some(), "node", matches!(kind, Crash | Restart))?;
        has(self.groups.is_some(), "groups", kind == Partition)?;
        has(
            self.link.is_some(),
            "link",
            matches!(kind, LinkDown | LinkUp | LossBurst | DelaySpike),
        )?;
        has(self.loss.is_some(), "loss", kind == LossBurst)?;
        has(self.delay.is_some(), "delay", kind == DelaySpike)?;
        if matches!(kind, LossBurst | DelaySpike) && self.duration.is_none() {
            return Err(format!("{at}: kind \"{name}\" needs `duration`"));
        }
        if matches!(kind, Restart | Heal | LinkUp) && self.duration.is_some() {
            return Err(format!("{at}: kind \"{name}\" takes no `duration`"));
        }
        if self.duration.is_some_and(|d| d.0.as_ps() == 0) {
            return Err(format!("{at}: `duration` must be greater than zero"));
        }
        if let Some(p) = self.loss {
            if !(p > 0.0 && p <= 1.0) {
                return Err(format!("{at}: `loss` = {p} must be in (0, 1]"));
            }
        }
        if let Some(g) = &self.groups {
            if g.len() < 2 || g.iter().any(|s| s.is_empty()) {
                return Err(format!(
                    "{at}: `groups` needs at least two non-empty sets of node names"
                ));
            }
        }
        Ok(())
    }
}

/// The snake_case name serde uses for a kind, for messages.
pub fn serde_plain_name(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::Crash => "crash",
        FaultKind::Restart => "restart",
        FaultKind::Partition => "partition",
        FaultKind::Heal => "heal",
        FaultKind::LinkDown => "link_down",
        FaultKind::LinkUp => "link_up",
        FaultKind::LossBurst => "loss_burst",
        FaultKind::DelaySpike => "delay_spike",
    }
}
