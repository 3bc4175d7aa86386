//! Report §2 (end-to-end migration) and the two migration KPIs: not simulated yet, no
//! live-migration model exists.

use super::format::{model_note, pending_table};
use super::{Kpi, Methodology, Part, Section};
use crate::results::SuiteResults;
use std::fmt::Write as _;

/// §2: the seed's three tables with every value cell pending.
struct Migration;

pub(super) fn build(_: &SuiteResults) -> Box<dyn Section + '_> {
    Box::new(Migration)
}

impl Section for Migration {
    fn table(&self) -> &'static str {
        "2 Migration"
    }

    fn heading(&self) -> &'static str {
        "## 2. End-to-End Migration Benchmarks"
    }

    fn parts(&self) -> Vec<Part> {
        vec![Part {
            name: "datacenter, internet and concurrent migrations",
            simulated: false,
        }]
    }

    fn waits_for(&self) -> &'static str {
        "migration"
    }

    fn kpis(&self) -> Vec<Kpi> {
        vec![
            Kpi {
                seat: 2,
                component: "**Datacenter VM Migration Downtime**",
                target: "<500ms",
                achieved: None,
            },
            Kpi {
                seat: 4,
                component: "**Internet 2GB VM Migration**",
                target: "<90s",
                achieved: None,
            },
        ]
    }

    fn write(&self, o: &mut String) {
        model_note(o, "migration");
        let _ = writeln!(o, "### 2.1 Datacenter Mode Migration\n");
        pending_table(
            o,
            &[
                "VM Size",
                "Downtime",
                "Migration Time",
                "Throughput",
                "Target",
                "Status",
            ],
            1,
            &[
                (&["1GB"], Some("<500ms")),
                (&["4GB"], Some("<500ms")),
                (&["16GB"], Some("<500ms")),
            ],
        );
        let _ = writeln!(o, "### 2.2 Internet Mode Migration\n");
        pending_table(
            o,
            &[
                "VM Size",
                "Migration Time",
                "Compression",
                "Effective BW",
                "Target",
                "Status",
            ],
            1,
            &[(&["1GB"], None), (&["2GB"], Some("<90s")), (&["4GB"], None)],
        );
        let _ = writeln!(o, "### 2.3 Concurrent Migrations\n");
        pending_table(
            o,
            &["Concurrent VMs", "Throughput", "Success Rate", "Status"],
            1,
            &[(&["1"], None), (&["5"], None), (&["10"], None)],
        );
    }

    fn methodology(&self) -> Option<Methodology> {
        None
    }
}
