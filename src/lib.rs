//! dwcp-sim: a deterministic discrete-event network simulator for wide-area VM migration.
pub mod bench;
pub mod compress;
pub mod config;
pub mod consensus;
pub mod engine;
pub mod experiment;
pub mod metrics;
pub mod net;
pub mod report;
pub mod results;
pub mod scenario;
pub mod traffic;
pub mod transport;
pub mod units;
