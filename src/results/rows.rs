//! Reading the CSVs a run leaves in its folder (`results.csv`, `timeseries.csv`).

use std::fs;
use std::path::Path;

/// One row of a run's results.csv, as read back.
#[derive(Clone, Debug)]
pub struct ResultRow {
    /// What the metric describes: `flow`, `link`, `net`, `consensus`, ...
    pub scope: String,
    /// Which one of the scope (a flow's name, `all`).
    pub entity: String,
    /// The metric's name (`goodput`).
    pub metric: String,
    /// The unit of `value`, as written in the file (`bit/s`, `s`, ...).
    pub unit: String,
    /// The value, in `unit`.
    pub value: f64,
}

/// Opens a CSV and finds the named columns (an error names the file and the column).
pub fn open_csv(
    path: &Path,
    names: &[&str],
) -> Result<(csv::Reader<fs::File>, Vec<usize>), String> {
    let mut rd = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = rd
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    let cols = names
        .iter()
        .map(|name| {
            headers
                .iter()
                .position(|h| h == *name)
                .ok_or_else(|| format!("{}: no `{name}` column", path.display()))
        })
        .collect::<Result<Vec<usize>, String>>()?;
    Ok((rd, cols))
}

/// Reads the tail columns of a results.csv.
pub fn read_result_rows(path: &Path) -> Result<Vec<ResultRow>, String> {
    let (mut rd, cols) = open_csv(path, &["scope", "entity", "metric", "value", "unit"])?;
    let [s, e, m, v, u] = cols[..] else {
        unreachable!("open_csv returns one index per name")
    };
    let mut rows = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
        rows.push(ResultRow {
            scope: rec[s].to_string(),
            entity: rec[e].to_string(),
            metric: rec[m].to_string(),
            unit: rec[u].to_string(),
            value: rec[v]
                .parse()
                .map_err(|_| format!("{}: bad value `{}`", path.display(), &rec[v]))?,
        });
    }
    Ok(rows)
}
