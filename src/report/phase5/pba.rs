//! Report §1.3 (PBA bandwidth prediction): not simulated yet, no predictor model exists.

use super::format::{model_note, pending_table};
use super::{Methodology, Part, Section};
use crate::results::SuiteResults;
use std::fmt::Write as _;

/// §1.3: the seed's table with every value cell pending.
struct Pba;

pub(super) fn build(_: &SuiteResults) -> Box<dyn Section + '_> {
    Box::new(Pba)
}

impl Section for Pba {
    fn table(&self) -> &'static str {
        "1.3 PBA"
    }

    fn heading(&self) -> &'static str {
        "### 1.3 PBA (Predictive Bandwidth Allocator)"
    }

    fn parts(&self) -> Vec<Part> {
        vec![Part {
            name: "prediction accuracy",
            simulated: false,
        }]
    }

    fn waits_for(&self) -> &'static str {
        "predict"
    }

    fn write(&self, o: &mut String) {
        model_note(o, "predict");
        let _ = writeln!(o, "#### 1.3.1 LSTM Prediction Accuracy\n");
        pending_table(
            o,
            &[
                "Workload",
                "Prediction Accuracy",
                "Latency",
                "Target",
                "Status",
            ],
            1,
            &[
                (&["Stable"], Some("≥95%")),
                (&["Variable"], Some("≥85%")),
                (&["Bursty"], Some("≥75%")),
            ],
        );
    }

    fn methodology(&self) -> Option<Methodology> {
        None
    }
}
