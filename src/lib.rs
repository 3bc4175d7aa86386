//! dwcp-sim: a deterministic discrete-event network simulator for wide-area VM migration.
//!
//! # Data flow
//!
//! One way, top to bottom: an experiment file is parsed and checked ([`config`]), a world
//! is built from it ([`scenario`]), the engine runs the world's events to the end time
//! ([`engine`], [`scenario::World::run`]), the models fill plain records ([`metrics`]), and
//! the records become CSV, plots, a manifest and the Markdown report ([`report`]).
//! [`experiment`] repeats that over sweeps, seeds, shards and suites. Nothing flows back:
//! the engine knows no networks, models know no files, the report knows no models.
//!
//! # Layers
//!
//! Each module may use only modules listed above it (`tests/architecture.rs` reads this
//! list and `src/`, and fails on any use of a module further down):
//!
//! ```text
//! engine      virtual time (ps), the event queue (FIFO among equal times), named RNG streams, the trace digest
//! units       quantities with units as written in config files: rates, durations, sizes
//! metrics     counters, histograms, time series, closed forms: pure data filled during a run
//! net         packets, nodes, links, queues, loss layers, routing, topology files and generators
//! compress    HDE: real codecs on generated guest memory, CPU cost from a calibration file
//! consensus   Raft (over raft-rs) and PBFT as sans-I/O state machines behind one trait
//! traffic     open-loop sources: CBR, Poisson, ping
//! transport   TCP (NewReno, CUBIC, BBR), RoCEv2, AMST, and messages as datagrams
//! migration   the guest VM (memory pages, dirtying process) and live-migration engines
//! config      the experiment schema, --set overrides, checks that need no simulation
//! scenario    builds a world from config + topology; the component interface; the event loop
//! results     the plain results model shared by studies and the report (rows, points, CSV readers)
//! report      tidy CSV, plots, manifests, the Markdown report: reads plain results only
//! experiment  one run to its folder, sweeps, studies, resume, shards, suites, Slurm
//! bench       `dwcp-sim bench`: events/s of the standard scenarios
//! ```
//!
//! # Extending it
//!
//! A new model is a [`scenario::Component`]: one sub-enum of events in
//! [`scenario::event`] (or [`scenario::UserEvent`] outside this crate) and one
//! [`scenario::World::add_component`]. `examples/custom_component.rs` shows one end to end.

#![warn(missing_docs)]

pub mod bench;
pub mod compress;
pub mod config;
pub mod consensus;
pub mod engine;
pub mod experiment;
pub mod metrics;
pub mod migration;
pub mod net;
pub mod report;
pub mod results;
pub mod scenario;
pub mod traffic;
pub mod transport;
pub mod units;
