//! Statistics per point and metric over a study's repetitions.

use super::rows::read_result_rows;
use super::study::RunRef;
use crate::metrics::summary::Summary;
use std::collections::BTreeMap;
use std::path::Path;

/// Confidence level of the intervals in `summary.csv`, on plots and in reports.
pub const CONFIDENCE: f64 = 0.95;

/// Statistics of one metric at one point.
#[derive(Clone, Debug)]
pub struct PointStat {
    /// Index of the point in its study.
    pub point: usize,
    /// Scope, entity and metric, as in `results.csv` ([`super::ResultRow`]).
    pub scope: String,
    /// See `scope`.
    pub entity: String,
    /// See `scope`.
    pub metric: String,
    /// The unit of every value summarized, as in `results.csv`.
    pub unit: String,
    /// Mean, spread and interval over the point's repetitions, in `unit`.
    pub summary: Summary,
}

/// The statistic `scope/entity/metric` (`key`) at `point`.
pub fn find_stat<'a>(stats: &'a [PointStat], point: usize, key: &str) -> Option<&'a PointStat> {
    stats
        .iter()
        .find(|s| s.point == point && format!("{}/{}/{}", s.scope, s.entity, s.metric) == key)
}

/// Computes summary statistics from the run folders under `runs_dir` (points in order;
/// metrics in the order of the point's first run).
pub fn summarize(runs: &[RunRef], runs_dir: &Path) -> Result<Vec<PointStat>, String> {
    let mut out = Vec::new();
    let mut by_point: BTreeMap<usize, Vec<&RunRef>> = BTreeMap::new();
    for r in runs {
        by_point.entry(r.point).or_default().push(r);
    }
    for (point, runs) in by_point {
        let mut order: Vec<(String, String, String, String)> = Vec::new();
        let mut values: BTreeMap<(String, String, String, String), Vec<f64>> = BTreeMap::new();
        for r in runs {
            for row in read_result_rows(&runs_dir.join(&r.id).join("results.csv"))? {
                let key = (row.scope, row.entity, row.metric, row.unit);
                if !values.contains_key(&key) {
                    order.push(key.clone());
                }
                values.entry(key).or_default().push(row.value);
            }
        }
        for key in order {
            let xs = &values[&key];
            out.push(PointStat {
                point,
                scope: key.0,
                entity: key.1,
                metric: key.2,
                unit: key.3,
                summary: Summary::of(xs, CONFIDENCE),
            });
        }
    }
    Ok(out)
}
