//! Experiments: running one experiment to its output folder, sweeps, studies, suites,
//! shards and Slurm. The schema they read is in [`crate::config`].

pub mod progress;
pub mod run;
pub mod slurm;
pub mod study;
pub mod suite;
pub mod sweep;
