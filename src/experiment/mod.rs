//! Experiments: running one experiment to its output folder, sweeps, studies, suites,
//! shards and Slurm. The schema they read is in [`crate::config`]; what they hand the
//! report is [`crate::results`].
//!
//! Invariants: a run's master seed is a hash of (base seed, the point's parameter values,
//! repetition), never of thread, shard or position; results are collected by run index,
//! never completion order, so a study's folder is byte-identical whatever `--jobs`,
//! `--shard` or `--resume` did; a study accumulates in a hidden folder renamed into place
//! when complete.
#![warn(missing_docs)]

pub mod progress;
pub mod run;
pub mod slurm;
pub mod study;
pub mod suite;
pub mod sweep;
