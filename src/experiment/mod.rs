//! Experiments: the config schema and overrides, and running one experiment to its output
//! folder.

pub mod config;
pub mod run;

pub use config::{ConfigError, ExperimentConfig, LoadedExperiment};
