//! Report §3 (linear scalability): the network fabric under DWCP, from the
//! `fabric-scaling` member; the Scalability KPI itself needs DWCP's own operations.

use super::format::{model_note, si, sig, status, with_ci};
use super::{ran, Kpi, Methodology, Part, Ran, Section};
use crate::results::{find_stat, PointStat, StudyView, SuiteResults};
use std::fmt::Write as _;

/// §3 from the fabric study.
struct Scalability<'a> {
    fabric: Option<Ran<'a, ScaleRow>>,
}

pub(super) fn build(suite: &SuiteResults) -> Box<dyn Section + '_> {
    Box::new(Scalability {
        fabric: ran(suite, "fabric-scaling", scalability_rows),
    })
}

impl Section for Scalability<'_> {
    fn table(&self) -> &'static str {
        "3 Scalability (fabric)"
    }

    fn heading(&self) -> &'static str {
        "## 3. Scalability Benchmarks\n\n### 3.1 Linear Scalability Analysis"
    }

    fn parts(&self) -> Vec<Part> {
        vec![Part {
            name: "fabric",
            simulated: self.fabric.is_some(),
        }]
    }

    fn waits_for(&self) -> &'static str {
        "transport"
    }

    fn kpis(&self) -> Vec<Kpi> {
        vec![Kpi {
            seat: 7,
            component: "**Scalability**",
            target: "Linear to 1000 nodes",
            achieved: None,
        }]
    }

    fn kpi_notes(&self) -> Vec<String> {
        let mut note = "The Scalability indicator concerns DWCP's own operations, which need the protocol models"
            .to_string();
        if self.fabric.is_some() {
            note += "; §3 measures the network fabric under them, which is simulated";
        }
        vec![note + "."]
    }

    fn write(&self, o: &mut String) {
        match &self.fabric {
            Some(f) => write_scalability(o, f.id, f.study, &f.rows),
            None => model_note(o, "transport"),
        }
    }

    fn methodology(&self) -> Option<Methodology> {
        let f = self.fabric.as_ref()?;
        Some(Methodology::of(
            f.study,
            format!("generated leaf-spine, {} host counts", f.study.points.len()),
            "packet-level store-and-forward network: serialization, propagation, drop-tail queues, ECMP",
            "`tests/network.rs` (serialization and propagation closed forms, M/M/1 queue, ECMP spread, conservation), \
             `tests/determinism.rs`",
        ))
    }

    fn recommendations(&self) -> Vec<String> {
        let Some(f) = &self.fabric else {
            return Vec::new();
        };
        let worst = f.rows.iter().map(|r| r.drops).fold(0.0, f64::max);
        vec![format!(
            "Fabric: {} — from the §3 measurements.",
            if worst > 0.0 {
                format!("queues dropped up to {} packets per run at the load studied; ECMP hash collisions concentrate flows on some spine links, so flowlet or adaptive routing is worth simulating", sig(worst))
            } else {
                "no queue drops at the load studied; the fabric is not the bottleneck for the DWCP experiments to come".to_string()
            }
        )]
    }
}

/// One row of the scalability table.
struct ScaleRow {
    hosts: i64,
    rate: f64,
    rate_ci: f64,
    drops: f64,
    delay_p99: f64,
}

fn scalability_rows(study: &StudyView, stats: &[PointStat]) -> Option<Vec<ScaleRow>> {
    let mut rows = Vec::new();
    for p in &study.points {
        let int = |k: &str| study.value(p.index, k).and_then(|v| v.as_integer());
        let hosts = int("topology.generate.leaves")? * int("topology.generate.hosts_per_leaf")?;
        let delivered = find_stat(stats, p.index, "net/all/delivered_packets")?;
        let t = find_stat(stats, p.index, "net/all/virtual_time")?
            .summary
            .mean;
        let drops = find_stat(stats, p.index, "net/all/dropped_queue_packets")
            .map_or(0.0, |s| s.summary.mean);
        let delay_p99 = stats
            .iter()
            .filter(|s| s.point == p.index && s.scope == "flow" && s.metric == "delay_p99")
            .map(|s| s.summary.mean)
            .fold(0.0, f64::max);
        rows.push(ScaleRow {
            hosts,
            rate: delivered.summary.mean / t,
            rate_ci: delivered.summary.ci_half / t,
            drops,
            delay_p99,
        });
    }
    rows.sort_by_key(|r| r.hosts);
    (!rows.is_empty()).then_some(rows)
}

fn write_scalability(o: &mut String, id: &str, study: &StudyView, rows: &[ScaleRow]) {
    let _ = writeln!(
        o,
        "*Simulated: the network fabric only (`{}`): a leaf-spine of growing size carries a permutation of Poisson \
         flows (every host sends to one other host) at a fixed per-host load; throughput is delivered packets per \
         second of virtual time. DWCP's own operations are not simulated yet, so this bounds what the fabric under \
         them sustains. Linearity coefficient = log(throughput / baseline) / log(hosts / baseline hosts): 1.0 is \
         perfectly linear.*\n",
        study.path.display()
    );
    let _ = writeln!(
        o,
        "| Nodes (hosts) | Throughput (packets/s) | Efficiency | Linearity Coefficient | Target | Status |\n|---|---|---|---|---|---|"
    );
    let base = &rows[0];
    let targets = [(100, 0.8), (500, 0.7), (1000, 0.6)];
    for r in rows {
        let eff = (r.rate / r.hosts as f64) / (base.rate / base.hosts as f64) * 100.0;
        if r.hosts == base.hosts {
            let _ = writeln!(
                o,
                "| {} | {} | 100% | - | Baseline | measured |",
                r.hosts,
                with_ci(r.rate, r.rate_ci)
            );
            continue;
        }
        let lin = (r.rate / base.rate).ln() / (r.hosts as f64 / base.hosts as f64).ln();
        let target = targets.iter().find(|(h, _)| *h == r.hosts).map(|t| t.1);
        let _ = writeln!(
            o,
            "| {} | {} | {}% | {} | {} | {} |",
            r.hosts,
            with_ci(r.rate, r.rate_ci),
            sig(eff),
            sig(lin),
            target.map_or("-".to_string(), |t| format!("≥{t}")),
            target.map_or("measured", |t| status(lin >= t))
        );
    }
    let _ = writeln!(
        o,
        "\n![Fabric throughput against hosts]({id}/plots/throughput-vs-hosts.png)\n"
    );
    let last = &rows[rows.len() - 1];
    let lin = (last.rate / base.rate).ln() / (last.hosts as f64 / base.hosts as f64).ln();
    let _ = writeln!(o, "**Findings:**");
    let _ = writeln!(
        o,
        "- Delivered throughput grows from {} packets/s at {} hosts to {} packets/s at {} hosts: a linearity coefficient of {}.",
        si(base.rate),
        base.hosts,
        si(last.rate),
        last.hosts,
        sig(lin)
    );
    let drops: Vec<String> = rows
        .iter()
        .filter(|r| r.drops > 0.0)
        .map(|r| format!("{} at {} hosts", sig(r.drops), r.hosts))
        .collect();
    let _ = writeln!(
        o,
        "- Queue drops per run (mean): {}.",
        if drops.is_empty() {
            "none at any size".to_string()
        } else {
            drops.join(", ")
        }
    );
    let _ = writeln!(
        o,
        "- The worst per-flow 99th-percentile one-way delay grows from {} ms to {} ms as more flows share spine links.\n",
        sig(base.delay_p99 * 1e3),
        sig(last.delay_p99 * 1e3)
    );
}
