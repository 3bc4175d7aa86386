//! Cells and notes shared by the sections: numbers with their intervals, met/missed, the
//! tables and notes of what is not simulated yet.

use super::NOT_SIMULATED;
use std::fmt::Write as _;

/// Where each missing model is being built (the project's issue tracker).
const WAITING_FOR: [(&str, &str); 6] = [
    (
        "transport",
        "the transport experiments (`amst.toml`, `amst-switch.toml`, `itp.toml`) as members of this suite",
    ),
    (
        "compress",
        "the compression experiment (`hde.toml`) as a member of this suite",
    ),
    (
        "consensus",
        "the consensus experiments (`consensus/*.toml`) as members of this suite",
    ),
    ("predict", "PBA bandwidth predictors (no issue filed yet)"),
    (
        "migration",
        "pre-copy/post-copy live migration and competitor profiles (no issue filed yet)",
    ),
    (
        "stress",
        "long-run resource accounting of the simulated stack (no issue filed yet)",
    ),
];

/// Where the model `model` (a key of [`WAITING_FOR`]) is being built.
pub(super) fn waiting(model: &str) -> &'static str {
    WAITING_FOR
        .iter()
        .find(|(m, _)| *m == model)
        .map_or("a model not built yet", |(_, w)| w)
}

/// A table whose value cells are all "not simulated yet": `rows` give the label cells
/// (first `labels` columns) and the target, if the seed has one.
pub(super) fn pending_table(
    out: &mut String,
    header: &[&str],
    labels: usize,
    rows: &[(&[&str], Option<&str>)],
) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    let has_target = header.contains(&"Target");
    for (label, target) in rows {
        let mut cells: Vec<String> = label.iter().map(|s| s.to_string()).collect();
        while cells.len() < labels {
            cells.push(String::new());
        }
        for h in &header[labels..] {
            cells.push(match *h {
                "Target" if has_target => target.unwrap_or("-").to_string(),
                _ => NOT_SIMULATED.to_string(),
            });
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}

/// The note opening a section, or a part of one, whose model is not built yet.
pub(super) fn model_note(out: &mut String, model: &str) {
    let _ = writeln!(
        out,
        "*Not simulated yet: this section needs {}. dwcp-sim reports no figure for it rather than a made-up one.*\n",
        waiting(model)
    );
}

/// A number with a few significant digits, for tables.
pub(super) fn sig(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// `mean ± half` (or just the mean when there is one repetition), large values with an SI
/// prefix shared by both numbers (`3.37 M ± 0.09 M`).
pub(super) fn with_ci(mean: f64, half: f64) -> String {
    let (scale, prefix) = si_prefix(mean);
    let m = format!("{}{prefix}", sig(mean / scale));
    if half.is_finite() {
        format!("{m} ± {}{prefix}", sig(half / scale))
    } else {
        m
    }
}

fn si_prefix(x: f64) -> (f64, &'static str) {
    match x.abs() {
        a if a >= 1e9 => (1e9, " G"),
        a if a >= 1e6 => (1e6, " M"),
        a if a >= 1e4 => (1e3, " k"),
        _ => (1.0, ""),
    }
}

/// A large number with an SI prefix (`332 M`).
pub(super) fn si(x: f64) -> String {
    let (scale, prefix) = si_prefix(x);
    format!("{}{prefix}", sig(x / scale))
}

/// A target's status cell.
pub(super) fn status(met: bool) -> &'static str {
    if met {
        "✅ met"
    } else {
        "❌ missed"
    }
}
