//! Scale-out on a real Slurm cluster: a small sweep as a 3-task job array plus an `afterok`
//! merge job gives exactly the bytes of the same sweep run on one machine.
//!
//! Needs root and Debian's Slurm packages (`.ci/run` installs them with
//! `scripts/slurm-local.sh install`); elsewhere the test is skipped with a message.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SWEEP: &str = "experiments/dumbbell-sweep.toml";
const SET: [&str; 4] = ["--set", "duration=20ms", "--set", "sweep.repetitions=2"];

fn skip(why: &str) {
    eprintln!("SKIPPED slurm integration test: {why}");
}

fn sh(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    if !out.status.success() {
        eprintln!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn job_state(id: &str) -> String {
    let out = Command::new("scontrol")
        .args(["show", "job", "-o", id])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.split_whitespace()
        .find_map(|w| w.strip_prefix("JobState="))
        .unwrap_or("UNKNOWN")
        .to_string()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn sharded_sweep_on_slurm_equals_single_machine_run() {
    let uid = sh(Command::new("id").arg("-u")).unwrap_or_default();
    if uid.trim() != "0" {
        return skip("not root, so a local Slurm cluster cannot be started");
    }
    let have = |c: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {c}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !["sbatch", "slurmctld", "slurmd", "munged"]
        .iter()
        .all(|c| have(c))
    {
        return skip("Slurm is not installed (run `scripts/slurm-local.sh install` as root)");
    }
    let Some(started) = sh(Command::new("scripts/slurm-local.sh").arg("start")) else {
        return skip("the local Slurm cluster did not start (see the messages above)");
    };
    let we_started = !started.contains("already running");

    let bin = env!("CARGO_BIN_EXE_dwcp-sim");
    let tmp = std::env::temp_dir().join(format!("dwcp-slurm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let (work, merged, single) = (tmp.join("work"), tmp.join("merged"), tmp.join("single"));
    let mut slurm_cmd = Command::new(bin);
    slurm_cmd
        .args(["slurm", SWEEP, "--shards", "3", "--dir"])
        .arg(&work)
        .arg("--out")
        .arg(&merged)
        .args(SET);
    sh(&mut slurm_cmd).expect("dwcp-sim slurm writes the scripts");
    let ids =
        sh(Command::new("bash").arg(work.join("submit.sh"))).expect("sbatch accepts the jobs");
    let merge_id = ids
        .split_whitespace()
        .find_map(|w| w.strip_prefix("merge="))
        .expect("submit.sh prints the merge job id")
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(180);
    let state = loop {
        let s = job_state(&merge_id);
        if ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"].contains(&s.as_str())
            || Instant::now() > deadline
        {
            break s;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let logs: String = std::fs::read_dir(work.join("logs"))
        .map(|rd| {
            rd.flatten()
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    if we_started {
        let _ = Command::new("scripts/slurm-local.sh").arg("stop").output();
    }
    assert_eq!(state, "COMPLETED", "merge job state; logs:\n{logs}");
    for i in 0..3 {
        assert!(
            logs.contains(&format!("shard {i}/3: ran 6")),
            "task {i} ran its 6 runs; logs:\n{logs}"
        );
    }

    let mut single_cmd = Command::new(bin);
    single_cmd
        .args(["run", SWEEP, "--quiet", "--out"])
        .arg(&single)
        .args(SET);
    sh(&mut single_cmd).expect("single-machine run");
    let (a, b) = (files(&single), files(&merged));
    assert_eq!(
        a.iter().map(|f| &f.0).collect::<Vec<_>>(),
        b.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(
            x == y,
            "{name} differs between the Slurm and the single-machine output"
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
