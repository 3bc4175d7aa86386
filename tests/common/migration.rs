//! The world the migration tests run in and how they read its results.

use dwcp_sim::config::LoadedExperiment;
use dwcp_sim::metrics::RunRecords;
use dwcp_sim::scenario;

/// Payload bytes per second of one TCP stream on a 1 Gbit/s link: 1448 of every 1500 bytes
/// (MSS 1448 with timestamps).
pub const R_1G: f64 = 1e9 / 8.0 * 1448.0 / 1500.0;
/// KVM's fixed switchover and resume costs (profile.rs: 20 ms + 9 ms).
pub const FIXED: f64 = 0.029;

/// Four hosts on a star: links of `rate`, 100 µs each, 1000-packet queues, then `body`.
/// h0 → h1 crosses two links: one way 200 µs, a round trip 400 µs.
pub fn experiment(name: &str, rate: &str, duration: &str, body: &str) -> String {
    format!(
        r#"name = "{name}"
seed = 5
duration = "{duration}"
[topology.generate]
kind = "star"
hosts = 4
link = {{ rate = "{rate}", delay = "100us", queue_packets = 1000 }}
{body}
"#
    )
}

/// Builds and runs an experiment given as text; panics with the error otherwise.
pub fn run(text: &str) -> RunRecords {
    let exp = LoadedExperiment::from_text(text, std::path::Path::new("migration.toml"), &[])
        .unwrap_or_else(|e| panic!("{e}"));
    scenario::prepare(&exp)
        .unwrap_or_else(|e| panic!("{e}"))
        .run()
}

/// A migration's result row, if it was recorded.
pub fn find(r: &RunRecords, vm: &str, metric: &str) -> Option<f64> {
    r.measures
        .iter()
        .find(|m| m.0 == "migration" && m.1 == vm && m.2 == metric)
        .map(|m| m.3)
}

/// A migration's result row; panics if it is missing.
pub fn get(r: &RunRecords, vm: &str, metric: &str) -> f64 {
    find(r, vm, metric).unwrap_or_else(|| panic!("no migration/{vm}/{metric}"))
}
