//! dwcp-sim: a deterministic discrete-event network simulator for wide-area VM migration.
pub mod engine;
