//! Golden result tables: one small canonical scenario per model, its results rendered as a
//! fixed-width text table and compared with `tests/golden/<scenario>.txt`, as smoltcp's
//! `tests/netsim.rs` pins its throughput table.
//!
//! What this pins: every number a researcher reads off these runs — packets and bytes sent
//! and delivered per flow, drops by reason, one-way delay statistics, the transports' own
//! measurements (goodput, retransmissions, RTT, window, completion and switching times), the
//! bottleneck port's utilization, queue and PFC counters, the consensus and compression
//! `measures` rows, the run's fault/protocol log, and for the TCP dumbbell every sampled time
//! series (its points and their sum) — plus the event count and the event digest.
//! Values are printed exactly (integers as they are, `f64` with `{}`, which is the shortest
//! string that parses back to the same bits), so any change in any model flips at least one
//! cell, and the failure shows *which* numbers moved, not only that a hash did.
//!
//! Scenarios (each under half a second in the test profile):
//! - `tcp-dumbbell`: NewReno, CUBIC and BBR sharing a lossy, shallow-buffered bottleneck;
//! - `roce-incast`: three RoCEv2 senders into one receiver, PFC + DCQCN, and without PFC;
//! - `amst`: a striped TCP transfer over 4 streams, and an adaptive transfer that switches
//!   from datacenter (RDMA) to internet (TCP + zstd) mode when the path changes;
//! - `consensus`: Raft with 3 replicas and a leader crash, PBFT with 4 replicas and a crashed
//!   backup, each with a client;
//! - `compress`: the `[compress]` study on 1 MiB of generated VM memory (zstd-3, LZ4) and text.
//!
//! Rows are `entity | metric | value | unit`, columns padded to fixed widths (never to the
//! widest cell, so one changed value changes one line). Which rows appear is fixed by the
//! code below (`Pick` per case): the run's and the network's counters and the bottleneck's
//! queue drops always; drops by other reasons, ECN marks and PFC pauses of the bottleneck,
//! and a flow's drops by reason, only when non-zero (a count appearing or vanishing is a
//! diff too). Every scenario fixes its seed in its TOML, so the tables need no environment.
//!
//! Updating: only when a change of a model's results is *intended*. Run
//! `DWCP_BLESS=1 cargo test --test golden`, read the diff of `tests/golden/` (`git diff`), and
//! commit the tables with the model change, saying in the commit message which numbers moved
//! and why. A refactor that is meant to change nothing (such as one of `src/scenario`) must
//! pass without blessing. A missing table fails unless blessing.

use dwcp_sim::config::LoadedExperiment;
use dwcp_sim::metrics::{DropReason, FlowRecord, Histogram, PortRecord, RunRecords};
use dwcp_sim::scenario;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Column widths of the table (entity, metric, value); the unit column is last, unpadded.
const WIDTHS: [usize; 3] = [36, 28, 24];

/// One run of a golden scenario: a label for its section and the experiment text.
struct Case {
    label: &'static str,
    toml: String,
    /// Which flows, ports and log lines make its rows.
    pick: Pick,
}

/// What of a run's records goes into the table.
#[derive(Default)]
struct Pick {
    /// Flows with the full set of rows (counters, delay, the transport's own measurements).
    flows: &'static [&'static str],
    /// Flows with counters only (feedback directions, extra streams).
    brief_flows: &'static [&'static str],
    /// Ports by `(from, to)` node names: the bottleneck, with queue and drop rows.
    ports: &'static [(&'static str, &'static str)],
    /// Ports with traffic and PFC rows only (a sender's access link).
    brief_ports: &'static [(&'static str, &'static str)],
    /// Include every `measures` row.
    measures: bool,
    /// Include the fault and protocol log.
    log: bool,
    /// Summarize every time series (points and their sum: the sampler's output).
    series: bool,
}

/// The rows of a table, in order.
#[derive(Default)]
struct Table {
    rows: Vec<[String; 4]>,
}

impl Table {
    fn row(&mut self, entity: &str, metric: &str, value: impl ToString, unit: &str) {
        self.rows.push([
            entity.to_string(),
            metric.to_string(),
            value.to_string(),
            unit.to_string(),
        ]);
    }

    fn opt(&mut self, entity: &str, metric: &str, value: Option<u64>, unit: &str) {
        match value {
            Some(v) => self.row(entity, metric, v, unit),
            None => self.row(entity, metric, "none", unit),
        }
    }

    /// Min, mean, p50, p99 and max of a histogram of picoseconds (its count is the
    /// delivered packets or pings, in their own row).
    fn histogram(&mut self, entity: &str, name: &str, h: &Histogram) {
        if h.count() == 0 {
            return;
        }
        self.opt(entity, &format!("{name}_min"), h.min(), "ps");
        self.row(entity, &format!("{name}_mean"), h.mean(), "ps");
        self.opt(entity, &format!("{name}_p50"), h.quantile(0.5), "ps");
        self.opt(entity, &format!("{name}_p99"), h.quantile(0.99), "ps");
        self.opt(entity, &format!("{name}_max"), h.max(), "ps");
    }

    fn render(&self, out: &mut String) {
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{:<w0$} | {:<w1$} | {:<w2$} | {}",
                r[0],
                r[1],
                r[2],
                r[3],
                w0 = WIDTHS[0],
                w1 = WIDTHS[1],
                w2 = WIDTHS[2]
            );
        }
    }
}

fn simulate(case: &Case) -> RunRecords {
    let exp = LoadedExperiment::from_text(&case.toml, Path::new("golden-x.toml"), &[])
        .unwrap_or_else(|e| panic!("golden scenario {}: {e}", case.label));
    scenario::prepare(&exp)
        .unwrap_or_else(|e| panic!("golden scenario {}: {e}", case.label))
        .run()
}

fn find_flow<'a>(rec: &'a RunRecords, name: &str) -> &'a FlowRecord {
    rec.flows
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| {
            let names: Vec<&str> = rec.flows.iter().map(|f| f.name.as_str()).collect();
            panic!("no flow {name} in {names:?}")
        })
}

fn find_port<'a>(rec: &'a RunRecords, from: &str, to: &str) -> &'a PortRecord {
    rec.ports
        .iter()
        .find(|p| p.from == from && p.to == to)
        .unwrap_or_else(|| panic!("no port {from}->{to}"))
}

/// Drops of a `[u64; 4]` by reason, the non-zero ones (or all, with `all`).
fn drops(t: &mut Table, entity: &str, dropped: &[u64; 4], all: bool) {
    for r in DropReason::ALL {
        let n = dropped[r.index()];
        if all || n > 0 {
            t.row(entity, &format!("dropped_{}", r.name()), n, "packets");
        }
    }
}

/// Packets sent and delivered, drops by reason (non-zero ones); bytes too unless `brief`.
fn flow_counters(t: &mut Table, e: &str, f: &FlowRecord, brief: bool) {
    let s = &f.stats;
    t.row(e, "sent_packets", s.sent_packets, "packets");
    if !brief {
        t.row(e, "sent_bytes", s.sent_bytes, "bytes");
    }
    t.row(e, "delivered_packets", s.delivered_packets, "packets");
    if !brief {
        t.row(e, "delivered_bytes", s.delivered_bytes, "bytes");
    }
    drops(t, e, &s.dropped, false);
}

/// The table of one run.
fn table(case: &Case, rec: &RunRecords) -> Table {
    let mut t = Table::default();
    let end_ps = rec.end_time.as_ps();
    t.row("run", "end_time", end_ps, "ps");
    t.row("run", "events", rec.events, "events");
    t.row("run", "digest", format!("{:016x}", rec.digest), "hex");
    if !rec.flows.is_empty() || !rec.ports.is_empty() {
        let n = &rec.net;
        t.row("net", "injected", n.injected, "packets");
        t.row("net", "delivered", n.delivered, "packets");
        drops(&mut t, "net", &n.dropped, true);
        t.row("net", "in_flight", rec.in_flight, "packets");
    }
    for name in case.pick.flows {
        let f = find_flow(rec, name);
        let e = format!("flow/{name}");
        flow_counters(&mut t, &e, f, false);
        let s = &f.stats;
        t.row(&e, "reordered", s.reordered, "packets");
        t.histogram(&e, "delay", &s.delay);
        t.opt(
            &e,
            "first_delivery",
            s.first_delivery.map(|x| x.as_ps()),
            "ps",
        );
        t.opt(
            &e,
            "last_delivery",
            s.last_delivery.map(|x| x.as_ps()),
            "ps",
        );
        if s.rtt.count() > 0 {
            t.row(&e, "ping_rtt_count", s.rtt.count(), "samples");
            t.histogram(&e, "ping_rtt", &s.rtt);
        }
        // What the transport measured itself, in its own order.
        for (metric, value, unit) in &f.extra {
            t.row(&e, metric, value, unit);
        }
    }
    for name in case.pick.brief_flows {
        let f = find_flow(rec, name);
        flow_counters(&mut t, &format!("flow/{name}"), f, true);
    }
    for (from, to) in case.pick.ports {
        let p = find_port(rec, from, to);
        let e = format!("port/{from}->{to}");
        let s = &p.stats;
        t.row(&e, "tx_packets", s.tx_packets, "packets");
        t.row(&e, "tx_bytes", s.tx_bytes, "bytes");
        // Utilization and mean queue as the report computes them: over the whole run.
        t.row(
            &e,
            "utilization",
            s.busy_ps as f64 / end_ps as f64,
            "fraction",
        );
        t.row(
            &e,
            "dropped_queue",
            s.dropped[DropReason::Queue.index()],
            "packets",
        );
        let mut other = s.dropped;
        other[DropReason::Queue.index()] = 0;
        drops(&mut t, &e, &other, false);
        t.row(&e, "max_queue_packets", s.max_queue_packets, "packets");
        t.row(&e, "max_queue_bytes", s.max_queue_bytes, "bytes");
        t.row(
            &e,
            "mean_queue_packets",
            s.queue_area as f64 / end_ps as f64,
            "packets",
        );
        // Marking and pausing only where they happen (a count that becomes zero or
        // non-zero adds or removes a row: a diff either way).
        for (metric, v, unit) in [
            ("ecn_marked", s.ecn_marked, "packets"),
            ("pfc_pauses", s.pauses, "frames"),
            ("pfc_paused", s.paused_ps, "ps"),
        ] {
            if v > 0 {
                t.row(&e, metric, v, unit);
            }
        }
    }
    for (from, to) in case.pick.brief_ports {
        let p = find_port(rec, from, to);
        let e = format!("port/{from}->{to}");
        let s = &p.stats;
        t.row(&e, "tx_packets", s.tx_packets, "packets");
        t.row(
            &e,
            "utilization",
            s.busy_ps as f64 / end_ps as f64,
            "fraction",
        );
        t.row(&e, "pfc_pauses", s.pauses, "frames");
        t.row(&e, "pfc_paused", s.paused_ps, "ps");
    }
    if case.pick.measures {
        for (scope, entity, metric, value, unit) in &rec.measures {
            t.row(&format!("{scope}/{entity}"), metric, value, unit);
        }
    }
    if case.pick.series {
        for ts in &rec.series {
            let e = format!("series/{}/{}", ts.entity, ts.metric);
            t.row(&e, "points", ts.points.len(), "samples");
            // Summed in time order, so the value is exact for the same samples.
            let sum: f64 = ts.points.iter().map(|p| p.1).sum();
            t.row(&e, "sum", sum, ts.unit);
        }
    }
    if case.pick.log {
        for (i, (at, kind, what)) in rec.log.iter().enumerate() {
            t.row(
                &format!("log/{i}"),
                kind,
                at.as_ps(),
                &format!("ps: {what}"),
            );
        }
    }
    t
}

/// Simulates every case of a scenario and renders its golden text.
fn render(scenario: &str, about: &str, cases: &[Case]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# golden table `{scenario}`: {about}");
    let _ = writeln!(
        out,
        "# Generated by tests/golden.rs; update with DWCP_BLESS=1 cargo test --test golden (see its doc)."
    );
    for case in cases {
        let rec = simulate(case);
        let _ = writeln!(out, "\n## {}", case.label);
        let mut t = Table::default();
        t.row("entity", "metric", "value", "unit");
        t.rows.push([
            "-".repeat(WIDTHS[0]),
            "-".repeat(WIDTHS[1]),
            "-".repeat(WIDTHS[2]),
            "----".into(),
        ]);
        t.rows.extend(table(case, &rec).rows);
        t.render(&mut out);
    }
    out
}

fn golden_path(scenario: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{scenario}.txt"))
}

/// A line diff of `expected` against `actual` (longest common subsequence): removed lines
/// with `-`, added with `+`, each with its line number, unchanged lines left out.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    // lcs[i][j]: length of the LCS of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removed lines first, so a changed cell reads as `-` old then `+` new.
            let _ = writeln!(out, "-{:>4} {}", i + 1, a[i]);
            i += 1;
        } else {
            let _ = writeln!(out, "+{:>4} {}", j + 1, b[j]);
            j += 1;
        }
    }
    out
}

/// Compares the rendered table with its golden file, or writes it when `DWCP_BLESS=1`.
fn check(scenario: &str, about: &str, cases: &[Case]) {
    let actual = render(scenario, about, cases);
    let path = golden_path(scenario);
    if std::env::var("DWCP_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        println!("blessed {}", path.display());
        return;
    }
    let expected = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => panic!(
            "golden table {} is missing ({e}): the scenario's results are not pinned. Create it \
             with `DWCP_BLESS=1 cargo test --test golden` and commit it.\n\nthis run:\n{actual}",
            path.display()
        ),
    };
    let bless = "If the change is intended, bless with `DWCP_BLESS=1 cargo test --test golden` \
                 and explain the moved numbers in the commit message; a refactor must not need it.";
    if expected != actual {
        panic!(
            "golden table {} differs from this run (- expected, + actual, with line numbers):\n\n{}\n{bless}",
            path.display(),
            diff(&expected, &actual)
        );
    }
}

// ---------------------------------------------------------------------------------------
// The scenarios.

#[test]
fn tcp_dumbbell() {
    // Three hosts per side; flow k from lk to rk, each with its own controller, share a
    // 100 Mbit/s, 10 ms bottleneck with a 100-packet queue (about half a BDP at 20 ms RTT)
    // and 0.1% random loss on the data direction: queue drops and random losses both occur.
    // BBR starts 0.5 s late so it meets an already loaded queue.
    let toml = r#"
        name = "golden-tcp"
        seed = 11
        duration = "4s"
        [topology.generate]
        kind = "dumbbell"
        hosts_per_side = 3
        access_link = { rate = "1Gbps", delay = "10us", queue_packets = 1000 }
        bottleneck_link = { rate = "100Mbps", delay = "10ms", queue_packets = 100, loss_ab = [{ kind = "bernoulli", p = 0.001 }] }
        [tcp]
        sack = true
        [[flows]]
        name = "newreno"
        app = "tcp"
        cc = "newreno"
        src = "l0"
        dst = "r0"
        [[flows]]
        name = "cubic"
        app = "tcp"
        cc = "cubic"
        src = "l1"
        dst = "r1"
        [[flows]]
        name = "bbr"
        app = "tcp"
        cc = "bbr"
        src = "l2"
        dst = "r2"
        start = "500ms"
        [record]
        sample_interval = "200ms"
        links = ["sl-sr"]
        plots = false
    "#;
    check(
        "tcp-dumbbell",
        "NewReno, CUBIC and BBR over a lossy 100 Mbit/s bottleneck with a 100-packet queue",
        &[Case {
            label: "3 flows, 100Mbps 10ms, queue 100 packets, 0.1% loss on sl->sr, 4 s",
            toml: toml.into(),
            pick: Pick {
                flows: &["newreno", "cubic", "bbr"],
                brief_flows: &["newreno/ack", "cubic/ack", "bbr/ack"],
                ports: &[("sl", "sr"), ("sr", "sl")],
                series: true,
                ..Pick::default()
            },
        }],
    );
}

#[test]
fn roce_incast() {
    // Three RoCEv2 senders (h1..h3) into h0 on one 40 Gbit/s switch: a 3:1 incast at the
    // switch port to h0, whose egress marks ECN above 40 kB (DCQCN) and holds 1 MB.
    let incast = |links: &str, rdma: &str| {
        format!(
            r#"
        name = "golden-roce"
        seed = 5
        duration = "3ms"
        [topology.generate]
        kind = "star"
        hosts = 4
        link = {{ rate = "40Gbps", delay = "1us", queue_bytes = "1MB"{links} }}
        {rdma}
        [[flows]]
        name = "a"
        app = "rdma"
        src = "h1"
        dst = "h0"
        [[flows]]
        name = "b"
        app = "rdma"
        src = "h2"
        dst = "h0"
        start = "100us"
        [[flows]]
        name = "c"
        app = "rdma"
        src = "h3"
        dst = "h0"
        start = "200us"
        bytes = "4MB"
        [record]
        sample_interval = "100us"
        plots = false
        "#
        )
    };
    let pick = || Pick {
        flows: &["a", "b", "c"],
        brief_flows: &["a/ack", "b/ack", "c/ack"],
        ports: &[("sw", "h0")],
        brief_ports: &[("h1", "sw"), ("h2", "sw"), ("h3", "sw")],
        ..Pick::default()
    };
    check(
        "roce-incast",
        "three RoCEv2 senders into one 40 Gbit/s receiver, with PFC + DCQCN and without PFC",
        &[
            Case {
                label: "PFC (xoff 20KB, xon 10KB) + DCQCN (ECN above 40KB), 3 ms",
                toml: incast(
                    r#", ecn_threshold_bytes = "40KB", pfc_xoff = "20KB", pfc_xon = "10KB""#,
                    "[rdma]\n        dcqcn = {}",
                ),
                pick: pick(),
            },
            Case {
                label: "no PFC, no DCQCN: tail drops at the 1 MB buffer, go-back-N, 3 ms",
                toml: incast("", ""),
                pick: pick(),
            },
        ],
    );
}

#[test]
fn amst() {
    // A 5 MB transfer striped in 64 KiB chunks over 4 CUBIC streams on a 1 Gbit/s, 10 ms
    // path with 0.1% loss.
    let striped = r#"
        name = "golden-amst"
        seed = 7
        duration = "500ms"
        [topology.generate]
        kind = "dumbbell"
        hosts_per_side = 1
        access_link = { rate = "10Gbps", delay = "10us", queue_packets = 100000 }
        bottleneck_link = { rate = "1Gbps", delay = "10ms", queue_packets = 2000, loss_ab = [{ kind = "bernoulli", p = 0.001 }] }
        [tcp]
        cc = "cubic"
        [[flows]]
        name = "x"
        app = "amst"
        src = "l0"
        dst = "r0"
        streams = 4
        chunk = "64KiB"
        bytes = "5MB"
        [record]
        sample_interval = "50ms"
        plots = false
    "#;
    // Adaptive: starts in datacenter mode (RDMA) on 10 Gbit/s, 2 us; at 20 ms the path
    // becomes 100 Mbit/s, 20 ms, the detector (every 5 ms) switches to internet mode (TCP,
    // zstd-3 compressed chunks), and the rest of the 30 MB crosses there.
    let adaptive = r#"
        name = "golden-amst-switch"
        seed = 3
        duration = "3s"
        [topology.generate]
        kind = "dumbbell"
        hosts_per_side = 1
        access_link = { rate = "10Gbps", delay = "1us", queue_packets = 1000 }
        bottleneck_link = { rate = "10Gbps", delay = "2us", queue_packets = 1000 }
        [tcp]
        cc = "cubic"
        [[flows]]
        name = "t"
        app = "amst"
        src = "l0"
        dst = "r0"
        bytes = "30MB"
        transport = "adaptive"
        streams = 4
        adaptive = { check_interval = "5ms", initial = "datacenter" }
        [[link_events]]
        at = "20ms"
        link = "sl-sr"
        rate = "100Mbps"
        delay = "20ms"
        [record]
        sample_interval = "50ms"
        plots = false
    "#;
    check(
        "amst",
        "AMST striping over 4 TCP streams, and an adaptive datacenter -> internet switch",
        &[
            Case {
                label: "5 MB, 4 CUBIC streams, 64 KiB chunks, 1Gbps 10ms, 0.1% loss, 500 ms",
                toml: striped.into(),
                pick: Pick {
                    flows: &["x"],
                    brief_flows: &["x/ack", "x/stream1", "x/stream2", "x/stream3"],
                    ports: &[("sl", "sr")],
                    ..Pick::default()
                },
            },
            Case {
                label: "30 MB adaptive, 4 streams, 10Gbps 2us -> 100Mbps 20ms at 20 ms",
                toml: adaptive.into(),
                pick: Pick {
                    flows: &["t"],
                    // t..t/stream3 are the RDMA set, t/stream4.. the TCP set opened by the switch.
                    brief_flows: &["t/ack", "t/stream4", "t/stream4/ack"],
                    ports: &[("sl", "sr")],
                    log: true,
                    ..Pick::default()
                },
            },
        ],
    );
}

/// Eight hosts on one switch at 10 Gbit/s, 1 ms per link (2 ms host to host); replicas on
/// h0.., the client on h7.
fn consensus_group(protocol: &str, n: usize, extra: &str) -> String {
    let nodes: Vec<String> = (0..n).map(|i| format!("\"h{i}\"")).collect();
    format!(
        r#"
        name = "golden-{protocol}"
        seed = 2
        duration = "3s"
        [topology.generate]
        kind = "star"
        hosts = 8
        link = {{ rate = "10Gbps", delay = "1ms" }}
        [consensus]
        protocol = "{protocol}"
        nodes = [{}]
        client = "h7"
        [consensus.requests]
        interval = "20ms"
        poisson = true
        bytes = 256
        timeout = "300ms"
        {extra}
        [record]
        flows = false
        plots = false
        "#,
        nodes.join(", ")
    )
}

#[test]
fn consensus() {
    let crash = |node: &str, at: &str| {
        format!("[[faults]]\n        at = \"{at}\"\n        kind = \"crash\"\n        node = \"{node}\"\n        duration = \"800ms\"")
    };
    let pick = || Pick {
        measures: true,
        log: true,
        ..Pick::default()
    };
    check(
        "consensus",
        "Raft (3 replicas, leader crash) and PBFT (4 replicas, backup crash) with a client",
        &[
            Case {
                label:
                    "Raft 3 replicas, datacenter preset, Poisson 50/s, leader crashed 1.5 s - 2.3 s",
                toml: consensus_group("raft", 3, &crash("leader", "1500ms")),
                pick: pick(),
            },
            Case {
                label: "PBFT 4 replicas (MACs), Poisson 50/s, backup h3 crashed 1.5 s - 2.3 s",
                toml: consensus_group("pbft", 4, &crash("h3", "1500ms")),
                pick: pick(),
            },
        ],
    );
}

#[test]
fn compress() {
    let study = |data: &str, codec: &str| {
        Case {
        label: "",
        toml: format!(
            "name = \"golden-hde\"\nseed = 1\n[compress]\ndata = \"{data}\"\ncodec = \"{codec}\"\nbytes = \"1MiB\"\n"
        ),
        pick: Pick {
            measures: true,
            ..Pick::default()
        },
    }
    };
    let cases = [
        Case {
            label: "vm-memory, zstd-3, 1 MiB",
            ..study("vm-memory", "zstd-3")
        },
        Case {
            label: "vm-memory, lz4, 1 MiB",
            ..study("vm-memory", "lz4")
        },
        Case {
            label: "text, snappy, 1 MiB",
            ..study("text", "snappy")
        },
    ];
    check(
        "compress",
        "the HDE [compress] study on 1 MiB of generated data, calibration/default.toml",
        &cases,
    );
}
