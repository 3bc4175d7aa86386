//! Turns a run's records into files: tidy CSVs, plots, the manifest, written atomically.
//! Reads metrics; never touches a model.

pub mod charts;
pub mod csv_out;
pub mod manifest;
pub mod output;
pub mod phase5;
pub mod plot;
pub mod study_plots;
