//! Report §5 (sustained load, resource leaks): not simulated yet, it needs long-run resource
//! accounting of the simulated stack.

use super::format::{model_note, pending_table};
use super::{Methodology, Part, Section};
use crate::results::SuiteResults;
use std::fmt::Write as _;

/// §5: the seed's two tables with every value cell pending.
struct Stress;

pub(super) fn build(_: &SuiteResults) -> Box<dyn Section + '_> {
    Box::new(Stress)
}

impl Section for Stress {
    fn table(&self) -> &'static str {
        "5 Stress"
    }

    fn heading(&self) -> &'static str {
        "## 5. Stress Testing Results"
    }

    fn parts(&self) -> Vec<Part> {
        vec![Part {
            name: "sustained load and resource leaks",
            simulated: false,
        }]
    }

    fn waits_for(&self) -> &'static str {
        "stress"
    }

    fn write(&self, o: &mut String) {
        model_note(o, "stress");
        let _ = writeln!(
            o,
            "The seed's memory and goroutine rows measure the Go implementation's process, which a simulation does not have; \
             they will be replaced by the simulated stack's own state (queues, in-flight data, protocol state) when it exists.\n"
        );
        let _ = writeln!(o, "### 5.1 Sustained Load\n");
        pending_table(
            o,
            &["Metric", "Initial", "Peak", "Final", "Deviation", "Status"],
            1,
            &[
                (&["Throughput (ops/s)"], None),
                (&["Memory (MB)"], None),
                (&["Goroutines"], None),
            ],
        );
        let _ = writeln!(o, "### 5.2 Resource Leaks\n");
        pending_table(
            o,
            &["Resource", "Growth Rate", "Threshold", "Status"],
            1,
            &[(&["Heap Memory"], None), (&["Goroutines"], None)],
        );
    }

    fn methodology(&self) -> Option<Methodology> {
        None
    }
}
