//! Experiments: the config schema and overrides, and running one experiment to its output
//! folder.

pub mod config;
pub mod consensus_config;
pub mod filter;
pub mod progress;
pub mod run;
pub mod slurm;
pub mod study;
pub mod suite;
pub mod sweep;

pub use config::{ConfigError, ExperimentConfig, LoadedExperiment};
