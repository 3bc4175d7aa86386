//! Turns a run's records into files: tidy CSVs, plots, the manifest, written atomically,
//! and the Phase 5 report ([`phase5`], a table of sections, one file each).
//!
//! Invariants: reads plain data only ([`crate::metrics`] records of a run,
//! [`crate::results`] views of studies and suites), never a model or a runner; writes no
//! wall-clock figure into a study's files, so equal inputs give equal bytes; every file is
//! written under a temporary name and renamed into place.
#![warn(missing_docs)]

pub mod charts;
pub mod csv_out;
pub mod manifest;
pub mod output;
pub mod phase5;
pub mod plot;
pub mod study_plots;
