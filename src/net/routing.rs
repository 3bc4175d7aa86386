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
///
/// Nodes with a single port (most hosts) need no table row: in a connected topology every
/// destination but themselves lies behind that port. Only multi-port nodes get a row, which
/// keeps the table small enough to stay in cache (a 1032-node leaf-spine: 40 rows, not 1032).
pub struct Routes {
    nodes: usize,
    /// Per node: its row in `entries`, or `SINGLE` with the offset of its one port in `hops`.
    row_of: Vec<(u32, u32)>,
    /// Per `row * nodes + dst`: offset into `hops` and count (0 = unreachable or local).
    entries: Vec<(u32, u32)>,
    hops: Vec<PortId>,
}

const SINGLE: u32 = u32::MAX;

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
        let mut hops: Vec<PortId> = Vec::new();
        let mut row_of = Vec::with_capacity(n);
        let mut rows = 0u32;
        for ports in &out {
            if ports.len() == 1 {
                row_of.push((SINGLE, hops.len() as u32));
                hops.push(ports[0].0);
            } else {
                row_of.push((rows, 0));
                rows += 1;
            }
        }
        let mut entries = vec![(0u32, 0u32); rows as usize * n];
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
                let row = row_of[u].0;
                if u == d || dist[u] == u64::MAX || row == SINGLE {
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
                entries[row as usize * n + d] = (offset, candidates.len() as u32);
            }
        }
        Routes {
            nodes: n,
            row_of,
            entries,
            hops,
        }
    }

    /// All equal-cost egress ports from `node` towards `dst` (empty if unreachable or local).
    #[inline]
    pub fn next_hops(&self, node: NodeId, dst: NodeId) -> &[PortId] {
        let (off, cnt) = self.entry(node, dst);
        &self.hops[off as usize..(off + cnt) as usize]
    }

    #[inline]
    fn entry(&self, node: NodeId, dst: NodeId) -> (u32, u32) {
        match self.row_of[node.index()] {
            (SINGLE, _) if node == dst => (0, 0),
            (SINGLE, off) => (off, 1),
            (row, _) => self.entries[row as usize * self.nodes + dst.index()],
        }
    }

    /// The egress port a packet with `flow_hash` takes from `node` towards `dst`.
    #[inline]
    pub fn select(&self, node: NodeId, dst: NodeId, flow_hash: u32) -> Option<PortId> {
        let (off, cnt) = self.entry(node, dst);
        match cnt {
            0 => None,
            1 => Some(self.hops[off as usize]),
            _ => {
                // Salt by node so successive tiers do not make correlated choices
                // (hash polarization).
                let h = mix32(flow_hash ^ node.0.wrapping_mul(0x9e37_79b9));
                // Multiply-shift maps h uniformly onto 0..cnt without a division (Lemire 2019).
                let pick = ((h as u64 * cnt as u64) >> 32) as u32;
                Some(self.hops[(off + pick) as usize])
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::generators::GeneratorConfig;
    use crate::net::topology::{LinkConfig, TopologyConfig};
    use crate::units::Rate;

    fn fat_tree(k: u32) -> Topology {
        let link = LinkConfig {
            rate: Some(Rate(10_000_000_000)),
            ..Default::default()
        };
        let cfg = TopologyConfig {
            generate: Some(GeneratorConfig::FatTree {
                k,
                host_link: link.clone(),
                fabric_link: link,
            }),
            ..Default::default()
        };
        Topology::from_config(&cfg, "ft", "test").unwrap()
    }

    #[test]
    fn fat_tree_has_the_textbook_equal_cost_fanout() {
        // k = 4: from an edge switch to a host in another pod, 2 uplinks are equal-cost
        // (one per aggregation switch); from an aggregation switch, 2 (its cores); from a
        // core, exactly 1 (the destination pod's aggregation switch); host → anything: 1.
        let t = fat_tree(4);
        let r = Routes::compute(&t, RouteMetric::Hops, true);
        let id = |n: &str| t.node_id(n).unwrap();
        let dst = id("pod3-h0");
        assert_eq!(r.next_hops(id("pod0-edge0"), dst).len(), 2);
        assert_eq!(r.next_hops(id("pod0-agg0"), dst).len(), 2);
        assert_eq!(r.next_hops(id("core0"), dst).len(), 1);
        assert_eq!(r.next_hops(id("pod0-h0"), dst).len(), 1);
        assert_eq!(
            r.next_hops(dst, dst).len(),
            0,
            "local delivery has no next hop"
        );
        // Within a pod, edge → other edge's host: 2 aggregation paths.
        assert_eq!(r.next_hops(id("pod0-edge0"), id("pod0-h3")).len(), 2);
        // Without ECMP only one path is kept.
        let single = Routes::compute(&t, RouteMetric::Hops, false);
        assert_eq!(single.next_hops(id("pod0-edge0"), dst).len(), 1);
    }

    #[test]
    fn select_is_stable_per_flow_and_spreads_across_flows() {
        let t = fat_tree(4);
        let r = Routes::compute(&t, RouteMetric::Hops, true);
        let (edge, dst) = (
            t.node_id("pod0-edge0").unwrap(),
            t.node_id("pod3-h0").unwrap(),
        );
        let mut used = std::collections::BTreeSet::new();
        for flow_hash in 0..64u32 {
            let a = r.select(edge, dst, flow_hash.wrapping_mul(0x9e37_79b9));
            assert_eq!(
                a,
                r.select(edge, dst, flow_hash.wrapping_mul(0x9e37_79b9)),
                "same flow, same port"
            );
            used.insert(a.unwrap());
        }
        assert_eq!(used.len(), 2, "64 flows use both equal-cost uplinks");
    }
}
