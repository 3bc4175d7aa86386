//! The report's own bookkeeping: the KPI table keeps the seed's rows, and Appendix C says
//! of every section exactly what the section itself says.

use super::*;
use crate::metrics::summary::Summary;
use crate::results::{Point, RunRef};

fn env() -> Environment {
    Environment {
        cpu: "test cpu".into(),
        cores: 1,
        os: "test os".into(),
        kernel: "0".into(),
        rustc: "rustc test".into(),
        memory_gib: 1.0,
    }
}

/// A member whose points sweep `keys` over `values` (one row per point), with the file's
/// other values in `base` and, per point, the statistics `scope/entity/metric = value`.
fn member(
    id: &str,
    keys: &[&str],
    values: &[Vec<toml::Value>],
    base: &str,
    stats: &[(&str, f64)],
) -> MemberResults {
    let points: Vec<Point> = values
        .iter()
        .enumerate()
        .map(|(index, vs)| Point {
            index,
            assignments: keys.iter().map(|k| k.to_string()).zip(vs.clone()).collect(),
        })
        .collect();
    let stats = points
        .iter()
        .flat_map(|p| {
            stats.iter().map(move |(key, v)| {
                let mut parts = key.splitn(3, '/');
                let mut next = || parts.next().unwrap_or_default().to_string();
                PointStat {
                    point: p.index,
                    scope: next(),
                    entity: next(),
                    metric: next(),
                    unit: String::new(),
                    summary: Summary::of(&[*v], 0.95),
                }
            })
        })
        .collect();
    MemberResults {
        id: id.into(),
        study: StudyView {
            name: id.into(),
            path: format!("experiments/{id}.toml").into(),
            repetitions: 1,
            keys: keys.iter().map(|k| k.to_string()).collect(),
            runs: points
                .iter()
                .map(|p| RunRef {
                    id: format!("p{}-r0", p.index),
                    point: p.index,
                    rep: 0,
                })
                .collect(),
            points,
            base: toml::from_str(base).unwrap(),
        },
        stats,
    }
}

fn s(x: &str) -> toml::Value {
    toml::Value::String(x.into())
}

fn suite(members: Vec<MemberResults>) -> SuiteResults {
    SuiteResults {
        name: "phase5".into(),
        description: "test suite".into(),
        path: "experiments/phase5.toml".into(),
        members,
    }
}

/// Compression (complete), mode switching without the throughput study (AMST partly) and
/// the fabric (complete): one section of each status besides the ones never simulated.
fn some_members() -> Vec<MemberResults> {
    let hde = member(
        "hde",
        &["compress.data", "compress.codec"],
        &[
            vec![s("vm-memory"), s("zstd-3")],
            vec![s("vm-memory"), s("none")],
        ],
        "",
        &[
            ("compress/corpus/space_saved", 80.0),
            ("compress/corpus/input_bytes", 1048576.0),
        ],
    );
    let switching = member(
        "amst-switch",
        &["flows.0.adaptive.initial"],
        &[vec![s("datacenter")], vec![s("internet")]],
        "link_events = [{ at = \"1s\" }]\nflows = [{ streams = 8, adaptive = { check_interval = \"100ms\" } }]",
        &[
            ("flow/transfer/mode_switches", 1.0),
            ("flow/transfer/switch_detection_time", 0.9),
            ("flow/transfer/switch_connected_at", 1.95),
            ("flow/transfer/switch_latency", 1.0),
        ],
    );
    let fabric = member(
        "fabric-scaling",
        &["topology.generate.leaves"],
        &[vec![toml::Value::Integer(2)], vec![toml::Value::Integer(4)]],
        "topology.generate.hosts_per_leaf = 5",
        &[
            ("net/all/delivered_packets", 1000.0),
            ("net/all/virtual_time", 0.001),
        ],
    );
    vec![hde, switching, fabric]
}

/// The cells of a Markdown table row.
fn cells(row: &str) -> Vec<&str> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(str::trim).collect()
}

#[test]
fn kpi_table_has_the_seeds_eight_rows_each_owned_once() {
    let results = suite(Vec::new());
    let mut seats: Vec<u8> = SECTIONS
        .iter()
        .flat_map(|b| b(&results).kpis())
        .map(|k| k.seat)
        .collect();
    seats.sort_unstable();
    // Seats 1..=8 exactly once: no indicator lost, none written twice.
    assert_eq!(seats, (1..=8).collect::<Vec<u8>>());
}

#[test]
fn appendix_c_says_of_each_section_what_the_section_says() {
    for members in [Vec::new(), some_members()] {
        let results = suite(members);
        let report = write(&results, &env());
        let appendix = report
            .split("### Appendix C")
            .nth(1)
            .expect("an Appendix C");
        for build in SECTIONS {
            let section = build(&results);
            let mut body = String::new();
            section.write(&mut body);
            // The section's own words: "Simulated" opens what ran, "Not simulated yet" or
            // "did not run" stands where a part is missing.
            let simulated = body.contains("**Simulated**") || body.contains("*Simulated:");
            let missing = body.contains("*Not simulated yet:") || body.contains("did not run");
            let rows: Vec<&str> = appendix
                .lines()
                .filter(|l| l.starts_with(&format!("| {} |", section.table())))
                .collect();
            assert_eq!(rows.len(), 1, "{}: {rows:?}", section.table());
            let cell = cells(rows[0])[1];
            let table = section.table();
            match (simulated, missing) {
                (true, false) => assert_eq!(cell, "yes", "{table}"),
                (true, true) => assert!(
                    cell.starts_with("yes; ") && cell.ends_with(" no"),
                    "{table}: {cell}"
                ),
                (false, true) => assert_eq!(cell, "no", "{table}"),
                (false, false) => panic!("{table} says neither what ran nor what is missing"),
            }
            assert_eq!(cell, section.status().cell(), "{table}");
        }
    }
}

#[test]
fn the_fixture_covers_every_status() {
    // The test above is only as strong as its fixture: it must meet a section of each kind.
    let results = suite(some_members());
    let statuses: Vec<Status> = SECTIONS.iter().map(|b| b(&results).status()).collect();
    assert!(statuses.contains(&Status::Simulated));
    assert!(statuses.contains(&Status::NotSimulated));
    assert!(statuses.contains(&Status::Partly {
        missing: vec!["throughput and stream scalability"]
    }));
    let hde = hde::build(&results);
    assert_eq!(
        hde.status(),
        Status::Simulated,
        "1.2 HDE ran in the fixture"
    );
}
