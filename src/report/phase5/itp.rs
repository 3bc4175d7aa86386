//! Report §1.5 (ITP: TCP congestion control under loss and a link outage, RoCE go-back-N
//! beside it), from the `itp` and `itp-rdma` members.

use super::format::{model_note, pending_table, sig, with_ci};
use super::{ran, Methodology, Part, Ran, Section, NOT_SIMULATED};
use crate::results::{PointStat, StudyView, SuiteResults};
use std::fmt::Write as _;

/// §1.5 from the TCP study, with the RoCE study's rows added when it ran.
struct Itp<'a> {
    tcp: Option<Ran<'a, ItpRow>>,
    roce: Option<Ran<'a, ItpRow>>,
}

pub(super) fn build(suite: &SuiteResults) -> Box<dyn Section + '_> {
    Box::new(Itp {
        tcp: ran(suite, "itp", itp_rows),
        roce: ran(suite, "itp-rdma", itp_rows),
    })
}

impl Section for Itp<'_> {
    fn table(&self) -> &'static str {
        "1.5 ITP"
    }

    fn heading(&self) -> &'static str {
        "### 1.5 ITP (Intelligent Transport Protocol)"
    }

    fn parts(&self) -> Vec<Part> {
        vec![Part {
            name: "congestion control",
            simulated: self.tcp.is_some(),
        }]
    }

    fn waits_for(&self) -> &'static str {
        "transport"
    }

    fn write(&self, o: &mut String) {
        if let Some(t) = &self.tcp {
            let mut rows = t.rows.clone();
            let roce = self.roce.as_ref().map(|r| {
                rows.extend(r.rows.iter().cloned());
                (r.id, r.study)
            });
            write_itp(o, t.id, t.study, &rows, roce);
            return;
        }
        model_note(o, "transport");
        let _ = writeln!(o, "#### 1.5.1 Congestion Control\n");
        pending_table(
            o,
            &[
                "Scenario",
                "Packet Loss",
                "Throughput",
                "Recovery Time",
                "Status",
            ],
            1,
            &[(&["1% Loss"], None), (&["5% Loss"], None)],
        );
    }

    fn methodology(&self) -> Option<Methodology> {
        let t = self.tcp.as_ref()?;
        let mut m = Methodology::of(
            t.study,
            format!(
                "generated dumbbell, 100 Mbit/s bottleneck, {} points",
                t.study.points.len()
            ),
            "packet-level TCP (NewReno/SACK recovery, RFC 6298 RTO, delayed ACKs; NewReno, CUBIC, BBR v1), \
             Bernoulli and Gilbert-Elliott loss, scheduled link outage",
            "`tests/transport.rs` (PFTK and Mathis for NewReno, RFC 8312 CUBIC window, fairness and utilization, \
             BBR under loss, link flap recovery)",
        );
        if let Some(r) = &self.roce {
            let _ = write!(m.topology, "; also `{}` {} runs", r.id, r.study.runs.len());
            let _ = write!(m.model, "; RoCEv2 go-back-N queue pairs on the same path");
        }
        Some(m)
    }
}

/// One point of the ITP study.
#[derive(Clone)]
struct ItpRow {
    loss_label: String,
    /// Mean loss of the link's loss model (fraction) and whether it comes in bursts.
    nominal_loss: f64,
    bursty: bool,
    delay: String,
    cc: String,
    streams: i64,
    loss: Option<(f64, f64)>,
    goodput: (f64, f64),
    recovery: Option<(f64, f64, usize)>,
    reps: u32,
}

/// The control column of RoCE rows in the ITP table.
const ROCE_GBN: &str = "roce-gbn";

/// Describes a loss-layer list: (label, stationary loss, bursty).
fn loss_label(v: &toml::Value) -> Option<(String, f64, bool)> {
    let layer = v.as_array()?.first()?.as_table()?;
    let num = |k: &str| layer.get(k).and_then(|x| x.as_float());
    match layer.get("kind")?.as_str()? {
        "bernoulli" => {
            let p = num("p")?;
            Some((format!("random {}%", sig(p * 100.0)), p, false))
        }
        "gilbert_elliott" => {
            let (p, r) = (num("p")?, num("r")?);
            let bad = num("loss_bad").unwrap_or(1.0);
            let good = num("loss_good").unwrap_or(0.0);
            let mean = (r * good + p * bad) / (p + r);
            Some((
                format!("bursty {}% (bursts of {})", sig(mean * 100.0), sig(1.0 / r)),
                mean,
                true,
            ))
        }
        _ => None,
    }
}

fn itp_rows(study: &StudyView, stats: &[PointStat]) -> Option<Vec<ItpRow>> {
    let mut rows = Vec::new();
    for p in &study.points {
        let i = p.index;
        let (loss_label, nominal_loss, bursty) =
            loss_label(study.value(i, "topology.generate.bottleneck_link.loss_ab")?)?;
        let delay = study
            .value(i, "topology.generate.bottleneck_link.delay")?
            .as_str()?
            .to_string();
        let app = study.value(i, "flows.0.app");
        let cc = if app.and_then(|v| v.as_str()) == Some("rdma") {
            ROCE_GBN.to_string()
        } else {
            study.value(i, "tcp.cc")?.as_str()?.to_string()
        };
        let streams = study.value(i, "flows.0.copies")?.as_integer()?;
        let group = |m: &str| {
            stats
                .iter()
                .find(|s| s.point == i && s.scope == "group" && s.metric == m)
        };
        let g = group("goodput")?;
        rows.push(ItpRow {
            loss_label,
            nominal_loss,
            bursty,
            delay,
            cc,
            streams,
            loss: group("loss_rate").map(|s| (s.summary.mean, s.summary.ci_half)),
            goodput: (g.summary.mean, g.summary.ci_half),
            recovery: group("recovery_time")
                .map(|s| (s.summary.mean, s.summary.ci_half, s.summary.n)),
            reps: study.repetitions,
        });
    }
    (!rows.is_empty()).then_some(rows)
}

fn pct(x: (f64, f64)) -> String {
    with_ci(x.0 * 100.0, x.1 * 100.0) + "%"
}

fn mbps(x: (f64, f64)) -> String {
    with_ci(x.0 / 1e6, x.1 / 1e6) + " Mbit/s"
}

fn recovery_cell(r: &ItpRow) -> String {
    match r.recovery {
        None => "not within the run".into(),
        Some((m, h, n)) => {
            let mut s = with_ci(m * 1e3, h * 1e3) + " ms";
            if (n as u32) < r.reps {
                let _ = write!(s, " ({n} of {} runs recovered)", r.reps);
            }
            s
        }
    }
}

fn write_itp(
    o: &mut String,
    id: &str,
    study: &StudyView,
    rows: &[ItpRow],
    roce: Option<(&str, &StudyView)>,
) {
    let roce_text = roce.map_or(String::new(), |(rid, rs)| {
        format!(
            " RoCEv2 go-back-N rows (`{ROCE_GBN}`: one queue pair at 100 Mbit/s or 8 at 12.5 Mbit/s, local ACK \
             timeout 537 ms) come from `{rid}` ({}).",
            rs.path.display()
        )
    });
    let _ = writeln!(
        o,
        "**Simulated** by `{id}` ({}): one 100 Mbit/s bottleneck on the original's WAN round-trip times, \
         packet-level TCP (NewReno, CUBIC, BBR v1) with 1 and 8 parallel streams, random and bursty loss on data \
         packets, and a 1 s link outage at 40 s. Means over {} repetitions with 95% intervals. In the original \
         code ITP is VM placement, not a transport; this table is designed here (see the experiment file).{roce_text}\n",
        study.path.display(),
        study.repetitions
    );
    let _ = writeln!(o, "#### 1.5.1 Congestion Control\n");
    let _ = writeln!(
        o,
        "The seed's rows, for the configuration DWCP's internet mode ran: BBR (the original ran over the kernel's BBR), \
         8 streams (internet mode uses 4–16), random loss, 80 ms RTT. Packet loss is measured (queue drops included); \
         recovery time runs from the link coming back until the transfer's goodput is within 10% of its mean over the \
         10 s before the outage (the slowest of the streams). The seed gives no target, so there is no met/missed status.\n"
    );
    let _ = writeln!(
        o,
        "| Scenario | Packet Loss | Throughput | Recovery Time | Status |\n|---|---|---|---|---|"
    );
    for (label, p) in [("1% Loss", 0.01), ("5% Loss", 0.05)] {
        let row = rows.iter().find(|r| {
            !r.bursty
                && (r.nominal_loss - p).abs() < 1e-9
                && r.cc == "bbr"
                && r.streams == 8
                && r.delay == "40ms"
        });
        match row {
            Some(r) => {
                let _ = writeln!(
                    o,
                    "| {label} | {} | {} | {} | measured (no target) |",
                    r.loss.map_or("-".into(), pct),
                    mbps(r.goodput),
                    recovery_cell(r)
                );
            }
            None => {
                let _ = writeln!(
                    o,
                    "| {label} | {NOT_SIMULATED} | {NOT_SIMULATED} | {NOT_SIMULATED} | - |"
                );
            }
        }
    }
    o.push('\n');
    let _ = writeln!(o, "All points of the study:\n");
    let _ = writeln!(o, "| Loss model | RTT | Control | Streams | Packet Loss | Throughput | Recovery Time |\n|---|---|---|---|---|---|---|");
    let mut sorted: Vec<&ItpRow> = rows.iter().collect();
    sorted.sort_by(|a, b| {
        (a.bursty, a.nominal_loss.to_bits(), &a.cc, a.streams).cmp(&(
            b.bursty,
            b.nominal_loss.to_bits(),
            &b.cc,
            b.streams,
        ))
    });
    for r in &sorted {
        let rtt = crate::engine::SimDuration::parse(&r.delay)
            .map(|d| format!("{} ms", sig(2.0 * d.as_secs_f64() * 1e3)))
            .unwrap_or_else(|_| r.delay.clone());
        let _ = writeln!(
            o,
            "| {} | {rtt} | {} | {} | {} | {} | {} |",
            r.loss_label,
            r.cc,
            r.streams,
            r.loss.map_or("-".into(), pct),
            mbps(r.goodput),
            recovery_cell(r)
        );
    }
    o.push('\n');
    let _ = writeln!(o, "**Findings** (computed from the rows above):");
    let best = |cc: &str, p: f64| {
        rows.iter()
            .filter(|r| {
                r.cc == cc
                    && !r.bursty
                    && (r.nominal_loss - p).abs() < 1e-9
                    && r.delay == "40ms"
                    && r.streams == 8
            })
            .map(|r| r.goodput.0)
            .next()
    };
    for p in [0.01, 0.05] {
        if let (Some(b), Some(c), Some(n)) = (best("bbr", p), best("cubic", p), best("newreno", p))
        {
            let _ = writeln!(
                o,
                "- At {}% random loss and 80 ms RTT, 8 BBR streams deliver {} Mbit/s, {}× CUBIC's {} and {}× NewReno's {}: \
                 loss-based control is held near the Mathis rate, BBR v1 paces at its bandwidth estimate.",
                sig(p * 100.0),
                sig(b / 1e6),
                sig(b / c),
                sig(c / 1e6),
                sig(b / n),
                sig(n / 1e6)
            );
        }
    }
    let single_multi = |cc: &str| {
        let one = rows.iter().find(|r| {
            r.cc == cc
                && !r.bursty
                && (r.nominal_loss - 0.01).abs() < 1e-9
                && r.delay == "40ms"
                && r.streams == 1
        })?;
        let eight = rows.iter().find(|r| {
            r.cc == cc
                && !r.bursty
                && (r.nominal_loss - 0.01).abs() < 1e-9
                && r.delay == "40ms"
                && r.streams == 8
        })?;
        Some(eight.goodput.0 / one.goodput.0)
    };
    if let (Some(c), Some(b)) = (single_multi("cubic"), single_multi("bbr")) {
        let _ = writeln!(
            o,
            "- Striping over 8 streams multiplies CUBIC's goodput at 1% loss by {} (each stream gets its own Mathis share), \
             BBR's by {} (one BBR stream already fills most of the link).",
            sig(c),
            sig(b)
        );
    }
    let roce_one = rows
        .iter()
        .find(|r| {
            r.cc == ROCE_GBN
                && !r.bursty
                && (r.nominal_loss - 0.01).abs() < 1e-9
                && r.delay == "40ms"
                && r.streams == 1
        })
        .map(|r| r.goodput.0);
    if let (Some(g1), Some(g), Some(b)) = (roce_one, best(ROCE_GBN, 0.01), best("bbr", 0.01)) {
        let _ = writeln!(
            o,
            "- RoCE's go-back-N at 1% random loss and 80 ms RTT: one queue pair delivers {} Mbit/s ({}% of the link), \
             8 paced at an eighth of the rate each {} Mbit/s ({}× less than 8 BBR streams): every loss sends a queue \
             pair back over a whole round trip of packets, so goodput falls with each pair's bandwidth-delay product; \
             RoCE needs a lossless fabric, which a WAN is not.",
            sig(g1 / 1e6),
            sig(g1 / 1e8 * 100.0),
            sig(g / 1e6),
            sig(b / g)
        );
    }
    o.push('\n');
}
