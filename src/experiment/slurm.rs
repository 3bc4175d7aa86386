//! Scale-out on a Slurm cluster: a job array with one task per shard and a merge job that
//! starts only if every task succeeded (`afterok`). No scheduler code: three shell files that
//! call this binary, so what runs on the cluster is exactly `run --shard` and `merge`.

use super::study::Study;
use anyhow::{bail, Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// How to split a study into a Slurm job array.
pub struct SlurmOptions {
    /// Number of shards (array tasks).
    pub shards: usize,
    /// Scripts, shard folders and logs (default `output/<name>.slurm`).
    pub dir: Option<PathBuf>,
    /// Final output (default `output/<name>`).
    pub out: Option<PathBuf>,
    /// CPUs each array task asks for.
    pub cpus_per_task: usize,
    /// Most array tasks running at once (the `%N` throttle); `None`: no limit.
    pub max_running: Option<usize>,
    /// Extra `#SBATCH` options, one per line.
    pub extra: Vec<String>,
}

/// Single-quotes a word for the shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn absolute(p: &Path, cwd: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

/// Writes `array.sbatch`, `merge.sbatch` and `submit.sh`; returns the path of `submit.sh`.
pub fn write_scripts(study: &Study, o: &SlurmOptions) -> Result<PathBuf> {
    if o.shards == 0 {
        bail!("--shards must be at least 1");
    }
    if o.cpus_per_task == 0 {
        bail!("--cpus-per-task must be at least 1");
    }
    if o.shards > study.runs.len() {
        bail!(
            "--shards {} is more than the {} runs of {}; some tasks would have nothing to do",
            o.shards,
            study.runs.len(),
            study.path.display()
        );
    }
    let cwd = std::env::current_dir().context("current folder")?;
    let bin = std::env::current_exe().context("path of this binary")?;
    let dir = absolute(
        &o.dir
            .clone()
            .unwrap_or_else(|| Path::new("output").join(format!("{}.slurm", study.name))),
        &cwd,
    );
    let out = absolute(
        &o.out
            .clone()
            .unwrap_or_else(|| Path::new("output").join(&study.name)),
        &cwd,
    );
    std::fs::create_dir_all(dir.join("logs"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let n = o.shards;
    let sets: String = study
        .overrides
        .iter()
        .map(|s| format!(" --set {}", quote(s)))
        .collect();
    let d = |p: &Path| quote(&p.display().to_string());
    let extra: String = o.extra.iter().map(|e| format!("#SBATCH {e}\n")).collect();
    let throttle = o.max_running.map(|m| format!("%{m}")).unwrap_or_default();

    let mut array = String::new();
    let _ = write!(
        array,
        "#!/bin/bash\n\
         # {runs} runs of {exp} as {n} shards (runs with index % {n} == task id).\n\
         #SBATCH --job-name=dwcp-{name}\n\
         #SBATCH --array=0-{last}{throttle}\n\
         #SBATCH --cpus-per-task={cpus}\n\
         #SBATCH --output={logs}/shard-%a.log\n\
         {extra}\
         set -euo pipefail\n\
         cd {cwd}\n\
         # --resume: a requeued task keeps the runs it already finished.\n\
         exec {bin} run {exp_q}{sets} --shard \"$SLURM_ARRAY_TASK_ID/{n}\" --jobs {cpus} --resume --quiet --no-plots --out {dir}/shard-\"$SLURM_ARRAY_TASK_ID\"\n",
        runs = study.runs.len(),
        exp = study.path.display(),
        name = study.name,
        last = n - 1,
        cpus = o.cpus_per_task,
        logs = dir.join("logs").display(),
        cwd = d(&cwd),
        bin = d(&bin),
        exp_q = quote(&study.path.display().to_string()),
        dir = d(&dir),
    );
    let shard_dirs: String = (0..n)
        .map(|i| format!(" {}", d(&dir.join(format!("shard-{i}")))))
        .collect();
    let mut merge = String::new();
    let _ = write!(
        merge,
        "#!/bin/bash\n\
         # Combines the {n} shard folders into {out} (the same bytes as one unsharded run).\n\
         #SBATCH --job-name=dwcp-{name}-merge\n\
         #SBATCH --output={logs}/merge.log\n\
         {extra}\
         set -euo pipefail\n\
         cd {cwd}\n\
         exec {bin} merge{shard_dirs} --out {out_q}\n",
        out = out.display(),
        name = study.name,
        logs = dir.join("logs").display(),
        cwd = d(&cwd),
        bin = d(&bin),
        out_q = d(&out),
    );
    let submit = format!(
        "#!/bin/bash\n\
         # Submits the array, then the merge with afterok; --kill-on-invalid-dep cancels the\n\
         # merge if a task fails (otherwise it would stay pending forever).\n\
         set -euo pipefail\n\
         array=$(sbatch --parsable {array})\n\
         array=${{array%%;*}}\n\
         merge=$(sbatch --parsable --dependency=afterok:\"$array\" --kill-on-invalid-dep=yes {merge})\n\
         merge=${{merge%%;*}}\n\
         echo \"array=$array merge=$merge\"\n",
        array = d(&dir.join("array.sbatch")),
        merge = d(&dir.join("merge.sbatch")),
    );
    for (file, text) in [
        ("array.sbatch", array),
        ("merge.sbatch", merge),
        ("submit.sh", submit),
    ] {
        let p = dir.join(file);
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(dir.join("submit.sh"))
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
