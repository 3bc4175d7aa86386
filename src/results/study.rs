//! A study as plain data: its points with their parameter values, the file's other values,
//! and its runs; and a suite's members with their statistics.

use super::stats::PointStat;
use std::path::PathBuf;

/// One combination of swept values.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Position in the study's point list.
    pub index: usize,
    /// `(dotted key, value)` in axis order.
    pub assignments: Vec<(String, toml::Value)>,
}

impl Point {
    /// Canonical `key=value;...` text: the point's identity for seeds and resume checks.
    pub fn canonical(&self) -> String {
        self.assignments
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// The value shown for a key in CSV columns (strings without quotes).
    pub fn display_value(v: &toml::Value) -> String {
        match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// One run of a study: where its folder is and which point and repetition it is.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRef {
    /// Folder name under `runs/` (`p<point>-r<rep>`).
    pub id: String,
    /// Index of its point in the study.
    pub point: usize,
    /// Repetition number, from 0.
    pub rep: u32,
}

/// What a study is, without what runs it.
#[derive(Clone, Debug)]
pub struct StudyView {
    /// The experiment's `name`.
    pub name: String,
    /// The experiment file, as given.
    pub path: PathBuf,
    /// Repetitions of every point.
    pub repetitions: u32,
    /// Swept keys in column order.
    pub keys: Vec<String>,
    /// Every point, in order (`points[i].index == i`).
    pub points: Vec<Point>,
    /// The file's values after overrides, sweep axes removed.
    pub base: toml::Table,
    /// Points in order, repetitions inner.
    pub runs: Vec<RunRef>,
}

impl StudyView {
    /// A parameter at a point: its swept value, else the file's value.
    pub fn value(&self, point: usize, key: &str) -> Option<&toml::Value> {
        self.points[point]
            .assignments
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .or_else(|| crate::config::get_path(&self.base, key))
    }
}

/// One member of a suite: its id (folder name and key in the report), its study and the
/// statistics of its runs.
#[derive(Clone, Debug)]
pub struct MemberResults {
    /// The member's id in the suite file.
    pub id: String,
    /// Its study.
    pub study: StudyView,
    /// Statistics of every point and metric.
    pub stats: Vec<PointStat>,
}

/// A suite's results, as its report reads them.
#[derive(Clone, Debug)]
pub struct SuiteResults {
    /// The suite's `name`.
    pub name: String,
    /// The suite's `description`.
    pub description: String,
    /// The suite file, as given.
    pub path: PathBuf,
    /// Members in the file's order.
    pub members: Vec<MemberResults>,
}

impl SuiteResults {
    /// The member with this id, if the suite has it.
    pub fn member(&self, id: &str) -> Option<&MemberResults> {
        self.members.iter().find(|m| m.id == id)
    }

    /// Simulated runs over all members.
    pub fn total_runs(&self) -> usize {
        self.members.iter().map(|m| m.study.runs.len()).sum()
    }
}
