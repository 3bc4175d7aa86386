//! `REPORT.md` of the DWCP v3 Phase 5 suite: the seed report's sections and tables
//! (`../shared/reference/phase5-report.md`), each cell either a simulated value (mean with
//! its 95% interval over repetitions) with a status against the seed's target, or
//! **not simulated yet** while the model behind it does not exist. Nothing is typed in.
//!
//! The report is a walk over a table of sections, one file per section under `phase5/`:
//! each builds its rows from the suite's [`SuiteResults`] and answers, from those rows
//! alone, which of its parts ran, the Executive Summary indicators it owns,
//! its text, and its row of Appendix C. The executive summary, the appendices and the
//! recommendations are assembled from the same answers, so no two places can disagree on
//! what is simulated.
//!
//! Reads plain results ([`crate::results`]) only; never a runner or a model.

mod amst;
mod competitors;
mod consensus;
mod format;
mod hde;
mod itp;
mod migration;
mod pba;
mod regression;
mod scalability;
mod stress;

use crate::report::manifest::Environment;
use crate::results::{MemberResults, PointStat, StudyView, SuiteResults};
use format::{status, waiting};
use std::fmt::Write as _;

/// The cell text of every figure whose model is not built yet.
pub const NOT_SIMULATED: &str = "**not simulated yet**";

/// One part of a section (a table of the seed report, or a group of them) and whether its
/// results are in the suite.
struct Part {
    /// How Appendix C names the part when it is missing ("mode switching").
    name: &'static str,
    simulated: bool,
}

/// What of a section ran.
#[derive(Clone, Debug, PartialEq)]
enum Status {
    /// Every part.
    Simulated,
    /// Some parts; the rest are named.
    Partly {
        missing: Vec<&'static str>,
    },
    NotSimulated,
}

impl Status {
    fn of(parts: &[Part]) -> Status {
        let missing: Vec<&'static str> = parts
            .iter()
            .filter(|p| !p.simulated)
            .map(|p| p.name)
            .collect();
        if missing.is_empty() {
            Status::Simulated
        } else if missing.len() == parts.len() {
            Status::NotSimulated
        } else {
            Status::Partly { missing }
        }
    }

    /// The "Simulated" cell of Appendix C.
    fn cell(&self) -> String {
        match self {
            Status::Simulated => "yes".into(),
            Status::Partly { missing } => format!("yes; {} no", missing.join(", ")),
            Status::NotSimulated => "no".into(),
        }
    }
}

/// An indicator of the Executive Summary, owned by the section that computes it.
struct Kpi {
    /// Row of the seed's KPI table (1 = first): the table keeps the seed's order, which is
    /// not the order of the sections.
    seat: u8,
    component: &'static str,
    target: &'static str,
    /// The cell and whether the target is met; `None` while not simulated.
    achieved: Option<(String, bool)>,
}

/// A section's row of Appendix C (Benchmark Methodology), for a section of which
/// something ran.
struct Methodology {
    topology: String,
    parameters: String,
    model: String,
    repetitions: String,
    backed_by: &'static str,
}

impl Methodology {
    /// Topology, swept keys and repetitions of `study`, with the section's words for the
    /// topology (`what`) and the model.
    fn of(study: &StudyView, what: String, model: &str, backed_by: &'static str) -> Methodology {
        Methodology {
            topology: what,
            parameters: study.keys.join(", "),
            model: model.to_string(),
            repetitions: study.repetitions.to_string(),
            backed_by,
        }
    }
}

/// One section of the report, built from the suite's results.
trait Section {
    /// The section's name in Appendix C ("1.2 HDE").
    fn table(&self) -> &'static str;
    /// The Markdown heading(s) the section opens with.
    fn heading(&self) -> &'static str;
    /// Its parts and whether each ran: the one source of the section's status.
    fn parts(&self) -> Vec<Part>;
    /// The model it waits for while nothing in it ran (a key of the waiting list).
    fn waits_for(&self) -> &'static str;
    /// The Executive Summary indicators it owns.
    fn kpis(&self) -> Vec<Kpi> {
        Vec::new()
    }
    /// Paragraphs printed under the KPI table about its indicators.
    fn kpi_notes(&self) -> Vec<String> {
        Vec::new()
    }
    /// The text under the heading: simulated tables, or what is still missing.
    fn write(&self, o: &mut String);
    /// The Appendix C columns after "Simulated"; `None` when nothing in it ran.
    fn methodology(&self) -> Option<Methodology>;
    /// Optimization opportunities (§7.2) its results point to.
    fn recommendations(&self) -> Vec<String> {
        Vec::new()
    }
    fn status(&self) -> Status {
        Status::of(&self.parts())
    }
}

/// Builds a section from the suite's results.
type Build = for<'a> fn(&'a SuiteResults) -> Box<dyn Section + 'a>;

/// The report's sections, in the seed report's order.
const SECTIONS: [Build; 10] = [
    amst::build,
    hde::build,
    pba::build,
    consensus::build,
    itp::build,
    migration::build,
    scalability::build,
    competitors::build,
    stress::build,
    regression::build,
];

/// A member's rows, with its id and study for the text.
struct Ran<'a, R> {
    id: &'a str,
    study: &'a StudyView,
    rows: Vec<R>,
}

type Rows<R> = fn(&StudyView, &[PointStat]) -> Option<Vec<R>>;

/// The rows of member `id`, if it ran and its results give any.
fn ran<'a, R>(suite: &'a SuiteResults, id: &str, rows: Rows<R>) -> Option<Ran<'a, R>> {
    let m: &MemberResults = suite.member(id)?;
    Some(Ran {
        id: &m.id,
        study: &m.study,
        rows: rows(&m.study, &m.stats)?,
    })
}

/// Writes section 1.4 alone (ACP/ASS), for `experiments/consensus.toml`: the same tables
/// as in the full report, with the suite's provenance and the machine it ran on.
pub fn write_consensus(suite: &SuiteResults, env: &Environment) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# DWCP v3 Phase 5, §1.4: ACP & ASS (simulated)\n\n**Produced by:** dwcp-sim {} from `{}`, in virtual time  \n**Experiments:** {} ({} simulated runs)  \n**Reproduce:** `cargo run --release -- run {}`\n\n{}\n",
        env!("CARGO_PKG_VERSION"),
        suite.path.display(),
        suite.members.len(),
        suite.total_runs(),
        suite.path.display(),
        suite.description.trim()
    );
    let section = consensus::build(suite);
    let _ = writeln!(o, "{}\n", section.heading());
    section.write(&mut o);
    let _ = writeln!(o, "### Raw data\n");
    for m in &suite.members {
        let _ = writeln!(
            o,
            "- `{id}/results.csv`, `{id}/summary.csv`, `{id}/events.csv`, `{id}/plots/`: {} runs of `{}`",
            m.study.runs.len(),
            m.study.path.display(),
            id = m.id
        );
    }
    let _ = writeln!(
        o,
        "\nRan on {} ({} cores), {} (kernel {}), {}; results are in virtual time and do not depend on it.",
        env.cpu, env.cores, env.os, env.kernel, env.rustc
    );
    o
}

/// Writes the whole report.
pub fn write(suite: &SuiteResults, env: &Environment) -> String {
    let sections: Vec<Box<dyn Section + '_>> = SECTIONS.iter().map(|build| build(suite)).collect();
    let mut o = String::new();
    write_summary(&mut o, suite, &sections);
    for s in &sections {
        let _ = writeln!(o, "---\n\n{}\n", s.heading());
        s.write(&mut o);
    }
    write_recommendations(&mut o, &sections);
    write_appendices(&mut o, suite, env, &sections);
    o
}

/// Title, provenance and the Executive Summary with its KPI table.
fn write_summary(o: &mut String, suite: &SuiteResults, sections: &[Box<dyn Section + '_>]) {
    let _ = writeln!(
        o,
        "# DWCP v3 Phase 5: Comprehensive Benchmark Analysis (simulated)\n"
    );
    let _ = writeln!(
        o,
        "**Produced by:** dwcp-sim {} from `{}`, in virtual time  ",
        env!("CARGO_PKG_VERSION"),
        suite.path.display()
    );
    let _ = writeln!(
        o,
        "**Experiments:** {} ({} simulated runs)  ",
        suite.members.len(),
        suite.total_runs()
    );
    let _ = writeln!(
        o,
        "**Reproduce:** `cargo run --release -- run {}` gives this file byte for byte on the same machine and code.\n",
        suite.path.display()
    );
    let _ = writeln!(o, "---\n\n## Executive Summary\n");
    let _ = writeln!(
        o,
        "### Overall Assessment: **Incomplete — most DWCP components are not simulated yet**\n"
    );
    let _ = writeln!(o, "{}\n", suite.description.trim());
    let _ = writeln!(o, "### Key Performance Indicators\n");
    let _ = writeln!(
        o,
        "| Component | Target | Achieved | Status |\n|---|---|---|---|"
    );
    let mut kpis: Vec<Kpi> = sections.iter().flat_map(|s| s.kpis()).collect();
    kpis.sort_by_key(|k| k.seat);
    for k in &kpis {
        let (c, t) = (k.component, k.target);
        match &k.achieved {
            Some((cell, met)) => {
                let _ = writeln!(o, "| {c} | {t} | {cell} | {} |", status(*met));
            }
            None => {
                let _ = writeln!(o, "| {c} | {t} | {NOT_SIMULATED} | {NOT_SIMULATED} |");
            }
        }
    }
    o.push('\n');
    for note in sections.iter().flat_map(|s| s.kpi_notes()) {
        let _ = writeln!(o, "{note}\n");
    }
}

/// Section 7: readiness (from the KPI table: assessable only once every KPI is
/// simulated), what the results point to, deployment.
fn write_recommendations(o: &mut String, sections: &[Box<dyn Section + '_>]) {
    let _ = writeln!(
        o,
        "---\n\n## 7. Recommendations\n\n### 7.1 Production Readiness\n"
    );
    let kpis: Vec<Kpi> = sections.iter().flat_map(|s| s.kpis()).collect();
    let simulated: Vec<&Kpi> = kpis.iter().filter(|k| k.achieved.is_some()).collect();
    let missed: Vec<&str> = simulated
        .iter()
        .filter(|k| k.achieved.as_ref().is_some_and(|a| !a.1))
        .map(|k| k.component.trim_matches('*'))
        .collect();
    let pending: Vec<&str> = kpis
        .iter()
        .filter(|k| k.achieved.is_none())
        .map(|k| k.component.trim_matches('*'))
        .collect();
    let verdict = if pending.is_empty() && missed.is_empty() {
        "every KPI is simulated and met".to_string()
    } else if pending.is_empty() {
        format!("not ready: {} missed", missed.join(", "))
    } else {
        format!(
            "not assessable yet: {} of {} KPIs are simulated ({} met{}); still not simulated: {}",
            simulated.len(),
            kpis.len(),
            simulated.len() - missed.len(),
            if missed.is_empty() {
                String::new()
            } else {
                format!(", missed: {}", missed.join(", "))
            },
            pending.join(", ")
        )
    };
    let _ = writeln!(o, "**Overall Status:** {verdict}.\n");
    let _ = writeln!(o, "### 7.2 Optimization Opportunities\n");
    let recs: Vec<String> = sections.iter().flat_map(|s| s.recommendations()).collect();
    if recs.is_empty() {
        let _ = writeln!(o, "1. None identified: nothing is simulated yet.\n");
    }
    for (i, r) in recs.iter().enumerate() {
        let _ = writeln!(o, "{}. {r}\n", i + 1);
    }
    let _ = writeln!(o, "### 7.3 Deployment Guidelines\n\n**Recommended Configurations:** {NOT_SIMULATED} (needs the cross-regime migration study: which profile and engine win at which dirty rate, bandwidth and RTT).\n");
}

/// Section 8: raw data, the machine, and the methodology of every section.
fn write_appendices(
    o: &mut String,
    suite: &SuiteResults,
    env: &Environment,
    sections: &[Box<dyn Section + '_>],
) {
    let _ = writeln!(
        o,
        "---\n\n## 8. Appendices\n\n### Appendix A: Raw Benchmark Data\n"
    );
    for m in &suite.members {
        let _ = writeln!(
            o,
            "- `{id}/results.csv` (every run), `{id}/summary.csv` (mean, std, 95% CI per point), `{id}/runs/` ({} runs of `{}`), `{id}/manifest.json` (seeds and event digests)",
            m.study.runs.len(),
            m.study.path.display(),
            id = m.id
        );
    }
    let _ = writeln!(o, "\n### Appendix B: Test Environment\n");
    let _ = writeln!(o, "- **CPU:** {} ({} cores available)", env.cpu, env.cores);
    let _ = writeln!(o, "- **Memory:** {} GiB", env.memory_gib);
    let _ = writeln!(o, "- **OS:** {} (kernel {})", env.os, env.kernel);
    let _ = writeln!(o, "- **Compiler:** {}", env.rustc);
    let _ = writeln!(
        o,
        "- **Benchmark Tool:** dwcp-sim {}, a deterministic discrete-event simulator; results are in virtual time and do not depend on this machine's speed",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(o, "\n### Appendix C: Benchmark Methodology\n");
    let _ = writeln!(
        o,
        "Every figure above is computed from simulated runs; none is typed in. Each repetition of a point has its own \
         master seed, a hash of (base seed, the point's parameter values, repetition number), so any run can be \
         reproduced alone with `dwcp-sim run <member.toml> --point K --rep R`. Intervals are two-sided 95% Student-t \
         intervals over repetitions.\n"
    );
    let _ = writeln!(o, "| Table | Simulated | Topology | Parameters | Model | Repetitions | Backed by |\n|---|---|---|---|---|---|---|");
    for s in sections {
        let _ = writeln!(o, "{}", methodology_row(s.as_ref()));
    }
    o.push('\n');
}

/// A section's row of Appendix C: its status, then its methodology or what it waits for.
fn methodology_row(s: &dyn Section) -> String {
    let status = s.status();
    match s.methodology().filter(|_| status != Status::NotSimulated) {
        Some(m) => format!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            s.table(),
            status.cell(),
            m.topology,
            m.parameters,
            m.model,
            m.repetitions,
            m.backed_by
        ),
        None => format!(
            "| {} | {} | - | - | needs {} | - | - |",
            s.table(),
            status.cell(),
            waiting(s.waits_for())
        ),
    }
}

#[cfg(test)]
mod tests;
