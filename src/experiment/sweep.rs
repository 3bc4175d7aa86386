//! Parameter studies: lists and ranges in an experiment file expand to a set of runs.
//!
//! A scalar parameter written as a list (`rate = ["1Gbps", "10Gbps"]`) or a range
//! (`loss = { from = 0.0, to = 0.05, step = 0.01 }`) is a sweep axis; the points are the
//! cartesian product of the axes in file order, the last axis varying fastest (OMNeT++'s
//! convention). The optional `[sweep]` section adds `repetitions`, `zip` groups that vary
//! together (OMNeT++'s `!` parallel iteration), a `filter` and explicit `params` for keys
//! whose natural value is already a list. Every run's seed is a hash of (base seed, the
//! point's parameter values, repetition): independent of thread, shard and of which other
//! points the sweep has, so any run can be reproduced alone.

use crate::config::filter;
use crate::engine::rng::stable_hash;
pub use crate::results::Point;

/// Keys whose value is a list by schema; a list there is not a sweep (use `sweep.params`).
const LIST_KEYS: [&str; 5] = ["links", "drop", "regions", "inter_delay", "nodes"];

/// Keys that cannot be swept.
const FIXED_KEYS: [&str; 2] = ["name", "seed"];

/// Largest number of runs one experiment may expand to (a guard against typos).
pub const MAX_RUNS: usize = 1_000_000;

/// One axis: one or more keys (more when zipped) and their values, position by position.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Config keys the axis sets, one or more when zipped.
    pub keys: Vec<String>,
    /// `values[i][k]` is the value of `keys[k]` at position `i`.
    pub values: Vec<Vec<toml::Value>>,
}

/// The expanded study: base table (axes removed) plus the points and repetitions.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The file's table with the axes removed.
    pub base: toml::Table,
    /// The axes, in file order.
    pub axes: Vec<Axis>,
    /// Every point of the sweep.
    pub points: Vec<Point>,
    /// Repetitions per point.
    pub repetitions: u32,
    /// False for a plain experiment (no axes, one repetition): its one run keeps the file's
    /// seed unchanged.
    pub is_study: bool,
}

impl Sweep {
    /// Swept keys in column order.
    pub fn keys(&self) -> Vec<String> {
        self.axes.iter().flat_map(|a| a.keys.clone()).collect()
    }

    /// Number of runs (points × repetitions).
    pub fn run_count(&self) -> usize {
        self.points.len() * self.repetitions as usize
    }

    /// The master seed of one run.
    pub fn run_seed(&self, base_seed: u64, point: &Point, rep: u32) -> u64 {
        if !self.is_study {
            return base_seed;
        }
        // 63 bits: the seed is written back as a TOML integer, which is signed.
        stable_hash(
            base_seed,
            format!("{}#rep={rep}", point.canonical()).as_bytes(),
        ) >> 1
    }
}

/// Splits sweep axes and the `[sweep]` section out of a parsed experiment file.
pub fn expand(mut table: toml::Table) -> Result<Sweep, String> {
    let section = match table.remove("sweep") {
        None => toml::Table::new(),
        Some(toml::Value::Table(t)) => t,
        Some(_) => return Err("`sweep` must be a table ([sweep])".into()),
    };
    let mut axes: Vec<Axis> = Vec::new();
    collect_inline(&mut table, "", &mut axes)?;

    let mut repetitions = 1u32;
    let mut zips: Vec<Vec<String>> = Vec::new();
    let mut filter_src: Option<String> = None;
    for (k, v) in section {
        match (k.as_str(), v) {
            ("repetitions", toml::Value::Integer(n)) if (1..=100_000).contains(&n) => {
                repetitions = n as u32
            }
            ("repetitions", v) => {
                return Err(format!(
                    "`sweep.repetitions` = {v}: must be an integer from 1 to 100000"
                ))
            }
            ("params", toml::Value::Table(t)) => {
                for (key, v) in t {
                    // Explicit axes take any values, lists included (`record.links`).
                    let values = match &v {
                        toml::Value::Array(a) if !a.is_empty() => Some(a.clone()),
                        _ => axis_values(&format!("sweep.params.\"{key}\""), &v)?,
                    }
                    .ok_or_else(|| {
                        format!("`sweep.params.\"{key}\"` must be a list of values or a range {{ from, to, step }}")
                    })?;
                    if axes.iter().any(|a| a.keys[0] == key) {
                        return Err(format!("`{key}` is swept twice (inline and in sweep.params)"));
                    }
                    check_sweepable(&key)?;
                    if crate::config::get_path(&table, &key).is_none() && !key.contains('.') {
                        // A top-level key absent from the file is almost surely a typo; nested
                        // ones may be optional fields, which the schema check will judge.
                        return Err(format!("`sweep.params.\"{key}\"`: the experiment has no `{key}`"));
                    }
                    axes.push(Axis {
                        keys: vec![key],
                        values: values.into_iter().map(|v| vec![v]).collect(),
                    });
                }
            }
            ("zip", toml::Value::Array(groups)) => {
                for g in groups {
                    let keys: Option<Vec<String>> = g.as_array().and_then(|a| {
                        a.iter().map(|k| k.as_str().map(str::to_string)).collect()
                    });
                    match keys {
                        Some(k) if k.len() >= 2 => zips.push(k),
                        _ => return Err("`sweep.zip` must be a list of key lists, each with at least two swept keys, e.g. zip = [[\"flows.0.rate\", \"flows.1.rate\"]]".into()),
                    }
                }
            }
            ("filter", toml::Value::String(s)) => filter_src = Some(s),
            (other, _) => {
                return Err(format!(
                    "unknown or mistyped key `sweep.{other}`; allowed: repetitions (integer), params (table), zip (list of key lists), filter (string)"
                ))
            }
        }
    }

    for group in zips {
        let mut members = Vec::new();
        for key in &group {
            let pos = axes
                .iter()
                .position(|a| a.keys.len() == 1 && a.keys[0] == *key);
            members.push(pos.ok_or_else(|| {
                format!("`sweep.zip`: `{key}` is not a swept parameter (or is already zipped)")
            })?);
        }
        let len = axes[members[0]].values.len();
        for (key, &m) in group.iter().zip(&members) {
            if axes[m].values.len() != len {
                return Err(format!(
                    "`sweep.zip`: `{}` has {len} values but `{key}` has {}; zipped parameters need equal lengths",
                    group[0],
                    axes[m].values.len()
                ));
            }
        }
        let first = *members.iter().min().unwrap_or(&0);
        let merged = Axis {
            keys: members.iter().map(|&m| axes[m].keys[0].clone()).collect(),
            values: (0..len)
                .map(|i| {
                    members
                        .iter()
                        .map(|&m| axes[m].values[i][0].clone())
                        .collect()
                })
                .collect(),
        };
        axes[first] = merged;
        let mut drop: Vec<usize> = members.into_iter().filter(|&m| m != first).collect();
        drop.sort_unstable();
        for m in drop.into_iter().rev() {
            axes.remove(m);
        }
    }

    let keys: Vec<String> = axes.iter().flat_map(|a| a.keys.clone()).collect();
    let filter = filter_src
        .map(|s| filter::parse(&s, &keys).map_err(|e| format!("`sweep.filter` = {s:?}: {e}")))
        .transpose()?;

    let total: usize = axes
        .iter()
        .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()))
        .filter(|&n| n.saturating_mul(repetitions as usize) <= MAX_RUNS)
        .ok_or_else(|| format!("the sweep expands to more than {MAX_RUNS} runs"))?;
    let mut points = Vec::new();
    for flat in 0..total {
        let mut rest = flat;
        let mut picks = vec![0; axes.len()];
        for (i, a) in axes.iter().enumerate().rev() {
            picks[i] = rest % a.values.len();
            rest /= a.values.len();
        }
        let assignments: Vec<(String, toml::Value)> = axes
            .iter()
            .zip(&picks)
            .flat_map(|(a, &p)| a.keys.iter().cloned().zip(a.values[p].iter().cloned()))
            .collect();
        if let Some(f) = &filter {
            let lookup = |k: &str| filter::lookup(&assignments, k);
            if !filter::eval(f, &lookup).map_err(|e| format!("`sweep.filter`: {e}"))? {
                continue;
            }
        }
        points.push(Point {
            index: points.len(),
            assignments,
        });
    }
    if points.is_empty() {
        return Err("`sweep.filter` removes every point; nothing to run".into());
    }
    let is_study = !axes.is_empty() || repetitions > 1;
    Ok(Sweep {
        base: table,
        axes,
        points,
        repetitions,
        is_study,
    })
}

fn check_sweepable(key: &str) -> Result<(), String> {
    if FIXED_KEYS.contains(&key) {
        return Err(format!(
            "`{key}` cannot be swept{}",
            if key == "seed" {
                " (use sweep.repetitions: each repetition gets its own seed)"
            } else {
                ""
            }
        ));
    }
    Ok(())
}

/// Finds inline axes, replacing each with its first value so the base stays a valid file.
fn collect_inline(
    table: &mut toml::Table,
    prefix: &str,
    axes: &mut Vec<Axis>,
) -> Result<(), String> {
    for (k, v) in table.iter_mut() {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let axis = if LIST_KEYS.contains(&k.as_str()) {
            None
        } else {
            axis_values(&path, v)?
        };
        if let Some(values) = axis {
            check_sweepable(&path)?;
            *v = values[0].clone();
            axes.push(Axis {
                keys: vec![path],
                values: values.into_iter().map(|v| vec![v]).collect(),
            });
            continue;
        }
        match v {
            toml::Value::Table(t) => collect_inline(t, &path, axes)?,
            toml::Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    if let toml::Value::Table(t) = item {
                        collect_inline(t, &format!("{path}.{i}"), axes)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn is_scalar(v: &toml::Value) -> bool {
    matches!(
        v,
        toml::Value::String(_)
            | toml::Value::Integer(_)
            | toml::Value::Float(_)
            | toml::Value::Boolean(_)
    )
}

/// The values of an axis if `v` is a list of scalars or a `{ from, to, step }` range.
fn axis_values(path: &str, v: &toml::Value) -> Result<Option<Vec<toml::Value>>, String> {
    match v {
        toml::Value::Array(a) if !a.is_empty() && a.iter().all(is_scalar) => Ok(Some(a.clone())),
        toml::Value::Array(a) if a.is_empty() => Err(format!(
            "`{path}` is an empty list; a sweep needs at least one value"
        )),
        toml::Value::Table(t)
            if t.contains_key("from") || t.contains_key("to") || t.contains_key("step") =>
        {
            range_values(path, t).map(Some)
        }
        _ => Ok(None),
    }
}

fn range_values(path: &str, t: &toml::Table) -> Result<Vec<toml::Value>, String> {
    let allowed = ["from", "to", "step"];
    if let Some(k) = t.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!(
            "`{path}.{k}`: a range has only `from`, `to` and `step`"
        ));
    }
    let num = |k: &str| -> Result<&toml::Value, String> {
        t.get(k)
            .filter(|v| v.is_integer() || v.is_float())
            .ok_or_else(|| format!("`{path}`: a range needs a number `{k}` (ranges: {{ from = 0.0, to = 0.05, step = 0.01 }})"))
    };
    let (from, to, step) = (num("from")?, num("to")?, num("step")?);
    if let (Some(a), Some(b), Some(s)) = (from.as_integer(), to.as_integer(), step.as_integer()) {
        if s <= 0 || b < a {
            return Err(format!("`{path}`: need step > 0 and to >= from"));
        }
        let n = ((b - a) / s + 1) as usize;
        if n > MAX_RUNS {
            return Err(format!("`{path}`: {n} values is more than {MAX_RUNS}"));
        }
        return Ok((0..n as i64)
            .map(|i| toml::Value::Integer(a + i * s))
            .collect());
    }
    let f = |v: &toml::Value| {
        v.as_float()
            .or(v.as_integer().map(|i| i as f64))
            .unwrap_or(f64::NAN)
    };
    let (a, b, s) = (f(from), f(to), f(step));
    let well_formed = a.is_finite() && b.is_finite() && s.is_finite() && s > 0.0 && b >= a;
    if !well_formed {
        return Err(format!("`{path}`: need step > 0 and to >= from"));
    }
    // Count with a relative tolerance so `0.0 to 0.05 step 0.01` includes 0.05.
    let n = ((b - a) / s * (1.0 + 1e-9) + 1e-9).floor() as usize + 1;
    if n > MAX_RUNS {
        return Err(format!("`{path}`: {n} values is more than {MAX_RUNS}"));
    }
    // Round to 12 significant digits so 0.1 + 2 * 0.1 prints as 0.3, not 0.30000000000000004.
    let tidy = |x: f64| -> f64 {
        if x == 0.0 {
            return 0.0;
        }
        format!("{x:.11e}").parse().unwrap_or(x)
    };
    Ok((0..n)
        .map(|i| toml::Value::Float(tidy(a + i as f64 * s)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(text: &str) -> Result<Sweep, String> {
        expand(toml::from_str(text).unwrap())
    }

    fn grid(s: &Sweep) -> Vec<String> {
        s.points.iter().map(|p| p.canonical()).collect()
    }

    #[test]
    fn cartesian_product_in_file_order_last_fastest() {
        let s = sweep(
            r#"name = "x"
            a = [1, 2]
            [t]
            b = ["p", "q", "r"]
            [record]
            links = ["l1", "l2"]"#,
        )
        .unwrap();
        assert_eq!(
            grid(&s),
            [
                "a=1;t.b=\"p\"",
                "a=1;t.b=\"q\"",
                "a=1;t.b=\"r\"",
                "a=2;t.b=\"p\"",
                "a=2;t.b=\"q\"",
                "a=2;t.b=\"r\""
            ]
        );
        // A schema list is not an axis; the base keeps each axis's first value.
        assert_eq!(
            s.base["record"]["links"].as_array().map(|a| a.len()),
            Some(2)
        );
        assert_eq!(s.base["a"].as_integer(), Some(1));
        assert_eq!(s.run_count(), 6);
        assert!(s.is_study);
    }

    #[test]
    fn ranges_are_exact_and_inclusive() {
        let s = sweep(
            "loss = { from = 0.0, to = 0.05, step = 0.01 }\nn = { from = 2, to = 10, step = 4 }",
        )
        .unwrap();
        let loss: Vec<f64> = s.axes[0]
            .values
            .iter()
            .map(|v| v[0].as_float().unwrap())
            .collect();
        assert_eq!(loss, [0.0, 0.01, 0.02, 0.03, 0.04, 0.05]);
        let n: Vec<i64> = s.axes[1]
            .values
            .iter()
            .map(|v| v[0].as_integer().unwrap())
            .collect();
        assert_eq!(n, [2, 6, 10]);
        assert_eq!(s.points.len(), 18);
        assert!(sweep("x = { from = 1, to = 0, step = 1 }").is_err());
        assert!(sweep("x = { from = 0, to = 1 }").is_err());
        assert!(sweep("x = { from = 0, to = 1, step = 1, by = 2 }").is_err());
    }

    #[test]
    fn zip_varies_together_and_filter_drops_points() {
        let s = sweep(
            r#"a = [1, 2, 3]
            c = ["x", "y"]
            b = [10, 20, 30]
            [sweep]
            zip = [["a", "b"]]
            filter = "a != 2 && c == \"y\""
            repetitions = 3"#,
        )
        .unwrap();
        assert_eq!(s.axes.len(), 2);
        assert_eq!(grid(&s), ["a=1;b=10;c=\"y\"", "a=3;b=30;c=\"y\""]);
        assert_eq!(s.points[1].index, 1);
        assert_eq!(s.run_count(), 6);
        assert!(
            sweep("a = [1, 2]\nb = [1]\n[sweep]\nzip = [[\"a\", \"b\"]]")
                .unwrap_err()
                .contains("equal lengths")
        );
        assert!(sweep("a = [1, 2]\n[sweep]\nzip = [[\"a\", \"z\"]]").is_err());
        assert!(sweep("a = [1, 2]\n[sweep]\nfilter = \"a > 5\"")
            .unwrap_err()
            .contains("every point"));
    }

    #[test]
    fn filter_reaches_inside_swept_tables_and_lists() {
        // `loss` is swept as whole lists of tables; the filter names a field of one.
        let s = sweep(
            r#"loss = "none"
            [sweep]
            params = { loss = [[{ kind = "b", p = 0.01 }], [{ kind = "b", p = 0.05 }], [{ kind = "g", p = 0.01 }]] }
            filter = 'loss.0.kind == "b" && loss.0.p == 0.05'"#,
        )
        .unwrap();
        assert_eq!(s.points.len(), 1);
        assert!(
            s.points[0].canonical().contains("p = 0.05"),
            "{}",
            grid(&s)[0]
        );
        // A key that only starts like a swept one is still unknown.
        assert!(sweep("loss = [1, 2]\n[sweep]\nfilter = \"losses == 1\"").is_err());
    }

    #[test]
    fn explicit_params_sweep_list_valued_keys() {
        let s = sweep(
            r#"[record]
            links = ["l1"]
            [sweep.params]
            "record.links" = [["l1"], ["l1", "l2"]]"#,
        )
        .unwrap();
        assert_eq!(s.points.len(), 2);
        assert_eq!(
            s.points[1].assignments[0].1.as_array().map(|a| a.len()),
            Some(2)
        );
        let s = sweep("duration = \"1s\"\n[sweep.params]\nduration = [\"1s\", \"2s\"]").unwrap();
        assert_eq!(s.points.len(), 2);
    }

    #[test]
    fn seeds_depend_on_point_values_and_rep_only() {
        let s1 = sweep("a = [1, 2, 3]\n[sweep]\nrepetitions = 2").unwrap();
        let s2 = sweep("a = [3, 1]\n[sweep]\nrepetitions = 2").unwrap();
        // Same values, different positions in the sweep: same seeds.
        assert_eq!(
            s1.run_seed(5, &s1.points[0], 1),
            s2.run_seed(5, &s2.points[1], 1)
        );
        assert_eq!(
            s1.run_seed(5, &s1.points[2], 0),
            s2.run_seed(5, &s2.points[0], 0)
        );
        assert_ne!(
            s1.run_seed(5, &s1.points[0], 0),
            s1.run_seed(5, &s1.points[0], 1)
        );
        assert_ne!(
            s1.run_seed(5, &s1.points[0], 0),
            s1.run_seed(6, &s1.points[0], 0)
        );
        // A plain experiment keeps its seed.
        let plain = sweep("a = 1").unwrap();
        assert!(!plain.is_study);
        assert_eq!(plain.run_seed(5, &plain.points[0], 0), 5);
    }

    #[test]
    fn bad_sweeps_are_named() {
        assert!(sweep("seed = [1, 2]").unwrap_err().contains("repetitions"));
        assert!(sweep("a = []").unwrap_err().contains("empty list"));
        assert!(sweep("[sweep]\nrepetitions = 0").is_err());
        assert!(sweep("[sweep]\nrepeat = 2")
            .unwrap_err()
            .contains("allowed"));
        assert!(sweep("[sweep.params]\nnope = [1, 2]")
            .unwrap_err()
            .contains("no `nope`"));
    }
}
