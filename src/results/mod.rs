//! Plain results of studies, as the report reads them: point statistics, the rows of a
//! run's `results.csv`, and a view of a study (its points, their parameter values, its
//! runs) without the runner behind it.
//!
//! `experiment` builds these values from the experiment files and the run folders it
//! wrote; `report` only reads them. Nothing here runs a simulation, writes a file or knows
//! a model.
//!
//! Invariants: a [`StudyView`]'s `points[i].index == i`; every [`RunRef::point`] and
//! [`PointStat::point`] indexes `points`; statistics are in point order, and within a
//! point in the order of its first run's `results.csv`.

pub mod rows;
pub mod stats;
pub mod study;

pub use rows::{open_csv, read_result_rows, ResultRow};
pub use stats::{find_stat, summarize, PointStat, CONFIDENCE};
pub use study::{MemberResults, Point, RunRef, StudyView, SuiteResults};
