//! Shortest-path routing with equal-cost multipath (ECMP).
//!
//! For every destination, Dijkstra (petgraph) from the destination gives each node's
//! distance; the next hops of node `u` towards `d` are all ports `u→v` with
//! `dist(v) + w(u,v) = dist(u)`. Hop lists are interned, and the table gives each
//! `(node, destination)` its list in O(1). A packet picks among equal-cost hops by a hash of
//! its flow and the node, so a flow keeps one path (no reordering) while flows spread out.

use super::ids::{NodeId, PortId};
use super::topology::Topology;
use petgraph::graph::{NodeIndex, UnGraph};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What "shortest" means.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RouteMetric {
    /// Fewest hops.
    #[default]
    Hops,
    /// Least total propagation delay (plus 1 ps per hop, so zero-delay links never tie
    /// into a loop).
    Delay,
}

/// Next-hop table: `(node, destination) → equal-cost egress ports`.
pub struct Routes {
    nodes: usize,
    /// Per `node * nodes + dst`: offset into `hops` and count (0 = unreachable or local).
    entries: Vec<(u32, u32)>,
    hops: Vec<PortId>,
    ecmp: bool,
}

impl Routes {
    /// Builds the table; with `ecmp` false only the lowest-numbered equal-cost port is kept.
    pub fn compute(topo: &Topology, metric: RouteMetric, ecmp: bool) -> Routes {
        let n = topo.nodes.len();
        let mut graph = UnGraph::<(), u64>::with_capacity(n, topo.links.len());
        for _ in 0..n {
            graph.add_node(());
        }
        // Ports out of each node with their neighbour and weight, in link order.
        let mut out: Vec<Vec<(PortId, usize, u64)>> = vec![Vec::new(); n];
        for (i, l) in topo.links.iter().enumerate() {
            let w = match metric {
                RouteMetric::Hops => 1,
                RouteMetric::Delay => l.params.delay.as_ps() + 1,
            };
            graph.add_edge(NodeIndex::new(l.a.index()), NodeIndex::new(l.b.index()), w);
            let [ab, ba] = super::ids::LinkId(i as u32).ports();
            out[l.a.index()].push((ab, l.b.index(), w));
            out[l.b.index()].push((ba, l.a.index(), w));
        }
        let mut entries = vec![(0u32, 0u32); n * n];
        let mut hops: Vec<PortId> = Vec::new();
        // Interning map is used for lookup only; offsets follow our loop order, not its order.
        let mut interned: HashMap<Vec<PortId>, u32> = HashMap::new();
        let mut dist = vec![u64::MAX; n];
        let mut candidates = Vec::new();
        for d in 0..n {
            let found = petgraph::algo::dijkstra(&graph, NodeIndex::new(d), None, |e| *e.weight());
            dist.fill(u64::MAX);
            for (node, cost) in found {
                dist[node.index()] = cost;
            }
            for u in 0..n {
                if u == d || dist[u] == u64::MAX {
                    continue;
                }
                candidates.clear();
                for &(port, v, w) in &out[u] {
                    if dist[v] != u64::MAX && dist[v] + w == dist[u] {
                        candidates.push(port);
                        if !ecmp {
                            break;
                        }
                    }
                }
                let offset = match interned.get(&candidates) {
                    Some(&o) => o,
                    None => {
                        let o = hops.len() as u32;
                        hops.extend_from_slice(&candidates);
                        interned.insert(candidates.clone(), o);
                        o
                    }
                };
                entries[u * n + d] = (offset, candidates.len() as u32);
            }
        }
        Routes { nodes: n, entries, hops, ecmp }
    }

    /// All equal-cost egress ports from `node` towards `dst` (empty if unreachable or local).
    #[inline]
    pub fn next_hops(&self, node: NodeId, dst: NodeId) -> &[PortId] {
        let (off, cnt) = self.entries[node.index() * self.nodes + dst.index()];
        &self.hops[off as usize..(off + cnt) as usize]
    }

    /// The egress port a packet with `flow_hash` takes from `node` towards `dst`.
    #[inline]
    pub fn select(&self, node: NodeId, dst: NodeId, flow_hash: u32) -> Option<PortId> {
        let (off, cnt) = self.entries[node.index() * self.nodes + dst.index()];
        match cnt {
            0 => None,
            1 => Some(self.hops[off as usize]),
            _ => {
                // Salt by node so successive tiers do not make correlated choices
                // (hash polarization).
                let h = mix32(flow_hash ^ node.0.wrapping_mul(0x9e37_79b9));
                Some(self.hops[(off + h % cnt) as usize])
            }
        }
    }

    pub fn ecmp(&self) -> bool {
        self.ecmp
    }
}

#[inline]
fn mix32(mut x: u32) -> u32 {
    // lowbias32 (C. Wellons): a fast 32-bit integer hash with good avalanche.
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}
