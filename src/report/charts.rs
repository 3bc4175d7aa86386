//! The standard charts of a network run: queue occupancy and utilization of the recorded
//! links, throughput of the flows, ping RTT, and the transports' goodput, cwnd, SRTT and
//! DCQCN rate over time, each as PNG and SVG.

use super::plot::{write_line_chart, LineChart, PlotError, Series};
use crate::metrics::RunRecords;
use std::path::Path;

/// At most this many series per chart, so the legend stays readable; the rest are in
/// `timeseries.csv`.
const MAX_SERIES: usize = 12;

/// Draws every chart the records support; returns the file names written.
pub fn write_charts(
    dir: &Path,
    experiment: &str,
    rec: &RunRecords,
) -> Result<Vec<String>, PlotError> {
    let plots = dir.join("plots"); // write_line_chart creates it
    let (t_scale, t_unit) = if rec.end_time.as_secs_f64() <= 2.0 {
        (1e3, "ms")
    } else {
        (1.0, "s")
    };
    let mut written = Vec::new();
    let charts: [(&str, &str, &str, f64); 8] = [
        ("queue_packets", "queue occupancy", "queue (packets)", 1.0),
        (
            "utilization",
            "link utilization",
            "utilization (fraction of line rate)",
            1.0,
        ),
        ("throughput", "flow throughput", "throughput (Mbit/s)", 1e-6),
        ("rtt", "ping round-trip time", "RTT (ms)", 1e3),
        ("goodput", "transport goodput", "goodput (Mbit/s)", 1e-6),
        ("cwnd", "TCP congestion window", "cwnd (segments)", 1.0),
        ("srtt", "TCP smoothed RTT", "SRTT (ms)", 1e3),
        ("rate", "RDMA sending rate (DCQCN)", "rate (Gbit/s)", 1e-9),
    ];
    for (metric, what, y_label, y_scale) in charts {
        let series: Vec<Series> = rec
            .series
            .iter()
            .filter(|s| s.metric == metric && !s.points.is_empty())
            .take(MAX_SERIES)
            .map(|s| Series {
                label: s.entity.clone(),
                points: s
                    .points
                    .iter()
                    .map(|(t, v)| (t.as_secs_f64() * t_scale, v * y_scale))
                    .collect(),
            })
            .collect();
        if series.is_empty() {
            continue;
        }
        let title = format!("{experiment}: {what}");
        let x_label = format!("time ({t_unit})");
        write_line_chart(
            &plots.join(metric),
            &LineChart {
                title: &title,
                x_label: &x_label,
                y_label,
                series: &series,
            },
        )?;
        written.push(format!("plots/{metric}.png"));
        written.push(format!("plots/{metric}.svg"));
    }
    Ok(written)
}
