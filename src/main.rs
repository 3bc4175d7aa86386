//! Command-line interface. Parses arguments and calls the library; no simulation logic.

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use dwcp_sim::experiment::run::{run_file, RunOptions};
use dwcp_sim::experiment::LoadedExperiment;
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
  dwcp-sim bench"
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
        } => {
            let mut overrides = set;
            if let Some(s) = seed {
                overrides.push(format!("seed={s}"));
            }
            let outcome = run_file(
                &experiment,
                &RunOptions {
                    out,
                    overrides,
                    no_plots,
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
        Command::Validate { file } => validate(&file),
        Command::List { dir } => list(&dir),
        Command::Bench { quick } => {
            for line in dwcp_sim::bench::run_all(quick)? {
                println!("{line}");
            }
            Ok(())
        }
    }
}

/// Whether a file is an experiment or a topology (by its top-level keys).
fn is_experiment(path: &Path) -> Result<bool> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("in {}: {e}", path.display()))?;
    Ok(!dwcp_sim::experiment::config::looks_like_topology(&table))
}

fn validate(file: &Path) -> Result<()> {
    if is_experiment(file)? {
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
                LoadedExperiment::load(&f, &[])
                    .map(|e| format!("{} — {}", e.config.name, e.config.description))
                    .unwrap_or_else(|e| format!("INVALID: {e}"))
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
