//! `[[plot]]` entries of an experiment: charts over a study's runs.
//!
//! - `line`: x = a swept parameter, one line per value of `series` (another swept parameter),
//!   y = the mean of `metric` over repetitions with its 95% confidence interval as error bars.
//! - `bar`: the same data as grouped bars, for categorical parameters.
//! - `cdf`: the distribution of `metric` over all runs, one curve per `series` value.
//! - `timeseries`: a recorded time series (`metric` = `<entity>/<metric>` as in
//!   timeseries.csv, e.g. `flow/cbr-a/throughput`) of the first repetition of each point.
//!
//! `metric` names a row of `results.csv` as `scope/entity/metric`, e.g.
//! `flow/cbr-a/throughput`. `filter` keeps only the points an expression over the swept
//! parameters accepts (the `sweep.filter` language); `overlay` draws closed-form TCP models
//! beside a line plot of a flow's goodput.

use super::plot::{
    write_bar_chart, write_cdf_chart, write_errorbar_chart, write_line_chart, ErrorSeries,
    LineChart, PlotError, Series,
};
use crate::engine::SimDuration;
use crate::results::{open_csv, read_result_rows, Point, PointStat, StudyView};
use crate::units::{Bytes, Rate};
use serde::Deserialize;
use std::path::Path;

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// What kind of chart a `[[plot]]` entry draws.
pub enum PlotKind {
    /// One line per `series` value: the mean of `metric` at each value of `x`.
    Line,
    /// As `Line`, drawn as grouped bars.
    Bar,
    /// The distribution of `metric` over the runs.
    Cdf,
    /// Time series `entity/metric` over simulated time.
    Timeseries,
    /// One point per sweep point: x = the mean of `x_metric`, y = the mean of `metric`.
    Scatter,
    /// The distribution of the values of time series `entity/metric` (e.g. every request's
    /// commit latency), pooled over all runs of each `series` value.
    SeriesCdf,
    /// Counts of `metric` over all runs in `bins` equal bins, one bar group per bin and a
    /// bar per `series` value (e.g. election time over seeds).
    Histogram,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
/// One `[[plot]]` entry of an experiment file.
pub struct PlotSpec {
    /// What kind of chart.
    pub kind: PlotKind,
    /// `scope/entity/metric` (line, bar, cdf) or `entity/metric` (timeseries, series_cdf).
    pub metric: String,
    /// File name under `plots/` (default: `<kind>-<metric>` with `/` as `-`).
    pub name: Option<String>,
    /// Chart title (default `<study name>: <metric>`).
    pub title: Option<String>,
    /// Swept parameter on the x axis (line, bar).
    pub x: Option<String>,
    /// Scatter: the metric on the x axis (`scope/entity/metric`).
    pub x_metric: Option<String>,
    /// Swept parameter that splits the data into series.
    pub series: Option<String>,
    /// Legend name of the `series` parameter (default: its last two key segments).
    pub series_label: Option<String>,
    /// Axis labels (defaults: the parameter or metric with its unit).
    pub x_label: Option<String>,
    /// Y axis label (default: the metric with its unit).
    pub y_label: Option<String>,
    /// Only the points for which this expression over swept parameters holds (the
    /// `sweep.filter` language), e.g. `flows.0.copies == 8`.
    pub filter: Option<String>,
    /// Histogram: number of equal-width bins (default 10).
    pub bins: Option<u32>,
    /// Line plots of a TCP flow's goodput: closed-form models drawn beside each series,
    /// evaluated at every point with that run's measured loss rate, smoothed RTT and RTO.
    pub overlay: Option<Vec<Overlay>>,
}

/// A closed-form TCP throughput model ([`crate::metrics::closed_form`]).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Overlay {
    /// Mathis et al. (see [`crate::metrics::closed_form::mathis_bps`]).
    Mathis,
    /// PFTK, with timeouts (see [`crate::metrics::closed_form::pftk_bps`]).
    Pftk,
}

/// Parses the `plot` value of an experiment file (a list of tables).
pub fn parse_specs(v: toml::Value) -> Result<Vec<PlotSpec>, String> {
    let toml::Value::Array(items) = v else {
        return Err("`plot` must be a list of tables ([[plot]])".into());
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            item.try_into::<PlotSpec>().map_err(|e| {
                format!("plot[{i}]: {e} (kinds: line, bar, cdf, histogram, timeseries, scatter, series_cdf)")
            })
        })
        .collect()
}

impl PlotSpec {
    /// Checks the spec against the study's swept keys.
    pub fn check(&self, swept: &[String]) -> Result<(), String> {
        let what = format!("plot `{}`", self.file_name());
        let parts = self.metric.split('/').count();
        let want = if matches!(self.kind, PlotKind::Timeseries | PlotKind::SeriesCdf) {
            2
        } else {
            3
        };
        // A time series' entity may contain '/' itself (`flow/cbr-a`).
        let shape_ok = if want == 2 { parts >= 2 } else { parts == 3 };
        if !shape_ok || self.metric.split('/').any(str::is_empty) {
            return Err(format!(
                "{what}: `metric` = {:?} must be {}",
                self.metric,
                if want == 3 {
                    "scope/entity/metric, e.g. \"flow/cbr-a/throughput\""
                } else {
                    "entity/metric as in timeseries.csv, e.g. \"flow/cbr-a/throughput\""
                }
            ));
        }
        let known = |k: &Option<String>, role: &str| match k {
            Some(k) if crate::config::filter::swept_prefix(k, swept).is_none() => Err(format!(
                "{what}: `{role}` = {k:?} is not a swept parameter (swept: {})",
                if swept.is_empty() {
                    "none".to_string()
                } else {
                    swept.join(", ")
                }
            )),
            _ => Ok(()),
        };
        if let Some(f) = &self.filter {
            crate::config::filter::parse(f, swept)
                .map_err(|e| format!("{what}: `filter` = {f:?}: {e}"))?;
        }
        if self.kind == PlotKind::Scatter {
            match &self.x_metric {
                Some(m) if m.split('/').count() == 3 && !m.split('/').any(str::is_empty) => {}
                _ => {
                    return Err(format!(
                        "{what}: a scatter plot needs `x_metric` = \"scope/entity/metric\", e.g. \"compress/corpus/compress_throughput\""
                    ))
                }
            }
        } else if self.x_metric.is_some() {
            return Err(format!(
                "{what}: `x_metric` applies to kind = \"scatter\" only"
            ));
        }
        known(&self.x, "x")?;
        known(&self.series, "series")?;
        if matches!(self.kind, PlotKind::Line | PlotKind::Bar) && self.x.is_none() {
            return Err(format!(
                "{what}: a {:?} plot needs `x` (a swept parameter)",
                self.kind
            ));
        }
        if self.overlay.is_some()
            && (self.kind != PlotKind::Line || !self.metric.starts_with("flow/"))
        {
            return Err(format!(
                "{what}: `overlay` applies to line plots of a flow's metric (\"flow/<name>/goodput\")"
            ));
        }
        if let Some(n) = &self.name {
            if n.is_empty()
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(format!(
                    "{what}: `name` must use letters, digits, '-', '_', '.'"
                ));
            }
        }
        Ok(())
    }

    /// Whether the plot names a parameter that exists in the experiment but is not swept in
    /// this run (`--set` fixed it): such a plot is skipped, not an error.
    pub fn names_a_fixed_parameter(&self, base: &toml::Table, swept: &[String]) -> bool {
        let mut keys: Vec<String> = self.x.iter().chain(&self.series).cloned().collect();
        if let Some(f) = &self.filter {
            keys.extend(crate::config::filter::referenced_keys(f).unwrap_or_default());
        }
        let unswept: Vec<&String> = keys
            .iter()
            .filter(|k| crate::config::filter::swept_prefix(k, swept).is_none())
            .collect();
        !unswept.is_empty()
            && unswept
                .iter()
                .all(|k| crate::config::get_path(base, k).is_some())
    }

    /// `(scope, entity, metric)` of a `scope/entity/metric` spec (checked by [`Self::check`]).
    fn metric_parts(&self) -> (&str, &str, &str) {
        let mut parts = self.metric.splitn(3, '/');
        let mut next = || parts.next().unwrap_or("");
        (next(), next(), next())
    }

    /// File stem under `plots/`: `name`, or `<kind>-<metric>` with `/` as `-`.
    pub fn file_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            let kind = match self.kind {
                PlotKind::Line => "line",
                PlotKind::Bar => "bar",
                PlotKind::Cdf => "cdf",
                PlotKind::Timeseries => "timeseries",
                PlotKind::Scatter => "scatter",
                PlotKind::SeriesCdf => "series-cdf",
                PlotKind::Histogram => "histogram",
            };
            format!("{kind}-{}", self.metric.replace('/', "-"))
        })
    }
}

/// A parameter value as a number for an axis: plain numbers, or quantities in base units
/// (bit/s, s, bytes) with the unit's name.
fn axis_number(v: &toml::Value) -> Option<(f64, &'static str)> {
    match v {
        toml::Value::Integer(i) => Some((*i as f64, "")),
        toml::Value::Float(f) => Some((*f, "")),
        toml::Value::String(s) => {
            if let Ok(r) = Rate::parse(s) {
                Some((r.bps() as f64, "bit/s"))
            } else if let Ok(d) = SimDuration::parse(s) {
                Some((d.as_secs_f64(), "s"))
            } else {
                Bytes::parse(s).ok().map(|b| (b.0 as f64, "B"))
            }
        }
        _ => None,
    }
}

/// A readable scale for values of `unit` whose largest magnitude is `max`.
pub fn scale_for(unit: &str, max: f64) -> (f64, String) {
    let prefixed = |factor: f64, prefix: &str| (1.0 / factor, format!("{prefix}{unit}"));
    match unit {
        "bit/s" | "B" | "bytes" | "packets" | "events" if max >= 1e9 => prefixed(1e9, "G"),
        "bit/s" | "B" | "bytes" | "packets" | "events" if max >= 1e6 => prefixed(1e6, "M"),
        "bit/s" | "B" | "bytes" if max >= 1e3 => prefixed(1e3, "k"),
        "s" if max > 0.0 && max < 1e-3 => (1e6, "µs".into()),
        "s" if max > 0.0 && max < 1.0 => (1e3, "ms".into()),
        _ => (1.0, unit.to_string()),
    }
}

fn label(name: &str, unit: &str) -> String {
    if unit.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({unit})")
    }
}

/// A swept parameter's value at `p`, or a part of it (`loss_ab.0.p`).
fn value_of(p: &Point, key: &str) -> Option<toml::Value> {
    crate::config::filter::lookup(&p.assignments, key)
}

/// Draws every `[[plot]]` of the study; returns the files written (relative to the output).
pub fn draw(
    study: &StudyView,
    specs: &[PlotSpec],
    stats: &[PointStat],
    runs_dir: &Path,
    plots_dir: &Path,
) -> Result<Vec<String>, String> {
    let mut written = Vec::new();
    for spec in specs {
        let stem = plots_dir.join(spec.file_name());
        let title = spec
            .title
            .clone()
            .unwrap_or_else(|| format!("{}: {}", study.name, spec.metric));
        match spec.kind {
            PlotKind::Line | PlotKind::Bar => draw_points(study, stats, spec, &stem, &title)?,
            PlotKind::Scatter => draw_scatter(study, stats, spec, &stem, &title)?,
            PlotKind::Cdf => draw_cdf(study, runs_dir, spec, &stem, &title)?,
            PlotKind::Timeseries => draw_timeseries(study, runs_dir, spec, &stem, &title)?,
            PlotKind::SeriesCdf => draw_series_cdf(study, runs_dir, spec, &stem, &title)?,
            PlotKind::Histogram => draw_histogram(study, runs_dir, spec, &stem, &title)?,
        }
        .map_err(|e: PlotError| e.to_string())?;
        written.push(format!("plots/{}.png", spec.file_name()));
        written.push(format!("plots/{}.svg", spec.file_name()));
    }
    Ok(written)
}

type Drawn = Result<Result<(), PlotError>, String>;

/// A short name for a dotted key in legends: its last two named segments
/// (`topology.generate.bottleneck_link.loss.0.p` reads as `loss.p`).
fn short_key(key: &str) -> String {
    let named: Vec<&str> = key
        .split('.')
        .filter(|s| s.parse::<usize>().is_err())
        .collect();
    named[named.len().saturating_sub(2)..].join(".")
}

fn series_label(spec: &PlotSpec, p: &Point) -> String {
    match &spec.series {
        Some(k) => format!(
            "{} = {}",
            spec.series_label.clone().unwrap_or_else(|| short_key(k)),
            value_of(p, k)
                .as_ref()
                .map(Point::display_value)
                .unwrap_or_default()
        ),
        None => spec.metric.clone(),
    }
}

fn draw_scatter(
    study: &StudyView,
    stats: &[PointStat],
    spec: &PlotSpec,
    stem: &Path,
    title: &str,
) -> Drawn {
    let keep = point_filter(study, spec)?;
    let find = |key: &str, point: usize| {
        stats
            .iter()
            .find(|s| s.point == point && format!("{}/{}/{}", s.scope, s.entity, s.metric) == key)
    };
    let x_key = spec.x_metric.clone().unwrap_or_default();
    let mut groups: Vec<ErrorSeries> = Vec::new();
    let (mut x_unit, mut y_unit) = (String::new(), String::new());
    for p in study.points.iter().filter(|p| keep[p.index]) {
        let (Some(x), Some(y)) = (find(&x_key, p.index), find(&spec.metric, p.index)) else {
            continue;
        };
        x_unit = x.unit.clone();
        y_unit = y.unit.clone();
        let l = series_label(spec, p);
        let point = (x.summary.mean, y.summary.mean, y.summary.ci_half);
        match groups.iter_mut().find(|g| g.label == l) {
            Some(g) => g.points.push(point),
            None => groups.push(ErrorSeries {
                label: l,
                points: vec![point],
            }),
        }
    }
    if groups.is_empty() {
        return Err(format!(
            "plot `{}`: no point has both `{}` and `{x_key}` in the results",
            spec.file_name(),
            spec.metric
        ));
    }
    for g in &mut groups {
        g.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let metric_name = |k: &str| k.rsplit('/').next().unwrap_or(k).to_string();
    let x_label = spec
        .x_label
        .clone()
        .unwrap_or_else(|| label(&metric_name(&x_key), &x_unit));
    let y_label = spec
        .y_label
        .clone()
        .unwrap_or_else(|| label(&metric_name(&spec.metric), &y_unit));
    Ok(write_errorbar_chart(
        stem, title, &x_label, &y_label, &groups,
    ))
}

/// Which points `spec.filter` keeps (all without one).
fn point_filter(study: &StudyView, spec: &PlotSpec) -> Result<Vec<bool>, String> {
    let Some(src) = &spec.filter else {
        return Ok(vec![true; study.points.len()]);
    };
    let expr = crate::config::filter::parse(src, &study.keys)?;
    study
        .points
        .iter()
        .map(|p| {
            let lookup = |k: &str| crate::config::filter::lookup(&p.assignments, k);
            crate::config::filter::eval(&expr, &lookup)
        })
        .collect()
}

fn draw_points(
    study: &StudyView,
    stats: &[PointStat],
    spec: &PlotSpec,
    stem: &Path,
    title: &str,
) -> Drawn {
    let (scope, entity, metric) = spec.metric_parts();
    let x_key = spec.x.as_deref().unwrap_or("");
    let keep = point_filter(study, spec)?;
    let rows: Vec<&PointStat> = stats
        .iter()
        .filter(|s| s.scope == scope && s.entity == entity && s.metric == metric)
        .filter(|s| keep[s.point])
        .collect();
    if rows.is_empty() {
        return Err(format!(
            "plot `{}`: no `{}` in the results (see results.csv for the metrics)",
            spec.file_name(),
            spec.metric
        ));
    }
    let unit = rows[0].unit.clone();
    let max = rows
        .iter()
        .map(|r| (r.summary.mean.abs() + r.summary.ci_half.abs()).max(0.0))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let (y_scale, y_unit) = scale_for(&unit, max);
    let y_label = spec
        .y_label
        .clone()
        .unwrap_or_else(|| label(metric, &y_unit));
    // Group rows into series, keeping first-appearance order.
    let mut groups: Vec<(String, Vec<(&Point, &PointStat)>)> = Vec::new();
    for r in rows {
        let p = &study.points[r.point];
        let l = series_label(spec, p);
        match groups.iter_mut().find(|(g, _)| *g == l) {
            Some((_, v)) => v.push((p, r)),
            None => groups.push((l, vec![(p, r)])),
        }
    }
    let ci = |s: &PointStat| {
        if s.summary.ci_half.is_finite() {
            s.summary.ci_half
        } else {
            0.0
        }
    };
    if spec.kind == PlotKind::Bar {
        let mut categories: Vec<String> = Vec::new();
        for (_, members) in &groups {
            for (p, _) in members {
                let c = value_of(p, x_key)
                    .as_ref()
                    .map(Point::display_value)
                    .unwrap_or_default();
                if !categories.contains(&c) {
                    categories.push(c);
                }
            }
        }
        let series: Vec<ErrorSeries> = groups
            .iter()
            .map(|(l, members)| ErrorSeries {
                label: l.clone(),
                points: members
                    .iter()
                    .map(|(p, s)| {
                        let c = value_of(p, x_key)
                            .as_ref()
                            .map(Point::display_value)
                            .unwrap_or_default();
                        let i = categories.iter().position(|x| *x == c).unwrap_or(0);
                        (i as f64, s.summary.mean * y_scale, ci(s) * y_scale)
                    })
                    .collect(),
            })
            .collect();
        let x_label = spec.x_label.clone().unwrap_or_else(|| x_key.to_string());
        return Ok(write_bar_chart(
            stem,
            title,
            &x_label,
            &y_label,
            &categories,
            &series,
        ));
    }
    let mut x_unit = "";
    let mut x_max: f64 = 0.0;
    for (_, members) in &groups {
        for (p, _) in members {
            let Some((x, u)) = value_of(p, x_key).as_ref().and_then(axis_number) else {
                return Err(format!(
                    "plot `{}`: `{x_key}` has non-numeric values; use kind = \"bar\"",
                    spec.file_name()
                ));
            };
            x_unit = u;
            x_max = x_max.max(x.abs());
        }
    }
    let (x_scale, x_unit) = scale_for(x_unit, x_max);
    let series: Vec<ErrorSeries> = groups
        .iter()
        .map(|(l, members)| {
            let mut points: Vec<(f64, f64, f64)> = members
                .iter()
                .filter_map(|(p, s)| {
                    let (x, _) = value_of(p, x_key).as_ref().and_then(axis_number)?;
                    Some((x * x_scale, s.summary.mean * y_scale, ci(s) * y_scale))
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            ErrorSeries {
                label: l.clone(),
                points,
            }
        })
        .collect();
    let mut series = series;
    for model in spec.overlay.iter().flatten() {
        for (l, members) in &groups {
            let mut points: Vec<(f64, f64, f64)> = members
                .iter()
                .filter_map(|(p, _)| {
                    let (x, _) = value_of(p, x_key).as_ref().and_then(axis_number)?;
                    let y = model_at(study, stats, p, entity, *model)?;
                    Some((x * x_scale, y * y_scale, 0.0))
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let name = match model {
                Overlay::Mathis => "Mathis",
                Overlay::Pftk => "PFTK",
            };
            series.push(ErrorSeries {
                label: format!("{name} ({l})"),
                points,
            });
        }
    }
    let x_label = spec
        .x_label
        .clone()
        .unwrap_or_else(|| label(x_key, &x_unit));
    Ok(write_errorbar_chart(
        stem, title, &x_label, &y_label, &series,
    ))
}

/// A closed-form model's bit/s at point `p` for flow `entity`, from the point's mean
/// measured loss rate, smoothed RTT and (PFTK) RTO at timeouts; `None` where one is
/// missing (e.g. no timeout happened). MSS and ACK ratio come from the point's `[tcp]`.
fn model_at(
    study: &StudyView,
    stats: &[PointStat],
    p: &Point,
    entity: &str,
    model: Overlay,
) -> Option<f64> {
    let mean = |m: &str| {
        stats
            .iter()
            .find(|s| {
                s.point == p.index && s.scope == "flow" && s.entity == entity && s.metric == m
            })
            .map(|s| s.summary.mean)
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    let param =
        |k: &str| value_of(p, k).or_else(|| crate::config::get_path(&study.base, k).cloned());
    let mss = param("tcp.mss")
        .and_then(|v| v.as_integer())
        .map_or(1448.0, |m| m as f64);
    let delayed = param("tcp.delayed_ack").and_then(|v| v.as_bool()) != Some(false);
    let b = if delayed {
        param("tcp.ack_every")
            .and_then(|v| v.as_integer())
            .map_or(2.0, |b| b as f64)
    } else {
        1.0
    };
    let (loss, rtt) = (mean("loss_rate")?, mean("srtt")?);
    Some(match model {
        Overlay::Mathis => crate::metrics::closed_form::mathis_bps(mss, rtt, loss, b),
        Overlay::Pftk => {
            let t0 = mean("rto_at_timeout_mean")?;
            crate::metrics::closed_form::pftk_bps(mss, rtt, loss, b, t0)
        }
    })
}

fn draw_cdf(
    study: &StudyView,
    runs_dir: &Path,
    spec: &PlotSpec,
    stem: &Path,
    title: &str,
) -> Drawn {
    let (samples, unit) = run_samples(study, runs_dir, spec)?;
    Ok(scaled_cdf(
        samples,
        &unit,
        spec.metric_parts().2,
        spec,
        stem,
        title,
    ))
}

/// A bin edge with three significant digits.
fn short(x: f64) -> String {
    match x.abs() {
        a if a >= 100.0 => format!("{x:.0}"),
        a if a >= 10.0 => format!("{x:.1}"),
        _ => format!("{x:.2}"),
    }
}

/// Equal-width bins over all values; bars grouped by bin, one per series.
fn draw_histogram(
    study: &StudyView,
    runs_dir: &Path,
    spec: &PlotSpec,
    stem: &Path,
    title: &str,
) -> Drawn {
    let (samples, unit) = run_samples(study, runs_dir, spec)?;
    let all = || samples.iter().flat_map(|(_, v)| v.iter().copied());
    let (lo, hi) = (
        all().fold(f64::INFINITY, f64::min),
        all().fold(f64::NEG_INFINITY, f64::max),
    );
    let bins = spec.bins.unwrap_or(10).max(1) as usize;
    let width = if hi > lo {
        (hi - lo) / bins as f64
    } else {
        1.0
    };
    let (scale, u) = scale_for(&unit, hi.abs().max(lo.abs()));
    let categories: Vec<String> = (0..bins)
        .map(|b| {
            let a = lo + width * b as f64;
            format!("{}–{}", short(a * scale), short((a + width) * scale))
        })
        .collect();
    let series: Vec<ErrorSeries> = samples
        .iter()
        .map(|(label, values)| {
            let mut counts = vec![0u64; bins];
            for v in values {
                let b = (((v - lo) / width) as usize).min(bins - 1);
                counts[b] += 1;
            }
            ErrorSeries {
                label: label.clone(),
                points: counts
                    .iter()
                    .enumerate()
                    .map(|(b, &c)| (b as f64, c as f64, 0.0))
                    .collect(),
            }
        })
        .collect();
    let metric = spec.metric_parts().2;
    let x_label = spec.x_label.clone().unwrap_or_else(|| label(metric, &u));
    let y_label = spec.y_label.clone().unwrap_or_else(|| "runs".into());
    Ok(write_bar_chart(
        stem,
        title,
        &x_label,
        &y_label,
        &categories,
        &series,
    ))
}

/// Values grouped by series label.
type Samples = Vec<(String, Vec<f64>)>;

/// The values of `metric` (scope/entity/metric) in every run's results, grouped by series
/// label, and their unit.
fn run_samples(
    study: &StudyView,
    runs_dir: &Path,
    spec: &PlotSpec,
) -> Result<(Samples, String), String> {
    let (scope, entity, metric) = spec.metric_parts();
    let mut samples: Vec<(String, Vec<f64>)> = Vec::new();
    let mut unit = String::new();
    let keep = point_filter(study, spec)?;
    for r in study.runs.iter().filter(|r| keep[r.point]) {
        let rows = read_result_rows(&runs_dir.join(&r.id).join("results.csv"))?;
        let l = series_label(spec, &study.points[r.point]);
        for row in rows {
            if row.scope == scope && row.entity == entity && row.metric == metric {
                unit = row.unit.clone();
                match samples.iter_mut().find(|(g, _)| *g == l) {
                    Some((_, v)) => v.push(row.value),
                    None => samples.push((l.clone(), vec![row.value])),
                }
            }
        }
    }
    if samples.is_empty() {
        return Err(format!(
            "plot `{}`: no `{}` in the results",
            spec.file_name(),
            spec.metric
        ));
    }
    Ok((samples, unit))
}

/// Draws the CDFs of `samples` (in `unit`) with the axis in a readable multiple of it.
fn scaled_cdf(
    mut samples: Vec<(String, Vec<f64>)>,
    unit: &str,
    metric: &str,
    spec: &PlotSpec,
    stem: &Path,
    title: &str,
) -> Result<(), PlotError> {
    let max = samples
        .iter()
        .flat_map(|(_, v)| v.iter())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let (scale, u) = scale_for(unit, max);
    for (_, v) in &mut samples {
        v.iter_mut().for_each(|x| *x *= scale);
    }
    let x_label = spec.x_label.clone().unwrap_or_else(|| label(metric, &u));
    write_cdf_chart(stem, title, &x_label, &samples)
}

/// The values of one time series of each run, pooled by series label.
fn draw_series_cdf(
    study: &StudyView,
    runs_dir: &Path,
    spec: &PlotSpec,
    stem: &Path,
    title: &str,
) -> Drawn {
    let (entity, metric) = spec.metric.rsplit_once('/').unwrap_or(("", ""));
    let mut samples: Vec<(String, Vec<f64>)> = Vec::new();
    let mut unit = String::new();
    let keep = point_filter(study, spec)?;
    for r in study.runs.iter().filter(|r| keep[r.point]) {
        let path = runs_dir.join(&r.id).join("timeseries.csv");
        let (mut rd, cols) = open_csv(&path, &["time", "entity", "metric", "value", "unit"])?;
        let [_, e, m, v, u] = cols[..] else {
            unreachable!("open_csv returns one index per name")
        };
        let l = series_label(spec, &study.points[r.point]);
        let at = match samples.iter().position(|(g, _)| *g == l) {
            Some(i) => i,
            None => {
                samples.push((l, Vec::new()));
                samples.len() - 1
            }
        };
        for rec in rd.records() {
            let rec = rec.map_err(|e| e.to_string())?;
            if &rec[e] == entity && &rec[m] == metric {
                unit = rec[u].to_string();
                if let Ok(x) = rec[v].parse::<f64>() {
                    samples[at].1.push(x);
                }
            }
        }
    }
    samples.retain(|(_, v)| !v.is_empty());
    if samples.is_empty() {
        return Err(format!(
            "plot `{}`: no time series `{}` in the runs",
            spec.file_name(),
            spec.metric
        ));
    }
    Ok(scaled_cdf(samples, &unit, metric, spec, stem, title))
}

fn draw_timeseries(
    study: &StudyView,
    runs_dir: &Path,
    spec: &PlotSpec,
    stem: &Path,
    title: &str,
) -> Drawn {
    // The entity of a time series may itself contain '/' (`flow/cbr-a`): split at the last.
    let (entity, metric) = spec.metric.rsplit_once('/').unwrap_or(("", ""));
    let mut series: Vec<Series> = Vec::new();
    let mut unit = String::new();
    let keep = point_filter(study, spec)?;
    for r in study.runs.iter().filter(|r| r.rep == 0 && keep[r.point]) {
        let path = runs_dir.join(&r.id).join("timeseries.csv");
        let (mut rd, cols) = open_csv(&path, &["time", "entity", "metric", "value", "unit"])?;
        let [t, e, m, v, u] = cols[..] else {
            unreachable!("open_csv returns one index per name")
        };
        let mut points = Vec::new();
        for rec in rd.records() {
            let rec = rec.map_err(|e| e.to_string())?;
            if &rec[e] == entity && &rec[m] == metric {
                unit = rec[u].to_string();
                points.push((
                    rec[t].parse().unwrap_or(f64::NAN),
                    rec[v].parse().unwrap_or(f64::NAN),
                ));
            }
        }
        let p = &study.points[r.point];
        let label = if study.keys.is_empty() {
            spec.metric.clone()
        } else {
            match &spec.series {
                Some(_) => series_label(spec, p),
                None => p
                    .assignments
                    .iter()
                    .map(|(k, v)| format!("{k}={}", Point::display_value(v)))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        };
        series.push(Series { label, points });
    }
    if series.iter().all(|s| s.points.is_empty()) {
        return Err(format!(
            "plot `{}`: no time series `{}` (record it: [record] flows/links)",
            spec.file_name(),
            spec.metric
        ));
    }
    let t_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(0.0, f64::max);
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1.abs()))
        .fold(0.0, f64::max);
    let (ts, tu) = scale_for("s", t_max);
    let (ys, yu) = scale_for(&unit, y_max);
    for s in &mut series {
        s.points.iter_mut().for_each(|p| *p = (p.0 * ts, p.1 * ys));
    }
    let x_label = spec.x_label.clone().unwrap_or_else(|| label("time", &tu));
    let y_label = spec.y_label.clone().unwrap_or_else(|| label(metric, &yu));
    Ok(write_line_chart(
        stem,
        &LineChart {
            title,
            x_label: &x_label,
            y_label: &y_label,
            series: &series,
        },
    ))
}
