//! `dwcp-sim bench`: events/s of the standard scenarios, one line each:
//! `<name> events=<N> wall_s=<S> events_per_s=<R>`. Wall time is measured here, at the edge,
//! and never enters a simulation.

#![warn(missing_docs)]

use crate::config::LoadedExperiment;
use crate::engine::hold_bench::{hold_model, hold_model_binary_heap};
use crate::experiment::run::RunError;
use crate::scenario;
use std::path::Path;
use std::time::Instant;

const LEAF_SPINE: &str = include_str!("../experiments/bench-leafspine-1k.toml");
const DUMBBELL: &str = include_str!("../experiments/dumbbell.toml");
const MIGRATION: &str = include_str!("../experiments/bench-migration-16g.toml");

fn line(name: &str, events: u64, wall_s: f64) -> String {
    let rate = if wall_s > 0.0 {
        events as f64 / wall_s
    } else {
        0.0
    };
    format!("{name} events={events} wall_s={wall_s:.3} events_per_s={rate:.0}")
}

/// Runs every benchmark scenario and returns its report lines.
pub fn run_all(quick: bool) -> Result<Vec<String>, RunError> {
    let mut lines = Vec::new();
    let hold_events = if quick { 2_000_000 } else { 20_000_000 };
    for pending in [1_000usize, 100_000] {
        let r = hold_model(pending, hold_events);
        lines.push(line(&format!("queue_hold_{pending}"), r.events, r.wall_s));
        let r = hold_model_binary_heap(pending, hold_events);
        lines.push(line(
            &format!("reference_std_binaryheap_hold_{pending}"),
            r.events,
            r.wall_s,
        ));
    }
    let overrides: Vec<String> = if quick {
        vec!["duration=\"200us\"".into()]
    } else {
        Vec::new()
    };
    let exp = LoadedExperiment::from_text(
        LEAF_SPINE,
        Path::new("experiments/bench-leafspine-1k.toml"),
        &overrides,
    )?;
    // Only the event loop is timed; building routes for 1032 nodes is setup.
    let world = scenario::prepare(&exp)?;
    let started = Instant::now();
    let rec = world.run();
    let wall = started.elapsed().as_secs_f64();
    lines.push(line("leafspine_1k_cbr", rec.events, wall));
    // The TCP benchmark: N NewReno flows, 100 Mbit/s, 10 ms, 1% loss, 10 s virtual
    // (time series off: the loop, not the sampler, is measured).
    for flows in [8, 64] {
        let mut set = vec![
            format!("flows.0.copies={flows}"),
            "record.links=[]".to_string(),
            "record.flows=false".to_string(),
        ];
        if quick {
            set.push("duration=\"1s\"".into());
        }
        let exp =
            LoadedExperiment::from_text(DUMBBELL, Path::new("experiments/dumbbell.toml"), &set)?;
        let world = scenario::prepare(&exp)?;
        let started = Instant::now();
        let rec = world.run();
        let wall = started.elapsed().as_secs_f64();
        lines.push(line(
            &format!("dumbbell_tcp_{flows}_flows"),
            rec.events,
            wall,
        ));
    }
    // One 16 GiB datacenter migration (issue 14: ≤ 30 s wall on one core); quick: 1 GiB.
    let set: Vec<String> = if quick {
        vec!["migrations.0.memory=\"1GiB\"".into()]
    } else {
        Vec::new()
    };
    let exp = LoadedExperiment::from_text(
        MIGRATION,
        Path::new("experiments/bench-migration-16g.toml"),
        &set,
    )?;
    let world = scenario::prepare(&exp)?;
    let started = Instant::now();
    let rec = world.run();
    let wall = started.elapsed().as_secs_f64();
    let name = if quick {
        "migration_1g_datacenter"
    } else {
        "migration_16g_datacenter"
    };
    lines.push(line(name, rec.events, wall));
    Ok(lines)
}
