//! Builds a run's scheduled faults from `[[faults]]`: node faults (crash, restart,
//! partition, heal) for the world, link faults as link changes with their labels. Faults
//! are node-generic: a crash names any node, or a role ("leader") that the components
//! resolve when it applies.

use super::world::{CrashTarget, NodeFault};
use crate::config::faults::{serde_plain_name, FaultKind};
use crate::engine::{SimDuration, SimTime};
use crate::net::loss::LossConfig;
use crate::net::{LinkChange, LinkId, NodeId, Topology};

/// Scheduled faults: node faults for the world, link faults as link changes with labels.
pub struct Faults {
    pub node: Vec<(SimTime, NodeFault)>,
    pub link: Vec<(SimTime, LinkChange, String)>,
}

pub fn build_faults(
    faults: &[crate::config::faults::FaultConfig],
    topo: &Topology,
    end: SimTime,
) -> Result<Faults, String> {
    let mut out = Faults {
        node: Vec::new(),
        link: Vec::new(),
    };
    for (i, f) in faults.iter().enumerate() {
        let at_s = format!("faults[{i}]");
        let at = SimTime::ZERO + f.at.0;
        let until = f.duration.map(|d| at + d.0).filter(|&t| t < end);
        let kind = serde_plain_name(f.kind);
        let node_id = |name: &str| -> Result<NodeId, String> {
            topo.node_id(name).ok_or_else(|| {
                format!("{at_s}: `{name}` is not a node of topology `{}`", topo.name)
            })
        };
        match f.kind {
            FaultKind::Crash | FaultKind::Restart => {
                let name = f.node.as_deref().unwrap_or_default();
                let fault = match (name, f.kind) {
                    ("leader" | "follower", FaultKind::Crash) if topo.node_id(name).is_none() => {
                        NodeFault::Crash {
                            target: CrashTarget::Role(name.to_string()),
                            restart_after: f.duration.map(|d| d.0),
                        }
                    }
                    (_, FaultKind::Crash) => NodeFault::Crash {
                        target: CrashTarget::Node(node_id(name).map_err(|e| {
                            format!("{e} (or \"leader\" or \"follower\" of a [consensus] group)")
                        })?),
                        restart_after: f.duration.map(|d| d.0),
                    },
                    _ => NodeFault::Restart(node_id(name)?),
                };
                out.node.push((at, fault));
            }
            FaultKind::Partition => {
                let groups = f.groups.clone().unwrap_or_default();
                let ids = groups
                    .iter()
                    .map(|g| g.iter().map(|n| node_id(n)).collect::<Result<Vec<_>, _>>())
                    .collect::<Result<Vec<_>, _>>()?;
                let label = groups
                    .iter()
                    .map(|g| format!("{{{}}}", g.join(",")))
                    .collect::<Vec<_>>()
                    .join(" | ");
                out.node
                    .push((at, NodeFault::Partition { groups: ids, label }));
                if let Some(t) = until {
                    out.node.push((t, NodeFault::Heal));
                }
            }
            FaultKind::Heal => out.node.push((at, NodeFault::Heal)),
            FaultKind::LinkDown
            | FaultKind::LinkUp
            | FaultKind::LossBurst
            | FaultKind::DelaySpike => {
                let name = f.link.as_deref().unwrap_or_default();
                let pos = topo
                    .links
                    .iter()
                    .position(|l| l.name == name)
                    .ok_or_else(|| {
                        format!(
                            "{at_s}: `link` = `{name}` is not a link of topology `{}`",
                            topo.name
                        )
                    })?;
                let l = &topo.links[pos];
                let link = LinkId(pos as u32);
                let change = |up: Option<bool>,
                              loss: Option<(Vec<LossConfig>, Vec<LossConfig>)>,
                              delay: Option<SimDuration>| {
                    let (ab, ba) = match loss {
                        Some((ab, ba)) => (Some(ab), Some(ba)),
                        None => (None, None),
                    };
                    LinkChange {
                        link,
                        rate_bps: None,
                        delay,
                        loss: ab,
                        loss_ba: ba,
                        up,
                    }
                };
                let original = (l.loss_ab.clone(), l.loss_ba.clone());
                let (begin, end_change) = match f.kind {
                    FaultKind::LinkDown => (
                        change(Some(false), None, None),
                        change(Some(true), None, None),
                    ),
                    FaultKind::LinkUp => (
                        change(Some(true), None, None),
                        change(Some(true), None, None),
                    ),
                    FaultKind::LossBurst => {
                        let burst = LossConfig::Bernoulli {
                            p: f.loss.unwrap_or(1.0),
                        };
                        let mut ab = original.0.clone();
                        ab.push(burst.clone());
                        let mut ba = original.1.clone();
                        ba.push(burst);
                        (
                            change(None, Some((ab, ba)), None),
                            change(None, Some(original.clone()), None),
                        )
                    }
                    _ => (
                        change(None, None, f.delay.map(|d| d.0)),
                        change(None, None, Some(l.params.delay)),
                    ),
                };
                let what = match f.kind {
                    FaultKind::LossBurst => format!("loss p={}", f.loss.unwrap_or(1.0)),
                    FaultKind::DelaySpike => {
                        format!("delay {}", f.delay.map(|d| d.0).unwrap_or_default())
                    }
                    _ => String::new(),
                };
                out.link.push((
                    at,
                    begin,
                    format!("{kind} {name} {what}").trim_end().to_string(),
                ));
                if let (Some(t), false) = (until, f.kind == FaultKind::LinkUp) {
                    out.link
                        .push((t, end_change, format!("{kind} {name} ends")));
                }
            }
        }
    }
    Ok(out)
}
