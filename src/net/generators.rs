//! Topology generators: dumbbell, star, leaf-spine, fat-tree and multi-region WAN.
//!
//! Each expands into plain nodes and links, which then go through the same validation as a
//! hand-written file. Names are predictable (`h0`, `leaf3`, `pod2-agg1`, `us-east-h4`) so
//! experiments can refer to them.

use super::topology::{LinkConfig, NodeConfig, NodeKind};
use crate::units::Duration;
use serde::{Deserialize, Serialize};

/// A generated topology (`[topology.generate]`), by `kind`; expands to plain nodes and links.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum GeneratorConfig {
    /// Hosts `l0..` on switch `sl`, hosts `r0..` on switch `sr`, one bottleneck `sl-sr`.
    Dumbbell {
        /// Hosts on each side.
        hosts_per_side: u32,
        /// Template for the host–switch links.
        #[serde(default)]
        access_link: LinkConfig,
        /// Template for the `sl-sr` link.
        #[serde(default)]
        bottleneck_link: LinkConfig,
    },
    /// Hosts `h0..` around one switch `sw`.
    Star {
        /// Number of hosts.
        hosts: u32,
        /// Template for every host–switch link.
        #[serde(default)]
        link: LinkConfig,
    },
    /// Two-tier Clos: every leaf links to every spine; hosts `h<leaf>-<i>` hang off leaves.
    LeafSpine {
        /// Number of spine switches.
        spines: u32,
        /// Number of leaf switches.
        leaves: u32,
        /// Hosts under each leaf.
        hosts_per_leaf: u32,
        /// Template for host–leaf links.
        #[serde(default)]
        host_link: LinkConfig,
        /// Template for leaf–spine links.
        #[serde(default)]
        fabric_link: LinkConfig,
    },
    /// k-ary fat-tree (Al-Fares et al., SIGCOMM 2008): k pods of k/2 edge and k/2
    /// aggregation switches, (k/2)² cores, k³/4 hosts. `k` must be even.
    FatTree {
        /// Switch port count (pods); even.
        k: u32,
        /// Template for host–edge links.
        #[serde(default)]
        host_link: LinkConfig,
        /// Template for the switch-to-switch links.
        #[serde(default)]
        fabric_link: LinkConfig,
    },
    /// Regions, each a router `<region>-gw` with its hosts `<region>-h<i>`; gateways in a
    /// full mesh. `inter_delay[i][j]` (optional) overrides the inter-region one-way delay.
    Wan {
        /// Region names, used as node-name prefixes.
        regions: Vec<String>,
        /// Hosts in each region.
        hosts_per_region: u32,
        /// Template for host–gateway links.
        #[serde(default)]
        intra_link: LinkConfig,
        /// Template for gateway–gateway links.
        #[serde(default)]
        inter_link: LinkConfig,
        /// Per-pair one-way delay overrides, indexed by region position.
        #[serde(default)]
        inter_delay: Option<Vec<Vec<Duration>>>,
    },
}

struct Builder {
    nodes: Vec<NodeConfig>,
    links: Vec<LinkConfig>,
}

impl Builder {
    fn node(&mut self, name: String, kind: NodeKind) -> String {
        self.nodes.push(NodeConfig {
            name: name.clone(),
            kind,
        });
        name
    }
    fn link(&mut self, a: &str, b: &str, template: &LinkConfig) {
        let mut l = template.clone();
        l.name = None;
        l.a = Some(a.to_string());
        l.b = Some(b.to_string());
        self.links.push(l);
    }
}

fn at_least(name: &str, v: u32, min: u32) -> Result<(), String> {
    if v < min {
        Err(format!(
            "generator `{name}` = {v} is too small (at least {min})"
        ))
    } else {
        Ok(())
    }
}

impl GeneratorConfig {
    /// The nodes and links this generator describes; `Err` names a parameter that is too small.
    pub fn expand(&self) -> Result<(Vec<NodeConfig>, Vec<LinkConfig>), String> {
        let mut g = Builder {
            nodes: Vec::new(),
            links: Vec::new(),
        };
        match self {
            GeneratorConfig::Dumbbell {
                hosts_per_side,
                access_link,
                bottleneck_link,
            } => {
                at_least("hosts_per_side", *hosts_per_side, 1)?;
                let sl = g.node("sl".into(), NodeKind::Switch);
                let sr = g.node("sr".into(), NodeKind::Switch);
                for i in 0..*hosts_per_side {
                    let h = g.node(format!("l{i}"), NodeKind::Host);
                    g.link(&h, &sl, access_link);
                }
                for i in 0..*hosts_per_side {
                    let h = g.node(format!("r{i}"), NodeKind::Host);
                    g.link(&sr, &h, access_link);
                }
                g.link(&sl, &sr, bottleneck_link);
            }
            GeneratorConfig::Star { hosts, link } => {
                at_least("hosts", *hosts, 1)?;
                let sw = g.node("sw".into(), NodeKind::Switch);
                for i in 0..*hosts {
                    let h = g.node(format!("h{i}"), NodeKind::Host);
                    g.link(&h, &sw, link);
                }
            }
            GeneratorConfig::LeafSpine {
                spines,
                leaves,
                hosts_per_leaf,
                host_link,
                fabric_link,
            } => {
                at_least("spines", *spines, 1)?;
                at_least("leaves", *leaves, 1)?;
                let spine_names: Vec<String> = (0..*spines)
                    .map(|s| g.node(format!("spine{s}"), NodeKind::Switch))
                    .collect();
                for l in 0..*leaves {
                    let leaf = g.node(format!("leaf{l}"), NodeKind::Switch);
                    for s in &spine_names {
                        g.link(&leaf, s, fabric_link);
                    }
                    for h in 0..*hosts_per_leaf {
                        let host = g.node(format!("h{l}-{h}"), NodeKind::Host);
                        g.link(&host, &leaf, host_link);
                    }
                }
            }
            GeneratorConfig::FatTree {
                k,
                host_link,
                fabric_link,
            } => {
                if *k < 2 || k % 2 != 0 {
                    return Err(format!("generator `k` = {k} must be an even number ≥ 2"));
                }
                let half = k / 2;
                let cores: Vec<String> = (0..half * half)
                    .map(|c| g.node(format!("core{c}"), NodeKind::Switch))
                    .collect();
                for p in 0..*k {
                    let aggs: Vec<String> = (0..half)
                        .map(|a| g.node(format!("pod{p}-agg{a}"), NodeKind::Switch))
                        .collect();
                    for (a, agg) in aggs.iter().enumerate() {
                        // Aggregation switch a of each pod connects to cores a·k/2 .. a·k/2 + k/2 − 1.
                        for c in 0..half {
                            g.link(agg, &cores[(a as u32 * half + c) as usize], fabric_link);
                        }
                    }
                    for e in 0..half {
                        let edge = g.node(format!("pod{p}-edge{e}"), NodeKind::Switch);
                        for agg in &aggs {
                            g.link(&edge, agg, fabric_link);
                        }
                        for h in 0..half {
                            let host = g.node(format!("pod{p}-h{}", e * half + h), NodeKind::Host);
                            g.link(&host, &edge, host_link);
                        }
                    }
                }
            }
            GeneratorConfig::Wan {
                regions,
                hosts_per_region,
                intra_link,
                inter_link,
                inter_delay,
            } => {
                if regions.is_empty() {
                    return Err("generator `regions` is empty (list region names)".into());
                }
                if let Some(m) = inter_delay {
                    if m.len() != regions.len() || m.iter().any(|row| row.len() != regions.len()) {
                        return Err(format!(
                            "generator `inter_delay` must be a {n}×{n} matrix (one row and column per region)",
                            n = regions.len()
                        ));
                    }
                }
                let gws: Vec<String> = regions
                    .iter()
                    .map(|r| g.node(format!("{r}-gw"), NodeKind::Router))
                    .collect();
                for (r, gw) in regions.iter().zip(&gws) {
                    for h in 0..*hosts_per_region {
                        let host = g.node(format!("{r}-h{h}"), NodeKind::Host);
                        g.link(&host, gw, intra_link);
                    }
                }
                for i in 0..gws.len() {
                    for j in i + 1..gws.len() {
                        let mut l = inter_link.clone();
                        if let Some(m) = inter_delay {
                            l.delay = Some(m[i][j]);
                        }
                        g.link(&gws[i], &gws[j], &l);
                    }
                }
            }
        }
        Ok((g.nodes, g.links))
    }
}
