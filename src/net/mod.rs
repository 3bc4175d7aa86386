//! The packet-level network: nodes, full-duplex links with rate, delay, jitter, queues,
//! ECN marking and stacked loss layers; shortest-path/ECMP routing; topology files and
//! generators. Models above it inject packets and get back the ones delivered.

#![warn(missing_docs)]

pub mod generators;
pub mod ids;
pub mod loss;
pub mod network;
pub mod packet;
pub mod routing;
pub mod topology;

pub use ids::{FlowId, LinkId, NodeId, PacketId, PortId};
pub use network::{LinkChange, NetEvent, Network};
pub use packet::{Packet, Payload, Segment, SegmentKind};
pub use routing::{RouteMetric, Routes};
pub use topology::{Topology, TopologyConfig, TopologyError};
