//! A study: an experiment file with sweeps and/or repetitions, expanded to runs that execute
//! in parallel, resume after interruption, split into shards, and aggregate into one output.
//!
//! Layout of `output/<name>/`: `runs/<id>/` (one folder per run, each written atomically),
//! `results.csv` and `timeseries.csv` (all runs, in run order), `summary.csv` (mean, standard
//! deviation and Student-t 95% interval per point and metric), `plots/`, `config.toml`,
//! `manifest.json`. Every aggregate file is computed from the run folders on disk, by one
//! function, so a sharded study merged afterwards gives exactly the bytes of a single one.

use super::run::RunError;
use super::sweep::{self, Point, Sweep};
use crate::config::{
    looks_like_topology, set_path, ConfigError, LoadedExperiment, NOT_AN_EXPERIMENT,
};
use crate::engine::rng::stable_hash;
use crate::report::csv_out::{write_results, write_timeseries, RunColumns};
use crate::report::output::{replace_dir, StagedDir};
use crate::report::study_plots::{self, PlotSpec};
use crate::results::{summarize, PointStat, RunRef, StudyView, CONFIDENCE};
use crate::scenario;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// One run of a study.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// Position in the study's run list (points in order, repetitions inner).
    pub index: usize,
    /// Index of its sweep point.
    pub point: usize,
    /// Repetition number within the point.
    pub rep: u32,
    /// Folder name under `runs/`: `p<point>-r<rep>`.
    pub id: String,
    /// The experiment for this point, overrides applied.
    pub exp: LoadedExperiment,
    /// Identity columns this run adds to every tidy table row.
    pub columns: RunColumns,
    /// The point's canonical `key=value;...` text.
    pub point_values: String,
}

/// An expanded experiment file.
#[derive(Clone, Debug)]
pub struct Study {
    /// Experiment name (from the file).
    pub name: String,
    /// The experiment file.
    pub path: PathBuf,
    /// `--set key=value` overrides, in the order applied.
    pub overrides: Vec<String>,
    /// The expanded sweep.
    pub sweep: Sweep,
    /// Every run, in index order.
    pub runs: Vec<RunSpec>,
    /// Plots to draw over the study.
    pub plots: Vec<PlotSpec>,
    /// The file after overrides (sweep section included), as stored in `config.toml`.
    pub resolved_toml: String,
    /// Hash of every run's identity and config: shards and resumes must agree on it.
    pub hash: u64,
    /// Master seed from the file's `seed` (1 if absent); each run derives its own from it.
    pub base_seed: u64,
}

/// What one run left in `runs/<id>/run.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunMeta {
    /// Folder name under `runs/`.
    pub id: String,
    /// Position in the study's run list.
    pub index: usize,
    /// Index of its sweep point.
    pub point: usize,
    /// Repetition number within the point.
    pub rep: u32,
    /// The run's master seed.
    pub seed: u64,
    /// The point's canonical `key=value;...` text.
    pub point_values: String,
    /// Hash of the run's resolved config, 16 hex digits.
    pub config_hash: String,
    /// Events processed.
    pub events: u64,
    /// Digest of the event trace, 16 hex digits.
    pub event_digest: String,
    /// Simulated time at the end of the run, in seconds.
    pub virtual_time_s: f64,
}

/// What a shard folder records so `merge` can rebuild and check the study.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ShardInfo {
    /// The experiment file the shard was run from.
    pub experiment_file: String,
    /// `--set` overrides it was run with.
    pub overrides: Vec<String>,
    /// The study's hash, which every shard must share.
    pub study_hash: String,
    /// This shard's number, `0..shards`.
    pub shard: usize,
    /// Number of shards.
    pub shards: usize,
}

impl Study {
    /// Reads an experiment file, applies `overrides`, expands the sweep and checks every
    /// run's configuration, so bad input fails before anything runs.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Study, ConfigError> {
        let shown = path.display().to_string();
        let text = fs::read_to_string(path).map_err(|cause| ConfigError::Io {
            path: shown.clone(),
            cause,
        })?;
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        if looks_like_topology(&table) {
            return Err(ConfigError::Invalid {
                path: shown,
                message: NOT_AN_EXPERIMENT.into(),
            });
        }
        for a in overrides {
            crate::config::schema::apply_override(&mut table, a)?;
        }
        let resolved_toml = toml::to_string(&table).map_err(|e| ConfigError::Parse {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let plots = match table.remove("plot") {
            None => Vec::new(),
            Some(v) => study_plots::parse_specs(v).map_err(|message| ConfigError::Invalid {
                path: shown.clone(),
                message,
            })?,
        };
        let sweep = sweep::expand(table).map_err(|message| ConfigError::Invalid {
            path: shown.clone(),
            message,
        })?;
        let swept = sweep.keys();
        let mut kept = Vec::with_capacity(plots.len());
        for p in plots {
            match p.check(&swept) {
                Ok(()) => kept.push(p),
                // `--set` fixed a plotted parameter: nothing to draw over it.
                Err(_) if p.names_a_fixed_parameter(&sweep.base, &swept) => {}
                Err(message) => {
                    return Err(ConfigError::Invalid {
                        path: shown.clone(),
                        message,
                    })
                }
            }
        }
        let plots = kept;
        let base_seed = match sweep.base.get("seed") {
            None => 1,
            Some(toml::Value::Integer(s)) if *s >= 0 => *s as u64,
            Some(v) => {
                return Err(ConfigError::Invalid {
                    path: shown,
                    message: format!("`seed` = {v} must be a non-negative integer"),
                })
            }
        };
        let set_cols = set_columns(overrides, &sweep.keys());
        let point_width = digits(sweep.points.len());
        let rep_width = digits(sweep.repetitions as usize);
        let mut runs = Vec::with_capacity(sweep.run_count());
        let plain_text = (!sweep.is_study && overrides.is_empty()).then_some(text.as_str());
        for point in &sweep.points {
            let mut table = sweep.base.clone();
            for (k, v) in &point.assignments {
                set_path(&mut table, k, v.clone()).map_err(|message| ConfigError::Invalid {
                    path: shown.clone(),
                    message: format!("sweep parameter `{k}`: {message}"),
                })?;
            }
            for rep in 0..sweep.repetitions {
                let seed = sweep.run_seed(base_seed, point, rep);
                let mut t = table.clone();
                if sweep.is_study {
                    t.insert("seed".into(), toml::Value::Integer(seed as i64));
                }
                let mut context = String::new();
                if !overrides.is_empty() {
                    context.push_str(" (after --set overrides)");
                }
                if sweep.is_study {
                    context.push_str(&format!(" (point {}: {})", point.index, point.canonical()));
                }
                let exp = LoadedExperiment::from_table(&t, plain_text, path, &context)?;
                let columns = study_columns(&exp, point, rep, &set_cols);
                runs.push(RunSpec {
                    index: runs.len(),
                    point: point.index,
                    rep,
                    id: format!(
                        "p{:0pw$}-r{:0rw$}",
                        point.index,
                        rep,
                        pw = point_width,
                        rw = rep_width
                    ),
                    exp,
                    columns,
                    point_values: point.canonical(),
                });
            }
        }
        let name = runs
            .first()
            .map(|r| r.exp.config.name.clone())
            .unwrap_or_default();
        let mut h = stable_hash(0, resolved_toml.as_bytes());
        for r in &runs {
            h = stable_hash(h, format!("{}:{:016x}", r.id, r.exp.config_hash).as_bytes());
        }
        Ok(Study {
            name,
            path: path.to_path_buf(),
            overrides: overrides.to_vec(),
            sweep,
            runs,
            plots,
            resolved_toml,
            hash: h,
            base_seed,
        })
    }

    /// The study as plain data, for summaries, plots and reports.
    pub fn view(&self) -> StudyView {
        StudyView {
            name: self.name.clone(),
            path: self.path.clone(),
            repetitions: self.sweep.repetitions,
            keys: self.sweep.keys(),
            points: self.sweep.points.clone(),
            base: self.sweep.base.clone(),
            runs: self
                .runs
                .iter()
                .map(|r| RunRef {
                    id: r.id.clone(),
                    point: r.point,
                    rep: r.rep,
                })
                .collect(),
        }
    }

    /// The run at (point, rep), if it exists.
    pub fn find_run(&self, point: usize, rep: u32) -> Option<&RunSpec> {
        self.runs.iter().find(|r| r.point == point && r.rep == rep)
    }
}

fn digits(n: usize) -> usize {
    n.saturating_sub(1).max(1).to_string().len()
}

/// `--set` keys that become columns (those not swept and not identity columns).
pub(crate) fn set_columns(overrides: &[String], swept: &[String]) -> BTreeMap<String, String> {
    let mut set = BTreeMap::new();
    for o in overrides {
        if let Some((k, v)) = o.split_once('=') {
            let k = k.trim();
            if !["seed", "duration", "name"].contains(&k) && !swept.iter().any(|s| s == k) {
                set.insert(k.to_string(), v.trim().trim_matches('"').to_string());
            }
        }
    }
    set
}

/// Columns on every row of a study run: experiment, point, rep, seed, duration, `--set`
/// keys, then the swept keys with this point's values.
fn study_columns(
    exp: &LoadedExperiment,
    point: &Point,
    rep: u32,
    set: &BTreeMap<String, String>,
) -> RunColumns {
    let mut cols: RunColumns = vec![
        ("experiment".into(), exp.config.name.clone()),
        ("point".into(), point.index.to_string()),
        ("rep".into(), rep.to_string()),
        ("seed".into(), exp.config.seed.to_string()),
        ("duration".into(), exp.config.duration.to_string()),
    ];
    cols.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
    for (k, v) in &point.assignments {
        if k != "duration" {
            cols.push((k.clone(), Point::display_value(v)));
        }
    }
    cols
}

/// How to execute a study.
#[derive(Clone, Debug, Default)]
pub struct StudyOptions {
    /// Output folder (default `output/<name>`, or `output/<name>.shard-<i>-of-<n>`).
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores).
    pub jobs: Option<usize>,
    /// Keep finished runs of an interrupted study (or shard) and run only the rest.
    pub resume: bool,
    /// `(i, n)`: run only runs with `index % n == i`, into a shard folder, and do not
    /// aggregate (`merge` does).
    pub shard: Option<(usize, usize)>,
    /// No progress bar.
    pub quiet: bool,
    /// Skip plots.
    pub no_plots: bool,
}

/// What a study execution did.
#[derive(Clone, Debug)]
pub struct StudyOutcome {
    /// Output folder.
    pub dir: PathBuf,
    /// Runs executed this time.
    pub executed: usize,
    /// Runs skipped because a finished result was found (resume).
    pub skipped: usize,
    /// Events processed, over all runs (executed and skipped).
    pub events: u64,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> RunError {
    RunError::Output {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Runs a study (or one shard of it) and, unless sharded, aggregates and moves the output
/// into place.
pub fn execute(study: &Study, opts: &StudyOptions) -> Result<StudyOutcome, RunError> {
    let default_out = match opts.shard {
        None => Path::new("output").join(&study.name),
        Some((i, n)) => Path::new("output").join(format!("{}.shard-{i}-of-{n}", study.name)),
    };
    let target = opts.out.clone().unwrap_or(default_out);
    let work = match opts.shard {
        Some(_) => target.clone(),
        None => partial_dir(&target).map_err(|e| io_err(&target, e))?,
    };
    if opts.resume && opts.shard.is_none() && !work.exists() && target.join("runs").is_dir() {
        // Resuming after the output was completed (e.g. the sweep grew): start from its runs.
        copy_runs(&target.join("runs"), &work.join("runs")).map_err(|e| io_err(&work, e))?;
    }
    prepare_work_dir(&work, opts.resume, opts.shard.is_some()).map_err(|e| io_err(&work, e))?;
    let runs_dir = work.join("runs");
    fs::create_dir_all(&runs_dir).map_err(|e| io_err(&runs_dir, e))?;
    if let Some((i, n)) = opts.shard {
        let info = ShardInfo {
            experiment_file: study.path.display().to_string(),
            overrides: study.overrides.clone(),
            study_hash: format!("{:016x}", study.hash),
            shard: i,
            shards: n,
        };
        let json = serde_json::to_string_pretty(&info).map_err(|e| io_err(&work, e))?;
        write_atomic(&work.join("shard.json"), (json + "\n").as_bytes())
            .map_err(|e| io_err(&work, e))?;
    }

    let mine: Vec<&RunSpec> = study
        .runs
        .iter()
        .filter(|r| opts.shard.is_none_or(|(i, n)| r.index % n == i))
        .collect();
    let (done, todo): (Vec<&RunSpec>, Vec<&RunSpec>) = mine
        .into_iter()
        .partition(|r| opts.resume && run_is_complete(&runs_dir, r));
    let results = run_parallel(&todo, &runs_dir, opts)?;
    let mut events: u64 = results.iter().map(|m| m.events).sum();
    for r in &done {
        events += read_meta(&runs_dir.join(&r.id))
            .map(|m| m.events)
            .unwrap_or(0);
    }
    let dir = if opts.shard.is_some() {
        work
    } else {
        aggregate(study, &work, opts.no_plots)?;
        replace_dir(&work, &target).map_err(|e| io_err(&target, e))?
    };
    Ok(StudyOutcome {
        dir,
        executed: todo.len(),
        skipped: done.len(),
        events,
    })
}

/// `<parent>/.<name>.partial`: where an unsharded study accumulates until complete. Its
/// name is fixed so `--resume` finds it after a crash.
pub fn partial_dir(target: &Path) -> std::io::Result<PathBuf> {
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "output path has no folder name",
        )
    })?;
    Ok(parent.join(format!(".{}.partial", name.to_string_lossy())))
}

/// Copies finished run folders (not hidden leftovers) from one `runs/` to another.
fn copy_runs(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for run in fs::read_dir(from)? {
        let run = run?;
        if run.file_name().to_string_lossy().starts_with('.') || !run.path().is_dir() {
            continue;
        }
        copy_dir_files(&run.path(), &to.join(run.file_name()))?;
    }
    Ok(())
}

/// Copies the files of one folder (not recursive) into another.
fn copy_dir_files(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for f in fs::read_dir(from)? {
        let f = f?;
        fs::copy(f.path(), to.join(f.file_name()))?;
    }
    Ok(())
}

/// Empties a work folder unless resuming; refuses to empty a folder that is not ours.
fn prepare_work_dir(work: &Path, resume: bool, shard: bool) -> std::io::Result<()> {
    if work.exists() && !work.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "it exists and is not a folder (refusing to replace a file)",
        ));
    }
    if resume || !work.exists() {
        return fs::create_dir_all(work);
    }
    let ours = !shard || work.join("shard.json").exists() || fs::read_dir(work)?.next().is_none();
    if !ours {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "the folder exists and is not a shard folder (no shard.json); refusing to empty it",
        ));
    }
    fs::remove_dir_all(work)?;
    fs::create_dir_all(work)
}

fn read_meta(run_dir: &Path) -> Option<RunMeta> {
    let text = fs::read_to_string(run_dir.join("run.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// A run counts as done when its folder holds a run.json for exactly this configuration.
fn run_is_complete(runs_dir: &Path, r: &RunSpec) -> bool {
    read_meta(&runs_dir.join(&r.id))
        .is_some_and(|m| m.id == r.id && m.config_hash == format!("{:016x}", r.exp.config_hash))
}

fn run_parallel(
    todo: &[&RunSpec],
    runs_dir: &Path,
    opts: &StudyOptions,
) -> Result<Vec<RunMeta>, RunError> {
    let jobs = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| io_err(runs_dir, e))?;
    // Progress: finished runs, plus each running run's fraction of its virtual time.
    let progress: Vec<AtomicU64> = todo.iter().map(|_| AtomicU64::new(0)).collect();
    let finished = AtomicUsize::new(0);
    let bar = super::progress::Bar::new(todo.len(), opts.quiet);
    let ends: Vec<u64> = todo
        .iter()
        .map(|r| r.exp.config.duration.0.as_ps())
        .collect();
    // Longest runs first (estimated as nodes x virtual duration), each worker taking the next
    // from a shared counter: greedy longest-processing-time scheduling, so one big run does
    // not start last. Order affects wall time only; results are stored by run index.
    let cost = |r: &RunSpec| {
        let nodes = scenario::topology_of(&r.exp).map_or(1, |t| t.nodes.len()) as u128;
        nodes * r.exp.config.duration.0.as_ps() as u128
    };
    let mut order: Vec<usize> = (0..todo.len()).collect();
    let costs: Vec<u128> = todo.iter().map(|r| cost(r)).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(costs[i]));
    let next = AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Result<RunMeta, RunError>>>> =
        todo.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        let ticker = bar.spawn_ticker(s, &progress, ends, &finished);
        pool.scope(|ps| {
            for _ in 0..jobs {
                ps.spawn(|_| loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = order.get(k) else { break };
                    let r = todo[i];
                    let res = execute_run(r, runs_dir, Some(&progress[i]));
                    progress[i].store(r.exp.config.duration.0.as_ps(), Ordering::Relaxed);
                    finished.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(res);
                    }
                });
            }
        });
        bar.stop(ticker);
    });
    let results: Vec<Result<RunMeta, RunError>> = slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .ok()
                .flatten()
                .expect("every run index is taken by exactly one worker")
        })
        .collect();
    // Report the first failure in run order; the finished runs stay on disk for --resume.
    results.into_iter().collect()
}

/// Simulates one run and writes `runs/<id>/` atomically.
pub fn execute_run(
    r: &RunSpec,
    runs_dir: &Path,
    progress: Option<&AtomicU64>,
) -> Result<RunMeta, RunError> {
    execute_run_to(r, &runs_dir.join(&r.id), progress)
}

/// Simulates one run into the folder `target` (config.toml, results.csv, timeseries.csv,
/// run.json), atomically; the bytes equal those of the run's folder in a whole study.
pub fn execute_run_to(
    r: &RunSpec,
    target: &Path,
    progress: Option<&AtomicU64>,
) -> Result<RunMeta, RunError> {
    let world = scenario::prepare(&r.exp)?;
    let records = world.run_observed(progress);
    let target = target.to_path_buf();
    let staged = StagedDir::new(&target).map_err(|e| io_err(&target, e))?;
    let dir = staged.path();
    write_run_files(dir, &r.exp, &r.columns, &records).map_err(|e| io_err(&target, e))?;
    let meta = RunMeta {
        id: r.id.clone(),
        index: r.index,
        point: r.point,
        rep: r.rep,
        seed: r.exp.config.seed,
        point_values: r.point_values.clone(),
        config_hash: format!("{:016x}", r.exp.config_hash),
        events: records.events,
        event_digest: format!("{:016x}", records.digest),
        virtual_time_s: records.end_time.as_secs_f64(),
    };
    let json = serde_json::to_string_pretty(&meta).map_err(|e| io_err(&target, e))?;
    fs::write(dir.join("run.json"), json + "\n").map_err(|e| io_err(&target, e))?;
    staged.commit().map_err(|e| io_err(&target, e))?;
    Ok(meta)
}

/// The files of one run: config.toml, results.csv, timeseries.csv, events.csv.
pub fn write_run_files(
    dir: &Path,
    exp: &LoadedExperiment,
    columns: &RunColumns,
    records: &crate::metrics::RunRecords,
) -> std::io::Result<()> {
    fs::write(dir.join("config.toml"), &exp.resolved_toml)?;
    let create = |name: &str| fs::File::create(dir.join(name)).map(BufWriter::new);
    write_results(create("results.csv")?, columns, records)?;
    write_timeseries(create("timeseries.csv")?, columns, records)?;
    crate::report::csv_out::write_events(create("events.csv")?, columns, records)?;
    Ok(())
}

/// Writes a file by a temporary name and a rename, so readers never see half of it.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

fn fmt_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        String::new()
    }
}

/// Writes the study-level files into `dir` (which holds `runs/`).
pub fn aggregate(study: &Study, dir: &Path, no_plots: bool) -> Result<(), RunError> {
    let runs_dir = dir.join("runs");
    let missing: Vec<&str> = study
        .runs
        .iter()
        .filter(|r| !run_is_complete(&runs_dir, r))
        .map(|r| r.id.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(io_err(
            &runs_dir,
            format!(
                "{} of {} runs are missing or from another configuration: {}{}",
                missing.len(),
                study.runs.len(),
                missing[..missing.len().min(10)].join(", "),
                if missing.len() > 10 { ", ..." } else { "" }
            ),
        ));
    }
    // Leftovers of killed writers (hidden temporary folders) are not results.
    if let Ok(rd) = fs::read_dir(&runs_dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    for file in ["results.csv", "timeseries.csv", "events.csv"] {
        concat_csv(study, &runs_dir, file, &dir.join(file)).map_err(|e| io_err(dir, e))?;
    }
    let view = study.view();
    let stats = summarize(&view.runs, &runs_dir).map_err(|e| io_err(dir, e))?;
    write_summary(study, &stats, &dir.join("summary.csv")).map_err(|e| io_err(dir, e))?;
    fs::write(dir.join("config.toml"), &study.resolved_toml).map_err(|e| io_err(dir, e))?;
    let mut files = vec![
        "config.toml".to_string(),
        "results.csv".into(),
        "summary.csv".into(),
        "timeseries.csv".into(),
        "events.csv".into(),
    ];
    if !no_plots {
        let plots_dir = dir.join("plots");
        if plots_dir.exists() {
            fs::remove_dir_all(&plots_dir).map_err(|e| io_err(&plots_dir, e))?;
        }
        files.extend(
            study_plots::draw(&view, &study.plots, &stats, &runs_dir, &plots_dir)
                .map_err(|e| io_err(dir, e))?,
        );
    }
    files.push("manifest.json".into());
    let metas: Vec<RunMeta> = study
        .runs
        .iter()
        .filter_map(|r| read_meta(&runs_dir.join(&r.id)))
        .collect();
    let mut manifest = crate::report::manifest::provenance();
    let fields = serde_json::json!({
        "experiment": study.name,
        "config_file": study.path.display().to_string(),
        "study_hash": format!("{:016x}", study.hash),
        "base_seed": study.base_seed,
        "swept": study.sweep.keys(),
        "points": study.sweep.points.len(),
        "repetitions": study.sweep.repetitions,
        "confidence": CONFIDENCE,
        "events": metas.iter().map(|m| m.events).sum::<u64>(),
        "runs": metas.iter().map(|m| serde_json::json!({
            "id": m.id, "seed": m.seed, "events": m.events, "event_digest": m.event_digest,
        })).collect::<Vec<_>>(),
        "files": files,
    });
    if let serde_json::Value::Object(f) = fields {
        manifest.extend(f);
    }
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| io_err(dir, e))?;
    fs::write(dir.join("manifest.json"), json + "\n").map_err(|e| io_err(dir, e))?;
    Ok(())
}

/// Concatenates one CSV of every run (header once), in run order.
fn concat_csv(study: &Study, runs_dir: &Path, file: &str, to: &Path) -> Result<(), String> {
    let mut out = BufWriter::new(fs::File::create(to).map_err(|e| e.to_string())?);
    let mut header: Option<String> = None;
    for r in &study.runs {
        let path = runs_dir.join(&r.id).join(file);
        // Runs resumed from before events.csv existed have none: nothing happened to log.
        if file == "events.csv" && !path.exists() {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (head, body) = text.split_once('\n').unwrap_or((&text, ""));
        match &header {
            None => {
                out.write_all(head.as_bytes())
                    .and_then(|_| out.write_all(b"\n"))
                    .map_err(|e| e.to_string())?;
                header = Some(head.to_string());
            }
            Some(h) if h != head => {
                return Err(format!(
                    "{}: columns differ from the first run's ({head} vs {h})",
                    path.display()
                ))
            }
            Some(_) => {}
        }
        out.write_all(body.as_bytes()).map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

fn write_summary(study: &Study, stats: &[PointStat], to: &Path) -> Result<(), String> {
    let mut w = csv::Writer::from_path(to).map_err(|e| e.to_string())?;
    let keys = study.sweep.keys();
    let mut header: Vec<String> = vec!["experiment".into(), "point".into()];
    header.extend(keys.iter().cloned());
    header.extend(
        [
            "scope",
            "entity",
            "metric",
            "unit",
            "n",
            "mean",
            "std",
            "ci95_low",
            "ci95_high",
        ]
        .map(String::from),
    );
    w.write_record(&header).map_err(|e| e.to_string())?;
    for s in stats {
        let point = &study.sweep.points[s.point];
        let mut rec = vec![study.name.clone(), s.point.to_string()];
        rec.extend(
            point
                .assignments
                .iter()
                .map(|(_, v)| Point::display_value(v)),
        );
        let m = &s.summary;
        rec.extend([
            s.scope.clone(),
            s.entity.clone(),
            s.metric.clone(),
            s.unit.clone(),
            m.n.to_string(),
            fmt_num(m.mean),
            fmt_num(m.std_dev),
            fmt_num(m.mean - m.ci_half),
            fmt_num(m.mean + m.ci_half),
        ]);
        w.write_record(&rec).map_err(|e| e.to_string())?;
    }
    w.flush().map_err(|e| e.to_string())
}

/// Combines shard folders into the study's output, byte-identical to an unsharded run.
pub fn merge(
    shards: &[PathBuf],
    out: Option<PathBuf>,
    no_plots: bool,
) -> Result<PathBuf, anyhow::Error> {
    let first = shards
        .first()
        .ok_or_else(|| anyhow::anyhow!("merge needs at least one shard folder"))?;
    let read_info = |d: &Path| -> anyhow::Result<ShardInfo> {
        let p = d.join("shard.json");
        let text = fs::read_to_string(&p)
            .map_err(|e| anyhow::anyhow!("{}: {e} (is this a shard folder?)", p.display()))?;
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
    };
    let info = read_info(first)?;
    let study = Study::load(Path::new(&info.experiment_file), &info.overrides)?;
    if format!("{:016x}", study.hash) != info.study_hash {
        anyhow::bail!(
            "{} was changed since the shards ran (study hash {:016x}, shards {})",
            info.experiment_file,
            study.hash,
            info.study_hash
        );
    }
    for d in &shards[1..] {
        let other = read_info(d)?;
        if other.study_hash != info.study_hash || other.shards != info.shards {
            anyhow::bail!(
                "{} belongs to another study or shard count than {}",
                d.display(),
                first.display()
            );
        }
    }
    let target = out.unwrap_or_else(|| Path::new("output").join(&study.name));
    let work = partial_dir(&target)?;
    prepare_work_dir(&work, false, false)?;
    let runs_dir = work.join("runs");
    fs::create_dir_all(&runs_dir)?;
    for r in &study.runs {
        let src = shards
            .iter()
            .map(|d| d.join("runs").join(&r.id))
            .find(|p| p.join("run.json").exists());
        let Some(src) = src else {
            anyhow::bail!(
                "run {} is in none of the shard folders (did every shard finish?)",
                r.id
            );
        };
        copy_dir_files(&src, &runs_dir.join(&r.id))?;
    }
    aggregate(&study, &work, no_plots)?;
    Ok(replace_dir(&work, &target)?)
}
