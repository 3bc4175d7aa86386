//! Running one experiment: load, build, simulate, write `output/<name>/` atomically.

use crate::config::{ConfigError, LoadedExperiment};
use crate::metrics::RunRecords;
use crate::report::csv_out::RunColumns;
use crate::report::manifest::{git_state, Manifest};
use crate::report::output::StagedDir;
use crate::scenario::{self, ScenarioError};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
/// Why a single run could not produce its results.
pub enum RunError {
    /// The experiment file is unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The topology or the flows do not fit together.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// Writing results failed (the previous result, if any, is left intact).
    #[error("cannot write results to {path}: {message}")]
    Output {
        /// The path that could not be written.
        path: String,
        /// The underlying I/O error.
        message: String,
    },
}

/// Where and how to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Output folder; default `output/<experiment name>`.
    pub out: Option<PathBuf>,
    /// `--set key=value` overrides, applied in order.
    pub overrides: Vec<String>,
    /// Skip plots (tests, benchmarks).
    pub no_plots: bool,
    /// No progress bar.
    pub quiet: bool,
}

/// What a finished run left behind.
pub struct RunOutcome {
    /// Output folder the results were written to.
    pub dir: PathBuf,
    /// The run's records (the tidy data).
    pub records: RunRecords,
    /// The manifest written beside them.
    pub manifest: Manifest,
}

/// The columns that identify a run on every CSV row: experiment, seed, duration, and each
/// parameter set with `--set` (by its dotted key, last assignment wins, in key order), so
/// results of differently parameterized runs concatenate into one tidy table.
pub fn run_columns(exp: &LoadedExperiment, overrides: &[String]) -> RunColumns {
    let mut cols: RunColumns = vec![
        ("experiment".into(), exp.config.name.clone()),
        ("seed".into(), exp.config.seed.to_string()),
        ("duration".into(), exp.config.duration.to_string()),
    ];
    let set = super::study::set_columns(overrides, &[]);
    cols.extend(set);
    cols
}

/// Loads and simulates an experiment without writing anything.
pub fn simulate(exp: &LoadedExperiment) -> Result<RunRecords, RunError> {
    Ok(scenario::prepare(exp)?.run())
}

/// Runs the experiment at `path` and writes its output folder.
pub fn run_file(path: &Path, opts: &RunOptions) -> Result<RunOutcome, RunError> {
    let exp = LoadedExperiment::load(path, &opts.overrides)?;
    let world = scenario::prepare(&exp)?;
    // Claim the output folder before simulating, so a bad --out fails fast.
    let target = opts
        .out
        .clone()
        .unwrap_or_else(|| Path::new("output").join(&exp.config.name));
    let out_err = |e: &dyn std::fmt::Display| RunError::Output {
        path: target.display().to_string(),
        message: e.to_string(),
    };
    let staged = StagedDir::new(&target).map_err(|e| out_err(&e))?;

    let started = std::time::Instant::now(); // wall time for the manifest only
    let records = super::progress::run_with_bar(world, exp.config.duration.0.as_ps(), opts.quiet);
    let wall_s = started.elapsed().as_secs_f64();
    let dir = staged.path().to_path_buf();
    let run_cols = run_columns(&exp, &opts.overrides);
    let mut files = vec![
        "config.toml".to_string(),
        "results.csv".into(),
        "timeseries.csv".into(),
        "events.csv".into(),
    ];
    super::study::write_run_files(&dir, &exp, &run_cols, &records).map_err(|e| out_err(&e))?;
    if !opts.no_plots && exp.config.record.plots.unwrap_or(true) {
        files.extend(
            crate::report::charts::write_charts(&dir, &exp.config.name, &records)
                .map_err(|e| out_err(&e))?,
        );
    }
    let (git_revision, git_dirty) = git_state();
    files.push("manifest.json".into());
    let manifest = Manifest {
        tool: "dwcp-sim",
        crate_version: env!("CARGO_PKG_VERSION"),
        git_revision,
        git_dirty,
        experiment: exp.config.name.clone(),
        config_file: path.display().to_string(),
        config_hash: format!("{:016x}", exp.config_hash),
        seed: exp.config.seed,
        events: records.events,
        event_digest: format!("{:016x}", records.digest),
        virtual_time_s: records.end_time.as_secs_f64(),
        wall_time_s: wall_s,
        events_per_s: if wall_s > 0.0 {
            records.events as f64 / wall_s
        } else {
            0.0
        },
        files,
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| out_err(&e))?;
    std::fs::write(dir.join("manifest.json"), json + "\n").map_err(|e| out_err(&e))?;
    let dir = staged.commit().map_err(|e| out_err(&e))?;
    Ok(RunOutcome {
        dir,
        records,
        manifest,
    })
}
