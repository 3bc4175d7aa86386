//! Transports against closed forms: NewReno goodput against Padhye et al. (PFTK) and the
//! Mathis bound, CUBIC's average window against RFC 8312's response function, fairness and
//! utilization of competing flows, and RoCE go-back-N collapsing under loss. Every run also
//! checks packet conservation per network flow (data and ACK directions).

use dwcp_sim::config::LoadedExperiment;
use dwcp_sim::experiment::run::simulate;
use dwcp_sim::metrics::{FlowRecord, RunRecords};
use std::path::Path;

fn run(toml: &str) -> RunRecords {
    let text = format!("{toml}\n[record]\nflows = false\nplots = false\n");
    let exp = LoadedExperiment::from_text(&text, Path::new("inline.toml"), &[])
        .expect("valid experiment");
    let rec = simulate(&exp).expect("scenario builds");
    let n = &rec.net;
    assert_eq!(n.injected, n.delivered + n.dropped_total() + rec.in_flight);
    for f in &rec.flows {
        let s = &f.stats;
        let dropped: u64 = s.dropped.iter().sum();
        assert!(
            s.sent_packets >= s.delivered_packets + dropped,
            "flow {}: sent {} < delivered {} + dropped {}",
            f.name,
            s.sent_packets,
            s.delivered_packets,
            dropped
        );
    }
    let per_flow: u64 = rec.flows.iter().map(|f| f.stats.sent_packets).sum();
    assert_eq!(per_flow, n.injected, "every packet belongs to a flow");
    rec
}

fn flow<'a>(rec: &'a RunRecords, name: &str) -> &'a FlowRecord {
    rec.flows
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no flow {name}"))
}

fn metric(f: &FlowRecord, name: &str) -> Option<f64> {
    f.extra.iter().find(|m| m.0 == name).map(|m| m.1)
}

fn must(f: &FlowRecord, name: &str) -> f64 {
    metric(f, name).unwrap_or_else(|| panic!("flow {} has no {name}", f.name))
}

/// One bulk TCP flow over a dumbbell whose 1 Gbit/s bottleneck drops data packets
/// (`loss` is a TOML loss-layer list). Access links are 10x faster with deep queues, so
/// neither the link nor the window limits the flow: only the losses do.
fn single_flow(cc: &str, sack: bool, one_way: &str, loss: &str, duration: &str) -> RunRecords {
    run(&format!(
        r#"
        name = "single"
        duration = "{duration}"
        [topology.generate]
        kind = "dumbbell"
        hosts_per_side = 1
        access_link = {{ rate = "10Gbps", delay = "10us", queue_packets = 100000 }}
        bottleneck_link = {{ rate = "1Gbps", delay = "{one_way}", queue_packets = 100000, loss_ab = {loss} }}
        [tcp]
        cc = "{cc}"
        sack = {sack}
        rwnd = "256MiB"
        [[flows]]
        name = "f"
        app = "tcp"
        src = "l0"
        dst = "r0"
        "#
    ))
}

fn pftk(mss: f64, rtt: f64, p: f64, b: f64, t0: f64) -> f64 {
    dwcp_sim::metrics::closed_form::pftk_bps(mss, rtt, p, b, t0)
}

fn mathis(mss: f64, rtt: f64, p: f64, b: f64) -> f64 {
    dwcp_sim::metrics::closed_form::mathis_bps(mss, rtt, p, b)
}

#[test]
fn newreno_goodput_matches_pftk_and_stays_within_the_mathis_bound() {
    const MSS: f64 = 1448.0;
    // Two RTTs (20 and 50 ms) x two loss rates; durations give several hundred loss events.
    for (one_way, p, duration) in [
        ("10ms", 0.001, "300s"),
        ("10ms", 0.01, "120s"),
        ("25ms", 0.001, "600s"),
        ("25ms", 0.01, "300s"),
    ] {
        let loss = format!(r#"[{{ kind = "bernoulli", p = {p} }}]"#);
        let rec = single_flow("newreno", false, one_way, &loss, duration);
        let f = flow(&rec, "f");
        let goodput = must(f, "goodput");
        // The model's inputs, all as simulated: the path RTT, the delayed-ACK policy's b
        // (data segments per ACK sent; delayed ACKs every 2 segments, but odd bursts and
        // duplicate ACKs make it a little less than 2), and the RTO at which timeouts fired
        // (SRTT + 200 ms under the Linux rule when none fired).
        let rtt = must(f, "min_rtt");
        let b = f.stats.delivered_packets as f64 / must(f, "acks_sent");
        let t0 = metric(f, "rto_at_timeout_mean").unwrap_or(rtt + 0.2);
        let model = pftk(MSS, rtt, p, b, t0);
        let err = goodput / model - 1.0;
        assert!(
            err.abs() <= 0.15,
            "RTT {rtt} p {p}: goodput {goodput:.0} vs PFTK {model:.0} (b {b:.2}, T0 {t0:.3}): {:+.1}%",
            err * 100.0
        );
        // Mathis ignores timeouts, so it bounds from above; 10% allows for random rather
        // than periodic loss (Mathis et al. measured C 7% higher for random loss).
        let bound = 1.10 * mathis(MSS, rtt, p, b);
        assert!(
            goodput <= bound,
            "RTT {rtt} p {p}: goodput {goodput:.0} above the Mathis bound {bound:.0}"
        );
    }
}

#[test]
fn cubic_average_window_matches_rfc8312_response_function() {
    // RFC 8312's response function assumes one loss every 1/p packets, so the loss is
    // periodic: p = 1e-4 (every 10 000th packet), RTT 100 ms. AVG_W = 1.054 · 0.1^0.75 /
    // 1e-4^0.75 = 187.4 segments (RFC 8312 Table 1 lists 187), above the AIMD value
    // 1.2/√p = 120, so CUBIC is in its own region rather than the Reno-friendly one.
    let rec = single_flow(
        "cubic",
        true,
        "50ms",
        r#"[{ kind = "list", drop = [9999], period = 10000 }]"#,
        "400s",
    );
    let f = flow(&rec, "f");
    let rtt: f64 = must(f, "min_rtt");
    let p: f64 = 1e-4;
    let expected = 1.054 * rtt.powf(0.75) / p.powf(0.75);
    let w = must(f, "cwnd_mean");
    assert!(
        (w / expected - 1.0).abs() <= 0.20,
        "CUBIC mean window {w:.1} vs RFC 8312 {expected:.1}"
    );
    // One congestion event per loss, none from timeouts.
    assert_eq!(must(f, "timeouts"), 0.0);
    assert_eq!(must(f, "retransmitted_segments"), f.stats.dropped[1] as f64);
}

/// Four bulk flows from four hosts share a 100 Mbit/s, 10 ms bottleneck whose queue is one
/// bandwidth-delay product (100 Mbit/s · 20 ms = 167 packets of 1500 B), no random loss.
fn shared_bottleneck(cc: &str) -> RunRecords {
    let flows: String = (0..4)
        .map(|i| {
            format!("[[flows]]\nname = \"f{i}\"\napp = \"tcp\"\nsrc = \"l{i}\"\ndst = \"r{i}\"\n")
        })
        .collect();
    run(&format!(
        r#"
        name = "fair"
        duration = "60s"
        [topology.generate]
        kind = "dumbbell"
        hosts_per_side = 4
        access_link = {{ rate = "1Gbps", delay = "10us", queue_packets = 1000 }}
        bottleneck_link = {{ rate = "100Mbps", delay = "10ms", queue_packets = 167 }}
        [tcp]
        cc = "{cc}"
        {flows}
        "#
    ))
}

#[test]
fn competing_flows_share_fairly_and_fill_a_loss_free_bottleneck() {
    for cc in ["newreno", "cubic"] {
        let rec = shared_bottleneck(cc);
        let x: Vec<f64> = (0..4)
            .map(|i| must(flow(&rec, &format!("f{i}")), "goodput"))
            .collect();
        // Jain's index (Σx)² / (n·Σx²): 1 is perfectly fair, 1/n is one flow taking all.
        let sum: f64 = x.iter().sum();
        let jain = sum * sum / (4.0 * x.iter().map(|v| v * v).sum::<f64>());
        assert!(jain >= 0.9, "{cc}: Jain's index {jain:.3} for {x:?}");
        // The bottleneck carries data at ≥ 95% of its rate: the buffer of one BDP lets Reno
        // halve without draining the link. Payload goodput is 1448/1500 of the wire rate.
        let port = rec
            .ports
            .iter()
            .find(|p| p.from == "sl" && p.to == "sr")
            .expect("bottleneck port");
        let util = port.stats.busy_ps as f64 / rec.end_time.as_ps() as f64;
        assert!(util >= 0.95, "{cc}: bottleneck utilization {util:.3}");
        assert!(
            sum >= 0.95 * 100e6 * 1448.0 / 1500.0,
            "{cc}: goodput {sum:.0}"
        );
    }
}

#[test]
fn tcp_delivers_a_finite_transfer_completely_and_in_order() {
    // 10 MB over a lossy path with SACK and without: every byte arrives, the flow
    // completes, and goodput counts exactly the transfer.
    for sack in [true, false] {
        let rec = run(&format!(
            r#"
            name = "finite"
            duration = "60s"
            [topology.generate]
            kind = "dumbbell"
            hosts_per_side = 1
            access_link = {{ rate = "1Gbps", delay = "10us" }}
            bottleneck_link = {{ rate = "100Mbps", delay = "5ms", loss_ab = [{{ kind = "bernoulli", p = 0.02 }}] }}
            [tcp]
            sack = {sack}
            [[flows]]
            name = "f"
            app = "tcp"
            src = "l0"
            dst = "r0"
            bytes = "10MB"
            "#
        ));
        let f = flow(&rec, "f");
        assert_eq!(must(f, "goodput_bytes"), 10e6, "sack {sack}");
        let t = must(f, "completion_time");
        // 10 MB at 100 Mbit/s needs at least 0.8 s.
        assert!(t > 0.8 && t < 60.0, "sack {sack}: completion {t}");
    }
}

#[test]
fn every_algorithm_fills_a_deep_buffered_path_to_the_payload_rate_bound() {
    // One 203 MB transfer over two 1 Gbit/s links of 100 µs with 1000-packet queues: the
    // BDP is ~35 packets (425 µs minimum RTT), the path holds ~1035. Payload-rate bound:
    // 203e6 B / (1e9/8 B/s · 1448/1500) = 1.6823 s; NewReno and BBR finish 0.7 ms above it.
    // CUBIC without HyStart took 1.853 s (+10%): slow start doubled to ~2070 segments and
    // lost ~1000 in one window, and β = 0.7 left a recovery window of 1451, above what the
    // path holds, so 210 retransmissions were dropped too. Only the RTO repairs a lost
    // retransmission; the receive window (4344 segments) stalled the sender behind it and
    // the link idled ~170 ms until the timer fired. With HyStart, as in Linux, slow start
    // ends at ~100 segments 2 ms in, and after its one loss (at ~1090) the window,
    // 0.7 · 1090, stays far above the BDP. 1% of the bound (17 ms) covers the ramp and
    // that one recovery, and is far below the cost of one 200 ms timeout.
    let bound = 203e6 / (1e9 / 8.0 * 1448.0 / 1500.0);
    for cc in ["cubic", "newreno", "bbr"] {
        let rec = run(&format!(
            r#"
            name = "deep-buffer"
            seed = 5
            duration = "10s"
            [topology.generate]
            kind = "star"
            hosts = 2
            link = {{ rate = "1Gbps", delay = "100us", queue_packets = 1000 }}
            [[flows]]
            name = "f"
            app = "tcp"
            src = "h0"
            dst = "h1"
            bytes = "203MB"
            cc = "{cc}"
            "#
        ));
        let f = flow(&rec, "f");
        let t = must(f, "completion_time");
        assert!(
            t > bound && t < 1.01 * bound,
            "{cc}: completion {t:.4} s, bound {bound:.4} s (+{:.1}%), {} timeouts, {} retransmitted",
            100.0 * (t / bound - 1.0),
            must(f, "timeouts"),
            must(f, "retransmitted_segments")
        );
        // The margin is the link never idling: no timeout stalls it.
        assert_eq!(must(f, "timeouts"), 0.0, "{cc}");
    }
}

#[test]
fn roce_go_back_n_collapses_under_loss() {
    // 40 Gbit/s, 100 µs one way: a bandwidth-delay product of ~920 packets, all resent
    // after every loss. Goodput falls with loss and is below 20% of line rate at 1%
    // (Wang et al., ICCCN 2019: "nearly zero" beyond 1%).
    let mut last = f64::INFINITY;
    for p in [0.0, 0.001, 0.01] {
        let rec = run(&format!(
            r#"
            name = "roce"
            duration = "10ms"
            [topology.generate]
            kind = "dumbbell"
            hosts_per_side = 1
            access_link = {{ rate = "40Gbps", delay = "1us", queue_packets = 10000 }}
            bottleneck_link = {{ rate = "40Gbps", delay = "100us", queue_packets = 10000, loss_ab = [{{ kind = "bernoulli", p = {p} }}] }}
            [[flows]]
            name = "qp"
            app = "rdma"
            src = "l0"
            dst = "r0"
            "#
        ));
        let f = flow(&rec, "qp");
        let share = must(f, "goodput_bytes") * 8.0 / 0.01 / 40e9;
        assert!(
            share < last,
            "goodput share {share} at p = {p} not below {last}"
        );
        if p == 0.0 {
            assert!(share > 0.9, "loss-free share {share}");
        }
        if p == 0.01 {
            assert!(share < 0.2, "share {share} at 1% loss");
        }
        last = share;
    }
}

#[test]
fn dcqcn_converges_two_flows_to_a_fair_share() {
    // Two RoCE flows from 40 Gbit/s hosts into a 10 Gbit/s bottleneck that marks ECN above
    // 40 kB of queue; the second starts 5 ms later at line rate. DCQCN's CNP-driven cuts
    // and timer-driven recovery bring both to about half of the link: measured over the
    // second half of the run from the 1 ms goodput series.
    let text = r#"
        name = "dcqcn"
        duration = "200ms"
        [topology.generate]
        kind = "dumbbell"
        hosts_per_side = 2
        access_link = { rate = "40Gbps", delay = "1us", queue_packets = 10000 }
        bottleneck_link = { rate = "10Gbps", delay = "5us", queue_packets = 10000, ecn_threshold_bytes = "40KB" }
        [rdma]
        dcqcn = {}
        [[flows]]
        name = "a"
        app = "rdma"
        src = "l0"
        dst = "r0"
        [[flows]]
        name = "b"
        app = "rdma"
        src = "l1"
        dst = "r1"
        start = "5ms"
        [record]
        sample_interval = "1ms"
        plots = false
    "#;
    let exp = LoadedExperiment::from_text(text, Path::new("dcqcn.toml"), &[]).expect("valid");
    let rec = simulate(&exp).expect("builds");
    let mean_after = |entity: &str| {
        let s = rec
            .series
            .iter()
            .find(|s| s.entity == entity && s.metric == "goodput")
            .unwrap_or_else(|| panic!("no goodput series for {entity}"));
        let v: Vec<f64> = s
            .points
            .iter()
            .filter(|(t, _)| t.as_secs_f64() > 0.1)
            .map(|p| p.1)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let (a, b) = (mean_after("flow/a"), mean_after("flow/b"));
    let jain = (a + b) * (a + b) / (2.0 * (a * a + b * b));
    assert!(
        jain >= 0.95,
        "DCQCN shares {a:.3e} and {b:.3e}: Jain {jain:.3}"
    );
    // Together they keep the link busy: ≥ 85% of the 10 Gbit/s payload capacity
    // (1024 of every 1086 wire bytes).
    assert!(
        a + b >= 0.85 * 10e9 * 1024.0 / 1086.0,
        "total {:.3e}",
        a + b
    );
    // No losses: marking, not dropping, controls the queue.
    assert_eq!(rec.net.dropped_total(), 0);
}

#[test]
fn bbr_keeps_its_rate_under_random_loss_where_loss_based_control_collapses() {
    // 100 Mbit/s, 20 ms RTT, 1% random loss. Loss-based NewReno and CUBIC are held near
    // the Mathis rate (~5 Mbit/s here); BBR v1 ignores random loss and runs near its
    // bandwidth estimate (Cardwell et al., ACM Queue 2016, Fig. 8: BBR holds throughput up
    // to ~15% loss).
    let goodput = |cc: &str| {
        let rec = run(&format!(
            r#"
            name = "bbr-loss"
            duration = "20s"
            [topology.generate]
            kind = "dumbbell"
            hosts_per_side = 1
            access_link = {{ rate = "1Gbps", delay = "10us" }}
            bottleneck_link = {{ rate = "100Mbps", delay = "10ms", queue_packets = 167, loss_ab = [{{ kind = "bernoulli", p = 0.01 }}] }}
            [tcp]
            cc = "{cc}"
            [[flows]]
            name = "f"
            app = "tcp"
            src = "l0"
            dst = "r0"
            "#
        ));
        must(flow(&rec, "f"), "goodput")
    };
    let (bbr, cubic, newreno) = (goodput("bbr"), goodput("cubic"), goodput("newreno"));
    assert!(
        bbr >= 0.8 * 100e6 * 1448.0 / 1500.0,
        "BBR goodput {bbr:.3e}"
    );
    assert!(
        cubic < 0.2 * bbr && newreno < 0.2 * bbr,
        "cubic {cubic:.3e}, newreno {newreno:.3e}"
    );
}

#[test]
fn tcp_runs_are_reproducible_from_the_seed() {
    let loss = r#"[{ kind = "bernoulli", p = 0.01 }]"#;
    let a = single_flow("cubic", true, "5ms", loss, "5s");
    let b = single_flow("cubic", true, "5ms", loss, "5s");
    assert_eq!(a.digest, b.digest);
    assert_eq!(
        must(flow(&a, "f"), "goodput_bytes"),
        must(flow(&b, "f"), "goodput_bytes")
    );
}

#[test]
fn pfc_makes_roce_incast_lossless_at_line_rate() {
    // Two RoCE senders at 40 Gbit/s into one 40 Gbit/s link (2:1 incast) whose switch
    // buffer holds 1 MB. With PFC on the access links (pause above 200 kB per ingress,
    // resume below 100 kB; headroom 2 · 1 µs · 40 Gbit/s + one MTU ≈ 11 kB), the switch
    // pauses the senders instead of dropping: no loss, and the bottleneck runs at line
    // rate. Without PFC the buffer overflows and go-back-N wastes the link.
    let scenario = |pfc: &str| {
        run(&format!(
            r#"
            name = "pfc"
            duration = "10ms"
            [topology.generate]
            kind = "dumbbell"
            hosts_per_side = 2
            access_link = {{ rate = "40Gbps", delay = "1us", queue_packets = 100000{pfc} }}
            bottleneck_link = {{ rate = "40Gbps", delay = "1us", queue_bytes = "1MB" }}
            [[flows]]
            name = "a"
            app = "rdma"
            src = "l0"
            dst = "r0"
            [[flows]]
            name = "b"
            app = "rdma"
            src = "l1"
            dst = "r1"
            "#
        ))
    };
    let goodput = |rec: &RunRecords| -> f64 {
        ["a", "b"]
            .iter()
            .map(|f| must(flow(rec, f), "goodput_bytes") * 8.0 / 0.01)
            .sum()
    };
    // Payload capacity of the bottleneck: 1024 of every 1086 wire bytes.
    let capacity = 40e9 * 1024.0 / 1086.0;
    let lossless = scenario(r#", pfc_xoff = "200KB", pfc_xon = "100KB""#);
    assert_eq!(lossless.net.dropped_total(), 0, "PFC must not drop");
    let paused = lossless
        .ports
        .iter()
        .find(|p| p.from == "l0" && p.to == "sl")
        .expect("access port");
    assert!(paused.stats.pauses > 0, "the switch never paused l0");
    let g = goodput(&lossless);
    assert!(g >= 0.95 * capacity, "goodput {g:.3e} of {capacity:.3e}");
    let lossy = scenario("");
    assert!(lossy.net.dropped_total() > 0);
    assert!(goodput(&lossy) < g, "without PFC goodput should fall");
}

#[test]
fn link_flap_loses_everything_while_down_and_recovery_time_is_measured() {
    // A 100 Mbit/s, 80 ms RTT path goes down from 15 s to 16 s. While down every packet
    // leaving either end is lost; afterwards each controller's goodput climbs back, and the
    // time until it is within 10% of its pre-outage mean is reported.
    let rec_for = |cc: &str| {
        let text = format!(
            r#"
            name = "flap"
            duration = "30s"
            [topology.generate]
            kind = "dumbbell"
            hosts_per_side = 1
            access_link = {{ rate = "1Gbps", delay = "10us", queue_packets = 10000 }}
            bottleneck_link = {{ rate = "100Mbps", delay = "40ms", queue_packets = 700 }}
            [tcp]
            cc = "{cc}"
            rwnd = "64MiB"
            [[flows]]
            name = "f"
            app = "tcp"
            src = "l0"
            dst = "r0"
            [[link_events]]
            at = "15s"
            link = "sl-sr"
            state = "down"
            [[link_events]]
            at = "16s"
            link = "sl-sr"
            state = "up"
            [record]
            sample_interval = "100ms"
            recovery_baseline = "5s"
            plots = false
            "#
        );
        let exp = LoadedExperiment::from_text(&text, Path::new("flap.toml"), &[]).expect("valid");
        simulate(&exp).expect("builds")
    };
    for cc in ["cubic", "bbr"] {
        let rec = rec_for(cc);
        let f = flow(&rec, "f");
        assert!(
            f.stats.dropped[1] > 0,
            "{cc}: nothing lost during the outage"
        );
        let goodput = rec
            .series
            .iter()
            .find(|s| s.entity == "flow/f" && s.metric == "goodput")
            .expect("goodput series");
        // Samples that end inside the outage (15.1 s .. 16.0 s) carry no data: the
        // application's bytes stop, whatever the sender does.
        for (t, v) in &goodput.points {
            let s = t.as_secs_f64();
            if s > 15.15 && s < 15.95 {
                assert_eq!(*v, 0.0, "{cc}: goodput {v} at {s} s while the link is down");
            }
        }
        let r = must(f, "recovery_time");
        // At least the backed-off retransmission timer must pass; at most a few seconds.
        assert!(r > 0.0 && r < 10.0, "{cc}: recovery {r} s");
        assert!(must(f, "timeouts") >= 1.0);
    }
}

#[test]
fn amst_delivers_every_byte_in_order_for_any_stream_count() {
    // 20 MB in 64 KiB chunks (306 chunks) over 1 to 512 CUBIC streams on a lossy 1 Gbit/s,
    // 20 ms path. With 512 streams most get no chunk at all; every stream is still closed
    // and accounted for. The in-order point reaches the end exactly once everything
    // arrived, and the reorder buffer drains to zero.
    for streams in [1, 8, 32, 512] {
        let rec = run(&format!(
            r#"
            name = "amst"
            duration = "60s"
            [topology.generate]
            kind = "dumbbell"
            hosts_per_side = 1
            access_link = {{ rate = "10Gbps", delay = "10us", queue_packets = 100000 }}
            bottleneck_link = {{ rate = "1Gbps", delay = "10ms", queue_packets = 2000, loss_ab = [{{ kind = "bernoulli", p = 0.001 }}] }}
            [tcp]
            cc = "cubic"
            [[flows]]
            name = "x"
            app = "amst"
            src = "l0"
            dst = "r0"
            streams = {streams}
            chunk = "64KiB"
            bytes = "20MB"
            "#
        ));
        let f = flow(&rec, "x");
        assert_eq!(must(f, "goodput_bytes"), 20e6, "{streams} streams");
        assert_eq!(must(f, "streams"), streams as f64);
        let t = must(f, "completion_time");
        assert!(t > 0.16, "{streams} streams: 20 MB over 1 Gbit/s in {t} s");
        // Every stream's two flows are in the records (conservation checked in `run`).
        assert_eq!(rec.flows.len(), 2 * streams);
    }
}

#[test]
fn amst_striping_multiplies_loss_limited_goodput() {
    // Under 0.1% random loss a single CUBIC stream on a 20 ms path is held near its
    // Mathis rate (tens of Mbit/s on a 1 Gbit/s link); 8 streams each get such a share,
    // so the striped transfer is several times faster until the link limits it.
    let goodput = |streams: u32| {
        let rec = run(&format!(
            r#"
            name = "amst-gain"
            duration = "20s"
            [topology.generate]
            kind = "dumbbell"
            hosts_per_side = 1
            access_link = {{ rate = "10Gbps", delay = "10us", queue_packets = 100000 }}
            bottleneck_link = {{ rate = "1Gbps", delay = "10ms", queue_packets = 2000, loss_ab = [{{ kind = "bernoulli", p = 0.001 }}] }}
            [tcp]
            cc = "cubic"
            [[flows]]
            name = "x"
            app = "amst"
            src = "l0"
            dst = "r0"
            streams = {streams}
            bytes = "200MB"
            "#
        ));
        must(flow(&rec, "x"), "goodput")
    };
    let (one, eight) = (goodput(1), goodput(8));
    assert!(
        eight >= 4.0 * one,
        "8 streams {eight:.3e} vs 1 stream {one:.3e}"
    );
}

#[test]
fn amst_over_rdma_fills_a_100g_path_at_any_stream_count() {
    // 200 MB in 64 KiB chunks (one RDMA message each) over 100 Gbit/s with 1, 8 and 512
    // queue pairs sharing the NIC. Payload capacity is 100 G · 1024/1086 = 94.3 Gbit/s;
    // one QP loses ~6% more to the 0.5 µs per-message NIC cost between 5.2 µs messages,
    // several QPs overlap it. Nothing is dropped: the NIC never oversubscribes its port.
    let capacity = 100e9 * 1024.0 / 1086.0;
    for streams in [1, 8, 512] {
        let rec = run(&format!(
            r#"
            name = "amst-rdma"
            duration = "50ms"
            [topology.generate]
            kind = "dumbbell"
            hosts_per_side = 1
            access_link = {{ rate = "100Gbps", delay = "1us", queue_packets = 100000 }}
            bottleneck_link = {{ rate = "100Gbps", delay = "2us", queue_packets = 100000 }}
            [[flows]]
            name = "x"
            app = "amst"
            transport = "rdma"
            src = "l0"
            dst = "r0"
            streams = {streams}
            chunk = "64KiB"
            bytes = "200MB"
            "#
        ));
        let f = flow(&rec, "x");
        assert_eq!(must(f, "goodput_bytes"), 200e6, "{streams} QPs");
        assert_eq!(rec.net.dropped_total(), 0, "{streams} QPs");
        let g = must(f, "goodput");
        let floor = if streams == 1 { 0.85 } else { 0.95 };
        assert!(
            g >= floor * capacity,
            "{streams} QPs: {g:.3e} of {capacity:.3e}"
        );
    }
}

#[test]
fn amst_completes_under_heavy_loss() {
    // 5% random loss with 2 to 64 streams: timeouts and long recoveries on many streams,
    // and the streams are closed while some are idle. Every transfer still completes.
    for streams in [2, 8, 64] {
        let rec = run(&format!(
            r#"
            name = "amst-loss"
            duration = "120s"
            [topology.generate]
            kind = "dumbbell"
            hosts_per_side = 1
            access_link = {{ rate = "10Gbps", delay = "10us", queue_packets = 100000 }}
            bottleneck_link = {{ rate = "1Gbps", delay = "10ms", queue_packets = 2000, loss_ab = [{{ kind = "bernoulli", p = 0.05 }}] }}
            [[flows]]
            name = "x"
            app = "amst"
            src = "l0"
            dst = "r0"
            streams = {streams}
            bytes = "3MB"
            "#
        ));
        let f = flow(&rec, "x");
        assert_eq!(must(f, "goodput_bytes"), 3e6, "{streams} streams");
        assert!(metric(f, "completion_time").is_some(), "{streams} streams");
    }
}

/// An adaptive AMST transfer on a path that changes at `at` from `before` to `after`
/// (bottleneck `(rate, one-way delay)`), detector sampling every 5 ms.
fn switching_transfer(
    initial: &str,
    before: (&str, &str),
    after: (&str, &str),
    bytes: &str,
) -> RunRecords {
    run(&format!(
        r#"
            name = "amst-switch"
            seed = 3
            duration = "3s"
            [topology.generate]
            kind = "dumbbell"
            hosts_per_side = 1
            access_link = {{ rate = "10Gbps", delay = "1us", queue_packets = 1000 }}
            bottleneck_link = {{ rate = "{}", delay = "{}", queue_packets = 1000 }}
            [tcp]
            cc = "cubic"
            [[flows]]
            name = "t"
            app = "amst"
            src = "l0"
            dst = "r0"
            bytes = "{bytes}"
            transport = "adaptive"
            streams = 4
            adaptive = {{ check_interval = "5ms", initial = "{initial}" }}
            [[link_events]]
            at = "50ms"
            link = "sl-sr"
            rate = "{}"
            delay = "{}"
        "#,
        before.0, before.1, after.0, after.1
    ))
}

#[test]
fn amst_switches_mode_both_ways_without_losing_or_reordering_data() {
    // Datacenter → internet: 10 Gbit/s, 2 µs becomes 100 Mbit/s, 20 ms. 70 MB: at most 62.5 MB
    // could cross before the change, so the transfer must finish over TCP.
    for (initial, before, after, bytes, final_mode) in [
        (
            "datacenter",
            ("10Gbps", "2us"),
            ("100Mbps", "20ms"),
            "70MB",
            2.0,
        ),
        (
            "internet",
            ("100Mbps", "20ms"),
            ("10Gbps", "2us"),
            "100MB",
            0.0,
        ),
    ] {
        let rec = switching_transfer(initial, before, after, bytes);
        let t = flow(&rec, "t");
        let total = t.extra.iter().find(|e| e.0 == "goodput_bytes").unwrap().1;
        // Complete: every byte delivered in order to the application (chunks delivered twice
        // would have panicked; the in-order point only moves over complete chunks).
        assert!(
            metric(t, "completion_time").is_some(),
            "{initial}: transfer incomplete"
        );
        let want = if bytes == "70MB" { 70e6 } else { 100e6 };
        assert_eq!(total, want, "{initial}: bytes delivered in order");
        // The switch happened once, to the other mode, and data flowed on the new streams.
        assert_eq!(must(t, "mode_switches"), 1.0, "{initial}");
        assert_eq!(must(t, "final_mode"), final_mode, "{initial}");
        let latency = must(t, "switch_latency");
        let detection = must(t, "switch_detection_time");
        // Detection needs at least `confirm` = 3 samples (15 ms) after the change; the new
        // streams carry data only after detection and one handshake.
        assert!(
            detection >= 0.015 - 1e-9,
            "{initial}: detected after {detection} s"
        );
        assert!(latency > detection, "{initial}: {latency} <= {detection}");
        assert!(latency < 1.5, "{initial}: switching took {latency} s");
        // Internet mode compresses its chunks (zstd-3 on guest memory by default): what it
        // carried crossed the wire smaller, and the receiver still got every byte.
        if final_mode == 2.0 {
            let ratio = must(t, "compression_ratio");
            assert!(ratio > 2.0 && ratio < 10.0, "compression ratio {ratio}");
            assert!(must(t, "compressed_bytes_out") < must(t, "compressed_bytes_in"));
        }
    }
}
