//! Command-line interface. Parses arguments and calls the library; no simulation logic.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use dwcp_sim::config::LoadedExperiment;
use dwcp_sim::experiment::run::{run_file, RunOptions};
use dwcp_sim::experiment::study::{execute, execute_run_to, merge, Study, StudyOptions};
use dwcp_sim::experiment::suite::Suite;
use dwcp_sim::net::Topology;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "dwcp-sim",
    version,
    about = "Deterministic discrete-event network simulator for wide-area VM migration research",
    after_help = "Examples:
  dwcp-sim run experiments/dumbbell-cbr.toml
  dwcp-sim run experiments/dumbbell-cbr.toml --seed 7 --set flows.0.rate=8Gbps --out /tmp/try
  dwcp-sim validate topologies/leaf-spine-1k.toml
  dwcp-sim list
  dwcp-sim bench
  dwcp-sim calibrate --out calibration/default.toml"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an experiment; results go to output/<name>/ (or --out).
    Run {
        experiment: PathBuf,
        /// Output folder (default: output/<experiment name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Master seed (overrides `seed` in the file).
        #[arg(long)]
        seed: Option<u64>,
        /// Override any parameter by its dotted path, e.g. --set flows.0.rate=2Gbps.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Do not draw plots.
        #[arg(long)]
        no_plots: bool,
        /// Parallel runs of a sweep (default: all cores). Results do not depend on it.
        #[arg(long, short = 'j')]
        jobs: Option<usize>,
        /// Keep the finished runs of an interrupted sweep and run only the rest.
        #[arg(long)]
        resume: bool,
        /// Run only shard I of N (runs with index % N == I) into a shard folder; combine
        /// the shards with `dwcp-sim merge`.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Run only the sweep point K (with --rep), e.g. to reproduce one run alone.
        #[arg(long, value_name = "K")]
        point: Option<usize>,
        /// Repetition R of --point (default 0).
        #[arg(long, value_name = "R")]
        rep: Option<u32>,
        /// No progress bar.
        #[arg(long, short = 'q')]
        quiet: bool,
        /// Print the runs of the sweep (index, point, rep, seed, parameters) and exit.
        #[arg(long)]
        list_runs: bool,
        /// A compression study (`[compress]`) on this file's bytes instead of its `data`
        /// (shorthand for --set compress.data="file:PATH").
        #[arg(long, value_name = "PATH")]
        corpus: Option<PathBuf>,
    },
    /// Combine the shard folders of a sweep into its output (identical to an unsharded run).
    Merge {
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Output folder (default: output/<experiment name>).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        no_plots: bool,
    },
    /// Write a Slurm job-array script that runs a sweep as N shards plus a merge job.
    Slurm {
        experiment: PathBuf,
        /// Number of array tasks.
        #[arg(long)]
        shards: usize,
        /// Folder for the scripts, shard outputs and logs (default: output/<name>.slurm).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Final output folder (default: output/<name>).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// CPUs per array task (runs in parallel inside a task).
        #[arg(long, default_value_t = 1)]
        cpus_per_task: usize,
        /// Most array tasks running at once (`%M`); default: no limit.
        #[arg(long)]
        max_running: Option<usize>,
        /// Extra `#SBATCH` lines, e.g. --sbatch "--partition=short".
        #[arg(long = "sbatch", value_name = "OPTION")]
        sbatch: Vec<String>,
    },
    /// Check an experiment or topology file without running it.
    Validate { file: PathBuf },
    /// List the shipped experiments and topologies.
    List {
        /// Project folder holding experiments/ and topologies/.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Print events/s for the standard benchmark scenarios.
    Bench {
        /// Shorter runs (for a smoke test).
        #[arg(long)]
        quick: bool,
    },
    /// Measure codec throughput and ratio per page class on this machine (run in release
    /// mode) and write the calibration file the CPU cost model reads.
    Calibrate {
        /// Output file.
        #[arg(long, default_value = "calibration/default.toml")]
        out: PathBuf,
        /// Fewer pages and runs (seconds; for a smoke test, not for results).
        #[arg(long)]
        quick: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn dispatch(cmd: Command) -> Result<()> {
    match cmd {
        Command::Run {
            experiment,
            out,
            seed,
            set,
            no_plots,
            jobs,
            resume,
            shard,
            point,
            rep,
            quiet,
            list_runs,
            corpus,
        } => {
            let mut overrides = set;
            if let Some(path) = corpus {
                // Absolute, so it does not depend on the experiment file's folder.
                let path = std::path::absolute(&path)
                    .with_context(|| format!("--corpus {}", path.display()))?;
                overrides.push(format!(
                    "compress.data={}",
                    toml::Value::String(format!("file:{}", path.display()))
                ));
            }
            if let Some(s) = seed {
                overrides.push(format!("seed={s}"));
            }
            if is_suite_file(&experiment)? {
                if !overrides.is_empty() || point.is_some() || list_runs {
                    bail!("{} is a suite: --set, --seed, --point and --list-runs apply to its member experiments; run those directly", experiment.display());
                }
                let suite = Suite::load(&experiment)?;
                let started = std::time::Instant::now(); // wall time for the console only
                let dir = dwcp_sim::experiment::suite::execute(
                    &suite,
                    &StudyOptions {
                        out,
                        jobs,
                        resume,
                        shard: shard.as_deref().map(parse_shard).transpose()?,
                        quiet,
                        no_plots,
                    },
                )?;
                println!(
                    "{}: {} experiments, {} runs in {:.2} s wall",
                    suite.name,
                    suite.members.len(),
                    suite
                        .members
                        .iter()
                        .map(|(_, s)| s.runs.len())
                        .sum::<usize>(),
                    started.elapsed().as_secs_f64()
                );
                println!("report in {}", dir.join("REPORT.md").display());
                return Ok(());
            }
            let study = Study::load(&experiment, &overrides)?;
            if list_runs {
                // Written, not println!, so `--list-runs | head` ends quietly on a closed pipe.
                use std::io::Write;
                let mut stdout = std::io::stdout().lock();
                for r in &study.runs {
                    let line = writeln!(
                        stdout,
                        "{} point={} rep={} seed={} {}",
                        r.id, r.point, r.rep, r.exp.config.seed, r.point_values
                    );
                    match line {
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
                        other => other?,
                    }
                }
                return Ok(());
            }
            if rep.is_some() && point.is_none() {
                bail!("--rep needs --point");
            }
            if let Some(k) = point {
                let r = rep.unwrap_or(0);
                let Some(spec) = study.find_run(k, r) else {
                    bail!(
                        "{} has {} points and {} repetitions; --point {k} --rep {r} is not one of them",
                        experiment.display(),
                        study.sweep.points.len(),
                        study.sweep.repetitions
                    );
                };
                let target = out.unwrap_or_else(|| {
                    Path::new("output").join(format!("{}.{}", study.name, spec.id))
                });
                let meta = execute_run_to(spec, &target, None)?;
                println!(
                    "{} {} ({}): {} events, seed {}, digest {}",
                    study.name,
                    spec.id,
                    spec.point_values,
                    meta.events,
                    meta.seed,
                    meta.event_digest
                );
                println!("results in {}", target.display());
                return Ok(());
            }
            if study.sweep.is_study || shard.is_some() {
                let shard = shard.as_deref().map(parse_shard).transpose()?;
                let started = std::time::Instant::now(); // wall time for the console only
                let o = execute(
                    &study,
                    &StudyOptions {
                        out,
                        jobs,
                        resume,
                        shard,
                        quiet,
                        no_plots,
                    },
                )?;
                let wall = started.elapsed().as_secs_f64();
                println!(
                    "{}: {} runs ({} points x {} repetitions){}: ran {}, kept {} finished; {} events in {:.2} s wall ({:.2} M events/s)",
                    study.name,
                    study.runs.len(),
                    study.sweep.points.len(),
                    study.sweep.repetitions,
                    shard.map(|(i, n)| format!(", shard {i}/{n}")).unwrap_or_default(),
                    o.executed,
                    o.skipped,
                    o.events,
                    wall,
                    o.events as f64 / wall.max(1e-9) / 1e6
                );
                println!("results in {}", o.dir.display());
                return Ok(());
            }
            let outcome = run_file(
                &experiment,
                &RunOptions {
                    out,
                    overrides,
                    no_plots,
                    quiet,
                },
            )?;
            let m = &outcome.manifest;
            println!(
                "{}: {} events, {} s virtual in {:.3} s wall ({:.2} M events/s), digest {}",
                m.experiment,
                m.events,
                m.virtual_time_s,
                m.wall_time_s,
                m.events_per_s / 1e6,
                m.event_digest
            );
            println!("results in {}", outcome.dir.display());
            Ok(())
        }
        Command::Merge {
            shards,
            out,
            no_plots,
        } => {
            let dir = merge(&shards, out, no_plots)?;
            println!(
                "merged {} shard folders into {}",
                shards.len(),
                dir.display()
            );
            Ok(())
        }
        Command::Slurm {
            experiment,
            shards,
            dir,
            out,
            set,
            cpus_per_task,
            max_running,
            sbatch,
        } => {
            let study = Study::load(&experiment, &set)?;
            let written = dwcp_sim::experiment::slurm::write_scripts(
                &study,
                &dwcp_sim::experiment::slurm::SlurmOptions {
                    shards,
                    dir,
                    out,
                    cpus_per_task,
                    max_running,
                    extra: sbatch,
                },
            )?;
            println!(
                "{} runs in {shards} array tasks; submit with: bash {}",
                study.runs.len(),
                written.display()
            );
            Ok(())
        }
        Command::Validate { file } => validate(&file),
        Command::List { dir } => list(&dir),
        Command::Calibrate { out, quick } => {
            use dwcp_sim::compress::calibration::{describe_machine, measure, MeasureOptions};
            if cfg!(debug_assertions) {
                eprintln!("warning: a debug build measures far lower throughput; use --release");
            }
            let cal = measure(&MeasureOptions::new(quick), describe_machine(), |line| {
                println!("{line}")
            })?;
            cal.save(&out)?;
            println!("wrote {} ({})", out.display(), cal.measured);
            Ok(())
        }
        Command::Bench { quick } => {
            for line in dwcp_sim::bench::run_all(quick)? {
                println!("{line}");
            }
            Ok(())
        }
    }
}

/// One line about an experiment, study or suite file for `list`.
fn describe_experiment(f: &Path) -> String {
    if is_suite_file(f).unwrap_or(false) {
        return Suite::load(f)
            .map(|s| {
                format!(
                    "{} — suite of {} experiments: {}",
                    s.name,
                    s.members.len(),
                    s.description
                )
            })
            .unwrap_or_else(|e| format!("INVALID: {e}"));
    }
    match Study::load(f, &[]) {
        Ok(s) if s.sweep.is_study => {
            let d = &s.runs[0].exp.config.description;
            format!("{} — {} ({} runs)", s.name, d, s.runs.len())
        }
        Ok(s) => format!("{} — {}", s.name, s.runs[0].exp.config.description),
        Err(e) => format!("INVALID: {e}"),
    }
}

/// Whether a file is a suite (has a `[suite]` table).
fn is_suite_file(path: &Path) -> Result<bool> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read experiment file {}: {e}", path.display()))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("in experiment file {}: {e}", path.display()))?;
    Ok(dwcp_sim::experiment::suite::is_suite(&table))
}

/// Parses `--shard I/N`.
fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let parsed = text
        .split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
    match parsed {
        Some((i, n)) if n > 0 && i < n => Ok((i, n)),
        _ => bail!("--shard {text:?}: expected I/N with 0 <= I < N, e.g. --shard 0/4"),
    }
}

/// Whether a file is an experiment or a topology (by its top-level keys).
fn is_experiment(path: &Path) -> Result<bool> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("in {}: {e}", path.display()))?;
    Ok(!dwcp_sim::config::looks_like_topology(&table))
}

fn validate(file: &Path) -> Result<()> {
    if is_suite_file(file)? {
        let suite = Suite::load(file)?;
        for (id, st) in &suite.members {
            let exp = &st.runs[0].exp;
            let topo = dwcp_sim::scenario::topology_of(exp)?;
            dwcp_sim::scenario::build(exp, &topo, exp.config.seed)?;
            println!(
                "  {id}: {} ({} runs) is valid",
                st.path.display(),
                st.runs.len()
            );
        }
        println!("{}: suite `{}` is valid", file.display(), suite.name);
        return Ok(());
    }
    if is_experiment(file)? {
        let study = Study::load(file, &[])?;
        if study.sweep.is_study {
            for r in &study.runs {
                let topo = dwcp_sim::scenario::topology_of(&r.exp)?;
                dwcp_sim::scenario::build(&r.exp, &topo, r.exp.config.seed)?;
            }
            println!(
                "{}: study `{}` is valid ({} points x {} repetitions = {} runs)",
                file.display(),
                study.name,
                study.sweep.points.len(),
                study.sweep.repetitions,
                study.runs.len()
            );
            return Ok(());
        }
        let exp = LoadedExperiment::load(file, &[])?;
        let topo = dwcp_sim::scenario::topology_of(&exp)?;
        dwcp_sim::scenario::build(&exp, &topo, exp.config.seed)?;
        println!(
            "{}: experiment `{}` is valid ({} nodes, {} links, {} flow entries)",
            file.display(),
            exp.config.name,
            topo.nodes.len(),
            topo.links.len(),
            exp.config.flows.len()
        );
    } else {
        let topo = Topology::load(file)?;
        println!(
            "{}: topology `{}` is valid ({} nodes, {} hosts, {} links)",
            file.display(),
            topo.name,
            topo.nodes.len(),
            topo.hosts().count(),
            topo.links.len()
        );
    }
    Ok(())
}

fn list(dir: &Path) -> Result<()> {
    let mut found = false;
    for (folder, kind) in [("experiments", "experiment"), ("topologies", "topology")] {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir.join(folder)) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect(),
            Err(_) => continue,
        };
        files.sort();
        println!("{folder}/");
        for f in files {
            found = true;
            let summary = if kind == "experiment" {
                describe_experiment(&f)
            } else {
                Topology::load(&f)
                    .map(|t| {
                        format!(
                            "{} nodes, {} hosts, {} links",
                            t.nodes.len(),
                            t.hosts().count(),
                            t.links.len()
                        )
                    })
                    .unwrap_or_else(|e| format!("INVALID: {e}"))
            };
            println!(
                "  {}  {}",
                f.file_name().unwrap_or_default().to_string_lossy(),
                summary
            );
        }
    }
    if !found {
        bail!(
            "no experiments/ or topologies/ with .toml files under {}",
            dir.display()
        );
    }
    Ok(())
}
