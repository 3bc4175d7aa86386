//! Post-copy and hybrid live migration over the packet network (issue 14), checked against
//! closed forms: the downtime is the device state and fixed costs, whatever the memory;
//! a fault costs at least a round trip and a page; every page ends on the destination with
//! its last version (`consistent`), none twice; a hybrid faults less; a destination crash
//! loses the VM; the same run twice gives the same digest.

mod common;

use common::migration::{experiment, find, get, run, FIXED, R_1G};
use dwcp_sim::config::LoadedExperiment;
use dwcp_sim::metrics::RunRecords;
use dwcp_sim::scenario;

/// A migration of `memory` from h0 to h1 with `engine` and extra lines.
fn vm(memory: &str, engine: &str, extra: &str) -> String {
    format!(
        r#"[[migrations]]
name = "vm"
src = "h0"
dst = "h1"
memory = "{memory}"
engine = "{engine}"
{extra}"#
    )
}

/// The checks every post-copy migration that completed must pass.
fn assert_sound(r: &RunRecords, vm: &str) {
    assert_eq!(get(r, vm, "completed"), 1.0, "{vm} completed");
    assert_eq!(
        get(r, vm, "consistent"),
        1.0,
        "{vm}: destination holds every page's last version"
    );
    assert_eq!(get(r, vm, "lost"), 0.0);
    assert_eq!(
        get(r, vm, "duplicate_pages"),
        0.0,
        "no page arrived where one was present"
    );
}

/// One way h0 → h1: two links of 100 µs.
const ONE_WAY: f64 = 200e-6;

/// Pure post-copy's downtime is the switchover cost, the discards (one range: 16 B + a
/// 14-byte header) and the 1 MiB package at the line rate, one way across, and the resume
/// cost: 20 ms + (30 + 1 048 576) B / 120.67 MB/s + 0.2 ms + 9 ms = 20 + 8.690 + 0.2 +
/// 9 = 37.89 ms, with no term in the memory size. The package goes on a stream idle since
/// its start, so slow start (initial window 10 segments, a 48.7 kB bandwidth-delay
/// product) adds at most about 2 round trips (0.8 ms); the tolerance is 1.2 ms above and
/// 0.1 ms below. Measured: 38.438 ms for both sizes (+0.55 ms over the closed form, the
/// slow start). 256 MiB and 4 GiB (16× the pages) must agree within 0.1 ms.
#[test]
fn post_copy_downtime_is_small_and_independent_of_memory_size() {
    let closed = FIXED + (30.0 + 1_048_576.0) / R_1G + ONE_WAY;
    let mut seen = Vec::new();
    for memory in ["256MiB", "4GiB"] {
        // 1 s is enough for the downtime; the push of 4 GiB would take half a minute.
        let r = run(&experiment(
            "pc-downtime",
            "1Gbps",
            "1s",
            &vm(memory, "postcopy", ""),
        ));
        let d = get(&r, "vm", "downtime");
        assert!(
            d >= closed - 1e-4 && d <= closed + 1.2e-3,
            "{memory}: downtime {d} s vs {closed} s"
        );
        assert_eq!(
            get(&r, "vm", "discard_bytes"),
            30.0,
            "one range, one command"
        );
        assert_eq!(get(&r, "vm", "lost"), 0.0);
        seen.push(d);
    }
    assert!(
        (seen[0] - seen[1]).abs() < 1e-4,
        "downtime independent of memory: {seen:?}"
    );
}

/// A guest writing 2000 pages/s anywhere in 256 MiB, 2 vCPUs, pure post-copy at 1 Gbit/s.
fn faulting_guest(engine: &str, extra: &str) -> String {
    vm(
        "256MiB",
        engine,
        &format!(
            "vcpus = 2\ndirty = {{ rate = 2000.0, working_set = \"256MiB\", hot_fraction = 0.0, hot_share = 0.0 }}\n{extra}"
        ),
    )
}

/// A fault costs at least a round trip (request there, page back: 4 × 100 µs) and one
/// page's serialization at the line rate (4104 B × 8 / 1 Gbit/s = 32.8 µs): 432.8 µs.
/// Above that bound, the urgent page waits in the sender's queue behind the push (up to
/// 1000 packets × 12 µs = 12 ms): measured 169 faults, mean 15.9 ms, p99 265 ms, max
/// 278 ms; the tail is one urgent segment dropped at that full queue, whose retransmission
/// timeout (≥ 200 ms) holds up the faults queued behind it on the stream. The mean is
/// asserted under 50 ms (a full queue each way plus a rare timeout). The guest is mostly
/// stalled: 2 vCPUs at ~16 ms a fault make at most 125 faults/s of the 2000 writes/s.
/// The run also completes with every page sent once after the stop (65 536 pages), each
/// by the push or on request (11 requests found their page already pushed).
#[test]
fn faults_cost_a_round_trip_and_a_page_and_every_page_arrives_once() {
    let r = run(&experiment(
        "pc-faults",
        "1Gbps",
        "10s",
        &faulting_guest("postcopy", ""),
    ));
    assert_sound(&r, "vm");
    let bound = 4.0 * 100e-6 + 4104.0 * 8.0 / 1e9;
    let faults = get(&r, "vm", "faults");
    let mean = get(&r, "vm", "fault_latency_mean");
    let p99 = get(&r, "vm", "fault_latency_p99");
    assert!(faults > 100.0, "{faults} faults");
    assert!(mean >= bound, "mean {mean} s ≥ {bound} s");
    assert!(
        mean < 0.050,
        "mean {mean} s: queueing, not a stall of the model"
    );
    assert!(p99 >= mean, "p99 {p99} s ≥ mean {mean} s");
    // Each page once after the stop: pushed or faulted, 65 536 in all.
    assert_eq!(
        get(&r, "vm", "pages_pushed") + get(&r, "vm", "pages_faulted"),
        65_536.0
    );
    assert_eq!(get(&r, "vm", "pages_sent"), 65_536.0);
    // The window is the push of the pages' wire bytes at the line rate: 49 152 full
    // pages × 4104 B + 16 384 zero pages × 9 B (the default profile's 25% zero) =
    // 201.87 MB / 120.67 MB/s = 1.673 s (the resume cost's 9 ms overlaps the first
    // pushed batches; the urgent pages take a small share of the link); ±2% allowed.
    let window = get(&r, "vm", "degradation_window");
    let push = (get(&r, "vm", "full_page_bytes") + get(&r, "vm", "zero_page_bytes")) / R_1G;
    assert!(
        (window / push - 1.0).abs() < 0.02,
        "window {window} s vs push {push} s"
    );
    let total = get(&r, "vm", "total_time");
    let downtime = get(&r, "vm", "downtime");
    assert!(
        (total - (downtime + window)).abs() < 1e-9,
        "total = downtime + window for pure post-copy (it stops at the start)"
    );
}

/// One pre-copy pass first (QEMU's threshold rule with a 10 ms downtime limit, so the sync
/// comes near the end of the pass and the remaining dirty set, about 2000 writes/s × the
/// 1.7 s pass ≈ 3300 pages = 13.5 MB, is far above 120.67 MB/s × 10 ms = 1.2 MB and the
/// pass does not converge on its own): post-copy then needs only the pages dirtied since
/// they were sent, so the same guest faults on far fewer missing pages. Measured: 3
/// faults against 169, a degradation window of 0.107 s against 1.665 s. Its downtime is
/// longer, 53.0 ms against 38.4 ms: the 4 MiB of pre-copy batches in the send buffer at
/// the switch (34 ms at the line rate, 20 ms of it during the switchover) reach the
/// destination before the package, as in QEMU's single stream.
#[test]
fn a_hybrid_faults_less_than_pure_post_copy() {
    let extra = "options = { max_bandwidth = \"none\", downtime_limit = \"10ms\" }";
    let pure = run(&experiment(
        "pc-pure",
        "1Gbps",
        "10s",
        &faulting_guest("postcopy", extra),
    ));
    let hybrid = run(&experiment(
        "pc-hybrid",
        "1Gbps",
        "10s",
        &faulting_guest("hybrid", extra),
    ));
    assert_sound(&pure, "vm");
    assert_sound(&hybrid, "vm");
    assert_eq!(get(&hybrid, "vm", "passes"), 1.0);
    assert_eq!(
        get(&hybrid, "vm", "converged"),
        0.0,
        "switched to post-copy"
    );
    let (fp, fh) = (get(&pure, "vm", "faults"), get(&hybrid, "vm", "faults"));
    assert!(fh < fp / 2.0, "hybrid {fh} faults, pure {fp}");
    assert!(
        get(&hybrid, "vm", "degradation_window") < get(&pure, "vm", "degradation_window"),
        "less memory left to push after the pass"
    );
}

/// The destination crashes half a second into post-copy (the 256 MiB push takes about
/// 1.7 s): the VM is lost, as QEMU's docs warn, and the run says so.
#[test]
fn a_destination_crash_during_post_copy_loses_the_vm() {
    let faults = "\n[[faults]]\nat = \"500ms\"\nkind = \"crash\"\nnode = \"h1\"\n";
    let r = run(&experiment(
        "pc-crash",
        "1Gbps",
        "5s",
        &format!("{}{faults}", faulting_guest("postcopy", "")),
    ));
    assert_eq!(get(&r, "vm", "lost"), 1.0);
    assert_eq!(get(&r, "vm", "completed"), 0.0);
    assert!(
        find(&r, "vm", "consistent").is_none(),
        "a lost VM has no end state to compare"
    );
    assert!(find(&r, "vm", "downtime").is_some(), "it had resumed");
    let log: Vec<&str> = r.log.iter().map(|e| e.2.as_str()).collect();
    assert!(
        log.iter()
            .any(|l| l.contains("vm is lost (destination down)")),
        "{log:?}"
    );
}

/// Same experiment, same seed: the same results, byte for byte (a hybrid, so both
/// engines and all three channels run).
#[test]
fn a_post_copy_run_is_deterministic() {
    let text = experiment(
        "pc-det",
        "1Gbps",
        "5s",
        &faulting_guest(
            "hybrid",
            "options = { max_bandwidth = \"none\", downtime_limit = \"10ms\" }",
        ),
    );
    let a = run(&text);
    let b = run(&text);
    assert_eq!(a.digest, b.digest);
    assert_eq!(format!("{:?}", a.measures), format!("{:?}", b.measures));
}

/// Bad engine settings are errors naming the file and the key.
#[test]
fn bad_engine_settings_are_clear_errors() {
    let cases = [
        (vm("64MiB", "lazy", ""), "`engine`"),
        (
            vm("64MiB", "postcopy", "options = { precopy_passes = 2 }"),
            "`options.precopy_passes`",
        ),
        (
            vm("64MiB", "hybrid", "options = { precopy_passes = 0 }"),
            "`options.precopy_passes`",
        ),
        (
            vm(
                "64MiB",
                "hybrid",
                "options = { precopy_passes = 3, max_iterations = 2 }",
            ),
            "`max_iterations`",
        ),
    ];
    for (body, needle) in cases {
        let text = experiment("bad", "1Gbps", "1s", &body);
        let err = match LoadedExperiment::from_text(&text, std::path::Path::new("bad.toml"), &[]) {
            Ok(exp) => match scenario::prepare(&exp) {
                Ok(_) => panic!("accepted: {needle}"),
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        assert!(err.contains("bad.toml"), "{err}");
        assert!(err.contains("migrations[0]"), "{err}");
        assert!(err.contains(needle), "{err} should name {needle}");
    }
}
