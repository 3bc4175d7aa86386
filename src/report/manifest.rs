//! `manifest.json`: what produced an output folder — enough to reproduce it from the folder
//! alone (the resolved config sits beside it as `config.toml`).

use serde::Serialize;

#[derive(Debug, Serialize)]
/// Contents of `manifest.json`: what produced an output folder.
pub struct Manifest {
    /// Always `"dwcp-sim"`.
    pub tool: &'static str,
    /// `CARGO_PKG_VERSION` of the build.
    pub crate_version: &'static str,
    /// `git rev-parse HEAD` of the working directory, if it is a git checkout.
    pub git_revision: Option<String>,
    /// True when the checkout had uncommitted changes.
    pub git_dirty: Option<bool>,
    /// Experiment name.
    pub experiment: String,
    /// Path of the experiment file, as given.
    pub config_file: String,
    /// Stable 64-bit hash of `config.toml`, hex.
    pub config_hash: String,
    /// The run's master seed.
    pub seed: u64,
    /// Events processed.
    pub events: u64,
    /// Digest of the processed event sequence, hex: equal digests mean equal runs.
    pub event_digest: String,
    /// Simulated time at the end of the run, in seconds.
    pub virtual_time_s: f64,
    /// Wall-clock seconds of the simulation loop (the only non-reproducible field).
    pub wall_time_s: f64,
    /// Events per wall-clock second (0 if the wall time was 0); not reproducible.
    pub events_per_s: f64,
    /// Files written into the folder, relative to it.
    pub files: Vec<String>,
}

/// The current git revision and dirtiness, if `git` is available and this is a checkout.
pub fn git_state() -> (Option<String>, Option<bool>) {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let rev = run(&["rev-parse", "HEAD"]);
    let dirty = rev
        .as_ref()
        .and_then(|_| run(&["status", "--porcelain", "--untracked-files=no"]))
        .map(|s| !s.is_empty());
    (rev, dirty)
}

/// The machine a suite ran on, for the report's test-environment section. Read from
/// `/proc` and `/etc/os-release` where present; `unknown` elsewhere.
#[derive(Clone, Debug, Serialize)]
pub struct Environment {
    /// CPU model name from `/proc/cpuinfo`.
    pub cpu: String,
    /// Available parallelism, in threads.
    pub cores: usize,
    /// OS name from `/etc/os-release`.
    pub os: String,
    /// Kernel release.
    pub kernel: String,
    /// Version of the rustc that built the binary.
    pub rustc: String,
    /// Total memory from `/proc/meminfo`, in GiB.
    pub memory_gib: f64,
}

impl Environment {
    /// Reads the current machine's description.
    pub fn detect() -> Environment {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let os = read("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| std::env::consts::OS.to_string());
        let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
        let memory_gib = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kib| (kib / 1024.0 / 1024.0 * 10.0).round() / 10.0)
            .unwrap_or(0.0);
        Environment {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os,
            kernel: if kernel.is_empty() {
                "unknown".into()
            } else {
                kernel
            },
            rustc: env!("DWCP_RUSTC_VERSION").to_string(),
            memory_gib,
        }
    }
}

/// The provenance fields every aggregate manifest starts with: tool, version, git state.
pub fn provenance() -> serde_json::Map<String, serde_json::Value> {
    let (git_revision, git_dirty) = git_state();
    let mut m = serde_json::Map::new();
    m.insert("tool".into(), "dwcp-sim".into());
    m.insert("crate_version".into(), env!("CARGO_PKG_VERSION").into());
    m.insert("git_revision".into(), git_revision.into());
    m.insert("git_dirty".into(), git_dirty.into());
    m
}
