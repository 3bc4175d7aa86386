//! Report §6 (DWCP v1 against v3, regression detection), from the
//! `migration-v1-v3-datacenter` and `migration-v1-v3-internet` members: the simulated v1
//! profile and v3's profiles on the same links. The seed's v1 figures (2.1 GB/s, 580 ms,
//! 65%) have no source (seed-system §2.10); they are quoted as targets, not as the baseline.

use super::format::{model_note, pending_table, sig, status};
use super::migration::{stat, text};
use super::{ran, Methodology, Part, Ran, Section, NOT_SIMULATED};
use crate::results::{PointStat, StudyView, SuiteResults};
use std::fmt::Write as _;

struct Regression<'a> {
    dc: Option<Ran<'a, Row>>,
    wan: Option<Ran<'a, Row>>,
}

pub(super) fn build(suite: &SuiteResults) -> Box<dyn Section + '_> {
    Box::new(Regression {
        dc: ran(suite, "migration-v1-v3-datacenter", rows),
        wan: ran(suite, "migration-v1-v3-internet", rows),
    })
}

/// One profile's migration.
struct Row {
    profile: String,
    /// Guest memory moved per second, bytes/s (None if it did not finish).
    rate: Option<f64>,
    downtime: Option<f64>,
    saved: Option<f64>,
}

fn rows(study: &StudyView, stats: &[PointStat]) -> Option<Vec<Row>> {
    let rows: Vec<Row> = study
        .points
        .iter()
        .filter_map(|p| {
            let i = p.index;
            let m = |metric: &str| stat(stats, i, &format!("migration/vm/{metric}")).map(|s| s.0);
            let done = m("completed")? == 1.0;
            Some(Row {
                profile: text(study, i, "migrations.0.profile")?,
                rate: m("total_time")
                    .filter(|t| done && *t > 0.0)
                    .and_then(|t| Some(m("memory_bytes")? / t)),
                downtime: m("downtime").filter(|_| done),
                saved: m("space_saved"),
            })
        })
        .collect();
    (!rows.is_empty()).then_some(rows)
}

fn profile<'r>(r: &'r Option<Ran<Row>>, name: &str) -> Option<&'r Row> {
    r.as_ref()?.rows.iter().find(|x| x.profile == name)
}

/// One metric: v1's and v3's values, the target, whether larger is better.
struct Line {
    metric: &'static str,
    v1: Option<f64>,
    v3: Option<f64>,
    target: &'static str,
    met: fn(f64) -> bool,
    higher_is_better: bool,
    show: fn(f64) -> String,
}

impl Regression<'_> {
    fn lines(&self) -> [Line; 3] {
        let v1_dc = profile(&self.dc, "dwcp-v1");
        let v3_dc = profile(&self.dc, "dwcp-v3-datacenter");
        let v1_wan = profile(&self.wan, "dwcp-v1");
        let v3_wan = profile(&self.wan, "dwcp-v3-internet");
        [
            Line {
                metric: "Throughput",
                v1: v1_dc.and_then(|r| r.rate),
                v3: v3_dc.and_then(|r| r.rate),
                target: "2.4 GB/s",
                met: |x| x >= 2.4e9,
                higher_is_better: true,
                show: |x| format!("{} GB/s", sig(x / 1e9)),
            },
            Line {
                metric: "Downtime",
                v1: v1_dc.and_then(|r| r.downtime),
                v3: v3_dc.and_then(|r| r.downtime),
                target: "<500ms",
                met: |x| x < 0.5,
                higher_is_better: false,
                show: |x| format!("{} ms", sig(x * 1e3)),
            },
            Line {
                metric: "Compression",
                v1: v1_wan.and_then(|r| r.saved),
                v3: v3_wan.and_then(|r| r.saved),
                target: "75-85%",
                met: |x| x >= 0.75,
                higher_is_better: true,
                show: |x| format!("{}%", sig(x * 100.0)),
            },
        ]
    }
}

impl Section for Regression<'_> {
    fn table(&self) -> &'static str {
        "6 v1 vs v3"
    }

    fn heading(&self) -> &'static str {
        "## 6. Performance Regression Analysis\n\n### 6.1 DWCP v1 vs v3 Comparison"
    }

    fn parts(&self) -> Vec<Part> {
        vec![Part {
            name: "v1 against v3",
            simulated: self.dc.is_some() || self.wan.is_some(),
        }]
    }

    fn waits_for(&self) -> &'static str {
        "migration"
    }

    fn write(&self, o: &mut String) {
        if self.dc.is_none() && self.wan.is_none() {
            model_note(o, "migration");
            pending_table(
                o,
                &[
                    "Metric",
                    "v1 Baseline",
                    "v3 Target",
                    "v3 Actual",
                    "Improvement",
                    "Status",
                ],
                1,
                &[
                    (&["Throughput"], None),
                    (&["Downtime"], None),
                    (&["Compression"], None),
                ],
            );
            let _ = writeln!(
                o,
                "### 6.2 Regression Detection\n\n**Regressions Detected:** {NOT_SIMULATED} (needs the v1 and v3 profiles).\n"
            );
            return;
        }
        let _ = writeln!(
            o,
            "**Simulated:** the v1 baseline is the simulated `dwcp-v1` profile (32 BBR TCP streams, delta + zstd-3, \
             no RDMA; seed-system §1.1, §1.2), not the seed's unsourced figures (2.1 GB/s, 580 ms, 65%, seed-system \
             §2.10). Throughput and downtime: an 8 GB web-server guest on the same 25 Gb/s link (v3: datacenter \
             profile); compression: an idle 2 GB guest on the same 100 Mb/s, 50 ms, 0.1%-loss WAN (v3: internet \
             profile). Throughput = guest memory moved per second. One seed.\n"
        );
        let _ = writeln!(
            o,
            "| Metric | v1 Baseline | v3 Target | v3 Actual | Improvement | Status |\n|---|---|---|---|---|---|"
        );
        let mut regressions = Vec::new();
        for l in self.lines() {
            let cell = |x: Option<f64>| x.map_or(NOT_SIMULATED.to_string(), l.show);
            let improvement = match (l.v1, l.v3) {
                (Some(a), Some(b)) if a > 0.0 => {
                    let better = if l.higher_is_better {
                        b / a - 1.0
                    } else {
                        1.0 - b / a
                    };
                    if better < 0.0 {
                        regressions.push(format!(
                            "{}: v3 {} against v1 {}",
                            l.metric,
                            (l.show)(b),
                            (l.show)(a)
                        ));
                    }
                    format!("{}%", sig(better * 100.0))
                }
                _ => NOT_SIMULATED.to_string(),
            };
            let st = l.v3.map_or(NOT_SIMULATED, |v| status((l.met)(v)));
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {improvement} | {st} |",
                l.metric,
                cell(l.v1),
                l.target,
                cell(l.v3)
            );
        }
        o.push('\n');
        let _ = writeln!(o, "### 6.2 Regression Detection\n");
        if regressions.is_empty() {
            let _ = writeln!(
                o,
                "**Regressions Detected:** none (v3 is at least as good as v1 on every row).\n"
            );
        } else {
            let _ = writeln!(
                o,
                "**Regressions Detected:** {} (v3 worse than the simulated v1):\n",
                regressions.len()
            );
            for r in regressions {
                let _ = writeln!(o, "- {r}");
            }
            o.push('\n');
        }
    }

    fn methodology(&self) -> Option<Methodology> {
        let d = self.dc.as_ref().or(self.wan.as_ref())?;
        let mut m = Methodology::of(
            d.study,
            format!("generated star, {} points", d.study.points.len()),
            "the v1 and v3 profiles of the same packet-level migration engines on the same links",
            "`tests/migration.rs` (`every_profile_migrates_over_the_same_link`)",
        );
        if let (Some(w), Some(_)) = (&self.wan, &self.dc) {
            let _ = write!(m.topology, "; also `{}` {} runs", w.id, w.study.runs.len());
        }
        Some(m)
    }
}
