//! Tidy CSV: one row per (scope, entity, metric), every run parameter as a column, so the
//! file loads straight into pandas or R. Rows come in a fixed order and floats print in
//! Rust's shortest round-trip form, so equal runs give equal bytes.

use crate::metrics::{DropReason, Histogram, RunRecords};
use std::io::Write;

/// Columns identifying the run, repeated on every row (`experiment`, `seed`, ...).
pub type RunColumns = Vec<(String, String)>;

struct Rows<'a, W: Write> {
    out: csv::Writer<W>,
    run: &'a RunColumns,
}

impl<W: Write> Rows<'_, W> {
    fn row(
        &mut self,
        scope: &str,
        entity: &str,
        metric: &str,
        value: f64,
        unit: &str,
    ) -> csv::Result<()> {
        if !value.is_finite() {
            return Ok(()); // undefined (e.g. delay of a flow that delivered nothing): no row
        }
        let mut rec: Vec<String> = self.run.iter().map(|(_, v)| v.clone()).collect();
        rec.extend([
            scope.to_string(),
            entity.to_string(),
            metric.to_string(),
            format!("{value}"),
            unit.to_string(),
        ]);
        self.out.write_record(&rec)
    }

    fn delays(
        &mut self,
        scope: &str,
        entity: &str,
        prefix: &str,
        h: &Histogram,
    ) -> csv::Result<()> {
        if h.count() == 0 {
            return Ok(());
        }
        let s = |ps: Option<u64>| ps.map(|v| v as f64 / 1e12).unwrap_or(f64::NAN);
        self.row(
            scope,
            entity,
            &format!("{prefix}_mean"),
            h.mean() / 1e12,
            "s",
        )?;
        self.row(scope, entity, &format!("{prefix}_min"), s(h.min()), "s")?;
        for (q, label) in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (0.999, "p999")] {
            self.row(
                scope,
                entity,
                &format!("{prefix}_{label}"),
                s(h.quantile(q)),
                "s",
            )?;
        }
        self.row(scope, entity, &format!("{prefix}_max"), s(h.max()), "s")
    }
}

/// Writes `results.csv` content for one run.
pub fn write_results<W: Write>(w: W, run: &RunColumns, rec: &RunRecords) -> csv::Result<()> {
    let mut header: Vec<&str> = run.iter().map(|(k, _)| k.as_str()).collect();
    header.extend(["scope", "entity", "metric", "value", "unit"]);
    let mut out = csv::Writer::from_writer(w);
    out.write_record(&header)?;
    let mut rows = Rows { out, run };
    let end_s = rec.end_time.as_secs_f64();

    let n = &rec.net;
    rows.row(
        "net",
        "all",
        "injected_packets",
        n.injected as f64,
        "packets",
    )?;
    rows.row(
        "net",
        "all",
        "delivered_packets",
        n.delivered as f64,
        "packets",
    )?;
    for r in DropReason::ALL {
        rows.row(
            "net",
            "all",
            &format!("dropped_{}_packets", r.name()),
            n.dropped[r.index()] as f64,
            "packets",
        )?;
    }
    rows.row(
        "net",
        "all",
        "in_flight_packets",
        rec.in_flight as f64,
        "packets",
    )?;
    rows.row("net", "all", "events", rec.events as f64, "events")?;
    rows.row("net", "all", "virtual_time", end_s, "s")?;

    for (scope, entity, metric, value, unit) in &rec.measures {
        rows.row(scope, entity, metric, *value, unit)?;
    }

    for f in &rec.flows {
        let e = &f.name;
        let s = &f.stats;
        rows.row("flow", e, "sent_packets", s.sent_packets as f64, "packets")?;
        rows.row("flow", e, "sent_bytes", s.sent_bytes as f64, "bytes")?;
        rows.row(
            "flow",
            e,
            "delivered_packets",
            s.delivered_packets as f64,
            "packets",
        )?;
        rows.row(
            "flow",
            e,
            "delivered_bytes",
            s.delivered_bytes as f64,
            "bytes",
        )?;
        for r in DropReason::ALL {
            rows.row(
                "flow",
                e,
                &format!("dropped_{}_packets", r.name()),
                s.dropped[r.index()] as f64,
                "packets",
            )?;
        }
        let dropped: u64 = s.dropped.iter().sum();
        if s.sent_packets > 0 {
            rows.row(
                "flow",
                e,
                "loss_rate",
                dropped as f64 / s.sent_packets as f64,
                "fraction",
            )?;
        }
        rows.row(
            "flow",
            e,
            "reordered_packets",
            s.reordered as f64,
            "packets",
        )?;
        rows.row("flow", e, "offered_load", f.offered_bps, "bit/s")?;
        if f.active_s > 0.0 {
            rows.row(
                "flow",
                e,
                "throughput",
                s.delivered_bytes as f64 * 8.0 / f.active_s,
                "bit/s",
            )?;
        }
        rows.delays("flow", e, "delay", &s.delay)?;
        rows.delays("flow", e, "rtt", &s.rtt)?;
        for &(metric, value, unit) in &f.extra {
            rows.row("flow", e, metric, value, unit)?;
        }
    }

    // Transport connections started together (`copies`, patterns) as one group: the
    // aggregate goodput of a multi-stream transfer and its slowest recovery.
    let mut groups: Vec<(&str, Vec<&crate::metrics::FlowRecord>)> = Vec::new();
    for f in rec.flows.iter().filter(|f| !f.extra.is_empty()) {
        let base = match f.name.rsplit_once('/') {
            Some((b, k)) if k.parse::<u64>().is_ok() => b,
            _ => f.name.as_str(),
        };
        match groups.iter_mut().find(|(b, _)| *b == base) {
            Some((_, members)) => members.push(f),
            None => groups.push((base, vec![f])),
        }
    }
    for (base, members) in &groups {
        let get = |f: &crate::metrics::FlowRecord, m: &str| {
            f.extra.iter().find(|x| x.0 == m).map(|x| x.1)
        };
        let e = base.to_string();
        rows.row("group", &e, "streams", members.len() as f64, "flows")?;
        let goodput: f64 = members.iter().filter_map(|f| get(f, "goodput")).sum();
        rows.row("group", &e, "goodput", goodput, "bit/s")?;
        let sent: u64 = members.iter().map(|f| f.stats.sent_packets).sum();
        let lost: u64 = members
            .iter()
            .map(|f| f.stats.dropped.iter().sum::<u64>())
            .sum();
        if sent > 0 {
            rows.row(
                "group",
                &e,
                "loss_rate",
                lost as f64 / sent as f64,
                "fraction",
            )?;
        }
        let rec_times: Vec<f64> = members
            .iter()
            .filter_map(|f| get(f, "recovery_time"))
            .collect();
        if members
            .iter()
            .any(|f| get(f, "pre_event_goodput").is_some())
        {
            // A stream that never recovers makes the group's recovery undefined.
            if rec_times.len() == members.len() {
                let max = rec_times.iter().cloned().fold(0.0, f64::max);
                rows.row("group", &e, "recovery_time", max, "s")?;
            }
        }
    }

    for p in &rec.ports {
        let e = format!("link/{}/{}", p.link, p.direction);
        let s = &p.stats;
        rows.row("link", &e, "tx_packets", s.tx_packets as f64, "packets")?;
        rows.row("link", &e, "tx_bytes", s.tx_bytes as f64, "bytes")?;
        rows.row(
            "link",
            &e,
            "utilization",
            s.busy_ps as f64 / rec.end_time.as_ps() as f64,
            "fraction",
        )?;
        for r in [DropReason::Queue, DropReason::Loss] {
            rows.row(
                "link",
                &e,
                &format!("dropped_{}_packets", r.name()),
                s.dropped[r.index()] as f64,
                "packets",
            )?;
        }
        if s.pauses > 0 {
            rows.row("link", &e, "pfc_pauses", s.pauses as f64, "frames")?;
            rows.row(
                "link",
                &e,
                "pfc_paused_fraction",
                s.paused_ps as f64 / rec.end_time.as_ps() as f64,
                "fraction",
            )?;
        }
        rows.row(
            "link",
            &e,
            "ecn_marked_packets",
            s.ecn_marked as f64,
            "packets",
        )?;
        rows.row(
            "link",
            &e,
            "queue_mean_packets",
            s.queue_area as f64 / rec.end_time.as_ps() as f64,
            "packets",
        )?;
        rows.row(
            "link",
            &e,
            "queue_max_packets",
            s.max_queue_packets as f64,
            "packets",
        )?;
        rows.row(
            "link",
            &e,
            "queue_max_bytes",
            s.max_queue_bytes as f64,
            "bytes",
        )?;
    }
    rows.out.flush()?;
    Ok(())
}

/// Writes `timeseries.csv`: `time_s, entity, metric, value, unit` in series order.
pub fn write_timeseries<W: Write>(w: W, run: &RunColumns, rec: &RunRecords) -> csv::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    let mut header: Vec<&str> = run.iter().map(|(k, _)| k.as_str()).collect();
    header.extend(["time", "entity", "metric", "value", "unit"]);
    out.write_record(&header)?;
    for s in &rec.series {
        for (t, v) in &s.points {
            let mut r: Vec<String> = run.iter().map(|(_, v)| v.clone()).collect();
            r.extend([
                format!("{}", t.as_secs_f64()),
                s.entity.clone(),
                s.metric.to_string(),
                format!("{v}"),
                s.unit.to_string(),
            ]);
            out.write_record(&r)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Writes `events.csv`: `time, kind, detail` for each fault and protocol event (crashes,
/// partitions, link changes, leader elections, state transfers), in time order.
pub fn write_events<W: Write>(w: W, run: &RunColumns, rec: &RunRecords) -> csv::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    let mut header: Vec<&str> = run.iter().map(|(k, _)| k.as_str()).collect();
    header.extend(["time", "kind", "detail"]);
    out.write_record(&header)?;
    for (t, kind, detail) in &rec.log {
        let mut r: Vec<String> = run.iter().map(|(_, v)| v.clone()).collect();
        r.extend([
            format!("{}", t.as_secs_f64()),
            kind.to_string(),
            detail.clone(),
        ]);
        out.write_record(&r)?;
    }
    out.flush()?;
    Ok(())
}
