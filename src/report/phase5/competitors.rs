//! Report §4 (competitor comparison), from the `migration-competitors` (datacenter link) and
//! `migration-competitors-wan` (WAN path) members: every platform's profile on the same
//! simulated links.

use super::format::{model_note, pending_table, sig};
use super::migration::{stat, text, Stat};
use super::{ran, Methodology, Part, Ran, Section, NOT_SIMULATED};
use crate::results::{PointStat, StudyView, SuiteResults};
use std::fmt::Write as _;

/// The seed's platforms and the profile that stands for each (DWCP v3 by its mode's).
const PLATFORMS: [(&str, &str, &str); 4] = [
    ("DWCP v3", "dwcp-v3-datacenter", "dwcp-v3-internet"),
    ("VMware", "vmotion", "vmotion"),
    ("Hyper-V", "hyperv", "hyperv"),
    ("KVM", "kvm", "kvm"),
];

struct Competitors<'a> {
    dc: Option<Ran<'a, Row>>,
    wan: Option<Ran<'a, Row>>,
}

pub(super) fn build(suite: &SuiteResults) -> Box<dyn Section + '_> {
    Box::new(Competitors {
        dc: ran(suite, "migration-competitors", rows),
        wan: ran(suite, "migration-competitors-wan", rows),
    })
}

/// One platform on one VM size.
struct Row {
    profile: String,
    memory: String,
    completed: bool,
    total: Option<Stat>,
    downtime: Option<Stat>,
    memory_bytes: f64,
    wire_bps: Option<Stat>,
    saved: Option<Stat>,
}

impl Row {
    /// Guest memory moved per second (compression counts in the platform's favour).
    fn memory_rate(&self) -> Option<f64> {
        let t = self.total?.0;
        (self.completed && t > 0.0).then(|| self.memory_bytes / t)
    }
}

fn rows(study: &StudyView, stats: &[PointStat]) -> Option<Vec<Row>> {
    let rows: Vec<Row> = study
        .points
        .iter()
        .filter_map(|p| {
            let i = p.index;
            let m = |metric: &str| stat(stats, i, &format!("migration/vm/{metric}"));
            Some(Row {
                profile: text(study, i, "migrations.0.profile")?,
                memory: text(study, i, "migrations.0.memory")?,
                completed: m("completed")?.0 == 1.0,
                total: m("total_time"),
                downtime: m("downtime"),
                memory_bytes: m("memory_bytes")?.0,
                wire_bps: m("effective_bandwidth"),
                saved: m("space_saved"),
            })
        })
        .collect();
    (!rows.is_empty()).then_some(rows)
}

impl Competitors<'_> {
    fn find<'r>(rows: &'r [Row], profile: &str, memory: Option<&str>) -> Option<&'r Row> {
        rows.iter()
            .find(|r| r.profile == profile && memory.is_none_or(|m| r.memory == m))
    }

    /// The profile's row with the largest guest.
    fn largest<'r>(rows: &'r [Row], profile: &str) -> Option<&'r Row> {
        rows.iter()
            .filter(|r| r.profile == profile)
            .max_by(|a, b| a.memory_bytes.total_cmp(&b.memory_bytes))
    }
}

impl Section for Competitors<'_> {
    fn table(&self) -> &'static str {
        "4 Competitors"
    }

    fn heading(&self) -> &'static str {
        "## 4. Competitor Comparison"
    }

    fn parts(&self) -> Vec<Part> {
        vec![
            Part {
                name: "datacenter comparison",
                simulated: self.dc.is_some(),
            },
            Part {
                name: "internet comparison",
                simulated: self.wan.is_some(),
            },
        ]
    }

    fn waits_for(&self) -> &'static str {
        "migration"
    }

    fn write(&self, o: &mut String) {
        if self.dc.is_none() && self.wan.is_none() {
            model_note(o, "migration");
            let platforms: [(&[&str], Option<&str>); 4] = [
                (&["DWCP v3"], None),
                (&["VMware"], None),
                (&["Hyper-V"], None),
                (&["KVM"], None),
            ];
            let _ = writeln!(o, "### 4.1 Throughput Comparison\n");
            pending_table(
                o,
                &[
                    "Platform",
                    "Datacenter (GB/s)",
                    "Internet (MB/s)",
                    "Compression",
                    "Status",
                ],
                1,
                &platforms,
            );
            let _ = writeln!(o, "### 4.2 Migration Downtime Comparison\n");
            pending_table(
                o,
                &[
                    "Platform",
                    "4GB VM (ms)",
                    "8GB VM (ms)",
                    "16GB VM (ms)",
                    "Status",
                ],
                1,
                &platforms,
            );
            return;
        }
        let describe = |r: &Option<Ran<Row>>| {
            r.as_ref().map_or(String::from("not run"), |r| {
                format!("`{}` ({})", r.id, r.study.path.display())
            })
        };
        let _ = writeln!(
            o,
            "**Simulated** by {} (a 10 Gb/s datacenter link, web-server guests) and {} (an idle 2 GB guest over \
             1 Gb/s, 50 ms one way, 0.1% loss). Every platform is a profile of the same engines on the same links \
             (src/migration/profile.rs, parameters with their sources); the original compared hard-coded \
             constants. Throughput = guest memory moved per second of migration (so compression counts); \
             compression = space saved on the pages over the WAN. One seed.\n",
            describe(&self.dc),
            describe(&self.wan)
        );
        let _ = writeln!(o, "### 4.1 Throughput Comparison\n");
        let _ = writeln!(
            o,
            "| Platform | Datacenter (GB/s) | Internet (MB/s) | Compression | Status |\n|---|---|---|---|---|"
        );
        for (label, dc_profile, wan_profile) in PLATFORMS {
            let dc = self
                .dc
                .as_ref()
                .and_then(|d| Self::largest(&d.rows, dc_profile));
            let wan = self
                .wan
                .as_ref()
                .and_then(|d| Self::find(&d.rows, wan_profile, None));
            let dc_cell = match dc.and_then(|r| r.memory_rate().map(|x| (x, &r.memory))) {
                Some((x, m)) => format!("{} ({m})", sig(x / 1e9)),
                None => NOT_SIMULATED.to_string(),
            };
            let wan_cell = match wan {
                Some(r) => match r.memory_rate() {
                    Some(x) => sig(x / 1e6),
                    None => format!(
                        "did not finish ({} Mb/s on the wire)",
                        r.wire_bps.map_or("-".into(), |b| sig(b.0 / 1e6))
                    ),
                },
                None => NOT_SIMULATED.to_string(),
            };
            let saved = wan
                .and_then(|r| r.saved)
                .map_or(NOT_SIMULATED.to_string(), |s| {
                    format!("{}%", sig(s.0 * 100.0))
                });
            let _ = writeln!(
                o,
                "| {label} | {dc_cell} | {wan_cell} | {saved} | measured (no target) |"
            );
        }
        o.push('\n');
        let _ = writeln!(o, "### 4.2 Migration Downtime Comparison\n");
        let _ = writeln!(
            o,
            "Datacenter link, web-server guests.\n\n| Platform | 4GB VM (ms) | 8GB VM (ms) | 16GB VM (ms) | Status |\n|---|---|---|---|---|"
        );
        for (label, profile, _) in PLATFORMS {
            let cell = |m: &str| {
                self.dc
                    .as_ref()
                    .and_then(|d| Self::find(&d.rows, profile, Some(m)))
                    .and_then(|r| r.downtime)
                    .map_or(NOT_SIMULATED.to_string(), |d| sig(d.0 * 1e3))
            };
            let _ = writeln!(
                o,
                "| {label} | {} | {} | {} | measured (no target) |",
                cell("4GiB"),
                cell("8GiB"),
                cell("16GiB")
            );
        }
        o.push('\n');
        let _ = writeln!(o, "**Findings** (computed from the rows above):");
        if let Some(d) = &self.dc {
            let biggest = d
                .rows
                .iter()
                .max_by(|a, b| a.memory_bytes.total_cmp(&b.memory_bytes))
                .map(|r| r.memory.clone())
                .unwrap_or_default();
            let best = |key: fn(&Row) -> Option<f64>, max: bool| {
                d.rows
                    .iter()
                    .filter(|r| r.memory == biggest)
                    .filter_map(|r| key(r).map(|v| (v, r.profile.as_str())))
                    .max_by(|a, b| {
                        if max {
                            a.0.total_cmp(&b.0)
                        } else {
                            b.0.total_cmp(&a.0)
                        }
                    })
            };
            if let Some((v, p)) = best(Row::memory_rate, true) {
                let _ = writeln!(
                    o,
                    "- Fastest on the datacenter link ({biggest}): `{p}` at {} GB/s of guest memory.",
                    sig(v / 1e9)
                );
            }
            if let Some((v, p)) = best(|r| r.downtime.map(|d| d.0), false) {
                let _ = writeln!(
                    o,
                    "- Shortest downtime ({biggest}): `{p}`, {} ms.",
                    sig(v * 1e3)
                );
            }
        }
        if let Some(w) = &self.wan {
            let unfinished: Vec<&str> = w
                .rows
                .iter()
                .filter(|r| !r.completed)
                .map(|r| r.profile.as_str())
                .collect();
            if !unfinished.is_empty() {
                let _ = writeln!(
                    o,
                    "- Over the lossy WAN, {} did not finish: one loss-based TCP stream on a 100 ms round trip with \
                     0.1% loss is held to a few Mb/s (Mathis: 1.22 × MSS / (RTT × √p)), whatever the link's rate.",
                    unfinished
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        o.push('\n');
    }

    fn methodology(&self) -> Option<Methodology> {
        let d = self.dc.as_ref().or(self.wan.as_ref())?;
        let mut m = Methodology::of(
            d.study,
            format!("generated star, {} points", d.study.points.len()),
            "each platform a profile of the same packet-level migration engines (pre-copy rules, channel, page \
             pipeline) on the same links",
            "`tests/migration.rs` (`every_profile_migrates_over_the_same_link`)",
        );
        if let (Some(w), Some(_)) = (&self.wan, &self.dc) {
            let _ = write!(m.topology, "; also `{}` {} runs", w.id, w.study.runs.len());
        }
        Some(m)
    }
}
