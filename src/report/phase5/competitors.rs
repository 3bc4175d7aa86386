//! Report §4 (DWCP against VMware, Hyper-V, KVM): not simulated yet, it needs the migration
//! model and competitor profiles.

use super::format::{model_note, pending_table};
use super::{Methodology, Part, Section};
use crate::results::SuiteResults;
use std::fmt::Write as _;

/// §4: the seed's two tables with every value cell pending.
struct Competitors;

pub(super) fn build(_: &SuiteResults) -> Box<dyn Section + '_> {
    Box::new(Competitors)
}

impl Section for Competitors {
    fn table(&self) -> &'static str {
        "4 Competitors"
    }

    fn heading(&self) -> &'static str {
        "## 4. Competitor Comparison"
    }

    fn parts(&self) -> Vec<Part> {
        vec![Part {
            name: "throughput and downtime comparison",
            simulated: false,
        }]
    }

    fn waits_for(&self) -> &'static str {
        "migration"
    }

    fn write(&self, o: &mut String) {
        model_note(o, "migration");
        let _ = writeln!(o, "### 4.1 Throughput Comparison\n");
        let platforms: [(&[&str], Option<&str>); 4] = [
            (&["DWCP v3"], None),
            (&["VMware"], None),
            (&["Hyper-V"], None),
            (&["KVM"], None),
        ];
        pending_table(
            o,
            &[
                "Platform",
                "Datacenter (GB/s)",
                "Internet (MB/s)",
                "Compression",
                "Status",
            ],
            1,
            &platforms,
        );
        let _ = writeln!(o, "### 4.2 Migration Downtime Comparison\n");
        pending_table(
            o,
            &[
                "Platform",
                "4GB VM (ms)",
                "8GB VM (ms)",
                "16GB VM (ms)",
                "Status",
            ],
            1,
            &platforms,
        );
    }

    fn methodology(&self) -> Option<Methodology> {
        None
    }
}
