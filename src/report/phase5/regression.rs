//! Report §6 (DWCP v1 against v3, regression detection): not simulated yet, it needs the
//! migration model with a v1 and a v3 profile.

use super::format::{model_note, pending_table};
use super::{Methodology, Part, Section, NOT_SIMULATED};
use crate::results::SuiteResults;
use std::fmt::Write as _;

/// §6: the comparison table with every value cell pending, without the seed's quoted
/// v1 figures.
struct Regression;

pub(super) fn build(_: &SuiteResults) -> Box<dyn Section + '_> {
    Box::new(Regression)
}

impl Section for Regression {
    fn table(&self) -> &'static str {
        "6 v1 vs v3"
    }

    fn heading(&self) -> &'static str {
        "## 6. Performance Regression Analysis\n\n### 6.1 DWCP v1 vs v3 Comparison"
    }

    fn parts(&self) -> Vec<Part> {
        vec![Part {
            name: "v1 against v3",
            simulated: false,
        }]
    }

    fn waits_for(&self) -> &'static str {
        "migration"
    }

    fn write(&self, o: &mut String) {
        model_note(o, "migration");
        pending_table(
            o,
            &[
                "Metric",
                "v1 Baseline",
                "v3 Target",
                "v3 Actual",
                "Improvement",
                "Status",
            ],
            1,
            &[
                (&["Throughput"], None),
                (&["Downtime"], None),
                (&["Compression"], None),
            ],
        );
        let _ = writeln!(
            o,
            "The seed's v1 baselines (2.1 GB/s, 580 ms, 65%) are quoted figures, not measurements; they will be \
             replaced by a simulated v1 profile, so they are not repeated in this table.\n"
        );
        let _ = writeln!(o, "### 6.2 Regression Detection\n\n**Regressions Detected:** {NOT_SIMULATED} (needs the v1 and v3 profiles).\n");
    }

    fn methodology(&self) -> Option<Methodology> {
        None
    }
}
