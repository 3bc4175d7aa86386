//! Studies (sweeps with repetitions): the output does not depend on thread count, sharding,
//! or interruption, and any single run can be reproduced alone.

use dwcp_sim::experiment::study::{execute, execute_run_to, merge, Study, StudyOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const SWEEP: &str = "experiments/dumbbell-sweep.toml";

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dwcp-study-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The sweep shortened for tests: 9 points x 2 repetitions of 20 ms.
fn small() -> Vec<String> {
    vec!["duration=20ms".into(), "sweep.repetitions=2".into()]
}

/// Every file under `dir` (relative path -> bytes).
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn assert_same_tree(a: &Path, b: &Path) {
    let (ta, tb) = (tree(a), tree(b));
    assert_eq!(
        ta.keys().collect::<Vec<_>>(),
        tb.keys().collect::<Vec<_>>(),
        "file lists differ: {} vs {}",
        a.display(),
        b.display()
    );
    for (k, v) in &ta {
        assert!(
            v == &tb[k],
            "{k} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

fn run(study: &Study, out: &Path, jobs: usize) {
    execute(
        study,
        &StudyOptions {
            out: Some(out.to_path_buf()),
            jobs: Some(jobs),
            quiet: true,
            ..Default::default()
        },
    )
    .expect("study runs");
}

#[test]
fn one_and_two_threads_and_three_shards_give_identical_bytes() {
    let tmp = temp_dir("threads");
    let study = Study::load(Path::new(SWEEP), &small()).unwrap();
    assert_eq!(study.runs.len(), 18);
    let (one, two) = (tmp.join("one"), tmp.join("two"));
    run(&study, &one, 1);
    run(&study, &two, 2);
    assert_same_tree(&one, &two);
    // All the aggregate files are there, plots included.
    for f in [
        "results.csv",
        "summary.csv",
        "timeseries.csv",
        "manifest.json",
        "config.toml",
        "plots/delay-vs-load.png",
        "plots/loss-by-link-loss.svg",
        "runs/p0-r0/run.json",
        "runs/p8-r1/results.csv",
    ] {
        assert!(one.join(f).exists(), "{f} missing");
    }

    // Three shards (one thread each, in reverse order), then merge.
    let mut shard_dirs = Vec::new();
    for i in (0..3).rev() {
        let d = tmp.join(format!("shard{i}"));
        let o = execute(
            &study,
            &StudyOptions {
                out: Some(d.clone()),
                jobs: Some(1),
                shard: Some((i, 3)),
                quiet: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(o.executed, 6, "shard {i} runs every third run");
        shard_dirs.push(d);
    }
    let merged = tmp.join("merged");
    merge(&shard_dirs, Some(merged.clone()), false).unwrap();
    assert_same_tree(&one, &merged);

    // Merging an incomplete set of shards is refused, naming the missing runs.
    let err = merge(&shard_dirs[..2], Some(tmp.join("partial-merge")), false).unwrap_err();
    assert!(
        err.to_string().contains("none of the shard folders"),
        "{err}"
    );
    assert!(!tmp.join("partial-merge").exists());
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn a_single_run_reproduces_alone() {
    let tmp = temp_dir("single");
    let study = Study::load(Path::new(SWEEP), &small()).unwrap();
    let whole = tmp.join("whole");
    run(&study, &whole, 2);
    let spec = study.find_run(5, 1).unwrap();
    let alone = tmp.join("alone");
    execute_run_to(spec, &alone, None).unwrap();
    assert_same_tree(&whole.join("runs").join(&spec.id), &alone);
    // The same run from a bigger sweep (more repetitions, other points) keeps its seed.
    let bigger = Study::load(
        Path::new(SWEEP),
        &["duration=20ms".into(), "sweep.repetitions=4".into()],
    )
    .unwrap();
    let same = bigger
        .runs
        .iter()
        .find(|r| r.point_values == spec.point_values && r.rep == 1)
        .unwrap();
    assert_eq!(same.exp.config.seed, spec.exp.config.seed);
    assert_ne!(
        study.find_run(5, 0).unwrap().exp.config.seed,
        spec.exp.config.seed
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn resume_after_interruption_gives_identical_bytes() {
    let tmp = temp_dir("resume");
    let study = Study::load(Path::new(SWEEP), &small()).unwrap();
    let reference = tmp.join("reference");
    run(&study, &reference, 2);

    // The state a kill -9 leaves: some finished runs, a half-written run folder, and a run
    // from an older configuration, in the hidden partial folder; no final output yet.
    let out = tmp.join("out");
    let partial = tmp.join(".out.partial");
    let runs = partial.join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    for id in ["p0-r0", "p3-r1", "p7-r0"] {
        let to = runs.join(id);
        std::fs::create_dir_all(&to).unwrap();
        for f in [
            "config.toml",
            "results.csv",
            "timeseries.csv",
            "events.csv",
            "run.json",
        ] {
            std::fs::copy(reference.join("runs").join(id).join(f), to.join(f)).unwrap();
        }
    }
    std::fs::create_dir_all(runs.join(".p1-r0.tmp-99999")).unwrap();
    std::fs::write(runs.join(".p1-r0.tmp-99999/results.csv"), "half").unwrap();
    let stale = runs.join("p2-r0");
    std::fs::create_dir_all(&stale).unwrap();
    let meta = std::fs::read_to_string(reference.join("runs/p2-r0/run.json")).unwrap();
    let old_hash = meta.replace(
        &format!("{:016x}", study.find_run(2, 0).unwrap().exp.config_hash),
        "0000000000000000",
    );
    std::fs::write(stale.join("run.json"), old_hash).unwrap();

    let o = execute(
        &study,
        &StudyOptions {
            out: Some(out.clone()),
            jobs: Some(2),
            resume: true,
            quiet: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((o.executed, o.skipped), (15, 3));
    assert_same_tree(&reference, &out);
    assert!(!partial.exists(), "the partial folder became the output");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn kill_minus_nine_loses_no_finished_run() {
    let tmp = temp_dir("kill");
    let bin = env!("CARGO_BIN_EXE_dwcp-sim");
    let out = tmp.join("out");
    let args = |out: &Path, extra: &[&str]| {
        let mut a: Vec<String> = vec![
            "run".into(),
            SWEEP.into(),
            "--set".into(),
            "duration=1s".into(),
            "--set".into(),
            "sweep.repetitions=2".into(),
            "--jobs".into(),
            "1".into(),
            "--quiet".into(),
            "--no-plots".into(),
            "--out".into(),
            out.display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let mut child = std::process::Command::new(bin)
        .args(args(&out, &[]))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let runs = tmp.join(".out.partial/runs");
    let finished = |d: &Path| -> Vec<String> {
        std::fs::read_dir(d)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default()
    };
    let started = std::time::Instant::now();
    while finished(&runs).len() < 3 && started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let kept = finished(&runs);
    let interrupted = !out.exists();
    assert!(
        interrupted,
        "the sweep finished before it could be killed; make it longer"
    );
    let resumed = std::process::Command::new(bin)
        .args(args(&out, &["--resume"]))
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{resumed:?}");
    let text = String::from_utf8_lossy(&resumed.stdout);
    assert!(
        text.contains(&format!("kept {} finished", kept.len())),
        "kept {kept:?}, but: {text}"
    );
    let fresh = tmp.join("fresh");
    let status = std::process::Command::new(bin)
        .args(args(&fresh, &[]))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_same_tree(&fresh, &out);
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn every_plot_kind_is_drawn_from_a_study() {
    let tmp = temp_dir("plots");
    let file = tmp.join("plots.toml");
    std::fs::write(
        &file,
        r#"name = "plot-kinds"
duration = "20ms"
[topology.generate]
kind = "dumbbell"
hosts_per_side = 1
access_link = { rate = "10Gbps", delay = "10us" }
bottleneck_link = { rate = "1Gbps", delay = "1ms", queue_packets = 32 }
[[flows]]
name = "load"
app = "poisson"
src = "l0"
dst = "r0"
rate = ["400Mbps", "900Mbps"]
[record]
sample_interval = "1ms"
[sweep]
repetitions = 3
[[plot]]
kind = "line"
metric = "flow/load/throughput"
x = "flows.0.rate"
[[plot]]
kind = "bar"
metric = "flow/load/delay_p99"
x = "flows.0.rate"
[[plot]]
kind = "cdf"
metric = "flow/load/delay_mean"
series = "flows.0.rate"
[[plot]]
kind = "timeseries"
metric = "flow/load/throughput"
[[plot]]
kind = "scatter"
metric = "flow/load/delay_mean"
x_metric = "flow/load/throughput"
filter = 'flows.0.rate > "500Mbps"'
"#,
    )
    .unwrap();
    // `--set` fixing the plotted parameter skips the plots over it instead of failing;
    // a misspelt one still fails.
    let fixed = Study::load(&file, &["flows.0.rate=\"400Mbps\"".to_string()]).unwrap();
    // Only the time series names no swept parameter; the other four plot over the rate.
    assert_eq!(fixed.plots.len(), 1);
    assert!(fixed.plots[0].x.is_none() && fixed.plots[0].series.is_none());
    let err = Study::load(&file, &["flows.0.ratee=\"400Mbps\"".to_string()]);
    assert!(err.is_err(), "an unknown --set key fails");
    let study = Study::load(&file, &[]).unwrap();
    let out = tmp.join("out");
    run(&study, &out, 2);
    for stem in [
        "line-flow-load-throughput",
        "bar-flow-load-delay_p99",
        "cdf-flow-load-delay_mean",
        "timeseries-flow-load-throughput",
        "scatter-flow-load-delay_mean",
    ] {
        for ext in ["png", "svg"] {
            let p = out.join("plots").join(format!("{stem}.{ext}"));
            let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            assert!(size > 1000, "{} missing or empty", p.display());
        }
    }
    // Units on axes: the line plot's x axis reads in Mbit/s, its y axis in Mbit/s.
    let svg = std::fs::read_to_string(out.join("plots/line-flow-load-throughput.svg")).unwrap();
    assert!(svg.contains("flows.0.rate (Mbit/s)"), "x label with unit");
    assert!(svg.contains("throughput (Mbit/s)"), "y label with unit");
    // The summary has one row per point and metric with n = 3 and an interval around the mean.
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let row = summary
        .lines()
        .find(|l| l.contains(",flow,load,throughput,"))
        .unwrap();
    let cells: Vec<&str> = row.split(',').collect();
    let n = cells.len();
    let (count, mean, lo, hi): (u32, f64, f64, f64) = (
        cells[n - 5].parse().unwrap(),
        cells[n - 4].parse().unwrap(),
        cells[n - 2].parse().unwrap(),
        cells[n - 1].parse().unwrap(),
    );
    assert_eq!(count, 3);
    assert!(lo < mean && mean < hi, "{row}");
    let _ = std::fs::remove_dir_all(&tmp);
}
