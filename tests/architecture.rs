//! The layering of the crate, checked against the code: each module may use only the
//! modules listed above it in the crate doc's "Layers" block (src/lib.rs). The order is
//! written once, there; this test reads it and every file under src/, and fails on any
//! `crate::<module>` path (including `use crate::{a, b}` groups) that points further down.
//! There is no exceptions list.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The module names of the crate doc's layers block, top first.
fn layers() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let mut lines = lib.lines().skip_while(|l| !l.starts_with("//! # Layers"));
    let mut out = Vec::new();
    let mut inside = false;
    for line in lines.by_ref() {
        let text = line.trim_start_matches("//!").trim();
        if text.starts_with("```") {
            if inside {
                break;
            }
            inside = true;
            continue;
        }
        if inside {
            if let Some(name) = text.split_whitespace().next() {
                out.push(name.to_string());
            }
        }
    }
    assert!(out.len() > 5, "no layers block found in src/lib.rs");
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`src/net/loss.rs` → `net`), or none for the
/// crate root and the binary.
fn module_of(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    match first.as_str() {
        "lib.rs" | "main.rs" => None,
        _ => Some(first.trim_end_matches(".rs").to_string()),
    }
}

/// Modules named by `crate::` paths in `code` (comments removed), with the line of each.
fn uses(code: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a::b, c}`: the first segment of each item at depth 0.
                let mut depth = 0;
                let mut item = String::new();
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            push_first(&item, n, &mut out);
                            item.clear();
                            continue;
                        }
                        _ => {}
                    }
                    item.push(c);
                }
                push_first(&item, n, &mut out);
            } else {
                push_first(rest, n, &mut out);
            }
        }
    }
    out
}

fn push_first(path: &str, line: usize, out: &mut Vec<(String, usize)>) {
    let name: String = path
        .trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if !name.is_empty() {
        out.push((name, line + 1));
    }
}

#[test]
fn no_module_uses_one_below_it() {
    let order = layers();
    let rank: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for f in &files {
        let Some(module) = module_of(f) else {
            continue;
        };
        seen.insert(module.clone());
        let Some(&mine) = rank.get(module.as_str()) else {
            problems.push(format!(
                "{}: module `{module}` is not in the layers of src/lib.rs",
                f.display()
            ));
            continue;
        };
        let code = std::fs::read_to_string(f).unwrap();
        for (used, line) in uses(&code) {
            match rank.get(used.as_str()) {
                Some(&theirs) if theirs > mine => problems.push(format!(
                    "{}:{line}: `{module}` uses `{used}`, which is below it",
                    f.display()
                )),
                Some(_) => {}
                None => problems.push(format!(
                    "{}:{line}: `crate::{used}` is not a module in the layers",
                    f.display()
                )),
            }
        }
    }
    for m in &order {
        if !seen.contains(m) {
            problems.push(format!(
                "src/lib.rs lists `{m}`, which has no file under src/"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_uses_in_every_form() {
    // A checker that saw nothing would pass any tree.
    let code = "use crate::net::Packet;\nuse crate::{engine::SimTime, units::{Rate, Bytes}};\n\
                let x = crate::report::plot::draw(); // crate::experiment in a comment\n";
    let names: Vec<String> = uses(code).into_iter().map(|u| u.0).collect();
    assert_eq!(names, ["net", "engine", "units", "report"]);
}
