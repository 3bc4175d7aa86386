//! A suite: several studies run as one job, with a report over all of them
//! (`experiments/phase5.toml`). Each member is an ordinary experiment file; the suite adds
//! only the list and the report layout, so every member can also be run on its own.

use super::run::RunError;
use super::study::{self, Study, StudyOptions};
use crate::config::ConfigError;
use crate::report::output::replace_dir;
use crate::results::{summarize, MemberResults, SuiteResults};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    name: String,
    #[serde(default)]
    description: String,
    suite: SuiteSection,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteSection {
    /// Report layout: `"phase5"` (the DWCP v3 Phase 5 benchmark report) or `"consensus"`
    /// (its section 1.4 alone).
    report: String,
    experiments: Vec<MemberEntry>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberEntry {
    /// Folder name of the member's output and its key in the report.
    id: String,
    /// Experiment file, relative to the suite file.
    file: String,
}

/// A loaded suite.
#[derive(Clone, Debug)]
pub struct Suite {
    /// Suite name.
    pub name: String,
    /// Free text from the file (empty if absent).
    pub description: String,
    /// The suite file.
    pub path: PathBuf,
    /// Report layout, one of [`REPORTS`].
    pub report: String,
    /// Member id (folder name and report key) and its study, in file order.
    pub members: Vec<(String, Study)>,
}

/// Report layouts this build can write.
pub const REPORTS: [&str; 2] = ["phase5", "consensus"];

/// True if the parsed file is a suite (has a `[suite]` table).
pub fn is_suite(table: &toml::Table) -> bool {
    table.contains_key("suite")
}

impl Suite {
    /// Reads a suite file and loads every member study.
    pub fn load(path: &Path) -> Result<Suite, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Io {
            path: shown.clone(),
            cause,
        })?;
        let file: SuiteFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: shown.clone(),
            message,
        };
        if !REPORTS.contains(&file.suite.report.as_str()) {
            return Err(invalid(format!(
                "`suite.report` = {:?}: allowed: {}",
                file.suite.report,
                REPORTS.join(", ")
            )));
        }
        let mut members: Vec<(String, Study)> = Vec::new();
        for (i, m) in file.suite.experiments.iter().enumerate() {
            let ok = !m.id.is_empty()
                && !m.id.starts_with('.')
                && m.id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !ok {
                return Err(invalid(format!(
                    "suite.experiments[{i}].id = {:?} must be a folder name (letters, digits, '-', '_', '.')",
                    m.id
                )));
            }
            if members.iter().any(|(id, _)| *id == m.id) {
                return Err(invalid(format!(
                    "suite.experiments: id {:?} appears twice",
                    m.id
                )));
            }
            let file_path = path.parent().unwrap_or(Path::new(".")).join(&m.file);
            let study = Study::load(&file_path, &[])?;
            members.push((m.id.clone(), study));
        }
        Ok(Suite {
            name: file.name,
            description: file.description,
            path: path.to_path_buf(),
            report: file.suite.report,
            members,
        })
    }
}

/// Runs every member study into `<out>/<id>/`, writes the report, and moves the whole
/// folder into place. With `resume`, finished members and runs are kept.
pub fn execute(suite: &Suite, opts: &StudyOptions) -> Result<PathBuf, RunError> {
    let io = |p: &Path, e: &dyn std::fmt::Display| RunError::Output {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    if opts.shard.is_some() {
        return Err(io(
            &suite.path,
            &"a suite cannot be sharded as a whole; shard its member experiments (`dwcp-sim slurm <member.toml>`)",
        ));
    }
    let target = opts
        .out
        .clone()
        .unwrap_or_else(|| Path::new("output").join(&suite.name));
    let work = study::partial_dir(&target).map_err(|e| io(&target, &e))?;
    if !opts.resume && work.exists() {
        std::fs::remove_dir_all(&work).map_err(|e| io(&work, &e))?;
    }
    std::fs::create_dir_all(&work).map_err(|e| io(&work, &e))?;
    let mut members = Vec::new();
    for (id, s) in &suite.members {
        let member_opts = StudyOptions {
            out: Some(work.join(id)),
            ..opts.clone()
        };
        study::execute(s, &member_opts)?;
        let view = s.view();
        let stats =
            summarize(&view.runs, &work.join(id).join("runs")).map_err(|e| io(&work, &e))?;
        members.push(MemberResults {
            id: id.clone(),
            study: view,
            stats,
        });
    }
    let results = SuiteResults {
        name: suite.name.clone(),
        description: suite.description.clone(),
        path: suite.path.clone(),
        members,
    };
    let env = crate::report::manifest::Environment::detect();
    let report = match suite.report.as_str() {
        "consensus" => crate::report::phase5::write_consensus(&results, &env),
        _ => crate::report::phase5::write(&results, &env),
    };
    std::fs::write(work.join("REPORT.md"), report).map_err(|e| io(&work, &e))?;
    let mut manifest = crate::report::manifest::provenance();
    let fields = serde_json::json!({
        "suite": suite.name,
        "config_file": suite.path.display().to_string(),
        "environment": env,
        "members": suite.members.iter().map(|(id, s)| serde_json::json!({
            "id": id,
            "experiment": s.name,
            "file": s.path.display().to_string(),
            "study_hash": format!("{:016x}", s.hash),
            "runs": s.runs.len(),
        })).collect::<Vec<_>>(),
    });
    if let serde_json::Value::Object(f) = fields {
        manifest.extend(f);
    }
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| io(&work, &e))?;
    std::fs::write(work.join("manifest.json"), json + "\n").map_err(|e| io(&work, &e))?;
    replace_dir(&work, &target).map_err(|e| io(&target, &e))
}
