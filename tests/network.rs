//! Network-level properties checked against closed forms: per-hop timing, rate limits,
//! M/M/1 queueing, loss rates, ECMP, jitter without reordering, ECN, and conservation on
//! every scenario.

use dwcp_sim::config::LoadedExperiment;
use dwcp_sim::experiment::run::simulate;
use dwcp_sim::metrics::{FlowRecord, PortRecord, RunRecords};
use std::path::Path;

/// Simulates an experiment given as TOML text (recording no time series), and checks
/// packet conservation on it.
fn run(toml: &str) -> RunRecords {
    let text = format!("{toml}\n[record]\nflows = false\nplots = false\n");
    let exp = LoadedExperiment::from_text(&text, Path::new("inline.toml"), &[])
        .expect("valid experiment");
    let rec = simulate(&exp).expect("scenario builds");
    let n = &rec.net;
    // Conservation: every injected packet is delivered, dropped with a reason, or in flight.
    assert_eq!(
        n.injected,
        n.delivered + n.dropped_total() + rec.in_flight,
        "conservation"
    );
    let per_flow: u64 = rec.flows.iter().map(|f| f.stats.sent_packets).sum();
    assert_eq!(
        per_flow, n.injected,
        "every injected packet belongs to a flow"
    );
    rec
}

fn flow<'a>(rec: &'a RunRecords, name: &str) -> &'a FlowRecord {
    rec.flows
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no flow {name}"))
}

fn port<'a>(rec: &'a RunRecords, link: &str, dir: &str) -> &'a PortRecord {
    rec.ports
        .iter()
        .find(|p| p.link == link && p.direction == dir)
        .unwrap_or_else(|| panic!("no port {link}/{dir}"))
}

#[test]
fn one_packet_over_k_hops_takes_sum_of_serialization_and_delay() {
    // 4 hops, rates chosen so some serialization times are not whole picoseconds
    // (12000 bits / 7 Gbps = 1 714 285.714 ps).
    let rec = run(r#"
        name = "hops"
        duration = "1s"
        [topology]
        nodes = [{ name = "a" }, { name = "s1", kind = "switch" }, { name = "s2", kind = "switch" },
                 { name = "s3", kind = "switch" }, { name = "b" }]
        links = [
          { a = "a",  b = "s1", rate = "10Gbps",  delay = "1us" },
          { a = "s1", b = "s2", rate = "7Gbps",   delay = "2.5ms" },
          { a = "s2", b = "s3", rate = "400Gbps", delay = "3ns" },
          { a = "s3", b = "b",  rate = "25Gbps",  delay = "100us" },
        ]
        [[flows]]
        name = "one"
        app = "cbr"
        src = "a"
        dst = "b"
        rate = "1Mbps"
        packet_size = 1500
        stop = "1ps"   # exactly one packet, sent at t = 0
    "#);
    let f = flow(&rec, "one");
    assert_eq!(f.stats.delivered_packets, 1);
    // Σ size/rate_i + delay_i, in ps: 1.2us + 1.714285714us + 30ns + 480ns + 1us + 2.5ms + 3ns + 100us.
    let bits = 1500.0 * 8.0;
    let exact_ps: f64 = [10e9, 7e9, 400e9, 25e9]
        .iter()
        .map(|r| bits / r * 1e12)
        .sum::<f64>()
        + (1e6 + 2.5e9 + 3e3 + 100e6);
    let got = f.stats.delay.min().unwrap() as f64;
    assert_eq!(f.stats.delay.min(), f.stats.delay.max());
    // Each hop floors to a whole picosecond: at most 1 ps per hop below the real sum.
    assert!(
        exact_ps - got >= 0.0 && exact_ps - got < 4.0,
        "got {got} ps, exact {exact_ps} ps"
    );
}

#[test]
fn back_to_back_serialization_accumulates_no_rounding() {
    // CBR at exactly the 7 Gbps line rate: 100 000 packets of 12 000 bits keep the link busy
    // for exactly 100000·12000/7e9 s = 171 428 571 428.57 ps, which must come out floored
    // once, not 100 000 times (that would lose up to 0.1 µs).
    let rec = run(r#"
        name = "ser"
        duration = "200ms"
        [topology]
        nodes = [{ name = "a" }, { name = "b" }]
        links = [{ a = "a", b = "b", rate = "7Gbps", queue_packets = 10 }]
        [[flows]]
        name = "f"
        app = "cbr"
        src = "a"
        dst = "b"
        rate = "7Gbps"
        stop = "171428571ns"   # the 100 001st packet would start at 171 428 571.43 ns
    "#);
    let p = port(&rec, "a-b", "ab");
    let n = p.stats.tx_packets as u128;
    assert_eq!(n, 100_000);
    let exact = n * 12_000 * 1_000_000_000_000 / 7_000_000_000;
    assert_eq!(
        p.stats.busy_ps as u128, exact,
        "busy time is the exact floor of the total"
    );
    assert_eq!(p.stats.dropped[0], 0, "a source at line rate never queues");
}

fn dumbbell_cbr(rate: &str) -> RunRecords {
    run(&format!(
        r#"
        name = "cbr"
        duration = "500ms"
        [topology.generate]
        kind = "dumbbell"
        hosts_per_side = 1
        access_link = {{ rate = "10Gbps", delay = "10us" }}
        bottleneck_link = {{ rate = "1Gbps", delay = "1ms", queue_packets = 50 }}
        [[flows]]
        name = "f"
        app = "cbr"
        src = "l0"
        dst = "r0"
        rate = "{rate}"
    "#
    ))
}

#[test]
fn cbr_below_bottleneck_gets_its_rate_above_gets_the_bottleneck() {
    // Throughput = delivered bits / active time. Below capacity: the offered rate, less the
    // packets still in flight at the end (≈ 1 ms of 500 ms); above: the 1 Gbps bottleneck.
    let below = dumbbell_cbr("400Mbps");
    let f = flow(&below, "f");
    let tput = f.stats.delivered_bytes as f64 * 8.0 / f.active_s;
    assert!((tput / 400e6 - 1.0).abs() < 0.01, "below: {tput}");
    assert_eq!(f.stats.dropped.iter().sum::<u64>(), 0);

    let above = dumbbell_cbr("3Gbps");
    let f = flow(&above, "f");
    let tput = f.stats.delivered_bytes as f64 * 8.0 / f.active_s;
    assert!((tput / 1e9 - 1.0).abs() < 0.01, "above: {tput}");
    // Offered 3 Gbps into 1 Gbps: two thirds must be dropped at the bottleneck queue.
    let loss = f.stats.dropped[0] as f64 / f.stats.sent_packets as f64;
    assert!((loss - 2.0 / 3.0).abs() < 0.01, "loss {loss}");
    let b = port(&above, "sl-sr", "ab");
    assert!(
        b.stats.busy_ps as f64 / 500e9 > 0.99,
        "bottleneck saturated"
    );
    assert_eq!(b.stats.max_queue_packets, 50);
}

fn mm1_mean_sojourn(rho: f64) -> (f64, f64) {
    // One 1 Gbps link, Poisson arrivals, exponential sizes with mean 1000 B: service time
    // mean 1/μ = 8 µs. The source host's own egress queue is the M/M/1 queue (unbounded), and
    // there is no propagation delay, so one-way delay = sojourn time.
    let rate_mbps = (rho * 1000.0).round() as u64;
    let packets = 1_500_000.0;
    let seconds = packets / (rho * 125_000.0);
    let rec = run(&format!(
        r#"
        name = "mm1"
        seed = 11
        duration = "{ms}ms"
        [topology]
        nodes = [{{ name = "a" }}, {{ name = "b" }}]
        links = [{{ a = "a", b = "b", rate = "1Gbps", mtu = 65535, queue_packets = 100000000 }}]
        [[flows]]
        name = "p"
        app = "poisson"
        src = "a"
        dst = "b"
        rate = "{rate_mbps}Mbps"
        packet_size = 1000
        size_distribution = "exponential"
    "#,
        ms = (seconds * 1000.0).round() as u64
    ));
    let f = flow(&rec, "p");
    let measured = f.stats.delay.mean() / 1e12;
    let expected = 8e-6 / (1.0 - rho); // 1/(μ − λ) = (1/μ)/(1 − ρ)
    (measured, expected)
}

#[test]
fn mm1_mean_sojourn_time_matches_closed_form() {
    for rho in [0.5, 0.8] {
        let (measured, expected) = mm1_mean_sojourn(rho);
        eprintln!("M/M/1 rho={rho}: measured {measured:.4e} s, 1/(mu-lambda) = {expected:.4e} s");
        assert!(
            (measured / expected - 1.0).abs() < 0.05,
            "rho {rho}: mean sojourn {measured:.3e} s vs 1/(mu-lambda) = {expected:.3e} s"
        );
    }
}

fn lossy_link(loss: &str, packets: u64) -> RunRecords {
    // 1 Mpps of 125-byte packets on a 10 Gbps link: never queued, so all drops are the loss layer's.
    run(&format!(
        r#"
        name = "lossy"
        duration = "{us}us"
        [topology]
        nodes = [{{ name = "a" }}, {{ name = "b" }}]
        links = [{{ a = "a", b = "b", rate = "10Gbps", delay = "1us", loss = [{loss}] }}]
        [[flows]]
        name = "f"
        app = "cbr"
        src = "a"
        dst = "b"
        rate = "1Gbps"
        packet_size = 125
    "#,
        us = packets
    ))
}

#[test]
fn bernoulli_and_gilbert_elliott_loss_rates_match_configuration() {
    // Bernoulli p = 0.02 over 500k packets: sd = sqrt(p(1-p)/n) = 2e-4; allow 5 sd.
    let rec = lossy_link(r#"{ kind = "bernoulli", p = 0.02 }"#, 500_000);
    let f = flow(&rec, "f");
    let rate = f.stats.dropped[1] as f64 / f.stats.sent_packets as f64;
    assert!((rate - 0.02).abs() < 1e-3, "bernoulli {rate}");
    assert_eq!(f.stats.dropped[0], 0);

    // Gilbert-Elliott p = 0.005, r = 0.1, loss_bad = 1: stationary loss p/(p+r) = 0.0476;
    // mean burst 1/r = 10 packets, so allow 8% relative over 1M packets.
    let rec = lossy_link(
        r#"{ kind = "gilbert_elliott", p = 0.005, r = 0.1 }"#,
        1_000_000,
    );
    let f = flow(&rec, "f");
    let rate = f.stats.dropped[1] as f64 / f.stats.sent_packets as f64;
    let expect = 0.005 / 0.105;
    assert!(
        (rate / expect - 1.0).abs() < 0.08,
        "gilbert-elliott {rate} vs {expect}"
    );
}

#[test]
fn list_loss_drops_exactly_the_listed_packets() {
    let rec = lossy_link(r#"{ kind = "list", drop = [0, 3], period = 10 }"#, 1000);
    let f = flow(&rec, "f");
    // 1000 packets sent in 1000 us; the last ones may still be on the 1 us wire at the end.
    let on_wire = f.stats.sent_packets - f.stats.delivered_packets - f.stats.dropped[1];
    assert!(on_wire <= 2);
    assert_eq!(f.stats.dropped[1], 200, "2 of every 10 packets");
}

#[test]
fn ecmp_spreads_flows_and_never_reorders_a_flow() {
    // 2 leaves x 64 hosts, 4 spines; a random permutation sends about half of leaf0's 64
    // flows across the fabric. With ~32 flows hashed onto 4 equal-cost uplinks, the chance
    // that one uplink gets none is 4·(3/4)^32 ≈ 4e-4, so each must carry a real share.
    let rec = run(r#"
        name = "ecmp"
        duration = "5ms"
        [topology.generate]
        kind = "leaf_spine"
        spines = 4
        leaves = 2
        hosts_per_leaf = 64
        host_link = { rate = "10Gbps", delay = "1us" }
        fabric_link = { rate = "10Gbps", delay = "1us", queue_packets = 1000 }
        [[flows]]
        name = "perm"
        app = "poisson"
        pattern = "permutation"
        rate = "1Gbps"
    "#);
    let uplinks: Vec<u64> = (0..4)
        .map(|s| {
            port(&rec, &format!("leaf0-spine{s}"), "ab")
                .stats
                .tx_packets
        })
        .collect();
    let total: u64 = uplinks.iter().sum();
    assert!(total > 0);
    for (s, &n) in uplinks.iter().enumerate() {
        // Every equal-cost uplink carries a share of the flows (a single path would put
        // everything on one spine).
        assert!(
            n as f64 > 0.05 * total as f64,
            "spine {s} carries {n} of {total}: {uplinks:?}"
        );
    }
    for f in &rec.flows {
        assert_eq!(f.stats.reordered, 0, "flow {} reordered", f.name);
    }
}

fn jitter_link(reorder: bool) -> RunRecords {
    run(&format!(
        r#"
        name = "jitter"
        duration = "20ms"
        [topology]
        nodes = [{{ name = "a" }}, {{ name = "b" }}]
        links = [{{ a = "a", b = "b", rate = "10Gbps", delay = "1ms", jitter = "100us", reorder = {reorder} }}]
        [[flows]]
        name = "f"
        app = "cbr"
        src = "a"
        dst = "b"
        rate = "1Gbps"
    "#
    ))
}

#[test]
fn jitter_reorders_only_when_allowed() {
    // Packets 12 µs apart with up to 100 µs of jitter: if allowed, many overtake.
    let wire = jitter_link(false);
    let f = flow(&wire, "f");
    assert_eq!(f.stats.reordered, 0);
    assert!(
        f.stats.delay.max().unwrap() > f.stats.delay.min().unwrap() + 50_000_000,
        "jitter is applied"
    );
    let sloppy = jitter_link(true);
    assert!(flow(&sloppy, "f").stats.reordered > 100);
}

#[test]
fn ecn_marks_above_threshold_only() {
    let rec = run(r#"
        name = "ecn"
        duration = "10ms"
        [topology.generate]
        kind = "dumbbell"
        hosts_per_side = 1
        access_link = { rate = "10Gbps" }
        bottleneck_link = { rate = "1Gbps", queue_packets = 100, ecn_threshold_packets = 20 }
        [[flows]]
        name = "f"
        app = "cbr"
        src = "l0"
        dst = "r0"
        rate = "2Gbps"
    "#);
    let p = port(&rec, "sl-sr", "ab");
    assert!(p.stats.ecn_marked > 0);
    let access = port(&rec, "l0-sl", "ab");
    assert_eq!(access.stats.ecn_marked, 0, "no threshold, no marks");
    // 2 Gbps into 1 Gbps: per 12 µs service time, one departure and two arrivals, so the
    // queue grows by one and each length 1..=20 is reached twice before it passes the
    // threshold: 1 (straight into service) + 2·20 = 41 admitted packets go unmarked.
    // Admitted = transmitted + the one in service + the 100 still queued at the end.
    assert_eq!(p.stats.max_queue_packets, 100);
    assert_eq!(p.stats.ecn_marked + 41, p.stats.tx_packets + 1 + 100);
}

#[test]
fn byte_limited_queue_caps_bytes() {
    let rec = run(r#"
        name = "bytes"
        duration = "5ms"
        [topology.generate]
        kind = "dumbbell"
        hosts_per_side = 1
        access_link = { rate = "10Gbps" }
        bottleneck_link = { rate = "1Gbps", queue_bytes = "15000" }
        [[flows]]
        name = "f"
        app = "cbr"
        src = "l0"
        dst = "r0"
        rate = "2Gbps"
    "#);
    let p = port(&rec, "sl-sr", "ab");
    assert_eq!(
        p.stats.max_queue_bytes, 15_000,
        "ten 1500-byte packets fit, the eleventh is dropped"
    );
    assert!(p.stats.dropped[0] > 0);
}

#[test]
fn ping_measures_round_trip_time() {
    // RTT = 2 × (64·8/1e9 s + 2 ms) per hop pair, no queueing: 4.001024 ms.
    let rec = run(r#"
        name = "ping"
        duration = "1s"
        [topology]
        nodes = [{ name = "a" }, { name = "b" }]
        links = [{ a = "a", b = "b", rate = "1Gbps", delay = "2ms" }]
        [[flows]]
        name = "ping"
        app = "ping"
        src = "a"
        dst = "b"
        interval = "100ms"
        count = 5
    "#);
    let f = flow(&rec, "ping");
    assert_eq!(f.stats.rtt.count(), 5);
    assert_eq!(f.stats.rtt.min(), Some(4_001_024_000));
    assert_eq!(f.stats.rtt.max(), Some(4_001_024_000));
}
