//! Report §2 (end-to-end migration) and the two migration KPIs, from the
//! `migration-datacenter`, `migration-internet` and `migration-concurrent` members: live
//! migrations whose pages cross the simulated network.

use super::format::{model_note, pending_table, sig, status, with_ci};
use super::{ran, Kpi, Methodology, Part, Ran, Section, NOT_SIMULATED};
use crate::results::{find_stat, PointStat, StudyView, SuiteResults};
use std::fmt::Write as _;

/// The DWCP v3 datacenter downtime target (seed report §2.1).
const DC_DOWNTIME_TARGET_S: f64 = 0.5;
/// The internet-mode 2 GB migration time target (seed report §2.2).
const INTERNET_2GB_TARGET_S: f64 = 90.0;

struct Migration<'a> {
    dc: Option<Ran<'a, VmRow>>,
    internet: Option<Ran<'a, VmRow>>,
    concurrent: Option<Ran<'a, ConcurrentRow>>,
}

pub(super) fn build(suite: &SuiteResults) -> Box<dyn Section + '_> {
    Box::new(Migration {
        dc: ran(suite, "migration-datacenter", vm_rows),
        internet: ran(suite, "migration-internet", vm_rows),
        concurrent: ran(suite, "migration-concurrent", concurrent_rows),
    })
}

/// Mean and 95% half-width.
pub(super) type Stat = (f64, f64);

/// One point of a single-VM migration study.
struct VmRow {
    memory: String,
    workload: String,
    link: String,
    completed: f64,
    converged: f64,
    total: Option<Stat>,
    downtime: Option<Stat>,
    bandwidth: Option<Stat>,
    saved: Option<Stat>,
    passes: Option<Stat>,
}

pub(super) fn stat(stats: &[PointStat], i: usize, key: &str) -> Option<Stat> {
    find_stat(stats, i, key).map(|s| (s.summary.mean, s.summary.ci_half))
}

pub(super) fn text(study: &StudyView, i: usize, key: &str) -> Option<String> {
    study
        .value(i, key)
        .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
}

fn vm_rows(study: &StudyView, stats: &[PointStat]) -> Option<Vec<VmRow>> {
    let rows: Vec<VmRow> = study
        .points
        .iter()
        .filter_map(|p| {
            let i = p.index;
            let m = |metric: &str| stat(stats, i, &format!("migration/vm/{metric}"));
            Some(VmRow {
                memory: text(study, i, "migrations.0.memory")?,
                workload: text(study, i, "migrations.0.workload").unwrap_or_else(|| "idle".into()),
                link: text(study, i, "topology.generate.link.rate")
                    .or_else(|| text(study, i, "topology.links.0.rate"))
                    .unwrap_or_default(),
                completed: m("completed")?.0,
                converged: m("converged")?.0,
                total: m("total_time"),
                downtime: m("downtime"),
                bandwidth: m("effective_bandwidth"),
                saved: m("space_saved"),
                passes: m("passes"),
            })
        })
        .collect();
    (!rows.is_empty()).then_some(rows)
}

/// One point of the concurrent study: every VM's figures.
struct ConcurrentRow {
    copies: usize,
    /// Per VM: completed, converged, downtime (s), total time (s).
    vms: Vec<(bool, bool, Option<f64>, Option<f64>)>,
}

fn concurrent_rows(study: &StudyView, stats: &[PointStat]) -> Option<Vec<ConcurrentRow>> {
    let mut rows = Vec::new();
    for p in &study.points {
        let i = p.index;
        let copies = study.value(i, "migrations.0.copies")?.as_integer()? as usize;
        let vm = |k: usize, metric: &str| {
            let entity = if copies == 1 {
                "vm".to_string()
            } else {
                format!("vm/{k}")
            };
            stat(stats, i, &format!("migration/{entity}/{metric}")).map(|s| s.0)
        };
        let vms = (0..copies)
            .map(|k| {
                (
                    vm(k, "completed") == Some(1.0),
                    vm(k, "converged") == Some(1.0),
                    vm(k, "downtime"),
                    vm(k, "total_time"),
                )
            })
            .collect();
        rows.push(ConcurrentRow { copies, vms });
    }
    (!rows.is_empty()).then_some(rows)
}

impl ConcurrentRow {
    /// Completed, converged, and down no longer than the profile's 500 ms target.
    fn success_rate(&self) -> f64 {
        let ok = self
            .vms
            .iter()
            .filter(|v| v.0 && v.1 && v.2.is_some_and(|d| d <= DC_DOWNTIME_TARGET_S))
            .count();
        ok as f64 / self.vms.len().max(1) as f64
    }

    /// VMs moved per second: all of them over the time until the last one ran again.
    fn migrations_per_s(&self) -> Option<f64> {
        let last = self
            .vms
            .iter()
            .map(|v| v.3)
            .collect::<Option<Vec<f64>>>()?
            .into_iter()
            .fold(0.0, f64::max);
        (last > 0.0).then(|| self.vms.len() as f64 / last)
    }
}

fn secs(s: Option<Stat>) -> String {
    s.map_or_else(
        || NOT_SIMULATED.to_string(),
        |(m, h)| format!("{} s", with_ci(m, h)),
    )
}

fn ms(s: Option<Stat>) -> String {
    s.map_or_else(
        || NOT_SIMULATED.to_string(),
        |(m, h)| format!("{} ms", with_ci(m * 1e3, h * 1e3)),
    )
}

fn find<'r>(rows: &'r [VmRow], memory: &str, workload: &str) -> Option<&'r VmRow> {
    rows.iter()
        .find(|r| r.memory == memory && r.workload == workload)
}

impl Section for Migration<'_> {
    fn table(&self) -> &'static str {
        "2 Migration"
    }

    fn heading(&self) -> &'static str {
        "## 2. End-to-End Migration Benchmarks"
    }

    fn parts(&self) -> Vec<Part> {
        vec![
            Part {
                name: "datacenter migration",
                simulated: self.dc.is_some(),
            },
            Part {
                name: "internet migration",
                simulated: self.internet.is_some(),
            },
            Part {
                name: "concurrent migrations",
                simulated: self.concurrent.is_some(),
            },
        ]
    }

    fn waits_for(&self) -> &'static str {
        "migration"
    }

    fn kpis(&self) -> Vec<Kpi> {
        let dc = self.dc.as_ref().and_then(|d| {
            let worst = d
                .rows
                .iter()
                .filter_map(|r| r.downtime.map(|x| (x, r)))
                .max_by(|a, b| a.0 .0.total_cmp(&b.0 .0))?;
            let all_done = d.rows.iter().all(|r| r.completed == 1.0);
            Some((
                format!(
                    "worst mean {} ms ({} {}, §2.1)",
                    with_ci(worst.0 .0 * 1e3, worst.0 .1 * 1e3),
                    worst.1.memory,
                    worst.1.workload
                ),
                all_done && worst.0 .0 < DC_DOWNTIME_TARGET_S,
            ))
        });
        let inet = self.internet.as_ref().and_then(|d| {
            let r = d
                .rows
                .iter()
                .filter(|r| r.memory == "2GiB")
                .filter_map(|r| r.total.map(|t| (t, r)))
                .max_by(|a, b| a.0 .0.total_cmp(&b.0 .0))?;
            Some((
                format!(
                    "{} s ({} workload, §2.2)",
                    with_ci(r.0 .0, r.0 .1),
                    r.1.workload
                ),
                r.1.completed == 1.0 && r.0 .0 < INTERNET_2GB_TARGET_S,
            ))
        });
        vec![
            Kpi {
                seat: 2,
                component: "**Datacenter VM Migration Downtime**",
                target: "<500ms",
                achieved: dc,
            },
            Kpi {
                seat: 4,
                component: "**Internet 2GB VM Migration**",
                target: "<90s",
                achieved: inet,
            },
        ]
    }

    fn write(&self, o: &mut String) {
        let _ = writeln!(o, "### 2.1 Datacenter Mode Migration\n");
        match &self.dc {
            Some(d) => write_dc(o, d),
            None => {
                model_note(o, "migration");
                pending_table(
                    o,
                    &[
                        "VM Size",
                        "Downtime",
                        "Migration Time",
                        "Throughput",
                        "Target",
                        "Status",
                    ],
                    1,
                    &[
                        (&["1GB"], Some("<500ms")),
                        (&["4GB"], Some("<500ms")),
                        (&["16GB"], Some("<500ms")),
                    ],
                );
            }
        }
        let _ = writeln!(o, "### 2.2 Internet Mode Migration\n");
        match &self.internet {
            Some(d) => write_internet(o, d),
            None => {
                model_note(o, "migration");
                pending_table(
                    o,
                    &[
                        "VM Size",
                        "Migration Time",
                        "Compression",
                        "Effective BW",
                        "Target",
                        "Status",
                    ],
                    1,
                    &[(&["1GB"], None), (&["2GB"], Some("<90s")), (&["4GB"], None)],
                );
            }
        }
        let _ = writeln!(o, "### 2.3 Concurrent Migrations\n");
        match &self.concurrent {
            Some(c) => write_concurrent(o, c),
            None => {
                model_note(o, "migration");
                pending_table(
                    o,
                    &["Concurrent VMs", "Throughput", "Success Rate", "Status"],
                    1,
                    &[(&["1"], None), (&["5"], None), (&["10"], None)],
                );
            }
        }
    }

    fn methodology(&self) -> Option<Methodology> {
        let d = self.dc.as_ref().or(self.internet.as_ref())?;
        let mut m = Methodology::of(
            d.study,
            format!("generated star / WAN chain, {} points", d.study.points.len()),
            "packet-level pre-copy live migration (QEMU's slot, threshold and sync rules or the DWCP v3 orchestrator's \
             stop rules) over persistent RoCE or TCP streams; generated guest memory dirtied by a seeded process; \
             HDE pages priced by the real codecs and the calibration file",
            "`tests/migration.rs` (idle closed form, geometric pre-copy model, QEMU's 8 GiB idle defaults, \
             non-convergence, link sharing, every profile)",
        );
        for r in [&self.internet, &self.dc].into_iter().flatten() {
            if !std::ptr::eq(r.study, d.study) {
                let _ = write!(m.topology, "; also `{}` {} runs", r.id, r.study.runs.len());
            }
        }
        if let Some(c) = &self.concurrent {
            let _ = write!(m.topology, "; also `{}` {} runs", c.id, c.study.runs.len());
        }
        Some(m)
    }

    fn recommendations(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(i) = &self.internet {
            let over = i
                .rows
                .iter()
                .filter_map(|r| r.downtime.map(|d| (d.0, r)))
                .filter(|(d, _)| *d > 1.0)
                .map(|(d, r)| format!("{} {} {} s", r.memory, r.workload, sig(d)))
                .collect::<Vec<_>>();
            if !over.is_empty() {
                out.push(format!(
                    "**Internet-mode downtime (§2.2):** pre-copy over the WAN stops with seconds of downtime \
                     ({}), because the orchestrator's stop rule accepts remaining / rate up to its budget; \
                     post-copy (as the orchestrator's design has for internet mode) would bound it by the device \
                     state instead.",
                    over.join(", ")
                ));
            }
        }
        out
    }
}

fn write_dc(o: &mut String, d: &Ran<VmRow>) {
    let _ = writeln!(
        o,
        "**Simulated** by `{}` ({}): DWCP v3 datacenter-mode pre-copy; the VM's pages cross a two-hop RoCE \
         fabric with PFC as AMST streams (queue pairs), generated guest memory dirtied by each workload preset. \
         Means over {} seeds with 95% intervals. Throughput = bytes on the wire over the migration time.\n",
        d.id,
        d.study.path.display(),
        d.study.repetitions
    );
    let _ = writeln!(
        o,
        "| VM Size | Workload | Link | Downtime | Migration Time | Throughput | Passes | Converged | Target | Status |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in &d.rows {
        let met = r.completed == 1.0 && r.downtime.is_some_and(|x| x.0 < DC_DOWNTIME_TARGET_S);
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {}% | <500ms | {} |",
            r.memory,
            r.workload,
            r.link,
            ms(r.downtime),
            secs(r.total),
            r.bandwidth.map_or(NOT_SIMULATED.into(), |b| format!(
                "{} GB/s",
                with_ci(b.0 / 8e9, b.1 / 8e9)
            )),
            r.passes.map_or("-".into(), |p| sig(p.0)),
            sig(r.converged * 100.0),
            status(met)
        );
    }
    o.push('\n');
}

fn write_internet(o: &mut String, d: &Ran<VmRow>) {
    let _ = writeln!(
        o,
        "**Simulated** by `{}` ({}): DWCP v3 internet-mode pre-copy with HDE (zero pages, dedup, delta, zstd-3 \
         measured on the VM's own pages and priced by the calibration file) over 8 BBR TCP streams on a 50 ms, \
         0.1%-loss path. Compression = space saved on the pages (1 − wire / page bytes), as the seed computes it; \
         effective BW = bits on the wire over the migration time. Means over {} seeds with 95% intervals.\n",
        d.id,
        d.study.path.display(),
        d.study.repetitions
    );
    let _ = writeln!(
        o,
        "| VM Size | Workload | Link | Migration Time | Downtime | Compression | Effective BW | Target | Status |\n|---|---|---|---|---|---|---|---|---|"
    );
    for r in &d.rows {
        let (target, st) = if r.memory == "2GiB" {
            let met = r.completed == 1.0 && r.total.is_some_and(|t| t.0 < INTERNET_2GB_TARGET_S);
            ("<90s", status(met).to_string())
        } else {
            ("-", "measured (no target)".to_string())
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {target} | {st} |",
            r.memory,
            r.workload,
            r.link,
            secs(r.total),
            ms(r.downtime),
            r.saved.map_or(NOT_SIMULATED.into(), |s| format!(
                "{}%",
                with_ci(s.0 * 100.0, s.1 * 100.0)
            )),
            r.bandwidth.map_or(NOT_SIMULATED.into(), |b| format!(
                "{} Mb/s",
                with_ci(b.0 / 1e6, b.1 / 1e6)
            )),
        );
    }
    o.push('\n');
    if let (Some(a), Some(b)) = (
        find(&d.rows, "2GiB", "idle"),
        find(&d.rows, "2GiB", "web-server"),
    ) {
        if let (Some(ta), Some(tb)) = (a.total, b.total) {
            let _ = writeln!(
                o,
                "**Finding:** dirtying by the web-server preset adds {} s ({}%) to the idle 2 GB migration.\n",
                sig(tb.0 - ta.0),
                sig((tb.0 / ta.0 - 1.0) * 100.0)
            );
        }
    }
}

fn write_concurrent(o: &mut String, c: &Ran<ConcurrentRow>) {
    let _ = writeln!(
        o,
        "**Simulated** by `{}` ({}): 4 GB web-server VMs migrating at the same moment between the same two hosts, \
         sharing their 10 Gb/s links for real over multi-stream TCP (the original's goroutines each slept a full-link time). \
         Throughput = VMs moved per second of the whole batch; success = completed, converged, and downtime within \
         500 ms.\n",
        c.id,
        c.study.path.display()
    );
    let _ = writeln!(
        o,
        "| Concurrent VMs | Throughput | Success Rate | Status |\n|---|---|---|---|"
    );
    for r in &c.rows {
        let _ = writeln!(
            o,
            "| {} | {} | {}% | measured (no target) |",
            r.copies,
            r.migrations_per_s()
                .map_or(NOT_SIMULATED.into(), |x| format!("{} migrations/s", sig(x))),
            sig(r.success_rate() * 100.0)
        );
    }
    o.push('\n');
}
