//! The Phase 5 suite on a tiny configuration: the report has the seed's sections, simulated
//! cells carry values with intervals and a met/missed status, the rest say "not simulated
//! yet", no [PENDING] survives, and the output is the same bytes on a second run.

use dwcp_sim::experiment::study::StudyOptions;
use dwcp_sim::experiment::suite::{execute, Suite};
use std::path::{Path, PathBuf};

fn tiny_suite(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("phase5")).unwrap();
    std::fs::create_dir_all(dir.join("consensus")).unwrap();
    let member = std::fs::read_to_string("experiments/phase5/fabric-scaling.toml")
        .unwrap()
        .replace("duration = \"2ms\"", "duration = \"200us\"")
        .replace("leaves = [2, 10, 25, 50]", "leaves = [2, 4]")
        .replace(
            "hosts_per_leaf = [5, 10, 20, 20]",
            "hosts_per_leaf = [5, 25]",
        )
        .replace("repetitions = 3", "repetitions = 2");
    std::fs::write(dir.join("phase5/fabric-scaling.toml"), member).unwrap();
    // ITP: BBR and CUBIC with 8 streams at 80 ms, random 1% and 5% loss, a short flap.
    let itp = std::fs::read_to_string("experiments/itp.toml")
        .unwrap()
        .replace("duration = \"90s\"", "duration = \"4s\"")
        .replace(
            "delay = [\"40ms\", \"75ms\", \"100ms\", \"150ms\"], jitter = [\"10ms\", \"15ms\", \"20ms\", \"50ms\"]",
            "delay = [\"40ms\"], jitter = [\"10ms\"]",
        )
        .replace("cc = [\"newreno\", \"cubic\", \"bbr\"]", "cc = [\"cubic\", \"bbr\"]")
        .replace("at = \"40s\"", "at = \"2s\"")
        .replace("at = \"41s\"", "at = \"2.2s\"")
        .replace("recovery_baseline = \"10s\"", "recovery_baseline = \"1s\"")
        .replace("repetitions = 3", "repetitions = 2")
        .replace(
            "  [{ kind = \"gilbert_elliott\", p = 0.00101, r = 0.1 }],\n  [{ kind = \"gilbert_elliott\", p = 0.002632, r = 0.05 }],\n",
            "",
        );
    assert!(itp.contains("duration = \"4s\"") && !itp.contains("gilbert_elliott\", p"));
    std::fs::write(dir.join("itp.toml"), itp).unwrap();
    // ITP over RoCE: one RTT, random 1% loss only, the same short flap.
    let itp_rdma = std::fs::read_to_string("experiments/itp-rdma.toml")
        .unwrap()
        .replace("duration = \"90s\"", "duration = \"4s\"")
        .replace(
            "delay = [\"40ms\", \"75ms\", \"100ms\", \"150ms\"], jitter = [\"10ms\", \"15ms\", \"20ms\", \"50ms\"]",
            "delay = [\"40ms\"], jitter = [\"10ms\"]",
        )
        .replace("at = \"40s\"", "at = \"2s\"")
        .replace("at = \"41s\"", "at = \"2.2s\"")
        .replace("recovery_baseline = \"10s\"", "recovery_baseline = \"1s\"")
        .replace("repetitions = 3", "repetitions = 2")
        .replace("  [{ kind = \"bernoulli\", p = 0.05 }],\n", "")
        .replace(
            "  [{ kind = \"gilbert_elliott\", p = 0.00101, r = 0.1 }],\n  [{ kind = \"gilbert_elliott\", p = 0.002632, r = 0.05 }],\n",
            "",
        );
    assert!(itp_rdma.contains("duration = \"4s\"") && !itp_rdma.contains("gilbert_elliott\", p"));
    std::fs::write(dir.join("itp-rdma.toml"), itp_rdma).unwrap();
    // AMST: the same six points on a 10 MB transfer.
    let amst = std::fs::read_to_string("experiments/amst.toml")
        .unwrap()
        .replace("bytes = \"1GB\"", "bytes = \"10MB\"")
        .replace("duration = \"500ms\"", "duration = \"20ms\"")
        .replace("sample_interval = \"5ms\"", "sample_interval = \"1ms\"")
        .replace("repetitions = 3", "repetitions = 2");
    assert!(amst.contains("bytes = \"10MB\"") && amst.contains("repetitions = 2"));
    std::fs::write(dir.join("amst.toml"), amst).unwrap();
    // AMST mode switching: a 2 Gbit/s datacenter path, detector every 5 and 20 ms.
    let switching = std::fs::read_to_string("experiments/amst-switch.toml")
        .unwrap()
        .replace(
            "duration = [\"4s\", \"72s\"]",
            "duration = [\"1.5s\", \"2s\"]",
        )
        .replace(
            "check_interval = [\"100ms\", \"5s\"]",
            "check_interval = [\"5ms\", \"20ms\"]",
        )
        .replace("at = [\"1s\", \"10s\"]", "at = [\"100ms\", \"200ms\"]")
        .replace("\"10Gbps\"", "\"2Gbps\"")
        .replace("sample_interval = \"50ms\"", "sample_interval = \"5ms\"");
    assert!(switching.contains("\"20ms\"]") && !switching.contains("10Gbps"));
    std::fs::write(dir.join("amst-switch.toml"), switching).unwrap();
    // HDE: 1 MiB of each data set, two seeds.
    let hde = std::fs::read_to_string("experiments/hde.toml")
        .unwrap()
        .replace("bytes = \"32MiB\"", "bytes = \"1MiB\"")
        .replace("repetitions = 3", "repetitions = 2");
    assert!(hde.contains("bytes = \"1MiB\""));
    std::fs::write(dir.join("hde.toml"), hde).unwrap();
    // Consensus latency: the six groups, 8 s, two seeds.
    let consensus = std::fs::read_to_string("experiments/consensus/latency.toml")
        .unwrap()
        .replace("duration = \"20s\"", "duration = \"8s\"")
        .replace("stop = \"18s\"", "stop = \"7s\"")
        .replace("repetitions = 10", "repetitions = 2");
    assert!(consensus.contains("duration = \"8s\"") && consensus.contains("repetitions = 2"));
    std::fs::write(dir.join("consensus/latency.toml"), consensus).unwrap();
    let election = std::fs::read_to_string("experiments/consensus/election.toml")
        .unwrap()
        .replace("repetitions = 20", "repetitions = 2");
    assert!(election.contains("repetitions = 2"));
    std::fs::write(dir.join("consensus/election.toml"), election).unwrap();
    // Raft §9.3: no randomness and +50 ms only, 8 s.
    let ranges = std::fs::read_to_string("experiments/consensus/raft-election.toml")
        .unwrap()
        .replace("duration = \"25s\"", "duration = \"8s\"")
        .replace("[151, 156, 176, 201, 301]", "[151, 201]")
        .replace("repetitions = 40", "repetitions = 2");
    assert!(ranges.contains("[151, 201]") && ranges.contains("repetitions = 2"));
    std::fs::write(dir.join("consensus/raft-election.toml"), ranges).unwrap();
    // State sync: BBR only, one seed.
    let sync = std::fs::read_to_string("experiments/consensus/state-sync.toml")
        .unwrap()
        .replace("cc = [\"bbr\", \"cubic\"]", "cc = \"bbr\"")
        .replace("repetitions = 5", "repetitions = 1");
    assert!(sync.contains("cc = \"bbr\"") && sync.contains("repetitions = 1"));
    std::fs::write(dir.join("consensus/state-sync.toml"), sync).unwrap();
    // Migration: the same points with 16/32/64 MiB guests, one seed; 4 MiB concurrent VMs.
    std::fs::create_dir_all(dir.join("migration")).unwrap();
    let dc = std::fs::read_to_string("experiments/migration/datacenter.toml")
        .unwrap()
        .replace(
            "[\"1GiB\", \"4GiB\", \"16GiB\"]",
            "[\"16MiB\", \"32MiB\", \"64MiB\"]",
        )
        .replace("repetitions = 2", "repetitions = 1");
    assert!(dc.contains("\"64MiB\"]") && dc.contains("repetitions = 1"));
    std::fs::write(dir.join("migration/datacenter.toml"), dc).unwrap();
    let inet = std::fs::read_to_string("experiments/migration/internet.toml")
        .unwrap()
        .replace(
            "[\"1GiB\", \"2GiB\", \"4GiB\"]",
            "[\"16MiB\", \"2GiB\", \"64MiB\"]",
        )
        .replace(
            "[\"100Mbps\", \"100Mbps\", \"500Mbps\"]",
            "[\"100Mbps\", \"10Gbps\", \"500Mbps\"]",
        )
        .replace(
            "workload = [\"idle\", \"web-server\"]",
            "workload = \"idle\"",
        )
        .replace("repetitions = 2", "repetitions = 1");
    assert!(inet.contains("\"64MiB\"]") && inet.contains("repetitions = 1"));
    std::fs::write(dir.join("migration/internet.toml"), inet).unwrap();
    let conc = std::fs::read_to_string("experiments/migration/concurrent.toml")
        .unwrap()
        .replace("memory = \"4GiB\"", "memory = \"16MiB\"");
    assert!(conc.contains("\"16MiB\""));
    std::fs::write(dir.join("migration/concurrent.toml"), conc).unwrap();
    let comp = std::fs::read_to_string("experiments/migration/competitors.toml")
        .unwrap()
        .replace(
            "[\"4GiB\", \"8GiB\", \"16GiB\"]",
            "[\"4MiB\", \"8MiB\", \"16MiB\"]",
        )
        .replace("rate = \"10Gbps\"", "rate = \"100Gbps\"")
        .replace(
            "profile = [\"dwcp-v3-datacenter\", \"vmotion\", \"hyperv\", \"kvm\"]",
            "profile = [\"vmotion\", \"hyperv\"]",
        );
    assert!(comp.contains("\"16MiB\"]") && !comp.contains("\"kvm\""));
    std::fs::write(dir.join("migration/competitors.toml"), comp).unwrap();
    let wan = std::fs::read_to_string("experiments/migration/competitors-wan.toml")
        .unwrap()
        .replace("memory = \"2GiB\"", "memory = \"8MiB\"")
        .replace("duration = \"600s\"", "duration = \"5s\"");
    assert!(wan.contains("\"8MiB\""));
    std::fs::write(dir.join("migration/competitors-wan.toml"), wan).unwrap();
    for (file, from, to) in [
        (
            "v1-v3-datacenter",
            "memory = \"8GiB\"",
            "memory = \"16MiB\"",
        ),
        ("v1-v3-internet", "memory = \"2GiB\"", "memory = \"8MiB\""),
    ] {
        let text = std::fs::read_to_string(format!("experiments/migration/{file}.toml"))
            .unwrap()
            .replace(from, to);
        assert!(text.contains(to), "{file}");
        std::fs::write(dir.join(format!("migration/{file}.toml")), text).unwrap();
    }
    let suite = std::fs::read_to_string("experiments/phase5.toml").unwrap();
    std::fs::write(dir.join("phase5.toml"), suite).unwrap();
    let consensus_suite = std::fs::read_to_string("experiments/consensus.toml").unwrap();
    std::fs::write(dir.join("consensus.toml"), consensus_suite).unwrap();
    for topo in ["dc-leafspine-32.toml", "wan-3region.toml"] {
        std::fs::create_dir_all(dir.join("../topologies")).unwrap();
        std::fs::copy(
            Path::new("topologies").join(topo),
            dir.join("../topologies").join(topo),
        )
        .unwrap();
    }
    dir.join("phase5.toml")
}

/// The cells of a Markdown table row, trimmed: `| a | b |` gives `["a", "b"]`.
fn cells(row: &str) -> Vec<&str> {
    let inner = row
        .trim()
        .strip_prefix('|')
        .and_then(|r| r.strip_suffix('|'));
    let inner = inner.unwrap_or_else(|| panic!("not a table row: {row:?}"));
    inner.split('|').map(str::trim).collect()
}

/// The `Status` cell of the table row starting with `label`: the cell under the `Status`
/// heading of the table the row belongs to (its first line), so a word elsewhere in the
/// row (a "parameter", a "method") can never stand in for the status.
fn status_of<'a>(report: &'a str, label: &str) -> &'a str {
    let lines: Vec<&str> = report.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label} row"));
    let mut head = at;
    while head > 0 && lines[head - 1].starts_with('|') {
        head -= 1;
    }
    let header = cells(lines[head]);
    let col = header
        .iter()
        .position(|h| *h == "Status")
        .unwrap_or_else(|| panic!("the table of {label} has no Status column: {header:?}"));
    let row = cells(lines[at]);
    assert_eq!(
        row.len(),
        header.len(),
        "{label}: {} cells under {} headings: {:?}",
        row.len(),
        header.len(),
        lines[at]
    );
    row[col]
}

/// A target's status, exactly as the report writes it.
const MET_OR_MISSED: [&str; 2] = ["✅ met", "❌ missed"];

fn assert_status(report: &str, label: &str, allowed: &[&str]) {
    let st = status_of(report, label);
    assert!(
        allowed.contains(&st),
        "{label}: status {st:?} is not one of {allowed:?}"
    );
}

#[test]
fn tiny_phase5_report_is_filled_honestly_and_reproducibly() {
    let tmp = std::env::temp_dir().join(format!("dwcp-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let file = tiny_suite(&tmp.join("experiments"));
    let suite = Suite::load(&file).unwrap();
    let opts = |out: &str, jobs| StudyOptions {
        out: Some(tmp.join(out)),
        jobs: Some(jobs),
        quiet: true,
        ..Default::default()
    };
    let a = execute(&suite, &opts("a", 1)).unwrap();
    let b = execute(&suite, &opts("b", 2)).unwrap();
    let report = std::fs::read_to_string(a.join("REPORT.md")).unwrap();
    assert_eq!(
        report,
        std::fs::read_to_string(b.join("REPORT.md")).unwrap()
    );

    let seed = include_str!("../docs/reference/phase5-seed-report.md");
    // Every numbered section heading of the seed is in the report.
    for line in seed
        .lines()
        .filter(|l| l.starts_with("## ") || l.starts_with("### 1."))
    {
        let title = line.trim_start_matches('#').trim();
        let title = title.split(" (").next().unwrap();
        assert!(report.contains(title), "section {title:?} missing");
    }
    assert!(!report.contains("PENDING"), "a [PENDING] cell survived");
    assert!(report.contains("**not simulated yet**"));
    // The simulated section: 10 hosts (baseline) and 100 hosts with a status.
    let row100 = report
        .lines()
        .find(|l| l.starts_with("| 100 |"))
        .expect("a 100-host row");
    assert!(row100.contains(" ± "), "{row100}");
    assert_status(&report, "| 100 |", &MET_OR_MISSED);
    assert!(report.contains("| 10 | "));
    // The AMST rows: throughput in GB/s against the 2.4 GB/s target, and efficiencies.
    for label in [
        "| RDMA 64KB (8 streams) |",
        "| TCP 64KB (8 streams) |",
        "| 32 |",
    ] {
        let row = report
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row"));
        assert!(row.contains("GB/s"), "{row}");
        assert_status(&report, label, &MET_OR_MISSED);
    }
    // The mode-switching rows: a latency in ms and a status, both directions.
    for label in [
        "| Datacenter → Internet (8 streams) | 5ms |",
        "| Internet → Datacenter (8 streams) | 20ms |",
    ] {
        let row = report
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row"));
        assert!(row.contains(" ms |") && !row.contains("never"), "{row}");
        assert_status(&report, label, &MET_OR_MISSED);
    }
    let kpi = report
        .lines()
        .find(|l| l.starts_with("| **Mode Switching** |"))
        .unwrap();
    assert!(kpi.contains("detector every 5ms"), "{kpi}");
    // The HDE rows: space saved per codec with intervals; VM memory against its target.
    let vm = report
        .lines()
        .find(|l| l.starts_with("| VM Memory (generated guest memory) |"))
        .expect("an HDE VM memory row");
    // Four measured cells (three codecs, no codec) and the 75-85% target.
    assert_eq!(vm.matches("% |").count(), 5, "{vm}");
    // VM memory is judged on zstd's saving, and says so.
    assert_status(
        &report,
        "| VM Memory (generated guest memory) |",
        &["✅ met (ZSTD)", "❌ missed (ZSTD)"],
    );
    assert!(report.contains("| LZ4 | ") && report.contains(" MB/s | "));
    assert!(
        report.contains("| random 1.00% | 80.0 ms | roce-gbn | 8 |"),
        "no RoCE ITP row in {:?}",
        report
            .lines()
            .filter(|l| l.contains("roce"))
            .collect::<Vec<_>>()
    );
    // The ITP rows: measured loss, goodput and recovery, each with an interval.
    for label in ["| 1% Loss |", "| 5% Loss |"] {
        let row = report
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row"));
        assert!(row.contains("Mbit/s") && row.contains(" ± "), "{row}");
        assert!(!row.contains("not simulated"), "{row}");
    }
    // Consensus latency: each group with a datacenter and an internet cell and statuses.
    for label in [
        "| Raft (3 nodes) | 3 |",
        "| Raft (7 nodes) | 7 |",
        "| PBFT (4 nodes) | 4 |",
    ] {
        let row = report
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row"));
        assert!(row.contains("µs") && row.contains(" ms"), "{row}");
        // Both settings meet their targets (DC < 100 ms, internet < 5 s) in this suite.
        assert_status(&report, label, &["DC ✅ met, internet ✅ met"]);
    }
    for kpi in [
        "| **Consensus Latency (Datacenter)** |",
        "| **Consensus Latency (Internet)** |",
    ] {
        let row = report.lines().find(|l| l.starts_with(kpi)).unwrap();
        assert!(!row.contains("not simulated"), "{row}");
        // The slowest group's median decides; every group met both targets above.
        assert_status(&report, kpi, &["✅ met"]);
    }
    // State sync: the seed's three rows, datacenter and internet cells in MB/s.
    for label in ["| 1MB | 3 |", "| 10MB | 7 |", "| 100MB | 7 |"] {
        let row = report
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row"));
        assert_eq!(row.matches("MB/s").count(), 2, "{row}");
    }
    // Migration: every §2.1 row with a downtime and a status; the 2 GB internet row against
    // its target; the concurrent rows; both KPIs filled.
    for label in ["| 16MiB | idle |", "| 64MiB | database |"] {
        let row = report
            .lines()
            .find(|l| l.starts_with(label) && l.contains("Gbps"))
            .unwrap_or_else(|| panic!("no {label} row"));
        assert!(row.contains(" ms |") && row.contains("GB/s"), "{row}");
        assert_status(&report, label, &MET_OR_MISSED);
    }
    assert_status(&report, "| 2GiB | idle |", &MET_OR_MISSED);
    for label in ["| 1 | ", "| 10 | "] {
        let row = report
            .lines()
            .find(|l| l.starts_with(label) && l.contains("migrations/s"))
            .unwrap_or_else(|| panic!("no concurrent {label} row"));
        assert!(row.contains('%'), "{row}");
    }
    for kpi in [
        "| **Datacenter VM Migration Downtime** |",
        "| **Internet 2GB VM Migration** |",
    ] {
        let row = report.lines().find(|l| l.starts_with(kpi)).unwrap();
        assert!(!row.contains("not simulated"), "{row}");
        assert_status(&report, kpi, &MET_OR_MISSED);
    }
    // v1 against v3: the three rows with both values and a status; §6.2 says what it found.
    for label in ["| Throughput |", "| Downtime |", "| Compression |"] {
        let row = report
            .lines()
            .find(|l| l.starts_with(label) && l.contains('%'))
            .unwrap_or_else(|| panic!("no §6.1 {label} row"));
        assert!(!row.contains("not simulated"), "{row}");
        assert_status(&report, label, &MET_OR_MISSED);
    }
    assert!(report.contains("**Regressions Detected:** "));
    // Competitors: every platform has a row in both tables.
    for label in ["| VMware |", "| Hyper-V |"] {
        assert_eq!(report.matches(label).count(), 2, "{label} in §4.1 and §4.2");
    }
    assert!(report.contains("### 4.2 Migration Downtime Comparison"));
    assert!(report.contains("Fastest on the datacenter link (16MiB)"));
    assert!(report.contains("| Raft (3 nodes), datacenter |"));
    assert!(report.contains("| 150–150 ms | none elected |"));
    assert!(a.join("consensus/plots/latency-cdf-internet.png").exists());
    // The §1.4 suite alone writes the same section with its own header.
    let section = Suite::load(&file.with_file_name("consensus.toml")).unwrap();
    let c = execute(&section, &opts("c", 2)).unwrap();
    let alone = std::fs::read_to_string(c.join("REPORT.md")).unwrap();
    assert!(alone.starts_with("# DWCP v3 Phase 5, §1.4"), "{alone}");
    let table = |r: &str| {
        r.lines()
            .find(|l| l.starts_with("| Raft (7 nodes) | 7 |"))
            .map(String::from)
    };
    assert_eq!(
        table(&alone),
        table(&report),
        "the same simulated runs, the same row"
    );
    assert!(!alone.contains("PENDING") && !alone.contains("not simulated"));
    assert!(a
        .join("consensus-election/plots/election-time-histogram-datacenter.png")
        .exists());
    assert!(a
        .join("fabric-scaling/plots/throughput-vs-hosts.png")
        .exists());
    assert!(a.join("fabric-scaling/summary.csv").exists());
    // The environment section is filled from the machine.
    assert!(report.contains("- **Compiler:** rustc"));
    let manifest = std::fs::read_to_string(a.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"environment\""));
    let _ = std::fs::remove_dir_all(&tmp);
}
