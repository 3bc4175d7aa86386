//! `manifest.json`: what produced an output folder — enough to reproduce it from the folder
//! alone (the resolved config sits beside it as `config.toml`).

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub tool: &'static str,
    pub crate_version: &'static str,
    /// `git rev-parse HEAD` of the working directory, if it is a git checkout.
    pub git_revision: Option<String>,
    /// True when the checkout had uncommitted changes.
    pub git_dirty: Option<bool>,
    pub experiment: String,
    pub config_file: String,
    /// Stable 64-bit hash of `config.toml`, hex.
    pub config_hash: String,
    pub seed: u64,
    pub events: u64,
    /// Digest of the processed event sequence, hex: equal digests mean equal runs.
    pub event_digest: String,
    pub virtual_time_s: f64,
    /// Wall-clock seconds of the simulation loop (the only non-reproducible field).
    pub wall_time_s: f64,
    pub events_per_s: f64,
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
